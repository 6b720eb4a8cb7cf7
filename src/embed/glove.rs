//! GloVe training (Pennington, Socher & Manning 2014): AdaGrad on the weighted least squares
//!
//! `J = sum over nonzero X_ij of 0.5 * f(X_ij) * (w_i . w~_j + b_i + b~_j - log X_ij)^2`,
//! `f(x) = min((x / x_max)^alpha, 1)`,
//!
//! with the update rules of Stanford's `glove.c` (v1.2), including its quirks:
//! * every squared-gradient accumulator starts at 1, so the first step size is `eta`;
//! * vector components: `g = clip(fdiff * w_other, ±grad_clip) * eta`, step `g / sqrt(gradsq)`,
//!   then `gradsq += g^2`; both steps use the vectors from before this cell's update, and the
//!   whole vector step is skipped when any of its components is NaN/inf;
//! * biases: step `fdiff / sqrt(gradsq)` with no `eta` and no clipping (skipped if NaN/inf),
//!   `gradsq += fdiff^2`;
//! * a cell whose `diff` or `fdiff` is NaN/inf is skipped entirely;
//! * initial values (vectors and biases) uniform in `[-0.5, 0.5) / dim`;
//! * cells are shuffled once (the `shuffle` tool), each of `n` threads takes a contiguous
//!   `1/n` of them per epoch (Hogwild, see [`super::hogwild`]); the epoch cost is the mean of
//!   `0.5 * f * diff^2` over the cells, as `glove.c` prints it.
//!
//! Differences, on purpose: single precision (the C tool uses double); `log X` and `f(X)` are
//! computed once (in double) per cell instead of every epoch; a word's row holds its vector,
//! bias and their accumulators side by side, so a cell touches two contiguous rows.

use super::hogwild::HogwildMatrix;
use crate::error::{Error, Result};
use crate::runtime::{rng_stream, thread_pool, Interrupt};
use rand::Rng as _;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Training parameters (names as the GloVe paper / `glove.c`).
#[derive(Clone, Debug)]
pub struct GloveParams {
    /// Dimension of the word vectors.
    pub vector_size: usize,
    /// Cut-off of the weighting function.
    pub x_max: f64,
    /// Exponent of the weighting function.
    pub alpha: f64,
    /// AdaGrad's initial learning rate (`eta`).
    pub learning_rate: f32,
    /// Passes over the nonzero cells.
    pub epochs: usize,
    /// Vector gradient components are clipped to `[-grad_clip, grad_clip]` (`glove.c`: 100).
    pub grad_clip: f32,
    /// Worker threads.
    pub n_threads: usize,
    /// Seed of the initial values and of the shuffle.
    pub seed: u64,
}

impl GloveParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidParameter(m.to_string()));
        if self.vector_size < 1 {
            return bad("vector_size must be >= 1");
        }
        if !(self.x_max.is_finite() && self.x_max > 0.0) {
            return bad("x_max must be a finite number > 0");
        }
        if !self.alpha.is_finite() {
            return bad("alpha must be finite");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate must be a finite number > 0");
        }
        if self.epochs < 1 {
            return bad("epochs must be >= 1");
        }
        if self.grad_clip.is_nan() || self.grad_clip <= 0.0 {
            return bad("grad_clip must be > 0");
        }
        Ok(())
    }
}

/// One nonzero cell of the co-occurrence matrix, ready to train on (16 bytes).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Cell {
    /// Word (row of `X`).
    pub row: u32,
    /// Context word (column of `X`).
    pub col: u32,
    /// `ln X_ij`.
    pub log_x: f32,
    /// `f(X_ij) = min((X_ij / x_max)^alpha, 1)`.
    pub weight: f32,
}

