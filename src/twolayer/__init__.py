"""twolayer: a two-layer fully-connected neural network classifier on NumPy."""
from .errors import DivergedError, InputError
from .net import TwoLayerNet

__version__ = "0.1.0"
__all__ = ["TwoLayerNet", "InputError", "DivergedError", "__version__"]
