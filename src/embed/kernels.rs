//! Dense f32 kernels for the embedding trainers: dot product and `y += a*x`.
//!
//! The portable versions use eight independent accumulators so LLVM vectorises them. On
//! x86-64 the same code is also compiled with AVX2+FMA enabled and chosen at run time
//! (`is_x86_feature_detected!`), with the portable version as the fallback. The choice is
//! made once per process, so results stay bit-reproducible on a given machine.

#[cfg(target_arch = "x86_64")]
use super::hogwild::wide::WideRow;
use super::hogwild::HogwildMatrix;
use std::sync::OnceLock;

#[inline(always)]
fn dot_generic(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline(always)]
fn axpy_generic(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_generic(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(alpha: f32, x: &[f32], y: &mut [f32]) {
    axpy_generic(alpha, x, y)
}

fn use_avx2() -> bool {
    static FLAG: OnceLock<bool> = OnceLock::new();
    *FLAG.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Kernel set chosen once for this CPU.
#[derive(Clone, Copy)]
pub struct Kernels {
    avx2: bool,
}

impl Kernels {
    /// Detects the CPU features.
    pub fn detect() -> Self {
        Kernels { avx2: use_avx2() }
    }

    /// The portable kernels only.
    pub fn scalar() -> Self {
        Kernels { avx2: false }
    }

    /// `sum_i a_i b_i`.
    #[inline(always)]
    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: avx2 and fma were detected on this CPU.
            return unsafe { dot_avx2(a, b) };
        }
        dot_generic(a, b)
    }

    /// `y += alpha * x`.
    #[inline(always)]
    pub fn axpy(&self, alpha: f32, x: &[f32], y: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: avx2 and fma were detected on this CPU.
            unsafe { axpy_avx2(alpha, x, y) };
            return;
        }
        axpy_generic(alpha, x, y)
    }
}

/// Vector kernels as a type, so that a whole training loop can be generic over it and be
/// compiled once per instruction set with everything inlined (see
/// [`super::word2vec`]): calls from a function without AVX2 into an AVX2 function cannot be
/// inlined, and a 100-float dot product is too short to pay for a call.
pub trait Simd: Copy + Send + Sync {
    /// `sum_i a_i b_i`.
    fn dot(self, a: &[f32], b: &[f32]) -> f32;
    /// `y += alpha * x`.
    fn axpy(self, alpha: f32, x: &[f32], y: &mut [f32]);
    /// `y *= alpha`.
    fn scale(self, alpha: f32, y: &mut [f32]) {
        y.iter_mut().for_each(|v| *v *= alpha);
    }
    /// `m.load_row(i, out)`, in the way that suits these kernels' loads of `out`.
    #[inline(always)]
    fn load_row(self, m: &HogwildMatrix, i: usize, out: &mut [f32]) {
        m.load_row(i, out)
    }
    /// `m.store_row(i, values)`, in the way that suits these kernels' stores of `values`.
    #[inline(always)]
    fn store_row(self, m: &HogwildMatrix, i: usize, values: &[f32]) {
        m.store_row(i, values)
    }
    /// Copies row `i` of `m` into `copy` and returns `x . row` (as `load_row` + `dot`, with
    /// the same result, in one pass where the CPU allows).
    #[inline(always)]
    fn load_row_dot(self, m: &HogwildMatrix, i: usize, x: &[f32], copy: &mut [f32]) -> f32 {
        self.load_row(m, i, copy);
        self.dot(x, copy)
    }
    /// The output-row step of word2vec / fastText: `grad += g * copy`, then row `i` of `m` :=
    /// `copy + g * x` (`copy` is row `i` as read before). Same results as two `axpy` and a
    /// `store_row`; `copy` is left unspecified.
    #[inline(always)]
    fn update_row(
        self,
        m: &HogwildMatrix,
        i: usize,
        g: f32,
        x: &[f32],
        copy: &mut [f32],
        grad: &mut [f32],
    ) {
        self.axpy(g, copy, grad);
        self.axpy(g, x, copy);
        self.store_row(m, i, copy);
    }
}

/// Portable kernels (whatever the compiler makes of them for the baseline target).
#[derive(Clone, Copy)]
pub struct Portable;

impl Simd for Portable {
    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        dot_generic(a, b)
    }
    #[inline(always)]
    fn axpy(self, alpha: f32, x: &[f32], y: &mut [f32]) {
        axpy_generic(alpha, x, y)
    }
}

/// AVX2 + FMA kernels written with intrinsics. The value proves that the CPU has both
/// features: it can only be made by [`Avx2Fma::detect`].
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub struct Avx2Fma {
    _private: (),
}

