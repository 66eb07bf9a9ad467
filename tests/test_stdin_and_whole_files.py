"""`-` as standard input (predict MODEL -, evaluate MODEL --data csv:-) and a file given to evaluate
scored whole, as a test split, never split into a train and a val part."""

import subprocess
import sys

import numpy as np
import pytest

from twolayer.cli import main
from twolayer.runs import evaluate_model

D = 4


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    root = tmp_path_factory.mktemp("stdin")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, D))
    y = (X[:, 0] > 0).astype(int)
    np.savez(root / "data.npz", X_train=X, y_train=y)
    args = ["train", "--data", f"npz:{root / 'data.npz'}", "--epochs", "3", "--hidden", "6"]
    assert main([*args, "--out", str(root / "run"), "-q", "--no-plots"]) == 0
    np.save(root / "rows.npy", X[:7])
    (root / "rows.csv").write_text("\n".join(",".join(f"{v:.6f}" for v in r) for r in X[:7]) + "\n")
    lines = ["a,b,c,d,label"] + [",".join([*(f"{v:.6f}" for v in r), str(t)]) for r, t in zip(X, y)]
    (root / "held.csv").write_text("\n".join(lines) + "\n")
    return root


def _cli(args, stdin):
    return subprocess.run(
        [sys.executable, "-m", "twolayer", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.mark.parametrize("rows", ["rows.npy", "rows.csv"])
def test_predict_reads_rows_from_stdin(m, rows):
    model = str(m / "run" / "model.npz")
    from_file = _cli(["predict", model, str(m / rows)], b"")
    piped = _cli(["predict", model, "-"], (m / rows).read_bytes())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == from_file.stdout and len(piped.stdout.splitlines()) == 7


@pytest.mark.parametrize(
    "stdin, words",
    [
        (b"", "standard input (it is empty)"),
        (b"\x93NUMPY garbage", "stdin.npy"),
        (b"a,b\nx,y\n", ""),
    ],
)
def test_bad_stdin_is_one_line(m, stdin, words):
    done = _cli(["predict", str(m / "run" / "model.npz"), "-"], stdin)
    assert done.returncode == 2 and done.stderr.count(b"\n") == 1, done.stderr
    assert words.encode() in done.stderr


def test_a_file_given_to_evaluate_is_scored_whole(m):
    result = evaluate_model(m / "run" / "model.npz", f"csv:{m / 'held.csv'}")
    assert result["rows"] == 90 and "test_accuracy" in result
    assert "train_accuracy" not in result and "val_accuracy" not in result
    piped = _cli(
        ["evaluate", str(m / "run" / "model.npz"), "--data", "csv:-", "--json"],
        (m / "held.csv").read_bytes(),
    )
    assert piped.returncode == 0, piped.stderr
    assert b'"rows": 90' in piped.stdout and b"test_accuracy" in piped.stdout


def test_evaluate_without_data_keeps_the_runs_splits(m):
    result = evaluate_model(m / "run" / "model.npz")
    assert {"train_accuracy", "val_accuracy"} <= set(result)


def test_the_runs_own_file_is_split_as_in_training(m, tmp_path):
    lines = (m / "held.csv").read_text()
    (tmp_path / "own.csv").write_text(lines)
    run = tmp_path / "run"
    args = ["train", "--data", f"csv:{tmp_path / 'own.csv'}", "--epochs", "2", "--hidden", "4"]
    assert main([*args, "--out", str(run), "-q", "--no-plots"]) == 0
    own = evaluate_model(run / "model.npz", f"csv:{tmp_path / 'own.csv'}")
    assert "val_accuracy" in own and "rows" not in own
    whole = evaluate_model(run / "model.npz", f"csv:{m / 'held.csv'}")
    assert whole["rows"] == 90
