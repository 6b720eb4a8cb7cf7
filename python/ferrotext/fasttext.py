"""fastText (Bojanowski et al. 2017; Joulin et al. 2017) with a scikit-learn API.

Two estimators share one Rust model (``ferrotext._core.FastTextModel``), which reads and writes
Facebook's ``.bin`` files:

* :class:`FastText`: unsupervised subword embeddings (skip-gram / CBOW over words and their
  character n-grams); ``wv`` answers out-of-vocabulary words from their n-grams.
* :class:`FastTextClassifier`: the supervised classifier (bag of words and word n-grams,
  softmax / hierarchical softmax / one-vs-all / negative sampling), single- or multi-label.

Parameter names follow scikit-learn and gensim; :data:`PARAMETER_NAMES` maps each to fastText's
own argument (``vector_size`` -> ``dim``, ``alpha`` -> ``lr``, ...). Defaults are fastText's.
"""

from __future__ import annotations

import gzip
import numbers
import os
import sys
import tempfile
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ferrotext import _core
from ferrotext._corpus import readable_paths
from ferrotext._validation import resolve_n_jobs
from ferrotext.keyedvectors import KeyedVectors

__all__ = [
    "FastText",
    "FastTextClassifier",
    "FastTextKeyedVectors",
    "load_facebook_model",
    "save_facebook_model",
]

#: sklearn/gensim-style parameter -> fastText argument.
PARAMETER_NAMES = {
    "architecture": "model",
    "vector_size": "dim",
    "window": "ws",
    "epochs": "epoch",
    "alpha": "lr",
    "min_count": "minCount",
    "min_count_label": "minCountLabel",
    "negative": "neg",
    "word_ngrams": "wordNgrams",
    "bucket": "bucket",
    "min_n": "minn",
    "max_n": "maxn",
    "lr_update_rate": "lrUpdateRate",
    "sample": "t",
    "loss": "loss",
    "label": "label",
}
#: loss names of the estimators -> fastText's.
LOSS_NAMES = {"negative": "ns", "hierarchical_softmax": "hs", "softmax": "softmax", "one_vs_all": "ova"}
_LOSS_FROM_FASTTEXT = {v: k for k, v in LOSS_NAMES.items()}

# fastText splits words on these bytes (Dictionary::readWord); "\n" also ends an example.
_FASTTEXT_SPACE = " \n\r\t\v\f\0"
_NEWLINE_ERROR = "predict processes one line at a time (remove '\\n')"
# fastText adds this before taking the log of a probability (std_log); predict returns exp of it.
_PROBA_EPS = 1e-5
_SEED_LIMIT = 2**31  # fastText's seed is a C int


def _binding():
    try:
        return _core.FastTextModel
    except AttributeError:  # a development tree built before the Rust side landed
        raise RuntimeError("this ferrotext build has no fastText core (ferrotext._core.FastTextModel)") from None


def _seed(random_state) -> int:
    """fastText's int seed: an int random_state is used as is (so results can be compared with
    fastText's ``-seed``), anything else draws one as scikit-learn would."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and 0 <= random_state < _SEED_LIMIT:
        return int(random_state)
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(0, _SEED_LIMIT - 1))


def _is_pathlike(x) -> bool:
    return isinstance(x, (str, bytes, os.PathLike))


class _Model:
    """Holds the Rust model; pickles as the bytes of its ``.bin`` file (one copy per pickle,
    however many objects share it)."""

    __slots__ = ("core",)

    def __init__(self, core):
        self.core = core

    def __getstate__(self):
        return {"bin": self.core.to_bytes()}

    def __setstate__(self, state):
        self.core = _binding().from_bytes(state["bin"])


class _Progress:
    """``verbose`` progress: a tqdm bar in percent with words/s/thread, lr and loss."""

    def __init__(self, desc):
        self.desc = desc
        self.bar = None
        self.done = 0
        try:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
        except ImportError:
            self._tqdm = None
        self.last_print = -1.0
        self.read_line_open = False

    def reading(self, words):
        """The vocabulary pass: fastText's "Read 12M words" line, rewritten in place."""
        print(f"\rRead {words // 1_000_000}M words", end="", file=sys.stderr, flush=True)
        self.read_line_open = True

    def __call__(self, fraction, words_per_sec_per_thread, lr, loss):
        if self.read_line_open:
            print(file=sys.stderr, flush=True)
            self.read_line_open = False
        percent = min(100.0, max(0.0, 100.0 * float(fraction)))
        if self._tqdm is not None:
            if self.bar is None:
                self.bar = self._tqdm(total=100.0, unit="%", desc=self.desc, bar_format="{l_bar}{bar}| {n:.1f}/100% [{elapsed}<{remaining}{postfix}]")
            self.bar.update(percent - self.done)
            self.bar.set_postfix(words_sec_thread=f"{words_per_sec_per_thread:,.0f}", lr=f"{lr:.6f}", loss=f"{loss:.6f}", refresh=False)
        elif percent - self.last_print >= 10.0 or percent >= 100.0:
            self.last_print = percent
            print(
                f"{self.desc}: {percent:5.1f}% words/sec/thread: {words_per_sec_per_thread:,.0f} lr: {lr:.6f} loss: {loss:.6f}",
                file=sys.stderr,
            )
        self.done = percent

    def close(self):
        if self.read_line_open:  # training failed right after reading
            print(file=sys.stderr, flush=True)
        if self.bar is not None:
            self.bar.close()


