"""KeyedVectors: queries and evaluations vs gensim on the same vectors, word2vec file formats
(round trips with gensim both ways, reference files), hostile files."""

from __future__ import annotations

import gzip
import itertools
import pickle
import struct
import tracemalloc
import warnings

import numpy as np
import pytest

from conftest import shared_path
from ferrotext import KeyedVectors, Word2Vec

gensim_models = pytest.importorskip("gensim.models")


@pytest.fixture(scope="module")
def kv():
    with gzip.open(shared_path("english_corpus", "enwiki2014_13M_text8style.txt.gz"), "rt") as fh:
        corpus = [line.split() for line in itertools.islice(fh, 8000)]
    return Word2Vec(vector_size=32, architecture="skipgram", n_jobs=2, random_state=0, epochs=2).fit(corpus).wv


@pytest.fixture(scope="module")
def gkv(kv):
    return kv.to_gensim()


WORDS = ["king", "city", "war", "music", "river", "one"]


def test_basics(kv):
    assert len(kv) == kv.vectors.shape[0] == len(kv.index_to_key)
    assert kv.vectors.dtype == np.float32 and kv.vectors.flags.c_contiguous
    assert "king" in kv and "no-such-word" not in kv
    assert kv.key_to_index[kv.index_to_key[5]] == 5
    np.testing.assert_array_equal(kv["king"], kv.vectors[kv.key_to_index["king"]])
    assert kv[["king", "war"]].shape == (2, 32)
    with pytest.raises(KeyError, match="no-such-word"):
        kv["no-such-word"]
    with pytest.raises(KeyError, match="no-such-word"):
        kv.similarity("king", "no-such-word")


def test_queries_match_gensim(kv, gkv):
    for w in WORDS:
        ours, theirs = kv.most_similar(w, topn=10), gkv.most_similar(w, topn=10)
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
        assert kv.similarity(w, "the") == pytest.approx(gkv.similarity(w, "the"), rel=1e-5)
        assert kv.distance(w, "of") == pytest.approx(gkv.distance(w, "of"), rel=1e-5)
    ours = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    theirs = gkv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    ours = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    with warnings.catch_warnings():  # gensim's most_similar_cosmul calls its deprecated init_sims
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = gkv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-4)
    assert [k for k, _ in kv.most_similar("war", topn=5, restrict_vocab=500)] == [
        k for k, _ in gkv.most_similar("war", topn=5, restrict_vocab=500)
    ]
    vec = kv["music"] + kv["river"]
    assert [k for k, _ in kv.similar_by_vector(vec, topn=5)] == [k for k, _ in gkv.similar_by_vector(vec, topn=5)]
    words = ["war", "army", "battle", "music", "soldiers"]
    with warnings.catch_warnings():  # gensim's doesnt_match calls its deprecated init_sims
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = gkv.doesnt_match(words)
    assert kv.doesnt_match(words) == expected
    np.testing.assert_allclose(kv.most_similar("king", topn=None), gkv.most_similar("king", topn=None), rtol=1e-4, atol=1e-6)


def test_batched_neighbours_equal_single_queries(kv):
    many = kv.most_similar_many(WORDS, topn=7)
    for w, got in zip(WORDS, many):
        assert [k for k, _ in got] == [k for k, _ in kv.most_similar(w, topn=7)]


