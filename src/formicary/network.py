"""The multilayer perceptron: a stack of :class:`~formicary.layers.Dense` layers.

Forward propagation is the lecture's information flow, layer by layer::

    z^(l) = W^(l) a^(l-1) + b^(l),    a^(l) = sigma(z^(l)),    a^(0) = x,  y_hat = a^(L)

and backpropagation applies the chain rule from the output back::

    delta^(L) = de/da^(L) * sigma'(z^(L))          (= a^(L) - y for the fused pairs)
    delta^(l) = (W^(l+1)^T delta^(l+1)) * sigma'(z^(l))
    de/dW^(l) = delta^(l) a^(l-1)^T,               de/db^(l) = delta^(l)

Batches travel as rows, so in code ``Z = A W^T + b`` and, averaged over the
``N`` samples of a batch, ``de/dW = (1/N) Delta^T A_prev``.

Indexing: ``net.layers[l]``, ``trace.z[l]``, ``trace.a[l]`` and
``grads.weights[l]`` all describe layer ``l + 1`` of the lecture (Python counts
from 0, the lecture from 1); :meth:`MLP.w` and :meth:`MLP.b` take the
lecture's 1-based indices.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import activations as _activations
from formicary import backend as _backend
from formicary import losses as _losses
from formicary.layers import Dense
from formicary.validation import (
    as_float_array,
    check_inputs,
    check_n_features,
    check_sample_weight,
    check_targets,
    resolve_dtype,
)

if TYPE_CHECKING:
    from formicary.optimizers import Optimizer
    from formicary.training import History

__all__ = ["MLP", "Gradients", "Trace"]


@dataclass
class Trace:
    """Everything a forward pass computed.

    Attributes
    ----------
    inputs : ndarray, shape (n_samples, n_in)
        ``a^(0) = x``, one sample per row.
    z, a : list of ndarray
        ``z[l]`` and ``a[l]`` are ``z^(l+1)`` and ``a^(l+1)``, shape ``(n_samples, n_out)``.
    """

    inputs: np.ndarray
    z: list[np.ndarray]
    a: list[np.ndarray]

    @property
    def output(self) -> np.ndarray:
        """``y_hat = a^(L)``."""
        return self.a[-1]

    def activation(self, layer: int) -> np.ndarray:
        """``a^(layer)`` with the lecture's numbering: ``activation(0)`` is the input ``x``."""
        return self.inputs if layer == 0 else self.a[layer - 1]


@dataclass
class Gradients:
    """``de/dW^(l)``, ``de/db^(l)`` and ``delta^(l)`` for every layer, from :meth:`MLP.backward`.

    ``weights[l]`` has the shape of ``W^(l+1)``, ``(n_out, n_in)``; ``bias[l]`` of
    ``b^(l+1)``. Both are averaged over the batch. ``delta[l]`` holds each
    sample's ``de_i/dz^(l+1)`` as rows (scaled by the sample's relative weight
    when sample weights are given).
    """

    weights: list[np.ndarray]
    bias: list[np.ndarray]
    delta: list[np.ndarray]
    loss: float = float("nan")

    def flat(self) -> list[np.ndarray]:
        """``[dW^(1), db^(1), dW^(2), db^(2), ...]``, matching :meth:`MLP.parameters`."""
        return [g for pair in zip(self.weights, self.bias, strict=True) for g in pair]


#: predict's default chunk of rows
_PREDICT_CHUNK_ROWS = 4096
#: Rows x parameters from which `predict` loads the compiled kernels (about 0.4 s
#: to import) if training has not loaded them already: a few seconds of NumPy work.
_COMPILED_PREDICT_WORK = 10**10

# How the training fast path treats each hidden layer's activation:
_IDENTITY = "identity"  # a = z and sigma' = 1: nothing to compute
_FROM_A = "a"  # sigma'(z) computed from a after the forward pass, into z's buffer
_FROM_Z = "z"  # sigma'(z) computed from z in place, after a has been taken from it
_GENERAL = "general"  # z and a both kept; the activation's own backprop at the end


