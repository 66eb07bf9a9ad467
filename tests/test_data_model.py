"""Preprocessing fitted on training data only, stored in model.npz with the class names, and
applied by evaluate and predict on every data source."""

import dataclasses
import json
import warnings

import numpy as np
import pytest
from helpers import CIFAR_NAMES, toy_arrays, write_cifar, write_csv, write_mnist

from twolayer.cli import main
from twolayer.data import load
from twolayer.data.preprocess import Preprocessor
from twolayer.net import TwoLayerNet


def make_source(kind, tmp_path):
    X, y = toy_arrays(n=90, d=5)
    if kind == "cifar10":
        write_cifar(tmp_path / "c", n=10)
        return f"cifar10:{tmp_path / 'c'}"
    if kind == "mnist":
        write_mnist(tmp_path / "m", n_train=60, n_test=20)
        return f"mnist:{tmp_path / 'm'}"
    if kind == "npz":
        np.savez(tmp_path / "d.npz", X_train=X[:70], y_train=y[:70], X_test=X[70:], y_test=y[70:])
        return f"npz:{tmp_path / 'd.npz'}"
    if kind == "npy":
        (tmp_path / "n").mkdir()
        for name, arr in dict(X_train=X[:70], y_train=y[:70], X_test=X[70:], y_test=y[70:]).items():
            np.save(tmp_path / "n" / f"{name}.npy", arr)
        return f"npy:{tmp_path / 'n'}"
    write_csv(tmp_path / "d.csv", X, y)
    return f"csv:{tmp_path / 'd.csv'}"


@pytest.mark.parametrize("kind", ["cifar10", "mnist", "npz", "npy", "csv"])
def test_train_evaluate_predict_on_every_source(tmp_path, capsys, kind):
    spec = make_source(kind, tmp_path)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                spec,
                "--epochs",
                "2",
                "--hidden",
                "16",
                "--out",
                str(run),
                "--json",
            ]
        )
        == 0
    )
    metrics = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(run / "model.npz"), "--data", spec, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["val_accuracy"] == pytest.approx(metrics["val_accuracy"])
    if kind == "csv":  # one file: no test split
        assert metrics["test_accuracy"] is None and "test_accuracy" not in result
    else:
        assert result["test_accuracy"] == pytest.approx(metrics["test_accuracy"])

    # predict on raw rows: the stored preprocessing is applied, labels come out as class names
    ds = load(spec)
    rows = np.asarray(ds.X_val[:7])
    np.save(tmp_path / "rows.npy", rows)
    assert main(["predict", str(run / "model.npz"), str(tmp_path / "rows.npy")]) == 0
    printed = capsys.readouterr().out.split()
    net = TwoLayerNet.load(run / "model.npz")
    assert net.class_names == ds.class_names
    pre = net.preprocessor
    by_hand = (
        rows.astype(np.float64) - pre.offset_
    ) * pre.factor_  # the stored map, applied independently
    assert printed == [
        ds.class_names[i] for i in net.scores(by_hand.astype(net.dtype)).argmax(axis=1)
    ]


def test_preprocessing_is_fitted_on_training_rows_only(tmp_path):
    from twolayer.runs import RunSettings, build

    X, y = toy_arrays(n=100, d=4)
    X_test = X[:20] + 100.0  # a shifted test set must not move the statistics
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y, X_test=X_test, y_test=y[:20])
    ds = load(f"npz:{tmp_path / 'd.npz'}")
    net = build(RunSettings(data="npz", hidden_size=4), ds)
    np.testing.assert_allclose(net.preprocessor.offset_, ds.X_train.mean(axis=0))
    np.testing.assert_allclose(net.preprocessor.factor_, 1 / ds.X_train.std(axis=0))


def test_cifar_class_names_travel_with_the_model(tmp_path, capsys):
    write_cifar(tmp_path / "c", n=10)
    spec = f"cifar10:{tmp_path / 'c'}"
    assert (
        main(
            [
                "train",
                "--data",
                spec,
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--out",
                str(tmp_path / "r"),
                "-q",
            ]
        )
        == 0
    )
    assert TwoLayerNet.load(tmp_path / "r" / "model.npz").class_names == CIFAR_NAMES


