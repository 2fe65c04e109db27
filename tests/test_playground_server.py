"""The playground's server: its WebSocket protocol (Starlette's test client), the training
session behind it, and the ``formicary playground`` command as a subprocess.

Numbers the server reports are checked against independent computations: the model file
it serves, finite differences, and hand-composed affine maps.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import formicary as fc
from formicary.playground import STATIC_DIR
from formicary.playground.server import WINDOW, create_app
from formicary.playground.session import (
    Config,
    Session,
    collapse,
    parse_csv,
)

# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def app():
    return create_app()


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def receive(ws, kind: str, limit: int = 200) -> tuple[dict, list[dict]]:
    """Read messages until one of type ``kind``; frames on the way are acknowledged."""
    seen = []
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == "frame":
            ws.send_json({"type": "ack", "seq": message["seq"]})
        if message["type"] == kind:
            return message, seen
        seen.append(message)
    raise AssertionError(f"no {kind!r} message among {[m['type'] for m in seen]}")


def start(ws, **settings) -> tuple[dict, dict, dict]:
    """hello -> config -> setup + frame."""
    hello = ws.receive_json()
    assert hello["type"] == "hello"
    ws.send_json({"type": "config", "settings": settings})
    setup, _ = receive(ws, "setup")
    frame, _ = receive(ws, "frame")
    return hello, setup, frame


def download(client, session_id: str, tmp_path: Path, name: str = "model.fcy") -> fc.MLP:
    response = client.get(f"/api/sessions/{session_id}/model.fcy")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / name
    path.write_bytes(response.content)
    return fc.load(path)


def cell_centres(domain, resolution):
    """The documented grid: cell centres, row 0 at the top (largest x2), x1 growing to the right."""
    x0, x1, y0, y1 = domain
    xs = x0 + (np.arange(resolution) + 0.5) * (x1 - x0) / resolution
    ys = y1 - (np.arange(resolution) + 0.5) * (y1 - y0) / resolution
    return np.array([[x, y] for y in ys for x in xs])


def decode(data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), dtype=np.uint8).astype(float)


SMALL = {"dataset": "xor", "points": 60, "hidden": [3, 2], "activations": ["tanh", "tanh"]}

# ----------------------------------------------------------------------------- protocol


def test_hello_offers_the_choices_and_limits(client):
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
    assert hello["type"] == "hello"
    assert set(hello["datasets"]) >= {"xor", "circles", "moons", "spirals", "gaussians", "plane"}
    assert hello["datasets"]["plane"]["task"] == "regression"
    assert {"sigmoid", "relu", "tanh", "identity"} <= set(hello["activations"])
    assert hello["limits"]["hidden_layers"] == 8
    assert hello["limits"]["neurons"] == 64
    assert hello["limits"]["points"] == 5000
    assert hello["limits"]["classes"] == 8 and hello["limits"]["link_chars"] == 32768
    assert hello["defaults"] == Config().to_dict()


def test_setup_describes_data_and_network(client):
    with client.websocket_connect("/ws") as ws:
        _, setup, frame = start(ws, **SMALL, train_ratio=0.25)
    assert setup["sizes"] == [2, 3, 2, 1]
    assert setup["task"] == "classification" and setup["loss"] == "binary_cross_entropy"
    assert len(setup["train"]["x"]) == 15 and len(setup["test"]["x"]) == 45
    x = np.array(setup["train"]["x"] + setup["test"]["x"])
    x0, x1, y0, y1 = setup["domain"]
    assert x0 <= x[:, 0].min() and x[:, 0].max() <= x1
    assert y0 <= x[:, 1].min() and x[:, 1].max() <= y1
    assert frame["epoch"] == 0 and frame["steps"] == 0
    assert [np.shape(w) for w in frame["weights"]] == [(3, 2), (2, 3), (1, 2)]


def test_heatmaps_are_the_engines_forward_pass_over_the_grid(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        hello, setup, _ = start(ws, **SMALL)
        ws.send_json({"type": "step"})
        frame, _ = receive(ws, "frame")
        net = download(client, hello["session"], tmp_path)
    neurons = frame["neurons"]
    resolution = neurons["resolution"]
    trace = net.forward(cell_centres(setup["domain"], resolution), trace=True)
    expected = np.column_stack(trace.a)  # every neuron of every layer, in order
    pixels = decode(neurons["data"]).reshape(expected.shape[1], resolution * resolution)
    for column, (low, high) in enumerate(neurons["ranges"]):
        shown = low + pixels[column] / 255 * (high - low)
        assert np.allclose(shown, np.clip(expected[:, column], low, high), atol=(high - low) / 250)
    # tanh neurons use tanh's range, the sigmoid output (0, 1)
    assert neurons["ranges"][0] == [-1.0, 1.0] and neurons["ranges"][-1] == [0.0, 1.0]
    output = frame["output"]
    grid = cell_centres(setup["domain"], output["resolution"])
    probability = net.forward(grid)[:, 0]
    assert np.allclose(decode(output["data"]) / 255, probability, atol=1 / 250)


def test_step_is_one_gradient_descent_update_checked_by_finite_differences(client, tmp_path):
    settings = {**SMALL, "points": 40, "train_ratio": 0.5, "batch_size": 20, "learning_rate": 0.5}
    with client.websocket_connect("/ws") as ws:
        hello, setup, _ = start(ws, **settings)
        before = download(client, hello["session"], tmp_path, "before.fcy")
        ws.send_json({"type": "select", "layer": 1, "neuron": 2})
        receive(ws, "frame")
        ws.send_json({"type": "step"})
        frame, _ = receive(ws, "frame")
        after = download(client, hello["session"], tmp_path, "after.fcy")
    assert frame["steps"] == 1 and frame["epoch"] == 1  # one full batch = one epoch
    update = frame["neuron"]["update"]
    assert update["optimizer"] == "sgd" and update["learning_rate"] == 0.5
    assert np.allclose(update["weights_before"], before.layers[0].weights[1])
    assert np.allclose(update["weights_after"], after.layers[0].weights[1])
    # w = w - eta de/dw, exactly
    expected_after = np.array(update["weights_before"]) - 0.5 * np.array(update["weights_gradient"])
    assert np.allclose(update["weights_after"], expected_after, rtol=0, atol=1e-12)
    # de/dw by central differences of the mean cross-entropy over the (whole-batch) training set
    X = np.array(setup["train"]["x"])
    y = np.array(setup["train"]["y"])

    def error(net):
        p = np.clip(net.forward(X)[:, 0], 1e-12, 1 - 1e-12)
        return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))

    h = 1e-6
    for k in range(2):
        plus, minus = before.copy(), before.copy()
        plus.layers[0].weights[1, k] += h
        minus.layers[0].weights[1, k] -= h
        numeric = (error(plus) - error(minus)) / (2 * h)
        # the page's points are rounded to 4 decimals, hence the tolerance
        assert update["weights_gradient"][k] == pytest.approx(numeric, rel=2e-3, abs=1e-5)


def test_play_streams_frames_and_the_loss_falls(client, capsys):
    settings = {**SMALL, "points": 200, "optimizer": "adam", "learning_rate": 0.03}
    with client.websocket_connect("/ws") as ws:
        _, _, first = start(ws, **settings)
        ws.send_json({"type": "play"})
        frames, started = [], time.perf_counter()
        while len(frames) < 25:
            frame, _ = receive(ws, "frame")
            frames.append(frame)
        seconds = time.perf_counter() - started
        ws.send_json({"type": "pause"})
        paused, _ = receive(ws, "frame")
        while paused["playing"]:
            paused, _ = receive(ws, "frame")
        ws.send_json({"type": "step"})
        stepped, _ = receive(ws, "frame")
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert frames[-1]["epoch"] > first["epoch"]
    assert frames[-1]["train_loss"] < first["train_loss"]
    assert stepped["steps"] == paused["steps"] + 1  # paused: nothing trained in between
    with capsys.disabled():
        print(f"\n[playground protocol] {len(frames) / seconds:.1f} frames/s over the WebSocket")


def test_at_most_a_window_of_frames_waits_for_acknowledgement(app, client):
    with client.websocket_connect("/ws") as ws:
        hello, _, _ = start(ws, **SMALL)
        connection = app.state.connections[hello["session"]]
        ws.send_json({"type": "play"})
        for _ in range(WINDOW):
            assert ws.receive_json()["type"] == "frame"  # not acknowledged
        time.sleep(0.4)  # long enough for many frames at 30 per second
        assert connection.sent - connection.acked == WINDOW
        ws.send_json({"type": "pause"})


def test_select_shows_the_neurons_equation_with_the_engines_numbers(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        hello, _, _ = start(ws, **SMALL)
        for _ in range(3):
            ws.send_json({"type": "step"})
            receive(ws, "frame")
        ws.send_json({"type": "select", "layer": 2, "neuron": 1, "point": [0.3, -0.7]})
        frame, _ = receive(ws, "frame")
        ws.send_json({"type": "select", "layer": 0, "neuron": 2})
        input_frame, _ = receive(ws, "frame")
        ws.send_json({"type": "select", "layer": 2, "neuron": 3})
        error, _ = receive(ws, "error")
        net = download(client, hello["session"], tmp_path)
    detail = frame["neuron"]
    assert detail["kind"] == "hidden" and detail["activation"] == "tanh"
    x = np.array([0.3, -0.7])
    a1 = np.tanh(net.layers[0].weights @ x + net.layers[0].bias)  # a^(1), by hand
    z = float(net.layers[1].weights[0] @ a1 + net.layers[1].bias[0])  # z_1^(2)
    assert detail["inputs"] == pytest.approx(a1.tolist(), abs=1e-12)
    assert detail["weights"] == pytest.approx(net.layers[1].weights[0].tolist(), abs=1e-12)
    assert detail["z"] == pytest.approx(z, abs=1e-12)
    assert detail["a"] == pytest.approx(np.tanh(z), abs=1e-12)
    products = [w * a for w, a in zip(detail["weights"], detail["inputs"], strict=True)]
    assert sum(products) + detail["bias"] == pytest.approx(detail["z"])
    assert detail["update"]["step"] == 3
    assert input_frame["neuron"] == {
        "layer": 0,
        "neuron": 2,
        "point": [0.3, -0.7],
        "kind": "input",
        "value": -0.7,
    }
    assert "no neuron 3 in layer 2" in error["message"]


def test_identity_switch_collapses_the_network_into_one_affine_map(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        hello, _, before = start(ws, **SMALL)
        ws.send_json({"type": "config", "settings": {"identity": True}})
        config, _ = receive(ws, "config")
        frame, _ = receive(ws, "frame")
        net = download(client, hello["session"], tmp_path)
    assert config["config"]["identity"] is True
    assert config["config"]["activations"] == ["tanh", "tanh"]  # remembered for switching back
    assert frame["weights"] == before["weights"]  # the switch keeps the weights
    assert [layer.activation.name for layer in net.layers] == ["identity", "identity", "sigmoid"]
    shown = frame["collapse"]
    W1, W2, W3 = (layer.weights for layer in net.layers)
    b1, b2, b3 = (layer.bias for layer in net.layers)
    assert shown["weights"] == pytest.approx((W3 @ W2 @ W1)[0].tolist(), abs=1e-12)
    assert shown["bias"] == pytest.approx(float((W3 @ (W2 @ b1 + b2) + b3)[0]), abs=1e-12)
    assert shown["max_difference"] < 1e-12


def test_identity_switch_cannot_learn_xor_but_the_nonlinear_network_can():
    session = Session(Config(points=300, optimizer="adam", learning_rate=0.03))
    for _ in range(150):
        session.advance()
    assert session.scores()["test_metric"] > 0.9
    session.apply({"identity": True})
    for _ in range(100):
        session.advance()
    scores = session.scores()
    assert scores["train_metric"] <= 0.75 and scores["test_metric"] <= 0.75
    session.apply({"identity": False})
    assert session.net.layers[0].activation.name == "tanh"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hidden": [4] * 9}, "at most 8 hidden layers"),
        ({"hidden": [65]}, "1 to 64 neurons"),
        ({"hidden": [0]}, "1 to 64 neurons"),
        ({"points": 5001}, "number of points must be between 4 and 5000"),
        ({"learning_rate": 0}, "learning rate must be greater than 0"),
        ({"learning_rate": "fast"}, "learning rate must be a number"),
        ({"learning_rate": 1e9}, "learning rate must be between"),
        ({"dataset": "mnist"}, "unknown data set 'mnist'"),
        ({"activations": ["tanh", "softmax"]}, "unknown activation 'softmax'"),
        ({"activations": ["tanh"]}, "one activation per hidden layer"),
        ({"train_ratio": 1.0}, "train ratio must be between 0.1 and 0.9"),
        ({"batch_size": 2.5}, "batch size must be a whole number"),
        ({"noise": -1}, "noise must be between 0 and 1"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"dataset": "csv"}, "no CSV uploaded yet"),
    ],
)
def test_bad_settings_get_a_message_and_change_nothing(settings, message):
    session = Session(Config(**{**SMALL, "hidden": (3, 2), "activations": ("tanh", "tanh")}))
    config = session.config
    with pytest.raises(ValueError, match=re.escape(message)):
        session.apply(settings)
    assert session.config == config


def test_bad_messages_get_an_error_and_the_session_keeps_working(client):
    with client.websocket_connect("/ws") as ws:
        start(ws, **SMALL)
        ws.send_json({"type": "config", "settings": {"hidden": [100]}})
        error, _ = receive(ws, "error")
        restored, _ = receive(ws, "setup")
        assert error["kind"] == "input" and "64 neurons" in error["message"]
        assert restored["reset"] is False and restored["sizes"] == [2, 3, 2, 1]
        ws.send_text("not json")
        assert "unreadable message" in receive(ws, "error")[0]["message"]
        ws.send_json({"type": "dance"})
        assert "unknown message type" in receive(ws, "error")[0]["message"]
        assert receive(ws, "setup")[0]["reset"] is False
        ws.send_json({"type": "config", "settings": {"hidden": [5]}})
        setup, _ = receive(ws, "setup")
        assert setup["sizes"] == [2, 5, 1] and setup["reset"] is True


def test_a_diverging_learning_rate_is_reported_and_the_weights_put_back(client):
    settings = {"dataset": "plane", "points": 60, "hidden": [3], "learning_rate": 10}
    with client.websocket_connect("/ws") as ws:
        start(ws, **settings)
        ws.send_json({"type": "play"})
        error, _ = receive(ws, "error")
        frame, _ = receive(ws, "frame")
        assert error["kind"] == "diverged"
        assert "diverged" in error["message"] and "lower the learning rate" in error["message"]
        assert frame["playing"] is False
        weights = np.concatenate([np.ravel(w) for w in frame["weights"]])
        assert np.isfinite(weights).all() and np.abs(weights).max() < 1e6
        # lower the learning rate and carry on: same connection, same server
        ws.send_json({"type": "config", "settings": {"learning_rate": 0.01}})
        receive(ws, "config")
        ws.send_json({"type": "step"})
        stepped, _ = receive(ws, "frame")
        assert stepped["train_loss"] is not None and np.isfinite(stepped["train_loss"])


def test_an_overshooting_learning_rate_with_a_bounded_loss_is_warned_about_once():
    # cross-entropy on a sigmoid: the loss saturates instead of becoming infinite
    session = Session(Config(**{**SMALL, "hidden": (3, 2)}, learning_rate=1e3))
    warnings = []
    for _ in range(20):
        session.advance()
        warnings.append(session.frame()["warning"])
    shown = [w for w in warnings if w]
    assert len(shown) == 1 and "learning rate 1000 makes the steps overshoot" in shown[0]
    healthy = Session(Config(**{**SMALL, "hidden": (3, 2)}, learning_rate=0.3))
    for _ in range(50):
        healthy.advance()
        assert healthy.frame()["warning"] is None


def test_tabs_train_independently(app, client):
    with client.websocket_connect("/ws") as one, client.websocket_connect("/ws") as two:
        hello_one, _, _ = start(one, **SMALL)
        hello_two, _, idle = start(two, **SMALL, seed=1)
        assert hello_one["session"] != hello_two["session"]
        one.send_json({"type": "play"})
        for _ in range(5):
            frame, _ = receive(one, "frame")
        one.send_json({"type": "pause"})
        receive(one, "frame")
        two.send_json({"type": "select", "layer": 1, "neuron": 1})
        still, _ = receive(two, "frame")
    assert frame["epoch"] >= 4
    assert still["epoch"] == 0 and still["steps"] == 0
    assert still["weights"] == idle["weights"]
    assert app.state.connections == {}  # sessions end with their tab


def test_live_settings_keep_the_weights_and_structural_ones_reset(client):
    with client.websocket_connect("/ws") as ws:
        start(ws, **SMALL)
        ws.send_json({"type": "step"})
        trained, _ = receive(ws, "frame")
        for settings in ({"learning_rate": 0.3}, {"optimizer": "rmsprop"}, {"l2": 0.01}):
            ws.send_json({"type": "config", "settings": settings})
            config, _ = receive(ws, "config")
            frame, _ = receive(ws, "frame")
            assert frame["weights"] == trained["weights"] and frame["steps"] == 1
        assert config["config"]["learning_rate"] == 0.3 and config["config"]["l2"] == 0.01
        ws.send_json({"type": "config", "settings": {"dataset": "moons"}})
        setup, _ = receive(ws, "setup")
        frame, _ = receive(ws, "frame")
        assert setup["dataset"] == "moons" and frame["steps"] == 0
        ws.send_json({"type": "reset"})
        receive(ws, "setup")
        reset, _ = receive(ws, "frame")
        assert reset["weights"] == frame["weights"]  # the seed's initial weights again


def test_l2_becomes_the_optimizers_weight_decay():
    session = Session(Config(**{**SMALL, "hidden": (3, 2)}, l2=0.01, batch_size=1000))
    session.select(1, 1)
    session.advance(single=True)
    update = session.neuron_detail()["update"]
    assert update["weight_decay"] == 0.01
    before = np.array(update["weights_before"])
    gradient = np.array(update["weights_gradient"])
    # w = w - eta (de/dw + lambda w)
    expected = before - 0.03 * (gradient + 0.01 * before)
    assert np.allclose(update["weights_after"], expected, atol=1e-15)


def test_regression_plane_uses_a_linear_output_and_r2():
    session = Session(Config(dataset="plane", hidden=(3,), activations=("tanh",)))
    assert session.data.task == "regression"
    assert session.net.output_activation.name == "identity"
    assert session.metric_name == "r2" and session.loss.name == "mse"
    first = session.scores()["train_loss"]
    for _ in range(30):
        session.advance()
    assert session.scores()["train_loss"] < first


# ----------------------------------------------------------------------------- CSV upload


def _rows(classes: int, per_class: int = 40, spread: float = 0.3, seed: int = 0) -> str:
    """A CSV of ``classes`` Gaussian blobs on a circle, labelled ``c0``, ``c1``, ..."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(classes) / classes
    lines = ["x1,x2,label"]
    for i in range(classes * per_class):
        k = i % classes
        x = 2 * np.array([np.cos(angles[k]), np.sin(angles[k])]) + rng.normal(0, spread, 2)
        lines.append(f"{x[0]:.4f},{x[1]:.4f},c{k}")
    return "\n".join(lines)


