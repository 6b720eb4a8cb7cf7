//! Checked CSR views and the parallel sparse x dense products used by the SVD solvers.
//!
//! Dense blocks are row-major (`rows x l`, row `i` at `x[i*l..(i+1)*l]`), so every stored
//! non-zero `a_ij` of a CSR row does one contiguous axpy `out_i += a_ij * x_j`. Rows of the
//! output are independent, so the product is parallel over output rows without any atomics.
//! `X @ Q` uses the CSR of `X`, `X.T @ Q` uses the CSR of `X.T` (= the CSC of `X`), which is
//! either handed in by the caller or built once by [`CsrRef::transpose`].

use crate::error::{Error, Result};
use rayon::prelude::*;

/// A stored value type: `f32` or `f64` (every computation runs in `f64`).
pub trait Scalar: Copy + Send + Sync + 'static {
    /// Widening conversion to `f64`.
    fn to_f64(self) -> f64;
}

impl Scalar for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Scalar for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// A stored index type (`i32`, `i64` as scipy uses them, `u32`, `usize`).
pub trait SpIndex: Copy + Send + Sync + 'static {
    /// The index as `usize`, `None` when negative or too large.
    fn checked_usize(self) -> Option<usize>;
    /// The index as `usize`; only called after [`SpIndex::checked_usize`] validated it.
    fn ix(self) -> usize;
}

macro_rules! impl_spindex {
    ($($t:ty),*) => {$(
        impl SpIndex for $t {
            #[inline(always)]
            fn checked_usize(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
            #[inline(always)]
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            fn ix(self) -> usize {
                self as usize
            }
        }
    )*};
}
impl_spindex!(i32, i64, u32, usize);

/// Row access shared by borrowed and owned CSR matrices, so the kernels are monomorphised.
pub trait CsrLike: Sync {
    /// Number of rows.
    fn nrows(&self) -> usize;
    /// Number of columns.
    fn ncols(&self) -> usize;
    /// Stored entries of row `i`, as `(column, value)` pairs; duplicates are summed implicitly.
    fn for_row(&self, i: usize, f: impl FnMut(usize, f64));
    /// Number of stored entries.
    fn nnz(&self) -> usize;
}

/// A validated, borrowed CSR matrix (zero-copy view of scipy's `indptr`, `indices`, `data`).
#[derive(Clone, Copy)]
pub struct CsrRef<'a, T, I> {
    nrows: usize,
    ncols: usize,
    indptr: &'a [I],
    indices: &'a [I],
    data: &'a [T],
}

impl<'a, T: Scalar, I: SpIndex> CsrRef<'a, T, I> {
    /// Checks the structure (indptr monotone from 0, column indices in range, lengths) and that
    /// every stored value is finite. Indices need not be sorted and may repeat (they add up).
    pub fn new(
        nrows: usize,
        ncols: usize,
        indptr: &'a [I],
        indices: &'a [I],
        data: &'a [T],
    ) -> Result<Self> {
        if indptr.len() != nrows + 1 {
            return Err(Error::InvalidInput(format!(
                "indptr has length {}, expected n_rows + 1 = {}",
                indptr.len(),
                nrows + 1
            )));
        }
        if indices.len() != data.len() {
            return Err(Error::InvalidInput(format!(
                "indices ({}) and data ({}) differ in length",
                indices.len(),
                data.len()
            )));
        }
        let mut prev = 0usize;
        for (i, p) in indptr.iter().enumerate() {
            let p = p
                .checked_usize()
                .ok_or_else(|| Error::InvalidInput("negative entry in indptr".into()))?;
            if (i == 0 && p != 0) || p < prev || p > indices.len() {
                return Err(Error::InvalidInput(
                    "indptr is not a valid CSR row pointer".into(),
                ));
            }
            prev = p;
        }
        let end = prev;
        if indices[..end]
            .par_iter()
            .any(|c| c.checked_usize().map_or(true, |c| c >= ncols))
        {
            return Err(Error::InvalidInput("column index out of bounds".into()));
        }
        if data[..end].par_iter().any(|v| !v.to_f64().is_finite()) {
            return Err(Error::InvalidInput(
                "Input contains NaN or infinity.".into(),
            ));
        }
        Ok(CsrRef {
            nrows,
            ncols,
            indptr,
            indices,
            data,
        })
    }

