//! Latent Dirichlet allocation by (online) variational Bayes, as scikit-learn does it.
//!
//! Hoffman, Blei & Bach (2010), "Online Learning for Latent Dirichlet Allocation"; the
//! per-document updates follow `sklearn.decomposition._lda._update_doc_distribution` step for
//! step. For document d with counts `n_j` of words `w_j`, starting from `gamma_d`
//! (Gamma(100, 1/100) draws when training, ones otherwise):
//!
//! ```text
//! repeat up to max_doc_update_iter times:
//!     phinorm_j = sum_k exp(E[log theta_dk]) exp(E[log beta_kw_j]) + eps
//!     gamma_dk  = alpha + exp(E[log theta_dk]) sum_j n_j exp(E[log beta_kw_j]) / phinorm_j
//!     stop when mean_k |gamma_dk - previous| < mean_change_tol
//! sstats_kw_j += exp(E[log theta_dk]) n_j / phinorm_j
//! ```
//!
//! and the M-step `lambda = eta + sstats * exp(E[log beta])` (batch) or
//! `lambda = (1 - rho) lambda + rho (eta + D / |batch| sstats * exp(E[log beta]))`,
//! `rho = (tau0 + t)^-kappa` (online). `E[log theta] = psi(gamma) - psi(sum gamma)`.
//! Documents run in parallel (one W x K sufficient-statistics accumulator per thread); the
//! random start of each document is drawn from its own stream (seed, document index), so a
//! result depends on the thread count only through the summation order of the accumulators.

use super::special::{digamma, exp_digamma_minus_fast, exp_dirichlet_expectation, ln_gamma};
use super::{
    axpy, blocks, chunks_in, dot, split_parts, transpose_buf, Count, CsrIndex, CsrView,
    CHUNK_BUDGET,
};
use crate::error::{Error, Result};
use crate::runtime::{rng_stream, thread_pool, Interrupt};
use ndarray::{Array2, ArrayView2};
use rand_distr::{Distribution, Gamma};
use rayon::prelude::*;

/// `np.finfo(float).eps`, added to the normaliser as scikit-learn does.
const EPS: f64 = f64::EPSILON;

/// Settings shared by the E-step and the updates.
#[derive(Clone, Debug)]
pub struct LdaParams {
    /// `alpha`, prior of the document-topic distributions.
    pub doc_topic_prior: f64,
    /// `eta`, prior of the topic-word distributions.
    pub topic_word_prior: f64,
    /// `kappa` of the online step size `rho = (tau0 + t)^-kappa`.
    pub learning_decay: f64,
    /// `tau0` of the online step size.
    pub learning_offset: f64,
    /// Documents per online mini-batch.
    pub batch_size: usize,
    /// Cap on the per-document fixed-point iterations.
    pub max_doc_update_iter: usize,
    /// Per-document stopping tolerance on the mean absolute change of `gamma`.
    pub mean_change_tol: f64,
    /// Worker threads.
    pub n_threads: usize,
}

impl LdaParams {
    /// Range checks (the Python layer checks them first, with scikit-learn's messages).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidParameter(m.into()));
        if !(self.doc_topic_prior > 0.0 && self.doc_topic_prior.is_finite()) {
            return bad("doc_topic_prior must be positive");
        }
        if !(self.topic_word_prior > 0.0 && self.topic_word_prior.is_finite()) {
            return bad("topic_word_prior must be positive");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be >= 1");
        }
        if self.mean_change_tol.is_nan() || self.mean_change_tol < 0.0 {
            return bad("mean_change_tol must be >= 0");
        }
        if !(self.learning_decay.is_finite() && self.learning_offset.is_finite()) {
            return bad("learning_decay and learning_offset must be finite");
        }
        Ok(())
    }
}

