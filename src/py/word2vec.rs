//! Bindings for word2vec training and KeyedVectors neighbour search.

use crate::embed::corpus::{CorpusSource, FileSource, MemorySource, VocabCounter};
use crate::embed::neighbors::top_k_cosine;
use crate::embed::word2vec::{init_vectors, train, Architecture, Loss, Progress, Word2VecParams};
use crate::error::Error;
use crate::py::signals::PythonSignals;
use crate::runtime::release_free_memory;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;

type Counted = (Vec<String>, Vec<u64>, u64, u64);

/// Counts the whitespace tokens of text files (one sentence per line, `.gz` allowed); returns
/// only the words seen at least `min_count` times or listed in `keep`, with the token and
/// sentence totals.
#[pyfunction]
#[pyo3(signature = (paths, max_vocab_size=None, min_count=1, keep=None))]
fn w2v_count_files(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    max_vocab_size: Option<usize>,
    min_count: u64,
    keep: Option<HashSet<String>>,
) -> PyResult<Counted> {
    let signals = PythonSignals::new();
    let counter = py.detach(|| {
        let mut c = VocabCounter::new(max_vocab_size);
        c.count_files(&paths, &signals)?;
        let keep = keep.unwrap_or_default();
        let kept = c.into_kept(min_count, |w| keep.contains(w));
        release_free_memory();
        Ok::<_, Error>(kept)
    })?;
    Ok((
        counter.words,
        counter.counts,
        counter.total_tokens,
        counter.n_sentences,
    ))
}

/// Random initial input vectors for rows `first_row..first_row + n_rows`.
#[pyfunction]
fn w2v_init_vectors(
    py: Python<'_>,
    first_row: usize,
    n_rows: usize,
    dim: usize,
    seed: u64,
) -> PyResult<Bound<'_, PyArray2<f32>>> {
    let v = py.detach(|| init_vectors(first_row, n_rows, dim, seed));
    let a = Array2::from_shape_vec((n_rows, dim), v)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}

type Trained<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f64>>,
    u64,
    u64,
    f64,
);

