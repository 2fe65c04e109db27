"""Activations: values, derivatives, domains and ranges, stability, registry."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import formicary as fc
from formicary import activations

ELEMENTWISE = ["sigmoid", "relu", "tanh", "identity", "leaky_relu", "softplus", "gelu"]


def reference(name: str, z: float) -> float:
    """Textbook definitions with Python's math module."""
    if name == "sigmoid":
        return 1 / (1 + math.exp(-z)) if z > -700 else 0.0
    if name == "relu":
        return max(z, 0.0)
    if name == "tanh":
        return math.tanh(z)
    if name == "identity":
        return z
    if name == "leaky_relu":
        return z if z >= 0 else 0.01 * z
    if name == "softplus":
        return math.log1p(math.exp(z)) if z < 30 else z + math.log1p(math.exp(-z))
    if name == "gelu":
        return 0.5 * z * (1 + math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    raise AssertionError(name)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_values_match_the_textbook_definitions(name):
    act = activations.get(name)
    z = np.linspace(-6, 6, 49)
    expected = [reference(name, float(v)) for v in z]
    np.testing.assert_allclose(act(z), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_differences(name):
    act = activations.get(name)
    z = np.linspace(-4, 4, 41) + 0.013  # avoid the kink of ReLU-like units at exactly 0
    h = 1e-6
    numeric = (act(z + h) - act(z - h)) / (2 * h)
    np.testing.assert_allclose(act.gradient(z, act(z)), numeric, rtol=1e-6, atol=1e-8)


def test_the_lecture_domains_and_ranges():
    assert str(fc.activations.get("sigmoid").domain) == "(-inf, inf)"
    assert str(fc.activations.get("sigmoid").range) == "(0, 1)"
    assert str(fc.activations.get("relu").domain) == "(-inf, inf)"
    assert fc.activations.get("relu").range == "[0, inf)"
    assert str(fc.activations.get("tanh").range) == "(-1, 1)"
    assert str(fc.activations.get("softplus").range) == "(0, inf)"
    assert str(fc.activations.get("identity").range) == "(-inf, inf)"


def test_sigmoid_limits_as_in_the_lecture():
    # z -> inf gives 1, z -> -inf gives 0, sigma(0) = 1/2
    sig = activations.sigmoid
    assert sig(np.array([0.0]))[0] == 0.5
    assert sig(np.array([50.0]))[0] == pytest.approx(1.0)
    assert sig(np.array([-50.0]))[0] == pytest.approx(0.0, abs=1e-20)
    assert sig(np.array([-50.0]))[0] > 0  # stays in (0, 1) where float64 can say so


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_for_huge_inputs(dtype):
    z = np.array([-1e4, -800.0, -1.0, 0.0, 1.0, 800.0, 1e4], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        sig = activations.sigmoid(z)
        soft = activations.softmax(z.reshape(1, -1))
        plus = activations.softplus(z)
    for out in (sig, soft, plus):
        assert out.dtype == dtype
        assert np.isfinite(out).all()
    np.testing.assert_allclose(sig[[0, -1]], [0.0, 1.0])
    assert soft.sum() == pytest.approx(1.0)
    assert soft[0, -1] == pytest.approx(1.0)  # e^(1e4) dominates every other entry


@given(arrays(np.float64, (3, 4), elements=st.floats(-1e4, 1e4)))
def test_softmax_is_a_probability_distribution_per_row(z):
    a = activations.softmax(z)
    assert np.isfinite(a).all()
    assert ((a >= 0) & (a <= 1)).all()
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-12)
    # shifting every logit of a row by the same amount changes nothing
    np.testing.assert_allclose(activations.softmax(z + 7.0), a, atol=1e-12)


@given(arrays(np.float64, 20, elements=st.floats(-1e4, 1e4)))
def test_outputs_stay_in_the_declared_closed_range(z):
    for name in ["sigmoid", "relu", "tanh", "softplus"]:
        act = activations.get(name)
        out = act(z)
        lo, hi = act.range.low, act.range.high
        assert ((out >= lo) & (out <= hi)).all(), name


def test_softmax_backprop_is_the_jacobian_vector_product():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1, 4))
    a = activations.softmax(z)
    g = rng.normal(size=(1, 4))
    jacobian = np.diag(a[0]) - np.outer(a[0], a[0])  # da_i/dz_j = a_i (delta_ij - a_j)
    np.testing.assert_allclose(activations.softmax.backprop(g, z, a)[0], g[0] @ jacobian)


def test_leaky_relu_slope_is_a_parameter():
    act = activations.get("leaky_relu", slope=0.2)
    np.testing.assert_allclose(act(np.array([-1.0, 2.0])), [-0.2, 2.0])
    assert act.params == {"slope": 0.2}
    assert activations.get(act.spec)(np.array([-1.0]))[0] == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="slope"):
        activations.leaky_relu(slope=1.5)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="relu") as info:
        activations.get("relux")
    assert "Did you mean 'relu'" in str(info.value)
    assert "sigmoid" in str(info.value)
    with pytest.raises(TypeError):
        activations.get(3)


def test_register_a_custom_activation_and_use_it_everywhere(tmp_path):
    swish = activations.register(
        "swish",
        lambda z: z / (1 + np.exp(-z)),
        lambda z: (1 + np.exp(-z) + z * np.exp(-z)) / (1 + np.exp(-z)) ** 2,
        range=(-0.28, math.inf),
        init="he",
    )
    try:
        assert "swish" in activations.available()
        assert activations.get("swish") is swish
        net = fc.MLP([2, 3, 1], activation="swish", seed=0)
        X, y = fc.datasets.xor()
        net.fit(X, y, epochs=3, batch_size=2, seed=0)
        net.save(tmp_path / "swish.fcy")
        loaded = fc.load(tmp_path / "swish.fcy")
        np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
        with pytest.raises(ValueError, match="already registered"):
            activations.register("swish", np.tanh, np.tanh)
        with pytest.raises(ValueError, match="built-in"):
            activations.register("relu", np.tanh, np.tanh)
    finally:
        activations.unregister("swish")
    with pytest.raises(ValueError, match="not registered"):
        fc.load(tmp_path / "swish.fcy")


def test_softmax_is_refused_as_a_hidden_activation():
    with pytest.raises(ValueError, match="output"):
        fc.MLP([2, 3, 2], activation="softmax")
