"""A really full disk (a small tmpfs, filled, mounted when the tests run as root): train, report and tune
each say one line, exit 2, and leave no half-written result."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from twolayer.cli import main


@pytest.fixture
def full(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tiny tmpfs")
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def _fill(folder):
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def _small(tmp_path):
    X = np.random.default_rng(0).standard_normal((40, 3))
    np.savez(tmp_path / "d.npz", X_train=X, y_train=np.arange(40) % 2)
    return f"npz:{tmp_path / 'd.npz'}"


def test_a_full_disk_is_one_line_everywhere(full, tmp_path, capsys):
    data = _small(tmp_path)
    run = tmp_path / "run"
    assert (
        main(["train", "--data", data, "--epochs", "1", "--hidden", "3", "--out", str(run), "-q"])
        == 0
    )
    (full / "r").mkdir()
    for f in ("metrics.json", "config.json", "model.npz", "history.csv"):
        shutil.copy(run / f, full / "r" / f)
    _fill(full)
    capsys.readouterr()
    for args in (
        ["train", "--data", data, "--epochs", "1", "--out", str(full / "new"), "-q"],
        ["report", str(full / "r")],
        ["tune", "--data", data, "--trials", "1", "--out", str(full / "t"), "-q"],
        ["predict", str(run / "model.npz"), str(tmp_path / "d.npz"), "--out", str(full / "p.txt")],
    ):
        if args[0] == "tune":
            pytest.importorskip("optuna")
        if args[0] == "predict":
            np.save(tmp_path / "rows.npy", np.zeros((3, 3)))
            args[2] = str(tmp_path / "rows.npy")
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "No space left on device" in err, err
    leftovers = [p.name for p in full.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert not (full / "r" / "report.html").exists() and not (full / "p.txt").exists()


def test_the_cli_is_importable_by_a_fresh_interpreter():
    done = subprocess.run([sys.executable, "-c", "import twolayer.cli"], capture_output=True)
    assert done.returncode == 0
