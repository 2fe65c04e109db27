"""Input checks shared by the public API: one clear error that says what is wrong and how to fix it."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_inputs",
    "check_n_features",
    "check_sample_weight",
    "check_targets",
    "resolve_dtype",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def resolve_dtype(dtype: Any) -> np.dtype:
    """``"float32"``/``"float64"`` (or the NumPy types) as a dtype; anything else is refused."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {resolved}")
    return resolved


def _describe_nonfinite(array: np.ndarray, name: str) -> str:
    bad = ~np.isfinite(array)
    count = int(bad.sum())
    where = np.argwhere(bad)[0]
    position = f"row {where[0]}" + (f", column {where[1]}" if len(where) > 1 else "")
    kinds = []
    if np.isnan(array).any():
        kinds.append("NaN")
    if np.isinf(array).any():
        kinds.append("inf")
    return (
        f"{name} contains {count} non-finite value(s) ({'/'.join(kinds)}), the first at {position}; "
        "drop or impute those rows first"
    )


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN/inf in ``array``."""
    # A sum of all elements is NaN/inf exactly when some element is (or when it overflows:
    # check element by element then). For a contiguous float array the sum of squares
    # x . x is one BLAS call, several times faster than np.sum on small arrays.
    if not array.size:
        return
    if array.size >= 4096 and array.dtype in FLOAT_DTYPES and array.flags.c_contiguous:
        flat = array.reshape(-1)
        with np.errstate(over="ignore"):  # huge finite values: checked one by one below
            total = np.dot(flat, flat)
    else:
        total = np.add.reduce(array, axis=None)
    if not np.isfinite(total) and not np.isfinite(array).all():
        raise ValueError(_describe_nonfinite(array, name))


def as_float_array(
    data: Any,
    name: str,
    dtype: np.dtype | None = None,
    ndim: int = 2,
    allow_empty: bool = False,
) -> np.ndarray:
    """Convert ``data`` (array, list, DataFrame) to a finite float array.

    Float32 and float64 inputs keep their dtype unless ``dtype`` is given;
    integers and booleans become ``dtype`` (float64 by default). Text and
    objects raise ``TypeError``.
    """
    if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be read as a numeric array: {exc}") from exc
    if array.dtype.kind in "OUSV" or array.dtype.kind == "M":
        if array.dtype.kind == "O":
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name} contains non-numeric values (dtype object); "
                    "encode text columns as numbers first"
                ) from None
        else:
            raise TypeError(
                f"{name} contains non-numeric values (dtype {array.dtype}); "
                "encode text columns as numbers first"
            )
    if array.dtype.kind == "c":
        raise TypeError(f"{name} is complex; Formicary works on real numbers")
    if dtype is not None:
        target = dtype
    elif array.dtype in FLOAT_DTYPES:
        target = array.dtype
    else:
        target = np.dtype(np.float64)
    if array.dtype != target:
        array = array.astype(target)
    if array.ndim != ndim:
        if ndim == 2 and array.ndim == 1:
            raise ValueError(
                f"{name} must be 2-D (samples as rows, features as columns) but is 1-D with "
                f"shape {array.shape}; use {name}.reshape(-1, 1) for one feature or "
                f"{name}.reshape(1, -1) for one sample"
            )
        raise ValueError(f"{name} must be {ndim}-D but has shape {array.shape}")
    if not allow_empty and (array.shape[0] == 0 or array.size == 0):
        raise ValueError(f"{name} is empty (shape {array.shape}); give at least one sample")
    check_finite(array, name)
    return array


def check_inputs(X: Any, n_features: int, dtype: np.dtype | None = None) -> np.ndarray:
    """Inputs for a network whose first layer ``W^(1)`` takes ``n_features`` inputs."""
    return check_n_features(as_float_array(X, "X", dtype=dtype), n_features)


def check_n_features(X: np.ndarray, n_features: int) -> np.ndarray:
    """The column-count check of :func:`check_inputs` alone, for an already checked 2-D array."""
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} feature(s) per sample but layer 1 expects {n_features} "
            f"(its weights W^(1) take {n_features} inputs); give X with {n_features} columns"
        )
    return X


def check_targets(y: Any, n_samples: int, n_outputs: int, dtype: np.dtype, loss: str) -> np.ndarray:
    """Targets as a ``(n_samples, n_outputs)`` float array matching the output layer.

    A 1-D ``y`` is a column when the output layer has one neuron; with several
    output neurons and categorical cross-entropy, 1-D integer labels
    ``0..n_outputs-1`` are one-hot encoded.
    """
    y_arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if y_arr.dtype.kind in "OUSV":
        raise TypeError(
            f"y contains non-numeric values (dtype {y_arr.dtype}); encode labels as integers "
            "(or use formicary.sklearn.MLPClassifier, which encodes string labels)"
        )
    if y_arr.ndim == 1 and n_outputs > 1:
        labels = y_arr
        if loss == "categorical_cross_entropy" and labels.size:
            if not np.all(np.isfinite(labels)):
                check_finite(labels.astype(np.float64), "y")
            if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_outputs:
                raise ValueError(
                    f"y holds 1-D labels but they are not integers in 0..{n_outputs - 1}, one per "
                    f"output neuron; give one-hot targets of shape (n_samples, {n_outputs})"
                )
            onehot = np.zeros((labels.shape[0], n_outputs), dtype=dtype)
            onehot[np.arange(labels.shape[0]), labels.astype(np.intp)] = 1
            y_arr = onehot
        else:
            raise ValueError(
                f"y is 1-D but the output layer has {n_outputs} neurons; give y of shape "
                f"(n_samples, {n_outputs})"
            )
    if y_arr.ndim == 1:
        y_arr = y_arr.reshape(-1, 1)
    y_arr = as_float_array(y_arr, "y", dtype=dtype, allow_empty=True)
    if y_arr.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but y has {y_arr.shape[0]}; they must have one target "
            "row per sample"
        )
    if y_arr.shape[1] != n_outputs:
        raise ValueError(
            f"y has {y_arr.shape[1]} column(s) but the output layer has {n_outputs} neuron(s); "
            "change the last layer size or the targets"
        )
    probabilistic = loss in ("binary_cross_entropy", "categorical_cross_entropy")
    if probabilistic and (y_arr.min() < 0 or y_arr.max() > 1):
        raise ValueError(
            f"{loss} needs targets in [0, 1] but y ranges over [{y_arr.min():g}, "
            f"{y_arr.max():g}]; encode classes as 0/1 (or one-hot) or use loss='mse'"
        )
    return y_arr


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: np.dtype) -> np.ndarray | None:
    """Non-negative finite weights, one per sample, not all zero."""
    if sample_weight is None:
        return None
    weights = as_float_array(sample_weight, "sample_weight", dtype=dtype, ndim=1, allow_empty=True)
    if weights.shape[0] != n_samples:
        raise ValueError(f"sample_weight has {weights.shape[0]} entries but X has {n_samples} rows")
    if (weights < 0).any():
        raise ValueError("sample_weight must be >= 0")
    if not weights.any():
        raise ValueError("sample_weight is zero for every sample; nothing to learn from")
    return weights
