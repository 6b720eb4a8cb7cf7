"""ferrotext.TruncatedSVD against scikit-learn and scipy (expected values computed at test time)."""

from __future__ import annotations

import _thread
import pickle
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD as SkTruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.sparsefuncs import mean_variance_axis

from ferrotext import TruncatedSVD


# ---------------------------------------------------------------- fixtures and helpers


def _svds_reference(X, k):
    """Singular triplets from scipy's ARPACK-based svds, largest first."""
    u, s, vt = svds(X.astype(np.float64), k=k, tol=0, random_state=0)
    order = np.argsort(s)[::-1]
    return u[:, order], s[order], vt[order]


def _assert_sklearn_signs(components):
    rows = np.arange(components.shape[0])
    big = components[rows, np.argmax(np.abs(components), axis=1)]
    assert np.all(big > 0)


@pytest.fixture(scope="module")
def random_sparse():
    rng = np.random.RandomState(0)
    return sp.random(300, 200, density=0.05, format="csr", random_state=rng)


@pytest.fixture(scope="session")
def tfidf_subset(newsgroups_all):
    """TF-IDF (sklearn defaults) of 3,000 posts: ~3000 x 70,000, fast enough for parity tests."""
    return TfidfVectorizer().fit_transform(newsgroups_all[:3000])


@pytest.fixture(scope="session")
def tfidf_subset_svds(tfidf_subset):
    return _svds_reference(tfidf_subset, 40)


# ---------------------------------------------------------------- sklearn's docstring example


def _docstring_matrix():
    np.random.seed(0)
    X_dense = np.random.rand(100, 100)
    X_dense[:, 2 * np.arange(50)] = 0
    return sp.csr_array(X_dense)


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_docstring_example_matches_sklearn(algorithm):
    X = _docstring_matrix()
    ref = SkTruncatedSVD(n_components=5, n_iter=7, random_state=42, algorithm=algorithm).fit(X)
    ours = TruncatedSVD(n_components=5, n_iter=7, random_state=42, algorithm=algorithm).fit(X)
    # the two randomized solvers draw different test matrices: agree to their own accuracy
    rtol = 1e-3 if algorithm == "randomized" else 1e-9
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=rtol)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol)
    assert ours.explained_variance_ratio_.sum() == pytest.approx(ref.explained_variance_ratio_.sum(), rel=rtol)
    if algorithm == "arpack":
        np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-9)
        np.testing.assert_allclose(ours.fit_transform(X), ref.fit_transform(X), atol=1e-9)
    assert repr(ours) == "TruncatedSVD(n_components=5, n_iter=7, random_state=42)" or algorithm == "arpack"


# ---------------------------------------------------------------- 'arpack' parity with svds


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (50, 40), (7, 12)])
@pytest.mark.parametrize("k_from_top", [False, True])
def test_arpack_matches_svds_on_random_sparse(shape, k_from_top):
    rng = np.random.RandomState(1)
    X = sp.random(*shape, density=0.2, format="csr", random_state=rng)
    k = min(shape) - 1 if k_from_top else min(10, min(shape) - 1)
    _, s_ref, vt_ref = _svds_reference(X, k)
    svd = TruncatedSVD(k, algorithm="arpack", random_state=0).fit(X)
    np.testing.assert_allclose(svd.singular_values_, s_ref, rtol=1e-6, atol=1e-10 * s_ref[0])
    _assert_sklearn_signs(svd.components_)
    # components equal up to sign where the singular value is well separated
    gaps = np.abs(np.diff(np.concatenate([[np.inf], s_ref, [0]])))
    separated = np.minimum(gaps[:-1], gaps[1:]) > 1e-3 * s_ref[0]
    cos = np.abs(np.sum(svd.components_ * vt_ref, axis=1))
    np.testing.assert_allclose(cos[separated], 1.0, atol=1e-6)


