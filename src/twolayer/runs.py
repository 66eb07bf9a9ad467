"""The run layer: the one place that puts model, data and preprocessing together, and the run
directory that nothing can corrupt.

RUN_DIR/config.json    every setting and the data's fingerprint, written first so that an interrupted run can resume
RUN_DIR/checkpoint.npz parameters, optimizer, schedule, random state, history (atomic; after the first
                       and the last epoch and at most every CHECKPOINT_SECONDS between)
RUN_DIR/model.npz      the trained model with its preprocessing and class names
RUN_DIR/history.csv    per epoch: loss, train and validation accuracy, learning rate
RUN_DIR/*.png          the pictures (see plots.py)
RUN_DIR/metrics.json   accuracies, epochs, seconds, settings — written last: it marks a finished run

Guarantees: one writer at a time (``locks.run_lock``, a lock the kernel releases when its process
dies, so a dead process's lock is taken over); ``--resume`` continues the same run or refuses;
every file is written atomically (io.py); every stop (Ctrl-C, SIGTERM, SIGHUP) leaves a finished
or a resumable folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from . import data as data_mod
from .checks import check_fields, check_model_size, is_dict, is_int, is_real, is_str, optional
from .data.augment import random_shift
from .data.dataset import split_validation
from .data.preprocess import Preprocessor
from .defaults import balanced_accuracy, chosen, class_weights, resolve_run
from .errors import DivergedError, InputError, Setting
from .io import exists, is_dir, read_json, remove_stale_temps, write_json
from .locks import Stopped, run_lock
from .modelfile import FORMAT_VERSION
from .net import TwoLayerNet
from .plots import FIGURES, plot_run
from .plots import predict as predict_rows
from .settings import RunSettings, TrainConfig, check_setting, check_settings_dict
from .threads import limited
from .train import History, Trainer, accuracy

CHECKPOINT_SECONDS = 0.5  # a kill loses at most this much training; each write costs an fsync
RUN_FILES = ("config.json", "checkpoint.npz", "model.npz", "metrics.json", "history.csv")

__all__ = [
    "RunSettings",
    "TrainConfig",
    "Prepared",
    "build",
    "prepare",
    "load_run_data",
    "load_model_data",
    "run_training",
    "redraw",
    "read_metrics",
    "evaluate_model",
    "default_run_dir",
]


def default_run_dir():
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S-%f")


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
    if resolved_augment(mode, dataset.image_shape) == "none":
        return None
    if dataset.image_shape is None:
        raise InputError(
            Setting("augment", value="shift"),
            f" needs image data; {dataset.name} rows have no image shape",
        )
    blank = net.transform(np.zeros((1, net.input_size)))[0]
    return random_shift(dataset.image_shape, fill=blank)


def resolved_augment(mode, image_shape):
    """What an augment setting does on data of this image shape (None: not images): 'none' or
    'shift' (auto shifts images, leaves other rows alone)."""
    return "none" if mode == "none" or (mode == "auto" and image_shape is None) else "shift"


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
        weights = None
        if trainer.config.class_weight == "balanced":
            weights = class_weights(d.y_train, d.n_classes)[d.y_train]
        X_val, y_val = self.X_val, d.y_val
        return trainer.fit(
            self.X_train,
            d.y_train,
            X_val,
            y_val,
            transform=self.transform,
            augment=self.augment,
            sample_weight=weights,
            **kw,
        )

    def predict(self, split):
        """Class indices predicted for a split's rows (None when the split is absent)."""
        X = {"train": self.X_train, "val": self.X_val}[split]
        if X is None:
            return None
        return predict_rows(self.net, X, self.transform or (lambda xb: xb))  # X is preprocessed

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


def load_run_data(settings, spec=None, seed=None):
    """The data set of a run, split as its settings say (the seed rule: the loop's seed, 0 for
    None; the validation fraction). ``spec`` or ``seed``: other data, or another split of it."""
    seed = (settings.train.seed or 0) if seed is None else seed
    dataset = data_mod.load(spec or settings.data, seed=seed, val_fraction=settings.val_fraction)
    if settings.test_fraction and spec in (None, settings.data):  # the run's own data only
        dataset = _carve_test(dataset, settings, seed)
    return dataset


def _carve_test(dataset, settings, seed):
    """test_fraction of the training rows (after the validation split) as a test split, seeded,
    stratified; data that has a test split of its own is refused (two would be ambiguous)."""
    if dataset.X_test is not None:
        raise InputError(
            f"{settings.data}: has a test split of its own; --test-fraction is for data without one"
        )
    X, y, X_test, y_test = split_validation(
        dataset.X_train, dataset.y_train, settings.test_fraction, seed + 1, name=settings.data
    )
    return dataclasses.replace(dataset, X_train=X, y_train=y, X_test=X_test, y_test=y_test)


