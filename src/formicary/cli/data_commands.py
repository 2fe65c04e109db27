"""``formicary train``, ``evaluate``, ``predict`` and ``info``: networks on tables without Python.

``train`` reads a CSV/Parquet file (or a built-in data set), fits the
preprocessing (:mod:`formicary.preprocessing`), trains an MLP with a live
progress bar and saves one model file holding the weights *and* the
preprocessing. ``evaluate`` and ``predict`` re-apply that preprocessing,
reading the data in chunks so that files larger than memory work; every file
they write appears atomically (a temporary file renamed at the end). Bad
input gives one line ``error: ...`` on stderr and exit code 2.

pandas, pyarrow, rich and scikit-learn are imported inside the commands, so
``formicary --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import json
import os
import sys
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from formicary.atomic import atomic_path
from formicary.cli.common import CLIError, handle_errors
from formicary.cli.data_common import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_DATASET,
    _check_model_columns,
    _check_writable,
    _consoles,
    _handle_missing,
    _json_clean,
    _load_model,
    _names,
    _text_classes,
    _warn_unknown,
    _write_json,
)
from formicary.cli.scores import (
    ClassificationScores,
    RegressionScores,
    _metrics_table,
    _score_chunk,
    _scores_for,
)
from formicary.cli.streamed_training_data import (
    DEFAULT_BUFFER_CHUNKS,
    _stream_sizes,
    _streamed_data,
)
from formicary.cli.training_data import (
    _DataOptions,
    _loaded_data,
)

if TYPE_CHECKING:
    import pandas as pd

    from formicary.network import MLP
    from formicary.preprocessing import Preprocessor

__all__ = ["ClassificationScores", "RegressionScores", "register"]


class Task(str, Enum):
    auto = "auto"
    classification = "classification"
    regression = "regression"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class Scale(str, Enum):
    auto = "auto"
    standard = "standard"
    minmax = "minmax"
    none = "none"


class Split(str, Enum):
    test = "test"
    train = "train"
    all = "all"


# ---------------------------------------------------------------------- option parsing
def _hidden_sizes(text: str) -> list[int]:
    if text.strip() in ("", "none", "0"):
        return []
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise CLIError(
                f"--hidden takes positive layer sizes separated by commas, such as 64,32; "
                f"got {text!r}"
            )
        sizes.append(int(part))
    return sizes


# ---------------------------------------------------------------------- progress bar
def _progress_callback(console: Any, epochs: int, metric: str, samples: int | None = None) -> Any:
    """Live progress fed by the training loop's hooks.

    On a terminal, a rich progress bar advancing with the batches and showing
    the last epoch's loss and metric; otherwise (a pipe, a log file) a plain
    line every tenth of the epochs. ``samples`` (training rows per epoch) sizes
    the bar when the training loop cannot tell (streamed data).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from formicary.callbacks import Callback

    short = {"accuracy": "acc", "r2": "R²"}.get(metric, metric)

    def describe(logs: dict[str, Any]) -> str:
        parts = [f"loss {logs['loss']:.4f}"]
        if metric in logs:
            parts.append(f"{short} {logs[metric]:.4f}")
        if "val_loss" in logs:
            parts.append(f"│ val loss {logs['val_loss']:.4f}")
        if f"val_{metric}" in logs:
            parts.append(f"{short} {logs[f'val_{metric}']:.4f}")
        return " ".join(parts)

    class RichProgress(Callback):
        def __init__(self) -> None:
            self.live = bool(console.is_terminal)
            self.every = max(1, epochs // 10)
            self.batches = 1
            self.progress = Progress(
                TextColumn("epoch {task.fields[epoch]}/{task.total:.0f}"),
                BarColumn(bar_width=20),
                TimeElapsedColumn(),
                TextColumn("{task.fields[stats]}"),
                console=console,
                transient=False,
                disable=not self.live,
            )
            self.task = self.progress.add_task("train", total=epochs, stats="", epoch=0)

        def on_train_begin(self, net: MLP, logs: dict[str, Any]) -> None:
            rows = logs.get("samples") or samples or 1
            size = logs.get("batch_size") or 1
            self.batches = max(1, -(-int(rows) // int(size)))
            self.progress.start()

        def on_batch_end(self, net: MLP, batch: int, logs: dict[str, Any]) -> None:
            if self.live and batch % 50 == 49:
                self.progress.advance(self.task, 50 / self.batches)

        def on_epoch_end(self, net: MLP, epoch: int, logs: dict[str, Any]) -> None:
            stats = describe(logs)
            self.progress.update(self.task, completed=epoch + 1, stats=stats, epoch=epoch + 1)
            if not self.live and (epoch % self.every == self.every - 1 or epoch == epochs - 1):
                console.print(f"epoch {epoch + 1}/{epochs}  {stats}", highlight=False)

        def on_train_end(self, net: MLP, logs: dict[str, Any]) -> None:
            self.close()

        def close(self) -> None:
            self.progress.stop()

    return RichProgress()


# ---------------------------------------------------------------------- train
TRAIN_EPILOG = """\
[bold]Examples[/bold]

  [cyan]formicary train[/cyan]                                   digits (built in), saved to model.fcy
  [cyan]formicary train --dataset moons --hidden 8,8[/cyan]
  [cyan]formicary train --dataset fashion-mnist --hidden 256,128[/cyan]
  [cyan]formicary train houses.csv --target price --epochs 200 --out houses.fcy[/cyan]
  [cyan]formicary train patients.parquet -t outcome --exclude id --drop-missing[/cyan]
  [cyan]formicary train data.csv -t label --task classification --json --quiet[/cyan]
  [cyan]formicary train huge.csv -t label --stream --chunk-size 50000[/cyan]     larger than memory
  [cyan]formicary train huge.parquet -t label --stream --validation-data val.csv[/cyan]

Built-in data sets: xor, circles, moons, spirals, gaussians (generated, seeded),
iris, wine, breast-cancer, digits, diabetes (scikit-learn), fashion-mnist
(Debian: apt-get install dataset-fashion-mnist). Built-in sets keep a fixed 20%
test part (Fashion-MNIST: its official 10,000 images) that training never sees.

With --stream the file is never loaded whole: one pass reads the exact
preprocessing (means, scales, categories, classes) and checks every row, then
each epoch reads it again in chunks, mixing rows in a shuffle buffer. Memory is
bounded by the chunk and buffer sizes. A file sorted by class should be shuffled
once beforehand: the buffer mixes only nearby rows.
"""

DEFAULT_VALIDATION_SPLIT = 0.2
STREAM_PANEL = "Out-of-core training (--stream)"


def train(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="CSV/TSV or Parquet file to learn from; omit it to use --dataset.",
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            help=f"Built-in data set instead of a file (default {DEFAULT_DATASET}).",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Column to predict (required for files).", show_default=False
        ),
    ] = None,
    task: Annotated[
        Task, typer.Option(help="Inferred from the target column unless given.")
    ] = Task.auto,
    features: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated feature columns (default: all but the target).",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated columns to ignore (IDs, free text).", show_default=False
        ),
    ] = None,
    categorical: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated numeric-looking columns to one-hot encode.", show_default=False
        ),
    ] = None,
    hidden: Annotated[
        str, typer.Option(help="Hidden layer sizes, e.g. 64,32 ('' for none).")
    ] = "64,32",
    activation: Annotated[str, typer.Option(help="Hidden-layer activation.")] = "relu",
    output_activation: Annotated[
        str,
        typer.Option(help="Output activation; auto = softmax/sigmoid/identity by task."),
    ] = "auto",
    loss: Annotated[
        str, typer.Option(help="Loss; auto = cross-entropy or mean squared error by task.")
    ] = "auto",
    optimizer: Annotated[str, typer.Option(help="sgd, adam or rmsprop.")] = "adam",
    learning_rate: Annotated[
        float | None,
        typer.Option(
            "--learning-rate",
            "--lr",
            help="Step size eta (default: the optimizer's, 0.001 for adam).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per gradient step.")] = 32,
    epochs: Annotated[int, typer.Option(help="Maximum passes over the training rows.")] = 100,
    validation_split: Annotated[
        float | None,
        typer.Option(
            help="Fraction of the rows held out to validate (default 0.2; 0 for none).",
            show_default=False,
        ),
    ] = None,
    validation_data: Annotated[
        Path | None,
        typer.Option(
            "--validation-data",
            help="Validate on this CSV/Parquet file instead of holding rows out.",
            show_default=False,
        ),
    ] = None,
    early_stopping: Annotated[
        bool,
        typer.Option(help="Stop when the validation loss stops improving; keep the best weights."),
    ] = True,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Epochs without improvement before stopping "
            "(default: 10, or more on small data: at least 1,000 gradient steps).",
            show_default=False,
        ),
    ] = None,
    scale: Annotated[
        Scale,
        typer.Option(help="Numeric feature scaling; auto = standard (min-max for images)."),
    ] = Scale.auto,
    dtype: Annotated[DType, typer.Option(help="Floating-point precision of the network.")] = (
        DType.float32
    ),
    seed: Annotated[
        int, typer.Option(help="Seed of the weights, the split and the shuffling.")
    ] = 0,
    samples: Annotated[
        int | None,
        typer.Option(
            help="Rows of a generated data set (xor, circles, moons, ...).", show_default=False
        ),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(help="Noise of a generated data set.", show_default=False),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            help="Train on a random subset of this many rows (quick trials).", show_default=False
        ),
    ] = None,
    drop_missing: Annotated[
        bool, typer.Option("--drop-missing", help="Skip rows with empty cells instead of failing.")
    ] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Read DATA in chunks instead of loading it: for files larger than memory.",
            rich_help_panel=STREAM_PANEL,
        ),
    ] = False,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            help=f"Rows read at a time (default {DEFAULT_CHUNK_SIZE:,}).",
            show_default=False,
            rich_help_panel=STREAM_PANEL,
        ),
    ] = None,
    buffer_size: Annotated[
        int | None,
        typer.Option(
            help=f"Rows mixed in the shuffle buffer (default {DEFAULT_BUFFER_CHUNKS} chunks).",
            show_default=False,
            rich_help_panel=STREAM_PANEL,
        ),
    ] = None,
    sample_rows: Annotated[
        int | None,
        typer.Option(
            help="First rows read to decide each column's kind and the task "
            "(default: one chunk); statistics, categories and classes come from every row.",
            show_default=False,
            rich_help_panel=STREAM_PANEL,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path(
        "model.fcy"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the results as JSON on stdout.")
    ] = False,
) -> None:
    """Train a network on a CSV/Parquet file or a built-in data set and save it.

    With no arguments at all, trains on the built-in [bold]digits[/bold] data set and
    writes [bold]model.fcy[/bold]. The task (classification or regression), the output
    layer and the loss follow from the target column; features are standardised,
    text columns one-hot encoded, and that preprocessing is saved in the model.
    With [bold]--stream[/bold] the file is read in chunks, so it may be larger than memory.
    """
    import formicary
    from formicary import activations as _activations
    from formicary import losses as _losses
    from formicary import optimizers as _optimizers

    out_console, err = _consoles()
    show = not quiet and not json_output
    began = time.perf_counter()

    # ---- check the options before reading anything
    sizes = _hidden_sizes(hidden)
    _activations.get(activation)
    if output_activation != "auto":
        _activations.get(output_activation)
    if loss != "auto":
        _losses.get(loss)
    _optimizers.get(optimizer)
    if learning_rate is not None and not learning_rate > 0:
        raise CLIError(f"--learning-rate must be > 0, got {learning_rate}")
    if batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {batch_size}")
    if epochs < 1:
        raise CLIError(f"--epochs must be >= 1, got {epochs}")
    if validation_split is not None and not 0 <= validation_split < 1:
        raise CLIError(f"--validation-split must be in [0, 1), got {validation_split}")
    if validation_split is not None and validation_data is not None:
        raise CLIError(
            "give --validation-split (rows held out of DATA) or --validation-data FILE, not both"
        )
    if patience is not None and patience < 1:
        raise CLIError(f"--patience must be >= 1, got {patience}")
    if max_rows is not None and max_rows < 2:
        raise CLIError(f"--max-rows must be >= 2, got {max_rows}")
    chunk_rows, buffer_rows, first_rows = _stream_sizes(
        stream, data, dataset, max_rows, batch_size, chunk_size, buffer_size, sample_rows
    )
    if validation_data is not None:
        from formicary.tabular import read_columns

        read_columns(validation_data)  # exists, readable, has a header
    _check_writable(out)

    # ---- the data
    options = _DataOptions(
        data=data,
        dataset=dataset,
        target=target,
        task=task.value,
        features=features,
        exclude=exclude,
        categorical=categorical,
        scale=scale.value,
        dtype=dtype.value,
        samples=samples,
        noise=noise,
        max_rows=max_rows,
        drop_missing=drop_missing,
        validation_data=validation_data,
        validation_split=(
            0.0
            if validation_data is not None
            else (DEFAULT_VALIDATION_SPLIT if validation_split is None else validation_split)
        ),
        seed=seed,
        chunk_size=chunk_rows,
        buffer_size=buffer_rows,
        sample_rows=first_rows,
    )
    rng = np.random.default_rng(seed)
    unknown: dict[str, set[str]] = {}
    if stream:
        prepared = _streamed_data(options, err, quiet, unknown)
    else:
        prepared = _loaded_data(options, rng, err, quiet, unknown)
    pre, source = prepared.pre, prepared.source
    assert pre.target is not None
    target_name = pre.target.name
    n_train, n_val = prepared.rows["training"], prepared.rows["validation"]

    # ---- the network
    classification = pre.target.task == "classification"
    n_classes = pre.target.n_classes
    if output_activation == "auto":
        out_act = ("softmax" if n_classes > 2 else "sigmoid") if classification else "identity"
    else:
        out_act = _activations.get(output_activation).name
    n_outputs = pre.target.n_outputs
    if classification and n_classes == 2 and out_act == "softmax":
        raise CLIError(
            "softmax needs one output per class, but this binary target uses one sigmoid output; "
            "leave --output-activation auto (sigmoid)"
        )
    net = formicary.MLP(
        [pre.n_inputs, *sizes, n_outputs],
        activation=activation,
        output_activation=out_act,
        seed=seed,
        dtype=dtype.value,
    )
    loss_obj = _losses.default_for(out_act) if loss == "auto" else _losses.get(loss)
    metric = "accuracy" if classification else "r2"

    if show:
        kind = f"{n_classes} classes" if classification else f"regression of {target_name!r}"
        if prepared.task_reason is not None:
            kind += f" ({prepared.task_reason}; force with --task)"
        test_rows = f", {prepared.rows['test']:,} test" if "test" in prepared.rows else ""
        err.print(
            f"[bold]{source}[/bold]: {n_train:,} training, {n_val:,} validation"
            f"{test_rows} rows; {pre.n_inputs} inputs -> {kind}",
            highlight=False,
        )
        for note in prepared.notes:
            err.print(note, highlight=False)
        err.print(
            f"MLP {'-'.join(map(str, net.sizes))} ({activation}/{out_act}, {loss_obj.name}), "
            f"{optimizer}, batch {batch_size}, up to {epochs} epochs, {dtype.value}",
            highlight=False,
        )

    if patience is None:
        # 10 epochs, but on small data (few batches per epoch) at least 1,000 gradient steps
        batches = -(-n_train // batch_size)
        patience = max(10, -(-1000 // batches))
    callbacks = []
    bar = None
    if not quiet:
        bar = _progress_callback(err, epochs, metric, samples=n_train)
        callbacks.append(bar)
    stopper = None
    if early_stopping:
        stopper = formicary.EarlyStopping(patience=patience, restore_best_weights=True)
    if show and stopper is not None:
        err.print(
            f"early stopping: patience {patience} epochs"
            + (", on the validation loss" if n_val else ", on the training loss"),
            highlight=False,
        )
    try:
        history = prepared.fit(
            net,
            loss=loss_obj,
            optimizer=optimizer,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            early_stopping=stopper,
            callbacks=callbacks,
            metric=metric,
            seed=rng,
        )
    finally:
        if bar is not None:
            bar.close()
    fit_seconds = float(sum(history.seconds))

    # ---- final metrics on every part
    metrics = prepared.score(net, loss_obj)
    _warn_unknown(err, quiet, unknown)

    training_options: dict[str, Any] = {
        "hidden": sizes,
        "activation": activation,
        "output_activation": out_act,
        "loss": loss_obj.name,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "epochs": epochs,
        "validation_split": options.validation_split,
        "early_stopping": early_stopping,
        "patience": patience,
        "scale": prepared.scaling,
        "dtype": dtype.value,
        "seed": seed,
        "max_rows": max_rows,
        "drop_missing": drop_missing,
    }
    if validation_data is not None:
        training_options["validation_data"] = str(validation_data)
    if stream:
        training_options.update(
            stream=True, chunk_size=chunk_rows, buffer_size=buffer_rows, sample_rows=first_rows
        )
    extra = {
        "preprocessing": pre.to_dict(),
        "training": {
            "command": "formicary train",
            "source": source,
            "data": str(data) if data is not None else None,
            "dataset": prepared.spec.get("dataset"),
            "created": _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds"),
            "options": training_options,
            "rows": {name: m["samples"] for name, m in metrics.items()},
            "seconds": fit_seconds,
            "metrics": _json_clean(metrics),
        },
    }
    formicary.save(net, out, extra=extra)
    total_seconds = time.perf_counter() - began

    result = {
        "model": str(out),
        "source": source,
        "task": pre.target.task,
        "target": target_name,
        "classes": pre.target.classes if classification else None,
        "architecture": net.sizes,
        "parameters": net.parameter_count,
        "epochs": history.epochs,
        "best_epoch": None if history.best_epoch is None else history.best_epoch + 1,
        "stopped_early": history.stopped_early,
        "interrupted": history.interrupted,
        "streamed": stream,
        "training_seconds": fit_seconds,
        "total_seconds": total_seconds,
        "metrics": metrics,
    }
    if json_output:
        print(json.dumps(_json_clean(result), indent=2))
        return
    if not show:
        return
    if history.interrupted:
        err.print(
            f"interrupted: saved the weights learnt in {history.epochs} epoch(s)", highlight=False
        )
    if history.stopped_early and history.best_epoch is not None:
        err.print(
            f"early stopping after epoch {history.epochs}: kept the weights of epoch "
            f"{history.best_epoch + 1} (best validation loss)",
            highlight=False,
        )
    out_console.print(_metrics_table(metrics, classification))
    out_console.print(
        f"saved [bold]{out}[/bold]: MLP {'-'.join(map(str, net.sizes))}, "
        f"{net.parameter_count:,} parameters, {history.epochs} epochs in {fit_seconds:.1f} s",
        highlight=False,
    )
    evaluate_hint = f"formicary evaluate {out}" + (f" {data}" if data is not None else "")
    out_console.print(
        f"next: [cyan]{evaluate_hint}[/cyan]  ·  [cyan]formicary info {out}[/cyan]",
        highlight=False,
    )


# ---------------------------------------------------------------------- evaluate
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

    out_console, err = _consoles()
    net, pre = _load_model(model)
    assert pre.target is not None
    if json_out is not None:
        _check_writable(json_out)
    if chunk_size < 1:
        raise CLIError(f"--chunk-size must be >= 1, got {chunk_size}")
    target_name = target or pre.target.name
    loss_obj = formicary.losses.default_for(net.output_activation.name)
    training = net.metadata.get("training")
    options = training.get("options") if isinstance(training, dict) else None
    if isinstance(options, dict) and options.get("loss"):
        with contextlib.suppress(ValueError, TypeError):
            loss_obj = formicary.losses.get(options["loss"])  # the loss it was trained with
    scores = _scores_for(pre)
    unknown: dict[str, set[str]] = {}

    def add(frame: pd.DataFrame, source: str) -> None:
        frame = _handle_missing(
            frame, [*pre.feature_names, target_name], source, drop_missing, err, quiet
        )
        X = pre.transform(frame, net.dtype, source=source, unknown=unknown)
        codes = pre.encode_target(frame[target_name].rename(target_name), source=source)
        _score_chunk(net, pre, loss_obj, scores, X, codes)

    if data is not None and dataset is not None:
        raise CLIError("give a data file or --dataset, not both")
    if data is not None:
        source = str(data)
        header = tabular.read_columns(data)
        _check_model_columns(pre, header, source)
        tabular.check_columns([target_name], header, source, role="target column")
        columns = list(dict.fromkeys([*pre.feature_names, target_name]))
        text = [*pre.text_columns]
        if pre.target.task == "classification" and _text_classes(pre):
            text.append(target_name)
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
        _check_model_columns(pre, list(loaded.train.columns), source)
        parts = {
            "test": [loaded.test],
            "train": [loaded.train],
            "all": [loaded.train, loaded.test],
        }[split.value]
        for part in parts:
            add(part, source)

    _warn_unknown(err, quiet, unknown)
    result = scores.result()
    result = {"model": str(model), "data": source, **result}
    result = _json_clean(result)
    if json_out is not None:
        _write_json(json_out, result)
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


# ---------------------------------------------------------------------- predict
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

    _, err = _consoles()
    net, pre = _load_model(model)
    assert pre.target is not None
    if chunk_size < 1:
        raise CLIError(f"--chunk-size must be >= 1, got {chunk_size}")
    if probabilities and pre.target.task != "classification":
        raise CLIError("--probabilities needs a classification model; this one does regression")
    source = str(data)
    header = tabular.read_columns(data)
    _check_model_columns(pre, header, source)
    kept = _names(keep)
    tabular.check_columns(kept, header, source)
    to_stdout = out == "-"
    out_path = None if to_stdout else Path(out)
    if out_path is not None:
        if out_path.resolve() == data.resolve():
            raise CLIError(f"refusing to overwrite the input {data}; choose another --out")
        fmt = tabular.file_format(out_path)
        _check_writable(out_path)
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
        import pandas as pd

        from formicary.preprocessing import describe_missing, missing_rows

        for chunk in chunks:
            mask = np.zeros(len(chunk), dtype=bool)
            problem = describe_missing(chunk, pre.feature_names, source)
            if problem is not None:
                if not drop_missing:
                    raise CLIError(
                        f"{problem}; fill them in, or pass --drop-missing to leave their "
                        "predictions empty"
                    )
                mask = missing_rows(chunk, pre.feature_names)
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

    _warn_unknown(err, quiet, unknown)
    summary = {"model": str(model), "data": source, "out": out, **stats}
    if json_output:
        print(json.dumps(summary, indent=2))
    elif not quiet and not to_stdout:
        skipped = f" ({stats['skipped']:,} left empty: missing values)" if stats["skipped"] else ""
        err.print(f"wrote {stats['rows']:,} predictions to {out}{skipped}", highlight=False)


def _write_frames(frames: Iterator[pd.DataFrame], path: Path, fmt: str) -> None:
    """Append DataFrames to one CSV/TSV/Parquet file as they come."""
    if fmt == "parquet":
        from formicary.tabular import _pyarrow_parquet

        pq = _pyarrow_parquet()  # a clear message when pyarrow is missing
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


# ---------------------------------------------------------------------- info
INFO_EPILOG = """\
[bold]Examples[/bold]

  [cyan]formicary info model.fcy[/cyan]
  [cyan]formicary info model.fcy --json | jq .preprocessing.target[/cyan]
"""


def info(
    model: Annotated[Path, typer.Argument(help="A Formicary model file.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print everything as JSON on stdout.")
    ] = False,
) -> None:
    """Show a model's architecture, activations, parameter count, training and preprocessing."""
    import formicary
    from formicary.preprocessing import Preprocessor

    net = formicary.load(model)
    raw = net.metadata.get("preprocessing")
    pre = Preprocessor.from_dict(raw) if raw is not None else None
    training = (
        net.metadata.get("training") if isinstance(net.metadata.get("training"), dict) else None
    )
    history = net.history
    layers = [
        {
            "layer": l,
            "inputs": layer.n_in,
            "neurons": layer.n_out,
            "activation": layer.activation.name,
            "parameters": layer.parameter_count,
        }
        for l, layer in enumerate(net.layers, start=1)
    ]
    history_summary = None
    if history is not None and history.epochs:
        history_summary = {
            "epochs": history.epochs,
            "loss": history.loss_name,
            "metric": history.metric_name,
            "final_loss": history.loss[-1],
            "final_val_loss": history.val_loss[-1] if history.val_loss else None,
            "final_metric": history.metric[-1] if history.metric else None,
            "final_val_metric": history.val_metric[-1] if history.val_metric else None,
            "best_epoch": None if history.best_epoch is None else history.best_epoch + 1,
            "stopped_early": history.stopped_early,
            "seconds": float(sum(history.seconds)),
        }
    result = {
        "model": str(model),
        "architecture": net.sizes,
        "dtype": net.dtype.name,
        "parameters": net.parameter_count,
        "layers": layers,
        "history": history_summary,
        "training": training,
        "preprocessing": pre.to_dict() if pre is not None else None,
    }
    if json_output:
        print(json.dumps(_json_clean(result), indent=2))
        return
    from rich.table import Table

    out_console, _ = _consoles()
    out_console.print(
        f"[bold]{model}[/bold]: MLP {'-'.join(map(str, net.sizes))} ({net.dtype.name})",
        highlight=False,
    )
    table = Table()
    for name in ("layer", "W shape", "activation", "parameters"):
        table.add_column(name, justify="right" if name == "parameters" else "left")
    table.add_row("0 (input)", "", "", f"{net.n_inputs} inputs")
    for item in layers:
        role = "output" if item["layer"] == len(layers) else "hidden"
        table.add_row(
            f"{item['layer']} ({role})",
            f"{item['neurons']}x{item['inputs']}",
            item["activation"],
            f"{item['parameters']:,}",
        )
    table.add_section()
    table.add_row("total", "", "", f"{net.parameter_count:,}")
    out_console.print(table)

    if history_summary is not None:
        h = history_summary
        metric = h["metric"] or "metric"
        line = f"training: {h['epochs']} epochs of {h['loss']}"
        line += f", final loss {h['final_loss']:.4f}"
        if h["final_metric"] is not None:
            line += f", {metric} {h['final_metric']:.4f}"
        if h["final_val_loss"] is not None:
            line += f"; validation loss {h['final_val_loss']:.4f}"
        if h["final_val_metric"] is not None:
            line += f", {metric} {h['final_val_metric']:.4f}"
        if h["stopped_early"]:
            line += f"; stopped early, kept epoch {h['best_epoch']}"
        line += f"; {h['seconds']:.1f} s"
        out_console.print(line, highlight=False)
    if training is not None:
        options = training.get("options") or {}
        out_console.print(
            f"trained on {training.get('source')} ({training.get('created', '?')}) with "
            + ", ".join(f"{k}={v}" for k, v in options.items() if v is not None),
            highlight=False,
        )
        metrics = training.get("metrics")
        if isinstance(metrics, dict) and metrics:
            classification = pre is not None and pre.task == "classification"
            out_console.print(_metrics_table(metrics, classification))
    if pre is None:
        out_console.print("no preprocessing stored (the network was saved from Python)")
        return
    _print_preprocessing(out_console, pre)


def _print_preprocessing(console: Any, pre: Preprocessor) -> None:
    from rich.table import Table

    console.print(
        f"preprocessing ({pre.scaling} scaling): {len(pre.features)} columns -> "
        f"{pre.n_inputs} inputs",
        highlight=False,
    )
    table = Table()
    table.add_column("column")
    table.add_column("kind")
    table.add_column("encoding")
    shown = pre.features if len(pre.features) <= 20 else pre.features[:10]
    for feature in shown:
        if feature.kind == "numeric":
            encoding = f"(v - {feature.center:.4g}) / {feature.scale:.4g}"
        else:
            cats = feature.categories
            encoding = "one-hot: " + ", ".join(cats[:8]) + (" ..." if len(cats) > 8 else "")
        table.add_row(feature.name, feature.kind, encoding)
    if len(shown) < len(pre.features):
        table.add_row(f"... {len(pre.features) - len(shown)} more", "", "(see --json)")
    console.print(table)
    target = pre.target
    if target is None:
        return
    if target.task == "classification":
        classes = ", ".join(str(c) for c in target.classes[:20])
        more = " ..." if len(target.classes) > 20 else ""
        console.print(
            f"target {target.name!r}: classification, {target.n_classes} classes: {classes}{more}",
            highlight=False,
        )
    else:
        console.print(
            f"target {target.name!r}: regression, predictions = {target.center:.4g} + "
            f"{target.scale:.4g} * a^(L)",
            highlight=False,
        )


# ---------------------------------------------------------------------- registration
def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate``, ``predict`` and ``info`` to the ``formicary`` app."""
    app.command("train", epilog=TRAIN_EPILOG)(handle_errors(train))
    app.command("evaluate", epilog=EVALUATE_EPILOG)(handle_errors(evaluate))
    app.command("predict", epilog=PREDICT_EPILOG)(handle_errors(predict))
    app.command("info", epilog=INFO_EPILOG)(handle_errors(info))
