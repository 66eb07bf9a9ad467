"""What people expect of a command line: --version, python -m, completion, help, flags, --json everywhere."""

import json
import os
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
import typer
from helpers import run_cli

from twolayer import TwoLayerNet, __version__
from twolayer.cli import app, main
from twolayer.diagram import minibatch
from twolayer.schedules import SCHEDULES

WIDE = {**os.environ, "COLUMNS": "200"}
COMMANDS = sorted(typer.main.get_command(app).commands)


def test_version_matches_the_installed_distribution(capsys):
    assert __version__ == version("twolayer")
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"twolayer {version('twolayer')}\n"


def test_python_m_twolayer_runs_the_cli():
    done = run_cli("--version", module="twolayer", env=WIDE)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"twolayer {__version__}\n", "")


def test_no_command_prints_help_and_succeeds():
    for args in ([], ["--debug"]):
        done = run_cli(*args, module="twolayer", env=WIDE)
        assert done.returncode == 0 and done.stderr == ""
        assert "Usage: twolayer" in done.stdout and all(c in done.stdout for c in COMMANDS)


def test_help_lists_global_options():
    done = run_cli("--help", module="twolayer", env=WIDE)
    assert done.returncode == 0
    for option in ("--version", "--debug", "--install-completion", "--show-completion", "--help"):
        assert option in done.stdout


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_no_bool_metavars_in_help(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(([command] if command else []) + ["--help"]) == 0
    out = capsys.readouterr().out
    assert "--help" in out
    assert "<bool>" not in out and "BOOLEAN" not in out


def test_shell_completion_completes_commands_and_options():
    env = {
        **WIDE,
        "_TWOLAYER_COMPLETE": "complete_bash",
        "COMP_WORDS": "twolayer tr",
        "COMP_CWORD": "1",
    }
    assert run_cli(module="twolayer", env=env).stdout.split() == ["train"]
    env.update(COMP_WORDS="twolayer train --opt", COMP_CWORD="2")
    assert run_cli(module="twolayer", env=env).stdout.split() == ["--optimizer"]
    script = run_cli("--show-completion", "bash", module="twolayer", env=WIDE)
    assert script.returncode == 0 and "_TWOLAYER_COMPLETE" in script.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_offers_json(command):
    params = typer.main.get_command(app).commands[command].params
    assert any("--json" in p.opts for p in params)


def test_gradcheck_json(capsys):
    assert main(["gradcheck", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["errors"]) == ["W1", "W2", "b1", "b2"] and result["passed"] is True
    assert max(result["errors"].values()) <= result["threshold"] == 1e-7
    assert main(["gradcheck", "--json", "--threshold", "0"]) == 1  # no float64 check is exact
    assert json.loads(capsys.readouterr().out)["passed"] is False


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert (
        main(["train", "--out", str(out), "--quiet", "--force", "--epochs", "2", "--hidden", "16"])
        == 0
    )
    return out


def test_predict_json_lines_agree_with_the_model(tmp_path, capsys):
    rng = np.random.default_rng(0)
    net = TwoLayerNet(5, 7, 3, seed=0)
    X = rng.normal(size=(9, 5))
    net.save(tmp_path / "model.npz")
    np.save(tmp_path / "rows.npy", X)
    assert main(["predict", str(tmp_path / "model.npz"), str(tmp_path / "rows.npy"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    p = net.params
    expected = np.argmax(np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"], axis=1)
    assert [r["row"] for r in rows] == list(range(9))
    assert [r["index"] for r in rows] == expected.tolist() == [int(r["label"]) for r in rows]
    out = tmp_path / "labels.txt"
    assert (
        main(
            [
                "predict",
                str(tmp_path / "model.npz"),
                str(tmp_path / "rows.npy"),
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"out": str(out), "rows": 9}
    assert out.read_text().split() == [str(i) for i in expected]


def test_report_json(tiny_run, capsys):
    assert main(["report", str(tiny_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "report": str(tiny_run / "report.html"),
        "bytes": (tiny_run / "report.html").stat().st_size,
    }


def test_diagram_json(tmp_path, capsys):
    out = tmp_path / "net.svg"
    assert main(["diagram", "--out", str(out), "--hidden", "8", "--reg", "0.01", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["out"] == str(out) and out.stat().st_size > 0
    assert result["data"] == "digits" and result["batch"] == 2
    # the loss of the drawn circuit, recomputed by hand on the same minibatch
    net, X, y, _, _, _ = minibatch(None, None, rows=2, hidden=8, seed=0)
    reg = 0.01
    p = {k: v.astype(np.float64) for k, v in net.params.items()}
    scores = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    logp = scores - scores.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(len(y)), y].mean() + reg * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
    assert result["reg"] == reg and result["loss"] == pytest.approx(loss, rel=1e-5)


# -- round three: -h, choices, usage lines, --data help, markup ------------------------------
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_dash_h_is_help(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    base = [command] if command else []
    assert main([*base, "--help"]) == 0
    long = capsys.readouterr().out
    assert main([*base, "-h"]) == 0
    assert capsys.readouterr().out == long and "Usage:" in long


@pytest.mark.parametrize(
    "command, usage",
    [
        ("predict", "Usage: twolayer predict [OPTIONS] MODEL INPUT"),
        ("evaluate", "Usage: twolayer evaluate [OPTIONS] MODEL"),
        ("export", "Usage: twolayer export [OPTIONS] MODEL"),
        ("report", "Usage: twolayer report [OPTIONS] RUN_DIR"),
    ],
)
def test_usage_lines_name_arguments_in_capitals(command, usage, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert usage in out and "{" not in out.split("Usage:")[1].splitlines()[0]


@pytest.mark.parametrize(
    "command, shown",
    [
        ("train", "[sgd|momentum|nesterov|adam|adamw]"),
        ("train", "[" + "|".join(("auto", *SCHEDULES)) + "]"),
        ("train", "[float64|float32]"),
        ("train", "[auto|none|shift]"),
        ("train", "[auto|none|scale|center|standardize]"),
        ("train", "[none|balanced]"),
        ("tune", "[tpe|random]"),
        ("tune", "[median|hyperband|none]"),
    ],
)
def test_choices_are_shown_as_choices(command, shown, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    assert main([command, "--help"]) == 0
    assert shown in capsys.readouterr().out


@pytest.mark.parametrize(
    "words, expected",
    [
        ("twolayer train --optimizer a", ["adam", "adamw"]),
        ("twolayer train --schedule c", ["constant", "cosine"]),
        ("twolayer tune --pruner ", ["median", "hyperband", "none"]),
        ("twolayer train --dtype float", ["float64", "float32"]),
    ],
)
def test_the_shell_completes_choices(words, expected):
    env = {**WIDE, "_TWOLAYER_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words}
    done = subprocess.run(
        [sys.executable, "-c", "from twolayer.cli import main; main()"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    for choice in expected:
        assert f'"{choice}"' in done.stdout, done.stdout + done.stderr


def test_data_help_lists_the_downloadable_sets(capsys, monkeypatch):
    from twolayer.data import DOWNLOADS

    monkeypatch.setenv("COLUMNS", "400")
    for command in ("train", "evaluate", "tune", "diagram"):
        assert main([command, "--help"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        for name in DOWNLOADS:
            assert name in out, (command, name)


def test_top_help_keeps_the_onnx_extra(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--help"]) == 0
    assert "twolayer[onnx]" in capsys.readouterr().out
    assert main(["export", "--help"]) == 0
    assert "twolayer[onnx]" in capsys.readouterr().out
