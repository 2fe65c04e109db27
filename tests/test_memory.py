"""Training never copies the data set, per epoch or at all (measured with tracemalloc).

NumPy reports its array allocations to :mod:`tracemalloc`, so the peak of
memory allocated *during* ``fit`` (the data already exists) shows what
training itself needs: the targets in the network's dtype, the shuffled order,
the optimizer state, and one batch of activations. A copy of ``X`` would show
up as at least ``X.nbytes``. These are memory measurements, not timings.
"""

import tracemalloc

import numpy as np
import pytest

import formicary as fc

N, D, HIDDEN, CLASSES, BATCH = 20_000, 64, 32, 10, 128


def _allocated_during(action) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def _budget(net: fc.MLP, X: np.ndarray, epochs_independent: bool = True) -> int:
    """What the issue allows on top of the data: 4x the parameters, one batch, a constant.

    Plus what fit legitimately makes once per call: the targets as a float
    array (one-hot labels) and the shuffled order of the rows. Adam needs
    parameters + gradients + two moments (4x), and fit keeps one snapshot of the
    weights to undo a divergence (1x more).
    """
    item = X.dtype.itemsize
    params = net.parameter_count * item
    widths = sum(net.sizes)
    one_batch = 3 * BATCH * widths * item + BATCH * (D + CLASSES) * item
    targets = N * CLASSES * item
    order = N * np.dtype(np.intp).itemsize
    return 5 * params + one_batch + targets + order + 256 * 1024


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_allocates_far_less_than_the_data_and_nothing_per_epoch(dtype):
    rng = np.random.default_rng(0)
    X = rng.random((N, D)).astype(dtype)
    y = rng.integers(0, CLASSES, N)
    net = fc.MLP([D, HIDDEN, CLASSES], activation="relu", output_activation="softmax", seed=0)

    def train(epochs: int) -> None:
        net.fit(X, y, optimizer="adam", epochs=epochs, batch_size=BATCH, seed=0)

    train(1)  # first call converts the network to the data's dtype
    one_epoch = _allocated_during(lambda: train(1))
    six_epochs = _allocated_during(lambda: train(6))
    assert net.dtype == dtype
    assert one_epoch < _budget(net, X), (one_epoch, _budget(net, X))
    assert six_epochs < _budget(net, X)
    assert one_epoch < 0.4 * X.nbytes  # not a copy of X
    # no memory per epoch: six epochs peak where one does (the History's lists aside)
    assert six_epochs - one_epoch < 16 * 1024


def test_train_step_allocates_nothing_proportional_to_the_batch_after_the_first():
    """The fast path reuses its buffers: a step's peak is a small constant, not activations."""
    rng = np.random.default_rng(1)
    X = rng.random((512, D)).astype(np.float32)
    Y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, 512)]
    net = fc.MLP([D, 256, CLASSES], activation="sigmoid", output_activation="softmax", seed=0)
    net.astype("float32")
    loss, adam = fc.losses.categorical_cross_entropy, fc.Adam(0.001)
    net.train_step(X, Y, loss, adam)  # builds the workspace and Adam's state
    activations = X.shape[0] * 256 * 4
    step = _allocated_during(lambda: net.train_step(X, Y, loss, adam))
    assert step < activations / 4, step


def test_predict_keeps_one_chunk_of_activations():
    rng = np.random.default_rng(2)
    X = rng.random((20_000, D))
    net = fc.MLP([D, 256, CLASSES], activation="tanh", output_activation="softmax", seed=0)
    net.predict(X[:10])
    peak = _allocated_during(lambda: net.predict(X, batch_size=1000))
    result = X.shape[0] * CLASSES * 8
    one_chunk = 1000 * 256 * 8
    assert peak < result + one_chunk + 256 * 1024, peak
    all_rows_at_once = X.shape[0] * 256 * 8
    assert peak < all_rows_at_once / 8
