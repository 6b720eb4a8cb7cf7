//! Bindings for `crate::text`: convert Python lists of str, detach, call the core.
//!
//! Every entry point returns `None` when an input string cannot be viewed as UTF-8 (lone
//! surrogates) or is not a `str`; Python then falls back to scikit-learn's own code path.

use crate::py::signals::PythonSignals;
use crate::runtime::thread_pool;
use crate::text::analyze::{AnalyzerKind, AnalyzerSpec};
use crate::text::chars::CharTable;
use crate::text::count::{self, Csr, DataKind, DataVec, IndexVec, Input, StreamingFit, Vocab};
use crate::text::tfidf::{self, Norm};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rustc_hash::{FxHashMap, FxHashSet};

/// Python objects kept alive while Rust borrows their UTF-8 buffers.
struct Held<'py> {
    strings: Vec<Bound<'py, PyString>>,
    offsets: Vec<usize>,
}

/// Collects `docs` (a list of str, or of lists of str when `nested`). `None` when an item
/// is of another type.
fn hold<'py>(docs: &Bound<'py, PyList>, nested: bool) -> Option<Held<'py>> {
    let mut strings = Vec::with_capacity(docs.len());
    let mut offsets = vec![0usize];
    for item in docs.iter() {
        if nested {
            let inner = item.cast::<PyList>().ok()?;
            for tok in inner.iter() {
                strings.push(tok.cast_into::<PyString>().ok()?);
            }
            offsets.push(strings.len());
        } else {
            strings.push(item.cast_into::<PyString>().ok()?);
        }
    }
    Some(Held { strings, offsets })
}

/// UTF-8 views of the held strings; `None` when one holds a lone surrogate.
fn views<'a>(held: &'a Held<'_>) -> Option<Vec<&'a str>> {
    held.strings.iter().map(|s| s.to_str().ok()).collect()
}

fn parse_kind(kind: &str) -> PyResult<AnalyzerKind> {
    Ok(match kind {
        "word_default" => AnalyzerKind::WordDefault,
        "word_tokens" => AnalyzerKind::WordTokens,
        "char" => AnalyzerKind::Char,
        "char_wb" => AnalyzerKind::CharWb,
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown analyzer kind {kind:?}"
            )))
        }
    })
}

fn parse_dtype(dtype: &str) -> PyResult<DataKind> {
    Ok(match dtype {
        "float64" => DataKind::F64,
        "float32" => DataKind::F32,
        "int64" => DataKind::I64,
        "int32" => DataKind::I32,
        _ => {
            return Err(PyValueError::new_err(format!(
                "unsupported dtype {dtype:?}"
            )))
        }
    })
}

/// Analyzer description passed from Python (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SpecArgs {
    kind: String,
    min_n: usize,
    max_n: usize,
    stop_words: Option<Vec<String>>,
    word_ranges: Vec<(u32, u32)>,
    space_ranges: Vec<(u32, u32)>,
    lowercase_ascii: bool,
}

impl SpecArgs {
    fn build(self) -> PyResult<AnalyzerSpec> {
        Ok(AnalyzerSpec {
            kind: parse_kind(&self.kind)?,
            min_n: self.min_n,
            max_n: self.max_n,
            stop_words: self
                .stop_words
                .map(|s| s.into_iter().collect::<FxHashSet<String>>()),
            word: CharTable::from_ranges(&self.word_ranges),
            space: CharTable::from_ranges(&self.space_ranges),
            lowercase_ascii: self.lowercase_ascii,
        })
    }
}

fn csr_to_py<'py>(py: Python<'py>, csr: Csr) -> PyResult<Bound<'py, PyTuple>> {
    let indptr = match csr.indptr {
        IndexVec::I32(v) => v.into_pyarray(py).into_any(),
        IndexVec::I64(v) => v.into_pyarray(py).into_any(),
    };
    let indices = match csr.indices {
        IndexVec::I32(v) => v.into_pyarray(py).into_any(),
        IndexVec::I64(v) => v.into_pyarray(py).into_any(),
    };
    let data = match csr.data {
        DataVec::F64(v) => v.into_pyarray(py).into_any(),
        DataVec::F32(v) => v.into_pyarray(py).into_any(),
        DataVec::I64(v) => v.into_pyarray(py).into_any(),
        DataVec::I32(v) => v.into_pyarray(py).into_any(),
    };
    PyTuple::new(py, [data, indices, indptr])
}

