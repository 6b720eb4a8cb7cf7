"""Datasets: the embedded 20 Newsgroups demo corpus and a local 20 Newsgroups loader.

* :func:`load_demo_corpus` needs no download: a stratified sample of the 20 Newsgroups training
  posts ships inside the wheel, already cleaned of headers, signatures and quotes.
* :func:`load_20newsgroups` reads the full "bydate" corpus from a local folder (two
  ``20news-bydate-{train,test}.jsonl.gz`` files) and mirrors
  :func:`sklearn.datasets.fetch_20newsgroups`: same ordering, same shuffling, same stripped texts.
* :func:`strip_newsgroup_header`, :func:`strip_newsgroup_footer` and
  :func:`strip_newsgroup_quoting` reimplement scikit-learn's heuristics of the same names, so
  texts cleaned here equal texts cleaned by scikit-learn.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "load_demo_corpus",
    "load_20newsgroups",
    "read_jsonl_gz",
    "strip_newsgroup_header",
    "strip_newsgroup_footer",
    "strip_newsgroup_quoting",
]

SUBSETS = ("train", "test", "all")
REMOVABLE = ("headers", "footers", "quotes")
TRAIN_FILE = "20news-bydate-train.jsonl.gz"
TEST_FILE = "20news-bydate-test.jsonl.gz"
DEMO_FILE = "20newsgroups-demo.jsonl.gz"
# scikit-learn builds its 20 Newsgroups cache with load_files(), whose default shuffle uses
# random_state=0; fetch_20newsgroups(shuffle=False) therefore returns this order, not file order.
_LOAD_FILES_SEED = 0


# --------------------------------------------------------------------------------------------
# Cleaning heuristics (same behaviour as sklearn.datasets._twenty_newsgroups)
# --------------------------------------------------------------------------------------------


def strip_newsgroup_header(text: str) -> str:
    """Remove the header block of a news post: everything before the first blank line.

    A post without a blank line becomes the empty string (as in scikit-learn).

    >>> strip_newsgroup_header("From: a@b\\nSubject: hi\\n\\nbody\\n\\nmore")
    'body\\n\\nmore'
    """
    return text.partition("\n\n")[2]


_QUOTE_RE = re.compile(r"(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)")


def strip_newsgroup_quoting(text: str) -> str:
    """Remove lines that quote another post.

    Drops lines starting with ``>`` or ``|`` and lines that usually introduce a quote
    (containing ``writes:``, ``wrote:``, ``says:``, ``said:``, ``writes in``, or starting with
    ``In article`` / ``Quoted from``).

    >>> strip_newsgroup_quoting("In article <1@x>, bob writes:\\n> old\\nnew")
    'new'
    """
    return "\n".join(line for line in text.split("\n") if not _QUOTE_RE.search(line))


def strip_newsgroup_footer(text: str) -> str:
    """Remove a trailing signature block.

    The signature is taken to start at the last line that is blank or made only of hyphens
    (ignoring blank lines at the very end). If that line is the first line, or there is none,
    the text is returned unchanged.

    >>> strip_newsgroup_footer("body\\nmore body\\n--\\nBob, bob@example.org")
    'body\\nmore body'
    """
    lines = text.strip().split("\n")
    line_num = 0
    for line_num in range(len(lines) - 1, -1, -1):
        if lines[line_num].strip().strip("-") == "":
            break
    if line_num > 0:
        return "\n".join(lines[:line_num])
    return text


def _check_remove(remove) -> tuple[str, ...]:
    if isinstance(remove, str):
        raise TypeError(f"remove must be a tuple such as ('headers', 'footers', 'quotes'), got the string {remove!r}")
    remove = tuple(remove)
    unknown = [r for r in remove if r not in REMOVABLE]
    if unknown:
        raise ValueError(f"unknown value(s) in remove: {unknown!r}; allowed: {list(REMOVABLE)!r}")
    return remove


def _strip(texts: list[str], remove: tuple[str, ...]) -> list[str]:
    # Same order as scikit-learn: headers, then footers, then quotes.
    if "headers" in remove:
        texts = [strip_newsgroup_header(t) for t in texts]
    if "footers" in remove:
        texts = [strip_newsgroup_footer(t) for t in texts]
    if "quotes" in remove:
        texts = [strip_newsgroup_quoting(t) for t in texts]
    return texts


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_jsonl_gz(path, *, text_key: str = "text") -> list[dict]:
    """Read a gzipped JSON-lines file of ``{"id", "label", "text"}`` records.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the file and the
    line) for anything that is not gzip, not JSON, or lacks a string ``text_key`` field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    records = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(rec, dict) or not isinstance(rec.get(text_key), str):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object with a string {text_key!r} field")
                records.append(rec)
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable gzipped JSON-lines file ({exc})") from None
    return records


