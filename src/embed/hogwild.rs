//! The only shared-mutable-weights code in ferrotext (Hogwild!, Recht et al. 2011).
//!
//! Weights live in relaxed atomics (two `f32` bit patterns per `AtomicU64`). Threads copy a row out, compute on the private copy, then store (or add) back.
//! Concurrent updates of the same row may lose one another's contribution, which is exactly
//! the race Hogwild tolerates, but there is no undefined behaviour: every access is atomic.
//! On x86-64 and AArch64 a relaxed 32-bit atomic load/store is an ordinary move.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A row-major matrix of `f32` that many threads may read and write at once.
///
/// Two neighbouring `f32` share one `AtomicU64` (low half = even column), which halves the
/// number of atomic instructions per row; rows are padded to an even length with a zero that
/// stays zero (every update is a multiple of another padded row whose padding is zero).
pub struct HogwildMatrix {
    data: Vec<AtomicU64>,
    dim: usize,
    half: usize,
}

#[inline(always)]
fn pack(lo: f32, hi: f32) -> u64 {
    (lo.to_bits() as u64) | ((hi.to_bits() as u64) << 32)
}

impl HogwildMatrix {
    /// Wraps a row-major `rows x dim` matrix given as a flat slice.
    pub fn from_slice(values: &[f32], dim: usize) -> Self {
        let dim = dim.max(1);
        let half = dim.div_ceil(2);
        let mut data = Vec::with_capacity(values.len() / dim * half);
        for row in values.chunks_exact(dim) {
            let mut pairs = row.chunks_exact(2);
            for p in &mut pairs {
                data.push(AtomicU64::new(pack(p[0], p[1])));
            }
            if let [last] = pairs.remainder() {
                data.push(AtomicU64::new(pack(*last, 0.0)));
            }
        }
        HogwildMatrix { data, dim, half }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len() / self.half
    }

    /// Row length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row length rounded up to even: the length of the buffers the row methods take.
    pub fn padded_dim(&self) -> usize {
        2 * self.half
    }

    #[inline(always)]
    fn row(&self, i: usize) -> &[AtomicU64] {
        &self.data[i * self.half..(i + 1) * self.half]
    }

