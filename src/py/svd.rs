//! Bindings for the truncated SVD: numpy/scipy buffers in, GIL released, numpy arrays out.

use crate::error::Error;
use crate::linalg::{
    lanczos_svd, project, project_op, randomized_svd, CsrRef, DenseOp, LanczosParams, LinOp,
    Normalizer, RandomizedParams, Scalar, SpIndex, SparseOp, TruncatedSvd,
};
use crate::py::signals::PythonSignals;
use crate::runtime::{thread_pool, Interrupt};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::borrow::Cow;

/// Stored values: float64 or float32.
#[derive(FromPyObject)]
enum Data<'py> {
    F64(PyReadonlyArray1<'py, f64>),
    F32(PyReadonlyArray1<'py, f32>),
}

/// Stored indices: int32 or int64.
#[derive(FromPyObject)]
enum Index<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

/// A dense C-contiguous matrix: float64 or float32.
#[derive(FromPyObject)]
enum Dense<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

/// Which solver and its settings (one struct so the generic driver stays small).
struct Settings {
    arpack: bool,
    k: usize,
    n_oversamples: usize,
    n_iter: usize,
    normalizer: Normalizer,
    tol: f64,
    seed: u64,
    n_threads: usize,
    /// Return `X @ V` (sklearn's randomized / tol > 0 path) instead of `U * S`.
    project_back: bool,
}

struct Fitted {
    svd: TruncatedSvd,
    /// row-major (n_rows x k): `X @ V` or `U * S`.
    x_new: Vec<f64>,
}

fn run<L: LinOp>(
    op: &L,
    st: &Settings,
    x_v: impl Fn(&[f64], &rayon::ThreadPool) -> crate::Result<Vec<f64>>,
    intr: &dyn Interrupt,
) -> crate::Result<Fitted> {
    let pool = thread_pool(st.n_threads)?;
    let mut svd = if st.arpack {
        let p = LanczosParams {
            n_components: st.k,
            tol: st.tol,
            ncv: None,
            max_restarts: None,
            seed: st.seed,
        };
        lanczos_svd(op, &p, &pool, intr)?
    } else {
        let p = RandomizedParams {
            n_components: st.k,
            n_oversamples: st.n_oversamples,
            n_iter: st.n_iter,
            seed: st.seed,
            normalizer: st.normalizer,
        };
        randomized_svd(op, &p, &pool, intr)?
    };
    svd.flip_signs();
    let x_new = if st.project_back {
        match svd.x_v.take() {
            Some(out) => out,
            None => {
                let out = x_v(&svd.components, &pool)?;
                intr.check()?;
                out
            }
        }
    } else {
        let k = svd.k;
        let mut us = svd.u.clone();
        for row in us.chunks_exact_mut(k.max(1)) {
            for (x, s) in row.iter_mut().zip(&svd.singular_values) {
                *x *= s;
            }
        }
        us
    };
    Ok(Fitted { svd, x_new })
}

fn out2<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    r: usize,
    c: usize,
    f32_out: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if f32_out {
        #[allow(clippy::cast_possible_truncation)]
        let w: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
        let a =
            Array2::from_shape_vec((r, c), w).map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        Ok(a.into_pyarray(py).into_any())
    } else {
        let a =
            Array2::from_shape_vec((r, c), v).map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        Ok(a.into_pyarray(py).into_any())
    }
}

fn to_py<'py>(py: Python<'py>, f: Fitted, f32_out: bool) -> PyResult<Bound<'py, PyAny>> {
    let (m, n, k) = (f.svd.n_rows, f.svd.n_cols, f.svd.k);
    let comps = out2(py, f.svd.components, k, n, f32_out)?;
    let sv = out2(py, f.svd.singular_values, 1, k, f32_out)?;
    let xn = out2(py, f.x_new, m, k, f32_out)?;
    let t = (comps, sv, xn, f.svd.n_iter, f.svd.converged).into_pyobject(py)?;
    Ok(t.into_any())
}

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| Error::InvalidInput("array is not contiguous".into()).into())
}

