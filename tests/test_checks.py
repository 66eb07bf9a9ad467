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


# -- limits and the array checks, message by message -----------------------------------------
from twolayer import checks  # noqa: E402
from twolayer.errors import InputTypeError  # noqa: E402


def test_limit_reads_the_environment_with_underscores_and_refuses_non_positive(monkeypatch):
    assert checks.limit("MAX_CLASSES") == 10_000
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "50_000")
    assert checks.limit("MAX_CLASSES") == 50_000
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "1")
    assert checks.limit("MAX_CLASSES") == 1
    for raw in ("0", "-3", "x", "1.5"):
        monkeypatch.setenv("TWOLAYER_MAX_CLASSES", raw)
        with pytest.raises(
            InputError, match=rf"^TWOLAYER_MAX_CLASSES must be a positive integer, got '{raw}'$"
        ):
            checks.limit("MAX_CLASSES")


def test_gib_words_each_unit_at_its_boundaries():
    assert checks.gib(0) == "0 bytes"
    assert checks.gib(1023) == "1023 bytes"
    assert checks.gib(1024) == "1.0 KiB"
    assert checks.gib(10 * 1024) == "10 KiB"
    assert checks.gib(2**20 + 2**19) == "1.5 MiB"
    assert checks.gib(2**20 - 1) == "1024 KiB"
    assert checks.gib(238 * 2**30) == "238 GiB"
    assert checks.gib(int(9.94 * 2**30)) == "9.9 GiB"


def test_check_model_size_names_the_largest_factor_at_the_exact_limit(monkeypatch):
    # 4 bytes per float32: W1 10x20, W2 20x5, biases 25 -> (200 + 100 + 25) * 4 = 1300 bytes
    monkeypatch.setenv("TWOLAYER_MAX_MODEL_BYTES", "1300")
    checks.check_model_size(10, 20, 5, np.float32)
    monkeypatch.setenv("TWOLAYER_MAX_MODEL_BYTES", "1299")
    with pytest.raises(
        InputError,
        match=r"^hidden_size 20 needs 800 bytes for W1 \(10×20 float32\); the limit for all "
        r"weights is 1.3 KiB \(TWOLAYER_MAX_MODEL_BYTES\)$",
    ):
        checks.check_model_size(10, 20, 5, np.float32)
    with pytest.raises(InputError, match=r"^input_size 30 needs 4.7 KiB for W1 \(30×20 float64"):
        checks.check_model_size(30, 20, 5, np.float64)
    with pytest.raises(InputError, match=r"^output_size 40 needs 3.1 KiB for W2 \(20×40"):
        checks.check_model_size(2, 20, 40, np.float32)
    with pytest.raises(InputError, match=r"^n_hidden 20 needs 1.5 KiB for W2 \(20×19 float32"):
        checks.check_model_size(2, 20, 19, np.float32, names=("a", "n_hidden", "c"))


def test_check_classes_at_the_limit_and_one_over(monkeypatch):
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "5")
    checks.check_classes(5, "f")
    with pytest.raises(
        InputError,
        match=r"^f: 6 classes \(labels up to 5\) exceed the limit of 5 — is that the label "
        r"column\? \(TWOLAYER_MAX_CLASSES raises the limit\)$",
    ):
        checks.check_classes(6, "f")
    with pytest.raises(
        InputError, match=r"^f: 1,200 classes in column 'id' \(labels up to 1,199\)"
    ):
        checks.check_classes(1200, "f", column="id")


def test_check_elements_counts_exactly_and_words_the_size(monkeypatch):
    monkeypatch.setenv("TWOLAYER_MAX_ELEMENTS", "12")
    assert checks.check_elements((3, 4), "f") == 12
    assert checks.check_elements(np.array([2, 6], np.uint32), "f", 8) == 12
    with pytest.raises(
        InputError,
        match=r"^f: shape \(13, 1\) declares 13 numbers, more than the limit of 12 "
        r"\(TWOLAYER_MAX_ELEMENTS\)$",
    ):
        checks.check_elements((13, 1), "f")
    with pytest.raises(
        InputError, match=r"^f: shape \(2, 2048\) declares 4,096 numbers \(16 KiB\)"
    ):
        checks.check_elements((2, 2048), "f", 4)


