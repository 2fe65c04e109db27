"""Metrics accumulated over streamed chunks, and their tables.

``train`` (loaded whole or with ``--stream``) and ``evaluate`` score a
network on data that arrives chunk by chunk: :class:`ClassificationScores`
adds each chunk to a confusion matrix, :class:`RegressionScores` to running
sums of residuals, so that the final accuracy, F1, R^2, MAE and RMSE are those
of all rows at once without holding them. rich is imported inside
:func:`metrics_table`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from formicary.network import MLP
    from formicary.preprocessing import Preprocessor

__all__ = [
    "ClassificationScores",
    "RegressionScores",
    "metrics_table",
    "score_chunk",
    "scores_for",
    "split_metrics",
]


class ClassificationScores:
    """Confusion matrix, accuracy and per-class precision/recall/F1, accumulated chunk by chunk.

    ``confusion[i, j]`` counts rows of true class ``i`` predicted as class ``j``;
    precision_j = C_jj / sum_i C_ij, recall_j = C_jj / sum_k C_jk,
    F1_j = 2 P_j R_j / (P_j + R_j) (0 when undefined).
    """

    def __init__(self, classes: list[Any]) -> None:
        self.classes = list(classes)
        k = len(self.classes)
        self.confusion = np.zeros((k, k), dtype=np.int64)
        self.loss_total = 0.0

    def update(self, true: np.ndarray, predicted: np.ndarray, loss: float | None = None) -> None:
        """Add a chunk: true and predicted class indices, and its mean loss."""
        k = len(self.classes)
        counts = np.bincount(true * k + predicted, minlength=k * k)
        self.confusion += counts.reshape(k, k)
        if loss is not None:
            self.loss_total += loss * true.shape[0]

    @property
    def samples(self) -> int:
        """Rows scored so far."""
        return int(self.confusion.sum())

    def result(self) -> dict[str, Any]:
        """Samples, mean loss, accuracy, macro F1, per-class and averaged scores, the matrix."""
        c = self.confusion.astype(np.float64)
        n = c.sum()
        correct = np.diag(c)
        predicted = c.sum(axis=0)
        actual = c.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, correct / np.where(predicted > 0, predicted, 1), 0)
            recall = np.where(actual > 0, correct / np.where(actual > 0, actual, 1), 0)
            both = precision + recall
            f1 = np.where(both > 0, 2 * precision * recall / np.where(both > 0, both, 1), 0)
        weights = actual / n if n else actual
        return {
            "task": "classification",
            "samples": int(n),
            "loss": self.loss_total / n if n else None,
            "accuracy": float(correct.sum() / n) if n else None,
            "macro_f1": float(f1.mean()),
            "per_class": [
                {
                    "class": cls,
                    "precision": float(p),
                    "recall": float(r),
                    "f1": float(f),
                    "support": int(s),
                }
                for cls, p, r, f, s in zip(self.classes, precision, recall, f1, actual, strict=True)
            ],
            "macro_avg": {
                "precision": float(precision.mean()),
                "recall": float(recall.mean()),
                "f1": float(f1.mean()),
            },
            "weighted_avg": {
                "precision": float((precision * weights).sum()),
                "recall": float((recall * weights).sum()),
                "f1": float((f1 * weights).sum()),
            },
            "classes": list(self.classes),
            "confusion_matrix": self.confusion.tolist(),
        }


class RegressionScores:
    """R^2, MAE and RMSE accumulated chunk by chunk.

    With residuals ``r_i = y_i - y_hat_i`` and ``u_i = y_i - shift`` (shift: the
    training mean, for numerical stability):
    ``SS_res = sum r_i^2``, ``SS_tot = sum u_i^2 - (sum u_i)^2 / n``,
    ``R^2 = 1 - SS_res / SS_tot``, ``MAE = sum |r_i| / n``, ``RMSE = sqrt(SS_res / n)``.
    """

    def __init__(self, shift: float = 0.0) -> None:
        self.shift = shift
        self.n = 0
        self.sum_u = 0.0
        self.sum_u2 = 0.0
        self.ss_res = 0.0
        self.abs_res = 0.0
        self.loss_total = 0.0

    def update(self, true: np.ndarray, predicted: np.ndarray, loss: float | None = None) -> None:
        """Add a chunk: true and predicted values, and its mean loss."""
        true = np.asarray(true, dtype=np.float64)
        residual = true - np.asarray(predicted, dtype=np.float64)
        u = true - self.shift
        self.n += true.shape[0]
        self.sum_u += float(u.sum())
        self.sum_u2 += float((u * u).sum())
        self.ss_res += float((residual * residual).sum())
        self.abs_res += float(np.abs(residual).sum())
        if loss is not None:
            self.loss_total += loss * true.shape[0]

    @property
    def samples(self) -> int:
        """Rows scored so far."""
        return self.n

    def result(self) -> dict[str, Any]:
        """Samples, mean loss, R^2 (``None`` for a constant target), MAE, RMSE and MSE."""
        n = self.n
        if not n:
            return {"task": "regression", "samples": 0}
        ss_tot = self.sum_u2 - self.sum_u**2 / n
        return {
            "task": "regression",
            "samples": n,
            "loss": self.loss_total / n,
            "r2": float(1 - self.ss_res / ss_tot) if ss_tot > 0 else None,
            "mae": self.abs_res / n,
            "rmse": float(np.sqrt(self.ss_res / n)),
            "mse": self.ss_res / n,
        }


def scores_for(pre: Preprocessor) -> ClassificationScores | RegressionScores:
    """Empty scores for the model's task: its classes, or its regression target's centre."""
    target = pre.target
    assert target is not None
    if target.task == "classification":
        return ClassificationScores(target.classes)
    return RegressionScores(target.center)


def score_chunk(
    net: MLP,
    pre: Preprocessor,
    loss: Any,
    scores: ClassificationScores | RegressionScores,
    X: np.ndarray,
    codes: np.ndarray,
) -> None:
    """Run the network on one chunk and add it to ``scores``."""
    outputs = net.predict(X)
    y = pre.network_targets(codes, outputs.dtype)
    value = loss.value(outputs, y)
    target = pre.target
    assert target is not None
    if isinstance(scores, ClassificationScores):
        scores.update(codes, pre.class_indices(outputs), value)
    else:
        true = target.center + target.scale * codes
        scores.update(true, pre.decode(outputs), value)


def split_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a scores result (for the train table and JSON)."""
    keys = (
        ("loss", "accuracy", "macro_f1")
        if result["task"] == "classification"
        else ("loss", "r2", "mae", "rmse")
    )
    return {"samples": result["samples"], **{k: result.get(k) for k in keys}}


def metrics_table(metrics: dict[str, dict[str, Any]], classification: bool) -> Any:
    """A rich table of :func:`split_metrics` results, one column per part (train, validation, ...)."""
    from rich.table import Table

    table = Table(title="results", title_justify="left")
    table.add_column("")
    for part in metrics:
        table.add_column(part, justify="right")
    rows = (
        [
            ("rows", "samples", "{:,}"),
            ("loss", "loss", "{:.4f}"),
            ("accuracy", "accuracy", "{:.2%}"),
            ("macro F1", "macro_f1", "{:.4f}"),
        ]
        if classification
        else [
            ("rows", "samples", "{:,}"),
            ("loss", "loss", "{:.4f}"),
            ("R²", "r2", "{:.4f}"),
            ("MAE", "mae", "{:.4g}"),
            ("RMSE", "rmse", "{:.4g}"),
        ]
    )
    for label, key, fmt in rows:
        cells = []
        for values in metrics.values():
            value = values.get(key)
            cells.append("—" if value is None else fmt.format(value))
        table.add_row(label, *cells)
    return table
