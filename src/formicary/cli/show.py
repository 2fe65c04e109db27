"""``formicary explain``, ``formicary prove`` and ``formicary plot``: show the work.

Each runs a demo on built-in data when given no arguments: ``explain`` and
``prove`` use the lecture's 3-2-1 sigmoid network, ``plot`` trains a small
network on the circles data set and writes its pictures to a folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from formicary.cli.common import CLIError, handle_errors, require

FORMATS = ("text", "markdown", "latex")
PARTS = ("both", "forward", "backward")
PLOTS = ("activations", "history", "decision_boundary", "network", "hidden_neurons")


def _numbers(text: str, what: str) -> np.ndarray:
    """``"1, 0.5; 2, 3"`` -> a 2-D array (rows split by ``;``)."""
    rows = [row for row in text.replace("\n", ";").split(";") if row.strip()]
    if not rows:
        raise CLIError(f"{what} is empty; give numbers separated by commas, e.g. '1,0.5,-1'")
    try:
        values = [[float(v) for v in row.replace(" ", ",").split(",") if v.strip()] for row in rows]
    except ValueError:
        raise CLIError(
            f"{what} must be numbers separated by commas (samples separated by ';'), got {text!r}"
        ) from None
    if len({len(r) for r in values}) != 1:
        raise CLIError(f"every sample in {what} needs the same number of values, got {text!r}")
    array = np.array(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise CLIError(f"{what} contains NaN or inf: {text!r}")
    return array


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise CLIError(f"{option} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _emit(text: str, output: Path | None, what: str) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {what} to {output}")


def _load(model: Path):  # -> formicary.MLP
    import formicary

    return formicary.load(model)


def register(app: typer.Typer) -> None:
    """Add ``explain``, ``prove`` and ``plot`` to the Typer ``app``."""

    @app.command()
    @handle_errors
    def explain(
        model: Annotated[
            Path | None,
            typer.Argument(
                help="A model file (.npz from 'formicary train' or net.save). Default: the "
                "lecture's 3-2-1 sigmoid network.",
                show_default=False,
            ),
        ] = None,
        input: str = typer.Option(
            None,
            "--input",
            "-x",
            help="The sample x, e.g. '1,0.5,-1'; several samples (a mini-batch for the "
            "backward pass) separated by ';'.",
            show_default=False,
        ),
        target: str = typer.Option(
            None,
            "--target",
            "-y",
            help="The target y for the backward pass, one row per sample ('1' or '1;0').",
            show_default=False,
        ),
        part: str = typer.Option(
            "both", "--part", help="What to explain: both, forward or backward."
        ),
        format: str = typer.Option(
            "text", "--format", "-f", help="text (terminal), markdown or latex."
        ),
        loss: str = typer.Option("mse", "--loss", help="The error e for the backward pass."),
        learning_rate: float = typer.Option(
            0.5, "--learning-rate", "--eta", help="eta in the update w = w - eta de/dw."
        ),
        precision: int = typer.Option(
            None,
            "--precision",
            help="Decimals shown (default 2 for the forward pass, 4 for the backward pass).",
            show_default=False,
        ),
        max_terms: int = typer.Option(
            8, "--max-terms", help="Terms written out per sum before '... (+N more terms)'."
        ),
        max_neurons: int = typer.Option(8, "--max-neurons", help="Neurons written out per layer."),
        max_samples: int = typer.Option(
            4, "--max-samples", help="Samples of a mini-batch whose deltas are written out."
        ),
        color: bool = typer.Option(
            None,
            "--color/--no-color",
            help="Colour the text output (default: only on a terminal).",
            show_default=False,
        ),
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Write to this file instead of the terminal."),
        ] = None,
    ) -> None:
        """Explain a forward pass and one backpropagation step in the lecture's notation.

        With no arguments: the lecture's 3-2-1 sigmoid network on x = (1, 0.5, -1),
        y = 1, every z_j^(l), a_j^(l), delta_j^(l), de/dw_jk^(l) and the updated weights.
        """
        from formicary import explain as explainer

        part = _choice(part, PARTS, "--part")
        format = _choice(format, FORMATS, "--format")
        if model is None:
            net, x, y = explainer.lecture_example()
            X = x.reshape(1, -1) if input is None else _numbers(input, "--input")
            Y = y.reshape(1, -1) if input is None else None
            if target is not None:
                Y = _numbers(target, "--target")
            elif input is not None and part != "forward":
                Y = None
        else:
            net = _load(model)
            if input is None:
                raise CLIError(
                    f"give the sample to explain with --input: {net.n_inputs} numbers separated "
                    "by commas"
                )
            X = _numbers(input, "--input")
            Y = None if target is None else _numbers(target, "--target")
        if X.shape[1] != net.n_inputs:
            raise CLIError(
                f"--input has {X.shape[1]} value(s) per sample but the network takes "
                f"{net.n_inputs} inputs"
            )
        if Y is not None and Y.shape[0] != X.shape[0]:
            raise CLIError(f"--input has {X.shape[0]} sample(s) but --target {Y.shape[0]}")
        if part == "backward" and Y is None:
            raise CLIError("the backward pass needs the target: give it with --target")
        if part == "forward" and X.shape[0] > 1:
            raise CLIError("the forward pass follows one sample; give one row in --input")
        pieces = []
        standalone = format != "latex" or part != "both"
        if part in ("both", "forward"):
            pieces.append(
                explainer.forward(
                    net,
                    X[0],
                    format=format,
                    precision=2 if precision is None else precision,
                    max_terms=max_terms,
                    max_neurons=max_neurons,
                    color=color if output is None else False,
                    standalone=standalone,
                )
            )
        if part in ("both", "backward") and Y is not None:
            pieces.append(
                explainer.backward(
                    net,
                    X if X.shape[0] > 1 else X[0],
                    Y if Y.shape[0] > 1 else Y[0],
                    loss=loss,
                    learning_rate=learning_rate,
                    format=format,
                    precision=4 if precision is None else precision,
                    max_terms=max_terms,
                    max_neurons=max_neurons,
                    max_samples=max_samples,
                    color=color if output is None else False,
                    standalone=standalone,
                )
            )
        if format == "latex" and not standalone:
            text = explainer.latex_document(pieces, None, max_terms + 2)
        else:
            text = "\n".join(pieces)
        if part == "both" and Y is None:
            text += (
                "\n(no --target given: the backward pass needs one, e.g. --target 1)\n"
                if format == "text"
                else ""
            )
        _emit(text, output, "the explanation")

    @app.command()
    @handle_errors
    def prove(
        sizes: str = typer.Option(
            "3,2,1", "--sizes", help="Layer sizes of the network to expand, e.g. '3,2,1'."
        ),
        format: str = typer.Option(
            "text", "--format", "-f", help="text (terminal), markdown or latex."
        ),
        empirical: bool = typer.Option(
            True,
            "--empirical/--no-empirical",
            help="Also train with and without activations on XOR and circles (a few seconds).",
        ),
        model: Annotated[
            Path | None,
            typer.Option(
                "--model",
                help="Instead: collapse this saved model into one layer (its hidden layers must "
                "use 'identity').",
            ),
        ] = None,
        seed: int = typer.Option(0, "--seed", help="For the random weights and the training."),
        epochs: int = typer.Option(300, "--epochs", help="Training epochs of the empirical part."),
        max_terms: int = typer.Option(12, "--max-terms", help="Terms written out per sum."),
        color: bool = typer.Option(
            None, "--color/--no-color", help="Colour the text output.", show_default=False
        ),
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Write to this file instead of the terminal."),
        ] = None,
    ) -> None:
        """Prove that without activation functions the layers collapse into one.

        Symbolic (SymPy expands the network and collects the coefficients), numeric
        (collapse() gives the same outputs to machine precision) and empirical (XOR and
        circles: the identity network does no better than a straight line).
        """
        from formicary import proof

        format = _choice(format, FORMATS, "--format")
        if model is not None:
            check = proof.check_collapse(_load(model), seed=seed)
            layer = check.layer
            text = (
                f"{model} collapses into one Dense layer: {layer.n_in} inputs -> "
                f"{layer.n_out} neurons, activation {layer.activation.name}.\n"
                f"W = W^(L) ... W^(1) =\n{np.array2string(layer.weights, precision=4)}\n"
                f"b = {np.array2string(layer.bias, precision=4)}\n"
                f"On {check.n_samples} random inputs the outputs differ by at most "
                f"{check.max_abs_difference:.3g}.\n"
            )
            _emit(text, output, "the collapsed layer")
            return
        require("sympy", "explain")
        try:
            layer_sizes = [int(s) for s in sizes.replace(" ", "").split(",") if s]
        except ValueError:
            layer_sizes = []
        if len(layer_sizes) < 2 or min(layer_sizes) < 1:
            raise CLIError(
                f"--sizes must be at least two positive integers separated by commas, such as "
                f"'3,2,1'; got {sizes!r}"
            )
        if epochs < 1:
            raise CLIError(f"--epochs must be at least 1, got {epochs}")
        text = proof.report(
            sizes=layer_sizes,
            format=format,
            empirical_check=empirical,
            seed=seed,
            max_terms=max_terms,
            color=color if output is None else False,
            epochs=epochs,
        )
        _emit(text, output, "the proof")

    @app.command()
    @handle_errors
    def plot(
        output_dir: Annotated[
            Path,
            typer.Option("--output-dir", "-o", help="Folder for the PNG files."),
        ] = Path("formicary-plots"),
        data: str = typer.Option(
            "circles", "--data", help="Built-in data: circles, xor, moons, spirals, gaussians."
        ),
        model: Annotated[
            Path | None,
            typer.Option(
                "--model",
                help="Plot this saved model (its diagram; with 2 inputs also its decision "
                "boundary and hidden neurons on --data) instead of training one.",
            ),
        ] = None,
        activation: str = typer.Option(
            "tanh", "--activation", help="Hidden activation of the demo network."
        ),
        hidden: int = typer.Option(6, "--hidden", help="Hidden neurons of the demo network."),
        epochs: int = typer.Option(200, "--epochs", help="Training epochs of the demo network."),
        seed: int = typer.Option(0, "--seed", help="Seed for the data and the weights."),
    ) -> None:
        """Draw the pictures: activations, loss curves, decision boundary, network, neurons.

        With no arguments: trains a 2-6-1 tanh network on the circles data set and
        writes five PNG files to ./formicary-plots.
        """
        require("matplotlib", "plot")
        from formicary import datasets, plotting

        if output_dir.exists() and not output_dir.is_dir():
            raise CLIError(f"{output_dir} exists and is not a folder; choose another --output-dir")
        if epochs < 1:
            raise CLIError(f"--epochs must be at least 1, got {epochs}")
        if hidden < 1:
            raise CLIError(f"--hidden must be at least 1, got {hidden}")
        if model is None:
            paths = plotting.demo(
                output_dir,
                dataset=data,
                hidden=(hidden,),
                activation=activation,
                epochs=epochs,
                seed=seed,
            )
        else:
            net = _load(model)
            paths = {"network": output_dir / "network.png"}
            plotting.plot_network(net, path=paths["network"])
            names = sorted({layer.activation.name for layer in net.layers} - {"softmax"})
            if names:
                paths["activations"] = output_dir / "activations.png"
                plotting.plot_activations(names, path=paths["activations"])
            if net.n_inputs == 2:
                if data not in datasets.GENERATED or data == "plane":
                    raise CLIError(
                        f"unknown data set {data!r}; use circles, xor, moons, spirals or gaussians"
                    )
                X, y = datasets.GENERATED[data](400, seed=seed)
                if net.n_outputs == 1 or int(y.max()) < net.n_outputs:
                    paths["decision_boundary"] = output_dir / "decision_boundary.png"
                    plotting.plot_decision_boundary(net, X, y, path=paths["decision_boundary"])
                if len(net.layers) > 1:
                    paths["hidden_neurons"] = output_dir / "hidden_neurons.png"
                    plotting.plot_hidden_neurons(net, X, y, path=paths["hidden_neurons"])
        descriptions = {
            "activations": "activation functions with their derivatives, domain and range",
            "history": "training and validation loss and accuracy per epoch",
            "decision_boundary": "the classifier's decision boundary with the data",
            "network": "the network: edges = weights (width |w|, colour = sign)",
            "hidden_neurons": "what each hidden neuron responds to over the input plane",
        }
        for name, path in paths.items():
            print(f"wrote {path}  ({descriptions[name]})")
