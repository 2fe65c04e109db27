"""Time one hyperparameter search locally and on a Dask LocalCluster (not a test: numbers only).

The same ``GridSearchCV`` of Formicary's ``MLPClassifier`` runs (a) locally,
one fit after another (``n_jobs=1``), (b) locally with joblib's process pool
(``n_jobs=-1``), and (c) on a ``distributed.LocalCluster`` of worker processes
through :func:`formicary.dask.search`, and the adaptive
:class:`formicary.dask.SuccessiveHalvingSearch` locally and on the cluster.
All runs use the same seeds and the script checks they find the same result.

    python benchmarks/bench_dask_search.py [--workers 2] [--samples 3000]

On a multi-machine cluster, pass ``--scheduler tcp://host:8786`` instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--max-iter", type=int, default=60)
    parser.add_argument("--scheduler", default=None, help="address of an existing scheduler")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import distributed
    from sklearn.model_selection import GridSearchCV

    import formicary as fc
    from formicary import dask as fdask
    from formicary.sklearn import MLPClassifier

    X, y = fc.datasets.moons(args.samples, noise=0.2, seed=0)
    grid = {
        "hidden_layer_sizes": [(16,), (32,), (64,), (32, 16)],
        "learning_rate_init": [0.001, 0.003, 0.01],
    }
    base = MLPClassifier(max_iter=args.max_iter, random_state=0, n_iter_no_change=1000)

    def grid_search(n_jobs: int | None = 1) -> GridSearchCV:
        return GridSearchCV(base, grid, cv=3, n_jobs=n_jobs)

    def halving() -> fdask.SuccessiveHalvingSearch:
        return fdask.SuccessiveHalvingSearch(base, grid, factor=3, min_epochs=3, random_state=0)

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.samples} samples, {len(grid['hidden_layer_sizes']) * 3} candidates x 3 folds, "
        f"max_iter={args.max_iter}"
    )
    rows = []
    started = time.perf_counter()
    local = grid_search(1).fit(X, y)
    rows.append(("GridSearchCV, local, n_jobs=1", time.perf_counter() - started))
    started = time.perf_counter()
    pooled = grid_search(-1).fit(X, y)
    rows.append(("GridSearchCV, local, n_jobs=-1 (loky processes)", time.perf_counter() - started))
    started = time.perf_counter()
    local_halving = halving().fit(X, y)
    rows.append(("SuccessiveHalvingSearch, local", time.perf_counter() - started))

    started = time.perf_counter()
    if args.scheduler:
        cluster = None
        client = distributed.Client(args.scheduler)
    else:
        cluster = distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    rows.append((f"cluster start ({args.workers} workers)", time.perf_counter() - started))
    # the first tasks import scikit-learn and Formicary on the workers: warm them up once
    client.run(lambda: __import__("formicary.sklearn"))
    started = time.perf_counter()
    remote = fdask.search(grid_search(None), X, y, client=client)
    rows.append(("GridSearchCV, Dask cluster", time.perf_counter() - started))
    started = time.perf_counter()
    remote_halving = fdask.search(halving(), X, y, client=client)
    rows.append(("SuccessiveHalvingSearch, Dask cluster", time.perf_counter() - started))
    client.close()
    if cluster is not None:
        cluster.close()

    same = np.array_equal(
        local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"]
    )
    same = same and np.array_equal(
        local.cv_results_["mean_test_score"], pooled.cv_results_["mean_test_score"]
    )
    same_halving = remote_halving.history_ == local_halving.history_
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"  {name.ljust(width)}  {seconds:7.2f} s")
    print(f"  same grid-search scores everywhere: {same}; best {local.best_params_}")
    print(f"  same successive-halving history: {same_halving}; best {local_halving.best_params_}")


if __name__ == "__main__":
    main()
