"""The command line end to end: the main job, evaluate, predict, gradcheck, resume, errors."""

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
from helpers import cli_argv, run_cli

from twolayer import TwoLayerNet
from twolayer.cli import main

pytestmark = pytest.mark.core  # needs the core install alone (see .ci/run)


@pytest.fixture(scope="module")
def main_run(tmp_path_factory):
    """`twolayer train` with default settings on digits."""
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--out", str(out), "--quiet", "--force"]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_main_job_trains_digits_to_high_accuracy(main_run):
    out, m = main_run
    for key in (
        "train_accuracy",
        "val_accuracy",
        "test_accuracy",
        "epochs",
        "seconds",
        "learning_rate",
        "batch_size",
        "hidden_size",
        "reg",
        "optimizer",
    ):
        assert key in m
    assert (
        m["test_accuracy"] >= 0.972
    )  # MLPClassifier: 97.2% on this split (mean over seeds 0-4: 98.4% vs 98.2%)
    assert m["epochs"] == 100 and m["stop_reason"] == "completed"
    assert (out / "model.npz").exists() and (out / "checkpoint.npz").exists()


def test_history_csv_has_a_row_per_epoch(main_run):
    out, m = main_run
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,train_acc,val_acc,lr,seconds"
    assert len(lines) == m["epochs"] + 1
    last = lines[-1].split(",")
    assert int(last[0]) == m["epochs"] and float(last[3]) == pytest.approx(
        m["val_accuracy"], abs=1e-5
    )


def test_evaluate_agrees_with_training_metrics(main_run, capsys):
    out, m = main_run
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--data", "digits", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] == pytest.approx(m["test_accuracy"])
    assert result["val_accuracy"] == pytest.approx(m["val_accuracy"])


def test_predict_npy_and_csv(main_run, tmp_path, capsys):
    from twolayer.data import load

    out, m = main_run
    ds = load("digits", seed=0)
    np.save(tmp_path / "rows.npy", ds.X_test)
    np.savetxt(
        tmp_path / "rows.csv",
        ds.X_test,
        delimiter=",",
        header=",".join(f"p{i}" for i in range(64)),
        comments="",
    )
    capsys.readouterr()
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "rows.npy")]) == 0
    labels = np.array(capsys.readouterr().out.split(), dtype=int)
    assert np.mean(labels == ds.y_test) == pytest.approx(m["test_accuracy"])
    assert (
        main(
            [
                "predict",
                str(out / "model.npz"),
                str(tmp_path / "rows.csv"),
                "--out",
                str(tmp_path / "p.txt"),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "p.txt", dtype=int), labels)


def test_loaded_model_predicts_raw_rows_like_the_command_line(main_run, tmp_path, capsys):
    """TwoLayerNet.load(path).predict(X) applies the stored preprocessing: the CLI's answer, not 96.9%."""
    from twolayer.data import load

    out, m = main_run
    ds = load("digits", seed=0)
    net = TwoLayerNet.load(out / "model.npz")
    assert net.preprocessor is not None and net.preprocessor.mode == "scale"
    np.save(tmp_path / "rows.npy", ds.X_test)
    capsys.readouterr()
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "rows.npy")]) == 0
    cli = capsys.readouterr().out.split()
    assert [net.class_names[i] for i in net.predict(ds.X_test)] == cli
    assert np.mean(net.predict(ds.X_test) == ds.y_test) == pytest.approx(m["test_accuracy"])
    # loss and scores take network inputs
    np.testing.assert_allclose(
        net.predict_proba(ds.X_test),
        np.exp(s := net.loss(net.transform(ds.X_test))) / np.exp(s).sum(1, keepdims=True),
        rtol=1e-5,
    )


def test_predict_proba_and_class_names_in_every_output(main_run, tmp_path, capsys):
    from twolayer.data import load

    out, _ = main_run
    model = str(out / "model.npz")
    net = TwoLayerNet.load(model)
    net.class_names = [
        f"digit {c}" for c in range(10)
    ]  # names that differ from indices, one with a space
    net.save(tmp_path / "named.npz")
    X = load("digits", seed=0).X_test[:25]
    np.save(tmp_path / "rows.npy", X)
    capsys.readouterr()
    assert (
        main(["predict", str(tmp_path / "named.npz"), str(tmp_path / "rows.npy"), "--proba"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "label," + ",".join(net.class_names)
    rows = [line.split(",") for line in lines[1:]]
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(proba, net.predict_proba(X), atol=1e-6)
    expected = [net.class_names[i] for i in net.predict(X)]
    assert [r[0] for r in rows] == expected
    assert (
        main(
            [
                "predict",
                str(tmp_path / "named.npz"),
                str(tmp_path / "rows.npy"),
                "--out",
                str(tmp_path / "labels.npy"),
            ]
        )
        == 0
    )
    saved = np.load(tmp_path / "labels.npy", allow_pickle=False)
    assert saved.dtype.kind == "U" and saved.tolist() == expected
    assert (
        main(
            [
                "predict",
                str(tmp_path / "named.npz"),
                str(tmp_path / "rows.npy"),
                "--proba",
                "--out",
                str(tmp_path / "proba.npy"),
            ]
        )
        == 0
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy", allow_pickle=False), net.predict_proba(X)
    )


def test_predict_drops_a_label_column_with_a_note(main_run, tmp_path, capsys):
    from twolayer.data import load

    out, _ = main_run
    ds = load("digits", seed=0)
    X, y = ds.X_test[:30], ds.y_test[:30]
    cols = [f"p{i}" for i in range(64)]
    cols.insert(5, "label")
    table = np.insert(X, 5, y, axis=1)
    np.savetxt(
        tmp_path / "train-like.csv",
        table,
        delimiter=",",
        header=",".join(cols),
        comments="",
        fmt="%g",
    )
    capsys.readouterr()
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "train-like.csv")]) == 0
    captured = capsys.readouterr()
    net = TwoLayerNet.load(out / "model.npz")
    assert captured.out.split() == [net.class_names[i] for i in net.predict(X)]
    assert "dropped its 'label' column (column 6)" in captured.err


