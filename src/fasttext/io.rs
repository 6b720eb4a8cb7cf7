//! The `.bin` layout of fastText (versions 11 and 12) and the pre-0.9 layout without magic
//! number that gensim still reads. Every size is checked against the bytes left before
//! anything is allocated, so a hostile header cannot make us allocate more than the file holds.

use super::args::{Args, LossName, ModelName};
use super::dictionary::{DictConfig, Dictionary, Entry, EntryKind};
use super::FastText;
use crate::error::{Error, Result};
use crate::runtime::{Interrupt, NeverInterrupt};
use std::io::{BufRead, Read};

/// fastText's magic number.
pub const MAGIC: i32 = 793_712_314;
/// The version we write.
pub const VERSION: i32 = 12;

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidInput(msg.into())
}

/// Reads the layout from any byte stream whose length is known up front, so every size can
/// be checked against the bytes left (and the matrices go straight into their `Vec<f32>`
/// without a copy of the whole file).
struct Reader<'a, R: std::io::BufRead> {
    inner: R,
    pos: usize,
    len: usize,
    /// Asked every [`INTERRUPT_BYTES`] of matrix data (a big model takes seconds to read).
    interrupt: &'a dyn Interrupt,
}

/// Bytes read between two interrupt checks: a few milliseconds of disk or page-cache reads.
const INTERRUPT_BYTES: usize = 16 << 20;

