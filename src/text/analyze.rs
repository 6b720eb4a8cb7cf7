//! Analyzers: turn one document into the sequence of terms scikit-learn's analyzer yields.
//!
//! * `WordDefault`: the default `token_pattern` `(?u)\b\w\w+\b`, i.e. every maximal run of
//!   at least two word characters (a greedy `\w\w+` between two `\b` always takes the whole run);
//! * `WordTokens`: tokens already produced by Python (custom pattern or tokenizer);
//! * `Char`: `_char_ngrams` (runs of 2+ whitespace collapsed to one space first);
//! * `CharWb`: `_char_wb_ngrams` (n-grams inside space-padded whitespace-separated words).
//!
//! Word analyzers drop stop words and then build n-grams joined by one space, unigrams first,
//! then bigrams, ... in document order, exactly like `_VectorizerMixin._word_ngrams`.

use crate::text::chars::{CharTable, IN_SET, NON_ASCII, UPPER};
use rustc_hash::FxHashSet;

/// Which analyzer to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalyzerKind {
    /// Default word token pattern, scanned in Rust.
    WordDefault,
    /// Pre-tokenized input, then stop words and word n-grams.
    WordTokens,
    /// Character n-grams.
    Char,
    /// Character n-grams inside word boundaries, padded with spaces.
    CharWb,
}

/// Full analyzer description. `min_n >= 1` and `min_n <= max_n` are required
/// ([`AnalyzerSpec::validate`]).
#[derive(Clone, Debug)]
pub struct AnalyzerSpec {
    /// The analyzer.
    pub kind: AnalyzerKind,
    /// Smallest n-gram length.
    pub min_n: usize,
    /// Largest n-gram length.
    pub max_n: usize,
    /// Stop words (word analyzers only), removed before n-grams are built.
    pub stop_words: Option<FxHashSet<String>>,
    /// Python's `\w` set.
    pub word: CharTable,
    /// Python's `\s` / `str.isspace` set.
    pub space: CharTable,
    /// Lower-case ASCII letters of `DocRef::Text` documents before analysis (what `str.lower`
    /// does to an ASCII string; a no-op on text `str.lower` already went through).
    pub lowercase_ascii: bool,
}

/// A document handed to an analyzer.
#[derive(Clone, Copy, Debug)]
pub enum DocRef<'a> {
    /// Preprocessed text.
    Text(&'a str),
    /// Tokens produced by Python.
    Tokens(&'a [&'a str]),
    /// `n` tokens produced by Python, joined by NUL characters (none of them contains one).
    Joined(&'a str, usize),
}

/// Reusable per-thread buffers.
#[derive(Default)]
pub struct Scratch<'a> {
    tokens: Vec<&'a str>,
    buf: String,
    offsets: Vec<usize>,
    lower: String,
}

impl AnalyzerSpec {
    /// Checks the n-gram range.
    pub fn validate(&self) -> crate::Result<()> {
        if self.min_n < 1 || self.min_n > self.max_n {
            return Err(crate::Error::InvalidParameter(format!(
                "Invalid value for ngram_range=({}, {}) lower boundary larger than the upper boundary.",
                self.min_n, self.max_n
            )));
        }
        Ok(())
    }

    /// Calls `f` for every token of a word analyzer (after lower-casing and stop-word removal),
    /// in document order; no n-grams. `buf` holds a lower-cased token when one is needed.
    pub fn for_each_token<F: FnMut(&str)>(&self, doc: DocRef<'_>, buf: &mut String, mut f: F) {
        let stop = self.stop_words.as_ref();
        let mut keep = |t: &str| {
            if !stop.is_some_and(|s| s.contains(t)) {
                f(t)
            }
        };
        match doc {
            DocRef::Text(t) => scan_tokens(t, &self.word, self.lowercase_ascii, buf, keep),
            DocRef::Joined(t, n) => {
                if n > 0 {
                    t.split('\0').for_each(keep);
                }
            }
            DocRef::Tokens(ts) => ts.iter().for_each(|t| keep(t)),
        }
    }

    /// Calls `emit` for every term of `doc`, in scikit-learn's order.
    pub fn analyze<'a, F: FnMut(&str)>(&self, doc: DocRef<'a>, scratch: &mut Scratch<'a>, emit: F) {
        if self.max_n == 1
            && matches!(
                self.kind,
                AnalyzerKind::WordDefault | AnalyzerKind::WordTokens
            )
        {
            // Unigrams are the tokens themselves: stream them, no lower-cased copy of the text.
            return self.for_each_token(doc, &mut scratch.buf, emit);
        }
        match doc {
            DocRef::Text(t)
                if self.lowercase_ascii && t.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                let mut lower = std::mem::take(&mut scratch.lower);
                lower.clear();
                lower.push_str(t);
                lower.make_ascii_lowercase();
                let mut local = Scratch {
                    tokens: Vec::new(),
                    buf: std::mem::take(&mut scratch.buf),
                    offsets: std::mem::take(&mut scratch.offsets),
                    lower: String::new(),
                };
                self.analyze_text(&lower, &mut local, emit);
                scratch.buf = local.buf;
                scratch.offsets = local.offsets;
                scratch.lower = lower;
            }
            DocRef::Text(t) => self.analyze_text(t, scratch, emit),
            _ => self.analyze_tokens(doc, scratch, emit),
        }
    }

    fn analyze_text<'a, F: FnMut(&str)>(&self, t: &'a str, scratch: &mut Scratch<'a>, emit: F) {
        match self.kind {
            AnalyzerKind::Char => self.char_ngrams(t, scratch, emit),
            AnalyzerKind::CharWb => self.char_wb_ngrams(t, scratch, emit),
            _ => {
                scratch.tokens.clear();
                scan_word_tokens(t, &self.word, &mut scratch.tokens);
                let mut toks = std::mem::take(&mut scratch.tokens);
                self.word_ngrams(&mut toks, &mut scratch.buf, emit);
                scratch.tokens = toks;
            }
        }
    }

    fn analyze_tokens<'a, F: FnMut(&str)>(
        &self,
        doc: DocRef<'a>,
        scratch: &mut Scratch<'a>,
        emit: F,
    ) {
        match doc {
            DocRef::Text(t) => self.analyze_text(t, scratch, emit),
            DocRef::Joined(t, n) => {
                scratch.tokens.clear();
                if n > 0 {
                    scratch.tokens.extend(t.split('\0'));
                }
                let mut toks = std::mem::take(&mut scratch.tokens);
                self.word_ngrams(&mut toks, &mut scratch.buf, emit);
                scratch.tokens = toks;
            }
            DocRef::Tokens(ts) => {
                scratch.tokens.clear();
                scratch.tokens.extend_from_slice(ts);
                let mut toks = std::mem::take(&mut scratch.tokens);
                self.word_ngrams(&mut toks, &mut scratch.buf, emit);
                scratch.tokens = toks;
            }
        }
    }

    fn word_ngrams<F: FnMut(&str)>(&self, tokens: &mut Vec<&str>, buf: &mut String, mut emit: F) {
        if let Some(stop) = &self.stop_words {
            tokens.retain(|t| !stop.contains(*t));
        }
        if self.max_n == 1 {
            tokens.iter().for_each(|t| emit(t));
            return;
        }
        let mut min_n = self.min_n;
        if min_n == 1 {
            tokens.iter().for_each(|t| emit(t));
            min_n = 2;
        }
        let len = tokens.len();
        for n in min_n..=self.max_n.min(len) {
            for window in tokens.windows(n) {
                buf.clear();
                for (k, t) in window.iter().enumerate() {
                    if k > 0 {
                        buf.push(' ');
                    }
                    buf.push_str(t);
                }
                emit(buf);
            }
        }
    }

    fn char_ngrams<F: FnMut(&str)>(&self, text: &str, scratch: &mut Scratch<'_>, mut emit: F) {
        let text: &str = if has_double_space(text, &self.space) {
            collapse_spaces(text, &self.space, &mut scratch.buf);
            &scratch.buf
        } else {
            text
        };
        let offsets = &mut scratch.offsets;
        offsets.clear();
        offsets.extend(text.char_indices().map(|(i, _)| i));
        offsets.push(text.len());
        let text_len = offsets.len() - 1;
        let mut min_n = self.min_n;
        if min_n == 1 {
            for i in 0..text_len {
                emit(&text[offsets[i]..offsets[i + 1]]);
            }
            min_n = 2;
        }
        for n in min_n..=self.max_n.min(text_len) {
            for i in 0..=(text_len - n) {
                emit(&text[offsets[i]..offsets[i + n]]);
            }
        }
    }

    fn char_wb_ngrams<F: FnMut(&str)>(&self, text: &str, scratch: &mut Scratch<'_>, mut emit: F) {
        let space = &self.space;
        let mut rest = text;
        // Skip whitespace, then take one word (what `str.split()` yields).
        while let Some((start, _)) = rest.char_indices().find(|&(_, c)| !space.contains(c)) {
            rest = &rest[start..];
            let end = rest
                .char_indices()
                .find(|&(_, c)| space.contains(c))
                .map_or(rest.len(), |(i, _)| i);
            let word = &rest[..end];
            rest = &rest[end..];

            let buf = &mut scratch.buf;
            buf.clear();
            buf.push(' ');
            buf.push_str(word);
            buf.push(' ');
            let offsets = &mut scratch.offsets;
            offsets.clear();
            offsets.extend(buf.char_indices().map(|(i, _)| i));
            offsets.push(buf.len());
            let w_len = offsets.len() - 1;
            for n in self.min_n..=self.max_n {
                let mut offset = 0usize;
                emit(&buf[offsets[0]..offsets[n.min(w_len)]]);
                while offset + n < w_len {
                    offset += 1;
                    emit(&buf[offsets[offset]..offsets[offset + n]]);
                }
                if offset == 0 {
                    break;
                }
            }
        }
    }
}

