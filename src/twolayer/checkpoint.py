"""The loop's records and their files: History (history.csv), the best epoch, checkpoint.npz.

A checkpoint holds everything the loop needs to continue exactly where it stopped: the weights,
the optimizer's state, the best epoch, the counters, the history and the random generator's
state. Every field is checked before any of it is used, and a checkpoint of another run (other
settings, shapes or data) is refused with one line.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, NamedTuple

import numpy as np

from .checks import check_fields, is_dict, is_int, is_real, optional
from .errors import InputError
from .io import json_object, meta_array, read_csv_rows, read_npz, save_npz, write_csv
from .settings import TrainConfig


class History(dict):
    """Per-epoch lists: epoch, loss, train_acc, val_acc, lr, seconds; and per-step step_loss."""

    KEYS = ("epoch", "loss", "train_acc", "val_acc", "lr", "seconds", "step_loss")

    def __init__(self, *args, **kwargs):
        super().__init__({k: [] for k in self.KEYS})
        self.update(*args, **kwargs)

    CSV_COLUMNS = ("epoch", "loss", "train_acc", "val_acc", "lr", "seconds")

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """history.csv: one row per epoch."""
        fmt = lambda v: "" if v is None else (str(v) if isinstance(v, int) else f"{v:.6g}")  # noqa: E731
        write_csv(
            path,
            self.CSV_COLUMNS,
            ([fmt(v) for v in row] for row in zip(*(self[c] for c in self.CSV_COLUMNS))),
        )

    @classmethod
    def read_csv(cls, path: str | os.PathLike[str]) -> History:
        """A history written by write_csv; a damaged file is one line naming it, the line and the field."""
        header, rows = read_csv_rows(path, "history")
        if "epoch" not in header:
            raise InputError(f"{path}: no 'epoch' column in the header; the file is damaged")
        history = cls()
        for n, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{path}: line {n} has {len(row)} fields, the header {len(header)}; the file is damaged"
                )
            for col, v in zip(header, row):
                if col in cls.CSV_COLUMNS:
                    history[col].append(_history_value(v, col, path, n))
        return history


def _history_value(v, col, path, line):
    """One field of history.csv: epoch an integer >= 1, the others finite numbers (val_acc, lr may be empty)."""
    if v == "" and col not in ("epoch", "loss"):
        return None
    try:
        x = int(v) if col == "epoch" else float(v)
    except ValueError:
        x = None
    if x is None or (col == "epoch" and x < 1) or not math.isfinite(x):
        words = "an integer >= 1" if col == "epoch" else "a finite number"
        raise InputError(
            f"{path}: line {line}: field {col!r} must be {words}, got {v[:40]!r}; the file is damaged"
        )
    return x


class Best(NamedTuple):
    """The best epoch so far: its score (validation accuracy, or minus the training loss), its
    number, and a copy of its weights (None when stopping on the training loss: nothing to restore)."""

    score: float
    epoch: int
    params: dict[str, np.ndarray] | None


class Checkpoint(NamedTuple):
    """What checkpoint.npz holds, as the loop saves it and gets it back (checked)."""

    params: dict[str, np.ndarray]
    opt_state: dict[str, Any]  # the optimizer's state_dict(): {"t": steps, "arrays": {...}}
    best: Best | None
    epoch: int  # completed epochs
    step_count: int
    bad_epochs: int
    history: History
    rng: dict[str, Any]  # rng_state() of the loop's random generator


# -- the random generator's state, as JSON ------------------------------------------------
def rng_state(rng):
    """A Generator's or NumPy's legacy (global) RandomState's state as plain JSON values."""
    if isinstance(rng, np.random.Generator):
        return {"kind": "generator", "state": rng.bit_generator.state}
    name, keys, pos, has_gauss, cached = rng.get_state()
    return {"kind": "randomstate", "state": [name, keys.tolist(), pos, has_gauss, cached]}


