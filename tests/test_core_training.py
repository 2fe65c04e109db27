"""Training behaviour: XOR, validation, early stopping, callbacks, history, Ctrl-C, divergence."""

import numpy as np
import pytest

import formicary as fc


def xor_accuracy(net: fc.MLP) -> float:
    X, y = fc.datasets.xor()
    return float(np.mean(net.classify(X) == y))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_is_learnt_by_a_sigmoid_network(seed):
    X, y = fc.datasets.xor()
    net = fc.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid", seed=seed)
    history = net.fit(
        X, y, loss="binary_cross_entropy", optimizer=fc.SGD(learning_rate=0.5),
        epochs=2000, batch_size=4, seed=0,
    )  # fmt: skip
    assert xor_accuracy(net) == 1.0
    assert history.loss[-1] < 0.1 < history.loss[0]
    assert history.metric[-1] == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_cannot_be_learnt_without_activation_functions(seed):
    """Identity activations collapse the network to one linear layer: at most 3 of 4 right."""
    X, y = fc.datasets.xor()
    net = fc.MLP([2, 4, 1], activation="identity", output_activation="sigmoid", seed=seed)
    net.fit(X, y, optimizer=fc.SGD(learning_rate=0.5), epochs=2000, batch_size=4, seed=0)
    assert xor_accuracy(net) <= 0.75


def test_two_two_one_network_learns_xor_too():
    X, y = fc.datasets.xor()
    net = fc.MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid", seed=3)
    net.fit(X, y, optimizer=fc.SGD(learning_rate=1.0), epochs=4000, batch_size=4, seed=0)
    assert xor_accuracy(net) == 1.0


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_every_optimizer_reduces_the_loss_on_moons(optimizer):
    X, y = fc.datasets.moons(200, noise=0.1, seed=0)
    net = fc.MLP([2, 16, 1], activation="tanh", output_activation="sigmoid", seed=0)
    lr = {"sgd": 0.5, "adam": 0.01, "rmsprop": 0.01}[optimizer]
    history = net.fit(X, y, optimizer=optimizer, learning_rate=lr, epochs=60, seed=0)
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.metric[-1] > 0.85


def test_multiclass_softmax_with_integer_labels():
    X, y = fc.datasets.gaussians(300, noise=0.8, n_classes=3, seed=0)
    net = fc.MLP([2, 8, 3], activation="relu", output_activation="softmax", seed=0)
    history = net.fit(X, y, optimizer="adam", learning_rate=0.02, epochs=40, seed=0)
    assert history.loss_name == "categorical_cross_entropy"
    assert history.metric_name == "accuracy"
    assert np.mean(net.classify(X) == y) > 0.9


def test_regression_reports_r2():
    X, y = fc.datasets.plane(300, noise=0.05, seed=0)
    net = fc.MLP([2, 8, 1], activation="tanh", seed=0)
    history = net.fit(X, y, optimizer="adam", learning_rate=0.01, epochs=100, seed=0)
    assert history.metric_name == "r2"
    assert history.metric[-1] > 0.9
    assert net.evaluate(X, y)["r2"] > 0.9


def test_validation_split_and_data_fill_the_history():
    X, y = fc.datasets.moons(200, seed=1)
    net = fc.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", seed=0)
    history = net.fit(X, y, epochs=5, validation_split=0.25, seed=0)
    assert len(history.val_loss) == len(history.val_metric) == 5
    assert net.history is history
    X_val, y_val = fc.datasets.moons(50, seed=2)
    history = net.fit(X, y, epochs=3, validation_data=(X_val, y_val))
    assert history.val_loss[-1] == pytest.approx(net.evaluate(X_val, y_val)["loss"])
    assert "epoch" in history.table()


def test_training_is_reproducible_with_a_seed():
    X, y = fc.datasets.circles(100, seed=0)

    def run():
        net = fc.MLP([2, 6, 1], activation="relu", output_activation="sigmoid", seed=4)
        net.fit(X, y, optimizer="adam", epochs=5, validation_split=0.2, seed=9)
        return net.predict(X)

    np.testing.assert_array_equal(run(), run())


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = fc.datasets.moons(200, noise=0.3, seed=0)
    X_val, y_val = fc.datasets.moons(100, noise=0.3, seed=1)
    net = fc.MLP([2, 64, 64, 1], activation="relu", output_activation="sigmoid", seed=0)
    stopper = fc.EarlyStopping(patience=5)
    history = net.fit(
        X, y, optimizer="adam", learning_rate=0.05, epochs=500,
        validation_data=(X_val, y_val), early_stopping=stopper, seed=0,
    )  # fmt: skip
    assert history.stopped_early
    assert len(history) < 500
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    assert net.evaluate(X_val, y_val)["loss"] == pytest.approx(history.val_loss[best])


