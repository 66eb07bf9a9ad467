"""Byte order: a model or data written on a big-endian machine ('>f4', '>f8') reads as float32 or
float64; dtype='>f8' is float64. Other dtypes are still refused in the same words."""

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main


def _swap(arrays):
    return {
        k: (v.astype(v.dtype.newbyteorder(">" if v.dtype.byteorder != ">" else "<")))
        if v.dtype.kind == "f"
        else v
        for k, v in arrays.items()
    }


@pytest.mark.parametrize(
    "spelled, native",
    [
        (">f8", np.float64),
        (">f4", np.float32),
        ("<f8", np.float64),
        ("=f4", np.float32),
        (np.dtype(">f8"), np.float64),
    ],
)
def test_any_byte_order_of_float32_and_float64(spelled, native):
    net = TwoLayerNet(3, 4, 2, dtype=spelled)
    assert net.dtype == native and net.params["W1"].dtype == native
    assert net.params["W1"].dtype.isnative


@pytest.mark.parametrize(
    "bad, words", [(">i4", "int32"), (">f2", "float16"), ("<c16", "complex128")]
)
def test_other_dtypes_are_refused_in_the_same_words(bad, words):
    with pytest.raises(ValueError, match=f"dtype must be float32 or float64, got {words}"):
        TwoLayerNet(3, 4, 2, dtype=bad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_big_endian_model_file_loads_and_predicts_the_same(dtype, tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    np.savez(tmp_path / "d.npz", X_train=X, y_train=np.arange(40) % 2)
    run = tmp_path / "run"
    args = ["train", "--data", f"npz:{tmp_path / 'd.npz'}", "--epochs", "2", "--hidden", "4"]
    assert main([*args, "--dtype", dtype, "--out", str(run), "-q", "--no-plots"]) == 0
    with np.load(run / "model.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(tmp_path / "be.npz", **_swap(arrays))
    a, b = TwoLayerNet.load(run / "model.npz"), TwoLayerNet.load(tmp_path / "be.npz")
    assert b.dtype == np.dtype(dtype) and all(v.dtype.isnative for v in b.params.values())
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X.astype(">f8")))
    capsys.readouterr()
    np.save(tmp_path / "rows.npy", X[:5].astype(">f4"))
    assert main(["predict", str(tmp_path / "be.npz"), str(tmp_path / "rows.npy")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_big_endian_training_data(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3)).astype(">f8")
    np.savez(tmp_path / "d.npz", X_train=X, y_train=(np.arange(40) % 2).astype(">i8"))
    args = ["train", "--data", f"npz:{tmp_path / 'd.npz'}", "--epochs", "1", "--hidden", "3"]
    assert main([*args, "--out", str(tmp_path / "r"), "-q", "--no-plots"]) == 0
