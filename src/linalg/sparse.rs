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
    /// Offset of row `i`'s first entry (`i <= nrows`; `row_start(nrows) == nnz`).
    fn row_start(&self, i: usize) -> usize;
    /// Largest absolute stored value (0 for an empty matrix).
    fn max_abs(&self) -> f64;
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
    fn row_start(&self, i: usize) -> usize {
        self.indptr[i].ix()
    }
    fn max_abs(&self) -> f64 {
        max_abs(&self.data[..self.nnz()])
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
    fn row_start(&self, i: usize) -> usize {
        self.indptr[i]
    }
    fn max_abs(&self) -> f64 {
        max_abs(&self.data[..self.nnz()])
    }
}

fn max_abs<T: Scalar>(data: &[T]) -> f64 {
    data.par_iter()
        .map(|v| v.to_f64().abs())
        .reduce(|| 0.0, f64::max)
}

/// An exact power-of-two factor `c` that brings the largest magnitude `max_abs` near 1 when it
/// is far from it (outside `[2^-100, 2^100]`), else 1. The solvers work on `c A`: products of
/// values near 1e±300 can then neither overflow nor underflow, and since the factor is a power
/// of two the scaled matrix is exact, so unscaling the singular values (`σ / c`) is exact too.
pub fn pow2_scale(max_abs: f64) -> f64 {
    if !(max_abs > 0.0 && max_abs.is_finite()) {
        return 1.0;
    }
    // max_abs is positive and finite, so its log2 lies in [-1075, 1024]
    #[allow(clippy::cast_possible_truncation)]
    let e = max_abs.log2().floor() as i64;
    if (-100..=100).contains(&e) {
        return 1.0;
    }
    let e = e.clamp(-1000, 1000);
    // 2^-e built from its exponent bits (1023 - e lies in [23, 2023], a normal exponent)
    #[allow(clippy::cast_sign_loss)]
    f64::from_bits(((1023 - e) as u64) << 52)
}

/// Rows per parallel task: enough work per task to amortise scheduling, small enough that
/// rayon's work stealing evens out rows of very different lengths.
fn rows_per_task(nrows: usize, nnz: usize, l: usize) -> usize {
    let per_row = (nnz / nrows.max(1)).max(1) * l.max(1);
    (16_384 / per_row).clamp(1, 4096)
}

/// `out = scale * a @ x` with `x` row-major `(a.ncols() x l)` and `out` row-major
/// `(a.nrows() x l)`; `scale` multiplies each stored value (so `scale * a` cannot overflow where
/// `a @ x` would). Runs on the current rayon pool (call it inside `pool.install`).
pub fn csr_matmul<M: CsrLike>(a: &M, x: &[f64], l: usize, scale: f64, out: &mut [f64]) {
    debug_assert_eq!(out.len(), a.nrows() * l);
    csr_matmul_rows(a, 0, x, l, scale, out);
}

/// Rows `row0..row0 + out.len() / l` of `scale * a @ x` into the row-major block `out`.
fn csr_matmul_rows<M: CsrLike>(
    a: &M,
    row0: usize,
    x: &[f64],
    l: usize,
    scale: f64,
    out: &mut [f64],
) {
    debug_assert_eq!(x.len(), a.ncols() * l);
    if l == 0 {
        return;
    }
    let chunk = rows_per_task(a.nrows(), a.nnz(), l);
    out.par_chunks_mut(chunk * l)
        .enumerate()
        .for_each(|(t, block)| {
            let r0 = row0 + t * chunk;
            for (r, row) in block.chunks_exact_mut(l).enumerate() {
                row.fill(0.0);
                if l == 1 {
                    let mut acc = 0.0;
                    a.for_row(r0 + r, |c, v| acc += (v * scale) * x[c]);
                    row[0] = acc;
                } else {
                    a.for_row(r0 + r, |c, v| {
                        let v = v * scale;
                        let xr = &x[c * l..(c + 1) * l];
                        for (o, xv) in row.iter_mut().zip(xr) {
                            *o += v * xv;
                        }
                    });
                }
            }
        });
}

