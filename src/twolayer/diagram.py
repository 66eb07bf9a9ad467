"""Two pictures of the network, drawn without matplotlib by ``sketch`` (SVG by hand, PNG with Pillow):

1. the network as layers of nodes and edges (NN-SVG style), large layers shortened with an
   ellipsis and labelled with their sizes;
2. the computational circuit of the loss, X, W1, b1 → matmul → +b1 → ReLU → matmul W2 → +b2
   → softmax cross-entropy → + reg·ΣW² → L, in two rows (plus the regulariser's), every edge
   labelled with its forward value (black) and the gradient of L flowing back along it (red):
   each array's shape, its norm and its entries of largest magnitude with their indices (the first
   entries of an image's gradient are border pixels, always 0), computed by the library's gates on
   a real minibatch. With reg = 0 the regulariser's branch is drawn faded and says so.

Without a model the picture is CS231n's toy problem (``toy_problem``), untrained: 4 inputs, 10
hidden units, 3 classes, 5 examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layers, runs
from .defaults import resolve_run
from .errors import InputError
from .io import atomic_write, printable
from .net import TwoLayerNet
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


TOP = 3  # entries printed per array


def _num(x):
    return f"{x + 0.0:.3g}"  # + 0.0 turns -0.0 into 0.0: no "-0" on a label


def fmt_values(v, k=3):
    """The first k entries (row-major) of an array, or the number itself: for labels (integers
    such as y), whose largest entries mean nothing."""
    v = np.asarray(v)
    if v.ndim == 0:
        return f"{v.item() + 0.0:.4g}"
    flat = v.ravel()
    entries = ", ".join(str(int(x)) if v.dtype.kind in "iu" else _num(x) for x in flat[:k])
    return f"[{entries}{', …' if flat.size > k else ''}]"


def largest(v, k=TOP):
    """[(index tuple, value)] of the k entries of largest magnitude, largest first (ties: the
    first in row-major order); zeros are never listed."""
    v = np.asarray(v, dtype=np.float64)
    flat = v.ravel()
    order = np.argsort(-np.abs(flat), kind="stable")[:k]
    return [(np.unravel_index(i, v.shape), float(flat[i])) for i in order if flat[i] != 0]


def fmt_largest(v, k=TOP, per_line=2):
    """The lines after a label's first: the largest entries as ``[i,j] value``, two a line;
    'all 0' for an array of zeros; a scalar as itself."""
    v = np.asarray(v)
    if v.ndim == 0:
        return [fmt_values(v)]
    if v.dtype.kind in "iu":
        return [fmt_values(v, 5)]
    top = largest(v, k)
    if not top:
        return ["all 0"]
    items = [f"[{','.join(map(str, idx))}] {_num(x)}" for idx, x in top]
    return ["  ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]


def _first_line(name, v):
    """Name, shape and norm (‖·‖ is the Frobenius norm: the length of the whole array)."""
    v = np.asarray(v)
    if v.ndim == 0:
        return name
    norm = "" if v.dtype.kind in "iu" else f"  ‖·‖ {_num(float(np.linalg.norm(v)))}"
    return f"{name}  {'×'.join(map(str, v.shape))}{norm}"


def forward_label(edge):
    """The black label: name, shape and norm, then the largest entries."""
    return "\n".join([_first_line(edge.name, edge.value), *fmt_largest(edge.value)])


def gradient_label(edge):
    """The red label: ∂L/∂(name) on this wire and shape, then values; None where nothing flows back."""
    if edge.grad is None:
        return None
    name = edge.name if edge.name.isalnum() else f"({edge.name})"
    return "\n".join([_first_line("∂L/∂" + name, edge.grad), *fmt_largest(edge.grad)])


# -- drawing ----------------------------------------------------------------------------
# The circuit in pixels of a 1000 px wide panel (x right, y down; data y = -px): the first layer
# on one row, the second layer and the loss on the next, the regulariser below. The regulariser's
# inputs W1 and W2 are drawn again beside it (the same arrays) instead of wires across the picture.
NODES = {
    "X": (60, 220, "X", "input"),
    "mm1": (340, 220, "×", "gate"),
    "W1": (340, 420, "W1", "input"),
    "add1": (620, 220, "+", "gate"),
    "b1": (620, 20, "b1", "input"),
    "relu": (880, 220, "ReLU", "gate"),
    "mm2": (150, 760, "×", "gate"),
    "W2": (150, 960, "W2", "input"),
    "add2": (390, 760, "+", "gate"),
    "b2": (390, 560, "b2", "input"),
    "loss": (710, 760, "softmax\ncross-entropy", "gate"),
    "y": (710, 580, "y", "input"),
    "plus": (930, 760, "+", "gate"),
    "L": (930, 610, "L", "input"),
    "W1r": (300, 1060, "W1", "input"),
    "W2r": (300, 1160, "W2", "input"),
    "reg": (620, 1060, "reg·ΣW²", "gate"),
}
REG_NODES = ("W1r", "W2r", "reg")
CIRCUIT_PX = (1000, 1260)
LABEL_PT = 9  # 12.5 px: every wire label is at least 12 px high in the PNG
NODE_STYLES = {
    "gate": {
        "fontsize": 11,
        "bbox": {"boxstyle": "round,pad=0.45", "facecolor": "#fff3d6", "edgecolor": "#c08000"},
    },
    "input": {
        "fontsize": 12,
        "fontweight": "bold",
        "bbox": {"boxstyle": "circle,pad=0.25", "facecolor": "white", "edgecolor": "0.3"},
    },
}
FADED_NODE = {"facecolor": "#f4f4f4", "edgecolor": "#c8c8c8"}
FADED, FADED_BACKWARD, WIRE = "#a8a8a8", "#e8a8a8", "0.55"  # faded: the text; its wires lighter
FADED_WIRE = "#d0d0d0"
TOTAL_STYLE = {"fontsize": LABEL_PT, "fontweight": "bold"}
# Wires that do not run straight from node to node: the corners they turn at (in px).
ROUTES = {
    ("relu", "mm2"): [(880, 480), (40, 480), (40, 760)],
    ("W2r", "reg"): [(620, 1160)],
    ("reg", "plus"): [(930, 1060)],
}
LABEL_PIECE = {("reg", "plus"): 0}  # labels on this piece, not the longest


def ends(edge):
    """The two nodes a wire joins (the regulariser's W1 and W2 are their copies beside it)."""
    src = edge.src + "r" if edge.dst == "reg" else edge.src
    return src, edge.dst


def _path(edge):
    src, dst = ends(edge)
    pts = [NODES[src][:2]] + ROUTES.get((src, dst), []) + [NODES[dst][:2]]
    return [(x, -y) for x, y in pts]


def sum_labels(edges):
    """The red totals for parameters used on two wires: ∂L/∂W = the sum over its wires."""
    totals = parameter_gradients(edges)
    wires = {k: [e for e in edges if e.src == k] for k in totals}
    return {
        k: "\n".join(
            [
                f"∂L/∂{k} = sum of its {len(w)} wires",
                _first_line("", totals[k]).strip(),
                *fmt_largest(totals[k]),
            ]
        )
        for k, w in wires.items()
        if len(w) > 1
    }


# beside the parameter's node, clear of its circle and of the wire below (the ReLU → × route at 480)
TOTAL_AT = {"W1": (312, 372, "right"), "W2": (175, 960, "left")}


def draw_circuit(ax, edges, title, reg):
    """Boxes for gates, plain names for inputs, arrows for wires, two labels per wire, and the
    total gradient of each parameter that feeds two wires; with reg = 0 the regulariser's branch
    is faded and its gate says reg = 0."""
    faded = reg == 0
    for edge in edges:
        _draw_wire(ax, edge, faded and edge.dst in ("reg", "plus") and edge.src != "loss")
    for key, text in sum_labels(edges).items():  # W1 and W2 feed the matmul and the regulariser
        x, y, ha = TOTAL_AT[key]
        ax.text(x, -y - 4, text, color=BACKWARD, ha=ha, va="top", **TOTAL_STYLE)
    for key, (x, y, label, kind) in NODES.items():
        fade = faded and key in REG_NODES
        if key == "reg":
            label += "\nreg = 0" if faded else f"\nreg = {reg:g}"
        _draw_node(ax, x, -y, label, kind, fade)
    w, h = CIRCUIT_PX
    ax.set_xlim(0, w)
    ax.set_ylim(-h, 0)
    ax.set_title(title, fontsize=11)
    ax.text(
        20,
        -(h - 10),
        "black: forward value   red: gradient ∂L/∂· flowing back   each: shape, norm ‖·‖ and "
        "the entries of largest magnitude [index] value",
        fontsize=LABEL_PT,
        color="0.3",
    )
    ax.axis("off")


def _draw_wire(ax, edge, faded=False):
    """One wire: its line and arrow, the forward value and the gradient on its longest piece."""
    pts = _path(edge)
    xs, ys = zip(*pts)
    line = FADED_WIRE if faded else WIRE
    ax.plot(xs, ys, color=line, linewidth=1, zorder=1)
    ax.arrow(pts[-2], pts[-1], color=line, shrink=22)
    pieces = list(zip(pts, pts[1:]))
    piece = LABEL_PIECE.get(ends(edge))
    (xa, ya), (xb, yb) = (
        pieces[piece]
        if piece is not None
        else max(pieces, key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1]))
    )
    xm, ym = (xa + xb) / 2, (ya + yb) / 2
    fwd, back = forward_label(edge), gradient_label(edge)
    ink, red = (FADED, FADED_BACKWARD) if faded else (FORWARD, BACKWARD)
    size = {"fontsize": LABEL_PT}
    if ya == yb:  # horizontal: value above, gradient below
        ax.text(xm, ym + 4, fwd, color=ink, ha="center", va="bottom", **size)
        if back:
            ax.text(xm, ym - 4, back, color=red, ha="center", va="top", **size)
    else:  # vertical: both to the right, value above the middle, gradient below
        ax.text(xm + 10, ym + 2, fwd, color=ink, ha="left", va="bottom", **size)
        if back:
            ax.text(xm + 10, ym - 2, back, color=red, ha="left", va="top", **size)


