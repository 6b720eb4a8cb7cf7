//! Dense f32 kernels for the embedding trainers: dot product and `y += a*x`.
//!
//! The portable versions use eight independent accumulators so LLVM vectorises them. On
//! x86-64 the same code is also compiled with AVX2+FMA enabled and chosen at run time
//! (`is_x86_feature_detected!`), with the portable version as the fallback. The choice is
//! made once per process, so results stay bit-reproducible on a given machine.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_naive() {
        for n in [1usize, 7, 8, 13, 100, 300] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum();
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
}
