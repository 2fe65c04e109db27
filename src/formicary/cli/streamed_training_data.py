"""Out-of-core training data for ``formicary train --stream``: files larger than memory.

The file is never loaded whole. The first rows decide each column's kind and
the task; one pass over every row then gathers the exact preprocessing
(:class:`_ExactPreprocessing`: means and scales merged chunk by chunk with
:class:`_Moments`, every category and class) and checks every row; each epoch
reads the file again in chunks for :func:`formicary.streaming.fit_stream`,
validation rows being a seeded fraction by row position (:func:`_held_out`)
or a ``--validation-data`` file. pandas is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary.cli.common import CLIError
from formicary.cli.data_common import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_DATASET,
    check_labelled_file,
    columns_to_read,
    note,
    without_missing,
)
from formicary.cli.scores import score_chunk, scores_for, split_metrics
from formicary.cli.training_data import (
    DataOptions,
    Prepared,
    ask_for_target,
    categorical_features,
    feature_columns,
)

if TYPE_CHECKING:
    import pandas as pd

    from formicary.network import MLP
    from formicary.preprocessing import Preprocessor
    from formicary.training import History

__all__ = ["DEFAULT_BUFFER_CHUNKS", "stream_sizes", "streamed_data"]

#: With --stream, the shuffle buffer holds this many chunks by default.
DEFAULT_BUFFER_CHUNKS = 4


def stream_sizes(
    stream: bool,
    data: Path | None,
    dataset: str | None,
    max_rows: int | None,
    batch_size: int,
    chunk_size: int | None,
    buffer_size: int | None,
    sample_rows: int | None,
) -> tuple[int, int, int]:
    """``(chunk_size, buffer_size, sample_rows)`` with their defaults; refuse what --stream cannot do."""
    given = [
        name
        for name, value in (
            ("--chunk-size", chunk_size),
            ("--buffer-size", buffer_size),
            ("--sample-rows", sample_rows),
        )
        if value is not None
    ]
    if not stream:
        if given:
            listed = " and ".join(given)
            verb, pronoun = ("applies", "it") if len(given) == 1 else ("apply", "them")
            raise CLIError(
                f"{listed} {verb} only with --stream: add --stream to read DATA in chunks, "
                f"or leave {pronoun} out"
            )
        return DEFAULT_CHUNK_SIZE, DEFAULT_BUFFER_CHUNKS * DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE
    if data is None:
        name = dataset or DEFAULT_DATASET
        raise CLIError(
            f"--stream reads a data file in chunks, but the built-in data set {name} is "
            "loaded whole; leave out --stream, or give a CSV/Parquet file"
        )
    if dataset is not None:
        raise CLIError("give a data file or --dataset, not both")
    if max_rows is not None:
        raise CLIError(
            "--max-rows draws a random subset of a table loaded whole; with --stream, "
            "train on a smaller file instead (e.g. head -n 10001 big.csv > trial.csv)"
        )
    for name, value in (
        ("--chunk-size", chunk_size),
        ("--buffer-size", buffer_size),
        ("--sample-rows", sample_rows),
    ):
        if value is not None and value < 1:
            raise CLIError(f"{name} must be >= 1, got {value}")
    chunk = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    buffer = DEFAULT_BUFFER_CHUNKS * chunk if buffer_size is None else buffer_size
    if buffer < batch_size:
        raise CLIError(
            f"--buffer-size ({buffer:,} rows) must hold at least one batch "
            f"(--batch-size {batch_size:,}); raise --buffer-size or lower --batch-size"
        )
    return chunk, buffer, chunk if sample_rows is None else sample_rows


def _held_out(rows: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Whether each row, by its position ``i`` in the file, is held out for validation.

    ``u_i = splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15) / 2^64`` is a fixed
    pseudo-random number in ``[0, 1)`` per row; row ``i`` is held out when
    ``u_i < fraction``. The same rows are held out in every epoch and for any
    chunk size, and no list of rows is kept in memory.
    """
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64(1)
        z = z * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 < fraction


