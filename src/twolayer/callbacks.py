"""What the caller may see and steer between epochs, in one place: epoch callbacks, the plateau
schedule (reduce the step when the monitored score stops improving) and gradient-norm clipping.

A callback is a callable ``cb(trainer)`` or an object with ``on_epoch_end(trainer)``. It runs
after every epoch, once the epoch is in ``trainer.history`` (per-epoch lists 'epoch', 'loss',
'train_acc', 'val_acc', 'lr', 'seconds'; ``trainer.val_scores`` holds the ``scoring=`` values when
there are any); ``trainer.net`` is the network. Returning True stops training: the fit ends with
``trainer.stop_reason == 'callback'`` (and no ConvergenceWarning). Typical uses: logging each epoch
to MLflow or TensorBoard, stopping on a custom rule.

Used by ``TwoLayerClassifier(callbacks=[...], schedule='plateau', scoring=..., clip_grad_norm=...)``
and by ``Trainer.fit(on_epoch=callbacks.run_all(cbs))``; ``Trainer.lr_scale`` and
``Trainer.clip_norm`` are the two knobs they turn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .errors import InputError


def run_all(callbacks: Iterable[Any]) -> Callable[[Any], None]:
    """An ``on_epoch`` hook that calls every callback in order and stops when one returns True."""
    callbacks = list(callbacks)
    for cb in callbacks:
        if not (callable(cb) or callable(getattr(cb, "on_epoch_end", None))):
            raise InputError(
                f"callbacks: {cb!r} is neither callable nor has an on_epoch_end(trainer) method"
            )

    def on_epoch(trainer: Any) -> None:
        for cb in callbacks:
            hook = getattr(cb, "on_epoch_end", None)
            stop = hook(trainer) if callable(hook) else cb(trainer)
            if stop is True and trainer.stop_reason is None:
                trainer.stop_reason = "callback"

    return on_epoch


def monitored(trainer: Any) -> float:
    """The score a plateau is judged on, higher is better: the last ``scoring=`` value, else the
    validation accuracy, else minus the training loss."""
    if getattr(trainer, "val_scores", None):
        return float(trainer.val_scores[-1])
    h = trainer.history
    on_loss = getattr(getattr(trainer, "config", None), "monitor", "val") == "loss"
    if h["val_acc"] and h["val_acc"][-1] is not None and not on_loss:
        return float(h["val_acc"][-1])
    return -float(h["loss"][-1])


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` when the monitored score (see ``monitored``) has
    not improved by more than ``tol`` for ``patience`` epochs in a row; never below ``min_lr``
    times the base rate. As Keras' and PyTorch's ReduceLROnPlateau, per epoch."""

    def __init__(
        self, factor: float = 0.5, patience: int = 3, tol: float = 1e-4, min_lr: float = 0.0
    ):
        if not (0 < factor < 1):
            raise InputError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise InputError(
                f"ReduceLROnPlateau: patience must be an integer >= 1, got {patience!r}"
            )
        self.factor, self.patience, self.tol, self.min_lr = factor, patience, tol, min_lr
        self.best = -math.inf
        self.wait = 0
        self.reductions = 0

    def on_epoch_end(self, trainer: Any) -> None:
        trainer.lr_scale = self._observe(monitored(trainer), trainer.lr_scale)

    def _observe(self, score: float, lr_scale: float) -> float:
        """The factor on the rate after an epoch that scored ``score``."""
        if score > self.best + self.tol:
            self.best, self.wait = score, 0
            return lr_scale
        self.best = max(self.best, score)
        self.wait += 1
        if self.wait < self.patience:
            return lr_scale
        self.wait = 0
        self.reductions += 1
        return max(lr_scale * self.factor, self.min_lr)

    def replay(self, history: Any, on_loss: bool = False) -> float:
        """Start afresh and go through the epochs of ``history`` (a resumed run's, whose score is
        the validation accuracy, else (or ``on_loss``) minus the loss, as ``monitored``): the
        factor on the rate after them, with this object in the state it had then."""
        self.best, self.wait, self.reductions = -math.inf, 0, 0
        lr_scale = 1.0
        for val, loss in zip(history["val_acc"], history["loss"]):
            score = -float(loss) if val is None or on_loss else float(val)
            lr_scale = self._observe(score, lr_scale)
        return lr_scale


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so that their global L2 norm is at most ``max_norm``;
    returns the norm before clipping (as torch.nn.utils.clip_grad_norm_)."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm
