"""``formicary export MODEL --onnx out.onnx``: hand a trained network to ONNX runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from formicary.cli.common import CLIError, handle_errors, require


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to the Typer ``app``."""

    @app.command()
    @handle_errors
    def export(
        model: Annotated[Path, typer.Argument(help="A model file written by 'formicary train'.")],
        onnx_path: Annotated[
            Optional[Path],  # noqa: UP045 - typer reads the annotation at run time
            typer.Option("--onnx", help="Write the network as an ONNX graph to this file."),
        ] = None,
        opset: int = typer.Option(
            None, "--opset", help="ONNX opset (default 17, or 20 for GELU).", show_default=False
        ),
        dtype: str = typer.Option(
            "float32", "--dtype", help="Element type of the graph: float32 or float64."
        ),
        labels: bool = typer.Option(
            True, "--labels/--no-labels", help="Also output the predicted class ('label')."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
    ) -> None:
        """Export a trained model for serving.

        The ONNX graph has input 'input' (raw feature columns, in the order used for
        training; the standardisation saved with the model is part of the graph) and
        output 'output' (what 'formicary predict' gives), plus 'label' for classifiers.

        Example: formicary export model.fcy --onnx model.onnx
        """
        if onnx_path is None:
            raise CLIError("say what to export to, e.g. --onnx model.onnx")
        require("onnx", "onnx")
        import formicary
        from formicary.onnx import EXPRESSIBLE
        from formicary.onnx import export as export_onnx
        from formicary.serialization import read_metadata

        meta, _ = read_metadata(model)
        for l, layer in enumerate(meta.get("layers") or [], start=1):
            name = (layer.get("activation") or {}).get("name") if isinstance(layer, dict) else None
            if isinstance(name, str) and name not in EXPRESSIBLE:
                raise CLIError(
                    f"{model}: layer {l} uses the custom activation {name!r}, which ONNX cannot "
                    f"express (it knows {', '.join(sorted(EXPRESSIBLE))}); nothing was written"
                )
        net = formicary.load(model)
        written = export_onnx(net, onnx_path, opset=opset, dtype=dtype, labels=labels)
        if not quiet:
            import onnx

            graph = onnx.load(written).graph
            inputs = ", ".join(f"{i.name} ({_columns(i)})" for i in graph.input)
            outputs = ", ".join(o.name for o in graph.output)
            print(
                f"wrote {written}: ONNX graph of MLP {'-'.join(map(str, net.sizes))} "
                f"({dtype}); inputs: {inputs}; outputs: {outputs}"
            )


def _columns(value_info: object) -> str:
    """``"3 columns"`` or ``"text"`` for a graph input."""
    tensor = value_info.type.tensor_type  # type: ignore[attr-defined]
    dims = tensor.shape.dim
    width = dims[1].dim_value if len(dims) > 1 else 1
    text = tensor.elem_type == 8  # onnx.TensorProto.STRING
    return "text" if text else f"{width} column{'s' if width != 1 else ''}"
