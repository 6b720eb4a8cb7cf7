"""PLSA: EM invariants, fold-in, the sklearn API, and parity with sklearn's KL-NMF."""

from __future__ import annotations

import pickle
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from ferrotext import PLSA
from runtime_checks import assert_gil_released, assert_interruptible


@pytest.fixture(scope="module")
def counts():
    """A small synthetic count matrix drawn from a 3-topic pLSA model, with empty rows/cols."""
    rng = np.random.default_rng(0)
    n_docs, n_words, k = 80, 50, 3
    phi = rng.dirichlet(np.full(n_words, 0.1), size=k)
    theta = rng.dirichlet(np.full(k, 0.3), size=n_docs)
    lengths = rng.integers(20, 60, size=n_docs)
    X = np.vstack([rng.multinomial(n, t @ phi) for n, t in zip(lengths, theta)]).astype(float)
    X[5] = 0.0  # an empty document
    X[:, 7] = 0.0  # a word that never occurs
    return sp.csr_matrix(X)


@pytest.fixture(scope="module")
def news_counts(newsgroups_train):
    docs = [d["text"] for d in newsgroups_train[:1500]]
    return CountVectorizer(stop_words="english", min_df=3, max_df=0.5).fit_transform(docs)


def _loglik(X, doc_topic, topic_word):
    """sum n(d,w) log P(w|d), computed independently with numpy over the nonzeros."""
    X = sp.csr_matrix(X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    p = np.einsum("ij,ij->i", doc_topic[rows], topic_word.T[X.indices])
    return float(X.data @ np.log(p))


def _quiet_fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, **kw)


