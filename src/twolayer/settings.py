"""Every setting of a run, validated in one place: one rules table, frozen dataclasses.

``TrainConfig`` decides how the loop trains; ``RunSettings`` adds the data, the model's shape and
the numerics. Both are frozen: a changed copy is made with ``dataclasses.replace``, which checks
the new values against the same table. An error names the setting; the command line renames it
to the option the user typed (``SettingError.name``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from .checks import check_fields, is_dict
from .errors import InputError, InputTypeError
from .optim import OPTIMIZERS
from .schedules import SCHEDULES

SEED_MAX = 2**32 - 1
SAMPLERS = ("tpe", "random")
PRUNERS = (
    "median",
    "hyperband",
    "none",
)  # NumPy's seeds are 32-bit; every seed the tool takes is in 0..SEED_MAX


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v):
    return (
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool)
        and math.isfinite(v)
    )


def _int_in(lo, hi=None, none=False):
    return lambda v: (none and v is None) or (_is_int(v) and v >= lo and (hi is None or v <= hi))


# The one table of valid settings: name -> (check, words for the error message).
RULES = {
    # the loop
    "epochs": (_int_in(1, 10**6, none=True), "an integer in 1..1,000,000 (or None: auto)"),
    "batch_size": (_int_in(1, 10**7), "an integer in 1..10,000,000"),
    "learning_rate": (lambda v: _is_real(v) and v > 0, "a finite number > 0"),
    "reg": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "optimizer": (lambda v: v in OPTIMIZERS, "one of " + ", ".join(OPTIMIZERS)),
    "momentum": (lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "schedule": (lambda v: v in SCHEDULES, "one of " + ", ".join(SCHEDULES)),
    "lr_decay": (lambda v: _is_real(v) and 0 < v <= 1, "a number in (0, 1]"),
    "warmup_epochs": (_int_in(0, 10**6), "an integer in 0..1,000,000"),
    "patience": (_int_in(1, 10**6, none=True), "an integer in 1..1,000,000 or None"),
    "tol": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "sampling": (lambda v: v in ("shuffle", "replacement"), "'shuffle' or 'replacement'"),
    "steps_per_epoch": (_int_in(1, 10**9, none=True), "a positive integer or None"),
    "max_steps": (_int_in(0, 10**12, none=True), "an integer >= 0 or None"),
    "seed": (_int_in(0, SEED_MAX, none=True), f"an integer in 0..{SEED_MAX} or None"),
    "augment": (lambda v: v in ("auto", "none", "shift"), "'auto', 'none' or 'shift'"),
    # the run
    "data": (
        lambda v: isinstance(v, str) and v.strip() != "",
        "a data SPEC such as digits or npz:FILE",
    ),
    "hidden_size": (_int_in(1, 10**9), "an integer in 1..1,000,000,000"),
    "dtype": (lambda v: v in ("float32", "float64"), "float32 or float64"),
    "preprocess": (
        lambda v: v in ("auto", "none", "scale", "center", "standardize"),
        "one of auto, none, scale, center, standardize",
    ),
    "val_fraction": (lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)"),
    "std": (
        lambda v: v is None or (_is_real(v) and v >= 0),
        "a finite number >= 0 or None (He initialisation)",
    ),
    # the other commands
    "trials": (_int_in(1, 10**6), "an integer in 1..1,000,000"),
    "n_jobs": (_int_in(1, 1024), "an integer in 1..1024"),
    "heartbeat": (_int_in(1, 86_400), "a whole number of seconds in 1..86,400"),
    "timeout": (
        lambda v: v is None or (_is_real(v) and 0 < v <= 10**8),
        "a number of seconds > 0 (at most 1e8)",
    ),
    "sampler": (lambda v: v in SAMPLERS, "one of " + ", ".join(SAMPLERS)),
    "pruner": (lambda v: v in PRUNERS, "one of " + ", ".join(PRUNERS)),
    "study_name": (
        lambda v: isinstance(v, str) and 0 < len(v.strip()) and len(v) <= 256,
        "a non-empty name of at most 256 characters",
    ),
    "threshold": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "diagram_rows": (_int_in(1, 10_000), "an integer in 1..10,000"),
}
FLAGS = {
    "learning_rate": "--lr",
    "hidden_size": "--hidden",
    "warmup_epochs": "--warmup",
    "diagram_rows": "--batch",
}


def flag(name):
    """How the command line spells a setting: --lr for learning_rate, --n-jobs for n_jobs."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


RUN_FIELDS = ("data", "hidden_size", "dtype", "preprocess", "val_fraction", "std")
TRAIN_FIELDS = tuple(k for k in RULES if k not in RUN_FIELDS)


def check_settings_dict(d, where):
    """Settings read back from a file (config.json, a model's meta), checked field by field against
    RULES before any is used: one line naming the file and the field."""
    check_fields(
        d,
        {**{k: RULES[k] for k in RUN_FIELDS}, "train": (is_dict, "an object of training settings")},
        where,
    )
    check_fields(d.get("train", {}), {k: RULES[k] for k in TRAIN_FIELDS}, f"{where}: train")
    return d


class SettingError(InputError):
    """A setting outside its rule; ``name`` is the setting, for callers that spell it differently."""

    def __init__(self, name, value, words):
        self.name, self.value, self.words = name, value, words
        super().__init__(self.message(name))

    def message(self, spelled):
        return f"{spelled} must be {self.words}, got {self.value!r}"


class SettingTypeError(SettingError, InputTypeError):
    pass


def check_setting(name, value, spelled=None):
    """``value`` if the table allows it for ``name``; else a SettingError naming it as the caller
    spelled it (``spelled``, e.g. 'num_iters' for max_steps in the classic API)."""
    ok, words = RULES[name]
    if not ok(value):
        numeric = "number" in words or "integer" in words
        wrong_type = (
            numeric
            and value is not None
            and (
                isinstance(value, (bool, str))
                or not isinstance(value, (int, float, np.integer, np.floating))
            )
        )
        error = (SettingTypeError if wrong_type else SettingError)(name, value, words)
        if spelled is not None:
            error.args = (error.message(spelled),)
        raise error
    return value


def _check_all(obj):
    for f in fields(obj):
        if f.name in RULES:
            check_setting(f.name, getattr(obj, f.name))


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
    warmup_epochs: int = 0
    patience: int | None = None
    tol: float = 0.0  # with patience: an epoch counts as better only when it beats the best score by more than tol
    sampling: str = "shuffle"
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    seed: int | None = 0
    augment: str = (
        "auto"  # shift: random 1-pixel shifts of image rows, per batch; auto: shift for images
    )

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


@dataclass(frozen=True)
class RunSettings:
    """What a run needs beyond the loop's TrainConfig: data, model shape, numerics."""

    data: str = "digits"
    hidden_size: int = 512
    dtype: str = "float32"
    preprocess: str = "auto"  # auto: standardize; scale for image sets
    val_fraction: float = 0.1
    std: float | None = None  # None: He initialisation
    train: TrainConfig = field(default_factory=TrainConfig)

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
        d["train"] = TrainConfig.from_dict(train)
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
