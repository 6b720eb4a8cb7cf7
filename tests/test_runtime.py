"""Runtime behaviour shared by every method: thread counts and Ctrl-C in a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
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


# ------------------------------------------------------------------------------ Ctrl-C
def _interrupt(script: str, marker: str, delay: float, timeout: float = 120.0):
    """Runs `script` in a fresh interpreter; once it prints `marker` on stdout waits `delay` s,
    sends SIGINT, and returns (seconds from SIGINT to the KeyboardInterrupt, or None if none
    came, return code, stderr). The time stops when the script's handler prints, not at exit
    (the interpreter's teardown is not the user's wait)."""
    script = (
        "import sys\ntry:\n"
        + textwrap.indent(textwrap.dedent(script), "    ")
        + "\nexcept KeyboardInterrupt:\n    print('KeyboardInterrupt', flush=True)\n    sys.exit(130)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        line = ""
        while marker not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert marker in line, proc.stderr.read()
        time.sleep(delay)
        assert proc.poll() is None, "the work finished before the interrupt: make it longer"
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - sent if line.strip() == "KeyboardInterrupt" else None
        proc.wait(timeout=60)
        return elapsed, proc.returncode, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    """~60 MB of text (10M tokens over 50,000 words): each pass before training takes a while."""
    path = tmp_path_factory.mktemp("corpus") / "big.txt"
    rng = np.random.default_rng(0)
    words = np.array([f"word{i}" for i in range(50_000)])
    with open(path, "w") as fh:
        for _ in range(100):
            ids = np.minimum(rng.zipf(1.2, 100_000), 50_000) - 1
            lines = words[ids].reshape(-1, 1000)
            fh.write("\n".join(" ".join(row) for row in lines) + "\n")
    return path


# Interrupts at several moments: counting the vocabulary, the token pass, the init, training.
@pytest.mark.parametrize("delay", [0.2, 0.8, 1.6, 3.0])
def test_ctrl_c_during_fasttext_skipgram_fit(big_corpus, delay):
    script = f"""
        from ferrotext import FastText
        print("start", flush=True)
        FastText(epochs=1000, min_count=1, n_jobs=2).fit({str(big_corpus)!r})
    """
    elapsed, code, err = _interrupt(script, "start", delay)
    assert elapsed is not None and code == 130, err
    assert elapsed < 1.5, f"KeyboardInterrupt came {elapsed:.2f} s after SIGINT"


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    """A fastText .bin with the default 2M buckets of dim 100: 800 MB, seconds to read."""
    path = tmp_path_factory.mktemp("model") / "big.bin"
    docs = _tiny_docs()
    ferrotext.FastText(vector_size=100, min_count=1, epochs=1, n_jobs=2, random_state=0).fit(docs).save(path)
    assert path.stat().st_size > 800_000_000
    return path


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_ctrl_c_while_loading_a_big_fasttext_model(big_model, delay):
    script = f"""
        import os
        from ferrotext import load_facebook_model
        # Out of the page cache, the read takes seconds as for a user's fresh file.
        fd = os.open({str(big_model)!r}, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        print("start", flush=True)
        for _ in range(100):
            load_facebook_model({str(big_model)!r})
    """
    elapsed, code, err = _interrupt(script, "start", delay)
    assert elapsed is not None and code == 130, err
    assert elapsed < 1.5, f"KeyboardInterrupt came {elapsed:.2f} s after SIGINT"
