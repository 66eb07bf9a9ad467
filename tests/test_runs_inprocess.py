"""runs.py's training run, its files and a saved model at work, called in this process on a few
dozen rows (the end-to-end tests of test_runs.py and test_contract.py run the command line).

Every value is checked against a reference computed here: the metrics from the saved model's
weights with NumPy, the files' exact contents, the exact error lines."""

import json
import re
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import write_csv

from twolayer import __version__, runs
from twolayer.checkpoint import History
from twolayer.errors import DivergedError, InputError
from twolayer.io import read_json
from twolayer.locks import Stopped
from twolayer.modelfile import FORMAT_VERSION
from twolayer.net import TwoLayerNet
from twolayer.plots import FIGURES
from twolayer.settings import RunSettings, TrainConfig


def _rows(n=48, d=3, k=2, seed=0, shift=2.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    return rng.normal(size=(n, d)) + shift * y[:, None], y


@pytest.fixture
def spec(tmp_path):
    """48 rows, 3 features, 2 classes that a net tells apart in 2 epochs."""
    X, y = _rows()
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y)
    return f"npz:{tmp_path / 'd.npz'}"


def _settings(spec, **changes):
    return RunSettings(data=spec, hidden_size=8).with_changes(**{"epochs": 2, **changes})


def _forward(net, X):
    """Class indices of the saved weights, written out: relu(x W1 + b1) W2 + b2."""
    p = net.params
    hidden = np.maximum(0, net.transform(X).astype(np.float64) @ p["W1"] + p["b1"])
    return np.argmax(hidden @ p["W2"] + p["b2"], axis=1)


def _error(call, *args, **kw):
    with pytest.raises(InputError) as e:
        call(*args, **kw)
    return str(e.value)


# -- a run and its files -------------------------------------------------------------------
def test_a_run_writes_its_files_and_metrics_that_the_saved_model_reproduces(tmp_path, spec):
    out = tmp_path / "run"
    settings = _settings(spec)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    metrics = runs.run_training(settings, str(out), plots=False)
    assert read_json(out / "metrics.json") == metrics
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".twolayer.lock", "checkpoint.npz", "config.json", "history.csv", "metrics.json"]
        + ["model.npz"]
    )  # no pictures without plots
    ds = runs.load_run_data(settings)
    net = TwoLayerNet.load(out / "model.npz")
    history = History.read_csv(out / "history.csv")
    resolved = settings.with_changes(**metrics["auto"])
    train = resolved.train.to_dict()
    del train["steps_per_epoch"], train["max_steps"]
    finished = datetime.fromisoformat(metrics.pop("finished"))
    assert before <= finished <= datetime.now(timezone.utc)
    assert metrics == {
        **train,
        "train_accuracy": pytest.approx(np.mean(_forward(net, ds.X_train) == ds.y_train)),
        "val_accuracy": pytest.approx(np.mean(_forward(net, ds.X_val) == ds.y_val)),
        "test_accuracy": None,
        "final_loss": pytest.approx(history["loss"][-1], rel=1e-5),
        "epochs": 2,
        "best_epoch": 2,
        "stop_reason": "completed",
        "seconds": pytest.approx(sum(history["seconds"]), abs=2e-3),
        "data": spec,
        "n_train": 43,
        "hidden_size": 8,
        "dtype": "float32",
        "preprocess": "auto",
        "preprocess_resolved": "standardize",
        "augment_resolved": "none",
        "twolayer_version": __version__,
        "auto": metrics["auto"],
    }
    assert metrics["train_accuracy"] > 0.5  # it learned something: no warning
    assert history["epoch"] == [1, 2]
    # config.json: every setting as decided, the data's fingerprint, what the rules decided
    assert read_json(out / "config.json") == {
        **resolved.to_dict(),
        "fingerprint": runs.fingerprint(settings, ds),
        "auto": metrics["auto"],
    }
    assert set(metrics["auto"]) == {
        "batch_size",
        "learning_rate",
        "weight_decay",
        "schedule",
        "patience",
        "monitor",
    }  # hidden_size and epochs were given
    # the model carries what built it
    assert net.meta["data"] == spec and net.meta["settings"] == resolved.to_dict()
    assert net.class_names == ["0", "1"] and net.preprocessor.mode == "standardize"


def test_the_metrics_carry_the_seconds_of_every_epoch_rounded(tmp_path, spec):

    def spy(trainer):
        if trainer.epoch == 2:
            trainer.history["seconds"][:] = [0.12345, 1.0]

    metrics = runs.run_training(_settings(spec), tmp_path / "run", plots=False, on_epoch=spy)
    assert metrics["seconds"] == 1.123  # round(sum, 3)


def test_a_run_with_plots_draws_its_pictures(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out)  # pictures by default
    assert {"loss.png", "accuracy.png", "confusion.png"} <= {p.name for p in out.iterdir()}


def test_a_test_split_is_scored_with_the_saved_model(tmp_path):
    X, y = _rows(n=60)
    np.savez(tmp_path / "t.npz", X_train=X[:48], y_train=y[:48], X_test=X[48:], y_test=y[48:])
    out = tmp_path / "run"
    metrics = runs.run_training(_settings(f"npz:{tmp_path / 't.npz'}"), out, plots=False)
    net = TwoLayerNet.load(out / "model.npz")
    assert metrics["test_accuracy"] == pytest.approx(np.mean(_forward(net, X[48:]) == y[48:]))


def test_the_callbacks_see_the_trainer_and_the_data(tmp_path, spec):
    calls = []
    runs.run_training(
        _settings(spec),
        tmp_path / "run",
        plots=False,
        on_start=lambda t, ds: calls.append(("start", t.epoch, len(ds.y_train))),
        on_epoch=lambda t: calls.append(("epoch", t.epoch)),
        on_batch=lambda *a: calls.append("batch") if not calls or calls[-1] != "batch" else None,
    )
    assert calls == [("start", 0, 43), "batch", ("epoch", 1), "batch", ("epoch", 2)]