/// `(vocabulary dict, (data, indices, indptr))` of a learned vocabulary. The count matrix is
/// built on the pool while this thread, holding the GIL, makes the Python dict (terms in column
/// order, values 0..n), so the serial Python-object work overlaps the parallel work.
fn vocab_to_py<'py>(
    py: Python<'py>,
    vocab: Vocab,
    kind: DataKind,
    pool: &rayon::ThreadPool,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyTuple>)> {
    let (terms, rows) = vocab.split();
    let (dict, csr) = std::thread::scope(|scope| {
        let builder = scope.spawn(move || rows.build(kind, pool));
        let dict = (|| {
            let dict = PyDict::new(py);
            for (col, term) in terms.iter().enumerate() {
                dict.set_item(PyString::new(py, term), col)?;
            }
            PyResult::Ok(dict)
        })();
        let csr = py.detach(|| builder.join());
        (dict, csr)
    });
    let csr = csr.map_err(|_| PyRuntimeError::new_err("building the count matrix failed"))?;
    Ok((dict?, csr_to_py(py, csr)?))
}

/// Learn a vocabulary and count it: `(vocabulary dict, (data, indices, indptr))` or None
/// (fallback).
#[pyfunction]
#[pyo3(signature = (docs, spec, dtype, n_jobs, df_range=None, token_counts=None))]
fn count_fit<'py>(
    py: Python<'py>,
    docs: &Bound<'py, PyList>,
    spec: SpecArgs,
    dtype: &str,
    n_jobs: usize,
    df_range: Option<(f64, f64)>,
    token_counts: Option<Vec<usize>>,
) -> PyResult<Option<(Bound<'py, PyDict>, Bound<'py, PyTuple>)>> {
    let spec = spec.build()?;
    let kind = parse_dtype(dtype)?;
    let nested = spec.kind == AnalyzerKind::WordTokens && token_counts.is_none();
    let Some(held) = hold(docs, nested) else {
        return Ok(None);
    };
    let Some(strs) = views(&held) else {
        return Ok(None);
    };
    let pool = thread_pool(n_jobs)?;
    let signals = PythonSignals::new();
    let offsets = &held.offsets;
    let out = py.detach(|| {
        let input = if let Some(counts) = &token_counts {
            Input::Joined {
                docs: &strs,
                counts,
            }
        } else if nested {
            Input::Tokens {
                tokens: &strs,
                offsets,
            }
        } else {
            Input::Docs(&strs)
        };
        count::fit_vocab(input, &spec, df_range, &pool, &signals)
    })?;
    Ok(Some(vocab_to_py(py, out, kind, &pool)?))
}

/// Count against a fixed vocabulary (`terms[k]` has column `ids[k]`): `(data, indices, indptr)`
/// or None (fallback).
#[pyfunction]
#[pyo3(signature = (docs, spec, terms, ids, n_cols, dtype, n_jobs, token_counts=None))]
#[allow(clippy::too_many_arguments)]
fn count_transform<'py>(
    py: Python<'py>,
    docs: &Bound<'py, PyList>,
    spec: SpecArgs,
    terms: &Bound<'py, PyList>,
    ids: PyReadonlyArray1<'py, i64>,
    n_cols: usize,
    dtype: &str,
    n_jobs: usize,
    token_counts: Option<Vec<usize>>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let spec = spec.build()?;
    let kind = parse_dtype(dtype)?;
    let nested = spec.kind == AnalyzerKind::WordTokens && token_counts.is_none();
    let Some(held) = hold(docs, nested) else {
        return Ok(None);
    };
    let Some(strs) = views(&held) else {
        return Ok(None);
    };
    let Some(held_terms) = hold(terms, false) else {
        return Ok(None);
    };
    let Some(term_strs) = views(&held_terms) else {
        return Ok(None);
    };
    let ids = ids.as_slice()?;
    if ids.len() != term_strs.len() {
        return Err(PyValueError::new_err("terms and ids differ in length"));
    }
    let mut vocab: FxHashMap<&str, u32> = FxHashMap::default();
    vocab.reserve(ids.len());
    for (t, &i) in term_strs.iter().zip(ids) {
        let i =
            u32::try_from(i).map_err(|_| PyValueError::new_err("vocabulary index out of range"))?;
        vocab.insert(t, i);
    }
    let pool = thread_pool(n_jobs)?;
    let signals = PythonSignals::new();
    let offsets = &held.offsets;
    let csr = py.detach(|| {
        let input = if let Some(counts) = &token_counts {
            Input::Joined {
                docs: &strs,
                counts,
            }
        } else if nested {
            Input::Tokens {
                tokens: &strs,
                offsets,
            }
        } else {
            Input::Docs(&strs)
        };
        count::transform(input, &spec, &vocab, n_cols, kind, &pool, &signals)
    })?;
    Ok(Some(csr_to_py(py, csr)?))
}

