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

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import activations as _activations
from formicary import losses as _losses
from formicary.layers import Dense
from formicary.validation import (
    as_float_array,
    check_inputs,
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


@dataclass
class _Workspace:
    """Buffers reused across batches by the training loop (no allocation per batch)."""

    capacity: int
    z: list[np.ndarray]
    a: list[np.ndarray]
    delta: list[np.ndarray]
    grad_weights: list[np.ndarray]
    grad_bias: list[np.ndarray]
    flat_grads: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def for_network(cls, net: MLP, capacity: int) -> _Workspace:
        dtype = net.dtype
        z, a, delta = [], [], []
        for layer in net.layers:
            z.append(np.empty((capacity, layer.n_out), dtype=dtype))
            identity = layer.activation.name == "identity"
            a.append(z[-1] if identity else np.empty((capacity, layer.n_out), dtype=dtype))
            delta.append(np.empty((capacity, layer.n_out), dtype=dtype))
        gw = [np.empty_like(layer.weights) for layer in net.layers]
        gb = [np.empty_like(layer.bias) for layer in net.layers]
        flat = [g for pair in zip(gw, gb, strict=True) for g in pair]
        return cls(capacity, z, a, delta, gw, gb, flat)


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
        return check_inputs(array, self.n_inputs)

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

    def predict(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """The network's output ``a^(L)`` for every row of ``X``, in chunks of ``batch_size``.

        Keeps no trace, so memory stays at one chunk's activations.
        """
        X = self._prepare_inputs(X)
        params = self._params_in(X.dtype)
        out = np.empty((X.shape[0], self.n_outputs), dtype=X.dtype)
        for start in range(0, X.shape[0], batch_size):
            a = X[start : start + batch_size]
            for (weights, bias), layer in zip(params, self.layers, strict=True):
                z = a @ weights.T
                z += bias
                a = layer.activation.function(z, out=z)
            out[start : start + batch_size] = a
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
        in the network's dtype (use :meth:`fit_batch` for raw data).
        """
        n = X.shape[0]
        ws = self._workspace
        if ws is None or ws.capacity < n or ws.z[0].dtype != self.dtype:
            ws = self._workspace = _Workspace.for_network(self, max(n, 1))
        params = [(layer.weights, layer.bias) for layer in self.layers]
        zs, as_ = [], []
        a = X
        for l, (weights, bias) in enumerate(params):
            z = ws.z[l][:n]
            np.matmul(a, weights.T, out=z)
            z += bias
            act = self.layers[l].activation
            a = z if act.name == "identity" else act.function(z, out=ws.a[l][:n])
            zs.append(z)
            as_.append(a)
        value = loss.value(a, y, sample_weight)
        deltas = [d[:n] for d in ws.delta]
        self._backprop(
            X, zs, as_, y, loss, sample_weight, params, deltas, ws.grad_weights, ws.grad_bias
        )
        optimizer.step(self.parameters(), ws.flat_grads)
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

    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train with mini-batch gradient descent; see :func:`formicary.training.fit`."""
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
