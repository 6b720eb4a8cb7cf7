//! Probabilistic latent semantic analysis (Hofmann 1999) fitted by EM over the nonzeros.
//!
//! Model: `P(w|d) = sum_z P(z|d) P(w|z)`; objective the log-likelihood
//! `L = sum_{d,w} n(d,w) log P(w|d)` (the `P(d)` factor of the joint model is a constant).
//! E-step: `P(z|d,w) ∝ P(z|d) P(w|z)`; M-step from the expected counts `n(d,w) P(z|d,w)`:
//! `P(w|z) ∝ sum_d n(d,w) P(z|d,w)`, `P(z|d) = sum_w n(d,w) P(z|d,w) / n(d)`.
//! Each iteration is an ECM step (Meng & Rubin 1993), exactly like the alternating
//! multiplicative updates of KL-NMF: first the EM update of every `P(z|d)` with `P(w|z)` fixed,
//! then the EM update of `P(w|z)` with the new `P(z|d)`. Both halves are EM steps of a
//! restricted problem, so the log-likelihood still never decreases, and it climbs faster per
//! sweep than the simultaneous update. Both halves run in the same sweep, document by document.
//! The posterior is never stored: for each nonzero we form `s = sum_z P(z|d)P(w|z)` and add
//! `n/s * P(w|z)` to a per-document accumulator and `n/s * P(z|d)` to a per-thread word-topic
//! accumulator; the factors `P(z|d)` resp. `P(w|z)` are multiplied back once per row. This is the
//! same computation as the multiplicative update of KL-NMF (Gaussier & Goutte 2005), done in one
//! sweep. EM never decreases `L` (Dempster, Laird & Rubin 1977).

#[cfg(target_arch = "x86_64")]
use super::lanes::Avx2;
use super::lanes::{padded, Portable, Simd};
use super::{
    axpy, blocks, chunks, dot, prefetch, split_parts, Count, CsrIndex, CsrView, CHUNK_BUDGET,
};

/// How many nonzeros ahead the sweep prefetches rows of P(w|z) and of the accumulator.
const PREFETCH: usize = 8;
use crate::error::{Error, Result};
use crate::runtime::{rng_stream, thread_pool, Interrupt};
use ndarray::{Array2, ArrayView2};
use rand::Rng as _;
use rayon::prelude::*;

/// Parameters of [`fit`].
#[derive(Clone, Debug)]
pub struct PlsaParams {
    /// Number of topics K (>= 1).
    pub n_components: usize,
    /// Maximum number of EM iterations.
    pub max_iter: usize,
    /// Stop when `|L_t - L_{t-1}| <= tol * |L_{t-1}|`.
    pub tol: f64,
    /// Seed of the random initialisation.
    pub seed: u64,
    /// Worker threads.
    pub n_threads: usize,
}

impl PlsaParams {
    /// Checks ranges against the data shape.
    pub fn validate(&self, n_words: usize) -> Result<()> {
        if self.n_components < 1 {
            return Err(Error::InvalidParameter(
                "n_components must be at least 1".into(),
            ));
        }
        if self.n_components > n_words {
            return Err(Error::InvalidParameter(format!(
                "n_components={} is larger than the number of features ({n_words})",
                self.n_components
            )));
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return Err(Error::InvalidParameter("tol must be >= 0".into()));
        }
        Ok(())
    }
}

/// Result of [`fit`].
#[derive(Clone, Debug)]
pub struct PlsaFit {
    /// `P(z|d)`, shape (D, K), rows sum to 1.
    pub doc_topic: Array2<f64>,
    /// `P(w|z)`, shape (K, W), rows sum to 1.
    pub topic_word: Array2<f64>,
    /// `loglik[i]` is the log-likelihood after `i` EM updates (length `n_iter + 1`).
    pub loglik: Vec<f64>,
    /// EM updates done.
    pub n_iter: usize,
    /// Whether the relative change fell below `tol`.
    pub converged: bool,
}

/// Per-call state shared by the sweeps. Rows of `theta` (D x kp) and `phit` (W x kp) are
/// padded with zeros from K to `kp` (a multiple of four); the zeros stay zero under the
/// multiplicative updates, so they never change a sum.
struct Sweep<'a, I, T> {
    x: &'a CsrView<'a, I, T>,
    kp: usize,
    chunks: Vec<(usize, usize)>,
    n_threads: usize,
}

/// Per-thread scratch of the sweep: one document's words, counts and per-word ratios.
#[derive(Default)]
struct DocBuf {
    words: Vec<usize>,
    cnt: Vec<f64>,
    ratio: Vec<f64>,
}