#[cfg(target_arch = "x86_64")]
impl Avx2Fma {
    /// `Some` iff this CPU has AVX2 and FMA.
    pub fn detect() -> Option<Self> {
        use_avx2().then_some(Avx2Fma { _private: () })
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn dot_fma(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (loads): every load reads 8 floats at `i..i + 8 <= n` of slices of length `n`.
    while i + 16 <= n {
        unsafe {
            acc0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
                acc0,
            );
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                acc1,
            );
        }
        i += 16;
    }
    if i + 8 <= n {
        unsafe {
            acc0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
                acc0,
            );
        }
        i += 8;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let quad = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let one = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
    let mut s = _mm_cvtss_f32(one);
    for (x, y) in a[i..].iter().zip(&b[i..]) {
        s = x.mul_add(*y, s);
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn axpy_fma(alpha: f32, x: &[f32], y: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    let va = _mm256_set1_ps(alpha);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: reads and writes 8 floats at `i..i + 8 <= n` of slices of length `n`.
        unsafe {
            let py = y.as_mut_ptr().add(i);
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(x.as_ptr().add(i)), _mm256_loadu_ps(py));
            _mm256_storeu_ps(py, r);
        }
        i += 8;
    }
    for (yi, xi) in y[i..].iter_mut().zip(&x[i..]) {
        *yi = alpha.mul_add(*xi, *yi);
    }
}

/// [`dot_fma`]`(x, row)` while copying `row` into `copy`, with the same summation order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn load_row_dot_fma(row: WideRow<'_>, x: &[f32], copy: &mut [f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = 4 * row.quads();
    let (x, copy) = (&x[..n], &mut copy[..n]);
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (loads / stores of `x`, `copy`): 8 floats at `i..i + 8 <= n`.
    while i + 16 <= n {
        let (r0, r1) = (row.load8(i / 4), row.load8(i / 4 + 2));
        unsafe {
            _mm256_storeu_ps(copy.as_mut_ptr().add(i), r0);
            _mm256_storeu_ps(copy.as_mut_ptr().add(i + 8), r1);
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x.as_ptr().add(i)), r0, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x.as_ptr().add(i + 8)), r1, acc1);
        }
        i += 16;
    }
    if i + 8 <= n {
        let r0 = row.load8(i / 4);
        unsafe {
            _mm256_storeu_ps(copy.as_mut_ptr().add(i), r0);
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x.as_ptr().add(i)), r0, acc0);
        }
        i += 8;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let quad = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let one = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
    let mut s = _mm_cvtss_f32(one);
    if i < n {
        // SAFETY: `n - i == 4` here (`n` is a multiple of 4).
        unsafe { _mm_storeu_ps(copy.as_mut_ptr().add(i), row.load4(i / 4)) };
        for (a, b) in x[i..].iter().zip(&copy[i..]) {
            s = a.mul_add(*b, s);
        }
    }
    s
}

