"""CS231n's ``TwoLayerNet.train``: the assignment's loop, line for line.

Each iteration samples a batch with ``np.random.choice(num_train, batch_size, replace=True)``,
takes one SGD step on it, and, when ``it % iterations_per_epoch == 0`` (right after step 0, then
once per epoch), records the accuracy of that batch and of the validation set and decays the
learning rate. The shared loop (train.py) records and decays at the end of each epoch, on the
epoch's whole training set; this loop borrows its batches, its validation accuracy and its
divergence error, and the model's own (loss, grads) in reused buffers (what ``net.loss`` computes).

It drives any model of the loop's ``Model`` protocol and never imports net.py: net.py imports
this module for ``TwoLayerNet.train``, so the dependency runs one way (net → classic → train).
"""

from __future__ import annotations

import math
import sys

import numpy as np
from numpy.typing import ArrayLike

from .checks import check_X, check_y
from .errors import InputError, InputTypeError
from .optim import SGD
from .settings import RULES, check_setting
from .threads import BlasThreads
from .train import NOTHING_KEPT, Batch, Model, accuracy, check_batch_memory, divergence


class GlobalRandomState:
    """NumPy's legacy global random state (np.random.seed / np.random.randn), as an object: a
    Trainer given it draws its batches from the state CS231n's code seeds, through public
    functions only (and its checkpoints save that state)."""

    randint = staticmethod(np.random.randint)
    permutation = staticmethod(np.random.permutation)
    get_state = staticmethod(np.random.get_state)
    set_state = staticmethod(np.random.set_state)


@np.errstate(over="ignore", invalid="ignore")  # divergence is reported from the loss, in words
def classic_train(
    net: Model,
    X: ArrayLike,
    y: ArrayLike,
    X_val: ArrayLike,
    y_val: ArrayLike,
    learning_rate: float = 1e-3,
    learning_rate_decay: float = 0.95,
    reg: float = 5e-6,
    num_iters: int = 100,
    batch_size: int = 200,
    verbose: bool = False,
    threads: int | None = None,
) -> dict[str, list[float]]:
    """CS231n's TwoLayerNet.train: SGD on batches drawn with replacement from NumPy's global
    random state; train (on the batch) and validation accuracy recorded, and the learning rate
    multiplied by the decay, whenever ``it % max(N // batch_size, 1) == 0``."""
    _check_settings(learning_rate, learning_rate_decay, reg, num_iters, batch_size)
    X, y, X_val, y_val = _check_data(net, X, y, X_val, y_val, batch_size)
    threads = check_setting("threads", threads)
    num_train, reg = X.shape[0], float(reg)
    # the assignment's max(num_train / batch_size, 1) as its Python 2 original divides: see README
    iterations_per_epoch = max(num_train // batch_size, 1)
    _check_epochs(num_iters, iterations_per_epoch)
    batch = Batch(X, y, batch_size, net.dtype)
    work, sgd, lr = net.workspace(batch_size), SGD(), learning_rate

    loss_history: list[float] = []
    train_acc_history: list[float] = []
    val_acc_history: list[float] = []
    # the thread choice and why go to stderr: stdout carries CS231n's lines and nothing else
    note = (lambda line: print(line, file=sys.stderr)) if verbose else None
    with BlasThreads(batch_size * X.shape[1] * net.hidden_size, threads, note):
        for it in range(num_iters):
            idx = np.random.choice(num_train, batch_size, replace=True)
            X_batch, y_batch = batch.gather(idx, None)
            loss, grads, _ = net.forward_backward(X_batch, y_batch, reg, work)
            if not math.isfinite(loss):
                raise divergence(loss, X_batch, it + 1, learning_rate, NOTHING_KEPT)
            loss_history.append(loss)
            sgd.step(net.params, grads, lr)  # param -= lr * grad, for every parameter

            if verbose and it % 100 == 0:
                print("iteration %d / %d: loss %f" % (it, num_iters, loss))  # noqa: UP031 (CS231n's line)

            if it % iterations_per_epoch == 0:
                train_acc_history.append(_batch_accuracy(net, X_batch, y_batch))
                val_acc_history.append(accuracy(net, X_val, y_val, check=False))
                lr *= learning_rate_decay

    return {
        "loss_history": loss_history,
        "train_acc_history": train_acc_history,
        "val_acc_history": val_acc_history,
    }


def _batch_accuracy(net: Model, X_batch: np.ndarray, y_batch: np.ndarray) -> float:
    """(predict(X_batch) == y_batch).mean(), on network inputs, after the batch's update."""
    predicted = net.scores(X_batch, check=False).argmax(axis=1)
    return float(np.count_nonzero(predicted == y_batch)) / len(y_batch)


def _check_settings(learning_rate, learning_rate_decay, reg, num_iters, batch_size):
    """The classic arguments, checked by the settings table under the caller's names."""
    check_setting("learning_rate", learning_rate, "learning_rate")
    check_setting("lr_decay", learning_rate_decay, "learning_rate_decay")
    check_setting("reg", reg, "reg")
    if num_iters is None:  # max_steps may be None (no limit), num_iters may not
        raise InputTypeError(
            f"num_iters must be {RULES['max_steps'][1].removesuffix(' or None')}, got None"
        )
    check_setting("max_steps", num_iters, "num_iters")
    check_setting("batch_size", batch_size, "batch_size")


def _check_data(
    net: Model, X: ArrayLike, y: ArrayLike, X_val: ArrayLike, y_val: ArrayLike, batch_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training and validation rows and labels, checked against the net (and the batch's
    memory before anything is allocated for it)."""
    X = check_X(X, net.input_size, net.dtype)
    y = check_y(y, X.shape[0], net.output_size)
    check_batch_memory(batch_size, X.shape[1], net)
    X_val = check_X(X_val, net.input_size, net.dtype, name="X_val")
    y_val = check_y(y_val, X_val.shape[0], net.output_size, name="y_val")
    return X, y, X_val, y_val


def _check_epochs(num_iters, iterations_per_epoch):
    """Refuse more epochs (records and decays, one per iterations_per_epoch steps, the first after
    step 0) than the settings table allows an epoch count: a num_iters of 10**12 is a typo."""
    epochs = max(math.ceil(num_iters / iterations_per_epoch), 1)
    if not RULES["epochs"][0](epochs):
        raise InputError(
            f"num_iters {num_iters} makes {epochs:,} epochs of {iterations_per_epoch} steps; epochs "
            f"must be {RULES['epochs'][1].removesuffix(' (or None: auto)')}"
        )
