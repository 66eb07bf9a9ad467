"""Hostile and odd inputs, round two: every reader and option bounded, every failure one line.

A table of command lines, one class of hostile input per block, each run in-process through
``twolayer.cli.main``: exit 2, exactly one line ``twolayer: error: ...`` containing the given words,
no traceback, nothing new on disk that looks like a result. Then the Python API (``TwoLayerNet``,
``twolayer.data.load``, ``TwoLayerClassifier``) raising ValueError with the same words, and the cases
that must be *read correctly* rather than refused (CSV as people write it).

A SIGALRM guard turns anything that would block (a FIFO opened for reading) into a failure.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import struct
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import (
    bomb_list,
    dump_pickle,
    fill,
    idx_bytes,
    npy_with_header,
    run_main,
    write_cifar,
    write_mnist,
)

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.data import load
from twolayer.errors import InputError

D = 6
RESULT_SUFFIXES = (".npz", ".json", ".html", ".svg", ".png", ".csv", ".txt", ".npy")


@pytest.fixture(autouse=True)
def never_block():
    """A reader that blocks (a FIFO) or reads without bound (/dev/zero) fails the test instead of hanging."""

    def timeout(*_):
        raise TimeoutError("blocked for 20 s")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# -- the hostile inputs, one fixture per class, and ``hostile`` naming them all ----
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def trained(root):
    """A small data set and a run trained on it: the originals the damaged files are made from."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, D))
    y = np.arange(90) % 3
    np.savez(root / "data.npz", X_train=X, y_train=y, X_test=X[:12], y_test=y[:12])
    run = root / "run"
    assert (
        main(
            [
                "train",
                "--data",
                f"npz:{root / 'data.npz'}",
                "--epochs",
                "2",
                "--hidden",
                "8",
                "--out",
                str(run),
                "-q",
            ]
        )
        == 0
    )
    model = run / "model.npz"
    good = dict(np.load(model, allow_pickle=False))
    np.save(root / "rows.npy", X[:5])
    return SimpleNamespace(X=X, y=y, run=run, model=model, good=good)


@pytest.fixture(scope="module")
def special_files(root):
    """Paths that are not regular files: FIFOs, /dev/zero, directories, a socket, dangling links."""
    for suffix in ("npz", "csv", "npy"):
        os.mkfifo(root / f"fifo.{suffix}")
        (root / f"zero.{suffix}").symlink_to("/dev/zero")
        (root / f"dir.{suffix}").mkdir()
    (root / "fifolink.npz").symlink_to(root / "fifo.npz")
    (root / "dangling.npz").symlink_to(root / "nowhere.npz")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.npz"))
    (root / "sock.csv").symlink_to(root / "sock.npz")
    sock.close()  # the socket file stays
    os.mkfifo(root / "outfifo.txt")


@pytest.fixture(scope="module")
def special_members(root, trained):
    """Data folders (npy, MNIST, CIFAR) with one member that is a FIFO, /dev/zero or a directory."""
    X, y = trained.X, trained.y
    for name in ("npyfifo", "npyzero", "npydir", "npynames"):
        (root / name).mkdir()
        np.save(root / name / "X_train.npy", X)
        np.save(root / name / "y_train.npy", y)
    (root / "npyfifo" / "X_train.npy").unlink()
    os.mkfifo(root / "npyfifo" / "X_train.npy")
    (root / "npyzero" / "y_train.npy").unlink()
    (root / "npyzero" / "y_train.npy").symlink_to("/dev/zero")
    (root / "npydir" / "X_train.npy").unlink()
    (root / "npydir" / "X_train.npy").mkdir()
    os.mkfifo(root / "npynames" / "class_names.txt")
    write_mnist(root / "mnistfifo")
    (root / "mnistfifo" / "train-images-idx3-ubyte.gz").unlink()
    os.mkfifo(root / "mnistfifo" / "train-images-idx3-ubyte.gz")
    write_mnist(root / "mnistzero", compress=False)
    (root / "mnistzero" / "t10k-labels-idx1-ubyte").unlink()
    (root / "mnistzero" / "t10k-labels-idx1-ubyte").symlink_to("/dev/zero")
    write_cifar(root / "cifarfifo")
    (root / "cifarfifo" / "data_batch_2").unlink()
    os.mkfifo(root / "cifarfifo" / "data_batch_2")
    write_cifar(root / "cifardir")
    (root / "cifardir" / "batches.meta").unlink()
    (root / "cifardir" / "batches.meta").mkdir()


@pytest.fixture(scope="module")
def special_run_files(root, trained):
    """Run folders whose checkpoint, config, metrics or history is a FIFO."""
    for name, target in (("runfifo", "checkpoint.npz"), ("runcfgfifo", "config.json")):
        shutil.copytree(trained.run, root / name)
        (root / name / target).unlink()
        os.mkfifo(root / name / target)
    (root / "reportfifo").mkdir()
    os.mkfifo(root / "reportfifo" / "metrics.json")
    shutil.copytree(trained.run, root / "histfifo")
    (root / "histfifo" / "loss.png").unlink()
    (root / "histfifo" / "history.csv").unlink()
    os.mkfifo(root / "histfifo" / "history.csv")


@pytest.fixture(scope="module")
def bombs(root):
    """The folder of resource bombs: small files that promise (or unpack to) far too much."""
    folder = root / "bombs"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def array_bombs(bombs, trained):
    """.npy and .npz files whose headers declare enormous or overflowing shapes; a real zip bomb."""
    X, y = trained.X, trained.y
    for name, shape in (
        ("huge", (10**12, 10**12)),
        ("overflow", (2**62, 2**62, 16)),
        ("long", (10**9, D)),
    ):
        folder = bombs / f"npy{name}"
        folder.mkdir()
        np.save(folder / "X_train.npy", X)
        npy_with_header(folder / "y_train.npy", shape[:1] if name != "overflow" else shape, "<i8")
        folder = bombs / f"npyx{name}"
        folder.mkdir()
        npy_with_header(folder / "X_train.npy", shape)
        np.save(folder / "y_train.npy", y)
    npy_with_header(bombs / "predict_huge.npy", (10**10, D))
    npy_with_header(bombs / "predict_overflow.npy", (2**40, 2**40, 2**40))
    member = bombs / "member.npy"
    npy_with_header(member, (10**11, D))
    with zipfile.ZipFile(bombs / "npzmember.npz", "w") as z:
        z.write(member, "X_train.npy")
        z.writestr("y_train.npy", (bombs / "npyhuge" / "y_train.npy").read_bytes())
    with zipfile.ZipFile(bombs / "npzmodel.npz", "w") as z:
        for k, v in trained.good.items():
            if k == "W1":
                z.write(npy_with_header(bombs / "w1.npy", (2**40, 8)), "W1.npy")
            else:
                with z.open(f"{k}.npy", "w") as f:
                    np.lib.format.write_array(f, v)
    np.savez_compressed(
        bombs / "zeros.npz", X_train=np.zeros((400_000, 16)), y_train=np.zeros(400_000, np.int64)
    )


@pytest.fixture(scope="module")
def idx_bombs(bombs):
    """MNIST idx files whose dimensions promise gigabytes, or whose gzip unpacks far beyond them."""
    for name, dims, data in (
        ("dims", (2**31, 2**31, 2**31), b""),
        ("short", (60000, 28, 28), b"\0" * 100),
        ("overflowdims", (2**32 - 1,) * 3, b""),
    ):
        folder = bombs / f"mnist{name}"
        write_mnist(folder, compress=False)
        head = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">3I", *dims)
        (folder / "train-images-idx3-ubyte").write_bytes(head + data)
    folder = bombs / "mnistgzbomb"
    write_mnist(folder)
    head = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(
        ">3I", 2_000_000, 28, 28
    )  # 1.5 GB promised
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(head + b"\0" * 2**20))
    folder = bombs / "mnistgzratio"
    write_mnist(folder)
    head = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">3I", 40_000, 28, 28)  # 31 MB of zeros
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(head + b"\0" * (40_000 * 784), 9)
    )
    folder = bombs / "mnistgztrailing"
    write_mnist(folder)
    raw = idx_bytes(np.zeros((40, 28, 28), np.uint8))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw + b"\0" * 10**7))


