"""scikit-learn's own MLP tests, run against twolayer.MLPClassifier.

The installed scikit-learn's copy of ``sklearn/neural_network/tests/test_mlp.py`` is loaded as a
module and its name ``MLPClassifier`` replaced by twolayer's, so each test below is scikit-learn's
function, unchanged, called as pytest would call it (same arguments and fixtures).

In scope: every classifier test whose network has one hidden ReLU layer trained by 'adam' or
'sgd' (IN_SCOPE). Out of scope, and why (OUT_OF_SCOPE): lbfgs, other activations, deeper
networks, multilabel targets, MLPRegressor, and tests that set private attributes of
scikit-learn's implementation. Every test function of the file is in one of the two tables, so a
new scikit-learn test is noticed (test_every_sklearn_test_is_classified).
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import pathlib

import pytest

sklearn = pytest.importorskip("sklearn")

from twolayer import MLPClassifier  # noqa: E402

SOURCE = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"


def _load():
    spec = importlib.util.spec_from_file_location("sklearn_test_mlp_for_twolayer", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.MLPClassifier = MLPClassifier  # the tests look the name up when they run
    return module


sk = _load()

# test id (as scikit-learn's pytest names it) -> positional arguments
IN_SCOPE = {
    "test_alpha": (),
    "test_learning_rate_warmstart": (),
    "test_partial_fit_classes_error": (),
    "test_partial_fit_classification": (),
    "test_partial_fit_unseen_classes": (),
    "test_partial_fit_errors": (),
    "test_predict_proba_multiclass": (),
    "test_tolerance": (),
    "test_verbose_sgd": ("capsys",),
    "test_early_stopping[MLPClassifier]": (MLPClassifier,),
    "test_adaptive_learning_rate": (),
    "test_warm_start_full_iteration[MLPClassifier]": (MLPClassifier,),
    "test_n_iter_no_change": (),
    "test_n_iter_no_change_inf": (),
    "test_early_stopping_stratified": (),
    "test_mlp_early_stopping_string_labels": (),
    "test_preserve_feature_names[MLPClassifier]": (MLPClassifier,),
    "test_mlp_warm_start_with_early_stopping[MLPClassifier]": (MLPClassifier,),
    "test_mlp_warm_start_no_convergence[sgd-MLPClassifier]": (MLPClassifier, "sgd"),
    "test_mlp_warm_start_no_convergence[adam-MLPClassifier]": (MLPClassifier, "adam"),
    "test_mlp_partial_fit_after_fit[MLPClassifier]": (MLPClassifier,),
}

OUT_OF_SCOPE = {
    "test_fit": "logistic activation, and sets scikit-learn's private attributes by hand",
    "test_gradient": "lbfgs and its private _loss_grad_lbfgs; other activations",
    "test_lbfgs_classification": "lbfgs",
    "test_lbfgs_regression": "MLPRegressor, lbfgs",
    "test_lbfgs_classification_maxfun": "lbfgs",
    "test_lbfgs_regression_maxfun": "MLPRegressor, lbfgs",
    "test_multilabel_classification": "multilabel targets (the network is softmax), lbfgs",
    "test_multioutput_regression": "MLPRegressor",
    "test_partial_fit_regression": "MLPRegressor",
    "test_nonfinite_params": "MLPRegressor",
    "test_predict_proba_binary": "logistic activation",
    "test_predict_proba_multilabel": "multilabel targets, lbfgs",
    "test_shuffle": "MLPRegressor",
    "test_sparse_matrices": "lbfgs (sparse input is tested in test_sklearn_mlp.py)",
    "test_warm_start": "lbfgs",
    "test_mlp_classifier_dtypes_casting": "two hidden layers (5, 3)",
    "test_mlp_regressor_dtypes_casting": "MLPRegressor",
    "test_mlp_param_dtypes": "two hidden layers (5, 3)",
    "test_mlp_loading_from_joblib_partial_fit": "MLPRegressor (pickling is tested in "
    "test_sklearn_mlp.py)",
    "test_mlp_diverging_loss": "MLPRegressor, identity activation",
    "test_mlp_sample_weight_with_early_stopping": "MLPRegressor",
    "test_mlp_vs_poisson_glm_equivalent": "MLPRegressor, identity activation, lbfgs",
    "test_minimum_input_sample_size": "MLPRegressor",
}
# the MLPRegressor (and lbfgs) cases of parametrised tests in scope above are out of scope too


@pytest.mark.parametrize("test_id", list(IN_SCOPE))
def test_scikit_learn_mlp(test_id, request):
    name = test_id.split("[")[0]
    args = [
        request.getfixturevalue(a) if isinstance(a, str) and a in ("capsys",) else a
        for a in IN_SCOPE[test_id]
    ]
    getattr(sk, name)(*args)


def test_every_sklearn_test_is_classified():
    names = {n for n, f in inspect.getmembers(sk, inspect.isfunction) if n.startswith("test_")}
    classified = {t.split("[")[0] for t in IN_SCOPE} | set(OUT_OF_SCOPE)
    assert names == classified, (names - classified, classified - names)


def _ids(fn):
    """pytest's ids of a parametrised scikit-learn test (classes by name), as pytest makes them."""
    marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
    names = [[getattr(v, "__name__", str(v)) for v in m.args[1]] for m in marks]
    return {"-".join(combo) for combo in itertools.product(*names)}


def test_in_scope_ids_are_scikit_learns():
    for test_id in IN_SCOPE:
        if "[" in test_id:
            name, param = test_id[:-1].split("[")
            assert param in _ids(getattr(sk, name)), test_id
