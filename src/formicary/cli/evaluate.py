"""``formicary evaluate``: measure a trained model on labelled data, chunk by chunk.

Accuracy, per-class precision/recall/F1 and the confusion matrix, or R^2, MAE
and RMSE for regression (:mod:`formicary.cli.scores`), on a file read in chunks
or on a part of a built-in data set. pandas and rich are imported inside the
command.
"""

from __future__ import annotations

import contextlib
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from formicary.cli.common import CLIError
from formicary.cli.data_common import (
    DEFAULT_CHUNK_SIZE,
    check_labelled_file,
    check_model_columns,
    check_writable,
    columns_to_read,
    consoles,
    handle_missing,
    json_clean,
    load_model,
    warn_unknown,
    write_json,
)
from formicary.cli.scores import score_chunk, scores_for

if TYPE_CHECKING:
    import pandas as pd


class Split(str, Enum):
    """The part of a built-in data set ``evaluate --split`` measures on: ``test``, ``train`` or ``all``."""

    test = "test"
    train = "train"
    all = "all"


EVALUATE_EPILOG = """\
[bold]Examples[/bold]

  [cyan]formicary evaluate model.fcy[/cyan]                  the test part of the built-in set it learnt
  [cyan]formicary evaluate model.fcy test.csv[/cyan]
  [cyan]formicary evaluate model.fcy big.parquet --chunk-size 50000 --json-out metrics.json[/cyan]
  [cyan]formicary evaluate model.fcy --dataset iris --split all --json[/cyan]
"""


def evaluate(
    model: Annotated[Path, typer.Argument(help="Model file written by formicary train.")],
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV/TSV or Parquet file with the target column.", show_default=False),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Built-in data set (default: the one the model learnt, if any).",
            show_default=False,
        ),
    ] = None,
    split: Annotated[
        Split, typer.Option(help="Part of a built-in data set to evaluate on.")
    ] = Split.test,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            help="Target column, when the file names it differently from training.",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Rows read at a time.")] = DEFAULT_CHUNK_SIZE,
    drop_missing: Annotated[
        bool, typer.Option("--drop-missing", help="Skip rows with empty cells instead of failing.")
    ] = False,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json-out", help="Also write the metrics to this JSON file.", show_default=False
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the metrics as JSON on stdout.")
    ] = False,
) -> None:
    """Measure a model on labelled data: accuracy, per-class precision/recall/F1 and the
    confusion matrix, or R², MAE and RMSE for regression. Files are read in chunks."""
    import formicary
    from formicary import tabular

    out_console, err = consoles()
    net, pre = load_model(model)
    assert pre.target is not None
    if json_out is not None:
        check_writable(json_out)
    if chunk_size < 1:
        raise CLIError(f"--chunk-size must be >= 1, got {chunk_size}")
    target_name = target or pre.target.name
    loss_obj = formicary.losses.default_for(net.output_activation.name)
    training = net.metadata.get("training")
    options = training.get("options") if isinstance(training, dict) else None
    if isinstance(options, dict) and options.get("loss"):
        with contextlib.suppress(ValueError, TypeError):
            loss_obj = formicary.losses.get(options["loss"])  # the loss it was trained with
    scores = scores_for(pre)
    unknown: dict[str, set[str]] = {}

    def add(frame: pd.DataFrame, source: str) -> None:
        """Score one chunk (or part of a data set) into ``scores``."""
        frame = handle_missing(
            frame, [*pre.feature_names, target_name], source, drop_missing, err, quiet
        )
        X = pre.transform(frame, net.dtype, source=source, unknown=unknown)
        codes = pre.encode_target(frame[target_name].rename(target_name), source=source)
        score_chunk(net, pre, loss_obj, scores, X, codes)

    if data is not None and dataset is not None:
        raise CLIError("give a data file or --dataset, not both")
    if data is not None:
        source = str(data)
        check_labelled_file(data, pre, target_name)
        columns, text = columns_to_read(pre, target_name)
        for chunk in tabular.iter_table(data, chunk_size, columns=columns, text_columns=text):
            add(chunk, source)
    else:
        spec = training.get("dataset") if isinstance(training, dict) else None
        if dataset is None and not isinstance(spec, dict):
            raise CLIError(
                f"give the data to evaluate on: formicary evaluate {model} DATA.csv "
                "(or --dataset NAME)"
            )
        name = dataset or spec["name"]
        kwargs: dict[str, Any] = {}
        if isinstance(spec, dict) and spec.get("name") == name:
            kwargs = {k: spec[k] for k in ("samples", "noise") if k in spec}
        loaded = tabular.load_dataset(name, **kwargs)
        source = f"{loaded.name} ({split.value})"
        check_model_columns(pre, list(loaded.train.columns), source)
        parts = {
            "test": [loaded.test],
            "train": [loaded.train],
            "all": [loaded.train, loaded.test],
        }[split.value]
        for part in parts:
            add(part, source)

    warn_unknown(err, quiet, unknown)
    result = scores.result()
    result = {"model": str(model), "data": source, **result}
    result = json_clean(result)
    if json_out is not None:
        write_json(json_out, result)
    if json_output:
        print(json.dumps(result, indent=2))
        return
    if quiet:
        return
    for table in _evaluation_tables(result, out_console.width):
        out_console.print(table)
    if json_out is not None:
        out_console.print(f"wrote {json_out}", highlight=False)


