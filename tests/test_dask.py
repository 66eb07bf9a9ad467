"""Data that outgrows one machine: both estimators under Dask (marked slow: a LocalCluster with
worker processes takes seconds to start). dask_ml's Incremental moves the model between worker
processes with cloudpickle for every block, so this also exercises the pickle-safe training state."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.slow

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
wrappers = pytest.importorskip("dask_ml.wrappers")

from sklearn.datasets import load_digits  # noqa: E402

from twolayer import MLPClassifier, TwoLayerClassifier  # noqa: E402

X, y = load_digits(return_X_y=True)
X = X / 16.0


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as c:
            yield c


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLPClassifier(hidden_layer_sizes=32, random_state=0, learning_rate_init=0.01),
        lambda: TwoLayerClassifier(hidden_size=32, random_state=0),
    ],
    ids=["MLPClassifier", "TwoLayerClassifier"],
)
def test_incremental_over_a_chunked_dask_array(client, make):
    Xd = da.from_array(X, chunks=(300, 64))
    yd = da.from_array(y, chunks=300)
    inc = wrappers.Incremental(make(), scoring="accuracy")
    for _ in range(4):
        inc.partial_fit(Xd, yd, classes=np.unique(y))
    assert inc.score(Xd, yd) > 0.9
    assert inc.estimator_.n_features_in_ == 64


def test_grid_search_on_the_dask_joblib_backend(client):
    import joblib
    from sklearn.model_selection import GridSearchCV

    with joblib.parallel_backend("dask"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(
            MLPClassifier(max_iter=20, random_state=0), {"alpha": [1e-4, 1e-1]}, cv=3, n_jobs=-1
        ).fit(X, y)
    assert search.best_score_ > 0.85
    assert len(search.cv_results_["mean_test_score"]) == 2