@pytest.mark.parametrize("mode", ["scale", "center", "standardize"])
def test_pixel_scaling_and_centering(mode):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (50, 12)).astype(np.uint8)
    pre = Preprocessor(mode, pixel_max=255).fit(X, batch_size=7)
    scaled = X / 255.0
    want = {
        "scale": scaled,
        "center": scaled - scaled.mean(0),
        "standardize": (X - X.mean(0)) / X.std(0),
    }[mode]
    np.testing.assert_allclose(pre.transform(X), want, atol=1e-12)


def test_preprocessor_fits_a_memmap_like_an_array(tmp_path):
    X, _ = toy_arrays(n=300, d=7)
    np.save(tmp_path / "X.npy", X)
    mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    a, b = Preprocessor().fit(mm, batch_size=64), Preprocessor().fit(X)
    np.testing.assert_allclose(a.offset_, b.offset_)
    np.testing.assert_allclose(a.factor_, b.factor_)


# -- the assembly (runs.py): network inputs, the data's fingerprint, a model's settings ---------
from twolayer import runs  # noqa: E402
from twolayer.errors import InputError  # noqa: E402
from twolayer.settings import RunSettings, TrainConfig  # noqa: E402


def test_transformed_passes_memory_maps_and_none_and_preprocesses_arrays(tmp_path):
    net = TwoLayerNet(2, 3, 2, dtype="float32")
    net.preprocessor = Preprocessor("scale", pixel_max=4.0).fit(np.ones((2, 2)))
    assert runs.transformed(net, None) is None
    np.save(tmp_path / "x.npy", np.ones((2, 2)))
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert runs.transformed(net, mm) is mm
    out = runs.transformed(net, np.array([[2.0, 4.0]]))
    assert out.dtype == np.float32 and out.tolist() == [[0.5, 1.0]]  # x / pixel_max


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_transformed_refuses_values_that_overflow_after_preprocessing():
    net = TwoLayerNet(2, 3, 2, dtype="float32")
    with pytest.raises(InputError) as e:
        runs.transformed(net, np.array([[1e39, 0.0], [-3e40, 1.0]]))
    assert str(e.value) == (
        "the data: values up to 3e40: scale them, e.g. preprocess='standardize' "
        "(they overflow float32 after preprocessing 'none')"
    )
    net.preprocessor = Preprocessor("scale", pixel_max=1e-30).fit(np.ones((2, 2)))
    with pytest.raises(InputError) as e:
        runs.transformed(net, np.array([[1e10, 0.0]]), "d")
    assert str(e.value) == (
        "d: values up to 1e10: scale them, e.g. preprocess='standardize' "
        "(they overflow float32 after preprocessing 'scale')"
    )


def test_fingerprint_hashes_the_first_64_training_rows_and_labels(tmp_path):
    import hashlib

    X, y = toy_arrays(n=100, d=4)
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y)
    spec = f"npz:{tmp_path / 'd.npz'}"
    settings = RunSettings(data=spec)
    ds = runs.load_run_data(settings)
    h = hashlib.sha256(np.asarray(ds.X_train[:64], order="C").tobytes())
    h.update(np.asarray(ds.y_train[:64], dtype="int64", order="C").tobytes())
    assert runs.fingerprint(settings, ds) == {
        "data": spec,
        "n_train": 90,
        "n_features": 4,
        "n_classes": 3,
        "rows_sha256": h.hexdigest()[:16],
    }
    ds.X_train[64] += 1  # row 65 is not part of it; row 64 is, and so is the label
    assert runs.fingerprint(settings, ds)["rows_sha256"] == h.hexdigest()[:16]
    ds.X_train[63, 0] += 1
    assert runs.fingerprint(settings, ds)["rows_sha256"] != h.hexdigest()[:16]


def test_trained_settings_of_a_model_without_settings_and_with_damaged_ones():
    net = TwoLayerNet(2, 3, 2)
    net.meta = {}
    assert runs.trained_settings(net) == RunSettings(data="digits")
    net.meta = {"data": "npz:d.npz", "settings": {}}
    assert runs.trained_settings(net) == RunSettings(data="npz:d.npz")
    stored = RunSettings(data="npz:e.npz", hidden_size=7, train=TrainConfig(seed=3)).to_dict()
    net.meta = {"data": "npz:d.npz", "settings": stored}
    assert runs.trained_settings(net) == RunSettings(
        data="npz:e.npz", hidden_size=7, train=TrainConfig(seed=3)
    )
    net.meta = {"settings": {**stored, "hidden_size": 0}}
    with pytest.raises(InputError, match=r"^model: meta: settings: field 'hidden_size' must be "):
        runs.trained_settings(net)
    with pytest.raises(InputError, match=r"^m\.npz: meta: settings: field 'hidden_size' must be "):
        runs.trained_settings(net, "m.npz")