def test_em_is_monotone_and_distributions_are_normalised(counts):
    model = _quiet_fit(PLSA(n_components=3, max_iter=200, tol=0, random_state=0, n_jobs=1), counts)
    ll = model.log_likelihoods_
    assert len(ll) == model.n_iter_ + 1 == 201
    assert np.all(np.diff(ll) >= -1e-12 * np.abs(ll[:-1])), np.diff(ll).min()
    assert ll[-1] > ll[0]
    np.testing.assert_allclose(model.components_.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model.doc_topic_.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(model.components_ >= 0) and np.all(model.doc_topic_ >= 0)
    # The recorded log-likelihood is that of the returned parameters.
    np.testing.assert_allclose(
        model.log_likelihood_, _loglik(counts, model.doc_topic_, model.components_), rtol=1e-10
    )
    # The word absent from training gets no mass; the empty document stays uniform.
    assert np.all(model.components_[:, 7] == 0)
    np.testing.assert_allclose(model.doc_topic_[5], 1 / 3)


@pytest.mark.parametrize("k", [5, 37, 70])
def test_one_ecm_step_matches_numpy(k):
    """One ECM step against a dense numpy reference, for widths that take each kernel path:
    K=5 (2 vectors, constant), K=37 (10 vectors, run-time width), K=70 (over 16 vectors)."""
    rng = np.random.default_rng(k)
    X = rng.poisson(0.7, size=(40, 90)).astype(float)
    X[3] = 0.0
    W0 = rng.random((40, k)) + 0.1
    H0 = rng.random((k, 90)) + 0.1
    theta = W0 / W0.sum(axis=1, keepdims=True)
    theta[3] = 1.0 / k
    phi = H0 / H0.sum(axis=1, keepdims=True)
    ll0 = _loglik(X, theta, phi)
    # E+M for P(z|d) with P(w|z) fixed, then for P(w|z) with the new P(z|d).
    theta1 = theta * ((X / (theta @ phi)) @ phi.T)
    theta1[3] = theta[3]
    theta1[np.arange(40) != 3] /= theta1[np.arange(40) != 3].sum(axis=1, keepdims=True)
    phi1 = phi * (theta1.T @ (X / (theta1 @ phi)))
    phi1 /= phi1.sum(axis=1, keepdims=True)
    for n_jobs in (1, 2):
        model = _quiet_fit(PLSA(n_components=k, max_iter=1, tol=0, n_jobs=n_jobs), X, W=W0, H=H0)
        np.testing.assert_allclose(model.log_likelihoods_[0], ll0, rtol=1e-12)
        np.testing.assert_allclose(model.doc_topic_, theta1, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(model.components_, phi1, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(model.log_likelihood_, _loglik(X, theta1, phi1), rtol=1e-12)
        assert model.log_likelihood_ > ll0


def test_fit_transform_returns_training_doc_topics(counts):
    model = PLSA(n_components=3, tol=1e-6, max_iter=500, random_state=1, n_jobs=1)
    doc_topic = model.fit_transform(counts)
    np.testing.assert_array_equal(doc_topic, model.doc_topic_)


def test_converges_on_tol_and_warns_at_max_iter(counts):
    model = PLSA(n_components=3, tol=1e-4, max_iter=1000, random_state=0).fit(counts)
    assert model.n_iter_ < 1000
    ll = model.log_likelihoods_
    assert abs(ll[-2] - ll[-3]) <= 1e-4 * abs(ll[-3]) or abs(ll[-1] - ll[-2]) <= 1e-4 * abs(
        ll[-2]
    )
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        PLSA(n_components=3, tol=0, max_iter=3, random_state=0).fit(counts)


def test_input_formats_and_dtypes_agree(counts):
    ref = _quiet_fit(PLSA(n_components=3, max_iter=20, random_state=3, n_jobs=1), counts)
    dense = counts.toarray()
    for X in (counts.tocsc(), counts.tocoo(), dense, dense.astype(np.int64),
              counts.astype(np.float32), sp.csr_matrix(dense.astype(np.int32))):
        m = _quiet_fit(PLSA(n_components=3, max_iter=20, random_state=3, n_jobs=1), X)
        np.testing.assert_array_equal(m.components_, ref.components_)
        np.testing.assert_array_equal(m.log_likelihoods_, ref.log_likelihoods_)


def test_reproducible_bitwise_and_seed_matters(counts):
    kw = dict(n_components=3, max_iter=30, random_state=7)
    a = _quiet_fit(PLSA(**kw, n_jobs=1), counts)
    b = _quiet_fit(PLSA(**kw, n_jobs=1), counts)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.doc_topic_, b.doc_topic_)
    c = _quiet_fit(PLSA(**kw, n_jobs=2), counts)
    d = _quiet_fit(PLSA(**kw, n_jobs=2), counts)
    np.testing.assert_array_equal(c.components_, d.components_)
    np.testing.assert_allclose(c.components_, a.components_, rtol=1e-9, atol=1e-14)
    e = _quiet_fit(PLSA(n_components=3, max_iter=30, random_state=8, n_jobs=1), counts)
    assert not np.allclose(e.components_, a.components_)


def test_fold_in(counts):
    model = _quiet_fit(PLSA(n_components=3, max_iter=300, random_state=0), counts)
    theta = model.transform(counts)
    np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-12)
    # Fold-in maximises each document's likelihood with P(w|z) fixed, so it cannot do worse
    # than the P(z|d) that EM reached on the training documents.
    score = model.score(counts)
    assert score >= model.log_likelihood_ - 1e-9 * abs(model.log_likelihood_)
    np.testing.assert_allclose(score, _loglik(counts, theta, model.components_), rtol=1e-10)
    # It is a fixed point: one more EM step on P(z|d) changes nothing visible.
    X = counts.toarray()
    p = theta @ model.components_
    r = np.divide(X, p, out=np.zeros_like(X), where=X > 0)
    nonempty = X.sum(axis=1) > 0
    step = (theta * (r @ model.components_.T))[nonempty]
    step /= step.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(step, theta[nonempty], atol=1e-5)
    # Empty document -> uniform; words the model never saw are ignored.
    new = np.zeros((2, X.shape[1]))
    new[1] = X[0]
    new[1, 7] = 5.0
    out = model.transform(new)
    np.testing.assert_allclose(out[0], 1 / 3)
    np.testing.assert_allclose(out[1], model.transform(X[:1])[0], rtol=1e-12)
    # Perplexity = exp(-loglik / counted tokens); the unseen word's 5 tokens are not counted.
    np.testing.assert_allclose(
        model.perplexity(new[1:]), np.exp(-model.score(X[:1]) / X[0].sum()), rtol=1e-12
    )


def test_bad_input_gives_value_error(counts):
    X = counts.toarray()
    model = PLSA(n_components=3)
    bad_neg = X.copy()
    bad_neg[0, 0] = -1
    with pytest.raises(ValueError, match="Negative values"):
        model.fit(bad_neg)
    for v in (np.nan, np.inf):
        bad = X.copy()
        bad[0, 0] = v
        with pytest.raises(ValueError, match="NaN|infinity"):
            model.fit(bad)
    with pytest.raises(ValueError, match="all zeros"):
        model.fit(np.zeros_like(X))
    with pytest.raises(ValueError, match="n_components"):
        PLSA(n_components=0).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        PLSA(n_components=X.shape[1] + 1).fit(X)
    fitted = _quiet_fit(PLSA(n_components=3, max_iter=5), X)
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:, :-1])
    with pytest.raises(ValueError, match="W and H"):
        PLSA(n_components=3).fit(X, W=np.ones((X.shape[0], 3)))
    with pytest.raises(ValueError, match="shape"):
        PLSA(n_components=3).fit(X, W=np.ones((2, 3)), H=np.ones((3, X.shape[1])))


