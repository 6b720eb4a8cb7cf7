"""KeyedVectors: a vocabulary of word vectors with gensim's query API.

Queries follow gensim 4's ``KeyedVectors`` (``most_similar``, ``most_similar_cosmul``,
``similarity``, ``doesnt_match``, ``evaluate_word_analogies``, ``evaluate_word_pairs``) and the
files follow word2vec.c's text and binary formats, so results and files can be compared with
gensim directly. Nearest-neighbour search is brute force in Rust over all rows, in parallel,
batched when there are many queries (analogy evaluation).
"""

from __future__ import annotations

import errno
import gzip
import itertools
import numbers
import os
import re
import stat
import warnings

import numpy as np

from ferrotext import _core
from ferrotext._validation import resolve_n_jobs

__all__ = ["KeyedVectors"]

_READ_PIECE = 1 << 20  # never ask the OS for more than 1 MiB at once (hostile headers)
_MAX_WORD_BYTES = 1 << 16
# Empty keys, or keys with a space or newline, split differently when read back (both readers
# split rows on " " and lines on "\n").
_UNWRITABLE_KEY = re.compile(r"^$|[ \n]")


def _open(path, mode="rb"):
    path = os.fspath(path)
    if os.path.isdir(path):
        # open() would say only "[Errno 21] Is a directory" from deep inside a reader.
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a vector file", path)
    if path.endswith(".gz"):
        return gzip.open(path, mode)
    return open(path, mode)


