"""Corpus files given by path: one check with clear messages, and pipes made re-readable.

The Rust readers open a corpus file several times (vocabulary pass, then each epoch or the
counting pass). A pipe such as bash's ``<(zcat corpus.gz)`` (``/dev/fd/63``) can be read only
once, so it is copied once, as a stream, into a temporary file that lives as long as the
returned list.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import weakref


def check_file(path: str, hint: str = "") -> None:
    """ValueError naming ``path`` if it is a directory or does not exist (``hint`` is appended)."""
    if os.path.isdir(path):
        raise ValueError(f"{path[:120]!r} is a directory, not a file{hint}")
    if not os.path.exists(path):
        raise ValueError(f"no such file: {path[:120]!r}{hint}")


class _Paths(list):
    """A list of paths that owns the temporary directory some of them live in."""

    _spool = None  # the directory, removed when the list is released


def readable_paths(paths, hint: str = "") -> list[str]:
    """``paths`` checked with :func:`check_file`; pipes and other files that are not regular
    files are replaced by a temporary copy (removed when the returned list is released)."""
    out = _Paths()
    for p in paths:
        p = os.fsdecode(p)
        check_file(p, hint)
        if stat.S_ISREG(os.stat(p).st_mode):
            out.append(p)
            continue
        if out._spool is None:
            out._spool = tempfile.mkdtemp(prefix="ferrotext-stream-")
            weakref.finalize(out, shutil.rmtree, out._spool, True)
        copy = os.path.join(out._spool, f"{len(out)}-{os.path.basename(p)}")
        with open(p, "rb") as src, open(copy, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        out.append(copy)
    return out
