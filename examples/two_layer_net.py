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
# # A two-layer neural network, from the forward pass to trained weights
#
# This notebook walks the way CS231n's `two_layer_net` assignment does, with `twolayer` doing the
# work:
#
# 1. the forward pass on a toy network,
# 2. the loss,
# 3. the backward pass, drawn as a circuit with its gradients in red,
# 4. the numerical gradient check,
# 5. training on scikit-learn's digits and on an MNIST sample,
# 6. tuning the learning rate × regularisation,
# 7. looking at the first-layer weights.
#
# The network is `affine → ReLU → affine → softmax`, with an L2 penalty on the weights:
#
# $$a = XW_1 + b_1,\quad h = \max(a, 0),\quad s = hW_2 + b_2,\quad
#   L = \frac{1}{N}\sum_i -\log\frac{e^{s_{i,y_i}}}{\sum_j e^{s_{ij}}} + \mathrm{reg}\,(\lVert W_1\rVert^2 + \lVert W_2\rVert^2)$$
#
# Run it with `pip install -e ".[test]"` (or any environment with `twolayer` and Jupyter). The
# file `two_layer_net.py` beside it is the same notebook as plain text (jupytext's percent format):
# edit either, then `jupytext --sync examples/two_layer_net.ipynb`.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import SVG, display

from twolayer import TwoLayerNet
from twolayer.data import load
from twolayer.data.preprocess import Preprocessor
from twolayer.diagram import circuit, draw, parameter_gradients
from twolayer.gradcheck import check_net, numerical_gradient, rel_error
from twolayer.plots import weight_grid

work = Path(tempfile.mkdtemp(prefix="twolayer-tutorial-"))  # pictures written along the way

# %% [markdown]
# ## 1. The forward pass on a toy network
#
# Four inputs, ten hidden units, three classes; five examples. The seeds are the assignment's,
# so the scores below are the ones it prints.

# %%
np.random.seed(0)
net = TwoLayerNet(input_size=4, hidden_size=10, output_size=3, std=1e-1)
np.random.seed(1)
X = 10 * np.random.randn(5, 4)
y = np.array([0, 1, 2, 2, 1])

scores = net.loss(X)  # without labels, loss() returns the class scores
correct_scores = np.array([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949]])
print(scores)
print("difference from the assignment's scores:", np.abs(scores - correct_scores).sum())

# %% [markdown]
# ## 2. The loss
#
# Softmax cross-entropy averaged over the five rows, plus `reg · (ΣW1² + ΣW2²)`.

# %%
loss, grads = net.loss(X, y, reg=0.05)
print(f"loss {loss:.11f}; the assignment's: 1.30378789133; difference {abs(loss - 1.30378789133):.1e}")

# %% [markdown]
# ## 3. The backward pass as a circuit
#
# Backpropagation walks the circuit from `L` back to the weights. Each gate turns the gradient
# arriving at its output into gradients for its inputs: `+` passes it on unchanged, `×` swaps in
# the other input (`dW2 = hᵀ·dscores`, `dh = dscores·W2ᵀ`), ReLU lets it through where `a > 0`,
# and the softmax gate starts it all with `dscores = (softmax − onehot) / N`.
#
# `twolayer.diagram.draw` computes every wire with the library's gates and draws the forward value
# in black and `∂L/∂(wire)` in red. Two rows keep the labels short.

# %%
draw(net, X[:2], y[:2], 0.05, work / "toy_circuit.svg", data_name="the toy data")
display(SVG(filename=str(work / "toy_circuit.svg")))

# %% [markdown]
# `W1` and `W2` each feed two gates (the matrix product and the regulariser), so their gradient is
# the sum of the red labels on their two wires. The sums are exactly what `net.loss` returns:

# %%
edges, circuit_loss = circuit(net, X[:2], y[:2], 0.05)
_, grads2 = net.loss(X[:2], y[:2], reg=0.05)
summed = parameter_gradients(edges)
for name in ("W1", "b1", "W2", "b2"):
    print(f"{name}: circuit vs net.loss, max difference {np.abs(summed[name] - grads2[name]).max():.1e}")

# %% [markdown]
# ## 4. The numerical gradient check
#
# Nudge every weight by ±h and watch the loss: `(L(w + h) − L(w − h)) / 2h` should match the
# analytic gradient. With float64 the relative errors are around 1e-9 or smaller.

# %%
for name, error in check_net(net, X, y, reg=0.05).items():
    print(f"{name} max relative error: {error:.2e}")

# the same check by hand, for one parameter
num_b2 = numerical_gradient(lambda _: net.loss(X, y, reg=0.05)[0], net.params["b2"])
print("b2 by hand:", rel_error(num_b2, grads["b2"]))

