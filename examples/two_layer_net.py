# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Backpropagation through a two-layer network, derived by hand
#
# This notebook follows CS231n's `two_layer_net` assignment and its notes on backpropagation: you
# write the forward pass in NumPy, **derive** every gradient of the backward pass on paper, write it
# in NumPy, and check each one against a **numerical** gradient: centred differences of the loss,
# computed by a dozen lines written below, never by the library's own backward pass. Then the
# circuit is drawn with those values, and the net is trained and tuned with `twolayer`.
#
# 1. warm-up: backpropagation on a circuit of three numbers,
# 2. the forward pass and the loss of a toy network,
# 3. ∂L/∂scores, derived from the softmax,
# 4. gate by gate back to the weights: the second affine gate, the ReLU, the first affine gate,
# 5. the circuit drawn with those gradients,
# 6. training on digits and on an MNIST sample, tuning learning rate × regularisation, and
#    looking at the first-layer weights.
#
# The **exercises** are checked by an `assert`. Each has its solution in the cell right after it,
# which JupyterLab shows collapsed (click the `…` to open it). Start it with
# `pip install -e ".[notebook]" && jupyter lab examples/two_layer_net.ipynb`. The file
# `two_layer_net.py` beside it is the same notebook as plain text (jupytext's percent format):
# edit either, then `jupytext --sync examples/two_layer_net.py`.

# %%
import os
import re
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import SVG, Image, display

from twolayer import TwoLayerNet
from twolayer.data import load
from twolayer.data.preprocess import Preprocessor
from twolayer.diagram import circuit, draw, parameter_gradients
from twolayer.gradcheck import check_net
from twolayer.plots import plot_accuracy, plot_loss, show_net_weights

work = Path(tempfile.mkdtemp(prefix="twolayer-tutorial-"))  # pictures written along the way


# %% [markdown]
# Every analytic gradient below is checked against this: nudge one entry of `x` by ±h, watch the
# loss, and take the slope `(f(x + h) − f(x − h)) / 2h`. Its error is of order h², about 1e-10 here,
# so a correct gradient agrees to a relative error far below 1e-7 (CS231n's `rel_error`).

