//! Text to sparse matrices: tokenization, n-grams, vocabularies, counting, hashing, tf-idf.
//!
//! Everything here mirrors scikit-learn's `feature_extraction.text` exactly. Character classes
//! (`\w`, `\s`) are not taken from Rust's Unicode tables: the caller passes the code-point ranges
//! the running Python interpreter uses (see [`chars::CharTable`]), so tokens agree with Python's
//! `re` module for every code point. Lower-casing and accent stripping are done by the caller.

pub mod analyze;
pub mod chars;
pub mod count;
pub mod hashing;
pub mod intern;
pub mod tfidf;

pub use analyze::{AnalyzerKind, AnalyzerSpec};
pub use chars::CharTable;
pub use count::{CountOutput, Csr, DataKind, DataVec, Input};
