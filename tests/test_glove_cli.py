"""`ferrotext glove`: Stanford-like flags, GloVe text output readable by gensim, one-line errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from ferrotext import GloVe
from ferrotext.cli import main

DOCS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the mat and the log"] * 30


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(DOCS) + "\n")
    return path


def test_glove_writes_stanford_text_format_matching_the_estimator(corpus, tmp_path, capsys):
    out = tmp_path / "vectors.txt"
    argv = ["glove", "-input", str(corpus), "-output", str(out), "-vector-size", "6", "-window-size", "3",
            "-x-max", "10", "-iter", "5", "-min-count", "2", "-threads", "1", "-eta", "0.05", "-alpha", "0.75",
            "-seed", "3", "-verbose", "2"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "iter: 005, cost:" in err and "wrote" in err
    kv = GloVe.load_glove_format(out)
    ref = GloVe(vector_size=6, window=3, x_max=10, epochs=5, min_count=2, n_jobs=1, random_state=3).fit(corpus)
    assert kv.index_to_key == ref.vocabulary_
    np.testing.assert_array_equal(kv.vectors, ref.wv.vectors)
    first = out.read_text().splitlines()[0].split(" ")
    assert len(first) == 7  # word + 6 values, no header


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning")
def test_gensim_reads_the_output(corpus, tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    out = tmp_path / "v.txt"
    assert main(["glove", "-input", str(corpus), "-output", str(out), "-vector-size", "4", "-iter", "2",
                 "-min-count", "1", "-threads", "1", "-verbose", "0"]) == 0
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(out), no_header=True)
    assert "cat" in kv.key_to_index and kv.vector_size == 4
    head = tmp_path / "h.txt"
    assert main(["glove", "-input", str(corpus), "-output", str(head), "-vector-size", "4", "-iter", "2",
                 "-min-count", "1", "-threads", "1", "-verbose", "0", "-write-header", "1"]) == 0
    kv2 = gensim_models.KeyedVectors.load_word2vec_format(str(head))
    np.testing.assert_allclose(kv2["cat"], kv["cat"], rtol=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["-x-max", "0"], "positive number"),
        (["-x-max", "-3"], "positive number"),
        (["-vector-size", "0"], "positive integer"),
        (["-iter", "x"], "positive integer"),
        (["-threads", "0"], "0 jobs"),
    ],
)
def test_bad_flags_exit_2(corpus, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        main(["glove", "-input", str(corpus), "-output", str(tmp_path / "v.txt"), *extra])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_and_empty_input_are_one_line_errors(tmp_path, capsys):
    assert main(["glove", "-input", str(tmp_path / "nope.txt"), "-output", str(tmp_path / "v.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ferrotext: error: no such file")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["glove", "-input", str(empty), "-output", str(tmp_path / "v.txt"), "-verbose", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ferrotext: error:")
    assert not (tmp_path / "v.txt").exists()


def test_unwritable_output_is_a_one_line_error(corpus, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "dir" / "v.txt"
    assert main(["glove", "-input", str(corpus), "-output", str(target), "-iter", "1", "-min-count", "1",
                 "-threads", "1", "-verbose", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # Found before training (the folder check), in the words the other commands use.
    assert len(err) == 1 and "-output: folder does not exist" in err[0]
