"""Numerical gradients and check_net: right in float64 whatever the net computes in."""

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.gradcheck import check_net, numerical_gradient, random_problem, rel_error


def _float32_toy(toy):
    net64, X, y = toy
    net = TwoLayerNet(4, 10, 3, dtype=np.float32)
    for k, v in net64.params.items():
        net.params[k][...] = v
    return net, X, y


def test_check_net_on_a_float32_net_checks_in_float64(toy):
    net, X, y = _float32_toy(toy)
    before = {k: v.copy() for k, v in net.params.items()}
    errors = check_net(net, X, y, reg=0.05)
    # computed in float32, W1 and b1 read 1.0: a step of 1e-5 vanishes in float32 rounding
    assert max(errors.values()) < 1e-7, errors
    assert net.dtype == np.float32 and all(v.dtype == np.float32 for v in net.params.values())
    for k, v in before.items():
        np.testing.assert_array_equal(net.params[k], v)  # the net is left as it was


def test_check_net_gives_the_float64_nets_errors_for_its_float32_twin(toy):
    net32, X, y = _float32_toy(toy)
    net64 = TwoLayerNet(4, 10, 3)
    for k, v in net32.params.items():
        net64.params[k][...] = v  # the same (float32-representable) weights
    assert check_net(net32, X, y, reg=0.05) == check_net(net64, X, y, reg=0.05)


class _WrongBias(TwoLayerNet):
    """A net whose analytic gradient of b2 is off by a factor: check_net must see it."""

    def loss(self, X, y=None, reg=0.0, sample_weight=None):
        out = super().loss(X, y, reg=reg, sample_weight=sample_weight)
        if y is None:
            return out
        loss, grads = out
        return loss, {**grads, "b2": 2 * grads["b2"]}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_net_catches_a_wrong_analytic_gradient(toy, dtype):
    _, X, y = toy
    np.random.seed(0)
    net = _WrongBias(4, 10, 3, std=1e-1, dtype=dtype)
    errors = check_net(net, X, y, reg=0.05)
    assert errors["b2"] > 0.1
    assert max(errors[k] for k in ("W1", "b1", "W2")) < 1e-7


def test_numerical_gradient_of_a_quadratic():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    num = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert rel_error(num, 3 * x**2) < 1e-8
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_random_problem_passes_check_net():
    net, X, y = random_problem(seed=3)
    assert max(check_net(net, X, y, reg=0.1).values()) < 1e-7
