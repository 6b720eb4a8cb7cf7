"""Runtime behaviour shared by every method: thread counts and Ctrl-C in a real process."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import ferrotext
from ferrotext import _core
from ferrotext._validation import resolve_n_jobs


# ------------------------------------------------------------------------------ thread counts
def test_resolve_n_jobs_caps_huge_counts_and_keeps_sklearn_meanings():
    cap = _core.MAX_THREADS
    n_cpus = os.cpu_count() or 1
    assert cap >= 32 and cap >= 8 * min(n_cpus, len(os.sched_getaffinity(0)))
    assert resolve_n_jobs(100_000) == cap
    assert resolve_n_jobs(10**30) == cap  # would not even fit a Rust usize
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(None) == n_cpus
    assert resolve_n_jobs(-1) == n_cpus
    assert resolve_n_jobs(-10_000) == 1
    with pytest.raises(ValueError):
        resolve_n_jobs(0)


def _tiny_docs():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    return [" ".join(rng.choice(words, 20)) for _ in range(200)]


def _fits():
    docs = _tiny_docs()
    tokens = [d.split() for d in docs]
    yield "Word2Vec", lambda n: ferrotext.Word2Vec(vector_size=8, min_count=1, epochs=1, n_jobs=n).fit(tokens)
    yield "FastText", lambda n: ferrotext.FastText(
        vector_size=8, min_count=1, bucket=1000, epochs=1, n_jobs=n
    ).fit(docs)
    yield "GloVe", lambda n: ferrotext.GloVe(vector_size=8, min_count=1, epochs=2, n_jobs=n).fit(tokens)
    yield "cooccurrence_matrix", lambda n: ferrotext.cooccurrence_matrix(docs, n_jobs=n)
    yield "TfidfVectorizer", lambda n: ferrotext.TfidfVectorizer(n_jobs=n).fit_transform(docs)
    yield "TruncatedSVD", lambda n: ferrotext.TruncatedSVD(3, n_jobs=n).fit(
        ferrotext.TfidfVectorizer().fit_transform(docs)
    )


@pytest.mark.parametrize("name", [name for name, _ in _fits()])
def test_huge_n_jobs_runs_promptly(name):
    fit = dict(_fits())[name]
    start = time.perf_counter()
    fit(100_000)
    # 100,000 threads took long enough to look like a hang; the capped pool starts at once.
    assert time.perf_counter() - start < 10.0
