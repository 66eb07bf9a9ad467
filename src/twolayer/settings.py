"""Every setting of a run, validated in one place: one rules table, frozen dataclasses.

``TrainConfig`` decides how the loop trains; ``RunSettings`` adds the data, the model's shape and
the numerics. Both are frozen: a changed copy is made with ``dataclasses.replace``, which checks
the new values against the same table. An error names the setting as its caller spells
it; only the command line turns the name into a flag (``flag``, ``errors.Setting``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .checks import check_fields, is_dict, is_int, is_number, is_real, one_of, optional
from .errors import InputError, InputTypeError, Setting
from .optim import OPTIMIZERS
from .schedules import SCHEDULES

SEED_MAX = 2**32 - 1  # NumPy's seeds are 32-bit; every seed the tool takes is in 0..SEED_MAX
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
# the preprocessing modes (data.preprocess.Preprocessor's); auto: scale for images, else standardize
PREPROCESS = ("auto", "none", "scale", "center", "standardize")


# The one table of valid settings: name -> (check, words for the error message). The checks are
# checks.py's predicates, the ones the file schemas use; the words are the only ones any caller
# (the API, the loaders, the command line) says about a setting.
RULES = {
    # the loop
    "epochs": (optional(is_int(1, 10**6)), "an integer in 1..1,000,000 (or None: auto)"),
    "batch_size": (is_int(1, 10**7), "an integer in 1..10,000,000"),
    "learning_rate": (is_real(0, closed="neither"), "a finite number > 0"),
    "reg": (is_real(0), "a finite number >= 0"),
    "optimizer": (one_of(*OPTIMIZERS), "one of " + ", ".join(OPTIMIZERS)),
    "momentum": (is_real(0, 1, closed="left"), "a number in [0, 1)"),
    "weight_decay": (is_real(0), "a finite number >= 0"),
    "schedule": (one_of(*SCHEDULES), "one of " + ", ".join(SCHEDULES)),
    "lr_decay": (is_real(0, 1, closed="right"), "a number in (0, 1]"),
    "min_lr_ratio": (is_real(0, 1, closed="left"), "a number in [0, 1)"),
    "warmup_epochs": (is_int(0, 10**6), "an integer in 0..1,000,000"),
    "patience": (optional(is_int(1, 10**6)), "an integer in 1..1,000,000 or None"),
    "tol": (is_real(0), "a finite number >= 0"),
    "clip_grad_norm": (
        optional(is_real(0, closed="neither")),
        "a finite number > 0 or None (no clipping)",
    ),
    "sampling": (one_of("shuffle", "replacement"), "'shuffle' or 'replacement'"),
    "steps_per_epoch": (optional(is_int(1, 10**9)), "a positive integer or None"),
    "max_steps": (optional(is_int(0, 10**12)), "an integer >= 0 or None"),
    "seed": (optional(is_int(0, SEED_MAX)), f"an integer in 0..{SEED_MAX} or None"),
    "augment": (one_of("auto", "none", "shift"), "'auto', 'none' or 'shift'"),
    "class_weight": (one_of("none", "balanced"), "'none' or 'balanced'"),
    "monitor": (one_of("val", "loss"), "'val' or 'loss'"),
    # the run
    "data": (
        lambda v: isinstance(v, str) and v.strip() != "",
        "a data SPEC such as digits or npz:FILE",
    ),
    "hidden_size": (is_int(1, 10**9), "an integer in 1..1,000,000,000"),
    "dtype": (one_of("float32", "float64"), "float32 or float64"),
    "preprocess": (one_of(*PREPROCESS), "one of " + ", ".join(PREPROCESS)),
    "val_fraction": (is_real(0, 1, closed="neither"), "a number in (0, 1)"),
    "test_fraction": (is_real(0, 1, closed="left"), "a number in [0, 1)"),
    "std": (optional(is_real(0)), "a finite number >= 0 or None (He initialisation)"),
    # the network's other sizes (the API's TwoLayerNet; a run takes them from its data)
    "input_size": (is_int(1, 10**9), "an integer in 1..1,000,000,000"),
    "output_size": (is_int(1, 10**9), "an integer in 1..1,000,000,000"),
    # the other commands
    "trials": (is_int(1, 10**6), "an integer in 1..1,000,000"),
    "n_jobs": (is_int(1, 1024), "an integer in 1..1024"),
    "heartbeat": (is_int(1, 86_400), "a whole number of seconds in 1..86,400"),
    "timeout": (
        optional(is_real(0, 10**8, closed="right")),
        "a number of seconds > 0 (at most 1e8)",
    ),
    "sampler": (one_of(*SAMPLERS), "one of " + ", ".join(SAMPLERS)),
    "pruner": (one_of(*PRUNERS), "one of " + ", ".join(PRUNERS)),
    "study_name": (
        lambda v: isinstance(v, str) and 0 < len(v.strip()) and len(v) <= 256,
        "a non-empty name of at most 256 characters",
    ),
    "threshold": (is_real(0), "a finite number >= 0"),
    "diagram_rows": (is_int(1, 10_000), "an integer in 1..10,000"),
    # BLAS threads of training (not a setting of the run: results do not depend on it)
    "threads": (optional(is_int(1, 1024)), "an integer in 1..1024 (or None: auto)"),
}
# settings whose value may be 'auto': decided from the data by twolayer.defaults (resolve_run)
AUTO = (
    "hidden_size",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "schedule",
    "patience",
    "monitor",
)
FLAGS = {
    "learning_rate": "--lr",
    "hidden_size": "--hidden",
    "warmup_epochs": "--warmup",
    "diagram_rows": "--batch",
}


def flag(name):
    """How the command line spells a setting: --lr for learning_rate, --n-jobs for n_jobs."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def check_settings_dict(d, where):
    """Settings read back from a file (config.json, a model's meta), checked field by field against
    RULES before any is used: one line naming the file and the field."""
    check_fields(
        d,
        {**{k: rule(k) for k in RUN_FIELDS}, "train": (is_dict, "an object of training settings")},
        where,
    )
    check_fields(d.get("train", {}), {k: rule(k) for k in TRAIN_FIELDS}, f"{where}: train")
    return d


