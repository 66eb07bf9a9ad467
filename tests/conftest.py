import numpy as np
import pytest


@pytest.fixture
def toy():
    """The CS231n two_layer_net notebook's toy net and data."""
    from twolayer import TwoLayerNet

    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y
