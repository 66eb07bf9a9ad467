"""A training run on disk: data in, a run directory out.

RUN_DIR/config.json   every setting, written first so that an interrupted run can resume
RUN_DIR/checkpoint.npz parameters, optimizer, schedule, random state, history (atomic; after the first
                       and the last epoch and at most every CHECKPOINT_SECONDS between)
RUN_DIR/model.npz     the trained model with its preprocessing and class names
RUN_DIR/metrics.json  accuracies, epochs, seconds, hyperparameters
RUN_DIR/history.csv   per epoch: loss, train and validation accuracy, learning rate
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from .checks import check_positive_int
from .errors import DivergedError, InputError
from .train import TrainConfig, Trainer, accuracy, check_setting

CHECKPOINT_SECONDS = 0.5  # a kill loses at most this much training; each write costs an fsync
RUN_FILES = ("config.json", "checkpoint.npz", "model.npz", "metrics.json", "history.csv")


@dataclass
class RunSettings:
    """What a run needs beyond the loop's TrainConfig: data, model shape, numerics."""

    data: str = "digits"
    hidden_size: int = 512
    dtype: str = "float32"
    preprocess: str = "auto"  # auto: standardize; scale+center for image sets
    val_fraction: float = 0.1
    std: float | None = None  # None: He initialisation
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self):
        d = {k: getattr(self, k) for k in ("data", "hidden_size", "dtype", "preprocess", "val_fraction", "std")}
        d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["train"] = TrainConfig.from_dict(d.get("train", {}))
        return cls(**d)


