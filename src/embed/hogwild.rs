//! The only shared-mutable-weights code in ferrotext (Hogwild!, Recht et al. 2011).
//!
//! Weights live in relaxed atomics (two `f32` bit patterns per `AtomicU64`). Threads copy a row out, compute on the private copy, then store (or add) back.
//! Concurrent updates of the same row may lose one another's contribution, which is exactly
//! the race Hogwild tolerates, but there is no undefined behaviour: every access is atomic.
//! On x86-64 and AArch64 a relaxed 32-bit atomic load/store is an ordinary move.
//!
//! Row copies (`load_row` / `store_row`) on x86-64 CPUs with AVX move 16 bytes per instruction
//! (see [`wide`]): in the memory model each such move is two relaxed `AtomicU64` accesses, so
//! every access to the matrix is still a 64-bit relaxed atomic, whichever method made it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A row-major matrix of `f32` that many threads may read and write at once.
///
/// Two neighbouring `f32` share one `AtomicU64` (low half = even column), which halves the
/// number of atomic instructions per row; rows are padded to a multiple of four floats with
/// zeros that stay zero (every update is a multiple of another padded row whose padding is
/// zero), so that every row starts on a 16-byte boundary when the buffer does.
pub struct HogwildMatrix {
    data: Vec<AtomicU64>,
    dim: usize,
    half: usize,
    /// 16-byte row copies are allowed: the CPU has AVX and the buffer is 16-byte aligned.
    wide: bool,
}

/// `u64` pairs per row: `dim` floats rounded up to a multiple of four.
fn pairs_per_row(dim: usize) -> usize {
    2 * dim.div_ceil(4)
}

#[inline(always)]
fn pack(lo: f32, hi: f32) -> u64 {
    (lo.to_bits() as u64) | ((hi.to_bits() as u64) << 32)
}

impl HogwildMatrix {
    /// Wraps a row-major `rows x dim` matrix given as a flat slice.
    pub fn from_slice(values: &[f32], dim: usize) -> Self {
        let dim = dim.max(1);
        let mut rows = values.chunks_exact(dim);
        Self::from_rows(values.len() / dim, dim, |_, out| {
            if let Some(row) = rows.next() {
                out.copy_from_slice(row);
            }
        })
    }

    /// A `rows x dim` matrix whose row `i` is written by `fill(i, row)` (called in row order),
    /// built without an intermediate `f32` copy of the whole matrix.
    pub fn from_rows(rows: usize, dim: usize, mut fill: impl FnMut(usize, &mut [f32])) -> Self {
        let dim = dim.max(1);
        let half = pairs_per_row(dim);
        let mut data = Vec::with_capacity(rows * half);
        let mut row = vec![0.0f32; 2 * half];
        for i in 0..rows {
            fill(i, &mut row[..dim]);
            // The padding stays zero: `fill` only sees the first `dim` floats.
            data.extend(
                row.chunks_exact(2)
                    .map(|p| AtomicU64::new(pack(p[0], p[1]))),
            );
        }
        Self::with_data(data, dim, half)
    }

    fn with_data(data: Vec<AtomicU64>, dim: usize, half: usize) -> Self {
        let wide = wide::available() && (data.as_ptr() as usize) % 16 == 0;
        HogwildMatrix {
            data,
            dim,
            half,
            wide,
        }
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
        let row = self.row(i);
        #[cfg(target_arch = "x86_64")]
        if self.wide && out.len() >= 2 * row.len() {
            // SAFETY: `wide` means AVX is present and rows are 16-byte aligned with an even
            // number of pairs; `out` holds the whole row.
            unsafe { wide::load(row, out, false) };
            return;
        }
        for (o, a) in out.chunks_exact_mut(2).zip(row) {
            let x = a.load(Relaxed);
            o[0] = f32::from_bits(x as u32);
            o[1] = f32::from_bits((x >> 32) as u32);
        }
    }

