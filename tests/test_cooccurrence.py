"""ferrotext.cooccurrence_matrix: GloVe cooccur semantics, files vs memory, spilling, bad input."""

import gzip
import os
import pathlib
import tempfile
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ferrotext
from ferrotext import cooccurrence_matrix
from runtime_checks import assert_gil_released, assert_interruptible


# ----------------------------------------------------------------------------- reference
def reference(docs, window, weighting, symmetric, min_count=1, max_vocab_size=None, vocabulary=None):
    """Plain loops written from the description of vocab_count + cooccur."""
    if vocabulary is None:
        counts = Counter(t for d in docs for t in d)
        ordered = sorted(counts, key=lambda w: (-counts[w], w))
        if max_vocab_size is not None:
            ordered = ordered[:max_vocab_size]
        vocabulary = [w for w in ordered if counts[w] >= min_count]
    index = {w: i for i, w in enumerate(vocabulary)}
    n = len(vocabulary)
    X = np.zeros((n, n))
    for doc in docs:
        ids = [index[t] for t in doc if t in index]  # unknown words are skipped, not kept as gaps
        for j in range(len(ids)):
            for k in range(max(0, j - window), j):
                d = j - k
                w = 1.0 / d if weighting == "harmonic" else 1.0
                X[ids[k], ids[j]] += w
                if symmetric:
                    X[ids[j], ids[k]] += w
    return X, vocabulary


def test_note_table_i_like_deep_learning():
    # Seed note, section 3.3.1: "I like deep learning" with a sliding window of 2 words (the word
    # and one neighbour, i.e. window=1 here) gives this table, rows/columns in the note's order.
    note_order = ["I", "like", "deep", "learning"]
    table = np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=float)
    for weighting in ("harmonic", "uniform"):
        X, vocab = cooccurrence_matrix(["I like deep learning"], window=1, weighting=weighting)
        assert sorted(vocab) == sorted(note_order)
        perm = [vocab.index(w) for w in note_order]
        np.testing.assert_array_equal(X.toarray()[np.ix_(perm, perm)], table)
        X2, vocab2 = cooccurrence_matrix([["I", "like", "deep", "learning"]], window=1, vocabulary=note_order)
        assert vocab2 == note_order
        np.testing.assert_array_equal(X2.toarray(), table)


def test_output_types_and_vocabulary_order():
    X, vocab = cooccurrence_matrix(["b a c a", "c c b x"], window=2)
    assert sp.isspmatrix_csr(X) and X.dtype == np.float64 and X.shape == (4, 4)
    # counts: a 2, c 3, b 2, x 1 -> c first, then a, b (ties alphabetical), then x
    assert vocab == ["c", "a", "b", "x"]
    assert X.has_sorted_indices
    assert (X != X.T).nnz == 0


def test_unknown_words_are_skipped_so_windows_span_them():
    # "rare" is below min_count: "a" and "b" become neighbours (distance 1), as cooccur does.
    docs = [["a", "rare", "b"], ["a", "b", "a", "b"]]
    X, vocab = cooccurrence_matrix(docs, window=1, min_count=2)
    assert vocab == ["a", "b"]
    want, _ = reference(docs, 1, "harmonic", True, min_count=2)
    np.testing.assert_allclose(X.toarray(), want)
    assert X[0, 1] == 4.0


def test_asymmetric_counts_left_context_rows():
    # cooccur -symmetric 0 records (left word, right word).
    X, vocab = cooccurrence_matrix(["x y"], window=3, symmetric=False, vocabulary=["x", "y"])
    np.testing.assert_array_equal(X.toarray(), [[0, 1], [0, 0]])


def test_self_pairs_count_twice_when_symmetric():
    X, _ = cooccurrence_matrix(["a a"], window=1)
    assert X[0, 0] == 2.0
    X, _ = cooccurrence_matrix(["a a"], window=1, symmetric=False)
    assert X[0, 0] == 1.0


