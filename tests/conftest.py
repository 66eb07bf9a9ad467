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


@pytest.fixture
def small(tmp_path):
    """A 60-row, 3-feature, 2-class .npz: its data spec."""
    X = np.random.default_rng(0).standard_normal((60, 3))
    np.savez(tmp_path / "s.npz", X_train=X, y_train=np.arange(60) % 2)
    return f"npz:{tmp_path / 's.npz'}"
