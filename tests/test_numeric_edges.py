"""Numeric edge cases: a huge learning rate, huge inputs, constant inputs, a single class, classes
missing from a split. Each ends in a clear message or a sensible result, never NaN weights on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.errors import DivergedError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((150, 5))
Y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)  # three classes, learnable


def finite_model(path):
    net = TwoLayerNet.load(path)  # load itself refuses NaN or infinite arrays
    assert all(np.isfinite(v).all() for v in net.params.values())
    return net


def train(tmp_path, name, arrays, *extra, epochs=5):
    np.savez(tmp_path / f"{name}.npz", **arrays)
    out = tmp_path / f"run-{name}"
    code = main(
        [
            "train",
            "--data",
            f"npz:{tmp_path / name}.npz",
            "--epochs",
            str(epochs),
            "--hidden",
            "16",
            "--out",
            str(out),
            "-q",
            "--json",
            *extra,
        ]
    )
    return code, out


def no_nan_on_disk(out):
    for f in ("model.npz", "checkpoint.npz"):
        if (out / f).exists():
            arrays = dict(np.load(out / f, allow_pickle=False))
            # weights only: Adam's second moment may overflow to inf in float32 and stall (not corrupt) training
            bad = [
                k
                for k, v in arrays.items()
                if not k.startswith("opt_") and v.dtype.kind == "f" and not np.isfinite(v).all()
            ]
            assert not bad, f"{f}: non-finite weights {bad}"


# -- a huge learning rate ------------------------------------------------------------------------------------
def test_huge_lr_with_patience_keeps_the_best_finite_weights(tmp_path, capsys):
    code, out = train(
        tmp_path,
        "data",
        dict(X_train=X, y_train=Y),
        "--optimizer",
        "sgd",
        "--lr",
        "1e9",
        "--patience",
        "3",
        epochs=20,
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "diverged" in err[0] and "best weights (epoch" in err[0] and "smaller --lr" in err[0]
    finite_model(out / "model.npz")
    no_nan_on_disk(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stop_reason"] == "diverged" and "diverged" in metrics["error"]


def test_huge_lr_classic_api_raises_diverged_and_saves_nothing_non_finite(tmp_path):
    np.random.seed(0)
    net = TwoLayerNet(5, 16, 3, std=0.1)
    with pytest.raises(DivergedError, match="diverged"):
        net.train(X, Y, X, Y, learning_rate=1e30, num_iters=50)
    try:
        net.save(tmp_path / "m.npz")
    except ValueError as e:  # refusing to write non-finite weights is also a clear ending
        assert "NaN or infinite" in str(e) and not (tmp_path / "m.npz").exists()
    else:
        finite_model(tmp_path / "m.npz")


def test_huge_lr_estimator_ends_in_diverged_or_finite_weights():
    from twolayer.estimator import TwoLayerClassifier

    # n_iter_no_change=60: no stop on a stalled loss before the 60 epochs in which it must diverge
    clf = TwoLayerClassifier(
        optimizer="sgd", learning_rate=1e9, max_epochs=60, n_iter_no_change=60, random_state=0
    )
    with pytest.raises(DivergedError, match=r"smaller learning_rate \(now 1e\+09\)"):
        clf.fit(X, Y)


def test_saving_non_finite_weights_is_refused(tmp_path):
    net = TwoLayerNet(5, 4, 3, std=0.1, seed=0)
    net.params["W2"][0, 0] = np.inf
    with pytest.raises(ValueError, match="W2"):
        net.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


# -- huge inputs -----------------------------------------------------------------------------------------
def test_huge_inputs_are_standardised_into_the_same_run(tmp_path, capsys):
    """Standardisation makes 1e30-scaled data train exactly like the original (up to rounding)."""
    code, plain = train(tmp_path, "plain", dict(X_train=X, y_train=Y))
    code_huge, huge = train(tmp_path, "huge", dict(X_train=X * 1e30, y_train=Y))
    assert code == code_huge == 0
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (plain, huge))
    assert a["val_accuracy"] == pytest.approx(b["val_accuracy"], abs=0.02)
    assert a["train_accuracy"] == pytest.approx(b["train_accuracy"], abs=0.02)
    finite_model(huge / "model.npz")
    no_nan_on_disk(huge)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_inputs_without_preprocessing_end_cleanly(tmp_path, capsys, dtype):
    code, out = train(
        tmp_path,
        "huge",
        dict(X_train=X * 1e30, y_train=Y),
        "--preprocess",
        "none",
        "--dtype",
        dtype,
    )
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err
    if code == 1:
        assert "diverged" in err and len(err.strip().splitlines()) == 1
    else:
        finite_model(out / "model.npz")
    no_nan_on_disk(out)


@pytest.mark.parametrize(
    "dtype, scale", [(np.float32, 1e30), (np.float64, 1e30), (np.float64, 1e300)]
)
def test_huge_inputs_give_a_finite_loss(dtype, scale):
    net = TwoLayerNet(5, 16, 3, std=0.1, dtype=dtype, seed=0)
    loss, grads = net.loss((X * scale).astype(dtype), Y, reg=0.1)
    assert np.isfinite(loss) and loss >= 0
    assert all(np.isfinite(g).all() for g in grads.values())


# -- constant inputs -------------------------------------------------------------------------------------
def test_constant_inputs_train_to_a_constant_prediction(tmp_path, capsys):
    const = np.full((150, 5), 3.0)
    code, out = train(tmp_path, "const", dict(X_train=const, y_train=Y))
    assert code == 0
    net = finite_model(out / "model.npz")
    pred = net.predict(const)
    assert len(set(pred)) == 1  # nothing to tell rows apart: one class for all
    capsys.readouterr()
    np.save(tmp_path / "rows.npy", const[:4])
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "rows.npy")]) == 0
    assert len(set(capsys.readouterr().out.split())) == 1


def test_constant_inputs_estimator():
    from twolayer.estimator import TwoLayerClassifier

    clf = TwoLayerClassifier(max_epochs=30, random_state=0).fit(np.ones((150, 5)), Y)
    proba = clf.predict_proba(np.ones((3, 5)))
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)
    # the best constant guess is the most frequent class
    assert (clf.predict(np.ones((3, 5))) == np.bincount(Y).argmax()).all()


# -- a single class, classes missing from a split --------------------------------------------------------
def test_single_class_cli(tmp_path, capsys):
    code, out = train(tmp_path, "one", dict(X_train=X, y_train=np.zeros(150, int)))
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_accuracy"] == metrics["val_accuracy"] == 1.0
    net = finite_model(out / "model.npz")
    assert net.output_size == 1 and net.class_names == ["0"]


def test_single_class_estimator():
    from twolayer.estimator import TwoLayerClassifier

    clf = TwoLayerClassifier(max_epochs=3, random_state=0).fit(X, np.full(150, 7))
    assert (clf.predict(X[:5]) == 7).all()
    assert np.allclose(clf.predict_proba(X[:5]), 1.0)


def test_classes_missing_from_validation_and_test(tmp_path, capsys):
    arrays = dict(
        X_train=X,
        y_train=Y,
        X_val=X[Y != 2][:20],
        y_val=Y[Y != 2][:20],
        X_test=X[Y == 0][:10],
        y_test=Y[Y == 0][:10],
    )
    code, out = train(tmp_path, "gaps", arrays, epochs=30)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(0 <= metrics[f"{s}_accuracy"] <= 1 for s in ("train", "val", "test"))
    assert metrics["test_accuracy"] > 0.5  # class 0 is the easiest corner; trained, not chance
    net = finite_model(out / "model.npz")
    assert net.output_size == 3
    capsys.readouterr()
    assert (
        main(
            ["evaluate", str(out / "model.npz"), "--data", f"npz:{tmp_path / 'gaps.npz'}", "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == pytest.approx(
        metrics["test_accuracy"]
    )


def test_class_missing_from_training_labels(tmp_path, capsys):
    """Labels 0 and 2 only: the output layer still has 3 classes and class 1 is never predicted."""
    keep = Y != 1
    code, out = train(tmp_path, "skip", dict(X_train=X[keep], y_train=Y[keep]), epochs=30)
    assert code == 0
    net = finite_model(out / "model.npz")
    assert net.output_size == 3
    assert 1 not in set(net.predict(X[keep]))


def test_estimator_classes_missing_from_a_partial_fit_batch():
    from twolayer.estimator import TwoLayerClassifier

    clf = TwoLayerClassifier(random_state=0).partial_fit(X[Y != 2], Y[Y != 2], classes=[0, 1, 2])
    proba = clf.predict_proba(X[:4])
    assert proba.shape == (4, 3) and np.allclose(proba.sum(axis=1), 1)


def test_a_divergence_under_an_auto_learning_rate_advises_the_rate_it_ran_with(tmp_path, capsys):
    # --lr left at auto: the retry advice divides the rate the rules chose, never the word 'auto'
    code = main(
        ["train", "--weight-decay", "3e20", "--epochs", "1", "--out", str(tmp_path / "r"), "-q"]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "diverged" in err and "(now 0.002)" in err and "--lr 0.0002 --force" in err, err