@pytest.fixture(scope="module")
def pickle_bombs(bombs):
    """CIFAR pickles of a few hundred bytes whose shared references stand for 2**80 items."""
    for name, key, value in (
        ("labels", b"labels", bomb_list(80)),
        ("data", b"data", bomb_list(80)),
        ("names", b"label_names", bomb_list(80)),
    ):
        folder = bombs / f"cifar{name}"
        write_cifar(folder)
        target = folder / ("batches.meta" if name == "names" else "data_batch_1")
        d = {
            b"labels": [0] * 6,
            b"data": np.zeros((6, 3072), np.uint8),
            b"label_names": [b"a"] * 10,
        }
        d[key] = value
        dump_pickle(d, target)
        assert target.stat().st_size < 20_000


@pytest.fixture(scope="module")
def label_bombs(bombs, trained):
    """Labels that would make a huge one-hot (1e12, uint64 max, 40,000 ids), many names, wide rows."""
    X, y = trained.X, trained.y
    ids = np.arange(40_000)
    with open(bombs / "ids.csv", "w") as f:
        f.write("a,b,id\n" + "".join(f"{i % 7},{i % 5},{i}\n" for i in ids))
    with open(bombs / "ids30.csv", "w") as f:
        f.write("a,b,id\n" + "".join(f"{i % 7},{i % 5},{1000 + i}\n" for i in range(30)))
    with open(bombs / "label1e12.csv", "w") as f:
        f.write("a,b,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)) + "1,2,1e12\n")
    with open(bombs / "labelbig.csv", "w") as f:
        f.write("a,b,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)) + "1,2,1e300\n")
    y_max = y.astype(np.uint64)
    y_max[y == 2] = np.iinfo(
        np.uint64
    ).max  # not np.where: NumPy < 2 would promote to float64 on the way
    np.savez(bombs / "uint64max.npz", X_train=X, y_train=y_max)
    np.savez(bombs / "int64min.npz", X_train=X, y_train=np.where(y == 2, np.iinfo(np.int64).min, y))
    np.savez(bombs / "label1e12.npz", X_train=X, y_train=np.where(y == 2, 10**12, y))
    np.savez(
        bombs / "manynames.npz",
        X_train=X,
        y_train=y,
        class_names=np.array([f"c{i}" for i in range(20_001)]),
    )
    np.savez(bombs / "wide.npz", X_train=np.zeros((3, 200_000)), y_train=np.arange(3))


@pytest.fixture(scope="module")
def odd_dtypes(root, trained):
    """Features and labels of every dtype that is not a number: complex, dates, bytes, records."""
    X, y = trained.X, trained.y
    dt = root / "dtypes"
    dt.mkdir()
    Xs = {
        "complex": X + 1j,
        "timedelta": (X * 100).astype("m8[s]"),
        "datetime": (X * 100).astype("i8").astype("M8[s]"),
        "bytes": X.astype("S8"),
        "str": X.astype("U8"),
        "void": np.zeros((90, D), "V8"),
        "structured": np.zeros((90, D), [("a", "f8")]),
    }
    for kind, Xk in Xs.items():
        np.savez(dt / f"X{kind}.npz", X_train=Xk, y_train=y)
        np.save(dt / f"rows{kind}.npy", Xk[:5])
    for kind, yk in (
        ("complex", y + 0j),
        ("timedelta", y.astype("m8[s]")),
        ("datetime", y.astype("M8[D]")),
        ("bytes", y.astype("S1")),
        ("str", y.astype("U1")),
        ("bool", y.astype(bool)),
        ("void", np.zeros(90, "V4")),
    ):
        np.savez(dt / f"y{kind}.npz", X_train=X, y_train=yk)
    np.save(dt / "ycomplex_npy.npy", y + 0j)
    (dt / "npyc").mkdir()
    np.save(dt / "npyc" / "X_train.npy", X + 1j)
    np.save(dt / "npyc" / "y_train.npy", y)
    return dt


@pytest.fixture(scope="module")
def refused_csv(root):
    """CSV as people write it that cannot be read as numbers: refused, with the reason."""
    cs = root / "csv"
    cs.mkdir()
    (cs / "decimalcomma.csv").write_text(
        "a;b;label\n" + "".join(f"{i},5;{i},25;{i % 2}\n" for i in range(20))
    )
    (cs / "ragged.csv").write_text("a;b;label\n1;2;0\n3;4\n5;6;1\n")
    (cs / "textfeature.csv").write_text("a\tb\tlabel\n1\t2\t0\n3\tx\t1\n")
    (cs / "onecolumn.csv").write_text("label\n0\n1\n")
    (cs / "empty.csv").write_text("")
    (cs / "bomonly.csv").write_bytes(b"\xef\xbb\xbf")
    (cs / "headeronly.csv").write_text("a,b,label\n")
    (cs / "latin1.csv").write_bytes("a,b,label\n1,2,caf\xe9\n".encode("latin1"))
    (cs / "unterminated.csv").write_text('a,b,label\n1,2,"0\n3,4,1\n')
    (cs / "predict_semicolon_text.csv").write_text("\ufeff" + "a;b;c;d;e;f\n1;2;3;4;5;x\n")
    (cs / "predict_header_only.csv").write_text("a;b;c;d;e;f\n")
    return cs


@pytest.fixture(scope="module")
def non_finite(root, trained):
    """Finite files whose values overflow on the way (1e300 rows, X * 1e307, beyond float32)."""
    X, y = trained.X, trained.y
    nf = root / "nonfinite"
    nf.mkdir()
    huge = X[:5].copy()
    huge[3] = 1e300
    np.save(nf / "huge_row3.npy", huge)
    np.savez(
        nf / "hugetest.npz",
        X_train=X,
        y_train=y,
        X_test=np.where(np.arange(12)[:, None] == 7, 1e300, X[:12]),
        y_test=y[:12],
    )
    np.savez(nf / "overflow.npz", X_train=X * 1e307, y_train=y)
    np.savez(nf / "over32.npz", X_train=np.where(np.arange(90)[:, None] == 5, 1e39, X), y_train=y)
    np.savez(
        nf / "hugeval.npz",
        X_train=X,
        y_train=y,
        X_val=np.where(np.arange(12)[:, None] == 2, -1e300, X[:12]),
        y_val=y[:12],
    )
    (nf / "huge_row2.csv").write_text(
        "a,b,c,d,e,f\n"
        + "\n".join(",".join(["1e300" if i == 2 else "0.5"] * D) for i in range(4))
        + "\n"
    )
    return nf


@pytest.fixture(scope="module")
def md(root):
    """The folder of damaged metadata: model files, run folders and checkpoints."""
    folder = root / "meta"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def damaged_models(md, trained):
    """model.npz files whose meta (JSON) or preprocessing arrays are damaged, one field at a time."""
    good = trained.good
    meta = json.loads(str(good["meta"]))

    def model_with(name, **changes):
        m = dict(meta)
        for k, v in changes.items():
            if v is KeyError:
                m.pop(k, None)
            else:
                m[k] = v
        np.savez(md / f"{name}.npz", **{**good, "meta": np.array(json.dumps(m))})

    model_with("dtype5", dtype=5)
    model_with("dtypeint", dtype="int8")
    model_with("namesstr", class_names="abc")
    model_with("namesint", class_names=[1, 2, 3])
    model_with("version", version="1")
    model_with("imageshape0", image_shape=[0, 0])
    model_with("imageshapewrong", image_shape=[5, 5])
    model_with("prestr", preprocessor="standardize")
    model_with("premode", preprocessor={"mode": "whiten"})
    model_with("premax", preprocessor={"mode": "scale", "pixel_max": "x"})
    model_with("settingsstr", settings="fast")
    train = meta["settings"]["train"]
    model_with("settingsseed", settings={**meta["settings"], "train": {**train, "seed": -1}})
    model_with("settingsvf", settings={**meta["settings"], "val_fraction": "0.1"})
    model_with("settingsreg", settings={**meta["settings"], "train": {**train, "reg": "x"}})
    model_with("datanum", data=7)
    np.savez(md / "metalist.npz", **{**good, "meta": np.array(json.dumps([1, 2]))})
    np.savez(md / "metadeep.npz", **{**good, "meta": np.array("[" * 100_000 + "]" * 100_000)})
    np.savez(md / "metaempty.npz", **{**good, "meta": np.array("")})
    np.savez(md / "precomplex.npz", **{**good, "pre_offset": good["pre_offset"] + 1j})


@pytest.fixture(scope="module")
def damaged_runs(md, trained):
    """Run folders whose config.json, metrics.json or history.csv is damaged."""
    run = trained.run

    def run_with(name, **files):
        d = md / name
        shutil.copytree(run, d)
        for fname, content in files.items():
            fname = fname.replace("_", ".", 1) if fname != "history_csv" else "history.csv"
            (d / fname).write_text(content)
        return d

    cfg = json.loads((run / "config.json").read_text())
    run_with("cfgempty", config_json="")
    run_with("cfglist", config_json="[1, 2]")
    run_with("cfghidden", config_json=json.dumps({**cfg, "hidden_size": "8"}))
    run_with(
        "cfgbatch", config_json=json.dumps({**cfg, "train": {**cfg["train"], "batch_size": 0}})
    )
    run_with("cfgtrain", config_json=json.dumps({**cfg, "train": [1]}))
    run_with("cfgunknown", config_json=json.dumps({**cfg, "colour": "red", "dtype": "float16"}))
    run_with("cfgnan", config_json=json.dumps({**cfg, "val_fraction": float("nan")}))
    mets = json.loads((run / "metrics.json").read_text())
    run_with("metempty", metrics_json="")
    run_with("metlist", metrics_json="[]")
    run_with("metacc", metrics_json=json.dumps({**mets, "test_accuracy": "high"}))
    run_with("metepochs", metrics_json=json.dumps({**mets, "epochs": -1}))
    run_with("metbig", metrics_json=json.dumps({**mets, "val_accuracy": 7}))
    for name, text in (
        ("histempty", ""),
        ("histepoch", "epoch,loss,train_acc,val_acc,lr,seconds\nx,1,1,1,1,1\n"),
        ("histloss", "epoch,loss,train_acc,val_acc,lr,seconds\n1,abc,1,1,1,1\n"),
        ("histnoepoch", "loss,train_acc\n1,1\n"),
        ("histragged", "epoch,loss,train_acc,val_acc,lr,seconds\n1,1\n"),
    ):
        d = run_with(name, history_csv=text)
        (d / "loss.png").unlink()  # so that report redraws the pictures from history.csv


@pytest.fixture(scope="module")
def damaged_checkpoints(md, trained):
    """Run folders whose checkpoint.npz has a damaged state (JSON) or damaged arrays."""
    ck = dict(np.load(trained.run / "checkpoint.npz", allow_pickle=False))
    state = json.loads(str(ck["state"]))

    def ckpt_with(name, arrays=None, **changes):
        d = md / name
        shutil.copytree(trained.run, d)
        s = {**state, **changes}
        for k, v in changes.items():
            if v is KeyError:
                s.pop(k)
        np.savez(d / "checkpoint.npz", **{**ck, "state": np.array(json.dumps(s)), **(arrays or {})})

    ckpt_with("ckepoch", epoch="3")
    ckpt_with("ckbest", best=[1])
    ckpt_with("ckrng", rng={})
    ckpt_with("ckhistory", history={"loss": "x"})
    ckpt_with("ckmissing", opt_t=KeyError)
    ckpt_with("ckstatelist", arrays={"state": np.array("[]")})
    ckpt_with("ckshape", arrays={"param_b1": np.zeros(1)})
    ckpt_with("ckoptshape", arrays={k: np.zeros(1) for k in ck if k.startswith("opt_")})
    ckpt_with("ckcomplex", arrays={"param_W2": ck["param_W2"] + 1j})
    ckpt_with("cknan", arrays={"param_W1": np.full_like(ck["param_W1"], np.nan)})
    ckpt_with("ckstatejson", arrays={"state": np.array("{")})
    ckpt_with("cknegstep", step_count=-5)


@pytest.fixture(scope="module")
def hostile(
    root,
    trained,
    special_files,
    special_members,
    special_run_files,
    bombs,
    array_bombs,
    idx_bombs,
    pickle_bombs,
    label_bombs,
    odd_dtypes,
    refused_csv,
    non_finite,
    md,
    damaged_models,
    damaged_runs,
    damaged_checkpoints,
):
    """Every hostile input by name: the keys the tables' ``{placeholders}`` are filled from."""
    return {
        **{p.stem: p for p in root.iterdir()},
        "root": root,
        "model": trained.model,
        "run": trained.run,
        "bombs": bombs,
        "dt": odd_dtypes,
        "csv": refused_csv,
        "nf": non_finite,
        "md": md,
        "data": f"npz:{root / 'data.npz'}",
    }


NOT_FILES = [
    # model given as something that is not a regular file
    (["evaluate", "{root}/fifo.npz", "--data", "{data}"], "is a FIFO, not a file"),
    (["evaluate", "{root}/fifolink.npz", "--data", "{data}"], "is a FIFO, not a file"),
    (["evaluate", "{root}/zero.npz", "--data", "{data}"], "is a character device, not a file"),
    (["evaluate", "/dev/zero", "--data", "{data}"], "is a character device"),
    (["evaluate", "{root}/sock.npz", "--data", "{data}"], "is a socket, not a file"),
    (["evaluate", "{root}/dir.npz", "--data", "{data}"], "is a directory, not a file"),
    (["evaluate", "{root}/dangling.npz", "--data", "{data}"], "file not found"),
    (["predict", "{root}/fifo.npz", "{root}/rows.npy"], "is a FIFO"),
    (["predict", "/dev/null", "{root}/rows.npy"], "is a character device"),
    (["diagram", "--model", "{root}/fifo.npz", "--out", "{root}/d.svg"], "is a FIFO"),
    (["diagram", "--model", "{root}/zero.npz", "--out", "{root}/d.svg"], "is a character device"),
    # data files and members of data folders
    (["train", "--data", "npz:{root}/fifo.npz", "--out", "{root}/o1"], "is a FIFO, not a file"),
    (["train", "--data", "npz:{root}/zero.npz", "--out", "{root}/o1"], "is a character device"),
    (["train", "--data", "npz:/dev/zero", "--out", "{root}/o1"], "is a character device"),
    (["train", "--data", "csv:{root}/fifo.csv", "--out", "{root}/o1"], "is a FIFO"),
    (["train", "--data", "csv:{root}/zero.csv", "--out", "{root}/o1"], "is a character device"),
    (["train", "--data", "csv:{root}/dir.csv", "--out", "{root}/o1"], "is a directory"),
    (["train", "--data", "csv:{root}/sock.csv", "--out", "{root}/o1"], "is a socket"),
    (["train", "--data", "csv:/dev/stdin", "--out", "{root}/o1"], "not a file"),
    (["train", "--data", "npy:{root}/npyfifo", "--out", "{root}/o1"], "X_train.npy: is a FIFO"),
    (
        ["train", "--data", "npy:{root}/npyzero", "--out", "{root}/o1"],
        "y_train.npy: is a character device",
    ),
    (["train", "--data", "npy:{root}/npydir", "--out", "{root}/o1"], "X_train.npy: is a directory"),
    (
        ["train", "--data", "npy:{root}/npynames", "--out", "{root}/o1"],
        "class_names.txt: is a FIFO",
    ),
    (["train", "--data", "mnist:{root}/mnistfifo", "--out", "{root}/o1"], "is a FIFO"),
    (["train", "--data", "mnist:{root}/mnistzero", "--out", "{root}/o1"], "is a character device"),
    (
        ["train", "--data", "cifar10:{root}/cifarfifo", "--out", "{root}/o1"],
        "data_batch_2: is a FIFO",
    ),
    (
        ["train", "--data", "cifar10:{root}/cifardir", "--out", "{root}/o1"],
        "batches.meta: is a directory",
    ),
    (["evaluate", "{model}", "--data", "csv:{root}/fifo.csv"], "is a FIFO"),
    (["diagram", "--data", "npz:{root}/fifo.npz", "--out", "{root}/d.svg"], "is a FIFO"),
    (["tune", "--data", "npz:{root}/fifo.npz", "--out", "{root}/t1", "--trials", "1"], "is a FIFO"),
    # predict input and output
    (["predict", "{model}", "{root}/fifo.npy"], "is a FIFO"),
    (["predict", "{model}", "{root}/fifo.csv"], "is a FIFO"),
    (["predict", "{model}", "{root}/zero.npy"], "is a character device"),
    (["predict", "{model}", "{root}/zero.csv"], "is a character device"),
    (["predict", "{model}", "/dev/zero"], "is a character device"),
    (["predict", "{model}", "{root}/dir.npy"], "is a directory"),
    (["predict", "{model}", "{root}/sock.csv"], "is a socket"),
    (["predict", "{model}", "{root}/rows.npy", "--out", "{root}/outfifo.txt"], "is a FIFO"),
    # run files: checkpoint, config, metrics, history
    (
        ["train", "--out", "{root}/runfifo", "--resume", "--epochs", "3", "-q"],
        "checkpoint.npz: is a FIFO",
    ),
    (
        ["train", "--out", "{root}/runcfgfifo", "--resume", "--epochs", "3", "-q"],
        "config.json: is a FIFO",
    ),
    (["report", "{root}/reportfifo"], "metrics.json: is a FIFO"),
    (["report", "{root}/histfifo"], "history.csv: is a FIFO"),
]

BOMBS = [
    (["train", "--data", "npy:{bombs}/npyhuge", "--out", "{root}/o2"], "y_train.npy"),
    (["train", "--data", "npy:{bombs}/npyoverflow", "--out", "{root}/o2"], "TWOLAYER_MAX_ELEMENTS"),
    (["train", "--data", "npy:{bombs}/npylong", "--out", "{root}/o2"], "truncated"),
    (["train", "--data", "npy:{bombs}/npyxhuge", "--out", "{root}/o2"], "truncated"),
    (["train", "--data", "npy:{bombs}/npyxoverflow", "--out", "{root}/o2"], "truncated"),
    (["train", "--data", "npy:{bombs}/npyxlong", "--out", "{root}/o2"], "truncated"),
    (["predict", "{model}", "{bombs}/predict_huge.npy"], "predict_huge.npy"),
    (["predict", "{model}", "{bombs}/predict_overflow.npy"], "TWOLAYER_MAX_ELEMENTS"),
    (["train", "--data", "npz:{bombs}/npzmember.npz", "--out", "{root}/o2"], "X_train"),
    (["evaluate", "{bombs}/npzmodel.npz", "--data", "{data}"], "W1"),
    (["train", "--data", "mnist:{bombs}/mnistdims", "--out", "{root}/o2"], "TWOLAYER_MAX_ELEMENTS"),
    (
        ["train", "--data", "mnist:{bombs}/mnistoverflowdims", "--out", "{root}/o2"],
        "TWOLAYER_MAX_ELEMENTS",
    ),
    (["train", "--data", "mnist:{bombs}/mnistshort", "--out", "{root}/o2"], "truncated idx file"),
    (
        ["train", "--data", "mnist:{bombs}/mnistgzbomb", "--out", "{root}/o2"],
        "TWOLAYER_MAX_DECOMPRESSED_BYTES",
    ),
    (["train", "--data", "mnist:{bombs}/mnistgzratio", "--out", "{root}/o2"], "not plausible"),
    (["train", "--data", "mnist:{bombs}/mnistgztrailing", "--out", "{root}/o2"], "goes on past"),
    (
        ["train", "--data", "cifar10:{bombs}/cifarlabels", "--out", "{root}/o2"],
        "flat list of integers",
    ),
    (
        ["train", "--data", "cifar10:{bombs}/cifardata", "--out", "{root}/o2"],
        "'data' must be a uint8 array",
    ),
    (["train", "--data", "cifar10:{bombs}/cifarnames", "--out", "{root}/o2"], "label_names"),
    (
        ["train", "--data", "csv:{bombs}/ids.csv", "--out", "{root}/o2"],
        "40,000 distinct labels in column 'id'",
    ),
    (
        ["train", "--data", "csv:{bombs}/ids30.csv", "--out", "{root}/o2"],
        "is that the label column?",
    ),
    (["train", "--data", "csv:{bombs}/label1e12.csv", "--out", "{root}/o2"], "label 1e+12"),
    (["train", "--data", "csv:{bombs}/labelbig.csv", "--out", "{root}/o2"], "label 1e+300"),
    (
        ["train", "--data", "npz:{bombs}/uint64max.npz", "--out", "{root}/o2"],
        "18446744073709551615",
    ),
    (["train", "--data", "npz:{bombs}/int64min.npz", "--out", "{root}/o2"], "-9223372036854775808"),
    (["train", "--data", "npz:{bombs}/label1e12.npz", "--out", "{root}/o2"], "1000000000000"),
    (["train", "--data", "npz:{bombs}/manynames.npz", "--out", "{root}/o2"], "20,001 classes"),
    (
        ["train", "--hidden", "1000000000", "--out", "{root}/o2"],
        "hidden 1000000000 needs 238 GiB for W1",
    ),
    (["train", "--hidden", str(10**30), "--out", "{root}/o2"], "--hidden must be"),
    (
        ["train", "--data", "npz:{bombs}/wide.npz", "--hidden", "20000", "--out", "{root}/o2"],
        "GiB for W1",
    ),
    (
        ["diagram", "--hidden", "1000000000", "--out", "{root}/d.svg"],
        "hidden 1000000000 needs 238 GiB",
    ),
    (
        ["tune", "--data", "npz:{bombs}/npyhuge.npz", "--out", "{root}/t2", "--trials", "1"],
        "file not found",
    ),
]

DTYPES = [
    *[
        (
            ["train", "--data", f"npz:{{dt}}/X{kind}.npz", "--out", "{root}/o3"],
            "X_train must hold numbers",
        )
        for kind in ("complex", "timedelta", "datetime", "bytes", "str", "void", "structured")
    ],
    *[
        (
            ["train", "--data", f"npz:{{dt}}/y{kind}.npz", "--out", "{root}/o3"],
            "must hold integer class labels",
        )
        for kind in ("complex", "timedelta", "datetime", "bytes", "str", "bool", "void")
    ],
    *[
        (["predict", "{model}", f"{{dt}}/rows{kind}.npy"], "must hold numbers")
        for kind in ("complex", "timedelta", "datetime", "bytes", "str", "void", "structured")
    ],
    (["train", "--data", "npy:{dt}/npyc", "--out", "{root}/o3"], "complex128"),
    (["evaluate", "{model}", "--data", "npz:{dt}/Xcomplex.npz"], "Complex data not supported"),
    (["diagram", "--data", "npz:{dt}/Xtimedelta.npz", "--out", "{root}/d.svg"], "timedelta64"),
    (
        ["evaluate", "{md}/precomplex.npz", "--data", "{data}"],
        "preprocessing array offset has dtype complex128",
    ),
]

CSV_REFUSED = [
    (
        ["train", "--data", "csv:{csv}/decimalcomma.csv", "--out", "{root}/o4"],
        "delimiter: semicolon ';'",
    ),
    (["train", "--data", "csv:{csv}/decimalcomma.csv", "--out", "{root}/o4"], "'0,5'"),
    (
        ["train", "--data", "csv:{csv}/ragged.csv", "--out", "{root}/o4"],
        "line 3 has 2 columns, expected 3",
    ),
    (["train", "--data", "csv:{csv}/textfeature.csv", "--out", "{root}/o4"], "delimiter: tab"),
    (
        ["train", "--data", "csv:{csv}/textfeature.csv", "--out", "{root}/o4"],
        "line 3, column 2 ('b')",
    ),
    (
        ["train", "--data", "csv:{csv}/onecolumn.csv", "--out", "{root}/o4"],
        "at least one feature column",
    ),
    (["train", "--data", "csv:{csv}/empty.csv", "--out", "{root}/o4"], "empty file"),
    (["train", "--data", "csv:{csv}/bomonly.csv", "--out", "{root}/o4"], "empty file"),
    (["train", "--data", "csv:{csv}/headeronly.csv", "--out", "{root}/o4"], "headeronly.csv"),
    (["train", "--data", "csv:{csv}/latin1.csv", "--out", "{root}/o4"], "not UTF-8"),
    (["train", "--data", "csv:{csv}/unterminated.csv", "--out", "{root}/o4"], "unterminated.csv"),
    (["predict", "{model}", "{csv}/predict_semicolon_text.csv"], "delimiter: semicolon ';'"),
    (["predict", "{model}", "{csv}/predict_header_only.csv"], "no rows after the header"),
    (["predict", "{model}", "{csv}/latin1.csv"], "not UTF-8"),
]

NON_FINITE = [
    (["predict", "{model}", "{nf}/huge_row3.npy"], "row 3 gives non-finite class scores"),
    (
        ["evaluate", "{model}", "--data", "npz:{nf}/hugetest.npz"],
        "row 7 gives non-finite class scores",
    ),
    (
        [
            "train",
            "--data",
            "npz:{nf}/overflow.npz",
            "--preprocess",
            "none",
            "--out",
            "{root}/o5",
            "-q",
        ],
        "values up to 4e307: scale them, e.g. --preprocess standardize",
    ),
    (["predict", "{model}", "{nf}/huge_row2.csv"], "row 2 gives non-finite class scores"),
    (
        ["evaluate", "{model}", "--data", "npz:{nf}/hugeval.npz"],
        "row 2 gives non-finite class scores",
    ),
    (
        [
            "train",
            "--data",
            "npz:{nf}/over32.npz",
            "--preprocess",
            "none",
            "--out",
            "{root}/o5",
            "-q",
        ],
        "values up to 1e39: scale them",
    ),
    (
        [
            "train",
            "--data",
            "npz:{nf}/overflow.npz",
            "--preprocess",
            "scale",
            "--out",
            "{root}/o5",
            "-q",
        ],
        "values up to 4e307: scale them",
    ),
    (
        [
            "train",
            "--data",
            "npz:{nf}/overflow.npz",
            "--preprocess",
            "none",
            "--dtype",
            "float64",
            "--optimizer",
            "sgd",
            "--out",
            "{root}/o6",
            "-q",
        ],
        "scale them",
    ),
    # with the progress bar (no -q): it is erased, and no blank line is left above the error
    (
        ["train", "--data", "npz:{nf}/overflow.npz", "--preprocess", "none", "--out", "{root}/o5b"],
        "scale them",
    ),
    (
        ["train", "--data", "npz:{nf}/over32.npz", "--preprocess", "none", "--out", "{root}/o5c"],
        "values up to 1e39",
    ),
]

BIG = str(2**64)
OPTIONS = [
    *[
        (["train", "--seed", v, "--out", "{root}/o7"], "seed must be an integer in 0..4294967295")
        for v in ("-1", str(2**32), BIG)
    ],
    *[
        (
            ["evaluate", "{model}", "--data", "{data}", "--seed", v],
            "seed must be an integer in 0..4294967295",
        )
        for v in ("-1", str(2**32), BIG)
    ],
    *[(["diagram", "--seed", v, "--out", "{root}/d.svg"], "seed") for v in ("-1", str(2**32), BIG)],
    *[
        (["gradcheck", "--seed", v], "seed must be an integer in 0..4294967295")
        for v in ("-1", str(2**32), BIG)
    ],
    *[
        (["tune", "--seed", v, "--out", "{root}/t3"], "--seed must be an integer in 0..4294967295")
        for v in ("-1", str(2**32), BIG)
    ],
    *[
        (["tune", "--heartbeat", v, "--out", "{root}/t3"], "--heartbeat")
        for v in ("0", "-5", str(10**12), BIG)
    ],
    *[
        (["tune", "--timeout", v, "--out", "{root}/t3"], "--timeout")
        for v in ("0", "-1", "inf", "nan", "1e300")
    ],
    *[
        (["tune", "--trials", v, "--out", "{root}/t3"], "--trials")
        for v in ("0", "-1", str(10**12), BIG)
    ],
    *[
        (["tune", "--n-jobs", v, "--out", "{root}/t3"], "--n-jobs")
        for v in ("0", "-2", str(10**6), BIG)
    ],
    (["tune", "--epochs", str(10**12), "--out", "{root}/t3"], "epochs"),
    *[
        (["diagram", "--batch", v, "--out", "{root}/d.svg"], "batch")
        for v in ("0", "-1", str(10**9), BIG)
    ],
    *[
        (["train", "--batch-size", v, "--out", "{root}/o7"], "batch-size")
        for v in ("0", str(10**12), BIG)
    ],
    *[(["train", "--epochs", v, "--out", "{root}/o7"], "epochs") for v in ("0", str(10**12), BIG)],
    (["train", "--warmup", str(10**12), "--out", "{root}/o7"], "warmup"),
    (["train", "--patience", BIG, "--out", "{root}/o7"], "patience"),
    *[
        (["train", "--lr", v, "--out", "{root}/o7"], "--lr must be")
        for v in ("inf", "-inf", "1e400", "-0")
    ],
    *[
        (["train", "--reg", v, "--out", "{root}/o7"], "reg")
        for v in ("inf", "nan", "1e999", "-1e-300")
    ],
    *[
        (["train", "--val-fraction", v, "--data", "{data}", "--out", "{root}/o7"], "--val-fraction")
        for v in ("nan", "inf", "0", "1")
    ],
    (["train", "--momentum", "nan", "--out", "{root}/o7"], "momentum"),
    (["train", "--lr-decay", "inf", "--out", "{root}/o7"], "lr-decay"),
    (["train", "--hidden", "0", "--out", "{root}/o7"], "hidden"),
    (["train", "--hidden", BIG, "--out", "{root}/o7"], "hidden"),
    *[(["gradcheck", "--reg", v], "reg") for v in ("nan", "inf", "-1")],
    *[(["gradcheck", "--threshold", v], "threshold") for v in ("nan", "inf")],
    (["diagram", "--reg", "inf", "--out", "{root}/d.svg"], "reg"),
    (["diagram", "--hidden", "0", "--out", "{root}/d.svg"], "hidden"),
]

METADATA = [
    *[
        (["evaluate", f"{{md}}/{name}.npz", "--data", "{data}"], words)
        for name, words in (
            ("dtype5", "field 'dtype'"),
            ("dtypeint", "field 'dtype'"),
            ("namesstr", "field 'class_names'"),
            ("namesint", "field 'class_names'"),
            ("version", "model format version '1' is not a positive integer"),
            ("imageshape0", "field 'image_shape'"),
            ("imageshapewrong", "field 'image_shape'"),
            ("prestr", "field 'preprocessor'"),
            ("premode", "field 'mode'"),
            ("premax", "field 'pixel_max'"),
            ("settingsstr", "field 'settings'"),
            ("settingsseed", "field 'seed'"),
            ("settingsvf", "field 'val_fraction'"),
            ("datanum", "field 'data'"),
            ("metalist", "not a twolayer model"),
            ("metadeep", "not valid JSON"),
            ("metaempty", "not valid JSON"),
        )
    ],
    (["diagram", "--model", "{md}/settingsreg.npz", "--out", "{root}/d.svg"], "field 'reg'"),
    (["predict", "{md}/premode.npz", "{root}/rows.npy"], "field 'mode'"),
    *[
        (["train", "--out", f"{{md}}/{name}", "--resume", "--epochs", "3", "-q"], words)
        for name, words in (
            ("cfgempty", "config.json: the file is empty"),
            ("cfglist", "config.json: expected a JSON object"),
            ("cfghidden", "field 'hidden_size'"),
            ("cfgbatch", "field 'batch_size'"),
            ("cfgtrain", "field 'train'"),
            ("cfgunknown", "field 'dtype'"),
            ("cfgnan", "field 'val_fraction'"),
            ("ckepoch", "field 'epoch'"),
            ("ckbest", "field 'best'"),
            ("ckrng", "field 'rng'"),
            ("ckhistory", "field 'history'"),
            ("ckmissing", "field 'opt_t' is missing"),
            ("ckstatelist", "checkpoint state: expected a JSON object"),
            ("ckshape", "checkpoint's b1"),
            ("ckoptshape", "optimizer state"),
            ("ckcomplex", "checkpoint's W2 is complex"),
            ("cknan", "checkpoint's W1 contains NaN"),
            ("ckstatejson", "not valid JSON"),
            ("cknegstep", "field 'step_count'"),
        )
    ],
    *[
        (["report", f"{{md}}/{name}"], words)
        for name, words in (
            ("metempty", "metrics.json: the file is empty"),
            ("metlist", "metrics.json: expected a JSON object"),
            ("metacc", "field 'test_accuracy'"),
            ("metepochs", "field 'epochs'"),
            ("metbig", "field 'val_accuracy'"),
            ("cfgempty", "config.json: the file is empty"),
            ("cfghidden", "field 'hidden_size'"),
            ("histempty", "history.csv: the file is empty"),
            ("histepoch", "field 'epoch'"),
            ("histloss", "field 'loss'"),
            ("histnoepoch", "no 'epoch' column"),
            ("histragged", "line 2 has 2 fields"),
        )
    ],
]

CASES = (
    [("not-a-file", *c) for c in NOT_FILES]
    + [("bomb", *c) for c in BOMBS]
    + [("dtype", *c) for c in DTYPES]
    + [("csv", *c) for c in CSV_REFUSED]
    + [("non-finite", *c) for c in NON_FINITE]
    + [("option", *c) for c in OPTIONS]
    + [("metadata", *c) for c in METADATA]
)


def run_in_root(args, hostile, capsys, monkeypatch):
    """The command line in-process, in the folder of hostile inputs; also what it left there."""
    monkeypatch.chdir(hostile["root"])
    before = {p for p in hostile["root"].rglob("*")}
    code, out, err = run_main([fill(a, hostile) for a in args], capsys)
    new = {p for p in hostile["root"].rglob("*")} - before
    return code, out, err, new


@pytest.mark.filterwarnings("error::RuntimeWarning", "error::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize(
    "cls, args, words", CASES, ids=[f"{c[0]}: {' '.join(c[1])[:90]}" for c in CASES]
)
def test_hostile_input_is_one_line_and_exit_2(cls, args, words, hostile, capsys, monkeypatch):
    if args[0] == "tune":  # `twolayer tune` needs its extra; without it, the line names the extra
        pytest.importorskip("optuna")
    code, out, err, new = run_in_root(args, hostile, capsys, monkeypatch)
    assert code == 2, err
    lines = err.splitlines()  # exactly one: no blank line left by an erased progress bar either
    assert len(lines) == 1 and lines[0].startswith("twolayer: error: "), err
    assert (
        fill(words, hostile) in lines[0] and "Traceback" not in err and "internal error" not in err
    )
    assert not [p for p in new if p.suffix in RESULT_SUFFIXES and not p.name.startswith(".")], new


SPECIAL = {
    "fifo": "is a FIFO",
    "zero": "is a character device",
    "dir": "is a directory",
    "sock": "is a socket",
}
READERS = {  # every way a file of each suffix reaches the program
    "npz": [
        ["evaluate", "{path}", "--data", "{data}"],
        ["diagram", "--model", "{path}", "--out", "{root}/d11.svg"],
        ["train", "--data", "npz:{path}", "--out", "{root}/o11"],
    ],
    "csv": [
        ["train", "--data", "csv:{path}", "--out", "{root}/o11"],
        ["predict", "{model}", "{path}"],
    ],
    "npy": [["predict", "{model}", "{path}"]],
}


@pytest.mark.parametrize("kind, words", SPECIAL.items())
def test_every_reader_refuses_every_kind_of_special_file(kind, words, hostile, capsys, monkeypatch):
    """Beyond the table: each kind of non-file through every reader of each suffix, one line each."""
    by_class = {}
    for c in CASES:
        by_class[c[0]] = by_class.get(c[0], 0) + 1
    assert len(CASES) + len(API_CASES) >= 250, len(CASES) + len(API_CASES)
    assert min(by_class.values()) >= 4, by_class
    tried = 0
    for suffix, commands in READERS.items():
        path = hostile["root"] / f"{kind}.{suffix}"
        if not path.exists():
            continue
        for args in commands:
            argv = [a.replace("{path}", str(path)) for a in args]
            code, _, err, new = run_in_root(argv, hostile, capsys, monkeypatch)
            assert code == 2 and err.count("\n") == 1 and words in err, (argv, err)
            assert not [p for p in new if p.suffix in RESULT_SUFFIXES], new
            tried += 1
    assert tried >= 5, tried


def test_limits_are_env_overridable_and_refuse_within_the_limit(hostile, capsys, monkeypatch):
    """A real zip bomb: 51 MB of zeros in an .npz of ~50 KB, refused from the zip directory alone."""
    spec = f"npz:{hostile['bombs']}/zeros.npz"
    monkeypatch.setenv("TWOLAYER_MAX_DECOMPRESSED_BYTES", str(10 * 2**20))
    code, _, err, _ = run_in_root(
        ["train", "--data", spec, "--out", "{root}/o8"], hostile, capsys, monkeypatch
    )
    assert code == 2 and "more than the limit of 10 MiB" in err and len(err.splitlines()) == 1
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "2")
    with pytest.raises(InputError, match="beyond the limit of 2 classes"):
        load(hostile["data"])
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "many")
    with pytest.raises(InputError, match="TWOLAYER_MAX_CLASSES must be a positive integer"):
        load(hostile["data"])


