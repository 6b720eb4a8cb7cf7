"""The ``ferrotext`` command line, run in subprocesses as a user would run it."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import requires_estimators

pytestmark = requires_estimators

TOPIC_LINE = re.compile(r"^Topic (\d+): (\S+(?: \S+)*)$")


def run(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "ferrotext", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
    )


def parse_topics(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    topics = []
    for i, line in enumerate(lines):
        m = TOPIC_LINE.match(line)
        assert m, f"unexpected output line {line!r}"
        assert int(m.group(1)) == i
        topics.append(m.group(2).split(" "))
    return topics


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    errors = [line for line in lines if line.startswith("ferrotext: error: ")]
    assert len(errors) == 1, proc.stderr
    assert lines[-1] == errors[0]
    for fragment in fragments:
        assert fragment in errors[0]


def sklearn_top_terms(docs, topics, terms, algorithm="randomized", **vec):
    """What the note's sklearn pipeline gives: the reference for the CLI's output."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    params = dict(stop_words="english", max_features=1000, max_df=0.5, smooth_idf=True) | vec
    v = TfidfVectorizer(**params)
    X = v.fit_transform(docs)
    svd = TruncatedSVD(n_components=topics, algorithm=algorithm, n_iter=100, random_state=42).fit(X)
    names = v.get_feature_names_out()
    return [[str(names[j]) for j in np.argsort(-c, kind="stable")[:terms]] for c in svd.components_], svd.transform(X)


@pytest.fixture(scope="module")
def default_run():
    return run("lsa")


def test_default_run_prints_20_topics_of_7_terms(default_run):
    assert default_run.returncode == 0, default_run.stderr
    topics = parse_topics(default_run.stdout)
    assert len(topics) == 20
    assert all(len(t) == 7 for t in topics)
    # Progress and timings on stderr, not on stdout.
    assert re.search(r"vectorizing 3000 documents \.\.\. 3000 x 1000 TF-IDF matrix, \d+\.\d\d s", default_run.stderr)
    assert re.search(r"SVD \(randomized, 20 components, 100 iterations\) \.\.\. \d+\.\d\d s", default_run.stderr)


def test_default_run_matches_sklearn_pipeline(default_run):
    from ferrotext.datasets import load_demo_corpus

    expected, _ = sklearn_top_terms(load_demo_corpus().data, 20, 7)
    assert parse_topics(default_run.stdout) == expected


