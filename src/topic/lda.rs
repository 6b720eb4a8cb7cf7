//! LDA.
