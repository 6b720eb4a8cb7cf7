"""GloVe: ferrotext's whole run (counting + training) on the English corpus, with the settings
of Stanford's demo (min_count 5, window 15, vector size 50, x_max 10, 15 iterations, 2 threads).

The Stanford C tools (vocab_count, cooccur, shuffle, glove) cannot be installed on this machine,
so the ratios are against the figures issue 6 RECORDED for them on this kind of machine (not
measured here): 721 s in all = 74.1 s counting (vocab_count 2.6 + cooccur 31.8 + shuffle 39.7)
+ 647 s glove; analogy 0.237 (30,000 most frequent words), WordSim353 0.377, SimLex 0.173.

Reports: counting time (vocabulary + co-occurrence matrix), preparation (cells: log X, f(X),
shuffle), training time, total, peak RSS, analogy accuracy (restrict_vocab=30000) and
WordSim353 / SimLex-999 Spearman through KeyedVectors.evaluate_*.

    python benchmarks/bench_glove.py            # full 12.9M-token corpus
    python benchmarks/bench_glove.py --quick    # first 40,000 lines (~1.5M tokens)
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("FERROTEXT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
if not DATA.exists():
    DATA = Path("/work/shared/data")
CORPUS = DATA / "english_corpus" / "enwiki2014_13M_text8style.txt.gz"
EVAL = DATA / "eval"

# Recorded in issue 6 (Stanford GloVe C tool, double precision, 2 threads); not measured here.
RECORDED = dict(total=721.0, glove=647.0, counting=74.1, analogy=0.237, ws353=0.377, simlex=0.173)
SETTINGS = dict(vector_size=50, window=15, x_max=10, epochs=15, min_count=5, alpha=0.75, learning_rate=0.05)


def prefix_file(lines: int, directory: str) -> str:
    out = os.path.join(directory, f"prefix_{lines}.txt")
    with gzip.open(CORPUS, "rt", encoding="utf8") as fin, open(out, "w", encoding="utf8") as fout:
        for i, line in enumerate(fin):
            if i >= lines:
                break
            fout.write(line)
    return out


def evaluate(kv) -> dict:
    analogy, _ = kv.evaluate_word_analogies(str(EVAL / "questions-words.txt"), restrict_vocab=30000)
    ws = kv.evaluate_word_pairs(str(EVAL / "wordsim353.tsv"))[1].statistic
    sl = kv.evaluate_word_pairs(str(EVAL / "simlex999.txt"))[1].statistic
    return dict(analogy=float(analogy), ws353=float(ws), simlex=float(sl))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="first 40,000 lines only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", type=int, default=0, help="progress bar (1) and cost per epoch (2)")
    args = ap.parse_args()

    import numpy as np

    from ferrotext import GloVe, cooccurrence_matrix

    with tempfile.TemporaryDirectory() as tmp:
        path = prefix_file(40_000, tmp) if args.quick else str(CORPUS)
        model = GloVe(**SETTINGS, n_jobs=args.threads, random_state=args.seed, verbose=args.verbose)
        # Counting and training separately (what GloVe.fit does), timed in wall-clock seconds
        # and in CPU seconds of all threads: on a shared, loaded machine the CPU time / threads
        # is the better estimate of the wall time on an idle one.
        t0, c0 = time.perf_counter(), time.process_time()
        X, vocab = cooccurrence_matrix(
            path, window=SETTINGS["window"], min_count=SETTINGS["min_count"], n_jobs=args.threads
        )
        t1, c1 = time.perf_counter(), time.process_time()
        model.fit_matrix(X, vocab)
        t2, c2 = time.perf_counter(), time.process_time()
        del X
    total = t2 - t0
    counting = t1 - t0
    training = model.train_seconds_
    prep = t2 - t1 - training
    cpu_count, cpu_train = c1 - c0, c2 - c1
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    quality = evaluate(model.wv)
    load = os.getloadavg()

    print()
    print(f"corpus: {'first 40,000 lines of ' if args.quick else ''}{CORPUS.name}; settings {SETTINGS}, {args.threads} threads")
    print(f"vocabulary {len(model.vocabulary_):,} words, {model.n_cells_:,} nonzero cells")
    print(f"loss per epoch: {np.round(model.loss_, 5).tolist()}")
    print(f"counting (vocabulary + co-occurrence)   {counting:8.1f} s")
    print(f"cells (log X, f(X), shuffle)            {prep:8.1f} s")
    print(f"training ({SETTINGS['epochs']} epochs)                   {training:8.1f} s  "
          f"({model.n_cells_ * SETTINGS['epochs'] / max(training, 1e-9) / 1e6:.2f} M cells/s)")
    print(f"total                                   {total:8.1f} s")
    print(f"CPU seconds (all threads): counting {cpu_count:.1f}, cells + training {cpu_train:.1f}; "
          f"/ {args.threads} threads = {(cpu_count + cpu_train) / args.threads:.1f} s (idle-machine estimate of the total)")
    print(f"peak RSS                                {peak_gb:8.2f} GB")
    print(f"quality: analogy {quality['analogy']:.3f} (restrict_vocab=30000), "
          f"WordSim353 {quality['ws353']:.3f}, SimLex-999 {quality['simlex']:.3f}")
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    if args.quick:
        print("(--quick: a prefix; the recorded Stanford figures are for the full corpus, no ratios)")
        return 0
    print()
    print("Against the figures RECORDED in issue 6 for Stanford's C tool (not measured here):")
    r = RECORDED
    print(f"  total     {r['total']:7.1f} s / {total:7.1f} s = {r['total'] / total:5.2f}x faster   (target >= 3x)")
    print(f"  counting  {r['counting']:7.1f} s / {counting + prep:7.1f} s = {r['counting'] / (counting + prep):5.2f}x faster"
          "   (vocab_count+cooccur+shuffle vs counting+cells; target >= 3x)")
    print(f"  training  {r['glove']:7.1f} s / {training:7.1f} s = {r['glove'] / training:5.2f}x faster")
    est = (cpu_count + cpu_train) / args.threads
    print(f"  total, idle-machine estimate (CPU s / threads): {r['total']:.1f} s / {est:.1f} s = {r['total'] / est:5.2f}x faster")
    for key, name in (("analogy", "analogy"), ("ws353", "WordSim353"), ("simlex", "SimLex-999")):
        d = 100 * (quality[key] - r[key])
        print(f"  {name:11s} {quality[key]:.3f} vs {r[key]:.3f}: {d:+.1f} points   (target: within 1 point)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
