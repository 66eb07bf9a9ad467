"""The fast paths (buffers, in-place gates, float32, in-place updates) agree with plain references."""

import numpy as np
import pytest

from twolayer import TwoLayerNet, layers
from twolayer.gradcheck import check_net
from twolayer.net import Workspace
from twolayer.optim import make_optimizer


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def reference_loss(p, X, y, reg):
    """The network written out in float64 NumPy, independent of the gates."""
    p = {k: v.astype(np.float64) for k, v in p.items()}
    X = X.astype(np.float64)
    a = X @ p["W1"] + p["b1"]
    h = np.maximum(a, 0)
    s = h @ p["W2"] + p["b2"]
    s = s - s.max(axis=1, keepdims=True)
    prob = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(prob[np.arange(n), y]).mean() + reg * (
        (p["W1"] ** 2).sum() + (p["W2"] ** 2).sum()
    )
    ds = prob.copy()
    ds[np.arange(n), y] -= 1
    ds /= n
    dh = (ds @ p["W2"].T) * (a > 0)
    grads = {
        "W1": X.T @ dh + 2 * reg * p["W1"],
        "b1": dh.sum(0),
        "W2": h.T @ ds + 2 * reg * p["W2"],
        "b2": ds.sum(0),
    }
    return loss, grads


def problem(rng, dtype, n=30, d=12, hidden=9, classes=4):
    net = TwoLayerNet(d, hidden, classes, std=0.3, dtype=dtype, seed=1)
    net.params["b1"][...] = 0.1 * rng.standard_normal(hidden)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, classes, n)
    return net, X, y


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_loss_and_grads_match_a_float64_reference(rng, dtype, rtol):
    net, X, y = problem(rng, dtype)
    loss, grads = net.loss(X, y, reg=0.03)
    ref_loss, ref_grads = reference_loss(net.params, X, y, 0.03)
    assert loss == pytest.approx(ref_loss, rel=rtol)
    for k, g in grads.items():
        assert g.dtype == dtype
        np.testing.assert_allclose(
            g, ref_grads[k], rtol=rtol, atol=rtol * np.abs(ref_grads[k]).max()
        )


def test_float32_and_float64_nets_agree(rng):
    net64, X, y = problem(rng, np.float64)
    net32 = TwoLayerNet(X.shape[1], 9, 4, dtype=np.float32)
    net32.params = {k: v.astype(np.float32) for k, v in net64.params.items()}
    l64, g64 = net64.loss(X, y, reg=0.01)
    l32, g32 = net32.loss(X.astype(np.float32), y, reg=0.01)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5 * np.abs(g64[k]).max())


def test_workspace_path_equals_fresh_arrays_including_a_short_batch(rng):
    net, X, y = problem(rng, np.float64)
    work = Workspace(net.params, batch_size=30)
    for n in (30, 17, 30):  # a full batch, the short last batch of an epoch, a full one again
        fresh_loss, fresh, fresh_correct = net.forward_backward(X[:n], y[:n], 0.02)
        fresh = {k: v.copy() for k, v in fresh.items()}
        loss, grads, correct = net.forward_backward(X[:n], y[:n], 0.02, work)
        assert loss == fresh_loss and correct == fresh_correct
        assert correct == np.count_nonzero(net.scores(X[:n]).argmax(1) == y[:n])
        for k in grads:
            assert grads[k] is work.grads[k]
            np.testing.assert_array_equal(grads[k], fresh[k])


def test_gradients_check_numerically_with_reg():
    from twolayer.gradcheck import random_problem

    net, X, y = random_problem(seed=3)
    assert max(check_net(net, X, y, reg=0.1).values()) < 1e-7


def test_relu_with_a_mask_buffer_equals_the_plain_gate(rng):
    x = rng.standard_normal((6, 8))
    dout = rng.standard_normal((6, 8))
    ref_out, ref_cache = layers.relu_forward(x.copy())
    ref_dx = layers.relu_backward(dout.copy(), ref_cache)
    mask = np.empty(x.shape, bool)
    buf = x.copy()
    out, cache = layers.relu_forward(buf, inplace=True, mask=mask)
    assert out is buf and cache is mask
    d = dout.copy()
    dx = layers.relu_backward(d, cache, inplace=True)
    assert dx is d
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(dx, np.where(x > 0, dout, 0))
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_loss_matches_log_softmax_reference(rng, dtype):
    scores = (5 * rng.standard_normal((40, 10))).astype(dtype)
    y = rng.integers(0, 10, 40)
    loss, d = layers.softmax_loss(scores.copy(), y)
    s = scores.astype(np.float64)
    logp = s - s.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert loss == pytest.approx(
        -logp[np.arange(40), y].mean(), rel=1e-5 if dtype == np.float32 else 1e-12
    )
    onehot = np.eye(10)[y]
    np.testing.assert_allclose(d, (np.exp(logp) - onehot) / 40, rtol=1e-4, atol=1e-7)
    assert d.dtype == dtype


def reference_updates(name, w, dw, lr, steps, momentum=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """Textbook update rules, applied `steps` times with the same gradient."""
    w, v, m, s = w.copy(), np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        if name == "sgd":
            w = w - lr * dw
        elif name == "momentum":
            v = momentum * v - lr * dw
            w = w + v
        elif name == "nesterov":
            v_prev = v
            v = momentum * v - lr * dw
            w = w - momentum * v_prev + (1 + momentum) * v
        elif name == "adam":
            m = b1 * m + (1 - b1) * dw
            s = b2 * s + (1 - b2) * dw**2
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    return w


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_in_place_updates_match_textbook_rules(rng, name):
    w0 = rng.standard_normal((5, 3))
    dw = rng.standard_normal((5, 3))
    params = {"W1": w0.copy()}
    kept = params["W1"]
    opt = make_optimizer(name)
    for _ in range(4):
        opt.step(params, {"W1": dw}, 0.05)
    assert params["W1"] is kept  # updated in place
    np.testing.assert_allclose(
        params["W1"], reference_updates(name, w0, dw, 0.05, 4), rtol=1e-12, atol=1e-12
    )
    assert not any(
        k.startswith("tmp_") for k in opt.state_dict()["arrays"]
    )  # work buffers are not saved


def test_float32_training_step_stays_float32_and_learns(rng):
    net, X, _ = problem(rng, np.float32, n=200)
    y = (X @ rng.standard_normal((X.shape[1], 4))).argmax(1)  # a learnable labelling
    before = net.loss(X, y, reg=1e-4)[0]
    net.train(X, y, X, y, learning_rate=0.5, reg=1e-4, num_iters=200, batch_size=50)
    assert all(v.dtype == np.float32 for v in net.params.values())
    assert net.loss(X, y, reg=1e-4)[0] < 0.7 * before