/// [`csr_matmul`] with `out` column-major `(a.nrows() x l)` (column `c` at
/// `out[c * a.nrows()..]`): rows are computed a batch at a time into a small row-major buffer
/// and copied into the columns, so a large result (the `k x n_features` components) needs no
/// second, row-major copy.
pub fn csr_matmul_cols<M: CsrLike>(a: &M, x: &[f64], l: usize, scale: f64, out: &mut [f64]) {
    const BATCH: usize = 8192;
    // columns copied per task: one 64-byte line of each buffer row
    const GROUP: usize = 8;
    let m = a.nrows();
    debug_assert_eq!(out.len(), m * l);
    if l == 0 || m == 0 {
        return;
    }
    let mut buf = vec![0.0; BATCH.min(m) * l];
    for r0 in (0..m).step_by(BATCH) {
        let rows = BATCH.min(m - r0);
        let block = &mut buf[..rows * l];
        csr_matmul_rows(a, r0, x, l, scale, block);
        let block = &*block;
        out.par_chunks_mut(m * GROUP)
            .enumerate()
            .for_each(|(g, cols)| {
                let c0 = g * GROUP;
                let mut dst: Vec<&mut [f64]> = cols
                    .chunks_exact_mut(m)
                    .map(|col| &mut col[r0..r0 + rows])
                    .collect();
                // row by row: each buffer line is read once, the columns are written in order
                for (r, src) in block.chunks_exact(l).enumerate() {
                    for (j, col) in dst.iter_mut().enumerate() {
                        col[r] = src[c0 + j];
                    }
                }
            });
    }
}

/// Widest column panel of the fused kernels below: 8 values (one 64-byte cache line) per row,
/// so the per-row accumulator stays in registers and one panel of the small side (`rows x 8`)
/// mostly stays in cache while the sparse matrix streams past (16 was not faster on 20
/// Newsgroups: every pass is bound by the latency of its random row accesses).
const MAX_PANEL: usize = 8;

fn max_panel() -> usize {
    // FT_PANEL: experiments only (1, 2, 4, 8 or 16)
    std::env::var("FT_PANEL")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|w| w.is_power_of_two() && *w <= MAX_PANEL)
        .unwrap_or(MAX_PANEL)
}

/// Rows per block of the Gaussian test matrix; block `b` is drawn from the stream `(seed, b)`.
const GAUSS_BLOCK: usize = 1024;

/// Gaussian blocks generated (and kept) at a time by [`csr_gaussian_sketch`].
const SKETCH_BLOCKS: usize = 8;

/// Block `b` (`rows x cols`, row-major) of the standard normal test matrix of [`gaussian_rows`].
fn gaussian_block(seed: u64, b: usize, rows: usize, cols: usize, out: &mut [f64]) {
    use rand::Rng as _;
    let mut rng = crate::runtime::rng_stream(seed, b as u64);
    for x in out[..rows * cols].iter_mut() {
        *x = rng.sample(rand_distr::StandardNormal);
    }
}

/// Row-major `(rows x cols)` standard normal matrix; rows are drawn in blocks of 1024 from
/// independent streams `(seed, block)`, so the result does not depend on the thread count.
pub fn gaussian_rows(seed: u64, rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    out.par_chunks_mut(GAUSS_BLOCK * cols.max(1))
        .enumerate()
        .for_each(|(b, chunk)| {
            let r = chunk.len() / cols.max(1);
            gaussian_block(seed, b, r, cols, chunk);
        });
    out
}

/// One column panel of a row-major `(rows x l)` block: columns `c0..c0 + w`, stored as a
/// zero-padded row-major `(rows x pw)` block at offset `off` of the panel buffer.
#[derive(Clone, Copy, Debug)]
struct Panel {
    c0: usize,
    w: usize,
    pw: usize,
    off: usize,
}

