//! In-place tf-idf weighting and row normalisation of a CSR matrix, in scikit-learn's exact
//! arithmetic order.
//!
//! For each stored value `x` of row `i`, column `j`:
//! 1. `sublinear_tf`: `x <- ln(x) + 1`;
//! 2. `idf`: `x <- x * idf[j]`, with `idf[j] = ln((1 + n) / (1 + df_j)) + 1` (smoothed) or
//!    `ln(n / df_j) + 1` — computed by the caller (Salton & Buckley 1988; sklearn's variant);
//! 3. `l2`: `x <- x / sqrt(sum_k x_k^2)`, `l1`: `x <- x / sum_k |x_k|` (sums accumulated in f64
//!    in storage order, rows with a zero sum left alone), as
//!    `sklearn.utils.sparsefuncs_fast._inplace_csr_row_normalize_l2/l1`.

use crate::error::{Error, Result};
use rayon::prelude::*;

/// Row normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// No normalisation.
    None,
    /// Divide by the sum of absolute values.
    L1,
    /// Divide by the Euclidean norm.
    L2,
}

/// A float stored in a CSR matrix (f32 or f64).
pub trait Float: Copy + Send + Sync {
    /// Widen to f64.
    fn to_f64(self) -> f64;
    /// Narrow from f64 (rounding to nearest).
    fn from_f64(v: f64) -> Self;
    /// `self * self` in the storage precision.
    fn square(self) -> Self;
    /// `ln(self) + 1` in the storage precision.
    fn log1p_tf(self) -> Self;
}

impl Float for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn square(self) -> Self {
        self * self
    }
    fn log1p_tf(self) -> Self {
        self.ln() + 1.0
    }
}

impl Float for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn square(self) -> Self {
        self * self
    }
    fn log1p_tf(self) -> Self {
        (f64::from(self).ln() as f32) + 1.0
    }
}

/// An index stored in a CSR matrix (i32 or i64).
pub trait Index: Copy + Send + Sync {
    /// As usize; `None` when negative.
    fn to_usize(self) -> Option<usize>;
}

impl Index for i32 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

impl Index for i64 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

