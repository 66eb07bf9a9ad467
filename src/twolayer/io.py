"""Files in and out: the one module that writes results, and the safe readers of our own files.

Every result file is written the same way: a temp file in the target's folder, flushed and
fsync'ed, given the mode the user's umask gives an ordinary new file (0644 under umask 022), then
renamed over the target. On any failure (a full disk, Ctrl-C, a bug) the temp file is removed,
so a result file is either the old one or the complete new one, never 0 bytes or half written.
An OSError becomes one line naming the path and what the system said (InputError).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io as _io
import json
import math
import os
import shutil
import stat
import struct
import sys
import tempfile
import threading
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .checks import check_elements, gib, limit
from .errors import InputError, InputTypeError

# -- encodings: any stream or text file can hold any text ---------------------------------
# What an ASCII or Latin-1 stream (PYTHONIOENCODING=ascii, a C locale) cannot hold is written the
# way LANG=C programs do (the CLI's stdout and stderr, every text file written here): typographic
# characters transliterated, an undecodable byte of a file name (a surrogate escape) as \xNN,
# anything else as a backslash escape; never an error.
_ASCII = {"—": "-", "–": "-", "…": "...", "·": ".", "×": "x", "²": "^2", "Σ": "sum ", "“": '"'}
_ASCII.update({"”": '"', "‘": "'", "’": "'", "→": "->", "≤": "<=", "≥": ">=", "±": "+/-"})
ESCAPE = "twolayer-escape"


def _escape(error):
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for ch in error.object[error.start : error.end]:
        code = ord(ch)
        if ch in _ASCII:
            out.append(_ASCII[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch.encode("ascii", "backslashreplace").decode())
    return "".join(out), error.end


codecs.register_error(ESCAPE, _escape)


_UMASK_LOCK = threading.Lock()


def umask():
    """The process's umask, read without changing it: Linux says it in /proc/self/status; elsewhere
    os.umask must set it to read it, so that is done under a lock (two readers at once would leave
    the one's temporary mask in place). Other threads' files are made with the umask unchanged."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)  # the strictest mask while it is away
        os.umask(mask)
    return mask


def file_mode():
    """The mode open() gives a new file under the current umask (0644 under umask 022)."""
    return 0o666 & ~umask()


def os_error(path, e, doing="cannot write"):
    """An OSError as one line: 'PATH: cannot write (No space left on device)'."""
    reason = os.strerror(e.errno) if e.errno else (e.strerror or str(e))
    return InputError(f"{shown(path)}: {doing} ({reason})")


STDOUT = "-"  # the str "-" as an output means standard output (a Path("-") is a file named -)


def atomic_write(path, write, binary=True):
    """Call ``write(f)`` on a temp file beside ``path``, then rename it to ``path``. A symlink is
    written through (its target replaced, the link kept); a terminal, /dev/null or standard output
    itself (``-``, ``/dev/stdout``, even a pipe) is written directly, as a stream."""
    path = check_output_file(path)
    if isinstance(path, _Stream):
        return _write_stream(path, write, binary)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{_short(path.name)}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise os_error(path, e) from None
    try:
        try:
            with os.fdopen(
                fd,
                "wb" if binary else "w",
                encoding=None if binary else "utf-8",
                errors=None if binary else ESCAPE,
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


def _short(name, most=200):
    """``name`` cut to ``most`` bytes: a temp file beside a 255-byte name must fit NAME_MAX too."""
    while len(os.fsencode(name)) > most:
        name = name[:-1]
    return name


class _Stream(type(Path())):  # type: ignore[misc]
    """An output that is a stream, not a file to replace: stdout, a terminal, a pipe."""

    fd: int | None = None  # an fd already open (stdout), else the path is opened for writing


def _write_stream(path, write, binary):
    if path.fd == 1:
        stream = sys.stdout
        if stream is None:
            raise InputError("stdout: cannot write (standard output is closed)")
        try:
            stream.flush()
            target = stream.buffer if binary else stream
            buf = _io.BytesIO() if binary else _io.StringIO(newline="")
            write(buf)
            target.write(buf.getvalue())
            target.flush()
        except OSError as e:
            raise os_error("stdout", e) from None
        return path
    try:  # O_NONBLOCK: a device that would block on opening is refused instead
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
        os.set_blocking(fd, True)
        with os.fdopen(
            fd,
            "wb" if binary else "w",
            encoding=None if binary else "utf-8",
            errors=None if binary else ESCAPE,
        ) as f:
            write(f)
    except OSError as e:
        raise os_error(path, e) from None
    return path


def write_text(path, text):
    return atomic_write(path, lambda f: f.write(text), binary=False)


def write_json(path, obj):
    return write_text(path, json.dumps(obj, indent=2) + "\n")


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV cell a spreadsheet will not run: text starting with = + - @, a tab or a carriage
    return gets a leading ' (OWASP's advice on CSV injection) unless it is a number (-2, +1e5)."""
    if not isinstance(value, str) or not value.startswith(_FORMULA):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def csv_rows(header, rows):
    """``header`` and ``rows`` as CSV text, every cell through csv_cell."""
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(v) for v in header])
    w.writerows([csv_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def write_csv(path, header, rows):
    def write(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow([csv_cell(v) for v in header])
        w.writerows([csv_cell(v) for v in row] for row in rows)

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


# -- standard input as a file --------------------------------------------------------------
@contextlib.contextmanager
def stdin_file(kind=None):
    """Standard input (``-`` as an INPUT) copied to a temp file named stdin.npy or stdin.csv, for
    readers that need a file (an .npy is recognised by its magic bytes unless ``kind`` says);
    at most MAX_DECOMPRESSED_BYTES, and removed afterwards whatever happens."""

    if sys.stdin is None or sys.stdin.closed:
        raise InputError("stdin: cannot read (standard input is closed)")
    cap = limit("MAX_DECOMPRESSED_BYTES")
    try:
        data = sys.stdin.buffer.read(cap + 1)
    except (OSError, ValueError) as e:
        raise InputError(f"stdin: cannot read ({e})") from None
    if len(data) > cap:
        raise InputError(
            f"stdin: more than {gib(cap)} of rows (TWOLAYER_MAX_DECOMPRESSED_BYTES); use a file"
        )
    if not data:
        raise InputError("stdin: no rows on standard input (it is empty)")
    kind = kind or ("npy" if data.startswith(b"\x93NUMPY") else "csv")
    folder = tempfile.mkdtemp(prefix="twolayer-stdin-")
    try:
        path = Path(folder) / f"stdin.{kind}"
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- reading our own files ----------------------------------------------------------------
NAME_MAX, PATH_MAX = 255, 4096  # bytes, as on Linux (os.pathconf asks the file system where it can)


def shown(path, width=240):
    """A path for a message: on one line, and at most ``width`` characters (the middle elided)."""
    text = printable(os.fspath(path) if isinstance(path, os.PathLike) else str(path), False)
    return text if len(text) <= width else f"{text[: width // 2 - 1]}…{text[-(width // 2) :]}"


def as_path(path, what="path"):
    """A str or os.PathLike as a Path, checked for what no system call accepts: not a str or a path
    (None, a number, an open file), empty, a NUL byte, longer than PATH_MAX or a name longer than
    NAME_MAX. Each is one line (InputError), never ENAMETOOLONG from deep inside a call."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise InputTypeError(
            f"a file path must be a str or pathlib.Path, got {type(path).__name__}"
        )
    text = os.fspath(path)
    if not isinstance(text, str):
        raise InputTypeError(
            f"a file path must be a str or pathlib.Path, got {type(text).__name__}"
        )
    if text == "":
        raise InputError(f"an empty {what}: give a file or folder name (. is the current folder)")
    if "\0" in text:
        raise InputError(f"{shown(text)}: a {what} cannot contain a NUL character")
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:  # a lone surrogate that is no undecodable byte
        raise InputError(f"{shown(text)}: the {what} holds a character no file name can") from None
    if len(raw) > PATH_MAX:
        raise InputError(
            f"{shown(text)}: the {what} is {len(raw):,} bytes long, more than the system's limit "
            f"of {PATH_MAX:,} (File name too long)"
        )
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > NAME_MAX:
        raise InputError(
            f"{shown(text)}: a name in the {what} is {len(longest):,} bytes long, more than the "
            f"system's limit of {NAME_MAX} (File name too long)"
        )
    return path if isinstance(path, Path) else Path(path)