/// How an epoch updates the topics.
#[derive(Clone, Copy, Debug)]
pub enum Learning {
    /// One E-step over all documents, then `lambda = eta + sstats`.
    Batch,
    /// Mini-batches of `batch_size` documents in order, each followed by a step of size `rho`.
    Online {
        /// `D` of the update: the (estimated) number of documents in the whole corpus.
        total_samples: f64,
    },
}

/// Topics after an epoch.
#[derive(Clone, Debug)]
pub struct EpochOut {
    /// `lambda` (scikit-learn's `components_`), K x W.
    pub components: Array2<f64>,
    /// `exp(E[log beta])`, K x W.
    pub exp_dirichlet_component: Array2<f64>,
    /// Updates done so far (scikit-learn's `n_batch_iter_`).
    pub n_batch_iter: u64,
}

/// How to start `gamma` for each document.
#[derive(Clone, Copy)]
enum Init {
    Ones,
    Random(u64),
}

struct Ctx<'a, I, T> {
    x: &'a CsrView<'a, I, T>,
    k: usize,
    p: &'a LdaParams,
    pool: rayon::ThreadPool,
    n_threads: usize,
}

/// Per-thread scratch buffers. The document's rows of `exp(E[log beta])` are gathered
/// topic-major (`ebk[z * n + j]` for its j-th word), so that both halves of the fixed-point
/// step run over long contiguous vectors of the document's words:
/// `norm = sum_z exp_doc[z] * ebk[z]` (K axpys) and `acc[z] = <ebk[z], cnt / norm>` (K dots).
struct Scratch {
    ebk: Vec<f64>,
    words: Vec<usize>,
    cnt: Vec<f64>,
    norm: Vec<f64>,
    exp_doc: Vec<f64>,
    acc: Vec<f64>,
    last: Vec<f64>,
}

impl Scratch {
    fn new(k: usize) -> Self {
        Scratch {
            ebk: Vec::new(),
            words: Vec::new(),
            cnt: Vec::new(),
            norm: Vec::new(),
            exp_doc: vec![0.0; k],
            acc: vec![0.0; k],
            last: vec![0.0; k],
        }
    }

    /// `norm[j] <- cnt[j] / (sum_z exp_doc[z] ebk[z, j] + eps)`.
    #[inline(always)]
    fn ratios(&mut self) {
        let n = self.cnt.len();
        self.norm.clear();
        self.norm.resize(n, 0.0);
        for (z, e) in self.exp_doc.iter().enumerate() {
            axpy(&mut self.norm, *e, &self.ebk[z * n..(z + 1) * n]);
        }
        for (r, c) in self.norm.iter_mut().zip(&self.cnt) {
            *r = c / (*r + EPS);
        }
    }
}

