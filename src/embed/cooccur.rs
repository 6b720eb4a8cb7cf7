//! Word-word co-occurrence counting for GloVe, with the semantics of Stanford GloVe's
//! `vocab_count` + `cooccur`:
//!
//! * a document is a line of a file (or one in-memory document); no window crosses it;
//! * out-of-vocabulary words are removed from the stream *before* windows are formed, so a
//!   window spans over them (cooccur skips them without advancing its position);
//! * for a target word and each of the `window` in-vocabulary words to its left at distance
//!   `d`, the pair (left, target) gains `1/d` (harmonic) or `1` (uniform); with `symmetric`
//!   the pair (target, left) gains the same, so a word paired with itself gains twice.
//!
//! Speed and memory: every worker of the pool counts its chunks into a dense table for the
//! pairs of frequent words (cooccur's "rank product below max_product" rule, which is where
//! almost all of the mass is) and a buffer of `(key, value)` records for the rest. A full
//! buffer is sorted, its duplicates summed, and kept as a sorted run, in memory or (with a
//! memory limit) in a temporary file. At the end the runs are k-way merged with the dense
//! tables straight into CSR arrays. In symmetric mode only the upper triangle `U` is counted
//! (half the work); the matrix is `U + U^T`.

use crate::error::{Error, Result};
use crate::runtime::{effective_threads, thread_pool, Interrupt};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Target size of a text chunk handed to a worker (whole lines unless a line is longer).
const TEXT_CHUNK_BYTES: usize = 1 << 20;
/// Target size of a slice of an in-memory token buffer handed to a worker.
const ID_CHUNK_TOKENS: usize = 1 << 16;
/// A token longer than this (no whitespace at all) is refused rather than buffered forever.
const MAX_TOKEN_BYTES: usize = 1 << 28;
/// At most this many runs are merged at once (open files); more are merged in passes.
const MERGE_FAN_IN: usize = 64;
/// Bytes per record in a run (u64 key + f64 value).
const RECORD_BYTES: usize = 16;
/// Without a memory limit: dense-table entries per worker (64 MiB of f64).
const DEFAULT_DENSE_ENTRIES: usize = 1 << 23;
/// Without a memory limit: records buffered per worker before a sorted run is cut (64 MiB).
const DEFAULT_BUFFER_RECORDS: usize = 1 << 22;

/// How a pair at distance `d` is weighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weighting {
    /// `1/d` (GloVe's default, cooccur `-distance-weighting 1`).
    Harmonic,
    /// `1` (cooccur `-distance-weighting 0`).
    Uniform,
}

/// Counting parameters.
#[derive(Clone, Debug)]
pub struct CooccurParams {
    /// Context words on each side (>= 1).
    pub window: usize,
    /// Distance weighting.
    pub weighting: Weighting,
    /// Count both orders of every pair (else only (left, right)).
    pub symmetric: bool,
    /// Worker threads.
    pub n_threads: usize,
    /// Bytes the counting buffers may take; beyond it sorted runs are spilled to disk.
    pub memory_limit: Option<u64>,
    /// Directory for spilled runs (default: the system temporary directory).
    pub temp_dir: Option<PathBuf>,
}

impl CooccurParams {
    fn validate(&self) -> Result<()> {
        if self.window < 1 {
            return Err(Error::InvalidParameter(format!(
                "window must be >= 1, got {}",
                self.window
            )));
        }
        if self.window > 1 << 20 {
            return Err(Error::InvalidParameter(format!(
                "window must be <= {}, got {}",
                1 << 20,
                self.window
            )));
        }
        Ok(())
    }
}

/// A square CSR matrix (`indices` sorted within each row).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CsrMatrix {
    /// Number of rows and columns.
    pub n: usize,
    /// Row pointers, `n + 1` entries.
    pub indptr: Vec<i64>,
    /// Column of each stored value.
    pub indices: Vec<i32>,
    /// The values.
    pub data: Vec<f64>,
}

/// What the counting did (for verbose output and tests).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CooccurStats {
    /// In-vocabulary tokens counted.
    pub tokens: u64,
    /// Sorted runs cut from the buffers (in memory or on disk).
    pub runs: usize,
    /// Runs written to the temporary directory.
    pub spilled_runs: usize,
    /// Wall-clock seconds of the phases after counting ("merge", "build").
    pub seconds: Vec<(&'static str, f64)>,
}

/// Progress: `(phase, done, total)` with phase "vocabulary" or "cooccurrence" (bytes of input
/// files or tokens), called from the calling thread only.
pub type Progress<'a> = dyn FnMut(&str, u64, u64) -> Result<()> + 'a;

// ---------------------------------------------------------------------------------------------
// Vocabulary

/// Orders words as vocab_count does: count descending, ties by byte order; keeps at most
/// `max_size` words, then drops words seen fewer than `min_count` times.
/// (vocab_count breaks ties pseudo-randomly before a `-max-vocab` cut; we keep it reproducible.)
pub fn select_vocabulary(
    words: Vec<String>,
    counts: Vec<u64>,
    min_count: u64,
    max_size: Option<usize>,
) -> (Vec<String>, Vec<u64>) {
    let mut pairs: Vec<(String, u64)> = words.into_iter().zip(counts).collect();
    pairs.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if let Some(m) = max_size {
        pairs.truncate(m);
    }
    pairs.retain(|p| p.1 >= min_count.max(1));
    pairs.into_iter().unzip()
}

/// Counts the whitespace-separated words of text files in parallel:
/// `(words, counts, total tokens)`, words in no particular order.
pub fn count_words_files(
    paths: &[PathBuf],
    n_threads: usize,
    interrupt: &dyn Interrupt,
    progress: &mut Progress<'_>,
) -> Result<(Vec<String>, Vec<u64>, u64)> {
    let mut reader = ChunkReader::new(paths.to_vec())?;
    let total_bytes = reader.total_bytes;
    let accs = drive(
        n_threads,
        interrupt,
        || {
            let chunk = reader.next_chunk()?;
            progress("vocabulary", reader.bytes_done(), total_bytes)?;
            Ok(chunk)
        },
        |_| (FxHashMap::<String, u64>::default(), 0u64),
        |(map, total), chunk: TextChunk| {
            let text = chunk.text()?;
            for w in text.split_whitespace() {
                *total += 1;
                if let Some(c) = map.get_mut(w) {
                    *c += 1;
                } else {
                    map.insert(w.to_owned(), 1);
                }
            }
            Ok(())
        },
        |_| Ok(()),
    )?;
    let mut iter = accs.into_iter();
    let (mut map, mut total) = iter.next().unwrap_or_default();
    for (other, t) in iter {
        total += t;
        if other.len() > map.len() {
            let small = std::mem::replace(&mut map, other);
            merge_counts(&mut map, small);
        } else {
            merge_counts(&mut map, other);
        }
    }
    let (words, counts) = map.into_iter().unzip();
    Ok((words, counts, total))
}

