"""sklearn vs ferrotext TruncatedSVD on the 20 Newsgroups TF-IDF matrix (n_components=100).

Run (numpy/OpenBLAS at full speed, see the env notes):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_svd.py

Each fit runs in its own fresh Python child process (``subprocess``, not ``fork``: forking a
process whose BLAS/rayon thread pools already ran can deadlock) that loads the matrix from a
temporary .npz, fits, and reports its time and its peak resident set size ``VmHWM`` from
/proc/self/status. (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is not usable here: Linux carries the
high-water mark of the pre-exec fork, i.e. of this parent, into the child.) RSS sees Rust and BLAS
allocations, which tracemalloc cannot. ``baseline`` is a child that
only imports and loads the matrix; ``+fit`` is the peak minus that baseline. Accuracy is the mean and max
relative error of the 100 singular values against a high-accuracy reference (ferrotext's
Lanczos with tol=0, cross-checked against scipy's svds).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("FERROTEXT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_texts() -> list[str]:
    files = sorted((DATA / "20newsgroups").glob("*.jsonl.gz"))
    if not files:
        files = sorted(Path("/work/shared/data/20newsgroups").glob("*.jsonl.gz"))
    texts = []
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    return texts


CHILD = r"""
import pickle, sys, time
import scipy.sparse as sp
X = sp.load_npz(sys.argv[1])
impl, alg, k = sys.argv[2], sys.argv[3], int(sys.argv[4])
if impl == "none":
    out = (None, 0.0)
else:
    if impl == "sklearn":
        from sklearn.decomposition import TruncatedSVD
    else:
        from ferrotext import TruncatedSVD
    t0 = time.perf_counter()
    s = TruncatedSVD(k, algorithm=alg, random_state=0).fit(X).singular_values_
    out = (s, time.perf_counter() - t0)
hwm = 0.0
with open("/proc/self/status") as fh:
    for line in fh:
        if line.startswith("VmHWM:"):
            hwm = float(line.split()[1]) / 1024.0
sys.stdout.buffer.write(pickle.dumps((*out, hwm)))
"""


def in_child_rss(path, impl, alg, k):
    """Fits in a fresh interpreter (not a fork: forking after thread pools were started can
    deadlock), returns (singular values, fit seconds, peak RSS MiB of that child)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), impl, alg, str(k)], stdout=subprocess.PIPE, check=True)
    s, dt, hwm = pickle.loads(proc.stdout)
    return s, dt, hwm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-components", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    k = args.n_components

    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_info

    import ferrotext
    from ferrotext import TruncatedSVD as FtSVD

    print(f"python {sys.version.split()[0]}, cores {os.cpu_count()}")
    print("OPENBLAS_CORETYPE =", os.environ.get("OPENBLAS_CORETYPE"), " OPENBLAS_L2_SIZE =", os.environ.get("OPENBLAS_L2_SIZE"))
    for info in threadpool_info():
        print("  threadpool:", {key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads")})

    texts = load_texts()
    t0 = time.perf_counter()
    X = TfidfVectorizer().fit_transform(texts)
    print(f"TF-IDF: {X.shape[0]} x {X.shape[1]}, nnz={X.nnz}, built in {time.perf_counter() - t0:.1f}s")

    # high-accuracy reference
    ref = FtSVD(k, algorithm="arpack", tol=0.0, random_state=0).fit(X).singular_values_
    from scipy.sparse.linalg import svds

    s_scipy = np.sort(svds(X, k=k, tol=0, random_state=0, return_singular_vectors=False))[::-1]
    print(f"reference check: max rel diff ferrotext-Lanczos vs scipy svds = {np.max(np.abs(ref - s_scipy) / s_scipy):.2e}")

    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / "X.npz"
    sp.save_npz(path, X)
    _, _, base_rss = in_child_rss(path, "none", "", k)
    print(f"baseline child peak RSS (interpreter + loaded matrix): {base_rss:.0f} MiB\n", flush=True)

    print(f"{'algorithm':<11}{'impl':<10}{'time s':>8}{'peak MiB':>10}{'+fit MiB':>10}{'mean rel err':>14}{'max rel err':>13}")
    for alg in ["randomized", "arpack"]:
        times = {}
        for name in ["sklearn", "ferrotext"]:
            best = None
            for _ in range(args.repeat):
                s, dt, rss = in_child_rss(path, name, alg, k)
                best = (s, dt, rss) if best is None or dt < best[1] else best
            s, dt, rss = best
            err = np.abs(s - ref) / ref
            times[name] = dt
            print(f"{alg:<11}{name:<10}{dt:>8.2f}{rss:>10.0f}{rss - base_rss:>10.0f}{err.mean():>14.2e}{err.max():>13.2e}")
        print(f"{alg:<11}speed-up sklearn/ferrotext: {times['sklearn'] / times['ferrotext']:.2f}x\n")
    print(f"ferrotext {ferrotext.__version__}")


if __name__ == "__main__":
    main()
