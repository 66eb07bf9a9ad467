"""A data set's splits, and the validation split carved from training data."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError


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


def split_validation(X, y, fraction, seed, name="training set", owned=False):
    """Carve a stratified, seeded validation split from the training data. ``fraction`` is in
    (0, 1): the val_fraction setting, checked by its callers (data.load, the estimator's fit).

    A memory map is split into two new memory maps (see ``spill``), so streaming data stays on disk.
    ``owned``: X is the loader's own array (read from a file, referenced nowhere else), so the
    training rows are moved up in place (``compact``) instead of copied: the split then costs the
    validation rows, not a second copy of the data.
    """
    n_val = math.ceil(fraction * len(y))
    if n_val >= len(y):
        raise InputError(
            f"{name}: cannot carve a validation split: {len(y)} sample{'s' * (len(y) != 1)} "
            f"would leave none for training at fraction {fraction:g}"
        )
    idx_train, idx_val = stratified_split(y, n_val, seed)
    if isinstance(X, np.memmap):
        return spill(X, idx_train), y[idx_train], spill(X, idx_val), y[idx_val]
    if owned and type(X) is np.ndarray and X.flags.c_contiguous and X.flags.writeable:
        X_val = X[idx_val]
        return compact(X, idx_train), y[idx_train], X_val, y[idx_val]
    return X[idx_train], y[idx_train], X[idx_val], y[idx_val]


def compact(X, rows, block=4096):
    """X[rows] for sorted ``rows``, written over X's first rows in place and returned as a view.

    Safe in ascending order: rows[k] >= k, so a block's sources lie at or beyond the rows it
    overwrites, and each block's sources are gathered before they are written.
    """
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        X[start : start + len(part)] = X[part]
    return X[: len(rows)]


def stratified_split(y, n_test, seed):
    """Sorted row indices (train, test) with ``n_test`` test rows, drawn with a seeded Generator.

    Every class gives the test part its share of ``n_test`` (floor of count·n_test/N, the rows left
    over going to the classes with the largest remainders) and keeps at least one training row.
    When a class has a single row or there are fewer test rows than classes, the split is a plain
    random one. (NumPy only: the command line never imports scikit-learn. The rows chosen differ
    from scikit-learn's train_test_split, which twolayer used before 0.2.)
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2 or n_test < len(classes):
        test = rng.permutation(n)[:n_test]
    else:
        exact = counts * (n_test / n)
        take = np.minimum(np.floor(exact).astype(np.intp), counts - 1)
        room = counts - 1 - take
        # leftover rows: largest remainder first, ties broken by class order; only classes with room
        for c in np.argsort(-(exact - take), kind="stable"):
            if take.sum() >= n_test:
                break
            if room[c] > 0:
                take[c] += 1
                room[c] -= 1
        by_class = np.argsort(inverse, kind="stable")  # rows grouped by class, in row order
        starts = np.concatenate(([0], np.cumsum(counts)))
        test = np.concatenate(
            [
                rng.permutation(by_class[starts[c] : starts[c + 1]])[: take[c]]
                for c in range(len(classes))
            ]
        )
    mask = np.zeros(n, bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


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
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=X.dtype, shape=(len(rows), X.shape[1])
        )
    finally:
        os.unlink(tmp)
    for start in range(0, len(rows), block):
        out[start : start + block] = X[rows[start : start + block]]
    out.flush()
    return out
