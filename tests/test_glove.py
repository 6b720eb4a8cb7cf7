"""GloVe: glove.c's AdaGrad step by hand, training behaviour, input validation, the GloVe text
format (against gensim's reader and Stanford's test file), sklearn conformance, runtime."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import ferrotext
from ferrotext import GloVe, KeyedVectors, _core
from ferrotext._validation import seed_from_random_state
from conftest import shared_path
from runtime_checks import assert_gil_released, assert_interruptible


# gensim's no_header reader leaves its first file handle to the garbage collector.
gensim_leak = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning")


def block_matrix(v=20, seed=0):
    """Two groups of words that co-occur often within their group, rarely across."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(20, 60, size=(v, v))
    group = np.arange(v) < v // 2
    X[group[:, None] != group[None, :]] = rng.uniform(0.5, 1.5, size=(v, v))[group[:, None] != group[None, :]]
    X = (X + X.T) / 2
    return X, [f"w{i}" for i in range(v)]


def cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# ---------------------------------------------------------------------------------- the maths
def test_one_adagrad_step_on_a_2x2_matrix_matches_a_hand_computation():
    # Cells (0, 1) and (1, 0) touch disjoint rows (W0, W~1) and (W1, W~0), so one epoch is
    # one glove.c step per cell whatever the shuffle.
    X = np.array([[0.0, 3.0], [250.0, 0.0]])
    dim, eta, x_max, alpha = 3, 0.05, 100.0, 0.75
    model = GloVe(vector_size=dim, epochs=1, x_max=x_max, alpha=alpha, learning_rate=eta, n_jobs=1, random_state=7)
    model.fit_matrix(X, ["a", "b"])
    W, Wt, b, bt = (np.asarray(a, np.float64) for a in _core.glove_initial_parameters(2, dim, seed_from_random_state(7)))
    # glove.c initialises every value (vectors and biases) uniformly in [-0.5, 0.5) / dim.
    assert np.all(np.abs(np.concatenate([W.ravel(), Wt.ravel(), b, bt])) <= 0.5 / dim)
    costs = []
    for i, j in [(0, 1), (1, 0)]:
        x = X[i, j]
        diff = W[i] @ Wt[j] + b[i] + bt[j] - np.log(x)
        f = 1.0 if x > x_max else (x / x_max) ** alpha
        fdiff = f * diff
        costs.append(0.5 * fdiff * diff)
        g1 = np.clip(fdiff * Wt[j], -100, 100) * eta  # gradsq starts at 1: step = g / 1
        g2 = np.clip(fdiff * W[i], -100, 100) * eta
        W[i], Wt[j] = W[i] - g1, Wt[j] - g2
        b[i] -= fdiff  # no eta for the biases
        bt[j] -= fdiff
    np.testing.assert_allclose(model.W_, W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.W_tilde_, Wt, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.b_, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.b_tilde_, bt, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.loss_, [np.mean(costs)], rtol=1e-5)
    np.testing.assert_allclose(model.wv.vectors, W + Wt, rtol=1e-5, atol=1e-7)


def test_loss_decreases_and_groups_separate():
    X, vocab = block_matrix()
    model = GloVe(vector_size=10, epochs=40, x_max=10, n_jobs=1, random_state=0).fit_matrix(sp.coo_matrix(X), vocab)
    loss = model.loss_
    assert loss.shape == (40,)
    assert loss[-1] < 0.2 * loss[0]
    assert np.all(np.diff(loss[5:]) < 1e-6)
    within = np.mean([cos(model.wv["w0"], model.wv[f"w{k}"]) for k in range(1, 10)])
    across = np.mean([cos(model.wv["w0"], model.wv[f"w{k}"]) for k in range(10, 20)])
    assert within > across + 0.3, (within, across)


def test_one_thread_and_a_seed_are_bit_identical():
    X, vocab = block_matrix()
    a = GloVe(vector_size=8, epochs=5, n_jobs=1, random_state=3).fit_matrix(X, vocab)
    b = GloVe(vector_size=8, epochs=5, n_jobs=1, random_state=3).fit_matrix(X, vocab)
    c = GloVe(vector_size=8, epochs=5, n_jobs=1, random_state=4).fit_matrix(X, vocab)
    assert np.array_equal(a.wv.vectors, b.wv.vectors) and np.array_equal(a.b_, b.b_)
    assert np.array_equal(a.loss_, b.loss_)
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)