def test_arpack_clustered_spectrum():
    """Repeated and nearly repeated singular values (a hard case for Lanczos)."""
    rng = np.random.RandomState(2)
    m, n = 400, 250
    q1, _ = np.linalg.qr(rng.randn(m, n))
    q2, _ = np.linalg.qr(rng.randn(n, n))
    s = np.concatenate([[10, 10, 10, 9.999999, 9.99999, 5, 5, 5], np.linspace(4, 0.1, n - 8)])
    X = sp.csr_matrix((q1 * s) @ q2.T)
    _, s_ref, _ = _svds_reference(X, 12)
    svd = TruncatedSVD(12, algorithm="arpack", random_state=0).fit(X)
    np.testing.assert_allclose(svd.singular_values_, s_ref, rtol=1e-6)
    # orthonormal components, also inside the clusters
    np.testing.assert_allclose(svd.components_ @ svd.components_.T, np.eye(12), atol=1e-8)


@pytest.mark.parametrize("k", [6, 7, 30])
def test_arpack_singular_values_exact_with_close_ritz_values(k):
    """The Lanczos solver may stop on the eigenvalue-error bound res**2 / gap (see
    ``ritz_converged``) instead of a rounding-level residual; next to near-ties (values 1e-10
    and 1e-7 apart, k = 6 cutting between two values 1e-7 apart, k = 7 inside a tie) the
    singular values must still be exact to rounding level, and match svds at 1e-6."""
    rng = np.random.RandomState(4)
    m, n = 500, 260
    q1, _ = np.linalg.qr(rng.randn(m, n))
    q2, _ = np.linalg.qr(rng.randn(n, n))
    s = np.concatenate(
        [1 + 1e-10 * np.arange(4)[::-1], 0.9 + 1e-7 * np.arange(3)[::-1], np.geomspace(0.8, 1e-3, n - 7)]
    )
    X = sp.csr_matrix((q1 * s) @ q2.T)
    svd = TruncatedSVD(k, algorithm="arpack", random_state=0).fit(X)
    np.testing.assert_allclose(svd.singular_values_, s[:k], rtol=1e-10)
    _, s_ref, _ = _svds_reference(X, k)
    np.testing.assert_allclose(svd.singular_values_, s_ref, rtol=1e-6)
    np.testing.assert_allclose(svd.components_ @ svd.components_.T, np.eye(k), atol=1e-8)


def test_arpack_matches_svds_on_tfidf(tfidf_subset, tfidf_subset_svds):
    X = tfidf_subset
    _, s_ref, vt_ref = tfidf_subset_svds
    k = len(s_ref)
    svd = TruncatedSVD(k, algorithm="arpack", random_state=0)
    X_t = svd.fit_transform(X)
    np.testing.assert_allclose(svd.singular_values_, s_ref, rtol=1e-6)
    _assert_sklearn_signs(svd.components_)
    gaps = np.abs(np.diff(np.concatenate([[np.inf], s_ref, [0]])))
    separated = np.minimum(gaps[:-1], gaps[1:]) > 1e-4 * s_ref[0]
    assert separated.sum() >= k // 2
    np.testing.assert_allclose(np.abs(svd.components_[separated]), np.abs(vt_ref[separated]), atol=1e-5)
    # tol == 0: fit_transform is U * Sigma, which equals X @ V at convergence
    np.testing.assert_allclose(X_t, X @ svd.components_.T, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["arpack", "randomized"])
def test_full_newsgroups_tfidf(newsgroups_all, algorithm):
    X = TfidfVectorizer().fit_transform(newsgroups_all)
    k = 100
    _, s_ref, _ = _svds_reference(X, k)
    ours = TruncatedSVD(k, algorithm=algorithm, random_state=0).fit(X)
    if algorithm == "arpack":
        np.testing.assert_allclose(ours.singular_values_, s_ref, rtol=1e-6)
    else:
        ref = SkTruncatedSVD(k, algorithm=algorithm, random_state=0).fit(X)
        err_ours = np.mean(np.abs(ours.singular_values_ - s_ref) / s_ref)
        err_ref = np.mean(np.abs(ref.singular_values_ - s_ref) / s_ref)
        assert err_ours <= 1.1 * err_ref


# ---------------------------------------------------------------- 'randomized' accuracy