impl<I: CsrIndex, T: Count> Ctx<'_, I, T> {
    /// E-step for documents `lo..hi`: writes `gamma` ((hi - lo) x K) and, when `acc` is given,
    /// adds the sufficient statistics (still to be multiplied by `exp(E[log beta])`) to it.
    #[allow(clippy::too_many_arguments)]
    fn e_step(
        &self,
        lo: usize,
        hi: usize,
        gamma: &mut [f64],
        eb_t: &[f64],
        mut acc: Option<&mut [Vec<f64>]>,
        init: Init,
        interrupt: &dyn Interrupt,
    ) -> Result<()> {
        let k = self.k;
        let dist = Gamma::new(100.0, 0.01).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let work = k * 2 * self.p.max_doc_update_iter.clamp(1, 30);
        for (clo, chi) in chunks_in(self.x, lo, hi, work, CHUNK_BUDGET * self.n_threads) {
            let bl = blocks(self.x, clo, chi, self.n_threads);
            let mut rest = &mut gamma[(clo - lo) * k..(chi - lo) * k];
            let mut tasks = Vec::with_capacity(bl.len());
            let mut acc_iter = acc.as_deref_mut().map(|a| a.iter_mut());
            for &(a, b) in &bl {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut((b - a) * k);
                rest = tail;
                let ac = acc_iter.as_mut().and_then(|it| it.next());
                tasks.push((a, b, head, ac));
            }
            self.pool.install(|| {
                tasks.into_par_iter().for_each(|(a, b, g, ac)| {
                    self.doc_block(a, b, g, eb_t, ac, init, &dist);
                })
            });
            interrupt.check()?;
        }
        Ok(())
    }

    /// Runs [`Self::doc_block_body`] compiled for AVX2 when the CPU has it (same arithmetic
    /// in the same order, so the same bits; only the vector width differs).
    #[allow(clippy::too_many_arguments)]
    fn doc_block(
        &self,
        a: usize,
        b: usize,
        gamma: &mut [f64],
        eb_t: &[f64],
        acc: Option<&mut Vec<f64>>,
        init: Init,
        dist: &Gamma<f64>,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked on the line above.
                return unsafe { self.doc_block_avx2(a, b, gamma, eb_t, acc, init, dist) };
            }
        }
        self.doc_block_body(a, b, gamma, eb_t, acc, init, dist)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn doc_block_avx2(
        &self,
        a: usize,
        b: usize,
        gamma: &mut [f64],
        eb_t: &[f64],
        acc: Option<&mut Vec<f64>>,
        init: Init,
        dist: &Gamma<f64>,
    ) {
        self.doc_block_body(a, b, gamma, eb_t, acc, init, dist)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn doc_block_body(
        &self,
        a: usize,
        b: usize,
        gamma: &mut [f64],
        eb_t: &[f64],
        mut acc: Option<&mut Vec<f64>>,
        init: Init,
        dist: &Gamma<f64>,
    ) {
        let k = self.k;
        let mut s = Scratch::new(k);
        for d in a..b {
            let g = &mut gamma[(d - a) * k..(d - a + 1) * k];
            match init {
                Init::Ones => g.fill(1.0),
                Init::Random(seed) => {
                    let mut rng = rng_stream(seed, d as u64);
                    g.iter_mut().for_each(|v| *v = dist.sample(&mut rng));
                }
            }
            self.doc_update(d, g, eb_t, &mut s);
            if let Some(ac) = acc.as_deref_mut() {
                s.ratios();
                for (w, r) in s.words.iter().zip(&s.norm) {
                    axpy(&mut ac[w * k..(w + 1) * k], *r, &s.exp_doc);
                }
            }
        }
    }

    /// The fixed-point loop of one document; leaves `exp(E[log theta_d])` in `s.exp_doc` and
    /// the document's words, counts and topic-major rows of `exp(E[log beta])` in `s`.
    #[inline(always)]
    fn doc_update(&self, d: usize, g: &mut [f64], eb_t: &[f64], s: &mut Scratch) {
        let k = self.k;
        let alpha = self.p.doc_topic_prior;
        s.words.clear();
        s.cnt.clear();
        for (w, n) in self.x.row(d) {
            s.words.push(w);
            s.cnt.push(n);
        }
        let n = s.words.len();
        s.ebk.clear();
        s.ebk.resize(n * k, 0.0);
        for (j, w) in s.words.iter().enumerate() {
            for (z, v) in eb_t[w * k..(w + 1) * k].iter().enumerate() {
                s.ebk[z * n + j] = *v;
            }
        }
        // exp(E[log theta]) of the start, without the prior (as scikit-learn).
        exp_dirichlet_expectation(g, &mut s.exp_doc);
        for _ in 0..self.p.max_doc_update_iter {
            s.last.copy_from_slice(g);
            s.ratios();
            for z in 0..k {
                s.acc[z] = dot(&s.ebk[z * n..(z + 1) * n], &s.norm);
            }
            for ((gv, ed), av) in g.iter_mut().zip(&s.exp_doc).zip(&s.acc) {
                *gv = ed * av + alpha;
            }
            exp_dirichlet_expectation(g, &mut s.exp_doc);
            let change: f64 = g
                .iter()
                .zip(&s.last)
                .map(|(p, q)| (p - q).abs())
                .sum::<f64>();
            if change / (k as f64) < self.p.mean_change_tol {
                break;
            }
        }
    }

    /// `eb_t[w, k] = exp(psi(lambda_t[w, k]) - psi(sum_w lambda_t[w, k]))`, in parallel.
    fn exp_elog(&self, lambda_t: &[f64], eb_t: &mut [f64]) {
        let k = self.k;
        let psi_tot = self.topic_digamma_sums(lambda_t);
        let rows = (lambda_t.len() / k).div_ceil(self.n_threads * 4).max(1);
        self.pool.install(|| {
            eb_t.par_chunks_mut(rows * k)
                .zip(lambda_t.par_chunks(rows * k))
                .for_each(|(e, l)| fill_exp_elog(e, l, &psi_tot))
        });
    }

    fn topic_digamma_sums(&self, lambda_t: &[f64]) -> Vec<f64> {
        let k = self.k;
        let mut sums = vec![0.0; k];
        for row in lambda_t.chunks(k) {
            axpy(&mut sums, 1.0, row);
        }
        sums.iter().map(|s| digamma(*s)).collect()
    }

    /// M-step: merges (and clears) the per-thread statistics into `lambda_t`, then refreshes
    /// `eb_t`. `step = None` is the batch update, `Some((rho, ratio))` the online one.
    fn m_step(
        &self,
        lambda_t: &mut [f64],
        eb_t: &mut [f64],
        acc: &mut [Vec<f64>],
        step: Option<(f64, f64)>,
    ) {
        let k = self.k;
        let eta = self.p.topic_word_prior;
        let n = lambda_t.len();
        let n_parts = self.n_threads * 4;
        let per = (n / k).div_ceil(n_parts).max(1) * k;
        let mut sizes = Vec::new();
        let mut left = n;
        while left > 0 {
            let s = per.min(left);
            sizes.push(s);
            left -= s;
        }
        let lam = split_parts(lambda_t, &sizes);
        let ebp = split_parts(eb_t, &sizes);
        let mut accp: Vec<Vec<&mut [f64]>> = (0..sizes.len()).map(|_| Vec::new()).collect();
        for a in acc.iter_mut() {
            for (p, sl) in split_parts(a, &sizes).into_iter().enumerate() {
                accp[p].push(sl);
            }
        }
        let tasks: Vec<_> = lam.into_iter().zip(ebp).zip(accp).collect();
        self.pool.install(|| {
            tasks.into_par_iter().for_each(|((l, e), mut accs)| {
                for i in 0..l.len() {
                    let mut s = 0.0;
                    for a in accs.iter_mut() {
                        s += a[i];
                        a[i] = 0.0;
                    }
                    let sst = s * e[i];
                    l[i] = match step {
                        None => eta + sst,
                        Some((rho, ratio)) => (1.0 - rho) * l[i] + rho * (eta + ratio * sst),
                    };
                }
            })
        });
        self.exp_elog(lambda_t, eb_t);
    }
}

