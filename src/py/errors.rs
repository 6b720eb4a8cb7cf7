//! Core `Error` -> Python exception.

use crate::error::Error;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::PyErr;

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Cancelled => PyKeyboardInterrupt::new_err("interrupted"),
            other => PyValueError::new_err(other.to_string()),
        }
    }
}
