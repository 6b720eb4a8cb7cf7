"""GloVe co-occurrence counting: ferrotext.cooccurrence_matrix vs Stanford GloVe's C tools.

Counts the vocabulary and the co-occurrence matrix (ready to train) of the English text8-style
corpus with the GloVe demo settings (min_count 5, window 15, symmetric, harmonic weighting,
2 threads), and prints time, peak memory and the number of nonzero cells.

The Stanford C tools are not installed here and cannot be fetched, so the anchor side is the
figures recorded in issue 6 on this kind of machine for the same corpus and settings:
vocab_count 2.6 s + cooccur 31.8 s + shuffle 39.7 s = 74.1 s, 45.9M nonzero cells.

    python benchmarks/bench_cooccurrence.py            # full corpus
    python benchmarks/bench_cooccurrence.py --quick    # first 2M tokens, no ratio
"""

from __future__ import annotations

import argparse
import gzip
import os
import pathlib
import resource
import sys
import tempfile
import threading
import time

import psutil

import ferrotext

CORPUS = "english_corpus/enwiki2014_13M_text8style.txt.gz"
C_TOOL_SECONDS = {"vocab_count": 2.6, "cooccur": 31.8, "shuffle": 39.7}
C_TOOL_NNZ = 45.9e6


def find_data(rel):
    for base in [os.environ.get("FERROTEXT_SHARED"), "/work/shared/data",
                 pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"]:
        if base and (pathlib.Path(base) / rel).exists():
            return pathlib.Path(base) / rel
    sys.exit(f"cannot find {rel}; set FERROTEXT_SHARED to the shared data directory")


class PeakRss:
    """Samples this process's RSS every 10 ms (ru_maxrss is process-lifetime only)."""

    def __init__(self):
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="first 2M tokens only (smoke run, no ratio)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--memory-limit", default=None, help="e.g. 256MB: exercise the spill path")
    args = ap.parse_args()

    corpus = find_data(CORPUS)
    tmp = None
    if args.quick:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
        n = 0
        with gzip.open(corpus, "rt") as f:
            for line in f:
                tmp.write(line)
                n += len(line.split())
                if n >= 2_000_000:
                    break
        tmp.close()
        corpus = pathlib.Path(tmp.name)

    print(f"corpus: {corpus} (min_count 5, window 15, symmetric, harmonic, n_jobs {args.n_jobs}"
          f"{', memory_limit ' + args.memory_limit if args.memory_limit else ''})")
    print(f"load average before: {os.getloadavg()}")
    with PeakRss() as mem:
        t0 = time.perf_counter()
        X, vocab = ferrotext.cooccurrence_matrix(corpus, window=15, min_count=5, symmetric=True,
                                                 weighting="harmonic", n_jobs=args.n_jobs,
                                                 memory_limit=args.memory_limit)
        seconds = time.perf_counter() - t0
    print(f"load average after:  {os.getloadavg()}")
    print(f"vocabulary: {len(vocab):,} words; matrix {X.shape[0]:,} x {X.shape[1]:,}, nnz {X.nnz:,}")
    print(f"ferrotext counting (vocabulary + co-occurrence matrix, ready to train): {seconds:.2f} s")
    print(f"peak RSS during the call: {mem.peak / 2**20:,.0f} MiB "
          f"(+{(mem.peak - mem.base) / 2**20:,.0f} MiB over the process before it; "
          f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)")
    if tmp is not None:
        os.unlink(tmp.name)
        print("(--quick: no comparison with the full-corpus C figures)")
        return
    c_total = sum(C_TOOL_SECONDS.values())
    print("Stanford GloVe C tools: NOT run here (not installed, cannot be fetched); their times are the "
          "figures recorded in issue 6 on this kind of machine:")
    print("  " + " + ".join(f"{k} {v} s" for k, v in C_TOOL_SECONDS.items()) + f" = {c_total:.1f} s")
    print(f"ratio (recorded C time / ours): {c_total / seconds:.2f}x  (target >= 3x, i.e. <= {c_total / 3:.1f} s)")
    print(f"nonzero cells: ours {X.nnz:,} vs C tool {C_TOOL_NNZ / 1e6:.1f}M (recorded) "
          f"-> difference {100 * (X.nnz - C_TOOL_NNZ) / C_TOOL_NNZ:+.2f}% (the recorded figure has 3 digits)")


if __name__ == "__main__":
    main()