/// `e[w, k] = exp(psi(l[w, k]) - psi_tot[k])` over rows of length K (AVX2 when available).
fn fill_exp_elog(e: &mut [f64], l: &[f64], psi_tot: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked on the line above.
            return unsafe { fill_exp_elog_avx2(e, l, psi_tot) };
        }
    }
    fill_exp_elog_body(e, l, psi_tot)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_exp_elog_avx2(e: &mut [f64], l: &[f64], psi_tot: &[f64]) {
    fill_exp_elog_body(e, l, psi_tot)
}

#[inline(always)]
fn fill_exp_elog_body(e: &mut [f64], l: &[f64], psi_tot: &[f64]) {
    let k = psi_tot.len();
    for (er, lr) in e.chunks_exact_mut(k).zip(l.chunks_exact(k)) {
        for ((o, v), c) in er.iter_mut().zip(lr).zip(psi_tot) {
            *o = exp_digamma_minus_fast(*v, *c);
        }
    }
}

fn check_lambda(lambda: &ArrayView2<'_, f64>, n_words: usize) -> Result<()> {
    let (k, w) = lambda.dim();
    if w != n_words {
        return Err(Error::ShapeMismatch(format!(
            "X has {n_words} features, but the model has {w}"
        )));
    }
    if k == 0 {
        return Err(Error::InvalidParameter("the model has no topic".into()));
    }
    if lambda.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(Error::InvalidInput(
            "components_ must be finite and positive".into(),
        ));
    }
    Ok(())
}