    /// [`Self::load_row`] for code compiled with AVX enabled: writes `out` 32 bytes at a time,
    /// so that 32-byte loads of `out` right after are forwarded from the store buffer.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub(crate) fn load_row_avx(&self, i: usize, out: &mut [f32]) {
        let row = self.row(i);
        if self.wide && out.len() >= 2 * row.len() {
            // SAFETY: as in `load_row`; the caller's code runs only on AVX CPUs anyway.
            unsafe { wide::load(row, out, true) };
            return;
        }
        self.load_row(i, out)
    }

    /// [`Self::store_row`] for code compiled with AVX enabled: reads `values` 32 bytes at a
    /// time.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub(crate) fn store_row_avx(&self, i: usize, values: &[f32]) {
        let row = self.row(i);
        if self.wide && values.len() >= 2 * row.len() {
            // SAFETY: as in `load_row`.
            unsafe { wide::store(row, values, true) };
            return;
        }
        self.store_row(i, values)
    }

    /// Row `i` for 16-byte access from AVX code, when this matrix allows it.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) fn wide_row(&self, i: usize) -> Option<wide::WideRow<'_>> {
        self.wide.then(|| wide::WideRow { row: self.row(i) })
    }

    /// Overwrites row `i` with `values` (`padded_dim()` long).
    #[inline]
    pub fn store_row(&self, i: usize, values: &[f32]) {
        let row = self.row(i);
        #[cfg(target_arch = "x86_64")]
        if self.wide && values.len() >= 2 * row.len() {
            // SAFETY: as in `load_row`.
            unsafe { wide::store(row, values, false) };
            return;
        }
        for (v, a) in values.chunks_exact(2).zip(row) {
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
        let half = pairs_per_row(dim);
        let data = (0..rows * half).map(|_| AtomicU64::new(0)).collect();
        Self::with_data(data, dim, half)
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
        // Shrinking may move the buffer off its 16-byte alignment.
        self.wide = false;
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

/// 16-byte row copies. Intel (SDM vol. 3A, 9.1.1) and AMD (APM vol. 2, 7.3.2) guarantee that
/// on CPUs with AVX a 16-byte-aligned `(V)MOVAPS` with a 16-byte (VEX.128) operand is a
/// single atomic access. Each such move is therefore at least as strong as the two relaxed
/// `AtomicU64` accesses it stands for (no 64-bit half can tear), which is how the Rust memory
/// model sees these `asm!` blocks: the matrix is only ever accessed by 64-bit relaxed atomics.
/// The private side (`out` / `values`) is ordinary memory owned by the caller.
pub(crate) mod wide {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::{__m128, __m256};
    use std::sync::atomic::AtomicU64;

    /// A row of a matrix that allows 16-byte access (see [`super::HogwildMatrix::wide_row`]):
    /// the CPU has AVX, and the row is 16-byte aligned with an even number of pairs.
    #[cfg(target_arch = "x86_64")]
    #[derive(Clone, Copy)]
    pub(crate) struct WideRow<'a> {
        pub(super) row: &'a [AtomicU64],
    }

    #[cfg(target_arch = "x86_64")]
    impl WideRow<'_> {
        /// Number of 4-float quads.
        #[inline(always)]
        pub(crate) fn quads(self) -> usize {
            self.row.len() / 2
        }

        /// Floats `4q..4q + 4`.
        #[target_feature(enable = "avx")]
        #[inline]
        pub(crate) fn load4(self, q: usize) -> __m128 {
            let cell = &self.row[2 * q..2 * q + 2];
            let v: __m128;
            // SAFETY: an aligned 16-byte atomic read of `cell` (see the module comment).
            unsafe {
                std::arch::asm!(
                    "vmovaps {v}, xmmword ptr [{p}]",
                    p = in(reg) cell.as_ptr(),
                    v = out(xmm_reg) v,
                    options(nostack, preserves_flags, readonly),
                );
            }
            v
        }

        /// Floats `4q..4q + 8`.
        #[target_feature(enable = "avx")]
        #[inline]
        pub(crate) fn load8(self, q: usize) -> __m256 {
            let cell = &self.row[2 * q..2 * q + 4];
            let v: __m256;
            // SAFETY: two aligned 16-byte atomic reads inside `cell`.
            unsafe {
                std::arch::asm!(
                    "vmovaps {v:x}, xmmword ptr [{p}]",
                    "vmovaps {t}, xmmword ptr [{p} + 16]",
                    "vinsertf128 {v}, {v}, {t}, 1",
                    p = in(reg) cell.as_ptr(),
                    v = out(ymm_reg) v,
                    t = out(xmm_reg) _,
                    options(nostack, preserves_flags, readonly),
                );
            }
            v
        }

        /// Overwrites floats `4q..4q + 4`.
        #[target_feature(enable = "avx")]
        #[inline]
        pub(crate) fn store4(self, q: usize, v: __m128) {
            let cell = &self.row[2 * q..2 * q + 2];
            // SAFETY: an aligned 16-byte atomic write of `cell` (atomics live in
            // `UnsafeCell`s, so writing through a shared reference is allowed).
            unsafe {
                std::arch::asm!(
                    "vmovaps xmmword ptr [{p}], {v}",
                    p = in(reg) cell.as_ptr(),
                    v = in(xmm_reg) v,
                    options(nostack, preserves_flags),
                );
            }
        }

        /// Overwrites floats `4q..4q + 8`.
        #[target_feature(enable = "avx")]
        #[inline]
        pub(crate) fn store8(self, q: usize, v: __m256) {
            let cell = &self.row[2 * q..2 * q + 4];
            // SAFETY: two aligned 16-byte atomic writes inside `cell`.
            unsafe {
                std::arch::asm!(
                    "vmovaps xmmword ptr [{p}], {v:x}",
                    "vextractf128 {t}, {v}, 1",
                    "vmovaps xmmword ptr [{p} + 16], {t}",
                    p = in(reg) cell.as_ptr(),
                    v = in(ymm_reg) v,
                    t = out(xmm_reg) _,
                    options(nostack, preserves_flags),
                );
            }
        }
    }

    /// AVX present (detected once).
    pub(super) fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            static FLAG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            *FLAG.get_or_init(|| is_x86_feature_detected!("avx"))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Copies `row` (16-byte aligned, even length) into `out[..2 * row.len()]`; with `ymm`,
    /// joins two 16-byte loads into one 32-byte store (the caller's code must then run with
    /// AVX, which it does, being compiled for it).
    ///
    /// # Safety
    /// The CPU has AVX, `row` starts on a 16-byte boundary and has an even length, and
    /// `out.len() >= 2 * row.len()`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) unsafe fn load(row: &[AtomicU64], out: &mut [f32], ymm: bool) {
        use std::arch::asm;
        let quads = row.len() / 2;
        let src = row.as_ptr() as *const u8;
        let dst = out.as_mut_ptr() as *mut u8;
        let mut q = 0;
        if ymm {
            while q + 2 <= quads {
                // SAFETY: both 16-byte reads are aligned and inside `row`, the 32-byte write
                // inside `out` (caller's contract).
                unsafe {
                    asm!(
                        "vmovaps {a}, xmmword ptr [{s}]",
                        "vmovaps {b}, xmmword ptr [{s} + 16]",
                        "vinsertf128 {a:y}, {a:y}, {b}, 1",
                        "vmovups ymmword ptr [{d}], {a:y}",
                        s = in(reg) src.add(16 * q),
                        d = in(reg) dst.add(16 * q),
                        a = out(xmm_reg) _,
                        b = out(xmm_reg) _,
                        options(nostack, preserves_flags),
                    );
                }
                q += 2;
            }
        }
        while q < quads {
            // SAFETY: an aligned 16-byte read inside `row`, a 16-byte write inside `out`.
            unsafe {
                asm!(
                    "vmovaps {a}, xmmword ptr [{s}]",
                    "vmovups xmmword ptr [{d}], {a}",
                    s = in(reg) src.add(16 * q),
                    d = in(reg) dst.add(16 * q),
                    a = out(xmm_reg) _,
                    options(nostack, preserves_flags),
                );
            }
            q += 1;
        }
    }

    /// Copies `values[..2 * row.len()]` into `row`; with `ymm`, reads `values` 32 bytes at a
    /// time (as [`load`]).
    ///
    /// # Safety
    /// As for [`load`], with `values.len() >= 2 * row.len()`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) unsafe fn store(row: &[AtomicU64], values: &[f32], ymm: bool) {
        use std::arch::asm;
        let quads = row.len() / 2;
        let src = values.as_ptr() as *const u8;
        let dst = row.as_ptr() as *mut u8;
        let mut q = 0;
        if ymm {
            while q + 2 <= quads {
                // SAFETY: a 32-byte read inside `values`, two aligned 16-byte writes inside
                // `row`.
                unsafe {
                    asm!(
                        "vmovups {a:y}, ymmword ptr [{s}]",
                        "vextractf128 {b}, {a:y}, 1",
                        "vmovaps xmmword ptr [{d}], {a}",
                        "vmovaps xmmword ptr [{d} + 16], {b}",
                        s = in(reg) src.add(16 * q),
                        d = in(reg) dst.add(16 * q),
                        a = out(xmm_reg) _,
                        b = out(xmm_reg) _,
                        options(nostack, preserves_flags),
                    );
                }
                q += 2;
            }
        }
        for q in q..quads {
            // SAFETY: a 16-byte read inside `values`, an aligned 16-byte write inside `row`
            // (atomics live in `UnsafeCell`s, so writing through a shared reference is allowed).
            unsafe {
                asm!(
                    "vmovups {a}, xmmword ptr [{s}]",
                    "vmovaps xmmword ptr [{d}], {a}",
                    s = in(reg) src.add(16 * q),
                    d = in(reg) dst.add(16 * q),
                    a = out(xmm_reg) _,
                    options(nostack, preserves_flags),
                );
            }
        }
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
        let half = pairs_per_row(dim);
        // `vec![0u64; n]` is a zeroed allocation (calloc: fresh pages are not written).
        let zeroed = std::mem::ManuallyDrop::new(vec![0u64; rows * half]);
        advise_huge_pages(zeroed.as_ptr() as *const u8, huge_rows.min(rows) * half * 8);
        let (ptr, len, cap) = (zeroed.as_ptr() as *mut u64, zeroed.len(), zeroed.capacity());
        // SAFETY: `AtomicU64` has the size, alignment (asserted above) and bit validity of
        // `u64`, so the buffer is a valid `[AtomicU64]` with the same allocation layout; the
        // original `Vec` is never used or dropped again.
        let data = unsafe { Vec::from_raw_parts(ptr as *mut AtomicU64, len, cap) };
        Self::with_data(data, dim, half)
    }

    /// [`HogwildMatrix::into_vec`] that leaves the pages of all-zero rows untouched (not
    /// resident) in the result, puts its first `huge_rows` rows on huge pages, and copies
    /// each ~8 MB stretch (from the end, releasing it after) in parallel on the current
    /// rayon pool.
    pub fn into_vec_lazy(mut self, huge_rows: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let (rows, dim, half) = (self.rows(), self.dim, self.half);
        // Shrinking may move the buffer off its 16-byte alignment.
        self.wide = false;
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
        assert_eq!(wide.padded_dim(), 16);
        let mut buf = vec![9.0f32; 16];
        wide.load_row(1, &mut buf);
        assert_eq!(&buf[..13], &vals[13..]);
        assert_eq!(&buf[13..], &[0.0; 3]);
        buf[0] = 42.0;
        wide.store_row(0, &buf);
        #[cfg(target_arch = "x86_64")]
        {
            let mut y = vec![0.0f32; 16];
            wide.load_row_avx(0, &mut y);
            assert_eq!(y, buf);
        }
        let mut back = vec![0.0f32; 16];
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
        let x = [1.0, -2.0, 0.5, 4.0, 3.0, 0.0, 0.0, 0.0];
        let mut row = [0.0f32; 8];
        m.load_row(2, &mut row);
        let want: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
        assert!((m.dot_row(2, &x) - want).abs() < 1e-5);
        let mut acc = [1.0f32; 8];
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
