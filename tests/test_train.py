"""The training loop: determinism, early stopping, divergence, checkpoints and exact resume."""

import dataclasses
import tracemalloc

import numpy as np
import pytest

from twolayer import DivergedError, TwoLayerNet
from twolayer.data import load
from twolayer.optim import SGD, Adam
from twolayer.train import TrainConfig, Trainer, accuracy


@pytest.fixture(scope="module")
def digits():
    ds = load("digits", seed=0)
    return ds.X_train / 16, ds.y_train, ds.X_val / 16, ds.y_val


def without_seconds(history):
    return {k: v for k, v in history.items() if k != "seconds"}


def make(config, seed=0):
    return Trainer(TwoLayerNet(64, 32, 10, std=0.1, seed=seed), config)


def test_same_seed_same_history_bit_for_bit(digits):
    cfg = TrainConfig(epochs=4, batch_size=32, seed=5)
    a, b = make(cfg), make(cfg)
    a.fit(*digits)
    b.fit(*digits)
    assert without_seconds(a.history) == without_seconds(b.history)
    for k in a.net.params:
        np.testing.assert_array_equal(a.net.params[k], b.net.params[k])
    c = make(TrainConfig(epochs=4, batch_size=32, seed=6))
    c.fit(*digits)
    assert c.history["loss"] != a.history["loss"]


def test_history_and_learning(digits):
    t = make(TrainConfig(epochs=8, batch_size=32, patience=None, learning_rate=3e-3))
    h = t.fit(*digits)
    assert h["epoch"] == list(range(1, 9)) and len(h["lr"]) == 8
    assert len(h["step_loss"]) == 8 * int(np.ceil(len(digits[1]) / 32))
    assert h["loss"][-1] < h["loss"][0] / 3
    assert h["val_acc"][-1] > 0.85 and h["train_acc"][-1] > 0.9  # chance: 0.1; 180 validation rows


def test_early_stopping_restores_the_best_weights(digits):
    X, y, Xv, yv = digits
    # plain SGD at a learning rate this high makes validation accuracy wander, so the best epoch
    # lies before the last one and "restored" differs from "final"
    t = make(
        TrainConfig(
            epochs=60,
            batch_size=16,
            patience=3,
            learning_rate=0.5,
            optimizer="sgd",
            schedule="constant",
        ),
        seed=1,
    )
    t.fit(X, y, Xv, yv)
    assert t.stop_reason == "early_stopping" and t.epoch < 60
    best_epoch = t.best_epoch
    assert best_epoch < t.epoch
    assert t.history["val_acc"][best_epoch - 1] == max(t.history["val_acc"])
    assert t.history["val_acc"][-1] < max(t.history["val_acc"])  # the final weights were worse
    from twolayer.train import accuracy

    assert accuracy(t.net, Xv, yv) == max(t.history["val_acc"])


def test_divergence_stops_with_message_and_keeps_finite_weights(digits):
    t = make(
        TrainConfig(
            epochs=30, batch_size=64, learning_rate=1e3, reg=1.0, optimizer="sgd", patience=5
        )
    )
    with pytest.raises(DivergedError, match="diverged"):
        t.fit(*digits)
    assert all(np.isfinite(v).all() for v in t.net.params.values())


def test_checkpoint_resume_equals_uninterrupted_run(digits, tmp_path):
    cfg = TrainConfig(epochs=6, batch_size=32, seed=3, patience=3)
    full = make(cfg)
    full.fit(*digits)

    class Killed(Exception):
        pass

    def die_after_3(t):
        if t.epoch == 3:
            raise Killed

    ckpt = tmp_path / "ckpt.npz"
    first = make(cfg)
    with pytest.raises(Killed):
        first.fit(*digits, checkpoint=lambda t: t.save_checkpoint(ckpt), on_epoch=die_after_3)
    resumed = make(cfg, seed=99)  # different initial weights: the checkpoint must overwrite them
    resumed.load_checkpoint(ckpt)
    assert resumed.epoch == 3
    resumed.fit(*digits)
    assert without_seconds(resumed.history) == without_seconds(full.history)
    for k in full.net.params:
        np.testing.assert_array_equal(resumed.net.params[k], full.net.params[k])


def test_a_plateau_run_resumes_exactly(digits, tmp_path):
    """The plateau schedule's state (best score, epochs without a gain, the rate's factor) is the
    history's: a run resumed after the rate was halved goes on at the halved rate, bit for bit."""
    cfg = TrainConfig(epochs=9, batch_size=64, seed=3, schedule="plateau", learning_rate=1e-9)
    full = make(cfg)
    full.fit(*digits)
    assert len(set(full.history["lr"])) == 3  # halved after epochs 4 and 7: the test has teeth
    ckpt = tmp_path / "ckpt.npz"
    first = make(cfg)

    def stop_after_5(t):
        if t.epoch == 5:
            t.stop_reason = "test"

    first.fit(*digits, checkpoint=lambda t: t.save_checkpoint(ckpt), on_epoch=stop_after_5)
    resumed = make(cfg)
    resumed.load_checkpoint(ckpt)
    assert resumed.lr_scale == 0.5 and resumed.plateau.wait == 1
    resumed.fit(*digits)
    assert without_seconds(resumed.history) == without_seconds(full.history)
    for k in full.net.params:
        np.testing.assert_array_equal(resumed.net.params[k], full.net.params[k])


def test_clip_grad_norm_is_a_setting_of_the_loop(digits):
    clipped = make(TrainConfig(epochs=2, clip_grad_norm=1e-3, seed=1))
    assert clipped.clip_norm == 1e-3
    clipped.fit(*digits)
    free = make(TrainConfig(epochs=2, seed=1))
    free.fit(*digits)
    assert clipped.history["loss"][-1] > free.history["loss"][-1]  # tiny steps learn less
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"clip_grad_norm must be a finite number > 0"):
            TrainConfig(clip_grad_norm=bad)


def test_classic_train_uses_global_random_state(toy):
    net, X, y = toy
    params = {k: v.copy() for k, v in net.params.items()}
    np.random.seed(4)
    a = net.train(X, y, X, y, learning_rate=0.1, num_iters=20)
    for k, v in params.items():
        net.params[k][...] = v
    np.random.seed(4)
    b = net.train(X, y, X, y, learning_rate=0.1, num_iters=20)
    assert a["loss_history"] == b["loss_history"]


