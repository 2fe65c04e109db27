"""scikit-learn's training rules on top of Formicary's training loop.

The core loop (:func:`formicary.training.fit`) runs the epochs of mini-batch
steps. :class:`SklearnRules` is a :class:`~formicary.Callback` that adds what
scikit-learn's MLP does around them, with the same meaning:

* ``loss_curve_``: each epoch's mean loss plus the L2 term
  ``0.5 * alpha * sum_l ||W^(l)||^2 / n_batch`` (per batch, as scikit-learn adds it);
* the stopping rule: training stops when the training loss has not fallen by
  ``tol`` (or, with early stopping, the validation score has not risen by
  ``tol``) for more than ``n_iter_no_change`` consecutive epochs;
* the ``learning_rate`` schedules: ``"invscaling"`` sets
  ``eta = eta_0 / (t + 1)^power_t`` after every epoch, ``t`` counting the
  samples seen; ``"adaptive"`` divides ``eta`` by 5 instead of stopping, until
  it falls below ``1e-6``;
* early stopping restores the weights of the epoch with the best validation score.

:func:`fit_lbfgs` trains the whole-batch loss with SciPy's L-BFGS-B, taking
the loss and gradients from :meth:`MLP.forward` and :meth:`MLP.backward`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from formicary.callbacks import Callback, as_callback

if TYPE_CHECKING:
    from formicary.losses import Loss
    from formicary.network import MLP
    from formicary.optimizers import Optimizer

__all__ = ["SklearnRules", "fit_lbfgs", "squared_weight_norm"]

# scikit-learn stops the "adaptive" schedule once eta has fallen to this value.
MIN_ADAPTIVE_LEARNING_RATE = 1e-6


def squared_weight_norm(net: MLP) -> float:
    """``sum_l ||W^(l)||^2`` over the weight matrices (biases are not penalised)."""
    total = 0.0
    for layer in net.layers:
        flat = layer.weights.ravel()
        total += float(np.dot(flat, flat))
    return total


class SklearnRules(Callback):
    """scikit-learn's L2 term, loss curve, stopping rule and learning-rate schedule, as a callback.

    Parameters
    ----------
    estimator : BaseMLP
        The estimator whose fitted attributes (``loss_curve_``, ``n_iter_``,
        ``validation_scores_``, ...) are updated after every epoch.
    optimizer : Optimizer
        The optimizer the core loop steps with; its ``learning_rate`` is set
        at the start of every epoch and its ``weight_decay`` before every batch.
    n_samples, batch_size : int
        Training samples per epoch (``t`` grows by this much each epoch) and
        per batch (the last batch may be smaller).
    alpha : float
        scikit-learn's L2 penalty.
    mean_weight : float
        Mean sample weight (1 without weights).
    validation : tuple, optional
        ``(X_val, y_val, sample_weight_val)`` scored with the estimator's
        ``score`` metric (accuracy or R^2) after every epoch.
    incremental : bool
        ``partial_fit``: one epoch, never a convergence warning.

    Notes
    -----
    scikit-learn adds ``(alpha / m_b) W`` to the gradient of a batch of ``m_b``
    samples (``alpha / sum(w_b)`` with sample weights) and
    ``0.5 alpha ||W||^2 / m_b`` to its loss. The optimizer's ``weight_decay``
    ``lambda`` adds ``lambda W``, so before each batch ``lambda`` is set to
    ``alpha / (m_b * mean(w))``, exact without sample weights and with full
    batches. The L2 term of ``loss_curve_`` sums ``0.5 alpha ||W||^2 / (n mean(w))``
    over the weights each batch started from, as scikit-learn does.
    """

    def __init__(
        self,
        estimator: Any,
        optimizer: Optimizer,
        *,
        n_samples: int,
        batch_size: int,
        alpha: float,
        mean_weight: float,
        validation: tuple[np.ndarray, Any, np.ndarray | None] | None,
        incremental: bool,
    ) -> None:
        self.estimator = estimator
        self.optimizer = optimizer
        self.n_samples = n_samples
        self.validation = validation
        self.incremental = incremental
        self.n_batches = -(-n_samples // batch_size)
        last_size = n_samples - (self.n_batches - 1) * batch_size
        self.decay = alpha / (batch_size * mean_weight)
        self.last_decay = alpha / (last_size * mean_weight)
        self.penalty_per_norm = 0.5 * alpha / (n_samples * mean_weight)
        self.penalty = 0.0
        self.stopped = False
        self.reached_max_iter = False

    def _add_penalty(self, net: MLP) -> None:
        if self.penalty_per_norm:
            self.penalty += self.penalty_per_norm * squared_weight_norm(net)

    def on_epoch_begin(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
        # The core loop has applied the optimizer's (constant) schedule; impose ours.
        self.optimizer.learning_rate = self.estimator._learning_rate_now
        self.optimizer.weight_decay = self.decay if self.n_batches > 1 else self.last_decay
        self.penalty = 0.0
        self._add_penalty(net)

    def on_batch_end(self, net: MLP, batch: int, logs: dict[str, Any]) -> None:
        if batch + 1 < self.n_batches:
            self._add_penalty(net)
        if batch + 2 == self.n_batches:
            self.optimizer.weight_decay = self.last_decay

    def on_epoch_end(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
        est = self.estimator
        loss = float(logs["loss"]) + self.penalty
        est.loss_ = loss
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += self.n_samples
        if "val_loss" in logs:
            est.validation_loss_curve_.append(float(logs["val_loss"]))
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            X_val, y_val, sw_val = self.validation
            score = est._score_output(net.predict(X_val), y_val, sw_val)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
        self._count_no_improvement(net)
        self._schedule_learning_rate()
        if est._no_improvement_count > est.n_iter_no_change:
            if self._reduce_learning_rate():
                est._no_improvement_count = 0
            else:
                what = "Validation score" if est.early_stopping else "Training loss"
                if est.verbose:
                    print(
                        f"{what} did not improve more than tol={est.tol:f} for "
                        f"{est.n_iter_no_change} consecutive epochs. Stopping."
                    )
                self.stopped = True
                net.stop_training = True
                return
        if not self.incremental and est.n_iter_ == est.max_iter:
            self.reached_max_iter = True

    def on_train_end(self, net: MLP, logs: dict[str, Any]) -> None:
        est = self.estimator
        if est.early_stopping and est._best_parameters is not None:
            net.set_parameters(est._best_parameters)

    # ------------------------------------------------------------------ rules
    def _count_no_improvement(self, net: MLP) -> None:
        est = self.estimator
        if est.early_stopping:
            score = est.validation_scores_[-1]
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_parameters = net.get_parameters()
        else:
            loss = est.loss_curve_[-1]
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(loss, est.best_loss_)

    def _schedule_learning_rate(self) -> None:
        est = self.estimator
        if est._uses_schedule() and est.learning_rate == "invscaling":
            est._learning_rate_now = est.learning_rate_init / (est.t_ + 1) ** est.power_t

    def _reduce_learning_rate(self) -> bool:
        """The ``"adaptive"`` rule: ``eta /= 5`` instead of stopping (True if it did)."""
        est = self.estimator
        if not (est._uses_schedule() and est.learning_rate == "adaptive"):
            return False
        if est._learning_rate_now <= MIN_ADAPTIVE_LEARNING_RATE:
            return False
        est._learning_rate_now /= 5.0
        if est.verbose:
            print(f"Setting learning rate to {est._learning_rate_now:f}")
        return True


def fit_lbfgs(
    net: MLP,
    X: np.ndarray,
    targets: np.ndarray,
    *,
    loss: Loss,
    sample_weight: np.ndarray | None,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    on_iteration: Callable[[float], None],
    callbacks: Sequence[Any] = (),
) -> tuple[int, float]:
    """Minimise the whole-batch loss plus ``0.5 alpha sum ||W||^2 / sum(w)`` with L-BFGS-B.

    The loss and its gradient come from the core: ``net.forward(X, trace=True)``
    then ``net.backward``; the L2 term adds ``alpha W / sum(w)`` to each
    ``de/dW``. ``on_iteration(loss)`` runs after each L-BFGS iteration;
    ``callbacks`` get ``on_train_begin``, ``on_epoch_end`` (one "epoch" per
    iteration, ``logs={"loss": ...}``) and ``on_train_end``, and may stop
    training with ``net.stop_training = True``.

    Returns
    -------
    (n_iter, loss) : the iterations run and the final objective value.
    """
    import scipy.optimize

    params = net.parameters()
    shapes = [p.shape for p in params]
    sizes = [p.size for p in params]
    bounds = np.cumsum([0, *sizes])
    dtype = net.dtype
    weight_sum = float(X.shape[0] if sample_weight is None else sample_weight.sum())
    hooks = [as_callback(c) for c in callbacks]

    def unpack(flat: np.ndarray) -> None:
        net.set_parameters(
            [
                flat[start:stop].reshape(shape).astype(dtype, copy=False)
                for start, stop, shape in zip(bounds[:-1], bounds[1:], shapes, strict=True)
            ]
        )

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        unpack(flat)
        grads = net.backward(net.forward(X, trace=True), targets, loss, sample_weight)
        value = float(grads.loss) + 0.5 * alpha * squared_weight_norm(net) / weight_sum
        last_value[0] = value
        pieces = []
        for layer, d_weights, d_bias in zip(net.layers, grads.weights, grads.bias, strict=True):
            pieces.append((d_weights + (alpha / weight_sum) * layer.weights).ravel())
            pieces.append(d_bias.ravel())
        # Interleave as [dW1, db1, dW2, db2, ...] to match net.parameters().
        return value, np.concatenate(pieces).astype(np.float64)

    iteration = 0
    last_value = [np.nan]

    def after_iteration(intermediate_result: Any) -> None:
        nonlocal iteration
        # SciPy >= 1.11 passes an OptimizeResult; older versions only the point x.
        value = float(getattr(intermediate_result, "fun", last_value[0]))
        on_iteration(value)
        for hook in hooks:
            hook.on_epoch_end(net, iteration, {"loss": value})
        iteration += 1
        if net.stop_training:
            raise StopIteration

    net.stop_training = False
    for hook in hooks:
        hook.on_train_begin(net, {"epochs": max_iter, "samples": X.shape[0]})
    start = np.concatenate([p.ravel() for p in params]).astype(np.float64)
    result = scipy.optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        jac=True,
        callback=after_iteration,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    unpack(result.x)
    stopped_by_user = net.stop_training
    net.stop_training = False
    for hook in hooks:
        hook.on_train_end(net, {"epochs": iteration})
    if not result.success and not stopped_by_user:
        message = result.message
        if isinstance(message, bytes):  # pragma: no cover - old SciPy
            message = message.decode("latin1")
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iteration(s) ({message}). "
            "Increase max_iter (or max_fun), or scale the data, e.g. with StandardScaler",
            ConvergenceWarning,
            stacklevel=3,
        )
    return int(result.nit), float(result.fun)
