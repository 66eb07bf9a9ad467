"""TwoLayerNet: affine → ReLU → affine → softmax, with L2 regularisation.

Loss = mean cross-entropy + reg·(ΣW1² + ΣW2²); biases are not regularised.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import layers, modelfile
from .checks import (
    check_dtype,
    check_finite,
    check_model_size,
    check_sample_weight,
    check_X,
    check_y,
)
from .classic import classic_train
from .data.preprocess import Preprocessor
from .errors import InputError, Setting
from .optim import packed
from .settings import check_setting


class TwoLayerNet:
    """A two-layer fully-connected classifier, CS231n-compatible.

    W1 = std·randn(input_size, hidden_size) and W2 = std·randn(hidden_size, output_size)
    are drawn in that order from NumPy's global random state, unless ``seed`` (an int or
    a ``np.random.Generator``) is given; biases start at zero. ``std="he"`` (or None, as
    in RunSettings) scales W1 by sqrt(2 / input_size) and W2 by sqrt(1 / hidden_size) instead (the
    command line's default). Bad arguments are refused in the words of the settings table.
    """

    params: dict[str, np.ndarray]
    class_names: list[str] | None
    preprocessor: Preprocessor | None
    meta: dict[str, Any]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        std: float | str | None = 1e-4,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        input_size = int(check_setting("input_size", input_size))
        hidden_size = int(check_setting("hidden_size", hidden_size))
        output_size = int(check_setting("output_size", output_size))
        if std is None or (isinstance(std, str) and std == "he"):  # None: as in RunSettings
            # He initialisation for the ReLU layer, LeCun's for the output layer
            std1, std2 = np.sqrt(2.0 / input_size), np.sqrt(1.0 / hidden_size)
        else:
            std1 = std2 = float(check_setting("std", std))
        self.dtype = check_dtype(dtype)
        check_model_size(
            input_size, hidden_size, output_size, self.dtype
        )  # before allocating anything
        normal: Callable[..., np.ndarray]
        if seed is None:
            normal = np.random.randn
        else:
            rng = (
                seed
                if isinstance(seed, np.random.Generator)
                else np.random.default_rng(check_setting("seed", seed))
            )
            normal = lambda *shape: rng.standard_normal(shape)  # noqa: E731
        with np.errstate(over="ignore", invalid="ignore"):  # refused just below, in plain words
            self.params = packed(
                {  # one buffer: the update rules can treat it as one array
                    "W1": (std1 * normal(input_size, hidden_size)).astype(self.dtype),
                    "b1": np.zeros(hidden_size, self.dtype),
                    "W2": (std2 * normal(hidden_size, output_size)).astype(self.dtype),
                    "b2": np.zeros(output_size, self.dtype),
                }
            )
        _check_representable(self.params, std, self.dtype)
        self.preprocessor = None  # fitted on training data; applied by transform()
        self.class_names = None
        self.meta = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # unpickled (or joblib-mapped read-only) parameters: one writable buffer again
        self.__dict__.update(state)
        self.params = packed(self.params)

    # -- shapes -------------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return self.params["W1"].shape[0]

    @property
    def hidden_size(self) -> int:
        return self.params["W1"].shape[1]

    @property
    def output_size(self) -> int:
        return self.params["W2"].shape[1]

    # -- the training loop's buffers ------------------------------------------------------
    def workspace(self, batch_size: int) -> Workspace:
        """Buffers for batches of up to batch_size rows, reused by forward_backward from step to step."""
        return Workspace(self.params, batch_size)

    def batch_bytes(self, batch_size: int) -> int:
        """Bytes of workspace(batch_size)'s per-row buffers: two hidden activations (a, dh), the
        scores and the ReLU mask (one byte per hidden unit)."""
        per_row = (2 * self.hidden_size + self.output_size) * self.dtype.itemsize + self.hidden_size
        return batch_size * per_row

    # -- the math -----------------------------------------------------------------------
    @overload
    def loss(
        self, X: ArrayLike, y: None = None, reg: float = 0.0, sample_weight: ArrayLike | None = None
    ) -> np.ndarray: ...
    @overload
    def loss(
        self, X: ArrayLike, y: ArrayLike, reg: float = 0.0, sample_weight: ArrayLike | None = None
    ) -> tuple[float, dict[str, np.ndarray]]: ...

    @np.errstate(over="ignore", invalid="ignore")
    def loss(self, X, y=None, reg=0.0, sample_weight=None):
        """Scores (N, C) when y is None; otherwise (loss, grads) with grads keyed like params.
        ``sample_weight``: one weight >= 0 per row; the data loss is then their weighted mean."""
        # NaN or ±inf in X always reaches the scores, so X is scanned only when the result is
        # not finite: the scan would cost as much as a tenth of the step (benchmarks/bench_speed.py).
        X = check_X(X, self.input_size, self.dtype, finite=False)
        if y is None:
            scores = self.scores(X, check=False)
            if not np.isfinite(scores).all():
                check_finite(X)
                bad_scores(scores, X, self.dtype, "X", 0)
            return scores
        y = check_y(y, X.shape[0], self.output_size)
        reg = float(check_setting("reg", reg))
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        loss, grads, _ = self.forward_backward(X, y, reg, weights=sample_weight)
        if not np.isfinite(loss):
            check_finite(X)
        return loss, grads

    def forward_backward(
        self,
        X: np.ndarray,
        y: np.ndarray,
        reg: float,
        work: Workspace | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[float, dict[str, np.ndarray], int]:
        """The circuit, gate by gate, on checked inputs. Returns (loss, grads, n_correct).
        ``weights``: per-row weights of the data loss (see layers.softmax_loss), or None.

        With a Workspace the activations and gradients land in its buffers (the training
        loop's fast path); without one they are fresh arrays.
        """
        p = self.params
        if work is None:  # fresh arrays
            a_buf = mask_buf = scores_buf = dh_buf = None
            g = {k: np.empty_like(v) for k, v in p.items()}
            scratch = {k: np.empty_like(p[k]) for k in ("W1", "W2")}
        else:
            a_buf, mask_buf, scores_buf, dh_buf = work.view(X.shape[0])
            g, scratch = work.grads, work.scratch

        a, cache1 = layers.affine_forward(X, p["W1"], p["b1"], out=a_buf)
        h, cache_relu = layers.relu_forward(a, inplace=True, mask=mask_buf)
        scores, cache2 = layers.affine_forward(h, p["W2"], p["b2"], out=scores_buf)
        predicted = scores.argmax(axis=1)
        n_correct = int(np.count_nonzero(predicted == y))
        data_loss, dscores = layers.softmax_loss(
            scores, y, inplace=True, argmax=predicted, weights=weights
        )

        dh, _, _ = layers.affine_backward(dscores, cache2, dx=dh_buf, dw=g["W2"], db=g["b2"])
        dh = layers.relu_backward(dh, cache_relu, inplace=True)
        layers.affine_backward(dh, cache1, need_dx=False, dw=g["W1"], db=g["b1"])

        loss = data_loss
        if reg:
            for name in ("W1", "W2"):
                w = p[name].ravel()
                loss += reg * float(np.dot(w, w))
                # d(reg·ΣW²)/dW = 2·reg·W
                g[name] += np.multiply(p[name], 2 * reg, out=scratch[name])
        return loss, g, n_correct

    @np.errstate(over="ignore", invalid="ignore")
    def scores(
        self,
        X: np.ndarray,
        batch_size: int = 4096,
        name: str = "X",
        first_row: int = 0,
        check: bool = True,
    ) -> np.ndarray:
        """Class scores for already-checked X, computed in row blocks to bound memory.

        A row whose scores are not finite (inputs so large that the products overflow the
        dtype) is refused by name and number: its label would be garbage.
        """
        p = self.params
        out = np.empty((X.shape[0], self.output_size), self.dtype)
        for start in range(0, X.shape[0], batch_size):
            xb = X[start : start + batch_size]
            # a SciPy sparse block stays sparse (the first product takes it as it is)
            xb = xb.astype(self.dtype) if hasattr(xb, "tocsr") else np.asarray(xb, self.dtype)
            h, _ = layers.relu_forward(layers.affine_forward(xb, p["W1"], p["b1"])[0], inplace=True)
            block = layers.affine_forward(h, p["W2"], p["b2"], out=out[start : start + batch_size])[
                0
            ]
            if check and not np.isfinite(block).all():
                bad_scores(
                    block, X[start : start + batch_size], self.dtype, name, first_row + start
                )
        return out

    def predict_proba(self, X: ArrayLike, *, name: str = "X") -> np.ndarray:
        """Class probabilities of raw rows X, rows summing to one.

        A net with a preprocessor (every model trained by ``twolayer train`` or loaded from its
        model.npz) applies it first, so the answer is the command line's. ``loss`` and ``scores``
        take network inputs: ``net.loss(net.transform(X), y)``.
        """
        return layers.softmax(self.scores(self._network_input(X, name), name=name))

    def predict(self, X: ArrayLike, *, name: str = "X") -> np.ndarray:
        """Predicted class labels (indices into the output layer) of raw rows X; see predict_proba."""
        return self.scores(self._network_input(X, name), name=name).argmax(axis=1)

    def _network_input(self, X: ArrayLike, name: str = "X") -> np.ndarray:
        if self.preprocessor is None:
            return check_X(X, self.input_size, self.dtype, name=name)
        # raw rows keep their dtype until the preprocessing has scaled them (float64 values beyond
        # float32's range are fine if preprocessing brings them in)
        return self.transform(check_X(X, self.input_size, name=name))

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Raw inputs → network inputs: the stored preprocessing (if any), in the net's dtype."""
        if self.preprocessor is None:
            return np.asarray(X, dtype=self.dtype)
        return self.preprocessor.transform(X, self.dtype)

    # -- training -----------------------------------------------------------------------
    def train(
        self,
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
        threads: int | None = None,
    ) -> dict[str, list[float]]:
        """CS231n's minibatch SGD loop: each iteration a batch drawn with replacement from NumPy's
        global random state (``np.random.choice``) and one step ``param -= learning_rate * grad``;
        whenever ``it % max(N // batch_size, 1) == 0`` (after step 0, then once per epoch) the
        accuracy on that batch and on X_val is recorded and the learning rate multiplied by
        ``learning_rate_decay``. ``verbose`` prints the loss at iterations 0, 100, 200, ...
        ``threads``: BLAS threads (None: chosen by the problem's size and the machine's load;
        verbose says which).

        Returns {'loss_history', 'train_acc_history', 'val_acc_history'}.
        """
        return classic_train(
            self,
            X,
            y,
            X_val,
            y_val,
            learning_rate=learning_rate,
            learning_rate_decay=learning_rate_decay,
            reg=reg,
            num_iters=num_iters,
            batch_size=batch_size,
            verbose=verbose,
            threads=threads,
        )

    # -- files (the format: modelfile.py) ------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to an .npz (no pickles), atomically: write a temp file, then rename."""
        modelfile.write(
            path, self.params, self.dtype, self.class_names, self.preprocessor, self.meta
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TwoLayerNet:
        """Read a model written by save(); never unpickles anything."""
        f = modelfile.read(path)
        net = cls.__new__(cls)
        net.dtype = f.dtype
        net.params = packed(f.params)  # one buffer, as __init__ makes it
        net.class_names, net.preprocessor, net.meta = f.class_names, f.preprocessor, f.meta
        return net


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


def bad_scores(scores, X, dtype, name, first_row):
    """Raise for the first row of a block whose scores are not finite, saying why."""
    i = int(np.flatnonzero(~np.isfinite(scores).all(axis=1))[0])
    row = np.asarray(X[i], dtype=np.float64)
    # callers check raw inputs for NaN and ±inf first, so a non-finite network input here comes from
    # preprocessing values too large for the dtype
    peak = float(np.max(np.abs(row), initial=0.0))
    if peak <= 1e6:  # ordinary inputs: the weights are what overflows
        raise InputError(
            f"{name}: row {first_row + i} gives non-finite class scores although its values are only up "
            f"to {peak:.3g}: the model's weights overflow {np.dtype(dtype).name} (a diverged or damaged "
            "model)"
        )
    size = f"(up to {peak:.3g}) " if np.isfinite(peak) else "(after preprocessing) "
    raise InputError(
        f"{name}: row {first_row + i} gives non-finite class scores: its values {size}"
        f"overflow {np.dtype(dtype).name}; scale them, e.g. ",
        Setting("preprocess", value="standardize"),
    )


def _check_representable(params, std, dtype):
    """Refuse an initial scale whose weights, or the squares the L2 term sums, the dtype cannot
    hold (std=1e308, or 1e200 in float32): they would be inf and every loss NaN, quietly."""
    for k in ("W1", "W2"):
        w = params[k]
        with np.errstate(over="ignore", invalid="ignore"):
            ok = np.isfinite(w).all() and math.isfinite(float(np.dot(w.ravel(), w.ravel())))
        if not ok:
            big = np.finfo(dtype).max
            raise InputError(
                f"std={std!r} is too large for {np.dtype(dtype).name}: the initial {k} (or its "
                f"square in the L2 term) overflows the largest {np.dtype(dtype).name}, {big:.3g}"
            )
