"""Magnitudes that overflow: an initial scale the dtype cannot hold is refused in plain words; sample
weights are scaled before they are summed, so 1e308 (or 1e39 in float32) weighs like 1."""

import warnings

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.estimator import TwoLayerClassifier
from twolayer.layers import softmax_loss


@pytest.mark.parametrize(
    "std, dtype",
    [
        (1e308, "float64"),
        (1e200, "float64"),
        (1e160, "float64"),
        (1e200, "float32"),
        (1e39, "float32"),
        (1e25, "float32"),
        (np.float64(1e300), "float64"),
    ],
)
def test_an_initial_scale_that_overflows_is_refused(std, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no RuntimeWarning on the way
        with pytest.raises(ValueError, match=f"std=.* is too large for {dtype}"):
            TwoLayerNet(6, 5, 3, std=std, dtype=dtype)


@pytest.mark.parametrize("std, dtype", [(1e100, "float64"), (1e15, "float32"), (1.0, "float32")])
def test_a_large_but_representable_scale_is_kept(std, dtype):
    net = TwoLayerNet(6, 5, 3, std=std, dtype=dtype, seed=0)
    assert np.isfinite(net.params["W1"]).all()


@pytest.mark.parametrize("scale", [1e308, 1e300, 1e39, 1e-300])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_huge_or_tiny_sample_weights_weigh_like_their_ratios(scale, dtype):
    net = TwoLayerNet(4, 5, 3, std=0.1, dtype=dtype, seed=0)
    X = np.random.default_rng(0).standard_normal((6, 4))
    y = np.array([0, 1, 2, 0, 1, 2])
    ratios = np.array([1.0, 1.0, 0.5, 0.5, 0.25, 1.0])
    base, _ = net.loss(X, y, sample_weight=ratios)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grads = net.loss(X, y, sample_weight=ratios * scale)
    assert np.isfinite(loss) and loss == pytest.approx(base, rel=1e-5)
    assert all(np.isfinite(g).all() for g in grads.values())


def test_softmax_loss_scales_weights_before_summing():
    s = np.array([[1.0, 2.0], [0.5, 0.1], [0.0, 0.0]])
    y = np.array([1, 0, 1])
    a, _ = softmax_loss(s.copy(), y, weights=np.array([1.0, 1.0, 1.0]))
    b, _ = softmax_loss(s.copy(), y, weights=np.full(3, 1e308))
    assert a == pytest.approx(b)


@pytest.mark.parametrize("scale", [1e308, 1e200])
def test_the_estimator_trains_with_huge_weights_as_with_unit_ones(scale):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(int)
    kw = dict(hidden_size=4, max_epochs=3, random_state=0)
    a = TwoLayerClassifier(**kw).fit(X, y, sample_weight=np.ones(60))
    b = TwoLayerClassifier(**kw).fit(X, y, sample_weight=np.full(60, scale))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6)
