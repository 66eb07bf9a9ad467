"""The run directory's guarantees: one writer at a time, resume continues the same run or refuses,
every stop (Ctrl-C, SIGTERM, SIGHUP, a failed picture) leaves a finished or a resumable folder."""

import json
import shlex
import shutil
import signal
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import cli_argv, run_cli, run_python

from twolayer import locks, runs
from twolayer.cli import main
from twolayer.io import read_json

FAST = ["--hidden", "8", "--epochs", "2", "--quiet"]


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("twolayer: error: ") and "Traceback" not in err
    ), err
    return lines[0]


# -- resume continues the same run or refuses ----------------------------------------------
def test_resume_refuses_a_changed_option_by_name(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--out", out, *FAST]) == 0
    assert main(["train", "--out", out, "--resume", "--lr", "0.1", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "--lr 0.1 differs from the run" in line and "only --epochs may change" in line
    assert main(["train", "--out", out, "--resume", "--hidden", "9", "--quiet"]) == 2
    assert "--hidden 9 differs" in one_error_line(capsys)
    # the same values as stored, and a new epoch count, are accepted
    assert (
        main(
            [
                "train",
                "--out",
                out,
                "--resume",
                "--hidden",
                "8",
                "--epochs",
                "3",
                "--quiet",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["epochs"] == 3


def test_resume_refuses_a_foreign_checkpoint(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", "--out", str(a), *FAST]) == 0
    assert main(["train", "--out", str(b), "--hidden", "16", "--epochs", "2", "--quiet"]) == 0
    shutil.copy(b / "checkpoint.npz", a / "checkpoint.npz")
    assert main(["train", "--out", str(a), "--resume", "--epochs", "3", "--quiet"]) == 2
    assert "belongs to another run" in one_error_line(capsys)


def test_resume_refuses_other_data(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, X_train=rng.standard_normal((60, 5)), y_train=np.arange(60) % 3)
    out = str(tmp_path / "run")
    assert main(["train", "--data", f"npz:{data}", "--out", out, *FAST]) == 0
    capsys.readouterr()  # random labels: the first run's "learned nothing" warning
    np.savez(
        data, X_train=rng.standard_normal((60, 5)), y_train=np.arange(60) % 3
    )  # same shapes, other rows
    assert main(["train", "--out", out, "--resume", "--epochs", "3", "--quiet"]) == 2
    assert "other data" in one_error_line(capsys)


def test_resume_refuses_a_checkpoint_trained_with_other_settings(tmp_path):
    from twolayer.errors import InputError
    from twolayer.net import TwoLayerNet
    from twolayer.train import TrainConfig, Trainer

    X, y = np.random.default_rng(0).standard_normal((20, 3)), np.arange(20) % 2
    t = Trainer(TwoLayerNet(3, 4, 2, seed=0), TrainConfig(epochs=1, optimizer="adam"))
    t.fit(X, y)
    t.save_checkpoint(tmp_path / "c.npz")
    with pytest.raises(InputError, match="optimizer='adam'.*another run"):
        Trainer(
            TwoLayerNet(3, 4, 2, seed=0), TrainConfig(epochs=2, optimizer="sgd")
        ).load_checkpoint(tmp_path / "c.npz")
    with pytest.raises(
        InputError, match="W1 is float64 \\(3, 4\\) but this run's model has float64 \\(3, 5\\)"
    ):
        Trainer(
            TwoLayerNet(3, 5, 2, seed=0), TrainConfig(epochs=2, optimizer="adam")
        ).load_checkpoint(tmp_path / "c.npz")
    # the same run, with more epochs, continues
    Trainer(TwoLayerNet(3, 4, 2, seed=0), TrainConfig(epochs=3, optimizer="adam")).load_checkpoint(
        tmp_path / "c.npz"
    )


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("epoch", "3", "field 'epoch' must be an integer >= 0, got '3'"),
        ("epoch", -1, "field 'epoch' must be an integer >= 0, got -1"),
        ("history", [], "field 'history' must be an object of lists"),
        ("config", None, "field 'config' must be an object"),
        ("rng", {"kind": "generator", "state": 5}, "field 'rng' is damaged"),
    ],
)
def test_a_damaged_checkpoint_field_is_named(tmp_path, capsys, field, value, words):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *FAST]) == 0
    arrays = dict(np.load(out / "checkpoint.npz"))
    state = json.loads(str(arrays["state"][()]))
    state[field] = value
    arrays["state"] = np.array(json.dumps(state))
    np.savez(out / "checkpoint.npz", **arrays)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "checkpoint.npz" in line and words in line


@pytest.mark.parametrize("content", ["", "{", '{"hidden_size": "big"}', '{"train": 3}', "[]"])
def test_a_damaged_config_is_named(tmp_path, capsys, content):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *FAST]) == 0
    (out / "config.json").write_text(content)
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 2
    assert "config.json" in one_error_line(capsys)


# -- every stop leaves a usable folder -------------------------------------------------------
def test_ctrl_c_while_drawing_leaves_a_resumable_run(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "plot_run", interrupted)
    assert main(["train", "--out", str(out), *FAST]) == 130
    assert "interrupted" in one_error_line(capsys)
    assert not (out / "metrics.json").exists()  # never "completed" with pictures missing
    monkeypatch.undo()
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert read_json(out / "metrics.json")["stop_reason"] == "completed"
    assert all((out / f).stat().st_size > 0 for f in ("loss.png", "accuracy.png", "confusion.png"))


@pytest.mark.parametrize(
    "stop, code",
    [
        (KeyboardInterrupt(), 130),
        (locks.Stopped(signal.SIGTERM), 143),
        (locks.Stopped(signal.SIGHUP), 129),
    ],
)
def test_a_stop_during_start_up_is_one_line_and_leaves_no_run(
    tmp_path, capsys, monkeypatch, stop, code
):
    def interrupted(*a, **k):
        raise stop

    monkeypatch.setattr(runs.data_mod, "load", interrupted)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *FAST]) == code
    assert "interrupted" in one_error_line(capsys)
    assert not any((out / f).exists() for f in runs.RUN_FILES)
    monkeypatch.undo()
    assert main(["train", "--out", str(out), *FAST]) == 0  # nothing blocks a new run


