"""ONNX export: the graph onnxruntime runs gives Formicary's predictions."""

from __future__ import annotations

import numpy as np
import pytest

import formicary as fc

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from formicary.onnx import export, to_onnx  # noqa: E402

HIDDEN = ["sigmoid", "relu", "tanh", "identity", "leaky_relu", "softplus", "gelu"]
OUTPUTS = ["identity", "sigmoid", "softmax"]


def run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": X}), strict=True))


def inputs(n=400, width=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width)) * 3
    X[:10] *= 15  # far into the tails: saturated sigmoids, large softplus and GELU arguments
    return X.astype(dtype)


def network(hidden, output, dtype="float32", seed=1):
    act = fc.activations.leaky_relu(0.2) if hidden == "leaky_relu" else hidden
    n_out = 4 if output == "softmax" else 2
    return fc.MLP([3, 7, 5, n_out], act, output, seed=seed, dtype=dtype)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_onnxruntime_gives_formicarys_predictions_in_float32(tmp_path, hidden, output):
    net = network(hidden, output)
    path = export(net, tmp_path / "model.onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    X = inputs()
    got = run(path, X)
    assert got["output"].dtype == np.float32 and got["output"].shape == (len(X), net.n_outputs)
    np.testing.assert_allclose(got["output"], net.predict(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hidden", ["gelu", "softplus", "leaky_relu"])
def test_older_opsets_and_float64_graphs_agree_too(tmp_path, hidden):
    net32 = network(hidden, "softmax")
    # below opset 20 GELU is spelled out with Mul/Add/Tanh
    path = export(net32, tmp_path / "old.onnx", opset=17)
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert "Gelu" not in ops
    np.testing.assert_allclose(run(path, inputs())["output"], net32.predict(inputs()), atol=1e-5)
    net64 = network(hidden, "softmax", dtype="float64")
    path = export(net64, tmp_path / "double.onnx", dtype="float64")
    X = inputs(dtype=np.float64)
    np.testing.assert_allclose(run(path, X)["output"], net64.predict(X), rtol=1e-12, atol=1e-13)


def test_the_graph_is_the_lectures_layers(tmp_path):
    net = fc.MLP([3, 2, 4], "relu", "softmax", seed=0)
    model = to_onnx(net)
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Softmax", "ArgMax"]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    # W^(1) is kept in the lecture's (n_out, n_in) layout and Gemm multiplies by its transpose
    np.testing.assert_array_equal(weights["W1"], net.layers[0].weights.astype(np.float32))
    assert weights["W1"].shape == (2, 3)
    gemm = model.graph.node[0]
    assert {a.name: a.i for a in gemm.attribute}["transB"] == 1
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["output", "label"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["formicary_version"] == fc.__version__


@pytest.mark.parametrize(("output", "n_out"), [("softmax", 4), ("sigmoid", 1), ("sigmoid", 3)])
def test_labels_output_matches_classify(tmp_path, output, n_out):
    net = fc.MLP([3, 6, n_out], "tanh", output, seed=2, dtype="float32")
    path = export(net, tmp_path / "m.onnx")
    X = inputs(300)
    got = run(path, X)
    assert got["label"].dtype == np.int64
    if output == "sigmoid" and n_out > 1:
        np.testing.assert_array_equal(got["label"], (net.predict(X) >= 0.5).astype(np.int64))
    else:
        np.testing.assert_array_equal(got["label"], net.classify(X))
    assert "label" not in run(export(net, tmp_path / "n.onnx", labels=False), X)


def test_labels_carry_the_class_names_the_model_knows(tmp_path):
    net = fc.MLP([3, 6, 3], "tanh", "softmax", seed=2, dtype="float32")
    net.metadata["classes"] = ["setosa", "versicolor", "virginica"]
    X = inputs(50)
    label = run(export(net, tmp_path / "names.onnx"), X)["label"]
    np.testing.assert_array_equal(label, np.array(net.metadata["classes"])[net.classify(X)])
    binary = fc.MLP([3, 4, 1], "tanh", "sigmoid", seed=2, dtype="float32")
    binary.metadata["classes"] = [3, 7]
    label = run(export(binary, tmp_path / "ints.onnx"), X)["label"]
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label, np.array([3, 7])[binary.classify(X)])
    binary.metadata["classes"] = [1, 2, 3]
    with pytest.raises(ValueError, match="names 3 classes but its output layer decides between 2"):
        to_onnx(binary)


def test_saved_standardisation_goes_in_front(tmp_path):
    X = inputs(200) * 10 + 7
    mean, scale = X.mean(axis=0), X.std(axis=0)
    net = fc.MLP([3, 8, 1], "tanh", "sigmoid", seed=0, dtype="float32")
    expected = net.predict((X - mean) / scale)
    path = export(net, tmp_path / "given.onnx", {"mean": mean.tolist(), "scale": scale.tolist()})
    np.testing.assert_allclose(run(path, X)["output"], expected, rtol=1e-5, atol=1e-6)
    ops = [node.op_type for node in onnx.load(path).graph.node]
    assert ops[:2] == ["Sub", "Div"]
    net.metadata["preprocessing"] = {"mean": mean.tolist(), "scale": scale.tolist()}
    path = export(net, tmp_path / "saved.onnx")
    np.testing.assert_allclose(run(path, X)["output"], expected, rtol=1e-5, atol=1e-6)
    raw = export(net, tmp_path / "raw.onnx", preprocessing=False)
    np.testing.assert_allclose(run(raw, X)["output"], net.predict(X), rtol=1e-5, atol=1e-6)


def test_one_row_and_many_rows_run_through_one_graph(tmp_path):
    net = network("relu", "identity")
    path = export(net, tmp_path / "m.onnx")
    for n in (1, 5000):
        X = inputs(n, seed=n)
        np.testing.assert_allclose(run(path, X)["output"], net.predict(X), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- bad input


def test_a_custom_activation_is_refused_and_nothing_is_written(tmp_path):
    fc.activations.register(
        "swish_onnx_test", lambda z: z / (1 + np.exp(-z)), lambda z: np.ones_like(z)
    )
    try:
        net = fc.MLP([3, 4, 1], "swish_onnx_test", seed=0)
        target = tmp_path / "model.onnx"
        target.write_bytes(b"previous")
        with pytest.raises(
            ValueError, match=r"layer 1 uses the custom activation 'swish_onnx_test'"
        ):
            export(net, target)
        assert target.read_bytes() == b"previous"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    finally:
        fc.activations.unregister("swish_onnx_test")


def test_bad_export_requests_are_explained(tmp_path):
    net = network("relu", "identity")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export(net, tmp_path / "missing" / "m.onnx")
    with pytest.raises(IsADirectoryError):
        export(net, tmp_path)
    with pytest.raises(ValueError, match="opset 13 or newer"):
        export(net, tmp_path / "m.onnx", opset=11)
    with pytest.raises(ValueError, match="newer than the installed onnx"):
        export(net, tmp_path / "m.onnx", opset=999)
    with pytest.raises(ValueError, match="network takes 3 inputs"):
        export(net, tmp_path / "m.onnx", {"mean": [0.0], "scale": [1.0]})
    with pytest.raises(TypeError, match="dtype must be"):
        export(net, tmp_path / "m.onnx", dtype="int8")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- the CLI's preprocessing


def table(n=300, seed=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    size = rng.normal(50, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    weight = rng.normal(3, 2, n)
    score = size / 10 + (colour == "red") * 2 - weight
    species = np.where(score > np.median(score), "big", "small")
    species[score > np.quantile(score, 0.8)] = "huge"
    return pd.DataFrame(
        {
            "size": size,
            "colour": colour,
            "weight": weight,
            "species": species,
            "price": score * 100 + 7,
        }
    )


def feeds(frame, columns, dtype=np.float32):
    """One (N, 1) input per column: numbers as floats, text as strings."""
    return {
        c: frame[[c]].to_numpy(dtype=dtype if frame[c].dtype.kind in "iuf" else object)
        for c in columns
    }


def test_saved_one_hot_encoding_and_class_names_go_into_the_graph(tmp_path):
    preprocessing = pytest.importorskip("formicary.preprocessing")
    frame = table()
    pre = preprocessing.Preprocessor.fit(frame.drop(columns="price"), target="species")
    X = pre.transform(frame, np.float32)
    codes = pre.encode_target(frame["species"])
    net = fc.MLP([pre.n_inputs, 8, 3], "relu", "softmax", seed=0, dtype="float32")
    net.fit(X, codes, epochs=10, optimizer="adam", learning_rate=0.01, seed=0)
    net.metadata["preprocessing"] = pre.to_dict()
    path = export(net, tmp_path / "m.onnx")
    model = onnx.load(path)
    assert [i.name for i in model.graph.input] == ["size", "colour", "weight"]
    assert "Equal" in {node.op_type for node in model.graph.node}
    test = table(100, seed=1)
    test.loc[0, "colour"] = "purple"  # unseen in training: all zeros, as formicary predict does
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    output, label = session.run(None, feeds(test, ["size", "colour", "weight"]))
    expected = net.predict(pre.transform(test, np.float32))
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(label, pre.decode(expected).astype(str))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["target"] == "species" and "huge" in props["classes"]


def test_saved_numeric_scaling_and_regression_target_go_into_the_graph(tmp_path):
    preprocessing = pytest.importorskip("formicary.preprocessing")
    frame = table().drop(columns=["colour", "species"])
    pre = preprocessing.Preprocessor.fit(frame, target="price")
    net = fc.MLP([pre.n_inputs, 8, 1], "tanh", seed=0, dtype="float32")
    net.metadata["preprocessing"] = pre.to_dict()
    path = export(net, tmp_path / "r.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = frame[["size", "weight"]].to_numpy(np.float32)
    (output,) = session.run(None, {"input": raw})
    expected = pre.decode(net.predict(pre.transform(frame, np.float32)))
    np.testing.assert_allclose(output[:, 0], expected, rtol=1e-5, atol=1e-4)
    one_hot = preprocessing.Preprocessor.fit(table().drop(columns="price"), target="species")
    classifier = fc.MLP([one_hot.n_inputs, 3, 3], "relu", "softmax", seed=0)
    classifier.metadata["preprocessing"] = one_hot.to_dict()
    with pytest.raises(ValueError, match="opset 19 or newer"):
        to_onnx(classifier, opset=17)
    classifier.metadata["preprocessing"]["features"].pop()
    with pytest.raises(ValueError, match="makes 4 inputs but the network takes 5"):
        to_onnx(classifier)
