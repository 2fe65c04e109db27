"""Gradient checking: backpropagation against central finite differences.

For every parameter ``theta`` (each ``w_jk^(l)`` and ``b_j^(l)``)::

    de/dtheta ~= (8 [e(theta + h) - e(theta - h)] - [e(theta + 2h) - e(theta - 2h)]) / (12 h)

(the five-point central difference: its error shrinks like h^4, so a
moderate ``h`` keeps both truncation and rounding error near 1e-12)

and the relative error ``(|g_bp - g_fd| - r) / (|g_bp| + |g_fd|)`` shows whether
backpropagation is right, where ``r = 4 eps |e| / h`` bounds the rounding error
of the finite difference itself (``eps`` is the dtype's machine epsilon): a
difference that small says nothing about the gradient, which matters for the
tiny gradients (~1e-7) deep layers often have. In float64 a correct
implementation gives errors around 1e-9 or smaller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import losses as _losses
from formicary.validation import as_float_array, check_inputs, check_targets

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = ["GradientCheck", "gradient_check"]


@dataclass(frozen=True)
class GradientCheck:
    """Result of :func:`gradient_check`.

    Attributes
    ----------
    max_relative_error : float
        The worst relative error over all parameters.
    worst : str
        Which parameter it was, in the lecture's notation (``w_12^(1)``).
    n_parameters : int
        How many parameters were checked.
    max_absolute_error : float
        The largest ``|g_bp - g_fd|`` (before discounting rounding).
    """

    max_relative_error: float
    worst: str
    n_parameters: int
    max_absolute_error: float = 0.0

    def __float__(self) -> float:
        return self.max_relative_error

    def __lt__(self, other: float) -> bool:
        return self.max_relative_error < other

    def __le__(self, other: float) -> bool:
        return self.max_relative_error <= other

    def __gt__(self, other: float) -> bool:
        return self.max_relative_error > other

    def __ge__(self, other: float) -> bool:
        return self.max_relative_error >= other


def gradient_check(
    net: MLP,
    X: Any,
    y: Any,
    loss: str | _losses.Loss = "mse",
    epsilon: float = 1e-4,
    max_parameters: int | None = None,
    seed: int | None = 0,
) -> GradientCheck:
    """Compare :meth:`MLP.backward` with central finite differences for every parameter.

    Parameters
    ----------
    net : MLP
        Checked in its own dtype (use float64 for tight agreement).
    X, y : arrays
        A small batch and its targets.
    loss : str or Loss
        The error ``e`` whose gradient is checked.
    epsilon : float
        The finite-difference step ``h``.
    max_parameters : int, optional
        Check only this many parameters, drawn at random (for large networks).
    seed : int, optional
        For the random draw.

    Returns
    -------
    GradientCheck
        Compares like a float: ``gradient_check(net, X, y) < 1e-6``.
    """
    loss = _losses.get(loss)
    X = check_inputs(as_float_array(X, "X", dtype=net.dtype), net.n_inputs)
    y = check_targets(y, X.shape[0], net.n_outputs, net.dtype, loss.name)
    grads = net.backward(net.forward(X, trace=True), y, loss=loss)

    def error() -> float:
        return loss.value(net.forward(X), y)

    candidates = []
    for l, layer in enumerate(net.layers, start=1):
        for j in range(layer.n_out):
            for k in range(layer.n_in):
                candidates.append((l, "w", j, k))
            candidates.append((l, "b", j, -1))
    if max_parameters is not None and max_parameters < len(candidates):
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(candidates), size=max_parameters, replace=False)
        candidates = [candidates[i] for i in sorted(picked)]

    worst_error, worst_name, worst_absolute = 0.0, "", 0.0
    tiny = np.finfo(net.dtype).tiny
    # rounding error of the five-point difference: (8 + 8 + 1 + 1) eps |e| / (12 h) < 2 eps |e| / h
    rounding = 4 * np.finfo(net.dtype).eps * max(abs(error()), tiny) / epsilon
    for l, kind, j, k in candidates:
        layer = net.layers[l - 1]
        array = layer.weights if kind == "w" else layer.bias
        index = (j, k) if kind == "w" else (j,)
        analytic = (grads.weights if kind == "w" else grads.bias)[l - 1][index]
        original = array[index]
        values = []
        for step in (epsilon, -epsilon, 2 * epsilon, -2 * epsilon):
            array[index] = original + step
            values.append(error())
        array[index] = original
        plus, minus, plus2, minus2 = values
        numeric = (8 * (plus - minus) - (plus2 - minus2)) / (12 * epsilon)
        worst_absolute = max(worst_absolute, float(abs(analytic - numeric)))
        beyond_rounding = max(abs(analytic - numeric) - rounding, 0.0)
        relative = beyond_rounding / max(abs(analytic) + abs(numeric), tiny)
        if relative > worst_error or not worst_name:
            worst_error = float(relative)
            name = f"w_{j + 1}{k + 1}^({l})" if kind == "w" else f"b_{j + 1}^({l})"
            worst_name = name
    return GradientCheck(worst_error, worst_name, len(candidates), worst_absolute)
