//! fastText's dictionary: tokenisation, counting, pruning, char n-gram and word n-gram ids.

use crate::error::{Error, Result};
use hashbrown::HashTable;

/// Table hash of a word with fastText hash `h` (which the classifier needs anyway for word
/// n-grams, so a token is hashed once): spread over 64 bits, since the table uses the top ones.
#[inline(always)]
fn table_hash(h: u32) -> u64 {
    (h as u64 | (h as u64) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn key_hash(word: &[u8]) -> u64 {
    table_hash(hash(word))
}

/// Byte-string equality for short words without a call to `memcmp`.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_ne_bytes(w)
    };
    for (x, y) in (&mut ca).zip(&mut cb) {
        if word(x) != word(y) {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// The end-of-sentence token fastText emits for every newline.
pub const EOS: &[u8] = b"</s>";
/// fastText's vocabulary hash-table size; pruning starts at 75% of it.
pub const MAX_VOCAB_SIZE: usize = 30_000_000;
/// Unsupervised lines are cut after this many in-vocabulary tokens.
pub const MAX_LINE_SIZE: usize = 1024;

/// fastText's string hash: FNV-1a over *sign-extended* bytes (bytes >= 0x80 differ from FNV).
#[inline]
pub fn hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// fastText's whitespace: what `readWord` splits on.
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

/// One token of fastText's tokeniser.
#[derive(Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// A whitespace-free byte string.
    Word(&'a [u8]),
    /// A newline (or a literal `</s>`): the end of a line.
    Eos,
}

/// Calls `f` for each token of `text` exactly as fastText's `readWord` produces them.
#[inline]
pub fn for_each_token<'a>(text: &'a [u8], mut f: impl FnMut(Token<'a>)) {
    let mut start = None;
    for (i, &b) in text.iter().enumerate() {
        if is_space(b) {
            if let Some(s) = start.take() {
                emit(&text[s..i], &mut f);
            }
            if b == b'\n' {
                f(Token::Eos);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        emit(&text[s..], &mut f);
    }
}

#[inline]
fn emit<'a>(w: &'a [u8], f: &mut impl FnMut(Token<'a>)) {
    if w == EOS {
        f(Token::Eos)
    } else {
        f(Token::Word(w))
    }
}

/// Word or label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// An ordinary word.
    Word = 0,
    /// A token starting with the label prefix.
    Label = 1,
}

/// One vocabulary entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Raw bytes (fastText does not require UTF-8).
    pub word: Vec<u8>,
    /// Occurrences in the training data.
    pub count: i64,
    /// Word or label.
    pub kind: EntryKind,
}

/// The settings the dictionary depends on.
#[derive(Clone, Debug)]
pub struct DictConfig {
    /// Min char n-gram length.
    pub minn: usize,
    /// Max char n-gram length.
    pub maxn: usize,
    /// Number of hash buckets.
    pub bucket: usize,
    /// Label prefix.
    pub label: Vec<u8>,
    /// Pre-0.9 files: `</s>` gets n-grams and boundary 1-grams are kept (as gensim reads them).
    pub legacy: bool,
}

/// The vocabulary with precomputed subword rows per entry.
#[derive(Clone, Debug)]
pub struct Dictionary {
    /// Settings.
    pub config: DictConfig,
    /// Words first (by count, descending), then labels.
    pub entries: Vec<Entry>,
    /// Number of words.
    pub nwords: usize,
    /// Number of labels.
    pub nlabels: usize,
    /// Tokens read while counting (including pruned ones).
    pub ntokens: i64,
    /// Entry index by word (keys are the entries' own words, not copies).
    word2int: HashTable<u32>,
    sub_offsets: Vec<u32>,
    sub_ids: Vec<u32>,
}

impl Dictionary {
    /// Builds the lookup table and the subword rows of `entries` (words first, then labels).
    /// `max_subwords` bounds the total number of subword ids (hostile files).
    pub fn new(
        config: DictConfig,
        entries: Vec<Entry>,
        ntokens: i64,
        max_subwords: usize,
    ) -> Result<Self> {
        let nwords = entries
            .iter()
            .take_while(|e| e.kind == EntryKind::Word)
            .count();
        let nlabels = entries.len() - nwords;
        if entries[nwords..].iter().any(|e| e.kind == EntryKind::Word) {
            return Err(Error::InvalidInput(
                "dictionary entries are not ordered words first, then labels".into(),
            ));
        }
        let mut word2int = HashTable::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            // fastText's open addressing keeps the last of duplicated entries.
            let h = key_hash(&e.word);
            match word2int.find_mut(h, |&j: &u32| entries[j as usize].word == e.word) {
                Some(slot) => *slot = i as u32,
                None => {
                    word2int
                        .insert_unique(h, i as u32, |&j: &u32| key_hash(&entries[j as usize].word));
                }
            }
        }
        let mut d = Dictionary {
            config,
            entries,
            nwords,
            nlabels,
            ntokens,
            word2int,
            sub_offsets: Vec::new(),
            sub_ids: Vec::new(),
        };
        d.init_subwords(max_subwords)?;
        Ok(d)
    }

    fn init_subwords(&mut self, max_subwords: usize) -> Result<()> {
        let mut offsets = Vec::with_capacity(self.entries.len() + 1);
        let mut ids: Vec<u32> = Vec::with_capacity(self.entries.len());
        let mut bracketed = Vec::new();
        offsets.push(0u32);
        for (i, e) in self.entries.iter().enumerate() {
            ids.push(i as u32);
            if e.word != EOS || self.config.legacy {
                bracket(&e.word, &mut bracketed);
                self.compute_subwords(&bracketed, &mut ids, None);
            }
            if ids.len() > max_subwords || ids.len() > u32::MAX as usize / 2 {
                return Err(Error::InvalidInput(format!(
                    "the vocabulary yields more than {max_subwords} subword ids (corrupt sizes?)"
                )));
            }
            offsets.push(ids.len() as u32);
        }
        ids.shrink_to_fit();
        self.sub_offsets = offsets;
        self.sub_ids = ids;
        Ok(())
    }

    /// Number of entries (words + labels).
    pub fn size(&self) -> usize {
        self.entries.len()
    }

    /// Id of `word` (word or label), if present.
    #[inline]
    pub fn id(&self, word: &[u8]) -> Option<u32> {
        self.id_hashed(word, hash(word))
    }

    /// [`Dictionary::id`] of a word whose fastText hash is `h`.
    #[inline]
    pub fn id_hashed(&self, word: &[u8], h: u32) -> Option<u32> {
        self.word2int
            .find(table_hash(h), |&j| {
                same(&self.entries[j as usize].word, word)
            })
            .copied()
    }

    /// Kind of a token not in the vocabulary (by prefix).
    #[inline]
    pub fn kind_of(&self, token: &[u8]) -> EntryKind {
        if token.starts_with(&self.config.label) {
            EntryKind::Label
        } else {
            EntryKind::Word
        }
    }

    /// Input rows of entry `id`: its own row then its char n-gram rows.
    #[inline]
    pub fn subwords_of(&self, id: u32) -> &[u32] {
        let i = id as usize;
        &self.sub_ids[self.sub_offsets[i] as usize..self.sub_offsets[i + 1] as usize]
    }

    /// Counts of words (`Word`) or labels (`Label`), in dictionary order.
    pub fn counts(&self, kind: EntryKind) -> Vec<i64> {
        self.entries
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.count)
            .collect()
    }

    /// Rows for char n-grams of `bracketed` (`<word>`), n counted in UTF-8 code points; with
    /// `substrings`, also the n-grams themselves.
    pub fn compute_subwords(
        &self,
        bracketed: &[u8],
        out: &mut Vec<u32>,
        mut substrings: Option<&mut Vec<Vec<u8>>>,
    ) {
        let (minn, maxn, bucket) = (self.config.minn, self.config.maxn, self.config.bucket);
        if maxn == 0 || bucket == 0 {
            return;
        }
        let w = bracketed;
        let len = w.len();
        for i in 0..len {
            if w[i] & 0xC0 == 0x80 {
                continue;
            }
            let mut j = i;
            let mut n = 1;
            while j < len && n <= maxn {
                j += 1;
                while j < len && w[j] & 0xC0 == 0x80 {
                    j += 1;
                }
                let boundary_unigram = n == 1 && (i == 0 || j == len) && !self.config.legacy;
                if n >= minn && !boundary_unigram {
                    let h = hash(&w[i..j]) % bucket as u32;
                    out.push(self.nwords as u32 + h);
                    if let Some(s) = substrings.as_deref_mut() {
                        s.push(w[i..j].to_vec());
                    }
                }
                n += 1;
            }
        }
    }

    /// Input rows of any word, as fastText's `getSubwords(word)` (in-vocabulary: stored rows;
    /// otherwise its n-gram rows; `</s>` has none).
    pub fn subwords_for(&self, word: &[u8], out: &mut Vec<u32>) {
        out.clear();
        if let Some(id) = self.id(word) {
            out.extend_from_slice(self.subwords_of(id));
        } else if word != EOS || self.config.legacy {
            let mut b = Vec::with_capacity(word.len() + 2);
            bracket(word, &mut b);
            self.compute_subwords(&b, out, None);
        }
    }

    /// `get_subwords` of the Python package: (substrings, ids), the word itself first if known.
    pub fn subword_strings(&self, word: &[u8]) -> (Vec<Vec<u8>>, Vec<u32>) {
        let mut ids = Vec::new();
        let mut strings = Vec::new();
        if let Some(id) = self.id(word) {
            ids.push(id);
            strings.push(self.entries[id as usize].word.clone());
        }
        if word != EOS || self.config.legacy {
            let mut b = Vec::with_capacity(word.len() + 2);
            bracket(word, &mut b);
            self.compute_subwords(&b, &mut ids, Some(&mut strings));
        }
        (strings, ids)
    }

    /// fastText's `addSubwords` for one token of a supervised line.
    #[inline]
    fn add_subwords(&self, line: &mut Vec<u32>, token: &[u8], wid: Option<u32>) {
        match wid {
            None => {
                if token != EOS {
                    let mut b = Vec::with_capacity(token.len() + 2);
                    bracket(token, &mut b);
                    self.compute_subwords(&b, line, None);
                }
            }
            Some(id) => {
                if self.config.maxn == 0 {
                    line.push(id);
                } else {
                    line.extend_from_slice(self.subwords_of(id));
                }
            }
        }
    }

    /// Word n-gram rows from the token hashes (fastText keeps them as `int32`, so they are
    /// sign-extended into the 64-bit rolling hash).
    #[inline]
    pub fn add_word_ngrams(&self, line: &mut Vec<u32>, hashes: &[i32], n: usize) {
        let bucket = self.config.bucket as u64;
        if bucket == 0 || n <= 1 {
            return;
        }
        for i in 0..hashes.len() {
            let mut h = hashes[i] as i64 as u64;
            for &hj in hashes.iter().take(i + n).skip(i + 1) {
                h = h.wrapping_mul(116_049_371).wrapping_add(hj as i64 as u64);
                line.push(self.nwords as u32 + (h % bucket) as u32);
            }
        }
    }

    /// A supervised line as fastText's `getLine(in, words, labels)` reads it: input rows
    /// (subwords, then word n-grams) and label indices. Reads up to the first end of line;
    /// returns the bytes consumed and the number of tokens read.
    pub fn supervised_line(
        &self,
        text: &[u8],
        word_ngrams: usize,
        words: &mut Vec<u32>,
        labels: &mut Vec<u32>,
        hashes: &mut Vec<i32>,
    ) -> (usize, usize) {
        words.clear();
        labels.clear();
        hashes.clear();
        let mut ntokens = 0usize;
        let mut pos = 0usize;
        let len = text.len();
        loop {
            // Skip whitespace other than newline.
            while pos < len && is_space(text[pos]) && text[pos] != b'\n' {
                pos += 1;
            }
            if pos >= len {
                break;
            }
            let (token, is_eos) = if text[pos] == b'\n' {
                pos += 1;
                (EOS, true)
            } else {
                let s = pos;
                while pos < len && !is_space(text[pos]) {
                    pos += 1;
                }
                (&text[s..pos], &text[s..pos] == EOS)
            };
            ntokens += 1;
            let token_hash = hash(token);
            let wid = self.id_hashed(token, token_hash);
            let kind = match wid {
                Some(id) => self.entries[id as usize].kind,
                None => self.kind_of(token),
            };
            match kind {
                EntryKind::Word => {
                    self.add_subwords(words, token, wid);
                    hashes.push(token_hash as i32);
                }
                EntryKind::Label => {
                    if let Some(id) = wid {
                        labels.push(id - self.nwords as u32);
                    }
                }
            }
            if is_eos {
                break;
            }
        }
        self.add_word_ngrams(words, hashes, word_ngrams);
        (pos, ntokens)
    }

    /// Discard probabilities (sub-sampling) for threshold `t`, as fastText's `initTableDiscard`.
    pub fn discard_table(&self, t: f64) -> Vec<f32> {
        let t = t as f32;
        self.entries
            .iter()
            .map(|e| {
                let f = e.count as f32 / self.ntokens as f32;
                (t / f).sqrt() + t / f
            })
            .collect()
    }

    /// Counts the tokens of `text` and keeps words seen `min_count` times and labels seen
    /// `min_count_label` times (see [`Counter`]).
    pub fn build(
        config: DictConfig,
        text: &[u8],
        min_count: i64,
        min_count_label: i64,
    ) -> Result<Self> {
        let mut counter = Counter::new(&config.label);
        counter.add_block(text);
        counter.finish(config, min_count, min_count_label)
    }
}

/// fastText's vocabulary count (`Dictionary::readFromFile`), fed block by block (a block
/// must end after a whitespace byte, so no token is split). The words live in one byte
/// arena: counting a large corpus leaves no swarm of small freed allocations behind.
pub struct Counter {
    label: Vec<u8>,
    arena: Vec<u8>,
    /// Per entry: start in `arena`, length, count.
    spans: Vec<(usize, u32, i64)>,
    index: HashTable<u32>,
    ntokens: i64,
    min_threshold: i64,
}

impl Counter {
    /// An empty count; `label` is the label prefix (labels are never pruned).
    pub fn new(label: &[u8]) -> Self {
        Counter {
            label: label.to_vec(),
            arena: Vec::new(),
            spans: Vec::new(),
            index: HashTable::new(),
            ntokens: 0,
            min_threshold: 1,
        }
    }

    #[inline]
    fn word(&self, i: u32) -> &[u8] {
        let (s, l, _) = self.spans[i as usize];
        &self.arena[s..s + l as usize]
    }

    /// Tokens counted so far (including pruned words).
    pub fn ntokens(&self) -> i64 {
        self.ntokens
    }

    /// Counts the tokens of one block.
    pub fn add_block(&mut self, text: &[u8]) {
        for_each_token(text, |tok| {
            let w: &[u8] = match tok {
                Token::Word(w) => w,
                Token::Eos => EOS,
            };
            self.add(w);
        });
    }

    #[inline]
    fn add(&mut self, w: &[u8]) {
        self.ntokens += 1;
        let h = key_hash(w);
        let (arena, spans) = (&self.arena, &mut self.spans);
        let found = self.index.find(h, |&i| {
            let (s, l, _) = spans[i as usize];
            same(&arena[s..s + l as usize], w)
        });
        if let Some(&i) = found {
            spans[i as usize].2 += 1;
            return;
        }
        let i = self.spans.len() as u32;
        self.spans.push((self.arena.len(), w.len() as u32, 1));
        self.arena.extend_from_slice(w);
        let (arena, spans) = (&self.arena, &self.spans);
        self.index.insert_unique(h, i, |&j| {
            let (s, l, _) = spans[j as usize];
            key_hash(&arena[s..s + l as usize])
        });
        if self.spans.len() as f64 > 0.75 * MAX_VOCAB_SIZE as f64 {
            self.prune();
        }
    }

    /// fastText raises the word threshold until the vocabulary fits.
    fn prune(&mut self) {
        self.min_threshold += 1;
        let threshold = self.min_threshold;
        let mut arena = Vec::new();
        let mut spans = Vec::new();
        for i in 0..self.spans.len() as u32 {
            let w = self.word(i);
            let c = self.spans[i as usize].2;
            if w.starts_with(&self.label) || c >= threshold {
                spans.push((arena.len(), w.len() as u32, c));
                arena.extend_from_slice(w);
            }
        }
        self.index.clear();
        for (i, &(s, l, _)) in spans.iter().enumerate() {
            let w = &arena[s..s + l as usize];
            self.index.insert_unique(key_hash(w), i as u32, |&j: &u32| {
                let (s, l, _) = spans[j as usize];
                key_hash(&arena[s..s + l as usize])
            });
        }
        self.arena = arena;
        self.spans = spans;
    }

    /// Keeps words seen `min_count` times and labels seen `min_count_label` times, sorted as
    /// fastText sorts (type, then count descending; ties in first-seen order).
    pub fn finish(
        self,
        config: DictConfig,
        min_count: i64,
        min_count_label: i64,
    ) -> Result<Dictionary> {
        let label = &config.label;
        let mut list: Vec<Entry> = (0..self.spans.len() as u32)
            .filter_map(|i| {
                let (w, c) = (self.word(i), self.spans[i as usize].2);
                let kind = if w.starts_with(label) {
                    EntryKind::Label
                } else {
                    EntryKind::Word
                };
                let keep = match kind {
                    EntryKind::Word => c >= min_count,
                    EntryKind::Label => c >= min_count_label,
                };
                keep.then(|| Entry {
                    word: w.to_vec(),
                    count: c,
                    kind,
                })
            })
            .collect();
        let ntokens = self.ntokens;
        drop(self);
        list.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.count.cmp(&a.count)));
        if list.is_empty() {
            return Err(Error::InvalidInput(
                "Empty vocabulary. Try a smaller -minCount value.".into(),
            ));
        }
        Dictionary::new(config, list, ntokens, usize::MAX)
    }
}

