"""The activation-function proof: symbolic (SymPy), numeric (collapse) and empirical (XOR, circles)."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import formicary as fc
from formicary import proof


@functools.cache
def symbolic(sizes: tuple[int, ...]) -> proof.SymbolicProof:
    return proof.symbolic(sizes)


def linear_stack(sizes, seed, output="identity", dtype="float64", scale=1.0):
    rng = np.random.default_rng(seed)
    layers = []
    for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        act = output if l == len(sizes) - 1 else "identity"
        layers.append(
            fc.Dense(
                n_in,
                n_out,
                act,
                weights=rng.uniform(-scale, scale, (n_out, n_in)),
                bias=rng.uniform(-scale, scale, n_out),
                dtype=dtype,
            )
        )
    return fc.MLP(layers)


# ----------------------------------------------------------------------------- numeric


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 8), min_size=2, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_collapse_equals_random_deep_linear_stacks(sizes, seed):
    net = linear_stack(sizes, seed)
    layer = proof.collapse(net)
    assert isinstance(layer, fc.Dense)
    assert layer.weights.shape == (sizes[-1], sizes[0])
    X = np.random.default_rng(seed).normal(size=(50, sizes[0]))
    expected = net.predict(X)
    _, got = layer.forward(X)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * scale)


def test_collapse_is_the_matrix_product_for_the_lecture_shapes():
    net = linear_stack([3, 2, 1], seed=7)
    W1, b1 = net.layers[0].weights, net.layers[0].bias
    W2, b2 = net.layers[1].weights, net.layers[1].bias
    layer = proof.collapse(net)
    # the lecture's w_k = (A + P) for x_k: w_1 = w_11^(2) w_11^(1) + w_12^(2) w_21^(1), ...
    for k in range(3):
        expected = W2[0, 0] * W1[0, k] + W2[0, 1] * W1[1, k]
        assert layer.weights[0, k] == pytest.approx(expected, abs=1e-15)
    assert layer.bias[0] == pytest.approx(W2[0, 0] * b1[0] + W2[0, 1] * b1[1] + b2[0], abs=1e-15)


def test_collapse_keeps_the_output_activation():
    net = linear_stack([2, 5, 4, 1], seed=1, output="sigmoid")
    layer = proof.collapse(net)
    assert layer.activation.name == "sigmoid"
    X = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_allclose(layer.forward(X)[1], net.predict(X), atol=1e-14)
    check = proof.check_collapse(net, n_samples=100)
    assert check.max_abs_difference < 1e-14


def test_collapse_works_on_a_list_of_layers_and_float32():
    net = linear_stack([4, 3, 2], seed=2, dtype="float32")
    layer = proof.collapse(list(net.layers))
    assert layer.dtype == np.float32
    check = proof.check_collapse(net, n_samples=200)
    assert check.max_abs_difference < 1e-5


def test_collapse_refuses_a_non_linear_hidden_layer_and_says_why():
    net = fc.MLP([3, 2, 1], activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match="non-linear activation 'sigmoid'") as info:
        proof.collapse(net)
    assert "not a linear function of x" in str(info.value)
    assert "identity" in str(info.value)
    relu_deep = fc.MLP([2, 3, 3, 1], activation=["identity", "relu"], seed=0)
    with pytest.raises(ValueError, match="hidden layer 2 applies the non-linear activation 'relu'"):
        proof.collapse(relu_deep)
    with pytest.raises(TypeError, match="MLP"):
        proof.collapse("net")
    with pytest.raises(ValueError, match="expects 4 inputs"):
        proof.collapse([fc.Dense(2, 3, "identity"), fc.Dense(4, 1, "identity")])


# ----------------------------------------------------------------------------- symbolic


def test_symbolic_lecture_network_collects_a_plus_p():
    result = symbolic((3, 2, 1))
    assert result.verified
    w = {
        name: sp.Symbol(name, real=True)
        for name in (
            "w_11^(1)",
            "w_12^(1)",
            "w_13^(1)",
            "w_21^(1)",
            "w_22^(1)",
            "w_23^(1)",
            "w_11^(2)",
            "w_12^(2)",
            "b_1^(1)",
            "b_2^(1)",
            "b_1^(2)",
        )
    }
    # the lecture: z_1^(2) = (A+P) x_1 + (B+Q) x_2 + (C+R) x_3 + D_1 + D_2 + b_1^(2)
    expected = [
        w["w_11^(2)"] * w[f"w_1{k}^(1)"] + w["w_12^(2)"] * w[f"w_2{k}^(1)"] for k in (1, 2, 3)
    ]
    for k in range(3):
        assert sp.expand(result.coefficients[0, k] - expected[k]) == 0
    constant = w["w_11^(2)"] * w["b_1^(1)"] + w["w_12^(2)"] * w["b_2^(1)"] + w["b_1^(2)"]
    assert sp.expand(result.constants[0] - constant) == 0
    text = result.render(color=False)
    assert "z_1^(2) = w_11^(2)*{w_11^(1)*x_1 + w_12^(1)*x_2 + w_13^(1)*x_3 + b_1^(1)}" in text
    assert "z_1^(2) = (w_11^(2)*w_11^(1) + w_12^(2)*w_21^(1))*x_1" in text
    assert "+ (w_11^(2)*b_1^(1) + w_12^(2)*b_2^(1) + b_1^(2))" in text
    assert "= w_1*x_1 + w_2*x_2 + w_3*x_3 + b" in text
    assert "verified" in text


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.sampled_from([(3, 2, 1), (2, 3, 2), (2, 2, 2, 1), (1, 3, 1), (3, 1, 2, 2)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_symbolic_coefficients_equal_numeric_collapse(sizes, seed):
    result = symbolic(sizes)
    net = linear_stack(list(sizes), seed, scale=3.0)
    weights, bias = result.evaluate(net)
    layer = proof.collapse(net)
    np.testing.assert_allclose(weights, layer.weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bias, layer.bias, rtol=1e-12, atol=1e-12)


def test_symbolic_refuses_huge_networks_and_wrong_sizes():
    with pytest.raises(ValueError, match="too many"):
        proof.symbolic((100, 50, 50, 10))
    with pytest.raises(ValueError, match="two positive"):
        proof.symbolic((3,))
    with pytest.raises(ValueError, match="sizes"):
        symbolic((3, 2, 1)).evaluate(linear_stack([3, 3, 1], seed=0))


def test_symbolic_larger_networks_are_summarised():
    text = proof.symbolic((5, 4, 2)).render(max_terms=3, max_neurons=1, color=False)
    assert "(+2 more terms)" in text
    assert "(+1 more output neurons" in text


# ----------------------------------------------------------------------------- empirical


def brute_force_best_line(X, y, n_angles=20_000):
    """Best accuracy over many directions, every threshold: a lower bound on the optimum."""
    y = np.asarray(y)
    angles = np.linspace(0, np.pi, n_angles, endpoint=False)
    directions = np.column_stack([np.cos(angles), np.sin(angles)])
    projections = X @ directions.T  # (n, n_angles)
    order = np.argsort(projections, axis=0)
    labels = y[order]  # sorted labels per direction
    n = len(y)
    ones_before = np.vstack([np.zeros((1, n_angles)), np.cumsum(labels, axis=0)])
    zeros_before = np.arange(n + 1)[:, None] - ones_before
    ones_total = y.sum()
    # class 0 below the threshold and 1 above, or the reverse
    correct = zeros_before + (ones_total - ones_before)
    best = max(correct.max(), (n - correct).max())
    return best / n


def test_best_linear_accuracy_is_exact_on_small_problems():
    X, y = fc.datasets.xor()
    assert proof.best_linear_accuracy(X, y) == 0.75  # no line gets all four corners of XOR
    separable = np.array([[0.0, 0.0], [1.0, 0.2], [0.1, 1.0], [2.0, 2.1], [2.5, 1.7]])
    assert proof.best_linear_accuracy(separable, [0, 0, 0, 1, 1]) == 1.0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(9, 2))
        y = rng.integers(0, 2, 9)
        exact = proof.best_linear_accuracy(X, y)
        sampled = brute_force_best_line(X, y)
        assert sampled <= exact + 1e-12
        assert sampled == pytest.approx(exact)
    with pytest.raises(ValueError, match="2-D"):
        proof.best_linear_accuracy(np.zeros((4, 3)), [0, 1, 0, 1])


@pytest.mark.parametrize("dataset", ["xor", "circles"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_without_activations_no_better_than_a_straight_line(dataset, activation):
    result = proof.compare_with_linear(dataset, activation=activation, epochs=150, seed=0)
    assert result.nonlinear_accuracy >= 0.95
    assert result.best_linear_accuracy < 0.8
    assert result.identity_accuracy <= result.best_linear_accuracy + 1e-12
    assert result.logistic_accuracy <= result.best_linear_accuracy + 1e-12
    assert result.nonlinear_accuracy > result.best_linear_accuracy + 0.15
    assert result.collapsed_difference < 1e-12


def test_report_has_the_three_parts():
    text = proof.report(format="text", empirical_check=False, color=False)
    assert "Substitute each layer into the next" in text
    assert "Numeric: collapse a network into one layer" in text
    assert "differ by at most" in text
    markdown = proof.report(format="markdown", empirical_check=False)
    assert "```math" in markdown and "## Why we need activation functions" in markdown
