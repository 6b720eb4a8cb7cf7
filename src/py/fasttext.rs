//! Binding of the fastText core: `ferrotext._core.FastTextModel` (see FASTTEXT_CONTRACT.md).

use crate::error::Error;
use crate::fasttext::{self, io, FastText};
use crate::py::signals::PythonSignals;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use std::sync::Arc;

/// Labels and probabilities of one text.
type Prediction<'py> = (Vec<String>, Bound<'py, PyArray1<f64>>);

/// A fastText model (Facebook's `.bin` layout) held in Rust.
#[pyclass(frozen, module = "ferrotext._core")]
pub struct FastTextModel {
    inner: Arc<FastText>,
}

fn matrix<'py>(
    py: Python<'py>,
    data: Vec<f32>,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let rows = data.len().checked_div(cols).unwrap_or(0);
    let a = Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn no_newline(texts: &[String], what: &str) -> PyResult<()> {
    if texts.iter().any(|t| t.contains('\n')) {
        return Err(PyValueError::new_err(format!(
            "{what} processes one line at a time (remove '\\n')"
        )));
    }
    Ok(())
}

/// `k` as fastText takes it: -1 = all labels, otherwise at least 1.
fn parse_k(k: i64) -> PyResult<Option<usize>> {
    match k {
        -1 => Ok(None),
        k if k >= 1 => Ok(Some(k as usize)),
        _ => Err(PyValueError::new_err("k needs to be 1 or higher!")),
    }
}

/// Reads `input` (a path, or a list of lines) into one fastText text.
pub(crate) fn input_text(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(path) = input.cast::<PyString>() {
        let path = std::path::PathBuf::from(path.to_str()?);
        return py
            .detach(|| fasttext::read_input(&path))
            .map_err(|e| match e {
                Error::InvalidInput(m) if m.starts_with("cannot") => PyOSError::new_err(m),
                other => other.into(),
            });
    }
    if let Ok(list) = input.cast::<PyList>() {
        let mut lines = Vec::with_capacity(list.len());
        for item in list.iter() {
            let s = item.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "input lines must be str, got {}",
                    item.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            lines.push(s.to_str()?.to_owned());
        }
        return Ok(fasttext::join_lines(&lines));
    }
    Err(PyTypeError::new_err(
        "input must be a path (str) or a list of str lines",
    ))
}