def test_randomized_at_least_as_accurate_as_sklearn(tfidf_subset, tfidf_subset_svds):
    """Mean relative error of the top-k singular values, averaged over seeds (same n_iter,
    n_oversamples). Both solvers are random, so single draws fluctuate by ~20%; over five seeds
    ours must not be worse than sklearn's by more than 5%."""
    X = tfidf_subset
    s_exact = tfidf_subset_svds[1]
    k = 20
    errs_ours, errs_ref = [], []
    for seed in range(5):
        ours = TruncatedSVD(k, random_state=seed).fit(X).singular_values_
        ref = SkTruncatedSVD(k, random_state=seed).fit(X).singular_values_
        errs_ours.append(np.mean(np.abs(ours - s_exact[:k]) / s_exact[:k]))
        errs_ref.append(np.mean(np.abs(ref - s_exact[:k]) / s_exact[:k]))
    assert np.mean(errs_ours) <= 1.05 * np.mean(errs_ref), (errs_ours, errs_ref)


def test_randomized_exact_when_sketch_covers_the_space(random_sparse):
    X = random_sparse[:40]
    _, s_ref, _ = _svds_reference(X, 20)
    svd = TruncatedSVD(20, n_oversamples=30, n_iter=0, random_state=0).fit(X)
    np.testing.assert_allclose(svd.singular_values_, s_ref, rtol=1e-10)


# ---------------------------------------------------------------- attributes and formulas


@pytest.mark.parametrize("algorithm,tol", [("randomized", 0.0), ("arpack", 0.0), ("arpack", 1e-3)])
@pytest.mark.parametrize("dense", [False, True])
def test_explained_variance_formulas(random_sparse, algorithm, tol, dense):
    X = random_sparse.toarray() if dense else random_sparse
    svd = TruncatedSVD(5, algorithm=algorithm, tol=tol, random_state=0)
    X_t = svd.fit_transform(X)
    X_v = np.asarray(X @ svd.components_.T)
    if algorithm == "randomized" or tol > 0:
        np.testing.assert_allclose(X_t, X_v, rtol=1e-12, atol=1e-12)  # sklearn: X @ V
    else:
        np.testing.assert_allclose(X_t, X_v, atol=1e-8)  # sklearn: U * Sigma
    np.testing.assert_allclose(svd.explained_variance_, np.var(X_t, axis=0), rtol=1e-12)
    full = mean_variance_axis(sp.csr_matrix(X), axis=0)[1].sum()
    np.testing.assert_allclose(svd.explained_variance_ratio_, np.var(X_t, axis=0) / full, rtol=1e-10)
    np.testing.assert_allclose(svd.transform(X), X_v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(X_t, axis=0), svd.singular_values_, rtol=1e-6)
    assert svd.components_.shape == (5, X.shape[1])
    assert svd.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(svd.inverse_transform(X_t), X_t @ svd.components_)
    assert list(svd.get_feature_names_out()) == [f"truncatedsvd{i}" for i in range(5)]


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_float32_stays_float32(random_sparse, algorithm):
    X64 = random_sparse
    X32 = X64.astype(np.float32)
    s64 = TruncatedSVD(5, algorithm=algorithm, random_state=0)
    s32 = TruncatedSVD(5, algorithm=algorithm, random_state=0)
    t64, t32 = s64.fit_transform(X64), s32.fit_transform(X32)
    for attr in ["components_", "singular_values_", "explained_variance_", "explained_variance_ratio_"]:
        assert getattr(s32, attr).dtype == np.float32, attr
        assert getattr(s64, attr).dtype == np.float64, attr
        np.testing.assert_allclose(getattr(s32, attr), getattr(s64, attr), rtol=1e-4, atol=1e-6)
    assert t32.dtype == np.float32 and t64.dtype == np.float64
    assert s32.transform(X32).dtype == np.float32
    assert s32.transform(X32.toarray()).dtype == np.float32
    # sklearn agrees on the dtypes
    ref = SkTruncatedSVD(5, algorithm=algorithm, random_state=0).fit(X32)
    assert ref.components_.dtype == s32.components_.dtype


def _formats(X):
    return {
        "csr": sp.csr_matrix(X),
        "csc": sp.csc_matrix(X),
        "coo": sp.coo_matrix(X),
        "csr_array": sp.csr_array(X),
        "csc_array": sp.csc_array(X),
        "coo_array": sp.coo_array(X),
        "csr_int64_idx": _int64_indices(sp.csr_matrix(X)),
        "dense": np.asarray(X.toarray()),
        "dense_fortran": np.asfortranarray(X.toarray()),
    }