def test_prepared_accuracy_of_each_split_is_the_nets_accuracy_on_its_inputs(tmp_path):
    X, y = toy_arrays(n=90, d=5)
    np.savez(tmp_path / "d.npz", X_train=X[:70], y_train=y[:70], X_test=X[70:], y_test=y[70:])
    settings = RunSettings(data=f"npz:{tmp_path / 'd.npz'}", hidden_size=6, val_fraction=0.2)
    ds = runs.load_run_data(settings)
    p = runs.prepare(settings, ds)
    for split in ("train", "val", "test"):
        Xs, ys = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        expected = np.mean(np.argmax(p.net.loss(p.net.transform(Xs)), axis=1) == ys)
        assert p.accuracy(split) == pytest.approx(expected), split
    no_val = dataclasses.replace(ds, X_val=None, y_val=None)
    assert runs.prepare(settings, no_val).accuracy("val") is None


def _npz(tmp_path, n=90, d=5, name="d.npz", **extra):
    X, y = toy_arrays(n=n, d=d)
    np.savez(tmp_path / name, X_train=X, y_train=y, **extra)
    return f"npz:{tmp_path / name}"


def test_build_refuses_an_oversized_net_in_the_command_lines_words(tmp_path, monkeypatch):
    ds5 = runs.load_run_data(RunSettings(data=_npz(tmp_path, d=5)))
    ds2 = runs.load_run_data(RunSettings(data=_npz(tmp_path, d=2, name="e.npz")))
    monkeypatch.setenv("TWOLAYER_MAX_MODEL_BYTES", "1")
    for ds, hidden, words in [
        (ds5, 2, "input features 5 needs 40 bytes for W1 (5×2 float32)"),
        (ds5, 8, "hidden 8 needs 160 bytes for W1 (5×8 float32)"),
        (ds2, 3, "classes 3 needs 36 bytes for W2 (3×3 float32)"),
    ]:
        with pytest.raises(InputError) as e:
            runs.build(RunSettings(data="x", hidden_size=hidden), ds)
        assert str(e.value).startswith(words + ";"), str(e.value)


def test_build_initialises_with_he_or_the_given_std(tmp_path):
    ds = runs.load_run_data(RunSettings(data=_npz(tmp_path, d=50)))
    he = runs.build(RunSettings(data="x", hidden_size=400), ds).params["W1"]
    assert np.std(he) == pytest.approx(np.sqrt(2 / 50), rel=0.05)  # He: sqrt(2 / fan_in)
    small = runs.build(RunSettings(data="x", hidden_size=400, std=1e-3), ds).params["W1"]
    assert np.std(small) == pytest.approx(1e-3, rel=0.05)


def test_resolved_augment_and_make_augment_without_an_image_shape(tmp_path):
    assert runs.resolved_augment("none", (8, 8)) == "none"
    assert runs.resolved_augment("auto", None) == "none"
    assert runs.resolved_augment("auto", (8, 8)) == "shift"
    assert runs.resolved_augment("shift", None) == "shift"
    ds = runs.load_run_data(RunSettings(data=_npz(tmp_path)))
    net = runs.build(RunSettings(data="x", hidden_size=4), ds)
    assert runs.make_augment("auto", net, ds) is None
    with pytest.raises(InputError) as e:
        runs.make_augment("shift", net, ds)
    assert str(e.value) == f"augment='shift' needs image data; {ds.name} rows have no image shape"


