//! fastText training: cbow, skip-gram and the supervised classifier, Hogwild-parallel.
//!
//! As fastText: the learning rate decays linearly with the number of tokens processed by all
//! threads (published every `lrUpdateRate` tokens), each thread starts at its own offset of
//! the data and wraps around, unsupervised lines are sub-sampled and cut after 1024 tokens,
//! windows are drawn uniformly in 1..=ws, supervised gradients are divided by the number of
//! inputs and one label of the line is drawn per update (all labels for one-vs-all).
//! Differences: the input is tokenised once (not re-read every epoch), and skip-gram computes
//! the hidden vector of a centre word once and applies the accumulated input gradient after
//! its whole window (fastText recomputes both per context word).

use super::args::{Args, LossName, ModelName};
use super::dictionary::{DictConfig, Dictionary, EntryKind, Token, EOS, MAX_LINE_SIZE};
use super::loss::{negative_table, HuffmanTree, Tables};
use super::FastText;
use crate::embed::hogwild::HogwildMatrix;
use crate::error::{Error, Result};
use crate::runtime::{rng_stream, thread_pool, Interrupt, Rng};
use rand::Rng as _;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the progress callback receives.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Fraction of the planned tokens processed.
    pub fraction: f64,
    /// Tokens per second per thread.
    pub words_per_sec_per_thread: f64,
    /// Current learning rate.
    pub lr: f64,
    /// Running average loss.
    pub loss: f64,
}

/// The tokenised training data.
enum Corpus {
    /// Per line: input rows (subwords + word n-grams), labels, and tokens read.
    Supervised {
        inputs: Vec<u32>,
        input_ends: Vec<usize>,
        labels: Vec<u32>,
        label_ends: Vec<usize>,
        line_tokens: Vec<u32>,
    },
    /// In-vocabulary token ids in file order (`</s>` included).
    Unsupervised { tokens: Vec<u32> },
}

fn tokenise(dict: &Dictionary, args: &Args, text: &[u8]) -> Corpus {
    let lines = super::split_lines(text);
    if args.model == ModelName::Supervised {
        struct Line {
            inputs: Vec<u32>,
            labels: Vec<u32>,
            ntokens: u32,
        }
        let parsed: Vec<Vec<Line>> = lines
            .par_iter()
            .map(|l| {
                let (mut w, mut lab, mut h) = (Vec::new(), Vec::new(), Vec::new());
                let mut out = Vec::new();
                let mut rest: &[u8] = l;
                while !rest.is_empty() {
                    let (used, nt) =
                        dict.supervised_line(rest, args.word_ngrams, &mut w, &mut lab, &mut h);
                    if nt > 0 {
                        out.push(Line {
                            inputs: w.clone(),
                            labels: lab.clone(),
                            ntokens: nt as u32,
                        });
                    }
                    if used == 0 {
                        break;
                    }
                    rest = &rest[used..];
                }
                out
            })
            .collect();
        let (mut inputs, mut input_ends, mut labels, mut label_ends, mut line_tokens) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for l in parsed.into_iter().flatten() {
            inputs.extend_from_slice(&l.inputs);
            input_ends.push(inputs.len());
            labels.extend_from_slice(&l.labels);
            label_ends.push(labels.len());
            line_tokens.push(l.ntokens);
        }
        Corpus::Supervised {
            inputs,
            input_ends,
            labels,
            label_ends,
            line_tokens,
        }
    } else {
        let eos = dict.id(EOS);
        let parts: Vec<Vec<u32>> = lines
            .par_chunks(1024)
            .map(|ls| {
                let mut ids = Vec::new();
                for l in ls {
                    super::dictionary::for_each_token(l, |t| {
                        let id = match t {
                            Token::Word(w) => dict.id(w),
                            Token::Eos => eos,
                        };
                        if let Some(id) = id {
                            ids.push(id);
                        }
                    });
                }
                ids
            })
            .collect();
        Corpus::Unsupervised {
            tokens: parts.concat(),
        }
    }
}

/// The trainable output layer.
enum TrainLoss {
    Negative { table: Vec<u32>, neg: usize },
    Hierarchical(HuffmanTree),
    Softmax,
    OneVsAll,
}

