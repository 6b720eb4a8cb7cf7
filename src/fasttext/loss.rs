//! fastText's output layers: lookup tables, the Huffman tree, the negative table, and the
//! prediction side of every loss (bit-for-bit as fastText computes it, so predictions and
//! probabilities agree with the `fasttext` package).

use super::args::LossName;

const SIGMOID_TABLE_SIZE: usize = 512;
const MAX_SIGMOID: f32 = 8.0;
const LOG_TABLE_SIZE: usize = 512;
/// Entries of the negative-sampling table.
pub const NEGATIVE_TABLE_SIZE: usize = 10_000_000;

/// fastText's sigmoid and log lookup tables.
#[derive(Clone, Debug)]
pub struct Tables {
    sigmoid: Vec<f32>,
    log: Vec<f32>,
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

impl Tables {
    /// Fills both tables the way fastText does (float grid, double arithmetic where it uses it).
    pub fn new() -> Self {
        let sigmoid = (0..=SIGMOID_TABLE_SIZE)
            .map(|i| {
                let x =
                    (i * 2 * MAX_SIGMOID as usize) as f32 / SIGMOID_TABLE_SIZE as f32 - MAX_SIGMOID;
                (1.0f64 / (1.0f64 + (-x).exp() as f64)) as f32
            })
            .collect();
        let log = (0..=LOG_TABLE_SIZE)
            .map(|i| {
                let x = ((i as f64 + 1e-5) / LOG_TABLE_SIZE as f64) as f32;
                x.ln()
            })
            .collect();
        Tables { sigmoid, log }
    }

    /// Table sigmoid.
    #[inline(always)]
    pub fn sigmoid(&self, x: f32) -> f32 {
        if x < -MAX_SIGMOID {
            0.0
        } else if x > MAX_SIGMOID {
            1.0
        } else {
            let i = ((x + MAX_SIGMOID) * SIGMOID_TABLE_SIZE as f32 / MAX_SIGMOID / 2.0) as usize;
            self.sigmoid[i.min(SIGMOID_TABLE_SIZE)]
        }
    }

    /// Table log on [0, 1].
    #[inline(always)]
    pub fn log(&self, x: f32) -> f32 {
        if x > 1.0 {
            return 0.0;
        }
        // `as usize` saturates NaN / negatives to 0.
        let i = (x * LOG_TABLE_SIZE as f32) as usize;
        self.log[i.min(LOG_TABLE_SIZE)]
    }
}

/// fastText's `std_log`: log(x + 1e-5) in double, rounded to float.
#[inline]
pub fn std_log(x: f32) -> f32 {
    (x as f64 + 1e-5).ln() as f32
}

/// Sequential float dot product (the summation order fastText uses, for exact predictions).
#[inline]
pub fn dot_sequential(a: &[f32], b: &[f32]) -> f32 {
    let mut d = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        d += x * y;
    }
    d
}

/// The Huffman tree of hierarchical softmax over target counts.
#[derive(Clone, Debug)]
pub struct HuffmanTree {
    /// Number of leaves (targets).
    pub osz: usize,
    left: Vec<i32>,
    right: Vec<i32>,
    path_offsets: Vec<u32>,
    /// Inner-node rows (node - osz) on each leaf's path to the root.
    paths: Vec<u32>,
    /// Branch taken at each of those nodes.
    codes: Vec<bool>,
}

impl HuffmanTree {
    /// Builds the tree exactly as fastText's `buildTree` (counts sorted descending).
    pub fn new(counts: &[i64]) -> Self {
        let osz = counts.len();
        if osz == 0 {
            return HuffmanTree {
                osz,
                left: vec![],
                right: vec![],
                path_offsets: vec![0],
                paths: vec![],
                codes: vec![],
            };
        }
        let n = 2 * osz - 1;
        let mut parent = vec![-1i32; n];
        let mut left = vec![-1i32; n];
        let mut right = vec![-1i32; n];
        let mut count = vec![1e15 as i64; n];
        let mut binary = vec![false; n];
        count[..osz].copy_from_slice(counts);
        let mut leaf = osz as i64 - 1;
        let mut node = osz;
        for i in osz..n {
            let mut mini = [0usize; 2];
            for m in &mut mini {
                if leaf >= 0 && count[leaf as usize] < count[node] {
                    *m = leaf as usize;
                    leaf -= 1;
                } else {
                    *m = node;
                    node += 1;
                }
            }
            left[i] = mini[0] as i32;
            right[i] = mini[1] as i32;
            count[i] = count[mini[0]].saturating_add(count[mini[1]]);
            parent[mini[0]] = i as i32;
            parent[mini[1]] = i as i32;
            binary[mini[1]] = true;
        }
        let mut path_offsets = vec![0u32];
        let mut paths = Vec::new();
        let mut codes = Vec::new();
        for i in 0..osz {
            let mut j = i;
            while parent[j] != -1 {
                paths.push((parent[j] as usize - osz) as u32);
                codes.push(binary[j]);
                j = parent[j] as usize;
            }
            path_offsets.push(paths.len() as u32);
        }
        HuffmanTree {
            osz,
            left,
            right,
            path_offsets,
            paths,
            codes,
        }
    }