/// Applies sublinear tf, idf weights and row normalisation to `data` in place.
///
/// Errors (`InvalidInput`) when the CSR structure is inconsistent or an index is out of range of
/// `idf`; nothing is modified in that case.
pub fn tfidf_inplace<T: Float, I: Index>(
    indptr: &[I],
    indices: &[I],
    data: &mut [T],
    idf: Option<&[f64]>,
    sublinear_tf: bool,
    norm: Norm,
    pool: &rayon::ThreadPool,
) -> Result<()> {
    let bad = || Error::InvalidInput("malformed CSR matrix".into());
    let ptr: Vec<usize> = indptr
        .iter()
        .map(|p| p.to_usize().ok_or_else(bad))
        .collect::<Result<_>>()?;
    if ptr.is_empty() || ptr[0] != 0 || ptr.windows(2).any(|w| w[0] > w[1]) {
        return Err(bad());
    }
    let nnz = *ptr.last().ok_or_else(bad)?;
    if nnz > data.len() || nnz > indices.len() {
        return Err(bad());
    }
    if let Some(idf) = idf {
        let ok = pool.install(|| {
            indices[..nnz]
                .par_iter()
                .all(|c| c.to_usize().is_some_and(|c| c < idf.len()))
        });
        if !ok {
            return Err(Error::InvalidInput(
                "column index out of range of idf".into(),
            ));
        }
    }
    let n_rows = ptr.len() - 1;
    // Blocks of rows with roughly equal numbers of values.
    let n_blocks = (pool.current_num_threads() * 8).max(1);
    let target = nnz.div_ceil(n_blocks).max(1);
    let mut bounds = vec![0usize];
    for r in 1..n_rows {
        let last = bounds.last().copied().unwrap_or(0);
        if ptr[r] - ptr[last] >= target {
            bounds.push(r);
        }
    }
    bounds.push(n_rows);
    let mut pieces = Vec::with_capacity(bounds.len());
    let mut rest = &mut data[..nnz];
    for w in bounds.windows(2) {
        let len = ptr[w[1]] - ptr[w[0]];
        let (a, b) = std::mem::take(&mut rest).split_at_mut(len);
        pieces.push((w[0], w[1], a));
        rest = b;
    }
    pool.install(|| {
        pieces.into_par_iter().for_each(|(r0, r1, block)| {
            let base = ptr[r0];
            for r in r0..r1 {
                let row = &mut block[ptr[r] - base..ptr[r + 1] - base];
                if sublinear_tf {
                    row.iter_mut().for_each(|x| *x = x.log1p_tf());
                }
                if let Some(idf) = idf {
                    let c = &indices[ptr[r]..ptr[r + 1]];
                    for (x, &j) in row.iter_mut().zip(c) {
                        // validated above: 0 <= j < idf.len()
                        let w = j
                            .to_usize()
                            .and_then(|j| idf.get(j))
                            .copied()
                            .unwrap_or(1.0);
                        *x = T::from_f64(x.to_f64() * w);
                    }
                }
                match norm {
                    Norm::None => {}
                    Norm::L2 => {
                        let s: f64 = row.iter().fold(0.0, |s, x| s + x.square().to_f64());
                        if s != 0.0 {
                            let s = s.sqrt();
                            row.iter_mut()
                                .for_each(|x| *x = T::from_f64(x.to_f64() / s));
                        }
                    }
                    Norm::L1 => {
                        let s: f64 = row.iter().fold(0.0, |s, x| s + x.to_f64().abs());
                        if s != 0.0 {
                            row.iter_mut()
                                .for_each(|x| *x = T::from_f64(x.to_f64() / s));
                        }
                    }
                }
            }
        })
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::runtime::thread_pool;
    use approx::assert_relative_eq;

    /// Three documents worked by hand: "a b", "a a c", "b c c c" (columns a, b, c).
    /// df = (2, 2, 2), n = 3, smooth: idf = ln(4/3) + 1 for every term.
    #[test]
    fn known_answer_three_documents() {
        let indptr = [0i32, 2, 4, 6];
        let indices = [0i32, 1, 0, 2, 1, 2];
        let mut data = [1.0f64, 1.0, 2.0, 1.0, 1.0, 3.0];
        let idf_v = (4.0f64 / 3.0).ln() + 1.0;
        let idf = [idf_v; 3];
        let pool = thread_pool(2).unwrap();
        tfidf_inplace(
            &indptr,
            &indices,
            &mut data,
            Some(&idf),
            false,
            Norm::L2,
            &pool,
        )
        .unwrap();
        // Equal idf cancels under l2: rows are the normalised counts.
        let s2 = 2f64.sqrt();
        let s5 = 5f64.sqrt();
        let s10 = 10f64.sqrt();
        let want = [1.0 / s2, 1.0 / s2, 2.0 / s5, 1.0 / s5, 1.0 / s10, 3.0 / s10];
        for (g, w) in data.iter().zip(want) {
            assert_relative_eq!(*g, w, max_relative = 1e-15);
        }
        // sublinear + l1: row 3 = (1, 1 + ln 3) * idf / sum.
        let mut data = [1.0f64, 1.0, 2.0, 1.0, 1.0, 3.0];
        tfidf_inplace(
            &indptr,
            &indices,
            &mut data,
            Some(&idf),
            true,
            Norm::L1,
            &pool,
        )
        .unwrap();
        let t = 1.0 + 3f64.ln();
        assert_relative_eq!(data[5], t / (1.0 + t), max_relative = 1e-15);
        assert_relative_eq!(data[0] + data[1], 1.0, max_relative = 1e-15);
    }

    #[test]
    fn malformed_input_is_rejected() {
        let pool = thread_pool(1).unwrap();
        let mut data = [1.0f64];
        assert!(
            tfidf_inplace(&[0i64, 2], &[0i64], &mut data, None, false, Norm::L2, &pool).is_err()
        );
        assert!(tfidf_inplace(
            &[0i64, 1],
            &[5i64],
            &mut data,
            Some(&[1.0]),
            false,
            Norm::L2,
            &pool
        )
        .is_err());
    }
}
