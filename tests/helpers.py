"""What the test files share: one way to run the command line, and writers of the data formats.

The command line runs in-process through ``twolayer.cli.main`` (``run_main``, with pytest's
``capsys``) or in a child process (``run_cli``, ``cli_argv`` for ``Popen``, ``run_python`` for a
script that patches something first). The writers produce the real formats the loaders read
(CIFAR pickles, MNIST idx, CSV) and hostile variants of them (``npy_with_header``, ``bomb_list``).
"""

from __future__ import annotations

import gzip
import io
import pickle
import shlex
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import numpy as np

from twolayer.cli import main


# -- the command line ---------------------------------------------------------------------------
class Result(NamedTuple):
    code: int
    out: str
    err: str


def run_main(args, capsys):
    """``twolayer ARGS`` in this process: its exit code and what it printed."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Result(code, out, err)


def cli_argv(*args, module="twolayer.cli"):
    """The argv of ``python -m twolayer.cli ARGS`` (``module="twolayer"`` for ``python -m twolayer``)."""
    return [sys.executable, "-m", module, *map(str, args)]


def run_cli(*args, module="twolayer.cli", timeout=120, **kw):
    """``twolayer ARGS`` in a child process: a CompletedProcess with text stdout and stderr
    (captured unless ``stdout`` or ``stderr`` is given)."""
    if "stdout" not in kw and "stderr" not in kw:
        kw["capture_output"] = True
    kw.setdefault("text", True)
    return subprocess.run(cli_argv(*args, module=module), timeout=timeout, **kw)


def fill(arg, names):
    """An argument with ``{placeholders}`` filled in from a dict of named test files."""
    return arg.format(**{k: str(v) for k, v in names.items()})


def run_python(code, *args, shell=None, timeout=120, **kw):
    """``python -c CODE ARGS`` (dedented) in a child process, optionally followed by shell
    redirections (``shell=">&-"``)."""
    cmd = [sys.executable, "-c", textwrap.dedent(code), *map(str, args)]
    if shell is not None:
        cmd = ["sh", "-c", f"{shlex.join(cmd)} {shell}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


# -- data files ---------------------------------------------------------------------------------
CIFAR_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


# -- writers of the real formats ------------------------------------------------------------
class Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 str (BINSTRING), as the original cPickle'd CIFAR files hold them."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def dump_pickle(obj, path, py2=False):
    if py2:
        buf = io.BytesIO()
        Py2StylePickler(buf, protocol=2).dump(obj)
        raw = buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    else:
        raw = pickle.dumps(obj, protocol=2)
    Path(path).write_bytes(raw)


def write_cifar(root, n=6, seed=0, py2=False):
    """A cifar-10-batches-py folder of 5 + 1 batches of n images; returns (images, labels) per file."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    dump_pickle(
        {
            b"num_cases_per_batch": n,
            b"label_names": [s.encode() for s in CIFAR_NAMES],
            b"num_vis": 3072,
        },
        root / "batches.meta",
        py2,
    )
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)  # HWC
        labels = [int(v) for v in rng.integers(0, 10, n)]
        rows = images.transpose(0, 3, 1, 2).reshape(
            n, 3072
        )  # the file stores the R, G, B planes in turn
        dump_pickle(
            {
                b"batch_label": name.encode(),
                b"labels": labels,
                b"data": rows,
                b"filenames": [f"{name}_{i}.png".encode() for i in range(n)],
            },
            root / name,
            py2,
        )
        batches[name] = (images, np.array(labels))
    return batches


def idx_bytes(array):
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(root, n_train=40, n_test=12, compress=True, seed=0, names=None):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.tile(np.arange(10, dtype=np.uint8), n_train // 10 + 1)[
            :n_train
        ],
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, arr in arrays.items():
        name = (names or {}).get(name, name)
        raw = idx_bytes(arr)
        if compress:
            (root / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (root / name).write_bytes(raw)
    return arrays


def toy_arrays(n=120, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d)) + 2.0 * y[:, None]
    return X, y


def write_csv(path, X, y, header=True, label_at=None):
    label_at = X.shape[1] if label_at is None else label_at
    cols = [f"f{j}" for j in range(X.shape[1])]
    cols.insert(label_at, "label")
    with open(path, "w") as f:
        if header:
            f.write(",".join(cols) + "\n")
        for xi, yi in zip(X, y):
            cells = [repr(float(v)) for v in xi]
            cells.insert(label_at, str(int(yi)) if float(yi).is_integer() else repr(float(yi)))
            f.write(",".join(cells) + "\n")


def rows_as_set(*arrays):
    return sorted(map(bytes, np.concatenate(arrays)))


# -- hostile variants ------------------------------------------------------------------------
def npy_with_header(path, shape, dtype="<f8", payload=b"\0" * 64):
    """An .npy whose header declares ``shape`` whatever the data that follows."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    header = header.encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    raw = (
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", len(header) + pad + 1)
        + header
        + b" " * pad
        + b"\n"
    )
    Path(path).write_bytes(raw + payload)
    return path


def bomb_list(depth):
    """A list that stands for 2**depth zeros but pickles to a few hundred bytes (shared references)."""
    x = [0]
    for _ in range(depth):
        x = [x, x]
    return x
