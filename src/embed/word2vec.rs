//! word2vec: skip-gram and CBOW with negative sampling or hierarchical softmax
//! (Mikolov et al. 2013a,b), following word2vec.c and gensim's `word2vec_inner.pyx`:
//! frequent-word subsampling, shrinking windows (`b = r % window`), linear learning-rate decay
//! from `alpha` to `min_alpha` over all epochs, a 1000-entry sigmoid table over [-6, 6]
//! (updates with `|f| >= 6` are skipped, as in gensim 4), CBOW input = mean (or sum) of the
//! context, with the error not divided for the mean (divided for the sum), as in gensim.
//!
//! Parallelism is Hogwild over jobs of ~10k tokens (see [`super::hogwild`]). Each job's
//! randomness comes from `rng_stream(seed, epoch, job)` and its learning rate from its position
//! in the epoch, so with one thread a seed gives bit-identical vectors.

use super::corpus::{sample_thresholds, AliasTable, Block, CorpusSource, Huffman};
use super::hogwild::HogwildMatrix;
#[cfg(target_arch = "x86_64")]
use super::kernels::Avx2Fma;
use super::kernels::{Portable, Simd};
use crate::error::{Error, Result};
use crate::runtime::{rng_stream, thread_pool, Interrupt};
use rand::{Rng as _, RngCore};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// Which word predicts which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// Each word predicts its context words.
    SkipGram,
    /// The (mean or sum of the) context predicts the word.
    Cbow,
}

/// Output layer / objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Negative sampling from the unigram^`ns_exponent` distribution.
    Negative,
    /// Hierarchical softmax over a Huffman tree.
    HierarchicalSoftmax,
}

/// Training parameters (names as gensim's where gensim has them).
#[derive(Clone, Debug)]
pub struct Word2VecParams {
    /// Dimension of the word vectors.
    pub vector_size: usize,
    /// Maximum distance between a word and its context.
    pub window: usize,
    /// Subsampling threshold (0 disables).
    pub sample: f64,
    /// Skip-gram or CBOW.
    pub architecture: Architecture,
    /// Negative sampling or hierarchical softmax.
    pub loss: Loss,
    /// Noise words per positive example.
    pub negative: usize,
    /// Exponent of the noise distribution.
    pub ns_exponent: f64,
    /// CBOW: mean (true) or sum (false) of the context vectors.
    pub cbow_mean: bool,
    /// Initial learning rate.
    pub alpha: f32,
    /// Final learning rate.
    pub min_alpha: f32,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Draw the effective window uniformly in `1..=window` for each word.
    pub shrink_windows: bool,
    /// Worker threads.
    pub n_threads: usize,
    /// The learning rate decays within an epoch as if the corpus were cut into this many
    /// equal shares, each decaying from the epoch's starting rate. 1: one linear decay over
    /// all words (gensim with sentences). gensim's `corpus_file` mode has each of its workers
    /// read its own share and measure progress by its own words against the whole corpus, so
    /// with files it is the number of workers there (and the rate ends near
    /// alpha * (1 - 1/workers) / epochs rather than min_alpha).
    pub alpha_shares: usize,
    /// Seed of every random stream.
    pub seed: u64,
}

impl Word2VecParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidParameter(m.to_string()));
        if self.vector_size < 1 {
            return bad("vector_size must be >= 1");
        }
        if self.window < 1 {
            return bad("window must be >= 1");
        }
        if self.sample.is_nan() || self.sample < 0.0 || !self.sample.is_finite() {
            return bad("sample must be >= 0");
        }
        if self.loss == Loss::Negative && self.negative < 1 {
            return bad("negative must be >= 1 with negative sampling");
        }
        if !self.ns_exponent.is_finite() {
            return bad("ns_exponent must be finite");
        }
        if self.alpha.is_nan()
            || self.alpha <= 0.0
            || self.min_alpha.is_nan()
            || self.min_alpha < 0.0
            || !self.alpha.is_finite()
        {
            return bad("alpha must be > 0 and min_alpha >= 0");
        }
        if self.epochs < 1 {
            return bad("epochs must be >= 1");
        }
        Ok(())
    }
}

/// Reported to the caller between blocks.
pub struct Progress {
    /// Current epoch (0-based).
    pub epoch: usize,
    /// In-vocabulary tokens processed so far in all epochs.
    pub words_done: u64,
    /// In-vocabulary tokens to process in all epochs.
    pub words_total: u64,
    /// Seconds since training started.
    pub elapsed: f64,
}