def _train(lines_or_path, args, n_jobs, verbose, desc):
    progress = _Progress(desc) if verbose else None
    try:
        return _binding().train(lines_or_path, args, resolve_n_jobs(n_jobs), progress)
    finally:
        if progress is not None:
            progress.close()


# ------------------------------------------------------------------------------------ inputs


def _check_line(text, i, what="text"):
    """One document as one fastText line: a str, or a list of str tokens joined by spaces."""
    if isinstance(text, str):
        return text
    if text is None:
        raise TypeError(f"{what} #{i} is None; expected a string")
    if isinstance(text, (bytes, bytearray)):
        raise TypeError(f"{what} #{i} is bytes; decode it to str first")
    if isinstance(text, (list, tuple)):
        return _join_tokens(text, i, what)
    raise TypeError(f"{what} #{i} must be a string or a list of string tokens, got {type(text).__name__}")


def _join_tokens(tokens, i, what="sentence"):
    for tok in tokens:
        if not isinstance(tok, str):
            raise TypeError(f"tokens must be str, got {type(tok).__name__} ({tok!r}) in {what} #{i}")
        if tok == "" or any(c in tok for c in _FASTTEXT_SPACE):
            raise ValueError(
                f"token {tok!r} in {what} #{i} is empty or holds whitespace: fastText splits words on "
                "whitespace, so it cannot be stored as one word"
            )
    return " ".join(tokens)


def _as_documents(X, what="text"):
    """A list of texts (str) from a list/array/Series of strings or token lists."""
    if X is None:
        raise TypeError(f"expected a list of {what}s, got None")
    if isinstance(X, (str, bytes)):
        raise TypeError(f"expected a list of {what}s, got a single {type(X).__name__}; wrap it in a list")
    if hasattr(X, "tolist") and not isinstance(X, (list, tuple)):
        X = X.tolist()
    try:
        X = list(X)
    except TypeError:
        raise TypeError(f"expected a list of {what}s, got {type(X).__name__}") from None
    return [_check_line(x, i, what) for i, x in enumerate(X)]


def _one_line_each(texts, training=False):
    # fastText's message for predict; training gets its own, as fastText has no in-memory fit.
    what = "fit takes one example per text (fastText reads one line each)" if training else _NEWLINE_ERROR
    for i, t in enumerate(texts):
        if "\n" in t:
            raise ValueError(f"{what}: text #{i} holds a newline; replace it, e.g. text.replace('\\n', ' ')")
    return texts


class _TextFile:
    """A training/test file as the Rust core reads it: plain paths pass through, ``.gz`` files
    and lists of files are streamed into one temporary plain-text file."""

    def __init__(self, paths):
        self.paths = [os.fsdecode(p) for p in paths]
        self.tmp = None

    def __enter__(self):
        # Pipes become temporary copies: the core reads a training file twice.
        self.paths = readable_paths(
            self.paths, ". A str or path is read as a file name; to train on text in memory pass a list of sentences"
        )
        if len(self.paths) == 1 and not self.paths[0].endswith(".gz"):
            return self.paths[0]
        fd, self.tmp = tempfile.mkstemp(prefix="ferrotext-fasttext-", suffix=".txt")
        with os.fdopen(fd, "wb") as out:
            for p in self.paths:
                opener = gzip.open if p.endswith(".gz") else open
                with opener(p, "rb") as src:
                    last = b"\n"
                    while True:
                        piece = src.read(1 << 20)
                        if not piece:
                            break
                        out.write(piece)
                        last = piece[-1:]
                    if last != b"\n":  # keep the last line of one file apart from the next
                        out.write(b"\n")
        return self.tmp

    def __exit__(self, *exc):
        if self.tmp is not None:
            os.unlink(self.tmp)
            self.tmp = None


def _check_args(args):
    """The core checks args too; these are the bad values it cannot name as clearly."""
    if args.get("loss") == "ns" and args.get("neg", 5) < 1:
        raise ValueError("negative must be >= 1 with loss='negative'")
    if args.get("maxn", 0) and args.get("minn", 0) > args.get("maxn", 0):
        raise ValueError(f"min_n={args['minn']} is larger than max_n={args['maxn']}")
    # As the fasttext package: no n-gram buckets are needed without word n-grams and subwords.
    if args.get("wordNgrams", 1) <= 1 and args.get("maxn", 0) == 0:
        args["bucket"] = 0
    return args


# ------------------------------------------------------------------------------------ vectors


