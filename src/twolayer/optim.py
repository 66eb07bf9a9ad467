"""Update rules. Each optimizer updates parameters in place: given w, dw and its own state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def packed(arrays):
    """Copies of ``arrays`` (a dict) as views into one contiguous 1-D buffer, in the dict's order.

    The net's parameters and the loop's gradients are laid out so; an update rule can then treat
    all of them as one array (one NumPy call per operation instead of one per parameter)."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    dtype = next(iter(arrays.values())).dtype
    flat = np.empty(sum(a.size for a in arrays.values()), dtype)
    views, start = {}, 0
    for k, a in arrays.items():
        views[k] = flat[start : start + a.size].reshape(a.shape)
        views[k][...] = a
        start += a.size
    return views


def _buffer_of(arrays):
    """The one 1-D buffer whose consecutive slices the arrays are (in order), else None."""
    values = list(arrays.values())
    base = values[0].base
    # an unpickled array's base is the bytes it was read from: not a buffer of ours
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    address = base.ctypes.data
    for a in values:
        if (
            a.base is not base
            or not a.flags.c_contiguous
            or a.dtype != base.dtype
            or a.ctypes.data != address
        ):
            return None
        address += a.nbytes
    return base if address == base.ctypes.data + base.nbytes else None


class Optimizer:
    """Base: ``step(params, grads, lr)`` updates every array of ``params`` in place."""

    name = "base"

    def __init__(self, weight_decay: float = 0.0) -> None:
        # Decoupled weight decay (Loshchilov & Hutter): w -= lr·wd·w, on weights only.
        self.weight_decay = weight_decay
        self.state: dict[str, np.ndarray] = {}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        self.t += 1
        for name, w in params.items():
            self.update(name, w, grads[name], lr)
            if self.weight_decay and name.startswith("W"):
                w *= 1.0 - lr * self.weight_decay

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def buffer(self, key: str, like: np.ndarray) -> np.ndarray:
        buf = self.state.get(key)
        if buf is None:
            buf = self.state[key] = np.zeros_like(like)
        return buf

    def scratch(self, name: str, like: np.ndarray) -> np.ndarray:
        """A work buffer shaped like ``like``, so that updates allocate nothing; never saved."""
        return self.buffer("tmp_" + name, like)

    def state_dict(self) -> dict[str, Any]:
        """Arrays and counters needed to resume exactly (work buffers excluded)."""
        return {
            "t": self.t,
            "arrays": {k: v for k, v in self.state.items() if not k.startswith("tmp_")},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = int(state["t"])
        self.state = {k: np.array(v) for k, v in state["arrays"].items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # after pickle, joblib (perhaps memory-mapped read-only) or deepcopy: writable copies of
        # the state, and no cached layout of arrays that are not the live parameters
        self.__dict__.update(state)
        self.state = {k: np.array(v) for k, v in self.state.items()}
        if "_flat" in state:
            self._flat = None


class SGD(Optimizer):
    """w -= lr·dw; with momentum μ: v = μ·v - lr·dw, w += v;
    Nesterov (CS231n form): w += -μ·v_prev + (1 + μ)·v."""

    name = "sgd"

    def __init__(
        self, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ) -> None:
        super().__init__(weight_decay)
        self.momentum = momentum
        self.nesterov = nesterov

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        lr_dw = np.multiply(dw, lr, out=self.scratch(name, w))
        if not self.momentum:
            w -= lr_dw
            return
        v = self.buffer(name, w)
        v *= self.momentum
        if self.nesterov:
            w -= v  # -μ·v_prev
            v -= lr_dw
            w += np.multiply(v, 1 + self.momentum, out=lr_dw)
        else:
            v -= lr_dw
            w += v


class Adam(Optimizer):
    """m = β1·m + (1-β1)·dw; v = β2·v + (1-β2)·dw²;
    w -= lr·m̂/(√v̂ + ε) with bias-corrected m̂ = m/(1-β1^t), v̂ = v/(1-β2^t)."""

    name = "adam"
    # ε is added to √v̂ (Kingma & Ba); False adds it to √v, as scikit-learn's MLP does
    eps_on_v_hat = True

    def __init__(
        self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0
    ) -> None:
        super().__init__(weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._flat = None  # (params, grads, (w, dw, m, v, tmp)): the one-buffer layout last seen

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        """As the base class; when params and grads each live in one buffer (``packed``), the
        rule runs once over the whole buffer: the same arithmetic on every element, so the
        result is the same bit for bit, with a quarter of the NumPy calls."""
        flat = self._flat_buffers(params, grads)
        if flat is None:
            return super().step(params, grads, lr)
        self.t += 1
        w, dw, m, v, tmp = flat
        self._adam(w, dw, m, v, tmp, lr)
        if self.weight_decay:
            for name, w in params.items():
                if name.startswith("W"):
                    w *= 1.0 - lr * self.weight_decay

    def _flat_buffers(self, params, grads):
        cached = self._flat
        if (
            cached is not None
            and all(a is b for a, b in zip(params.values(), cached[0]))
            and all(a is b for a, b in zip(grads.values(), cached[1]))
        ):
            return cached[2]
        w, dw = _buffer_of(params), _buffer_of(grads)
        if w is None or dw is None or w.shape != dw.shape or w.dtype != dw.dtype:
            self._flat = None
            return None
        # the moment buffers in the same layout; the per-parameter state entries become views of them
        moments = {}
        for kind in ("m", "v"):
            flat = np.zeros_like(w)
            start = 0
            for name, p in params.items():
                view = flat[start : start + p.size].reshape(p.shape)
                old = self.state.get(f"{kind}_{name}")
                if old is not None:
                    view[...] = old
                self.state[f"{kind}_{name}"] = view
                start += p.size
            moments[kind] = flat
        self._flat = (
            tuple(params.values()),
            tuple(grads.values()),
            (w, dw, moments["m"], moments["v"], np.empty_like(w)),
        )
        return self._flat[2]

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._flat = (
            None  # the loaded moments are separate arrays: lay them out again on the next step
        )

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        self._adam(
            w,
            dw,
            self.buffer("m_" + name, w),
            self.buffer("v_" + name, w),
            self.scratch(name, w),
            lr,
        )

    def _adam(self, w, dw, m, v, tmp, lr):
        m *= self.beta1
        m += np.multiply(dw, 1 - self.beta1, out=tmp)
        np.multiply(dw, dw, out=tmp)
        tmp *= 1 - self.beta2
        v *= self.beta2
        v += tmp
        # Python floats, not NumPy float64 scalars: those would make every float32 operation below
        # compute in float64 through temporary casting buffers
        step = float(lr) * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        eps_hat = self.eps * math.sqrt(1 - self.beta2**self.t) if self.eps_on_v_hat else self.eps
        # w -= lr·m̂/(√v̂+ε), rewritten so that one division by (√v + ε') suffices
        np.sqrt(v, out=tmp)
        tmp += eps_hat
        np.divide(m, tmp, out=tmp)
        tmp *= step
        w -= tmp


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")


def make_optimizer(name: str, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """Build an optimizer by its command-line name. ``weight_decay`` is AdamW's decoupled decay;
    the other rules regularise through the loss (reg)."""
    if name == "sgd":
        return SGD()
    if name == "momentum":
        return SGD(momentum=momentum)
    if name == "nesterov":
        return SGD(momentum=momentum, nesterov=True)
    if name == "adam":
        return Adam()
    if name == "adamw":
        return Adam(weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
