"""ferrotext: classic text representations with a fast Rust core and a scikit-learn API.

>>> from ferrotext import TfidfVectorizer, TruncatedSVD   # in place of sklearn's
"""

from ferrotext import datasets  # noqa: F401  (so `ferrotext.datasets` works after `import ferrotext`)
from ferrotext._core import __version__
from ferrotext.decomposition import *  # noqa: F403
from ferrotext.decomposition import __all__ as _decomposition_all
from ferrotext.feature_extraction import *  # noqa: F403
from ferrotext.feature_extraction import __all__ as _feature_extraction_all
from ferrotext.topic_models import *  # noqa: F403
from ferrotext.topic_models import __all__ as _topic_models_all

from ferrotext.embeddings import *  # noqa: F403
from ferrotext.embeddings import __all__ as _embeddings_all
from ferrotext.keyedvectors import KeyedVectors  # noqa: F401
from ferrotext.cooccurrence import cooccurrence_matrix  # noqa: F401
from ferrotext.fasttext import (  # noqa: F401
    FastText,
    FastTextClassifier,
    FastTextKeyedVectors,
    load_facebook_model,
    save_facebook_model,
)
from ferrotext.plotting import plot_embeddings  # noqa: F401

__all__ = [
    "__version__",
    *_feature_extraction_all,
    *_decomposition_all,
    *_topic_models_all,
    *_embeddings_all,
    "KeyedVectors",
    "cooccurrence_matrix",
    "FastText",
    "FastTextClassifier",
    "FastTextKeyedVectors",
    "load_facebook_model",
    "save_facebook_model",
    "plot_embeddings",
]
from ferrotext.glove import GloVe, load_glove_format  # noqa: E402,F401

__all__ += ["GloVe", "load_glove_format"]