GOOD_CSV = "x1,x2,colour\n" + "\n".join(
    f"{x:.2f},{y:.2f},{'blue' if x * y < 0 else 'red'}"
    for x, y in np.random.default_rng(0).uniform(-1, 1, (40, 2))
)


def test_uploading_a_csv_makes_it_the_data_set(client):
    with client.websocket_connect("/ws") as ws:
        start(ws, **SMALL)
        ws.send_json({"type": "upload", "id": 7, "name": "points.csv", "text": GOOD_CSV})
        setup, _ = receive(ws, "setup")
        ws.send_json({"type": "config", "settings": {"hidden": [2]}})
        later, _ = receive(ws, "setup")
    assert setup["upload"] == 7 and "upload" not in later  # the page knows which upload won
    assert later["dataset"] == "points.csv" and later["sizes"] == [2, 2, 1]
    assert setup["dataset"] == "points.csv" and setup["custom"] == "points.csv"
    assert setup["config"]["dataset"] == "csv"
    assert setup["class_names"] == ["blue", "red"]
    assert len(setup["train"]["x"]) + len(setup["test"]["x"]) == 40


def test_a_numeric_label_with_many_values_is_a_regression():
    rows = "\n".join(f"{i / 10},{i % 3},{i * 0.5}" for i in range(30))
    data = parse_csv(rows)
    assert data.task == "regression" and data.X.shape == (30, 2)