/// Splits `l` columns into panels of power-of-two widths up to [`MAX_PANEL`], the last one
/// padded to the next power of two (a narrow block, e.g. one Lanczos vector, costs a narrow
/// pass rather than a full-width one). Returns the panels and the buffer length.
fn panel_layout(rows: usize, l: usize) -> (Vec<Panel>, usize) {
    let maxw = max_panel();
    let (mut panels, mut c0, mut off) = (Vec::new(), 0, 0);
    while c0 < l {
        let pw = (l - c0).next_power_of_two().min(maxw);
        let w = pw.min(l - c0);
        panels.push(Panel { c0, w, pw, off });
        c0 += w;
        off += rows * pw;
    }
    (panels, off)
}

/// Splits `buf` into the (disjoint) slices of the panels.
fn panel_slices<'a>(buf: &'a mut [f64], panels: &[Panel], rows: usize) -> Vec<&'a mut [f64]> {
    let mut rest = buf;
    let mut out = Vec::with_capacity(panels.len());
    for p in panels {
        let (head, tail) = rest.split_at_mut(rows * p.pw);
        out.push(head);
        rest = tail;
    }
    out
}

/// Copies a row-major `(rows x l)` block into its zero-padded panels.
fn to_panels(x: &[f64], rows: usize, l: usize, panels: &[Panel], len: usize) -> Vec<f64> {
    let mut out = vec![0.0; len];
    panel_slices(&mut out, panels, rows)
        .into_par_iter()
        .zip(panels.par_iter())
        .for_each(|(dst, p)| {
            for (d, src) in dst.chunks_exact_mut(p.pw).zip(x.chunks_exact(l)) {
                d[..p.w].copy_from_slice(&src[p.c0..p.c0 + p.w]);
            }
        });
    out
}

/// `out` (row-major `rows x l`) = the sum of the panel buffers in `parts`, added in order (so
/// the result does not depend on scheduling).
fn sum_panels(parts: &[Vec<f64>], l: usize, panels: &[Panel], out: &mut [f64]) {
    const CHUNK: usize = 512;
    out.par_chunks_mut(CHUNK * l)
        .enumerate()
        .for_each(|(t, block)| {
            for (rr, row) in block.chunks_exact_mut(l).enumerate() {
                let r = t * CHUNK + rr;
                for p in panels {
                    let seg = &mut row[p.c0..p.c0 + p.w];
                    let at = p.off + r * p.pw;
                    seg.fill(0.0);
                    for part in parts {
                        for (o, v) in seg.iter_mut().zip(&part[at..at + p.w]) {
                            *o += v;
                        }
                    }
                }
            }
        });
}

/// Calls `$f::<W>` with the panel width `$pw` as a constant (1, 2, 4, 8 or 16).
macro_rules! by_width {
    ($pw:expr, $f:ident ( $($arg:expr),* )) => {
        match $pw {
            1 => $f::<_, 1>($($arg),*),
            2 => $f::<_, 2>($($arg),*),
            4 => $f::<_, 4>($($arg),*),
            8 => $f::<_, 8>($($arg),*),
            _ => $f::<_, 16>($($arg),*),
        }
    };
}

