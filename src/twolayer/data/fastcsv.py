"""The fast path of the CSV reader: whole blocks of a numeric CSV parsed by NumPy, no string per cell.

``table.py`` sniffs the delimiter, finds the header and the label column with the standard
library's ``csv`` module (the careful path). This module then reads the rest of the file as bytes,
in blocks of whole lines, and parses each block with array operations:

- the cells are the bytes between delimiters and newlines; every line must have the header's number
  of cells (else: the careful path, which names the line);
- a plain decimal cell (``-12.5``, ``7``, at most 15 digits) is read by arithmetic on its digits:
  the digits as an integer m < 10¹⁵, then m / 10^f for f decimals: both exact doubles, so the
  quotient is the correctly rounded value, the one ``float()`` gives;
- any other cell (an exponent, a ``+``, spaces) is read by ``float()``, or the block by a C
  parser when such cells are common, or when the cells are long (floats with many digits, where a
  C parser is faster): pandas' when pandas 3 or later is installed (an optional accelerator, 2-3x
  faster on 4 MiB blocks), else ``np.loadtxt``'s;
- the label column's cells are kept as text when they are not numbers (string labels).

Whatever this path cannot vouch for returns None, and the careful path reads the file from the
start: a quote anywhere, a lone carriage return, a blank line between rows, a cell that is not a
number, bytes that are not printable ASCII in a label. So the careful path alone words every error,
and both paths give the same numbers.
"""

from __future__ import annotations

import io

import numpy as np

BLOCK_BYTES = 256 << 10  # small blocks: their temporaries stay in cache (2 MiB ones read 2x slower)
# blocks of long cells read by pandas' C parser: large, since each call costs ~5 ms of set-up
C_PARSER_BLOCK_BYTES = 4 << 20
MAX_DIGITS = 15  # m < 10**15 < 2**53: the digits are an exact double
POW10 = 10.0 ** np.arange(MAX_DIGITS + 3)  # exact doubles
FLOAT32_EXACT = 2.0**24  # beyond it float32 storage could overflow the preprocessing
LOADTXT_SHARE = 0.02  # more odd cells than this in a block: np.loadtxt reads the block
# cells this long on average (floats such as -0.123457): np.loadtxt's C parser reads the block, 2x
# faster there than one NumPy pass per byte position; short cells (pixels) are 5x faster by digits
LOADTXT_LENGTH = 4.0
NL, CR, DOT, MINUS, ZERO = 10, 13, 46, 45, 48
BOM = b"\xef\xbb\xbf"


class Block:
    """The cells of a block of whole lines: ``starts``/``ends`` are byte offsets (end exclusive)."""

    def __init__(self, raw, delimiter, starts, ends, n_cols):
        self.raw, self.delimiter = raw, delimiter
        self.starts, self.ends, self.n_cols = starts, ends, n_cols

    @property
    def rows(self):
        return len(self.ends) // self.n_cols

    def text(self, k):
        return self.raw[self.starts[k] : self.ends[k]].decode("ascii")


def split_cells(raw, delimiter, n_cols, max_field):
    """The Block of ``raw`` (whole lines, each ending in a newline), or None when a line does not
    have n_cols cells, a cell is empty or too long, or a carriage return stands before anything but
    a newline."""
    crs = raw.count(b"\r")
    if crs != raw.count(b"\r\n"):
        return None
    a = np.frombuffer(raw, np.uint8)
    ends = np.flatnonzero((a == NL) | (a == ord(delimiter)))
    if len(ends) == 0 or len(ends) % n_cols:
        return None
    at_newline = a[ends].reshape(-1, n_cols) == NL
    if not at_newline[:, -1].all() or at_newline[:, :-1].any():
        return None
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    if crs:  # a cell ends before the carriage return of its line
        ends = ends - (a[ends - 1] == CR)
    lengths = ends - starts
    if lengths.min() <= 0 or lengths.max() > max_field:
        return None
    return Block(raw, delimiter, starts, ends, n_cols)


PLAIN = b"0123456789.-"


def plain_values(block):
    """(values, plain): every cell's float64 value where it is a plain decimal, and where it is.

    The digits of all cells are read together, one position from the right per step (at most
    MAX_DIGITS + 2 steps): m = Σ digit · 10^(digits right of it), then m / 10^decimals."""
    a = np.frombuffer(block.raw, np.uint8)
    length = block.ends - block.starts
    plain = length <= MAX_DIGITS + 2
    _mark_odd_bytes(block, a, plain)
    negative = _minus_signs(block, a, plain)
    dot_from_right, has_dot = _dots(block, a, plain)
    decimals = np.where(has_dot, dot_from_right - 1, 0)
    n_digits = length - negative - has_dot
    plain &= (n_digits >= 1) & (n_digits <= MAX_DIGITS)
    m = _mantissas(a, block.ends, length, dot_from_right if b"." in block.raw else None)
    values = m / POW10[np.minimum(decimals, MAX_DIGITS)]
    values[negative] *= -1.0
    return values, plain


