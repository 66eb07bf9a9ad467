"""twolayer: a two-layer fully-connected neural network classifier on NumPy."""

from .errors import DivergedError, InputError
from .net import TwoLayerNet

__version__ = "0.1.0"
__all__ = [
    "TwoLayerNet",
    "TwoLayerClassifier",
    "MLPClassifier",
    "InputError",
    "DivergedError",
    "__version__",
]


def __getattr__(name):
    # scikit-learn is imported only when the estimator is asked for, keeping `twolayer --help` fast
    if name == "TwoLayerClassifier":
        from .estimator import TwoLayerClassifier

        return TwoLayerClassifier
    if name == "MLPClassifier":  # scikit-learn's MLPClassifier, drop-in (sklearn_mlp.py)
        from .sklearn_mlp import MLPClassifier

        return MLPClassifier
    raise AttributeError(f"module 'twolayer' has no attribute {name!r}")
