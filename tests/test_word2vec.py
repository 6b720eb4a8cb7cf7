"""Word2Vec: behaviour, parity with gensim (behavioural, never bitwise), sklearn API, runtime."""

from __future__ import annotations

import _thread
import gzip
import itertools
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from conftest import shared_path
from ferrotext import KeyedVectors, Word2Vec

CORPUS = ("english_corpus", "enwiki2014_13M_text8style.txt.gz")


def _lines(n_lines):
    with gzip.open(shared_path(*CORPUS), "rt", encoding="utf-8") as fh:
        return [line.split() for line in itertools.islice(fh, n_lines)]


@pytest.fixture(scope="module")
def small_corpus():
    """About 0.3M tokens of English Wikipedia."""
    return _lines(8000)


@pytest.fixture(scope="module")
def medium_corpus():
    """About 1M tokens of English Wikipedia."""
    return _lines(26000)


TOY = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "the", "log"]] * 30


def _fast(**kw):
    params = dict(vector_size=16, min_count=1, epochs=2, n_jobs=1, random_state=0)
    params.update(kw)
    return Word2Vec(**params)


# ---------------------------------------------------------------- parity with gensim
def _scores(kv):
    analogy = kv.evaluate_word_analogies(shared_path("eval", "questions-words.txt"), restrict_vocab=30000)[0]
    ws = kv.evaluate_word_pairs(shared_path("eval", "wordsim353.tsv"))[1].statistic
    return analogy, ws


@pytest.mark.parametrize("architecture", ["cbow", "skipgram"])
def test_quality_matches_gensim(medium_corpus, small_corpus, architecture):
    gensim = pytest.importorskip("gensim")
    corpus = medium_corpus if architecture == "cbow" else small_corpus
    common = dict(vector_size=50, window=5, min_count=5, sample=1e-3, negative=5, epochs=3)
    ours = Word2Vec(architecture=architecture, n_jobs=2, random_state=1, **common).fit(corpus)
    theirs = gensim.models.Word2Vec(corpus, sg=int(architecture == "skipgram"), workers=2, seed=1, **common)
    assert set(ours.wv.index_to_key) == set(theirs.wv.index_to_key)
    ours_an, ours_ws = _scores(ours.wv)
    gen_an, gen_ws = _scores(KeyedVectors.from_gensim(theirs.wv))
    # Same algorithm, different random streams: scores agree within run-to-run noise.
    assert ours_ws > gen_ws - 0.1, (ours_ws, gen_ws)
    assert ours_an > gen_an - 0.03, (ours_an, gen_an)
    assert ours_ws > 0.05
    print(f"{architecture}: ferrotext analogy {ours_an:.4f} ws353 {ours_ws:.3f} | gensim {gen_an:.4f} {gen_ws:.3f}")


def test_hierarchical_softmax_learns(small_corpus):
    model = Word2Vec(vector_size=32, loss="hierarchical_softmax", n_jobs=2, random_state=0, epochs=3).fit(small_corpus)
    assert model.training_loss_[-1] < model.training_loss_[0]
    assert model.syn1_.shape == model.wv.vectors.shape
    assert model.wv.evaluate_word_pairs(shared_path("eval", "wordsim353.tsv"))[1].statistic > 0.1


@pytest.mark.parametrize("architecture", ["cbow", "skipgram"])
def test_loss_decreases(small_corpus, architecture):
    model = Word2Vec(vector_size=32, architecture=architecture, epochs=4, n_jobs=2, random_state=0).fit(small_corpus)
    loss = model.training_loss_
    assert loss.shape == (4,)
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]


# ---------------------------------------------------------------- reproducibility
def test_one_thread_seed_is_bit_identical(small_corpus):
    corpus = small_corpus[:2000]
    a = Word2Vec(vector_size=20, n_jobs=1, random_state=7, epochs=2).fit(corpus).wv.vectors
    b = Word2Vec(vector_size=20, n_jobs=1, random_state=7, epochs=2).fit(corpus).wv.vectors
    c = Word2Vec(vector_size=20, n_jobs=1, random_state=8, epochs=2).fit(corpus).wv.vectors
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


