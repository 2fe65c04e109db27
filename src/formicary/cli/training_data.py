"""What ``formicary train`` learns from: its data options, and a table loaded whole.

:class:`DataOptions` gathers the options that say where the data is and how to
read it; both ways of preparing it, :func:`loaded_data` here (the table in
memory, a seeded validation split) and
:func:`formicary.cli.streamed_training_data.streamed_data` (``--stream``),
return a :class:`Prepared`: the fitted preprocessing, row counts, and
functions that train the network and score it on every part. pandas is
imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary.cli.common import CLIError
from formicary.cli.data_common import (
    DEFAULT_DATASET,
    check_labelled_file,
    columns_to_read,
    handle_missing,
    split_names,
)
from formicary.cli.scores import score_chunk, scores_for, split_metrics

if TYPE_CHECKING:
    import pandas as pd

    from formicary.network import MLP
    from formicary.preprocessing import Preprocessor
    from formicary.training import History

__all__ = [
    "DataOptions",
    "Prepared",
    "ask_for_target",
    "categorical_features",
    "feature_columns",
    "loaded_data",
]


@dataclass
class DataOptions:
    """The options of ``train`` that say what to learn from."""

    data: Path | None
    dataset: str | None
    target: str | None
    task: str
    features: str | None
    exclude: str | None
    categorical: str | None
    scale: str
    dtype: str
    samples: int | None
    noise: float | None
    max_rows: int | None
    drop_missing: bool
    validation_data: Path | None
    validation_split: float
    seed: int
    chunk_size: int
    buffer_size: int
    sample_rows: int


@dataclass
class Prepared:
    """What ``train`` needs from its data, whether loaded whole or streamed.

    ``fit(net, **options)`` trains (the options of :meth:`MLP.fit` shared by
    :func:`formicary.streaming.fit_stream`) and ``score(net, loss)`` returns the
    final metrics of every part (``train``, ``validation``, ``test``).
    """

    pre: Preprocessor
    source: str
    spec: dict[str, Any]
    scaling: str
    task_reason: str | None
    rows: dict[str, int]
    fit: Callable[..., History]
    score: Callable[[MLP, Any], dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def feature_columns(
    columns: list[str], target_name: str, options: DataOptions, source: str
) -> list[str]:
    """The feature columns ``train`` uses: ``--features`` (or all but the target) minus ``--exclude``.

    Loaded whole or streamed alike, the target cannot be a feature and at
    least one feature must be left.
    """
    from formicary.tabular import check_columns

    check_columns([target_name], columns, source, role="target column")
    excluded = split_names(options.exclude)
    check_columns(excluded, columns, source, role="column to exclude")
    chosen = split_names(options.features) or [c for c in columns if c != target_name]
    check_columns(chosen, columns, source, role="feature column")
    used = [c for c in chosen if c not in excluded]
    if target_name in used:
        raise CLIError(f"column {target_name!r} is the target; it cannot also be a feature")
    if not used:
        raise CLIError(
            f"{source} has no feature columns besides the target {target_name!r}; "
            "a network needs at least one input"
        )
    return used


def categorical_features(
    columns: list[str], used: list[str], options: DataOptions, source: str
) -> list[str]:
    """The ``--categorical`` columns among the features ``used`` (each must be a column)."""
    from formicary.tabular import check_columns

    categorical = split_names(options.categorical)
    check_columns(categorical, columns, source, role="column to treat as a category")
    return [name for name in categorical if name in used]


def ask_for_target(data: Path | None, source: str) -> CLIError:
    """The error asking for ``--target``, listing the columns of ``data``."""
    from formicary.tabular import read_columns

    columns = ", ".join(read_columns(data)) if data is not None else ""
    return CLIError(
        f"which column of {source} should the network predict? pass --target NAME "
        f"(its columns are: {columns})"
    )


# ---------------------------------------------------------------------- loaded whole
def loaded_data(
    options: DataOptions,
    rng: np.random.Generator,
    err: Any,
    quiet: bool,
    unknown: dict[str, set[str]],
) -> Prepared:
    """Load the table (or built-in set), fit the preprocessing and split off validation rows."""
    from formicary.preprocessing import Preprocessor, infer_task

    frame, test, source, spec, default_scale = _training_data(
        options.data,
        options.dataset,
        options.target,
        options.samples,
        options.noise,
        split_names(options.categorical),
    )
    target_name = options.target if options.target is not None else spec.get("target")
    if target_name is None:
        raise ask_for_target(options.data, source)
    header = [str(c) for c in frame.columns]
    used = feature_columns(header, target_name, options, source)
    categorical = categorical_features(header, used, options, source)
    drop = options.drop_missing
    frame = handle_missing(frame, [*used, target_name], source, drop, err, quiet)
    if test is not None:
        test = handle_missing(test, [*used, target_name], f"{source} (test part)", drop, err, quiet)
    max_rows = options.max_rows
    if max_rows is not None and max_rows < len(frame):
        frame = frame.iloc[np.sort(rng.choice(len(frame), size=max_rows, replace=False))]

    scaling = default_scale if options.scale == "auto" else options.scale
    pre = Preprocessor.fit(
        frame,
        target_name,
        task=options.task,
        scaling=scaling,
        features=used,
        categorical=categorical,
        source=source,
    )
    assert pre.target is not None
    dtype = options.dtype
    X = pre.transform(frame, dtype, source=source)
    codes = pre.encode_target(frame[target_name], source=source)
    reason = infer_task(frame[target_name])[1] if options.task == "auto" else None

    # ---- split off validation rows (seeded), or read the validation file
    n = X.shape[0]
    fraction = options.validation_split
    n_val = round(n * fraction)
    if fraction and (n_val < 1 or n - n_val < 1):
        raise CLIError(
            f"--validation-split {fraction} of {n} rows leaves no training or no "
            "validation rows; use more data or another fraction (0 for none)"
        )
    order = rng.permutation(n)
    val_rows, train_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
    X_train, codes_train = X[train_rows], codes[train_rows]
    X_val, codes_val = X[val_rows], codes[val_rows]
    if options.validation_data is not None:
        X_val, codes_val = _validation_table(
            options.validation_data, pre, dtype, drop, err, quiet, unknown
        )
    y_train = pre.network_targets(codes_train, dtype)
    y_val = pre.network_targets(codes_val, dtype)

    def fit(net: MLP, **kwargs: Any) -> History:
        has_val = X_val.shape[0] > 0
        return net.fit(
            X_train, y_train, validation_data=(X_val, y_val) if has_val else None, **kwargs
        )

    def score(net: MLP, loss_obj: Any) -> dict[str, Any]:
        """The final metrics of every part: train, validation and a built-in set's test part."""
        metrics: dict[str, Any] = {}
        parts = [("train", X_train, codes_train), ("validation", X_val, codes_val)]
        if test is not None:
            X_test = pre.transform(test, dtype, source=f"{source} (test part)")
            parts.append(("test", X_test, pre.encode_target(test[target_name], source=source)))
        for name, X_part, codes_part in parts:
            if X_part.shape[0] == 0:
                continue
            scores = scores_for(pre)
            score_chunk(net, pre, loss_obj, scores, X_part, codes_part)
            metrics[name] = split_metrics(scores.result())
        return metrics

    rows = {"training": len(train_rows), "validation": X_val.shape[0]}
    if test is not None:
        rows["test"] = len(test)
    return Prepared(pre, source, spec, scaling, reason, rows, fit, score)


