"""Checks every loader runs on the splits it read: one InputError naming the file and the problem.

Arrays are checked in row blocks, so a memory map is never copied into RAM whole.
"""

from __future__ import annotations

from pathlib import Path

from ..checks import check_X, check_y
from ..defaults import image_shape_of, pixel_range
from ..errors import InputError
from ..io import check_file, exists, is_dir
from .dataset import Dataset, split_validation

BLOCK = 8192
SPLITS = ("train", "val", "test")


def require_file(path, scheme):
    if not str(path):
        raise InputError(f"'{scheme}' needs a file: {scheme}:FILE")
    return check_file(Path(path).expanduser())


def require_dir(path, scheme):
    if not str(path):
        raise InputError(f"'{scheme}' needs a folder: {scheme}:DIR")
    path = Path(path).expanduser()
    if not exists(path):
        raise InputError(f"{path}: folder not found")
    if not is_dir(path):
        raise InputError(f"{path}: is not a folder (the {scheme} source reads a folder)")
    return path


def check_rows(X, where):
    """A 2-D array of finite numbers with at least one row and one column."""
    if not hasattr(X, "ndim") or X.ndim != 2:
        check_X(X, name=where)  # raises with the shape
    if X.shape[1] == 0:
        raise InputError(f"{where} has 0 features")
    for start in range(0, max(len(X), 1), BLOCK):
        check_X(X[start : start + BLOCK], name=where)
    return X


def assemble(
    name,
    splits,
    where,
    *,
    seed=0,
    val_fraction=0.1,
    class_names=None,
    image_shape=None,
    pixel_max=None,
    detect_image=False,
    declared=None,
    owned=False,
):
    """Check the splits a loader read, carve a validation split if there is none, build the Dataset.

    splits: {"train": (X, y), "val": ..., "test": ...}; where(key) names the file behind
    "X_train", "y_val", ... for error messages. ``detect_image`` (user arrays): rows whose values
    are pixels (integers in 0..255 or values in [0, 1]) with a square number of features, or the
    ``declared`` image shape (checked by the caller), are images (defaults.image_shape_of).
    ``owned``: the arrays were read by the loader and are referenced nowhere else (see
    ``split_validation``).
    """
    checked = {}
    for split in SPLITS:
        if split not in splits:
            continue
        X, y = splits[split]
        X = check_rows(X, where(f"X_{split}"))
        checked[split] = (X, check_y(y, len(X), name=where(f"y_{split}")))
    X_train, y_train = checked["train"]
    for split in ("val", "test"):
        if split in checked and checked[split][0].shape[1] != X_train.shape[1]:
            raise InputError(
                f"{where(f'X_{split}')} has {checked[split][0].shape[1]} features but "
                f"{where('X_train')} has {X_train.shape[1]}"
            )
    if class_names is None:
        class_names = [str(c) for c in range(int(y_train.max()) + 1)]
        seen = f"the training labels only reach {len(class_names) - 1}"
    else:
        class_names = [str(c) for c in class_names]
        seen = f"there are {len(class_names)} classes (labels 0..{len(class_names) - 1})"
    for split, (_, y) in checked.items():
        if y.max() >= len(class_names):
            raise InputError(f"{where(f'y_{split}')} has label {y.max()} but {seen}")
    if "val" not in checked:
        Xt, yt, Xv, yv = split_validation(
            X_train, y_train, val_fraction, seed, name=where("X_train"), owned=owned
        )
        checked["train"], checked["val"] = (Xt, yt), (Xv, yv)
    (X_train, y_train), (X_val, y_val) = checked["train"], checked["val"]
    X_test, y_test = checked.get("test", (None, None))
    if detect_image and image_shape is None:  # user arrays: pixels are recognised by their values
        image_shape = image_shape_of(X_train, declared)
        pixel_max = pixel_range(X_train) if image_shape is not None else None
    return Dataset(
        name,
        X_train,
        y_train,
        X_val,
        y_val,
        X_test,
        y_test,
        class_names=class_names,
        image_shape=image_shape,
        pixel_max=pixel_max,
    )
