//! Truncated SVD of a large (usually sparse) matrix: a randomized range finder and a
//! thick-restart Lanczos solver, both working on the smaller side of the matrix.
//!
//! All dense factorizations (QR, SVD, symmetric eigendecomposition) are faer's. Heavy steps
//! run inside `pool.install`; between them the calling thread asks the [`Interrupt`].

use super::sparse::{csr_matmul, CsrLike, LinOp, Transposed};
use crate::error::{Error, Result};
use crate::runtime::{rng_stream, Interrupt};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::Rng as _;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Result of a truncated SVD `A ≈ U diag(s) V^T` with `k` components.
#[derive(Debug, Clone)]
pub struct TruncatedSvd {
    /// Number of rows of `A`.
    pub n_rows: usize,
    /// Number of columns of `A`.
    pub n_cols: usize,
    /// Number of components `k`.
    pub k: usize,
    /// `V^T`, row-major `(k x n_cols)`: the right singular vectors as rows (`components_`).
    pub components: Vec<f64>,
    /// Singular values, non-increasing.
    pub singular_values: Vec<f64>,
    /// `U`, row-major `(n_rows x k)`: the left singular vectors as columns.
    pub u: Vec<f64>,
    /// Iterations done (power iterations, or Lanczos restarts).
    pub n_iter: usize,
    /// Whether the stopping criterion was met (always true for the randomized solver).
    pub converged: bool,
    /// `A @ V`, row-major `(n_rows x k)`, when the solver computed it on the way (the
    /// randomized solver does); signs follow [`TruncatedSvd::flip_signs`].
    pub x_v: Option<Vec<f64>>,
}

impl TruncatedSvd {
    /// Applies scikit-learn's `svd_flip(u, v, u_based_decision=False)`: each row of `V^T` is
    /// negated (with the matching column of `U`) when its largest-magnitude entry (the first
    /// one on ties) is negative.
    pub fn flip_signs(&mut self) {
        let (k, n, m) = (self.k, self.n_cols, self.n_rows);
        for i in 0..k {
            let row = &mut self.components[i * n..(i + 1) * n];
            let mut best = 0.0f64;
            let mut val = 0.0f64;
            for &x in row.iter() {
                if x.abs() > best {
                    best = x.abs();
                    val = x;
                }
            }
            if val < 0.0 {
                row.iter_mut().for_each(|x| *x = -*x);
                for r in 0..m {
                    self.u[r * k + i] = -self.u[r * k + i];
                }
                if let Some(xv) = self.x_v.as_mut() {
                    for r in 0..m {
                        xv[r * k + i] = -xv[r * k + i];
                    }
                }
            }
        }
    }
}

/// Parameters of [`randomized_svd`] (Halko, Martinsson & Tropp 2011, Algorithms 4.3/4.4 and 5.1).
#[derive(Debug, Clone)]
pub struct RandomizedParams {
    /// Number of singular triplets `k`.
    pub n_components: usize,
    /// Extra random vectors `p` (the sketch has `k + p` columns).
    pub n_oversamples: usize,
    /// Power iterations `q`: the sketch is `(A A^T)^q A Ω`.
    pub n_iter: usize,
    /// Seed of the Gaussian test matrix `Ω`.
    pub seed: u64,
    /// How the sketch is renormalised between power iterations.
    pub normalizer: Normalizer,
}

/// scikit-learn's `power_iteration_normalizer`. In exact arithmetic all four span the same
/// subspace (each only right-multiplies the sketch by an invertible matrix); they differ in
/// rounding: QR keeps the basis orthonormal (most accurate), LU keeps it well scaled, `None`
/// lets the columns align with the top singular vector (unstable for many iterations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalizer {
    /// `None` for `n_iter <= 2`, else `Lu` (scikit-learn's rule).
    Auto,
    /// Orthonormal basis after every iteration (CholeskyQR2, Householder when ill-conditioned).
    Qr,
    /// `Y <- P L` of the partially pivoted `Y = P L U` after every iteration.
    Lu,
    /// No renormalisation (only an exact power-of-two rescaling that prevents overflow).
    None,
}

impl Normalizer {
    /// Parses scikit-learn's spelling (`'auto'`, `'QR'`, `'LU'`, `'none'`).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Normalizer::Auto),
            "QR" => Ok(Normalizer::Qr),
            "LU" => Ok(Normalizer::Lu),
            "none" => Ok(Normalizer::None),
            other => Err(Error::InvalidParameter(format!(
                "power_iteration_normalizer must be one of 'auto', 'QR', 'LU', 'none', got {other:?}"
            ))),
        }
    }

    /// The normaliser actually used for `n_iter` power iterations.
    pub fn resolve(self, n_iter: usize) -> Self {
        match self {
            Normalizer::Auto if n_iter <= 2 => Normalizer::None,
            Normalizer::Auto => Normalizer::Lu,
            other => other,
        }
    }
}

/// Parameters of [`lanczos_svd`].
#[derive(Debug, Clone)]
pub struct LanczosParams {
    /// Number of singular triplets `k` (`1 <= k <= min(shape)`).
    pub n_components: usize,
    /// Relative tolerance on singular triplets; 0 means machine precision. As in
    /// `scipy.sparse.linalg.svds`, the Gram eigen-residuals must satisfy
    /// `||G y - θ y|| <= max(tol², 64 ε) θ`.
    pub tol: f64,
    /// Lanczos basis size; `None` gives ARPACK's `min(s, max(2k + 1, 20))`.
    pub ncv: Option<usize>,
    /// Maximal number of restarts; `None` gives `10 s` (ARPACK's default), `s = min(shape)`.
    pub max_restarts: Option<usize>,
    /// Seed of the random start vector.
    pub seed: u64,
}

/// Asks the [`Interrupt`] at most every 50 ms, always from the calling thread.
struct Ticker<'a> {
    intr: &'a dyn Interrupt,
    last: Instant,
}

impl<'a> Ticker<'a> {
    fn new(intr: &'a dyn Interrupt) -> Self {
        Ticker {
            intr,
            last: Instant::now(),
        }
    }
    fn tick(&mut self) -> Result<()> {
        if self.last.elapsed() >= Duration::from_millis(50) {
            self.intr.check()?;
            self.last = Instant::now();
        }
        Ok(())
    }
}

/// Phase timings on stderr when the environment variable `FT_DEBUG` is set: wall time and
/// the process's CPU time (user + system, from `/proc/self/stat`, so Linux only) since start.
struct DebugClock {
    on: bool,
    wall: Instant,
    cpu: f64,
}

impl DebugClock {
    fn new() -> Self {
        let on = std::env::var_os("FT_DEBUG").is_some();
        DebugClock {
            on,
            wall: Instant::now(),
            cpu: if on { process_cpu_seconds() } else { 0.0 },
        }
    }
    fn lap(&self, what: &str) {
        if self.on {
            eprintln!(
                "{what}: wall {:.3}s cpu {:.2}s",
                self.wall.elapsed().as_secs_f64(),
                process_cpu_seconds() - self.cpu
            );
        }
    }
}

/// User + system CPU seconds of this process (0 where `/proc` is missing).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Left/right factors of the operator the inner solvers see (`k` columns each).
struct Factors {
    u: Mat<f64>,
    s: Vec<f64>,
    /// Right factor, column-major and contiguous (`ncols x k`, column `i` at `v[i * ncols..]`):
    /// exactly the layout of the row-major `components_` when the operator is not transposed,
    /// so that large block is moved, not copied.
    v: Vec<f64>,
    n_iter: usize,
    converged: bool,
    /// `X @ V` of the caller's (unscaled, untransposed) matrix, row-major, when the solver got
    /// it for free.
    x_v: Option<Vec<f64>>,
}

/// Contiguous column-major copy of the first `k` columns of `m`.
fn mat_to_cols(m: MatRef<'_, f64>, k: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.nrows() * k);
    for i in 0..k {
        out.extend(m.col(i).iter().copied());
    }
    out
}

/// Row-major `(rows x k)` copy of a column-major one.
fn cols_to_rm(x: &[f64], rows: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * k];
    for (i, col) in x.chunks_exact(rows.max(1)).enumerate().take(k) {
        for (r, v) in col.iter().enumerate() {
            out[r * k + i] = *v;
        }
    }
    out
}

/// Assembles the result; `scale` is the operator's power-of-two factor (the solvers saw
/// `scale * A`), divided out of the singular values exactly.
fn finish(f: Factors, transposed: bool, k: usize, m: usize, n: usize, scale: f64) -> TruncatedSvd {
    let (components, u) = if transposed {
        // original V = inner U, original U = inner V
        (mat_to_cols(f.u.as_ref(), k), cols_to_rm(&f.v, m, k))
    } else {
        let mut uu = vec![0.0; m * k];
        for i in 0..k {
            for (r, x) in f.u.col(i).iter().enumerate() {
                uu[r * k + i] = *x;
            }
        }
        (f.v, uu)
    };
    TruncatedSvd {
        n_rows: m,
        n_cols: n,
        k,
        components,
        singular_values: f.s[..k].iter().map(|x| x / scale).collect(),
        u,
        n_iter: f.n_iter,
        converged: f.converged,
        x_v: f.x_v,
    }
}

