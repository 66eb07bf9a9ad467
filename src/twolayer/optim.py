"""Update rules. Each optimizer updates parameters in place: given w, dw and its own state."""
from __future__ import annotations

import numpy as np


class Optimizer:
    """Base: ``step(params, grads, lr)`` updates every array of ``params`` in place."""

    name = "base"
    state_names: tuple = ()

    def __init__(self, weight_decay=0.0):
        # Decoupled weight decay (Loshchilov & Hutter): w -= lr·wd·w, on weights only.
        self.weight_decay = weight_decay
        self.state = {}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        for name, w in params.items():
            self.update(name, w, grads[name], lr)
            if self.weight_decay and name.startswith("W"):
                w *= 1.0 - lr * self.weight_decay

    def update(self, name, w, dw, lr):
        raise NotImplementedError

    def buffer(self, key, like):
        buf = self.state.get(key)
        if buf is None:
            buf = self.state[key] = np.zeros_like(like)
        return buf

    def scratch(self, name, like):
        """A work buffer shaped like ``like``, so that updates allocate nothing; never saved."""
        return self.buffer("tmp_" + name, like)

    def state_dict(self):
        """Arrays and counters needed to resume exactly (work buffers excluded)."""
        return {"t": self.t, "arrays": {k: v for k, v in self.state.items() if not k.startswith("tmp_")}}

    def load_state_dict(self, state):
        self.t = int(state["t"])
        self.state = {k: np.array(v) for k, v in state["arrays"].items()}


class SGD(Optimizer):
    """w -= lr·dw; with momentum μ: v = μ·v - lr·dw, w += v;
    Nesterov (CS231n form): w += -μ·v_prev + (1 + μ)·v."""

    name = "sgd"

    def __init__(self, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(weight_decay)
        self.momentum = momentum
        self.nesterov = nesterov

    def update(self, name, w, dw, lr):
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

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, name, w, dw, lr):
        m = self.buffer("m_" + name, w)
        v = self.buffer("v_" + name, w)
        tmp = self.scratch(name, w)
        m *= self.beta1
        m += np.multiply(dw, 1 - self.beta1, out=tmp)
        np.multiply(dw, dw, out=tmp)
        tmp *= 1 - self.beta2
        v *= self.beta2
        v += tmp
        # Python floats, not NumPy float64 scalars: those would make every float32 operation below
        # compute in float64 through temporary casting buffers
        step = float(lr * np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t))
        eps_hat = float(self.eps * np.sqrt(1 - self.beta2 ** self.t))
        # w -= lr·m̂/(√v̂+ε), rewritten so that one division by (√v + ε') suffices
        np.sqrt(v, out=tmp)
        tmp += eps_hat
        np.divide(m, tmp, out=tmp)
        tmp *= step
        w -= tmp


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")


def make_optimizer(name, momentum=0.9, weight_decay=0.0):
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