_CHILD = """
import gzip, itertools, sys, hashlib
from ferrotext import Word2Vec
with gzip.open(sys.argv[1], "rt") as fh:
    corpus = [l.split() for l in itertools.islice(fh, 1500)]
m = Word2Vec(vector_size=20, n_jobs=1, random_state=3, epochs=2, architecture="skipgram").fit(corpus)
print(hashlib.sha256(m.wv.vectors.tobytes()).hexdigest())
"""


def test_reproducible_across_processes():
    path = str(shared_path(*CORPUS))
    out = [subprocess.run([sys.executable, "-c", _CHILD, path], capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert out[0] == out[1] and len(out[0].strip()) == 64


# ---------------------------------------------------------------- corpus forms
def _tiny_file(tmp_path, name="c.txt", lines=None):
    lines = lines or [" ".join(s) for s in TOY]
    p = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(p, "wt") as fh:
            fh.write("\n".join(lines) + "\n")
    else:
        p.write_text("\n".join(lines) + "\n")
    return p


def test_every_corpus_form_gives_the_same_model(tmp_path):
    ref = _fast().fit(TOY)
    strings = [" ".join(s) for s in TOY]
    p = _tiny_file(tmp_path)
    pgz = _tiny_file(tmp_path, "c.txt.gz")
    half = len(TOY) // 2
    p1 = _tiny_file(tmp_path, "a.txt", [" ".join(s) for s in TOY[:half]])
    p2 = _tiny_file(tmp_path, "b.txt", [" ".join(s) for s in TOY[half:]])

    class Reiterable:
        def __iter__(self):
            return iter(TOY)

    forms = [strings, tuple(TOY), Reiterable(), (s for s in TOY), str(p), p, pgz, [p1, p2]]
    for form in forms:
        got = _fast().fit(form)
        assert got.wv.index_to_key == ref.wv.index_to_key
        np.testing.assert_array_equal(got.wv.vectors, ref.wv.vectors, err_msg=repr(form))


def test_tokenizer_is_used():
    model = _fast(tokenizer=lambda s: s.lower().split(",")).fit(["A,b,c", "a,B,d"] * 5)
    assert set(model.wv.index_to_key) == {"a", "b", "c", "d"}


def test_generator_trains_every_epoch():
    gen_model = _fast(epochs=3).fit(s for s in TOY)
    list_model = _fast(epochs=3).fit(TOY)
    np.testing.assert_array_equal(gen_model.wv.vectors, list_model.wv.vectors)
    assert gen_model.training_loss_.shape == (3,) and np.all(gen_model.training_loss_ > 0)


def test_long_sentence_is_not_truncated():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.integers(0, 50, size=25_000)]
    words[-1] = "lastword"
    model = _fast(min_count=1, sample=0).fit([words])
    assert "lastword" in model.wv


def test_min_count_max_final_vocab_and_order():
    corpus = [["a"] * 9 + ["b"] * 5 + ["c"] * 3 + ["d"] * 1]
    m = _fast(min_count=2).fit(corpus)
    assert m.wv.index_to_key == ["a", "b", "c"]
    assert m.wv.counts.tolist() == [9, 5, 3]
    m = _fast(min_count=1, max_final_vocab=2).fit(corpus)
    assert m.wv.index_to_key == ["a", "b"]


def test_partial_fit_adds_words_and_keeps_old(small_corpus):
    model = _fast(min_count=1).fit(TOY)
    before = model.wv["cat"].copy()
    extra = [["the", "bird", "flew", "over", "the", "mat"]] * 10
    assert model.partial_fit(extra) is model
    assert "bird" in model.wv and "cat" in model.wv
    assert model.wv.vectors.shape[0] == len(model.wv.index_to_key)
    assert model.wv.counts[model.wv.key_to_index["the"]] == 60 * 2 + 20
    assert np.array_equal(model.wv["cat"], before)  # cat did not occur in the new corpus
    assert not np.array_equal(model.wv["mat"], _fast(min_count=1).fit(TOY).wv["mat"])
    fresh = _fast(min_count=1)
    fresh.partial_fit(TOY)  # first partial_fit == fit
    np.testing.assert_array_equal(fresh.wv.vectors, _fast(min_count=1).fit(TOY).wv.vectors)


def test_transform_is_mean_of_known_words():
    model = _fast().fit(TOY)
    out = model.transform([["cat", "dog", "zebra"], ["zebra"], "cat mat"])
    assert out.shape == (3, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], (model.wv["cat"] + model.wv["dog"]) / 2, rtol=1e-6)
    assert not out[1].any()
    np.testing.assert_allclose(out[2], (model.wv["cat"] + model.wv["mat"]) / 2, rtol=1e-6)


