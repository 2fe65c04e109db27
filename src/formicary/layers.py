"""Dense layers: the lecture's ``z^(l) = W^(l) a^(l-1) + b^(l)``, ``a^(l) = sigma(z^(l))``.

``weights`` has shape ``(n_out, n_in)``, so ``weights[j, k]`` is ``w_jk^(l)``: the
weight from input ``k`` to neuron ``j``. Samples travel as rows of a batch
``A`` of shape ``(n_samples, n_in)``, so for a whole batch
``Z = A W^T + b`` (each row is the lecture's column vector ``z``, transposed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from formicary import activations as _activations
from formicary.validation import resolve_dtype

__all__ = ["Dense", "initialise"]


def initialise(
    n_in: int,
    n_out: int,
    scheme: str,
    rng: np.random.Generator,
    dtype: np.dtype,
) -> np.ndarray:
    """Initial weights of shape ``(n_out, n_in)``.

    ``"glorot"``: uniform on ``[-r, r]`` with ``r = sqrt(6 / (n_in + n_out))``
    (keeps the variance of sigmoid/tanh layers steady).
    ``"he"``: normal with standard deviation ``sqrt(2 / n_in)`` (for ReLU-like units).
    """
    if scheme == "glorot":
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights = rng.uniform(-limit, limit, size=(n_out, n_in))
    elif scheme == "he":
        weights = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
    else:
        raise ValueError(f"unknown initialisation {scheme!r}; use 'glorot' or 'he'")
    return weights.astype(dtype)


class Dense:
    """A fully connected layer of ``n_out`` neurons, each seeing all ``n_in`` inputs.

    Parameters
    ----------
    n_in, n_out : int
        Inputs per sample and neurons in the layer.
    activation : str or Activation
        ``sigma`` in ``a = sigma(z)``.
    weights : array of shape (n_out, n_in), optional
        Initial ``W``; drawn by ``init`` when omitted.
    bias : array of shape (n_out,), optional
        Initial ``b``; zeros when omitted.
    init : {"glorot", "he"}, optional
        Defaults to the activation's preferred scheme.
    seed : int or numpy.random.Generator, optional
        For reproducible initial weights.
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str | _activations.Activation = "sigmoid",
        *,
        weights: Any = None,
        bias: Any = None,
        init: str | None = None,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
    ) -> None:
        for label, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation = _activations.get(activation)
        self.dtype = resolve_dtype(dtype)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if weights is None:
            weights = initialise(
                self.n_in, self.n_out, init or self.activation.init, rng, self.dtype
            )
        self.weights = self._checked(weights, (self.n_out, self.n_in), "weights")
        if bias is None:
            bias = np.zeros(self.n_out, dtype=self.dtype)
        self.bias = self._checked(bias, (self.n_out,), "bias")

    def _checked(self, value: Any, shape: tuple[int, ...], label: str) -> np.ndarray:
        array = np.array(value, dtype=self.dtype, copy=True)
        if array.shape != shape:
            raise ValueError(
                f"{label} must have shape {shape} (n_out={self.n_out}, n_in={self.n_in}) "
                f"but has {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"{label} contains NaN or inf")
        return np.ascontiguousarray(array)

    @property
    def parameter_count(self) -> int:
        """``n_out * n_in`` weights plus ``n_out`` biases."""
        return self.weights.size + self.bias.size

    def forward(self, a_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(z, a)`` for a batch ``a_prev`` of shape ``(n_samples, n_in)``."""
        z = a_prev @ self.weights.T
        z += self.bias
        return z, self.activation.function(z)

    def astype(self, dtype: Any) -> Dense:
        """Convert weights and bias to ``dtype`` in place; returns ``self``."""
        self.dtype = resolve_dtype(dtype)
        self.weights = self.weights.astype(self.dtype)
        self.bias = self.bias.astype(self.dtype)
        return self

    def copy(self) -> Dense:
        return Dense(
            self.n_in,
            self.n_out,
            self.activation,
            weights=self.weights,
            bias=self.bias,
            dtype=self.dtype,
        )

    def __repr__(self) -> str:
        return (
            f"Dense(n_in={self.n_in}, n_out={self.n_out}, "
            f"activation={self.activation.name!r}, dtype={self.dtype.name!r})"
        )
