"""twolayer.callbacks: epoch callbacks, the plateau schedule, scoring= and gradient clipping,
through TwoLayerClassifier and the Trainer."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from twolayer import TwoLayerClassifier  # noqa: E402
from twolayer.callbacks import ReduceLROnPlateau, clip_grad_norm, run_all  # noqa: E402

X, y = load_digits(return_X_y=True)
X, y = X[:600], y[:600]


def test_a_callback_sees_every_epoch_and_may_stop_training():
    seen = []

    def cb(trainer):
        seen.append((trainer.history["epoch"][-1], trainer.history["loss"][-1]))
        return trainer.epoch == 3

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped by the callback: no warning
        clf = TwoLayerClassifier(max_epochs=50, random_state=0, callbacks=[cb]).fit(X, y)
    assert [e for e, _ in seen] == [1, 2, 3]
    assert clf.n_iter_ == 3 and [loss for _, loss in seen] == clf.loss_curve_
    clf.partial_fit(X, y)
    assert len(seen) == 4  # partial_fit runs them too


def test_callback_objects_and_bad_callbacks():
    class Recorder:
        def __init__(self):
            self.lrs = []

        def on_epoch_end(self, trainer):
            self.lrs.append(trainer.history["lr"][-1])

    rec = Recorder()
    TwoLayerClassifier(max_epochs=4, random_state=0, callbacks=[rec], n_iter_no_change=100).fit(
        X, y
    )
    assert len(rec.lrs) == 4
    with pytest.raises(ValueError, match="neither callable nor has an on_epoch_end"):
        TwoLayerClassifier(max_epochs=2, callbacks=[42]).fit(X, y)


def _fake(losses):
    t = types.SimpleNamespace(lr_scale=1.0, history={"loss": [], "val_acc": []}, val_scores=[])
    return t, losses


def test_reduce_lr_on_plateau_counts_epochs_without_improvement():
    plateau = ReduceLROnPlateau(factor=0.5, patience=2, tol=0.01)
    t, losses = _fake([1.0, 0.5, 0.499, 0.498, 0.3, 0.3, 0.3, 0.3, 0.3])
    scales = []
    for loss in losses:
        t.history["loss"].append(loss)
        t.history["val_acc"].append(None)
        plateau.on_epoch_end(t)
        scales.append(t.lr_scale)
    # 0.499 and 0.498 do not beat 0.5 by tol: halve after the second; then 0.3 x4 -> halve twice
    assert scales == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]
    with pytest.raises(ValueError, match="factor must be in"):
        ReduceLROnPlateau(factor=1.5)


def test_plateau_schedule_lowers_the_rate_the_loop_uses():
    lrs = []
    clf = TwoLayerClassifier(
        schedule="plateau",
        learning_rate=0.5,
        optimizer="sgd",
        tol=0.05,  # gains under 0.05 in the loss count as a plateau
        max_epochs=30,
        n_iter_no_change=30,
        random_state=0,
        callbacks=[lambda t: lrs.append(t.history["lr"][-1])],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert lrs[0] == 0.5 and min(lrs) < 0.5
    assert all(b in (a, a / 2) for a, b in zip(lrs, lrs[1:]))  # only ever halved


def test_scoring_drives_early_stopping_and_validation_scores():
    clf = TwoLayerClassifier(
        early_stopping=True, scoring="neg_log_loss", random_state=0, max_epochs=40
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert all(s < 0 for s in clf.validation_scores_)  # log losses, not accuracies
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    f1 = TwoLayerClassifier(
        early_stopping=True,
        scoring=lambda est, Xv, yv: f1_score(yv, est.predict(Xv), average="macro"),
        random_state=0,
        max_epochs=5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f1.fit(X, y)
    assert len(f1.validation_scores_) == f1.n_iter_
    with pytest.raises(ValueError, match="scoring= needs early_stopping=True"):
        TwoLayerClassifier(scoring="f1_macro", early_stopping=False).fit(X, y)
    # early_stopping='auto' turns the validation split on for a score computed on it
    auto = TwoLayerClassifier(scoring="f1_macro", max_epochs=5, random_state=0).fit(X, y)
    assert auto.auto_params_["early_stopping"] and len(auto.validation_scores_) == auto.n_iter_


def test_clip_grad_norm_against_numpy():
    rng = np.random.default_rng(0)
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    flat = np.concatenate([g.ravel() for g in grads.values()])
    before = clip_grad_norm(grads, 0.5)
    assert before == pytest.approx(np.linalg.norm(flat))
    after = np.concatenate([g.ravel() for g in grads.values()])
    assert np.linalg.norm(after) == pytest.approx(0.5)
    np.testing.assert_allclose(after, flat * 0.5 / np.linalg.norm(flat))
    small = {"a": np.full(2, 0.1)}
    clip_grad_norm(small, 1.0)
    np.testing.assert_array_equal(small["a"], 0.1)  # under the bound: untouched


def test_clipping_bounds_every_step_of_the_loop():
    params = dict(optimizer="sgd", learning_rate=0.1, max_epochs=1, batch_size=600)
    free = TwoLayerClassifier(random_state=0, **params).fit(X, y)
    clipped = TwoLayerClassifier(random_state=0, clip_grad_norm=1e-3, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clipped.fit(X, y)
    init = TwoLayerClassifier(random_state=0, **{**params, "learning_rate": 1e-300}).fit(X, y)
    step = np.sqrt(
        sum(
            np.sum((a - b) ** 2)
            for a, b in zip(clipped.coefs_ + clipped.intercepts_, init.coefs_ + init.intercepts_)
        )
    )
    free_step = np.sqrt(
        sum(
            np.sum((a - b) ** 2)
            for a, b in zip(free.coefs_ + free.intercepts_, init.coefs_ + init.intercepts_)
        )
    )
    assert step == pytest.approx(0.1 * 1e-3, rel=1e-6)  # one step of lr x the clipped norm
    assert free_step > 100 * step


def test_run_all_leaves_an_earlier_stop_reason():
    t = types.SimpleNamespace(stop_reason="early_stopping")
    run_all([lambda trainer: True])(t)
    assert t.stop_reason == "early_stopping"


def test_a_scorer_that_never_improves_stops_after_n_iter_no_change():
    flat = TwoLayerClassifier(
        early_stopping=True,
        scoring=lambda est, Xv, yv: 0.0,
        n_iter_no_change=3,
        max_epochs=50,
        random_state=0,
    ).fit(X, y)
    assert flat.n_iter_ == 4 and flat.validation_scores_ == [0.0] * 4


def test_plateau_schedule_on_the_command_line(tmp_path):
    """--schedule plateau: a rate too small to change anything leaves the validation accuracy
    flat, so the rate halves after every 3 epochs without a gain."""
    import csv

    from twolayer.cli import main

    out = tmp_path / "run"
    argv = ["train", "--schedule", "plateau", "--epochs", "8", "--lr", "1e-9", "--hidden", "8"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    with open(out / "history.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    assert lrs == pytest.approx([1e-9] * 4 + [5e-10] * 3 + [2.5e-10])


def test_clip_grad_norm_on_the_command_line(tmp_path, capsys):
    """--clip-grad-norm reaches the loop (a tiny bound slows plain SGD; Adam is blind to the scale) and is checked by its rule."""
    import json

    from twolayer.cli import main

    argv = [
        "train",
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--lr",
        "0.05",
        "--optimizer",
        "sgd",
        "-q",
        "--json",
        "--no-plots",
    ]
    losses = {}
    for clip in (None, "1e-4"):
        extra = [] if clip is None else ["--clip-grad-norm", clip]
        assert main([*argv, "--out", str(tmp_path / str(clip)), *extra]) == 0
        losses[clip] = json.loads(capsys.readouterr().out)["final_loss"]
    assert losses["1e-4"] > losses[None] + 0.1
    for bad in ("0", "-1", "nan", "abc"):
        code = main([*argv, "--out", str(tmp_path / "bad"), "--clip-grad-norm", bad])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "--clip-grad-norm" in err, err


def test_the_estimator_checks_clip_grad_norm():
    with pytest.raises(
        ValueError,
        match=r"clip_grad_norm must be a finite number > 0 or None \(no clipping\), got -1$",
    ):
        TwoLayerClassifier(clip_grad_norm=-1, max_epochs=1).fit(X, y)
