"""What an install carries: the plain install trains without the extras, the extras hold what their
names say, the metadata is complete and the type information ships.

The first test runs every core command with the extras' packages blocked; .ci/run also runs the
`core` tests in a venv that has the core install alone."""

import subprocess
import sys
from importlib.metadata import metadata, requires
from importlib.resources import files

import pytest
from packaging.requirements import Requirement

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
        extra = None
        if req.marker is not None:
            extra = str(req.marker).split("==")[1].strip().strip("'\"")
        by_extra.setdefault(extra, set()).add(req.name.lower())
    return by_extra


def run_blocked(argv):
    return subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=set(EXTRAS_ONLY), argv=argv)],
        capture_output=True,
        text=True,
        timeout=300,
    )


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


def test_the_estimator_without_scikit_learn_names_the_extra():
    code = BLOCKER.split("from twolayer.cli")[0].format(blocked={"sklearn"}) + (
        "from twolayer import TwoLayerClassifier"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: TwoLayerClassifier needs scikit-learn 1.6 or later (")
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
