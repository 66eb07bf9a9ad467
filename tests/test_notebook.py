"""The tutorial notebook runs from top to bottom, derives and checks every gradient, and its
plain-text twin is the same notebook."""

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOK = EXAMPLES / "two_layer_net.ipynb"
# the MNIST sample as this workplace (and CI) lays it out: shared/ beside or above the checkout
MNIST10K = next(
    (
        p / "shared/data/mnist10k"
        for p in EXAMPLES.parents
        if (p / "shared/data/mnist10k/t10k-labels-idx1-ubyte.gz").is_file()
    ),
    None,
)
# every gradient of the backward pass, each checked against centred differences in the notebook
DERIVED = ("dscores", "dW2", "db2", "dh", "da", "dW1", "db1")
EXERCISES = 4


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


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_notebook_derives_the_backward_pass():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = _markdown(nb)
    # ∂L/∂scores from the softmax: both cases, the 1/N of the mean, the regulariser's 2·reg·W
    for step in (
        "−s[i, yᵢ] + log Σⱼ exp(s[i, j])",
        "**k = yᵢ** (the correct class): ∂Lᵢ/∂s[i, yᵢ] = p[i, yᵢ] − 1",
        "**k ≠ yᵢ** (any other class): ∂Lᵢ/∂s[i, k] = p[i, k]",
        "dscores[i] = ∂L/∂s[i] = (p[i] − onehot(yᵢ)) / N",
        "**2·reg·W**",
        "dW2 = hᵀ·dscores + 2·reg·W2",
        "dh  = dscores·W2ᵀ",
        "da = dh ⊙ [a > 0]",
        "dW1 = Xᵀ·da + 2·reg·W1",
    ):
        assert step in text, step
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    # the reader's own centred differences, not the library's backward pass
    assert any("def numeric_gradient(f, x, h=1e-5):" in c for c in code)
    for name in DERIVED:
        assert any(f'check("{name}", {name}, numeric_gradient(' in c for c in code), name
    # every exercise: a cell to fill in, then its solution in a collapsed cell that checks itself
    solutions = [c for c in nb.cells if c.metadata.get("jupyter", {}).get("source_hidden")]
    assert len(solutions) == EXERCISES
    for n, cell in enumerate(solutions, 1):
        assert cell.source.startswith(f"# Solution {n}.")
        assert f"check_exercise_{n}(" in cell.source
        assert f'print("exercise {n} solution: correct")' in cell.source


@pytest.mark.slow
def test_notebook_runs_and_its_checks_pass(monkeypatch):
    # no TWOLAYER_MNIST_SAMPLE: the notebook must find the sample from the checkout, as a fresh
    # clone does
    monkeypatch.delenv("TWOLAYER_MNIST_SAMPLE", raising=False)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        # on a shared 2-core machine two BLAS threads spin against each other (45 s instead of 5 s
        # for the MNIST cell); one thread keeps the run within its time whatever the load
        monkeypatch.setenv(var, "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)

    # the warm-up circuit and the assignment's toy numbers
    assert "f = -12;  ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3" in text
    assert float(re.search(r"difference from the assignment's scores: (\S+)", text).group(1)) < 1e-7
    assert "loss 1.30378789133; the assignment's: 1.30378789133" in text

    # each derived gradient ran its check, and agrees with centred differences
    checked = dict(
        re.findall(r"^(.+?): relative error vs the numerical gradient (\S+)$", text, re.M)
    )
    for name in DERIVED:
        assert float(checked[name]) < 1e-7, (name, checked.get(name))
    assert "N·dscores = p − onehot: [-0.6355  0.2291  0.4064]" in text  # the k = y₀ entry is p − 1
    for n in range(1, EXERCISES + 1):
        assert f"exercise {n}: not answered yet" in text
        assert f"exercise {n} solution: correct" in text
    exercise_checks = [float(v) for k, v in checked.items() if k.startswith("exercise")]
    assert len(exercise_checks) == 4 and max(exercise_checks) < 1e-7

    # the circuit shows the reader's gradients; check_net passes in float64 and on a float32 net
    differences = re.findall(r"d\w+: the circuit's vs yours, max difference (\S+)", text)
    assert len(differences) == 4 and max(map(float, differences)) < 1e-12
    errors = [float(v) for v in re.findall(r"max relative error: (\S+)", text)]
    assert len(errors) == 4 and max(errors) < 1e-7
    assert float(re.search(r"float32 twin, checked in float64: (\S+)", text).group(1)) < 1e-7

    # training, the grid with its edge notes, the weights
    assert float(re.search(r"final training loss: (\S+)", text).group(1)) < 0.05
    assert float(re.search(r"digits: validation \S+, test (\S+)%", text).group(1)) > 90
    notes = re.findall(
        r"^(?:note: )?the best (learning rate|reg), \S+, is (inside|the smallest|the largest)",
        text,
        re.M,
    )
    assert [n[0] for n in notes] == ["learning rate", "reg"]
    if MNIST10K is not None:
        test_acc = re.search(r"MNIST sample: 7200 training rows; validation \S+, test (\S+)%", text)
        assert float(test_acc.group(1)) > 92
    else:
        assert "MNIST sample not found: set TWOLAYER_MNIST_SAMPLE=" in text

    # every figure reached the notebook, and the circuit fits the cell
    data = [o.get("data", {}) for o in outputs]
    kinds = [k for d in data for k in d]
    assert kinds.count("image/svg+xml") == 1 and kinds.count("image/png") == 4
    svg = next(d["image/svg+xml"] for d in data if "image/svg+xml" in d)
    width = float(re.search(r'<svg[^>]*? width="([\d.]+)px"', svg).group(1))
    assert width <= 1000 and "max-width: 100%" in svg


def test_the_readmes_one_command_installs_jupyter_and_opens_the_notebook():
    tomllib = pytest.importorskip("tomllib")
    root = EXAMPLES.parent
    command = 'pip install -e ".[notebook]" && jupyter lab examples/two_layer_net.ipynb'
    assert command in (root / "README.md").read_text()
    assert command in nbformat.read(NOTEBOOK, as_version=4).cells[0].source
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in extras["notebook"]}
    assert "jupyterlab" in names  # it brings the `jupyter` command and its `lab` subcommand
