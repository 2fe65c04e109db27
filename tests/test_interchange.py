"""Weights to and from PyTorch and scikit-learn: every round trip gives the same network."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import formicary as fc
from formicary.interchange import (
    from_sklearn,
    from_torch,
    to_sklearn,
    to_torch,
    to_torch_state_dict,
)

HIDDEN = ["sigmoid", "relu", "tanh", "identity", "leaky_relu", "softplus", "gelu"]


def activation(name):
    return fc.activations.leaky_relu(0.3) if name == "leaky_relu" else name


def same_network(a: fc.MLP, b: fc.MLP) -> None:
    assert a.sizes == b.sizes and a.dtype == b.dtype
    assert [x.activation.spec for x in a.layers] == [x.activation.spec for x in b.layers]
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


def inputs(n=200, width=3, dtype=np.float64, seed=0):
    return (np.random.default_rng(seed).standard_normal((n, width)) * 2).astype(dtype)


# --------------------------------------------------------------------------- PyTorch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("output", ["identity", "sigmoid", "softmax"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_torch_round_trip_for_every_activation(torch, hidden, output):
    net = fc.MLP([3, 6, 5, 4], activation(hidden), output, seed=1, dtype="float32")
    module = to_torch(net)
    assert isinstance(module[0], torch.nn.Linear)
    # nn.Linear.weight has the lecture's (n_out, n_in) layout: copied as is, not transposed
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), net.layers[0].weights)
    X = inputs(dtype=np.float32)
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(got, net.predict(X), rtol=1e-5, atol=1e-6)
    same_network(from_torch(module), net)
    hidden_names = [hidden] * 2 if hidden != "leaky_relu" else [activation(hidden)] * 2
    rebuilt = from_torch(
        to_torch_state_dict(net), activation=hidden_names, output_activation=output
    )
    same_network(rebuilt, net)


def test_a_model_built_in_pytorch_predicts_the_same_in_formicary(torch):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 8, dtype=torch.float64),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(8, 5, bias=False, dtype=torch.float64),
        torch.nn.Tanh(),
        torch.nn.Linear(5, 3, dtype=torch.float64),
        torch.nn.Softmax(dim=1),
    ).eval()
    net = from_torch(model)
    assert net.sizes == [3, 8, 5, 3] and net.dtype == np.float64
    assert [a.name for a in net.activations] == ["relu", "tanh", "softmax"]
    assert not net.layers[1].bias.any()
    X = inputs()
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12, atol=1e-14)
    # and a state_dict saved by torch with a module prefix
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    again = from_torch(state, activation=["relu", "tanh"], output_activation="softmax")
    np.testing.assert_allclose(again.predict(X), expected, rtol=1e-12, atol=1e-14)


def test_training_continues_in_pytorch_from_formicary_weights(torch):
    X, y = fc.datasets.moons(300, noise=0.1, seed=0)
    net = fc.MLP([2, 16, 1], "tanh", "sigmoid", seed=0)
    net.fit(X, y, epochs=50, optimizer="adam", learning_rate=0.01, seed=0)
    module = to_torch(net)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.0)  # a zero step changes nothing
    loss = torch.nn.functional.binary_cross_entropy(
        module(torch.from_numpy(X)), torch.from_numpy(y.astype(np.float64))[:, None]
    )
    loss.backward()
    optimizer.step()
    assert loss.item() == pytest.approx(net.evaluate(X, y)["loss"], rel=1e-10)
    # PyTorch's autograd agrees with Formicary's backpropagation
    grads = net.backward(net.forward(X, trace=True), y, "binary_cross_entropy")
    np.testing.assert_allclose(module[0].weight.grad.numpy(), grads.weights[0], rtol=1e-8)


def test_unsupported_pytorch_models_are_refused(torch):
    nn = torch.nn
    with pytest.raises(ValueError, match="exact \\(erf\\) GELU"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="module 1 is ELU"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.ELU(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="follows another activation"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Tanh(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="before any Linear"):
        from_torch(nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="layer 1 uses softmax"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="layer 1 has 3 outputs but layer 2 takes 4"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 1)))
    with pytest.raises(TypeError, match="nn.Sequential or its state_dict"):
        from_torch(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="holds no activations"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)).state_dict())
    with pytest.raises(ValueError, match="give 1 hidden activation"):
        from_torch(
            nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)).state_dict(), activation=["relu"] * 2
        )
    fc.activations.register("cube_interchange", lambda z: z**3, lambda z: 3 * z**2)
    try:
        with pytest.raises(ValueError, match="no PyTorch module counterpart"):
            to_torch(fc.MLP([2, 3, 1], "cube_interchange", seed=0))
    finally:
        fc.activations.unregister("cube_interchange")


# --------------------------------------------------------------------------- scikit-learn


@pytest.fixture(scope="module")
def sk():
    return pytest.importorskip("sklearn.neural_network")


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations: ConvergenceWarning is expected
        return estimator.fit(X, y)


@pytest.mark.parametrize("act", ["logistic", "tanh", "relu", "identity"])
def test_sklearn_classifiers_import_with_their_exact_predictions(sk, act):
    X = inputs(150, 4)
    for y in (
        (X[:, 0] > 0).astype(int),  # binary: one logistic output
        np.digitize(X[:, 1], [-1, 0, 1]),  # 4 classes: softmax
        np.array(["cat", "dog", "eel"])[np.digitize(X[:, 2], [-0.5, 0.5])],  # string labels
        np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0]).astype(int),  # multilabel
    ):
        est = fitted(
            sk.MLPClassifier(
                hidden_layer_sizes=(7, 5), activation=act, max_iter=30, random_state=0
            ),
            X,
            y,
        )
        net = from_sklearn(est)
        # scikit-learn keeps coefs_ as (n_in, n_out), the transpose of W^(l)
        np.testing.assert_array_equal(net.layers[0].weights, est.coefs_[0].T)
        proba = est.predict_proba(X)
        expected = proba[:, 1:] if proba.shape[1] == 2 and y.ndim == 1 else proba
        np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12, atol=1e-15)
        assert net.metadata["classes"] == est.classes_.tolist()
        back = to_sklearn(net)
        for a, b in zip(back.coefs_ + back.intercepts_, est.coefs_ + est.intercepts_, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(back.predict(X), est.predict(X))
        np.testing.assert_allclose(back.predict_proba(X), proba, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_sklearn_regressors_round_trip(sk, n_targets):
    X = inputs(120, 3)
    y = X @ np.arange(1, 3 * n_targets + 1).reshape(3, n_targets)
    y = y[:, 0] if n_targets == 1 else y
    est = fitted(
        sk.MLPRegressor(hidden_layer_sizes=(6,), activation="tanh", max_iter=40, random_state=0),
        X,
        y,
    )
    net = from_sklearn(est)
    assert net.output_activation.name == "identity"
    np.testing.assert_allclose(net.predict(X).reshape(y.shape), est.predict(X), rtol=1e-12)
    back = to_sklearn(net)
    assert isinstance(back, sk.MLPRegressor)
    np.testing.assert_allclose(back.predict(X), est.predict(X), rtol=1e-12)


def test_formicary_networks_export_to_sklearn(sk):
    X, y = fc.datasets.gaussians(300, seed=0)
    X32 = X.astype(np.float32)
    net = fc.MLP([2, 8, int(y.max()) + 1], "relu", "softmax", seed=0, dtype="float32")
    net.fit(X32, y, epochs=20, optimizer="adam", learning_rate=0.01, seed=0)
    est = to_sklearn(net, classes=["a", "b", "c"][: net.n_outputs])
    assert isinstance(est, sk.MLPClassifier) and est.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(est.predict_proba(X32), net.predict(X32), rtol=1e-5, atol=1e-6)
    assert (est.predict(X32) == np.array(["a", "b", "c"])[net.classify(X32)]).all()
    # a two-neuron softmax becomes scikit-learn's single logistic neuron, w = w_1 - w_0
    two = fc.MLP([2, 5, 2], "tanh", "softmax", seed=3)
    est = to_sklearn(two)
    np.testing.assert_allclose(est.predict_proba(X), two.predict(X), rtol=1e-10, atol=1e-12)
    # the exported estimator keeps learning with partial_fit
    est.partial_fit(X, (y > 0).astype(int))


def test_networks_sklearn_cannot_hold_are_refused(sk):
    with pytest.raises(ValueError, match="no 'gelu' activation"):
        to_sklearn(fc.MLP([2, 3, 1], "gelu", "sigmoid", seed=0))
    with pytest.raises(ValueError, match="mixes relu, tanh"):
        to_sklearn(fc.MLP([2, 3, 3, 1], ["relu", "tanh"], seed=0))
    with pytest.raises(ValueError, match="no 'softplus' output"):
        to_sklearn(fc.MLP([2, 3, 1], "relu", "softplus", seed=0))
    with pytest.raises(ValueError, match="has 3 classes but classes"):
        to_sklearn(fc.MLP([2, 3, 3], "relu", "softmax", seed=0), classes=[1, 2])
    with pytest.raises(ValueError, match="not fitted yet"):
        from_sklearn(sk.MLPClassifier())
    with pytest.raises(TypeError, match="fitted MLPClassifier or MLPRegressor"):
        from_sklearn(object())
