"""Formicary's estimators against scikit-learn's MLP on scikit-learn's bundled data sets.

Both libraries are trained here, in the test, with the same hyperparameters,
the same 3-fold cross-validation splits (every sample is tested once) and the
same model seeds. The requirement: Formicary's mean accuracy (R^2 for
diabetes) over the seeds is no worse than scikit-learn's minus one point.

Run this file as a script to print the comparison as a Markdown table
(it is the table in docs/sklearn.md):

    python tests/test_sklearn_accuracy.py
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import datasets, neural_network
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from formicary.sklearn import MLPClassifier, MLPRegressor

TOLERANCE = 0.01  # one point of accuracy (or of R^2)
FOLDS = 3  # every sample is tested once per seed

# Shared hyperparameters: scikit-learn's defaults (adam, relu, alpha=1e-4,
# batch_size="auto", tol=1e-4) except a larger learning rate, so that training
# converges within max_iter on every data set.
COMMON = dict(hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=300)


@dataclass(frozen=True)
class Case:
    load: str
    seeds: int
    params: dict = field(default_factory=dict)
    regression: bool = False


# Seeds per data set: more where a fit is cheap and the data set small (iris and
# wine have 150 and 178 samples, so one sample is 0.6 points).
CASES = {
    "digits": Case("load_digits", seeds=3),
    "breast_cancer": Case("load_breast_cancer", seeds=4),
    "wine": Case("load_wine", seeds=8),
    "iris": Case("load_iris", seeds=12),
    # 442 noisy samples: a small, strongly regularised network; y is standardised too.
    "diabetes": Case(
        "load_diabetes", seeds=4, params=dict(hidden_layer_sizes=(16,), alpha=1.0), regression=True
    ),
}


def _model(case: Case, library: str, seed: int):
    params = {**COMMON, **case.params, "random_state": seed}
    if case.regression:
        regressor = MLPRegressor if library == "formicary" else neural_network.MLPRegressor
        return make_pipeline(
            StandardScaler(),
            TransformedTargetRegressor(regressor(**params), transformer=StandardScaler()),
        )
    classifier = MLPClassifier if library == "formicary" else neural_network.MLPClassifier
    return make_pipeline(StandardScaler(), classifier(**params))


def measure(name: str) -> dict[str, list[float]]:
    """Cross-validated score of each library for each seed.

    BLAS runs single-threaded for both: fairer and faster for these small
    matrices, and not at the mercy of other processes on a shared machine.
    """
    case = CASES[name]
    X, y = getattr(datasets, case.load)(return_X_y=True)
    folds = (KFold if case.regression else StratifiedKFold)(FOLDS, shuffle=True, random_state=0)
    scores: dict[str, list[float]] = {"formicary": [], "scikit-learn": []}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(case.seeds):
            for library, values in scores.items():
                model = _model(case, library, seed)
                values.append(float(cross_val_score(model, X, y, cv=folds).mean()))
    return scores


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_accuracy_is_no_worse_than_sklearn(name):
    scores = measure(name)
    ours, theirs = np.mean(scores["formicary"]), np.mean(scores["scikit-learn"])
    assert ours >= theirs - TOLERANCE, (
        f"{name}: Formicary {ours:.4f} vs scikit-learn {theirs:.4f} "
        f"(per seed: {np.round(scores['formicary'], 4)} vs {np.round(scores['scikit-learn'], 4)})"
    )


def markdown_table() -> str:
    rows = [
        "| data set | metric | seeds x folds | Formicary | scikit-learn | difference |",
        "|---|---|---|---|---|---|",
    ]
    for name, case in CASES.items():
        scores = measure(name)
        ours, theirs = np.mean(scores["formicary"]), np.mean(scores["scikit-learn"])
        metric = "R^2" if case.regression else "accuracy"
        rows.append(
            f"| {name} | {metric} | {case.seeds} x {FOLDS} | {ours:.4f} | {theirs:.4f} | "
            f"{ours - theirs:+.4f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
