"""Move weights between Formicary and the frameworks users move to: PyTorch and scikit-learn.

Layouts. Formicary keeps the lecture's ``W^(l)`` of shape ``(n_out, n_in)``
(``W[j, k] = w_jk^(l)``, input ``k`` to neuron ``j``). PyTorch's
``nn.Linear.weight`` has the same ``(out_features, in_features)`` layout, so
weights are copied as they are. scikit-learn's ``coefs_[l]`` is
``(n_in, n_out)``: it is the transpose, ``coefs_[l] = W^(l+1).T``.

Activations map one to one::

    Formicary     PyTorch                         scikit-learn
    sigmoid       nn.Sigmoid                      "logistic"
    relu          nn.ReLU                         "relu"
    tanh          nn.Tanh                         "tanh"
    identity      (no module) / nn.Identity       "identity"
    leaky_relu    nn.LeakyReLU(negative_slope)    -
    softplus      nn.Softplus (beta=1)            -
    gelu          nn.GELU(approximate="tanh")     -
    softmax       nn.Softmax(dim=-1), last only   out_activation_ "softmax"

PyTorch is imported only inside these functions (it is never needed at run
time); scikit-learn likewise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import activations as _activations

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = ["from_sklearn", "from_torch", "to_sklearn", "to_torch", "to_torch_state_dict"]

SKLEARN_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SKLEARN_OUTPUT = {"identity": "identity", "logistic": "sigmoid", "softmax": "softmax"}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            "exchanging weights with PyTorch needs torch; install it with: "
            "pip install torch==2.13.0 (CPU build: --index-url https://download.pytorch.org/whl/cpu)"
        ) from None
    return torch


def _sklearn_nn() -> Any:
    try:
        from sklearn import neural_network
    except ImportError:
        raise ImportError(
            "exchanging weights with scikit-learn needs it; install it with: "
            "pip install 'formicary[sklearn]'"
        ) from None
    return neural_network


# =========================================================================== PyTorch


def _torch_activation(activation: _activations.Activation, torch: Any, last: bool) -> Any:
    """The ``nn.Module`` computing ``activation`` (None for identity)."""
    nn = torch.nn
    name = activation.name
    if name == "identity":
        return None
    simple = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "softplus": nn.Softplus}
    if name in simple:
        return simple[name]()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=activation.params["slope"])
    if name == "gelu":
        return nn.GELU(approximate="tanh")
    if name == "softmax" and last:
        return nn.Softmax(dim=-1)
    raise ValueError(
        f"activation {name!r} has no PyTorch module counterpart; to_torch knows "
        "sigmoid, relu, tanh, identity, leaky_relu, softplus, gelu and softmax"
    )


def to_torch(net: MLP) -> Any:
    """A ``torch.nn.Sequential`` of ``Linear`` + activation modules computing ``net.predict``.

    ``Linear(n_in, n_out).weight`` is ``W^(l)`` itself (same ``(n_out, n_in)``
    layout), ``.bias`` is ``b^(l)``; the tensors are in the network's dtype.
    Identity activations add no module.
    """
    torch = _torch()
    dtype = torch.float32 if net.dtype == np.float32 else torch.float64
    modules = []
    last = len(net.layers)
    for l, layer in enumerate(net.layers, start=1):
        linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weights))
            linear.bias.copy_(torch.from_numpy(layer.bias))
        modules.append(linear)
        module = _torch_activation(layer.activation, torch, l == last)
        if module is not None:
            modules.append(module)
    return torch.nn.Sequential(*modules)


def to_torch_state_dict(net: MLP) -> dict[str, Any]:
    """The ``state_dict`` of :func:`to_torch`'s ``Sequential`` (``"0.weight"``, ``"0.bias"``, ...)."""
    return to_torch(net).state_dict()


