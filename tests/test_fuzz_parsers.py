"""Fuzzing every file parser with Hypothesis: damaged files fail only with an InputError naming the file.

Each parser gets a valid file mutated (bytes flipped, cut short, junk appended) or plain random bytes.
Success is allowed (a flip may land where it changes nothing that is checked); any exception other
than InputError is a bug. Tampered pickles and object arrays must never run code. CSV of any text
is read into a data set the program can trust, or refused with one line.
"""

import gzip
import io
import os
import pickle

import numpy as np
import pytest
from helpers import idx_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twolayer import TwoLayerNet
from twolayer import data as data_mod
from twolayer.data import arrays as npfiles
from twolayer.data import cifar, idx, read_rows, table
from twolayer.errors import InputError
from twolayer.train import TrainConfig, Trainer

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def damaged(draw, valid):
    """A damaged copy of the bytes ``valid``, or random bytes."""
    kind = draw(st.sampled_from(["flip", "truncate", "append", "random", "flip+truncate"]))
    data = bytearray(valid)
    if kind == "random":
        return draw(st.binary(max_size=2 * len(valid)))
    if "flip" in kind:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    if "truncate" in kind:
        data = data[: draw(st.integers(0, len(data) - 1))]
    if kind == "append":
        data += draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


def must_fail_cleanly(parse, path):
    """parse(path) either succeeds or raises an InputError whose message names path."""
    try:
        parse(path)
    except InputError as e:
        assert str(path) in str(e), f"error does not name the file: {e}"


def to_bytes(save):
    buf = io.BytesIO()
    save(buf)
    return buf.getvalue()


# -- valid files ------------------------------------------------------------------------
RNG = np.random.default_rng(0)
IDX = idx_bytes(RNG.integers(0, 256, (3, 4, 4)).astype(np.uint8))
IDX_GZ = gzip.compress(IDX)
CIFAR = pickle.dumps(
    {
        b"batch_label": b"testing batch 1 of 1",
        b"data": RNG.integers(0, 256, (2, cifar.ROW), dtype=np.uint8),
        b"labels": [3, 7],
    },
    protocol=2,
)
NPZ = to_bytes(
    lambda f: np.savez(
        f,
        X_train=RNG.standard_normal((6, 3)),
        y_train=np.array([0, 1, 2, 0, 1, 2]),
        class_names=np.array(["a", "b", "c"]),
    )
)
NPY = to_bytes(lambda f: np.save(f, RNG.standard_normal((4, 3))))
CSV = b"f1,f2,label\n0.5,1.0,0\n1.5,-2.0,1\n3,4,1\n0,0,0\n"


def model_and_checkpoint(folder):
    from twolayer.data.preprocess import Preprocessor

    net = TwoLayerNet(3, 4, 2, std=0.1, seed=0)
    net.preprocessor = Preprocessor("standardize").fit(RNG.standard_normal((10, 3)))
    net.class_names = ["no", "yes"]
    net.save(folder / "model.npz")
    trainer = Trainer(
        net, TrainConfig(epochs=1, batch_size=4, patience=1, optimizer="adam", seed=0)
    )
    trainer.fit(
        RNG.standard_normal((8, 3)),
        np.array([0, 1] * 4),
        RNG.standard_normal((4, 3)),
        np.array([0, 1] * 2),
    )
    trainer.save_checkpoint(folder / "checkpoint.npz")
    return (folder / "model.npz").read_bytes(), (folder / "checkpoint.npz").read_bytes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def model_files(folder):
    return model_and_checkpoint(folder)