/// A vocabulary fit fed in batches of pre-tokenized documents (a user tokenizer or analyzer), so
/// that Python never holds the tokens of the whole corpus at once.
#[pyclass(module = "ferrotext._core")]
struct CountFitter {
    fit: Option<StreamingFit>,
    kind: DataKind,
    pool: rayon::ThreadPool,
}

#[pymethods]
impl CountFitter {
    #[new]
    fn new(spec: SpecArgs, dtype: &str, n_jobs: usize) -> PyResult<Self> {
        let spec = spec.build()?;
        if spec.kind != AnalyzerKind::WordTokens {
            return Err(PyValueError::new_err(
                "CountFitter takes pre-tokenized documents",
            ));
        }
        Ok(CountFitter {
            fit: Some(StreamingFit::new(&spec)?),
            kind: parse_dtype(dtype)?,
            pool: thread_pool(n_jobs)?,
        })
    }

    /// Counts the next documents: NUL-joined token strings with their token counts, or (when
    /// `token_counts` is None) lists of tokens. False when an item is not a str or holds a lone
    /// surrogate (the caller then falls back to scikit-learn).
    #[pyo3(signature = (docs, token_counts=None))]
    fn add(
        &mut self,
        py: Python<'_>,
        docs: &Bound<'_, PyList>,
        token_counts: Option<Vec<usize>>,
    ) -> PyResult<bool> {
        let nested = token_counts.is_none();
        let Some(held) = hold(docs, nested) else {
            return Ok(false);
        };
        let Some(strs) = views(&held) else {
            return Ok(false);
        };
        let Some(fit) = self.fit.as_mut() else {
            return Err(PyValueError::new_err("CountFitter already finished"));
        };
        let pool = &self.pool;
        let signals = PythonSignals::new();
        let offsets = &held.offsets;
        py.detach(|| {
            let input = match &token_counts {
                Some(counts) => Input::Joined {
                    docs: &strs,
                    counts,
                },
                None => Input::Tokens {
                    tokens: &strs,
                    offsets,
                },
            };
            fit.add(input, pool, &signals)
        })?;
        Ok(true)
    }

    /// Prunes, numbers and builds the matrix: `(vocabulary, (data, indices, indptr))` like
    /// `count_fit`.
    #[pyo3(signature = (df_range=None))]
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        df_range: Option<(f64, f64)>,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyTuple>)> {
        let Some(fit) = self.fit.take() else {
            return Err(PyValueError::new_err("CountFitter already finished"));
        };
        let pool = &self.pool;
        let signals = PythonSignals::new();
        let vocab = py.detach(|| fit.finish(df_range, pool, &signals))?;
        vocab_to_py(py, vocab, self.kind, pool)
    }
}

/// HashingVectorizer counts before binary/norm: `(data, indices, indptr)` or None (fallback).
#[pyfunction]
#[pyo3(signature = (docs, spec, n_features, alternate_sign, dtype, n_jobs, token_counts=None))]
#[allow(clippy::too_many_arguments)]
fn hash_transform<'py>(
    py: Python<'py>,
    docs: &Bound<'py, PyList>,
    spec: SpecArgs,
    n_features: usize,
    alternate_sign: bool,
    dtype: &str,
    n_jobs: usize,
    token_counts: Option<Vec<usize>>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let spec = spec.build()?;
    let kind = parse_dtype(dtype)?;
    let nested = spec.kind == AnalyzerKind::WordTokens && token_counts.is_none();
    let Some(held) = hold(docs, nested) else {
        return Ok(None);
    };
    let Some(strs) = views(&held) else {
        return Ok(None);
    };
    let pool = thread_pool(n_jobs)?;
    let signals = PythonSignals::new();
    let offsets = &held.offsets;
    let csr = py.detach(|| {
        let input = if let Some(counts) = &token_counts {
            Input::Joined {
                docs: &strs,
                counts,
            }
        } else if nested {
            Input::Tokens {
                tokens: &strs,
                offsets,
            }
        } else {
            Input::Docs(&strs)
        };
        count::hash_transform(
            input,
            &spec,
            n_features,
            alternate_sign,
            kind,
            &pool,
            &signals,
        )
    })?;
    Ok(Some(csr_to_py(py, csr)?))
}

