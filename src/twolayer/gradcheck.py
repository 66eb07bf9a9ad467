"""Numerical gradients by centered differences, and relative errors against analytic ones."""

from __future__ import annotations

import copy

import numpy as np

from .net import TwoLayerNet
from .optim import packed
from .settings import check_setting


def numerical_gradient(f, x, h=1e-5):
    """df/dx for a scalar function f of the array x: (f(x + h) - f(x - h)) / 2h per element.

    x is perturbed in place and restored, so f may read it through a closure.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fplus = f(x)
        x[i] = old - h
        fminus = f(x)
        x[i] = old
        grad[i] = (fplus - fminus) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Gradient of sum(f(x) · dout) with respect to x, for array-valued gates."""
    return numerical_gradient(lambda v: float(np.sum(f(v) * dout)), x, h)


def rel_error(a, b):
    """max |a - b| / max(1e-8, |a| + |b|), CS231n's relative error."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_net(net, X, y, reg=0.0, h=1e-5, sample_weight=None):
    """Max relative error between analytic and numerical gradients, per parameter.

    Both gradients are computed in float64 on a float64 copy of the net, whatever the net's dtype:
    in float32 a step of h = 1e-5 is below the rounding of the weights, so the centred difference
    of a float32 loss is noise (relative errors of 1.0 that say nothing about the gradient). The
    net itself is left untouched.
    """
    net64 = float64_copy(net)
    X = np.asarray(X, dtype=np.float64)
    _, grads = net64.loss(X, y, reg=reg, sample_weight=sample_weight)
    grads = {k: v.copy() for k, v in grads.items()}
    errors = {}
    for name, param in net64.params.items():
        num = numerical_gradient(
            lambda _: net64.loss(X, y, reg=reg, sample_weight=sample_weight)[0], param, h
        )
        errors[name] = rel_error(num, grads[name])
    return errors


def float64_copy(net):
    """A shallow copy of the net (same class, same preprocessor) whose parameters are float64
    copies of the net's, so its loss and gradients are computed in float64."""
    net64 = copy.copy(net)
    net64.dtype = np.dtype(np.float64)
    net64.params = packed({k: np.asarray(v, np.float64) for k, v in net.params.items()})
    return net64


def random_problem(n=5, d=4, hidden=10, classes=3, seed=0):
    """A small float64 net and data set whose gradients are easy to check."""
    check_setting("seed", seed)
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(d, hidden, classes, std=1e-1, seed=rng)
    for b in ("b1", "b2"):
        net.params[b][...] = 0.1 * rng.standard_normal(net.params[b].shape)
    X = 10 * rng.standard_normal((n, d))
    y = rng.integers(0, classes, size=n)
    return net, X, y
