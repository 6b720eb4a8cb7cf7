//! Counting terms: vocabulary learning (fit) and counting against a fixed vocabulary
//! (transform), both chunked over documents and run on a rayon pool.
//!
//! Fit keeps scikit-learn's layout exactly: term ids are alphabetical (code-point order, which is
//! UTF-8 byte order), and inside a row the entries are ordered by the position at which the term
//! first appeared in the whole corpus (sklearn sorts the rows by insertion id, then renumbers the
//! columns alphabetically without re-sorting). Transform rows are sorted by column.

use crate::error::{Error, Result};
use crate::runtime::Interrupt;
use crate::text::analyze::{AnalyzerKind, AnalyzerSpec, DocRef, Scratch};
use crate::text::intern::{hash_seq, Interner, SeqInterner};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Documents per chunk (one unit of parallel work).
const CHUNK_DOCS: usize = 1024;
/// Bytes of text per chunk, whichever limit is hit first.
const CHUNK_BYTES: usize = 1 << 19;

/// The documents to analyze.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// Preprocessed documents.
    Docs(&'a [&'a str]),
    /// Pre-tokenized documents: tokens of document `i` are `tokens[offsets[i]..offsets[i+1]]`.
    Joined {
        /// One string per document: its tokens joined by NUL.
        docs: &'a [&'a str],
        /// Number of tokens of each document.
        counts: &'a [usize],
    },
    /// Pre-tokenized documents as flat token lists.
    Tokens {
        /// All tokens, document after document.
        tokens: &'a [&'a str],
        /// `n_docs + 1` offsets into `tokens`.
        offsets: &'a [usize],
    },
}

impl CountOutput {
    /// The vocabulary in column (alphabetical) order.
    pub fn terms(&self) -> impl Iterator<Item = &str> + '_ {
        self.terms.order.iter().map(|&p| self.terms.get(p))
    }

    /// Number of terms.
    pub fn n_terms(&self) -> usize {
        self.terms.len()
    }
}

impl<'a> Input<'a> {
    /// Number of documents.
    pub fn len(&self) -> usize {
        match self {
            Input::Docs(d) => d.len(),
            Input::Tokens { offsets, .. } => offsets.len().saturating_sub(1),
            Input::Joined { docs, .. } => docs.len(),
        }
    }

    /// Whether there is no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn validate(&self) -> Result<()> {
        if let Input::Joined { docs, counts } = self {
            if docs.len() != counts.len() {
                return Err(Error::InvalidInput(
                    "token counts and documents differ in length".into(),
                ));
            }
        }
        if let Input::Tokens { tokens, offsets } = self {
            let ok = offsets.first().is_some_and(|&o| o == 0)
                && offsets.windows(2).all(|w| w[0] <= w[1])
                && offsets.last().is_some_and(|&o| o == tokens.len());
            if !ok {
                return Err(Error::InvalidInput("malformed token offsets".into()));
            }
        }
        Ok(())
    }

    fn doc(&self, i: usize) -> DocRef<'a> {
        match *self {
            Input::Docs(d) => DocRef::Text(d[i]),
            Input::Joined { docs, counts } => DocRef::Joined(docs[i], counts[i]),
            Input::Tokens { tokens, offsets } => {
                DocRef::Tokens(&tokens[offsets[i]..offsets[i + 1]])
            }
        }
    }

    fn weight(&self, i: usize) -> usize {
        match self {
            Input::Docs(d) => d[i].len() + 16,
            Input::Tokens { offsets, .. } => 8 * (offsets[i + 1] - offsets[i]) + 16,
            Input::Joined { docs, .. } => docs[i].len() + 16,
        }
    }

    /// Total weight (about the text size in bytes) of the documents `range.0..range.1`.
    fn bytes(&self, range: (usize, usize)) -> usize {
        (range.0..range.1).map(|i| self.weight(i)).sum()
    }

    /// Splits documents into chunks of bounded size.
    fn chunks(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for i in 0..self.len() {
            bytes += self.weight(i);
            if i + 1 - start >= CHUNK_DOCS || bytes >= CHUNK_BYTES {
                out.push((start, i + 1));
                start = i + 1;
                bytes = 0;
            }
        }
        if start < self.len() {
            out.push((start, self.len()));
        }
        out
    }
}

/// Element type of the output matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// float64
    F64,
    /// float32
    F32,
    /// int64
    I64,
    /// int32
    I32,
}

/// Output values, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum DataVec {
    /// float64 values
    F64(Vec<f64>),
    /// float32 values
    F32(Vec<f32>),
    /// int64 values
    I64(Vec<i64>),
    /// int32 values
    I32(Vec<i32>),
}

/// Index arrays: int32 unless the matrix has more than `i32::MAX` stored values (as scipy/sklearn).
#[derive(Debug, Clone, PartialEq)]
pub enum IndexVec {
    /// int32
    I32(Vec<i32>),
    /// int64
    I64(Vec<i64>),
}

/// A CSR matrix in scipy's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    /// Row pointers (`n_rows + 1`).
    pub indptr: IndexVec,
    /// Column indices.
    pub indices: IndexVec,
    /// Values.
    pub data: DataVec,
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
}

/// Result of [`fit`].
#[derive(Debug)]
pub struct CountOutput {
    /// The vocabulary in column (alphabetical) order.
    terms: TermTable,
    /// Document-term counts.
    pub csr: Csr,
}

/// A learned vocabulary whose count matrix is not built yet ([`fit_vocab`]): the caller can
/// build the matrix ([`PendingRows::build`]) while it converts the terms (for Python, on the
/// thread holding the GIL).
#[derive(Debug)]
pub struct Vocab {
    terms: TermTable,
    rows: PendingRows,
}