fn lambda_t_of(lambda: &ArrayView2<'_, f64>) -> Vec<f64> {
    let (k, w) = lambda.dim();
    let mut out = vec![0.0; k * w];
    for ((z, j), v) in lambda.indexed_iter() {
        out[j * k + z] = *v;
    }
    out
}

fn to_kw(t: &[f64], k: usize, w: usize) -> Result<Array2<f64>> {
    Array2::from_shape_vec((k, w), transpose_buf(t, w, k))
        .map_err(|e| Error::InvalidInput(e.to_string()))
}

/// One pass over the training documents (scikit-learn's loop body of `fit`, or all of
/// `partial_fit`): batch or online VB from `components` (`lambda`, K x W). `seed` drives the
/// random starts of the documents; `n_batch_iter` is the update counter `t` of `rho`.
pub fn epoch<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    components: ArrayView2<'_, f64>,
    n_batch_iter: u64,
    params: &LdaParams,
    learning: Learning,
    seed: u64,
    interrupt: &dyn Interrupt,
) -> Result<EpochOut> {
    params.validate()?;
    check_lambda(&components, x.n_cols())?;
    let (k, nw) = components.dim();
    let pool = thread_pool(params.n_threads)?;
    let n_threads = pool.current_num_threads();
    let ctx = Ctx {
        x,
        k,
        p: params,
        pool,
        n_threads,
    };
    let mut lambda_t = lambda_t_of(&components);
    let mut eb_t = vec![0.0; nw * k];
    ctx.exp_elog(&lambda_t, &mut eb_t);
    let mut acc = vec![vec![0.0; nw * k]; n_threads];
    let mut t = n_batch_iter;
    let nd = x.n_rows();
    let step_seed = |t: u64| seed ^ t.wrapping_mul(0xD1B5_4A32_D192_ED03);
    match learning {
        Learning::Batch => {
            let mut gamma = vec![0.0; nd * k];
            ctx.e_step(
                0,
                nd,
                &mut gamma,
                &eb_t,
                Some(&mut acc),
                Init::Random(step_seed(t)),
                interrupt,
            )?;
            ctx.m_step(&mut lambda_t, &mut eb_t, &mut acc, None);
            t += 1;
        }
        Learning::Online { total_samples } => {
            let bs = params.batch_size;
            let mut gamma = vec![0.0; bs.min(nd) * k];
            let mut lo = 0;
            while lo < nd {
                let hi = (lo + bs).min(nd);
                ctx.e_step(
                    lo,
                    hi,
                    &mut gamma[..(hi - lo) * k],
                    &eb_t,
                    Some(&mut acc),
                    Init::Random(step_seed(t)),
                    interrupt,
                )?;
                let rho = (params.learning_offset + t as f64).powf(-params.learning_decay);
                let ratio = total_samples / (hi - lo) as f64;
                ctx.m_step(&mut lambda_t, &mut eb_t, &mut acc, Some((rho, ratio)));
                t += 1;
                lo = hi;
                interrupt.check()?;
            }
        }
    }
    Ok(EpochOut {
        components: to_kw(&lambda_t, k, nw)?,
        exp_dirichlet_component: to_kw(&eb_t, k, nw)?,
        n_batch_iter: t,
    })
}

