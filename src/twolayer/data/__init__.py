"""Data sets: ``load(SPEC)`` returns train / validation / test splits and class names.

SPEC is ``digits`` (scikit-learn's built-in set, the default) or ``SCHEME:PATH``:

    cifar10:DIR   the cifar-10-batches-py folder (pickles, read by a restricted unpickler)
    mnist:DIR     the four idx files of MNIST or Fashion-MNIST, gzip or raw
    npz:FILE      X_train, y_train and optionally X_val, y_val, X_test, y_test, class_names
    npy:DIR       the same names as .npy files, memory-mapped: training streams from disk
    csv:FILE      one row per example; the label is the column headed ``label``, else the last

Every loader is ``loader(path, seed=0, val_fraction=0.1) -> Dataset`` and raises InputError
naming the file and the problem. Without a validation split one is carved from the training data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

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


def split_validation(X, y, fraction, seed, name="training set"):
    """Carve a stratified, seeded validation split from the training data.

    A memory map is split into two new memory maps (see ``spill``), so streaming data stays on disk.
    """
    if not 0 < fraction < 1:
        raise InputError(f"validation fraction must be in (0, 1), got {fraction}")
    n_val = math.ceil(fraction * len(y))
    if n_val >= len(y):
        raise InputError(f"{name}: cannot carve a validation split: {len(y)} sample{'s' * (len(y) != 1)} "
                         f"would leave none for training at fraction {fraction:g}")
    idx_train, idx_val = stratified_split(y, n_val, seed)
    if isinstance(X, np.memmap):
        return spill(X, idx_train), y[idx_train], spill(X, idx_val), y[idx_val]
    return X[idx_train], y[idx_train], X[idx_val], y[idx_val]


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
        test = np.concatenate([rng.permutation(by_class[starts[c]:starts[c + 1]])[:take[c]]
                               for c in range(len(classes))])
    mask = np.zeros(n, bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def spill(X, rows, block=8192):
    """Rows of a memory map copied, block by block, into a new unlinked file mapped from disk.

    The file sits beside the source when that folder is writable (else in the temp folder) and is
    unlinked at once: the mapping keeps it alive and the OS reclaims it when the process ends.
    """
    import os
    import tempfile
    from pathlib import Path

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


def load_digits(seed=0, val_fraction=0.1, test_fraction=0.2):
    """scikit-learn's 8×8 digits (1,797 images, pixel values 0..16), split with a fixed seed."""
    if not 0 < val_fraction < 1 - test_fraction:
        raise InputError(f"validation fraction must be in (0, {1 - test_fraction:g}) for digits "
                         f"({test_fraction:g} is the test split), got {val_fraction}")
    X, y = read_digits()
    idx_rest, idx_test = stratified_split(y, math.ceil(test_fraction * len(y)), seed)
    X_train, y_train, X_val, y_val = split_validation(X[idx_rest], y[idx_rest], val_fraction / (1 - test_fraction),
                                                      seed)
    return Dataset("digits", X_train, y_train, X_val, y_val, X[idx_test], y[idx_test],
                   class_names=[str(c) for c in range(10)], image_shape=(8, 8), pixel_max=16.0)


def read_digits():
    """(X float64 (1797, 64), y intp) from the digits.csv.gz that scikit-learn ships (BSD-3-Clause),
    read directly: importing scikit-learn (and SciPy) for it would cost a second at start-up."""
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    path = Path(next(iter(spec.submodule_search_locations or [])) if spec else "", "datasets", "data",
                "digits.csv.gz")
    if not path.is_file():  # a future scikit-learn may move the file: ask it the slow way
        from sklearn.datasets import load_digits as sk_digits

        d = sk_digits()
        return d.data.astype(np.float64), d.target.astype(np.intp)
    values = np.array(gzip.decompress(path.read_bytes()).replace(b"\n", b",").split(b",")[:-1], dtype=np.float64)
    table = values.reshape(-1, 65)  # 64 pixels, then the label
    return np.ascontiguousarray(table[:, :64]), table[:, 64].astype(np.intp)


from .arrays import load_npy, load_npz, read_npy  # noqa: E402  (loaders need Dataset above)
from .cifar import load_cifar10  # noqa: E402
from .idx import load_mnist  # noqa: E402
from .table import load_csv  # noqa: E402

LOADERS = {"digits": load_digits, "cifar10": load_cifar10, "mnist": load_mnist, "npz": load_npz,
           "npy": load_npy, "csv": load_csv}


def load(spec="digits", seed=0, val_fraction=0.1):
    """Load a data set by its SPEC; see the module docstring."""
    scheme, _, path = str(spec).partition(":")
    if scheme not in LOADERS:
        raise InputError(f"unknown data source {spec!r}: the SPEC must be digits or SCHEME:PATH with SCHEME "
                         f"one of {', '.join(s for s in LOADERS if s != 'digits')}")
    if scheme == "digits":
        if path:
            raise InputError(f"'digits' takes no path, got {spec!r}")
        return load_digits(seed=seed, val_fraction=val_fraction)
    return LOADERS[scheme](path, seed=seed, val_fraction=val_fraction)


def read_rows(path):
    """Rows to predict on: a 2-D .npy (no pickles) or a .csv of numbers (an optional header is skipped)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.suffix == ".npy":
        return read_npy(path)
    try:
        with open(path) as f:
            first = f.readline()
        try:
            [float(v) for v in first.split(",")]
            skip = 0
        except ValueError:
            skip = 1
        return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a CSV of numbers ({e})") from None
