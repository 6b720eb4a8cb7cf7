//! Sparse and dense linear algebra: parallel sparse x dense products and truncated SVD
//! (randomized range finder and thick-restart Lanczos), with faer for dense factorizations.

pub mod sparse;
pub mod svd;

pub use sparse::{
    CsrLike, CsrOwned, CsrRef, DenseOp, LinOp, Scalar, SpIndex, SparseOp, Transposed,
};
pub use svd::{
    lanczos_svd, project, project_op, randomized_svd, LanczosParams, Normalizer, RandomizedParams,
    TruncatedSvd,
};
