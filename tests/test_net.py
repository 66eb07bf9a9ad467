"""TwoLayerNet against the CS231n notebook's known values, numerical gradients and float32."""
import re

import numpy as np
import pytest

from twolayer import InputError, TwoLayerNet
from twolayer.gradcheck import check_net, random_problem, rel_error

CORRECT_SCORES = np.asarray([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949]])


def test_toy_scores(toy):
    net, X, _ = toy
    assert np.sum(np.abs(net.loss(X) - CORRECT_SCORES)) < 1e-7


def test_toy_loss(toy):
    net, X, y = toy
    loss, _ = net.loss(X, y, reg=0.05)
    assert abs(loss - 1.30378789133) < 1e-12


def test_toy_gradients(toy):
    net, X, y = toy
    errors = check_net(net, X, y, reg=0.05)
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    assert max(errors.values()) < 1e-8, errors


def test_toy_training_reaches_low_loss(toy):
    net, X, y = toy
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100)
    assert len(stats["loss_history"]) == 100
    assert stats["loss_history"][-1] < 0.02
    assert stats["val_acc_history"][-1] == 1.0


def test_init_draws_w1_then_w2_from_global_state():
    np.random.seed(3)
    net = TwoLayerNet(6, 4, 2, std=0.5)
    np.random.seed(3)
    np.testing.assert_array_equal(net.params["W1"], 0.5 * np.random.randn(6, 4))
    np.testing.assert_array_equal(net.params["W2"], 0.5 * np.random.randn(4, 2))
    assert not net.params["b1"].any() and not net.params["b2"].any()


def test_seed_argument_is_reproducible_and_leaves_global_state_alone():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    a, b = TwoLayerNet(5, 3, 2, seed=11), TwoLayerNet(5, 3, 2, seed=11)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_regulariser_gradient_is_two_reg_w_and_biases_are_free(toy):
    net, X, y = toy
    l0, g0 = net.loss(X, y, reg=0.0)
    g0 = {k: v.copy() for k, v in g0.items()}
    l1, g1 = net.loss(X, y, reg=0.3)
    w1, w2 = net.params["W1"], net.params["W2"]
    assert l1 - l0 == pytest.approx(0.3 * (np.sum(w1 ** 2) + np.sum(w2 ** 2)), rel=1e-12)
    np.testing.assert_allclose(g1["W1"] - g0["W1"], 2 * 0.3 * w1, atol=1e-12)
    np.testing.assert_allclose(g1["b1"], g0["b1"])
    np.testing.assert_allclose(g1["b2"], g0["b2"])


def test_gradients_on_random_problems():
    for seed in range(3):
        net, X, y = random_problem(n=7, d=6, hidden=8, classes=4, seed=seed)
        assert max(check_net(net, X, y, reg=0.1).values()) < 1e-7


def test_float32_agrees_with_float64(toy):
    net64, X, y = toy
    net32 = TwoLayerNet(4, 10, 3, dtype=np.float32)
    for k, v in net64.params.items():
        net32.params[k][...] = v
    l64, g64 = net64.loss(X, y, reg=0.05)
    l32, g32 = net32.loss(X, y, reg=0.05)
    assert net32.params["W1"].dtype == np.float32 and g32["W1"].dtype == np.float32
    assert net32.loss(X).dtype == np.float32
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        assert rel_error(g32[k], g64[k]) < 1e-3
    np.testing.assert_array_equal(net32.predict(X), net64.predict(X))


def test_float32_trains_end_to_end(toy):
    _, X, y = toy
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1, dtype=np.float32)
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100)
    assert stats["loss_history"][-1] < 0.05
    assert net.params["W1"].dtype == np.float32


def test_predict_proba_rows_sum_to_one_and_argmax_is_predict(toy):
    net, X, _ = toy
    p = net.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(p.argmax(axis=1), net.predict(X))
    np.testing.assert_array_equal(net.predict(X), CORRECT_SCORES.argmax(axis=1))


def test_save_load_round_trip(tmp_path, toy):
    net, X, _ = toy
    net.class_names = ["cat", "dog", "bird"]
    net.save(tmp_path / "m.npz")
    back = TwoLayerNet.load(tmp_path / "m.npz")
    for k in net.params:
        np.testing.assert_array_equal(back.params[k], net.params[k])
    assert back.dtype == np.float64 and back.class_names == ["cat", "dog", "bird"]
    np.testing.assert_array_equal(back.loss(X), net.loss(X))
    net32 = TwoLayerNet(3, 2, 2, dtype="float32")
    net32.save(tmp_path / "m32.npz")
    assert TwoLayerNet.load(tmp_path / "m32.npz").params["W2"].dtype == np.float32


def test_model_file_matches_the_documented_format(tmp_path):
    """The README's model.npz table: every key, shape, dtype and meta field."""
    import json

    from twolayer.data import load
    from twolayer.runs import RunSettings, build
    from twolayer.train import TrainConfig

    ds = load("digits")
    net = build(RunSettings(hidden_size=7, train=TrainConfig(epochs=1)), ds)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    assert sorted(arrays) == ["W1", "W2", "b1", "b2", "meta", "pre_factor", "pre_offset"]
    assert {k: (v.shape, v.dtype.name) for k, v in arrays.items() if k != "meta"} == {
        "W1": ((64, 7), "float32"), "b1": ((7,), "float32"), "W2": ((7, 10), "float32"), "b2": ((10,), "float32"),
        "pre_offset": ((64,), "float64"), "pre_factor": ((64,), "float64")}
    assert arrays["meta"].shape == () and arrays["meta"].dtype.kind == "U"
    meta = json.loads(str(arrays["meta"]))
    assert sorted(meta) == ["class_names", "data", "dtype", "format", "image_shape", "preprocessor", "settings",
                            "version"]
    assert meta["format"] == "twolayer-model" and meta["version"] == 1 and meta["dtype"] == "float32"
    assert meta["preprocessor"] == {"mode": "scale", "pixel_max": 16.0}
    assert meta["image_shape"] == [8, 8] and meta["class_names"] == [str(i) for i in range(10)]
    assert meta["settings"]["train"]["epochs"] == 1


