"""twolayer info MODEL: what a model is (shapes, classes, preprocessing, data, settings, version),
as a table or --json; a missing or damaged model is one line."""

import json

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.runs import model_info


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("info")
    X = np.random.default_rng(0).standard_normal((50, 4))
    np.savez(root / "d.npz", X_train=X, y_train=np.arange(50) % 3)
    args = ["train", "--data", f"npz:{root / 'd.npz'}", "--epochs", "2", "--hidden", "5"]
    assert (
        main([*args, "--optimizer", "momentum", "--out", str(root / "r"), "-q", "--no-plots"]) == 0
    )
    return root


def test_info_json_describes_the_model(run, capsys):
    assert main(["info", str(run / "r" / "model.npz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["input_size"], info["hidden_size"], info["output_size"]) == (4, 5, 3)
    assert info["shapes"] == {"W1": [4, 5], "b1": [5], "W2": [5, 3], "b2": [3]}
    assert info["classes"] == ["0", "1", "2"] and info["data"].startswith("npz:")
    assert info["settings"]["train"]["optimizer"] == "momentum"
    assert info["preprocess"] == "standardize" and info["format_version"] >= 1
    assert info == json.loads(json.dumps(model_info(run / "r" / "model.npz")))


def test_info_table(run, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["info", str(run / "r" / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "4 in, 5 hidden, 3 out" in out and "momentum" in out


def test_info_of_a_model_without_run_settings(tmp_path, capsys):
    net = TwoLayerNet(3, 2, 2)
    net.save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] is None


@pytest.mark.parametrize("content", [None, b"", b"not a zip"])
def test_info_of_a_missing_or_damaged_model_is_one_line(content, tmp_path, capsys):
    path = tmp_path / "m.npz"
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twolayer: error: ")