/// What training did.
pub struct TrainReport {
    /// Sum of the loss over each epoch (negative log-likelihood of the sampled predictions).
    pub epoch_loss: Vec<f64>,
    /// In-vocabulary tokens seen (before subsampling), over all epochs.
    pub raw_words: u64,
    /// Tokens kept after subsampling, over all epochs.
    pub effective_words: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Initial input vectors for rows `first_row..first_row+n_rows`: uniform in
/// `[-1, 1) / vector_size` as gensim 4's `prep_vectors` (word2vec.c uses `[-0.5, 0.5)`), each
/// row from its own stream of `seed`.
pub fn init_vectors(first_row: usize, n_rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut out = vec![0.0; n_rows * dim];
    for (k, row) in out.chunks_exact_mut(dim.max(1)).enumerate() {
        init_row(seed, first_row + k, row);
    }
    out
}

/// Row `r` of [`init_vectors`].
fn init_row(seed: u64, r: usize, out: &mut [f32]) {
    let mut rng = rng_stream(seed ^ 0x5EED_1417_0000_0000, r as u64);
    let dim = out.len() as f32;
    for x in out {
        *x = (rng.random::<f32>() * 2.0 - 1.0) / dim;
    }
}

const EXP_TABLE_SIZE: usize = 1000;
const MAX_EXP: f32 = 6.0;
const JOB_TOKENS: usize = 10_000;
const BLOCK_TOKENS: usize = 400_000;
/// Output rows whose dot products are computed together (see `Shared::output_rows`).
const OUT_CHUNK: usize = 16;

struct Tables {
    sigmoid: Vec<f32>,
    log_sigmoid: Vec<f32>,
}

impl Tables {
    fn new() -> Self {
        let sigmoid: Vec<f32> = (0..EXP_TABLE_SIZE)
            .map(|i| {
                let x = ((i as f64 / EXP_TABLE_SIZE as f64) * 2.0 - 1.0) * MAX_EXP as f64;
                let e = x.exp();
                (e / (e + 1.0)) as f32
            })
            .collect();
        let log_sigmoid = sigmoid.iter().map(|s| s.ln()).collect();
        Tables {
            sigmoid,
            log_sigmoid,
        }
    }

    #[inline(always)]
    fn index(f: f32) -> usize {
        (((f + MAX_EXP) * (EXP_TABLE_SIZE as f32 / MAX_EXP / 2.0)) as usize).min(EXP_TABLE_SIZE - 1)
    }
}

struct Shared<'a> {
    p: &'a Word2VecParams,
    syn0: &'a HogwildMatrix,
    syn1: &'a HogwildMatrix,
    thresholds: Vec<u32>,
    alias: Option<AliasTable>,
    huffman: Option<Huffman>,
    tables: Tables,
    /// AVX2+FMA kernels when the CPU has them (chosen once, so results stay reproducible).
    #[cfg(target_arch = "x86_64")]
    avx2: Option<Avx2Fma>,
    words_total: u64,
}

struct Scratch {
    l1: Vec<f32>,
    l2: Vec<f32>,
    neu1e: Vec<f32>,
    sent: Vec<u32>,
    /// CBOW: private copies of the distinct context rows, their ids and multiplicities.
    ctx_rows: Vec<f32>,
    ctx_ids: Vec<u32>,
    ctx_mult: Vec<f32>,
}

#[derive(Default, Clone, Copy)]
struct JobStats {
    loss: f64,
    effective: u64,
}

impl std::ops::Add for JobStats {
    type Output = JobStats;
    fn add(self, o: JobStats) -> JobStats {
        JobStats {
            loss: self.loss + o.loss,
            effective: self.effective + o.effective,
        }
    }
}

