"""Breadth: the defaults on classification sets the project never tuned on, against the usual picks.

    nice -n 10 python benchmarks/bench_breadth.py            # 5-fold CV x 3 seeds, the held-out sets
    nice -n 10 python benchmarks/bench_breadth.py --quick    # 3 folds x 1 seed, the smaller sets
    nice -n 10 python benchmarks/bench_breadth.py --tune     # the tune-only sets (rules chosen there)
    python benchmarks/bench_breadth.py --sets circles_2d,iris --json out.json

The sets were chosen before any result was seen and are fixed (their seeds included): scikit-learn's
generators with varied shape, noise and imbalance (smooth round boundaries in 2-10 dimensions,
10:1 to 30:1 imbalance, 26 classes, 400 features, one-hot categorical columns, 200-10,000 rows) and
iris, and MNIST-1D (generated locally by the mnist1d package, its default parameters, three data
seeds, its own 4,000 / 1,000 split). None of them is in benchmarks/bench_defaults.py, where the
defaults were chosen (digits, MNIST, wine, breast_cancer: those are reported apart, as "seen").

The TUNE sets (``--tune``) are a separate part, made with other generator seeds and shapes: the
rules in src/twolayer/defaults.py were chosen on them; the held-out sets only report.

Methods, all on the same folds (StratifiedKFold, shuffled by the seed) and seeds:
  est   TwoLayerClassifier() — every parameter at its default ('auto')
  cli   `twolayer train --data npz:FOLD.npz` with its defaults (it carves its own validation
        split from the training fold), then its model.npz predicts the test fold
  mlp   StandardScaler + MLPClassifier() defaults
  lr    StandardScaler + LogisticRegression(max_iter=2000)
  hgb   HistGradientBoostingClassifier()
  torch a plain PyTorch two-layer net, when torch is importable (never a dependency): standardised
        inputs, 100 ReLU units, Adam lr 1e-3, batch min(200, n), 200 epochs — MLPClassifier's
        defaults without its stopping rule, one thread
MNIST-1D needs `pip install mnist1d` (the `bench` extra); without it the set is skipped with a note.
Accuracy and balanced accuracy (mean ± std over folds x seeds) and fit seconds per set; the summary
counts the held-out sets where est / cli are within 1 point of MLPClassifier or better.
BLAS runs on one thread for every method (the machine is shared; the comparison stays fair).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_MNIST1D = importlib.util.find_spec("mnist1d") is not None
# a variant of ours, for choosing rules on the tune-only sets (--est-params, --cli-args)
VARIANT: dict = {"est": {}, "cli": []}
METHODS = ("est", "cli", "mlp", "lr", "hgb") + (("torch",) if HAS_TORCH else ())


# -- the sets (fixed before any result was seen) ---------------------------------------------------
def _flip(y, share, rng, n_classes):
    y = y.copy()
    rows = rng.random(len(y)) < share
    y[rows] = rng.integers(0, n_classes, rows.sum())
    return y


def _with_noise_columns(X, k, rng):
    return np.hstack([X, rng.normal(size=(len(X), k))])


def _categorical(n, seed):
    """6 categorical columns (3-8 levels, one-hot encoded) and 4 numeric ones; the class is a noisy
    function of per-level effects, one interaction and the numbers (3 classes)."""
    rng = np.random.default_rng(seed)
    levels = [3, 4, 5, 6, 8, 8]
    cats = [rng.integers(0, k, n) for k in levels]
    nums = rng.normal(size=(n, 4))
    effects = [rng.normal(size=(k, 3)) for k in levels]
    logits = sum(e[c] for e, c in zip(effects, cats))
    logits += 0.8 * np.outer((cats[0] == cats[1] % 3).astype(float), [1, -1, 0])
    logits += nums @ rng.normal(size=(4, 3))
    y = (logits + rng.gumbel(size=logits.shape)).argmax(axis=1)
    onehot = [np.eye(k)[c] for k, c in zip(levels, cats)]
    return np.hstack([*onehot, nums]), y


def make_set(name):
    from sklearn import datasets as ds

    rng = np.random.default_rng(1234)
    mc = ds.make_classification

    def circles_6d():
        X, y = ds.make_circles(1500, noise=0.1, factor=0.6, random_state=12)
        return _with_noise_columns(X, 4, rng), y

    def quantiles_5d_noisy():
        X, y = ds.make_gaussian_quantiles(
            n_samples=3000, n_features=5, n_classes=2, random_state=14
        )
        return X, _flip(y, 0.1, rng, 2)

    def moons_5d():
        X, y = ds.make_moons(600, noise=0.3, random_state=15)
        return _with_noise_columns(X, 3, rng), y

    def hastie_10d():
        X, y = ds.make_hastie_10_2(2000, random_state=16)
        return X, (y > 0).astype(int)

    sets = {
        "circles_2d": lambda: ds.make_circles(1000, noise=0.15, factor=0.5, random_state=11),
        "circles_6d": circles_6d,
        "quantiles_3d": lambda: ds.make_gaussian_quantiles(
            n_samples=2000, n_features=3, n_classes=3, random_state=13
        ),
        "quantiles_5d_noisy": quantiles_5d_noisy,
        "moons_5d": moons_5d,
        "hastie_10d": hastie_10d,
        "imbalanced_10to1": lambda: mc(
            2000, 20, n_informative=6, weights=[0.91], flip_y=0.01, random_state=17
        ),
        "imbalanced_30to1": lambda: mc(
            3100, 12, n_informative=5, weights=[0.968], flip_y=0.0, random_state=18
        ),
        "imbalanced_4class": lambda: mc(
            2500,
            30,
            n_informative=10,
            n_classes=4,
            weights=[0.7, 0.2, 0.07, 0.03],
            flip_y=0.01,
            random_state=19,
        ),
        "classes_26": lambda: mc(
            2600, 40, n_informative=20, n_classes=26, n_clusters_per_class=1, random_state=20
        ),
        "small_10class": lambda: mc(
            200, 16, n_informative=8, n_classes=10, n_clusters_per_class=1, random_state=21
        ),
        "small_noisy": lambda: mc(300, 20, n_informative=5, flip_y=0.2, random_state=22),
        "wide_400": lambda: mc(
            500, 400, n_informative=20, n_redundant=20, n_classes=3, random_state=23
        ),
        "categorical": lambda: _categorical(3000, 24),
        "large_5class": lambda: mc(
            10000, 50, n_informative=15, n_classes=5, flip_y=0.05, random_state=25
        ),
        **{
            k: (lambda k=k: getattr(ds, f"load_{k}")(return_X_y=True))
            for k in ("iris", "wine", "breast_cancer")
        },
    }
    if name not in sets:
        raise SystemExit(f"unknown set {name!r}; the sets: {', '.join(sets)}")
    return sets[name]()


def make_tune_set(name):
    """The TUNE-ONLY sets: the rules were chosen on these (other generators' seeds and shapes
    than the held-out sets; several resemble a held-out set's kind without being it)."""
    from sklearn import datasets as ds

    rng = np.random.default_rng(99)
    mc = ds.make_classification

    def circles_4d():
        X, y = ds.make_circles(1200, noise=0.12, factor=0.55, random_state=103)
        return _with_noise_columns(X, 2, rng), y

    sets = {
        "t_imb15": lambda: mc(
            2400, 15, n_informative=5, weights=[0.94], flip_y=0.01, random_state=101
        ),
        "t_imb3c": lambda: mc(
            2000,
            25,
            n_informative=8,
            n_classes=3,
            weights=[0.8, 0.15, 0.05],
            flip_y=0.01,
            random_state=102,
        ),
        "t_circles_4d": circles_4d,
        "t_noisy400": lambda: mc(400, 12, n_informative=4, flip_y=0.15, random_state=104),
        "t_quantiles_4d": lambda: ds.make_gaussian_quantiles(
            n_samples=1500, n_features=4, n_classes=2, random_state=105
        ),
        "t_noisy250": lambda: mc(250, 15, n_informative=4, flip_y=0.25, random_state=106),
        "t_noisy350": lambda: mc(350, 25, n_informative=6, flip_y=0.15, random_state=107),
        "t_small_8class": lambda: mc(
            250, 12, n_informative=7, n_classes=8, n_clusters_per_class=1, random_state=108
        ),
        "t_small_6class": lambda: mc(180, 20, n_informative=10, n_classes=6, random_state=109),
        "t_imb_small3c": lambda: mc(
            800, 10, n_informative=4, n_classes=3, weights=[0.85, 0.1, 0.05], random_state=110
        ),
        "t_imb4c": lambda: mc(
            3000,
            20,
            n_informative=8,
            n_classes=4,
            weights=[0.6, 0.25, 0.1, 0.05],
            flip_y=0.01,
            random_state=111,
        ),
        "t_large_4class": lambda: mc(
            6000, 30, n_informative=12, n_classes=4, flip_y=0.05, random_state=112
        ),
    }
    return sets[name]()


# sets with a fixed split of their own, one per data seed: (X_train, y_train, X_test, y_test)
MNIST1D_SEEDS = {"mnist1d": (42, 43, 44), "t_mnist1d": (100, 101, 102)}  # 42: the paper's


def mnist1d_split(data_seed):
    """MNIST-1D generated here (never downloaded) with its default parameters but the seed."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = data_seed
    with contextlib.redirect_stdout(io.StringIO()):
        d = make_dataset(args)
    return d["x"], d["y"], d["x_test"], d["y_test"]


HELD_OUT = (
    "small_10class",
    "iris",
    "small_noisy",
    "wide_400",
    "moons_5d",
    "circles_2d",
    "circles_6d",
    "quantiles_3d",
    "hastie_10d",
    "imbalanced_10to1",
    "imbalanced_4class",
    "classes_26",
    "quantiles_5d_noisy",
    "categorical",
    "imbalanced_30to1",
    "large_5class",
    "mnist1d",
)
SEEN = ("wine", "breast_cancer")  # the tuning sets of bench_defaults.py
TUNE = (
    "t_noisy250",
    "t_noisy350",
    "t_noisy400",
    "t_small_8class",
    "t_small_6class",
    "t_imb_small3c",
    "t_circles_4d",
    "t_quantiles_4d",
    "t_imb15",
    "t_imb3c",
    "t_imb4c",
    "t_large_4class",
    "t_mnist1d",
)
QUICK = ("small_10class", "iris", "small_noisy", "moons_5d", "circles_2d", "imbalanced_10to1")


# -- the methods ------------------------------------------------------------------------------------
def fit_predict(method, X_tr, y_tr, X_te, seed, tmp):
    """(predicted labels of X_te, fit seconds, note) of one method on one fold."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from twolayer import TwoLayerClassifier

    note = ""
    if method == "cli":
        return _cli(X_tr, y_tr, X_te, seed, tmp)
    if method == "torch":
        return _torch(X_tr, y_tr, X_te, seed)
    model = {
        "est": lambda: TwoLayerClassifier(random_state=seed, **VARIANT["est"]),
        "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier(random_state=seed)),
        "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "hgb": lambda: HistGradientBoostingClassifier(random_state=seed),
    }[method]()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - t0
    if any("ConvergenceWarning" in type(w.message).__name__ for w in caught):
        note = "unconverged"
    return model.predict(X_te), seconds, note


def _cli(X_tr, y_tr, X_te, seed, tmp):
    from twolayer.cli import main
    from twolayer.net import TwoLayerNet

    data, out = Path(tmp) / "fold.npz", Path(tmp) / "run"
    np.savez(data, X_train=X_tr, y_train=y_tr.astype(np.int64))
    args = ["train", "--data", f"npz:{data}", "--out", str(out), "--force", "--quiet"]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its table and "next:" line
        code = main([*args, "--no-plots", "--seed", str(seed), *VARIANT["cli"]])
    seconds = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"twolayer train failed with exit {code}")
    metrics = json.loads((out / "metrics.json").read_text())
    net = TwoLayerNet.load(out / "model.npz")
    note = "unconverged" if "epoch limit" in metrics.get("warning", "") else ""
    return net.predict(X_te), seconds, note