def test_a_fifo_is_refused_without_opening_it(hostile):
    """The check is a stat: a FIFO with no writer would block any open() forever (the alarm would fire)."""
    with pytest.raises(InputError, match="is a FIFO, not a file"):
        TwoLayerNet.load(hostile["root"] / "fifo.npz")


# -- the Python API: the same words, as ValueError ------------------------------------------------------------
X6 = np.random.default_rng(1).standard_normal((12, D))
Y3 = np.arange(12) % 3


def _net(**kw):
    return TwoLayerNet(D, 5, 3, std=0.1, seed=0, **kw)


def _clf(**kw):
    from twolayer.estimator import TwoLayerClassifier

    return TwoLayerClassifier(**{"max_epochs": 1, "random_state": 0, **kw})


def _train(**kw):
    return _net().train(X6, Y3, X6, Y3, **{"num_iters": 2, **kw})


RAGGED = [[1.0] * D, [1.0] * (D - 1)] * 6
BAD_X = {
    "complex": X6 + 1j,
    "timedelta": (X6 * 10).astype("m8[s]"),
    "datetime": (X6 * 10).astype("i8").astype("M8[s]"),
    "bytes": X6.astype("S4"),
    "str": X6.astype("U4"),
    "void": np.zeros((12, D), "V8"),
    "structured": np.zeros((12, D), [("a", "f8")]),
    "object": X6.astype(object),
}
API_CASES = [
    *[
        (f"loss X {k}", lambda w, X=X: _net().loss(X, Y3), "must hold numbers")
        for k, X in BAD_X.items()
    ],
    *[
        (f"loss X {k} no y", lambda w, X=X: _net().loss(X), "must hold numbers")
        for k, X in BAD_X.items()
    ],
    *[
        (f"predict X {k}", lambda w, X=X: _net().predict(X), "must hold numbers")
        for k, X in BAD_X.items()
    ],
    *[
        (f"predict_proba X {k}", lambda w, X=X: _net().predict_proba(X), "must hold numbers")
        for k, X in BAD_X.items()
    ],
    *[
        (
            f"train X {k}",
            lambda w, X=X: _train(X=X) if False else _net().train(X, Y3, X6, Y3),
            "must hold numbers",
        )
        for k, X in BAD_X.items()
    ],
    *[
        (f"classifier fit X {k}", lambda w, X=X: _clf().fit(X, Y3), "must hold numbers")
        for k, X in BAD_X.items()
        if k != "object"
    ],
    *[
        (
            f"classifier predict X {k}",
            lambda w, X=X: _clf().fit(X6, Y3).predict(X),
            "must hold numbers",
        )
        for k, X in BAD_X.items()
        if k != "object"
    ],
    (
        "classifier fit complex: sklearn's words too",
        lambda w: _clf().fit(X6 + 1j, Y3),
        "Complex data not supported",
    ),
    *[
        (f"loss y {k}", lambda w, y=y: _net().loss(X6, y), "integer class labels")
        for k, y in (
            ("complex", Y3 + 0j),
            ("timedelta", Y3.astype("m8[s]")),
            ("datetime", Y3.astype("M8[D]")),
            ("bytes", Y3.astype("S1")),
            ("str", Y3.astype("U1")),
            ("bool", Y3.astype(bool)),
            ("object", Y3.astype(object)),
        )
    ],
    ("classifier y timedelta", lambda w: _clf().fit(X6, Y3.astype("m8[s]")), "must hold numbers"),
    (
        "loss y uint64 max",
        lambda w: _net().loss(X6, np.full(12, np.iinfo(np.uint64).max, np.uint64)),
        "label 18446744073709551615",
    ),
    (
        "loss y int64 min",
        lambda w: _net().loss(X6, np.full(12, np.iinfo(np.int64).min)),
        "negative label",
    ),
    ("loss y 1e300", lambda w: _net().loss(X6, np.full(12, 1e300)), "label 1e+300"),
    ("loss y -inf", lambda w: _net().loss(X6, np.full(12, -np.inf)), "non-integer label -inf"),
    (
        "TwoLayerNet hidden 1e9",
        lambda w: TwoLayerNet(64, 10**9, 10, dtype=np.float32),
        "hidden_size 1000000000 needs 238 GiB for W1",
    ),
    ("TwoLayerNet output 1e12", lambda w: TwoLayerNet(64, 10, 10**12), "output_size"),
    ("TwoLayerNet input 1e10", lambda w: TwoLayerNet(10**10, 10, 10), "input_size"),
    (  # beyond the settings table's bound (the model-size refusal is the 1e9 case above)
        "TwoLayerNet hidden 2**64",
        lambda w: TwoLayerNet(6, 2**64, 3),
        "hidden_size must be an integer in 1..1,000,000,000, got 18446744073709551616",
    ),
    ("classifier hidden 1e9", lambda w: _clf(hidden_size=10**9).fit(X6, Y3), "needs"),
    *[
        (
            f"TwoLayerNet seed {s!r}",
            lambda w, s=s: TwoLayerNet(6, 5, 3, seed=s),
            "seed must be an integer in 0..4294967295",
        )
        for s in (-1, 2**32, 2**64, "0", 1.5)
    ],
    *[
        (f"data.load seed {s!r}", lambda w, s=s: load(w["data"], seed=s), "seed must be an integer")
        for s in (-1, 2**32, "0", 1.5)
    ],
    *[
        (
            f"data.load val_fraction {v!r}",
            lambda w, v=v: load(w["data"], val_fraction=v),
            f"val_fraction must be a number in (0, 1), got {v!r}",  # the settings table's words
        )
        for v in ("0.1", None, float("nan"), float("inf"), 0, 1)
    ],
    ("data.load spec not a string", lambda w: load(42), "data SPEC"),
    *[
        (f"train num_iters {v!r}", lambda w, v=v: _train(num_iters=v), "num_iters")
        for v in (-1, "10", None, 10.5, 10**12, 2**64)
    ],
    *[
        (f"train batch_size {v!r}", lambda w, v=v: _train(batch_size=v), "batch_size")
        for v in (0, -5, "200", 1.5, 10**12, 10**8)
    ],
    *[
        (f"train learning_rate {v!r}", lambda w, v=v: _train(learning_rate=v), "learning_rate")
        for v in (0, -1, "0.1", float("nan"), float("inf"), None)
    ],
    *[
        (
            f"train learning_rate_decay {v!r}",
            lambda w, v=v: _train(learning_rate_decay=v),
            "learning_rate_decay",
        )
        for v in (0, 2, "0.9", float("nan"))
    ],
    *[
        (f"train reg {v!r}", lambda w, v=v: _train(reg=v), "reg")
        for v in (-1, "0", float("inf"), [0.1])
    ],
    (
        "train overflowing data",
        lambda w: _net().train(X6 * 1e300, Y3, X6, Y3, num_iters=5, learning_rate=1.0),
        "scale them",
    ),
    (
        "predict non-finite scores",
        lambda w: TwoLayerNet(D, 5, 3, std=1.0, dtype=np.float32, seed=0).predict(
            np.where(np.arange(12)[:, None] == 4, 3e38, X6)
        ),
        "row 4 gives non-finite class scores",
    ),
    (
        "predict_proba non-finite scores",
        lambda w: TwoLayerNet(D, 5, 3, std=1.0, dtype=np.float32, seed=0).predict_proba(
            np.full((2, D), 3e38)
        ),
        "row 0 gives non-finite class scores",
    ),
    (
        "TwoLayerNet.load FIFO",
        lambda w: TwoLayerNet.load(w["root"] / "fifo.npz"),
        "is a FIFO, not a file",
    ),
    (
        "TwoLayerNet.load /dev/zero",
        lambda w: TwoLayerNet.load("/dev/zero"),
        "is a character device",
    ),
    (
        "TwoLayerNet.load directory",
        lambda w: TwoLayerNet.load(w["root"] / "dir.npz"),
        "is a directory",
    ),
    (
        "TwoLayerNet.load meta dtype",
        lambda w: TwoLayerNet.load(w["md"] / "dtype5.npz"),
        "field 'dtype'",
    ),
    ("data.load csv FIFO", lambda w: load(f"csv:{w['root']}/fifo.csv"), "is a FIFO"),
    ("data.load npy member FIFO", lambda w: load(f"npy:{w['root']}/npyfifo"), "is a FIFO"),
    (
        "data.load id column",
        lambda w: load(f"csv:{w['bombs']}/ids.csv"),
        "40,000 distinct labels in column 'id'",
    ),
    (
        "data.load idx bomb",
        lambda w: load(f"mnist:{w['bombs']}/mnistgzbomb"),
        "TWOLAYER_MAX_DECOMPRESSED_BYTES",
    ),
    (
        "data.load cifar shared refs",
        lambda w: load(f"cifar10:{w['bombs']}/cifarlabels"),
        "flat list of integers",
    ),
    ("data.load complex", lambda w: load(f"npz:{w['dt']}/Xcomplex.npz"), "must hold numbers"),
    *[
        (f"classifier {k}={v!r}", lambda w, k=k, v=v: _clf(**{k: v}).fit(X6, Y3), words)
        for k, v, words in (
            ("max_epochs", 0, "max_epochs must be"),
            ("max_epochs", 10**12, "max_epochs must be"),
            ("random_state", -1, "random_state must be"),
            ("random_state", 2**32, "random_state must be"),
            ("batch_size", 0, "batch_size must be"),
            ("batch_size", 10**12, "batch_size must be"),
            ("learning_rate", "x", "learning_rate must be"),
            ("momentum", float("nan"), "momentum must be"),
            ("hidden_size", 10**9, "hidden_size 1000000000 needs"),
        )
    ],
    *[
        (
            f"classifier early stopping {k}={v!r}",
            lambda w, k=k, v=v: _clf(early_stopping=True, **{k: v}).fit(X6, Y3),
            words,
        )
        for k, v, words in (
            ("n_iter_no_change", 0, "n_iter_no_change must be"),
            ("validation_fraction", "0.1", "validation_fraction must be"),
            ("validation_fraction", float("nan"), "validation_fraction must be"),
        )
    ],
    (
        "tune n_jobs",
        lambda w: __import__("twolayer.tune").tune.check_options(1, n_jobs=0),
        "n_jobs must be",
    ),
    (
        "tune heartbeat",
        lambda w: __import__("twolayer.tune").tune.check_options(1, heartbeat=10**9),
        "heartbeat",
    ),
    (
        "tune timeout",
        lambda w: __import__("twolayer.tune").tune.check_options(1, timeout=float("inf")),
        "timeout",
    ),
    (
        "tune seed",
        lambda w: __import__("twolayer.tune").tune.tune("digits", 1, out=w["root"] / "t9", seed=-1),
        "seed must be",
    ),
    # ragged rows: NumPy's multi-line "setting an array element with a sequence ... inhomogeneous part"
    *[
        (
            f"{what} ragged X",
            lambda w, f=f: f(RAGGED),
            "X is not a rectangular array: its rows have different lengths",
        )
        for what, f in (
            ("predict", lambda X: _net().predict(X)),
            ("predict_proba", lambda X: _net().predict_proba(X)),
            ("loss", lambda X: _net().loss(X, Y3)),
            ("train", lambda X: _net().train(X, Y3, X6, Y3)),
            ("classifier fit", lambda X: _clf().fit(X, Y3[: len(X)])),
            ("classifier predict", lambda X: _clf().fit(X6, Y3).predict(X)),
        )
    ],
    ("loss ragged y", lambda w: _net().loss(X6[:2], [[0], [1, 2]]), "y is not a rectangular array"),
    (
        "train ragged X_val",
        lambda w: _net().train(X6, Y3, RAGGED, Y3[: len(RAGGED)]),
        "X_val is not a rectangular",
    ),
    # paths that are not paths, and targets that are not files (no IsADirectoryError naming a temp file)
    *[
        (
            f"save to {k}",
            lambda w, p=p: _net().save(p),
            "a file path must be a str or pathlib.Path, got",
        )
        for k, p in (("None", None), ("int", 5), ("bytes", b"m.npz"), ("list", ["m.npz"]))
    ],
    *[
        (
            f"load from {k}",
            lambda w, p=p: TwoLayerNet.load(p),
            "a file path must be a str or pathlib.Path",
        )
        for k, p in (("None", None), ("int", 3), ("float", 1.5))
    ],
    (
        "save into a directory",
        lambda w: _net().save(w["root"] / "dir.npz"),
        "dir.npz: is a directory, not a file",
    ),
    (
        "save onto a FIFO",
        lambda w: _net().save(w["root"] / "fifo.npz"),
        "fifo.npz: is a FIFO, not a file",
    ),
    (
        "save onto a socket",
        lambda w: _net().save(w["root"] / "sock.npz"),
        "sock.npz: is a socket, not a file",
    ),
    (
        "save under a missing folder",
        lambda w: _net().save(w["root"] / "no" / "m.npz"),
        "m.npz: cannot write (No such file or directory)",
    ),
    (
        "save under a file",
        lambda w: _net().save(w["root"] / "rows.npy" / "m.npz"),
        "cannot write (Not a directory)",
    ),
    *[
        (
            f"gradcheck random_problem seed {s!r}",
            lambda w, s=s: __import__("twolayer.gradcheck").gradcheck.random_problem(seed=s),
            "seed must be an integer in 0..4294967295",
        )
        for s in (-1, 2**32, "1", 0.5)
    ],
    *[
        (
            f"classifier fit batch_size={v!r}",
            lambda w, v=v: _clf(batch_size=v).fit(X6, Y3),
            "batch_size must be",
        )
        for v in ("0", 0.0, -1, None)
    ],
    *[
        (
            f"classifier fit validation_fraction={v!r}",
            lambda w, v=v: _clf(early_stopping=True, validation_fraction=v).fit(X6, Y3),
            "validation_fraction must be",
        )
        for v in ("0.2", b"0.1", [0.1], 0, 1.0)
    ],
]