/// The counts of a fit, keyed by the terms' first-appearance ranks.
#[derive(Debug)]
pub struct PendingRows {
    parts: Vec<ChunkEntries>,
    ranks: Ranks,
    rank_col: Vec<u32>,
}

impl PendingRows {
    /// The count matrix (see [`build_rows`]).
    pub fn build(self, kind: DataKind, pool: &rayon::ThreadPool) -> Csr {
        let n_cols = self.rank_col.len();
        build_rows(self.parts, &self.ranks, &self.rank_col, n_cols, kind, pool)
    }
}

impl Vocab {
    /// The terms (in column order) and the pending count matrix.
    pub fn split(self) -> (TermTable, PendingRows) {
        (self.terms, self.rows)
    }

    /// Builds the count matrix.
    pub fn build(self, kind: DataKind, pool: &rayon::ThreadPool) -> CountOutput {
        let csr = self.rows.build(kind, pool);
        CountOutput {
            terms: self.terms,
            csr,
        }
    }
}

/// A matrix entry packed in 8 bytes: a term key (local or global term id, first-appearance rank
/// or column) in the high half, the integer value (a count, or a signed hashed count as `i32`
/// bits; sklearn keeps counts in a C int too) in the low half. Rows sorted by key are then
/// plain `u64` sorts, and the entries of a chunk are rewritten in place at each step.
type Packed = u64;

#[inline]
fn pack(key: u32, value: u32) -> Packed {
    (u64::from(key) << 32) | u64::from(value)
}

#[inline]
fn key_of(e: Packed) -> u32 {
    (e >> 32) as u32
}

#[inline]
fn value_of(e: Packed) -> u32 {
    e as u32
}

/// The global vocabulary is split into `N_SHARDS` interners by hash so chunks merge in parallel.
const SHARD_BITS: u32 = 4;
const N_SHARDS: usize = 1 << SHARD_BITS;
const SID_BITS: u32 = 32 - SHARD_BITS;

#[inline]
fn shard_of(h: u64) -> usize {
    // Bits 32.. are used neither for hashbrown's bucket index nor for its 7-bit tag.
    ((h >> 32) as usize) & (N_SHARDS - 1)
}

#[inline]
fn handle(shard: usize, sid: u32) -> u32 {
    ((shard as u32) << SID_BITS) | sid
}

#[inline]
fn split_handle(h: u32) -> (usize, usize) {
    (
        (h >> SID_BITS) as usize,
        (h & ((1 << SID_BITS) - 1)) as usize,
    )
}

/// One shard of the global vocabulary.
#[derive(Default, Debug)]
struct Shard {
    terms: Interner,
    /// Position of first appearance of each term: `(chunk << 32) | local id`.
    first: Vec<u64>,
    /// Document frequency of each term.
    df: Vec<u32>,
}

/// Rows of one chunk: `ends[k]` is the end of document `k` in the packed entries.
type ChunkEntries = (Vec<usize>, Vec<Packed>);

/// Result of the parallel phase of fit for one chunk.
struct LocalVocab {
    terms: Interner,
    /// Local ids grouped by merge shard.
    buckets: Vec<Vec<u32>>,
    ends: Vec<usize>,
    /// (local id, count), per doc in first-appearance order.
    entries: Vec<Packed>,
    /// Document frequency of each local id in the chunk.
    df: Vec<u32>,
}

/// Per-document (local term id, count) entries in order of first appearance in the document.
#[derive(Default)]
struct DocCounter {
    /// Per local id: (1 + index in the chunk of the last document that produced it, position of
    /// its entry in `entries` for that document). One cache line holds both.
    last: Vec<(u32, u32)>,
    /// Number of documents of the chunk that produced each id.
    df: Vec<u32>,
    /// (local id, count)
    entries: Vec<Packed>,
    ends: Vec<usize>,
}

impl DocCounter {
    #[inline]
    fn add(&mut self, id: u32, doc_stamp: u32) {
        let idx = id as usize;
        if idx >= self.last.len() {
            // ids are dense: a new id is the next one
            self.last.resize(idx + 1, (0, 0));
            self.df.resize(idx + 1, 0);
        }
        let slot = &mut self.last[idx];
        if slot.0 == doc_stamp {
            if let Some(e) = self.entries.get_mut(slot.1 as usize) {
                if value_of(*e) < i32::MAX as u32 {
                    *e += 1;
                }
            }
        } else {
            *slot = (doc_stamp, self.entries.len() as u32);
            self.df[idx] += 1;
            self.entries.push(pack(id, 1));
        }
    }
}

fn count_chunk(input: &Input<'_>, spec: &AnalyzerSpec, range: (usize, usize)) -> LocalVocab {
    // No pre-sizing here: up to 2 rounds of chunks are alive at once, and reserving for the
    // worst case raised the peak memory of the unigram fits above scikit-learn's.
    let mut terms = Interner::default();
    let mut counter = DocCounter::default();
    counter.ends.reserve(range.1 - range.0);
    let mut scratch = Scratch::default();
    for (k, i) in (range.0..range.1).enumerate() {
        let doc_stamp = k as u32 + 1;
        spec.analyze(input.doc(i), &mut scratch, |term| {
            counter.add(terms.intern(term), doc_stamp)
        });
        counter.ends.push(counter.entries.len());
    }
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); N_SHARDS];
    for id in 0..terms.len() as u32 {
        buckets[shard_of(terms.hash_of(id))].push(id);
    }
    LocalVocab {
        terms,
        buckets,
        ends: counter.ends,
        entries: counter.entries,
        df: counter.df,
    }
}

