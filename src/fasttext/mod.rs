//! Facebook fastText in pure Rust: subword embeddings (cbow / skip-gram) and the supervised
//! classifier, reading and writing fastText's `.bin` files.
//!
//! * [`args`]: hyper-parameters and defaults;
//! * [`dictionary`]: tokenisation, vocabulary, char n-grams and word n-grams;
//! * [`io`]: the `.bin` layout (versions 11 and 12, and the pre-0.9 layout gensim reads);
//! * [`loss`]: output layers and their prediction side;
//! * [`train`]: Hogwild training.
//!
//! Inference (word / sentence vectors, predict, test) lives here.

pub mod args;
pub mod dictionary;
pub mod io;
pub mod loss;
pub mod train;

#[cfg(target_arch = "x86_64")]
use crate::embed::kernels::Avx2Fma;
use crate::embed::kernels::{Portable, Simd};
use crate::error::{Error, Result};
use crate::runtime::{thread_pool, Interrupt};
use args::{Args, ModelName};
use dictionary::{Dictionary, EntryKind};
use loss::OutputLayer;
use rayon::prelude::*;

/// A fastText model: arguments, dictionary and both weight matrices.
#[derive(Clone, Debug)]
pub struct FastText {
    /// Hyper-parameters.
    pub args: Args,
    /// File format version (12 for models trained here; 0 for the pre-0.9 layout).
    pub version: i32,
    /// The vocabulary.
    pub dict: Dictionary,
    /// Input matrix, `(nwords + bucket) x dim`, row-major.
    pub input: Vec<f32>,
    /// Output matrix, `(nlabels or nwords, or inner nodes) x dim`, row-major.
    pub output: Vec<f32>,
    /// Average training loss of each epoch (empty for a loaded model).
    pub epoch_losses: Vec<f64>,
    layer: OutputLayer,
}

/// Hints the CPU to load `data[start..start + len]` into the cache (no effect on results).
#[inline(always)]
fn prefetch(data: &[f32], start: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(row) = data.get(start..start + len) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in row.chunks(16) {
            // SAFETY: a prefetch is only a hint; it never faults, and the pointer is in bounds.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr() as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, start, len);
}

/// Lines of `texts` per parallel task.
const BATCH: usize = 64;

impl FastText {
    /// Assembles a model and its output layer.
    pub fn from_parts(
        args: Args,
        version: i32,
        dict: Dictionary,
        input: Vec<f32>,
        output: Vec<f32>,
    ) -> Self {
        let counts = if args.model == ModelName::Supervised {
            dict.counts(EntryKind::Label)
        } else {
            dict.counts(EntryKind::Word)
        };
        let layer = OutputLayer::new(args.loss, &counts);
        FastText {
            args,
            version,
            dict,
            input,
            output,
            epoch_losses: Vec::new(),
            layer,
        }
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.args.dim
    }

    /// Whether this is a classifier.
    pub fn is_supervised(&self) -> bool {
        self.args.model == ModelName::Supervised
    }

    /// Mean of the input rows `ids` into `out` (fastText's `computeHidden`: add rows in order,
    /// then multiply by the float of 1/n).
    fn average_rows(&self, ids: &[u32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = Avx2Fma::detect() {
            // SAFETY: an `Avx2Fma` value exists only if the CPU has AVX2 and FMA.
            return unsafe { self.average_rows_avx2(k, ids, out) };
        }
        self.average_rows_with(Portable, ids, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn average_rows_avx2(&self, k: Avx2Fma, ids: &[u32], out: &mut [f32]) {
        self.average_rows_with(k, ids, out)
    }

    /// Each output element is still the sum of its column in row order (`y += 1 * x` is one
    /// rounding, with or without FMA), so the result is bit-identical to fastText's. Rows are
    /// prefetched a few ahead: they are random rows of a large matrix.
    #[inline(always)]
    fn average_rows_with<S: Simd>(&self, k: S, ids: &[u32], out: &mut [f32]) {
        let dim = self.args.dim;
        let out = &mut out[..dim];
        out.iter_mut().for_each(|x| *x = 0.0);
        const AHEAD: usize = 6;
        for &id in ids.iter().take(AHEAD) {
            prefetch(&self.input, id as usize * dim, dim);
        }
        for (i, &id) in ids.iter().enumerate() {
            if let Some(&next) = ids.get(i + AHEAD) {
                prefetch(&self.input, next as usize * dim, dim);
            }
            let row = &self.input[id as usize * dim..(id as usize + 1) * dim];
            k.axpy(1.0, row, out);
        }
        if !ids.is_empty() {
            let s = (1.0f64 / ids.len() as f64) as f32;
            out.iter_mut().for_each(|x| *x *= s);
        }
    }

    /// fastText's `getWordVector` (zeros when the word has no rows).
    pub fn word_vector(&self, word: &[u8], out: &mut [f32], ids: &mut Vec<u32>) {
        self.dict.subwords_for(word, ids);
        self.average_rows(ids, out);
    }

    /// Word vectors of many words, `n x dim`, in parallel.
    pub fn word_vectors(&self, words: &[&[u8]], n_threads: usize) -> Result<Vec<f32>> {
        let dim = self.args.dim;
        let mut out = vec![0.0f32; words.len() * dim];
        thread_pool(n_threads)?.install(|| {
            out.par_chunks_mut(dim * BATCH)
                .zip(words.par_chunks(BATCH))
                .for_each(|(block, ws)| {
                    let mut ids = Vec::new();
                    for (o, w) in block.chunks_exact_mut(dim).zip(ws) {
                        self.word_vector(w, o, &mut ids);
                    }
                })
        });
        Ok(out)
    }

    /// Vectors of every vocabulary word, in dictionary order.
    pub fn all_word_vectors(&self, n_threads: usize) -> Result<Vec<f32>> {
        let words: Vec<&[u8]> = self.dict.entries[..self.dict.nwords]
            .iter()
            .map(|e| e.word.as_slice())
            .collect();
        self.word_vectors(&words, n_threads)
    }

    /// fastText's `getSentenceVector` for one line (no newline inside; checked by the caller).
    pub fn sentence_vector(&self, text: &[u8], out: &mut [f32]) {
        let dim = self.args.dim;
        if self.is_supervised() {
            let mut line = text.to_vec();
            line.push(b'\n');
            let (mut words, mut labels, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
            self.dict.supervised_line(
                &line,
                self.args.word_ngrams,
                &mut words,
                &mut labels,
                &mut hashes,
            );
            self.average_rows(&words, out);
        } else {
            out.iter_mut().for_each(|x| *x = 0.0);
            let mut vec = vec![0.0f32; dim];
            let mut ids = Vec::new();
            let mut count = 0usize;
            for word in text
                .split(|&b| dictionary::is_space(b))
                .filter(|w| !w.is_empty())
            {
                self.word_vector(word, &mut vec, &mut ids);
                let mut sum = 0.0f32;
                for v in &vec {
                    sum += v * v;
                }
                let norm = sum.sqrt();
                if norm > 0.0 {
                    let s = (1.0f64 / norm as f64) as f32;
                    for (o, v) in out.iter_mut().zip(&vec) {
                        *o += v * s;
                    }
                    count += 1;
                }
            }
            if count > 0 {
                let s = (1.0f64 / count as f64) as f32;
                out.iter_mut().for_each(|x| *x *= s);
            }
        }
    }

    /// Sentence vectors of many lines, `n x dim`, in parallel.
    pub fn sentence_vectors(&self, texts: &[&[u8]], n_threads: usize) -> Result<Vec<f32>> {
        let dim = self.args.dim;
        let mut out = vec![0.0f32; texts.len() * dim];
        thread_pool(n_threads)?.install(|| {
            out.par_chunks_mut(dim * BATCH)
                .zip(texts.par_chunks(BATCH))
                .for_each(|(block, ts)| {
                    for (o, t) in block.chunks_exact_mut(dim).zip(ts) {
                        self.sentence_vector(t, o);
                    }
                })
        });
        Ok(out)
    }

    fn require_supervised(&self) -> Result<()> {
        if !self.is_supervised() {
            return Err(Error::InvalidInput(
                "Model needs to be supervised for prediction!".into(),
            ));
        }
        Ok(())
    }

    /// Predictions (log-probability, label index), best first, for input rows `words`.
    fn predict_ids(
        &self,
        words: &[u32],
        k: usize,
        threshold: f32,
        hidden: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> Vec<(f32, u32)> {
        if words.is_empty() {
            return vec![];
        }
        self.average_rows(words, hidden);
        self.layer
            .predict(&self.output, self.args.dim, hidden, k, threshold, scratch)
    }

    /// `k` (None = all) best labels of each line with their probabilities, as the `fasttext`
    /// package's `predict` (each text gets the newline the package appends).
    pub fn predict(
        &self,
        texts: &[&[u8]],
        k: Option<usize>,
        threshold: f32,
        n_threads: usize,
        interrupt: &dyn Interrupt,
    ) -> Result<Vec<Vec<(u32, f32)>>> {
        self.require_supervised()?;
        let k = k.unwrap_or(self.dict.nlabels);
        let mut results = vec![Vec::new(); texts.len()];
        let pool = thread_pool(n_threads)?;
        // Chunks of ~0.1 s between interrupt checks.
        for (res_chunk, text_chunk) in results.chunks_mut(8192).zip(texts.chunks(8192)) {
            interrupt.check()?;
            pool.install(|| {
                res_chunk
                    .par_chunks_mut(BATCH)
                    .zip(text_chunk.par_chunks(BATCH))
                    .for_each(|(rs, ts)| {
                        let mut s = Scratch::new(self.args.dim);
                        for (r, t) in rs.iter_mut().zip(ts) {
                            s.line.clear();
                            s.line.extend_from_slice(t);
                            s.line.push(b'\n');
                            self.dict.supervised_line(
                                &s.line,
                                self.args.word_ngrams,
                                &mut s.words,
                                &mut s.labels,
                                &mut s.hashes,
                            );
                            *r = self
                                .predict_ids(&s.words, k, threshold, &mut s.hidden, &mut s.out)
                                .into_iter()
                                .map(|(score, label)| (label, score.exp()))
                                .collect();
                        }
                    })
            });
        }
        Ok(results)
    }

    /// fastText's `test`: (examples, precision@k, recall@k) over the lines of `text`.
    pub fn test(
        &self,
        text: &[u8],
        k: Option<usize>,
        threshold: f32,
        n_threads: usize,
        interrupt: &dyn Interrupt,
    ) -> Result<(u64, f64, f64)> {
        self.require_supervised()?;
        let k = k.unwrap_or(self.dict.nlabels);
        let lines: Vec<&[u8]> = split_lines(text);
        let pool = thread_pool(n_threads)?;
        let mut totals = [0u64; 4]; // examples, gold, predicted, predicted & gold
        for chunk in lines.chunks(8192) {
            interrupt.check()?;
            let part = pool.install(|| {
                chunk
                    .par_chunks(BATCH)
                    .map(|ls| {
                        let mut s = Scratch::new(self.args.dim);
                        let mut t = [0u64; 4];
                        for l in ls {
                            self.dict.supervised_line(
                                l,
                                self.args.word_ngrams,
                                &mut s.words,
                                &mut s.labels,
                                &mut s.hashes,
                            );
                            if s.labels.is_empty() || s.words.is_empty() {
                                continue;
                            }
                            let preds =
                                self.predict_ids(&s.words, k, threshold, &mut s.hidden, &mut s.out);
                            t[0] += 1;
                            t[1] += s.labels.len() as u64;
                            t[2] += preds.len() as u64;
                            t[3] +=
                                preds.iter().filter(|(_, l)| s.labels.contains(l)).count() as u64;
                        }
                        t
                    })
                    .reduce(
                        || [0u64; 4],
                        |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]],
                    )
            });
            for (t, p) in totals.iter_mut().zip(part) {
                *t += p;
            }
        }
        let ratio = |a: u64, b: u64| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        Ok((
            totals[0],
            ratio(totals[3], totals[2]),
            ratio(totals[3], totals[1]),
        ))
    }
}

/// Splits text into fastText lines (each keeps its newline; a last line without one counts).
pub fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            lines.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

struct Scratch {
    line: Vec<u8>,
    words: Vec<u32>,
    labels: Vec<u32>,
    hashes: Vec<i32>,
    hidden: Vec<f32>,
    out: Vec<f32>,
}

impl Scratch {
    fn new(dim: usize) -> Self {
        Scratch {
            line: Vec::new(),
            words: Vec::new(),
            labels: Vec::new(),
            hashes: Vec::new(),
            hidden: vec![0.0; dim],
            out: Vec::new(),
        }
    }
}

/// Reads a training / test file (`*.gz` decompressed) into memory.
pub fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut reader = crate::embed::corpus::open_text(&path.to_path_buf())?;
    let mut data = Vec::new();
    reader
        .read_to_end(&mut data)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
    Ok(data)
}

/// Joins lines into one fastText text, each line ended by a newline.
pub fn join_lines<S: AsRef<[u8]>>(lines: &[S]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 1).sum());
    for l in lines {
        out.extend_from_slice(l.as_ref());
        out.push(b'\n');
    }
    out
}
