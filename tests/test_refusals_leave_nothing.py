"""A refused command leaves nothing behind: no study.json binding a folder to a study it never
joined, no empty run folder holding only a lock, and a released lock's note never reads as live."""

import numpy as np
import pytest

from twolayer.cli import main
from twolayer.locks import LOCK_FILE, run_lock

optuna = pytest.importorskip("optuna")


@pytest.fixture
def small(tmp_path):
    X = np.random.default_rng(0).standard_normal((60, 3))
    np.savez(tmp_path / "s.npz", X_train=X, y_train=np.arange(60) % 2)
    return f"npz:{tmp_path / 's.npz'}"


def _one_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twolayer: error: "), err
    for w in words:
        assert w in err, err


def _foreign_minimize(url, name):
    optuna.create_study(storage=url, study_name=name, direction="minimize")


def _foreign_objective(url, name):
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=0.5, params={}, distributions={}))


@pytest.mark.parametrize(
    "make, words",
    [(_foreign_minimize, "direction is minimize"), (_foreign_objective, "not created by")],
)
@pytest.mark.parametrize("storage", ["default", "url"])
def test_tune_refusing_to_join_leaves_no_study_json(make, words, storage, tmp_path, small, capsys):
    out = tmp_path / "t"
    out.mkdir()
    url = (
        f"sqlite:///{out / 'study.db'}"
        if storage == "default"
        else f"sqlite:///{tmp_path / 'o.db'}"
    )
    make(url, "twolayer")
    args = ["tune", "--data", small, "--out", str(out), "--trials", "1", "-q"]
    if storage == "url":
        args += ["--storage", url]
    assert main(args) == 2
    _one_line(capsys, words)
    assert not (out / "study.json").exists()
    # and the folder is not bound: the right study may use it afterwards
    assert main([*args, "--study-name", "mine"]) == 0
    assert (out / "study.json").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--data", "npz:missing.npz", "--out", "{out}", "-q"],
        ["train", "--data", "nosuchset", "--out", "{out}", "-q"],
        ["train", "--data", "{small}", "--hidden", "0", "--out", "{out}", "-q"],
    ],
)
def test_a_refused_train_leaves_no_new_folder(command, tmp_path, small, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "new" / "run"
    args = [a.format(out=out, small=small) for a in command]
    assert main(args) == 2
    _one_line(capsys)
    assert not out.exists()


def test_a_refusal_keeps_a_folder_that_was_there(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    assert main(["train", "--data", "npz:missing.npz", "--out", str(out), "-q"]) == 2
    assert out.is_dir()


def test_a_released_lock_reads_as_free(tmp_path):
    with run_lock(tmp_path, "train"):
        note = (tmp_path / LOCK_FILE).read_text()
        assert "since" in note and "free" not in note
    note = (tmp_path / LOCK_FILE).read_text()
    assert note.startswith("free") and "released at" in note
    with run_lock(tmp_path, "tune", shared=True):
        with run_lock(tmp_path, "tune", shared=True):
            pass
        assert not (tmp_path / LOCK_FILE).read_text().startswith("free"), "another still holds it"
    assert (tmp_path / LOCK_FILE).read_text().startswith("free")