    /// The CSR of the transpose (i.e. the CSC of `self`), built by a counting sort in O(nnz).
    pub fn transpose(&self) -> Result<CsrOwned<T>> {
        if self.nrows > u32::MAX as usize {
            return Err(Error::InvalidInput(
                "more than 2^32 rows are not supported".into(),
            ));
        }
        let nnz = self.nnz();
        let mut counts = vec![0usize; self.ncols + 1];
        for c in &self.indices[..nnz] {
            counts[c.ix() + 1] += 1;
        }
        for j in 0..self.ncols {
            counts[j + 1] += counts[j];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; nnz];
        let mut data: Vec<T> = Vec::with_capacity(nnz);
        let zero = if nnz > 0 { Some(self.data[0]) } else { None };
        if let Some(z) = zero {
            data.resize(nnz, z);
        }
        for i in 0..self.nrows {
            let (s, e) = (self.indptr[i].ix(), self.indptr[i + 1].ix());
            for k in s..e {
                let c = self.indices[k].ix();
                let dst = next[c];
                next[c] += 1;
                // i <= u32::MAX checked above
                #[allow(clippy::cast_possible_truncation)]
                {
                    indices[dst] = i as u32;
                }
                data[dst] = self.data[k];
            }
        }
        Ok(CsrOwned {
            nrows: self.ncols,
            ncols: self.nrows,
            indptr,
            indices,
            data,
        })
    }
}

impl<T: Scalar, I: SpIndex> CsrLike for CsrRef<'_, T, I> {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    #[inline(always)]
    fn for_row(&self, i: usize, mut f: impl FnMut(usize, f64)) {
        let (s, e) = (self.indptr[i].ix(), self.indptr[i + 1].ix());
        for (c, v) in self.indices[s..e].iter().zip(&self.data[s..e]) {
            f(c.ix(), v.to_f64());
        }
    }
    fn nnz(&self) -> usize {
        self.indptr[self.nrows].ix()
    }
}

/// An owned CSR matrix with `u32` column indices (the transpose built by the solver).
pub struct CsrOwned<T> {
    nrows: usize,
    ncols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<T>,
}

impl<T: Scalar> CsrLike for CsrOwned<T> {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    #[inline(always)]
    fn for_row(&self, i: usize, mut f: impl FnMut(usize, f64)) {
        let (s, e) = (self.indptr[i], self.indptr[i + 1]);
        for (c, v) in self.indices[s..e].iter().zip(&self.data[s..e]) {
            f(*c as usize, v.to_f64());
        }
    }
    fn nnz(&self) -> usize {
        self.indptr[self.nrows]
    }
}

/// Rows per parallel task: enough work per task to amortise scheduling, small enough that
/// rayon's work stealing evens out rows of very different lengths.
fn rows_per_task(nrows: usize, nnz: usize, l: usize) -> usize {
    let per_row = (nnz / nrows.max(1)).max(1) * l.max(1);
    (16_384 / per_row).clamp(1, 4096)
}

/// `out = a @ x` with `x` row-major `(a.ncols() x l)` and `out` row-major `(a.nrows() x l)`.
/// Runs on the current rayon pool (call it inside `pool.install`).
pub fn csr_matmul<M: CsrLike>(a: &M, x: &[f64], l: usize, out: &mut [f64]) {
    debug_assert_eq!(x.len(), a.ncols() * l);
    debug_assert_eq!(out.len(), a.nrows() * l);
    if l == 0 {
        return;
    }
    let chunk = rows_per_task(a.nrows(), a.nnz(), l);
    out.par_chunks_mut(chunk * l)
        .enumerate()
        .for_each(|(t, block)| {
            let r0 = t * chunk;
            for (r, row) in block.chunks_exact_mut(l).enumerate() {
                row.fill(0.0);
                if l == 1 {
                    let mut acc = 0.0;
                    a.for_row(r0 + r, |c, v| acc += v * x[c]);
                    row[0] = acc;
                } else {
                    a.for_row(r0 + r, |c, v| {
                        let xr = &x[c * l..(c + 1) * l];
                        for (o, xv) in row.iter_mut().zip(xr) {
                            *o += v * xv;
                        }
                    });
                }
            }
        });
}

/// A linear operator `A` (`nrows x ncols`) that can multiply row-major blocks from both sides.
pub trait LinOp: Sync {
    /// Number of rows of `A`.
    fn nrows(&self) -> usize;
    /// Number of columns of `A`.
    fn ncols(&self) -> usize;
    /// `out = A @ x`, `x`: `(ncols x l)` row-major, `out`: `(nrows x l)` row-major.
    fn matmul(&self, x: &[f64], l: usize, out: &mut [f64]);
    /// `out = A.T @ x`, `x`: `(nrows x l)` row-major, `out`: `(ncols x l)` row-major.
    fn matmul_t(&self, x: &[f64], l: usize, out: &mut [f64]);
}

/// A sparse matrix given by the CSR of `A` and the CSR of `A.T`.
pub struct SparseOp<A, B> {
    a: A,
    at: B,
}

impl<A: CsrLike, B: CsrLike> SparseOp<A, B> {
    /// Pairs the CSR of `A` with the CSR of its transpose.
    pub fn new(a: A, at: B) -> Result<Self> {
        if a.nrows() != at.ncols() || a.ncols() != at.nrows() {
            return Err(Error::ShapeMismatch("A and A.T disagree in shape".into()));
        }
        Ok(SparseOp { a, at })
    }

    /// The CSR of `A`.
    pub fn a(&self) -> &A {
        &self.a
    }
}

