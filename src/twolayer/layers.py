"""Gates of the circuit: affine, ReLU and the softmax cross-entropy loss.

Each forward returns ``(out, cache)``; each backward turns the upstream gradient into
gradients for the gate's inputs. Optional ``out=`` buffers and ``inplace`` flags let the
training loop reuse memory; they change where results are written, never the math.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=64)
def ones(n, dtype):
    """A read-only vector of n ones: sums over rows or columns as BLAS products (a few times
    faster than ndarray.sum on small arrays)."""
    v = np.ones(n, dtype)
    v.flags.writeable = False
    return v


def matmul(a, b, out=None):
    """a·b; ``a`` may be a SciPy sparse matrix (CSR/CSC), multiplied as it is, never densified."""
    if not hasattr(a, "tocsr"):
        return np.matmul(a, b, out=out)
    product = np.asarray(a @ b)  # sparse · dense is dense
    if out is None:
        return product
    out[...] = product
    return out


def affine_forward(x, w, b, out=None):
    """out = x·w + b; ``out`` may be a preallocated (N, M) buffer; x may be sparse."""
    out = matmul(x, w, out=out)
    out += b
    return out, (x, w)


def affine_backward(dout, cache, need_dx=True, dx=None, dw=None, db=None):
    """dx = dout·wᵀ, dw = xᵀ·dout, db = Σ_rows dout. ``need_dx=False`` skips dx (first layer)."""
    x, w = cache
    dw = matmul(x.T, dout, out=dw)
    db = np.matmul(ones(dout.shape[0], dout.dtype), dout, out=db)  # Σ_rows as a BLAS product
    dx = np.matmul(dout, w.T, out=dx) if need_dx else None
    return dx, dw, db


def relu_forward(x, inplace=False, mask=None):
    """h = max(x, 0), written as h = x·[x > 0]. The cache is the mask [x > 0]; ``mask`` may be a
    preallocated boolean buffer, so that neither pass allocates.

    (Multiplying by the mask is several times faster in NumPy than ``np.maximum(x, 0)``.)
    """
    mask = np.greater(x, 0, out=mask)
    out = np.multiply(x, mask, out=x if inplace else None)
    return out, mask


def relu_backward(dout, cache, inplace=False):
    """dx = dout where the input was positive, else 0: dout·[x > 0]."""
    return np.multiply(dout, cache, out=dout if inplace else None)


def softmax_loss(scores, y, inplace=False, argmax=None, weights=None):
    """Mean softmax cross-entropy and its gradient.

    loss = mean(logsumexp(s) - s_y), computed on max-shifted scores so that any finite
    scores give a finite loss; dL/dscores = (softmax(s) - onehot(y)) / N.
    With ``weights`` w (one per row, >= 0) the mean is weighted, as scikit-learn's MLP does:
    loss = Σ w_i·CE_i / Σ w, dL/dscores_i = w_i·(softmax(s_i) - onehot(y_i)) / Σ w (all zero when Σ w = 0).
    With ``inplace=True`` the scores buffer is turned into dscores; ``argmax``, the row-wise
    argmax of the scores if the caller already has it, saves computing it again.
    """
    n = scores.shape[0]
    rows = np.arange(n)
    s = scores if inplace else scores.copy()
    # the row maximum, read at the argmax: far cheaper than s.max(axis=1) for a few columns
    s -= s[rows, s.argmax(axis=1) if argmax is None else argmax][:, None]
    s_y = s[rows, y]
    np.exp(s, out=s)
    sumexp = s @ ones(s.shape[1], s.dtype)
    if weights is None:
        loss = float(np.log(sumexp).sum() - s_y.sum()) / n
        s *= np.reciprocal(sumexp * n)[:, None]  # softmax / N
        s[rows, y] -= 1.0 / n
        return loss, s
    w = np.asarray(weights, dtype=s.dtype)
    total = float(w.sum())
    if total <= 0:
        s[...] = 0
        return 0.0, s
    w_n = w / total
    loss = float((np.log(sumexp) - s_y) @ w_n)
    s *= (w_n / sumexp)[:, None]  # w_i·softmax / Σw
    s[rows, y] -= w_n
    return loss, s


def softmax(scores):
    """Row-wise softmax, shifted by the row maximum for stability."""
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_softmax(scores):
    """Row-wise log-softmax: s - max - log Σ exp(s - max)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted
