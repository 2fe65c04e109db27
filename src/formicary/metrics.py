"""Metrics reported beside the loss: accuracy for classifiers, R^2 for regression.

Targets ``y`` and outputs ``a`` are 2-D, one row per sample, as the network sees them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from formicary import losses as _losses

__all__ = ["Accumulator", "accuracy", "default_for", "get", "r2"]


def _predicted_labels(y: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[1] == 1:
        return (y[:, 0] >= 0.5), (a[:, 0] >= 0.5)
    return y.argmax(axis=1), a.argmax(axis=1)


def accuracy(y: np.ndarray, a: np.ndarray) -> float:
    """Fraction of samples classified right.

    One output neuron: the class is ``a >= 0.5``; several: the arg-max neuron
    (one-hot targets).
    """
    true, pred = _predicted_labels(y, a)
    return float(np.mean(true == pred))


def multilabel_accuracy(y: np.ndarray, a: np.ndarray) -> float:
    """Fraction of samples whose every output (thresholded at 0.5) is right."""
    return float(np.mean(np.all((a >= 0.5) == (y >= 0.5), axis=1)))


def r2(y: np.ndarray, a: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``, averaged over outputs."""
    ss_res = ((y - a) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), 0.0)
    return float(scores.mean())


_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy,
    "multilabel_accuracy": multilabel_accuracy,
    "r2": r2,
}


def get(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """A metric function by name: ``accuracy``, ``multilabel_accuracy``, ``r2``."""
    if name not in _METRICS:
        raise ValueError(f"unknown metric {name!r}. Valid names: {', '.join(sorted(_METRICS))}")
    return _METRICS[name]


def default_for(loss: _losses.Loss, n_outputs: int = 1) -> str:
    """``accuracy`` for the cross-entropies (multilabel when BCE has several outputs), else ``r2``."""
    if loss.name == "categorical_cross_entropy":
        return "accuracy"
    if loss.name == "binary_cross_entropy":
        return "multilabel_accuracy" if n_outputs > 1 else "accuracy"
    return "r2"


class Accumulator:
    """A metric accumulated batch by batch over an epoch, without a second pass."""

    def __init__(self, name: str, y: np.ndarray) -> None:
        get(name)
        self.name = name
        self.count = 0
        self.total = 0.0
        if name == "r2":
            # SS_tot is fixed by the targets: compute it once, accumulate SS_res per batch.
            self.ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)

    def update(self, y: np.ndarray, a: np.ndarray) -> None:
        if self.name == "r2":
            self.total = self.total + ((y - a) ** 2).sum(axis=0)
        elif self.name == "accuracy":
            true, pred = _predicted_labels(y, a)
            self.total += float(np.count_nonzero(true == pred))
        else:
            self.total += float(np.count_nonzero(np.all((a >= 0.5) == (y >= 0.5), axis=1)))
        self.count += y.shape[0]

    def result(self) -> float:
        if self.name == "r2":
            ss_tot = self.ss_tot
            with np.errstate(divide="ignore", invalid="ignore"):
                scores = np.where(ss_tot > 0, 1 - self.total / np.where(ss_tot > 0, ss_tot, 1), 0)
            return float(np.mean(scores))
        return self.total / max(self.count, 1)
