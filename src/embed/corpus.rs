//! Corpus handling for word embeddings: vocabulary counting, frequent-word subsampling,
//! the negative-sampling distribution, the Huffman tree, and the sources that feed the
//! trainer a flat `u32` token buffer plus sentence ends, block by block.

use crate::error::{Error, Result};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Longest sentence piece handed to the trainer. Longer sentences are split into pieces of this
/// many tokens (none is dropped); context windows do not cross a split. gensim's `corpus_file`
/// mode splits at the same length, word2vec.c at 1000.
pub const MAX_SENTENCE_LEN: usize = 10_000;

/// Opens a text file, transparently decompressing `*.gz`.
pub fn open_text(path: &PathBuf) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)
        .map_err(|e| Error::InvalidInput(format!("cannot open {}: {e}", path.display())))?;
    let is_gz = path.extension().is_some_and(|e| e == "gz");
    let inner: Box<dyn Read + Send> = if is_gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 20,
            file,
        )))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, inner)))
}

/// Reads one line (up to and including `\n`) into `buf` as UTF-8; `Ok(false)` at end of file.
fn read_line(
    reader: &mut dyn BufRead,
    raw: &mut Vec<u8>,
    path: &Path,
    line_no: u64,
) -> Result<bool> {
    raw.clear();
    let n = reader
        .read_until(b'\n', raw)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
    if n == 0 {
        return Ok(false);
    }
    if std::str::from_utf8(raw).is_err() {
        return Err(Error::InvalidInput(format!(
            "{}: line {} is not valid UTF-8",
            path.display(),
            line_no + 1
        )));
    }
    Ok(true)
}

/// Word counts gathered from a corpus, in first-seen order.
#[derive(Default)]
pub struct VocabCounter {
    index: FxHashMap<String, usize>,
    /// Words in first-seen order (pruned entries are removed).
    pub words: Vec<String>,
    /// Their counts.
    pub counts: Vec<u64>,
    /// Number of tokens seen (including later-pruned words).
    pub total_tokens: u64,
    /// Number of sentences (lines) seen.
    pub n_sentences: u64,
    max_vocab_size: Option<usize>,
    min_reduce: u64,
}

impl VocabCounter {
    /// A counter that prunes like gensim's `max_vocab_size`: whenever the number of distinct
    /// words exceeds it, every word with count `< min_reduce` is dropped, then `min_reduce += 1`.
    pub fn new(max_vocab_size: Option<usize>) -> Self {
        VocabCounter {
            max_vocab_size,
            min_reduce: 1,
            ..Default::default()
        }
    }

    /// Counts one token.
    #[inline]
    pub fn add(&mut self, word: &str) {
        self.total_tokens += 1;
        if let Some(&i) = self.index.get(word) {
            self.counts[i] += 1;
        } else {
            self.index.insert(word.to_owned(), self.words.len());
            self.words.push(word.to_owned());
            self.counts.push(1);
        }
    }

    /// Ends a sentence; applies `max_vocab_size` pruning (gensim checks after each sentence).
    pub fn end_sentence(&mut self) {
        self.n_sentences += 1;
        if let Some(max) = self.max_vocab_size {
            if self.words.len() > max {
                self.prune();
            }
        }
    }

    fn prune(&mut self) {
        let min_reduce = self.min_reduce;
        let mut words = Vec::new();
        let mut counts = Vec::new();
        for (w, &c) in self.words.iter().zip(&self.counts) {
            if c >= min_reduce {
                words.push(w.clone());
                counts.push(c);
            }
        }
        self.index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        self.words = words;
        self.counts = counts;
        self.min_reduce += 1;
    }