@pytest.mark.parametrize("version,words", [(2, "model format version 2 is newer than this twolayer reads (1); "
                                               "upgrade twolayer"),
                                           ("1", "model format version '1' is not a positive integer"),
                                           (None, "model format version None is not a positive integer")])
def test_a_newer_or_damaged_format_version_is_refused(tmp_path, toy, version, words):
    import json

    net, _, _ = toy
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = version
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(InputError, match=re.escape(words)):
        TwoLayerNet.load(tmp_path / "m.npz")


def test_saved_model_has_no_pickles(tmp_path, toy):
    net, _, _ = toy
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)


@pytest.mark.parametrize("bad, words", [
    (np.ones(4), "2-D"),
    (np.ones((5, 3)), "3 features but the model expects 4"),
    (np.full((2, 4), np.nan), "NaN or infinite"),
    (np.array([[1, 2, np.inf, 4.0]]), "NaN or infinite"),
    (np.array([["a", "b", "c", "d"]]), "numbers"),
])
def test_bad_X_raises_value_error(toy, bad, words):
    net, _, _ = toy
    with pytest.raises(ValueError, match=words):
        net.loss(bad)
    with pytest.raises(ValueError, match=words):
        net.predict(bad)


@pytest.mark.parametrize("bad_y, words", [
    ([0, 1, 2], "3 labels but X has 5 samples"),
    ([0, 1, 2, 3, 1], "label 3 but the model has 3 classes"),
    ([0, -1, 2, 2, 1], "negative label"),
    ([0.5, 1, 2, 2, 1], "integer class labels"),
])
def test_bad_y_raises_value_error(toy, bad_y, words):
    net, X, _ = toy
    with pytest.raises(ValueError, match=words):
        net.loss(X, np.array(bad_y))


@pytest.mark.parametrize("args, words", [
    ((0, 3, 2), "input_size"), ((4, -1, 2), "hidden_size"), ((4, 3, 2.5), "output_size")])
def test_bad_sizes(args, words):
    with pytest.raises(InputError, match=words):
        TwoLayerNet(*args)


def test_bad_dtype_and_reg(toy):
    net, X, y = toy
    with pytest.raises(ValueError, match="float32 or float64"):
        TwoLayerNet(4, 3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="reg"):
        net.loss(X, y, reg=-1)


def test_wrong_types_are_type_errors_with_the_same_words(toy):
    net, X, y = toy
    with pytest.raises(TypeError, match="output_size must be a positive integer, got 3.5"):
        TwoLayerNet(6, 5, 3.5)
    with pytest.raises(TypeError, match="reg must be a finite number"):
        net.loss(X, y, reg="high")
    with pytest.raises(TypeError, match="must hold numbers"):
        net.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError):  # every input error is also a ValueError
        TwoLayerNet(6, 5, 3.5)


def test_weighted_loss_gradients_are_numerical_gradients():
    for seed in range(3):
        net, X, y = random_problem(n=9, d=6, hidden=8, classes=4, seed=seed)
        w = np.random.default_rng(seed).uniform(0, 3, size=9)
        w[seed] = 0.0  # a row that does not count
        errors = check_net(net, X, y, reg=0.1, sample_weight=w)
        # round-off on the smallest W1 entries reaches ~2e-7; a wrong weighting gives errors ~1e-1
        assert max(errors.values()) < 1e-6, errors


def test_integer_weights_equal_repeated_rows():
    net, X, y = random_problem(n=6, d=5, hidden=7, classes=3, seed=4)
    w = np.array([0, 1, 3, 2, 1, 4])
    lw, gw = net.loss(X, y, reg=0.05, sample_weight=w)
    gw = {k: v.copy() for k, v in gw.items()}
    lr, gr = net.loss(np.repeat(X, w, axis=0), np.repeat(y, w), reg=0.05)
    assert lw == pytest.approx(lr, rel=1e-12)
    for k in gw:
        np.testing.assert_allclose(gw[k], gr[k], rtol=1e-10, atol=1e-14)
    # equal weights are no weights
    lu, gu = net.loss(X, y, reg=0.05)
    gu = {k: v.copy() for k, v in gu.items()}
    l2, g2 = net.loss(X, y, reg=0.05, sample_weight=np.full(6, 2.5))
    assert l2 == pytest.approx(lu, rel=1e-12)
    for k in gu:
        np.testing.assert_allclose(g2[k], gu[k], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("w, words", [([1, 2], "one weight per row"), ([1, -1, 1, 1, 1], ">= 0"),
                                      ([0, 0, 0, 0, 0], "all zero"), ([1, np.nan, 1, 1, 1], "finite")])
def test_bad_sample_weight(toy, w, words):
    net, X, y = toy
    with pytest.raises(InputError, match=words):
        net.loss(X, y, sample_weight=w)