def _draw_node(ax, x, y, label, kind, faded=False):
    """A gate in a rounded box, an input or the loss as a bold name in a circle."""
    style = dict(NODE_STYLES[kind])
    if faded:
        style["bbox"] = {**style["bbox"], **FADED_NODE}
    ax.text(
        x, y, label, ha="center", va="center", zorder=3, color=FADED if faded else "black", **style
    )


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
                    ax.text(x + 0.15, y, printable(output_names[n]), va="center", fontsize=9)
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


# The figure: 1000 px wide, the network (300 px) above the circuit.
NETWORK_PX = 300
SIZE = (CIRCUIT_PX[0], NETWORK_PX + 40 + CIRCUIT_PX[1])
PANELS = ((20, 46, 960, NETWORK_PX - 46), (0, NETWORK_PX + 40, *CIRCUIT_PX))


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
        reg,
    )
    picture = sketch.png() if path.suffix.lower() == ".png" else sketch.svg().encode()
    atomic_write(path, lambda f: f.write(picture))
    return edges


TOY = "the CS231n toy problem"
TOY_REG = 0.05  # the assignment's toy loss check: loss(X, y, reg=0.05) = 1.30378789133


def toy_problem():
    """CS231n's two_layer_net toy: TwoLayerNet(4, 10, 3, std=1e-1) under np.random.seed(0), X = 10 ·
    randn(5, 4) under seed 1, y = [0, 1, 2, 2, 1]; drawn from private RandomStates, so NumPy's
    global random state is left alone. Returns (net, X, y)."""
    rs = np.random.RandomState(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1, seed=0)
    net.params["W1"][...] = 1e-1 * rs.randn(4, 10)
    net.params["W2"][...] = 1e-1 * rs.randn(10, 3)
    X = 10 * np.random.RandomState(1).randn(5, 4)
    return net, X, np.array([0, 1, 2, 2, 1])


