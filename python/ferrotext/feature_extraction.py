"""Text vectorizers: exact, faster drop-in replacements for ``sklearn.feature_extraction.text``.

The classes subclass scikit-learn's own, so parameters, validation, warnings, error messages,
``get_params``/``set_params``, ``clone``, pickling and every method not listed here are
scikit-learn's. What changes is where the work runs: decoding, lower-casing, accent stripping
and user callables run in Python exactly as scikit-learn calls them; tokenization (for the default
``token_pattern`` and the ``char``/``char_wb`` analyzers), stop-word removal, n-grams, counting,
vocabulary building, pruning, CSR assembly, hashing, tf-idf weighting and normalisation run in
Rust with the GIL released, on ``n_jobs`` threads, and answer Ctrl-C.

Inputs the Rust core cannot take (strings holding lone surrogates, non-string tokens from a
user callable, exotic ``dtype`` values, ``ngram_range`` starting below 1) go through
scikit-learn's own implementation, so results are identical in every case.

Examples
--------
>>> from ferrotext.feature_extraction import TfidfVectorizer
>>> X = TfidfVectorizer().fit_transform(["the cat sat", "the dog sat down"])
>>> X.shape
(2, 5)
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.feature_extraction import text as _sk
from sklearn.utils._sparse import _align_api_if_sparse
from sklearn.utils.validation import check_is_fitted, validate_data

from ferrotext import _core
from ferrotext._text_tables import DEFAULT_TOKEN_PATTERNS, char_ranges
from ferrotext._validation import resolve_n_jobs

__all__ = [
    "CountVectorizer",
    "HashingVectorizer",
    "TfidfTransformer",
    "TfidfVectorizer",
]

_RUST_DTYPES = {"float64", "float32", "int64", "int32"}
_N_JOBS_CONSTRAINT = {"n_jobs": [Integral, None]}


def _rust_dtype(dtype):
    """Name of a dtype the Rust core writes directly, or None."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        return None
    return name if name in _RUST_DTYPES else None


def _join_doc(toks):
    """``(NUL-joined tokens or None, tokens as a list)``: None when a token is not a str or
    contains NUL (the join could not be split back)."""
    if type(toks) is not list:
        toks = list(toks)
    try:
        j = "\0".join(toks)
    except TypeError:
        return None, toks
    if toks and j.count("\0") != len(toks) - 1:
        return None, toks
    return j, toks


def _join_tokens(token_lists):
    """NUL-joined tokens and token counts per document, or None when a token is not a str or
    contains NUL. One string per document instead of one object per token keeps memory at the
    size of the text."""
    joined = []
    counts = []
    for toks in token_lists:
        j, toks = _join_doc(toks)
        if j is None:
            return None
        joined.append(j)
        counts.append(len(toks))
    return joined, counts


#: Joined text per batch of the streamed fit (bytes, roughly): a few Rust rounds of work.
_STREAM_BATCH = 1 << 22


def _fit_streamed(token_lists, spec, dtype, n_jobs, df_range):
    """Rust fit over token lists fed in batches of NUL-joined strings; the result of
    ``_core.count_fit``, or None when a token is not a str (fallback)."""
    fitter = _core.CountFitter(spec, dtype, n_jobs)
    joined = []
    counts = []
    size = 0
    for toks in token_lists:
        j, toks = _join_doc(toks)
        ok = j is not None
        if ok:
            joined.append(j)
            counts.append(len(toks))
            size += len(j) + 16
            if size < _STREAM_BATCH:
                continue
        # a batch is full, or this document's tokens cannot be joined (non-str, or holding NUL)
        if joined and not fitter.add(joined, counts):
            return None
        joined, counts, size = [], [], 0
        if not ok and not fitter.add([toks]):
            return None
    if joined and not fitter.add(joined, counts):
        return None
    return fitter.finish(df_range)


