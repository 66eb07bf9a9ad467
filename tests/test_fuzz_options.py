"""Every numeric option of ``twolayer train`` against any int, float or string (Hypothesis): the
command ends with exit 0, or with exit 2 and one line ``twolayer: error: ...``; never an internal
error or a traceback. (Exit 1 is the documented outcome of a diverged run — an enormous learning
rate is a valid value that does not train — and then the line must say so.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twolayer.cli import main

SPACE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("space")
    X = np.random.default_rng(0).standard_normal((40, 3))
    np.savez(root / "s.npz", X_train=X, y_train=np.arange(40) % 2)
    return root


def _cheap_ints(valid_hi):
    """Integers of every kind, but valid ones only up to ``valid_hi`` (1e6 epochs or a 1e8-unit
    hidden layer are valid and would merely be slow): negatives, zero, small, and past every limit."""
    return st.one_of(
        st.integers(-(2**70), 0),
        st.integers(1, valid_hi),
        st.integers(10**9 + 1, 2**70),
        st.sampled_from([-1, 0, 2**31, 2**32, 2**63, 2**64]),
    )


def _reals():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-2, 2),
        st.sampled_from([0.0, -0.0, 1.0, 1e-320, 5e-324, 1e308, -1e-300]),
    )


_TEXT = st.lists(
    st.sampled_from(list("0123456789-+.eE_x ,") + ["nan", "inf", "∞", "١", "\u00a0", "0x1"]),
    max_size=8,
).map("".join)

# option -> values worth throwing at it (each is rendered as the caller would type it)
OPTIONS = {
    "epochs": _cheap_ints(3),
    "hidden": _cheap_ints(16),
    "batch-size": _cheap_ints(128),
    "warmup": _cheap_ints(5),
    "patience": _cheap_ints(5),
    "seed": st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 2**32 - 1, 2**32])),
    "lr": _reals(),
    "reg": _reals(),
    "lr-decay": _reals(),
    "min-lr-ratio": _reals(),
    "momentum": _reals(),
    "weight-decay": _reals(),
    "val-fraction": _reals(),
    "test-fraction": _reals(),
    "clip-grad-norm": _reals(),
    "threads": _cheap_ints(2),
}


def _typed(value):
    if isinstance(value, float):
        return repr(value)  # 'nan', 'inf', '1e+300', '-0.0'
    return str(value)


@pytest.mark.slow  # ~10 s: every example is a real (tiny) training run with its pictures
@SPACE
@given(option=st.sampled_from(sorted(OPTIONS)), data=st.data())
def test_any_value_of_any_numeric_train_option_is_exit_0_or_one_line(
    option, data, small_folder, capsys
):
    value = data.draw(
        st.one_of(OPTIONS[option], _TEXT, _reals() if option not in ("lr", "reg") else _TEXT),
        label=option,
    )
    args = [
        "train",
        "--data",
        f"npz:{small_folder / 's.npz'}",
        "--hidden",
        "4",
        "--out",
        str(small_folder / "run"),
        "--force",
        "-q",
        f"--{option}={_typed(value)}",
    ]
    if option != "epochs":
        args += ["--epochs", "2"]
    if option == "hidden":
        args.remove("--hidden"), args.remove("4")
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 0:
        return
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("twolayer: error: "), err
    assert code == 2 or (code == 1 and "diverged" in lines[0]), (code, err)
    if code == 2 and option not in (
        "val-fraction",
        "test-fraction",
    ):  # the line names the option as typed
        assert option in lines[0] or "Invalid value" in lines[0] or "seed" in lines[0], lines[0]


def test_the_option_space_covers_every_numeric_train_option():
    """A numeric option added to train must be added here too."""
    import inspect
    import typing

    from twolayer import cli
    from twolayer.settings import flag

    hints = typing.get_type_hints(cli.train)
    options = inspect.signature(cli.train).parameters
    numeric = {
        flag(name).removeprefix("--")  # the options are named after their settings
        for name, t in hints.items()
        if t in (int, float)
        or set(typing.get_args(t)) & {int, float}
        # a number or 'auto' (decided from the data): typed str, parsed by cli._auto
        or str(getattr(options[name].default, "metavar", "")).endswith("|auto")
    }
    assert numeric == set(OPTIONS), numeric ^ set(OPTIONS)