def minibatch(model=None, data=None, rows=2, hidden=256, seed=0, toy=False):
    """(net, X, y, reg, data_name, image_shape): a saved model (a model.npz or its run directory)
    or a fresh network for the data set, and the first ``rows`` training rows, preprocessed as the
    network sees them; with ``toy``, CS231n's untrained toy net and its 5 examples (reg 0.05)."""
    check_setting("diagram_rows", rows, "rows")
    check_setting("seed", seed)
    if toy:
        if model is not None or data is not None:
            raise InputError(
                "--toy draws the CS231n toy problem: give it without a model or --data"
            )
        net, X, y = toy_problem()
        return net, X, y, TOY_REG, TOY, None
    if model is not None and Path(model).is_dir():
        if not (Path(model) / "model.npz").exists():
            raise InputError(
                f"{printable(model)} is a directory, not a model file, and holds no model.npz"
            )
        model = Path(model) / "model.npz"
    if model is not None:
        net, dataset, settings = runs.load_model_data(model, data, seed)
        spec, reg = data or settings.data, settings.train.reg
    else:
        spec = data or "digits"
        settings = RunSettings(data=spec, hidden_size=hidden, train=TrainConfig(seed=seed))
        dataset = runs.load_run_data(settings)
        settings = resolve_run(settings, dataset)  # hidden 'auto': the run's rule
        net = runs.build(settings, dataset)
        reg = settings.train.reg
    X = net.transform(np.asarray(dataset.X_train[:rows]))
    y = np.asarray(dataset.y_train[:rows], dtype=np.intp)
    shape = net.meta.get("image_shape") or dataset.image_shape
    return net, X, y, reg, spec, shape