    /// (inner-node rows, codes) from leaf `target` to the root.
    #[inline]
    pub fn path(&self, target: usize) -> (&[u32], &[bool]) {
        let (a, b) = (
            self.path_offsets[target] as usize,
            self.path_offsets[target + 1] as usize,
        );
        (&self.paths[a..b], &self.codes[a..b])
    }
}

/// How often target `i` appears in fastText's negative table: `ceil(count_i^0.5 * 1e7 / z)`
/// (float arithmetic as fastText).
pub fn negative_repeats(counts: &[i64]) -> Vec<u64> {
    let z: f32 = counts.iter().map(|&c| (c as f64).powf(0.5) as f32).sum();
    counts
        .iter()
        .map(|&c| {
            let c = (c as f64).powf(0.5) as f32;
            let reps = (c * NEGATIVE_TABLE_SIZE as f32 / z).ceil();
            if reps.is_finite() && reps > 0.0 {
                reps as u64
            } else {
                0
            }
        })
        .collect()
}

/// fastText's negative table: target `i` repeated [`negative_repeats`] times.
pub fn negative_table(counts: &[i64]) -> Vec<u32> {
    let reps = negative_repeats(counts);
    let mut table = Vec::with_capacity(reps.iter().sum::<u64>() as usize);
    for (i, &r) in reps.iter().enumerate() {
        table.resize(table.len() + r as usize, i as u32);
    }
    table
}

/// The output layer needed for prediction.
#[derive(Clone, Debug)]
pub struct OutputLayer {
    /// Which loss.
    pub loss: LossName,
    /// Lookup tables.
    pub tables: Tables,
    /// The tree (hierarchical softmax only).
    pub tree: Option<HuffmanTree>,
}

/// The k best (score, label) pairs in a heap that follows libstdc++'s `push_heap` /
/// `pop_heap` / `sort_heap` step for step, so ties come out in fastText's order.
struct KBest {
    k: usize,
    heap: Vec<(f32, u32)>,
}

/// fastText's heap comparator: `a` goes below `b` when its score is larger.
#[inline]
fn cmp_greater(a: &(f32, u32), b: &(f32, u32)) -> bool {
    a.0 > b.0
}

fn sift_up(h: &mut [(f32, u32)], mut hole: usize, top: usize, value: (f32, u32)) {
    while hole > top {
        let parent = (hole - 1) / 2;
        if !cmp_greater(&h[parent], &value) {
            break;
        }
        h[hole] = h[parent];
        hole = parent;
    }
    h[hole] = value;
}

fn adjust_heap(h: &mut [(f32, u32)], len: usize, value: (f32, u32)) {
    let (top, mut hole, mut second) = (0usize, 0usize, 0usize);
    while len >= 1 && second < (len - 1) / 2 {
        second = 2 * (second + 1);
        if cmp_greater(&h[second], &h[second - 1]) {
            second -= 1;
        }
        h[hole] = h[second];
        hole = second;
    }
    if len >= 2 && len % 2 == 0 && second == (len - 2) / 2 {
        second = 2 * (second + 1);
        h[hole] = h[second - 1];
        hole = second - 1;
    }
    sift_up(h, hole, top, value);
}

/// `pop_heap` over `h[..len]`: the top goes to `h[len - 1]`.
fn pop_heap(h: &mut [(f32, u32)], len: usize) {
    if len > 1 {
        let value = h[len - 1];
        h[len - 1] = h[0];
        adjust_heap(h, len - 1, value);
    }
}

impl KBest {
    fn full_and_below(&self, score: f32) -> bool {
        self.heap.len() == self.k && score < self.heap[0].0
    }

    fn push(&mut self, score: f32, label: u32) {
        self.heap.push((score, label));
        let n = self.heap.len();
        let value = self.heap[n - 1];
        sift_up(&mut self.heap, n - 1, 0, value);
        if n > self.k {
            pop_heap(&mut self.heap, n);
            self.heap.pop();
        }
    }

    fn into_sorted(mut self) -> Vec<(f32, u32)> {
        let mut len = self.heap.len();
        while len > 1 {
            pop_heap(&mut self.heap, len);
            len -= 1;
        }
        self.heap
    }
}

impl OutputLayer {
    /// The layer for `loss` with targets counted by `counts`.
    pub fn new(loss: LossName, counts: &[i64]) -> Self {
        let tree = (loss == LossName::HierarchicalSoftmax).then(|| HuffmanTree::new(counts));
        OutputLayer {
            loss,
            tables: Tables::new(),
            tree,
        }
    }

