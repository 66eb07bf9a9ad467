"""The CSV reader's fast path (data/fastcsv.py) gives the careful path's answer: the same arrays, or
the same one-line error (which only the careful path words)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twolayer.data import fastcsv, table
from twolayer.errors import InputError


def outcome(read, path):
    try:
        return ("ok", read(path))
    except InputError as e:
        return ("error", str(e))


def careful(monkeypatch, read, path):
    with monkeypatch.context() as m:
        m.setattr(table, "_fast", lambda *a, **k: None)
        return outcome(read, path)


def same(a, b):
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1] == b[1]
        return
    for x, y in zip(
        a[1] if isinstance(a[1], tuple) else [a[1]], b[1] if isinstance(b[1], tuple) else [b[1]]
    ):
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape
            np.testing.assert_array_equal(x, y)  # float32 storage only when every value is exact
            assert np.array_equal(np.signbit(x), np.signbit(y))
        else:
            assert x == y


NUMBERS = st.one_of(
    st.integers(-(10**17), 10**17).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e6, 1e6).map(lambda v: f"{v:.6g}"),
    st.floats(-1e3, 1e3).map(lambda v: f"{v:.3f}"),
    st.integers(0, 255).map(str),
)
ODD = [
    "-0",
    "0.",
    ".5",
    "-.5",
    "007",
    "1e3",
    "+1",
    " 2",
    "3 ",
    "",
    "-",
    ".",
    "1.2.3",
    "1-2",
    "--1",
    "1..",
    "nan",
    "inf",
    "1_0",
    "x",
    '"4"',
    "５",
    "1\r2",
    "1\r",
    "\t1",
    "\x00",
    "9" * 16,
    "9" * 15,
    "0." + "1" * 14,
    "-" + "1" * 15,
    "1" * 15 + ".",
]
CELLS = st.one_of(NUMBERS, NUMBERS, NUMBERS, st.sampled_from(ODD))
LABELS = st.one_of(
    st.integers(0, 3).map(str), st.sampled_from(["cat", "dog", " a b", "é", "1.0", ""])
)


@st.composite
def csv_files(draw):
    n_cols = draw(st.integers(1, 5))
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    numeric_labels = draw(st.booleans())
    lines = []
    if draw(st.booleans()):
        lines.append(delim.join(f"c{j}" for j in range(n_cols)) + delim + "label")
    for _ in range(draw(st.integers(1, 12))):
        cells = [draw(CELLS) for _ in range(n_cols)]
        label = draw(st.integers(0, 3).map(str) if numeric_labels else LABELS)
        lines.append(delim.join(cells + [label]))
    if draw(st.integers(0, 9)) == 0:  # a row with a cell too many or too few
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i] + delim + "1" if draw(st.booleans()) else lines[i].rpartition(delim)[0]
    if draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), "")
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2, " " + newline]))
    return (("\ufeff" if draw(st.booleans()) else "") + text).encode()


@pytest.fixture(params=["digits", "pandas", "loadtxt"])
def parser(request, monkeypatch):
    """Each way the fast path reads a block's numbers: its digit arithmetic (short cells), pandas'
    C parser (long cells, the optional accelerator) or np.loadtxt's (long cells, no pandas 3)."""
    if request.param == "pandas" and fastcsv.pandas_parser() is None:
        pytest.skip("pandas 3 or later is not installed")
    monkeypatch.setattr(fastcsv, "LOADTXT_LENGTH", np.inf if request.param == "digits" else 0)
    if request.param == "loadtxt":
        monkeypatch.setattr(fastcsv, "_PANDAS", False)
    return request.param


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(csv_files(), st.integers(1, 64))
def test_fast_path_gives_the_careful_answer(tmp_path, monkeypatch, parser, data, block_bytes):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    monkeypatch.setattr(fastcsv, "BLOCK_BYTES", block_bytes)  # lines split across many blocks
    monkeypatch.setattr(fastcsv, "C_PARSER_BLOCK_BYTES", block_bytes + 7)
    for read in (table.read_csv, table.read_rows_csv):
        same(outcome(read, path), careful(monkeypatch, read, path))


@pytest.mark.parametrize("cell", ODD)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_every_odd_cell_gives_the_careful_answer(tmp_path, monkeypatch, parser, cell, newline):
    path = tmp_path / "t.csv"
    path.write_bytes(
        newline.join(["a,b,label", "1,2,0", f"3,{cell},1", f"{cell},4,0", "5,6,1"]).encode()
    )
    for read in (table.read_csv, table.read_rows_csv):
        same(outcome(read, path), careful(monkeypatch, read, path))