def _validation_table(
    path: Path,
    pre: Preprocessor,
    dtype: str,
    drop_missing: bool,
    err: Any,
    quiet: bool,
    unknown: dict[str, set[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, class codes or standardised targets)`` of a whole ``--validation-data`` file."""
    from formicary import tabular

    assert pre.target is not None
    source = str(path)
    check_labelled_file(path, pre)
    columns, text = columns_to_read(pre)
    frame = tabular.read_table(path, columns=columns, text_columns=text)
    frame = handle_missing(frame, columns, source, drop_missing, err, quiet)
    X = pre.transform(frame, dtype, source=source, unknown=unknown)
    return X, pre.encode_target(frame[pre.target.name], source=source)


def _training_data(
    data: Path | None,
    dataset: str | None,
    target: str | None,
    samples: int | None,
    noise: float | None,
    categorical: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, str, dict[str, Any], str]:
    """``(frame, test_frame_or_None, source, spec, default_scaling)`` for ``train``.

    ``--categorical`` columns of a file are read as text, as ``predict`` and
    ``evaluate`` read them, so that a code such as ``007`` stays ``007``.
    """
    from formicary import tabular

    if data is not None and dataset is not None:
        raise CLIError("give a data file or --dataset, not both")
    if data is None:
        name = dataset or DEFAULT_DATASET
        loaded = tabular.load_dataset(name, samples=samples, noise=noise)
        if target is not None and target != loaded.target:
            raise CLIError(
                f"the {loaded.name} data set's target column is {loaded.target!r}; "
                "leave out --target"
            )
        spec = {"dataset": loaded.spec, "target": loaded.target}
        return loaded.train, loaded.test, loaded.name, spec, loaded.scale
    if samples is not None or noise is not None:
        raise CLIError("--samples and --noise apply to generated data sets, not to files")
    header = tabular.read_columns(data)
    text = [name for name in categorical or [] if name in header and name != target]
    frame = tabular.read_table(data, text_columns=text)
    return frame, None, str(data), {}, "standard"
