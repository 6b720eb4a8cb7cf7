//! A string interner: all strings in one contiguous arena, ids in insertion order.
//!
//! Interning a term that is already present allocates nothing; a new term appends its bytes to
//! the arena. Each entry keeps its hash, so merging interners never re-hashes.

use hashbrown::HashTable;

/// 64x64 -> 128-bit multiply, folded to 64 bits (the mixing step of foldhash / wyhash).
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

const K0: u64 = 0x243F_6A88_85A3_08D3;
const K1: u64 = 0x1319_8A2E_0370_7344;
const K2: u64 = 0xA409_3822_299F_31D0;

/// Hash of a term: deterministic across runs and threads, all 64 bits mixed (shards use bits
/// 32.., hashbrown the low bits and the top 7). Strings of up to 16 bytes (most terms) cost one
/// or two loads and one folded multiply.
#[inline]
pub fn hash_str(s: &str) -> u64 {
    let b = s.as_bytes();
    let n = b.len();
    let len = n as u64;
    let (x, y) = match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16),
            0,
        ),
        4..=7 => (u64::from(load4(b, 0)), u64::from(load4(b, n - 4))),
        8..=16 => (load8(b, 0), load8(b, n - 8)),
        _ => {
            let mut acc = K0 ^ len;
            let mut i = 0;
            while i + 16 < n {
                acc = fold_mul(load8(b, i) ^ acc, load8(b, i + 8) ^ K1);
                i += 16;
            }
            return fold_mul(load8(b, n - 16) ^ acc, load8(b, n - 8) ^ K2);
        }
    };
    fold_mul(x ^ K0 ^ (len << 56), y ^ K1 ^ len)
}

#[inline]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(w)
}

#[inline]
fn load4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// `a == b`, without a `memcmp` call for the short strings most terms are (two overlapping
/// loads cover any length from 4 to 16).
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        8..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        _ => a == b,
    }
}

/// Strings with dense `u32` ids in order of first insertion.
#[derive(Default, Debug)]
pub struct Interner {
    arena: String,
    /// (hash, start, end) per id.
    spans: Vec<(u64, usize, usize)>,
    /// `(prefix_key, id, length)`: strings of at most 8 bytes (most words) are found without
    /// touching `spans` or `arena`, which would cost two more cache misses per lookup.
    table: HashTable<(u64, u32, u32)>,
}

/// The string itself when it has at most 8 bytes (together with its length), else its first 8
/// bytes.
#[inline]
fn prefix_key(s: &[u8]) -> u64 {
    let n = s.len();
    match n {
        0 => 0,
        1..=3 => u64::from(s[0]) | (u64::from(s[n / 2]) << 8) | (u64::from(s[n - 1]) << 16),
        4..=7 => u64::from(load4(s, 0)) | (u64::from(load4(s, n - 4)) << 32),
        _ => load8(s, 0),
    }
}