/// Bounds of `parts` contiguous row ranges of `c` holding about equal numbers of entries.
fn nnz_ranges<M: CsrLike>(c: &M, parts: usize) -> Vec<usize> {
    let (n, nnz) = (c.nrows(), c.nnz());
    let mut bounds = vec![0usize];
    for t in 1..parts {
        let target = nnz / parts * t + nnz % parts * t / parts;
        // first row starting at or after `target`
        let (mut lo, mut hi) = (*bounds.last().unwrap_or(&0), n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if c.row_start(mid) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        bounds.push(lo);
    }
    bounds.push(n);
    bounds
}

/// Whether the fused kernels may use one `(c.ncols() x l)` accumulator per thread: only while
/// those stay small next to the `(c.nrows() x l)` intermediate block they replace.
fn fused_fits<M: CsrLike>(c: &M) -> bool {
    let parts = rayon::current_num_threads();
    parts <= 1 || parts * c.ncols() <= 4 * c.nrows()
}

/// Gram panel kernel: for each row `c_j` in `rows`, `t = c_j . x` (a gather of `W`-wide rows
/// of the panel `x`), then `acc += c_j^T t` (a scatter). `t` lives in registers.
fn gram_rows<M: CsrLike, const W: usize>(
    c: &M,
    rows: std::ops::Range<usize>,
    x: &[f64],
    scale: f64,
    acc: &mut [f64],
) {
    for j in rows {
        let mut t = [0.0f64; W];
        c.for_row(j, |i, a| {
            let a = a * scale;
            let xi = &x[i * W..][..W];
            for q in 0..W {
                t[q] += a * xi[q];
            }
        });
        c.for_row(j, |i, a| {
            let a = a * scale;
            let ai = &mut acc[i * W..][..W];
            for q in 0..W {
                ai[q] += a * t[q];
            }
        });
    }
}

/// Scatter panel kernel: `acc += c_j^T src_j` for each row `c_j` in `rows`, where `src_j` are
/// the `w <= W` values of row `j - row0` of the row-major `src` (stride `stride`) from column
/// `c0` on.
#[allow(clippy::too_many_arguments)]
fn scatter_rows<M: CsrLike, const W: usize>(
    c: &M,
    rows: std::ops::Range<usize>,
    src: &[f64],
    row0: usize,
    stride: usize,
    c0: usize,
    w: usize,
    scale: f64,
    acc: &mut [f64],
) {
    for j in rows {
        let mut v = [0.0f64; W];
        v[..w].copy_from_slice(&src[(j - row0) * stride + c0..][..w]);
        c.for_row(j, |i, a| {
            let a = a * scale;
            let ai = &mut acc[i * W..][..W];
            for q in 0..W {
                ai[q] += a * v[q];
            }
        });
    }
}

/// `out = (s c)^T (s c) x` for `x`, `out` row-major `(c.ncols() x l)` and `s = scale`, without
/// forming the `(c.nrows() x l)` block `c x`: each row `c_j` gives `t = c_j . x` (a gather
/// from `x`) and then `out += c_j^T t` (a scatter), per column panel. The rows of `c` are
/// split into one range per thread, each with its own accumulator, summed in order at the end:
/// the result depends on the thread count but not on scheduling. One pass over the matrix per
/// panel instead of two products through a large intermediate: ~3x less memory traffic.
pub fn csr_gram<M: CsrLike>(c: &M, x: &[f64], l: usize, scale: f64, out: &mut [f64]) {
    let s = c.ncols();
    debug_assert_eq!(x.len(), s * l);
    debug_assert_eq!(out.len(), s * l);
    if l == 0 {
        return;
    }
    let (panels, len) = panel_layout(s, l);
    let xp = to_panels(x, s, l, &panels, len);
    let bounds = nnz_ranges(c, rayon::current_num_threads().max(1));
    let parts: Vec<Vec<f64>> = bounds
        .par_windows(2)
        .map(|w| {
            let mut acc = vec![0.0; len];
            for (p, ap) in panels.iter().zip(panel_slices(&mut acc, &panels, s)) {
                let xpp = &xp[p.off..p.off + s * p.pw];
                by_width!(p.pw, gram_rows(c, w[0]..w[1], xpp, scale, ap));
            }
            acc
        })
        .collect();
    sum_panels(&parts, l, &panels, out);
}

/// `out = (s c)^T Ω` (row-major `(c.ncols() x l)`, `s = scale`) for the Gaussian
/// `Ω = gaussian_rows(seed, c.nrows(), l)`, generated block by block as the rows of `c` stream
/// past (scattered into per-thread accumulators) instead of being stored and gathered.
pub fn csr_gaussian_sketch<M: CsrLike>(c: &M, seed: u64, l: usize, scale: f64, out: &mut [f64]) {
    let (n, s) = (c.nrows(), c.ncols());
    debug_assert_eq!(out.len(), s * l);
    if l == 0 {
        return;
    }
    let (panels, len) = panel_layout(s, l);
    let n_blocks = n.div_ceil(GAUSS_BLOCK);
    // per-thread ranges of whole blocks with about equal numbers of entries
    let rows = nnz_ranges(c, rayon::current_num_threads().max(1));
    let mut blocks: Vec<usize> = rows.iter().map(|r| r.div_ceil(GAUSS_BLOCK)).collect();
    if let Some(last) = blocks.last_mut() {
        *last = n_blocks;
    }
    blocks.dedup();
    let parts: Vec<Vec<f64>> = blocks
        .par_windows(2)
        .map(|w| {
            let mut acc = vec![0.0; len];
            let mut slices = panel_slices(&mut acc, &panels, s);
            // several blocks at a time, then one panel after the other over all their rows:
            // only one panel's accumulator is hot at a time (all of them would not fit in L2)
            let mut g = vec![0.0; SKETCH_BLOCKS * GAUSS_BLOCK * l];
            for b0 in (w[0]..w[1]).step_by(SKETCH_BLOCKS) {
                let b1 = (b0 + SKETCH_BLOCKS).min(w[1]);
                for b in b0..b1 {
                    let (r0, r1) = (b * GAUSS_BLOCK, ((b + 1) * GAUSS_BLOCK).min(n));
                    let at = (b - b0) * GAUSS_BLOCK * l;
                    gaussian_block(seed, b, r1 - r0, l, &mut g[at..]);
                }
                let (r0, r1) = (b0 * GAUSS_BLOCK, (b1 * GAUSS_BLOCK).min(n));
                for (p, ap) in panels.iter().zip(slices.iter_mut()) {
                    by_width!(
                        p.pw,
                        scatter_rows(c, r0..r1, &g, r0, l, p.c0, p.w, scale, ap)
                    );
                }
            }
            acc
        })
        .collect();
    if parts.is_empty() {
        out.fill(0.0);
        return;
    }
    sum_panels(&parts, l, &panels, out);
}

/// `out = (s c)^T x` (row-major `(c.ncols() x l)`, `s = scale`) for a row-major
/// `(c.nrows() x l)` block `x` that is read once, in order, while the rows of `c` stream past
/// (scattered into per-thread accumulators): for a short, wide `c^T` this beats gathering rows
/// of a large `x` at random.
pub fn csr_t_matmul<M: CsrLike>(c: &M, x: &[f64], l: usize, scale: f64, out: &mut [f64]) {
    let s = c.ncols();
    debug_assert_eq!(x.len(), c.nrows() * l);
    debug_assert_eq!(out.len(), s * l);
    if l == 0 {
        return;
    }
    let (panels, len) = panel_layout(s, l);
    let bounds = nnz_ranges(c, rayon::current_num_threads().max(1));
    let parts: Vec<Vec<f64>> = bounds
        .par_windows(2)
        .map(|w| {
            let mut acc = vec![0.0; len];
            for (p, ap) in panels.iter().zip(panel_slices(&mut acc, &panels, s)) {
                by_width!(
                    p.pw,
                    scatter_rows(c, w[0]..w[1], x, 0, l, p.c0, p.w, scale, ap)
                );
            }
            acc
        })
        .collect();
    sum_panels(&parts, l, &panels, out);
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
    /// The exact power-of-two factor `c` (see [`pow2_scale`]): the operator is really `c A`,
    /// so the products above and below are those of `c A` and singular values must be divided
    /// by `c`.
    fn scale(&self) -> f64 {
        1.0
    }
    /// `out = A A^T x`, `x` and `out`: `(nrows x l)` row-major.
    fn gram(&self, x: &[f64], l: usize, out: &mut [f64]) {
        let mut mid = vec![0.0; self.ncols() * l];
        self.matmul_t(x, l, &mut mid);
        self.matmul(&mid, l, out);
    }
    /// `out = A^T A x`, `x` and `out`: `(ncols x l)` row-major.
    fn gram_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        let mut mid = vec![0.0; self.nrows() * l];
        self.matmul(x, l, &mut mid);
        self.matmul_t(&mid, l, out);
    }
    /// `out = A Ω` (`nrows x l`) for `Ω = gaussian_rows(seed, ncols, l)`.
    fn sketch(&self, seed: u64, l: usize, out: &mut [f64]) {
        let g = gaussian_rows(seed, self.ncols(), l);
        self.matmul(&g, l, out);
    }
    /// Same as [`LinOp::matmul`], possibly by a kernel that is faster for one-off products with
    /// a large `x` (the final projection).
    fn matmul_streamed(&self, x: &[f64], l: usize, out: &mut [f64]) {
        self.matmul(x, l, out);
    }
    /// `out = A.T @ x` like [`LinOp::matmul_t`] but `out` column-major `(ncols x l)`.
    fn matmul_t_cols(&self, x: &[f64], l: usize, out: &mut [f64]) {
        let n = self.ncols();
        if l == 0 {
            return;
        }
        let mut rm = vec![0.0; n * l];
        self.matmul_t(x, l, &mut rm);
        for (c, col) in out.chunks_exact_mut(n.max(1)).enumerate() {
            for (d, row) in col.iter_mut().zip(rm.chunks_exact(l)) {
                *d = row[c];
            }
        }
    }
    /// `out = A^T Ω` (`ncols x l`) for `Ω = gaussian_rows(seed, nrows, l)`.
    fn sketch_t(&self, seed: u64, l: usize, out: &mut [f64]) {
        let g = gaussian_rows(seed, self.nrows(), l);
        self.matmul_t(&g, l, out);
    }
}

