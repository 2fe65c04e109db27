"""``formicary info``: a model file's architecture, training and preprocessing.

A table of the layers (``W^(l)`` shapes, activations, parameter counts), the
training history and options, the final metrics and the stored preprocessing,
or all of it as JSON. rich is imported inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from formicary.cli.data_common import consoles, json_clean
from formicary.cli.scores import metrics_table

if TYPE_CHECKING:
    from formicary.preprocessing import Preprocessor


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
        print(json.dumps(json_clean(result), indent=2))
        return
    from rich.table import Table

    out_console, _ = consoles()
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
            out_console.print(metrics_table(metrics, classification))
    if pre is None:
        out_console.print("no preprocessing stored (the network was saved from Python)")
        return
    _print_preprocessing(out_console, pre)


def _print_preprocessing(console: Any, pre: Preprocessor) -> None:
    """Print the stored preprocessing: each column's encoding, then the target's."""
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
