"""Speed a user feels: whole processes, timed from launch to exit, side by side.

    python benchmarks/bench_startup.py            # 9 rounds
    python benchmarks/bench_startup.py --rounds 3 # quicker, noisier
    python benchmarks/bench_startup.py --blas-threads 1   # every process on one BLAS thread

Pairs compared (each figure: the median wall time over the rounds; in every round the commands
run one after another in a rotating order, so that load from other processes falls on all alike):

  twolayer train (defaults: digits, pictures, progress bar)  vs  a ten-line scikit-learn script that
      loads digits, splits 80/20 stratified, fits MLPClassifier() with defaults and scores it;
  twolayer train --no-plots                                  vs  the same script;
  twolayer predict / evaluate on the saved digits model      vs  python -c "import numpy".

--blas-threads N sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS for every command
alike: on a 2-core machine shared with other jobs, two-thread BLAS in MLPClassifier's fit spins
waiting for a busy core and its time balloons (14-25 s instead of 1.6 s was seen), which would
flatter twolayer; one thread each is the load-robust comparison.

Goals (issues 13 and 22): train ≤ 0.5× the script; predict and evaluate within 0.3 s of importing NumPy.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MLP_SCRIPT = """\
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2, random_state=0, stratify=y)
clf = MLPClassifier(random_state=0).fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.4f}")
"""


def wall(cmd, cwd, env):
    t0 = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{done.stderr}")
    return seconds


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="BLAS threads of every command (default: unset)",
    )
    args = ap.parse_args()
    env = dict(os.environ)
    # Installed packages run from their bytecode caches (pip compiles them); an environment that
    # forbids writing them would time twolayer's compilation (editable install) against
    # scikit-learn's cached import. The set-up run below writes the caches.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.blas_threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.blas_threads)
    twolayer = [str(Path(sys.executable).with_name("twolayer"))]
    if not Path(twolayer[0]).exists():
        twolayer = [sys.executable, "-m", "twolayer.cli"]
    tmp = Path(tempfile.mkdtemp(prefix="twolayer-bench-"))
    (tmp / "mlp_digits.py").write_text(MLP_SCRIPT)
    # a saved model and rows to predict, made once before timing
    subprocess.run(
        twolayer + ["train", "--out", "model", "--quiet"],
        cwd=tmp,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import numpy as np; from twolayer.data import load; "
            "np.save('rows.npy', load('digits').X_test)",
        ],
        cwd=tmp,
        check=True,
    )
    commands = {
        "mlp script": [sys.executable, "mlp_digits.py"],
        "twolayer train": twolayer + ["train", "--out", "run", "--force"],
        "twolayer train --no-plots": twolayer + ["train", "--out", "run", "--force", "--no-plots"],
        "import numpy": [sys.executable, "-c", "import numpy"],
        "twolayer predict": twolayer + ["predict", "model/model.npz", "rows.npy"],
        "twolayer evaluate": twolayer + ["evaluate", "model/model.npz"],
    }
    names = list(commands)
    times = {name: [] for name in names}
    print(f"machine: {machine()}")
    print(f"BLAS threads: {args.blas_threads or 'library default'}")
    print(
        f"{args.rounds} rounds, commands interleaved in a rotating order; medians of whole-process wall time"
    )
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(wall(commands[name], tmp, env))
        print(
            f"  round {r + 1}/{args.rounds}: "
            + ", ".join(f"{n} {times[n][-1]:.2f}" for n in names),
            flush=True,
        )
    med = {name: statistics.median(v) for name, v in times.items()}
    print()
    print(f"{'command':<28}{'median s':>10}{'min s':>8}{'max s':>8}")
    for name in names:
        print(f"{name:<28}{med[name]:>10.3f}{min(times[name]):>8.3f}{max(times[name]):>8.3f}")
    print()
    mlp = med["mlp script"]
    print(
        f"twolayer train / mlp script            {med['twolayer train'] / mlp:.2f}×   (goal ≤ 0.50×)"
    )
    print(f"twolayer train --no-plots / mlp script {med['twolayer train --no-plots'] / mlp:.2f}×")
    base = med["import numpy"]
    print(
        f"twolayer predict - import numpy        {med['twolayer predict'] - base:+.3f} s   (goal ≤ +0.3 s)"
    )
    print(
        f"twolayer evaluate - import numpy       {med['twolayer evaluate'] - base:+.3f} s   (goal ≤ +0.3 s)"
    )
    print(f"machine at the end: {machine()}")


if __name__ == "__main__":
    main()