def load_model_data(model, spec=None, seed=None, settings=None):
    """(net, dataset, settings): a saved model and its data, loaded and split as its training run
    did (spec, seed and validation fraction from the model) unless ``spec`` or ``seed`` are given."""
    net = model if isinstance(model, TwoLayerNet) else TwoLayerNet.load(model)
    settings = settings or trained_settings(net, model)
    dataset = load_run_data(settings, spec, seed)
    where = "the model" + ("" if isinstance(model, TwoLayerNet) else f" {model}")
    _check_fits(net, dataset, spec or settings.data, where)
    return net, dataset, settings


def _check_fits(net, dataset, spec, where):
    """The data's features and labels are what the model was built for."""
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
    "auto": (is_dict, "an object of settings"),
    **{
        k: (is_str, "a string")
        for k in ("preprocess_resolved", "augment_resolved", "twolayer_version", "finished")
    },
}


def read_metrics(path):
    """A run's metrics.json, checked field by field."""
    return check_fields(read_json(path, "metrics"), METRICS_SCHEMA, path)


def _check_request(out, resume, force):
    """What ``--resume`` / ``--force`` ask of OUT, checked before the lock creates the folder."""
    if resume and force:
        raise InputError("--resume and --force contradict each other: pick one")
    if exists(out) and not is_dir(out):
        raise InputError(f"{out}: exists and is not a directory")
    if resume and not exists(out / "config.json"):
        raise InputError(
            f"{out}: nothing to resume (no config.json); start a new run without --resume"
        )


def _clear_dir(out, resume, force):
    """Make OUT ready for a new run (nothing of an old one survives --force); a resumed run keeps
    its files. Called with OUT's lock held."""
    if not resume and any(exists(out / f) for f in RUN_FILES):
        if not force:
            raise InputError(
                f"{out}: already holds a run; use --resume to continue it or --force to overwrite it"
            )
        for f in (*RUN_FILES, *FIGURES, "confusion.json", "report.html"):
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


def _check_same_data(out, settings, stored, now):
    """A resumed run trains on the data it started on (its fingerprint), or refuses."""
    if stored is not None and stored != now:
        raise InputError(
            f"{out}: the run was trained on other data than {settings.data} gives now "
            f"({stored.get('n_train')} rows then, {now['n_train']} now, or other rows); "
            "resume with the same data or start a new run with --force"
        )


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


@dataclass
class OpenRun:
    """A run directory opened for training: its settings, the prepared net and data, the loop."""

    out: Path
    settings: RunSettings
    run: Prepared
    trainer: Trainer
    fingerprint: dict
    resume: bool
    auto: dict = dataclasses.field(default_factory=dict)  # {setting: value} the rules decided

    @property
    def checkpoint(self):
        return self.out / "checkpoint.npz"


def run_training(
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
    threads=None,
    note=None,
):
    """Train per ``settings`` into the run directory ``out``; returns the metrics dict.

    ``threads``: BLAS threads (None: chosen by the loop, threads.py), for training and for the
    scoring and pictures after it; ``note`` is told the choice and its reason.

    With ``resume``, the stored settings are used; ``given`` names the settings the caller asked
    for ({name: (spelled, value)}), which must agree with them (epochs may change).
    Raises DivergedError after writing what can be kept; an interruption (Ctrl-C, SIGTERM, SIGHUP)
    is absorbed by the loop, which keeps the best weights, and reported as stop_reason 'interrupted'.
    """
    out = Path(out)
    check_setting("threads", threads)
    _check_request(out, resume, force)
    with run_lock(out, "train"):
        opened = _open_run(out, settings, resume, force, given, dataset, threads=threads, note=note)
        if on_start is not None:
            on_start(opened.trainer, opened.run.dataset)
        error = _fit(opened, on_batch, on_epoch)
        with limited(opened.trainer.blas and opened.trainer.blas.threads):
            metrics = _write_run(opened, error, plots)
    if error is not None:
        raise error
    return metrics