fn check_shape(m: usize, n: usize, k: usize) -> Result<()> {
    if m == 0 || n == 0 {
        return Err(Error::InvalidInput("the matrix is empty".into()));
    }
    if k == 0 || k > m.min(n) {
        return Err(Error::InvalidParameter(format!(
            "n_components must be in [1, min(n_samples, n_features)] = [1, {}], got {k}",
            m.min(n)
        )));
    }
    Ok(())
}

/// `Z^T Z` of a row-major `(rows x cols)` block (symmetrised).
fn gram_rm(z: &[f64], rows: usize, cols: usize) -> Mat<f64> {
    cross_rm(z, z, rows, cols)
}

/// `Z^T W` of two row-major `(rows x cols)` blocks, symmetrised (the callers know it is
/// symmetric): sequential gemms on row chunks in parallel, summed (a small output with a huge
/// inner dimension parallelises poorly inside one gemm).
fn cross_rm(z: &[f64], w: &[f64], rows: usize, cols: usize) -> Mat<f64> {
    const CHUNK: usize = 2048;
    debug_assert_eq!(z.len(), rows * cols);
    debug_assert_eq!(w.len(), rows * cols);
    let zero = || Mat::<f64>::zeros(cols, cols);
    // partial products in chunk order, summed sequentially: bitwise reproducible whatever the
    // thread count or work stealing (rayon's `reduce` order is not fixed).
    let parts: Vec<Mat<f64>> = z
        .par_chunks(CHUNK * cols.max(1))
        .zip(w.par_chunks(CHUNK * cols.max(1)))
        .map(|(c, d)| {
            let r = c.len() / cols.max(1);
            let v = MatRef::from_row_major_slice(c, r, cols);
            let x = MatRef::from_row_major_slice(d, r, cols);
            let mut g = zero();
            matmul(g.as_mut(), Accum::Replace, v.transpose(), x, 1.0, Par::Seq);
            g
        })
        .collect();
    let mut g = zero();
    for part in &parts {
        g += part;
    }
    Mat::<f64>::from_fn(cols, cols, |i, j| 0.5 * (g[(i, j)] + g[(j, i)]))
}

/// CholeskyQR2 (Fukaya et al. 2014): `Y <- Y R^{-1}` twice with `R^T R = Y^T Y`. Returns the
/// accumulated `R` (so `Y_in = Y_out R`), or `None`, leaving `Y` a basis of the same span, when
/// `Y` is too ill-conditioned for it (`κ(Y) > 1e6`).
fn cholesky_qr2(y: &mut [f64], rows: usize, cols: usize) -> Option<Mat<f64>> {
    let mut r_total = Mat::<f64>::identity(cols, cols);
    for pass in 0..2 {
        let g = gram_rm(y, rows, cols);
        let llt = g.llt(faer::Side::Lower).ok()?;
        let l = llt.L();
        let diag: Vec<f64> = (0..cols).map(|i| l[(i, i)].abs()).collect();
        let (mn, mx) = diag
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &d| (a.min(d), b.max(d)));
        if pass == 0 && (mn.is_nan() || mn <= 1e-6 * mx) {
            return None;
        }
        // row-major Y is the column-major Y^T: solve L X = Y^T, i.e. Y <- Y L^{-T}
        let yt = MatMut::from_column_major_slice_mut(y, cols, rows);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(l, yt, Par::rayon(0));
        let mut nr = Mat::<f64>::zeros(cols, cols);
        matmul(
            nr.as_mut(),
            Accum::Replace,
            l.transpose(),
            r_total.as_ref(),
            1.0,
            Par::Seq,
        );
        r_total = nr;
    }
    Some(r_total)
}

/// Replaces the row-major `(rows x cols)` block `y` (`rows >= cols`) by an orthonormal basis of
/// its column space: CholeskyQR2 when `y` is well conditioned (all level-3 work, parallel),
/// otherwise Householder QR (thin Q).
fn orthonormalize(y: &mut [f64], rows: usize, cols: usize) {
    if cholesky_qr2(y, rows, cols).is_some() {
        return;
    }
    let mut cm = Mat::<f64>::zeros(rows, cols);
    cm.copy_from(MatRef::from_row_major_slice(y, rows, cols));
    let q = cm.qr().compute_thin_Q();
    let mut dst = MatMut::from_row_major_slice_mut(y, rows, cols);
    dst.copy_from(q.as_ref());
}

/// Renormalises the row-major `(rows x cols)` sketch `y` with `how` (resolved, not `Auto`);
/// returns whether `y` is now orthonormal.
fn normalize(y: &mut [f64], rows: usize, cols: usize, how: Normalizer) -> bool {
    match how {
        Normalizer::Qr | Normalizer::Auto => {
            orthonormalize(y, rows, cols);
            true
        }
        Normalizer::Lu => {
            if lu_normalize(y, rows, cols) {
                false
            } else {
                // rank-deficient sketch: LU has a zero pivot, QR still gives a basis
                orthonormalize(y, rows, cols);
                true
            }
        }
        Normalizer::None => {
            // an exact power-of-two rescaling keeps the values near 1 (no overflow after many
            // iterations) without changing any rounding
            let mx = y.par_iter().map(|v| v.abs()).reduce(|| 0.0, f64::max);
            if mx > 0.0 && mx.is_finite() {
                #[allow(clippy::cast_possible_truncation)]
                let e = (mx.log2().floor() as i32).clamp(-1000, 1000);
                if e != 0 {
                    let c = 2f64.powi(-e);
                    y.par_iter_mut().for_each(|v| *v *= c);
                }
            }
            false
        }
    }
}

/// `Y <- P L` for the partially pivoted LU `Y = P L U` (scipy's `lu(Y, permute_l=True)[0]`,
/// as scikit-learn's 'LU' normaliser). Returns false (leaving `y` alone) when a pivot is zero.
fn lu_normalize(y: &mut [f64], rows: usize, cols: usize) -> bool {
    let ym = MatRef::from_row_major_slice(y, rows, cols).to_owned();
    let lu = ym.partial_piv_lu();
    let u = lu.U();
    if (0..cols).any(|i| !(u[(i, i)].abs() > 0.0 && u[(i, i)].is_finite())) {
        return false;
    }
    let l = lu.L();
    // faer: P Y = L U with (P Y)[i] = Y[fwd[i]], so row fwd[i] of P^T L is row i of L
    let (fwd, _) = lu.P().arrays();
    for (i, &dst) in fwd.iter().enumerate() {
        for c in 0..cols {
            y[dst * cols + c] = l[(i, c)];
        }
    }
    true
}

