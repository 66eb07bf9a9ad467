"""Input checks shared by the network, the data loaders and the estimator, and the limits they enforce."""

from __future__ import annotations

import math
import os

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .errors import InputError, InputTypeError

# -- limits ---------------------------------------------------------------------------------
# Explicit bounds on what a file or an option may make the program allocate, checked before
# allocating. Each can be raised with the environment variable TWOLAYER_<NAME> (e.g.
# TWOLAYER_MAX_CLASSES=50000).
LIMITS = {
    "MAX_CLASSES": 10_000,  # distinct labels (a label column that is really an ID has as many as rows)
    "MAX_ELEMENTS": 2**31,  # numbers in one array read into memory (8 GiB of float32)
    "MAX_DECOMPRESSED_BYTES": 2**30,  # bytes a gzip stream or the arrays of one .npz may expand to
    "MAX_GZIP_RATIO": 256,  # expansion of a gzip stream beyond 16 MiB: plausible data compresses < 10x
    "MAX_MODEL_BYTES": 2**32,  # bytes of W1, b1, W2, b2 together (training needs ~5x this)
    "MAX_BATCH_BYTES": 2**32,  # bytes of one minibatch's buffers (batch_size x (D + 2H + C))
    "MAX_PICKLE_BYTES": 2**28,  # size of one CIFAR-10 batch pickle (a real one is 31 MB)
}


def limit(name):
    """The limit NAME: TWOLAYER_<NAME> from the environment if set (a positive integer), else LIMITS."""
    raw = os.environ.get(f"TWOLAYER_{name}")
    if raw is None:
        return LIMITS[name]
    try:
        value = int(raw.replace("_", ""))
        if value < 1:
            raise ValueError
    except ValueError:
        raise InputError(f"TWOLAYER_{name} must be a positive integer, got {raw!r}") from None
    return value


def check_limits():
    """Every TWOLAYER_<LIMIT> of the environment checked at once (each command's start-up), and a
    TWOLAYER_MAX_* that names no limit refused, so that a typo is never silently ignored."""
    for name in LIMITS:
        limit(name)
    for key in sorted(os.environ):
        if key.startswith("TWOLAYER_MAX_") and key[len("TWOLAYER_") :] not in LIMITS:
            known = ", ".join(f"TWOLAYER_{n}" for n in LIMITS)
            raise InputError(f"{key} is not a limit of twolayer; the limits are {known}")


def gib(nbytes):
    """A byte count in words: '238 GiB', '1.5 MiB'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            v = nbytes / size
            return f"{v:.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{nbytes} bytes"


# -- numbers and options --------------------------------------------------------------------
def check_model_size(
    input_size, hidden_size, output_size, dtype, names=("input_size", "hidden_size", "output_size")
):
    """Refuse a network whose parameters would not fit the MAX_MODEL_BYTES limit, before allocating."""
    itemsize = np.dtype(dtype).itemsize
    w1 = input_size * hidden_size * itemsize
    w2 = hidden_size * output_size * itemsize
    total = w1 + w2 + (hidden_size + output_size) * itemsize
    if total > limit("MAX_MODEL_BYTES"):
        if w1 >= w2:
            what = (
                f"{names[1]} {hidden_size}"
                if hidden_size >= input_size
                else f"{names[0]} {input_size}"
            )
            matrix, nbytes, shape = "W1", w1, (input_size, hidden_size)
        else:
            what = (
                f"{names[2]} {output_size}"
                if output_size >= hidden_size
                else f"{names[1]} {hidden_size}"
            )
            matrix, nbytes, shape = "W2", w2, (hidden_size, output_size)
        raise InputError(
            f"{what} needs {gib(nbytes)} for {matrix} ({shape[0]}×{shape[1]} {np.dtype(dtype).name}); "
            f"the limit for all weights is {gib(limit('MAX_MODEL_BYTES'))} "
            f"(TWOLAYER_MAX_MODEL_BYTES)"
        )


def check_classes(n_classes, where, column=None):
    """At most MAX_CLASSES classes: more usually means the labels are IDs or values, not classes."""
    cap = limit("MAX_CLASSES")
    if n_classes > cap:
        col = f" in column {column!r}" if column is not None else ""
        raise InputError(
            f"{where}: {n_classes:,} classes{col} (labels up to {n_classes - 1:,}) exceed the limit of "
            f"{cap:,} — is that the label column? (TWOLAYER_MAX_CLASSES raises the limit)"
        )


def check_elements(shape, where, itemsize=None):
    """Refuse an array shape with more than MAX_ELEMENTS numbers (exact: Python integers never overflow)."""
    n = math.prod(int(d) for d in shape)
    if n > limit("MAX_ELEMENTS"):
        size = f" ({gib(n * itemsize)})" if itemsize else ""
        raise InputError(
            f"{where}: shape {tuple(int(d) for d in shape)} declares {n:,} numbers{size}, more "
            f"than the limit of {limit('MAX_ELEMENTS'):,} (TWOLAYER_MAX_ELEMENTS)"
        )
    return n


def native_float(dt: np.dtype) -> np.dtype | None:
    """float32 or float64 in this machine's byte order for a float32/float64 dtype of either byte
    order ('>f8' written on a big-endian machine is float64 too); None for any other dtype."""
    if dt.kind == "f" and dt.itemsize in (4, 8):
        return dt.newbyteorder("=")
    return None


def check_dtype(dtype: DTypeLike) -> np.dtype:
    """float32 or float64 (of any byte order: '>f8' is float64), as this machine's dtype."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
    native = native_float(dt)
    if native is None:
        raise InputError(f"dtype must be float32 or float64, got {dt.name}")
    return native


