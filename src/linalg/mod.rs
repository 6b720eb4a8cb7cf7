//! Sparse and dense linear algebra: sparse x dense products, truncated SVD.
