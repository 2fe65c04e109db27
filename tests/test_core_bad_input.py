"""Every bad input gets one clear ValueError/TypeError that says what is wrong and how to fix it."""

import numpy as np
import pytest

import formicary as fc


@pytest.fixture
def net():
    return fc.MLP([3, 2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)


def test_wrong_number_of_features_names_the_layer(net):
    with pytest.raises(ValueError, match=r"4 feature.*layer 1 expects 3.*W\^\(1\)"):
        net.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="layer 1 expects 3"):
        net.fit(np.ones((2, 4)), [0, 1])


def test_one_dimensional_input_says_how_to_reshape(net):
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        net.predict(np.ones(3))


def test_nan_and_inf_in_inputs_and_targets(net):
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value.*NaN.*row 2, column 1"):
        net.fit(X, [0, 1, 0, 1])
    X[2, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        net.predict(X)
    with pytest.raises(ValueError, match="y contains"):
        net.fit(np.ones((4, 3)), [0, np.nan, 0, 1], loss="mse")


def test_empty_data(net):
    with pytest.raises(ValueError, match="empty"):
        net.fit(np.empty((0, 3)), [])
    with pytest.raises(ValueError, match="empty"):
        net.predict(np.empty((0, 3)))


def test_target_shape_and_count_mismatch(net):
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        net.fit(np.ones((4, 3)), [0, 1, 0])
    with pytest.raises(ValueError, match="2 column.*1 neuron"):
        net.fit(np.ones((4, 3)), np.ones((4, 2)))
    multi = fc.MLP([3, 4, 3], output_activation="softmax")
    with pytest.raises(ValueError, match=r"integers in 0\.\.2"):
        multi.fit(np.ones((2, 3)), [0, 5])


def test_cross_entropy_targets_outside_zero_one(net):
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        net.fit(np.ones((2, 3)), [0, 2], loss="binary_cross_entropy")


def test_non_numeric_data():
    net = fc.MLP([2, 1])
    with pytest.raises(TypeError, match="non-numeric"):
        net.predict(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="non-numeric"):
        net.fit(np.ones((2, 2)), np.array(["cat", "dog"]))
    with pytest.raises(TypeError, match="non-numeric"):
        net.predict(np.array([[object(), 1]], dtype=object))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="Valid names: .*relu.*sigmoid"):
        fc.MLP([2, 1], activation="sigmoidd")
    with pytest.raises(ValueError, match="Valid names: .*binary_cross_entropy"):
        fc.MLP([2, 1]).fit(np.ones((2, 2)), [0, 1], loss="cross_entropy_loss")
    with pytest.raises(ValueError, match="Valid names: adam, rmsprop, sgd"):
        fc.MLP([2, 1]).fit(np.ones((2, 2)), [0, 1], optimizer="lbfgs")


def test_bad_architectures():
    with pytest.raises(ValueError, match="input size and an output size"):
        fc.MLP([3])
    with pytest.raises(ValueError, match="positive integers"):
        fc.MLP([3, 0, 1])
    with pytest.raises(ValueError, match="one per hidden layer"):
        fc.MLP([3, 4, 4, 1], activation=["relu"])
    with pytest.raises(ValueError, match="expects 5 inputs"):
        fc.MLP([fc.Dense(3, 4), fc.Dense(5, 1)])
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        fc.Dense(3, 2, weights=np.ones((3, 2)))


def test_bad_training_settings(net):
    X, y = np.ones((4, 3)), [0, 1, 0, 1]
    for kwargs, pattern in [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"validation_split": 1.5}, "validation_split"),
        ({"validation_split": 0.5, "validation_data": (X, y)}, "not both"),
        ({"validation_data": X}, "pair"),
        ({"sample_weight": [1, 1]}, "sample_weight"),
        ({"sample_weight": [-1, 1, 1, 1]}, ">= 0"),
        ({"metric": "f1"}, "unknown metric"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            net.fit(X, y, **kwargs)


def test_lecture_indices_are_checked(net):
    with pytest.raises(IndexError, match="layers are 1..2"):
        net.w(3, 1, 1)
    with pytest.raises(IndexError, match="1 <= k <= 3"):
        net.w(1, 1, 4)


def test_backward_needs_a_trace(net):
    with pytest.raises(TypeError, match="trace=True"):
        net.backward(np.ones((1, 3)), [1])