impl<I: CsrIndex, T: Count> Sweep<'_, I, T> {
    /// One pass over all documents. Returns `L(theta, phi)` at the values on entry. When `acc`
    /// is given, `theta` receives its M-step update in place and `acc[t]` (W x kp) the
    /// word-topic expected counts divided by `P(w|z)`.
    fn pass(
        &self,
        pool: &rayon::ThreadPool,
        theta: &mut [f64],
        phit: &[f64],
        mut acc: Option<&mut [Vec<f64>]>,
        interrupt: &dyn Interrupt,
    ) -> Result<f64> {
        let kp = self.kp;
        let mut ll = 0.0;
        for &(lo, hi) in &self.chunks {
            let bl = blocks(self.x, lo, hi, self.n_threads);
            let mut rest = &mut theta[lo * kp..hi * kp];
            let mut tasks = Vec::with_capacity(bl.len());
            let mut acc_iter = acc.as_deref_mut().map(|a| a.iter_mut());
            for &(a, b) in &bl {
                let (head, tail) = rest.split_at_mut((b - a) * kp);
                rest = tail;
                let ac = acc_iter.as_mut().and_then(|it| it.next());
                tasks.push((a, b, head, ac));
            }
            let parts: Vec<f64> = pool.install(|| {
                tasks
                    .into_par_iter()
                    .map(|(a, b, th, ac)| self.block(a, b, th, phit, ac.map(|v| v.as_mut_slice())))
                    .collect()
            });
            ll += parts.iter().sum::<f64>();
            interrupt.check()?;
        }
        Ok(ll)
    }

    /// Runs [`Self::block_lanes`] with AVX2 + FMA when the CPU has them, else the portable
    /// build; for K <= 32 the number of vectors per row is a compile-time constant, so a
    /// document's P(z|d) and its accumulator stay in registers.
    fn block(
        &self,
        a: usize,
        b: usize,
        theta: &mut [f64],
        phit: &[f64],
        acc: Option<&mut [f64]>,
    ) -> f64 {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX2 and FMA, checked on the line above.
                return unsafe { self.block_avx2(a, b, theta, phit, acc) };
            }
        }
        self.block_dispatch::<Portable>(a, b, theta, phit, acc)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_avx2(
        &self,
        a: usize,
        b: usize,
        theta: &mut [f64],
        phit: &[f64],
        acc: Option<&mut [f64]>,
    ) -> f64 {
        self.block_dispatch::<Avx2>(a, b, theta, phit, acc)
    }

    #[inline(always)]
    fn block_dispatch<S: Simd>(
        &self,
        a: usize,
        b: usize,
        theta: &mut [f64],
        phit: &[f64],
        acc: Option<&mut [f64]>,
    ) -> f64 {
        match self.kp / 4 {
            1 => self.block_lanes::<S, 1>(a, b, theta, phit, acc),
            2 => self.block_lanes::<S, 2>(a, b, theta, phit, acc),
            3 => self.block_lanes::<S, 3>(a, b, theta, phit, acc),
            4 => self.block_lanes::<S, 4>(a, b, theta, phit, acc),
            5 => self.block_lanes::<S, 5>(a, b, theta, phit, acc),
            6 => self.block_lanes::<S, 6>(a, b, theta, phit, acc),
            7 => self.block_lanes::<S, 7>(a, b, theta, phit, acc),
            8 => self.block_lanes::<S, 8>(a, b, theta, phit, acc),
            _ => self.block_lanes::<S, 0>(a, b, theta, phit, acc),
        }
    }

    /// The fused ECM sweep over documents `a..b` with `C` vectors per row (`C = 0`: `kp / 4`,
    /// known only at run time). Per document:
    /// 1. `s_j = <theta_d, phi_wj>` four words at a time (one transposed horizontal sum for
    ///    four dot products), then `r_j = n_j / s_j` and `L += n_j ln s_j` as vector loops;
    /// 2. `tacc = sum_j r_j phi_wj`, `theta_d <- theta_d * tacc / <theta_d, tacc>`;
    /// 3. with the new `theta_d`: `s_j`, `r_j` again and `acc[w_j] += r_j theta_d`.
    ///
    /// The document's rows of `phi` come from memory once and from the L1 cache after.
    #[inline(always)]
    fn block_lanes<S: Simd, const C: usize>(
        &self,
        a: usize,
        b: usize,
        theta: &mut [f64],
        phit: &[f64],
        mut acc: Option<&mut [f64]>,
    ) -> f64 {
        let kp = self.kp;
        let nc = if C > 0 { C } else { kp / 4 };
        let w4 = 4 * nc;
        let mut buf = DocBuf::default();
        let mut tacc = vec![0.0; w4];
        let mut ll = 0.0;
        for d in a..b {
            let th = &mut theta[(d - a) * kp..][..w4];
            let (p0, p1) = self.x.row_range(d);
            if p0 == p1 {
                continue;
            }
            // A zero count (explicit zero) adds nothing anywhere: 0 / s = 0 and 0 ln s = 0.
            buf.words.clear();
            buf.cnt.clear();
            for p in p0..p1 {
                let (w, n) = self.x.entry(p);
                buf.words.push(w);
                buf.cnt.push(n);
            }
            // Zero counts pad the document to whole vectors.
            buf.cnt.resize(buf.words.len().div_ceil(4) * 4, 0.0);
            // The rows are random accesses into W x K matrices that do not fit in cache: start
            // loading those PREFETCH nonzeros ahead (into the next document at the end).
            let pf = (self.x, p0, phit);
            ll += ratios::<S, I, T>(
                &buf.words,
                &buf.cnt,
                &mut buf.ratio,
                th,
                phit,
                kp,
                nc,
                true,
                pf,
            );
            let Some(ac) = acc.as_deref_mut() else {
                // Evaluation only: the log-likelihood of the current parameters.
                continue;
            };
            // tacc = sum_j r_j phi_wj (registers when C > 0).
            let mut tv = [S::splat(0.0); 16];
            let tv = &mut tv[..nc.min(16)];
            if nc <= 16 {
                for (w, r) in buf.words.iter().zip(&buf.ratio) {
                    let row = &phit[w * kp..][..w4];
                    let rv = S::splat(*r);
                    for (c, t) in tv.iter_mut().enumerate() {
                        *t = S::fmadd(S::load(row, 4 * c), rv, *t);
                    }
                }
                for (c, t) in tv.iter().enumerate() {
                    S::store(&mut tacc, 4 * c, *t);
                }
            } else {
                tacc.fill(0.0);
                for (w, r) in buf.words.iter().zip(&buf.ratio) {
                    let row = &phit[w * kp..][..w4];
                    let rv = S::splat(*r);
                    for c in 0..nc {
                        let t = S::fmadd(S::load(row, 4 * c), rv, S::load(&tacc, 4 * c));
                        S::store(&mut tacc, 4 * c, t);
                    }
                }
            }
            let z = S::hsum(dot_v::<S>(th, &tacc, nc));
            if !(z > 0.0 && z.is_finite()) {
                continue;
            }
            let inv = S::splat(1.0 / z);
            for c in 0..nc {
                let t = S::mul(S::load(th, 4 * c), S::load(&tacc, 4 * c));
                S::store(th, 4 * c, S::mul(t, inv));
            }
            // Second half of the ECM step: the word-topic statistics use the document's new
            // P(z|d). The rows of P(w|z) were just read, so this costs cache hits only.
            let pf = (self.x, p0, &*ac);
            ratios::<S, I, T>(
                &buf.words,
                &buf.cnt,
                &mut buf.ratio,
                th,
                phit,
                kp,
                nc,
                false,
                pf,
            );
            for (w, r) in buf.words.iter().zip(&buf.ratio) {
                let row = &mut ac[w * kp..][..w4];
                let rv = S::splat(*r);
                for c in 0..nc {
                    let t = S::fmadd(S::load(th, 4 * c), rv, S::load(row, 4 * c));
                    S::store(row, 4 * c, t);
                }
            }
        }
        ll
    }
}

