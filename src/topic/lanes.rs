//! Four-wide `f64` vectors for the topic-model kernels.
//!
//! K-wide rows are stored padded to a multiple of four, so a row is a whole number of vectors
//! and every inner loop is straight vector code (no scalar remainder). Kernels are written
//! once, generic over [`Simd`], and instantiated twice: with [`Avx2`] (AVX2 + FMA intrinsics,
//! only ever called after a run-time CPU check) and with [`Portable`] (plain arrays). Which one
//! runs depends only on the CPU, so results are bitwise reproducible on a given machine.

/// Operations on four `f64` values at once. Slice accesses are bounds-checked.
pub(crate) trait Simd: Copy {
    /// The vector type.
    type V: Copy;
    /// `[v; 4]`.
    fn splat(v: f64) -> Self::V;
    /// `s[i..i + 4]`.
    fn load(s: &[f64], i: usize) -> Self::V;
    /// `s[i..i + 4] = v`.
    fn store(s: &mut [f64], i: usize, v: Self::V);
    /// `a * b + c` (fused in [`Avx2`]).
    fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a * b`.
    fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `(a0 + a1) + (a2 + a3)`.
    fn hsum(a: Self::V) -> f64;
    /// `[hsum(a), hsum(b), hsum(c), hsum(d)]`, with the same additions as [`Simd::hsum`].
    fn hsum4(a: Self::V, b: Self::V, c: Self::V, d: Self::V) -> Self::V;
    /// For each element: `(n / s, n * ln s)` where `s > 0`, else `(0, 0)`.
    fn ratio_and_log(n: Self::V, s: Self::V) -> (Self::V, Self::V);
    /// For each element: `n / s` where `s > 0`, else 0.
    fn ratio(n: Self::V, s: Self::V) -> Self::V;
}

/// Plain `[f64; 4]` arithmetic, for any CPU.
#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Simd for Portable {
    type V = [f64; 4];
    #[inline(always)]
    fn splat(v: f64) -> Self::V {
        [v; 4]
    }
    #[inline(always)]
    fn load(s: &[f64], i: usize) -> Self::V {
        let c = &s[i..i + 4];
        [c[0], c[1], c[2], c[3]]
    }
    #[inline(always)]
    fn store(s: &mut [f64], i: usize, v: Self::V) {
        s[i..i + 4].copy_from_slice(&v);
    }
    #[inline(always)]
    fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    fn mul(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn hsum(a: Self::V) -> f64 {
        (a[0] + a[1]) + (a[2] + a[3])
    }
    #[inline(always)]
    fn hsum4(a: Self::V, b: Self::V, c: Self::V, d: Self::V) -> Self::V {
        [Self::hsum(a), Self::hsum(b), Self::hsum(c), Self::hsum(d)]
    }
    #[inline(always)]
    fn ratio_and_log(n: Self::V, s: Self::V) -> (Self::V, Self::V) {
        let mut r = [0.0; 4];
        let mut l = [0.0; 4];
        for i in 0..4 {
            if s[i] > 0.0 {
                r[i] = n[i] / s[i];
                l[i] = n[i] * super::special::ln_fast(s[i]);
            }
        }
        (r, l)
    }
    #[inline(always)]
    fn ratio(n: Self::V, s: Self::V) -> Self::V {
        std::array::from_fn(|i| if s[i] > 0.0 { n[i] / s[i] } else { 0.0 })
    }
}

/// AVX2 + FMA intrinsics. Only used inside functions compiled with
/// `#[target_feature(enable = "avx2,fma")]` that run after `is_x86_feature_detected!` said yes.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
mod avx2_impl {
    use super::{Avx2, Simd};
    use std::arch::x86_64::*;

