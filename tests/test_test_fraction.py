"""train --test-fraction: a seeded, stratified test split carved from data without one (CSV, npz),
kept by evaluate; data with a test split of its own, or a fraction outside [0, 1), is one line."""

import json

import numpy as np
import pytest

from twolayer.cli import main
from twolayer.runs import evaluate_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("testfrac")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    y = (X[:, 0] > 0).astype(int)
    np.savez(root / "only_train.npz", X_train=X, y_train=y)
    np.savez(
        root / "with_test.npz", X_train=X[:150], y_train=y[:150], X_test=X[150:], y_test=y[150:]
    )
    lines = ["a,b,c,d,label"] + [",".join([*(f"{v:.6f}" for v in r), str(t)]) for r, t in zip(X, y)]
    (root / "rows.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("spec", ["npz:{root}/only_train.npz", "csv:{root}/rows.csv"])
def test_a_test_split_is_carved_and_evaluate_keeps_it(spec, data, capsys):
    spec = spec.format(root=data)
    out = data / f"run-{spec[:3]}"
    args = ["train", "--data", spec, "--test-fraction", "0.25", "--epochs", "2", "--hidden", "4"]
    assert main([*args, "--out", str(out), "-q", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["test_accuracy"] is not None
    n_val = 20  # ceil(0.1 · 200)
    assert metrics["n_train"] == 180 - 45  # ceil(0.25 · 180) test rows from the 180 left
    assert json.loads((out / "config.json").read_text())["test_fraction"] == 0.25
    again = evaluate_model(out / "model.npz")
    assert again["test_accuracy"] == metrics["test_accuracy"] and n_val


def test_without_test_fraction_there_is_no_test_split(data, capsys):
    out = data / "plain"
    args = ["train", "--data", f"npz:{data / 'only_train.npz'}", "--epochs", "1", "--hidden", "3"]
    assert main([*args, "--out", str(out), "-q", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] is None


@pytest.mark.parametrize(
    "spec, fraction, words",
    [
        ("npz:{root}/with_test.npz", "0.2", "has a test split of its own"),
        ("digits", "0.2", "has a test split of its own"),
        ("npz:{root}/only_train.npz", "1", "--test-fraction must be a number in [0, 1)"),
        ("npz:{root}/only_train.npz", "-0.1", "--test-fraction must be"),
        ("npz:{root}/only_train.npz", "nan", "--test-fraction must be"),
    ],
)
def test_refusals_are_one_line(spec, fraction, words, data, tmp_path, capsys):
    args = ["train", "--data", spec.format(root=data), "--test-fraction", fraction]
    assert main([*args, "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "o").exists()
