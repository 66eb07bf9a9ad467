"""Update rules against steps computed by hand."""

import tracemalloc

import numpy as np
import pytest

from twolayer.optim import SGD, Adam, make_optimizer
from twolayer.schedules import learning_rate_at


def step(opt, w, dw, lr, times=1):
    p = {"W1": np.array(w, dtype=float)}
    for _ in range(times):
        opt.step(p, {"W1": np.array(dw, dtype=float)}, lr)
    return p["W1"]


def test_sgd():
    np.testing.assert_allclose(step(SGD(), [1.0, -2.0], [0.5, 1.0], 0.1), [0.95, -2.1])


def test_momentum_two_steps():
    # v1 = -0.1·1 = -0.1, w1 = 0.9; v2 = 0.9·(-0.1) - 0.1 = -0.19, w2 = 0.71
    np.testing.assert_allclose(step(SGD(momentum=0.9), [1.0], [1.0], 0.1, times=2), [0.71])


def test_nesterov_two_steps():
    # CS231n: v' = μv - lr·dw; w += -μv + (1+μ)v'
    # step 1: v=0 → v'=-0.1, w = 1 + 1.9·(-0.1) = 0.81
    # step 2: v'=0.9·(-0.1) - 0.1 = -0.19, w = 0.81 + 0.09 + 1.9·(-0.19) = 0.539
    np.testing.assert_allclose(
        step(SGD(momentum=0.9, nesterov=True), [1.0], [1.0], 0.1, times=2), [0.539]
    )


def test_adam_first_step_moves_by_lr_times_sign():
    # bias-corrected m̂ = g, v̂ = g² → step = lr·g/(|g| + ε)
    np.testing.assert_allclose(step(Adam(), [1.0, 1.0], [3.0, -0.5], 0.01), [0.99, 1.01], rtol=1e-6)


def test_adam_matches_textbook_formula_over_steps():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((5, 3))
    w_ref, m, v = np.ones(3), np.zeros(3), np.zeros(3)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    opt, p = Adam(), {"W1": np.ones(3)}
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w_ref = w_ref - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        opt.step(p, {"W1": g.copy()}, lr)
    np.testing.assert_allclose(p["W1"], w_ref, rtol=1e-12)


def test_decoupled_weight_decay_shrinks_weights_not_biases():
    opt = SGD(weight_decay=0.5)
    p = {"W1": np.array([2.0]), "b1": np.array([2.0])}
    opt.step(p, {"W1": np.zeros(1), "b1": np.zeros(1)}, 0.1)
    np.testing.assert_allclose(p["W1"], [2.0 * (1 - 0.05)])
    np.testing.assert_allclose(p["b1"], [2.0])


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4) for _ in range(6)]
    a, pa = make_optimizer("adam"), {"W1": np.ones(4)}
    for g in grads:
        a.step(pa, {"W1": g}, 0.01)
    b, pb = make_optimizer("adam"), {"W1": np.ones(4)}
    for g in grads[:3]:
        b.step(pb, {"W1": g}, 0.01)
    c = make_optimizer("adam")
    c.load_state_dict(b.state_dict())
    for g in grads[3:]:
        c.step(pb, {"W1": g}, 0.01)
    np.testing.assert_array_equal(pa["W1"], pb["W1"])


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop")


def test_schedules():
    assert learning_rate_at(3, base_lr=1.0, schedule="step", decay=0.5) == 0.125
    assert learning_rate_at(0, base_lr=1.0, schedule="cosine", epochs=10) == 1.0
    assert learning_rate_at(5, base_lr=1.0, schedule="cosine", epochs=10) == pytest.approx(0.5)
    assert learning_rate_at(0, base_lr=1.0, schedule="cosine", epochs=10, warmup_epochs=3) == 0.25
    assert learning_rate_at(7, base_lr=2.0, schedule="constant") == 2.0


def test_adamw_decays_weights_after_the_adam_step():
    # AdamW (Loshchilov & Hutter): w ← (w - lr·m̂/(√v̂+ε))·(1 - lr·wd) on weights; biases get Adam only
    g, lr, wd = np.array([3.0, -0.5]), 0.01, 0.5
    for opt in (Adam(weight_decay=wd), make_optimizer("adamw", weight_decay=wd)):
        p = {"W1": np.ones(2), "b1": np.ones(2)}
        opt.step(p, {"W1": g.copy(), "b1": g.copy()}, lr)
        adam = 1.0 - lr * np.sign(g)  # first Adam step: lr·g/|g|
        np.testing.assert_allclose(p["W1"], adam * (1 - lr * wd), rtol=1e-6)
        np.testing.assert_allclose(p["b1"], adam, rtol=1e-6)


