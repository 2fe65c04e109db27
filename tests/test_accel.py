"""The compiled backend (formicary.accel via formicary.backend) gives NumPy's results, bit for bit."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import formicary as fc
from formicary import backend

accel = pytest.importorskip("formicary.accel", reason="the 'fast' extra (Numba) is not installed")

OPTIMIZERS = {
    "adam": lambda: fc.Adam(1e-2),
    "adam+decay": lambda: fc.Adam(1e-2, weight_decay=1e-2),
    "sgd": lambda: fc.SGD(0.1),
    "momentum": lambda: fc.SGD(0.1, momentum=0.9),
    "nesterov": lambda: fc.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: fc.RMSprop(1e-2),
}


@pytest.fixture(autouse=True)
def _restore_backend():
    yield
    backend.use("auto")


def _train(choice, activation, dtype, optimizer, output="softmax"):
    backend.use(choice)
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((120, 12)) * 4).astype(dtype)
    y = rng.integers(0, 4, 120)
    if output == "sigmoid":
        y = (y > 1).astype(dtype)[:, None]
    net = fc.MLP(
        [12, 9, 7, 4 if output == "softmax" else 1],
        activation=activation,
        output_activation=output,
        dtype=dtype,
        seed=1,
    )
    history = net.fit(X, y, optimizer=OPTIMIZERS[optimizer](), epochs=3, batch_size=16, seed=2)
    return net, history


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_compiled_optimizers_match_numpy_bit_for_bit(dtype, optimizer):
    reference, ref_history = _train("numpy", "sigmoid", dtype, optimizer)
    compiled, history = _train("numba", "sigmoid", dtype, optimizer)
    assert backend.name() == "numba"
    for expected, got in zip(reference.parameters(), compiled.parameters(), strict=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
    assert history.loss == ref_history.loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "activation",
    ["sigmoid", "relu", "tanh", fc.activations.leaky_relu(0.1), ["relu", "sigmoid"]],
    ids=["sigmoid", "relu", "tanh", "leaky_relu", "relu+sigmoid"],
)
def test_fused_hidden_layers_match_numpy_bit_for_bit(dtype, activation):
    reference, _ = _train("numpy", activation, dtype, "adam", output="sigmoid")
    compiled, _ = _train("numba", activation, dtype, "adam", output="sigmoid")
    for expected, got in zip(reference.parameters(), compiled.parameters(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_kernels_really_run():
    """Guard against a silent fallback: the compiled functions got compiled for both dtypes."""
    for dtype in (np.float32, np.float64):
        _train("numba", "relu", dtype, "adam")
        _train("numba", "sigmoid", dtype, "sgd")
        _train("numba", ["tanh", fc.activations.leaky_relu(0.1)], dtype, "sgd")
    for kernel in (
        accel.bias_add,
        accel.one_minus_square,
        accel.bias_leaky_relu,
        accel.adam,
        accel.sgd,
        accel.bias_relu,
        accel.bias_negate,
        accel.sigmoid_finish,
        accel.softmax_shift,
        accel.softmax_normalise,
    ):
        dtypes = {str(signature[0].dtype) for signature in kernel.signatures}
        assert {"float32", "float64"} <= dtypes, kernel


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sigmoid_and_relu_at_the_extremes(dtype):
    """Saturation gives exact 0 and 1 with no warning; NaN stays NaN (so divergence is caught)."""
    from formicary.network import _fused_layer

    z0 = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4, np.nan]], dtype=dtype)
    bias = np.zeros(6, dtype=dtype)
    sigmoid = _fused_layer(fc.activations.sigmoid, np.dtype(dtype), accel)
    z, a = z0.copy(), np.empty_like(z0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sigmoid(z, bias, a)
    expected = fc.activations.sigmoid.function(z0)
    np.testing.assert_array_equal(a, expected)
    assert a[0, 0] == 0.0 and a[0, 4] == 1.0 and a[0, 2] == 0.5
    np.testing.assert_array_equal(z, fc.activations.sigmoid.derivative(expected))

    relu = _fused_layer(fc.activations.relu, np.dtype(dtype), accel)
    z, a = z0.copy(), np.empty_like(z0)
    relu(z, bias + 1, a)
    np.testing.assert_array_equal(a, np.maximum(z0 + 1, 0))
    np.testing.assert_array_equal(z[0, :5], (z0[0, :5] + 1 > 0).astype(dtype))

    leaky = fc.activations.leaky_relu(0.1)
    fused = _fused_layer(leaky, np.dtype(dtype), accel)
    z, a = z0.copy(), np.empty_like(z0)
    fused(z, bias, a)
    np.testing.assert_array_equal(a, leaky.function(z0))  # NaN stays NaN
    np.testing.assert_array_equal(z[0, :5], np.where(z0[0, :5] > 0, 1, 0.1).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_softmax_is_numpys_for_every_width(dtype):
    """Every output width up to the limit (NumPy's summation order is replicated), NaN kept."""
    from formicary.network import _fused_output

    rng = np.random.default_rng(5)
    assert _fused_output(fc.activations.softmax, accel.SOFTMAX_MAX_WIDTH + 1, accel) is None
    for width in range(1, accel.SOFTMAX_MAX_WIDTH + 1):
        softmax = _fused_output(fc.activations.softmax, width, accel)
        z = (rng.standard_normal((9, width)) * 30).astype(dtype)
        z[2, 0] = np.nan
        bias = rng.standard_normal(width).astype(dtype)
        expected = fc.activations.softmax.function(z + bias)
        a = np.empty_like(z)
        softmax(z, bias, a)
        np.testing.assert_array_equal(a, expected)
        assert np.isnan(a[2]).all() and np.isfinite(np.delete(a, 2, axis=0)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("activation", "output"),
    [("sigmoid", "softmax"), ("relu", "sigmoid"), ("relu", None), ("tanh", "softmax")],
)
def test_compiled_prediction_matches_numpy_bit_for_bit(dtype, activation, output):
    rng = np.random.default_rng(7)
    net = fc.MLP([20, 16, 8, 3], activation=activation, output_activation=output, seed=0)
    X = (rng.standard_normal((5000, 20)) * 3).astype(dtype)
    X[17] *= 1e4  # saturated units and e^-z overflowing to inf: still NumPy's numbers
    backend.use("numpy")
    expected = net.predict(X, batch_size=1024)
    backend.use("numba")
    got = net.predict(X, batch_size=1024)
    np.testing.assert_array_equal(got, expected)
    assert np.isfinite(got).all()


def _python(script: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter (optionally with extra environment variables)."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_small_predictions_do_not_import_numba():
    """Importing Numba costs ~0.4 s: a small prediction in a fresh process stays on NumPy."""
    script = (
        "import sys, numpy as np, formicary as fc;"
        "net = fc.MLP([4, 8, 2], activation='relu', output_activation='softmax');"
        "net.predict(np.ones((100, 4)));"
        "print('numba' in sys.modules)"
    )
    result = _python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_auto_loads_numba_only_for_runs_long_enough_to_gain():
    """A short fit stays on NumPy (importing Numba would cost more than it saves); a long one loads it."""
    assert not backend.worth_loading(steps=1000, parameters=5000)
    assert backend.worth_loading(steps=300 * 10, parameters=235_146)  # 10 epochs of Fashion-MNIST
    assert backend.worth_loading(steps=float("inf"), parameters=10)  # a stream of unknown length
    script = (
        "import sys, numpy as np, formicary as fc\n"
        "X, y = np.ones((64, 20)), np.arange(64) % 2\n"
        "net = fc.MLP([20, 100, 100, 2], output_activation='softmax')\n"
        "net.fit(X, y, epochs=3, batch_size=32)\n"
        "print('numba' in sys.modules)\n"
        "class Stop(fc.Callback):\n"
        "    def on_batch_end(self, net, batch, logs):\n"
        "        net.stop_training = True\n"
        "net.fit(X, y, epochs=1_000_000, batch_size=32, callbacks=[Stop()])\n"
        "print('numba' in sys.modules, net.history.epochs)\n"
    )
    result = _python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "1"]


def test_a_diverging_run_is_still_caught():
    backend.use("numba")
    X = np.ones((8, 2))
    y = np.full((8, 1), 1e200)
    net = fc.MLP([2, 4, 1], activation="relu", seed=0)
    with pytest.raises(fc.TrainingDivergedError):
        net.fit(X, y, optimizer=fc.SGD(1.0), epochs=5, batch_size=4)


def test_unknown_backend_names_are_refused():
    with pytest.raises(ValueError, match="unknown backend 'cuda'.*auto, numpy, numba"):
        backend.use("cuda")
    script = "import numpy as np, formicary as fc; fc.MLP([2, 1]).fit(np.ones((4, 2)), np.ones(4))"
    result = _python(script, FORMICARY_BACKEND="gpu")
    assert result.returncode != 0
    assert "unknown backend 'gpu' in FORMICARY_BACKEND" in result.stderr


def test_numpy_backend_never_imports_numba():
    script = (
        "import sys, numpy as np, formicary as fc;"
        "fc.MLP([3, 4, 2], output_activation='softmax').fit(np.ones((6, 3)), np.arange(6) % 2);"
        "print(fc.backend.name(), 'numba' in sys.modules)"
    )
    result = _python(script, FORMICARY_BACKEND="numpy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "False"]


def test_asking_for_numba_without_it_says_how_to_install():
    script = (
        "import sys; sys.modules['numba'] = None\n"
        "import formicary.backend as b\n"
        "b.use('auto'); print('auto ->', b.name())\n"
        "try:\n"
        "    b.use('numba')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = _python(script)
    assert result.returncode == 0, result.stderr
    assert "auto -> numpy" in result.stdout
    assert "pip install 'formicary[fast]'" in result.stdout