def _evaluation_tables(result: dict[str, Any], width: int = 80) -> list[Any]:
    """Rich renderables of an evaluation result.

    Regression: one table of R^2, MAE, RMSE and loss. Classification: per-class
    precision/recall/F1 with their averages, accuracy and loss, then the
    confusion matrix, whose columns are the class names when they fit in
    ``width`` characters and numbers otherwise.
    """
    from rich.table import Table
    from rich.text import Text

    title = f"{result['data']}: {result['samples']:,} rows"
    if result["task"] == "regression":
        table = Table(title=title, title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for label, key in (("R²", "r2"), ("MAE", "mae"), ("RMSE", "rmse"), ("loss", "loss")):
            value = result.get(key)
            table.add_row(label, "—" if value is None else f"{value:.4g}")
        return [table]
    summary = Table(title=title, title_justify="left", min_width=len(title))
    summary.add_column("class")
    for name in ("precision", "recall", "F1", "support"):
        summary.add_column(name, justify="right")
    for row in result["per_class"]:
        summary.add_row(
            str(row["class"]),
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            f"{row['support']:,}",
        )
    summary.add_section()
    for label, key in (("macro avg", "macro_avg"), ("weighted avg", "weighted_avg")):
        avg = result[key]
        summary.add_row(
            label,
            f"{avg['precision']:.3f}",
            f"{avg['recall']:.3f}",
            f"{avg['f1']:.3f}",
            f"{result['samples']:,}",
        )
    summary.add_section()
    summary.add_row("accuracy", "", "", f"{result['accuracy']:.4f}", f"{result['samples']:,}")
    summary.add_row("loss", "", "", f"{result['loss']:.4f}", "")
    classes = [str(c) for c in result["classes"]]
    matrix = result["confusion_matrix"]
    cell = max(len(f"{v:,}") for row in matrix for v in row)
    label = max(len(name) for name in classes)
    by_name = label + 4 + sum(max(len(name), cell) + 3 for name in classes) <= width
    caption = "confusion matrix: rows are the true class, columns the predicted one"
    confusion = Table()
    confusion.add_column("")
    for k, name in enumerate(classes, start=1):
        confusion.add_column(name if by_name else str(k), justify="right")
    for k, (name, row) in enumerate(zip(classes, matrix, strict=True), start=1):
        confusion.add_row(name if by_name else f"{k} {name}", *(f"{v:,}" for v in row))
    return [summary, confusion, Text(caption)]
