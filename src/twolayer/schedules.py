"""Learning-rate schedules, evaluated once per epoch."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "step", "cosine", "plateau")


def learning_rate_at(
    epoch, *, base_lr, schedule="constant", decay=0.95, epochs=1, warmup_epochs=0, min_lr_ratio=0.0
):
    """The learning rate for a 0-based epoch.

    step:    base_lr · decay^epoch (CS231n's per-epoch decay)
    cosine:  base_lr · (r + (1 - r)·(1 + cos(π·t)) / 2), t = progress after warm-up, r = min_lr_ratio
    warm-up: a linear ramp from base_lr/(warmup+1) over the first ``warmup_epochs`` epochs.
    """
    if epoch < warmup_epochs:
        return base_lr * (epoch + 1) / (warmup_epochs + 1)
    if schedule in ("constant", "plateau"):
        # plateau: the loop scales this by Trainer.lr_scale, which callbacks.ReduceLROnPlateau lowers
        return base_lr
    if schedule == "step":
        return base_lr * decay ** (epoch - warmup_epochs)
    if schedule == "cosine":
        span = max(epochs - warmup_epochs, 1)
        t = min((epoch - warmup_epochs) / span, 1.0)
        return base_lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