/// Calls `f(start, end, has_ascii_capital)` for every maximal run of at least two `word`
/// characters of `text` (Python's `re.findall(r"(?u)\b\w\w+\b", text)` with `word` = Python's
/// `\w`). ASCII bytes are classified with one table load each; other characters are decoded.
#[inline]
fn scan_runs<F: FnMut(usize, usize, bool)>(text: &str, word: &CharTable, mut f: F) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    // Decodes the character at `i` (a char boundary): (in `word`, byte width).
    let decode = |i: usize| match text.get(i..).and_then(|t| t.chars().next()) {
        Some(c) => (word.contains(c), c.len_utf8()),
        None => (false, 1),
    };
    let mut i = 0usize;
    while i < n {
        // Skip ASCII bytes outside `word`.
        let c = word.class(bytes[i]);
        if c & (IN_SET | NON_ASCII) == 0 {
            i += 1;
            continue;
        }
        if c & NON_ASCII != 0 {
            let (in_word, width) = decode(i);
            if !in_word {
                i += width;
                continue;
            }
        }
        // A run starts at `i`: take ASCII word bytes in a tight loop, decode the rest.
        let start = i;
        let mut chars = 0usize;
        let mut classes = 0u8;
        while i < n {
            let c = word.class(bytes[i]);
            if c & IN_SET != 0 {
                classes |= c;
                i += 1;
                chars += 1;
            } else if c & NON_ASCII != 0 {
                let (in_word, width) = decode(i);
                if !in_word {
                    break;
                }
                i += width;
                chars += 1;
            } else {
                break;
            }
        }
        if chars >= 2 {
            f(start, i, classes & UPPER != 0);
        }
    }
}

/// Pushes every maximal run of at least two `word` characters of `text` (Python's
/// `re.findall(r"(?u)\b\w\w+\b", text)` with `word` = Python's `\w`).
pub fn scan_word_tokens<'a>(text: &'a str, word: &CharTable, out: &mut Vec<&'a str>) {
    scan_runs(text, word, |a, b, _| out.push(&text[a..b]));
}