def _module_activation(module: Any, torch: Any, index: int) -> _activations.Activation:
    nn = torch.nn
    if isinstance(module, nn.Sigmoid):
        return _activations.sigmoid
    if isinstance(module, nn.ReLU):
        return _activations.relu
    if isinstance(module, nn.Tanh):
        return _activations.tanh
    if isinstance(module, nn.LeakyReLU):
        return _activations.leaky_relu(module.negative_slope)
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(
                f"module {index} is Softplus(beta={module.beta}); Formicary's softplus has beta=1"
            )
        return _activations.softplus
    if isinstance(module, nn.GELU):
        if module.approximate != "tanh":
            raise ValueError(
                f"module {index} is the exact (erf) GELU; Formicary's gelu is the tanh "
                "approximation, which differs by up to 5e-4. Use nn.GELU(approximate='tanh')"
            )
        return _activations.gelu
    if isinstance(module, nn.Softmax):
        if module.dim not in (None, -1, 1):
            raise ValueError(f"module {index} is Softmax(dim={module.dim}); use dim=-1")
        return _activations.softmax
    raise ValueError(
        f"module {index} is {type(module).__name__}, which Formicary cannot import: give a "
        "Sequential of Linear layers and Sigmoid, ReLU, Tanh, LeakyReLU, Softplus, "
        "GELU(approximate='tanh'), Identity, Dropout or a final Softmax"
    )


def _numpy(tensor: Any, name: str) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu()
        if not tensor.dtype.is_floating_point:
            raise TypeError(f"{name} holds {tensor.dtype} values; give floating-point weights")
        if tensor.dtype not in (_torch().float32, _torch().float64):
            tensor = tensor.float()  # float16/bfloat16: widen to float32 losslessly
        return tensor.numpy().copy()
    return np.array(tensor, copy=True)


def _layers_from_module(model: Any, torch: Any) -> list[tuple[np.ndarray, np.ndarray, Any]]:
    layers: list[list[Any]] = []
    for index, module in enumerate(model.children()):
        if isinstance(module, torch.nn.Linear):
            weights = _numpy(module.weight, f"module {index} weight")
            if module.bias is not None:
                bias = _numpy(module.bias, f"module {index} bias")
            else:
                bias = np.zeros(weights.shape[0], dtype=weights.dtype)
            layers.append([weights, bias, None])
        elif isinstance(module, (torch.nn.Identity, torch.nn.Dropout)):
            continue  # inference: dropout is the identity
        else:
            activation = _module_activation(module, torch, index)
            if not layers:
                raise ValueError(
                    f"module {index} ({type(module).__name__}) comes before any Linear layer"
                )
            if layers[-1][2] is not None:
                raise ValueError(
                    f"module {index} ({type(module).__name__}) follows another activation; "
                    "give one activation per Linear layer"
                )
            layers[-1][2] = activation
    if not layers:
        raise ValueError("the model holds no Linear layer")
    return [(w, b, act if act is not None else _activations.identity) for w, b, act in layers]


_KEY = re.compile(r"^(?P<prefix>.*?)(?P<index>\d+)\.(?P<kind>weight|bias)$")


