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


def entries(line):
    """{index tuple: value} of a label line of largest entries: '[1,2] -0.5  [0,3] 0.25'."""
    return {
        tuple(int(i) for i in idx.split(",")): float(v)
        for idx, v in re.findall(r"\[([\d,]+)\] (-?[\d.]+(?:e[-+]\d+)?)", line)
    }


def label_lines(texts, color, first):
    """The lines of the label whose first line is ``first`` (consecutive <text> elements)."""
    lines = [t for t, fill in texts if fill == color]
    i = lines.index(first)
    out = [first]
    for line in lines[i + 1 :]:
        if not (line.startswith("[") or line == "all 0" or numbers(line)) or "∂" in line:
            break
        out.append(line)
    return out


def assert_largest(shown, grad, k=diagram.TOP):
    """The printed entries are the k of largest magnitude of ``grad``, at their indices."""
    grad = np.asarray(grad, dtype=np.float64)
    order = np.argsort(-np.abs(grad.ravel()), kind="stable")[:k]
    expected = {np.unravel_index(i, grad.shape): grad.ravel()[i] for i in order}
    expected = {tuple(int(j) for j in idx): v for idx, v in expected.items() if v != 0}
    assert set(shown) == set(expected), (shown, expected)
    for idx, v in shown.items():
        assert v == pytest.approx(expected[idx], rel=5e-3, abs=1e-12)


def test_svg_red_labels_are_the_largest_entries_of_the_gradients(problem, tmp_path):
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
        head, *values = label.split("\n")
        assert head in red and label_lines(texts, diagram.BACKWARD, head)[1:] == values
        if np.ndim(e.grad) == 0:
            assert numbers(values[0]) == [pytest.approx(float(e.grad), rel=1e-3)]
            continue
        norm = float(head.rsplit("‖·‖ ", 1)[1])
        assert norm == pytest.approx(np.linalg.norm(e.grad), rel=5e-3)
        assert_largest(entries(" ".join(values)), e.grad)
        if e.src in ("b1", "b2"):  # a bias feeds one wire: its red label is the library's gradient
            assert_largest(entries(" ".join(values)), ref[e.src])
    # W1 and W2 feed two wires: their totals are drawn too, and are the library's gradients
    for k, label in diagram.sum_labels(edges).items():
        head, *rest = label.split("\n")
        assert head in red
        assert_largest(entries(" ".join(rest)), ref[k])


def test_image_gradients_show_their_largest_entries_never_border_zeros(tmp_path):
    """On digits the first entries of dL/dW1 are border pixels, always 0: the picture prints the
    largest ones, which are those of net.loss's gradient."""
    net, X, y, reg, spec, shape = diagram.minibatch(data="digits", rows=2, hidden=32)
    path = tmp_path / "d.svg"
    edges = diagram.draw(net, X, y, reg, path, data_name=spec, image_shape=shape)
    _, ref = net.loss(X, y, reg=reg)
    assert reg == 0 and np.all(np.ravel(ref["W1"])[:3] == 0)  # the old trap: [0, 0, 0, …]
    texts = svg_texts(path)
    label = diagram.sum_labels(edges)["W1"].split("\n")
    shown = entries(" ".join(label_lines(texts, diagram.BACKWARD, label[0])[2:]))
    assert len(shown) == diagram.TOP and all(v != 0 for v in shown.values())
    assert_largest(shown, ref["W1"])
    red = [t for t, fill in texts if fill == diagram.BACKWARD]
    assert not any(line.startswith("[0, 0, 0") for line in red)


def test_reg_zero_fades_the_regulariser_and_says_so(problem, tmp_path):
    net, X, y = problem
    diagram.draw(net, X, y, 0.0, tmp_path / "zero.svg")
    texts = svg_texts(tmp_path / "zero.svg")
    assert ("reg = 0", diagram.FADED) in texts
    faded_red = [t for t, fill in texts if fill == diagram.FADED_BACKWARD]
    assert "all 0" in faded_red and "∂L/∂(reg·ΣW²)" in faded_red
    diagram.draw(net, X, y, REG, tmp_path / "reg.svg")
    texts = svg_texts(tmp_path / "reg.svg")
    assert ("reg = 0.05", "#000000") in texts
    assert not [t for t, fill in texts if fill in (diagram.FADED, diagram.FADED_BACKWARD)]


def test_picture_fits_1000_px_with_labels_of_12_px(problem, tmp_path):
    net, X, y = problem
    diagram.draw(net, X, y, REG, tmp_path / "d.svg")
    diagram.draw(net, X, y, REG, tmp_path / "d.png")
    root = ET.parse(tmp_path / "d.svg").getroot()
    width = float(root.get("width"))
    assert width <= 1000
    sizes = [
        float(re.search(r"font-size:\s*([\d.]+)px", el.get("style")).group(1))
        for el in root.iter("{http://www.w3.org/2000/svg}text")
    ]
    png = Image.open(tmp_path / "d.png")
    scale = png.width / width  # PNG px per SVG px
    assert png.width <= 1000 and min(sizes) * scale >= 12


def test_toy_problem_is_cs231ns(toy):
    net, X, y = diagram.toy_problem()
    ref, X_ref, y_ref = toy
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(net.params[k], ref.params[k])
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert net.loss(X, y, reg=diagram.TOY_REG)[0] == pytest.approx(1.30378789133, abs=1e-10)