def test_analogies_match_gensim(kv, gkv):
    path = shared_path("eval", "questions-words.txt")
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=10000)
    g_score, g_sections = gkv.evaluate_word_analogies(path, restrict_vocab=10000)
    assert [s["section"] for s in sections] == [s["section"] for s in g_sections]
    ours_total, theirs_total = sections[-1], g_sections[-1]
    n = len(theirs_total["correct"]) + len(theirs_total["incorrect"])
    assert len(ours_total["correct"]) + len(ours_total["incorrect"]) == n and n > 1000
    # Same method on the same vectors; only float rounding in near-ties may differ.
    diff = set(ours_total["correct"]) ^ set(theirs_total["correct"])
    assert len(diff) <= max(2, n // 1000)
    assert score == pytest.approx(g_score, abs=2 / n + 1e-3)
    ours_d, theirs_d = kv.evaluate_word_analogies(path, restrict_vocab=3000, case_insensitive=False, dummy4unknown=True), \
        gkv.evaluate_word_analogies(path, restrict_vocab=3000, case_insensitive=False, dummy4unknown=True)
    assert len(ours_d[1][-1]["incorrect"]) + len(ours_d[1][-1]["correct"]) == len(theirs_d[1][-1]["incorrect"]) + len(theirs_d[1][-1]["correct"])
    assert ours_d[0] == pytest.approx(theirs_d[0], abs=2e-3)


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_pairs_match_gensim(kv, gkv, name):
    path = shared_path("eval", name)
    p, s, oov = kv.evaluate_word_pairs(path)
    gp, gs, goov = gkv.evaluate_word_pairs(path)
    assert p.statistic == pytest.approx(gp.statistic, abs=1e-4)
    assert s.statistic == pytest.approx(gs.statistic, abs=1e-3)
    assert oov == goov


def test_pickle(kv):
    again = pickle.loads(pickle.dumps(kv))
    np.testing.assert_array_equal(again.vectors, kv.vectors)
    assert again.index_to_key == kv.index_to_key
    assert again.most_similar("king", topn=3) == kv.most_similar("king", topn=3)


# ---------------------------------------------------------------- formats
@pytest.fixture()
def small_kv():
    rng = np.random.default_rng(0)
    keys = ["the", "of", "café", "naïve", "x"]
    return KeyedVectors(rng.normal(size=(5, 7)).astype(np.float32), keys, counts=[50, 40, 30, 20, 10])


@pytest.mark.parametrize("binary", [False, True])
def test_files_are_byte_identical_to_gensim(small_kv, tmp_path, binary):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    small_kv.save_word2vec_format(ours, binary=binary)
    small_kv.to_gensim().save_word2vec_format(str(theirs), binary=binary)
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("binary", [False, True])
def test_round_trips_with_gensim(kv, tmp_path, binary):
    path = tmp_path / "v"
    kv.save_word2vec_format(path, binary=binary)
    g = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert g.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(g.vectors, kv.vectors)
    back = tmp_path / "g"
    g.save_word2vec_format(str(back), binary=binary)
    ours = KeyedVectors.load_word2vec_format(back, binary=binary)
    assert ours.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(ours.vectors, kv.vectors)
    limited = KeyedVectors.load_word2vec_format(back, binary=binary, limit=10)
    assert limited.index_to_key == kv.index_to_key[:10]


@pytest.mark.parametrize("name,binary", [("word2vec_pre_kv_c.txt", False), ("euclidean_vectors.bin", True)])
def test_reference_files(name, binary):
    path = shared_path("models", "word2vec", name)
    ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert ours.index_to_key == theirs.index_to_key and len(ours) > 0
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)


def test_word2vec_c_binary_with_newlines_and_latin1(tmp_path):
    # word2vec.c writes "\n" after each vector; some files carry Latin-1 words.
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "c.bin"
    path.write_bytes(b"2 3\n" + b"caf\xe9 " + vecs[0].tobytes() + b"\n" + b"b " + vecs[1].tobytes() + b"\n")
    with pytest.raises(ValueError, match="not valid utf8"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    ours = KeyedVectors.load_word2vec_format(path, binary=True, unicode_errors="replace")
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=True, unicode_errors="replace")
    assert ours.index_to_key == theirs.index_to_key == ["caf\ufffd", "b"]
    np.testing.assert_array_equal(ours.vectors, vecs)
    latin = KeyedVectors.load_word2vec_format(path, binary=True, encoding="latin-1")
    assert latin.index_to_key == ["café", "b"]


def _hostile(tmp_path, name, data, gz=False):
    path = tmp_path / (name + (".gz" if gz else ""))
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