impl Shared<'_> {
    /// One prediction of `target` from hidden vector `l1`; accumulates the input gradient in
    /// `neu1e` and updates the output rows (`rows` is scratch space).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn predict<S: Simd>(
        &self,
        k: S,
        target: u32,
        l1: &[f32],
        rows: &mut Vec<f32>,
        neu1e: &mut [f32],
        alpha: f32,
        rng: &mut crate::runtime::Rng,
    ) -> f64 {
        let mut loss = 0.0f64;
        match self.p.loss {
            Loss::Negative => {
                let Some(alias) = &self.alias else { return 0.0 };
                // Draw the noise words first and prefetch their rows, so the cache misses of
                // the 1 + negative output rows overlap instead of queueing one after another.
                let mut ids = [0u32; OUT_CHUNK];
                ids[0] = target;
                let (mut n, mut left, mut first) = (1usize, self.p.negative, true);
                loop {
                    while n < OUT_CHUNK && left > 0 {
                        let t = alias.sample(rng.next_u64());
                        left -= 1;
                        if t != target {
                            self.syn1.prefetch_row(t as usize);
                            ids[n] = t;
                            n += 1;
                        }
                    }
                    let (ids, pos) = (&ids[..n], |c: usize| first && c == 0);
                    let distinct = ids.iter().enumerate().all(|(c, t)| !ids[..c].contains(t));
                    loss += self.output_rows(k, ids, distinct, pos, l1, rows, neu1e, alpha);
                    if left == 0 {
                        break;
                    }
                    (n, first) = (0, false);
                }
            }
            Loss::HierarchicalSoftmax => {
                let Some(h) = &self.huffman else { return 0.0 };
                let (a, b) = (h.offsets[target as usize], h.offsets[target as usize + 1]);
                let chunks = h.points[a..b].chunks(OUT_CHUNK);
                for (points, codes) in chunks.zip(h.codes[a..b].chunks(OUT_CHUNK)) {
                    // The inner nodes of a path are distinct.
                    let pos = |c: usize| codes[c] == 0;
                    loss += self.output_rows(k, points, true, pos, l1, rows, neu1e, alpha);
                }
            }
        }
        loss
    }

    /// Logistic steps on output rows `ids` (at most [`OUT_CHUNK`]; row `ids[c]` has label 1 iff
    /// `positive(c)`), in order, as word2vec.c: dot, skip if `|f| >= MAX_EXP`, `neu1e += g row`,
    /// `row += g l1`. When the rows are `distinct` all dot products come first: no row's dot
    /// depends on another's update, so the numbers are the same, but the loads and dot
    /// products no longer wait for one another.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn output_rows<S: Simd>(
        &self,
        k: S,
        ids: &[u32],
        distinct: bool,
        positive: impl Fn(usize) -> bool,
        l1: &[f32],
        rows: &mut Vec<f32>,
        neu1e: &mut [f32],
        alpha: f32,
    ) -> f64 {
        let pd = l1.len();
        if rows.len() < OUT_CHUNK * pd {
            rows.resize(OUT_CHUNK * pd, 0.0);
        }
        let mut dots = [0.0f32; OUT_CHUNK];
        if distinct {
            for ((d, &t), row) in dots.iter_mut().zip(ids).zip(rows.chunks_exact_mut(pd)) {
                *d = k.load_row_dot(self.syn1, t as usize, l1, row);
            }
        }
        let mut loss = 0.0f64;
        for ((c, &t), row) in ids.iter().enumerate().zip(rows.chunks_exact_mut(pd)) {
            let f_dot = if distinct {
                dots[c]
            } else {
                k.load_row_dot(self.syn1, t as usize, l1, row)
            };
            if f_dot <= -MAX_EXP || f_dot >= MAX_EXP || f_dot.is_nan() {
                continue;
            }
            let (label, sgn) = if positive(c) {
                (1.0f32, f_dot)
            } else {
                (0.0f32, -f_dot)
            };
            let g = (label - self.tables.sigmoid[Tables::index(f_dot)]) * alpha;
            loss -= self.tables.log_sigmoid[Tables::index(sgn)] as f64;
            k.update_row(self.syn1, t as usize, g, l1, row, neu1e);
        }
        loss
    }

    fn alpha_at(&self, epoch: usize, pos: u64) -> f32 {
        learning_rate(self.p, self.words_total, epoch, pos)
    }

    /// Trains on sentences `tokens` with ends `ends` (relative to `tokens`), with the fastest
    /// kernels this CPU has.
    #[allow(clippy::too_many_arguments)]
    fn train_job(
        &self,
        tokens: &[u32],
        ends: &[usize],
        start_word: u64,
        epoch: usize,
        job_id: u64,
        sc: &mut Scratch,
        cancel: &AtomicBool,
    ) -> JobStats {
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = self.avx2 {
            // SAFETY: an `Avx2Fma` value exists only if the CPU has AVX2 and FMA.
            return unsafe {
                self.train_job_avx2(k, tokens, ends, start_word, epoch, job_id, sc, cancel)
            };
        }
        self.train_job_with(
            Portable, tokens, ends, start_word, epoch, job_id, sc, cancel,
        )
    }

    /// The whole job compiled with AVX2+FMA, so that the row copies and kernels inline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn train_job_avx2(
        &self,
        k: Avx2Fma,
        tokens: &[u32],
        ends: &[usize],
        start_word: u64,
        epoch: usize,
        job_id: u64,
        sc: &mut Scratch,
        cancel: &AtomicBool,
    ) -> JobStats {
        self.train_job_with(k, tokens, ends, start_word, epoch, job_id, sc, cancel)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn train_job_with<S: Simd>(
        &self,
        k: S,
        tokens: &[u32],
        ends: &[usize],
        start_word: u64,
        epoch: usize,
        job_id: u64,
        sc: &mut Scratch,
        cancel: &AtomicBool,
    ) -> JobStats {
        let p = self.p;
        let mut rng = rng_stream(p.seed, ((epoch as u64) << 40) ^ job_id);
        let mut stats = JobStats::default();
        let mut alpha = self.alpha_at(epoch, start_word);
        let mut since_update = 0usize;
        let mut begin = 0usize;
        let subsample = p.sample > 0.0;
        for &end in ends {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let raw = &tokens[begin..end];
            if since_update >= JOB_TOKENS / 4 {
                alpha = self.alpha_at(epoch, start_word + begin as u64);
                since_update = 0;
            }
            since_update += raw.len();
            begin = end;
            sc.sent.clear();
            for &w in raw {
                if !subsample || self.thresholds[w as usize] >= rng.next_u32() {
                    sc.sent.push(w);
                }
            }
            let n = sc.sent.len();
            stats.effective += n as u64;
            for i in 0..n {
                // The rows the next word needs first: the input row that enters its window
                // and, with negative sampling, its output row.
                if let Some(&w) = sc.sent.get(i + p.window + 1) {
                    self.syn0.prefetch_row(w as usize);
                }
                if let (Some(&w), Loss::Negative) = (sc.sent.get(i + 1), p.loss) {
                    self.syn1.prefetch_row(w as usize);
                }
                let b = if p.shrink_windows {
                    (rng.next_u32() as usize) % p.window
                } else {
                    0
                };
                let lo = i.saturating_sub(p.window - b);
                let hi = (i + p.window + 1 - b).min(n);
                let word = sc.sent[i];
                match p.architecture {
                    Architecture::SkipGram => {
                        for j in lo..hi {
                            if j == i {
                                continue;
                            }
                            let ctx = sc.sent[j] as usize;
                            k.load_row(self.syn0, ctx, &mut sc.l1);
                            sc.neu1e.iter_mut().for_each(|x| *x = 0.0);
                            stats.loss += self.predict(
                                k,
                                word,
                                &sc.l1,
                                &mut sc.l2,
                                &mut sc.neu1e,
                                alpha,
                                &mut rng,
                            );
                            // `predict` touches only the output layer, so the private copy
                            // plus the gradient is this thread's updated row: one store
                            // instead of a second load + store.
                            k.axpy(1.0, &sc.neu1e, &mut sc.l1);
                            k.store_row(self.syn0, ctx, &sc.l1);
                        }
                    }
                    Architecture::Cbow => {
                        // Copy each distinct context row once; it is both summed into the
                        // input and, plus multiplicity x gradient, stored back.
                        let pd = sc.l1.len();
                        sc.ctx_ids.clear();
                        sc.ctx_mult.clear();
                        let mut count = 0usize;
                        for j in lo..hi {
                            if j == i {
                                continue;
                            }
                            count += 1;
                            let w = sc.sent[j];
                            if let Some(pos) = sc.ctx_ids.iter().position(|&x| x == w) {
                                sc.ctx_mult[pos] += 1.0;
                            } else {
                                sc.ctx_ids.push(w);
                                sc.ctx_mult.push(1.0);
                            }
                        }
                        if count == 0 {
                            continue;
                        }
                        let n_ctx = sc.ctx_ids.len();
                        if sc.ctx_rows.len() < n_ctx * pd {
                            sc.ctx_rows.resize(n_ctx * pd, 0.0);
                        }
                        sc.l1.iter_mut().for_each(|x| *x = 0.0);
                        for (c, &w) in sc.ctx_ids.iter().enumerate() {
                            let row = &mut sc.ctx_rows[c * pd..(c + 1) * pd];
                            k.load_row(self.syn0, w as usize, row);
                            k.axpy(sc.ctx_mult[c], row, &mut sc.l1);
                        }
                        let inv = 1.0 / count as f32;
                        if p.cbow_mean {
                            k.scale(inv, &mut sc.l1);
                        }
                        sc.neu1e.iter_mut().for_each(|x| *x = 0.0);
                        stats.loss += self.predict(
                            k,
                            word,
                            &sc.l1,
                            &mut sc.l2,
                            &mut sc.neu1e,
                            alpha,
                            &mut rng,
                        );
                        let scale = if p.cbow_mean { 1.0 } else { inv };
                        for (c, &w) in sc.ctx_ids.iter().enumerate() {
                            let row = &mut sc.ctx_rows[c * pd..(c + 1) * pd];
                            k.axpy(scale * sc.ctx_mult[c], &sc.neu1e, row);
                            k.store_row(self.syn0, w as usize, row);
                        }
                    }
                }
            }
        }
        stats
    }
}

