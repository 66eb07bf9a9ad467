"""The data-dependent defaults (twolayer.defaults): known outputs of each rule, image detection,
and the run settings they resolve."""

from types import SimpleNamespace

import numpy as np
import pytest

from twolayer import defaults, runs
from twolayer.data import Dataset
from twolayer.defaults import Shape
from twolayer.settings import RunSettings
from twolayer.train import TrainConfig, Trainer


@pytest.mark.parametrize(
    "shape, hidden",
    [
        (Shape(200, 20, 2), 64),  # 2·sqrt(200) = 28: the floor of 64
        (Shape(200, 20, 26), 104),  # 4 units a class
        (Shape(2500, 20, 3), 96),  # 2·sqrt(2500) = 100, to 16: 96
        (Shape(10_000, 40, 10), 192),  # 2·sqrt(10,000) = 200 = 12.5 × 16, rounded to even
        (Shape(1_000_000, 40, 10), 256),  # the cap
        (Shape(9000, 784, 10, image=True), 512),
    ],
)
def test_hidden_units(shape, hidden):
    assert defaults.hidden_units(shape) == hidden


def test_weight_decay_follows_weights_per_row():
    # P = 96·(20 + 2) = 2112 weights on 2000 rows: 0.3·P/n = 0.3168
    assert defaults.weight_decay(Shape(2000, 20, 2)) == pytest.approx(0.3168)
    assert defaults.weight_decay(Shape(200, 20, 2)) == 1.0  # 0.3·1408/200 = 2.1: capped
    assert defaults.weight_decay(Shape(50, 100, 2)) == 1.0  # capped
    # moons: 256·(2 + 2) = 1024 weights on 1,000,000 rows: the floor
    assert defaults.weight_decay(Shape(1_000_000, 2, 2)) == 1e-3
    assert defaults.weight_decay(Shape(1600, 20, 2), hidden=128) == pytest.approx(
        0.3 * 128 * 22 / 1600
    )


@pytest.mark.parametrize(
    "n, epochs, patience",
    [
        (200, 2000, 100),  # one step an epoch: the caps
        (2000, 2000, 20),  # 10 steps an epoch: 20,000 / 10 = 2,000, 200 / 10 = 20
        (20_000, 200, 10),  # 100 steps an epoch: the floors
    ],
)
def test_epochs_and_patience_are_counted_in_steps(n, epochs, patience):
    s = Shape(n, 10, 3)
    assert defaults.max_epochs(s) == epochs
    assert defaults.patience(s) == patience
    assert defaults.batch_size(s) == min(200, n)


def test_tabular_rules_of_a_small_set():
    r = defaults.tabular(Shape(300, 20, 2))
    assert r == {
        "hidden_size": 64,
        "batch_size": 200,
        "learning_rate": pytest.approx(0.02 * (200 / 300) ** (1 / 3)),
        "weight_decay": 1.0,  # 0.3·64·22/300 = 1.41: capped
        "schedule": "plateau",
        "epochs": 2000,
        "patience": 100,
        "early_stopping": False,
    }
    assert defaults.plateau_patience(100) == 25 and defaults.plateau_patience(8) == 3


# -- image detection ---------------------------------------------------------------------------
def test_integers_in_0_255_with_a_square_number_of_features_are_images():
    X = np.random.default_rng(0).integers(0, 256, (20, 64)).astype(np.uint8)
    assert defaults.pixel_range(X) == float(X.max())
    assert defaults.image_shape_of(X) == (8, 8)
    assert defaults.image_shape_of(X.astype(np.float64)) == (8, 8)  # whole numbers as floats


def test_values_in_0_1_are_images_when_square_or_declared():
    X = np.random.default_rng(0).random((20, 100))
    assert defaults.image_shape_of(X) == (10, 10)
    assert defaults.image_shape_of(X[:, :50]) is None  # 50 is not a square
    assert defaults.image_shape_of(X[:, :50], declared=(5, 10)) == (5, 10)


@pytest.mark.parametrize(
    "X",
    [
        np.random.default_rng(0).normal(size=(20, 64)),  # negative values
        np.random.default_rng(0).random((20, 64)) * 3,  # fractions above 1
        np.full((20, 64), 300.0),  # beyond 8 bits
        np.random.default_rng(0).random((20, 16)),  # 4×4: too small to be an image
    ],
)
def test_other_values_are_not_images(X):
    assert defaults.image_shape_of(X) is None


# -- a run's settings resolved from its data ---------------------------------------------------
def _dataset(n, d, classes, image_shape=None, n_val=50):
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    return Dataset(
        "t",
        rng.random((n, d)),
        y,
        rng.random((n_val, d)),
        np.arange(n_val) % classes,
        None,
        None,
        class_names=[str(c) for c in range(classes)],
        image_shape=image_shape,
    )


def test_a_tabular_run_takes_the_rules_and_stops_on_its_validation_split():
    s = defaults.resolve_run(RunSettings(), _dataset(405, 20, 2))
    t = s.train
    assert s.hidden_size == 64 and t.batch_size == 200 and t.schedule == "plateau"
    assert t.weight_decay == 1.0  # 0.3·64·22/405 = 1.04: capped
    assert t.epochs == 2000 and t.patience == 67  # 3 steps an epoch: 200 steps are 67 epochs
    assert t.monitor == "loss"  # patience watches the training loss; the best val epoch is kept


def test_a_tabular_run_stops_on_the_training_loss_and_the_loop_sees_its_validation_rows():
    s = defaults.resolve_run(RunSettings(), _dataset(100, 5, 2, n_val=10))
    assert s.train.patience == 100  # the estimator's rule: 200 steps, within 10..100 epochs
    assert s.train.monitor == "loss"
    run = runs.prepare(s, _dataset(100, 5, 2, n_val=10))
    seen = {}
    run.fit(SimpleNamespace(config=s.train, fit=lambda *a, **kw: seen.update(val=a[2:4])))
    assert len(seen["val"][1]) == 10  # for the best epoch's weights, and tune's objective


def test_an_image_run_keeps_the_image_recipe():
    s = defaults.resolve_run(RunSettings(), _dataset(1000, 64, 10, image_shape=(8, 8)))
    t = s.train
    assert (s.hidden_size, t.batch_size, t.learning_rate) == (512, 64, 2e-3)
    assert (t.weight_decay, t.schedule, t.patience, t.epochs) == (0.05, "cosine", None, None)
    assert t.monitor == "val"


def test_values_the_caller_set_are_kept_and_the_rules_use_them():
    given = RunSettings().with_changes(hidden_size=32, batch_size=50, patience=7)
    s = defaults.resolve_run(given, _dataset(1000, 10, 2))
    assert s.hidden_size == 32 and s.train.batch_size == 50 and s.train.patience == 7
    assert s.train.weight_decay == pytest.approx(0.3 * 32 * 12 / 1000)
    assert s.train.epochs == 1000  # 20 steps an epoch of 50 rows


def test_the_loop_refuses_settings_left_auto():
    from twolayer.net import TwoLayerNet

    with pytest.raises(ValueError, match="weight_decay still 'auto'"):
        Trainer(TwoLayerNet(2, 3, 2), TrainConfig(weight_decay="auto"))
