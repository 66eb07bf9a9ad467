"""Two pictures of the network, drawn without matplotlib by ``sketch`` (SVG by hand, PNG with Pillow):

1. the network as layers of nodes and edges (NN-SVG style), large layers shortened with an
   ellipsis and labelled with their sizes;
2. the computational circuit of the loss, X, W1, b1 → matmul → +b1 → ReLU → matmul W2 → +b2
   → softmax cross-entropy → + reg·ΣW² → L, every edge labelled with its forward value (black)
   and the gradient of L flowing back along it (red), computed by the library's gates on a real
   minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layers, runs
from .errors import InputError
from .io import atomic_write, printable
from .plots import class_names
from .settings import RunSettings, TrainConfig, check_setting
from .sketch import Sketch

FORWARD, BACKWARD = "black", "#d00000"
FORMATS = (".svg", ".png")


@dataclass
class Edge:
    """One wire of the circuit: ``value`` flows forward from src to dst, ``grad`` = dL/dvalue
    (the part of it that comes back along this wire) flows back; grad is None for the labels y."""

    src: str
    dst: str
    name: str
    value: np.ndarray
    grad: np.ndarray | None


def circuit(net, X, y, reg):
    """Every edge of the loss circuit on network inputs X and labels y, gate by gate.

    The affine gates of the library are drawn as two boxes each (matmul, then +b); a parameter
    used twice (W1 into the matmul and into the regulariser) gets one gradient per wire, and
    their sum is dL/dW. Returns (edges, loss).
    """
    p = net.params
    X = np.asarray(X, dtype=net.dtype)
    a, cache1 = layers.affine_forward(X, p["W1"], p["b1"])
    h, cache_relu = layers.relu_forward(a)
    scores, cache2 = layers.affine_forward(h, p["W2"], p["b2"])
    data_loss, dscores = layers.softmax_loss(scores, y)
    reg_loss = reg * float(np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    loss = data_loss + reg_loss

    dh, dW2, db2 = layers.affine_backward(dscores, cache2)
    da = layers.relu_backward(dh, cache_relu)
    dX, dW1, db1 = layers.affine_backward(da, cache1)
    one = np.array(1.0)  # the + gate passes dL/dL = 1 to both of its inputs
    edges = [
        Edge("X", "mm1", "X", X, dX),
        Edge("W1", "mm1", "W1", p["W1"], dW1),
        Edge("mm1", "add1", "X·W1", X @ p["W1"], da),
        Edge("b1", "add1", "b1", p["b1"], db1),
        Edge("add1", "relu", "a", a, da),
        Edge("relu", "mm2", "h", h, dh),
        Edge("W2", "mm2", "W2", p["W2"], dW2),
        Edge("mm2", "add2", "h·W2", h @ p["W2"], dscores),
        Edge("b2", "add2", "b2", p["b2"], db2),
        Edge("add2", "loss", "scores", scores, dscores),
        Edge("y", "loss", "y", np.asarray(y), None),
        Edge("loss", "plus", "data loss", np.array(data_loss), one),
        Edge("W1", "reg", "W1", p["W1"], 2 * reg * p["W1"]),  # d(reg·ΣW²)/dW = 2·reg·W
        Edge("W2", "reg", "W2", p["W2"], 2 * reg * p["W2"]),
        Edge("reg", "plus", "reg·ΣW²", np.array(reg_loss), one),
        Edge("plus", "L", "L", np.array(loss), one),
    ]
    return edges, loss


def parameter_gradients(edges):
    """dL/dW1, db1, dW2, db2: the sum of the gradients on every wire leaving the parameter."""
    grads: dict[str, np.ndarray] = {}
    for e in edges:
        if e.src in ("W1", "b1", "W2", "b2"):
            grads[e.src] = grads.get(e.src, 0) + e.grad
    return grads


def fmt_values(v, k=3):
    """The second line of a label: the number itself, or the first k entries (row-major)."""
    v = np.asarray(v)
    if v.ndim == 0:
        return f"{v.item() + 0.0:.4g}"  # + 0.0 turns -0.0 into 0.0: no "-0" on a label
    flat = v.ravel()
    entries = ", ".join(str(int(x)) if v.dtype.kind in "iu" else f"{x + 0.0:.3g}" for x in flat[:k])
    return f"[{entries}{', …' if flat.size > k else ''}]"


def _first_line(name, v):
    v = np.asarray(v)
    return name if v.ndim == 0 else f"{name}  {'×'.join(map(str, v.shape))}"


def forward_label(edge):
    """The black label: name and shape, then values."""
    return f"{_first_line(edge.name, edge.value)}\n{fmt_values(edge.value)}"


def gradient_label(edge):
    """The red label: ∂L/∂(name) on this wire and shape, then values; None where nothing flows back."""
    if edge.grad is None:
        return None
    name = edge.name if edge.name.isalnum() else f"({edge.name})"
    return f"{_first_line('∂L/∂' + name, edge.grad)}\n{fmt_values(edge.grad)}"


# -- drawing ----------------------------------------------------------------------------
# Circuit layout: the main chain on y = 0, biases and labels above, weights and the regulariser below.
NODES = {
    "X": (0.0, 0.0, "X", "input"),
    "mm1": (2.0, 0.0, "×", "gate"),
    "W1": (2.0, -1.6, "W1", "input"),
    "add1": (4.0, 0.0, "+", "gate"),
    "b1": (4.0, 1.5, "b1", "input"),
    "relu": (6.0, 0.0, "ReLU", "gate"),
    "mm2": (8.0, 0.0, "×", "gate"),
    "W2": (8.0, -1.6, "W2", "input"),
    "add2": (10.0, 0.0, "+", "gate"),
    "b2": (10.0, 1.5, "b2", "input"),
    "loss": (12.5, 0.0, "softmax\ncross-entropy", "gate"),
    "y": (12.5, 1.5, "y", "input"),
    "reg": (12.5, -3.4, "reg·ΣW²", "gate"),
    "plus": (15.0, 0.0, "+", "gate"),
    "L": (16.8, 0.0, "L", "input"),
}
NODE_STYLES = {
    "gate": {
        "fontsize": 9,
        "bbox": {"boxstyle": "round,pad=0.45", "facecolor": "#fff3d6", "edgecolor": "#c08000"},
    },
    "input": {
        "fontsize": 11,
        "fontweight": "bold",
        "bbox": {"boxstyle": "circle,pad=0.25", "facecolor": "white", "edgecolor": "0.3"},
    },
}
TOTAL_STYLE = {"fontsize": 7, "fontweight": "bold"}
# Wires that do not run straight from node to node: the corners they turn at.
ROUTES = {
    ("W1", "reg"): [(2.0, -3.9), (12.5, -3.9)],
    ("W2", "reg"): [(8.0, -2.9), (12.5, -2.9)],
    ("reg", "plus"): [(15.0, -3.4)],
}


def _path(edge):
    x0, y0 = NODES[edge.src][:2]
    x1, y1 = NODES[edge.dst][:2]
    return [(x0, y0)] + ROUTES.get((edge.src, edge.dst), []) + [(x1, y1)]


def sum_labels(edges):
    """The red totals for parameters used on two wires: ∂L/∂W = the sum over its wires."""
    totals = parameter_gradients(edges)
    wires = {k: [e for e in edges if e.src == k] for k in totals}
    return {
        k: f"∂L/∂{k} = sum of its {len(w)} wires  {'×'.join(map(str, totals[k].shape))}\n{fmt_values(totals[k])}"
        for k, w in wires.items()
        if len(w) > 1
    }


def draw_circuit(ax, edges, title):
    """Boxes for gates, plain names for inputs, arrows for wires, two labels per wire, and the
    total gradient of each parameter that feeds two wires."""
    for edge in edges:
        _draw_wire(ax, edge)
    for key, text in sum_labels(edges).items():  # W1 and W2 feed the matmul and the regulariser
        x, y = NODES[key][:2]
        ax.text(x + 0.25, y - 0.05, text, color=BACKWARD, ha="left", va="top", **TOTAL_STYLE)
    for x, y, label, kind in NODES.values():
        _draw_node(ax, x, y, label, kind)
    ax.set_xlim(-0.6, 17.4)
    ax.set_ylim(-4.4, 2.1)
    ax.set_title(title, fontsize=11)
    ax.text(
        0.0,
        -4.35,
        "black: forward value (shape and first entries)   red: gradient ∂L/∂· flowing back",
        fontsize=8,
        color="0.3",
    )
    ax.axis("off")


def _draw_wire(ax, edge):
    """One wire: its line and arrow, the forward value and the gradient on its longest piece."""
    pts = _path(edge)
    xs, ys = zip(*pts)
    ax.plot(xs[:-1] + (xs[-1],), ys, color="0.55", linewidth=1, zorder=1)
    ax.arrow(pts[-2], pts[-1], color="0.55", shrink=22)
    # labels go on the longest straight piece of the wire
    (xa, ya), (xb, yb) = max(
        zip(pts, pts[1:]), key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1])
    )
    xm, ym = (xa + xb) / 2, (ya + yb) / 2
    fwd, back = forward_label(edge), gradient_label(edge)
    if ya == yb:  # horizontal: value above, gradient below
        ax.text(xm, ym + 0.12, fwd, color=FORWARD, ha="center", va="bottom", fontsize=7)
        if back:
            ax.text(xm, ym - 0.12, back, color=BACKWARD, ha="center", va="top", fontsize=7)
    else:  # vertical: value to the left, gradient to the right
        ax.text(xm - 0.08, ym, fwd, color=FORWARD, ha="right", va="center", fontsize=7)
        if back:
            ax.text(xm + 0.08, ym, back, color=BACKWARD, ha="left", va="center", fontsize=7)


def _draw_node(ax, x, y, label, kind):
    """A gate in a rounded box, an input or the loss as a bold name in a circle."""
    ax.text(x, y, label, ha="center", va="center", zorder=3, **NODE_STYLES[kind])


def shown_nodes(size, max_nodes):
    """Indices of the nodes drawn for a layer; None marks the ellipsis."""
    if size <= max_nodes:
        return list(range(size))
    head = max_nodes // 2
    tail = max_nodes - head - 1
    return list(range(head)) + [None] + list(range(size - tail, size))


def draw_network(ax, sizes, captions, output_names=None, max_nodes=10):
    """NN-SVG style: one column of circles per layer, every drawn pair of neighbours connected."""
    columns = []
    for i, size in enumerate(sizes):
        nodes = shown_nodes(size, max_nodes)
        ys = np.linspace(1, -1, len(nodes)) * min(1.0, len(nodes) / max_nodes)
        columns.append([(2.0 * i, y, n) for y, n in zip(ys, nodes)])
    for left, right in zip(columns, columns[1:]):
        for x0, y0, n0 in left:
            for x1, y1, n1 in right:
                if n0 is not None and n1 is not None:
                    ax.plot([x0, x1], [y0, y1], color="0.7", linewidth=0.4, zorder=1)
    colors = ("#9ecae1", "#fdd0a2", "#a1d99b")
    for i, col in enumerate(columns):
        for x, y, n in col:
            if n is None:
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=16)
            else:
                ax.circle(x, y, 0.07, facecolor=colors[min(i, 2)], edgecolor="0.3", linewidth=0.6)
                if i == len(columns) - 1 and output_names is not None:
                    ax.text(x + 0.15, y, printable(output_names[n]), va="center", fontsize=8)
        ax.text(2.0 * i, -1.3, captions[i], ha="center", va="top", fontsize=9)
    for i, name in enumerate(("W1, b1", "W2, b2")[: len(sizes) - 1]):
        ax.text(
            2.0 * i + 1,
            1.15,
            f"{name}\n{sizes[i]}×{sizes[i + 1]}",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_xlim(-1, 2.0 * (len(sizes) - 1) + 1.2)
    ax.set_ylim(-1.9, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")


# The figure: 1800 × 1150 px, the network above the circuit (heights 3.3 : 7), as matplotlib laid
# out its 18 × 11.5 in figure at 100 dpi.
SIZE = (1800, 1150)
PANELS = ((18, 46, 1764, 336.6), (18, 424.6, 1764, 713.9))


def draw(net, X, y, reg, path, data_name="data", image_shape=None):
    """Both figures, one above the other, into ``path`` (.svg or .png). Returns the circuit's edges."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(
            f"{path}: the diagram is written as .svg or .png, not {path.suffix or 'no extension'!r}"
        )
    edges, loss = circuit(net, X, y, reg)
    d, hdim, c = net.input_size, net.hidden_size, net.output_size
    shape = f" ({'×'.join(map(str, image_shape))} image)" if image_shape else ""
    names = class_names(net)
    sketch = Sketch(*SIZE)
    top, bottom = (sketch.panel(*box) for box in PANELS)
    draw_network(
        top,
        [d, hdim, c],
        [f"input\n{d}{shape}", f"hidden · ReLU\n{hdim}", f"output · softmax\n{c} classes"],
        output_names=names,
    )
    top.set_title(f"Two-layer network: {d} → {hdim} → {c}", fontsize=12)
    draw_circuit(
        bottom,
        edges,
        f"Backpropagation through the loss circuit on a minibatch of {len(y)} "
        f"rows of {printable(data_name)} (reg = {reg:g}, L = {loss:.4g})",
    )
    picture = sketch.png() if path.suffix.lower() == ".png" else sketch.svg().encode()
    atomic_write(path, lambda f: f.write(picture))
    return edges


def minibatch(model=None, data=None, rows=2, hidden=256, seed=0):
    """(net, X, y, reg, data_name, image_shape): a saved model or a fresh network for the data set,
    and the first ``rows`` training rows, preprocessed as the network sees them."""
    check_setting("diagram_rows", rows, "rows")
    check_setting("seed", seed)
    if model is not None:
        net, dataset, settings = runs.load_model_data(model, data, seed)
        spec, reg = data or settings.data, settings.train.reg
    else:
        spec = data or "digits"
        settings = RunSettings(data=spec, hidden_size=hidden, train=TrainConfig(seed=seed))
        dataset = runs.load_run_data(settings)
        net = runs.build(settings, dataset)
        reg = settings.train.reg
    X = net.transform(np.asarray(dataset.X_train[:rows]))
    y = np.asarray(dataset.y_train[:rows], dtype=np.intp)
    shape = net.meta.get("image_shape") or dataset.image_shape
    return net, X, y, reg, spec, shape
