"""Every gate's backward against numerical gradients (float64)."""

import warnings

import numpy as np
import pytest

from twolayer import layers
from twolayer.gradcheck import numerical_gradient, numerical_gradient_array, rel_error


@pytest.fixture
def rng():
    return np.random.default_rng(42)


def test_affine_backward_matches_numerical(rng):
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    out, cache = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w + b)
    dx, dw, db = layers.affine_backward(dout, cache)
    assert (
        rel_error(
            dx, numerical_gradient_array(lambda v: layers.affine_forward(v, w, b)[0], x, dout)
        )
        < 1e-7
    )
    assert (
        rel_error(
            dw, numerical_gradient_array(lambda v: layers.affine_forward(x, v, b)[0], w, dout)
        )
        < 1e-7
    )
    assert (
        rel_error(
            db, numerical_gradient_array(lambda v: layers.affine_forward(x, w, v)[0], b, dout)
        )
        < 1e-7
    )


def test_affine_backward_skips_dx_on_request(rng):
    x, w, b = rng.standard_normal((3, 2)), rng.standard_normal((2, 4)), np.zeros(4)
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(np.ones((3, 4)), cache, need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dw, x.T @ np.ones((3, 4)))


def test_relu_backward_matches_numerical(rng):
    x = rng.standard_normal((7, 9))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink, where the derivative is undefined
    dout = rng.standard_normal(x.shape)
    out, cache = layers.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    dx = layers.relu_backward(dout, cache)
    assert (
        rel_error(dx, numerical_gradient_array(lambda v: layers.relu_forward(v)[0], x, dout)) < 1e-7
    )


def test_relu_inplace_equals_out_of_place(rng):
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    ref_out, ref_cache = layers.relu_forward(x.copy())
    ref_dx = layers.relu_backward(dout.copy(), ref_cache)
    buf = x.copy()
    out, cache = layers.relu_forward(buf, inplace=True)
    assert out is buf
    d = dout.copy()
    dx = layers.relu_backward(d, cache, inplace=True)
    assert dx is d
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)


def test_softmax_loss_matches_numerical_and_known_value(rng):
    scores = rng.standard_normal((8, 5))
    y = rng.integers(0, 5, size=8)
    loss, dscores = layers.softmax_loss(scores, y)
    # independent reference: -mean log softmax
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(8), y])), rel=1e-12)
    num = numerical_gradient(lambda s: layers.softmax_loss(s, y)[0], scores.copy())
    assert rel_error(dscores, num) < 1e-8


def test_softmax_loss_of_uniform_scores_is_log_c():
    loss, _ = layers.softmax_loss(np.zeros((4, 10)), np.arange(4))
    assert loss == pytest.approx(np.log(10))


def test_softmax_loss_is_stable_for_huge_scores():
    scores = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]])
    y = np.array([1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            loss, dscores = layers.softmax_loss(scores, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    assert loss == pytest.approx((2e4 + 2e4) / 2)  # each row pays score_max - score_y


def test_softmax_loss_inplace_reuses_the_buffer(rng):
    scores = rng.standard_normal((3, 4))
    y = np.array([0, 3, 1])
    ref_loss, ref_d = layers.softmax_loss(scores.copy(), y)
    buf = scores.copy()
    loss, d = layers.softmax_loss(buf, y, inplace=True)
    assert d is buf and loss == pytest.approx(ref_loss)
    np.testing.assert_allclose(d, ref_d)


def test_softmax_loss_with_a_given_argmax_is_the_same(rng):
    scores = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, size=6)
    loss, d = layers.softmax_loss(scores, y)
    loss2, d2 = layers.softmax_loss(scores, y, argmax=scores.argmax(axis=1))
    assert loss2 == loss
    np.testing.assert_array_equal(d2, d)


def test_out_of_place_gates_leave_their_inputs_alone(rng):
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    x0, dout0 = x.copy(), dout.copy()
    _, cache = layers.relu_forward(x)
    dx = layers.relu_backward(dout, cache)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(dx, dout0 * (x0 > 0))


def test_float32_gates_stay_float32(rng):
    x, w = (
        rng.standard_normal((6, 5)).astype(np.float32),
        rng.standard_normal((5, 3)).astype(np.float32),
    )
    out, cache = layers.affine_forward(x, w, np.zeros(3, np.float32))
    dx, dw, db = layers.affine_backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_allclose(db, np.full(3, 6.0))  # Σ over 6 rows of ones


def test_log_softmax_matches_log_of_softmax_and_stays_finite(rng):
    scores = rng.standard_normal((5, 4))
    # independent reference: log(exp(s) / Σ exp(s)), fine for small scores
    ref = np.log(np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(layers.log_softmax(scores), ref, rtol=1e-12)
    np.testing.assert_allclose(layers.softmax(scores), np.exp(ref), rtol=1e-12)
    huge = np.array(
        [[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]]
    )  # rows of very different scale: shift per row
    with np.errstate(all="raise", under="ignore"):
        np.testing.assert_allclose(layers.log_softmax(huge), [[0.0, -1e4, -2e4], [-np.log(3)] * 3])
        np.testing.assert_allclose(layers.softmax(huge), [[1.0, 0.0, 0.0], [1 / 3] * 3])


def test_affine_gates_write_into_the_given_buffers(rng):
    # the training loop's contract: with out=/dx=/dw=/db= the results land in those arrays
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    out = np.empty((6, 4))
    got, cache = layers.affine_forward(x, w, b, out=out)
    assert got is out
    bufs = np.empty((6, 5)), np.empty((5, 4)), np.empty(4)
    grads = layers.affine_backward(dout, cache, dx=bufs[0], dw=bufs[1], db=bufs[2])
    assert all(g is buf for g, buf in zip(grads, bufs))
    for g, ref in zip(grads, (dout @ w.T, x.T @ dout, dout.sum(axis=0))):
        np.testing.assert_allclose(g, ref, rtol=1e-12)


def test_weighted_softmax_loss_with_all_weights_zero_is_zero_with_no_gradient():
    scores, y = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]), np.array([0, 2])
    loss, d = layers.softmax_loss(scores, y, weights=np.zeros(2))
    assert loss == 0.0 and type(loss) is float
    np.testing.assert_array_equal(d, np.zeros((2, 3)))


def test_weighted_softmax_loss_with_weights_summing_below_one_is_their_weighted_mean():
    scores, y = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]), np.array([0, 2])
    w = np.array([0.25, 0.5])  # total 0.75
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    per_row = -np.log(p[[0, 1], y])
    loss, d = layers.softmax_loss(scores, y, weights=w)
    np.testing.assert_allclose(loss, (per_row @ w) / 0.75, rtol=1e-12)
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(d, (p - onehot) * (w / 0.75)[:, None], rtol=1e-12, atol=1e-15)
