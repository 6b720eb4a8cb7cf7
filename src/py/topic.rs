//! Bindings of the topic models: CSR triples in (zero-copy), numpy arrays out.

use crate::topic::{lda, plsa, CsrView};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::signals::PythonSignals;

/// CSR index arrays as scipy stores them.
#[derive(FromPyObject)]
enum Idx<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

/// CSR values: float64 or float32 counts.
#[derive(FromPyObject)]
enum Vals<'py> {
    F64(PyReadonlyArray1<'py, f64>),
    F32(PyReadonlyArray1<'py, f32>),
}

/// Builds a checked `CsrView` named `$x` for each dtype combination and evaluates `$body`.
macro_rules! with_csr {
    ($indptr:expr, $indices:expr, $data:expr, $shape:expr, |$x:ident| $body:expr) => {{
        let (nr, nc): (usize, usize) = $shape;
        match (&$indptr, &$indices, &$data) {
            (Idx::I32(p), Idx::I32(i), Vals::F64(v)) => {
                let $x = CsrView::new(nr, nc, p.as_slice()?, i.as_slice()?, v.as_slice()?)?;
                $body
            }
            (Idx::I32(p), Idx::I32(i), Vals::F32(v)) => {
                let $x = CsrView::new(nr, nc, p.as_slice()?, i.as_slice()?, v.as_slice()?)?;
                $body
            }
            (Idx::I64(p), Idx::I64(i), Vals::F64(v)) => {
                let $x = CsrView::new(nr, nc, p.as_slice()?, i.as_slice()?, v.as_slice()?)?;
                $body
            }
            (Idx::I64(p), Idx::I64(i), Vals::F32(v)) => {
                let $x = CsrView::new(nr, nc, p.as_slice()?, i.as_slice()?, v.as_slice()?)?;
                $body
            }
            _ => Err(PyValueError::new_err(
                "indptr and indices must have the same integer dtype",
            )),
        }
    }};
}

type PlsaOut<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    usize,
    bool,
);

/// pLSA EM: returns (P(z|d), P(w|z), log-likelihood per update, n_iter, converged).
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, shape, n_components, max_iter, tol, seed, n_threads, doc_topic_init=None, topic_word_init=None))]
#[allow(clippy::too_many_arguments)]
fn plsa_fit<'py>(
    py: Python<'py>,
    indptr: Idx<'py>,
    indices: Idx<'py>,
    data: Vals<'py>,
    shape: (usize, usize),
    n_components: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_threads: usize,
    doc_topic_init: Option<PyReadonlyArray2<'py, f64>>,
    topic_word_init: Option<PyReadonlyArray2<'py, f64>>,
) -> PyResult<PlsaOut<'py>> {
    let params = plsa::PlsaParams {
        n_components,
        max_iter,
        tol,
        seed,
        n_threads,
    };
    let init = match (&doc_topic_init, &topic_word_init) {
        (Some(t), Some(p)) => Some((t.as_array(), p.as_array())),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give both initial doc-topic and topic-word matrices or neither",
            ))
        }
    };
    let signals = PythonSignals::new();
    let fit = with_csr!(indptr, indices, data, shape, |x| {
        py.detach(|| plsa::fit(&x, &params, init, &signals))
            .map_err(PyErr::from)
    })?;
    Ok((
        fit.doc_topic.into_pyarray(py),
        fit.topic_word.into_pyarray(py),
        fit.loglik.into_pyarray(py),
        fit.n_iter,
        fit.converged,
    ))
}

/// pLSA fold-in with P(w|z) fixed: returns (P(z|d), log-likelihood, counted tokens).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn plsa_fold_in<'py>(
    py: Python<'py>,
    indptr: Idx<'py>,
    indices: Idx<'py>,
    data: Vals<'py>,
    shape: (usize, usize),
    topic_word: PyReadonlyArray2<'py, f64>,
    max_iter: usize,
    tol: f64,
    n_threads: usize,
) -> PyResult<(Bound<'py, PyArray2<f64>>, f64, f64)> {
    let tw = topic_word.as_array();
    let signals = PythonSignals::new();
    let out = with_csr!(indptr, indices, data, shape, |x| {
        py.detach(|| plsa::fold_in(&x, tw, max_iter, tol, n_threads, &signals))
            .map_err(PyErr::from)
    })?;
    Ok((out.doc_topic.into_pyarray(py), out.loglik, out.n_tokens))
}

