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
        Ticker { intr, last: Instant::now() }
    }
    fn tick(&mut self) -> Result<()> {
        if self.last.elapsed() >= Duration::from_millis(50) {
            self.intr.check()?;
            self.last = Instant::now();
        }
        Ok(())
    }
}

/// Left/right factors of the operator the inner solvers see (column-major, `k` columns).
struct Factors {
    u: Mat<f64>,
    s: Vec<f64>,
    v: Mat<f64>,
    n_iter: usize,
    converged: bool,
}

fn finish(f: Factors, transposed: bool, k: usize, m: usize, n: usize) -> TruncatedSvd {
    let (u, v) = if transposed { (f.v, f.u) } else { (f.u, f.v) };
    let mut components = vec![0.0; k * n];
    for i in 0..k {
        for (dst, src) in components[i * n..(i + 1) * n].iter_mut().zip(v.col(i).iter()) {
            *dst = *src;
        }
    }
    let mut uu = vec![0.0; m * k];
    for i in 0..k {
        for (r, x) in u.col(i).iter().enumerate() {
            uu[r * k + i] = *x;
        }
    }
    TruncatedSvd {
        n_rows: m,
        n_cols: n,
        k,
        components,
        singular_values: f.s[..k].to_vec(),
        u: uu,
        n_iter: f.n_iter,
        converged: f.converged,
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

/// Row-major `(rows x cols)` standard normal matrix; rows are drawn in blocks of 1024 from
/// independent streams `(seed, block)`, so the result does not depend on the thread count.
fn gaussian_rows(seed: u64, rows: usize, cols: usize) -> Vec<f64> {
    const BLOCK: usize = 1024;
    let mut out = vec![0.0; rows * cols];
    out.par_chunks_mut(BLOCK * cols).enumerate().for_each(|(b, chunk)| {
        let mut rng = rng_stream(seed, b as u64);
        for x in chunk.iter_mut() {
            *x = rng.sample(StandardNormal);
        }
    });
    out
}

/// Replaces the row-major `(rows x cols)` block `y` (`rows >= cols`) by an orthonormal basis of
/// its column space (Householder QR, thin Q).
fn orthonormalize(y: &mut [f64], rows: usize, cols: usize) {
    let q = MatRef::from_row_major_slice(y, rows, cols).qr().compute_thin_Q();
    let mut dst = MatMut::from_row_major_slice_mut(y, rows, cols);
    dst.copy_from(q.as_ref());
}

/// Thin SVD of a tall row-major `(rows x cols)` block: `(U, s, V)` with `U` `rows x cols`.
fn tall_svd(z: &[f64], rows: usize, cols: usize) -> Result<(Mat<f64>, Vec<f64>, Mat<f64>)> {
    let zv = MatRef::from_row_major_slice(z, rows, cols);
    // QR first keeps the large factorization a cheap, parallel Householder QR.
    let qr = zv.qr();
    let r = qr.thin_R().to_owned();
    let svd = r
        .svd()
        .map_err(|e| Error::InvalidInput(format!("SVD did not converge: {e:?}")))?;
    let q = qr.compute_thin_Q();
    let mut u = Mat::<f64>::zeros(rows, cols);
    matmul(u.as_mut(), Accum::Replace, q.as_ref(), svd.U(), 1.0, Par::rayon(0));
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
        randomized_inner(op, params, pool, intr)?
    } else {
        randomized_inner(&Transposed(op), params, pool, intr)?
    };
    Ok(finish(f, m > n, k, m, n))
}

fn randomized_inner<L: LinOp>(
    op: &L,
    params: &RandomizedParams,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<Factors> {
    let (m, n, k) = (op.nrows(), op.ncols(), params.n_components);
    let l = (k + params.n_oversamples).min(m).max(k);
    let mut z = pool.install(|| gaussian_rows(params.seed, n, l));
    let mut y = vec![0.0; m * l];
    pool.install(|| op.matmul(&z, l, &mut y));
    intr.check()?;
    pool.install(|| orthonormalize(&mut y, m, l));
    for _ in 0..params.n_iter {
        pool.install(|| op.matmul_t(&y, l, &mut z));
        intr.check()?;
        pool.install(|| op.matmul(&z, l, &mut y));
        intr.check()?;
        pool.install(|| orthonormalize(&mut y, m, l));
    }
    pool.install(|| op.matmul_t(&y, l, &mut z));
    intr.check()?;
    let (uz, s, vz) = pool.install(|| tall_svd(&z, n, l))?;
    drop(z);
    // A^T Q = Uz S Vz^T  =>  A ≈ Q Q^T A = (Q Vz) S Uz^T.
    let q = MatRef::from_row_major_slice(&y, m, l);
    let mut u = Mat::<f64>::zeros(m, k);
    pool.install(|| {
        matmul(u.as_mut(), Accum::Replace, q, vz.as_ref().subcols(0, k), 1.0, Par::rayon(0))
    });
    let v = uz.as_ref().subcols(0, k).to_owned();
    intr.check()?;
    Ok(Factors { u, s, v, n_iter: params.n_iter, converged: true })
}

/// Truncated SVD by thick-restart Lanczos (Wu & Simon 2000) on the Gram matrix `G = A A^T` of
/// the smaller side, with full (DGKS) reorthogonalisation, followed by a Rayleigh–Ritz step:
/// the SVD of `A^T Y_k` gives the singular triplets, exactly as `scipy.sparse.linalg.svds`
/// post-processes ARPACK's eigenvectors (so singular values are accurate even where the
/// eigenvalues `σ²` lose relative precision).
///
/// Each cycle extends the basis to `ncv` vectors, computes the Ritz pairs `(θ_i, y_i)` of
/// `T = V^T G V`, and stops when `β |e_ncv^T y_i| <= max(tol², 64ε) max(θ_i, ε^{2/3} θ_1)` for the `k`
/// largest (ARPACK's test). Otherwise it keeps `k + (ncv - k) / 2` Ritz vectors plus the
/// residual direction (the "arrow" restart) and continues.
pub fn lanczos_svd<L: LinOp>(
    op: &L,
    params: &LanczosParams,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<TruncatedSvd> {
    let (m, n, k) = (op.nrows(), op.ncols(), params.n_components);
    check_shape(m, n, k)?;
    if !(params.tol >= 0.0 && params.tol.is_finite()) {
        return Err(Error::InvalidParameter("tol must be a non-negative number".into()));
    }
    let f = if m <= n {
        lanczos_inner(op, params, pool, intr)?
    } else {
        lanczos_inner(&Transposed(op), params, pool, intr)?
    };
    Ok(finish(f, m > n, k, m, n))
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Orthogonalises `w` against the first `j` columns of the column-major basis `basis` (`s` rows)
/// with classical Gram–Schmidt, repeated once when the norm drops by more than `1/√2` (DGKS).
/// Adds the coefficients into `h[..j]` and returns the final norm of `w`.
fn reorthogonalize(basis: &[f64], s: usize, j: usize, w: &mut [f64], h: &mut [f64]) -> f64 {
    let v = MatRef::from_column_major_slice(&basis[..s * j], s, j);
    let mut before = norm(w);
    let mut tmp = vec![0.0; j];
    for pass in 0..3 {
        {
            let wv = MatRef::from_column_major_slice(w, s, 1);
            let hv = MatMut::from_column_major_slice_mut(&mut tmp, j, 1);
            matmul(hv, Accum::Replace, v.transpose(), wv, 1.0, Par::rayon(0));
        }
        {
            let hv = MatRef::from_column_major_slice(&tmp, j, 1);
            let wv = MatMut::from_column_major_slice_mut(w, s, 1);
            matmul(wv, Accum::Add, v, hv, -1.0, Par::rayon(0));
        }
        for (a, b) in h.iter_mut().zip(&tmp) {
            *a += b;
        }
        let after = norm(w);
        if after > std::f64::consts::FRAC_1_SQRT_2 * before || pass == 2 {
            return after;
        }
        before = after;
    }
    norm(w)
}

fn lanczos_inner<L: LinOp>(
    op: &L,
    params: &LanczosParams,
    pool: &rayon::ThreadPool,
    intr: &dyn Interrupt,
) -> Result<Factors> {
    let (s, n, k) = (op.nrows(), op.ncols(), params.n_components);
    let ncv = params.ncv.unwrap_or((2 * k + 1).max(20)).clamp(k.min(s), s).max(1);
    let max_restarts = params.max_restarts.unwrap_or(10 * s).max(1);
    let eps = f64::EPSILON;
    // ARPACK's eps-level test stagnates at rounding level in thick restarts; 64 eps relative
    // residual still bounds the eigenvalue error by ~1e-14 relative.
    let tol_e = (params.tol * params.tol).max(64.0 * eps);
    let eps23 = eps.powf(2.0 / 3.0);
    let mut ticker = Ticker::new(intr);
    let mut rng = rng_stream(params.seed, 0);

    // basis: column-major s x (ncv + 1); t: projected Gram matrix ncv x ncv.
    let mut basis = vec![0.0; s * (ncv + 1)];
    let mut t = Mat::<f64>::zeros(ncv, ncv);
    let mut w = vec![0.0; s];
    let mut tmp = vec![0.0; n];
    let mut h = vec![0.0; ncv + 1];

    let random_unit = |rng: &mut crate::runtime::Rng, out: &mut [f64]| {
        for x in out.iter_mut() {
            *x = rng.sample(StandardNormal);
        }
    };
    {
        let v0 = &mut basis[..s];
        random_unit(&mut rng, v0);
        let nv = norm(v0);
        v0.iter_mut().for_each(|x| *x /= nv);
    }
    let mut j0 = 0usize;
    let mut scale = 0.0f64; // running estimate of ||G||
    let mut restarts = 0usize;
    let mut converged;
    let (theta, y) = loop {
        let mut beta = 0.0;
        for j in j0..ncv {
            // w = G v_j = A (A^T v_j)
            pool.install(|| {
                let vj = &basis[j * s..(j + 1) * s];
                op.matmul_t(vj, 1, &mut tmp);
                op.matmul(&tmp, 1, &mut w);
            });
            scale = scale.max(norm(&w));
            h[..=j].iter_mut().for_each(|x| *x = 0.0);
            beta = pool.install(|| reorthogonalize(&basis, s, j + 1, &mut w, &mut h));
            for i in 0..=j {
                t[(i, j)] = h[i];
                t[(j, i)] = h[i];
            }
            let breakdown = beta <= 1e3 * eps * scale || beta == 0.0;
            if breakdown {
                beta = 0.0;
                if j + 1 < s {
                    // invariant subspace found: continue with a random direction orthogonal
                    // to the basis (the coupling coefficient is 0).
                    let mut r = vec![0.0; s];
                    random_unit(&mut rng, &mut r);
                    let mut dummy = vec![0.0; j + 1];
                    let nr = pool.install(|| reorthogonalize(&basis, s, j + 1, &mut r, &mut dummy));
                    if nr > 0.0 {
                        r.iter_mut().for_each(|x| *x /= nr);
                    }
                    basis[(j + 1) * s..(j + 2) * s].copy_from_slice(&r);
                } else {
                    basis[(j + 1) * s..(j + 2) * s].iter_mut().for_each(|x| *x = 0.0);
                }
            } else {
                let dst = &mut basis[(j + 1) * s..(j + 2) * s];
                for (d, x) in dst.iter_mut().zip(&w) {
                    *d = x / beta;
                }
            }
            if j + 1 < ncv {
                t[(j, j + 1)] = beta;
                t[(j + 1, j)] = beta;
            }
            ticker.tick()?;
        }
        // Ritz pairs of T, largest first.
        let evd = t
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| Error::InvalidInput(format!("eigendecomposition failed: {e:?}")))?;
        let vals: Vec<f64> = evd.S().column_vector().iter().copied().collect();
        let order: Vec<usize> = (0..ncv).rev().collect();
        let theta: Vec<f64> = order.iter().map(|&i| vals[i]).collect();
        let yv = evd.U();
        let y = Mat::<f64>::from_fn(ncv, ncv, |r, c| yv[(r, order[c])]);
        let top = theta[0].abs().max(f64::MIN_POSITIVE);
        converged = (0..k).all(|i| {
            let res = (beta * y[(ncv - 1, i)]).abs();
            res <= tol_e * theta[i].abs().max(eps23 * top)
        });
        restarts += 1;
        if std::env::var_os("FT_DEBUG").is_some() {
            let nconv = (0..k).filter(|&i| (beta * y[(ncv - 1, i)]).abs() <= tol_e * theta[i].abs().max(eps23 * top)).count();
            let worst = (0..k).map(|i| (beta * y[(ncv - 1, i)]).abs() / theta[i].abs()).fold(0.0f64, f64::max);
            eprintln!("restart {restarts} beta {beta:.3e} nconv {nconv} worst {worst:.3e} th0 {:.6e} thk {:.6e}", theta[0], theta[k-1]);
        }
        if converged || ncv >= s || restarts >= max_restarts {
            break (theta, y);
        }
        intr.check()?;
        // thick restart: keep kk Ritz vectors and the residual direction v_ncv.
        let kk = (k + (ncv - k) / 2).clamp(k, ncv - 1);
        let mut kept = Mat::<f64>::zeros(s, kk);
        pool.install(|| {
            let v = MatRef::from_column_major_slice(&basis[..s * ncv], s, ncv);
            matmul(kept.as_mut(), Accum::Replace, v, y.as_ref().subcols(0, kk), 1.0, Par::rayon(0));
        });
        basis.copy_within(ncv * s..(ncv + 1) * s, kk * s);
        for c in 0..kk {
            basis[c * s..(c + 1) * s].copy_from_slice(kept.col_as_slice(c));
        }
        t.fill(0.0);
        for i in 0..kk {
            t[(i, i)] = theta[i];
            t[(i, kk)] = beta * y[(ncv - 1, i)];
            t[(kk, i)] = beta * y[(ncv - 1, i)];
        }
        j0 = kk;
    };
    let _ = theta;
    // Rayleigh–Ritz: Y_k (s x k) Ritz vectors, then SVD of A^T Y_k = Uz S Vz^T.
    let mut yk = vec![0.0; s * k];
    pool.install(|| {
        let v = MatRef::from_column_major_slice(&basis[..s * ncv], s, ncv);
        let dst = MatMut::from_row_major_slice_mut(&mut yk, s, k);
        matmul(dst, Accum::Replace, v, y.as_ref().subcols(0, k), 1.0, Par::rayon(0));
    });
    drop(basis);
    // Orthonormalise the Ritz vectors (scipy does the same after ARPACK; see scipy gh-16712).
    pool.install(|| orthonormalize(&mut yk, s, k));
    let mut z = vec![0.0; n * k];
    pool.install(|| op.matmul_t(&yk, k, &mut z));
    intr.check()?;
    let (uz, sv, vz) = pool.install(|| tall_svd(&z, n, k))?;
    let ykm = MatRef::from_row_major_slice(&yk, s, k);
    let mut u = Mat::<f64>::zeros(s, k);
    pool.install(|| matmul(u.as_mut(), Accum::Replace, ykm, vz.as_ref(), 1.0, Par::rayon(0)));
    Ok(Factors { u, s: sv, v: uz, n_iter: restarts, converged })
}

/// `out = X @ W^T` for a CSR `X` and a row-major `w` of shape `(k x ncols)` (e.g.
/// `components_`): the projection used by `transform`. Returns row-major `(nrows x k)`.
pub fn project<M: CsrLike>(a: &M, w: &[f64], k: usize, pool: &rayon::ThreadPool) -> Result<Vec<f64>> {
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
    pool.install(|| csr_matmul(a, &wt, k, &mut out));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::sparse::{CsrRef, DenseOp, SparseOp};
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
        let (u, s, v) = tall_svd(&z, 3, 2).unwrap();
        assert!((s[0] - 3.0).abs() < 1e-14 && (s[1] - 2.0).abs() < 1e-14);
        // reconstruct
        for r in 0..3 {
            for c in 0..2 {
                let x: f64 = (0..2).map(|i| u[(r, i)] * s[i] * v[(c, i)]).sum();
                assert!((x - z[r * 2 + c]).abs() < 1e-13);
            }
        }
    }

    fn check_factorization(res: &TruncatedSvd, a: &[f64], exact: &[f64], tol: f64) {
        let (m, n, k) = (res.n_rows, res.n_cols, res.k);
        for i in 0..k {
            let rel = (res.singular_values[i] - exact[i]).abs() / exact[i];
            assert!(rel < tol, "sv {i}: {} vs {} ({rel})", res.singular_values[i], exact[i]);
            // A v_i = s_i u_i
            for r in 0..m {
                let av: f64 = (0..n).map(|c| a[r * n + c] * res.components[i * n + c]).sum();
                assert!((av - res.singular_values[i] * res.u[r * k + i]).abs() < 1e-6 * exact[0]);
            }
            // sign convention
            let row = &res.components[i * n..(i + 1) * n];
            let big = row.iter().fold(0.0f64, |acc, x| if x.abs() > acc.abs() { *x } else { acc });
            assert!(big > 0.0);
        }
        // orthonormal components
        for a_ in 0..k {
            for b in 0..k {
                let d: f64 = (0..n).map(|c| res.components[a_ * n + c] * res.components[b * n + c]).sum();
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
                let p = LanczosParams { n_components: k, tol: 0.0, ncv: None, max_restarts: None, seed: 5 };
                let mut res = lanczos_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
                assert!(res.converged);
                res.flip_signs();
                check_factorization(&res, &a, &exact, 1e-10);
            }
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
                let v = if r < 3 { 5.0 } else if r < 5 { 4.0 } else { 3.0 / (1.0 + r as f64 * 0.01) };
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
        let p = LanczosParams { n_components: 6, tol: 0.0, ncv: None, max_restarts: None, seed: 1 };
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
            let p = RandomizedParams { n_components: 5, n_oversamples: 10, n_iter: 5, seed: 9 };
            let mut res = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            res.flip_signs();
            check_factorization(&res, &a, &exact, 1e-8);
            // k + p >= min(shape): exact
            let p = RandomizedParams { n_components: 45, n_oversamples: 10, n_iter: 0, seed: 9 };
            let res = randomized_svd(&op, &p, &pool, &NeverInterrupt).unwrap();
            for i in 0..45 {
                assert!((res.singular_values[i] - exact[i]).abs() < 1e-10 * exact[0]);
            }
        }
    }

    #[test]
    fn reproducible_with_seed() {
        let pool = thread_pool(2).unwrap();
        let a = random_dense(30, 20, 4, 0.9);
        let op = DenseOp::new(30, 20, a.into()).unwrap();
        let p = RandomizedParams { n_components: 3, n_oversamples: 4, n_iter: 2, seed: 9 };
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
        let p = RandomizedParams { n_components: 3, n_oversamples: 4, n_iter: 2, seed: 9 };
        assert_eq!(randomized_svd(&op, &p, &pool, &Always).unwrap_err(), Error::Cancelled);
    }
}