    /// The words counted at least `min_count` times or found in `keep`, with their counts, in
    /// first-seen order: the vocabulary pass hands back only the words a model can keep (a
    /// corpus has several times more rare words than kept ones). `total_tokens` and
    /// `n_sentences` stay the totals. Ends counting (the word index is dropped).
    pub fn into_kept(mut self, min_count: u64, keep: impl Fn(&str) -> bool) -> Self {
        self.index = FxHashMap::default();
        let words = std::mem::take(&mut self.words);
        let counts = std::mem::take(&mut self.counts);
        for (w, c) in words.into_iter().zip(counts) {
            if c >= min_count || keep(&w) {
                self.words.push(w);
                self.counts.push(c);
            }
        }
        self.words.shrink_to_fit();
        self.counts.shrink_to_fit();
        self
    }

    /// Counts every whitespace-separated token of the given files (one sentence per line).
    pub fn count_files(
        &mut self,
        paths: &[PathBuf],
        interrupt: &dyn crate::runtime::Interrupt,
    ) -> Result<()> {
        let mut raw = Vec::new();
        for path in paths {
            let mut reader = open_text(path)?;
            let mut line_no = 0u64;
            while read_line(reader.as_mut(), &mut raw, path, line_no)? {
                // from_utf8 was checked in read_line.
                let line = std::str::from_utf8(&raw).unwrap_or("");
                for tok in line.split_whitespace() {
                    self.add(tok);
                }
                self.end_sentence();
                line_no += 1;
                if line_no % 50_000 == 0 {
                    interrupt.check()?;
                }
            }
        }
        Ok(())
    }
}

/// Frequent-word subsampling thresholds, as gensim's `prepare_vocab` (Mikolov et al. 2013b,
/// word2vec.c formula): with `t = sample * N` (or `sample` itself when `sample >= 1`), a word of
/// count `c` is kept with probability `min(1, (sqrt(c/t) + 1) * t / c)`. Returned as a `u32`
/// threshold: keep iff `threshold >= U32 draw`.
pub fn sample_thresholds(counts: &[u64], sample: f64) -> Vec<u32> {
    let retain_total: f64 = counts.iter().map(|&c| c as f64).sum();
    let threshold_count = if sample <= 0.0 {
        retain_total
    } else if sample < 1.0 {
        sample * retain_total
    } else {
        sample * (3.0 + 5f64.sqrt()) / 2.0
    };
    counts
        .iter()
        .map(|&c| {
            let v = (c.max(1)) as f64;
            let p = ((v / threshold_count).sqrt() + 1.0) * (threshold_count / v);
            if p < 1.0 {
                (p * (u32::MAX as f64)) as u32
            } else {
                u32::MAX
            }
        })
        .collect()
}

/// Walker/Vose alias table: O(1) draws from the unigram distribution `count^exponent`
/// (word2vec.c and gensim draw from the same distribution through a 1e8-entry table or a
/// cumulative table + bisection).
pub struct AliasTable {
    /// `[acceptance threshold, alias]` per cell, side by side so that a draw touches one
    /// cache line, not two.
    cells: Vec<[u32; 2]>,
}