/// `sum_c a[c] * b[c]` over `nc` vectors (one vector of partial sums).
#[inline(always)]
fn dot_v<S: Simd>(a: &[f64], b: &[f64], nc: usize) -> S::V {
    let mut s = S::splat(0.0);
    for c in 0..nc {
        s = S::fmadd(S::load(a, 4 * c), S::load(b, 4 * c), s);
    }
    s
}

/// Prefetches the cache lines of `s[i..i + len]` (a hint; nothing when out of range).
#[inline(always)]
fn prefetch_row(s: &[f64], i: usize, len: usize) {
    if let Some(row) = s.get(i..i + len) {
        prefetch(row, 0, len);
        prefetch(row, len - 1, 1);
    }
}

/// `ratio_j = n_j / <th, phi_wj>` (0 where the dot product is 0) for a document's words
/// (`cnt` is zero-padded to whole vectors); when `want_ll`, returns `sum_j n_j ln <th, phi_wj>`
/// over the words with a positive product.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn ratios<S: Simd, I: CsrIndex, T: Count>(
    words: &[usize],
    cnt: &[f64],
    ratio: &mut Vec<f64>,
    th: &[f64],
    phit: &[f64],
    kp: usize,
    nc: usize,
    want_ll: bool,
    prefetch_target: (&CsrView<'_, I, T>, usize, &[f64]),
) -> f64 {
    let (x, p0, target) = prefetch_target;
    let w4 = 4 * nc;
    let n = words.len();
    ratio.clear();
    ratio.resize(cnt.len(), 0.0);
    let mut j = 0;
    while j + 4 <= n {
        // The rows are random accesses into W x K matrices that do not fit in cache: start
        // loading those PREFETCH nonzeros ahead (into the next document at the end).
        for q in j..j + 4 {
            if let Some(w2) = x.col_at(p0 + q + PREFETCH) {
                prefetch_row(target, w2 * kp, w4);
            }
        }
        let r0 = &phit[words[j] * kp..][..w4];
        let r1 = &phit[words[j + 1] * kp..][..w4];
        let r2 = &phit[words[j + 2] * kp..][..w4];
        let r3 = &phit[words[j + 3] * kp..][..w4];
        let mut s = [S::splat(0.0); 4];
        for c in 0..nc {
            let t = S::load(th, 4 * c);
            s[0] = S::fmadd(t, S::load(r0, 4 * c), s[0]);
            s[1] = S::fmadd(t, S::load(r1, 4 * c), s[1]);
            s[2] = S::fmadd(t, S::load(r2, 4 * c), s[2]);
            s[3] = S::fmadd(t, S::load(r3, 4 * c), s[3]);
        }
        S::store(ratio, j, S::hsum4(s[0], s[1], s[2], s[3]));
        j += 4;
    }
    for (jj, w) in words.iter().enumerate().skip(j) {
        ratio[jj] = S::hsum(dot_v::<S>(th, &phit[w * kp..][..w4], nc));
    }
    let mut ll = S::splat(0.0);
    let mut i = 0;
    while i < ratio.len() {
        let (sv, nv) = (S::load(ratio, i), S::load(cnt, i));
        let r = if want_ll {
            let (r, l) = S::ratio_and_log(nv, sv);
            ll = add::<S>(ll, l);
            r
        } else {
            S::ratio(nv, sv)
        };
        S::store(ratio, i, r);
        i += 4;
    }
    S::hsum(ll)
}

