"""What an install carries: the plain install trains without the extras, the extras hold what their
names say, the metadata is complete and the type information ships; a missing optional part is
named with the extra that installs it.

The first test runs every core command with the extras' packages blocked; .ci/run also runs the
`core` tests in a venv that has the core install alone."""

import re
import sys
from importlib.metadata import metadata, requires
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from helpers import run_python
from packaging.requirements import Requirement

from twolayer import tune as tuning
from twolayer.cli import main
from twolayer.errors import InputError

pytestmark = pytest.mark.core

# Not in the plain install: the extras' and the tests' packages.
EXTRAS_ONLY = (
    "sklearn",
    "scipy",
    "matplotlib",
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
        named = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", str(req.marker or ""))
        extra = named.group(1) if named else None
        if extra is None and req.marker is not None and not req.marker.evaluate():
            continue  # a core dependency of other Pythons only (tomli before 3.11)
        by_extra.setdefault(extra, set()).add(req.name.lower())
    return by_extra


def run_blocked(argv):
    return run_python(BLOCKER.format(blocked=set(EXTRAS_ONLY), argv=argv), timeout=300)


def test_core_commands_need_no_extra(tmp_path):
    """train, evaluate, predict, report, gradcheck and diagram with scikit-learn, SciPy, matplotlib
    and every other extra blocked from import."""
    run = tmp_path / "run"
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(",".join(["3"] * 64) for _ in range(4)) + "\n")
    commands = [
        ["train", "--out", str(run), "--epochs", "1", "--hidden", "16", "--quiet"],
        ["evaluate", str(run / "model.npz")],
        ["predict", str(run / "model.npz"), str(rows), "--out", str(tmp_path / "p.csv")],
        ["report", str(run)],
        ["gradcheck"],
        ["diagram", "--out", str(tmp_path / "d.svg"), "--hidden", "8"],
        ["diagram", "--model", str(run / "model.npz"), "--out", str(tmp_path / "d.png")],
    ]
    for argv in commands:
        done = run_blocked(argv)
        assert done.returncode == 0, (argv, done.stderr)
    assert (run / "model.npz").exists() and (run / "loss.png").exists()
    assert (tmp_path / "p.csv").exists() and (tmp_path / "d.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "name, statement",
    [
        ("TwoLayerClassifier", "from twolayer import TwoLayerClassifier"),
        ("MLPClassifier", "from twolayer import MLPClassifier"),
        ("MLPClassifier", "import twolayer.sklearn_mlp"),
    ],
)
def test_the_estimators_without_scikit_learn_name_the_extra(name, statement):
    code = BLOCKER.split("from twolayer.cli")[0].format(blocked={"sklearn"}) + statement
    done = run_python(code, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ImportError: {name} needs scikit-learn 1.7 or later (")
    assert last.endswith('): pip install "twolayer[sklearn]"') and "sklearn" in last


def test_the_digits_ship_with_their_licence():
    folder = files("twolayer").joinpath("data", "digits")
    assert folder.joinpath("digits.csv.gz").is_file()
    assert "BSD 3-Clause" in folder.joinpath("LICENSE-scikit-learn.txt").read_text()
    assert "scikit-learn" in folder.joinpath("README.md").read_text()
    assert "Bitstream" in files("twolayer").joinpath("fonts", "LICENSE-DejaVu.txt").read_text()


def test_extras_match_their_use():
    reqs = _requirements()
    assert not reqs[None] & (set(EXTRAS_ONLY) | {"scikit-learn"})
    assert reqs[None] == {"numpy", "pillow", "typer", "rich", "threadpoolctl", "pooch"}
    assert reqs["sklearn"] == {"scikit-learn"} and "matplotlib" in reqs["tune"]
    assert {"scikit-learn", "optuna", "matplotlib", "onnx"} <= reqs["all"]
    assert "optuna" in reqs["tune"] and "psycopg" not in reqs["tune"]
    assert {"optuna", "psycopg"} <= reqs["postgres"]
    assert reqs["onnx"] == {"onnx"}
    assert reqs["csv"] == {"pandas"}
    assert {"optuna", "psycopg", "pytest", "hypothesis", "mypy"} <= reqs["test"]
    binary = [Requirement(r) for r in requires("twolayer") if r.startswith("psycopg")]
    assert all("binary" in r.extras for r in binary)


def test_benchmark_only_packages_stay_out_of_the_install_and_the_tests():
    """mnist1d (bench_breadth's MNIST-1D) only in the bench extra; torch in no list at all."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    lists = {None: project["dependencies"], **project["optional-dependencies"]}
    names = {k: {Requirement(r).name.lower() for r in v} for k, v in lists.items()}
    assert [k for k, v in names.items() if "mnist1d" in v] == ["bench"]
    assert not any("torch" in v for v in names.values())


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