/// The training input: a path is streamed from disk by the trainer; lines are joined.
fn train_input(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<fasttext::train::TrainInput> {
    if let Ok(path) = input.cast::<PyString>() {
        let path = std::path::PathBuf::from(path.to_str()?);
        // Open errors surface here as OSError, like a failed read of the whole file did.
        py.detach(|| std::fs::File::open(&path))
            .map_err(|e| PyOSError::new_err(format!("cannot open {}: {e}", path.display())))?;
        return Ok(fasttext::train::TrainInput::Path(path));
    }
    Ok(fasttext::train::TrainInput::Bytes(input_text(py, input)?))
}

#[pymethods]
impl FastTextModel {
    /// Loads a Facebook `.bin` model.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let signals = PythonSignals::new();
        let inner = py
            .detach(|| io::load_path(&path, &signals))
            .map_err(|e| match e {
                Error::InvalidInput(m) if m.starts_with("cannot read") => PyOSError::new_err(m),
                other => PyErr::from(other),
            })?;
        Ok(FastTextModel {
            inner: Arc::new(inner),
        })
    }

    /// Parses the bytes of a `.bin` model.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py.detach(|| io::load(data))?;
        Ok(FastTextModel {
            inner: Arc::new(inner),
        })
    }

    /// The version-12 `.bin` bytes of this model.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let data = py.detach(|| io::save(&self.inner));
        PyBytes::new(py, &data)
    }

    /// Writes a version-12 `.bin` file the fasttext package loads.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| io::save_path(&self.inner, &path))
            .map_err(|e| PyOSError::new_err(format!("cannot write {}: {e}", path.display())))
    }

    /// fastText's arguments (plus `version`).
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let a = &self.inner.args;
        let d = PyDict::new(py);
        d.set_item("model", a.model.name())?;
        d.set_item("loss", a.loss.name())?;
        d.set_item("lr", a.lr)?;
        d.set_item("dim", a.dim)?;
        d.set_item("ws", a.ws)?;
        d.set_item("epoch", a.epoch)?;
        d.set_item("minCount", a.min_count)?;
        d.set_item("minCountLabel", a.min_count_label)?;
        d.set_item("neg", a.neg)?;
        d.set_item("wordNgrams", a.word_ngrams)?;
        d.set_item("bucket", a.bucket)?;
        d.set_item("minn", a.minn)?;
        d.set_item("maxn", a.maxn)?;
        d.set_item("lrUpdateRate", a.lr_update_rate)?;
        d.set_item("t", a.t)?;
        d.set_item("label", &a.label)?;
        d.set_item("seed", a.seed)?;
        d.set_item("version", self.inner.version)?;
        Ok(d)
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.args.dim
    }

    #[getter]
    fn nwords(&self) -> usize {
        self.inner.dict.nwords
    }

    #[getter]
    fn nlabels(&self) -> usize {
        self.inner.dict.nlabels
    }

    #[getter]
    fn ntokens(&self) -> i64 {
        self.inner.dict.ntokens
    }

    #[getter]
    fn is_supervised(&self) -> bool {
        self.inner.is_supervised()
    }

    #[getter]
    fn is_quantized(&self) -> bool {
        false
    }

    /// Vocabulary words in dictionary order (invalid UTF-8 replaced).
    #[getter]
    fn words(&self) -> Vec<String> {
        let d = &self.inner.dict;
        d.entries[..d.nwords]
            .iter()
            .map(|e| lossy(&e.word))
            .collect()
    }

    /// Vocabulary words as raw bytes.
    #[getter]
    fn words_bytes<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        let d = &self.inner.dict;
        d.entries[..d.nwords]
            .iter()
            .map(|e| PyBytes::new(py, &e.word))
            .collect()
    }

    /// Labels (with their prefix).
    #[getter]
    fn labels(&self) -> Vec<String> {
        let d = &self.inner.dict;
        d.entries[d.nwords..]
            .iter()
            .map(|e| lossy(&e.word))
            .collect()
    }

    #[getter]
    fn word_counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let d = &self.inner.dict;
        PyArray1::from_iter(py, d.entries[..d.nwords].iter().map(|e| e.count))
    }

    #[getter]
    fn label_counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let d = &self.inner.dict;
        PyArray1::from_iter(py, d.entries[d.nwords..].iter().map(|e| e.count))
    }

    /// Average training loss of each epoch.
    #[getter]
    fn epoch_losses(&self) -> Vec<f64> {
        self.inner.epoch_losses.clone()
    }

    /// A copy of the input matrix.
    fn input_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        matrix(py, self.inner.input.clone(), self.inner.args.dim)
    }

    /// A copy of the output matrix.
    fn output_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        matrix(py, self.inner.output.clone(), self.inner.args.dim)
    }

    /// Dictionary id of a word or label, -1 if absent.
    fn get_word_id(&self, word: &str) -> i64 {
        self.inner.dict.id(word.as_bytes()).map_or(-1, |i| i as i64)
    }

    /// fastText's word vector (OOV words from their n-grams).
    fn get_word_vector<'py>(&self, py: Python<'py>, word: &str) -> Bound<'py, PyArray1<f32>> {
        let mut out = vec![0.0f32; self.inner.args.dim];
        self.inner
            .word_vector(word.as_bytes(), &mut out, &mut Vec::new());
        out.into_pyarray(py)
    }

    /// Word vectors of many words, `n x dim`.
    fn get_word_vectors<'py>(
        &self,
        py: Python<'py>,
        words: Vec<String>,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = &self.inner;
        let v = py.detach(|| {
            let refs: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            inner.word_vectors(&refs, n_threads)
        })?;
        matrix(py, v, inner.args.dim)
    }

    /// Vectors of every vocabulary word, in order.
    fn word_vectors<'py>(
        &self,
        py: Python<'py>,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = &self.inner;
        let v = py.detach(|| inner.all_word_vectors(n_threads))?;
        matrix(py, v, inner.args.dim)
    }

    /// (subword strings, input row ids) as the fasttext package's `get_subwords`.
    fn get_subwords<'py>(
        &self,
        py: Python<'py>,
        word: &str,
    ) -> (Vec<String>, Bound<'py, PyArray1<i64>>) {
        let (strings, ids) = self.inner.dict.subword_strings(word.as_bytes());
        (
            strings.iter().map(|s| lossy(s)).collect(),
            PyArray1::from_iter(py, ids.into_iter().map(|i| i as i64)),
        )
    }

    /// fastText's sentence vector of one line.
    fn get_sentence_vector<'py>(
        &self,
        py: Python<'py>,
        text: String,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        no_newline(std::slice::from_ref(&text), "get_sentence_vector")?;
        let mut out = vec![0.0f32; self.inner.args.dim];
        self.inner.sentence_vector(text.as_bytes(), &mut out);
        Ok(out.into_pyarray(py))
    }

    /// Sentence vectors of many lines, `n x dim`.
    fn get_sentence_vectors<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        no_newline(&texts, "get_sentence_vector")?;
        let inner = &self.inner;
        let v = py.detach(|| {
            let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
            inner.sentence_vectors(&refs, n_threads)
        })?;
        matrix(py, v, inner.args.dim)
    }

    /// The k best labels and probabilities of each text (k = -1: all).
    #[pyo3(signature = (texts, k=1, threshold=0.0, n_threads=1))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        k: i64,
        threshold: f32,
        n_threads: usize,
    ) -> PyResult<Vec<Prediction<'py>>> {
        no_newline(&texts, "predict")?;
        let k = parse_k(k)?;
        let inner = &self.inner;
        let signals = PythonSignals::new();
        let preds = py.detach(|| {
            let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
            inner.predict(&refs, k, threshold, n_threads, &signals)
        })?;
        let d = &inner.dict;
        let labels: Vec<String> = d.entries[d.nwords..]
            .iter()
            .map(|e| lossy(&e.word))
            .collect();
        Ok(preds
            .into_iter()
            .map(|p| {
                let names = p.iter().map(|(l, _)| labels[*l as usize].clone()).collect();
                let probs = PyArray1::from_iter(py, p.iter().map(|(_, s)| *s as f64));
                (names, probs)
            })
            .collect())
    }

    /// (N, precision@k, recall@k) over `input` (path or list of lines), as fastText's test.
    #[pyo3(signature = (input, k=1, threshold=0.0, n_threads=1))]
    fn test(
        &self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        k: i64,
        threshold: f32,
        n_threads: usize,
    ) -> PyResult<(u64, f64, f64)> {
        let k = parse_k(k)?;
        let text = input_text(py, input)?;
        let inner = &self.inner;
        let signals = PythonSignals::new();
        Ok(py.detach(|| inner.test(&text, k, threshold, n_threads, &signals))?)
    }

    /// Trains a model on `input` (path or list of lines) with fastText's arguments.
    #[staticmethod]
    #[pyo3(signature = (input, args=None, n_threads=1, progress=None))]
    fn train(
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        args: Option<&Bound<'_, PyDict>>,
        n_threads: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let args = parse_args(args)?;
        if n_threads == 0 {
            return Err(PyValueError::new_err("n_threads must be at least 1"));
        }
        let input = train_input(py, input)?;
        let signals = PythonSignals::new();
        let mut callback_error: Option<PyErr> = None;
        let result = py.detach(|| {
            let mut report = |p: &fasttext::train::Progress| -> crate::error::Result<()> {
                if let Some(cb) = &progress {
                    // The vocabulary pass goes to an optional `reading(words)` method.
                    let r = Python::attach(|py| match p.words_read {
                        Some(n) => match cb.bind(py).hasattr("reading") {
                            Ok(true) => cb.call_method1(py, "reading", (n,)).map(|_| ()),
                            other => other.map(|_| ()),
                        },
                        None => cb
                            .call1(py, (p.fraction, p.words_per_sec_per_thread, p.lr, p.loss))
                            .map(|_| ()),
                    });
                    if let Err(e) = r {
                        callback_error = Some(e);
                        return Err(Error::Cancelled);
                    }
                }
                Ok(())
            };
            fasttext::train::train(args, input, n_threads, &signals, &mut report)
        });
        if let Some(e) = callback_error {
            return Err(e);
        }
        Ok(FastTextModel {
            inner: Arc::new(result.map_err(|e| match e {
                Error::InvalidInput(m) if m.starts_with("cannot") => PyOSError::new_err(m),
                other => PyErr::from(other),
            })?),
        })
    }

    fn __repr__(&self) -> String {
        let a = &self.inner.args;
        format!(
            "FastTextModel(model={:?}, loss={:?}, dim={}, nwords={}, nlabels={})",
            a.model.name(),
            a.loss.name(),
            a.dim,
            self.inner.dict.nwords,
            self.inner.dict.nlabels
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FastTextModel>()?;
    Ok(())
}

/// Builds fastText's `Args` from the Python dict (fastText's key names).
fn parse_args(d: Option<&Bound<'_, PyDict>>) -> PyResult<fasttext::args::Args> {
    use fasttext::args::{Args, LossName, ModelName};
    let get = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        match d {
            Some(d) => d.get_item(k),
            None => Ok(None),
        }
    };
    let model = match get("model")? {
        Some(v) => ModelName::parse(&v.extract::<String>()?)?,
        None => ModelName::SkipGram,
    };
    let mut a = Args::defaults(model);
    if let Some(d) = d {
        for (k, v) in d.iter() {
            let key: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("args keys must be str"))?;
            let uint = |v: &Bound<'_, PyAny>| -> PyResult<usize> {
                if v.is_instance_of::<pyo3::types::PyBool>() {
                    return Err(PyTypeError::new_err(format!(
                        "{key} must be an int, got a bool"
                    )));
                }
                let x: i64 = v
                    .extract()
                    .map_err(|_| PyTypeError::new_err(format!("{key} must be an int")))?;
                usize::try_from(x)
                    .map_err(|_| PyValueError::new_err(format!("{key} must be >= 0, got {x}")))
            };
            let float = |v: &Bound<'_, PyAny>| -> PyResult<f64> {
                v.extract::<f64>()
                    .map_err(|_| PyTypeError::new_err(format!("{key} must be a number")))
            };
            match key.as_str() {
                "model" => {}
                "loss" => a.loss = LossName::parse(&v.extract::<String>()?)?,
                "lr" => a.lr = float(&v)?,
                "dim" => a.dim = uint(&v)?,
                "ws" => a.ws = uint(&v)?,
                "epoch" => a.epoch = uint(&v)?,
                "minCount" => a.min_count = uint(&v)? as i64,
                "minCountLabel" => a.min_count_label = uint(&v)? as i64,
                "neg" => a.neg = uint(&v)?,
                "wordNgrams" => a.word_ngrams = uint(&v)?,
                "bucket" => a.bucket = uint(&v)?,
                "minn" => a.minn = uint(&v)?,
                "maxn" => a.maxn = uint(&v)?,
                "lrUpdateRate" => a.lr_update_rate = uint(&v)?,
                "t" => a.t = float(&v)?,
                "label" => a.label = v.extract::<String>()?,
                "seed" => a.seed = uint(&v)? as u64,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown fastText argument {other:?}"
                    )))
                }
            }
        }
    }
    Ok(a)
}
