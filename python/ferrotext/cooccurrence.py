"""Word-word co-occurrence matrices as Stanford GloVe's ``vocab_count`` + ``cooccur`` count them."""

from __future__ import annotations

import numbers
import os
import re
import sys
from array import array
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from ferrotext import _core
from ferrotext._corpus import readable_paths
from ferrotext._validation import resolve_n_jobs

__all__ = ["cooccurrence_matrix"]

_DROPPED = np.iinfo(np.uint32).max
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}


def _parse_memory_limit(limit):
    """Bytes from an int or a string such as ``"64MB"`` (binary units: 1 KB = 1024 bytes)."""
    if limit is None:
        return None
    if isinstance(limit, bool):
        raise TypeError(f"memory_limit must be a number of bytes or a string like '64MB', got {limit!r}")
    if isinstance(limit, numbers.Integral):
        value = int(limit)
    elif isinstance(limit, numbers.Real):
        if not np.isfinite(limit):
            raise ValueError(f"memory_limit must be finite, got {limit!r}")
        value = int(limit)
    elif isinstance(limit, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", limit)
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(f"memory_limit {limit!r} is not a size such as '64MB', '1.5GB' or '4096'")
        value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    else:
        raise TypeError(f"memory_limit must be a number of bytes or a string like '64MB', got {type(limit).__name__}")
    if value <= 0:
        raise ValueError(f"memory_limit must be positive, got {limit!r}")
    return value


def _check_int(name, value, low, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


class _Progress:
    """tqdm bars (one per phase) for ``verbose``; a stderr line per phase without tqdm."""

    def __init__(self):
        self.bars = {}
        try:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
        except ImportError:  # pragma: no cover - tqdm is a test dependency
            self._tqdm = None

    def __call__(self, phase, done, total):
        if self._tqdm is None or total == 0:
            if phase not in self.bars:
                self.bars[phase] = None
                print(f"cooccurrence: {phase} ...", file=sys.stderr)
            return
        bar = self.bars.get(phase)
        if bar is None:
            bar = self._tqdm(total=total, desc=phase, unit="B" if self._files else "tok", unit_scale=True)
            self.bars[phase] = bar
        bar.update(done - bar.n)

    def close(self):
        for bar in self.bars.values():
            if bar is not None:
                bar.close()


def _is_pathlike(x):
    return isinstance(x, (str, bytes, os.PathLike))


def _paths(corpus):
    """The file paths of ``corpus``, or None when it is an in-memory corpus."""
    if _is_pathlike(corpus):
        return [os.fsdecode(corpus)]
    if isinstance(corpus, (list, tuple)) and corpus and all(isinstance(x, os.PathLike) for x in corpus):
        return [os.fspath(x) for x in corpus]
    return None


def _encode(corpus):
    """One pass over an in-memory corpus: provisional ids (first-seen order), document
    lengths, and the words. A one-shot iterator is read exactly once."""
    if isinstance(corpus, np.ndarray):
        corpus = corpus.tolist()
    try:
        docs = iter(corpus)
    except TypeError:
        raise TypeError(
            "corpus must be a path, a list of paths, or an iterable of documents "
            f"(strings or token lists), got {type(corpus).__name__}"
        ) from None
    index = defaultdict()
    index.default_factory = index.__len__  # a new word gets the next id
    get = index.__getitem__
    ids = array("I")
    lens = array("q")
    for doc in docs:
        if isinstance(doc, str):
            toks = doc.split()
        elif doc is None or isinstance(doc, (bytes, bytearray)) or not hasattr(doc, "__iter__"):
            raise TypeError(f"each document must be a string or a list of string tokens, got {type(doc).__name__}")
        else:
            toks = doc
        before = len(ids)
        try:
            ids.extend(map(get, toks))
        except TypeError as e:
            raise TypeError(f"tokens must be str ({e})") from None
        lens.append(len(ids) - before)
    words = list(index)
    bad = next((w for w in words if not isinstance(w, str)), index)
    if bad is not index:
        raise TypeError(f"tokens must be str, got {type(bad).__name__} ({bad!r})")
    words = [w if type(w) is str else str(w) for w in words]  # e.g. numpy.str_
    ids = np.frombuffer(ids, dtype=np.uint32) if len(ids) else np.zeros(0, np.uint32)
    ends = np.cumsum(np.frombuffer(lens, dtype=np.int64) if len(lens) else np.zeros(0, np.int64)).astype(np.uint64)
    return ids, ends, words


def _check_vocabulary(vocabulary):
    if isinstance(vocabulary, (str, bytes)) or not hasattr(vocabulary, "__iter__"):
        raise TypeError(f"vocabulary must be a list of str, got {type(vocabulary).__name__}")
    vocab = list(vocabulary)
    if not vocab:
        raise ValueError("vocabulary is empty")
    bad = next((w for w in vocab if not isinstance(w, str)), None)
    if bad is not None or any(w is None for w in vocab):
        raise TypeError(f"vocabulary entries must be str, got {type(bad).__name__} ({bad!r})")
    if len(set(vocab)) != len(vocab):
        seen = set()
        dup = next(w for w in vocab if w in seen or seen.add(w))
        raise ValueError(f"vocabulary has duplicate entries, e.g. {dup!r}")
    return [str(w) for w in vocab]


def cooccurrence_matrix(
    corpus,
    window=15,
    weighting="harmonic",
    symmetric=True,
    min_count=1,
    max_vocab_size=None,
    vocabulary=None,
    n_jobs=None,
    memory_limit=None,
    verbose=0,
):
    """Word-word co-occurrence counts in a sliding window, as GloVe's ``vocab_count`` and
    ``cooccur`` compute them.

    A document is one line of a file, one string, or one token list; no window crosses it.
    Words outside the vocabulary are removed before windows are formed (as ``cooccur`` skips
    them), so a window spans over them. For every word and each of the ``window`` words to its
    left at distance ``d``, the cell ``X[left, right]`` gains ``1/d`` (``"harmonic"``) or ``1``
    (``"uniform"``); with ``symmetric=True`` the cell ``X[right, left]`` gains the same (a word
    paired with itself therefore gains twice on the diagonal), so ``X`` is symmetric. With
    ``symmetric=False`` only ``X[left, right]`` is counted, as ``cooccur -symmetric 0``.

    Differences from the C tools, all deliberate: tokens are split on any whitespace (as
    ``str.split``; cooccur splits on space and tab only and drops ``\\r``), long words are not
    truncated at 1000 bytes, a literal ``<unk>`` is an ordinary word (vocab_count refuses it),
    and ``max_vocab_size`` breaks count ties alphabetically (vocab_count pseudo-randomly).
    Sums of the same cell may be added in a different order than cooccur's, so values agree
    to rounding (about 1e-15 relative); uniform weighting gives exact integers.

    Parameters
    ----------
    corpus : path, list of paths, or iterable of documents
        A path (``str`` / ``os.PathLike``) or a list of ``os.PathLike`` paths of text files
        (``.gz`` allowed; one document per line; streamed from disk twice, memory does not grow
        with the corpus beyond the matrix), or an iterable of documents: strings (split on
        whitespace) or token lists. A one-shot generator is read once, entirely.
    window : int, default=15
        Context words on each side (the note's "window of 2" words is ``window=1``).
    weighting : {"harmonic", "uniform"}, default="harmonic"
    symmetric : bool, default=True
    min_count : int, default=1
        Words seen fewer times are dropped from the corpus.
    max_vocab_size : int, optional
        Keep at most this many most frequent words (ties alphabetical).
    vocabulary : list of str, optional
        Use these words, in this order, as rows and columns; other words are dropped
        (``min_count`` and ``max_vocab_size`` are then ignored).
    n_jobs : int, optional
        Threads (None: all cores).
    memory_limit : int or str, optional
        Bytes (or e.g. ``"64MB"``, binary units) the counting buffers may take; beyond it
        sorted runs are written to a temporary directory and merged at the end (the returned
        matrix itself is not included).
    verbose : int, default=0
        Progress bars (tqdm).

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_words, n_words), float64
    vocabulary : list of str
        Words in index order: by count descending, ties alphabetical (or as given).

    Examples
    --------
    >>> X, vocab = cooccurrence_matrix(["I like deep learning"], window=1)
    >>> vocab
    ['I', 'deep', 'learning', 'like']
    >>> X.toarray()
    array([[0., 0., 0., 1.],
           [0., 0., 1., 1.],
           [0., 1., 0., 0.],
           [1., 1., 0., 0.]])
    """
    if corpus is None:
        raise TypeError("corpus is None")
    window = _check_int("window", window, 1)
    if not isinstance(weighting, str) or weighting not in ("harmonic", "uniform"):
        raise ValueError(f"weighting must be 'harmonic' or 'uniform', got {weighting!r}")
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"symmetric must be a bool, got {symmetric!r}")
    min_count = _check_int("min_count", min_count, 1)
    max_vocab_size = _check_int("max_vocab_size", max_vocab_size, 1, allow_none=True)
    vocab = None if vocabulary is None else _check_vocabulary(vocabulary)
    n_threads = resolve_n_jobs(n_jobs)
    limit = _parse_memory_limit(memory_limit)
    progress = _Progress() if verbose else None
    paths = _paths(corpus)
    if progress is not None:
        progress._files = paths is not None
    common = dict(window=window, weighting=weighting, symmetric=bool(symmetric), n_threads=n_threads,
                  memory_limit=limit, progress=progress)
    try:
        if paths is not None:
            paths = readable_paths(
                paths, ". A str or path is read as a file name; for text in memory pass a list of documents, e.g. [text]"
            )
            if vocab is None:
                words, counts, total = _core.cooccur_count_files(paths, n_threads, progress)
                if total == 0:
                    raise ValueError("empty corpus: no tokens")
                vocab, _ = _core.cooccur_select_vocabulary(words, counts, min_count, max_vocab_size)
                _check_not_empty(vocab, min_count, max_vocab_size)
            (indptr, indices, data), *info = _core.cooccur_count(paths=paths, vocab=vocab, **common)
        else:
            ids, ends, words = _encode(corpus)
            if len(ids) == 0:
                raise ValueError("empty corpus: no tokens")
            if vocab is None:
                counts = np.bincount(ids, minlength=len(words)).astype(np.uint64)
                vocab, _ = _core.cooccur_select_vocabulary(words, counts.tolist(), min_count, max_vocab_size)
                _check_not_empty(vocab, min_count, max_vocab_size)
            rank = {w: i for i, w in enumerate(vocab)}
            remap = np.fromiter((rank.get(w, _DROPPED) for w in words), dtype=np.uint32, count=len(words))
            tokens = remap[ids]
            del ids
            (indptr, indices, data), *info = _core.cooccur_count(
                tokens=tokens, doc_ends=ends, vocab_size=len(vocab), **common
            )
    finally:
        if progress is not None:
            progress.close()
    if len(data) < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    else:
        indices = indices.astype(np.int64)
    n = len(vocab)
    if verbose:
        tokens_counted, runs, spilled, seconds = info
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in seconds)
        print(
            f"cooccurrence: {n:,} words, {tokens_counted:,} tokens counted, {len(data):,} nonzero cells; "
            f"{runs} sorted runs ({spilled} spilled to disk); {phases}",
            file=sys.stderr,
        )
    return sp.csr_matrix((data, indices, indptr), shape=(n, n)), list(vocab)


def _check_not_empty(vocab, min_count, max_vocab_size):
    if not vocab:
        raise ValueError(
            f"every word occurs fewer than min_count={min_count} times: the vocabulary is empty"
        )