#[allow(clippy::too_many_arguments)]
fn lda_params(
    doc_topic_prior: f64,
    topic_word_prior: f64,
    learning_decay: f64,
    learning_offset: f64,
    batch_size: usize,
    max_doc_update_iter: usize,
    mean_change_tol: f64,
    n_threads: usize,
) -> lda::LdaParams {
    lda::LdaParams {
        doc_topic_prior,
        topic_word_prior,
        learning_decay,
        learning_offset,
        batch_size,
        max_doc_update_iter,
        mean_change_tol,
        n_threads,
    }
}

/// (components_, exp_dirichlet_component_, n_batch_iter_).
type LdaEpochOut<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>, u64);

/// One LDA pass (batch update, or all online mini-batches): (components_, exp_dirichlet_component_, n_batch_iter).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn lda_epoch<'py>(
    py: Python<'py>,
    indptr: Idx<'py>,
    indices: Idx<'py>,
    data: Vals<'py>,
    shape: (usize, usize),
    components: PyReadonlyArray2<'py, f64>,
    n_batch_iter: u64,
    online: bool,
    total_samples: f64,
    batch_size: usize,
    learning_decay: f64,
    learning_offset: f64,
    doc_topic_prior: f64,
    topic_word_prior: f64,
    max_doc_update_iter: usize,
    mean_change_tol: f64,
    seed: u64,
    n_threads: usize,
) -> PyResult<LdaEpochOut<'py>> {
    let params = lda_params(
        doc_topic_prior,
        topic_word_prior,
        learning_decay,
        learning_offset,
        batch_size,
        max_doc_update_iter,
        mean_change_tol,
        n_threads,
    );
    let learning = if online {
        lda::Learning::Online { total_samples }
    } else {
        lda::Learning::Batch
    };
    let lam = components.as_array();
    let signals = PythonSignals::new();
    let out = with_csr!(indptr, indices, data, shape, |x| {
        py.detach(|| lda::epoch(&x, lam, n_batch_iter, &params, learning, seed, &signals))
            .map_err(PyErr::from)
    })?;
    Ok((
        out.components.into_pyarray(py),
        out.exp_dirichlet_component.into_pyarray(py),
        out.n_batch_iter,
    ))
}

/// LDA E-step from ones with fixed topics: unnormalised doc-topic distribution (gamma).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn lda_transform<'py>(
    py: Python<'py>,
    indptr: Idx<'py>,
    indices: Idx<'py>,
    data: Vals<'py>,
    shape: (usize, usize),
    components: PyReadonlyArray2<'py, f64>,
    doc_topic_prior: f64,
    max_doc_update_iter: usize,
    mean_change_tol: f64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let params = lda_params(
        doc_topic_prior,
        1.0,
        0.7,
        10.0,
        1,
        max_doc_update_iter,
        mean_change_tol,
        n_threads,
    );
    let lam = components.as_array();
    let signals = PythonSignals::new();
    let out = with_csr!(indptr, indices, data, shape, |x| {
        py.detach(|| lda::transform(&x, lam, &params, &signals))
            .map_err(PyErr::from)
    })?;
    Ok(out.into_pyarray(py))
}

/// scikit-learn's `_approx_bound` (variational lower bound of the log-likelihood).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn lda_bound<'py>(
    py: Python<'py>,
    indptr: Idx<'py>,
    indices: Idx<'py>,
    data: Vals<'py>,
    shape: (usize, usize),
    gamma: PyReadonlyArray2<'py, f64>,
    components: PyReadonlyArray2<'py, f64>,
    doc_topic_prior: f64,
    topic_word_prior: f64,
    doc_ratio: f64,
    n_threads: usize,
) -> PyResult<f64> {
    let (g, lam) = (gamma.as_array(), components.as_array());
    let signals = PythonSignals::new();
    with_csr!(indptr, indices, data, shape, |x| {
        py.detach(|| {
            lda::approx_bound(
                &x,
                g,
                lam,
                doc_topic_prior,
                topic_word_prior,
                doc_ratio,
                n_threads,
                &signals,
            )
        })
        .map_err(PyErr::from)
    })
}

/// exp(E[log beta]) of a topic-word matrix.
#[pyfunction]
fn lda_exp_dirichlet<'py>(
    py: Python<'py>,
    components: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let lam = components.as_array();
    let out = py.detach(|| lda::exp_dirichlet_component(lam))?;
    Ok(out.into_pyarray(py))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plsa_fit, m)?)?;
    m.add_function(wrap_pyfunction!(plsa_fold_in, m)?)?;
    m.add_function(wrap_pyfunction!(lda_epoch, m)?)?;
    m.add_function(wrap_pyfunction!(lda_transform, m)?)?;
    m.add_function(wrap_pyfunction!(lda_bound, m)?)?;
    m.add_function(wrap_pyfunction!(lda_exp_dirichlet, m)?)?;
    Ok(())
}