def test_divergence_advice_works_as_printed(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = [
        "train",
        "--out",
        out,
        "--hidden",
        "8",
        "--epochs",
        "3",
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--quiet",
    ]
    assert main(args) == 1
    line = one_error_line(capsys)
    assert "diverged" in line and "Start again with: " in line
    retry = shlex.split(line.split("Start again with: ", 1)[1])
    assert (
        retry[0] == "twolayer" and "--force" in retry and retry[retry.index("--lr") + 1] == "1e+29"
    )
    code = main(retry[1:])
    assert code != 2, (
        capsys.readouterr().err
    )  # not refused: the failed run does not block the advice


def test_out_of_space_while_training_is_one_line_and_keeps_the_last_checkpoint(
    tmp_path, capsys, monkeypatch
):
    import errno
    import os

    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *FAST]) == 0
    before = (out / "checkpoint.npz").read_bytes()
    real = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "full")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "4", "--quiet"]) == 2
    assert "cannot write (No space left on device)" in one_error_line(capsys)
    monkeypatch.setattr(os, "fsync", real)
    assert (out / "checkpoint.npz").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert main(["train", "--out", str(out), "--resume", "--epochs", "4", "--quiet"]) == 0


# -- real processes, real signals --------------------------------------------------------------
def start_training(out, *extra):
    proc = subprocess.Popen(
        cli_argv(
            "train",
            "--out",
            str(out),
            "--epochs",
            "100000",
            "--hidden",
            "64",
            "--quiet",
            *extra,
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not (out / "checkpoint.npz").exists():  # the first epoch is done: training is under way
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.05)
    return proc


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)]
)
def test_a_signal_saves_the_best_weights_and_leaves_a_resumable_run(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = start_training(out)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"interrupted ({sig.name})" in lines[0] and "--resume" in lines[0], (
        err
    )
    metrics = read_json(out / "metrics.json")
    assert metrics["stop_reason"] == "interrupted" and metrics["signal"] == sig.name
    epochs = metrics["epochs"]
    r = run_cli(
        "train", "--out", str(out), "--resume", "--epochs", str(epochs + 1), "--quiet", "--json"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["epochs"] == epochs + 1


@pytest.mark.slow
def test_one_writer_at_a_time(tmp_path):
    out = tmp_path / "run"
    proc = start_training(out)
    try:
        for args in (
            ["train", "--out", str(out), "--resume", "--quiet"],
            ["train", "--out", str(out), "--force"],
            ["report", str(out)],
        ):
            r = run_cli(*args)
            assert r.returncode == 2, r.stderr
            assert (
                f"in use by process {proc.pid}" in r.stderr
                and len(r.stderr.strip().splitlines()) == 1
            ), r.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 143
    # the lock died with its process: the run is free again
    r = run_cli("report", str(out))
    assert r.returncode == 0, r.stderr


def test_force_leaves_nothing_of_the_old_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["train", "--out", str(out), *FAST]) == 0
    )  # digits: an image set, so weights.png is drawn
    assert main(["report", str(out)]) == 0
    assert (out / "weights.png").exists() and (out / "report.html").exists()
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, X_train=rng.standard_normal((60, 5)), y_train=np.arange(60) % 3)
    assert main(["train", "--out", str(out), "--data", f"npz:{data}", "--force", *FAST]) == 0
    assert not (out / "weights.png").exists() and not (out / "report.html").exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / locks.LOCK_FILE).write_text(
        "process 999999 on elsewhere (twolayer train, since 01:02:03)"
    )
    assert main(["train", "--out", str(out), *FAST]) == 0


