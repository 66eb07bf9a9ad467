"""twolayer.MLPClassifier against scikit-learn's MLPClassifier (the reference), and what both
estimators promise beyond it: pickled estimators train on, fitted models are served alike."""

from __future__ import annotations

import copy
import inspect
import json
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
import joblib  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402

from twolayer import MLPClassifier, TwoLayerClassifier, TwoLayerNet  # noqa: E402
from twolayer.cli import main  # noqa: E402

X3, y3 = load_digits(n_class=3, return_X_y=True)
X3 = X3[:240] / 16.0
y3 = y3[:240]


def _fit_both(X, y, sample_weight=None, **params):
    params = {"hidden_layer_sizes": 16, "random_state": 0, "max_iter": 25, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SkMLP(**params).fit(X, y, sample_weight=sample_weight)
        ours = MLPClassifier(**params).fit(X, y, sample_weight=sample_weight)
    return ref, ours


def _assert_same_fit(ref, ours, atol=1e-12):
    assert ours.n_iter_ == ref.n_iter_
    assert ours.t_ == ref.t_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=0, atol=atol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    assert ours._optimizer.learning_rate == pytest.approx(ref._optimizer.learning_rate, rel=1e-12)
    assert ours._no_improvement_count == ref._no_improvement_count
    if ref.validation_scores_ is None:
        assert ours.validation_scores_ is None and ours.best_validation_score_ is None
        assert ours.best_loss_ == pytest.approx(ref.best_loss_, abs=atol)
    else:
        assert ours.validation_scores_ == ref.validation_scores_
        assert ours.best_validation_score_ == ref.best_validation_score_
        assert ours.best_loss_ is None
    np.testing.assert_allclose(ours.predict_proba(X3), ref.predict_proba(X3), atol=1e-10)


# With three or more classes the output layers match (softmax), so the whole run must equal
# scikit-learn's: the same draws from the random state, the same arithmetic up to rounding.
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"solver": "sgd", "learning_rate_init": 0.1},
        {"solver": "sgd", "momentum": 0.5, "nesterovs_momentum": False, "alpha": 0.3},
        {"solver": "sgd", "momentum": 0.0, "batch_size": 37},
        {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.5},
        {"solver": "sgd", "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 2},
        {"early_stopping": True, "validation_fraction": 0.2},
        {"solver": "sgd", "early_stopping": True, "tol": 0.01, "n_iter_no_change": 3},
        {"shuffle": False, "alpha": 1.0, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4},
        {"tol": 0.05, "n_iter_no_change": 1, "max_iter": 200},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults",
)
def test_fit_equals_scikit_learns(params):
    _assert_same_fit(*_fit_both(X3, y3, **params))


def test_sample_weight_fit_and_partial_fit_equal_scikit_learns():
    w = np.random.default_rng(0).uniform(0, 3, len(y3))
    _assert_same_fit(*_fit_both(X3, y3, sample_weight=w, solver="sgd", learning_rate_init=0.05))
    ref = SkMLP(hidden_layer_sizes=8, random_state=1)
    ours = MLPClassifier(hidden_layer_sizes=8, random_state=1)
    for start in range(0, 240, 60):
        rows = slice(start, start + 60)
        ref.partial_fit(X3[rows], y3[rows], sample_weight=w[rows], classes=[0, 1, 2])
        ours.partial_fit(X3[rows], y3[rows], sample_weight=w[rows], classes=[0, 1, 2])
    _assert_same_fit(ref, ours)


def test_float32_keeps_float32_and_stays_close():
    ref, ours = _fit_both(X3.astype(np.float32), y3)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    np.testing.assert_allclose(ours.coefs_[0], ref.coefs_[0], atol=1e-4)


def test_signature_is_scikit_learns():
    ours, ref = inspect.signature(MLPClassifier), inspect.signature(SkMLP)
    assert list(ours.parameters) == list(ref.parameters)
    for name, p in ref.parameters.items():
        assert ours.parameters[name].default == p.default, name
        assert ours.parameters[name].kind == p.kind, name


