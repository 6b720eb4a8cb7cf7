//! The only shared-mutable-weights code in ferrotext (Hogwild!, Recht et al. 2011).
//!
//! Every weight is an [`AtomicU32`] holding the bits of an `f32`, accessed with `Relaxed`
//! ordering. Threads copy a row out, compute on the private copy, then store (or add) back.
//! Concurrent updates of the same row may lose one another's contribution, which is exactly
//! the race Hogwild tolerates, but there is no undefined behaviour: every access is atomic.
//! On x86-64 and AArch64 a relaxed 32-bit atomic load/store is an ordinary move.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// A row-major matrix of `f32` that many threads may read and write at once.
pub struct HogwildMatrix {
    data: Vec<AtomicU32>,
    dim: usize,
}

impl HogwildMatrix {
    /// Wraps a row-major `rows x dim` matrix given as a flat slice.
    pub fn from_slice(values: &[f32], dim: usize) -> Self {
        HogwildMatrix {
            data: values.iter().map(|v| AtomicU32::new(v.to_bits())).collect(),
            dim: dim.max(1),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Row length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    #[inline(always)]
    fn row(&self, i: usize) -> &[AtomicU32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Copies row `i` into `out` (`out.len() == dim`).
    #[inline]
    pub fn load_row(&self, i: usize, out: &mut [f32]) {
        for (o, a) in out.iter_mut().zip(self.row(i)) {
            *o = f32::from_bits(a.load(Relaxed));
        }
    }

    /// Overwrites row `i` with `values`.
    #[inline]
    pub fn store_row(&self, i: usize, values: &[f32]) {
        for (v, a) in values.iter().zip(self.row(i)) {
            a.store(v.to_bits(), Relaxed);
        }
    }

    /// `row_i += scale * x`, element by element (load, add, store; not a read-modify-write
    /// instruction, so a concurrent update of the same element may be lost, as in Hogwild).
    #[inline]
    pub fn add_scaled(&self, i: usize, scale: f32, x: &[f32]) {
        for (v, a) in x.iter().zip(self.row(i)) {
            let cur = f32::from_bits(a.load(Relaxed));
            a.store((cur + scale * v).to_bits(), Relaxed);
        }
    }

    /// Copies the whole matrix out (after training, when no thread writes any more).
    pub fn to_vec(&self) -> Vec<f32> {
        self.data.iter().map(|a| f32::from_bits(a.load(Relaxed))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_load_add_roundtrip() {
        let m = HogwildMatrix::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3);
        assert_eq!(m.rows(), 2);
        let mut row = [0.0f32; 3];
        m.load_row(1, &mut row);
        assert_eq!(row, [4.0, 5.0, 6.0]);
        m.store_row(0, &[-1.0, f32::MIN_POSITIVE, 0.5]);
        m.load_row(0, &mut row);
        assert_eq!(row, [-1.0, f32::MIN_POSITIVE, 0.5]);
        m.add_scaled(1, 2.0, &[1.0, 1.0, -1.0]);
        assert_eq!(m.to_vec(), vec![-1.0, f32::MIN_POSITIVE, 0.5, 6.0, 7.0, 4.0]);
    }

    #[test]
    fn concurrent_disjoint_rows_are_exact() {
        let m = HogwildMatrix::from_slice(&vec![0.0; 8 * 16], 16);
        std::thread::scope(|s| {
            for t in 0..8 {
                let m = &m;
                s.spawn(move || {
                    for _ in 0..100 {
                        m.add_scaled(t, 1.0, &[1.0; 16]);
                    }
                });
            }
        });
        assert!(m.to_vec().iter().all(|&v| v == 100.0));
    }
}