#[inline(always)]
fn add<S: Simd>(a: S::V, b: S::V) -> S::V {
    S::fmadd(a, S::splat(1.0), b)
}

/// `th <- th * tacc / sum(th * tacc)`; unchanged when the document carried no usable mass.
#[inline]
fn update_row(th: &mut [f64], tacc: &[f64]) {
    let z = dot(th, tacc);
    if z > 0.0 && z.is_finite() {
        let inv = 1.0 / z;
        for (t, a) in th.iter_mut().zip(tacc) {
            *t *= a * inv;
        }
    }
}

fn transpose(m: &ArrayView2<'_, f64>) -> Vec<f64> {
    let (r, c) = m.dim();
    let mut out = vec![0.0; r * c];
    for ((i, j), v) in m.indexed_iter() {
        out[j * r + i] = *v;
    }
    out
}

fn normalise_rows(v: &mut [f64], width: usize) {
    for row in v.chunks_mut(width) {
        let s: f64 = row.iter().sum();
        if s > 0.0 && s.is_finite() {
            row.iter_mut().for_each(|x| *x /= s);
        } else {
            row.iter_mut().for_each(|x| *x = 1.0 / width as f64);
        }
    }
}

/// Fits pLSA by EM. `init` optionally gives the starting `(P(z|d), P(w|z))` (nonnegative; rows
/// are renormalised), otherwise both are drawn uniformly from the seed and normalised.
pub fn fit<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    params: &PlsaParams,
    init: Option<(ArrayView2<'_, f64>, ArrayView2<'_, f64>)>,
    interrupt: &dyn Interrupt,
) -> Result<PlsaFit> {
    let (nd, nw, k) = (x.n_rows(), x.n_cols(), params.n_components);
    params.validate(nw)?;
    if nd == 0 || x.is_all_zero() {
        return Err(Error::InvalidInput(
            "the count matrix has no nonzero entry: nothing to fit".into(),
        ));
    }
    let pool = thread_pool(params.n_threads)?;
    let n_threads = pool.current_num_threads();

    let (mut theta, mut phit) = match init {
        Some((t0, p0)) => {
            if t0.dim() != (nd, k) || p0.dim() != (k, nw) {
                return Err(Error::ShapeMismatch(format!(
                    "initial values must have shapes ({nd}, {k}) and ({k}, {nw})"
                )));
            }
            if t0
                .iter()
                .chain(p0.iter())
                .any(|v| !(v.is_finite() && *v >= 0.0))
            {
                return Err(Error::InvalidInput(
                    "initial values must be finite and nonnegative".into(),
                ));
            }
            (t0.iter().copied().collect::<Vec<f64>>(), transpose(&p0))
        }
        None => {
            let mut rng = rng_stream(params.seed, 0);
            let phi: Vec<f64> = (0..k * nw).map(|_| rng.random::<f64>() + 1e-3).collect();
            let theta: Vec<f64> = (0..nd * k).map(|_| rng.random::<f64>() + 1e-3).collect();
            let phi = Array2::from_shape_vec((k, nw), phi)
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            (theta, transpose(&phi.view()))
        }
    };
    normalise_rows(&mut theta, k);
    normalise_topics(&mut phit, k);
    for d in 0..nd {
        if x.row(d).all(|(_, n)| n == 0.0) {
            theta[d * k..(d + 1) * k].fill(1.0 / k as f64);
        }
    }

    // Pad the rows to whole lanes (zeros, which the updates keep at zero).
    let kp = padded(k);
    let theta = pad_rows(&theta, k, kp);
    let mut phit = pad_rows(&phit, k, kp);
    let mut theta = theta;
    let sweep = Sweep {
        x,
        kp,
        chunks: chunks(x, kp, CHUNK_BUDGET * n_threads),
        n_threads,
    };
    let mut acc = vec![vec![0.0; nw * kp]; n_threads];
    let mut loglik = Vec::new();
    let mut n_iter = 0;
    let mut converged = false;
    while n_iter < params.max_iter {
        let ll = sweep.pass(&pool, &mut theta, &phit, Some(&mut acc), interrupt)?;
        m_step(&pool, &mut phit, &mut acc, k, kp);
        loglik.push(ll);
        n_iter += 1;
        if relative_change_below(&loglik, params.tol) {
            converged = true;
            break;
        }
    }
    let ll = sweep.pass(&pool, &mut theta, &phit, None, interrupt)?;
    loglik.push(ll);
    converged = converged || relative_change_below(&loglik, params.tol);

    let doc_topic = Array2::from_shape_fn((nd, k), |(d, z)| theta[d * kp + z]);
    let topic_word = Array2::from_shape_fn((k, nw), |(z, w)| phit[w * kp + z]);
    Ok(PlsaFit {
        doc_topic,
        topic_word,
        loglik,
        n_iter,
        converged,
    })
}

