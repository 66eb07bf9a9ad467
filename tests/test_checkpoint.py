"""Damaged checkpoints that look plausible: every field is cross-checked against the others and the
run (epoch against the history, the best epoch within it, learning rates against the settings, the
optimizer's arrays against its slots, the generator's state) before --resume uses any of it."""

import json

import numpy as np
import pytest

from twolayer.cli import main

D = 5


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, D))
    np.savez(root / "data.npz", X_train=X, y_train=np.arange(80) % 3)
    made = {}
    for opt in ("adamw", "momentum", "sgd"):
        out = root / opt
        args = ["train", "--data", f"npz:{root / 'data.npz'}", "--epochs", "2", "--hidden", "4"]
        args += ["--optimizer", opt, "--patience", "5", "--out", str(out), "-q", "--no-plots"]
        assert main(args) == 0
        made[opt] = out
    return root, made


def _read(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, json.loads(str(arrays["state"][()]))


def _write(path, arrays, state):
    arrays = {**arrays, "state": np.array(json.dumps(state))}
    np.savez(path, **arrays)


def _set(key, value):
    def change(arrays, state):
        state[key] = value

    return change


def _hist(key, value):
    def change(arrays, state):
        state["history"][key] = value

    return change


def _rm(key):
    return lambda arrays, state: arrays.pop(key)


def _arr(key, fn):
    def change(arrays, state):
        arrays[key] = fn(arrays[key])

    return change


def _rng(fn):
    return lambda arrays, state: fn(state["rng"])


DAMAGE = {
    "epoch 1e9": (_set("epoch", 10**9), "history has"),
    "epoch 1 of 2 rows": (_set("epoch", 1), "history has"),
    "epoch 0 with rows": (_set("epoch", 0), "history has"),
    "epochs repeated": (_hist("epoch", [1, 1]), "epochs are not"),
    "a history row lost": (_hist("lr", [0.001]), "history has"),
    "step_count off": (_set("step_count", 1), "step_count"),
    "opt_t off": (_set("opt_t", 10**6), "step_count"),
    "step losses lost": (_hist("step_loss", []), "step_count"),
    "lr above the base": (_hist("lr", [0.002, 5.0]), "learning rate"),
    "lr negative": (_hist("lr", [0.002, -0.001]), "learning rate"),
    "best epoch beyond": (_set("best", [0.5, 7]), "best epoch"),
    "best epoch 0": (_set("best", [0.5, 0]), "best epoch"),
    "best score invented": (_set("best", [0.999, 1]), "best score"),
    "best lost": (_set("best", None), "no best epoch"),
    "bad epochs beyond": (_set("bad_epochs", 9), "without progress"),
    "adam slot lost": (_rm("opt_m_W1"), "wrong arrays"),
    "adam slot NaN": (_arr("opt_v_b2", lambda a: a * np.nan), "not finite"),
    "adam slot float16": (_arr("opt_m_W2", lambda a: a.astype(np.float16)), "not finite"),
    "rng kind": (_rng(lambda r: r.update(kind="mersenne")), "field 'rng'"),
    "rng state": (_rng(lambda r: r.update(state={"bit_generator": "PCG64"})), "rng"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_plausible_but_damaged_checkpoint_is_refused(runs, name, tmp_path, capsys):
    root, made = runs
    change, words = DAMAGE[name]
    out = tmp_path / "run"
    import shutil

    shutil.copytree(made["adamw"], out)
    arrays, state = _read(out / "checkpoint.npz")
    change(arrays, state)
    _write(out / "checkpoint.npz", arrays, state)
    before = (out / "model.npz").read_bytes()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "4", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twolayer: error: "), err
    assert words in err and "damaged" in err, err
    assert (out / "model.npz").read_bytes() == before, "nothing overwritten"


@pytest.mark.parametrize(
    "opt, change, words",
    [
        ("momentum", _rm("opt_W1"), "wrong arrays"),
        ("momentum", lambda a, s: a.update(opt_m_W1=a["opt_W1"]), "wrong arrays"),
        ("sgd", lambda a, s: a.update(opt_W1=a["param_W1"]), "wrong arrays"),
    ],
)
def test_optimizer_state_must_be_the_rules_slots(runs, opt, change, words, tmp_path, capsys):
    import shutil

    root, made = runs
    out = tmp_path / "run"
    shutil.copytree(made[opt], out)
    arrays, state = _read(out / "checkpoint.npz")
    change(arrays, state)
    _write(out / "checkpoint.npz", arrays, state)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "-q"]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("opt", ["adamw", "momentum", "sgd"])
def test_an_intact_checkpoint_still_resumes(runs, opt, tmp_path):
    import shutil

    root, made = runs
    out = tmp_path / "run"
    shutil.copytree(made[opt], out)
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "-q"]) == 0
    arrays, state = _read(out / "checkpoint.npz")
    assert state["epoch"] == 3 and len(state["history"]["epoch"]) == 3
