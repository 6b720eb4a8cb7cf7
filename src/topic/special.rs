//! Digamma.
