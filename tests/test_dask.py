"""Formicary on a real Dask cluster: block-wise training and searches equal local runs."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest

import formicary as fc

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pytest.importorskip("sklearn")
da = pytest.importorskip("dask.array")
fsk = pytest.importorskip("formicary.sklearn")

from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402

from formicary import dask as fdask  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

CLUSTER = dict(processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
GRID = {"hidden_layer_sizes": [(4,), (16,)], "learning_rate_init": [0.003, 0.01, 0.03]}


def estimator(**kwargs):
    options = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    return fsk.MLPClassifier(**{**options, **kwargs})


def data(n=1200):
    return fc.datasets.moons(n, noise=0.2, seed=0)


def same_weights(a, b):
    return all(
        np.array_equal(p, q)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, **CLUSTER)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


# --------------------------------------------------------------------------- block-wise training


def local_blocks(model, X, y, size, epochs, seed, classes):
    rng = np.random.default_rng(seed)
    n_blocks = len(range(0, len(X), size))
    for _ in range(epochs):
        for i in rng.permutation(n_blocks):
            model.partial_fit(
                X[i * size : (i + 1) * size], y[i * size : (i + 1) * size], classes=classes
            )
    return model


def test_fit_blocks_on_the_cluster_equals_local_partial_fit(client):
    X, y = data()
    expected = local_blocks(estimator(), X, y, 300, epochs=2, seed=3, classes=[0, 1])
    Xd, yd = da.from_array(X, chunks=(300, 1)), da.from_array(y, chunks=250)  # rechunked to match
    model = estimator()
    returned = fdask.fit_blocks(model, Xd, yd, epochs=2, random_state=3, client=client)
    assert returned is model
    assert same_weights(model, expected)
    assert model.score(X, y) > 0.8


def test_fit_blocks_reads_dask_dataframes_with_text_labels(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = data(800)
    labels = np.array(["left", "right"])[y]
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "side": labels})
    ddf = dd.from_pandas(frame, npartitions=4)
    model = fdask.fit_blocks(estimator(), ddf[["a", "b"]], ddf["side"], shuffle_blocks=False)
    expected = estimator()
    for part in range(4):
        rows = slice(part * 200, (part + 1) * 200)
        expected.partial_fit(frame[["a", "b"]][rows], labels[rows], classes=["left", "right"])
    assert list(model.classes_) == ["left", "right"]
    assert same_weights(model, expected)


def test_dask_ml_incremental_works_with_formicary_estimators(client):
    pytest.importorskip("dask_ml")
    X, y = data()
    wrapped = fdask.incremental(estimator(), shuffle_blocks=False)
    wrapped.fit(da.from_array(X, chunks=(300, 2)), da.from_array(y, chunks=300), classes=[0, 1])
    expected = estimator()
    for i in range(4):
        expected.partial_fit(X[i * 300 : (i + 1) * 300], y[i * 300 : (i + 1) * 300], classes=[0, 1])
    assert same_weights(wrapped.estimator_, expected)


# --------------------------------------------------------------------------- searches


def test_grid_and_randomized_searches_on_the_cluster_equal_local_runs(client):
    X, y = data(600)
    for make in (
        lambda: GridSearchCV(estimator(max_iter=20), GRID, cv=3),
        lambda: RandomizedSearchCV(estimator(max_iter=20), GRID, n_iter=4, cv=3, random_state=1),
    ):
        local = make().fit(X, y)
        remote = make()
        assert fdask.search(remote, X, y, client=client) is remote
        assert remote.best_params_ == local.best_params_
        np.testing.assert_array_equal(
            remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
        )
        assert same_weights(remote.best_estimator_, local.best_estimator_)


def test_successive_halving_on_the_cluster_equals_a_local_run(client):
    X, y = data(900)
    local = fdask.SuccessiveHalvingSearch(estimator(), GRID, factor=3, random_state=0).fit(X, y)
    remote = fdask.SuccessiveHalvingSearch(estimator(), GRID, factor=3, random_state=0)
    fdask.search(remote, X, y, client=client)
    assert remote.history_ == local.history_
    assert remote.best_params_ == local.best_params_
    assert same_weights(remote.best_estimator_, local.best_estimator_)
    # six candidates get 1 epoch, the best two 3 epochs, the best one 9
    assert [h["epochs"] for h in local.history_] == [1] * 6 + [3] * 2 + [9]
    survivors = [h for h in local.history_ if h["round"] == 1]
    first = sorted((h for h in local.history_ if h["round"] == 0), key=lambda h: -h["score"])
    assert {h["candidate"] for h in survivors} == {h["candidate"] for h in first[:2]}
    assert local.best_score_ == local.history_[-1]["score"]
    assert local.score(X, y) == local.best_estimator_.score(X, y)
    assert local.cv_results_["rank"][local.best_index_] == 1


def test_an_estimator_error_on_a_live_cluster_is_not_called_a_lost_cluster(client):
    X, y = data(300)
    bad = GridSearchCV(
        estimator(), {"activation": ["no_such_activation"]}, cv=2, error_score="raise"
    )
    with pytest.raises(ValueError, match="no_such_activation"):
        fdask.search(bad, X, y, client=client)
    assert not hasattr(bad, "best_params_")


# --------------------------------------------------------------------------- the cluster goes away


class CloseAfterTasks(distributed.diagnostics.plugin.SchedulerPlugin):
    """Signals once ``n`` tasks have finished; a thread then closes the whole cluster."""

    def __init__(self, n):
        self.n, self.finished = n, 0
        self.reached = threading.Event()

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory":
            self.finished += 1
            if self.finished >= self.n:
                self.reached.set()


def test_a_cluster_that_goes_away_mid_search_gives_a_clear_error_and_no_result():
    X, y = data(600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, **CLUSTER)
    client = distributed.Client(cluster)
    try:
        plugin = CloseAfterTasks(3)
        cluster.scheduler.add_plugin(plugin)
        closed = threading.Event()

        def close_when_told():
            plugin.reached.wait(60)
            cluster.close()
            closed.set()

        threading.Thread(target=close_when_told, daemon=True).start()
        grid = {"hidden_layer_sizes": [(4,), (8,), (16,), (32,)], "alpha": [1e-4, 1e-3, 1e-2]}
        slow = estimator(max_iter=150, n_iter_no_change=1000)  # each fit takes a while
        search = GridSearchCV(slow, grid, cv=3)
        started = time.perf_counter()
        with pytest.raises(fdask.ClusterLostError, match="went away during the search") as info:
            fdask.search(search, X, y, client=client)
        assert time.perf_counter() - started < 120  # an error, not a hang
        assert "no result was kept" in str(info.value)
        assert plugin.finished < 36  # it really stopped part-way through the 36 fits
        for attribute in ("best_params_", "cv_results_", "best_estimator_"):
            assert not hasattr(search, attribute)
        assert closed.wait(30)
        # block-wise training on the dead cluster: the same error, the estimator untouched
        model = estimator()
        before = dict(vars(model))
        Xd, yd = da.from_array(X, chunks=(300, 2)), da.from_array(y, chunks=300)
        with pytest.raises(fdask.ClusterLostError):
            fdask.fit_blocks(model, Xd, yd, classes=[0, 1], client=client)
        assert vars(model) == before
    finally:
        client.close(timeout=5)
        cluster.close()


# --------------------------------------------------------------------------- bad input


def test_bad_block_wise_requests_are_explained(monkeypatch):
    X, y = data(200)
    with pytest.raises(TypeError, match="dask.array or dask.dataframe"):
        fdask.fit_blocks(estimator(), X, y, client=None)
    with pytest.raises(TypeError, match="has no partial_fit"):
        fdask.fit_blocks(estimator(solver="lbfgs"), da.from_array(X), da.from_array(y))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fdask.fit_blocks(estimator(), da.from_array(X), da.from_array(y), epochs=0)
    with pytest.raises(ValueError, match="X has 200 rows but y has 100"):
        fdask.fit_blocks(estimator(), da.from_array(X), da.from_array(y[:100]))
    with pytest.raises(TypeError, match="no partial_fit"):
        fdask.SuccessiveHalvingSearch(estimator(solver="lbfgs"), GRID).fit(X, y)
    with pytest.raises(ValueError, match="factor must be at least 2"):
        fdask.SuccessiveHalvingSearch(estimator(), GRID, factor=1).fit(X, y)

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    with pytest.raises(ValueError, match="no Dask client"):
        fdask.search(GridSearchCV(estimator(), GRID), X, y)