# %%
def numeric_gradient(f, x, h=1e-5):
    """∂f/∂x by centred differences; f() takes no argument and reads x, which is nudged in place."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old  # restored
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check(name, analytic, numeric):
    error = rel_error(analytic, numeric)
    print(f"{name}: relative error vs the numerical gradient {error:.1e}")
    assert error < 1e-7, f"{name} disagrees with its numerical gradient"


# %% [markdown]
# ## 1. Warm-up: a circuit of three numbers
#
# CS231n's notes start with `f(x, y, z) = (x + y)·z` at `x = −2, y = 5, z = −4`. Name the inner
# node `q = x + y`; then `f = q·z`. Going backwards, each gate multiplies the gradient arriving at its
# output (the *upstream* gradient) by its own *local* gradient — the chain rule:
#
# - the `×` gate: `∂f/∂z = q` and `∂f/∂q = z` — it **swaps** its inputs;
# - the `+` gate: `∂q/∂x = ∂q/∂y = 1` — it **passes** the upstream gradient to both inputs, so
#   `∂f/∂x = ∂f/∂q · 1 = z`.

# %%
x, y, z = -2.0, 5.0, -4.0
q = x + y  # forward: q = 3
f = q * z  # f = -12
df_dz = q  # × gate: the other input
df_dq = z
df_dx = df_dq * 1.0  # + gate: passes the gradient on
df_dy = df_dq * 1.0
print(f"f = {f:g};  ∂f/∂x = {df_dx:g}, ∂f/∂y = {df_dy:g}, ∂f/∂z = {df_dz:g}")

# %% [markdown]
# **Exercise 1 — the sigmoid neuron of the notes.** `f(w, x) = σ(w₀x₀ + w₁x₁ + w₂)` with
# `σ(t) = 1 / (1 + e^(−t))`, at `w = [2, −3, −3]`, `x = [−1, −2]`. Use `dσ/dt = σ(t)·(1 − σ(t))`
# (the sigmoid gate's local gradient) and the `×`/`+` rules to fill in `dw` (3 values) and `dx`
# (2 values). The next cell checks them against numerical gradients.

# %%
w = np.array([2.0, -3.0, -3.0])
x = np.array([-1.0, -2.0])


def neuron():
    return 1 / (1 + np.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))


dw = None  # your answer: ∂f/∂w, an array of 3
dx = None  # your answer: ∂f/∂x, an array of 2


def check_exercise_1(dw, dx):
    check("exercise 1, dw", dw, numeric_gradient(neuron, w))
    check("exercise 1, dx", dx, numeric_gradient(neuron, x))


if dw is None or dx is None:
    print("exercise 1: not answered yet (the solution is in the next cell)")
else:
    check_exercise_1(dw, dx)

# %% jupyter={"source_hidden": true}
# Solution 1. Forward, naming every intermediate; then backward, gate by gate.
dot = w[0] * x[0] + w[1] * x[1] + w[2]  # = 1
f = 1 / (1 + np.exp(-dot))  # σ(1) ≈ 0.731
ddot = (1 - f) * f  # the sigmoid gate's local gradient × the upstream 1
dx = np.array([w[0] * ddot, w[1] * ddot])  # × gates swap: ∂dot/∂x₀ = w₀
dw = np.array([x[0] * ddot, x[1] * ddot, 1.0 * ddot])  # the + gate passes ddot to w₂
print("dw =", dw.round(3), " dx =", dx.round(3))
check_exercise_1(dw, dx)
print("exercise 1 solution: correct")

# %% [markdown]
# ## 2. The forward pass and the loss of the toy network
#
# Four inputs, ten hidden units, three classes, five examples; the seeds are the assignment's, so
# the numbers are the ones it prints. The network is `affine → ReLU → affine → softmax`:
#
#     a = X·W1 + b1          h = max(a, 0)          s = h·W2 + b2
#
# with `X` of shape (N, D) = (5, 4), `W1` (4, 10), `W2` (10, 3) and the scores `s` (5, 3). Indices
# are written as in NumPy: `s[i, k]` is row i's score for class k. Here it is in NumPy, on copies of
# the library net's parameters:

# %%
np.random.seed(0)
net = TwoLayerNet(input_size=4, hidden_size=10, output_size=3, std=1e-1)
np.random.seed(1)
X = 10 * np.random.randn(5, 4)
y = np.array([0, 1, 2, 2, 1])
N, reg = len(X), 0.05
W1, b1, W2, b2 = (net.params[k].copy() for k in ("W1", "b1", "W2", "b2"))


def forward(X, W1, b1, W2, b2):
    a = X @ W1 + b1  # (N, H)
    h = np.maximum(a, 0)  # ReLU
    scores = h @ W2 + b2  # (N, C)
    return a, h, scores


a, h, scores = forward(X, W1, b1, W2, b2)
correct_scores = np.array([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949]])
print(scores)
print("difference from the assignment's scores:", np.abs(scores - correct_scores).sum())
print("difference from twolayer's net.loss(X):", np.abs(scores - net.loss(X)).max())

# %% [markdown]
# The softmax turns row i's scores into probabilities, and the loss is the mean negative log
# probability of the correct class plus the L2 penalty on the weights (biases are not penalised):
#
#     p[i, k] = exp(s[i, k]) / Σⱼ exp(s[i, j])
#     L = (1/N)·Σᵢ Lᵢ + reg·(ΣW1² + ΣW2²)        with  Lᵢ = −log p[i, yᵢ]
#
# Subtracting each row's largest score first changes no probability and keeps `exp` from
# overflowing.

# %%
def softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def data_loss(scores, y):
    return -np.log(softmax(scores)[np.arange(len(y)), y]).mean()


def full_loss():
    """L at the current W1, b1, W2, b2: what the numerical gradients below nudge."""
    return data_loss(forward(X, W1, b1, W2, b2)[2], y) + reg * (np.sum(W1**2) + np.sum(W2**2))


loss = full_loss()
print(f"loss {loss:.11f}; the assignment's: 1.30378789133; difference {abs(loss - 1.30378789133):.1e}")

# %% [markdown]
# ## 3. ∂L/∂scores, derived
#
# Take one row i, with scores `s[i, 0]` … `s[i, C−1]` and correct class yᵢ. Write its loss with the
# logarithm taken apart:
#
#     Lᵢ = −log( exp(s[i, yᵢ]) / Σⱼ exp(s[i, j]) ) = −s[i, yᵢ] + log Σⱼ exp(s[i, j])
#
# Differentiate with respect to one score `s[i, k]`. The second term gives, whichever k it is,
#
#     ∂/∂s[i, k] of  log Σⱼ exp(s[i, j])  =  exp(s[i, k]) / Σⱼ exp(s[i, j])  =  p[i, k]
#
# and the first term, −s[i, yᵢ], depends on `s[i, k]` only when k is the correct class. Two cases:
#
# - **k = yᵢ** (the correct class): ∂Lᵢ/∂s[i, yᵢ] = p[i, yᵢ] − 1. Negative, since p < 1: raising
#   the correct score lowers the loss.
# - **k ≠ yᵢ** (any other class): ∂Lᵢ/∂s[i, k] = p[i, k]. Positive: raising a wrong score raises
#   the loss.
#
# Both at once: **∂Lᵢ/∂s[i] = p[i] − onehot(yᵢ)**, the probabilities with 1 taken off the correct class.
#
# **The 1/N.** The data loss is the mean (1/N)·Σᵢ Lᵢ, and row i's scores appear in Lᵢ alone, so
# each row of the gradient is divided by N:
#
#     dscores[i] = ∂L/∂s[i] = (p[i] − onehot(yᵢ)) / N
#
# **The regulariser** reg·(ΣW1² + ΣW2²) does not depend on the scores: it adds nothing here. It
# depends on the weights directly, with ∂(reg·ΣW²)/∂W = **2·reg·W**, a term that joins dW1 and dW2
# below. (CS231n's case study writes the penalty as ½·reg·ΣW², so its gradient reads reg·W; the
# assignment and `twolayer` use reg·ΣW².)

# %%
probs = softmax(scores)
onehot = np.eye(3)[y]
dscores = (probs - onehot) / N  # dL/dscores = (softmax − onehot) / N
print("row 0, correct class", y[0])
print("  probabilities p:      ", probs[0].round(4))
print("  N·dscores = p − onehot:", (N * dscores[0]).round(4))
check("dscores", dscores, numeric_gradient(lambda: data_loss(scores, y), scores))

# %% [markdown]
# ## 4. Gate by gate, back to the weights
#
# ### The second affine gate: scores = h·W2 + b2
#
# Entry by entry, `s[i, k] = Σⱼ h[i, j]·W2[j, k] + b2[k]`. Its local gradients are
# ∂s[i, k]/∂W2[j, k] = h[i, j], ∂s[i, k]/∂b2[k] = 1 and ∂s[i, k]/∂h[i, j] = W2[j, k]. Multiply each
# by the upstream `dscores[i, k]` and sum over every score that the variable touches:
#
#     dW2[j, k] = Σᵢ h[i, j]·dscores[i, k]     →   dW2 = hᵀ·dscores + 2·reg·W2
#     db2[k]    = Σᵢ dscores[i, k]             →   db2 = dscores summed over the rows
#     dh[i, j]  = Σₖ dscores[i, k]·W2[j, k]    →   dh  = dscores·W2ᵀ
#
# The `×` gate swaps again — now for matrices. The shapes tell the order: dW2 has W2's shape
# (10, 3), and from h (5, 10) and dscores (5, 3) only hᵀ·dscores gives that. The regulariser is
# W2's second gate, so its `2·reg·W2` is added.
#
# Each gradient is checked against the numerical one: dW2 and db2 by nudging the weights and
# recomputing the whole loss; dh by nudging the hidden activations and recomputing the loss from
# them (h is an intermediate value, but the slope of L along it is as well defined).

# %%
dW2 = h.T @ dscores + 2 * reg * W2
db2 = dscores.sum(axis=0)
dh = dscores @ W2.T
reg_loss = reg * (np.sum(W1**2) + np.sum(W2**2))
check("dW2", dW2, numeric_gradient(full_loss, W2))
check("db2", db2, numeric_gradient(full_loss, b2))
check("dh", dh, numeric_gradient(lambda: data_loss(h @ W2 + b2, y) + reg_loss, h))

# %% [markdown]
# ### The ReLU gate: h = max(a, 0)
#
# Elementwise, ∂h/∂a is 1 where a > 0 and 0 where a < 0: the gate is a **switch**. The gradient
# passes where the unit fired and stops where it did not:
#
#     da = dh ⊙ [a > 0]        (elementwise: dh where a > 0, else 0)
#
# (At a = 0 exactly the slope is undefined; centred differences would straddle the kink. No entry
# of this `a` is within h of 0.)

# %%
da = dh * (a > 0)
print(f"{np.count_nonzero(a <= 0)} of {a.size} hidden activations are off; their gradient is 0")
check("da", da, numeric_gradient(lambda: data_loss(np.maximum(a, 0) @ W2 + b2, y) + reg_loss, a))

# %% [markdown]
# ### The first affine gate: a = X·W1 + b1
#
# The same rule as the second affine gate, one layer down, with its own regulariser term:
#
#     dW1 = Xᵀ·da + 2·reg·W1        db1 = da summed over the rows
#
# X is data, not a parameter, so the library skips dX; Exercise 2 computes it anyway.

# %%
dW1 = X.T @ da + 2 * reg * W1
db1 = da.sum(axis=0)
check("dW1", dW1, numeric_gradient(full_loss, W1))
check("db1", db1, numeric_gradient(full_loss, b1))
yours = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

# %% [markdown]
# **Exercise 2 — the input gradient.** Write `dX`, the gradient of L with respect to the inputs X
# (shape (5, 4)), from `da` and `W1`. It is what a deeper network would pass on to the layer below,
# and how "adversarial examples" are made.

# %%
dX = None  # your answer


def check_exercise_2(dX):
    check("exercise 2, dX", dX, numeric_gradient(full_loss, X))


if dX is None:
    print("exercise 2: not answered yet (the solution is in the next cell)")
else:
    check_exercise_2(dX)

# %% jupyter={"source_hidden": true}
# Solution 2. The affine gate's third rule: the × gate swaps, and the shapes fix the order.
dX = da @ W1.T  # (5, 10) · (10, 4)
check_exercise_2(dX)
print("exercise 2 solution: correct")

# %% [markdown]
# **Exercise 3 — a new gate.** The leaky ReLU is `max(α·a, a)` with α = 0.1: it lets a tenth of the
# signal through where a < 0. Write its backward pass: given the upstream gradient `dout` and the
# input `a`, return `da`. The check nudges the input of `leaky_relu` and watches `Σ leaky_relu(a)·dout`
# (the loss any upstream gradient `dout` stands for).

# %%
def leaky_relu(a, alpha=0.1):
    return np.maximum(alpha * a, a)


def leaky_relu_backward(dout, a, alpha=0.1):
    return None  # your answer: an array shaped like a


def check_exercise_3(backward):
    rng = np.random.default_rng(0)
    a_in, dout = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    numeric = numeric_gradient(lambda: np.sum(leaky_relu(a_in) * dout), a_in)
    check("exercise 3, leaky ReLU", backward(dout, a_in), numeric)


if leaky_relu_backward(np.ones(1), np.ones(1)) is None:
    print("exercise 3: not answered yet (the solution is in the next cell)")
else:
    check_exercise_3(leaky_relu_backward)


# %% jupyter={"source_hidden": true}
# Solution 3. The local gradient is 1 where a > 0 and α elsewhere; times the upstream gradient.
def leaky_relu_backward(dout, a, alpha=0.1):
    return dout * np.where(a > 0, 1.0, alpha)


check_exercise_3(leaky_relu_backward)
print("exercise 3 solution: correct")

# %% [markdown]
# ## 5. The circuit, drawn with these gradients
#
# `twolayer.diagram.draw` runs the same gates on the toy batch and labels every wire with its
# forward value (black) and ∂L/∂(wire) flowing back (red). `W1` and `W2` each feed two gates (the
# matrix product and the regulariser), so their gradient is the sum of the red labels on their two
# wires. Read it from `L` on the right back to the weights: it is sections 3 and 4 in one picture.

# %%
def show_svg(path, max_px=1000):
    """An SVG scaled to fit the cell (at most max_px wide), its text kept sharp."""
    svg = Path(path).read_text()
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    px = min(max_px, width * 4 / 3)  # matplotlib writes sizes in points
    svg = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"',
                 rf'\1 width="{px:.0f}px" height="{px * height / width:.0f}px"', svg, count=1)
    display(SVG(svg.replace("<svg ", '<svg style="max-width: 100%; height: auto" ', 1)))


draw(net, X, y, reg, work / "toy_circuit.svg", data_name="the toy data")
show_svg(work / "toy_circuit.svg")

# %% [markdown]
# The circuit's gradients, summed per parameter, are the ones you derived:

# %%
edges, circuit_loss = circuit(net, X, y, reg)
drawn = parameter_gradients(edges)
for name in ("W1", "b1", "W2", "b2"):
    print(f"d{name}: the circuit's vs yours, max difference {np.abs(drawn[name] - yours[name]).max():.1e}")

# %% [markdown]
# `twolayer.gradcheck.check_net` runs the numerical check on the library's own backward pass. It
# always computes in float64: in float32 a nudge of 1e-5 is below the rounding of the weights, so a
# float32 net is checked through a float64 copy of it.

# %%
for name, error in check_net(net, X, y, reg=reg).items():
    print(f"{name} max relative error: {error:.2e}")
net32 = TwoLayerNet(4, 10, 3, dtype=np.float32)
for k in net32.params:
    net32.params[k][...] = net.params[k]
print(f"the float32 twin, checked in float64: {max(check_net(net32, X, y, reg=reg).values()):.1e}")

# %% [markdown]
# ## 6. Training
#
# `net.train` is the assignment's loop: minibatch SGD with batches sampled with replacement. Right
# after step 0, then once per epoch, it records the accuracy on the current batch and on the
# validation set and decays the learning rate. The history is the assignment's stats dict
# (`loss_history`, `train_acc_history`, `val_acc_history`), which `twolayer.plots.plot_loss` and
# `plot_accuracy` draw as the assignment does. Each step is the update `W ← W − lr·dW` with the
# gradients above. On the toy data the loss falls below 0.02.

# %%
np.random.seed(0)
toy_net = TwoLayerNet(4, 10, 3, std=1e-1)
toy_stats = toy_net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100)
print("final training loss:", toy_stats["loss_history"][-1])

# %% [markdown]
# **Exercise 4 — one step by hand.** Using your gradients `dW1, db1, dW2, db2` from section 4, take
# one gradient-descent step with learning rate 0.5 on copies of `W1, b1, W2, b2`, and compute the new
# loss `new_loss` (with `reg` as before). It must be lower than `loss`.

# %%
new_loss = None  # your answer


def check_exercise_4(new_loss):
    assert new_loss is not None and new_loss < loss - 0.05, "the loss should drop by more than 0.05"
    print(f"exercise 4: the loss went from {loss:.4f} to {new_loss:.4f}")


if new_loss is None:
    print("exercise 4: not answered yet (the solution is in the next cell)")
else:
    check_exercise_4(new_loss)

# %% jupyter={"source_hidden": true}
# Solution 4. The update rule of SGD, then the forward pass again.
lr = 0.5
stepped = [W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2]
new_loss = data_loss(forward(X, *stepped)[2], y) + reg * (np.sum(stepped[0] ** 2) + np.sum(stepped[2] ** 2))
check_exercise_4(new_loss)
print("exercise 4 solution: correct")

# %% [markdown]
# ### Digits
#
# scikit-learn's 8×8 digits, split 70/10/20. Pixels run from 0 to 16; scaling them to [0, 1]
# (fitted on the training rows only) is the preprocessing `twolayer train` picks for images.
# A net that carries its preprocessor takes raw rows in `predict` and `predict_proba`;
# `loss` and `scores` take the network's inputs, `net.transform(X)`.

# %%
digits = load("digits", seed=0)
pre = Preprocessor("scale", pixel_max=digits.pixel_max).fit(digits.X_train)
Xtr, Xval = pre.transform(digits.X_train), pre.transform(digits.X_val)


def train_net(X_train, y_train, X_val, y_val, hidden=100, lr=1.0, reg=1e-4, iters=1500, seed=0):
    np.random.seed(seed)
    model = TwoLayerNet(X_train.shape[1], hidden, int(y_train.max()) + 1, std=1e-2)
    history = model.train(X_train, y_train, X_val, y_val, learning_rate=lr, learning_rate_decay=0.95,
                          reg=reg, num_iters=iters, batch_size=200)
    return model, history


digits_net, digits_stats = train_net(Xtr, digits.y_train, Xval, digits.y_val)
digits_net.preprocessor = pre  # now predict() takes raw pixels, like `twolayer predict`
print(f"digits: validation {np.mean(digits_net.predict(digits.X_val) == digits.y_val):.1%}, "
      f"test {np.mean(digits_net.predict(digits.X_test) == digits.y_test):.1%}")
display(Image(filename=plot_loss(digits_stats, work / "digits_loss.png")),
        Image(filename=plot_accuracy(digits_stats, work / "digits_accuracy.png")))

# %% [markdown]
# ### The MNIST sample
#
# 10,000 MNIST images (28×28) in the four idx files. The notebook takes the folder named by
# `TWOLAYER_MNIST_SAMPLE`, else looks for `shared/data/mnist10k` in the folders above this one;
# without it, it says so and keeps to digits. (`twolayer train --data mnist` downloads the full set.)

# %%
def find_mnist_sample():
    named = os.environ.get("TWOLAYER_MNIST_SAMPLE")
    places = [Path(named)] if named else [p / "shared/data/mnist10k" for p in [Path.cwd(), *Path.cwd().parents]]
    return next((p for p in places if (p / "t10k-labels-idx1-ubyte.gz").is_file()), None)


mnist_dir, mnist_net = find_mnist_sample(), None
if mnist_dir is None:
    print("MNIST sample not found: set TWOLAYER_MNIST_SAMPLE=/path/to/mnist10k (the folder of its four "
          ".gz files) before starting Jupyter; digits only here")
else:
    mnist = load(f"mnist:{mnist_dir}", seed=0)
    mnist_pre = Preprocessor("scale", pixel_max=mnist.pixel_max).fit(mnist.X_train)
    mnist_net, mnist_stats = train_net(mnist_pre.transform(mnist.X_train), mnist.y_train,
                                       mnist_pre.transform(mnist.X_val), mnist.y_val, iters=400)
    mnist_net.preprocessor = mnist_pre
    print(f"MNIST sample: {len(mnist.y_train)} training rows; validation "
          f"{np.mean(mnist_net.predict(mnist.X_val) == mnist.y_val):.1%}, "
          f"test {np.mean(mnist_net.predict(mnist.X_test) == mnist.y_test):.1%}")

# %% [markdown]
# ### Tuning learning rate × regularisation
#
# A small grid on digits, scored on the validation split (never on test). When the best value
# sits at the edge of the grid, the best may lie beyond it: the cell says so, and the grid should
# grow that way. `twolayer tune` searches more parameters with Optuna; this is the assignment's
# hand-made version.

# %%
learning_rates = [0.1, 0.3, 1.0]
regs = [1e-5, 1e-3, 1e-1]
val_acc = np.zeros((len(learning_rates), len(regs)))
best = (-1.0, None, None)
for i, lr in enumerate(learning_rates):
    for j, r in enumerate(regs):
        model, _ = train_net(Xtr, digits.y_train, Xval, digits.y_val, lr=lr, reg=r, iters=800)
        val_acc[i, j] = np.mean(model.predict(Xval) == digits.y_val)
        if val_acc[i, j] > best[0]:
            best = (val_acc[i, j], model, (lr, r))
best_acc, best_net, (best_lr, best_reg) = best
best_net.preprocessor = pre
print(f"best: lr {best_lr:g}, reg {best_reg:g}: validation {best_acc:.1%}, "
      f"test {np.mean(best_net.predict(digits.X_test) == digits.y_test):.1%}")


def edge_note(name, grid, value):
    if value == min(grid):
        return f"note: the best {name}, {value:g}, is the smallest in the grid: try smaller values too"
    if value == max(grid):
        return f"note: the best {name}, {value:g}, is the largest in the grid: try larger values too"
    return f"the best {name}, {value:g}, is inside the grid"


print(edge_note("learning rate", learning_rates, best_lr))
print(edge_note("reg", regs, best_reg))

plt.figure(figsize=(4.5, 3.5))
plt.imshow(val_acc, cmap="viridis")
plt.colorbar(label="validation accuracy")
plt.xticks(range(len(regs)), [f"{r:g}" for r in regs])
plt.yticks(range(len(learning_rates)), [f"{lr:g}" for lr in learning_rates])
plt.xlabel("reg")
plt.ylabel("learning rate")
for i in range(len(learning_rates)):
    for j in range(len(regs)):
        plt.text(j, i, f"{val_acc[i, j]:.2f}", ha="center", va="center", color="white")
plt.title("digits: learning rate × reg")
plt.show()

# %% [markdown]
# A large `reg` pulls every weight towards zero and the accuracy falls; a learning rate too small
# for the iterations given leaves the net under-trained.
#
# ### The first-layer weights
#
# Each column of `W1` is an image-sized template: the hidden unit fires when the input looks like
# it. `twolayer.plots.show_net_weights` draws them as the assignment's `show_net_weights` does, one
# tile per hidden unit, each scaled to its own range, for any number of units.

# %%
nets = [("digits", best_net)] + ([("MNIST sample", mnist_net)] if mnist_net is not None else [])
fig, axes = plt.subplots(1, len(nets), figsize=(5 * len(nets), 5), squeeze=False)
for ax, (title, model) in zip(axes[0], nets):
    show_net_weights(model, ax=ax)
    ax.set_title(f"{title}: {model.hidden_size} first-layer units")
plt.show()

# %% [markdown]
# ## From here
#
# The command line does all of this with the library's best defaults (AdamW, cosine schedule,
# shift augmentation): `twolayer train --data mnist`, then `twolayer report RUN_DIR` for a page of
# curves, weights and the confusion matrix, `twolayer diagram --out circuit.svg` for the circuit of
# your own model, and `twolayer export RUN_DIR/model.npz --out model.onnx` to run the model outside
# Python.
