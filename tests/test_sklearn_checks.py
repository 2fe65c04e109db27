"""scikit-learn's own estimator checks over both estimators."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from formicary.sklearn import MLPClassifier, MLPRegressor

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {"MLPClassifier": {}, "MLPRegressor": {}}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
