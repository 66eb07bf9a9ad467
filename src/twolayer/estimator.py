"""TwoLayerClassifier: the network as a scikit-learn estimator, trained by the shared loop."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

try:  # scikit-learn is an extra: the core install (the command line) never imports it
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as e:  # not installed, or too old (no validate_data)
    raise ImportError(
        f'TwoLayerClassifier needs scikit-learn 1.7 or later ({e}): pip install "twolayer[sklearn]"'
    ) from None

from . import callbacks as cb
from . import defaults
from .checks import as_array, check_classes, check_real_dtype, is_real
from .data import split_validation
from .data.preprocess import Preprocessor
from .errors import InputError
from .export import predictor_parts
from .layers import log_softmax, softmax
from .net import TwoLayerNet
from .settings import is_auto
from .train import TrainConfig, Trainer, check_setting

_T = TrainConfig()
_SPELLED = {"epochs": "max_epochs", "patience": "n_iter_no_change"}  # the loop's names, ours
_SPARSE = ["csr", "csc"]  # SciPy sparse X: the first layer multiplies it as it is


class TwoLayerClassifier(ClassifierMixin, BaseEstimator):
    """Affine → ReLU → affine → softmax classifier, L2-regularised, trained by twolayer's loop.

    Parameters
    ----------
    hidden_size : int or 'auto', default='auto'
        Units in the hidden (ReLU) layer. 'auto': 2·sqrt(n_samples) rounded to 16, within
        max(64, 4·n_classes)..256 (512 for images); see ``twolayer.defaults`` and the README.
    reg : float, default=0.0
        L2 strength: loss += reg·(ΣW1² + ΣW2²); biases are not regularised.
    optimizer : {'sgd', 'momentum', 'nesterov', 'adam', 'adamw'}, default='adamw'
        Update rule.
    learning_rate : float or 'auto', default='auto'
        Base step size. 'auto' is 0.02·(batch_size / n_samples)^(1/3): 0.02 when an epoch is one
        batch, smaller as an epoch holds more steps, since the stopping rule judges whole epochs
        (exponent 1/3: between 1/4, fewer epochs but worse on MNIST, and 1/2, slower on digits;
        see benchmarks/bench_estimator.py). The command line keeps 2e-3 for its longer, scheduled
        runs on images.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is min(200, n_samples).
    max_epochs : int or 'auto', default='auto'
        Upper bound on passes over the training data. 'auto': 20,000 optimizer steps, within
        200..2,000 epochs.
    schedule : {'constant', 'step', 'cosine', 'plateau', 'auto'}, default='auto'
        Learning-rate schedule over max_epochs; 'plateau' (auto) halves the rate whenever the
        monitored score (validation score, else training loss) has not improved by tol for
        max(3, n_iter_no_change // 4) epochs (``callbacks.ReduceLROnPlateau``; pass one in
        ``callbacks`` for other factors).
    momentum : float, default=0.9
        Momentum of the 'momentum' and 'nesterov' optimizers.
    weight_decay : float or 'auto', default='auto'
        AdamW's decoupled weight decay: w -= learning_rate·weight_decay·w every step. 'auto':
        0.3·P / n_samples within 0.001..1, P = hidden_size·(n_features + n_classes) weights.
    early_stopping : bool or 'auto', default='auto'
        'auto' is False (every row trains; measured better than holding out 10%), True when
        ``scoring`` is given. True: hold out validation_fraction of the training data (stratified) and stop when its
        accuracy has not improved by more than tol for n_iter_no_change epochs; the weights of
        the best epoch are kept. When False, training stops when the training loss has not
        improved by more than tol for n_iter_no_change epochs, keeping the last weights.
    validation_fraction : float, default=0.1
        Share of the training data held out when early_stopping is True.
    n_iter_no_change : int or 'auto', default='auto'
        Epochs in a row without an improvement greater than tol before training stops. 'auto':
        200 optimizer steps' worth of epochs, within 10..100 (an epoch of 200 rows is one step).
    tol : float, default=1e-4
        Smallest improvement of the training loss (or validation accuracy) that counts.
    preprocess : {'auto', 'none', 'scale', 'center', 'standardize'}, default='auto'
        Per-feature preprocessing (auto: pixels divided by their full scale for image-like X —
        integers in 0..255 or values in [0, 1], with a square number of features of side >= 8 —
        else standardize),
        fitted in fit (weighted by sample_weight) and applied in predict. X may be SciPy sparse
        (CSR/CSC, e.g. a TfidfVectorizer's output): it is never densified; 'standardize' then
        divides by the standard deviation without centring, and 'center' is refused.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split.
    dtype : {'float64', 'float32'}, default='float64'
        Floating-point type of the weights and the arithmetic.
    warm_start : bool, default=False
        When True, fit continues from the weights of the previous fit.
    verbose : bool, default=False
        Print the training loss (and validation accuracy) after every epoch.
    callbacks : list of callables or objects with ``on_epoch_end(trainer)``, default=None
        Run after every epoch (fit and partial_fit); one returning True stops training. See
        ``twolayer.callbacks`` (logging, custom stopping, ``ReduceLROnPlateau``).
    scoring : str or callable, default=None
        With early_stopping, the validation score to stop on and select the best epoch by: any
        scikit-learn scorer name ('f1_macro', 'neg_log_loss', ...) or ``scorer(est, X, y)``;
        None is accuracy.
    clip_grad_norm : float, default=None
        When set, every step's gradients are scaled so that their global L2 norm is at most this.
    threads : int, default=None
        BLAS threads while training, 1..1024; None chooses by the problem's size and the cores other
        processes leave free (verbose prints the choice and why).
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, multiplying sample_weight: 'balanced' is
        n_samples / (n_classes · count of the class), as scikit-learn's compute_class_weight; a
        dict maps class labels to weights (missing classes weigh 1). Preprocessing statistics
        are not class-weighted. None (the default): every row weighs 1 — see the README's
        Defaults for the measured effect on imbalanced data.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X had string column names.
    loss_ : float
        Training loss (weighted mean cross-entropy plus the L2 term) of the last epoch.
    best_loss_ : float or None
        Smallest training loss of any epoch; None when early_stopping is True.
    loss_curve_ : list of float
        Training loss of every epoch.
    validation_scores_ : list of float or None
        Validation accuracy of every epoch when early_stopping is True, else None.
    best_validation_score_ : float or None
        Best validation accuracy when early_stopping is True, else None.
    n_iter_ : int
        Epochs trained.
    t_ : int
        Training samples seen (n_iter_ × n_samples for fit).
    coefs_ : list of ndarray
        [W1 of shape (n_features, hidden_size), W2 of shape (hidden_size, n_classes)].
    intercepts_ : list of ndarray
        [b1, b2].
    n_layers_ : int
        Layers, input and output included: 3.
    n_outputs_ : int
        Output units: one per class (softmax).
    out_activation_ : str
        'softmax'.
    net_ : TwoLayerNet
        The trained network, carrying the fitted preprocessing (``preprocessor_``): its
        ``predict`` takes raw rows, and ``save(path)`` writes the model.npz that ``twolayer
        predict`` answers alike.

    auto_params_ : dict
        The value fit used for every parameter that may be 'auto' (decided or as given).

    Warns ConvergenceWarning when ``fit`` ends at max_epochs before its stopping rule fired.
    """

    def __init__(
        self,
        hidden_size="auto",
        reg=_T.reg,
        optimizer=_T.optimizer,
        learning_rate="auto",
        batch_size="auto",
        max_epochs="auto",
        schedule="auto",
        momentum=_T.momentum,
        weight_decay="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change="auto",
        tol=1e-4,
        preprocess="auto",
        random_state=None,
        dtype="float64",
        warm_start=False,
        verbose=False,
        callbacks=None,
        scoring=None,
        clip_grad_norm=None,
        threads=None,
        class_weight=None,
    ):
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
        self.tol = tol
        self.preprocess = preprocess
        self.random_state = random_state
        self.dtype = dtype
        self.warm_start = warm_start
        self.verbose = verbose
        self.callbacks = callbacks
        self.scoring = scoring
        self.clip_grad_norm = clip_grad_norm
        self.threads = threads
        self.class_weight = class_weight

    # -- fitting ------------------------------------------------------------------------
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> TwoLayerClassifier:
        """Train until the loss (or validation accuracy) stops improving, at most max_epochs
        epochs (continuing from the last fit when warm_start).

        sample_weight : array-like of shape (n_samples,), default=None
            Weights >= 0 of the training rows: each batch's loss is their weighted mean, and
            preprocessing statistics are weighted alike. The validation split is unweighted.
        """
        stream = _streams(X)  # before validation, which may turn a memmap into a plain view
        X, y = self._validate(X, y, reset=not (self.warm_start and hasattr(self, "net_")))
        weights: np.ndarray | None = None
        if sample_weight is not None:
            weights = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        p = self._resolve(X, y, weights)
        if self.verbose:  # what every 'auto' became, before the first epoch's line
            print(f"TwoLayerClassifier: auto → {_words(self._chosen)}")
        if p["early_stopping"]:  # on every fit, warm or not (split_validation takes it as checked)
            check_setting("val_fraction", self.validation_fraction, "validation_fraction")
        if self.scoring is not None and not p["early_stopping"]:
            raise InputError(
                "scoring= needs early_stopping=True: the score is computed on the held-out "
                "validation split"
            )
        if not (self.warm_start and hasattr(self, "net_")):
            self._init(X, y, classes=None, sample_weight=weights)
        Xt, yi, X_val, y_val, weights, val_raw, transform = self._training_data(
            X, y, self._class_weighted(y, weights), stream
        )
        config = self._config(len(yi), p["max_epochs"], p["n_iter_no_change"], p["schedule"])
        trainer = Trainer(self.net_, config, rng=self._rng(), **self._threads())
        on_epoch = self._steer(trainer, val_raw)
        trainer.fit(
            Xt, yi, X_val, y_val, sample_weight=weights, on_epoch=on_epoch, transform=transform
        )
        self._record(trainer, len(trainer.history["loss"]), len(yi))
        if trainer.stop_reason == "completed" and trainer.epoch >= p["max_epochs"]:
            warnings.warn(
                f"TwoLayerClassifier: max_epochs ({p['max_epochs']}) reached before the "
                f"{'validation accuracy' if p['early_stopping'] else 'training loss'} stopped "
                "improving; raise max_epochs to train to convergence",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _training_data(self, X, y, weights, stream):
        """Network inputs for the loop, and the validation split when early_stopping. A
        streamed X (a memmap, or over STREAM_BYTES) is not copied: the loop gathers its
        training rows batch by batch and preprocesses each batch (``transform``)."""
        yi = self._encode(y)
        pre, dtype = self.preprocessor_, self.net_.dtype
        transform = (lambda xb: pre.transform(xb, dtype)) if stream else None
        Xt = X if stream else pre.transform(X, dtype)
        X_val = y_val = val_raw = None
        if self._auto["early_stopping"]:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            rows = np.arange(len(yi))[:, None]
            train_rows, _, val_rows, _ = split_validation(rows, yi, self.validation_fraction, seed)
            train_rows, val_rows = train_rows[:, 0], val_rows[:, 0]
            X_val, y_val = Xt[val_rows], yi[val_rows]  # raw rows when streamed: transform applies
            Xt = _Rows(X, train_rows) if stream else Xt[train_rows]
            yi = yi[train_rows]
            val_raw = (X[val_rows], np.asarray(y)[val_rows])
            if weights is not None:
                weights = weights[train_rows]
        return Xt, yi, X_val, y_val, weights, val_raw, transform

    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        classes: Sequence[Any] | np.ndarray | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> TwoLayerClassifier:
        """One more epoch over (X, y); ``classes`` is required on the first call.
        ``sample_weight``: one weight >= 0 per row, weighting each batch's mean loss (the
        preprocessing statistics, fitted on the first call, are weighted alike)."""
        first = not hasattr(self, "net_")
        X, y = self._validate(X, y, reset=first)
        weights: np.ndarray | None = None
        if sample_weight is not None:
            weights = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if first:
            if classes is None:
                raise InputError("classes must be passed on the first call to partial_fit")
            self._resolve(X, np.asarray(classes), weights)
            self._init(X, y, classes=np.asarray(classes), sample_weight=weights)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InputError(
                f"classes={list(classes)} differ from the classes of the first call {list(self.classes_)}"
            )
        yi = self._encode(y)
        if not hasattr(self, "trainer_"):
            self.trainer_ = Trainer(
                self.net_,
                self._config(len(yi), 1, None, "constant"),
                rng=self._rng(),
                **self._threads(),
            )
        t = self.trainer_
        t.fit(
            self.preprocessor_.transform(X, self.net_.dtype),
            yi,
            epochs=t.epoch + 1,
            sample_weight=self._class_weighted(y, weights),
            on_epoch=self._steer(t, None),
        )
        self._record(t, 1, len(yi))
        return self

    # -- prediction ---------------------------------------------------------------------
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        return softmax(self._scores(X))

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        return log_softmax(self._scores(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        labels = self._scores(X).argmax(axis=1)  # checks fitting first
        return self.classes_[labels]

    def save(self, path) -> None:
        """Write the network and its preprocessing as a model.npz (atomically): ``twolayer
        predict``, ``evaluate``, ``export`` and ``TwoLayerNet.load(path).predict`` then answer
        as this estimator does."""
        check_is_fitted(self, "net_")
        self.net_.save(path)

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
        tags.input_tags.sparse = True
        return tags

    # -- internals ----------------------------------------------------------------------
    def _validate(self, X, y, reset):
        _check_kinds(X, "X", "cmMSUV")  # object arrays of numbers are converted by scikit-learn
        _check_kinds(y, "y", "cmMV")  # labels may be strings or objects (classes_)
        X, y = validate_data(
            self, X, y, reset=reset, dtype=[np.float64, np.float32], accept_sparse=_SPARSE
        )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _scores(self, X):
        check_is_fitted(self, "net_")
        _check_kinds(X, "X", "cmMSUV")
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=_SPARSE
        )
        return self.net_.scores(self.preprocessor_.transform(X, self.net_.dtype))

    def _steer(self, trainer, val_raw):
        """Wire scoring=, clip_grad_norm= and callbacks= into the trainer; returns its on_epoch
        hook (schedule='plateau' is the loop's own, see Trainer.plateau)."""
        trainer.clip_norm = check_setting("clip_grad_norm", self.clip_grad_norm)
        if self.scoring is not None and val_raw is not None:
            from sklearn.metrics import check_scoring

            scorer = check_scoring(self, scoring=self.scoring)
            trainer.val_score = lambda t: float(scorer(self, *val_raw))
        hooks = list(self.callbacks or [])
        if self.verbose:
            hooks.insert(0, self._report)
        return cb.run_all(hooks) if hooks else None

    def _threads(self):
        return {"threads": self.threads, "note": print if self.verbose else None}

    def _rng(self):
        return np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))

    def _init(self, X, y, classes, sample_weight=None):
        if isinstance(self.random_state, numbers.Integral):
            check_setting("seed", self.random_state, "random_state")
        self.classes_ = np.unique(y) if classes is None else np.unique(classes)
        check_classes(len(self.classes_), "y")
        self._label_encoder = LabelEncoder().fit(self.classes_)
        p = self._auto
        self.preprocessor_ = Preprocessor(p["preprocess"], pixel_max=p["pixel_max"]).fit(
            X, sample_weight=sample_weight
        )
        net = TwoLayerNet(
            X.shape[1],
            p["hidden_size"],
            len(self.classes_),
            std="he",
            dtype=self.dtype,
            seed=self._rng(),
        )
        net.class_names = [str(c) for c in self.classes_]
        net.preprocessor = self.preprocessor_  # so that net_ serves raw rows, as the estimator
        self.net_ = net
        self.n_layers_, self.n_outputs_, self.out_activation_ = 3, len(self.classes_), "softmax"
        self.__dict__.pop("trainer_", None)
        self.loss_curve_ = []
        self.validation_scores_ = [] if p["early_stopping"] else None
        self.best_validation_score_ = None
        self.n_iter_ = 0
        self.t_ = 0

    def _resolve(self, X, y, sample_weight=None):
        """Every 'auto' parameter decided from the data (twolayer.defaults), the others checked:
        the values fit uses, kept in ``auto_params_``. The rules count the rows, whatever their
        weights: scaling every sample weight by one constant leaves the fit as it was."""
        n, d = X.shape
        n_classes = len(np.unique(y))
        pixel_max = None if hasattr(X, "tocsr") else defaults.pixel_range(X)
        image = pixel_max is not None and defaults.square_side(d) is not None
        s = defaults.Shape(n, d, n_classes, image)
        given = {
            "hidden_size": self.hidden_size,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "epochs": self.max_epochs,
            "patience": self.n_iter_no_change,
            "early_stopping": self.early_stopping,
        }
        for name, value in given.items():
            if name != "early_stopping" and not is_auto(value):
                check_setting(name, value, _SPELLED.get(name))
        p = {k: v for k, v in given.items() if not is_auto(v)}
        if "batch_size" in p:
            p["batch_size"] = min(p["batch_size"], n)
        rules = defaults.tabular(s, p.get("batch_size"))
        if self.scoring is not None:  # a validation score asks for the validation split
            rules["early_stopping"] = True
        if "hidden_size" in p:
            rules["weight_decay"] = defaults.weight_decay(s, p["hidden_size"])
        early = self.early_stopping
        if not (is_auto(early) or isinstance(early, (bool, np.bool_))):
            raise InputError(f"early_stopping must be True, False or 'auto', got {early!r}")
        p = {**rules, **p}
        p["max_epochs"], p["n_iter_no_change"] = p.pop("epochs"), p.pop("patience")
        p["early_stopping"] = bool(p["early_stopping"])
        mode = self.preprocess
        p["preprocess"] = ("scale" if image else "standardize") if is_auto(mode) else mode
        p["pixel_max"] = pixel_max if image else None
        self._auto = p
        self.auto_params_ = {k: v for k, v in p.items() if k != "pixel_max"}
        auto = [_SPELLED.get(k, k) for k, v in {**given, "preprocess": mode}.items() if is_auto(v)]
        self._chosen = {k: self.auto_params_[k] for k in auto}
        return p

    def _class_weighted(self, y, weights):
        """The rows' weights in the loss: sample_weight times class_weight (None: unweighted).
        'balanced' counts the classes of this call's y."""
        cw = self.class_weight
        if cw is None:
            return weights
        yi = self._encode(y)
        if isinstance(cw, str) and cw == "balanced":
            per_class = defaults.class_weights(yi, len(self.classes_))
        elif isinstance(cw, dict):
            bad = [k for k, v in cw.items() if not (is_real(0)(v))]
            if bad:
                raise InputError(
                    f"class_weight: the weight of class {bad[0]!r} must be a finite number >= 0, got {cw[bad[0]]!r}"
                )
            unknown = [k for k in cw if k not in set(self.classes_.tolist())]
            if unknown:
                raise InputError(
                    f"class_weight: {unknown[0]!r} is not a class (the classes are {list(self.classes_)[:10]})"
                )
            per_class = np.array([float(cw.get(c, 1.0)) for c in self.classes_.tolist()])
        else:
            raise InputError(
                f"class_weight must be None, 'balanced' or a dict of class weights, got {cw!r}"
            )
        w = per_class[yi]
        return w if weights is None else w * weights

    def _encode(self, y):
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise InputError(
                f"y has labels {list(unknown)[:5]} not among the classes {list(self.classes_)[:10]}"
            )
        return self._label_encoder.transform(y).astype(np.intp)

    def _config(self, n, epochs, patience, schedule):
        p = self._auto
        return TrainConfig(
            epochs=epochs,
            batch_size=p["batch_size"],
            learning_rate=p["learning_rate"],
            reg=self.reg,
            optimizer=self.optimizer,
            momentum=self.momentum,
            weight_decay=p["weight_decay"],
            schedule=schedule,
            patience=patience,
            tol=self.tol,
            seed=None,
        )

    def _record(self, trainer, new_epochs, n_samples):
        h = trainer.history
        self.loss_curve_ += h["loss"][len(h["loss"]) - new_epochs :]
        self.n_iter_ = len(self.loss_curve_)
        self.t_ += new_epochs * n_samples
        self.loss_ = self.loss_curve_[-1]
        early = self._auto["early_stopping"]
        self.best_loss_ = None if early else min(self.loss_curve_)
        scores = trainer.val_scores or h["val_acc"]
        if early and scores:
            self.validation_scores_ = list(scores)
            self.best_validation_score_ = max(scores)

    @staticmethod
    def _report(trainer):
        h = trainer.history
        line = f"Iteration {h['epoch'][-1]}, loss = {h['loss'][-1]:.8f}"
        if h["val_acc"][-1] is not None:
            line += f", validation accuracy = {h['val_acc'][-1]:.4f}"
        print(line)