def _check_raw_documents(raw_documents):
    if isinstance(raw_documents, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")


class _Replayable:
    """Token lists produced lazily; iterating a second time calls the callable again."""

    def __init__(self, first, func, docs):
        self._first = first
        self._func = func
        self._docs = docs

    def __iter__(self):
        if self._first is not None:
            first, self._first = self._first, None
            return first
        func = self._func
        return (func(d) for d in self._docs)

    def __len__(self):
        return len(self._docs)


class _RustTextMixin:
    """Shared plan: turn raw documents into what the Rust analyzer consumes."""

    def _ft_docs(self, raw_documents):
        """Decoded documents as a list of str, or None when one is not a str (fallback)."""
        docs = raw_documents if isinstance(raw_documents, list) else list(raw_documents)
        if self.input != "content" or not all(type(d) is str for d in docs):
            decode = self.decode
            docs = [decode(d) for d in docs]
            if not all(isinstance(d, str) for d in docs):
                return None
        return docs

    def _ft_prepare(self, raw_documents):
        """(spec dict or None, payload list, raw list, token counts or None) for the Rust core;
        spec None = fall back.

        The payload is a list of str (``kind`` word_default/char/char_wb), NUL-joined token
        strings with their counts, or a list of token lists (word_tokens).
        """
        return self._ft_finish_prepare(*self._ft_prepare_lists(raw_documents))

    @staticmethod
    def _ft_finish_prepare(spec, payload, raw):
        """``_ft_prepare`` from the output of ``_ft_prepare_lists``."""
        if spec is None or spec["kind"] != "word_tokens":
            return spec, payload, raw, None
        joined = _join_tokens(payload)
        if joined is None:
            return spec, [t if type(t) is list else list(t) for t in payload], raw, None
        return spec, joined[0], raw, joined[1]

    def _ft_prepare_lists(self, raw_documents):
        raw = raw_documents if isinstance(raw_documents, list) else list(raw_documents)
        min_n, max_n = self.ngram_range
        if callable(self.analyzer):
            docs = self._ft_docs(raw)
            if docs is None:
                return None, None, raw
            analyzer = self.analyzer
            tokens = (analyzer(d) for d in docs)
            return self._ft_spec("word_tokens", 1, 1, None), _Replayable(tokens, analyzer, docs), raw
        if not (isinstance(min_n, Integral) and isinstance(max_n, Integral)) or min_n < 1:
            return None, None, raw
        docs = self._ft_docs(raw)
        if docs is None:
            return None, None, raw
        rust_lower = False
        lazy_lower = False
        if self.preprocessor is None and not self.strip_accents:
            if self.lowercase:
                if self.analyzer == "word" and not (
                    self.tokenizer is None and self.token_pattern in DEFAULT_TOKEN_PATTERNS
                ):
                    # Python tokenizes: lower-case each document just before, so no lower-cased
                    # copy of the corpus stays alive.
                    lazy_lower = True
                elif self.analyzer in ("char", "char_wb") or (
                    self.tokenizer is None and self.token_pattern in DEFAULT_TOKEN_PATTERNS
                ):
                    # The Rust analyzer lower-cases ASCII letters on the fly; only non-ASCII
                    # documents (str.isascii is O(1)) need Python's str.lower. No lower-cased
                    # copy of the corpus is kept alive.
                    rust_lower = True
                    if not all(map(str.isascii, docs)):
                        docs = [d if d.isascii() else d.lower() for d in docs]
                else:
                    docs = list(map(str.lower, docs))
        else:
            preprocess = self.build_preprocessor()
            docs = [preprocess(d) for d in docs]
            if not all(isinstance(d, str) for d in docs):
                return None, None, raw
        if self.analyzer in ("char", "char_wb"):
            return self._ft_spec(self.analyzer, min_n, max_n, None, rust_lower), docs, raw
        stop = self.get_stop_words()
        stop = None if stop is None else [w for w in stop if isinstance(w, str)]
        if self.tokenizer is None and self.token_pattern in DEFAULT_TOKEN_PATTERNS:
            return self._ft_spec("word_default", min_n, max_n, stop, rust_lower), docs, raw
        tokenize = self.build_tokenizer()
        if lazy_lower:
            base_tokenize = tokenize

            def tokenize(doc):
                return base_tokenize(doc.lower())

        tokens = (tokenize(d) for d in docs)
        return self._ft_spec("word_tokens", min_n, max_n, stop), _Replayable(tokens, tokenize, docs), raw

    @staticmethod
    def _ft_spec(kind, min_n, max_n, stop_words, lowercase_ascii=False):
        word, space = char_ranges()
        return {
            "kind": kind,
            "min_n": int(min_n),
            "max_n": int(max_n),
            "stop_words": stop_words,
            "word_ranges": word,
            "space_ranges": space,
            "lowercase_ascii": bool(lowercase_ascii),
        }

    def _ft_n_jobs(self):
        return resolve_n_jobs(getattr(self, "n_jobs", None))


class _RustCountMixin(_RustTextMixin):
    """Replaces the counting hooks of sklearn's CountVectorizer with the Rust core."""

    def _count_vocab(self, raw_documents, fixed_vocab):
        self._ft_presorted_id = None
        self._ft_pruned_id = None
        # Same validation and warnings (stop-word consistency, >1 capture group, ...) as sklearn.
        self.build_analyzer()
        dtype = _rust_dtype(self.dtype)
        out_dtype = dtype or "int64"
        n_jobs = self._ft_n_jobs()
        if not fixed_vocab:
            spec, payload, raw = self._ft_prepare_lists(raw_documents)
            if spec is None:
                return super()._count_vocab(raw, fixed_vocab)
            if spec["kind"] == "word_tokens" and spec["max_n"] == 1:
                # Python tokenizes: count batch by batch, never holding every token at once.
                res = _fit_streamed(payload, spec, out_dtype, n_jobs, self._ft_df_range(len(payload)))
                if res is None:
                    return super()._count_vocab(raw, fixed_vocab)
                return self._ft_fitted(res, dtype)
            spec, payload, raw, counts = self._ft_finish_prepare(spec, payload, raw)
        else:
            spec, payload, raw, counts = self._ft_prepare(raw_documents)
            if spec is None:
                return super()._count_vocab(raw, fixed_vocab)
        if fixed_vocab:
            vocabulary = self.vocabulary_
            terms = list(vocabulary.keys())
            ids = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
            res = _core.count_transform(
                payload, spec, terms, ids, len(vocabulary), out_dtype, n_jobs, counts
            )
            if res is None:
                return super()._count_vocab(raw, fixed_vocab)
            data, indices, indptr = res
            n_cols = len(vocabulary)
        else:
            df_range = self._ft_df_range(len(payload))
            res = _core.count_fit(payload, spec, out_dtype, n_jobs, df_range, counts)
            del payload, counts
            if res is None:
                return super()._count_vocab(raw, fixed_vocab)
            return self._ft_fitted(res, dtype)
        return vocabulary, self._ft_csr(data, indices, indptr, n_cols, dtype)

    def _ft_csr(self, data, indices, indptr, n_cols, dtype):
        """The count matrix from the Rust core's CSR arrays (no copy; ``dtype`` None: the
        core could not produce ``self.dtype`` itself, so scipy converts)."""
        X = sp.csr_array(
            (data, indices, indptr),
            shape=(len(indptr) - 1, n_cols),
            dtype=self.dtype if dtype is None else None,
            copy=False,
        )
        return _align_api_if_sparse(X)

    def _ft_df_range(self, n_doc):
        """The document-frequency part of _limit_features, applied by the Rust core before any
        Python object is built for the pruned terms; same thresholds and comparisons as
        sklearn's fit."""
        high = self.max_df if isinstance(self.max_df, Integral) else self.max_df * n_doc
        low = self.min_df if isinstance(self.min_df, Integral) else self.min_df * n_doc
        return (float(low), float(high)) if high >= low else None

    def _ft_fitted(self, res, dtype):
        """(vocabulary, X) from the Rust fit's ``(vocabulary, (data, indices, indptr))``."""
        vocabulary, (data, indices, indptr) = res
        if not vocabulary:
            raise ValueError(
                "After pruning, no terms remain. Try a lower min_df or a higher max_df."
            )
        self._ft_presorted_id = id(vocabulary)
        self._ft_pruned_id = id(vocabulary)
        return vocabulary, self._ft_csr(data, indices, indptr, len(vocabulary), dtype)

    def _sort_features(self, X, vocabulary):
        if getattr(self, "_ft_presorted_id", None) == id(vocabulary):
            # The Rust core already numbered the terms alphabetically.
            self._ft_presorted_id = None
            return X
        return super()._sort_features(X, vocabulary)

    def _limit_features(self, X, vocabulary, high=None, low=None, limit=None):
        if high is None and low is None and limit is None:
            return X, set()
        if limit is None and getattr(self, "_ft_pruned_id", None) == id(vocabulary):
            # The Rust core already applied these document-frequency bounds (fit computes
            # them from max_df/min_df exactly as sklearn's fit_transform does).
            self._ft_pruned_id = None
            return X
        # sklearn's arithmetic, on the same arrays, so ties break identically.
        dfs = _sk._document_frequency(X)
        mask = np.ones(len(dfs), dtype=bool)
        if high is not None:
            mask &= dfs <= high
        if low is not None:
            mask &= dfs >= low
        if limit is not None and mask.sum() > limit:
            tfs = np.asarray(X.sum(axis=0)).ravel()
            mask_inds = (-tfs[mask]).argsort()[:limit]
            new_mask = np.zeros(len(dfs), dtype=bool)
            new_mask[np.where(mask)[0][mask_inds]] = True
            mask = new_mask
        kept = np.flatnonzero(mask)
        if len(kept) == 0:
            for term in list(vocabulary):
                del vocabulary[term]
            raise ValueError(
                "After pruning, no terms remain. Try a lower min_df or a higher max_df."
            )
        if limit is None and len(kept) == len(dfs):
            return X
        # Terms in column order (dict order need not be column order after _sort_features).
        keys = np.fromiter(vocabulary, dtype=object, count=len(vocabulary))
        ids = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        terms = np.empty(len(keys), dtype=object)
        terms[ids] = keys
        kept_terms = terms[kept].tolist()
        vocabulary.clear()
        if limit is None:
            vocabulary.update(zip(kept_terms, range(len(kept))))
        else:
            vocabulary.update(zip(kept_terms, np.arange(len(kept), dtype=np.int64)))
        if len(kept) == len(dfs):
            return X
        # Column selection keeping the order of entries inside each row (as X[:, kept]).
        new_index = np.cumsum(mask) - 1
        keep = mask[X.indices]
        indices = new_index[X.indices[keep]].astype(X.indices.dtype, copy=False)
        data = X.data[keep]
        csum = np.concatenate(([0], np.cumsum(keep)))
        indptr = csum[X.indptr].astype(X.indptr.dtype, copy=False)
        return type(X)((data, indices, indptr), shape=(X.shape[0], len(kept)), copy=False)


class CountVectorizer(_RustCountMixin, _sk.CountVectorizer):
    """Convert a collection of text documents to a matrix of token counts.

    Exact drop-in for :class:`sklearn.feature_extraction.text.CountVectorizer` (same parameters,
    attributes, output) with a parallel Rust core. See that class for the parameters.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Threads used by the Rust core (None: all cores, -1: all cores, -2: all but one).
        scikit-learn has no such parameter. Every other parameter is scikit-learn's.

    Examples
    --------
    >>> from ferrotext.feature_extraction import CountVectorizer
    >>> cv = CountVectorizer()
    >>> cv.fit_transform(["b a", "a c a"]).toarray()
    array([[1, 1, 0],
           [2, 0, 1]])
    >>> cv.get_feature_names_out()
    array(['a', 'b', 'c'], dtype=object)
    """

    _parameter_constraints: dict = {
        **_sk.CountVectorizer._parameter_constraints,
        **_N_JOBS_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        strip_accents=None,
        lowercase=True,
        preprocessor=None,
        tokenizer=None,
        stop_words=None,
        token_pattern=r"(?u)\b\w\w+\b",
        ngram_range=(1, 1),
        analyzer="word",
        max_df=1.0,
        min_df=1,
        max_features=None,
        vocabulary=None,
        binary=False,
        dtype=np.int64,
        n_jobs=None,
    ):
        super().__init__(
            input=input,
            encoding=encoding,
            decode_error=decode_error,
            strip_accents=strip_accents,
            lowercase=lowercase,
            preprocessor=preprocessor,
            tokenizer=tokenizer,
            stop_words=stop_words,
            token_pattern=token_pattern,
            ngram_range=ngram_range,
            analyzer=analyzer,
            max_df=max_df,
            min_df=min_df,
            max_features=max_features,
            vocabulary=vocabulary,
            binary=binary,
            dtype=dtype,
        )
        self.n_jobs = n_jobs


class TfidfTransformer(_sk.TfidfTransformer):
    """Transform a count matrix to a normalized tf or tf-idf representation.

    Exact drop-in for :class:`sklearn.feature_extraction.text.TfidfTransformer`; ``transform``
    (sublinear tf, idf scaling, l1/l2 normalisation) runs in Rust in one parallel pass.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Threads used by the Rust core. Every other parameter is scikit-learn's.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrotext.feature_extraction import TfidfTransformer
    >>> TfidfTransformer().fit_transform(np.array([[1, 0], [1, 1]])).toarray().round(3)
    array([[1.   , 0.   ],
           [0.579, 0.815]])
    """

    _parameter_constraints: dict = {
        **_sk.TfidfTransformer._parameter_constraints,
        **_N_JOBS_CONSTRAINT,
    }

    def __init__(self, *, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=False, n_jobs=None):
        super().__init__(norm=norm, use_idf=use_idf, smooth_idf=smooth_idf, sublinear_tf=sublinear_tf)
        self.n_jobs = n_jobs

    def transform(self, X, copy=True):
        """Transform a count matrix to a tf or tf-idf representation (see scikit-learn)."""
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            copy=copy,
            reset=False,
        )
        if not sp.issparse(X):
            X = sp.csr_array(X, dtype=X.dtype)
        idf = None
        if hasattr(self, "idf_"):
            idf = np.ascontiguousarray(self.idf_, dtype=np.float64)
        if X.indices.dtype != X.indptr.dtype or not (X.data.flags.writeable and X.data.flags.c_contiguous):
            return super().transform(X, copy=False)
        _core.tfidf_inplace(
            X.data,
            X.indices,
            X.indptr,
            idf,
            bool(self.sublinear_tf),
            self.norm,
            resolve_n_jobs(self.n_jobs),
        )
        return _align_api_if_sparse(X)


