"""GloVe word vectors (Pennington, Socher & Manning 2014) with a scikit-learn API.

``GloVe.fit(corpus)`` counts the word-word co-occurrence matrix
(:func:`ferrotext.cooccurrence_matrix`) and fits ``w_i . w~_j + b_i + b~_j ~ log X_ij`` by
AdaGrad over the shuffled nonzero cells, in parallel (Hogwild), with the update rules of
Stanford's ``glove.c``; ``GloVe.fit_matrix(X, vocabulary)`` trains on a matrix you already
have. The vectors ``W + W~`` (``glove.c``'s default output) land in a
:class:`~ferrotext.KeyedVectors`.
"""

from __future__ import annotations

import numbers
import os
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ferrotext import _core
from ferrotext._corpus import check_file
from ferrotext._validation import resolve_n_jobs, seed_from_random_state
from ferrotext.keyedvectors import _UNWRITABLE_KEY, KeyedVectors, _open

__all__ = ["GloVe", "load_glove_format"]

# glove.c clips each vector gradient component to [-100, 100] (its -grad-clip default).
GRAD_CLIP = 100.0


class _Progress:
    """Progress for ``verbose``: a tqdm bar over cells if tqdm is installed, else a stderr
    line per second; with ``verbose >= 2`` also glove.c's ``iter: 001, cost: ...`` lines."""

    def __init__(self, epochs, verbose):
        self.epochs = epochs
        self.verbose = verbose
        self.bar = None
        self.last_done = 0
        self.last_print = 0.0
        self.epochs_printed = 0
        try:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
        except ImportError:
            self._tqdm = None

    def __call__(self, epoch, done, total, elapsed, last_cost):
        finished = done >= (epoch + 1) * (total // self.epochs) and epoch + 1 > self.epochs_printed
        if self._tqdm is not None:
            if self.bar is None:
                self.bar = self._tqdm(total=total, unit="cell", unit_scale=True, desc="glove")
            self.bar.update(done - self.last_done)
            post = {"epoch": f"{min(epoch + 1, self.epochs)}/{self.epochs}"}
            if last_cost == last_cost:  # not NaN
                post["cost"] = f"{last_cost:.4f}"
            self.bar.set_postfix(post, refresh=False)
            self.last_done = done
        elif elapsed - self.last_print >= 1.0 or done >= total:
            self.last_print = elapsed
            pct = 100.0 * done / total if total else 100.0
            rate = done / elapsed if elapsed > 0 else 0.0
            print(f"glove: epoch {epoch + 1}/{self.epochs}, {pct:5.1f}% of cells, {rate:,.0f} cells/s", file=sys.stderr)
        if finished and self.verbose >= 2:
            self.epochs_printed = epoch + 1
            line = f"iter: {epoch + 1:03d}, cost: {last_cost:.6f}"
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _check_matrix(X, vocabulary):
    """Square, finite, non-negative CSR (int64 indptr, int32 indices, float64 data) with one
    row per vocabulary word."""
    if X is None:
        raise ValueError("X is None: expected a square co-occurrence matrix")
    if vocabulary is None:
        raise ValueError("vocabulary is None: expected one word per row of X")
    if isinstance(vocabulary, str):
        raise TypeError("vocabulary must be a sequence of words, not a single string")
    vocabulary = list(vocabulary)
    bad = next((w for w in vocabulary if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(f"vocabulary words must be str, got {type(bad).__name__} ({bad!r})")
    if sp.issparse(X):
        X = sp.csr_matrix(X)
    else:
        arr = np.asarray(X)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"X must be a numeric matrix, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {arr.shape}")
        X = sp.csr_matrix(arr)
    if np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError("X must be real, got complex values")
    n, m = X.shape
    if n != m:
        raise ValueError(f"X must be square (word x context word), got shape {X.shape}")
    if n == 0:
        raise ValueError("X is empty (0 x 0): nothing to train on")
    if len(vocabulary) != n:
        raise ValueError(f"vocabulary has {len(vocabulary)} words but X has {n} rows")
    if len(set(vocabulary)) != n:
        raise ValueError("vocabulary has duplicate words")
    data = np.asarray(X.data, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError("X contains NaN or infinite counts")
    if data.size and data.min() < 0:
        raise ValueError("X contains negative counts; co-occurrence counts must be >= 0")
    if data.size == 0 or not np.any(data > 0):
        raise ValueError("X has no nonzero cell: nothing to train on")
    if X.nnz >= 2**31:
        raise ValueError("X has more than 2^31 nonzero cells")
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(X.indices, dtype=np.int32)
    return indptr, indices, np.ascontiguousarray(data), vocabulary


def _document_tokens(doc):
    """A document for ``transform``: a string (split on whitespace) or a list of tokens."""
    if isinstance(doc, str):
        return doc.split()
    if isinstance(doc, (bytes, bytearray)) or not hasattr(doc, "__iter__"):
        raise TypeError(f"each document must be a string or a list of string tokens, got {type(doc).__name__}")
    return doc


class GloVe(TransformerMixin, BaseEstimator):
    """GloVe word vectors, trained as Stanford's ``glove.c`` trains them.

    Counting follows :func:`ferrotext.cooccurrence_matrix` (``window``, ``weighting``,
    ``symmetric``, ``min_count``, ``max_vocab_size``, ``memory_limit``); training minimises
    ``sum 0.5 f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2`` over the nonzero cells with
    ``f(x) = min((x / x_max)^alpha, 1)``, by AdaGrad (accumulators start at 1; vector gradient
    components clipped to ±100; bias steps without the learning rate; NaN/inf steps skipped),
    over the cells shuffled once, in single precision.

    Parameters
    ----------
    vector_size : int, default=100
    window : int, default=15
        Context words up to this distance on each side are counted.
    x_max : float, default=100
        Cut-off of the weighting function (``glove.c``'s demo uses 10 on text8).
    alpha : float, default=0.75
        Exponent of the weighting function.
    learning_rate : float, default=0.05
        AdaGrad's initial step (``eta``).
    epochs : int, default=25
        Passes over the nonzero cells.
    min_count : int, default=5
        Words seen fewer times are left out of the vocabulary.
    symmetric : bool, default=True
        Count left and right context (``False``: left context only, as ``cooccur -symmetric 0``).
    weighting : {"harmonic", "uniform"}, default="harmonic"
        A pair at distance ``d`` adds ``1/d`` (GloVe) or 1.
    max_vocab_size : int, optional
        Keep at most this many most frequent words.
    memory_limit : float, optional
        Counting memory budget in GB; beyond it counting spills sorted runs to disk.
    n_jobs : int, optional
        Threads (None: all cores). With ``n_jobs=1`` and an int ``random_state`` the vectors
        are bit-identical across runs and processes; with more threads Hogwild training is
        nondeterministic (as ``glove.c`` with several threads).
    random_state : int, RandomState or None
        Initial values and the shuffle of the cells.
    verbose : int, default=0
        1: progress bar (cells/s, epoch, cost); 2: also a ``cost`` line per epoch.

    Attributes
    ----------
    wv : KeyedVectors
        The word vectors ``W_ + W_tilde_`` (``glove.c``'s ``-model 2`` output).
    W_, W_tilde_ : ndarray of shape (n_words, vector_size), float32
        Word and context vectors.
    b_, b_tilde_ : ndarray of shape (n_words,), float32
        Word and context biases.
    loss_ : ndarray of shape (epochs,)
        Mean weighted squared error ``0.5 f (w.w~ + b + b~ - log X)^2`` over the nonzero cells
        during each epoch (the figure ``glove.c`` prints as ``cost``).
    vocabulary_ : list of str
        The word of each row.
    n_cells_ : int
        Nonzero cells trained on.
    cooccurrence_seconds_, train_seconds_ : float
        Wall-clock time of counting (``fit`` only) and of training.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrotext import GloVe
    >>> X = np.array([[0, 4, 1], [4, 0, 2], [1, 2, 0]], dtype=float)
    >>> model = GloVe(vector_size=4, epochs=10, n_jobs=1, random_state=0)
    >>> model.fit_matrix(X, ["cat", "dog", "fish"]).wv["dog"].shape
    (4,)
    >>> model.transform([["cat", "fish"], "dog unknown"]).shape
    (2, 4)
    """

    _parameter_constraints = {
        # fastText's own cap: a typo like 10**12 must raise, not abort on a huge allocation
        "vector_size": [Interval(numbers.Integral, 1, 100_000, closed="both")],
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "x_max": [Interval(numbers.Real, 0, None, closed="neither")],
        "alpha": [Interval(numbers.Real, None, None, closed="neither")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_count": [Interval(numbers.Integral, 1, None, closed="left")],
        "symmetric": ["boolean"],
        "weighting": [StrOptions({"harmonic", "uniform"})],
        "max_vocab_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "memory_limit": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        vector_size=100,
        window=15,
        x_max=100,
        alpha=0.75,
        learning_rate=0.05,
        epochs=25,
        min_count=5,
        symmetric=True,
        weighting="harmonic",
        max_vocab_size=None,
        memory_limit=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.vector_size = vector_size
        self.window = window
        self.x_max = x_max
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.min_count = min_count
        self.symmetric = symmetric
        self.weighting = weighting
        self.max_vocab_size = max_vocab_size
        self.memory_limit = memory_limit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = True
        return tags

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Counts the co-occurrence matrix of corpus ``X`` and trains from scratch.

        ``X`` is what :func:`ferrotext.cooccurrence_matrix` accepts: token lists, strings,
        or paths of text files (streamed). Returns self.
        """
        from ferrotext.cooccurrence import cooccurrence_matrix

        t0 = time.perf_counter()
        matrix, vocabulary = cooccurrence_matrix(
            X,
            window=self.window,
            weighting=self.weighting,
            symmetric=self.symmetric,
            min_count=self.min_count,
            max_vocab_size=self.max_vocab_size,
            n_jobs=self.n_jobs,
            memory_limit=self.memory_limit,
            verbose=self.verbose,
        )
        seconds = time.perf_counter() - t0
        self._train(matrix, vocabulary)
        self.cooccurrence_seconds_ = seconds
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_matrix(self, X, vocabulary):
        """Trains from scratch on a co-occurrence matrix.

        Parameters
        ----------
        X : scipy sparse matrix (any format) or array-like of shape (n_words, n_words)
            Non-negative, finite counts; ``X[i, j]`` is the (weighted) count of context word
            ``j`` around word ``i``. Zero cells are not trained on (``log 0``).
        vocabulary : sequence of str
            The word of each row (and column).

        Returns
        -------
        self
        """
        self._train(X, vocabulary)
        self.cooccurrence_seconds_ = 0.0
        return self

    def _train(self, X, vocabulary):
        indptr, indices, data, vocabulary = _check_matrix(X, vocabulary)
        seed = seed_from_random_state(self.random_state)
        progress = _Progress(self.epochs, self.verbose) if self.verbose else None
        try:
            W, W_tilde, b, b_tilde, loss, n_cells, seconds = _core.glove_train(
                n_words=len(vocabulary),
                indptr=indptr,
                indices=indices,
                data=data,
                vector_size=int(self.vector_size),
                x_max=float(self.x_max),
                alpha=float(self.alpha),
                learning_rate=float(self.learning_rate),
                epochs=int(self.epochs),
                grad_clip=GRAD_CLIP,
                n_threads=resolve_n_jobs(self.n_jobs),
                seed=seed,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.close()
        self.W_ = W
        self.W_tilde_ = W_tilde
        self.b_ = b
        self.b_tilde_ = b_tilde
        self.loss_ = loss
        self.n_cells_ = int(n_cells)
        self.train_seconds_ = float(seconds)
        self.vocabulary_ = vocabulary
        self.wv = KeyedVectors(W + W_tilde, vocabulary, n_jobs=self.n_jobs)
        if self.verbose:
            print(
                f"glove: {len(vocabulary):,} words, {n_cells:,} cells x {self.epochs} epochs in {seconds:.1f} s "
                f"({n_cells * self.epochs / max(seconds, 1e-9):,.0f} cells/s), final cost {loss[-1]:.6f}",
                file=sys.stderr,
            )

    # ------------------------------------------------------------------ transform
    def transform(self, X):
        """Mean vector of each document's known words (zeros when it has none):
        ``(n_documents, vector_size)`` float32. Documents are token lists or strings
        (split on whitespace)."""
        check_is_fitted(self, "wv")
        if X is None:
            raise ValueError("X is None")
        if isinstance(X, (str, bytes, os.PathLike)):
            raise TypeError("transform takes a list of documents (strings or token lists), not a single string or path")
        docs = list(X)
        return self.wv._document_means(map(_document_tokens, docs), len(docs))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "wv")
        return np.asarray([f"glove{i}" for i in range(self.wv.vector_size)], dtype=object)

    # ------------------------------------------------------------------ files
    def save_glove_format(self, path, *, write_unk=False):
        """Writes the vectors ``W + W~`` in the GloVe text format: one ``word v1 v2 ...`` line
        per word, in vocabulary order, no header (Stanford's released files; gensim reads it
        with ``KeyedVectors.load_word2vec_format(path, no_header=True)``). Values are the
        shortest decimal strings that read back to the same float32. ``write_unk=True`` adds
        ``glove.c``'s ``<unk>`` row: the mean of the 100 last (rarest) words' vectors.
        ``.gz`` paths are compressed."""
        check_is_fitted(self, "wv")
        save_glove_format(self.wv, path, write_unk=write_unk)

    @staticmethod
    def load_glove_format(path, *, encoding="utf8", unicode_errors="strict", limit=None):
        """Reads a GloVe text file (``word v1 v2 ...`` lines, no header; ``.gz`` too) into a
        :class:`KeyedVectors`. Malformed files raise ``ValueError``."""
        return load_glove_format(path, encoding=encoding, unicode_errors=unicode_errors, limit=limit)

    def save_word2vec_format(self, fname, binary=False, **kwargs):
        """Shortcut for ``self.wv.save_word2vec_format`` (word2vec.c's formats, with header)."""
        check_is_fitted(self, "wv")
        self.wv.save_word2vec_format(fname, binary=binary, **kwargs)


def save_glove_format(kv, path, *, write_unk=False):
    """Writes KeyedVectors ``kv`` in the GloVe text format (see :meth:`GloVe.save_glove_format`)."""
    bad = next((k for k in kv.index_to_key if not isinstance(k, str) or _UNWRITABLE_KEY.search(k)), None)
    if bad is not None:
        raise ValueError(f"key {bad!r} cannot be stored in the GloVe format: keys must be non-empty strings without spaces or newlines")
    if write_unk and "<unk>" in kv.key_to_index:
        raise ValueError("the vocabulary already has a '<unk>' word; glove.c refuses that too")
    vectors = kv.vectors
    with _open(path, "wb") as fout:
        for key, row in zip(kv.index_to_key, vectors):
            fout.write(f"{key} {' '.join(map(str, row))}\n".encode("utf8"))
        if write_unk and len(kv):
            rare = vectors[-min(100, len(kv)) :].astype(np.float64).mean(axis=0).astype(np.float32)
            fout.write(f"<unk> {' '.join(map(str, rare))}\n".encode("utf8"))


def load_glove_format(path, *, encoding="utf8", unicode_errors="strict", limit=None):
    """Reads a GloVe text file into a :class:`KeyedVectors` (see :meth:`GloVe.load_glove_format`)."""
    path = os.fspath(path)
    check_file(path)
    with _open(path, "rb") as fin:
        first = fin.readline(1 << 16)
    # A word2vec header ("V D") would be read as a word with one value: say so instead.
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        raise ValueError(f"{path}: starts with a word2vec header {first.strip()[:40]!r}; use KeyedVectors.load_word2vec_format")
    kv = KeyedVectors.load_word2vec_format(
        path, encoding=encoding, unicode_errors=unicode_errors, limit=limit, no_header=True
    )
    if len(kv) == 0:
        raise ValueError(f"{path}: no vectors in the file")
    return kv