class _Moments:
    """Count, mean, sum of squared deviations, minimum and maximum of a column, chunk by chunk.

    Chunks merge with Chan et al.'s update: for a chunk of ``m`` values with
    mean ``mu_b`` and squared deviations ``M_b`` joining ``n`` values,
    ``delta = mu_b - mu``, ``mu += delta m / (n + m)``,
    ``M += M_b + delta^2 n m / (n + m)``; the standard deviation is ``sqrt(M / n)``,
    the population one that :class:`Preprocessor` uses in memory. The methods
    ``mean()``, ``std()``, ``min()`` and ``max()`` are those of a NumPy array
    that :func:`formicary.preprocessing.center_and_scale` reads.
    """

    def __init__(self) -> None:
        self.n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._low = math.inf
        self._high = -math.inf

    def add(self, values: np.ndarray) -> None:
        """Merge a chunk of values."""
        m = values.shape[0]
        if not m:
            return
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
        total = self.n + m
        delta = mean - self._mean
        self._mean += delta * m / total
        self._m2 += m2 + delta * delta * self.n * m / total
        self.n = total
        self._low = min(self._low, float(values.min()))
        self._high = max(self._high, float(values.max()))

    def mean(self) -> float:
        """The mean of every value added (0 before any)."""
        return self._mean

    def std(self) -> float:
        """The population standard deviation ``sqrt(M / n)`` (0 before any value)."""
        return math.sqrt(self._m2 / self.n) if self.n else 0.0

    def min(self) -> float:
        """The smallest value added (``inf`` before any)."""
        return self._low

    def max(self) -> float:
        """The largest value added (``-inf`` before any)."""
        return self._high


