"""ONNX export: the graph run in onnxruntime gives predict_proba (≤ 1e-5 in float32) and the same labels,
for a model of every data format and preprocessing mode the suite has."""

import numpy as np
import pytest
from helpers import toy_arrays, write_cifar, write_csv, write_mnist

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.data import load
from twolayer.runs import RunSettings, build
from twolayer.train import TrainConfig

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run_onnx(path_or_model, X):
    data = path_or_model if isinstance(path_or_model, (str, bytes)) else str(path_or_model)
    if hasattr(path_or_model, "SerializeToString"):
        data = path_or_model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    label, proba, index = session.run(
        ["label", "probabilities", "label_index"], {"X": np.asarray(X, np.float32)}
    )
    return label, proba, index


def specs(tmp_path):
    """One SPEC per data format, written in its real format."""
    write_mnist(tmp_path / "mnist", n_train=60, n_test=20)
    write_cifar(tmp_path / "cifar", n=8)
    X, y = toy_arrays(n=90, d=7)
    write_csv(tmp_path / "t.csv", X, y)
    np.savez(tmp_path / "t.npz", X_train=X, y_train=y, class_names=np.array(["a,1", "b", "ç"]))
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "X_train.npy", X.astype(np.float32))
    np.save(tmp_path / "npy" / "y_train.npy", y)
    return {
        "digits": "digits",
        "mnist": f"mnist:{tmp_path / 'mnist'}",
        "fashion": f"fashion-mnist:{tmp_path / 'mnist'}",
        "cifar10": f"cifar10:{tmp_path / 'cifar'}",
        "csv": f"csv:{tmp_path / 't.csv'}",
        "npz": f"npz:{tmp_path / 't.npz'}",
        "npy": f"npy:{tmp_path / 'npy'}",
    }


CASES = [
    (fmt, pre, dtype)
    for fmt in ("digits", "mnist", "fashion", "cifar10", "csv", "npz", "npy")
    for pre in ("auto", "none", "scale", "center", "standardize")
    for dtype in ("float32", "float64")
    if dtype == "float32" or pre == "auto"
]


@pytest.mark.parametrize("fmt,pre,dtype", CASES)
def test_onnx_matches_predict_proba(tmp_path, fmt, pre, dtype):
    spec = specs(tmp_path)[fmt]
    dataset = load(spec, seed=0)
    settings = RunSettings(
        data=spec, hidden_size=24, dtype=dtype, preprocess=pre, train=TrainConfig(seed=0)
    )
    net = build(settings, dataset)
    rng = np.random.default_rng(1)
    for k in ("b1", "b2"):  # trained nets have non-zero biases; the graph must add them
        net.params[k] += rng.normal(0, 0.5, net.params[k].shape).astype(net.dtype)
    net.save(tmp_path / "model.npz")
    assert main(["export", str(tmp_path / "model.npz"), "--out", str(tmp_path / "model.onnx")]) == 0

    loaded = TwoLayerNet.load(tmp_path / "model.npz")
    X = np.concatenate(
        [dataset.X_train, dataset.X_test if dataset.X_test is not None else dataset.X_val]
    )
    X = np.asarray(X, np.float32)
    label, proba, index = run_onnx(tmp_path / "model.onnx", X)
    expected = loaded.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(index, loaded.predict(X))
    assert label.tolist() == [dataset.class_names[i] for i in loaded.predict(X)]


def test_onnx_of_a_trained_run_agrees_with_predict_on_the_command_line(tmp_path, capsys):
    assert (
        main(
            ["train", "--out", str(tmp_path / "run"), "--quiet", "--epochs", "3", "--hidden", "32"]
        )
        == 0
    )
    X = load("digits", seed=0).X_test
    np.save(tmp_path / "rows.npy", X)
    capsys.readouterr()
    assert (
        main(
            ["predict", str(tmp_path / "run" / "model.npz"), str(tmp_path / "rows.npy"), "--proba"]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()[1:]
    assert (
        main(["export", str(tmp_path / "run" / "model.npz"), "--out", str(tmp_path / "m.onnx")])
        == 0
    )
    label, proba, _ = run_onnx(tmp_path / "m.onnx", X)
    assert label.tolist() == [line.split(",")[0] for line in lines]
    np.testing.assert_allclose(
        proba, [[float(v) for v in line.split(",")[1:]] for line in lines], atol=1e-5
    )


def test_graph_is_valid_and_names_its_outputs(tmp_path):
    from twolayer.export import to_onnx

    net = TwoLayerNet(5, 4, 3, std=1.0, seed=0)  # no preprocessor, no class names
    model = to_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["label", "probabilities", "label_index"]
    assert model.opset_import[0].version == 17 and model.ir_version == 8
    X = np.random.default_rng(0).normal(size=(6, 5))
    label, proba, _ = run_onnx(model, X)
    np.testing.assert_allclose(proba, net.predict_proba(X), atol=1e-6)
    assert label.tolist() == [str(i) for i in net.predict(X)]


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "missing.npz: file not found" in capsys.readouterr().err
    TwoLayerNet(3, 2, 2, seed=0).save(tmp_path / "m.npz")
    assert (
        main(["export", str(tmp_path / "m.npz"), "--out", str(tmp_path / "no" / "dir" / "m.onnx")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "m.onnx: cannot write (No such file or directory)" in err


@pytest.mark.parametrize("labels", ["int", "str"])
def test_skl2onnx_exports_a_pipeline_ending_in_the_classifier(labels):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_digits
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from twolayer.estimator import TwoLayerClassifier, register_skl2onnx

    X, y = load_digits(return_X_y=True)
    if labels == "str":
        y = np.array(
            ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        )[y]
    pipe = make_pipeline(
        MinMaxScaler(), TwoLayerClassifier(hidden_size=32, max_epochs=5, random_state=0)
    )
    pipe.fit(X[:1200], y[:1200])
    register_skl2onnx()
    model = skl2onnx.to_onnx(
        pipe, X[:1].astype(np.float32), options={TwoLayerClassifier: {"zipmap": False}}
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {session.get_inputs()[0].name: X[1200:].astype(np.float32)})
    np.testing.assert_allclose(proba, pipe.predict_proba(X[1200:]), rtol=0, atol=1e-5)
    assert label.tolist() == pipe.predict(X[1200:]).tolist()
