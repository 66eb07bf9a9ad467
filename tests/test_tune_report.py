"""tune's summary: the study named in its header, the best trial's test accuracy, and the
`twolayer train` command that trains the best trial's network again, bit for bit."""

import json
import shlex

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main

pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tunerep")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    np.savez(
        root / "d.npz", X_train=X[:80], y_train=y[:80], X_val=X[80:100], y_val=y[80:100],
        X_test=X[100:], y_test=y[100:],
    )  # fmt: skip
    return root


def test_tune_reports_test_accuracy_and_a_command_that_reproduces_the_best(tuned, capsys):
    out = tuned / "t"
    args = ["tune", "--data", f"npz:{tuned / 'd.npz'}", "--trials", "2", "--epochs", "3"]
    assert main([*args, "--out", str(out), "--seed", "1", "-q"]) == 0
    text = capsys.readouterr().out
    assert "study 'twolayer'" in text
    best_line = next(line for line in text.splitlines() if line.startswith("best trial"))
    assert "test " in best_line and "%" in best_line.split("test ")[1]
    command = next(line for line in text.splitlines() if line.startswith("train it again: "))
    argv = shlex.split(command[len("train it again: ") :])
    assert argv[:2] == ["twolayer", "train"]
    again = tuned / "again"
    argv[argv.index("--out") + 1] = str(again)
    assert main([*argv[1:], "-q"]) == 0
    a = TwoLayerNet.load(out / "best_model.npz")
    b = TwoLayerNet.load(again / "model.npz")
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_tune_json_has_the_best_trials_test_accuracy_and_command(tuned, capsys):
    out = tuned / "j"
    args = ["tune", "--data", f"npz:{tuned / 'd.npz'}", "--trials", "1", "--epochs", "2"]
    assert main([*args, "--out", str(out), "--seed", "2", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)["best"]
    assert 0 <= best["test_accuracy"] <= 1 and best["command"].startswith("twolayer train ")
    metrics = json.loads(json.dumps(best))
    assert metrics["val_accuracy"] == best["val_accuracy"]


def test_the_study_pictures_show_pruned_trials_on_integer_ticks(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from twolayer import plots

    figures = []
    monkeypatch.setattr(plots, "_save_figure", lambda fig, path: figures.append(fig) or path)
    done = [
        SimpleNamespace(number=i, value=v, params={"learning_rate": 1e-3 * (i + 1), "reg": 1e-4})
        for i, v in [(0, 0.9), (2, 0.95)]
    ]
    cut = [
        SimpleNamespace(number=1, intermediate_values={0: 0.3, 1: 0.4},
                        params={"learning_rate": 5e-2, "reg": 1e-2}),
        SimpleNamespace(number=3, intermediate_values={}, params={"learning_rate": 1, "reg": 1}),
    ]  # fmt: skip
    plots.plot_study(done, tmp_path, "s\nname", cut)
    history = figures[0].axes[0]
    labels = [t.get_text() for t in history.get_legend().get_texts()]
    assert labels == ["trial", "best so far", "pruned (last value)"]
    pruned_line = history.get_lines()[2]
    assert list(pruned_line.get_xdata()) == [1] and list(pruned_line.get_ydata()) == [40.0]
    ticks = history.xaxis.get_major_locator()()
    assert all(float(t).is_integer() for t in ticks)
    assert "\n" not in history.get_title() and "study" in history.get_title()
