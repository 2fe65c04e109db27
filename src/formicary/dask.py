"""Formicary on Dask: data larger than one machine, and searches over many machines.

Formicary builds no cluster of its own; it runs on `Dask <https://dask.org>`_
(extra ``formicary[dask]``). Everything here works the same on a laptop's
``LocalCluster`` and on a multi-machine cluster: only the ``Client`` changes.

* :func:`fit_blocks` trains a scikit-learn-style estimator (such as
  :class:`formicary.sklearn.MLPClassifier`) on a ``dask.array`` or
  ``dask.dataframe`` one block at a time with ``partial_fit``. The cluster
  loads and prepares the blocks (the next one while the current one trains);
  the model itself stays in this process, which only ever holds two blocks.
* :func:`incremental` wraps an estimator in ``dask_ml.wrappers.Incremental``
  (the same idea, with the model moving to the workers), checked to work
  with Formicary's estimators.
* :func:`search` runs a ``GridSearchCV``/``RandomizedSearchCV`` on the
  cluster through ``joblib.parallel_backend("dask")``: each candidate fit is
  a task on some worker.
* :class:`SuccessiveHalvingSearch` is an adaptive search over ``partial_fit``:
  every candidate trains a few epochs, the best ``1/factor`` of them train
  ``factor`` times longer, and so on. (dask-ml's own ``HyperbandSearchCV`` and
  ``SuccessiveHalvingSearchCV`` fail with the installed dask 2026.8:
  "Attempting to use an asynchronous Client in a synchronous context", so
  Formicary ships this small one; it runs its rounds through joblib, hence
  on the cluster under ``parallel_backend("dask")``.)

If the cluster goes away part-way, these functions raise
:class:`ClusterLostError` and keep no partial result: the estimator or search
object you passed is left exactly as it was.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ClusterLostError",
    "SuccessiveHalvingSearch",
    "fit_blocks",
    "incremental",
    "search",
]


def _require(module: str = "distributed") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this needs {module.split('.')[0]}; install Formicary's Dask support with: "
            "pip install 'formicary[dask]'"
        ) from None


class ClusterLostError(RuntimeError):
    """The Dask cluster (scheduler or all workers) went away before the work was done."""


# =========================================================================== cluster loss


def _infrastructure_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [
        concurrent.futures.CancelledError,
        concurrent.futures.TimeoutError,
        TimeoutError,
        ConnectionError,
    ]
    with contextlib.suppress(ImportError):
        from distributed.comm.core import CommClosedError

        errors.append(CommClosedError)
    with contextlib.suppress(ImportError):
        from distributed.scheduler import KilledWorker

        errors.append(KilledWorker)
    return tuple(errors)


def _cluster_answers(client: Any, timeout: float = 5.0) -> bool:
    """Whether the scheduler still answers and has at least one worker."""
    if client is None:
        return True
    if getattr(client, "status", "running") != "running":
        return False
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        info = pool.submit(client.scheduler_info).result(timeout=timeout)
        return bool(info.get("workers"))
    except Exception:
        return False
    finally:
        pool.shutdown(wait=False)


@contextlib.contextmanager
def _guard(what: str, client: Any, progress: Callable[[], str]) -> Iterator[None]:
    """Turn a cluster that disappears into one :class:`ClusterLostError`."""
    try:
        yield
    except ClusterLostError:
        raise
    except Exception as exc:
        if isinstance(exc, _infrastructure_errors()) or not _cluster_answers(client):
            address = getattr(getattr(client, "scheduler", None), "address", None)
            where = f" (scheduler {address})" if address else ""
            raise ClusterLostError(
                f"the Dask cluster{where} went away during {what} after {progress()}; "
                "no result was kept and your object is unchanged. Restart the cluster "
                f"(or reconnect the Client) and run it again. Cause: {type(exc).__name__}: {exc}"
            ) from exc
        raise


def _client(client: Any) -> Any:
    """The given client, else the current default client, else None (local scheduler)."""
    if client is not None:
        return client
    distributed = _require("distributed")
    try:
        return distributed.get_client()
    except ValueError:
        return None


# =========================================================================== blocks


def _is_dask_dataframe(data: Any) -> bool:
    # dask arrays have partitions too; only data frames and series have divisions
    return hasattr(data, "npartitions") and hasattr(data, "divisions")


def _blocks(X: Any, y: Any) -> list[tuple[Any, Any]]:
    """Pairs of delayed ``(X_block, y_block)`` covering the rows once, in order."""
    if _is_dask_dataframe(X):
        if not _is_dask_dataframe(y):
            raise TypeError("with a dask DataFrame X, give y as a dask Series/DataFrame too")
        if X.npartitions != y.npartitions:
            raise ValueError(
                f"X has {X.npartitions} partitions but y has {y.npartitions}; take both from "
                "one DataFrame (X = df[features], y = df[target]) so that their rows line up"
            )
        return list(zip(X.to_delayed(), y.to_delayed(), strict=True))
    if not hasattr(X, "__dask_graph__") or not hasattr(X, "chunks"):
        raise TypeError(
            f"fit_blocks trains on a dask.array or dask.dataframe, got {type(X).__name__}; "
            "for in-memory data call the estimator's fit or partial_fit directly"
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples as rows), got a {X.ndim}-D dask array")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # one block holds whole rows
    if not hasattr(y, "chunks"):
        raise TypeError("with a dask array X, give y as a dask array too")
    if y.shape[0] != X.shape[0] and not (math.isnan(y.shape[0]) or math.isnan(X.shape[0])):
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})
    if y.ndim == 2 and len(y.chunks[1]) > 1:
        y = y.rechunk({1: -1})
    x_blocks = X.to_delayed().reshape(-1)
    y_blocks = y.to_delayed().reshape(-1)
    return list(zip(x_blocks.tolist(), y_blocks.tolist(), strict=True))


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(estimator))


def _classes_of(y: Any) -> np.ndarray:
    """The distinct labels of ``y``: unique per block on the cluster, merged here (no shuffle)."""
    import dask

    if not _is_dask_dataframe(y) and y.ndim == 2:
        return np.arange(y.shape[1])  # multilabel indicator matrix: one class per column
    blocks = y.to_delayed() if _is_dask_dataframe(y) else y.to_delayed().ravel().tolist()
    uniques = dask.compute(*[dask.delayed(_unique)(block) for block in blocks])
    return np.unique(np.concatenate(uniques))


def _unique(block: Any) -> np.ndarray:
    return np.unique(np.asarray(block))


def fit_blocks(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    classes: Sequence[Any] | None = None,
    epochs: int = 1,
    shuffle_blocks: bool = True,
    random_state: int | None = None,
    client: Any = None,
    **fit_params: Any,
) -> Any:
    """Train ``estimator`` on a ``dask.array``/``dask.dataframe`` block by block with ``partial_fit``.

    Each block is computed on the cluster (the next one while the current one
    trains) and passed to ``estimator.partial_fit``, which takes one epoch of
    mini-batch steps over it. Memory in this process: two blocks.

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        E.g. :class:`formicary.sklearn.MLPClassifier`; trained in place.
    X : dask.array (n_samples, n_features) or dask.dataframe
    y : dask.array or dask Series/DataFrame with the same row blocks
    classes : sequence, optional
        Every label, for a classifier's first ``partial_fit`` (computed from
        ``y`` in one pass when omitted).
    epochs : int
        Passes over all blocks.
    shuffle_blocks : bool
        Visit the blocks in a new random order each epoch (seeded by
        ``random_state``); ``False`` keeps their order.
    client : distributed.Client, optional
        Defaults to the current client; without one, dask's local scheduler.

    Returns
    -------
    The estimator. If the cluster goes away part-way, :class:`ClusterLostError`
    is raised and ``estimator`` is left as it was (training ran on a copy).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not hasattr(estimator, "partial_fit"):
        raise TypeError(
            f"{type(estimator).__name__} has no partial_fit; block-wise training needs an "
            "incremental estimator (Formicary's estimators with solver 'adam' or 'sgd')"
        )
    _require("dask")
    client = _client(client)
    blocks = _blocks(X, y)
    if not blocks:
        raise ValueError("X holds no blocks")
    trained = copy.deepcopy(estimator)
    done = {"blocks": 0}
    total = len(blocks) * int(epochs)

    def progress() -> str:
        return f"{done['blocks']} of {total} block steps"

    with _guard("block-wise training", client, progress):
        if _is_classifier(trained) and classes is None and not hasattr(trained, "classes_"):
            classes = _classes_of(y)
        if classes is not None:
            fit_params["classes"] = classes
        rng = np.random.default_rng(random_state)
        for _ in range(int(epochs)):
            order = rng.permutation(len(blocks)) if shuffle_blocks else np.arange(len(blocks))
            for X_block, y_block in _computed(client, [blocks[i] for i in order]):
                trained.partial_fit(X_block, y_block, **fit_params)
                done["blocks"] += 1
    estimator.__dict__.update(trained.__dict__)
    return estimator