def _load_split(folder: Path, filename: str, split: str):
    """One split in scikit-learn's cache order: (texts, target, target_names, filenames)."""
    records = read_jsonl_gz(folder / filename)
    for i, rec in enumerate(records, 1):
        if "label" not in rec or "id" not in rec:
            raise ValueError(f"{folder / filename}:{i}: record lacks 'label' or 'id'")
    # load_files: folders sorted by name, files sorted by name (as strings, not numbers).
    records.sort(key=lambda r: (str(r["label"]), str(r["id"])))
    target_names = sorted({str(r["label"]) for r in records})
    index = {name: i for i, name in enumerate(target_names)}
    texts = [r["text"] for r in records]
    target = np.array([index[str(r["label"])] for r in records], dtype=np.int64)
    filenames = np.array([f"{split}/{r['label']}/{r['id']}" for r in records])
    # ... then shuffled once with RandomState(0) (load_files' default).
    order = np.arange(len(texts))
    check_random_state(_LOAD_FILES_SEED).shuffle(order)
    texts = [texts[i] for i in order]
    return texts, target[order], target_names, filenames[order]


def _select(texts, target, target_names, filenames, *, categories, shuffle, random_state):
    """Category filtering and shuffling, as in fetch_20newsgroups."""
    if categories is not None:
        if isinstance(categories, str):
            categories = [categories]
        unknown = [c for c in categories if c not in target_names]
        if unknown:
            raise ValueError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {unknown!r}; known: {target_names!r}")
        labels = sorted({target_names.index(c) for c in categories})
        mask = np.isin(target, labels)
        target = np.searchsorted(labels, target[mask])
        filenames = filenames[mask]
        texts = [t for t, keep in zip(texts, mask) if keep]
        target_names = [target_names[i] for i in labels]
    if shuffle:
        order = np.arange(target.shape[0])
        check_random_state(random_state).shuffle(order)
        texts = [texts[i] for i in order]
        target = target[order]
        filenames = filenames[order]
    return texts, target, target_names, filenames


_DESCR_20NG = """20 Newsgroups, "bydate" split
-----------------------------

About 18,846 Usenet posts from 1993 on 20 topics (11,314 train, 7,532 test), split by date.
Collected by Ken Lang; the "bydate" version with duplicates removed is Jason Rennie's.
No license is stated by the original distribution; the set is freely redistributed for
research (for example by scikit-learn and the UCI ML Repository). The posts' copyright stays
with their authors.

Loaded by ferrotext.datasets.load_20newsgroups from: {path}
subset={subset!r}, remove={remove!r}
"""


