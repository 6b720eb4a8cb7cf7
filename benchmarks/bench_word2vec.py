"""word2vec: ferrotext vs gensim (corpus_file mode), side by side.

Each (side, architecture) run is a fresh subprocess, so its peak RSS (ru_maxrss) is its own.
Settings: vector_size 100, window 5, min_count 5, negative 5, sample 1e-3, 5 epochs, 2 threads.
Reports training words/s (raw corpus tokens x epochs / training seconds), the ratio, analogy
accuracy on the 30,000 most frequent words, WordSim-353 and SimLex-999 Spearman, peak memory.

    python benchmarks/bench_word2vec.py --full --seeds 3   # full 12.9M-token corpus, 3 seeds
    python benchmarks/bench_word2vec.py --quick            # first 40,000 lines (~1.5M tokens)
    python benchmarks/bench_word2vec.py --full --configs skipgram-ns,cbow-ns

With --seeds N every (side, config) is trained N times (seeds 1..N, each in its own process);
a "mean" row averages words/s and the quality scores, and the ratio uses the mean words/s.
The load average (`uptime`) is printed before and after, as timings on a shared machine vary.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("FERROTEXT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
if not DATA.exists():
    DATA = Path("/work/shared/data")
CORPUS = DATA / "english_corpus" / "enwiki2014_13M_text8style.txt.gz"
EVAL = DATA / "eval"
CONFIGS = {
    "skipgram-ns": dict(architecture="skipgram", loss="negative"),
    "cbow-ns": dict(architecture="cbow", loss="negative"),
    "skipgram-hs": dict(architecture="skipgram", loss="hierarchical_softmax"),
    "cbow-hs": dict(architecture="cbow", loss="hierarchical_softmax"),
}
COMMON = dict(vector_size=100, window=5, min_count=5, sample=1e-3, negative=5, epochs=5)


def child(side: str, config: str, path: str, threads: int, seed: int) -> dict:
    cfg = CONFIGS[config]
    if side == "ferrotext":
        from ferrotext import Word2Vec

        t0 = time.perf_counter()
        model = Word2Vec(n_jobs=threads, random_state=seed, **COMMON, **cfg).fit(path)
        total = time.perf_counter() - t0
        kv = model.wv
        train_s = model.train_seconds_
        words = model.corpus_total_words_
    else:
        from gensim.models import Word2Vec as GW

        from ferrotext import KeyedVectors

        params = dict(COMMON)
        params.update(sg=int(cfg["architecture"] == "skipgram"), hs=int(cfg["loss"] != "negative"))
        if params["hs"]:
            params["negative"] = 0
        t0 = time.perf_counter()
        model = GW(workers=threads, seed=seed, **params)
        model.build_vocab(corpus_file=path)
        t1 = time.perf_counter()
        model.train(corpus_file=path, total_words=model.corpus_total_words, epochs=params["epochs"])
        total = time.perf_counter() - t0
        train_s = time.perf_counter() - t1
        words = model.corpus_total_words
        kv = KeyedVectors.from_gensim(model.wv)
    analogy = kv.evaluate_word_analogies(EVAL / "questions-words.txt", restrict_vocab=30000)[0]
    ws = kv.evaluate_word_pairs(EVAL / "wordsim353.tsv")[1].statistic
    sl = kv.evaluate_word_pairs(EVAL / "simlex999.txt")[1].statistic
    return dict(
        side=side, config=config, vocab=len(kv), train_s=train_s, total_s=total,
        words_per_s=words * COMMON["epochs"] / train_s, analogy=analogy, ws353=float(ws), simlex=float(sl),
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(config: str, label: str, r: dict) -> str:
    return (
        f"{config:<13}{label:<16}{r['vocab']:>8,}{r['train_s']:>9.1f}{r['words_per_s']:>12,.0f}"
        f"{r['analogy']:>9.4f}{r['ws353']:>8.3f}{r['simlex']:>8.3f}{r['peak_mb']:>9.0f}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="first 40,000 lines of the corpus only")
    size.add_argument("--full", action="store_true", help="the whole corpus (the default)")
    size.add_argument("--lines", type=int, default=None, help="first N lines of the corpus")
    ap.add_argument("--seeds", type=int, default=1, help="train each side N times (seeds 1..N) and average")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ",".join(CONFIGS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", nargs=4, metavar=("SIDE", "CONFIG", "PATH", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        side, config, path, seed = args.child
        print(json.dumps(child(side, config, path, args.threads, int(seed))))
        return 0
    configs = args.configs.split(",")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")
    lines = args.lines or (40_000 if args.quick else None)
    print(f"start: {_uptime()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "corpus.txt")
        n = 0
        with gzip.open(CORPUS, "rb") as src, open(path, "wb") as dst:
            for n, line in enumerate(src, 1):
                dst.write(line)
                if lines and n >= lines:
                    break
        print(
            f"corpus: {CORPUS.name}, {n:,} lines, {os.path.getsize(path) / 2**20:.1f} MiB; {COMMON}, "
            f"threads={args.threads}, seeds={args.seeds}"
        )
        print(f"{'config':<13}{'side':<16}{'vocab':>8}{'train s':>9}{'words/s':>12}{'analogy':>9}{'ws353':>8}{'simlex':>8}{'peak MB':>9}")
        keys = ("vocab", "train_s", "words_per_s", "analogy", "ws353", "simlex", "peak_mb")
        for config in configs:
            means = {}
            for side in ("ferrotext", "gensim"):
                runs = []
                for seed in range(1, args.seeds + 1):
                    out = subprocess.run(
                        [sys.executable, __file__, "--threads", str(args.threads), "--child", side, config, path, str(seed)],
                        capture_output=True, text=True,
                    )
                    if out.returncode != 0:
                        print(f"{config} {side} seed {seed} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                        continue
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    runs.append(r)
                    print(_row(config, f"{side} s{seed}", r), flush=True)
                if runs:
                    means[side] = {k: sum(r[k] for r in runs) / len(runs) for k in keys}
                    if args.seeds > 1:
                        print(_row(config, f"{side} mean{len(runs)}", means[side]), flush=True)
            if len(means) == 2:
                f, g = means["ferrotext"], means["gensim"]
                print(
                    f"{config:<13}ratio ferrotext/gensim words/s: {f['words_per_s'] / g['words_per_s']:.2f}x; "
                    f"quality difference (ferrotext - gensim): analogy {100 * (f['analogy'] - g['analogy']):+.2f} points, "
                    f"ws353 {100 * (f['ws353'] - g['ws353']):+.2f}, simlex {100 * (f['simlex'] - g['simlex']):+.2f}; "
                    f"peak MB {f['peak_mb']:.0f} vs {g['peak_mb']:.0f}",
                    flush=True,
                )
    print(f"end: {_uptime()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
