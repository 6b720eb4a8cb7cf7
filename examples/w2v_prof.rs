//! Profiling driver for word2vec training on a text file (not part of the package):
//! `cargo run --release --no-default-features --example w2v_prof -- FILE sg|cbow ns|hs THREADS EPOCHS`
#![allow(clippy::unwrap_used)]

use ferrotext::embed::corpus::{FileSource, VocabCounter};
use ferrotext::embed::word2vec::{init_vectors, train, Architecture, Loss, Word2VecParams};
use ferrotext::runtime::NeverInterrupt;
use std::path::PathBuf;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let path = PathBuf::from(&a[1]);
    let arch = if a[2] == "sg" {
        Architecture::SkipGram
    } else {
        Architecture::Cbow
    };
    let loss = if a[3] == "ns" {
        Loss::Negative
    } else {
        Loss::HierarchicalSoftmax
    };
    let threads: usize = a[4].parse().unwrap();
    let epochs: usize = a[5].parse().unwrap();
    let mut c = VocabCounter::new(None);
    c.count_files(std::slice::from_ref(&path), &NeverInterrupt)
        .unwrap();
    let mut keep: Vec<usize> = (0..c.words.len()).filter(|&i| c.counts[i] >= 5).collect();
    keep.sort_by_key(|&i| std::cmp::Reverse(c.counts[i]));
    let words: Vec<String> = keep.iter().map(|&i| c.words[i].clone()).collect();
    let counts: Vec<u64> = keep.iter().map(|&i| c.counts[i]).collect();
    let total: u64 = counts.iter().sum();
    let p = Word2VecParams {
        vector_size: 100,
        window: 5,
        sample: 1e-3,
        architecture: arch,
        loss,
        negative: 5,
        ns_exponent: 0.75,
        cbow_mean: true,
        alpha: if arch == Architecture::Cbow {
            0.05
        } else {
            0.025
        },
        min_alpha: 0.0001,
        epochs,
        shrink_windows: true,
        n_threads: threads,
        alpha_shares: threads,
        seed: 1,
    };
    let dim = 100;
    let syn0 = init_vectors(0, words.len(), dim, 1);
    let syn1 = vec![0.0; words.len() * dim];
    let mut src = FileSource::new(vec![path], &words);
    let cpu0 = cpu_seconds();
    let (w, _, rep) = train(
        &p,
        &counts,
        total,
        Some(&syn0),
        Some(&syn1),
        &mut src,
        &NeverInterrupt,
        &mut |_| Ok(()),
    )
    .unwrap();
    eprintln!(
        "cpu={:.2} V={} tokens={} eff={} secs={:.3} words/s={:.0} loss={:?} w0={}",
        cpu_seconds() - cpu0,
        words.len(),
        total,
        rep.effective_words,
        rep.seconds,
        rep.raw_words as f64 / rep.seconds,
        rep.epoch_loss,
        w[0]
    );
}

/// User + system CPU seconds of this process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
