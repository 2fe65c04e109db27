"""What the data commands (``train``, ``evaluate``, ``predict``, ``info``) share.

Consoles for results and notes, JSON written atomically, the check that an
output file can be written, the model file with its preprocessing, and the
checks of the columns and empty cells of the tables it reads. rich and pandas
are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary.atomic import atomic_path
from formicary.cli.common import CLIError, require

if TYPE_CHECKING:
    import pandas as pd

    from formicary.network import MLP
    from formicary.preprocessing import Preprocessor

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DATASET",
    "check_labelled_file",
    "check_model_columns",
    "check_writable",
    "columns_to_read",
    "consoles",
    "handle_missing",
    "json_clean",
    "load_model",
    "missing_mask",
    "note",
    "split_names",
    "warn_unknown",
    "without_missing",
    "write_json",
]

DEFAULT_DATASET = "digits"


DEFAULT_CHUNK_SIZE = 10_000


# ---------------------------------------------------------------------- output helpers
def consoles() -> tuple[Any, Any]:
    """Rich consoles for results (stdout) and progress/notes (stderr)."""
    Console = require("rich.console", "cli").Console

    return Console(), Console(stderr=True)


def note(console: Any, quiet: bool, text: str) -> None:
    """Print ``text`` on ``console`` as it is (no highlighting), unless ``quiet``."""
    if not quiet:
        console.print(text, highlight=False)


def split_names(text: str | None) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]``."""
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` as indented JSON, atomically (a temporary file renamed)."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")


def check_writable(path: Path) -> None:
    """Fail before any work when ``path`` cannot be written."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CLIError(f"{path} is a folder; give a file name such as model.fcy")
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"cannot write {path}: folder {folder} is not writable")


def json_clean(value: Any) -> Any:
    """Floats that JSON can hold (NaN becomes null)."""
    if isinstance(value, dict):
        return {str(k): json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def warn_unknown(err: Any, quiet: bool, unknown: dict[str, set[str]]) -> None:
    """One warning per column that held categories the model never saw."""
    if quiet:
        return
    for column, values in unknown.items():
        listed = ", ".join(sorted(values)[:5])
        err.print(
            f"warning: column {column!r} holds categories unseen in training ({listed}); "
            "they were encoded as all zeros",
            highlight=False,
        )


# ---------------------------------------------------------------------- loading
def load_model(path: Path) -> tuple[MLP, Preprocessor]:
    """The network and its preprocessing; a model saved some other way is refused clearly."""
    import formicary
    from formicary.preprocessing import Preprocessor

    net = formicary.load(path)
    raw = net.metadata.get("preprocessing")
    if raw is None:
        raise CLIError(
            f"{path} is a Formicary network without preprocessing information (it was not made "
            "by `formicary train`); use it from Python: formicary.load(path).predict(X)"
        )
    pre = Preprocessor.from_dict(raw)
    if pre.target is None:
        raise CLIError(f"{path} stores no target column, so it cannot predict or evaluate")
    if pre.n_inputs != net.n_inputs or pre.target.n_outputs != net.n_outputs:
        raise CLIError(
            f"{path} is inconsistent: its preprocessing makes {pre.n_inputs} inputs and "
            f"{pre.target.n_outputs} outputs but the network has {net.n_inputs} and "
            f"{net.n_outputs}; the file is corrupted"
        )
    return net, pre


def check_model_columns(pre: Preprocessor, header: list[str], source: str) -> None:
    """Fail naming the feature columns the model was trained on that ``header`` lacks."""
    missing = [name for name in pre.feature_names if name not in header]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        expected = ", ".join(pre.feature_names[:10])
        if len(pre.feature_names) > 10:
            expected += f", ... ({len(pre.feature_names)} in all)"
        raise CLIError(
            f"{source} lacks column(s) {shown}{more} that the model was trained on; "
            f"the model expects the columns: {expected}"
        )


def check_labelled_file(path: Path, pre: Preprocessor, target: str | None = None) -> None:
    """Fail unless the file has the model's feature columns and the ``target`` column.

    ``target`` defaults to the model's target column (``evaluate --target``
    names it when a file calls it differently).
    """
    from formicary import tabular

    assert pre.target is not None
    source = str(path)
    header = tabular.read_columns(path)
    check_model_columns(pre, header, source)
    target = pre.target.name if target is None else target
    tabular.check_columns([target], header, source, role="target column")


def columns_to_read(pre: Preprocessor, target: str | None = None) -> tuple[list[str], list[str]]:
    """``(columns, text_columns)`` to read for training or scoring: the features and ``target``.

    ``target`` defaults to the model's target column; it is read as text when
    the class labels are text.
    """
    assert pre.target is not None
    target = pre.target.name if target is None else target
    text = [*pre.text_columns]
    if pre.target.task == "classification" and _text_classes(pre):
        text.append(target)
    return list(dict.fromkeys([*pre.feature_names, target])), text


def missing_mask(
    frame: pd.DataFrame,
    columns: list[str],
    source: str,
    drop: bool,
    remedy: str = "skip those rows",
) -> np.ndarray:
    """Which rows of ``frame`` have an empty (or non-finite) cell in ``columns``.

    Unless ``drop`` (``--drop-missing``) allows them, such rows are one error
    naming the first cells and saying that ``--drop-missing`` would ``remedy``.
    """
    from formicary.preprocessing import describe_missing, missing_rows

    mask = missing_rows(frame, columns)
    if not drop and mask.any():
        problem = describe_missing(frame, columns, source)
        raise CLIError(f"{problem}; fill them in, or pass --drop-missing to {remedy}")
    return mask


def without_missing(
    frame: pd.DataFrame, columns: list[str], source: str, drop: bool
) -> tuple[pd.DataFrame, int]:
    """``(frame without rows holding empty cells, rows dropped)``; without ``drop`` they are an error."""
    mask = missing_mask(frame, columns, source, drop)
    if not mask.any():
        return frame, 0
    return frame.loc[~mask], int(mask.sum())


def handle_missing(
    frame: pd.DataFrame,
    columns: list[str],
    source: str,
    drop: bool,
    err: Any,
    quiet: bool,
) -> pd.DataFrame:
    """Refuse empty cells naming them, or drop their rows with ``--drop-missing`` and say so."""
    kept, dropped = without_missing(frame, columns, source, drop)
    if dropped:
        if kept.empty:
            raise CLIError(f"every row of {source} has a missing value; nothing is left to use")
        note(err, quiet, f"dropped {dropped:,} row(s) with missing values from {source}")
    return kept


def _text_classes(pre: Preprocessor) -> bool:
    """Whether any class label is text (the target column is then read as text)."""
    assert pre.target is not None
    return any(isinstance(c, str) for c in pre.target.classes)