def test_several_threads_train_as_well():
    X, vocab = block_matrix(40)
    one = GloVe(vector_size=8, epochs=30, x_max=10, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    two = GloVe(vector_size=8, epochs=30, x_max=10, n_jobs=2, random_state=0).fit_matrix(X, vocab)
    assert abs(two.loss_[-1] - one.loss_[-1]) < 0.2 * one.loss_[-1] + 1e-3


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dense", "int"])
def test_matrix_formats_give_the_same_vectors(fmt):
    X, vocab = block_matrix()
    ref = GloVe(vector_size=4, epochs=3, n_jobs=1, random_state=0).fit_matrix(sp.csr_matrix(X), vocab)
    given = {"csr": sp.csr_matrix(X), "csc": sp.csc_matrix(X), "coo": sp.coo_matrix(X), "dense": X, "int": X}[fmt]
    if fmt == "int":
        X = np.round(X)
        given = X.astype(np.int64)
        ref = GloVe(vector_size=4, epochs=3, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    got = GloVe(vector_size=4, epochs=3, n_jobs=1, random_state=0).fit_matrix(given, vocab)
    assert np.array_equal(ref.wv.vectors, got.wv.vectors)


def test_extreme_counts_stay_finite():
    # A naive float32 pipeline turns 1e300 into inf and log(1e-300) / x_max^alpha into
    # garbage; every parameter must stay finite.
    X = np.array([[1e300, 1e-300, 5.0], [1e-300, np.finfo(np.float64).max, 1e30], [5.0, 1e30, 1e-30]])
    model = GloVe(vector_size=5, epochs=50, x_max=10, n_jobs=1, random_state=0).fit_matrix(X, ["a", "b", "c"])
    for arr in (model.W_, model.W_tilde_, model.b_, model.b_tilde_, model.loss_, model.wv.vectors):
        assert np.all(np.isfinite(arr))
    big = GloVe(vector_size=5, epochs=20, learning_rate=1e6, n_jobs=1, random_state=0).fit_matrix(X, ["a", "b", "c"])
    assert np.all(np.isfinite(big.wv.vectors))


def test_explicit_zeros_are_not_trained_on():
    X, vocab = block_matrix()
    S = sp.csr_matrix(X)
    with_zeros = S.copy()
    with_zeros.data = with_zeros.data.copy()
    with_zeros.data[::3] = 0.0  # explicit zeros in the structure
    clean = with_zeros.copy()
    clean.eliminate_zeros()
    a = GloVe(vector_size=4, epochs=2, n_jobs=1, random_state=0).fit_matrix(with_zeros, vocab)
    b = GloVe(vector_size=4, epochs=2, n_jobs=1, random_state=0).fit_matrix(clean, vocab)
    assert a.n_cells_ == clean.nnz
    assert np.array_equal(a.wv.vectors, b.wv.vectors)


# ---------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "X, vocab, match",
    [
        (np.ones((2, 3)), ["a", "b"], "square"),
        (np.array([[1.0, -1.0], [1.0, 1.0]]), ["a", "b"], "negative"),
        (np.array([[1.0, np.nan], [1.0, 1.0]]), ["a", "b"], "NaN"),
        (np.array([[1.0, np.inf], [1.0, 1.0]]), ["a", "b"], "NaN or infinite"),
        (np.ones((2, 2)), ["a", "b", "c"], "vocabulary has 3 words"),
        (np.ones((2, 2)), ["a", "a"], "duplicate"),
        (np.zeros((0, 0)), [], "empty"),
        (np.zeros((3, 3)), ["a", "b", "c"], "no nonzero"),
        (sp.csr_matrix((3, 3)), ["a", "b", "c"], "no nonzero"),
        (None, ["a"], "None"),
        (np.ones(3), ["a", "b", "c"], "2-D"),
        (np.array([["a", "b"], ["c", "d"]]), ["a", "b"], "numeric"),
    ],
)
def test_fit_matrix_rejects_bad_input(X, vocab, match):
    with pytest.raises(ValueError, match=match):
        GloVe(n_jobs=1).fit_matrix(X, vocab)


def test_fit_matrix_rejects_bad_vocabulary_types():
    with pytest.raises(TypeError):
        GloVe(n_jobs=1).fit_matrix(np.ones((2, 2)), ["a", 3])
    with pytest.raises(ValueError, match="None"):
        GloVe(n_jobs=1).fit_matrix(np.ones((2, 2)), None)


@pytest.mark.parametrize("params", [{"x_max": 0}, {"x_max": -1.0}, {"learning_rate": 0}, {"epochs": 0}, {"vector_size": 0}, {"weighting": "linear"}])
def test_bad_parameters_raise_value_error(params):
    with pytest.raises(ValueError):
        GloVe(n_jobs=1, **params).fit_matrix(np.ones((2, 2)), ["a", "b"])


def test_fit_on_a_corpus_counts_then_trains():
    docs = ["i like deep learning", "i like nlp", "i enjoy flying"] * 20
    model = GloVe(vector_size=6, window=2, min_count=1, epochs=20, n_jobs=1, random_state=0).fit(docs)
    X, vocab = ferrotext.cooccurrence_matrix(docs, window=2, min_count=1, n_jobs=1)
    direct = GloVe(vector_size=6, window=2, min_count=1, epochs=20, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    assert model.vocabulary_ == list(vocab)
    assert np.array_equal(model.wv.vectors, direct.wv.vectors)
    assert model.loss_[-1] < model.loss_[0]


def test_empty_corpus_is_a_clear_error():
    with pytest.raises(ValueError):
        GloVe(n_jobs=1, min_count=1).fit([])
    with pytest.raises(ValueError):
        GloVe(n_jobs=1, min_count=1).fit([[], []])


# ---------------------------------------------------------------------------------- files
@gensim_leak
def test_glove_format_round_trip_and_gensim_reads_it(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    X, vocab = block_matrix()
    model = GloVe(vector_size=7, epochs=3, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    path = tmp_path / "vectors.txt"
    model.save_glove_format(path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(vocab) and lines[0].split(" ")[0] == "w0" and len(lines[0].split(" ")) == 8
    back = GloVe.load_glove_format(path)
    assert back.index_to_key == vocab
    assert np.array_equal(back.vectors, model.wv.vectors)  # shortest float32 repr reads back exactly
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), no_header=True)
    assert list(theirs.index_to_key) == vocab
    assert np.array_equal(theirs.vectors, model.wv.vectors)
    # word2vec formats through KeyedVectors
    for binary in (False, True):
        p = tmp_path / f"w2v{int(binary)}.bin"
        model.save_word2vec_format(p, binary=binary)
        kv = gensim_models.KeyedVectors.load_word2vec_format(str(p), binary=binary)
        np.testing.assert_array_equal(kv[vocab], model.wv.vectors)


def test_glove_format_unk_row_and_gz(tmp_path):
    X, vocab = block_matrix()
    model = GloVe(vector_size=3, epochs=2, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    path = tmp_path / "v.txt.gz"
    model.save_glove_format(path, write_unk=True)
    kv = ferrotext.load_glove_format(path)
    assert kv.index_to_key[-1] == "<unk>"
    np.testing.assert_allclose(kv["<unk>"], model.wv.vectors.astype(np.float64).mean(axis=0), rtol=1e-6)


@gensim_leak
def test_reading_stanfords_test_file_matches_gensim():
    gensim_models = pytest.importorskip("gensim.models")
    path = shared_path("models", "glove", "test_glove.txt")
    ours = GloVe.load_glove_format(path)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), no_header=True)
    assert ours.index_to_key == list(theirs.index_to_key)
    assert ours.vector_size == 50
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    a, b = ours.most_similar("the", topn=3), theirs.most_similar("the", topn=3)
    assert [w for w, _ in a] == [w for w, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=1e-5)


def test_reading_bad_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="values"):
        GloVe.load_glove_format(bad)
    bad.write_text("a 1 x 3\n")
    with pytest.raises(ValueError, match="not a number"):
        GloVe.load_glove_format(bad)
    bad.write_text("3 50\na 1 2\n")
    with pytest.raises(ValueError, match="header"):
        GloVe.load_glove_format(bad)
    bad.write_bytes(b"\xff\xfe 1 2\n")
    with pytest.raises(ValueError, match="utf8"):
        GloVe.load_glove_format(bad)
    bad.write_text("")
    with pytest.raises(ValueError, match="no vectors"):
        GloVe.load_glove_format(bad)
    with pytest.raises(ValueError, match="no such file"):
        GloVe.load_glove_format(tmp_path / "missing.txt")


def test_unwritable_words_are_refused(tmp_path):
    model = GloVe(vector_size=2, epochs=1, n_jobs=1, random_state=0).fit_matrix(np.ones((2, 2)), ["a b", "c"])
    with pytest.raises(ValueError, match="cannot be stored"):
        model.save_glove_format(tmp_path / "x.txt")


# ---------------------------------------------------------------------------------- sklearn
def test_transform_is_the_mean_of_known_word_vectors():
    X, vocab = block_matrix()
    model = GloVe(vector_size=4, epochs=2, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    out = model.transform([["w0", "w3", "nope"], "w5", [], "nope"])
    assert out.shape == (4, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], (model.wv["w0"] + model.wv["w3"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[1], model.wv["w5"])
    assert not out[2].any() and not out[3].any()
    assert list(model.get_feature_names_out())[:2] == ["glove0", "glove1"]
    with pytest.raises(TypeError):
        model.transform("w0 w1")


def test_pickle_clone_pipeline():
    X, vocab = block_matrix()
    model = GloVe(vector_size=4, epochs=40, x_max=10, n_jobs=1, random_state=0).fit_matrix(X, vocab)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.wv.vectors, model.wv.vectors) and np.array_equal(again.loss_, model.loss_)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "wv")
    docs = [["w0", "w1"], ["w12", "w15"], ["w2", "w3"], ["w11", "w19"]] * 5
    labels = [0, 1, 0, 1] * 5
    pipe = Pipeline([("glove", model), ("clf", LogisticRegression())])
    # Pipeline.fit would refit GloVe on the documents (a corpus); fit the classifier on
    # transformed features instead and check predictions through the pipeline.
    pipe.named_steps["clf"].fit(model.transform(docs), labels)
    assert pipe.predict(docs).tolist() == labels


def test_pipeline_fit_on_a_corpus():
    docs = ["cat sat on the mat", "dog sat on the log", "stocks fell on the news", "markets rose on news"] * 10
    labels = [0, 0, 1, 1] * 10
    pipe = Pipeline(
        [("glove", GloVe(vector_size=8, window=3, min_count=1, epochs=30, n_jobs=1, random_state=0)), ("clf", LogisticRegression())]
    )
    pipe.fit(docs, labels)
    assert pipe.score(docs, labels) >= 0.75


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GloVe().transform([["a"]])


# ---------------------------------------------------------------------------------- runtime
def _big():
    rng = np.random.default_rng(0)
    v, n = 5000, 400_000
    X = sp.csr_matrix((rng.uniform(1, 50, n), (rng.integers(0, v, n), rng.integers(0, v, n))), shape=(v, v))
    return X, [str(i) for i in range(v)]


def test_gil_is_released():
    X, vocab = _big()
    model = GloVe(vector_size=50, epochs=40, n_jobs=1, random_state=0)  # ~1 s, long enough to look inside
    assert_gil_released(lambda: model.fit_matrix(X, vocab))


def test_ctrl_c_interrupts_training():
    X, vocab = _big()
    model = GloVe(vector_size=50, epochs=500, n_jobs=2, random_state=0)
    assert_interruptible(lambda: model.fit_matrix(X, vocab))


def test_verbose_progress(capsys):
    X, vocab = block_matrix()
    GloVe(vector_size=4, epochs=3, n_jobs=1, random_state=0, verbose=2).fit_matrix(X, vocab)
    err = capsys.readouterr().err
    assert "iter: 003, cost:" in err and "cells/s" in err
