"""Compiled kernels for the training hot loop (optional: ``pip install "formicary[fast]"``).

NumPy runs every element-wise operation as its own pass over memory: Adam's
update ``m = beta_1 m + g``, ``v = beta_2 v + g^2``,
``w = w - eta_t m / (sqrt(v) + epsilon)`` is ten passes over the 235k
parameters of a 784-256-128-10 network, and a sigmoid layer's
``a = sigma(z + b)`` with ``sigma'(z) = a (1 - a)`` is seven. The kernels here,
compiled by Numba, do the same arithmetic **in the same order** in one pass
(the optimizers) or three (the sigmoid, whose ``e^-z`` stays NumPy's
vectorised ``exp``), so their results are bit for bit those of the NumPy path
(``tests/test_accel.py`` checks it) and only the memory traffic goes.

The kernels are serial: on these machines OpenBLAS's threads keep spinning on
the other core between matrix products, and a second thread pool fighting them
made training four times slower (measured), while one fused pass on one core is
already 2.5-3x faster than NumPy's passes. No OpenMP also means no trouble
after ``fork()``.

The engine picks these kernels up through :mod:`formicary.backend`; nothing
here is meant to be called directly, but every function is a plain Numba
function of NumPy arrays and scalars of the arrays' dtype.
"""

from __future__ import annotations

import math

try:
    import numba
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "formicary.accel needs Numba; install it with: pip install 'formicary[fast]'"
    ) from error

__all__ = [
    "adam",
    "bias_negate",
    "bias_relu",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "sigmoid_finish",
]

#: ``error_model="numpy"`` lets a division be vectorised (no ZeroDivisionError
#: check); no ``fastmath``, so LLVM may not reorder or contract the arithmetic
#: and the results stay those of the NumPy path.
_jit = numba.njit(error_model="numpy", nogil=True, cache=True)


# --------------------------------------------------------------------- optimizers


@_jit
def adam(param, grad, m, v, beta_1, beta_2, step, epsilon):  # pragma: no cover - compiled
    """Adam on flat arrays, moments kept divided by ``1 - beta`` (see :class:`~formicary.Adam`).

    ``M = beta_1 M + g``, ``V = beta_2 V + g^2``, ``w = w - step M / (sqrt(V) + epsilon)``.
    """
    for i in range(param.size):
        g = grad[i]
        m_i = m[i] * beta_1 + g
        v_i = v[i] * beta_2 + g * g
        m[i] = m_i
        v[i] = v_i
        param[i] -= m_i / (math.sqrt(v_i) + epsilon) * step


@_jit
def sgd(param, grad, learning_rate):  # pragma: no cover - compiled
    """The lecture's rule ``w = w - eta de/dw``."""
    for i in range(param.size):
        param[i] -= grad[i] * learning_rate


@_jit
def sgd_momentum(param, grad, velocity, momentum, learning_rate, nesterov):  # pragma: no cover
    """``v = mu v - eta g``; ``w = w + v``, or ``w = w - eta g + mu v`` (Nesterov)."""
    for i in range(param.size):
        step = grad[i] * learning_rate
        v_i = velocity[i] * momentum - step
        velocity[i] = v_i
        if nesterov:
            param[i] = (param[i] - step) + v_i * momentum
        else:
            param[i] += v_i


@_jit
def rmsprop(param, grad, v, rho, one_minus_rho, learning_rate, epsilon):  # pragma: no cover
    """``v = rho v + (1 - rho) g^2``, ``w = w - eta g / (sqrt(v) + epsilon)``."""
    for i in range(param.size):
        g = grad[i]
        v_i = v[i] * rho + g * g * one_minus_rho
        v[i] = v_i
        param[i] -= g / (math.sqrt(v_i) + epsilon) * learning_rate


# -------------------------------------------------------------------- activations


@_jit
def bias_negate(z, bias, out):  # pragma: no cover - compiled
    """``out = -(z + b)``: the first pass of ``sigma(z + b)``, before NumPy's ``exp``."""
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            out[r, c] = -(z[r, c] + bias[c])


