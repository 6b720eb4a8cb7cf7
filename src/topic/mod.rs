//! Topic models on document-term count matrices: pLSA (EM) and LDA (variational Bayes).
//!
//! Both models only ever touch the nonzeros of the count matrix: one EM / VB sweep costs
//! O(nnz x K) time, and memory is O(nnz + (D + W) x K) plus one W x K accumulator per thread.
//! Documents are processed in parallel on a per-call rayon pool; the work is cut into chunks of
//! roughly 0.1 s between which an [`Interrupt`](crate::runtime::Interrupt) is asked whether to
//! stop. Within a chunk the documents are split into one contiguous block per thread, always the
//! same way for a given thread count, and partial sums are merged in block order, so a result
//! depends only on the data, the seed and `n_threads` (bitwise).

pub(crate) mod lanes;
pub mod lda;
pub mod plsa;
pub mod special;

use crate::error::{Error, Result};

/// An integer type usable as a CSR index (`i32` or `i64` from scipy, or `usize`).
pub trait CsrIndex: Copy + Send + Sync {
    /// The value as `usize`, `None` when negative or too large.
    fn checked(self) -> Option<usize>;
    /// The value as `usize` once [`CsrView::new`] has checked it.
    fn get(self) -> usize;
}

macro_rules! impl_index {
    ($($t:ty),*) => {$(
        impl CsrIndex for $t {
            #[inline]
            fn checked(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
            #[inline]
            fn get(self) -> usize {
                self as usize
            }
        }
    )*};
}
impl_index!(i32, i64, u32, usize);

/// A count type (`f32` or `f64`); arithmetic is always done in `f64`.
pub trait Count: Copy + Send + Sync {
    /// The value as `f64`.
    fn f64(self) -> f64;
}

impl Count for f64 {
    #[inline]
    fn f64(self) -> f64 {
        self
    }
}

impl Count for f32 {
    #[inline]
    fn f64(self) -> f64 {
        f64::from(self)
    }
}

/// A checked, borrowed CSR document-term matrix: rows are documents, columns are words, values
/// are (possibly fractional) nonnegative finite counts. Column indices need not be sorted, but
/// a (row, column) pair must not repeat when a caller relies on exact counts per cell.
#[derive(Clone, Copy, Debug)]
pub struct CsrView<'a, I, T> {
    n_rows: usize,
    n_cols: usize,
    indptr: &'a [I],
    indices: &'a [I],
    data: &'a [T],
}

impl<'a, I: CsrIndex, T: Count> CsrView<'a, I, T> {
    /// Checks the structure (`indptr` monotone from 0 to nnz, indices in range) and the values
    /// (finite, nonnegative); returns `InvalidInput` / `ShapeMismatch` instead of panicking later.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: &'a [I],
        indices: &'a [I],
        data: &'a [T],
    ) -> Result<Self> {
        if indptr.len() != n_rows + 1 {
            return Err(Error::ShapeMismatch(format!(
                "indptr has length {}, expected n_rows + 1 = {}",
                indptr.len(),
                n_rows + 1
            )));
        }
        if indices.len() != data.len() {
            return Err(Error::ShapeMismatch(format!(
                "indices ({}) and data ({}) differ in length",
                indices.len(),
                data.len()
            )));
        }
        let mut prev = 0usize;
        for (i, p) in indptr.iter().enumerate() {
            let p = p
                .checked()
                .ok_or_else(|| Error::InvalidInput("negative entry in indptr".into()))?;
            if (i == 0 && p != 0) || p < prev {
                return Err(Error::InvalidInput(
                    "indptr must start at 0 and never decrease".into(),
                ));
            }
            prev = p;
        }
        if prev != indices.len() {
            return Err(Error::ShapeMismatch(format!(
                "indptr ends at {prev} but there are {} stored values",
                indices.len()
            )));
        }
        for j in indices {
            match j.checked() {
                Some(j) if j < n_cols => {}
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "column index out of range [0, {n_cols})"
                    )))
                }
            }
        }
        for v in data {
            let v = v.f64();
            if !v.is_finite() {
                return Err(Error::InvalidInput(
                    "the count matrix contains NaN or infinity".into(),
                ));
            }
            if v < 0.0 {
                return Err(Error::InvalidInput(
                    "negative values in the count matrix".into(),
                ));
            }
        }
        Ok(CsrView {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// Number of documents.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of words (vocabulary size).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Offset of row `d` in `indices` / `data`.
    #[inline]
    pub fn row_start(&self, d: usize) -> usize {
        self.indptr[d].get()
    }

    /// The (word, count) pairs of document `d`.
    #[inline]
    pub fn row(&self, d: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (a, b) = (self.indptr[d].get(), self.indptr[d + 1].get());
        self.indices[a..b]
            .iter()
            .zip(&self.data[a..b])
            .map(|(j, v)| (j.get(), v.f64()))
    }

    /// The column (word) of the `pos`-th stored value, if there is one.
    #[inline(always)]
    pub fn col_at(&self, pos: usize) -> Option<usize> {
        self.indices.get(pos).map(|j| j.get())
    }

    /// The range of document `d`'s stored values in `indices` / `data`.
    #[inline(always)]
    pub fn row_range(&self, d: usize) -> (usize, usize) {
        (self.indptr[d].get(), self.indptr[d + 1].get())
    }

    /// The word (column) and count of the `pos`-th stored value (`pos` < nnz).
    #[inline(always)]
    pub fn entry(&self, pos: usize) -> (usize, f64) {
        (self.indices[pos].get(), self.data[pos].f64())
    }

    /// Sum of all counts.
    pub fn total(&self) -> f64 {
        self.data.iter().map(|v| v.f64()).sum()
    }

    /// Whether every count is zero.
    pub fn is_all_zero(&self) -> bool {
        self.data.iter().all(|v| v.f64() == 0.0)
    }
}

/// Splits documents `lo..hi` into `n` contiguous blocks of about equal nonzeros (some may be
/// empty). Deterministic: depends only on the matrix and `n`.
pub(crate) fn blocks<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    lo: usize,
    hi: usize,
    n: usize,
) -> Vec<(usize, usize)> {
    let n = n.max(1);
    let base = x.row_start(lo);
    let nnz = x.row_start(hi) - base;
    let mut out = Vec::with_capacity(n);
    let mut start = lo;
    for b in 1..=n {
        let target = base + (nnz * b).div_ceil(n);
        let mut end = start;
        if b == n {
            end = hi;
        } else {
            while end < hi && x.row_start(end + 1) <= target {
                end += 1;
            }
            // Rows are atomic: a heavy row goes to the block it starts in.
            if end == start && end < hi && (hi - lo) > n {
                end += 1;
            }
        }
        out.push((start, end));
        start = end;
    }
    out
}