def test_classic_train_decays_once_per_epoch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)

    def run(decay):
        net = TwoLayerNet(3, 4, 2, std=0.5, seed=0)
        np.random.seed(3)  # the classic API draws batches from NumPy's global state
        return net.train(
            X, y, X, y, learning_rate=0.5, learning_rate_decay=decay, num_iters=25, batch_size=10
        )

    decayed, constant = run(0.5), run(1.0)
    # 5 steps per epoch: validation accuracy recorded (and the rate decayed) after steps 0, 5, ..., 20
    assert len(decayed["val_acc_history"]) == 5 and len(decayed["loss_history"]) == 25
    # as CS231n's loop, the first decay follows step 0: only update 0 uses the base rate, so losses
    # 0 and 1 agree and loss 2 (after the first halved update) differs
    assert decayed["loss_history"][:2] == constant["loss_history"][:2]
    assert decayed["loss_history"][2] != constant["loss_history"][2]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="batch_size must be an integer in 1..10,000,000"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        TrainConfig(learning_rate=-0.1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="lbfgs")


def test_classic_train_defaults_are_cs231n_s():
    # TwoLayerNet.train(X, y, X_val, y_val) = learning_rate 1e-3, decay 0.95, reg 5e-6, 100 iterations of 200
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((450, 3)), rng.integers(0, 2, 450)

    def run(**kwargs):
        net = TwoLayerNet(3, 4, 2, std=0.5, seed=0)
        np.random.seed(3)
        return net.train(X, y, X[:50], y[:50], **kwargs), net

    (default, net_a), (explicit, net_b) = (
        run(),
        run(
            learning_rate=1e-3,
            learning_rate_decay=0.95,
            reg=5e-6,
            num_iters=100,
            batch_size=200,
            verbose=False,
        ),
    )
    assert default == explicit
    assert (
        len(default["loss_history"]) == 100 and len(default["val_acc_history"]) == 50
    )  # 2 steps per epoch
    for k in net_a.params:
        np.testing.assert_array_equal(net_a.params[k], net_b.params[k])


def test_classic_train_prints_the_threads_and_every_100_iterations_when_verbose(toy, capsys):
    net, X, y = toy
    np.random.seed(0)
    stats = net.train(X, y, X, y, num_iters=250, verbose=True)
    out = capsys.readouterr()
    assert out.err.startswith("BLAS threads: 1 (")  # a small problem: one thread; on stderr
    lines = out.out.splitlines()
    assert lines == [
        f"iteration {i} / 250: loss {stats['loss_history'][i]:f}" for i in (0, 100, 200)
    ]
    net.train(X, y, X, y, num_iters=150)
    assert capsys.readouterr().out == ""


def test_classic_train_steps_with_sgd_on_batches_drawn_with_replacement():
    # an independent re-implementation of CS231n's loop for a few steps: same batches, same updates
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 3, 30)
    net, ref = TwoLayerNet(3, 5, 3, std=0.3, seed=1), TwoLayerNet(3, 5, 3, std=0.3, seed=1)
    np.random.seed(9)
    stats = net.train(
        X, y, X, y, learning_rate=0.2, learning_rate_decay=0.5, reg=0.01, num_iters=7, batch_size=8
    )
    np.random.seed(9)
    lr, losses = 0.2, []
    for it in range(7):  # 30 // 8 = 3 steps per epoch: the rate halves after steps 0, 3 and 6
        idx = np.random.randint(0, 30, size=8)
        loss, grads = ref.loss(X[idx], y[idx], reg=0.01)
        losses.append(loss)
        for k in ref.params:
            ref.params[k] -= lr * grads[k]
        if it % 3 == 0:
            lr *= 0.5
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=1e-12)
    for k in ref.params:
        np.testing.assert_allclose(net.params[k], ref.params[k], rtol=1e-12)
    assert (
        len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 3
    )  # recorded after steps 0, 3 and 6


@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_batch_order_is_a_permutation_or_draws_with_replacement(sampling):
    t = Trainer(TwoLayerNet(2, 2, 2, seed=0), TrainConfig(batch_size=4, sampling=sampling, seed=7))
    batches = [b.copy() for b in t.batch_order(10, 4, 3)]
    ref = np.random.default_rng(7)
    if sampling == "shuffle":  # slices of one permutation; the last batch is short
        order = ref.permutation(10)
        expected = [order[0:4], order[4:8], order[8:10]]
    else:
        expected = [ref.integers(0, 10, size=4) for _ in range(3)]
    assert len(batches) == 3
    for got, want in zip(batches, expected):
        np.testing.assert_array_equal(got, want)


def test_history_csv_round_trip_and_a_damaged_field(tmp_path):
    from twolayer.checkpoint import History

    h = History(
        epoch=[1, 2],
        loss=[0.5, 0.25],
        train_acc=[0.5, 0.75],
        val_acc=[None, 0.8],
        lr=[0.1, 0.05],
        seconds=[1.5, 2.0],
    )
    h.write_csv(tmp_path / "history.csv")
    assert (tmp_path / "history.csv").read_text().splitlines() == [
        "epoch,loss,train_acc,val_acc,lr,seconds",
        "1,0.5,0.5,,0.1,1.5",
        "2,0.25,0.75,0.8,0.05,2",
    ]
    back = History.read_csv(tmp_path / "history.csv")
    assert back == {**h, "step_loss": []}
    assert isinstance(back["epoch"][0], int)
    (tmp_path / "extra.csv").write_text("epoch,note,loss\n1,x,0.5\n")  # unknown columns are skipped
    assert History.read_csv(tmp_path / "extra.csv")["loss"] == [0.5]
    with pytest.raises(ValueError, match=r"missing.csv: history not found$"):
        History.read_csv(tmp_path / "missing.csv")
    History(
        epoch=[1_000_000], loss=[0.5], train_acc=[1.0], val_acc=[1.0], lr=[0.1], seconds=[1.0]
    ).write_csv(tmp_path / "long.csv")  # the largest epoch count is written as an integer
    assert History.read_csv(tmp_path / "long.csv")["epoch"] == [1_000_000]
    (tmp_path / "bad.csv").write_text("epoch,loss\n1,0.5\n2,lots\n")
    with pytest.raises(
        ValueError,
        match=r"bad.csv: line 3: field 'loss' must be a finite number, got 'lots'; the file is damaged$",
    ):
        History.read_csv(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0, got 0.0"),
        (
            {"learning_rate_decay": 1.5},
            r"learning_rate_decay must be a number in \(0, 1\], got 1.5",
        ),
        ({"reg": -1.0}, "reg must be a finite number >= 0, got -1.0"),
        ({"num_iters": -1}, "num_iters must be an integer >= 0 or None, got -1"),
        ({"batch_size": 0}, "batch_size must be an integer in 1..10,000,000, got 0"),
        ({"X": np.ones((5, 3))}, "X has 3 features but the model expects 4"),
        (
            {"y": np.array([0, 1, 2, 3, 1])},
            r"y has label 3 but the model has 3 classes \(labels 0..2; row 3\)",
        ),
        ({"X_val": np.ones((2, 3))}, "X_val has 3 features but the model expects 4"),
        (
            {"y_val": np.array([0, 1, 2, 2, 7])},
            r"y_val has label 7 but the model has 3 classes \(labels 0..2; row 4\)",
        ),
        ({"y_val": np.array([0, 1])}, "y_val has 2 labels but X has 5 samples"),
    ],
)
def test_classic_train_names_a_bad_argument_as_spelled(toy, kwargs, words):
    net, X, y = toy
    args = {"X": X, "y": y, "X_val": X, "y_val": y, **kwargs}
    with pytest.raises(ValueError, match=f"^{words}$"):
        net.train(**args)


