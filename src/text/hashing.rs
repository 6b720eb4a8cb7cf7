//! MurmurHash3 (x86, 32-bit) and scikit-learn's mapping of a hash to a signed feature.

/// MurmurHash3_x86_32 of `data` with `seed` (Austin Appleby's reference algorithm), as an
/// unsigned value. `sklearn.utils.murmurhash3_32(s, seed, positive=True)` returns this.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        let mut k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    let mut k: u32 = 0;
    for (i, &byte) in tail.iter().enumerate() {
        k ^= u32::from(byte) << (8 * i);
    }
    if !tail.is_empty() {
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// Column and sign of `token` as `sklearn.feature_extraction._hashing_fast.transform` computes
/// them: `h` = signed 32-bit MurmurHash3 of the UTF-8 bytes with seed 0; the column is
/// `abs(h) % n_features`, except for `h == i32::MIN` whose column is
/// `(i32::MAX - (n_features - 1)) % n_features`; the sign is `+1` when `h >= 0`.
pub fn feature(token: &str, n_features: usize, alternate_sign: bool) -> (u32, i32) {
    let h = murmur3_32(token.as_bytes(), 0) as i32;
    let n = n_features as i64;
    let col = if h == i32::MIN {
        (i64::from(i32::MAX) - (n - 1)).rem_euclid(n)
    } else {
        i64::from(h).abs() % n
    };
    let sign = if alternate_sign && h < 0 { -1 } else { 1 };
    (col as u32, sign)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // sklearn.utils.murmurhash3_32(x, seed=0, positive=True)
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"foo", 0), 4_138_058_784);
        assert_eq!(murmur3_32(b"hello", 0), 613_153_351);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
        assert_eq!(murmur3_32(b"foo", 42), 2_972_666_014);
    }

    #[test]
    fn min_int_corner() {
        // The column formula for h == i32::MIN never panics and stays in range.
        for n in [1usize, 2, 3, 1 << 20, i32::MAX as usize] {
            let n = n as i64;
            let col = (i64::from(i32::MAX) - (n - 1)).rem_euclid(n);
            assert!(col >= 0 && col < n);
        }
    }
}
