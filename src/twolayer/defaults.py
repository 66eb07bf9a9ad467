"""The data-dependent defaults, as rules in one place: every 'auto' of the command line and of
TwoLayerClassifier is decided here, from the training data's shape.

n: training rows, d: features, C: classes, image: whether the rows are images (see ``is_image``).
The reasons are in the README ("Defaults"); benchmarks/bench_breadth.py measures them.

- hidden units: tabular H = 2·sqrt(n) rounded to 16, within max(64, 4·C)..256 — enough units to
  carve C classes, and more only as there are rows to fit them; images 512 (what wins on pixels).
- weight decay (AdamW, decoupled): WD_PER_WEIGHT · P / n within 0.001..1 (0.3, chosen on the
  tune-only sets of benchmarks/bench_breadth.py over 0.03, 0.1 and 1), P = H·(d + C) the weights: the
  fewer rows per weight, the stronger the pull to zero; a set with far more rows than weights
  needs almost none (a strong decay there underfits round boundaries and mutes minority classes).
- stopping: on the training loss (every row trains, the decay regularises) in the estimator and
  in the command line's tabular runs, which also restore the weights of the best epoch on the
  validation split they hold out anyway (the later epoch on a tie).
- patience and epochs are counted in optimizer steps, not epochs: an epoch of 200 rows is one
  step, of 60,000 rows 300; so patience = PATIENCE_STEPS steps (10..100 epochs) and the cap on
  epochs MAX_STEPS steps (200..2,000 epochs). The rate is halved on a plateau of patience/4 epochs
  (schedule 'plateau') before the patience runs out.
- images on the command line keep its recipe (batch 64, lr 2e-3, cosine over ~2,000 steps,
  weight decay 0.05, shift augmentation, no early stopping): augmentation is its regulariser.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .settings import is_auto

MONITOR = "loss"  # what a tabular run's patience watches (see run_rules)
PATIENCE_STEPS = 200  # optimizer steps without a gain before training stops
MAX_STEPS = 20_000  # optimizer steps at most (the epoch cap, within EPOCH_RANGE)
EPOCH_RANGE = (200, 2000)
PATIENCE_RANGE = (10, 100)
WD_PER_WEIGHT = 0.3  # weight decay per weight per row (0.1 lost 0.7 points on the tune-only sets)
BATCH = 200  # minibatch rows (scikit-learn's MLP's), at most n
IMAGE_RECIPE = {  # the command line's recipe for images (measured on digits and MNIST)
    "hidden_size": 512,
    "batch_size": 64,
    "learning_rate": 2e-3,
    "weight_decay": 0.05,
    "schedule": "cosine",
    "epochs": None,  # TrainConfig.resolve_epochs: about AUTO_STEPS steps within AUTO_EPOCHS
    "patience": None,
    "monitor": "val",
}


class Shape(NamedTuple):
    """What the rules look at: rows, features, classes and whether the rows are images."""

    n: int
    d: int
    n_classes: int
    image: bool = False


def hidden_units(s: Shape) -> int:
    if s.image:
        return 512
    h = 16 * round(2 * math.sqrt(s.n) / 16)
    return int(min(max(h, 64, 4 * s.n_classes), 256))


def batch_size(s: Shape) -> int:
    return max(1, min(BATCH, s.n))


def learning_rate(s: Shape, batch: int | None = None) -> float:
    """0.02·(batch / n)^(1/3): 0.02 when an epoch is one batch, smaller as an epoch holds more
    steps (the exponent: between 1/4, worse on MNIST, and 1/2, slower on digits)."""
    b = batch_size(s) if batch is None else min(batch, s.n)
    return 0.02 * (b / max(s.n, 1)) ** (1 / 3)


def weight_decay(s: Shape, hidden: int | None = None) -> float:
    h = hidden_units(s) if hidden is None else hidden
    weights = h * (s.d + s.n_classes)
    return float(min(max(WD_PER_WEIGHT * weights / max(s.n, 1), 1e-3), 1.0))


def steps_per_epoch(s: Shape, batch: int | None = None) -> int:
    return math.ceil(s.n / (batch_size(s) if batch is None else max(batch, 1)))


def max_epochs(s: Shape, batch: int | None = None) -> int:
    lo, hi = EPOCH_RANGE
    return int(min(max(math.ceil(MAX_STEPS / steps_per_epoch(s, batch)), lo), hi))


def patience(s: Shape, batch: int | None = None) -> int:
    lo, hi = PATIENCE_RANGE
    return int(min(max(math.ceil(PATIENCE_STEPS / steps_per_epoch(s, batch)), lo), hi))


def plateau_patience(stop_patience: int) -> int:
    """Epochs without a gain before the rate is halved: a quarter of the stopping patience."""
    return max(3, stop_patience // 4)


def tabular(s: Shape, batch: int | None = None) -> dict:
    """Every rule's value for tabular rows (and the estimator's images)."""
    b = batch_size(s) if batch is None else batch
    return {
        "hidden_size": hidden_units(s),
        "batch_size": b,
        "learning_rate": learning_rate(s, b),
        "weight_decay": weight_decay(s),
        "schedule": "plateau",
        "epochs": max_epochs(s, b),
        "patience": patience(s, b),
        # measured (benchmarks/bench_breadth.py, tune part): holding out 10% for early stopping
        # costs 0.3 to 4 points against stopping on the training loss with every row training;
        # the weight decay above is the regulariser. The command line holds out its validation
        # split anyway and picks the best epoch's weights on it (run_rules).
        "early_stopping": False,
    }


# -- class weights ------------------------------------------------------------------------------
def class_weights(y, n_classes: int) -> np.ndarray:
    """'balanced' weights of classes 0..n_classes-1 (scikit-learn's compute_class_weight):
    n / (C · n_c), C the classes present (an absent class weighs 1)."""
    y = np.asarray(y, dtype=np.intp)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    out = np.ones(n_classes)
    out[present] = len(y) / (present.sum() * counts[present])
    return out


def balanced_accuracy(y_true, y_pred) -> float:
    """The mean recall over the classes present in y_true."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


# -- what makes rows images ---------------------------------------------------------------
MIN_SIDE = 8  # the smallest square image (digits' 8×8); 16 or 49 columns in [0, 1] are a table


def square_side(d: int) -> int | None:
    side = math.isqrt(d)
    return side if side * side == d and side >= MIN_SIDE else None


def pixel_range(X, block: int = 8192) -> float | None:
    """The pixels' full scale: 1 when every value is in [0, 1]; the largest value when every
    value is an integer in 0..255 (255 for 8-bit images, 16 for digits); None otherwise
    (negative values, or fractions above 1: not pixels). Read in row blocks (memory maps)."""
    if hasattr(X, "tocsr") or getattr(X, "dtype", None) is None or X.dtype.kind not in "iuf":
        return None
    if X.size == 0:
        return None
    lo, hi, whole = math.inf, -math.inf, True
    for start in range(0, X.shape[0], block):
        xb = np.asarray(X[start : start + block])
        lo, hi = min(lo, float(xb.min())), max(hi, float(xb.max()))
        if lo < 0 or hi > 255:
            return None
        if whole and xb.dtype.kind == "f":
            whole = bool(np.all(xb == np.floor(xb)))
    if hi <= 1:
        return 1.0
    return hi if whole else None


def image_shape_of(X, declared=None) -> tuple | None:
    """The image shape of rows X, or None: ``declared`` (checked by its reader) when given and
    the values are pixels, else a square of side >= MIN_SIDE when the values are pixels."""
    d = X.shape[1]
    if pixel_range(X) is None:
        return None
    if declared is not None:
        return tuple(int(v) for v in declared)
    side = square_side(d)
    return None if side is None else (side, side)


# -- a command-line run ----------------------------------------------------------------------
def run_rules(s: Shape) -> dict:
    """The command line's value of every rule: images keep its image recipe (the loop's own
    epoch rule, no early stopping); tabular rows take the shared rules, stop on the training
    loss as the estimator does and restore the weights of the best validation epoch."""
    if s.image:
        return dict(IMAGE_RECIPE)
    rules = tabular(s)
    del rules["early_stopping"]
    rules["monitor"] = MONITOR
    return rules


def shape_of(dataset) -> Shape:
    return Shape(
        len(dataset.y_train),
        dataset.n_features,
        dataset.n_classes,
        dataset.image_shape is not None,
    )


def resolve_run(settings, dataset):
    """``settings`` with every 'auto' (and epochs None on tabular rows) decided from the training
    split of ``dataset``; values the caller set are kept, and the rules that depend on the batch
    size (epochs, patience) use the batch size in effect."""
    s = shape_of(dataset)
    rules = run_rules(s)
    flat = settings.flat()
    changes = {k: rules[k] for k in rules if k != "epochs" and is_auto(flat.get(k))}
    batch = changes.get("batch_size", flat["batch_size"])
    if not s.image:
        if is_auto(flat["patience"]) and rules["patience"] is not None:
            changes["patience"] = patience(s, batch)
        if flat["epochs"] is None:
            changes["epochs"] = max_epochs(s, batch)
    if is_auto(flat["weight_decay"]) and not s.image:
        hidden = changes.get("hidden_size", flat["hidden_size"])
        changes["weight_decay"] = weight_decay(s, hidden)
    return settings.with_changes(**changes)


def chosen(before, after) -> dict:
    """{setting: value} of what the rules decided: the settings 'auto' (or epochs None, on
    tabular rows) in ``before`` that ``after`` (resolve_run's result) holds a value for."""
    a, b = before.flat(), after.flat()
    return {
        k: b[k]
        for k in b
        if (is_auto(a.get(k)) or (k == "epochs" and a.get(k) is None)) and b[k] != a.get(k)
    }