def _accepts_out(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return "out" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _hidden_kind(act: _activations.Activation) -> str:
    if isinstance(act, _activations._Identity):
        return _IDENTITY
    plain_backprop = type(act).backprop is _activations.Activation.backprop
    if act.elementwise and plain_backprop and _accepts_out(act.derivative):
        return _FROM_A if act.derivative_of == "a" else _FROM_Z
    return _GENERAL


def _is_builtin_leaky_relu(act: _activations.Activation) -> bool:
    """Whether ``act`` was made by :func:`formicary.activations.leaky_relu` (not a look-alike)."""
    function = act.function
    return (
        getattr(function, "__module__", None) == _activations.__name__
        and getattr(function, "__qualname__", "") == "leaky_relu.<locals>.function"
    )


def _fused_layer(act: _activations.Activation, dtype: np.dtype, kernels: Any) -> Any:
    """``f(z, b, a)``: ``a = sigma(z + b)`` and ``z = sigma'(z + b)`` in fused passes, or None.

    Only for the built-in sigmoid, ReLU, tanh and leaky ReLU with the compiled
    backend; the passes do NumPy's arithmetic in NumPy's order (same results,
    bit for bit).
    """
    if kernels is None:
        return None
    one, zero = dtype.type(1), dtype.type(0)
    if act is _activations.sigmoid:

        def sigmoid(z: np.ndarray, bias: np.ndarray, a: np.ndarray) -> np.ndarray:
            kernels.bias_negate(z, bias, a)  # a = -(z + b)
            with np.errstate(over="ignore"):
                np.exp(a, out=a)
            kernels.sigmoid_finish(a, z, one)  # a = 1 / (1 + a), z = (1 - a) a
            return a

        return sigmoid
    if act is _activations.relu:

        def relu(z: np.ndarray, bias: np.ndarray, a: np.ndarray) -> np.ndarray:
            kernels.bias_relu(z, bias, a, zero, one)
            return a

        return relu
    if act is _activations.tanh:

        def tanh(z: np.ndarray, bias: np.ndarray, a: np.ndarray) -> np.ndarray:
            kernels.bias_add(z, bias, a)  # a = z + b
            np.tanh(a, out=a)
            kernels.one_minus_square(a, z, one)  # z = 1 - a^2
            return a

        return tanh
    if _is_builtin_leaky_relu(act):
        slope = dtype.type(act.params["slope"])

        def leaky_relu(z: np.ndarray, bias: np.ndarray, a: np.ndarray) -> np.ndarray:
            kernels.bias_leaky_relu(z, bias, a, slope, one)
            return a

        return leaky_relu
    return None


def _fused_output(act: _activations.Activation, width: int, kernels: Any) -> Any:
    """``f(z, b, a)``: ``z = z + b``, ``a = softmax(z)`` in fused passes, or None.

    Only for the built-in softmax (rows up to ``accel.SOFTMAX_MAX_WIDTH`` wide)
    with the compiled backend; bit for bit NumPy's result, as above.
    """
    if kernels is None or act is not _activations.softmax or width > kernels.SOFTMAX_MAX_WIDTH:
        return None

    def softmax(z: np.ndarray, bias: np.ndarray, a: np.ndarray) -> np.ndarray:
        z += bias
        kernels.softmax_shift(z, a)  # a = z - max_k z_k
        np.exp(a, out=a)
        kernels.softmax_normalise(a)  # a = a / sum_k a_k
        return a

    return softmax


def _fused_predict(act: _activations.Activation, width: int, dtype: np.dtype, kernels: Any) -> Any:
    """``f(z, b)``: ``z = sigma(z + b)`` in place in fused passes for :meth:`MLP.predict`, or None.

    The built-in sigmoid, ReLU and softmax with the compiled backend, each
    doing NumPy's arithmetic in NumPy's order (same output, bit for bit).
    """
    if kernels is None:
        return None
    one, zero = dtype.type(1), dtype.type(0)
    if act is _activations.sigmoid:

        def sigmoid(z: np.ndarray, bias: np.ndarray) -> None:
            kernels.bias_negate(z, bias, z)
            with np.errstate(over="ignore"):
                np.exp(z, out=z)
            kernels.one_over_one_plus(z, one)

        return sigmoid
    if act is _activations.relu:
        return lambda z, bias: kernels.bias_relu_inplace(z, bias, zero)
    if act is _activations.softmax and width <= kernels.SOFTMAX_MAX_WIDTH:

        def softmax(z: np.ndarray, bias: np.ndarray) -> None:
            z += bias
            kernels.softmax_shift(z, z)
            np.exp(z, out=z)
            kernels.softmax_normalise(z)

        return softmax
    return None


class _Workspace:
    """Everything one training step writes, allocated once and reused across batches.

    Per layer ``l``: ``z[l]``, ``a[l]`` and ``delta[l]`` with room for
    ``capacity`` rows (a batch uses the first ``n``), and the gradients
    ``de/dW``, ``de/db`` as views of one vector laid out like the network's
    parameters, so the optimizer can update everything in a few calls. For
    hidden layers whose ``sigma'`` is cheap to get from ``a`` or ``z``
    (sigmoid, tanh, ReLU, ...), ``z[l]`` is overwritten in the forward pass by
    ``sigma'(z)``, which the backward pass then only multiplies in.
    """

    def __init__(self, net: MLP, capacity: int) -> None:
        dtype = net.dtype
        self.capacity = capacity
        self.dtype = dtype
        self.layers = tuple(net.layers)
        self.activations = tuple(layer.activation for layer in net.layers)
        last = len(net.layers) - 1
        self.kinds = [_hidden_kind(act) for act in self.activations[:-1]]
        self.generation = _backend.generation
        kernels = _backend.kernels(load=False)  # fit decides whether loading them pays
        self.fused = [_fused_layer(act, dtype, kernels) for act in self.activations[:-1]]
        self.fused.append(_fused_output(self.activations[-1], net.layers[-1].n_out, kernels))
        self.z: list[np.ndarray] = []
        self.a: list[np.ndarray] = []
        self.delta: list[np.ndarray] = []
        for l, layer in enumerate(net.layers):
            z = np.empty((capacity, layer.n_out), dtype=dtype)
            shares = (
                self.kinds[l] == _IDENTITY
                if l < last
                else isinstance(layer.activation, _activations._Identity)
            )
            self.z.append(z)
            self.a.append(z if shares else np.empty_like(z))
            self.delta.append(np.empty_like(z))
        self.ones = np.ones(capacity, dtype=dtype)
        self.grad_flat = np.empty(net.parameter_count, dtype=dtype)
        self.grad_weights: list[np.ndarray] = []
        self.grad_bias: list[np.ndarray] = []
        offset = 0
        for layer in net.layers:
            size = layer.weights.size
            self.grad_weights.append(
                self.grad_flat[offset : offset + size].reshape(layer.weights.shape)
            )
            offset += size
            self.grad_bias.append(self.grad_flat[offset : offset + layer.n_out])
            offset += layer.n_out
        pairs = zip(self.grad_weights, self.grad_bias, strict=True)
        self.flat_grads = [g for pair in pairs for g in pair]
        self._views: dict[int, tuple[list[np.ndarray], ...]] = {}

    def fits(self, net: MLP, n: int) -> bool:
        """Whether this workspace still matches ``net`` (same layers, dtype) and holds ``n`` rows."""
        layers = net.layers
        if (
            n > self.capacity
            or len(layers) != len(self.layers)
            or net.dtype != self.dtype
            or self.generation != _backend.generation
        ):
            return False
        return all(
            mine is theirs and mine.activation is act
            for mine, theirs, act in zip(self.layers, layers, self.activations, strict=True)
        )

    def rows(self, n: int) -> tuple[list[np.ndarray], ...]:
        """``(z, a, delta, [ones])`` cut to the first ``n`` rows (cached per ``n``)."""
        views = self._views.get(n)
        if views is None:
            if len(self._views) > 8:
                self._views.clear()
            views = self._views[n] = (
                [z[:n] for z in self.z],
                [a[:n] for a in self.a],
                [d[:n] for d in self.delta],
                [self.ones[:n]],
            )
        return views


def _resolve_activations(
    n_layers: int,
    activation: Any,
    output_activation: Any,
) -> list[_activations.Activation]:
    """One activation per layer from the user's ``activation``/``output_activation``."""
    n_hidden = n_layers - 1
    if isinstance(activation, (list, tuple)):
        names = list(activation)
        if len(names) == n_layers and output_activation is None:
            return [_activations.get(a) for a in names]
        if len(names) != n_hidden:
            raise ValueError(
                f"activation lists one per hidden layer: this network has {n_hidden} hidden "
                f"layer(s) but {len(names)} activation(s) were given (or give {n_layers}, "
                "one per layer including the output, and no output_activation)"
            )
        hidden = [_activations.get(a) for a in names]
    else:
        hidden = [_activations.get(activation)] * n_hidden
    out = _activations.get("identity" if output_activation is None else output_activation)
    for act in hidden:
        if not act.elementwise:
            raise ValueError(
                f"{act.name} normalises across a layer and is meant for the output layer; "
                "use it as output_activation"
            )
    return [*hidden, out]


class MLP:
    """A multilayer perceptron: the formicary built from simple neurons.

    Parameters
    ----------
    layers : list of int or list of Dense
        Layer sizes including the input, e.g. ``[3, 2, 1]`` for the lecture's
        network (3 inputs, 2 hidden neurons, 1 output), or ready-made layers.
    activation : str, Activation or list
        Hidden-layer activation ``sigma``; a list gives one per hidden layer
        (``["relu", "tanh"]``).
    output_activation : str or Activation, optional
        The output layer's activation (``"identity"`` when omitted: a linear
        output). Use ``"sigmoid"`` for binary and ``"softmax"`` for multiclass.
    seed : int or numpy.random.Generator, optional
        Makes the initial weights reproducible.
    dtype : {"float64", "float32"}
    init : {"glorot", "he"}, optional
        Overrides each activation's preferred initialisation.

    Examples
    --------
    >>> net = MLP([3, 2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    >>> net.layers[0].weights.shape  # W^(1) is 2x3
    (2, 3)
    """

    def __init__(
        self,
        layers: Sequence[int] | Sequence[Dense],
        activation: Any = "sigmoid",
        output_activation: Any = None,
        *,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
        init: str | None = None,
    ) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("an MLP needs at least one layer")
        if all(isinstance(layer, Dense) for layer in layers):
            self.layers: list[Dense] = list(layers)  # type: ignore[arg-type]
            first_dtype = self.layers[0].dtype
            for i, (prev, nxt) in enumerate(zip(self.layers, self.layers[1:], strict=False)):
                if prev.n_out != nxt.n_in:
                    raise ValueError(
                        f"layer {i + 1} has {prev.n_out} neurons but layer {i + 2} expects "
                        f"{nxt.n_in} inputs"
                    )
            if any(layer.dtype != first_dtype for layer in self.layers):
                raise TypeError("all layers must share one dtype")
        elif any(isinstance(layer, Dense) for layer in layers):
            raise TypeError("give either layer sizes (ints) or Dense layers, not a mix")
        else:
            sizes = []
            for size in layers:
                if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                    raise ValueError(f"layer sizes must be positive integers, got {layers!r}")
                sizes.append(int(size))
            if len(sizes) < 2:
                raise ValueError(
                    f"layer sizes {sizes} need at least an input size and an output size, "
                    "e.g. [3, 2, 1]"
                )
            acts = _resolve_activations(len(sizes) - 1, activation, output_activation)
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            dtype = resolve_dtype(dtype)
            self.layers = [
                Dense(n_in, n_out, act, init=init, seed=rng, dtype=dtype)
                for n_in, n_out, act in zip(sizes[:-1], sizes[1:], acts, strict=True)
            ]
        self.history: History | None = None
        self.stop_training = False
        self.metadata: dict[str, Any] = {}
        self._workspace: _Workspace | None = None
        self._packed: tuple[np.ndarray, ...] = ()
        self._flat_parameters: np.ndarray | None = None
        self._pack()

    def _pack(self) -> None:
        """Lay ``W^(1), b^(1), W^(2), ...`` back to back in one vector; the layers keep views.

        The values and the layers' ``weights``/``bias`` attributes stay what they
        were (now views into the vector), so :meth:`parameters` is still the live
        arrays, and an optimizer can update all of them in a few NumPy calls.
        Called again by the training fast path if a layer's arrays were replaced.
        """
        dtype = self.layers[0].weights.dtype
        flat = np.empty(sum(layer.parameter_count for layer in self.layers), dtype=dtype)
        views = []
        offset = 0
        for layer in self.layers:
            for name in ("weights", "bias"):
                array = getattr(layer, name)
                view = flat[offset : offset + array.size].reshape(array.shape)
                np.copyto(view, array)
                setattr(layer, name, view)
                views.append(view)
                offset += array.size
        self._flat_parameters = flat
        self._packed = tuple(views)

    def _is_packed(self) -> bool:
        packed = self._packed
        if len(packed) != 2 * len(self.layers):
            return False
        for i, layer in enumerate(self.layers):
            if layer.weights is not packed[2 * i] or layer.bias is not packed[2 * i + 1]:
                return False
        return True

    # ------------------------------------------------------------------ structure
    @property
    def sizes(self) -> list[int]:
        """Layer sizes including the input: ``[n_in, n_1, ..., n_L]``."""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].dtype

    @property
    def activations(self) -> list[_activations.Activation]:
        return [layer.activation for layer in self.layers]

    @property
    def output_activation(self) -> _activations.Activation:
        return self.layers[-1].activation

    @property
    def parameter_count(self) -> int:
        return sum(layer.parameter_count for layer in self.layers)

    def parameters(self) -> list[np.ndarray]:
        """``[W^(1), b^(1), W^(2), b^(2), ...]``: the live arrays (changing them changes the net)."""
        return [p for layer in self.layers for p in (layer.weights, layer.bias)]

    def get_parameters(self) -> list[np.ndarray]:
        """A copy of every parameter, for snapshots."""
        return [p.copy() for p in self.parameters()]

    def set_parameters(self, values: Sequence[np.ndarray]) -> None:
        """Copy ``values`` (as from :meth:`get_parameters`) into the network's arrays."""
        params = self.parameters()
        if len(values) != len(params):
            raise ValueError(f"expected {len(params)} arrays, got {len(values)}")
        for target, value in zip(params, values, strict=True):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"shape {value.shape} does not fit parameter {target.shape}")
            np.copyto(target, value)

    def _check_layer(self, l: int) -> Dense:
        if not 1 <= l <= len(self.layers):
            raise IndexError(f"layer index l={l} out of range: layers are 1..{len(self.layers)}")
        return self.layers[l - 1]

    def w(self, l: int, j: int, k: int) -> float:
        """``w_jk^(l)`` with the lecture's 1-based indices: input ``k`` to neuron ``j`` of layer ``l``."""
        layer = self._check_layer(l)
        if not (1 <= j <= layer.n_out and 1 <= k <= layer.n_in):
            raise IndexError(
                f"w_jk^({l}) needs 1 <= j <= {layer.n_out} and 1 <= k <= {layer.n_in}, "
                f"got j={j}, k={k}"
            )
        return float(layer.weights[j - 1, k - 1])

    def b(self, l: int, j: int) -> float:
        """``b_j^(l)`` with the lecture's 1-based indices."""
        layer = self._check_layer(l)
        if not 1 <= j <= layer.n_out:
            raise IndexError(f"b_j^({l}) needs 1 <= j <= {layer.n_out}, got j={j}")
        return float(layer.bias[j - 1])

    def astype(self, dtype: Any) -> MLP:
        """Convert every layer to ``dtype`` in place (returns ``self``)."""
        dtype = resolve_dtype(dtype)
        if dtype != self.dtype:
            for layer in self.layers:
                layer.astype(dtype)
            self._workspace = None
            self._pack()
        return self

    def copy(self) -> MLP:
        """An independent copy (weights copied)."""
        clone = MLP([layer.copy() for layer in self.layers])
        clone.metadata = dict(self.metadata)
        return clone

    # ------------------------------------------------------------------ forward
    def _prepare_inputs(self, X: Any) -> np.ndarray:
        # Float inputs keep their dtype (float32 stays float32); ints become the net's dtype.
        array = as_float_array(X, "X", dtype=None if _is_float(X) else self.dtype)
        return check_n_features(array, self.n_inputs)

    def _params_in(self, dtype: np.dtype) -> list[tuple[np.ndarray, np.ndarray]]:
        if dtype == self.dtype:
            return [(layer.weights, layer.bias) for layer in self.layers]
        return [(layer.weights.astype(dtype), layer.bias.astype(dtype)) for layer in self.layers]

    def forward(self, X: Any, trace: bool = False) -> np.ndarray | Trace:
        """Propagate a batch forward: ``y_hat = a^(L)`` (or the whole :class:`Trace`).

        Parameters
        ----------
        X : array of shape (n_samples, n_inputs)
            One sample per row. Float32 input gives float32 output.
        trace : bool
            Return every ``z^(l)`` and ``a^(l)`` instead of just the output.
        """
        X = self._prepare_inputs(X)
        zs, as_ = [], []
        a = X
        for (weights, bias), layer in zip(self._params_in(X.dtype), self.layers, strict=True):
            z = a @ weights.T
            z += bias
            a = layer.activation.function(z)
            if trace:
                zs.append(z)
                as_.append(a)
        return Trace(X, zs, as_) if trace else a

    def predict(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """The network's output ``a^(L)`` for every row of ``X``, in chunks of ``batch_size`` rows.

        Forward only: keeps no trace, each layer's ``z`` and ``a`` share one
        buffer reused for every chunk (the activation is applied in place), and
        the output layer writes straight into the result. Memory stays at one
        chunk's activations. The default, 4,096 rows, measured fastest both for
        784-256-128-10 (efficient matrix products) and for 2-16-16-1 (few
        Python-level steps, buffers still in cache).
        """
        X = self._prepare_inputs(X)
        n = X.shape[0]
        if batch_size is None:
            batch_size = _PREDICT_CHUNK_ROWS
        chunk = max(1, min(int(batch_size), n))
        dtype = X.dtype
        out = np.empty((n, self.n_outputs), dtype=dtype)
        last = len(self.layers) - 1
        kernels = _backend.kernels(load=n * self.parameter_count >= _COMPILED_PREDICT_WORK)
        steps = []
        for l, layer in enumerate(self.layers):
            weights, bias = layer.weights, layer.bias
            if weights.dtype != dtype:
                weights, bias = weights.astype(dtype), bias.astype(dtype)
            act = layer.activation
            buffer = None if l == last else np.empty((chunk, layer.n_out), dtype=dtype)
            function = None if isinstance(act, _activations._Identity) else act.function
            # For narrow layers and many rows, b repeated `tile` times is added to rows of
            # `tile` samples: NumPy's loop runs over 256 values at a time instead of n_out
            # (2x faster); for a few rows, setting that up would cost more than it saves.
            tile = max(1, 256 // layer.n_out) if 1 < layer.n_out < 128 and n >= 2048 else 1
            tiled = np.tile(bias, tile) if tile > 1 else bias
            fused = _fused_predict(act, layer.n_out, np.dtype(dtype), kernels)
            steps.append((weights.T, bias, tiled, tile, function, buffer, fused))
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            m = stop - start
            a = X[start:stop]
            for weights_t, bias, tiled, tile, function, buffer, fused in steps:
                z = out[start:stop] if buffer is None else buffer[:m]
                np.matmul(a, weights_t, out=z)
                if fused is not None and z.flags.c_contiguous:
                    fused(z, bias)
                    a = z
                    continue
                if tile > 1 and m % tile == 0 and z.flags.c_contiguous:
                    wide = z.reshape(m // tile, -1)
                    np.add(wide, tiled, out=wide)
                else:
                    z += bias
                if function is not None:
                    a = function(z, out=z)
                    if a is not z:
                        np.copyto(z, a)
                a = z
        return out

    def classify(self, X: Any) -> np.ndarray:
        """Class predictions: ``a >= 0.5`` for one output neuron, else the arg-max neuron."""
        out = self.predict(X)
        if self.n_outputs == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return out.argmax(axis=1)

    # ------------------------------------------------------------------ backward
    def backward(
        self,
        trace: Trace,
        y: Any,
        loss: str | _losses.Loss = "mse",
        sample_weight: Any = None,
    ) -> Gradients:
        """Backpropagate the error of a traced forward pass.

        Parameters
        ----------
        trace : Trace
            From ``forward(X, trace=True)``.
        y : array of shape (n_samples, n_outputs)
            Targets (1-D for one output neuron).
        loss : str or Loss
            The error ``e`` being minimised.
        sample_weight : array of shape (n_samples,), optional

        Returns
        -------
        Gradients
            ``de/dW^(l)``, ``de/db^(l)`` averaged over the batch, and each sample's ``delta^(l)``.
        """
        if not isinstance(trace, Trace):
            raise TypeError("backward needs the Trace returned by forward(X, trace=True)")
        loss = _losses.get(loss)
        X = trace.inputs
        y = check_targets(y, X.shape[0], self.n_outputs, X.dtype, loss.name)
        weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        params = self._params_in(X.dtype)
        deltas = [np.empty_like(z) for z in trace.z]
        grad_w = [np.empty_like(w) for w, _ in params]
        grad_b = [np.empty_like(b) for _, b in params]
        self._backprop(X, trace.z, trace.a, y, loss, weights, params, deltas, grad_w, grad_b)
        value = loss.value(trace.output, y, weights)
        return Gradients(grad_w, grad_b, deltas, value)

    def _backprop(
        self,
        X: np.ndarray,
        zs: Sequence[np.ndarray],
        as_: Sequence[np.ndarray],
        y: np.ndarray,
        loss: _losses.Loss,
        sample_weight: np.ndarray | None,
        params: Sequence[tuple[np.ndarray, np.ndarray]],
        deltas: Sequence[np.ndarray],
        grad_w: Sequence[np.ndarray],
        grad_b: Sequence[np.ndarray],
    ) -> None:
        """The backward pass into preallocated arrays (shared by ``backward`` and ``fit``)."""
        n = X.shape[0]
        last = len(self.layers) - 1
        out_act = self.layers[last].activation
        delta = deltas[last]
        if out_act.name in loss.fused_with:
            # delta^(L) = a^(L) - y: the chain rule with sigma' cancelled analytically
            loss.fused_delta(as_[last], y, out=delta)
        else:
            grad_a = loss.gradient(as_[last], y)
            out_act.backprop(grad_a, zs[last], as_[last], out=delta)
        if sample_weight is not None:
            delta *= (sample_weight * (n / sample_weight.sum()))[:, None]
        scale = 1.0 / n
        for l in range(last, -1, -1):
            a_prev = X if l == 0 else as_[l - 1]
            # de/dW^(l) = (1/N) Delta^T A_prev, de/db^(l) = (1/N) sum of the rows of Delta
            np.matmul(delta.T, a_prev, out=grad_w[l])
            grad_w[l] *= scale
            np.sum(delta, axis=0, out=grad_b[l])
            grad_b[l] *= scale
            if l > 0:
                # delta^(l-1) = (delta^(l) W^(l)) * sigma'(z^(l-1))
                previous = deltas[l - 1]
                np.matmul(delta, params[l][0], out=previous)
                self.layers[l - 1].activation.backprop(
                    previous, zs[l - 1], as_[l - 1], out=previous
                )
                delta = previous

    def loss(self, X: Any, y: Any, loss: str | _losses.Loss = "mse") -> float:
        """The mean error ``e`` of the network on ``(X, y)``."""
        loss = _losses.get(loss)
        out = self.predict(X)
        y = check_targets(y, out.shape[0], self.n_outputs, out.dtype, loss.name)
        return loss.value(out, y)

    # ------------------------------------------------------------------ training
    def train_step(
        self,
        X: np.ndarray,
        y: np.ndarray,
        loss: _losses.Loss,
        optimizer: Optimizer,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """One optimisation step on a validated batch; returns ``(loss, y_hat)``.

        The fast path used by :meth:`fit`: forward and backward into reused
        buffers, then ``optimizer.step``. Inputs must already be checked arrays
        in the network's dtype (use :meth:`fit_batch` for raw data). ``y_hat``
        is a view of a buffer that the next step overwrites.

        The maths is :meth:`forward` and :meth:`backward`'s (the tests compare
        them); what differs is bookkeeping: no allocation per batch, ``sigma'``
        computed in place during the forward pass, the batch average ``1/N``
        folded into ``delta^(L)`` (so ``de/dW = Delta^T A_prev`` needs no extra
        pass), ``de/db`` as a matrix-vector product with a vector of ones.
        """
        n = X.shape[0]
        ws = self._workspace
        if ws is None or not ws.fits(self, n) or not self._is_packed():
            if not self._is_packed():
                self._pack()
            ws = self._workspace = _Workspace(self, max(n, 1, ws.capacity if ws else 0))
        zs, as_, deltas, (ones,) = ws.rows(n)
        layers = self.layers
        kinds = ws.kinds
        last = len(layers) - 1

        # forward: z^(l) = a^(l-1) W^(l)T + b^(l), a^(l) = sigma(z^(l))
        fused = ws.fused
        a = X
        for l, layer in enumerate(layers):
            z = zs[l]
            np.matmul(a, layer.weights.T, out=z)
            if fused[l] is not None:
                a = fused[l](z, layer.bias, as_[l])
                continue
            z += layer.bias
            act = layer.activation
            kind = kinds[l] if l < last else _GENERAL
            if as_[l] is z:
                a = z
                continue
            a = act.function(z, out=as_[l])
            if kind == _FROM_A:
                local = act.derivative(a, out=z)
            elif kind == _FROM_Z:
                local = act.derivative(z, out=z)
            else:
                continue
            if local is not z:
                np.copyto(z, local)
        value = loss.value(a, y, sample_weight)

        # delta^(L), already divided by N (or weighted by w_i / sum w)
        delta = deltas[last]
        out_act = layers[last].activation
        if out_act.name in loss.fused_with:
            loss.fused_delta(a, y, out=delta)
        else:
            out_act.backprop(loss.gradient(a, y), zs[last], a, out=delta)
        if sample_weight is None:
            delta *= 1.0 / n
        else:
            delta *= (sample_weight / sample_weight.sum())[:, None]

        grad_w, grad_b = ws.grad_weights, ws.grad_bias
        for l in range(last, -1, -1):
            # de/dW^(l) = Delta^T A_prev, de/db^(l) = 1^T Delta
            np.matmul(delta.T, X if l == 0 else as_[l - 1], out=grad_w[l])
            np.matmul(ones, delta, out=grad_b[l])
            if l:
                # delta^(l-1) = (delta^(l) W^(l)) * sigma'(z^(l-1))
                previous = deltas[l - 1]
                np.matmul(delta, layers[l].weights, out=previous)
                kind = kinds[l - 1]
                if kind in (_FROM_A, _FROM_Z):
                    previous *= zs[l - 1]
                elif kind == _GENERAL:
                    layers[l - 1].activation.backprop(previous, zs[l - 1], as_[l - 1], out=previous)
                delta = previous
        optimizer.step(self._packed, ws.flat_grads)
        return value, a

    def fit_batch(
        self,
        X: Any,
        y: Any,
        loss: str | _losses.Loss = "auto",
        optimizer: Optimizer | None = None,
        sample_weight: Any = None,
    ) -> float:
        """Check one batch, take one optimisation step on it and return its loss.

        With no optimizer, the lecture's ``SGD(learning_rate=0.1)`` step is used.
        """
        from formicary.optimizers import SGD

        loss = _resolve_loss(self, loss)
        X = check_inputs(as_float_array(X, "X", dtype=self.dtype), self.n_inputs)
        y = check_targets(y, X.shape[0], self.n_outputs, self.dtype, loss.name)
        weights = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        if optimizer is None:
            optimizer = self.__dict__.setdefault("_default_optimizer", SGD(learning_rate=0.1))
        value, _ = self.train_step(X, y, loss, optimizer, weights)
        if not np.isfinite(value):
            raise ValueError(
                f"the loss became {value}: training diverged; lower the learning rate "
                "or standardise the inputs"
            )
        return value

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> History:
        """Train with mini-batch gradient descent; see :func:`formicary.training.fit`.

        Streamed data (a path, an ``np.memmap``, a function or iterable yielding
        ``(X, y)`` chunks) goes to :func:`formicary.streaming.fit_stream`, whose
        memory stays bounded by the chunk size rather than the data set.
        """
        from formicary import streaming

        if streaming.is_stream(X, y):
            return streaming.fit_stream(self, X, y, **kwargs)
        if y is None:
            raise TypeError("fit needs targets y (or a stream of (X, y) chunks)")
        from formicary.training import fit

        return fit(self, X, y, **kwargs)

    def evaluate(
        self, X: Any, y: Any, loss: str | _losses.Loss = "auto", metric: str | None = "auto"
    ) -> dict[str, float]:
        """``{"loss": e, <metric>: value}`` on ``(X, y)``."""
        from formicary import metrics

        loss = _resolve_loss(self, loss)
        out = self.predict(X)
        y = check_targets(y, out.shape[0], self.n_outputs, out.dtype, loss.name)
        result = {"loss": loss.value(out, y)}
        name = metrics.default_for(loss, self.n_outputs) if metric == "auto" else metric
        if name:
            result[name] = metrics.get(name)(y, out)
        return result

    # ------------------------------------------------------------------ saving
    def save(self, path: Any, extra: dict[str, Any] | None = None) -> None:
        """Write the network to one ``.npz`` file atomically (see :func:`formicary.save`)."""
        from formicary.serialization import save

        save(self, path, extra=extra)

    @classmethod
    def load(cls, path: Any) -> MLP:
        """Read a network written by :meth:`save`."""
        from formicary.serialization import load

        return load(path)

    # ------------------------------------------------------------------ display
    def summary(self) -> str:
        """A table of layers, shapes, activations and parameter counts."""
        rows = [("layer", "W shape", "b shape", "activation", "params")]
        rows.append(("0 (input)", "", "", "", f"{self.n_inputs} inputs"))
        for i, layer in enumerate(self.layers, start=1):
            name = f"{i} (output)" if i == len(self.layers) else f"{i} (hidden)"
            act = layer.activation
            label = act.name + "".join(f"({v:g})" for v in act.params.values())
            rows.append(
                (
                    name,
                    f"{layer.n_out}x{layer.n_in}",
                    f"{layer.n_out}",
                    label,
                    f"{layer.parameter_count:,}",
                )
            )
        widths = [max(len(row[c]) for row in rows) for c in range(5)]
        lines = [f"MLP {'-'.join(map(str, self.sizes))} ({self.dtype.name})"]
        for r, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if r == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append(f"total parameters: {self.parameter_count:,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        acts = ", ".join(a.name for a in self.activations)
        return f"MLP({self.sizes}, activations=[{acts}], dtype={self.dtype.name!r})"

    def _repr_html_(self) -> str:
        head = (
            "<tr><th>layer</th><th>W<sup>(l)</sup></th><th>b<sup>(l)</sup></th>"
            "<th>activation</th><th>parameters</th></tr>"
        )
        body = [f"<tr><td>0 (input)</td><td></td><td></td><td></td><td>{self.n_inputs}</td></tr>"]
        for i, layer in enumerate(self.layers, start=1):
            body.append(
                f"<tr><td>{i}</td><td>{layer.n_out}&times;{layer.n_in}</td>"
                f"<td>{layer.n_out}</td><td>{escape(layer.activation.name)}</td>"
                f"<td>{layer.parameter_count:,}</td></tr>"
            )
        title = escape(f"MLP {'-'.join(map(str, self.sizes))} ({self.dtype.name})")
        return (
            f"<div class='formicary-mlp'><strong>{title}</strong>"
            f"<table>{head}{''.join(body)}</table>"
            f"<p>total parameters: {self.parameter_count:,}</p></div>"
        )


def _is_float(data: Any) -> bool:
    dtype = getattr(data, "dtype", None)
    return dtype is not None and np.dtype(dtype) in (np.float32, np.float64)


def _resolve_loss(net: MLP, loss: str | _losses.Loss) -> _losses.Loss:
    if isinstance(loss, str) and loss == "auto":
        return _losses.default_for(net.output_activation.name)
    return _losses.get(loss)
