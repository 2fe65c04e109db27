"""Tabular preprocessing: from a table's columns to the network's input vector ``x``.

A :class:`Preprocessor` is fitted once on the training table and stored as
JSON inside the model file (``formicary.save(net, path, extra={"preprocessing":
pre.to_dict()})``), so that prediction and evaluation apply exactly the same
transformation:

* a numeric feature ``v`` becomes ``x_k = (v - c_k) / s_k`` with
  ``c_k`` the training mean and ``s_k`` the standard deviation (``standard``
  scaling; ``minmax`` uses the minimum and the range instead, so that pixels
  keep a common unit; ``none`` keeps ``v``);
* a categorical (text) feature with categories ``g_1..g_m`` becomes ``m``
  one-hot inputs ``x = [v == g_1, ..., v == g_m]`` (a category never seen in
  training gives all zeros);
* the target is either class labels, encoded as ``0..K-1`` in the order
  :func:`target_kind` gives: numbers in increasing order, text sorted, and a
  pandas categorical column in its categories' order, even when they look
  like numbers (the network's outputs ``a^(L)`` are class probabilities), or a number
  ``t`` standardised as ``(t - c) / s`` for regression (predictions are mapped
  back with ``c + s * a^(L)``).

Every problem is one ``ValueError`` that names the column and the row:
missing cells, text in a numeric column, a single class, unseen labels,
columns the table lacks. Rows are numbered from 1 in messages (the first data
row after the header is row 1).

Stored layout (``to_dict``)::

    {"format": "formicary-tabular", "version": 1, "scaling": "standard",
     "features": [{"name": "age", "kind": "numeric", "center": 39.1, "scale": 12.4},
                  {"name": "colour", "kind": "categorical", "categories": ["blue", "red"]}],
     "inputs": ["age", "colour=blue", "colour=red"],
     "mean": [39.1, 0.0, 0.0], "scale": [12.4, 1.0, 1.0],   # per input (for serving graphs)
     "target": {"name": "species", "task": "classification", "classes": ["a", "b"]}
            or {"name": "price", "task": "regression", "center": 3.1, "scale": 0.7}}
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

try:
    import pandas as pd
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "tabular preprocessing needs pandas; install it with: pip install 'formicary[cli]'"
    ) from exc

__all__ = [
    "CLASSIFICATION_MAX_INTEGER_LEVELS",
    "FORMAT",
    "MAX_CATEGORIES",
    "MAX_CLASSES",
    "CategoricalFeature",
    "NumericFeature",
    "Preprocessor",
    "Target",
    "as_text",
    "center_and_scale",
    "check_category_count",
    "check_class_count",
    "check_regression_target",
    "describe_missing",
    "feature_kind",
    "infer_task",
    "is_numeric",
    "json_value",
    "missing_rows",
    "numeric_values",
    "target_kind",
]

FORMAT = "formicary-tabular"
VERSION = 1
SCALINGS = ("standard", "minmax", "none")
MAX_CLASSES = 100
MAX_CATEGORIES = 50
CLASSIFICATION_MAX_INTEGER_LEVELS = 20
_SHOWN = 3  # how many offending cells a message names


def _row(index: Any) -> str:
    """The 1-based row number shown to people for a DataFrame index label."""
    try:
        return str(int(index) + 1)
    except (TypeError, ValueError):
        return repr(index)


def json_value(value: Any) -> Any:
    """A class label as a plain JSON value (``numpy.int64(3)`` -> ``3``).

    Parameters
    ----------
    value : bool, int, float, NumPy scalar or any other label
        One class label as read from a table.

    Returns
    -------
    bool, int, float or str
        Booleans stay booleans, whole numbers become ``int`` (``3.0`` -> ``3``),
        other numbers ``float``, anything else its ``str``.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        as_float = float(value)
        return int(as_float) if as_float.is_integer() else as_float
    return str(value)