/// Copies rows of width `k` into rows of width `kp >= k`, zero-padded.
fn pad_rows(v: &[f64], k: usize, kp: usize) -> Vec<f64> {
    if k == kp {
        return v.to_vec();
    }
    let mut out = vec![0.0; v.len() / k * kp];
    for (o, r) in out.chunks_exact_mut(kp).zip(v.chunks_exact(k)) {
        o[..k].copy_from_slice(r);
    }
    out
}

/// M-step for P(w|z), in parallel over blocks of words: `phi[w,z] *= sum_t acc_t[w,z]`
/// (the accumulators are cleared on the way), then each topic (column) is normalised to sum
/// to 1; a topic without mass becomes uniform. Partial column sums are added in block order,
/// so the result does not depend on scheduling.
fn m_step(pool: &rayon::ThreadPool, phit: &mut [f64], acc: &mut [Vec<f64>], k: usize, kp: usize) {
    let nw = phit.len() / kp;
    let rows = nw.div_ceil(pool.current_num_threads() * 4).max(1);
    let mut sizes = Vec::new();
    let mut left = nw * kp;
    while left > 0 {
        let s = (rows * kp).min(left);
        sizes.push(s);
        left -= s;
    }
    let mut acc_parts: Vec<Vec<&mut [f64]>> = (0..sizes.len()).map(|_| Vec::new()).collect();
    for a in acc.iter_mut() {
        for (i, part) in split_parts(a, &sizes).into_iter().enumerate() {
            acc_parts[i].push(part);
        }
    }
    let tasks: Vec<_> = split_parts(phit, &sizes)
        .into_iter()
        .zip(acc_parts)
        .collect();
    let partial: Vec<Vec<f64>> = pool.install(|| {
        tasks
            .into_par_iter()
            .map(|(ph, mut accs)| {
                let mut sums = vec![0.0; kp];
                // Straight vectorisable loops: fold the other threads' sums into the first.
                if let Some((first, others)) = accs.split_first_mut() {
                    for o in others.iter_mut() {
                        for (f, v) in first.iter_mut().zip(o.iter_mut()) {
                            *f += *v;
                            *v = 0.0;
                        }
                    }
                    for (p, f) in ph.iter_mut().zip(first.iter_mut()) {
                        *p *= *f;
                        *f = 0.0;
                    }
                }
                for row in ph.chunks_exact(kp) {
                    axpy(&mut sums, 1.0, row);
                }
                sums
            })
            .collect()
    });
    let mut sums = vec![0.0; kp];
    for p in &partial {
        axpy(&mut sums, 1.0, p);
    }
    let scale: Vec<(f64, f64)> = (0..kp)
        .map(|z| {
            let s = sums[z];
            if z >= k {
                (0.0, 0.0)
            } else if s > 0.0 && s.is_finite() {
                (1.0 / s, 0.0)
            } else {
                (0.0, 1.0 / nw as f64)
            }
        })
        .collect();
    pool.install(|| {
        phit.par_chunks_mut(rows * kp).for_each(|part| {
            for row in part.chunks_exact_mut(kp) {
                for (v, (m, a)) in row.iter_mut().zip(&scale) {
                    *v = *v * m + a;
                }
            }
        })
    });
}