/// Thin SVD of a tall row-major `(rows x cols)` block `Z`, accurate in its top `k` triplets:
/// `(U_k, s, V)` with `U_k` `rows x k`, `s` the `cols` singular values (only the first `k`
/// refined), `V` `cols x cols` (first `k` columns refined).
///
/// Fast path (only level-3 products over the tall side, which dominate the cost): eigenvectors
/// `V` of the Gram `Z^T Z`, then `W = Z V_k` and CholeskyQR2 `W = Q R` (twice, so `Q` is
/// orthonormal to rounding level), and the SVD `R = U_r S V_r^T` of the small `R`:
/// `Z V_k = (Q U_r) S V_r^T`. Used when `σ_k / σ_1 > 1e-4`, where CholeskyQR2 is stable; otherwise
/// the Householder QR path.
fn tall_svd(
    z: &[f64],
    rows: usize,
    cols: usize,
    k: usize,
) -> Result<(Mat<f64>, Vec<f64>, Mat<f64>)> {
    let zv = MatRef::from_row_major_slice(z, rows, cols);
    let c = gram_rm(z, rows, cols);
    let evd = c
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::InvalidInput(format!("eigendecomposition failed: {e:?}")))?;
    let lam: Vec<f64> = evd.S().column_vector().iter().rev().copied().collect();
    let ev = evd.U();
    let v = Mat::<f64>::from_fn(cols, cols, |r, j| ev[(r, cols - 1 - j)]);
    if !(lam[0] > 0.0 && lam[k - 1] > 1e-8 * lam[0]) {
        return tall_svd_qr(z, rows, cols);
    }
    // W = Z V_k, row-major rows x k (= column-major W^T, k x rows)
    let mut w = vec![0.0; rows * k];
    matmul(
        MatMut::from_row_major_slice_mut(&mut w, rows, k),
        Accum::Replace,
        zv,
        v.as_ref().subcols(0, k),
        1.0,
        Par::rayon(0),
    );
    if lam[k - 1] > 1e-4 * lam[0] {
        // well conditioned top block: U_k = Z V_k S_k^{-1} directly; loss of orthogonality is
        // ~ ε λ_1 / λ_k <= 1e4 ε.
        let mut u = Mat::<f64>::zeros(rows, k);
        let s: Vec<f64> = lam.iter().map(|x| x.max(0.0).sqrt()).collect();
        for i in 0..k {
            let ui = u.col_as_slice_mut(i);
            let mut nrm = 0.0;
            for (r, x) in ui.iter_mut().enumerate() {
                *x = w[r * k + i];
                nrm += *x * *x;
            }
            let nrm = nrm.sqrt();
            if nrm > 0.0 {
                ui.iter_mut().for_each(|x| *x /= nrm);
            }
        }
        let mut s = s;
        for (i, si) in s.iter_mut().enumerate().take(k) {
            // the norm of Z v_i is a more accurate singular value than sqrt(λ_i)
            let nrm: f64 = (0..rows)
                .map(|r| w[r * k + i] * w[r * k + i])
                .sum::<f64>()
                .sqrt();
            *si = nrm;
        }
        return Ok((u, s, v));
    }
    let r_total = match cholesky_qr2(&mut w, rows, k) {
        Some(r) => r,
        None => return tall_svd_qr(z, rows, cols),
    };
    // Z V_k = Q R_total; SVD of the small R_total
    let svd = r_total
        .svd()
        .map_err(|e| Error::InvalidInput(format!("SVD did not converge: {e:?}")))?;
    let mut u = Mat::<f64>::zeros(rows, k);
    matmul(
        u.as_mut(),
        Accum::Replace,
        MatRef::from_row_major_slice(&w, rows, k),
        svd.U(),
        1.0,
        Par::rayon(0),
    );
    let mut s: Vec<f64> = lam.iter().map(|x| x.max(0.0).sqrt()).collect();
    for (i, x) in svd.S().column_vector().iter().enumerate() {
        s[i] = *x;
    }
    let mut vout = v;
    let mut vk = Mat::<f64>::zeros(cols, k);
    matmul(
        vk.as_mut(),
        Accum::Replace,
        vout.as_ref().subcols(0, k),
        svd.V(),
        1.0,
        Par::Seq,
    );
    vout.as_mut().subcols_mut(0, k).copy_from(vk.as_ref());
    Ok((u, s, vout))
}

/// Householder-QR based thin SVD (robust for rank-deficient or very ill-conditioned `Z`).
fn tall_svd_qr(z: &[f64], rows: usize, cols: usize) -> Result<(Mat<f64>, Vec<f64>, Mat<f64>)> {
    let zv = MatRef::from_row_major_slice(z, rows, cols);
    // QR first keeps the large factorization a cheap, parallel Householder QR.
    let qr = zv.qr();
    let r = qr.thin_R().to_owned();
    let svd = r
        .svd()
        .map_err(|e| Error::InvalidInput(format!("SVD did not converge: {e:?}")))?;
    let q = qr.compute_thin_Q();
    let mut u = Mat::<f64>::zeros(rows, cols);
    matmul(
        u.as_mut(),
        Accum::Replace,
        q.as_ref(),
        svd.U(),
        1.0,
        Par::rayon(0),
    );
    let s: Vec<f64> = svd.S().column_vector().iter().copied().collect();
    Ok((u, s, svd.V().to_owned()))
}