def test_divergence_names_the_step_and_what_was_kept():
    net = TwoLayerNet(2, 3, 2, std=1.0, seed=0)
    # inputs so large (yet finite) that the first SGD update makes the weights overflow: step 2's loss is NaN
    X, y = np.full((4, 2), 1e300), np.array([0, 1, 0, 1])
    t = Trainer(net, TrainConfig(epochs=2, batch_size=2, learning_rate=0.25, optimizer="sgd"))
    with pytest.raises(
        ValueError,
        match=r"^training overflowed at step 2 \(loss nan\): the inputs have values up to "
        r"1e300: scale them, e\.g\. preprocess='standardize'; no finite weights from a "
        r"finished epoch exist$",
    ):
        t.fit(X, y)
    assert t.stop_reason == "diverged" and t.step_count == 1 and t.history["step_loss"][0] > 1e290


def test_divergence_after_an_epoch_keeps_the_best_weights(digits):
    X, y, Xv, yv = digits
    t = make(
        TrainConfig(epochs=3, batch_size=32, patience=2, seed=1, optimizer="sgd", learning_rate=0.1)
    )
    t.fit(X, y, Xv, yv, epochs=1)
    kept = {k: v.copy() for k, v in t.net.params.items()}
    X_bad = np.full_like(X, 1e300)  # the next epoch's updates overflow (see above)
    with pytest.raises(ValueError) as e:
        t.fit(X_bad, y, Xv, yv)
    assert f"at step {t.step_count + 1} (loss" in str(e.value)
    assert str(e.value).endswith("; the best weights (epoch 1) were kept")
    for k in kept:
        np.testing.assert_array_equal(t.net.params[k], kept[k])