    // SAFETY (every block below): `Avx2` is only instantiated inside functions that the
    // callers enter after checking at run time that the CPU has AVX2 and FMA; loads and stores
    // go through bounds-checked subslices of exactly four elements.
    impl Simd for Avx2 {
        type V = __m256d;
        #[inline(always)]
        fn splat(v: f64) -> __m256d {
            unsafe { _mm256_set1_pd(v) }
        }
        #[inline(always)]
        fn load(s: &[f64], i: usize) -> __m256d {
            let c = &s[i..i + 4];
            unsafe { _mm256_loadu_pd(c.as_ptr()) }
        }
        #[inline(always)]
        fn store(s: &mut [f64], i: usize, v: __m256d) {
            let c = &mut s[i..i + 4];
            unsafe { _mm256_storeu_pd(c.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn fmadd(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            unsafe { _mm256_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn mul(a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_mul_pd(a, b) }
        }
        #[inline(always)]
        fn hsum(a: __m256d) -> f64 {
            unsafe {
                // [a0 + a1, a2 + a3] then their sum.
                let lo = _mm256_castpd256_pd128(a);
                let hi = _mm256_extractf128_pd::<1>(a);
                let p = _mm_hadd_pd(lo, hi);
                _mm_cvtsd_f64(_mm_add_sd(p, _mm_unpackhi_pd(p, p)))
            }
        }
        #[inline(always)]
        fn hsum4(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> __m256d {
            unsafe {
                // hadd(a, b) = [a0+a1, b0+b1, a2+a3, b2+b3]
                let ab = _mm256_hadd_pd(a, b);
                let cd = _mm256_hadd_pd(c, d);
                let lo = _mm256_permute2f128_pd::<0x20>(ab, cd);
                let hi = _mm256_permute2f128_pd::<0x31>(ab, cd);
                _mm256_add_pd(lo, hi)
            }
        }
        #[inline(always)]
        fn ratio_and_log(n: __m256d, s: __m256d) -> (__m256d, __m256d) {
            unsafe {
                let pos = _mm256_cmp_pd::<_CMP_GT_OQ>(s, _mm256_setzero_pd());
                let one = _mm256_set1_pd(1.0);
                let safe = _mm256_blendv_pd(one, s, pos);
                let r = _mm256_and_pd(_mm256_div_pd(n, safe), pos);
                let l = _mm256_mul_pd(n, ln4(safe));
                (r, _mm256_and_pd(l, pos))
            }
        }
        #[inline(always)]
        fn ratio(n: __m256d, s: __m256d) -> __m256d {
            unsafe {
                let pos = _mm256_cmp_pd::<_CMP_GT_OQ>(s, _mm256_setzero_pd());
                let safe = _mm256_blendv_pd(_mm256_set1_pd(1.0), s, pos);
                _mm256_and_pd(_mm256_div_pd(n, safe), pos)
            }
        }
    }

    /// [`super::super::special::ln_fast`] on four positive values (same operations, so the
    /// same bits up to the fused multiply-adds).
    #[inline(always)]
    unsafe fn ln4(x: __m256d) -> __m256d {
        const SQRT_HALF_BITS: i64 = 0x3FE6_A09E_667F_3BCD;
        const LN2_HI: f64 = 0.693_147_180_369_123_8;
        const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
        let tiny = _mm256_cmp_pd::<_CMP_LT_OQ>(x, _mm256_set1_pd(f64::MIN_POSITIVE));
        let xs = _mm256_blendv_pd(
            x,
            _mm256_mul_pd(x, _mm256_set1_pd(18_014_398_509_481_984.0)),
            tiny,
        );
        let bias = _mm256_and_pd(tiny, _mm256_set1_pd(54.0));
        let bits = _mm256_castpd_si256(xs);
        // u = bits - bits(sqrt 1/2) + 1023 << 52 is positive, so a logical shift gives e + 1023.
        let u = _mm256_add_epi64(
            _mm256_sub_epi64(bits, _mm256_set1_epi64x(SQRT_HALF_BITS)),
            _mm256_set1_epi64x(1023 << 52),
        );
        let eb = _mm256_srli_epi64::<52>(u);
        // m = x / 2^e: subtract (e << 52) = ((e + 1023) << 52) - (1023 << 52) from the bits.
        let m = _mm256_castsi256_pd(_mm256_sub_epi64(
            _mm256_add_epi64(bits, _mm256_set1_epi64x(1023 << 52)),
            _mm256_slli_epi64::<52>(eb),
        ));
        // e as f64: (2^52 + e + 1023) - (2^52 + 1023), exact.
        let magic = _mm256_castsi256_pd(_mm256_or_si256(
            eb,
            _mm256_castpd_si256(_mm256_set1_pd(4_503_599_627_370_496.0)),
        ));
        let e = _mm256_sub_pd(
            _mm256_sub_pd(magic, _mm256_set1_pd(4_503_599_627_370_496.0 + 1023.0)),
            bias,
        );
        let one = _mm256_set1_pd(1.0);
        let f = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
        let f2 = _mm256_mul_pd(f, f);
        let c = |v: f64| _mm256_set1_pd(v);
        let mut p = c(1.0 / 21.0);
        for k in [19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
            p = _mm256_fmadd_pd(p, f2, c(1.0 / k));
        }
        let two_f = _mm256_add_pd(f, f);
        let tail = _mm256_fmadd_pd(e, c(LN2_LO), _mm256_mul_pd(_mm256_mul_pd(two_f, f2), p));
        _mm256_fmadd_pd(e, c(LN2_HI), _mm256_add_pd(tail, two_f))
    }
}

/// Padded width: `k` rounded up to a multiple of four.
#[inline]
pub(crate) fn padded(k: usize) -> usize {
    k.div_ceil(4) * 4
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check<S: Simd>(to: impl Fn(S::V) -> [f64; 4]) {
        let a = [1.0, 2.0, 3.0, 4.5];
        let b = [1e-3, 7.0, -2.0, 0.25];
        let c = [0.1, 0.2, 0.3, 0.4];
        let d = [9.0, 8.0, 7.0, 6.0];
        let l = |v: [f64; 4]| S::load(&v, 0);
        let h = to(S::hsum4(l(a), l(b), l(c), l(d)));
        assert_eq!(
            h,
            [S::hsum(l(a)), S::hsum(l(b)), S::hsum(l(c)), S::hsum(l(d))]
        );
        assert_eq!(h[0], (1.0 + 2.0) + (3.0 + 4.5));
        let s = [2.0, 0.0, 1e-310, 3.5e200];
        let n = [3.0, 5.0, 1.0, 2.0];
        let (r, lg) = S::ratio_and_log(l(n), l(s));
        let (r, lg) = (to(r), to(lg));
        for i in 0..4 {
            let (want_r, want_l) = if s[i] > 0.0 {
                (n[i] / s[i], n[i] * s[i].ln())
            } else {
                (0.0, 0.0)
            };
            assert_eq!(r[i], want_r);
            assert!(
                (lg[i] - want_l).abs() <= 8.0 * f64::EPSILON * want_l.abs(),
                "{i}"
            );
        }
        assert_eq!(to(S::ratio(l(n), l(s))), r);
    }

    #[test]
    fn portable_and_avx2_agree_with_scalar() {
        check::<Portable>(|v| v);
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                check::<Avx2>(|v| {
                    let mut o = [0.0; 4];
                    Avx2::store(&mut o, 0, v);
                    o
                });
            }
        }
        assert_eq!(padded(20), 20);
        assert_eq!(padded(10), 12);
    }
}
