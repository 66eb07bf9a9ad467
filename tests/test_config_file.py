"""--config FILE (TOML or JSON) for train and tune, a run's own config.json accepted as one, options
typed on the command line winning, --print-config; every mistake in the file is one line."""

import json

import numpy as np
import pytest

from twolayer.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("config")
    X = np.random.default_rng(0).standard_normal((60, 4))
    np.savez(root / "d.npz", X_train=X, y_train=np.arange(60) % 3)
    args = ["train", "--data", f"npz:{root / 'd.npz'}", "--epochs", "2", "--hidden", "5"]
    args += ["--optimizer", "nesterov", "--lr", "0.01", "--batch-size", "8", "--seed", "3"]
    assert main([*args, "--patience", "4", "--out", str(root / "r"), "-q", "--no-plots"]) == 0
    return root


def _printed(capsys, *args):
    assert main([*args, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_runs_config_json_reproduces_the_run(run, capsys):
    config = run / "r" / "config.json"
    printed = _printed(capsys, "train", "--config", str(config))
    stored = json.loads(config.read_text())
    stored.pop("fingerprint"), stored.pop("auto")  # records of the run, not options
    assert printed == stored
    assert main(["train", "--config", str(config), "--out", str(run / "again"), "-q"]) == 0
    a = json.loads((run / "r" / "metrics.json").read_text())
    b = json.loads((run / "again" / "metrics.json").read_text())
    assert (a["val_accuracy"], a["final_loss"]) == (b["val_accuracy"], b["final_loss"])


def test_command_line_options_win_over_the_file(run, capsys):
    printed = _printed(capsys, "train", "--config", str(run / "r" / "config.json"), "--lr", "0.5")
    assert printed["train"]["learning_rate"] == 0.5 and printed["train"]["optimizer"] == "nesterov"


@pytest.mark.parametrize(
    "text, suffix",
    [
        ("lr = 0.005\nhidden = 32\n[train]\nepochs = 3\nbatch-size = 16\n", ".toml"),
        ("learning_rate = 0.005\nhidden_size = 32\nepochs = 3\nbatch_size = 16\n", ".toml"),
        ('{"lr": 0.005, "hidden": 32, "train": {"epochs": 3, "batch_size": 16}}', ".json"),
    ],
)
def test_toml_and_json_spell_options_as_settings_or_flags(text, suffix, tmp_path, capsys):
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    printed = _printed(capsys, "train", "--config", str(path))
    assert printed["hidden_size"] == 32
    assert (printed["train"]["learning_rate"], printed["train"]["epochs"]) == (0.005, 3)
    assert printed["train"]["batch_size"] == 16


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("b.toml", "bogus = 1\n", "'bogus' is not a setting"),
        ("b.toml", "lr = \n", "not valid TOML"),
        ("b.json", "[1, 2]", "expected a JSON object"),
        ("b.json", "{", "not valid JSON"),
        ("b.json", '{"std": 0.5}', "no option for"),
        ("b.json", '{"lr": -1}', "--lr"),
        ("b.json", '{"lr": 1, "train": {"lr": 2}}', "given twice"),
        ("b.json", '{"train": 3}', "'train' must be a table"),
        ("missing.toml", None, "not found"),
    ],
)
def test_a_bad_config_file_is_one_line(name, text, words, tmp_path, capsys):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twolayer: error: ") and words in err, err
    assert not (tmp_path / "o").exists()


def test_tune_reads_a_config_too(tmp_path, capsys):
    path = tmp_path / "t.toml"
    path.write_text('trials = 3\nsampler = "random"\nout = "elsewhere"\n')
    printed = _printed(capsys, "tune", "--config", str(path), "--trials", "5")
    assert (printed["trials"], printed["sampler"], printed["out"]) == (5, "random", "elsewhere")