/// `<` + word + `>`.
#[inline]
pub fn bracket(word: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(b'<');
    out.extend_from_slice(word);
    out.push(b'>');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dictionary shaped like `crime-and-punishment.bin` (291 words, bucket 100, n 3..=6).
    fn crime_like() -> Dictionary {
        let entries = (0..291)
            .map(|i| Entry {
                word: format!("w{i}").into_bytes(),
                count: 1,
                kind: EntryKind::Word,
            })
            .collect();
        let config = DictConfig {
            minn: 3,
            maxn: 6,
            bucket: 100,
            label: b"__label__".to_vec(),
            legacy: false,
        };
        Dictionary::new(config, entries, 291, usize::MAX).unwrap()
    }

    /// Expected ids computed with the `fasttext` package (`get_subwords` on
    /// crime-and-punishment.bin): they pin the sign-extended hash and code-point n-grams.
    #[test]
    fn subword_ids_match_fasttext_package() {
        let d = crime_like();
        let cases: [(&str, &[u32]); 4] = [
            (
                "hello",
                &[
                    371, 355, 299, 296, 333, 301, 314, 378, 335, 356, 372, 333, 303, 381,
                ],
            ),
            (
                "привет",
                &[
                    374, 326, 296, 309, 380, 330, 331, 390, 345, 332, 357, 343, 327, 326, 338, 302,
                    378, 384,
                ],
            ),
            (
                "naïve",
                &[
                    381, 383, 381, 292, 337, 295, 334, 378, 323, 298, 322, 361, 339, 345,
                ],
            ),
            ("日本語", &[378, 372, 300, 350, 314, 346]),
        ];
        for (word, want) in cases {
            let (strings, ids) = d.subword_strings(word.as_bytes());
            assert_eq!(ids, want, "{word}");
            assert_eq!(strings.len(), want.len());
        }
        let (strings, _) = d.subword_strings("日本語".as_bytes());
        assert_eq!(strings[0], "<日本".as_bytes());
    }

    #[test]
    fn hash_sign_extends_high_bytes() {
        // Plain FNV-1a of [0x80] would xor 0x80; fastText xors 0xFFFFFF80.
        let fnv = (2_166_136_261u32 ^ 0x80).wrapping_mul(16_777_619);
        let ft = (2_166_136_261u32 ^ 0xFFFF_FF80).wrapping_mul(16_777_619);
        assert_eq!(hash(&[0x80]), ft);
        assert_ne!(hash(&[0x80]), fnv);
        assert_eq!(
            hash(b"a"),
            (2_166_136_261u32 ^ 0x61).wrapping_mul(16_777_619)
        );
    }

    #[test]
    fn tokens_follow_read_word() {
        let mut toks = Vec::new();
        for_each_token(b" a\tb\n\nc </s> d", |t| {
            toks.push(match t {
                Token::Word(w) => String::from_utf8_lossy(w).into_owned(),
                Token::Eos => "EOS".into(),
            })
        });
        assert_eq!(toks, ["a", "b", "EOS", "EOS", "c", "EOS", "d"]);
    }
}
