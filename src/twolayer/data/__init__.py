"""Data sets: ``load(SPEC)`` returns train / validation / test splits and class names.

SPEC is ``digits`` (scikit-learn's 8×8 digits, shipped in the package; the default) or ``SCHEME:PATH``:

    cifar10:DIR   the cifar-10-batches-py folder (pickles, read by a restricted unpickler)
    mnist:DIR     the four idx files of MNIST or Fashion-MNIST, gzip or raw
    fashion-mnist:DIR  the same, with Fashion-MNIST's class names
    mnist, fashion-mnist, cifar10 (no folder): downloaded once into a cache (see fetch.py)
    npz:FILE      X_train, y_train and optionally X_val, y_val, X_test, y_test, class_names
    npy:DIR       the same names as .npy files, memory-mapped: training streams from disk
    csv:FILE      one row per example; the label is the column headed ``label``, else the last

Every loader is ``loader(path, seed=0, val_fraction=0.1) -> Dataset`` and raises InputError
naming the file and the problem. Without a validation split one is carved from the training data.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError, InputTypeError
from ..io import check_file
from ..settings import SettingError, check_setting
from .arrays import load_npy, load_npz, read_npy
from .cifar import load_cifar10
from .dataset import Dataset, spill, split_validation, stratified_split
from .fetch import SOURCES as DOWNLOADS
from .fetch import fetch as download
from .idx import load_fashion_mnist, load_mnist
from .table import load_csv, read_rows_csv

__all__ = [
    "Dataset",
    "load",
    "read_digits",
    "read_rows",
    "split_validation",
    "spill",
    "stratified_split",
    "LOADERS",
]

DIGITS_FILE = Path(__file__).with_name("digits") / "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def load_digits(seed=0, val_fraction=0.1, test_fraction=0.2):
    """The 8×8 digits (1,797 images, pixel values 0..16), split with a fixed seed."""
    # val_fraction is in (0, 1) (data.load checks it by the settings table); digits also keep a test split
    if val_fraction >= 1 - test_fraction:
        raise SettingError(
            "val_fraction",
            val_fraction,
            f"a number in (0, {1 - test_fraction:g}) for digits ({test_fraction:g} is its test split)",
        )
    X, y = read_digits()
    idx_rest, idx_test = stratified_split(y, math.ceil(test_fraction * len(y)), seed)
    X_train, y_train, X_val, y_val = split_validation(
        X[idx_rest], y[idx_rest], val_fraction / (1 - test_fraction), seed
    )
    return Dataset(
        "digits",
        X_train,
        y_train,
        X_val,
        y_val,
        X[idx_test],
        y[idx_test],
        class_names=[str(c) for c in range(10)],
        image_shape=(8, 8),
        pixel_max=16.0,
    )


def read_digits():
    """(X float64 (1797, 64), y intp) from the digits.csv.gz shipped in this package (scikit-learn's
    copy, BSD-3-Clause: see data/digits/README.md), its checksum checked first."""
    try:
        raw = DIGITS_FILE.read_bytes()
    except OSError as e:
        raise InputError(
            f"{DIGITS_FILE}: cannot read the packaged digits ({e.strerror or e})"
        ) from None
    if hashlib.sha256(raw).hexdigest() != DIGITS_SHA256:
        raise InputError(
            f"{DIGITS_FILE}: the packaged digits file is damaged (its SHA-256 differs); "
            "reinstall twolayer"
        )
    values = np.array(gzip.decompress(raw).replace(b"\n", b",").split(b",")[:-1], dtype=np.float64)
    table = values.reshape(-1, 65)  # 64 pixels, then the label
    return np.ascontiguousarray(table[:, :64]), table[:, 64].astype(np.intp)


LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "cifar10": load_cifar10,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "npz": load_npz,
    "npy": load_npy,
    "csv": load_csv,
}


def load(spec: str = "digits", seed: int = 0, val_fraction: float = 0.1) -> Dataset:
    """Load a data set by its SPEC; see the module docstring.

    ``mnist``, ``fashion-mnist`` and ``cifar10`` without a folder are downloaded once into the
    cache (see ``twolayer.data.fetch``) and read from there.
    """
    check_setting("seed", seed)
    check_setting("val_fraction", val_fraction)
    if not isinstance(spec, (str, os.PathLike)):
        raise InputTypeError(
            f"the data SPEC must be a string such as digits or csv:FILE, got {type(spec).__name__}"
        )
    scheme, _, path = str(spec).partition(":")
    if scheme not in LOADERS:
        raise InputError(
            f"unknown data source {spec!r}: the SPEC must be digits, "
            f"{', '.join(DOWNLOADS)} (downloaded) or SCHEME:PATH with SCHEME "
            f"one of {', '.join(s for s in LOADERS if s != 'digits')}"
        )
    if scheme == "digits":
        if path:
            raise InputError(f"'digits' takes no path, got {spec!r}")
        return load_digits(seed=seed, val_fraction=val_fraction)
    if not path and scheme in DOWNLOADS:
        path = download(scheme)
    return LOADERS[scheme](path, seed=seed, val_fraction=val_fraction)


def read_rows(path, note=None):
    """Rows to predict on: a 2-D .npy (no pickles) or a .csv of numbers (an optional header is skipped).

    A CSV whose header has a ``label`` column (a file written for training) loses that column;
    ``note`` (a function of one string), if given, is told so.
    """
    path = check_file(path)
    if path.suffix == ".npy":
        return read_npy(path)
    return read_rows_csv(path, note=note)