def path_stat(path, follow=True):
    """os.stat of ``path`` (lstat unless ``follow``), or None when nothing is there; any other
    failure (too long, a loop of links, no permission) one line. The one place that asks the
    system about a path: exists(), is_dir() and is_file() below are built on it."""
    path = as_path(path)
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise os_error(path, e, "cannot use") from None


def exists(path):
    """Whether something is at ``path`` (a dangling symlink counts: it is in the way)."""
    return path_stat(path, follow=False) is not None


def is_dir(path):
    st = path_stat(path)
    return st is not None and stat.S_ISDIR(st.st_mode)


def is_file(path):
    st = path_stat(path)
    return st is not None and stat.S_ISREG(st.st_mode)


def _kind(mode):
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def check_file(path, what="file"):
    """A path that exists and is a regular file (not a directory, FIFO or device)."""
    path = as_path(path)
    st = path_stat(path)
    if st is None:
        raise InputError(f"{shown(path)}: {what} not found")
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{shown(path)}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{shown(path)}: is {_kind(st.st_mode)}, not a file")
    return path


def check_output_file(path):
    """Where an output goes: the str ``-`` and standard output itself (``/dev/stdout``, a link to it)
    are standard output; a symlink is followed to its target (written through, never replaced);
    a character device (/dev/null, a terminal) is written directly; a FIFO (unless it is stdout),
    a directory, a socket or a block device is refused, before any work."""
    if isinstance(path, _Stream):
        return path
    if isinstance(path, str) and path == STDOUT:
        return _stream(STDOUT, 1)
    path = as_path(path)
    st = path_stat(path)
    if st is not None and _is_stdout(st):
        return _stream(path, 1)
    link = path_stat(path, follow=False)
    if link is not None and stat.S_ISLNK(link.st_mode):  # write its target, keep the link
        try:
            path = Path(os.path.realpath(path))
        except OSError as e:
            raise os_error(path, e, "cannot follow the link") from None
        as_path(path)
    if st is None:
        return path
    if stat.S_ISREG(st.st_mode):
        return path
    if stat.S_ISCHR(st.st_mode):  # /dev/null, a terminal: written to, never replaced
        return _stream(path, None)
    raise InputError(f"{shown(path)}: is {_kind(st.st_mode)}, not a file")