/// Builds the cells of a square CSR matrix (`indptr`, `indices`, `data`) with `n` rows,
/// dropping explicit zeros. Negative, NaN or infinite counts and out-of-range indices are
/// errors. `log X` and `f(X)` are computed in double precision, so counts too large for
/// `f32` are fine. Rows are processed in parallel on `n_threads`.
pub fn build_cells(
    n: usize,
    indptr: &[i64],
    indices: &[i32],
    data: &[f64],
    x_max: f64,
    alpha: f64,
    n_threads: usize,
) -> Result<Vec<Cell>> {
    if indptr.len() != n + 1 {
        return Err(Error::ShapeMismatch(format!(
            "indptr has {} entries for {n} rows",
            indptr.len()
        )));
    }
    if indices.len() != data.len() {
        return Err(Error::ShapeMismatch(
            "indices and data differ in length".into(),
        ));
    }
    if n > u32::MAX as usize {
        return Err(Error::InvalidInput(
            "too many words (more than 2^32)".into(),
        ));
    }
    let nnz = data.len();
    if indptr[0] != 0 || indptr[n] as usize != nnz || indptr.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::InvalidInput("malformed CSR indptr".into()));
    }
    let pool = thread_pool(n_threads)?;
    let log_x_max = x_max.ln();
    let make = |r: usize, k: usize| -> Result<Option<Cell>> {
        let x = data[k];
        let c = indices[k];
        if c < 0 || c as usize >= n {
            return Err(Error::InvalidInput(format!(
                "column index {c} out of range for {n} words"
            )));
        }
        if x.is_nan() || x < 0.0 || x.is_infinite() {
            return Err(Error::InvalidInput(format!(
                "co-occurrence counts must be finite and >= 0, found {x} at ({r}, {c})"
            )));
        }
        if x == 0.0 {
            return Ok(None);
        }
        let log_x = x.ln();
        // glove.c: weight 1 when X > x_max, else (X / x_max)^alpha; via logs so that huge
        // or tiny counts cannot overflow.
        let weight = if x > x_max {
            1.0
        } else {
            (alpha * (log_x - log_x_max)).exp()
        };
        Ok(Some(Cell {
            row: r as u32,
            col: c as u32,
            log_x: log_x as f32,
            weight: weight as f32,
        }))
    };
    // Parallel over blocks of rows; each block keeps its cells in CSR order.
    let block_rows = (n / (16 * n_threads.max(1))).max(1);
    let blocks: Vec<Result<Vec<Cell>>> = pool.install(|| {
        (0..n.div_ceil(block_rows))
            .into_par_iter()
            .map(|b| {
                let (r0, r1) = (b * block_rows, ((b + 1) * block_rows).min(n));
                let mut out = Vec::with_capacity((indptr[r1] - indptr[r0]) as usize);
                for r in r0..r1 {
                    for k in indptr[r] as usize..indptr[r + 1] as usize {
                        if let Some(cell) = make(r, k)? {
                            out.push(cell);
                        }
                    }
                }
                Ok(out)
            })
            .collect()
    });
    let mut cells = Vec::with_capacity(nnz);
    for b in blocks {
        cells.extend_from_slice(&b?);
    }
    Ok(cells)
}

/// Shuffles `cells` in place (Fisher-Yates) with a stream of `seed`.
pub fn shuffle_cells(cells: &mut [Cell], seed: u64) {
    let mut rng = rng_stream(seed ^ 0x6C0E_5F1E_0000_0000, 1);
    for i in (1..cells.len()).rev() {
        let j = rng.random_range(0..=i);
        cells.swap(i, j);
    }
}

/// Reported to the caller about every 0.2 s.
pub struct Progress {
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Cells processed so far in all epochs.
    pub cells_done: u64,
    /// Cells to process in all epochs.
    pub cells_total: u64,
    /// Seconds since training started.
    pub elapsed: f64,
    /// Mean cost of the last finished epoch (NaN before the first one ends).
    pub last_cost: f64,
}

/// The trained model.
pub struct GloveModel {
    /// Word vectors `W`, row-major `V x dim`.
    pub w: Vec<f32>,
    /// Context vectors `W~`, row-major `V x dim`.
    pub w_tilde: Vec<f32>,
    /// Word biases `b`.
    pub b: Vec<f32>,
    /// Context biases `b~`.
    pub b_tilde: Vec<f32>,
    /// Mean weighted squared error `0.5 f diff^2` over the cells, per epoch (as `glove.c`).
    pub epoch_cost: Vec<f64>,
    /// Cells trained on per epoch (nonzero entries of `X`).
    pub n_cells: u64,
    /// Wall-clock seconds of training (without building and shuffling the cells).
    pub seconds: f64,
}

/// Initial parameter rows: `2V` rows (words, then contexts) of
/// `[w (dim), b, gradsq_w (dim), gradsq_b]`, values uniform in `[-0.5, 0.5) / dim`,
/// accumulators 1. Each row from its own stream of `seed`, so the result does not depend on
/// the number of threads.
fn init_rows(v: usize, dim: usize, seed: u64) -> Vec<f32> {
    let width = 2 * (dim + 1);
    let mut out = vec![0.0f32; 2 * v * width];
    out.par_chunks_mut(width).enumerate().for_each(|(r, row)| {
        let mut rng = rng_stream(seed ^ 0x610E_1417_0000_0000, r as u64);
        for x in &mut row[..=dim] {
            *x = ((rng.random::<f64>() - 0.5) / dim as f64) as f32;
        }
        row[dim + 1..].iter_mut().for_each(|g| *g = 1.0);
    });
    out
}

