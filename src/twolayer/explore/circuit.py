"""The loss circuit of one example, gate by gate, with the library's own gates.

X → ×W1 → +b1 → ReLU → ×W2 → +b2 → softmax loss, + reg·(ΣW1² + ΣW2²). Forward values and gradients
of every wire come from ``twolayer.layers``; the parameter gradients shown are the ones
``net.loss(x, y, reg)`` returns for that one example (N = 1).
"""

from __future__ import annotations

import numpy as np

from .. import layers

SHOWN = 8  # entries of each wire printed on the page
DIGITS = 4  # significant digits printed

# The step-through: one stage per gate and pass, with the gate's local rule.
# "wires" lists the wires whose forward value (forward pass) or gradient (backward) the stage reveals.
STAGES = (
    ("mul1", "forward", "xW1 = x·W1", ("x", "W1", "xW1")),
    ("add1", "forward", "a = xW1 + b1", ("b1", "a")),
    ("relu", "forward", "h = max(a, 0)", ("h",)),
    ("mul2", "forward", "hW2 = h·W2", ("W2", "hW2")),
    ("add2", "forward", "scores = hW2 + b2", ("b2", "scores")),
    ("loss", "forward", "p = softmax(scores); L_data = −log p[y]", ("y", "L_data")),
    ("reg", "forward", "R = reg·(ΣW1² + ΣW2²)", ("R",)),
    ("sum", "forward", "L = L_data + R", ("L",)),
    (
        "sum",
        "backward",
        "dL/dL = 1; a + gate passes it on: dL/dL_data = dL/dR = 1",
        ("L", "L_data", "R"),
    ),
    ("loss", "backward", "dscores = (softmax(scores) − onehot(y)) / N   (N = 1)", ("scores",)),
    ("add2", "backward", "db2 = Σ_rows dscores; d(hW2) = dscores", ("b2", "hW2")),
    ("mul2", "backward", "dW2 = hᵀ·dscores; dh = dscores·W2ᵀ", ("W2", "h")),
    ("relu", "backward", "da = dh·[a > 0]   (the ReLU mask)", ("a",)),
    ("add1", "backward", "db1 = Σ_rows da; d(xW1) = da", ("b1", "xW1")),
    ("mul1", "backward", "dW1 = xᵀ·da   (no dx: x is data)", ("W1", "x")),
    (
        "reg",
        "backward",
        "dW1 += 2·reg·W1; dW2 += 2·reg·W2   (totals = net.loss's grads)",
        ("W1", "W2"),
    ),
)
GATES = ("mul1", "add1", "relu", "mul2", "add2", "loss", "reg", "sum")


def fmt(v):
    """A number as printed on the page."""
    return f"{float(v) + 0.0:.{DIGITS}g}"  # + 0.0: a ReLU's −0 prints as 0


def wire(value, grad=None, note=None):
    """One wire for the page: shape, the first SHOWN entries of value and gradient as text."""
    value = np.asarray(value)
    out = {
        "shape": list(value.shape),
        "size": int(value.size),
        "value": [fmt(v) for v in value.ravel()[:SHOWN]],
        "grad": None if grad is None else [fmt(g) for g in np.asarray(grad).ravel()[:SHOWN]],
    }
    if note:
        out["note"] = note
    return out


def compute(net, x, label, reg):
    """Forward values and gradients of every wire for one example (x, label).

    Returns (wires, grads): ``grads`` is net.loss's (loss, grads) for the example, and the wires'
    parameter gradients are those arrays.
    """
    p = net.params
    X, y = np.asarray(x, net.dtype)[None, :], np.array([label])
    loss, grads = net.loss(X, y, reg=reg)  # what the page must agree with

    xw1 = X @ p["W1"]
    a, _ = layers.affine_forward(X, p["W1"], p["b1"])
    h, mask = layers.relu_forward(a)
    hw2 = h @ p["W2"]
    scores, cache2 = layers.affine_forward(h, p["W2"], p["b2"])
    data_loss, dscores = layers.softmax_loss(scores, y)
    reg_loss = float(reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)))
    dh, _, _ = layers.affine_backward(dscores, cache2)
    da = layers.relu_backward(dh, mask)
    probs = layers.softmax(scores)

    wires = {
        "x": wire(X[0], note="data: no gradient needed"),
        "y": wire(y, note="label"),
        "W1": wire(p["W1"], grads["W1"]),
        "b1": wire(p["b1"], grads["b1"]),
        "xW1": wire(xw1[0], da[0]),
        "a": wire(a[0], da[0]),
        "h": wire(h[0], dh[0]),
        "mask": wire(mask[0].astype(np.int8)),
        "W2": wire(p["W2"], grads["W2"]),
        "b2": wire(p["b2"], grads["b2"]),
        "hW2": wire(hw2[0], dscores[0]),
        "scores": wire(scores[0], dscores[0]),
        "probs": wire(probs[0]),
        "L_data": wire(data_loss, 1.0),
        "R": wire(reg_loss, 1.0),
        "L": wire(loss, 1.0),
        "reg_W1": wire(2 * reg * p["W1"]),
        "reg_W2": wire(2 * reg * p["W2"]),
    }
    return wires, (loss, grads)