/// Per-thread buffers.
struct State {
    hidden: Vec<f32>,
    grad: Vec<f32>,
    scores: Vec<f32>,
    rng: Rng,
    nan: bool,
}

struct Shared<'a> {
    args: &'a Args,
    dict: &'a Dictionary,
    tables: Tables,
    loss: TrainLoss,
    input: HogwildMatrix,
    output: HogwildMatrix,
    pdiscard: Vec<f32>,
}

impl Shared<'_> {
    #[inline]
    fn binary_logistic(&self, st: &mut State, target: usize, positive: bool, lr: f32) -> f32 {
        let score = self.output.dot_row(target, &st.hidden);
        if score.is_nan() {
            st.nan = true;
        }
        let p = self.tables.sigmoid(score);
        let label = if positive { 1.0 } else { 0.0 };
        let alpha = lr * (label - p);
        self.output.add_row_to(target, alpha, &mut st.grad);
        self.output.add_scaled(target, alpha, &st.hidden);
        if positive {
            -self.tables.log(p)
        } else {
            -self.tables.log(1.0 - p)
        }
    }

    /// Loss and backward pass into `st.grad` for target `targets[index]` (all targets for ova).
    fn forward(&self, st: &mut State, targets: &[u32], index: usize, lr: f32) -> f32 {
        match &self.loss {
            TrainLoss::Negative { table, neg } => {
                let target = targets[index];
                let mut loss = self.binary_logistic(st, target as usize, true, lr);
                for _ in 0..*neg {
                    // fastText redraws while the negative equals the target; bounded here so
                    // a single-class problem cannot loop forever.
                    let mut negative = target;
                    for _ in 0..64 {
                        negative = table[st.rng.random_range(0..table.len())];
                        if negative != target {
                            break;
                        }
                    }
                    if negative != target {
                        loss += self.binary_logistic(st, negative as usize, false, lr);
                    }
                }
                loss
            }
            TrainLoss::Hierarchical(tree) => {
                let (path, code) = tree.path(targets[index] as usize);
                let mut loss = 0.0;
                for (&node, &c) in path.iter().zip(code) {
                    loss += self.binary_logistic(st, node as usize, c, lr);
                }
                loss
            }
            TrainLoss::OneVsAll => {
                let mut loss = 0.0;
                for i in 0..self.output.rows() {
                    let positive = targets.contains(&(i as u32));
                    loss += self.binary_logistic(st, i, positive, lr);
                }
                loss
            }
            TrainLoss::Softmax => {
                let target = targets[index] as usize;
                let osz = self.output.rows();
                st.scores.clear();
                let mut max = f32::NEG_INFINITY;
                for i in 0..osz {
                    let s = self.output.dot_row(i, &st.hidden);
                    if s.is_nan() {
                        st.nan = true;
                    }
                    max = max.max(s);
                    st.scores.push(s);
                }
                let mut z = 0.0f32;
                for s in st.scores.iter_mut() {
                    *s = (*s - max).exp();
                    z += *s;
                }
                for s in st.scores.iter_mut() {
                    *s /= z;
                }
                for i in 0..osz {
                    let label = if i == target { 1.0 } else { 0.0 };
                    let alpha = lr * (label - st.scores[i]);
                    self.output.add_row_to(i, alpha, &mut st.grad);
                    self.output.add_scaled(i, alpha, &st.hidden);
                }
                -self.tables.log(st.scores[target])
            }
        }
    }

    /// `hidden = mean of input rows`, prefetching a few rows ahead (random rows of a large
    /// matrix: the loop is bound by memory latency).
    #[inline]
    fn compute_hidden(&self, st: &mut State, inputs: &[u32]) {
        st.hidden.iter_mut().for_each(|x| *x = 0.0);
        const AHEAD: usize = 4;
        for &id in inputs.iter().take(AHEAD) {
            self.input.prefetch_row(id as usize);
        }
        for (k, &id) in inputs.iter().enumerate() {
            if let Some(&next) = inputs.get(k + AHEAD) {
                self.input.prefetch_row(next as usize);
            }
            self.input.add_row_to(id as usize, 1.0, &mut st.hidden);
        }
        let s = 1.0 / inputs.len() as f32;
        st.hidden.iter_mut().for_each(|x| *x *= s);
    }

    /// fastText's `Model::update` with the hidden vector already computed.
    #[inline]
    fn update(
        &self,
        st: &mut State,
        inputs: &[u32],
        targets: &[u32],
        index: usize,
        lr: f32,
    ) -> f32 {
        st.grad.iter_mut().for_each(|x| *x = 0.0);
        let loss = self.forward(st, targets, index, lr);
        if self.args.model == ModelName::Supervised {
            let s = 1.0 / inputs.len() as f32;
            st.grad.iter_mut().for_each(|x| *x *= s);
        }
        for &id in inputs {
            self.input.add_scaled(id as usize, 1.0, &st.grad);
        }
        loss
    }
}