class _ExactPreprocessing:
    """The preprocessing of a whole file, gathered in one pass of chunks.

    The first rows decide which columns are numbers and which are categories
    (``kinds``: ``(name, kind)`` per feature, from
    :func:`formicary.preprocessing.feature_kind`), the task, and how the
    labels are read (``target_kind``, from
    :func:`formicary.preprocessing.target_kind`), as in memory; this pass then
    takes the exact means and scales of every row, every category and every
    class, so the result is the preprocessing ``Preprocessor.fit`` would give
    on the whole table loaded at once.
    """

    def __init__(
        self,
        kinds: list[tuple[str, str]],
        target: str,
        task: str,
        reason: str | None,
        target_kind: str,
        sample_classes: list[str],
        sample_rows: int,
        source: str,
    ) -> None:
        self.kinds, self.target, self.task, self.reason = kinds, target, task, reason
        self.target_kind, self.sample_classes = target_kind, sample_classes
        self.sample_rows, self.source = sample_rows, source
        self.moments = {name: _Moments() for name, kind in kinds if kind == "numeric"}
        self.categories: dict[str, set[str]] = {
            name: set() for name, kind in kinds if kind == "categorical"
        }
        self.target_moments = _Moments()
        self.labels: set[Any] = set()
        self.rows_read = 0

    def add(self, chunk: pd.DataFrame, rows_read: int) -> None:
        """Gather a chunk's statistics, categories and classes, checking its cells.

        ``rows_read`` counts the rows of the file read so far, this chunk's
        included (also those dropped for empty cells); too many categories or
        classes are refused as soon as they are seen, naming them.
        """
        from formicary.preprocessing import as_text, check_category_count, numeric_values

        self.rows_read = rows_read
        for name, moments in self.moments.items():
            remedy = (
                f"its first {self.sample_rows:,} rows (--sample-rows) held only numbers: fix "
                f"those cells, or treat the column as a category (--categorical {name})"
            )
            moments.add(numeric_values(chunk[name], self.source, remedy=remedy))
        for name, seen in self.categories.items():
            seen.update(as_text(chunk[name]).tolist())
            check_category_count(name, len(seen), self.source, rows=rows_read)
        column = chunk[self.target]
        if self.task == "regression":
            self.target_moments.add(self._numbers(column))
        elif self.target_kind == "numeric":
            self._add_numeric_labels(column)
        else:
            self.labels.update(as_text(column).tolist())
            self._check_class_count()

    def _numbers(self, column: pd.Series) -> np.ndarray:
        """The target's values as float64; text after the first rows is one clear error."""
        from formicary.preprocessing import numeric_values

        return numeric_values(
            column,
            self.source,
            remedy=(
                f"its first {self.sample_rows:,} rows (--sample-rows) held only numbers: fix "
                "those cells, or raise --sample-rows past those rows to read the column as text"
            ),
        )

    def _add_numeric_labels(self, column: pd.Series) -> None:
        """Gather numeric class labels; refuse fractions or too many levels for an inferred task."""
        from formicary.preprocessing import CLASSIFICATION_MAX_INTEGER_LEVELS

        values = self._numbers(column)
        fractional = np.flatnonzero(values != np.round(values))
        self.labels.update(np.unique(values).tolist())
        if self.reason is None:  # --task classification: every distinct value is a class
            self._check_class_count()
            return
        looked = (
            f"the first {self.sample_rows:,} rows of {self.source} made {self.target!r} look like "
            f"class labels ({self.reason})"
        )
        if fractional.size:
            row = int(column.index[fractional[0]]) + 1
            raise CLIError(
                f"{looked}, but row {row} holds {values[fractional[0]]:g}, a fractional "
                "number; pass --task regression, or --task classification to keep every "
                "distinct value as a class"
            )
        if len(self.labels) > CLASSIFICATION_MAX_INTEGER_LEVELS:
            raise CLIError(
                f"{looked}, but the whole file holds more than "
                f"{CLASSIFICATION_MAX_INTEGER_LEVELS} distinct whole numbers, so it is a quantity; "
                "pass --task regression, or --task classification if they are classes"
            )

    def _check_class_count(self) -> None:
        """Refuse more classes than a network is built for, as soon as they are seen."""
        from formicary.preprocessing import check_class_count

        check_class_count(self.target, self.labels, self.source, rows=self.rows_read)

    def result(self, scaling: str) -> Preprocessor:
        """The fitted :class:`Preprocessor` (features in the order of ``kinds``)."""
        from formicary.preprocessing import (
            CategoricalFeature,
            NumericFeature,
            Preprocessor,
            Target,
            center_and_scale,
            check_class_count,
            json_value,
        )

        features: list[NumericFeature | CategoricalFeature] = []
        for name, kind in self.kinds:
            if kind == "numeric":
                features.append(
                    NumericFeature(name, *center_and_scale(self.moments[name], scaling))
                )
            else:
                features.append(CategoricalFeature(name, sorted(self.categories[name])))
        if self.task == "regression":
            center, scale = center_and_scale(self.target_moments, "standard")
            return Preprocessor(
                features, Target(self.target, "regression", center=center, scale=scale), scaling
            )
        classes: list[Any]
        if self.target_kind == "numeric":
            classes = [json_value(v) for v in sorted(self.labels)]
        elif self.target_kind == "bool":
            unexpected = sorted(self.labels - {"False", "True"})
            if unexpected:
                raise CLIError(
                    f"target column {self.target!r} of {self.source} holds True/False in its "
                    f"first {self.sample_rows:,} rows but also {unexpected[0]!r} later; fix those "
                    "cells, or raise --sample-rows so that the labels are read as text"
                )
            classes = [v for v in (False, True) if str(v) in self.labels]
        elif self.target_kind == "categorical":  # a categorical column keeps its class order
            known = [c for c in self.sample_classes if c in self.labels]
            classes = known + sorted(self.labels - set(known))
        else:
            classes = sorted(self.labels)
        check_class_count(self.target, classes, self.source)
        return Preprocessor(features, Target(self.target, "classification", classes), scaling)