def _int64_indices(X):
    X = X.copy()
    X.indices = X.indices.astype(np.int64)
    X.indptr = X.indptr.astype(np.int64)
    return X


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_every_input_format_gives_the_same_result(algorithm):
    rng = np.random.RandomState(3)
    X_int = sp.random(120, 80, density=0.1, format="csr", random_state=rng, data_rvs=lambda n: rng.randint(1, 5, n))
    X_int = X_int.astype(np.int64)
    ref = TruncatedSVD(4, algorithm=algorithm, random_state=0).fit(X_int.astype(np.float64))
    inputs = {**_formats(X_int.astype(np.float64)), **{f"int_{k}": v for k, v in _formats(X_int).items()}}
    inputs.update({f"f32_{k}": v for k, v in _formats(X_int.astype(np.float32)).items()})
    for name, X in inputs.items():
        svd = TruncatedSVD(4, algorithm=algorithm, random_state=0)
        X_t = svd.fit_transform(X)
        tol = 1e-4 if name.startswith("f32") else 1e-9
        np.testing.assert_allclose(svd.singular_values_, ref.singular_values_, rtol=tol, err_msg=name)
        np.testing.assert_allclose(svd.components_, ref.components_, atol=tol, err_msg=name)
        np.testing.assert_allclose(X_t, ref.transform(X_int.astype(np.float64)), rtol=tol, atol=tol, err_msg=name)
        expected = np.float32 if name.startswith("f32") else np.float64
        assert svd.components_.dtype == expected, name


# ---------------------------------------------------------------- bad input, same errors as sklearn


def _sklearn_error(make, X, method="fit"):
    with pytest.raises(Exception) as info:
        getattr(make(SkTruncatedSVD), method)(X)
    return info.type, info.value


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("sparse", [False, True])
def test_non_finite_input_raises_like_sklearn(random_sparse, bad, sparse):
    X = random_sparse.toarray()
    X[3, 4] = bad
    if sparse:
        X = sp.csr_matrix(X)
    exc_type, exc = _sklearn_error(lambda cls: cls(3), X)
    assert exc_type is ValueError
    with pytest.raises(ValueError) as ours:
        TruncatedSVD(3).fit(X)
    assert str(ours.value) == str(exc)


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 201},  # randomized: > n_features
        {"n_components": 200, "algorithm": "arpack"},  # arpack: >= min(shape)
        {"n_components": 0},
        {"algorithm": "lanczos"},
        {"n_iter": -1},
        {"n_oversamples": 0},
        {"power_iteration_normalizer": "qr"},
        {"power_iteration_normalizer": "lu"},
        {"power_iteration_normalizer": None},
        {"power_iteration_normalizer": 1},
        {"tol": -1.0},
        {"random_state": "x"},
    ],
)
def test_bad_parameters_raise_like_sklearn(random_sparse, params):
    exc_type, exc = _sklearn_error(lambda cls: cls(**params), random_sparse)
    with pytest.raises(exc_type) as ours:
        TruncatedSVD(**params).fit(random_sparse)
    assert str(ours.value) == str(exc).replace("TruncatedSVD", "TruncatedSVD")


# ---------------------------------------------------------------- power_iteration_normalizer


@pytest.mark.parametrize("normalizer", ["auto", "QR", "LU", "none"])
@pytest.mark.parametrize("n_iter", [1, 7])
def test_power_iteration_normalizer_is_accurate(normalizer, n_iter):
    """Every normaliser gives accurate singular values, at least as accurate as sklearn's with
    the same option (both runs are random and single draws vary by ~10x at this error level:
    averaged over ten seeds, within a factor of two)."""
    rng = np.random.RandomState(0)
    # slowly decaying spectrum, so the power iterations matter
    q1, _ = np.linalg.qr(rng.randn(300, 120))
    q2, _ = np.linalg.qr(rng.randn(200, 120))
    s = 1.0 / (1.0 + np.arange(120)) ** 0.5
    X = sp.csr_matrix((q1 * s) @ q2.T)
    k = 8
    exact = s[:k]
    errs_ours, errs_ref = [], []
    for seed in range(10):
        params = dict(n_components=k, n_iter=n_iter, power_iteration_normalizer=normalizer, random_state=seed)
        ours = TruncatedSVD(**params).fit(X).singular_values_
        ref = SkTruncatedSVD(**params).fit(X).singular_values_
        errs_ours.append(np.max(np.abs(ours - exact) / exact))
        errs_ref.append(np.max(np.abs(ref - exact) / exact))
    assert np.mean(errs_ours) <= 2.0 * np.mean(errs_ref) + 1e-12, (errs_ours, errs_ref)
    assert np.mean(errs_ours) < (0.05 if n_iter == 1 else 0.01)


