"""CSV as people write it: one row per example, read with the standard library's ``csv`` module.

- the delimiter is sniffed from the start of the file among ``,`` ``;`` tab and ``|`` (comma when
  nothing else fits), quoted fields are unquoted, and a UTF-8 byte-order mark is dropped;
- the first row is a header when it holds a cell that is not a number and does not look like a
  data row (a data row may carry a string label);
- the label is the column headed ``label``, else the last; labels are integers 0, 1, 2, … or, if
  any is not a number, strings, mapped to classes in sorted order (as the estimator's ``classes_``);
- every other cell must be a number: the first that is not is named with its line, column and the
  delimiter found.

Numeric files are read by ``fastcsv`` (blocks of bytes parsed by NumPy, into one preallocated
array, float32 when every value is exact in float32); whatever it cannot vouch for (quotes, blank
lines between rows, a cell that is not a number, ...) is read here from the start, in chunks of rows,
so that this module alone words every error.
"""

from __future__ import annotations

import csv
from itertools import islice

import numpy as np

from ..checks import limit
from ..errors import InputError
from ..io import check_file
from . import fastcsv
from .validate import assemble, require_file

CHUNK_ROWS = 10_000
DELIMITERS = ",;\t|"
SAMPLE_BYTES = 64 * 1024
DELIMITER_NAMES = {",": "comma ','", ";": "semicolon ';'", "\t": "tab", "|": "pipe '|'"}
MAX_FIELD = 1 << 20  # a cell longer than 1 MiB is not a number or a label


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _sniff(sample):
    """The delimiter of a CSV sample: csv.Sniffer among DELIMITERS; comma when it cannot tell."""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if not lines:
        return ","
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = None
    if found is None or found not in DELIMITERS:
        # one column per line in every candidate: take the candidate that splits the first line most
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        found = max(counts, key=counts.get) if max(counts.values()) else ","
    return found


class Table:
    """An open CSV file: its delimiter, header (or None) and an iterator of (line number, cells)."""

    def __init__(self, path, f):
        self.path = path
        sample = f.read(SAMPLE_BYTES)
        f.seek(0)
        self.delimiter = _sniff(sample)
        self.where = f"{path} (delimiter: {DELIMITER_NAMES[self.delimiter]})"
        self.reader = csv.reader(f, delimiter=self.delimiter, skipinitialspace=True)
        self.rows = self._rows()
        first = next(self.rows, None)
        if first is None:
            raise InputError(f"{path}: empty file (no header and no rows)")
        second = next(self.rows, None)
        self.n_cols = len(first[1])
        non_numeric = [i for i, c in enumerate(first[1]) if not _is_number(c)]
        if not non_numeric:
            header = False
        elif len(non_numeric) == len(first[1]) or second is None:
            header = True
        else:  # a data row with a string label has the same non-numeric columns as the next row
            header = non_numeric != [i for i, c in enumerate(second[1]) if not _is_number(c)]
        self.header = [c.strip() for c in first[1]] if header else None
        self.first_line = first[0]
        self.pending = ([] if header else [first]) + ([second] if second is not None else [])

    def _rows(self):
        try:
            for cells in self.reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                yield self.reader.line_num, cells
        except csv.Error as e:
            raise InputError(f"{self.where}: line {self.reader.line_num}: {e}") from None

    def chunks(self, chunk_rows=CHUNK_ROWS):
        """Lists of (line number, cells) rows, every row checked to have n_cols cells."""
        rows = iter(self.pending + [])
        source = self.rows
        while True:
            chunk = list(islice(rows, chunk_rows)) or list(islice(source, chunk_rows))
            if not chunk:
                return
            for line, cells in chunk:
                if len(cells) != self.n_cols:
                    raise InputError(
                        f"{self.where}: line {line} has {len(cells)} columns, expected {self.n_cols}"
                    )
            yield chunk

    def numbers(self, chunk, columns):
        """The cells of ``columns`` of a chunk as a float64 array; the first bad cell named."""
        try:
            return np.array([[cells[j] for j in columns] for _, cells in chunk], dtype=np.float64)
        except ValueError:
            for line, cells in chunk:
                for j in columns:
                    if not _is_number(cells[j]):
                        col = f" ({self.header[j]!r})" if self.header else ""
                        raise InputError(
                            f"{self.where}: line {line}, column {j + 1}{col} has a value that is "
                            f"not a number: {cells[j].strip()[:40]!r}"
                        ) from None
            raise


def open_table(path):
    """Open PATH (a regular UTF-8 text file) as a Table; the caller closes the returned file."""
    path = check_file(path)
    csv.field_size_limit(MAX_FIELD)
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    return f