def _first_rows(
    path: Path, rows: int, chunk_size: int, columns: list[str], text_columns: list[str]
) -> pd.DataFrame:
    """The first ``rows`` rows of a file, read in chunks and then no further."""
    import pandas as pd

    from formicary import tabular

    parts: list[pd.DataFrame] = []
    have = 0
    size = min(rows, chunk_size)
    for chunk in tabular.iter_table(path, size, columns=columns, text_columns=text_columns):
        parts.append(chunk.iloc[: rows - have])
        have += len(parts[-1])
        if have >= rows:
            break
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def streamed_data(
    options: DataOptions, err: Any, quiet: bool, unknown: dict[str, set[str]]
) -> Prepared:
    """Out-of-core training data: the preprocessing from one pass, then chunks every epoch.

    1. The first ``--sample-rows`` rows decide each column's kind (number or
       category) and, unless ``--task`` is given, the task.
    2. One pass over the whole file checks every row and gathers the exact
       means/scales, categories and classes (:class:`_ExactPreprocessing`), and
       counts the training and validation rows.
    3. Every epoch reads the file again, chunk by chunk, for
       :func:`formicary.streaming.fit_stream`; validation rows (a seeded
       fraction by row position, :func:`_held_out`, or ``--validation-data``)
       are read in a second pass after each epoch.
    """
    from formicary import tabular
    from formicary.preprocessing import (
        check_regression_target,
        feature_kind,
        infer_task,
        target_kind,
    )

    assert options.data is not None
    data = options.data
    source = str(data)
    header = tabular.read_columns(data)
    if options.target is None:
        raise ask_for_target(data, source)
    target_name = options.target
    used = feature_columns(header, target_name, options, source)
    categorical = categorical_features(header, used, options, source)
    columns = list(dict.fromkeys([*used, target_name]))  # --features may name a column twice
    drop = options.drop_missing
    chunk_size = options.chunk_size

    # ---- 1. the first rows: kinds of the columns and the task
    sample = _first_rows(data, options.sample_rows, chunk_size, columns, categorical)
    sample, _ = without_missing(sample, columns, source, drop)
    if sample.empty:
        raise CLIError(
            f"every one of the first {options.sample_rows:,} rows of {source} has a missing "
            "value; raise --sample-rows so that some complete rows are read first"
        )
    scaling = "standard" if options.scale == "auto" else options.scale
    kind = {
        name: feature_kind(sample[name], source, categorical=name in categorical)
        for name in columns[:-1]
    }
    kinds = [(name, kind[name]) for name in used]
    label_column = sample[target_name]
    reason = None
    task = options.task
    if task == "auto":
        task, reason = infer_task(label_column)
    label_kind = target_kind(label_column)
    if task == "regression":
        check_regression_target(label_column)
    sample_classes = (
        [str(c) for c in label_column.cat.categories] if label_kind == "categorical" else []
    )
    text = [name for name in columns[:-1] if kind[name] == "categorical"]
    if task == "classification" and label_kind in ("text", "categorical"):
        text.append(target_name)
    del sample, label_column

    # ---- 2. one pass: exact statistics, every row checked, rows counted
    exact = _ExactPreprocessing(
        kinds,
        target_name,
        task,
        reason,
        label_kind,
        sample_classes,
        options.sample_rows,
        source,
    )
    fraction, seed = options.validation_split, options.seed
    counted = {"rows": 0, "dropped": 0, "validation": 0}
    for chunk in tabular.iter_table(data, chunk_size, columns=columns, text_columns=text):
        chunk, dropped = without_missing(chunk, columns, source, drop)
        counted["dropped"] += dropped
        counted["rows"] += len(chunk)
        if fraction:
            counted["validation"] += int(_held_out(chunk.index.to_numpy(), fraction, seed).sum())
        exact.add(chunk, counted["rows"] + counted["dropped"])
    if counted["rows"] == 0:
        raise CLIError(f"every row of {source} has a missing value; nothing is left to use")
    if counted["dropped"]:
        note(err, quiet, f"dropped {counted['dropped']:,} row(s) with missing values from {source}")
    pre = exact.result(scaling)
    n_val = counted["validation"]
    n_train = counted["rows"] - n_val
    if fraction and (n_val < 1 or n_train < 1):
        raise CLIError(
            f"--validation-split {fraction} of {counted['rows']} rows leaves no training or no "
            "validation rows; use more data or another fraction (0 for none)"
        )
    dtype = options.dtype
    read, read_text = columns_to_read(pre)

    def complete_chunks(path: Path) -> Iterator[pd.DataFrame]:
        """The chunks of ``path`` to train on or score; rows with empty cells refused or dropped."""
        for chunk in tabular.iter_table(path, chunk_size, columns=read, text_columns=read_text):
            yield without_missing(chunk, read, str(path), drop)[0]

    def chunks(
        path: Path, part: str | None, where: str, seen: dict[str, set[str]] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(X, codes)`` per chunk of ``path``: the training or validation rows, or all."""
        for chunk in complete_chunks(path):
            if part is not None and fraction:
                held = _held_out(chunk.index.to_numpy(), fraction, seed)
                chunk = chunk.loc[held if part == "validation" else ~held]
            if len(chunk):
                X = pre.transform(chunk, dtype, source=where, unknown=seen)
                yield X, pre.encode_target(chunk[target_name], source=where)

    validation_file = options.validation_data
    if validation_file is not None:
        # checked in full now rather than after the first epoch
        check_labelled_file(validation_file, pre)
        n_val = 0
        for X, _ in chunks(validation_file, None, str(validation_file), unknown):
            n_val += X.shape[0]

    def targets(pairs: Iterator[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[Any, Any]]:
        """``(X, y)`` pairs: the codes as the output layer's targets."""
        for X, codes in pairs:
            yield X, pre.network_targets(codes, dtype)

    def training_chunks() -> Iterator[tuple[Any, Any]]:
        return targets(chunks(data, "train", source))

    def validation_chunks() -> Iterator[tuple[Any, Any]]:
        if validation_file is not None:
            return targets(chunks(validation_file, None, str(validation_file)))
        return targets(chunks(data, "validation", source))

    def fit(net: MLP, **kwargs: Any) -> History:
        from formicary.streaming import fit_stream

        return fit_stream(
            net,
            training_chunks,
            buffer_size=options.buffer_size,
            validation_data=validation_chunks if n_val else None,
            **kwargs,
        )

    def score(net: MLP, loss_obj: Any) -> dict[str, Any]:
        """The final metrics of the training and validation rows, read once more."""
        parts = {"train": scores_for(pre), "validation": scores_for(pre)}
        if fraction:  # one more pass scores both parts
            for chunk in complete_chunks(data):
                held = _held_out(chunk.index.to_numpy(), fraction, seed)
                for name, rows in (("train", ~held), ("validation", held)):
                    if rows.any():
                        part = chunk.loc[rows]
                        X = pre.transform(part, net.dtype, source=source)
                        codes = pre.encode_target(part[target_name], source=source)
                        score_chunk(net, pre, loss_obj, parts[name], X, codes)
        else:
            for X, codes in chunks(data, None, source):
                score_chunk(net, pre, loss_obj, parts["train"], X, codes)
            if validation_file is not None:
                for X, codes in chunks(validation_file, None, str(validation_file)):
                    score_chunk(net, pre, loss_obj, parts["validation"], X, codes)
        return {
            name: split_metrics(scores.result()) for name, scores in parts.items() if scores.samples
        }

    buffer = options.buffer_size
    notes = [
        f"streamed in chunks of {chunk_size:,} rows, shuffle buffer {buffer:,} rows; "
        f"column kinds{' and task' if reason else ''} from the first "
        f"{min(options.sample_rows, counted['rows'] + counted['dropped']):,} rows, "
        "scaling, categories and classes from all of them"
    ]
    if validation_file is not None:
        notes.append(f"validation: {validation_file} ({n_val:,} rows), read after every epoch")
    elif fraction:
        notes.append(
            f"validation: {fraction:.0%} of the rows held out by a seeded draw per row, "
            "read after every epoch"
        )
    rows = {"training": n_train, "validation": n_val}
    return Prepared(pre, source, {}, scaling, reason, rows, fit, score, notes)
