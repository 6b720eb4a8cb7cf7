"""Character classes of the running Python interpreter, as code-point ranges for the Rust core.

Python's ``re`` ``\\w`` / ``\\s`` and ``str.split()`` follow the interpreter's own Unicode
database, which differs from Rust's tables (Unicode version, and ``\\w`` = ``str.isalnum()`` or
``_``, which includes Nl/No numerics). Scanning every code point once with ``re`` itself gives the
exact sets; the result is cached for the process (about 0.1 s, once).
"""

from __future__ import annotations

import functools
import re

#: Token patterns the Rust scanner implements exactly: every maximal run of two or more ``\w``.
DEFAULT_TOKEN_PATTERNS = frozenset({r"(?u)\b\w\w+\b", r"\b\w\w+\b"})


@functools.lru_cache(maxsize=None)
def char_ranges() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(word ranges, whitespace ranges): inclusive code-point ranges of ``\\w`` and ``\\s``."""
    every = "".join(map(chr, range(0x110000)))
    word = [(m.start(), m.end() - 1) for m in re.finditer(r"\w+", every)]
    space = [(m.start(), m.end() - 1) for m in re.finditer(r"\s+", every)]
    return word, space
