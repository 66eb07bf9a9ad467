"""One writer at a time, and a stop that leaves a folder whole.

``run_lock``: a run directory's lock, taken at once or refused naming its holder (train and report
exclusive, the tune workers of one study shared). ``waiting_lock``: a lock waited for (the workers of
one study take turns writing its results). Both are the kernel's locks on an open file (``flock``,
or ``msvcrt.locking`` on Windows), released when the process dies, so a dead process's lock is
taken over. ``stop_signals``: SIGTERM and SIGHUP stop a command the way Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from datetime import datetime
from pathlib import Path

from .errors import InputError
from .io import exists, os_error

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # everywhere but Windows
    msvcrt = None  # type: ignore[assignment]

LOCK_FILE = ".twolayer.lock"
RESULTS_LOCK_FILE = ".results.lock"
# the signals that mean "stop" where they exist (Windows has no SIGHUP)
_MSVCRT_BYTE = 1 << 20
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


# -- the kernel's lock on an open file ------------------------------------------------------
def _lock(fd, shared=False, wait=False):
    """Lock the open file ``fd``; False when another process holds it (only without ``wait``).
    Windows' msvcrt has no shared locks: there a shared lock is an exclusive one."""
    if fcntl is not None:
        try:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    if msvcrt is not None:  # pragma: no cover - Windows
        while True:
            try:
                # a byte far past the holder's note: a locked range cannot be read by others
                os.lseek(fd, _MSVCRT_BYTE, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not wait:
                    return False
                time.sleep(0.1)
    return True  # no file locks on this platform: one writer at a time is the user's care


def _open(path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except FileExistsError:
        raise InputError(f"{path.parent}: exists and is not a directory") from None
    except OSError as e:
        raise os_error(path.parent, e, "cannot write to the output directory") from None


def _holder(fd):
    """The note the holder left in the lock file (written by ``_write_note``)."""
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"


def _write_note(fd, path, note):
    """Say who holds the lock; a full disk or a read-only folder is one line, like every write."""
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, note.encode())
    except OSError as e:
        raise os_error(path, e, "cannot write the lock file") from None


@contextlib.contextmanager
def run_lock(folder, command, shared=False):
    """Hold FOLDER's lock while writing into it: exclusive for train and report, shared for the
    tune workers of one study. A second writer is refused at once, naming the holder."""
    folder = Path(folder)
    path = folder / LOCK_FILE
    created = not exists(folder)
    fd = _open(path)
    ok = False
    try:
        if not _lock(fd, shared):
            raise InputError(
                f"{folder}: in use by {_holder(fd)}; wait for it to finish or stop it"
            ) from None
        who = f"process {os.getpid()} on {socket.gethostname()}"
        since = datetime.now().strftime("%H:%M:%S")
        _write_note(
            fd,
            path,
            f"tune workers ({who}, ...)"
            if shared
            else f"{who} (twolayer {command}, since {since})",
        )
        yield folder
        ok = True
    finally:
        _release(fd, folder, f"twolayer {command}", remove=created and not ok)


def _release(fd, folder, what, remove):
    """Let go of FOLDER's lock. The last holder leaves a note that reads as free (a note naming a
    live-looking holder would mislead whoever reads it); a folder this command created and that
    a refusal left holding nothing but the lock is removed, so a refusal leaves nothing behind."""
    try:
        if _lock(fd):  # the last holder (shared tune workers may remain): say it is free now
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            until = datetime.now().strftime("%H:%M:%S")
            os.write(fd, f"free (last held by {what}, released at {until})\n".encode())
            if remove and {p.name for p in folder.iterdir()} <= {LOCK_FILE}:
                (folder / LOCK_FILE).unlink()
                folder.rmdir()
    except OSError:
        pass  # a full disk or a vanished folder: the lock is released by closing either way
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def waiting_lock(path):
    """An exclusive lock on the file ``path``, waited for (the workers of one study take turns)."""
    fd = _open(Path(path))
    try:
        _lock(fd, wait=True)
        yield
    finally:
        os.close(fd)


# -- signals: SIGTERM and SIGHUP stop a run the way Ctrl-C does ------------------------------
class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal; ``signum`` gives the exit status 128 + signum."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(error):
    """128 + the signal number for a stop by signal (130 for Ctrl-C)."""
    return 128 + getattr(error, "signum", signal.SIGINT)


@contextlib.contextmanager
def handling_signals(handler, signals):
    """``handler`` for ``signals`` while inside, the previous handlers restored after; outside the
    main thread, where Python cannot set handlers, signals are left alone."""
    previous = {}
    for sig in signals:
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_signals():
    """While inside, SIGTERM and SIGHUP raise Stopped (a KeyboardInterrupt) like Ctrl-C does, so that
    the loop keeps the best weights and every write in progress is rolled back."""

    def handler(signum, frame):
        raise Stopped(signum)

    return handling_signals(handler, STOP_SIGNALS)