class TfidfVectorizer(_RustCountMixin, _sk.TfidfVectorizer):
    """Convert a collection of raw documents to a matrix of TF-IDF features.

    Exact drop-in for :class:`sklearn.feature_extraction.text.TfidfVectorizer` with a parallel
    Rust core.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Threads used by the Rust core. Every other parameter is scikit-learn's.

    Examples
    --------
    >>> from ferrotext.feature_extraction import TfidfVectorizer
    >>> tv = TfidfVectorizer().fit(["the cat", "the dog"])
    >>> tv.idf_.round(3)
    array([1.405, 1.405, 1.   ])
    """

    _parameter_constraints: dict = {
        **_sk.TfidfVectorizer._parameter_constraints,
        **_N_JOBS_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        strip_accents=None,
        lowercase=True,
        preprocessor=None,
        tokenizer=None,
        analyzer="word",
        stop_words=None,
        token_pattern=r"(?u)\b\w\w+\b",
        ngram_range=(1, 1),
        max_df=1.0,
        min_df=1,
        max_features=None,
        vocabulary=None,
        binary=False,
        dtype=np.float64,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=False,
        n_jobs=None,
    ):
        super().__init__(
            input=input,
            encoding=encoding,
            decode_error=decode_error,
            strip_accents=strip_accents,
            lowercase=lowercase,
            preprocessor=preprocessor,
            tokenizer=tokenizer,
            analyzer=analyzer,
            stop_words=stop_words,
            token_pattern=token_pattern,
            ngram_range=ngram_range,
            max_df=max_df,
            min_df=min_df,
            max_features=max_features,
            vocabulary=vocabulary,
            binary=binary,
            dtype=dtype,
            norm=norm,
            use_idf=use_idf,
            smooth_idf=smooth_idf,
            sublinear_tf=sublinear_tf,
        )
        self.n_jobs = n_jobs

    def _ft_transformer(self):
        return TfidfTransformer(
            norm=self.norm,
            use_idf=self.use_idf,
            smooth_idf=self.smooth_idf,
            sublinear_tf=self.sublinear_tf,
            n_jobs=self.n_jobs,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents, y=None):
        """Learn vocabulary and idf from training set (see scikit-learn)."""
        self._check_params()
        self._warn_for_unused_params()
        self._tfidf = self._ft_transformer()
        X = _sk.CountVectorizer.fit_transform(self, raw_documents)
        self._tfidf.fit(X)
        return self

    def fit_transform(self, raw_documents, y=None):
        """Learn vocabulary and idf, return the tf-idf matrix (see scikit-learn)."""
        self._check_params()
        self._tfidf = self._ft_transformer()
        X = _sk.CountVectorizer.fit_transform(self, raw_documents)
        self._tfidf.fit(X)
        return self._tfidf.transform(X, copy=False)

    def transform(self, raw_documents):
        """Transform documents to a tf-idf matrix with the fitted vocabulary and idf."""
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        X = _sk.CountVectorizer.transform(self, raw_documents)
        return self._tfidf.transform(X, copy=False)


