"""CS231n's ``TwoLayerNet.train`` API on the shared loop.

It drives any model of the loop's ``Model`` protocol and never imports net.py: net.py imports
this module for ``TwoLayerNet.train``, so the dependency runs one way (net → classic → train).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .checks import check_X, check_y
from .errors import InputError, InputTypeError
from .settings import RULES, TrainConfig, check_setting
from .train import Model, Trainer, check_batch_memory


class GlobalRandomState:
    """NumPy's legacy global random state (np.random.seed / np.random.randn), as an object: the
    classic API draws its batches from it, as CS231n's code does, through public functions only."""

    randint = staticmethod(np.random.randint)
    permutation = staticmethod(np.random.permutation)
    get_state = staticmethod(np.random.get_state)
    set_state = staticmethod(np.random.set_state)


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
    """CS231n's TwoLayerNet.train on the shared loop: SGD, batches drawn with replacement from
    NumPy's global random state, learning rate × decay after every epoch of max(N // B, 1) steps."""
    _check_settings(learning_rate, learning_rate_decay, reg, num_iters, batch_size)
    X, y, X_val, y_val = _check_data(net, X, y, X_val, y_val, batch_size)
    steps_per_epoch = max(X.shape[0] // batch_size, 1)
    epochs = _epochs(num_iters, steps_per_epoch)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        reg=reg,
        optimizer="sgd",
        schedule="step",
        lr_decay=learning_rate_decay,
        patience=None,
        sampling="replacement",
        steps_per_epoch=steps_per_epoch,
        max_steps=num_iters,
        seed=None,
    )
    note = print if verbose else None  # the thread choice and why, before CS231n's lines
    trainer = Trainer(net, config, rng=GlobalRandomState(), threads=threads, note=note)

    def report(t):
        if verbose and t.step_count % 100 == 0:
            print(f"iteration {t.step_count} / {num_iters}: loss {t.history['step_loss'][-1]:f}")

    trainer.fit(X, y, X_val, y_val, on_batch=report)
    h = trainer.history
    return {
        "loss_history": h["step_loss"],
        "train_acc_history": h["train_acc"],
        "val_acc_history": h["val_acc"],
    }


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


def _epochs(num_iters, steps_per_epoch):
    """Enough epochs of steps_per_epoch steps for num_iters steps (the last one cut short)."""
    epochs = max(math.ceil(num_iters / steps_per_epoch), 1)
    if not RULES["epochs"][0](epochs):
        raise InputError(
            f"num_iters {num_iters} makes {epochs:,} epochs of {steps_per_epoch} steps; epochs must be "
            f"{RULES['epochs'][1].removesuffix(' (or None: auto)')}"
        )
    return epochs