fn merge_counts(into: &mut FxHashMap<String, u64>, from: FxHashMap<String, u64>) {
    for (w, c) in from {
        *into.entry(w).or_insert(0) += c;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading files in chunks

/// A piece of a text file: whole lines, except that an over-long line is cut at whitespace;
/// `carry` then holds the last `window` in-vocabulary ids before the cut (context only).
struct TextChunk {
    bytes: Vec<u8>,
    /// The chunk starts in the middle of a line (continues the previous chunk's last line).
    continues: bool,
    carry: Vec<u32>,
    file: Arc<str>,
}

impl TextChunk {
    fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.bytes).map_err(|e| {
            Error::InvalidInput(format!("{}: the text is not valid UTF-8 ({e})", self.file))
        })
    }
}

/// Counts bytes read from the underlying file (progress for compressed files too).
struct CountingReader {
    inner: File,
    done: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Cuts files into [`TextChunk`]s of about [`TEXT_CHUNK_BYTES`].
struct ChunkReader {
    paths: Vec<PathBuf>,
    next_file: usize,
    reader: Option<Box<dyn Read + Send>>,
    current: Arc<str>,
    pending: Vec<u8>,
    pending_continues: bool,
    done: Arc<AtomicU64>,
    total_bytes: u64,
}

impl ChunkReader {
    fn new(paths: Vec<PathBuf>) -> Result<Self> {
        let mut total_bytes = 0;
        for p in &paths {
            let meta = std::fs::metadata(p)
                .map_err(|e| Error::InvalidInput(format!("cannot open {}: {e}", p.display())))?;
            if !meta.is_file() {
                return Err(Error::InvalidInput(format!(
                    "{} is not a file",
                    p.display()
                )));
            }
            total_bytes += meta.len();
        }
        Ok(ChunkReader {
            paths,
            next_file: 0,
            reader: None,
            current: Arc::from(""),
            pending: Vec::new(),
            pending_continues: false,
            done: Arc::new(AtomicU64::new(0)),
            total_bytes,
        })
    }

    fn bytes_done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    fn open(&mut self, path: &PathBuf) -> Result<Box<dyn Read + Send>> {
        let file = File::open(path)
            .map_err(|e| Error::InvalidInput(format!("cannot open {}: {e}", path.display())))?;
        let counted = CountingReader {
            inner: file,
            done: Arc::clone(&self.done),
        };
        let is_gz = path.extension().is_some_and(|e| e == "gz");
        Ok(if is_gz {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                counted,
            )))
        } else {
            Box::new(counted)
        })
    }

    /// The next chunk, or `None` after the last file.
    fn next_chunk(&mut self) -> Result<Option<TextChunk>> {
        loop {
            if self.reader.is_none() {
                let Some(path) = self.paths.get(self.next_file).cloned() else {
                    return Ok(None);
                };
                self.next_file += 1;
                self.reader = Some(self.open(&path)?);
                self.current = Arc::from(path.display().to_string());
                self.pending.clear();
                self.pending_continues = false;
            }
            // Fill up to the target size.
            let mut eof = false;
            while self.pending.len() < TEXT_CHUNK_BYTES {
                let want = (TEXT_CHUNK_BYTES - self.pending.len()) as u64;
                let Some(reader) = self.reader.as_mut() else {
                    break;
                };
                let n = reader
                    .take(want)
                    .read_to_end(&mut self.pending)
                    .map_err(|e| {
                        Error::InvalidInput(format!("cannot read {}: {e}", self.current))
                    })?;
                if n == 0 {
                    eof = true;
                    break;
                }
            }
            if eof {
                // The rest of the file, a document end.
                self.reader = None;
                if self.pending.is_empty() {
                    continue;
                }
                let bytes = std::mem::take(&mut self.pending);
                return Ok(Some(TextChunk {
                    bytes,
                    continues: std::mem::take(&mut self.pending_continues),
                    carry: Vec::new(),
                    file: Arc::clone(&self.current),
                }));
            }
            // Cut after the last newline, or inside an over-long line at the last whitespace.
            let (cut, keep_from, mid_line) =
                if let Some(i) = self.pending.iter().rposition(|&b| b == b'\n') {
                    (i + 1, i + 1, false)
                } else if let Some(i) = self
                    .pending
                    .iter()
                    .rposition(|&b| b == b' ' || b == b'\t' || b == b'\r')
                {
                    (i, i + 1, true)
                } else {
                    if self.pending.len() > MAX_TOKEN_BYTES {
                        return Err(Error::InvalidInput(format!(
                            "{}: a token longer than {MAX_TOKEN_BYTES} bytes",
                            self.current
                        )));
                    }
                    // One enormous token: read on (the fill loop above stops at the target
                    // size, so grow the buffer past it).
                    let Some(reader) = self.reader.as_mut() else {
                        continue;
                    };
                    let n = reader
                        .take(TEXT_CHUNK_BYTES as u64)
                        .read_to_end(&mut self.pending)
                        .map_err(|e| {
                            Error::InvalidInput(format!("cannot read {}: {e}", self.current))
                        })?;
                    if n == 0 {
                        let bytes = std::mem::take(&mut self.pending);
                        self.reader = None;
                        return Ok(Some(TextChunk {
                            bytes,
                            continues: std::mem::take(&mut self.pending_continues),
                            carry: Vec::new(),
                            file: Arc::clone(&self.current),
                        }));
                    }
                    continue;
                };
            let rest = self.pending[keep_from..].to_vec();
            let mut bytes = std::mem::replace(&mut self.pending, rest);
            bytes.truncate(cut);
            let continues = std::mem::replace(&mut self.pending_continues, mid_line);
            return Ok(Some(TextChunk {
                bytes,
                continues,
                carry: Vec::new(),
                file: Arc::clone(&self.current),
            }));
        }
    }
}

