"""model.npz: the model file's format, written and read back with every field checked.

The arrays W1, b1, W2, b2 (no pickles) and a JSON ``meta``: format, version, dtype, class
names, the preprocessing's configuration (its arrays as pre_*), and what the run recorded
(data spec, image shape, settings). net.py builds the TwoLayerNet from what ``read`` returns,
so this module never imports it.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, NamedTuple

import numpy as np

from .checks import (
    check_dtype,
    check_fields,
    is_dict,
    is_int,
    is_str,
    list_of,
    native_float,
    one_of,
    optional,
)
from .data.preprocess import Preprocessor
from .errors import InputError
from .io import meta_array, read_npz, save_npz
from .settings import check_settings_dict

PARAM_NAMES = ("W1", "b1", "W2", "b2")
FORMAT = "twolayer-model"
FORMAT_VERSION = 1
# model.npz's meta (JSON): every field read back is checked against this before use
MODEL_META = {
    "format": (is_str, "a string"),
    "version": (is_int(1, FORMAT_VERSION), f"an integer in 1..{FORMAT_VERSION}"),
    "dtype": (one_of("float32", "float64"), "'float32' or 'float64'"),
    "class_names": (optional(list_of(is_str, 1)), "a list of strings or null"),
    "preprocessor": (optional(is_dict), "an object or null"),
    "data": (optional(is_str), "a data SPEC string or null"),
    "image_shape": (
        optional(list_of(is_int(1), 2, 3)),
        "a list of 2 or 3 positive integers or null",
    ),
    "settings": (optional(is_dict), "an object or null"),
}


class ModelFile(NamedTuple):
    """A model file's contents, checked: everything a TwoLayerNet is built from."""

    params: dict[str, np.ndarray]  # W1, b1, W2, b2 in ``dtype``
    dtype: np.dtype
    class_names: list[str] | None
    preprocessor: Preprocessor | None
    meta: dict[str, Any]  # the rest of the meta: data, image_shape, settings, ...


def write(
    path: str | os.PathLike[str],
    params: dict[str, np.ndarray],
    dtype: np.dtype,
    class_names: list[str] | None,
    preprocessor: Preprocessor | None,
    meta: dict[str, Any],
) -> None:
    """Write the model to an .npz (no pickles), atomically: write a temp file, then rename."""
    bad = [k for k, v in params.items() if not np.isfinite(v).all()]
    if bad:  # e.g. weights left by a diverged run: read() would refuse them, so never write them
        raise InputError(
            f"{path}: not saved: {', '.join(bad)} contain NaN or infinite values "
            f"(did training diverge? try a smaller learning rate)"
        )
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "dtype": dtype.name,
        "class_names": None if class_names is None else [str(c) for c in class_names],
        **meta,
    }
    arrays = dict(params)
    if preprocessor is not None:
        meta["preprocessor"] = preprocessor.get_config()
        arrays.update({f"pre_{k}": v for k, v in preprocessor.get_arrays().items()})
    arrays["meta"] = np.array(json.dumps(meta))
    save_npz(path, arrays)


def read(path: str | os.PathLike[str]) -> ModelFile:
    """Read a model written by write(); never unpickles anything. Every field and array is
    checked first: a damaged or foreign file is one line naming it."""
    arrays = read_npz(path, required=PARAM_NAMES + ("meta",))
    meta = read_meta(arrays["meta"], path)
    p = check_arrays({k: arrays[k] for k in PARAM_NAMES}, path)
    dtype = check_dtype(meta.get("dtype", p["W1"].dtype.name))
    params = {k: np.asarray(v, dtype=dtype) for k, v in p.items()}
    n_inputs, n_outputs = params["W1"].shape[0], params["W2"].shape[1]
    class_names = meta.pop("class_names", None)
    check_meta_fits(class_names, meta.get("image_shape"), n_inputs, n_outputs, path)
    pre = meta.pop("preprocessor", None)
    preprocessor = None
    if pre is not None:
        pre_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("pre_")}
        preprocessor = Preprocessor.from_config(pre, pre_arrays, n_inputs, path)
    for key in ("format", "version", "dtype"):
        meta.pop(key, None)
    return ModelFile(params, dtype, class_names, preprocessor, meta)


def read_meta(value: np.ndarray, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The meta object: valid JSON, our format, a version this reader knows, every field checked."""
    try:
        meta = json.loads(str(meta_array(value, path)))
    except (json.JSONDecodeError, RecursionError):
        raise InputError(f"{path}: model metadata is not valid JSON; the file is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"{path}: not a twolayer model file")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(
            f"{path}: model format version {version!r} is not a positive integer; the file is damaged"
        )
    if version > FORMAT_VERSION:  # a newer writer changed something this reader would misread
        raise InputError(
            f"{path}: model format version {version} is newer than this twolayer reads "
            f"({FORMAT_VERSION}); upgrade twolayer"
        )
    check_fields(meta, MODEL_META, f"{path}: meta")
    if meta.get("settings"):
        check_settings_dict(meta["settings"], f"{path}: meta: settings")
    return meta


def check_arrays(p: dict[str, np.ndarray], path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """W1, b1, W2, b2: floating point, finite, and shapes that fit one another."""
    for k, v in p.items():
        native = native_float(v.dtype)
        if native is None:
            raise InputError(f"{path}: array {k} has dtype {v.dtype}, expected float32 or float64")
        if native != v.dtype:  # written on a machine of the other byte order: read as ours
            p[k] = v = v.astype(native)
        if not np.isfinite(v).all():
            raise InputError(f"{path}: array {k} contains NaN or infinite values")
    if not (
        p["W1"].ndim == p["W2"].ndim == 2
        and p["b1"].shape == (p["W1"].shape[1],)
        and p["W2"].shape[0] == p["W1"].shape[1]
        and p["b2"].shape == (p["W2"].shape[1],)
    ):
        shapes = ", ".join(f"{k} {v.shape}" for k, v in p.items())
        raise InputError(f"{path}: parameter shapes do not fit together ({shapes})")
    return p


def check_meta_fits(class_names, image_shape, n_inputs, n_outputs, path):
    """The class names (one per output) and the image shape (n_inputs pixels) fit the arrays."""
    if class_names is not None and (
        not isinstance(class_names, list)
        or len(class_names) != n_outputs
        or not all(isinstance(c, str) for c in class_names)
    ):
        raise InputError(
            f"{path}: class names do not match the model's {n_outputs} outputs; the file is damaged"
        )
    if image_shape is not None and math.prod(image_shape) != n_inputs:
        raise InputError(
            f"{path}: meta: field 'image_shape' {image_shape} does not match the model's {n_inputs} "
            "inputs; the file is damaged"
        )
