"""`ferrotext fasttext ...`: fastText's flags, its output formats, files the fasttext package
reads, one-line errors with exit status 2."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ferrotext
from ferrotext.cli import main
from ferrotext.keyedvectors import KeyedVectors

from conftest import shared_path

fasttext = pytest.importorskip("fasttext")

requires_training = pytest.mark.skipif(
    not hasattr(getattr(ferrotext._core, "FastTextModel", None), "train"),
    reason="this build's FastTextModel has no train() yet",
)


def ref_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fasttext.load_model(str(path))


@pytest.fixture(scope="module")
def polarity():
    model = shared_path("models", "fasttext", "pang_lee_polarity_fasttext.bin")
    corpus = shared_path("corpora", "gensim_small", "pang_lee_polarity.cor")
    return model, corpus


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_test_prints_fasttext_numbers(capsys, polarity):
    model, corpus = polarity
    for k in (1, 2):
        status, out, _ = run(capsys, "fasttext", "test", str(model), str(corpus), str(k))
        assert status == 0
        n, p, r = ref_load(model).test(str(corpus), k)
        assert out == f"N\t{n}\nP@{k}\t{p:.3g}\nR@{k}\t{r:.3g}\n"


def test_predict_and_predict_prob_match_the_package(capsys, tmp_path, polarity):
    model, corpus = polarity
    lines = [" ".join(w for w in line.split() if not w.startswith("__label__"))
             for line in corpus.read_text(encoding="utf-8", errors="replace").splitlines()[:100]]
    text = tmp_path / "in.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ref = ref_load(model)
    labels, probs = ref.predict(lines, k=2)
    status, out, _ = run(capsys, "fasttext", "predict", str(model), str(text), "2")
    assert status == 0
    assert out.splitlines() == [" ".join(row) for row in labels]
    status, out, _ = run(capsys, "fasttext", "predict-prob", str(model), str(text), "2")
    assert status == 0
    got = [line.split() for line in out.splitlines()]
    assert [row[0::2] for row in got] == [list(row) for row in labels]
    for row, p in zip(got, probs):
        np.testing.assert_allclose([float(x) for x in row[1::2]], p, rtol=1e-5)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fasttext", "test", "/nonexistent.bin", "x.txt"], "no such model file"),
        (["fasttext", "supervised", "-input", "/nonexistent.txt", "-output", "/tmp/m"], "no such file"),
        (["fasttext", "skipgram", "-input", "/nonexistent.txt", "-output", "/tmp/m"], "no such file"),
    ],
)
def test_errors_are_one_line_with_status_2(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("ferrotext: error:") and message in err


def test_bad_flag_values_exit_2(capsys):
    for argv in (
        ["fasttext", "supervised", "-input", "x", "-output", "y", "-dim", "0"],
        ["fasttext", "supervised", "-input", "x", "-output", "y", "-lr", "nan"],
        ["fasttext", "supervised", "-input", "x", "-output", "y", "-loss", "hinge"],
        ["fasttext", "cbow", "-input", "x"],
        ["fasttext", "predict", "model.bin", "in.txt", "0"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        capsys.readouterr()


def test_predict_refuses_an_unsupervised_model(capsys, tmp_path):
    model = shared_path("models", "fasttext", "toy-model.bin")
    text = tmp_path / "in.txt"
    text.write_text("hello\n", encoding="utf-8")
    status, _, err = run(capsys, "fasttext", "predict", str(model), str(text))
    assert status == 2 and "not a supervised model" in err


def test_hostile_model_file(capsys, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\xba\x16\x4f\x2f" + b"\xff" * 40)
    status, _, err = run(capsys, "fasttext", "test", str(bad), str(bad))
    assert status == 2 and err.startswith("ferrotext: error: cannot load")


@requires_training
def test_supervised_writes_bin_and_vec_the_package_reads(capsys, tmp_path):
    train = shared_path("classification", "cooking_stackexchange", "cooking.train")
    valid = shared_path("classification", "cooking_stackexchange", "cooking.valid")
    prefix = tmp_path / "model"
    status, _, err = run(
        capsys, "fasttext", "supervised", "-input", str(train), "-output", str(prefix),
        "-epoch", "3", "-wordNgrams", "2", "-bucket", "100000", "-thread", "1", "-verbose", "1", "-seed", "3",
    )
    assert status == 0, err
    ref = ref_load(f"{prefix}.bin")
    assert ref.get_dimension() == 100 and len(ref.get_labels()) > 100
    kv = KeyedVectors.load_word2vec_format(f"{prefix}.vec")
    for word in kv.index_to_key[:50]:
        np.testing.assert_allclose(kv[word], ref.get_word_vector(word), rtol=1e-4, atol=1e-5)
    status, out, _ = run(capsys, "fasttext", "test", f"{prefix}.bin", str(valid))
    n, p, r = ref.test(str(valid))
    assert out == f"N\t{n}\nP@1\t{p:.3g}\nR@1\t{r:.3g}\n"


@requires_training
def test_skipgram_writes_vectors(capsys, tmp_path):
    import gzip

    corpus = tmp_path / "corpus.txt"
    with gzip.open(shared_path("english_corpus", "enwiki2014_13M_text8style.txt.gz"), "rt", encoding="utf-8") as fh:
        corpus.write_text("".join(next(fh) for _ in range(1000)), encoding="utf-8")
    prefix = tmp_path / "vectors"
    status, _, err = run(
        capsys, "fasttext", "skipgram", "-input", str(corpus), "-output", str(prefix),
        "-dim", "10", "-epoch", "1", "-bucket", "50000", "-thread", "1", "-verbose", "0",
    )
    assert status == 0, err
    ref = ref_load(f"{prefix}.bin")
    np.testing.assert_allclose(ref.get_word_vector("villagez"), ferrotext.load_facebook_model(f"{prefix}.bin").wv["villagez"], atol=1e-6)
    header = (tmp_path / "vectors.vec").read_text(encoding="utf-8").splitlines()[0]
    assert header == f"{len(ref.get_words())} 10"


@requires_training
def test_supervised_without_labels_is_an_error(capsys, tmp_path):
    data = tmp_path / "nolabels.txt"
    data.write_text("no labels here\nnone at all\n", encoding="utf-8")
    status, _, err = run(capsys, "fasttext", "supervised", "-input", str(data), "-output", str(tmp_path / "m"))
    # One error line; before it only fastText's progress line of the vocabulary pass.
    lines = err.replace("\r", "").splitlines()
    assert status == 2 and "label" in lines[-1] and lines[-1].startswith("ferrotext: error: ")
    assert lines[:-1] in ([], ["Read 0M words"]), err