impl AliasTable {
    /// Builds the table for weights `count^exponent`; `None` if every weight is zero.
    pub fn new(counts: &[u64], exponent: f64) -> Option<Self> {
        let n = counts.len();
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(exponent)).collect();
        let total: f64 = w.iter().sum();
        if n == 0 || total.is_nan() || total <= 0.0 || !total.is_finite() {
            return None;
        }
        let mut scaled: Vec<f64> = w.iter().map(|x| x * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let mut prob = vec![u32::MAX; n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = (scaled[s] * u32::MAX as f64) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        let cells = prob.into_iter().zip(alias).map(|(p, a)| [p, a]).collect();
        Some(AliasTable { cells })
    }

    /// Draws a word id from one 64-bit random number.
    #[inline(always)]
    pub fn sample(&self, r: u64) -> u32 {
        let n = self.cells.len() as u64;
        let i = (((r >> 32) * n) >> 32) as usize;
        let [prob, alias] = self.cells[i];
        if (r as u32) < prob {
            i as u32
        } else {
            alias
        }
    }
}

/// Huffman codes and paths for hierarchical softmax (word2vec.c `CreateBinaryTree`).
/// For word `w`, `codes[w]` are the left/right bits from the root down, `points[w]` the inner
/// node ids (`0..V-1`, root = `V-2`) along the same path.
pub struct Huffman {
    /// Concatenated codes.
    pub codes: Vec<u8>,
    /// Concatenated inner-node ids.
    pub points: Vec<u32>,
    /// `offsets[w]..offsets[w+1]` indexes `codes` and `points` for word `w`.
    pub offsets: Vec<usize>,
}

impl Huffman {
    /// Builds the tree from word counts (any order; ties broken by id for determinism).
    pub fn new(counts: &[u64]) -> Self {
        let v = counts.len();
        let mut parent = vec![0usize; 2 * v.max(1)];
        let mut bit = vec![0u8; 2 * v.max(1)];
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| Reverse((c, i)))
            .collect();
        let mut next = v;
        while heap.len() > 1 {
            let (Some(Reverse((c1, a))), Some(Reverse((c2, b)))) = (heap.pop(), heap.pop()) else {
                break;
            };
            parent[a] = next;
            parent[b] = next;
            bit[a] = 0;
            bit[b] = 1;
            heap.push(Reverse((c1 + c2, next)));
            next += 1;
        }
        let root = next.saturating_sub(1);
        let mut codes = Vec::new();
        let mut points = Vec::new();
        let mut offsets = vec![0usize];
        let mut path_codes = Vec::new();
        let mut path_nodes = Vec::new();
        for w in 0..v {
            path_codes.clear();
            path_nodes.clear();
            let mut node = w;
            while v > 1 && node != root {
                path_codes.push(bit[node]);
                node = parent[node];
                path_nodes.push((node - v) as u32);
            }
            codes.extend(path_codes.iter().rev());
            points.extend(path_nodes.iter().rev());
            offsets.push(codes.len());
        }
        Huffman {
            codes,
            points,
            offsets,
        }
    }
}

/// A block of sentences: token ids and the end offset of every sentence piece.
#[derive(Default)]
pub struct Block {
    /// Token ids (only in-vocabulary words).
    pub tokens: Vec<u32>,
    /// `sentence_ends[k]` is the end of sentence piece `k` in `tokens`.
    pub sentence_ends: Vec<usize>,
    /// Position in the epoch (in-vocabulary tokens before this block).
    pub start_word: u64,
}

impl Block {
    fn clear(&mut self, start_word: u64) {
        self.tokens.clear();
        self.sentence_ends.clear();
        self.start_word = start_word;
    }

    /// Appends a sentence, splitting it in pieces of at most [`MAX_SENTENCE_LEN`] tokens.
    pub fn push_sentence(&mut self, ids: &[u32]) {
        for piece in ids.chunks(MAX_SENTENCE_LEN) {
            self.tokens.extend_from_slice(piece);
            self.sentence_ends.push(self.tokens.len());
        }
    }
}

/// Something that yields the corpus block by block, once per epoch.
pub trait CorpusSource: Send {
    /// Rewinds to the start of the corpus.
    fn reset(&mut self) -> Result<()>;
    /// Fills `block` with about `target_tokens` tokens; `Ok(false)` when the epoch is over.
    fn next_block(&mut self, target_tokens: usize, block: &mut Block) -> Result<bool>;
}

/// An in-memory corpus already encoded as token ids and sentence ends.
pub struct MemorySource<'a> {
    tokens: &'a [u32],
    sentence_ends: &'a [u64],
    next_sentence: usize,
    pos: u64,
}

