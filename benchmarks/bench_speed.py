"""Speed of twolayer against the BLAS limit and a plain PyTorch loop, side by side in one process.

    python benchmarks/bench_speed.py            # full run (a few minutes)
    python benchmarks/bench_speed.py --quick    # fewer repetitions (about a minute)

Measures, in float32 with the same number of BLAS threads for NumPy (threadpoolctl) and PyTorch:
  1. CIFAR shape (D=3072, H=100, C=10, N=200): time of the five GEMMs alone vs ``net.loss(X, y, reg)``;
  2. ``net.train(...)`` samples/s vs a plain PyTorch loop doing the same work, at the CIFAR shape
     and at the digits shape (D=64);
  3. start-up time of ``twolayer --help``.
Timings are medians of interleaved repetitions (NumPy and PyTorch alternate), so that load from
other processes hits both sides alike. PyTorch columns are skipped, with a note, when torch is absent.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from twolayer import TwoLayerNet

CIFAR = dict(D=3072, H=100, C=10, N_train=5000, name="CIFAR shape")
DIGITS = dict(D=64, H=100, C=10, N_train=1797, name="digits")
BATCH = 200
REG = 5e-4
LR = 1e-3
LR_DECAY = 0.95

TARGETS = {"gemm_ratio": 0.9, "train_cifar": 0.9, "train_digits": 3.0, "help_s": 0.3}


def _time_once(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _interleave(fns, reps):
    """Run each of fns once per round, for reps rounds; return the median time of each."""
    times = [[] for _ in fns]
    for _ in range(reps):
        for i, fn in enumerate(fns):
            times[i].append(_time_once(fn))
    return [statistics.median(t) for t in times]


# -- 1. the loss against its five GEMMs ---------------------------------------------------
def bench_loss(reps, reg=REG, dtype=np.float32):
    D, H, C, N = CIFAR["D"], CIFAR["H"], CIFAR["C"], BATCH
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = rng.integers(0, C, N)
    net = TwoLayerNet(D, H, C, std=1e-2, dtype=dtype, seed=0)
    W1, W2 = net.params["W1"], net.params["W2"]
    # The GEMMs' operands, taken from a real forward/backward pass, and their output buffers.
    h = np.maximum(X @ W1, 0)
    dscores = h @ W2
    dh = dscores @ W2.T
    out_a, out_s = np.empty_like(h), np.empty_like(dscores)
    out_dW2, out_dh, out_dW1 = np.empty_like(W2), np.empty_like(dh), np.empty_like(W1)

    def gemms():
        np.matmul(X, W1, out=out_a)
        np.matmul(h, W2, out=out_s)
        np.matmul(h.T, dscores, out=out_dW2)
        np.matmul(dscores, W2.T, out=out_dh)
        np.matmul(X.T, dh, out=out_dW1)

    def loss():
        net.loss(X, y, reg)

    for fn in (gemms, loss):  # warm up
        for _ in range(10):
            fn()
    t_gemm, t_loss = _interleave([gemms, loss], reps)
    return t_gemm, t_loss


# -- 2. training throughput ---------------------------------------------------------------
def make_data(shape, dtype=np.float32):
    if shape is DIGITS:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16.0 - 0.5).astype(dtype)
        return X, y.astype(np.int64), X[:500], y[:500].astype(np.int64)
    rng = np.random.default_rng(0)
    n, d, c = shape["N_train"], shape["D"], shape["C"]
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    return X, y, X[:1000], y[:1000]


def numpy_train(shape, data, num_iters):
    X, y, X_val, y_val = data
    net = TwoLayerNet(shape["D"], shape["H"], shape["C"], std=1e-2, dtype=np.float32, seed=0)
    np.random.seed(0)

    def run():
        net.train(
            X,
            y,
            X_val,
            y_val,
            learning_rate=LR,
            learning_rate_decay=LR_DECAY,
            reg=REG,
            num_iters=num_iters,
            batch_size=BATCH,
        )

    return run


def torch_train(shape, data, num_iters, threads):
    """The same work in a plain PyTorch loop: random batch gather, Linear-ReLU-Linear,
    cross_entropy, SGD with weight decay on the weights (2·reg: d(reg·ΣW²)/dW = 2·reg·W),
    loss and batch accuracy recorded per step, lr decay and validation accuracy per epoch."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, y, X_val, y_val = (torch.from_numpy(np.ascontiguousarray(a)) for a in data)
    y, y_val = y.long(), y_val.long()
    lin1, lin2 = torch.nn.Linear(shape["D"], shape["H"]), torch.nn.Linear(shape["H"], shape["C"])
    model = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2)
    opt = torch.optim.SGD(
        [
            {"params": [lin1.weight, lin2.weight], "weight_decay": 2 * REG},
            {"params": [lin1.bias, lin2.bias], "weight_decay": 0.0},
        ],
        lr=LR,
    )
    n = X.shape[0]
    steps_per_epoch = max(n // BATCH, 1)

    def run():
        losses, train_acc, val_acc, correct, seen = [], [], [], 0, 0
        for group in opt.param_groups:
            group["lr"] = LR
        for it in range(num_iters):
            idx = torch.randint(0, n, (BATCH,))
            xb, yb = X[idx], y[idx]
            scores = model(xb)
            loss = F.cross_entropy(scores, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            correct += int((scores.detach().argmax(1) == yb).sum())
            seen += BATCH
            if (it + 1) % steps_per_epoch == 0:
                train_acc.append(correct / seen)
                correct = seen = 0
                with torch.no_grad():
                    val_acc.append(float((model(X_val).argmax(1) == y_val).float().mean()))
                for group in opt.param_groups:
                    group["lr"] *= LR_DECAY
        return losses

    return run


def bench_train(shape, num_iters, reps, threads, have_torch):
    data = make_data(shape)
    fns = [numpy_train(shape, data, num_iters)]
    if have_torch:
        fns.append(torch_train(shape, data, num_iters, threads))
    for fn in fns:  # warm up
        fn()
    times = _interleave(fns, reps)
    return [num_iters * BATCH / t for t in times]


# -- 3. start-up ----------------------------------------------------------------------------
def bench_help(reps):
    exe = shutil.which("twolayer")
    cmd = (
        [exe, "--help"]
        if exe
        else [
            sys.executable,
            "-c",
            "import sys; from twolayer.cli import main; sys.argv[1:] = ['--help']; main()",
        ]
    )
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# -- report ---------------------------------------------------------------------------------
def machine(threads, have_torch):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = next(
        (
            f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')})"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ),
        "unknown BLAS",
    )
    lines = [
        f"machine: {cpu}, {os.cpu_count()} logical cores; BLAS threads: {threads}",
        f"python {platform.python_version()}, numpy {np.__version__} with {blas}",
    ]
    if have_torch:
        import torch

        lines.append(
            f"torch {torch.__version__} (MKL: {torch.backends.mkl.is_available()}), "
            f"set_num_threads({threads})"
        )
    return lines


def table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
        if k == 0:
            out.append("| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument(
        "--threads", type=int, default=2, help="BLAS threads for NumPy and PyTorch (default 2)"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401

        have_torch = not args.no_torch
    except ImportError:
        have_torch = False
    quick = args.quick
    for line in machine(args.threads, have_torch):
        print(line)
    if not have_torch:
        print(
            "note: PyTorch columns skipped (torch is not installed; `pip install torch==2.13.0`)"
            if not args.no_torch
            else "note: PyTorch columns skipped (--no-torch)"
        )
    print()

    rows = [("measure", "twolayer", "reference", "ratio", "target")]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for reg, note in ((REG, ""), (0.0, ", reg=0 (diagnostic: without the L2 term)")):
            t_gemm, t_loss = bench_loss(reps=200 if quick else 1000, reg=reg)
            rows.append(
                (
                    f"net.loss vs its 5 GEMMs, CIFAR shape float32 (ms){note}",
                    f"{1e3 * t_loss:.3f}",
                    f"{1e3 * t_gemm:.3f} (GEMMs)",
                    f"{t_gemm / t_loss:.2f}",
                    f">= {TARGETS['gemm_ratio']}" if not note else "-",
                )
            )
        for shape, iters, reps, key in (
            (CIFAR, 100, 5 if quick else 15, "train_cifar"),
            (DIGITS, 500, 5 if quick else 15, "train_digits"),
        ):
            speeds = bench_train(shape, iters, reps, args.threads, have_torch)
            label = f"net.train samples/s, {shape['name']} (D={shape['D']}, batch {BATCH})"
            if have_torch:
                rows.append(
                    (
                        label,
                        f"{speeds[0]:,.0f}",
                        f"{speeds[1]:,.0f} (PyTorch)",
                        f"{speeds[0] / speeds[1]:.2f}",
                        f">= {TARGETS[key]}",
                    )
                )
            else:
                rows.append(
                    (label, f"{speeds[0]:,.0f}", "skipped (no torch)", "-", f">= {TARGETS[key]}")
                )
    t_help = bench_help(reps=5 if quick else 15)
    rows.append(
        ("twolayer --help start-up (s)", f"{t_help:.3f}", "-", "-", f"<= {TARGETS['help_s']}")
    )
    print(table(rows))
    print(
        "\nratio: GEMM time / loss time, or twolayer samples/s / PyTorch samples/s (higher is better)"
    )


if __name__ == "__main__":
    main()