def as_array(a: ArrayLike, name: str = "X") -> np.ndarray:
    """np.asarray(a), with NumPy's multi-line complaint about ragged rows as one line of ours."""
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise InputError(
                f"{name} is not a rectangular array: its rows have different lengths"
            ) from None
        raise InputError(
            f"{name} is not an array of numbers ({' '.join(str(e).split())[:120]})"
        ) from None


def check_X(
    X: ArrayLike,
    n_features: int | None = None,
    dtype: DTypeLike | None = None,
    name: str = "X",
    finite: bool = True,
) -> np.ndarray:
    """A finite 2-D float array with the expected number of columns.

    finite=False skips the O(N·D) finiteness scan; the caller must then call check_finite
    when its result is not finite (NaN and ±inf in X always propagate into the scores).
    """
    X = as_array(X, name)
    check_real_dtype(X.dtype, name)
    if X.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (samples × features), got {X.ndim}-D with shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise InputError(f"{name} is empty: it has 0 samples")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(f"{name} has {X.shape[1]} features but the model expects {n_features}")
    if dtype is not None and X.dtype != dtype:
        X = X.astype(dtype)
    if finite:
        check_finite(X, name)
    return X


REAL_KINDS = (
    "biuf"  # bool, integers, floats; never complex, timedelta, datetime, object, bytes, str, void
)
_DTYPE_WORDS = {
    "c": "Complex data not supported: the imaginary part would be lost",
    "m": "time spans",
    "M": "dates",
    "O": "Python objects",
    "S": "bytes",
    "U": "strings",
    "V": "raw or structured records",
}


def check_real_dtype(dtype, name="X"):
    """Real numbers only: one line naming what the array holds instead."""
    dtype = np.dtype(dtype)
    if dtype.kind not in REAL_KINDS:
        words = _DTYPE_WORDS.get(dtype.kind, "values that are not real numbers")
        raise InputTypeError(f"{name} must hold numbers, got dtype {dtype} ({words})")


def check_finite(X: np.ndarray, name: str = "X") -> None:
    if not np.isfinite(X).all():
        raise InputError(f"{name} contains NaN or infinite values")


def check_y(
    y: ArrayLike, n_samples: int, n_classes: int | None = None, name: str = "y"
) -> np.ndarray:
    """Integer labels in [0, n_classes), one per sample."""
    y = as_array(y, name)
    _check_label_shape(y, n_samples, name)
    _check_label_dtype(y, name)
    if len(y):
        _check_label_range(y, n_classes, name)
    return y.astype(np.intp, copy=False)


def _check_label_shape(y: np.ndarray, n_samples: int, name: str) -> None:
    if y.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {y.shape}")
    if len(y) != n_samples:
        raise InputError(f"{name} has {len(y)} labels but X has {n_samples} samples")


def _check_label_dtype(y: np.ndarray, name: str) -> None:
    """Integers, or integer-valued floats (as CSV files give)."""
    if y.dtype.kind not in "iuf":
        words = _DTYPE_WORDS.get(y.dtype.kind, "")
        raise InputTypeError(
            f"{name} must hold integer class labels, got dtype {y.dtype}"
            + (f" ({words})" if words else "")
        )
    if y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name} has a non-integer label {float(y[i]):g} (row {i}); "
                "expected integer class labels 0, 1, 2, …"
            )