/// Trains word2vec; the corpus is either `tokens` + `sentence_ends` or `paths` + `vocab`.
#[pyfunction]
#[pyo3(signature = (*, vector_size, window, sample, architecture, loss, negative, ns_exponent, cbow_mean,
    alpha, min_alpha, epochs, shrink_windows, n_threads, seed, counts, words_total, syn0=None, syn1=None,
    tokens=None, sentence_ends=None, paths=None, vocab=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn w2v_train<'py>(
    py: Python<'py>,
    vector_size: usize,
    window: usize,
    sample: f64,
    architecture: &str,
    loss: &str,
    negative: usize,
    ns_exponent: f64,
    cbow_mean: bool,
    alpha: f32,
    min_alpha: f32,
    epochs: usize,
    shrink_windows: bool,
    n_threads: usize,
    seed: u64,
    counts: PyReadonlyArray1<'py, u64>,
    words_total: u64,
    syn0: Option<PyReadonlyArray2<'py, f32>>,
    syn1: Option<PyReadonlyArray2<'py, f32>>,
    tokens: Option<PyReadonlyArray1<'py, u32>>,
    sentence_ends: Option<PyReadonlyArray1<'py, u64>>,
    paths: Option<Vec<PathBuf>>,
    vocab: Option<Vec<String>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Trained<'py>> {
    let architecture = match architecture {
        "skipgram" => Architecture::SkipGram,
        "cbow" => Architecture::Cbow,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown architecture {other:?}"
            )))
        }
    };
    let loss = match loss {
        "negative" => Loss::Negative,
        "hierarchical_softmax" => Loss::HierarchicalSoftmax,
        other => return Err(PyValueError::new_err(format!("unknown loss {other:?}"))),
    };
    let params = Word2VecParams {
        vector_size,
        window,
        sample,
        architecture,
        loss,
        negative,
        ns_exponent,
        cbow_mean,
        alpha,
        min_alpha,
        epochs,
        shrink_windows,
        n_threads,
        // Files: gensim's corpus_file schedule, where each worker decays the rate over its
        // own share of the corpus (see `Word2VecParams::alpha_shares`).
        alpha_shares: if paths.is_some() { n_threads } else { 1 },
        seed,
    };
    let counts = counts.as_slice()?;
    let syn0 = syn0.as_ref().map(|a| a.as_slice()).transpose()?;
    let syn1 = syn1.as_ref().map(|a| a.as_slice()).transpose()?;
    let v = counts.len();
    let tok_slice = match &tokens {
        Some(t) => Some(t.as_slice()?),
        None => None,
    };
    let ends_slice = match &sentence_ends {
        Some(e) => Some(e.as_slice()?),
        None => None,
    };
    let signals = PythonSignals::new();
    let mut callback_error: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut source: Box<dyn CorpusSource> = match (tok_slice, ends_slice, paths, vocab) {
            (Some(t), Some(e), None, None) => Box::new(MemorySource::new(t, e, v)?),
            (None, None, Some(p), Some(w)) => {
                if w.len() != v {
                    return Err(Error::ShapeMismatch(
                        "vocab and counts differ in length".into(),
                    ));
                }
                Box::new(FileSource::new(p, &w))
            }
            _ => {
                return Err(Error::InvalidInput(
                    "give either tokens+sentence_ends or paths+vocab".into(),
                ))
            }
        };
        let mut report = |p: &Progress| -> crate::error::Result<()> {
            if let Some(cb) = &progress {
                let r = Python::attach(|py| {
                    cb.call1(py, (p.epoch, p.words_done, p.words_total, p.elapsed))
                        .map(|_| ())
                });
                if let Err(e) = r {
                    callback_error = Some(e);
                    return Err(Error::Cancelled);
                }
            }
            Ok(())
        };
        train(
            &params,
            counts,
            words_total,
            syn0,
            syn1,
            source.as_mut(),
            &signals,
            &mut report,
        )
    });
    if let Some(e) = callback_error {
        return Err(e);
    }
    let (w0, w1, rep) = result?;
    let dim = vector_size;
    let w0 =
        Array2::from_shape_vec((v, dim), w0).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let w1 =
        Array2::from_shape_vec((v, dim), w1).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        w0.into_pyarray(py),
        w1.into_pyarray(py),
        rep.epoch_loss.into_pyarray(py),
        rep.raw_words,
        rep.effective_words,
        rep.seconds,
    ))
}

type TopK<'py> = (Bound<'py, PyArray2<u32>>, Bound<'py, PyArray2<f32>>);

/// Top-`k` rows by `v_i . q / norms[i]` for each query row, among the first `restrict` rows.
#[pyfunction]
fn kv_top_k<'py>(
    py: Python<'py>,
    vectors: PyReadonlyArray2<'py, f32>,
    norms: PyReadonlyArray1<'py, f32>,
    queries: PyReadonlyArray2<'py, f32>,
    k: usize,
    restrict: usize,
    n_threads: usize,
) -> PyResult<TopK<'py>> {
    let dim = vectors.as_array().ncols();
    if queries.as_array().ncols() != dim {
        return Err(PyValueError::new_err(
            "queries and vectors differ in dimension",
        ));
    }
    let nq = queries.as_array().nrows();
    let (vs, ns, qs) = (vectors.as_slice()?, norms.as_slice()?, queries.as_slice()?);
    let (idx, sims, k) = py.detach(|| top_k_cosine(vs, ns, dim, qs, k, restrict, n_threads))?;
    let idx =
        Array2::from_shape_vec((nq, k), idx).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let sims =
        Array2::from_shape_vec((nq, k), sims).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((idx.into_pyarray(py), sims.into_pyarray(py)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(w2v_count_files, m)?)?;
    m.add_function(wrap_pyfunction!(w2v_init_vectors, m)?)?;
    m.add_function(wrap_pyfunction!(w2v_train, m)?)?;
    m.add_function(wrap_pyfunction!(kv_top_k, m)?)?;
    Ok(())
}
