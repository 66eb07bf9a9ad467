"""The settings table (settings.RULES): every rule accepted and refused at its bounds, in its exact
words; one vocabulary for the API, the loaders and the command line; errors that name settings
as their caller spells them, and only the command line spelling them as flags."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from twolayer import data
from twolayer.cli import main
from twolayer.errors import DivergedError, InputError, Setting
from twolayer.net import TwoLayerNet
from twolayer.schedules import learning_rate_at
from twolayer.settings import (
    RULES,
    RUN_FIELDS,
    TRAIN_FIELDS,
    RunSettings,
    SettingError,
    SettingTypeError,
    TrainConfig,
    check_setting,
    check_settings_dict,
    flag,
)
from twolayer.train import Trainer

TINY = 5e-324  # the smallest float above 0
INF, NAN = float("inf"), float("nan")

# name: (words, accepted at the bounds, refused just beyond them). The words are written out here,
# not read from RULES: changing what the table says must change this test too.
TABLE = {
    "epochs": ("an integer in 1..1,000,000 (or None: auto)", [1, 10**6, None], [0, 10**6 + 1]),
    "batch_size": ("an integer in 1..10,000,000", [1, 10**7], [0, 10**7 + 1]),
    "learning_rate": ("a finite number > 0", [TINY, 1e308], [0.0, -1.0, INF, NAN]),
    "reg": ("a finite number >= 0", [0, 0.0, 1e308], [-TINY, INF, NAN]),
    "optimizer": (
        "one of sgd, momentum, nesterov, adam, adamw",
        ["sgd", "momentum", "nesterov", "adam", "adamw"],
        ["rmsprop", "SGD", ""],
    ),
    "momentum": ("a number in [0, 1)", [0, 0.0, 1 - 1e-16], [1, 1.0, -TINY]),
    "weight_decay": ("a finite number >= 0", [0, 1e308], [-TINY, INF]),
    "schedule": (
        "one of constant, step, cosine, plateau",
        ["constant", "step", "cosine", "plateau"],
        ["linear"],
    ),
    "lr_decay": ("a number in (0, 1]", [TINY, 1, 1.0], [0, 0.0, 1 + 1e-15]),
    "min_lr_ratio": ("a number in [0, 1)", [0, 1 - 1e-16], [1, -TINY, NAN]),
    "warmup_epochs": ("an integer in 0..1,000,000", [0, 10**6], [-1, 10**6 + 1]),
    "patience": ("an integer in 1..1,000,000 or None", [1, 10**6, None], [0, 10**6 + 1]),
    "tol": ("a finite number >= 0", [0, 1e308], [-TINY, NAN]),
    "clip_grad_norm": (
        "a finite number > 0 or None (no clipping)",
        [None, TINY, 1e308],
        [0, -TINY, NAN, INF],
    ),
    "sampling": ("'shuffle' or 'replacement'", ["shuffle", "replacement"], ["Shuffle", None]),
    "steps_per_epoch": ("a positive integer or None", [1, 10**9, None], [0, 10**9 + 1]),
    "max_steps": ("an integer >= 0 or None", [0, 10**12, None], [-1, 10**12 + 1]),
    "seed": ("an integer in 0..4294967295 or None", [0, 2**32 - 1, None], [-1, 2**32]),
    "augment": ("'auto', 'none' or 'shift'", ["auto", "none", "shift"], ["flip"]),
    "class_weight": ("'none' or 'balanced'", ["none", "balanced"], ["Balanced", None]),
    "monitor": ("'val' or 'loss'", ["val", "loss"], ["auto", "accuracy", None]),
    "data": ("a data SPEC such as digits or npz:FILE", ["digits", "npz:x.npz"], ["", "  ", None]),
    "hidden_size": ("an integer in 1..1,000,000,000", [1, 10**9], [0, 10**9 + 1]),
    "dtype": ("float32 or float64", ["float32", "float64"], ["float16", None]),
    "preprocess": (
        "one of auto, none, scale, center, standardize",
        ["auto", "none", "scale", "center", "standardize"],
        ["minmax"],
    ),
    "val_fraction": ("a number in (0, 1)", [TINY, 1 - 1e-16], [0, 0.0, 1, 1.0, NAN]),
    "test_fraction": ("a number in [0, 1)", [0, 0.0, TINY, 1 - 1e-16], [1, 1.0, -TINY, NAN]),
    "std": (
        "a finite number >= 0 or None (He initialisation)",
        [0, None, 1e308],
        [-TINY, INF],
    ),
    "input_size": ("an integer in 1..1,000,000,000", [1, 10**9], [0, 10**9 + 1]),
    "output_size": ("an integer in 1..1,000,000,000", [1, 10**9], [0, 10**9 + 1]),
    "trials": ("an integer in 1..1,000,000", [1, 10**6], [0, 10**6 + 1]),
    "n_jobs": ("an integer in 1..1024", [1, 1024], [0, 1025]),
    "heartbeat": ("a whole number of seconds in 1..86,400", [1, 86_400], [0, 86_401]),
    "timeout": (
        "a number of seconds > 0 (at most 1e8)",
        [None, TINY, 10**8, 1e8],
        [0, 1e8 * (1 + 1e-15), INF],
    ),
    "sampler": ("one of tpe, random", ["tpe", "random"], ["grid"]),
    "pruner": ("one of median, hyperband, none", ["median", "hyperband", "none"], ["asha", None]),
    "study_name": (
        "a non-empty name of at most 256 characters",
        ["s", "x" * 256],
        ["", "   ", "x" * 257, None],
    ),
    "threshold": ("a finite number >= 0", [0, 1e308], [-TINY, NAN]),
    "diagram_rows": ("an integer in 1..10,000", [1, 10_000], [0, 10_001]),
    "threads": ("an integer in 1..1024 (or None: auto)", [1, 1024, None], [0, -1, 1025, 10**9]),
}


def test_every_rule_is_in_this_test():
    assert set(TABLE) == set(RULES)


@pytest.mark.parametrize(
    "name, value", [(n, v) for n, (_, good, _) in TABLE.items() for v in good], ids=repr
)
def test_a_rule_accepts_its_bounds(name, value):
    assert check_setting(name, value) is value


@pytest.mark.parametrize(
    "name, value, words",
    [(n, v, words) for n, (words, _, bad) in TABLE.items() for v in bad],
    ids=repr,
)
def test_a_rule_refuses_beyond_its_bounds_in_its_words(name, value, words):
    with pytest.raises(SettingError) as e:
        check_setting(name, value)
    assert str(e.value) == f"{name} must be {words}, got {value!r}"
    assert (e.value.name, e.value.words) == (name, words)


# -- types: a bool is no number, a float no integer, NumPy scalars are numbers ------------------
@pytest.mark.parametrize(
    "name, value",
    [
        ("batch_size", True),
        ("batch_size", np.bool_(True)),
        ("batch_size", 64.0),
        ("batch_size", "64"),
        ("seed", 1.5),
        ("learning_rate", "0.1"),
        ("learning_rate", True),
        ("learning_rate", 1j),
        ("val_fraction", [0.5]),
    ],
    ids=repr,
)
def test_a_value_of_the_wrong_type_is_also_a_type_error(name, value):
    with pytest.raises(SettingTypeError) as e:
        check_setting(name, value)
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    assert str(e.value).startswith(f"{name} must be ")


@pytest.mark.parametrize(
    "name, value", [("batch_size", 0), ("learning_rate", -1.0), ("optimizer", 3), ("seed", -1)]
)
def test_a_value_of_the_right_type_out_of_range_is_not_a_type_error(name, value):
    with pytest.raises(SettingError) as e:
        check_setting(name, value)
    assert not isinstance(e.value, TypeError)


@pytest.mark.parametrize(
    "name, value",
    [
        ("batch_size", np.int64(64)),
        ("seed", np.uint32(2**32 - 1)),
        ("learning_rate", np.float32(0.1)),
        ("val_fraction", np.float64(0.5)),
        ("hidden_size", np.int8(127)),
    ],
    ids=repr,
)
def test_numpy_scalars_are_accepted(name, value):
    assert check_setting(name, value) is value


def test_numpy_scalars_are_refused_beyond_the_bounds_too():
    for name, value in [("seed", np.uint64(2**32)), ("val_fraction", np.float32(1.0))]:
        with pytest.raises(SettingError):
            check_setting(name, value)


# -- the dataclasses check their fields by the same table ------------------------------------------
def test_the_dataclasses_fields_are_the_tables():
    assert TRAIN_FIELDS == tuple(f.name for f in dataclasses.fields(TrainConfig))
    assert set(RUN_FIELDS) | {"train"} == {f.name for f in dataclasses.fields(RunSettings)}
    assert set(TRAIN_FIELDS) | set(RUN_FIELDS) <= set(RULES)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TrainConfig(min_lr_ratio=1.0),
        lambda: TrainConfig().__class__(**{**TrainConfig().to_dict(), "momentum": 1.0}),
        lambda: dataclasses.replace(TrainConfig(), batch_size=0),
        lambda: RunSettings(val_fraction=1.0),
        lambda: RunSettings().with_changes(learning_rate=0.0),
    ],
)
def test_dataclasses_refuse_by_the_table(make):
    with pytest.raises(SettingError):
        make()


def test_min_lr_ratio_is_the_cosine_schedules_floor_in_the_loop():
    X = np.random.default_rng(0).standard_normal((8, 3))
    y = np.arange(8) % 2
    config = TrainConfig(
        epochs=3, batch_size=8, learning_rate=1.0, schedule="cosine", min_lr_ratio=0.25
    )
    trainer = Trainer(TwoLayerNet(3, 4, 2, seed=0), config)
    trainer.fit(X, y)
    expected = [
        learning_rate_at(e, base_lr=1.0, schedule="cosine", epochs=3, min_lr_ratio=0.25)
        for e in range(3)
    ]
    assert trainer.history["lr"] == pytest.approx(expected)
    assert trainer.history["lr"][-1] == pytest.approx(0.25 + 0.75 * 0.25)


def test_settings_read_back_from_a_file_are_checked_by_the_table():
    good = RunSettings().to_dict()
    assert check_settings_dict(good, "config.json") is good
    bad = {**good, "train": {**good["train"], "min_lr_ratio": 2}}
    with pytest.raises(
        InputError,
        match=r"^config.json: train: field 'min_lr_ratio' must be a number in \[0, 1\), got 2; ",
    ):
        check_settings_dict(bad, "config.json")


# -- one vocabulary: the API and the loaders say what the table says ---------------------------------
def _message(f):
    with pytest.raises(InputError) as e:
        f()
    return str(e.value)


def test_twolayernet_speaks_the_tables_words():
    table = _message(lambda: RunSettings(hidden_size=-1))
    # a run's hidden_size may also be 'auto' (decided from the data); a net's may not
    assert _message(lambda: TwoLayerNet(6, -1, 3)) == table.replace(" or 'auto'", "")
    assert table == "hidden_size must be an integer in 1..1,000,000,000 or 'auto', got -1"
    assert _message(lambda: TwoLayerNet(6, "auto", 3)).startswith("hidden_size must be")
    assert _message(lambda: TwoLayerNet(6, 5, 3, std=-1.0)) == _message(
        lambda: RunSettings(std=-1.0)
    )
    net = TwoLayerNet(2, 3, 2, seed=0)
    assert _message(lambda: net.loss(np.ones((1, 2)), [0], reg=-1.0)) == _message(
        lambda: TrainConfig(reg=-1.0)
    )


def test_twolayernet_takes_none_as_he_initialisation_as_run_settings_do():
    a = TwoLayerNet(50, 40, 3, std=None, seed=1).params["W1"]
    b = TwoLayerNet(50, 40, 3, std="he", seed=1).params["W1"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("v", [0, 1, "0.1", None, NAN])
def test_data_load_speaks_the_tables_words_for_val_fraction(v):
    message = _message(lambda: data.load("digits", val_fraction=v))
    assert message == f"val_fraction must be a number in (0, 1), got {v!r}"


def test_digits_keep_their_test_split_in_the_same_words():
    assert _message(lambda: data.load("digits", val_fraction=0.85)) == (
        "val_fraction must be a number in (0, 0.8) for digits (0.2 is its test split), got 0.85"
    )


def test_preprocessor_speaks_the_tables_words():
    from twolayer.data.preprocess import Preprocessor

    assert _message(lambda: Preprocessor("minmax")) == _message(
        lambda: RunSettings(preprocess="minmax")
    )
    assert Preprocessor("auto", pixel_max=16.0).mode == "scale"
    assert Preprocessor("auto").mode == "standardize"


# -- the caller's spelling ---------------------------------------------------------------------------
def test_an_error_names_the_setting_as_the_caller_spells_it():
    with pytest.raises(SettingError) as e:
        check_setting("max_steps", -1, "num_iters")
    assert str(e.value) == "num_iters must be an integer >= 0 or None, got -1"
    assert e.value.name == "max_steps"  # the command line spells the setting, not the argument
    assert e.value.spelled(flag) == "--max-steps must be an integer >= 0 or None, got -1"


def test_message_parts_are_spelled_by_the_library_or_as_flags():
    e = InputError(
        "try a smaller ", Setting("learning_rate"), " or ", Setting("preprocess", value="scale")
    )
    assert str(e) == "try a smaller learning_rate or preprocess='scale'"
    assert e.spelled(flag) == "try a smaller --lr or --preprocess scale"
    assert InputError("plain").spelled(flag) == "plain"
    assert str(Setting("max_steps", "num_iters")) == "num_iters"


def test_flags_of_renamed_settings():
    assert [flag(n) for n in ("learning_rate", "hidden_size", "warmup_epochs", "n_jobs")] == [
        "--lr",
        "--hidden",
        "--warmup",
        "--n-jobs",
    ]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_iters": -1}, "num_iters must be an integer >= 0, got -1"),
        ({"learning_rate_decay": 0.0}, "learning_rate_decay must be a number in (0, 1], got 0.0"),
        ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0, got -1.0"),
    ],
)
def test_the_classic_api_names_its_own_arguments(kwargs, words):
    net = TwoLayerNet(2, 3, 2, seed=0)
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    message = _message(lambda: net.train(X, y, X, y, **kwargs))
    assert message.startswith(words.split(", got")[0]) and "--" not in message


def test_divergence_advice_names_learning_rate_for_a_python_caller():
    np.random.seed(0)
    net = TwoLayerNet(5, 16, 3, std=0.1)
    X = np.random.default_rng(0).standard_normal((30, 5))
    y = np.arange(30) % 3
    with pytest.raises(DivergedError) as e:
        net.train(X, y, X, y, learning_rate=1e30, num_iters=50)
    assert "Try a smaller learning_rate (now 1e+30)." in str(e.value)
    assert "--" not in str(e.value)
    assert "Try a smaller --lr (now 1e+30)." in e.value.spelled(flag)


def test_input_overflow_advice_names_the_preprocess_setting():
    net = TwoLayerNet(2, 3, 2, std=1.0, seed=0)
    X, y = np.full((4, 2), 1e300), np.array([0, 1, 0, 1])
    t = Trainer(net, TrainConfig(epochs=2, batch_size=2, learning_rate=0.25, optimizer="sgd"))
    with pytest.raises(InputError) as e:
        t.fit(X, y)
    assert "scale them, e.g. preprocess='standardize'" in str(e.value)
    assert "scale them, e.g. --preprocess standardize" in e.value.spelled(flag)


@pytest.mark.parametrize(
    "argv, line",
    [
        (["train", "--lr", "0"], "--lr must be a finite number > 0 or 'auto', got 0.0"),
        (
            ["train", "--hidden", "0"],
            "--hidden must be an integer in 1..1,000,000,000 or 'auto', got 0",
        ),
        (
            ["train", "--hidden", "many"],
            "--hidden must be an integer in 1..1,000,000,000 or 'auto', got 'many'",
        ),
        (
            ["train", "--patience", "-1"],
            "--patience must be an integer in 1..1,000,000 or None or 'auto', got -1",
        ),
        (["train", "--val-fraction", "1"], "--val-fraction must be a number in (0, 1), got 1.0"),
        (
            ["train", "--min-lr-ratio", "1"],
            "--min-lr-ratio must be a number in [0, 1), got 1.0",
        ),
        (
            ["diagram", "--out", "x.svg", "--batch", "0"],
            "--batch must be an integer in 1..10,000, got 0",
        ),
        (["tune", "--n-jobs", "0"], "--n-jobs must be an integer in 1..1024, got 0"),
        (
            ["train", "--threads", "0"],
            "--threads must be an integer in 1..1024 (or None: auto), got 0",
        ),
    ],
)
def test_the_command_line_spells_settings_as_flags(argv, line, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"twolayer: error: {line}"]
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_setting_error_survives_pickling_with_its_spelling():
    import pickle

    with pytest.raises(SettingTypeError) as e:
        check_setting("max_steps", "x", "num_iters")
    copy = pickle.loads(pickle.dumps(e.value))
    assert type(copy) is SettingTypeError and str(copy) == str(e.value)
    assert copy.spelled(flag) == "--max-steps must be an integer >= 0 or None, got 'x'"


# -- the dataclasses' dictionaries and the loop's plan ----------------------------------------------
def test_settings_round_trip_through_their_dictionaries_ignoring_unknown_keys():
    s = RunSettings(data="mnist", hidden_size=7, train=TrainConfig(batch_size=3, epochs=2))
    d = s.to_dict()
    assert set(d) == set(RUN_FIELDS) | {"train"} and set(d["train"]) == set(TRAIN_FIELDS)
    assert d["hidden_size"] == 7 and d["train"]["batch_size"] == 3
    assert RunSettings.from_dict({**d, "extra": 1, "train": {**d["train"], "x": 2}}) == s
    assert RunSettings.from_dict({"hidden_size": 7}) == RunSettings(hidden_size=7)
    assert TrainConfig.from_dict({"epochs": 2, "nope": 0}) == TrainConfig(epochs=2)
    with pytest.raises(TypeError, match=r"^train must be an object, got list$"):
        RunSettings.from_dict({"train": [1]})


def test_flat_holds_every_setting_by_name_and_with_changes_reaches_both_levels():
    s = RunSettings(hidden_size=7, train=TrainConfig(batch_size=3))
    flat = s.flat()
    assert set(flat) == set(RUN_FIELDS) | set(TRAIN_FIELDS) and "train" not in flat
    assert flat["hidden_size"] == 7 and flat["batch_size"] == 3
    t = s.with_changes(hidden_size=9, learning_rate=0.5)
    assert (t.hidden_size, t.train.learning_rate, t.train.batch_size) == (9, 0.5, 3)
    assert s.with_changes(data="mnist").train is s.train
    with pytest.raises(InputError, match=r"^unknown setting\(s\): bogus, zz$"):
        s.with_changes(zz=1, bogus=2)
    with pytest.raises(InputError, match=r"hidden_size must be an integer in 1\.\.1,000,000,000"):
        s.with_changes(hidden_size=0)


def test_a_settings_file_with_a_damaged_train_object_is_named():
    good = RunSettings().to_dict()
    with pytest.raises(
        InputError,
        match=r"^c.json: field 'train' must be an object of training settings, got \[1\]; "
        r"the file is damaged$",
    ):
        check_settings_dict({**good, "train": [1]}, "c.json")
    no_train = {k: v for k, v in good.items() if k != "train"}
    assert check_settings_dict(no_train, "c.json") is no_train
    with pytest.raises(InputError, match=r"^c.json: field 'hidden_size' must be an integer in 1"):
        check_settings_dict({**good, "hidden_size": 0}, "c.json")


def test_the_loops_plan_batches_steps_and_auto_epochs():
    shuffle = TrainConfig(batch_size=64)
    assert (shuffle.batch_for(10), shuffle.batch_for(64), shuffle.batch_for(100)) == (10, 64, 64)
    assert (shuffle.steps_for(10), shuffle.steps_for(128), shuffle.steps_for(129)) == (1, 2, 3)
    drawn = TrainConfig(batch_size=64, sampling="replacement")
    assert (drawn.batch_for(10), drawn.steps_for(10), drawn.steps_for(129)) == (64, 1, 2)
    assert TrainConfig(batch_size=64, steps_per_epoch=5).steps_for(1000) == 5
    # auto epochs: about 2000 steps, within 10..100
    assert shuffle.resolve_epochs(64 * 20) == 100  # 20 steps an epoch: 100 epochs
    assert shuffle.resolve_epochs(64 * 40) == 50
    assert shuffle.resolve_epochs(64 * 30) == 67  # ceil(2000 / 30)
    assert shuffle.resolve_epochs(64 * 200) == 10
    assert shuffle.resolve_epochs(64 * 1000) == 10
    assert TrainConfig(epochs=3).resolve_epochs(10**6) == 3
    assert isinstance(shuffle.resolve_epochs(64 * 30), int)


def test_flag_spells_renamed_settings_and_dashes_the_rest():
    assert flag("learning_rate") == "--lr"
    assert flag("val_fraction") == "--val-fraction"
    assert flag("n_jobs") == "--n-jobs"


def test_none_for_a_setting_that_refuses_it_is_a_value_error_not_a_type_error():
    """None is the absence of a value, not a value of the wrong type: a SettingError that is no
    TypeError (a string for a number is both)."""
    with pytest.raises(
        SettingError, match=r"^sampling must be 'shuffle' or 'replacement', got None$"
    ) as e:
        check_setting("sampling", None)
    assert not isinstance(e.value, TypeError)
    with pytest.raises(SettingTypeError):
        check_setting("batch_size", "8")


def test_the_loops_settings_must_be_a_train_config_and_train_is_not_a_setting():
    with pytest.raises(TypeError, match=r"^train must be a TrainConfig, got dict$"):
        RunSettings(train={"batch_size": 3})
    with pytest.raises(InputError, match=r"^unknown setting\(s\): train$"):
        RunSettings().with_changes(train=TrainConfig())
