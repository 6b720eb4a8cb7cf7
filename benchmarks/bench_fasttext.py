"""ferrotext's fastText vs the `fasttext` pip package, side by side on the same data.

    python benchmarks/bench_fasttext.py                 # supervised IMDB + prediction + skip-gram
    python benchmarks/bench_fasttext.py --quick         # skip-gram on a 500k-token prefix
    python benchmarks/bench_fasttext.py --only supervised,predict --threads 2
    python benchmarks/bench_fasttext.py --seeds 3       # skip-gram quality: mean of 3 seeds

Each (task, side) runs in its own subprocess so that the peak memory (ru_maxrss) of each side
is measured alone; both sides see the same files, threads and settings. Printed: time of each
side, the speed ratio (fasttext time / ferrotext time), quality figures, peak RSS, and peak RSS
above the RSS right after importing the library (ferrotext's import of scikit-learn and scipy
alone takes ~130 MB more than the fasttext package's).

Tasks
- supervised: IMDB train (25,000 reviews), wordNgrams 2, 5 epochs -> test accuracy.
- predict: one model (trained once by the fasttext package, saved as .bin and loaded by both
  sides) predicts the 25,000 test reviews from Python in one batched call.
- skipgram: enwiki2014_13M_text8style (12.9M tokens), dim 100, 5 epochs -> analogy accuracy
  (top 30,000 words, questions-words.txt), WordSim353 and SimLex-999 Spearman, all through
  ferrotext.KeyedVectors' evaluate_* methods for both sides.
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

HERE = Path(__file__).resolve().parent


def shared_data() -> Path:
    env = os.environ.get("FERROTEXT_SHARED_DATA")
    if env:
        return Path(env)
    for parent in HERE.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    raise SystemExit("shared data not found (set FERROTEXT_SHARED_DATA)")


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux: VmHWM, which starts afresh at exec; ru_maxrss would
    carry over the peak of the forking parent (the parent that trained the model to predict
    with is over 1 GB)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------ child side


def read_labelled(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            label, text = line.rstrip("\n").split(" ", 1)
            labels.append(label)
            texts.append(text)
    return texts, labels


def child_supervised(side, a):
    texts, labels = read_labelled(a["test"])
    t0 = time.perf_counter()
    if side == "fasttext":
        import fasttext

        model = fasttext.train_supervised(a["train"], epoch=5, wordNgrams=2, thread=a["threads"], verbose=2)
        seconds = time.perf_counter() - t0
        pred = model.predict(texts)[0]
        acc = sum(p[0] == y for p, y in zip(pred, labels)) / len(labels)
    else:
        from ferrotext import FastTextClassifier

        clf = FastTextClassifier(epochs=5, word_ngrams=2, n_jobs=a["threads"], random_state=0).fit_file(a["train"])
        seconds = time.perf_counter() - t0
        pred = clf.predict(texts)
        acc = sum(p == y[len("__label__"):] for p, y in zip(pred, labels)) / len(labels)
    return {"seconds": seconds, "accuracy": acc}


def child_predict(side, a):
    texts, labels = read_labelled(a["test"])
    if side == "fasttext":
        import fasttext

        model = fasttext.load_model(a["model"])
        t0 = time.perf_counter()
        pred = model.predict(texts)[0]
        seconds = time.perf_counter() - t0
        acc = sum(p[0] == y for p, y in zip(pred, labels)) / len(labels)
    else:
        from ferrotext import load_facebook_model

        clf = load_facebook_model(a["model"], n_jobs=a["threads"])
        t0 = time.perf_counter()
        pred = clf.predict(texts)
        seconds = time.perf_counter() - t0
        acc = sum(p == y[len("__label__"):] for p, y in zip(pred, labels)) / len(labels)
    return {"seconds": seconds, "accuracy": acc}


def evaluate(kv, data):
    analogy, _ = kv.evaluate_word_analogies(data / "eval" / "questions-words.txt", restrict_vocab=30000)
    ws = kv.evaluate_word_pairs(data / "eval" / "wordsim353.tsv")[1].statistic
    sl = kv.evaluate_word_pairs(data / "eval" / "simlex999.txt")[1].statistic
    return {"analogy": analogy, "wordsim353": float(ws), "simlex999": float(sl)}


def child_skipgram(side, a):
    import numpy as np

    from ferrotext import KeyedVectors

    data = Path(a["data"])
    t0 = time.perf_counter()
    if side == "fasttext":
        from fasttext import FastText as F

        # train_unsupervised() does not pass `seed` on (only train_supervised does), so build
        # the package's argument object the way train_unsupervised does, with the seed set.
        args = dict(F.unsupervised_default, input=a["corpus"], model="skipgram", dim=100, epoch=5,
                    thread=a["threads"], verbose=2, seed=a["seed"])
        built = F._build_args(args, set(args))
        model = F._FastText(args=built)
        F.fasttext.train(model.f, built)
        model.set_args(model.f.getArgs())
        seconds = time.perf_counter() - t0
        words = model.get_words()
        kv = KeyedVectors(np.vstack([model.get_word_vector(w) for w in words]), words)
    else:
        from ferrotext import FastText

        model = FastText(architecture="skipgram", vector_size=100, epochs=5, n_jobs=a["threads"], random_state=a["seed"]).fit(a["corpus"])
        seconds = time.perf_counter() - t0
        kv = model.wv
    return {"seconds": seconds, **evaluate(kv, data)}


CHILDREN = {"supervised": child_supervised, "predict": child_predict, "skipgram": child_skipgram}


def run_child(task, side, payload):
    """One (task, side) in a fresh interpreter; its JSON result plus its peak RSS."""
    cmd = [sys.executable, __file__, "--child", task, side, json.dumps(payload)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:200]}
    found = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not found:
        return {"error": "no result printed"}
    return json.loads(found[-1][len("RESULT "):])


# ------------------------------------------------------------------------------ parent side


def gunzip_to(src: Path, dst: Path, max_lines=None):
    with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
        for i, line in enumerate(fin):
            if max_lines is not None and i >= max_lines:
                break
            fout.write(line)
    return dst


def report(task, results, metrics):
    ft, fe = results["fasttext"], results["ferrotext"]
    print(f"\n== {task}")
    for side, r in (("fasttext", ft), ("ferrotext", fe)):
        if "error" in r:
            print(f"  {side:9s}: FAILED ({r['error']})")
            continue
        extra = ", ".join(f"{m} {r[m]:.4f}" for m in metrics if m in r)
        print(f"  {side:9s}: {r['seconds']:8.2f} s, {extra}, peak RSS {r['peak_rss_mb']:.0f} MB"
              f" ({r['peak_rss_mb'] - r['import_rss_mb']:.0f} MB above the {r['import_rss_mb']:.0f} MB after import)")
    if "error" not in ft and "error" not in fe:
        work = (fe["peak_rss_mb"] - fe["import_rss_mb"]) / (ft["peak_rss_mb"] - ft["import_rss_mb"])
        print(f"  speed ratio (fasttext / ferrotext): {ft['seconds'] / fe['seconds']:.2f}x;"
              f" peak memory ratio (ferrotext / fasttext): {fe['peak_rss_mb'] / ft['peak_rss_mb']:.2f}"
              f" (above the import: {work:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--only", default="supervised,predict,skipgram", help="comma-separated tasks")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="skip-gram on a prefix (20,000 lines, ~750k tokens)")
    parser.add_argument("--seeds", type=int, default=1, help="skip-gram: mean over this many seeds")
    parser.add_argument("--sides", default="fasttext,ferrotext",
                        help="skip-gram: which sides to run (one side alone prints no ratio)")
    args = parser.parse_args()

    if args.child:
        task, side, payload = args.child
        # The library's import alone (ferrotext: scikit-learn, scipy; fasttext: numpy) is
        # measured first, so the work's own memory can be told apart from it.
        import numpy  # noqa: F401

        if side == "fasttext":
            import fasttext  # noqa: F401
        else:
            # `import ferrotext` alone is lazy; the fastText module pulls scikit-learn in.
            import ferrotext.fasttext  # noqa: F401
        import_rss = peak_rss_mb()
        result = CHILDREN[task](side, json.loads(payload))
        result["peak_rss_mb"] = peak_rss_mb()
        result["import_rss_mb"] = import_rss
        sys.stdout.flush()
        print("\nRESULT " + json.dumps(result), flush=True)
        return

    data = shared_data()
    tasks = args.only.split(",")
    print(f"load average: {os.getloadavg()}, threads: {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = gunzip_to(data / "classification" / "imdb" / "imdb.train.fasttext.txt.gz", tmp / "imdb.train.txt")
        test = gunzip_to(data / "classification" / "imdb" / "imdb.test.fasttext.txt.gz", tmp / "imdb.test.txt")
        common = {"train": str(train), "test": str(test), "threads": args.threads, "data": str(data)}
        if "supervised" in tasks:
            results = {side: run_child("supervised", side, common) for side in ("fasttext", "ferrotext")}
            report("supervised IMDB (wordNgrams 2, 5 epochs)", results, ["accuracy"])
        if "predict" in tasks:
            import fasttext

            model_path = tmp / "imdb.bin"
            fasttext.train_supervised(str(train), epoch=5, wordNgrams=2, thread=args.threads, verbose=0).save_model(str(model_path))
            results = {side: run_child("predict", side, {**common, "model": str(model_path)}) for side in ("fasttext", "ferrotext")}
            report("predict 25,000 IMDB test reviews (same .bin model, one batched call)", results, ["accuracy"])
        if "skipgram" in tasks:
            corpus = gunzip_to(
                data / "english_corpus" / "enwiki2014_13M_text8style.txt.gz", tmp / "corpus.txt",
                max_lines=20_000 if args.quick else None,
            )
            runs = {side: [] for side in args.sides.split(",")}
            for seed in range(args.seeds):
                for side in runs:
                    runs[side].append(run_child("skipgram", side, {**common, "corpus": str(corpus), "seed": seed}))
                    print(f"  skip-gram seed {seed} {side}: {json.dumps(runs[side][-1])}", flush=True)
            results = {"fasttext": {"error": "not run"}, "ferrotext": {"error": "not run"}}
            for side, rs in runs.items():
                ok = [r for r in rs if "error" not in r]
                if not ok:
                    results[side] = rs[0]
                    continue
                results[side] = {k: sum(r[k] for r in ok) / len(ok) for k in ok[0]}
                results[side]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
            what = "prefix of 20,000 lines" if args.quick else "12.9M tokens"
            report(f"skip-gram ({what}, dim 100, 5 epochs, mean of {args.seeds} seed(s))", results, ["analogy", "wordsim353", "simlex999"])
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