class KeyedVectors:
    """Word vectors addressed by key.

    Parameters
    ----------
    vectors : array-like of shape (n_keys, vector_size)
        The vectors; stored as a C-contiguous float32 array.
    index_to_key : sequence of str
        The key of each row.
    counts : array-like of int, optional
        Corpus count of each key (used to order ``save_word2vec_format``'s output).
    n_jobs : int, optional
        Threads for neighbour search (None: all cores).

    Examples
    --------
    >>> import numpy as np
    >>> kv = KeyedVectors(np.eye(3, dtype=np.float32), ["a", "b", "c"])
    >>> kv["b"]
    array([0., 1., 0.], dtype=float32)
    >>> kv.similarity("a", "b")
    0.0
    """

    def __init__(self, vectors, index_to_key, counts=None, *, n_jobs=None):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {vectors.shape}")
        index_to_key = list(index_to_key)
        if len(index_to_key) != vectors.shape[0]:
            raise ValueError(f"{len(index_to_key)} keys for {vectors.shape[0]} vectors")
        key_to_index = {}
        for i, k in enumerate(index_to_key):
            if k in key_to_index:
                raise ValueError(f"duplicate key {k!r}")
            key_to_index[k] = i
        self.vectors = vectors
        self.index_to_key = index_to_key
        self.key_to_index = key_to_index
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        if self.counts is not None and self.counts.shape != (len(index_to_key),):
            raise ValueError("counts must have one entry per key")
        self.n_jobs = n_jobs
        self._norms = None

    # ----------------------------------------------------------------- basics
    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of each row (float32), computed once."""
        if self._norms is None or self._norms.shape[0] != self.vectors.shape[0]:
            self._norms = np.linalg.norm(self.vectors, axis=1).astype(np.float32)
        return self._norms

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key) -> bool:
        return key in self.key_to_index

    def __iter__(self):
        return iter(self.index_to_key)

    def __repr__(self) -> str:
        return f"KeyedVectors<{len(self)} keys, vector_size={self.vector_size}>"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_norms"] = None
        return state

    def has_index_for(self, key) -> bool:
        return key in self.key_to_index

    def get_index(self, key) -> int:
        """Row of ``key``; KeyError naming the key when it is missing."""
        try:
            return self.key_to_index[key]
        except (KeyError, TypeError):
            raise KeyError(f"Key '{key}' not present") from None

    def get_vector(self, key, norm=False) -> np.ndarray:
        i = self.get_index(key)
        if norm:
            return self.vectors[i] / self.norms[i]
        return self.vectors[i]

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.get_vector(key)
        return np.vstack([self.get_vector(k) for k in key])

    def get_normed_vectors(self) -> np.ndarray:
        return self.vectors / self.norms[:, None]

    def _threads(self) -> int:
        return resolve_n_jobs(getattr(self, "n_jobs", None))

    def _top_k(self, queries, k, restrict=None):
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        restrict = len(self) if restrict is None else int(restrict)
        return _core.kv_top_k(self.vectors, self.norms, queries, int(k), restrict, self._threads())

    def _document_means(self, token_lists, n_documents):
        """Mean vector of each document's known tokens (zeros when it has none), float32
        ``(n_documents, vector_size)``: the ``transform`` of Word2Vec and GloVe."""
        get = self.key_to_index.get
        out = np.zeros((n_documents, self.vector_size), np.float32)
        for row, tokens in enumerate(token_lists):
            ids = [i for i in map(get, tokens) if i is not None]
            if ids:
                out[row] = self.vectors[ids].mean(axis=0)
        return out

    # ----------------------------------------------------------------- queries
    def get_mean_vector(self, keys, weights=None, pre_normalize=True, post_normalize=False, ignore_missing=True):
        """Weighted mean of (unit) vectors of keys or raw vectors, as gensim's."""
        if len(keys) == 0:
            raise ValueError("cannot compute mean with no input")
        weights = np.ones(len(keys), np.float32) if weights is None else np.asarray(weights, np.float32)
        if len(keys) != weights.shape[0]:
            raise ValueError("keys and weights array must have same number of elements")
        mean = np.zeros(self.vector_size, np.float32)
        total = 0.0
        for w, key in zip(weights, keys):
            if isinstance(key, np.ndarray):
                mean += w * key
                total += abs(w)
            elif key in self:
                mean += w * self.get_vector(key, norm=pre_normalize)
                total += abs(w)
            elif not ignore_missing:
                raise KeyError(f"Key '{key}' not present in vocabulary")
        if total > 0:
            mean = mean / total
        if post_normalize:
            n = np.linalg.norm(mean)
            if n > 0:
                mean = (mean / n).astype(np.float32)
        return mean

    @staticmethod
    def _weighted(positive, negative):
        def as_list(x):
            if x is None:
                return []
            if isinstance(x, (str, np.ndarray)):
                return [x]
            return list(x)

        positive, negative = as_list(positive), as_list(negative)
        keys, weights = [], []
        for items, sign in ((positive, 1.0), (negative, -1.0)):
            for item in items:
                if isinstance(item, tuple) and len(item) == 2 and not isinstance(item, np.ndarray):
                    keys.append(item[0])
                    weights.append(sign * float(item[1]))
                else:
                    keys.append(item)
                    weights.append(sign)
        return keys, weights

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """Top-``topn`` keys by cosine similarity to the mean of the unit vectors of
        ``positive`` minus ``negative`` (keys or vectors); input keys are excluded.
        ``topn=None`` returns the similarity to every key."""
        if isinstance(topn, numbers.Integral) and topn < 1:
            return []
        keys, weights = self._weighted(positive, negative)
        mean = self.get_mean_vector(keys, weights, pre_normalize=True, post_normalize=True, ignore_missing=False)
        exclude = {self.key_to_index[k] for k in keys if isinstance(k, str) and k in self}
        stop = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        if not topn:
            return self.vectors[:stop] @ mean / self.norms[:stop]
        idx, sims = self._top_k(mean, topn + len(exclude), stop)
        out = [(self.index_to_key[i], float(s)) for i, s in zip(idx[0], sims[0]) if i not in exclude]
        return out[:topn]

    def most_similar_many(self, keys, topn=10, restrict_vocab=None):
        """``most_similar(key, topn)`` for many keys in one parallel call."""
        rows = [self.get_index(k) for k in keys]
        if not rows:
            return []
        q = self.vectors[rows] / self.norms[rows][:, None]
        stop = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        idx, sims = self._top_k(q, topn + 1, stop)
        return [
            [(self.index_to_key[i], float(s)) for i, s in zip(ii, ss) if i != r][:topn]
            for r, ii, ss in zip(rows, idx, sims)
        ]

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[np.asarray(vector, np.float32)], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """3CosMul (Levy & Goldberg 2014), as gensim: prod((1+cos)/2 of positives) /
        (prod((1+cos)/2 of negatives) + 1e-6)."""
        if isinstance(topn, numbers.Integral) and topn < 1:
            return []
        positive = [positive] if isinstance(positive, (str, np.ndarray)) else list(positive or [])
        negative = [negative] if isinstance(negative, (str, np.ndarray)) else list(negative or [])
        exclude = {self.key_to_index[w] for w in positive + negative if isinstance(w, str) and w in self}
        stop = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        vecs, norms = self.vectors[:stop], self.norms[:stop]

        def term(w):
            v = self.get_vector(w, norm=True) if isinstance(w, str) else np.asarray(w, np.float32)
            return (1 + vecs @ v / norms) / 2

        pos = [term(w) for w in positive]
        neg = [term(w) for w in negative]
        dists = np.prod(pos, axis=0) / (np.prod(neg, axis=0) + 0.000001)
        if not topn:
            return dists
        best = np.argsort(-dists, kind="stable")[: topn + len(exclude)]
        return [(self.index_to_key[i], float(dists[i])) for i in best if i not in exclude][:topn]

    def similarity(self, w1, w2) -> float:
        a, b = self.get_vector(w1), self.get_vector(w2)
        return float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))

    def distance(self, w1, w2) -> float:
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2) -> float:
        if not len(ws1) or not len(ws2):
            raise ZeroDivisionError("At least one of the passed list is empty.")
        a = self.get_mean_vector(ws1, pre_normalize=False)
        b = self.get_mean_vector(ws2, pre_normalize=False)
        return float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))

    def doesnt_match(self, words):
        """The word furthest from the mean of the (known) words."""
        used = [w for w in words if w in self]
        if not used:
            raise ValueError("cannot select a word from an empty list")
        vecs = np.vstack([self.get_vector(w, norm=True) for w in used]).astype(np.float32)
        mean = self.get_mean_vector(vecs, pre_normalize=True, post_normalize=True)
        dists = vecs @ mean
        return sorted(zip(dists, used))[0][1]

    # ----------------------------------------------------------------- evaluation
    def _ok_vocab(self, restrict_vocab, case_insensitive):
        ok_keys = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            return {k.upper(): self.key_to_index[k] for k in reversed(ok_keys)}
        return {k: self.key_to_index[k] for k in reversed(ok_keys)}

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True, dummy4unknown=False):
        """Accuracy on an analogy file (``: section`` headers, ``a b c d`` lines), 3CosAdd
        among the first ``restrict_vocab`` keys, exactly as gensim's method (and word2vec.c's
        ``compute-accuracy``), but all questions are answered in one batched parallel search.

        Returns
        -------
        score : float
            Overall accuracy.
        sections : list of dict
            ``{'section', 'correct', 'incorrect'}`` per section, then ``'Total accuracy'``.
        """
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        sections, section = [], None
        pending = []  # (section dict, (a, b, c, expected))
        quadruplets = 0
        with _open(analogies, "rb") as fin:
            for line_no, raw in enumerate(fin):
                line = raw.decode("utf8")
                if line.startswith(": "):
                    if section:
                        sections.append(section)
                    section = {"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []}
                    continue
                if not section:
                    raise ValueError(f"Missing section header before line #{line_no} in {analogies}")
                words = line.split()
                if len(words) != 4:
                    continue
                if case_insensitive:
                    words = [w.upper() for w in words]
                quadruplets += 1
                if any(w not in ok_vocab for w in words):
                    if dummy4unknown:
                        section["incorrect"].append(tuple(words))
                    continue
                pending.append((section, tuple(words)))
        if section:
            sections.append(section)
        if pending:
            norms = self.norms
            rows = np.array([[ok_vocab[w] for w in q[:3]] for _, q in pending], dtype=np.int64)
            unit = self.vectors[rows] / norms[rows][:, :, None]  # (n, 3, dim)
            mean = (unit[:, 1] + unit[:, 2] - unit[:, 0]) / 3.0
            mean /= np.linalg.norm(mean, axis=1, keepdims=True)
            idx, _ = self._top_k(mean, 5 + 3, min(restrict_vocab, len(self)))
            for (sec, (a, b, c, expected)), cand, excl in zip(pending, idx, rows):
                excl = set(excl.tolist())
                top = [i for i in cand if i not in excl][:5]
                ignore = {a, b, c}
                predicted = None
                for i in top:
                    key = self.index_to_key[i]
                    predicted = key.upper() if case_insensitive else key
                    if predicted in ok_vocab and predicted not in ignore:
                        break
                if predicted == expected:
                    sec["correct"].append((a, b, c, expected))
                else:
                    sec["incorrect"].append((a, b, c, expected))
        total = {
            "section": "Total accuracy",
            "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
            "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections)),
        }
        n = len(total["correct"]) + len(total["incorrect"])
        score = len(total["correct"]) / n if n else 0.0
        sections.append(total)
        return score, sections

    def evaluate_word_pairs(
        self, pairs, delimiter="\t", encoding="utf8", restrict_vocab=300000, case_insensitive=True, dummy4unknown=False
    ):
        """Pearson and Spearman correlation of model similarities with human scores
        (``word1<delim>word2<delim>score`` lines, ``#`` comments), as gensim's method.

        Returns
        -------
        pearson : scipy PearsonRResult
        spearman : scipy SignificanceResult
        oov_ratio : float
            Percentage of pairs with an unknown word.
        """
        from scipy import stats

        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        gold, model = [], []
        oov = 0
        unit = None
        with _open(pairs, "rb") as fin:
            for raw in fin:
                line = raw.decode(encoding)
                if not line or line.startswith("#"):
                    continue
                try:
                    parts = line.split(delimiter)
                    if case_insensitive:
                        parts = [w.upper() for w in parts]
                    a, b, sim = parts
                    sim = float(sim)
                except (ValueError, TypeError):
                    continue
                if a not in ok_vocab or b not in ok_vocab:
                    oov += 1
                    if dummy4unknown:
                        model.append(0.0)
                        gold.append(sim)
                    continue
                if unit is None:
                    unit = self.norms
                va, vb = self.vectors[ok_vocab[a]], self.vectors[ok_vocab[b]]
                gold.append(sim)
                model.append(float(np.dot(va / np.linalg.norm(va), vb / np.linalg.norm(vb))))
        if not gold:
            raise ValueError(f"No valid similarity judgements found in {pairs}: either invalid format or all are out-of-vocabulary")
        spearman = stats.spearmanr(gold, model)
        pearson = stats.pearsonr(gold, model)
        if dummy4unknown:
            oov_ratio = float(oov) / len(gold) * 100
        else:
            oov_ratio = float(oov) / (len(gold) + oov) * 100
        return pearson, spearman, oov_ratio

    # ----------------------------------------------------------------- files
    def _save_order(self):
        if self.counts is None:
            return list(range(len(self)))
        return sorted(range(len(self)), key=lambda i: -int(self.counts[i]))

    def save_word2vec_format(self, fname, fvocab=None, binary=False, write_header=True, prefix=""):
        """Writes word2vec.c's format byte for byte as gensim 4 does: header ``"V D\\n"``; text
        rows ``key v1 v2 ...\\n`` (``str`` of each float32); binary rows ``key `` + D float32
        little-endian (no newline, like gensim; word2vec.c adds one, and both readers accept
        either). Keys are written by descending count when counts are known."""
        order = self._save_order()
        bad = next((k for k in self.index_to_key if not isinstance(k, str) or _UNWRITABLE_KEY.search(k)), None)
        if bad is not None:
            # gensim writes such keys anyway and produces a file no reader can parse back.
            raise ValueError(
                f"key {bad!r} cannot be stored in the word2vec format: keys must be non-empty "
                "strings without spaces or newlines"
            )
        if fvocab is not None:
            with _open(fvocab, "wb") as vout:
                for i in order:
                    count = None if self.counts is None else int(self.counts[i])
                    vout.write(f"{prefix}{self.index_to_key[i]} {count}\n".encode("utf8"))
        with _open(fname, "wb") as fout:
            if write_header:
                fout.write(f"{len(self)} {self.vector_size}\n".encode("utf8"))
            le = self.vectors.astype("<f4", copy=False)
            for i in order:
                key = self.index_to_key[i]
                if binary:
                    fout.write(f"{prefix}{key} ".encode("utf8") + le[i].tobytes())
                else:
                    fout.write(f"{prefix}{key} {' '.join(str(v) for v in self.vectors[i])}\n".encode("utf8"))

    @classmethod
    def load_word2vec_format(
        cls, fname, fvocab=None, binary=False, encoding="utf8", unicode_errors="strict", limit=None, no_header=False
    ):
        """Reads word2vec.c / gensim text or binary files (``.gz`` too).

        Malformed files raise ``ValueError`` (gensim raises ``EOFError`` for a truncated file):
        a bad header, a header larger than the file could hold, a row of the wrong length, a
        word that is not valid in ``encoding`` (with ``unicode_errors="strict"``), a truncated
        row. Memory grows only with the rows actually present, never with what a header claims.
        Duplicate keys keep their first vector, as gensim. Unlike gensim, which stops after the
        header's count and ignores the rest, bytes other than whitespace after the last binary
        vector raise ``ValueError`` (a wrong count or dimension, padding or damage) unless
        ``limit`` is given. ``limit=0`` reads every vector, as in gensim; a negative ``limit``
        raises ``ValueError``. A pipe (``/dev/fd/N``) is read as a stream.
        """
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
                raise TypeError(f"limit must be an int or None, got {type(limit).__name__}")
            if limit < 0:
                # gensim fails here with numpy's "negative dimensions are not allowed".
                raise ValueError(f"limit must be None or >= 0, got {limit}")
            # As gensim (`if limit:`), 0 means no limit.
            limit = int(limit) or None
        counts_by_word = None
        if fvocab is not None:
            counts_by_word = {}
            with _open(fvocab, "rb") as fin:
                for line in fin:
                    parts = line.decode(encoding, errors=unicode_errors).strip().split()
                    if len(parts) != 2:
                        raise ValueError(f"{fvocab}: expected 'word count' lines, got {line[:80]!r}")
                    counts_by_word[parts[0]] = int(parts[1])
        if no_header:
            if binary:
                raise NotImplementedError("no_header only available for text-format files")
            n, dim = None, None
        with _open(fname, "rb") as fin:
            size = None
            st = os.fstat(fin.fileno())
            # Only a regular file has a size to check the header against (not a pipe, /dev/fd/N).
            if not os.fspath(fname).endswith(".gz") and stat.S_ISREG(st.st_mode):
                size = st.st_size
            if not no_header:
                header = fin.readline(256)
                try:
                    n, dim = (int(x) for x in header.decode("ascii").split())
                except (ValueError, UnicodeDecodeError):
                    raise ValueError(f"{fname}: invalid word2vec header {header[:80]!r}") from None
                if n < 0 or dim < 1:
                    raise ValueError(f"{fname}: invalid word2vec header {header[:80]!r}")
                # Each row needs at least 2 bytes per dimension (text) or 4 (binary) + a word.
                if size is not None and min(n, limit or n) * (dim * (4 if binary else 2) + 1) > size:
                    raise ValueError(
                        f"{fname}: header claims {n} vectors of dimension {dim}, "
                        f"more than the {size}-byte file can hold"
                    )
            if limit is not None and n is not None:
                n = min(n, int(limit))
            reader = _read_binary if binary else _read_text
            keys, rows = reader(fin, fname, n, dim, encoding, unicode_errors, limit)
        vectors = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dim or 0), np.float32)
        # duplicates: keep the first (gensim does the same)
        seen, keep = set(), []
        for i, k in enumerate(keys):
            if k not in seen:
                seen.add(k)
                keep.append(i)
        if len(keep) != len(keys):
            kept = set(keep)
            first_dup = next(keys[i] for i in range(len(keys)) if i not in kept)
            warnings.warn(
                f"{fname}: {len(keys) - len(keep)} duplicate word(s) (first: {first_dup!r}); "
                "kept the first vector of each, as gensim does",
                UserWarning,
                stacklevel=2,
            )
            keys = [keys[i] for i in keep]
            vectors = vectors[keep]
        if counts_by_word is not None:
            counts = [counts_by_word.get(k, 0) for k in keys]
        else:
            total = len(keys) if n is None else n
            counts = [total - i for i in range(len(keys))]
        return cls(vectors, keys, counts)

    # ----------------------------------------------------------------- gensim
    def to_gensim(self):
        """A ``gensim.models.KeyedVectors`` with the same keys, vectors and counts."""
        from gensim.models import KeyedVectors as GensimKV

        kv = GensimKV(self.vector_size, count=0, dtype=np.float32)
        kv.add_vectors(list(self.index_to_key), self.vectors.copy())
        if self.counts is not None:
            kv.expandos["count"] = self.counts.copy()
        return kv

    @classmethod
    def from_gensim(cls, kv):
        """From a ``gensim.models.KeyedVectors`` (or a gensim model's ``wv``)."""
        counts = kv.expandos.get("count") if hasattr(kv, "expandos") else None
        if counts is not None and len(counts) != len(kv.index_to_key):
            counts = None
        return cls(np.asarray(kv.vectors, np.float32), list(kv.index_to_key), counts)