def test_numeric_files_take_the_fast_path_and_store_float32_when_exact(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (500, 7))
    path = tmp_path / "px.csv"
    np.savetxt(
        path,
        np.column_stack([X, X[:, 0] % 3]),
        fmt="%d",
        delimiter=",",
        header="a,b,c,d,e,f,g,label",
        comments="",
    )
    monkeypatch.setattr(table.Table, "chunks", None)  # the careful path would fail
    got, y, names, classes = table.read_csv(path)
    assert got.dtype == np.float32 and np.array_equal(got, X) and names == list("abcdefg")
    np.testing.assert_array_equal(y, X[:, 0] % 3)
    Xf = rng.normal(size=(300, 4))
    np.savetxt(path, np.column_stack([Xf, np.arange(300) % 2]), fmt="%.6g", delimiter=";")
    got, y, _, _ = table.read_csv(path)
    assert got.dtype == np.float64  # 0.1 is not exact in float32: kept in float64
    np.testing.assert_array_equal(got, [[float(f"{v:.6g}") for v in row] for row in Xf])


def test_string_labels_and_crlf_stay_on_the_fast_path(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    path.write_bytes(b"x,y,label\r\n1,2,cat\r\n3,-4.5,dog\r\n5,6,cat\r\n")
    monkeypatch.setattr(table.Table, "chunks", None)
    X, y, _, classes = table.read_csv(path)
    assert classes == ["cat", "dog"] and list(y) == [0, 1, 0]
    np.testing.assert_array_equal(X, [[1, 2], [3, -4.5], [5, 6]])


def test_a_bad_cell_is_named_by_the_careful_path(tmp_path):
    path = tmp_path / "bad.csv"
    rows = ["1,2,0"] * 5000 + ["1,oops,1"] + ["3,4,1"] * 10
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        InputError, match=r"line 5001, column 2 has a value that is not a number: 'oops'"
    ):
        table.read_csv(path)


def test_every_digit_string_reads_as_float_reads_it(tmp_path):
    """Cells of up to 15 digits are read by arithmetic, longer ones by float(): all exact."""
    rng = np.random.default_rng(1)
    cells = [repr(float(v)) for v in rng.normal(size=1500) * 10.0 ** rng.integers(-3, 4, 1500)]
    cells += [str(int(v)) for v in rng.integers(-(10**18), 10**18, 1500)]
    cells += [f"{v:.{k}f}" for v, k in zip(rng.random(1500) * 1e4, rng.integers(0, 15, 1500))]
    path = tmp_path / "long.csv"
    path.write_text("".join(f"{c},0\n" for c in cells))
    X = table.read_csv(path)[0]
    np.testing.assert_array_equal(X[:, 0], [float(c) for c in cells])


def test_long_digit_strings_among_plain_cells_are_read_by_float(tmp_path):
    rng = np.random.default_rng(2)
    cells = [f"{v:.1f}" for v in rng.random(20_000)]  # short: the digits path, not loadtxt
    for i in rng.choice(
        len(cells), 150, replace=False
    ):  # under the 2% that sends a block to loadtxt
        cells[i] = f"{rng.random():.{int(rng.integers(16, 18))}f}"  # 16-17 digits: beyond 2**53
    path = tmp_path / "mixed.csv"
    path.write_text("".join(f"{c},{i % 2}\n" for i, c in enumerate(cells)))
    np.testing.assert_array_equal(table.read_csv(path)[0][:, 0], [float(c) for c in cells])


def test_long_cells_take_pandas_c_parser_when_it_is_there(tmp_path, monkeypatch):
    """Floats such as -0.123457 in a file of several large blocks: pandas' parser reads them (when
    pandas 3 is installed), the values float() gives, bit for bit, in the columns' order."""
    if fastcsv.pandas_parser() is None:
        pytest.skip("pandas 3 or later is not installed")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6)) * 10.0 ** rng.integers(-8, 8, (400, 6))
    lines = ["a,b,label,c,d,e,f"] + [
        ",".join([repr(float(r[0])), f"{r[1]:.6g}", str(i % 3), *(repr(float(v)) for v in r[2:])])
        for i, r in enumerate(X)
    ]
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n")
    calls = []
    real = fastcsv._pandas_c
    monkeypatch.setattr(fastcsv, "_pandas_c", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(fastcsv, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(fastcsv, "C_PARSER_BLOCK_BYTES", 16384)
    got = table.read_csv(path)
    expected = np.array(
        [[float(c) for i, c in enumerate(line.split(",")) if i != 2] for line in lines[1:]]
    )
    np.testing.assert_array_equal(got[0], expected)
    assert list(got[1]) == [i % 3 for i in range(400)]
    assert len(calls) == 4  # 45 KiB: a first block of 4 KiB, then larger ones of 16 KiB