def test_check_dtype_words():
    assert checks.check_dtype("float32") == np.float32
    assert checks.check_dtype(np.float64) == np.float64
    with pytest.raises(InputError, match=r"^dtype must be float32 or float64, got int8$"):
        checks.check_dtype(np.int8)
    with pytest.raises(InputError, match=r"^dtype must be float32 or float64, got 'nope'$"):
        checks.check_dtype("nope")


def test_as_array_words_ragged_rows_and_non_numbers_under_the_callers_name():
    with pytest.raises(
        InputError, match=r"^rows is not a rectangular array: its rows have different lengths$"
    ):
        checks.as_array([[1, 2], [3]], "rows")
    assert checks.as_array([[1, 2]], "rows").shape == (1, 2)


def test_check_X_each_refusal_under_the_callers_name():
    X = np.ones((3, 2))
    assert checks.check_X(X, 2, np.float32, name="A").dtype == np.float32
    assert checks.check_X(X).dtype == np.float64
    with pytest.raises(InputError, match=r"^A must be 2-D \(samples × features\), got 1-D with "):
        checks.check_X(np.ones(3), name="A")
    with pytest.raises(InputError, match=r"^A is empty: it has 0 samples$"):
        checks.check_X(np.ones((0, 2)), name="A")
    with pytest.raises(InputError, match=r"^A has 2 features but the model expects 3$"):
        checks.check_X(X, 3, name="A")
    with pytest.raises(InputError, match=r"^A contains NaN or infinite values$"):
        checks.check_X(np.array([[1.0, np.inf]]), name="A")
    assert not np.isfinite(checks.check_X(np.array([[np.nan]]), finite=False)).all()
    with pytest.raises(InputTypeError, match=r"^A must hold numbers, got dtype <U1 \(strings\)$"):
        checks.check_X(np.array([["a"]]), name="A")
    with pytest.raises(InputTypeError, match=r"^X must hold numbers, got dtype complex128 "):
        checks.check_X(np.ones((1, 1), complex))


def test_check_y_each_refusal_names_the_row():
    assert checks.check_y([0, 2, 1], 3, 3).dtype == np.intp
    assert checks.check_y(np.array([0.0, 2.0]), 2).tolist() == [0, 2]
    assert checks.check_y(np.array([], np.int64), 0).dtype == np.intp
    with pytest.raises(InputError, match=r"^t must be 1-D, got shape \(1, 2\)$"):
        checks.check_y([[0, 1]], 1, name="t")
    with pytest.raises(InputError, match=r"^t has 2 labels but X has 3 samples$"):
        checks.check_y([0, 1], 3, name="t")
    with pytest.raises(InputTypeError, match=r"^t must hold integer class labels, got dtype <U1 "):
        checks.check_y(["a"], 1, name="t")
    with pytest.raises(InputTypeError, match=r"^t must hold integer class labels, got dtype bool$"):
        checks.check_y([True], 1, name="t")
    with pytest.raises(
        InputError,
        match=r"^t has a non-integer label 1.5 \(row 1\); expected integer class labels 0, 1, 2, …$",
    ):
        checks.check_y([0.0, 1.5, 2.5], 3, name="t")
    with pytest.raises(InputError, match=r"^t has a non-integer label nan \(row 0\)"):
        checks.check_y([np.nan], 1, name="t")
    with pytest.raises(
        InputError,
        match=r"^t has a negative label \(-2, row 2\); labels must be in \[0, n_classes\)$",
    ):
        checks.check_y([0, 1, -2, -1], 4, name="t")
    with pytest.raises(InputError, match=r"^t has a negative label \(-1, row 0\)"):
        checks.check_y([-1.0], 1, name="t")
    checks.check_y([0, 2], 2, 3)
    with pytest.raises(
        InputError,
        match=r"^t has label 3 but the model has 3 classes \(labels 0..2; row 1\)$",
    ):
        checks.check_y([0, 3, 1], 3, 3, name="t")


