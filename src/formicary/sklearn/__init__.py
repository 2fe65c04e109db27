"""scikit-learn estimators backed by the Formicary engine.

:class:`MLPClassifier` and :class:`MLPRegressor` take the constructor
parameters of scikit-learn's own ``sklearn.neural_network`` estimators (same
names, meanings and defaults where they overlap), so they drop into
``Pipeline``, ``GridSearchCV`` and ``cross_val_score``. They are thin adapters:
the network is a :class:`formicary.MLP`, trained by the core training loop
(``MLP.fit``) with a :mod:`formicary.optimizers` optimizer. The fitted network
is ``estimator.network_``.

Beyond scikit-learn's MLP they accept a different activation per hidden layer
and any registered custom activation, an explicit ``output_activation`` and
``loss``, ``class_weight``, ``callbacks``, and a user-supplied validation set
``fit(X, y, validation_data=(X_val, y_val))`` whose loss is recorded each epoch
in ``validation_loss_curve_``.

Needs scikit-learn: ``pip install 'formicary[sklearn]'``.
"""

from __future__ import annotations

try:
    import sklearn as _sklearn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "formicary.sklearn needs scikit-learn, which is not installed; "
        "install it with: pip install 'formicary[sklearn]'"
    ) from exc

from formicary.sklearn._compat import check_sklearn_version

check_sklearn_version(_sklearn.__version__)

from formicary.sklearn._classifier import MLPClassifier  # noqa: E402
from formicary.sklearn._regressor import MLPRegressor  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor"]