def test_three_classes_train_a_softmax_layer_with_categorical_cross_entropy(tmp_path):
    session = Session(Config(hidden=(5,), activations=("tanh",), optimizer="adam"))
    session.load_csv(_rows(3), "three.csv")
    net, data = session.net, session.data
    assert net.sizes == [2, 5, 3] and net.output_activation.name == "softmax"
    assert session.loss.name == "categorical_cross_entropy" and session.metric_name == "accuracy"
    assert data.class_names == ["c0", "c1", "c2"]
    # one-hot targets; the split is stratified: every class is trained on and tested
    for y in (data.y_train, data.y_test):
        assert y.shape[1] == 3 and np.array_equal(y.sum(axis=1), np.ones(len(y)))
        assert set(y.argmax(axis=1)) == {0, 1, 2}
    assert len(data.y_train) + len(data.y_test) == 120
    first = session.scores()
    for _ in range(20):
        session.advance()
    trained = session.scores()
    assert trained["train_loss"] < first["train_loss"] / 2
    assert trained["test_metric"] > 0.9
    # the loss the page shows is -mean log a_y, computed here by hand
    probabilities = net.predict(data.X_train)
    by_hand = -np.mean(np.log(probabilities[np.arange(len(probabilities)), data.y_train.argmax(1)]))
    assert trained["train_loss"] == pytest.approx(by_hand, rel=1e-12)
    # the model file predicts exactly what the session predicts, and names the classes
    path = tmp_path / session.model_filename()
    path.write_bytes(session.model_bytes())
    loaded = fc.load(path)
    grid = cell_centres(data.domain, 20)
    assert np.array_equal(loaded.predict(grid), net.predict(grid))
    assert loaded.metadata["class_names"] == ["c0", "c1", "c2"]
    names = np.array(loaded.metadata["class_names"])[loaded.classify(data.X_test)]
    truth = np.array(data.class_names)[data.y_test.argmax(axis=1)]
    assert np.mean(names == truth) == trained["test_metric"]


