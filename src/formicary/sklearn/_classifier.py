"""``MLPClassifier``: scikit-learn's classifier interface over a Formicary network."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d

from formicary import activations as _activations
from formicary import losses as _losses
from formicary.sklearn._base import BaseMLP, check_stochastic_solver
from formicary.sklearn._compat import validate_data

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multilayer perceptron classifier with scikit-learn's interface, trained by Formicary.

    Minimises the cross-entropy ``e = -sum_k y_k log a_k^(L)`` (plus the L2
    term ``0.5 alpha sum_l ||W^(l)||^2 / n_batch``) over mini-batches. The output
    layer is a softmax for multiclass targets and a sigmoid ("logistic") for
    binary and multilabel targets, unless ``output_activation`` says otherwise.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Neurons in each hidden layer.
    activation : str, Activation or list, default="relu"
        Hidden-layer activation ``sigma``: scikit-learn's ``"identity"``,
        ``"logistic"``, ``"tanh"``, ``"relu"``, any other Formicary activation
        (``"gelu"``, ``"leaky_relu"``, a spec such as
        ``{"name": "leaky_relu", "params": {"slope": 0.1}}``, a name registered
        with :func:`formicary.activations.register`), or a list with one per
        hidden layer.
    solver : {"adam", "sgd", "rmsprop", "lbfgs"}, default="adam"
        The optimizer; see :mod:`formicary.sklearn._base` for the mapping.
    alpha : float, default=0.0001
        L2 penalty; the core optimizer's ``weight_decay`` becomes
        ``alpha / (batch_size * mean(sample_weight))``.
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of ``eta`` for ``"sgd"`` and ``"rmsprop"``.
    learning_rate_init : float, default=0.001
        The initial ``eta``.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    max_iter : int, default=200
        Epochs (L-BFGS: iterations).
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the shuffling and the early-stopping split.
    tol : float, default=1e-4
        Improvement that counts, for the stopping rule.
    verbose : bool, default=False
        Print the loss after every epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights (and optimizer state, when the
        optimizer settings have not changed).
    momentum : float, default=0.9
        SGD momentum ``mu``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for SGD.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) or use
        ``validation_data``, stop when its accuracy stops improving, and keep
        the best weights.
    validation_fraction : float, default=0.1
        Held-out share for early stopping.
    beta_1, beta_2, epsilon : float
        Adam's parameters (``epsilon`` also RMSprop's).
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        L-BFGS: maximum number of loss evaluations.
    output_activation : str or Activation, optional
        Output layer activation (default: softmax for multiclass, sigmoid
        otherwise). ``"softmax"`` for a binary problem uses two output neurons.
    loss : str or Loss, optional
        A :mod:`formicary.losses` loss; default (or ``"log_loss"``) is the
        cross-entropy matching the output activation.
    init : {"glorot", "he"} or None, default="glorot"
        Initial weights: scikit-learn's Glorot-uniform scheme, He's normal
        scheme, or ``None`` for each activation's preferred one.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``.
    callbacks : list, optional
        :class:`formicary.Callback` objects or functions ``f(net, epoch, logs)``
        called by the training loop.

    Attributes
    ----------
    network_ : formicary.MLP
        The trained network (weights in the lecture's ``(n_out, n_in)`` layout);
        use it to explain, plot or save (``network_.save(path)``).
    classes_ : ndarray
        Class labels.
    coefs_, intercepts_ : list of ndarray
        scikit-learn's layout: ``coefs_[i]`` is ``W^(i+1)`` transposed, ``(n_in, n_out)``.
    loss_, loss_curve_, best_loss_ : float, list of float, float
        Training loss (with the L2 term) of the last epoch, every epoch, and the best.
    validation_scores_, best_validation_score_ : list of float, float
        Accuracy on the validation set after every epoch (early stopping or
        ``validation_data``), and the best.
    validation_loss_curve_ : list of float or None
        The validation set's loss (without the L2 term) after every epoch.
    history_ : formicary.History
        The core training loop's record of the last ``fit``/``partial_fit``.
    n_iter_, t_ : int
        Epochs run by the last call; training samples seen in total.
    n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from formicary.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    _kind = "classifier"
    _automatic_losses = ("log_loss", "auto")

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
        class_weight: Any = None,
        callbacks: Any = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            output_activation=output_activation,
            loss=loss,
            init=init,
            callbacks=callbacks,
        )
        self.class_weight = class_weight

    # ------------------------------------------------------------------ public API
    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, validation_data: Any = None
    ) -> MLPClassifier:
        """Train on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (strings or numbers), or a 0/1 indicator matrix for
            multilabel problems.
        sample_weight : array-like of shape (n_samples,), optional
            Relative weight of each sample in the loss.
        validation_data : (X_val, y_val), optional
            Scored after every epoch into ``validation_loss_curve_`` and
            ``validation_scores_``; with ``early_stopping=True`` it replaces the
            ``validation_fraction`` split.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, validation_data, incremental=False)

    @available_if(check_stochastic_solver)
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over ``(X, y)``, continuing from the current weights and optimizer state.

        ``classes`` (every label that will ever appear) is required on the first call.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample (a 0/1 indicator row for multilabel)."""
        return self._labels_from_output(self._forward(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class, columns in the order of ``classes_``."""
        output = self._forward(X)
        n_classes = len(self.classes_)
        if n_classes == 1 and not self._is_multilabel():
            return np.ones((output.shape[0], 1), dtype=output.dtype)
        if self._is_multilabel():
            return np.clip(output, 0.0, 1.0)
        if output.shape[1] == 1:
            positive = np.clip(output[:, 0], 0.0, 1.0)
            return np.column_stack([1.0 - positive, positive])
        if not self.network_.output_activation.elementwise:
            return output  # softmax: already a distribution
        # One-vs-rest outputs (e.g. sigmoid per class): normalise each row.
        scores = np.clip(output, 0.0, 1.0)
        totals = scores.sum(axis=1, keepdims=True)
        uniform = np.full_like(scores, 1.0 / scores.shape[1])
        return np.divide(scores, totals, out=uniform, where=totals > 0)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        probabilities = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(probabilities, out=probabilities)

    # ------------------------------------------------------------------ hooks
    def _is_multilabel(self) -> bool:
        return self._label_binarizer.y_type_.startswith("multilabel")

    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        return X, y

    def _encode_targets(
        self, y: np.ndarray, dtype: np.dtype, output: _activations.Activation
    ) -> np.ndarray:
        targets = self._label_binarizer.transform(y)
        if self._is_multilabel():
            if not output.elementwise:
                raise ValueError(
                    f"output_activation {output.name!r} makes the outputs compete (they sum to "
                    "1), but multilabel targets need an independent probability per label; "
                    "use output_activation='logistic' (the default)"
                )
        elif targets.shape[1] == 1 and not output.elementwise:
            # Binary problem with a softmax output: two neurons, one per class.
            targets = np.hstack([1 - targets, targets])
        return targets.astype(dtype)

    def _check_validation_targets(self, y_val: Any) -> np.ndarray:
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1 and not self._is_multilabel():
            y_val = y_val.ravel()
        if self._is_multilabel():
            if y_val.ndim != 2 or y_val.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y_val must be an indicator matrix with {len(self.classes_)} columns, "
                    f"got shape {y_val.shape}"
                )
            return y_val
        if y_val.ndim != 1:
            raise ValueError(f"y_val must be 1-D class labels, got shape {y_val.shape}")
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(
                f"y_val has classes {unknown.tolist()} that are not in the training data's "
                f"classes {self.classes_.tolist()}"
            )
        return y_val

    def _default_output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _default_loss(self, output_activation: str) -> _losses.Loss:
        return _losses.default_for(output_activation)

    def _metric_name(self) -> str:
        return "multilabel_accuracy" if self._is_multilabel() else "accuracy"

    def _labels_from_output(self, output: np.ndarray) -> np.ndarray:
        two_neuron_binary = (
            not self._is_multilabel()
            and output.shape[1] == 2
            and len(self.classes_) == 2
            and not self.network_.output_activation.elementwise
        )
        if two_neuron_binary:
            return self.classes_[output.argmax(axis=1)]
        return self._label_binarizer.inverse_transform(output)

    def _score_output(self, output: np.ndarray, y: np.ndarray, sample_weight: Any) -> float:
        if not np.isfinite(output).all():
            return float("nan")
        return float(
            accuracy_score(y, self._labels_from_output(output), sample_weight=sample_weight)
        )

    def _sample_weight_for(self, y: np.ndarray, sample_weight: Any, incremental: bool) -> Any:
        if self.class_weight is None:
            return sample_weight
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                f"class_weight={self.class_weight!r} is computed from the whole data set and is "
                "not supported by partial_fit; compute it once with "
                "sklearn.utils.class_weight.compute_class_weight and pass a dict"
            )
        weights = compute_sample_weight(self.class_weight, y)
        dtype = sample_weight.dtype if sample_weight is not None else np.float64
        weights = weights.astype(dtype)
        return weights if sample_weight is None else weights * sample_weight

    def _stratify_labels(self, y: np.ndarray) -> np.ndarray | None:
        return y if y.ndim == 1 else None

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multilabel": True}