def _mark_odd_bytes(block, a, plain):
    """Cells holding a byte no plain decimal has (an exponent, a sign, a space) are not plain."""
    if block.raw.translate(None, PLAIN + block.delimiter.encode() + b"\r\n"):
        odd_byte = np.ones(256, bool)
        odd_byte[np.frombuffer(PLAIN + b"\r\n", np.uint8)] = False
        odd_byte[ord(block.delimiter)] = False
        plain[np.searchsorted(block.ends, np.flatnonzero(odd_byte[a]))] = False


def _minus_signs(block, a, plain):
    """The cells with a minus sign; one anywhere but at a cell's first byte is not plain."""
    negative = np.zeros(len(block.ends), bool)
    if b"-" in block.raw:
        at = np.flatnonzero(a == MINUS)
        cells = np.searchsorted(block.ends, at)
        plain[cells[at != block.starts[cells]]] = False
        negative[cells] = True
    return negative


def _dots(block, a, plain):
    """(dot_from_right, has_dot): where each cell's dot is (1 = the last byte; beyond any cell
    where there is none); a cell with two dots is not plain."""
    n = len(block.ends)
    dot_from_right = np.full(n, MAX_DIGITS + 3)
    has_dot = np.zeros(n, bool)
    if b"." in block.raw:
        at = np.flatnonzero(a == DOT)
        cells = np.searchsorted(block.ends, at)
        plain[cells[np.bincount(cells, minlength=n)[cells] > 1]] = False
        dot_from_right[cells] = block.ends[cells] - at
        has_dot[cells] = True
    return dot_from_right, has_dot


def _mantissas(a, ends, length, dot_from_right):
    """m = Σ digit · 10^(digits right of it) for every cell, one position from the right per step
    (``dot_from_right`` None: no cell has a dot)."""
    m = np.zeros(len(ends))
    live = None  # the cells with at least k bytes: fewer at every step (most pixels are one byte)
    for k in range(1, min(int(length.max()), MAX_DIGITS + 2) + 1):
        if live is None:
            d, scale = a[ends - 1] - np.uint8(ZERO), POW10[0]
        else:
            live = live[length[live] >= k] if len(live) else live
            d = a[ends[live] - k] - np.uint8(ZERO)  # a sign or a dot: not below 10
            if dot_from_right is not None:
                scale = np.where(k > dot_from_right[live], POW10[k - 2], POW10[k - 1])
            else:
                scale = POW10[k - 1]
        term = np.where(d < 10, d, 0) * scale
        if live is None:
            m += term
            live = np.flatnonzero(length >= 2)
        else:
            m[live] += term
    return m


def long_cells(block):
    """Cells long enough (floats such as -0.123457) that a C parser reads them faster than the
    digit arithmetic."""
    return (block.ends - block.starts).mean() >= LOADTXT_LENGTH


def block_numbers(block, columns):
    """The cells of ``columns`` as a float64 (rows, len(columns)) array, or None when a cell is not
    a number by ``float()``."""
    if long_cells(block):
        rows = _pandas_c(block, columns)
        return rows if rows is not None else _loadtxt(block, columns)
    values, plain = plain_values(block)
    values, plain = values.reshape(-1, block.n_cols), plain.reshape(-1, block.n_cols)
    out, plain = values[:, columns], plain[:, columns]
    odd = np.argwhere(~plain)
    if len(odd) > LOADTXT_SHARE * plain.size:
        return _loadtxt(block, columns)
    for i, j in odd:
        try:
            out[i, j] = float(block.text(i * block.n_cols + columns[j]))
        except (ValueError, UnicodeDecodeError):
            return None
    return out


def pandas_parser():
    """pandas' C reader when pandas 3 or later is installed (an optional accelerator: its default
    float parsing is correctly rounded, the value ``float()`` gives; earlier releases' was not), else
    None."""
    global _PANDAS
    if _PANDAS is None:
        try:
            import pandas  # type: ignore[import-untyped]

            _PANDAS = pandas if int(pandas.__version__.split(".")[0]) >= 3 else False
        except ImportError:
            _PANDAS = False
    return _PANDAS or None


_PANDAS = None  # the pandas module, False when it is missing or too old; None: not looked yet


