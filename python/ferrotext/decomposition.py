"""Matrix decompositions: TruncatedSVD (latent semantic analysis) with a Rust core."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import TruncatedSVD as _SklearnTruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_is_fitted, validate_data

from ferrotext import _core
from ferrotext._validation import resolve_n_jobs, seed_from_random_state

__all__ = ["TruncatedSVD"]


def _index_arrays(X):
    """indptr/indices of a CSR/CSC matrix as one common integer dtype (int32 or int64)."""
    indptr, indices = X.indptr, X.indices
    dtype = np.int32 if indptr.dtype == np.int32 and indices.dtype == np.int32 else np.int64
    return (
        np.ascontiguousarray(indptr, dtype=dtype),
        np.ascontiguousarray(indices, dtype=dtype),
    )


class TruncatedSVD(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dimensionality reduction using truncated SVD (aka LSA), computed in Rust.

    Drop-in replacement for :class:`sklearn.decomposition.TruncatedSVD`: same parameters,
    defaults, fitted attributes, sign convention and ``fit_transform`` semantics, plus
    ``n_jobs``. The matrix is not centred, so sparse input stays sparse.

    Both solvers run in Rust with the GIL released, on a thread pool of ``n_jobs`` threads,
    and can be interrupted with Ctrl-C:

    - ``'randomized'``: Halko et al. (2011) randomized range finder with ``n_iter`` power
      iterations and ``n_components + n_oversamples`` random vectors, working on the smaller
      side of ``X``: each power iteration applies ``X X^T`` (or ``X^T X``) in one fused pass
      over the sparse matrix, then renormalises with ``power_iteration_normalizer`` (as
      scikit-learn: ``'auto'`` is ``'none'`` for ``n_iter <= 2``, else ``'LU'``).
    - ``'arpack'``: a thick-restart Lanczos eigensolver (Wu & Simon, 2000) with full
      reorthogonalisation on the Gram matrix of the smaller side, followed by the same
      Rayleigh-Ritz SVD as :func:`scipy.sparse.linalg.svds`. It does not call ARPACK; the
      name is kept for compatibility. ``tol`` bounds the relative Gram residual by
      ``max(tol**2, 64 * eps)``, like ``svds`` passes ``tol**2`` to ARPACK; a Ritz pair also
      counts as converged once its residual is below ``1e-9`` and the eigenvalue error bound
      ``residual**2 / gap`` is below that level (singular values just as accurate, vectors
      within ``1e-9 / relative gap``).

    Parameters
    ----------
    n_components : int, default=2
        Desired dimensionality of output data. If algorithm='arpack', must be strictly less
        than ``min(X.shape)``; if algorithm='randomized', must be less than or equal to the
        number of features.
    algorithm : {'arpack', 'randomized'}, default='randomized'
        SVD solver to use (see above).
    n_iter : int, default=5
        Number of power iterations of the randomized solver. Not used by 'arpack'.
    n_oversamples : int, default=10
        Number of oversamples of the randomized solver. Not used by 'arpack'.
    power_iteration_normalizer : {'auto', 'QR', 'LU', 'none'}, default='auto'
        How the power iterations are renormalised (scikit-learn's semantics): ``'QR'`` keeps
        an orthonormal basis (most accurate), ``'LU'`` uses the permuted ``L`` factor,
        ``'none'`` only rescales (unstable for large ``n_iter``), ``'auto'`` picks ``'none'``
        for ``n_iter <= 2`` and ``'LU'`` otherwise. Not used by 'arpack'.

    Values of any magnitude work: the matrix is rescaled internally by an exact power of two,
    so values near 1e300 or 1e-300 neither overflow nor underflow in the solver (the variances
    of ``fit_transform``'s output can still overflow, as in scikit-learn).
    random_state : int, RandomState instance or None, default=None
        Seeds the random test matrix (randomized) or start vector (arpack). Pass an int for
        reproducible results.
    tol : float, default=0.0
        Tolerance of the 'arpack' solver; 0 means machine precision. Ignored by 'randomized'.
    n_jobs : int, default=None
        Number of threads; None or -1 means all cores.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The right singular vectors of the input data.
    explained_variance_ : ndarray of shape (n_components,)
        The variance of the training samples transformed by a projection to each component.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Percentage of variance explained by each of the selected components.
    singular_values_ : ndarray of shape (n_components,)
        The singular values corresponding to each of the selected components.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string feature names.
    n_iter_ : int
        Power iterations done (randomized) or Lanczos restarts (arpack).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse import csr_array
    >>> from ferrotext import TruncatedSVD
    >>> rng = np.random.RandomState(0)
    >>> X = csr_array(rng.rand(100, 100))
    >>> svd = TruncatedSVD(n_components=5, n_iter=7, random_state=42).fit(X)
    >>> svd.components_.shape, svd.singular_values_.shape
    ((5, 100), (5,))
    """

    # sklearn's own constraint objects, so validation messages match it to the letter (its
    # StrOptions sets print in their own iteration order).
    _parameter_constraints: dict = {
        **_SklearnTruncatedSVD._parameter_constraints,
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        n_components=2,
        *,
        algorithm="randomized",
        n_iter=5,
        n_oversamples=10,
        power_iteration_normalizer="auto",
        random_state=None,
        tol=0.0,
        n_jobs=None,
    ):
        self.algorithm = algorithm
        self.n_components = n_components
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.tol = tol
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Fit model on training data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : object
            Returns the transformer object.
        """
        self.fit_transform(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit model to X and perform dimensionality reduction on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Reduced version of X (``X @ components_.T`` for 'randomized' or ``tol > 0``,
            ``U * Sigma`` for 'arpack' with ``tol == 0``, as scikit-learn). Always dense.
        """
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            ensure_min_features=2,
            dtype=[np.float64, np.float32],
        )
        n_threads = resolve_n_jobs(self.n_jobs)
        seed = seed_from_random_state(self.random_state)
        k = self.n_components
        if self.algorithm == "arpack":
            if not (0 < k < min(X.shape)):
                raise ValueError("`k` must be an integer satisfying `0 < k < min(A.shape)`.")
        elif k > X.shape[1]:
            raise ValueError(f"n_components({k}) must be <= n_features({X.shape[1]}).")
        # Like sklearn's randomized_svd, never more than min(X.shape) components.
        k = min(k, min(X.shape))
        project_back = self.algorithm == "randomized" or self.tol > 0
        args = (
            self.algorithm,
            int(k),
            int(self.n_oversamples),
            int(self.n_iter),
            self.power_iteration_normalizer,
            float(self.tol),
            seed,
            n_threads,
            project_back,
        )
        if sp.issparse(X):
            indptr, indices = _index_arrays(X)
            components, sv, X_transformed, n_iter, converged = _core.truncated_svd_sparse(
                indptr,
                indices,
                np.ascontiguousarray(X.data),
                X.shape[0],
                X.shape[1],
                X.format == "csc",
                *args,
            )
        else:
            components, sv, X_transformed, n_iter, converged = _core.truncated_svd_dense(
                np.ascontiguousarray(X), *args
            )
        if not converged:
            warnings.warn(
                f"The Lanczos solver did not converge to tol={self.tol} in {n_iter} restarts.",
                ConvergenceWarning,
            )
        self.components_ = components
        self.n_iter_ = int(n_iter)

        self.explained_variance_ = exp_var = np.var(X_transformed, axis=0)
        if sp.issparse(X):
            _, full_var = mean_variance_axis(X, axis=0)
            full_var = full_var.sum()
        else:
            full_var = np.var(X, axis=0).sum()
        self.explained_variance_ratio_ = exp_var / full_var
        self.singular_values_ = sv[0]
        return X_transformed

    def transform(self, X):
        """Perform dimensionality reduction on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Reduced version of X. This will always be a dense array.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        out_dtype = np.result_type(X.dtype, self.components_.dtype)
        if not np.issubdtype(out_dtype, np.floating):
            out_dtype = np.float64
        if not sp.issparse(X):
            return np.asarray(X @ self.components_.T, dtype=out_dtype)
        X = X.tocsr()
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        indptr, indices = _index_arrays(X)
        out = _core.project_sparse(
            indptr,
            indices,
            np.ascontiguousarray(X.data),
            X.shape[0],
            X.shape[1],
            np.ascontiguousarray(self.components_, dtype=np.float64),
            resolve_n_jobs(self.n_jobs),
        )
        return out.astype(out_dtype, copy=False)

    def inverse_transform(self, X):
        """Transform X back to its original space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            New data.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Note that this is always a dense array.
        """
        X = check_array(X)
        return np.dot(X, self.components_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.components_.shape[0]