def set_rng_state(rng, saved, path):
    """Put rng back in the state rng_state() recorded; a damaged state is one line naming the file."""
    try:
        if saved["kind"] == "generator":
            rng.bit_generator.state = saved["state"]
        else:
            name, keys, pos, has_gauss, cached = saved["state"]
            rng.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    except (KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: field 'rng' is damaged ({type(e).__name__}: {e})") from None


# -- checkpoint.npz -------------------------------------------------------------------------
def save(
    path: str | os.PathLike[str],
    ckpt: Checkpoint,
    config: TrainConfig,
    fingerprint: Any = None,
) -> None:
    """Write a checkpoint atomically: param_*, opt_*, best_* arrays and the JSON state."""
    arrays = {f"param_{k}": v for k, v in ckpt.params.items()}
    arrays.update({f"opt_{k}": v for k, v in ckpt.opt_state["arrays"].items()})
    best = ckpt.best
    if best is not None and best.params is not None:
        arrays.update({f"best_{k}": v for k, v in best.params.items()})
    state = {
        "epoch": ckpt.epoch,
        "step_count": ckpt.step_count,
        "bad_epochs": ckpt.bad_epochs,
        "best": None if best is None else [best.score, best.epoch],
        "opt_t": ckpt.opt_state["t"],
        "rng": ckpt.rng,
        "history": dict(ckpt.history),
        "config": config.to_dict(),
        "fingerprint": fingerprint,
    }
    arrays["state"] = np.array(json.dumps(state))
    save_npz(path, arrays)


def load(
    path: str | os.PathLike[str],
    params: dict[str, np.ndarray],
    config: TrainConfig,
    fingerprint: Any = None,
) -> Checkpoint:
    """A checkpoint of this same run (its model's ``params``, ``config`` and data
    ``fingerprint``), checked; a foreign or mismatched one is refused with one line (shapes,
    optimizer, settings other than epochs, data fingerprint)."""
    arrays, state = _read_state(path)
    _check_config(path, state["config"], config)
    _check_fingerprint(path, state.get("fingerprint"), fingerprint)
    _check_params(path, arrays, params)
    opt_arrays = _optimizer_arrays(path, arrays, params)
    best = _best(path, state["best"], arrays, params)
    _check_consistent(path, state, best, opt_arrays, params, config)
    return Checkpoint(
        params={k: arrays[f"param_{k}"] for k in params},
        opt_state={"t": state["opt_t"], "arrays": opt_arrays},
        best=best,
        epoch=state["epoch"],
        step_count=state["step_count"],
        bad_epochs=state["bad_epochs"],
        history=History(state["history"]),
        rng=state["rng"],
    )


def _read_state(path):
    """The checkpoint's arrays and its JSON state, every field of the state checked."""
    arrays = read_npz(path, required=("state",))
    text = str(
        meta_array(arrays["state"], path)
    )  # outside the try: its InputError is a ValueError too
    state = json_object(text, f"{path}: damaged checkpoint state:")
    check_fields(state, CHECKPOINT_STATE, path, required=tuple(CHECKPOINT_STATE))
    return arrays, state


def _check_config(path, saved, config):
    """Refuse a checkpoint trained with other settings (epochs may differ: a run may be extended)."""
    differ = [k for k, v in config.to_dict().items() if k != "epochs" and saved.get(k, v) != v]
    if differ:
        k = differ[0]
        raise InputError(
            f"{path}: the checkpoint was trained with {k}={saved[k]!r}, this run has "
            f"{getattr(config, k)!r}: it belongs to another run"
        )


def _check_fingerprint(path, saved, fingerprint):
    """Refuse a checkpoint trained on other data (when both fingerprints are known)."""
    if fingerprint is not None and saved is not None and saved != fingerprint:
        raise InputError(
            f"{path}: the checkpoint was trained on other data ({_describe(saved)}; now "
            f"{_describe(fingerprint)}): it belongs to another run"
        )


def _check_params(path, arrays, params):
    """Every parameter saved, with the model's shape and dtype, and finite."""
    for k, v in params.items():
        saved = arrays.get(f"param_{k}")
        if saved is None or saved.shape != v.shape or saved.dtype != v.dtype:
            got = "missing" if saved is None else f"{saved.dtype} {saved.shape}"
            raise InputError(
                f"{path}: the checkpoint's {k} is {got} but this run's model has {v.dtype} "
                f"{v.shape}: it belongs to another run"
            )
        if not np.isfinite(saved).all():
            raise InputError(
                f"{path}: the checkpoint's {k} contains NaN or infinite values; the file is damaged"
            )


def _optimizer_arrays(path, arrays, params):
    """The optimizer's arrays (opt_<slot>_<param>), each the shape of the parameter it belongs to."""
    opt_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
    for k, v in opt_arrays.items():
        param = k.rsplit("_", 1)[-1]
        if param not in params or v.shape != params[param].shape:
            raise InputError(
                f"{path}: optimizer state {k!r} does not fit the model; the file is damaged"
            )
    return opt_arrays


def _best(path, saved, arrays, params):
    """The best epoch: [score, epoch] from the state and its weights, all of them or none
    (none kept: stopping on the training loss)."""
    kept = [f"best_{k}" in arrays for k in params]
    if saved is None:
        return None
    if any(kept) and not all(kept):
        raise InputError(f"{path}: field 'best' is damaged (best_* arrays missing)")
    weights = {k: arrays[f"best_{k}"].copy() for k in params} if all(kept) else None
    return Best(saved[0], saved[1], weights)


def _damaged(path, what):
    return InputError(f"{path}: {what}; the checkpoint is damaged (or written by another program)")


def _check_consistent(path, state, best, opt_arrays, params, config):
    """Every field against the others and against the run: a checkpoint that is well formed field
    by field can still be impossible (epoch 1e9 with one history row)."""
    epoch, steps, h = state["epoch"], state["step_count"], state["history"]
    for key in History.CSV_COLUMNS:
        if len(h.get(key, [])) != epoch:
            raise _damaged(
                path, f"epoch is {epoch} but the history has {len(h.get(key, []))} {key!r} rows"
            )
    if h.get("epoch", []) != list(range(1, epoch + 1)):
        raise _damaged(path, f"the history's epochs are not 1..{epoch}")
    if len(h.get("step_loss", [])) != steps or state["opt_t"] != steps:
        raise _damaged(
            path,
            f"step_count is {steps} but the history has {len(h.get('step_loss', []))} step losses "
            f"and the optimizer {state['opt_t']} steps",
        )
    if steps < epoch:
        raise _damaged(path, f"{epoch} epochs cannot be done in {steps} steps")
    _check_lr(path, h["lr"], config)
    _check_best(path, state, best, h, config)
    _check_slots(path, opt_arrays, params, config, steps)
    _check_rng(path, state["rng"])


def _check_lr(path, lrs, config):
    top = config.learning_rate * (1 + 1e-9)  # no schedule ever goes above the base rate
    for i, lr in enumerate(lrs, start=1):
        if lr is None or not (0 < lr <= top):
            raise _damaged(
                path, f"epoch {i}'s learning rate {lr!r} is not in (0, {config.learning_rate:g}]"
            )


def _check_best(path, state, best, h, config):
    epoch, bad = state["epoch"], state["bad_epochs"]
    if bad > epoch:
        raise _damaged(path, f"{bad} epochs without progress in {epoch} epochs")
    if best is None:
        if config.patience is not None and epoch > 0:
            raise _damaged(path, "early stopping is on but no best epoch is recorded")
        return
    if config.patience is None:
        raise _damaged(path, "a best epoch is recorded but early stopping is off")
    if not 1 <= best.epoch <= epoch:
        raise _damaged(path, f"the best epoch {best.epoch} is not one of epochs 1..{epoch}")
    val = h["val_acc"][best.epoch - 1]
    score = -h["loss"][best.epoch - 1] if val is None else val
    if best.score != score or (best.params is None) != (val is None):
        raise _damaged(path, f"the best score does not match epoch {best.epoch} of the history")


def _check_slots(path, opt_arrays, params, config, steps):
    """The optimizer's arrays are exactly its slots (none before the first step), finite, of the
    parameters' dtype."""
    names = list(params)
    if steps == 0:
        expected = set()
    elif config.optimizer in ("adam", "adamw"):
        expected = {f"{m}_{k}" for m in ("m", "v") for k in names}
    elif config.optimizer in ("momentum", "nesterov") and config.momentum:
        expected = set(names)
    else:
        expected = set()
    if set(opt_arrays) != expected:
        odd = sorted(set(opt_arrays) ^ expected)
        raise _damaged(
            path, f"the {config.optimizer} state has the wrong arrays ({', '.join(odd)})"
        )
    for k, v in opt_arrays.items():
        param = params[k.rsplit("_", 1)[-1]]
        if v.dtype != param.dtype or not np.isfinite(v).all():
            raise _damaged(path, f"optimizer state {k!r} is not finite {param.dtype}")


def _check_rng(path, saved):
    """The generator's state restores (on a scratch generator: nothing is changed yet)."""
    scratch = (
        np.random.default_rng() if saved.get("kind") == "generator" else np.random.RandomState()
    )
    if saved.get("kind") not in ("generator", "randomstate"):
        raise InputError(f"{path}: field 'rng' is damaged (its kind is {saved.get('kind')!r})")
    set_rng_state(scratch, saved, path)


def _is_history(v):
    return isinstance(v, dict) and all(
        k in History.KEYS
        and isinstance(xs, list)
        and all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in xs)
        for k, xs in v.items()
    )


# The checkpoint's JSON state: every field is read back on --resume, so every field is checked first
# (checks.check_fields, the one schema helper: one line naming the file and the field).
CHECKPOINT_STATE = {
    "epoch": (is_int(0), "an integer >= 0"),
    "step_count": (is_int(0), "an integer >= 0"),
    "bad_epochs": (is_int(0), "an integer >= 0"),
    "opt_t": (is_int(0), "an integer >= 0"),
    "best": (
        optional(
            lambda v: isinstance(v, list) and len(v) == 2 and is_real()(v[0]) and is_int(0)(v[1])
        ),
        "null or [score, epoch]",
    ),
    "history": (_is_history, "an object of lists of numbers keyed by " + ", ".join(History.KEYS)),
    "rng": (is_dict, "an object (a random generator's state)"),
    "config": (is_dict, "an object (the loop's settings)"),
}


def _describe(fp):
    return (
        ", ".join(f"{k} {v}" for k, v in fp.items() if k != "rows_sha256")
        if isinstance(fp, dict)
        else str(fp)
    )