/// The last `window` in-vocabulary ids of a chunk that ends mid-line (its successor's
/// context), reaching into the previous carry when the chunk itself has too few.
fn carry_of(
    chunk: &TextChunk,
    prev_carry: &[u32],
    vocab: &FxHashMap<&str, u32>,
    window: usize,
) -> Result<Vec<u32>> {
    let nl = chunk.bytes.iter().rposition(|&b| b == b'\n');
    let tail = &chunk.bytes[nl.map_or(0, |i| i + 1)..];
    let tail = std::str::from_utf8(tail).map_err(|e| {
        Error::InvalidInput(format!("{}: the text is not valid UTF-8 ({e})", chunk.file))
    })?;
    let mut back: Vec<u32> = Vec::with_capacity(window);
    for w in tail.split_whitespace().rev() {
        if back.len() == window {
            break;
        }
        if let Some(&id) = vocab.get(w) {
            back.push(id);
        }
    }
    if back.len() < window && nl.is_none() && chunk.continues {
        back.extend(prev_carry.iter().rev().take(window - back.len()));
    }
    back.reverse();
    Ok(back)
}

// ---------------------------------------------------------------------------------------------
// The worker pool driver

/// Runs `consume` on a pool of `n_threads` workers over the items that `produce` yields on the
/// calling thread (which also watches `interrupt`); returns the workers' accumulators in worker
/// order.
fn drive<T, A, P, M, C, F>(
    n_threads: usize,
    interrupt: &dyn Interrupt,
    mut produce: P,
    make: M,
    consume: C,
    finish: F,
) -> Result<Vec<A>>
where
    T: Send,
    A: Send,
    P: FnMut() -> Result<Option<T>>,
    M: Fn(usize) -> A + Sync,
    C: Fn(&mut A, T) -> Result<()> + Sync,
    F: Fn(&mut A) -> Result<()> + Sync,
{
    // One worker (and one accumulator) per pool thread.
    let n_threads = effective_threads(n_threads);
    let pool = thread_pool(n_threads)?;
    let (tx, rx) = mpsc::sync_channel::<T>(2 * n_threads);
    let rx = Mutex::new(rx);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<A>)>> = Mutex::new(Vec::new());
    let mut produced: Result<()> = Ok(());
    pool.in_place_scope(|s| {
        for worker in 0..n_threads {
            let (rx, failed, results) = (&rx, &failed, &results);
            let (make, consume, finish) = (&make, &consume, &finish);
            s.spawn(move |_| {
                let mut acc = make(worker);
                let mut outcome: Result<()> = Ok(());
                loop {
                    let item = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => {
                            outcome = Err(Error::InvalidInput("a worker thread panicked".into()));
                            break;
                        }
                    };
                    let Ok(item) = item else { break };
                    // After an error keep draining so the producer never blocks on a full queue.
                    if outcome.is_ok() {
                        outcome = interrupt.check().and_then(|_| consume(&mut acc, item));
                        if outcome.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                    }
                }
                if outcome.is_ok() {
                    outcome = finish(&mut acc);
                }
                if let Ok(mut r) = results.lock() {
                    r.push((worker, outcome.map(|_| acc)));
                }
            });
        }
        produced = (|| {
            while !failed.load(Ordering::Relaxed) {
                interrupt.check()?;
                match produce()? {
                    Some(item) => {
                        if tx.send(item).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
            Ok(())
        })();
        drop(tx);
    });
    let mut results = results
        .into_inner()
        .map_err(|_| Error::InvalidInput("a worker thread panicked".into()))?;
    produced?;
    interrupt.check()?;
    results.sort_by_key(|r| r.0);
    if results.len() != n_threads {
        return Err(Error::InvalidInput("a worker thread panicked".into()));
    }
    results.into_iter().map(|(_, r)| r).collect()
}

// ---------------------------------------------------------------------------------------------
// Counting

/// Which pairs go to the dense table: row `a` holds columns `0..row_len[a]`, where
/// `(a + 1) * (b + 1) <= max_product` (cooccur's rule: frequent words have small ids).
struct DenseLayout {
    row_len: Vec<u32>,
    row_start: Vec<usize>,
    size: usize,
}

impl DenseLayout {
    fn row_len(vocab_size: usize, max_product: u64, a: usize, symmetric: bool) -> usize {
        let len = (max_product / (a as u64 + 1)).min(vocab_size as u64) as usize;
        // Symmetric mode only stores (lo, hi) with lo <= hi.
        if symmetric && len <= a {
            0
        } else {
            len
        }
    }

    fn entries(vocab_size: usize, max_product: u64, symmetric: bool) -> usize {
        let mut total = 0usize;
        for a in 0..vocab_size {
            let len = Self::row_len(vocab_size, max_product, a, symmetric);
            if len == 0 {
                break;
            }
            total = total.saturating_add(len);
        }
        total
    }

    /// The largest layout of at most `budget` entries.
    fn with_budget(vocab_size: usize, budget: usize, symmetric: bool) -> Self {
        let (mut lo, mut hi) = (0u64, (vocab_size as u64).saturating_mul(vocab_size as u64));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if Self::entries(vocab_size, mid, symmetric) <= budget {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let mut row_len = vec![0u32; vocab_size];
        let mut row_start = vec![0usize; vocab_size];
        let mut size = 0;
        for a in 0..vocab_size {
            let len = Self::row_len(vocab_size, lo, a, symmetric);
            if len == 0 {
                break;
            }
            row_len[a] = len as u32;
            row_start[a] = size;
            size += len;
        }
        DenseLayout {
            row_len,
            row_start,
            size,
        }
    }
}

/// A sorted run of `(key, value)` records with distinct keys, `key = row << 32 | col`.
enum Run {
    Memory(Vec<(u64, f64)>),
    File { path: PathBuf, len: usize },
}

/// Where runs go when buffers fill: kept in memory, or written to the temporary directory.
struct Spill {
    dir: tempfile::TempDir,
    next: AtomicU64,
}

impl Spill {
    fn writer(&self) -> Result<RunWriter> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("run_{k:06}.bin"));
        let file = File::create(&path).map_err(|e| spill_error(&path, e))?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path,
            len: 0,
        })
    }

    fn write(&self, records: &[(u64, f64)]) -> Result<Run> {
        let mut w = self.writer()?;
        for &(k, v) in records {
            w.push(k, v)?;
        }
        w.finish()
    }
}

fn spill_error(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::InvalidInput(format!("spill file {}: {e}", path.display()))
}

/// Writes one sorted run to disk, record by record.
struct RunWriter {
    out: BufWriter<File>,
    path: PathBuf,
    len: usize,
}

impl RunWriter {
    fn push(&mut self, key: u64, value: f64) -> Result<()> {
        let mut rec = [0u8; RECORD_BYTES];
        rec[..8].copy_from_slice(&key.to_le_bytes());
        rec[8..].copy_from_slice(&value.to_le_bytes());
        self.len += 1;
        self.out
            .write_all(&rec)
            .map_err(|e| spill_error(&self.path, e))
    }