fn relative_change_below(ll: &[f64], tol: f64) -> bool {
    match ll {
        [.., a, b] => (b - a).abs() <= tol * a.abs(),
        _ => false,
    }
}

/// Normalises each topic (a column of the W x K matrix) to sum to 1; a topic without mass
/// becomes uniform.
fn normalise_topics(phit: &mut [f64], k: usize) {
    let mut sums = vec![0.0; k];
    for row in phit.chunks(k) {
        axpy(&mut sums, 1.0, row);
    }
    let nw = phit.len() / k.max(1);
    let inv: Vec<f64> = sums
        .iter()
        .map(|s| {
            if *s > 0.0 && s.is_finite() {
                1.0 / s
            } else {
                0.0
            }
        })
        .collect();
    for row in phit.chunks_mut(k) {
        for z in 0..k {
            row[z] = if inv[z] > 0.0 {
                row[z] * inv[z]
            } else {
                1.0 / nw as f64
            };
        }
    }
}

/// Result of [`fold_in`].
#[derive(Clone, Debug)]
pub struct FoldIn {
    /// `P(z|d)` of the new documents, (D, K); uniform for documents without known words.
    pub doc_topic: Array2<f64>,
    /// `sum n(d,w) log P(w|d)` over the words with `P(w|z) > 0` for some topic.
    pub loglik: f64,
    /// Number of tokens that entered `loglik` (unknown words are ignored).
    pub n_tokens: f64,
}

/// Folds new documents in: EM on `P(z|d)` only, `P(w|z)` (`topic_word`, K x W) held fixed.
/// Each document is independent (its log-likelihood is concave in `P(z|d)`) and iterates until
/// the largest change of its `P(z|d)` is below `tol` or `max_iter` sweeps.
pub fn fold_in<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    topic_word: ArrayView2<'_, f64>,
    max_iter: usize,
    tol: f64,
    n_threads: usize,
    interrupt: &dyn Interrupt,
) -> Result<FoldIn> {
    let (k, nw) = topic_word.dim();
    if nw != x.n_cols() {
        return Err(Error::ShapeMismatch(format!(
            "X has {} features, but the model was fitted with {nw} features",
            x.n_cols()
        )));
    }
    if k == 0 {
        return Err(Error::InvalidParameter("the model has no topic".into()));
    }
    if topic_word.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::InvalidInput(
            "components_ must be finite and nonnegative".into(),
        ));
    }
    let phit = transpose(&topic_word);
    let pool = thread_pool(n_threads)?;
    let n_threads = pool.current_num_threads();
    let nd = x.n_rows();
    let mut theta = vec![1.0 / k as f64; nd * k];
    let mut ll = 0.0;
    let mut n_tok = 0.0;
    let max_iter = max_iter.max(1);
    for (lo, hi) in chunks(x, k * max_iter.min(50), CHUNK_BUDGET * n_threads) {
        let bl = blocks(x, lo, hi, n_threads);
        let mut rest = &mut theta[lo * k..hi * k];
        let mut tasks = Vec::with_capacity(bl.len());
        for &(a, b) in &bl {
            let (head, tail) = rest.split_at_mut((b - a) * k);
            rest = tail;
            tasks.push((a, b, head));
        }
        let parts: Vec<(f64, f64)> = pool.install(|| {
            tasks
                .into_par_iter()
                .map(|(a, b, th)| fold_block(x, a, b, th, &phit, k, max_iter, tol))
                .collect()
        });
        for (l, n) in parts {
            ll += l;
            n_tok += n;
        }
        interrupt.check()?;
    }
    let doc_topic =
        Array2::from_shape_vec((nd, k), theta).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(FoldIn {
        doc_topic,
        loglik: ll,
        n_tokens: n_tok,
    })
}