def load_20newsgroups(
    path,
    *,
    subset: str = "train",
    categories=None,
    shuffle: bool = True,
    random_state=42,
    remove=(),
    return_X_y: bool = False,
):
    """Load 20 Newsgroups from a local folder, like :func:`sklearn.datasets.fetch_20newsgroups`.

    Parameters
    ----------
    path : str or path-like
        Folder holding ``20news-bydate-train.jsonl.gz`` and ``20news-bydate-test.jsonl.gz``
        (one JSON object ``{"id", "label", "text"}`` per line, the raw post read as latin-1).
    subset : {'train', 'test', 'all'}, default='train'
        'all' is the train posts followed by the test posts (before any shuffling).
    categories : list of str, default=None
        Newsgroups to keep; labels are renumbered 0..k-1 in alphabetical order of the names.
    shuffle : bool, default=True
        Shuffle the posts with ``random_state`` (as scikit-learn does; with ``shuffle=False`` the
        order is scikit-learn's cache order, which is itself a fixed permutation of the files).
    random_state : int, RandomState instance or None, default=42
    remove : tuple, default=()
        Any of ``('headers', 'footers', 'quotes')``; see :func:`strip_newsgroup_header`,
        :func:`strip_newsgroup_footer`, :func:`strip_newsgroup_quoting`.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    Bunch with ``data`` (list of str), ``target`` (int array), ``target_names``, ``filenames``
    (``"<split>/<group>/<id>"``) and ``DESCR``; or ``(data, target)``.

    For the same raw files, ``data``, ``target`` and ``target_names`` equal what
    ``fetch_20newsgroups`` returns for the same arguments.
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {list(SUBSETS)!r}, got {subset!r}")
    remove = _check_remove(remove)
    if path is None:
        raise TypeError("path is required: the folder holding the 20news-bydate-*.jsonl.gz files")
    folder = Path(os.fspath(path)).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"20 Newsgroups folder not found: {folder}")
    needed = {"train": [TRAIN_FILE], "test": [TEST_FILE], "all": [TRAIN_FILE, TEST_FILE]}[subset]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)} (expected the 20news-bydate-*.jsonl.gz files)")

    parts = [_load_split(folder, name, name.split("-")[2].split(".")[0]) for name in needed]
    texts = [t for p in parts for t in p[0]]
    target = np.concatenate([p[1] for p in parts])
    target_names = parts[-1][2]
    if any(p[2] != target_names for p in parts):
        raise ValueError(f"{folder}: train and test files do not have the same newsgroups")
    filenames = np.concatenate([p[3] for p in parts])

    texts = _strip(texts, remove)
    texts, target, target_names, filenames = _select(
        texts, target, target_names, filenames, categories=categories, shuffle=shuffle, random_state=random_state
    )
    if return_X_y:
        return texts, target
    return Bunch(
        data=texts,
        target=target,
        target_names=target_names,
        filenames=filenames,
        DESCR=_DESCR_20NG.format(path=folder, subset=subset, remove=remove),
    )


def _demo_descr() -> str:
    return (resources.files("ferrotext") / "data" / "README.md").read_text(encoding="utf-8")


def load_demo_corpus(*, categories=None, shuffle: bool = False, random_state=None, return_X_y: bool = False):
    """The embedded demo corpus: a stratified sample of 20 Newsgroups training posts.

    Headers, signatures and quoted lines are already removed (as by
    ``fetch_20newsgroups(remove=('headers', 'footers', 'quotes'))``). It ships inside the
    package, so it works offline; see ``DESCR`` for its origin, size and license.

    Parameters
    ----------
    categories : list of str, default=None
        Newsgroups to keep; labels are renumbered 0..k-1 in alphabetical order of the names.
    shuffle : bool, default=False
        Shuffle with ``random_state``; by default posts are ordered by (newsgroup, post id).
    random_state : int, RandomState instance or None, default=None
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    Bunch with ``data`` (list of str), ``target`` (int array), ``target_names``, ``ids``
    (original post numbers) and ``DESCR``; or ``(data, target)``.
    """
    with resources.as_file(resources.files("ferrotext") / "data" / DEMO_FILE) as file:
        records = read_jsonl_gz(file)
    target_names = sorted({r["label"] for r in records})
    index = {name: i for i, name in enumerate(target_names)}
    texts = [r["text"] for r in records]
    target = np.array([index[r["label"]] for r in records], dtype=np.int64)
    ids = np.array([r["id"] for r in records])
    texts, target, target_names, ids = _select(
        texts, target, target_names, ids, categories=categories, shuffle=shuffle, random_state=random_state
    )
    if return_X_y:
        return texts, target
    return Bunch(data=texts, target=target, target_names=target_names, ids=ids, DESCR=_demo_descr())
