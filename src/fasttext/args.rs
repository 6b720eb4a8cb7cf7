//! fastText's hyper-parameters (`Args`), their per-model defaults and the `.bin` args block.

use crate::error::{Error, Result};

/// Which network fastText trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelName {
    /// Continuous bag of words (predict a word from its window).
    Cbow = 1,
    /// Skip-gram (predict each window word from the centre word).
    SkipGram = 2,
    /// The supervised classifier (predict a label from a line).
    Supervised = 3,
}

/// The output layer / loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossName {
    /// Hierarchical softmax over a Huffman tree.
    HierarchicalSoftmax = 1,
    /// Negative sampling.
    NegativeSampling = 2,
    /// Full softmax.
    Softmax = 3,
    /// Independent binary logistic losses (multi-label).
    OneVsAll = 4,
}

impl ModelName {
    /// The `.bin` code.
    pub fn from_code(code: i32) -> Result<Self> {
        Ok(match code {
            1 => ModelName::Cbow,
            2 => ModelName::SkipGram,
            3 => ModelName::Supervised,
            _ => return Err(Error::InvalidInput(format!("invalid model code {code}"))),
        })
    }

    /// fastText's name ("cbow", "skipgram", "supervised").
    pub fn name(self) -> &'static str {
        match self {
            ModelName::Cbow => "cbow",
            ModelName::SkipGram => "skipgram",
            ModelName::Supervised => "supervised",
        }
    }

    /// Parses fastText's name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "cbow" => ModelName::Cbow,
            "skipgram" | "sg" => ModelName::SkipGram,
            "supervised" | "sup" => ModelName::Supervised,
            _ => {
                return Err(Error::InvalidParameter(format!(
                    "unknown model {name:?} (expected \"cbow\", \"skipgram\" or \"supervised\")"
                )))
            }
        })
    }
}

impl LossName {
    /// The `.bin` code.
    pub fn from_code(code: i32) -> Result<Self> {
        Ok(match code {
            1 => LossName::HierarchicalSoftmax,
            2 => LossName::NegativeSampling,
            3 => LossName::Softmax,
            4 => LossName::OneVsAll,
            _ => return Err(Error::InvalidInput(format!("invalid loss code {code}"))),
        })
    }

    /// fastText's short name ("hs", "ns", "softmax", "ova").
    pub fn name(self) -> &'static str {
        match self {
            LossName::HierarchicalSoftmax => "hs",
            LossName::NegativeSampling => "ns",
            LossName::Softmax => "softmax",
            LossName::OneVsAll => "ova",
        }
    }

    /// Parses fastText's name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "hs" => LossName::HierarchicalSoftmax,
            "ns" => LossName::NegativeSampling,
            "softmax" => LossName::Softmax,
            "ova" | "one-vs-all" => LossName::OneVsAll,
            _ => {
                return Err(Error::InvalidParameter(format!(
                    "unknown loss {name:?} (expected \"ns\", \"hs\", \"softmax\" or \"ova\")"
                )))
            }
        })
    }
}

/// fastText's arguments, with fastText's names in comments where ours differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// cbow / skipgram / supervised.
    pub model: ModelName,
    /// Output layer.
    pub loss: LossName,
    /// Initial learning rate (not stored in `.bin` files).
    pub lr: f64,
    /// Vector size.
    pub dim: usize,
    /// Context window size.
    pub ws: usize,
    /// Passes over the data.
    pub epoch: usize,
    /// `minCount`: words seen fewer times are dropped.
    pub min_count: i64,
    /// `minCountLabel`: labels seen fewer times are dropped.
    pub min_count_label: i64,
    /// Negatives per positive (ns).
    pub neg: usize,
    /// `wordNgrams`: max length of word n-grams (supervised).
    pub word_ngrams: usize,
    /// Hash buckets for subwords and word n-grams.
    pub bucket: usize,
    /// Min char n-gram length.
    pub minn: usize,
    /// Max char n-gram length (0 = no subwords).
    pub maxn: usize,
    /// `lrUpdateRate`: tokens between updates of the shared progress counter.
    pub lr_update_rate: usize,
    /// Sub-sampling threshold.
    pub t: f64,
    /// Label prefix.
    pub label: String,
    /// Seed of the random streams.
    pub seed: u64,
}

impl Args {
    /// fastText's defaults for `model` (the Python package's `train_unsupervised` /
    /// `train_supervised` defaults).
    pub fn defaults(model: ModelName) -> Self {
        let mut a = Args {
            model,
            loss: LossName::NegativeSampling,
            lr: 0.05,
            dim: 100,
            ws: 5,
            epoch: 5,
            min_count: 5,
            min_count_label: 0,
            neg: 5,
            word_ngrams: 1,
            bucket: 2_000_000,
            minn: 3,
            maxn: 6,
            lr_update_rate: 100,
            t: 1e-4,
            label: "__label__".to_string(),
            seed: 0,
        };
        if model == ModelName::Supervised {
            a.loss = LossName::Softmax;
            a.lr = 0.1;
            a.min_count = 1;
            a.minn = 0;
            a.maxn = 0;
        }
        a
    }

    /// Applies fastText's own fix-up (Python `_build_args` and the CLI): no buckets are needed
    /// without word n-grams and char n-grams.
    pub fn finalize(&mut self) {
        if self.word_ngrams <= 1 && self.maxn == 0 {
            self.bucket = 0;
        }
    }

    /// Checks ranges before training.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidParameter(m));
        if self.dim == 0 || self.dim > 100_000 {
            return bad(format!("dim must be in 1..=100000, got {}", self.dim));
        }
        if self.ws == 0 {
            return bad("ws must be at least 1".into());
        }
        if self.epoch == 0 {
            return bad("epoch must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!(
                "lr must be a positive finite number, got {}",
                self.lr
            ));
        }
        if !(self.t.is_finite() && self.t > 0.0) {
            return bad(format!(
                "t must be a positive finite number, got {}",
                self.t
            ));
        }
        if self.word_ngrams == 0 {
            return bad("wordNgrams must be at least 1".into());
        }
        if self.lr_update_rate == 0 {
            return bad("lrUpdateRate must be at least 1".into());
        }
        if self.maxn > 0 && self.minn > self.maxn {
            return bad(format!(
                "minn ({}) must not exceed maxn ({})",
                self.minn, self.maxn
            ));
        }
        if self.maxn > 64 {
            return bad(format!("maxn must be at most 64, got {}", self.maxn));
        }
        if self.bucket > 1 << 30 {
            return bad(format!("bucket must be at most 2^30, got {}", self.bucket));
        }
        if self.loss == LossName::NegativeSampling && self.neg == 0 {
            return bad("neg must be at least 1 with loss 'ns'".into());
        }
        if self.label.is_empty() {
            return bad("label prefix must not be empty".into());
        }
        if self.model != ModelName::Supervised && self.loss == LossName::OneVsAll {
            return bad("loss 'ova' is only for the supervised model".into());
        }
        Ok(())
    }
}