    fn finish(mut self) -> Result<Run> {
        self.out.flush().map_err(|e| spill_error(&self.path, e))?;
        Ok(Run::File {
            path: self.path,
            len: self.len,
        })
    }
}

/// One worker's counts.
struct Accumulator<'a> {
    layout: &'a DenseLayout,
    weights: &'a [f64],
    symmetric: bool,
    dense: Vec<f64>,
    buffer: Vec<(u64, f64)>,
    scratch: Vec<(u64, f64)>,
    capacity: usize,
    key_bits: u32,
    runs: Vec<Run>,
    spill: Option<&'a Spill>,
    spilled: usize,
    tokens: u64,
    ids: Vec<u32>,
}

impl<'a> Accumulator<'a> {
    fn new(
        layout: &'a DenseLayout,
        weights: &'a [f64],
        symmetric: bool,
        capacity: usize,
        spill: Option<&'a Spill>,
    ) -> Self {
        Accumulator {
            layout,
            weights,
            symmetric,
            dense: vec![0.0; layout.size],
            buffer: Vec::with_capacity(capacity.max(1) + weights.len()),
            scratch: Vec::new(),
            capacity: capacity.max(1),
            key_bits: usize::BITS - layout.row_len.len().saturating_sub(1).leading_zeros(),
            runs: Vec::new(),
            spill,
            spilled: 0,
            tokens: 0,
            ids: Vec::new(),
        }
    }

    /// Sorts the buffer, sums duplicates, and keeps it as a run.
    fn cut_run(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        radix_sort(&mut self.buffer, &mut self.scratch, self.key_bits);
        sum_duplicates(&mut self.buffer);
        let run = match self.spill {
            Some(spill) => {
                self.spilled += 1;
                spill.write(&self.buffer)?
            }
            None => Run::Memory(self.buffer.clone()),
        };
        // The buffers keep their capacity for the next run.
        self.buffer.clear();
        self.runs.push(run);
        Ok(())
    }

    /// Counts the pairs of one document whose right word is at position `first_target` or
    /// later of `ids` (the positions before are context carried over from a cut).
    fn count_document(&mut self, first_target: usize) -> Result<()> {
        let ids = std::mem::take(&mut self.ids);
        self.tokens += (ids.len() - first_target.min(ids.len())) as u64;
        let mut j = first_target;
        let mut out = Ok(());
        while j < ids.len() {
            j = if self.symmetric {
                self.count_targets::<true>(&ids, j)
            } else {
                self.count_targets::<false>(&ids, j)
            };
            // A buffer may pass its capacity by less than one window: cut it between targets.
            if self.buffer.len() >= self.capacity {
                out = self.cut_run();
                if out.is_err() {
                    break;
                }
            }
        }
        self.ids = ids;
        out
    }

    /// The hot loop: counts targets `from..` until the document ends or the record buffer is
    /// full; returns the next target. Locals keep the tables in registers.
    #[inline(always)]
    fn count_targets<const SYMMETRIC: bool>(&mut self, ids: &[u32], from: usize) -> usize {
        let window = self.weights.len() - 1;
        let weights = &self.weights[1..];
        let (row_len, row_start) = (&self.layout.row_len[..], &self.layout.row_start[..]);
        let dense = &mut self.dense[..];
        let buffer = &mut self.buffer;
        let capacity = self.capacity;
        let mut j = from;
        while j < ids.len() {
            let right = ids[j];
            let lo = j.saturating_sub(window);
            for (&left, &w) in ids[lo..j].iter().rev().zip(weights) {
                let (r, c) = if SYMMETRIC {
                    (left.min(right), left.max(right))
                } else {
                    (left, right)
                };
                let (ri, ci) = (r as usize, c as usize);
                if ci < row_len[ri] as usize {
                    dense[row_start[ri] + ci] += w;
                } else {
                    buffer.push(((r as u64) << 32 | c as u64, w));
                }
            }
            j += 1;
            if buffer.len() >= capacity {
                break;
            }
        }
        j
    }
}

/// Stable LSD radix sort of records by key, `key = row << 32 | col` with `row, col <
/// 2^key_bits`; `scratch` is reused between calls.
fn radix_sort(records: &mut Vec<(u64, f64)>, scratch: &mut Vec<(u64, f64)>, key_bits: u32) {
    const DIGIT: u32 = 11;
    let n = records.len();
    if n < 64 {
        records.sort_by_key(|r| r.0);
        return;
    }
    // Digits over the column half, then the row half.
    let mut digits: Vec<(u32, u32)> = Vec::new();
    for base in [0u32, 32] {
        let mut b = 0;
        while b < key_bits.max(1) {
            let width = DIGIT.min(key_bits - b).max(1);
            digits.push((base + b, width));
            b += width;
        }
    }
    scratch.clear();
    scratch.resize(n, (0, 0.0));
    let mut counts = vec![0usize; 1 << DIGIT];
    for &(shift, width) in &digits {
        let mask = (1u64 << width) - 1;
        counts[..1 << width].iter_mut().for_each(|c| *c = 0);
        for r in records.iter() {
            counts[((r.0 >> shift) & mask) as usize] += 1;
        }
        if counts[..1 << width].contains(&n) {
            continue; // every key has this digit: the pass would not move anything
        }
        let mut sum = 0;
        for c in counts[..1 << width].iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        for r in records.iter() {
            let d = ((r.0 >> shift) & mask) as usize;
            scratch[counts[d]] = *r;
            counts[d] += 1;
        }
        std::mem::swap(records, scratch);
    }
}

/// Sums the values of equal adjacent keys (in order), keeping one record per key.
fn sum_duplicates(records: &mut Vec<(u64, f64)>) {
    let mut out = 0usize;
    for i in 0..records.len() {
        if out > 0 && records[out - 1].0 == records[i].0 {
            records[out - 1].1 += records[i].1;
        } else {
            records[out] = records[i];
            out += 1;
        }
    }
    records.truncate(out);
}

/// Counting setup shared by the file and memory paths.
struct Plan {
    layout: DenseLayout,
    weights: Vec<f64>,
    capacity: usize,
    spill: Option<Spill>,
}

