"""2-D scatter plots of word vectors (needs matplotlib: ``pip install ferrotext[plot]``)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_embeddings"]


def plot_embeddings(kv, words=None, method="pca", ax=None, *, n_words=50, random_state=0, annotate=True):
    """Projects word vectors to 2-D and draws them, one labelled point per word.

    Parameters
    ----------
    kv : KeyedVectors or Word2Vec
        The vectors (a fitted ``Word2Vec`` is taken through its ``wv``).
    words : list of str, optional
        Words to draw; default: the ``n_words`` most frequent ones. Unknown words raise KeyError.
    method : {"pca", "tsne"}
        PCA (scikit-learn ``PCA``) or t-SNE (``TSNE``, perplexity clipped below the word count).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    kv = getattr(kv, "wv", kv)
    words = list(kv.index_to_key[:n_words]) if words is None else list(words)
    if len(words) < 2:
        raise ValueError("plot_embeddings needs at least 2 words")
    vectors = np.vstack([kv[w] for w in words]).astype(np.float64)
    if method == "pca":
        from sklearn.decomposition import PCA

        points = PCA(n_components=2, random_state=random_state).fit_transform(vectors)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(words) - 1) / 3.0)
        points = TSNE(n_components=2, perplexity=max(perplexity, 1.0), random_state=random_state, init="pca").fit_transform(vectors)
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 8))
    ax.scatter(points[:, 0], points[:, 1], s=12)
    if annotate:
        for (x, y), w in zip(points, words):
            ax.annotate(w, (x, y), fontsize=9, xytext=(2, 2), textcoords="offset points")
    ax.set_title(f"word vectors ({method.upper() if method == 'pca' else 't-SNE'})")
    return ax
