"""The training loop: batches, schedules, validation, early stopping, divergence, the best epoch.

It never touches the math: each step asks the model for (loss, grads) and the optimizer for
an update; the model's buffers and their size come from the model too. The command line, the
tuner and the scikit-learn estimator run this loop; the classic ``TwoLayerNet.train``
(classic.py) runs CS231n's own loop, whose records and decays fall at other points, on this
module's batches, validation and divergence error. Its records and their files (history,
checkpoints) are in checkpoint.py.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from . import checkpoint
from .callbacks import ReduceLROnPlateau, clip_grad_norm
from .checkpoint import Best, Checkpoint, History
from .checks import gib, limit, scaled_weights
from .errors import DivergedError, InputError, Setting
from .optim import make_optimizer
from .schedules import learning_rate_at
from .settings import (  # noqa: F401 (re-exported)
    AUTO,
    AUTO_EPOCHS,
    AUTO_STEPS,
    RULES,
    RunSettings,
    TrainConfig,
    check_setting,
    is_auto,
)
from .threads import BlasThreads, Choice


class Model(Protocol):
    """What the loop needs of a model (TwoLayerNet is one). The loop never imports net.py:
    net.py imports classic.py for the classic ``.train``, which imports the loop, so the
    dependency runs one way."""

    params: dict[str, np.ndarray]
    dtype: np.dtype

    @property
    def input_size(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...

    @property
    def output_size(self) -> int: ...

    def workspace(self, batch_size: int) -> Any:
        """Buffers for batches of up to batch_size rows, handed back to forward_backward."""
        ...

    def batch_bytes(self, batch_size: int) -> int:
        """Bytes of workspace(batch_size), counted before it is allocated."""
        ...

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


class RandomSource(Protocol):
    """Where the loop draws batches from: a np.random.Generator, or NumPy's legacy global
    state (classic.GlobalRandomState: CS231n's np.random.seed world)."""

    def permutation(self, x: int) -> np.ndarray: ...


DATA_SCALE = (
    1e6  # a loss that overflows on inputs larger than this is the data's fault, not the step size's
)


class Trainer:
    """Runs the loop on one net; keeps optimizer, schedule, random state and history so that
    training can continue (partial_fit, --resume) exactly where it stopped."""

    def __init__(
        self,
        net: Model,
        config: TrainConfig | None = None,
        rng: np.random.Generator | RandomSource | None = None,
        *,
        threads: int | None = None,
        note: Callable[[str], object] | None = None,
    ) -> None:
        self.net = net
        # BLAS threads: None chooses by the problem's size and the machine's load (threads.py);
        # note, when given, is told the choice and its reason (--debug, verbose)
        self.threads = check_setting("threads", threads)
        self.note = note
        self.blas: Choice | None = None  # the last fit's thread choice
        self.config = config or TrainConfig()
        c = self.config
        unresolved = [k for k in AUTO if is_auto(getattr(c, k, None))]
        if unresolved:
            raise InputError(
                f"{', '.join(unresolved)} still 'auto': decide them from the data first "
                "(twolayer.defaults.resolve_run)"
            )
        self.optimizer = make_optimizer(
            c.optimizer, momentum=c.momentum, weight_decay=c.weight_decay
        )
        # rng: a Generator (seeded from config.seed) or NumPy's global RandomState (GlobalRandomState)
        self.rng = rng if rng is not None else np.random.default_rng(c.seed)
        self.history = History()
        self.epoch = 0  # completed epochs
        self.step_count = 0
        self.best: Best | None = None  # no weights copy when stopping on the training loss
        self.bad_epochs = 0
        self.stop_reason: str | None = None
        self.interrupt: KeyboardInterrupt | None = (
            None  # the KeyboardInterrupt that stopped the last fit, if any
        )
        self.work: Any = None  # the step's buffers (the model's workspace), made by fit
        # the knobs of twolayer.callbacks: a factor on the schedule's rate (ReduceLROnPlateau),
        # a bound on the gradients' global norm, and a validation score replacing accuracy
        self.lr_scale = 1.0
        self.clip_norm: float | None = c.clip_grad_norm
        self.val_score: Callable[[Trainer], float] | None = None
        self.val_scores: list[float] = []
        # schedule 'plateau': halve the rate after 3 epochs without a gain, or a quarter of the
        # patience when that is longer (its state is the history's: load_checkpoint replays it,
        # so a resumed run goes on exactly)
        self.plateau = (
            ReduceLROnPlateau(patience=max(3, (c.patience or 0) // 4), tol=max(c.tol, 1e-4))
            if c.schedule == "plateau"
            else None
        )

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
        n = X.shape[0]
        if n == 0:
            raise InputError("the training set is empty")
        epochs = self.config.resolve_epochs(n) if epochs is None else epochs
        bs = self.config.batch_for(n)
        check_batch_memory(bs, X.shape[1], self.net)
        self.work = self.net.workspace(bs)
        batch = Batch(X, y, bs, self.net.dtype, transform, augment, sample_weight)
        validate = Validation(X_val, y_val, transform)
        self.stop_reason = self.interrupt = None
        threads = BlasThreads(bs * X.shape[1] * self.net.hidden_size, self.threads, self.note)
        with threads:
            try:
                while self.epoch < epochs and self.stop_reason is None:
                    if not self._epoch(batch, validate, epochs, on_batch):
                        break  # max_steps inside the epoch: a partial epoch, no record
                    if checkpoint is not None:
                        checkpoint(self)
                    if on_epoch is not None:
                        on_epoch(self)
                    threads.refresh(self.epoch)
            except KeyboardInterrupt as e:
                # Ctrl-C, or SIGTERM/SIGHUP turned into one (runs.stop_signals)
                self.stop_reason = "interrupted"
                self.interrupt = e
        self.blas = threads.choice
        if self.has_best_weights and self.stop_reason != "diverged":
            self.restore_best()  # model selection on validation accuracy (patience is set)
        if self.stop_reason is None:
            self.stop_reason = "completed"
        return self.history

    def _epoch(
        self,
        batch: Batch,
        validate: Validation,
        epochs: int,
        on_batch: Callable[[Trainer], object] | None,
    ) -> bool:
        """One epoch of steps, then its record; False when max_steps ended it part way."""
        c, n = self.config, batch.n
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
        lr *= self.lr_scale
        loss_sum, correct, seen = 0.0, 0, 0
        for idx in self.batch_order(n, batch.size, c.steps_for(n)):
            loss, n_correct = self.step(*batch.gather(idx, self.rng), lr, batch.weights(idx))
            loss_sum += loss * len(idx)
            correct += n_correct
            seen += len(idx)
            if on_batch is not None:
                on_batch(self)
        if self.stop_reason == "max_steps":
            return False  # no schedule step, no record
        if not all(np.isfinite(v).all() for v in self.net.params.values()):
            # the last step's update overflowed (its loss was finite): never an epoch's record,
            # never the best weights
            self._diverged(float("nan"), None)
        seconds = time.perf_counter() - t0  # the steps' time, without the validation
        val_acc = validate(self.net)
        self._end_epoch(lr, loss_sum / seen, correct / seen, val_acc, seconds, epochs)
        return True

    def batch_order(self, n: int, bs: int, steps: int) -> Iterator[np.ndarray]:
        """The row indices of each step of one epoch: slices of one permutation ('shuffle') or
        draws with replacement ('replacement', CS231n's sampling). Stops early at max_steps."""
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
        if self.clip_norm is not None:
            clip_grad_norm(grads, self.clip_norm)
        self.optimizer.step(self.net.params, grads, lr)
        self.step_count += 1
        self.history["step_loss"].append(loss)
        return loss, n_correct

    def _end_epoch(self, lr, loss, train_acc, val_acc, seconds, epochs):
        """Record the finished epoch; then the early-stopping bookkeeping, on the validation
        accuracy or, without validation rows (val_acc None), on minus the training loss."""
        self.epoch += 1
        h = self.history
        h["epoch"].append(self.epoch)
        h["loss"].append(loss)
        h["train_acc"].append(train_acc)
        h["val_acc"].append(val_acc)
        h["lr"].append(lr)
        h["seconds"].append(seconds)
        score = -loss if val_acc is None or self.config.monitor == "loss" else val_acc
        if self.val_score is not None:  # e.g. the estimator's scoring=
            self.val_scores.append(self.val_score(self))
            score = self.val_scores[-1]
        if self.plateau is not None:
            self.plateau.on_epoch_end(self)
        if self.config.patience is not None:
            self._early_stopping(score, val_acc, epochs)

    def _early_stopping(self, score, val_acc, epochs):
        """Keep the best epoch and count the epochs without a gain of more than tol. monitor
        'loss' (with validation rows) counts on the training loss, against the best before it
        (the history's, so a resumed run counts on), and keeps the weights of the best validation
        epoch; otherwise both are the score's. A tie keeps the later epoch (it trained longer)."""
        c = self.config
        assert c.patience is not None
        if c.monitor == "loss" and val_acc is not None:
            losses = self.history["loss"]
            improved = len(losses) == 1 or losses[-1] < min(losses[:-1]) - max(c.tol, 1e-4)
            score = val_acc
        else:  # as scikit-learn's MLP: the count restarts only on a gain of more than tol
            improved = self.best is None or score > self.best.score + c.tol
        if self.best is None or score >= self.best.score:
            # without validation data the loop stops on the training loss and keeps the last
            # weights, as scikit-learn's MLP does: no copy to restore
            weights = (
                {k: v.copy() for k, v in self.net.params.items()} if val_acc is not None else None
            )
            self.best = Best(score, self.epoch, weights)
        if improved:
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= c.patience and self.epoch < epochs:
                self.stop_reason = "early_stopping"

    def _diverged(self, loss, xb):
        """Stop on a non-finite loss (or, with xb None, weights that overflowed at an epoch's
        end), keeping the best weights if any: the inputs are blamed when they are huge."""
        if self.has_best_weights:
            self.restore_best()
            kept = f"the best weights (epoch {self.best.epoch}) were kept"
        else:
            kept = NOTHING_KEPT
        self.stop_reason = "diverged"
        raise divergence(loss, xb, self.step_count + 1, self.config.learning_rate, kept)

    def restore_best(self) -> None:
        assert self.best is not None and self.best.params is not None, (
            "restore_best needs a best epoch"
        )
        for k, v in self.best.params.items():
            self.net.params[k][...] = v

    @property
    def has_best_weights(self) -> bool:
        """A copy of the best epoch's weights is kept (patience set, validation rows given)."""
        return self.best is not None and self.best.params is not None

    @property
    def best_epoch(self) -> int | None:
        return None if self.best is None else self.best.epoch

    # -- checkpoints (the file format: checkpoint.py) -----------------------------------
    def save_checkpoint(self, path: str | os.PathLike[str], fingerprint: Any = None) -> None:
        """Everything needed to resume exactly, written atomically. ``fingerprint`` (of the
        data) lets load_checkpoint refuse a checkpoint of another run."""
        state = Checkpoint(
            params=self.net.params,
            opt_state=self.optimizer.state_dict(),
            best=self.best,
            epoch=self.epoch,
            step_count=self.step_count,
            bad_epochs=self.bad_epochs,
            history=self.history,
            rng=checkpoint.rng_state(self.rng),
        )
        checkpoint.save(path, state, self.config, fingerprint)

    def load_checkpoint(self, path: str | os.PathLike[str], fingerprint: Any = None) -> None:
        """Continue from a checkpoint of this same run; a foreign or mismatched one is refused
        with one line (shapes, optimizer, settings other than epochs, data fingerprint)."""
        state = checkpoint.load(path, self.net.params, self.config, fingerprint)
        for k, v in state.params.items():
            self.net.params[k][...] = v
        self.optimizer.load_state_dict(state.opt_state)
        if state.best is not None:
            self.best = state.best
        self.epoch, self.step_count, self.bad_epochs = (
            state.epoch,
            state.step_count,
            state.bad_epochs,
        )
        self.history = state.history
        if self.plateau is not None:
            self.lr_scale = self.plateau.replay(self.history, self.config.monitor == "loss")
        checkpoint.set_rng_state(self.rng, state.rng, path)


NOTHING_KEPT = "no finite weights from a finished epoch exist"


def divergence(loss, xb, step, learning_rate, kept):
    """The error for a non-finite loss at ``step`` (1-based) on batch xb: the inputs' fault when
    they are huge (InputError), else the step size's (DivergedError); ``kept`` says what remains."""
    with np.errstate(all="ignore"):
        peak = 0.0 if xb is None else float(np.max(np.abs(xb)))
    if peak > DATA_SCALE:  # the inputs, not the step size, overflow the scores or the gradients
        return InputError(
            f"training overflowed at step {step} (loss {loss}): the inputs have "
            f"values up to {f'{peak:.0e}'.replace('e+', 'e')}: scale them, e.g. ",
            Setting("preprocess", value="standardize"),
            f"; {kept}",
        )
    error = DivergedError(
        f"training diverged: the loss became {loss} at step {step}; {kept}. Try a smaller ",
        Setting("learning_rate"),
        f" (now {learning_rate:g}).",
    )
    error.learning_rate = learning_rate  # the rate that diverged (an 'auto' one as decided)
    return error


def check_batch_memory(batch_size: int, n_features: int, net: Model, label="batch_size") -> None:
    """Refuse a minibatch whose buffers (the gathered rows of X and the model's workspace)
    exceed MAX_BATCH_BYTES."""
    need = batch_size * n_features * net.dtype.itemsize + net.batch_bytes(batch_size)
    if need > limit("MAX_BATCH_BYTES"):
        raise InputError(
            f"{label} {batch_size} needs {gib(need)} for one minibatch's buffers, more "
            f"than the limit of {gib(limit('MAX_BATCH_BYTES'))} (TWOLAYER_MAX_BATCH_BYTES)"
        )


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
    n = X.shape[0]  # not len(X): SciPy sparse matrices have no len
    for start in range(0, n, batch_size):
        xb = X[start : start + batch_size]
        xb = transform(xb) if transform is not None else xb
        scores = net.scores(xb, name=name, first_row=start, check=check)
        correct += int(np.count_nonzero(scores.argmax(axis=1) == y[start : start + batch_size]))
    return correct / n


class Validation:
    """The validation accuracy after each epoch, or None without validation rows."""

    def __init__(self, X_val, y_val, transform=None):
        self.X, self.y, self.transform = X_val, y_val, transform
        self.given = X_val is not None and X_val.shape[0] > 0

    def __call__(self, net: Model) -> float | None:
        if not self.given:
            return None
        return accuracy(net, self.X, self.y, self.transform, check=False)


def _draw(rng, n, size):
    """Indices drawn with replacement (CS231n's sampling)."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, n, size=size)
    return rng.randint(0, n, size=size)


class Batch:
    """Gathers a training batch into preallocated buffers: rows, labels, the net's dtype, the
    per-batch preprocessing of streamed data and the augmentation."""

    def __init__(self, X, y, bs, dtype, transform=None, augment=None, sample_weight=None):
        self.X, self.y, self.transform, self.augment, self.dtype = X, y, transform, augment, dtype
        self.n, self.size = X.shape[0], bs
        self.direct = X.dtype == dtype and transform is None
        self.sparse = hasattr(X, "tocsr")  # SciPy CSR rows: gathered as a CSR batch, never dense
        self.xb = None if self.sparse else np.empty((bs, X.shape[1]), X.dtype)
        self.yb = np.empty(bs, np.intp)
        self.sample_weight = (
            None if sample_weight is None else scaled_weights(sample_weight, dtype).astype(dtype)
        )
        self.wb = None if sample_weight is None else np.empty(bs, dtype)

    def weights(self, idx):
        """The batch's sample weights, or None when the rows are unweighted."""
        if self.sample_weight is None:
            return None
        return self.sample_weight.take(idx, out=self.wb[: len(idx)], mode="clip")

    def gather(self, idx: np.ndarray, rng: Any) -> tuple[np.ndarray, np.ndarray]:
        m = len(idx)
        if self.sparse:
            return self.X[idx].astype(self.dtype, copy=False), self.y.take(idx, out=self.yb[:m])
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