# ---------------------------------------------------------------------- missing cells
def missing_rows(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Boolean mask of the rows where any of ``columns`` is empty/NaN/inf."""
    mask = np.zeros(len(frame), dtype=bool)
    for name in columns:
        column = frame[name]
        mask |= column.isna().to_numpy()
        if column.dtype.kind == "f":
            mask |= np.isinf(column.to_numpy())
    return mask


def describe_missing(frame: pd.DataFrame, columns: Sequence[str], source: str) -> str | None:
    """A one-line description of the empty cells of ``columns``, or ``None`` when there are none."""
    cells: list[tuple[int, int, str]] = []
    total = 0
    for position, name in enumerate(columns):
        column = frame[name]
        bad = column.isna().to_numpy()
        if column.dtype.kind == "f":
            bad = bad | np.isinf(column.to_numpy())
        count = int(bad.sum())
        if count:
            total += count
            for index in np.flatnonzero(bad)[:_SHOWN]:
                cells.append((int(index), position, name))
    if not total:
        return None
    cells.sort()
    shown = ", ".join(
        f"row {_row(frame.index[i])} column {name!r}" for i, _, name in cells[:_SHOWN]
    )
    rows = int(missing_rows(frame, columns).sum())
    more = f" and {total - _SHOWN} more" if total > _SHOWN else ""
    return f"{source} has {total} missing or non-finite value(s) in {rows} row(s): {shown}{more}"


# ---------------------------------------------------------------------- columns
def numeric_values(column: pd.Series, source: str, *, remedy: str | None = None) -> np.ndarray:
    """A column's values as float64, or a ValueError naming the first non-numeric cells.

    Parameters
    ----------
    column : pandas.Series
        A column of numbers, or of text holding numbers.
    source : str
        Where the column comes from (a file name), for the error message.
    remedy : str, optional
        How to fix non-numeric cells, ending the message (default: fix them,
        or treat the column as a category with ``--categorical``).

    Returns
    -------
    numpy.ndarray
        The values as float64, one per row.

    Raises
    ------
    ValueError
        When a cell holds text that is not a number; the message names its row.
    """
    if column.dtype.kind in "biuf":
        return column.to_numpy(dtype=np.float64)
    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        positions = np.flatnonzero(bad)
        shown = ", ".join(
            f"row {_row(column.index[i])} holds {column.iloc[i]!r}" for i in positions[:_SHOWN]
        )
        more = f" (and {len(positions) - _SHOWN} more)" if len(positions) > _SHOWN else ""
        if remedy is None:
            remedy = (
                f"fix those cells, or treat the column as a category (--categorical {column.name})"
            )
        raise ValueError(
            f"column {column.name!r} of {source} is numeric but {shown}{more}; {remedy}"
        )
    return converted.to_numpy(dtype=np.float64)


def _looks_numeric(column: pd.Series) -> tuple[bool, float]:
    """Whether a text column is numbers (``True``) and the share of cells that parse."""
    present = column.dropna()
    if present.empty:
        return True, 1.0
    parsed = pd.to_numeric(present, errors="coerce").notna().to_numpy()
    share = float(parsed.mean())
    return share == 1.0, share


def as_text(column: pd.Series) -> pd.Series:
    """Category values as strings (``1`` and ``"1"`` are the same category).

    Parameters
    ----------
    column : pandas.Series
        A column of categories or class labels.

    Returns
    -------
    pandas.Series
        The values as ``str``; whole floats lose their ``.0`` (``1.0`` -> ``"1"``).
    """
    if column.dtype.kind == "f":
        values = column.to_numpy()
        text = [str(int(v)) if np.isfinite(v) and float(v).is_integer() else str(v) for v in values]
        return pd.Series(text, index=column.index, dtype=object)
    return column.astype(str)


# ---------------------------------------------------------------------- specs
@dataclass
class NumericFeature:
    """A number column, scaled as ``x = (v - center) / scale``."""

    name: str
    center: float = 0.0
    scale: float = 1.0
    kind: str = "numeric"

    @property
    def inputs(self) -> list[str]:
        return [self.name]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "center": self.center, "scale": self.scale}


@dataclass
class CategoricalFeature:
    """A text column, one-hot encoded over ``categories``."""

    name: str
    categories: list[str] = field(default_factory=list)
    kind: str = "categorical"

    @property
    def inputs(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.categories]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "categories": list(self.categories)}


@dataclass
class Target:
    """The predicted column: class labels or a standardised number."""

    name: str
    task: str
    classes: list[Any] = field(default_factory=list)
    center: float = 0.0
    scale: float = 1.0

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """Output neurons: 1 for regression and binary, K for K > 2 classes."""
        if self.task == "regression" or self.n_classes == 2:
            return 1
        return self.n_classes

    def to_dict(self) -> dict[str, Any]:
        if self.task == "classification":
            return {"name": self.name, "task": self.task, "classes": list(self.classes)}
        return {"name": self.name, "task": self.task, "center": self.center, "scale": self.scale}


def infer_task(column: pd.Series) -> tuple[str, str]:
    """``("classification" | "regression", reason)`` for a target column.

    Text, booleans and categories are classes; numbers with a fractional part
    are a regression target; whole numbers with at most 20 distinct values
    are class labels, with more they are a quantity to regress.
    """
    present = column.dropna()
    if column.dtype.kind == "b" or isinstance(column.dtype, pd.CategoricalDtype):
        return "classification", "the target column holds categories"
    if column.dtype.kind not in "iuf":
        numeric, _ = _looks_numeric(column)
        if not numeric:
            return "classification", "the target column holds text labels"
        present = pd.to_numeric(present, errors="coerce")
    values = present.to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size and np.any(values != np.round(values)):
        return "regression", "the target column holds fractional numbers"
    levels = np.unique(values).size
    if levels <= CLASSIFICATION_MAX_INTEGER_LEVELS:
        return "classification", f"the target column holds {levels} distinct whole numbers"
    return (
        "regression",
        f"the target column holds {levels} distinct whole numbers "
        f"(more than {CLASSIFICATION_MAX_INTEGER_LEVELS})",
    )


# ---------------------------------------------------------------------- the preprocessor
class Preprocessor:
    """Feature scaling, one-hot encoding and target encoding fitted on a training table.

    Parameters
    ----------
    features : list of NumericFeature or CategoricalFeature
        In the order their inputs appear in ``x``.
    target : Target or None
    scaling : {"standard", "minmax", "none"}

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"size": [1.0, 3.0], "colour": ["red", "blue"], "y": ["a", "b"]})
    >>> pre = Preprocessor.fit(table, target="y")
    >>> pre.input_names
    ['size', 'colour=blue', 'colour=red']
    >>> pre.transform(table).tolist()
    [[-1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """

    def __init__(
        self,
        features: Sequence[NumericFeature | CategoricalFeature],
        target: Target | None = None,
        scaling: str = "standard",
    ) -> None:
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
        if not features:
            raise ValueError("there are no feature columns to learn from")
        self.features = list(features)
        self.target = target
        self.scaling = scaling
        self._numeric_index = [i for i, f in enumerate(self.features) if f.kind == "numeric"]

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        target: str | None,
        *,
        task: str = "auto",
        scaling: str = "standard",
        features: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
        categorical: Iterable[str] = (),
        max_categories: int = MAX_CATEGORIES,
        source: str = "the data",
    ) -> Preprocessor:
        """Learn the preprocessing of ``frame``.

        Parameters
        ----------
        frame : DataFrame
            The training table (without missing cells: drop them first).
        target : str or None
            The column to predict (``None`` for inputs only).
        task : {"auto", "classification", "regression"}
            ``"auto"`` infers it with :func:`infer_task`.
        scaling : {"standard", "minmax", "none"}
        features : list of str, optional
            The feature columns (default: every column except the target and ``exclude``).
        exclude : list of str
            Columns to ignore (identifiers, free text, leaks of the target).
        categorical : list of str
            Columns to one-hot encode even though they hold numbers.
        max_categories : int
            A text column with more distinct values is refused (it is
            probably an identifier or free text).
        source : str
            Names the table in error messages.
        """
        from formicary.tabular import check_columns

        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
        if task not in ("auto", "classification", "regression"):
            raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
        columns = [str(c) for c in frame.columns]
        exclude = list(exclude)
        categorical = list(categorical)
        check_columns(exclude, columns, source)
        check_columns(categorical, columns, source)
        if target is not None:
            check_columns([target], columns, source, role="target column")
        if features is None:
            names = [c for c in columns if c != target and c not in exclude]
        else:
            names = list(features)
            check_columns(names, columns, source, role="feature column")
            if target in names:
                raise ValueError(f"column {target!r} is the target; it cannot also be a feature")
        if not names:
            raise ValueError(
                f"{source} has no feature columns besides the target {target!r}; "
                "a network needs at least one input"
            )
        if len(frame) == 0:
            raise ValueError(f"{source} has no rows to learn from")
        problem = describe_missing(frame, [*names, *([target] if target else [])], source)
        if problem:
            raise ValueError(f"{problem}; fill them in or drop those rows")

        specs: list[NumericFeature | CategoricalFeature] = []
        for name in names:
            column = frame[name]
            if feature_kind(column, source, categorical=name in categorical) == "numeric":
                values = numeric_values(column, source)
                specs.append(NumericFeature(name, *center_and_scale(values, scaling)))
                continue
            levels = sorted(set(as_text(column)))
            check_category_count(name, len(levels), source, limit=max_categories)
            specs.append(CategoricalFeature(name, levels))
        fitted_target = None
        if target is not None:
            fitted_target = _fit_target(frame[target], task, source)
        return cls(specs, fitted_target, scaling)

    # ------------------------------------------------------------------ properties
    @property
    def feature_names(self) -> list[str]:
        """The table columns the preprocessing reads, in order."""
        return [f.name for f in self.features]

    @property
    def text_columns(self) -> list[str]:
        """Columns to read as text (the categorical ones)."""
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def input_names(self) -> list[str]:
        """The names of the network's inputs ``x_1..x_n`` (``colour=red`` for one-hot inputs)."""
        return [name for f in self.features for name in f.inputs]

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def task(self) -> str | None:
        return self.target.task if self.target is not None else None

    # ------------------------------------------------------------------ transforming
    def transform(
        self,
        frame: pd.DataFrame,
        dtype: Any = np.float64,
        source: str = "the data",
        unknown: dict[str, set[str]] | None = None,
    ) -> np.ndarray:
        """The network inputs ``X`` (one row per table row) in ``dtype``.

        Parameters
        ----------
        frame : DataFrame
            Must hold every column in :attr:`feature_names` (others are ignored).
        dtype : float32 or float64
        source : str
            Names the table in error messages.
        unknown : dict, optional
            Filled with ``column -> categories not seen in training`` (they
            are encoded as all zeros).
        """
        from formicary.tabular import check_columns
        from formicary.validation import resolve_dtype

        dtype = resolve_dtype(dtype)
        check_columns(
            self.feature_names, [str(c) for c in frame.columns], source, role="feature column"
        )
        problem = describe_missing(frame, self.feature_names, source)
        if problem:
            raise ValueError(f"{problem}; fill them in or drop those rows")
        n = len(frame)
        X = np.zeros((n, self.n_inputs), dtype=dtype)
        offset = 0
        for spec in self.features:
            column = frame[spec.name]
            if isinstance(spec, NumericFeature):
                values = numeric_values(column, source)
                X[:, offset] = (values - spec.center) / spec.scale
                offset += 1
                continue
            text = as_text(column).to_numpy()
            lookup = {c: i for i, c in enumerate(spec.categories)}
            codes = np.fromiter((lookup.get(v, -1) for v in text), dtype=np.intp, count=n)
            known = codes >= 0
            if unknown is not None and not known.all():
                unknown.setdefault(spec.name, set()).update(map(str, text[~known]))
            X[np.flatnonzero(known), offset + codes[known]] = 1
            offset += len(spec.categories)
        return X

    # ------------------------------------------------------------------ targets
    def _need_target(self) -> Target:
        if self.target is None:
            raise ValueError("this preprocessing has no target column")
        return self.target

    def encode_target(self, column: pd.Series, source: str = "the data") -> np.ndarray:
        """Class indices ``0..K-1`` (int64) or the standardised regression target (float64)."""
        target = self._need_target()
        problem = describe_missing(column.to_frame(), [column.name], source)
        if problem:
            raise ValueError(f"{problem}; fill them in or drop those rows")
        if target.task == "regression":
            values = numeric_values(column, source)
            return (values - target.center) / target.scale
        return _class_codes(column, target.classes, source)

    def network_targets(self, codes: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
        """What the output layer is trained towards: a column for 1 output, one-hot for K."""
        target = self._need_target()
        if target.task == "regression" or target.n_outputs == 1:
            return np.asarray(codes, dtype=dtype).reshape(-1, 1)
        onehot = np.zeros((codes.shape[0], target.n_classes), dtype=dtype)
        onehot[np.arange(codes.shape[0]), codes] = 1
        return onehot

    def class_indices(self, outputs: np.ndarray) -> np.ndarray:
        """Predicted class index per row: ``a >= 0.5`` for one output, else the arg-max."""
        self._need_target()
        if outputs.shape[1] == 1:
            return (outputs[:, 0] >= 0.5).astype(np.intp)
        return outputs.argmax(axis=1)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Per-class probabilities ``(n, K)``; one sigmoid output ``p`` gives ``[1 - p, p]``."""
        target = self._need_target()
        if target.task != "classification":
            raise ValueError("probabilities exist only for classification models")
        if outputs.shape[1] == 1:
            return np.column_stack([1 - outputs[:, 0], outputs[:, 0]])
        return outputs

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs ``a^(L)`` to predictions: class labels, or ``c + s * a`` for regression."""
        target = self._need_target()
        if target.task == "regression":
            column = outputs[:, 0]  # c + s * a keeps the network's dtype
            return (target.center + target.scale * column).astype(column.dtype, copy=False)
        labels = np.empty(len(target.classes), dtype=object)
        labels[:] = target.classes
        return labels[self.class_indices(outputs)]

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready description stored in a model file."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "scaling": self.scaling,
            "features": [f.to_dict() for f in self.features],
            "inputs": self.input_names,
            "mean": self.input_centers(),
            "scale": self.input_scales(),
            "target": self.target.to_dict() if self.target is not None else None,
        }

    def input_centers(self) -> list[float]:
        """Per network input, the ``c_k`` of ``x_k = (u_k - c_k) / s_k`` (0 for one-hot inputs).

        ``u`` is the row with numeric columns as they are and text columns
        one-hot encoded: what a serving graph (e.g. ONNX export) takes.
        """
        return [
            value
            for f in self.features
            for value in ([f.center] if isinstance(f, NumericFeature) else [0.0] * len(f.inputs))
        ]

    def input_scales(self) -> list[float]:
        """Per network input, the ``s_k`` of ``x_k = (u_k - c_k) / s_k`` (1 for one-hot inputs)."""
        return [
            value
            for f in self.features
            for value in ([f.scale] if isinstance(f, NumericFeature) else [1.0] * len(f.inputs))
        ]

    @classmethod
    def from_dict(cls, data: Any) -> Preprocessor:
        """Rebuild from :meth:`to_dict`; raises ``ValueError`` for anything malformed."""
        bad = "the model's preprocessing metadata is malformed"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{bad} (not {FORMAT} data)")
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise ValueError(
                f"the model's preprocessing is version {data.get('version')!r}, newer than this "
                f"Formicary reads ({VERSION}); upgrade formicary"
            )
        try:
            specs: list[NumericFeature | CategoricalFeature] = []
            for item in data["features"]:
                if item["kind"] == "numeric":
                    center, scale = float(item["center"]), float(item["scale"])
                    if not (math.isfinite(center) and math.isfinite(scale) and scale > 0):
                        raise ValueError("bad scale")
                    specs.append(NumericFeature(str(item["name"]), center, scale))
                elif item["kind"] == "categorical":
                    specs.append(
                        CategoricalFeature(str(item["name"]), [str(c) for c in item["categories"]])
                    )
                else:
                    raise ValueError(f"unknown feature kind {item['kind']!r}")
            target = None
            raw = data.get("target")
            if raw is not None:
                if raw["task"] == "classification":
                    classes = list(raw["classes"])
                    if len(classes) < 2:
                        raise ValueError("fewer than two classes")
                    target = Target(str(raw["name"]), "classification", classes)
                elif raw["task"] == "regression":
                    target = Target(
                        str(raw["name"]),
                        "regression",
                        center=float(raw["center"]),
                        scale=float(raw["scale"]),
                    )
                else:
                    raise ValueError(f"unknown task {raw['task']!r}")
            return cls(specs, target, str(data.get("scaling", "standard")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{bad} ({exc})") from None

    def __repr__(self) -> str:
        kinds = [f.kind for f in self.features]
        target = (
            f", target={self.target.name!r} ({self.target.task})" if self.target is not None else ""
        )
        return (
            f"Preprocessor({kinds.count('numeric')} numeric, {kinds.count('categorical')} "
            f"categorical -> {self.n_inputs} inputs{target})"
        )


def is_numeric(column: pd.Series) -> bool:
    """Whether a column holds numbers: a numeric dtype, or text in which every cell parses.

    Parameters
    ----------
    column : pandas.Series
        Any column of a table.

    Returns
    -------
    bool
        ``True`` for a boolean, integer or float column, and for a text column
        (object, string or categorical) whose every present cell parses as a
        number; ``False`` otherwise (dates, for example).
    """
    if column.dtype.kind in "biuf":
        return True
    if column.dtype.kind != "O" and not pd.api.types.is_string_dtype(column.dtype):
        return False
    numeric, _ = _looks_numeric(column)
    return numeric


def feature_kind(column: pd.Series, source: str = "the data", *, categorical: bool = False) -> str:
    """Whether a feature column is a number ``v`` scaled to one input or categories one-hot encoded.

    The one rule for a table loaded whole (:meth:`Preprocessor.fit`) and for
    ``formicary train --stream``, which applies it to a file's first
    ``--sample-rows`` rows.

    Parameters
    ----------
    column : pandas.Series
        The feature column, without empty cells (its first rows, when a file
        is read in chunks).
    source : str
        Names the table in the error message.
    categorical : bool
        The column is named by ``--categorical``: categories even when it
        holds numbers (codes such as ``007``).

    Returns
    -------
    {"numeric", "categorical"}
        ``"numeric"`` when :func:`is_numeric` holds (numbers, booleans, or text
        whose every cell is a number) and the column is not ``categorical``;
        ``"categorical"`` otherwise: text, dates, or ``categorical``.

    Raises
    ------
    ValueError
        When at least half of the cells are numbers but some are not: most
        likely numbers with typing errors, so the message names those cells
        and offers ``--categorical`` if they really are categories.
    """
    if categorical:
        return "categorical"
    if is_numeric(column):
        return "numeric"
    _, share = _looks_numeric(column)
    if share >= 0.5:
        numeric_values(column, source)  # raises for text cells (dates convert, and stay categories)
    return "categorical"


class _Summary(Protocol):
    """What :func:`center_and_scale` reads of a column: a NumPy array has these methods."""

    def mean(self) -> Any: ...
    def std(self) -> Any: ...
    def min(self) -> Any: ...
    def max(self) -> Any: ...


def center_and_scale(values: np.ndarray | _Summary, scaling: str) -> tuple[float, float]:
    """``(c, s)`` of a numeric column's scaling ``x = (v - c) / s``.

    ``standard``: the mean and the population standard deviation
    ``sqrt(sum_i (v_i - mean)^2 / n)``; ``minmax``: the minimum and the range;
    ``none``: ``(0, 1)``. A constant column (zero or non-finite spread) keeps
    ``s = 1``.

    Parameters
    ----------
    values : numpy.ndarray or summary
        The column's values, or any object with the same ``mean()``, ``std()``
        (population), ``min()`` and ``max()`` methods: ``formicary train
        --stream`` passes statistics gathered chunk by chunk, so that a file
        read in chunks is scaled by the same rule as a table loaded whole.
    scaling : {"standard", "minmax", "none"}

    Returns
    -------
    tuple of float
        ``(center, scale)``; only the statistics the scaling needs are read.
    """
    if scaling == "none":
        return 0.0, 1.0
    if scaling == "minmax":
        low, high = float(values.min()), float(values.max())
        return low, (high - low) if high > low else 1.0
    center = float(values.mean())
    spread = float(values.std())
    return center, spread if spread > 0 and math.isfinite(spread) else 1.0


def _counted(count: int, rows: int | None) -> str:
    """``"137 distinct values"``, and ``" in its first 20,000 rows"`` while a file is read."""
    where = "" if rows is None else f" in its first {rows:,} rows"
    return f"{count:,} distinct values{where}"


def check_category_count(
    name: str, count: int, source: str, *, limit: int = MAX_CATEGORIES, rows: int | None = None
) -> None:
    """Refuse a text column with more than ``limit`` categories to one-hot encode.

    Parameters
    ----------
    name : str
        The column.
    count : int
        Its distinct values.
    source : str
        Names the table in the message.
    limit : int
        The most categories one-hot encoded (:data:`MAX_CATEGORIES` by default).
    rows : int, optional
        While a file is read in chunks, the rows read so far: ``count`` is
        then of those rows, and the message says so.

    Raises
    ------
    ValueError
        When ``count > limit``; the column is probably an identifier or free
        text, and the message says how to leave it out.
    """
    if count <= limit:
        return
    raise ValueError(
        f"column {name!r} of {source} holds text with {_counted(count, rows)}, too many to "
        f"one-hot encode (limit {limit}); it looks like an identifier or free text: "
        f"leave it out with --exclude {name}"
    )


def check_class_count(
    name: str, classes: Collection[Any], source: str, *, rows: int | None = None
) -> None:
    """Refuse a classification target with a single class or more than :data:`MAX_CLASSES`.

    Parameters
    ----------
    name : str
        The target column.
    classes : collection
        Its distinct labels.
    source : str
        Names the table in the message.
    rows : int, optional
        While a file is read in chunks, the rows read so far: ``classes`` are
        then those of these rows, so only the upper limit is checked (more
        classes may follow) and the message names the rows.

    Raises
    ------
    ValueError
        With fewer than two classes, or more than :data:`MAX_CLASSES` (a
        quantity to regress rather than classes).
    """
    count = len(classes)
    if rows is None and count < 2:
        only = next(iter(classes), None)
        raise ValueError(
            f"target column {name!r} of {source} holds a single class ({only!r}); "
            "classification needs at least two classes: check the column or the rows kept"
        )
    if count <= MAX_CLASSES:
        return
    raise ValueError(
        f"target column {name!r} of {source} holds {_counted(count, rows)}, too many classes "
        f"(limit {MAX_CLASSES}); if it is a quantity, use --task regression"
    )


def target_kind(column: pd.Series) -> str:
    """How a classification target's labels are read, which decides the order of the classes.

    The classes ``0..K-1`` of the output layer follow this order, both for a
    table loaded whole and for ``formicary train --stream``.

    Parameters
    ----------
    column : pandas.Series
        The target column (its first rows, when a file is read in chunks).

    Returns
    -------
    {"bool", "categorical", "numeric", "text"}
        ``"bool"``: a boolean column, classes ``False`` then ``True``;
        ``"categorical"``: a pandas categorical column (e.g. a Parquet
        dictionary column), classes its categories as text in the
        categories' order, even when they look like numbers (``"3", "1",
        "2"`` stay in that order); ``"numeric"``: numbers, or text whose every
        cell is a number, classes the numbers in increasing order (``2``
        before ``10``); ``"text"``: anything else, classes sorted as text.
    """
    if column.dtype.kind == "b":
        return "bool"
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical"
    if is_numeric(column):
        return "numeric"
    return "text"


def check_regression_target(column: pd.Series) -> None:
    """Refuse a regression target that is not numbers.

    Parameters
    ----------
    column : pandas.Series
        The target column (its first rows, when a file is read in chunks).

    Raises
    ------
    ValueError
        Unless :func:`is_numeric` holds: numbers, booleans, or text or
        categories whose every cell is a number.
    """
    if not is_numeric(column):
        raise ValueError(
            f"target column {str(column.name)!r} holds text, which cannot be regressed; "
            "use --task classification (or leave --task to be inferred)"
        )


def _fit_target(column: pd.Series, task: str, source: str) -> Target:
    """The target of a column: standardised for regression, or classes in target_kind's order."""
    name = str(column.name)
    inferred, _ = infer_task(column)
    task = inferred if task == "auto" else task
    if task == "regression":
        check_regression_target(column)
        values = numeric_values(column, source)
        center, scale = center_and_scale(values, "standard")
        return Target(name, "regression", center=center, scale=scale)
    kind = target_kind(column)
    if kind == "numeric":
        values = numeric_values(column, source)
        classes: list[Any] = [json_value(v) for v in np.unique(values)]
    elif kind == "bool":
        classes = [v for v in (False, True) if (column == v).any()]
    elif kind == "categorical":
        present = set(column.dropna().astype(str))
        classes = [str(c) for c in column.cat.categories if str(c) in present]
    else:
        classes = sorted(set(as_text(column)))
    check_class_count(name, classes, source)
    return Target(name, "classification", classes)


def _class_codes(column: pd.Series, classes: Sequence[Any], source: str) -> np.ndarray:
    """Class indices of a label column; unseen labels raise naming the row."""
    numeric_classes = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes)
    if numeric_classes and column.dtype.kind != "b" and is_numeric(column):
        values = numeric_values(column, source)
        known = np.asarray(classes, dtype=np.float64)
        codes = np.searchsorted(known, values)
        codes = np.clip(codes, 0, len(known) - 1)
        ok = known[codes] == values
    else:
        lookup = {str(c): i for i, c in enumerate(classes)}
        text = as_text(column).to_numpy()
        codes = np.fromiter((lookup.get(v, -1) for v in text), dtype=np.intp, count=len(text))
        ok = codes >= 0
    if not ok.all():
        positions = np.flatnonzero(~ok)
        shown = ", ".join(
            f"{column.iloc[i]!r} (row {_row(column.index[i])})" for i in positions[:_SHOWN]
        )
        known_list = ", ".join(repr(c) for c in classes[:12])
        raise ValueError(
            f"target column {column.name!r} of {source} holds label(s) the model never saw: "
            f"{shown}; the model knows {known_list}"
        )
    return codes.astype(np.intp)
