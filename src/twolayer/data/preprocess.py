"""Preprocessing fitted on training data only and stored inside model.npz.

Every mode is a per-feature affine map x' = (x - offset) · factor, so a model carries two
arrays and applies them to any later input, one batch at a time if need be.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_fields, is_real, one_of, optional
from ..errors import InputError
from ..settings import PREPROCESS, check_setting

MODES = tuple(m for m in PREPROCESS if m != "auto")  # what a fitted Preprocessor does


class Preprocessor:
    """mode: none | scale (x / pixel_max) | center (subtract the mean image, CS231n)
    | standardize (zero mean, unit variance per feature) | auto (scale for images, i.e. when
    ``pixel_max`` is known, else standardize). ``pixel_max`` rescales image data to [0, 1]
    before centering or standardising. A bad mode is refused in the words of the settings
    table's ``preprocess``."""

    def __init__(self, mode="standardize", pixel_max=None):
        check_setting("preprocess", mode)
        if mode == "auto":  # pixels: scale to [0, 1] (measured best on digits and MNIST)
            mode = "scale" if pixel_max else "standardize"
        self.mode = mode
        self.pixel_max = pixel_max
        self.offset_ = None
        self.factor_ = None

    def fit(self, X, batch_size=None, sample_weight=None):
        """Per-feature statistics of the training data, accumulated in row blocks (weighted by
        ``sample_weight`` when given, so that weight k counts as k copies of a row).

        Sums are taken of x / peak (peak: the feature's largest |x|), so that data of any finite
        magnitude (up to 1e308) gives finite statistics instead of overflowing.

        A SciPy sparse X keeps its zeros: 'standardize' divides by the standard deviation without
        subtracting the mean (scikit-learn's StandardScaler(with_mean=False)), 'center' is refused.
        """
        if hasattr(X, "tocsr"):
            return self._fit_sparse(X, sample_weight)
        d = X.shape[1]
        if batch_size is None:  # blocks of about 2**18 values (2 MiB in float64), whatever d is
            batch_size = max(1, 2**18 // max(d, 1))
        peak = np.zeros(d)  # X is finite (checked by every loader), so every sum below is too
        for start in range(0, len(X), batch_size):
            xb = np.asarray(X[start : start + batch_size], dtype=np.float64)
            np.maximum(peak, np.abs(xb).max(axis=0, initial=0.0), out=peak)
        peak[peak == 0] = 1.0
        total = np.zeros(d)
        total_sq = np.zeros(d)
        for start in range(0, len(X), batch_size):
            xb = np.asarray(X[start : start + batch_size], dtype=np.float64) / peak
            if sample_weight is None:
                total += xb.sum(axis=0)
                total_sq += np.einsum("ij,ij->j", xb, xb)
            else:
                wb = sample_weight[start : start + batch_size]
                total += wb @ xb
                total_sq += np.einsum("i,ij,ij->j", wb, xb, xb)
        n = len(X) if sample_weight is None else float(np.sum(sample_weight))
        return self._set(total / n, total_sq / n, peak, center=True)

    def _fit_sparse(self, X, sample_weight):
        if self.mode == "center":
            raise InputError(
                "preprocess='center' would make the sparse X dense; use 'standardize' (scales "
                "sparse data without centring), 'scale' or 'none'"
            )
        X = X.tocsr()
        peak = np.asarray(abs(X).max(axis=0).todense(), dtype=np.float64).ravel()
        peak[peak == 0] = 1.0
        Xs = X.astype(np.float64) @ _diag(1.0 / peak)
        w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        n = float(w.sum())
        mean = np.asarray(Xs.T @ w).ravel() / n
        mean_sq = np.asarray(Xs.multiply(Xs).T @ w).ravel() / n
        return self._set(mean, mean_sq, peak, center=False)

    def _set(self, mean, mean_sq, peak, center):
        """offset_ and factor_ from per-feature moments in units of peak."""
        d = len(peak)
        var = np.maximum(mean_sq - mean**2, 0.0)
        unit = 1.0 / self.pixel_max if self.pixel_max else 1.0
        self.offset_ = np.zeros(d)
        self.factor_ = np.full(d, unit)
        if center and self.mode in ("center", "standardize"):
            self.offset_ = mean * peak
        if self.mode == "standardize":
            std = np.sqrt(var)  # in units of peak
            # constant features (std ~ 0) are only centred (and brought to the scale of their peak)
            self.factor_ = 1.0 / (
                np.where(std * peak > 1e-8, std, 1.0) * np.where(std * peak > 1e-8, peak, 1.0)
            )
        return self

    @np.errstate(
        over="ignore", invalid="ignore"
    )  # overflow to inf is reported by the caller, with the row
    def transform(self, X, dtype=np.float64, batch_size=8192):
        """A new array (X - offset) · factor of the given dtype.

        Computed in the target dtype (the fast path); when that narrows the input (float64 data,
        float32 net) and overflows, it is redone in float64 row blocks, so that values beyond
        float32's range are scaled before they are narrowed. A SciPy sparse X stays sparse (a
        CSR matrix) when the offset is zero, as it is for preprocessing fitted on sparse data.
        """
        if hasattr(X, "tocsr"):
            if not self.offset_.any():
                return (X.tocsr() @ _diag(self.factor_)).astype(dtype).tocsr()
            X = X.toarray()  # a model fitted on dense data, with centring, given sparse rows
        out = np.array(X, dtype=dtype)
        out -= self.offset_.astype(dtype)
        out *= self.factor_.astype(dtype)
        if np.can_cast(X.dtype, dtype, "safe") or np.isfinite(out).all():
            return out
        for start in range(0, len(X), batch_size):
            xb = np.array(X[start : start + batch_size], dtype=np.float64)
            xb -= self.offset_
            xb *= self.factor_
            out[start : start + batch_size] = xb
        return out

    def get_config(self):
        return {"mode": self.mode, "pixel_max": self.pixel_max}

    def get_arrays(self):
        return {"offset": self.offset_, "factor": self.factor_}

    @classmethod
    def from_config(cls, config, arrays, n_features, source="model"):
        check_fields(
            config,
            {
                "mode": (one_of(*MODES), "one of " + ", ".join(MODES)),
                "pixel_max": (optional(is_real(lo=1e-300)), "a number > 0 or null"),
            },
            f"{source}: preprocessor",
            required=("mode",),
        )
        try:
            pre = cls(config["mode"], config.get("pixel_max"))
            for key in ("offset", "factor"):
                a = arrays[key]
                if a.dtype.kind not in "iuf":
                    raise InputError(
                        f"{source}: preprocessing array {key} has dtype {a.dtype}; the file is damaged"
                    )
            pre.offset_ = np.asarray(arrays["offset"], dtype=np.float64)
            pre.factor_ = np.asarray(arrays["factor"], dtype=np.float64)
        except (KeyError, TypeError) as e:
            raise InputError(
                f"{source}: damaged preprocessing data ({type(e).__name__}: {e})"
            ) from None
        if pre.offset_.shape != (n_features,) or pre.factor_.shape != (n_features,):
            raise InputError(
                f"{source}: preprocessing arrays do not match the model's {n_features} features"
            )
        if not (np.isfinite(pre.offset_).all() and np.isfinite(pre.factor_).all()):
            raise InputError(f"{source}: preprocessing arrays contain NaN or infinite values")
        return pre


def _diag(v):
    """A sparse diagonal matrix of v: column scaling that keeps a sparse matrix sparse."""
    import scipy.sparse as sp  # only sparse inputs need SciPy

    return sp.diags(v, format="csr")