def test_early_stopping_on_a_val_monitor_needs_validation():
    X, y = fc.datasets.xor()
    with pytest.raises(ValueError, match="no validation set"):
        fc.MLP([2, 2, 1]).fit(X, y, early_stopping=fc.EarlyStopping(monitor="val_loss"))


def test_callbacks_see_every_epoch_and_batch_and_can_stop():
    X, y = fc.datasets.xor()
    seen = {"epochs": [], "batches": 0, "began": 0, "ended": 0}

    class Recorder(fc.Callback):
        def on_train_begin(self, net, logs):
            seen["began"] += 1

        def on_batch_end(self, net, batch, logs):
            seen["batches"] += 1
            assert logs["size"] == 2

        def on_train_end(self, net, logs):
            seen["ended"] += 1

    def stop_at_three(net, epoch, logs):
        seen["epochs"].append((epoch, logs["loss"]))
        if epoch == 2:
            net.stop_training = True

    net = fc.MLP([2, 2, 1], seed=0)
    history = net.fit(X, y, epochs=10, batch_size=2, callbacks=[Recorder(), stop_at_three])
    assert [e for e, _ in seen["epochs"]] == [0, 1, 2]
    assert [loss for _, loss in seen["epochs"]] == history.loss
    assert seen["batches"] == 6
    assert seen["began"] == seen["ended"] == 1


def test_ctrl_c_keeps_the_weights_learnt_so_far():
    X, y = fc.datasets.xor()

    class Interrupt(fc.Callback):
        def on_epoch_end(self, net, epoch, logs):
            if epoch == 4:
                self.weights = net.get_parameters()
                raise KeyboardInterrupt

    net = fc.MLP([2, 3, 1], seed=0)
    interrupt = Interrupt()
    history = net.fit(X, y, epochs=100, callbacks=[interrupt])
    assert history.interrupted
    assert len(history) == 5
    for kept, now in zip(interrupt.weights, net.parameters(), strict=True):
        np.testing.assert_array_equal(kept, now)


def test_divergence_stops_with_the_epoch_and_keeps_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 1e3
    y = rng.normal(size=64) * 1e3
    net = fc.MLP([3, 8, 1], activation="relu", seed=0)
    with pytest.raises(fc.TrainingDivergedError, match=r"epoch \d+") as info:
        net.fit(X, y, optimizer=fc.SGD(10.0), epochs=50)
    assert "learning rate" in str(info.value)
    assert all(np.isfinite(p).all() for p in net.parameters())


def test_full_batch_and_no_shuffle():
    X, y = fc.datasets.xor()
    a = fc.MLP([2, 3, 1], seed=0)
    b = fc.MLP([2, 3, 1], seed=0)
    a.fit(X, y, epochs=3, batch_size=None, shuffle=False)
    for _ in range(3):  # full batch = one lecture update per epoch
        b.fit_batch(X, y, loss="mse", optimizer=fc.SGD(0.01))
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-12)


def test_progress_prints_and_can_be_switched_off(capsys):
    X, y = fc.datasets.xor()
    fc.MLP([2, 2, 1], seed=0).fit(X, y, epochs=3, progress=False)
    assert capsys.readouterr().err == ""
    fc.MLP([2, 2, 1], seed=0).fit(X, y, epochs=3, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_repeated_fit_with_one_optimizer_continues_training():
    X, y = fc.datasets.moons(100, seed=0)
    net = fc.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", seed=0)
    adam = fc.Adam(0.01)
    first = net.fit(X, y, optimizer=adam, epochs=10, seed=0)
    second = net.fit(X, y, optimizer=adam, epochs=10, seed=1)
    assert second.loss[-1] < first.loss[0]
    assert adam.iterations == 2 * 10 * 4
