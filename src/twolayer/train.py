"""The training loop: batches, schedules, validation, early stopping, checkpoints, history.

It never touches the math: each step asks the net for (loss, grads) and the optimizer for
an update. The classic ``TwoLayerNet.train``, the command line and the scikit-learn
estimator all run this one loop.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .checks import check_X, check_y
from .errors import DivergedError, InputError
from .net import Workspace, atomic_savez, meta_array, read_npz
from .optim import OPTIMIZERS, make_optimizer
from .schedules import SCHEDULES, learning_rate_at

# The one table of valid settings: name -> (check, words for the error message).
_RULES = {
    "epochs": (lambda v: v is None or (_is_int(v) and v >= 1), "a positive integer (or None: auto)"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "learning_rate": (lambda v: _is_real(v) and v > 0, "a finite number > 0"),
    "reg": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "optimizer": (lambda v: v in OPTIMIZERS, "one of " + ", ".join(OPTIMIZERS)),
    "momentum": (lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "schedule": (lambda v: v in SCHEDULES, "one of " + ", ".join(SCHEDULES)),
    "lr_decay": (lambda v: _is_real(v) and 0 < v <= 1, "a number in (0, 1]"),
    "warmup_epochs": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "patience": (lambda v: v is None or (_is_int(v) and v >= 1), "a positive integer or None"),
    "tol": (lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    "sampling": (lambda v: v in ("shuffle", "replacement"), "'shuffle' or 'replacement'"),
    "steps_per_epoch": (lambda v: v is None or (_is_int(v) and v >= 1), "a positive integer or None"),
    "max_steps": (lambda v: v is None or (_is_int(v) and v >= 0), "an integer >= 0 or None"),
    "seed": (lambda v: v is None or (_is_int(v) and v >= 0), "an integer >= 0 or None"),
    "augment": (lambda v: v in ("auto", "none", "shift"), "'auto', 'none' or 'shift'"),
}


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def check_setting(name, value):
    ok, words = _RULES[name]
    if not ok(value):
        raise InputError(f"{name.replace('_', '-')} must be {words}, got {value!r}")
    return value


AUTO_STEPS = 2000
AUTO_EPOCHS = (10, 100)


@dataclass
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
    augment: str = "auto"  # shift: random 1-pixel shifts of image rows, per batch; auto: shift for images

    def __post_init__(self):
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))

    def to_dict(self):
        return asdict(self)

    def resolve_epochs(self, n_train):
        """The epoch count: as set, or (auto) enough epochs for about AUTO_STEPS optimizer
        steps, kept within AUTO_EPOCHS — small sets get more passes, large sets fewer."""
        if self.epochs is not None:
            return self.epochs
        steps_per_epoch = self.steps_per_epoch or math.ceil(n_train / min(self.batch_size, n_train))
        lo, hi = AUTO_EPOCHS
        return int(min(max(math.ceil(AUTO_STEPS / steps_per_epoch), lo), hi))

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class History(dict):
    """Per-epoch lists: epoch, loss, train_acc, val_acc, lr, seconds; and per-step step_loss."""

    KEYS = ("epoch", "loss", "train_acc", "val_acc", "lr", "seconds", "step_loss")

    def __init__(self, *args, **kwargs):
        super().__init__({k: [] for k in self.KEYS})
        self.update(*args, **kwargs)

    def write_csv(self, path):
        """history.csv: one row per epoch."""
        cols = ("epoch", "loss", "train_acc", "val_acc", "lr", "seconds")
        lines = [",".join(cols)]
        for row in zip(*(self[c] for c in cols)):
            lines.append(",".join("" if v is None else (str(v) if isinstance(v, int) else f"{v:.6g}") for v in row))
        Path(path).write_text("\n".join(lines) + "\n")


class Trainer:
    """Runs the loop on one net; keeps optimizer, schedule, random state and history so that
    training can continue (partial_fit, --resume) exactly where it stopped."""

    def __init__(self, net, config=None, rng=None):
        self.net = net
        self.config = config or TrainConfig()
        c = self.config
        self.optimizer = make_optimizer(c.optimizer, momentum=c.momentum, weight_decay=c.weight_decay)
        # rng: a Generator (seeded from config.seed) or, for the classic API, NumPy's global RandomState
        self.rng = rng if rng is not None else np.random.default_rng(c.seed)
        self.history = History()
        self.epoch = 0  # completed epochs
        self.step_count = 0
        self.best = None  # (score, epoch, params copy); no copy when stopping on the training loss
        self.bad_epochs = 0
        self.stop_reason = None

    # -- the loop ----------------------------------------------------------------------
    # Divergence is detected from the loss and reported in words; NumPy's overflow warnings would only add noise.
    @np.errstate(over="ignore", invalid="ignore")
    def fit(self, X, y, X_val=None, y_val=None, *, epochs=None, on_epoch=None, on_batch=None,
            checkpoint=None, transform=None, augment=None, sample_weight=None):
        """Train until ``epochs`` (default config.epochs) epochs are complete, early stopping,
        max_steps, divergence or Ctrl-C. Returns the history.

        X may be a memory map: batches are gathered with np.take and, when ``transform`` is
        given (the model's preprocessing), transformed one batch at a time. ``augment(xb, rng)``,
        when given, alters each training batch in place (e.g. random pixel shifts).
        ``sample_weight`` (one weight >= 0 per row of X) weights each batch's mean loss.
        """
        c, net = self.config, self.net
        n = X.shape[0]
        if n == 0:
            raise InputError("the training set is empty")
        epochs = c.resolve_epochs(n) if epochs is None else epochs
        bs = min(c.batch_size, n) if c.sampling == "shuffle" else c.batch_size
        if c.steps_per_epoch is not None:
            steps_per_epoch = c.steps_per_epoch
        elif c.sampling == "shuffle":
            steps_per_epoch = math.ceil(n / bs)
        else:
            steps_per_epoch = max(n // bs, 1)
        work = Workspace(net.params, bs)
        direct = X.dtype == net.dtype and transform is None
        xb_full = np.empty((bs, X.shape[1]), X.dtype)
        yb_full = np.empty(bs, np.intp)
        idx_full = np.empty(bs, np.intp)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, net.dtype)
        wb_full = None if sample_weight is None else np.empty(bs, net.dtype)
        has_val = X_val is not None and len(X_val) > 0
        self.stop_reason = None
        with blas_threads_for(bs * X.shape[1] * net.hidden_size):
            try:
                while self.epoch < epochs and self.stop_reason is None:
                    t0 = time.perf_counter()
                    lr = learning_rate_at(self.epoch, base_lr=c.learning_rate, schedule=c.schedule,
                                          decay=c.lr_decay, epochs=epochs, warmup_epochs=c.warmup_epochs)
                    order = self.rng.permutation(n) if c.sampling == "shuffle" else None
                    loss_sum, correct, seen, steps = 0.0, 0, 0, 0
                    for s in range(steps_per_epoch):
                        if c.max_steps is not None and self.step_count >= c.max_steps:
                            self.stop_reason = "max_steps"
                            break
                        if order is not None:
                            idx = order[(s * bs) % n:(s * bs) % n + bs]
                        else:
                            idx = _draw(self.rng, n, bs, idx_full)
                        m = len(idx)
                        xb, yb = xb_full[:m], yb_full[:m]
                        X.take(idx, axis=0, out=xb)  # gather into the preallocated batch buffers
                        y.take(idx, out=yb)
                        wb = None if wb_full is None else sample_weight.take(idx, out=wb_full[:m])
                        if not direct:
                            xb = transform(xb) if transform is not None else xb.astype(net.dtype)
                        if augment is not None:
                            augment(xb, self.rng)
                        loss, grads, n_correct = net.forward_backward(xb, yb, c.reg, work, weights=wb)
                        if not math.isfinite(loss):
                            self._diverged(loss)
                        self.optimizer.step(net.params, grads, lr)
                        self.step_count += 1
                        steps += 1
                        loss_sum += loss * m
                        correct += n_correct
                        seen += m
                        self.history["step_loss"].append(loss)
                        if on_batch is not None:
                            on_batch(self)
                    if steps == 0:
                        break
                    if self.stop_reason == "max_steps" and steps < steps_per_epoch:
                        break  # a partial epoch: no schedule step, no record
                    self._end_epoch(lr, loss_sum / seen, correct / seen, X_val, y_val, has_val, transform,
                                    time.perf_counter() - t0, epochs)
                    if checkpoint is not None:
                        checkpoint(self)
                    if on_epoch is not None:
                        on_epoch(self)
            except KeyboardInterrupt:
                self.stop_reason = "interrupted"
        if self.best is not None and self.best[2] is not None and self.stop_reason != "diverged":
            self.restore_best()  # model selection on validation accuracy (patience is set)
        if self.stop_reason is None:
            self.stop_reason = "completed"
        return self.history

    def _end_epoch(self, lr, loss, train_acc, X_val, y_val, has_val, transform, seconds, epochs):
        c, h = self.config, self.history
        val_acc = accuracy(self.net, X_val, y_val, transform) if has_val else None
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
                # weights, as scikit-learn's MLP does
                weights = {k: v.copy() for k, v in self.net.params.items()} if has_val else None
                self.best = (score, self.epoch, weights)
            if improved:
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs >= c.patience and self.epoch < epochs:
                    self.stop_reason = "early_stopping"

    def _diverged(self, loss):
        if self.best is not None and self.best[2] is not None:
            self.restore_best()
            kept = f"the best weights (epoch {self.best[1]}) were kept"
        else:
            kept = "no finite weights from a finished epoch exist"
        self.stop_reason = "diverged"
        raise DivergedError(
            f"training diverged: the loss became {loss} at step {self.step_count + 1}; {kept}. "
            f"Try a smaller --lr (now {self.config.learning_rate:g}).")

    def restore_best(self):
        for k, v in self.best[2].items():
            self.net.params[k][...] = v

    @property
    def best_epoch(self):
        return None if self.best is None else self.best[1]

    # -- checkpoints --------------------------------------------------------------------
    def save_checkpoint(self, path):
        """Everything needed to resume exactly, written atomically (temp file, then rename)."""
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
        }
        arrays["state"] = np.array(json.dumps(state))
        atomic_savez(path, arrays)

    def load_checkpoint(self, path):
        arrays, _ = read_npz(path, required=("state",))
        try:
            state = json.loads(str(meta_array(arrays["state"], path)))
            for k in self.net.params:
                self.net.params[k][...] = arrays[f"param_{k}"]
            self.optimizer.load_state_dict({
                "t": state["opt_t"],
                "arrays": {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}})
            if state["best"] is not None:
                self.best = (state["best"][0], state["best"][1],
                             {k: arrays[f"best_{k}"].copy() for k in self.net.params}
                             if "best_W1" in arrays else None)
            self.epoch = state["epoch"]
            self.step_count = state["step_count"]
            self.bad_epochs = state["bad_epochs"]
            self.history = History(state["history"])
            _set_rng_state(self.rng, state["rng"])
        except (KeyError, ValueError, TypeError) as e:
            raise InputError(f"{path}: damaged checkpoint ({type(e).__name__}: {e})") from None


SMALL_GEMM = 4_000_000  # multiply-adds in X·W1 below which a second BLAS thread costs more than it gains


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


_controller = None


def accuracy(net, X, y, transform=None, batch_size=4096):
    """Fraction of rows of X whose predicted class equals y, in row blocks (memmap-friendly)."""
    correct = 0
    for start in range(0, len(X), batch_size):
        xb = X[start:start + batch_size]
        xb = transform(xb) if transform is not None else xb
        correct += int(np.count_nonzero(net.scores(xb).argmax(axis=1) == y[start:start + batch_size]))
    return correct / len(X)


def _draw(rng, n, size, out):
    """Indices drawn with replacement (the classic API's sampling)."""
    if isinstance(rng, np.random.Generator):
        out[...] = rng.integers(0, n, size=size)
    else:
        out[...] = rng.randint(0, n, size=size)
    return out


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


def classic_train(net, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95, reg=5e-6,
                  num_iters=100, batch_size=200, verbose=False):
    """CS231n's TwoLayerNet.train on the shared loop: SGD, batches drawn with replacement from
    NumPy's global random state, learning rate × decay after every epoch of max(N // B, 1) steps."""
    X = check_X(X, net.input_size, net.dtype)
    y = check_y(y, X.shape[0], net.output_size)
    X_val = check_X(X_val, net.input_size, net.dtype, name="X_val")
    y_val = check_y(y_val, X_val.shape[0], net.output_size, name="y_val")
    steps_per_epoch = max(X.shape[0] // batch_size, 1)
    config = TrainConfig(
        epochs=max(math.ceil(num_iters / steps_per_epoch), 1), batch_size=batch_size,
        learning_rate=learning_rate, reg=reg, optimizer="sgd", schedule="step",
        lr_decay=learning_rate_decay, patience=None, sampling="replacement",
        steps_per_epoch=steps_per_epoch, max_steps=num_iters, seed=None)
    trainer = Trainer(net, config, rng=np.random.mtrand._rand)

    def report(t):
        if verbose and t.step_count % 100 == 0:
            print(f"iteration {t.step_count} / {num_iters}: loss {t.history['step_loss'][-1]:f}")

    trainer.fit(X, y, X_val, y_val, on_batch=report)
    h = trainer.history
    return {"loss_history": h["step_loss"], "train_acc_history": h["train_acc"], "val_acc_history": h["val_acc"]}