def default_run_dir():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def write_json(path, obj):
    """Atomic JSON write."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def prepare_run_dir(out, resume=False, force=False):
    """Create or reopen a run directory. A finished run is never overwritten by accident."""
    out = Path(out)
    if resume and force:
        raise InputError("--resume and --force contradict each other: pick one")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if resume:
        if not (out / "config.json").exists():
            raise InputError(f"{out}: nothing to resume (no config.json); start a new run without --resume")
        for tmp in out.glob(".*.tmp"):  # half-written files of a run killed before their rename
            tmp.unlink(missing_ok=True)
        return out
    if out.exists() and any((out / f).exists() for f in RUN_FILES):
        if not force:
            raise InputError(f"{out}: already holds a run; use --resume to continue it or --force to overwrite it")
        for f in RUN_FILES:
            (out / f).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise InputError(f"{out}: cannot write to the output directory ({e.strerror})") from None
    return out


def build(settings, dataset):
    """The net, with preprocessing fitted on the training split, and the data it trains on."""
    from .data.preprocess import Preprocessor
    from .net import TwoLayerNet

    check_setting("epochs", settings.train.epochs)
    check_positive_int(settings.hidden_size, "hidden")
    mode = settings.preprocess
    if mode == "auto":  # pixels: scale to [0, 1] (measured best on digits and MNIST); else standardise
        mode = "scale" if dataset.pixel_max else "standardize"
    pre = Preprocessor(mode, pixel_max=dataset.pixel_max).fit(dataset.X_train)
    dtype = np.dtype(settings.dtype)
    std = settings.std
    seed = settings.train.seed
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(dataset.n_features, settings.hidden_size, dataset.n_classes,
                      std="he" if std is None else std, dtype=dtype, seed=rng)
    net.preprocessor = pre
    net.class_names = list(dataset.class_names)
    net.meta = {"data": settings.data, "image_shape": dataset.image_shape, "settings": settings.to_dict()}
    return net


def make_augment(mode, net, dataset):
    """The batch augmentation a run asks for: random pixel shifts for image data ('auto', 'shift')."""
    if mode == "none" or (mode == "auto" and dataset.image_shape is None):
        return None
    if dataset.image_shape is None:
        raise InputError(f"--augment shift needs image data; {dataset.name} rows have no image shape")
    from .data.augment import random_shift

    blank = net.transform(np.zeros((1, net.input_size)))[0]
    return random_shift(dataset.image_shape, fill=blank)


def transformed(net, X):
    """Preprocessed copy for in-memory data; memory maps stay on disk (transformed per batch)."""
    if X is None or isinstance(X, np.memmap):
        return X
    return net.preprocessor.transform(X, net.dtype)


def throttled(save, last_epoch, seconds=CHECKPOINT_SECONDS):
    """The checkpoint callback for the loop: saves after the first epoch, the last one (``last_epoch``
    or an early stop) and otherwise only when ``seconds`` have passed since the previous save."""
    saved_at = None

    def checkpoint(trainer):
        nonlocal saved_at
        now = time.monotonic()
        if (saved_at is None or now - saved_at >= seconds or trainer.epoch >= last_epoch
                or trainer.stop_reason is not None):
            save(trainer)
            saved_at = time.monotonic()
    return checkpoint


def run_training(settings, out, *, resume=False, force=False, dataset=None, on_batch=None, on_epoch=None,
                 on_start=None, plots=True):
    """Train per ``settings`` into the run directory ``out``; returns the metrics dict.
    ``plots``: draw the pictures of the run (see plots.py) into ``out`` too.

    Raises DivergedError after writing what can be kept; KeyboardInterrupt is absorbed by the
    loop, which keeps the best weights, and reported as stop_reason 'interrupted'.
    """
    from . import data as data_mod

    out = prepare_run_dir(out, resume, force)
    requested_epochs = settings.train.epochs
    if resume:
        try:
            saved = RunSettings.from_dict(json.loads((out / "config.json").read_text()))
        except (ValueError, TypeError, KeyError) as e:
            raise InputError(f"{out / 'config.json'}: damaged run configuration ({e})") from None
        if requested_epochs is not None:
            saved.train.epochs = requested_epochs
        settings = saved
    if dataset is None:
        dataset = data_mod.load(settings.data, seed=settings.train.seed or 0, val_fraction=settings.val_fraction)
    net = build(settings, dataset)
    augment = make_augment(settings.train.augment, net, dataset)  # may refuse: before anything is written
    write_json(out / "config.json", settings.to_dict())

    trainer = Trainer(net, settings.train)
    ckpt = out / "checkpoint.npz"
    if resume and ckpt.exists():
        trainer.load_checkpoint(ckpt)
    stream = isinstance(dataset.X_train, np.memmap)
    transform = (lambda xb: net.preprocessor.transform(xb, net.dtype)) if stream else None
    X_train, X_val = transformed(net, dataset.X_train), transformed(net, dataset.X_val)
    if on_start is not None:
        on_start(trainer, dataset)
    last_epoch = settings.train.resolve_epochs(len(dataset.y_train))
    error = None
    try:
        trainer.fit(X_train, dataset.y_train, X_val, dataset.y_val, on_batch=on_batch, on_epoch=on_epoch,
                    checkpoint=throttled(lambda t: t.save_checkpoint(ckpt), last_epoch), transform=transform,
                    augment=augment)
    except DivergedError as e:
        error = e
    seconds = sum(trainer.history["seconds"])  # every epoch's wall time, across resumes
    if error is not None and trainer.best is None:
        write_json(out / "metrics.json", {"stop_reason": "diverged", "error": str(error)})
        raise error

    metrics = {
        **{k: v for k, v in settings.train.to_dict().items() if k not in ("steps_per_epoch", "max_steps")},
        "train_accuracy": accuracy(net, X_train, dataset.y_train, transform),
        "val_accuracy": accuracy(net, X_val, dataset.y_val, transform) if X_val is not None else None,
        "test_accuracy": (accuracy(net, transformed(net, dataset.X_test), dataset.y_test, transform)
                          if dataset.X_test is not None else None),
        "epochs": trainer.epoch,
        "best_epoch": trainer.best_epoch,
        "stop_reason": trainer.stop_reason,
        "seconds": round(seconds, 3),
        "data": settings.data,
        "n_train": int(len(dataset.y_train)),
        "hidden_size": settings.hidden_size,
        "dtype": settings.dtype,
        "preprocess": settings.preprocess,
    }
    if error is not None:
        metrics["error"] = str(error)
    net.save(out / "model.npz")
    trainer.history.write_csv(out / "history.csv")
    write_json(out / "metrics.json", metrics)
    if plots:
        from .plots import plot_run

        plot_run(out, net=net, history=trainer.history, dataset=dataset, transform=transform)
    if error is not None:
        raise error
    return metrics


def evaluate_model(model_path, spec, seed=None):
    """Accuracy of a saved model on every split of a data set, split as in its training run
    (seed and validation fraction from the model) unless ``seed`` is given."""
    from . import data as data_mod
    from .net import TwoLayerNet

    net = TwoLayerNet.load(model_path)
    trained = net.meta.get("settings") or {}
    if seed is None:
        seed = (trained.get("train") or {}).get("seed") or 0
    dataset = data_mod.load(spec, seed=seed, val_fraction=trained.get("val_fraction", 0.1))
    if dataset.n_features != net.input_size:
        raise InputError(f"{spec}: data has {dataset.n_features} features but the model {model_path} "
                         f"expects {net.input_size}")
    result = {"model": str(model_path), "data": spec}
    for split in ("train", "val", "test"):
        X, y = getattr(dataset, f"X_{split}"), getattr(dataset, f"y_{split}")
        if X is None:
            continue
        if y.max(initial=0) >= net.output_size:
            raise InputError(f"{spec}: {split} labels reach {y.max()} but the model has {net.output_size} classes")
        result[f"{split}_accuracy"] = accuracy(net, X, y, net.transform)
    return result