def _fast(table, columns, label=None):
    """fastcsv.read for this table, or None when the careful path must read it."""
    if table.first_line != 1:  # blank lines before the first row
        return None
    return fastcsv.read(
        table.path,
        table.delimiter,
        table.n_cols,
        table.header is not None,
        columns,
        label,
        MAX_FIELD,
    )


def _read(path, reader):
    f = open_table(path)
    try:
        with f:
            return reader(Table(path, f))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file (it is not UTF-8 text)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None


def read_csv(path, chunk_rows=CHUNK_ROWS):
    """(X, y, feature names or None, class names or None) from a CSV file with a label column."""

    def read(table):
        if table.n_cols < 2:
            raise InputError(
                f"{table.where}: needs at least one feature column and a label column "
                f"(found {table.n_cols} column)"
            )
        lowered = [c.lower() for c in table.header] if table.header else []
        label_col = lowered.index("label") if "label" in lowered else table.n_cols - 1
        features = [j for j in range(table.n_cols) if j != label_col]
        column = table.header[label_col] if table.header else f"column {label_col + 1}"
        fast = _fast(table, features, label_col)
        if fast is not None:
            X, values, texts = fast
            y, classes = _labels(texts, table.where, column, values)
        else:
            chunks, labels = [], []
            for chunk in table.chunks(chunk_rows):
                chunks.append(table.numbers(chunk, features))
                labels.extend(cells[label_col].strip() for _, cells in chunk)
            X = np.concatenate(chunks) if chunks else np.empty((0, len(features)))
            y, classes = _labels(labels, table.where, column)
        names = [c for j, c in enumerate(table.header) if j != label_col] if table.header else None
        return X, y, names, classes

    return _read(path, read)


def _labels(cells, where, column, values=None):
    """Numeric labels as floats (checked later as integers), or string labels mapped to sorted
    classes. ``values``: the labels already read as numbers (then ``cells`` is not looked at)."""
    if values is not None or all(_is_number(c) for c in cells):
        y = np.array(cells, dtype=np.float64) if values is None else values
        distinct = len(np.unique(y[np.isfinite(y)])) if len(y) else 0
        _check_distinct(distinct, len(y), where, column)
        return y, None
    # Python strings, not NumPy's fixed-width ones, which drop trailing NULs ('a\0' would merge with 'a')
    classes, y = np.unique(np.array(cells, dtype=object), return_inverse=True)
    _check_distinct(len(classes), len(y), where, column)
    return y.astype(np.intp), [str(c) for c in classes]


def _check_distinct(distinct, n, where, column):
    """Refuse a label column that is really an ID: too many classes, or one class per row."""
    cap = limit("MAX_CLASSES")
    if distinct > cap:
        raise InputError(
            f"{where}: {distinct:,} distinct labels in column {column!r} — is that the label column? "
            f"At most {cap:,} classes are allowed (TWOLAYER_MAX_CLASSES); name the label column 'label'"
        )
    if distinct > 1 and distinct == n and n >= 20:
        raise InputError(
            f"{where}: {distinct:,} distinct labels in column {column!r}, one per row — is that the "
            "label column? Name the label column 'label'"
        )


def read_rows_csv(path, chunk_rows=CHUNK_ROWS, note=None):
    """Rows to predict on from a CSV of numbers (an optional header is skipped). A header's ``label``
    column (a file written for training) is dropped; ``note`` (a function of one string) is told so."""

    def read(table):
        columns = list(range(table.n_cols))
        lowered = [c.lower() for c in table.header] if table.header else []
        if "label" in lowered:
            j = lowered.index("label")
            columns.remove(j)
            if note is not None:
                note(
                    f"{table.path}: dropped its 'label' column (column {j + 1}); predicting from the other "
                    f"{len(columns)}"
                )
        fast = _fast(table, columns)
        if fast is not None:
            return fast[0]
        chunks = [table.numbers(chunk, columns) for chunk in table.chunks(chunk_rows)]
        if not chunks:
            raise InputError(f"{table.where}: no rows after the header")
        return np.concatenate(chunks)

    return _read(path, read)


def load_csv(path, seed=0, val_fraction=0.1):
    """All rows are training data; a validation split is carved from them."""
    path = require_file(path, "csv")
    X, y, _, classes = read_csv(path)
    return assemble(
        path.stem,
        {"train": (X, y)},
        lambda key: f"{path} ({'labels' if key[0] == 'y' else 'features'})",
        seed=seed,
        val_fraction=val_fraction,
        class_names=classes,
        detect_image=True,
        owned=True,  # read from the file here: the split may move its rows
    )
