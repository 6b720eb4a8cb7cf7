"""ferrotext vs scikit-learn text vectorizers on all 18,846 20 Newsgroups posts.

Usage:  python benchmarks/bench_vectorizers.py [--configs NAME ...] [--repeat N] [--no-memory]

Timing: both libraries run in THIS process on the same list of documents, alternately, best of
``--repeat`` runs (wall clock, ``time.perf_counter``). Outputs are checked for equality.

Memory: Rust allocations are invisible to tracemalloc, so each (library, config) pair is re-run
in a fresh subprocess that loads the data, resets the kernel's peak-RSS mark (``VmHWM``, by
writing 5 to ``/proc/self/clear_refs``), runs ``fit_transform`` once and reads ``VmHWM``; the
reported figure is peak RSS during ``fit_transform`` minus RSS before it (result matrix
included). Without /proc it falls back to ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` deltas.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _split(s):
    return s.split()


CONFIGS = {
    "tfidf_default": ("TfidfVectorizer", {}),
    "tfidf_bigram_min_df2_sublinear": (
        "TfidfVectorizer",
        {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True},
    ),
    "tfidf_char_wb_2_4": ("TfidfVectorizer", {"analyzer": "char_wb", "ngram_range": (2, 4)}),
    "count_callable_tokenizer": ("CountVectorizer", {"tokenizer": _split, "token_pattern": None}),
    "count_callable_analyzer": ("CountVectorizer", {"analyzer": _split}),
    "hashing_default": ("HashingVectorizer", {}),
}


def find_data() -> Path:
    env = os.environ.get("FERROTEXT_SHARED_DATA")
    if env:
        return Path(env) / "20newsgroups"
    for parent in Path(__file__).resolve().parents:
        cand = parent / "shared" / "data" / "20newsgroups"
        if cand.is_dir():
            return cand
    sys.exit("20 Newsgroups data not found; set FERROTEXT_SHARED_DATA")


def load_docs() -> list[str]:
    root = find_data()
    docs = []
    for part in ("train", "test"):
        with gzip.open(root / f"20news-bydate-{part}.jsonl.gz", "rt", encoding="utf-8") as fh:
            docs.extend(json.loads(line)["text"] for line in fh)
    return docs


def make(lib: str, config: str):
    cls_name, params = CONFIGS[config]
    if lib == "sklearn":
        from sklearn.feature_extraction import text as mod
    else:
        from ferrotext import feature_extraction as mod
    return getattr(mod, cls_name)(**params)


def run_once(lib, config, docs):
    est = make(lib, config)
    start = time.perf_counter()
    X = est.fit_transform(docs)
    return time.perf_counter() - start, X


def _status_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def mem_child(lib, config):
    docs = load_docs()
    # warm imports and the one-time Unicode table scan outside the measurement
    make(lib, config).fit_transform(docs[:50])
    import gc

    gc.collect()
    try:
        # Linux: writing 5 resets the peak-RSS high-water mark (VmHWM) to the current RSS.
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _status_kib("VmRSS")
        _, X = run_once(lib, config, docs)
        after = _status_kib("VmHWM")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _, X = run_once(lib, config, docs)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"delta_kib": after - before, "nnz": int(X.nnz)}))


def measure_memory(lib, config):
    out = subprocess.run(
        [sys.executable, __file__, "--mem-child", lib, config],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["delta_kib"] / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--mem-child", nargs=2, metavar=("LIB", "CONFIG"))
    args = ap.parse_args()
    if args.mem_child:
        mem_child(*args.mem_child)
        return

    import numpy as np

    docs = load_docs()
    print(f"20 Newsgroups: {len(docs)} posts, {sum(map(len, docs)) / 1e6:.1f} M characters, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    # one-time costs (imports, Unicode table scan) outside the timings, for both libraries
    for lib in ("sklearn", "ferrotext"):
        make(lib, "tfidf_default").fit_transform(docs[:50])
    header = f"{'config':34s} {'sklearn s':>10s} {'ferrotext s':>12s} {'speedup':>8s}"
    if not args.no_memory:
        header += f" {'sk peak MiB':>12s} {'ft peak MiB':>12s}"
    print(header)
    for config in args.configs:
        best = {"sklearn": float("inf"), "ferrotext": float("inf")}
        mats = {}
        for _ in range(args.repeat):
            for lib in ("sklearn", "ferrotext"):
                t, X = run_once(lib, config, docs)
                best[lib] = min(best[lib], t)
                mats[lib] = X
        a, b = mats["ferrotext"], mats["sklearn"]
        same = (
            a.shape == b.shape
            and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices)
            and np.allclose(a.data, b.data, rtol=1e-12, atol=0)
        )
        mats.clear()
        line = (f"{config:34s} {best['sklearn']:10.2f} {best['ferrotext']:12.2f} "
                f"{best['sklearn'] / best['ferrotext']:7.1f}x")
        if not args.no_memory:
            line += f" {measure_memory('sklearn', config):12.0f} {measure_memory('ferrotext', config):12.0f}"
        print(line + ("" if same else "   OUTPUT DIFFERS"), flush=True)


if __name__ == "__main__":
    main()