def is_auto(v) -> bool:
    """Whether a setting's value is 'auto' (not `v == "auto"`: v may be an array)."""
    return isinstance(v, str) and v == "auto"


def rule(name, auto=True):
    """RULES[name], taking 'auto' too when the setting is one of AUTO (and ``auto``)."""
    ok, words = RULES[name]
    if not (auto and name in AUTO):
        return ok, words
    return (lambda v: is_auto(v) or ok(v)), f"{words} or 'auto'"


class SettingError(InputError):
    """A setting outside its rule: ``name`` is the setting (the command line says its flag),
    ``spelled`` the caller's name for it when that differs."""

    def __init__(self, name, value, words, spelled=None):
        self.name, self.value, self.words = name, value, words
        super().__init__(Setting(name, spelled), f" must be {words}, got {value!r}")

    def __reduce__(self):  # pickled (across processes) by its arguments, not by its message
        return type(self), (self.name, self.value, self.words, self.parts[0].spelled)


class SettingTypeError(SettingError, InputTypeError):
    pass


def check_setting(name, value, spelled=None, auto=False):
    """``value`` if the table allows it for ``name``; else a SettingError naming it as the caller
    spelled it (``spelled``, e.g. 'num_iters' for max_steps in the classic API). A value of the
    wrong type (a string or a bool for a number, a float for an integer) is a SettingTypeError,
    a TypeError as well as a ValueError. ``auto``: 'auto' passes too for a setting in AUTO."""
    ok, words = rule(name, auto)
    if not ok(value):
        if value is None:
            wrong_type = False
        elif "integer" in words:
            wrong_type = not is_int()(value)
        else:
            wrong_type = "number" in words and not is_number(value)
        raise (SettingTypeError if wrong_type else SettingError)(name, value, words, spelled)
    return value


def _check_all(obj):
    for f in fields(obj):
        if f.name in RULES:
            check_setting(f.name, getattr(obj, f.name), auto=True)


