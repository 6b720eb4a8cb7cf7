"""ferrotext vs scikit-learn topic models, side by side on 20 Newsgroups.

    python benchmarks/bench_topics.py [--quick] [--data /work/shared/data]

Data: all 18,846 posts (PLSA) or the 11,314 training posts with the 7,532 test posts held out
(LDA), CountVectorizer(stop_words="english", min_df=5, max_df=0.5) fitted on all posts.

* PLSA vs NMF(beta_loss="kullback-leibler", solver="mu"), which optimises the same objective,
  both from the same start (NMF init="custom"; PLSA's P(z|d), P(w|z) are the normalised W, H).
  Printed: seconds per iteration of each, and the wall time ferrotext needs to reach the
  log-likelihood sklearn reaches after its iterations (the pLSA log-likelihood of an NMF model
  is that of W @ H normalised per document).
* LatentDirichletAllocation, batch and online, K=20, same parameters on both sides
  (n_jobs=2 on both), training time, train bound_ and held-out perplexity.

Memory: every measurement runs in its own forked child process (the data is prepared once in
the parent). tracemalloc cannot see Rust's allocations, so we read the child's peak resident
set size (getrusage(RUSAGE_SELF).ru_maxrss at its end) and report it together with its growth
over the child's RSS when it started (which includes the inherited count matrix).
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def load_posts(data_dir: Path, split: str) -> list[str]:
    path = data_dir / "20newsgroups" / f"20news-bydate-{split}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(conn, fn, args):
    warnings.simplefilter("ignore")
    start = current_rss_mb()
    try:
        out = fn(*args)
        conn.send(("ok", out, rss_mb(), start))
    except BaseException as exc:  # report, never hang the parent
        conn.send(("error", repr(exc), rss_mb(), start))
    conn.close()


def in_child(fn, *args):
    """Run fn(*args) in a forked process; returns (result, peak RSS MB, RSS at start MB)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args))
    proc.start()
    status, out, peak, start = parent.recv()
    proc.join()
    if status != "ok":
        raise RuntimeError(out)
    return out, peak, start


# --------------------------------------------------------------------------------------------
# PLSA vs NMF-KL