#[allow(clippy::too_many_arguments)]
fn fold_block<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    a: usize,
    b: usize,
    theta: &mut [f64],
    phit: &[f64],
    k: usize,
    max_iter: usize,
    tol: f64,
) -> (f64, f64) {
    let mut tacc = vec![0.0; k];
    let mut old = vec![0.0; k];
    let mut row: Vec<(usize, f64)> = Vec::new();
    let (mut ll, mut n_tok) = (0.0, 0.0);
    for d in a..b {
        let th = &mut theta[(d - a) * k..(d - a + 1) * k];
        row.clear();
        // Keep only the words some topic can emit: the others are unknown to the model.
        row.extend(
            x.row(d)
                .filter(|&(w, n)| n > 0.0 && phit[w * k..(w + 1) * k].iter().any(|p| *p > 0.0)),
        );
        if row.is_empty() {
            continue;
        }
        for _ in 0..max_iter {
            tacc.fill(0.0);
            for &(w, n) in &row {
                let ph = &phit[w * k..(w + 1) * k];
                let s = dot(th, ph);
                if s > 0.0 {
                    axpy(&mut tacc, n / s, ph);
                }
            }
            old.copy_from_slice(th);
            update_row(th, &tacc);
            let delta = th
                .iter()
                .zip(&old)
                .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
            if delta <= tol {
                break;
            }
        }
        for &(w, n) in &row {
            let s = dot(th, &phit[w * k..(w + 1) * k]);
            if s > 0.0 {
                ll += n * s.ln();
                n_tok += n;
            }
        }
    }
    (ll, n_tok)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::runtime::NeverInterrupt;
    use ndarray::array;

    fn csr(dense: &[&[f64]]) -> (usize, usize, Vec<i64>, Vec<i64>, Vec<f64>) {
        let (mut ip, mut ix, mut v) = (vec![0i64], vec![], vec![]);
        for row in dense {
            for (j, x) in row.iter().enumerate() {
                if *x != 0.0 {
                    ix.push(j as i64);
                    v.push(*x);
                }
            }
            ip.push(ix.len() as i64);
        }
        (dense.len(), dense[0].len(), ip, ix, v)
    }

    /// One ECM step on a 2x2 matrix with K = 2, worked by hand:
    /// n = [[2, 0], [1, 1]], theta0 = [[.5,.5],[.5,.5]], phi0 = [[.75,.25],[.25,.75]] (z x w).
    /// L0 = 2 ln .5 + ln .5 + ln .5 = 4 ln .5 (every P(w|d) is .5).
    /// theta: doc 0: P(w0|d0) = .5, tacc = 2/.5 (.75, .25) = (3, 1) -> (.75, .25);
    ///        doc 1: tacc = 2 (.75, .25) + 2 (.25, .75) = (2, 2) -> (.5, .5).
    /// phi with the new theta: doc 0, w0: P = .75*.75 + .25*.25 = .625, adds 3.2 (.75, .25);
    ///        doc 1, w0 and w1: P = .5, each adds 2 (.5, .5).
    ///        acc[w0] = (3.4, 1.8), acc[w1] = (1, 1);
    ///        phi1 ∝ phi0 * acc: z0 = (2.55, .25) / 2.8, z1 = (.45, .75) / 1.2.
    #[test]
    fn one_em_step_by_hand() {
        let (nd, nw, ip, ix, v) = csr(&[&[2.0, 0.0], &[1.0, 1.0]]);
        let x = CsrView::new(nd, nw, &ip, &ix, &v).unwrap();
        let t0 = array![[0.5, 0.5], [0.5, 0.5]];
        let p0 = array![[0.75, 0.25], [0.25, 0.75]];
        let params = PlsaParams {
            n_components: 2,
            max_iter: 1,
            tol: 0.0,
            seed: 0,
            n_threads: 1,
        };
        let f = fit(&x, &params, Some((t0.view(), p0.view())), &NeverInterrupt).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(f.loglik[0], 4.0 * 0.5f64.ln()));
        let want_phi = [[2.55 / 2.8, 0.25 / 2.8], [0.45 / 1.2, 0.75 / 1.2]];
        let want_theta = [[0.75, 0.25], [0.5, 0.5]];
        for i in 0..2 {
            for j in 0..2 {
                assert!(
                    close(f.topic_word[[i, j]], want_phi[i][j]),
                    "{:?}",
                    f.topic_word
                );
                assert!(
                    close(f.doc_topic[[i, j]], want_theta[i][j]),
                    "{:?}",
                    f.doc_topic
                );
            }
        }
        // L1 recomputed from the updated parameters.
        let p = |d: usize, w: usize| {
            (0..2)
                .map(|z| want_theta[d][z] * want_phi[z][w])
                .sum::<f64>()
        };
        let l1 = 2.0 * p(0, 0).ln() + p(1, 0).ln() + p(1, 1).ln();
        assert!(close(f.loglik[1], l1));
        assert!(f.loglik[1] > f.loglik[0]);
    }

    fn random_counts(nd: usize, nw: usize, seed: u64) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        let mut rng = rng_stream(seed, 99);
        let (mut ip, mut ix, mut v) = (vec![0i64], vec![], vec![]);
        for _ in 0..nd {
            for w in 0..nw {
                if rng.random::<f64>() < 0.3 {
                    ix.push(w as i64);
                    v.push((rng.random::<f64>() * 5.0).floor() + 1.0);
                }
            }
            ip.push(ix.len() as i64);
        }
        (ip, ix, v)
    }

    #[test]
    fn loglik_never_decreases_and_threads_agree() {
        let (ip, ix, v) = random_counts(60, 40, 3);
        let x = CsrView::new(60, 40, &ip, &ix, &v).unwrap();
        let mut params = PlsaParams {
            n_components: 4,
            max_iter: 50,
            tol: 0.0,
            seed: 5,
            n_threads: 1,
        };
        let f = fit(&x, &params, None, &NeverInterrupt).unwrap();
        assert_eq!(f.loglik.len(), 51);
        for w in f.loglik.windows(2) {
            assert!(w[1] >= w[0] - 1e-9 * w[0].abs(), "{} then {}", w[0], w[1]);
        }
        for r in f.topic_word.rows() {
            assert!((r.sum() - 1.0).abs() < 1e-12);
        }
        params.n_threads = 3;
        let g = fit(&x, &params, None, &NeverInterrupt).unwrap();
        let diff = (&f.topic_word - &g.topic_word)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(diff < 1e-10);
    }

    #[test]
    fn fold_in_recovers_training_optimum_and_handles_empty_docs() {
        let (ip, ix, v) = random_counts(30, 20, 4);
        let x = CsrView::new(30, 20, &ip, &ix, &v).unwrap();
        let params = PlsaParams {
            n_components: 3,
            max_iter: 30,
            tol: 0.0,
            seed: 1,
            n_threads: 1,
        };
        let f = fit(&x, &params, None, &NeverInterrupt).unwrap();
        let g = fold_in(&x, f.topic_word.view(), 2000, 1e-12, 2, &NeverInterrupt).unwrap();
        // The fold-in maximises each document's likelihood exactly, so it can only improve on
        // the P(z|d) EM reached in 30 iterations.
        assert!(g.loglik >= f.loglik[30] - 1e-8);
        let ip2 = [0i64, 0, 1];
        let ix2 = [0i64];
        let v2 = [3.0f64];
        let y = CsrView::new(2, 20, &ip2, &ix2, &v2).unwrap();
        let h = fold_in(&y, f.topic_word.view(), 100, 1e-9, 1, &NeverInterrupt).unwrap();
        for z in 0..3 {
            assert!((h.doc_topic[[0, z]] - 1.0 / 3.0).abs() < 1e-15);
        }
        assert!(h.doc_topic.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (ip, ix, v) = random_counts(5, 4, 1);
        let x = CsrView::new(5, 4, &ip, &ix, &v).unwrap();
        let mut p = PlsaParams {
            n_components: 5,
            max_iter: 3,
            tol: 0.0,
            seed: 0,
            n_threads: 1,
        };
        assert!(fit(&x, &p, None, &NeverInterrupt).is_err());
        p.n_components = 0;
        assert!(fit(&x, &p, None, &NeverInterrupt).is_err());
        let z = [0.0f64; 3];
        let zi = [0i64, 1, 2];
        let zp = [0i64, 1, 2, 3];
        let x0 = CsrView::new(3, 4, &zp, &zi, &z).unwrap();
        p.n_components = 2;
        assert!(fit(&x0, &p, None, &NeverInterrupt).is_err());
    }
}
