"""Behaviour of formicary.sklearn.MLPClassifier / MLPRegressor.

The mapping of scikit-learn's hyperparameters is tested against scikit-learn's
own MLP: started from the same weights, on the same unshuffled batches, both
must follow the same trajectory (weights and loss curve equal to rounding).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network
from sklearn.base import clone
from sklearn.datasets import load_iris, make_blobs, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import formicary
from formicary import activations
from formicary.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def _single_threaded_blas():
    """Tiny matrices: BLAS threads only add waiting, badly so on a loaded machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=3, cluster_std=1.0, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=1, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


# --------------------------------------------------------------------------- same maths as sklearn


def _same_start(ours, theirs, X, y, seed=0):
    """Fit both once, then give both the same random weights (sklearn layout)."""
    ours.set_params(max_iter=1, solver="sgd").fit(X, y)
    theirs.set_params(max_iter=1, solver="sgd").fit(X, y)
    rng = np.random.default_rng(seed)
    coefs = [rng.uniform(-0.5, 0.5, c.shape) for c in theirs.coefs_]
    intercepts = [rng.uniform(-0.5, 0.5, b.shape) for b in theirs.intercepts_]
    theirs.coefs_ = [c.copy() for c in coefs]
    theirs.intercepts_ = [b.copy() for b in intercepts]
    ours.coefs_ = coefs
    ours.intercepts_ = intercepts
    # forget the loss of the different random starts, which the stopping rule compares with
    ours.best_loss_ = theirs.best_loss_ = np.inf


TRAJECTORIES = [
    dict(solver="sgd", momentum=0.0, learning_rate="invscaling", learning_rate_init=0.5),
    dict(solver="sgd", momentum=0.9, learning_rate_init=0.05, batch_size=40),
    dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        tol=1e-3,
        n_iter_no_change=2,
        batch_size=64,
    ),
    dict(solver="adam", learning_rate_init=0.01, batch_size=40),
    dict(solver="lbfgs"),
]


@pytest.mark.parametrize("params", TRAJECTORIES, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression"])
def test_follows_sklearn_trajectory_from_same_weights(kind, params, iris):
    X, y = iris
    if kind == "binary":
        y = (y == 1).astype(int)
    if kind == "regression":
        ours, theirs = MLPRegressor, neural_network.MLPRegressor
        X, y = X[:, :3], X[:, 3]
    else:
        ours, theirs = MLPClassifier, neural_network.MLPClassifier
    common = dict(hidden_layer_sizes=(5, 4), activation="tanh", alpha=0.1, shuffle=False)
    ours, theirs = ours(**common, random_state=0), theirs(**common, random_state=0)
    _same_start(ours, theirs, X, y)
    tol = {"tol": 0.0} if "tol" not in params else {}
    settings = dict(params, warm_start=True, max_iter=25, **tol)
    ours.set_params(**settings).fit(X, y)
    theirs.set_params(**settings).fit(X, y)

    assert ours.n_iter_ == theirs.n_iter_
    for mine, sk in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, sk, rtol=1e-9, atol=1e-9)
    if params["solver"] == "lbfgs":
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    else:  # the first entry comes from the different random start
        np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-9)
        assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X))