# ---------------------------------------------------------------- sklearn API
def test_init_stores_params_only_and_fit_returns_self():
    m = Word2Vec(vector_size=-3, window=0)
    assert m.vector_size == -3 and not hasattr(m, "wv")
    m2 = _fast()
    assert m2.fit(TOY) is m2
    assert clone(m2).get_params() == m2.get_params() and not hasattr(clone(m2), "wv")


def test_pipeline_gridsearch_and_pickle():
    docs = ["good great fine nice", "bad awful poor terrible"] * 20
    y = [1, 0] * 20
    pipe = make_pipeline(_fast(min_count=1, epochs=3), LogisticRegression())
    search = GridSearchCV(pipe, {"word2vec__vector_size": [8, 12]}, cv=2).fit(docs, y)
    assert search.best_estimator_.predict(docs).shape == (40,)
    model = _fast().fit(TOY)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(again.transform(TOY[:2]), model.transform(TOY[:2]))
    assert again.wv.most_similar("cat", topn=2) == model.wv.most_similar("cat", topn=2)


def test_transform_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Word2Vec().transform([["a"]])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs",
    [dict(vector_size=0), dict(window=0), dict(min_count=0), dict(architecture="sg"), dict(loss="softmax"),
     dict(epochs=0), dict(alpha=0.0), dict(sample=-1.0)],
)
def test_bad_params(kwargs):
    with pytest.raises(ValueError):
        _fast(**kwargs).fit(TOY)


def test_bad_corpora(tmp_path):
    with pytest.raises(ValueError, match="empty corpus"):
        _fast().fit([])
    with pytest.raises(ValueError, match="empty corpus"):
        _fast().fit([[], []])
    with pytest.raises(ValueError, match="min_count=5"):
        _fast(min_count=5).fit([["a", "b", "c"]])
    with pytest.raises(TypeError, match="int"):
        _fast().fit([["a", 3, "b"]])
    # None must not slip through as a vocabulary entry (it did: None doubled as "no bad token").
    with pytest.raises(TypeError, match="NoneType"):
        _fast().fit([["aa", None, "bb"]] * 3)
    with pytest.raises(TypeError):
        _fast().fit([["a"], 5])
    with pytest.raises(ValueError, match="no such file"):
        _fast().fit(tmp_path / "missing.txt")
    # A str is a path; a text passed by mistake gets a hint, not just "not found".
    with pytest.raises(ValueError, match="list of sentences"):
        _fast().fit("the quick brown fox jumps over the lazy dog")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok words\n\xff\xfe broken\n")
    with pytest.raises(ValueError, match="UTF-8"):
        _fast().fit(bad)
    with pytest.raises(ValueError, match="negative"):
        _fast(negative=0).fit(TOY)


def test_missing_query_word_raises_keyerror_naming_it():
    model = _fast().fit(TOY)
    with pytest.raises(KeyError, match="zebra"):
        model.wv["zebra"]
    with pytest.raises(KeyError, match="zebra"):
        model.wv.most_similar("zebra")


# ---------------------------------------------------------------- runtime
def test_verbose_reports_words_per_second(capsys, small_corpus):
    _fast(verbose=1).fit(small_corpus[:500])
    err = capsys.readouterr().err
    assert "words/s" in err


def test_verbose_reports_the_vocabulary_pass(capsys, small_corpus):
    sentences = small_corpus[:500]
    model = _fast(verbose=1).fit(sentences)
    err = capsys.readouterr().err
    n_words = sum(len(s) for s in sentences)
    assert err.index("counting words") < err.index("words/s")
    assert f"{n_words:,} words in {len(sentences):,} sentences" in err
    assert f"vocabulary {len(model.wv.index_to_key):,} words" in err
    _fast(verbose=0).fit(sentences)
    assert capsys.readouterr().err == ""


