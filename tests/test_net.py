"""TwoLayerNet against the CS231n notebook's known values, numerical gradients and float32."""

import re

import numpy as np
import pytest

from twolayer import InputError, TwoLayerNet
from twolayer.gradcheck import check_net, random_problem, rel_error

CORRECT_SCORES = np.asarray(
    [
        [-0.81233741, -1.27654624, -0.70335995],
        [-0.17129677, -1.18803311, -0.47310444],
        [-0.51590475, -1.01354314, -0.8504215],
        [-0.15419291, -0.48629638, -0.52901952],
        [-0.00618733, -0.12435261, -0.15226949],
    ]
)


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
    assert l1 - l0 == pytest.approx(0.3 * (np.sum(w1**2) + np.sum(w2**2)), rel=1e-12)
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batch_bytes_counts_what_the_workspace_allocates_per_batch(dtype):
    net = TwoLayerNet(5, 7, 3, dtype=dtype, seed=0)
    work = net.workspace(11)
    rows = [work.a, work.dh, work.scores, work.mask]  # grads and scratch are the params' size
    assert [b.shape for b in rows] == [(11, 7), (11, 7), (11, 3), (11, 7)]
    assert work.a.dtype == work.dh.dtype == work.scores.dtype == net.dtype
    assert work.mask.dtype == bool
    assert net.batch_bytes(11) == sum(b.nbytes for b in rows)


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
        "W1": ((64, 7), "float32"),
        "b1": ((7,), "float32"),
        "W2": ((7, 10), "float32"),
        "b2": ((10,), "float32"),
        "pre_offset": ((64,), "float64"),
        "pre_factor": ((64,), "float64"),
    }
    assert arrays["meta"].shape == () and arrays["meta"].dtype.kind == "U"
    meta = json.loads(str(arrays["meta"]))
    assert sorted(meta) == [
        "class_names",
        "data",
        "dtype",
        "format",
        "image_shape",
        "preprocessor",
        "settings",
        "version",
    ]
    assert (
        meta["format"] == "twolayer-model" and meta["version"] == 1 and meta["dtype"] == "float32"
    )
    assert meta["preprocessor"] == {"mode": "scale", "pixel_max": 16.0}
    assert meta["image_shape"] == [8, 8] and meta["class_names"] == [str(i) for i in range(10)]
    assert meta["settings"]["train"]["epochs"] == 1


@pytest.mark.parametrize(
    "version,words",
    [
        (2, "model format version 2 is newer than this twolayer reads (1); upgrade twolayer"),
        ("1", "model format version '1' is not a positive integer"),
        (None, "model format version None is not a positive integer"),
    ],
)
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


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.ones(4), "2-D"),
        (np.ones((5, 3)), "3 features but the model expects 4"),
        (np.full((2, 4), np.nan), "NaN or infinite"),
        (np.array([[1, 2, np.inf, 4.0]]), "NaN or infinite"),
        (np.array([["a", "b", "c", "d"]]), "numbers"),
    ],
)
def test_bad_X_raises_value_error(toy, bad, words):
    net, _, _ = toy
    with pytest.raises(ValueError, match=words):
        net.loss(bad)
    with pytest.raises(ValueError, match=words):
        net.predict(bad)
    with pytest.raises(ValueError, match=words):
        net.predict_proba(bad)


@pytest.mark.parametrize(
    "bad_y, words",
    [
        ([0, 1, 2], "3 labels but X has 5 samples"),
        ([0, 1, 2, 3, 1], "label 3 but the model has 3 classes"),
        ([0, -1, 2, 2, 1], "negative label"),
        ([0.5, 1, 2, 2, 1], "integer class labels"),
    ],
)
def test_bad_y_raises_value_error(toy, bad_y, words):
    net, X, _ = toy
    with pytest.raises(ValueError, match=words):
        net.loss(X, np.array(bad_y))


@pytest.mark.parametrize(
    "args, words",
    [((0, 3, 2), "input_size"), ((4, -1, 2), "hidden_size"), ((4, 3, 2.5), "output_size")],
)
def test_bad_sizes(args, words):
    # the settings table's words, as everywhere else (issue 17: one vocabulary)
    with pytest.raises(InputError, match=f"^{words} must be an integer in 1..1,000,000,000, got "):
        TwoLayerNet(*args)


@pytest.mark.parametrize(
    "std, words", [(-1.0, "got -1.0"), ("xavier", "got 'xavier'"), (np.inf, "got inf")]
)
def test_bad_std(std, words):
    with pytest.raises(
        InputError,
        match=rf"^std must be a finite number >= 0 or None \(He initialisation\), {words}$",
    ):
        TwoLayerNet(4, 3, 2, std=std)