def test_adaptive_learning_rate_divides_by_five_then_stops(iris):
    X, y = iris
    clf = MLPClassifier(
        (8,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=100.0,
        n_iter_no_change=1,
        max_iter=100,
        random_state=0,
    )
    clf.fit(X, y)
    rates = clf.history_.learning_rate
    # tol=100: no epoch ever improves enough, so every 2nd epoch eta /= 5 until <= 1e-6
    distinct = sorted(set(rates), reverse=True)
    np.testing.assert_allclose(distinct, [0.1 / 5**k for k in range(len(distinct))])
    assert distinct[-1] <= 1e-6 < distinct[-2]
    assert clf.n_iter_ == len(rates) < 100


def test_l2_alpha_shrinks_weights(blobs):
    X, y = blobs
    norms = []
    for alpha in (0.0, 1.0, 10.0):
        clf = MLPClassifier((16,), alpha=alpha, max_iter=150, random_state=0).fit(X, y)
        norms.append(sum(float(np.sum(c**2)) for c in clf.coefs_))
    assert norms[0] > norms[1] > norms[2]


# --------------------------------------------------------------------------- fitted attributes


def test_fitted_attributes_and_layouts(iris):
    X, y = iris
    clf = MLPClassifier((7, 5), max_iter=50, random_state=0).fit(X, y)
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 4 and list(clf.classes_) == [0, 1, 2]
    assert [c.shape for c in clf.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    for coef, layer in zip(clf.coefs_, clf.network_.layers, strict=True):
        assert layer.weights.shape == coef.shape[::-1]  # lecture layout (n_out, n_in)
        np.testing.assert_array_equal(coef, layer.weights.T)
    assert isinstance(clf.network_, formicary.MLP)
    assert len(clf.loss_curve_) == clf.n_iter_ == 50
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.validation_loss_curve_ is None
    # predict_proba is the network's output itself
    np.testing.assert_allclose(clf.predict_proba(X), clf.network_.predict(X))


def test_dataframe_feature_names(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    clf = MLPClassifier((4,), max_iter=5, random_state=0).fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    with pytest.warns(UserWarning, match="feature names"):
        from_array = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(frame), from_array)


def test_unfitted_estimator_raises_not_fitted(iris):
    from sklearn.exceptions import NotFittedError

    X, _ = iris
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(NotFittedError):
        MLPRegressor().coefs_  # noqa: B018


def test_float32_trains_in_float32(iris):
    X, y = iris
    X32 = X.astype(np.float32)
    clf = MLPClassifier((8,), max_iter=30, random_state=0).fit(X32, y)
    assert clf.network_.dtype == np.float32
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    reg = MLPRegressor((8,), max_iter=30, random_state=0).fit(X32[:, :3], X32[:, 3])
    assert reg.coefs_[0].dtype == np.float32 and reg.predict(X32[:, :3]).dtype == np.float32


# --------------------------------------------------------------------------- targets


def test_string_labels_and_probabilities(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((16,), max_iter=200, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    predicted = clf.predict(X)
    assert predicted.dtype == names.dtype and np.mean(predicted == names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.network_.metadata["sklearn"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_binary_uses_one_sigmoid_neuron(iris):
    X, y = iris
    labels = np.where(y == 0, -1, 7)
    clf = MLPClassifier((8,), learning_rate_init=0.01, max_iter=200, random_state=0)
    clf.fit(X, labels)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    p = clf.network_.predict(X)[:, 0]
    np.testing.assert_allclose(clf.predict_proba(X), np.column_stack([1 - p, p]))
    np.testing.assert_array_equal(clf.predict(X), np.where(p > 0.5, 7, -1))
    assert clf.score(X, labels) == 1.0


def test_binary_with_softmax_output_uses_two_neurons(iris):
    X, y = iris
    labels = (y == 0).astype(int)
    clf = MLPClassifier((8,), output_activation="softmax", learning_rate_init=0.01, random_state=0)
    clf.fit(X, labels)
    assert clf.n_outputs_ == 2 and clf.network_.sizes[-1] == 2
    assert clf.score(X, labels) == 1.0
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_multiclass_with_sigmoid_outputs_normalises_probabilities(iris):
    X, y = iris
    clf = MLPClassifier((8,), output_activation="logistic", learning_rate_init=0.01, random_state=0)
    clf.fit(X, y)
    assert clf.out_activation_ == "logistic"
    assert clf.network_.history.loss_name == "binary_cross_entropy"
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.9


def test_multilabel_classification():
    X = np.random.default_rng(0).standard_normal((200, 6))
    # three labels per sample, each its own rule: any combination can occur
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 0.5]).astype(int)
    clf = MLPClassifier((32,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    predicted = clf.predict(X)
    assert predicted.shape == Y.shape and set(np.unique(predicted)) <= {0, 1}
    assert clf.predict_proba(X).shape == Y.shape
    assert clf.score(X, Y) > 0.85  # subset accuracy
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(output_activation="softmax", max_iter=5).fit(X, Y)


def test_multi_output_regression():
    X, Y = make_regression(n_samples=200, n_features=4, n_targets=3, noise=1.0, random_state=0)
    Y = (Y - Y.mean(axis=0)) / Y.std(axis=0)
    reg = MLPRegressor((32,), max_iter=300, random_state=0).fit(X, Y)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (200, 3)
    assert reg.score(X, Y) > 0.95


def test_regressor_output_activation_and_loss(regression):
    X, y = regression
    positive = np.exp(y)
    reg = MLPRegressor((16,), output_activation="softplus", learning_rate_init=0.01, random_state=0)
    reg.fit(X, positive)
    assert reg.out_activation_ == "softplus"
    assert (reg.predict(X) > 0).all() and reg.score(X, positive) > 0.8
    classifier_mse = MLPClassifier((8,), loss="mse", max_iter=50, random_state=0)
    classifier_mse.fit(X, y > 0)
    assert classifier_mse.history_.loss_name == "mse"


# --------------------------------------------------------------------------- extras


def test_activation_per_hidden_layer_and_custom_activation(iris):
    X, y = iris
    clf = MLPClassifier((6, 5), activation=["tanh", "gelu"], max_iter=100, random_state=0)
    clf.fit(X, y)
    assert [a.name for a in clf.network_.activations] == ["tanh", "gelu", "softmax"]

    activations.register(
        "test_swish",
        lambda z: z / (1 + np.exp(-z)),
        lambda z: (1 + np.exp(-z) + z * np.exp(-z)) / (1 + np.exp(-z)) ** 2,
        overwrite=True,
    )
    try:
        clf = MLPClassifier((16,), activation="test_swish", learning_rate_init=0.01, random_state=0)
        clf.fit(X, y)
        assert clf.network_.activations[0].name == "test_swish"
        assert clf.score(X, y) > 0.9
        # pickling stores activation specs, so a registered activation survives it
        again = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    finally:
        activations.unregister("test_swish")


def test_pickle_round_trip_with_parametrised_activation(iris):
    X, y = iris
    leaky = {"name": "leaky_relu", "params": {"slope": 0.2}}
    clf = MLPClassifier((8,), activation=leaky, max_iter=30, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.network_.activations[0].params == {"slope": 0.2}
    assert again.loss_curve_ == clf.loss_curve_


def test_validation_data_curves(iris):
    X, y = iris
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0, stratify=y)
    clf = MLPClassifier((8,), max_iter=40, random_state=0)
    clf.fit(X_train, y_train, validation_data=(X_val, y_val))
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == clf.n_iter_ == 40
    # the last entries describe the final weights
    last_loss = formicary.losses.categorical_cross_entropy.value(
        clf.predict_proba(X_val), np.eye(3)[y_val]
    )
    assert clf.validation_loss_curve_[-1] == pytest.approx(last_loss)
    assert clf.validation_scores_[-1] == pytest.approx(clf.score(X_val, y_val))
    assert clf.history_.val_loss == clf.validation_loss_curve_
    with pytest.raises(ValueError, match="pair"):
        clf.fit(X_train, y_train, validation_data=X_val)
    with pytest.raises(ValueError, match="not in the training data"):
        clf.fit(X_train, y_train, validation_data=(X_val, y_val + 5))


def test_early_stopping_keeps_best_weights(blobs):
    X, y = blobs
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=1, stratify=y)
    clf = MLPClassifier(
        (16,), early_stopping=True, n_iter_no_change=5, max_iter=500, random_state=0
    )
    clf.fit(X_train, y_train, validation_data=(X_val, y_val))
    assert clf.n_iter_ < 500
    assert clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)
    # without validation_data, early stopping holds out validation_fraction of the data
    reg = MLPRegressor((16,), early_stopping=True, validation_fraction=0.2, max_iter=500)
    reg.set_params(random_state=0, n_iter_no_change=5).fit(X, X[:, 0] - X[:, 1])
    assert reg.n_iter_ < 500 and len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ > 0.9


def test_class_weight_balanced_helps_minority_class():
    X, y = make_classification(
        n_samples=400, n_features=4, weights=[0.9, 0.1], class_sep=0.5, random_state=3
    )
    X = StandardScaler().fit_transform(X)
    plain = MLPClassifier((8,), max_iter=100, random_state=0).fit(X, y)
    balanced = MLPClassifier((8,), class_weight="balanced", max_iter=100, random_state=0)
    balanced.fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1


def test_class_weight_equals_sample_weight_per_class(iris):
    X, y = iris
    weights = {0: 3.0, 1: 1.0, 2: 0.5}
    by_class = MLPClassifier((6,), class_weight=weights, max_iter=30, random_state=0).fit(X, y)
    by_sample = MLPClassifier((6,), max_iter=30, random_state=0)
    by_sample.fit(X, y, sample_weight=np.vectorize(weights.get)(y))
    np.testing.assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X))


def test_callbacks_see_every_epoch_and_can_stop(iris):
    X, y = iris
    seen = []

    class StopAtThree(formicary.Callback):
        def on_epoch_end(self, net, epoch, logs):
            if epoch == 2:
                net.stop_training = True

    clf = MLPClassifier(
        (8,),
        max_iter=50,
        random_state=0,
        callbacks=[lambda net, epoch, logs: seen.append((epoch, logs["loss"])), StopAtThree()],
    )
    clf.fit(X, y)
    assert clf.n_iter_ == 3 and [e for e, _ in seen] == [0, 1, 2]
    assert all(isinstance(net_loss, float) for _, net_loss in seen)
    # Formicary's own EarlyStopping works as a callback too
    stopper = formicary.EarlyStopping(monitor="loss", patience=2, min_delta=10.0)
    MLPClassifier((8,), max_iter=50, callbacks=[stopper], random_state=0).fit(X, y)
    assert stopper.stopped_epoch == 2
    # L-BFGS: one "epoch" per iteration
    iterations = []
    MLPClassifier(
        (8,),
        solver="lbfgs",
        max_iter=7,
        random_state=0,
        callbacks=[lambda net, epoch, logs: iterations.append(epoch)],
    ).fit(X, y)
    assert iterations == list(range(7))


def test_network_can_be_saved_and_loaded(tmp_path, iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, y)
    path = tmp_path / "iris.npz"
    clf.network_.save(path)
    net = formicary.load(path)
    np.testing.assert_allclose(net.predict(X), clf.predict_proba(X))
    assert net.metadata["sklearn"] == {"estimator": "MLPClassifier", "classes": [0, 1, 2]}


def test_verbose_prints_the_loss(iris, capsys):
    X, y = iris
    MLPClassifier((4,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


def test_convergence_warning_only_when_max_iter_is_reached(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPClassifier((4,), max_iter=500, tol=1.0, random_state=0).fit(X, y)


# --------------------------------------------------------------------------- scikit-learn tools


def test_pipeline_grid_search_and_cross_validation(blobs):
    X, y = blobs
    mlp = MLPClassifier(learning_rate_init=0.01, max_iter=100, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", mlp)])
    search = GridSearchCV(
        pipe,
        {"mlp__hidden_layer_sizes": [(4,), (16,)], "mlp__activation": ["relu", ["tanh"]]},
        cv=3,
    )
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert isinstance(search.best_estimator_["mlp"].network_, formicary.MLP)
    scores = cross_val_score(
        make_pipeline(StandardScaler(), MLPRegressor((8,), max_iter=100)),
        X,
        X[:, 0] * X[:, 1],
        cv=3,
    )
    assert scores.shape == (3,)


def test_clone_copies_parameters_not_fit(iris):
    X, y = iris
    clf = MLPClassifier((5,), activation=["tanh"], callbacks=[], max_iter=10).fit(X, y)
    twin = clone(clf)
    assert twin.get_params()["activation"] == ["tanh"]
    assert not hasattr(twin, "network_")


def test_partial_fit_over_chunks_converges(blobs, regression):
    X, y = blobs
    clf = MLPClassifier((16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:10], y[:10])
    losses = []
    for epoch in range(15):
        for chunk in np.array_split(np.arange(len(X)), 6):
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2] if epoch == 0 else None)
            losses.append(clf.loss_)
    assert np.mean(losses[-6:]) < 0.3 * np.mean(losses[:6])
    assert clf.score(X, y) > 0.95
    assert clf.t_ == 15 * len(X)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(X[:5], np.full(5, 9))

    X, y = regression
    reg = MLPRegressor((16,), learning_rate_init=0.01, random_state=0)
    for _ in range(20):
        for chunk in np.array_split(np.arange(len(X)), 4):
            reg.partial_fit(X[chunk], y[chunk])
    assert reg.score(X, y) > 0.9


def test_partial_fit_keeps_optimizer_state(iris):
    X, y = iris
    clf = MLPClassifier((4,), random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    optimizer = clf._optimizer
    clf.partial_fit(X, y)
    assert clf._optimizer is optimizer and optimizer.iterations == 2


def test_warm_start_continues_training(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=20, warm_start=True, random_state=0).fit(X, y)
    first = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.loss_curve_[:20] == first and len(clf.loss_curve_) == 40
    assert clf.loss_curve_[-1] < first[-1]
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="hidden_layer_sizes is now"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(X, y)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (dict(solver="newton"), ValueError, "solver must be one of"),
        (dict(hidden_layer_sizes=(10, 0)), ValueError, "hidden_layer_sizes"),
        (dict(activation="swishy"), ValueError, "unknown activation"),
        (dict(activation=["relu", "tanh"]), ValueError, "one per hidden layer"),
        (dict(learning_rate="cyclic"), ValueError, "learning_rate must be one of"),
        (dict(learning_rate_init=0.0), ValueError, "learning_rate_init"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(momentum=1.5), ValueError, "momentum"),
        (dict(max_iter=2.5), TypeError, "max_iter must be an integer"),
        (dict(early_stopping="yes"), TypeError, "early_stopping must be True or False"),
        (dict(loss="hinge"), ValueError, "unknown loss"),
        (dict(init="zeros"), ValueError, "init must be"),
        (dict(callbacks="print"), TypeError, "callbacks must be a list"),
    ],
)
def test_bad_hyperparameters_raise_one_clear_error(params, error, match, iris):
    X, y = iris
    with pytest.raises(error, match=match):
        MLPClassifier(**{"max_iter": 2, **params}).fit(X, y)


def test_bad_data_and_misuse_raise_clear_errors(iris):
    from scipy import sparse

    X, y = iris
    with pytest.raises(TypeError, match="dense data is required"):
        MLPClassifier(max_iter=2).fit(sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier(max_iter=2).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    fitted = MLPClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        fitted.predict(X[:, :3])
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        MLPClassifier(max_iter=2).fit(X, y, sample_weight=-np.ones(len(y)))