def test_gil_is_released_during_fit(small_corpus, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in small_corpus) + "\n")
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.perf_counter()
        Word2Vec(vector_size=50, architecture="skipgram", n_jobs=1, random_state=0, epochs=2).fit(path)
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    # A file corpus is counted and trained entirely in Rust: the ticking thread runs only if
    # the GIL is released meanwhile.
    assert end - start > 0.5
    assert len(during) >= 0.2 * (end - start) / 0.005


def test_ctrl_c_interrupts_fit(small_corpus):
    model = Word2Vec(vector_size=100, architecture="skipgram", epochs=500, n_jobs=1, random_state=0)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(small_corpus)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 0.5 + 2.0


# ---------------------------------------------------------------- plotting and CLI
@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_plot_embeddings_returns_axes(method):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ferrotext import plot_embeddings

    model = _fast().fit(TOY)
    fig, ax = plt.subplots()
    try:
        assert plot_embeddings(model.wv, ["cat", "dog", "mat", "log", "sat"], method=method, ax=ax) is ax
        assert len(ax.texts) == 5
        assert plot_embeddings(model) is not None  # default words, new figure
    finally:
        plt.close("all")
    with pytest.raises(KeyError, match="zebra"):
        plot_embeddings(model.wv, ["cat", "zebra"])
    with pytest.raises(ValueError):
        plot_embeddings(model.wv, ["cat", "dog"], method="umap")


def test_cli_word2vec_writes_word2vec_c_format(tmp_path, capsys):
    from ferrotext.cli import main

    corpus = _tiny_file(tmp_path)
    out = tmp_path / "vec.bin"
    argv = ["word2vec", "-train", str(corpus), "-output", str(out), "-size", "12", "-min-count", "1",
            "-binary", "1", "-cbow", "0", "-threads", "1", "-iter", "2", "-quiet"]
    assert main(argv) == 0
    kv = KeyedVectors.load_word2vec_format(out, binary=True)
    expected = Word2Vec(vector_size=12, min_count=1, architecture="skipgram", n_jobs=1, epochs=2, random_state=1).fit(corpus)
    assert kv.index_to_key == expected.wv.index_to_key
    np.testing.assert_array_equal(kv.vectors, expected.wv.vectors)
    assert main(["word2vec", "-input", str(corpus), "-output", str(tmp_path / "v.txt"), "-size", "8", "-min-count", "1", "-quiet"]) == 0
    assert (tmp_path / "v.txt").read_text().split("\n")[0] == f"{len(kv)} 8"
    capsys.readouterr()
    assert main(["word2vec", "-train", str(tmp_path / "missing.txt"), "-output", str(out), "-quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ferrotext: error:") and "missing.txt" in err[0]
    assert main(["word2vec", "-train", str(corpus), "-output", str(out), "-min-count", "1000", "-quiet"]) == 2
    assert "min_count" in capsys.readouterr().err


# ---------------------------------------------------------------- memory
_PEAK_RSS_CHILD = r"""
import resource, sys
from ferrotext import Word2Vec
Word2Vec(vector_size=8, window=2, min_count=1, sample=1e-4, negative=1, epochs=1, n_jobs=1,
         random_state=0).fit(sys.argv[1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and behaviour are Linux's")
def test_memory_stays_flat_when_the_corpus_file_doubles(tmp_path):
    # A file of 4M tokens and the same file twice. Streaming keeps one block of ~400k tokens
    # whatever the file size; holding the extra 4M tokens even as packed u32 ids would add
    # 16 MiB, a Python token list far more. Margin: 6 MiB for allocator and thread noise.
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(2000)])
    ids = np.minimum(rng.zipf(1.3, size=4_000_000), 2000) - 1
    lines = [" ".join(words[ids[k : k + 40]]) for k in range(0, len(ids), 40)]
    text = ("\n".join(lines) + "\n").encode()
    once, twice = tmp_path / "once.txt", tmp_path / "twice.txt"
    once.write_bytes(text)
    twice.write_bytes(text + text)

    def peak_kib(path):
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_CHILD, str(path)], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip().splitlines()[-1])

    small, large = peak_kib(once), peak_kib(twice)
    assert large - small < 6 * 1024, f"peak RSS {small} KiB -> {large} KiB for a doubled file"


@pytest.mark.parametrize("make", ["Word2Vec", "GloVe"])
def test_absurd_vector_size_raises_instead_of_aborting(make):
    # 10**12 once reached the allocator and aborted the interpreter
    import ferrotext

    est = getattr(ferrotext, make)(vector_size=10**12, min_count=1)
    with pytest.raises(ValueError, match="vector_size"):
        est.fit([["the", "cat", "sat"], ["the", "dog"]])


_MATRIX_PEAK_CHILD = r"""
import resource, sys
import numpy as np
from ferrotext import Word2Vec
n_words, dim = int(sys.argv[2]), int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m = Word2Vec(vector_size=dim, window=2, min_count=1, sample=0, negative=1, epochs=1, n_jobs=1,
             random_state=0).fit(sys.argv[1])
assert m.wv.vectors.shape == m.syn1neg_.shape == (n_words, dim)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and behaviour are Linux's")
def test_training_holds_two_matrices_not_four(tmp_path):
    # 100,000 words x 100 floats = 40 MB a matrix. fit lets Rust draw syn0 and zero syn1
    # straight into its training matrices and moves them out into the numpy results, so the
    # peak is syn0 + syn1 (+ the vocabulary); numpy copies next to the training matrices
    # (as before) made it four matrices, 160 MB.
    n_words, dim = 100_000, 100
    words = [f"w{i}" for i in range(n_words)]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.permutation(words)[:50_000]) for _ in range(4)]
    lines += [" ".join(words)]
    path = tmp_path / "wide.txt"
    path.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [sys.executable, "-c", _MATRIX_PEAK_CHILD, str(path), str(n_words), str(dim)],
        capture_output=True, text=True, check=True,
    )
    before, after = map(int, out.stdout.split())
    matrix_kib = n_words * dim * 4 / 1024
    assert after - before < 2.75 * matrix_kib, (before, after, matrix_kib)