@pytest.mark.parametrize(
    "name, reference",
    [
        ("sgd", lambda: SGD()),
        ("momentum", lambda: SGD(momentum=0.5)),
        ("nesterov", lambda: SGD(momentum=0.5, nesterov=True)),
        ("adam", lambda: Adam()),
        ("adamw", lambda: Adam(weight_decay=0.2)),
    ],
)
def test_make_optimizer_builds_the_named_rule(name, reference):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(3) for _ in range(4)]
    a, b = make_optimizer(name, momentum=0.5, weight_decay=0.2), reference()
    pa, pb = {"W1": np.ones(3)}, {"W1": np.ones(3)}
    for g in grads:
        a.step(pa, {"W1": g.copy()}, 0.1)
        b.step(pb, {"W1": g.copy()}, 0.1)
    np.testing.assert_array_equal(pa["W1"], pb["W1"])


def test_make_optimizer_defaults():
    # momentum 0.9 by default; no weight decay unless asked for, so "adamw" alone is plain Adam
    for name, reference in (("momentum", SGD(momentum=0.9)), ("adamw", Adam())):
        a, pa, pb = make_optimizer(name), {"W1": np.ones(2)}, {"W1": np.ones(2)}
        for _ in range(3):
            a.step(pa, {"W1": np.array([1.0, -2.0])}, 0.1)
            reference.step(pb, {"W1": np.array([1.0, -2.0])}, 0.1)
        np.testing.assert_array_equal(pa["W1"], pb["W1"])


def test_unknown_optimizer_names_the_choices():
    with pytest.raises(
        ValueError,
        match=r"^unknown optimizer 'rmsprop'; choose one of sgd, momentum, nesterov, "
        r"adam, adamw$",
    ):
        make_optimizer("rmsprop")


def test_state_dict_holds_the_textbook_moments_and_no_work_buffers():
    # the checkpoint format: Adam's m_<param>, v_<param>; momentum's velocity under the param's name
    g = np.array([2.0, -1.0])
    adam, p = Adam(), {"W1": np.ones(2)}
    adam.step(p, {"W1": g.copy()}, 0.1)
    state = adam.state_dict()
    assert state["t"] == 1 and set(state["arrays"]) == {"m_W1", "v_W1"}
    np.testing.assert_allclose(state["arrays"]["m_W1"], 0.1 * g)
    np.testing.assert_allclose(state["arrays"]["v_W1"], 0.001 * g * g)
    sgd, p = SGD(momentum=0.9), {"W1": np.ones(2)}
    sgd.step(p, {"W1": g.copy()}, 0.1)
    assert set(sgd.state_dict()["arrays"]) == {"W1"}
    np.testing.assert_allclose(sgd.state_dict()["arrays"]["W1"], -0.1 * g)
    assert set(SGD().state_dict()["arrays"]) == set()  # plain SGD has no state to resume


