//! Bindings for GloVe co-occurrence counting (`ferrotext.cooccurrence_matrix`).

use crate::embed::cooccur::{
    cooccur_files, cooccur_ids, count_words_files, select_vocabulary, CooccurParams, CsrMatrix,
    Weighting,
};
use crate::error::Error;
use crate::py::signals::PythonSignals;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;

type Matrix<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<f64>>,
);

fn to_py(py: Python<'_>, m: CsrMatrix) -> Matrix<'_> {
    (
        m.indptr.into_pyarray(py),
        m.indices.into_pyarray(py),
        m.data.into_pyarray(py),
    )
}

/// Calls the Python progress callback `(phase, done, total)`; an exception in it stops the work.
struct Callback {
    callback: Option<Py<PyAny>>,
    error: Option<PyErr>,
}

impl Callback {
    fn call(&mut self, phase: &str, done: u64, total: u64) -> crate::error::Result<()> {
        if let Some(cb) = &self.callback {
            if let Err(e) = Python::attach(|py| cb.call1(py, (phase, done, total)).map(|_| ())) {
                self.error = Some(e);
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn params(
    window: usize,
    weighting: &str,
    symmetric: bool,
    n_threads: usize,
    memory_limit: Option<u64>,
    temp_dir: Option<PathBuf>,
) -> PyResult<CooccurParams> {
    let weighting = match weighting {
        "harmonic" => Weighting::Harmonic,
        "uniform" => Weighting::Uniform,
        other => {
            return Err(PyValueError::new_err(format!(
                "weighting must be 'harmonic' or 'uniform', got {other:?}"
            )))
        }
    };
    Ok(CooccurParams {
        window,
        weighting,
        symmetric,
        n_threads,
        memory_limit,
        temp_dir,
    })
}

/// Counts the words of text files: `(words, counts, total_tokens)`.
#[pyfunction]
#[pyo3(signature = (paths, n_threads, progress=None))]
fn cooccur_count_files(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    n_threads: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Vec<String>, Vec<u64>, u64)> {
    let signals = PythonSignals::new();
    let mut cb = Callback {
        callback: progress,
        error: None,
    };
    let out = py
        .detach(|| count_words_files(&paths, n_threads, &signals, &mut |p, d, t| cb.call(p, d, t)));
    if let Some(e) = cb.error {
        return Err(e);
    }
    Ok(out?)
}

/// Orders and truncates a vocabulary as vocab_count does.
#[pyfunction]
#[pyo3(signature = (words, counts, min_count, max_size=None))]
fn cooccur_select_vocabulary(
    words: Vec<String>,
    counts: Vec<u64>,
    min_count: u64,
    max_size: Option<usize>,
) -> PyResult<(Vec<String>, Vec<u64>)> {
    if words.len() != counts.len() {
        return Err(PyValueError::new_err("words and counts differ in length"));
    }
    Ok(select_vocabulary(words, counts, min_count, max_size))
}

type Counted<'py> = (Matrix<'py>, u64, usize, usize, Vec<(String, f64)>);

/// Counts co-occurrences: either `paths` + `vocab` (files streamed from disk) or `tokens` +
/// `doc_ends` + `vocab_size` (ids, `2**32 - 1` for a dropped word). Returns the CSR arrays of
/// the `(V, V)` matrix, the tokens counted, the number of runs and of spilled runs, and the
/// seconds of the final phases.
#[pyfunction]
#[pyo3(signature = (*, window, weighting, symmetric, n_threads, memory_limit=None, temp_dir=None,
    paths=None, vocab=None, tokens=None, doc_ends=None, vocab_size=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn cooccur_count<'py>(
    py: Python<'py>,
    window: usize,
    weighting: &str,
    symmetric: bool,
    n_threads: usize,
    memory_limit: Option<u64>,
    temp_dir: Option<PathBuf>,
    paths: Option<Vec<PathBuf>>,
    vocab: Option<Vec<String>>,
    tokens: Option<PyReadonlyArray1<'py, u32>>,
    doc_ends: Option<PyReadonlyArray1<'py, u64>>,
    vocab_size: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Counted<'py>> {
    let params = params(
        window,
        weighting,
        symmetric,
        n_threads,
        memory_limit,
        temp_dir,
    )?;
    let tok = match &tokens {
        Some(t) => Some(t.as_slice()?),
        None => None,
    };
    let ends = match &doc_ends {
        Some(e) => Some(e.as_slice()?),
        None => None,
    };
    let signals = PythonSignals::new();
    let mut cb = Callback {
        callback: progress,
        error: None,
    };
    let out = py.detach(|| {
        let mut report = |p: &str, d: u64, t: u64| cb.call(p, d, t);
        match (paths, vocab, tok, ends, vocab_size) {
            (Some(p), Some(v), None, None, None) => {
                cooccur_files(&p, &v, &params, &signals, &mut report)
            }
            (None, None, Some(t), Some(e), Some(v)) => {
                cooccur_ids(t, e, v, &params, &signals, &mut report)
            }
            _ => Err(Error::InvalidInput(
                "give either paths + vocab or tokens + doc_ends + vocab_size".into(),
            )),
        }
    });
    if let Some(e) = cb.error {
        return Err(e);
    }
    let (m, stats) = out?;
    let seconds = stats
        .seconds
        .iter()
        .map(|(k, s)| (k.to_string(), *s))
        .collect();
    Ok((
        to_py(py, m),
        stats.tokens,
        stats.runs,
        stats.spilled_runs,
        seconds,
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cooccur_count_files, m)?)?;
    m.add_function(wrap_pyfunction!(cooccur_select_vocabulary, m)?)?;
    m.add_function(wrap_pyfunction!(cooccur_count, m)?)?;
    Ok(())
}