/// The initial `(W, W~, b, b~)` that [`train`] starts from for `seed` (for tests and for
/// checking a step by hand).
pub fn initial_parameters(
    v: usize,
    dim: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    split_rows(&init_rows(v, dim, seed), v, dim)
}

/// Splits `2V` parameter rows into `(W, W~, b, b~)`.
fn split_rows(all: &[f32], v: usize, dim: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let width = 2 * (dim + 1);
    let (mut w, mut wt) = (Vec::with_capacity(v * dim), Vec::with_capacity(v * dim));
    let (mut b, mut bt) = (Vec::with_capacity(v), Vec::with_capacity(v));
    for (r, row) in all.chunks_exact(width).enumerate() {
        if r < v {
            w.extend_from_slice(&row[..dim]);
            b.push(row[dim]);
        } else {
            wt.extend_from_slice(&row[..dim]);
            bt.push(row[dim]);
        }
    }
    (w, wt, b, bt)
}

/// What one cell did to the two rows (for the cost sum and the tests).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_update_generic(
    dim: usize,
    a: &mut [f32],
    c: &mut [f32],
    u1: &mut [f32],
    u2: &mut [f32],
    log_x: f32,
    weight: f32,
    eta: f32,
    clip: f32,
) -> Option<f64> {
    let (aw, arest) = a.split_at_mut(dim);
    let (cw, crest) = c.split_at_mut(dim);
    let (u1, u2) = (&mut u1[..dim], &mut u2[..dim]);
    // diff = w . w~ + b + b~ - log X, with eight accumulators so the dot vectorises.
    let mut acc = [0.0f32; 8];
    let (ac, cc) = (aw.chunks_exact(8), cw.chunks_exact(8));
    let (ar, cr) = (ac.remainder(), cc.remainder());
    for (x, y) in ac.zip(cc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut dot = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ar.iter().zip(cr) {
        dot += x * y;
    }
    let diff = dot + arest[0] + crest[0] - log_x;
    let fdiff = weight * diff;
    if !diff.is_finite() || !fdiff.is_finite() {
        return None;
    }
    let cost = 0.5 * fdiff as f64 * diff as f64;
    let (ag, cg) = (&mut arest[1..=dim], &mut crest[1..=dim]);
    // Vector steps from the old vectors of both rows; accumulators grow by (eta * g)^2.
    // (max/min rather than clamp: no panic path, so the loop vectorises; a NaN product
    // becomes -clip as with C's fmax/fmin.)
    let (ag, cg) = (&mut ag[..dim], &mut cg[..dim]);
    let (cw_, aw_) = (&cw[..dim], &aw[..dim]);
    let mut bad = 0u32;
    for k in 0..dim {
        let t1 = (fdiff * cw_[k]).max(-clip).min(clip) * eta;
        let t2 = (fdiff * aw_[k]).max(-clip).min(clip) * eta;
        u1[k] = t1 / ag[k].sqrt();
        u2[k] = t2 / cg[k].sqrt();
        ag[k] += t1 * t1;
        cg[k] += t2 * t2;
        // NaN/inf test on the bits (an integer OR reduces in vector registers; a float sum
        // would not). The sum of finite steps, each at most eta * clip, is finite too.
        bad |= (((u1[k].to_bits() & 0x7fff_ffff) >= 0x7f80_0000) as u32)
            | (((u2[k].to_bits() & 0x7fff_ffff) >= 0x7f80_0000) as u32);
    }
    // glove.c skips both vector steps when either sum of steps is NaN/inf.
    if bad == 0 {
        for k in 0..dim {
            aw[k] -= u1[k];
            cw[k] -= u2[k];
        }
    }
    // Biases: no eta, no clipping (glove.c).
    let gb = dim + 1;
    let s1 = fdiff / arest[gb].sqrt();
    let s2 = fdiff / crest[gb].sqrt();
    if s1.is_finite() {
        arest[0] -= s1;
    }
    if s2.is_finite() {
        crest[0] -= s2;
    }
    let f2 = fdiff * fdiff;
    arest[gb] += f2;
    crest[gb] += f2;
    Some(cost)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cell_update_avx2(
    dim: usize,
    a: &mut [f32],
    c: &mut [f32],
    u1: &mut [f32],
    u2: &mut [f32],
    log_x: f32,
    weight: f32,
    eta: f32,
    clip: f32,
) -> Option<f64> {
    cell_update_generic(dim, a, c, u1, u2, log_x, weight, eta, clip)
}

fn use_avx2() -> bool {
    static FLAG: OnceLock<bool> = OnceLock::new();
    *FLAG.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// One AdaGrad step on cell `(log_x, weight)` for the word row `a` and context row `c`
/// (both `[w, b, gradsq_w, gradsq_b]`); returns the cell's cost, `None` when skipped.
/// `u1`, `u2` are scratch buffers of at least `dim`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn cell_update(
    dim: usize,
    a: &mut [f32],
    c: &mut [f32],
    u1: &mut [f32],
    u2: &mut [f32],
    log_x: f32,
    weight: f32,
    eta: f32,
    clip: f32,
) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: avx2 and fma were detected on this CPU. Rust never contracts a*b+c into
        // an FMA on its own, so both versions compute the same bits.
        return unsafe { cell_update_avx2(dim, a, c, u1, u2, log_x, weight, eta, clip) };
    }
    cell_update_generic(dim, a, c, u1, u2, log_x, weight, eta, clip)
}