/// Trains a model on `text` (fastText's input format) with `n_threads` Hogwild workers.
pub fn train(
    mut args: Args,
    text: &[u8],
    n_threads: usize,
    interrupt: &dyn Interrupt,
    report: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<FastText> {
    args.finalize();
    args.validate()?;
    let n_threads = n_threads.max(1);
    let config = DictConfig {
        minn: args.minn,
        maxn: args.maxn,
        bucket: args.bucket,
        label: args.label.clone().into_bytes(),
        legacy: false,
    };
    if text.iter().all(|&b| super::dictionary::is_space(b)) {
        return Err(Error::InvalidInput("the training input is empty".into()));
    }
    let dict = Dictionary::build(config, text, args.min_count, args.min_count_label)?;
    let supervised = args.model == ModelName::Supervised;
    if supervised && dict.nlabels == 0 {
        return Err(Error::InvalidInput(format!(
            "the training data has no labels: no token starts with the label prefix {:?}",
            args.label
        )));
    }
    if dict.nwords == 0 {
        return Err(Error::InvalidInput(
            "Empty vocabulary. Try a smaller -minCount value.".into(),
        ));
    }
    interrupt.check()?;
    let pool = thread_pool(n_threads)?;
    let corpus = pool.install(|| tokenise(&dict, &args, text));
    interrupt.check()?;

    let dim = args.dim;
    let rows = dict.nwords + args.bucket;
    let input = HogwildMatrix::zeros(rows, dim);
    // U(-1/dim, 1/dim) in fixed blocks, each from its own stream: independent of n_threads.
    const BLOCK: usize = 4096;
    let bound = 1.0 / dim as f32;
    pool.install(|| {
        (0..rows.div_ceil(BLOCK)).into_par_iter().for_each(|b| {
            let mut rng = rng_stream(args.seed, (1u64 << 40) + b as u64);
            let mut row = vec![0.0f32; input.padded_dim()];
            for r in b * BLOCK..((b + 1) * BLOCK).min(rows) {
                for x in row[..dim].iter_mut() {
                    *x = rng.random_range(-bound..bound);
                }
                input.store_row(r, &row);
            }
        })
    });
    let counts = if supervised {
        dict.counts(EntryKind::Label)
    } else {
        dict.counts(EntryKind::Word)
    };
    let osz = counts.len();
    let loss = match args.loss {
        LossName::NegativeSampling => TrainLoss::Negative {
            table: negative_table(&counts),
            neg: args.neg,
        },
        LossName::HierarchicalSoftmax => TrainLoss::Hierarchical(HuffmanTree::new(&counts)),
        LossName::Softmax => TrainLoss::Softmax,
        LossName::OneVsAll => TrainLoss::OneVsAll,
    };
    let shared = Shared {
        args: &args,
        dict: &dict,
        tables: Tables::new(),
        loss,
        input,
        output: HogwildMatrix::zeros(osz, dim),
        pdiscard: dict.discard_table(args.t),
    };

    let total = (args.epoch as i64).saturating_mul(dict.ntokens.max(1));
    let token_count = AtomicI64::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let running_loss = AtomicU64::new(0f64.to_bits());
    let epoch_stats: Mutex<Vec<(f64, u64)>> = Mutex::new(vec![(0.0, 0); args.epoch]);
    let start = Instant::now();

    let mut outcome: Result<()> = Ok(());
    pool.in_place_scope(|s| {
        for t in 0..n_threads {
            let (shared, corpus) = (&shared, &corpus);
            let (token_count, stop, failure) = (&token_count, &stop, &failure);
            let (running_loss, epoch_stats) = (&running_loss, &epoch_stats);
            s.spawn(move |_| {
                let stats = worker(
                    shared,
                    corpus,
                    t,
                    n_threads,
                    total,
                    token_count,
                    stop,
                    running_loss,
                );
                match stats {
                    Ok(per_epoch) => {
                        if let Ok(mut e) = epoch_stats.lock() {
                            for (acc, (l, n)) in e.iter_mut().zip(per_epoch) {
                                acc.0 += l;
                                acc.1 += n;
                            }
                        }
                    }
                    Err(err) => {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(err);
                        }
                        stop.store(true, Relaxed);
                    }
                }
            });
        }
        // The calling thread watches: Ctrl-C, progress, end of training.
        let mut last_report = Instant::now();
        while token_count.load(Relaxed) < total && !stop.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            if let Err(e) = interrupt.check() {
                outcome = Err(e);
                stop.store(true, Relaxed);
                break;
            }
            if last_report.elapsed() >= Duration::from_millis(200) {
                last_report = Instant::now();
                let done = token_count.load(Relaxed).min(total);
                let fraction = done as f64 / total as f64;
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                let p = Progress {
                    fraction,
                    words_per_sec_per_thread: done as f64 / secs / n_threads as f64,
                    lr: args.lr * (1.0 - fraction),
                    loss: f64::from_bits(running_loss.load(Relaxed)),
                };
                if let Err(e) = report(&p) {
                    outcome = Err(e);
                    stop.store(true, Relaxed);
                    break;
                }
            }
        }
    });
    outcome?;
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    report(&Progress {
        fraction: 1.0,
        words_per_sec_per_thread: total as f64 / secs / n_threads as f64,
        lr: 0.0,
        loss: f64::from_bits(running_loss.load(Relaxed)),
    })?;
    let epoch_losses = epoch_stats
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|(l, n)| if n > 0 { l / n as f64 } else { f64::NAN })
        .collect();
    let Shared { input, output, .. } = shared;
    drop(corpus);
    let output = output.into_vec();
    let input = input.into_vec();
    let mut model = FastText::from_parts(args, super::io::VERSION, dict, input, output);
    model.epoch_losses = epoch_losses;
    Ok(model)
}