/// Runs `f` over `chunks` on `pool`, `per_round` chunks at a time, asking `interrupt` between
/// rounds (on the calling thread) and handing each round's results to `sink` in order. The sink
/// of round `k` runs on the pool concurrently with the work of round `k + 1`.
fn run_rounds<T: Send, F, S>(
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
    chunks: &[(usize, usize)],
    f: F,
    mut sink: S,
) -> Result<()>
where
    F: Fn((usize, usize)) -> T + Sync,
    S: FnMut(Vec<T>) -> Result<()> + Send,
{
    let per_round = (pool.current_num_threads() * 2).max(1);
    let mut pending: Option<Vec<T>> = None;
    for round in chunks.chunks(per_round) {
        interrupt.check()?;
        let (results, sunk) = pool.install(|| {
            rayon::join(
                || round.par_iter().map(|&r| f(r)).collect::<Vec<T>>(),
                || pending.take().map_or(Ok(()), &mut sink),
            )
        });
        sunk?;
        pending = Some(results);
    }
    interrupt.check()?;
    if let Some(p) = pending {
        pool.install(|| sink(p))?;
    }
    interrupt.check()
}

/// Learns the vocabulary of `input` and counts it (sklearn's `CountVectorizer._count_vocab`
/// with `fixed_vocab=False`, followed by `_sort_features`). With `df_range = Some((low, high))`
/// only terms whose document frequency `df` satisfies `low <= df <= high` are kept (the
/// document-frequency part of `_limit_features`); the result may then have no term.
///
/// Word n-grams are counted as sequences of token ids; their strings are only built for the
/// terms that survive the document-frequency pruning.
///
/// Errors: `InvalidInput("empty vocabulary; ...")` when no term was produced; `Cancelled`.
pub fn fit(
    input: Input<'_>,
    spec: &AnalyzerSpec,
    df_range: Option<(f64, f64)>,
    kind: DataKind,
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
) -> Result<CountOutput> {
    Ok(fit_vocab(input, spec, df_range, pool, interrupt)?.build(kind, pool))
}

/// [`fit`] up to the vocabulary; the count matrix is built by [`Vocab::build`] or
/// [`PendingRows::build`].
pub fn fit_vocab(
    input: Input<'_>,
    spec: &AnalyzerSpec,
    df_range: Option<(f64, f64)>,
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
) -> Result<Vocab> {
    spec.validate()?;
    input.validate()?;
    if counts_token_ids(&input, spec) {
        fit_ngrams(input, spec, df_range, pool, interrupt)
    } else {
        fit_strings(input, spec, df_range, pool, interrupt)
    }
}

/// Whether n-grams can be keyed by token ids: the n-gram string `" ".join(tokens)` then
/// determines the tokens (and n) as long as no token contains a space.
fn counts_token_ids(input: &Input<'_>, spec: &AnalyzerSpec) -> bool {
    let word = matches!(
        spec.kind,
        AnalyzerKind::WordDefault | AnalyzerKind::WordTokens
    );
    word && spec.max_n >= 2
        && match input {
            // tokens are runs of `\w`, which never holds a space
            Input::Docs(_) => true,
            Input::Joined { docs, .. } => !docs.iter().any(|d| d.contains(' ')),
            Input::Tokens { tokens, .. } => !tokens.iter().any(|t| t.contains(' ')),
        }
}

fn too_large() -> Error {
    Error::InvalidInput("vocabulary too large (more than 2**28 terms per shard)".into())
}

/// `fit` with every term interned as a string.
fn fit_strings(
    input: Input<'_>,
    spec: &AnalyzerSpec,
    df_range: Option<(f64, f64)>,
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
) -> Result<Vocab> {
    let mut counts = StreamingFit::new(spec)?;
    counts.add(input, pool, interrupt)?;
    counts.finish(df_range, pool, interrupt)
}

/// A fit fed in batches of documents (every term interned as a string): the result equals
/// [`fit`] on the concatenation of the batches, while only one batch of input is alive at a time.
#[derive(Debug)]
pub struct StreamingFit {
    spec: AnalyzerSpec,
    shards: Vec<Shard>,
    parts: Vec<ChunkEntries>,
}

impl StreamingFit {
    /// An empty fit with the analyzer `spec`.
    pub fn new(spec: &AnalyzerSpec) -> Result<Self> {
        spec.validate()?;
        Ok(StreamingFit {
            spec: spec.clone(),
            shards: (0..N_SHARDS).map(|_| Shard::default()).collect(),
            parts: Vec::new(),
        })
    }

