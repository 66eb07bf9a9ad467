"""CSV: one row per example, numbers only; the label is the column headed ``label``, else the last.

The file is parsed in chunks of rows, so a malformed line is reported with its line number and
parsing never holds more than one chunk of text at a time.
"""
from __future__ import annotations

from itertools import islice

import numpy as np

from ..errors import InputError
from .validate import assemble, require_file

CHUNK_ROWS = 10_000


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def parse_chunk(lines, first_line, n_cols, path):
    """Rows of numbers from a list of CSV lines; the first bad line is named."""
    if not any(line.strip() for line in lines):
        return np.empty((0, n_cols))
    try:
        rows = np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64)
        if rows.shape[1] == n_cols:
            return rows
    except ValueError:
        pass
    for i, line in enumerate(lines):
        cells = line.strip().split(",")
        if not line.strip():
            continue
        if len(cells) != n_cols:
            raise InputError(f"{path}: line {first_line + i} has {len(cells)} columns, expected {n_cols}")
        bad = next((c for c in cells if not _is_number(c)), None)
        if bad is not None:
            raise InputError(f"{path}: line {first_line + i} has a value that is not a number: {bad.strip()!r}")
    raise InputError(f"{path}: cannot parse lines {first_line}..{first_line + len(lines) - 1}")


def read_csv(path, chunk_rows=CHUNK_ROWS):
    """(X, y, feature names or None) from a CSV file."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
            if not first.strip():
                raise InputError(f"{path}: empty file (no header and no rows)")
            cells = [c.strip() for c in first.split(",")]
            header = not all(_is_number(c) for c in cells)
            lowered = [c.lower() for c in cells]
            label_col = lowered.index("label") if header and "label" in lowered else len(cells) - 1
            n_cols = len(cells)
            if n_cols < 2:
                raise InputError(f"{path}: needs at least one feature column and a label column")
            # line_no: lines consumed so far; a first line of numbers is data, not a header
            chunks, line_no, pending = [], (1 if header else 0), ([] if header else [first])
            while True:
                lines = pending + list(islice(f, chunk_rows - len(pending)))
                pending = []
                if not lines:
                    break
                chunks.append(parse_chunk(lines, line_no + 1, n_cols, path))
                line_no += len(lines)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file (it is not UTF-8 text)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    data = np.concatenate(chunks) if chunks else np.empty((0, n_cols))
    X = np.delete(data, label_col, axis=1)
    return X, data[:, label_col], ([c for i, c in enumerate(cells) if i != label_col] if header else None)


def load_csv(path, seed=0, val_fraction=0.1):
    """All rows are training data; a validation split is carved from them."""
    path = require_file(path, "csv")
    X, y, _ = read_csv(path)
    return assemble(path.stem, {"train": (X, y)}, lambda key: f"{path} ({'labels' if key[0] == 'y' else 'features'})",
                    seed=seed, val_fraction=val_fraction)
