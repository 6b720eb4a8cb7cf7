"""Topic models with a Rust core: :class:`PLSA` and :class:`LatentDirichletAllocation`.

Both take a document-term count matrix (scipy sparse in any format, or dense; int or float),
as produced by ``CountVectorizer``. The Rust core only ever visits the nonzeros, runs the
documents in parallel on ``n_jobs`` threads with the GIL released, and stops on Ctrl-C within
a fraction of a second.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import LatentDirichletAllocation as _SklearnLDA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from ferrotext import _core
from ferrotext._validation import resolve_n_jobs, seed_from_random_state

__all__ = ["PLSA", "LatentDirichletAllocation"]


def _csr_parts(X):
    """(indptr, indices, data, shape) of a validated float matrix, without copying when the
    CSR matrix is already canonical (sorted indices, no duplicates)."""
    if not sp.issparse(X):
        X = sp.csr_matrix(X)
    elif not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    indptr, indices = X.indptr, X.indices
    if indptr.dtype != indices.dtype or indices.dtype not in (np.int32, np.int64):
        indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    data = X.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    return (
        np.ascontiguousarray(indptr),
        np.ascontiguousarray(indices),
        np.ascontiguousarray(data),
        (int(X.shape[0]), int(X.shape[1])),
    )


def _check_counts(estimator, X, *, reset, whom):
    """sklearn's validation for count matrices: CSR or dense float, finite, nonnegative."""
    X = validate_data(
        estimator, X, reset=reset, accept_sparse="csr", dtype=[np.float64, np.float32]
    )
    check_non_negative(X, whom)
    return X


def _check_not_empty(X, n_components, whom):
    if X.shape[0] == 0 or X.sum() == 0:
        raise ValueError(
            f"{whom}: the count matrix is all zeros (no word occurs in any document); "
            "there is nothing to fit"
        )
    if n_components > X.shape[1]:
        raise ValueError(
            f"{whom}: n_components={n_components} must be <= n_features={X.shape[1]}"
        )