def test_power_iteration_normalizer_reaches_the_solver(random_sparse):
    """The option is passed on (not only validated): the core rejects an unknown name."""
    from ferrotext import _core

    X = random_sparse
    args = (X.indptr, X.indices, X.data, X.shape[0], X.shape[1], False, "randomized", 3, 10, 2)
    with pytest.raises(ValueError, match="power_iteration_normalizer"):
        _core.truncated_svd_sparse(*args, "qr", 0.0, 0, 1, True)
    out = _core.truncated_svd_sparse(*args, "LU", 0.0, 0, 1, True)
    assert out[0].shape == (3, X.shape[1])


# ---------------------------------------------------------------- extreme magnitudes


@pytest.mark.parametrize("factor", [1e300, 1e-300])
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("dense", [False, True])
def test_extreme_magnitudes_are_rescaled(factor, algorithm, dense):
    """sklearn returns finite singular values for values near 1e300 (its ARPACK path fails);
    ferrotext rescales internally by an exact power of two, so both solvers stay accurate for
    huge and tiny values alike."""
    rng = np.random.RandomState(0)
    X = sp.random(60, 40, density=0.2, format="csr", random_state=rng)
    exact = np.linalg.svd(X.toarray(), compute_uv=False)[:5]
    big = X * factor
    if dense:
        big = big.toarray()
    # n_oversamples covers the whole space: the randomized solver is exact too
    svd = TruncatedSVD(5, algorithm=algorithm, n_oversamples=35, random_state=0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        X_t = svd.fit_transform(big)
    assert np.all(np.isfinite(svd.singular_values_))
    np.testing.assert_allclose(svd.singular_values_ / factor, exact, rtol=1e-8)
    ref = TruncatedSVD(5, algorithm=algorithm, n_oversamples=35, random_state=0).fit(X)
    np.testing.assert_allclose(svd.components_, ref.components_, atol=1e-8)
    assert np.all(np.isfinite(X_t))
    np.testing.assert_allclose(X_t / factor, ref.transform(X), rtol=1e-8, atol=1e-12)
    if factor > 1 and algorithm == "randomized":
        # sklearn also gives finite singular values there (its variances overflow to inf)
        with np.errstate(over="ignore", invalid="ignore"):
            sk = SkTruncatedSVD(5, n_oversamples=35, random_state=0).fit(big)
        np.testing.assert_allclose(svd.singular_values_, sk.singular_values_, rtol=1e-8)


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_for_both_solvers(random_sparse, algorithm, bad):
    X = random_sparse.copy()
    X.data[7] = bad
    exc_type, exc = _sklearn_error(lambda cls: cls(3, algorithm=algorithm), X)
    with pytest.raises(ValueError) as ours:
        TruncatedSVD(3, algorithm=algorithm).fit(X)
    assert exc_type is ValueError and str(ours.value) == str(exc)


def test_bad_n_jobs():
    with pytest.raises(ValueError):
        TruncatedSVD(n_jobs=0).fit(np.eye(4))
    with pytest.raises(Exception):
        TruncatedSVD(n_jobs="all").fit(np.eye(4))


def test_transform_with_wrong_number_of_features(random_sparse):
    ref = SkTruncatedSVD(3, random_state=0).fit(random_sparse)
    ours = TruncatedSVD(3, random_state=0).fit(random_sparse)
    bad = random_sparse[:, :150]
    with pytest.raises(ValueError) as e_ref:
        ref.transform(bad)
    with pytest.raises(ValueError) as e_ours:
        ours.transform(bad)
    assert str(e_ours.value) == str(e_ref.value)


def test_single_feature_and_not_fitted():
    X = np.ones((5, 1))
    with pytest.raises(ValueError) as e_ref:
        SkTruncatedSVD(1).fit(X)
    with pytest.raises(ValueError) as e_ours:
        TruncatedSVD(1).fit(X)
    assert str(e_ours.value) == str(e_ref.value)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TruncatedSVD().transform(np.ones((2, 3)))


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_reproducible_with_fixed_random_state(tfidf_subset, algorithm):
    X = tfidf_subset[:800]
    a = TruncatedSVD(10, algorithm=algorithm, random_state=7).fit(X)
    b = TruncatedSVD(10, algorithm=algorithm, random_state=7).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.singular_values_, b.singular_values_)
    c = TruncatedSVD(10, algorithm=algorithm, random_state=np.random.RandomState(7)).fit(X)
    np.testing.assert_array_equal(a.components_, c.components_)
    if algorithm == "randomized":
        d = TruncatedSVD(10, algorithm=algorithm, random_state=8).fit(X)
        assert not np.array_equal(a.components_, d.components_)


