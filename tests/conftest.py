"""Shared fixtures: where the real data lives, and the 20 Newsgroups corpus."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Real data sits beside the checkout (../shared/data); FERROTEXT_SHARED_DATA overrides it.
def _default_shared_data() -> Path:
    # ../shared/data beside the checkout; a git worktree nested deeper finds it further up.
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO.parent / "shared" / "data"


SHARED_DATA = Path(os.environ.get("FERROTEXT_SHARED_DATA") or _default_shared_data())


def shared_path(*parts: str) -> Path:
    """Path of a file under ../shared/data; skips the test when the data is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data not found: {path} (set FERROTEXT_SHARED_DATA)"
        if os.environ.get("FERROTEXT_REQUIRE_SHARED_DATA") == "1":  # CI: missing data is a failure
            pytest.fail(message)
        pytest.skip(message)
    return path


def _read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def newsgroups_train() -> list[dict]:
    """The 11,314 raw training posts of 20 Newsgroups (bydate), as {id, label, text} dicts."""
    return _read_jsonl_gz(shared_path("20newsgroups", "20news-bydate-train.jsonl.gz"))


@pytest.fixture(scope="session")
def newsgroups_test() -> list[dict]:
    """The 7,532 raw test posts of 20 Newsgroups (bydate)."""
    return _read_jsonl_gz(shared_path("20newsgroups", "20news-bydate-test.jsonl.gz"))


@pytest.fixture(scope="session")
def newsgroups_all(newsgroups_train, newsgroups_test) -> list[str]:
    """All 18,846 raw posts' texts."""
    return [d["text"] for d in newsgroups_train] + [d["text"] for d in newsgroups_test]


def has_estimators() -> bool:
    """True when this build has ferrotext.TfidfVectorizer and TruncatedSVD (not the placeholders)."""
    import ferrotext

    return hasattr(ferrotext, "TfidfVectorizer") and hasattr(ferrotext, "TruncatedSVD")


# For tests that run TF-IDF + SVD through ferrotext (CLI, notebooks). They skip only while
# feature_extraction.py / decomposition.py are still the empty placeholders of the skeleton.
requires_estimators = pytest.mark.skipif(
    not has_estimators(), reason="ferrotext.TfidfVectorizer/TruncatedSVD not built yet (placeholder modules)"
)
