"""``MLPRegressor``: scikit-learn's regressor interface over a Formicary network."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import check_array
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from formicary import activations as _activations
from formicary import losses as _losses
from formicary.sklearn._base import BaseMLP, check_stochastic_solver
from formicary.sklearn._compat import validate_data

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multilayer perceptron regressor with scikit-learn's interface, trained by Formicary.

    Minimises the squared error ``e = 1/2 sum_k (a_k^(L) - y_k)^2`` averaged
    over the samples (plus the L2 term ``0.5 alpha sum_l ||W^(l)||^2 / n_batch``)
    with a linear (identity) output layer, unless ``output_activation`` and
    ``loss`` say otherwise. Single- and multi-output targets.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, \
warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, \
beta_1, beta_2, epsilon, n_iter_no_change, max_fun, init, callbacks
        As in :class:`formicary.sklearn.MLPClassifier` (and scikit-learn's
        ``MLPRegressor``); early stopping watches the validation R^2.
    output_activation : str or Activation, optional
        Output layer activation; ``"identity"`` by default (``"softplus"`` or
        ``"relu"`` for targets that must be positive).
    loss : str or Loss, optional
        A :mod:`formicary.losses` loss; default (or ``"squared_error"``) is ``"mse"``.

    Attributes
    ----------
    network_ : formicary.MLP
        The trained network (lecture layout ``(n_out, n_in)``).
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, validation_loss_curve_, history_, n_iter_, t_, \
n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_
        As in :class:`formicary.sklearn.MLPClassifier`; validation scores are R^2.

    Examples
    --------
    >>> import numpy as np
    >>> from formicary.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> reg = MLPRegressor((16,), solver="lbfgs", random_state=0).fit(X, X.ravel() ** 2)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _kind = "regressor"
    _automatic_losses = ("squared_error", "auto")

    # The constructor is BaseMLP.__init__: the regressor adds no parameters of its own.

    # ------------------------------------------------------------------ public API
    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, validation_data: Any = None
    ) -> MLPRegressor:
        """Train on ``(X, y)``; ``y`` has shape ``(n_samples,)`` or ``(n_samples, n_outputs)``.

        ``sample_weight`` and ``validation_data=(X_val, y_val)`` work as in
        :meth:`MLPClassifier.fit`.
        """
        return self._fit(X, y, sample_weight, validation_data, incremental=False)

    @available_if(check_stochastic_solver)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``(X, y)``, continuing from the current weights and optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """``y_hat = a^(L)`` for every sample (1-D for a single output)."""
        output = self._forward(X)
        return output.ravel() if output.shape[1] == 1 else output

    # ------------------------------------------------------------------ hooks
    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _encode_targets(
        self, y: np.ndarray, dtype: np.dtype, output: _activations.Activation
    ) -> np.ndarray:
        return (y.reshape(-1, 1) if y.ndim == 1 else y).astype(dtype)

    def _check_validation_targets(self, y_val: Any) -> np.ndarray:
        y_val = check_array(y_val, ensure_2d=False, dtype=np.float64, input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val.ravel()
        n_columns = 1 if y_val.ndim == 1 else y_val.shape[1]
        if n_columns != self.network_.n_outputs:
            raise ValueError(
                f"y_val has {n_columns} output(s) but the network has {self.network_.n_outputs}"
            )
        return y_val

    def _default_output_activation(self) -> str:
        return "identity"

    def _default_loss(self, output_activation: str) -> _losses.Loss:
        return _losses.mse

    def _metric_name(self) -> str:
        return "r2"

    def _score_output(self, output: np.ndarray, y: np.ndarray, sample_weight: Any) -> float:
        if not np.isfinite(output).all():
            return float("nan")
        predicted = output.ravel() if output.shape[1] == 1 else output
        return float(r2_score(y, predicted, sample_weight=sample_weight))

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multioutput": True}
