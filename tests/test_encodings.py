"""Streams that cannot show everything: ASCII or Latin-1 stdout, a C locale, file names that are not
UTF-8, a terminal 1-3 columns wide, FORCE_COLOR on a captured stderr. The work is shown (escaped or
transliterated, as LANG=C programs do), never "standard output is closed" after it is done."""

import os
import subprocess
import sys

import numpy as np
import pytest

from twolayer import io
from twolayer.cli import main
from twolayer.console import LineProgress

D = 4


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, D))
    np.savez(root / "data.npz", X_train=X, y_train=np.arange(60) % 3)
    args = ["train", "--data", f"npz:{root / 'data.npz'}", "--epochs", "1", "--hidden", "4"]
    assert main([*args, "--out", str(root / "run"), "-q", "--no-plots"]) == 0
    return root


def _cli(*args, cwd=None, **env):
    full = {**os.environ, "COLUMNS": "100", **env}
    full.pop("FORCE_COLOR", None) if "FORCE_COLOR" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "twolayer", *args],
        capture_output=True,
        env=full,
        cwd=cwd,
        timeout=120,
    )


ENCODINGS = [
    {"PYTHONIOENCODING": "ascii"},
    {"PYTHONIOENCODING": "latin-1"},
    {"PYTHONIOENCODING": "ascii:strict"},
    {"LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "", "PYTHONUTF8": "0"},
]


@pytest.mark.parametrize("env", ENCODINGS, ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()))
@pytest.mark.parametrize("command", ["evaluate", "gradcheck", "train"])
def test_a_narrow_encoding_still_shows_the_result(m, env, command):
    args = {
        "evaluate": ["evaluate", str(m / "run" / "model.npz")],
        "gradcheck": ["gradcheck"],
        "train": [
            "train",
            "--data",
            f"npz:{m / 'data.npz'}",
            "--epochs",
            "1",
            "--hidden",
            "3",
            "--out",
            str(m / f"t-{len(env)}-{env.get('PYTHONIOENCODING')}"),
            "--force",
            "-q",
        ],
    }[command]
    done = _cli(*args, **env)
    assert done.returncode == 0, done.stderr
    assert b"error" not in done.stderr, done.stderr
    text = done.stdout.decode("latin-1")
    assert "accuracy" in text or "relative error" in text
    if env.get("PYTHONIOENCODING", "").startswith("ascii"):
        done.stdout.decode("ascii")  # nothing the stream could not hold
        assert "+--" in text  # Rich drew its ASCII box


def test_a_file_name_that_is_not_utf8(m, tmp_path):
    run = os.path.join(os.fsencode(tmp_path), b"r\xff")
    os.mkdir(run)
    model = os.path.join(run, b"model.npz")
    with open(model, "wb") as f:
        f.write((m / "run" / "model.npz").read_bytes())
    for env in ({}, {"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C"}):
        done = _cli(
            "diagram", "--model", os.fsdecode(model), "--out", os.fsdecode(run) + "/d.svg", **env
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.endswith(b"r\\xff/d.svg\n"), done.stdout
        done = _cli("evaluate", os.fsdecode(model), **env)
        assert done.returncode == 0 and b"r\\xff" in done.stdout, done.stderr
        done = _cli("report", os.fsdecode(run), **env)  # not a run: one line naming it, escaped
        assert done.returncode == 2 and b"r\\xff" in done.stderr and done.stderr.count(b"\n") == 1


def test_text_files_escape_undecodable_name_bytes(tmp_path):
    io.write_text(tmp_path / "a.txt", "r\udcff and \u2014")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "r\\xff and \u2014"


@pytest.mark.parametrize("columns", ["1", "2", "3", "0"])
def test_a_terminal_a_few_columns_wide(m, columns, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", columns)
    assert main(["gradcheck"]) == 0
    assert main(["evaluate", str(m / "run" / "model.npz")]) == 0
    args = ["train", "--data", f"npz:{m / 'data.npz'}", "--epochs", "1", "--hidden", "3"]
    assert main([*args, "--out", str(m / "narrow"), "--force", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out


@pytest.mark.parametrize("color", ["FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE"])
def test_forced_colour_leaves_no_erased_bar_in_captured_stderr(m, color):
    args = ["train", "--data", f"npz:{m / 'data.npz'}", "--epochs", "3", "--lr", "1e30"]
    done = _cli(*args, "--out", str(m / f"div-{color}"), "--force", **{color: "1"})
    assert done.returncode == 1
    assert b"\x1b" not in done.stderr and done.stderr.count(b"\n") == 1, done.stderr
    assert b"diverged" in done.stderr


def test_a_progress_line_every_few_seconds_when_stderr_is_no_terminal(capsys):
    now = [0.0]
    bar = LineProgress(every=5, clock=lambda: now[0])
    task = bar.add_task("training", total=100, completed=0, status="")
    for step in range(100):
        now[0] += 0.2  # 20 s in all
        bar.update(task, advance=1, status=f"epoch {step // 10 + 1}")
    bar.stop()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) in (4, 5) and lines[0].startswith("training: 25/100 (25%) · epoch 3"), lines
    assert lines[-1].startswith("training: 100/100 (100%)")
    bar = LineProgress(clock=lambda: now[0])
    bar.add_task("tuning", total=3)
    bar.transient = True  # a failure: nothing more
    bar.stop()
    assert capsys.readouterr().err == ""