@pytest.mark.parametrize("call, words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_python_api_raises_value_error_with_the_same_words(call, words, hostile):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter(
            "error"
        )  # no ComplexWarning or RuntimeWarning on the way to the error
        # (the one-epoch fits before a predict end at max_epochs: their ConvergenceWarning is due)
        warnings.filterwarnings("ignore", message="TwoLayerClassifier: max_epochs")
        with pytest.raises(ValueError) as info:
            call(hostile)
    assert words in str(info.value), str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_cli_and_api_give_the_same_line(hostile, capsys):
    with pytest.raises(InputError) as info:
        load(f"csv:{hostile['bombs']}/ids.csv")
    assert (
        main(
            [
                "train",
                "--data",
                f"csv:{hostile['bombs']}/ids.csv",
                "--out",
                str(hostile["root"] / "o9"),
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.strip() == f"twolayer: error: {info.value}"


# -- CSV as people write it: read correctly (compared with the arrays that were written) ----------------------
XC = np.round(np.random.default_rng(3).standard_normal((30, 3)), 6)
YC = np.arange(30) % 3
NAMES = np.array(["cat", "dog", "emu"])


def csv_text(style):
    """The same table (features XC, labels YC) written the way some program or person writes it."""
    rows = [[repr(float(v)) for v in x] + [str(c)] for x, c in zip(XC, YC)]
    header = ["f0", "f1", "f2", "label"]
    if style == "label_first_bom":
        return "\ufeff" + "\n".join(",".join([r[-1]] + r[:-1]) for r in [header] + rows) + "\n"
    if style == "bom_no_header":
        return "\ufeff" + "\n".join(",".join(r) for r in rows) + "\n"
    if style == "bom_header":
        return "\ufeff" + "\n".join(",".join(r) for r in [header] + rows) + "\n"
    if style in ("semicolon", "tab", "pipe"):
        sep = {"semicolon": ";", "tab": "\t", "pipe": "|"}[style]
        return "\n".join(sep.join(r) for r in [header] + rows) + "\n"
    if style == "quoted":
        return "\n".join(",".join(f'"{c}"' for c in r) for r in [header] + rows) + "\n"
    if style == "spaces_crlf_blank":
        return (
            "\r\n".join(", ".join(r) for r in [header] + rows[:10] + [[""]] + rows[10:])
            + "\r\n\r\n"
        )
    if style == "excel_semicolon_bom_crlf":
        return (
            "\ufeff"
            + "\r\n".join(
                ";".join(f'"{c}"' if i == 0 else c for i, c in enumerate(r))
                for r in [header] + rows
            )
            + "\r\n"
        )
    raise KeyError(style)


@pytest.mark.parametrize(
    "style",
    [
        "label_first_bom",
        "bom_no_header",
        "bom_header",
        "semicolon",
        "tab",
        "pipe",
        "quoted",
        "spaces_crlf_blank",
        "excel_semicolon_bom_crlf",
    ],
)
def test_csv_as_people_write_it_is_read_correctly(tmp_path, style):
    from twolayer.data.table import read_csv

    path = tmp_path / "t.csv"
    path.write_bytes(csv_text(style).encode("utf-8"))
    X, y, names, classes = read_csv(path)
    assert classes is None
    np.testing.assert_array_equal(X, XC)
    np.testing.assert_array_equal(y, YC)
    if style != "bom_no_header":
        assert names == ["f0", "f1", "f2"]


@pytest.mark.parametrize("header", [True, False])
def test_string_labels_map_to_sorted_class_names_like_the_estimator(tmp_path, header):
    from sklearn.preprocessing import LabelEncoder

    labels = NAMES[[2, 0, 1]][YC]  # emu, cat, dog, ...: first seen is not first sorted
    lines = (["a;b;c;label"] if header else []) + [
        ";".join([*map(repr, map(float, x)), f'"{c}"']) for x, c in zip(XC, labels)
    ]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    d = load(f"csv:{tmp_path / 's.csv'}")
    enc = LabelEncoder().fit(labels)
    assert d.class_names == list(enc.classes_)
    got = np.concatenate([d.y_train, d.y_val])
    want = enc.transform(labels)
    assert sorted(got.tolist()) == sorted(want.tolist()) and len(got) == 30


def test_string_label_csv_trains_and_predicts_names(tmp_path, capsys):
    rows = [",".join([*map(repr, map(float, x)), c]) for x, c in zip(XC, NAMES[YC])]
    (tmp_path / "s.csv").write_text("a,b,c,species\n" + "\n".join(rows) + "\n")
    assert (
        main(
            [
                "train",
                "--data",
                f"csv:{tmp_path / 's.csv'}",
                "--epochs",
                "30",
                "--hidden",
                "16",
                "--out",
                str(tmp_path / "run"),
                "-q",
            ]
        )
        == 0
    )
    (tmp_path / "rows.csv").write_text(
        "\ufeff"
        + '"a";"b";"c"\n'
        + "\n".join(";".join(map(repr, map(float, x))) for x in XC[:6])
        + "\n"
    )
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run" / "model.npz"), str(tmp_path / "rows.csv")]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 6 and set(out) <= set(NAMES)
    np.save(tmp_path / "rows.npy", XC[:6])
    assert main(["predict", str(tmp_path / "run" / "model.npz"), str(tmp_path / "rows.npy")]) == 0
    assert capsys.readouterr().out.split() == out  # the CSV read gives exactly the rows of the .npy


def test_predict_csv_with_bom_and_header_reads_every_row(tmp_path):
    from twolayer.data import read_rows

    for text, skip in (
        ("\ufeff1,2,3\n4,5,6\n", 0),
        ("\ufeffa,b,c\n1,2,3\n4,5,6\n", 1),
        ('"1";"2";"3"\n4;5;6\n', 0),
    ):
        (tmp_path / "r.csv").write_text(text)
        np.testing.assert_array_equal(read_rows(tmp_path / "r.csv"), [[1, 2, 3], [4, 5, 6]])


def test_standardize_trains_on_values_up_to_1e307(hostile, capsys, monkeypatch):
    """The remedy the overflow message gives works: statistics are taken on x / peak, so they stay finite."""
    code, _, err, _ = run_in_root(
        [
            "train",
            "--data",
            f"npz:{hostile['nf']}/overflow.npz",
            "--epochs",
            "3",
            "--hidden",
            "8",
            "--out",
            "{root}/o10",
            "-q",
        ],
        hostile,
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    net = TwoLayerNet.load(hostile["root"] / "o10" / "model.npz")
    assert all(np.isfinite(v).all() for v in net.params.values())
    assert (
        np.isfinite(net.preprocessor.offset_).all() and np.isfinite(net.preprocessor.factor_).all()
    )