impl Plan {
    fn new(vocab_size: usize, params: &CooccurParams) -> Result<Self> {
        params.validate()?;
        let n = effective_threads(params.n_threads);
        let (dense_entries, capacity, spill) = match params.memory_limit {
            None => (DEFAULT_DENSE_ENTRIES, DEFAULT_BUFFER_RECORDS, None),
            Some(limit) => {
                // Half for the dense tables, half for the record buffers, split over workers.
                let per_worker = (limit / 2 / n as u64) as usize;
                let dir = match &params.temp_dir {
                    Some(d) => tempfile::Builder::new()
                        .prefix("ferrotext-cooccur-")
                        .tempdir_in(d),
                    None => tempfile::Builder::new()
                        .prefix("ferrotext-cooccur-")
                        .tempdir(),
                }
                .map_err(|e| {
                    Error::InvalidInput(format!("cannot create a temporary directory: {e}"))
                })?;
                (
                    per_worker / 8,
                    // A buffer and its sort scratch.
                    (per_worker / (2 * RECORD_BYTES)).max(16),
                    Some(Spill {
                        dir,
                        next: AtomicU64::new(0),
                    }),
                )
            }
        };
        let layout = DenseLayout::with_budget(vocab_size, dense_entries, params.symmetric);
        let weights = (0..=params.window)
            .map(|d| match (d, params.weighting) {
                (0, _) => 0.0,
                (_, Weighting::Harmonic) => 1.0 / d as f64,
                (_, Weighting::Uniform) => 1.0,
            })
            .collect();
        Ok(Plan {
            layout,
            weights,
            capacity,
            spill,
        })
    }

    fn accumulator(&self, symmetric: bool) -> Accumulator<'_> {
        Accumulator::new(
            &self.layout,
            &self.weights,
            symmetric,
            self.capacity,
            self.spill.as_ref(),
        )
    }
}

/// Counts the co-occurrences of text files (one document per line) over `vocab` (id =
/// position; other words are skipped).
pub fn cooccur_files(
    paths: &[PathBuf],
    vocab: &[String],
    params: &CooccurParams,
    interrupt: &dyn Interrupt,
    progress: &mut Progress<'_>,
) -> Result<(CsrMatrix, CooccurStats)> {
    let v = vocab.len();
    check_vocab_size(v)?;
    let plan = Plan::new(v, params)?;
    let lookup: FxHashMap<&str, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i as u32))
        .collect();
    let mut reader = ChunkReader::new(paths.to_vec())?;
    let total_bytes = reader.total_bytes;
    let mut prev_carry: Vec<u32> = Vec::new();
    let window = params.window;
    let accs = drive(
        params.n_threads,
        interrupt,
        || {
            let Some(mut chunk) = reader.next_chunk()? else {
                return Ok(None);
            };
            if chunk.continues {
                chunk.carry = std::mem::take(&mut prev_carry);
            }
            // A chunk that ends mid-line hands its tail to the next one as context.
            let next_continues = reader.pending_continues;
            if next_continues {
                prev_carry = carry_of(&chunk, &chunk.carry, &lookup, window)?;
            }
            progress("cooccurrence", reader.bytes_done(), total_bytes)?;
            Ok(Some(chunk))
        },
        |_| plan.accumulator(params.symmetric),
        |acc, chunk: TextChunk| {
            let text = chunk.text()?;
            for (i, line) in text.split('\n').enumerate() {
                acc.ids.clear();
                let first = if i == 0 && chunk.continues {
                    acc.ids.extend_from_slice(&chunk.carry);
                    chunk.carry.len()
                } else {
                    0
                };
                acc.ids.extend(
                    line.split_whitespace()
                        .filter_map(|w| lookup.get(w).copied()),
                );
                acc.count_document(first)?;
            }
            Ok(())
        },
        |acc| {
            acc.ids = Vec::new();
            acc.cut_run()?;
            acc.scratch = Vec::new();
            acc.buffer = Vec::new();
            Ok(())
        },
    )?;
    assemble(accs, &plan, v, params, interrupt)
}

/// Counts the co-occurrences of an in-memory corpus: `tokens` are word ids (`u32::MAX` marks a
/// dropped word), document `d` is `tokens[doc_ends[d-1]..doc_ends[d]]`.
pub fn cooccur_ids(
    tokens: &[u32],
    doc_ends: &[u64],
    vocab_size: usize,
    params: &CooccurParams,
    interrupt: &dyn Interrupt,
    progress: &mut Progress<'_>,
) -> Result<(CsrMatrix, CooccurStats)> {
    check_vocab_size(vocab_size)?;
    let mut prev = 0u64;
    for &e in doc_ends {
        if e < prev || e > tokens.len() as u64 {
            return Err(Error::InvalidInput(
                "document offsets are not sorted or out of range".into(),
            ));
        }
        prev = e;
    }
    if prev != tokens.len() as u64 {
        return Err(Error::InvalidInput(
            "document offsets do not cover the token buffer".into(),
        ));
    }
    if tokens
        .iter()
        .any(|&t| t != u32::MAX && t as usize >= vocab_size)
    {
        return Err(Error::InvalidInput(
            "token id out of vocabulary range".into(),
        ));
    }
    let plan = Plan::new(vocab_size, params)?;
    let n = tokens.len();
    let mut next = 0usize;
    let window = params.window;
    let accs = drive(
        params.n_threads,
        interrupt,
        || {
            if next >= n {
                return Ok(None);
            }
            let start = next;
            next = (start + ID_CHUNK_TOKENS).min(n);
            progress("cooccurrence", next as u64, n as u64)?;
            Ok(Some(start..next))
        },
        |_| plan.accumulator(params.symmetric),
        |acc, range: std::ops::Range<usize>| {
            // Documents overlapping the range; only targets inside it are counted.
            let mut d = doc_ends.partition_point(|&e| e as usize <= range.start);
            while d < doc_ends.len() {
                let doc_start = if d == 0 { 0 } else { doc_ends[d - 1] as usize };
                let doc_end = doc_ends[d] as usize;
                if doc_start >= range.end {
                    break;
                }
                let seg_start = doc_start.max(range.start);
                let seg_end = doc_end.min(range.end);
                acc.ids.clear();
                // Context before a cut: the last `window` kept ids of the same document.
                let mut first = 0;
                if seg_start > doc_start {
                    let mut k = seg_start;
                    while k > doc_start && first < window {
                        k -= 1;
                        if tokens[k] != u32::MAX {
                            first += 1;
                        }
                    }
                    acc.ids.extend(
                        tokens[k..seg_start]
                            .iter()
                            .copied()
                            .filter(|&t| t != u32::MAX),
                    );
                }
                acc.ids.extend(
                    tokens[seg_start..seg_end]
                        .iter()
                        .copied()
                        .filter(|&t| t != u32::MAX),
                );
                acc.count_document(first)?;
                d += 1;
            }
            Ok(())
        },
        |acc| {
            acc.ids = Vec::new();
            acc.cut_run()?;
            acc.scratch = Vec::new();
            acc.buffer = Vec::new();
            Ok(())
        },
    )?;
    assemble(accs, &plan, vocab_size, params, interrupt)
}

