//! Special functions for variational LDA: digamma, log-gamma and Dirichlet expectations.

const EULER: f64 = 0.577_215_664_901_532_9;

/// Digamma `psi(x) = d/dx ln Gamma(x)` for `x > 0`.
///
/// Recurrence `psi(x) = psi(x + 1) - 1/x` up to `x >= 8`, then the asymptotic series
/// `ln x - 1/(2x) - sum_n B_2n / (2n x^2n)` to `x^-12` (Abramowitz & Stegun 6.3.18); absolute
/// error below 1e-13. Below 1e-6, `-gamma - 1/x` as in Bernardo's AS 103 (the next term is
/// `pi^2/6 x`). Returns NaN for `x <= 0` or NaN.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x <= 1e-6 {
        return -EULER - 1.0 / x + 1.644_934_066_848_226_4 * x;
    }
    let (y, shift) = shift_up(x);
    y.ln() - shift - 0.5 / y - series(y)
}

/// Moves `x` to `y >= 8` with `psi(x) = psi(y) - shift`.
#[inline]
fn shift_up(mut x: f64) -> (f64, f64) {
    let mut shift = 0.0;
    while x < 8.0 {
        shift += 1.0 / x;
        x += 1.0;
    }
    (x, shift)
}

/// `sum_n B_2n / (2n y^2n)` for n = 1..6.
#[inline]
fn series(y: f64) -> f64 {
    let f = 1.0 / (y * y);
    f * (1.0 / 12.0
        - f * (1.0 / 120.0
            - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0 - f * (691.0 / 32760.0))))))
}

/// `exp(psi(x) - c)` without computing `ln`: with `psi(x) = ln y - shift - 1/(2y) - series(y)`
/// it is `y * exp(-shift - 1/(2y) - series(y) - c)`. Used for `exp(E[log beta])` over the
/// whole K x W topic matrix after every mini-batch.
#[inline]
pub fn exp_digamma_minus(x: f64, c: f64) -> f64 {
    if x.is_nan() || x <= 1e-6 {
        return (digamma(x) - c).exp();
    }
    let (y, shift) = shift_up(x);
    y * (-shift - 0.5 / y - series(y) - c).exp()
}

/// `exp(x)` without branches or library calls, so that loops over it vectorise: `x = n ln 2 + r`
/// with `|r| <= ln 2 / 2` (Cody-Waite split of ln 2), `exp(r)` by its Taylor polynomial of
/// degree 12 (truncation below 2e-16), `2^n` built in the exponent bits. Relative error a few
/// ulp on `[-708, 709]`; arguments are clamped to that range (so 0 is returned as ~1e-308).
#[inline(always)]
pub fn exp_fast(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 0.6931471803691238;
    const LN2_LO: f64 = 1.9082149292705877e-10;
    // 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 709.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // The low bits of t hold n (two's complement modulo 2^51); shifting by 52 keeps n + 1023.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// Branch-free `exp(psi(x) - c)` for `x > 0`, for loops that should vectorise (the whole
/// topic-word matrix after each mini-batch, each document's topics in every E-step iteration).
/// For `x < 8` the eight recurrence terms `sum_i 1/(x+i)` are summed as one fraction of
/// positive terms (one division, no cancellation), then the series at `y >= 8` as in
/// [`digamma`], and `exp(ln y - s) = y exp(-s)` avoids the logarithm.
#[inline(always)]
pub fn exp_digamma_minus_fast(x: f64, c: f64) -> f64 {
    let small = x < 8.0;
    let a = if small { x } else { 8.0 };
    let (n01, d01) = (2.0 * a + 1.0, a * (a + 1.0));
    let (n23, d23) = (2.0 * a + 5.0, (a + 2.0) * (a + 3.0));
    let (n45, d45) = (2.0 * a + 9.0, (a + 4.0) * (a + 5.0));
    let (n67, d67) = (2.0 * a + 13.0, (a + 6.0) * (a + 7.0));
    let (n03, d03) = (n01 * d23 + n23 * d01, d01 * d23);
    let (n47, d47) = (n45 * d67 + n67 * d45, d45 * d67);
    let frac = (n03 * d47 + n47 * d03) / (d03 * d47);
    let shift = if small { frac } else { 0.0 };
    let y = if small { x + 8.0 } else { x };
    y * exp_fast(-shift - 0.5 / y - series(y) - c)
}

/// `ln x` for `x > 0` without branches or library calls (vectorises): `x = 2^e m` with
/// `m` in `[1/sqrt 2, sqrt 2)`, `ln m = 2 atanh f`, `f = (m - 1)/(m + 1)`, `|f| < 0.1716`, by
/// its odd series to `f^21` (truncation below 3e-17 relative), `e ln 2` added in two parts.
/// Error a few ulp for every positive finite `x`, subnormals included; `0` gives a large
/// negative number instead of `-inf` (callers skip it).
#[inline(always)]
pub fn ln_fast(x: f64) -> f64 {
    const SQRT_HALF_BITS: u64 = 0x3FE6_A09E_667F_3BCD;
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Subnormals: scale into the normal range first (2^54), and take 54 off the exponent.
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny {
        x * 18_014_398_509_481_984.0
    } else {
        x
    };
    let bias = if tiny { 54.0 } else { 0.0 };
    let bits = xs.to_bits();
    let e = (bits.wrapping_sub(SQRT_HALF_BITS) as i64) >> 52;
    let m = f64::from_bits(bits.wrapping_sub((e as u64) << 52));
    let f = (m - 1.0) / (m + 1.0);
    let f2 = f * f;
    let mut p = 1.0 / 21.0;
    p = p * f2 + 1.0 / 19.0;
    p = p * f2 + 1.0 / 17.0;
    p = p * f2 + 1.0 / 15.0;
    p = p * f2 + 1.0 / 13.0;
    p = p * f2 + 1.0 / 11.0;
    p = p * f2 + 1.0 / 9.0;
    p = p * f2 + 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    let e = e as f64 - bias;
    // 2f + 2f^3 p, then the exponent's part.
    e * LN2_HI + ((2.0 * f) * f2 * p + e * LN2_LO + 2.0 * f)
}

/// `ln Gamma(x)` for `x > 0`: recurrence up to `x >= 15`, then Stirling's series to `x^-7`
/// (absolute error below 1e-13). Returns NaN for `x <= 0`.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut y = x;
    let mut prod = 1.0;
    while y < 15.0 {
        prod *= y;
        y += 1.0;
    }
    let f = 1.0 / (y * y);
    let s = (1.0 / 12.0 - f * (1.0 / 360.0 - f * (1.0 / 1260.0 - f * (1.0 / 1680.0)))) / y;
    (y - 0.5) * y.ln() - y + 0.918_938_533_204_672_8 + s - prod.ln()
}

