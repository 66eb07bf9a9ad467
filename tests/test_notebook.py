"""The tutorial notebook runs from top to bottom, and its plain-text twin is the same notebook."""

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOK = EXAMPLES / "two_layer_net.ipynb"
MNIST10K = Path("/work/shared/data/mnist10k")


def test_notebook_and_its_py_twin_hold_the_same_cells():
    ipynb = jupytext.read(NOTEBOOK)
    py = jupytext.read(EXAMPLES / "two_layer_net.py")
    assert [(c.cell_type, c.source) for c in ipynb.cells] == [
        (c.cell_type, c.source) for c in py.cells
    ]
    assert all(
        not c.get("outputs")
        for c in nbformat.read(NOTEBOOK, as_version=4).cells
        if c.cell_type == "code"
    )


@pytest.mark.slow
def test_notebook_runs_and_reproduces_the_assignment(monkeypatch):
    if MNIST10K.is_dir():
        monkeypatch.setenv("TWOLAYER_MNIST_SAMPLE", str(MNIST10K))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "loss 1.30378789133; the assignment's: 1.30378789133" in text
    assert float(re.search(r"difference from the assignment's scores: (\S+)", text).group(1)) < 1e-7
    errors = [float(v) for v in re.findall(r"max relative error: (\S+)", text)]
    assert len(errors) == 4 and max(errors) < 1e-7
    assert re.findall(r"circuit vs net.loss, max difference (\S+)", text) == ["0.0e+00"] * 4
    assert float(re.search(r"final training loss: (\S+)", text).group(1)) < 0.05
    digits_test = float(re.search(r"digits: validation \S+, test (\S+)%", text).group(1))
    assert digits_test > 93
    if MNIST10K.is_dir():
        assert (
            float(
                re.search(
                    r"MNIST sample: 7200 training rows; validation \S+, test (\S+)%", text
                ).group(1)
            )
            > 92
        )
    # every figure reached the notebook: the library's pictures leave the inline backend alone
    kinds = [
        k for c in nb.cells if c.cell_type == "code" for o in c.outputs for k in o.get("data", {})
    ]
    assert kinds.count("image/svg+xml") == 1 and kinds.count("image/png") == 4
