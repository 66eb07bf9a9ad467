"""What an install carries: the plain install trains without the extras, the extras hold what their
names say, the metadata is complete and the type information ships."""

from importlib.metadata import metadata, requires
from importlib.resources import files

from helpers import run_python
from packaging.requirements import Requirement

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
