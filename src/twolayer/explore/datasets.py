"""The explorer's data sets: five 2-D toy sets generated in NumPy, and digits.

Every 2-D set lies roughly in [-1, 1]²; ``noise`` (0..1) blurs it. The spiral is the one of CS231n's
"minimal neural network case study": K arms, radius growing linearly, angle jittered by the noise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..data import read_digits, stratified_split

TWO_D = ("spiral", "moons", "circles", "xor", "blobs")
DATASETS = (*TWO_D, "digits")
WITH_CLASSES = ("spiral", "blobs")  # the sets whose number of classes is a setting


class Points(NamedTuple):
    """A data set split in two: train rows, test rows, and what draws them."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int] | None  # (8, 8) for digits, None for the 2-D sets


def spiral(n, classes, noise, rng):
    """CS231n's spiral: per class k, r = linspace(0, 1), θ = linspace(4k, 4(k+1)) + noise·N(0, 1)."""
    per = _shares(n, classes)
    X, y = [], []
    for k, m in enumerate(per):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + noise * rng.standard_normal(m)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(m, k))
    return np.concatenate(X), np.concatenate(y)


def moons(n, noise, rng):
    """Two interleaving half circles, centred on the origin."""
    m0, m1 = _shares(n, 2)
    t0, t1 = rng.uniform(0, math.pi, m0), rng.uniform(0, math.pi, m1)
    upper = np.c_[np.cos(t0), np.sin(t0)]
    lower = np.c_[1.0 - np.cos(t1), 0.5 - np.sin(t1)]
    X = (np.concatenate([upper, lower]) - [0.5, 0.25]) / 1.5
    X += 0.3 * noise * rng.standard_normal(X.shape)
    return X, np.repeat([0, 1], [m0, m1])


def circles(n, noise, rng):
    """A ring (class 0, radius 0.9) around a disc's edge (class 1, radius 0.45)."""
    m0, m1 = _shares(n, 2)
    t = rng.uniform(0, 2 * math.pi, n)
    r = np.r_[np.full(m0, 0.9), np.full(m1, 0.45)]
    X = r[:, None] * np.c_[np.cos(t), np.sin(t)]
    X += 0.25 * noise * rng.standard_normal(X.shape)
    return X, np.repeat([0, 1], [m0, m1])


def xor(n, noise, rng):
    """Uniform points, kept a little away from the axes; class 1 where x·y < 0."""
    X = rng.uniform(0.05, 1.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.intp)
    X += 0.3 * noise * rng.standard_normal(X.shape)
    return X, y


def blobs(n, classes, noise, rng):
    """Gaussian blobs, their centres evenly spaced on a circle of radius 0.7; σ = 0.05 + 0.4·noise."""
    per = _shares(n, classes)
    angles = 2 * math.pi * np.arange(classes) / classes
    centres = 0.7 * np.c_[np.cos(angles), np.sin(angles)]
    y = np.repeat(np.arange(classes), per)
    X = centres[y] + (0.05 + 0.4 * noise) * rng.standard_normal((n, 2))
    return X, y


def make(name, points, noise, classes, test_fraction, seed):
    """The data set ``name`` split into train and test (stratified, seeded)."""
    rng = np.random.default_rng(seed)
    if name == "digits":
        X, y = read_digits()
        X = X / 16.0  # pixels 0..16 scaled to [0, 1], as `twolayer train` does
        image_shape: tuple[int, int] | None = (8, 8)
    else:
        if name in WITH_CLASSES:
            X, y = (spiral if name == "spiral" else blobs)(points, classes, noise, rng)
        else:
            X, y = {"moons": moons, "circles": circles, "xor": xor}[name](points, noise, rng)
        image_shape = None
    n_test = max(1, min(len(y) - 2, round(test_fraction * len(y))))
    train, test = stratified_split(y, n_test, seed)
    y = y.astype(np.intp)
    return Points(X[train], y[train], X[test], y[test], int(y.max()) + 1, image_shape)


def _shares(n, k):
    """n split into k near-equal positive counts."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]