def test_bad_dtype_and_reg(toy):
    net, X, y = toy
    with pytest.raises(ValueError, match="float32 or float64"):
        TwoLayerNet(4, 3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="reg"):
        net.loss(X, y, reg=-1)


def test_wrong_types_are_type_errors_with_the_same_words(toy):
    net, X, y = toy
    with pytest.raises(
        TypeError, match="output_size must be an integer in 1..1,000,000,000, got 3.5"
    ):
        TwoLayerNet(6, 5, 3.5)
    with pytest.raises(TypeError, match="reg must be a finite number"):
        net.loss(X, y, reg="high")
    with pytest.raises(TypeError, match="must hold numbers"):
        net.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError):  # every input error is also a ValueError
        TwoLayerNet(6, 5, 3.5)


def test_save_load_keeps_meta_and_preprocessing(tmp_path, toy):
    from twolayer.data.preprocess import Preprocessor

    net, X, _ = toy
    net.preprocessor = Preprocessor("standardize").fit(X)
    net.meta = {"data": "digits", "image_shape": [2, 2]}
    net.save(tmp_path / "m.npz")
    back = TwoLayerNet.load(tmp_path / "m.npz")
    assert back.meta == {
        "data": "digits",
        "image_shape": [2, 2],
    }  # format, version, dtype are the file's own
    assert back.class_names is None and back.preprocessor.mode == "standardize"
    np.testing.assert_allclose(back.transform(X), (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-10)
    np.testing.assert_array_equal(back.predict(back.transform(X)), net.predict(net.transform(X)))
    back.preprocessor = None
    plain = back.transform([[1, 2, 3, 4]])
    assert plain.dtype == np.float64 and plain.tolist() == [[1, 2, 3, 4]]
    net32 = TwoLayerNet(4, 3, 2, dtype="float32")
    assert net32.transform([[1, 2, 3, 4]]).dtype == np.float32
    net32.preprocessor = net.preprocessor
    np.testing.assert_allclose(net32.transform(X), (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-5)
    assert net32.transform(X).dtype == np.float32


def write_model(path, **changes):
    """A valid model file (4 → 3 → 2) with some arrays replaced or removed (value None)."""
    import json

    arrays = {
        "W1": np.ones((4, 3)),
        "b1": np.zeros(3),
        "W2": np.ones((3, 2)),
        "b2": np.zeros(2),
        "meta": np.array(
            json.dumps({"format": "twolayer-model", "version": 1, "dtype": "float64"})
        ),
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def meta(**fields):
    import json

    return np.array(
        json.dumps({"format": "twolayer-model", "version": 1, "dtype": "float64", **fields})
    )


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"meta": np.array("{not json")}, "model metadata is not valid JSON; the file is damaged"),
        ({"meta": np.array(5)}, "metadata has the wrong type; the file is damaged"),
        ({"meta": np.array('["twolayer-model"]')}, "not a twolayer model file"),
        ({"meta": np.array('{"format": "keras"}')}, "not a twolayer model file"),
        ({"b1": np.zeros(3, np.int64)}, "array b1 has dtype int64, expected float32 or float64"),
        ({"W2": np.full((3, 2), np.nan)}, "array W2 contains NaN or infinite values"),
        ({"b2": np.array([0.0, np.inf])}, "array b2 contains NaN or infinite values"),
        (
            {"W1": np.ones(4)},
            r"parameter shapes do not fit together \(W1 \(4,\), b1 \(3,\), W2 \(3, 2\), b2 \(2,\)\)",
        ),
        ({"W2": np.ones((3, 2, 1))}, "parameter shapes do not fit together"),
        ({"b1": np.zeros(2)}, "parameter shapes do not fit together"),
        ({"W2": np.ones((2, 2))}, "parameter shapes do not fit together"),
        ({"b2": np.zeros(3)}, "parameter shapes do not fit together"),
        (
            {"meta": meta(class_names="ab")},
            "meta: field 'class_names' must be a list of strings or null, got 'ab'; "
            "the file is damaged",
        ),
        (
            {"meta": meta(class_names=["a", "b", "c"])},
            "class names do not match the model's 2 outputs",
        ),
        (
            {"meta": meta(class_names=["a", 2])},
            r"meta: field 'class_names' must be a list of strings or null, got "
            r"\['a', 2\]; the file is damaged",
        ),
        (
            {"meta": meta(dtype="int8")},
            "meta: field 'dtype' must be 'float32' or 'float64', got 'int8'; the file is damaged",
        ),
        ({"W2": None}, "missing array"),
        (
            {"meta": meta(preprocessor={"mode": "standardize"})},
            r"damaged preprocessing data \(KeyError: 'offset'\)",
        ),
    ],
)
def test_a_damaged_model_file_is_one_error_naming_it(tmp_path, changes, words):
    path = write_model(tmp_path / "bad.npz", **changes)
    with pytest.raises(
        InputError,
        match=f"^{tmp_path / 'bad.npz'}: .*{words}"
        if "missing" in words
        else f"^{tmp_path / 'bad.npz'}: {words}",
    ):
        TwoLayerNet.load(path)


