"""Callbacks: code that runs during :meth:`MLP.fit`, and early stopping.

A callback is a :class:`Callback` subclass (override any hook) or a plain
function ``f(net, epoch, logs)`` called after each epoch. ``logs`` holds the
epoch's ``loss``, ``val_loss``, metric values and ``learning_rate``. Set
``net.stop_training = True`` from any hook to stop after the current batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = ["Callback", "EarlyStopping", "LambdaCallback", "as_callback"]


class Callback:
    """Base class: every hook does nothing until overridden."""

    def on_train_begin(self, net: MLP, logs: dict[str, Any]) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
        """Before each epoch (counted from 0)."""

    def on_batch_end(self, net: MLP, batch: int, logs: dict[str, Any]) -> None:
        """After each optimisation step; ``logs`` has the batch ``loss`` and ``size``."""

    def on_epoch_end(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch, with its losses and metrics."""

    def on_train_end(self, net: MLP, logs: dict[str, Any]) -> None:
        """After the last epoch (also after early stopping or Ctrl-C)."""


class LambdaCallback(Callback):
    """Wraps ``f(net, epoch, logs)`` as an epoch-end callback."""

    def __init__(self, on_epoch_end: Callable[[MLP, int, dict[str, Any]], Any]) -> None:
        self._function = on_epoch_end

    def on_epoch_end(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
        self._function(net, epoch, logs)


def as_callback(callback: Callback | Callable[..., Any]) -> Callback:
    """A :class:`Callback` from a callback or a plain function."""
    if isinstance(callback, Callback):
        return callback
    if callable(callback):
        return LambdaCallback(callback)
    raise TypeError(
        f"callbacks must be Callback objects or functions f(net, epoch, logs), "
        f"got {type(callback).__name__}"
    )


class EarlyStopping(Callback):
    """Stop when a monitored quantity stops improving; restore the best weights.

    Parameters
    ----------
    monitor : str
        ``"val_loss"``, ``"loss"``, ``"val_<metric>"`` or ``"<metric>"``;
        ``"auto"`` watches ``val_loss`` when there is a validation set, else ``loss``.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best_weights : bool
        Put back the weights of the best epoch when training ends.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; ``"auto"`` means ``min`` for losses.
    """

    def __init__(
        self,
        monitor: str = "auto",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
        mode: str = "auto",
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best_weights = restore_best_weights
        self.mode = mode
        self.best = math.nan
        self.best_epoch = -1
        self.best_parameters: list[np.ndarray] | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def resolve(self, has_validation: bool) -> None:
        """Fix ``monitor`` and ``mode`` once the training set-up is known."""
        if self.monitor == "auto":
            self.monitor = "val_loss" if has_validation else "loss"
        elif self.monitor.startswith("val_") and not has_validation:
            raise ValueError(
                f"early stopping monitors {self.monitor!r} but there is no validation set; "
                "pass validation_data or validation_split, or monitor 'loss'"
            )
        if self.mode == "auto":
            self.mode = "min" if self.monitor.endswith("loss") else "max"

    def on_train_begin(self, net: MLP, logs: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait, self.stopped_epoch = math.nan, -1, 0, None
        self.best_parameters = None

    def _improved(self, value: float) -> bool:
        if math.isnan(self.best):
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"early stopping monitors {self.monitor!r}, which training does not report; "
                f"available: {', '.join(sorted(logs))}"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_parameters = net.get_parameters()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                net.stop_training = True

    def on_train_end(self, net: MLP, logs: dict[str, Any]) -> None:
        if self.restore_best_weights and self.best_parameters is not None:
            net.set_parameters(self.best_parameters)
