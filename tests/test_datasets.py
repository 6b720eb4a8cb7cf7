"""ferrotext.datasets: stripping parity with scikit-learn, loader semantics, demo corpus, bad input.

The loader is checked against scikit-learn's own ``fetch_20newsgroups``: we hand it the same raw
posts (as the 20news-bydate.tar.gz it would download) and compare what both return.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import _twenty_newsgroups as sk20

from conftest import REPO, shared_path
from ferrotext import datasets
from ferrotext.datasets import (
    load_20newsgroups,
    load_demo_corpus,
    strip_newsgroup_footer,
    strip_newsgroup_header,
    strip_newsgroup_quoting,
)

STRIPPERS = [
    (strip_newsgroup_header, sk20.strip_newsgroup_header),
    (strip_newsgroup_footer, sk20.strip_newsgroup_footer),
    (strip_newsgroup_quoting, sk20.strip_newsgroup_quoting),
]
FULL = ("headers", "footers", "quotes")


# --------------------------------------------------------------------------------------------
# Stripping: same output as scikit-learn's functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", STRIPPERS, ids=["header", "footer", "quoting"])
def test_strip_parity_every_train_post(newsgroups_train, ours, theirs):
    texts = [d["text"] for d in newsgroups_train]
    assert len(texts) == 11314
    mismatches = [i for i, t in enumerate(texts) if ours(t) != theirs(t)]
    assert mismatches == []


def test_strip_all_three_parity_every_train_post(newsgroups_train):
    def ours(t):
        return strip_newsgroup_quoting(strip_newsgroup_footer(strip_newsgroup_header(t)))

    def theirs(t):
        return sk20.strip_newsgroup_quoting(sk20.strip_newsgroup_footer(sk20.strip_newsgroup_header(t)))

    texts = [d["text"] for d in newsgroups_train]
    assert [i for i, t in enumerate(texts) if ours(t) != theirs(t)] == []
    # The heuristics do change most posts: the comparison is not between identities.
    assert sum(ours(t) != t for t in texts) > 11000


_news_text = st.lists(
    st.sampled_from(["", " ", "-- ", "---", "> quoted", "| bar", "In article <1@x> ", "bob writes:", "said: x",
                     "body text", "From: a@b", "Subject: s", "\t", "x wrote: y", "Quoted from z", "end"]),
    max_size=12,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_news_text, st.text(alphabet="ab ->|\n:", max_size=40)))
def test_strip_parity_generated(text):
    for ours, theirs in STRIPPERS:
        assert ours(text) == theirs(text)


def test_strip_by_hand():
    post = "From: bob\nSubject: hi\n\nIn article <1@x>, al writes:\n> old\nnew line\n\n--\nBob\n"
    assert strip_newsgroup_header(post) == "In article <1@x>, al writes:\n> old\nnew line\n\n--\nBob\n"
    assert strip_newsgroup_footer("a\nb\n\n--\nBob\n") == "a\nb\n"
    assert strip_newsgroup_footer("no separator at all") == "no separator at all"
    assert strip_newsgroup_quoting("keep\n> drop\n| drop\nhe said: drop\nkeep too") == "keep\nkeep too"
    assert strip_newsgroup_header("no blank line") == ""


# --------------------------------------------------------------------------------------------
# Loader vs fetch_20newsgroups on the same raw files
# --------------------------------------------------------------------------------------------


def _write_jsonl_folder(folder: Path, train: list[dict], test: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, recs in [("20news-bydate-train.jsonl.gz", train), ("20news-bydate-test.jsonl.gz", test)]:
        with gzip.open(folder / name, "wt", encoding="utf-8") as fh:
            for r in recs:
                fh.write(json.dumps(r) + "\n")
    return folder


def _sklearn_home(tmp: Path, train: list[dict], test: list[dict], monkeypatch) -> Path:
    """A scikit-learn data_home whose 20 Newsgroups cache is built, by scikit-learn's own
    download code, from a 20news-bydate.tar.gz holding exactly these raw posts."""
    raw = tmp / "raw"
    for split, recs in [("train", train), ("test", test)]:
        for r in recs:
            path = raw / f"20news-bydate-{split}" / r["label"] / str(r["id"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(r["text"].encode("latin-1"))  # the texts were read as latin-1
    home = tmp / "sklearn_home"
    home.mkdir()

    def fake_fetch_remote(remote, dirname=None, **kwargs):
        archive = Path(dirname) / remote.filename
        with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
            for split in ("train", "test"):
                tar.add(raw / f"20news-bydate-{split}", arcname=f"20news-bydate-{split}")
        return str(archive)

    monkeypatch.setattr(sk20, "_fetch_remote", fake_fetch_remote)
    sk20.fetch_20newsgroups(data_home=home, subset="train")  # builds the cache
    return home


@pytest.fixture(scope="module")
def full_pair(newsgroups_train, newsgroups_test, tmp_path_factory):
    """(our folder, sklearn data_home) holding the full 18,846 shared posts."""
    tmp = tmp_path_factory.mktemp("full")
    with pytest.MonkeyPatch.context() as mp:
        home = _sklearn_home(tmp, newsgroups_train, newsgroups_test, mp)
    folder = tmp / "ours"
    return _write_jsonl_folder(folder, newsgroups_train, newsgroups_test), home


def _assert_same(ours, theirs):
    assert ours.target_names == list(theirs.target_names)
    np.testing.assert_array_equal(ours.target, theirs.target)
    assert len(ours.data) == len(theirs.data)
    assert ours.data == theirs.data
    # Our filenames are "<split>/<group>/<id>"; theirs are paths ending ".../20news-bydate-<split>/<group>/<id>".
    for mine, path in zip(ours.filenames, theirs.filenames):
        split, group, post = mine.split("/")
        assert Path(path).parts[-3:] == (f"20news-bydate-{split}", group, post)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(subset="train"),
        dict(subset="test", shuffle=False),
        dict(subset="all", remove=FULL, random_state=1),
        dict(subset="train", remove=("headers", "footers", "quotes"), shuffle=True, random_state=1),
        dict(subset="test", remove=("quotes",), categories=["sci.space", "alt.atheism", "rec.autos"], random_state=0),
        dict(subset="all", remove=("footers",), categories=["talk.religion.misc"], shuffle=False),
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_loader_matches_fetch_20newsgroups(full_pair, kwargs):
    folder, home = full_pair
    _assert_same(load_20newsgroups(folder, **kwargs), sk20.fetch_20newsgroups(data_home=home, download_if_missing=False, **kwargs))


def test_loader_return_X_y_matches(full_pair):
    folder, home = full_pair
    X, y = load_20newsgroups(folder, subset="test", remove=FULL, return_X_y=True)
    X2, y2 = sk20.fetch_20newsgroups(data_home=home, subset="test", remove=FULL, return_X_y=True, download_if_missing=False)
    assert X == X2
    np.testing.assert_array_equal(y, y2)


def test_loader_on_shared_folder_documented_sizes(newsgroups_train):
    folder = shared_path("20newsgroups")
    for subset, n in [("train", 11314), ("test", 7532), ("all", 18846)]:
        b = load_20newsgroups(folder, subset=subset)
        assert len(b.data) == b.target.shape[0] == b.filenames.shape[0] == n
        assert len(b.target_names) == 20
    # The documented per-class counts of SOURCE.md.
    b = load_20newsgroups(folder, subset="train", categories=["alt.atheism", "talk.religion.misc"])
    assert b.target_names == ["alt.atheism", "talk.religion.misc"]
    assert Counter(b.target.tolist()) == {0: 480, 1: 377}


# Small hand-made corpus: semantics we can check by hand, runs without the shared data.
TINY_TRAIN = [
    {"id": 9, "label": "b.group", "text": "From: x\n\nnine b"},
    {"id": 10, "label": "b.group", "text": "From: x\n\nten b\n> quoted\n\n--\nsig"},
    {"id": 100, "label": "a.group", "text": "From: y\n\nhundred a"},
    {"id": 7, "label": "c.group", "text": "From: z\n\nseven c"},
]
TINY_TEST = [
    {"id": 200, "label": "a.group", "text": "From: y\n\ntest a"},
    {"id": 201, "label": "b.group", "text": "From: y\n\ntest b"},
    {"id": 202, "label": "c.group", "text": "From: y\n\ntest c"},
]


@pytest.fixture
def tiny(tmp_path):
    return _write_jsonl_folder(tmp_path / "tiny", TINY_TRAIN, TINY_TEST)


def test_tiny_order_unshuffled_is_load_files_order(tiny):
    b = load_20newsgroups(tiny, shuffle=False)
    # load_files order: groups sorted, files sorted as strings ("10" < "9"), then RandomState(0).shuffle.
    files = ["train/a.group/100", "train/b.group/10", "train/b.group/9", "train/c.group/7"]
    order = np.arange(4)
    np.random.RandomState(0).shuffle(order)
    assert list(b.filenames) == [files[i] for i in order]
    assert b.target_names == ["a.group", "b.group", "c.group"]
    assert [b.target_names[t] for t in b.target] == [f.split("/")[1] for f in b.filenames]


def test_tiny_matches_sklearn(tiny, tmp_path, monkeypatch):
    home = _sklearn_home(tmp_path, TINY_TRAIN, TINY_TEST, monkeypatch)
    for kw in [dict(subset="all"), dict(subset="train", shuffle=False, remove=FULL), dict(categories=["c.group", "a.group"])]:
        _assert_same(load_20newsgroups(tiny, **kw), sk20.fetch_20newsgroups(data_home=home, download_if_missing=False, **kw))


def test_tiny_categories_and_remove(tiny):
    b = load_20newsgroups(tiny, subset="all", categories=["c.group", "a.group"], shuffle=False, remove=FULL)
    assert b.target_names == ["a.group", "c.group"]
    assert sorted(zip(b.target.tolist(), b.data)) == [(0, "hundred a"), (0, "test a"), (1, "seven c"), (1, "test c")]
    ten = load_20newsgroups(tiny, categories=["b.group"], remove=FULL, shuffle=False)
    assert sorted(ten.data) == ["nine b", "ten b\n"]  # quote and signature gone, the blank line before "--" stays
    assert "DESCR" in b and "20 Newsgroups" in b.DESCR


def test_tiny_shuffle_is_seeded(tiny):
    a = load_20newsgroups(tiny, subset="all", random_state=3).data
    assert a == load_20newsgroups(tiny, subset="all", random_state=3).data
    assert sorted(a) == sorted(load_20newsgroups(tiny, subset="all", shuffle=False).data)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(subset="dev"), ValueError, "subset must be one of"),
        (dict(categories=["no.such.group"]), ValueError, "unknown category"),
        (dict(remove=("header",)), ValueError, "unknown value"),  # the classic typo for 'headers'
        (dict(remove="headers"), TypeError, "tuple"),
    ],
)
def test_bad_arguments(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_20newsgroups(tiny, **kwargs)


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder not found"):
        load_20newsgroups(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="lacks 20news-bydate-train.jsonl.gz"):
        load_20newsgroups(tmp_path)
    (tmp_path / "20news-bydate-train.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable gzipped"):
        load_20newsgroups(tmp_path)
    with gzip.open(tmp_path / "20news-bydate-train.jsonl.gz", "wt") as fh:
        fh.write('{"id": 1, "label": "a"}\n')
    with pytest.raises(ValueError, match=":1: expected a JSON object with a string 'text'"):
        load_20newsgroups(tmp_path)
    with pytest.raises(FileNotFoundError, match="lacks 20news-bydate-test"):
        load_20newsgroups(tmp_path, subset="all")


# --------------------------------------------------------------------------------------------
# The embedded demo corpus
# --------------------------------------------------------------------------------------------

DEMO_PATH = REPO / "python" / "ferrotext" / "data" / datasets.DEMO_FILE


def test_demo_corpus_shape_and_labels():
    b = load_demo_corpus()
    assert len(b.data) == b.target.shape[0] == b.ids.shape[0] == 3000
    assert len(b.target_names) == 20 and b.target_names == sorted(b.target_names)
    assert Counter(b.target.tolist()) == {k: 150 for k in range(20)}
    assert all(len("".join(t.split())) >= 50 for t in b.data)
    assert "License" in b.DESCR and "make_demo_corpus.py" in b.DESCR
    X, y = load_demo_corpus(return_X_y=True)
    assert X == b.data
    np.testing.assert_array_equal(y, b.target)


def test_demo_corpus_is_small_and_installed():
    import ferrotext

    installed = Path(ferrotext.__file__).parent / "data" / datasets.DEMO_FILE
    assert installed.is_file()
    assert installed.stat().st_size < 2_000_000


def test_demo_corpus_is_cleaned_train_posts(newsgroups_train):
    raw = {(d["label"], int(d["id"])): d["text"] for d in newsgroups_train}
    b = load_demo_corpus()
    for text, label, post in zip(b.data, b.target, b.ids):
        original = raw[(b.target_names[label], int(post))]
        expected = sk20.strip_newsgroup_quoting(sk20.strip_newsgroup_footer(sk20.strip_newsgroup_header(original)))
        assert text == expected
    assert set(b.target_names) == {d["label"] for d in newsgroups_train}


def test_demo_corpus_categories_and_shuffle():
    b = load_demo_corpus(categories=["sci.space", "comp.graphics"], shuffle=True, random_state=0)
    assert b.target_names == ["comp.graphics", "sci.space"]
    assert Counter(b.target.tolist()) == {0: 150, 1: 150}
    unshuffled = load_demo_corpus(categories=["sci.space", "comp.graphics"])
    assert sorted(b.data) == sorted(unshuffled.data) and b.data != unshuffled.data
    with pytest.raises(ValueError, match="unknown category"):
        load_demo_corpus(categories=["sci.spaaace"])


def test_demo_corpus_script_is_reproducible(tmp_path):
    folder = shared_path("20newsgroups")
    spec = importlib.util.spec_from_file_location("make_demo_corpus", REPO / "scripts" / "make_demo_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "demo.jsonl.gz"
    import sys

    argv = sys.argv
    try:
        sys.argv = ["make_demo_corpus.py", "--source", str(folder), "--out", str(out)]
        module.main()
    finally:
        sys.argv = argv
    assert out.read_bytes() == DEMO_PATH.read_bytes()