def _pandas_c(block, columns):
    """The block's ``columns`` by pandas' C parser, or None (no pandas 3, or a cell it refuses).
    split_cells has checked the block's shape: every line has n_cols non-empty cells, no quote."""
    pandas = pandas_parser()
    if pandas is None:
        return None
    try:
        frame = pandas.read_csv(
            io.BytesIO(block.raw),
            header=None,
            sep=block.delimiter,
            usecols=list(columns),
            dtype=np.float64,
            na_filter=False,
            quoting=3,  # csv.QUOTE_NONE
            engine="c",
        )
    except (ValueError, TypeError, OverflowError):  # pandas' ParserError is a ValueError
        return None
    rows = frame.to_numpy(np.float64)[:, np.argsort(np.argsort(columns))]
    return rows if rows.shape == (block.rows, len(columns)) else None


def _loadtxt(block, columns):
    try:
        text = block.raw.decode("ascii")
        return np.loadtxt(
            io.StringIO(text),
            delimiter=block.delimiter,
            comments=None,
            quotechar=None,
            usecols=list(columns),
            dtype=np.float64,
            ndmin=2,
            encoding=None,
        )
    except (ValueError, UnicodeDecodeError):
        return None


def block_labels(block, column):
    """The label column's cells as (float64 values, or None when one is not a number; texts), or
    None when a cell is not printable ASCII (the careful path reads those)."""
    cells = np.arange(block.rows) * block.n_cols + column
    texts = []
    for k in cells:
        raw = block.raw[block.starts[k] : block.ends[k]]
        if not raw.isascii():
            return None
        texts.append(raw.decode("ascii").strip())
    if not all(t.isprintable() for t in texts):
        return None
    try:
        values = np.array([float(t) for t in texts])
    except ValueError:
        values = None
    return values, texts


def line_blocks(f, size=None):
    """Blocks of whole lines from binary file f, each ending in a newline; trailing blank space of a
    block is dropped (the careful path skips blank lines). ``size``: a callable giving the bytes to
    read next (default BLOCK_BYTES, read when called: tests make blocks of a few bytes)."""
    size = size or (lambda: BLOCK_BYTES)
    rest = b""
    while True:
        chunk = f.read(size())
        if not chunk:
            if rest.strip():
                yield rest + b"\n"
            return
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        rest, chunk = chunk[cut:], chunk[:cut]
        if chunk.strip(b" \r\n"):
            yield chunk.rstrip(b" \r\n") + b"\n"


def count_lines(path):
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


class Store:
    """Rows written into one preallocated array: float32 while every value is exact in float32 (and
    small enough that the preprocessing cannot overflow), else float64 from the first row."""

    def __init__(self, max_rows, n_features):
        self.X = np.empty((max_rows, n_features), np.float32)
        self.n = 0

    def add(self, rows):
        if self.X.dtype == np.float32:
            small = np.abs(rows).max(initial=0) <= FLOAT32_EXACT  # NaN: not small
            narrow = rows.astype(np.float32) if small else None
            if narrow is not None and np.array_equal(narrow, rows):
                rows = narrow
            else:
                wide = np.empty(self.X.shape, np.float64)
                wide[: self.n] = self.X[: self.n]
                self.X = wide
        if self.n + len(rows) > len(self.X):
            raise ValueError("more rows than lines")
        self.X[self.n : self.n + len(rows)] = rows
        self.n += len(rows)

    def result(self):
        return self.X[: self.n]


def read(path, delimiter, n_cols, skip_header, columns, label=None, max_field=1 << 20):
    """(X, label values or None, label texts or None) of a numeric CSV, or None when the careful
    path must read it. ``columns``: the feature columns; ``label``: the label column or None."""
    columns = np.asarray(columns, np.intp)
    store = Store(count_lines(path) + 1, len(columns))
    values, texts, numeric = [], [], True
    with open(path, "rb") as f:
        if f.read(3) != BOM:
            f.seek(0)
        if skip_header:
            head = f.readline()
            if b'"' in head or head.count(b"\r") != head.count(b"\r\n"):
                return None
        big = [False]  # long cells and pandas' C parser: large blocks from the second one on
        for raw in line_blocks(f, lambda: C_PARSER_BLOCK_BYTES if big[0] else BLOCK_BYTES):
            block = None if b'"' in raw else split_cells(raw, delimiter, n_cols, max_field)
            rows = None if block is None else block_numbers(block, columns)
            if rows is None:
                return None
            big[0] = long_cells(block) and pandas_parser() is not None
            if label is not None:
                found = block_labels(block, label)
                if found is None:
                    return None
                numeric = numeric and found[0] is not None
                values.append(found[0])
                texts.extend(found[1])
            store.add(rows)
    if store.n == 0:
        return None
    if label is None:
        return store.result(), None, None
    if numeric:
        return store.result(), np.concatenate(values), None
    return store.result(), None, texts
