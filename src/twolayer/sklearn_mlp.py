"""twolayer.MLPClassifier: scikit-learn's MLPClassifier (signature, defaults, fitted attributes,
warnings) for one hidden ReLU layer, on twolayer's network and update rules.

The loop mirrors scikit-learn's ``_fit_stochastic`` step for step, drawing from the random state
in the same order (Glorot-uniform weights and biases, one shuffle per epoch, the stratified
validation split), so that with three or more classes the fitted weights equal MLPClassifier's
up to rounding. One deliberate difference: the output layer is always a softmax (one unit per
class), so a binary problem has two output units where MLPClassifier has one logistic unit.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as _SkMLPClassifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils import shuffle as _shuffle
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .errors import InputError
from .layers import softmax
from .net import TwoLayerNet
from .optim import SGD, Adam

_SPARSE = ["csr", "csc"]
_FLOATS = (np.float64, np.float32)


class _SklearnAdam(Adam):
    """twolayer's Adam with ε added to √v, not √v̂: scikit-learn's form of the rule."""

    eps_on_v_hat = False


class SGDSchedule:
    """scikit-learn's SGDOptimizer around twolayer's SGD rule: ``learning_rate`` is the current
    step; 'invscaling' sets it to learning_rate_init / (t + 1)^power_t after every epoch (t the
    samples seen), 'adaptive' divides it by 5 when an epoch brings no improvement."""

    def __init__(self, learning_rate_init, lr_schedule, momentum, nesterov, power_t):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.rule = SGD(momentum=momentum, nesterov=nesterov and momentum > 0)

    def update_params(self, params, grads):
        self.rule.step(params, grads, self.learning_rate)

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(f"{msg} Setting learning rate to {self.learning_rate:f}")
        return False


class AdamSchedule:
    """scikit-learn's AdamOptimizer around twolayer's Adam rule: ``learning_rate`` is the last
    step's bias-corrected rate, learning_rate_init·√(1-β2^t)/(1-β1^t)."""

    def __init__(self, learning_rate_init, beta_1, beta_2, epsilon):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.rule = _SklearnAdam(beta1=beta_1, beta2=beta_2, eps=epsilon)

    def update_params(self, params, grads):
        r = self.rule
        r.step(params, grads, self.learning_rate_init)
        self.learning_rate = (
            self.learning_rate_init * np.sqrt(1 - r.beta2**r.t) / (1 - r.beta1**r.t)
        )

    def iteration_ends(self, time_step):
        pass

    def trigger_stopping(self, msg, verbose):
        if verbose:
            print(msg + " Stopping.")
        return True


