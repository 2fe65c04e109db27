"""The training fast path (``MLP.train_step``, ``fit``) against a plain reference.

The reference is written here, independently of the library: the lecture's
equations for ONE sample at a time, with column vectors,

    z^(l) = W^(l) a^(l-1) + b^(l),  a^(l) = sigma(z^(l)),
    delta^(L) = J_sigma(z^(L))^T de/da^(L),  delta^(l) = sigma'(z^(l)) * (W^(l+1)^T delta^(l+1)),
    de/dW^(l) = delta^(l) a^(l-1)^T,  de/db^(l) = delta^(l),

averaged over the batch in a Python loop, and a textbook Adam (Kingma & Ba).
The fast path (preallocated buffers, sigma' computed in place, 1/N folded into
the output delta, all parameters in one vector, chunked optimizer) must give
the same gradients and the same training trajectory.
"""

import copy
import math

import numpy as np
import pytest

import formicary as fc
from formicary.optimizers import Optimizer

# --------------------------------------------------------------------------- reference maths


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softplus(z):
    return np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)


# name -> (f(z), f'(z)) as plain formulas
REFERENCE = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "softplus": (_softplus, _sigmoid),
    "identity": (lambda z: z, np.ones_like),
}


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _output(name, z):
    return _softmax(z) if name == "softmax" else REFERENCE[name][0](z)


def _output_jacobian(name, z):
    """da_i/dz_j for one sample."""
    if name == "softmax":
        a = _softmax(z)
        return np.diag(a) - np.outer(a, a)
    return np.diag(REFERENCE[name][1](z))


def _loss_and_grad(loss, a, y):
    """Per-sample e and de/da, straight from the definitions."""
    if loss == "mse":
        return 0.5 * np.sum((a - y) ** 2), a - y
    if loss == "binary_cross_entropy":
        e = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
        return e, -(y / a) + (1 - y) / (1 - a)
    return -np.sum(y * np.log(a)), -y / a


def reference_gradients(weights, biases, hidden, output, loss, X, Y, sample_weight=None):
    """Mean loss and averaged (dW, db) by a per-sample loop in column-vector form."""
    n = X.shape[0]
    share = np.ones(n) / n if sample_weight is None else sample_weight / sample_weight.sum()
    grad_w = [np.zeros_like(w) for w in weights]
    grad_b = [np.zeros_like(b) for b in biases]
    total = 0.0
    acts = [*hidden, output]
    for i in range(n):
        a_list, z_list = [X[i]], []
        for w, b, name in zip(weights, biases, acts, strict=True):
            z = w @ a_list[-1] + b
            z_list.append(z)
            a_list.append(_output(name, z) if name == output and w is weights[-1] else None)
            if a_list[-1] is None:
                a_list[-1] = REFERENCE[name][0](z)
        e, de_da = _loss_and_grad(loss, a_list[-1], Y[i])
        total += share[i] * e
        delta = _output_jacobian(output, z_list[-1]).T @ de_da
        for l in range(len(weights) - 1, -1, -1):
            grad_w[l] += share[i] * np.outer(delta, a_list[l])
            grad_b[l] += share[i] * delta
            if l:
                delta = REFERENCE[acts[l - 1]][1](z_list[l - 1]) * (weights[l].T @ delta)
    return total, grad_w, grad_b


class Recorder(Optimizer):
    """Takes no step; keeps a copy of the gradients ``train_step`` hands over."""

    def __init__(self):
        super().__init__(learning_rate=1.0)
        self.seen = []

    def step(self, params, grads, decay=None):
        self.seen = [np.array(g, copy=True) for g in grads]


PAIRS = [
    ("mse", "identity"),
    ("binary_cross_entropy", "sigmoid"),
    ("categorical_cross_entropy", "softmax"),
    ("mse", "sigmoid"),  # not fused: the chain rule through sigma'
    ("binary_cross_entropy", "softmax"),  # not fused: through the softmax Jacobian
]


def _targets(loss, n, k, rng):
    if loss == "categorical_cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("hidden", list(REFERENCE))
