//! Thread pools, cancellation and seeded randomness shared by every method.
//!
//! Long computations are cut into chunks of roughly 0.1 s. Between chunks the driver asks an
//! [`Interrupt`] whether the user pressed Ctrl-C; the Python binding answers by calling
//! `check_signals` on the main thread, tests pass [`NeverInterrupt`].

use crate::error::{Error, Result};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Asked between chunks of work whether to stop.
pub trait Interrupt: Sync {
    /// Returns `Err(Error::Cancelled)` (or another error) when work must stop.
    fn check(&self) -> Result<()>;
}

/// An [`Interrupt`] that never interrupts (Rust tests, benchmarks).
pub struct NeverInterrupt;

impl Interrupt for NeverInterrupt {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// Most threads one call starts: 8 per core, at least 32. More threads than that cannot make
/// anything faster, and starting 100,000 of them (`n_jobs=100000`) took long enough to look
/// like a hang.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_mul(8).max(32)
}

/// The number of workers a call runs with for `n_threads` requested: at least 1, at most
/// [`max_threads`].
pub fn effective_threads(n_threads: usize) -> usize {
    n_threads.clamp(1, max_threads())
}

/// Builds a rayon pool of [`effective_threads`]`(n_threads)` workers for one call. We never use
/// the global pool so that `n_jobs` is honoured and two callers never fight over one pool.
/// Callers that start one job per worker must count workers with `current_num_threads()`.
pub fn thread_pool(n_threads: usize) -> Result<rayon::ThreadPool> {
    let n = effective_threads(n_threads);
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| Error::InvalidParameter(format!("cannot start {n} threads: {e}")))
}

/// The RNG used everywhere. Streams are derived from (seed, stream id), never from thread ids,
/// so results with one thread are bit-for-bit reproducible.
pub type Rng = Xoshiro256PlusPlus;

/// A random generator for stream `stream` of seed `seed`.
pub fn rng_stream(seed: u64, stream: u64) -> Rng {
    // SplitMix-style mixing keeps nearby (seed, stream) pairs far apart.
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Rng::seed_from_u64(z)
}

/// Hands free heap memory back to the OS. glibc keeps freed small allocations resident: after
/// counting a corpus's distinct words (one `String` each) that is tens of MB, which would
/// otherwise stay in the peak RSS of the training that follows. A no-op off glibc.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and only returns free pages to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = rng_stream(7, 0).random();
        let b: u64 = rng_stream(7, 0).random();
        let c: u64 = rng_stream(7, 1).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn pool_has_requested_size() {
        let pool = thread_pool(2).unwrap();
        assert_eq!(pool.current_num_threads(), 2);
    }

    #[test]
    fn huge_thread_counts_are_capped() {
        let start = std::time::Instant::now();
        let pool = thread_pool(100_000).unwrap();
        assert_eq!(pool.current_num_threads(), max_threads());
        assert!(max_threads() >= 32);
        assert_eq!(effective_threads(usize::MAX), max_threads());
        assert_eq!(effective_threads(0), 1);
        assert!(start.elapsed().as_secs_f64() < 5.0);
    }
}
