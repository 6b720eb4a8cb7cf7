"""word2vec: ferrotext vs gensim (corpus_file mode), side by side.

Each (side, architecture) run is a fresh subprocess, so its peak RSS (ru_maxrss) is its own.
Settings: vector_size 100, window 5, min_count 5, negative 5, sample 1e-3, 5 epochs, 2 threads.
Reports training words/s (raw corpus tokens x epochs / training seconds), the ratio, analogy
accuracy on the 30,000 most frequent words, WordSim-353 and SimLex-999 Spearman, peak memory.

    python benchmarks/bench_word2vec.py            # full 12.9M-token English corpus
    python benchmarks/bench_word2vec.py --quick    # first 40,000 lines (~1.5M tokens)
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
}
COMMON = dict(vector_size=100, window=5, min_count=5, sample=1e-3, negative=5, epochs=5)


def child(side: str, config: str, path: str, threads: int) -> dict:
    cfg = CONFIGS[config]
    if side == "ferrotext":
        from ferrotext import Word2Vec

        t0 = time.perf_counter()
        model = Word2Vec(n_jobs=threads, random_state=1, **COMMON, **cfg).fit(path)
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
        model = GW(workers=threads, seed=1, **params)
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="first 40,000 lines of the corpus only")
    ap.add_argument("--lines", type=int, default=None, help="first N lines of the corpus")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ",".join(CONFIGS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", nargs=3, metavar=("SIDE", "CONFIG", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.threads)))
        return 0
    lines = args.lines or (40_000 if args.quick else None)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "corpus.txt")
        n = 0
        with gzip.open(CORPUS, "rb") as src, open(path, "wb") as dst:
            for n, line in enumerate(src, 1):
                dst.write(line)
                if lines and n >= lines:
                    break
        print(f"corpus: {CORPUS.name}, {n:,} lines, {os.path.getsize(path) / 2**20:.1f} MiB; {COMMON}, threads={args.threads}")
        header = f"{'config':<13}{'side':<11}{'vocab':>8}{'train s':>9}{'words/s':>12}{'analogy':>9}{'ws353':>8}{'simlex':>8}{'peak MB':>9}"
        print(header)
        for config in args.configs.split(","):
            res = {}
            for side in ("ferrotext", "gensim"):
                out = subprocess.run(
                    [sys.executable, __file__, "--threads", str(args.threads), "--child", side, config, path],
                    capture_output=True, text=True,
                )
                if out.returncode != 0:
                    print(f"{config} {side} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                r = res[side] = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"{config:<13}{side:<11}{r['vocab']:>8,}{r['train_s']:>9.1f}{r['words_per_s']:>12,.0f}"
                    f"{r['analogy']:>9.4f}{r['ws353']:>8.3f}{r['simlex']:>8.3f}{r['peak_mb']:>9.0f}",
                    flush=True,
                )
            if len(res) == 2:
                print(f"{config:<13}ratio ferrotext/gensim words/s: {res['ferrotext']['words_per_s'] / res['gensim']['words_per_s']:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
