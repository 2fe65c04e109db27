"""Activation functions: the non-linearity each neuron applies, ``a = sigma(z)``.

Every activation is an :class:`Activation` object that carries

* its function ``a = f(z)``,
* its derivative ``f'(z)``, written in terms of ``z`` or of ``a`` (whichever is
  cheaper and stable: the sigmoid's is ``a (1 - a)``, ReLU's ``1[z > 0]``),
* its domain and range as :class:`Interval` objects that print the way the
  lecture writes them (sigmoid: domain ``(-inf, inf)``, range ``(0, 1)``).

Built-ins are looked up by name with :func:`get`; users add their own with
:func:`register` and then use them everywhere a built-in works.

Without a non-linear activation, stacked layers collapse into one linear layer
``z = w1 x1 + w2 x2 + w3 x3 + b`` (see the lecture's proof), which is why every
hidden layer needs one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "Activation",
    "Interval",
    "available",
    "gelu",
    "get",
    "identity",
    "leaky_relu",
    "register",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
    "unregister",
]

ArrayFunction = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Interval:
    """An interval of the real line, printed as in the lecture: ``[0, inf)``.

    Compares equal to its printed form, so ``relu.range == "[0, inf)"``.
    """

    low: float
    high: float
    closed_low: bool = False
    closed_high: bool = False

    def __str__(self) -> str:
        def fmt(v: float) -> str:
            if math.isinf(v):
                return "-inf" if v < 0 else "inf"
            return f"{v:g}"

        left = "[" if self.closed_low and not math.isinf(self.low) else "("
        right = "]" if self.closed_high and not math.isinf(self.high) else ")"
        return f"{left}{fmt(self.low)}, {fmt(self.high)}{right}"

    def __repr__(self) -> str:
        return f"Interval({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other.replace(" ", "").replace(",", ", ")
        if isinstance(other, Interval):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.closed_low else value > self.low
        below = value <= self.high if self.closed_high else value < self.high
        return bool(above and below)


REALS = Interval(-math.inf, math.inf)


@dataclass(frozen=True)
class Activation:
    """A neuron's activation ``a = f(z)`` with its derivative, domain and range.

    Parameters
    ----------
    name : str
        The name it is looked up and saved by.
    function : callable
        ``function(z, out=None) -> a``, applied element by element (or row by
        row for softmax).
    derivative : callable
        ``derivative(x, out=None) -> f'(z)`` where ``x`` is ``z`` or ``a`` as
        ``derivative_of`` says.
    derivative_of : {"z", "a"}
        Which quantity the derivative is written in.
    domain, range : Interval
        Where ``f`` is defined and the values it takes.
    init : {"glorot", "he"}
        The weight initialisation that suits it.
    params : dict
        Parameters such as the leaky ReLU's slope (saved with the model).
    elementwise : bool
        False for softmax, whose Jacobian is not diagonal.
    """

    name: str
    function: ArrayFunction
    derivative: ArrayFunction
    derivative_of: Literal["z", "a"] = "z"
    domain: Interval = REALS
    range: Interval = REALS
    init: Literal["glorot", "he"] = "glorot"
    params: dict[str, Any] = field(default_factory=dict)
    elementwise: bool = True
    latex: str = r"\sigma"

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.function(np.asarray(z))

    def gradient(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``f'(z)`` evaluated from whichever of ``z``/``a`` the derivative uses."""
        return self.derivative(a if self.derivative_of == "a" else z)

    def backprop(
        self,
        grad_a: np.ndarray,
        z: np.ndarray,
        a: np.ndarray,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Chain rule through the activation: ``de/dz = de/da * f'(z)``.

        ``out`` may be ``grad_a`` itself (the product is then taken in place).
        """
        local = self.gradient(z, a)
        return np.multiply(grad_a, local, out=out)

    @property
    def spec(self) -> dict[str, Any]:
        """What a model file stores to rebuild this activation."""
        return {"name": self.name, "params": dict(self.params)}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra}, domain={self.domain}, range={self.range})"


# --------------------------------------------------------------------------- sigmoid


def _sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sigma(z) = 1 / (1 + e^-z), without warnings or NaN for any finite ``z``.

    For very negative ``z`` the intermediate ``e^-z`` overflows to ``inf`` and
    ``1 / (1 + inf)`` gives the correct limit 0, so only that overflow warning
    is silenced; every other ``z`` keeps full relative precision (no
    cancellation: no difference of nearly equal numbers is ever taken).
    Four vectorised passes and no masked (``where=``) ufunc, which is several
    times slower.
    """
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    with np.errstate(over="ignore"):
        out = np.negative(z, out=out)
        np.exp(out, out=out)
    np.add(out, 1.0, out=out)
    return np.reciprocal(out, out=out)


def _sigmoid_derivative(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sigma'(z) = a (1 - a)."""
    out = np.subtract(1.0, a, out=out, dtype=a.dtype)
    return np.multiply(out, a, out=out)


sigmoid = Activation(
    "sigmoid",
    _sigmoid,
    _sigmoid_derivative,
    derivative_of="a",
    domain=REALS,
    range=Interval(0.0, 1.0),
    init="glorot",
    latex=r"\sigma",
)

# --------------------------------------------------------------------------- relu


def _relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """ReLU(z) = 0 for z < 0, z for z >= 0."""
    return np.maximum(z, 0, out=out)


def _relu_derivative(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """ReLU'(z) = 1 for z > 0, else 0 (0 at z = 0, the usual convention)."""
    if out is None:
        return (z > 0).astype(z.dtype)
    np.greater(z, 0, out=out)
    return out


relu = Activation(
    "relu",
    _relu,
    _relu_derivative,
    derivative_of="z",
    domain=REALS,
    range=Interval(0.0, math.inf, closed_low=True),
    init="he",
    latex=r"\mathrm{ReLU}",
)

# --------------------------------------------------------------------------- tanh


def _tanh(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.tanh(z, out=out)


def _tanh_derivative(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """tanh'(z) = 1 - a^2."""
    out = np.multiply(a, a, out=out)
    return np.subtract(1.0, out, out=out, dtype=a.dtype)


tanh = Activation(
    "tanh",
    _tanh,
    _tanh_derivative,
    derivative_of="a",
    domain=REALS,
    range=Interval(-1.0, 1.0),
    init="glorot",
    latex=r"\tanh",
)

# --------------------------------------------------------------------------- identity


def _identity(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        return z
    np.copyto(out, z)
    return out


def _identity_derivative(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        return np.ones_like(z)
    out.fill(1)
    return out


def _identity_backprop(
    grad_a: np.ndarray, z: np.ndarray, a: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    if out is None:
        return grad_a.copy()
    if out is not grad_a:
        np.copyto(out, grad_a)
    return out


class _Identity(Activation):
    def backprop(self, grad_a, z, a, out=None):  # type: ignore[override]
        return _identity_backprop(grad_a, z, a, out)


identity = _Identity(
    "identity",
    _identity,
    _identity_derivative,
    derivative_of="z",
    domain=REALS,
    range=REALS,
    init="glorot",
    latex="",
)

# --------------------------------------------------------------------------- leaky relu


def leaky_relu(slope: float = 0.01) -> Activation:
    """Leaky ReLU: ``z`` for ``z >= 0``, ``slope * z`` for ``z < 0``.

    Parameters
    ----------
    slope : float
        The gradient on the negative side, ``0 <= slope < 1``.
    """
    slope = float(slope)
    if not (0.0 <= slope < 1.0) or not math.isfinite(slope):
        raise ValueError(f"leaky_relu slope must be in [0, 1), got {slope!r}")

    def function(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # max(z, slope*z) equals z for z >= 0 and slope*z for z < 0 when slope < 1
        if out is None or np.may_share_memory(out, z):
            scaled = np.multiply(z, slope, dtype=z.dtype)
            return np.maximum(z, scaled, out=out)
        np.multiply(z, slope, out=out, dtype=z.dtype)  # slope*z straight into out: no temporary
        return np.maximum(z, out, out=out)

    def derivative(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """LeakyReLU'(z) = 1 for z > 0, else ``slope``, as ``max([z > 0], slope)`` (slope < 1).

        Two passes, no temporary, no masked (``where=``) ufunc, which is tens of
        times slower; ``out`` may be ``z`` itself.
        """
        if out is None:
            out = np.empty_like(z)
        np.greater(z, 0, out=out)
        return np.maximum(out, slope, out=out, dtype=out.dtype)

    return Activation(
        "leaky_relu",
        function,
        derivative,
        derivative_of="z",
        domain=REALS,
        range=REALS if slope > 0 else Interval(0.0, math.inf, closed_low=True),
        init="he",
        params={"slope": slope},
        latex=r"\mathrm{LeakyReLU}",
    )


# --------------------------------------------------------------------------- softplus


def _softplus(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|), never overflows."""
    tail = np.log1p(np.exp(-np.abs(z)))
    out = np.maximum(z, 0, out=out)
    return np.add(out, tail, out=out)


softplus = Activation(
    "softplus",
    _softplus,
    _sigmoid,  # d/dz log(1 + e^z) = sigma(z)
    derivative_of="z",
    domain=REALS,
    range=Interval(0.0, math.inf),
    init="glorot",
    latex=r"\mathrm{softplus}",
)

# --------------------------------------------------------------------------- gelu

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _gelu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """GELU, tanh form: ``0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))``."""
    inner = np.tanh(_GELU_C * (z + _GELU_K * z * z * z))
    inner += 1
    inner *= 0.5
    return np.multiply(z, inner, out=out)


def _gelu_derivative(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    t = np.tanh(_GELU_C * (z + _GELU_K * z * z * z))
    dinner = _GELU_C * (1 + 3 * _GELU_K * z * z)
    result = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * dinner
    if out is None:
        return result.astype(z.dtype, copy=False)
    np.copyto(out, result)
    return out


gelu = Activation(
    "gelu",
    _gelu,
    _gelu_derivative,
    derivative_of="z",
    domain=REALS,
    range=Interval(-0.17, math.inf, closed_low=True),  # min is about -0.170 at z = -0.75
    init="he",
    latex=r"\mathrm{GELU}",
)

# --------------------------------------------------------------------------- softmax


def _softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """softmax(z)_j = e^{z_j} / sum_k e^{z_k} over each row, shifted by the row max."""
    out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _softmax_diagonal(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The diagonal of the softmax Jacobian, ``a_j (1 - a_j)`` (see ``backprop``)."""
    return _sigmoid_derivative(a, out)


class _Softmax(Activation):
    def backprop(self, grad_a, z, a, out=None):  # type: ignore[override]
        """Jacobian-vector product: ``de/dz_j = a_j (g_j - sum_k g_k a_k)``."""
        inner = np.sum(grad_a * a, axis=-1, keepdims=True)
        out = np.subtract(grad_a, inner, out=out)
        return np.multiply(out, a, out=out)


softmax = _Softmax(
    "softmax",
    _softmax,
    _softmax_diagonal,
    derivative_of="a",
    domain=REALS,
    range=Interval(0.0, 1.0),
    init="glorot",
    elementwise=False,
    latex=r"\mathrm{softmax}",
)

# --------------------------------------------------------------------------- registry

_FACTORIES: dict[str, Callable[..., Activation]] = {
    "sigmoid": lambda: sigmoid,
    "relu": lambda: relu,
    "tanh": lambda: tanh,
    "identity": lambda: identity,
    "leaky_relu": leaky_relu,
    "softplus": lambda: softplus,
    "gelu": lambda: gelu,
    "softmax": lambda: softmax,
}
_ALIASES = {"logistic": "sigmoid", "linear": "identity", "none": "identity"}
_BUILTIN = frozenset(_FACTORIES)


def available() -> list[str]:
    """Names of every activation that :func:`get` knows, built-in and registered."""
    return sorted(_FACTORIES)


def _unknown(name: str) -> ValueError:
    close = difflib.get_close_matches(name, list(_FACTORIES), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"unknown activation {name!r}.{hint} Valid names: {', '.join(available())}; "
        "or register your own with formicary.activations.register(name, function, derivative)."
    )


def get(activation: str | Activation | dict[str, Any], **params: Any) -> Activation:
    """Look an activation up by name (``"relu"``), spec dict, or pass one through.

    Parameters
    ----------
    activation : str, Activation or dict
        A name such as ``"sigmoid"`` or ``"leaky_relu"``, an :class:`Activation`,
        or a saved spec ``{"name": ..., "params": {...}}``.
    **params
        Parameters for parametrised activations, e.g. ``get("leaky_relu", slope=0.2)``.

    Examples
    --------
    >>> str(get("relu").range)
    '[0, inf)'
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, dict):
        if "name" not in activation:
            raise ValueError(f"activation spec {activation!r} has no 'name'")
        return get(activation["name"], **dict(activation.get("params") or {}), **params)
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a name (str) or an Activation, got {type(activation).__name__}"
        )
    key = activation.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _FACTORIES:
        raise _unknown(activation)
    try:
        return _FACTORIES[key](**params)
    except TypeError as exc:
        raise TypeError(f"activation {key!r} does not take parameters {sorted(params)}") from exc


def register(
    name: str,
    function: ArrayFunction,
    derivative: ArrayFunction,
    *,
    derivative_of: Literal["z", "a"] = "z",
    domain: Interval | tuple[float, float] = REALS,
    range: Interval | tuple[float, float] = REALS,
    init: Literal["glorot", "he"] = "glorot",
    latex: str | None = None,
    overwrite: bool = False,
) -> Activation:
    """Register a custom activation so that it works everywhere a built-in does.

    Parameters
    ----------
    name : str
        The name to use in ``MLP(..., activation=name)`` and in saved models.
    function : callable
        ``function(z) -> a``, element-wise, on NumPy arrays.
    derivative : callable
        ``derivative(z) -> f'(z)`` (or ``derivative(a)`` with ``derivative_of="a"``).
    derivative_of : {"z", "a"}
        Which quantity ``derivative`` takes.
    domain, range : Interval or (low, high)
        For display and documentation; open intervals if given as tuples.
    init : {"glorot", "he"}
        Weight initialisation for layers using it.

    Returns
    -------
    Activation
        The registered activation. A model using it can be saved; loading that
        model needs the same activation registered first.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a custom activation needs a non-empty name")
    key = name.strip().lower()
    if key in _BUILTIN:
        raise ValueError(f"{key!r} is a built-in activation; choose another name")
    if key in _FACTORIES and not overwrite:
        raise ValueError(f"activation {key!r} is already registered; pass overwrite=True")
    if not callable(function) or not callable(derivative):
        raise TypeError("function and derivative must both be callables taking a NumPy array")
    if derivative_of not in ("z", "a"):
        raise ValueError(f"derivative_of must be 'z' or 'a', got {derivative_of!r}")
    if init not in ("glorot", "he"):
        raise ValueError(f"init must be 'glorot' or 'he', got {init!r}")

    def as_interval(value: Interval | tuple[float, float]) -> Interval:
        return value if isinstance(value, Interval) else Interval(float(value[0]), float(value[1]))

    def wrap(user: ArrayFunction) -> ArrayFunction:
        def wrapped(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            result = np.asarray(user(x), dtype=x.dtype)
            if result.shape != x.shape:
                raise ValueError(
                    f"custom activation {key!r} returned shape {result.shape} for input "
                    f"{x.shape}; it must work element by element"
                )
            if out is None:
                return result
            np.copyto(out, result)
            return out

        return wrapped

    activation = Activation(
        key,
        wrap(function),
        wrap(derivative),
        derivative_of=derivative_of,
        domain=as_interval(domain),
        range=as_interval(range),
        init=init,
        latex=latex if latex is not None else rf"\mathrm{{{key}}}",
    )
    _FACTORIES[key] = lambda: activation
    return activation


def unregister(name: str) -> None:
    """Remove a custom activation registered with :func:`register`."""
    key = name.strip().lower()
    if key in _BUILTIN:
        raise ValueError(f"{key!r} is a built-in activation and cannot be removed")
    if key not in _FACTORIES:
        raise _unknown(name)
    del _FACTORIES[key]
