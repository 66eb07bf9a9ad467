"""Breadth: the defaults on classification sets the project never tuned on, against the usual picks.

    nice -n 10 python benchmarks/bench_breadth.py            # 5-fold CV x 3 seeds (about an hour on 2 cores)
    nice -n 10 python benchmarks/bench_breadth.py --quick    # 3 folds x 1 seed, the smaller sets
    python benchmarks/bench_breadth.py --sets circles_2d,iris --json out.json

The sets were chosen before any result was seen and are fixed (their seeds included): scikit-learn's
generators with varied shape, noise and imbalance (smooth round boundaries in 2-10 dimensions,
10:1 to 30:1 imbalance, 26 classes, 400 features, one-hot categorical columns, 200-10,000 rows) and
iris. None of them is in benchmarks/bench_defaults.py, where the defaults were chosen (digits,
MNIST, wine, breast_cancer: those are reported apart, as "seen").

Methods, all on the same folds (StratifiedKFold, shuffled by the seed) and seeds:
  est   TwoLayerClassifier() — every parameter at its default ('auto')
  cli   `twolayer train --data npz:FOLD.npz` with its defaults (seed 0 only in the full run, to
        bound time; it carves its own validation split from the training fold), then its model.npz
        predicts the test fold
  mlp   StandardScaler + MLPClassifier() defaults
  lr    StandardScaler + LogisticRegression(max_iter=2000)
  hgb   HistGradientBoostingClassifier()
Accuracy and balanced accuracy (mean ± std over folds x seeds) and fit seconds per set; the summary
counts the held-out sets where est / cli are within 1 point of MLPClassifier or better.
BLAS runs on one thread for every method (the machine is shared; the comparison stays fair).
"""

from __future__ import annotations

import argparse
import contextlib
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

METHODS = ("est", "cli", "mlp", "lr", "hgb")


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
)
SEEN = ("wine", "breast_cancer")  # the tuning sets of bench_defaults.py
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
    model = {
        "est": lambda: TwoLayerClassifier(random_state=seed),
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
        code = main([*args, "--no-plots", "--seed", str(seed)])
    seconds = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"twolayer train failed with exit {code}")
    metrics = json.loads((out / "metrics.json").read_text())
    net = TwoLayerNet.load(out / "model.npz")
    note = "unconverged" if "epoch limit" in metrics.get("warning", "") else ""
    return net.predict(X_te), seconds, note


# -- the run ----------------------------------------------------------------------------------------
def balanced_accuracy(y, p):
    return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))


def run_set(name, methods, folds, seeds, cli_seeds, log):
    from sklearn.model_selection import StratifiedKFold

    X, y = make_set(name)
    X = np.asarray(X, dtype=np.float64)
    y = np.unique(y, return_inverse=True)[1]
    counts = np.bincount(y)
    info = {
        "n": len(y),
        "d": X.shape[1],
        "classes": len(counts),
        "imbalance": round(float(counts.max() / counts.min()), 1),
    }
    scores = {m: {"acc": [], "bal": [], "sec": [], "unconverged": 0} for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
            for tr, te in split:
                for m in methods:
                    if m == "cli" and seed not in cli_seeds:
                        continue
                    p, sec, note = fit_predict(m, X[tr], y[tr], X[te], seed, tmp)
                    p = np.asarray(p).astype(np.intp)
                    s = scores[m]
                    s["acc"].append(float(np.mean(p == y[te])))
                    s["bal"].append(balanced_accuracy(y[te], p))
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
    held = [r for r in results if r["set"] not in SEEN]
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
            f"{ours}: accuracy at or above MLPClassifier's on {at_or_above}/{len(rows)} held-out "
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
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 folds x 1 seed, the smaller sets")
    ap.add_argument("--sets", help="comma-separated set names (default: all)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json", help="write the results here")
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
    if args.quick:
        sets, folds, seeds = QUICK, 3, (0,)
    else:
        sets, folds, seeds = HELD_OUT + SEEN, 5, (0, 1, 2)
    if args.sets:
        sets = tuple(args.sets.split(","))
    cli_seeds = (0,)

    def log(line):
        print(line, flush=True)

    head = f"{'set':<19}{'n':>6}{'d':>5}{'C':>4}{'imb':>6} | "
    log(head + " | ".join(f"{m + ': acc±std  bal  fit':>24}" for m in methods))
    results = []
    with threadpool_limits(1):
        for name in sets:
            results.append(run_set(name, methods, folds, seeds, cli_seeds, log))
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=1))
    for line in summary(results, methods):
        log(line)
    return 0


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