class HashingVectorizer(_RustTextMixin, _sk.HashingVectorizer):
    """Convert a collection of text documents to a matrix of hashed token occurrences.

    Exact drop-in for :class:`sklearn.feature_extraction.text.HashingVectorizer` (signed 32-bit
    MurmurHash3, seed 0) with a parallel Rust core.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Threads used by the Rust core. Every other parameter is scikit-learn's.

    Examples
    --------
    >>> from ferrotext.feature_extraction import HashingVectorizer
    >>> HashingVectorizer(n_features=8).transform(["a bb bb"]).nnz
    1
    """

    _parameter_constraints: dict = {
        **_sk.HashingVectorizer._parameter_constraints,
        **_N_JOBS_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        strip_accents=None,
        lowercase=True,
        preprocessor=None,
        tokenizer=None,
        stop_words=None,
        token_pattern=r"(?u)\b\w\w+\b",
        ngram_range=(1, 1),
        analyzer="word",
        n_features=(2**20),
        binary=False,
        norm="l2",
        alternate_sign=True,
        dtype=np.float64,
        n_jobs=None,
    ):
        super().__init__(
            input=input,
            encoding=encoding,
            decode_error=decode_error,
            strip_accents=strip_accents,
            lowercase=lowercase,
            preprocessor=preprocessor,
            tokenizer=tokenizer,
            stop_words=stop_words,
            token_pattern=token_pattern,
            ngram_range=ngram_range,
            analyzer=analyzer,
            n_features=n_features,
            binary=binary,
            norm=norm,
            alternate_sign=alternate_sign,
            dtype=dtype,
        )
        self.n_jobs = n_jobs

    def transform(self, X):
        """Transform a sequence of documents to a document-term matrix (see scikit-learn)."""
        _check_raw_documents(X)
        self._validate_ngram_range()
        self.build_analyzer()
        dtype = _rust_dtype(self.dtype)
        spec, payload, raw, counts = self._ft_prepare(X)
        res = None
        if spec is not None and dtype is not None:
            res = _core.hash_transform(
                payload, spec, int(self.n_features), bool(self.alternate_sign), dtype, self._ft_n_jobs(), counts
            )
        if res is None:
            return super().transform(raw)
        data, indices, indptr = res
        if len(indptr) == 1:
            raise ValueError("Cannot vectorize empty sequence.")
        Xt = sp.csr_array((data, indices, indptr), shape=(len(indptr) - 1, self.n_features), copy=False)
        if self.binary:
            Xt.data.fill(1)
        if self.norm is not None:
            if Xt.dtype.kind == "f":
                _core.tfidf_inplace(Xt.data, Xt.indices, Xt.indptr, None, False, self.norm, self._ft_n_jobs())
            else:
                Xt = _sk.normalize(Xt, norm=self.norm, copy=False)
        return _align_api_if_sparse(Xt)
