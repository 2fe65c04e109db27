"""``formicary train``: fit the preprocessing and an MLP on a table, and save both.

``train`` reads a CSV/Parquet file (or a built-in data set), fits the
preprocessing (:mod:`formicary.preprocessing`), trains an MLP with a live
progress bar and saves one model file holding the weights *and* the
preprocessing. The data comes loaded whole (:mod:`formicary.cli.training_data`)
or, with ``--stream``, read in chunks
(:mod:`formicary.cli.streamed_training_data`). pandas, rich and scikit-learn
are imported inside the command.
"""

from __future__ import annotations

import datetime as _datetime
import json
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from formicary.cli.common import CLIError
from formicary.cli.data_common import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_DATASET,
    check_writable,
    consoles,
    json_clean,
    warn_unknown,
)
from formicary.cli.scores import metrics_table
from formicary.cli.streamed_training_data import (
    DEFAULT_BUFFER_CHUNKS,
    stream_sizes,
    streamed_data,
)
from formicary.cli.training_data import DataOptions, loaded_data

if TYPE_CHECKING:
    from formicary.network import MLP


class Task(str, Enum):
    """What ``train --task`` learns: ``auto`` infers classification or regression from the target."""

    auto = "auto"
    classification = "classification"
    regression = "regression"


class DType(str, Enum):
    """The floating-point precision of the network's weights and inputs (``--dtype``)."""

    float32 = "float32"
    float64 = "float64"


class Scale(str, Enum):
    """Numeric feature scaling (``--scale``), see :func:`formicary.preprocessing.center_and_scale`.

    ``auto`` is ``standard`` for files and the data set's own choice for
    built-in sets (``minmax`` for images).
    """

    auto = "auto"
    standard = "standard"
    minmax = "minmax"
    none = "none"


# ---------------------------------------------------------------------- option parsing
def _hidden_sizes(text: str) -> list[int]:
    """The hidden layer sizes of ``--hidden``: ``"64,32"`` -> ``[64, 32]``; ``""``, ``none``, ``0`` -> ``[]``."""
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
        """``loss 0.1234 acc 0.9500 │ val loss ...``: an epoch's numbers on one line."""
        parts = [f"loss {logs['loss']:.4f}"]
        if metric in logs:
            parts.append(f"{short} {logs[metric]:.4f}")
        if "val_loss" in logs:
            parts.append(f"│ val loss {logs['val_loss']:.4f}")
        if f"val_{metric}" in logs:
            parts.append(f"{short} {logs[f'val_{metric}']:.4f}")
        return " ".join(parts)

    class RichProgress(Callback):
        """The progress bar (or plain lines) driven by the training hooks."""

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

    out_console, err = consoles()
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
    chunk_rows, buffer_rows, first_rows = stream_sizes(
        stream, data, dataset, max_rows, batch_size, chunk_size, buffer_size, sample_rows
    )
    if validation_data is not None:
        from formicary.tabular import read_columns

        read_columns(validation_data)  # exists, readable, has a header
    check_writable(out)

    # ---- the data
    options = DataOptions(
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
        prepared = streamed_data(options, err, quiet, unknown)
    else:
        prepared = loaded_data(options, rng, err, quiet, unknown)
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
    warn_unknown(err, quiet, unknown)

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
            "metrics": json_clean(metrics),
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
        print(json.dumps(json_clean(result), indent=2))
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
    out_console.print(metrics_table(metrics, classification))
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