/// Calls `f` for every maximal run of at least two `word` characters of `text`, like
/// [`scan_word_tokens`]; with `lowercase`, runs holding ASCII capitals are passed lower-cased
/// (through `buf`), which is what `str.lower` does to them.
#[inline]
pub fn scan_tokens<F: FnMut(&str)>(
    text: &str,
    word: &CharTable,
    lowercase: bool,
    buf: &mut String,
    mut f: F,
) {
    scan_runs(text, word, |start, end, upper| {
        let tok = &text[start..end];
        if lowercase && upper {
            buf.clear();
            buf.push_str(tok);
            buf.make_ascii_lowercase();
            f(buf);
        } else {
            f(tok);
        }
    });
}

fn has_double_space(text: &str, space: &CharTable) -> bool {
    let mut prev = false;
    for c in text.chars() {
        let s = space.contains(c);
        if s && prev {
            return true;
        }
        prev = s;
    }
    false
}

/// `re.sub(r"\s\s+", " ", text)` into `out`.
fn collapse_spaces(text: &str, space: &CharTable, out: &mut String) {
    out.clear();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if space.contains(c) {
            if chars.peek().is_some_and(|&d| space.contains(d)) {
                while chars.peek().is_some_and(|&d| space.contains(d)) {
                    chars.next();
                }
                out.push(' ');
            } else {
                out.push(c);
            }
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(kind: AnalyzerKind, min_n: usize, max_n: usize) -> AnalyzerSpec {
        AnalyzerSpec {
            kind,
            min_n,
            max_n,
            stop_words: None,
            word: CharTable::ascii_word(),
            space: CharTable::ascii_space(),
            lowercase_ascii: false,
        }
    }

    fn run(s: &AnalyzerSpec, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        s.analyze(DocRef::Text(text), &mut scratch, |t| {
            out.push(t.to_string())
        });
        out
    }

    #[test]
    fn default_word_pattern() {
        let s = spec(AnalyzerKind::WordDefault, 1, 2);
        assert_eq!(
            run(&s, "a bc de_f!g  hi"),
            ["bc", "de_f", "hi", "bc de_f", "de_f hi"]
        );
    }

    #[test]
    fn lowercase_ascii_on_the_fly() {
        for kind in [
            AnalyzerKind::WordDefault,
            AnalyzerKind::Char,
            AnalyzerKind::CharWb,
        ] {
            let mut s = spec(kind, 1, 2);
            let plain = run(&s, "ab cd\u{e9}  ef");
            s.lowercase_ascii = true;
            assert_eq!(run(&s, "AB cD\u{e9}  Ef"), plain);
            assert_eq!(run(&s, "ab cd\u{e9}  ef"), plain);
        }
    }

    #[test]
    fn streamed_tokens_match_ngram_path() {
        let mut s = spec(AnalyzerKind::WordDefault, 1, 1);
        s.lowercase_ascii = true;
        s.stop_words = Some(["bb".to_string()].into_iter().collect());
        assert_eq!(run(&s, "Aa BB cc!Dd x tT"), ["aa", "cc", "dd", "tt"]);
        let mut toks = Vec::new();
        let mut buf = String::new();
        s.for_each_token(DocRef::Joined("Aa\0bb\0", 3), &mut buf, |t| {
            toks.push(t.to_string())
        });
        assert_eq!(toks, ["Aa", ""]);
    }

    #[test]
    fn char_and_char_wb() {
        let s = spec(AnalyzerKind::Char, 1, 2);
        assert_eq!(run(&s, "ab  c"), ["a", "b", " ", "c", "ab", "b ", " c"]);
        let s = spec(AnalyzerKind::CharWb, 2, 3);
        assert_eq!(
            run(&s, "ab c"),
            [" a", "ab", "b ", " ab", "ab ", " c", "c ", " c "]
        );
    }

    proptest! {
        #[test]
        fn analyzers_never_panic(text in "\\PC*", kind in 0usize..4, a in 1usize..4, b in 0usize..3) {
            let kind = [AnalyzerKind::WordDefault, AnalyzerKind::WordTokens, AnalyzerKind::Char, AnalyzerKind::CharWb][kind];
            let s = spec(kind, a, a + b);
            let _ = run(&s, &text);
        }
    }
}