def test_gradcheck_command_passes(capsys):
    assert main(["gradcheck"]) == 0
    assert "W1" in capsys.readouterr().out


def test_existing_run_is_refused_without_force(main_run, capsys):
    out, _ = main_run
    before = (out / "model.npz").read_bytes()
    assert main(["train", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and len(err.strip().splitlines()) == 1
    assert (out / "model.npz").read_bytes() == before


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--hidden", "0"], "hidden"),
        (["train", "--lr", "-1"], "--lr must be"),
        (["train", "--reg", "-0.5"], "reg"),
        (["train", "--optimizer", "rmsprop"], "optimizer"),
        (["train", "--dtype", "int8"], "float32 or float64"),
        (["train", "--batch-size", "abc"], "batch-size"),
        (["train", "--data", "imagenet:/x"], "unknown data source"),
        (["train", "--resume"], "--resume needs --out"),
        (["train", "--resume", "--force", "--out", "nowhere"], "contradict"),
        (["evaluate", "missing.npz"], "missing.npz"),
        (["predict", "missing.npz", "rows.npy"], "missing.npz"),
        (["frobnicate"], "No such command"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(args, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("model.npz"))


def test_divergence_exits_1_and_keeps_finite_weights(tmp_path, capsys):
    code = main(
        [
            "train",
            "--out",
            str(tmp_path),
            "--quiet",
            "--optimizer",
            "sgd",
            "--lr",
            "1000",
            "--reg",
            "1",
            "--epochs",
            "20",
            "--hidden",
            "16",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "diverged" in err and len(err.strip().splitlines()) == 1
    if (tmp_path / "model.npz").exists():
        net = TwoLayerNet.load(tmp_path / "model.npz")
        assert all(np.isfinite(v).all() for v in net.params.values())


def _wait_for_epochs(run, k, proc, timeout=60):
    from twolayer.io import read_npz

    t0 = time.time()
    while time.time() - t0 < timeout:
        if (run / "checkpoint.npz").exists():
            state = json.loads(str(read_npz(run / "checkpoint.npz")["state"][()]))
            if state["epoch"] >= k:
                return state["epoch"]
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


# long enough (several seconds) that a signal always arrives mid-run
ARGS = ["--hidden", "1024", "--epochs", "400", "--quiet", "--seed", "3"]


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(
        cli_argv("train", "--out", str(killed), *ARGS), stdout=subprocess.DEVNULL
    )
    _wait_for_epochs(killed, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model.npz").exists()
    # the checkpoint left behind loads, and the run resumes to the requested 400 epochs
    done = run_cli(
        "train", "--out", str(killed), "--resume", "--epochs", "400", "--quiet", timeout=None
    )
    assert done.returncode == 0, done.stderr
    assert run_cli("train", "--out", str(whole), *ARGS, timeout=None).returncode == 0
    assert json.loads((killed / "metrics.json").read_text())["epochs"] == 400
    a, b = TwoLayerNet.load(killed / "model.npz"), TwoLayerNet.load(whole / "model.npz")
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    ha = (killed / "history.csv").read_text().splitlines()
    hb = (whole / "history.csv").read_text().splitlines()
    strip = lambda lines: [",".join(line.split(",")[:5]) for line in lines]  # noqa: E731  (drop seconds)
    assert strip(ha) == strip(hb)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_the_model(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        cli_argv("train", "--out", str(run), *ARGS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_epochs(run, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stop_reason"] == "interrupted" and metrics["epochs"] < 400
    TwoLayerNet.load(run / "model.npz")


def test_help_lists_commands():
    out = run_cli("--help", env={**os.environ, "COLUMNS": "120"})
    assert out.returncode == 0
    for cmd in ("train", "evaluate", "predict", "gradcheck"):
        assert cmd in out.stdout


def test_evaluate_splits_data_as_the_training_run_did(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--out",
                str(out),
                "--quiet",
                "--seed",
                "4",
                "--epochs",
                "5",
                "--hidden",
                "32",
                "--val-fraction",
                "0.2",
            ]
        )
        == 0
    )
    m = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["val_accuracy"] == pytest.approx(m["val_accuracy"])
    assert result["test_accuracy"] == pytest.approx(m["test_accuracy"])


def test_train_summary_final_loss_hint_and_a_title_that_keeps_its_path(
    tmp_path, capsys, monkeypatch
):
    import csv

    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "a-fairly-long-folder-name" / "run-20260101-000000-000000"
    assert main(["train", "--out", str(out), "--epochs", "2", "--hidden", "16"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert any(f"twolayer train — {out}" in line for line in lines)  # the whole path on one line
    last_loss = float(list(csv.DictReader(open(out / "history.csv")))[-1]["loss"])
    loss_row = next(line for line in lines if "final loss" in line)
    assert f"{last_loss:.4f}" in loss_row
    assert lines[-1] == f"next: twolayer report {out}"
    val_row = next(line for line in lines if "validation accuracy" in line)
    shown = re.search(r"done · val (\S+%)", captured.err).group(
        1
    )  # the bar's last word is the table's
    assert shown in val_row