/// A sparse matrix given by the CSR of `A` and the CSR of `A.T` (scaled by [`pow2_scale`]).
pub struct SparseOp<A, B> {
    a: A,
    at: B,
    scale: f64,
}

impl<A: CsrLike, B: CsrLike> SparseOp<A, B> {
    /// Pairs the CSR of `A` with the CSR of its transpose.
    pub fn new(a: A, at: B) -> Result<Self> {
        if a.nrows() != at.ncols() || a.ncols() != at.nrows() {
            return Err(Error::ShapeMismatch("A and A.T disagree in shape".into()));
        }
        let scale = pow2_scale(a.max_abs());
        Ok(SparseOp { a, at, scale })
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
        csr_matmul(&self.a, x, l, self.scale, out);
    }
    fn matmul_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        csr_matmul(&self.at, x, l, self.scale, out);
    }
    fn matmul_t_cols(&self, x: &[f64], l: usize, out: &mut [f64]) {
        csr_matmul_cols(&self.at, x, l, self.scale, out);
    }
    fn scale(&self) -> f64 {
        self.scale
    }
    // A A^T = (A^T)^T (A^T): fused over the rows of A^T; A^T A fused over the rows of A.
    fn gram(&self, x: &[f64], l: usize, out: &mut [f64]) {
        if fused_fits(&self.at) {
            csr_gram(&self.at, x, l, self.scale, out);
        } else {
            let mut mid = vec![0.0; self.ncols() * l];
            self.matmul_t(x, l, &mut mid);
            self.matmul(&mid, l, out);
        }
    }
    fn gram_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        if fused_fits(&self.a) {
            csr_gram(&self.a, x, l, self.scale, out);
        } else {
            let mut mid = vec![0.0; self.nrows() * l];
            self.matmul(x, l, &mut mid);
            self.matmul_t(&mid, l, out);
        }
    }
    fn matmul_streamed(&self, x: &[f64], l: usize, out: &mut [f64]) {
        if fused_fits(&self.at) {
            csr_t_matmul(&self.at, x, l, self.scale, out);
        } else {
            self.matmul(x, l, out);
        }
    }
    // A Ω = (A^T)^T Ω: streamed over the rows of A^T, which index the rows of Ω.
    fn sketch(&self, seed: u64, l: usize, out: &mut [f64]) {
        if fused_fits(&self.at) {
            csr_gaussian_sketch(&self.at, seed, l, self.scale, out);
        } else {
            let g = gaussian_rows(seed, self.ncols(), l);
            self.matmul(&g, l, out);
        }
    }
    fn sketch_t(&self, seed: u64, l: usize, out: &mut [f64]) {
        if fused_fits(&self.a) {
            csr_gaussian_sketch(&self.a, seed, l, self.scale, out);
        } else {
            let g = gaussian_rows(seed, self.nrows(), l);
            self.matmul_t(&g, l, out);
        }
    }
}