impl<'a> MemorySource<'a> {
    /// Validates the buffer: ends non-decreasing, last end == tokens.len(), ids < vocab_size.
    pub fn new(tokens: &'a [u32], sentence_ends: &'a [u64], vocab_size: usize) -> Result<Self> {
        let mut prev = 0u64;
        for &e in sentence_ends {
            if e < prev || e > tokens.len() as u64 {
                return Err(Error::InvalidInput(
                    "sentence offsets are not sorted or out of range".into(),
                ));
            }
            prev = e;
        }
        if prev != tokens.len() as u64 {
            return Err(Error::InvalidInput(
                "sentence offsets do not cover the token buffer".into(),
            ));
        }
        if tokens.iter().any(|&t| t as usize >= vocab_size) {
            return Err(Error::InvalidInput(
                "token id out of vocabulary range".into(),
            ));
        }
        Ok(MemorySource {
            tokens,
            sentence_ends,
            next_sentence: 0,
            pos: 0,
        })
    }
}

impl CorpusSource for MemorySource<'_> {
    fn reset(&mut self) -> Result<()> {
        self.next_sentence = 0;
        self.pos = 0;
        Ok(())
    }

    fn next_block(&mut self, target_tokens: usize, block: &mut Block) -> Result<bool> {
        block.clear(self.pos);
        while self.next_sentence < self.sentence_ends.len() && block.tokens.len() < target_tokens {
            let start = if self.next_sentence == 0 {
                0
            } else {
                self.sentence_ends[self.next_sentence - 1] as usize
            };
            let end = self.sentence_ends[self.next_sentence] as usize;
            block.push_sentence(&self.tokens[start..end]);
            self.next_sentence += 1;
        }
        self.pos += block.tokens.len() as u64;
        Ok(self.next_sentence < self.sentence_ends.len() || !block.tokens.is_empty())
    }
}

/// Text files streamed from disk, one sentence per line, whitespace-separated tokens;
/// memory use is one block whatever the corpus size.
pub struct FileSource {
    paths: Vec<PathBuf>,
    vocab: FxHashMap<String, u32>,
    file_idx: usize,
    reader: Option<Box<dyn BufRead + Send>>,
    raw: Vec<u8>,
    ids: Vec<u32>,
    line_no: u64,
    pos: u64,
}

impl FileSource {
    /// A source over `paths` keeping only the words of `vocab` (word id = position).
    pub fn new(paths: Vec<PathBuf>, vocab: &[String]) -> Self {
        let vocab = vocab
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        FileSource {
            paths,
            vocab,
            file_idx: 0,
            reader: None,
            raw: Vec::new(),
            ids: Vec::new(),
            line_no: 0,
            pos: 0,
        }
    }
}

impl CorpusSource for FileSource {
    fn reset(&mut self) -> Result<()> {
        self.file_idx = 0;
        self.reader = None;
        self.pos = 0;
        Ok(())
    }