def test_five_classes_over_the_websocket_match_the_downloaded_model(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        hello, _, _ = start(ws, **SMALL, optimizer="adam")
        ws.send_json({"type": "upload", "name": "five.csv", "text": _rows(5, per_class=24)})
        setup, _ = receive(ws, "setup")
        first, _ = receive(ws, "frame")
        for _ in range(15):
            ws.send_json({"type": "step"})
            receive(ws, "frame")
        ws.send_json({"type": "select", "layer": 3, "neuron": 4, "point": [0.5, -1.5]})
        frame, _ = receive(ws, "frame")
        net = download(client, hello["session"], tmp_path)
        # a bad file now keeps the five classes, not the XOR from before
        ws.send_json({"type": "upload", "name": "bad.csv", "text": _rows(9, per_class=2)})
        error, _ = receive(ws, "error")
        kept, _ = receive(ws, "setup")
    assert setup["sizes"] == [2, 3, 2, 5] and setup["activations"][-1] == "softmax"
    assert setup["loss"] == "categorical_cross_entropy" and setup["metric"] == "accuracy"
    assert setup["class_names"] == ["c0", "c1", "c2", "c3", "c4"]
    assert setup["custom_summary"] == "five.csv: 120 rows, 5 classes: c0, c1, c2, c3, c4"
    assert set(setup["train"]["y"]) == set(setup["test"]["y"]) == {0, 1, 2, 3, 4}
    assert frame["train_loss"] < first["train_loss"]
    assert [np.shape(w) for w in frame["weights"]] == [(3, 2), (2, 3), (5, 2)]
    # the output map: the winning class and its probability, from the model file
    output = frame["output"]
    probabilities = net.predict(cell_centres(setup["domain"], output["resolution"]))
    assert np.array_equal(decode(output["winner"]), probabilities.argmax(axis=1))
    assert np.allclose(decode(output["data"]) / 255, probabilities.max(axis=1), atol=1 / 250)
    # the output neurons' own heatmaps use softmax's range (0, 1)
    assert frame["neurons"]["ranges"][-5:] == [[0.0, 1.0]] * 5
    # the clicked softmax neuron: a_4 = e^{z_4} / sum_k e^{z_k}, by hand on the model
    detail = frame["neuron"]
    trace = net.forward(np.array([[0.5, -1.5]]), trace=True)
    z = trace.z[2][0]
    assert detail["kind"] == "output" and detail["activation"] == "softmax"
    assert detail["layer_z"] == pytest.approx(z.tolist(), abs=1e-12)
    assert detail["z"] == pytest.approx(float(z[3]), abs=1e-12)
    assert detail["a"] == pytest.approx(float(np.exp(z[3]) / np.exp(z).sum()), abs=1e-12)
    assert error["message"].startswith("bad.csv: the label column has 9 different labels")
    assert kept["reset"] is False and kept["dataset"] == "five.csv" and kept["sizes"][-1] == 5


def test_identity_switch_collapses_a_softmax_network_into_one_softmax_layer():
    session = Session(Config(hidden=(4, 3), activations=("tanh", "relu")))
    session.load_csv(_rows(4, per_class=10), "four.csv")
    session.advance()
    session.apply({"identity": True})
    shown = session.frame()["collapse"]
    W1, W2, W3 = (layer.weights for layer in session.net.layers)
    b1, b2, b3 = (layer.bias for layer in session.net.layers)
    assert shown["outputs"] == 4 and shown["output_activation"] == "softmax"
    assert np.allclose(shown["weights"], W3 @ W2 @ W1, atol=1e-12)
    assert np.allclose(shown["bias"], W3 @ (W2 @ b1 + b2) + b3, atol=1e-12)
    assert shown["max_difference"] < 1e-12


@pytest.mark.parametrize(
    ("labels", "task", "classes"),
    [
        (["0", "1"], "classification", ["0", "1"]),
        (["2", "0", "1"], "classification", ["0", "1", "2"]),  # ordered by value
        (["-1", "7", "3.0", "3"], "classification", ["-1", "3.0", "7"]),  # 3.0 and 3: one class
        (["b", "a", "10", "9"], "classification", ["9", "10", "a", "b"]),
        ([str(i) for i in range(8)], "classification", [str(i) for i in range(8)]),
        ([str(i) for i in range(9)], "regression", []),  # more than 8 whole numbers
        (["0.5", "1.5", "2.5"], "regression", []),  # fractions
    ],
)
def test_the_label_column_decides_classes_or_regression(labels, task, classes):
    rows = [f"{i},{i * 0.5},{labels[i % len(labels)]}" for i in range(4 * len(labels))]
    data = parse_csv("\n".join(rows), "labels.csv")
    assert data.task == task and data.class_names == classes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("x1,x2,y\n1,2,0\n3,4,1\n5,6\n7,8,1\n", "line 4: expected 3 columns"),
        ("1,2,0\n3,four,1\n5,6,0\n7,8,1\n", "line 2: 'four' in column 2 is not a number"),
        ("1,2,0\n3,inf,1\n5,6,0\n7,8,1\n", "column 2 is 'inf', not finite"),
        ("1,2,a\n3,4,a\n5,6,a\n7,8,a\n", "every row has the label 'a'"),
        ("1,2,a\n3,4,b\n5,6,c\n7,8,a\n5,5,c\n", "class 'b' has a single row (line 2)"),
        (_rows(9, per_class=2), "has 9 different labels ('c0', 'c1',"),
        ("1,2,0\n3,4,1\n5,6,nan\n7,8,1\n", "line 3: the label 'nan' is not a finite number"),
        ("1,2,a\n3,4,b\n5,6, \n7,8,a\n", "line 3: the label (column 3) is empty"),
        ("1,2,0\n3,4,1\n", "give at least 4"),
        ("\n".join(f"{i},{i},{i % 2}" for i in range(5001)), "at most 5000"),
        ("1.000000,2.000000,0\n" * 30_000, "larger than 512 kB"),
    ],
)
def test_invalid_csv_gets_a_message(client, text, message):
    with client.websocket_connect("/ws") as ws:
        start(ws, **SMALL)
        ws.send_json({"type": "upload", "name": "bad.csv", "text": text})
        error, _ = receive(ws, "error")
        restored, _ = receive(ws, "setup")
    assert message in error["message"] and error["message"].startswith("bad.csv")
    assert restored["dataset"] == "xor"  # the old data stays