def write(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    return path


def load_checkpoint(path):
    Trainer(
        TwoLayerNet(3, 4, 2, seed=0),
        TrainConfig(epochs=1, batch_size=4, patience=1, optimizer="adam", seed=0),
    ).load_checkpoint(path)


# -- the valid files parse --------------------------------------------------------------
def test_the_seed_files_are_valid(folder, model_files):
    assert idx.read_idx(write(folder, "ok.idx", IDX), 3).shape == (3, 4, 4)
    assert idx.read_idx(write(folder, "ok.idx.gz", IDX_GZ), 3).shape == (3, 4, 4)
    assert cifar.read_batch(write(folder, "ok_batch", CIFAR))[0].shape == (2, cifar.ROW)
    assert npfiles.load_npz(write(folder, "ok.npz", NPZ)).n_features == 3
    assert npfiles.read_npy(write(folder, "ok.npy", NPY)).shape == (4, 3)
    assert table.read_csv(write(folder, "ok.csv", CSV))[0].shape == (4, 2)
    assert TwoLayerNet.load(write(folder, "m.npz", model_files[0])).class_names == ["no", "yes"]
    load_checkpoint(write(folder, "c.npz", model_files[1]))


# -- fuzzing ----------------------------------------------------------------------------
@FUZZ
@given(st.one_of(damaged(IDX), damaged(IDX_GZ)))
def test_fuzz_idx(folder, data):
    must_fail_cleanly(lambda p: idx.read_idx(p, 3), write(folder, "images-idx3-ubyte", data))


@FUZZ
@given(damaged(CIFAR))
def test_fuzz_cifar_pickle(folder, data):
    must_fail_cleanly(cifar.read_batch, write(folder, "data_batch_1", data))


@FUZZ
@given(damaged(NPZ))
def test_fuzz_npz(folder, data):
    must_fail_cleanly(npfiles.load_npz, write(folder, "data.npz", data))


@FUZZ
@given(damaged(NPY), st.booleans())
def test_fuzz_npy(folder, data, mmap):
    must_fail_cleanly(lambda p: npfiles.read_npy(p, mmap=mmap), write(folder, "X_train.npy", data))


@FUZZ
@given(
    st.one_of(
        damaged(CSV), st.text(alphabet=",.-+0123456789eE \nabcinf", max_size=200).map(str.encode)
    )
)
def test_fuzz_csv(folder, data):
    must_fail_cleanly(table.load_csv, write(folder, "table.csv", data))


@FUZZ
@given(st.data())
def test_fuzz_model_file(folder, model_files, data):
    must_fail_cleanly(
        TwoLayerNet.load, write(folder, "model.npz", data.draw(damaged(model_files[0])))
    )


@FUZZ
@given(st.data())
def test_fuzz_checkpoint(folder, model_files, data):
    must_fail_cleanly(
        load_checkpoint, write(folder, "checkpoint.npz", data.draw(damaged(model_files[1])))
    )


# -- hostile files never run code -------------------------------------------------------
class Payload:
    """Unpickling this object would call ``func(*args)``: here, create the marker file."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payloads(marker):
    import builtins
    import subprocess

    return [
        Payload(os.system, (f"touch {marker}",)),
        Payload(builtins.exec, (f"open({str(marker)!r}, 'w').close()",)),
        Payload(builtins.open, (str(marker), "w")),
        Payload(subprocess.call, (["touch", str(marker)],)),
    ]


def object_array(payload):
    a = np.empty(2, dtype=object)
    a[0], a[1] = payload, "x"
    return a


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_tampered_cifar_pickles_never_run_code(tmp_path, protocol):
    marker = tmp_path / "pwned"
    for payload in payloads(marker):
        hostile = [
            {b"data": payload, b"labels": [1]},
            {b"data": object_array(payload), b"labels": [1]},
            payload,
        ]
        for obj in hostile:
            path = write(tmp_path, "data_batch_1", pickle.dumps(obj, protocol=protocol))
            with pytest.raises(InputError, match="refused|tampered"):
                cifar.read_batch(path)
            assert not marker.exists()


def test_object_arrays_never_run_code(tmp_path, model_files):
    marker = tmp_path / "pwned"
    good_model = np.load(io.BytesIO(model_files[0]))
    good_ckpt = np.load(io.BytesIO(model_files[1]))
    for payload in payloads(marker):
        obj = object_array(payload)
        npy = write(tmp_path, "X_train.npy", to_bytes(lambda f: np.save(f, obj, allow_pickle=True)))
        npz = write(
            tmp_path,
            "data.npz",
            to_bytes(lambda f: np.savez(f, X_train=obj, y_train=np.array([0, 1]))),
        )
        model = write(
            tmp_path, "model.npz", to_bytes(lambda f: np.savez(f, **{**good_model, "W1": obj}))
        )
        ckpt = write(
            tmp_path,
            "checkpoint.npz",
            to_bytes(lambda f: np.savez(f, **{**good_ckpt, "state": obj})),
        )
        cases = [
            (lambda p: npfiles.read_npy(p, mmap=True), npy),
            (npfiles.read_npy, npy),
            (npfiles.load_npz, npz),
            (TwoLayerNet.load, model),
            (load_checkpoint, ckpt),
        ]
        for parse, path in cases:
            with pytest.raises(InputError, match="object|Python objects|pickle"):
                parse(path)
            assert not marker.exists()


# -- CSV of any text ----------------------------------------------------------------------------------------
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "cat",
            "dog",
            '"a,b"',
            '"x""y"',
            '"',
            "1e999",
            "-",
            "NaN",
            "0x10",
            "1,5",
            "١٢",
            "\ufeff",
            "\ufeff1",
            "\x00",
            "\r",
            "é",
        ]
    ),
    st.text(max_size=6),
)


@st.composite
def csv_text(draw):
    sep = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    n_cols = draw(st.integers(1, 4))
    rows = draw(
        st.lists(st.lists(CELLS, min_size=max(0, n_cols - 1), max_size=n_cols + 1), max_size=12)
    )
    header = draw(st.booleans())
    lines = (
        [
            sep.join(
                draw(st.sampled_from(["label", "a", "b", "x", "", "label"])) for _ in range(n_cols)
            )
        ]
        if header
        else []
    )
    lines += [sep.join(r) for r in rows]
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + draw(
        st.sampled_from(["", "\n"])
    )
    return (draw(st.sampled_from(["", "\ufeff"])) + text), draw(
        st.sampled_from(["utf-8", "latin-1", "utf-16"])
    )


def _one_line(e):
    message = str(e)
    assert message and len(message.splitlines()) == 1, repr(message)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.one_of(csv_text(), st.tuples(st.text(max_size=200), st.just("utf-8"))))
def test_any_csv_text_is_read_or_refused_with_one_line(content, tmp_path_factory):
    text, encoding = content
    folder = tmp_path_factory.mktemp("csv", numbered=True)
    path = folder / "d.csv"
    try:
        path.write_bytes(text.encode(encoding, errors="replace"))
    except UnicodeEncodeError:
        return
    try:
        d = data_mod.load(f"csv:{path}")
    except InputError as e:
        _one_line(e)
    else:  # what was read is a data set the rest of the program can trust
        assert d.X_train.ndim == 2 and len(d.X_train) == len(d.y_train) > 0
        assert np.isfinite(d.X_train).all()
        ys = np.concatenate([d.y_train] + ([d.y_val] if d.y_val is not None else []))
        assert ys.min() >= 0 and ys.max() < d.n_classes == len(d.class_names)
    try:
        rows = read_rows(path)
    except InputError as e:
        _one_line(e)
    else:
        assert rows.ndim == 2
    os.remove(path)
