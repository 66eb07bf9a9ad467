"""MNIST, Fashion-MNIST and CIFAR-10 on demand: download the canonical files once, verify, cache.

``--data mnist`` (no folder) calls ``fetch("mnist")``, which returns a folder the ordinary loader
reads. Files are fetched with pooch (as SciPy and scikit-image do) into

    $TWOLAYER_DATA_DIR/NAME/        when TWOLAYER_DATA_DIR is set
    <user cache dir>/twolayer/NAME/ otherwise (pooch.os_cache: ~/.cache/twolayer on Linux,
                                    ~/Library/Caches/twolayer on macOS, %LOCALAPPDATA%\\twolayer\\Cache on Windows)

Each file's SHA-256 is recorded below; a download that does not match is deleted and never used,
a cached file that does not match is downloaded again. ``TWOLAYER_DATA_MIRROR`` (a base URL)
replaces the default sources: files are then read from MIRROR/NAME/FILE.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Setting

ENV_DIR = "TWOLAYER_DATA_DIR"
ENV_MIRROR = "TWOLAYER_DATA_MIRROR"


@dataclass(frozen=True)
class Source:
    base_url: str
    files: dict  # file name → SHA-256 of the canonical file
    unpack: str | None = None  # an archive unpacked into this subfolder, which the loader reads


SOURCES = {
    "mnist": Source(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion-mnist": Source(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
    "cifar10": Source(
        "https://www.cs.toronto.edu/~kriz/",
        {
            "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        },
        unpack="cifar-10-batches-py",
    ),
}


def cache_root():
    """TWOLAYER_DATA_DIR, else the user's cache folder for twolayer."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("twolayer"))


def base_url(name):
    mirror = os.environ.get(ENV_MIRROR)
    if mirror:
        return mirror.rstrip("/") + f"/{name}/"
    return SOURCES[name].base_url


def fetch(name, progress=None):
    """The local folder holding data set NAME, downloading and verifying what is missing.

    ``progress``: show a progress bar per file (default: when stderr is a terminal).
    """
    import pooch

    source = SOURCES[name]
    folder = cache_root() / name
    ensure_writable(folder, name)
    if progress is None:
        progress = sys.stderr.isatty()
    pooch.get_logger().setLevel("WARNING")  # no "Downloading ..." lines: the bar says it
    missing = [f for f in source.files if not (folder / f).exists()]
    for fname, sha256 in source.files.items():
        url = base_url(name) + fname
        bar = RichBar(fname) if progress and fname in missing else False
        try:
            path = pooch.retrieve(
                url,
                known_hash=f"sha256:{sha256}",
                fname=fname,
                path=folder,
                downloader=pooch.HTTPDownloader(progressbar=bar, timeout=60),
            )
        except Exception as e:  # noqa: BLE001 - every failure becomes one line naming the file
            raise InputError(*failure_message(e, url, folder / fname, name, folder)) from None
        finally:
            if isinstance(bar, RichBar):
                bar.close()
        if source.unpack and not (folder / source.unpack).is_dir():
            unpack(path, folder, source.unpack)
    if progress and missing:  # the bars were transient: say once where the files are now
        print(
            f"{name}: {len(missing)} file(s) downloaded and verified into {folder}", file=sys.stderr
        )
    return folder / source.unpack if source.unpack else folder


def unpack(archive, folder, member):
    """Extract a verified archive beside it; the folder appears whole (renamed into place) or not at all."""
    import shutil
    import tempfile

    import pooch

    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder))
    try:
        pooch.Untar(extract_dir=tmp.name)(str(archive), "download", None)
        if not (tmp / member).is_dir():
            raise InputError(f"{archive}: the archive holds no {member} folder")
        os.replace(tmp / member, folder / member)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_writable(folder, name):
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise InputError(
            f"{folder}: the data cache is not writable ({e.strerror}); set {ENV_DIR} to a "
            "writable folder or pass ",
            Setting("data", value=f"{name}:DIR"),
        ) from None


def failure_message(error, url, path, name, folder):
    """One line for a failed download (hash mismatch, truncated transfer, or no connection), as the
    parts of an InputError: the way out names the data setting (the command line's --data)."""
    import requests

    hint = (f"put the files in {folder} or pass ", Setting("data", value=f"{name}:DIR"))
    text = str(error)
    if isinstance(error, ValueError) and "hash" in text.lower():
        return (
            f"{url}: the downloaded file's SHA-256 does not match the recorded one; it was removed "
            "and not used (",
            *hint,
            ")",
        )
    if (
        isinstance(
            error,
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
        )
        or "IncompleteRead" in text
        or "incomplete" in text.lower()
    ):
        return (f"could not download {url}: the transfer was truncated — ", *hint)
    if isinstance(error, requests.exceptions.HTTPError):
        return (f"could not download {url} ({text.split(' for url')[0]}) — ", *hint)
    if isinstance(error, requests.exceptions.RequestException):
        return (
            f"could not download {url} (the server is unreachable or this machine is offline) — ",
            *hint,
        )
    if isinstance(error, OSError):
        return (f"{path}: cannot write the download ({error.strerror or error}) — ", *hint)
    return (f"could not download {url} ({type(error).__name__}: {text}) — ", *hint)


class RichBar:
    """A pooch progress bar (total, update, reset, close) drawn by rich on stderr.

    When another live display is running (the training bar), the download shows no bar.
    """

    def __init__(self, label):
        from rich.console import Console
        from rich.errors import LiveError
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn(f"[bold]downloading {label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("download", total=None)
        try:
            self.progress.start()
            self.live = True
        except LiveError:
            self.live = False
        self.total = None

    def __setattr__(self, key, value):
        super().__setattr__(key, value)
        if key == "total" and value:
            self.progress.update(self.task, total=value)

    def update(self, n):
        self.progress.advance(self.task, n)

    def reset(self):
        self.progress.reset(self.task, total=self.total or None)

    def close(self):
        if self.live:
            self.live = False
            self.progress.stop()
