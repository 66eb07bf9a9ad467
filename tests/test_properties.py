"""Properties that hold for any finite inputs of any small shape (Hypothesis).

Shapes: N 1..8 samples, D 1..6 features, H 1..6 hidden units, C 1..5 classes; reg in [0, 1].
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from twolayer import TwoLayerNet, layers
from twolayer.gradcheck import numerical_gradient

FAST = settings(max_examples=150, deadline=None)


def finite(bound):
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problems(draw, x_bound=1e3, w_bound=10.0):
    """(net, X, y, reg): a float64 net with drawn parameters and a data set that fits it."""
    n, d = draw(st.integers(1, 8)), draw(st.integers(1, 6))
    h, c = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    net = TwoLayerNet(d, h, c, std=0.0)
    for name, shape in (("W1", (d, h)), ("b1", (h,)), ("W2", (h, c)), ("b2", (c,))):
        net.params[name] = draw(arrays(np.float64, shape, elements=finite(w_bound)))
    X = draw(arrays(np.float64, (n, d), elements=finite(x_bound)))
    y = draw(arrays(np.intp, n, elements=st.integers(0, c - 1)))
    reg = draw(st.floats(0, 1))
    return net, X, y, reg


def pre_activations(net, X):
    return X @ net.params["W1"] + net.params["b1"]


@FAST
@given(problems())
def test_loss_is_finite_and_nonnegative(problem):
    net, X, y, reg = problem
    loss, grads = net.loss(X, y, reg=reg)
    assert np.isfinite(loss) and loss >= 0
    assert all(np.isfinite(g).all() for g in grads.values())


@FAST
@given(problems(x_bound=10.0, w_bound=1.0))
def test_gradients_match_numerical_gradients(problem):
    net, X, y, reg = problem
    a = pre_activations(net, X)
    # keep away from the ReLU kink: a step of h in W1 or b1 moves a by at most h·(1 + max|x|)
    assume(np.abs(a).min() > 1e-3)
    _, grads = net.loss(X, y, reg=reg)
    grads = {k: v.copy() for k, v in grads.items()}
    for name, param in net.params.items():
        num = numerical_gradient(lambda _: net.loss(X, y, reg=reg)[0], param, h=1e-5)
        np.testing.assert_allclose(grads[name], num, rtol=1e-4, atol=1e-6, err_msg=name)


@FAST
@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)), elements=finite(1e3)))
def test_softmax_rows_are_probabilities(scores):
    p = layers.softmax(scores)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # the largest score gets the largest probability
    rows = np.arange(len(scores))
    assert (p[rows, scores.argmax(axis=1)] == p.max(axis=1)).all()


@FAST
@given(problems(x_bound=10.0, w_bound=1.0))
def test_float32_agrees_with_float64(problem):
    net64, X, y, reg = problem
    a = pre_activations(net64, X)
    # float32 rounding (~1e-7 relative) must not move a pre-activation across the kink
    assume(np.abs(a).min() > 1e-3 * (1 + np.abs(a).max()))
    net32 = TwoLayerNet(
        net64.input_size, net64.hidden_size, net64.output_size, std=0.0, dtype=np.float32
    )
    net32.params = {k: v.astype(np.float32) for k, v in net64.params.items()}
    loss64, g64 = net64.loss(X, y, reg=reg)
    loss32, g32 = net32.loss(X.astype(np.float32), y, reg=reg)
    assert abs(loss32 - loss64) <= 1e-4 * (1 + abs(loss64))
    for k in g64:
        assert g32[k].dtype == np.float32
        scale = 1 + np.abs(g64[k]).max()
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-4 * scale, err_msg=k)


@FAST
@given(problems(), st.randoms(use_true_random=False))
def test_predictions_do_not_depend_on_row_order(problem, random):
    net, X, y, reg = problem
    perm = np.array(random.sample(range(len(X)), len(X)))
    scores = net.loss(X)
    scores_perm = net.loss(X[perm])
    np.testing.assert_allclose(
        scores_perm, scores[perm], rtol=1e-12, atol=1e-9 * (1 + np.abs(scores).max())
    )
    # labels agree wherever the top two scores are not (numerically) tied
    top2 = (
        np.sort(scores, axis=1)[:, -2:] if scores.shape[1] > 1 else np.hstack([scores - 1, scores])
    )
    clear = (top2[:, 1] - top2[:, 0]) > 1e-9 * (1 + np.abs(scores).max())
    pred, pred_perm = net.predict(X), net.predict(X[perm])
    assert (pred_perm[clear[perm]] == pred[perm][clear[perm]]).all()
    # the mean loss is a mean over rows: row order cannot change it
    loss, _ = net.loss(X, y, reg=reg)
    loss_perm, _ = net.loss(X[perm], y[perm], reg=reg)
    assert abs(loss - loss_perm) <= 1e-12 * (1 + abs(loss))