AUTO_STEPS = 2000
AUTO_EPOCHS = (10, 100)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how the loop trains (the model's shape lives in the net)."""

    epochs: int | None = None  # None: auto, about AUTO_STEPS optimizer steps (see resolve_epochs)
    batch_size: int = 64
    learning_rate: float = 2e-3
    reg: float = 0.0
    optimizer: str = "adamw"
    momentum: float = 0.9
    weight_decay: float = 0.05
    schedule: str = "cosine"
    lr_decay: float = 0.95
    min_lr_ratio: float = 0.0  # the cosine schedule's floor, as a fraction of learning_rate
    warmup_epochs: int = 0
    patience: int | None = None
    tol: float = 0.0  # with patience: an epoch counts as better only when it beats the best score by more than tol
    clip_grad_norm: float | None = None  # the gradients' global L2 norm is scaled down to this
    sampling: str = "shuffle"
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    seed: int | None = 0
    augment: str = (
        "auto"  # shift: random 1-pixel shifts of image rows, per batch; auto: shift for images
    )
    class_weight: str = "none"  # balanced: each class's rows weigh n / (C · n_class) in the loss
    # what patience and the plateau watch: 'val' the validation accuracy (the training loss
    # without validation rows); 'loss' the training loss, the best validation epoch's weights
    # still restored at the end (ties: the later epoch)
    monitor: str = "val"

    def __post_init__(self):
        _check_all(self)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def batch_for(self, n_train):
        """The batch size the loop uses on n_train rows (never more than the set when shuffling)."""
        return min(self.batch_size, n_train) if self.sampling == "shuffle" else self.batch_size

    def steps_for(self, n_train):
        """Optimizer steps per epoch on n_train rows."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        bs = self.batch_for(n_train)
        return math.ceil(n_train / bs) if self.sampling == "shuffle" else max(n_train // bs, 1)

    def resolve_epochs(self, n_train):
        """The epoch count: as set, or (auto) enough epochs for about AUTO_STEPS optimizer
        steps, kept within AUTO_EPOCHS — small sets get more passes, large sets fewer."""
        if self.epochs is not None:
            return self.epochs
        lo, hi = AUTO_EPOCHS
        return int(min(max(math.ceil(AUTO_STEPS / self.steps_for(n_train)), lo), hi))


RUN_AUTO: dict[str, Any] = {
    k: "auto" for k in AUTO if k != "hidden_size"
}  # a run's TrainConfig: 'auto' where a rule applies


@dataclass(frozen=True)
class RunSettings:
    """What a run needs beyond the loop's TrainConfig: data, model shape, numerics."""

    data: str = "digits"
    hidden_size: int | str = "auto"  # auto: decided from the data (twolayer.defaults)
    dtype: str = "float32"
    preprocess: str = "auto"  # auto: standardize; scale for image sets
    val_fraction: float = 0.1
    std: float | None = None  # None: He initialisation
    test_fraction: float = 0.0  # a test split carved from data that has none (0: none)
    # a run's loop: the settings in AUTO decided from the data (twolayer.defaults.resolve_run)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(**RUN_AUTO))

    def __post_init__(self):
        _check_all(self)
        if not isinstance(self.train, TrainConfig):
            raise InputTypeError(f"train must be a TrainConfig, got {type(self.train).__name__}")

    def to_dict(self):
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "train"}
        d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        train = d.get("train", {})
        if not isinstance(train, dict):
            raise InputTypeError(f"train must be an object, got {type(train).__name__}")
        d["train"] = TrainConfig.from_dict({**RUN_AUTO, **train})
        return cls(**d)

    def flat(self):
        """Every setting by name, the loop's included: {'data': …, 'learning_rate': …}."""
        d = self.to_dict()
        return {**{k: v for k, v in d.items() if k != "train"}, **d["train"]}

    def with_changes(self, **changes):
        """A copy with settings changed by name, wherever they live (run or loop)."""
        run_names = {f.name for f in fields(self)} - {"train"}
        train = {k: v for k, v in changes.items() if k not in run_names}
        run = {k: v for k, v in changes.items() if k in run_names}
        unknown = set(train) - {f.name for f in fields(TrainConfig)}
        if unknown:
            raise InputError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **run, train=replace(self.train, **train) if train else self.train)


# the fields of each dataclass: a config.json's settings are checked by these names
RUN_FIELDS = tuple(f.name for f in fields(RunSettings) if f.name != "train")
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
