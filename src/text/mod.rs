//! Text to sparse matrices: tokenization, n-grams, vocabularies, counting, hashing, tf-idf.
