//! Brute-force cosine nearest neighbours over the rows of an embedding matrix.

use super::kernels::Kernels;
use crate::error::{Error, Result};
use crate::runtime::thread_pool;
use rayon::prelude::*;

/// For each query row (length `dim`, already unit-normalised or not: the score is
/// `v_i . q / norms[i]`, as gensim's `most_similar`), the `k` best rows among the first
/// `restrict` rows of `vectors`, best first (ties: lower row first). A NaN score (zero row)
/// ranks last. Returns row ids, scores (`n_queries x k` each) and `k` clipped to `restrict`.
pub fn top_k_cosine(
    vectors: &[f32],
    norms: &[f32],
    dim: usize,
    queries: &[f32],
    k: usize,
    restrict: usize,
    n_threads: usize,
) -> Result<(Vec<u32>, Vec<f32>, usize)> {
    if dim == 0 || vectors.len() % dim != 0 || queries.len() % dim != 0 {
        return Err(Error::ShapeMismatch(
            "vectors and queries must have `dim` columns".into(),
        ));
    }
    let n = vectors.len() / dim;
    if norms.len() != n {
        return Err(Error::ShapeMismatch("one norm per row is needed".into()));
    }
    let n = n.min(restrict);
    let k = k.min(n);
    let nq = queries.len() / dim;
    let kern = Kernels::detect();
    let pool = thread_pool(n_threads)?;
    let mut idx = vec![0u32; nq * k];
    let mut sims = vec![0f32; nq * k];
    if k == 0 {
        return Ok((idx, sims, 0));
    }
    pool.install(|| {
        idx.par_chunks_mut(k)
            .zip(sims.par_chunks_mut(k))
            .zip(queries.par_chunks(dim))
            .for_each_init(
                || Vec::with_capacity(n),
                |scores: &mut Vec<(f32, u32)>, ((out_i, out_s), q)| {
                    scores.clear();
                    for (i, row) in vectors.chunks_exact(dim).take(n).enumerate() {
                        let s = kern.dot(row, q) / norms[i];
                        let s = if s.is_nan() { f32::NEG_INFINITY } else { s };
                        scores.push((s, i as u32));
                    }
                    let cmp =
                        |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
                    if k < scores.len() {
                        scores.select_nth_unstable_by(k - 1, cmp);
                        scores.truncate(k);
                    }
                    scores.sort_unstable_by(cmp);
                    for (j, &(s, i)) in scores.iter().enumerate() {
                        out_i[j] = i;
                        out_s[j] = s;
                    }
                },
            )
    });
    Ok((idx, sims, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_best_rows_in_order() {
        let v = [1.0f32, 0.0, 0.0, 2.0, 1.0, 1.0, -1.0, 0.0];
        let norms: Vec<f32> = v
            .chunks(2)
            .map(|r| (r[0] * r[0] + r[1] * r[1]).sqrt())
            .collect();
        let q = [1.0f32, 0.0, 0.0, 1.0];
        let (i, s, k) = top_k_cosine(&v, &norms, 2, &q, 3, 4, 2).unwrap();
        assert_eq!(k, 3);
        assert_eq!(&i[..3], &[0, 2, 1]);
        assert!((s[1] - 0.5f32.sqrt()).abs() < 1e-6);
        assert_eq!(&i[3..], &[1, 2, 0]);
        let (i, _, k) = top_k_cosine(&v, &norms, 2, &q, 5, 2, 1).unwrap();
        assert_eq!(k, 2);
        assert_eq!(&i[..2], &[0, 1]);
    }
}