STREAM_BYTES = 256 * 2**20  # a larger X is preprocessed batch by batch, not copied whole


def _streams(X):
    """Whether fit should stream X: a NumPy memmap, or a dense array of STREAM_BYTES or more."""
    return isinstance(X, np.memmap) or (
        isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.nbytes >= STREAM_BYTES
    )


class _Rows:
    """Rows ``rows`` of X, gathered on demand (the loop's Batch calls ``take``): the training
    part of a streamed X without copying it."""

    def __init__(self, X, rows):
        self.X, self.rows = X, rows
        self.shape = (len(rows), X.shape[1])
        self.dtype = X.dtype

    def take(self, idx, axis=0, out=None, mode="raise"):
        return self.X.take(self.rows.take(idx, mode=mode), axis=axis, out=out, mode=mode)


def _words(params):
    return ", ".join(f"{k}={f'{v:.3g}' if isinstance(v, float) else v}" for k, v in params.items())


def _check_kinds(a, name, kinds):
    """The project's one-line refusal of complex, time, bytes, string and void arrays (not lists of
    numbers or object arrays, which scikit-learn converts or refuses itself)."""
    dtype = getattr(a, "dtype", None)
    if dtype is None and isinstance(a, (list, tuple)):
        dtype = as_array(a, name).dtype if len(a) < 1_000_000 else None
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

    update_registered_converter(
        TwoLayerClassifier,
        "TwoLayerTwoLayerClassifier",
        calculate_linear_classifier_output_shapes,
        _skl2onnx_convert,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )


def _skl2onnx_convert(scope, operator, container):
    from onnx import TensorProto

    clf = operator.raw_operator
    classes = _onnx_labels(clf.classes_)
    prefix = scope.get_unique_variable_name("twolayer_") + "_"
    x = prefix + "X32"
    container.add_node(
        "Cast",
        [operator.inputs[0].full_name],
        [x],
        to=TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )
    pre = clf.preprocessor_
    init, nodes = predictor_parts(
        clf.net_.params,
        pre.offset_,
        pre.factor_,
        classes,
        X=x,
        label=operator.outputs[0].full_name,
        proba=operator.outputs[1].full_name,
        index=prefix + "index",
        prefix=prefix,
    )
    for name, array in init.items():
        _add_initializer(container, name, array)
    for op, inputs, outputs, attrs in nodes:
        container.add_node(op, inputs, outputs, name=scope.get_unique_operator_name(op), **attrs)


def _onnx_labels(classes):
    """The classes as ONNX can label with them: int64, or strings."""
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind in "OUS":
        return np.array([str(c) for c in classes], dtype=str)
    raise InputError(f"TwoLayerClassifier: classes of dtype {classes.dtype} cannot be ONNX labels")


def _add_initializer(container, name, array):
    from onnx import TensorProto

    if array.dtype.kind == "U":
        container.add_initializer(
            name, TensorProto.STRING, list(array.shape), [v.encode() for v in array]
        )
    else:
        container.add_initializer(
            name,
            TensorProto.INT64 if array.dtype == np.int64 else TensorProto.FLOAT,
            list(array.shape),
            array.ravel().tolist(),
        )