def test_vocabulary_pass_returns_only_kept_words(tmp_path):
    from ferrotext import _core

    p = _tiny_file(tmp_path, lines=["a b a c", "a d b e"])
    words, counts, total, n_sent = _core.w2v_count_files([str(p)], None, 2, {"e"})
    assert (words, counts, total, n_sent) == (["a", "b", "e"], [3, 2, 1], 8, 2)
    assert _core.w2v_count_files([str(p)])[0] == ["a", "b", "c", "d", "e"]


def test_partial_fit_on_a_file_counts_known_words_below_min_count(tmp_path):
    model = _fast(min_count=2).fit(_tiny_file(tmp_path, "a.txt", ["x y x y z z"] * 3))
    before = dict(zip(model.wv.index_to_key, model.wv.counts.tolist()))
    # "x" occurs once in the new file (below min_count): still a known word whose count grows;
    # "new1" once: not kept; "new2" twice: joins.
    model.partial_fit(_tiny_file(tmp_path, "b.txt", ["x new1 new2 new2 y y"]))
    after = dict(zip(model.wv.index_to_key, model.wv.counts.tolist()))
    assert after == {**before, "x": before["x"] + 1, "y": before["y"] + 2, "new2": 2}


_LAZY_IMPORT_CHILD = r"""
import sys
import ferrotext
assert "sklearn" not in sys.modules, "import ferrotext loaded sklearn"
from ferrotext import Word2Vec
import sklearn.base
assert issubclass(Word2Vec, sklearn.base.BaseEstimator)
heavy = [m for m in ("sklearn.decomposition", "sklearn.feature_extraction", "ferrotext.fasttext") if m in sys.modules]
assert not heavy, heavy
ns = {}
exec("from ferrotext import *", ns)
missing = [n for n in ferrotext.__all__ if n not in ns]
assert not missing, missing
assert ferrotext.datasets.load_demo_corpus and "TruncatedSVD" in dir(ferrotext)
try:
    ferrotext.NoSuchThing
except AttributeError as e:
    assert "NoSuchThing" in str(e)
else:
    raise AssertionError("no AttributeError")
print("ok")
"""


def test_import_is_lazy_and_every_public_name_resolves():
    # `from ferrotext import Word2Vec` pays for sklearn.base only (sklearn.decomposition and
    # sklearn.feature_extraction cost ~11 MB RSS more), yet `import *` still gives every name.
    out = subprocess.run([sys.executable, "-c", _LAZY_IMPORT_CHILD], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