/// Randomized truncated SVD (Halko et al. 2011; scikit-learn's `randomized_svd`).
///
/// With `s = min(m, n)` the smaller side, `l = min(k + p, s)` and `A` oriented so that it has
/// `s` rows: `Y = A Ω`, `Q = qr(Y)`, then `q` times `Q = qr(A (A^T Q))`, and finally the SVD of
/// `B^T = A^T Q` (`n x l`, via QR + SVD of `R`). That is the same sketch `(A A^T)^q A Ω` and the
/// same number of products (`2q + 2`) as scikit-learn, but every power step is re-orthonormalised
/// by QR (sklearn's default uses LU, which "can lose slightly in accuracy"), and the QR happens on
/// the small side only, which is cheap. The first `k` triplets are returned.
pub fn randomized_svd<L: LinOp>(
    op: &L,
    params: &RandomizedParams,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<TruncatedSvd> {
    let (m, n, k) = (op.nrows(), op.ncols(), params.n_components);
    check_shape(m, n, k)?;
    let f = if m <= n {
        randomized_inner(op, params, false, pool, intr)?
    } else {
        randomized_inner(&Transposed(op), params, true, pool, intr)?
    };
    Ok(finish(f, m > n, k, m, n, op.scale()))
}

fn randomized_inner<L: LinOp>(
    op: &L,
    params: &RandomizedParams,
    transposed: bool,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<Factors> {
    let (m, n, k) = (op.nrows(), op.ncols(), params.n_components);
    let l = (k + params.n_oversamples).min(m).max(k);
    let clock = DebugClock::new();
    let lap = |what: &str| clock.lap(what);
    let normalizer = params.normalizer.resolve(params.n_iter);
    // Y = A Ω, then q times Y <- normalise(A A^T Y): A^T Y is never stored (fused kernel).
    let mut y = vec![0.0; m * l];
    pool.install(|| op.sketch(params.seed, l, &mut y));
    lap("sketch");
    intr.check()?;
    let mut y2 = vec![0.0; m * l];
    let mut orthonormal = false;
    for it in 0..=params.n_iter {
        if it > 0 {
            pool.install(|| op.gram(&y, l, &mut y2));
            std::mem::swap(&mut y, &mut y2);
            lap("gram");
            intr.check()?;
        }
        orthonormal = pool.install(|| normalize(&mut y, m, l, normalizer));
        lap("normalize");
    }
    drop(y2);
    // sklearn ends with `Q = qr(A @ Q)` whatever the normaliser
    if !orthonormal {
        pool.install(|| orthonormalize(&mut y, m, l));
    }
    if let Some(f) = rayleigh_ritz_gram(op, &y, l, k, params.n_iter, transposed, pool, intr)? {
        lap("rayleigh-ritz");
        return Ok(f);
    }
    let mut z = vec![0.0; n * l];
    pool.install(|| op.matmul_t(&y, l, &mut z));
    lap("final XtQ");
    intr.check()?;
    let (uz, s, vz) = pool.install(|| tall_svd(&z, n, l, k))?;
    lap("tall svd");
    drop(z);
    // A^T Q = Uz S Vz^T  =>  A ≈ Q Q^T A = (Q Vz) S Uz^T.
    let q = MatRef::from_row_major_slice(&y, m, l);
    let mut u = Mat::<f64>::zeros(m, k);
    pool.install(|| {
        matmul(
            u.as_mut(),
            Accum::Replace,
            q,
            vz.as_ref().subcols(0, k),
            1.0,
            Par::rayon(0),
        )
    });
    let v = mat_to_cols(uz.as_ref(), k);
    drop(uz);
    intr.check()?;
    Ok(Factors {
        u,
        s,
        v,
        n_iter: params.n_iter,
        converged: true,
        x_v: None,
    })
}

/// The Rayleigh–Ritz step of the randomized solver on the small side: with `Q` (row-major
/// `m x l`, orthonormal) and `H = G Q` (`G = A A^T`, one fused pass like a power iteration),
/// the eigenpairs `(λ_i, w_i)` of `Q^T H` give `σ_i = sqrt(λ_i)`, `u_i = Q w_i`,
/// `v_i = A^T u_i / σ_i`, and for free `A v_i = H w_i / σ_i`: mathematically the SVD of
/// `Q^T A` that scikit-learn computes, without the SVD of a tall `n x l` block (nor the final
/// projection `X @ V` when the matrix is not transposed; when it is, `X @ V` is `A^T u_i`).
/// Returns `None` when `λ_k < 10^-6 λ_1`, where squaring would cost more than 1e-10 of
/// relative accuracy in `σ_k` (the caller then takes the SVD route).
#[allow(clippy::too_many_arguments)]
fn rayleigh_ritz_gram<L: LinOp>(
    op: &L,
    q: &[f64],
    l: usize,
    k: usize,
    n_iter: usize,
    transposed: bool,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<Option<Factors>> {
    let (m, n) = (op.nrows(), op.ncols());
    let clock = DebugClock::new();
    let mut h = vec![0.0; m * l];
    pool.install(|| op.gram(q, l, &mut h));
    intr.check()?;
    let t = pool.install(|| cross_rm(q, &h, m, l));
    let evd = t
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::InvalidInput(format!("eigendecomposition failed: {e:?}")))?;
    let lam: Vec<f64> = evd.S().column_vector().iter().rev().copied().collect();
    if !(lam[0] > 0.0 && lam[0].is_finite() && lam[k - 1] >= 1e-6 * lam[0]) {
        return Ok(None);
    }
    let ev = evd.U();
    let wk = Mat::<f64>::from_fn(l, k, |r, j| ev[(r, l - 1 - j)]);
    let sigma: Vec<f64> = lam[..k].iter().map(|x| x.sqrt()).collect();
    clock.lap("  G Q and eigenpairs");
    // U_k = Q W_k (m x k); row-major copy for the product A^T U_k
    let mut uk = vec![0.0; m * k];
    pool.install(|| {
        matmul(
            MatMut::from_row_major_slice_mut(&mut uk, m, k),
            Accum::Replace,
            MatRef::from_row_major_slice(q, m, l),
            wk.as_ref(),
            1.0,
            Par::rayon(0),
        )
    });
    let scale = op.scale();
    let (v, x_v) = if transposed {
        let mut z = vec![0.0; n * k];
        pool.install(|| op.matmul_t(&uk, k, &mut z));
        intr.check()?;
        clock.lap("  A^T U");
        let all: Vec<usize> = (0..k).collect();
        let v = scaled_transpose(&z, n, k, &all, &sigma);
        // X = (A / c)^T: X @ V = X u = A^T u / c
        z.iter_mut().for_each(|x| *x /= scale);
        (v, z)
    } else {
        // V = A^T U Σ^{-1}, straight into the layout of components_ (no row-major copy)
        let mut v = vec![0.0; n * k];
        pool.install(|| op.matmul_t_cols(&uk, k, &mut v));
        intr.check()?;
        clock.lap("  A^T U");
        pool.install(|| {
            v.par_chunks_mut(n.max(1))
                .zip(sigma.par_iter())
                .for_each(|(col, sg)| col.iter_mut().for_each(|x| *x /= sg));
        });
        // X = A / c: X @ V = A A^T U Σ^{-1} / c = H W_k Σ^{-1} / c
        let mut hw = vec![0.0; m * k];
        pool.install(|| {
            matmul(
                MatMut::from_row_major_slice_mut(&mut hw, m, k),
                Accum::Replace,
                MatRef::from_row_major_slice(&h, m, l),
                wk.as_ref(),
                1.0,
                Par::rayon(0),
            )
        });
        for row in hw.chunks_exact_mut(k) {
            for (x, sg) in row.iter_mut().zip(&sigma) {
                *x = *x / sg / scale;
            }
        }
        (v, hw)
    };
    let mut u = Mat::<f64>::zeros(m, k);
    for (r, row) in uk.chunks_exact(k).enumerate() {
        for (c, x) in row.iter().enumerate() {
            u[(r, c)] = *x;
        }
    }
    clock.lap("  factors");
    Ok(Some(Factors {
        u,
        s: sigma,
        v,
        n_iter,
        converged: true,
        x_v: Some(x_v),
    }))
}

/// Contiguous column-major `(n x cols.len())` block whose column `c` is column `cols[c]` of
/// the row-major `(n x k)` block `z` divided by `d[cols[c]]`; transposed in blocks of rows that
/// stay in cache.
fn scaled_transpose(z: &[f64], n: usize, k: usize, cols: &[usize], d: &[f64]) -> Vec<f64> {
    const ROWS: usize = 256;
    let mut v = vec![0.0; n * cols.len()];
    for r0 in (0..n).step_by(ROWS) {
        let r1 = (r0 + ROWS).min(n);
        for (c, &oc) in cols.iter().enumerate() {
            let col = &mut v[c * n + r0..c * n + r1];
            for (dst, zr) in col.iter_mut().zip(z[r0 * k..r1 * k].chunks_exact(k)) {
                *dst = zr[oc] / d[oc];
            }
        }
    }
    v
}

/// Truncated SVD by thick-restart Lanczos (Wu & Simon 2000) on the Gram matrix `G = A A^T` of
/// the smaller side, with full (DGKS) reorthogonalisation, followed by a Rayleigh–Ritz step:
/// the SVD of `A^T Y_k` gives the singular triplets, exactly as `scipy.sparse.linalg.svds`
/// post-processes ARPACK's eigenvectors (so singular values are accurate even where the
/// eigenvalues `σ²` lose relative precision).
///
/// Each cycle extends the basis to `ncv` vectors, computes the Ritz pairs `(θ_i, y_i)` of
/// `T = V^T G V`, and stops when `β |e_ncv^T y_i| <= max(tol², 64ε) max(θ_i, ε^{2/3} θ_1)` for the `k`
/// largest (ARPACK's test), or when the eigenvalue-error bound `res² / gap` has reached that
/// level with a residual below 1e-9 θ_i (see [`ritz_converged`]). Otherwise it keeps
/// `k + 2 (ncv - k) / 3` Ritz vectors plus the residual block (the "arrow" restart) and
/// continues.
pub fn lanczos_svd<L: LinOp>(
    op: &L,
    params: &LanczosParams,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<TruncatedSvd> {
    let (m, n, k) = (op.nrows(), op.ncols(), params.n_components);
    check_shape(m, n, k)?;
    if !(params.tol >= 0.0 && params.tol.is_finite()) {
        return Err(Error::InvalidParameter(
            "tol must be a non-negative number".into(),
        ));
    }
    let f = if m <= n {
        lanczos_inner(op, params, pool, intr)?
    } else {
        lanczos_inner(&Transposed(op), params, pool, intr)?
    };
    Ok(finish(f, m > n, k, m, n, op.scale()))
}

/// Column-major `(rows x cols)` copy of a row-major block, and back.
fn rm_to_cm(x: &[f64], rows: usize, cols: usize, out: &mut [f64]) {
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
}

fn cm_to_rm(x: &[f64], rows: usize, cols: usize, out: &mut [f64]) {
    for c in 0..cols {
        for r in 0..rows {
            out[r * cols + c] = x[c * rows + r];
        }
    }
}

/// `h[c0..c1] += V^T w` and `w -= V (V^T w)` for the basis columns `V = basis[c0..c1]` and the
/// column-major `(s x b)` block `w`. The products are thin (`b` columns) and memory bound: one
/// sequential gemm per thread on its own range of rows (faer's parallel split of these thin
/// products synchronised so often that it dominated the whole solver); the partial `V^T w` are
/// summed in range order, so the result does not depend on scheduling.
fn project_out(
    basis: &[f64],
    s: usize,
    c0: usize,
    c1: usize,
    w: &mut [f64],
    b: usize,
    h: &mut Mat<f64>,
) {
    let nc = c1 - c0;
    if nc == 0 {
        return;
    }
    let v = MatRef::from_column_major_slice(&basis[c0 * s..c1 * s], s, nc);
    let parts = rayon::current_num_threads().clamp(1, s.div_ceil(2048));
    let bounds: Vec<usize> = (0..=parts).map(|t| s * t / parts).collect();
    let wv = MatRef::from_column_major_slice(w, s, b);
    let partial: Vec<Mat<f64>> = bounds
        .par_windows(2)
        .map(|r| {
            let mut hp = Mat::<f64>::zeros(nc, b);
            let nr = r[1] - r[0];
            matmul(
                hp.as_mut(),
                Accum::Replace,
                v.subrows(r[0], nr).transpose(),
                wv.subrows(r[0], nr),
                1.0,
                Par::Seq,
            );
            hp
        })
        .collect();
    let mut h2 = Mat::<f64>::zeros(nc, b);
    for hp in &partial {
        h2 += hp;
    }
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = MatMut::from_column_major_slice_mut(w, s, b);
    for r in bounds.windows(2) {
        let (top, bottom) = rest.split_at_row_mut(r[1] - r[0]);
        pieces.push((r[0], top));
        rest = bottom;
    }
    let h2r = h2.as_ref();
    pieces.into_par_iter().for_each(|(r0, piece)| {
        let nr = piece.nrows();
        matmul(piece, Accum::Add, v.subrows(r0, nr), h2r, -1.0, Par::Seq);
    });
    let mut hs = h.as_mut().subrows_mut(c0, nc);
    hs += h2.as_ref();
}

fn column_norms(w: &[f64], s: usize, b: usize) -> Vec<f64> {
    (0..b).map(|c| norm(&w[c * s..(c + 1) * s])).collect()
}

/// Block classical Gram–Schmidt of the column-major `(s x b)` block `w` against the first `cur`
/// basis columns; returns the coefficients `V^T w_original` as a `(cur x b)` matrix.
///
/// In exact arithmetic `w = G V_active` only has components along the columns `lo..cur` (the
/// band of the block three-term recurrence; `lo = 0` right after a start or restart, where the
/// active block couples to all kept Ritz vectors). So the band is projected out first (cheap),
/// then the whole basis once, which removes the rounding-level components that make Lanczos
/// lose orthogonality; a further full pass follows when that one cancelled more than half of a
/// column (the DGKS test), and always when `lo = 0` ("twice is enough").
fn block_orthogonalize(
    basis: &[f64],
    s: usize,
    lo: usize,
    cur: usize,
    w: &mut [f64],
    b: usize,
) -> Mat<f64> {
    let mut h = Mat::<f64>::zeros(cur, b);
    if cur == 0 {
        return h;
    }
    project_out(basis, s, lo, cur, w, b, &mut h);
    if lo == 0 {
        project_out(basis, s, 0, cur, w, b, &mut h);
        return h;
    }
    let before = column_norms(w, s, b);
    project_out(basis, s, 0, cur, w, b, &mut h);
    let after = column_norms(w, s, b);
    // (a NaN norm also takes the extra pass)
    if after
        .iter()
        .zip(&before)
        .any(|(a, b)| a.partial_cmp(&(0.5 * b)) != Some(std::cmp::Ordering::Greater))
    {
        project_out(basis, s, 0, cur, w, b, &mut h);
    }
    h
}

/// Thin QR of the column-major `(s x b)` block `w` (already orthogonal to the first `cur` basis
/// columns), written into `basis[cur..cur + b]`. Columns that were (numerically) dependent are
/// replaced by random unit vectors orthogonal to everything before them, with a zero row in R.
fn block_qr_into(
    basis: &mut [f64],
    s: usize,
    cur: usize,
    w: &[f64],
    b: usize,
    scale: f64,
    rng: &mut crate::runtime::Rng,
) -> Mat<f64> {
    let wv = MatRef::from_column_major_slice(w, s, b);
    let qr = wv.qr();
    let mut r = qr.thin_R().to_owned();
    let q = qr.compute_thin_Q();
    for c in 0..b {
        basis[(cur + c) * s..(cur + c + 1) * s].copy_from_slice(q.col_as_slice(c));
    }
    for i in 0..b {
        if r[(i, i)].abs() <= 1e-10 * scale || !r[(i, i)].is_finite() {
            for j in 0..b {
                r[(i, j)] = 0.0;
            }
            let mut x: Vec<f64> = (0..s).map(|_| rng.sample(StandardNormal)).collect();
            for _ in 0..2 {
                for c in 0..cur + b {
                    if c == cur + i {
                        continue;
                    }
                    let col = &basis[c * s..(c + 1) * s];
                    let d: f64 = col.iter().zip(&x).map(|(a, b)| a * b).sum();
                    x.iter_mut().zip(col).for_each(|(a, b)| *a -= d * b);
                }
            }
            let nx = norm(&x).max(f64::MIN_POSITIVE);
            basis[(cur + i) * s..(cur + i + 1) * s]
                .iter_mut()
                .zip(&x)
                .for_each(|(d, v)| *d = v / nx);
        }
    }
    r
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Relative Gram residual below which a Ritz pair may stop on the eigenvalue-error test of
/// [`ritz_converged`]; it keeps the Ritz vectors within `1e-9 θ / gap` of the eigenvectors, so
/// `components_` stay close to scipy's.
const RITZ_VECTOR_TOL: f64 = 1e-9;

/// Distance from the Ritz value `theta[i]` (sorted, decreasing) to its nearest neighbour.
fn ritz_gap(theta: &[f64], i: usize) -> f64 {
    let above = if i > 0 {
        theta[i - 1] - theta[i]
    } else {
        f64::INFINITY
    };
    let below = theta.get(i + 1).map_or(f64::INFINITY, |t| theta[i] - t);
    above.min(below)
}

/// Whether a Ritz pair with eigen-residual `res`, (floored) Ritz value `theta` and distance `gap`
/// to the other Ritz values is converged to the relative tolerance `tol_e`: either the
/// residual itself is below `tol_e θ` (ARPACK's test), or the residual is small
/// ([`RITZ_VECTOR_TOL`]) and the eigenvalue error bound `res² / gap` (Parlett, *The Symmetric
/// Eigenvalue Problem*, Thm 11.7.1; σ = sqrt(θ) then has half that relative error) is below
/// `tol_e θ`. The second test stops one or two restarts earlier with the same accuracy of the
/// singular values.
fn ritz_converged(res: f64, theta: f64, gap: f64, tol_e: f64) -> bool {
    res <= tol_e * theta || (res <= RITZ_VECTOR_TOL * theta && res * res <= tol_e * theta * gap)
}

/// Block size and basis size of the block Lanczos solver for `k` values on a side of size `s`.
/// Blocks amortise one pass over the sparse matrix (memory bound) over `b` vectors, but a block
/// Krylov space of the same dimension approximates less well than a single-vector one: on 20
/// Newsgroups (k = 100) `b = 8` needed 592 products, `b = 16` 896 (and each pass costs about
/// as much for 8 as for 4 columns). The basis holds `7k/2 + 2b` vectors: with the early stop
/// of [`ritz_converged`], k = 100 needed 536 products in 3 restarts with 366, against 544 in 7
/// restarts with 256 and 552 with 300 (each restart costs a dense `s x p x p` product too).
fn lanczos_sizes(k: usize, ncv: Option<usize>) -> (usize, usize) {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    // a power of two, so the Gram products run in unpadded panels (see sparse::panel_layout)
    let b = env("FT_LANCZOS_B").unwrap_or({
        let x = (k / 10).clamp(1, 8);
        1 << (usize::BITS - 1 - x.leading_zeros())
    });
    let p = env("FT_LANCZOS_P")
        .or(ncv)
        .unwrap_or((7 * k / 2 + 2 * b).max(20))
        .max(k + 2 * b);
    (b, p)
}

fn lanczos_inner<L: LinOp>(
    op: &L,
    params: &LanczosParams,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<Factors> {
    let (s, n, k) = (op.nrows(), op.ncols(), params.n_components);
    let (b, p) = lanczos_sizes(k, params.ncv);
    // FT_LANCZOS_KEEP: experiments only (percent of the extra Ritz vectors kept at restart)
    let keep_pct = std::env::var("FT_LANCZOS_KEEP")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v <= 100)
        .unwrap_or(67);
    let eps = f64::EPSILON;
    // ARPACK's eps-level test stagnates at rounding level with restarts; 64 eps relative
    // residual still bounds the eigenvalue error by ~1e-14 relative.
    let tol_e = (params.tol * params.tol).max(64.0 * eps);
    let eps23 = eps.powf(2.0 / 3.0);
    let mut rng = rng_stream(params.seed, 0);
    let dbg = std::env::var_os("FT_DEBUG").is_some();
    let clock = DebugClock::new();
    let n_vec = std::cell::Cell::new(0usize);

    // G v for a column-major (s x bb) block, via the row-major (fused) Gram product.
    let mut rm_in = vec![0.0; s * b];
    let mut rm_out = vec![0.0; s * b];
    let t_gram = std::cell::Cell::new(0.0f64);
    let mut apply_gram = |x: &[f64], bb: usize, out: &mut [f64]| {
        let t0 = Instant::now();
        pool.install(|| {
            cm_to_rm(x, s, bb, &mut rm_in[..s * bb]);
            op.gram(&rm_in[..s * bb], bb, &mut rm_out[..s * bb]);
            rm_to_cm(&rm_out[..s * bb], s, bb, out);
        });
        t_gram.set(t_gram.get() + t0.elapsed().as_secs_f64());
        n_vec.set(n_vec.get() + bb);
    };
    let t_start = Instant::now();

    let (theta, y, basis, restarts, converged) = if p + b > s {
        // The Krylov space would be (nearly) the whole side: form G densely, block by block.
        let mut g = Mat::<f64>::zeros(s, s);
        let mut e = vec![0.0; s * b];
        let mut out = vec![0.0; s * b];
        let mut c0 = 0;
        while c0 < s {
            let bb = b.min(s - c0);
            e.iter_mut().for_each(|x| *x = 0.0);
            for c in 0..bb {
                e[c * s + c0 + c] = 1.0;
            }
            apply_gram(&e[..s * bb], bb, &mut out[..s * bb]);
            for c in 0..bb {
                g.col_as_slice_mut(c0 + c)
                    .copy_from_slice(&out[c * s..(c + 1) * s]);
            }
            c0 += bb;
            intr.check()?;
        }
        let gs = Mat::<f64>::from_fn(s, s, |i, j| 0.5 * (g[(i, j)] + g[(j, i)]));
        let evd = pool
            .install(|| gs.self_adjoint_eigen(faer::Side::Lower))
            .map_err(|e| Error::InvalidInput(format!("eigendecomposition failed: {e:?}")))?;
        let vals: Vec<f64> = evd.S().column_vector().iter().copied().collect();
        let theta: Vec<f64> = (0..s).rev().map(|i| vals[i]).collect();
        let uv = evd.U();
        let y = Mat::<f64>::from_fn(s, s, |r, c| uv[(r, s - 1 - c)]);
        // basis = identity
        let mut basis = vec![0.0; s * s];
        for i in 0..s {
            basis[i * s + i] = 1.0;
        }
        (theta, y, basis, 1usize, true)
    } else {
        let max_restarts = params.max_restarts.unwrap_or(10 * s).max(1);
        let mut basis = vec![0.0; s * (p + b)];
        let mut t = Mat::<f64>::zeros(p, p);
        let mut w = vec![0.0; s * b];
        // start block: Gaussian, orthonormalised
        let start: Vec<f64> = (0..s * b).map(|_| rng.sample(StandardNormal)).collect();
        let _ = pool.install(|| block_qr_into(&mut basis, s, 0, &start, b, 0.0, &mut rng));
        let mut cur = b; // columns in the basis; the active block is [cur - b, cur)
                         // first basis column the active block couples to in exact arithmetic
        let mut band_lo = 0usize;
        let mut scale = 0.0f64;
        let mut restarts = 0usize;
        let mut ticker = Ticker::new(intr);
        let mut t_orth = 0.0f64;
        loop {
            // expand until the basis holds p columns; the last product gives the residual block
            let r_last = loop {
                let a = cur - b;
                apply_gram(&basis[a * s..cur * s], b, &mut w);
                let t0 = Instant::now();
                let h = pool.install(|| block_orthogonalize(&basis, s, band_lo, cur, &mut w, b));
                band_lo = a;
                t_orth += t0.elapsed().as_secs_f64();
                // symmetric fill of the new block column
                for j in 0..b {
                    for i in 0..a {
                        t[(i, a + j)] = h[(i, j)];
                        t[(a + j, i)] = h[(i, j)];
                    }
                    for i in 0..b {
                        let v = 0.5 * (h[(a + i, j)] + h[(a + j, i)]);
                        t[(a + i, a + j)] = v;
                    }
                }
                for j in 0..b {
                    scale = scale.max(h[(a + j, j)].abs());
                }
                if cur + b > p {
                    // residual block: W = Q_r R_r (Q_r becomes the next block after restart)
                    let r =
                        pool.install(|| block_qr_into(&mut basis, s, cur, &w, b, scale, &mut rng));
                    break r;
                }
                let r = pool.install(|| block_qr_into(&mut basis, s, cur, &w, b, scale, &mut rng));
                for i in 0..b {
                    for j in 0..b {
                        t[(cur + i, a + j)] = r[(i, j)];
                        t[(a + j, cur + i)] = r[(i, j)];
                    }
                }
                cur += b;
                ticker.tick()?;
            };
            // Ritz pairs of T[..cur, ..cur], largest first
            let tc = t.as_ref().submatrix(0, 0, cur, cur).to_owned();
            let evd = tc
                .self_adjoint_eigen(faer::Side::Lower)
                .map_err(|e| Error::InvalidInput(format!("eigendecomposition failed: {e:?}")))?;
            let vals: Vec<f64> = evd.S().column_vector().iter().copied().collect();
            let theta: Vec<f64> = (0..cur).rev().map(|i| vals[i]).collect();
            let uv = evd.U();
            let y = Mat::<f64>::from_fn(cur, cur, |r, c| uv[(r, cur - 1 - c)]);
            // coupling of each Ritz vector to the residual block: R_r y_i[last block]
            let a = cur - b;
            let coupling = |i: usize, row: usize| -> f64 {
                (0..b).map(|j| r_last[(row, j)] * y[(a + j, i)]).sum()
            };
            let res = |i: usize| -> f64 {
                (0..b)
                    .map(|row| coupling(i, row).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            let top = theta[0].abs().max(f64::MIN_POSITIVE);
            let conv: Vec<bool> = (0..k)
                .map(|i| {
                    let gap = ritz_gap(&theta, i);
                    ritz_converged(res(i), theta[i].abs().max(eps23 * top), gap, tol_e)
                })
                .collect();
            let converged = conv.iter().all(|&c| c);
            restarts += 1;
            if dbg {
                let worst = (0..k)
                    .map(|i| res(i) / theta[i].abs().max(eps23 * top))
                    .fold(0.0f64, f64::max);
                eprintln!(
                    "block lanczos b={b} p={p} restart {restarts} worst {worst:.3e} \
                     not converged {} vectors {}",
                    conv.iter().filter(|&&c| !c).count(),
                    n_vec.get()
                );
            }
            if converged || restarts >= max_restarts {
                break (theta, y, basis, restarts, converged);
            }
            intr.check()?;
            if dbg {
                eprintln!(
                    "  at restart: {:.3}s, gram {:.3}s, orth {:.3}s",
                    t_start.elapsed().as_secs_f64(),
                    t_gram.get(),
                    t_orth
                );
            }
            // thick restart: kk Ritz vectors, then the residual block
            // keeping two thirds of the extra Ritz vectors needed the fewest products on 20
            // Newsgroups (k = 100, p = 366: 536 vectors, against 616 keeping half, 552 keeping
            // 80 %)
            let kk = (k + (p - k) * keep_pct / 100).min(p - 2 * b).max(k);
            let mut kept = Mat::<f64>::zeros(s, kk);
            pool.install(|| {
                let v = MatRef::from_column_major_slice(&basis[..s * cur], s, cur);
                matmul(
                    kept.as_mut(),
                    Accum::Replace,
                    v,
                    y.as_ref().subcols(0, kk),
                    1.0,
                    Par::rayon(0),
                );
            });
            basis.copy_within(cur * s..(cur + b) * s, kk * s);
            for c in 0..kk {
                basis[c * s..(c + 1) * s].copy_from_slice(kept.col_as_slice(c));
            }
            t.fill(0.0);
            for i in 0..kk {
                t[(i, i)] = theta[i];
                for row in 0..b {
                    let v = coupling(i, row);
                    t[(kk + row, i)] = v;
                    t[(i, kk + row)] = v;
                }
            }
            cur = kk + b;
            band_lo = 0;
        }
    };
    let cur = y.nrows();
    if dbg {
        eprintln!(
            "lanczos: total {:.3}s, gram {:.3}s, {} vectors",
            t_start.elapsed().as_secs_f64(),
            t_gram.get(),
            n_vec.get()
        );
        clock.lap("lanczos");
    }
    let _ = theta;
    // Rayleigh–Ritz: Y_k (s x k) Ritz vectors, then SVD of A^T Y_k = Uz S Vz^T.
    let mut yk = vec![0.0; s * k];
    pool.install(|| {
        let v = MatRef::from_column_major_slice(&basis[..s * cur], s, cur);
        let dst = MatMut::from_row_major_slice_mut(&mut yk, s, k);
        matmul(
            dst,
            Accum::Replace,
            v,
            y.as_ref().subcols(0, k),
            1.0,
            Par::rayon(0),
        );
    });
    drop(basis);
    // Orthonormalise the Ritz vectors (scipy does the same after ARPACK; see scipy gh-16712).
    pool.install(|| orthonormalize(&mut yk, s, k));
    clock.lap("ritz vectors");
    let z = if converged && params.tol == 0.0 {
        // Z = A^T Y_k straight into the layout of components_
        let mut zc = vec![0.0; n * k];
        pool.install(|| op.matmul_t_cols(&yk, k, &mut zc));
        clock.lap("A^T Y");
        intr.check()?;
        match ritz_direct(&yk, zc, s, n, k, restarts) {
            Ok(f) => {
                clock.lap("ritz (direct)");
                return Ok(f);
            }
            Err(zc) => cols_to_rm(&zc, n, k),
        }
    } else {
        let mut z = vec![0.0; n * k];
        pool.install(|| op.matmul_t(&yk, k, &mut z));
        clock.lap("A^T Y");
        intr.check()?;
        z
    };
    let (uz, sv, vz) = pool.install(|| tall_svd(&z, n, k, k))?;
    clock.lap("ritz (tall svd)");
    let ykm = MatRef::from_row_major_slice(&yk, s, k);
    let mut u = Mat::<f64>::zeros(s, k);
    pool.install(|| {
        matmul(
            u.as_mut(),
            Accum::Replace,
            ykm,
            vz.as_ref(),
            1.0,
            Par::rayon(0),
        )
    });
    Ok(Factors {
        u,
        s: sv,
        v: mat_to_cols(uz.as_ref(), k),
        n_iter: restarts,
        converged,
        x_v: None,
    })
}

/// Singular triplets straight from converged Ritz vectors `Y_k` of `G = A A^T` (row-major
/// `s x k`) and `Z = A^T Y_k` (column-major `n x k`, consumed): `σ_i = ||z_i||`,
/// `v_i = z_i / σ_i`, `u_i = y_i`. The `y_i` are Ritz vectors of one orthonormal basis, so
/// `Y^T G Y = Θ` up to rounding, and `V^T V - I = Σ^{-1} (Y^T G Y - Θ) Σ^{-1}` is of order
/// `ε σ_1² / σ_k²`: what the SVD of `Z` (scipy's post-processing, [`tall_svd`]) would return up
/// to rounding. Gives `Z` back (use the SVD) when `σ_k < 10^-2 σ_1`, where that bound is no
/// longer tight.
fn ritz_direct(
    yk: &[f64],
    mut z: Vec<f64>,
    s: usize,
    n: usize,
    k: usize,
    restarts: usize,
) -> std::result::Result<Factors, Vec<f64>> {
    let norms: Vec<f64> = z.par_chunks(n.max(1)).map(norm).collect();
    let top = norms.iter().copied().fold(0.0f64, f64::max);
    let small = |x: f64| x.partial_cmp(&(1e-2 * top)) != Some(std::cmp::Ordering::Greater);
    if !(top > 0.0 && top.is_finite()) || norms.iter().any(|&x| small(x)) {
        return Err(z);
    }
    // decreasing σ (Ritz values come sorted; norms of nearly equal ones may swap)
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]));
    permute_cols(&mut z, n, &order);
    z.par_chunks_mut(n.max(1))
        .zip(order.par_iter())
        .for_each(|(col, &i)| col.iter_mut().for_each(|x| *x /= norms[i]));
    let u = Mat::<f64>::from_fn(s, k, |r, c| yk[r * k + order[c]]);
    Ok(Factors {
        u,
        s: order.iter().map(|&i| norms[i]).collect(),
        v: z,
        n_iter: restarts,
        converged: true,
        x_v: None,
    })
}

/// Reorders the columns of the contiguous column-major `(n x order.len())` block `z` in place
/// so that new column `c` is old column `order[c]` (by swaps, without a second block).
fn permute_cols(z: &mut [f64], n: usize, order: &[usize]) {
    // at[j]: current position of old column j; who[p]: old column now at position p
    let mut at: Vec<usize> = (0..order.len()).collect();
    let mut who = at.clone();
    for (c, &want) in order.iter().enumerate() {
        let p = at[want];
        if p != c {
            let (lo, hi) = z.split_at_mut(p * n);
            lo[c * n..(c + 1) * n].swap_with_slice(&mut hi[..n]);
            let displaced = who[c];
            who.swap(c, p);
            at[want] = c;
            at[displaced] = p;
        }
    }
}

/// `out = A @ W^T` (of the unscaled `A`) for an operator and a row-major `w` of shape
/// `(k x ncols)`: the projection of `fit_transform`. Returns row-major `(nrows x k)`.
pub fn project_op<L: LinOp>(
    op: &L,
    w: &[f64],
    k: usize,
    pool: &rayon::ThreadPool,
) -> Result<Vec<f64>> {
    let (m, n) = (op.nrows(), op.ncols());
    if w.len() != k * n {
        return Err(Error::ShapeMismatch(format!(
            "components have {} values, expected {k} x {n}",
            w.len()
        )));
    }
    let mut wt = vec![0.0; n * k];
    for i in 0..k {
        for (j, x) in w[i * n..(i + 1) * n].iter().enumerate() {
            wt[j * k + i] = *x;
        }
    }
    let mut out = vec![0.0; m * k];
    pool.install(|| op.matmul_streamed(&wt, k, &mut out));
    let scale = op.scale();
    if scale != 1.0 {
        // exact: the scale is a power of two
        out.iter_mut().for_each(|x| *x /= scale);
    }
    Ok(out)
}

/// `out = X @ W^T` for a CSR `X` and a row-major `w` of shape `(k x ncols)` (e.g.
/// `components_`): the projection used by `transform`. Returns row-major `(nrows x k)`.
pub fn project<M: CsrLike>(
    a: &M,
    w: &[f64],
    k: usize,
    pool: &rayon::ThreadPool,
) -> Result<Vec<f64>> {
    let (m, n) = (a.nrows(), a.ncols());
    if w.len() != k * n {
        return Err(Error::ShapeMismatch(format!(
            "components have {} values, expected {k} x {n}",
            w.len()
        )));
    }
    let mut wt = vec![0.0; n * k];
    for i in 0..k {
        for (j, x) in w[i * n..(i + 1) * n].iter().enumerate() {
            wt[j * k + i] = *x;
        }
    }
    let mut out = vec![0.0; m * k];
    pool.install(|| csr_matmul(a, &wt, k, 1.0, &mut out));
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::linalg::sparse::{gaussian_rows, CsrRef, DenseOp, SparseOp};
    use crate::runtime::{thread_pool, NeverInterrupt};

    fn random_dense(m: usize, n: usize, seed: u64, decay: f64) -> Vec<f64> {
        // U diag(s) V^T with s_i = decay^i plus noise, built from Gaussian factors.
        let g = gaussian_rows(seed, m, n);
        let mut a = vec![0.0; m * n];
        let cols: Vec<f64> = (0..n).map(|j| decay.powi(j as i32)).collect();
        for r in 0..m {
            for c in 0..n {
                a[r * n + c] = g[r * n + c] * cols[c];
            }
        }
        a
    }

    fn exact_sv(a: &[f64], m: usize, n: usize) -> Vec<f64> {
        let svd = MatRef::from_row_major_slice(a, m, n).thin_svd().unwrap();
        svd.S().column_vector().iter().copied().collect()
    }

    #[test]
    fn permute_cols_reorders_in_place() {
        let n = 3;
        for order in [
            vec![0usize, 1, 2, 3],
            vec![3, 2, 1, 0],
            vec![1, 2, 3, 0],
            vec![2, 0, 3, 1],
        ] {
            let mut z: Vec<f64> = (0..4 * n).map(|x| x as f64).collect();
            permute_cols(&mut z, n, &order);
            for (c, &o) in order.iter().enumerate() {
                for r in 0..n {
                    assert_eq!(z[c * n + r], (o * n + r) as f64, "{order:?}");
                }
            }
        }
    }

    #[test]
    fn ritz_gap_test_needs_small_residual_and_gap() {
        let theta = [4.0, 3.0, 2.9, 1.0];
        assert_eq!(ritz_gap(&theta, 0), 1.0);
        assert!((ritz_gap(&theta, 1) - 0.1).abs() < 1e-12);
        assert!((ritz_gap(&theta, 3) - 1.9).abs() < 1e-12);
        let tol = 64.0 * f64::EPSILON;
        // residual at the tolerance: converged whatever the gap
        assert!(ritz_converged(tol * 2.0, 2.0, 0.0, tol));
        // res² / gap far below tol θ, residual below the vector floor: converged
        assert!(ritz_converged(1e-10, 1.0, 0.1, tol));
        // same residual, Ritz values 1e-8 apart: the bound is useless, not converged
        assert!(!ritz_converged(1e-10, 1.0, 1e-8, tol));
        // tiny res² / gap but residual above the vector floor: not converged
        assert!(!ritz_converged(1e-8, 1.0, 1.0, tol));
    }

    #[test]
    fn orthonormalize_gives_orthonormal_columns() {
        let (m, l) = (200, 12);
        let mut y = gaussian_rows(3, m, l);
        orthonormalize(&mut y, m, l);
        for a in 0..l {
            for b in 0..l {
                let d: f64 = (0..m).map(|r| y[r * l + a] * y[r * l + b]).sum();
                let e = if a == b { 1.0 } else { 0.0 };
                assert!((d - e).abs() < 1e-12, "{a} {b} {d}");
            }
        }
    }

    #[test]
    fn tall_svd_of_known_matrix() {
        // [[3, 0], [0, -2], [0, 0]] has singular values 3 and 2.
        let z = [3.0, 0.0, 0.0, -2.0, 0.0, 0.0];
        let (u, s, v) = tall_svd(&z, 3, 2, 2).unwrap();
        assert!((s[0] - 3.0).abs() < 1e-14 && (s[1] - 2.0).abs() < 1e-14);
        // reconstruct
        for r in 0..3 {
            for c in 0..2 {
                let x: f64 = (0..2).map(|i| u[(r, i)] * s[i] * v[(c, i)]).sum();
                assert!((x - z[r * 2 + c]).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn tall_svd_rank_deficient_uses_qr() {
        // second column is zero: singular values 5 and 0
        let z = [3.0, 0.0, 4.0, 0.0, 0.0, 0.0];
        let (u, s, _) = tall_svd(&z, 3, 2, 2).unwrap();
        assert!((s[0] - 5.0).abs() < 1e-14 && s[1].abs() < 1e-14);
        assert!((u[(0, 0)].abs() - 0.6).abs() < 1e-14);
    }

    fn check_factorization(res: &TruncatedSvd, a: &[f64], exact: &[f64], tol: f64) {
        let (m, n, k) = (res.n_rows, res.n_cols, res.k);
        for i in 0..k {
            let rel = (res.singular_values[i] - exact[i]).abs() / exact[i];
            assert!(
                rel < tol,
                "sv {i}: {} vs {} ({rel})",
                res.singular_values[i],
                exact[i]
            );
            // A v_i = s_i u_i
            for r in 0..m {
                let av: f64 = (0..n)
                    .map(|c| a[r * n + c] * res.components[i * n + c])
                    .sum();
                assert!((av - res.singular_values[i] * res.u[r * k + i]).abs() < 1e-6 * exact[0]);
            }
            // sign convention
            let row = &res.components[i * n..(i + 1) * n];
            let big = row
                .iter()
                .fold(0.0f64, |acc, x| if x.abs() > acc.abs() { *x } else { acc });
            assert!(big > 0.0);
        }
        // orthonormal components
        for a_ in 0..k {
            for b in 0..k {
                let d: f64 = (0..n)
                    .map(|c| res.components[a_ * n + c] * res.components[b * n + c])
                    .sum();
                let e = if a_ == b { 1.0 } else { 0.0 };
                assert!((d - e).abs() < 1e-8);
            }
        }
    }

    #[test]
    fn lanczos_matches_dense_svd_both_orientations() {
        let pool = thread_pool(2).unwrap();
        for &(m, n) in &[(60usize, 40usize), (40, 60)] {
            let a = random_dense(m, n, 11, 0.97);
            let exact = exact_sv(&a, m, n);
            let op = DenseOp::new(m, n, a.clone().into()).unwrap();
            for k in [1usize, 5, 20, m.min(n) - 1, m.min(n)] {
                let p = LanczosParams {
                    n_components: k,
                    tol: 0.0,
                    ncv: None,
                    max_restarts: None,
                    seed: 5,
                };
                let mut res = lanczos_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
                assert!(res.converged);
                res.flip_signs();
                check_factorization(&res, &a, &exact, 1e-10);
            }
        }
    }

    #[test]
    fn block_lanczos_matches_dense_svd() {
        let pool = thread_pool(2).unwrap();
        let (m, n) = (180usize, 220usize);
        let a = random_dense(m, n, 13, 0.99);
        let exact = exact_sv(&a, m, n);
        let op = DenseOp::new(m, n, a.clone().into()).unwrap();
        for k in [24usize, 45] {
            let (b, p) = lanczos_sizes(k, None);
            // a real block solver (not the dense path), with blocks of 2 and 4
            assert!(b > 1 && p + b <= m.min(n), "{b} {p}");
            let p = LanczosParams {
                n_components: k,
                tol: 0.0,
                ncv: None,
                max_restarts: None,
                seed: 3,
            };
            let mut res = lanczos_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            assert!(res.converged);
            res.flip_signs();
            check_factorization(&res, &a, &exact, 1e-10);
        }
    }

    #[test]
    fn lanczos_on_sparse_with_clustered_spectrum() {
        // diagonal-ish sparse matrix with repeated singular values 5,5,5,4,4,3,... plus a tail
        let (m, n) = (300usize, 200usize);
        let mut indptr = vec![0i64];
        let mut indices = vec![];
        let mut data = vec![];
        let mut dense = vec![0.0; m * n];
        for r in 0..m {
            if r < n {
                let v = if r < 3 {
                    5.0
                } else if r < 5 {
                    4.0
                } else {
                    3.0 / (1.0 + r as f64 * 0.01)
                };
                indices.push(r as i64);
                data.push(v);
                dense[r * n + r] = v;
            }
            indptr.push(indices.len() as i64);
        }
        let a = CsrRef::new(m, n, &indptr, &indices, &data).unwrap();
        let op = SparseOp::new(a, a.transpose().unwrap()).unwrap();
        let exact = exact_sv(&dense, m, n);
        let pool = thread_pool(2).unwrap();
        let p = LanczosParams {
            n_components: 6,
            tol: 0.0,
            ncv: None,
            max_restarts: None,
            seed: 1,
        };
        let mut res = lanczos_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
        res.flip_signs();
        check_factorization(&res, &dense, &exact, 1e-12);
    }

    #[test]
    fn randomized_is_accurate_on_decaying_spectrum() {
        let pool = thread_pool(2).unwrap();
        for &(m, n) in &[(80usize, 50usize), (50, 80)] {
            let a = random_dense(m, n, 2, 0.8);
            let exact = exact_sv(&a, m, n);
            let op = DenseOp::new(m, n, a.clone().into()).unwrap();
            let p = RandomizedParams {
                n_components: 5,
                n_oversamples: 10,
                n_iter: 5,
                seed: 9,
                normalizer: Normalizer::Qr,
            };
            let mut res = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            res.flip_signs();
            check_factorization(&res, &a, &exact, 1e-8);
            // k + p >= min(shape): exact
            let p = RandomizedParams {
                n_components: 45,
                n_oversamples: 10,
                n_iter: 0,
                seed: 9,
                normalizer: Normalizer::Qr,
            };
            let res = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            for i in 0..45 {
                assert!((res.singular_values[i] - exact[i]).abs() < 1e-10 * exact[0]);
            }
        }
    }

    #[test]
    fn every_normalizer_is_accurate() {
        let pool = thread_pool(2).unwrap();
        let (m, n) = (70usize, 90usize);
        let a = random_dense(m, n, 5, 0.85);
        let exact = exact_sv(&a, m, n);
        let op = DenseOp::new(m, n, a.clone().into()).unwrap();
        for how in [
            Normalizer::Auto,
            Normalizer::Qr,
            Normalizer::Lu,
            Normalizer::None,
        ] {
            let p = RandomizedParams {
                n_components: 4,
                n_oversamples: 10,
                n_iter: 4,
                seed: 9,
                normalizer: how,
            };
            let mut res = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            res.flip_signs();
            check_factorization(&res, &a, &exact, 1e-7);
        }
    }

    #[test]
    fn lu_normalize_reconstructs() {
        // Y = Q U with Q = P L: the basis spans Y's columns and has a unit entry per column
        let (m, l) = (50, 6);
        let y0 = gaussian_rows(4, m, l);
        let mut q = y0.clone();
        assert!(lu_normalize(&mut q, m, l));
        let ym = MatRef::from_row_major_slice(&y0, m, l).to_owned();
        let u = ym.partial_piv_lu().U().to_owned();
        for r in 0..m {
            for c in 0..l {
                let x: f64 = (0..l).map(|i| q[r * l + i] * u[(i, c)]).sum();
                assert!((x - y0[r * l + c]).abs() < 1e-12, "{r} {c}");
            }
        }
        assert!(q.iter().all(|v| v.abs() <= 1.0 + 1e-15));
    }

    #[test]
    fn extreme_magnitudes_are_rescaled() {
        let pool = thread_pool(2).unwrap();
        let (m, n) = (40usize, 30usize);
        let a = random_dense(m, n, 8, 0.9);
        let exact = exact_sv(&a, m, n);
        for factor in [1e300, 1e-300] {
            let big: Vec<f64> = a.iter().map(|v| v * factor).collect();
            let op = DenseOp::new(m, n, big.into()).unwrap();
            let p = RandomizedParams {
                n_components: 3,
                n_oversamples: 10,
                n_iter: 3,
                seed: 1,
                normalizer: Normalizer::Auto,
            };
            let r = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            let q = LanczosParams {
                n_components: 3,
                tol: 0.0,
                ncv: None,
                max_restarts: None,
                seed: 1,
            };
            let l = lanczos_svd(&op, &q, &pool, &NeverInterrupt).unwrap();
            for (i, ex) in exact.iter().take(3).enumerate() {
                let e = ex * factor;
                assert!((r.singular_values[i] - e).abs() < 1e-6 * e, "{factor} {i}");
                assert!((l.singular_values[i] - e).abs() < 1e-10 * e, "{factor} {i}");
            }
        }
    }

    #[test]
    fn reproducible_with_seed() {
        let pool = thread_pool(2).unwrap();
        let a = random_dense(30, 20, 4, 0.9);
        let op = DenseOp::new(30, 20, a.into()).unwrap();
        let p = RandomizedParams {
            n_components: 3,
            n_oversamples: 4,
            n_iter: 2,
            seed: 9,
            normalizer: Normalizer::Qr,
        };
        let r1 = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
        let r2 = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
        assert_eq!(r1.components, r2.components);
    }

    #[test]
    fn interrupt_is_honoured() {
        struct Always;
        impl Interrupt for Always {
            fn check(&self) -> Result<()> {
                Err(Error::Cancelled)
            }
        }
        let pool = thread_pool(1).unwrap();
        let a = random_dense(30, 20, 4, 0.9);
        let op = DenseOp::new(30, 20, a.into()).unwrap();
        let p = RandomizedParams {
            n_components: 3,
            n_oversamples: 4,
            n_iter: 2,
            seed: 9,
            normalizer: Normalizer::Qr,
        };
        assert_eq!(
            randomized_svd(&op, &p, &pool, &Always).unwrap_err(),
            Error::Cancelled
        );
    }
}
