"""TwoLayerClassifier against scikit-learn's own estimator checks and tools."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from twolayer import TwoLayerClassifier


def _expected_failures(estimator):
    # the held-out validation rows differ between weighted and repeated data, so the two fits differ
    # (scikit-learn marks the same check for its MLPClassifier with early stopping)
    if estimator.early_stopping is True:
        return {
            "check_sample_weight_equivalence_on_dense_data": "the validation split differs between weighted rows and repeated rows",
            "check_sample_weight_equivalence_on_sparse_data": "the validation split differs between weighted rows and repeated rows",
        }
    return {}


@parametrize_with_checks(
    [TwoLayerClassifier(), TwoLayerClassifier(optimizer="nesterov", early_stopping=True)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_fits_iris_with_string_labels(iris):
    X_tr, X_te, y_tr, y_te = iris
    names = np.array(["setosa", "versicolor", "virginica"])
    clf = TwoLayerClassifier(random_state=0).fit(X_tr, names[y_tr])
    assert list(clf.classes_) == list(names)
    assert clf.score(X_te, names[y_te]) >= 0.9
    p = clf.predict_proba(X_te)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_te)), p, rtol=1e-10)
    assert clf.n_features_in_ == 4 and clf.n_iter_ == len(clf.loss_curve_) > 0
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_same_random_state_same_model(iris):
    X_tr, _, y_tr, _ = iris
    a = TwoLayerClassifier(random_state=3, max_epochs=20).fit(X_tr, y_tr)
    b = TwoLayerClassifier(random_state=3, max_epochs=20).fit(X_tr, y_tr)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert a.loss_curve_ == b.loss_curve_


def test_partial_fit_learns_and_needs_classes(iris):
    X_tr, X_te, y_tr, y_te = iris
    clf = TwoLayerClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_tr, y_tr)
    for _ in range(200):
        clf.partial_fit(X_tr, y_tr, classes=[0, 1, 2])
    assert clf.n_iter_ == 200 and len(clf.loss_curve_) == 200
    assert clf.score(X_te, y_te) >= 0.9
    # 200 one-epoch calls are the same training as one fit of 200 epochs (that does not stop early)
    full = TwoLayerClassifier(
        random_state=0, max_epochs=200, n_iter_no_change=200, schedule="constant"
    ).fit(X_tr, y_tr)
    assert full.n_iter_ == 200
    np.testing.assert_allclose(clf.coefs_[0], full.coefs_[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(clf.loss_curve_, full.loss_curve_, rtol=1e-12)


def test_partial_fit_with_a_subset_of_classes_keeps_all_classes():
    X = np.array([[0.0, 1], [1, 0], [1, 1], [0, 0]])
    clf = TwoLayerClassifier(random_state=0).partial_fit(X[:2], [0, 1], classes=[0, 1, 2])
    assert clf.predict_proba(X).shape == (4, 3)
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X, [0, 1, 2, 5])


def test_warm_start_continues_training(iris):
    X_tr, _, y_tr, _ = iris
    clf = TwoLayerClassifier(random_state=0, max_epochs=5, warm_start=True).fit(X_tr, y_tr)
    w = clf.coefs_[0].copy()
    clf.fit(X_tr, y_tr)
    assert clf.n_iter_ == 10
    assert not np.array_equal(w, clf.coefs_[0])
    cold = TwoLayerClassifier(random_state=0, max_epochs=5).fit(X_tr, y_tr)
    cold.fit(X_tr, y_tr)
    assert cold.n_iter_ == 5


def test_early_stopping_records_validation_scores(iris):
    X_tr, _, y_tr, _ = iris
    clf = TwoLayerClassifier(
        random_state=0, early_stopping=True, n_iter_no_change=3, max_epochs=300
    ).fit(X_tr, y_tr)
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.best_validation_score_ == max(clf.validation_scores_)


@pytest.mark.slow
def test_pipeline_gridsearch_parallel_and_cross_val():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    pipe = make_pipeline(
        StandardScaler(), TwoLayerClassifier(max_epochs=150, random_state=0, preprocess="none")
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85  # MLPClassifier in the same pipeline scores 0.873 on these folds
    grid = GridSearchCV(pipe, {"twolayerclassifier__hidden_size": [16, 64]}, cv=2, n_jobs=2).fit(
        X, y
    )
    assert grid.best_params_["twolayerclassifier__hidden_size"] in (16, 64)
    assert grid.best_score_ > 0.8


def test_bad_parameters_raise_value_error(iris):
    X_tr, _, y_tr, _ = iris
    for params, words in [
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"learning_rate": -1}, "learning_rate must be"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"preprocess": "zca"}, "preprocess"),
    ]:
        with pytest.raises(ValueError, match=words):
            TwoLayerClassifier(**params).fit(X_tr, y_tr)


def test_stops_when_the_training_loss_stops_improving(iris):
    X_tr, _, y_tr, _ = iris
    clf = TwoLayerClassifier(random_state=0, max_epochs=1000, tol=1e-2, n_iter_no_change=5).fit(
        X_tr, y_tr
    )
    curve = clf.loss_curve_
    assert clf.n_iter_ == len(curve) < 1000
    assert clf.loss_ == curve[-1] and clf.best_loss_ == min(curve)
    # scikit-learn's rule, replayed on the curve: count epochs whose loss is not below the best so far
    # by more than tol; stop when the count reaches n_iter_no_change
    best, count = np.inf, 0
    for epoch, loss in enumerate(curve, start=1):
        count = count + 1 if loss > best - 1e-2 else 0
        best = min(best, loss)
        if count >= 5:
            break
    assert epoch == len(curve)
    # a tolerance of 0 and patience above max_epochs train every epoch
    assert (
        TwoLayerClassifier(random_state=0, max_epochs=30, tol=0.0, n_iter_no_change=31)
        .fit(X_tr, y_tr)
        .n_iter_
        == 30
    )


def test_sample_weight_equals_repeated_rows_and_zero_weight_drops_a_row(iris):
    X_tr, X_te, y_tr, _ = iris
    w = np.random.default_rng(0).integers(0, 4, len(y_tr))
    # full batches (batch_size >= rows), so that weighted and repeated rows give the same
    # gradients; the data-dependent defaults count rows (weights scale-free), so they are fixed
    params = dict(random_state=0, max_epochs=30, batch_size=1000, n_iter_no_change=100)
    params.update(hidden_size=32, learning_rate=1e-2, weight_decay=0.1, schedule="constant")
    weighted = TwoLayerClassifier(**params).fit(X_tr, y_tr, sample_weight=w)
    repeated = TwoLayerClassifier(**params).fit(np.repeat(X_tr, w, axis=0), np.repeat(y_tr, w))
    np.testing.assert_allclose(
        weighted.predict_proba(X_te), repeated.predict_proba(X_te), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)
    unweighted = TwoLayerClassifier(**params).fit(X_tr, y_tr)
    assert not np.allclose(weighted.predict_proba(X_te), unweighted.predict_proba(X_te))
    with pytest.raises(ValueError, match="[Nn]egative"):
        TwoLayerClassifier(**params).fit(X_tr, y_tr, sample_weight=-np.ones(len(y_tr)))


def test_verbose_prints_the_thread_choice_and_the_loss_of_every_epoch(iris, capsys):
    X_tr, _, y_tr, _ = iris
    clf = TwoLayerClassifier(random_state=0, max_epochs=4, verbose=True).fit(X_tr, y_tr)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("BLAS threads: 1 (")  # a small problem: one thread
    assert lines[2:] == [
        f"Iteration {i + 1}, loss = {v:.8f}" for i, v in enumerate(clf.loss_curve_)
    ]


# -- sparse input ---------------------------------------------------------------------------
@pytest.fixture
def sparse_never_dense(monkeypatch):
    """SciPy sparse matrices 64 features wide (digits) that refuse to become dense."""
    import scipy.sparse as sp

    def refusing(original):
        def method(self, *args, **kwargs):
            if self.shape[1] == 64:
                raise AssertionError("the sparse X was densified")
            return original(self, *args, **kwargs)

        return method

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
        for name in ("toarray", "todense"):
            monkeypatch.setattr(cls, name, refusing(getattr(cls, name)))
    return sp


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_trains_as_its_dense_twin(fmt, sparse_never_dense):
    """Sparse X with preprocess='standardize' (scaled, not centred) trains exactly as the dense X
    scaled by scikit-learn's StandardScaler(with_mean=False) with preprocess='none'."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, y = X[:500], y[:500]
    w = np.random.default_rng(0).uniform(0.5, 2, len(y))
    Xs = sparse_never_dense.csr_matrix(X).asformat(fmt)
    params = dict(hidden_size=16, random_state=0, max_epochs=6, early_stopping=True)
    sparse = TwoLayerClassifier(**params).fit(Xs, y, sample_weight=w)
    sparse.partial_fit(Xs, y)
    scaled = StandardScaler(with_mean=False).fit(X, sample_weight=w).transform(X)
    dense = TwoLayerClassifier(preprocess="none", **params).fit(scaled, y, sample_weight=w)
    dense.partial_fit(scaled, y)
    for a, b in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(scaled), atol=1e-9)
    assert sparse.validation_scores_ == dense.validation_scores_