def test_console_script_and_quiet():
    script = Path(sys.executable).with_name("ferrotext")
    assert script.exists(), "the ferrotext console script is not installed next to python"
    proc = subprocess.run([script, "lsa", "--topics", "3", "--terms", "4", "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    topics = parse_topics(proc.stdout)
    assert [len(t) for t in topics] == [4, 4, 4]


def test_out_writes_document_vectors(tmp_path):
    out = tmp_path / "docs.npy"
    proc = run("lsa", "--topics", "5", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    vectors = np.load(out)
    assert vectors.shape == (3000, 5)
    from ferrotext.datasets import load_demo_corpus

    _, expected = sklearn_top_terms(load_demo_corpus().data, 5, 7)
    np.testing.assert_allclose(vectors, expected, rtol=1e-6, atol=1e-8)


SPACE = "the rocket launch orbit nasa shuttle moon mission"
CARS = "engine wheel brake car dealer tires speed highway"
FOOD = "pasta sauce garlic recipe oven bread cheese tomato"


def _small_corpus(rng):
    docs = []
    for i in range(36):
        words = [SPACE, CARS, FOOD][i % 3].split()
        docs.append(" ".join(rng.choice(words, size=12)))
    return docs


def test_files_one_document_per_file(tmp_path):
    docs = _small_corpus(np.random.RandomState(0))
    paths = []
    for i, d in enumerate(docs):
        paths.append(tmp_path / f"doc{i:02d}.txt")
        paths[-1].write_text(d)
    out = tmp_path / "v.npy"
    proc = run("lsa", *paths, "--topics", "2", "--terms", "3", "--min-df", "1", "--max-df", "1.0", "--out", out)
    assert proc.returncode == 0, proc.stderr
    expected, vectors = sklearn_top_terms(docs, 2, 3, max_df=1.0)
    assert parse_topics(proc.stdout) == expected
    np.testing.assert_allclose(np.load(out), vectors, rtol=1e-6, atol=1e-8)
    # A folder is read recursively, in sorted order: same result.
    proc_dir = run("lsa", tmp_path, "--topics", "2", "--terms", "3", "--max-df", "1.0", "--quiet")
    # (the folder also holds v.npy now, which is not UTF-8 text)
    assert_one_line_error(proc_dir, "v.npy", "--encoding")


def test_vectorizer_and_svd_options(tmp_path):
    docs = _small_corpus(np.random.RandomState(3))
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(docs))
    proc = run("lsa", path, "--lines", "--topics", "2", "--terms", "4", "--stop-words", "none", "--min-df", "2",
               "--max-df", "0.9", "--max-features", "20", "--algorithm", "arpack", "--jobs", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    expected, _ = sklearn_top_terms(docs, 2, 4, algorithm="arpack", stop_words=None, min_df=2, max_df=0.9, max_features=20)
    assert parse_topics(proc.stdout) == expected
    # "the" is one of the SPACE words; the English stop-word list would drop it, "none" keeps it.
    assert "the" in {w for t in parse_topics(run("lsa", path, "--lines", "--topics", "2", "--terms", "25",
                                                   "--stop-words", "none", "--max-df", "1.0", "-q").stdout) for w in t}


def test_files_lines_and_jsonl(tmp_path):
    docs = _small_corpus(np.random.RandomState(1))
    lines_file = tmp_path / "docs.txt"
    lines_file.write_text("\n".join(docs[:20]) + "\n\n  \n" + "\n".join(docs[20:]) + "\n")
    out = tmp_path / "lines.npy"
    proc = run("lsa", lines_file, "--lines", "--topics", "2", "--max-df", "1.0", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert np.load(out).shape == (36, 2)  # blank lines are not documents
    expected, _ = sklearn_top_terms(docs, 2, 7, max_df=1.0)
    assert parse_topics(proc.stdout) == expected

    jsonl = tmp_path / "docs.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as fh:
        for i, d in enumerate(docs):
            fh.write(json.dumps({"id": i, "label": "x", "text": d}) + "\n")
    out2 = tmp_path / "jsonl.npy"
    proc = run("lsa", jsonl, "--topics", "2", "--max-df", "1.0", "--out", out2, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert parse_topics(proc.stdout) == expected
    np.testing.assert_allclose(np.load(out2), np.load(out), rtol=1e-6, atol=1e-8)


def test_shared_20newsgroups_file(tmp_path):
    from conftest import shared_path

    path = shared_path("20newsgroups", "20news-bydate-test.jsonl.gz")
    out = tmp_path / "test.npy"
    proc = run("lsa", path, "--topics", "4", "--n-iter", "5", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(parse_topics(proc.stdout)) == 4
    assert np.load(out).shape == (7532, 4)


def test_bad_path(tmp_path):
    assert_one_line_error(run("lsa", tmp_path / "missing.txt"), "no such file or folder", "missing.txt")


def test_unreadable_and_undecodable_files(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("caf\xe9 au lait".encode("latin-1"))
    assert_one_line_error(run("lsa", bad), "latin.txt", "not utf-8 text")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    assert_one_line_error(run("lsa", broken), "broken.jsonl.gz")
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked.txt"
        locked.write_text("text")
        locked.chmod(0)
        assert_one_line_error(run("lsa", locked), "cannot read")


def test_empty_corpus(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_one_line_error(run("lsa", empty), "empty corpus")
    assert_one_line_error(run("lsa", empty, "--lines"), "empty corpus")
    stop = tmp_path / "stop.txt"
    stop.write_text("the and of to\nwe are they")
    assert_one_line_error(run("lsa", stop, "--lines"), "cannot build the vocabulary")


def test_too_many_topics(tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(_small_corpus(np.random.RandomState(2))))
    assert_one_line_error(run("lsa", docs, "--lines", "--topics", "50", "--max-df", "1.0"), "--topics 50 is too many")


def test_out_to_missing_folder(tmp_path):
    proc = run("lsa", "--out", tmp_path / "nowhere" / "docs.npy")
    assert_one_line_error(proc, "--out", "does not exist")


def test_usage_errors_exit_2():
    proc = run("lsa", "--topics", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--topics" in proc.stderr
    proc = run()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_help_lists_lsa():
    proc = run("--help")
    assert proc.returncode == 0 and "lsa" in proc.stdout
    proc = run("lsa", "--help")
    assert proc.returncode == 0 and "--max-features" in proc.stdout and "--out" in proc.stdout


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    # Many iterations keep the SVD busy long enough to be interrupted in the middle of it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferrotext", "lsa", "--n-iter", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "SVD (" not in seen and time.monotonic() < deadline:
            seen += os.read(proc.stderr.fileno(), 4096).decode()
        assert "SVD (" in seen
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = seen + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "ferrotext: interrupted"
    assert out == ""


# --------------------------------------------------------------------------------------------
# topics (pLSA / LDA)


def _topic_model_top_terms(docs, model, topics, terms, **kw):
    """The CLI's pipeline written with the Python API: the reference for its output."""
    from ferrotext import PLSA, CountVectorizer, LatentDirichletAllocation

    v = CountVectorizer(stop_words="english", max_features=1000, max_df=0.5)
    X = v.fit_transform(docs)
    if model == "plsa":
        est = PLSA(n_components=topics, random_state=0, **kw)
    else:
        est = LatentDirichletAllocation(n_components=topics, learning_method="batch", random_state=0, **kw)
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        doc_topic = est.fit_transform(X)
    names = v.get_feature_names_out()
    return [[str(names[j]) for j in np.argsort(-c, kind="stable")[:terms]] for c in est.components_], doc_topic


@pytest.mark.parametrize("model", ["lda", "plsa"])
def test_topics_on_demo_corpus_match_python_api(model, tmp_path):
    from ferrotext.datasets import load_demo_corpus

    out = tmp_path / "mix.npy"
    proc = run("topics", "--model", model, "--topics", "6", "--terms", "5", "--jobs", "1", "--out", out)
    assert proc.returncode == 0, proc.stderr
    topics = parse_topics(proc.stdout)
    expected, doc_topic = _topic_model_top_terms(load_demo_corpus().data, model, 6, 5, n_jobs=1)
    assert topics == expected
    mix = np.load(out)
    assert mix.shape == (3000, 6)
    np.testing.assert_allclose(mix, doc_topic, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mix.sum(axis=1), 1.0, rtol=1e-9)
    # Progress and the fit summary go to stderr.
    assert re.search(r"counting words in 3000 documents \.\.\. 3000 x 1000 count matrix", proc.stderr)
    summary = "log-likelihood" if model == "plsa" else "perplexity"
    assert re.search(rf"\d+ iterations, {summary} [-\d.e+]+", proc.stderr), proc.stderr


def test_topics_plsa_separates_planted_themes(tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(_small_corpus(np.random.RandomState(1))))
    proc = run("topics", docs, "--lines", "--model", "plsa", "--topics", "3", "--terms", "4", "--max-df", "1.0",
               "--max-iter", "200", "--jobs", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    themes = [set(SPACE.split()), set(CARS.split()), set(FOOD.split())]
    found = []
    for words in parse_topics(proc.stdout):
        owners = [i for i, theme in enumerate(themes) if set(words) <= theme]
        assert len(owners) == 1, f"topic mixes themes: {words}"
        found.append(owners[0])
    assert sorted(found) == [0, 1, 2]


def test_topics_lda_matches_sklearn_on_a_file(tmp_path):
    # On a tiny corpus LDA can stop in a local optimum (sklearn's own LDA merges two of these
    # themes for some seeds), so the reference here is sklearn's pipeline itself.
    from sklearn.decomposition import LatentDirichletAllocation as SkLDA
    from sklearn.feature_extraction.text import CountVectorizer as SkCount

    texts = _small_corpus(np.random.RandomState(1))
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(texts))
    proc = run("topics", docs, "--lines", "--model", "lda", "--topics", "3", "--terms", "4", "--max-df", "1.0",
               "--max-iter", "50", "--jobs", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    v = SkCount(stop_words="english", max_features=1000, max_df=1.0)
    X = v.fit_transform(texts)
    lda = SkLDA(n_components=3, max_iter=50, learning_method="batch", random_state=0).fit(X)
    names = v.get_feature_names_out()
    expected = [[str(names[j]) for j in np.argsort(-c, kind="stable")[:4]] for c in lda.components_]
    assert parse_topics(proc.stdout) == expected


def test_topics_errors(tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(_small_corpus(np.random.RandomState(2))))
    assert_one_line_error(run("topics", docs, "--lines", "--topics", "50", "--max-df", "1.0"), "--topics 50 is too many")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_one_line_error(run("topics", empty, "--model", "plsa"), "empty corpus")
    assert_one_line_error(run("topics", tmp_path / "missing.txt"), "no such file or folder")
    assert_one_line_error(run("topics", "--out", tmp_path / "nowhere" / "mix.npy"), "--out", "does not exist")
    proc = run("topics", "--model", "nmf")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--model" in proc.stderr
    proc = run("--help")
    assert proc.returncode == 0 and "topics" in proc.stdout
    proc = run("topics", "--help")
    assert proc.returncode == 0 and "--model" in proc.stdout and "--learning-method" in proc.stdout


def test_topics_ctrl_c_exits_130(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferrotext", "topics", "--model", "lda", "--max-iter", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "LDA (" not in seen and time.monotonic() < deadline:
            seen += os.read(proc.stderr.fileno(), 4096).decode()
        assert "LDA (" in seen
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - sent < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = seen + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "ferrotext: interrupted"
    assert out == ""


# --------------------------------------------------------------------------------------------
# Paths, seeds, outputs of the training commands (found by a fresh-user trial)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "small.txt"
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    path.write_text("\n".join(" ".join(rng.choice(words, 15)) for _ in range(300)) + "\n")
    return path


TRAIN_COMMANDS = {
    "word2vec": lambda i, o: ["word2vec", "-train", i, "-output", o, "-size", "8", "-min-count", "1",
                              "-iter", "1", "-threads", "1", "-quiet"],
    "fasttext": lambda i, o: ["fasttext", "skipgram", "-input", i, "-output", o, "-dim", "8", "-minCount", "1",
                              "-epoch", "1", "-bucket", "1000", "-thread", "1", "-verbose", "0"],
    "glove": lambda i, o: ["glove", "-input", i, "-output", o, "-vector-size", "8", "-min-count", "1",
                           "-iter", "2", "-threads", "1", "-verbose", "0"],
}


@pytest.mark.parametrize("command", sorted(TRAIN_COMMANDS))
def test_directory_as_input_is_named_a_directory(command, tmp_path):
    proc = run(*TRAIN_COMMANDS[command](tmp_path, tmp_path / "out"))
    assert_one_line_error(proc, str(tmp_path), "is a directory")


def test_directory_as_model_is_named_a_directory(tmp_path, small_text):
    assert_one_line_error(run("fasttext", "predict", tmp_path, small_text), str(tmp_path), "is a directory")


@pytest.mark.parametrize("command", sorted(TRAIN_COMMANDS))
def test_process_substitution_input_gives_the_same_vectors(command, tmp_path, small_text):
    """`-input <(cat corpus)` is /dev/fd/N, a pipe: read as a stream, same model as the file."""
    from ferrotext.keyedvectors import KeyedVectors

    argv = TRAIN_COMMANDS[command]
    out_file, out_pipe = tmp_path / "file", tmp_path / "pipe"
    assert run(*argv(small_text, out_file)).returncode == 0
    cmd = " ".join(f"'{a}'" for a in [sys.executable, "-m", "ferrotext", *map(str, argv("PIPE", out_pipe))])
    proc = subprocess.run(
        ["bash", "-c", cmd.replace("'PIPE'", f"<(cat '{small_text}')")], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    suffix = ".vec" if command == "fasttext" else ""
    load = dict(no_header=True) if command == "glove" else {}
    a = KeyedVectors.load_word2vec_format(f"{out_file}{suffix}", **load)
    b = KeyedVectors.load_word2vec_format(f"{out_pipe}{suffix}", **load)
    assert a.index_to_key == b.index_to_key and len(a) > 10
    np.testing.assert_array_equal(a.vectors, b.vectors)


@pytest.mark.parametrize("command", sorted(TRAIN_COMMANDS))
def test_unwritable_output_fails_before_training(command, tmp_path, small_text):
    # 10^6 epochs would train for hours: the error must come first.
    argv = TRAIN_COMMANDS[command](small_text, tmp_path / "no" / "such" / "folder" / "out")
    flag = {"word2vec": "-iter", "fasttext": "-epoch", "glove": "-iter"}[command]
    argv[argv.index(flag) + 1] = "1000000"
    start = time.perf_counter()
    proc = run(*argv, timeout=60)
    assert_one_line_error(proc, "-output", "does not exist")
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("command", sorted(TRAIN_COMMANDS))
def test_negative_seed_wraps_as_in_c(command, tmp_path, small_text):
    """fastText (and glove.c) take any int seed; -1 is the unsigned 2**32 - 1 as in C."""
    from ferrotext.keyedvectors import KeyedVectors

    outs = []
    for seed in ("-1", str(2**32 - 1)):
        out = tmp_path / f"seed{seed}"
        proc = run(*TRAIN_COMMANDS[command](small_text, out), "-seed", seed)
        assert proc.returncode == 0, proc.stderr
        suffix = ".vec" if command == "fasttext" else ""
        outs.append(KeyedVectors.load_word2vec_format(f"{out}{suffix}", no_header=command == "glove"))
    np.testing.assert_array_equal(outs[0].vectors, outs[1].vectors)
    bad = run(*TRAIN_COMMANDS[command](small_text, tmp_path / "x"), "-seed", str(2**40))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr  # argparse's usage error
    assert "argument -seed: expected a 32-bit integer" in bad.stderr.splitlines()[-1]


def test_fasttext_verbose_2_reports_the_vocabulary_pass(tmp_path, small_text):
    proc = run("fasttext", "skipgram", "-input", small_text, "-output", tmp_path / "m", "-dim", "8",
               "-minCount", "1", "-epoch", "1", "-bucket", "1000", "-thread", "1", "-verbose", "2")
    assert proc.returncode == 0, proc.stderr
    # fastText's line, counted while reading (4,800 tokens = 0M), before training, once.
    err = proc.stderr  # text mode turned its "\r" into a line break
    assert err.count("Read 0M words\n") == 1
    assert err.index("Read 0M words") < err.index("fasttext skipgram: ")
    assert "Number of words:  41" in proc.stderr


@pytest.mark.parametrize("command", ["word2vec", "fasttext"])
def test_huge_thread_count_is_capped(command, tmp_path, small_text):
    argv = TRAIN_COMMANDS[command](small_text, tmp_path / "out")
    flag = "-threads" if command == "word2vec" else "-thread"
    argv[argv.index(flag) + 1] = "100000"
    start = time.perf_counter()
    proc = run(*argv, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - start < 30
