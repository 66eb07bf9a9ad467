"""Gates of the circuit: affine, ReLU and the softmax cross-entropy loss.

Each forward returns ``(out, cache)``; each backward turns the upstream gradient into
gradients for the gate's inputs. Optional ``out=`` buffers and ``inplace`` flags let the
training loop reuse memory; they change where results are written, never the math.
"""
from __future__ import annotations

import numpy as np


def affine_forward(x, w, b, out=None):
    """out = x·w + b; ``out`` may be a preallocated (N, M) buffer."""
    out = np.matmul(x, w, out=out)
    out += b
    return out, (x, w)


def affine_backward(dout, cache, need_dx=True, dx=None, dw=None, db=None):
    """dx = dout·wᵀ, dw = xᵀ·dout, db = Σ_rows dout. ``need_dx=False`` skips dx (first layer)."""
    x, w = cache
    dw = np.matmul(x.T, dout, out=dw)
    db = np.sum(dout, axis=0, out=db)
    dx = np.matmul(dout, w.T, out=dx) if need_dx else None
    return dx, dw, db


def relu_forward(x, inplace=False):
    """h = max(x, 0). The cache is h itself: h > 0 exactly where x > 0."""
    out = np.maximum(x, 0, out=x if inplace else None)
    return out, out


def relu_backward(dout, cache, inplace=False):
    """dx = dout where the input was positive, else 0."""
    dx = dout if inplace else dout.copy()
    np.copyto(dx, 0, where=cache <= 0)
    return dx


def softmax_loss(scores, y, inplace=False):
    """Mean softmax cross-entropy and its gradient.

    loss = mean(logsumexp(s) - s_y), computed on max-shifted scores so that any finite
    scores give a finite loss; dL/dscores = (softmax(s) - onehot(y)) / N.
    With ``inplace=True`` the scores buffer is turned into dscores.
    """
    n = scores.shape[0]
    rows = np.arange(n)
    s = scores if inplace else scores.copy()
    s -= s.max(axis=1, keepdims=True)
    s_y = s[rows, y]
    np.exp(s, out=s)
    sumexp = s.sum(axis=1, keepdims=True)
    loss = float(np.log(sumexp[:, 0]).sum() - s_y.sum()) / n
    s /= sumexp
    s[rows, y] -= 1
    s /= n
    return loss, s


def softmax(scores):
    """Row-wise softmax, shifted by the row maximum for stability."""
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e
