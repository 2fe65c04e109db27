"""The lecture's 3-2-1 sigmoid network worked by hand for one sample.

Every number here is computed from the lecture's per-neuron equations with
``math.exp`` and plain Python floats, independently of the engine's matrix code.
"""

import math

import numpy as np
import pytest

import formicary as fc

# W^(1) is 2x3, b^(1) is 2x1, W^(2) is 1x2, b^(2) is 1x1 (the lecture's shapes)
W1 = [[0.20, -0.40, 0.10], [0.50, 0.30, -0.20]]
B1 = [0.10, -0.30]
W2 = [[0.70, -0.60]]
B2 = [0.05]
X = [1.0, 2.0, 3.0]
Y = 1.0
ETA = 0.5


def sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def lecture_network() -> fc.MLP:
    return fc.MLP(
        [
            fc.Dense(3, 2, "sigmoid", weights=W1, bias=B1),
            fc.Dense(2, 1, "sigmoid", weights=W2, bias=B2),
        ]
    )


def by_hand():
    # layer 1: z_j^(1) = w_j1^(1) x_1 + w_j2^(1) x_2 + w_j3^(1) x_3 + b_j^(1)
    z1 = [sum(W1[j][k] * X[k] for k in range(3)) + B1[j] for j in range(2)]
    a1 = [sigma(z) for z in z1]
    # output layer: z_1^(2) = w_11^(2) a_1^(1) + w_12^(2) a_2^(1) + b_1^(2)
    z2 = W2[0][0] * a1[0] + W2[0][1] * a1[1] + B2[0]
    a2 = sigma(z2)
    # e = 1/2 (y_hat - y)^2, de/da = y_hat - y, sigma' = a (1 - a)
    delta2 = (a2 - Y) * a2 * (1 - a2)
    delta1 = [W2[0][j] * delta2 * a1[j] * (1 - a1[j]) for j in range(2)]
    dW2 = [[delta2 * a1[k] for k in range(2)]]
    dB2 = [delta2]
    dW1 = [[delta1[j] * X[k] for k in range(3)] for j in range(2)]
    dB1 = delta1
    return z1, a1, z2, a2, delta1, delta2, dW1, dB1, dW2, dB2


def test_shapes_are_the_lecture_shapes():
    net = lecture_network()
    assert net.layers[0].weights.shape == (2, 3)
    assert net.layers[0].bias.shape == (2,)
    assert net.layers[1].weights.shape == (1, 2)
    assert net.layers[1].bias.shape == (1,)
    assert net.w(1, 1, 2) == pytest.approx(-0.40)  # w_12^(1): input 2 -> neuron 1
    assert net.w(1, 2, 3) == pytest.approx(-0.20)
    assert net.b(2, 1) == pytest.approx(0.05)


def test_forward_matches_the_hand_computation():
    z1, a1, z2, a2, *_ = by_hand()
    trace = lecture_network().forward(np.array([X]), trace=True)
    np.testing.assert_allclose(trace.z[0][0], z1, rtol=1e-14)
    np.testing.assert_allclose(trace.a[0][0], a1, rtol=1e-14)
    assert trace.z[1][0, 0] == pytest.approx(z2, rel=1e-14)
    assert trace.output[0, 0] == pytest.approx(a2, rel=1e-14)
    # a few concrete values, worked on paper: z_1^(1) = 0.2 - 0.8 + 0.3 + 0.1 = -0.2
    assert z1[0] == pytest.approx(-0.2)
    assert z1[1] == pytest.approx(0.5 + 0.6 - 0.6 - 0.3)


def test_backward_matches_the_chain_rule_by_hand():
    *_, delta1, delta2, dW1, dB1, dW2, dB2 = by_hand()
    net = lecture_network()
    grads = net.backward(net.forward(np.array([X]), trace=True), [Y], loss="mse")
    np.testing.assert_allclose(grads.delta[1][0], [delta2], rtol=1e-12)
    np.testing.assert_allclose(grads.delta[0][0], delta1, rtol=1e-12)
    np.testing.assert_allclose(grads.weights[0], dW1, rtol=1e-12)
    np.testing.assert_allclose(grads.bias[0], dB1, rtol=1e-12)
    np.testing.assert_allclose(grads.weights[1], dW2, rtol=1e-12)
    np.testing.assert_allclose(grads.bias[1], dB2, rtol=1e-12)


def test_one_sgd_step_is_the_lecture_update_rule():
    *_, dW1, dB1, dW2, dB2 = by_hand()
    net = lecture_network()
    net.fit_batch([X], [Y], loss="mse", optimizer=fc.SGD(learning_rate=ETA))
    # w = w - eta de/dw, b = b - eta de/db
    expected_w1 = [[W1[j][k] - ETA * dW1[j][k] for k in range(3)] for j in range(2)]
    expected_b1 = [B1[j] - ETA * dB1[j] for j in range(2)]
    expected_w2 = [[W2[0][k] - ETA * dW2[0][k] for k in range(2)]]
    expected_b2 = [B2[0] - ETA * dB2[0]]
    np.testing.assert_allclose(net.layers[0].weights, expected_w1, rtol=1e-12)
    np.testing.assert_allclose(net.layers[0].bias, expected_b1, rtol=1e-12)
    np.testing.assert_allclose(net.layers[1].weights, expected_w2, rtol=1e-12)
    np.testing.assert_allclose(net.layers[1].bias, expected_b2, rtol=1e-12)


def test_the_step_reduces_the_error():
    net = lecture_network()
    before = net.loss([X], [Y], loss="mse")
    net.fit_batch([X], [Y], loss="mse", optimizer=fc.SGD(learning_rate=ETA))
    assert net.loss([X], [Y], loss="mse") < before


def test_zero_learning_rate_is_refused_and_no_update_means_no_change():
    with pytest.raises(ValueError, match="learning_rate"):
        fc.SGD(learning_rate=0.0)
    net = lecture_network()
    zero = [np.zeros_like(p) for p in net.parameters()]
    before = net.get_parameters()
    fc.SGD(learning_rate=1.0).step(net.parameters(), zero)  # de/dw = 0: w = w
    for old, new in zip(before, net.parameters(), strict=True):
        np.testing.assert_array_equal(old, new)
