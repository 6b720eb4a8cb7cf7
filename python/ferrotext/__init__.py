"""ferrotext: classic text representations with a fast Rust core and a scikit-learn API.

>>> from ferrotext import TfidfVectorizer, TruncatedSVD   # in place of sklearn's
"""

# The submodules load on first use (PEP 562): `from ferrotext import Word2Vec` must not pay for
# sklearn.decomposition / sklearn.feature_extraction (~11 MB RSS), and plain `import ferrotext`
# not for sklearn at all. The classes themselves are unchanged sklearn estimators.
import importlib

from ferrotext._core import __version__

# public name -> submodule that defines it
_EXPORTS = {
    "TruncatedSVD": "decomposition",
    "CountVectorizer": "feature_extraction",
    "HashingVectorizer": "feature_extraction",
    "TfidfTransformer": "feature_extraction",
    "TfidfVectorizer": "feature_extraction",
    "PLSA": "topic_models",
    "LatentDirichletAllocation": "topic_models",
    "Word2Vec": "embeddings",
    "KeyedVectors": "keyedvectors",
    "cooccurrence_matrix": "cooccurrence",
    "FastText": "fasttext",
    "FastTextClassifier": "fasttext",
    "FastTextKeyedVectors": "fasttext",
    "load_facebook_model": "fasttext",
    "save_facebook_model": "fasttext",
    "plot_embeddings": "plotting",
    "GloVe": "glove",
    "load_glove_format": "glove",
}
_SUBMODULES = {"datasets"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"ferrotext.{_EXPORTS[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"ferrotext.{name}")
    else:
        raise AttributeError(f"module 'ferrotext' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