impl<R: std::io::BufRead> Reader<'_, R> {
    fn left(&self) -> usize {
        self.len - self.pos
    }

    fn truncated(&self, n: usize, what: &str) -> Error {
        bad(format!(
            "truncated fastText model: {what} needs {n} bytes at offset {} but only {} remain",
            self.pos,
            self.left()
        ))
    }

    fn read_into(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        if self.left() < buf.len() {
            return Err(self.truncated(buf.len(), what));
        }
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.truncated(buf.len(), what)
            } else {
                bad(format!("cannot read the fastText model: {e}"))
            }
        })?;
        self.pos += buf.len();
        Ok(())
    }

    fn skip(&mut self, mut n: usize, what: &str) -> Result<()> {
        let mut buf = [0u8; 4096];
        while n > 0 {
            let k = n.min(buf.len());
            self.read_into(&mut buf[..k], what)?;
            n -= k;
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.read_into(&mut b, what)?;
        Ok(b)
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    fn f64(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_bits(self.i64(what)? as u64))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn nonneg(&mut self, what: &str) -> Result<usize> {
        let v = self.i32(what)?;
        usize::try_from(v).map_err(|_| bad(format!("invalid fastText model: {what} is {v}")))
    }

    fn cstring(&mut self, what: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let limit = self.left() as u64;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(0, &mut out)
            .map_err(|e| bad(format!("cannot read the fastText model: {e}")))?;
        if out.last() != Some(&0) {
            return Err(bad(format!(
                "truncated fastText model: unterminated {what} at offset {}",
                self.pos
            )));
        }
        self.pos += n;
        out.pop();
        Ok(out)
    }

    fn matrix(&mut self, dim: usize, what: &str) -> Result<(usize, Vec<f32>)> {
        let m = self.i64(&format!("{what} rows"))?;
        let n = self.i64(&format!("{what} columns"))?;
        if m < 0 || n < 0 {
            return Err(bad(format!(
                "invalid fastText model: {what} has shape {m} x {n}"
            )));
        }
        if n as u64 != dim as u64 {
            return Err(bad(format!(
                "invalid fastText model: {what} has {n} columns but dim is {dim}"
            )));
        }
        let bytes = (m as u128) * (n as u128) * 4;
        if bytes > self.left() as u128 {
            return Err(bad(format!(
                "truncated fastText model: {what} of {m} x {n} floats needs {bytes} bytes at offset {} but only {} remain",
                self.pos,
                self.left()
            )));
        }
        let count = bytes as usize / 4;
        // Zero-allocated, and runs of zeros (rows fastText never initialised nor trained) are
        // not written: their pages stay untouched.
        let mut data = vec![0.0f32; count];
        let mut buf = vec![0u8; 1 << 12]; // a page
        for (i, chunk) in data.chunks_mut(buf.len() / 4).enumerate() {
            if i % (INTERRUPT_BYTES / buf.len()) == 0 {
                self.interrupt.check()?;
            }
            let bytes = &mut buf[..4 * chunk.len()];
            self.read_into(bytes, what)?;
            if bytes.iter().any(|&b| b != 0) {
                for (x, c) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
                    *x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
        }
        Ok((m as usize, data))
    }
}

/// Parses a `.bin` model held in memory.
pub fn load(data: &[u8]) -> Result<FastText> {
    load_from(data, data.len(), &NeverInterrupt)
}

/// Reads a `.bin` model file, streaming (the file is never held in memory whole), and asks
/// `interrupt` while it reads the matrices.
pub fn load_path(path: &std::path::Path, interrupt: &dyn Interrupt) -> Result<FastText> {
    let file = std::fs::File::open(path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let len = file
        .metadata()
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?
        .len();
    let len = usize::try_from(len).map_err(|_| bad("the fastText model file is too large"))?;
    load_from(
        std::io::BufReader::with_capacity(1 << 16, file),
        len,
        interrupt,
    )
}

/// Parses a `.bin` model of `len` bytes from `inner`.
fn load_from<R: std::io::BufRead>(
    inner: R,
    len: usize,
    interrupt: &dyn Interrupt,
) -> Result<FastText> {
    let mut r = Reader {
        inner,
        pos: 0,
        len,
        interrupt,
    };
    let first = r.i32("magic number")?;
    let second = r.i32("version")?;
    let legacy = first != MAGIC;
    let (version, dim, ws) = if legacy {
        // Pre-0.9 files start directly with dim and ws (as gensim reads them).
        if !(1..=100_000).contains(&first) || !(0..=10_000).contains(&second) {
            return Err(bad(format!(
                "not a fastText model: bad magic number {first} (expected {MAGIC}), and not the pre-0.9 layout either"
            )));
        }
        (0, first as usize, second as usize)
    } else {
        if !(11..=VERSION).contains(&second) {
            return Err(bad(format!(
                "unsupported fastText file version {second} (supported: 11 and 12)"
            )));
        }
        let dim = r.nonneg("dim")?;
        let ws = r.nonneg("ws")?;
        (second, dim, ws)
    };
    if dim == 0 || dim > 100_000 {
        return Err(bad(format!("invalid fastText model: dim is {dim}")));
    }
    let epoch = r.nonneg("epoch")?;
    let min_count = r.i32("minCount")? as i64;
    let neg = r.nonneg("neg")?;
    let word_ngrams = r.nonneg("wordNgrams")?;
    let loss = LossName::from_code(r.i32("loss")?)
        .map_err(|e| bad(format!("invalid fastText model: {e}")))?;
    let model = ModelName::from_code(r.i32("model")?)
        .map_err(|e| bad(format!("invalid fastText model: {e}")))?;
    let bucket = r.nonneg("bucket")?;
    let minn = r.nonneg("minn")?;
    let mut maxn = r.nonneg("maxn")?;
    let lr_update_rate = r.nonneg("lrUpdateRate")?;
    let t = r.f64("t")?;
    if model == ModelName::Supervised && version <= 11 {
        // fastText: old supervised models do not use char n-grams.
        maxn = 0;
    }
    let defaults = Args::defaults(model);
    let args = Args {
        model,
        loss,
        lr: 0.05,
        dim,
        ws,
        epoch,
        min_count,
        min_count_label: 0,
        neg,
        word_ngrams,
        bucket,
        minn,
        maxn,
        lr_update_rate,
        t,
        label: defaults.label,
        seed: 0,
    };
    if (maxn > 0 || (model == ModelName::Supervised && word_ngrams > 1)) && bucket == 0 {
        return Err(bad(
            "invalid fastText model: n-grams are enabled but bucket is 0",
        ));
    }

    // Dictionary.
    let size = r.nonneg("dictionary size")?;
    let nwords = r.nonneg("nwords")?;
    let nlabels = r.nonneg("nlabels")?;
    let ntokens = r.i64("ntokens")?;
    let pruneidx_size = if legacy { -1 } else { r.i64("pruneidx size")? };
    if nwords.checked_add(nlabels) != Some(size) {
        return Err(bad(format!(
            "invalid fastText model: dictionary size {size} != nwords {nwords} + nlabels {nlabels}"
        )));
    }
    // An entry takes at least 10 bytes (NUL, count, type).
    if size > r.left() / 10 {
        return Err(bad(format!(
            "truncated fastText model: dictionary claims {size} entries but only {} bytes remain",
            r.left()
        )));
    }
    let mut entries = Vec::with_capacity(size);
    for i in 0..size {
        let word = r.cstring("dictionary word")?;
        let count = r.i64("word count")?;
        let kind = match r.u8("entry type")? {
            0 => EntryKind::Word,
            1 => EntryKind::Label,
            other => {
                return Err(bad(format!(
                    "invalid fastText model: entry {i} has type {other}"
                )))
            }
        };
        let expected = if i < nwords {
            EntryKind::Word
        } else {
            EntryKind::Label
        };
        if kind != expected {
            return Err(bad(format!(
                "invalid fastText model: entry {i} is a {kind:?} but the header says {nwords} words then {nlabels} labels"
            )));
        }
        entries.push(Entry { word, count, kind });
    }
    if pruneidx_size > 0 {
        let pairs = pruneidx_size as u128;
        if pairs * 8 > r.left() as u128 {
            return Err(bad(format!(
                "truncated fastText model: {pruneidx_size} pruned n-gram ids do not fit in the file"
            )));
        }
        r.skip(pruneidx_size as usize * 8, "pruned n-gram ids")?;
    }
    let quant_input = if legacy {
        0
    } else {
        r.u8("quantization flag")?
    };
    if quant_input != 0 {
        return Err(bad(
            "quantized models (.ftz) are not supported yet; use the unquantized .bin model",
        ));
    }
    if pruneidx_size >= 0 {
        // fastText refuses these too ("Invalid model file ... issue #332").
        return Err(bad(
            "invalid fastText model: pruned dictionary in a non-quantized model",
        ));
    }
    let (in_rows, input) = r.matrix(dim, "input matrix")?;
    if !legacy {
        r.u8("output quantization flag")?;
    }
    let (out_rows, output) = r.matrix(dim, "output matrix")?;
    if in_rows as u128 != nwords as u128 + bucket as u128 {
        return Err(bad(format!(
            "invalid fastText model: input matrix has {in_rows} rows, expected nwords + bucket = {}",
            nwords as u128 + bucket as u128
        )));
    }
    let expected_out = if model == ModelName::Supervised {
        nlabels
    } else {
        nwords
    };
    if out_rows != expected_out {
        return Err(bad(format!(
            "invalid fastText model: output matrix has {out_rows} rows, expected {expected_out}"
        )));
    }
    if model == ModelName::Supervised && nlabels == 0 {
        return Err(bad(
            "invalid fastText model: supervised model without labels",
        ));
    }
    let config = DictConfig {
        minn,
        maxn,
        bucket,
        label: args.label.clone().into_bytes(),
        legacy,
    };
    // Subword ids are bounded by what the matrix bytes can justify (at most 4 ids per byte).
    let max_subwords = len.saturating_mul(4).max(1 << 20);
    interrupt.check()?;
    let dict = Dictionary::new(config, entries, ntokens, max_subwords)?;
    Ok(FastText::from_parts(args, version, dict, input, output))
}

/// Serialises a model as a version-12 `.bin` file.
pub fn save(model: &FastText) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + 4 * (model.input.len() + model.output.len()));
    // Writing into a Vec cannot fail.
    let _ = write(model, &mut out);
    out
}

/// Writes a version-12 `.bin` file to `path`, streaming (no copy of the model in memory).
pub fn save_path(model: &FastText, path: &std::path::Path) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
    write(model, &mut w)?;
    std::io::Write::flush(&mut w)
}

