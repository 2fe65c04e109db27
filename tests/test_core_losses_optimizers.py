"""Losses against closed forms; optimizers and schedules against their update formulas."""

import math

import numpy as np
import pytest

import formicary as fc
from formicary import losses, schedules


def test_mse_is_half_the_squared_error_averaged_over_samples():
    a = np.array([[0.2, 0.4], [1.0, -1.0]])
    y = np.array([[0.0, 1.0], [1.0, 1.0]])
    expected = (0.5 * (0.04 + 0.36) + 0.5 * (0.0 + 4.0)) / 2
    assert losses.mse.value(a, y) == pytest.approx(expected)
    np.testing.assert_allclose(losses.mse.gradient(a, y), a - y)


def test_binary_cross_entropy_closed_form():
    a = np.array([[0.9], [0.2]])
    y = np.array([[1.0], [0.0]])
    expected = -(math.log(0.9) + math.log(0.8)) / 2
    assert losses.binary_cross_entropy.value(a, y) == pytest.approx(expected)


def test_categorical_cross_entropy_closed_form():
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y = np.array([[1, 0, 0], [0, 0, 1.0]])
    assert losses.categorical_cross_entropy.value(a, y) == pytest.approx(
        -(math.log(0.7) + math.log(0.8)) / 2
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logs_are_clipped_so_confident_mistakes_stay_finite(dtype):
    a = np.array([[0.0], [1.0]], dtype=dtype)
    y = np.array([[1.0], [0.0]], dtype=dtype)
    value = losses.binary_cross_entropy.value(a, y)
    assert math.isfinite(value) and value > 10
    ce = losses.categorical_cross_entropy.value(np.array([[1.0, 0.0]], dtype), np.array([[0, 1.0]]))
    assert math.isfinite(ce) and ce > 10
    assert np.isfinite(losses.binary_cross_entropy.gradient(a, y)).all()


def test_fused_output_delta_equals_the_chain_rule():
    """delta = a - y for sigmoid+BCE and softmax+CE, equal to de/da * sigma'(z)."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 3))
    y = np.eye(3)[rng.integers(0, 3, 5)]
    for act, loss in [
        (fc.activations.sigmoid, losses.binary_cross_entropy),
        (fc.activations.softmax, losses.categorical_cross_entropy),
        (fc.activations.identity, losses.mse),
    ]:
        a = act(z)
        chain = act.backprop(loss.gradient(a, y), z, a)
        np.testing.assert_allclose(loss.fused_delta(a, y), chain, rtol=1e-9, atol=1e-12)
        assert act.name in loss.fused_with


def test_loss_lookup():
    assert losses.get("bce") is losses.binary_cross_entropy
    assert losses.get("cross_entropy") is losses.categorical_cross_entropy
    with pytest.raises(ValueError, match="Valid names"):
        losses.get("hinge")


def _one_param_steps(optimizer, grads):
    w = np.array([[1.0, -2.0]])
    history = []
    for g in grads:
        optimizer.step([w], [np.array([g])])
        history.append(w.copy())
    return history


def test_sgd_momentum_and_nesterov_follow_their_formulas():
    grads = [[0.5, -1.0], [0.25, 0.5], [-1.0, 0.0]]
    eta, mu = 0.1, 0.9
    # plain: w = w - eta g
    w = np.array([1.0, -2.0])
    for got, g in zip(_one_param_steps(fc.SGD(eta), grads), grads, strict=True):
        w = w - eta * np.array(g)
        np.testing.assert_allclose(got[0], w)
    # momentum: v = mu v - eta g; w = w + v
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    for got, g in zip(_one_param_steps(fc.SGD(eta, momentum=mu), grads), grads, strict=True):
        v = mu * v - eta * np.array(g)
        w = w + v
        np.testing.assert_allclose(got[0], w)
    # nesterov: v = mu v - eta g; w = w + mu v - eta g
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    steps = _one_param_steps(fc.SGD(eta, momentum=mu, nesterov=True), grads)
    for got, g in zip(steps, grads, strict=True):
        g = np.array(g)
        v = mu * v - eta * g
        w = w + mu * v - eta * g
        np.testing.assert_allclose(got[0], w)


def test_adam_follows_kingma_and_ba():
    grads = [[0.5, -1.0], [0.25, 0.5], [-1.0, 0.0]]
    eta, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t, (got, g) in enumerate(zip(_one_param_steps(fc.Adam(eta), grads), grads, strict=True)):
        g = np.array(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = eta * math.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
        w = w - step * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(got[0], w, rtol=1e-12)


def test_rmsprop_follows_its_formula():
    grads = [[0.5, -1.0], [0.25, 0.5]]
    eta, rho, eps = 0.01, 0.9, 1e-8
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    for got, g in zip(_one_param_steps(fc.RMSprop(eta), grads), grads, strict=True):
        g = np.array(g)
        v = rho * v + (1 - rho) * g * g
        w = w - eta * g / (np.sqrt(v) + eps)
        np.testing.assert_allclose(got[0], w, rtol=1e-12)


def test_weight_decay_applies_to_weights_not_biases():
    weights, bias = np.array([[2.0]]), np.array([2.0])
    fc.SGD(0.1, weight_decay=0.5).step([weights, bias], [np.zeros((1, 1)), np.zeros(1)])
    assert weights[0, 0] == pytest.approx(2.0 - 0.1 * 0.5 * 2.0)
    assert bias[0] == 2.0


def test_schedules():
    assert schedules.Constant()(0.1, 50) == 0.1
    assert schedules.StepDecay(step_size=10, gamma=0.5)(0.1, 25) == pytest.approx(0.025)
    assert schedules.ExponentialDecay(gamma=0.9)(1.0, 3) == pytest.approx(0.729)
    assert schedules.InverseScaling(power_t=0.5)(1.0, 3) == pytest.approx(0.5)
    opt = fc.SGD(0.1, schedule="step")
    opt.set_epoch(10)
    assert opt.learning_rate == pytest.approx(0.05)
    with pytest.raises(ValueError, match="Valid names"):
        schedules.get("cosine_warm")


def test_schedule_is_applied_each_epoch_of_training():
    X, y = fc.datasets.xor()
    net = fc.MLP([2, 2, 1], seed=0)
    history = net.fit(
        X, y, optimizer=fc.SGD(1.0, schedule=schedules.ExponentialDecay(0.5)), epochs=4
    )
    np.testing.assert_allclose(history.learning_rate, [1.0, 0.5, 0.25, 0.125])


def test_unknown_optimizer_and_bad_hyperparameters():
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        fc.optimizers.get("adma")
    for make in (
        lambda: fc.SGD(-1),
        lambda: fc.SGD(0.1, momentum=1.5),
        lambda: fc.SGD(0.1, nesterov=True),
        lambda: fc.Adam(beta_1=1.0),
        lambda: fc.Adam(epsilon=0),
        lambda: fc.SGD(0.1, weight_decay=-1),
        lambda: fc.SGD(float("nan")),
    ):
        with pytest.raises(ValueError):
            make()