@_jit
def sigmoid_finish(a, z, one):  # pragma: no cover - compiled
    """Given ``a = e^-z``: ``a = 1 / (1 + a)`` (= sigma(z)) and ``z = (1 - a) a`` (= sigma'(z)).

    ``one`` is 1 in the arrays' dtype, so that float32 stays float32 throughout.
    """
    rows, cols = a.shape
    for r in range(rows):
        for c in range(cols):
            s = one / (a[r, c] + one)
            a[r, c] = s
            z[r, c] = (one - s) * s


@_jit
def bias_relu(z, bias, a, zero, one):  # pragma: no cover - compiled
    """``a = max(z + b, 0)`` and ``z = 1 if z + b > 0 else 0`` (= ReLU'), NaN kept in ``a``."""
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            s = z[r, c] + bias[c]
            positive = s > zero
            a[r, c] = s if (positive or s != s) else zero
            z[r, c] = one if positive else zero


#: The compiled softmax handles rows up to this wide (NumPy's pairwise sum is a
#: single block there); wider output layers keep NumPy's softmax.
SOFTMAX_MAX_WIDTH = 128


@_jit
def _block_sum(row, n):  # pragma: no cover - compiled
    """``sum(row[:n])`` for ``n <= 128``, added up in exactly NumPy's order.

    NumPy sums fewer than 8 contiguous values one by one, and up to 128 in
    eight interleaved partial sums combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``,
    then the leftovers one by one. Matching it keeps the compiled softmax bit
    for bit equal to NumPy's.
    """
    if n < 8:
        total = row[0] - row[0]
        for i in range(n):
            total += row[i]
        return total
    r0, r1, r2, r3 = row[0], row[1], row[2], row[3]
    r4, r5, r6, r7 = row[4], row[5], row[6], row[7]
    i = 8
    while i < n - (n % 8):
        r0 += row[i]
        r1 += row[i + 1]
        r2 += row[i + 2]
        r3 += row[i + 3]
        r4 += row[i + 4]
        r5 += row[i + 5]
        r6 += row[i + 6]
        r7 += row[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += row[i]
        i += 1
    return total


@_jit
def softmax_shift(z, out):  # pragma: no cover - compiled
    """``out = z - max_k z_k`` per row: the first pass of a stable softmax (NaN propagates)."""
    rows, cols = z.shape
    for r in range(rows):
        top = z[r, 0]
        for c in range(1, cols):
            value = z[r, c]
            if value > top or value != value:
                top = value
                if value != value:
                    break
        for c in range(cols):
            out[r, c] = z[r, c] - top


@_jit
def softmax_normalise(a):  # pragma: no cover - compiled
    """Given ``a = e^(z - max z)``: ``a = a / sum_k a_k`` per row (NumPy's summation order)."""
    rows, cols = a.shape
    for r in range(rows):
        total = _block_sum(a[r], cols)
        for c in range(cols):
            a[r, c] = a[r, c] / total


# ---------------------------------------------------------- prediction (in place)


@_jit
def bias_relu_inplace(z, bias, zero):  # pragma: no cover - compiled
    """``z = max(z + b, 0)`` in place (prediction keeps no derivative), NaN kept."""
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            s = z[r, c] + bias[c]
            z[r, c] = s if (s > zero or s != s) else zero


@_jit
def one_over_one_plus(a, one):  # pragma: no cover - compiled
    """``a = 1 / (1 + a)``: given ``a = e^-z``, the sigmoid ``sigma(z)`` in place."""
    rows, cols = a.shape
    for r in range(rows):
        for c in range(cols):
            a[r, c] = one / (a[r, c] + one)


@_jit
def bias_leaky_relu(z, bias, a, slope, one):  # pragma: no cover - compiled
    """``a = max(z + b, slope (z + b))`` and ``z = 1 if z + b > 0 else slope``, NaN kept in ``a``."""
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            s = z[r, c] + bias[c]
            t = s * slope
            a[r, c] = s if (s >= t or s != s) else t
            z[r, c] = one if s > 0 else slope


@_jit
def bias_add(z, bias, out):  # pragma: no cover - compiled
    """``out = z + b`` (each row plus the bias vector)."""
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            out[r, c] = z[r, c] + bias[c]


@_jit
def one_minus_square(a, out, one):  # pragma: no cover - compiled
    """``out = 1 - a^2``: tanh'(z) from ``a = tanh(z)``."""
    rows, cols = a.shape
    for r in range(rows):
        for c in range(cols):
            out[r, c] = one - a[r, c] * a[r, c]