def test_a_model_file_of_either_float_dtype_loads_in_the_dtype_it_names(tmp_path):
    path = write_model(
        tmp_path / "m.npz", W1=np.ones((4, 3), np.float32), meta=meta(class_names=["a", "b"])
    )
    net = TwoLayerNet.load(path)
    assert net.dtype == np.float64 and all(v.dtype == np.float64 for v in net.params.values())
    assert all(v.flags.c_contiguous for v in net.params.values())
    assert net.class_names == ["a", "b"] and net.preprocessor is None and net.meta == {}
    assert (net.input_size, net.hidden_size, net.output_size) == (4, 3, 2)
    np.testing.assert_allclose(net.loss(np.ones((1, 4))), [[12.0, 12.0]])  # relu(4·1)·3 per output


def test_model_arrays_of_the_other_byte_order_are_read_as_this_machines():
    from twolayer import modelfile

    other = ">" if np.little_endian else "<"
    native = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.ones(3), "W2": np.ones((3, 2)),
              "b2": np.zeros(2)}  # fmt: skip
    for dt in ("f4", "f8"):
        p = {k: v.astype(other + dt) for k, v in native.items()}
        checked = modelfile.check_arrays(dict(p), "m.npz")
        for k, v in checked.items():
            assert v.dtype == np.dtype(dt) and v.dtype.isnative, (k, v.dtype)
            np.testing.assert_array_equal(v, native[k])
        same = {k: v.astype(dt) for k, v in native.items()}  # already native: kept as they are
        assert all(modelfile.check_arrays(dict(same), "m.npz")[k] is same[k] for k in same)


def test_saving_non_finite_weights_names_them(tmp_path, toy):
    net, _, _ = toy
    net.params["b2"][0] = np.nan
    net.params["W1"][0, 0] = np.inf
    with pytest.raises(
        InputError,
        match=r"m.npz: not saved: W1, b2 contain NaN or infinite values \(did training "
        r"diverge\? try a smaller learning rate\)$",
    ):
        net.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_a_model_file_without_dtype_or_class_names_takes_the_arrays_dtype(tmp_path):
    import json

    f32 = {
        k: v.astype(np.float32)
        for k, v in {
            "W1": np.ones((4, 3)),
            "b1": np.zeros(3),
            "W2": np.ones((3, 2)),
            "b2": np.zeros(2),
        }.items()
    }
    path = write_model(
        tmp_path / "old.npz",
        **f32,
        meta=np.array(json.dumps({"format": "twolayer-model", "version": 1})),
    )
    net = TwoLayerNet.load(path)
    assert net.dtype == np.float32 and net.class_names is None and net.meta == {}
    assert net.predict_proba(np.ones((1, 4))).dtype == np.float32


def test_scores_in_row_blocks_equal_one_pass(toy):
    net, X, _ = toy
    X = np.vstack([X, -X, 2 * X])  # 15 rows: blocks of 4 leave a short last block
    h = np.maximum(X @ net.params["W1"] + net.params["b1"], 0)
    ref = h @ net.params["W2"] + net.params["b2"]
    # a different input per call, all references alive: a block left unwritten cannot hold a right answer
    inputs = [X * (i + 1) + i for i in range(5)]
    refs = [
        np.maximum(x @ net.params["W1"] + net.params["b1"], 0) @ net.params["W2"] + net.params["b2"]
        for x in inputs
    ]
    np.testing.assert_allclose(refs[0], ref, rtol=1e-12)
    for x, want, batch_size in zip(inputs, refs, (1, 4, 15, 4096, None)):
        got = net.scores(x) if batch_size is None else net.scores(x, batch_size=batch_size)
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_he_initialisation_and_generator_seeds():
    net = TwoLayerNet(50, 40, 3, std="he", seed=np.random.default_rng(4))
    rng = np.random.default_rng(
        4
    )  # the same draws, in order: W1 then W2, scaled by He's and LeCun's factors
    np.testing.assert_array_equal(net.params["W1"], np.sqrt(2 / 50) * rng.standard_normal((50, 40)))
    np.testing.assert_array_equal(net.params["W2"], np.sqrt(1 / 40) * rng.standard_normal((40, 3)))
    np.testing.assert_array_equal(
        TwoLayerNet(50, 40, 3, std="he", seed=4).params["W1"], net.params["W1"]
    )
    np.testing.assert_array_equal(
        TwoLayerNet(6, 5, 2, seed=3).params["W1"],  # CS231n's default std 1e-4
        1e-4 * np.random.default_rng(3).standard_normal((6, 5)),
    )
    small = TwoLayerNet(
        5, 4, 3, std=0.0, seed=1, dtype="float32"
    )  # std 0: all-zero weights, in float32
    assert all(not v.any() and v.dtype == np.float32 for v in small.params.values())
    assert (small.input_size, small.hidden_size, small.output_size) == (5, 4, 3)
    assert small.preprocessor is None and small.class_names is None and small.meta == {}


