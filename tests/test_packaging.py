"""What an install carries: the plain install trains without the extras, the extras hold what their
names say, the metadata is complete and the type information ships; a missing optional part is
named with the extra that installs it."""

import sys
from importlib.metadata import metadata, requires
from importlib.resources import files

import numpy as np
import pytest
from helpers import run_python
from packaging.requirements import Requirement

from twolayer import tune as tuning
from twolayer.cli import main
from twolayer.errors import InputError

# Not in the plain install: the extras' and the tests' packages.
EXTRAS_ONLY = (
    "optuna",
    "psycopg",
    "sqlalchemy",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "pandas",
    "hypothesis",
    "pytest",
    "mypy",
    "jupytext",
    "nbclient",
    "ipykernel",
)

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not installed (blocked by the test)")
sys.meta_path.insert(0, Block())
from twolayer.cli import main
sys.exit(main({argv!r}))
"""


def _requirements():
    by_extra = {}
    for line in requires("twolayer"):
        req = Requirement(line)
        extra = None
        if req.marker is not None:
            extra = str(req.marker).split("==")[1].strip().strip("'\"")
        by_extra.setdefault(extra, set()).add(req.name.lower())
    return by_extra


def test_twolayer_train_needs_no_extra(tmp_path):
    argv = ["train", "--out", str(tmp_path / "run"), "--epochs", "1", "--hidden", "16", "--quiet"]
    done = run_python(BLOCKER.format(blocked=set(EXTRAS_ONLY), argv=argv), timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "model.npz").exists()


def test_extras_match_their_use():
    reqs = _requirements()
    assert not reqs[None] & set(EXTRAS_ONLY)
    assert "optuna" in reqs["tune"] and "psycopg" not in reqs["tune"]
    assert {"optuna", "psycopg"} <= reqs["postgres"]
    assert reqs["onnx"] == {"onnx"}
    assert {"optuna", "psycopg", "pytest", "hypothesis", "mypy"} <= reqs["test"]
    binary = [Requirement(r) for r in requires("twolayer") if r.startswith("psycopg")]
    assert all("binary" in r.extras for r in binary)


def test_metadata_names_license_and_project():
    meta = metadata("twolayer")
    assert meta["License-Expression"] == "MIT"
    assert any(u.startswith("Homepage, https://") for u in meta.get_all("Project-URL"))
    assert "Typing :: Typed" in meta.get_all("Classifier")


def test_type_information_ships():
    assert files("twolayer").joinpath("py.typed").is_file()


# -- missing optional parts --------------------------------------------------------------------------------
def test_tune_without_optuna_names_the_extra(monkeypatch, tmp_path, small, capsys):
    monkeypatch.setitem(
        sys.modules, "optuna", None
    )  # `import optuna` now fails as if it were not installed
    assert main(["tune", "--data", small, "--out", str(tmp_path / "t"), "-q"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "twolayer: error: twolayer tune needs Optuna, an optional part: pip install 'twolayer[tune]'\n"
    )
    with pytest.raises(InputError, match=r"pip install 'twolayer\[tune\]'"):
        tuning.tune(small, 1, out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_onnx_export_without_onnx_names_the_extra(monkeypatch, tmp_path, capsys):
    X = np.random.default_rng(0).standard_normal((30, 3))
    np.savez(tmp_path / "s.npz", X_train=X, y_train=np.arange(30) % 2)
    assert (
        main(
            [
                "train",
                "--data",
                f"npz:{tmp_path / 's.npz'}",
                "--epochs",
                "1",
                "--hidden",
                "4",
                "--out",
                str(tmp_path / "r"),
                "-q",
            ]
        )
        == 0
    )
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert (
        main(["export", str(tmp_path / "r" / "model.npz"), "--out", str(tmp_path / "m.onnx")]) == 2
    )
    assert capsys.readouterr().err == (
        'twolayer: error: exporting to ONNX needs the onnx package: pip install "twolayer[onnx]"\n'
    )
    assert not (tmp_path / "m.onnx").exists()