impl<A: CsrLike, B: CsrLike> LinOp for SparseOp<A, B> {
    fn nrows(&self) -> usize {
        self.a.nrows()
    }
    fn ncols(&self) -> usize {
        self.a.ncols()
    }
    fn matmul(&self, x: &[f64], l: usize, out: &mut [f64]) {
        csr_matmul(&self.a, x, l, out);
    }
    fn matmul_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        csr_matmul(&self.at, x, l, out);
    }
}

/// A dense row-major matrix in `f64`; products go to faer's parallel matmul.
pub struct DenseOp<'a> {
    nrows: usize,
    ncols: usize,
    data: std::borrow::Cow<'a, [f64]>,
}

impl<'a> DenseOp<'a> {
    /// Wraps row-major data (`nrows * ncols` values), checking the length and finiteness.
    pub fn new(nrows: usize, ncols: usize, data: std::borrow::Cow<'a, [f64]>) -> Result<Self> {
        if data.len() != nrows * ncols {
            return Err(Error::ShapeMismatch(format!(
                "dense data has {} values, expected {nrows} x {ncols}",
                data.len()
            )));
        }
        if data.par_iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(
                "Input contains NaN or infinity.".into(),
            ));
        }
        Ok(DenseOp { nrows, ncols, data })
    }

    fn view(&self) -> faer::MatRef<'_, f64> {
        faer::MatRef::from_row_major_slice(&self.data, self.nrows, self.ncols)
    }
}

fn rm_mut(x: &mut [f64], rows: usize, cols: usize) -> faer::MatMut<'_, f64> {
    faer::MatMut::from_row_major_slice_mut(x, rows, cols)
}

impl LinOp for DenseOp<'_> {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn matmul(&self, x: &[f64], l: usize, out: &mut [f64]) {
        let xv = faer::MatRef::from_row_major_slice(x, self.ncols, l);
        faer::linalg::matmul::matmul(
            rm_mut(out, self.nrows, l),
            faer::Accum::Replace,
            self.view(),
            xv,
            1.0,
            faer::Par::rayon(0),
        );
    }
    fn matmul_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        let xv = faer::MatRef::from_row_major_slice(x, self.nrows, l);
        faer::linalg::matmul::matmul(
            rm_mut(out, self.ncols, l),
            faer::Accum::Replace,
            self.view().transpose(),
            xv,
            1.0,
            faer::Par::rayon(0),
        );
    }
}

/// `A.T` seen as an operator, so solvers can always iterate on the smaller side.
pub struct Transposed<'a, L: ?Sized>(pub &'a L);

impl<L: LinOp + ?Sized> LinOp for Transposed<'_, L> {
    fn nrows(&self) -> usize {
        self.0.ncols()
    }
    fn ncols(&self) -> usize {
        self.0.nrows()
    }
    fn matmul(&self, x: &[f64], l: usize, out: &mut [f64]) {
        self.0.matmul_t(x, l, out);
    }
    fn matmul_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        self.0.matmul(x, l, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn small() -> (Vec<i32>, Vec<i32>, Vec<f64>) {
        // [[1, 0, 2], [0, 0, 3], [4, 5, 0], [0, 0, 0]] with an unsorted, duplicated row 2
        (
            vec![0, 2, 3, 6, 6],
            vec![2, 0, 2, 1, 0, 1],
            vec![2.0, 1.0, 3.0, 2.0, 4.0, 3.0],
        )
    }

    #[test]
    fn products_match_dense() {
        let (p, i, d) = small();
        let a = CsrRef::new(4, 3, &p, &i, &d).unwrap();
        let at = a.transpose().unwrap();
        let op = SparseOp::new(a, at).unwrap();
        let dense = [1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        let x = [1.0, -1.0, 2.0, 0.5, -3.0, 1.0];
        let mut out = vec![0.0; 8];
        op.matmul(&x, 2, &mut out);
        for r in 0..4 {
            for c in 0..2 {
                let e: f64 = (0..3).map(|k| dense[r * 3 + k] * x[k * 2 + c]).sum();
                assert!((out[r * 2 + c] - e).abs() < 1e-12);
            }
        }
        let y = [1.0, 2.0, 3.0, 4.0];
        let mut out_t = vec![0.0; 3];
        op.matmul_t(&y, 1, &mut out_t);
        for c in 0..3 {
            let e: f64 = (0..4).map(|r| dense[r * 3 + c] * y[r]).sum();
            assert!((out_t[c] - e).abs() < 1e-12);
        }
        let dop = DenseOp::new(4, 3, dense.to_vec().into()).unwrap();
        let mut out_d = vec![0.0; 8];
        dop.matmul(&x, 2, &mut out_d);
        assert!(out.iter().zip(&out_d).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn rejects_bad_structure() {
        let (p, i, mut d) = small();
        assert!(CsrRef::new(4, 2, &p, &i, &d).is_err());
        assert!(CsrRef::new(3, 3, &p, &i, &d).is_err());
        d[1] = f64::NAN;
        assert!(CsrRef::new(4, 3, &p, &i, &d).is_err());
    }
}