def _layers_from_state_dict(
    state: Mapping[str, Any], activation: Any, output_activation: Any
) -> list[tuple[np.ndarray, np.ndarray, Any]]:
    groups: dict[int, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        match = _KEY.match(key)
        if match is None:
            raise ValueError(
                f"state_dict key {key!r} is not '<index>.weight' or '<index>.bias' of a "
                "Sequential; give the state_dict of an nn.Sequential of Linear layers"
            )
        groups.setdefault(int(match["index"]), {})[match["kind"]] = _numpy(value, key)
    if not groups:
        raise ValueError("the state_dict is empty")
    indices = sorted(groups)
    n_layers = len(indices)
    if activation is None:
        raise ValueError(
            "a state_dict holds no activations: say which with activation= (one name or one "
            "per hidden layer) and output_activation="
        )
    hidden = (
        list(activation) if isinstance(activation, (list, tuple)) else [activation] * (n_layers - 1)
    )
    if len(hidden) != n_layers - 1:
        raise ValueError(
            f"the state_dict has {n_layers} Linear layers, so give {n_layers - 1} hidden "
            f"activation(s), not {len(hidden)}"
        )
    acts = [_activations.get(a) for a in hidden]
    acts.append(_activations.get("identity" if output_activation is None else output_activation))
    layers = []
    for index, act in zip(indices, acts, strict=True):
        group = groups[index]
        if "weight" not in group:
            raise ValueError(f"the state_dict has {index}.bias but no {index}.weight")
        weights = group["weight"]
        bias = group.get("bias", np.zeros(weights.shape[0], dtype=weights.dtype))
        layers.append((weights, bias, act))
    return layers


def from_torch(
    model: Any,
    activation: Any = None,
    output_activation: Any = None,
    *,
    dtype: Any = None,
) -> MLP:
    """An :class:`MLP` from a PyTorch ``nn.Sequential`` or its ``state_dict``.

    Parameters
    ----------
    model : torch.nn.Sequential or mapping
        A ``Sequential`` of ``Linear`` layers each followed by at most one
        supported activation module (``Dropout``/``Identity`` are skipped: they
        are the identity at inference), or its ``state_dict``
        (``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...).
    activation, output_activation : optional
        Needed with a ``state_dict`` (which stores no activations): the hidden
        activation(s) and the output activation (identity when omitted).
    dtype : {"float32", "float64"}, optional
        Defaults to the tensors' dtype (float16/bfloat16 become float32).
    """
    from formicary.layers import Dense
    from formicary.network import MLP

    torch = None
    if isinstance(model, Mapping):
        layers = _layers_from_state_dict(model, activation, output_activation)
    else:
        torch = _torch()
        if not isinstance(model, torch.nn.Sequential):
            raise TypeError(
                f"from_torch takes an nn.Sequential or its state_dict, got {type(model).__name__}"
            )
        if activation is not None or output_activation is not None:
            raise ValueError("a Sequential carries its activations; do not pass activation=")
        layers = _layers_from_module(model, torch)
    for l, (weights, _, act) in enumerate(layers[:-1], start=1):
        if not act.elementwise:
            raise ValueError(f"layer {l} uses {act.name}, which is only allowed on the output")
        nxt = layers[l][0]
        if nxt.shape[1] != weights.shape[0]:
            raise ValueError(
                f"layer {l} has {weights.shape[0]} outputs but layer {l + 1} takes "
                f"{nxt.shape[1]} inputs"
            )
    if dtype is None:
        dtype = np.result_type(*[w.dtype for w, _, _ in layers])
    dense = [
        Dense(w.shape[1], w.shape[0], act, weights=w, bias=b, dtype=dtype) for w, b, act in layers
    ]
    return MLP(dense)


# =========================================================================== scikit-learn


def from_sklearn(estimator: Any) -> MLP:
    """An :class:`MLP` from a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``.

    ``W^(l) = coefs_[l-1].T`` and ``b^(l) = intercepts_[l-1]``; the hidden
    activation and ``out_activation_`` carry over, so ``net.predict`` equals
    ``predict_proba`` (positive-class column for a binary classifier) or
    ``predict``. A classifier's ``classes_`` go to ``net.metadata["classes"]``.
    """
    from formicary.layers import Dense
    from formicary.network import MLP

    nn = _sklearn_nn()
    if not isinstance(estimator, (nn.MLPClassifier, nn.MLPRegressor)):
        raise TypeError(
            f"from_sklearn takes a fitted MLPClassifier or MLPRegressor, got "
            f"{type(estimator).__name__}"
        )
    if not hasattr(estimator, "coefs_"):
        raise ValueError(f"this {type(estimator).__name__} is not fitted yet; call fit first")
    hidden = SKLEARN_HIDDEN[estimator.activation]
    output = SKLEARN_OUTPUT[estimator.out_activation_]
    dtype = estimator.coefs_[0].dtype
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(np.float64)
    last = len(estimator.coefs_) - 1
    layers = [
        Dense(
            coef.shape[0],
            coef.shape[1],
            output if l == last else hidden,
            weights=coef.T,  # scikit-learn stores (n_in, n_out): the transpose of W^(l)
            bias=intercept,
            dtype=dtype,
        )
        for l, (coef, intercept) in enumerate(
            zip(estimator.coefs_, estimator.intercepts_, strict=True)
        )
    ]
    net = MLP(layers)
    net.metadata["source"] = f"sklearn.{type(estimator).__name__}"
    if hasattr(estimator, "classes_"):
        net.metadata["classes"] = np.asarray(estimator.classes_).tolist()
    return net


def _sklearn_hidden(net: MLP) -> str:
    names = {layer.activation.name for layer in net.layers[:-1]}
    inverse = {v: k for k, v in SKLEARN_HIDDEN.items()}
    if len(names) > 1:
        raise ValueError(
            f"scikit-learn's MLP uses one activation for every hidden layer; this network "
            f"mixes {', '.join(sorted(names))}"
        )
    name = names.pop() if names else "relu"
    if name not in inverse:
        raise ValueError(
            f"scikit-learn's MLP has no {name!r} activation; it offers identity, logistic "
            "(sigmoid), tanh and relu"
        )
    return inverse[name]


def to_sklearn(net: MLP, classes: Sequence[Any] | None = None) -> Any:
    """A fitted scikit-learn ``MLPClassifier`` (sigmoid/softmax output) or ``MLPRegressor``.

    The estimator is initialised with one ``partial_fit`` step on a dummy batch
    (scikit-learn's public way to build its fitted state), then its
    ``coefs_[l] = W^(l+1).T`` and ``intercepts_`` are overwritten with the
    network's. A two-neuron softmax output becomes scikit-learn's single
    logistic output with ``w = w_1 - w_0`` (``softmax(z)_1 = sigmoid(z_1 - z_0)``).

    Parameters
    ----------
    classes : sequence, optional
        Class labels of a classifier (default: ``net.metadata["classes"]`` or
        ``0..k-1``).
    """
    nn = _sklearn_nn()
    activation = _sklearn_hidden(net)
    hidden_sizes = tuple(layer.n_out for layer in net.layers[:-1])
    out = net.output_activation.name
    k = net.n_outputs
    weights = [layer.weights.copy() for layer in net.layers]
    biases = [layer.bias.copy() for layer in net.layers]
    dtype = net.dtype
    if out == "identity":
        if classes is not None:
            raise ValueError("an identity output is a regressor; classes do not apply")
        estimator = nn.MLPRegressor(
            hidden_layer_sizes=hidden_sizes, activation=activation, solver="adam"
        )
        X0 = np.zeros((2, net.n_inputs), dtype=dtype)
        y0 = np.zeros((2, k), dtype=dtype) if k > 1 else np.zeros(2, dtype=dtype)
        estimator.partial_fit(X0, y0)
    elif out in ("sigmoid", "softmax"):
        multilabel = out == "sigmoid" and k > 1
        n_classes = 2 if (out == "sigmoid" and k == 1) else k
        if out == "softmax" and k < 2:
            raise ValueError("a softmax output needs at least two neurons")
        if classes is None:
            classes = net.metadata.get("classes") or list(range(n_classes))
        labels = np.asarray(classes)
        if labels.shape != (n_classes,) or len(set(labels.tolist())) != n_classes:
            raise ValueError(
                f"this network has {n_classes} classes but classes={list(labels)!r}; give "
                f"{n_classes} distinct labels"
            )
        if out == "softmax" and k == 2:
            # softmax(z)_1 = 1 / (1 + e^(z_0 - z_1)) = sigmoid(z_1 - z_0): one logistic neuron
            weights[-1] = (weights[-1][1] - weights[-1][0])[None, :]
            biases[-1] = (biases[-1][1] - biases[-1][0])[None]
        estimator = nn.MLPClassifier(
            hidden_layer_sizes=hidden_sizes, activation=activation, solver="adam"
        )
        X0 = np.zeros((n_classes, net.n_inputs), dtype=dtype)
        if multilabel:
            estimator.partial_fit(X0, np.eye(k, dtype=np.int64), classes=np.arange(k))
        else:
            estimator.partial_fit(X0, labels, classes=labels)
    else:
        raise ValueError(
            f"scikit-learn's MLP has no {out!r} output; export networks with an identity "
            "(regression), sigmoid or softmax output"
        )
    for target, w in zip(estimator.coefs_, weights, strict=True):
        np.copyto(target, w.T)  # in place: the estimator's optimizer holds these arrays
    for target, b in zip(estimator.intercepts_, biases, strict=True):
        np.copyto(target, b)
    return estimator