/// `E[log theta]` for `theta ~ Dirichlet(a)`: `psi(a_k) - psi(sum a)`, written into `out`.
pub fn dirichlet_expectation(a: &[f64], out: &mut [f64]) {
    let total: f64 = a.iter().sum();
    let pt = digamma(total);
    for (o, v) in out.iter_mut().zip(a) {
        *o = digamma(*v) - pt;
    }
}

/// `exp(E[log theta])` for `theta ~ Dirichlet(a)`, written into `out`.
#[inline(always)]
pub fn exp_dirichlet_expectation(a: &[f64], out: &mut [f64]) {
    let total: f64 = a.iter().sum();
    let pt = digamma(total);
    for (o, v) in out.iter_mut().zip(a) {
        *o = exp_digamma_minus_fast(*v, pt);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ln_fast_is_accurate() {
        let mut x: f64 = 1e-310;
        while x < 1e300 {
            for y in [x, x * 1.234_567, x * 0.708_3, x * 1.413_9, 1.0 + x.min(0.5)] {
                let (a, b) = (ln_fast(y), y.ln());
                assert!(
                    (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1e-300),
                    "{y}: {a} vs {b}"
                );
            }
            x *= 3.7;
        }
        assert_eq!(ln_fast(1.0), 0.0);
    }

    #[test]
    fn digamma_known_values() {
        // psi(1) = -gamma, psi(1/2) = -gamma - 2 ln 2, psi(n+1) = H_n - gamma.
        assert!((digamma(1.0) + EULER).abs() < 1e-13);
        assert!((digamma(0.5) + EULER + 2.0 * 2f64.ln()).abs() < 1e-13);
        let h10: f64 = (1..=10).map(|i| 1.0 / i as f64).sum();
        assert!((digamma(11.0) - (h10 - EULER)).abs() < 1e-13);
        // Recurrence across the switch points, and a large argument.
        for x in [1e-5, 0.01, 0.3, 2.5, 5.99, 6.0, 40.0, 1e4] {
            assert!((digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-11 * (1.0 + 1.0 / x));
        }
        assert!((digamma(1e8) - (1e8f64.ln() - 0.5e-8)).abs() < 1e-14);
        assert!(digamma(0.0).is_nan() && digamma(-1.0).is_nan());
    }

    #[test]
    fn exp_digamma_matches() {
        for x in [1e-7, 1e-3, 0.05, 0.7, 3.0, 6.0, 17.0, 1e6] {
            let a = exp_digamma_minus(x, 0.3);
            let b = (digamma(x) - 0.3).exp();
            assert!((a - b).abs() <= 1e-13 * b, "{x}: {a} vs {b}");
        }
    }

    #[test]
    fn fast_versions_match_libm() {
        let mut x = -700.0;
        while x < 700.0 {
            let (a, b) = (exp_fast(x), x.exp());
            assert!((a - b).abs() <= 4e-16 * b, "exp({x}): {a} vs {b}");
            x += 0.0137;
        }
        assert_eq!(exp_fast(0.0), 1.0);
        for x in [
            1e-9, 1e-6, 1e-3, 0.05, 0.5, 1.0, 3.3, 7.999, 8.0, 8.5, 17.0, 1e3, 1e7,
        ] {
            for c in [-2.0, 0.0, 4.5] {
                let a = exp_digamma_minus_fast(x, c);
                let b = (digamma(x) - c).exp();
                assert!((a - b).abs() <= 1e-13 * b + 1e-300, "{x} {c}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn ln_gamma_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-13);
        assert!(ln_gamma(2.0).abs() < 1e-13);
        assert!((ln_gamma(0.5) - 0.5 * std::f64::consts::PI.ln()).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.01) - (ln_gamma(1.01) - 0.01f64.ln())).abs() < 1e-12);
        // ln Gamma(100) = ln(99!)
        let lf: f64 = (1..100).map(|i| (i as f64).ln()).sum();
        assert!((ln_gamma(100.0) - lf).abs() < 1e-10);
    }

    #[test]
    fn dirichlet_expectation_of_uniform() {
        let mut out = [0.0; 3];
        dirichlet_expectation(&[1.0, 1.0, 1.0], &mut out);
        // psi(1) - psi(3) = -(1 + 1/2)
        for v in out {
            assert!((v + 1.5).abs() < 1e-13);
        }
        exp_dirichlet_expectation(&[1.0, 1.0, 1.0], &mut out);
        for v in out {
            assert!((v - (-1.5f64).exp()).abs() < 1e-13);
        }
    }
}
