"""The training loop: batches, schedules, validation, early stopping, checkpoints, history.

It never touches the math: each step asks the net for (loss, grads) and the optimizer for
an update. The classic ``TwoLayerNet.train``, the command line and the scikit-learn
estimator all run this one loop.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from .checks import check_fields, check_X, check_y, gib, is_dict, is_int, is_real, limit, optional
from .errors import DivergedError, InputError, InputTypeError, Setting
from .io import json_object, meta_array, read_csv_rows, read_npz, save_npz, write_csv
from .optim import make_optimizer, packed
from .schedules import learning_rate_at
from .settings import AUTO_EPOCHS, AUTO_STEPS, RULES, RunSettings, TrainConfig, check_setting  # noqa: F401 (re-exported)


class Model(Protocol):
    """What the loop needs of a model (TwoLayerNet is one). The loop never imports net.py: net.py
    imports the loop for the classic ``.train``, so the dependency runs one way."""

    params: dict[str, np.ndarray]
    dtype: np.dtype

    @property
    def input_size(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...

    @property
    def output_size(self) -> int: ...

    def forward_backward(
        self,
        X: np.ndarray,
        y: np.ndarray,
        reg: float,
        work: Any = None,
        weights: np.ndarray | None = None,
    ) -> tuple[float, dict[str, np.ndarray], int]: ...

    def scores(
        self,
        X: np.ndarray,
        batch_size: int = 4096,
        name: str = "X",
        first_row: int = 0,
        check: bool = True,
    ) -> np.ndarray: ...


class Workspace:
    """Buffers for one batch size, reused from step to step by the training loop."""

    def __init__(self, params, batch_size):
        dtype = params["W1"].dtype
        hidden, classes = params["W2"].shape
        self.batch_size = batch_size
        self.a = np.empty((batch_size, hidden), dtype)
        self.scores = np.empty((batch_size, classes), dtype)
        self.dh = np.empty((batch_size, hidden), dtype)
        self.mask = np.empty((batch_size, hidden), bool)
        self.grads = packed(
            {k: np.empty_like(v) for k, v in params.items()}
        )  # laid out like the params
        self.scratch = {k: np.empty_like(params[k]) for k in ("W1", "W2")}

    def view(self, n):
        """Buffers for a batch of n <= batch_size rows (the last, short batch of an epoch)."""
        if n == self.batch_size:
            return self.a, self.mask, self.scores, self.dh
        return self.a[:n], self.mask[:n], self.scores[:n], self.dh[:n]


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


class Trainer:
    """Runs the loop on one net; keeps optimizer, schedule, random state and history so that
    training can continue (partial_fit, --resume) exactly where it stopped."""

    def __init__(
        self,
        net: Model,
        config: TrainConfig | None = None,
        rng: np.random.Generator | GlobalRandomState | None = None,
    ) -> None:
        self.net = net
        self.config = config or TrainConfig()
        c = self.config
        self.optimizer = make_optimizer(
            c.optimizer, momentum=c.momentum, weight_decay=c.weight_decay
        )
        # rng: a Generator (seeded from config.seed) or, for the classic API, NumPy's global RandomState
        self.rng = rng if rng is not None else np.random.default_rng(c.seed)
        self.history = History()
        self.epoch = 0  # completed epochs
        self.step_count = 0
        self.best: tuple | None = (
            None  # (score, epoch, params copy); no copy when stopping on the training loss
        )
        self.bad_epochs = 0
        self.stop_reason: str | None = None
        self.interrupt: KeyboardInterrupt | None = (
            None  # the KeyboardInterrupt that stopped the last fit, if any
        )
        self.work: Workspace | None = None  # the step's buffers (a Workspace), made by fit

    # -- the loop ----------------------------------------------------------------------
    # Divergence is detected from the loss and reported in words; NumPy's overflow warnings would only add noise.
    @np.errstate(over="ignore", invalid="ignore")
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        *,
        epochs: int | None = None,
        on_epoch: Callable[[Trainer], object] | None = None,
        on_batch: Callable[[Trainer], object] | None = None,
        checkpoint: Callable[[Trainer], object] | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        augment: Callable[[np.ndarray, Any], object] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> History:
        """Train until ``epochs`` (default config.epochs) epochs are complete, early stopping,
        max_steps, divergence or Ctrl-C. Returns the history.

        X may be a memory map: batches are gathered with np.take and, when ``transform`` is
        given (the model's preprocessing), transformed one batch at a time. ``augment(xb, rng)``,
        when given, alters each training batch in place (e.g. random pixel shifts).
        ``sample_weight`` (one weight >= 0 per row of X) weights each batch's mean loss.
        """
        c = self.config
        n = X.shape[0]
        if n == 0:
            raise InputError("the training set is empty")
        epochs = c.resolve_epochs(n) if epochs is None else epochs
        bs = c.batch_for(n)
        check_batch_memory(bs, X.shape[1], self.net)
        self.work = Workspace(self.net.params, bs)
        batch = Batch(X, y, bs, self.net.dtype, transform, augment, sample_weight)
        has_val = X_val is not None and len(X_val) > 0
        self.stop_reason = self.interrupt = None
        with blas_threads_for(bs * X.shape[1] * self.net.hidden_size):
            try:
                while self.epoch < epochs and self.stop_reason is None:
                    t0 = time.perf_counter()
                    lr = learning_rate_at(
                        self.epoch,
                        base_lr=c.learning_rate,
                        schedule=c.schedule,
                        decay=c.lr_decay,
                        min_lr_ratio=c.min_lr_ratio,
                        epochs=epochs,
                        warmup_epochs=c.warmup_epochs,
                    )
                    loss_sum, correct, seen = 0.0, 0, 0
                    for idx in self.batch_order(n, bs, c.steps_for(n)):
                        loss, n_correct = self.step(
                            *batch.gather(idx, self.rng), lr, batch.weights(idx)
                        )
                        loss_sum += loss * len(idx)
                        correct += n_correct
                        seen += len(idx)
                        if on_batch is not None:
                            on_batch(self)
                    if self.stop_reason == "max_steps":
                        break  # a partial epoch: no schedule step, no record
                    self._end_epoch(
                        lr,
                        loss_sum / seen,
                        correct / seen,
                        X_val,
                        y_val,
                        has_val,
                        transform,
                        time.perf_counter() - t0,
                        epochs,
                    )
                    if checkpoint is not None:
                        checkpoint(self)
                    if on_epoch is not None:
                        on_epoch(self)
            except (
                KeyboardInterrupt
            ) as e:  # Ctrl-C, or SIGTERM/SIGHUP turned into one (runs.stop_signals)
                self.stop_reason = "interrupted"
                self.interrupt = e
        if self.best is not None and self.best[2] is not None and self.stop_reason != "diverged":
            self.restore_best()  # model selection on validation accuracy (patience is set)
        if self.stop_reason is None:
            self.stop_reason = "completed"
        return self.history

    def batch_order(self, n, bs, steps):
        """The row indices of each step of one epoch: slices of one permutation ('shuffle') or
        draws with replacement (the classic API's 'replacement'). Stops early at max_steps."""
        c = self.config
        order = self.rng.permutation(n) if c.sampling == "shuffle" else None
        for s in range(steps):
            if c.max_steps is not None and self.step_count >= c.max_steps:
                self.stop_reason = "max_steps"
                return
            if order is not None:
                start = (s * bs) % n
                yield order[start : start + bs]
            else:
                yield _draw(self.rng, n, bs)

    def step(
        self, xb: np.ndarray, yb: np.ndarray, lr: float, weights: np.ndarray | None = None
    ) -> tuple[float, int]:
        """One optimizer step on one batch: (loss, grads) from the net, an update from the rule."""
        loss, grads, n_correct = self.net.forward_backward(
            xb, yb, self.config.reg, self.work, weights=weights
        )
        if not math.isfinite(loss):
            self._diverged(loss, xb)
        self.optimizer.step(self.net.params, grads, lr)
        self.step_count += 1
        self.history["step_loss"].append(loss)
        return loss, n_correct

    def _end_epoch(self, lr, loss, train_acc, X_val, y_val, has_val, transform, seconds, epochs):
        c, h = self.config, self.history
        val_acc = accuracy(self.net, X_val, y_val, transform, check=False) if has_val else None
        self.epoch += 1
        h["epoch"].append(self.epoch)
        h["loss"].append(loss)
        h["train_acc"].append(train_acc)
        h["val_acc"].append(val_acc)
        h["lr"].append(lr)
        h["seconds"].append(seconds)
        score = val_acc if has_val else -loss
        if c.patience is not None:
            # as scikit-learn's MLP: the count restarts only on a gain of more than tol
            improved = self.best is None or score > self.best[0] + c.tol
            if self.best is None or score > self.best[0]:
                # without validation data the loop stops on the training loss and keeps the last
                # weights, as scikit-learn's MLP does: no copy to restore
                weights = {k: v.copy() for k, v in self.net.params.items()} if has_val else None
                self.best = (score, self.epoch, weights)
            if improved:
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs >= c.patience and self.epoch < epochs:
                    self.stop_reason = "early_stopping"

    def _diverged(self, loss, xb):
        if self.best is not None and self.best[2] is not None:
            self.restore_best()
            kept = f"the best weights (epoch {self.best[1]}) were kept"
        else:
            kept = "no finite weights from a finished epoch exist"
        self.stop_reason = "diverged"
        with np.errstate(all="ignore"):
            peak = float(np.max(np.abs(xb)))
        if peak > DATA_SCALE:  # the inputs, not the step size, overflow the scores or the gradients
            raise InputError(
                f"training overflowed at step {self.step_count + 1} (loss {loss}): the inputs have "
                f"values up to {f'{peak:.0e}'.replace('e+', 'e')}: scale them, e.g. ",
                Setting("preprocess", value="standardize"),
                f"; {kept}",
            )
        raise DivergedError(
            f"training diverged: the loss became {loss} at step {self.step_count + 1}; {kept}. "
            "Try a smaller ",
            Setting("learning_rate"),
            f" (now {self.config.learning_rate:g}).",
        )

    def restore_best(self) -> None:
        assert self.best is not None, "restore_best needs a best epoch"
        for k, v in self.best[2].items():
            self.net.params[k][...] = v

    @property
    def best_epoch(self) -> int | None:
        return None if self.best is None else self.best[1]

    # -- checkpoints --------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike[str], fingerprint: str | None = None) -> None:
        """Everything needed to resume exactly, written atomically. ``fingerprint`` (of the
        data) lets load_checkpoint refuse a checkpoint of another run."""
        arrays = {f"param_{k}": v for k, v in self.net.params.items()}
        opt = self.optimizer.state_dict()
        arrays.update({f"opt_{k}": v for k, v in opt["arrays"].items()})
        if self.best is not None and self.best[2] is not None:
            arrays.update({f"best_{k}": v for k, v in self.best[2].items()})
        state = {
            "epoch": self.epoch,
            "step_count": self.step_count,
            "bad_epochs": self.bad_epochs,
            "best": None if self.best is None else [self.best[0], self.best[1]],
            "opt_t": opt["t"],
            "rng": _rng_state(self.rng),
            "history": dict(self.history),
            "config": self.config.to_dict(),
            "fingerprint": fingerprint,
        }
        arrays["state"] = np.array(json.dumps(state))
        save_npz(path, arrays)

    def load_checkpoint(self, path: str | os.PathLike[str], fingerprint: str | None = None) -> None:
        """Continue from a checkpoint of this same run; a foreign or mismatched one is refused
        with one line (shapes, optimizer, settings other than epochs, data fingerprint)."""
        arrays = read_npz(path, required=("state",))
        text = str(
            meta_array(arrays["state"], path)
        )  # outside the try: its InputError is a ValueError too
        state = json_object(text, f"{path}: damaged checkpoint state:")
        check_fields(state, CHECKPOINT_STATE, path, required=tuple(CHECKPOINT_STATE))
        config = state["config"]
        differ = [
            k for k, v in self.config.to_dict().items() if k != "epochs" and config.get(k, v) != v
        ]
        if differ:
            k = differ[0]
            raise InputError(
                f"{path}: the checkpoint was trained with {k}={config[k]!r}, this run has "
                f"{getattr(self.config, k)!r}: it belongs to another run"
            )
        saved_fp = state.get("fingerprint")
        if fingerprint is not None and saved_fp is not None and saved_fp != fingerprint:
            raise InputError(
                f"{path}: the checkpoint was trained on other data ({_describe(saved_fp)}; now "
                f"{_describe(fingerprint)}): it belongs to another run"
            )
        for k, v in self.net.params.items():
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
        opt_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
        for k, v in opt_arrays.items():
            param = k.rsplit("_", 1)[-1]
            if param not in self.net.params or v.shape != self.net.params[param].shape:
                raise InputError(
                    f"{path}: optimizer state {k!r} does not fit the model; the file is damaged"
                )
        best = state["best"]
        kept = [
            f"best_{k}" in arrays for k in self.net.params
        ]  # none kept: stopping on the training loss
        if best is not None and any(kept) and not all(kept):
            raise InputError(f"{path}: field 'best' is damaged (best_* arrays missing)")
        epoch, step_count, bad_epochs, opt_t = (
            state[k] for k in ("epoch", "step_count", "bad_epochs", "opt_t")
        )
        history, rng = state["history"], state["rng"]
        for k in self.net.params:
            self.net.params[k][...] = arrays[f"param_{k}"]
        self.optimizer.load_state_dict({"t": opt_t, "arrays": opt_arrays})
        if best is not None:
            self.best = (
                best[0],
                best[1],
                {k: arrays[f"best_{k}"].copy() for k in self.net.params} if all(kept) else None,
            )
        self.epoch, self.step_count, self.bad_epochs = epoch, step_count, bad_epochs
        self.history = History(history)
        try:
            _set_rng_state(self.rng, rng)
        except (KeyError, ValueError, TypeError) as e:
            raise InputError(f"{path}: field 'rng' is damaged ({type(e).__name__}: {e})") from None


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


DATA_SCALE = (
    1e6  # a loss that overflows on inputs larger than this is the data's fault, not the step size's
)


def check_batch_memory(batch_size, n_features, net, label="batch_size"):
    """Refuse a minibatch whose buffers (X batch, activations, mask, scores) exceed MAX_BATCH_BYTES."""
    per_row = (
        n_features + 2 * net.hidden_size + net.output_size
    ) * net.dtype.itemsize + net.hidden_size
    if batch_size * per_row > limit("MAX_BATCH_BYTES"):
        raise InputError(
            f"{label} {batch_size} needs {gib(batch_size * per_row)} for one minibatch's buffers, more "
            f"than the limit of {gib(limit('MAX_BATCH_BYTES'))} (TWOLAYER_MAX_BATCH_BYTES)"
        )


SMALL_GEMM = (
    4_000_000  # multiply-adds in X·W1 below which a second BLAS thread costs more than it gains
)


def blas_threads_for(work):
    """One BLAS thread for small problems (measured: a digits-sized step is ~8% faster on one
    thread than on two, a CIFAR-sized step ~20% slower); otherwise leave the setting alone."""
    global _controller
    if work >= SMALL_GEMM:
        return contextlib.nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


_controller: Any = None  # a threadpoolctl.ThreadpoolController, made on first use


def accuracy(
    net: Model,
    X: np.ndarray,
    y: np.ndarray,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    batch_size: int = 4096,
    name: str = "X",
    check: bool = True,
) -> float:
    """Fraction of rows of X whose predicted class equals y, in row blocks (memmap-friendly).

    check=False (during and right after training): non-finite scores count as wrong, since
    they come from the weights (divergence is reported from the loss), not from the data.
    """
    correct = 0
    for start in range(0, len(X), batch_size):
        xb = X[start : start + batch_size]
        xb = transform(xb) if transform is not None else xb
        scores = net.scores(xb, name=name, first_row=start, check=check)
        correct += int(np.count_nonzero(scores.argmax(axis=1) == y[start : start + batch_size]))
    return correct / len(X)


def _draw(rng, n, size):
    """Indices drawn with replacement (the classic API's sampling)."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, n, size=size)
    return rng.randint(0, n, size=size)


class Batch:
    """Gathers a training batch into preallocated buffers: rows, labels, the net's dtype, the
    per-batch preprocessing of streamed data and the augmentation."""

    def __init__(self, X, y, bs, dtype, transform=None, augment=None, sample_weight=None):
        self.X, self.y, self.transform, self.augment, self.dtype = X, y, transform, augment, dtype
        self.direct = X.dtype == dtype and transform is None
        self.xb = np.empty((bs, X.shape[1]), X.dtype)
        self.yb = np.empty(bs, np.intp)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight, dtype)
        self.wb = None if sample_weight is None else np.empty(bs, dtype)

    def weights(self, idx):
        """The batch's sample weights, or None when the rows are unweighted."""
        if self.sample_weight is None:
            return None
        return self.sample_weight.take(idx, out=self.wb[: len(idx)], mode="clip")

    def gather(self, idx: np.ndarray, rng: Any) -> tuple[np.ndarray, np.ndarray]:
        m = len(idx)
        xb, yb = self.xb[:m], self.yb[:m]
        # mode="clip": the indices are in range by construction, and the default mode="raise" copies
        # through a batch-sized temporary even with out= (measured: 3.2 MB per 512×784 float64 batch)
        self.X.take(idx, axis=0, out=xb, mode="clip")
        self.y.take(idx, out=yb, mode="clip")
        if not self.direct:
            xb = self.transform(xb) if self.transform is not None else xb.astype(self.dtype)
        if self.augment is not None:
            self.augment(xb, rng)
        return xb, yb


class GlobalRandomState:
    """NumPy's legacy global random state (np.random.seed / np.random.randn), as an object: the
    classic API draws its batches from it, as CS231n's code does, through public functions only."""

    randint = staticmethod(np.random.randint)
    permutation = staticmethod(np.random.permutation)
    get_state = staticmethod(np.random.get_state)
    set_state = staticmethod(np.random.set_state)


def _rng_state(rng):
    if isinstance(rng, np.random.Generator):
        return {"kind": "generator", "state": rng.bit_generator.state}
    name, keys, pos, has_gauss, cached = rng.get_state()
    return {"kind": "randomstate", "state": [name, keys.tolist(), pos, has_gauss, cached]}


def _set_rng_state(rng, saved):
    if saved["kind"] == "generator":
        rng.bit_generator.state = saved["state"]
    else:
        name, keys, pos, has_gauss, cached = saved["state"]
        rng.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def classic_train(
    net: Model,
    X: ArrayLike,
    y: ArrayLike,
    X_val: ArrayLike,
    y_val: ArrayLike,
    learning_rate: float = 1e-3,
    learning_rate_decay: float = 0.95,
    reg: float = 5e-6,
    num_iters: int = 100,
    batch_size: int = 200,
    verbose: bool = False,
) -> dict[str, list[float]]:
    """CS231n's TwoLayerNet.train on the shared loop: SGD, batches drawn with replacement from
    NumPy's global random state, learning rate × decay after every epoch of max(N // B, 1) steps."""
    check_setting("learning_rate", learning_rate, "learning_rate")
    check_setting("lr_decay", learning_rate_decay, "learning_rate_decay")
    check_setting("reg", reg, "reg")
    if num_iters is None:  # max_steps may be None (no limit), num_iters may not
        raise InputTypeError(
            f"num_iters must be {RULES['max_steps'][1].removesuffix(' or None')}, got None"
        )
    check_setting("max_steps", num_iters, "num_iters")
    check_setting("batch_size", batch_size, "batch_size")
    X = check_X(X, net.input_size, net.dtype)
    y = check_y(y, X.shape[0], net.output_size)
    check_batch_memory(batch_size, X.shape[1], net)
    X_val = check_X(X_val, net.input_size, net.dtype, name="X_val")
    y_val = check_y(y_val, X_val.shape[0], net.output_size, name="y_val")
    steps_per_epoch = max(X.shape[0] // batch_size, 1)
    epochs = max(math.ceil(num_iters / steps_per_epoch), 1)
    if not RULES["epochs"][0](epochs):
        raise InputError(
            f"num_iters {num_iters} makes {epochs:,} epochs of {steps_per_epoch} steps; epochs must be "
            f"{RULES['epochs'][1].removesuffix(' (or None: auto)')}"
        )
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        reg=reg,
        optimizer="sgd",
        schedule="step",
        lr_decay=learning_rate_decay,
        patience=None,
        sampling="replacement",
        steps_per_epoch=steps_per_epoch,
        max_steps=num_iters,
        seed=None,
    )
    trainer = Trainer(net, config, rng=GlobalRandomState())

    def report(t):
        if verbose and t.step_count % 100 == 0:
            print(f"iteration {t.step_count} / {num_iters}: loss {t.history['step_loss'][-1]:f}")

    trainer.fit(X, y, X_val, y_val, on_batch=report)
    h = trainer.history
    return {
        "loss_history": h["step_loss"],
        "train_acc_history": h["train_acc"],
        "val_acc_history": h["val_acc"],
    }