docs_strategy = st.lists(
    st.lists(st.sampled_from(list("abcdefg")), min_size=0, max_size=40), min_size=1, max_size=25
).filter(lambda ds: sum(map(len, ds)) > 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=docs_strategy,
    window=st.integers(1, 8),
    weighting=st.sampled_from(["harmonic", "uniform"]),
    symmetric=st.booleans(),
    min_count=st.integers(1, 4),
    max_vocab_size=st.one_of(st.none(), st.integers(1, 7)),
    n_jobs=st.sampled_from([1, 2]),
    spill=st.booleans(),
)
def test_matches_reference(docs, window, weighting, symmetric, min_count, max_vocab_size, n_jobs, spill):
    want, want_vocab = reference(docs, window, weighting, symmetric, min_count, max_vocab_size)
    kwargs = dict(window=window, weighting=weighting, symmetric=symmetric, min_count=min_count,
                  max_vocab_size=max_vocab_size, n_jobs=n_jobs, memory_limit=256 if spill else None)
    if not want_vocab:
        with pytest.raises(ValueError, match="min_count"):
            cooccurrence_matrix(docs, **kwargs)
        return
    X, vocab = cooccurrence_matrix(docs, **kwargs)
    assert vocab == want_vocab
    np.testing.assert_allclose(X.toarray(), want, rtol=1e-12, atol=0)


@settings(max_examples=25, deadline=None)
@given(docs=docs_strategy, window=st.integers(1, 6), symmetric=st.booleans())
def test_given_vocabulary_order_and_other_words_ignored(docs, window, symmetric):
    vocabulary = ["g", "a", "c", "zz"]
    want, _ = reference(docs, window, "harmonic", symmetric, vocabulary=vocabulary)
    X, vocab = cooccurrence_matrix(docs, window=window, symmetric=symmetric, vocabulary=vocabulary, min_count=50)
    assert vocab == vocabulary
    np.testing.assert_allclose(X.toarray(), want, rtol=1e-12, atol=0)


def _random_docs(seed, n_docs=400, vocab=300):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab)]
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    return [list(rng.choice(words, size=rng.integers(0, 60), p=p)) for _ in range(n_docs)]


def test_files_lists_strings_generators_agree(tmp_path):
    docs = _random_docs(0)
    text = "\n".join(" ".join(d) for d in docs) + "\n"
    plain = tmp_path / "c.txt"
    plain.write_text(text)
    gz = tmp_path / "c.txt.gz"
    with gzip.open(gz, "wt") as f:
        f.write(text)
    part1, part2 = tmp_path / "p1.txt", tmp_path / "p2.txt"
    part1.write_text("\n".join(" ".join(d) for d in docs[:150]))  # no trailing newline: still a boundary
    part2.write_text("\n".join(" ".join(d) for d in docs[150:]) + "\n")
    ref_X, ref_vocab = cooccurrence_matrix(docs, window=5, min_count=2, n_jobs=1)
    want, want_vocab = reference(docs, 5, "harmonic", True, min_count=2)
    assert ref_vocab == want_vocab
    np.testing.assert_allclose(ref_X.toarray(), want, rtol=1e-12)
    for corpus in (str(plain), plain, gz, [part1, part2], [" ".join(d) for d in docs],
                   (d for d in docs), np.array([" ".join(d) for d in docs], dtype=object)):
        X, vocab = cooccurrence_matrix(corpus, window=5, min_count=2, n_jobs=2)
        assert vocab == ref_vocab
        np.testing.assert_allclose(X.toarray(), ref_X.toarray(), rtol=1e-12)