def _torch(X_tr, y_tr, X_te, seed, hidden=100, epochs=200, lr=1e-3):
    """A plain PyTorch two-layer ReLU net: standardised inputs, Adam, batch min(200, n), a fixed
    number of epochs (MLPClassifier's defaults, without its stopping rule)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std[std == 0] = 1.0
    X = torch.tensor((X_tr - mean) / std, dtype=torch.float32)
    y = torch.tensor(y_tr, dtype=torch.long)
    n_classes = int(y_tr.max()) + 1
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_classes)
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batch = min(200, len(X))
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        scores = model(torch.tensor((X_te - mean) / std, dtype=torch.float32))
    return scores.argmax(1).numpy(), seconds, ""


# -- the run ----------------------------------------------------------------------------------------
def balanced_accuracy(y, p):
    return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))


def _splits(name, folds, seeds):
    """(seed, X_train, y_train, X_test, y_test) of every fit, and the set's description: stratified
    K-fold per seed, or (MNIST-1D) its own split of the data made with each seed."""
    from sklearn.model_selection import StratifiedKFold

    if name in MNIST1D_SEEDS:
        data_seeds = MNIST1D_SEEDS[name][: len(seeds)]
        parts = [mnist1d_split(s) for s in data_seeds]
        y_all = np.concatenate([parts[0][1], parts[0][3]])
        splits = [
            (seed, X_tr.astype(np.float64), y_tr, X_te.astype(np.float64), y_te)
            for seed, (X_tr, y_tr, X_te, y_te) in zip(seeds, parts)
        ]
        return splits, _info(parts[0][0].shape[1], y_all)
    X, y = make_tune_set(name) if name.startswith("t_") else make_set(name)
    X = np.asarray(X, dtype=np.float64)
    y = np.unique(y, return_inverse=True)[1]
    splits = [
        (seed, X[tr], y[tr], X[te], y[te])
        for seed in seeds
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
    ]
    return splits, _info(X.shape[1], y)


def _info(d, y):
    counts = np.bincount(y)
    return {
        "n": len(y),
        "d": d,
        "classes": len(counts),
        "imbalance": round(float(counts.max() / counts.min()), 1),
    }


def run_set(name, methods, folds, seeds, log):
    splits, info = _splits(name, folds, seeds)
    scores = {m: {"acc": [], "bal": [], "sec": [], "unconverged": 0} for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed, X_tr, y_tr, X_te, y_te in splits:
            for m in methods:
                p, sec, note = fit_predict(m, X_tr, y_tr, X_te, seed, tmp)
                p = np.asarray(p).astype(np.intp)
                s = scores[m]
                s["acc"].append(float(np.mean(p == y_te)))
                s["bal"].append(balanced_accuracy(y_te, p))
                s["sec"].append(sec)
                s["unconverged"] += note == "unconverged"
    result = {"set": name, **info, "methods": {}}
    for m, s in scores.items():
        if s["acc"]:
            result["methods"][m] = {
                "acc": _mean_std(s["acc"]),
                "bal": _mean_std(s["bal"]),
                "sec": round(statistics.fmean(s["sec"]), 3),
                "fits": len(s["acc"]),
                "unconverged": s["unconverged"],
            }
    log(_row(result, methods))
    return result


def _mean_std(v):
    return [
        round(100 * statistics.fmean(v), 2),
        round(100 * statistics.pstdev(v), 2) if len(v) > 1 else 0.0,
    ]


def _row(r, methods):
    head = f"{r['set']:<19}{r['n']:>6}{r['d']:>5}{r['classes']:>4}{r['imbalance']:>6}"
    cells = []
    for m in methods:
        v = r["methods"].get(m)
        cells.append(
            f"{'-':>24}"
            if v is None
            else f"{v['acc'][0]:6.1f}±{v['acc'][1]:<4.1f}{v['bal'][0]:6.1f} {v['sec']:6.2f}s"
        )
    return head + " | " + " | ".join(cells)


def summary(results, methods):
    lines = []
    held = [r for r in results if r["set"] in HELD_OUT]
    part = "held-out"
    if not held:
        held, part = [r for r in results if r["set"] in TUNE], "tune-only"
    for ours in ("est", "cli"):
        if ours not in methods or "mlp" not in methods:
            continue
        rows = [r for r in held if ours in r["methods"] and "mlp" in r["methods"]]
        if not rows:
            continue
        gaps = [r["methods"][ours]["acc"][0] - r["methods"]["mlp"]["acc"][0] for r in rows]
        at_or_above = sum(g >= 0 for g in gaps)
        within = sum(g >= -1 for g in gaps)
        worst = min(zip(gaps, (r["set"] for r in rows)))
        imb = [r for r in rows if r["imbalance"] >= 5]
        bal_gaps = [r["methods"][ours]["bal"][0] - r["methods"]["mlp"]["bal"][0] for r in imb]
        lines.append(
            f"{ours}: accuracy at or above MLPClassifier's on {at_or_above}/{len(rows)} {part} "
            f"sets, within 1 point or better on {within}/{len(rows)}; worst {worst[0]:+.1f} "
            f"({worst[1]}); mean gap {statistics.fmean(gaps):+.2f}"
            + (
                f"; balanced accuracy on the {len(imb)} imbalanced sets: "
                + ", ".join(f"{g:+.1f}" for g in bal_gaps)
                if imb
                else ""
            )
        )
        speed = [r["methods"][ours]["sec"] / r["methods"]["mlp"]["sec"] for r in rows]
        lines.append(
            f"{ours}: fit time / MLPClassifier's: median {statistics.median(speed):.2f}x "
            f"(range {min(speed):.2f}-{max(speed):.2f}); unconverged fits "
            f"{sum(r['methods'][ours]['unconverged'] for r in rows)}"
        )
        with_torch = [r for r in rows if "torch" in r["methods"]]
        if with_torch:
            ratio = [r["methods"][ours]["sec"] / r["methods"]["torch"]["sec"] for r in with_torch]
            lines.append(
                f"{ours}: fit time / the PyTorch net's: median {statistics.median(ratio):.2f}x "
                f"(range {min(ratio):.2f}-{max(ratio):.2f})"
            )
    mnist1d = [r for r in results if r["set"] in MNIST1D_SEEDS and "est" in r["methods"]]
    for r in mnist1d:
        lines.append(f"{r['set']}: estimator {r['methods']['est']['acc'][0]:.1f}% (goal >= 60%)")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 folds x 1 seed, the smaller sets")
    ap.add_argument("--tune", action="store_true", help="the tune-only sets (5 folds x 3 seeds)")
    ap.add_argument("--sets", help="comma-separated set names (default: all)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--est-params", default="", help="k=v,k=v: TwoLayerClassifier parameters")
    ap.add_argument("--cli-args", default="", help="extra `twolayer train` options, one string")
    ap.add_argument(
        "--load",
        nargs="+",
        metavar="JSON",
        help="print the table and summary of earlier --json results (methods merged per set)",
    )
    args = ap.parse_args(argv)
    methods = tuple(args.methods.split(","))
    if args.load:
        return show(args.load, methods)
    sets, folds, seeds = (TUNE if args.tune else HELD_OUT + SEEN), 5, (0, 1, 2)
    if args.quick:
        sets, folds, seeds = (TUNE if args.tune else QUICK), 3, (0,)
    if args.sets:
        sets = tuple(args.sets.split(","))
    if not HAS_MNIST1D:
        print("note: mnist1d is not installed, so MNIST-1D is skipped (pip install mnist1d)")
        sets = tuple(s for s in sets if s not in MNIST1D_SEEDS)
    VARIANT["est"] = dict(_param(kv) for kv in args.est_params.split(",") if kv)
    VARIANT["cli"] = args.cli_args.split()
    if "torch" in methods and not HAS_TORCH:
        raise SystemExit("torch is not installed: leave it out of --methods")

    def log(line):
        print(line, flush=True)

    head = f"{'set':<19}{'n':>6}{'d':>5}{'C':>4}{'imb':>6} | "
    log(head + " | ".join(f"{m + ': acc±std  bal  fit':>24}" for m in methods))
    results = []
    with threadpool_limits(1):
        for name in sets:
            results.append(run_set(name, methods, folds, seeds, log))
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=1))
    for line in summary(results, methods):
        log(line)
    return 0


def _param(kv):
    k, v = kv.split("=", 1)
    return k, json.loads(v) if v[:1].isdigit() or v in ("true", "false", "null") else v


def show(files, methods):
    merged: dict[str, dict] = {}
    for f in files:
        for r in json.loads(Path(f).read_text()):
            merged.setdefault(r["set"], {**r, "methods": {}})["methods"].update(r["methods"])
    results = list(merged.values())
    head = f"{'set':<19}{'n':>6}{'d':>5}{'C':>4}{'imb':>6} | "
    print(head + " | ".join(f"{m + ': acc±std  bal  fit':>24}" for m in methods))
    for r in results:
        print(_row(r, methods))
    for line in summary(results, methods):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