def test_prepare_augments_only_when_asked_and_names_each_split_that_overflows(tmp_path):
    write_mnist(tmp_path / "m", n_train=60, n_test=20)
    settings = RunSettings(data=f"mnist:{tmp_path / 'm'}", hidden_size=4)
    ds = runs.load_run_data(settings)
    assert runs.prepare(settings, ds).augment is None
    assert runs.prepare(settings, ds, augment=True).augment is not None
    spec = _npz(tmp_path)
    settings = RunSettings(data=spec, hidden_size=4, preprocess="none")
    ds = runs.load_run_data(settings)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the cast to float32 overflows
        for split in ("train", "val"):
            big = getattr(ds, f"X_{split}") * 1e40
            with pytest.raises(InputError, match=rf"^{spec} \({split} split\): values up to "):
                runs.prepare(settings, dataclasses.replace(ds, **{f"X_{split}": big}))


def test_batch_transform_preprocesses_a_memory_map_in_the_nets_dtype(tmp_path):
    net = TwoLayerNet(2, 3, 2, dtype="float32")
    net.preprocessor = Preprocessor("scale", pixel_max=4.0).fit(np.ones((2, 2)))
    np.save(tmp_path / "x.npy", np.full((3, 2), 2.0))
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    out = runs.batch_transform(net, mm)(mm[:2])
    assert out.dtype == np.float32 and out.tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert runs.batch_transform(net, np.asarray(mm)) is None


def test_load_run_data_seed_rule_and_validation_fraction(tmp_path):
    spec = _npz(tmp_path)

    def rows(ds):
        return ds.X_train.tolist(), ds.X_val.tolist()

    assert rows(runs.load_run_data(RunSettings(data=spec, train=TrainConfig(seed=None)))) == rows(
        load(spec, seed=0, val_fraction=0.1)
    )
    five = RunSettings(data=spec, train=TrainConfig(seed=5))
    assert rows(runs.load_run_data(five)) == rows(load(spec, seed=5, val_fraction=0.1))
    assert rows(runs.load_run_data(five, seed=7)) == rows(load(spec, seed=7, val_fraction=0.1))
    assert len(runs.load_run_data(RunSettings(data=spec, val_fraction=0.3)).y_val) == 27


def test_load_model_data_checks_the_data_fits_the_model_by_name(tmp_path):
    spec = _npz(tmp_path, d=5)
    settings = RunSettings(data=spec, hidden_size=4, train=TrainConfig(seed=2))
    net = runs.build(settings, runs.load_run_data(settings))
    net.save(tmp_path / "m.npz")
    model = str(tmp_path / "m.npz")
    loaded, ds, got = runs.load_model_data(model)
    assert got == settings and loaded.input_size == 5
    assert ds.y_train.tolist() == runs.load_run_data(settings).y_train.tolist()
    other = _npz(tmp_path, d=5, name="o.npz")
    _, ds, _ = runs.load_model_data(model, spec=other, seed=9)
    assert ds.y_train.tolist() == load(other, seed=9, val_fraction=0.1).y_train.tolist()
    wide = _npz(tmp_path, d=6, name="w.npz")
    with pytest.raises(InputError) as e:
        runs.load_model_data(model, spec=wide)
    assert str(e.value) == f"{wide}: data has 6 features but the model {model} expects 5"
    with pytest.raises(InputError) as e:
        runs.load_model_data(net, spec=wide)
    assert str(e.value) == f"{wide}: data has 6 features but the model expects 5"
    X, y = toy_arrays(n=90, d=5)
    np.savez(tmp_path / "k.npz", X_train=X, y_train=np.where(y == 2, 3, y))  # labels 0, 1, 3
    with pytest.raises(InputError) as e:
        runs.load_model_data(net, spec=f"npz:{tmp_path / 'k.npz'}")
    assert (
        str(e.value)
        == f"npz:{tmp_path / 'k.npz'}: train labels reach 3 but the model has 3 classes"
    )


def test_prepared_accuracy_names_a_test_split_that_overflows(tmp_path):
    X, y = toy_arrays(n=90, d=5)
    np.savez(
        tmp_path / "d.npz", X_train=X[:70], y_train=y[:70], X_test=X[70:] * 1e40, y_test=y[70:]
    )
    settings = RunSettings(data=f"npz:{tmp_path / 'd.npz'}", hidden_size=4, preprocess="none")
    ds = runs.load_run_data(settings)
    p = runs.prepare(settings, ds)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(InputError, match=rf"^{ds.name} \(test split\): values up to "):
            p.accuracy("test")
