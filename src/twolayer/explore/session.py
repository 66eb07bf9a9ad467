"""One learner's explorer: data, network, optimizer and what the page draws, all on the server.

The page sends settings and commands; a Session trains the library's TwoLayerNet with the library's
update rules and returns frames of plain numbers for the page to draw.
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .. import layers
from ..net import TwoLayerNet
from ..optim import OPTIMIZERS, make_optimizer
from . import circuit, datasets

GRID = 100  # cells per side of the decision-region heat map
UNIT_GRID = 16  # cells per side of each hidden unit's map
EXTENT = 1.5  # the 2-D views show [-EXTENT, EXTENT]²


def _int(lo, hi):
    return (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi,
        f"an integer in {lo}..{hi}",
    )


def _num(lo, hi):
    ok = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi  # noqa: E731
    return ok, f"a number in [{lo:g}, {hi:g}]"


def _choice(options):
    return (lambda v: v in options, "one of " + ", ".join(options))


# every setting the page may send: (check, what it must be, what changing it resets)
SETTINGS = {
    "dataset": (*_choice(datasets.DATASETS), "data"),
    "points": (*_int(20, 2000), "data"),
    "noise": (*_num(0, 1), "data"),
    "classes": (*_int(2, 8), "data"),
    "test_fraction": (*_num(0.05, 0.9), "data"),
    "seed": (*_int(0, 2**31 - 1), "data"),
    "hidden": (*_int(1, 256), "net"),
    "lr": (*_num(1e-6, 10), "live"),
    "reg": (*_num(0, 1), "live"),
    "optimizer": (*_choice(OPTIMIZERS), "optimizer"),
    "batch_size": (*_int(1, 5000), "live"),
    "steps_per_frame": (*_int(1, 100), "live"),
}


@dataclass(frozen=True)
class Settings:
    dataset: str = "spiral"
    points: int = 300
    noise: float = 0.2
    classes: int = 3
    test_fraction: float = 0.2
    seed: int = 0
    hidden: int = 100
    lr: float = 0.01
    reg: float = 0.001
    optimizer: str = "adam"
    batch_size: int = 32
    steps_per_frame: int = 1

    def changed(self, changes: Any) -> Settings:
        """These settings with ``changes`` (a dict from the page) applied, every value checked."""
        if not isinstance(changes, dict):
            raise ValueError("settings must be an object")
        for name, value in changes.items():
            if name not in SETTINGS:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(SETTINGS)}")
            ok, what, _ = SETTINGS[name]
            if not ok(value):
                raise ValueError(f"{name} must be {what}, got {value!r}")
        return replace(self, **changes)


def finite(v):
    """A float for JSON: None when missing or not finite (JSON has no NaN)."""
    return None if v is None or not math.isfinite(v) else float(v)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, np.uint8).tobytes()).decode("ascii")


def grid(n, extent=EXTENT):
    """Cell centres of an n×n grid over [-extent, extent]², row 0 at the top (largest y)."""
    c = (np.arange(n) + 0.5) / n * 2 * extent - extent
    gx, gy = np.meshgrid(c, c[::-1])
    return np.c_[gx.ravel(), gy.ravel()]


class Session:
    """The state behind one page: data, net, optimizer, counters and history."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.selected = 0
        self._grid, self._unit_grid = grid(GRID), grid(UNIT_GRID)
        self.new_data()

    # -- state -------------------------------------------------------------------------
    def new_data(self) -> None:
        s = self.settings
        self.data = datasets.make(s.dataset, s.points, s.noise, s.classes, s.test_fraction, s.seed)
        # a point inside the data (the spiral's first is at 0, 0)
        self.selected = len(self.data.y_train) // 2
        self.resets = 0
        self.reset()

    def reset(self, fresh: bool = False) -> None:
        """A new net and optimizer, counters at zero. ``fresh``: other initial weights than last
        time (the reset button); otherwise the seed's first ones."""
        s, d = self.settings, self.data
        self.resets = self.resets + 1 if fresh else 0
        self.rng = np.random.default_rng([s.seed, self.resets])
        self.net = TwoLayerNet(d.X_train.shape[1], s.hidden, d.n_classes, std="he", seed=self.rng)
        self.optimizer = make_optimizer(s.optimizer)
        self.order = self.rng.permutation(len(d.y_train))
        self.position = 0
        self.steps = 0
        self.epoch = 0
        self.batch_loss: float | None = None

    def configure(self, changes: Any) -> str:
        """Apply settings from the page; returns what had to be rebuilt: data, net or nothing."""
        new = self.settings.changed(changes)
        kinds = {SETTINGS[k][2] for k, v in changes.items() if getattr(self.settings, k) != v}
        self.settings = new
        if "data" in kinds:
            self.new_data()
            return "data"
        if "net" in kinds:
            self.reset()
            return "net"
        if "optimizer" in kinds:
            self.optimizer = make_optimizer(new.optimizer)
        return "live"

    def select(self, index: Any) -> None:
        n = len(self.data.y_train) + len(self.data.y_test)
        if not (isinstance(index, int) and not isinstance(index, bool) and 0 <= index < n):
            raise ValueError(f"index must be an integer in 0..{n - 1}, got {index!r}")
        self.selected = index

    # -- training ----------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """n minibatch steps of the chosen update rule; an epoch is one pass over a permutation."""
        s, d = self.settings, self.data
        batch = min(s.batch_size, len(d.y_train))
        for _ in range(n):
            if self.position + batch > len(self.order):  # the batch size grew mid-epoch
                self._next_epoch()
            idx = self.order[self.position : self.position + batch]
            self.position += batch
            loss, grads = self.net.loss(d.X_train[idx], d.y_train[idx], reg=s.reg)
            if not math.isfinite(loss):
                self.batch_loss = loss
                raise ValueError(
                    "the loss is no longer finite (learning rate too high?): lower it and press reset"
                )
            self.optimizer.step(self.net.params, grads, s.lr)
            self.batch_loss = loss
            self.steps += 1
            if self.position + batch > len(self.order):  # the rest is less than a batch: dropped
                self._next_epoch()

    def run_epoch(self) -> None:
        """Steps until the current epoch ends (a whole epoch from its start)."""
        start = self.epoch
        while self.epoch == start:
            self.step()

    def _next_epoch(self) -> None:
        self.order = self.rng.permutation(len(self.data.y_train))
        self.position = 0
        self.epoch += 1

    # -- what the page draws -----------------------------------------------------------
    def example(self) -> tuple[np.ndarray, int, str]:
        d, i = self.data, self.selected
        n_train = len(d.y_train)
        if i < n_train:
            return d.X_train[i], int(d.y_train[i]), "train"
        return d.X_test[i - n_train], int(d.y_test[i - n_train]), "test"

    def metrics(self) -> dict[str, float | None]:
        """Data loss (no reg) and accuracy of the whole train and test splits."""
        d, out = self.data, {}
        for split, X, y in (("train", d.X_train, d.y_train), ("test", d.X_test, d.y_test)):
            scores = self.net.scores(X, check=False)
            correct = scores.argmax(axis=1) == y
            ok = bool(np.isfinite(scores).all())
            loss = layers.softmax_loss(scores, y, inplace=True)[0] if ok else math.nan
            out[f"{split}_loss"] = finite(loss)
            out[f"{split}_acc"] = float(np.mean(correct)) if ok else 0.0
        return out

    def points(self) -> dict[str, Any]:
        """The data, sent when it changes: 2-D coordinates (or digit images) and labels."""
        d = self.data
        out: dict[str, Any] = {
            "type": "data",
            "dataset": self.settings.dataset,
            "n_classes": d.n_classes,
            "n_train": len(d.y_train),
            "y": np.r_[d.y_train, d.y_test].tolist(),
            "extent": EXTENT,
        }
        if d.image_shape is None:
            out["X"] = np.round(np.r_[d.X_train, d.X_test], 4).tolist()
        return out

    @np.errstate(over="ignore", invalid="ignore")  # a diverged net still draws (as NaN-free JSON)
    def frame(self) -> dict[str, Any]:
        """Everything the page redraws after a step."""
        s, d = self.settings, self.data
        x, label, split = self.example()
        wires, _ = circuit.compute(self.net, x, label, s.reg)
        out: dict[str, Any] = {
            "type": "frame",
            "step": self.steps,
            "epoch": self.epoch,
            "batch_loss": finite(self.batch_loss),
            "metrics": self.metrics(),
            "selected": self.selected,
            "example": {"split": split, "label": label},
            "circuit": wires,
        }
        if d.image_shape is None:
            out["regions"] = self.regions()
            out["units"] = self.units()
        else:
            out["tiles"] = self.tiles()
            out["confusion"] = self.confusion()
            out["example"]["pixels"] = np.round(x * 255).astype(int).tolist()
        return out

    def regions(self) -> dict[str, Any]:
        """Predicted class and its probability on a GRID×GRID grid (row 0 at the top), one byte a
        cell: class · 32 + round(31 · probability) (8 classes at most fit in the 3 high bits)."""
        # blocks of 1,024 rows keep the (rows, H) activations in cache: 5× faster than 4,096 here
        probs = np.nan_to_num(
            layers.softmax(self.net.scores(self._grid, batch_size=1024, check=False))
        )
        cells = probs.argmax(axis=1) * 32 + np.round(probs.max(axis=1) * 31).astype(np.intp)
        return {"n": GRID, "cells": b64(cells)}

    def units(self) -> dict[str, Any]:
        """Each hidden unit's ReLU output on a UNIT_GRID² grid, scaled by its own maximum."""
        p = self.net.params
        h, _ = layers.relu_forward(layers.affine_forward(self._unit_grid, p["W1"], p["b1"])[0])
        top = h.max(axis=0)
        scaled = np.divide(h, top, out=np.zeros_like(h), where=top > 0)
        return {
            "n": UNIT_GRID,
            "count": h.shape[1],
            "maps": b64(np.round(np.nan_to_num(scaled).T * 255)),
        }

    def tiles(self) -> dict[str, Any]:
        """First-layer weights as 8×8 tiles, one per hidden unit: 128 ± 127·w/max|w| of the unit."""
        W1 = self.net.params["W1"]
        top = np.abs(W1).max(axis=0)
        scaled = np.divide(W1, top, out=np.zeros_like(W1), where=top > 0)
        return {
            "shape": list(self.data.image_shape or ()),
            "count": W1.shape[1],
            "w": b64(np.round(128 + 127 * np.nan_to_num(scaled.T))),
        }

    def confusion(self) -> list[list[int]]:
        """Test-set confusion matrix: row = true class, column = predicted."""
        d = self.data
        predicted = self.net.scores(d.X_test, check=False).argmax(axis=1)
        m = np.zeros((d.n_classes, d.n_classes), np.int64)
        np.add.at(m, (d.y_test, predicted), 1)
        return m.tolist()

    def hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "settings": asdict(self.settings),
            "limits": {k: v[1] for k, v in SETTINGS.items()},
            "choices": {"dataset": list(datasets.DATASETS), "optimizer": list(OPTIMIZERS)},
            "with_classes": list(datasets.WITH_CLASSES),
            "stages": [
                {"gate": g, "pass": p, "rule": r, "wires": list(w)} for g, p, r, w in circuit.STAGES
            ],
            "gates": list(circuit.GATES),
            "digits": circuit.DIGITS,
        }