    fn next_block(&mut self, target_tokens: usize, block: &mut Block) -> Result<bool> {
        block.clear(self.pos);
        while block.tokens.len() < target_tokens {
            if self.reader.is_none() {
                let Some(path) = self.paths.get(self.file_idx) else {
                    break;
                };
                self.reader = Some(open_text(path)?);
                self.line_no = 0;
            }
            let path = &self.paths[self.file_idx];
            let more = match self.reader.as_mut() {
                Some(r) => read_line(r.as_mut(), &mut self.raw, path, self.line_no)?,
                None => false,
            };
            if !more {
                self.reader = None;
                self.file_idx += 1;
                continue;
            }
            self.line_no += 1;
            let line = std::str::from_utf8(&self.raw).unwrap_or("");
            self.ids.clear();
            self.ids.extend(
                line.split_whitespace()
                    .filter_map(|t| self.vocab.get(t).copied()),
            );
            block.push_sentence(&self.ids);
        }
        self.pos += block.tokens.len() as u64;
        Ok(!block.tokens.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::rng_stream;
    use rand::RngCore;

    #[test]
    fn into_kept_drops_rare_words_but_keeps_totals() {
        let mut c = VocabCounter::new(None);
        for line in ["a b a c", "a d b e"] {
            line.split_whitespace().for_each(|w| c.add(w));
            c.end_sentence();
        }
        let c = c.into_kept(2, |w| w == "e");
        assert_eq!(c.words, ["a", "b", "e"]);
        assert_eq!(c.counts, [3, 2, 1]);
        assert_eq!((c.total_tokens, c.n_sentences), (8, 2));
    }

    #[test]
    fn huffman_textbook_example() {
        // Classic example: frequencies 5, 9, 12, 13, 16, 45 give code lengths 4, 4, 3, 3, 3, 1.
        let counts = [45u64, 13, 12, 16, 9, 5];
        let h = Huffman::new(&counts);
        let lens: Vec<usize> = (0..6).map(|w| h.offsets[w + 1] - h.offsets[w]).collect();
        assert_eq!(lens, vec![1, 3, 3, 3, 4, 4]);
        // Kraft equality for a full binary tree and prefix-freeness.
        let kraft: f64 = lens.iter().map(|&l| 0.5f64.powi(l as i32)).sum();
        assert!((kraft - 1.0).abs() < 1e-12);
        let code = |w: usize| h.codes[h.offsets[w]..h.offsets[w + 1]].to_vec();
        for a in 0..6 {
            for b in 0..6 {
                if a != b {
                    assert!(!code(b).starts_with(&code(a)), "{a} prefix of {b}");
                }
            }
            // Every path starts at the root, inner node V-2.
            assert_eq!(h.points[h.offsets[a]], 4);
            assert!(h.points[h.offsets[a]..h.offsets[a + 1]]
                .iter()
                .all(|&p| p < 5));
        }
    }

    #[test]
    fn huffman_single_word_has_empty_code() {
        let h = Huffman::new(&[7]);
        assert_eq!(h.offsets, vec![0, 0]);
    }

    #[test]
    fn alias_table_matches_unigram_power() {
        let counts = [1000u64, 300, 50, 7, 1];
        let t = AliasTable::new(&counts, 0.75).unwrap();
        let mut rng = rng_stream(3, 0);
        let n = 2_000_000;
        let mut hist = [0u64; 5];
        for _ in 0..n {
            hist[t.sample(rng.next_u64()) as usize] += 1;
        }
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let total: f64 = w.iter().sum();
        for i in 0..5 {
            let p = w[i] / total;
            let got = hist[i] as f64 / n as f64;
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            assert!((got - p).abs() < 5.0 * sd + 1e-6, "word {i}: {got} vs {p}");
        }
    }

    #[test]
    fn subsampling_matches_formula() {
        let counts = [1_000_000u64, 1000, 1];
        let th = sample_thresholds(&counts, 1e-3);
        let t = 1e-3 * 1_001_001.0;
        let p0 = ((1_000_000.0f64 / t).sqrt() + 1.0) * t / 1_000_000.0;
        assert!(((th[0] as f64 / u32::MAX as f64) - p0).abs() < 1e-6);
        assert_eq!(th[1], u32::MAX);
        assert_eq!(th[2], u32::MAX);
    }

    #[test]
    fn long_sentences_are_split_not_truncated() {
        let tokens: Vec<u32> = (0..25_000).map(|i| (i % 3) as u32).collect();
        let ends = [25_000u64];
        let mut src = MemorySource::new(&tokens, &ends, 3).unwrap();
        let mut block = Block::default();
        assert!(src.next_block(1 << 20, &mut block).unwrap());
        assert_eq!(block.tokens.len(), 25_000);
        assert_eq!(block.sentence_ends, vec![10_000, 20_000, 25_000]);
        assert!(!src.next_block(1 << 20, &mut block).unwrap());
    }

    #[test]
    fn memory_source_rejects_bad_offsets() {
        assert!(MemorySource::new(&[0, 1], &[3], 2).is_err());
        assert!(MemorySource::new(&[0, 5], &[2], 2).is_err());
        assert!(MemorySource::new(&[0, 1], &[1], 2).is_err());
    }
}