def test_a_classic_api_checkpoint_restores_numpy_s_global_random_state(toy, tmp_path):
    from twolayer.classic import GlobalRandomState

    net, X, y = toy
    np.random.seed(5)
    np.random.randn(3)  # leave the state mid-stream
    t = Trainer(
        net,
        TrainConfig(epochs=1, batch_size=2, sampling="replacement", seed=None),
        rng=GlobalRandomState(),
    )
    t.save_checkpoint(tmp_path / "ckpt.npz")
    expected = np.random.randint(0, 1000, size=20)
    np.random.seed(99)
    Trainer(net, t.config, rng=GlobalRandomState()).load_checkpoint(tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(np.random.randint(0, 1000, size=20), expected)


def _checkpoint(tmp_path, fingerprint=None, patience=2):
    X, y = np.random.default_rng(0).standard_normal((20, 3)), np.arange(20) % 2
    t = Trainer(
        TwoLayerNet(3, 4, 2, seed=0),
        TrainConfig(epochs=2, optimizer="adam", patience=patience, seed=1),
    )
    t.fit(X, y, X, y)
    path = tmp_path / "c.npz"
    t.save_checkpoint(path, fingerprint=fingerprint)
    return t, path


def _rewrite(path, state_changes=None, **array_changes):
    import json

    arrays = dict(np.load(path))
    state = json.loads(str(arrays["state"][()]))
    state.update(state_changes or {})
    arrays["state"] = np.array(json.dumps(state))
    arrays.update(array_changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def _fresh(**config):
    return Trainer(
        TwoLayerNet(3, 4, 2, seed=5),
        TrainConfig(**{"epochs": 4, "optimizer": "adam", "patience": 2, "seed": 1, **config}),
    )


def test_a_checkpoint_restores_the_whole_trainer(tmp_path):
    t, path = _checkpoint(tmp_path)
    back = _fresh()
    back.load_checkpoint(path)
    assert (back.epoch, back.step_count, back.bad_epochs, back.optimizer.t) == (
        t.epoch,
        t.step_count,
        t.bad_epochs,
        t.optimizer.t,
    )
    assert (back.best.score, back.best.epoch) == (t.best.score, t.best.epoch)
    assert back.best_epoch == t.best_epoch
    for k in t.net.params:
        np.testing.assert_array_equal(back.net.params[k], t.net.params[k])
        np.testing.assert_array_equal(back.best.params[k], t.best.params[k])
    for k, v in t.optimizer.state_dict()["arrays"].items():
        np.testing.assert_array_equal(back.optimizer.state[k], v)
    assert without_seconds(back.history) == without_seconds(t.history)
    assert back.rng.integers(0, 10**9) == t.rng.integers(0, 10**9)


def test_a_checkpoint_of_other_settings_or_data_is_refused_by_name(tmp_path):
    fp = {"data": "digits", "n_train": 20, "rows_sha256": "ab"}
    _, path = _checkpoint(tmp_path, fingerprint=fp)
    with pytest.raises(
        ValueError,
        match=r"c.npz: the checkpoint was trained with learning_rate=0.002, this run has "
        r"0.01: it belongs to another run$",
    ):
        _fresh(learning_rate=0.01).load_checkpoint(path)
    with pytest.raises(
        ValueError,
        match=r"c.npz: the checkpoint was trained on other data \(data digits, n_train 20; "
        r"now data digits, n_train 21\): it belongs to another run$",
    ):
        _fresh().load_checkpoint(path, fingerprint={**fp, "n_train": 21})
    with pytest.raises(ValueError, match=r"other data \(data digits, n_train 20; now old\)"):
        _fresh().load_checkpoint(path, fingerprint="old")
    _fresh().load_checkpoint(path, fingerprint=fp)  # the same data
    _fresh(epochs=9).load_checkpoint(path)  # no fingerprint to compare; only epochs changed
    (tmp_path / "old").mkdir()
    _, unmarked = _checkpoint(tmp_path / "old", fingerprint=None)
    _fresh().load_checkpoint(unmarked, fingerprint=fp)  # an old checkpoint without a fingerprint


@pytest.mark.parametrize(
    "arrays, words",
    [
        (
            {"param_W2": None},
            "the checkpoint's W2 is missing but this run's model has float64 (4, 2): it belongs to "
            "another run",
        ),
        (
            {"param_b1": np.zeros(4, np.float32)},
            "the checkpoint's b1 is float32 (4,) but this run's model has float64 "
            "(4,): it belongs to another run",
        ),
        (
            {"param_W1": np.full((3, 4), np.inf)},
            "the checkpoint's W1 contains NaN or infinite values; the file is damaged",
        ),
        (
            {"opt_m_W9": np.zeros(2)},
            "optimizer state 'm_W9' does not fit the model; the file is damaged",
        ),
        (
            {"opt_v_b2": np.zeros(3)},
            "optimizer state 'v_b2' does not fit the model; the file is damaged",
        ),
        ({"best_b2": None}, "field 'best' is damaged (best_* arrays missing)"),
    ],
)
def test_a_checkpoint_with_foreign_or_damaged_arrays_is_refused(tmp_path, arrays, words):
    _, path = _checkpoint(tmp_path)
    _rewrite(path, **arrays)
    fresh = _fresh()
    before = {k: v.copy() for k, v in fresh.net.params.items()}
    with pytest.raises(ValueError) as e:
        fresh.load_checkpoint(path)
    assert str(e.value) == f"{path}: {words}"
    for k in before:  # nothing was changed by the refused checkpoint
        np.testing.assert_array_equal(fresh.net.params[k], before[k])
    assert fresh.epoch == 0 and fresh.optimizer.t == 0


@pytest.mark.parametrize(
    "state, words",
    [
        (
            {"best": [0.5]},
            "field 'best' must be null or [score, epoch], got [0.5]; the file is damaged",
        ),
        (
            {"best": "yes"},
            "field 'best' must be null or [score, epoch], got 'yes'; the file is damaged",
        ),
        ({"epoch": True}, "field 'epoch' must be an integer >= 0, got True; the file is damaged"),
        (
            {"step_count": -2},
            "field 'step_count' must be an integer >= 0, got -2; the file is damaged",
        ),
        (
            {"bad_epochs": 1.5},
            "field 'bad_epochs' must be an integer >= 0, got 1.5; the file is damaged",
        ),
        ({"opt_t": None}, "field 'opt_t' must be an integer >= 0, got None; the file is damaged"),
        (
            {"history": {"loss": 3}},
            "field 'history' must be an object of lists of numbers keyed by epoch, loss, "
            "train_acc, val_acc, lr, seconds, step_loss, got {'loss': 3}; the file is damaged",
        ),
        (
            {"history": {"step_loss": {}}},
            "field 'history' must be an object of lists of numbers keyed by epoch, loss, "
            "train_acc, val_acc, lr, seconds, step_loss, got {'step_loss': {}}; the file is "
            "damaged",
        ),
        (
            {"history": {"loss": ["0.5"]}},
            "field 'history' must be an object of lists of numbers keyed by epoch, loss, "
            "train_acc, val_acc, lr, seconds, step_loss, got {'loss': ['0.5']}; the file is "
            "damaged",
        ),
        (
            {"history": {"loss": [True]}},
            "field 'history' must be an object of lists of numbers keyed by epoch, loss, "
            "train_acc, val_acc, lr, seconds, step_loss, got {'loss': [True]}; the file is "
            "damaged",
        ),
        (
            {"rng": {"kind": "randomstate", "state": [1]}},
            "field 'rng' is damaged (ValueError: not enough values to unpack (expected 5, got 1))",
        ),
    ],
)
def test_a_damaged_checkpoint_field_is_named_exactly(tmp_path, state, words):
    _, path = _checkpoint(tmp_path)
    _rewrite(path, state)
    with pytest.raises(ValueError) as e:
        _fresh().load_checkpoint(path)
    assert str(e.value) == f"{path}: {words}"


def test_a_missing_checkpoint_field_and_a_damaged_state(tmp_path):
    import json

    _, path = _checkpoint(tmp_path)
    arrays = dict(np.load(path))
    state = json.loads(str(arrays["state"][()]))
    del state["step_count"]
    np.savez(path, **{**arrays, "state": np.array(json.dumps(state))})
    with pytest.raises(
        ValueError, match=r"c.npz: field 'step_count' is missing; the file is damaged$"
    ):
        _fresh().load_checkpoint(path)
    np.savez(path, **{**arrays, "state": np.array("[1, 2]")})
    with pytest.raises(
        ValueError, match=r"c.npz: damaged checkpoint state: expected a JSON object, got list$"
    ):
        _fresh().load_checkpoint(path)
    np.savez(path, **{**arrays, "state": np.array("{")})
    with pytest.raises(
        ValueError,
        match=r"c.npz: damaged checkpoint state: not valid JSON \(JSONDecodeError: Expecting",
    ):
        _fresh().load_checkpoint(path)
    t, path = _checkpoint(tmp_path, patience=None)  # no best weights: loads with best None
    back = _fresh(patience=None)
    back.load_checkpoint(path)
    assert back.best is None and back.best_epoch is None and back.epoch == 2


def test_a_checkpoint_without_state_or_with_a_bad_state_array_is_named(tmp_path):
    _, path = _checkpoint(tmp_path)
    _rewrite(path, state=np.array(5))
    with pytest.raises(
        ValueError, match=r"c.npz: metadata has the wrong type; the file is damaged$"
    ):
        _fresh().load_checkpoint(path)
    arrays = dict(np.load(path))
    del arrays["state"]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"c.npz: missing array\(s\) state$"):
        _fresh().load_checkpoint(path)


def test_a_checkpoint_from_before_a_setting_existed_still_loads(tmp_path):
    import json

    _, path = _checkpoint(tmp_path)
    arrays = dict(np.load(path))
    state = json.loads(str(arrays["state"][()]))
    del state["config"]["augment"]  # a setting added later: the stored run used its default
    _rewrite(path, {"config": state["config"]})
    back = _fresh()
    back.load_checkpoint(path)
    assert back.epoch == 2


def test_a_momentum_checkpoint_resumes_its_velocity(tmp_path):
    # SGD-momentum keeps its velocity under the bare parameter name ("W1", no prefix)
    X, y = np.random.default_rng(0).standard_normal((20, 3)), np.arange(20) % 2
    cfg = TrainConfig(epochs=1, optimizer="momentum", seed=1)
    t = Trainer(TwoLayerNet(3, 4, 2, seed=0), cfg)
    t.fit(X, y)
    t.save_checkpoint(tmp_path / "c.npz")
    back = Trainer(TwoLayerNet(3, 4, 2, seed=5), cfg)
    back.load_checkpoint(tmp_path / "c.npz")
    assert set(back.optimizer.state) == set(t.net.params)
    for k in t.net.params:
        np.testing.assert_array_equal(back.optimizer.state[k], t.optimizer.state[k])


def test_accuracy_in_row_blocks_with_a_transform(toy):
    from twolayer.train import accuracy

    net, X, y = toy
    X, y = np.vstack([X, X, X]), np.concatenate([y, y, y])
    predicted = net.predict(X)
    y_half = np.where(np.arange(15) % 2 == 0, predicted, (predicted + 1) % 3)  # 8 of 15 rows right
    for batch_size in (1, 4, 4096):
        assert accuracy(net, X, y_half, batch_size=batch_size) == 8 / 15
        # the transform is applied to every block: shifting there and back changes nothing
        assert (
            accuracy(net, X + 100, y_half, transform=lambda xb: xb - 100, batch_size=batch_size)
            == 8 / 15
        )
    assert accuracy(net, X, predicted) == 1.0


def _reference_fit(net, X, y, X_val, y_val, *, epochs, bs, lr, decay, reg, seed):
    """The loop written out plainly: one permutation per epoch, slices of it, plain SGD, per-epoch
    step decay; epoch loss and accuracy are means over samples."""
    rng = np.random.default_rng(seed)
    h = {"loss": [], "train_acc": [], "val_acc": [], "lr": [], "step_loss": []}
    for epoch in range(epochs):
        rate = lr * decay**epoch
        order = rng.permutation(len(X))
        loss_sum = correct = 0
        for start in range(0, len(X), bs):
            idx = order[start : start + bs]
            correct += np.sum(net.predict(X[idx]) == y[idx])
            loss, grads = net.loss(X[idx], y[idx], reg=reg)
            h["step_loss"].append(loss)
            loss_sum += loss * len(idx)
            for k in net.params:
                net.params[k] -= rate * grads[k]
        h["loss"].append(loss_sum / len(X))
        h["train_acc"].append(correct / len(X))
        h["val_acc"].append(np.mean(net.predict(X_val) == y_val))
        h["lr"].append(rate)
    return h


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_equals_the_loop_written_out(dtype):
    rng = np.random.default_rng(4)
    X, y = (
        rng.standard_normal((23, 3)),
        rng.integers(0, 3, 23),
    )  # 23 rows, batches of 5: a short last batch
    Xv, yv = rng.standard_normal((9, 3)), rng.integers(0, 3, 9)
    net = TwoLayerNet(3, 6, 3, std=0.5, seed=2, dtype=dtype)
    ref = TwoLayerNet(3, 6, 3, std=0.5, seed=2, dtype=np.float64)
    t = Trainer(
        net,
        TrainConfig(
            epochs=3,
            batch_size=5,
            learning_rate=0.3,
            optimizer="sgd",
            schedule="step",
            lr_decay=0.5,
            reg=0.01,
            seed=8,
            augment="none",
        ),
    )
    h = t.fit(X, y, Xv, yv)
    want = _reference_fit(ref, X, y, Xv, yv, epochs=3, bs=5, lr=0.3, decay=0.5, reg=0.01, seed=8)
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    for key in want:
        np.testing.assert_allclose(h[key], want[key], rtol=rtol, err_msg=key)
    assert h["epoch"] == [1, 2, 3] and len(h["seconds"]) == 3 and all(s >= 0 for s in h["seconds"])
    for k in net.params:
        np.testing.assert_allclose(
            net.params[k], ref.params[k], rtol=rtol, atol=1e-6 if dtype == np.float32 else 0
        )
        assert net.params[k].dtype == dtype
    assert (t.epoch, t.step_count, t.stop_reason, t.best) == (3, 15, "completed", None)


def test_fit_calls_back_per_step_and_per_epoch_and_continues_where_it_stopped():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    t = Trainer(TwoLayerNet(3, 4, 2, seed=0), TrainConfig(epochs=5, batch_size=4, seed=0))
    seen = []
    t.fit(
        X,
        y,
        epochs=2,
        on_batch=lambda tr: seen.append(("b", tr.step_count)),
        on_epoch=lambda tr: seen.append(("e", tr.epoch)),
        checkpoint=lambda tr: seen.append(("c", tr.epoch)),
    )
    assert seen == [
        ("b", 1),
        ("b", 2),
        ("b", 3),
        ("c", 1),
        ("e", 1),
        ("b", 4),
        ("b", 5),
        ("b", 6),
        ("c", 2),
        ("e", 2),
    ]
    assert t.history["val_acc"] == [None, None]  # no validation set
    t.fit(X, y)  # the config's 5 epochs: 3 more
    assert t.epoch == 5 and t.step_count == 15 and t.stop_reason == "completed"
    with pytest.raises(ValueError, match="^the training set is empty$"):
        t.fit(X[:0], y[:0])


def test_max_steps_stops_inside_an_epoch_without_recording_it():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    t = Trainer(
        TwoLayerNet(3, 4, 2, seed=0), TrainConfig(epochs=5, batch_size=4, max_steps=7, seed=0)
    )
    h = t.fit(X, y)
    assert t.stop_reason == "max_steps" and t.step_count == 7 and t.epoch == 2
    assert len(h["step_loss"]) == 7 and h["epoch"] == [1, 2]


def test_ctrl_c_keeps_the_best_weights_and_says_interrupted(digits):
    X, y, Xv, yv = digits
    t = make(
        TrainConfig(
            epochs=10,
            batch_size=32,
            patience=5,
            seed=2,
            optimizer="sgd",
            learning_rate=0.5,
            schedule="constant",
        )
    )
    best_after, steps = {}, t.config.steps_for(len(X))

    def stop(tr):
        if tr.step_count == 3 * steps + 5:  # inside epoch 4
            best_after.update({k: v.copy() for k, v in tr.best.params.items()})
            raise KeyboardInterrupt

    h = t.fit(X, y, Xv, yv, on_batch=stop)
    assert t.stop_reason == "interrupted" and isinstance(t.interrupt, KeyboardInterrupt)
    assert t.epoch == 3 and len(h["epoch"]) == 3
    for k in best_after:
        np.testing.assert_array_equal(t.net.params[k], best_after[k])
    t.fit(X, y, Xv, yv, epochs=4)  # a new fit clears the interruption
    assert t.interrupt is None and t.stop_reason in ("completed", "early_stopping")


def test_patience_without_validation_watches_the_training_loss():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    # far too high a rate: the training loss stops improving, and the best epoch's weights come back
    t = Trainer(
        TwoLayerNet(3, 8, 2, seed=0, std=1.0),
        TrainConfig(
            epochs=40,
            batch_size=40,
            patience=2,
            optimizer="sgd",
            learning_rate=3.0,
            schedule="constant",
            seed=0,
        ),
    )
    h = t.fit(X, y)
    assert t.stop_reason == "early_stopping"
    best = int(np.argmin(h["loss"])) + 1
    assert t.best_epoch == best and t.epoch == best + 2 and t.bad_epochs == 2
    assert t.best.score == -h["loss"][best - 1]


def test_patience_counts_ties_as_no_better_and_never_stops_the_last_epoch_early(digits):
    X, y, Xv, yv = digits
    # a learning rate so small that validation accuracy never changes: every later epoch ties with the first
    cfg = TrainConfig(
        epochs=10,
        batch_size=32,
        patience=3,
        seed=0,
        optimizer="sgd",
        learning_rate=1e-12,
        schedule="constant",
    )
    t = make(cfg)
    t.fit(X, y, Xv, yv)
    assert len(set(t.history["val_acc"])) == 1
    # ties are no gain for patience, but the weights kept are the later epoch's (trained longer)
    assert (t.stop_reason, t.epoch, t.best_epoch, t.bad_epochs) == ("early_stopping", 4, 4, 3)
    # patience 3 with 4 epochs: the run ends at epoch 4 anyway, so it completed (nothing was skipped)
    t = make(dataclasses.replace(cfg, epochs=4))
    t.fit(X, y, Xv, yv)
    assert (t.stop_reason, t.epoch, t.best_epoch) == ("completed", 4, 4)


def test_validation_goes_through_the_transform_like_the_batches(digits):
    X, y, Xv, yv = digits
    cfg = TrainConfig(epochs=2, batch_size=32, seed=0, augment="none")
    plain, streamed = make(cfg), make(cfg)
    plain.fit(X, y, Xv, yv)
    streamed.fit(
        X + 3, y, Xv + 3, yv, transform=lambda xb: xb - 3
    )  # raw data kept shifted, as from a file
    np.testing.assert_allclose(streamed.history["val_acc"], plain.history["val_acc"])
    np.testing.assert_allclose(streamed.history["loss"], plain.history["loss"], rtol=1e-9)


def test_the_trainer_builds_the_configured_update_rule():
    t = Trainer(TwoLayerNet(2, 2, 2, seed=0), TrainConfig(optimizer="momentum", momentum=0.5))
    assert isinstance(t.optimizer, SGD) and t.optimizer.momentum == 0.5 and not t.optimizer.nesterov
    t = Trainer(TwoLayerNet(2, 2, 2, seed=0), TrainConfig(optimizer="adamw", weight_decay=0.25))
    assert isinstance(t.optimizer, Adam) and t.optimizer.weight_decay == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_training_step_allocates_no_array_memory(dtype):
    # the fast path's promise: after the first step, activations, gradients and updates reuse buffers.
    # Every array is 256 × 256, far larger than NumPy's own casting buffers (8192 elements).
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((256, 256)).astype(dtype), rng.integers(0, 256, 256)
    t = Trainer(
        TwoLayerNet(256, 256, 256, seed=0, std="he", dtype=dtype),
        TrainConfig(epochs=1, batch_size=256, optimizer="adamw", reg=1e-3, seed=0, augment="none"),
    )
    t.fit(X, y)
    smallest = 256 * 256 * np.dtype(dtype).itemsize
    tracemalloc.start()
    try:
        t.step(X, y, 1e-3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < smallest / 2, peak
    for buf in (t.work.a, t.work.scores, t.work.dh, *t.work.grads.values()):
        assert buf.dtype == dtype
    assert t.work.mask.dtype == bool


def test_batches_are_transformed_converted_and_augmented():
    from twolayer.train import Batch

    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    y = np.arange(10) % 3
    rng = np.random.default_rng(0)
    direct = Batch(X, y, 4, np.float64)
    xb, yb = direct.gather(np.array([3, 1, 3]), rng)
    np.testing.assert_array_equal(xb, X[[3, 1, 3]])
    np.testing.assert_array_equal(yb, y[[3, 1, 3]])
    assert yb.dtype == np.intp
    as32 = Batch(X, y, 4, np.float32)
    xb, _ = as32.gather(np.array([0, 9]), rng)
    assert xb.dtype == np.float32 and xb.tolist() == [[0, 1], [18, 19]]
    calls = []
    both = Batch(
        X,
        y,
        4,
        np.float32,
        transform=lambda xb: (xb / 2).astype(np.float32),
        augment=lambda xb, r: calls.append(r) or xb.__iadd__(1),
    )
    xb, _ = both.gather(np.array([2]), rng)
    assert xb.tolist() == [[3, 3.5]] and calls == [
        rng
    ]  # (x / 2) + 1, with the loop's random generator
    same_dtype = Batch(
        X, y, 4, np.float64, transform=lambda xb: xb * 10
    )  # a transform is never skipped
    assert same_dtype.gather(np.array([1]), rng)[0].tolist() == [[20, 30]]


def test_classic_train_with_fewer_rows_than_a_batch_runs_one_step_per_epoch(toy):
    net, X, y = toy  # 5 rows, batches of 200: CS231n's max(N // B, 1) = 1 step per epoch
    np.random.seed(0)
    stats = net.train(X, y, X, y, learning_rate=0.1, num_iters=6)
    assert (
        len(stats["loss_history"])
        == len(stats["val_acc_history"])
        == len(stats["train_acc_history"])
        == 6
    )


@pytest.mark.parametrize(
    "v, col, want",
    [
        ("", "val_acc", None),
        ("", "lr", None),
        ("", "train_acc", None),
        ("", "seconds", None),
        ("1", "epoch", 1),
        ("12", "epoch", 12),
        ("0", "loss", 0.0),
        ("0.5", "val_acc", 0.5),
        ("-2.5", "lr", -2.5),
        ("3", "loss", 3.0),
    ],
)
def test_a_history_field_is_read_as_its_column_s_type(v, col, want):
    from twolayer.checkpoint import _history_value

    got = _history_value(v, col, "h.csv", 7)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(
    "v, col, words",
    [
        ("", "epoch", "field 'epoch' must be an integer >= 1, got ''"),
        ("", "loss", "field 'loss' must be a finite number, got ''"),
        ("0", "epoch", "field 'epoch' must be an integer >= 1, got '0'"),
        ("-3", "epoch", "field 'epoch' must be an integer >= 1, got '-3'"),
        ("1.5", "epoch", "field 'epoch' must be an integer >= 1, got '1.5'"),
        ("nan", "loss", "field 'loss' must be a finite number, got 'nan'"),
        ("inf", "train_acc", "field 'train_acc' must be a finite number, got 'inf'"),
        ("-inf", "lr", "field 'lr' must be a finite number, got '-inf'"),
        ("x" * 45, "val_acc", f"field 'val_acc' must be a finite number, got '{'x' * 40}'"),
    ],
)
def test_a_damaged_history_field_is_named_with_its_line(v, col, words):
    from twolayer.checkpoint import _history_value

    with pytest.raises(ValueError) as e:
        _history_value(v, col, "h.csv", 7)
    assert str(e.value) == f"h.csv: line 7: {words}; the file is damaged"


@pytest.mark.parametrize(
    "dtype, per_row", [("float32", (3 + 2 * 2 + 2) * 4 + 2), ("float64", (3 + 2 * 2 + 2) * 8 + 2)]
)
def test_batch_memory_counts_x_two_activations_scores_and_the_mask(dtype, per_row, monkeypatch):
    from twolayer.train import check_batch_memory

    net = TwoLayerNet(3, 2, 2, dtype=dtype, seed=0)  # byte counts below 1 KiB are printed exactly
    monkeypatch.setenv("TWOLAYER_MAX_BATCH_BYTES", str(10 * per_row))
    check_batch_memory(10, 3, net)  # exactly at the limit: accepted
    with pytest.raises(ValueError) as e:
        check_batch_memory(11, 3, net, label="--batch-size")
    assert str(e.value) == (
        f"--batch-size 11 needs {11 * per_row} bytes for one minibatch's buffers, more than the "
        f"limit of {10 * per_row} bytes (TWOLAYER_MAX_BATCH_BYTES)"
    )
    with pytest.raises(ValueError, match=r"^batch_size 11 needs"):
        check_batch_memory(11, 3, net)
    monkeypatch.delenv("TWOLAYER_MAX_BATCH_BYTES")
    check_batch_memory(2**32 // per_row, 3, net)  # the default limit, 4 GiB
    with pytest.raises(
        ValueError,
        match=r"needs 4\.0 GiB for one minibatch's buffers, more than the limit of 4\.0 GiB",
    ):
        check_batch_memory(2**32 // per_row + 1, 3, net)


def test_fit_checks_batch_memory_before_allocating(monkeypatch):
    net = TwoLayerNet(5, 7, 3, seed=0)
    monkeypatch.setenv("TWOLAYER_MAX_BATCH_BYTES", "1000")
    X, y = np.ones((40, 5)), np.zeros(40, dtype=int)
    with pytest.raises(ValueError, match=r"^batch_size 20 needs"):
        Trainer(net, TrainConfig(epochs=1, batch_size=20)).fit(X, y)
    Trainer(net, TrainConfig(epochs=1, batch_size=2)).fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_with_sample_weights_equals_the_weighted_loop_written_out(dtype):
    """Each step's loss is the batch's weighted mean (net.loss with the batch's weights), plain SGD."""
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((11, 3)), rng.integers(0, 3, 11)  # batches of 4: a short last batch
    w = rng.uniform(0.0, 3.0, 11)
    net = TwoLayerNet(3, 5, 3, std=0.5, seed=1, dtype=dtype)
    ref = TwoLayerNet(3, 5, 3, std=0.5, seed=1, dtype=np.float64)
    t = Trainer(
        net,
        TrainConfig(
            epochs=2,
            batch_size=4,
            learning_rate=0.2,
            optimizer="sgd",
            schedule="constant",
            reg=0.01,
            seed=3,
            augment="none",
        ),
    )
    h = t.fit(X, y, sample_weight=w)
    order_rng = np.random.default_rng(3)
    losses = []
    for _ in range(2):
        order = order_rng.permutation(11)
        for start in range(0, 11, 4):
            idx = order[start : start + 4]
            loss, grads = ref.loss(X[idx], y[idx], reg=0.01, sample_weight=w[idx])
            losses.append(loss)
            for k in ref.params:
                ref.params[k] -= 0.2 * grads[k]
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(h["step_loss"], losses, rtol=rtol)
    for k in net.params:
        np.testing.assert_allclose(
            net.params[k], ref.params[k], rtol=rtol, atol=1e-6 if dtype == np.float32 else 0
        )
        assert net.params[k].dtype == dtype
    # unweighted, the same run differs: the weights were used
    plain = TwoLayerNet(3, 5, 3, std=0.5, seed=1, dtype=dtype)
    Trainer(
        plain,
        TrainConfig(
            epochs=2,
            batch_size=4,
            learning_rate=0.2,
            optimizer="sgd",
            schedule="constant",
            reg=0.01,
            seed=3,
            augment="none",
        ),
    ).fit(X, y)
    assert not np.allclose(plain.params["W1"], net.params["W1"])


def test_a_batch_s_weights_are_its_rows_weights_in_the_net_s_dtype():
    from twolayer.train import Batch

    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    w = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    b = Batch(X, y, 4, np.float32, sample_weight=w)
    for idx in (np.array([5, 0, 2, 2]), np.array([1, 3])):
        got = b.weights(idx)
        np.testing.assert_array_equal(got, np.array(w)[idx])
        assert got.dtype == np.float32 and got.shape == (len(idx),)
        xb, yb = b.gather(idx, None)
        np.testing.assert_array_equal(xb, X[idx])
        np.testing.assert_array_equal(yb, y[idx])
        assert xb.dtype == np.float32 and yb.dtype == np.intp
    assert Batch(X, y, 4, np.float32).weights(np.array([0, 1])) is None
    direct = Batch(X, y, 4, np.float64)  # rows already in the net's dtype are used without a copy
    xb, _ = direct.gather(np.array([1, 2]), None)
    assert np.shares_memory(xb, direct.xb)


def test_history_csv_skips_blank_lines_and_names_a_bad_header_or_row(tmp_path):
    from twolayer.checkpoint import History

    p = tmp_path / "h.csv"
    p.write_text("epoch,loss\n1,0.5\n\n2,0.25\n")
    assert History.read_csv(p)["loss"] == [0.5, 0.25]
    p.write_text("step,loss\n1,0.5\n")
    with pytest.raises(ValueError) as e:
        History.read_csv(p)
    assert str(e.value) == f"{p}: no 'epoch' column in the header; the file is damaged"
    p.write_text("epoch,loss\n1,0.5\n2,0.25,9\n")
    with pytest.raises(ValueError) as e:
        History.read_csv(p)
    assert str(e.value) == f"{p}: line 3 has 3 fields, the header 2; the file is damaged"


def test_accuracy_names_the_first_bad_row_of_the_whole_set():
    from twolayer.train import accuracy

    net = TwoLayerNet(2, 3, 2, seed=0)
    net.params["W1"][...] = 1e300  # the weights overflow on every row that is not zero
    net.params["W2"][...] = 1e300
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.5, 0.25], [0.0, 0.0]])
    y = np.array([0, 0, 0, 1, 0])
    with pytest.raises(ValueError) as e:
        accuracy(net, X, y, batch_size=2)  # row 3 sits in the second block
    assert str(e.value) == (
        "X: row 3 gives non-finite class scores although its values are only up to 0.5: the "
        "model's weights overflow float64 (a diverged or damaged model)"
    )
    with pytest.raises(ValueError, match=r"^X_val: row 3 gives"):
        accuracy(net, X, y, batch_size=2, name="X_val")
    assert (
        accuracy(net, X, y, batch_size=2, check=False) == 0.8
    )  # during training: no error; the bad row's class 1 is not predicted


def test_divergence_names_the_failing_step_and_blames_inputs_only_beyond_1e6():
    y = np.array([0, 1])
    for peak, error, words in [
        (
            1e6,
            DivergedError,
            r"training diverged: the loss became \S+ at step 5; no finite weights from a finished "
            r"epoch exist\. Try a smaller learning_rate \(now 0\.1\)\.$",
        ),
        (
            1e6 * (1 + 1e-9),
            ValueError,
            r"training overflowed at step 5 \(loss \S+\): the inputs have values up to "
            r"1e06: scale them, e\.g\. preprocess='standardize'; no finite weights",
        ),
    ]:
        net = TwoLayerNet(2, 3, 2, seed=0)
        t = Trainer(
            net,
            TrainConfig(epochs=1, batch_size=2, learning_rate=0.1, optimizer="sgd", augment="none"),
        )
        net.params["W2"][...] = 1e308  # the step's loss overflows
        t.step_count = 4
        with pytest.raises(error, match=words) as e:
            t.step(np.array([[peak, 0.0], [0.0, 1.0]]), y, 0.1)
        assert isinstance(e.value, DivergedError) == (error is DivergedError)
        assert t.stop_reason == "diverged"


def test_patience_counts_epochs_without_a_gain_of_more_than_tol_and_keeps_no_copy_without_validation():
    """sklearn's rule written out: the count restarts only on a gain > tol; the best score still
    moves on a smaller gain. Without validation data the score is -loss and no weights are copied."""
    t = make(TrainConfig(epochs=10, patience=2, tol=0.1))
    seen = []
    for loss in (1.0, 0.95, 0.5, 0.45, 0.44):
        t._end_epoch(0.1, loss, 0.5, None, 0.0, 10)
        seen.append((t.bad_epochs, (t.best.score, t.best.epoch), t.best.params, t.stop_reason))
    assert seen == [
        (0, (-1.0, 1), None, None),
        (1, (-0.95, 2), None, None),
        (0, (-0.5, 3), None, None),
        (1, (-0.45, 4), None, None),
        (2, (-0.44, 5), None, "early_stopping"),
    ]


def test_early_stopping_without_validation_keeps_the_last_weights_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    cfg = TrainConfig(
        epochs=30, batch_size=4, learning_rate=0.5, optimizer="sgd", patience=1, tol=10.0, seed=1
    )
    t = Trainer(TwoLayerNet(3, 4, 2, seed=0), cfg)
    last = {}
    t.fit(X, y, on_epoch=lambda tr: last.update({k: v.copy() for k, v in tr.net.params.items()}))
    assert t.stop_reason == "early_stopping" and t.epoch == 2 and t.best.params is None
    for k in last:
        np.testing.assert_array_equal(t.net.params[k], last[k])
    t.save_checkpoint(tmp_path / "c.npz")
    back = Trainer(TwoLayerNet(3, 4, 2, seed=5), cfg)
    back.load_checkpoint(tmp_path / "c.npz")
    assert (back.best.score, back.best.epoch) == (t.best.score, t.best.epoch)
    assert back.best.params is None


def test_classic_train_refuses_no_iteration_count_and_more_epochs_than_the_limit(toy):
    net, X, y = toy
    with pytest.raises(TypeError) as e:
        net.train(X, y, X, y, num_iters=None)
    assert str(e.value) == "num_iters must be an integer >= 0, got None"
    steps = max(
        len(X) // 200, 1
    )  # the default batch of 200 is larger than the data: one step per epoch
    with pytest.raises(ValueError) as e:
        net.train(X, y, X, y, num_iters=1_000_000 * steps + 1)
    assert str(e.value) == (
        f"num_iters {1_000_000 * steps + 1} makes 1,000,001 epochs of {steps} steps; epochs must be "
        "an integer in 1..1,000,000"
    )


def test_classic_train_records_after_step_0_and_after_each_epoch_of_steps():
    """1,000 rows in batches of 1: 1,000 steps per epoch, so 1,001 iterations record (and decay) twice,
    after steps 0 and 1,000."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((1000, 2)), rng.integers(0, 2, 1000)
    net = TwoLayerNet(2, 3, 2, seed=0)
    np.random.seed(0)
    h = net.train(
        X,
        y,
        X[:5],
        y[:5],
        learning_rate=0.01,
        learning_rate_decay=0.5,
        num_iters=1001,
        batch_size=1,
    )
    assert len(h["loss_history"]) == 1001 and len(h["val_acc_history"]) == 2


def test_gathering_a_batch_allocates_nothing():
    import tracemalloc

    from twolayer.train import Batch

    rng = np.random.default_rng(0)
    X, y, w = rng.standard_normal((2000, 300)), rng.integers(0, 3, 2000), rng.random(2000)
    batch = Batch(X, y, 256, np.dtype(np.float64), sample_weight=w)
    idx = rng.permutation(2000)[:256]
    batch.gather(idx, rng), batch.weights(idx)  # first call: nothing lazy left
    tracemalloc.start()
    try:
        xb, yb = batch.gather(idx, rng)
        wb = batch.weights(idx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(xb, X[idx])
    np.testing.assert_array_equal(yb, y[idx])
    np.testing.assert_array_equal(wb, w[idx])
    assert peak < 10_000  # views and scalars only; a copied batch would be 600 KB


def test_an_epoch_s_seconds_are_its_steps_without_the_validation(monkeypatch):
    """history's seconds time the epoch's steps; the validation after them is not counted."""
    from types import SimpleNamespace

    from twolayer import train

    now = [0.0]

    def tick():  # a clock of the loop's own: one second per reading
        now[0] += 1.0
        return now[0]

    def slow_accuracy(*args, **kwargs):  # a validation that takes 100 seconds
        now[0] += 100.0
        return 0.5

    monkeypatch.setattr(train, "time", SimpleNamespace(perf_counter=tick))
    monkeypatch.setattr(train, "accuracy", slow_accuracy)
    X, y = np.eye(4), np.array([0, 1, 0, 1])
    h = Trainer(TwoLayerNet(4, 3, 2, seed=0), TrainConfig(epochs=2, batch_size=2)).fit(X, y, X, y)
    assert h["seconds"] == [1.0, 1.0] and h["val_acc"] == [0.5, 0.5]


def test_monitor_loss_stops_on_the_training_loss_and_keeps_the_best_validation_epoch(digits):
    X, y, Xv, yv = digits
    cfg = TrainConfig(epochs=40, batch_size=64, patience=2, seed=0, monitor="loss", tol=0.0)
    t = make(cfg)
    h = t.fit(X, y, Xv, yv)
    losses, val = h["loss"], h["val_acc"]
    # the stop: two epochs in a row no better (by 1e-4) than the best loss before them
    if t.stop_reason == "early_stopping":
        assert all(losses[i] >= min(losses[:i]) - 1e-4 for i in (-1, -2))
    else:
        assert t.epoch == 40
    # the weights kept: the last epoch with the best validation accuracy
    best = max(i for i, v in enumerate(val) if v == max(val)) + 1
    assert t.best_epoch == best
    assert accuracy(t.net, Xv, yv) == max(val)
    # 'val' on the same run stops on the validation accuracy instead
    v = make(dataclasses.replace(cfg, monitor="val"))
    v.fit(X, y, Xv, yv)
    assert v.best.score == max(v.history["val_acc"])
