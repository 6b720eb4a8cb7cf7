"""Small helpers shared by every estimator: n_jobs and random_state resolution."""

from __future__ import annotations

import numbers
import os

import numpy as np


def resolve_n_jobs(n_jobs) -> int:
    """Number of worker threads for a call, following joblib's convention.

    None means all cores (ferrotext has no joblib backend to inherit from; sklearn estimators
    that lack ``n_jobs`` get the same default), -1 means all cores, -2 all but one, etc. Larger
    counts than ``ferrotext._core.MAX_THREADS`` run with that many threads.
    """
    n_cpus = os.cpu_count() or 1
    if n_jobs is None:
        return n_cpus
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be an int or None, got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive number")
    if n_jobs < 0:
        return max(1, n_cpus + 1 + int(n_jobs))
    # Capped like every Rust pool (8 threads per core, at least 32): n_jobs=100000 would
    # otherwise spend its time starting threads (and overflow the Rust usize for huge ints).
    from ferrotext._core import MAX_THREADS

    return min(int(n_jobs), MAX_THREADS)


def seed_from_random_state(random_state) -> int:
    """A 64-bit seed for the Rust RNG, drawn the way sklearn's check_random_state would."""
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    return int(rng.randint(0, np.iinfo(np.int32).max)) << 31 | int(rng.randint(0, np.iinfo(np.int32).max))
