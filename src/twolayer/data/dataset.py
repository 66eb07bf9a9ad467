"""A data set's splits, and the validation split carved from training data."""
from __future__ import annotations

import numbers
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, InputTypeError


@dataclass
class Dataset:
    """Splits of one data set. X arrays are 2-D (rows are examples), y arrays integer labels."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: list = field(default_factory=list)
    image_shape: tuple | None = None  # (H, W) or (H, W, 3) when rows are images
    pixel_max: float | None = None  # the largest raw pixel value, for image sets

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_classes(self):
        return len(self.class_names)


def split_validation(X, y, fraction, seed, name="training set"):
    """Carve a stratified, seeded validation split from the training data.

    A memory map is split into two new memory maps (see ``spill``), so streaming data stays on disk.
    """
    from sklearn.model_selection import train_test_split

    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise InputTypeError(f"validation fraction must be a number in (0, 1), got {fraction!r}")
    if not 0 < fraction < 1:
        raise InputError(f"validation fraction must be in (0, 1), got {fraction}")
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 and round(fraction * len(y)) >= np.count_nonzero(counts) else None
    try:
        idx_train, idx_val = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed,
                                              stratify=stratify)
    except ValueError as e:
        raise InputError(f"{name}: cannot carve a validation split ({e})") from None
    idx_train.sort()
    idx_val.sort()
    if isinstance(X, np.memmap):
        return spill(X, idx_train), y[idx_train], spill(X, idx_val), y[idx_val]
    return X[idx_train], y[idx_train], X[idx_val], y[idx_val]


def spill(X, rows, block=8192):
    """Rows of a memory map copied, block by block, into a new unlinked file mapped from disk.

    The file sits beside the source when that folder is writable (else in the temp folder) and is
    unlinked at once: the mapping keeps it alive and the OS reclaims it when the process ends.
    """
    folder = Path(X.filename).parent if getattr(X, "filename", None) else None
    if folder is None or not os.access(folder, os.W_OK):
        folder = None
    fd, tmp = tempfile.mkstemp(prefix=".twolayer-split-", suffix=".npy", dir=folder)
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=X.dtype, shape=(len(rows), X.shape[1]))
    finally:
        os.unlink(tmp)
    for start in range(0, len(rows), block):
        out[start:start + block] = X[rows[start:start + block]]
    out.flush()
    return out