fn check_vocab_size(v: usize) -> Result<()> {
    if v == 0 {
        return Err(Error::InvalidInput("the vocabulary is empty".into()));
    }
    if v >= i32::MAX as usize {
        return Err(Error::InvalidInput(format!(
            "a vocabulary of {v} words is too large"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Merging

/// Reads one run back in key order.
enum RunCursor<'a> {
    Slice(std::slice::Iter<'a, (u64, f64)>),
    File {
        reader: BufReader<File>,
        left: usize,
        path: PathBuf,
    },
}

impl<'a> RunCursor<'a> {
    fn open(run: &'a Run) -> Result<Self> {
        Ok(match run {
            Run::Memory(v) => RunCursor::Slice(v.iter()),
            Run::File { path, len } => {
                let f = File::open(path).map_err(|e| spill_error(path, e))?;
                RunCursor::File {
                    reader: BufReader::with_capacity(1 << 16, f),
                    left: *len,
                    path: path.clone(),
                }
            }
        })
    }

    fn next(&mut self) -> Result<Option<(u64, f64)>> {
        match self {
            RunCursor::Slice(it) => Ok(it.next().copied()),
            RunCursor::File { reader, left, path } => {
                if *left == 0 {
                    return Ok(None);
                }
                let mut rec = [0u8; RECORD_BYTES];
                reader
                    .read_exact(&mut rec)
                    .map_err(|e| spill_error(path, e))?;
                *left -= 1;
                let mut k = [0u8; 8];
                let mut v = [0u8; 8];
                k.copy_from_slice(&rec[..8]);
                v.copy_from_slice(&rec[8..]);
                Ok(Some((u64::from_le_bytes(k), f64::from_le_bytes(v))))
            }
        }
    }
}

/// K-way merge of runs, summing equal keys (in run order, so the result is reproducible).
struct RunMerger<'a> {
    cursors: Vec<RunCursor<'a>>,
    heads: Vec<f64>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
}

impl<'a> RunMerger<'a> {
    fn new(cursors: Vec<RunCursor<'a>>) -> Result<Self> {
        let mut cursors = cursors;
        let mut heads = vec![0.0; cursors.len()];
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some((k, v)) = c.next()? {
                heads[i] = v;
                heap.push(Reverse((k, i)));
            }
        }
        Ok(RunMerger {
            cursors,
            heads,
            heap,
        })
    }

    fn next(&mut self) -> Result<Option<(u64, f64)>> {
        let Some(Reverse((key, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let mut sum = self.heads[i];
        self.advance(i)?;
        while let Some(&Reverse((k, j))) = self.heap.peek() {
            if k != key {
                break;
            }
            self.heap.pop();
            sum += self.heads[j];
            self.advance(j)?;
        }
        Ok(Some((key, sum)))
    }

    fn advance(&mut self, i: usize) -> Result<()> {
        if let Some((k, v)) = self.cursors[i].next()? {
            self.heads[i] = v;
            self.heap.push(Reverse((k, i)));
        }
        Ok(())
    }
}

/// Merges spilled runs in passes of at most [`MERGE_FAN_IN`] (open files) until one pass can
/// take them all; each merged group is written back as one run and its inputs deleted.
fn reduce_run_count(
    mut runs: Vec<Run>,
    spill: Option<&Spill>,
    interrupt: &dyn Interrupt,
) -> Result<Vec<Run>> {
    let Some(spill) = spill else {
        return Ok(runs);
    };
    while runs.len() > MERGE_FAN_IN {
        let mut next = Vec::with_capacity(runs.len().div_ceil(MERGE_FAN_IN));
        let mut iter = runs.into_iter();
        loop {
            let group: Vec<Run> = iter.by_ref().take(MERGE_FAN_IN).collect();
            if group.is_empty() {
                break;
            }
            interrupt.check()?;
            let inputs: Vec<PathBuf> = group
                .iter()
                .filter_map(|r| match r {
                    Run::File { path, .. } => Some(path.clone()),
                    Run::Memory(_) => None,
                })
                .collect();
            let mut cursors = Vec::with_capacity(group.len());
            for r in &group {
                cursors.push(RunCursor::open(r)?);
            }
            let mut merger = RunMerger::new(cursors)?;
            let mut out = spill.writer()?;
            while let Some((k, v)) = merger.next()? {
                out.push(k, v)?;
            }
            next.push(out.finish()?);
            drop(merger);
            drop(group);
            for p in inputs {
                // Best effort: the temporary directory is removed at the end anyway.
                let _ = std::fs::remove_file(p);
            }
        }
        runs = next;
    }
    Ok(runs)
}

/// Rows `first_row..first_row + indptr.len() - 1` of the counted matrix (the upper triangle
/// in symmetric mode), columns sorted.
struct RowBlock {
    first_row: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f64>,
}

/// Rows `rows` from the dense table and a sorted record stream positioned at their first key.
/// A row's dense columns all precede its sparse ones (dense iff `col < row_len[row]`).
fn merge_rows(
    rows: std::ops::Range<usize>,
    layout: &DenseLayout,
    dense: &[f64],
    merger: &mut RunMerger<'_>,
    interrupt: &dyn Interrupt,
) -> Result<RowBlock> {
    let mut block = RowBlock {
        first_row: rows.start,
        indptr: Vec::with_capacity(rows.len() + 1),
        indices: Vec::new(),
        data: Vec::new(),
    };
    block.indptr.push(0);
    let mut sparse = merger.next()?;
    for row in rows {
        let len = layout.row_len[row] as usize;
        if len > 0 {
            let start = layout.row_start[row];
            for (col, &val) in dense[start..start + len].iter().enumerate() {
                if val != 0.0 {
                    block.indices.push(col as u32);
                    block.data.push(val);
                }
            }
        }
        let row_end = (row as u64 + 1) << 32;
        while let Some((key, val)) = sparse {
            if key >= row_end {
                break;
            }
            block.indices.push(key as u32);
            block.data.push(val);
            sparse = merger.next()?;
        }
        block.indptr.push(block.indices.len());
        if row % 2048 == 0 {
            interrupt.check()?;
        }
    }
    Ok(block)
}

/// Row ranges of roughly equal merge work (dense row lengths + sampled run records).
fn row_partitions(layout: &DenseLayout, runs: &[Run], v: usize, parts: usize) -> Vec<usize> {
    const SAMPLE: usize = 64;
    let mut weight: Vec<u64> = layout.row_len.iter().map(|&l| l as u64 + 1).collect();
    for run in runs {
        if let Run::Memory(records) = run {
            for r in records.iter().step_by(SAMPLE) {
                weight[(r.0 >> 32) as usize] += SAMPLE as u64;
            }
        }
    }
    let total: u64 = weight.iter().sum();
    let mut bounds = vec![0usize];
    let mut acc = 0u64;
    for (row, w) in weight.iter().enumerate() {
        acc += w;
        if acc * parts as u64 >= total * bounds.len() as u64 && row + 1 < v {
            bounds.push(row + 1);
        }
    }
    bounds.push(v);
    bounds.dedup();
    bounds
}

/// Sums the workers' dense tables, merges all runs with them, and builds the matrix.
fn assemble(
    mut accs: Vec<Accumulator<'_>>,
    plan: &Plan,
    v: usize,
    params: &CooccurParams,
    interrupt: &dyn Interrupt,
) -> Result<(CsrMatrix, CooccurStats)> {
    let clock = std::time::Instant::now();
    let mut stats = CooccurStats::default();
    let mut runs = Vec::new();
    for acc in accs.iter_mut() {
        acc.cut_run()?; // no-op unless a worker stopped early
        stats.tokens += acc.tokens;
        stats.spilled_runs += acc.spilled;
        runs.append(&mut acc.runs);
    }
    stats.runs = runs.len();
    let n_threads = effective_threads(params.n_threads);
    let pool = thread_pool(n_threads)?;
    let mut tables: Vec<Vec<f64>> = accs.into_iter().map(|a| a.dense).collect();
    let mut dense = if tables.is_empty() {
        Vec::new()
    } else {
        tables.swap_remove(0)
    };
    {
        use rayon::prelude::*;
        pool.install(|| {
            for other in &tables {
                dense
                    .par_chunks_mut(1 << 16)
                    .zip(other.par_chunks(1 << 16))
                    .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(x, y)| *x += *y));
            }
        });
    }
    drop(tables);
    interrupt.check()?;
    let runs = reduce_run_count(runs, plan.spill.as_ref(), interrupt)?;
    let layout = &plan.layout;
    let on_disk = runs.iter().any(|r| matches!(r, Run::File { .. }));
    let blocks = if on_disk {
        // Spilled runs are read sequentially, once.
        let mut cursors = Vec::with_capacity(runs.len());
        for r in &runs {
            cursors.push(RunCursor::open(r)?);
        }
        let mut merger = RunMerger::new(cursors)?;
        vec![merge_rows(0..v, layout, &dense, &mut merger, interrupt)?]
    } else {
        // In memory: row ranges merged in parallel, each from its slice of every run.
        let bounds = row_partitions(layout, &runs, v, 4 * n_threads);
        let mut next_part = 0usize;
        let (dense, runs) = (&dense, &runs);
        let parts = drive(
            n_threads,
            interrupt,
            || {
                if next_part + 1 >= bounds.len() {
                    return Ok(None);
                }
                next_part += 1;
                Ok(Some((
                    next_part - 1,
                    bounds[next_part - 1]..bounds[next_part],
                )))
            },
            |_| Vec::new(),
            |out: &mut Vec<(usize, RowBlock)>, (p, rows): (usize, std::ops::Range<usize>)| {
                let (lo, hi) = ((rows.start as u64) << 32, (rows.end as u64) << 32);
                let cursors = runs
                    .iter()
                    .filter_map(|r| match r {
                        Run::Memory(records) => {
                            let a = records.partition_point(|x| x.0 < lo);
                            let b = records.partition_point(|x| x.0 < hi);
                            Some(RunCursor::Slice(records[a..b].iter()))
                        }
                        Run::File { .. } => None,
                    })
                    .collect();
                let mut merger = RunMerger::new(cursors)?;
                out.push((p, merge_rows(rows, layout, dense, &mut merger, interrupt)?));
                Ok(())
            },
            |_| Ok(()),
        )?;
        let mut parts: Vec<(usize, RowBlock)> = parts.into_iter().flatten().collect();
        parts.sort_by_key(|p| p.0);
        parts.into_iter().map(|p| p.1).collect()
    };
    drop(dense);
    drop(runs);
    stats.seconds.push(("merge", clock.elapsed().as_secs_f64()));
    let clock = std::time::Instant::now();
    let matrix = if params.symmetric {
        symmetrize(&blocks, v, &pool)
    } else {
        concatenate(blocks, v)
    };
    stats.seconds.push(("build", clock.elapsed().as_secs_f64()));
    Ok((matrix, stats))
}

/// Joins row blocks (in row order, covering every row) into one CSR matrix.
fn concatenate(blocks: Vec<RowBlock>, v: usize) -> CsrMatrix {
    let nnz = blocks.iter().map(|b| b.indices.len()).sum();
    let mut m = CsrMatrix {
        n: v,
        indptr: Vec::with_capacity(v + 1),
        indices: Vec::with_capacity(nnz),
        data: Vec::with_capacity(nnz),
    };
    m.indptr.push(0);
    for b in blocks {
        let base = m.indices.len() as i64;
        m.indptr
            .extend(b.indptr[1..].iter().map(|&p| base + p as i64));
        m.indices.extend(b.indices.iter().map(|&c| c as i32));
        m.data.extend_from_slice(&b.data);
    }
    while m.indptr.len() <= v {
        m.indptr.push(nnz as i64);
    }
    m
}

/// `U + U^T` for the upper triangle `U` given as row blocks (the diagonal doubles: both
/// orders of a word paired with itself land in the same cell). Destination rows are split
/// between the pool's threads; each scans all of `U` and writes only its own rows.
fn symmetrize(blocks: &[RowBlock], v: usize, pool: &rayon::ThreadPool) -> CsrMatrix {
    let mut lower = vec![0usize; v];
    let mut upper = vec![0usize; v];
    for b in blocks {
        for r in 0..b.indptr.len() - 1 {
            let row = b.first_row + r;
            upper[row] = b.indptr[r + 1] - b.indptr[r];
            for &c in &b.indices[b.indptr[r]..b.indptr[r + 1]] {
                if c as usize != row {
                    lower[c as usize] += 1;
                }
            }
        }
    }
    let mut indptr = vec![0usize; v + 1];
    for r in 0..v {
        indptr[r + 1] = indptr[r] + lower[r] + upper[r];
    }
    let nnz = indptr[v];
    let mut indices = vec![0i32; nnz];
    let mut data = vec![0f64; nnz];
    // Row ranges with about equal nonzeros, one per thread.
    let n_parts = pool.current_num_threads().max(1);
    let mut bounds = vec![0usize];
    for (r, &p) in indptr.iter().enumerate().take(v) {
        if p * n_parts >= nnz * bounds.len() && r > *bounds.last().unwrap_or(&0) {
            bounds.push(r);
        }
    }
    bounds.push(v);
    bounds.dedup();
    let (indptr_ref, lower_ref) = (&indptr, &lower);
    pool.scope(|s| {
        let (mut idx_rest, mut dat_rest) = (&mut indices[..], &mut data[..]);
        for w in bounds.windows(2) {
            let (ra, rb) = (w[0], w[1]);
            let len = indptr_ref[rb] - indptr_ref[ra];
            let (idx, ir) = std::mem::take(&mut idx_rest).split_at_mut(len);
            let (dat, dr) = std::mem::take(&mut dat_rest).split_at_mut(len);
            idx_rest = ir;
            dat_rest = dr;
            s.spawn(move |_| {
                let base = indptr_ref[ra];
                let mut lower_cur: Vec<usize> = (ra..rb).map(|r| indptr_ref[r] - base).collect();
                for b in blocks {
                    for r in 0..b.indptr.len() - 1 {
                        let row = b.first_row + r;
                        let mine = (ra..rb).contains(&row);
                        let mut up = if mine {
                            indptr_ref[row] - base + lower_ref[row]
                        } else {
                            0
                        };
                        let (p0, p1) = (b.indptr[r], b.indptr[r + 1]);
                        for (&c, &val) in b.indices[p0..p1].iter().zip(&b.data[p0..p1]) {
                            let c = c as usize;
                            if mine {
                                idx[up] = c as i32;
                                dat[up] = if c == row { 2.0 * val } else { val };
                                up += 1;
                            }
                            if c != row && (ra..rb).contains(&c) {
                                let at = &mut lower_cur[c - ra];
                                idx[*at] = row as i32;
                                dat[*at] = val;
                                *at += 1;
                            }
                        }
                    }
                }
            });
        }
    });
    CsrMatrix {
        n: v,
        indptr: indptr.into_iter().map(|p| p as i64).collect(),
        indices,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NeverInterrupt;

    fn params(window: usize, symmetric: bool, limit: Option<u64>) -> CooccurParams {
        CooccurParams {
            window,
            weighting: Weighting::Harmonic,
            symmetric,
            n_threads: 2,
            memory_limit: limit,
            temp_dir: None,
        }
    }

    fn dense(m: &CsrMatrix) -> Vec<Vec<f64>> {
        let mut out = vec![vec![0.0; m.n]; m.n];
        for (r, row) in out.iter_mut().enumerate() {
            for p in m.indptr[r] as usize..m.indptr[r + 1] as usize {
                row[m.indices[p] as usize] = m.data[p];
            }
        }
        out
    }

    /// Straightforward reference: filtered documents, every (left, right) pair in the window.
    fn reference(docs: &[Vec<u32>], v: usize, window: usize, symmetric: bool) -> Vec<Vec<f64>> {
        let mut x = vec![vec![0.0; v]; v];
        for doc in docs {
            let ids: Vec<u32> = doc.iter().copied().filter(|&t| t != u32::MAX).collect();
            for j in 0..ids.len() {
                for k in j.saturating_sub(window)..j {
                    let w = 1.0 / (j - k) as f64;
                    x[ids[k] as usize][ids[j] as usize] += w;
                    if symmetric {
                        x[ids[j] as usize][ids[k] as usize] += w;
                    }
                }
            }
        }
        x
    }

    fn close(a: &[Vec<f64>], b: &[Vec<f64>]) -> bool {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + y.abs()))
    }

    #[test]
    fn matches_reference_in_memory_and_spilled() {
        let v = 7usize;
        let mut rng = crate::runtime::rng_stream(1, 0);
        use rand::Rng;
        let docs: Vec<Vec<u32>> = (0..40)
            .map(|_| {
                let len = rng.random_range(0..200);
                (0..len)
                    .map(|_| {
                        if rng.random_range(0..10) == 0 {
                            u32::MAX
                        } else {
                            rng.random_range(0..v as u32)
                        }
                    })
                    .collect()
            })
            .collect();
        let tokens: Vec<u32> = docs.iter().flatten().copied().collect();
        let mut ends = Vec::new();
        let mut acc = 0u64;
        for d in &docs {
            acc += d.len() as u64;
            ends.push(acc);
        }
        for symmetric in [true, false] {
            for window in [1, 3, 15] {
                let want = reference(&docs, v, window, symmetric);
                for limit in [None, Some(300u64)] {
                    let (m, stats) = cooccur_ids(
                        &tokens,
                        &ends,
                        v,
                        &params(window, symmetric, limit),
                        &NeverInterrupt,
                        &mut |_, _, _| Ok(()),
                    )
                    .unwrap();
                    assert!(close(&dense(&m), &want), "window {window} sym {symmetric}");
                    if limit.is_some() {
                        assert!(stats.spilled_runs > 1, "{stats:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn radix_sort_sorts_stably_and_sums() {
        let mut rng = crate::runtime::rng_stream(2, 0);
        use rand::Rng;
        for (n, v) in [
            (10usize, 5u64),
            (5000, 3),
            (5000, 70_000),
            (20_000, 1 << 20),
        ] {
            let mut recs: Vec<(u64, f64)> = (0..n)
                .map(|i| {
                    let (r, c) = (rng.random_range(0..v), rng.random_range(0..v));
                    (r << 32 | c, i as f64)
                })
                .collect();
            let mut want = recs.clone();
            want.sort_by_key(|r| r.0); // stable: equal keys keep their order
            let bits = u64::BITS - (v - 1).leading_zeros();
            radix_sort(&mut recs, &mut Vec::new(), bits);
            assert_eq!(recs, want);
            sum_duplicates(&mut recs);
            assert!(recs.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn vocabulary_order() {
        let (w, c) = select_vocabulary(
            vec!["b".into(), "a".into(), "c".into(), "d".into()],
            vec![2, 2, 5, 1],
            2,
            None,
        );
        assert_eq!(w, vec!["c", "a", "b"]);
        assert_eq!(c, vec![5, 2, 2]);
    }

    #[test]
    fn rejects_window_zero() {
        let r = cooccur_ids(
            &[0, 0],
            &[2],
            1,
            &params(0, true, None),
            &NeverInterrupt,
            &mut |_, _, _| Ok(()),
        );
        assert!(r.is_err());
    }
}
