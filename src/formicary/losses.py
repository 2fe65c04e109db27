"""Loss functions: the error ``e`` between the network's output ``y_hat = a^(L)`` and ``y``.

Each :class:`Loss` gives

* ``value(a, y)``: the mean over samples of the per-sample error ``e_i``;
* ``gradient(a, y)``: the per-sample ``de_i/da`` (not divided by the batch size);
* ``fused_delta``: for the pairs where the chain rule simplifies, the output
  delta ``delta^(L) = de/dz^(L) = a - y`` computed directly, which is both
  cheaper and numerically stable (sigmoid + binary cross-entropy, softmax +
  categorical cross-entropy, identity + mean squared error).

Logs are taken of probabilities clipped to ``[eps, 1 - eps]`` so that a
confident wrong answer gives a large finite loss, never ``inf`` or ``nan``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "Loss",
    "MeanSquaredError",
    "available",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "get",
    "mse",
]


_EPS: dict[np.dtype, float] = {}


def _eps(dtype: np.dtype) -> float:
    """Clipping bound for logs: tiny but representable around 1 in this dtype."""
    eps = _EPS.get(dtype)
    if eps is None:
        eps = _EPS[dtype] = float(np.finfo(dtype).eps)
    return eps


def _total(x: np.ndarray, y: np.ndarray) -> float:
    """``sum_ij x_ij y_ij`` as one dot product of the flattened arrays (BLAS)."""
    return float(np.vdot(x, y))


@dataclass(frozen=True)
class Loss:
    """Base class for losses; see the module docstring for the contract."""

    name: str = "loss"
    fused_with: tuple[str, ...] = ()
    latex: str = "e"

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The error ``e_i`` of each sample, shape ``(n_samples,)``."""
        raise NotImplementedError

    def value(self, a: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """Mean error over the batch, ``e = (1/N) sum_i e_i`` (weighted if asked)."""
        errors = self.per_sample(a, y)
        if sample_weight is None:
            return float(np.mean(errors))
        return float(np.sum(errors * sample_weight) / np.sum(sample_weight))

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-sample ``de_i/da``, same shape as ``a``."""
        raise NotImplementedError

    def fused_delta(
        self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """``delta^(L) = a - y``, valid when the output activation is in ``fused_with``."""
        return np.subtract(a, y, out=out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(frozen=True, repr=False)
class MeanSquaredError(Loss):
    """Squared error ``e_i = 1/2 sum_k (a_k - y_k)^2`` per sample, averaged over samples.

    The factor 1/2 makes ``de/da = a - y`` (the same convention as scikit-learn).
    """

    name: str = "mse"
    fused_with: tuple[str, ...] = ("identity",)
    latex: str = r"e = \tfrac{1}{2}\sum_k (\hat{y}_k - y_k)^2"

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        diff = a - y
        return 0.5 * np.einsum("ij,ij->i", diff, diff)

    def value(self, a: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        if sample_weight is not None or a.ndim != 2:
            return super().value(a, y, sample_weight)
        diff = a - y
        return 0.5 * _total(diff, diff) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return a - y


@dataclass(frozen=True, repr=False)
class BinaryCrossEntropy(Loss):
    """``e_i = -sum_k [y_k log a_k + (1 - y_k) log(1 - a_k)]`` (one term per sigmoid output)."""

    name: str = "binary_cross_entropy"
    fused_with: tuple[str, ...] = ("sigmoid",)
    latex: str = r"e = -\sum_k \left[y_k \log \hat{y}_k + (1-y_k)\log(1-\hat{y}_k)\right]"

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        eps = _eps(a.dtype)
        p = np.clip(a, eps, 1 - eps)
        terms = y * np.log(p) + (1 - y) * np.log1p(-p)
        return -terms.sum(axis=1)

    def value(self, a: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        if sample_weight is not None or a.ndim != 2:
            return super().value(a, y, sample_weight)
        eps = _eps(a.dtype)
        p = np.maximum(a, eps)
        np.minimum(p, 1 - eps, out=p)
        log_1mp = np.log1p(np.negative(p))
        np.log(p, out=p)
        # sum_ik y log p + (1 - y) log(1 - p) = sum_ik y (log p - log(1 - p)) + sum_ik log(1 - p)
        rest = float(log_1mp.sum())
        p -= log_1mp
        return -(_total(y, p) + rest) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        eps = _eps(a.dtype)
        p = np.clip(a, eps, 1 - eps)
        return (p - y) / (p * (1 - p))


@dataclass(frozen=True, repr=False)
class CategoricalCrossEntropy(Loss):
    """``e_i = -sum_k y_k log a_k`` for one-hot (or soft) targets over softmax outputs."""

    name: str = "categorical_cross_entropy"
    fused_with: tuple[str, ...] = ("softmax",)
    latex: str = r"e = -\sum_k y_k \log \hat{y}_k"

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        eps = _eps(a.dtype)
        p = np.clip(a, eps, 1.0)
        return -np.einsum("ij,ij->i", y, np.log(p))

    def value(self, a: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        if sample_weight is not None or a.ndim != 2:
            return super().value(a, y, sample_weight)
        p = np.maximum(a, _eps(a.dtype))
        np.minimum(p, 1.0, out=p)
        return -_total(y, np.log(p, out=p)) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        eps = _eps(a.dtype)
        return -y / np.clip(a, eps, 1.0)


mse = MeanSquaredError()
binary_cross_entropy = BinaryCrossEntropy()
categorical_cross_entropy = CategoricalCrossEntropy()

_LOSSES: dict[str, Loss] = {
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "categorical_cross_entropy": categorical_cross_entropy,
}
_ALIASES = {
    "mean_squared_error": "mse",
    "squared_error": "mse",
    "bce": "binary_cross_entropy",
    "log_loss": "binary_cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "cross_entropy": "categorical_cross_entropy",
    "categorical_crossentropy": "categorical_cross_entropy",
    "ce": "categorical_cross_entropy",
}


def available() -> list[str]:
    """Canonical names of the built-in losses."""
    return sorted(_LOSSES)


def get(loss: str | Loss) -> Loss:
    """Look a loss up by name (``"mse"``, ``"binary_cross_entropy"``, ...) or pass one through."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name (str) or a Loss, got {type(loss).__name__}")
    key = loss.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in _LOSSES:
        names = list(_LOSSES) + list(_ALIASES)
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown loss {loss!r}.{hint} Valid names: {', '.join(available())}")
    return _LOSSES[key]


def default_for(output_activation: str) -> Loss:
    """The loss that pairs with an output activation: sigmoid -> BCE, softmax -> CE, else MSE."""
    if output_activation == "sigmoid":
        return binary_cross_entropy
    if output_activation == "softmax":
        return categorical_cross_entropy
    return mse
