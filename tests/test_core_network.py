"""Network structure: construction, summaries, parameter access, datasets."""

import numpy as np
import pytest

import formicary as fc


def test_the_public_surface_of_the_issue():
    X, y = fc.datasets.xor()
    net = fc.MLP([3, 2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    assert net.layers[0].weights.shape == (2, 3)
    assert net.layers[0].bias.shape == (2,)
    X3 = np.hstack([X, np.ones((4, 1))])
    trace = net.forward(X3, trace=True)
    assert trace.a[-1] is trace.output
    grads = net.backward(trace, y, loss="mse")
    assert [g.shape for g in grads.weights] == [(2, 3), (1, 2)]
    assert [d.shape for d in grads.delta] == [(4, 2), (4, 1)]
    assert fc.gradient_check(net, X3, y, loss="mse") < 1e-6
    assert str(fc.activations.get("relu").range) == "[0, inf)"


def test_per_layer_activations_and_layer_lists():
    net = fc.MLP([4, 8, 6, 2], activation=["relu", "tanh"], output_activation="softmax", seed=0)
    assert [a.name for a in net.activations] == ["relu", "tanh", "softmax"]
    net2 = fc.MLP([fc.Dense(4, 3, "gelu", seed=1), fc.Dense(3, 1, fc.activations.identity)])
    assert net2.sizes == [4, 3, 1]
    every = fc.MLP([2, 3, 1], activation=["tanh", "sigmoid"])  # one per layer incl. output
    assert every.output_activation.name == "sigmoid"


def test_initialisation_follows_the_activation():
    relu = fc.MLP([400, 300, 1], activation="relu", seed=0).layers[0].weights
    sig = fc.MLP([400, 300, 1], activation="sigmoid", seed=0).layers[0].weights
    assert relu.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)  # He
    assert np.abs(sig).max() <= np.sqrt(6 / 700)  # Glorot uniform
    assert sig.std() == pytest.approx(np.sqrt(6 / 700) / np.sqrt(3), rel=0.05)


def test_seeds_make_initialisation_reproducible():
    a = fc.MLP([3, 4, 1], seed=42).get_parameters()
    b = fc.MLP([3, 4, 1], seed=42).get_parameters()
    c = fc.MLP([3, 4, 1], seed=43).get_parameters()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_summary_and_reprs():
    net = fc.MLP([3, 2, 1], activation="sigmoid", output_activation="sigmoid")
    text = net.summary()
    assert "2x3" in text and "1x2" in text and "total parameters: 11" in text
    assert "sigmoid" in repr(net)
    html = net._repr_html_()
    assert "<table>" in html and "2&times;3" in html


def test_lecture_indices_read_the_weight_matrix():
    net = fc.MLP([3, 2, 1], seed=0)
    W = net.layers[0].weights
    for j in range(2):
        for k in range(3):
            assert net.w(1, j + 1, k + 1) == W[j, k]
    assert net.b(1, 2) == net.layers[0].bias[1]


def test_set_and_get_parameters_copy_values():
    net = fc.MLP([2, 2, 1], seed=0)
    snapshot = net.get_parameters()
    net.layers[0].weights += 1
    net.set_parameters(snapshot)
    np.testing.assert_array_equal(net.layers[0].weights, snapshot[0])
    clone = net.copy()
    clone.layers[0].weights += 1
    assert not np.array_equal(clone.layers[0].weights, net.layers[0].weights)


def test_predict_in_chunks_equals_forward():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 5))
    net = fc.MLP([5, 7, 3], activation="gelu", output_activation="softmax", seed=0)
    np.testing.assert_allclose(net.predict(X, batch_size=64), net.forward(X), rtol=1e-13)


def test_forward_works_on_lists_and_dataframe_like_objects():
    net = fc.MLP([2, 2, 1], seed=0)

    class Frame:
        def __init__(self, values):
            self.values = np.asarray(values)

        def to_numpy(self):
            return self.values

    np.testing.assert_array_equal(net.predict([[1, 2]]), net.predict(Frame([[1.0, 2.0]])))


@pytest.mark.parametrize("name", sorted(fc.datasets.GENERATED))
def test_generated_datasets_are_seeded_and_well_formed(name):
    make = fc.datasets.GENERATED[name]
    X1, y1 = make(n_samples=50, seed=3)
    X2, y2 = make(n_samples=50, seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert X1.shape == (50, 2) and y1.shape == (50,)
    assert np.isfinite(X1).all()
    if name != "plane":
        assert set(np.unique(y1)) >= {0, 1}
    with pytest.raises(ValueError, match="n_samples"):
        make(n_samples=0)