/// `exp(E[log beta])` of `components` (K x W), as scikit-learn's `exp_dirichlet_component_`.
pub fn exp_dirichlet_component(components: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    let (k, nw) = components.dim();
    let mut out = Array2::zeros((k, nw));
    for (z, row) in components.outer_iter().enumerate() {
        let pt = digamma(row.sum());
        for (j, v) in row.iter().enumerate() {
            out[[z, j]] = exp_digamma_minus_fast(*v, pt);
        }
    }
    Ok(out)
}

/// Unnormalised document-topic distributions `gamma` (D x K) of `x` with the topics fixed:
/// the E-step started from ones (scikit-learn's `_unnormalized_transform`).
pub fn transform<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    components: ArrayView2<'_, f64>,
    params: &LdaParams,
    interrupt: &dyn Interrupt,
) -> Result<Array2<f64>> {
    params.validate()?;
    check_lambda(&components, x.n_cols())?;
    let (k, nw) = components.dim();
    let pool = thread_pool(params.n_threads)?;
    let n_threads = pool.current_num_threads();
    let ctx = Ctx {
        x,
        k,
        p: params,
        pool,
        n_threads,
    };
    let lambda_t = lambda_t_of(&components);
    let mut eb_t = vec![0.0; nw * k];
    ctx.exp_elog(&lambda_t, &mut eb_t);
    let nd = x.n_rows();
    let mut gamma = vec![0.0; nd * k];
    ctx.e_step(0, nd, &mut gamma, &eb_t, None, Init::Ones, interrupt)?;
    Array2::from_shape_vec((nd, k), gamma).map_err(|e| Error::InvalidInput(e.to_string()))
}

