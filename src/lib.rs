//! ferrotext: classic text representations with a fast Rust core.
//!
//! The crate is split in two layers:
//! * the pure-Rust core (`text`, `linalg`, ...) which builds and tests without Python
//!   (`cargo test --no-default-features`);
//! * `py`, a thin pyo3 binding layer that converts arrays, releases the GIL, calls the core
//!   and maps errors. It holds no algorithm loops.
#![warn(missing_docs)]

pub mod embed;
pub mod error;
pub mod fasttext;
pub mod linalg;
pub mod runtime;
pub mod text;
pub mod topic;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};