def test_long_lines_cut_mid_line_keep_their_context(tmp_path):
    # One document far longer than a reader chunk (1 MiB): the cuts must not lose pairs.
    rng = np.random.default_rng(1)
    words = np.array([f"word{i}" for i in range(50)] + ["x" * 30])
    doc = list(rng.choice(words, size=300_000))
    path = tmp_path / "long.txt"
    path.write_text(" ".join(doc) + "\n" + " ".join(doc[:1000]) + "\n")
    vocab = [f"word{i}" for i in range(50)]  # the long "xxx" word is unknown: spans over it
    X, _ = cooccurrence_matrix(path, window=4, vocabulary=vocab, n_jobs=2)
    Y, _ = cooccurrence_matrix([doc, doc[:1000]], window=4, vocabulary=vocab, n_jobs=2)
    np.testing.assert_allclose(X.toarray(), Y.toarray(), rtol=1e-11)
    want, _ = reference([doc, doc[:1000]], 4, "harmonic", True, vocabulary=vocab)
    np.testing.assert_allclose(X.toarray(), want, rtol=1e-9)


def _tmp_dirs():
    return sorted(pathlib.Path(tempfile.gettempdir()).glob("ferrotext-cooccur-*"))


@pytest.mark.parametrize("weighting", ["uniform", "harmonic"])
def test_spilled_runs_give_the_in_memory_matrix(weighting):
    docs = _random_docs(2, n_docs=400, vocab=2000)
    before = _tmp_dirs()
    X, vocab = cooccurrence_matrix(docs, window=10, weighting=weighting, n_jobs=2)
    for limit in ("32KB", 100_000):
        Y, vocab2 = cooccurrence_matrix(docs, window=10, weighting=weighting, n_jobs=2, memory_limit=limit)
        assert vocab2 == vocab
        assert np.array_equal(Y.indptr, X.indptr) and np.array_equal(Y.indices, X.indices)
        if weighting == "uniform":
            # Integer sums are exact whatever the order: bit-identical.
            assert np.array_equal(Y.data, X.data)
        else:
            np.testing.assert_allclose(Y.data, X.data, rtol=1e-13, atol=0)
    assert _tmp_dirs() == before  # the temporary directory is removed


def test_tiny_memory_limit_forces_hundreds_of_spilled_runs():
    from ferrotext import _core

    tokens = (np.arange(20_000, dtype=np.uint32) * 7) % 2000
    ends = np.array([5_000, 20_000], np.uint64)
    kwargs = dict(window=10, weighting="harmonic", symmetric=True, n_threads=2, tokens=tokens,
                  doc_ends=ends, vocab_size=2000)
    before = _tmp_dirs()
    (indptr, indices, data), _, runs, spilled, _ = _core.cooccur_count(memory_limit=64 << 10, **kwargs)
    assert spilled >= 200 and runs >= spilled
    (indptr2, indices2, data2), _, runs2, spilled2, _ = _core.cooccur_count(**kwargs)
    assert spilled2 == 0
    assert np.array_equal(indptr, indptr2) and np.array_equal(indices, indices2)
    np.testing.assert_allclose(data, data2, rtol=1e-13, atol=0)
    assert _tmp_dirs() == before


def test_interrupted_spill_cleans_up(big_file):
    before = _tmp_dirs()
    assert_interruptible(lambda: cooccurrence_matrix([big_file] * 200, window=15, n_jobs=2, memory_limit="1MB"))
    assert _tmp_dirs() == before


def test_reproducible_and_thread_count_independent_up_to_rounding():
    docs = _random_docs(3)
    a, _ = cooccurrence_matrix(docs, window=7, n_jobs=1)
    b, _ = cooccurrence_matrix(docs, window=7, n_jobs=1)
    assert np.array_equal(a.data, b.data) and np.array_equal(a.indices, b.indices)
    c, _ = cooccurrence_matrix(docs, window=7, n_jobs=2)
    np.testing.assert_allclose(c.toarray(), a.toarray(), rtol=1e-12)


