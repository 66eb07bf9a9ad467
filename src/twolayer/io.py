"""Files in and out: the one module that writes results, and the safe readers of our own files.

Every result file is written the same way: a temp file in the target's folder, flushed and
fsync'ed, given the mode the user's umask gives an ordinary new file (0644 under umask 022), then
renamed over the target. On any failure (a full disk, Ctrl-C, a bug) the temp file is removed,
so a result file is either the old one or the complete new one, never 0 bytes or half written.
An OSError becomes one line naming the path and what the system said (InputError).
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import os
import struct
import tempfile
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .checks import check_elements, gib, limit
from .errors import InputError, InputTypeError


def file_mode():
    """The mode open() gives a new file under the current umask (0644 under umask 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def os_error(path, e, doing="cannot write"):
    """An OSError as one line: 'PATH: cannot write (No space left on device)'."""
    reason = os.strerror(e.errno) if e.errno else (e.strerror or str(e))
    return InputError(f"{path}: {doing} ({reason})")


def atomic_write(path, write, binary=True):
    """Call ``write(f)`` on a temp file beside ``path``, then rename it to ``path``."""
    path = check_output_file(path)  # a rename over /dev/null or a FIFO would replace it (as root)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise os_error(path, e) from None
    try:
        try:
            with os.fdopen(
                fd,
                "wb" if binary else "w",
                encoding=None if binary else "utf-8",
                newline=None if binary else "",
            ) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except OSError as e:
            raise os_error(path, e) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text(path, text):
    return atomic_write(path, lambda f: f.write(text), binary=False)


def write_json(path, obj):
    return write_text(path, json.dumps(obj, indent=2) + "\n")


def write_csv(path, header, rows):
    def write(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)

    return atomic_write(path, write, binary=False)


def save_npz(path, arrays):
    """np.savez, atomically (never pickles: object arrays are refused by np.savez's reader)."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def save_npy(path, array):
    return atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def save_figure(fig, path, dpi=100):
    """A matplotlib figure to PNG or SVG (by suffix), atomically; the figure is closed either way."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    try:
        buf = _io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
    finally:
        if (
            getattr(fig.canvas, "manager", None) is not None
        ):  # a pyplot figure; a bare Figure needs no closing
            import matplotlib.pyplot as plt

            plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def remove_stale_temps(folder):
    """Temp files of writes killed before their rename (``.NAME.*.tmp``)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


# -- reading our own files ----------------------------------------------------------------
def as_path(path):
    """A str or os.PathLike as a Path; anything else (None, a number, an open file) one line."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise InputTypeError(
            f"a file path must be a str or pathlib.Path, got {type(path).__name__}"
        )
    return Path(path)


def check_file(path, what="file"):
    """A path that exists and is a regular file (not a directory, FIFO or device)."""
    path = as_path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as e:
        raise os_error(path, e, "cannot read") from None
    import stat

    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a character device"
            if stat.S_ISCHR(st.st_mode)
            else "a block device"
            if stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise InputError(f"{path}: is {kind}, not a file")
    return path


def check_output_file(path):
    """An output path that, if it exists, is a regular file (writing into a FIFO would block)."""
    path = as_path(path)
    if path.exists() or path.is_symlink():
        check_file(path)
    return path


def read_text(path, what="file", max_bytes=2**26):
    path = check_file(path, what)
    if path.stat().st_size > max_bytes:
        raise InputError(f"{path}: {gib(path.stat().st_size)} is too large for a {what} file")
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise os_error(path, e, "cannot read") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (it is not UTF-8)") from None


def read_json(path, what="file"):
    """A JSON object from one of our files; an empty or damaged file is one line naming it."""
    text = read_text(path, what)
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    return json_object(text, f"{path}:")