/// Cells a worker processes between two looks at the cancel flag (a few ms).
const CHUNK: usize = 8192;
/// How far ahead (in cells) the rows are prefetched.
const PREFETCH: usize = 6;

fn train_shard(
    cells: &[Cell],
    params: &HogwildMatrix,
    v: usize,
    p: &GloveParams,
    cancel: &AtomicBool,
    done: &AtomicU64,
) -> f64 {
    let dim = p.vector_size;
    let width = params.padded_dim();
    let (mut a, mut c) = (vec![0.0f32; width], vec![0.0f32; width]);
    let (mut u1, mut u2) = (vec![0.0f32; dim], vec![0.0f32; dim]);
    let mut cost = 0.0f64;
    for (ci, chunk) in cells.chunks(CHUNK).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let base = ci * CHUNK;
        for (k, cell) in chunk.iter().enumerate() {
            if let Some(ahead) = cells.get(base + k + PREFETCH) {
                params.prefetch_row(ahead.row as usize);
                params.prefetch_row(v + ahead.col as usize);
            }
            let (ra, rc) = (cell.row as usize, v + cell.col as usize);
            params.load_row(ra, &mut a);
            params.load_row(rc, &mut c);
            if let Some(e) = cell_update(
                dim,
                &mut a,
                &mut c,
                &mut u1,
                &mut u2,
                cell.log_x,
                cell.weight,
                p.learning_rate,
                p.grad_clip,
            ) {
                cost += e;
                params.store_row(ra, &a);
                params.store_row(rc, &c);
            }
        }
        done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    cost
}