@pytest.mark.parametrize(
    "corpus, kwargs, exc, match",
    [
        (None, {}, TypeError, "None"),
        ([], {}, ValueError, "empty"),
        (["", "  "], {}, ValueError, "empty"),
        ([[]], {}, ValueError, "empty"),
        (["a b"], {"min_count": 5}, ValueError, "min_count"),
        (["a b"], {"window": 0}, ValueError, "window"),
        (["a b"], {"window": 2.5}, TypeError, "window"),
        (["a b"], {"weighting": "linear"}, ValueError, "weighting"),
        (["a b", None], {}, TypeError, "NoneType"),
        ([["a", None]], {}, TypeError, "str"),
        ([["a", ["b"]]], {}, TypeError, "str"),
        ([b"a b"], {}, TypeError, "bytes"),
        ([3], {}, TypeError, "int"),
        (["a b"], {"memory_limit": "lots"}, ValueError, "memory_limit"),
        (["a b"], {"memory_limit": -1}, ValueError, "memory_limit"),
        (["a b"], {"vocabulary": []}, ValueError, "empty"),
        (["a b"], {"vocabulary": ["a", "a"]}, ValueError, "duplicate"),
        (["a b"], {"vocabulary": ["a", None]}, TypeError, "str"),
        (["a b"], {"symmetric": "yes"}, TypeError, "symmetric"),
        (["a b"], {"min_count": 0}, ValueError, "min_count"),
        ("/no/such/file.txt", {}, ValueError, "no such file"),
        (42, {}, TypeError, "corpus"),
    ],
)
def test_bad_input(corpus, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cooccurrence_matrix(corpus, **kwargs)


def test_invalid_utf8_file(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"good words\nbad \xff\xfe here\n")
    with pytest.raises(ValueError, match="UTF-8"):
        cooccurrence_matrix(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        cooccurrence_matrix(p)


def test_memory_limit_strings():
    from ferrotext.cooccurrence import _parse_memory_limit

    assert _parse_memory_limit("64MB") == 64 << 20
    assert _parse_memory_limit("1.5 GB") == 3 << 29
    assert _parse_memory_limit(4096) == 4096


def test_verbose_progress(capsys):
    X, _ = cooccurrence_matrix(["a b c"] * 10, window=2, verbose=1)
    assert X.nnz > 0
    assert "cooccurrence" in capsys.readouterr().err


def _big_corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.txt"
    rng = np.random.default_rng(5)
    words = np.array([f"w{i}" for i in range(20_000)])
    with open(path, "w") as f:
        for _ in range(20):
            ids = rng.zipf(1.3, size=50_000) % 20_000
            f.write(" ".join(words[ids]) + "\n")
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return _big_corpus_file(tmp_path_factory)


def test_gil_released(big_file):
    assert_gil_released(lambda: cooccurrence_matrix([big_file] * 2, window=15, n_jobs=2))


def test_ctrl_c(big_file):
    assert_interruptible(lambda: cooccurrence_matrix([big_file] * 200, window=15, n_jobs=2))
    # The in-memory path (ids already encoded, as cooccurrence_matrix hands them to Rust).
    from ferrotext import _core

    tokens = (np.arange(20_000_000, dtype=np.uint32) * 7919) % 5000
    assert_interruptible(lambda: _core.cooccur_count(
        window=15, weighting="harmonic", symmetric=True, n_threads=2, tokens=tokens,
        doc_ends=np.array([len(tokens)], np.uint64), vocab_size=5000))


def test_exported():
    assert "cooccurrence_matrix" in ferrotext.__all__


def test_readme_snippet_prunes_the_vocabulary():
    """cooccurrence_matrix keeps vocab_count's default min_count=1; on the README's demo corpus
    that is 90,012 words (mostly typos, numbers, punctuation-glued tokens) and made the
    snippet's GloVe fit take minutes. The snippet uses GloVe's demo.sh min-count, 5."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    calls = re.findall(r"cooccurrence_matrix\(docs[^)]*\)", readme)
    assert calls
    assert all("min_count=5" in c or "max_vocab_size=" in c for c in calls), calls
