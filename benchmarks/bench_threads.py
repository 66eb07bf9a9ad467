"""BLAS threads on a quiet and on a busy machine: whole processes, 1 thread, 2 threads and auto.

    python benchmarks/bench_threads.py                  # quiet, then two busy loops; 3 rounds (~10 min)
    python benchmarks/bench_threads.py --rounds 5       # steadier medians
    python benchmarks/bench_threads.py --quick          # one round of shorter runs: a smoke test
    python benchmarks/bench_threads.py --only cli       # only `twolayer train` (also: estimator, classic, torch)
    python benchmarks/bench_threads.py --conditions busy
    python benchmarks/bench_threads.py --mnist DIR      # the MNIST sample (default /work/shared/data/mnist10k)

Every figure is the wall time of a fresh process, from launch to exit (imports, data, training,
scoring), the median over the rounds; within a round the thread settings run in a rotating order.
Workloads, at three shapes (digits 1797×64; the MNIST sample, 784 features; CIFAR's 3072
features, random data of that shape):
  cli        `twolayer train --no-plots` with its defaults (hidden 512, batch 64, AdamW), few epochs
  estimator  `TwoLayerClassifier(max_epochs=E).fit(X, y)` (hidden 100, batch 200)
  classic    CS231n's `TwoLayerNet(D, 100, 10).train(..., batch_size=200)` (SGD)
  torch      the CLI's network and optimizer as a plain PyTorch loop, one epoch, with PyTorch's
             own thread count and with one thread (only if `import torch` works:
             pip install torch==2.13.0)
twolayer runs with --threads / threads= 1 and 2, and without them (auto: the policy in
src/twolayer/threads.py, whose choice --debug / verbose prints and the table shows).

Conditions: "quiet" (whatever else runs on the machine: the load average is printed with every
figure), then "busy": this script starts two CPU-bound processes (`while True: pass`) and stops
them at the end. Goals (issue 22): auto within 10% of the best fixed thread count when quiet, and
within 20% of the best under the two busy loops.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

AUTO = 0  # the thread setting "auto": no --threads, threads=None
THREADS = (1, 2, AUTO)
TIMEOUT = 120.0  # seconds: a run slower than this is reported as such

ESTIMATOR = """\
import sys, time, numpy as np
from twolayer.estimator import TwoLayerClassifier
d = np.load(sys.argv[1])
clf = TwoLayerClassifier(max_epochs=int(sys.argv[3]), threads=int(sys.argv[2]) or None,
                         random_state=0, verbose=True, n_iter_no_change=1000)
clf.fit(d["X_train"], d["y_train"])
"""

CLASSIC = """\
import sys, numpy as np
from twolayer import TwoLayerNet
d = np.load(sys.argv[1])
X, y = d["X_train"].astype(np.float32), d["y_train"]
X = (X - X.mean(0)) / (X.std(0) + 1e-8)
np.random.seed(0)
net = TwoLayerNet(X.shape[1], 100, 10, std=1e-4, dtype="float32", seed=0)
net.train(X, y, X[:500], y[:500], learning_rate=1e-3, reg=0.25, num_iters=int(sys.argv[3]),
          batch_size=200, threads=int(sys.argv[2]) or None, verbose=True)
"""

TORCH = """\
import sys, numpy as np, torch
if sys.argv[2] != "0":
    torch.set_num_threads(int(sys.argv[2]))
d = np.load(sys.argv[1])
X = torch.from_numpy(d["X_train"].astype(np.float32))
X = (X - X.mean(0)) / (X.std(0) + 1e-8)
y = torch.from_numpy(d["y_train"].astype(np.int64))
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
for epoch in range(int(sys.argv[3])):
    for idx in torch.randperm(len(y)).split(64):
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
with torch.no_grad():
    acc = (model(X).argmax(1) == y).float().mean()
"""

# shape -> (CLI data spec, npz for the scripts, CLI epochs, estimator epochs, classic iterations)
SHAPES = {
    "digits": ("digits", "digits.npz", 10, 20, 300),
    "mnist": ("mnist:{mnist}", "mnist.npz", 2, 2, 300),
    "cifar": ("npz:{cifar}", "cifar.npz", 2, 2, 150),
}
QUICK = {  # --quick: about a third of the work
    "digits": ("digits", "digits.npz", 3, 5, 100),
    "mnist": ("mnist:{mnist}", "mnist.npz", 1, 1, 100),
    "cifar": ("npz:{cifar}", "cifar.npz", 1, 1, 50),
}


def prepare(tmp, mnist_dir):
    """The three data sets as .npz files (X_train, y_train) for the scripts and the CLI."""
    from twolayer import data

    digits = data.load("digits")
    np.savez(tmp / "digits.npz", X_train=digits.X_train, y_train=digits.y_train)
    mnist = data.load(f"mnist:{mnist_dir}")
    np.savez(tmp / "mnist.npz", X_train=mnist.X_train, y_train=mnist.y_train)
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.integers(0, 10, n)
    X = (rng.standard_normal((n, 3072)) + y[:, None] * 0.05).astype(np.float32)
    np.savez(tmp / "cifar.npz", X_train=X, y_train=y)
    return {"mnist": mnist_dir, "cifar": tmp / "cifar.npz"}


def command(kind, shape, threads, tmp, paths, shapes=SHAPES):
    """The argv of one run; PyTorch's AUTO is its own default thread count."""
    spec, npz, epochs, est_epochs, iters = shapes[shape]
    py = [sys.executable]
    if kind == "cli":
        asked = [] if threads == AUTO else ["--threads", str(threads)]
        return [
            *py,
            "-m",
            "twolayer",
            "--debug",
            "train",
            "--data",
            spec.format(**paths),
            "--epochs",
            str(epochs),
            "-q",
            "--no-plots",
            "--force",
            "--out",
            str(tmp / "run"),
            *asked,
        ]
    script, n = {
        "estimator": (ESTIMATOR, est_epochs),
        "classic": (CLASSIC, iters),
        "torch": (TORCH, 1),
    }[kind]
    return [*py, "-c", script, str(tmp / npz), str(threads), str(n)]


