"""``formicary export MODEL --onnx out.onnx`` run as a real subprocess."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import formicary as fc

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("typer")


def formicary(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "formicary", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_export_writes_an_onnx_graph_that_predicts_like_the_model(tmp_path):
    X, y = fc.datasets.spirals(300, seed=0)
    net = fc.MLP([2, 16, 3], "tanh", "softmax", seed=0)
    net.fit(X, y, epochs=5, seed=0)
    net.save(tmp_path / "model.fcy")
    result = formicary("export", tmp_path / "model.fcy", "--onnx", tmp_path / "model.onnx")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "outputs: output, label" in result.stdout
    assert "inputs: input (2 columns)" in result.stdout
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    X32 = X.astype(np.float32)
    output, label = session.run(None, {"input": X32})
    np.testing.assert_allclose(output, net.predict(X32), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(label, net.classify(X32))
    quiet = formicary(
        "export",
        tmp_path / "model.fcy",
        "--onnx",
        tmp_path / "q.onnx",
        "-q",
        "--dtype",
        "float64",
        "--no-labels",
        "--opset",
        "18",
    )
    assert quiet.returncode == 0 and quiet.stdout == ""
    session = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": X})
    np.testing.assert_allclose(output, net.predict(X), rtol=1e-10)


def one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_bad_exports_give_one_line_and_exit_code_2(tmp_path):
    fc.MLP([2, 3, 1], "relu", seed=0).save(tmp_path / "ok.fcy")
    out = tmp_path / "out.onnx"
    one_line_error(formicary("export", tmp_path / "ok.fcy"), "--onnx")
    one_line_error(formicary("export", tmp_path / "missing.fcy", "--onnx", out), "does not exist")
    (tmp_path / "junk.fcy").write_text("not a model")
    one_line_error(
        formicary("export", tmp_path / "junk.fcy", "--onnx", out), "not a Formicary model"
    )
    one_line_error(
        formicary("export", tmp_path / "ok.fcy", "--onnx", tmp_path / "no" / "m.onnx"),
        "does not exist",
    )
    one_line_error(formicary("export", tmp_path / "ok.fcy", "--onnx", out, "--opset", "9"), "13")
    one_line_error(
        formicary("export", tmp_path / "ok.fcy", "--onnx", out, "--dtype", "int8"), "dtype"
    )
    assert not out.exists()


def test_a_custom_activation_is_refused_by_name(tmp_path):
    fc.activations.register("cube_cli_test", lambda z: z**3, lambda z: 3 * z**2)
    try:
        fc.MLP([2, 3, 1], "cube_cli_test", seed=0).save(tmp_path / "custom.fcy")
    finally:
        fc.activations.unregister("cube_cli_test")
    result = formicary("export", tmp_path / "custom.fcy", "--onnx", tmp_path / "c.onnx")
    one_line_error(
        result, "layer 1 uses the custom activation 'cube_cli_test'", "nothing was written"
    )
    assert not (tmp_path / "c.onnx").exists()


HAS_TRAIN = importlib.util.find_spec("formicary.cli.data_commands") is not None


@pytest.mark.skipif(not HAS_TRAIN, reason="the CLI's train/predict commands are not installed")
def test_train_export_predict_round_trip_keeps_the_preprocessing(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {
            "size": rng.normal(50, 10, n),
            "colour": rng.choice(["red", "blue"], n),
            "weight": rng.normal(3, 2, n),
        }
    )
    score = frame["size"] / 10 + (frame["colour"] == "red") * 2 - frame["weight"]
    frame["kind"] = np.where(score > score.median(), "big", "small")
    frame.to_csv(tmp_path / "data.csv", index=False)
    model, onnx_file = tmp_path / "m.fcy", tmp_path / "m.onnx"
    trained = formicary(
        "train",
        tmp_path / "data.csv",
        "--target",
        "kind",
        "--epochs",
        "5",
        "--out",
        model,
        "--quiet",
    )
    assert trained.returncode == 0, trained.stderr
    exported = formicary("export", model, "--onnx", onnx_file)
    assert exported.returncode == 0, exported.stderr
    assert "colour (text)" in exported.stdout
    predicted = formicary("predict", model, tmp_path / "data.csv", "-o", tmp_path / "p.csv", "-p")
    assert predicted.returncode == 0, predicted.stderr
    expected = pd.read_csv(tmp_path / "p.csv")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    feeds = {
        "size": frame[["size"]].to_numpy(np.float32),
        "colour": frame[["colour"]].to_numpy(object),
        "weight": frame[["weight"]].to_numpy(np.float32),
    }
    output, label = session.run(None, feeds)
    np.testing.assert_array_equal(label, expected["prediction"].to_numpy(str))
    np.testing.assert_allclose(output[:, 0], expected["probability_small"], rtol=1e-5, atol=1e-6)
