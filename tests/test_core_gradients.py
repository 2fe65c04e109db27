"""Backpropagation against central finite differences, for every activation x loss pair."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import formicary as fc

HIDDEN = ["sigmoid", "relu", "tanh", "identity", "leaky_relu", "softplus", "gelu"]
OUTPUTS = {
    "mse": ["sigmoid", "relu", "tanh", "identity", "leaky_relu", "softplus", "gelu", "softmax"],
    "binary_cross_entropy": ["sigmoid", "softmax"],
    "categorical_cross_entropy": ["softmax", "sigmoid"],
}
PAIRS = [(loss, out) for loss, outs in OUTPUTS.items() for out in outs]


def targets(loss: str, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "categorical_cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def inputs_away_from_kinks(rng, n, d):
    # ReLU-like units have a kink at z = 0; random normal inputs keep z away from it
    return rng.normal(size=(n, d))


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("loss", "output"), PAIRS)
def test_every_activation_and_loss_pair(hidden, loss, output):
    rng = np.random.default_rng(1)
    net = fc.MLP([4, 5, 3], activation=hidden, output_activation=output, seed=2)
    X = inputs_away_from_kinks(rng, 6, 4)
    y = targets(loss, 6, 3, rng)
    result = fc.gradient_check(net, X, y, loss=loss)
    assert result.n_parameters == net.parameter_count
    assert result.max_relative_error < 1e-6, result


def test_custom_registered_activation_is_checked_too():
    fc.activations.register(
        "cube_root_ish",
        lambda z: z / np.sqrt(1 + z * z),
        lambda z: (1 + z * z) ** -1.5,
        range=(-1, 1),
    )
    try:
        net = fc.MLP([3, 4, 1], activation="cube_root_ish", seed=0)
        rng = np.random.default_rng(0)
        result = fc.gradient_check(net, rng.normal(size=(5, 3)), rng.normal(size=5))
        assert result < 1e-6
    finally:
        fc.activations.unregister("cube_root_ish")


def test_gradient_check_detects_a_wrong_derivative():
    # An activation whose declared derivative is wrong must fail the check.
    fc.activations.register("wrong", np.tanh, lambda z: np.ones_like(z))
    try:
        net = fc.MLP([3, 4, 1], activation="wrong", seed=0)
        rng = np.random.default_rng(0)
        result = fc.gradient_check(net, rng.normal(size=(5, 3)), rng.normal(size=5))
        assert result.max_relative_error > 1e-3
        assert result.worst.startswith(("w_", "b_"))
    finally:
        fc.activations.unregister("wrong")


def test_sample_weights_enter_the_gradient_as_a_weighted_mean():
    rng = np.random.default_rng(3)
    net = fc.MLP([3, 4, 2], activation="tanh", seed=0)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    weights = np.array([1.0, 2.0, 0.0, 1.0, 3.0])
    trace = net.forward(X, trace=True)
    weighted = net.backward(trace, y, sample_weight=weights)
    # Duplicating rows by their integer weights gives the same mean gradient.
    rows = np.repeat(np.arange(5), weights.astype(int))
    duplicated = net.backward(net.forward(X[rows], trace=True), y[rows])
    for a, b in zip(weighted.flat(), duplicated.flat(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


layer_sizes = st.lists(st.integers(1, 5), min_size=2, max_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=layer_sizes,
    hidden=st.lists(st.sampled_from(HIDDEN), min_size=4, max_size=4),
    pair=st.sampled_from(PAIRS),
    seed=st.integers(0, 2**16),
)
def test_random_deep_architectures(sizes, hidden, pair, seed):
    loss, output = pair
    n_out = max(sizes[-1], 2) if output == "softmax" else sizes[-1]
    sizes = [*sizes[:-1], n_out]
    n_hidden = len(sizes) - 2
    net = fc.MLP(sizes, activation=hidden[:n_hidden], output_activation=output, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, sizes[0]))
    # A ReLU kink within reach of the finite difference's steps (+-2h = 2e-4 on a
    # parameter) makes the difference quotient straddle it: redraw the inputs until
    # every pre-activation of a kinked layer is well clear of 0, then demand full accuracy.
    activations = [*hidden[:n_hidden], output]
    kinked = [l for l, h in enumerate(activations) if h in ("relu", "leaky_relu")]
    for _ in range(50):
        trace = net.forward(X, trace=True)
        if all(np.min(np.abs(trace.z[l])) > 1e-2 for l in kinked):
            break
        X = rng.normal(size=(4, sizes[0]))
    else:
        assume(False)  # a kink at every input (e.g. a dead ReLU layer feeding z = b = 0)
    y = targets(loss, 4, n_out, rng)
    result = fc.gradient_check(net, X, y, loss=loss)
    assert result.max_relative_error < 1e-6, result


def test_gradient_check_on_a_subset_of_parameters():
    net = fc.MLP([20, 30, 3], activation="tanh", output_activation="softmax", seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 20))
    y = rng.integers(0, 3, size=8)
    result = fc.gradient_check(net, X, y, loss="categorical_cross_entropy", max_parameters=50)
    assert result.n_parameters == 50
    assert result < 1e-6