# %% [markdown]
# ## 5. Training
#
# `net.train` is the assignment's loop: minibatch SGD, batches sampled with replacement, the
# learning rate decayed once per epoch. On the toy data the loss falls below 0.02.

# %%
np.random.seed(0)
net = TwoLayerNet(4, 10, 3, std=1e-1)
stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100)
print("final training loss:", stats["loss_history"][-1])
plt.figure(figsize=(5, 3))
plt.plot(stats["loss_history"])
plt.xlabel("iteration")
plt.ylabel("training loss")
plt.title("toy data")
plt.show()

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

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
ax1.plot(digits_stats["loss_history"])
ax1.set(xlabel="iteration", ylabel="loss", title="digits: training loss")
ax2.plot(digits_stats["train_acc_history"], label="train (last batch)")
ax2.plot(digits_stats["val_acc_history"], label="validation")
ax2.set(xlabel="epoch", ylabel="accuracy", title="digits: accuracy")
ax2.legend()
plt.show()

# %% [markdown]
# ### The MNIST sample
#
# 10,000 MNIST images (28×28) in the four idx files. The notebook looks for them in
# `$TWOLAYER_MNIST_SAMPLE`, then in `../../shared/data/mnist10k` beside the repository; without
# them it keeps to digits. (`--data mnist` on the command line downloads the full set.)

# %%
candidates = [os.environ.get("TWOLAYER_MNIST_SAMPLE"), "../../shared/data/mnist10k", "../shared/data/mnist10k"]
mnist_dir = next((Path(c) for c in candidates if c and (Path(c) / "t10k-labels-idx1-ubyte.gz").exists()), None)
mnist_net = None
if mnist_dir is None:
    print("MNIST sample not found: set TWOLAYER_MNIST_SAMPLE to its folder to train on it; digits only here")
else:
    mnist = load(f"mnist:{mnist_dir}", seed=0)
    mnist_pre = Preprocessor("scale", pixel_max=mnist.pixel_max).fit(mnist.X_train)
    mnist_net, mnist_stats = train_net(mnist_pre.transform(mnist.X_train), mnist.y_train,
                                       mnist_pre.transform(mnist.X_val), mnist.y_val, iters=600)
    mnist_net.preprocessor = mnist_pre
    print(f"MNIST sample: {len(mnist.y_train)} training rows; validation "
          f"{np.mean(mnist_net.predict(mnist.X_val) == mnist.y_val):.1%}, "
          f"test {np.mean(mnist_net.predict(mnist.X_test) == mnist.y_test):.1%}")

# %% [markdown]
# ## 6. Tuning learning rate × regularisation
#
# A small grid on digits, scored on the validation split (never on test). `twolayer tune`
# searches more parameters with Optuna; this is the assignment's hand-made version.

# %%
learning_rates = [0.1, 0.3, 1.0]
regs = [1e-5, 1e-3, 1e-1]
val_acc = np.zeros((len(learning_rates), len(regs)))
best = (-1.0, None, None)
for i, lr in enumerate(learning_rates):
    for j, reg in enumerate(regs):
        model, _ = train_net(Xtr, digits.y_train, Xval, digits.y_val, lr=lr, reg=reg, iters=800)
        val_acc[i, j] = np.mean(model.predict(Xval) == digits.y_val)
        if val_acc[i, j] > best[0]:
            best = (val_acc[i, j], model, (lr, reg))
best_acc, best_net, (best_lr, best_reg) = best
best_net.preprocessor = pre
print(f"best: lr {best_lr:g}, reg {best_reg:g}: validation {best_acc:.1%}, "
      f"test {np.mean(best_net.predict(digits.X_test) == digits.y_test):.1%}")

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
# ## 7. The first-layer weights
#
# Each column of `W1` is an image-sized template: the hidden unit fires when the input looks like
# it. Drawn as CS231n's `show_net_weights` does, one tile per hidden unit, each scaled to its own
# range.

# %%
nets = [("digits", best_net, (8, 8))] + ([("MNIST sample", mnist_net, (28, 28))] if mnist_net is not None else [])
fig, axes = plt.subplots(1, len(nets), figsize=(5 * len(nets), 5), squeeze=False)
for ax, (title, model, shape) in zip(axes[0], nets):
    ax.imshow(weight_grid(model.params["W1"], shape), cmap="gray", interpolation="nearest")
    ax.set_title(f"{title}: first-layer weights")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## From here
#
# The command line does all of this with the library's best defaults (AdamW, cosine schedule,
# shift augmentation): `twolayer train --data mnist`, then `twolayer report RUN_DIR` for a page of
# curves, weights and the confusion matrix, and `twolayer export RUN_DIR/model.npz --out model.onnx`
# to run the model outside Python.
