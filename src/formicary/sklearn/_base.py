"""What :class:`MLPClassifier` and :class:`MLPRegressor` share: parameters, training, attributes.

The estimator owns a :class:`formicary.MLP` (``network_``) and a
:mod:`formicary.optimizers` optimizer; ``fit`` hands both to the core training
loop together with :class:`~formicary.sklearn._training.SklearnRules`, which
adds scikit-learn's loss curve, stopping rule and learning-rate schedules.

How scikit-learn's hyperparameters map onto the core
------------------------------------------------------

``alpha`` (L2)
    scikit-learn minimises ``e + 0.5 alpha sum_l ||W^(l)||^2 / n_batch`` per
    mini-batch, whose gradient adds ``(alpha / n_batch) W``. The core
    optimizers' ``weight_decay`` ``lambda`` adds ``lambda W`` (weights only,
    not biases), so ``weight_decay = alpha / (batch_size * mean(sample_weight))``.
    With full batches (``batch_size >= n_samples``) this is exactly
    scikit-learn's ``alpha / sum(sample_weight)``.
``solver``
    ``"sgd"`` is :class:`formicary.SGD` (``momentum``, ``nesterovs_momentum``),
    ``"adam"`` is :class:`formicary.Adam` (``beta_1``, ``beta_2``, ``epsilon``),
    ``"rmsprop"`` is :class:`formicary.RMSprop` (``rho=0.9``, ``epsilon``), and
    ``"lbfgs"`` minimises the full-batch loss with SciPy's L-BFGS-B using the
    core's ``forward``/``backward`` gradients.
``init``
    ``"glorot"`` (the default) draws ``W`` uniformly from ``+-sqrt(6 / (n_in + n_out))``
    like scikit-learn (whose biases start in that range too; Formicary's start at 0);
    ``"he"`` or ``None`` (each activation's preferred scheme) are Formicary's options.
``learning_rate``
    For ``"sgd"`` and ``"rmsprop"``: ``"constant"`` keeps ``eta``,
    ``"invscaling"`` uses ``eta_0 / (t + 1)^power_t`` (``t`` = samples seen),
    ``"adaptive"`` divides ``eta`` by 5 whenever scikit-learn would stop.
    Adam ignores it, as in scikit-learn.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from formicary import activations as _activations
from formicary import losses as _losses
from formicary import optimizers as _optimizers
from formicary.layers import Dense
from formicary.network import MLP
from formicary.sklearn._compat import validate_data
from formicary.sklearn._training import SklearnRules, fit_lbfgs

__all__ = ["BaseMLP", "check_stochastic_solver"]

SOLVERS = ("sgd", "adam", "rmsprop", "lbfgs")
STOCHASTIC_SOLVERS = ("sgd", "adam", "rmsprop")
SCHEDULES = ("constant", "invscaling", "adaptive")
# scikit-learn's names for Formicary's activations, used in ``out_activation_``.
SKLEARN_ACTIVATION_NAMES = {"sigmoid": "logistic"}
_AUTO_BATCH = 200
_SEED_BOUND = np.iinfo(np.int32).max


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_stochastic_solver(estimator: Any) -> bool:
    """``partial_fit`` exists only for the stochastic solvers (as in scikit-learn)."""
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            "partial_fit is only available for the stochastic solvers "
            f"({', '.join(STOCHASTIC_SOLVERS)}); solver={estimator.solver!r} is not stochastic"
        )
    return True


class BaseMLP(BaseEstimator):
    """Base class of the Formicary-backed scikit-learn estimators (not for direct use)."""

    # Subclasses: "classifier" or "regressor".
    _kind = "estimator"

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: Any = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        output_activation: Any = None,
        loss: Any = None,
        init: str | None = "glorot",
        callbacks: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.output_activation = output_activation
        self.loss = loss
        self.init = init
        self.callbacks = callbacks

    # ------------------------------------------------------------------ subclass hooks
    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _encode_targets(
        self, y: np.ndarray, dtype: np.dtype, output: _activations.Activation
    ) -> np.ndarray:
        """``y`` as the ``(n_samples, n_output_neurons)`` array the network trains on."""
        raise NotImplementedError

    def _check_validation_targets(self, y_val: Any) -> np.ndarray:
        raise NotImplementedError

    def _default_output_activation(self) -> str:
        raise NotImplementedError

    def _default_loss(self, output_activation: str) -> _losses.Loss:
        raise NotImplementedError

    def _metric_name(self) -> str:
        raise NotImplementedError

    def _score_output(self, output: np.ndarray, y: np.ndarray, sample_weight: Any) -> float:
        """The ``score`` (accuracy or R^2) of the network's raw ``output`` against ``y``."""
        raise NotImplementedError

    def _sample_weight_for(self, y: np.ndarray, sample_weight: Any, incremental: bool) -> Any:
        return sample_weight

    def _stratify_labels(self, y: np.ndarray) -> np.ndarray | None:
        return None

    # ------------------------------------------------------------------ parameters
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if _is_int(sizes):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(
                "hidden_layer_sizes must be an int or a sequence of ints such as (100,) or "
                f"(64, 32), got {self.hidden_layer_sizes!r}"
            ) from None
        if not all(_is_int(s) and s >= 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}"
            )
        return [int(s) for s in sizes]

    def _validate_hyperparameters(self) -> None:
        """One clear error per bad hyperparameter (checked in ``fit``, never in ``__init__``)."""

        def choose(name: str, options: Sequence[str]) -> None:
            value = getattr(self, name)
            if not isinstance(value, str) or value not in options:
                extra = ""
                if name == "solver" and isinstance(value, str) and value.lower() == "l-bfgs":
                    extra = " (scikit-learn spells it 'lbfgs')"
                raise ValueError(
                    f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}{extra}"
                )

        def number(
            name: str,
            low: float,
            high: float = math.inf,
            *,
            low_open: bool = False,
            high_open: bool = False,
            integer: bool = False,
        ) -> None:
            value = getattr(self, name)
            ok_type = _is_int(value) if integer else _is_real(value)
            if not ok_type:
                kind = "an integer" if integer else "a number"
                raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
            too_low = value <= low if low_open else value < low
            too_high = value >= high if high_open else value > high
            if too_low or too_high or (not integer and not math.isfinite(value)):
                left = "(" if low_open else "["
                right = ")" if high_open or math.isinf(high) else "]"
                upper = "inf" if math.isinf(high) else f"{high:g}"
                raise ValueError(f"{name} must be in {left}{low:g}, {upper}{right}, got {value!r}")

        self._hidden_sizes()
        choose("solver", SOLVERS)
        choose("learning_rate", SCHEDULES)
        number("alpha", 0.0)
        auto_batch = isinstance(self.batch_size, str) and self.batch_size == "auto"
        if not auto_batch and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise ValueError(
                f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}"
            )
        number("learning_rate_init", 0.0, low_open=True)
        number("power_t", 0.0)
        number("max_iter", 1, integer=True)
        number("tol", 0.0)
        number("momentum", 0.0, 1.0, high_open=True)
        number("validation_fraction", 0.0, 1.0, high_open=True)
        number("beta_1", 0.0, 1.0, high_open=True)
        number("beta_2", 0.0, 1.0, high_open=True)
        number("epsilon", 0.0, low_open=True)
        number("n_iter_no_change", 1, integer=True)
        number("max_fun", 1, integer=True)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.init not in (None, "glorot", "he"):
            raise ValueError(f"init must be 'glorot', 'he' or None, got {self.init!r}")
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError(
                "early_stopping=True needs validation_fraction > 0 (or validation_data in fit)"
            )
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise TypeError(
                "callbacks must be a list of formicary.Callback objects or functions "
                f"f(net, epoch, logs), got {type(self.callbacks).__name__}"
            )

    def _uses_schedule(self) -> bool:
        """Whether ``learning_rate`` applies (as in scikit-learn, not to Adam)."""
        return self.solver in ("sgd", "rmsprop")

    def _resolve_batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(_AUTO_BATCH, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got `batch_size` ({self.batch_size}) larger than the number of samples "
                f"({n_samples}). It is going to be clipped",
                stacklevel=4,
            )
        return int(min(self.batch_size, n_samples))

    def _optimizer_settings(self) -> tuple[Any, ...]:
        return (
            self.solver,
            self.learning_rate_init,
            self.momentum,
            self.nesterovs_momentum,
            self.beta_1,
            self.beta_2,
            self.epsilon,
        )

    def _make_optimizer(self) -> _optimizers.Optimizer:
        if self.solver == "sgd":
            return _optimizers.SGD(
                self.learning_rate_init,
                momentum=self.momentum,
                nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
            )
        if self.solver == "adam":
            return _optimizers.Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        return _optimizers.RMSprop(self.learning_rate_init, epsilon=self.epsilon)

    # Loss names that mean "the natural loss for the output layer" (scikit-learn's defaults).
    _automatic_losses: tuple[str, ...] = ()

    def _resolve_loss(self) -> _losses.Loss:
        out_name = self.network_.output_activation.name
        if self.loss is None or (
            isinstance(self.loss, str) and self.loss in self._automatic_losses
        ):
            return self._default_loss(out_name)
        try:
            return _losses.get(self.loss)
        except ValueError as exc:
            raise ValueError(f"loss: {exc}") from None

    # ------------------------------------------------------------------ fitting
    def _initialize(
        self,
        n_features: int,
        n_outputs: int,
        dtype: np.dtype,
        seed: int,
        output: _activations.Activation,
    ) -> None:
        """Build a fresh network and reset every fitted attribute."""
        hidden = self._hidden_sizes()
        activation = self.activation
        if isinstance(activation, (list, tuple)):
            activation = list(activation)
        self.network_ = MLP(
            [n_features, *hidden, n_outputs],
            activation=activation,
            output_activation=output,
            seed=seed,
            dtype=dtype,
            init=self.init,
        )
        out_name = self.network_.output_activation.name
        self.out_activation_ = SKLEARN_ACTIVATION_NAMES.get(out_name, out_name)
        self.n_layers_ = len(hidden) + 2
        self.n_outputs_ = n_outputs
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.validation_loss_curve_: list[float] | None = None
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
        self._best_parameters: list[np.ndarray] | None = None
        self._optimizer: _optimizers.Optimizer | None = None
        self._optimizer_key: tuple[Any, ...] | None = None
        self._learning_rate_now = float(self.learning_rate_init)

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        validation_data: Any = None,
        incremental: bool = False,
    ) -> BaseMLP:
        self._validate_hyperparameters()
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True; set early_stopping=False "
                "(or use fit)"
            )
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be >= 0 (negative weights are not supported)")
        sample_weight = self._sample_weight_for(y, sample_weight, incremental)
        if sample_weight is not None and not np.any(sample_weight > 0):
            raise ValueError("sample_weight is zero for every sample; nothing to learn from")
        if first_pass:
            output = _activations.get(
                self._default_output_activation()
                if self.output_activation is None
                else self.output_activation
            )
        else:
            output = self.network_.output_activation
        targets = self._encode_targets(y, X.dtype, output)
        random_state = check_random_state(self.random_state)
        if first_pass:
            seed = random_state.randint(_SEED_BOUND)
            self._initialize(X.shape[1], targets.shape[1], X.dtype, seed, output)
        elif targets.shape[1] != self.network_.n_outputs:
            raise ValueError(
                f"y has {targets.shape[1]} output(s) but the fitted network has "
                f"{self.network_.n_outputs}; fit again without warm_start to change the outputs"
            )
        elif self.network_.sizes[1:-1] != self._hidden_sizes():
            raise ValueError(
                f"hidden_layer_sizes is now {self._hidden_sizes()} but the fitted network has "
                f"{self.network_.sizes[1:-1]}; fit without warm_start to change the network's shape"
            )
        self._training_loss = self._resolve_loss()
        validation = None
        if validation_data is not None:
            validation = self._check_validation_data(validation_data, X.dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, targets, sample_weight, validation)
        else:
            self._fit_stochastic(
                X, y, targets, sample_weight, validation, incremental, random_state
            )
        if not all(np.isfinite(p).all() for p in self.network_.parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed (e.g. with StandardScaler)"
            )
        self._record_metadata()
        return self

    def _check_validation_data(
        self, validation_data: Any, dtype: np.dtype
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X_val, y_val, targets_val)`` from the user's ``validation_data=(X_val, y_val)``."""
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        X_val = validate_data(self, validation_data[0], reset=False, dtype=dtype)
        y_val = self._check_validation_targets(validation_data[1])
        if len(y_val) != X_val.shape[0]:
            raise ValueError(
                f"validation_data has {X_val.shape[0]} rows in X_val but {len(y_val)} in y_val"
            )
        return X_val, y_val, self._encode_targets(y_val, dtype, self.network_.output_activation)

    def _user_callbacks(self) -> list[Any]:
        return list(self.callbacks) if self.callbacks else []

    def _fit_stochastic(
        self,
        X: np.ndarray,
        y: np.ndarray,
        targets: np.ndarray,
        sample_weight: np.ndarray | None,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        incremental: bool,
        random_state: np.random.RandomState,
    ) -> None:
        sw_val = None
        if validation is None and self.early_stopping:
            index = np.arange(X.shape[0])
            stratify = self._stratify_labels(y)
            try:
                train, val = train_test_split(
                    index,
                    test_size=self.validation_fraction,
                    random_state=random_state,
                    stratify=stratify,
                )
            except ValueError:
                if stratify is None:
                    raise
                # A class too rare to stratify: fall back to a plain random split.
                train, val = train_test_split(
                    index, test_size=self.validation_fraction, random_state=random_state
                )
            if val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the "
                    "size of your dataset."
                )
            validation = (X[val], y[val], targets[val])
            if sample_weight is not None:
                sw_val = sample_weight[val]
                sample_weight = sample_weight[train]
            X, y, targets = X[train], y[train], targets[train]
        if validation is not None:
            if self.validation_scores_ is None:
                self.validation_scores_ = []
            if self.validation_loss_curve_ is None:
                self.validation_loss_curve_ = []

        n_samples = X.shape[0]
        batch_size = self._resolve_batch_size(n_samples)
        settings = self._optimizer_settings()
        reuse = self._optimizer is not None and (incremental or settings == self._optimizer_key)
        if not reuse:
            self._optimizer = self._make_optimizer()
            self._optimizer_key = settings
            self._learning_rate_now = float(self.learning_rate_init)
        optimizer = self._optimizer
        assert optimizer is not None
        mean_weight = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        rules = SklearnRules(
            self,
            optimizer,
            n_samples=n_samples,
            batch_size=batch_size,
            alpha=float(self.alpha),
            mean_weight=mean_weight,
            validation=None if validation is None else (validation[0], validation[1], sw_val),
            incremental=incremental,
        )
        self.n_iter_ = 0
        history = self.network_.fit(
            X,
            targets,
            loss=self._training_loss,
            optimizer=optimizer,
            epochs=1 if incremental else int(self.max_iter),
            batch_size=batch_size,
            shuffle=bool(self.shuffle),
            validation_data=None if validation is None else (validation[0], validation[2]),
            callbacks=[rules, *self._user_callbacks()],
            metric=self._metric_name(),
            sample_weight=sample_weight,
            seed=random_state.randint(_SEED_BOUND),
        )
        self.history_ = history
        if history.interrupted:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        elif rules.reached_max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _fit_lbfgs(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        sample_weight: np.ndarray | None,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    ) -> None:
        if validation is not None:
            self.validation_scores_ = self.validation_scores_ or []
            self.validation_loss_curve_ = self.validation_loss_curve_ or []
        loss = self._training_loss

        def record(value: float) -> None:
            self.loss_curve_.append(value)
            if self.verbose:
                print(f"Iteration {len(self.loss_curve_)}, loss = {value:.8f}")
            if validation is not None:
                X_val, y_val, t_val = validation
                output = self.network_.predict(X_val)
                assert self.validation_loss_curve_ is not None
                assert self.validation_scores_ is not None
                self.validation_loss_curve_.append(loss.value(output, t_val))
                self.validation_scores_.append(self._score_output(output, y_val, None))

        self.n_iter_, self.loss_ = fit_lbfgs(
            self.network_,
            X,
            targets,
            loss=loss,
            sample_weight=sample_weight,
            alpha=float(self.alpha),
            max_iter=int(self.max_iter),
            max_fun=int(self.max_fun),
            tol=float(self.tol),
            on_iteration=record,
            callbacks=self._user_callbacks(),
        )
        if self.loss_curve_:
            self.best_loss_ = min(self.loss_curve_)

    def _record_metadata(self) -> None:
        """Note in the network's metadata (saved with ``network_.save``) where it came from."""
        info: dict[str, Any] = {"estimator": type(self).__name__}
        classes = getattr(self, "classes_", None)
        if classes is not None:
            with contextlib.suppress(TypeError, ValueError):
                info["classes"] = json.loads(json.dumps(np.asarray(classes).tolist()))
        self.network_.metadata["sklearn"] = info

    # ------------------------------------------------------------------ prediction
    def _forward(self, X: Any) -> np.ndarray:
        """The network's output ``a^(L)`` for validated ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.predict(X)

    # ------------------------------------------------------------------ attributes
    @property
    def coefs_(self) -> list[np.ndarray]:
        """``coefs_[i]`` is scikit-learn's ``(n_in, n_out)`` view of ``W^(i+1)``, i.e. ``W^T``.

        The lecture's ``(n_out, n_in)`` matrices are ``network_.layers[i].weights``;
        these are transposed views of the same arrays.
        """
        check_is_fitted(self)
        return [layer.weights.T for layer in self.network_.layers]

    @coefs_.setter
    def coefs_(self, values: Sequence[np.ndarray]) -> None:
        check_is_fitted(self)
        layers = self.network_.layers
        if len(values) != len(layers):
            raise ValueError(f"coefs_ needs {len(layers)} arrays, got {len(values)}")
        for layer, value in zip(layers, values, strict=True):
            value = np.asarray(value)
            if value.shape != (layer.n_in, layer.n_out):
                raise ValueError(
                    f"coefs_ arrays have shape (n_in, n_out) = {(layer.n_in, layer.n_out)}, "
                    f"got {value.shape}"
                )
            np.copyto(layer.weights, value.T)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """``intercepts_[i]`` is the bias vector ``b^(i+1)`` (the network's own array)."""
        check_is_fitted(self)
        return [layer.bias for layer in self.network_.layers]

    @intercepts_.setter
    def intercepts_(self, values: Sequence[np.ndarray]) -> None:
        check_is_fitted(self)
        layers = self.network_.layers
        if len(values) != len(layers):
            raise ValueError(f"intercepts_ needs {len(layers)} arrays, got {len(values)}")
        for layer, value in zip(layers, values, strict=True):
            value = np.asarray(value)
            if value.shape != (layer.n_out,):
                raise ValueError(
                    f"intercepts_ arrays have shape ({layer.n_out},), got {value.shape}"
                )
            np.copyto(layer.bias, value)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # Store the network as plain arrays and activation specs: activations built by
        # factories (leaky_relu's slope) or registered by users are closures that
        # pickle cannot store by reference.
        state = dict(super().__getstate__())
        net = state.get("network_")
        if isinstance(net, MLP):
            state["network_"] = {
                "__formicary_network__": 1,
                "layers": [
                    (layer.weights, layer.bias, layer.activation.spec) for layer in net.layers
                ],
                "metadata": net.metadata,
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        net = state.get("network_")
        if isinstance(net, dict) and net.get("__formicary_network__"):
            layers = [
                Dense(
                    weights.shape[1],
                    weights.shape[0],
                    _activations.get(spec),
                    weights=weights,
                    bias=bias,
                    dtype=weights.dtype,
                )
                for weights, bias, spec in net["layers"]
            ]
            rebuilt = MLP(layers)
            rebuilt.metadata = dict(net["metadata"])
            state = {**state, "network_": rebuilt}
        super().__setstate__(state)
