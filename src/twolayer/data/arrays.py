"""User arrays: one .npz file, or a folder of .npy files opened memory-mapped for streaming.

Both hold X_train, y_train and optionally X_val, y_val, X_test, y_test (a split's X and y come
together). Nothing is ever unpickled: object arrays are refused.
"""

from __future__ import annotations

import math
import os
import tokenize

import numpy as np

from ..checks import check_classes
from ..errors import InputError
from ..io import check_file, exists, npy_header, read_npz, read_text
from .validate import SPLITS, assemble, require_dir, require_file


def present_splits(keys, where):
    """The splits whose X and y are both present; a lone X_val or y_test is an error."""
    if "X_train" not in keys or "y_train" not in keys:
        missing = " and ".join(k for k in ("X_train", "y_train") if k not in keys)
        raise InputError(
            f"{where}: missing {missing} (expected X_train, y_train and optionally X_val, y_val, "
            f"X_test, y_test)"
        )
    splits = []
    for split in SPLITS:
        x, y = f"X_{split}", f"y_{split}"
        if (x in keys) != (y in keys):
            have, lack = (x, y) if x in keys else (y, x)
            raise InputError(f"{where}: has {have} but no {lack}")
        if x in keys:
            splits.append(split)
    return splits


def check_class_names(names, where):
    names = np.asarray(names)
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
        raise InputError(
            f"{where}: class_names must be a 1-D array of strings, got {names.dtype} {names.shape}"
        )
    check_classes(len(names), where)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]


def load_npz(path, seed=0, val_fraction=0.1):
    """Arrays from one .npz (np.savez), loaded into memory with allow_pickle=False."""

    path = require_file(path, "npz")
    arrays = read_npz(path)
    typos = [
        k
        for k in arrays
        if k[:2] in ("X_", "y_") and k not in {f"{p}_{s}" for p in "Xy" for s in SPLITS}
    ]
    if typos:
        raise InputError(
            f"{path}: unexpected array(s) {', '.join(typos)}; the names are X_train, y_train, "
            f"X_val, y_val, X_test, y_test"
        )
    splits = present_splits(arrays, path)
    names = check_class_names(arrays["class_names"], path) if "class_names" in arrays else None
    declared = None
    if "image_shape" in arrays:
        declared = check_image_shape(arrays["image_shape"], arrays["X_train"], path)
    return assemble(
        path.stem,
        {s: (arrays[f"X_{s}"], arrays[f"y_{s}"]) for s in splits},
        lambda key: f"{path}: {key}",
        seed=seed,
        val_fraction=val_fraction,
        class_names=names,
        detect_image=True,
        declared=declared,
        owned=True,  # read from the file here: the split may move its rows
    )


def check_image_shape(shape, X, where):
    """An npz's image_shape: 2 or 3 positive integers ((H, W) or (H, W, channels)) whose product
    is the number of features of X_train."""
    shape = np.asarray(shape)
    d = X.shape[1] if getattr(X, "ndim", 0) == 2 else None
    ok = (
        shape.ndim == 1
        and len(shape) in (2, 3)
        and shape.dtype.kind in "iu"
        and bool(np.all(shape > 0))
    )
    if not ok:
        raise InputError(
            f"{where}: image_shape must be 2 or 3 positive integers such as [28, 28], got "
            f"{shape.tolist() if shape.size <= 8 else shape.shape}"
        )
    if d is not None and math.prod(int(v) for v in shape) != d:
        raise InputError(
            f"{where}: image_shape {shape.tolist()} holds {math.prod(int(v) for v in shape)} "
            f"pixels but X_train has {d} features"
        )
    return tuple(int(v) for v in shape)


def read_npy(path, mmap=False):
    """One .npy, checked from its header first: a regular file, no object arrays, no truncation, no
    pickles, and (unless memory-mapped) no more than MAX_ELEMENTS numbers."""
    path = check_file(path)
    try:
        with open(path, "rb") as f:
            shape, _, dtype, _ = npy_header(f, path, os.path.getsize(path), in_memory=not mmap)
        if math.prod(shape) == 0:
            return np.empty(shape, dtype)  # an empty file cannot be memory-mapped
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except InputError:
        raise
    except (
        ValueError,
        SyntaxError,
        tokenize.TokenError,
    ) as e:  # a damaged header fails in NumPy's parser
        raise InputError(f"{path}: not a readable .npy file ({e})") from None
    except (OSError, EOFError, OverflowError, MemoryError) as e:
        raise InputError(f"{path}: cannot read ({type(e).__name__}: {e})") from None


def load_npy(path, seed=0, val_fraction=0.1):
    """X_*.npy memory-mapped (training streams minibatches from disk), y_*.npy in memory.

    An optional class_names.txt holds one name per line.
    """
    root = require_dir(path, "npy")
    keys = {p.stem for p in root.glob("*.npy")}
    splits = present_splits(keys, root)
    data = {
        s: (read_npy(root / f"X_{s}.npy", mmap=True), read_npy(root / f"y_{s}.npy")) for s in splits
    }
    names = None
    names_file = root / "class_names.txt"
    if exists(names_file):
        lines = [
            ln.strip()
            for ln in read_text(names_file, "class names").lstrip("\ufeff").splitlines()
            if ln.strip()
        ]
        names = check_class_names(lines, names_file)
    return assemble(
        root.name,
        data,
        lambda key: str(root / f"{key}.npy"),
        seed=seed,
        val_fraction=val_fraction,
        class_names=names,
        detect_image=True,
    )