/// Trains GloVe on `cells` (already shuffled) of a `v x v` matrix. Each epoch, thread `t` of
/// `n` takes the `t`-th contiguous `1/n` of the cells, as `glove.c`; with one thread the
/// result is bit-identical for a seed. `progress` is called on this thread about every
/// 0.2 s and at the end of every epoch; `interrupt` every 50 ms; either may stop training
/// with an error.
pub fn train(
    params: &GloveParams,
    v: usize,
    cells: &[Cell],
    interrupt: &dyn Interrupt,
    progress: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<GloveModel> {
    params.validate()?;
    if v == 0 {
        return Err(Error::InvalidInput("empty vocabulary".into()));
    }
    if cells.is_empty() {
        return Err(Error::InvalidInput(
            "the co-occurrence matrix has no nonzero cell: nothing to train on".into(),
        ));
    }
    if let Some(bad) = cells
        .iter()
        .find(|c| c.row as usize >= v || c.col as usize >= v)
    {
        return Err(Error::InvalidInput(format!(
            "cell ({}, {}) outside a {v} x {v} matrix",
            bad.row, bad.col
        )));
    }
    let dim = params.vector_size;
    (2 * v)
        .checked_mul(2 * (dim + 1))
        .filter(|&n| n < (isize::MAX as usize) / 8)
        .ok_or_else(|| Error::InvalidParameter("vocabulary x vector_size is too large".into()))?;
    let pool = thread_pool(params.n_threads)?;
    let width = 2 * (dim + 1);
    let weights =
        HogwildMatrix::from_slice(&pool.install(|| init_rows(v, dim, params.seed)), width);
    let n_threads = pool.current_num_threads().max(1);
    let n_cells = cells.len();
    let total = n_cells as u64 * params.epochs as u64;
    let started = Instant::now();
    let mut epoch_cost = Vec::with_capacity(params.epochs);
    let cancel = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let mut last_cost = f64::NAN;
    for epoch in 0..params.epochs {
        // glove.c's split: n-1 equal shards, the last one takes the remainder.
        let per = n_cells / n_threads;
        let shards: Vec<&[Cell]> = (0..n_threads)
            .map(|t| {
                let end = if t + 1 == n_threads {
                    n_cells
                } else {
                    (t + 1) * per
                };
                &cells[t * per..end]
            })
            .filter(|s| !s.is_empty())
            .collect();
        let mut costs = vec![0.0f64; shards.len()];
        let mut stop: Result<()> = Ok(());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (weights, cancel, done) = (&weights, &cancel, &done);
        pool.in_place_scope(|s| {
            let shards = &shards;
            let costs = &mut costs;
            s.spawn(move |_| {
                shards
                    .par_iter()
                    .map(|shard| train_shard(shard, weights, v, params, cancel, done))
                    .collect_into_vec(costs);
                let _ = tx.send(());
            });
            // This thread stays outside the pool: it watches Ctrl-C and reports progress.
            let mut last_report = Instant::now();
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_millis(50)) {
                let mut check = interrupt.check();
                if check.is_ok() && last_report.elapsed() >= Duration::from_millis(200) {
                    last_report = Instant::now();
                    check = progress(&Progress {
                        epoch,
                        cells_done: done.load(Ordering::Relaxed),
                        cells_total: total,
                        elapsed: started.elapsed().as_secs_f64(),
                        last_cost,
                    });
                }
                if let Err(e) = check {
                    cancel.store(true, Ordering::Relaxed);
                    stop = Err(e);
                    break;
                }
            }
        });
        stop?;
        interrupt.check()?;
        last_cost = costs.iter().sum::<f64>() / n_cells as f64;
        epoch_cost.push(last_cost);
        progress(&Progress {
            epoch,
            cells_done: done.load(Ordering::Relaxed),
            cells_total: total,
            elapsed: started.elapsed().as_secs_f64(),
            last_cost,
        })?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let all = weights.to_vec();
    if all.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidInput(
            "training diverged (non-finite parameters); lower learning_rate".into(),
        ));
    }
    let (w, w_tilde, b, b_tilde) = split_rows(&all, v, dim);
    Ok(GloveModel {
        w,
        w_tilde,
        b,
        b_tilde,
        epoch_cost,
        n_cells: n_cells as u64,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NeverInterrupt;

    fn params(dim: usize) -> GloveParams {
        GloveParams {
            vector_size: dim,
            x_max: 10.0,
            alpha: 0.75,
            learning_rate: 0.05,
            epochs: 20,
            grad_clip: 100.0,
            n_threads: 1,
            seed: 3,
        }
    }

    /// Two blocks of words that co-occur only within their block.
    fn toy(v: usize) -> (Vec<i64>, Vec<i32>, Vec<f64>) {
        let (mut indptr, mut indices, mut data) = (vec![0i64], vec![], vec![]);
        for i in 0..v {
            for j in 0..v {
                if (i < v / 2) == (j < v / 2) {
                    indices.push(j as i32);
                    data.push(1.0 + ((i * 7 + j * 3) % 11) as f64);
                }
            }
            indptr.push(indices.len() as i64);
        }
        (indptr, indices, data)
    }

    fn fit(p: &GloveParams, v: usize) -> GloveModel {
        let (indptr, indices, data) = toy(v);
        let mut cells = build_cells(v, &indptr, &indices, &data, p.x_max, p.alpha, 1).unwrap();
        shuffle_cells(&mut cells, p.seed);
        train(p, v, &cells, &NeverInterrupt, &mut |_| Ok(())).unwrap()
    }

    #[test]
    fn cost_decreases_and_one_thread_is_reproducible() {
        let p = params(8);
        let m = fit(&p, 10);
        assert!(
            m.epoch_cost.last().unwrap() < &(m.epoch_cost[0] * 0.5),
            "{:?}",
            m.epoch_cost
        );
        let m2 = fit(&p, 10);
        assert_eq!(m.w, m2.w);
        assert_eq!(m.b_tilde, m2.b_tilde);
        let mut q = p.clone();
        q.seed = 4;
        assert_ne!(fit(&q, 10).w, m.w);
    }

    #[test]
    fn single_step_matches_hand_computation() {
        // dim 1: a = [w=0.5, b=0.1, gw=1, gb=1], c = [w=-0.2, b=0.3, gw=4, gb=9].
        let mut a = vec![0.5f32, 0.1, 1.0, 1.0];
        let mut c = vec![-0.2f32, 0.3, 4.0, 9.0];
        let (mut u1, mut u2) = (vec![0.0f32; 1], vec![0.0f32; 1]);
        let (log_x, weight, eta) = (2.0f32, 0.5f32, 0.1f32);
        let cost = cell_update(
            1, &mut a, &mut c, &mut u1, &mut u2, log_x, weight, eta, 100.0,
        );
        let diff = 0.5f64 * -0.2 + 0.1 + 0.3 - 2.0; // -1.7
        let fdiff = 0.5 * diff; // -0.85
        assert!((cost.unwrap() - 0.5 * fdiff * diff).abs() < 1e-6);
        let t1 = fdiff * -0.2 * 0.1; // uses the context's old vector
        let t2 = fdiff * 0.5 * 0.1;
        assert!((a[0] as f64 - (0.5 - t1 / 1.0)).abs() < 1e-6);
        assert!((c[0] as f64 - (-0.2 - t2 / 2.0)).abs() < 1e-6);
        assert!((a[2] as f64 - (1.0 + t1 * t1)).abs() < 1e-6);
        assert!((a[1] as f64 - (0.1 - fdiff / 1.0)).abs() < 1e-6);
        assert!((c[1] as f64 - (0.3 - fdiff / 3.0)).abs() < 1e-6);
        assert!((c[3] as f64 - (9.0 + fdiff * fdiff)).abs() < 1e-5);
    }

    #[test]
    fn clipping_and_skips() {
        let mut a = vec![1e30f32, 0.0, 1.0, 1.0];
        let mut c = vec![1e30f32, 0.0, 1.0, 1.0];
        let (mut u1, mut u2) = (vec![0.0f32; 1], vec![0.0f32; 1]);
        // dot overflows to inf: the cell is skipped, nothing changes.
        assert!(cell_update(1, &mut a, &mut c, &mut u1, &mut u2, 0.0, 1.0, 0.05, 100.0).is_none());
        assert_eq!(a, vec![1e30f32, 0.0, 1.0, 1.0]);
        // a large fdiff: the vector step is clipped to eta * 100.
        let mut a = vec![1.0f32, 0.0, 1.0, 1.0];
        let mut c = vec![1.0f32, 0.0, 1.0, 1.0];
        cell_update(1, &mut a, &mut c, &mut u1, &mut u2, -1e6, 1.0, 0.05, 100.0).unwrap();
        assert!((a[0] - (1.0 - 5.0)).abs() < 1e-5, "{a:?}");
        assert!((a[2] - 26.0).abs() < 1e-4);
    }

    #[test]
    fn bad_input_is_rejected() {
        let p = params(4);
        assert!(build_cells(2, &[0, 1, 2], &[0, 1], &[1.0, -1.0], 10.0, 0.75, 1).is_err());
        assert!(build_cells(2, &[0, 1, 2], &[0, 1], &[1.0, f64::NAN], 10.0, 0.75, 1).is_err());
        assert!(build_cells(2, &[0, 1, 2], &[0, 2], &[1.0, 1.0], 10.0, 0.75, 1).is_err());
        let cells = build_cells(2, &[0, 1, 2], &[0, 1], &[0.0, 0.0], 10.0, 0.75, 1).unwrap();
        assert!(cells.is_empty());
        assert!(train(&p, 2, &cells, &NeverInterrupt, &mut |_| Ok(())).is_err());
        let mut q = p.clone();
        q.x_max = 0.0;
        assert!(q.validate().is_err());
    }

    #[test]
    fn extreme_counts_stay_finite() {
        let p = params(4);
        let cells = build_cells(
            2,
            &[0, 2, 4],
            &[0, 1, 0, 1],
            &[1e300, 1e-300, f64::MAX, 1.0],
            p.x_max,
            p.alpha,
            1,
        )
        .unwrap();
        let m = train(&p, 2, &cells, &NeverInterrupt, &mut |_| Ok(())).unwrap();
        assert!(m
            .w
            .iter()
            .chain(&m.w_tilde)
            .chain(&m.b)
            .all(|x| x.is_finite()));
    }
}