def test_fitted_attributes():
    clf = MLPClassifier(hidden_layer_sizes=(7,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        clf.fit(X3, y3)
    assert (clf.n_layers_, clf.n_outputs_, clf.out_activation_) == (3, 3, "softmax")
    assert [c.shape for c in clf.coefs_] == [(64, 7), (7, 3)]
    binary = MLPClassifier(hidden_layer_sizes=4, max_iter=500).fit(X3[y3 < 2], y3[y3 < 2])
    assert binary.n_outputs_ == 2  # softmax: one output per class (scikit-learn: 1, logistic)
    assert binary.score(X3[y3 < 2], y3[y3 < 2]) == 1.0


@pytest.mark.parametrize(
    "params, words",
    [
        ({"hidden_layer_sizes": (5, 3)}, "asks for 2 hidden layers"),
        ({"hidden_layer_sizes": ()}, "asks for 0 hidden layers"),
        ({"activation": "tanh"}, "activation='tanh' is not supported"),
        ({"solver": "lbfgs"}, "solver='lbfgs' is not supported"),
        ({"alpha": -1.0}, "The 'alpha' parameter of MLPClassifier must be"),
        ({"learning_rate": "auto"}, "The 'learning_rate' parameter of MLPClassifier must be"),
    ],
)
def test_what_one_relu_layer_cannot_do_is_refused(params, words):
    with pytest.raises(ValueError, match=words):
        MLPClassifier(**params).fit(X3, y3)


def test_multilabel_is_refused_and_lbfgs_has_no_partial_fit():
    Y = np.stack([y3 == 0, y3 == 1], axis=1).astype(int)
    with pytest.raises(ValueError, match="multilabel .* not supported: the network is softmax"):
        MLPClassifier().fit(X3, Y)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")


# -- sparse input ---------------------------------------------------------------------------
@pytest.fixture
def no_densifying(monkeypatch):
    """Sparse matrices of X's width (64 features) that refuse to become dense (scikit-learn's
    LabelBinarizer densifies its own sparse label matrix: that one may)."""

    def refusing(original):
        def method(self, *args, **kwargs):
            if self.shape[1] == X3.shape[1]:
                raise AssertionError("the sparse X was densified")
            return original(self, *args, **kwargs)

        return method

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
        for name in ("toarray", "todense"):
            monkeypatch.setattr(cls, name, refusing(getattr(cls, name)))


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_sparse_input_trains_as_dense_and_as_scikit_learn(container, solver, no_densifying):
    dense = MLPClassifier(hidden_layer_sizes=16, random_state=0, max_iter=15, solver=solver)
    sparse = MLPClassifier(hidden_layer_sizes=16, random_state=0, max_iter=15, solver=solver)
    ref = SkMLP(hidden_layer_sizes=16, random_state=0, max_iter=15, solver=solver)
    Xs = container(X3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense.fit(X3, y3)
        sparse.fit(Xs, y3)
        sparse.partial_fit(Xs, y3)
        dense.partial_fit(X3, y3)
        ref.fit(Xs, y3)
        ref.partial_fit(Xs, y3)
    for a, b, c in zip(sparse.coefs_, dense.coefs_, ref.coefs_):
        np.testing.assert_allclose(a, b, atol=1e-12)
        np.testing.assert_allclose(a, c, atol=1e-12)
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(X3))
    np.testing.assert_allclose(sparse.predict_proba(Xs), ref.predict_proba(Xs), atol=1e-10)


# -- pickle-safe training state ---------------------------------------------------------------
def _joblib(tmp_path, mmap_mode):
    def round_trip(est):
        path = tmp_path / "est.joblib"
        joblib.dump(est, path)
        return joblib.load(path, mmap_mode=mmap_mode)

    return round_trip


def _cloudpickle(est):
    cloudpickle = pytest.importorskip("cloudpickle")  # what Dask and loky move models with
    return cloudpickle.loads(cloudpickle.dumps(est))


def _round_trips(tmp_path):
    trips = {
        f"pickle{p}": (lambda e, p=p: pickle.loads(pickle.dumps(e, protocol=p)))
        for p in (2, 3, 4, 5)
    }
    trips["joblib"] = _joblib(tmp_path, None)
    trips["joblib-mmap"] = _joblib(tmp_path, "r")
    trips["cloudpickle"] = _cloudpickle
    trips["deepcopy"] = copy.deepcopy
    return trips


TRIPS = [
    "pickle2",
    "pickle3",
    "pickle4",
    "pickle5",
    "joblib",
    "joblib-mmap",
    "cloudpickle",
    "deepcopy",
]
ESTIMATORS = {
    "MLPClassifier": lambda: MLPClassifier(
        hidden_layer_sizes=12, random_state=0, max_iter=5, learning_rate_init=0.02
    ),
    "MLPClassifier-sgd": lambda: MLPClassifier(
        hidden_layer_sizes=12, random_state=0, max_iter=5, solver="sgd", learning_rate_init=0.1
    ),
    "TwoLayerClassifier": lambda: TwoLayerClassifier(hidden_size=12, random_state=0, max_epochs=5),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("trip", TRIPS)
@pytest.mark.parametrize("make", list(ESTIMATORS))
def test_a_round_trip_leaves_an_estimator_that_trains_on(make, trip, tmp_path):
    """partial_fit after the round trip continues exactly as without it; warm-start fit works."""
    est = ESTIMATORS[make]().fit(X3, y3)
    est.partial_fit(X3, y3)  # optimizer state exists (moments, velocities)
    copy_ = _round_trips(tmp_path)[trip](est)
    est.partial_fit(X3, y3)
    copy_.partial_fit(X3, y3)
    for a, b in zip(copy_.coefs_ + copy_.intercepts_, est.coefs_ + est.intercepts_):
        np.testing.assert_array_equal(a, b)
        assert a.flags.writeable
    copy_.set_params(warm_start=True)
    before = copy_.coefs_[0].copy()
    copy_.fit(X3, y3)
    assert not np.array_equal(before, copy_.coefs_[0])
    assert copy_.score(X3, y3) > 0.9


# -- serve what you fit ---------------------------------------------------------------------
SERVED = {
    "TwoLayerClassifier-standardize": lambda: TwoLayerClassifier(
        hidden_size=16, random_state=0, max_epochs=30
    ),
    "MLPClassifier": lambda: MLPClassifier(hidden_layer_sizes=16, random_state=0, max_iter=60),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("make", list(SERVED))
def test_saved_model_answers_as_the_estimator(make, tmp_path, capsys):
    X, y = load_digits(return_X_y=True)  # raw pixels 0..16: preprocessing matters
    labels = np.array([f"digit{d}" for d in y], dtype=object)
    clf = SERVED[make]().fit(X[:1200], labels[:1200])
    path = tmp_path / "model.npz"
    clf.save(path)
    test = X[1200:]
    np.save(tmp_path / "rows.npy", test)
    expected, proba = clf.predict(test), clf.predict_proba(test)

    loaded = TwoLayerNet.load(path)
    np.testing.assert_array_equal(clf.classes_[loaded.predict(test)], expected)
    np.testing.assert_allclose(loaded.predict_proba(test), proba, atol=1e-6)
    np.testing.assert_array_equal(clf.classes_[clf.net_.predict(test)], expected)

    capsys.readouterr()
    assert main(["predict", str(path), str(tmp_path / "rows.npy"), "--proba", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == list(expected)  # 100% agreement
    served = [[r["probabilities"][c] for c in clf.classes_] for r in rows]
    np.testing.assert_allclose(served, proba, atol=1e-6)

    codes = np.searchsorted(clf.classes_, labels)
    np.savez(
        tmp_path / "data.npz",
        X_train=X[:1200],
        y_train=codes[:1200],
        X_test=test,
        y_test=codes[1200:],
    )
    assert main(["evaluate", str(path), "--data", f"npz:{tmp_path / 'data.npz'}", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] == clf.score(test, labels[1200:])


def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(MLPClassifier(max_iter=50), on_fail=None)
    failed = [
        (r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"
    ]
    assert not failed


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("make", list(SERVED))
def test_exported_onnx_answers_as_the_estimator(make, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = load_digits(return_X_y=True)
    labels = np.array([f"digit{d}" for d in y], dtype=object)
    clf = SERVED[make]().fit(X[:1200], labels[:1200])
    clf.save(tmp_path / "model.npz")
    assert main(["export", str(tmp_path / "model.npz"), "--out", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"X": X[1200:].astype(np.float32)})
    assert label.tolist() == list(clf.predict(X[1200:]))
    np.testing.assert_allclose(proba, clf.predict_proba(X[1200:]), atol=1e-5)  # a float32 graph


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "make",
    [
        lambda: MLPClassifier(
            hidden_layer_sizes=8, random_state=0, max_iter=30, learning_rate_init=0.05
        ),
        lambda: TwoLayerClassifier(hidden_size=8, random_state=0, max_epochs=30),
    ],
    ids=["MLPClassifier", "TwoLayerClassifier"],
)
def test_sparse_pipelines_text_and_column_transformer(make):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    words = ["red apple", "green apple", "red car", "blue car", "green pear", "blue sky"] * 10
    labels = ["fruit", "fruit", "thing", "thing", "fruit", "thing"] * 10
    text = make_pipeline(TfidfVectorizer(), make()).fit(words, labels)
    assert text.score(words, labels) == 1.0
    table = np.array([[w.split()[0], w.split()[1]] for w in words], dtype=object)
    columns = ColumnTransformer([("onehot", OneHotEncoder(), [0, 1])], sparse_threshold=1.0)
    assert sp.issparse(columns.fit_transform(table))
    model = make_pipeline(columns, make()).fit(table, labels)
    assert model.score(table, labels) == 1.0
