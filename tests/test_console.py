"""Exactly one line on stderr, in real processes: NumPy and parser warnings kept off it, a closed
stderr, no blank line after an erased progress bar."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from helpers import run_python

from twolayer import TwoLayerNet
from twolayer.cli import main

# -- warnings and a closed stderr: real processes -----------------------------------------------------------
WARN_THEN_FAIL = """
    import sys, warnings
    import numpy as np
    from twolayer import cli, runs
    from twolayer.errors import InputError

    def evaluate_model(*a, **k):
        np.float32(3e38) * np.float32(10)                   # RuntimeWarning: overflow
        np.asarray([1 + 1j]).astype(float)                  # ComplexWarning
        warnings.warn("input contained no data", UserWarning)  # loadtxt's words
        raise InputError("the error")
    runs.evaluate_model = evaluate_model
    sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_numpy_and_parser_warnings_never_reach_stderr_beside_the_error():
    r = run_python(WARN_THEN_FAIL, "evaluate", "m.npz")
    assert r.returncode == 2 and r.stderr == "twolayer: error: the error\n", r.stderr
    r = run_python(
        WARN_THEN_FAIL, "evaluate", "m.npz", "--debug"
    )  # --debug shows them (and the traceback)
    assert "RuntimeWarning" in r.stderr and "Traceback" in r.stderr


def test_the_cli_leaves_the_python_apis_warnings_alone(tmp_path):
    before = list(warnings.filters)
    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 2
    assert warnings.filters == before
    with pytest.warns(RuntimeWarning):
        np.float32(3e38) * np.float32(10)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", [["evaluate", "/nonexistent/m.npz"], ["train", "--seed", "-1"], ["no-such-command"]]
)
def test_with_stderr_closed_the_error_never_goes_to_stdout(argv):
    r = run_python(
        "import sys; from twolayer.cli import main; sys.exit(main(sys.argv[1:]))",
        *argv,
        shell="2>&-",
    )
    assert r.returncode == 2 and r.stdout == "", r.stdout


@pytest.mark.slow
def test_with_stderr_closed_a_run_writes_intact_files(tmp_path):
    """fd 2 held on /dev/null: the first file opened never becomes 'stderr'."""
    out = tmp_path / "run"
    r = run_python(
        "import sys; from twolayer.cli import main; sys.exit(main(sys.argv[1:]))",
        "train",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--out",
        str(out),
        "--json",
        shell="2>&-",
    )
    assert r.returncode == 0 and json.loads(r.stdout)["epochs"] == 1
    assert TwoLayerNet.load(out / "model.npz").hidden_size == 8


@pytest.mark.slow
def test_no_blank_line_after_an_erased_progress_bar(tmp_path):
    """A real, non-terminal stderr: Rich's Progress.stop() would print a newline above the error."""
    X = np.random.default_rng(0).standard_normal((60, 3)) * 1e307
    np.savez(tmp_path / "big.npz", X_train=X, y_train=np.arange(60) % 2)
    r = run_python(
        "import sys; from twolayer.cli import main; sys.exit(main(sys.argv[1:]))",
        "train",
        "--data",
        f"npz:{tmp_path / 'big.npz'}",
        "--preprocess",
        "none",
        "--epochs",
        "3",
        "--out",
        str(tmp_path / "o"),
    )
    assert (
        r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("twolayer: error: ")
    ), r.stderr
    assert "scale them" in r.stderr