ROW = b"w " + struct.pack("<3f", 1, 2, 3)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "name,data,binary",
    [
        ("many_words", b"1000000000000 3\n" + ROW, True),
        ("huge_dim", b"1 1000000000\n" + ROW, True),
        ("huge_dim_text", b"1 1000000000\nw 1.0 2.0\n", False),
        ("short_last_row", b"2 3\n" + ROW + b"v " + struct.pack("<2f", 1, 2), True),
        ("short_text_row", b"2 3\nw 1 2 3\nv 1 2\n", False),
        ("truncated_text", b"3 3\nw 1 2 3\n", False),
        ("bad_header", b"three 3\nw 1 2 3\n", False),
        ("negative_header", b"-1 3\n", False),
        ("not_numbers", b"1 3\nw 1 2 x\n", False),
        ("invalid_utf8", b"1 3\n\xff\xfe 1 2 3\n", False),
        ("empty", b"", True),
        ("no_space", b"1 3\n" + b"w" * 100_000, True),
    ],
)
def test_hostile_files_raise_valueerror(tmp_path, name, data, binary, gz):
    path = _hostile(tmp_path, name, data, gz)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError):
            KeyedVectors.load_word2vec_format(path, binary=binary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_bad_constructor_input():
    with pytest.raises(ValueError):
        KeyedVectors(np.zeros((2, 3)), ["a"])
    with pytest.raises(ValueError, match="duplicate"):
        KeyedVectors(np.zeros((2, 3)), ["a", "a"])


@pytest.mark.parametrize("binary", [False, True])
def test_duplicate_words_warn_and_keep_the_first_like_gensim(tmp_path, binary):
    vecs = np.arange(9, dtype=np.float32).reshape(3, 3)
    path = tmp_path / "dup.w2v"
    if binary:
        path.write_bytes(b"3 3\n" + b"".join(w + b" " + v.tobytes() for w, v in zip([b"a", b"b", b"a"], vecs)))
    else:
        path.write_text("3 3\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in zip("aba", vecs)))
    with pytest.warns(UserWarning, match="duplicate word"):
        ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    # gensim 4.4 leaves an unfilled slot (key None, zero vector) at the end for each dropped row.
    kept = [i for i, k in enumerate(theirs.index_to_key) if k is not None]
    assert ours.index_to_key == [theirs.index_to_key[i] for i in kept] == ["a", "b"]
    np.testing.assert_array_equal(ours.vectors, theirs.vectors[kept])


@pytest.mark.parametrize(
    "tail",
    [b"\0\0\0\0", b"junk", struct.pack("<3f", 7, 8, 9), b"\nextra " + struct.pack("<3f", 7, 8, 9)],
)
def test_binary_trailing_garbage_is_refused(tmp_path, tail):
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    good = b"2 3\n" + b"a " + vecs[0].tobytes() + b"\n" + b"b " + vecs[1].tobytes()
    path = tmp_path / "v.bin"
    for ok_tail in (b"", b"\n", b"\r\n"):
        path.write_bytes(good + ok_tail)
        np.testing.assert_array_equal(KeyedVectors.load_word2vec_format(path, binary=True).vectors, vecs)
    path.write_bytes(good + tail)
    # gensim reads the header's 2 rows and silently ignores the rest; we say the file is wrong.
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=True)
    np.testing.assert_array_equal(theirs.vectors, vecs)
    with pytest.raises(ValueError, match="unexpected bytes after the 2 vectors"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    # With an explicit limit, only the first rows are wanted: the rest is not looked at.
    assert KeyedVectors.load_word2vec_format(path, binary=True, limit=2).index_to_key == ["a", "b"]


@pytest.mark.parametrize("key", ["two words", "line\nbreak", ""])
@pytest.mark.parametrize("binary", [False, True])
def test_keys_the_format_cannot_hold_are_refused(tmp_path, key, binary):
    kv = KeyedVectors(np.ones((2, 3), np.float32), ["ok", key])
    path = tmp_path / "v.w2v"
    with pytest.raises(ValueError, match="cannot be stored"):
        kv.save_word2vec_format(path, binary=binary)
    assert not path.exists() or path.stat().st_size == 0


@pytest.mark.parametrize("binary", [False, True])
def test_reader_survives_random_corruption(tmp_path, binary):
    # A short mutation fuzz: any damage to a valid file gives a result or a ValueError,
    # never another exception or a crash.
    rng = np.random.default_rng(0)
    kv = KeyedVectors(rng.standard_normal((20, 4)).astype(np.float32), [f"w{i}" for i in range(20)])
    good = tmp_path / "good"
    kv.save_word2vec_format(good, binary=binary)
    data = good.read_bytes()
    path = tmp_path / "bad"
    outcomes = {"ok": 0, "error": 0}
    for trial in range(300):
        mutated = bytearray(data)
        kind = trial % 3
        if kind == 0:  # flip bytes
            for pos in rng.integers(0, len(mutated), size=int(rng.integers(1, 8))):
                mutated[pos] = int(rng.integers(0, 256))
        elif kind == 1:  # truncate
            mutated = mutated[: int(rng.integers(0, len(mutated)))]
        else:  # insert junk
            pos = int(rng.integers(0, len(mutated)))
            mutated[pos:pos] = rng.integers(0, 256, size=int(rng.integers(1, 16))).astype(np.uint8).tobytes()
        path.write_bytes(bytes(mutated))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # duplicate words after a flip
                loaded = KeyedVectors.load_word2vec_format(path, binary=binary)
        except ValueError:
            outcomes["error"] += 1
        else:
            outcomes["ok"] += 1
            assert loaded.vectors.dtype == np.float32
            assert loaded.vectors.shape[0] == len(loaded.index_to_key)
    assert outcomes["error"] > 0  # the fuzz does reach the error paths


# ------------------------------------------------------------------ paths and limit (fresh-user trial)
def test_limit_zero_and_negative_as_gensim(kv, tmp_path):
    path = tmp_path / "v.txt"
    kv.save_word2vec_format(path)
    # gensim reads everything for limit=0 (`if limit:`) and fails on a negative one.
    assert len(gensim_models.KeyedVectors.load_word2vec_format(str(path), limit=0)) == len(kv)
    assert len(KeyedVectors.load_word2vec_format(path, limit=0)) == len(kv)
    with pytest.raises(ValueError):
        gensim_models.KeyedVectors.load_word2vec_format(str(path), limit=-1)
    with pytest.raises(ValueError, match="limit must be None or >= 0, got -1"):
        KeyedVectors.load_word2vec_format(path, limit=-1)
    with pytest.raises(TypeError, match="limit"):
        KeyedVectors.load_word2vec_format(path, limit=2.5)
    assert len(KeyedVectors.load_word2vec_format(path, limit=3)) == 3


def test_directory_is_named_in_the_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, not a vector file") as exc:
        KeyedVectors.load_word2vec_format(tmp_path)
    assert exc.value.filename == str(tmp_path)


@pytest.mark.parametrize("binary", [False, True])
def test_reads_a_pipe(kv, tmp_path, binary):
    """/dev/fd/N of a pipe (bash's `<(zcat vectors.gz)`) has no size: read as a stream."""
    import os
    import threading

    path = tmp_path / "v.bin"
    kv.save_word2vec_format(path, binary=binary)
    data = path.read_bytes()
    r, w = os.pipe()

    def feed():
        try:
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BrokenPipeError:  # the reader gave up early
            pass

    t = threading.Thread(target=feed)
    t.start()
    try:
        got = KeyedVectors.load_word2vec_format(f"/dev/fd/{r}", binary=binary)
    finally:
        os.close(r)
        t.join()
    assert got.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(got.vectors, KeyedVectors.load_word2vec_format(path, binary=binary).vectors)