def test_check_y_the_class_limit_at_its_boundary(monkeypatch):
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "4")
    checks.check_y([3, 0], 2)
    with pytest.raises(
        InputError,
        match=r"^y has label 4 \(row 1\), beyond the limit of 4 classes — are these class "
        r"labels\? \(TWOLAYER_MAX_CLASSES raises the limit\)$",
    ):
        checks.check_y([0, 4], 2)
    big = np.array([0, np.iinfo(np.uint64).max], np.uint64)  # compared unsigned, no wrap-around
    with pytest.raises(InputError, match=r"^y has label 18446744073709551615 \(row 1\), beyond"):
        checks.check_y(big, 2)


def test_check_sample_weight_scalar_vector_and_refusals():
    w = checks.check_sample_weight(2, 3)
    assert w.dtype == np.float64 and w.tolist() == [2.0, 2.0, 2.0]
    assert checks.check_sample_weight([0, 1.5], 2).tolist() == [0.0, 1.5]
    with pytest.raises(
        InputError, match=r"^sw must hold one weight per row \(3\), got shape \(2,\)$"
    ):
        checks.check_sample_weight([1, 1], 3, name="sw")
    for bad in ([1, -0.5], [1, np.nan], [np.inf, 1]):
        with pytest.raises(InputError, match=r"^sw must be finite and >= 0$"):
            checks.check_sample_weight(bad, 2, name="sw")
    with pytest.raises(InputError, match=r"^sw must not be all zero$"):
        checks.check_sample_weight([0, 0], 2, name="sw")


def test_limit_takes_underscores_anywhere_as_the_digits_they_separate(monkeypatch):
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "1__000_")  # not a Python literal: int() refuses it
    assert checks.limit("MAX_CLASSES") == 1000


def test_check_limits_refuses_a_misspelled_limit_and_takes_the_real_ones(monkeypatch):
    for name in checks.LIMITS:
        monkeypatch.setenv(f"TWOLAYER_{name}", "7")
    monkeypatch.setenv("twolayer_max_classe", "5")  # lower case: not ours, not read
    checks.check_limits()
    monkeypatch.setenv("TWOLAYER_MAX_CLASSE", "5")
    known = ", ".join(
        "TWOLAYER_" + n
        for n in "MAX_CLASSES MAX_ELEMENTS MAX_DECOMPRESSED_BYTES MAX_GZIP_RATIO MAX_MODEL_BYTES "
        "MAX_BATCH_BYTES MAX_PICKLE_BYTES".split()
    )
    with pytest.raises(InputError) as e:
        checks.check_limits()
    assert str(e.value) == f"TWOLAYER_MAX_CLASSE is not a limit of twolayer; the limits are {known}"


def test_check_model_size_names_a_factor_on_ties(monkeypatch):
    monkeypatch.setenv("TWOLAYER_MAX_MODEL_BYTES", "1")
    cases = [  # (sizes, the factor named, the matrix): W1 on a tie of the two matrices,
        ((5, 20, 5), "hidden_size 20", "W1 (5×20"),  # the later factor on a tie of two factors
        ((20, 20, 5), "hidden_size 20", "W1 (20×20"),
        ((2, 20, 20), "output_size 20", "W2 (20×20"),
    ]
    for sizes, what, matrix in cases:
        with pytest.raises(InputError) as e:
            checks.check_model_size(*sizes, np.float32)
        assert str(e.value).startswith(f"{what} needs ") and f" for {matrix} float32)" in str(
            e.value
        )


class _Unconvertible:
    def __init__(self, error):
        self.error = error

    def __array__(self, dtype=None, copy=None):
        raise self.error


def test_as_array_words_other_conversion_errors_in_one_line_of_at_most_120_characters():
    with pytest.raises(InputError) as e:
        checks.as_array(_Unconvertible(TypeError("bad\n   value " + "v" * 200)))
    assert str(e.value) == "X is not an array of numbers (" + ("bad value " + "v" * 200)[:120] + ")"
    with pytest.raises(InputError, match=r"^X is not a rectangular array: its rows have"):
        checks.as_array([[1.0], [2.0, 3.0]])


