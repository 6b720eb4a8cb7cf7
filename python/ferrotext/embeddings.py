"""Word embeddings with a scikit-learn API: Word2Vec (skip-gram / CBOW, negative sampling or
hierarchical softmax), trained by a Hogwild Rust core that owns the epochs."""

from __future__ import annotations

import itertools
import numbers
import os
from array import array
import sys
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ferrotext import _core
from ferrotext._corpus import readable_paths
from ferrotext._validation import resolve_n_jobs, seed_from_random_state

_FILE_HINT = (
    ". A str or path is read as a file name; to train on text in memory pass a list of sentences, "
    "e.g. [text] or [text.split()]"
)
from ferrotext.keyedvectors import KeyedVectors

__all__ = ["Word2Vec"]


def _is_pathlike(x) -> bool:
    return isinstance(x, (str, bytes, os.PathLike))


class _Progress:
    """Progress display for ``verbose``: tqdm if installed, else a stderr line per second."""

    def __init__(self, epochs):
        self.epochs = epochs
        self.bar = None
        self.last_done = 0
        self.last_print = 0.0
        try:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
        except ImportError:
            self._tqdm = None

    def __call__(self, epoch, done, total, elapsed):
        rate = done / elapsed if elapsed > 0 else 0.0
        if self._tqdm is not None:
            if self.bar is None:
                self.bar = self._tqdm(total=total, unit="word", unit_scale=True, desc="word2vec")
            self.bar.update(done - self.last_done)
            self.bar.set_postfix(epoch=f"{epoch + 1}/{self.epochs}", refresh=False)
            self.last_done = done
        elif elapsed - self.last_print >= 1.0 or done >= total:
            self.last_print = elapsed
            pct = 100.0 * done / total if total else 100.0
            print(f"word2vec: epoch {epoch + 1}/{self.epochs}, {pct:5.1f}% of words, {rate:,.0f} words/s", file=sys.stderr)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Word2Vec(TransformerMixin, BaseEstimator):
    """word2vec word embeddings (Mikolov et al. 2013), as word2vec.c and gensim train them.

    Parameters follow gensim's names and defaults where gensim has them (``architecture`` and
    ``loss`` replace ``sg``/``hs``). ``fit`` accepts

    * a list (or any re-iterable) of token lists;
    * a list of strings, split by ``tokenizer`` (default: whitespace);
    * a path (``str`` or ``os.PathLike``), or a list of ``os.PathLike`` paths, of text files with
      one sentence per line (``.gz`` allowed), streamed from disk each epoch in blocks, so
      memory does not grow with the corpus;
    * a one-shot iterator/generator, which is read once into the token buffer (every epoch
      then sees the whole corpus).

    Sentences longer than 10,000 tokens are split (never truncated).

    Parameters
    ----------
    vector_size : int, default=100
    window : int, default=5
        Maximum distance between a word and a context word.
    min_count : int, default=5
        Words seen fewer times are ignored.
    max_vocab_size : int, optional
        Bound on the number of distinct words while counting (gensim's pruning).
    max_final_vocab : int, optional
        Raise the effective ``min_count`` so that at most this many words are kept.
    sample : float, default=1e-3
        Subsampling threshold for frequent words (0 disables).
    architecture : {"cbow", "skipgram"}, default="cbow"
        gensim's default ``sg=0`` is CBOW.
    loss : {"negative", "hierarchical_softmax"}, default="negative"
    negative : int, default=5
    ns_exponent : float, default=0.75
    cbow_mean : bool, default=True
    alpha, min_alpha : float, default=0.025, 0.0001
        Learning rate, decayed linearly over all epochs. With sentences in memory it falls
        evenly from ``alpha`` to ``min_alpha`` (gensim with sentences). With corpus files it
        follows gensim's ``corpus_file`` mode: each of the ``n_jobs`` workers there reads its
        own 1/``n_jobs`` share of the file and measures progress by its own words against the
        whole corpus, so within every epoch the rate falls only 1/``n_jobs`` of that epoch's
        step, and it ends near ``alpha * (1 - 1/n_jobs) / epochs``. With ``n_jobs=1`` both are the
        same.
    epochs : int, default=5
    shrink_windows : bool, default=True
    n_jobs : int, optional
        Threads (None: all cores). With ``n_jobs=1`` and an int ``random_state`` the vectors
        are bit-identical across runs and processes; with more threads Hogwild training is
        nondeterministic.
    random_state : int, RandomState or None
    verbose : int, default=0
        Progress with words/s (tqdm if installed, else stderr).
    tokenizer : callable, optional
        Splits a string document into tokens (default ``str.split``).

    Attributes
    ----------
    wv : KeyedVectors
        The word vectors (``wv.vectors`` is ``syn0``).
    syn1neg_ / syn1_ : ndarray
        Output weights (negative sampling / hierarchical softmax).
    training_loss_ : ndarray of shape (epochs,)
        Summed loss of each epoch of the last ``fit``/``partial_fit``.
    corpus_count_, corpus_total_words_ : int
        Sentences and tokens seen when the vocabulary was built.
    words_per_second_ : float
        Training throughput of the last call (in-vocabulary words per second).

    Examples
    --------
    >>> from ferrotext import Word2Vec
    >>> docs = [["cat", "sat", "on", "mat"], ["dog", "sat", "on", "log"]] * 50
    >>> model = Word2Vec(vector_size=8, min_count=1, n_jobs=1, random_state=0).fit(docs)
    >>> model.wv["cat"].shape
    (8,)
    >>> model.transform([["cat", "dog"], ["unknown"]]).shape
    (2, 8)
    """

    _parameter_constraints = {
        # fastText's own cap: a typo like 10**12 must raise, not abort on a huge allocation
        "vector_size": [Interval(numbers.Integral, 1, 100_000, closed="both")],
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_count": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_vocab_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_final_vocab": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "sample": [Interval(numbers.Real, 0, None, closed="left")],
        "architecture": [StrOptions({"skipgram", "cbow"})],
        "loss": [StrOptions({"negative", "hierarchical_softmax"})],
        "negative": [Interval(numbers.Integral, 0, None, closed="left")],
        "ns_exponent": [Interval(numbers.Real, None, None, closed="neither")],
        "cbow_mean": ["boolean"],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "min_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "shrink_windows": ["boolean"],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "tokenizer": [callable, None],
    }

    def __init__(
        self,
        *,
        vector_size=100,
        window=5,
        min_count=5,
        max_vocab_size=None,
        max_final_vocab=None,
        sample=1e-3,
        architecture="cbow",
        loss="negative",
        negative=5,
        ns_exponent=0.75,
        cbow_mean=True,
        alpha=0.025,
        min_alpha=0.0001,
        epochs=5,
        shrink_windows=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
        tokenizer=None,
    ):
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.max_final_vocab = max_final_vocab
        self.sample = sample
        self.architecture = architecture
        self.loss = loss
        self.negative = negative
        self.ns_exponent = ns_exponent
        self.cbow_mean = cbow_mean
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self.shrink_windows = shrink_windows
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.tokenizer = tokenizer

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = True
        return tags

    # ------------------------------------------------------------------ corpus
    def _corpus(self, X):
        """('files', [paths]) or ('memory', re-iterable of sentences)."""
        if X is None:
            raise ValueError("corpus is None")
        if _is_pathlike(X):
            return "files", readable_paths([X], _FILE_HINT)
        if isinstance(X, (list, tuple)) and X and all(isinstance(x, os.PathLike) for x in X):
            return "files", readable_paths(X, _FILE_HINT)
        if isinstance(X, np.ndarray):
            X = X.tolist()
        if iter(X) is X:  # one-shot iterator: read it once
            X = list(X)
        return "memory", X

    def _sentences(self, X):
        split = self.tokenizer if self.tokenizer is not None else str.split
        for sent in X:
            if isinstance(sent, str):
                yield split(sent)
            elif isinstance(sent, (bytes, bytearray)) or not hasattr(sent, "__iter__"):
                raise TypeError(f"each sentence must be a string or a list of string tokens, got {type(sent).__name__}")
            else:
                yield sent

    def _count(self, kind, X, keep=()):
        """(words, counts, total_tokens, n_sentences) of the words counted at least
        ``min_count`` times or in ``keep`` (the others can never enter the model)."""
        if kind == "files":
            return _core.w2v_count_files(X, self.max_vocab_size, self.min_count, set(keep))
        counter = Counter()
        total = 0
        n_sent = 0
        min_reduce = 1
        for toks in self._sentences(X):
            counter.update(toks)
            total += len(toks)
            n_sent += 1
            if self.max_vocab_size is not None and len(counter) > self.max_vocab_size:
                counter = Counter({w: c for w, c in counter.items() if c >= min_reduce})
                min_reduce += 1
        # A sentinel, not None: a None token is itself a bad token.
        not_found = object()
        bad = next((w for w in counter if type(w) is not str), not_found)
        if bad is not not_found:
            raise TypeError(f"tokens must be str, got {type(bad).__name__} ({bad!r})")
        kept = [(w, c) for w, c in counter.items() if c >= self.min_count or w in keep]
        return [w for w, _ in kept], [c for _, c in kept], total, n_sent

    def _select_vocab(self, words, counts):
        counts = np.asarray(counts, dtype=np.int64)
        min_count = self.min_count
        if self.max_final_vocab is not None:
            kept = np.sort(counts[counts >= min_count])[::-1]
            if len(kept) > self.max_final_vocab:
                min_count = max(min_count, int(kept[self.max_final_vocab]) + 1)
        keep = np.flatnonzero(counts >= min_count)
        order = keep[np.argsort(-counts[keep], kind="stable")]
        return [words[i] for i in order], counts[order]

    def _encode(self, X, key_to_index):
        """Flat uint32 token buffer + uint64 sentence ends over the known words."""
        get = key_to_index.get
        missing = itertools.repeat(-1)
        ids = array("q")
        lens = []
        for toks in self._sentences(X):
            before = len(ids)
            ids.extend(map(get, toks, missing))
            lens.append(len(ids) - before)
        ids = np.frombuffer(ids, dtype=np.int64) if len(ids) else np.zeros(0, np.int64)
        keep = ids >= 0
        sentence = np.repeat(np.arange(len(lens)), lens)
        kept = np.bincount(sentence[keep], minlength=len(lens))
        tokens = np.ascontiguousarray(ids[keep], dtype=np.uint32)
        ends = np.cumsum(kept, dtype=np.uint64)
        return tokens, ends

    # ------------------------------------------------------------------ training
    def _train(self, kind, X, words, counts, syn0, syn1, words_total, seed):
        """Trains on the vocabulary ``words``; ``syn0``/``syn1`` None: Rust initialises them
        (seeded random rows / zeros) in its own training matrices, so no numpy copies exist
        while training. Returns the trained ``syn0``."""
        progress = _Progress(self.epochs) if self.verbose else None
        kwargs = dict(
            vector_size=self.vector_size,
            window=self.window,
            sample=float(self.sample),
            architecture=self.architecture,
            loss=self.loss,
            negative=self.negative,
            ns_exponent=float(self.ns_exponent),
            cbow_mean=bool(self.cbow_mean),
            alpha=float(self.alpha),
            min_alpha=float(self.min_alpha),
            epochs=self.epochs,
            shrink_windows=bool(self.shrink_windows),
            n_threads=resolve_n_jobs(self.n_jobs),
            seed=seed,
            counts=np.ascontiguousarray(counts, dtype=np.uint64),
            words_total=int(words_total),
            syn0=None if syn0 is None else np.ascontiguousarray(syn0, dtype=np.float32),
            syn1=None if syn1 is None else np.ascontiguousarray(syn1, dtype=np.float32),
            progress=progress,
        )
        if kind == "files":
            kwargs.update(paths=X, vocab=list(words))
        else:
            tokens, ends = self._encode(X, {w: i for i, w in enumerate(words)})
            kwargs.update(tokens=tokens, sentence_ends=ends)
        try:
            syn0, syn1, loss, raw, effective, seconds = _core.w2v_train(**kwargs)
        finally:
            if progress is not None:
                progress.close()
        if self.loss == "negative":
            self.syn1neg_ = syn1
        else:
            self.syn1_ = syn1
        self.training_loss_ = loss
        self.train_seconds_ = seconds
        self.effective_words_ = int(effective)
        self.words_per_second_ = raw / seconds if seconds > 0 else float("inf")
        if self.verbose:
            print(
                f"word2vec: {raw:,} words ({effective:,} after subsampling) in {seconds:.1f} s, "
                f"{self.words_per_second_:,.0f} words/s, loss per epoch {np.round(loss, 1).tolist()}",
                file=sys.stderr,
            )
        return syn0

    def _check_words_total(self, words_total):
        if words_total == 0:
            raise ValueError(
                f"no word occurs at least min_count={self.min_count} times: nothing to train "
                "(lower min_count or give a larger corpus)"
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Builds the vocabulary and trains from scratch. Returns self."""
        kind, X = self._corpus(X)
        if self.verbose:
            print("word2vec: counting words ...", file=sys.stderr, flush=True)
        words, raw_counts, total, n_sent = self._count(kind, X)
        if total == 0:
            raise ValueError("empty corpus: no tokens to train on")
        words, counts = self._select_vocab(words, raw_counts)
        if self.verbose:
            # gensim logs the same figures at INFO ("collected ... word types from a corpus of ...").
            print(
                f"word2vec: {int(total):,} words in {int(n_sent):,} sentences; vocabulary "
                f"{len(words):,} words (min_count={self.min_count})",
                file=sys.stderr,
                flush=True,
            )
        if len(words) == 0:
            raise ValueError(
                f"every word occurs fewer than min_count={self.min_count} times: the vocabulary is empty"
            )
        if self.loss == "negative" and self.negative < 1:
            raise ValueError("negative must be >= 1 when loss='negative'")
        self._seed = seed_from_random_state(self.random_state)
        self._n_calls = 0
        self.corpus_count_ = int(n_sent)
        self.corpus_total_words_ = int(total)
        for attr in ("syn1neg_", "syn1_"):
            if hasattr(self, attr):
                delattr(self, attr)
        # Rust draws syn0 as w2v_init_vectors(0, len(words), vector_size, seed) would.
        syn0 = self._train(kind, X, words, counts, None, None, int(counts.sum()), self._seed)
        self.wv = KeyedVectors(syn0, words, counts)
        return self

    def partial_fit(self, X, y=None):
        """Continues training on ``X`` (first call: same as ``fit``). Words of ``X`` reaching
        ``min_count`` in ``X`` join the vocabulary; known words' counts grow by their counts in
        ``X``; the learning rate decays again from ``alpha`` over ``X``."""
        if not hasattr(self, "wv"):
            return self.fit(X, y)
        self._validate_params()
        kind, X = self._corpus(X)
        words, raw_counts, total, n_sent = self._count(kind, X, keep=self.wv.key_to_index)
        if total == 0:
            raise ValueError("empty corpus: no tokens to train on")
        kv = self.wv
        old_n = len(kv)
        counts = kv.counts.copy()
        new_words, new_counts = [], []
        for w, c in zip(words, raw_counts):
            i = kv.key_to_index.get(w)
            if i is not None:
                counts[i] += c
            elif c >= self.min_count:
                new_words.append(w)
                new_counts.append(c)
        syn1_name = "syn1neg_" if self.loss == "negative" else "syn1_"
        syn1 = getattr(self, syn1_name, None)
        if syn1 is None or syn1.shape != kv.vectors.shape:
            syn1 = np.zeros_like(kv.vectors)
        if new_words:
            new_rows = _core.w2v_init_vectors(old_n, len(new_words), self.vector_size, self._seed)
            vectors = np.vstack([kv.vectors, new_rows])
            syn1 = np.vstack([syn1, np.zeros((len(new_words), self.vector_size), np.float32)])
            counts = np.concatenate([counts, np.asarray(new_counts, np.int64)])
            self.wv = KeyedVectors(vectors, kv.index_to_key + new_words, counts, n_jobs=kv.n_jobs)
        else:
            self.wv.counts = counts
        known = {w: c for w, c in zip(words, raw_counts) if w in self.wv.key_to_index}
        words_total = sum(known.values())
        self._check_words_total(words_total)
        self._n_calls += 1
        seed = (self._seed ^ (self._n_calls * 0x9E3779B97F4A7C15)) & 0xFFFFFFFFFFFFFFFF
        self.corpus_count_ += int(n_sent)
        self.corpus_total_words_ += int(total)
        kv = self.wv
        kv.vectors = self._train(kind, X, kv.index_to_key, kv.counts, kv.vectors, syn1, words_total, seed)
        kv._norms = None
        return self

    def transform(self, X):
        """Mean vector of each document's known words (zeros when it has none):
        ``(n_documents, vector_size)`` float32. Documents are token lists or strings."""
        check_is_fitted(self, "wv")
        kind, X = self._corpus(X)
        if kind == "files":
            raise TypeError("transform takes documents (strings or token lists), not file paths")
        return self.wv._document_means(self._sentences(X), len(X))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "wv")
        return np.asarray([f"word2vec{i}" for i in range(self.vector_size)], dtype=object)

    def save_word2vec_format(self, fname, binary=False, **kwargs):
        """Shortcut for ``self.wv.save_word2vec_format``."""
        check_is_fitted(self, "wv")
        self.wv.save_word2vec_format(fname, binary=binary, **kwargs)