def test_threads_are_checked_passed_to_the_loop_and_kept_for_the_scoring(
    tmp_path, spec, monkeypatch
):
    msg = _error(runs.run_training, _settings(spec), tmp_path / "run", threads=0)
    assert msg == "threads must be an integer in 1..1024 (or None: auto), got 0"
    assert not (tmp_path / "run").exists()
    notes, limits = [], []
    real = runs.limited
    monkeypatch.setattr(runs, "limited", lambda n: limits.append(n) or real(n))
    runs.run_training(_settings(spec), tmp_path / "run", plots=False, threads=2, note=notes.append)
    assert limits == [2] and notes and all(isinstance(n, str) for n in notes)


def test_a_run_is_refused_before_its_folder_exists(tmp_path, spec):
    out = tmp_path / "run"
    s = _settings(spec)
    assert (
        _error(runs.run_training, s, out, resume=True, force=True)
        == "--resume and --force contradict each other: pick one"
    )
    assert _error(runs.run_training, s, out, resume=True) == (
        f"{out}: nothing to resume (no config.json); start a new run without --resume"
    )
    assert not out.exists()  # the lock did not create it
    out.write_text("x")
    assert _error(runs.run_training, s, out) == f"{out}: exists and is not a directory"
    assert _error(runs.run_training, s, out, force=True) == f"{out}: exists and is not a directory"


@pytest.mark.parametrize("name", runs.RUN_FILES)
def test_any_file_of_a_run_makes_the_folder_a_run(tmp_path, spec, name):
    out = tmp_path / "run"
    out.mkdir()
    (out / name).write_text("{}")
    assert _error(runs.run_training, _settings(spec), out) == (
        f"{out}: already holds a run; use --resume to continue it or --force to overwrite it"
    )


def test_force_removes_every_file_of_the_old_run_and_stale_temps(tmp_path, spec):
    out = tmp_path / "run"
    out.mkdir()
    old = [*runs.RUN_FILES, *FIGURES, "confusion.json", "report.html", ".model.npz.1a2b.tmp"]
    for name in old:
        (out / name).write_text("old")
    (out / "notes.txt").write_text("mine")
    runs.run_training(_settings(spec), out, force=True, plots=False)
    left = {p.name: p.read_bytes() for p in out.iterdir()}
    assert left.pop("notes.txt") == b"mine"  # not a file of a run
    assert sorted(left) == sorted([".twolayer.lock", *runs.RUN_FILES])
    assert all(v != b"old" for v in left.values())
    # a new folder with only stale temp files is not a run: they are removed
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".config.json.x.tmp").write_text("half")
    runs.run_training(_settings(spec), fresh, plots=False)
    assert not (fresh / ".config.json.x.tmp").exists()


# -- --resume ----------------------------------------------------------------------------
def test_resume_continues_the_stored_run_with_more_epochs(tmp_path, spec):
    out = tmp_path / "run"
    first = runs.run_training(_settings(spec), out, plots=False)
    rows = (out / "history.csv").read_text().splitlines()
    given = {"epochs": ("--epochs", 3), "hidden_size": ("--hidden", 8), "x": ("--x", 1)}
    # the stored settings are used, not the ones passed (a hidden size of 5 is ignored)
    again = runs.run_training(
        _settings(spec, hidden_size=5), out, resume=True, given=given, plots=False
    )
    assert again["epochs"] == 3 and again["hidden_size"] == 8
    assert again["auto"] == first["auto"]  # the record of what the rules decided is kept
    assert read_json(out / "config.json")["train"]["epochs"] == 3
    new_rows = (out / "history.csv").read_text().splitlines()
    assert new_rows[:3] == rows and new_rows[3].startswith("3,")  # continued, not restarted