def test_the_lock_refuses_a_second_writer_in_process(tmp_path):
    from twolayer.errors import InputError

    with locks.run_lock(tmp_path, "train"):
        with pytest.raises(InputError, match=r"in use by process \d+ on .*twolayer train"):
            with locks.run_lock(tmp_path, "report"):
                pass
        with pytest.raises(InputError, match="in use by"):
            with locks.run_lock(tmp_path, "tune", shared=True):
                pass
    with locks.run_lock(tmp_path, "tune", shared=True):  # workers of one study share the folder
        with locks.run_lock(tmp_path, "tune", shared=True):
            with pytest.raises(InputError, match="in use by tune workers"):
                with locks.run_lock(tmp_path, "train"):
                    pass


def test_a_full_disk_while_writing_the_lock_note_is_one_line(tmp_path, capsys, monkeypatch):
    import errno
    import os

    def full(fd, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "ftruncate", full)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *FAST]) == 2
    line = one_error_line(capsys)
    assert "cannot write the lock file (No space left on device)" in line, line


def test_the_cli_imports_and_locks_where_fcntl_does_not_exist(tmp_path):
    """Windows has no fcntl: the locks fall back (msvcrt there), and `import twolayer.cli` works."""
    script = (
        "import sys; sys.modules['fcntl'] = None\n"  # `import fcntl` now raises ImportError
        "import twolayer.cli\n"
        "from twolayer import locks\n"
        "assert locks.fcntl is None\n"
        f"with locks.run_lock({str(tmp_path)!r}, 'train'):\n"
        f"    with locks.waiting_lock({str(tmp_path / 'r.lock')!r}):\n"
        "        print('locked')\n"
    )
    r = run_python(script, timeout=60)
    assert r.returncode == 0 and r.stdout == "locked\n", r.stderr