/// Cuts a block into jobs of about [`JOB_TOKENS`] tokens at sentence ends:
/// `(token range, sentence-end range)` pairs.
fn split_jobs(block: &Block) -> Vec<(usize, usize, usize, usize)> {
    let mut jobs = Vec::new();
    let (mut tok_start, mut sent_start) = (0usize, 0usize);
    for (k, &end) in block.sentence_ends.iter().enumerate() {
        if end - tok_start >= JOB_TOKENS || k + 1 == block.sentence_ends.len() {
            jobs.push((tok_start, end, sent_start, k + 1));
            tok_start = end;
            sent_start = k + 1;
        }
    }
    jobs
}

/// Trains `syn0` (input vectors, `V x dim`) and `syn1` (output layer, `V x dim`: `syn1neg` for
/// negative sampling, `syn1` for hierarchical softmax) on `source`, for `params.epochs` epochs.
/// `None` starts from scratch (`syn0` = [`init_vectors`]`(0, V, dim, params.seed)`, `syn1` =
/// zeros) written straight into the training matrices, so that training holds two matrices,
/// not four; the trained ones are moved out the same way.
/// `counts` are the vocabulary counts (they drive subsampling, noise and the Huffman tree),
/// `words_total` the number of in-vocabulary tokens in one pass over `source` (it drives the
/// learning-rate schedule). `progress` is called on this thread between blocks, `interrupt`
/// too; both may stop training with an error.
#[allow(clippy::too_many_arguments)]
pub fn train(
    params: &Word2VecParams,
    counts: &[u64],
    words_total: u64,
    syn0: Option<&[f32]>,
    syn1: Option<&[f32]>,
    source: &mut dyn CorpusSource,
    interrupt: &dyn Interrupt,
    progress: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<(Vec<f32>, Vec<f32>, TrainReport)> {
    params.validate()?;
    let dim = params.vector_size;
    let v = counts.len();
    if v == 0 {
        return Err(Error::InvalidInput("empty vocabulary".into()));
    }
    if [syn0, syn1].iter().flatten().any(|w| w.len() != v * dim) {
        return Err(Error::ShapeMismatch(format!("weights must be {v} x {dim}")));
    }
    let pool = thread_pool(params.n_threads)?;
    let syn0 = match syn0 {
        Some(w) => HogwildMatrix::from_slice(w, dim),
        None => HogwildMatrix::from_rows(v, dim, |r, row| init_row(params.seed, r, row)),
    };
    let syn1 = match syn1 {
        Some(w) => HogwildMatrix::from_slice(w, dim),
        None => HogwildMatrix::zeros_lazy(v, dim, 0),
    };
    let shared = Shared {
        p: params,
        syn0: &syn0,
        syn1: &syn1,
        thresholds: sample_thresholds(counts, params.sample),
        alias: match params.loss {
            Loss::Negative => Some(
                AliasTable::new(counts, params.ns_exponent)
                    .ok_or_else(|| Error::InvalidInput("all word counts are zero".into()))?,
            ),
            Loss::HierarchicalSoftmax => None,
        },
        huffman: match params.loss {
            Loss::HierarchicalSoftmax => Some(Huffman::new(counts)),
            Loss::Negative => None,
        },
        tables: Tables::new(),
        #[cfg(target_arch = "x86_64")]
        avx2: Avx2Fma::detect(),
        words_total,
    };
    let started = Instant::now();
    let mut report = TrainReport {
        epoch_loss: Vec::new(),
        raw_words: 0,
        effective_words: 0,
        seconds: 0.0,
    };
    let words_all = words_total.saturating_mul(params.epochs as u64);
    let pd = syn0.padded_dim();
    let new_scratch = || Scratch {
        l1: vec![0.0; pd],
        l2: vec![0.0; pd],
        neu1e: vec![0.0; pd],
        sent: Vec::new(),
        ctx_rows: Vec::new(),
        ctx_ids: Vec::new(),
        ctx_mult: Vec::new(),
    };
    let cancel = AtomicBool::new(false);
    let mut current = Block::default();
    let mut next = Block::default();
    for epoch in 0..params.epochs {
        source.reset()?;
        let mut epoch_stats = JobStats::default();
        let mut job_base = 0u64;
        let mut have = source.next_block(BLOCK_TOKENS, &mut current)?;
        while have {
            let jobs = split_jobs(&current);
            let block = &current;
            let shared = &shared;
            // Train this block on the pool while another pool task reads the next one (files:
            // I/O + tokenising overlap). This thread stays outside the pool and asks `interrupt`
            // every 50 ms; on Ctrl-C the workers see `cancel` between sentences and stop.
            let mut stats = JobStats::default();
            let mut read: Result<bool> = Ok(false);
            let mut stop: Result<()> = Ok(());
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let cancel = &cancel;
            pool.in_place_scope(|s| {
                let stats = &mut stats;
                let read = &mut read;
                let source = &mut *source;
                let next = &mut next;
                let jobs = &jobs;
                s.spawn(move |_| {
                    *stats = jobs
                        .par_iter()
                        .enumerate()
                        .map_init(new_scratch, |sc, (j, &(t0, t1, s0, s1))| {
                            let ends: Vec<usize> =
                                block.sentence_ends[s0..s1].iter().map(|e| e - t0).collect();
                            shared.train_job(
                                &block.tokens[t0..t1],
                                &ends,
                                block.start_word + t0 as u64,
                                epoch,
                                job_base + j as u64,
                                sc,
                                cancel,
                            )
                        })
                        .reduce(JobStats::default, |a, b| a + b);
                    let _ = tx.send(());
                });
                s.spawn(move |_| *read = source.next_block(BLOCK_TOKENS, next));
                while let Err(RecvTimeoutError::Timeout) =
                    rx.recv_timeout(Duration::from_millis(50))
                {
                    if let Err(e) = interrupt.check() {
                        cancel.store(true, Ordering::Relaxed);
                        stop = Err(e);
                        break;
                    }
                }
            });
            stop?;
            job_base += jobs.len() as u64;
            epoch_stats = epoch_stats + stats;
            report.raw_words += current.tokens.len() as u64;
            have = read?;
            std::mem::swap(&mut current, &mut next);
            interrupt.check()?;
            progress(&Progress {
                epoch,
                words_done: report.raw_words,
                words_total: words_all,
                elapsed: started.elapsed().as_secs_f64(),
            })?;
        }
        report.effective_words += epoch_stats.effective;
        report.epoch_loss.push(epoch_stats.loss);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok((syn0.into_vec(), syn1.into_vec(), report))
}

/// Learning rate of the word at position `pos` (in-vocabulary tokens) of epoch `epoch`, for
/// a corpus of `words_total` such tokens (see [`Word2VecParams::alpha_shares`]).
fn learning_rate(p: &Word2VecParams, words_total: u64, epoch: usize, pos: u64) -> f32 {
    let share = words_total.div_ceil(p.alpha_shares.max(1) as u64).max(1);
    let done = epoch as f64 * words_total as f64 + (pos % share) as f64;
    let total = (p.epochs as f64 * words_total as f64).max(1.0);
    let a = p.alpha as f64 - (p.alpha as f64 - p.min_alpha as f64) * (done / total);
    a.max(p.min_alpha as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::corpus::MemorySource;
    use crate::runtime::NeverInterrupt;

    fn toy() -> (Vec<u32>, Vec<u64>, Vec<u64>) {
        // Two "topics": words 0-4 co-occur, words 5-9 co-occur.
        let mut rng = rng_stream(1, 1);
        let mut tokens = Vec::new();
        let mut ends = Vec::new();
        for s in 0..400 {
            let base = if s % 2 == 0 { 0 } else { 5 };
            for _ in 0..20 {
                tokens.push(base + (rng.next_u32() % 5));
            }
            ends.push(tokens.len() as u64);
        }
        let mut counts = vec![0u64; 10];
        for &t in &tokens {
            counts[t as usize] += 1;
        }
        (tokens, ends, counts)
    }

    #[test]
    fn learning_rate_is_linear_or_per_share_as_gensim_corpus_file() {
        let mut p = params(Architecture::Cbow, Loss::Negative);
        (p.alpha, p.min_alpha, p.epochs) = (0.025, 0.0001, 5);
        let n = 1000u64;
        let close = |a: f32, b: f64| assert!((a as f64 - b).abs() < 1e-7, "{a} vs {b}");
        // One share: one linear decay over epochs * n words.
        p.alpha_shares = 1;
        close(learning_rate(&p, n, 0, 0), 0.025);
        close(learning_rate(&p, n, 2, 500), 0.025 - 0.0249 * 2.5 / 5.0);
        // Two shares (gensim corpus_file, workers=2): the worker that starts at word 500
        // counts its progress from 0 against the whole corpus, as gensim's get_next_alpha.
        p.alpha_shares = 2;
        close(
            learning_rate(&p, n, 0, 499),
            0.025 - 0.0249 * (499.0 / 1000.0) / 5.0,
        );
        close(learning_rate(&p, n, 0, 500), 0.025);
        close(
            learning_rate(&p, n, 4, 999),
            0.025 - 0.0249 * (4.0 + 499.0 / 1000.0) / 5.0,
        );
    }

    fn params(arch: Architecture, loss: Loss) -> Word2VecParams {
        Word2VecParams {
            vector_size: 16,
            window: 3,
            sample: 0.0,
            architecture: arch,
            loss,
            negative: 5,
            ns_exponent: 0.75,
            cbow_mean: true,
            alpha: 0.025,
            min_alpha: 0.0001,
            epochs: 5,
            shrink_windows: true,
            n_threads: 1,
            alpha_shares: 1,
            seed: 42,
        }
    }

    fn run(p: &Word2VecParams) -> (Vec<f32>, TrainReport) {
        let (tokens, ends, counts) = toy();
        let total = tokens.len() as u64;
        let mut src = MemorySource::new(&tokens, &ends, 10).unwrap();
        let (w, _, rep) = train(
            p,
            &counts,
            total,
            None,
            None,
            &mut src,
            &NeverInterrupt,
            &mut |_| Ok(()),
        )
        .unwrap();
        (w, rep)
    }

    fn cos(w: &[f32], d: usize, a: usize, b: usize) -> f32 {
        let (x, y) = (&w[a * d..(a + 1) * d], &w[b * d..(b + 1) * d]);
        let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        let n = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
        dot / (n(x) * n(y))
    }

    #[test]
    fn learns_topics_and_loss_decreases() {
        for arch in [Architecture::SkipGram, Architecture::Cbow] {
            for loss in [Loss::Negative, Loss::HierarchicalSoftmax] {
                let p = params(arch, loss);
                let (w, rep) = run(&p);
                assert!(
                    rep.epoch_loss.last().unwrap() < &rep.epoch_loss[0],
                    "{arch:?} {loss:?} {:?}",
                    rep.epoch_loss
                );
                let within = cos(&w, 16, 0, 1);
                let across = cos(&w, 16, 0, 6);
                assert!(
                    within > across + 0.3,
                    "{arch:?} {loss:?}: {within} vs {across}"
                );
            }
        }
    }

    #[test]
    fn one_thread_is_bit_reproducible() {
        let p = params(Architecture::SkipGram, Loss::Negative);
        assert_eq!(run(&p).0, run(&p).0);
        let mut q = p.clone();
        q.seed = 43;
        assert_ne!(run(&p).0, run(&q).0);
    }

    #[test]
    fn default_init_is_init_vectors_and_zeros() {
        // `None` weights must train exactly as the explicit gensim-style start did.
        let p = params(Architecture::Cbow, Loss::Negative);
        let (tokens, ends, counts) = toy();
        let total = tokens.len() as u64;
        let syn0 = init_vectors(0, 10, p.vector_size, p.seed);
        let syn1 = vec![0.0; 10 * p.vector_size];
        let mut src = MemorySource::new(&tokens, &ends, 10).unwrap();
        let explicit = train(
            &p,
            &counts,
            total,
            Some(&syn0),
            Some(&syn1),
            &mut src,
            &NeverInterrupt,
            &mut |_| Ok(()),
        )
        .unwrap();
        let (w0, w1, _) = explicit;
        let (d0, _) = run(&p);
        assert_eq!(w0, d0);
        assert!(w1.iter().any(|&x| x != 0.0));
        // Rows are drawn independently: a slice of rows equals the same rows of the whole.
        assert_eq!(
            init_vectors(3, 4, 16, 9),
            init_vectors(0, 7, 16, 9)[3 * 16..].to_vec()
        );
    }

    /// gensim's `w2v_fast_sentence_cbow_hs`, written out plainly: `neu1` = mean (or sum) of
    /// the context rows; `work` accumulates `g * syn1[point]`; every context row then gets the
    /// whole `work` for the mean, `work / count` for the sum.
    fn cbow_hs_reference(
        p: &Word2VecParams,
        sent: &[u32],
        counts: &[u64],
        syn0: &mut [f32],
        syn1: &mut [f32],
    ) {
        let (d, h, t) = (p.vector_size, Huffman::new(counts), Tables::new());
        for i in 0..sent.len() {
            let ctx: Vec<usize> = (i.saturating_sub(p.window)..(i + p.window + 1).min(sent.len()))
                .filter(|&j| j != i)
                .map(|j| sent[j] as usize)
                .collect();
            let count = ctx.len() as f32;
            let mut neu1 = vec![0.0f32; d];
            for &c in &ctx {
                (0..d).for_each(|x| neu1[x] += syn0[c * d + x]);
            }
            if p.cbow_mean {
                neu1.iter_mut().for_each(|x| *x /= count);
            }
            let mut work = vec![0.0f32; d];
            let w = sent[i] as usize;
            for k in h.offsets[w]..h.offsets[w + 1] {
                let row = &mut syn1[h.points[k] as usize * d..][..d];
                let f: f32 = row.iter().zip(&neu1).map(|(a, b)| a * b).sum();
                if f.abs() >= MAX_EXP {
                    continue;
                }
                let g = (1.0 - h.codes[k] as f32 - t.sigmoid[Tables::index(f)]) * p.alpha;
                (0..d).for_each(|x| work[x] += g * row[x]);
                (0..d).for_each(|x| row[x] += g * neu1[x]);
            }
            let scale = if p.cbow_mean { 1.0 } else { 1.0 / count };
            for &c in &ctx {
                (0..d).for_each(|x| syn0[c * d + x] += scale * work[x]);
            }
        }
    }

    #[test]
    fn cbow_update_is_gensims() {
        // One sentence, fixed window, no subsampling, constant learning rate, hierarchical
        // softmax: no randomness, so training must equal the reference rule step by step.
        let sent = [0u32, 1, 2, 0, 3, 1, 0];
        let counts = [3u64, 2, 1, 1];
        for cbow_mean in [true, false] {
            let mut p = params(Architecture::Cbow, Loss::HierarchicalSoftmax);
            (p.vector_size, p.window, p.epochs) = (8, 2, 1);
            (p.alpha, p.min_alpha, p.shrink_windows, p.cbow_mean) = (0.5, 0.5, false, cbow_mean);
            let mut syn0 = init_vectors(0, 4, 8, 5);
            let mut syn1: Vec<f32> = init_vectors(10, 4, 8, 6).iter().map(|x| 40.0 * x).collect();
            let mut src = MemorySource::new(&sent, &[7], 4).unwrap();
            let (w0, w1, _) = train(
                &p,
                &counts,
                7,
                Some(&syn0),
                Some(&syn1),
                &mut src,
                &NeverInterrupt,
                &mut |_| Ok(()),
            )
            .unwrap();
            assert_ne!(w0, syn0, "nothing trained");
            cbow_hs_reference(&p, &sent, &counts, &mut syn0, &mut syn1);
            for (got, want) in [(&w0, &syn0), (&w1, &syn1)] {
                for (a, b) in got.iter().zip(want.iter()) {
                    let close = (a - b).abs() <= 1e-5 * (1.0 + b.abs());
                    assert!(close, "cbow_mean={cbow_mean}: {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn bad_params_are_rejected() {
        let mut p = params(Architecture::Cbow, Loss::Negative);
        p.window = 0;
        assert!(p.validate().is_err());
        p.window = 2;
        p.vector_size = 0;
        assert!(p.validate().is_err());
    }
}