def test_cli_diagram_draws_the_toy_by_default_and_a_run(tmp_path, capsys):
    assert main(["diagram", "--out", str(tmp_path / "toy.svg")]) == 0
    texts = {t for t, _ in svg_texts(tmp_path / "toy.svg")}
    assert "Two-layer network: 4 → 10 → 3" in texts
    assert any("5 rows of the CS231n toy problem (reg = 0.05, L = 1.304)" in t for t in texts)
    run = tmp_path / "run"
    run_training(RunSettings(hidden_size=8, train=TrainConfig(epochs=1)), run)
    assert main(["diagram", str(run), "--out", str(tmp_path / "run.svg")]) == 0
    texts = {t for t, _ in svg_texts(tmp_path / "run.svg")}
    assert "Two-layer network: 64 → 8 → 10" in texts and ("reg = 0", diagram.FADED) in set(
        svg_texts(tmp_path / "run.svg")
    )
    capsys.readouterr()
    assert main(["diagram", "--toy", "--data", "digits", "--out", str(tmp_path / "x.svg")]) == 2
    assert main(["diagram", str(run), "--model", str(run), "--out", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "--toy" in err and "not both" in err


def test_shown_nodes():
    assert diagram.shown_nodes(3, 10) == [0, 1, 2]
    assert diagram.shown_nodes(256, 10) == [0, 1, 2, 3, 4, None, 252, 253, 254, 255]


def test_labels():
    assert diagram.fmt_values(np.array(0.123456)) == "0.1235"
    assert diagram.fmt_values(np.array([[1.0, -2.5], [3e-7, 4.0]])) == "[1, -2.5, 3e-07, …]"
    assert diagram.fmt_values(np.array([3, 9])) == "[3, 9]"
    e = diagram.Edge("mm1", "add1", "X·W1", np.zeros((2, 5)), np.ones((2, 5)))
    assert diagram.forward_label(e) == "X·W1  2×5  ‖·‖ 0\nall 0"
    e.grad = np.arange(10.0).reshape(2, 5) - 8  # largest magnitudes: -8, 1 - 8 = -7, ...
    assert diagram.gradient_label(e) == "∂L/∂(X·W1)  2×5  ‖·‖ 14.3\n[0,0] -8  [0,1] -7\n[0,2] -6"
    assert diagram.fmt_largest(np.array([0.0, 0.5, 0.0])) == ["[1] 0.5"]  # zeros never listed


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
    assert labels["W1"].startswith("∂L/∂W1 = sum of its 2 wires")
    assert labels["W1"].endswith("\n".join(diagram.fmt_largest(total)))


def _text_box(shape):
    """A text line's box in px: (left, top, right, bottom)."""
    from twolayer import raster, sketch

    _, (x, baseline), line, _, ha, size, bold = shape
    width = raster.font(max(1, round(size)), bold).getlength(line)
    left = {"left": x, "right": x - width, "center": x - width / 2}[ha]
    top = baseline - sketch.ASCENT * size
    return left, top, left + width, top + size


def _meets(box, node):
    """Whether a text box overlaps a node: a gate's rounded box or an input's circle."""
    left, top, right, bottom = box
    if node[0] == "circle":
        cx, cy, r = node[1]
        dx, dy = max(left - cx, 0, cx - right), max(top - cy, 0, cy - bottom)
        return dx * dx + dy * dy < r * r
    x0, y0, x1, y1 = node[1]
    return left < x1 and right > x0 and top < y1 and bottom > y0


@pytest.mark.parametrize("image", [False, True])
def test_no_label_runs_into_a_node(problem, tmp_path, monkeypatch, image):
    """Every wire label and total clears every gate box and input circle of the circuit (a
    label under the softmax box was seen in a screenshot); a node's own name is inside it."""
    made = []

    class Recording(diagram.Sketch):
        def __init__(self, *size):
            super().__init__(*size)
            made.append(self)

    monkeypatch.setattr(diagram, "Sketch", Recording)
    # every number at its widest in 3 significant digits, as a trained net's small gradients are
    monkeypatch.setattr(diagram, "_num", lambda x: "-0.000978")
    if image:  # a digits-sized net: the longest labels (64×512, five-digit indices)
        net, X, y, _, spec, shape = diagram.minibatch(None, "digits", rows=2, hidden=512, seed=0)
        diagram.draw(net, X, y, 0.0, tmp_path / "d.svg", data_name=spec, image_shape=shape)
    else:
        diagram.draw(*problem, REG, tmp_path / "d.svg")
    shapes = made[-1].shapes()
    # the circuit's nodes: gate boxes and the input circles (larger than the network's neurons)
    nodes = [s for s in shapes if s[0] == "round" or (s[0] == "circle" and s[1][2] > 12)]
    assert len(nodes) >= len(diagram.NODES)
    texts = [_text_box(s) + (s[2],) for s in shapes if s[0] == "text"]
    inside = {  # a node's own name: its box holds the whole text
        t
        for t in texts
        for n in nodes
        if _meets(t[:4], n)
        and (n[0] == "circle" or (n[1][0] <= t[0] and t[2] <= n[1][2]))
        and t[4]
        in {label for _, _, text, _ in diagram.NODES.values() for label in text.split("\n")}
        | {"reg = 0", f"reg = {REG:g}"}
    }
    clashes = [t[4] for t in texts if t not in inside for n in nodes if _meets(t[:4], n)]
    assert clashes == []