/// Chunks of documents `lo..hi` each worth about `budget` (nonzeros x `work_per_nnz`) of work,
/// so that one chunk runs in roughly a tenth of a second; the caller checks for Ctrl-C between
/// chunks.
pub(crate) fn chunks_in<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    lo: usize,
    hi: usize,
    work_per_nnz: usize,
    budget: usize,
) -> Vec<(usize, usize)> {
    let per = (budget / work_per_nnz.max(1)).max(1);
    let mut out = Vec::new();
    let mut start = lo;
    while start < hi {
        let lim = x.row_start(start) + per;
        let mut end = start + 1;
        while end < hi && x.row_start(end + 1) <= lim {
            end += 1;
        }
        out.push((start, end));
        start = end;
    }
    out
}

/// [`chunks_in`] over all documents.
pub(crate) fn chunks<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    work_per_nnz: usize,
    budget: usize,
) -> Vec<(usize, usize)> {
    chunks_in(x, 0, x.n_rows(), work_per_nnz, budget)
}

/// Splits `s` into consecutive pieces of the given sizes (which must sum to at most its length).
pub(crate) fn split_parts<'a>(mut s: &'a mut [f64], sizes: &[usize]) -> Vec<&'a mut [f64]> {
    let mut out = Vec::with_capacity(sizes.len());
    for &n in sizes {
        let (a, b) = std::mem::take(&mut s).split_at_mut(n);
        out.push(a);
        s = b;
    }
    out
}

/// Transpose of a row-major `rows x cols` buffer.
pub(crate) fn transpose_buf(v: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = v[i * cols + j];
        }
    }
    out
}

/// Work units (multiply-adds) per chunk per thread: about 0.05-0.1 s on one core.
pub(crate) const CHUNK_BUDGET: usize = 40_000_000;

/// Dot product with eight partial sums (two AVX2 registers, no fast-math needed).
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            s[i] += x[i] * y[i];
        }
    }
    let mut t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        t += x * y;
    }
    t
}

/// Asks the CPU to start loading the cache lines of `s[i..i + len]` (a hint; no-op when out
/// of range or not on x86-64).
#[inline(always)]
pub(crate) fn prefetch(s: &[f64], i: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut off = 0;
        while off < len {
            if let Some(v) = s.get(i + off) {
                // SAFETY: a prefetch is only a hint: it never faults, whatever the address, and
                // does not change memory; the pointer comes from a live, in-bounds reference.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        (v as *const f64).cast::<i8>(),
                    )
                }
            }
            off += 8;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (s, i, len);
    }
}

/// `y += alpha * x`.
#[inline(always)]
pub(crate) fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csr_checks() {
        let ip = [0i32, 2, 3];
        let ix = [0i32, 2, 1];
        assert!(CsrView::new(2, 3, &ip, &ix, &[1.0f64, 2.0, 3.0]).is_ok());
        assert!(CsrView::new(2, 2, &ip, &ix, &[1.0f64, 2.0, 3.0]).is_err());
        assert!(CsrView::new(2, 3, &ip, &ix, &[1.0f64, -2.0, 3.0]).is_err());
        assert!(CsrView::new(2, 3, &ip, &ix, &[1.0f64, f64::NAN, 3.0]).is_err());
        assert!(CsrView::new(3, 3, &ip, &ix, &[1.0f64, 2.0, 3.0]).is_err());
        let bad = [0i32, 3, 2];
        assert!(CsrView::new(2, 3, &bad, &ix, &[1.0f64, 2.0, 3.0]).is_err());
    }

    #[test]
    fn blocks_cover_rows() {
        let ip = [0i64, 1, 5, 6, 6, 9];
        let ix = [0i64; 9];
        let v = [1.0f64; 9];
        let x = CsrView::new(5, 1, &ip, &ix, &v).unwrap();
        for n in 1..7 {
            let b = blocks(&x, 0, 5, n);
            assert_eq!(b.len(), n);
            assert_eq!(b[0].0, 0);
            assert_eq!(b[n - 1].1, 5);
            for w in b.windows(2) {
                assert_eq!(w[0].1, w[1].0);
            }
        }
        let c = chunks(&x, 1, 3);
        assert_eq!(c.first().unwrap().0, 0);
        assert_eq!(c.last().unwrap().1, 5);
    }

    #[test]
    fn dot_axpy() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 0.5, 1.0, 1.0, 2.0];
        assert_eq!(dot(&a, &b), 2.0 + 1.0 + 3.0 + 4.0 + 10.0);
        let mut y = [1.0; 5];
        axpy(&mut y, 2.0, &b);
        assert_eq!(y, [5.0, 2.0, 3.0, 3.0, 5.0]);
    }
}