class PLSA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Probabilistic latent semantic analysis (pLSA), fitted by EM.

    The model is ``P(w|d) = sum_z P(z|d) P(w|z)`` and EM maximises the log-likelihood
    ``L = sum_{d,w} n(d,w) log P(w|d)`` of a document-term count matrix ``n``. Each EM
    iteration is a single parallel sweep over the nonzeros: ``O(nnz * n_components)`` time and
    ``O(nnz + (n_samples + n_features) * n_components)`` memory (no dense posterior array).
    The log-likelihood never decreases. The objective is that of
    ``NMF(beta_loss='kullback-leibler')`` once ``W @ H`` is normalised per document.

    Parameters
    ----------
    n_components : int, default=10
        Number of topics.
    max_iter : int, default=300
        Maximum number of EM iterations in :meth:`fit`.
    tol : float, default=1e-5
        Stop when the relative change of the log-likelihood between two iterations is at most
        ``tol``. A :class:`~sklearn.exceptions.ConvergenceWarning` is emitted when
        ``max_iter`` is reached first.
    transform_max_iter : int, default=200
        Maximum number of fold-in EM iterations per document in :meth:`transform`.
    transform_tol : float, default=1e-6
        Fold-in stops when no ``P(z|d)`` moves by more than this.
    random_state : int, RandomState instance or None, default=None
        Seed of the random initialisation.
    n_jobs : int, default=None
        Worker threads (None: all cores, -1: all cores). With a fixed ``n_jobs`` results are
        bitwise reproducible.
    verbose : int, default=0
        When positive, print the log-likelihood of each iteration after fitting.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``P(w|z)``; each row sums to 1.
    doc_topic_ : ndarray of shape (n_samples, n_components)
        ``P(z|d)`` of the training documents (what :meth:`fit_transform` returns).
    log_likelihoods_ : ndarray of shape (n_iter_ + 1,)
        ``log_likelihoods_[i]`` is the training log-likelihood after ``i`` EM iterations.
    log_likelihood_ : float
        The final training log-likelihood.
    n_iter_ : int
        Number of EM iterations run.
    n_features_in_ : int
        Number of features seen during :term:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrotext import PLSA
    >>> X = np.array([[3, 2, 0, 0], [2, 3, 0, 1], [0, 0, 4, 2], [0, 1, 3, 3]])
    >>> plsa = PLSA(n_components=2, random_state=0).fit(X)
    >>> plsa.components_.sum(axis=1)
    array([1., 1.])
    >>> plsa.transform(X).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left")],
        "transform_tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=10,
        *,
        max_iter=300,
        tol=1e-5,
        transform_max_iter=200,
        transform_tol=1e-6,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.transform_max_iter = transform_max_iter
        self.transform_tol = transform_tol
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, W=None, H=None):
        """Fit the model and return ``P(z|d)`` of the training documents.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-term counts.
        y : Ignored
        W : array-like of shape (n_samples, n_components), default=None
            Optional start for ``P(z|d)`` (nonnegative; rows are renormalised). Give ``H`` too.
        H : array-like of shape (n_components, n_features), default=None
            Optional start for ``P(w|z)`` (nonnegative; rows are renormalised).

        Returns
        -------
        doc_topic : ndarray of shape (n_samples, n_components)
        """
        X = _check_counts(self, X, reset=True, whom="PLSA (input X)")
        _check_not_empty(X, self.n_components, "PLSA")
        if (W is None) != (H is None):
            raise ValueError("give both W and H, or neither")
        if W is not None:
            W = np.ascontiguousarray(W, dtype=np.float64)
            H = np.ascontiguousarray(H, dtype=np.float64)
            if W.shape != (X.shape[0], self.n_components) or H.shape != (
                self.n_components,
                X.shape[1],
            ):
                raise ValueError(
                    f"W must have shape {(X.shape[0], self.n_components)} and H "
                    f"{(self.n_components, X.shape[1])}; got {W.shape} and {H.shape}"
                )
        indptr, indices, data, shape = _csr_parts(X)
        doc_topic, topic_word, loglik, n_iter, converged = _core.plsa_fit(
            indptr,
            indices,
            data,
            shape,
            int(self.n_components),
            int(self.max_iter),
            float(self.tol),
            seed_from_random_state(self.random_state),
            resolve_n_jobs(self.n_jobs),
            W,
            H,
        )
        self.components_ = topic_word
        self.doc_topic_ = doc_topic
        self.log_likelihoods_ = loglik
        self.log_likelihood_ = float(loglik[-1])
        self.n_iter_ = int(n_iter)
        if self.verbose:
            for i, ll in enumerate(loglik):
                print(f"iteration: {i} of max_iter: {self.max_iter}, log-likelihood: {ll:.6f}")
        if not converged and self.max_iter > 0:
            warnings.warn(
                f"PLSA reached max_iter={self.max_iter} before the relative change of the "
                f"log-likelihood fell below tol={self.tol}; increase max_iter.",
                ConvergenceWarning,
            )
        return doc_topic

    def fit(self, X, y=None, W=None, H=None):
        """Fit the model to the count matrix X; see :meth:`fit_transform`.

        Returns
        -------
        self : PLSA
        """
        self.fit_transform(X, y, W=W, H=H)
        return self

    def _fold_in(self, X, whom):
        check_is_fitted(self)
        X = _check_counts(self, X, reset=False, whom=whom)
        indptr, indices, data, shape = _csr_parts(X)
        return _core.plsa_fold_in(
            indptr,
            indices,
            data,
            shape,
            np.ascontiguousarray(self.components_, dtype=np.float64),
            int(self.transform_max_iter),
            float(self.transform_tol),
            resolve_n_jobs(self.n_jobs),
        )

    def transform(self, X):
        """``P(z|d)`` of new documents by fold-in: EM on ``P(z|d)`` with ``P(w|z)`` fixed.

        Words the model gives zero probability are ignored; a document without any known word
        gets the uniform distribution.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        doc_topic : ndarray of shape (n_samples, n_components)
        """
        return self._fold_in(X, "PLSA.transform")[0]

    def score(self, X, y=None):
        """Log-likelihood ``sum n(d,w) log P(w|d)`` of X after fold-in (unknown words skipped).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(self._fold_in(X, "PLSA.score")[1])

    def perplexity(self, X):
        """``exp(-score(X) / number of counted tokens)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        perplexity : float
        """
        _, ll, n_tokens = self._fold_in(X, "PLSA.perplexity")
        if n_tokens <= 0:
            raise ValueError("X contains no token of a word known to the model")
        return float(np.exp(-ll / n_tokens))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]


class LatentDirichletAllocation(_SklearnLDA):
    """Latent Dirichlet Allocation with (online) variational Bayes, computed in Rust.

    A drop-in replacement for :class:`sklearn.decomposition.LatentDirichletAllocation`: the
    same parameters, defaults, validation, attributes and methods (``fit``, ``partial_fit``,
    ``transform(X, normalize=True)``, ``fit_transform``, ``score``, ``perplexity``,
    ``get_feature_names_out``), and the same algorithm (Hoffman, Blei & Bach 2010) step for
    step: the same Gamma(100, 1/100) start of ``components_`` drawn from ``random_state``, the
    same per-document fixed-point loop with ``mean_change_tol`` and ``max_doc_update_iter``,
    the same batch and online updates and the same variational bound.

    Differences:

    - the E-step, the M-step and the bound run in Rust on ``n_jobs`` threads with the GIL
      released, and Ctrl-C stops a fit within a fraction of a second;
    - ``n_jobs=None`` uses all cores (the thread count only changes the summation order of the
      sufficient statistics, hence the last bits of the result);
    - the random start of each document's ``gamma`` during training comes from ferrotext's
      own generator (seeded from ``random_state``), so results are close to, not identical
      with, scikit-learn's; they are bitwise reproducible for a fixed ``random_state`` and
      ``n_jobs``;
    - an all-zero count matrix, ``n_components`` larger than the number of features and a
      ``doc_topic_prior`` / ``topic_word_prior`` of 0 raise ``ValueError``;
    - ``perplexity`` checks the number of features against the fitted model (scikit-learn
      1.9 resets ``n_features_in_`` there).

    See :class:`sklearn.decomposition.LatentDirichletAllocation` for the parameters.

    Examples
    --------
    >>> from ferrotext import LatentDirichletAllocation
    >>> from sklearn.datasets import make_multilabel_classification
    >>> X, _ = make_multilabel_classification(random_state=0)
    >>> lda = LatentDirichletAllocation(n_components=5, random_state=0).fit(X)
    >>> lda.transform(X[-2:]).shape
    (2, 5)
    """

    # --- Rust calls -------------------------------------------------------------------------

    def _n_threads(self):
        return resolve_n_jobs(self.n_jobs)

    def _check_priors(self):
        if not (self.doc_topic_prior_ > 0 and self.topic_word_prior_ > 0):
            raise ValueError(
                "doc_topic_prior and topic_word_prior must be > 0 "
                f"(got {self.doc_topic_prior_} and {self.topic_word_prior_})"
            )

    def _epoch(self, X, *, online, total_samples):
        """One pass of batch or online VB over X (Rust), updating the fitted topics."""
        dtype = self.components_.dtype
        seed = int(self.random_state_.randint(np.iinfo(np.int64).max, dtype=np.int64))
        components, exp_dirichlet, n_batch_iter = _core.lda_epoch(
            *_csr_parts(X),
            np.ascontiguousarray(self.components_, dtype=np.float64),
            int(self.n_batch_iter_),
            bool(online),
            float(total_samples),
            int(self.batch_size),
            float(self.learning_decay),
            float(self.learning_offset),
            float(self.doc_topic_prior_),
            float(self.topic_word_prior_),
            int(self.max_doc_update_iter),
            float(self.mean_change_tol),
            seed,
            self._n_threads(),
        )
        self.components_ = components.astype(dtype, copy=False)
        self.exp_dirichlet_component_ = exp_dirichlet.astype(dtype, copy=False)
        self.n_batch_iter_ = int(n_batch_iter)

    def _unnormalized_transform(self, X):
        doc_topic_distr = _core.lda_transform(
            *_csr_parts(X),
            np.ascontiguousarray(self.components_, dtype=np.float64),
            float(self.doc_topic_prior_),
            int(self.max_doc_update_iter),
            float(self.mean_change_tol),
            self._n_threads(),
        )
        return doc_topic_distr.astype(self.components_.dtype, copy=False)

    def _e_step(self, X, cal_sstats, random_init, parallel=None):
        if cal_sstats or random_init:
            raise NotImplementedError("ferrotext runs training E-steps inside _epoch")
        return self._unnormalized_transform(X), None

    def _approx_bound(self, X, doc_topic_distr, sub_sampling):
        ratio = float(self.total_samples) / X.shape[0] if sub_sampling else 1.0
        return _core.lda_bound(
            *_csr_parts(X),
            np.ascontiguousarray(doc_topic_distr, dtype=np.float64),
            np.ascontiguousarray(self.components_, dtype=np.float64),
            float(self.doc_topic_prior_),
            float(self.topic_word_prior_),
            ratio,
            self._n_threads(),
        )

    # --- scikit-learn API ---------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Online VB with mini-batch updates (see scikit-learn's ``partial_fit``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word matrix.
        y : Ignored

        Returns
        -------
        self
        """
        first_time = not hasattr(self, "components_")
        X = self._check_non_neg_array(
            X, reset_n_features=first_time, whom="LatentDirichletAllocation.partial_fit"
        )
        n_features = X.shape[1]
        if first_time:
            if self.n_components > n_features:
                raise ValueError(
                    f"n_components={self.n_components} must be <= n_features={n_features}"
                )
            self._init_latent_vars(n_features, dtype=X.dtype)
            self._check_priors()
        if n_features != self.components_.shape[1]:
            raise ValueError(
                "The provided data has %d dimensions while "
                "the model was trained with feature size %d."
                % (n_features, self.components_.shape[1])
            )
        if X.shape[0] > 0:
            self._epoch(X, online=True, total_samples=self.total_samples)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the model with variational Bayes (batch or online, see ``learning_method``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word matrix.
        y : Ignored

        Returns
        -------
        self
        """
        X = self._check_non_neg_array(X, reset_n_features=True, whom="LatentDirichletAllocation.fit")
        _check_not_empty(X, self.n_components, "LatentDirichletAllocation")
        n_samples, n_features = X.shape
        self._init_latent_vars(n_features, dtype=X.dtype)
        self._check_priors()
        last_bound = None
        online = self.learning_method == "online"
        for i in range(self.max_iter):
            self._epoch(X, online=online, total_samples=n_samples)
            if self.evaluate_every > 0 and (i + 1) % self.evaluate_every == 0:
                bound = self._perplexity_precomp_distr(
                    X, self._unnormalized_transform(X), sub_sampling=False
                )
                if self.verbose:
                    print(
                        "iteration: %d of max_iter: %d, perplexity: %.4f"
                        % (i + 1, self.max_iter, bound)
                    )
                if last_bound and abs(last_bound - bound) < self.perp_tol:
                    break
                last_bound = bound
            elif self.verbose:
                print("iteration: %d of max_iter: %d" % (i + 1, self.max_iter))
            self.n_iter_ += 1
        self.bound_ = self._perplexity_precomp_distr(
            X, self._unnormalized_transform(X), sub_sampling=False
        )
        return self

    def perplexity(self, X, sub_sampling=False):
        """Approximate perplexity ``exp(-bound / word count)`` of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word matrix.
        sub_sampling : bool, default=False
            Compensate for sub-sampling of documents (``total_samples``).

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = self._check_non_neg_array(
            X, reset_n_features=False, whom="LatentDirichletAllocation.perplexity"
        )
        return self._perplexity_precomp_distr(X, sub_sampling=sub_sampling)
