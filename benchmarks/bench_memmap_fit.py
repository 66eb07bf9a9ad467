"""fit on a NumPy memmap: peak anonymous memory of MLPClassifier, twolayer.MLPClassifier and
TwoLayerClassifier, side by side.

    python benchmarks/bench_memmap_fit.py [--rows 150000] [--features 784] [--epochs 1]

Writes X (float32; 150,000 x 784 is 449 MiB) and y to a temp folder, then fits each estimator in
a fresh child process on ``np.load(..., mmap_mode="r")`` while a thread samples RssAnon (the
process's anonymous memory; pages of the map count as RssFile, which the OS can drop) every 5 ms.
Each child reports its baseline (after imports and opening the map), its peak during fit and the
fit's seconds. BLAS runs on one thread.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_anon_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def write_set(folder, rows, features, classes=10, block=10_000):
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(features, classes)).astype(np.float32)
    X = np.lib.format.open_memmap(
        folder / "X.npy", mode="w+", dtype=np.float32, shape=(rows, features)
    )
    y = np.empty(rows, np.int64)
    for start in range(0, rows, block):
        xb = rng.normal(size=(min(block, rows - start), features)).astype(np.float32)
        X[start : start + len(xb)] = xb
        y[start : start + len(xb)] = (xb @ teacher).argmax(axis=1)
    X.flush()
    del X
    np.save(folder / "y.npy", y)


def child(folder, which, epochs):
    import warnings

    from threadpoolctl import threadpool_limits

    if which == "sklearn":
        from sklearn.neural_network import MLPClassifier as est

        params = {"max_iter": epochs}
    elif which == "twolayer.MLPClassifier":
        from twolayer import MLPClassifier as est

        params = {"max_iter": epochs}
    else:
        from twolayer import TwoLayerClassifier as est

        params = {"max_epochs": epochs}
    X = np.load(folder / "X.npy", mmap_mode="r")
    y = np.load(folder / "y.npy")
    base = rss_anon_kb()
    peak = {"kb": base}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["kb"] = max(peak["kb"], rss_anon_kb())
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = est(random_state=0, **params).fit(X, y)
    seconds = time.perf_counter() - t0
    done.set()
    t.join()
    peak["kb"] = max(peak["kb"], rss_anon_kb())
    print(
        json.dumps(
            {
                "base_mib": base / 1024,
                "peak_mib": peak["kb"] / 1024,
                "seconds": seconds,
                "train_acc_first_10k": float(clf.score(X[:10_000], y[:10_000])),
            }
        )
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=150_000)
    ap.add_argument("--features", type=int, default=784)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "WHICH"))
    args = ap.parse_args()
    if args.child:
        return child(Path(args.child[0]), args.child[1], args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_set(folder, args.rows, args.features)
        size = (folder / "X.npy").stat().st_size / 2**20
        print(f"X: {args.rows:,} x {args.features} float32 memmap, {size:.0f} MiB")
        results = {}
        for which in ("sklearn", "twolayer.MLPClassifier", "TwoLayerClassifier"):
            out = subprocess.run(
                [sys.executable, __file__, "--epochs", str(args.epochs), "--child", tmp, which],
                capture_output=True,
                text=True,
                check=True,
            )
            r = results[which] = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{which:24s} peak RssAnon {r['peak_mib']:7.1f} MiB (baseline {r['base_mib']:6.1f}; "
                f"fit adds {r['peak_mib'] - r['base_mib']:6.1f})  fit {r['seconds']:6.1f} s  "
                f"train acc (first 10k) {r['train_acc_first_10k']:.3f}",
                flush=True,
            )
        ref = results["sklearn"]["peak_mib"]
        for which in ("twolayer.MLPClassifier", "TwoLayerClassifier"):
            print(f"{which}: peak {results[which]['peak_mib'] / ref:.2f}x MLPClassifier's")


if __name__ == "__main__":
    main()