/// scikit-learn's `_approx_bound`: the variational lower bound of the log-likelihood of `x`,
///
/// ```text
/// sum_dw n_dw log sum_k exp(E[log theta_dk] + E[log beta_kw])
///   + sum_d (E[log p(theta_d|alpha)] - E[log q(theta_d|gamma_d)])   (times `doc_ratio`)
///   + sum_k (E[log p(beta_k|eta)] - E[log q(beta_k|lambda_k)])
/// ```
///
/// with `doc_ratio = total_samples / D` when compensating for sub-sampling (else 1).
#[allow(clippy::too_many_arguments)]
pub fn approx_bound<I: CsrIndex, T: Count>(
    x: &CsrView<'_, I, T>,
    gamma: ArrayView2<'_, f64>,
    components: ArrayView2<'_, f64>,
    doc_topic_prior: f64,
    topic_word_prior: f64,
    doc_ratio: f64,
    n_threads: usize,
    interrupt: &dyn Interrupt,
) -> Result<f64> {
    check_lambda(&components, x.n_cols())?;
    let (k, nw) = components.dim();
    let nd = x.n_rows();
    if gamma.dim() != (nd, k) {
        return Err(Error::ShapeMismatch(format!(
            "doc_topic_distr has shape {:?}, expected ({nd}, {k})",
            gamma.dim()
        )));
    }
    if gamma.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(Error::InvalidInput(
            "doc_topic_distr must be finite and positive".into(),
        ));
    }
    let pool = thread_pool(n_threads)?;
    let n_threads = pool.current_num_threads();
    let (alpha, eta) = (doc_topic_prior, topic_word_prior);
    // E[log beta] (W x K) and its exponential.
    let lambda_t = lambda_t_of(&components);
    let mut sums = vec![0.0; k];
    for row in lambda_t.chunks(k) {
        axpy(&mut sums, 1.0, row);
    }
    let psi_tot: Vec<f64> = sums.iter().map(|s| digamma(*s)).collect();
    let rows = nw.div_ceil(n_threads * 4).max(1);
    let (elog_t, topic_terms): (Vec<f64>, f64) = pool.install(|| {
        let parts: Vec<(Vec<f64>, f64)> = lambda_t
            .par_chunks(rows * k)
            .map(|l| {
                let mut out = Vec::with_capacity(l.len());
                let mut t = 0.0;
                for row in l.chunks(k) {
                    for z in 0..k {
                        let e = digamma(row[z]) - psi_tot[z];
                        out.push(e);
                        t += (eta - row[z]) * e + ln_gamma(row[z]) - ln_gamma(eta);
                    }
                }
                (out, t)
            })
            .collect();
        let mut all = Vec::with_capacity(nw * k);
        let mut t = 0.0;
        for (v, s) in parts {
            all.extend(v);
            t += s;
        }
        (all, t)
    });
    let eb_t: Vec<f64> = elog_t.iter().map(|v| v.exp()).collect();
    let mut topic_terms = topic_terms;
    for s in &sums {
        topic_terms += ln_gamma(eta * nw as f64) - ln_gamma(*s);
    }

    let gamma_c: Vec<f64> = gamma.iter().copied().collect();
    let mut doc_terms = 0.0;
    let lg_alpha = ln_gamma(alpha);
    let lg_alpha_k = ln_gamma(alpha * k as f64);
    for (clo, chi) in chunks_in(x, 0, nd, 4 * k, CHUNK_BUDGET * n_threads) {
        let bl = blocks(x, clo, chi, n_threads);
        let parts: Vec<f64> = pool.install(|| {
            bl.into_par_iter()
                .map(|(a, b)| {
                    let mut elt = vec![0.0; k];
                    let mut et = vec![0.0; k];
                    let mut tmp = vec![0.0; k];
                    let mut score = 0.0;
                    for d in a..b {
                        let g = &gamma_c[d * k..(d + 1) * k];
                        super::special::dirichlet_expectation(g, &mut elt);
                        for (e, l) in et.iter_mut().zip(&elt) {
                            *e = l.exp();
                        }
                        for (w, n) in x.row(d) {
                            if n == 0.0 {
                                continue;
                            }
                            let s = dot(&et, &eb_t[w * k..(w + 1) * k]);
                            let lse = if s > 1e-280 && s.is_finite() {
                                s.ln()
                            } else {
                                // Stable log-sum-exp when the products under/overflow.
                                for z in 0..k {
                                    tmp[z] = elt[z] + elog_t[w * k + z];
                                }
                                let m = tmp.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
                                m + tmp.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
                            };
                            score += n * lse;
                        }
                        let mut gs = 0.0;
                        for z in 0..k {
                            score += (alpha - g[z]) * elt[z] + ln_gamma(g[z]) - lg_alpha;
                            gs += g[z];
                        }
                        score += lg_alpha_k - ln_gamma(gs);
                    }
                    score
                })
                .collect()
        });
        doc_terms += parts.iter().sum::<f64>();
        interrupt.check()?;
    }
    Ok(doc_terms * doc_ratio + topic_terms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::runtime::NeverInterrupt;
    use rand::Rng as _;

    fn params(n_threads: usize) -> LdaParams {
        LdaParams {
            doc_topic_prior: 0.1,
            topic_word_prior: 0.1,
            learning_decay: 0.7,
            learning_offset: 10.0,
            batch_size: 7,
            max_doc_update_iter: 100,
            mean_change_tol: 1e-3,
            n_threads,
        }
    }

    /// Documents drawn from two planted topics on disjoint halves of a 10-word vocabulary.
    fn planted(nd: usize) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        let mut rng = rng_stream(11, 0);
        let (mut ip, mut ix, mut v) = (vec![0i64], vec![], vec![]);
        for d in 0..nd {
            let base = if d % 2 == 0 { 0 } else { 5 };
            let mut c = [0.0; 10];
            for _ in 0..30 {
                c[base + rng.random_range(0..5)] += 1.0;
            }
            for (j, n) in c.iter().enumerate() {
                if *n > 0.0 {
                    ix.push(j as i64);
                    v.push(*n);
                }
            }
            ip.push(ix.len() as i64);
        }
        (ip, ix, v)
    }

    fn start(k: usize, w: usize) -> Array2<f64> {
        let mut rng = rng_stream(3, 1);
        Array2::from_shape_fn((k, w), |_| 0.5 + rng.random::<f64>())
    }

    #[test]
    fn batch_vb_recovers_planted_topics_and_bound_increases() {
        let (ip, ix, v) = planted(40);
        let x = CsrView::new(40, 10, &ip, &ix, &v).unwrap();
        let p = params(1);
        let mut lam = start(2, 10);
        let mut bounds = vec![];
        for it in 0..15 {
            let out = epoch(
                &x,
                lam.view(),
                1 + it,
                &p,
                Learning::Batch,
                5,
                &NeverInterrupt,
            )
            .unwrap();
            lam = out.components;
            let g = transform(&x, lam.view(), &p, &NeverInterrupt).unwrap();
            bounds.push(
                approx_bound(&x, g.view(), lam.view(), 0.1, 0.1, 1.0, 1, &NeverInterrupt).unwrap(),
            );
        }
        assert!(bounds.last().unwrap() > &bounds[0]);
        // Each topic puts almost all its mass on one half of the vocabulary.
        for row in lam.outer_iter() {
            let first: f64 = row.iter().take(5).sum();
            let total: f64 = row.sum();
            assert!(first / total > 0.97 || first / total < 0.03, "{row:?}");
        }
        let halves: Vec<bool> = lam
            .outer_iter()
            .map(|r| r.iter().take(5).sum::<f64>() > r.sum() / 2.0)
            .collect();
        assert_ne!(halves[0], halves[1]);
    }

    #[test]
    fn online_is_reproducible_and_thread_count_only_changes_rounding() {
        let (ip, ix, v) = planted(30);
        let x = CsrView::new(30, 10, &ip, &ix, &v).unwrap();
        let lam = start(3, 10);
        let on = Learning::Online {
            total_samples: 30.0,
        };
        let a = epoch(&x, lam.view(), 1, &params(1), on, 9, &NeverInterrupt).unwrap();
        let b = epoch(&x, lam.view(), 1, &params(1), on, 9, &NeverInterrupt).unwrap();
        let c = epoch(&x, lam.view(), 1, &params(3), on, 9, &NeverInterrupt).unwrap();
        assert_eq!(a.components, b.components);
        assert_eq!(a.n_batch_iter, 1 + 5); // ceil(30 / 7) mini-batches
        let diff = (&a.components - &c.components)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(diff < 1e-9, "{diff}");
        let e = exp_dirichlet_component(a.components.view()).unwrap();
        let diff = (&e - &a.exp_dirichlet_component)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(diff < 1e-14);
    }

    /// A single document with one word and K = 1: phinorm = exp(E[log theta]) exp(E[log beta]),
    /// so gamma = alpha + n exactly after the first iteration.
    #[test]
    fn one_word_one_topic_by_hand() {
        let ip = [0i64, 1];
        let ix = [0i64];
        let v = [4.0f64];
        let x = CsrView::new(1, 2, &ip, &ix, &v).unwrap();
        let lam = Array2::from_shape_vec((1, 2), vec![2.0, 3.0]).unwrap();
        let g = transform(&x, lam.view(), &params(1), &NeverInterrupt).unwrap();
        assert!((g[[0, 0]] - 4.1).abs() < 1e-12, "{g:?}");
    }

    #[test]
    fn bad_inputs() {
        let (ip, ix, v) = planted(4);
        let x = CsrView::new(4, 10, &ip, &ix, &v).unwrap();
        let lam = start(2, 9);
        assert!(transform(&x, lam.view(), &params(1), &NeverInterrupt).is_err());
        let mut p = params(1);
        p.batch_size = 0;
        assert!(epoch(
            &x,
            start(2, 10).view(),
            1,
            &p,
            Learning::Batch,
            0,
            &NeverInterrupt
        )
        .is_err());
    }
}
