//! pyo3 bindings: conversion, GIL release, error mapping. No algorithm loops here.

use pyo3::prelude::*;

mod cooccur;
mod errors;
mod fasttext;
mod glove;
pub(crate) mod signals;
mod svd;
mod text;
mod topic;
mod word2vec;

/// The `ferrotext._core` extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The thread cap of every pool, so that Python resolves n_jobs to what actually runs.
    m.add("MAX_THREADS", crate::runtime::max_threads())?;
    text::register(m)?;
    cooccur::register(m)?;
    svd::register(m)?;
    topic::register(m)?;
    word2vec::register(m)?;
    glove::register(m)?;
    fasttext::register(m)?;
    Ok(())
}
