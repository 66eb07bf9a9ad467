"""MNIST and Fashion-MNIST: the four idx files under their standard names, gzip or raw.

An idx file is a 4-byte magic (0, 0, type code, number of dimensions), one big-endian uint32 per
dimension, then the values in row-major order.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib

import numpy as np

from ..checks import check_elements, gib, limit
from ..errors import InputError
from ..io import check_file, exists
from .validate import assemble, require_dir

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {  # role: accepted names (the second spelling is how some mirrors name them)
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def find_file(root, role):
    for name in FILES[role]:
        for candidate in (root / name, root / f"{name}.gz"):
            if exists(candidate):
                return check_file(candidate)
    return None


DEFLATE_MAX_RATIO = 1032  # deflate cannot expand one byte to more than ~1032 bytes


def read_idx(path, ndim):
    """The array stored in one idx file (gzip detected by its magic bytes), or an InputError.

    The header is read first and the data size it promises is checked (against MAX_ELEMENTS, the
    file size, and for gzip against MAX_DECOMPRESSED_BYTES and what the compressed size can
    plausibly hold) before anything else is read; a gzip stream is then decompressed to exactly
    that many bytes (plus one, to detect trailing data), never more.
    """
    path = check_file(path)
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") if gz else contextlib.nullcontext(raw) as f:
                return _read_idx(f, path, ndim, size, gz)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(f"{path}: truncated or corrupt gzip data ({e})") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None


def _read_idx(f, path, ndim, size, gz):
    dims, dtype = _read_header(f, path, ndim)
    expected = math.prod(dims) * dtype.itemsize
    if gz:
        _check_gzip_size(path, dims, expected, size)
    elif size - (4 + 4 * ndim) != expected:
        held = size - (4 + 4 * ndim)
        state = "truncated" if held < expected else "corrupt"
        raise InputError(
            f"{path}: {state} idx file: the header promises {expected:,} bytes of data "
            f"for shape {dims}, the file holds {held:,}"
        )
    data = f.read(expected)
    if len(data) < expected:
        raise InputError(
            f"{path}: truncated idx file: the header promises {expected:,} bytes of data "
            f"for shape {dims}, the file holds {len(data):,}"
        )
    if gz and f.read(1):
        raise InputError(
            f"{path}: corrupt idx file: the gzip data goes on past the {expected:,} bytes "
            f"the header promises for shape {dims}"
        )
    return np.frombuffer(data, dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _read_header(f, path, ndim):
    """The shape and element type an idx header declares, its element count checked."""
    magic = f.read(4)
    if len(magic) < 4 or magic[0] or magic[1] or magic[2] not in IDX_TYPES:
        raise InputError(f"{path}: not an idx file (bad magic number)")
    if magic[3] != ndim:
        raise InputError(f"{path}: expected a {ndim}-D idx file, got {magic[3]}-D")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise InputError(f"{path}: truncated idx file (the header is incomplete)")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = np.dtype(IDX_TYPES[magic[2]])
    check_elements(dims, path, dtype.itemsize)
    return dims, dtype


def _check_gzip_size(path, dims, expected, size):
    """Refuse a gzip file whose header promises more data than it can or plausibly should hold."""
    cap = limit("MAX_DECOMPRESSED_BYTES")
    if expected > cap:
        raise InputError(
            f"{path}: the header promises {gib(expected)} of data for shape {dims}, more than "
            f"the limit of {gib(cap)} for a gzip file (TWOLAYER_MAX_DECOMPRESSED_BYTES)"
        )
    if expected > DEFLATE_MAX_RATIO * size + 1024:
        raise InputError(
            f"{path}: truncated idx file: the header promises {gib(expected)} of data for shape "
            f"{dims}, more than a gzip file of {gib(size)} can hold"
        )
    ratio = limit("MAX_GZIP_RATIO")
    if expected > 16 * 2**20 and expected > ratio * size:
        raise InputError(
            f"{path}: the header promises {gib(expected)} of data from {gib(size)} of gzip "
            f"(over {ratio}x): not plausible image data (TWOLAYER_MAX_GZIP_RATIO)"
        )


FASHION_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def load_fashion_mnist(path, seed=0, val_fraction=0.1):
    """Fashion-MNIST: the MNIST format with Zalando's ten class names."""
    return load_mnist(
        path, seed=seed, val_fraction=val_fraction, name="fashion-mnist", class_names=FASHION_NAMES
    )


def load_mnist(path, seed=0, val_fraction=0.1, name="mnist", class_names=None):
    """Images flattened to rows of H·W pixels; labels 0..9; class names '0'..'9'."""
    root = require_dir(path, name)
    found = {role: find_file(root, role) for role in FILES}
    missing = [FILES[role][0] for role, f in found.items() if f is None]
    if missing:
        raise InputError(f"{root}: missing idx file(s) {', '.join(missing)} (raw or .gz)")
    splits, shape = {}, None
    for split in ("train", "test"):
        images = read_idx(found[f"{split}_images"], 3)
        labels = read_idx(found[f"{split}_labels"], 1)
        if len(images) != len(labels):
            raise InputError(
                f"{found[f'{split}_labels']}: {len(labels)} labels but "
                f"{found[f'{split}_images'].name} has {len(images)} images"
            )
        splits[split] = (images.reshape(len(images), int(np.prod(images.shape[1:]))), labels)
        shape = shape or tuple(images.shape[1:])
    pixel_max = 255.0 if splits["train"][0].dtype == np.uint8 else None

    def where(key):
        split = "train" if key.endswith("train") else "test"
        return str(found[f"{split}_images" if key.startswith("X") else f"{split}_labels"])

    return assemble(
        name,
        splits,
        where,
        seed=seed,
        val_fraction=val_fraction,
        class_names=list(class_names or [str(c) for c in range(10)]),
        image_shape=shape,
        pixel_max=pixel_max,
    )
