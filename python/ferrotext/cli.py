"""The ``ferrotext`` command line.

    ferrotext lsa [FILES...] [--topics 20] [--terms 7] [--out docs.npy] ...

Subcommands are registered in :func:`build_parser`; ``lsa`` is the first. Expected failures
(bad paths, unreadable files, empty corpora, impossible parameters) print one line
``ferrotext: error: ...`` on stderr and exit with status 2; Ctrl-C exits with status 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PROG = "ferrotext"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """An expected failure: reported as one line on stderr, exit status 2."""


# --------------------------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------------------------


def _bounded_number(kind: type, minimum: float, inclusive: bool, phrase: str):
    """An argparse type: parse `kind` (int or float) and require a finite value above `minimum`
    (or equal to it when `inclusive`). `phrase` completes "expected ..." in the error message."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {phrase}, got {text!r}") from None
        # NaN fails both comparisons; inf is no usable size or rate either.
        in_range = value >= minimum if inclusive else value > minimum
        if not in_range or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected {phrase}, got {text!r}")
        return value

    parse.__name__ = phrase.replace(" ", "_")  # argparse names the type in some messages
    return parse


_positive_int = _bounded_number(int, 1, True, "a positive integer")
_nonnegative_int = _bounded_number(int, 0, True, "an integer >= 0")
_positive_float = _bounded_number(float, 0.0, False, "a positive number")
_nonnegative_float = _bounded_number(float, 0.0, True, "a number >= 0")


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer (-1 = all cores), got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs has no meaning; use a positive number or -1 for all cores")
    return value


def _seed(text: str) -> int:
    """A seed as the C tools take it: any 32-bit int, a negative one wrapping around as C's
    conversion to unsigned does (fastText's ``-seed -1`` trains; sklearn's random_state would
    reject it with an internal message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not -(2**31) <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a 32-bit integer, got {text!r}")
    return value % 2**32


def _df(text: str) -> int | float:
    """Document-frequency bound with scikit-learn's meaning: int = count, float = proportion."""
    try:
        value: int | float = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a count (e.g. 2) or a proportion (e.g. 0.5), got {text!r}") from None
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"a proportion must be in [0.0, 1.0], got {text!r}")
    else:
        if value < 0:
            raise argparse.ArgumentTypeError(f"a document count must be >= 0, got {text!r}")
    return value


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from ferrotext import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="Classic text representations with a fast Rust core."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_lsa(sub)
    _add_word2vec(sub)
    _add_topics(sub)
    _add_glove(sub)
    _add_fasttext(sub)
    return parser


def _add_lsa(sub) -> None:
    p = sub.add_parser(
        "lsa",
        help="latent semantic analysis: TF-IDF + truncated SVD, print the top terms of each topic",
        description=(
            "Latent semantic analysis: TF-IDF + truncated SVD; prints the top terms of each topic. "
            "Without FILES it runs on the embedded 20 Newsgroups demo corpus. Defaults follow the "
            "classic walkthrough: TfidfVectorizer(stop_words='english', max_features=1000, "
            "max_df=0.5, smooth_idf=True), TruncatedSVD(n_components=20, algorithm='randomized', "
            "n_iter=100, random_state=42)."
        ),
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILES",
        help="text files, one document per file (or per line with --lines); folders are read "
        "recursively; *.jsonl.gz files in the 20 Newsgroups format ({'text': ...} per line) are "
        "read record by record",
    )
    p.add_argument("--lines", action="store_true", help="one document per non-empty line")
    p.add_argument("--encoding", default="utf-8", help="encoding of the text files (default: utf-8)")
    p.add_argument("--topics", type=_positive_int, default=20, help="number of topics, SVD components (default: 20)")
    p.add_argument("--terms", type=_positive_int, default=7, help="terms printed per topic (default: 7)")
    g = p.add_argument_group("vectorizer (TfidfVectorizer)")
    g.add_argument("--max-features", type=_positive_int, default=1000, help="vocabulary size (default: 1000)")
    g.add_argument("--max-df", type=_df, default=0.5, help="ignore terms in more documents than this (default: 0.5)")
    g.add_argument("--min-df", type=_df, default=1, help="ignore terms in fewer documents than this (default: 1)")
    g.add_argument(
        "--stop-words", choices=["english", "none"], default="english", help="stop-word list (default: english)"
    )
    g = p.add_argument_group("SVD (TruncatedSVD)")
    g.add_argument("--algorithm", choices=["randomized", "arpack"], default="randomized", help="(default: randomized)")
    g.add_argument("--n-iter", type=_positive_int, default=100, help="randomized power iterations (default: 100)")
    g.add_argument("--seed", type=_seed, default=42, help="random seed (default: 42)")
    g.add_argument("--jobs", type=_jobs, default=None, help="threads, -1 for all cores (default: all cores)")
    p.add_argument("--out", type=Path, metavar="DOCS.npy", help="save the document vectors (n_docs x topics) as .npy")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run_lsa)


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def _check_input_file(name: str, what: str = "") -> None:
    """A file the CLI will read: it must exist and not be a folder. Pipes and other
    non-regular files (``<(zcat corpus.gz)`` gives ``/dev/fd/N``) are fine: they are streamed."""
    label = f"{what}: " if what else ""
    if os.path.isdir(name):
        raise CLIError(f"{label}{name} is a directory, not a file")
    if not os.path.exists(name):
        raise CLIError(f"{label}no such file: {name}")