def _stochastic(estimator):
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            f"{estimator.solver} is not stochastic."
        )
    return True


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier with one hidden ReLU layer: scikit-learn's
    ``sklearn.neural_network.MLPClassifier``, same parameters, defaults, fitted attributes and
    warnings, trained by twolayer's network and update rules.

    ``from twolayer import MLPClassifier`` replaces ``from sklearn.neural_network import
    MLPClassifier`` for networks it covers: ``hidden_layer_sizes`` an int or a 1-tuple,
    ``activation='relu'``, ``solver`` 'adam' or 'sgd'. Deeper networks, other activations,
    'lbfgs' and multilabel targets are refused with a ValueError that says so.

    Parameters are MLPClassifier's (see its documentation); in brief: ``alpha`` adds
    0.5·alpha·ΣW² / (the batch's sample-weight sum) to each batch's loss; ``learning_rate`` is the
    schedule ('constant', 'invscaling': learning_rate_init / (t+1)^power_t with t the samples
    seen, 'adaptive': divided by 5 after n_iter_no_change epochs without improvement;
    'sgd' only), ``learning_rate_init`` its start; ``tol`` and ``n_iter_no_change`` stop
    training when the training loss (or, with ``early_stopping``, the accuracy on a stratified
    ``validation_fraction`` of the data) has not improved by tol for more than
    n_iter_no_change epochs in a row. ``max_fun`` is accepted and unused (it bounds lbfgs).

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_,
    coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_ (3),
    out_activation_ ('softmax'), as MLPClassifier's.
    n_outputs_ : int
        Output units: the number of classes (MLPClassifier has 1 for binary problems).
    net_ : TwoLayerNet
        The trained network (no preprocessing: MLPClassifier has none); ``save(path)`` writes
        it as a model.npz that ``twolayer predict`` and ``TwoLayerNet.load`` answer alike.
    """

    _parameter_constraints: dict = dict(_SkMLPClassifier._parameter_constraints)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None):
        """Fit the model to X and y (sample_weight: one weight per row, as MLPClassifier)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic)
    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: Sequence[Any] | np.ndarray | None = None,
    ):
        """One epoch over (X, y); ``classes`` is required on the first call."""
        self._check_params()
        if self._first_partial_fit(classes):
            self._label_binarizer = LabelBinarizer().fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _first_partial_fit(self, classes):
        # sklearn.utils.multiclass._check_partial_fit_first_call, which is private
        if getattr(self, "classes_", None) is None and classes is None:
            raise InputError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        if getattr(self, "classes_", None) is not None:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise InputError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {self.classes_!r}"
                )
            return False
        self.classes_ = unique_labels(classes)
        return True

    def _fit(self, X, y, sample_weight, incremental):
        hidden = self._check_params()
        first_pass = not hasattr(self, "net_") or (not self.warm_start and not incremental)
        X, codes, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X.shape[1], hidden, X.dtype)
        self._fit_stochastic(X, codes, Y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in self.net_.params.values()):
            raise InputError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _check_params(self):
        """scikit-learn's parameter table, then what one hidden ReLU layer cannot do."""
        self._validate_params()
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if len(sizes) != 1:
            raise InputError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} asks for {len(sizes)} hidden "
                "layers; twolayer.MLPClassifier has exactly one (an int or a 1-tuple); use "
                "sklearn.neural_network.MLPClassifier for other depths"
            )
        if not isinstance(sizes[0], numbers.Integral) or isinstance(sizes[0], bool):
            raise InputError(f"hidden_layer_sizes must be an integer, got {sizes[0]!r}")
        if sizes[0] <= 0:
            raise InputError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        if self.activation != "relu":
            raise InputError(
                f"activation={self.activation!r} is not supported: twolayer.MLPClassifier's "
                "hidden layer is ReLU (activation='relu')"
            )
        if self.solver not in ("adam", "sgd"):
            raise InputError(
                f"solver={self.solver!r} is not supported: twolayer.MLPClassifier trains on "
                "minibatches (solver='adam' or 'sgd')"
            )
        return int(sizes[0])

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, accept_sparse=_SPARSE, multi_output=True, dtype=_FLOATS, reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            raise InputError(
                "multilabel (or multi-output) targets are not supported: the network is "
                "softmax, one class per row; use sklearn.neural_network.MLPClassifier"
            )
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise InputError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise InputError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        if hasattr(X, "tocsr"):
            X = X.tocsr()  # rows are what batches take
        Y = self._label_binarizer.transform(y).astype(bool)  # what the validation split stratifies
        codes = np.searchsorted(self.classes_, y).astype(np.intp)
        return X, codes, Y

    def _initialize(self, n_features, hidden, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = len(self.classes_)
        self.n_layers_ = 3
        self.out_activation_ = "softmax"
        net = TwoLayerNet(n_features, hidden, self.n_outputs_, std=0.0, dtype=dtype)
        units = (n_features, hidden, self.n_outputs_)
        for layer, (fan_in, fan_out) in enumerate(zip(units, units[1:]), start=1):
            # Glorot-uniform weights and biases, drawn as MLPClassifier draws them
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            net.params[f"W{layer}"][...] = self._random_state.uniform(
                -bound, bound, (fan_in, fan_out)
            )
            net.params[f"b{layer}"][...] = self._random_state.uniform(-bound, bound, fan_out)
        net.class_names = [str(c) for c in self.classes_]
        self.net_ = net
        self._best_params = {k: v.copy() for k, v in net.params.items()}
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _make_optimizer(self):
        if self.solver == "sgd":
            return SGDSchedule(
                self.learning_rate_init,
                self.learning_rate,
                self.momentum,
                self.nesterovs_momentum,
                self.power_t,
            )
        return AdamSchedule(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _split(self, X, codes, Y, sample_weight):
        """Training rows (None: all of them) and the validation set (X, labels, weights)."""
        if not self.early_stopping:
            return None, None
        train_rows, val_rows = train_test_split(
            np.arange(X.shape[0]),
            random_state=self._random_state,
            test_size=self.validation_fraction,
            # as MLPClassifier: stratified when its output is one unit (binary), else not
            stratify=Y if Y.shape[1] == 1 else None,
        )
        if val_rows.shape[0] < 2:
            raise InputError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        sw_val = None if sample_weight is None else sample_weight[val_rows]
        return train_rows, (X[val_rows], self.classes_[codes[val_rows]], sw_val)

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n))

    def _fit_stochastic(self, X, codes, Y, sample_weight, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer()
        if self.early_stopping and incremental:
            raise InputError("partial_fit does not support early_stopping=True")
        train_rows, val = self._split(X, codes, Y, sample_weight)
        n = X.shape[0] if train_rows is None else train_rows.shape[0]
        batch = self._batch_size(n)
        work = self.net_.workspace(batch)
        xbuf = None if hasattr(X, "tocsr") else np.empty((batch, X.shape[1]), X.dtype)
        order = np.arange(n)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    order = _shuffle(order, random_state=self._random_state)
                self._epoch(X, codes, sample_weight, train_rows, order, batch, work, xbuf)
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(val)
                self._optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._optimizer.trigger_stopping(self._stop_message(), self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if self.early_stopping:
            for k, v in self._best_params.items():
                self.net_.params[k][...] = v

    def _epoch(self, X, codes, sample_weight, train_rows, order, batch, work, xbuf):
        """One pass over the training rows in ``order``: batch, forward-backward, update."""
        net, n = self.net_, order.shape[0]
        total = 0.0
        contiguous = not self.shuffle and train_rows is None
        for sl in gen_batches(n, batch):
            rows = order[sl] if train_rows is None else train_rows[order[sl]]
            nb = rows.shape[0]
            if contiguous:
                xb = X[sl]
            elif xbuf is None:
                xb = X[rows]  # sparse rows stay sparse
            else:
                xb = np.take(X, rows, axis=0, out=xbuf[:nb])
            wb = None if sample_weight is None else sample_weight[rows]
            sw_sum = nb if wb is None else float(wb.sum())
            # MLPClassifier's penalty 0.5·alpha·ΣW²/sw_sum is twolayer's reg·ΣW²
            with np.errstate(over="ignore", invalid="ignore"):
                loss, grads, _ = net.forward_backward(
                    xb, codes[rows], 0.5 * self.alpha / sw_sum, work=work, weights=wb
                )
            total += loss * nb
            self._optimizer.update_params(net.params, grads)
        self.n_iter_ += 1
        self.loss_ = total / n

    def _stop_message(self):
        what = "Validation score" if self.early_stopping else "Training loss"
        return (
            f"{what} did not improve more than tol={self.tol:f} "
            f"for {self.n_iter_no_change:.0f} consecutive epochs."
        )

    def _update_no_improvement_count(self, val):
        if val is not None:
            X_val, y_val, sw_val = val
            score = self._score_arrays(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = {k: v.copy() for k, v in self.net_.params.items()}
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _score_arrays(self, X, y, sample_weight):
        """Accuracy on validated arrays (NaN when the network's scores are not finite)."""
        with np.errstate(over="ignore", invalid="ignore"):
            scores = self.net_.scores(X, check=False)
        if not np.isfinite(scores).all():
            return float("nan")
        return float(
            accuracy_score(y, self.classes_[scores.argmax(axis=1)], sample_weight=sample_weight)
        )

    # -- prediction ---------------------------------------------------------------------
    def _scores(self, X):
        check_is_fitted(self, "net_")
        X = validate_data(self, X, accept_sparse=_SPARSE, dtype=_FLOATS, reset=False)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.net_.scores(X.tocsr() if hasattr(X, "tocsr") else X, check=False)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class of each row of X (dense or SciPy sparse)."""
        labels = self._scores(X).argmax(axis=1)  # checks fitting first
        return self.classes_[labels]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, columns ordered as classes_."""
        return softmax(self._scores(X))

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """log(predict_proba(X)), as MLPClassifier computes it."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    @property
    def coefs_(self) -> list[np.ndarray]:
        check_is_fitted(self, "net_")
        return [self.net_.params["W1"], self.net_.params["W2"]]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "net_")
        return [self.net_.params["b1"], self.net_.params["b2"]]

    def save(self, path) -> None:
        """Write the network as a model.npz (atomically): ``twolayer predict``, ``evaluate``,
        ``export`` and ``TwoLayerNet.load(path).predict`` then answer as this estimator."""
        check_is_fitted(self, "net_")
        self.net_.save(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = True
        return tags