def test_sparse_input_refuses_centring():
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="preprocess='center' would make the sparse X dense"):
        TwoLayerClassifier(preprocess="center").fit(sp.csr_matrix(np.eye(4)), [0, 1, 0, 1])


# -- streaming fit ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_on_a_memmap_streams_it_and_trains_as_in_memory(tmp_path, early_stopping):
    """A memmapped X is preprocessed batch by batch: fit allocates a fraction of X (traced by
    tracemalloc), and the fit equals the one on the same rows in memory, bit for bit."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n, d = 12_000, 400  # 18 MiB of float32
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    X[:] = rng.standard_normal((n, d), dtype=np.float32) * 3 + 1
    y = (X[:, :5].sum(axis=1) > 5).astype(int) + (X[:, 5] > 1)
    X.flush()
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    params = dict(hidden_size=8, max_epochs=2, random_state=0, early_stopping=early_stopping)
    tracemalloc.start()
    streamed = TwoLayerClassifier(**params).fit(mapped, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.5 * X.nbytes, (
        f"fit allocated {peak / 2**20:.1f} MiB for a {X.nbytes / 2**20:.0f} MiB X"
    )
    copied = TwoLayerClassifier(**params).fit(np.array(mapped), y)
    for a, b in zip(streamed.coefs_ + streamed.intercepts_, copied.coefs_ + copied.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert streamed.loss_curve_ == copied.loss_curve_


def test_pixels_are_scaled_not_standardised():
    X, y = load_digits(return_X_y=True)  # integers 0..16, 64 = 8×8 features
    clf = TwoLayerClassifier(random_state=0, max_epochs=3).fit(X[:200], y[:200])
    assert clf.auto_params_["preprocess"] == "scale"
    np.testing.assert_allclose(clf.preprocessor_.factor_, 1 / 16)
    tab = TwoLayerClassifier(random_state=0, max_epochs=3).fit(X[:200] - 1, y[:200])
    assert tab.auto_params_["preprocess"] == "standardize"  # negative values: not pixels


def test_class_weight_balanced_weights_the_loss_as_compute_class_weight():
    from sklearn.utils.class_weight import compute_class_weight

    rng = np.random.default_rng(0)
    y = np.array(["a"] * 60 + ["b"] * 15 + ["c"] * 5)
    X = rng.normal(size=(80, 4))
    seen = []
    clf = TwoLayerClassifier(class_weight="balanced", max_epochs=2, random_state=0)
    clf._training_data = lambda X, y, w, s: (
        seen.append(w) or TwoLayerClassifier._training_data(clf, X, y, w, s)
    )
    clf.fit(X, y)
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    np.testing.assert_allclose(seen[0], expected[np.searchsorted(np.unique(y), y)])
    # a dict multiplies sample_weight; missing classes weigh 1
    seen.clear()
    clf.set_params(class_weight={"c": 4.0}).fit(X, y, sample_weight=np.full(80, 0.5))
    np.testing.assert_allclose(seen[0], np.where(y == "c", 2.0, 0.5))


@pytest.mark.parametrize(
    "class_weight, words",
    [
        ("balance", "class_weight must be None, 'balanced' or a dict"),
        ({"z": 1.0}, "'z' is not a class"),
        ({"a": -1.0}, "must be a finite number >= 0"),
    ],
)
def test_a_bad_class_weight_is_refused_in_one_line(class_weight, words):
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.array(["a", "b"] * 10)
    with pytest.raises(ValueError, match=words):
        TwoLayerClassifier(class_weight=class_weight, max_epochs=1).fit(X, y)


def test_max_epochs_ending_an_unconverged_fit_warns():
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="max_epochs \\(3\\) reached"):
        TwoLayerClassifier(max_epochs=3, random_state=0).fit(X, y)


def test_verbose_shows_what_every_auto_became(capsys):
    X, y = load_iris(return_X_y=True)
    TwoLayerClassifier(verbose=True, max_epochs=1, hidden_size=8, random_state=0).fit(X, y)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("TwoLayerClassifier: auto → ") and "hidden_size" not in first
    assert "weight_decay=0.112" in first and "preprocess=standardize" in first  # 0.3·8·7/150
