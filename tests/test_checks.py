"""checks.py's predicates, the one set the settings table and the file schemas are written with,
and the schema helper that turns a refusal into one line naming the file and the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer.checks import (
    check_fields,
    is_dict,
    is_int,
    is_number,
    is_real,
    is_str,
    list_of,
    one_of,
    optional,
)
from twolayer.errors import InputError

NAN, INF = float("nan"), float("inf")
NUMPY_INTS = [np.int8(3), np.int64(3), np.uint8(3), np.uint64(3)]
NUMPY_FLOATS = [np.float16(0.5), np.float32(0.5), np.float64(0.5)]


# -- is_number: any real number, never a bool ------------------------------------------------
@pytest.mark.parametrize("v", [0, -7, 2**70, 0.5, NAN, INF, -INF, *NUMPY_INTS, *NUMPY_FLOATS])
def test_is_number_accepts_python_and_numpy_reals(v):
    assert is_number(v)


@pytest.mark.parametrize(
    "v", [True, False, np.bool_(True), "1", b"1", None, 1j, np.complex128(1), [1], np.array([1])]
)
def test_is_number_refuses_bools_strings_complex_and_arrays(v):
    assert not is_number(v)


# -- is_int ----------------------------------------------------------------------------------
def test_is_int_bounds_are_inclusive():
    rule = is_int(1, 10)
    assert [rule(v) for v in (0, 1, 10, 11)] == [False, True, True, False]


def test_is_int_without_bounds_takes_any_size():
    assert is_int()(-(2**100)) and is_int()(2**100)
    assert is_int(0)(2**100) and not is_int(0)(-1)
    assert is_int(hi=5)(-(10**9)) and not is_int(hi=5)(6)


@pytest.mark.parametrize("v", NUMPY_INTS)
def test_is_int_accepts_numpy_integers(v):
    assert is_int(1, 3)(v) and not is_int(4)(v)


@pytest.mark.parametrize("v", [True, False, np.bool_(True), 1.0, np.float64(1.0), "1", None, NAN])
def test_is_int_refuses_bools_floats_and_strings(v):
    # bool is an int subclass in Python, but True is no batch size; 1.0 is a float, not an integer
    assert not is_int()(v)


def test_is_int_compares_numpy_extremes_exactly():
    big = np.uint64(2**64 - 1)
    assert is_int(0, 2**64 - 1)(big) and not is_int(0, 2**64 - 2)(big)


# -- is_real ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "closed, at_lo, at_hi",
    [
        ("both", True, True),
        ("left", True, False),
        ("right", False, True),
        ("neither", False, False),
    ],
)
def test_is_real_closed_says_which_bounds_belong(closed, at_lo, at_hi):
    rule = is_real(0, 1, closed=closed)
    assert (rule(0), rule(1), rule(0.5)) == (at_lo, at_hi, True)
    assert not rule(-1e-300) and not rule(1 + 1e-15)


def test_is_real_one_sided_bounds():
    assert is_real(0)(0) and is_real(0)(1e308) and not is_real(0)(-5e-324)
    assert not is_real(0, closed="neither")(0) and is_real(0, closed="neither")(5e-324)
    assert is_real(hi=1)(-1e308) and not is_real(hi=1)(1.5)


@pytest.mark.parametrize("v", [NAN, INF, -INF, np.float32("nan"), np.float64("inf")])
def test_is_real_refuses_nan_and_infinities_even_without_bounds(v):
    assert not is_real()(v)


@pytest.mark.parametrize("v", [*NUMPY_INTS, *NUMPY_FLOATS, 2**70])
def test_is_real_accepts_numpy_scalars_and_other_reals(v):
    assert is_real()(v)


@pytest.mark.parametrize("v", [True, np.bool_(False), "0.5", None, 1j, [0.5]])
def test_is_real_refuses_non_numbers(v):
    assert not is_real()(v)


def test_is_real_refuses_an_unknown_closed():
    with pytest.raises(KeyError):
        is_real(0, 1, closed="open")


# -- the other predicates ----------------------------------------------------------------------
def test_one_of_takes_only_strings_among_the_choices():
    rule = one_of("sgd", "adam")
    assert rule("sgd") and rule(np.str_("adam"))
    assert not rule("SGD") and not rule("") and not rule(None) and not rule(["sgd"])


def test_optional_adds_none_and_nothing_else():
    rule = optional(is_int(1))
    assert rule(None) and rule(1) and not rule(0) and not rule(math.nan)


def test_list_of_checks_length_and_every_item():
    rule = list_of(is_int(1), 2, 3)
    assert rule([1, 2]) and rule([1, 2, 3])
    assert not rule([1]) and not rule([1, 2, 3, 4]) and not rule([1, 0]) and not rule((1, 2))


def test_is_str_and_is_dict():
    assert is_str("") and not is_str(b"") and not is_str(None)
    assert is_dict({}) and not is_dict([]) and not is_dict(None)


# -- check_fields: one line naming the file and the field ------------------------------------------
SCHEMA = {"epoch": (is_int(0), "an integer >= 0"), "lr": (is_real(0), "a finite number >= 0")}


def test_check_fields_returns_a_good_object_unchanged():
    obj = {"epoch": 3, "lr": 0.1, "other": "kept"}
    assert check_fields(obj, SCHEMA, "ckpt") is obj


def test_check_fields_names_file_field_and_value():
    with pytest.raises(
        InputError,
        match=r"^ckpt: field 'lr' must be a finite number >= 0, got nan; the file is damaged$",
    ):
        check_fields({"epoch": 1, "lr": NAN}, SCHEMA, "ckpt")


def test_check_fields_shortens_a_long_value():
    with pytest.raises(InputError) as e:
        check_fields({"epoch": "x" * 500}, SCHEMA, "f")
    assert str(e.value).endswith("…; the file is damaged") and len(str(e.value)) < 140


def test_check_fields_required_and_not_an_object():
    with pytest.raises(InputError, match=r"^f: field 'epoch' is missing; the file is damaged$"):
        check_fields({}, SCHEMA, "f", required=("epoch",))
    with pytest.raises(InputError, match=r"^f: expected a JSON object of fields, got list"):
        check_fields([], SCHEMA, "f")
    assert check_fields({}, SCHEMA, "f") == {}  # absent, not required: skipped