def _open_run(out, settings, resume, force, given, dataset, threads=None, note=None):
    """Check OUT against the request, settle the settings and the data, prepare the net, write
    config.json and, on --resume, restore the checkpoint. Everything that may refuse comes first."""
    _clear_dir(out, resume, force)
    stored_fp, auto = None, {}
    if resume:
        settings, stored_fp = _resumed_settings(out, given)
        auto = read_json(out / "config.json", "run configuration").get("auto") or {}
    if dataset is None:
        dataset = load_run_data(settings)
    resolved = resolve_run(settings, dataset)  # config.json records what the rules decided
    settings, auto = resolved, {**_names(auto), **chosen(settings, resolved)}
    flat = settings.flat()
    auto = {k: flat[k] for k in auto if k in flat and k not in (given or {})}
    fp = fingerprint(settings, dataset)
    _check_same_data(out, settings, stored_fp, fp)
    run = prepare(settings, dataset, augment=True)  # may refuse: before anything is written
    # the test split is scored only after training: values that overflow are refused now
    transformed(run.net, dataset.X_test, f"{settings.data} (test split)")
    write_json(out / "config.json", {**settings.to_dict(), "fingerprint": fp, "auto": auto})
    trainer = Trainer(run.net, settings.train, threads=threads, note=note)
    opened = OpenRun(out, settings, run, trainer, fp, resume, auto)
    if resume and exists(opened.checkpoint):
        opened.trainer.load_checkpoint(opened.checkpoint, fingerprint=fp)
    return opened


def _names(auto):
    """The setting names of a stored config.json's "auto" record (a dict; anything else: none)."""
    return {k: None for k in auto if isinstance(k, str)} if isinstance(auto, dict) else {}


def _fit(opened, on_batch, on_epoch):
    """Train, checkpointing as it goes; returns the DivergedError of a run that diverged, else None."""
    trainer, ckpt, fp = opened.trainer, opened.checkpoint, opened.fingerprint
    last_epoch = opened.settings.train.resolve_epochs(len(opened.run.dataset.y_train))
    try:
        opened.run.fit(
            trainer,
            on_batch=on_batch,
            on_epoch=on_epoch,
            checkpoint=throttled(lambda t: t.save_checkpoint(ckpt, fingerprint=fp), last_epoch),
        )
    except DivergedError as e:
        return e
    except InputError:  # data that cannot be trained on as it is (values that overflow)
        if not opened.resume:  # no run left behind
            for name in ("config.json", "checkpoint.npz"):
                (opened.out / name).unlink(missing_ok=True)
        raise
    return None


def _write_run(opened, error, plots):
    """The run's files, metrics.json last: a folder with metrics.json is a finished run, pictures
    and all. A run that diverged before any finite epoch leaves only its metrics and the error."""
    out, run, trainer = opened.out, opened.run, opened.trainer
    if error is not None and trainer.best is None:
        write_json(out / "metrics.json", {"stop_reason": "diverged", "error": str(error)})
        raise error
    metrics = _metrics(opened.settings, run, trainer)
    metrics["auto"] = opened.auto
    if error is not None:
        metrics["error"] = str(error)
    if trainer.interrupt is not None:
        stopped = isinstance(trainer.interrupt, Stopped)
        metrics["signal"] = str(trainer.interrupt) if stopped else "SIGINT"
    run.net.save(out / "model.npz")
    trainer.history.write_csv(out / "history.csv")
    if plots:
        plot_run(
            out, net=run.net, history=trainer.history, dataset=run.dataset, transform=run.transform
        )
    write_json(out / "metrics.json", metrics)
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
        # what the auto settings chose, and who trained when: the report shows them
        "preprocess_resolved": pre.mode if (pre := run.net.preprocessor) is not None else "none",
        "augment_resolved": resolved_augment(settings.train.augment, run.dataset.image_shape),
        "twolayer_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    warnings = [w for w in (learned_nothing(run, metrics), unconverged(settings, trainer)) if w]
    if warnings:
        metrics["warning"] = "; ".join(warnings)
    return metrics


def unconverged(settings, trainer):
    """A warning when the epoch limit ended a run that was still improving: with --patience, the
    validation accuracy gained within the last patience epochs; without, the training loss fell
    by more than 1% over the last tenth of the epochs (at least 2). A cosine schedule ends by
    design: its rate has reached its floor (the image recipe's)."""
    h, c = trainer.history, settings.train
    if trainer.stop_reason != "completed" or trainer.epoch < 2 or c.schedule == "cosine":
        return None
    on_val = getattr(c, "monitor", "val") == "val" and h["val_acc"] and h["val_acc"][-1] is not None
    if c.patience is not None and on_val:
        w = min(c.patience, trainer.epoch - 1)
        scores = h["val_acc"]
        improving = max(scores[-w:]) > max(scores[:-w]) + c.tol
        what = "validation accuracy"
    else:
        w = max(2, trainer.epoch // 10)
        if w >= trainer.epoch:
            return None
        loss = h["loss"]
        improving = min(loss[-w:]) < min(loss[:-w]) * 0.99
        what = "training loss"
    if not improving:
        return None
    return (
        f"training ended at its epoch limit ({trainer.epoch}) while the {what} was still "
        "improving; raise --epochs to train to convergence"
    )


def learned_nothing(run, metrics):
    """A warning when the model does no better than chance on balanced accuracy (the mean recall
    of the classes; chance is 1/C, whatever the imbalance), on the validation split, else the
    training split: the run 'completed' but learned nothing. The advice is what applies."""
    split = "val" if metrics["val_accuracy"] is not None else "train"
    y = getattr(run.dataset, f"y_{split}")
    if metrics[f"{split}_accuracy"] is None or y is None or len(y) == 0:
        return None
    y = np.asarray(y, dtype=np.intp)
    present = np.unique(y)
    if run.net.output_size < 2 or len(present) < 2:
        return None
    balanced = balanced_accuracy(y, run.predict(split))
    chance = 1 / len(present)
    if balanced > chance + 0.01:
        return None
    counts = np.bincount(y)[present]
    advice = ["another --lr"]
    if metrics.get("preprocess_resolved") != "standardize":
        advice.append("--preprocess standardize")
    if counts.max() >= 3 * counts.min() and metrics.get("class_weight") != "balanced":
        advice.append("--class-weight balanced (the classes are imbalanced)")
    name = "validation" if split == "val" else "training"
    return (
        f"the model learned nothing: {name} balanced accuracy {100 * balanced:.1f}% is no better "
        f"than chance ({100 * chance:.1f}%, as always answering one class); check the labels and "
        f"features, or try {' or '.join(advice)}"
    )


def redraw(run_dir):
    """Redraw the pictures of a finished run from its files (model.npz, config.json, history.csv)."""
    run_dir = Path(run_dir)
    settings = None
    if exists(run_dir / "config.json"):
        settings = settings_from(
            read_json(run_dir / "config.json", "run configuration"), run_dir / "config.json"
        )
    net, dataset, _ = load_model_data(run_dir / "model.npz", settings=settings)
    history = (
        History.read_csv(run_dir / "history.csv") if exists(run_dir / "history.csv") else History()
    )
    return plot_run(
        run_dir,
        net=net,
        history=history,
        dataset=dataset,
        transform=batch_transform(net, dataset.X_train),
    )


# -- a saved model at work -------------------------------------------------------------------
def model_info(model_path):
    """What a saved model is, without its data: shapes, classes, preprocessing, data spec,
    training settings and format version (twolayer info)."""
    net = TwoLayerNet.load(model_path)
    settings = trained_settings(net, model_path)
    pre = net.preprocessor
    return {
        "model": str(model_path),
        "format_version": FORMAT_VERSION,
        "dtype": net.dtype.name,
        "input_size": net.input_size,
        "hidden_size": net.hidden_size,
        "output_size": net.output_size,
        "parameters": int(sum(v.size for v in net.params.values())),
        "shapes": {k: list(v.shape) for k, v in net.params.items()},
        "classes": None if net.class_names is None else list(net.class_names),
        "preprocess": None if pre is None else pre.mode,
        "image_shape": net.meta.get("image_shape"),
        "data": settings.data,
        "settings": settings.to_dict(),
    }


def evaluate_model(model_path, spec=None, seed=None):
    """Accuracy of a saved model on every split of a data set — by default its own data set, split
    as in its training run (seed and validation fraction from the model)."""
    net, dataset, settings = load_model_data(model_path, spec, seed)
    result = {"model": str(model_path), "data": spec or settings.data}
    # a file of rows other than the run's own (a held-out csv:FILE): scored whole, as a test split;
    # the run's own data is split as in training, so that its val accuracy is the run's
    if spec is not None and spec != settings.data and str(spec).startswith("csv:"):
        X = np.concatenate([a for a in (dataset.X_train, dataset.X_val) if a is not None])
        y = np.concatenate([a for a in (dataset.y_train, dataset.y_val) if a is not None])
        result["test_accuracy"] = accuracy(net, X, y, net.transform, name=f"{spec} (all rows)")
        result["rows"] = len(y)
        return result
    for split in ("train", "val", "test"):
        X, y = getattr(dataset, f"X_{split}"), getattr(dataset, f"y_{split}")
        if X is not None:
            result[f"{split}_accuracy"] = accuracy(
                net, X, y, net.transform, name=f"{spec or settings.data} ({split} split)"
            )
    return result