    /// Counts the next batch of documents.
    pub fn add(
        &mut self,
        input: Input<'_>,
        pool: &rayon::ThreadPool,
        interrupt: &dyn Interrupt,
    ) -> Result<()> {
        input.validate()?;
        let spec = &self.spec;
        let shards = &mut self.shards;
        let parts = &mut self.parts;
        let chunks = input.chunks();
        parts.reserve(chunks.len());
        run_rounds(
            pool,
            interrupt,
            &chunks,
            |r| count_chunk(&input, spec, r),
            |results| {
                let base = parts.len() as u64;
                // Each shard interns its share of every chunk of the round, in chunk order.
                let sids: Vec<Vec<Vec<u32>>> = shards
                    .par_iter_mut()
                    .enumerate()
                    .map(|(s, shard)| {
                        results
                            .iter()
                            .enumerate()
                            .map(|(k, local)| {
                                local.buckets[s]
                                    .iter()
                                    .map(|&id| {
                                        let before = shard.terms.len();
                                        let sid = shard.terms.intern_hashed(
                                            local.terms.hash_of(id),
                                            local.terms.term(id),
                                        );
                                        let df = local.df[id as usize];
                                        if shard.terms.len() > before {
                                            shard
                                                .first
                                                .push(((base + k as u64) << 32) | u64::from(id));
                                            shard.df.push(df);
                                        } else {
                                            shard.df[sid as usize] += df;
                                        }
                                        sid
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();
                let remapped: Vec<ChunkEntries> = results
                    .into_par_iter()
                    .enumerate()
                    .map(|(k, local)| {
                        let mut l2g = vec![0u32; local.terms.len()];
                        for (s, bucket) in local.buckets.iter().enumerate() {
                            for (&id, &sid) in bucket.iter().zip(&sids[s][k]) {
                                l2g[id as usize] = handle(s, sid);
                            }
                        }
                        let mut entries = local.entries;
                        for e in entries.iter_mut() {
                            *e = pack(l2g[key_of(*e) as usize], value_of(*e));
                        }
                        (local.ends, entries)
                    })
                    .collect();
                parts.extend(remapped);
                if shards.iter().any(|sh| sh.terms.len() >= 1 << SID_BITS) {
                    return Err(too_large());
                }
                Ok(())
            },
        )
    }

    /// Prunes (see [`fit`]) and numbers the terms.
    pub fn finish(
        self,
        df_range: Option<(f64, f64)>,
        pool: &rayon::ThreadPool,
        interrupt: &dyn Interrupt,
    ) -> Result<Vocab> {
        let StreamingFit {
            mut shards, parts, ..
        } = self;
        let firsts: Vec<Vec<u64>> = shards
            .iter_mut()
            .map(|sh| std::mem::take(&mut sh.first))
            .collect();
        let dfs: Vec<Vec<u32>> = shards
            .iter_mut()
            .map(|sh| std::mem::take(&mut sh.df))
            .collect();
        let (terms, ranks, rank_col) = select_terms(&dfs, firsts, df_range, pool, |h, out| {
            let (s, sid) = split_handle(h);
            out.push_str(shards[s].terms.term(sid as u32));
        })?;
        drop(shards);
        interrupt.check()?;
        Ok(Vocab {
            terms,
            rows: PendingRows {
                parts,
                ranks,
                rank_col,
            },
        })
    }
}

/// Result of the parallel phase of the n-gram fit for one chunk.
struct LocalNgrams {
    toks: Interner,
    /// Local token ids grouped by merge shard.
    tok_buckets: Vec<Vec<u32>>,
    /// Terms as sequences of local token ids; local term ids in order of first appearance.
    terms: SeqInterner,
    ends: Vec<usize>,
    entries: Vec<Packed>,
    /// Document frequency of each local term in the chunk.
    df: Vec<u32>,
}

fn count_chunk_ngrams(
    input: &Input<'_>,
    spec: &AnalyzerSpec,
    range: (usize, usize),
) -> LocalNgrams {
    // Rough sizes (about 6 bytes of text per token) that spare most rehashing.
    let bytes = input.bytes(range);
    let mut toks = Interner::with_capacity(bytes / 24);
    let mut terms = SeqInterner::with_capacity(bytes / 8 * (spec.max_n + 1 - spec.min_n).min(4));
    // local token id -> its unigram term id (u32::MAX: not yet a term)
    let mut unigram_term: Vec<u32> = Vec::new();
    let mut counter = DocCounter::default();
    counter.ends.reserve(range.1 - range.0);
    let mut ids: Vec<u32> = Vec::new();
    let mut buf = String::new();
    let lo = spec.min_n.max(2);
    for (k, i) in (range.0..range.1).enumerate() {
        let doc_stamp = k as u32 + 1;
        ids.clear();
        spec.for_each_token(input.doc(i), &mut buf, |t| ids.push(toks.intern(t)));
        // sklearn's order: the unigrams, then the bigrams, ... each in document order
        if spec.min_n == 1 {
            for &t in &ids {
                let ti = t as usize;
                if ti >= unigram_term.len() {
                    unigram_term.resize(ti + 1, u32::MAX);
                }
                if unigram_term[ti] == u32::MAX {
                    unigram_term[ti] = terms.intern(&[t]);
                }
                counter.add(unigram_term[ti], doc_stamp);
            }
        }
        for n in lo..=spec.max_n.min(ids.len()) {
            for w in ids.windows(n) {
                counter.add(terms.intern(w), doc_stamp);
            }
        }
        counter.ends.push(counter.entries.len());
    }
    let mut tok_buckets: Vec<Vec<u32>> = vec![Vec::new(); N_SHARDS];
    for id in 0..toks.len() as u32 {
        tok_buckets[shard_of(toks.hash_of(id))].push(id);
    }
    LocalNgrams {
        toks,
        tok_buckets,
        terms,
        ends: counter.ends,
        entries: counter.entries,
        df: counter.df,
    }
}

/// A chunk's terms re-keyed by global token handles, ready to be merged.
struct Staged {
    /// Global keys, laid out like the chunk's `SeqInterner`.
    keys: Vec<u32>,
    hashes: Vec<u64>,
    /// Local term ids grouped by merge shard.
    buckets: Vec<Vec<u32>>,
}

/// One shard of the global n-gram vocabulary.
#[derive(Default)]
struct NgramShard {
    /// Terms as sequences of global token handles.
    terms: SeqInterner,
    /// Position of first appearance of each term: `(chunk << 32) | local term id`.
    first: Vec<u64>,
    /// Document frequency of each term.
    df: Vec<u32>,
}

/// `fit` for word n-grams, counted as token-id sequences.
fn fit_ngrams(
    input: Input<'_>,
    spec: &AnalyzerSpec,
    df_range: Option<(f64, f64)>,
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
) -> Result<Vocab> {
    let chunks = input.chunks();
    let mut tok_shards: Vec<Interner> = (0..N_SHARDS).map(|_| Interner::default()).collect();
    let mut term_shards: Vec<NgramShard> = (0..N_SHARDS).map(|_| NgramShard::default()).collect();
    let mut parts: Vec<ChunkEntries> = Vec::with_capacity(chunks.len());
    run_rounds(
        pool,
        interrupt,
        &chunks,
        |r| count_chunk_ngrams(&input, spec, r),
        |results: Vec<LocalNgrams>| {
            let base = parts.len() as u64;
            // 1. tokens -> global token handles (each shard takes the chunks in order)
            let tok_sids: Vec<Vec<Vec<u32>>> = tok_shards
                .par_iter_mut()
                .enumerate()
                .map(|(s, shard)| {
                    results
                        .iter()
                        .map(|local| {
                            local.tok_buckets[s]
                                .iter()
                                .map(|&id| {
                                    shard.intern_hashed(local.toks.hash_of(id), local.toks.term(id))
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect();
            // 2. terms re-keyed by global token handles
            let staged: Vec<Staged> = results
                .par_iter()
                .enumerate()
                .map(|(k, local)| {
                    let mut l2g = vec![0u32; local.toks.len()];
                    for (s, bucket) in local.tok_buckets.iter().enumerate() {
                        for (&id, &sid) in bucket.iter().zip(&tok_sids[s][k]) {
                            l2g[id as usize] = handle(s, sid);
                        }
                    }
                    let mut keys = Vec::with_capacity(local.terms.items_len());
                    let mut hashes = Vec::with_capacity(local.terms.len());
                    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); N_SHARDS];
                    for id in 0..local.terms.len() as u32 {
                        let start = keys.len();
                        keys.extend(local.terms.seq(id).iter().map(|&t| l2g[t as usize]));
                        let h = hash_seq(&keys[start..]);
                        hashes.push(h);
                        buckets[shard_of(h)].push(id);
                    }
                    Staged {
                        keys,
                        hashes,
                        buckets,
                    }
                })
                .collect();
            drop(tok_sids);
            // 3. terms -> global term handles, first appearances in chunk order
            let term_sids: Vec<Vec<Vec<u32>>> = term_shards
                .par_iter_mut()
                .enumerate()
                .map(|(s, shard)| {
                    results
                        .iter()
                        .zip(&staged)
                        .enumerate()
                        .map(|(k, (local, st))| {
                            st.buckets[s]
                                .iter()
                                .map(|&id| {
                                    let (a, b) = local.terms.span(id);
                                    let (sid, new) = shard
                                        .terms
                                        .intern_hashed(st.hashes[id as usize], &st.keys[a..b]);
                                    let df = local.df[id as usize];
                                    if new {
                                        shard.first.push(((base + k as u64) << 32) | u64::from(id));
                                        shard.df.push(df);
                                    } else {
                                        shard.df[sid as usize] += df;
                                    }
                                    sid
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect();
            // 4. entries -> global term handles
            let remapped: Vec<ChunkEntries> = results
                .into_par_iter()
                .zip(staged.into_par_iter())
                .enumerate()
                .map(|(k, (local, st))| {
                    let mut l2g = vec![0u32; local.terms.len()];
                    for (s, bucket) in st.buckets.iter().enumerate() {
                        for (&id, &sid) in bucket.iter().zip(&term_sids[s][k]) {
                            l2g[id as usize] = handle(s, sid);
                        }
                    }
                    let mut entries = local.entries;
                    for e in entries.iter_mut() {
                        *e = pack(l2g[key_of(*e) as usize], value_of(*e));
                    }
                    (local.ends, entries)
                })
                .collect();
            parts.extend(remapped);
            if tok_shards.iter().any(|sh| sh.len() >= 1 << SID_BITS)
                || term_shards.iter().any(|sh| sh.terms.len() >= 1 << SID_BITS)
            {
                return Err(too_large());
            }
            Ok(())
        },
    )?;
    let firsts: Vec<Vec<u64>> = term_shards
        .iter_mut()
        .map(|sh| std::mem::take(&mut sh.first))
        .collect();
    let dfs: Vec<Vec<u32>> = term_shards
        .iter_mut()
        .map(|sh| std::mem::take(&mut sh.df))
        .collect();
    let (terms, ranks, rank_col) = select_terms(&dfs, firsts, df_range, pool, |h, out| {
        let (s, sid) = split_handle(h);
        for (k, &t) in term_shards[s].terms.seq(sid as u32).iter().enumerate() {
            if k > 0 {
                out.push(' ');
            }
            let (ts, tsid) = split_handle(t);
            out.push_str(tok_shards[ts].term(tsid as u32));
        }
    })?;
    drop(term_shards);
    drop(tok_shards);
    interrupt.check()?;
    Ok(Vocab {
        terms,
        rows: PendingRows {
            parts,
            ranks,
            rank_col,
        },
    })
}

/// The kept terms of one shard as text.
#[derive(Debug, Default)]
struct KeptShard {
    text: String,
    /// End of each term in `text`.
    ends: Vec<usize>,
}

impl KeptShard {
    fn term(&self, idx: usize) -> &str {
        let start = if idx == 0 { 0 } else { self.ends[idx - 1] };
        self.text.get(start..self.ends[idx]).unwrap_or("")
    }
}

/// The vocabulary in column order.
#[derive(Debug)]
pub struct TermTable {
    shards: Vec<KeptShard>,
    /// Column order: `handle(shard, index among the shard's kept terms)`.
    order: Vec<u32>,
}

impl TermTable {
    fn get(&self, packed: u32) -> &str {
        let (s, idx) = split_handle(packed);
        self.shards.get(s).map_or("", |sh| sh.term(idx))
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// The terms in column order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.order.iter().map(|&p| self.get(p))
    }

    /// Whether there is no term.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Per shard and sid: rank of first appearance among the kept terms (`u32::MAX`: pruned).
type Ranks = Vec<Vec<u32>>;

/// Document-frequency pruning and alphabetical numbering of the merged vocabulary, whose shard
/// `s` has the document frequencies `dfs[s]` and first appearances `firsts[s]`;
/// `write_term(handle, out)` appends a term's text. Returns the kept terms in column order, per
/// shard and sid the rank of first appearance among the kept terms (`u32::MAX`: pruned), and the
/// column of each rank.
fn select_terms<W>(
    dfs: &[Vec<u32>],
    firsts: Vec<Vec<u64>>,
    df_range: Option<(f64, f64)>,
    pool: &rayon::ThreadPool,
    write_term: W,
) -> Result<(TermTable, Ranks, Vec<u32>)>
where
    W: Fn(u32, &mut String) + Sync,
{
    let sizes: Vec<usize> = dfs.iter().map(Vec::len).collect();
    if sizes.iter().sum::<usize>() == 0 {
        return Err(Error::InvalidInput(
            "empty vocabulary; perhaps the documents only contain stop words".into(),
        ));
    }
    let keep = |s: usize, sid: usize| {
        df_range.map_or(true, |(low, high)| {
            let d = f64::from(dfs[s][sid]);
            d >= low && d <= high
        })
    };
    // Text of the kept terms, per shard in parallel; `sids[s][idx]` is the sid of kept term idx.
    let (shards, sids): (Vec<KeptShard>, Vec<Vec<u32>>) = pool.install(|| {
        (0..sizes.len())
            .into_par_iter()
            .map(|s| {
                let mut kept = KeptShard::default();
                let mut sids = Vec::new();
                for sid in 0..sizes[s] {
                    if !keep(s, sid) {
                        continue;
                    }
                    write_term(handle(s, sid as u32), &mut kept.text);
                    kept.ends.push(kept.text.len());
                    sids.push(sid as u32);
                }
                (kept, sids)
            })
            .unzip()
    });
    // Code-point order = UTF-8 byte order; a 16-byte big-endian prefix settles most comparisons
    // (8 bytes left many ties among n-grams sharing their first word).
    let mut keys: Vec<(u128, u32)> = pool.install(|| {
        shards
            .par_iter()
            .enumerate()
            .flat_map_iter(|(s, sh)| {
                (0..sh.ends.len()).map(move |idx| {
                    let b = sh.term(idx).as_bytes();
                    let mut p = [0u8; 16];
                    let n = b.len().min(16);
                    p[..n].copy_from_slice(&b[..n]);
                    (u128::from_be_bytes(p), handle(s, idx as u32))
                })
            })
            .collect()
    });
    let table = TermTable {
        shards,
        order: Vec::new(),
    };
    pool.install(|| {
        keys.par_sort_unstable_by(|x, y| {
            x.0.cmp(&y.0)
                .then_with(|| table.get(x.1).cmp(table.get(y.1)))
        })
    });
    let order: Vec<u32> = keys.into_iter().map(|k| k.1).collect();
    // column of each kept term, by (shard, index among the shard's kept terms)
    let mut col_of: Vec<Vec<u32>> = sids.iter().map(|v| vec![0; v.len()]).collect();
    for (col, &packed) in order.iter().enumerate() {
        let (s, idx) = split_handle(packed);
        col_of[s][idx] = col as u32;
    }
    // Dense ranks of first appearance: rows are sorted by them as the high half of a u64.
    let mut by_first: Vec<(u64, u32)> = sids
        .iter()
        .enumerate()
        .flat_map(|(s, ids)| {
            let firsts = &firsts;
            ids.iter()
                .enumerate()
                .map(move |(idx, &sid)| (firsts[s][sid as usize], handle(s, idx as u32)))
        })
        .collect();
    drop(firsts);
    pool.install(|| by_first.par_sort_unstable());
    let mut ranks: Ranks = sizes.iter().map(|&n| vec![u32::MAX; n]).collect();
    let mut rank_col = Vec::with_capacity(by_first.len());
    for (r, &(_, h)) in by_first.iter().enumerate() {
        let (s, idx) = split_handle(h);
        ranks[s][sids[s][idx] as usize] = r as u32;
        rank_col.push(col_of[s][idx]);
    }
    Ok((TermTable { order, ..table }, ranks, rank_col))
}

/// The count matrix of a fit: entries of kept terms, each row ordered by the terms' first
/// appearance in the corpus (`ranks[shard][sid]`, `u32::MAX`: pruned), in column `rank_col[rank]`.
/// The chunks' entries are rewritten in place (no second copy of the counts).
fn build_rows(
    mut parts: Vec<ChunkEntries>,
    ranks: &[Vec<u32>],
    rank_col: &[u32],
    n_cols: usize,
    kind: DataKind,
    pool: &rayon::ThreadPool,
) -> Csr {
    pool.install(|| {
        parts.par_iter_mut().for_each(|(ends, entries)| {
            let mut kept = 0;
            let mut start = 0;
            for end in ends.iter_mut() {
                let row_start = kept;
                for k in start..*end {
                    let e = entries[k];
                    let (s, sid) = split_handle(key_of(e));
                    let rank = ranks[s][sid];
                    if rank != u32::MAX {
                        entries[kept] = pack(rank, value_of(e));
                        kept += 1;
                    }
                }
                start = *end;
                *end = kept;
                let row = &mut entries[row_start..kept];
                if !row.windows(2).all(|w| w[0] < w[1]) {
                    row.sort_unstable();
                }
            }
            entries.truncate(kept);
        })
    });
    assemble(parts, Some(rank_col), n_cols, kind, pool)
}

/// Counts the terms of `vocab` in `input` (sklearn's `_count_vocab` with `fixed_vocab=True`):
/// rows sorted by column, out-of-vocabulary terms ignored.
pub fn transform(
    input: Input<'_>,
    spec: &AnalyzerSpec,
    vocab: &FxHashMap<&str, u32>,
    n_cols: usize,
    kind: DataKind,
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
) -> Result<Csr> {
    spec.validate()?;
    input.validate()?;
    if vocab.values().any(|&v| v as usize >= n_cols) {
        return Err(Error::InvalidInput("vocabulary index out of range".into()));
    }
    let chunks = input.chunks();
    let mut rows = Vec::with_capacity(chunks.len());
    run_rounds(
        pool,
        interrupt,
        &chunks,
        |r| {
            let mut scratch = Scratch::default();
            let mut ids: Vec<u32> = Vec::new();
            let mut out: ChunkEntries = (Vec::with_capacity(r.1 - r.0), Vec::new());
            for i in r.0..r.1 {
                ids.clear();
                spec.analyze(input.doc(i), &mut scratch, |t| {
                    if let Some(&id) = vocab.get(t) {
                        ids.push(id);
                    }
                });
                ids.sort_unstable();
                push_runs(&ids, &mut out.1);
                out.0.push(out.1.len());
            }
            out
        },
        |res| {
            rows.extend(res);
            Ok(())
        },
    )?;
    Ok(assemble(rows, None, n_cols, kind, pool))
}

/// Appends run-length counts of the sorted `ids` to `out`.
fn push_runs(ids: &[u32], out: &mut Vec<Packed>) {
    let mut k = 0;
    while k < ids.len() {
        let id = ids[k];
        let mut v: i32 = 0;
        while k < ids.len() && ids[k] == id {
            v = v.saturating_add(1);
            k += 1;
        }
        out.push(pack(id, v as u32));
    }
}

/// Hashes the terms of `input` into `n_features` columns (sklearn's `FeatureHasher` on
/// `HashingVectorizer`'s analyzer output, before `binary` and `norm`). Rows sorted by column;
/// entries whose signed contributions cancel stay as explicit zeros, as scipy's
/// `sum_duplicates` leaves them.
pub fn hash_transform(
    input: Input<'_>,
    spec: &AnalyzerSpec,
    n_features: usize,
    alternate_sign: bool,
    kind: DataKind,
    pool: &rayon::ThreadPool,
    interrupt: &dyn Interrupt,
) -> Result<Csr> {
    spec.validate()?;
    input.validate()?;
    if n_features == 0 || n_features > i32::MAX as usize {
        return Err(Error::InvalidParameter(format!(
            "n_features must be in [1, 2**31 - 1], got {n_features}"
        )));
    }
    let chunks = input.chunks();
    let mut rows = Vec::with_capacity(chunks.len());
    run_rounds(
        pool,
        interrupt,
        &chunks,
        |r| {
            let mut scratch = Scratch::default();
            let mut hits: Vec<(u32, i32)> = Vec::new();
            let mut out: ChunkEntries = (Vec::with_capacity(r.1 - r.0), Vec::new());
            for i in r.0..r.1 {
                hits.clear();
                spec.analyze(input.doc(i), &mut scratch, |t| {
                    let (col, sign) = crate::text::hashing::feature(t, n_features, alternate_sign);
                    hits.push((col, sign));
                });
                hits.sort_by_key(|h| h.0);
                let mut k = 0;
                while k < hits.len() {
                    let col = hits[k].0;
                    let mut v: i32 = 0;
                    while k < hits.len() && hits[k].0 == col {
                        v = v.saturating_add(hits[k].1);
                        k += 1;
                    }
                    out.1.push(pack(col, v as u32));
                }
                out.0.push(out.1.len());
            }
            out
        },
        |res| {
            rows.extend(res);
            Ok(())
        },
    )?;
    Ok(assemble(rows, None, n_features, kind, pool))
}

fn split_by<'s, T>(mut s: &'s mut [T], sizes: &[usize]) -> Vec<&'s mut [T]> {
    let mut out = Vec::with_capacity(sizes.len());
    for &n in sizes {
        let (a, b) = std::mem::take(&mut s).split_at_mut(n);
        out.push(a);
        s = b;
    }
    out
}

/// Column indices and values of all chunks, concatenated: the column of an entry is
/// `col_map[key]` (or the key itself), its value `value(i32 bits)`. Each chunk's entries are
/// freed as soon as they are copied.
fn fill<I, T>(
    parts: Vec<ChunkEntries>,
    col_map: Option<&[u32]>,
    pool: &rayon::ThreadPool,
    index: impl Fn(u32) -> I + Sync,
    value: impl Fn(i32) -> T + Sync,
) -> (Vec<I>, Vec<T>)
where
    I: Copy + Send + Sync + Default,
    T: Copy + Send + Sync + Default,
{
    let sizes: Vec<usize> = parts.iter().map(|p| p.1.len()).collect();
    let nnz = sizes.iter().sum();
    let mut indices = vec![I::default(); nnz];
    let mut data = vec![T::default(); nnz];
    let idx_parts = split_by(&mut indices, &sizes);
    let data_parts = split_by(&mut data, &sizes);
    pool.install(|| {
        parts
            .into_par_iter()
            .zip(idx_parts)
            .zip(data_parts)
            .for_each(|(((_, entries), di), dd)| {
                for ((i, d), &e) in di.iter_mut().zip(dd.iter_mut()).zip(&entries) {
                    let key = key_of(e);
                    let col = match col_map {
                        Some(m) => m.get(key as usize).copied().unwrap_or(0),
                        None => key,
                    };
                    *i = index(col);
                    *d = value(value_of(e) as i32);
                }
            })
    });
    (indices, data)
}

/// Concatenates chunk rows into one CSR matrix of the requested value type (see [`fill`]).
fn assemble(
    parts: Vec<ChunkEntries>,
    col_map: Option<&[u32]>,
    n_cols: usize,
    kind: DataKind,
    pool: &rayon::ThreadPool,
) -> Csr {
    let n_rows: usize = parts.iter().map(|p| p.0.len()).sum();
    let nnz: usize = parts.iter().map(|p| p.1.len()).sum();
    let mut indptr: Vec<i64> = Vec::with_capacity(n_rows + 1);
    indptr.push(0);
    let mut base = 0usize;
    for (ends, entries) in &parts {
        indptr.extend(ends.iter().map(|&e| (base + e) as i64));
        base += entries.len();
    }
    macro_rules! typed {
        ($idx:expr, $ivariant:ident) => {{
            let (indices, data) = match kind {
                DataKind::F64 => {
                    let (i, d) = fill(parts, col_map, pool, $idx, f64::from);
                    (i, DataVec::F64(d))
                }
                DataKind::F32 => {
                    let (i, d) = fill(parts, col_map, pool, $idx, |v| v as f32);
                    (i, DataVec::F32(d))
                }
                DataKind::I64 => {
                    let (i, d) = fill(parts, col_map, pool, $idx, i64::from);
                    (i, DataVec::I64(d))
                }
                DataKind::I32 => {
                    let (i, d) = fill(parts, col_map, pool, $idx, |v| v);
                    (i, DataVec::I32(d))
                }
            };
            (IndexVec::$ivariant(indices), data)
        }};
    }
    let (indptr, (indices, data)) = if nnz > i32::MAX as usize {
        (IndexVec::I64(indptr), typed!(i64::from, I64))
    } else {
        (
            IndexVec::I32(indptr.into_iter().map(|p| p as i32).collect()),
            typed!(|c: u32| c as i32, I32),
        )
    };
    Csr {
        indptr,
        indices,
        data,
        n_rows,
        n_cols,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::runtime::{thread_pool, NeverInterrupt};
    use crate::text::chars::CharTable;

    fn spec() -> AnalyzerSpec {
        AnalyzerSpec {
            kind: AnalyzerKind::WordDefault,
            min_n: 1,
            max_n: 1,
            stop_words: None,
            word: CharTable::ascii_word(),
            space: CharTable::ascii_space(),
            lowercase_ascii: false,
        }
    }

    #[test]
    fn fit_matches_sklearn_layout() {
        // sklearn: CountVectorizer().fit_transform(["zz bb aa bb", "aa cc zz", "dd", "qq pp qq aa"])
        // vocabulary aa..zz -> 0..6, indices [6 1 0 6 0 2 3 0 5 4], data [1 2 1 1 1 1 1 1 2 1].
        let docs = ["zz bb aa bb", "aa cc zz", "dd", "qq pp qq aa"];
        let pool = thread_pool(2).unwrap();
        let out = fit(
            Input::Docs(&docs),
            &spec(),
            None,
            DataKind::I64,
            &pool,
            &NeverInterrupt,
        )
        .unwrap();
        let terms: Vec<&str> = out.terms().collect();
        assert_eq!(terms, ["aa", "bb", "cc", "dd", "pp", "qq", "zz"]);
        assert_eq!(
            out.csr.indices,
            IndexVec::I32(vec![6, 1, 0, 6, 0, 2, 3, 0, 5, 4])
        );
        assert_eq!(out.csr.indptr, IndexVec::I32(vec![0, 3, 6, 7, 10]));
        assert_eq!(
            out.csr.data,
            DataVec::I64(vec![1, 2, 1, 1, 1, 1, 1, 1, 2, 1])
        );
    }

    #[test]
    fn ngram_ids_match_string_interning() {
        let docs = [
            "zz bb aa bb",
            "aa cc zz bb aa",
            "dd",
            "",
            "qq pp qq aa bb aa cc",
            "bb aa bb aa",
        ];
        let pool = thread_pool(2).unwrap();
        for (min_n, max_n, df) in [(1, 2, None), (2, 3, None), (1, 3, Some((2.0, 3.0)))] {
            let s = AnalyzerSpec {
                min_n,
                max_n,
                stop_words: Some(["cc".to_string()].into_iter().collect()),
                ..spec()
            };
            let input = Input::Docs(&docs);
            assert!(counts_token_ids(&input, &s));
            let a = fit_ngrams(input, &s, df, &pool, &NeverInterrupt)
                .unwrap()
                .build(DataKind::I64, &pool);
            let b = fit_strings(input, &s, df, &pool, &NeverInterrupt)
                .unwrap()
                .build(DataKind::I64, &pool);
            assert!(a.terms().eq(b.terms()));
            assert!(a.n_terms() > 0);
            assert_eq!(a.csr, b.csr);
        }
    }

    #[test]
    fn empty_vocabulary_is_an_error() {
        let docs = ["a", ""];
        let pool = thread_pool(1).unwrap();
        let err = fit(
            Input::Docs(&docs),
            &spec(),
            None,
            DataKind::I64,
            &pool,
            &NeverInterrupt,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)));
    }

    #[test]
    fn transform_sorts_rows() {
        let docs = ["zz bb aa bb xx"];
        let vocab: FxHashMap<&str, u32> = [("aa", 0), ("bb", 1), ("zz", 2)].into_iter().collect();
        let pool = thread_pool(1).unwrap();
        let csr = transform(
            Input::Docs(&docs),
            &spec(),
            &vocab,
            3,
            DataKind::F64,
            &pool,
            &NeverInterrupt,
        )
        .unwrap();
        assert_eq!(csr.indices, IndexVec::I32(vec![0, 1, 2]));
        assert_eq!(csr.data, DataVec::F64(vec![1.0, 2.0, 1.0]));
    }
}
