"""Small shims so the estimators work across scikit-learn versions (>= 1.3)."""

from __future__ import annotations

import re
from typing import Any

MINIMUM_SKLEARN = (1, 3)

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _validate_data = None


def check_sklearn_version(version: str) -> None:
    """Refuse scikit-learn versions older than :data:`MINIMUM_SKLEARN` with one clear error."""
    numbers = [int(part) for part in re.findall(r"\d+", version)[:2]]
    if tuple(numbers) < MINIMUM_SKLEARN:
        wanted = ".".join(map(str, MINIMUM_SKLEARN))
        raise ImportError(
            f"formicary.sklearn needs scikit-learn >= {wanted} but {version} is installed; "
            "upgrade with: pip install -U 'formicary[sklearn]'"
        )


def validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
    """``sklearn.utils.validation.validate_data`` (1.6+) or ``estimator._validate_data`` before."""
    if _validate_data is not None:
        return _validate_data(estimator, *args, **kwargs)
    return estimator._validate_data(*args, **kwargs)  # pragma: no cover - older scikit-learn
