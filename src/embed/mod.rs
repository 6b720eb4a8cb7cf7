//! Word embeddings: corpus encoding, Hogwild weights, word2vec training, nearest neighbours.

pub mod cooccur;
pub mod corpus;
pub mod glove;
pub mod hogwild;
pub mod kernels;
pub mod neighbors;
pub mod word2vec;