def test_loss_names_non_finite_inputs_even_when_scores_only_are_asked(toy):
    net, X, y = toy
    X = X.copy()
    X[2, 1] = np.inf
    for call in (lambda: net.loss(X), lambda: net.loss(X, y)):
        with pytest.raises(InputError, match="^X contains NaN or infinite values$"):
            call()


def test_scores_allocate_only_the_output_and_one_activation_block():
    import tracemalloc

    net = TwoLayerNet(256, 256, 256, seed=0, std="he")
    X = np.random.default_rng(0).standard_normal((256, 256))
    net.scores(X)
    one = 256 * 256 * 8  # every array here is 256 × 256 float64
    tracemalloc.start()
    try:
        net.scores(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * one, peak  # the scores and the hidden layer (ReLU in place), nothing more


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


@pytest.mark.parametrize(
    "w, words",
    [
        ([1, 2], "one weight per row"),
        ([1, -1, 1, 1, 1], ">= 0"),
        ([0, 0, 0, 0, 0], "all zero"),
        ([1, np.nan, 1, 1, 1], "finite"),
    ],
)
def test_bad_sample_weight(toy, w, words):
    net, X, y = toy
    with pytest.raises(InputError, match=words):
        net.loss(X, y, sample_weight=w)


@pytest.mark.parametrize(
    "row, words",
    [
        (
            [0.25, -0.5],
            "although its values are only up to 0.5: the model's weights overflow float32 (a diverged or "
            "damaged model)",
        ),
        (
            [3.0, -1e6],
            "although its values are only up to 1e+06: the model's weights overflow float32 (a diverged or "
            "damaged model)",
        ),
        (
            [1e6 + 0.5, 0.0],
            "its values (up to 1e+06) overflow float32; scale them, e.g. preprocess='standardize'",
        ),
        (
            [-3e38, 1.0],
            "its values (up to 3e+38) overflow float32; scale them, e.g. preprocess='standardize'",
        ),
        (
            [np.inf, 1.0],
            "its values (after preprocessing) overflow float32; scale them, e.g. preprocess='standardize'",
        ),
    ],
)
def test_non_finite_scores_name_the_first_bad_row_and_the_cause(row, words):
    from twolayer.net import bad_scores

    scores = np.array([[1.0, 2.0], [np.inf, 0.0], [np.nan, 1.0]], dtype=np.float32)
    X = np.array(
        [[1e30, 1e30], row, [1e30, 1e30]], dtype=np.float32
    )  # only row 1 (the first bad one) counts
    with pytest.raises(ValueError) as e:
        bad_scores(scores, X, np.float32, "X_test", 10)
    sep = ": " if "although" not in words else " "
    assert str(e.value) == f"X_test: row 11 gives non-finite class scores{sep}{words}"


@pytest.mark.parametrize("pre", [None, "standardize"])
def test_raw_rows_are_checked_under_the_caller_s_name(pre):
    from twolayer.data.preprocess import Preprocessor

    rng = np.random.default_rng(0)
    net = TwoLayerNet(4, 5, 3, seed=0, dtype=np.float32)
    net.preprocessor = None if pre is None else Preprocessor(pre).fit(rng.standard_normal((20, 4)))
    for call in (net.predict, net.predict_proba):
        with pytest.raises(ValueError, match=r"^X_new has 5 features but the model expects 4$"):
            call(np.ones((2, 5)), name="X_new")
        with pytest.raises(ValueError, match=r"^X_new has 3 features but the model expects 4$"):
            call(np.ones((2, 3)), name="X_new")
        with pytest.raises(ValueError, match=r"^X has 5 features but the model expects 4$"):
            call(np.ones((2, 5)))


def test_raw_rows_beyond_float32_are_preprocessed_in_float64_first():
    """A float32 net with standardization: rows of size 1e100 are scaled before they become float32."""
    from twolayer.data.preprocess import Preprocessor

    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 4)) * 1e100
    net = TwoLayerNet(4, 5, 3, std=0.5, seed=0, dtype=np.float32)
    net.preprocessor = Preprocessor("standardize").fit(X)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)  # the standardization written out, in float64
    s = net.scores(Z.astype(np.float32)).astype(np.float64)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    np.testing.assert_allclose(net.predict_proba(X), p / p.sum(axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_array_equal(net.predict(X), net.scores(Z.astype(np.float32)).argmax(axis=1))
    plain = TwoLayerNet(
        4, 5, 3, std=0.5, seed=0, dtype=np.float32
    )  # without preprocessing: float32 refuses them
    with pytest.raises(ValueError):
        plain.predict(X)


@pytest.mark.parametrize(
    "fields, words",
    [
        (
            {"settings": {"train": {"epochs": -1}}},
            "meta: settings: train: field 'epochs' must be an integer in "
            r"1\.\.1,000,000 \(or None: auto\), got -1; the file is damaged$",
        ),
        (
            {"image_shape": [3, 3]},
            r"meta: field 'image_shape' \[3, 3\] does not match the model's 4 inputs; the file is "
            "damaged$",
        ),
        (
            {"image_shape": [4, 1], "class_names": ["a", "b", "c"]},
            "class names do not match the model's 2 outputs; the file is damaged$",
        ),
    ],
)
def test_damaged_settings_or_image_shape_are_named_exactly(tmp_path, fields, words):
    path = write_model(tmp_path / "bad.npz", meta=meta(**fields))
    with pytest.raises(InputError, match=f"^{tmp_path / 'bad.npz'}: {words}"):
        TwoLayerNet.load(path)
    good = {"settings": {"train": {"epochs": 3}}, "image_shape": [2, 2]}
    assert TwoLayerNet.load(write_model(tmp_path / "good.npz", meta=meta(**good))).meta == good


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_parameter_starts_in_the_net_s_dtype_and_the_size_limit_uses_it(dtype, monkeypatch):
    net = TwoLayerNet(4, 3, 2, seed=0, dtype=dtype)
    assert {k: v.dtype for k, v in net.params.items()} == dict.fromkeys(
        ("W1", "b1", "W2", "b2"), np.dtype(dtype)
    )
    n_bytes = (4 * 3 + 3 + 3 * 2 + 2) * np.dtype(dtype).itemsize
    monkeypatch.setenv("TWOLAYER_MAX_MODEL_BYTES", str(n_bytes))
    TwoLayerNet(4, 3, 2, seed=0, dtype=dtype)  # exactly at the limit
    monkeypatch.setenv("TWOLAYER_MAX_MODEL_BYTES", str(n_bytes - 1))
    with pytest.raises(ValueError):
        TwoLayerNet(4, 3, 2, seed=0, dtype=dtype)


def test_predictions_name_an_overflowing_row_under_the_caller_s_name():
    net = TwoLayerNet(2, 3, 2, seed=0)
    net.params["W1"][...] = 1e300
    net.params["W2"][...] = 1e300
    X = np.array([[0.0, 0.0], [0.5, 0.25]])
    for call in (net.predict, net.predict_proba):
        with pytest.raises(
            ValueError,
            match=r"^X_test: row 1 gives non-finite class scores although its values are "
            r"only up to 0\.5",
        ):
            call(X, name="X_test")


def test_sparse_input_gives_the_dense_loss_and_gradients():
    """The first affine gate multiplies a SciPy sparse X as it is, forward (X·W1) and backward
    (Xᵀ·dh): the same loss and gradients as the dense X, which gradcheck verifies elsewhere."""
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 12)) * (rng.random((30, 12)) < 0.2)
    y = rng.integers(0, 3, 30)
    net = TwoLayerNet(12, 7, 3, std=0.5, seed=1)
    dense_loss, dense_grads, _ = net.forward_backward(X, y, 0.01)
    dense_grads = {k: v.copy() for k, v in dense_grads.items()}
    for fmt in ("csr", "csc"):
        Xs = sp.csr_matrix(X).asformat(fmt)
        loss, grads, _ = net.forward_backward(Xs, y, 0.01, work=net.workspace(30))
        assert loss == pytest.approx(dense_loss, rel=1e-12)
        for k in grads:
            np.testing.assert_allclose(grads[k], dense_grads[k], atol=1e-12)
        np.testing.assert_allclose(net.scores(Xs), net.scores(X), atol=1e-12)
