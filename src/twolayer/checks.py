"""Input checks shared by the network, the data loaders and the estimator."""
from __future__ import annotations

import numbers

import numpy as np

from .errors import InputError, InputTypeError


def check_positive_int(value, name):
    message = f"{name} must be a positive integer, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(message)
    if value < 1:
        raise InputError(message)
    return int(value)


def check_nonnegative(value, name):
    message = f"{name} must be a finite number >= 0, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(message)
    if not np.isfinite(value) or value < 0:
        raise InputError(message)
    return float(value)


def check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dt.name}")
    return dt


def check_X(X, n_features=None, dtype=None, name="X", finite=True):
    """A finite 2-D float array with the expected number of columns.

    finite=False skips the O(N·D) finiteness scan; the caller must then call check_finite
    when its result is not finite (NaN and ±inf in X always propagate into the scores).
    """
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise InputTypeError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise InputError(f"{name} must be 2-D (samples × features), got {X.ndim}-D with shape {X.shape}")
    if X.shape[0] == 0:
        raise InputError(f"{name} is empty: it has 0 samples")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(f"{name} has {X.shape[1]} features but the model expects {n_features}")
    if dtype is not None and X.dtype != dtype:
        X = X.astype(dtype)
    if finite:
        check_finite(X, name)
    return X


def check_finite(X, name="X"):
    if not np.isfinite(X).all():
        raise InputError(f"{name} contains NaN or infinite values")


def check_y(y, n_samples, n_classes=None, name="y"):
    """Integer labels in [0, n_classes), one per sample."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {y.shape}")
    if len(y) != n_samples:
        raise InputError(f"{name} has {len(y)} labels but X has {n_samples} samples")
    if y.dtype.kind == "f":  # integer-valued floats (as CSV files give) are labels too
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{name} has a non-integer label {float(y[i]):g} (row {i}); "
                             "expected integer class labels 0, 1, 2, …")
        y = y.astype(np.int64)
    elif not np.issubdtype(y.dtype, np.integer):
        raise InputError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise InputError(f"{name} has a negative label ({y.min()}); labels must be in [0, n_classes)")
    if n_classes is not None and len(y) and y.max() >= n_classes:
        raise InputError(f"{name} has label {y.max()} but the model has {n_classes} classes (labels 0..{n_classes - 1})")
    return y.astype(np.intp, copy=False)


def check_sample_weight(sample_weight, n, name="sample_weight"):
    """A float64 vector of n finite weights >= 0 with a positive sum."""
    w = np.asarray(sample_weight, dtype=np.float64) if not np.isscalar(sample_weight) else \
        np.full(n, float(sample_weight))
    if w.shape != (n,):
        raise InputError(f"{name} must hold one weight per row ({n}), got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"{name} must be finite and >= 0")
    if not w.sum() > 0:
        raise InputError(f"{name} must not be all zero")
    return w