def test_resume_refuses_a_changed_setting_in_its_spelling(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    given = {"learning_rate": ("--lr", 0.5)}
    auto_lr = read_json(out / "config.json")["train"]["learning_rate"]
    assert _error(runs.run_training, _settings(spec), out, resume=True, given=given) == (
        f"--lr 0.5 differs from the run in {out} ({auto_lr}); on --resume only --epochs may "
        "change: drop the option, or start a new run with --force"
    )
    # the same value as stored is accepted, and the epoch count stays without --epochs
    given = {"learning_rate": ("--lr", auto_lr)}
    metrics = runs.run_training(_settings(spec), out, resume=True, given=given, plots=False)
    assert metrics["epochs"] == 2
    assert "learning_rate" not in metrics["auto"]  # given now: no longer the rules' choice


def test_resume_refuses_other_data_with_the_row_counts(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    X, y = _rows(n=60, seed=1)
    np.savez(spec[4:], X_train=X, y_train=y)
    assert _error(runs.run_training, _settings(spec), out, resume=True) == (
        f"{out}: the run was trained on other data than {spec} gives now (43 rows then, 54 now, "
        "or other rows); resume with the same data or start a new run with --force"
    )


def test_resume_without_a_fingerprint_or_a_checkpoint_starts_from_the_config(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    config = read_json(out / "config.json")
    del config["fingerprint"]
    config["auto"] = ["not", "a", "record"]
    (out / "config.json").write_text(json.dumps(config))
    (out / "checkpoint.npz").unlink()
    metrics = runs.run_training(_settings(spec), out, resume=True, plots=False)
    assert metrics["epochs"] == 2  # trained again from the start
    assert metrics["auto"] == {}  # config.json's values are the settings now; none were auto


def test_names_of_a_stored_auto_record():
    assert runs._names({"lr": 1, 3: 2, "epochs": None}) == {"lr": None, "epochs": None}
    assert runs._names(["lr"]) == {} and runs._names(None) == {}


def test_resumed_settings_and_the_stored_fingerprint(tmp_path):
    stored = RunSettings(data="npz:x.npz", hidden_size=6, train=TrainConfig(epochs=4, seed=3))
    (tmp_path / "config.json").write_text(json.dumps({**stored.to_dict(), "fingerprint": {"a": 1}}))
    assert runs._resumed_settings(tmp_path, None) == (stored, {"a": 1})
    got, _ = runs._resumed_settings(tmp_path, {"epochs": ("-e", 9), "hidden_size": ("-H", 6)})
    assert got == stored.with_changes(epochs=9)
    (tmp_path / "config.json").write_text(json.dumps({**stored.to_dict(), "hidden_size": 0}))
    assert _error(runs._resumed_settings, tmp_path, None).startswith(
        f"{tmp_path / 'config.json'}: field 'hidden_size' must be "
    )


def test_same_data_is_the_same_fingerprint_or_none_stored(tmp_path):
    now = {"n_train": 5, "rows_sha256": "a"}
    s = RunSettings(data="npz:x.npz")
    runs._check_same_data(tmp_path, s, None, now)
    runs._check_same_data(tmp_path, s, dict(now), now)
    assert "(5 rows then, 5 now, or other rows)" in _error(
        runs._check_same_data, tmp_path, s, {**now, "rows_sha256": "b"}, now
    )


# -- stops: divergence, inputs that overflow, interrupts ------------------------------------
def test_a_run_that_diverges_keeps_its_finite_epochs_and_says_so(tmp_path, spec):
    out = tmp_path / "run"

    def blow_up(trainer):
        if trainer.epoch == 2:
            trainer.net.params["W2"][...] = np.inf

    s = _settings(spec, epochs=4)
    with pytest.raises(DivergedError) as e:
        runs.run_training(s, out, plots=False, on_epoch=blow_up)
    metrics = read_json(out / "metrics.json")
    assert metrics["error"] == str(e.value) and "training diverged" in metrics["error"]
    assert metrics["stop_reason"] == "diverged" and metrics["epochs"] >= 2
    assert (out / "model.npz").exists() and (out / "history.csv").exists()
    assert np.isfinite(TwoLayerNet.load(out / "model.npz").params["W2"]).all()


def test_a_run_that_diverges_before_any_finite_epoch_leaves_only_its_error(tmp_path, spec):
    out = tmp_path / "run"
    s = _settings(spec, learning_rate=1e30, optimizer="sgd", schedule="constant", batch_size=8)
    with pytest.raises(DivergedError, match="at step 2;") as e:
        runs.run_training(s, out, plots=False)
    assert read_json(out / "metrics.json") == {"stop_reason": "diverged", "error": str(e.value)}
    assert not (out / "model.npz").exists() and not (out / "history.csv").exists()


def test_inputs_that_overflow_in_training_leave_no_run_but_keep_a_resumed_one(tmp_path):
    X, y = _rows()
    np.savez(tmp_path / "big.npz", X_train=X * 1e30, y_train=y)
    spec = f"npz:{tmp_path / 'big.npz'}"
    out = tmp_path / "run"
    s = _settings(spec, preprocess="none", optimizer="sgd", schedule="constant")
    # one step an epoch: the second step's weights overflow, after the first checkpoint
    with pytest.raises(InputError, match="^training overflowed at step 2 "):
        runs.run_training(s, out, plots=False)
    assert not any((out / f).exists() for f in runs.RUN_FILES)  # no run left behind
    # a resumed run that meets them keeps its config and checkpoint
    runs.run_training(s.with_changes(epochs=1), out, plots=False)
    kept = (out / "checkpoint.npz").read_bytes()
    with pytest.raises(InputError, match="^training overflowed at step 2 "):
        runs.run_training(s, out, resume=True, given={"epochs": ("--epochs", 3)}, plots=False)
    assert (out / "checkpoint.npz").read_bytes() == kept and (out / "config.json").exists()


@pytest.mark.parametrize(
    "stop, word", [(KeyboardInterrupt(), "SIGINT"), (Stopped(signal.SIGTERM), "SIGTERM")]
)
def test_an_interrupted_run_is_finished_with_its_signal(tmp_path, spec, stop, word):
    def interrupt(trainer):
        raise stop

    out = tmp_path / "run"
    metrics = runs.run_training(_settings(spec, epochs=3), out, plots=False, on_epoch=interrupt)
    assert metrics["signal"] == word and metrics["stop_reason"] == "interrupted"
    assert metrics["epochs"] == 1 and read_json(out / "metrics.json") == metrics


def test_a_completed_run_has_no_signal_error_or_warning(tmp_path, spec):
    metrics = runs.run_training(_settings(spec), tmp_path / "run", plots=False)
    assert not {"signal", "error", "warning"} & set(metrics)


def test_the_checkpoint_plan_counts_the_epochs_the_run_will_train(tmp_path, spec, monkeypatch):
    plans = []
    real = runs.throttled

    def spy(save, last_epoch, seconds=runs.CHECKPOINT_SECONDS):
        plans.append((last_epoch, seconds))
        return real(save, last_epoch, seconds)

    monkeypatch.setattr(runs, "throttled", spy)
    runs.run_training(_settings(spec, epochs=3), tmp_path / "run", plots=False)
    assert plans == [(3, 0.5)]


def test_a_checkpoint_is_saved_after_the_first_epoch_of_a_run(tmp_path, spec):
    out = tmp_path / "run"
    seen = []
    runs.run_training(
        _settings(spec, epochs=3),
        out,
        plots=False,
        on_epoch=lambda t: seen.append((t.epoch, (out / "checkpoint.npz").exists())),
    )
    assert seen[0] == (1, True)


def test_throttled_saves_when_the_seconds_have_passed(monkeypatch):
    clock = iter([0.0, 0.0, 0.4, 0.5, 0.5, 0.9, 1.0, 1.0])
    monkeypatch.setattr(runs, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    saved = []
    save = runs.throttled(lambda t: saved.append(t.epoch), last_epoch=99, seconds=0.5)
    for epoch in (1, 2, 3, 4, 5):
        if epoch == 4:
            continue
        save(SimpleNamespace(epoch=epoch, stop_reason=None))
    # epoch 1 at 0.0 (first), epoch 2 at 0.4 (no), epoch 3 at 0.5 (0.5 >= 0.5: yes), epoch 5 at
    # 0.9 (0.4 after the save: no)
    assert saved == [1, 3]


# -- the warnings of a finished run ---------------------------------------------------------
def test_a_run_on_labels_the_features_do_not_tell_warns_that_it_learned_nothing(tmp_path):
    y = np.r_[np.zeros(36, int), np.ones(12, int)]
    np.savez(tmp_path / "f.npz", X_train=np.ones((48, 3)), y_train=y)
    spec = f"npz:{tmp_path / 'f.npz'}"
    metrics = runs.run_training(_settings(spec), tmp_path / "run", plots=False)
    assert metrics["warning"] == (
        "the model learned nothing: validation balanced accuracy 50.0% is no better than chance "
        "(50.0%, as always answering one class); check the labels and features, or try another "
        "--lr or --class-weight balanced (the classes are imbalanced)"
    )


def _judged(y, predicted, split="val", **metrics):
    y = np.asarray(y)
    other = "train" if split == "val" else "val"
    run = SimpleNamespace(
        dataset=SimpleNamespace(**{f"y_{split}": y, f"y_{other}": None}),
        net=SimpleNamespace(output_size=int(y.max()) + 1 if len(y) else 2),
        predict=lambda s: np.asarray(predicted) if s == split else None,
    )
    base = {"val_accuracy": 0.5 if split == "val" else None, "train_accuracy": 0.5}
    return runs.learned_nothing(run, {**base, **metrics})


def test_learned_nothing_names_the_split_chance_and_the_advice_that_applies():
    y = np.array([0] * 9 + [1] * 3)
    assert _judged(y, np.zeros(12, int), split="train") == (
        "the model learned nothing: training balanced accuracy 50.0% is no better than chance "
        "(50.0%, as always answering one class); check the labels and features, or try another "
        "--lr or --preprocess standardize or --class-weight balanced (the classes are imbalanced)"
    )
    # 3 to 1 is imbalanced, 8 to 3 is not
    y = np.array([0] * 8 + [1] * 3)
    assert _judged(y, np.zeros(11, int), preprocess_resolved="standardize").endswith(
        "or try another --lr"
    )
    # balanced accuracy 51% is within 1% of chance; 52% is above
    y = np.array([0] * 50 + [1] * 50)
    near = np.r_[np.zeros(50, int), np.ones(1, int), np.zeros(49, int)]
    assert "balanced accuracy 51.0%" in _judged(y, near)
    above = np.r_[np.zeros(50, int), np.ones(2, int), np.zeros(48, int)]
    assert _judged(y, above) is None
    three = np.r_[np.zeros(50, int), np.ones(1, int), np.zeros(49, int)]
    assert "balanced accuracy 51.0%" in _judged(y, three, class_weight="balanced")


def test_learned_nothing_is_silent_where_it_cannot_judge():
    assert _judged([], []) is None  # no rows
    assert _judged([1, 1, 1], [0, 0, 0]) is None  # one class present
    assert _judged([0, 1], [0, 0], val_accuracy=None, train_accuracy=None) is None
    run = SimpleNamespace(
        dataset=SimpleNamespace(y_val=None, y_train=np.array([0, 1])),
        net=SimpleNamespace(output_size=2),
        predict=lambda s: np.array([0, 0]),
    )
    assert runs.learned_nothing(run, {"val_accuracy": 0.5, "train_accuracy": 0.5}) is None
    one_output = SimpleNamespace(
        dataset=SimpleNamespace(y_val=np.array([0, 1]), y_train=None),
        net=SimpleNamespace(output_size=1),
        predict=lambda s: np.array([0, 0]),
    )
    assert runs.learned_nothing(one_output, {"val_accuracy": 0.5}) is None
    # labels as floats are judged as class indices
    assert _judged(np.array([0.0, 1.0, 0.0, 1.0]), [0, 0, 0, 0]) is not None


def _trainer(loss, val=None, stop="completed"):
    h = {"loss": list(loss), "val_acc": list(val) if val is not None else [None] * len(loss)}
    return SimpleNamespace(history=h, stop_reason=stop, epoch=len(loss))


def _train(schedule="plateau", patience=None, tol=0.0, monitor="val"):
    return SimpleNamespace(
        train=SimpleNamespace(schedule=schedule, patience=patience, tol=tol, monitor=monitor)
    )


def test_unconverged_judges_the_last_tenth_of_the_loss_at_one_percent():
    assert runs.unconverged(_train(), _trainer([1.0, 0.5])) is None  # 2 epochs: no tail to judge
    assert runs.unconverged(_train(), _trainer([1.0])) is None
    assert runs.unconverged(_train(), _trainer([1.0, 0.9, 0.5])) == (
        "training ended at its epoch limit (3) while the training loss was still improving; "
        "raise --epochs to train to convergence"
    )  # the last 2 of 3 epochs (at least 2) against the first
    # 20 epochs: the last 2; a fall of exactly 1% is not improving, a bit more is
    loss = [1.0] * 18
    assert runs.unconverged(_train(), _trainer([*loss, 1.0, 0.99])) is None
    assert runs.unconverged(_train(), _trainer([*loss, 1.0, 0.9899])) is not None
    # 30 epochs: the last 3 (a fall in the third from last counts)
    assert runs.unconverged(_train(), _trainer([1.0] * 27 + [0.5, 0.5, 0.5])) is not None
    assert runs.unconverged(_train(), _trainer([1.0] * 26 + [0.5, 1.0, 1.0, 1.0])) is None


def test_unconverged_with_patience_judges_the_validation_accuracy_beyond_tol():
    loss = [1.0] * 5
    rising = [0.5, 0.5, 0.5, 0.5, 0.6]
    msg = runs.unconverged(_train(patience=1), _trainer(loss, rising))
    assert msg == (
        "training ended at its epoch limit (5) while the validation accuracy was still "
        "improving; raise --epochs to train to convergence"
    )
    assert runs.unconverged(_train(patience=1, tol=0.1), _trainer(loss, rising)) is None
    assert runs.unconverged(_train(patience=1, tol=0.09), _trainer(loss, rising)) is not None
    # the window is the last patience epochs, at most all but the first
    assert (
        runs.unconverged(_train(patience=2), _trainer(loss, [0.5, 0.5, 0.5, 0.6, 0.5])) is not None
    )
    assert (
        runs.unconverged(_train(patience=99), _trainer(loss, [0.5, 0.5, 0.5, 0.5, 0.6])) is not None
    )
    assert runs.unconverged(_train(patience=99), _trainer(loss, [0.6, 0.5, 0.5, 0.5, 0.6])) is None
    # monitoring the loss, or no validation accuracy: judged on the training loss
    falling = [1.0, 1.0, 1.0, 0.5, 0.5]
    for train, val in [
        (_train(patience=1, monitor="loss"), rising),
        (_train(patience=1), [0.5, 0.5, 0.5, 0.5, None]),
        (_train(patience=1), []),
    ]:
        assert "training loss" in runs.unconverged(train, _trainer(falling, val or None))
    plain = SimpleNamespace(train=SimpleNamespace(schedule="plateau", patience=1, tol=0.0))
    assert "validation accuracy" in runs.unconverged(plain, _trainer(loss, rising))


def test_a_run_that_ends_while_improving_warns_in_its_metrics(tmp_path, spec):
    s = _settings(spec, epochs=3, schedule="constant", learning_rate=0.05, patience=None)
    metrics = runs.run_training(s, tmp_path / "run", plots=False)
    assert metrics["warning"] == (
        "training ended at its epoch limit (3) while the training loss was still improving; "
        "raise --epochs to train to convergence"
    )


# -- a finished run, a saved model -------------------------------------------------------------
def test_read_metrics_checks_each_field(tmp_path, spec):
    out = tmp_path / "run"
    metrics = runs.run_training(_settings(spec), out, plots=False)
    assert runs.read_metrics(out / "metrics.json") == metrics
    path = out / "metrics.json"
    for field, value, words in [
        ("val_accuracy", 1.5, "a number in [0, 1] or null"),
        ("final_loss", "x", "a finite number or null"),
        ("epochs", -1, "an integer >= 0"),
        ("best_epoch", 1.5, "an integer >= 0 or null"),
        ("stop_reason", 3, "a string"),
        ("seconds", -1, "a number >= 0"),
        ("hidden_size", 0, "a positive integer"),
        ("auto", [], "an object of settings"),
        ("finished", None, "a string"),
    ]:
        path.write_text(json.dumps({**metrics, field: value}))
        assert _error(runs.read_metrics, path).startswith(
            f"{path}: field {field!r} must be {words}, got "
        )


def test_redraw_draws_a_finished_runs_pictures_from_its_files(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec, val_fraction=0.25), out, plots=False)
    written = runs.redraw(str(out))
    assert set(written) == {"loss.png", "accuracy.png", "confusion.png", "confusion.json"}
    assert all(Path(p).parent == out and Path(p).exists() for p in written.values())
    confusion = read_json(out / "confusion.json")
    # the validation split of the run (val_fraction from config.json): 12 of 48 rows
    assert np.sum(confusion["matrix"]) == 12
    # without history.csv: no curves; without config.json: the model's own settings
    (out / "history.csv").unlink()
    assert set(runs.redraw(out)) == {"confusion.png", "confusion.json"}
    (out / "config.json").unlink()
    assert set(runs.redraw(out)) == {"confusion.png", "confusion.json"}
    assert np.sum(read_json(out / "confusion.json")["matrix"]) == 12


def test_redraw_uses_config_json_over_the_model(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    config = read_json(out / "config.json")
    config["val_fraction"] = 0.5
    (out / "config.json").write_text(json.dumps(config))
    runs.redraw(out)
    assert np.sum(read_json(out / "confusion.json")["matrix"]) == 24
    config["hidden_size"] = 0
    (out / "config.json").write_text(json.dumps(config))
    assert _error(runs.redraw, out).startswith(f"{out / 'config.json'}: field 'hidden_size' ")


def test_redraw_of_images_preprocesses_a_memory_map_per_batch(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 16)).astype(np.uint8)
    (tmp_path / "n").mkdir()
    np.save(tmp_path / "n" / "X_train.npy", X)
    np.save(tmp_path / "n" / "y_train.npy", np.arange(40) % 2)
    out = tmp_path / "run"
    runs.run_training(_settings(f"npy:{tmp_path / 'n'}"), out, plots=False)
    seen = []
    real = runs.plot_run
    monkeypatch.setattr(runs, "plot_run", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    runs.redraw(out)
    kw = seen[0]
    assert isinstance(kw["dataset"].X_train, np.memmap) and kw["transform"] is not None
    assert len(kw["history"]["epoch"]) == 2 and kw["net"].input_size == 16


def test_model_info_describes_a_saved_model(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    path = out / "model.npz"
    settings = read_json(out / "config.json")
    del settings["fingerprint"], settings["auto"]
    assert runs.model_info(path) == {
        "model": str(path),
        "format_version": FORMAT_VERSION,
        "dtype": "float32",
        "input_size": 3,
        "hidden_size": 8,
        "output_size": 2,
        "parameters": 3 * 8 + 8 + 8 * 2 + 2,
        "shapes": {"W1": [3, 8], "b1": [8], "W2": [8, 2], "b2": [2]},
        "classes": ["0", "1"],
        "preprocess": "standardize",
        "image_shape": None,
        "data": spec,
        "settings": settings,
    }


def test_model_info_of_a_bare_model(tmp_path):
    net = TwoLayerNet(2, 3, 4, dtype="float64", seed=0)
    net.save(tmp_path / "m.npz")
    info = runs.model_info(tmp_path / "m.npz")
    assert info["classes"] is None and info["preprocess"] is None and info["image_shape"] is None
    assert info["data"] == "digits" and info["settings"] == RunSettings().to_dict()
    assert info["dtype"] == "float64" and info["parameters"] == 2 * 3 + 3 + 3 * 4 + 4


def test_evaluate_scores_each_split_of_the_runs_data(tmp_path):
    X, y = _rows(n=60)
    np.savez(tmp_path / "t.npz", X_train=X[:48], y_train=y[:48], X_test=X[48:], y_test=y[48:])
    spec = f"npz:{tmp_path / 't.npz'}"
    out = tmp_path / "run"
    settings = _settings(spec, val_fraction=0.25)
    metrics = runs.run_training(settings, out, plots=False)
    net = TwoLayerNet.load(out / "model.npz")
    ds = runs.load_run_data(settings)
    result = runs.evaluate_model(out / "model.npz")
    assert result == {
        "model": str(out / "model.npz"),
        "data": spec,
        "train_accuracy": pytest.approx(np.mean(_forward(net, ds.X_train) == ds.y_train)),
        "val_accuracy": pytest.approx(np.mean(_forward(net, ds.X_val) == ds.y_val)),
        "test_accuracy": pytest.approx(np.mean(_forward(net, X[48:]) == y[48:])),
    }
    assert result["val_accuracy"] == pytest.approx(metrics["val_accuracy"])
    # another seed splits the rows otherwise; the same spec is the run's own data
    other = runs.evaluate_model(out / "model.npz", spec, seed=5)
    ds5 = runs.load_run_data(settings, seed=5)
    assert other["data"] == spec and set(other) == set(result)
    assert other["val_accuracy"] == pytest.approx(np.mean(_forward(net, ds5.X_val) == ds5.y_val))


def test_evaluate_scores_a_csv_file_of_rows_whole_as_a_test_split(tmp_path, spec):
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    net = TwoLayerNet.load(out / "model.npz")
    X, y = _rows(n=30, seed=3)
    write_csv(tmp_path / "held.csv", X, y)
    held = f"csv:{tmp_path / 'held.csv'}"
    assert runs.evaluate_model(out / "model.npz", held) == {
        "model": str(out / "model.npz"),
        "data": held,
        "test_accuracy": pytest.approx(np.mean(_forward(net, X) == y)),
        "rows": 30,
    }
    # other data that is not a csv file is split as in training
    np.savez(tmp_path / "v.npz", X_train=X, y_train=y)
    other = runs.evaluate_model(out / "model.npz", f"npz:{tmp_path / 'v.npz'}")
    assert "rows" not in other and "val_accuracy" in other


def test_evaluate_of_a_run_on_csv_rows_splits_them_as_in_training(tmp_path):
    X, y = _rows(n=40)
    write_csv(tmp_path / "own.csv", X, y)
    spec = f"csv:{tmp_path / 'own.csv'}"
    out = tmp_path / "run"
    runs.run_training(_settings(spec), out, plots=False)
    for given in (None, spec):
        result = runs.evaluate_model(out / "model.npz", given)
        assert "rows" not in result and {"train_accuracy", "val_accuracy"} <= set(result)


def test_prepared_predict_gives_the_class_of_each_row_of_a_split(tmp_path, spec):
    settings = _settings(spec)
    run = runs.prepare(settings, runs.load_run_data(settings))
    ds = run.dataset
    np.testing.assert_array_equal(run.predict("train"), _forward(run.net, ds.X_train))
    np.testing.assert_array_equal(run.predict("val"), _forward(run.net, ds.X_val))
    run.X_val = None
    assert run.predict("val") is None


def test_default_run_dir_is_a_timestamp_under_runs():
    before = datetime.now().replace(microsecond=0)
    path = runs.default_run_dir()
    assert path.parent == Path("runs")
    assert re.fullmatch(r"\d{8}-\d{6}-\d{6}", path.name)
    when = datetime.strptime(path.name, "%Y%m%d-%H%M%S-%f")
    assert before <= when <= datetime.now() + timedelta(seconds=1)


# -- what the first batch left open: names in messages, optional files, streamed images -------
def _confusion(y, predicted, k=2):
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, predicted), 1)
    return cm.tolist()


def _pixel_rows(folder):
    """40 rows of 4×4 uint8 pixels, two classes apart by brightness, saved as npy:FOLDER."""
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    X = (rng.integers(0, 100, (40, 16)) + 150 * y[:, None]).astype(np.uint8)
    folder.mkdir()
    np.save(folder / "X_train.npy", X)
    np.save(folder / "y_train.npy", y)
    return X, y


def test_the_pictures_of_streamed_images_use_the_per_batch_preprocessing(tmp_path):
    X, y = _pixel_rows(tmp_path / "n")
    settings = _settings(f"npy:{tmp_path / 'n'}", val_fraction=0.5, augment="none")
    out = tmp_path / "run"
    runs.run_training(settings, out, plots=True)
    ds = runs.load_run_data(settings)
    assert isinstance(ds.X_val, np.memmap)  # streamed: preprocessed one batch at a time
    net = TwoLayerNet.load(out / "model.npz")
    expected = _confusion(ds.y_val, _forward(net, np.asarray(ds.X_val, float)))
    assert read_json(out / "confusion.json")["matrix"] == expected
    (out / "confusion.json").unlink()
    runs.redraw(out)
    assert read_json(out / "confusion.json")["matrix"] == expected


def test_shifted_images_are_framed_by_the_preprocessed_blank_pixel(tmp_path):
    from helpers import write_mnist

    write_mnist(tmp_path / "m", n_train=40, n_test=10)
    settings = RunSettings(data=f"mnist:{tmp_path / 'm'}", hidden_size=4, preprocess="standardize")
    run = runs.prepare(settings, runs.load_run_data(settings), augment=True)
    blank = run.net.transform(np.zeros((1, 784)))[0]
    assert np.abs(blank).max() > 0.1  # a standardized 0 is not 0
    xb = np.full((64, 784), 7.0, dtype=run.net.dtype)
    run.augment(xb, np.random.default_rng(0))
    framed = xb != 7.0
    assert framed.any()
    np.testing.assert_allclose(xb[framed], np.broadcast_to(blank, xb.shape)[framed], rtol=1e-6)


def test_evaluate_names_the_rows_that_overflow(tmp_path):
    X, y = _rows(n=60)
    own = f"npz:{tmp_path / 't.npz'}"
    np.savez(tmp_path / "t.npz", X_train=X[:48], y_train=y[:48], X_test=X[48:], y_test=y[48:])
    out = tmp_path / "run"
    runs.run_training(_settings(own, preprocess="none"), out, plots=False)
    np.savez(
        tmp_path / "t.npz", X_train=X[:48], y_train=y[:48], X_test=X[48:] * 1e39, y_test=y[48:]
    )
    model = out / "model.npz"
    words = "row 0 gives non-finite class scores: its values (after preprocessing) overflow float32"
    with pytest.raises(InputError) as e, np.errstate(over="ignore"):
        runs.evaluate_model(model)
    assert str(e.value).startswith(f"{own} (test split): {words}")
    write_csv(tmp_path / "big.csv", X * 1e39, y)
    with pytest.raises(InputError) as e, np.errstate(over="ignore"):
        runs.evaluate_model(model, f"csv:{tmp_path / 'big.csv'}")
    assert str(e.value).startswith(f"csv:{tmp_path / 'big.csv'} (all rows): {words}")
    np.savez(tmp_path / "big.npz", X_train=X * 1e39, y_train=y)
    with pytest.raises(InputError) as e, np.errstate(over="ignore"):
        runs.evaluate_model(model, f"npz:{tmp_path / 'big.npz'}")
    assert str(e.value).startswith(f"npz:{tmp_path / 'big.npz'} (train split): {words}")


def test_a_test_split_that_overflows_is_refused_before_training(tmp_path):
    X, y = _rows(n=60)
    np.savez(
        tmp_path / "t.npz", X_train=X[:48], y_train=y[:48], X_test=X[48:] * 1e39, y_test=y[48:]
    )
    spec = f"npz:{tmp_path / 't.npz'}"
    out = tmp_path / "run"
    trained = []
    with np.errstate(over="ignore"):
        msg = _error(
            runs.run_training,
            _settings(spec, preprocess="none"),
            out,
            plots=False,
            on_start=lambda t, ds: trained.append(1),
        )
    assert msg.startswith(f"{spec} (test split): values up to 3e39: scale them")
    assert not trained and not out.exists()  # refused before training, nothing left


def test_the_lock_names_the_training_command_while_it_runs(tmp_path, spec):
    out = tmp_path / "run"
    notes = []
    runs.run_training(
        _settings(spec),
        out,
        plots=False,
        on_start=lambda t, ds: notes.append((out / ".twolayer.lock").read_text()),
    )
    assert re.fullmatch(r"process \d+ on .+ \(twolayer train, since \d\d:\d\d:\d\d\)", notes[0])


def test_force_on_a_folder_with_one_file_of_a_run(tmp_path, spec):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    metrics = runs.run_training(_settings(spec), out, force=True, plots=False)
    assert read_json(out / "metrics.json") == metrics


def test_inputs_that_overflow_before_the_first_checkpoint_leave_no_run(tmp_path):
    X, y = _rows()
    np.savez(tmp_path / "big.npz", X_train=X * 1e30, y_train=y)
    out = tmp_path / "run"
    s = _settings(
        f"npz:{tmp_path / 'big.npz'}",
        preprocess="none",
        optimizer="sgd",
        schedule="constant",
        batch_size=8,
    )
    with pytest.raises(InputError, match="^training overflowed at step 2 "):
        runs.run_training(s, out, plots=False)
    assert not any((out / f).exists() for f in runs.RUN_FILES)


def test_resume_refuses_the_checkpoint_of_a_run_on_other_data(tmp_path, spec):
    a, b = tmp_path / "a", tmp_path / "b"
    runs.run_training(_settings(spec), a, plots=False)
    X, y = _rows(seed=1)
    np.savez(tmp_path / "e.npz", X_train=X, y_train=y)
    runs.run_training(_settings(f"npz:{tmp_path / 'e.npz'}"), b, plots=False)
    (a / "checkpoint.npz").write_bytes((b / "checkpoint.npz").read_bytes())
    given = {"epochs": ("--epochs", 3)}
    msg = _error(runs.run_training, _settings(spec), a, resume=True, given=given)
    assert msg.startswith(f"{a / 'checkpoint.npz'}: ") and "another run" in msg


def test_a_missing_metrics_or_run_configuration_is_named(tmp_path):
    assert _error(runs.read_metrics, tmp_path / "metrics.json") == (
        f"{tmp_path / 'metrics.json'}: metrics not found"
    )
    assert _error(runs._resumed_settings, tmp_path, None) == (
        f"{tmp_path / 'config.json'}: run configuration not found"
    )


def test_streamed_rows_train_as_the_same_rows_in_memory(tmp_path):
    X, y = _pixel_rows(tmp_path / "n")
    np.savez(tmp_path / "m.npz", X_train=X, y_train=y)
    weights = []
    for spec in (f"npy:{tmp_path / 'n'}", f"npz:{tmp_path / 'm.npz'}"):
        out = tmp_path / spec[:3]
        runs.run_training(_settings(spec), out, plots=False)
        weights.append(TwoLayerNet.load(out / "model.npz").params["W1"])
    assert isinstance(runs.load_run_data(_settings(f"npy:{tmp_path / 'n'}")).X_train, np.memmap)
    np.testing.assert_array_equal(weights[0], weights[1])


def test_image_runs_train_on_shifted_images(tmp_path):
    from helpers import write_mnist

    write_mnist(tmp_path / "m", n_train=40, n_test=10)
    spec = f"mnist:{tmp_path / 'm'}"
    weights = {}
    for augment in ("auto", "none"):
        out = tmp_path / augment
        metrics = runs.run_training(_settings(spec, augment=augment), out, plots=False)
        assert metrics["augment_resolved"] == {"auto": "shift", "none": "none"}[augment]
        weights[augment] = TwoLayerNet.load(out / "model.npz").params["W1"]
    assert not np.array_equal(weights["auto"], weights["none"])


def test_resume_checks_every_given_setting_whatever_their_order(tmp_path):
    stored = RunSettings(data="npz:x.npz", hidden_size=6, train=TrainConfig(epochs=4))
    (tmp_path / "config.json").write_text(json.dumps(stored.to_dict()))
    given = {"epochs": ("--epochs", 9), "threads": ("--threads", 2), "hidden_size": ("-H", 7)}
    assert _error(runs._resumed_settings, tmp_path, given).startswith("-H 7 differs from the run")


def test_unconverged_with_patience_judges_from_the_second_epoch():
    loss = [1.0, 1.0]
    msg = runs.unconverged(_train(patience=1), _trainer(loss, [0.5, 0.6]))
    assert "epoch limit (2) while the validation accuracy" in msg
    # all but the first epoch: a gain in the second counts when patience covers it
    scores = [0.5, 0.6, 0.5, 0.5, 0.5]
    assert runs.unconverged(_train(patience=99), _trainer([1.0] * 5, scores)) is not None
    assert runs.unconverged(_train(patience=3), _trainer([1.0] * 5, scores)) is None


# -- the survivors of the first mutation run ----------------------------------------------------
def test_a_run_trains_on_the_data_set_it_is_given(tmp_path, spec):
    X, y = _rows(n=30, seed=4)
    np.savez(tmp_path / "o.npz", X_train=X, y_train=y)
    other = runs.load_run_data(RunSettings(data=f"npz:{tmp_path / 'o.npz'}"))
    metrics = runs.run_training(_settings(spec), tmp_path / "run", dataset=other, plots=False)
    assert metrics["n_train"] == len(other.y_train) == 27


def test_the_test_split_is_carved_with_the_next_seed_and_named_by_the_data(tmp_path):
    from twolayer.data import load
    from twolayer.data.dataset import split_validation

    X, y = _rows(n=40)
    np.savez(tmp_path / "c.npz", X_train=X, y_train=y)
    spec = f"npz:{tmp_path / 'c.npz'}"
    s = RunSettings(data=spec, test_fraction=0.25, train=TrainConfig(seed=3))
    ds, whole = runs.load_run_data(s), load(spec, seed=3, val_fraction=0.1)
    _, _, X_test, y_test = split_validation(whole.X_train, whole.y_train, 0.25, 4)
    np.testing.assert_array_equal(ds.X_test, X_test)
    np.testing.assert_array_equal(ds.y_test, y_test)
    np.savez(tmp_path / "two.npz", X_train=X[:2], y_train=y[:2])
    two = f"npz:{tmp_path / 'two.npz'}"
    assert _error(runs.load_run_data, RunSettings(data=two, test_fraction=0.5)) == (
        f"{two}: cannot carve a validation split: 1 sample would leave none for training at "
        "fraction 0.5"
    )


def test_a_run_stopped_in_its_first_epoch_has_no_final_loss(tmp_path, spec):
    def stop(trainer):
        raise KeyboardInterrupt

    metrics = runs.run_training(_settings(spec), tmp_path / "run", plots=False, on_batch=stop)
    assert metrics["final_loss"] is None and metrics["epochs"] == 0
    assert metrics["stop_reason"] == "interrupted"


def test_both_warnings_of_a_run_are_kept_in_one_line(tmp_path):
    y = np.r_[np.zeros(36, int), np.ones(12, int)]
    np.savez(tmp_path / "f.npz", X_train=np.ones((48, 3)), y_train=y)
    s = _settings(f"npz:{tmp_path / 'f.npz'}", epochs=3, schedule="constant", patience=None)
    warning = runs.run_training(s, tmp_path / "run", plots=False)["warning"]
    nothing, unconverged = warning.split("; training ended")
    assert nothing.startswith("the model learned nothing: ") and nothing.endswith("imbalanced)")
    assert (
        unconverged
        == " at its epoch limit (3) while the training loss was still improving; "
        + ("raise --epochs to train to convergence")
    )


def test_unconverged_compares_the_last_epochs_with_the_ones_before():
    # 3 epochs: the last 2 (a fall in the second epoch counts) against the first
    assert runs.unconverged(_train(), _trainer([1.0, 0.5, 1.0])) is not None


def test_model_info_of_an_image_model_gives_its_image_shape(tmp_path):
    from helpers import write_mnist

    write_mnist(tmp_path / "m", n_train=40, n_test=10)
    out = tmp_path / "run"
    runs.run_training(_settings(f"mnist:{tmp_path / 'm'}"), out, plots=False)
    info = runs.model_info(out / "model.npz")
    assert info["image_shape"] == [28, 28] and info["preprocess"] == "scale"