/// A dense row-major matrix in `f64`; products go to faer's parallel matmul.
pub struct DenseOp<'a> {
    nrows: usize,
    ncols: usize,
    data: std::borrow::Cow<'a, [f64]>,
    scale: f64,
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
        let scale = pow2_scale(max_abs(&data));
        let data = if scale == 1.0 {
            data
        } else {
            // values near 1e±300: work on an exactly scaled copy (rare)
            std::borrow::Cow::Owned(data.par_iter().map(|v| v * scale).collect())
        };
        Ok(DenseOp {
            nrows,
            ncols,
            data,
            scale,
        })
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
    fn scale(&self) -> f64 {
        self.scale
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
    fn scale(&self) -> f64 {
        self.0.scale()
    }
    fn gram(&self, x: &[f64], l: usize, out: &mut [f64]) {
        self.0.gram_t(x, l, out);
    }
    fn gram_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
        self.0.gram(x, l, out);
    }
    fn sketch(&self, seed: u64, l: usize, out: &mut [f64]) {
        self.0.sketch_t(seed, l, out);
    }
    fn sketch_t(&self, seed: u64, l: usize, out: &mut [f64]) {
        self.0.sketch(seed, l, out);
    }
    fn matmul_streamed(&self, x: &[f64], l: usize, out: &mut [f64]) {
        self.0.matmul_t(x, l, out);
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

    fn random_csr(m: usize, n: usize, seed: u64) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        use rand::Rng as _;
        let mut rng = crate::runtime::rng_stream(seed, 0);
        let (mut p, mut i, mut d) = (vec![0i64], vec![], vec![]);
        for _ in 0..m {
            for c in 0..n {
                if rng.random::<f64>() < 0.1 {
                    i.push(c as i64);
                    d.push(rng.random::<f64>() - 0.3);
                }
            }
            p.push(i.len() as i64);
        }
        (p, i, d)
    }

    #[test]
    fn column_major_product_is_the_transposed_row_major_one() {
        // 9000 output rows: more than one batch of csr_matmul_cols; 11 columns: a partial group
        for &(m, n, l) in &[(20usize, 9000usize, 11usize), (30, 40, 1), (30, 40, 16)] {
            let (p, i, d) = random_csr(m, n, 5);
            let a = CsrRef::new(m, n, &p, &i, &d).unwrap();
            let op = SparseOp::new(a, a.transpose().unwrap()).unwrap();
            let x = gaussian_rows(4, m, l);
            let mut rm = vec![0.0; n * l];
            op.matmul_t(&x, l, &mut rm);
            for threads in [1, 3] {
                let pool = crate::runtime::thread_pool(threads).unwrap();
                let mut cm = vec![f64::NAN; n * l];
                pool.install(|| op.matmul_t_cols(&x, l, &mut cm));
                let mut dflt = vec![f64::NAN; n * l];
                // the trait's default (transposing copy) agrees too
                DenseLike(&op).matmul_t_cols(&x, l, &mut dflt);
                for r in 0..n {
                    for c in 0..l {
                        assert_eq!(cm[c * n + r], rm[r * l + c]);
                        assert_eq!(dflt[c * n + r], rm[r * l + c]);
                    }
                }
            }
        }
    }

    /// Forwards the products only, so the trait's default methods are used.
    struct DenseLike<'a, L>(&'a L);
    impl<L: LinOp> LinOp for DenseLike<'_, L> {
        fn nrows(&self) -> usize {
            self.0.nrows()
        }
        fn ncols(&self) -> usize {
            self.0.ncols()
        }
        fn matmul(&self, x: &[f64], l: usize, out: &mut [f64]) {
            self.0.matmul(x, l, out);
        }
        fn matmul_t(&self, x: &[f64], l: usize, out: &mut [f64]) {
            self.0.matmul_t(x, l, out);
        }
    }

    #[test]
    fn fused_kernels_match_two_products() {
        for &(m, n, l) in &[(37usize, 300usize, 11usize), (300, 37, 8), (50, 60, 1)] {
            let (p, i, d) = random_csr(m, n, 3);
            let a = CsrRef::new(m, n, &p, &i, &d).unwrap();
            let op = SparseOp::new(a, a.transpose().unwrap()).unwrap();
            for threads in [1, 3] {
                let pool = crate::runtime::thread_pool(threads).unwrap();
                // A A^T x and A^T A x against the unfused default
                let x = gaussian_rows(1, m, l);
                let (mut fused, mut mid, mut two) =
                    (vec![0.0; m * l], vec![0.0; n * l], vec![0.0; m * l]);
                pool.install(|| op.gram(&x, l, &mut fused));
                op.matmul_t(&x, l, &mut mid);
                op.matmul(&mid, l, &mut two);
                assert!(fused.iter().zip(&two).all(|(a, b)| (a - b).abs() < 1e-12));
                let x = gaussian_rows(2, n, l);
                let (mut fused, mut mid, mut two) =
                    (vec![0.0; n * l], vec![0.0; m * l], vec![0.0; n * l]);
                pool.install(|| op.gram_t(&x, l, &mut fused));
                op.matmul(&x, l, &mut mid);
                op.matmul_t(&mid, l, &mut two);
                assert!(fused.iter().zip(&two).all(|(a, b)| (a - b).abs() < 1e-12));
                let x = gaussian_rows(3, n, l);
                let (mut st, mut two) = (vec![0.0; m * l], vec![0.0; m * l]);
                pool.install(|| op.matmul_streamed(&x, l, &mut st));
                op.matmul(&x, l, &mut two);
                assert!(st.iter().zip(&two).all(|(a, b)| (a - b).abs() < 1e-12));
                // streamed Gaussian sketch = product with the stored Gaussian matrix
                let (mut sk, mut two) = (vec![0.0; m * l], vec![0.0; m * l]);
                pool.install(|| op.sketch(7, l, &mut sk));
                op.matmul(&gaussian_rows(7, n, l), l, &mut two);
                assert!(sk.iter().zip(&two).all(|(a, b)| (a - b).abs() < 1e-12));
                let (mut sk, mut two) = (vec![0.0; n * l], vec![0.0; n * l]);
                pool.install(|| op.sketch_t(7, l, &mut sk));
                op.matmul_t(&gaussian_rows(7, m, l), l, &mut two);
                assert!(sk.iter().zip(&two).all(|(a, b)| (a - b).abs() < 1e-12));
            }
        }
    }

    #[test]
    fn pow2_scale_is_exact_and_only_for_extremes() {
        assert_eq!(pow2_scale(1.0), 1.0);
        assert_eq!(pow2_scale(0.0), 1.0);
        assert_eq!(pow2_scale(1e20), 1.0);
        for x in [1e300, 1e-300, f64::MAX, 5e-324] {
            let c = pow2_scale(x);
            assert_eq!(c.to_bits() & ((1u64 << 52) - 1), 0, "power of two");
            // the factor is clamped to 2^±1000, so subnormals only get close to 1
            assert!(x * c < 2f64.powi(25) && x * c > 2f64.powi(-80), "{x} {c}");
        }
        assert!(pow2_scale(1e300) * 1e300 >= 1.0 && pow2_scale(1e-300) * 1e-300 >= 1.0);
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