@pytest.mark.parametrize(("loss", "output"), PAIRS)
def test_train_step_gradients_equal_the_per_sample_reference(hidden, loss, output):
    rng = np.random.default_rng(7)
    net = fc.MLP([4, 6, 5, 3], activation=[hidden, "tanh"], output_activation=output, seed=3)
    X = rng.normal(size=(9, 4))
    Y = _targets(loss, 9, 3, rng)
    weights = [layer.weights.copy() for layer in net.layers]
    biases = [layer.bias.copy() for layer in net.layers]
    recorder = Recorder()
    value, out = net.train_step(X, Y, fc.losses.get(loss), recorder)
    ref_loss, ref_w, ref_b = reference_gradients(
        weights, biases, [hidden, "tanh"], output, loss, X, Y
    )
    assert value == pytest.approx(ref_loss, rel=1e-12)
    expected = [g for pair in zip(ref_w, ref_b, strict=True) for g in pair]
    for got, want in zip(recorder.seen, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)
    # and the public, allocation-per-call path agrees with both
    grads = net.backward(net.forward(X, trace=True), Y, loss=loss)
    for got, want in zip(grads.flat(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(out, net.forward(X), rtol=1e-12)


def test_sample_weights_scale_each_sample_in_the_fast_path():
    rng = np.random.default_rng(1)
    net = fc.MLP([3, 5, 2], activation="sigmoid", output_activation="softmax", seed=0)
    X = rng.normal(size=(7, 3))
    Y = _targets("categorical_cross_entropy", 7, 2, rng)
    w = rng.uniform(0.1, 3.0, size=7)
    weights = [layer.weights.copy() for layer in net.layers]
    biases = [layer.bias.copy() for layer in net.layers]
    recorder = Recorder()
    value, _ = net.train_step(X, Y, fc.losses.categorical_cross_entropy, recorder, w)
    ref_loss, ref_w, ref_b = reference_gradients(
        weights, biases, ["sigmoid"], "softmax", "categorical_cross_entropy", X, Y, w
    )
    assert value == pytest.approx(ref_loss, rel=1e-12)
    expected = [g for pair in zip(ref_w, ref_b, strict=True) for g in pair]
    for got, want in zip(recorder.seen, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)


def test_batches_of_changing_size_reuse_the_buffers_correctly():
    """A big batch, then smaller ones (the last batch of an epoch), then big again."""
    rng = np.random.default_rng(2)
    net = fc.MLP([3, 8, 4, 1], activation="relu", output_activation="sigmoid", seed=1)
    loss = fc.losses.binary_cross_entropy
    for n in (16, 5, 1, 16, 11):
        X = rng.normal(size=(n, 3))
        Y = _targets(loss.name, n, 1, rng)
        weights = [layer.weights.copy() for layer in net.layers]
        biases = [layer.bias.copy() for layer in net.layers]
        recorder = Recorder()
        net.train_step(X, Y, loss, recorder)
        _, ref_w, ref_b = reference_gradients(
            weights, biases, ["relu", "relu"], "sigmoid", loss.name, X, Y
        )
        expected = [g for pair in zip(ref_w, ref_b, strict=True) for g in pair]
        for got, want in zip(recorder.seen, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)


def test_an_activation_whose_derivative_takes_no_out_argument_still_works():
    """User-built Activation objects may not accept ``out=``: the general path handles them."""
    cube = fc.Activation("cube", lambda z, out=None: np.power(z, 3, out=out), lambda z: 3 * z**2)
    net = fc.MLP([2, 3, 1], activation=cube, output_activation="identity", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    recorder = Recorder()
    net.train_step(X, Y, fc.losses.mse, recorder)
    grads = net.backward(net.forward(X, trace=True), Y, loss="mse")
    for got, want in zip(recorder.seen, grads.flat(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "tanh"])
def test_float32_stays_float32_and_agrees_with_float64(hidden):
    rng = np.random.default_rng(3)
    net64 = fc.MLP([5, 7, 3], activation=hidden, output_activation="softmax", seed=0)
    net32 = net64.copy().astype("float32")
    X = rng.normal(size=(12, 5))
    Y = _targets("categorical_cross_entropy", 12, 3, rng)
    r64, r32 = Recorder(), Recorder()
    net64.train_step(X, Y, fc.losses.categorical_cross_entropy, r64)
    _, out32 = net32.train_step(
        X.astype(np.float32), Y.astype(np.float32), fc.losses.categorical_cross_entropy, r32
    )
    assert out32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in r32.seen)
    assert all(p.dtype == np.float32 for p in net32.parameters())
    for g32, g64 in zip(r32.seen, r64.seen, strict=True):
        np.testing.assert_allclose(g32, g64, rtol=2e-3, atol=1e-5)


# --------------------------------------------------------------------------- optimizer


class ReferenceAdam:
    """Kingma & Ba's Adam in the paper's "more efficient" order (end of its section 2).

    ``alpha_t = alpha sqrt(1 - beta_2^t) / (1 - beta_1^t)``,
    ``theta -= alpha_t m_t / (sqrt(v_t) + epsilon)``: the form scikit-learn and
    Formicary use (epsilon is not bias-corrected).
    """

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.params = [p.copy() for p in params]
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0

    def step(self, grads):
        self.t += 1
        b1, b2, t = self.b1, self.b2, self.t
        alpha_t = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in enumerate(grads):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            self.params[i] = self.params[i] - alpha_t * self.m[i] / (np.sqrt(self.v[i]) + self.eps)
        return self.params


def reference_adam(params, grads_per_step, lr):
    adam = ReferenceAdam(params, lr)
    for grads in grads_per_step:
        adam.step(grads)
    return adam.params


def _views(vector, shapes):
    out, offset = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(vector[offset : offset + size].reshape(shape))
        offset += size
    return out


def test_adam_on_one_vector_in_chunks_matches_the_textbook():
    """Back-to-back parameters bigger than a chunk: the fused, chunked update is Adam."""
    rng = np.random.default_rng(4)
    shapes = [(300, 250), (300,), (7, 300), (7,)]  # 77k values: several 256 KiB chunks
    total = sum(math.prod(s) for s in shapes)
    start = rng.normal(size=total)
    grad_steps = [rng.normal(size=total) for _ in range(4)]
    vector = start.copy()
    params = _views(vector, shapes)
    adam = fc.Adam(0.01)
    for g in grad_steps:
        adam.step(params, _views(g, shapes))
    expected = reference_adam(_views(start, shapes), [_views(g, shapes) for g in grad_steps], 0.01)
    for got, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_per_array_and_whole_vector_steps_share_the_optimizer_state():
    """Mixing ``step(net.parameters(), grads.flat())`` with ``train_step`` keeps Adam's moments."""
    rng = np.random.default_rng(5)
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    start = rng.normal(size=sum(math.prod(s) for s in shapes))
    grad_steps = [rng.normal(size=start.size) for _ in range(6)]
    vector = start.copy()
    params = _views(vector, shapes)
    adam = fc.Adam(0.05)
    for t, g in enumerate(grad_steps):
        grads = _views(g, shapes)
        if t % 2:  # separate arrays, as the playground passes them
            grads = [a.copy() for a in grads]
        adam.step(params, grads)
    expected = reference_adam(_views(start, shapes), [_views(g, shapes) for g in grad_steps], 0.05)
    for got, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fc.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: fc.RMSprop(0.01, weight_decay=0.1),
        lambda: fc.Adam(0.01, weight_decay=0.05),
    ],
)
def test_whole_vector_and_per_array_updates_are_identical(make):
    """The same optimizer over back-to-back views and over separate arrays (weight decay on W only)."""
    rng = np.random.default_rng(6)
    shapes = [(200, 90), (200,), (3, 200), (3,)]
    start = rng.normal(size=sum(math.prod(s) for s in shapes))
    vector = start.copy()
    fused_params = _views(vector, shapes)
    separate = [p.copy() for p in _views(start, shapes)]
    fused_opt, separate_opt = make(), make()
    for _ in range(3):
        g = rng.normal(size=start.size)
        fused_opt.step(fused_params, _views(g, shapes))
        separate_opt.step(separate, [a.copy() for a in _views(g, shapes)])
    for got, want in zip(fused_params, separate, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- training


def reference_fit(net, X, Y, loss, hidden, output, lr, epochs, batch_size, seed):
    """Mini-batch Adam with the per-sample reference gradients and the same shuffling."""
    rng = np.random.default_rng(seed)
    params = [p.copy() for p in net.parameters()]
    adam = ReferenceAdam(params, lr)
    n = X.shape[0]
    losses = []
    for _ in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            value, gw, gb = reference_gradients(
                adam.params[0::2], adam.params[1::2], hidden, output, loss, X[index], Y[index]
            )
            total += value * len(index)
            adam.step([g for pair in zip(gw, gb, strict=True) for g in pair])
        losses.append(total / n)
    return losses, adam.params


def test_fit_follows_the_reference_training_run():
    """Same shuffling, same Adam: the epoch losses and final weights agree to rounding."""
    X, labels = fc.datasets.spirals(90, noise=0.1, seed=0)
    Y = np.eye(3)[labels % 3]
    net = fc.MLP([2, 12, 8, 3], activation=["tanh", "relu"], output_activation="softmax", seed=0)
    start = net.copy()
    history = net.fit(X, Y, optimizer=fc.Adam(0.01), epochs=5, batch_size=16, seed=11, metric=None)
    ref_losses, ref_params = reference_fit(
        start, X, Y, "categorical_cross_entropy", ["tanh", "relu"], "softmax",
        lr=0.01, epochs=5, batch_size=16, seed=11,
    )  # fmt: skip
    np.testing.assert_allclose(history.loss, ref_losses, rtol=1e-9)
    for got, want in zip(net.parameters(), ref_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-11)


# --------------------------------------------------------------------------- parameter layout


def test_parameters_stay_live_through_training():
    net = fc.MLP([3, 4, 1], activation="tanh", seed=0)
    params = net.parameters()
    before = [p.copy() for p in params]
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.zeros(20)
    net.fit(X, y, optimizer="adam", learning_rate=0.05, epochs=2, batch_size=5, seed=0)
    assert all(a is b for a, b in zip(params, net.parameters(), strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(params, before, strict=True))


def test_replacing_a_layers_weights_is_honoured_by_the_next_step():
    net = fc.MLP([2, 3, 1], activation="sigmoid", seed=0)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    net.train_step(X, Y, fc.losses.mse, fc.SGD(0.1))  # builds the workspace
    net.layers[0].weights = np.full((3, 2), 0.25)  # a new array, not a view
    recorder = Recorder()
    net.train_step(X, Y, fc.losses.mse, recorder)
    grads = net.backward(net.forward(X, trace=True), Y)
    for got, want in zip(recorder.seen, grads.flat(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert net.w(1, 1, 1) == 0.25
    net.train_step(X, Y, fc.losses.mse, fc.SGD(0.1))
    assert net.w(1, 1, 1) != 0.25  # the step reached the replaced weights


def test_copies_train_independently():
    net = fc.MLP([2, 3, 1], activation="relu", seed=0)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    net.train_step(X, Y, fc.losses.mse, fc.SGD(0.1))
    for clone in (net.copy(), copy.deepcopy(net)):
        before = net.get_parameters()
        clone.train_step(X, Y, fc.losses.mse, fc.SGD(0.1))
        for a, b in zip(before, net.parameters(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert any(
            not np.array_equal(a, b)
            for a, b in zip(clone.parameters(), net.parameters(), strict=True)
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_state_never_lingers_in_the_subnormal_range(dtype):
    """A moment that decays geometrically (gradient 0 after one step) is flushed to 0."""
    from formicary.optimizers import FLUSH_EVERY

    tiny = np.finfo(dtype).tiny
    w = np.ones(5, dtype=dtype)
    adam = fc.Adam(0.01, beta_1=0.5)
    adam.step([w], [np.full(5, 1e-3, dtype=dtype)])
    zero = np.zeros(5, dtype=dtype)
    steps = 1
    m = adam._state[0]["m"]
    # 0.5^t from 1e-3 enters the subnormal range after ~116 (float32) / ~1012 (float64) steps
    while not (0 < np.abs(m).max() < tiny):
        adam.step([w], [zero])
        steps += 1
        assert np.abs(m).max() > 0, "decayed straight to 0: pick a slower decay"
    while steps % FLUSH_EVERY:
        adam.step([w], [zero])
        steps += 1
    assert not np.any((m != 0) & (np.abs(m) < tiny))
    assert np.all(np.isfinite(w)) and w.dtype == dtype


@pytest.mark.parametrize("batch_size", [None, 7, 64, 1000])
def test_predict_equals_the_traced_forward_pass(batch_size):
    """predict's chunked, in-place, bias-tiling path against forward(trace=True)."""
    rng = np.random.default_rng(8)
    net = fc.MLP([3, 16, 5, 1], activation=["relu", "tanh"], output_activation="sigmoid", seed=2)
    for X in (rng.normal(size=(2560, 3)), np.asfortranarray(rng.normal(size=(2100, 3)))):
        expected = net.forward(X, trace=True).output
        np.testing.assert_allclose(net.predict(X, batch_size=batch_size), expected, rtol=1e-12)
        X32 = X.astype(np.float32)
        got32 = net.predict(X32, batch_size=batch_size)
        assert got32.dtype == np.float32
        np.testing.assert_allclose(got32, expected, rtol=1e-5, atol=1e-6)