    /// Hints the CPU to bring row `i` into cache (no effect on results; a no-op off x86-64).
    #[inline(always)]
    pub fn prefetch_row(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let row = self.row(i);
            // One hint per 64-byte line (8 pairs).
            for line in row.chunks(8) {
                // SAFETY: prefetching only hints the cache; it never faults or reads memory
                // architecturally, and the pointer is in bounds anyway. SSE is baseline on x86-64.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr() as *const i8) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// Copies row `i` into `out` (`out.len() == padded_dim()`).
    #[inline]
    pub fn load_row(&self, i: usize, out: &mut [f32]) {
        for (o, a) in out.chunks_exact_mut(2).zip(self.row(i)) {
            let x = a.load(Relaxed);
            o[0] = f32::from_bits(x as u32);
            o[1] = f32::from_bits((x >> 32) as u32);
        }
    }

    /// Overwrites row `i` with `values` (`padded_dim()` long).
    #[inline]
    pub fn store_row(&self, i: usize, values: &[f32]) {
        for (v, a) in values.chunks_exact(2).zip(self.row(i)) {
            a.store(pack(v[0], v[1]), Relaxed);
        }
    }

    /// `row_i += scale * x` (`x` is `padded_dim()` long), pair by pair (load, add, store; not a
    /// read-modify-write instruction, so a concurrent update of the same pair may be lost, as
    /// Hogwild allows).
    #[inline]
    pub fn add_scaled(&self, i: usize, scale: f32, x: &[f32]) {
        for (v, a) in x.chunks_exact(2).zip(self.row(i)) {
            let cur = a.load(Relaxed);
            let lo = f32::from_bits(cur as u32) + scale * v[0];
            let hi = f32::from_bits((cur >> 32) as u32) + scale * v[1];
            a.store(pack(lo, hi), Relaxed);
        }
    }

    /// A `rows x dim` matrix of zeros.
    pub fn zeros(rows: usize, dim: usize) -> Self {
        let dim = dim.max(1);
        let half = dim.div_ceil(2);
        let data = (0..rows * half).map(|_| AtomicU64::new(0)).collect();
        HogwildMatrix { data, dim, half }
    }

    /// `out += scale * row_i` (`out` is `padded_dim()` long), without a temporary copy.
    #[inline]
    pub fn add_row_to(&self, i: usize, scale: f32, out: &mut [f32]) {
        for (o, a) in out.chunks_exact_mut(2).zip(self.row(i)) {
            let x = a.load(Relaxed);
            o[0] += scale * f32::from_bits(x as u32);
            o[1] += scale * f32::from_bits((x >> 32) as u32);
        }
    }

    /// Dot product of row `i` with `x` (`padded_dim()` long), with four independent partial
    /// sums so the loop pipelines.
    #[inline]
    pub fn dot_row(&self, i: usize, x: &[f32]) -> f32 {
        let mut acc = [0.0f32; 4];
        let row = self.row(i);
        let mut pairs = row.chunks_exact(2);
        let mut xs = x.chunks_exact(4);
        for (p, v) in (&mut pairs).zip(&mut xs) {
            let a = p[0].load(Relaxed);
            let b = p[1].load(Relaxed);
            acc[0] += f32::from_bits(a as u32) * v[0];
            acc[1] += f32::from_bits((a >> 32) as u32) * v[1];
            acc[2] += f32::from_bits(b as u32) * v[2];
            acc[3] += f32::from_bits((b >> 32) as u32) * v[3];
        }
        if let ([p], [v0, v1, ..]) = (pairs.remainder(), xs.remainder()) {
            let a = p.load(Relaxed);
            acc[0] += f32::from_bits(a as u32) * v0;
            acc[1] += f32::from_bits((a >> 32) as u32) * v1;
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }

    /// Moves the matrix out, unpadded, releasing the atomic storage as it goes so the peak
    /// memory stays near one matrix (the output is zero-allocated, so its pages are only
    /// touched as rows are copied, last row first).
    pub fn into_vec(mut self) -> Vec<f32> {
        let rows = self.rows();
        let (dim, half) = (self.dim, self.half);
        let mut out = vec![0.0f32; rows * dim];
        let mut buf = vec![0.0f32; 2 * half];
        // Release memory every ~8 MB of rows.
        let step = ((8 << 20) / (8 * half)).max(1);
        for i in (0..rows).rev() {
            self.load_row(i, &mut buf);
            out[i * dim..(i + 1) * dim].copy_from_slice(&buf[..dim]);
            if i % step == 0 {
                self.data.truncate(i * half);
                self.data.shrink_to_fit();
            }
        }
        out
    }

    /// Copies the whole matrix out, unpadded (after training, when no thread writes any more).
    pub fn to_vec(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows() * self.dim);
        let mut buf = vec![0.0f32; self.padded_dim()];
        for i in 0..self.rows() {
            self.load_row(i, &mut buf);
            out.extend_from_slice(&buf[..self.dim]);
        }
        out
    }
}

/// Asks the kernel (Linux) to back `len` bytes at `ptr` with transparent huge pages when they
/// are first touched. Random rows of a large matrix then cost far fewer TLB misses. Only a
/// paging hint: no effect on values, and harmless if refused.
pub fn advise_huge_pages(ptr: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        const MADV_HUGEPAGE: i32 = 14;
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize).saturating_add(len) / PAGE * PAGE;
        if end > start {
            // SAFETY: the range lies inside an allocation of the caller; MADV_HUGEPAGE only
            // changes how its pages are backed, never their contents.
            unsafe { madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

impl HogwildMatrix {
    /// [`HogwildMatrix::zeros`], zero-allocated: a page only becomes resident when a row on it
    /// is first written (rows that stay zero cost no memory, as in fastText, whose matrices are
    /// zero-allocated too). The first `huge_rows` rows, which the caller will fill anyway, go
    /// on huge pages (see [`advise_huge_pages`]); the rest keeps small pages, so that sparse
    /// writes there do not make whole 2 MB regions resident.
    pub fn zeros_lazy(rows: usize, dim: usize, huge_rows: usize) -> Self {
        const _: () = assert!(
            std::mem::size_of::<u64>() == std::mem::size_of::<AtomicU64>()
                && std::mem::align_of::<u64>() == std::mem::align_of::<AtomicU64>()
        );
        let dim = dim.max(1);
        let half = dim.div_ceil(2);
        // `vec![0u64; n]` is a zeroed allocation (calloc: fresh pages are not written).
        let zeroed = std::mem::ManuallyDrop::new(vec![0u64; rows * half]);
        advise_huge_pages(zeroed.as_ptr() as *const u8, huge_rows.min(rows) * half * 8);
        let (ptr, len, cap) = (zeroed.as_ptr() as *mut u64, zeroed.len(), zeroed.capacity());
        // SAFETY: `AtomicU64` has the size, alignment (asserted above) and bit validity of
        // `u64`, so the buffer is a valid `[AtomicU64]` with the same allocation layout; the
        // original `Vec` is never used or dropped again.
        let data = unsafe { Vec::from_raw_parts(ptr as *mut AtomicU64, len, cap) };
        HogwildMatrix { data, dim, half }
    }

    /// [`HogwildMatrix::into_vec`] that leaves the pages of all-zero rows untouched (not
    /// resident) in the result, puts its first `huge_rows` rows on huge pages, and copies
    /// each ~8 MB stretch (from the end, releasing it after) in parallel on the current
    /// rayon pool.
    pub fn into_vec_lazy(mut self, huge_rows: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let (rows, dim, half) = (self.rows(), self.dim, self.half);
        // Zero-allocated, so its pages are only touched as non-zero rows are copied.
        let mut out = vec![0.0f32; rows * dim];
        advise_huge_pages(out.as_ptr() as *const u8, huge_rows.min(rows) * dim * 4);
        let step = ((8 << 20) / (8 * half)).max(1);
        let mut end = rows;
        while end > 0 {
            let start = end.saturating_sub(step);
            let src = &self;
            out[start * dim..end * dim]
                .par_chunks_mut(64 * dim)
                .enumerate()
                .for_each(|(c, block)| {
                    let mut buf = vec![0.0f32; 2 * half];
                    for (k, row) in block.chunks_exact_mut(dim).enumerate() {
                        src.load_row(start + 64 * c + k, &mut buf);
                        if buf.iter().any(|&x| x.to_bits() != 0) {
                            row.copy_from_slice(&buf[..dim]);
                        }
                    }
                });
            self.data.truncate(start * half);
            self.data.shrink_to_fit();
            end = start;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_load_add_roundtrip() {
        let m = HogwildMatrix::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3);
        assert_eq!(m.rows(), 2);
        assert_eq!(m.padded_dim(), 4);
        let mut row = [0.0f32; 4];
        m.load_row(1, &mut row);
        assert_eq!(row, [4.0, 5.0, 6.0, 0.0]);
        // Rows longer than one unrolled step of four pairs, with a remainder.
        let vals: Vec<f32> = (0..2 * 13).map(|x| x as f32 * 0.5 - 3.0).collect();
        let wide = HogwildMatrix::from_slice(&vals, 13);
        let mut buf = vec![9.0f32; 14];
        wide.load_row(1, &mut buf);
        assert_eq!(&buf[..13], &vals[13..]);
        assert_eq!(buf[13], 0.0);
        buf[0] = 42.0;
        wide.store_row(0, &buf);
        let mut back = vec![0.0f32; 14];
        wide.load_row(0, &mut back);
        assert_eq!(back, buf);
        m.store_row(0, &[-1.0, f32::MIN_POSITIVE, 0.5, 0.0]);
        m.load_row(0, &mut row);
        assert_eq!(row, [-1.0, f32::MIN_POSITIVE, 0.5, 0.0]);
        m.add_scaled(1, 2.0, &[1.0, 1.0, -1.0, 0.0]);
        assert_eq!(
            m.to_vec(),
            vec![-1.0, f32::MIN_POSITIVE, 0.5, 6.0, 7.0, 4.0]
        );
    }

    #[test]
    fn helpers_agree_with_row_copies() {
        let vals: Vec<f32> = (0..15).map(|v| v as f32 * 0.5 - 3.0).collect();
        let m = HogwildMatrix::from_slice(&vals, 5);
        let x = [1.0, -2.0, 0.5, 4.0, 3.0, 0.0];
        let mut row = [0.0f32; 6];
        m.load_row(2, &mut row);
        let want: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
        assert!((m.dot_row(2, &x) - want).abs() < 1e-5);
        let mut acc = [1.0f32; 6];
        m.add_row_to(1, 2.0, &mut acc);
        m.load_row(1, &mut row);
        for j in 0..5 {
            assert_eq!(acc[j], 1.0 + 2.0 * row[j]);
        }
        assert_eq!(HogwildMatrix::zeros(3, 5).to_vec(), vec![0.0; 15]);
        assert_eq!(m.into_vec(), vals);
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
                        m.add_scaled(t, 0.5, &[0.5; 16]);
                    }
                });
            }
        });
        assert!(m.to_vec().iter().all(|&v| v == 125.0));
    }
}