/// `grad += g * copy; row := copy + g * x`, 8 floats at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn update_row_fma(row: WideRow<'_>, g: f32, x: &[f32], copy: &[f32], grad: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = 4 * row.quads();
    let (x, copy, grad) = (&x[..n], &copy[..n], &mut grad[..n]);
    let vg = _mm256_set1_ps(g);
    let mut i = 0;
    // SAFETY (loads / stores of `x`, `copy`, `grad`): 8 or 4 floats inside `..n`.
    while i + 8 <= n {
        unsafe {
            let c = _mm256_loadu_ps(copy.as_ptr().add(i));
            let pg = grad.as_mut_ptr().add(i);
            _mm256_storeu_ps(pg, _mm256_fmadd_ps(vg, c, _mm256_loadu_ps(pg)));
            row.store8(
                i / 4,
                _mm256_fmadd_ps(vg, _mm256_loadu_ps(x.as_ptr().add(i)), c),
            );
        }
        i += 8;
    }
    if i < n {
        let vg = _mm_set1_ps(g);
        unsafe {
            let c = _mm_loadu_ps(copy.as_ptr().add(i));
            let pg = grad.as_mut_ptr().add(i);
            _mm_storeu_ps(pg, _mm_fmadd_ps(vg, c, _mm_loadu_ps(pg)));
            row.store4(i / 4, _mm_fmadd_ps(vg, _mm_loadu_ps(x.as_ptr().add(i)), c));
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Simd for Avx2Fma {
    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { dot_fma(a, b) }
    }
    #[inline(always)]
    fn axpy(self, alpha: f32, x: &[f32], y: &mut [f32]) {
        // SAFETY: as above.
        unsafe { axpy_fma(alpha, x, y) }
    }
    #[inline(always)]
    fn load_row(self, m: &HogwildMatrix, i: usize, out: &mut [f32]) {
        m.load_row_avx(i, out)
    }
    #[inline(always)]
    fn store_row(self, m: &HogwildMatrix, i: usize, values: &[f32]) {
        m.store_row_avx(i, values)
    }
    #[inline(always)]
    fn load_row_dot(self, m: &HogwildMatrix, i: usize, x: &[f32], copy: &mut [f32]) -> f32 {
        match m.wide_row(i) {
            // SAFETY: `self` exists only if AVX2 and FMA were detected.
            Some(row) if x.len() >= 4 * row.quads() && copy.len() >= 4 * row.quads() => unsafe {
                load_row_dot_fma(row, x, copy)
            },
            _ => {
                self.load_row(m, i, copy);
                self.dot(x, copy)
            }
        }
    }
    #[inline(always)]
    fn update_row(
        self,
        m: &HogwildMatrix,
        i: usize,
        g: f32,
        x: &[f32],
        copy: &mut [f32],
        grad: &mut [f32],
    ) {
        let n = m.padded_dim();
        match m.wide_row(i) {
            // SAFETY: as above.
            Some(row) if x.len() >= n && copy.len() >= n && grad.len() >= n => unsafe {
                update_row_fma(row, g, x, copy, grad)
            },
            _ => {
                self.axpy(g, copy, grad);
                self.axpy(g, x, copy);
                self.store_row(m, i, copy);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_naive() {
        for n in [1usize, 7, 8, 13, 16, 17, 24, 100, 300] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum();
            #[cfg(target_arch = "x86_64")]
            if let Some(s) = Avx2Fma::detect() {
                assert!((s.dot(&a, &b) as f64 - naive).abs() < 1e-4);
                let mut y = b.clone();
                s.axpy(0.5, &a, &mut y);
                for i in 0..n {
                    assert!((y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-6);
                }
            }
            assert!((Portable.dot(&a, &b) as f64 - naive).abs() < 1e-4);
            for k in [Kernels::detect(), Kernels::scalar()] {
                assert!((k.dot(&a, &b) as f64 - naive).abs() < 1e-4);
                let mut y = b.clone();
                k.axpy(0.5, &a, &mut y);
                for i in 0..n {
                    assert!((y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn fused_row_kernels_match_copy_then_compute() {
        for dim in [1usize, 3, 4, 8, 13, 16, 24, 100, 301] {
            let vals: Vec<f32> = (0..3 * dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let m = HogwildMatrix::from_slice(&vals, dim);
            let pd = m.padded_dim();
            let x: Vec<f32> = (0..pd)
                .map(|i| {
                    if i < dim {
                        (i as f32 * 0.11).cos()
                    } else {
                        0.0
                    }
                })
                .collect();
            let check = |k: &dyn Fn(&HogwildMatrix, &mut [f32], &mut [f32]) -> f32| {
                let m2 = HogwildMatrix::from_slice(&vals, dim);
                let (mut copy, mut grad) = (vec![0.0f32; pd], vec![0.5f32; pd]);
                let d = k(&m2, &mut copy, &mut grad);
                (d, grad, m2.to_vec())
            };
            // Reference: copy, compute, store with the same kernel set.
            macro_rules! same {
                ($k:expr) => {{
                    let k = $k;
                    let fused = check(&|m2, copy, grad| {
                        let d = k.load_row_dot(m2, 1, &x, copy);
                        k.update_row(m2, 1, 0.25, &x, copy, grad);
                        d
                    });
                    let plain = check(&|m2, copy, grad| {
                        m2.load_row(1, copy);
                        let d = k.dot(&x, copy);
                        k.axpy(0.25, copy, grad);
                        k.axpy(0.25, &x, copy);
                        m2.store_row(1, copy);
                        d
                    });
                    assert_eq!(fused.0.to_bits(), plain.0.to_bits(), "dim {dim}");
                    assert_eq!(fused.1, plain.1, "dim {dim}");
                    assert_eq!(fused.2, plain.2, "dim {dim}");
                    assert_ne!(fused.2, vals, "dim {dim}: row 1 was updated");
                }};
            }
            same!(Portable);
            #[cfg(target_arch = "x86_64")]
            if let Some(k) = Avx2Fma::detect() {
                same!(k);
            }
            let _ = &m;
        }
    }
}
