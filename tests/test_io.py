"""io.py: every result file is written atomically, with the umask's mode, and a failure leaves no trace."""

import errno
import os
import shlex
import stat
import subprocess

import numpy as np
import pytest
from helpers import cli_argv, run_cli

from twolayer import io
from twolayer.errors import InputError


def temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_get_the_umask_mode(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        for path in (
            io.write_json(tmp_path / "a.json", {"x": 1}),
            io.write_text(tmp_path / "b.txt", "hi"),
            io.save_npz(tmp_path / "c.npz", {"x": np.zeros(2)}),
            io.write_csv(tmp_path / "d.csv", ["a"], [[1]]),
        ):
            assert stat.S_IMODE(path.stat().st_mode) == mode, path
    finally:
        os.umask(old)


def test_pictures_get_the_same_mode_as_results(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    png = io.save_figure(fig, tmp_path / "p.png")
    js = io.write_json(tmp_path / "m.json", {})
    assert stat.S_IMODE(png.stat().st_mode) == stat.S_IMODE(js.stat().st_mode)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, code):
    target = io.write_json(tmp_path / "metrics.json", {"old": True})

    def fail(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(InputError) as e:
        io.write_json(target, {"new": True})
    assert str(e.value) == f"{target}: cannot write ({os.strerror(code)})"
    assert io.read_json(target) == {"old": True}
    assert temps(tmp_path) == []


def test_an_interrupted_write_leaves_no_temp(tmp_path):
    def write(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.atomic_write(tmp_path / "model.npz", write)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_figure_is_closed_and_leaves_nothing(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    monkeypatch.setattr(
        os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
    )
    with pytest.raises(InputError, match="No space left on device"):
        io.save_figure(fig, tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == [] and not plt.fignum_exists(fig.number)


def test_writing_into_a_missing_or_unwritable_folder_is_one_line(tmp_path):
    with pytest.raises(
        InputError, match=r"nowhere/x.json: cannot write \(No such file or directory\)"
    ):
        io.write_json(tmp_path / "nowhere" / "x.json", {})
    with pytest.raises(InputError, match="cannot write"):  # procfs refuses new files, even for root
        io.write_text("/proc/twolayer-test.txt", "x")


@pytest.mark.parametrize("kind", ["fifo", "dir", "dev"])
def test_readers_refuse_what_is_not_a_regular_file(tmp_path, kind):
    path = {"fifo": tmp_path / "f", "dir": tmp_path, "dev": "/dev/zero"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    words = {
        "fifo": "is a FIFO, not a file",
        "dir": "is a directory",
        "dev": "is a character device",
    }[kind]
    for reader in (io.read_json, io.read_npz, io.read_text):
        with pytest.raises(InputError, match=words):
            reader(path)


@pytest.mark.parametrize("text", ["", "   \n", "[1, 2]", "{not json", "\xff\xfe"])
def test_damaged_json_is_one_line_naming_the_file(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError, match="config.json"):
        io.read_json(path)


@pytest.mark.slow
def test_full_and_closed_stdout_are_one_line(tmp_path):
    rows = tmp_path / "rows.npy"
    np.save(rows, np.zeros((3, 64)))
    model = tmp_path / "m.npz"
    from twolayer import TwoLayerNet

    TwoLayerNet(64, 4, 10, seed=0).save(model)
    with open("/dev/full", "w") as full:
        r = run_cli("predict", str(model), str(rows), stdout=full, stderr=subprocess.PIPE)
    assert (
        r.returncode == 2
        and r.stderr == "twolayer: error: stdout: cannot write (No space left on device)\n"
    )
    r = subprocess.run(
        shlex.join(cli_argv("predict", model, rows)) + " >&-",
        shell=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.startswith("twolayer: error: stdout: cannot write"), (
        r.stderr
    )
    assert len(r.stderr.splitlines()) == 1


def test_file_mode_reads_the_umask_without_setting_it(monkeypatch):
    import threading

    from twolayer import io as tio

    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or real(m))
    old = real(0o027)
    try:
        assert tio.file_mode() == 0o640
        if os.path.exists("/proc/self/status"):
            assert calls == [], "read from /proc, the umask never set"
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(tio.file_mode())) for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [0o640] * 8 and real(0o027) == 0o027
    finally:
        real(old)


def test_file_mode_falls_back_to_os_umask_under_a_lock(monkeypatch):
    import builtins

    from twolayer import io as tio

    real_open = builtins.open

    def no_proc(path, *a, **k):
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(path)
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", no_proc)
    old = os.umask(0o077)
    try:
        assert tio.file_mode() == 0o600 and os.umask(0o077) == 0o077
    finally:
        os.umask(old)