/// One Hogwild worker; returns (loss sum, examples) per epoch.
#[allow(clippy::too_many_arguments)]
fn worker(
    sh: &Shared<'_>,
    corpus: &Corpus,
    thread: usize,
    n_threads: usize,
    total: i64,
    token_count: &AtomicI64,
    stop: &AtomicBool,
    running_loss: &AtomicU64,
) -> Result<Vec<(f64, u64)>> {
    let args = sh.args;
    let pdim = sh.input.padded_dim();
    let mut st = State {
        hidden: vec![0.0; pdim],
        grad: vec![0.0; pdim],
        scores: Vec::new(),
        rng: rng_stream(args.seed, thread as u64),
        nan: false,
    };
    let mut per_epoch = vec![(0.0f64, 0u64); args.epoch];
    let (mut loss_sum, mut n_examples) = (0.0f64, 0u64);
    let mut local: i64 = 0;
    let lr_update = args.lr_update_rate as i64;
    let eos = sh.dict.id(EOS);
    let nwords = sh.dict.nwords as u32;
    let mut line: Vec<u32> = Vec::with_capacity(MAX_LINE_SIZE + 1);
    let mut bow: Vec<u32> = Vec::new();
    let mut pos = match corpus {
        Corpus::Supervised { line_tokens, .. } => thread * line_tokens.len() / n_threads,
        Corpus::Unsupervised { tokens } => thread * tokens.len() / n_threads,
    };
    loop {
        let done = token_count.load(Relaxed);
        if done >= total {
            break;
        }
        if stop.load(Relaxed) {
            break;
        }
        let progress = done as f64 / total as f64;
        let lr = (args.lr * (1.0 - progress)) as f32;
        let epoch = ((progress * args.epoch as f64) as usize).min(args.epoch - 1);
        let (mut line_loss, mut line_examples) = (0.0f32, 0u32);
        match corpus {
            Corpus::Supervised {
                inputs,
                input_ends,
                labels,
                label_ends,
                line_tokens,
            } => {
                if pos >= line_tokens.len() {
                    pos = 0;
                }
                let inp = &inputs[if pos == 0 { 0 } else { input_ends[pos - 1] }..input_ends[pos]];
                let lab = &labels[if pos == 0 { 0 } else { label_ends[pos - 1] }..label_ends[pos]];
                local += line_tokens[pos] as i64;
                pos += 1;
                if !inp.is_empty() && !lab.is_empty() {
                    sh.compute_hidden(&mut st, inp);
                    let index = if args.loss == LossName::OneVsAll {
                        0
                    } else {
                        st.rng.random_range(0..lab.len())
                    };
                    line_loss += sh.update(&mut st, inp, lab, index, lr);
                    line_examples += 1;
                }
            }
            Corpus::Unsupervised { tokens } => {
                // fastText's getLine: up to `</s>` or 1025 in-vocabulary tokens.
                line.clear();
                let mut ntok = 0usize;
                loop {
                    if pos >= tokens.len() {
                        pos = 0;
                    }
                    let id = tokens[pos];
                    pos += 1;
                    ntok += 1;
                    if id < nwords && st.rng.random::<f64>() <= sh.pdiscard[id as usize] as f64 {
                        line.push(id);
                    }
                    if ntok > MAX_LINE_SIZE || Some(id) == eos {
                        break;
                    }
                }
                local += ntok as i64;
                match args.model {
                    ModelName::Cbow => {
                        for w in 0..line.len() {
                            let boundary = st.rng.random_range(1..=args.ws);
                            bow.clear();
                            let lo = w.saturating_sub(boundary);
                            let hi = (w + boundary + 1).min(line.len());
                            for (c, &id) in line[lo..hi].iter().enumerate() {
                                if lo + c != w {
                                    bow.extend_from_slice(sh.dict.subwords_of(id));
                                }
                            }
                            if bow.is_empty() {
                                continue;
                            }
                            sh.compute_hidden(&mut st, &bow);
                            line_loss += sh.update(&mut st, &bow, &line, w, lr);
                            line_examples += 1;
                        }
                    }
                    _ => {
                        for w in 0..line.len() {
                            let boundary = st.rng.random_range(1..=args.ws);
                            let ngrams = sh.dict.subwords_of(line[w]);
                            let lo = w.saturating_sub(boundary);
                            let hi = (w + boundary + 1).min(line.len());
                            if hi - lo <= 1 {
                                continue;
                            }
                            sh.compute_hidden(&mut st, ngrams);
                            st.grad.iter_mut().for_each(|x| *x = 0.0);
                            for c in lo..hi {
                                if c != w {
                                    line_loss += sh.forward(&mut st, &line, c, lr);
                                    line_examples += 1;
                                }
                            }
                            for &id in ngrams {
                                sh.input.add_scaled(id as usize, 1.0, &st.grad);
                            }
                        }
                    }
                }
            }
        }
        if st.nan || !line_loss.is_finite() {
            return Err(Error::InvalidInput(format!(
                "training diverged: Encountered NaN in the loss; lower the learning rate (lr={})",
                args.lr
            )));
        }
        if line_examples > 0 {
            loss_sum += line_loss as f64;
            n_examples += line_examples as u64;
            per_epoch[epoch].0 += line_loss as f64;
            per_epoch[epoch].1 += line_examples as u64;
        }
        if local > lr_update {
            token_count.fetch_add(local, Relaxed);
            local = 0;
            if thread == 0 && n_examples > 0 {
                running_loss.store((loss_sum / n_examples as f64).to_bits(), Relaxed);
            }
        }
    }
    Ok(per_epoch)
}