def _check_label_range(y: np.ndarray, n_classes: int | None, name: str) -> None:
    # compared in the labels' own dtype, before any cast: uint64 max or 1e300 must not wrap around
    lo, hi = y.min(), y.max()
    if lo < 0:
        i = int(np.argmin(y))
        raise InputError(
            f"{name} has a negative label ({_label(lo)}, row {i}); labels must be in [0, n_classes)"
        )
    if n_classes is not None and hi >= n_classes:
        i = int(np.argmax(y))
        raise InputError(
            f"{name} has label {_label(hi)} but the model has {n_classes} classes "
            f"(labels 0..{n_classes - 1}; row {i})"
        )
    cap = limit("MAX_CLASSES")
    if hi >= cap:
        i = int(np.argmax(y))
        raise InputError(
            f"{name} has label {_label(hi)} (row {i}), beyond the limit of {cap:,} classes — are these "
            "class labels? (TWOLAYER_MAX_CLASSES raises the limit)"
        )


def check_sample_weight(sample_weight, n, name="sample_weight"):
    """A float64 vector of n finite weights >= 0 with a positive sum."""
    w = (
        np.asarray(sample_weight, dtype=np.float64)
        if not np.isscalar(sample_weight)
        else np.full(n, float(sample_weight))
    )
    if w.shape != (n,):
        raise InputError(f"{name} must hold one weight per row ({n}), got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"{name} must be finite and >= 0")
    w = scaled_weights(w)  # before summing: weights of 1e308 would overflow their sum
    if not w.sum() > 0:
        raise InputError(f"{name} must not be all zero")
    return w


def scaled_weights(w, dtype=np.float64):
    """Sample weights (float64), divided by the largest when their sum or a cast to ``dtype``
    could overflow or underflow (weights of 1e308, or 1e39 or 1e-300 in float32): a weighted mean
    is the same. Ordinary weights are returned as they are."""
    w = np.asarray(w, dtype=np.float64)
    top = float(w.max()) if w.size else 0.0
    info = np.finfo(dtype)
    huge = top * max(len(w), 1) > float(info.max) / 16
    if top > 0 and math.isfinite(top) and (huge or top < float(info.tiny) * 2**24):
        return w / top
    return w


def _label(v):
    return f"{float(v):g}" if isinstance(v, np.floating) else str(int(v))


# -- predicates ---------------------------------------------------------------------------------
# The one set of predicates: the settings table (settings.RULES) and the schemas of files read back
# are written with them. A schema is {field: (rule, words)}: rule(value) -> bool; words say what
# the field must be. Python and NumPy numbers alike; a bool is never a number.
INTEGERS = (int, np.integer)
NUMBERS = (int, float, np.integer, np.floating)
_CLOSED = {
    "both": (True, True),
    "left": (True, False),
    "right": (False, True),
    "neither": (False, False),
}


def is_number(v):
    """A real number of any size, NaN and infinities included (never a bool, a string, a complex)."""
    return isinstance(v, NUMBERS) and not isinstance(v, (bool, np.bool_))


def is_int(lo=None, hi=None):
    """An integer in lo..hi, both included (None: no bound)."""
    return lambda v: (
        isinstance(v, INTEGERS)
        and not isinstance(v, bool)
        and (lo is None or v >= lo)
        and (hi is None or v <= hi)
    )


def is_real(lo=None, hi=None, closed="both"):
    """A finite number between lo and hi (None: no bound); ``closed`` says which bounds belong to
    the interval, as scikit-learn's Interval: 'both', 'left', 'right' or 'neither'."""
    lo_in, hi_in = _CLOSED[closed]
    return lambda v: (
        is_number(v)
        and math.isfinite(v)
        and (lo is None or v > lo or (lo_in and v == lo))
        and (hi is None or v < hi or (hi_in and v == hi))
    )


def is_str(v):
    return isinstance(v, str)


def one_of(*choices):
    return lambda v: isinstance(v, str) and v in choices


def optional(rule):
    return lambda v: v is None or rule(v)


def list_of(rule, min_len=0, max_len=None):
    return lambda v: (
        isinstance(v, list)
        and len(v) >= min_len
        and (max_len is None or len(v) <= max_len)
        and all(rule(x) for x in v)
    )


def is_dict(v):
    return isinstance(v, dict)


def _short(value, n=60):
    text = repr(value)
    return text if len(text) <= n else text[:n] + "…"


def check_fields(obj, schema, where, required=()):
    """obj must be a dict whose fields satisfy the schema; returns obj. One line naming file and field."""
    if not isinstance(obj, dict):
        raise InputError(
            f"{where}: expected a JSON object of fields, got {type(obj).__name__}; the file is damaged"
        )
    for name in required:
        if name not in obj:
            raise InputError(f"{where}: field {name!r} is missing; the file is damaged")
    for name, (rule, words) in schema.items():
        if name in obj and not rule(obj[name]):
            raise InputError(
                f"{where}: field {name!r} must be {words}, got {_short(obj[name])}; the file is damaged"
            )
    return obj
