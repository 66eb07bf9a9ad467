"""TwoLayerNet: affine → ReLU → affine → softmax, with L2 regularisation.

Loss = mean cross-entropy + reg·(ΣW1² + ΣW2²); biases are not regularised.
"""
from __future__ import annotations

import json

import numpy as np

from . import layers
from .checks import check_dtype, check_finite, check_nonnegative, check_positive_int, check_X, check_y
from .data.preprocess import Preprocessor
from .errors import InputError
from .io import meta_array, read_npz, save_npz
from .train import classic_train

PARAM_NAMES = ("W1", "b1", "W2", "b2")
FORMAT = "twolayer-model"
FORMAT_VERSION = 1


class TwoLayerNet:
    """A two-layer fully-connected classifier, CS231n-compatible.

    W1 = std·randn(input_size, hidden_size) and W2 = std·randn(hidden_size, output_size)
    are drawn in that order from NumPy's global random state, unless ``seed`` (an int or
    a ``np.random.Generator``) is given; biases start at zero. ``std="he"`` scales W1 by
    sqrt(2 / input_size) and W2 by sqrt(1 / hidden_size) instead (the command line's default).
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4, dtype=np.float64, seed=None):
        input_size = check_positive_int(input_size, "input_size")
        hidden_size = check_positive_int(hidden_size, "hidden_size")
        output_size = check_positive_int(output_size, "output_size")
        if isinstance(std, str) and std == "he":
            # He initialisation for the ReLU layer, LeCun's for the output layer
            std1, std2 = np.sqrt(2.0 / input_size), np.sqrt(1.0 / hidden_size)
        else:
            std1 = std2 = check_nonnegative(std, "std")
        self.dtype = check_dtype(dtype)
        if seed is None:
            normal = np.random.randn
        else:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            normal = lambda *shape: rng.standard_normal(shape)  # noqa: E731
        self.params = {
            "W1": (std1 * normal(input_size, hidden_size)).astype(self.dtype),
            "b1": np.zeros(hidden_size, self.dtype),
            "W2": (std2 * normal(hidden_size, output_size)).astype(self.dtype),
            "b2": np.zeros(output_size, self.dtype),
        }
        self.preprocessor = None  # fitted on training data; applied by transform()
        self.class_names = None
        self.meta = {}

    # -- shapes -------------------------------------------------------------------------
    @property
    def input_size(self):
        return self.params["W1"].shape[0]

    @property
    def hidden_size(self):
        return self.params["W1"].shape[1]

    @property
    def output_size(self):
        return self.params["W2"].shape[1]

    # -- the math -----------------------------------------------------------------------
    @np.errstate(over="ignore", invalid="ignore")
    def loss(self, X, y=None, reg=0.0):
        """Scores (N, C) when y is None; otherwise (loss, grads) with grads keyed like params."""
        # NaN or ±inf in X always reaches the scores, so X is scanned only when the result is
        # not finite: the scan would cost as much as a tenth of the step (benchmarks/bench_speed.py).
        X = check_X(X, self.input_size, self.dtype, finite=False)
        if y is None:
            scores = self.scores(X)
            if not np.isfinite(scores).all():
                check_finite(X)
            return scores
        y = check_y(y, X.shape[0], self.output_size)
        reg = check_nonnegative(reg, "reg")
        loss, grads, _ = self.forward_backward(X, y, reg)
        if not np.isfinite(loss):
            check_finite(X)
        return loss, grads

    def forward_backward(self, X, y, reg, work=None):
        """The circuit, gate by gate, on checked inputs. Returns (loss, grads, n_correct).

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
        data_loss, dscores = layers.softmax_loss(scores, y, inplace=True, argmax=predicted)

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

    def scores(self, X, batch_size=4096):
        """Class scores for already-checked X, computed in row blocks to bound memory."""
        p = self.params
        out = np.empty((X.shape[0], self.output_size), self.dtype)
        for start in range(0, X.shape[0], batch_size):
            xb = np.asarray(X[start:start + batch_size], dtype=self.dtype)
            h, _ = layers.relu_forward(layers.affine_forward(xb, p["W1"], p["b1"])[0], inplace=True)
            layers.affine_forward(h, p["W2"], p["b2"], out=out[start:start + batch_size])
        return out

    def predict_proba(self, X):
        """Class probabilities, rows summing to one."""
        X = check_X(X, self.input_size, self.dtype)
        return layers.softmax(self.scores(X))

    def predict(self, X):
        """Predicted class labels (indices into the output layer)."""
        X = check_X(X, self.input_size, self.dtype)
        return self.scores(X).argmax(axis=1)

    def transform(self, X):
        """Raw inputs → network inputs: the stored preprocessing (if any), in the net's dtype."""
        if self.preprocessor is None:
            return np.asarray(X, dtype=self.dtype)
        return self.preprocessor.transform(X, self.dtype)

    # -- training -----------------------------------------------------------------------
    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        """Minibatch SGD, CS231n-style: batches drawn with replacement from NumPy's global
        random state, the learning rate multiplied by the decay once per epoch.

        Returns {'loss_history', 'train_acc_history', 'val_acc_history'}.
        """
        return classic_train(self, X, y, X_val, y_val, learning_rate=learning_rate,
                             learning_rate_decay=learning_rate_decay, reg=reg, num_iters=num_iters,
                             batch_size=batch_size, verbose=verbose)

    # -- files --------------------------------------------------------------------------
    def save(self, path):
        """Write the model to an .npz (no pickles), atomically: write a temp file, then rename."""
        bad = [k for k, v in self.params.items() if not np.isfinite(v).all()]
        if bad:  # e.g. weights left by a diverged run: load() would refuse them, so never write them
            raise InputError(f"{path}: not saved: {', '.join(bad)} contain NaN or infinite values "
                             f"(did training diverge? try a smaller learning rate)")
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "dtype": self.dtype.name,
            "class_names": None if self.class_names is None else [str(c) for c in self.class_names],
            **self.meta,
        }
        arrays = dict(self.params)
        if self.preprocessor is not None:
            meta["preprocessor"] = self.preprocessor.get_config()
            arrays.update({f"pre_{k}": v for k, v in self.preprocessor.get_arrays().items()})
        arrays["meta"] = np.array(json.dumps(meta))
        save_npz(path, arrays)

    @classmethod
    def load(cls, path):
        """Read a model written by save(); never unpickles anything."""
        arrays = read_npz(path, required=PARAM_NAMES + ("meta",))
        try:
            meta = json.loads(str(meta_array(arrays["meta"], path)))
        except json.JSONDecodeError:
            raise InputError(f"{path}: model metadata is not valid JSON; the file is damaged") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{path}: not a twolayer model file")
        p = {k: arrays[k] for k in PARAM_NAMES}
        for k, v in p.items():
            if v.dtype not in (np.float32, np.float64):
                raise InputError(f"{path}: array {k} has dtype {v.dtype}, expected float32 or float64")
            if not np.isfinite(v).all():
                raise InputError(f"{path}: array {k} contains NaN or infinite values")
        if not (p["W1"].ndim == p["W2"].ndim == 2 and p["b1"].shape == (p["W1"].shape[1],)
                and p["W2"].shape[0] == p["W1"].shape[1] and p["b2"].shape == (p["W2"].shape[1],)):
            shapes = ", ".join(f"{k} {v.shape}" for k, v in p.items())
            raise InputError(f"{path}: parameter shapes do not fit together ({shapes})")
        try:
            dtype = check_dtype(meta.get("dtype", p["W1"].dtype.name))
        except InputError as e:  # a damaged "dtype" field: name the file, as for every other field
            raise InputError(f"{path}: {e}") from None
        net = cls.__new__(cls)
        net.dtype = dtype
        net.params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in p.items()}
        net.class_names = meta.pop("class_names", None)
        if net.class_names is not None and (not isinstance(net.class_names, list)
                                            or len(net.class_names) != net.output_size
                                            or not all(isinstance(c, str) for c in net.class_names)):
            raise InputError(f"{path}: class names do not match the model's {net.output_size} outputs; "
                             "the file is damaged")
        pre = meta.pop("preprocessor", None)
        net.preprocessor = None
        if pre is not None:
            pre_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("pre_")}
            net.preprocessor = Preprocessor.from_config(pre, pre_arrays, net.input_size, path)
        for key in ("format", "version", "dtype"):
            meta.pop(key, None)
        net.meta = meta
        return net