def _decode(raw, encoding, errors, fname, i):
    try:
        return raw.decode(encoding, errors=errors)
    except UnicodeDecodeError as e:
        raise ValueError(f"{fname}: word #{i + 1} is not valid {encoding} ({e.reason}); try unicode_errors='replace'") from None


def _read_binary(fin, fname, n, dim, encoding, unicode_errors, limit):
    """Rows ``word<space><dim float32 LE>`` (an optional ``\n`` before a word is dropped, as
    word2vec.c writes one after each vector), parsed from a buffer refilled 1 MiB at a time."""
    keys, rows = [], []
    bytes_per_vector = 4 * dim
    buf = bytearray()
    pos = 0
    eof = False

    def fill(need):
        # make buf[pos:] at least `need` bytes long, if the file has them
        nonlocal buf, pos, eof
        if pos:
            del buf[:pos]
            pos = 0
        while len(buf) < need and not eof:
            piece = fin.read(_READ_PIECE)
            if not piece:
                eof = True
            buf += piece

    for i in range(n):
        while True:
            space = buf.find(b" ", pos)
            if space >= 0 or eof:
                break
            if len(buf) - pos > _MAX_WORD_BYTES:
                break
            fill(len(buf) - pos + 1)
        if space < 0:
            if len(buf) - pos > _MAX_WORD_BYTES:
                raise ValueError(f"{fname}: word #{i + 1} is longer than {_MAX_WORD_BYTES} bytes; not a word2vec binary file?")
            raise ValueError(f"{fname}: unexpected end of file after {i} of {n} vectors (truncated file or wrong count?)")
        if space - pos > _MAX_WORD_BYTES:
            raise ValueError(f"{fname}: word #{i + 1} is longer than {_MAX_WORD_BYTES} bytes; not a word2vec binary file?")
        key = _decode(bytes(buf[pos:space]), encoding, unicode_errors, fname, i).lstrip("\n")
        pos = space + 1
        if len(buf) - pos < bytes_per_vector:
            fill(bytes_per_vector)
            if len(buf) < bytes_per_vector:
                raise ValueError(
                    f"unexpected end of file in {fname}, vector #{i + 1} of {n}: "
                    "is the vector count or size wrong, or the file truncated?"
                )
        rows.append(np.frombuffer(bytes(buf[pos : pos + bytes_per_vector]), dtype="<f4").astype(np.float32))
        keys.append(key)
        pos += bytes_per_vector
    if limit is None:
        # gensim stops after the header's count and ignores the rest; bytes left over mean the
        # count or the dimension in the header is wrong (rows were misread as padding/garbage
        # vector values), so say so instead of returning wrong vectors. word2vec.c's final
        # newline (or other trailing whitespace) is fine.
        while True:
            rest = bytes(buf[pos:]).strip()
            if rest:
                raise ValueError(
                    f"{fname}: {len(rest)}+ unexpected bytes after the {n} vectors of dimension {dim} "
                    f"the header announces (starting {rest[:20]!r}): is the header's count or dimension "
                    "wrong, or the file padded or damaged? (pass limit=... to read only the first rows)"
                )
            if eof:
                break
            buf, pos = bytearray(fin.read(_READ_PIECE)), 0
            if not buf:
                break
    return keys, rows


def _read_text(fin, fname, n, dim, encoding, unicode_errors, limit):
    keys, rows = [], []
    i = 0
    while n is None or i < n:
        if n is None and limit is not None and i >= limit:
            break
        line = fin.readline()
        if not line:
            if n is None:
                break
            raise ValueError(f"{fname}: unexpected end of file after {i} of {n} vectors (truncated file or wrong count?)")
        parts = _decode(line.rstrip(), encoding, unicode_errors, fname, i).split(" ")
        if dim is None:
            dim = len(parts) - 1
        if len(parts) != dim + 1:
            raise ValueError(f"{fname}: vector #{i + 1} has {len(parts) - 1} values, expected {dim} (is this really the text format?)")
        try:
            rows.append(np.array([float(x) for x in parts[1:]], dtype=np.float32))
        except ValueError:
            raise ValueError(f"{fname}: vector #{i + 1} has a value that is not a number") from None
        keys.append(parts[0])
        i += 1
    return keys, rows