def _check_output_file(path, what: str) -> None:
    """Fails now, before any training, if ``path`` cannot be written: a folder, a missing
    parent folder, or no permission (tried by opening it for appending, which leaves an
    existing file intact; a file created by the try is removed again)."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{what}: {path} is a directory, not a file")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise CLIError(f"{what}: folder does not exist: {parent}")
    existed = path.exists()
    if existed and not path.is_file():
        return  # /dev/stdout, a named pipe: opening it here could block
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise CLIError(f"{what}: cannot write {path}: {exc.strerror or exc}") from None
    if not existed:
        try:
            path.unlink()
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# Reading documents
# --------------------------------------------------------------------------------------------


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise CLIError(f"folder has no files: {name}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise CLIError(f"no such file or folder: {name}")
    return files


def read_documents(paths: list[str], *, lines: bool, encoding: str) -> list[str]:
    """The documents in ``paths``: whole files, lines, or records of *.jsonl.gz files."""
    from ferrotext.datasets import read_jsonl_gz

    try:
        "".encode(encoding)
    except LookupError:
        raise CLIError(f"unknown encoding: {encoding}") from None
    docs: list[str] = []
    for path in _expand(paths):
        if path.name.endswith(".jsonl.gz"):
            try:
                docs.extend(rec["text"] for rec in read_jsonl_gz(path))
            except (OSError, ValueError) as exc:
                raise CLIError(str(exc)) from None
            continue
        try:
            text = path.read_text(encoding=encoding)
        except UnicodeDecodeError:
            raise CLIError(f"{path}: not {encoding} text (try --encoding latin-1)") from None
        except OSError as exc:
            raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
        if lines:
            docs.extend(line for line in text.splitlines() if line.strip())
        else:
            docs.append(text)
    return docs


# --------------------------------------------------------------------------------------------
# lsa
# --------------------------------------------------------------------------------------------


class _Progress:
    """Progress on stderr: "ferrotext: <step> ..." then, on the same line, the result and time."""

    open_line = False  # a step line is waiting for its end

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def step(self, message: str) -> float:
        if not self.quiet:
            print(f"{PROG}: {message} ...", end="", file=sys.stderr, flush=True)
            _Progress.open_line = True
        return time.perf_counter()

    def done(self, start: float, detail: str = "") -> None:
        if not self.quiet:
            detail = f" {detail}," if detail else ""
            print(f"{detail} {time.perf_counter() - start:.2f} s", file=sys.stderr, flush=True)
            _Progress.open_line = False


def _estimators():
    try:
        from ferrotext import TfidfVectorizer, TruncatedSVD
    except ImportError as exc:  # only in a half-built development tree
        raise RuntimeError(f"this ferrotext build lacks TfidfVectorizer/TruncatedSVD: {exc}") from exc
    return TfidfVectorizer, TruncatedSVD


def top_terms(components, terms, n: int) -> list[list[str]]:
    """The ``n`` terms with the largest weight in each component (ties: lower column first)."""
    import numpy as np

    order = np.argsort(-components, axis=1, kind="stable")[:, :n]
    return [[str(terms[j]) for j in row] for row in order]


def run_lsa(args) -> int:
    import numpy as np

    progress = _Progress(args.quiet)
    if args.out is not None:
        _check_output_file(args.out, "--out")

    t = progress.step("reading documents")
    if args.files:
        docs = read_documents(args.files, lines=args.lines, encoding=args.encoding)
        source = f"{len(args.files)} path(s)"
    else:
        from ferrotext.datasets import load_demo_corpus

        docs = load_demo_corpus().data
        source = "the embedded 20 Newsgroups demo corpus"
    progress.done(t, f"{len(docs)} documents from {source}")
    if not any(d.strip() for d in docs):
        raise CLIError("empty corpus: no documents with any text")

    TfidfVectorizer, TruncatedSVD = _estimators()
    vectorizer = TfidfVectorizer(
        stop_words=None if args.stop_words == "none" else args.stop_words,
        max_features=args.max_features,
        max_df=args.max_df,
        min_df=args.min_df,
        smooth_idf=True,
        n_jobs=args.jobs,
    )
    t = progress.step(f"vectorizing {len(docs)} documents")
    try:
        X = vectorizer.fit_transform(docs)
    except ValueError as exc:  # empty vocabulary, max_df < min_df, ...
        raise CLIError(f"cannot build the vocabulary: {exc}") from None
    progress.done(t, f"{X.shape[0]} x {X.shape[1]} TF-IDF matrix")
    terms = vectorizer.get_feature_names_out()

    limit = min(X.shape)
    if args.topics >= limit:
        raise CLIError(
            f"--topics {args.topics} is too many for {X.shape[0]} documents and {X.shape[1]} terms: "
            f"it must be less than {limit}"
        )
    svd = TruncatedSVD(
        n_components=args.topics,
        algorithm=args.algorithm,
        n_iter=args.n_iter,
        random_state=args.seed,
        n_jobs=args.jobs,
    )
    iters = f", {args.n_iter} iterations" if args.algorithm == "randomized" else ""
    t = progress.step(f"SVD ({args.algorithm}, {args.topics} components{iters})")
    doc_vectors = svd.fit_transform(X)
    progress.done(t)

    for i, words in enumerate(top_terms(svd.components_, terms, args.terms)):
        print(f"Topic {i}: {' '.join(words)}")
    sys.stdout.flush()

    if args.out is not None:
        try:
            np.save(args.out, doc_vectors)
        except OSError as exc:
            raise CLIError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        if not args.quiet:
            print(f"{PROG}: wrote {args.out} ({doc_vectors.shape[0]} x {doc_vectors.shape[1]})", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# word2vec (word2vec.c-style options)
# --------------------------------------------------------------------------------------------


def _add_word2vec(sub) -> None:
    p = sub.add_parser(
        "word2vec",
        help="train word vectors like word2vec.c and write them in its text or binary format",
        description="Train word2vec on text files (one sentence per line, .gz allowed), streamed "
        "from disk, and save the vectors in word2vec.c's format. Options follow word2vec.c.",
    )
    p.add_argument("-train", "-input", dest="input", nargs="+", required=True, metavar="FILE", help="training text file(s)")
    p.add_argument("-output", required=True, metavar="FILE", help="where to write the vectors")
    p.add_argument("-size", type=_positive_int, default=100, help="vector size (default 100)")
    p.add_argument("-window", type=_positive_int, default=5, help="max skip length (default 5)")
    p.add_argument("-sample", type=float, default=1e-3, help="subsampling threshold (default 1e-3, 0 = off)")
    p.add_argument("-hs", type=int, choices=(0, 1), default=0, help="hierarchical softmax (default 0)")
    p.add_argument("-negative", type=int, default=5, help="negative samples (default 5)")
    p.add_argument("-threads", type=_jobs, default=None, help="threads (default: all cores)")
    p.add_argument("-iter", type=_positive_int, default=5, help="epochs (default 5)")
    p.add_argument("-min-count", dest="min_count", type=_positive_int, default=5, help="discard rarer words (default 5)")
    p.add_argument("-alpha", type=float, default=None, help="learning rate (default 0.025)")
    p.add_argument("-binary", type=int, choices=(0, 1), default=0, help="binary output (default 0)")
    p.add_argument("-cbow", type=int, choices=(0, 1), default=1, help="CBOW (1, default) or skip-gram (0)")
    p.add_argument("-seed", type=_seed, default=1, help="random seed (default 1)")
    p.add_argument("-quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run_word2vec)


def run_word2vec(args) -> int:
    from ferrotext.embeddings import Word2Vec

    for f in args.input:
        _check_input_file(f)
    _check_output_file(args.output, "-output")
    if args.hs == 0 and args.negative < 1:
        raise CLIError("-negative must be >= 1 unless -hs 1")
    model = Word2Vec(
        vector_size=args.size, window=args.window, min_count=args.min_count, sample=args.sample,
        architecture="cbow" if args.cbow else "skipgram",
        loss="hierarchical_softmax" if args.hs else "negative", negative=max(args.negative, 1),
        alpha=0.025 if args.alpha is None else args.alpha, epochs=args.iter, n_jobs=args.threads,
        random_state=args.seed, verbose=0 if args.quiet else 1,
    )
    try:
        model.fit([Path(f) for f in args.input])
    except ValueError as exc:  # empty corpus, everything below min_count, invalid UTF-8 ...
        raise CLIError(str(exc).splitlines()[0]) from None
    try:
        model.wv.save_word2vec_format(args.output, binary=bool(args.binary))
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {exc.strerror}") from None
    if not args.quiet:
        print(f"{PROG}: wrote {len(model.wv)} x {model.vector_size} vectors to {args.output}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# topics (pLSA / LDA)
# --------------------------------------------------------------------------------------------


def _add_topics(sub) -> None:
    p = sub.add_parser(
        "topics",
        help="topic models: word counts + pLSA or LDA, print the top terms of each topic",
        description=(
            "Topic models on word counts: CountVectorizer, then pLSA (EM) or latent Dirichlet "
            "allocation (variational Bayes); prints the top terms of each topic, ranked by P(w|z) "
            "(pLSA) or by the topic-word weights components_ (LDA). Without FILES it runs on the "
            "embedded 20 Newsgroups demo corpus. The vectorizer defaults are those of 'ferrotext lsa' "
            "(stop_words='english', max_features=1000, max_df=0.5)."
        ),
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILES",
        help="text files, one document per file (or per line with --lines); folders are read "
        "recursively; *.jsonl.gz files in the 20 Newsgroups format are read record by record",
    )
    p.add_argument("--model", choices=["lda", "plsa"], default="lda", help="topic model (default: lda)")
    p.add_argument("--lines", action="store_true", help="one document per non-empty line")
    p.add_argument("--encoding", default="utf-8", help="encoding of the text files (default: utf-8)")
    p.add_argument("--topics", type=_positive_int, default=20, help="number of topics (default: 20)")
    p.add_argument("--terms", type=_positive_int, default=7, help="terms printed per topic (default: 7)")
    g = p.add_argument_group("vectorizer (CountVectorizer)")
    g.add_argument("--max-features", type=_positive_int, default=1000, help="vocabulary size (default: 1000)")
    g.add_argument("--max-df", type=_df, default=0.5, help="ignore terms in more documents than this (default: 0.5)")
    g.add_argument("--min-df", type=_df, default=1, help="ignore terms in fewer documents than this (default: 1)")
    g.add_argument(
        "--stop-words", choices=["english", "none"], default="english", help="stop-word list (default: english)"
    )
    g = p.add_argument_group("model (PLSA / LatentDirichletAllocation)")
    g.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        help="EM / VB iterations (default: the estimator's, 300 with tol for pLSA, 10 for LDA)",
    )
    g.add_argument(
        "--learning-method",
        choices=["batch", "online"],
        default="batch",
        help="LDA only: batch or online variational Bayes (default: batch)",
    )
    g.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    g.add_argument("--jobs", type=_jobs, default=None, help="threads, -1 for all cores (default: all cores)")
    p.add_argument(
        "--out", type=Path, metavar="DOCS.npy", help="save the document-topic mixtures (n_docs x topics) as .npy"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run_topics)


def run_topics(args) -> int:
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from ferrotext import PLSA, CountVectorizer, LatentDirichletAllocation

    progress = _Progress(args.quiet)
    if args.out is not None:
        _check_output_file(args.out, "--out")

    t = progress.step("reading documents")
    if args.files:
        docs = read_documents(args.files, lines=args.lines, encoding=args.encoding)
        source = f"{len(args.files)} path(s)"
    else:
        from ferrotext.datasets import load_demo_corpus

        docs = load_demo_corpus().data
        source = "the embedded 20 Newsgroups demo corpus"
    progress.done(t, f"{len(docs)} documents from {source}")
    if not any(d.strip() for d in docs):
        raise CLIError("empty corpus: no documents with any text")

    vectorizer = CountVectorizer(
        stop_words=None if args.stop_words == "none" else args.stop_words,
        max_features=args.max_features,
        max_df=args.max_df,
        min_df=args.min_df,
        n_jobs=args.jobs,
    )
    t = progress.step(f"counting words in {len(docs)} documents")
    try:
        X = vectorizer.fit_transform(docs)
    except ValueError as exc:  # empty vocabulary, max_df < min_df, ...
        raise CLIError(f"cannot build the vocabulary: {exc}") from None
    progress.done(t, f"{X.shape[0]} x {X.shape[1]} count matrix")
    terms = vectorizer.get_feature_names_out()
    if args.topics > X.shape[1]:
        raise CLIError(f"--topics {args.topics} is too many for a vocabulary of {X.shape[1]} terms")
    if X.nnz == 0:
        raise CLIError("no document contains a term of the vocabulary")

    extra = {} if args.max_iter is None else {"max_iter": args.max_iter}
    if args.model == "plsa":
        model = PLSA(n_components=args.topics, random_state=args.seed, n_jobs=args.jobs, **extra)
        what = f"pLSA (EM, {args.topics} topics)"
    else:
        model = LatentDirichletAllocation(
            n_components=args.topics,
            learning_method=args.learning_method,
            random_state=args.seed,
            n_jobs=args.jobs,
            **extra,
        )
        what = f"LDA ({args.learning_method} variational Bayes, {args.topics} topics)"
    t = progress.step(what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            doc_topic = model.fit_transform(X)
        except ValueError as exc:
            raise CLIError(str(exc).splitlines()[0]) from None
    if args.model == "plsa":
        detail = f"{model.n_iter_} iterations, log-likelihood {model.log_likelihood_:.6g}"
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            detail += " (not converged: raise --max-iter)"
    else:
        detail = f"{model.n_iter_} iterations, perplexity {model.bound_:.6g}"
    progress.done(t, detail)

    for i, words in enumerate(top_terms(model.components_, terms, args.terms)):
        print(f"Topic {i}: {' '.join(words)}")
    sys.stdout.flush()

    if args.out is not None:
        try:
            np.save(args.out, doc_topic)
        except OSError as exc:
            raise CLIError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        if not args.quiet:
            print(f"{PROG}: wrote {args.out} ({doc_topic.shape[0]} x {doc_topic.shape[1]})", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# glove
# --------------------------------------------------------------------------------------------


def _add_glove(sub) -> None:
    p = sub.add_parser(
        "glove",
        help="train GloVe vectors like Stanford's tools and write them in the GloVe text format",
        description="Count co-occurrences in text files (one document per line, .gz allowed) and "
        "train GloVe, then write 'word v1 v2 ...' lines (W + W~, no header) as Stanford's glove "
        "does. Options follow vocab_count / cooccur / glove.",
    )
    p.add_argument("-input", "-corpus", dest="input", nargs="+", required=True, metavar="FILE", help="training text file(s)")
    p.add_argument("-output", "-save-file", dest="output", required=True, metavar="FILE", help="where to write the vectors")
    p.add_argument("-vector-size", dest="vector_size", type=_positive_int, default=50, help="vector size (default 50)")
    p.add_argument("-window-size", dest="window", type=_positive_int, default=15, help="context window (default 15)")
    p.add_argument("-symmetric", type=int, choices=(0, 1), default=1, help="left and right context (1, default) or left only (0)")
    p.add_argument("-distance-weighting", dest="distance_weighting", type=int, choices=(0, 1), default=1,
                   help="weight a pair by 1/distance (1, default) or 1 (0)")
    p.add_argument("-x-max", dest="x_max", type=_positive_float, default=100.0, help="weighting cut-off (default 100)")
    p.add_argument("-alpha", type=float, default=0.75, help="weighting exponent (default 0.75)")
    p.add_argument("-eta", type=_positive_float, default=0.05, help="initial learning rate (default 0.05)")
    p.add_argument("-iter", type=_positive_int, default=25, help="iterations (default 25)")
    p.add_argument("-min-count", dest="min_count", type=_positive_int, default=5, help="discard rarer words (default 5)")
    p.add_argument("-max-vocab", dest="max_vocab", type=_positive_int, default=None, help="keep at most this many words")
    p.add_argument("-memory", type=_positive_float, default=None, help="counting memory budget in GB (spills to disk beyond)")
    p.add_argument("-threads", type=_jobs, default=None, help="threads (default: all cores)")
    p.add_argument("-seed", type=_seed, default=1, help="random seed (default 1)")
    p.add_argument("-write-header", dest="write_header", type=int, choices=(0, 1), default=0,
                   help="1: write a word2vec header 'V D' first (gensim's default reader)")
    p.add_argument("-verbose", type=int, choices=(0, 1, 2), default=1, help="0 quiet, 1 progress (default), 2 also cost per iteration")
    p.set_defaults(run=run_glove)


def run_glove(args) -> int:
    from ferrotext.glove import GloVe

    for f in args.input:
        _check_input_file(f)
    out = Path(args.output)
    _check_output_file(out, "-output")
    model = GloVe(
        vector_size=args.vector_size, window=args.window, x_max=args.x_max, alpha=args.alpha,
        learning_rate=args.eta, epochs=args.iter, min_count=args.min_count, symmetric=bool(args.symmetric),
        weighting="harmonic" if args.distance_weighting else "uniform", max_vocab_size=args.max_vocab,
        memory_limit=args.memory, n_jobs=args.threads, random_state=args.seed, verbose=args.verbose,
    )
    try:
        model.fit([Path(f) for f in args.input])
    except ValueError as exc:  # empty corpus, everything below min_count, invalid UTF-8 ...
        raise CLIError(str(exc).splitlines()[0]) from None
    try:
        if args.write_header:
            model.wv.save_word2vec_format(out, binary=False)
        else:
            model.save_glove_format(out)
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror}") from None
    if args.verbose:
        print(f"{PROG}: wrote {len(model.wv)} x {model.vector_size} vectors to {out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# fasttext (fastText's own command line: supervised | skipgram | cbow | predict | test)
# --------------------------------------------------------------------------------------------


def _top_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be a positive integer or -1 (all labels), got {text!r}") from None
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"k must be a positive integer or -1 (all labels), got {text!r}")
    return value


_FT_LOSS = {"ns": "negative", "hs": "hierarchical_softmax", "softmax": "softmax", "ova": "one_vs_all", "one-vs-all": "one_vs_all"}


def _add_fasttext(sub) -> None:
    p = sub.add_parser(
        "fasttext",
        help="fastText: train classifiers and subword vectors, predict, test (fastText's flags)",
        description="fastText's command line with its flag names: 'supervised', 'skipgram' and 'cbow' "
        "write OUTPUT.bin (Facebook's format) and OUTPUT.vec; 'predict', 'predict-prob' and 'test' "
        "read a .bin model.",
    )
    modes = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    for mode, help_text in (
        ("supervised", "train a supervised classifier on a __label__ file"),
        ("skipgram", "learn word vectors with skip-gram"),
        ("cbow", "learn word vectors with CBOW"),
    ):
        supervised = mode == "supervised"
        m = modes.add_parser(mode, help=help_text, description=f"fastText {mode}: {help_text}.")
        m.add_argument("-input", required=True, metavar="FILE", help="training file (.gz allowed)")
        m.add_argument("-output", required=True, metavar="PREFIX", help="writes PREFIX.bin and PREFIX.vec")
        m.add_argument("-lr", type=_positive_float, default=0.1 if supervised else 0.05, help="learning rate")
        m.add_argument("-lrUpdateRate", type=_positive_int, default=100, help="rate of updates for the learning rate")
        m.add_argument("-dim", type=_positive_int, default=100, help="size of word vectors")
        m.add_argument("-ws", type=_positive_int, default=5, help="size of the context window")
        m.add_argument("-epoch", type=_positive_int, default=5, help="number of epochs")
        m.add_argument("-minCount", type=_positive_int, default=1 if supervised else 5, help="minimal number of word occurrences")
        m.add_argument("-minCountLabel", type=_nonnegative_int, default=0, help="minimal number of label occurrences")
        m.add_argument("-neg", type=_nonnegative_int, default=5, help="number of negatives sampled")
        m.add_argument("-wordNgrams", type=_positive_int, default=1, help="max length of word ngram")
        m.add_argument(
            "-loss", choices=sorted(_FT_LOSS) if supervised else ["hs", "ns", "softmax"],
            default="softmax" if supervised else "ns", help="loss function",
        )
        m.add_argument("-bucket", type=_nonnegative_int, default=2_000_000, help="number of buckets")
        m.add_argument("-minn", type=_nonnegative_int, default=0 if supervised else 3, help="min length of char ngram")
        m.add_argument("-maxn", type=_nonnegative_int, default=0 if supervised else 6, help="max length of char ngram")
        m.add_argument("-thread", type=_jobs, default=None, help="number of threads (default: all cores)")
        m.add_argument("-t", type=_nonnegative_float, default=1e-4, help="sampling threshold")
        m.add_argument("-label", default="__label__", help="labels prefix")
        m.add_argument("-verbose", type=int, choices=(0, 1, 2), default=2, help="verbosity level")
        m.add_argument("-seed", type=_seed, default=0, help="random seed")
        m.set_defaults(run=run_fasttext_train)
    for mode, help_text in (
        ("predict", "most likely labels of each line"),
        ("predict-prob", "most likely labels of each line, with probabilities"),
    ):
        m = modes.add_parser(mode, help=help_text, description=f"fastText {mode}: {help_text}.")
        m.add_argument("model", metavar="MODEL.bin")
        m.add_argument("input", metavar="TEST", help="text file, one example per line ('-' reads stdin)")
        m.add_argument("k", nargs="?", type=_top_k, default=1, help="labels per line (default 1; -1 = all)")
        m.add_argument("threshold", nargs="?", type=_nonnegative_float, default=0.0, help="minimum probability")
        m.add_argument("-thread", type=_jobs, default=None, help="number of threads (default: all cores)")
        m.set_defaults(run=run_fasttext_predict, probabilities=mode == "predict-prob")
    m = modes.add_parser("test", help="precision and recall at k on a __label__ file", description="fastText test: N, P@k and R@k.")
    m.add_argument("model", metavar="MODEL.bin")
    m.add_argument("input", metavar="TEST", help="__label__ file ('-' reads stdin)")
    m.add_argument("k", nargs="?", type=_top_k, default=1, help="labels predicted per line (default 1)")
    m.add_argument("threshold", nargs="?", type=_nonnegative_float, default=0.0, help="minimum probability")
    m.add_argument("-thread", type=_jobs, default=None, help="number of threads (default: all cores)")
    m.set_defaults(run=run_fasttext_test)


def write_fasttext_vec(core, path) -> None:
    """fastText's .vec: ``nwords dim`` then ``word v1 ... vd `` per word (5 significant digits,
    a space after each value), words in dictionary order, as fastText's saveVectors."""
    vectors = core.word_vectors(1)
    words = getattr(core, "words_bytes", None) or [w.encode("utf-8") for w in core.words]
    with open(path, "wb") as out:
        out.write(f"{len(words)} {core.dim}\n".encode())
        for word, row in zip(words, vectors):
            out.write(word + b" " + "".join(f"{v:.5g} " for v in row.tolist()).encode() + b"\n")