def _stream(path, fd):
    stream = _Stream(path)
    stream.fd = fd
    return stream


def _is_stdout(st):
    try:
        return os.path.samestat(st, os.fstat(1))
    except OSError:
        return False


def read_text(path, what="file", max_bytes=2**26):
    path = check_file(path, what)
    size = path_stat(path).st_size
    if size > max_bytes:
        raise InputError(f"{shown(path)}: {gib(size)} is too large for a {what} file")
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


# damage found by fuzzing: a broken .npy header fails in NumPy's parser (SyntaxError, TokenError);
# flipped zip flags make zipfile ask for a password or an unknown method (RuntimeError, zlib.error)
_DAMAGED_NPZ = (
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
)


def read_npz(path, required=()):
    """Every array of an .npz, read member by member with allow_pickle=False; each member's header is
    checked against the size the zip directory declares, and all members together against
    MAX_DECOMPRESSED_BYTES, before anything is decompressed (a zip bomb is refused from its directory)."""
    path = check_file(path)
    if not zipfile.is_zipfile(path):  # np.load would read it as a .npy or try to unpickle it
        raise InputError(f"{path}: not a readable .npz file (it is not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            arrays = _npz_members(zf, path)
    except InputError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):  # object arrays need pickles, which are refused
            raise InputError(
                f"{path}: holds object arrays, which are refused for safety ({e})"
            ) from None
        raise InputError(f"{path}: not a readable .npz file (a damaged array: {e})") from None
    except _DAMAGED_NPZ as e:
        raise InputError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise InputError(f"{path}: missing array(s) {', '.join(missing)}")
    return arrays


def _npz_members(zf, path):
    """The archive's arrays by name, once the directory's sizes are within the limit."""
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
            if not backslash and 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name
                code -= 0xDC00
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
    if sys.stdout is None:
        raise InputError("stdout: cannot write (standard output is closed)")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as e:
        raise os_error("stdout", e) from None
    except UnicodeEncodeError as e:  # a stream the CLI did not set up (console.readable_streams)
        raise InputError(
            f"stdout: cannot write ({e.encoding} cannot show {e.object[e.start]!r})"
        ) from None
    except ValueError:  # I/O operation on closed file
        raise InputError("stdout: cannot write (standard output is closed)") from None


__all__ = [
    "atomic_write",
    "write_text",
    "write_json",
    "write_csv",
    "csv_cell",
    "csv_rows",
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
    "path_stat",
    "exists",
    "is_dir",
    "is_file",
    "shown",
    "STDOUT",
    "stdin_file",
    "ESCAPE",
    "os_error",
    "printable",
    "stdout_write",
    "remove_stale_temps",
]
