"""The measurements behind twolayer's default settings, side by side in one run.

    python benchmarks/bench_defaults.py            # everything (a few minutes on 2 cores)
    python benchmarks/bench_defaults.py --quick    # one seed, fewer alternatives

Part 1 — the defaults against the usual picks, on the same splits and machine:
  twolayer's defaults (what `twolayer train --data SPEC` runs) vs scikit-learn's MLPClassifier
  (default settings on digits; hidden_layer_sizes=(800,) on MNIST, as in the data set's README) and
  a plain PyTorch loop (800 hidden, AdamW, 30 epochs, batch 64, pixels in [0, 1]) when torch is installed.
Part 2 — why these defaults: each alternative changes one setting of the defaults, measured on
  every data set (digits, MNIST, and the tabular wine and breast-cancer sets), mean test accuracy over seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from twolayer.data import Dataset, load, split_validation
from twolayer.defaults import resolve_run
from twolayer.runs import RunSettings, build, make_augment, transformed
from twolayer.train import Trainer, accuracy

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist10k"


def tabular(name, seed):
    """A scikit-learn tabular set, split 60/20/20 with the given seed."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y
    )
    X_tr, y_tr, X_val, y_val = split_validation(X_rest, y_rest.astype(np.intp), 0.25, seed)
    return Dataset(
        name,
        X_tr,
        y_tr,
        X_val,
        y_val,
        X_test,
        y_test.astype(np.intp),
        class_names=[str(c) for c in np.unique(y)],
    )


def get(spec, seed):
    if spec in ("wine", "breast_cancer"):
        return tabular(spec, seed)
    return load(spec, seed=seed)


def ours(ds, settings):
    """Train with the library's own path; returns (test accuracy, seconds of preprocessing + training)."""
    t0 = time.perf_counter()
    settings = resolve_run(settings, ds)  # every 'auto' decided from the data, as the CLI does
    net = build(settings, ds)
    trainer = Trainer(net, settings.train)
    trainer.fit(
        transformed(net, ds.X_train),
        ds.y_train,
        transformed(net, ds.X_val),
        ds.y_val,
        augment=make_augment(settings.train.augment, net, ds),
    )
    seconds = time.perf_counter() - t0
    return accuracy(net, transformed(net, ds.X_test), ds.y_test), seconds


def mlp(ds, hidden, seed):
    from sklearn.neural_network import MLPClassifier

    scale = ds.pixel_max or 1.0
    X = np.concatenate([ds.X_train, ds.X_val]) / scale  # MLPClassifier gets train + validation
    y = np.concatenate([ds.y_train, ds.y_val])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier(hidden_layer_sizes=(hidden,), random_state=seed).fit(X, y)
    return m.score(ds.X_test / scale, ds.y_test), time.perf_counter() - t0


def torch_loop(ds, hidden, seed, epochs=30, batch=64):
    import torch

    torch.manual_seed(seed)
    scale = ds.pixel_max or 1.0
    X = torch.tensor(np.concatenate([ds.X_train, ds.X_val]) / scale, dtype=torch.float32)
    y = torch.tensor(np.concatenate([ds.y_train, ds.y_val]), dtype=torch.long)
    t0 = time.perf_counter()
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, ds.n_classes)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), batch):
            idx = perm[i : i + batch]
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        pred = model(torch.tensor(ds.X_test / scale, dtype=torch.float32)).argmax(1).numpy()
    return float(np.mean(pred == ds.y_test)), seconds


ALTERNATIVES = {
    "defaults": {},
    "hidden 128": {"hidden_size": 128},
    "hidden 1024": {"hidden_size": 1024},
    "adam + reg 1e-4": {"train.optimizer": "adam", "train.reg": 1e-4},
    "nesterov lr 0.05 + reg 1e-3": {
        "train.optimizer": "nesterov",
        "train.learning_rate": 0.05,
        "train.reg": 1e-3,
    },
    "batch 256": {"train.batch_size": 256},
    "constant lr": {"train.schedule": "constant"},
    "no augmentation": {"train.augment": "none"},
    "standardize": {"preprocess": "standardize"},
}


def variant(changes, seed=0):
    s = RunSettings()
    s.train = replace(s.train, seed=seed)
    for key, value in changes.items():
        if key.startswith("train."):
            s.train = replace(s.train, **{key[6:]: value})
        else:
            s = replace(s, **{key: value})
    return s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print(
            "note: PyTorch is not installed, so its columns are skipped (pip install torch==2.13.0)"
        )
    specs = ["digits"] + ([f"mnist:{MNIST}"] if MNIST.exists() else [])

    with threadpool_limits(args.threads):
        print(f"\n## Part 1: defaults vs the usual picks ({args.threads} threads, seed 0 split)\n")
        print(
            "| data | twolayer defaults | MLPClassifier | PyTorch AdamW loop | time vs MLP | time vs PyTorch |"
        )
        print("|---|---|---|---|---|---|")
        for spec in specs:
            ds = get(spec, 0)
            hidden = 100 if spec == "digits" else 800
            a, t = ours(ds, RunSettings())
            ma, mt = mlp(ds, hidden, 0)
            cells = [
                f"{100 * a:.2f}% in {t:.2f} s",
                f"{100 * ma:.2f}% in {mt:.2f} s ({hidden} hidden)",
            ]
            if torch is not None:
                pa, pt = torch_loop(ds, 800, 0)
                cells += [f"{100 * pa:.2f}% in {pt:.2f} s", f"{t / mt:.2f}×", f"{t / pt:.2f}×"]
            else:
                cells += ["skipped", f"{t / mt:.2f}×", "skipped"]
            print(f"| {spec.split(':')[0]} | " + " | ".join(cells) + " |", flush=True)

        names = ["defaults", "no augmentation", "constant lr"] if args.quick else list(ALTERNATIVES)
        sets = specs + ["wine", "breast_cancer"]
        print(
            f"\n## Part 2: one change at a time (mean test accuracy over seeds {seeds}; mean seconds)\n"
        )
        print("| setting | " + " | ".join(s.split(":")[0] for s in sets) + " |")
        print("|---|" + "---|" * len(sets))
        for name in names:
            cells = []
            for spec in sets:
                runs = [ours(get(spec, seed), variant(ALTERNATIVES[name], seed)) for seed in seeds]
                cells.append(
                    f"{100 * statistics.mean(r[0] for r in runs):.2f}% "
                    f"({statistics.mean(r[1] for r in runs):.1f} s)"
                )
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
