"""TwoLayerClassifier: the network as a scikit-learn estimator, trained by the shared loop."""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .data import split_validation
from .data.preprocess import Preprocessor
from .checks import check_classes, check_real_dtype
from .errors import InputError
from .export import predictor_parts
from .layers import log_softmax, softmax
from .net import TwoLayerNet
from .train import TrainConfig, Trainer, check_setting

_T = TrainConfig()


class TwoLayerClassifier(ClassifierMixin, BaseEstimator):
    """Affine → ReLU → affine → softmax classifier, L2-regularised.

    Parameters mirror ``twolayer train``: hidden_size, reg (loss += reg·ΣW²), optimizer
    (sgd, momentum, nesterov, adam, adamw), learning_rate, batch_size ('auto' = min(200, n)),
    max_epochs, schedule, early_stopping (hold out validation_fraction, stop after
    n_iter_no_change epochs without a better validation accuracy, keep the best weights),
    preprocess (none, scale, center, standardize; fitted in fit, applied in predict),
    random_state, dtype, warm_start.
    """

    def __init__(self, hidden_size=100, reg=_T.reg, optimizer=_T.optimizer, learning_rate=_T.learning_rate,
                 batch_size="auto", max_epochs=200, schedule="constant", momentum=_T.momentum,
                 weight_decay=_T.weight_decay, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 preprocess="standardize", random_state=None, dtype="float64", warm_start=False):
        self.hidden_size = hidden_size
        self.reg = reg
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.schedule = schedule
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.preprocess = preprocess
        self.random_state = random_state
        self.dtype = dtype
        self.warm_start = warm_start

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike) -> TwoLayerClassifier:
        """Train for up to max_epochs epochs (continuing from the last fit when warm_start)."""
        X, y = self._validate(X, y, reset=not (self.warm_start and hasattr(self, "net_")))
        if not (self.warm_start and hasattr(self, "net_")):
            self._init(X, y, classes=None)
        yi = self._encode(y)
        Xt = self.preprocessor_.transform(X, self.net_.dtype)
        X_val = y_val = None
        if self.early_stopping:
            seed = int(check_random_state(self.random_state).randint(2 ** 31 - 1))
            Xt, yi, X_val, y_val = split_validation(Xt, yi, self.validation_fraction, seed)
        config = self._config(len(yi), self.max_epochs, self.n_iter_no_change, self.schedule)
        trainer = Trainer(self.net_, config, rng=self._rng())
        trainer.fit(Xt, yi, X_val, y_val)
        self._record(trainer, len(trainer.history["loss"]))
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: Sequence[Any] | np.ndarray | None = None) -> TwoLayerClassifier:
        """One more epoch over (X, y); ``classes`` is required on the first call."""
        first = not hasattr(self, "net_")
        X, y = self._validate(X, y, reset=first)
        if first:
            if classes is None:
                raise InputError("classes must be passed on the first call to partial_fit")
            self._init(X, y, classes=np.asarray(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InputError(f"classes={list(classes)} differ from the classes of the first call {list(self.classes_)}")
        yi = self._encode(y)
        if not hasattr(self, "trainer_"):
            self.trainer_ = Trainer(self.net_, self._config(len(yi), 1, None, "constant"), rng=self._rng())
        t = self.trainer_
        t.fit(self.preprocessor_.transform(X, self.net_.dtype), yi, epochs=t.epoch + 1)
        self._record(t, 1)
        return self

    # -- prediction ---------------------------------------------------------------------
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        return softmax(self._scores(X))

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        return log_softmax(self._scores(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        labels = self._scores(X).argmax(axis=1)  # checks fitting first
        return self.classes_[labels]

    @property
    def coefs_(self) -> list[np.ndarray]:
        check_is_fitted(self, "net_")
        return [self.net_.params["W1"], self.net_.params["W2"]]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "net_")
        return [self.net_.params["b1"], self.net_.params["b2"]]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    # -- internals ----------------------------------------------------------------------
    def _validate(self, X, y, reset):
        _check_kinds(X, "X", "cmMSUV")  # object arrays of numbers are converted by scikit-learn
        _check_kinds(y, "y", "cmMV")  # labels may be strings or objects (classes_)
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _scores(self, X):
        check_is_fitted(self, "net_")
        _check_kinds(X, "X", "cmMSUV")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.net_.scores(self.preprocessor_.transform(X, self.net_.dtype))

    def _rng(self):
        return np.random.default_rng(check_random_state(self.random_state).randint(2 ** 31 - 1))

    def _init(self, X, y, classes):
        check_setting("epochs", self.max_epochs, "max_epochs")
        if self.early_stopping:
            check_setting("patience", self.n_iter_no_change, "n_iter_no_change")
            check_setting("val_fraction", self.validation_fraction, "validation_fraction")
        if isinstance(self.random_state, numbers.Integral):
            check_setting("seed", self.random_state, "random_state")
        self.classes_ = np.unique(y) if classes is None else np.unique(classes)
        check_classes(len(self.classes_), "y")
        self._label_encoder = LabelEncoder().fit(self.classes_)
        self.preprocessor_ = Preprocessor(self.preprocess).fit(X)
        net = TwoLayerNet(X.shape[1], self.hidden_size, len(self.classes_), std="he", dtype=self.dtype,
                          seed=self._rng())
        net.class_names = [str(c) for c in self.classes_]
        self.net_ = net
        self.__dict__.pop("trainer_", None)
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        self.n_iter_ = 0

    def _encode(self, y):
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise InputError(f"y has labels {list(unknown)[:5]} not among the classes {list(self.classes_)[:10]}")
        return self._label_encoder.transform(y).astype(np.intp)

    def _config(self, n, epochs, patience, schedule):
        batch = min(200, n) if self.batch_size == "auto" else self.batch_size
        return TrainConfig(epochs=epochs, batch_size=batch, learning_rate=self.learning_rate, reg=self.reg,
                           optimizer=self.optimizer, momentum=self.momentum, weight_decay=self.weight_decay,
                           schedule=schedule, patience=patience if self.early_stopping else None, seed=None)

    def _record(self, trainer, new_epochs):
        h = trainer.history
        self.loss_curve_ += h["loss"][len(h["loss"]) - new_epochs:]
        self.n_iter_ = len(self.loss_curve_)
        if self.early_stopping and h["val_acc"]:
            self.validation_scores_ = list(h["val_acc"])
            self.best_validation_score_ = max(h["val_acc"])


def _check_kinds(a, name, kinds):
    """The project's one-line refusal of complex, time, bytes, string and void arrays (not lists of
    numbers or object arrays, which scikit-learn converts or refuses itself)."""
    dtype = getattr(a, "dtype", None)
    if dtype is None and isinstance(a, (list, tuple)):
        dtype = np.asarray(a).dtype if len(a) < 1_000_000 else None
    if isinstance(dtype, np.dtype) and dtype.kind in kinds:
        if name == "y":
            check_real_dtype(dtype, "y (the class labels)")
        check_real_dtype(dtype, name)


# -- skl2onnx: TwoLayerClassifier inside a scikit-learn Pipeline ------------------------------
def register_skl2onnx():
    """Teach skl2onnx to convert ``TwoLayerClassifier``, so that ``skl2onnx.to_onnx(pipeline, X)``
    exports a Pipeline ending in one. Outputs: ``label`` (classes_ values) and ``probabilities``
    (a ZipMap of them unless ``options={TwoLayerClassifier: {"zipmap": False}}``)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    update_registered_converter(TwoLayerClassifier, "TwoLayerTwoLayerClassifier",
                                calculate_linear_classifier_output_shapes, _skl2onnx_convert,
                                options={"zipmap": [True, False, "columns"], "nocl": [True, False]})


def _skl2onnx_convert(scope, operator, container):
    from onnx import TensorProto

    clf = operator.raw_operator
    classes = clf.classes_
    if classes.dtype.kind in "iub":
        classes = classes.astype(np.int64)
    elif classes.dtype.kind in "OUS":
        classes = np.array([str(c) for c in classes], dtype=str)
    else:
        raise InputError(f"TwoLayerClassifier: classes of dtype {classes.dtype} cannot be ONNX labels")
    prefix = scope.get_unique_variable_name("twolayer_") + "_"
    x = prefix + "X32"
    container.add_node("Cast", [operator.inputs[0].full_name], [x], to=TensorProto.FLOAT,
                       name=scope.get_unique_operator_name("Cast"))
    pre = clf.preprocessor_
    init, nodes = predictor_parts(clf.net_.params, pre.offset_, pre.factor_, classes, X=x,
                                  label=operator.outputs[0].full_name, proba=operator.outputs[1].full_name,
                                  index=prefix + "index", prefix=prefix)
    for name, array in init.items():
        if array.dtype.kind == "U":
            container.add_initializer(name, TensorProto.STRING, list(array.shape), [v.encode() for v in array])
        else:
            container.add_initializer(name, TensorProto.INT64 if array.dtype == np.int64 else TensorProto.FLOAT,
                                      list(array.shape), array.ravel().tolist())
    for op, inputs, outputs, attrs in nodes:
        container.add_node(op, inputs, outputs, name=scope.get_unique_operator_name(op), **attrs)