    /// The `k` best (log-probability, target) pairs for `hidden`, best first, those with
    /// probability below `threshold` left out (fastText's `Loss::predict`).
    pub fn predict(
        &self,
        output: &[f32],
        dim: usize,
        hidden: &[f32],
        k: usize,
        threshold: f32,
        scratch: &mut Vec<f32>,
    ) -> Vec<(f32, u32)> {
        let mut best = KBest {
            k,
            heap: Vec::with_capacity(k.min(1024) + 1),
        };
        if k == 0 {
            return vec![];
        }
        match (self.loss, &self.tree) {
            (LossName::HierarchicalSoftmax, Some(tree)) if tree.osz > 0 => {
                let root = 2 * tree.osz - 2;
                self.dfs(tree, output, dim, hidden, threshold, root, 0.0, &mut best);
            }
            _ => {
                scratch.clear();
                scratch.extend(
                    output
                        .chunks_exact(dim)
                        .map(|row| dot_sequential(row, &hidden[..dim])),
                );
                self.compute_output(scratch);
                for (i, &p) in scratch.iter().enumerate() {
                    if p < threshold {
                        continue;
                    }
                    let s = std_log(p);
                    if best.full_and_below(s) {
                        continue;
                    }
                    best.push(s, i as u32);
                }
            }
        }
        best.into_sorted()
    }

    /// Turns raw scores into probabilities (softmax, or sigmoid per target).
    fn compute_output(&self, out: &mut [f32]) {
        match self.loss {
            LossName::Softmax | LossName::HierarchicalSoftmax => {
                let Some(&first) = out.first() else { return };
                let mut max = first;
                for &o in out.iter() {
                    // std::max(output[i], max) keeps `max` unless output[i] is larger.
                    if max < o {
                        max = o;
                    }
                }
                let mut z = 0.0f32;
                for o in out.iter_mut() {
                    *o = (*o - max).exp();
                    z += *o;
                }
                for o in out.iter_mut() {
                    *o /= z;
                }
            }
            LossName::NegativeSampling | LossName::OneVsAll => {
                for o in out.iter_mut() {
                    *o = self.tables.sigmoid(*o);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dfs(
        &self,
        tree: &HuffmanTree,
        output: &[f32],
        dim: usize,
        hidden: &[f32],
        threshold: f32,
        node: usize,
        score: f32,
        best: &mut KBest,
    ) {
        if score < std_log(threshold) {
            return;
        }
        if best.full_and_below(score) {
            return;
        }
        if tree.left[node] == -1 && tree.right[node] == -1 {
            best.push(score, node as u32);
            return;
        }
        let row = &output[(node - tree.osz) * dim..(node - tree.osz + 1) * dim];
        let f = dot_sequential(row, &hidden[..dim]);
        let f = (1.0f64 / (1.0f32 + (-f).exp()) as f64) as f32;
        let (l, r) = (tree.left[node] as usize, tree.right[node] as usize);
        let s_left = score + std_log((1.0f64 - f as f64) as f32);
        self.dfs(tree, output, dim, hidden, threshold, l, s_left, best);
        let s_right = score + std_log(f);
        self.dfs(tree, output, dim, hidden, threshold, r, s_right, best);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huffman_paths_reach_root() {
        let t = HuffmanTree::new(&[10, 5, 3, 1]);
        for leaf in 0..4 {
            let (p, c) = t.path(leaf);
            assert_eq!(p.len(), c.len());
            assert_eq!(*p.last().unwrap() as usize, 2);
        }
        // The most frequent target has the shortest path.
        assert!(t.path(0).0.len() <= t.path(3).0.len());
    }

    #[test]
    fn negative_table_follows_sqrt_counts() {
        let t = negative_table(&[100, 25]);
        let zeros = t.iter().filter(|&&x| x == 0).count() as f64;
        assert!((zeros / t.len() as f64 - 10.0 / 15.0).abs() < 1e-3);
    }

    #[test]
    fn kbest_keeps_the_best_sorted() {
        let mut b = KBest { k: 3, heap: vec![] };
        for (i, s) in [0.1f32, 0.7, 0.3, 0.9, 0.2].iter().enumerate() {
            b.push(*s, i as u32);
        }
        let got: Vec<u32> = b.into_sorted().iter().map(|p| p.1).collect();
        assert_eq!(got, [3, 1, 2]);
        // Ties of two come out in reverse insertion order, as libstdc++'s heap gives them.
        let mut t = KBest { k: 2, heap: vec![] };
        t.push(0.5, 0);
        t.push(0.5, 1);
        assert_eq!(
            t.into_sorted().iter().map(|p| p.1).collect::<Vec<_>>(),
            [1, 0]
        );
    }

    #[test]
    fn tables_are_monotone() {
        let t = Tables::new();
        assert!(t.sigmoid(-9.0) == 0.0 && t.sigmoid(9.0) == 1.0);
        assert!(t.sigmoid(-1.0) < t.sigmoid(1.0));
        assert!(t.log(0.5) < 0.0 && t.log(2.0) == 0.0);
    }
}