class FastTextKeyedVectors(KeyedVectors):
    """Word vectors of a fastText model: the vocabulary's vectors (``vectors``, as fastText's
    ``get_word_vector``: word row plus its n-gram rows, averaged) and, for any other word, a
    vector built from its character n-grams exactly as fastText does (zeros if none hashes).

    ``word in wv`` is True for every word when the model has subwords (as gensim's
    FastTextKeyedVectors); ``has_index_for(word)`` tells whether it is in the vocabulary.
    Analogy and similarity evaluations use the vocabulary only, as gensim's.
    """

    def __init__(self, vectors, index_to_key, counts=None, *, model=None, n_jobs=None):
        super().__init__(vectors, index_to_key, counts, n_jobs=n_jobs)
        self._model = model

    @classmethod
    def _from_model(cls, model: _Model, n_jobs=None):
        core = model.core
        return cls(core.word_vectors(resolve_n_jobs(n_jobs)), core.words, core.word_counts, model=model, n_jobs=n_jobs)

    @property
    def _subwords(self) -> bool:
        if self._model is None:
            return False
        args = self._model.core.args
        return args.get("maxn", 0) > 0 and args.get("bucket", 0) > 0

    def __repr__(self) -> str:
        return f"FastTextKeyedVectors<{len(self)} keys, vector_size={self.vector_size}>"

    def __contains__(self, key) -> bool:
        if self._subwords:
            return isinstance(key, str)
        return key in self.key_to_index

    def _oov_vector(self, key):
        if not isinstance(key, str):
            raise KeyError(f"Key '{key}' not present")
        if self._model is None or not self._subwords:
            raise KeyError(f"Key '{key}' not present in vocabulary (the model has no subword n-grams)")
        return np.asarray(self._model.core.get_word_vector(key), dtype=np.float32)

    def get_vector(self, key, norm=False) -> np.ndarray:
        i = self.key_to_index.get(key) if isinstance(key, str) else None
        if i is not None:
            return super().get_vector(key, norm=norm)
        vec = self._oov_vector(key)
        if norm:
            n = np.linalg.norm(vec)
            return vec / n if n > 0 else vec
        return vec

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.get_vector(key)
        keys = list(key)
        out = np.zeros((len(keys), self.vector_size), np.float32)
        unknown = []
        for row, k in enumerate(keys):
            i = self.key_to_index.get(k) if isinstance(k, str) else None
            if i is None:
                unknown.append(row)
            else:
                out[row] = self.vectors[i]
        if unknown:
            for row in unknown:
                self._oov_vector(keys[row])  # raises KeyError for a non-str / no-subword model
            words = [keys[row] for row in unknown]
            out[unknown] = self._model.core.get_word_vectors(words, self._threads())
        return out

    def _known_or_vector(self, items):
        """Out-of-vocabulary words as their unit vectors (what gensim's queries use)."""
        def conv(x):
            if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str):
                return (conv(x[0]), x[1])
            if isinstance(x, str) and x not in self.key_to_index:
                return self.get_vector(x, norm=True)
            return x

        if items is None:
            return None
        if isinstance(items, (str, np.ndarray)):
            items = [items]
        return [conv(x) for x in items]

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        return super().most_similar(self._known_or_vector(positive), self._known_or_vector(negative), topn, restrict_vocab)

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        return super().most_similar_cosmul(self._known_or_vector(positive), self._known_or_vector(negative), topn, restrict_vocab)

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def get_subwords(self, word):
        """``(subwords, ids)`` as the fasttext package's ``get_subwords``."""
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        if self._model is None:
            raise ValueError("these vectors have no fastText model attached")
        return self._model.core.get_subwords(word)


# ------------------------------------------------------------------------------------ base

