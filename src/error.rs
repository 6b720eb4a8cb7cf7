//! The core error type. The binding layer maps each variant onto one Python exception.

use thiserror::Error as ThisError;

/// Errors the core can report. None of them is a bug: each is a user-reachable condition.
#[derive(Debug, ThisError, Clone, PartialEq)]
pub enum Error {
    /// A parameter is outside its valid range (Python: `ValueError`).
    #[error("{0}")]
    InvalidParameter(String),
    /// The data is unusable: empty, non-finite, negative counts, malformed file ... (`ValueError`).
    #[error("{0}")]
    InvalidInput(String),
    /// Array shapes do not agree (`ValueError`).
    #[error("{0}")]
    ShapeMismatch(String),
    /// The computation was interrupted (Ctrl-C) (`KeyboardInterrupt`).
    #[error("interrupted")]
    Cancelled,
}

/// Core result alias.
pub type Result<T> = std::result::Result<T, Error>;