# ----------------------------------------------------------------------------- maths


def test_collapse_equals_the_identity_network_on_random_points():
    rng = np.random.default_rng(5)
    for sizes in ([2, 1], [2, 5, 1], [2, 3, 4, 2, 1]):
        net = fc.MLP(sizes, activation="identity", seed=rng)
        weights, bias = collapse(net)
        X = rng.normal(size=(50, 2))
        assert np.allclose(net.forward(X), X @ weights.T + bias, atol=1e-12)


def test_session_model_file_keeps_the_settings(tmp_path):
    session = Session(Config(**{**SMALL, "hidden": (3, 2)}))
    session.advance()
    path = tmp_path / session.model_filename()
    path.write_bytes(session.model_bytes())
    net = fc.load(path)
    assert net.metadata["playground"]["hidden"] == [3, 2]
    assert net.metadata["epoch"] == 1
    assert path.name == "formicary-xor-2-3-2-1-epoch1.fcy"
    for mine, theirs in zip(session.net.parameters(), net.parameters(), strict=True):
        assert np.array_equal(mine, theirs)


# ----------------------------------------------------------------------------- HTTP


def test_the_page_and_its_assets_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert {"/static/playground.js", "/static/playground.css"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    for module in ("render.js", "equations.js"):
        assert client.get(f"/static/{module}").status_code == 200


def test_no_asset_loads_anything_from_the_network():
    external = re.compile(
        r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import[^;]*["']https?:"""
    )
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            assert not external.search(path.read_text()), path.name


def test_downloading_an_unknown_session_is_a_404(client):
    response = client.get("/api/sessions/nobody/model.fcy")
    assert response.status_code == 404 and "no such session" in response.text


def test_websockets_from_other_sites_are_refused(client):
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws", headers={"origin": "https://evil.example"}) as ws,
    ):
        ws.receive_json()


# ----------------------------------------------------------------------------- the command


def _run_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "formicary", "playground", "--no-browser", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_command_serves_the_page_on_localhost():
    process = _run_cli("--port", "0")
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + process.stderr.read()
        with urllib.request.urlopen(match.group(0), timeout=10) as response:
            assert response.status == 200
            assert b"Formicary playground" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_without_the_web_extra_the_command_says_what_to_install():
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from formicary.cli import main\n"
        "main(['playground', '--no-browser'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: this command needs uvicorn; install it with: pip install 'formicary[web]'"
    )


def test_a_busy_port_is_one_clear_error():
    with contextlib.closing(socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        process = _run_cli("--port", str(port))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use; choose another with --port, "
        "or --port 0 to pick a free one"
    ]


def test_frames_are_strict_json():
    # base64 pixels and finite floats only: nothing a browser's JSON.parse rejects
    session = Session(Config(**{**SMALL, "hidden": (3, 2)}))
    session.select(1, 1)
    session.advance()
    text = json.dumps(session.frame(), allow_nan=False)
    assert text.isascii()
