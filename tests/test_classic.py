"""TwoLayerNet.train against CS231n's own loop (assignment 1, neural_net.py), written out below."""

import copy

import numpy as np
import pytest

from twolayer import TwoLayerNet, classic
from twolayer.data import load


def assignment_train(
    self,
    X,
    y,
    X_val,
    y_val,
    learning_rate=1e-3,
    learning_rate_decay=0.95,
    reg=5e-6,
    num_iters=100,
    batch_size=200,
    verbose=False,
    floor=False,
):
    """The assignment's TwoLayerNet.train with its TODOs filled in as the notebook expects, in
    plain NumPy on the net's public loss and predict. floor=True divides num_train // batch_size
    as the Python 2 original did (the library's reading when N is no multiple of batch_size)."""
    num_train = X.shape[0]
    if floor:
        iterations_per_epoch = max(num_train // batch_size, 1)
    else:
        iterations_per_epoch = max(num_train / batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        idx = np.random.choice(num_train, batch_size, replace=True)
        X_batch = X[idx]
        y_batch = y[idx]

        loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
        loss_history.append(loss)

        for param in self.params:
            self.params[param] -= learning_rate * grads[param]

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss))  # noqa: UP031

        if it % iterations_per_epoch == 0:
            train_acc = (self.predict(X_batch) == y_batch).mean()
            val_acc = (self.predict(X_val) == y_val).mean()
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)
            learning_rate *= learning_rate_decay

    return {
        "loss_history": loss_history,
        "train_acc_history": train_acc_history,
        "val_acc_history": val_acc_history,
    }


def both(net, X, y, X_val, y_val, seed=1, floor=False, capsys=None, **kwargs):
    """The library's and the assignment's run from the same weights and the same global seed:
    (stats, reference stats, net after, reference net after[, printed lines of each])."""
    ref = copy.deepcopy(net)
    np.random.seed(seed)
    stats = net.train(X, y, X_val, y_val, **kwargs)
    out = capsys.readouterr().out if capsys else ""
    np.random.seed(seed)
    expected = assignment_train(ref, X, y, X_val, y_val, floor=floor, **kwargs)
    ref_out = capsys.readouterr().out if capsys else ""
    return stats, expected, net, ref, out, ref_out


def assert_same_run(stats, expected, net, ref):
    assert set(stats) == {"loss_history", "train_acc_history", "val_acc_history"}
    for key in stats:
        assert len(stats[key]) == len(expected[key]), key
        np.testing.assert_allclose(stats[key], expected[key], rtol=1e-12, atol=1e-12, err_msg=key)
    for k in net.params:
        np.testing.assert_allclose(net.params[k], ref.params[k], rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def digits():
    ds = load("digits", seed=0)
    return ds.X_train / 16, ds.y_train, ds.X_val / 16, ds.y_val


def test_toy_run_is_the_assignment_s(toy):
    net, X, y = toy  # the notebook's: 5 inputs of dimension 4, 10 hidden units, 3 classes
    stats, expected, net, ref, _, _ = both(
        net, X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100
    )
    assert_same_run(stats, expected, net, ref)
    # one step per epoch (5 rows, batches of 200): a record after every step
    assert len(stats["loss_history"]) == len(stats["val_acc_history"]) == 100
    assert stats["loss_history"][-1] < 0.02  # the notebook's "final training loss" check


@pytest.mark.parametrize(
    "rows, floor",
    [
        (1200, False),  # 6 steps per epoch: the assignment's line, num_train / batch_size, verbatim
        (None, True),  # all 1,257 rows: 6.285 steps, read as the Python 2 original's 1257 // 200
    ],
)
def test_digits_run_with_several_steps_per_epoch_is_the_assignment_s(digits, rows, floor):
    X, y, X_val, y_val = digits
    X, y = X[:rows], y[:rows]
    np.random.seed(0)
    net = TwoLayerNet(64, 50, 10, std=1e-1)
    stats, expected, net, ref, _, _ = both(
        net, X, y, X_val, y_val, floor=floor, learning_rate=0.5, reg=1e-3, num_iters=50,
        batch_size=200,
    )  # fmt: skip
    assert_same_run(stats, expected, net, ref)
    # records at iterations 0, 6, ..., 48; the first one right after the first step
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 9
    assert stats["val_acc_history"][0] < 0.5 < stats["val_acc_history"][-1]


def test_verbose_prints_the_assignment_s_lines_at_iterations_0_to_900(toy, capsys):
    net, X, y = toy
    stats, expected, net, ref, out, ref_out = both(
        net, X, y, X, y, capsys=capsys, learning_rate=1e-1, num_iters=1000, verbose=True
    )
    assert_same_run(stats, expected, net, ref)
    assert out == ref_out
    assert out.splitlines() == [
        f"iteration {it} / 1000: loss {stats['loss_history'][it]:f}" for it in range(0, 1000, 100)
    ]


def test_the_learning_rate_decays_right_after_step_0_then_once_per_epoch(digits, monkeypatch):
    rates = []
    step = classic.SGD.step
    monkeypatch.setattr(
        classic.SGD, "step", lambda self, p, g, lr: (rates.append(lr), step(self, p, g, lr))
    )
    X, y, X_val, y_val = digits
    np.random.seed(0)
    TwoLayerNet(64, 20, 10, std=1e-1).train(
        X[:1200], y[:1200], X_val, y_val, learning_rate=1.0, learning_rate_decay=0.5,
        num_iters=14, batch_size=200,
    )  # fmt: skip
    # step 0 at the base rate; steps 1..6 halved once, 7..12 twice, 13 three times
    assert rates == [1.0] + [0.5] * 6 + [0.25] * 6 + [0.125]