def json_object(text, where):
    """The JSON object in ``text``; anything else is one line starting with ``where``."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise InputError(
            f"{where} not valid JSON ({type(e).__name__}: {' '.join(str(e).split())[:80]})"
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"{where} expected a JSON object, got {type(obj).__name__}")
    return obj


def read_csv_rows(path, what="file"):
    """(header, rows) of a small CSV file of ours, e.g. history.csv."""
    rows = list(csv.reader(read_text(path, what).splitlines()))
    if not rows:
        raise InputError(f"{path}: the file is empty")
    return rows[0], rows[1:]


def meta_array(value, path):
    """The JSON string stored as a 0-d unicode array in one of our .npz files."""
    if value.dtype.kind != "U" or value.ndim != 0:
        raise InputError(f"{path}: metadata has the wrong type; the file is damaged")
    return value[()]


def npy_header(f, where, available, in_memory=True):
    """(shape, fortran_order, dtype, data offset) of the .npy stream f, checked before any data is read.

    ``available`` is the number of bytes the stream holds (the file or zip member size): a header that
    promises more (or, for in-memory reads, more than MAX_ELEMENTS numbers) is refused here, so no
    allocation is ever sized by an untrusted header. Products are exact (Python integers never overflow).
    """
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = fmt.read_array_header_2_0(f)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise InputError(
            f"{where}: holds object arrays (Python objects), which are refused for safety (no pickles)"
        )
    n = check_elements(shape, where, dtype.itemsize) if in_memory else math.prod(shape)
    offset = f.tell()
    expected = offset + n * dtype.itemsize
    if available < expected:
        raise InputError(
            f"{where}: truncated .npy data: the header promises {expected:,} bytes for shape "
            f"{tuple(shape)} {dtype}, the file holds {available:,}"
        )
    return shape, fortran, dtype, offset


def read_npz(path, required=()):
    """Every array of an .npz, read member by member with allow_pickle=False; each member's header is
    checked against the size the zip directory declares, and all members together against
    MAX_DECOMPRESSED_BYTES, before anything is decompressed (a zip bomb is refused from its directory)."""
    path = check_file(path)
    if not zipfile.is_zipfile(path):  # np.load would read it as a .npy or try to unpickle it
        raise InputError(f"{path}: not a readable .npz file (it is not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > limit("MAX_DECOMPRESSED_BYTES"):
                raise InputError(
                    f"{path}: its arrays would expand to {gib(total)}, more than the limit of "
                    f"{gib(limit('MAX_DECOMPRESSED_BYTES'))} (TWOLAYER_MAX_DECOMPRESSED_BYTES)"
                )
            arrays = {}
            for info in infos:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as f:
                    npy_header(f, f"{path}: {key}", info.file_size)
                    f.seek(0)
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
    except InputError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):  # object arrays need pickles, which are refused
            raise InputError(
                f"{path}: holds object arrays, which are refused for safety ({e})"
            ) from None
        raise InputError(f"{path}: not a readable .npz file (a damaged array: {e})") from None
    # damage found by fuzzing: a broken .npy header fails in NumPy's parser (SyntaxError, TokenError);
    # flipped zip flags make zipfile ask for a password or an unknown method (RuntimeError, zlib.error)
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        KeyError,
        SyntaxError,
        tokenize.TokenError,
        RuntimeError,
        zlib.error,
        struct.error,
        NotImplementedError,
        OverflowError,
        MemoryError,
    ) as e:
        raise InputError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise InputError(f"{path}: missing array(s) {', '.join(missing)}")
    return arrays


# -- text shown to people ---------------------------------------------------------------
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text, backslash=True):
    """``text`` on one line with every character a terminal or a table would act on written as an
    escape: newlines and tabs as \\n, \\r, \\t, other control and format characters (ESC, NUL,
    U+2028, bidi overrides) as \\xNN or \\uNNNN. With ``backslash`` a backslash is doubled, so
    that two different class names never print alike. The one escaping of names (class names
    in predictions, pictures, tables and the report; JSON and .npy keep them as they are)."""
    text = str(text)
    if text.isprintable() and (not backslash or "\\" not in text):
        return text
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\" if backslash else ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out)


def stdout_write(text):
    """Write to standard output; a closed or full stdout is one line (InputError), not a traceback."""
    import sys

    if sys.stdout is None:
        raise InputError("stdout: cannot write (standard output is closed)")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as e:
        raise os_error("stdout", e) from None
    except ValueError:  # I/O operation on closed file
        raise InputError("stdout: cannot write (standard output is closed)") from None


__all__ = [
    "atomic_write",
    "write_text",
    "write_json",
    "write_csv",
    "save_npz",
    "save_npy",
    "save_figure",
    "read_json",
    "read_text",
    "read_csv_rows",
    "read_npz",
    "npy_header",
    "meta_array",
    "check_file",
    "check_output_file",
    "as_path",
    "os_error",
    "printable",
    "stdout_write",
    "remove_stale_temps",
]