_COMMON_CONSTRAINTS = {
    "vector_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "window": [Interval(numbers.Integral, 1, None, closed="left")],
    "min_count": [Interval(numbers.Integral, 1, None, closed="left")],
    "min_count_label": [Interval(numbers.Integral, 0, None, closed="left")],
    "negative": [Interval(numbers.Integral, 0, None, closed="left")],
    "word_ngrams": [Interval(numbers.Integral, 1, None, closed="left")],
    "bucket": [Interval(numbers.Integral, 0, None, closed="left")],
    "min_n": [Interval(numbers.Integral, 0, None, closed="left")],
    "max_n": [Interval(numbers.Integral, 0, None, closed="left")],
    "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
    "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "lr_update_rate": [Interval(numbers.Integral, 1, None, closed="left")],
    "sample": [Interval(numbers.Real, 0, None, closed="left")],
    "label": [str],
    "n_jobs": [numbers.Integral, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}




class _FastTextBase(BaseEstimator):
    """Shared by both estimators: the fastText args, files, pickling, queries."""

    _supervised = False

    def _fasttext_args(self) -> dict:
        args = {}
        for name, ft_name in PARAMETER_NAMES.items():
            if name in self._parameter_constraints:
                value = getattr(self, name)
                if name == "loss":
                    value = LOSS_NAMES[value]
                elif isinstance(value, (bool, np.bool_)):
                    value = int(value)
                elif isinstance(value, numbers.Integral):
                    value = int(value)
                elif isinstance(value, numbers.Real):
                    value = float(value)
                args[ft_name] = value
        if self._supervised:
            args["model"] = "supervised"
        args["seed"] = _seed(self.random_state)
        return _check_args(args)

    def _set_model(self, core):
        self._model = _Model(core)
        self.epoch_losses_ = np.asarray(core.epoch_losses, dtype=np.float64)

    @property
    def model_(self):
        """The Rust ``FastTextModel`` (fastText-level queries: input_matrix(), args, ...)."""
        check_is_fitted(self)
        return self._model.core

    def __sklearn_is_fitted__(self):
        return getattr(self, "_model", None) is not None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = True
        return tags

    # -------------------------------------------------------------- files
    def save(self, path):
        """Writes a Facebook fastText ``.bin`` file (version 12) that the fasttext package loads."""
        check_is_fitted(self)
        self._model.core.save(os.fspath(path))

    @classmethod
    def load(cls, path, **params):
        """Reads a Facebook ``.bin`` file into this estimator class (see load_facebook_model)."""
        model = load_facebook_model(path, **params)
        if not isinstance(model, cls):
            kind = "supervised" if isinstance(model, FastTextClassifier) else "unsupervised"
            raise ValueError(f"{os.fspath(path)} holds a {kind} model; use {type(model).__name__}.load or load_facebook_model")
        return model

    def _set_params_from_args(self, args):
        for name, ft_name in PARAMETER_NAMES.items():
            if name in self._parameter_constraints and ft_name in args:
                value = args[ft_name]
                if name == "loss":
                    value = _LOSS_FROM_FASTTEXT.get(value, value)
                setattr(self, name, value)
        if "seed" in args:
            self.random_state = int(args["seed"])

    def get_sentence_vector(self, text):
        """fastText's sentence vector of one line of text."""
        check_is_fitted(self)
        text = _check_line(text, 0)
        _one_line_each([text])
        return self._model.core.get_sentence_vector(text)

    def get_sentence_vectors(self, texts):
        """Sentence vectors of many texts, ``(n, vector_size)`` float32, in one parallel call."""
        check_is_fitted(self)
        texts = _one_line_each(_as_documents(texts))
        return self._model.core.get_sentence_vectors(texts, resolve_n_jobs(self.n_jobs))

    def get_subwords(self, word):
        check_is_fitted(self)
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        return self._model.core.get_subwords(word)

    def get_word_vector(self, word):
        check_is_fitted(self)
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        return self._model.core.get_word_vector(word)

    @property
    def words_(self):
        return self.model_.words


# ------------------------------------------------------------------------------------ FastText


class FastText(TransformerMixin, _FastTextBase):
    """Unsupervised fastText word vectors: skip-gram or CBOW over words and their character
    n-grams (``<wh``, ``whe``, ...), trained by the Rust core exactly as fastText trains them.

    ``fit`` accepts the corpora :class:`ferrotext.Word2Vec` accepts:

    * a list of token lists (tokens must not hold whitespace);
    * a list of strings (one sentence each; split by ``tokenizer`` if one is given, else read
      as fastText reads a line: words between whitespace);
    * a path (``str``/``os.PathLike``) or a list of ``os.PathLike`` paths of text files with one
      sentence per line, streamed by the Rust core (``.gz`` files are decompressed to a
      temporary file first);
    * a one-shot iterator, read once.

    Parameters
    ----------
    architecture : {"skipgram", "cbow"}, default="skipgram"
        fastText's ``-model`` (``skipgram`` is fastText's default).
    vector_size : int, default=100
        ``-dim``.
    window : int, default=5
        ``-ws``.
    min_count : int, default=5
        ``-minCount``.
    min_n, max_n : int, default=3, 6
        Character n-gram lengths (``-minn``, ``-maxn``); ``max_n=0`` disables subwords.
    bucket : int, default=2_000_000
        Hash buckets for n-grams (``-bucket``); the input matrix has ``words + bucket`` rows.
    negative : int, default=5
        ``-neg``.
    loss : {"negative", "hierarchical_softmax", "softmax"}, default="negative"
        ``-loss ns|hs|softmax``.
    sample : float, default=1e-4
        Subsampling threshold (``-t``).
    alpha : float, default=0.05
        Learning rate (``-lr``), decayed linearly to 0.
    epochs : int, default=5
        ``-epoch``.
    word_ngrams : int, default=1
        ``-wordNgrams`` (word n-grams are only used by the classifier in practice).
    lr_update_rate : int, default=100
        ``-lrUpdateRate``.
    label : str, default="__label__"
        Words starting with it are labels, not words (``-label``).
    n_jobs : int, optional
        Threads (None: all cores). With ``n_jobs=1`` and an int ``random_state`` training is
        bit-identical across runs; with more threads Hogwild training is nondeterministic.
    random_state : int, RandomState or None
        An int in [0, 2**31) is fastText's ``-seed`` itself.
    verbose : int, default=0
        A progress bar (tqdm) with words/sec/thread, lr and loss.
    tokenizer : callable, optional
        Splits a string sentence into tokens before training (default: fastText's whitespace).

    Attributes
    ----------
    wv : FastTextKeyedVectors
        Word vectors; out-of-vocabulary words get vectors from their n-grams.
    model_ : ferrotext._core.FastTextModel
        The fastText model (matrices, args, files).
    epoch_losses_ : ndarray
        Average training loss of each epoch.

    Examples
    --------
    >>> from ferrotext import FastText
    >>> docs = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "a", "log"]] * 50
    >>> model = FastText(vector_size=8, min_count=1, bucket=1000, n_jobs=1, random_state=0).fit(docs)
    >>> model.wv["cats"].shape   # not in the vocabulary: built from its n-grams
    (8,)
    """

    _parameter_constraints = {
        **{k: v for k, v in _COMMON_CONSTRAINTS.items() if k != "min_count_label"},
        "architecture": [StrOptions({"skipgram", "cbow"})],
        "loss": [StrOptions({"negative", "hierarchical_softmax", "softmax"})],
        "tokenizer": [callable, None],
    }

    def __init__(
        self,
        *,
        architecture="skipgram",
        vector_size=100,
        window=5,
        min_count=5,
        min_n=3,
        max_n=6,
        bucket=2_000_000,
        negative=5,
        loss="negative",
        sample=1e-4,
        alpha=0.05,
        epochs=5,
        word_ngrams=1,
        lr_update_rate=100,
        label="__label__",
        n_jobs=None,
        random_state=None,
        verbose=0,
        tokenizer=None,
    ):
        self.architecture = architecture
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.min_n = min_n
        self.max_n = max_n
        self.bucket = bucket
        self.negative = negative
        self.loss = loss
        self.sample = sample
        self.alpha = alpha
        self.epochs = epochs
        self.word_ngrams = word_ngrams
        self.lr_update_rate = lr_update_rate
        self.label = label
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.tokenizer = tokenizer

    # -------------------------------------------------------------- corpus
    def _lines(self, X):
        """The corpus as fastText lines (list of str), or None when X names files."""
        split = self.tokenizer
        lines = []
        for i, sent in enumerate(X):
            if isinstance(sent, str):
                if split is not None:
                    lines.append(_join_tokens(split(sent), i))
                else:
                    # a newline starts a new line, as when fastText reads the same text from a file
                    lines.extend(sent.split("\n"))
            elif sent is None:
                raise TypeError(f"sentence #{i} is None; expected a string or a list of string tokens")
            elif isinstance(sent, (bytes, bytearray)) or not hasattr(sent, "__iter__"):
                raise TypeError(f"each sentence must be a string or a list of string tokens, got {type(sent).__name__}")
            else:
                lines.append(_join_tokens(list(sent), i))
        return lines

    def _corpus(self, X):
        """('files', [paths]) or ('lines', [str])."""
        if X is None:
            raise ValueError("corpus is None")
        if _is_pathlike(X):
            return "files", [X]
        if isinstance(X, (list, tuple)) and X and all(isinstance(x, os.PathLike) for x in X):
            return "files", list(X)
        if isinstance(X, np.ndarray):
            X = X.tolist()
        try:
            iter(X)
        except TypeError:
            raise TypeError(f"corpus must be a list of sentences or a path, got {type(X).__name__}") from None
        lines = self._lines(X)
        if not any(line.strip(_FASTTEXT_SPACE) for line in lines):
            raise ValueError("empty corpus: no tokens to train on")
        return "lines", lines

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Builds the vocabulary and trains from scratch. Returns self."""
        args = self._fasttext_args()
        args["model"] = self.architecture
        kind, data = self._corpus(X)
        desc = f"fasttext {self.architecture}"
        if kind == "files":
            with _TextFile(data) as path:
                core = _train(path, args, self.n_jobs, self.verbose, desc)
        else:
            core = _train(data, args, self.n_jobs, self.verbose, desc)
        self._set_model(core)
        self.wv = FastTextKeyedVectors._from_model(self._model, n_jobs=self.n_jobs)
        return self

    def transform(self, X):
        """fastText sentence vectors (mean of the unit word vectors, out-of-vocabulary words from
        their n-grams, plus the end-of-line token as fastText's ``get_sentence_vector``):
        ``(n_documents, vector_size)`` float32. Documents are strings or token lists."""
        check_is_fitted(self)
        if _is_pathlike(X):
            raise TypeError("transform takes documents (strings or token lists), not a file path")
        docs = _as_documents(X, "document")
        if self.tokenizer is not None:
            docs = [_join_tokens(self.tokenizer(d), i) for i, d in enumerate(docs)]
        return self._model.core.get_sentence_vectors(_one_line_each(docs), resolve_n_jobs(self.n_jobs))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray([f"fasttext{i}" for i in range(self.model_.dim)], dtype=object)

    def save_word2vec_format(self, fname, binary=False, **kwargs):
        """The vocabulary's vectors in word2vec.c's format (fastText's ``.vec`` is the text one)."""
        check_is_fitted(self)
        self.wv.save_word2vec_format(fname, binary=binary, **kwargs)


# ------------------------------------------------------------------------------------ classifier


def _is_label_list(v) -> bool:
    return isinstance(v, (list, tuple, set, frozenset, np.ndarray)) and not isinstance(v, str)


class FastTextClassifier(ClassifierMixin, _FastTextBase):
    """fastText's supervised text classifier (Joulin et al. 2017, "Bag of Tricks") as a
    scikit-learn classifier: word (and word n-gram) embeddings averaged into a document vector,
    then a linear classifier trained with softmax, hierarchical softmax (a Huffman tree over
    label counts), one-vs-all or negative sampling.

    ``fit(texts, y)`` takes raw texts (one line each; tokens are split on whitespace as
    fastText does; lists of tokens work too) and ``y`` either a list of labels (single-label)
    or a list of label lists (multi-label; ``predict`` then returns an indicator matrix).
    ``fit_file(path)`` trains on a fastText ``__label__`` file; ``predict_top`` and
    ``test_file`` are fastText's ``predict`` and ``test``.

    Parameters
    ----------
    vector_size : int, default=100
        ``-dim``.
    word_ngrams : int, default=1
        ``-wordNgrams``: max length of word n-grams.
    min_count : int, default=1
        ``-minCount``.
    min_count_label : int, default=0
        ``-minCountLabel``.
    min_n, max_n : int, default=0, 0
        Character n-grams (off by default in supervised mode).
    bucket : int, default=2_000_000
        Hash buckets for word and character n-grams (0 is used when neither is on, as the
        fasttext package does).
    loss : {"softmax", "hierarchical_softmax", "one_vs_all", "negative"}, default="softmax"
    negative : int, default=5
        Negatives sampled with ``loss="negative"``.
    alpha : float, default=0.1
        Learning rate (``-lr``).
    epochs : int, default=5
    window : int, default=5
        ``-ws`` (stored in the model; not used by supervised training).
    lr_update_rate : int, default=100
    sample : float, default=1e-4
        ``-t`` (stored in the model; supervised training does not subsample).
    label : str, default="__label__"
        Label prefix of fastText files (``-label``).
    threshold : float, default=0.5
        Multi-label ``predict``: labels with a probability at least this high.
    n_jobs, random_state, verbose
        As :class:`FastText`.

    Attributes
    ----------
    classes_ : ndarray
        The labels, sorted; ``predict_proba`` columns follow this order.
    multilabel_ : bool
        True when fitted on label lists (or a file with several labels on a line).
    model_ : ferrotext._core.FastTextModel

    Examples
    --------
    >>> from ferrotext import FastTextClassifier
    >>> texts = ["good great fun", "bad awful boring"] * 50
    >>> clf = FastTextClassifier(epochs=20, n_jobs=1, random_state=0).fit(texts, ["pos", "neg"] * 50)
    >>> clf.predict(["great fun"]).tolist()
    ['pos']
    """

    _supervised = True

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "loss": [StrOptions(set(LOSS_NAMES))],
        "threshold": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        vector_size=100,
        word_ngrams=1,
        min_count=1,
        min_count_label=0,
        min_n=0,
        max_n=0,
        bucket=2_000_000,
        loss="softmax",
        negative=5,
        alpha=0.1,
        epochs=5,
        window=5,
        lr_update_rate=100,
        sample=1e-4,
        label="__label__",
        threshold=0.5,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.vector_size = vector_size
        self.word_ngrams = word_ngrams
        self.min_count = min_count
        self.min_count_label = min_count_label
        self.min_n = min_n
        self.max_n = max_n
        self.bucket = bucket
        self.loss = loss
        self.negative = negative
        self.alpha = alpha
        self.epochs = epochs
        self.window = window
        self.lr_update_rate = lr_update_rate
        self.sample = sample
        self.label = label
        self.threshold = threshold
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -------------------------------------------------------------- labels
    def _label_tokens(self, classes):
        """fastText label token of each class: prefix + str(class) when that is one clean word
        for every class, else prefix + the class index."""
        names = [str(c) for c in classes]
        clean = all(n and not any(ch in n for ch in _FASTTEXT_SPACE) for n in names) and len(set(names)) == len(names)
        if not clean:
            names = [str(i) for i in range(len(classes))]
        return [self.label + n for n in names]

    def _set_classes(self, classes, tokens):
        self.classes_ = classes
        self._token_to_col = {t: j for j, t in enumerate(tokens)}

    def _fit_lines(self, X, y):
        """fastText lines ``__label__a __label__b text`` from texts and labels."""
        texts = _one_line_each(_as_documents(X), training=True)
        if y is None:
            raise ValueError("y is None: FastTextClassifier needs labels (or use fit_file for a __label__ file)")
        if hasattr(y, "tolist") and not isinstance(y, list):
            y = y.tolist()
        y = list(y)
        if len(y) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        if not texts:
            raise ValueError("no texts to train on")
        multilabel = any(_is_label_list(v) for v in y)
        label_sets = []
        for i, v in enumerate(y):
            labels = list(v) if _is_label_list(v) else [v]
            for lab in labels:
                if lab is None or (isinstance(lab, float) and np.isnan(lab)):
                    raise ValueError(f"label of sample #{i} is missing ({lab!r})")
                if _is_label_list(lab):
                    raise TypeError(f"labels of sample #{i} are nested lists")
            label_sets.append(labels)
        all_labels = [lab for labels in label_sets for lab in labels]
        if not all_labels:
            raise ValueError("no labels in y")
        try:
            classes = np.unique(np.asarray(all_labels if multilabel else [s[0] for s in label_sets]))
        except TypeError:
            raise TypeError("labels must be all strings or all numbers") from None
        tokens = self._label_tokens(classes)
        token_of = dict(zip(classes.tolist(), tokens))
        prefix = self.label
        lines = []
        unlabeled = 0
        empty = 0
        for i, (text, labels) in enumerate(zip(texts, label_sets)):
            words = text.split()
            if any(w.startswith(prefix) for w in words):
                bad = next(w for w in words if w.startswith(prefix))
                raise ValueError(
                    f"text #{i} holds {bad!r}, which starts with the label prefix {prefix!r} and would be "
                    "read as a label; remove it or choose another prefix with the `label` parameter"
                )
            if not labels:
                unlabeled += 1
            if not words:
                empty += 1
            seen = dict.fromkeys(token_of[lab] for lab in labels)
            lines.append(" ".join([*seen, text]))
        if unlabeled == len(lines):
            raise ValueError("every sample has an empty label list: no labels to learn")
        if empty == len(lines):
            raise ValueError("every text is empty: no words to learn from")
        if unlabeled or empty:
            warnings.warn(
                f"{unlabeled} sample(s) without labels and {empty} empty text(s) are skipped by fastText training",
                UserWarning,
                stacklevel=3,
            )
        return lines, classes, tokens, multilabel

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Trains on texts ``X`` with labels ``y`` (labels, or label lists for multi-label)."""
        lines, classes, tokens, multilabel = self._fit_lines(X, y)
        core = _train(lines, self._fasttext_args(), self.n_jobs, self.verbose, "fasttext supervised")
        self._after_training(core, classes, tokens, multilabel)
        return self

    def fit_file(self, path):
        """Trains on a fastText file: one example per line, labels as ``__label__`` words
        (``self.label`` is the prefix); ``.gz`` is allowed. Lines without labels are skipped, as
        fastText does; a file without any label raises ValueError. Returns self."""
        self._validate_params()
        if not _is_pathlike(path):
            raise TypeError(f"fit_file takes a path, got {type(path).__name__}")
        with _TextFile([path]) as plain:
            multilabel = _file_is_multilabel(plain, self.label)
            core = _train(plain, self._fasttext_args(), self.n_jobs, self.verbose, "fasttext supervised")
        self._adopt(core, multilabel)
        return self

    def _after_training(self, core, classes, tokens, multilabel):
        self._set_model(core)
        known = set(core.labels)
        missing = [c for c, t in zip(classes.tolist(), tokens) if t not in known]
        if missing:  # min_count_label dropped them: they can never be predicted
            keep = [j for j, t in enumerate(tokens) if t in known]
            classes = classes[keep]
            tokens = [tokens[j] for j in keep]
        self._set_classes(classes, tokens)
        self.multilabel_ = bool(multilabel)

    def _adopt(self, core, multilabel):
        """Fitted state of a model trained on a file or loaded: classes are the labels
        without the prefix, sorted."""
        self._set_model(core)
        prefix = core.args.get("label", self.label)
        tokens = sorted(core.labels)
        classes = np.asarray([t[len(prefix):] if t.startswith(prefix) else t for t in tokens], dtype=object)
        order = np.argsort(classes.astype(str), kind="stable")
        self._set_classes(classes[order].astype(str), [tokens[j] for j in order])
        self.multilabel_ = bool(multilabel)

    # -------------------------------------------------------------- prediction
    def _texts(self, X):
        check_is_fitted(self)
        if _is_pathlike(X):
            raise TypeError("expected a list of texts; for a __label__ file use test_file(path)")
        return _one_line_each(_as_documents(X))

    def _raw(self, texts, k, threshold):
        return self._model.core.predict(texts, int(k), float(threshold), resolve_n_jobs(self.n_jobs))

    def _prior(self):
        counts = np.zeros(len(self.classes_))
        core = self._model.core
        for token, count in zip(core.labels, core.label_counts):
            j = self._token_to_col.get(token)
            if j is not None:
                counts[j] = count
        return counts / counts.sum() if counts.sum() > 0 else np.full(len(counts), 1.0 / max(len(counts), 1))

    def predict_proba(self, X):
        """``(n_texts, n_classes)`` probabilities, columns in ``classes_`` order.

        fastText reports ``p + 1e-5`` for each label; this removes the 1e-5. Single-label models
        give rows summing to 1; multi-label ones the per-label probabilities (independent with
        ``loss="one_vs_all"``). A text without any known word gets the label frequencies of
        the training data (fastText itself predicts nothing for it)."""
        texts = self._texts(X)
        out = np.zeros((len(texts), len(self.classes_)), np.float64)
        col = self._token_to_col
        for row, (labels, probs) in enumerate(self._raw(texts, -1, 0.0)):
            if len(labels) == 0:
                out[row] = self._prior()
                continue
            for lab, p in zip(labels, probs):
                j = col.get(lab)
                if j is not None:
                    out[row, j] = max(float(p) - _PROBA_EPS, 0.0)
        if not self.multilabel_:
            sums = out.sum(axis=1, keepdims=True)
            np.divide(out, sums, out=out, where=sums > 0)
        return np.minimum(out, 1.0)

    def predict(self, X):
        """Single-label: the most probable class of each text. Multi-label: an indicator matrix
        ``(n_texts, n_classes)`` of the labels with probability >= ``threshold``."""
        texts = self._texts(X)
        if self.multilabel_:
            return (self.predict_proba(texts) >= self.threshold).astype(np.int64)
        col = self._token_to_col
        prior_best = None
        idx = np.empty(len(texts), np.int64)
        for row, (labels, _) in enumerate(self._raw(texts, 1, 0.0)):
            j = col.get(labels[0]) if len(labels) else None
            if j is None:
                if prior_best is None:
                    prior_best = int(np.argmax(self._prior()))
                j = prior_best
            idx[row] = j
        return self.classes_[idx]

    def _indicator(self, y):
        """Label lists -> indicator matrix in classes_ order."""
        if hasattr(y, "ndim") and getattr(y, "ndim", 1) == 2:
            return np.asarray(y)
        index = {c: j for j, c in enumerate(self.classes_.tolist())}
        out = np.zeros((len(y), len(self.classes_)), np.int64)
        for i, labels in enumerate(y):
            for lab in (labels if _is_label_list(labels) else [labels]):
                j = index.get(lab)
                if j is not None:
                    out[i, j] = 1
        return out

    def score(self, X, y, sample_weight=None):
        """Accuracy (multi-label: subset accuracy over the indicator matrix)."""
        from sklearn.metrics import accuracy_score

        check_is_fitted(self)
        if self.multilabel_:
            return float(accuracy_score(self._indicator(list(y) if not hasattr(y, "ndim") else y), self.predict(X), sample_weight=sample_weight))
        return float(accuracy_score(np.asarray(y), self.predict(X), sample_weight=sample_weight))

    def predict_top(self, texts, k=1, threshold=0.0):
        """fastText's ``predict``: the ``k`` most probable labels (``k=-1``: all) with a
        probability of at least ``threshold``, and those probabilities, as the fasttext package
        returns them (``p + 1e-5``). Labels are given as ``classes_`` values.

        One string -> ``(labels, probs)``; a list -> ``(list of labels, list of probs)``.
        A text holding a newline raises ValueError, as in the fasttext package."""
        check_is_fitted(self)
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or (k < 1 and k != -1):
            raise ValueError(f"k must be a positive int or -1 (all labels), got {k!r}")
        single = isinstance(texts, str)
        docs = self._texts([texts] if single else texts)
        classes = self.classes_
        col = self._token_to_col
        all_labels, all_probs = [], []
        for labels, probs in self._raw(docs, k, threshold):
            all_labels.append(tuple(classes[col[lab]] if lab in col else lab for lab in labels))
            all_probs.append(np.asarray(probs, dtype=np.float64))
        if single:
            return all_labels[0], all_probs[0]
        return all_labels, all_probs

    def test_file(self, path, k=1, threshold=0.0):
        """fastText's ``test``: ``(N, precision@k, recall@k)`` on a ``__label__`` file."""
        check_is_fitted(self)
        if not _is_pathlike(path):
            raise TypeError(f"test_file takes a path, got {type(path).__name__}")
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or (k < 1 and k != -1):
            raise ValueError(f"k must be a positive int or -1, got {k!r}")
        with _TextFile([path]) as plain:
            n, p, r = self._model.core.test(plain, int(k), float(threshold), resolve_n_jobs(self.n_jobs))
        return int(n), float(p), float(r)

    def transform(self, X):
        """Document vectors (fastText's supervised sentence vectors), ``(n, vector_size)``."""
        return self.get_sentence_vectors(self._texts(X))


def _file_is_multilabel(path, prefix) -> bool:
    """True when some line of a fastText file holds two or more different labels."""
    prefix_b = prefix.encode("utf-8")
    with open(path, "rb") as fh:
        for line in fh:
            if line.count(prefix_b) < 2:
                continue
            labels = {w for w in line.split() if w.startswith(prefix_b)}
            if len(labels) > 1:
                return True
    return False


# ------------------------------------------------------------------------------------ files


def load_facebook_model(path, **params):
    """Reads a Facebook fastText ``.bin`` file (versions 11 and 12): a supervised model gives a
    fitted :class:`FastTextClassifier`, an unsupervised one a fitted :class:`FastText` (with
    ``wv``). ``params`` set estimator parameters (e.g. ``n_jobs``). Quantized ``.ftz`` models
    raise ValueError (not supported yet)."""
    if not _is_pathlike(path):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    # A pipe (/dev/fd/N) has no size to check the header against: read a temporary copy.
    paths = readable_paths([path])
    core = _binding().load(paths[0])
    args = core.args
    if core.is_supervised:
        est = FastTextClassifier()
        est._set_params_from_args(args)
        est.set_params(**params)
        est._adopt(core, multilabel=False)
        if est.loss == "one_vs_all":
            est.multilabel_ = True
        return est
    est = FastText()
    est._set_params_from_args(args)
    if args.get("model") in ("skipgram", "cbow"):
        est.architecture = args["model"]
    est.set_params(**params)
    est._set_model(core)
    est.wv = FastTextKeyedVectors._from_model(est._model, n_jobs=est.n_jobs)
    return est


def save_facebook_model(model, path):
    """Writes ``model`` (FastText or FastTextClassifier) as a Facebook ``.bin`` file."""
    if not isinstance(model, _FastTextBase):
        raise TypeError(f"expected a fitted FastText or FastTextClassifier, got {type(model).__name__}")
    model.save(path)
