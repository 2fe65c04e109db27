"""The training loop: epochs of shuffled mini-batches, each one step of the optimizer.

For every mini-batch the network runs forward, backpropagates the error and
updates its weights by the optimizer's rule (the lecture's ``w = w - eta de/dw``
for plain SGD). After each epoch the training and validation loss and metric
go into a :class:`History`; callbacks and early stopping see them.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import backend as _backend
from formicary import losses as _losses
from formicary import metrics as _metrics
from formicary import optimizers as _optimizers
from formicary.callbacks import Callback, EarlyStopping, as_callback
from formicary.validation import as_float_array, check_inputs, check_sample_weight, check_targets

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = ["History", "TrainingDivergedError", "fit"]


class TrainingDivergedError(ValueError):
    """The loss or the weights stopped being finite numbers during training."""


def diverged(
    epoch: int, learning_rate: float, what: str, batch: int | None = None
) -> TrainingDivergedError:
    """The error for a run whose loss or weights stopped being finite (epochs count from 0)."""
    where = f"epoch {epoch + 1}" + (f" (batch {batch + 1})" if batch is not None else "")
    return TrainingDivergedError(
        f"training diverged in {where}: {what}. The weights were reset to the start of that "
        f"epoch. Lower the learning rate (now {learning_rate:g}) or standardise the inputs"
    )


@dataclass
class History:
    """Per-epoch record of a :meth:`MLP.fit` run.

    Attributes
    ----------
    loss, val_loss : list of float
        Mean training loss of each epoch (averaged over its batches) and the
        validation loss after it (empty without a validation set).
    metric, val_metric : list of float
        The metric named ``metric_name`` (accuracy or R^2), likewise.
    learning_rate, seconds : list of float
        The learning rate and wall time of each epoch.
    best_epoch : int or None
        With early stopping: the epoch whose weights were kept.
    stopped_early, interrupted : bool
        Whether early stopping ended training, or Ctrl-C did.
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    metric_name: str | None = None
    loss_name: str = ""
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False

    def record_epoch(
        self,
        *,
        loss: float,
        learning_rate: float,
        seconds: float,
        metric: float | None = None,
        val_loss: float | None = None,
        val_metric: float | None = None,
    ) -> dict[str, Any]:
        """Append one epoch's figures and return them as the ``logs`` callbacks see."""
        logs: dict[str, Any] = {"loss": loss}
        self.loss.append(loss)
        if metric is not None:
            logs[str(self.metric_name)] = metric
            self.metric.append(metric)
        if val_loss is not None:
            logs["val_loss"] = val_loss
            self.val_loss.append(val_loss)
        if val_metric is not None:
            logs[f"val_{self.metric_name}"] = val_metric
            self.val_metric.append(val_metric)
        logs["learning_rate"] = learning_rate
        self.learning_rate.append(learning_rate)
        self.seconds.append(seconds)
        return logs

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def __len__(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and values (JSON-ready)."""
        return {
            "loss": list(self.loss),
            "val_loss": list(self.val_loss),
            "metric": list(self.metric),
            "val_metric": list(self.val_metric),
            "learning_rate": list(self.learning_rate),
            "seconds": list(self.seconds),
            "metric_name": self.metric_name,
            "loss_name": self.loss_name,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def table(self, every: int | None = None) -> str:
        """A text table of the epochs (every ``every``-th row, and the last)."""
        n = len(self.loss)
        if n == 0:
            return "(no epochs)"
        every = every or max(1, n // 10)
        metric = self.metric_name or "metric"
        head = ["epoch", "loss"]
        if self.val_loss:
            head.append("val_loss")
        if self.metric:
            head.append(metric)
        if self.val_metric:
            head.append(f"val_{metric}")
        rows = [head]
        for i in sorted({*range(0, n, every), n - 1}):
            row = [str(i + 1), f"{self.loss[i]:.6f}"]
            if self.val_loss:
                row.append(f"{self.val_loss[i]:.6f}")
            if self.metric:
                row.append(f"{self.metric[i]:.4f}")
            if self.val_metric:
                row.append(f"{self.val_metric[i]:.4f}")
            rows.append(row)
        widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
        return "\n".join(
            "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows
        )

    def __repr__(self) -> str:
        last = f", last loss={self.loss[-1]:.6g}" if self.loss else ""
        return f"History(epochs={len(self.loss)}{last})"


class _Progress:
    """A per-epoch progress bar: tqdm when installed, otherwise occasional plain lines."""

    def __init__(self, epochs: int, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.every = max(1, epochs // 20)
        self.epochs = epochs
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=epochs, unit="epoch", leave=True)

    def update(self, epoch: int, logs: dict[str, Any]) -> None:
        if not self.enabled:
            return
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k != "learning_rate"}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        elif epoch % self.every == 0 or epoch == self.epochs - 1:
            text = "  ".join(f"{k}={v}" for k, v in shown.items())
            print(f"epoch {epoch + 1}/{self.epochs}  {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _split_validation(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction!r}")
    n = X.shape[0]
    n_val = round(n * fraction)
    if n_val < 1 or n - n_val < 1:
        raise ValueError(
            f"validation_split={fraction} of {n} samples leaves an empty training or validation "
            "set; use more data or another fraction"
        )
    order = rng.permutation(n)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    sw = sample_weight[train_idx] if sample_weight is not None else None
    return X[train_idx], y[train_idx], sw, X[val_idx], y[val_idx]


def _evaluate(
    net: MLP, X: np.ndarray, y: np.ndarray, loss: _losses.Loss, metric: str | None
) -> tuple[float, float | None]:
    out = net.predict(X)
    value = loss.value(out, y)
    return value, (_metrics.get(metric)(y, out) if metric else None)


def fit(
    net: MLP,
    X: Any,
    y: Any,
    *,
    loss: str | _losses.Loss = "auto",
    optimizer: str | _optimizers.Optimizer = "sgd",
    learning_rate: float | None = None,
    epochs: int = 100,
    batch_size: int | None = 32,
    shuffle: bool = True,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    early_stopping: bool | EarlyStopping | None = None,
    callbacks: Iterable[Callback | Callable[..., Any]] | None = None,
    metric: str | None = "auto",
    sample_weight: Any = None,
    progress: bool = False,
    seed: int | np.random.Generator | None = None,
) -> History:
    """Train ``net`` on ``(X, y)`` with mini-batch gradient descent.

    Parameters
    ----------
    X : array of shape (n_samples, n_inputs)
        Training inputs, one sample per row. Float32 data trains a float32
        network (the network is converted to the data's dtype).
    y : array of shape (n_samples, n_outputs) or (n_samples,)
        Targets; with softmax outputs, integer labels are one-hot encoded.
    loss : str or Loss
        ``"auto"`` pairs the output activation with its natural loss
        (sigmoid: binary cross-entropy, softmax: categorical cross-entropy,
        otherwise mean squared error).
    optimizer : str or Optimizer
        ``"sgd"``, ``"adam"``, ``"rmsprop"`` or an instance (which keeps its
        state between calls, so repeated ``fit`` calls continue training).
    learning_rate : float, optional
        With an optimizer given by name, its ``eta``.
    epochs : int
        Passes over the training data.
    batch_size : int or None
        Samples per step; ``None`` for full-batch gradient descent.
    shuffle : bool
        Reshuffle the samples every epoch.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch.
    validation_split : float
        Otherwise, this fraction of ``(X, y)`` is held out (seeded).
    early_stopping : bool or EarlyStopping
        ``True`` for ``EarlyStopping()`` (patience 10, restores the best weights).
    callbacks : list
        :class:`Callback` objects or functions ``f(net, epoch, logs)``.
    metric : str or None
        ``"auto"``: accuracy for classification losses, R^2 for MSE.
    sample_weight : array of shape (n_samples,), optional
        Relative weight of each sample in the loss.
    progress : bool
        Show a progress bar (tqdm when installed).
    seed : int or numpy.random.Generator, optional
        Makes shuffling and the validation split reproducible.

    Returns
    -------
    History
        Also kept as ``net.history``. Ctrl-C stops training cleanly, keeping the
        weights learnt so far (``history.interrupted`` is then True).
    """
    from formicary.network import _resolve_loss

    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
    ):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    X = as_float_array(
        X, "X", dtype=None if getattr(X, "dtype", None) in (np.float32, np.float64) else net.dtype
    )
    if X.dtype != net.dtype:
        net.astype(X.dtype)
    X = check_inputs(X, net.n_inputs)
    loss = _resolve_loss(net, loss)
    y = check_targets(y, X.shape[0], net.n_outputs, X.dtype, loss.name)
    weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    if isinstance(optimizer, str):
        kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
        optimizer = _optimizers.get(optimizer, **kwargs)
    else:
        optimizer = _optimizers.get(optimizer)
        if learning_rate is not None:
            raise TypeError("learning_rate goes to the optimizer object when you pass one")

    X_val = y_val = None
    if validation_data is not None:
        if validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        X_val = check_inputs(
            as_float_array(validation_data[0], "X_val", dtype=X.dtype), net.n_inputs
        )
        y_val = check_targets(validation_data[1], X_val.shape[0], net.n_outputs, X.dtype, loss.name)
    elif validation_split:
        X, y, weights, X_val, y_val = _split_validation(X, y, weights, validation_split, rng)
    has_val = X_val is not None

    metric_name, hooks, stopper = run_hooks(net, loss, metric, callbacks, early_stopping, has_val)

    n = X.shape[0]
    size = n if batch_size is None else min(int(batch_size), n)
    prepare_kernels(net, epochs * -(-n // size))
    history = History(metric_name=metric_name, loss_name=loss.name)
    net.history = history
    net.stop_training = False
    progress_bar = _Progress(epochs, progress)
    if shuffle:
        x_buffer = np.empty((size, X.shape[1]), dtype=X.dtype)
        y_buffer = np.empty((size, y.shape[1]), dtype=y.dtype)
        w_buffer = np.empty(size, dtype=X.dtype) if weights is not None else None
    start_logs: dict[str, Any] = {"epochs": epochs, "samples": n, "batch_size": size}
    for hook in hooks:
        hook.on_train_begin(net, start_logs)
    order = index = None
    # The weights at the start of each epoch, to put back if training diverges
    # (one buffer reused every epoch: no allocation per epoch).
    snapshot = [np.empty_like(p) for p in net.parameters()]
    try:
        for epoch in range(epochs):
            began = time.perf_counter()
            optimizer.set_epoch(epoch)
            for hook in hooks:
                hook.on_epoch_begin(net, epoch, {"learning_rate": optimizer.learning_rate})
            for saved, param in zip(snapshot, net.parameters(), strict=True):
                np.copyto(saved, param)
            if shuffle:
                order = None  # free last epoch's order before drawing the next one
                index = None
                order = rng.permutation(n)
            metric_sum = _metrics.Accumulator(metric_name, y) if metric_name else None
            tally = EpochTally(net, optimizer, epoch, snapshot, metric_sum, hooks, began)
            for batch, start in enumerate(range(0, n, size)):
                stop = min(start + size, n)
                m = stop - start
                if order is None:
                    xb, yb = X[start:stop], y[start:stop]
                    wb = weights[start:stop] if weights is not None else None
                else:
                    # Gather the batch's rows into reused buffers (the data set is
                    # never copied). The indices are a permutation, always in range:
                    # mode="clip" skips the bounds check's extra buffering, ~2x faster.
                    index = order[start:stop]
                    xb = np.take(X, index, axis=0, out=x_buffer[:m], mode="clip")
                    yb = np.take(y, index, axis=0, out=y_buffer[:m], mode="clip")
                    wb = None
                    if weights is not None and w_buffer is not None:
                        wb = np.take(weights, index, out=w_buffer[:m], mode="clip")
                value, out = net.train_step(xb, yb, loss, optimizer, wb)
                if tally.add(batch, value, out, yb, wb):
                    break
            val_loss = val_metric = None
            if has_val:
                val_loss, val_metric = _evaluate(net, X_val, y_val, loss, metric_name)
            if tally.close(history, progress_bar, val_loss, val_metric):
                break
    except KeyboardInterrupt:
        interrupted(history, progress)
    finally:
        progress_bar.close()
    return finish(net, history, hooks, stopper)


def prepare_kernels(net: MLP, steps: float) -> None:
    """Load the compiled kernels (:mod:`formicary.backend`) if this run is long enough to gain from them."""
    _backend.kernels(load=_backend.worth_loading(steps, net.parameter_count))


def run_hooks(
    net: MLP,
    loss: _losses.Loss,
    metric: str | None,
    callbacks: Any,
    early_stopping: bool | EarlyStopping,
    has_validation: bool,
) -> tuple[str | None, list[Callback], EarlyStopping | None]:
    """The metric's name and the callbacks of a run, early stopping (if asked) last."""
    metric_name = _metrics.default_for(loss, net.n_outputs) if metric == "auto" else metric
    if metric_name is not None:
        _metrics.get(metric_name)
    hooks = [as_callback(c) for c in (callbacks or [])]
    stopper: EarlyStopping | None = None
    if early_stopping:
        stopper = early_stopping if isinstance(early_stopping, EarlyStopping) else EarlyStopping()
        stopper.resolve(has_validation)
        hooks.append(stopper)
    return metric_name, hooks, stopper


class EpochTally:
    """The bookkeeping of one epoch, shared by in-memory and streamed training.

    After each batch, :meth:`add` sums the loss weighted by the batch's share
    of the samples, ``e = sum_b n_b e_b / sum_b n_b``, stops a diverging run
    (putting back the weights the epoch started from), updates the metric and
    calls the ``on_batch_end`` hooks. :meth:`close` checks the weights, records
    the epoch in the history and calls the ``on_epoch_end`` hooks.
    """

    def __init__(
        self,
        net: MLP,
        optimizer: _optimizers.Optimizer,
        epoch: int,
        snapshot: list[np.ndarray],
        metric: Any,
        hooks: list[Callback],
        began: float,
    ) -> None:
        self.net, self.optimizer, self.epoch = net, optimizer, epoch
        self.snapshot, self.metric, self.hooks = snapshot, metric, hooks
        self.total_loss = self.total_weight = 0.0
        self.began = began  # time.perf_counter() when the epoch started

    def add(
        self,
        batch: int,
        value: float,
        out: np.ndarray,
        yb: np.ndarray,
        wb: np.ndarray | None,
    ) -> bool:
        """Account for one batch's loss ``value`` and output ``out``; True when training should stop."""
        m = yb.shape[0]
        share = float(wb.sum()) if wb is not None else float(m)
        self.total_loss += value * share
        self.total_weight += share
        if not math.isfinite(value):
            self.net.set_parameters(self.snapshot)
            raise diverged(
                self.epoch, self.optimizer.learning_rate, f"the loss became {value}", batch
            )
        if self.metric is not None:
            self.metric.update(yb, out)
        for hook in self.hooks:
            hook.on_batch_end(self.net, batch, {"loss": value, "size": m})
        return self.net.stop_training

    def close(
        self,
        history: History,
        progress_bar: _Progress,
        val_loss: float | None,
        val_metric: float | None,
    ) -> bool:
        """Finish the epoch (weights checked, history, hooks, progress); True when training should stop."""
        net, optimizer = self.net, self.optimizer
        if not all(np.isfinite(p).all() for p in net.parameters()):
            net.set_parameters(self.snapshot)
            raise diverged(self.epoch, optimizer.learning_rate, "the weights are no longer finite")
        logs = history.record_epoch(
            loss=self.total_loss / max(self.total_weight, 1e-300),
            metric=self.metric.result() if self.metric is not None else None,
            val_loss=val_loss,
            val_metric=val_metric,
            learning_rate=optimizer.learning_rate,
            seconds=time.perf_counter() - self.began,
        )
        for hook in self.hooks:
            hook.on_epoch_end(net, self.epoch, logs)
        progress_bar.update(self.epoch, logs)
        return net.stop_training


def interrupted(history: History, progress: bool) -> None:
    """Ctrl-C: mark the history and keep the weights learnt so far."""
    history.interrupted = True
    if progress:
        print(
            f"\ninterrupted after {len(history.loss)} epoch(s); keeping the weights learnt so far",
            file=sys.stderr,
        )


def finish(
    net: MLP, history: History, hooks: list[Callback], stopper: EarlyStopping | None
) -> History:
    """Close a training run: early-stopping results, ``on_train_end`` hooks, the stop flag."""
    if stopper is not None:
        history.stopped_early = stopper.stopped_epoch is not None
        history.best_epoch = stopper.best_epoch if stopper.best_epoch >= 0 else None
    for hook in hooks:
        hook.on_train_end(net, {"epochs": len(history.loss)})
    net.stop_training = False
    return history
