//! Bindings for GloVe training on a CSR co-occurrence matrix.

use crate::embed::glove::{
    build_cells, initial_parameters, shuffle_cells, train, GloveParams, Progress,
};
use crate::error::Error;
use crate::py::signals::PythonSignals;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

type Trained<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f64>>,
    u64,
    f64,
);

/// Trains GloVe on the square CSR matrix (`indptr` int64, `indices` int32, `data` float64).
/// Returns `(W, W~, b, b~, cost per epoch, cells, seconds)`; `progress(epoch, done, total,
/// elapsed, last_cost)` is called from this thread.
#[pyfunction]
#[pyo3(signature = (*, n_words, indptr, indices, data, vector_size, x_max, alpha, learning_rate,
    epochs, grad_clip, n_threads, seed, progress=None))]
#[allow(clippy::too_many_arguments)]
fn glove_train<'py>(
    py: Python<'py>,
    n_words: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i32>,
    data: PyReadonlyArray1<'py, f64>,
    vector_size: usize,
    x_max: f64,
    alpha: f64,
    learning_rate: f32,
    epochs: usize,
    grad_clip: f32,
    n_threads: usize,
    seed: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Trained<'py>> {
    let params = GloveParams {
        vector_size,
        x_max,
        alpha,
        learning_rate,
        epochs,
        grad_clip,
        n_threads,
        seed,
    };
    params.validate()?;
    let (indptr, indices, data) = (indptr.as_slice()?, indices.as_slice()?, data.as_slice()?);
    let signals = PythonSignals::new();
    let mut callback_error: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut cells = build_cells(n_words, indptr, indices, data, x_max, alpha, n_threads)?;
        shuffle_cells(&mut cells, seed);
        let mut report = |p: &Progress| -> crate::error::Result<()> {
            if let Some(cb) = &progress {
                let r = Python::attach(|py| {
                    cb.call1(
                        py,
                        (p.epoch, p.cells_done, p.cells_total, p.elapsed, p.last_cost),
                    )
                    .map(|_| ())
                });
                if let Err(e) = r {
                    callback_error = Some(e);
                    return Err(Error::Cancelled);
                }
            }
            Ok(())
        };
        train(&params, n_words, &cells, &signals, &mut report)
    });
    if let Some(e) = callback_error {
        return Err(e);
    }
    let m = result?;
    let shape = (n_words, vector_size);
    let w = Array2::from_shape_vec(shape, m.w).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let wt = Array2::from_shape_vec(shape, m.w_tilde)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        w.into_pyarray(py),
        wt.into_pyarray(py),
        m.b.into_pyarray(py),
        m.b_tilde.into_pyarray(py),
        m.epoch_cost.into_pyarray(py),
        m.n_cells,
        m.seconds,
    ))
}

type Initial<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
);

/// The initial `(W, W~, b, b~)` that `glove_train` starts from for `seed`.
#[pyfunction]
fn glove_initial_parameters(
    py: Python<'_>,
    n_words: usize,
    vector_size: usize,
    seed: u64,
) -> PyResult<Initial<'_>> {
    let too_big = n_words
        .checked_mul(vector_size)
        .map_or(true, |n| n > 1 << 32);
    if vector_size == 0 || too_big {
        return Err(PyValueError::new_err("invalid n_words / vector_size"));
    }
    let (w, wt, b, bt) = py.detach(|| initial_parameters(n_words, vector_size, seed));
    let shape = (n_words, vector_size);
    let w = Array2::from_shape_vec(shape, w).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let wt = Array2::from_shape_vec(shape, wt).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        w.into_pyarray(py),
        wt.into_pyarray(py),
        b.into_pyarray(py),
        bt.into_pyarray(py),
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(glove_train, m)?)?;
    m.add_function(wrap_pyfunction!(glove_initial_parameters, m)?)?;
    Ok(())
}
