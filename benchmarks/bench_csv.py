"""Reading a numeric CSV: twolayer's reader against pandas.read_csv and np.loadtxt, and the memory of
training on it against the same data as npy:.

    python benchmarks/bench_csv.py [--rows 20000] [--features 784] [--rounds 3] [--float]

It writes an MNIST-like CSV (a header, --features pixel columns of integers 0..255, four in five of
them 0, and a label column: about 36 MiB at the defaults) or, with --float, the same shape of normal
floats written with 6 significant digits, plus the same data as npy:DIR (X_train.npy float32,
y_train.npy). Then, side by side:

- read time: each reader in turn, in a fresh process per reading, its imports (pandas too, for
  twolayer's accelerator) made before the clock starts (rounds in a rotating order,
  medians), and the reading process's peak resident memory above its memory before the read
  (VmHWM − VmRSS from /proc/self/status: the reader's own working set);
- training: ``twolayer train --data csv:FILE`` and ``--data npy:DIR`` (--epochs 1 --no-plots), the
  whole process's peak resident memory (ru_maxrss) and wall time.

pandas is optional (``pip install pandas``); without it its row is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

READERS = {
    "twolayer": "from twolayer.data.table import read_csv; X = read_csv(PATH)[0]",
    "pandas": "import pandas as pd; X = pd.read_csv(PATH).to_numpy()",
    "np.loadtxt": "import numpy as np; X = np.loadtxt(PATH, delimiter=',', skiprows=1)",
}

CHILD = """
import json, sys, time
def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
PATH = sys.argv[1]
import numpy as np
{imports}
before = status("VmRSS")
t0 = time.perf_counter()
{code}
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "mib": (status("VmHWM") - before) / 1024, "shape": list(X.shape)}}))
"""


def write_data(folder, rows, features, floats, seed=0):
    rng = np.random.default_rng(seed)
    if floats:
        X = rng.normal(size=(rows, features)).astype(np.float32)
        fmt = "%.6g"
    else:
        X = np.where(rng.random((rows, features)) < 0.8, 0, rng.integers(1, 256, (rows, features)))
        X = X.astype(np.float32)
        fmt = "%d"
    y = rng.integers(0, 10, rows)
    csv = folder / "data.csv"
    header = ",".join([f"pixel{j}" for j in range(features)] + ["label"])
    with open(csv, "w") as f:
        f.write(header + "\n")
        for start in range(0, rows, 5000):
            block = np.column_stack([X[start : start + 5000], y[start : start + 5000]])
            np.savetxt(f, block, fmt=[fmt] * features + ["%d"], delimiter=",")
    npy = folder / "npy"
    npy.mkdir()
    if floats:  # the npy copy holds what the CSV holds: the values as written
        X = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=range(features), dtype=np.float32)
    np.save(npy / "X_train.npy", X)
    np.save(npy / "y_train.npy", y)
    return csv, npy


def read_once(name, path):
    # imports before the clock, for both: twolayer's reader imports pandas (its accelerator) on
    # first use, which pandas' own row would otherwise not be charged for
    imports = {
        "pandas": "import pandas",
        "twolayer": "from twolayer.data import fastcsv, table; fastcsv.pandas_parser()",
    }.get(name, "")
    code = READERS[name]
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(imports=imports, code=code), str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def train_peak(spec, out):
    """Peak RSS (MiB) and wall time of one training process, measured from a fresh parent."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0, "
        "'mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    cmd = [sys.executable, "-m", "twolayer", "train", "--data", spec, "--epochs", "1"]
    cmd += ["--no-plots", "--quiet", "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def have_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--features", type=int, default=784)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--float", action="store_true", help="normal floats instead of pixels")
    a = p.parse_args()
    readers = [r for r in READERS if r != "pandas" or have_pandas()]
    if "pandas" not in readers:
        print("pandas is not installed: its row is skipped (pip install pandas)")
    with tempfile.TemporaryDirectory() as tmp:
        csv, npy = write_data(Path(tmp), a.rows, a.features, a.float)
        size = csv.stat().st_size / 2**20
        print(
            f"{a.rows:,} × {a.features} {'floats' if a.float else 'pixels'} + label: "
            f"{size:.1f} MiB of CSV; load average {os.getloadavg()[0]:.1f}"
        )
        results = {r: [] for r in readers}
        for i in range(a.rounds):
            for r in readers[i % len(readers) :] + readers[: i % len(readers)]:
                results[r].append(read_once(r, csv))
        ref = statistics.median(x["seconds"] for x in results.get("pandas", results["twolayer"]))
        print(f"{'reader':<12} {'read s':>8} {'vs pandas':>10} {'peak MiB':>9}")
        for r in readers:
            s = statistics.median(x["seconds"] for x in results[r])
            m = statistics.median(x["mib"] for x in results[r])
            print(f"{r:<12} {s:>8.2f} {s / ref:>9.2f}× {m:>9.0f}")
        rows = {}
        for i in range(a.rounds):
            for spec in [f"csv:{csv}", f"npy:{npy}"][:: 1 if i % 2 == 0 else -1]:
                out = Path(tmp) / f"run{len(rows.get(spec.split(':')[0], []))}-{spec[:3]}"
                rows.setdefault(spec.split(":")[0], []).append(train_peak(spec, out))
        print(f"{'train on':<12} {'wall s':>8} {'peak MiB':>9} {'vs npy:':>8}")
        npy_peak = statistics.median(x["mib"] for x in rows["npy"])
        for k in ("csv", "npy"):
            s = statistics.median(x["seconds"] for x in rows[k])
            m = statistics.median(x["mib"] for x in rows[k])
            print(f"{k + ':':<12} {s:>8.2f} {m:>9.0f} {m / npy_peak:>7.2f}×")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
