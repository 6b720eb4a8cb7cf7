"""Corpus files given by path (ferrotext._corpus): directories, missing files and pipes."""

from __future__ import annotations

import os
import tempfile
import threading

import numpy as np
import pytest

import ferrotext
from ferrotext._corpus import readable_paths

FITS = {
    "Word2Vec": lambda p: ferrotext.Word2Vec(vector_size=8, min_count=1, epochs=1, n_jobs=1, random_state=0).fit(p),
    "FastText": lambda p: ferrotext.FastText(
        vector_size=8, min_count=1, bucket=1000, epochs=1, n_jobs=1, random_state=0
    ).fit(p),
    "GloVe": lambda p: ferrotext.GloVe(vector_size=8, min_count=1, epochs=2, n_jobs=1, random_state=0).fit(p),
    "cooccurrence_matrix": lambda p: ferrotext.cooccurrence_matrix(p),
    "FastTextClassifier.fit_file": lambda p: ferrotext.FastTextClassifier(epochs=1).fit_file(p),
    "load_facebook_model": lambda p: ferrotext.load_facebook_model(p),
}


@pytest.mark.parametrize("name", sorted(FITS))
def test_directory_is_named_a_directory(name, tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a file"):
        FITS[name](str(tmp_path))


@pytest.mark.parametrize("name", sorted(FITS))
def test_missing_file_is_named(name, tmp_path):
    with pytest.raises(ValueError, match="no such file: .*missing.txt"):
        FITS[name](str(tmp_path / "missing.txt"))


def _pipe_of(data: bytes):
    r, w = os.pipe()

    def feed():
        try:
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=feed)
    t.start()
    return r, t


@pytest.mark.parametrize("name", ["Word2Vec", "FastText", "GloVe"])
def test_pipe_trains_like_the_file(name, tmp_path):
    """bash's `<(zcat corpus.gz)` is /dev/fd/N: read once as a stream, then like the file."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(200)) + "\n")
    r, t = _pipe_of(path.read_bytes())
    try:
        piped = FITS[name](f"/dev/fd/{r}")
    finally:
        os.close(r)
        t.join()
    plain = FITS[name](str(path))
    assert piped.wv.index_to_key == plain.wv.index_to_key
    np.testing.assert_array_equal(piped.wv.vectors, plain.wv.vectors)


def test_spooled_copy_is_removed_with_the_list(tmp_path):
    r, t = _pipe_of(b"a b c\n")
    try:
        paths = readable_paths([f"/dev/fd/{r}"])
    finally:
        os.close(r)
        t.join()
    copy = paths[0]
    with open(copy, "rb") as fh:
        assert copy.startswith(tempfile.gettempdir()) and fh.read() == b"a b c\n"
    del paths
    assert not os.path.exists(copy)
    assert not os.path.exists(os.path.dirname(copy))
