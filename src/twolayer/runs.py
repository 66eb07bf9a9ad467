"""The run layer: the one place that puts model, data and preprocessing together, and the run
directory that nothing can corrupt.

RUN_DIR/config.json    every setting and the data's fingerprint, written first so that an interrupted run can resume
RUN_DIR/checkpoint.npz parameters, optimizer, schedule, random state, history (atomic; after the first
                       and the last epoch and at most every CHECKPOINT_SECONDS between)
RUN_DIR/model.npz      the trained model with its preprocessing and class names
RUN_DIR/history.csv    per epoch: loss, train and validation accuracy, learning rate
RUN_DIR/*.png          the pictures (see plots.py)
RUN_DIR/metrics.json   accuracies, epochs, seconds, settings — written last: it marks a finished run

Guarantees: one writer at a time (``run_lock``, an flock the kernel releases when its process
dies, so a dead process's lock is taken over); ``--resume`` continues the same run or refuses;
every file is written atomically (io.py); every stop (Ctrl-C, SIGTERM, SIGHUP) leaves a finished
or a resumable folder.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from io import StringIO
from pathlib import Path

import numpy as np

from . import data as data_mod
from .checks import check_fields, check_model_size, check_X, is_int, is_real, is_str, optional
from .data.augment import random_shift
from .data.preprocess import Preprocessor
from .errors import DivergedError, InputError, Setting
from .io import (
    os_error,
    printable,
    read_json,
    remove_stale_temps,
    save_npy,
    stdout_write,
    write_json,
    write_text,
)
from .net import TwoLayerNet
from .plots import FIGURES, plot_run
from .settings import RunSettings, TrainConfig, check_setting, check_settings_dict
from .train import History, Trainer, accuracy

CHECKPOINT_SECONDS = 0.5  # a kill loses at most this much training; each write costs an fsync
RUN_FILES = ("config.json", "checkpoint.npz", "model.npz", "metrics.json", "history.csv")
LOCK_FILE = ".twolayer.lock"

__all__ = [
    "RunSettings",
    "TrainConfig",
    "build",
    "run_training",
    "evaluate_model",
    "predict_file",
    "load_model_data",
    "run_lock",
    "stop_signals",
]


def default_run_dir():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S-%f")


# -- one writer at a time ------------------------------------------------------------------
@contextlib.contextmanager
def run_lock(folder, command, shared=False):
    """Hold FOLDER's lock while writing into it: exclusive for train and report, shared for the
    tune workers of one study. A second writer is refused at once, naming the holder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except FileExistsError:
        raise InputError(f"{folder}: exists and is not a directory") from None
    except OSError as e:
        raise os_error(folder, e, "cannot write to the output directory") from None
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise InputError(
                f"{folder}: in use by {holder}; wait for it to finish or stop it"
            ) from None
        who = f"process {os.getpid()} on {socket.gethostname()}"
        note = (
            f"tune workers ({who}, ...)"
            if shared
            else f"{who} (twolayer {command}, since {datetime.now().strftime('%H:%M:%S')})"
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing releases the flock


# -- signals: SIGTERM and SIGHUP stop a run the way Ctrl-C does ------------------------------
class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal; ``signum`` gives the exit status 128 + signum."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def handling_signals(handler, signals):
    """``handler`` for ``signals`` while inside, the previous handlers restored after; outside the
    main thread, where Python cannot set handlers, signals are left alone."""
    previous = {}
    for sig in signals:
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_signals():
    """While inside, SIGTERM and SIGHUP raise Stopped (a KeyboardInterrupt) like Ctrl-C does, so that
    the loop keeps the best weights and every write in progress is rolled back."""

    def handler(signum, frame):
        raise Stopped(signum)

    return handling_signals(handler, (signal.SIGTERM, signal.SIGHUP))


# -- model + data + preprocessing ------------------------------------------------------------
def build(settings, dataset):
    """The net for ``settings``, with preprocessing fitted on the training split."""
    # before fitting or allocating anything, in the command line's words (--hidden)
    check_model_size(
        dataset.n_features,
        settings.hidden_size,
        dataset.n_classes,
        settings.dtype,
        names=("input features", "hidden", "classes"),
    )
    pre = Preprocessor(settings.preprocess, pixel_max=dataset.pixel_max).fit(dataset.X_train)
    rng = np.random.default_rng(settings.train.seed)
    net = TwoLayerNet(
        dataset.n_features,
        settings.hidden_size,
        dataset.n_classes,
        std="he" if settings.std is None else settings.std,
        dtype=settings.dtype,
        seed=rng,
    )
    net.preprocessor = pre
    net.class_names = list(dataset.class_names)
    net.meta = {
        "data": settings.data,
        "image_shape": dataset.image_shape,
        "settings": settings.to_dict(),
    }
    return net


def make_augment(mode, net, dataset):
    """The batch augmentation a run asks for: random pixel shifts for image data ('auto', 'shift')."""
    if mode == "none" or (mode == "auto" and dataset.image_shape is None):
        return None
    if dataset.image_shape is None:
        raise InputError(
            Setting("augment", value="shift"),
            f" needs image data; {dataset.name} rows have no image shape",
        )
    blank = net.transform(np.zeros((1, net.input_size)))[0]
    return random_shift(dataset.image_shape, fill=blank)


def batch_transform(net, X):
    """The per-batch preprocessing for streamed (memory-mapped) data; None for data in memory,
    which ``transformed`` preprocesses once."""
    if isinstance(X, np.memmap) and net.preprocessor is not None:
        return lambda xb: net.preprocessor.transform(xb, net.dtype)
    return None


def transformed(net, X, name="the data"):
    """Preprocessed copy for in-memory data; memory maps stay on disk (transformed per batch).

    Values that overflow the net's dtype after preprocessing are the data's problem: refused here,
    before training, with the size of the raw values.
    """
    if X is None or isinstance(X, np.memmap):
        return X
    out = net.transform(X)
    if not np.isfinite(out).all():
        peak = f"{float(np.max(np.abs(X))):.0e}".replace("e+", "e")
        mode = net.preprocessor.mode if net.preprocessor is not None else "none"
        raise InputError(
            f"{name}: values up to {peak}: scale them, e.g. ",
            Setting("preprocess", value="standardize"),
            f" (they overflow {net.dtype.name} after preprocessing '{mode}')",
        )
    return out


@dataclass
class Prepared:
    """A net and its data ready for the loop: network inputs, labels and the per-batch steps."""

    net: TwoLayerNet
    dataset: data_mod.Dataset
    X_train: np.ndarray
    X_val: np.ndarray | None
    transform: Callable[[np.ndarray], np.ndarray] | None = None
    augment: Callable[..., object] | None = None

    def fit(self, trainer, **kw):
        d = self.dataset
        return trainer.fit(
            self.X_train,
            d.y_train,
            self.X_val,
            d.y_val,
            transform=self.transform,
            augment=self.augment,
            **kw,
        )

    def accuracy(self, split):
        d = self.dataset
        X = {"train": self.X_train, "val": self.X_val}.get(split)
        where = f"{d.name} ({split} split)"
        if X is None:
            X = transformed(self.net, getattr(d, f"X_{split}"), where)
        return (
            None
            if X is None
            else accuracy(
                self.net, X, getattr(d, f"y_{split}"), self.transform, name=where, check=False
            )
        )


def prepare(settings, dataset, augment=False):
    """Build the net for ``settings`` on ``dataset`` and preprocess its data (the one assembly
    used by training runs and tuning trials)."""
    net = build(settings, dataset)
    aug = make_augment(settings.train.augment, net, dataset) if augment else None
    return Prepared(
        net,
        dataset,
        transformed(net, dataset.X_train, f"{settings.data} (train split)"),
        transformed(net, dataset.X_val, f"{settings.data} (val split)"),
        batch_transform(net, dataset.X_train),
        aug,
    )


def fingerprint(settings, dataset):
    """What identifies a run's data: the spec, the shapes and a hash of the first training rows."""
    rows = np.ascontiguousarray(dataset.X_train[:64])
    h = hashlib.sha256(rows.tobytes())
    h.update(np.ascontiguousarray(dataset.y_train[:64], dtype=np.int64).tobytes())
    return {
        "data": settings.data,
        "n_train": int(len(dataset.y_train)),
        "n_features": int(dataset.n_features),
        "n_classes": int(dataset.n_classes),
        "rows_sha256": h.hexdigest()[:16],
    }


def trained_settings(net, where="model"):
    """The RunSettings a saved model was trained with (defaults for a model without them); the
    fields were checked by TwoLayerNet.load."""
    stored = net.meta.get("settings")
    if not stored:
        return RunSettings(data=net.meta.get("data") or "digits")
    return settings_from(stored, f"{where}: meta: settings")


def settings_from(d, where):
    """RunSettings from a dict read from a file, every field checked first (one line: file and field)."""
    check_settings_dict(d, where)
    try:
        return RunSettings.from_dict(d)
    except (InputError, TypeError) as e:
        raise InputError(f"{where}: damaged run configuration ({e})") from None


def load_model_data(model, spec=None, seed=None, settings=None):
    """(net, dataset, settings): a saved model and its data, loaded and split as its training run
    did (spec, seed and validation fraction from the model) unless ``spec`` or ``seed`` are given."""
    net = model if isinstance(model, TwoLayerNet) else TwoLayerNet.load(model)
    settings = settings or trained_settings(net, model)
    spec = spec or settings.data
    seed = settings.train.seed or 0 if seed is None else check_setting("seed", seed)
    dataset = data_mod.load(spec, seed=seed, val_fraction=settings.val_fraction)
    where = "the model" + ("" if isinstance(model, TwoLayerNet) else f" {model}")
    if dataset.n_features != net.input_size:
        raise InputError(
            f"{spec}: data has {dataset.n_features} features but {where} expects {net.input_size}"
        )
    for split in ("train", "val", "test"):
        y = getattr(dataset, f"y_{split}")
        if y is not None and len(y) and y.max() >= net.output_size:
            raise InputError(
                f"{spec}: {split} labels reach {y.max()} but {where} has {net.output_size} classes"
            )
    return net, dataset, settings


# -- a training run ------------------------------------------------------------------------
# metrics.json as _metrics writes it: every field a reader (report) uses is checked on the way back
METRICS_SCHEMA = {
    **{
        k: (optional(is_real(0, 1)), "a number in [0, 1] or null")
        for k in ("train_accuracy", "val_accuracy", "test_accuracy")
    },
    "final_loss": (optional(is_real()), "a finite number or null"),
    "epochs": (is_int(0), "an integer >= 0"),
    "best_epoch": (optional(is_int(0)), "an integer >= 0 or null"),
    "stop_reason": (is_str, "a string"),
    "seconds": (is_real(lo=0), "a number >= 0"),
    "n_train": (is_int(0), "an integer >= 0"),
    "hidden_size": (is_int(1), "a positive integer"),
    "data": (is_str, "a string"),
    "error": (is_str, "a string"),
    "warning": (is_str, "a string"),
}


def read_metrics(path):
    """A run's metrics.json, checked field by field."""
    return check_fields(read_json(path, "metrics"), METRICS_SCHEMA, path)


def _prepare_dir(out, resume, force):
    """Check what OUT holds against --resume / --force (called with OUT's lock held)."""
    if resume and force:
        raise InputError("--resume and --force contradict each other: pick one")
    if resume:
        if not (out / "config.json").exists():
            raise InputError(
                f"{out}: nothing to resume (no config.json); start a new run without --resume"
            )
        remove_stale_temps(out)
        return
    if any((out / f).exists() for f in RUN_FILES):
        if not force:
            raise InputError(
                f"{out}: already holds a run; use --resume to continue it or --force to overwrite it"
            )
        for f in (
            *RUN_FILES,
            *FIGURES,
            "confusion.json",
            "report.html",
        ):  # nothing of the old run survives
            (out / f).unlink(missing_ok=True)
    remove_stale_temps(out)


def _resumed_settings(out, given):
    """The stored run's settings; a given option that differs from them is refused by name
    (only epochs may change). ``given``: {setting: (spelled, value)} of what the caller set."""
    path = out / "config.json"
    stored = read_json(path, "run configuration")
    settings = settings_from(stored, path)
    flat = settings.flat()
    for name, (spelled, value) in (given or {}).items():
        if name == "epochs" or name not in flat:
            continue
        if value != flat[name]:
            raise InputError(
                f"{spelled} {value} differs from the run in {out} ({flat[name]}); on --resume only "
                "--epochs may change: drop the option, or start a new run with --force"
            )
    if "epochs" in (given or {}):
        settings = settings.with_changes(epochs=given["epochs"][1])
    return settings, stored.get("fingerprint")


def throttled(save, last_epoch, seconds=CHECKPOINT_SECONDS):
    """The checkpoint callback for the loop: saves after the first epoch, the last one (``last_epoch``
    or an early stop) and otherwise only when ``seconds`` have passed since the previous save."""
    saved_at = None

    def checkpoint(trainer):
        nonlocal saved_at
        now = time.monotonic()
        if (
            saved_at is None
            or now - saved_at >= seconds
            or trainer.epoch >= last_epoch
            or trainer.stop_reason is not None
        ):
            save(trainer)
            saved_at = time.monotonic()

    return checkpoint


def run_training(  # noqa: C901  (split by the wiring rebuild, issue 17)
    settings,
    out,
    *,
    resume=False,
    force=False,
    given=None,
    dataset=None,
    on_batch=None,
    on_epoch=None,
    on_start=None,
    plots=True,
):
    """Train per ``settings`` into the run directory ``out``; returns the metrics dict.

    With ``resume``, the stored settings are used; ``given`` names the settings the caller asked
    for ({name: (spelled, value)}), which must agree with them (epochs may change).
    Raises DivergedError after writing what can be kept; an interruption (Ctrl-C, SIGTERM, SIGHUP)
    is absorbed by the loop, which keeps the best weights, and reported as stop_reason 'interrupted'.
    """
    out = Path(out)
    if resume and force:
        raise InputError("--resume and --force contradict each other: pick one")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if resume and not (out / "config.json").exists():
        raise InputError(
            f"{out}: nothing to resume (no config.json); start a new run without --resume"
        )
    with run_lock(out, "train"):
        _prepare_dir(out, resume, force)
        stored_fp = None
        if resume:
            settings, stored_fp = _resumed_settings(out, given)
        if dataset is None:
            dataset = data_mod.load(
                settings.data, seed=settings.train.seed or 0, val_fraction=settings.val_fraction
            )
        fp = fingerprint(settings, dataset)
        if stored_fp is not None and stored_fp != fp:
            raise InputError(
                f"{out}: the run was trained on other data than {settings.data} gives now "
                f"({stored_fp.get('n_train')} rows then, {fp['n_train']} now, or other rows); "
                "resume with the same data or start a new run with --force"
            )
        run = prepare(settings, dataset, augment=True)  # may refuse: before anything is written
        write_json(out / "config.json", {**settings.to_dict(), "fingerprint": fp})
        trainer = Trainer(run.net, settings.train)
        ckpt = out / "checkpoint.npz"
        if resume and ckpt.exists():
            trainer.load_checkpoint(ckpt, fingerprint=fp)
        if on_start is not None:
            on_start(trainer, dataset)
        error = None
        try:
            last_epoch = settings.train.resolve_epochs(len(dataset.y_train))
            run.fit(
                trainer,
                on_batch=on_batch,
                on_epoch=on_epoch,
                checkpoint=throttled(lambda t: t.save_checkpoint(ckpt, fingerprint=fp), last_epoch),
            )
        except DivergedError as e:
            error = e
        except (
            InputError
        ):  # data that cannot be trained on as it is (values that overflow): no run left behind
            if not resume:
                for name in ("config.json", "checkpoint.npz"):
                    (out / name).unlink(missing_ok=True)
            raise
        if error is not None and trainer.best is None:
            write_json(out / "metrics.json", {"stop_reason": "diverged", "error": str(error)})
            raise error
        metrics = _metrics(settings, run, trainer)
        if error is not None:
            metrics["error"] = str(error)
        if trainer.interrupt is not None:
            metrics["signal"] = (
                str(trainer.interrupt) if isinstance(trainer.interrupt, Stopped) else "SIGINT"
            )
        # files first, metrics.json last: a folder with metrics.json is a finished run, pictures and all
        run.net.save(out / "model.npz")
        trainer.history.write_csv(out / "history.csv")
        if plots:
            plot_run(
                out, net=run.net, history=trainer.history, dataset=dataset, transform=run.transform
            )
        write_json(out / "metrics.json", metrics)
    if error is not None:
        raise error
    return metrics


def _metrics(settings, run, trainer):
    metrics = {
        **{
            k: v
            for k, v in settings.train.to_dict().items()
            if k not in ("steps_per_epoch", "max_steps")
        },
        "train_accuracy": run.accuracy("train"),
        "val_accuracy": run.accuracy("val"),
        "test_accuracy": run.accuracy("test"),
        "final_loss": trainer.history["loss"][-1] if trainer.history["loss"] else None,
        "epochs": trainer.epoch,
        "best_epoch": trainer.best_epoch,
        "stop_reason": trainer.stop_reason,
        "seconds": round(
            sum(trainer.history["seconds"]), 3
        ),  # every epoch's wall time, across resumes
        "data": settings.data,
        "n_train": int(len(run.dataset.y_train)),
        "hidden_size": settings.hidden_size,
        "dtype": settings.dtype,
        "preprocess": settings.preprocess,
    }
    warning = learned_nothing(run, metrics)
    if warning:
        metrics["warning"] = warning
    return metrics


def learned_nothing(run, metrics):
    """A warning when the model does no better than always answering the most common class (on the
    validation split, else the training split): the run 'completed' but learned nothing."""
    split = "val" if metrics["val_accuracy"] is not None else "train"
    y = getattr(run.dataset, f"y_{split}")
    acc = metrics[f"{split}_accuracy"]
    if acc is None or y is None or len(y) == 0:
        return None
    baseline = np.bincount(np.asarray(y, dtype=np.intp)).max() / len(y)
    if run.net.output_size < 2 or acc > baseline + 0.01:
        return None
    name = "validation" if split == "val" else "training"
    return (
        f"the model learned nothing: {name} accuracy {100 * acc:.1f}% is no better than always answering the "
        f"most common class ({100 * baseline:.1f}%); check the labels and features, or try another --lr or "
        "--preprocess standardize"
    )


def redraw(run_dir):
    """Redraw the pictures of a finished run from its files (model.npz, config.json, history.csv)."""
    run_dir = Path(run_dir)
    settings = None
    if (run_dir / "config.json").exists():
        settings = settings_from(
            read_json(run_dir / "config.json", "run configuration"), run_dir / "config.json"
        )
    net, dataset, _ = load_model_data(run_dir / "model.npz", settings=settings)
    history = (
        History.read_csv(run_dir / "history.csv")
        if (run_dir / "history.csv").exists()
        else History()
    )
    return plot_run(
        run_dir,
        net=net,
        history=history,
        dataset=dataset,
        transform=batch_transform(net, dataset.X_train),
    )


# -- a saved model at work -------------------------------------------------------------------
def evaluate_model(model_path, spec=None, seed=None):
    """Accuracy of a saved model on every split of a data set — by default its own data set, split
    as in its training run (seed and validation fraction from the model)."""
    net, dataset, settings = load_model_data(model_path, spec, seed)
    result = {"model": str(model_path), "data": spec or settings.data}
    for split in ("train", "val", "test"):
        X, y = getattr(dataset, f"X_{split}"), getattr(dataset, f"y_{split}")
        if X is not None:
            result[f"{split}_accuracy"] = accuracy(
                net, X, y, net.transform, name=f"{spec or settings.data} ({split} split)"
            )
    return result


def predict_file(model, input, note=None):
    """(net, class indices, probabilities) for every row of an .npy or .csv file, preprocessed as in
    training; ``note`` hears about a dropped label column."""
    net = TwoLayerNet.load(model)
    X = check_X(data_mod.read_rows(input, note=note), name=str(input))
    if X.shape[1] != net.input_size:
        raise InputError(
            f"{input}: rows have {X.shape[1]} features but the model {model} expects {net.input_size}"
        )
    proba = net.predict_proba(X, name=str(input))  # raw rows: the model applies its preprocessing
    return net, proba.argmax(axis=1), proba


def class_names(net):
    """The model's class names (the indices as strings for a model without names)."""
    return net.class_names or [str(i) for i in range(net.output_size)]


def class_labels(net, idx):
    """Class names of output indices."""
    names = class_names(net)
    return [names[i] for i in idx]


def write_predictions(net, idx, proba=None, out=None):
    """Class names, one per line, to stdout or OUT; with ``proba``, CSV rows 'label,p1,…,pC' under
    the header 'label,<class names>'. An OUT ending in .npy holds the class names as a unicode
    array, or with ``proba`` the N×C probabilities in class-name order."""
    labels = class_labels(net, idx)
    out = None if out is None else Path(out)
    if out is not None and out.suffix == ".npy":  # an array keeps the names as they are
        return save_npy(
            out, np.asarray(proba) if proba is not None else np.array(labels, dtype=str)
        )
    shown = [
        printable(n) for n in class_names(net)
    ]  # text: one line per row, whatever the names hold
    labels = [shown[i] for i in idx]
    if proba is None:
        text = "\n".join(labels) + "\n"
    else:
        buf = StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["label", *shown])
        writer.writerows([label, *(f"{p:.6g}" for p in row)] for label, row in zip(labels, proba))
        text = buf.getvalue()
    return stdout_write(text) if out is None else write_text(out, text)


def exit_status(error):
    """128 + the signal number for a stop by signal (130 for Ctrl-C)."""
    return 128 + getattr(error, "signum", signal.SIGINT)