def run(argv, env):
    """(wall seconds or None past TIMEOUT, the load average at the start, the auto choice said)."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return None, load, ""
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{argv[:6]} failed:\n{done.stderr[-2000:]}")
    said = re.findall(r"BLAS threads: (\d+)", done.stdout + done.stderr)
    return seconds, load, "→".join(dict.fromkeys(said))


@contextlib.contextmanager
def busy_loops(n=2):
    """n CPU-bound processes beside the measured ones, stopped on the way out."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(1.0)
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def measure(workloads, rounds, tmp, paths, env, shapes):
    """{(kind, shape): {threads: [(seconds, load, said)]}} over the rounds, settings rotating."""
    results = {w: {t: [] for t in THREADS} for w in workloads}
    for r in range(rounds):
        for kind, shape in workloads:
            settings = (1, AUTO) if kind == "torch" else THREADS  # torch: one thread and its own
            order = settings[r % len(settings) :] + settings[: r % len(settings)]
            for threads in order:
                argv = command(kind, shape, threads, tmp, paths, shapes)
                results[kind, shape][threads].append(run(argv, env))
    return results


def fmt(s):
    return f"> {TIMEOUT:.0f} s" if s is None else f"{s:.2f} s"


def median(runs):
    times = [s for s, _, _ in runs]
    return None if any(s is None for s in times) else statistics.median(times)


def report(condition, results, goal, rounds):
    print(
        f"\n## {condition}: whole-process wall time, median of {rounds} "
        "(load: the 1-minute load average at the runs' starts, median)\n"
    )
    print(
        "| workload | shape | 1 thread | 2 threads | auto (chose) | auto / best fixed | "
        f"goal ≤ {goal:.2f} | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    verdicts = []
    for (kind, shape), by_threads in results.items():
        t = {k: median(v) if v else None for k, v in by_threads.items()}
        loads = [load for v in by_threads.values() for _, load, _ in v]
        said = ",".join(sorted({s for _, _, s in by_threads[AUTO] if s})) or "-"
        if kind == "torch":
            cells = [fmt(t[1]), "-", f"{fmt(t[AUTO])} (torch's own)", "-", "-"]
        else:
            fixed = [x for x in (t[1], t[2]) if x is not None]
            ratio = t[AUTO] / min(fixed) if t[AUTO] is not None and fixed else None
            ok = ratio is not None and ratio <= goal
            verdicts.append(ok)
            cells = [
                fmt(t[1]),
                fmt(t[2]),
                f"{fmt(t[AUTO])} ({said})",
                "-" if ratio is None else f"{ratio:.2f}",
                "yes" if ok else "**no**",
            ]
        print(f"| {kind} | {shape} | " + " | ".join(cells) + f" | {statistics.median(loads):.1f} |")
    return verdicts


def machine():
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {cores} usable cores, Python {platform.python_version()}, NumPy {np.__version__}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each setting (median)")
    ap.add_argument("--quick", action="store_true", help="one round of shorter runs")
    ap.add_argument(
        "--mnist", default="/work/shared/data/mnist10k", help="the MNIST sample's folder"
    )
    ap.add_argument(
        "--only", nargs="*", choices=("cli", "estimator", "classic", "torch"), help="workloads"
    )
    ap.add_argument("--conditions", nargs="*", choices=("quiet", "busy"), default=["quiet", "busy"])
    args = ap.parse_args()
    rounds, shapes = (1, QUICK) if args.quick else (args.rounds, SHAPES)
    kinds = args.only or ["cli", "estimator", "classic", "torch"]
    if "torch" in kinds:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: its rows are skipped (pip install torch==2.13.0)")
            kinds.remove("torch")
    workloads = [(k, s) for k in kinds for s in SHAPES if not (k == "torch" and s == "digits")]
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)  # BLAS's own default: the thread settings under test decide
    print(f"# bench_threads: {machine()}")
    print(f"started {time.strftime('%Y-%m-%d %H:%M:%S')}, load average {os.getloadavg()}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        paths = prepare(tmp, args.mnist)
        verdicts = []
        if "quiet" in args.conditions:
            results = measure(workloads, rounds, tmp, paths, env, shapes)
            verdicts += report("quiet", results, 1.10, rounds)
        if "busy" in args.conditions:
            with busy_loops():
                results = measure(workloads, rounds, tmp, paths, env, shapes)
            verdicts += report("two busy loops", results, 1.20, rounds)
    print(
        f"\n{sum(verdicts)} of {len(verdicts)} rows meet their goal; "
        f"{time.perf_counter() - t0:.0f} s in all, load average now {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