@pytest.mark.slow
def test_two_studies_never_share_an_output_folder(tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    common = ["tune", "--out", str(out), "--trials", "1", "--epochs", "1", "--quiet", "--json"]
    r = run_cli(*common, "--study-name", "a")
    assert r.returncode == 0, r.stderr
    r = run_cli(*common, "--study-name", "b")
    assert r.returncode == 2 and "holds the results of study 'a'" in r.stderr, r.stderr
    r = run_cli(*common, "--study-name", "a")  # the same study's workers are welcome
    assert r.returncode == 0, r.stderr


# -- how often the checkpoint is written ---------------------------------------------------
def _epochs(checkpoint, n, stop_at=None):
    t = SimpleNamespace(epoch=0, stop_reason=None)
    for e in range(1, n + 1):
        t.epoch = e
        if e == stop_at:
            t.stop_reason = "early_stopping"
        checkpoint(t)
        if t.stop_reason:
            break


def test_checkpoint_after_the_first_and_the_last_epoch_and_every_few_seconds():
    saved = []
    _epochs(runs.throttled(lambda t: saved.append(t.epoch), last_epoch=10, seconds=3600), 10)
    assert saved == [1, 10]
    saved.clear()
    _epochs(
        runs.throttled(lambda t: saved.append(t.epoch), last_epoch=10, seconds=3600), 10, stop_at=6
    )
    assert saved == [1, 6]  # an early stop is the last epoch
    saved.clear()
    _epochs(runs.throttled(lambda t: saved.append(t.epoch), last_epoch=5, seconds=0), 5)
    assert saved == [1, 2, 3, 4, 5]


def test_a_run_that_learns_nothing_warns(tmp_path, capsys):
    # constant features carry no information: the best a model can do is the most common class
    y = np.arange(90) % 3
    y[:10] = 0
    data = tmp_path / "flat.npz"
    np.savez(data, X_train=np.ones((90, 4)), y_train=y)
    out = tmp_path / "run"
    assert main(["train", "--data", f"npz:{data}", "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "twolayer: warning: the model learned nothing" in err
    assert "learned nothing" in read_json(out / "metrics.json")["warning"]
    # a run that learns gives no warning
    assert main(["train", "--out", str(tmp_path / "ok"), *FAST]) == 0
    assert "warning" not in capsys.readouterr().err
    assert "warning" not in read_json(tmp_path / "ok" / "metrics.json")


def test_pixels_in_an_npz_are_scaled_and_shifted_as_the_image_loaders_do(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (120, 64)).astype(np.uint8), np.arange(120) % 3
    np.savez(tmp_path / "p.npz", X_train=X, y_train=y)
    settings = runs.RunSettings(data=f"npz:{tmp_path / 'p.npz'}").with_changes(epochs=2)
    metrics = runs.run_training(settings, tmp_path / "run", plots=False)
    assert metrics["preprocess_resolved"] == "scale" and metrics["augment_resolved"] == "shift"
    assert metrics["hidden_size"] == 512  # the image recipe
    np.savez(tmp_path / "t.npz", X_train=X.astype(float) - 128, y_train=y)  # negative: a table
    settings = runs.RunSettings(data=f"npz:{tmp_path / 't.npz'}").with_changes(epochs=2)
    metrics = runs.run_training(settings, tmp_path / "tab", plots=False)
    assert metrics["preprocess_resolved"] == "standardize" and metrics["augment_resolved"] == "none"


def _judged(y, predicted, **metrics):
    """learned_nothing on a fake run whose model predicts ``predicted`` for the validation rows."""
    y = np.asarray(y)
    run = SimpleNamespace(
        dataset=SimpleNamespace(y_val=y, y_train=y),
        net=SimpleNamespace(output_size=int(y.max()) + 1),
        predict=lambda split: np.asarray(predicted),
    )
    return runs.learned_nothing(run, {"val_accuracy": 0.5, "train_accuracy": 0.5, **metrics})


def test_learned_nothing_is_judged_on_balanced_accuracy_with_advice_that_applies():
    y = np.array([0] * 95 + [1] * 5)
    # always the majority class: 95% accuracy, balanced accuracy 50% = chance
    warning = _judged(y, np.zeros(100, int), preprocess_resolved="standardize")
    assert "balanced accuracy 50.0%" in warning
    assert "--class-weight balanced" in warning and "--preprocess standardize" not in warning
    assert "--preprocess standardize" in _judged(y, np.zeros(100, int), preprocess_resolved="none")
    assert "--class-weight" not in _judged(
        y, np.zeros(100, int), preprocess_resolved="none", class_weight="balanced"
    )
    # accuracy below the majority's (90% < 95%) but the minority is found: it learned something
    better = np.r_[np.zeros(87, int), np.ones(8, int), np.ones(5, int)]
    assert _judged(y, better) is None
    # a balanced 3-class split tied with chance warns; one above it does not
    y3 = np.arange(30) % 3
    assert _judged(y3, np.zeros(30, int)) is not None
    assert _judged(y3, np.where(np.arange(30) < 20, y3, 0)) is None


def _trainer(loss, val=None, stop="completed"):
    h = {"loss": list(loss), "val_acc": list(val) if val is not None else [None] * len(loss)}
    return SimpleNamespace(history=h, stop_reason=stop, epoch=len(loss))


def _train(schedule="plateau", patience=None):
    return SimpleNamespace(train=SimpleNamespace(schedule=schedule, patience=patience, tol=1e-4))


def test_a_run_the_epoch_limit_ends_while_improving_warns():
    falling = np.linspace(1.0, 0.5, 40)
    assert "epoch limit (40)" in runs.unconverged(_train(), _trainer(falling))
    assert "training loss" in runs.unconverged(_train(), _trainer(falling))
    flat = np.r_[np.linspace(1.0, 0.5, 30), np.full(10, 0.5)]
    assert runs.unconverged(_train(), _trainer(flat)) is None
    assert runs.unconverged(_train(), _trainer(falling, stop="early_stopping")) is None
    assert runs.unconverged(_train("cosine"), _trainer(falling)) is None  # ends by design
    # with patience: judged on the validation accuracy of the last patience epochs
    rising = np.linspace(0.5, 0.9, 40)
    assert "validation accuracy" in runs.unconverged(_train(patience=10), _trainer(flat, rising))
    level = np.r_[np.linspace(0.5, 0.9, 25), np.full(15, 0.9)]
    assert runs.unconverged(_train(patience=10), _trainer(falling, level)) is None


def test_class_weight_balanced_weights_the_rows_of_a_run(tmp_path):
    y = np.array([0] * 60 + [1] * 20)
    np.savez(tmp_path / "d.npz", X_train=np.random.default_rng(0).normal(size=(80, 3)), y_train=y)
    seen = {}
    for mode in ("none", "balanced"):
        settings = runs.RunSettings(data=f"npz:{tmp_path / 'd.npz'}").with_changes(
            class_weight=mode, hidden_size=8
        )
        run = runs.prepare(settings, runs.load_run_data(settings))
        fake = SimpleNamespace(
            config=settings.train, fit=lambda *a, **kw: seen.__setitem__(mode, kw["sample_weight"])
        )
        run.fit(fake)
    assert seen["none"] is None
    y_train = run.dataset.y_train
    counts = np.bincount(y_train)
    np.testing.assert_allclose(seen["balanced"], len(y_train) / (2 * counts[y_train]))


def test_what_auto_became_is_in_the_metrics_the_table_and_the_report(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", X_train=rng.normal(size=(300, 5)), y_train=np.arange(300) % 3)
    out = tmp_path / "run"
    args = ["train", "--data", f"npz:{tmp_path / 't.npz'}", "--out", str(out), "--no-plots"]
    assert main([*args, "--hidden", "16", "--epochs", "3"]) == 0
    table = capsys.readouterr().out
    metrics = read_json(out / "metrics.json")
    auto = metrics["auto"]
    assert "hidden_size" not in auto and "epochs" not in auto  # typed: not auto
    assert auto["weight_decay"] == metrics["weight_decay"] == pytest.approx(0.3 * 16 * 8 / 270)
    assert auto["batch_size"] == 200 and auto["schedule"] == "plateau"
    assert "auto settings" in table and "--weight-decay 0.142," in " ".join(table.split())
    # --resume keeps the record (config.json holds the decided values, "auto" which they were)
    assert main([*args, "--resume", "--epochs", "4", "--quiet"]) == 0
    assert read_json(out / "metrics.json")["auto"] == auto
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "auto → 0.142" in html and "auto → plateau" in html