def test_low_level_bad_csr_is_value_error():
    from ferrotext import _core

    ip = np.array([0, 2, 1], dtype=np.int64)
    ix = np.array([0, 1], dtype=np.int64)
    with pytest.raises(ValueError):
        _core.plsa_fit(ip, ix, np.ones(2), (2, 3), 2, 5, 0.0, 0, 1)
    ip = np.array([0, 1, 2], dtype=np.int64)
    ix = np.array([0, 9], dtype=np.int64)
    with pytest.raises(ValueError):
        _core.plsa_fold_in(ip, ix, np.ones(2), (2, 3), np.full((2, 3), 1 / 3), 5, 0.0, 1)


def test_sklearn_api(counts):
    model = PLSA(n_components=3, max_iter=10, random_state=0)
    assert clone(model).get_params() == model.get_params()
    fitted = _quiet_fit(model, counts)
    assert fitted is model
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(counts), fitted.transform(counts))
    assert list(fitted.get_feature_names_out()) == ["plsa0", "plsa1", "plsa2"]
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PLSA().transform(counts)


def test_pipeline_and_grid_search(newsgroups_train):
    docs = [d["text"] for d in newsgroups_train[:300]]
    pipe = make_pipeline(CountVectorizer(min_df=2, stop_words="english"),
                         PLSA(max_iter=20, random_state=0))
    grid = GridSearchCV(pipe, {"plsa__n_components": [2, 4]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(docs)
    assert grid.best_params_["plsa__n_components"] in (2, 4)
    assert grid.transform(docs[:5]).shape[1] == grid.best_params_["plsa__n_components"]


def _nmf_loglik(X, W, H):
    """The pLSA log-likelihood of an NMF model: normalise W @ H per document."""
    return _loglik(X, W * H.sum(axis=1) / (W @ H.sum(axis=1))[:, None],
                   H / H.sum(axis=1, keepdims=True))


def _same_start(X, k, seed):
    rng = np.random.default_rng(seed)
    avg = np.sqrt(X.mean() / k)
    W0 = avg * rng.random((X.shape[0], k)) + 1e-3
    H0 = avg * rng.random((k, X.shape[1])) + 1e-3
    return W0, H0


def _compare_with_nmf(X, k, n_iter):
    X = X[np.asarray(X.sum(axis=1)).ravel() > 0].astype(np.float64)
    W0, H0 = _same_start(X, k, 0)
    nmf = NMF(k, init="custom", solver="mu", beta_loss="kullback-leibler", max_iter=n_iter,
              tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = nmf.fit_transform(X, W=W0.copy(), H=H0.copy())
    ll_nmf = _nmf_loglik(X, W, nmf.components_)
    # The same start for pLSA: P(w|z) = rows of H0, P(z|d) ∝ W0 scaled by the row sums of H0.
    # pLSA may take more sweeps than NMF took iterations (but each is much cheaper): it must
    # *reach* sklearn's log-likelihood; the benchmark compares the wall time to get there.
    plsa = PLSA(n_components=k, max_iter=2 * n_iter, tol=0, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plsa.fit(X, W=W0 * H0.sum(axis=1), H=H0)
    np.testing.assert_allclose(plsa.log_likelihoods_[0], _nmf_loglik(X, W0, H0), rtol=1e-10)
    return plsa.log_likelihood_, ll_nmf


def test_reaches_nmf_kl_loglik_subset(news_counts):
    ll_plsa, ll_nmf = _compare_with_nmf(news_counts, k=10, n_iter=60)
    assert ll_plsa >= ll_nmf, (ll_plsa, ll_nmf)


@pytest.mark.slow
def test_reaches_nmf_kl_loglik_full(newsgroups_all):
    X = CountVectorizer(stop_words="english", min_df=5, max_df=0.5).fit_transform(newsgroups_all)
    ll_plsa, ll_nmf = _compare_with_nmf(X, k=20, n_iter=100)
    assert ll_plsa >= ll_nmf, (ll_plsa, ll_nmf)


def test_gil_released(news_counts):
    model = PLSA(n_components=20, max_iter=10**6, tol=0, random_state=0, n_jobs=1)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            # Grow max_iter until one fit takes about a second.
            model.set_params(max_iter=5)
            model.fit(news_counts)
            per_iter = (time.perf_counter() - t0) / 6
            model.set_params(max_iter=max(5, int(1.0 / per_iter)))
            model.fit(news_counts)

    assert_gil_released(run)


def test_ctrl_c_interrupts_fit(news_counts):
    model = PLSA(n_components=20, max_iter=10**6, tol=0, random_state=0)
    assert_interruptible(lambda: model.fit(news_counts))