def plsa_loglik(X, doc_topic, topic_word):
    X = sp.csr_matrix(X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    p = np.einsum("ij,ij->i", doc_topic[rows], topic_word.T[X.indices])
    return float(X.data @ np.log(p))


def nmf_loglik(X, W, H):
    hs = H.sum(axis=1)
    theta = W * hs
    theta /= theta.sum(axis=1, keepdims=True)
    return plsa_loglik(X, theta, H / hs[:, None])


def run_nmf(X, W0, H0, n_iter):
    from sklearn.decomposition import NMF

    t0 = time.perf_counter()
    nmf = NMF(W0.shape[1], init="custom", solver="mu", beta_loss="kullback-leibler",
              max_iter=n_iter, tol=0)
    W = nmf.fit_transform(X, W=W0.copy(), H=H0.copy())
    elapsed = time.perf_counter() - t0
    return elapsed, nmf_loglik(X, W, nmf.components_), nmf.n_iter_


def run_plsa(X, W0, H0, n_iter, n_jobs):
    from ferrotext import PLSA

    t0 = time.perf_counter()
    plsa = PLSA(W0.shape[1], max_iter=n_iter, tol=0, n_jobs=n_jobs)
    plsa.fit(X, W=W0 * H0.sum(axis=1), H=H0)
    elapsed = time.perf_counter() - t0
    return elapsed, plsa.log_likelihood_, plsa.n_iter_, plsa.log_likelihoods_


def bench_plsa(X, k, nmf_iter, n_jobs):
    print(f"\n== PLSA vs sklearn NMF(beta_loss='kullback-leibler', solver='mu'), K={k}, "
          f"X {X.shape[0]}x{X.shape[1]}, nnz={X.nnz}")
    rng = np.random.default_rng(0)
    avg = np.sqrt(X.mean() / k)
    W0 = avg * rng.random((X.shape[0], k)) + 1e-3
    H0 = avg * rng.random((k, X.shape[1])) + 1e-3
    (t_nmf, ll_nmf, it_nmf), peak_nmf, s_nmf = in_child(run_nmf, X, W0, H0, nmf_iter)
    # ferrotext runs up to 3x as many sweeps to find where it reaches sklearn's value.
    (t_p, ll_p, it_p, curve), peak_p, s_p = in_child(run_plsa, X, W0, H0, 3 * nmf_iter, n_jobs)
    per_nmf, per_p = t_nmf / it_nmf, t_p / (it_p + 1)  # +1: PLSA's final evaluation sweep
    print(f"  sklearn NMF-KL : {it_nmf} iterations in {t_nmf:8.2f} s = {per_nmf:.4f} s/iter, "
          f"log-likelihood {ll_nmf:.6e}, peak RSS {peak_nmf:.0f} MB (+{peak_nmf - s_nmf:.0f})")
    print(f"  ferrotext PLSA : {it_p} iterations in {t_p:8.2f} s = {per_p:.4f} s/iter, "
          f"log-likelihood {ll_p:.6e}, peak RSS {peak_p:.0f} MB (+{peak_p - s_p:.0f})")
    print(f"  per-iteration speed-up: {per_nmf / per_p:.1f}x")
    reach = int(np.argmax(curve >= ll_nmf)) if np.any(curve >= ll_nmf) else None
    if reach is None:
        print("  ferrotext did not reach sklearn's log-likelihood within 3x the iterations")
        return
    (t_r, ll_r, it_r, _), _, _ = in_child(run_plsa, X, W0, H0, reach, n_jobs)
    print(f"  time to sklearn's log-likelihood: ferrotext {t_r:.2f} s ({it_r} iterations, "
          f"log-likelihood {ll_r:.6e}) vs sklearn {t_nmf:.2f} s -> {t_nmf / t_r:.1f}x less "
          "wall time")


# --------------------------------------------------------------------------------------------
# LDA


def run_lda(cls_name, Xtr, Xte, params):
    if cls_name == "ferrotext":
        from ferrotext import LatentDirichletAllocation as cls
    else:
        from sklearn.decomposition import LatentDirichletAllocation as cls
    model = cls(**params)
    t0 = time.perf_counter()
    model.fit(Xtr)
    elapsed = time.perf_counter() - t0
    return elapsed, model.bound_, model.perplexity(Xte), model.components_


def bench_lda(Xtr, Xte, params):
    print(f"\n== LatentDirichletAllocation {params}")
    (t_f, b_f, p_f, c_f), peak_f, s_f = in_child(run_lda, "ferrotext", Xtr, Xte, params)
    (t_s, b_s, p_s, c_s), peak_s, s_s = in_child(run_lda, "sklearn", Xtr, Xte, params)
    from scipy.optimize import linear_sum_assignment

    a = c_f / np.linalg.norm(c_f, axis=1, keepdims=True)
    b = c_s / np.linalg.norm(c_s, axis=1, keepdims=True)
    sim = a @ b.T
    r, c = linear_sum_assignment(-sim)
    print(f"  sklearn   : fit {t_s:8.2f} s, train perplexity (bound_) {b_s:9.2f}, held-out "
          f"perplexity {p_s:9.2f}, peak RSS {peak_s:.0f} MB (+{peak_s - s_s:.0f})")
    print(f"  ferrotext : fit {t_f:8.2f} s, train perplexity (bound_) {b_f:9.2f}, held-out "
          f"perplexity {p_f:9.2f}, peak RSS {peak_f:.0f} MB (+{peak_f - s_f:.0f})")
    print(f"  speed-up {t_s / t_f:.1f}x; held-out perplexity ratio ferrotext/sklearn "
          f"{p_f / p_s:.4f}; matched topic cosine {sim[r, c].mean():.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("FERROTEXT_SHARED_DATA",
                                                     Path(__file__).resolve().parents[2]
                                                     / "shared" / "data"))
    ap.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--only", choices=["plsa", "lda"], default=None)
    args = ap.parse_args()
    data = Path(args.data)
    from sklearn.feature_extraction.text import CountVectorizer

    train, test = load_posts(data, "train"), load_posts(data, "test")
    cv = CountVectorizer(stop_words="english", min_df=5, max_df=0.5).fit(train + test)
    X_all = cv.transform(train + test).astype(np.float64)
    Xtr = cv.transform(train).astype(np.float64)
    Xte = cv.transform(test).astype(np.float64)
    print(f"20 Newsgroups: {X_all.shape[0]} posts, {X_all.shape[1]} terms; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if args.only in (None, "plsa"):
        bench_plsa(X_all, 20, 10 if args.quick else 50, args.n_jobs)
    if args.only in (None, "lda"):
        it = 2 if args.quick else 10
        for method in ("batch", "online"):
            bench_lda(Xtr, Xte, dict(n_components=20, learning_method=method, max_iter=it,
                                     random_state=0, n_jobs=args.n_jobs))


if __name__ == "__main__":
    main()