#[allow(clippy::too_many_arguments)]
fn fit_csr_typed<T: Scalar + numpy::Element, I: SpIndex + numpy::Element>(
    py: Python<'_>,
    indptr: &PyReadonlyArray1<'_, I>,
    indices: &PyReadonlyArray1<'_, I>,
    data: &PyReadonlyArray1<'_, T>,
    shape: (usize, usize),
    csc: bool,
    st: &Settings,
) -> PyResult<Fitted> {
    let (p, i, d) = (slice(indptr)?, slice(indices)?, slice(data)?);
    let signals = PythonSignals::new();
    let (m, n) = shape;
    let res = py.detach(|| -> crate::Result<Fitted> {
        let pool = thread_pool(st.n_threads)?;
        if csc {
            // the CSC of X is the CSR of X.T
            let at = pool.install(|| CsrRef::new(n, m, p, i, d))?;
            let a = pool.install(|| at.transpose())?;
            let op = SparseOp::new(a, at)?;
            run(&op, st, |w, pool| project_op(&op, w, st.k, pool), &signals)
        } else {
            let a = pool.install(|| CsrRef::new(m, n, p, i, d))?;
            let at = pool.install(|| a.transpose())?;
            let op = SparseOp::new(a, at)?;
            run(&op, st, |w, pool| project_op(&op, w, st.k, pool), &signals)
        }
    });
    Ok(res?)
}

/// Truncated SVD of a CSR (or, with `csc=True`, CSC) matrix. Returns
/// `(components (k x n), singular_values (1 x k), X_new (m x k), n_iter, converged)`.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, n_rows, n_cols, csc, algorithm, n_components, n_oversamples, n_iter, power_iteration_normalizer, tol, seed, n_threads, project_back))]
#[allow(clippy::too_many_arguments)]
fn truncated_svd_sparse<'py>(
    py: Python<'py>,
    indptr: Index<'py>,
    indices: Index<'py>,
    data: Data<'py>,
    n_rows: usize,
    n_cols: usize,
    csc: bool,
    algorithm: &str,
    n_components: usize,
    n_oversamples: usize,
    n_iter: usize,
    power_iteration_normalizer: &str,
    tol: f64,
    seed: u64,
    n_threads: usize,
    project_back: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let st = settings(
        algorithm,
        n_components,
        n_oversamples,
        n_iter,
        power_iteration_normalizer,
        tol,
        seed,
        n_threads,
        project_back,
    )?;
    let shape = (n_rows, n_cols);
    let (fitted, f32_out) = match (indptr, indices, data) {
        (Index::I32(p), Index::I32(i), Data::F64(d)) => {
            (fit_csr_typed(py, &p, &i, &d, shape, csc, &st)?, false)
        }
        (Index::I32(p), Index::I32(i), Data::F32(d)) => {
            (fit_csr_typed(py, &p, &i, &d, shape, csc, &st)?, true)
        }
        (Index::I64(p), Index::I64(i), Data::F64(d)) => {
            (fit_csr_typed(py, &p, &i, &d, shape, csc, &st)?, false)
        }
        (Index::I64(p), Index::I64(i), Data::F32(d)) => {
            (fit_csr_typed(py, &p, &i, &d, shape, csc, &st)?, true)
        }
        _ => {
            return Err(
                Error::InvalidInput("indptr and indices must have the same dtype".into()).into(),
            )
        }
    };
    to_py(py, fitted, f32_out)
}

#[allow(clippy::too_many_arguments)]
fn settings(
    algorithm: &str,
    k: usize,
    n_oversamples: usize,
    n_iter: usize,
    normalizer: &str,
    tol: f64,
    seed: u64,
    n_threads: usize,
    project_back: bool,
) -> PyResult<Settings> {
    let arpack = match algorithm {
        "arpack" => true,
        "randomized" => false,
        other => {
            return Err(Error::InvalidParameter(format!("unknown algorithm {other:?}")).into())
        }
    };
    Ok(Settings {
        arpack,
        k,
        n_oversamples,
        n_iter,
        normalizer: Normalizer::parse(normalizer)?,
        tol,
        seed,
        n_threads,
        project_back,
    })
}