# ---------------------------------------------------------------- sklearn API


def test_pickle_clone_and_set_output(random_sparse):
    svd = TruncatedSVD(4, random_state=0, n_jobs=1).fit(random_sparse)
    loaded = pickle.loads(pickle.dumps(svd))
    np.testing.assert_array_equal(loaded.transform(random_sparse), svd.transform(random_sparse))
    cl = clone(svd)
    assert cl.get_params() == svd.get_params()
    assert not hasattr(cl, "components_")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(random_sparse.toarray(), columns=[f"f{i}" for i in range(random_sparse.shape[1])])
    svd = TruncatedSVD(3, random_state=0).set_output(transform="pandas")
    out = svd.fit_transform(df)
    assert list(out.columns) == ["truncatedsvd0", "truncatedsvd1", "truncatedsvd2"]
    assert list(svd.feature_names_in_) == list(df.columns)


def test_pipeline_and_grid_search(newsgroups_train):
    posts = newsgroups_train[:600]
    texts = [d["text"] for d in posts]
    labels = [d["label"] for d in posts]
    pipe = make_pipeline(
        TfidfVectorizer(), TruncatedSVD(random_state=0), LogisticRegression(max_iter=2000)
    )
    grid = GridSearchCV(pipe, {"truncatedsvd__n_components": [10, 30]}, cv=2)
    grid.fit(texts, labels)
    assert grid.best_params_["truncatedsvd__n_components"] in (10, 30)
    assert grid.score(texts, labels) > 0.2
    clone(grid.best_estimator_)
    pickle.loads(pickle.dumps(grid.best_estimator_)).predict(texts[:5])


# ---------------------------------------------------------------- runtime: GIL and Ctrl-C


def _long_problem():
    """20,000 x 30,000 with 60 random entries per row (built directly: sp.random is slow)."""
    rng = np.random.RandomState(0)
    m, n, per_row = 20000, 30000, 60
    indptr = np.arange(m + 1, dtype=np.int64) * per_row
    indices = np.sort(rng.randint(0, n, size=(m, per_row)), axis=1).ravel()
    X = sp.csr_matrix((rng.rand(m * per_row), indices, indptr), shape=(m, n))
    X.sum_duplicates()
    return X


def test_gil_is_released_during_fit():
    X = _long_problem()
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    t0 = time.perf_counter()
    TruncatedSVD(50, n_iter=3, random_state=0, n_jobs=1).fit(X)
    elapsed = time.perf_counter() - t0
    stop.set()
    t.join()
    assert elapsed > 0.3
    # the Python thread kept running: at least a quarter of the possible 1 ms ticks
    assert counter[0] > 0.25 * elapsed * 1000 * 0.5, (counter[0], elapsed)


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_ctrl_c_interrupts_fit(algorithm):
    X = _long_problem()
    params = {"n_iter": 400} if algorithm == "randomized" else {"n_components": 300}
    svd = TruncatedSVD(algorithm=algorithm, random_state=0, **{"n_components": 50, **params})
    timer = threading.Timer(0.5, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            svd.fit(X)
    finally:
        timer.cancel()
    assert time.perf_counter() - t0 < 2.5
    assert not hasattr(svd, "components_")