def run_fasttext_train(args) -> int:
    from ferrotext.fasttext import FastText, FastTextClassifier

    if args.input != "-":
        _check_input_file(args.input, "-input")
    for ext in (".bin", ".vec"):
        _check_output_file(args.output + ext, "-output")
    if args.maxn and args.minn > args.maxn:
        raise CLIError(f"-minn {args.minn} is larger than -maxn {args.maxn}")
    if args.loss == "ns" and args.neg < 1:
        raise CLIError("-neg must be >= 1 with -loss ns")
    common = dict(
        vector_size=args.dim, window=args.ws, epochs=args.epoch, alpha=args.lr, min_count=args.minCount,
        negative=args.neg, word_ngrams=args.wordNgrams, loss=_FT_LOSS[args.loss], bucket=args.bucket,
        min_n=args.minn, max_n=args.maxn, lr_update_rate=args.lrUpdateRate, sample=args.t, label=args.label,
        n_jobs=args.thread, random_state=args.seed, verbose=1 if args.verbose >= 2 else 0,
    )
    start = time.perf_counter()
    try:
        if args.mode == "supervised":
            model = FastTextClassifier(min_count_label=args.minCountLabel, **common).fit_file(args.input)
        else:
            model = FastText(architecture=args.mode, **common).fit(args.input)
    except ValueError as exc:  # no labels, empty input, NaN from a too-high -lr ...
        raise CLIError(str(exc).splitlines()[0]) from None
    core = model.model_
    if args.verbose >= 1:
        if args.verbose < 2:  # at verbose 2 the progress already ended on this line
            print(f"Read {core.ntokens // 1_000_000}M words", file=sys.stderr)
        print(f"Number of words:  {core.nwords}", file=sys.stderr)
        if args.mode == "supervised":
            print(f"Number of labels: {core.nlabels}", file=sys.stderr)
        print(f"{PROG}: trained in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    try:
        model.save(args.output + ".bin")
        write_fasttext_vec(core, args.output + ".vec")
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.verbose >= 1:
        print(f"{PROG}: wrote {args.output}.bin and {args.output}.vec", file=sys.stderr)
    return 0


def _load_fasttext_model(path: str):
    from ferrotext.fasttext import load_facebook_model

    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory, not a model file")
    if not os.path.exists(path):
        raise CLIError(f"no such model file: {path}")
    try:
        return load_facebook_model(path)
    except ValueError as exc:
        raise CLIError(f"cannot load {path}: {str(exc).splitlines()[0]}") from None


def _read_input_lines(path: str):
    """Lines of a file (or stdin for '-'), without their newline, in chunks of 100,000."""
    if path == "-":
        fh = sys.stdin.buffer
    else:
        _check_input_file(path)
        fh = open(path, "rb")
    try:
        chunk = []
        for raw in fh:
            chunk.append(raw.rstrip(b"\n").decode("utf-8", errors="replace"))
            if len(chunk) == 100_000:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def run_fasttext_predict(args) -> int:
    from ferrotext._validation import resolve_n_jobs

    model = _load_fasttext_model(args.model)
    core = model.model_
    if not core.is_supervised:
        raise CLIError(f"{args.model} is not a supervised model: predict needs a classifier")
    threads = resolve_n_jobs(args.thread)
    out = sys.stdout
    for lines in _read_input_lines(args.input):
        try:
            results = core.predict(lines, args.k, args.threshold, threads)
        except ValueError as exc:
            raise CLIError(str(exc).splitlines()[0]) from None
        for labels, probs in results:
            if args.probabilities:
                out.write(" ".join(f"{lab} {p:g}" for lab, p in zip(labels, probs)) + "\n")
            else:
                out.write(" ".join(labels) + "\n")
    out.flush()
    return 0


def run_fasttext_test(args) -> int:
    import tempfile

    model = _load_fasttext_model(args.model)
    if not model.model_.is_supervised:
        raise CLIError(f"{args.model} is not a supervised model: test needs a classifier")
    tmp = None
    path = args.input
    if path == "-":
        fd, tmp = tempfile.mkstemp(suffix=".txt")
        with os.fdopen(fd, "wb") as fh:
            fh.write(sys.stdin.buffer.read())
        path = tmp
    else:
        _check_input_file(path)
    model.set_params(n_jobs=args.thread)
    try:
        n, precision, recall = model.test_file(path, k=args.k, threshold=args.threshold)
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    finally:
        if tmp is not None:
            os.unlink(tmp)
    k = args.k
    print(f"N\t{n}")
    print(f"P@{k}\t{precision:.3g}")
    print(f"R@{k}\t{recall:.3g}")
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except CLIError as exc:
        _newline_if_progress()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _newline_if_progress()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `ferrotext lsa | head -3`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _newline_if_progress() -> None:
    # An error may interrupt a progress line ("ferrotext: vectorizing ..."): end it first.
    if _Progress.open_line:
        _Progress.open_line = False
        print(file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
