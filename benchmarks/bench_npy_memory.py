"""npy:DIR streams from disk: when the training set grows 10×, anonymous memory stays flat and the
time per epoch grows about linearly.

    python benchmarks/bench_npy_memory.py [--rows 20000] [--features 784] [--epochs 2]

For N and 10·N rows it writes X_train.npy (float32) and y_train.npy to a temp folder, then trains in
a fresh child process (load → validation carve → fit preprocessing → epochs → accuracy, the steps
of ``twolayer train`` without its plots) while a thread samples RssAnon — the process's
anonymous, non-file-backed memory — from /proc/self/status every 5 ms. BLAS runs on one thread
so that CPU seconds per epoch are comparable on a busy machine. Pages of the memory map
count as RssFile: the OS can drop them, so a set larger than RAM still trains.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def write_set(folder, rows, features, classes=10, seed=0, block=10_000):
    """A learnable set: labels from a fixed random linear teacher, written block by block."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(features, classes)).astype(np.float32)
    X = np.lib.format.open_memmap(
        folder / "X_train.npy", mode="w+", dtype=np.float32, shape=(rows, features)
    )
    y = np.empty(rows, np.int64)
    for start in range(0, rows, block):
        xb = rng.normal(size=(min(block, rows - start), features)).astype(np.float32)
        X[start : start + len(xb)] = xb
        y[start : start + len(xb)] = (xb @ teacher).argmax(axis=1)
    X.flush()
    del X
    np.save(folder / "y_train.npy", y)


def child(folder, epochs, hidden, batch_size):
    from twolayer.data import load
    from twolayer.runs import RunSettings, build
    from twolayer.train import TrainConfig, Trainer, accuracy

    peak = {"anon": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["anon"] = max(peak["anon"], rss_kb("RssAnon"))
            time.sleep(0.005)

    base = rss_kb("RssAnon")
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    settings = RunSettings(
        data=f"npy:{folder}",
        hidden_size=hidden,
        dtype="float32",
        train=TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=1e-3),
    )
    t0 = time.perf_counter()
    ds = load(settings.data)
    net = build(settings, ds)
    load_seconds = time.perf_counter() - t0
    assert isinstance(ds.X_train, np.memmap) and isinstance(ds.X_val, np.memmap)

    def transform(xb):
        return net.preprocessor.transform(xb, net.dtype)

    trainer = Trainer(net, settings.train)
    cpu0 = time.process_time()
    trainer.fit(ds.X_train, ds.y_train, ds.X_val, ds.y_val, transform=transform)
    cpu_per_epoch = (time.process_time() - cpu0) / epochs
    val = accuracy(net, ds.X_val, ds.y_val, transform)
    done.set()
    thread.join()
    print(
        json.dumps(
            {
                "rows": len(ds.y_train) + len(ds.y_val),
                "base_anon_mb": base / 1024,
                "peak_anon_mb": peak["anon"] / 1024,
                "file_mb_end": rss_kb("RssFile") / 1024,
                "load_seconds": load_seconds,
                "epoch_seconds": float(np.median(trainer.history["seconds"])),
                "epoch_cpu_seconds": cpu_per_epoch,
                "val_accuracy": val,
            }
        )
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--features", type=int, default=784)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.child, a.epochs, a.hidden, a.batch_size)
    results = []
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        for rows in (a.rows, 10 * a.rows):
            folder = Path(tmp) / str(rows)
            folder.mkdir()
            write_set(folder, rows, a.features)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(folder),
                    "--epochs",
                    str(a.epochs),
                    "--hidden",
                    str(a.hidden),
                    "--batch-size",
                    str(a.batch_size),
                ],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(
                f"{rows:>9,} rows ({rows * a.features * 4 / 2**20:,.0f} MB on disk): "
                f"peak RssAnon {results[-1]['peak_anon_mb']:.0f} MB (at start {results[-1]['base_anon_mb']:.0f}), "
                f"RssFile at end {results[-1]['file_mb_end']:.0f} MB, load {results[-1]['load_seconds']:.2f} s, "
                f"epoch {results[-1]['epoch_seconds']:.2f} s wall, {results[-1]['epoch_cpu_seconds']:.2f} s CPU, val acc {results[-1]['val_accuracy']:.3f}"
            )
    small, big = results
    print(
        f"10x rows: peak anonymous memory ×{big['peak_anon_mb'] / small['peak_anon_mb']:.2f}, "
        f"time per epoch ×{big['epoch_seconds'] / small['epoch_seconds']:.1f} wall, "
        f"×{big['epoch_cpu_seconds'] / small['epoch_cpu_seconds']:.1f} CPU"
    )


if __name__ == "__main__":
    main()
