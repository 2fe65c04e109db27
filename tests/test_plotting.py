"""Every plot writes a real, non-blank PNG with labelled axes, without a display."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import formicary as fc
from formicary import explain, plotting

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path) -> np.ndarray:
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5_000
    image = imread(path)[..., :3]
    assert image.shape[0] > 200 and image.shape[1] > 200
    # not blank: the pixels vary, and plenty of them differ from the background
    assert image.std() > 0.05
    background = np.median(image.reshape(-1, 3), axis=0)
    assert np.mean(np.abs(image - background).sum(axis=2) > 0.1) > 0.03
    return image


def labelled(ax) -> bool:
    return bool(ax.get_xlabel().strip()) and bool(ax.get_ylabel().strip() or ax.get_title())


@pytest.fixture(scope="module")
def trained():
    X, y = fc.datasets.circles(160, seed=1)
    net = fc.MLP([2, 5, 1], activation="tanh", output_activation="sigmoid", seed=1)
    history = net.fit(
        X, y, optimizer="adam", learning_rate=0.03, epochs=60, validation_split=0.25, seed=1
    )
    return net, X, y, history


def test_activation_plot_marks_domain_and_range(tmp_path):
    fig = plotting.plot_activation("sigmoid", path=tmp_path / "sigmoid.png")
    assert_real_png(tmp_path / "sigmoid.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "z" and "σ" in ax.get_ylabel()
    texts = [t.get_text() for t in ax.texts]
    assert "range (0, 1)" in texts and "domain (-inf, inf)" in texts
    lines = {line.get_label(): line for line in ax.get_lines()}
    curve, derivative = lines["σ(z)"], lines["σ'(z)"]
    z = curve.get_xdata()
    np.testing.assert_allclose(curve.get_ydata(), 1 / (1 + np.exp(-z)), atol=1e-12)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(derivative.get_ydata(), s * (1 - s), atol=1e-12)


def test_activation_grid_and_relu_range(tmp_path):
    fig = plotting.plot_activations(path=tmp_path / "all.png")
    assert_real_png(tmp_path / "all.png")
    assert len(fig.axes) == len(plotting.DEFAULT_ACTIVATIONS)
    assert all(labelled(ax) for ax in fig.axes)
    relu = next(ax for ax in fig.axes if ax.get_title() == "relu")
    assert "range [0, inf)" in [t.get_text() for t in relu.texts]
    with pytest.raises(ValueError, match="normalises"):
        plotting.plot_activation("softmax")
    with pytest.raises(ValueError, match="z_range"):
        plotting.plot_activation("relu", z_range=(1, -1))


def test_history_plot(tmp_path, trained):
    _, _, _, history = trained
    fig = plotting.plot_history(history, path=tmp_path / "history.png")
    assert_real_png(tmp_path / "history.png")
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and "binary cross entropy" in loss_ax.get_ylabel()
    assert metric_ax.get_ylabel() == "accuracy"
    training = loss_ax.get_lines()[0]
    np.testing.assert_allclose(training.get_ydata(), history.loss)
    assert {line.get_label() for line in loss_ax.get_lines()} >= {"training", "validation"}
    with pytest.raises(ValueError, match="no epochs"):
        plotting.plot_history(fc.History())


def test_decision_boundary(tmp_path, trained):
    net, X, y, _ = trained
    fig = plotting.plot_decision_boundary(net, X, y, resolution=80, path=tmp_path / "db.png")
    assert_real_png(tmp_path / "db.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    accuracy = float(np.mean(net.classify(X) == y))
    assert f"accuracy {accuracy:.2f}" in ax.get_title()
    with pytest.raises(ValueError, match="2 inputs"):
        plotting.plot_decision_boundary(fc.MLP([3, 1]), np.zeros((2, 3)), [0, 1])


def test_decision_boundary_multiclass(tmp_path):
    X, y = fc.datasets.gaussians(90, n_classes=3, seed=0)
    net = fc.MLP([2, 6, 3], activation="relu", output_activation="softmax", seed=0)
    net.fit(X, y, optimizer="adam", learning_rate=0.05, epochs=20, seed=0)
    plotting.plot_decision_boundary(net, X, y, resolution=60, path=tmp_path / "multi.png")
    assert_real_png(tmp_path / "multi.png")


def test_network_diagram_with_one_sample(tmp_path):
    net, x, _ = explain.lecture_example()
    fig = plotting.plot_network(net, sample=x, path=tmp_path / "net.png")
    assert_real_png(tmp_path / "net.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() and "3-2-1" in ax.get_title()
    shown = {t.get_text() for t in ax.texts}
    trace = net.forward(x.reshape(1, -1), trace=True)
    # every neuron shows its activation a_j^(l) for the sample
    for value in [*x, *trace.a[0][0], *trace.a[1][0]]:
        assert f"{value:.2f}" in shown
    # one edge per weight, width growing with |w|
    edges = [line for line in ax.get_lines()]
    assert len(edges) == 3 * 2 + 2 * 1
    weights = np.concatenate([layer.weights.ravel() for layer in net.layers])
    widths = np.array([line.get_linewidth() for line in edges])
    assert np.argmax(widths) == np.argmax(np.abs(weights))


def test_network_diagram_summarises_large_layers(tmp_path):
    net = fc.MLP([40, 20, 3], seed=0)
    fig = plotting.plot_network(net, max_neurons=8, path=tmp_path / "big.png")
    assert_real_png(tmp_path / "big.png")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "+32 more" in texts and "+12 more" in texts


def test_hidden_neuron_maps(tmp_path, trained):
    net, X, y, _ = trained
    fig = plotting.plot_hidden_neurons(net, X, y, resolution=40, path=tmp_path / "hidden.png")
    assert_real_png(tmp_path / "hidden.png")
    panels = [ax for ax in fig.axes if ax.get_title().startswith("$a_")]
    assert len(panels) == 5
    assert all(labelled(ax) for ax in panels)
    with pytest.raises(ValueError, match="2 inputs"):
        plotting.plot_hidden_neurons(fc.MLP([3, 2, 1]))
    with pytest.raises(ValueError, match="layer must be"):
        plotting.plot_hidden_neurons(net, layer=5)


def test_plotting_never_touches_pyplot_or_a_display(tmp_path):
    code = (
        "import os, sys; os.environ.pop('DISPLAY', None);"
        "import formicary as fc; from formicary import plotting;"
        f"plotting.plot_activation('relu', path={str(tmp_path / 'r.png')!r});"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported';"
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert (tmp_path / "r.png").stat().st_size > 1000