@pytest.mark.parametrize(
    "make",
    [
        SGD,
        lambda: SGD(momentum=0.9),
        lambda: SGD(momentum=0.9, nesterov=True),
        lambda: Adam(weight_decay=0.1),
    ],
)
def test_a_step_allocates_no_array_memory(make):
    # the optimizer's promise: after the first step (which makes its buffers), updates happen in place
    w, dw = np.ones(100_000), np.full(100_000, 0.5)
    opt, p = make(), {"W1": w}
    opt.step(p, {"W1": dw}, 0.1)
    tracemalloc.start()
    try:
        opt.step(p, {"W1": dw}, 0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert p["W1"] is w and peak < w.nbytes / 10


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_on_one_packed_buffer_equals_the_per_parameter_rule(name):
    from twolayer.optim import packed

    rng = np.random.default_rng(3)
    shapes = {"W1": (6, 5), "b1": (5,), "W2": (5, 3), "b2": (3,)}
    start = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads = [
        {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()} for _ in range(7)
    ]
    separate, one = {k: v.copy() for k, v in start.items()}, packed(start)
    opt_a, opt_b = make_optimizer(name, weight_decay=0.1), make_optimizer(name, weight_decay=0.1)
    work = packed({k: np.empty_like(v) for k, v in start.items()})
    for i, g in enumerate(grads):
        opt_a.step(separate, {k: v.copy() for k, v in g.items()}, 1e-2)
        for k in work:
            work[k][...] = g[k]
        opt_b.step(one, work, 1e-2)
        if i == 3:  # a reload in the middle (resume): the moments are laid out again
            opt_b.load_state_dict(opt_b.state_dict())
    assert opt_b._flat is not None  # the one-buffer path ran
    for k in shapes:
        np.testing.assert_array_equal(one[k], separate[k])
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["t"] == sb["t"] and set(sa["arrays"]) == set(sb["arrays"])
    for k in sa["arrays"]:
        np.testing.assert_array_equal(sa["arrays"][k], sb["arrays"][k])


def test_buffer_of_finds_the_one_buffer_only_for_consecutive_slices_in_order():
    from twolayer.optim import _buffer_of, packed

    rng = np.random.default_rng(0)
    arrays = {
        "W1": rng.standard_normal((3, 2)),
        "b1": rng.standard_normal(2),
        "W2": rng.standard_normal((2, 4)),
    }
    one = packed(arrays)
    base = _buffer_of(one)
    assert base is one["W1"].base and base.shape == (16,)
    np.testing.assert_array_equal(base, np.concatenate([a.ravel() for a in arrays.values()]))
    assert _buffer_of({"b1": one["b1"], "W1": one["W1"], "W2": one["W2"]}) is None  # out of order
    assert (
        _buffer_of({"W1": one["W1"], "b1": one["b1"]}) is None
    )  # the buffer is not covered to its end
    assert _buffer_of({"b1": one["b1"], "W2": one["W2"]}) is None  # nor from its start
    assert _buffer_of(arrays) is None  # separate arrays
    flat = np.arange(12.0)
    assert _buffer_of({"a": flat[:6].reshape(2, 3), "b": flat[6:]}) is flat
    assert (
        _buffer_of({"a": flat[:6].reshape(3, 2).T, "b": flat[6:]}) is None
    )  # a non-contiguous view
    assert _buffer_of({"a": flat.reshape(3, 4)[:, :2], "b": flat[6:]}) is None
    grid = np.ones((3, 4))  # a 2-D base
    assert _buffer_of({"a": grid[:1], "b": grid[1:]}) is None
    view = flat[::2]  # strided slices of a 1-D base
    assert _buffer_of({"a": view[:3].reshape(3), "b": view[3:]}) is None
    mixed = np.zeros(8, np.float64)
    assert _buffer_of({"a": mixed[:4], "b": mixed[4:].view(np.int64)}) is None  # another dtype


@pytest.mark.parametrize("packed_side", ["params", "grads"])
def test_adam_with_only_one_side_packed_falls_back_to_the_per_parameter_rule(packed_side):
    from twolayer.optim import packed

    rng = np.random.default_rng(5)
    shapes = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
    start = {k: rng.standard_normal(s) for k, s in shapes.items()}
    g = {k: rng.standard_normal(s) for k, s in shapes.items()}
    ref, p = (
        {k: v.copy() for k, v in start.items()},
        (packed(start) if packed_side == "params" else {k: v.copy() for k, v in start.items()}),
    )
    grads = packed(g) if packed_side == "grads" else {k: v.copy() for k, v in g.items()}
    opt_ref, opt = Adam(), Adam()
    for _ in range(3):
        opt_ref.step(ref, {k: v.copy() for k, v in g.items()}, 1e-2)
        opt.step(p, grads, 1e-2)
    assert opt._flat is None
    for k in shapes:
        np.testing.assert_array_equal(p[k], ref[k])


def test_buffer_of_an_unpickled_array_is_none_not_an_error():
    import pickle

    from twolayer.optim import _buffer_of

    # an array this large comes back from pickle with the bytes it was read from as its base
    a = pickle.loads(pickle.dumps(np.zeros((1000, 2)), protocol=4))
    assert isinstance(a.base, bytes)
    assert _buffer_of({"w": a}) is None