def test_check_X_and_check_y_name_ragged_rows_under_the_callers_name():
    with pytest.raises(InputError, match=r"^A is not a rectangular array"):
        checks.check_X([[1.0], [2.0, 3.0]], name="A")
    with pytest.raises(InputError, match=r"^t is not a rectangular array"):
        checks.check_y([[0], [1, 2]], 2, name="t")


def test_check_X_keeps_the_callers_float_dtype_and_array_without_a_dtype():
    X = np.ones((2, 2), np.float32)
    assert checks.check_X(X) is X


def test_check_real_dtype_words_a_kind_without_a_name(monkeypatch):
    # A kind the words table does not name (NumPy 2's StringDType has kind "T"; NumPy 1.25, the
    # floor, has none such): take "U" out of the table so the test runs on every supported NumPy.
    monkeypatch.delitem(checks._DTYPE_WORDS, "U")
    dt = np.dtype("<U3")
    with pytest.raises(InputTypeError) as e:
        checks.check_real_dtype(dt)
    assert str(e.value) == f"X must hold numbers, got dtype {dt} (values that are not real numbers)"


def test_check_y_returns_intp_labels_without_a_copy():
    y = np.array([0, 1], np.intp)
    assert checks.check_y(y, 2) is y


def test_check_y_words_a_float_label_beyond_the_class_limit_as_a_float():
    with pytest.raises(InputError, match=r"^y has label 1e\+300 \(row 1\), beyond the limit"):
        checks.check_y([0.0, 1e300], 2)


def test_check_sample_weight_default_name_small_sums_and_ints_beyond_int64():
    with pytest.raises(InputError, match=r"^sample_weight must hold one weight per row \(3\)"):
        checks.check_sample_weight([1, 1], 3)
    assert checks.check_sample_weight([0, 0.5], 2).tolist() == [0.0, 0.5]  # a sum below 1
    w = checks.check_sample_weight([2**70, 2**69], 2)  # Python ints NumPy keeps as objects
    assert w.dtype == np.float64 and w.tolist() == [2.0**70, 2.0**69]


def test_scaled_weights_divides_by_the_largest_only_near_overflow_or_underflow():
    big, tiny = float(np.finfo(np.float64).max), float(np.finfo(np.float64).tiny)

    def same(w, dtype=np.float64):
        out = checks.scaled_weights(w, dtype)
        assert out.dtype == np.float64
        return out.tolist() == [float(x) for x in w]

    def divided(w, dtype=np.float64):
        out = checks.scaled_weights(w, dtype)
        return out.tolist() == [x / max(w) for x in w]

    assert same([1, 2]) and checks.scaled_weights([1, 2]).dtype == np.float64  # ints read as floats
    assert checks.scaled_weights(np.array([])).tolist() == []
    assert same([0.0, 0.0]) and same([0.5, 0.25])  # nothing to divide by; ordinary weights < 1
    # the sum could overflow: top * n > max / 16 (one weight counts once)
    assert divided([big, big / 2]) and divided([big / 20, big / 20])
    assert same([big / 16]) and same([big / 16.5]) and same([0.75 * big / 16])
    # a float32 cast could overflow: 2 * 1e38 > 3.4e38 / 16; fine in float64
    assert divided([1e38, 1e38], np.float32) and same([1e38, 1e38])
    # a float cast could underflow: below tiny * 2**24
    assert divided([1e-302, 5e-303]) and same([tiny * 2**24]) and same([1.5 * tiny * 2**24])
    assert divided([1e-32, 1e-33], np.float32) and same([1e-32, 1e-33])


def test_list_of_allows_an_empty_list_by_default():
    assert list_of(is_str)([]) and not list_of(is_str, 1)([])


def test_check_fields_shortens_a_value_beyond_60_characters_of_repr():
    def message(value):
        with pytest.raises(InputError) as e:
            check_fields({"epoch": value}, SCHEMA, "f")
        return str(e.value)

    assert f"got {'x' * 58!r}; the file" in message("x" * 58)  # a repr of 60: as it is
    assert f"got {repr('x' * 59)[:60]}…; the file" in message("x" * 59)  # of 61: cut to 60
