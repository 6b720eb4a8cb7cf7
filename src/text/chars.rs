//! Code-point class tables (bitsets over all of Unicode) built from ranges given by the caller.

/// Number of Unicode code points.
const N_CODE_POINTS: usize = 0x11_0000;

/// Byte class bit: an ASCII byte in the set.
pub const IN_SET: u8 = 1;
/// Byte class bit: an ASCII capital letter.
pub const UPPER: u8 = 2;
/// Byte class bit: not ASCII (part of a multi-byte UTF-8 character; decode to classify).
pub const NON_ASCII: u8 = 4;

/// A set of Unicode code points stored as a bitset (136 KiB).
#[derive(Clone, Debug)]
pub struct CharTable {
    bits: Vec<u64>,
    /// Per byte value: `IN_SET | UPPER | NON_ASCII` bits, so scanners classify ASCII text with
    /// one load per byte.
    classes: [u8; 256],
}

impl CharTable {
    /// Builds the set from inclusive `(first, last)` code-point ranges. Out-of-range values are
    /// clamped; empty or reversed ranges are ignored.
    pub fn from_ranges(ranges: &[(u32, u32)]) -> Self {
        let mut bits = vec![0u64; N_CODE_POINTS / 64];
        for &(lo, hi) in ranges {
            let hi = (hi as usize).min(N_CODE_POINTS - 1);
            let lo = lo as usize;
            if lo > hi {
                continue;
            }
            for cp in lo..=hi {
                bits[cp >> 6] |= 1u64 << (cp & 63);
            }
        }
        let mut classes = [NON_ASCII; 256];
        for (b, slot) in classes.iter_mut().enumerate().take(128) {
            let in_set = (bits[b >> 6] >> (b & 63)) & 1 == 1;
            let upper = (b as u8).is_ascii_uppercase();
            *slot = if in_set { IN_SET } else { 0 } | if upper { UPPER } else { 0 };
        }
        CharTable { bits, classes }
    }

    /// Whether the ASCII byte `b` (< 128) is in the set; false for other bytes.
    #[inline]
    pub fn contains_ascii(&self, b: u8) -> bool {
        self.classes[b as usize] & (IN_SET | NON_ASCII) == IN_SET
    }

    /// Class bits (`IN_SET`, `UPPER`, `NON_ASCII`) of the byte `b`.
    #[inline]
    pub fn class(&self, b: u8) -> u8 {
        self.classes[b as usize]
    }

    /// Whether `c` is in the set.
    #[inline]
    pub fn contains(&self, c: char) -> bool {
        let cp = c as usize;
        // cp < 0x110000 always holds for a `char`.
        self.bits
            .get(cp >> 6)
            .is_some_and(|w| (w >> (cp & 63)) & 1 == 1)
    }

    /// Python 3's `\w` for ASCII-only use in tests: `[A-Za-z0-9_]` plus the given extra ranges.
    pub fn ascii_word() -> Self {
        Self::from_ranges(&[(48, 57), (65, 90), (95, 95), (97, 122)])
    }

    /// ASCII whitespace as Python's `str.isspace` sees it (tests only need this).
    pub fn ascii_space() -> Self {
        Self::from_ranges(&[(9, 13), (28, 32)])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let t = CharTable::from_ranges(&[(97, 99), (0x1F600, 0x1F600), (5, 1)]);
        assert!(t.contains('a') && t.contains('c') && !t.contains('d'));
        assert!(t.contains('\u{1F600}'));
        assert!(!t.contains('\u{10FFFF}'));
        assert!(!t.contains('\u{5}'));
        // ASCII fast path agrees with the bitset (bits 64..128 live in the second word)
        let space = CharTable::ascii_space();
        for b in 0u8..128 {
            assert_eq!(space.contains_ascii(b), space.contains(char::from(b)));
            assert_eq!(t.contains_ascii(b), t.contains(char::from(b)));
        }
        assert!(!space.contains_ascii(b'I') && !space.contains_ascii(b'_'));
    }
}
