"""The diagram: its red labels are the library's gradients, and the files show something."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from twolayer import diagram
from twolayer.cli import main
from twolayer.gradcheck import numerical_gradient, random_problem
from twolayer.layers import softmax
from twolayer.net import TwoLayerNet
from twolayer.runs import RunSettings, run_training
from twolayer.train import TrainConfig

REG = 0.05
pytestmark = pytest.mark.core  # the diagram needs no matplotlib


def imread(path):
    """An RGB picture as floats in [0, 1]."""
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255


@pytest.fixture
def problem():
    net, X, y = random_problem(n=5, d=4, hidden=6, classes=3, seed=2)
    return net, X[:2], y[:2]


def svg_texts(path):
    """(text, fill colour) of every <text> element of an SVG written with svg.fonttype 'none'."""
    out = []
    for el in ET.parse(path).iter("{http://www.w3.org/2000/svg}text"):
        fill = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", el.get("style", ""))
        out.append(("".join(el.itertext()), fill.group(1).lower() if fill else "#000000"))
    return out


def numbers(line):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", line.strip("[]…, "))]


def test_circuit_gradients_are_the_librarys(problem):
    net, X, y = problem
    edges, loss = diagram.circuit(net, X, y, REG)
    ref_loss, ref = net.loss(X, y, reg=REG)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    grads = diagram.parameter_gradients(edges)
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-10, atol=1e-14)
    by_name = {(e.src, e.dst): e for e in edges}
    # dL/dscores = (softmax - onehot) / N, written out independently
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(
        by_name["add2", "loss"].grad, (softmax(by_name["add2", "loss"].value) - onehot) / 2
    )
    # dL/dX, which the training path never computes, against centred differences
    Xc = X.copy()
    num = numerical_gradient(lambda _: net.loss(Xc, y, reg=REG)[0], Xc)
    np.testing.assert_allclose(by_name["X", "mm1"].grad, num, rtol=1e-6, atol=1e-9)
    # forward values: scores are the network's scores
    np.testing.assert_allclose(by_name["add2", "loss"].value, net.loss(X))


def test_svg_red_labels_are_the_gradients(problem, tmp_path):
    net, X, y = problem
    path = tmp_path / "circuit.svg"
    edges = diagram.draw(net, X, y, REG, path)
    texts = svg_texts(path)
    red = [t for t, fill in texts if fill == diagram.BACKWARD]
    black = {t for t, fill in texts if fill != diagram.BACKWARD}
    assert {"W1", "W2", "ReLU"} <= black
    _, ref = net.loss(X, y, reg=REG)
    for e in edges:
        label = diagram.gradient_label(e)
        if label is None:
            assert e.name == "y"
            continue
        head, values = label.split("\n")
        # the two lines of a label are consecutive <text> elements (W1 and W2 have two wires each)
        assert values in [red[i + 1] for i, t in enumerate(red) if t == head]
        shown = numbers(values)
        expected = np.ravel(e.grad)[:3]
        np.testing.assert_allclose(shown, expected, rtol=5e-3, atol=1e-12)
        if e.src in ("b1", "b2"):  # a bias feeds one wire: its red label is the library's gradient
            np.testing.assert_allclose(shown, ref[e.src][:3], rtol=5e-3)
    # W1 and W2 feed two wires: their totals are drawn too, and are the library's gradients
    for k, label in diagram.sum_labels(edges).items():
        head, values = label.split("\n")
        assert head in red and values == red[red.index(head) + 1]
        np.testing.assert_allclose(numbers(values), np.ravel(ref[k])[:3], rtol=5e-3, atol=1e-12)
    # every red label in the file is one of the circuit's gradients or a parameter's total
    assert len(red) == 2 * sum(e.grad is not None for e in edges) + 2 * 2


def test_png_is_not_blank(problem, tmp_path):
    net, X, y = problem
    path = tmp_path / "d.png"
    diagram.draw(net, X, y, REG, path)
    pixels = imread(path)
    assert pixels.shape[:2] == (1150, 1800)
    assert pixels[..., :3].var() > 1e-3
    red = (pixels[..., 0] > 0.6) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert red.sum() > 200  # the gradient labels are drawn in red


def test_shown_nodes():
    assert diagram.shown_nodes(3, 10) == [0, 1, 2]
    assert diagram.shown_nodes(256, 10) == [0, 1, 2, 3, 4, None, 252, 253, 254, 255]


def test_labels():
    assert diagram.fmt_values(np.array(0.123456)) == "0.1235"
    assert diagram.fmt_values(np.array([[1.0, -2.5], [3e-7, 4.0]])) == "[1, -2.5, 3e-07, …]"
    assert diagram.fmt_values(np.array([3, 9])) == "[3, 9]"
    e = diagram.Edge("mm1", "add1", "X·W1", np.zeros((2, 5)), np.ones((2, 5)))
    assert diagram.forward_label(e) == "X·W1  2×5\n[0, 0, 0, …]"
    assert diagram.gradient_label(e) == "∂L/∂(X·W1)  2×5\n[1, 1, 1, …]"


def test_cli_diagram_fresh_network_and_saved_model(tmp_path, capsys):
    assert main(["diagram", "--out", str(tmp_path / "fresh.svg"), "--hidden", "16"]) == 0
    texts = {t for t, _ in svg_texts(tmp_path / "fresh.svg")}
    assert {"W1", "W2", "ReLU"} <= texts and "input" in texts and "64 (8×8 image)" in texts
    run = tmp_path / "run"
    run_training(RunSettings(hidden_size=8, train=TrainConfig(epochs=1)), run)
    assert (
        main(["diagram", "--model", str(run / "model.npz"), "--out", str(tmp_path / "m.png")]) == 0
    )
    assert imread(tmp_path / "m.png")[..., :3].var() > 1e-3
    net = TwoLayerNet.load(run / "model.npz")
    assert net.hidden_size == 8


def test_cli_diagram_mistakes(tmp_path, capsys):
    assert main(["diagram", "--out", str(tmp_path / "d.jpg")]) == 2
    assert "svg or .png" in capsys.readouterr().err
    assert main(["diagram", "--out", str(tmp_path / "d.svg"), "--batch", "0"]) == 2
    assert (
        main(["diagram", "--out", str(tmp_path / "d.svg"), "--model", str(tmp_path / "none.npz")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "file not found" in err


def test_no_negative_zero_and_the_sum_of_two_wires(problem):
    from twolayer.diagram import circuit, fmt_values, parameter_gradients, sum_labels

    assert fmt_values(np.array([-0.0, 0.0, -1e-9])) == "[0, 0, -1e-09]"
    assert fmt_values(np.array(-0.0)) == "0"
    net, X, y = problem
    edges, _ = circuit(net, X, y, reg=0.1)
    labels = sum_labels(edges)
    assert set(labels) == {"W1", "W2"}  # the biases feed one wire each
    total = parameter_gradients(edges)["W1"]
    _, grads = net.loss(X, y, reg=0.1)
    np.testing.assert_allclose(total, grads["W1"], rtol=1e-10, atol=1e-12)
    assert (
        labels["W1"].startswith("∂L/∂W1 = sum of its 2 wires") and fmt_values(total) in labels["W1"]
    )
