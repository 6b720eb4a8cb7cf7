//! A string interner: all strings in one contiguous arena, ids in insertion order.
//!
//! Interning a term that is already present allocates nothing; a new term appends its bytes to
//! the arena. Each entry keeps its hash, so merging interners never re-hashes.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Hash of a term (FxHash; deterministic across runs and threads).
#[inline]
pub fn hash_str(s: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(s)
}

/// Strings with dense `u32` ids in order of first insertion.
#[derive(Default, Debug)]
pub struct Interner {
    arena: String,
    /// (hash, start, end) per id.
    spans: Vec<(u64, usize, usize)>,
    table: HashTable<u32>,
}

impl Interner {
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
        let found = self.table.find(h, |&id| {
            let (hh, a, b) = spans[id as usize];
            hh == h && arena.as_bytes().get(a..b) == Some(s.as_bytes())
        });
        if let Some(&id) = found {
            return id;
        }
        let id = self.spans.len() as u32;
        let start = self.arena.len();
        self.arena.push_str(s);
        self.spans.push((h, start, self.arena.len()));
        let spans = &self.spans;
        self.table.insert_unique(h, id, |&i| spans[i as usize].0);
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
    table: HashTable<u32>,
}

#[inline]
fn seq_span(ends: &[usize], id: usize) -> (usize, usize) {
    let start = if id == 0 { 0 } else { ends[id - 1] };
    (start, ends[id])
}

impl SeqInterner {
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
        let found = self.table.find(h, |&id| {
            let (a, b) = seq_span(ends, id as usize);
            &items[a..b] == key
        });
        if let Some(&id) = found {
            return (id, false);
        }
        let id = self.ends.len() as u32;
        self.items.extend_from_slice(key);
        self.ends.push(self.items.len());
        let items = &self.items;
        let ends = &self.ends;
        self.table.insert_unique(h, id, |&i| {
            let (a, b) = seq_span(ends, i as usize);
            hash_seq(&items[a..b])
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
        for s in ["b", "a", "b", "a\0", "é", "aaaaaaaaab", "aaaaaaaaaa"] {
            it.intern(s);
        }
        assert_eq!(it.len(), 6);
        assert_eq!(it.term(0), "b");
        let sorted: Vec<&str> = it.sorted_ids().into_iter().map(|i| it.term(i)).collect();
        assert_eq!(sorted, ["a", "a\0", "aaaaaaaaaa", "aaaaaaaaab", "b", "é"]);
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
}