/// Array of either float type, writable.
#[derive(FromPyObject)]
enum FloatData<'py> {
    F64(PyReadwriteArray1<'py, f64>),
    F32(PyReadwriteArray1<'py, f32>),
}

/// Array of either index type.
#[derive(FromPyObject)]
enum IndexData<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

#[allow(clippy::too_many_arguments)]
fn run_tfidf<T: tfidf::Float>(
    py: Python<'_>,
    data: &mut [T],
    indptr: &IndexData<'_>,
    indices: &IndexData<'_>,
    idf: Option<&[f64]>,
    sublinear_tf: bool,
    norm: Norm,
    n_jobs: usize,
) -> PyResult<()> {
    let pool = thread_pool(n_jobs)?;
    match (indptr, indices) {
        (IndexData::I32(p), IndexData::I32(i)) => {
            let (p, i) = (p.as_slice()?, i.as_slice()?);
            py.detach(|| tfidf::tfidf_inplace(p, i, data, idf, sublinear_tf, norm, &pool))?
        }
        (IndexData::I64(p), IndexData::I64(i)) => {
            let (p, i) = (p.as_slice()?, i.as_slice()?);
            py.detach(|| tfidf::tfidf_inplace(p, i, data, idf, sublinear_tf, norm, &pool))?
        }
        _ => {
            return Err(PyValueError::new_err(
                "indptr and indices must share one dtype",
            ))
        }
    }
    Ok(())
}

/// In-place sublinear tf, idf scaling and l1/l2 row normalisation of a CSR matrix.
#[pyfunction]
#[pyo3(signature = (data, indices, indptr, idf, sublinear_tf, norm, n_jobs))]
#[allow(clippy::too_many_arguments)]
fn tfidf_inplace(
    py: Python<'_>,
    data: FloatData<'_>,
    indices: IndexData<'_>,
    indptr: IndexData<'_>,
    idf: Option<PyReadonlyArray1<'_, f64>>,
    sublinear_tf: bool,
    norm: Option<&str>,
    n_jobs: usize,
) -> PyResult<()> {
    let norm = match norm {
        None => Norm::None,
        Some("l1") => Norm::L1,
        Some("l2") => Norm::L2,
        Some(other) => return Err(PyValueError::new_err(format!("unknown norm {other:?}"))),
    };
    let idf_slice = match &idf {
        Some(a) => Some(a.as_slice()?),
        None => None,
    };
    match data {
        FloatData::F64(mut d) => run_tfidf(
            py,
            d.as_slice_mut()?,
            &indptr,
            &indices,
            idf_slice,
            sublinear_tf,
            norm,
            n_jobs,
        ),
        FloatData::F32(mut d) => run_tfidf(
            py,
            d.as_slice_mut()?,
            &indptr,
            &indices,
            idf_slice,
            sublinear_tf,
            norm,
            n_jobs,
        ),
    }
}

/// MurmurHash3_x86_32 of the UTF-8 bytes of `s` (unsigned), for tests.
#[pyfunction]
fn murmurhash3_32(s: &str, seed: u32) -> u32 {
    crate::text::hashing::murmur3_32(s.as_bytes(), seed)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(count_fit, m)?)?;
    m.add_class::<CountFitter>()?;
    m.add_function(wrap_pyfunction!(count_transform, m)?)?;
    m.add_function(wrap_pyfunction!(hash_transform, m)?)?;
    m.add_function(wrap_pyfunction!(tfidf_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(murmurhash3_32, m)?)?;
    Ok(())
}