impl Interner {
    /// An empty interner with room for about `n` strings.
    pub fn with_capacity(n: usize) -> Self {
        Interner {
            arena: String::with_capacity(n * 8),
            spans: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
        }
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no string was interned.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The string with id `id` (empty if out of range).
    #[inline]
    pub fn term(&self, id: u32) -> &str {
        match self.spans.get(id as usize) {
            Some(&(_, a, b)) => self.arena.get(a..b).unwrap_or(""),
            None => "",
        }
    }

    /// Stored hash of `id`.
    #[inline]
    pub fn hash_of(&self, id: u32) -> u64 {
        self.spans.get(id as usize).map_or(0, |s| s.0)
    }

    /// Id of `s` (hash `h`), inserting it when new.
    #[inline]
    pub fn intern_hashed(&mut self, h: u64, s: &str) -> u32 {
        let arena = &self.arena;
        let spans = &self.spans;
        let bytes = s.as_bytes();
        let key = prefix_key(bytes);
        // (a length beyond u32 saturates and is then compared in full, as it exceeds 8)
        let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let found = self.table.find(h, |&(k, id, len)| {
            k == key
                && len == n
                && (n <= 8 || {
                    let (_, a, b) = spans[id as usize];
                    arena
                        .as_bytes()
                        .get(a..b)
                        .is_some_and(|t| bytes_eq(t, bytes))
                })
        });
        if let Some(&(_, id, _)) = found {
            return id;
        }
        let id = self.spans.len() as u32;
        let start = self.arena.len();
        self.arena.push_str(s);
        self.spans.push((h, start, self.arena.len()));
        let spans = &self.spans;
        self.table
            .insert_unique(h, (key, id, n), |&(_, i, _)| spans[i as usize].0);
        id
    }

    /// Id of `s`, inserting it when new.
    #[inline]
    pub fn intern(&mut self, s: &str) -> u32 {
        self.intern_hashed(hash_str(s), s)
    }

    /// Ids `0..len` ordered by their strings (code-point order = UTF-8 byte order).
    pub fn sorted_ids(&self) -> Vec<u32> {
        use rayon::prelude::*;
        let mut keys: Vec<(u64, u32)> = (0..self.len() as u32)
            .map(|id| {
                let b = self.term(id).as_bytes();
                let mut p = [0u8; 8];
                let n = b.len().min(8);
                p[..n].copy_from_slice(&b[..n]);
                (u64::from_be_bytes(p), id)
            })
            .collect();
        keys.par_sort_unstable_by(|x, y| {
            x.0.cmp(&y.0)
                .then_with(|| self.term(x.1).cmp(self.term(y.1)))
        });
        keys.into_iter().map(|k| k.1).collect()
    }
}

/// Hash of a sequence of ids (all 64 bits well mixed: shards use bits 32.., hashbrown the low
/// bits and the top 7).
#[inline]
pub fn hash_seq(ids: &[u32]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64 ^ ids.len() as u64;
    for &x in ids {
        h = (h ^ u64::from(x)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
    }
    // murmur3's fmix64
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Sequences of `u32` ids (word n-grams as token ids) with dense `u32` ids in order of first
/// insertion; equality is exact, the hash only finds candidates.
#[derive(Default, Debug)]
pub struct SeqInterner {
    items: Vec<u32>,
    /// End of each sequence in `items` (it starts where the previous one ends).
    ends: Vec<usize>,
    /// `(first two ids packed, id, length)`: sequences of one or two ids (unigrams, bigrams) are
    /// found without touching `items`.
    table: HashTable<(u64, u32, u32)>,
}

#[inline]
fn pack2(key: &[u32]) -> u64 {
    match key {
        [] => 0,
        [a] => u64::from(*a),
        [a, b, ..] => u64::from(*a) | (u64::from(*b) << 32),
    }
}

#[inline]
fn seq_span(ends: &[usize], id: usize) -> (usize, usize) {
    let start = if id == 0 { 0 } else { ends[id - 1] };
    (start, ends[id])
}

impl SeqInterner {
    /// An empty interner with room for about `n` sequences.
    pub fn with_capacity(n: usize) -> Self {
        SeqInterner {
            items: Vec::with_capacity(n * 2),
            ends: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
        }
    }

    /// Number of distinct sequences.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Total number of ids stored (sum of the sequence lengths).
    pub fn items_len(&self) -> usize {
        self.items.len()
    }

    /// Position of sequence `id` in the concatenation of all sequences.
    #[inline]
    pub fn span(&self, id: u32) -> (usize, usize) {
        seq_span(&self.ends, id as usize)
    }

    /// The sequence with id `id`.
    #[inline]
    pub fn seq(&self, id: u32) -> &[u32] {
        let (a, b) = self.span(id);
        &self.items[a..b]
    }

    /// Id of `key` (whose [`hash_seq`] is `h`) and whether it was inserted now.
    #[inline]
    pub fn intern_hashed(&mut self, h: u64, key: &[u32]) -> (u32, bool) {
        let items = &self.items;
        let ends = &self.ends;
        let packed = pack2(key);
        let n = key.len() as u32;
        let found = self.table.find(h, |&(p, id, len)| {
            p == packed
                && len == n
                && (n <= 2 || {
                    let (a, b) = seq_span(ends, id as usize);
                    &items[a..b] == key
                })
        });
        if let Some(&(_, id, _)) = found {
            return (id, false);
        }
        let id = self.ends.len() as u32;
        self.items.extend_from_slice(key);
        self.ends.push(self.items.len());
        let items = &self.items;
        let ends = &self.ends;
        self.table
            .insert_unique(h, (packed, id, n), |&(p, i, len)| match len {
                1 => hash_seq(&[p as u32]),
                2 => hash_seq(&[p as u32, (p >> 32) as u32]),
                _ => {
                    let (a, b) = seq_span(ends, i as usize);
                    hash_seq(&items[a..b])
                }
            });
        (id, true)
    }

    /// Id of `key`, inserting it when new.
    #[inline]
    pub fn intern(&mut self, key: &[u32]) -> u32 {
        self.intern_hashed(hash_seq(key), key).0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_insertion_order_and_sorting() {
        let mut it = Interner::default();
        for s in [
            "b",
            "a",
            "b",
            "a\0",
            "é",
            "aaaaaaaaab",
            "aaaaaaaaaa",
            "abc",
            "acc",
            "abcd",
        ] {
            it.intern(s);
        }
        for s in ["abc", "acc", "abcd", "aaaaaaaaab"] {
            it.intern(s);
        }
        assert_eq!(it.len(), 9);
        assert_eq!(it.term(0), "b");
        let sorted: Vec<&str> = it.sorted_ids().into_iter().map(|i| it.term(i)).collect();
        assert_eq!(
            sorted,
            [
                "a",
                "a\0",
                "aaaaaaaaaa",
                "aaaaaaaaab",
                "abc",
                "abcd",
                "acc",
                "b",
                "é"
            ]
        );
    }

    #[test]
    fn sequences_are_exact() {
        let mut it = SeqInterner::default();
        assert_eq!(it.intern(&[1, 2]), 0);
        assert_eq!(it.intern(&[1]), 1);
        assert_eq!(it.intern(&[1, 2, 3]), 2);
        assert_eq!(it.intern(&[1, 2]), 0);
        for k in 0..10_000u32 {
            assert_eq!(it.intern(&[k, k + 1, 7]) as usize, it.len() - 1);
        }
        assert_eq!(it.seq(2), [1, 2, 3]);
        assert_eq!(it.intern(&[5, 6, 7]), 3 + 5);
    }

    #[test]
    fn short_byte_comparisons() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
        ];
        for x in words {
            for y in words {
                assert_eq!(bytes_eq(x.as_bytes(), y.as_bytes()), x == y);
            }
        }
        let long = "abcdefghijklmnopq";
        for n in 0..long.len() {
            let mut other = long.as_bytes()[..n].to_vec();
            assert!(bytes_eq(&other, &long.as_bytes()[..n]));
            if n > 0 {
                other[n / 2] ^= 1;
                assert!(!bytes_eq(&other, &long.as_bytes()[..n]));
            }
        }
    }
}