/// The `.bin` layout of `model`, into `out`.
fn write(model: &FastText, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let a = &model.args;
    let d = &model.dict;
    let mut head = Vec::new();
    let i32s = |out: &mut Vec<u8>, v: i64| out.extend_from_slice(&(v as i32).to_le_bytes());
    i32s(&mut head, MAGIC as i64);
    i32s(&mut head, VERSION as i64);
    for v in [
        a.dim as i64,
        a.ws as i64,
        a.epoch as i64,
        a.min_count,
        a.neg as i64,
        a.word_ngrams as i64,
        a.loss as i64,
        a.model as i64,
        a.bucket as i64,
        a.minn as i64,
        a.maxn as i64,
        a.lr_update_rate as i64,
    ] {
        i32s(&mut head, v);
    }
    head.extend_from_slice(&a.t.to_le_bytes());
    i32s(&mut head, d.size() as i64);
    i32s(&mut head, d.nwords as i64);
    i32s(&mut head, d.nlabels as i64);
    head.extend_from_slice(&d.ntokens.to_le_bytes());
    head.extend_from_slice(&(-1i64).to_le_bytes());
    for e in &d.entries {
        head.extend_from_slice(&e.word);
        head.push(0);
        head.extend_from_slice(&e.count.to_le_bytes());
        head.push(e.kind as u8);
    }
    out.write_all(&head)?;
    let dim = a.dim as i64;
    let mut buf = Vec::with_capacity(1 << 16);
    for data in [&model.input, &model.output] {
        buf.clear();
        buf.push(0); // not quantized (quant_ before the input matrix, qout before the output)
        buf.extend_from_slice(&((data.len() as i64) / dim).to_le_bytes());
        buf.extend_from_slice(&dim.to_le_bytes());
        out.write_all(&buf)?;
        for chunk in data.chunks(1 << 14) {
            buf.clear();
            for x in chunk {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            out.write_all(&buf)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fasttext::train::{train, TrainInput};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its checks and cancels from check number `cancel_at` on.
    struct Counting {
        calls: AtomicUsize,
        cancel_at: usize,
    }

    impl Interrupt for Counting {
        fn check(&self) -> Result<()> {
            if self.calls.fetch_add(1, Ordering::Relaxed) + 1 >= self.cancel_at {
                return Err(Error::Cancelled);
            }
            Ok(())
        }
    }

    #[test]
    fn load_path_asks_the_interrupt_while_reading_the_matrices() {
        let mut a = Args::defaults(ModelName::SkipGram);
        a.dim = 32;
        a.epoch = 1;
        a.min_count = 1;
        a.bucket = 400_000; // a 51 MB input matrix
        let text = b"the river bank of the river\nmoney in the bank\n".repeat(20);
        let model = train(a, TrainInput::Bytes(text), 1, &NeverInterrupt, &mut |_| {
            Ok(())
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        save_path(&model, &path).unwrap();

        let all = Counting {
            calls: AtomicUsize::new(0),
            cancel_at: usize::MAX,
        };
        let loaded = load_path(&path, &all).unwrap();
        assert_eq!(loaded.input, model.input);
        // At least one check per 16 MB of matrix data.
        let calls = all.calls.load(Ordering::Relaxed);
        assert!(calls >= 51 / 16, "{calls} checks");

        let cancel = Counting {
            calls: AtomicUsize::new(0),
            cancel_at: 2,
        };
        assert!(matches!(load_path(&path, &cancel), Err(Error::Cancelled)));
    }
}
