"""CIFAR-10 from the ``cifar-10-batches-py`` folder, as CS231n's download script leaves it.

The batches are Python pickles. They are read by an unpickler that admits only what such files
contain (dicts, lists, strings, bytes, numbers and uint8 NumPy arrays): any other global a pickle
asks for, such as ``os.system`` or ``builtins.eval``, is refused before it can be called.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle

import numpy as np

from ..checks import check_classes, gib, limit
from ..errors import InputError
from ..io import check_file, exists, is_dir
from .validate import assemble, require_dir

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
ROW = 3 * 32 * 32


class Refused(pickle.UnpicklingError):
    pass


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as f
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct as f
    return f


def _new_array(subtype, shape, typecode):
    if subtype is not np.ndarray:
        raise Refused(f"array subclass {subtype!r}")
    return _reconstruct()(subtype, shape, typecode)


def _plain_dtype(spec, align=False, copy=True):
    dt = np.dtype(spec, align, copy)
    if dt.hasobject:
        raise Refused("an array of Python objects")
    return dt


def _latin1(text, encoding="latin1", errors="strict"):
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(str, 'latin1')
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise Refused(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _new_array,
    ("numpy._core.multiarray", "_reconstruct"): _new_array,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
    ("_codecs", "encode"): _latin1,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ALLOWED; everything else is refused."""

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise Refused(f"{module}.{name}") from None


def read_pickle(path):
    """A CIFAR-10 pickle as a dict with str keys, or an InputError."""
    path = check_file(path)
    size = os.path.getsize(path)
    if size > limit("MAX_PICKLE_BYTES"):  # the unpickler's work and memory grow with the file
        raise InputError(
            f"{path}: {gib(size)} is more than a CIFAR-10 batch holds (limit "
            f"{gib(limit('MAX_PICKLE_BYTES'))}, TWOLAYER_MAX_PICKLE_BYTES)"
        )
    try:
        with open(path, "rb") as f:
            obj = RestrictedUnpickler(io.BytesIO(f.read(size + 1)), encoding="latin1").load()
    except Refused as e:
        raise InputError(
            f"{path}: refused to unpickle {e}, which a CIFAR-10 file never contains "
            f"(the file may have been tampered with)"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        LookupError,
        MemoryError,
        UnicodeError,
        OverflowError,
        RecursionError,
        IndexError,
        KeyError,
    ) as e:
        raise InputError(
            f"{path}: truncated or corrupt CIFAR-10 pickle ({type(e).__name__}: {e})"
        ) from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a dict, got {type(obj).__name__}; not a CIFAR-10 file")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_batch(path):
    """(X, y) of one batch, rows reordered from the file's channel planes (CHW) to CS231n's HWC."""
    d = read_pickle(path)
    if "data" not in d or "labels" not in d:
        raise InputError(f"{path}: no 'data' and 'labels' entries; not a CIFAR-10 batch")
    X, labels = d["data"], _flat_labels(d["labels"], path)
    if not isinstance(X, np.ndarray) or X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != ROW:
        shape = getattr(X, "shape", type(X).__name__)
        raise InputError(f"{path}: 'data' must be a uint8 array of N×{ROW} pixels, got {shape}")
    try:
        y = np.asarray(labels)
    except ValueError as e:
        raise InputError(f"{path}: 'labels' is not a list of integers ({e})") from None
    if y.ndim != 1 or len(y) != len(X):
        raise InputError(f"{path}: {len(X)} images but {y.size} labels")
    if y.dtype.kind not in "iu":
        raise InputError(f"{path}: 'labels' must be integers, got {y.dtype}")
    X = X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(-1, ROW)
    return X, y.astype(np.intp)


def _flat_labels(labels, path):
    """A batch's labels as a list of ints, or InputError.

    Checked flat, element by element, before any conversion: a pickle of shared nested lists
    (a few bytes that stand for 2**100 elements) must never be walked or converted.
    """
    if isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.ndim == 1:
        labels = labels.tolist()
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        bad = (
            type(labels).__name__
            if not isinstance(labels, list)
            else type(next(v for v in labels if type(v) is not int)).__name__
        )
        raise InputError(
            f"{path}: 'labels' must be a flat list of integers, found {bad}; not a CIFAR-10 batch"
        )
    return labels


def _cifar_root(path):
    """The folder holding the CIFAR-10 files (the given one or its FOLDER), all files present."""
    root = require_dir(path, "cifar10")
    if not exists(root / META_FILE) and is_dir(root / FOLDER):
        root = root / FOLDER
    missing = [f for f in (META_FILE, *TRAIN_FILES, TEST_FILE) if not (exists(root / f))]
    if missing:
        raise InputError(
            f"{root}: missing CIFAR-10 file(s) {', '.join(missing)}; expected the "
            f"{FOLDER} folder from https://www.cs.toronto.edu/~kriz/cifar.html"
        )
    return root


def _label_names(root):
    """The class names from the meta file, checked and decoded."""
    meta = read_pickle(root / META_FILE)
    names = meta.get("label_names")
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, (str, bytes)) for n in names)
    ):
        raise InputError(
            f"{root / META_FILE}: no 'label_names' list of strings; not a CIFAR-10 meta file"
        )
    check_classes(len(names), root / META_FILE)
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def load_cifar10(path, seed=0, val_fraction=0.1):
    """50,000 training and 10,000 test images of 32×32×3 uint8 pixels in 10 classes."""
    root = _cifar_root(path)
    names = _label_names(root)
    batches = [read_batch(root / f) for f in TRAIN_FILES]
    X_train = np.concatenate([b[0] for b in batches])
    y_train = np.concatenate([b[1] for b in batches])
    X_test, y_test = read_batch(root / TEST_FILE)

    def where(key):
        if key.endswith("test"):
            return str(root / TEST_FILE)
        return f"{root} (data_batch_1..5)" if key.endswith("train") else str(root)

    return assemble(
        "cifar10",
        {"train": (X_train, y_train), "test": (X_test, y_test)},
        where,
        seed=seed,
        val_fraction=val_fraction,
        class_names=names,
        image_shape=(32, 32, 3),
        pixel_max=255.0,
    )
