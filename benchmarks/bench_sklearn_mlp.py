"""twolayer.MLPClassifier against sklearn.neural_network.MLPClassifier, one import line apart.

    python benchmarks/bench_sklearn_mlp.py                 # dense sets and the sparse sets
    python benchmarks/bench_sklearn_mlp.py --only dense    # digits, MNIST sample
    python benchmarks/bench_sklearn_mlp.py --only sparse   # TF-IDF text, 20,000 x 50,000 CSR

Same constructor arguments for both (random_state=0, the rest MLPClassifier's defaults unless a
row says otherwise); the two fit alternately in this one process with one BLAS thread each.
Columns: fit seconds of each, their ratio, test accuracy of each, how many test predictions agree,
and (sparse sets) the peak of traced Python allocations during fit (tracemalloc: NumPy and SciPy
buffers included), since densifying the sparse matrix is what would blow memory up.

With three or more classes the two runs are the same computation (same draws from the random
state, same arithmetic up to rounding), so agreement should be 100% and accuracies equal.
"""

from __future__ import annotations

import argparse
import gzip
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_limits

from twolayer import MLPClassifier, TwoLayerClassifier

# the shared MNIST sample beside the checkout (or a worktree of it); skipped when absent
MNIST = next(
    (
        p / "shared" / "data" / "mnist10k"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "mnist10k").is_dir()
    ),
    Path("/nonexistent"),
)


def digits():
    X, y = load_digits(return_X_y=True)
    return "digits (1,437 / 360)", X[:1437] / 16, y[:1437], X[1437:] / 16, y[1437:], {}


def mnist():
    if not MNIST.is_dir():
        return None

    def idx(name, offset):
        with gzip.open(MNIST / name) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    X = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
    y = idx("train-labels-idx1-ubyte.gz", 8)
    n = min(len(y), 10_000)
    X, y = X[:n], y[:n]
    cut = int(0.8 * n)
    return "MNIST sample float32, max_iter=20", X[:cut], y[:cut], X[cut:], y[cut:], {"max_iter": 20}


def tfidf():
    """A text problem without downloads: documents drawn from per-class word distributions."""
    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(5000)])
    classes = 4
    topic = [rng.choice(5000, 300, replace=False) for _ in range(classes)]
    docs, labels = [], []
    for i in range(4000):
        c = i % classes
        words = np.concatenate([rng.choice(topic[c], 20), rng.choice(5000, 40)])
        docs.append(" ".join(vocab[words]))
        labels.append(c)
    X = TfidfVectorizer().fit_transform(docs).astype(np.float64)
    y = np.array(labels)
    return (
        "TF-IDF 4,000 docs x 5,000 words, max_iter=10",
        X[:3200],
        y[:3200],
        X[3200:],
        y[3200:],
        {"max_iter": 10},
    )


def big_csr():
    rng = np.random.default_rng(1)
    n, d = 20_000, 50_000
    X = sp.random(n, d, density=0.001, format="csr", random_state=rng, dtype=np.float64)
    w = rng.standard_normal((d, 3))
    y = np.asarray(X @ w).argmax(axis=1)
    return (
        "CSR 20,000 x 50,000 density 0.001, max_iter=3",
        X[:16000],
        y[:16000],
        X[16000:],
        y[16000:],
        {"max_iter": 3, "hidden_layer_sizes": 50},
    )


def run(make, X, y, extra, traced):
    clf = make(random_state=0, **extra)
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    seconds = time.perf_counter() - t0
    peak = 0
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return clf, seconds, peak


def compare(case, traced, native=False):
    if case is None:
        return
    name, X, y, Xt, yt, extra = case
    makers = [("sklearn", SkMLP), ("twolayer", MLPClassifier)]
    if native:  # TwoLayerClassifier with its own defaults (max_epochs from max_iter, H as set)
        native_extra = {"max_epochs": extra.get("max_iter", 200)}
        if "hidden_layer_sizes" in extra:
            native_extra["hidden_size"] = extra["hidden_layer_sizes"]
        makers.append(
            (
                "TwoLayerClassifier",
                lambda **kw: TwoLayerClassifier(random_state=kw["random_state"], **native_extra),
            )
        )
    results = {label: run(make, X, y, extra, traced) for label, make in makers}
    (sk, sk_s, sk_peak), (tl, tl_s, tl_peak) = results["sklearn"], results["twolayer"]
    agree = float(np.mean(sk.predict(Xt) == tl.predict(Xt)))
    line = (
        f"{name:48s} sklearn {sk_s:7.2f} s  twolayer {tl_s:7.2f} s  ratio {tl_s / sk_s:4.2f}  "
        f"acc {sk.score(Xt, yt):.4f} / {tl.score(Xt, yt):.4f}  agree {agree:.1%}"
    )
    if traced:
        line += f"  peak {sk_peak / 2**20:6.1f} / {tl_peak / 2**20:6.1f} MiB"
    if native:
        nat, nat_s, nat_peak = results["TwoLayerClassifier"]
        line += f"\n{'':48s} TwoLayerClassifier {nat_s:7.2f} s  acc {nat.score(Xt, yt):.4f}"
        line += f"  peak {nat_peak / 2**20:6.1f} MiB"
    print(line, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["dense", "sparse"])
    args = ap.parse_args()
    with threadpool_limits(1):
        if args.only in (None, "dense"):
            compare(digits(), traced=False)
            compare(mnist(), traced=False)
        if args.only in (None, "sparse"):
            compare(tfidf(), traced=True, native=True)
            compare(big_csr(), traced=True, native=True)


if __name__ == "__main__":
    main()
