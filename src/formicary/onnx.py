"""Export a trained network to ONNX, the format serving runtimes read (extra ``formicary[onnx]``).

Each layer becomes the lecture's two steps as standard operators::

    z^(l) = W^(l) a^(l-1) + b^(l)   ->  Gemm(a, W, b, transB=1)   (W kept as (n_out, n_in))
    a^(l) = sigma(z^(l))            ->  Sigmoid / Relu / Tanh / LeakyRelu / Softplus / Gelu / Softmax

Preprocessing saved by the command line (standardisation, one-hot encoding) is
put in front of the first layer, so the exported graph takes the same raw
columns ``formicary predict`` takes. Every graph is checked with
``onnx.checker`` before it is written, and written atomically. An activation
ONNX cannot express (a custom one registered by the user) is refused: no file
is written rather than a wrong one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary.atomic import atomic_path, check_target
from formicary.validation import resolve_dtype

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = ["EXPRESSIBLE", "export", "to_onnx"]

#: Activations ONNX can express, and the operators that compute them.
EXPRESSIBLE = {
    "identity": "(none: z passes through)",
    "sigmoid": "Sigmoid",
    "relu": "Relu",
    "tanh": "Tanh",
    "leaky_relu": "LeakyRelu(alpha=slope) (float64: Max(z, slope z))",
    "softplus": "Softplus",
    "gelu": 'Gelu(approximate="tanh") from opset 20 (float32), else Mul/Add/Tanh',
    "softmax": "Softmax(axis=-1)",
}
DEFAULT_OPSET = 17
GELU_OPSET = 20
#: Softmax along one axis and Squeeze with an axes input need opset 13.
MIN_OPSET = 13
GELU_C = float(np.sqrt(2.0 / np.pi))
GELU_K = 0.044715


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package; install it with: pip install 'formicary[onnx]'"
        ) from None
    return onnx


class _Graph:
    """Collects nodes and initialisers with unique, readable names."""

    def __init__(self, onnx: Any, dtype: np.dtype) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def constant(self, name: str, value: Any, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype if dtype is not None else self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        self._count += 1
        output = output or f"{op.lower()}_{self._count}"
        self.nodes.append(
            self.helper.make_node(op, inputs, [output], name=f"{op}_{self._count}", **attrs)
        )
        return output


def _check_activations(net: MLP) -> None:
    for l, layer in enumerate(net.layers, start=1):
        name = layer.activation.name
        if name not in EXPRESSIBLE:
            raise ValueError(
                f"layer {l} uses the custom activation {name!r}, which ONNX export cannot "
                f"express (ONNX knows only the built-ins: {', '.join(sorted(EXPRESSIBLE))}); "
                "nothing was written. Retrain with a built-in activation to export this model"
            )


def _activation(
    graph: _Graph, name: str, params: dict[str, Any], z: str, opset: int, prefix: str, out: str
) -> str:
    """The nodes computing ``a = sigma(z)``; returns the name of ``a``."""
    if name == "identity":
        return z
    if name == "sigmoid":
        return graph.node("Sigmoid", [z], out)
    if name == "relu":
        return graph.node("Relu", [z], out)
    if name == "tanh":
        return graph.node("Tanh", [z], out)
    if name == "leaky_relu":
        slope = float(params.get("slope", 0.01))
        if graph.dtype == np.float32:
            return graph.node("LeakyRelu", [z], out, alpha=slope)
        # LeakyRelu's alpha is a float32 attribute: max(z, slope z) keeps a float64 slope
        scaled = graph.node("Mul", [z, graph.constant(f"{prefix}_slope", slope)])
        return graph.node("Max", [z, scaled], out)
    if name == "softmax":
        return graph.node("Softmax", [z], out, axis=-1)
    if name == "softplus":
        if graph.dtype == np.float32:
            return graph.node("Softplus", [z], out)
        # float64 Softplus is missing in common runtimes: max(z, 0) + log(1 + e^-|z|), stable
        one = graph.constant(f"{prefix}_one", 1.0)
        tail = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [z])])])
        tail = graph.node("Log", [graph.node("Add", [one, tail])])
        return graph.node("Add", [graph.node("Relu", [z]), tail], out)
    if name == "gelu":
        if opset >= GELU_OPSET and graph.dtype == np.float32:
            return graph.node("Gelu", [z], out, approximate="tanh")
        # 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))
        cube = graph.node("Mul", [z, graph.node("Mul", [z, z])])
        inner = graph.node(
            "Add", [z, graph.node("Mul", [cube, graph.constant(f"{prefix}_k", GELU_K)])]
        )
        t = graph.node("Tanh", [graph.node("Mul", [inner, graph.constant(f"{prefix}_c", GELU_C)])])
        half = graph.node("Mul", [z, graph.constant(f"{prefix}_half", 0.5)])
        return graph.node(
            "Mul", [half, graph.node("Add", [t, graph.constant(f"{prefix}_one", 1.0)])], out
        )
    raise AssertionError(name)  # _check_activations ran first


def _preprocessing(net: MLP, preprocessing: Any) -> Any:
    """The preprocessing to put in front: given, or the one the CLI saved in ``net.metadata``."""
    if preprocessing is False:
        return None
    if preprocessing is None:
        preprocessing = net.metadata.get("preprocessing")
        if not preprocessing:
            return None
    if hasattr(preprocessing, "to_dict"):
        preprocessing = preprocessing.to_dict()
    if not isinstance(preprocessing, dict):
        raise TypeError(
            "preprocessing must be a dict such as {'mean': [...], 'scale': [...]} or the "
            f"preprocessing saved by the command line, got {type(preprocessing).__name__}"
        )
    return preprocessing


def _standardise(graph: _Graph, x: str, spec: dict[str, Any], n_inputs: int) -> str:
    """``(x - mean) / scale`` as Sub and Div nodes."""
    mean = np.asarray(spec["mean"], dtype=graph.dtype)
    scale = np.asarray(spec.get("scale", spec.get("std")), dtype=graph.dtype)
    if mean.shape != (n_inputs,) or scale.shape != (n_inputs,):
        raise ValueError(
            f"preprocessing mean/scale have shapes {mean.shape}/{scale.shape} but the network "
            f"takes {n_inputs} inputs"
        )
    if np.any(scale == 0) or not (np.isfinite(mean).all() and np.isfinite(scale).all()):
        raise ValueError("preprocessing scale must be finite and non-zero, mean finite")
    centred = graph.node("Sub", [x, graph.constant("preprocess_mean", mean)], "centred")
    return graph.node("Div", [centred, graph.constant("preprocess_scale", scale)], "standardised")


class _Front:
    """What comes before the first layer: the graph inputs and the name of ``x = a^(0)``."""

    def __init__(self, inputs: list[Any], x: str, features: list[str] | None) -> None:
        self.inputs, self.x, self.features = inputs, x, features


def _tabular_front(graph: _Graph, spec: dict[str, Any], net: MLP, opset: int) -> _Front:
    """The command line's preprocessing (format ``formicary-tabular``) as graph nodes.

    A numeric column ``v`` becomes ``(v - center) / scale`` (Sub, Div); a
    categorical column becomes ``[v == g_1, ..., v == g_m]`` (Equal on strings,
    Cast), so an unseen category gives all zeros, as in ``formicary predict``.
    Only numeric columns: one input ``input`` of shape ``(N, n_columns)``.
    With categorical columns: one input per column, named after it, of shape
    ``(N, 1)`` (strings for categorical columns).
    """
    helper = graph.helper
    elem = helper.np_dtype_to_tensor_dtype(graph.dtype)
    features = spec.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError("the model's preprocessing lists no features; it cannot be exported")
    names = [str(f["name"]) for f in features]
    numeric = all(f.get("kind") == "numeric" for f in features)
    if numeric:
        center = [float(f["center"]) for f in features]
        scale = [float(f["scale"]) for f in features]
        x = _standardise(graph, "input", {"mean": center, "scale": scale}, net.n_inputs)
        return _Front([helper.make_tensor_value_info("input", elem, ["N", len(names)])], x, names)
    if opset < 19:
        raise ValueError(
            f"this model one-hot encodes text columns, which needs ONNX opset 19 or newer "
            f"(string comparison); got opset={opset}"
        )
    inputs, pieces, width = [], [], 0
    for position, feature in enumerate(features):
        column = str(feature["name"])
        if feature.get("kind") == "numeric":
            inputs.append(helper.make_tensor_value_info(column, elem, ["N", 1]))
            centred = graph.node(
                "Sub", [column, graph.constant(f"center_{position}", [float(feature["center"])])]
            )
            scale = graph.constant(f"scale_{position}", [float(feature["scale"])])
            pieces.append(graph.node("Div", [centred, scale]))
            width += 1
        elif feature.get("kind") == "categorical":
            categories = np.array([str(c) for c in feature["categories"]], dtype=object)
            inputs.append(
                helper.make_tensor_value_info(column, graph.onnx.TensorProto.STRING, ["N", 1])
            )
            equal = graph.node(
                "Equal", [column, graph.constant(f"categories_{position}", categories, object)]
            )
            pieces.append(graph.node("Cast", [equal], to=elem))
            width += len(categories)
        else:
            raise ValueError(
                f"the model's preprocessing has an unknown feature kind {feature.get('kind')!r}"
            )
    if width != net.n_inputs:
        raise ValueError(
            f"the model's preprocessing makes {width} inputs but the network takes {net.n_inputs}"
        )
    x = graph.node("Concat", pieces, "preprocessed", axis=1) if len(pieces) > 1 else pieces[0]
    return _Front(inputs, x, names)


def _classes(net: MLP, spec: dict[str, Any] | None) -> list[Any] | None:
    """Class labels for the ``label`` output, from the preprocessing or ``net.metadata``."""
    target = (spec or {}).get("target")
    if isinstance(target, dict) and target.get("task") == "classification":
        classes = target.get("classes")
    else:
        classes = net.metadata.get("classes")
    if not classes:
        return None
    out = net.output_activation.name
    expected = 2 if (out == "sigmoid" and net.n_outputs == 1) else net.n_outputs
    if out == "sigmoid" and net.n_outputs > 1:
        return None  # multilabel: one 0/1 label per output neuron
    if len(classes) != expected:
        raise ValueError(
            f"the model names {len(classes)} classes but its output layer decides between "
            f"{expected}; fix net.metadata['classes']"
        )
    return list(classes)


def _label(
    graph: _Graph, net: MLP, output: str, classes: list[Any] | None
) -> tuple[Any, list[Any]]:
    """Nodes for ``label``: arg-max neuron, or ``a >= 0.5``; mapped to class names when known."""
    tensor = graph.onnx.TensorProto
    index_name = "label" if classes is None else "class_index"
    if net.output_activation.name == "softmax":
        index = graph.node("ArgMax", [output], index_name, axis=1, keepdims=0)
        shape: list[Any] = ["N"]
    else:
        decided = graph.node("GreaterOrEqual", [output, graph.constant("threshold", 0.5)])
        if net.n_outputs == 1:
            axes = graph.constant("label_axes", [1], dtype=np.int64)
            decided = graph.node("Squeeze", [decided, axes])
            shape = ["N"]
        else:
            shape = ["N", net.n_outputs]
        index = graph.node("Cast", [decided], index_name, to=tensor.INT64)
    if classes is None:
        return tensor.INT64, shape
    integer = all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    if integer:
        table = graph.constant("class_labels", classes, np.int64)
        kind = tensor.INT64
    else:
        table = graph.constant("class_labels", np.array([str(c) for c in classes], object), object)
        kind = tensor.STRING
    graph.node("Gather", [table, index], "label", axis=0)
    return kind, shape


def to_onnx(
    net: MLP,
    preprocessing: Any = None,
    *,
    opset: int | None = None,
    dtype: Any = "float32",
    labels: bool = True,
    name: str = "formicary_mlp",
) -> Any:
    """The network as a checked ``onnx.ModelProto`` (see :func:`export`)."""
    onnx = _onnx()
    helper = onnx.helper
    _check_activations(net)
    dtype = resolve_dtype(dtype)
    spec = _preprocessing(net, preprocessing)
    tabular = spec is not None and spec.get("format") == "formicary-tabular"
    if opset is None:
        uses_gelu = any(layer.activation.name == "gelu" for layer in net.layers)
        one_hot = tabular and any(f.get("kind") != "numeric" for f in spec.get("features") or [])
        opset = GELU_OPSET if uses_gelu or one_hot else DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an integer, got {opset!r}")
    opset = int(opset)
    if opset < MIN_OPSET:
        raise ValueError(f"ONNX export needs opset {MIN_OPSET} or newer, got opset={opset}")
    if opset > onnx.defs.onnx_opset_version():
        raise ValueError(
            f"opset {opset} is newer than the installed onnx package knows "
            f"({onnx.defs.onnx_opset_version()}); upgrade onnx or ask for an older opset"
        )
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    graph = _Graph(onnx, dtype)
    if tabular:
        front = _tabular_front(graph, spec, net, opset)
    elif spec is not None:
        if "mean" not in spec:
            raise ValueError(
                "preprocessing must be {'mean': [...], 'scale': [...]} or the command line's "
                f"saved preprocessing; got keys {sorted(spec)}"
            )
        x = _standardise(graph, "input", spec, net.n_inputs)
        front = _Front([helper.make_tensor_value_info("input", elem, ["N", net.n_inputs])], x, None)
    else:
        front = _Front(
            [helper.make_tensor_value_info("input", elem, ["N", net.n_inputs])], "input", None
        )
    target = spec.get("target") if tabular else None
    regression = isinstance(target, dict) and target.get("task") == "regression"
    final = "network_output" if regression else "output"
    a = front.x
    last = len(net.layers)
    for l, layer in enumerate(net.layers, start=1):
        weights = graph.constant(f"W{l}", layer.weights)  # (n_out, n_in): the lecture's W^(l)
        bias = graph.constant(f"b{l}", layer.bias)
        act = layer.activation
        z_name = final if l == last and act.name == "identity" else f"z{l}"
        z = graph.node("Gemm", [a, weights, bias], z_name, transB=1)
        a = _activation(
            graph, act.name, act.params, z, opset, f"layer{l}", final if l == last else f"a{l}"
        )
    if regression:
        # the command line standardised the target: prediction = center + scale * a^(L)
        scaled = graph.node("Mul", [final, graph.constant("target_scale", float(target["scale"]))])
        graph.node(
            "Add", [scaled, graph.constant("target_center", float(target["center"]))], "output"
        )
    outputs = [helper.make_tensor_value_info("output", elem, ["N", net.n_outputs])]
    classes = _classes(net, spec if tabular else None)
    if labels and net.output_activation.name in ("softmax", "sigmoid"):
        kind, shape = _label(graph, net, "output", classes)
        outputs.append(helper.make_tensor_value_info("label", kind, shape))
    body = helper.make_graph(graph.nodes, name, front.inputs, outputs, graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        body,
        opset_imports=opsets,
        producer_name="formicary",
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string=f"Formicary MLP {'-'.join(map(str, net.sizes))}",
    )
    from formicary import __version__

    props = {
        "formicary_version": __version__,
        "layers": json.dumps([layer.activation.spec for layer in net.layers]),
    }
    if front.features is not None:
        props["features"] = json.dumps(front.features)
    if classes is not None:
        props["classes"] = json.dumps(classes, default=str)
    if isinstance(target, dict) and "name" in target:
        props["target"] = str(target["name"])
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def export(
    net: MLP,
    path: str | os.PathLike[str],
    preprocessing: Any = None,
    *,
    opset: int | None = None,
    dtype: Any = "float32",
    labels: bool = True,
) -> Path:
    """Write ``net`` as an ONNX model to ``path`` (atomically) and return the path.

    Parameters
    ----------
    net : MLP
    path : str or Path
        The ``.onnx`` file to write.
    preprocessing : dict, Preprocessor, False or None
        ``{"mean": [...], "scale": [...]}`` to apply ``(x - mean) / scale``
        in the graph, or a :class:`formicary.preprocessing.Preprocessor` (or
        its ``to_dict()``); ``None`` uses what the command line saved in
        ``net.metadata["preprocessing"]``; ``False`` leaves it out.
    opset : int, optional
        ONNX operator set, at least 13 (default 17, or 20 when a layer uses
        GELU, whose ``Gelu(approximate="tanh")`` operator appeared in opset 20
        (below 20 GELU is written out with ``Mul``/``Add``/``Tanh``), or when
        text columns are one-hot encoded, which needs string ``Equal``, opset 19).
    dtype : {"float32", "float64"}
        Element type of the graph's input, weights and output.
    labels : bool
        Also output ``label`` for sigmoid/softmax outputs: the arg-max neuron,
        or ``a >= 0.5`` (int64), mapped to the class names when the model
        knows them (``net.metadata["classes"]`` or the saved preprocessing).

    Inputs and outputs. Without preprocessing the graph has input ``input``
    of shape ``(N, n_inputs)`` and output ``output`` of shape ``(N, n_outputs)``,
    equal to ``net.predict``. With the command line's saved preprocessing it
    takes the raw table: one input ``input`` of shape ``(N, n_columns)`` when
    every feature is numeric, else one ``(N, 1)`` input per column, named
    after it (strings for text columns); a regression ``output`` is mapped
    back to the target's unit (``center + scale * a^(L)``) and ``label`` holds
    the class names, as ``formicary predict`` prints them.

    Raises
    ------
    ValueError
        A layer uses an activation ONNX cannot express (nothing is written).
    ImportError
        The ``onnx`` package is missing.
    """
    path = check_target(path)
    model = to_onnx(net, preprocessing, opset=opset, dtype=dtype, labels=labels)
    with atomic_path(path) as temporary:
        temporary.write_bytes(model.SerializeToString())
    return path
