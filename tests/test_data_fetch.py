"""Downloads of MNIST, Fashion-MNIST and CIFAR-10, served by an HTTP server on the loopback address.

No test reaches the internet: TWOLAYER_DATA_MIRROR points at the local server, TWOLAYER_DATA_DIR at a
temporary cache, and the recorded SHA-256 of each canonical file is replaced by the generated file's.
"""

import hashlib
import http.server
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import write_cifar, write_mnist

import twolayer.data.fetch as fetch_mod
from twolayer.cli import main
from twolayer.data import load
from twolayer.data.fetch import Source
from twolayer.errors import InputError


class Server:
    """Serves files from ``root``; records every path asked for; can cut a file short."""

    def __init__(self, root):
        self.root = Path(root)
        self.requests = []
        self.truncate = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                path = server.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if path.name in server.truncate:  # promise the whole file, send half, hang up
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A loopback mirror holding generated mnist, fashion-mnist and cifar10 files, with their hashes recorded."""
    served = tmp_path / "served"
    arrays = {
        "mnist": write_mnist(served / "mnist", seed=1),
        "fashion-mnist": write_mnist(served / "fashion-mnist", seed=2),
    }
    batches = write_cifar(tmp_path / "cifar-src" / "cifar-10-batches-py")
    (served / "cifar10").mkdir()
    with tarfile.open(served / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "cifar-src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    for name, source in fetch_mod.SOURCES.items():
        files = {f: sha256(served / name / f) for f in source.files}
        monkeypatch.setitem(fetch_mod.SOURCES, name, Source(source.base_url, files, source.unpack))
    server = Server(served)
    monkeypatch.setenv("TWOLAYER_DATA_MIRROR", server.url)
    monkeypatch.setenv("TWOLAYER_DATA_DIR", str(tmp_path / "cache"))
    server.cache = tmp_path / "cache"
    server.arrays, server.batches = arrays, batches
    yield server
    server.close()


def test_mnist_is_downloaded_verified_and_reused(mirror):
    ds = load("mnist", val_fraction=0.25)
    assert sorted(mirror.requests) == sorted(
        f"/mnist/{f}" for f in fetch_mod.SOURCES["mnist"].files
    )
    test_images = mirror.arrays["mnist"]["t10k-images-idx3-ubyte"]
    np.testing.assert_array_equal(ds.X_test, test_images.reshape(len(test_images), -1))
    assert ds.class_names == [str(i) for i in range(10)]
    for f, digest in fetch_mod.SOURCES["mnist"].files.items():
        assert sha256(mirror.cache / "mnist" / f) == digest
    again = load("mnist", val_fraction=0.25)
    assert len(mirror.requests) == 4  # the cache is reused: nothing fetched twice
    np.testing.assert_array_equal(again.X_train, ds.X_train)


def test_fashion_mnist_has_its_class_names(mirror):
    ds = load("fashion-mnist")
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert all(r.startswith("/fashion-mnist/") for r in mirror.requests)
    train = mirror.arrays["fashion-mnist"]["train-images-idx3-ubyte"]
    assert len(ds.y_train) + len(ds.y_val) == len(train)


def test_cifar10_archive_is_downloaded_and_unpacked_once(mirror):
    ds = load("cifar10")
    images, labels = mirror.batches["test_batch"]
    np.testing.assert_array_equal(ds.X_test, images.reshape(len(images), -1))
    np.testing.assert_array_equal(ds.y_test, labels)
    assert mirror.requests == ["/cifar10/cifar-10-python.tar.gz"]
    load("cifar10")
    assert len(mirror.requests) == 1
    assert not list((mirror.cache / "cifar10").glob(".unpack-*"))  # the temporary folder is gone


def test_a_file_with_another_hash_is_removed_and_never_used(mirror, monkeypatch):
    source = fetch_mod.SOURCES["mnist"]
    files = dict(source.files, **{"t10k-labels-idx1-ubyte.gz": "0" * 64})
    monkeypatch.setitem(fetch_mod.SOURCES, "mnist", Source(source.base_url, files))
    with pytest.raises(
        InputError,
        match=r"t10k-labels-idx1-ubyte.gz: the downloaded file's SHA-256 does not "
        r"match the recorded one; it was removed and not used",
    ):
        load("mnist")
    assert not (mirror.cache / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert [p.name for p in (mirror.cache / "mnist").iterdir() if p.name.startswith("tmp")] == []


def test_a_damaged_cached_file_is_downloaded_again(mirror):
    load("mnist")
    cached = mirror.cache / "mnist" / "train-labels-idx1-ubyte.gz"
    good = cached.read_bytes()
    cached.write_bytes(good[:10])
    load("mnist")
    assert mirror.requests.count("/mnist/train-labels-idx1-ubyte.gz") == 2
    assert cached.read_bytes() == good


def test_a_truncated_transfer_is_one_line_and_leaves_nothing(mirror):
    mirror.truncate.add("train-images-idx3-ubyte.gz")
    with pytest.raises(InputError) as e:
        load("mnist")
    assert "truncated" in str(e.value) and "train-images-idx3-ubyte.gz" in str(e.value)
    assert not (mirror.cache / "mnist" / "train-images-idx3-ubyte.gz").exists()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_names_the_folder_and_the_way_out(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TWOLAYER_DATA_MIRROR", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("TWOLAYER_DATA_DIR", str(tmp_path / "cache"))
    assert main(["train", "--data", "mnist", "--quiet", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("twolayer: error: could not download http://127.0.0.1:")
    assert f"put the files in {tmp_path / 'cache' / 'mnist'} or pass --data mnist:DIR" in err


def test_an_unwritable_cache_is_refused(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(
        "TWOLAYER_DATA_DIR", str(blocker / "cache")
    )  # a folder below a file cannot be made
    with pytest.raises(InputError, match="the data cache is not writable .* set TWOLAYER_DATA_DIR"):
        load("cifar10")


def test_the_default_cache_is_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("TWOLAYER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fetch_mod.cache_root() == tmp_path / "xdg" / "twolayer"


def test_recorded_hashes_are_the_canonical_ones():
    # published SHA-256 of the canonical files (TensorFlow Datasets, torchvision, Keras record the same)
    assert (
        fetch_mod.SOURCES["mnist"]
        .files["train-images-idx3-ubyte.gz"]
        .startswith("440fcabf73cc546f")
    )
    assert (
        fetch_mod.SOURCES["fashion-mnist"]
        .files["t10k-labels-idx1-ubyte.gz"]
        .startswith("67da17c76eaffca5")
    )
    assert (
        fetch_mod.SOURCES["cifar10"].files["cifar-10-python.tar.gz"].startswith("6d958be074577803")
    )


def test_the_progress_bar_follows_the_transfer(mirror, monkeypatch, capsys):
    seen = []

    class Recorder(fetch_mod.RichBar):
        def close(self):
            seen.append((self.total, self.progress.tasks[0].completed))
            super().close()

    monkeypatch.setattr(fetch_mod, "RichBar", Recorder)
    fetch_mod.fetch("mnist", progress=True)
    sizes = sorted(
        (mirror.root / "mnist" / f).stat().st_size for f in fetch_mod.SOURCES["mnist"].files
    )
    assert {(t, c) for t, c in seen if t} == {(s, s) for s in sizes}
    assert capsys.readouterr().err.endswith(
        f"mnist: 4 file(s) downloaded and verified into {mirror.cache / 'mnist'}\n"
    )
    before = len(seen)
    fetch_mod.fetch("mnist", progress=True)  # all cached: no bar, no note
    assert capsys.readouterr().err == "" and len(seen) == before


def test_cli_trains_on_a_downloaded_set(mirror, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--data",
                "fashion-mnist",
                "--epochs",
                "1",
                "--hidden",
                "16",
                "--quiet",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    assert main(["evaluate", str(tmp_path / "run" / "model.npz"), "--json"]) == 0
    assert '"data": "fashion-mnist"' in capsys.readouterr().out