/// Truncated SVD of a dense C-contiguous matrix (float32 data is widened to float64).
#[pyfunction]
#[pyo3(signature = (x, algorithm, n_components, n_oversamples, n_iter, power_iteration_normalizer, tol, seed, n_threads, project_back))]
#[allow(clippy::too_many_arguments)]
fn truncated_svd_dense<'py>(
    py: Python<'py>,
    x: Dense<'py>,
    algorithm: &str,
    n_components: usize,
    n_oversamples: usize,
    n_iter: usize,
    power_iteration_normalizer: &str,
    tol: f64,
    seed: u64,
    n_threads: usize,
    project_back: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let st = settings(
        algorithm,
        n_components,
        n_oversamples,
        n_iter,
        power_iteration_normalizer,
        tol,
        seed,
        n_threads,
        project_back,
    )?;
    let signals = PythonSignals::new();
    let not_contig = || -> PyErr { Error::InvalidInput("array is not C-contiguous".into()).into() };
    let (fitted, f32_out) = match x {
        Dense::F64(a) => {
            let (m, n) = (a.shape()[0], a.shape()[1]);
            let s = a.as_slice().map_err(|_| not_contig())?;
            let r = py.detach(|| {
                let op = DenseOp::new(m, n, Cow::Borrowed(s))?;
                run(&op, &st, |w, pool| project_op(&op, w, st.k, pool), &signals)
            });
            (r?, false)
        }
        Dense::F32(a) => {
            let (m, n) = (a.shape()[0], a.shape()[1]);
            let s = a.as_slice().map_err(|_| not_contig())?;
            let r = py.detach(|| {
                let wide: Vec<f64> = s.iter().map(|v| v.to_f64()).collect();
                let op = DenseOp::new(m, n, Cow::Owned(wide))?;
                run(&op, &st, |w, pool| project_op(&op, w, st.k, pool), &signals)
            });
            (r?, true)
        }
    };
    to_py(py, fitted, f32_out)
}

#[allow(clippy::too_many_arguments)]
fn project_typed<T: Scalar + numpy::Element, I: SpIndex + numpy::Element>(
    py: Python<'_>,
    indptr: &PyReadonlyArray1<'_, I>,
    indices: &PyReadonlyArray1<'_, I>,
    data: &PyReadonlyArray1<'_, T>,
    shape: (usize, usize),
    w: &[f64],
    k: usize,
    n_threads: usize,
) -> PyResult<Vec<f64>> {
    let (p, i, d) = (slice(indptr)?, slice(indices)?, slice(data)?);
    let r = py.detach(|| -> crate::Result<Vec<f64>> {
        let pool = thread_pool(n_threads)?;
        let a = pool.install(|| CsrRef::new(shape.0, shape.1, p, i, d))?;
        project(&a, w, k, &pool)
    });
    Ok(r?)
}

/// `X @ components.T` for a CSR `X` (the `transform` step), in X's float type.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, n_rows, n_cols, components, n_threads))]
#[allow(clippy::too_many_arguments)]
fn project_sparse<'py>(
    py: Python<'py>,
    indptr: Index<'py>,
    indices: Index<'py>,
    data: Data<'py>,
    n_rows: usize,
    n_cols: usize,
    components: PyReadonlyArray2<'py, f64>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let k = components.shape()[0];
    if components.shape()[1] != n_cols {
        return Err(Error::ShapeMismatch("components and X disagree in n_features".into()).into());
    }
    let w = components.as_slice().map_err(|_| {
        PyErr::from(Error::InvalidInput(
            "components are not C-contiguous".into(),
        ))
    })?;
    let shape = (n_rows, n_cols);
    let (out, f32_out) = match (indptr, indices, data) {
        (Index::I32(p), Index::I32(i), Data::F64(d)) => (
            project_typed(py, &p, &i, &d, shape, w, k, n_threads)?,
            false,
        ),
        (Index::I32(p), Index::I32(i), Data::F32(d)) => {
            (project_typed(py, &p, &i, &d, shape, w, k, n_threads)?, true)
        }
        (Index::I64(p), Index::I64(i), Data::F64(d)) => (
            project_typed(py, &p, &i, &d, shape, w, k, n_threads)?,
            false,
        ),
        (Index::I64(p), Index::I64(i), Data::F32(d)) => {
            (project_typed(py, &p, &i, &d, shape, w, k, n_threads)?, true)
        }
        _ => {
            return Err(
                Error::InvalidInput("indptr and indices must have the same dtype".into()).into(),
            )
        }
    };
    out2(py, out, n_rows, k, f32_out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(truncated_svd_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(truncated_svd_dense, m)?)?;
    m.add_function(wrap_pyfunction!(project_sparse, m)?)?;
    Ok(())
}