def _computed(client: Any, pairs: list[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
    """The blocks' values in order, computing the next while the caller uses the current."""
    if client is None:
        import dask

        for pair in pairs:
            yield dask.compute(*pair)
        return
    pending = client.compute(list(pairs[0])) if pairs else None
    for index in range(len(pairs)):
        current = pending
        pending = client.compute(list(pairs[index + 1])) if index + 1 < len(pairs) else None
        X_block, y_block = client.gather(current)
        yield X_block, y_block


def incremental(estimator: Any, **kwargs: Any) -> Any:
    """``dask_ml.wrappers.Incremental(estimator, **kwargs)``: dask-ml's block-wise wrapper.

    ``Incremental.fit(X, y, classes=...)`` calls ``partial_fit`` on each block
    of a dask collection, with the model moving to the worker holding the
    block. Checked with Formicary's estimators on dask-ml 2025.1.0 and
    scikit-learn 1.9.1.
    """
    wrappers = _require("dask_ml.wrappers")
    return wrappers.Incremental(estimator, **kwargs)


# =========================================================================== searches


def search(
    search_cv: Any,
    X: Any,
    y: Any = None,
    *,
    client: Any = None,
    **fit_params: Any,
) -> Any:
    """Fit a ``GridSearchCV``/``RandomizedSearchCV`` (or any joblib-parallel search) on the cluster.

    Runs ``search_cv.fit(X, y)`` under ``joblib.parallel_backend("dask")``, so
    every candidate fit is a task on a worker (large arrays are scattered to
    the workers once). With the same seeds the result equals a local run.

    Parameters
    ----------
    search_cv : a scikit-learn search
    client : distributed.Client, optional
        Defaults to the current client (``Client(...)`` made one current).

    Returns
    -------
    ``search_cv``, fitted. If the cluster goes away part-way,
    :class:`ClusterLostError` is raised and ``search_cv`` is unchanged (the
    search ran on a clone), so no partial result passes for a complete one.
    """
    import joblib
    from sklearn.base import clone

    client = _client(client)
    if client is None:
        raise ValueError(
            "no Dask client: start one first, e.g. client = distributed.Client() for this "
            "machine or distributed.Client('tcp://scheduler:8786') for a cluster"
        )
    fitted = clone(search_cv)
    with _guard("the search", client, lambda: "part of its candidate fits"):
        if sum(client.nthreads().values()) == 1:
            warnings.warn(
                "the Dask cluster has a single worker thread, so joblib runs the search in "
                "this process rather than on the cluster; give the cluster two or more threads",
                UserWarning,
                stacklevel=2,
            )
        with joblib.parallel_backend("dask", client=client):
            fitted.fit(X, y, **fit_params)
    search_cv.__dict__.update(fitted.__dict__)
    return search_cv


def _advance(
    model: Any,
    X_train: Any,
    y_train: Any,
    X_val: Any,
    y_val: Any,
    calls: int,
    fit_params: dict[str, Any],
    scorer: Callable[..., float],
) -> tuple[Any, float]:
    """``calls`` more ``partial_fit`` epochs of one candidate, then its validation score."""
    for _ in range(calls):
        model.partial_fit(X_train, y_train, **fit_params)
    return model, float(scorer(model, X_val, y_val))


def _base_estimator() -> tuple[type, type]:
    from sklearn.base import BaseEstimator, MetaEstimatorMixin

    return BaseEstimator, MetaEstimatorMixin


try:  # the search is a scikit-learn estimator when scikit-learn is installed
    _Bases = _base_estimator()
except ImportError:  # pragma: no cover - without the extra
    _Bases = (object,)


class SuccessiveHalvingSearch(*_Bases):  # type: ignore[misc]
    """Adaptive hyperparameter search over ``partial_fit``: successive halving.

    Round ``r`` trains every surviving candidate until it has had
    ``min_epochs * factor**r`` epochs (``partial_fit`` calls over the training
    part), scores it on a held-out part, and keeps the best
    ``ceil(n / factor)``. Poor candidates stop early, so most of the budget goes
    to the promising ones. Each round's candidates are independent joblib
    tasks: under ``joblib.parallel_backend("dask")`` (or :func:`search`) they run
    on the cluster, with results equal to a local run.

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
    parameters : dict or list of dicts
        A grid (as for ``GridSearchCV``) or, with ``n_candidates``,
        distributions (as for ``RandomizedSearchCV``).
    n_candidates : int, optional
        Sample this many candidates instead of taking the whole grid.
    factor : int
        Keep ``1/factor`` of the candidates each round, and give them
        ``factor`` times more epochs.
    min_epochs, max_epochs : int
        Epochs of the first round, and the cap (default: enough rounds to
        leave one candidate).
    scoring : str or callable, optional
        As in scikit-learn (default: the estimator's ``score``).
    test_size : float
        Fraction of the data held out for scoring.
    random_state : int, optional
        Seeds the held-out split and the sampling of candidates.
    n_jobs : int, optional
        joblib's ``n_jobs`` for each round (``None``: the active backend's default).

    Attributes
    ----------
    best_estimator_, best_params_, best_score_, best_index_
        The winner, trained for ``n_epochs_`` epochs.
    history_ : list of dict
        One entry per candidate and round: ``round``, ``candidate``,
        ``params``, ``epochs``, ``score``.
    cv_results_ : dict of arrays
        Per candidate: ``params``, ``epochs`` reached, last ``score``,
        ``rank``.
    """

    def __init__(
        self,
        estimator: Any,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        n_candidates: int | None = None,
        factor: int = 3,
        min_epochs: int = 1,
        max_epochs: int | None = None,
        scoring: Any = None,
        test_size: float = 0.2,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.parameters = parameters
        self.n_candidates = n_candidates
        self.factor = factor
        self.min_epochs = min_epochs
        self.max_epochs = max_epochs
        self.scoring = scoring
        self.test_size = test_size
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _candidates(self) -> list[dict[str, Any]]:
        from sklearn.model_selection import ParameterGrid, ParameterSampler

        if self.n_candidates is None:
            return list(ParameterGrid(self.parameters))
        sampler = ParameterSampler(
            self.parameters, n_iter=self.n_candidates, random_state=self.random_state
        )
        return list(sampler)

    def _check(self) -> None:
        if not hasattr(self.estimator, "partial_fit"):
            raise TypeError(
                f"{type(self.estimator).__name__} has no partial_fit; successive halving "
                "trains candidates epoch by epoch"
            )
        for name in ("factor", "min_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.factor < 2:
            raise ValueError(f"factor must be at least 2, got {self.factor}")
        if self.max_epochs is not None and self.max_epochs < self.min_epochs:
            raise ValueError("max_epochs must be at least min_epochs")
        if not 0.0 < self.test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {self.test_size!r}")

    def fit(self, X: Any, y: Any, classes: Sequence[Any] | None = None) -> SuccessiveHalvingSearch:
        """Run the search on in-memory ``(X, y)``."""
        from joblib import Parallel, delayed
        from sklearn.base import clone
        from sklearn.metrics import check_scoring
        from sklearn.model_selection import train_test_split

        self._check()
        candidates = self._candidates()
        if not candidates:
            raise ValueError("the parameter grid is empty")
        X_train, X_val, y_train, y_val = train_test_split(
            X, y, test_size=self.test_size, random_state=self.random_state
        )
        fit_params: dict[str, Any] = {}
        if _is_classifier(self.estimator):
            fit_params["classes"] = np.unique(y) if classes is None else classes
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        models = [clone(self.estimator).set_params(**params) for params in candidates]
        alive = list(range(len(candidates)))
        epochs = [0] * len(candidates)
        scores = [float("nan")] * len(candidates)
        history: list[dict[str, Any]] = []
        budget = self.min_epochs
        round_number = 0
        while True:
            if self.max_epochs is not None:
                budget = min(budget, self.max_epochs)
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_advance)(
                    models[i],
                    X_train,
                    y_train,
                    X_val,
                    y_val,
                    budget - epochs[i],
                    fit_params,
                    scorer,
                )
                for i in alive
            )
            for i, (model, score) in zip(alive, results, strict=True):
                models[i], scores[i], epochs[i] = model, score, budget
                history.append(
                    {
                        "round": round_number,
                        "candidate": i,
                        "params": candidates[i],
                        "epochs": budget,
                        "score": score,
                    }
                )
            at_cap = self.max_epochs is not None and budget >= self.max_epochs
            if len(alive) == 1 or at_cap:
                break
            keep = max(1, math.ceil(len(alive) / self.factor))
            # best first; ties go to the earlier candidate, so every run picks the same ones
            ranked = sorted(alive, key=lambda i: (-_finite(scores[i]), i))
            alive = sorted(ranked[:keep])
            budget *= self.factor
            round_number += 1
        best = min(alive, key=lambda i: (-_finite(scores[i]), i))
        self.best_index_ = best
        self.best_params_ = candidates[best]
        self.best_score_ = scores[best]
        self.best_estimator_ = models[best]
        self.n_epochs_ = epochs[best]
        self.history_ = history
        order = sorted(range(len(candidates)), key=lambda i: (-epochs[i], -_finite(scores[i]), i))
        rank = np.empty(len(candidates), dtype=np.int64)
        rank[order] = np.arange(1, len(candidates) + 1)
        self.cv_results_ = {
            "params": candidates,
            "epochs": np.array(epochs),
            "score": np.array(scores),
            "rank": rank,
        }
        return self

    def predict(self, X: Any) -> Any:
        return self.best_estimator_.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.best_estimator_.predict_proba(X)

    def score(self, X: Any, y: Any) -> float:
        return float(self.best_estimator_.score(X, y))


def _finite(score: float) -> float:
    return score if math.isfinite(score) else -math.inf
