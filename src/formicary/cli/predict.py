"""``formicary predict``: predict every row of a file with a trained model.

The input is read chunk by chunk and the predictions written to a temporary
file renamed at the end (CSV, TSV or Parquet), so files larger than memory
work and a failure leaves nothing. pandas and pyarrow are imported inside the
command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from formicary.atomic import atomic_path
from formicary.cli.common import CLIError
from formicary.cli.data_common import (
    DEFAULT_CHUNK_SIZE,
    check_model_columns,
    check_writable,
    consoles,
    load_model,
    missing_mask,
    split_names,
    warn_unknown,
)

if TYPE_CHECKING:
    import pandas as pd


PREDICT_EPILOG = """\
[bold]Examples[/bold]

  [cyan]formicary predict model.fcy new.csv -o predictions.csv[/cyan]
  [cyan]formicary predict model.fcy new.csv -o predictions.csv --probabilities --keep id[/cyan]
  [cyan]formicary predict model.fcy huge.parquet -o predictions.parquet --chunk-size 100000[/cyan]
  [cyan]formicary predict model.fcy new.csv -o - | head[/cyan]       CSV on stdout

The input is read chunk by chunk and the output written to a temporary file
renamed at the end, so files larger than memory work and a failure leaves nothing.
"""


def predict(
    model: Annotated[Path, typer.Argument(help="Model file written by formicary train.")],
    data: Annotated[Path, typer.Argument(help="CSV/TSV or Parquet file with the feature columns.")],
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="Predictions file (.csv, .tsv or .parquet); - for CSV on stdout."
        ),
    ] = "predictions.csv",
    probabilities: Annotated[
        bool, typer.Option("--probabilities", "-p", help="Add one probability column per class.")
    ] = False,
    keep: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated input columns to copy to the output (e.g. an id).",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Rows read at a time.")] = DEFAULT_CHUNK_SIZE,
    drop_missing: Annotated[
        bool,
        typer.Option(
            "--drop-missing",
            help="Leave the prediction empty for rows with empty cells instead of failing.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout.")
    ] = False,
) -> None:
    """Predict every row of a file with a trained model, streaming it in chunks."""
    from formicary import tabular

    _, err = consoles()
    net, pre = load_model(model)
    assert pre.target is not None
    if chunk_size < 1:
        raise CLIError(f"--chunk-size must be >= 1, got {chunk_size}")
    if probabilities and pre.target.task != "classification":
        raise CLIError("--probabilities needs a classification model; this one does regression")
    source = str(data)
    header = tabular.read_columns(data)
    check_model_columns(pre, header, source)
    kept = split_names(keep)
    tabular.check_columns(kept, header, source)
    to_stdout = out == "-"
    out_path = None if to_stdout else Path(out)
    if out_path is not None:
        if out_path.resolve() == data.resolve():
            raise CLIError(f"refusing to overwrite the input {data}; choose another --out")
        fmt = tabular.file_format(out_path)
        check_writable(out_path)
    else:
        fmt = "csv"
        if json_output:
            raise CLIError("--json prints a summary on stdout; give -o FILE for the predictions")
    columns = list(dict.fromkeys([*pre.feature_names, *kept]))
    text = list(dict.fromkeys([*pre.text_columns, *kept]))
    chunks = tabular.iter_table(data, chunk_size, columns=columns, text_columns=text)
    stats = {"rows": 0, "skipped": 0}
    unknown: dict[str, set[str]] = {}

    def predictions() -> Iterator[pd.DataFrame]:
        """One output frame per input chunk: kept columns, prediction, probabilities."""
        import pandas as pd

        for chunk in chunks:
            mask = missing_mask(
                chunk, pre.feature_names, source, drop_missing, "leave their predictions empty"
            )
            frame = pd.DataFrame(index=chunk.index)
            for name in kept:
                frame[name] = chunk[name]
            good = chunk.loc[~mask]
            regression = pre.target.task == "regression"
            # rows left out (--drop-missing) keep an empty prediction
            labels = pd.Series(None, index=chunk.index, dtype=net.dtype if regression else object)
            probs = None
            if len(good):
                X = pre.transform(good, net.dtype, source=source, unknown=unknown)
                outputs = net.predict(X)
                labels.loc[good.index] = pre.decode(outputs)
                if probabilities:
                    probs = pre.probabilities(outputs)
            frame["prediction"] = labels.infer_objects()
            if probabilities:
                for k, cls in enumerate(pre.target.classes):
                    column = pd.Series(np.nan, index=chunk.index, dtype=net.dtype)
                    if probs is not None:
                        column.loc[good.index] = probs[:, k]
                    frame[f"probability_{cls}"] = column
            stats["rows"] += len(chunk)
            stats["skipped"] += int(mask.sum())
            yield frame

    if to_stdout:
        first = True
        for frame in predictions():
            frame.to_csv(sys.stdout, header=first, index=False)
            first = False
    else:
        assert out_path is not None
        with atomic_path(out_path) as temporary:
            _write_frames(predictions(), temporary, fmt)

    warn_unknown(err, quiet, unknown)
    summary = {"model": str(model), "data": source, "out": out, **stats}
    if json_output:
        print(json.dumps(summary, indent=2))
    elif not quiet and not to_stdout:
        skipped = f" ({stats['skipped']:,} left empty: missing values)" if stats["skipped"] else ""
        err.print(f"wrote {stats['rows']:,} predictions to {out}{skipped}", highlight=False)


def _write_frames(frames: Iterator[pd.DataFrame], path: Path, fmt: str) -> None:
    """Append DataFrames to one CSV/TSV/Parquet file as they come."""
    if fmt == "parquet":
        from formicary.tabular import pyarrow_parquet

        pq = pyarrow_parquet()  # a clear message when pyarrow is missing
        import pyarrow as pa

        writer = None
        try:
            for frame in frames:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                elif table.schema != writer.schema:
                    table = table.cast(writer.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise CLIError("there was nothing to predict")
        return
    separator = "\t" if fmt == "tsv" else ","
    with open(path, "w", encoding="utf-8", newline="") as stream:
        first = True
        for frame in frames:
            frame.to_csv(stream, sep=separator, header=first, index=False)
            first = False
        stream.flush()
        os.fsync(stream.fileno())
