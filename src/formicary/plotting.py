"""Pictures of what the network does (extra ``formicary[plot]``: matplotlib).

Every function builds a :class:`matplotlib.figure.Figure` directly, without
``pyplot``, so it works on a headless machine with no display and never touches
the global backend (in a notebook the returned figure shows inline). Pass
``path=`` to also write a PNG.

* :func:`plot_activation` / :func:`plot_activations`: ``a = f(z)`` with ``f'(z)``,
  the domain and the range marked, as in the lecture's sigmoid and ReLU sketches;
* :func:`plot_history`: training and validation loss and metric per epoch;
* :func:`plot_decision_boundary`: a 2-D classifier's regions with the data;
* :func:`plot_network`: neurons as nodes, weights as edges (width = ``|w|``,
  colour = sign), optionally the activations for one sample;
* :func:`plot_hidden_neurons`: for 2-D inputs, what each hidden neuron has
  learnt, ``a_j^(l)(x_1, x_2)`` as a small heatmap per neuron;
* :func:`demo`: trains a small network on circles and writes all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import activations as _activations
from formicary.network import MLP

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from formicary.training import History

__all__ = [
    "demo",
    "plot_activation",
    "plot_activations",
    "plot_decision_boundary",
    "plot_hidden_neurons",
    "plot_history",
    "plot_network",
]

DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "gelu", "identity")
_TEXT_NAMES = {"sigmoid": "σ", "relu": "ReLU", "leaky_relu": "LeakyReLU", "gelu": "GELU"}


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib; install it with: pip install 'formicary[plot]'"
        ) from None
    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig: Figure, path: str | Path | None, dpi: int = 120) -> Figure:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def _check_net(net: Any) -> MLP:
    if not isinstance(net, MLP):
        raise TypeError(f"expected a formicary.MLP, got {type(net).__name__}")
    return net


# =========================================================================== activations


def _draw_activation(ax: Axes, activation: Any, z_range: tuple[float, float]) -> None:
    act = _activations.get(activation)
    if not act.elementwise:
        raise ValueError(
            f"{act.name} normalises across a whole layer and has no one-variable curve to plot"
        )
    low, high = float(z_range[0]), float(z_range[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"z_range must be two finite numbers, low < high; got {z_range!r}")
    z = np.linspace(low, high, 801)
    a = act.function(z.copy())
    derivative = act.gradient(z, a)
    name = _TEXT_NAMES.get(act.name, act.name)
    ax.plot(z, a, color="tab:blue", lw=2.2, label=f"{name}(z)")
    ax.plot(z, derivative, color="tab:orange", lw=1.8, ls="--", label=f"{name}'(z)")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    values = np.concatenate([a, derivative])
    y_low, y_high = float(values.min()), float(values.max())
    span = max(y_high - y_low, 1.0)
    y_low, y_high = y_low - 0.15 * span, y_high + 0.12 * span
    ax.set_ylim(y_low, y_high)
    ax.set_xlim(low, high)
    # the range: a band between its bounds (clipped to the view), dotted at finite ends
    rng = act.range
    band_low = max(rng.low, y_low) if math.isfinite(rng.low) else y_low
    band_high = min(rng.high, y_high) if math.isfinite(rng.high) else y_high
    ax.axhspan(band_low, band_high, color="tab:blue", alpha=0.08, lw=0)
    for bound in (rng.low, rng.high):
        if math.isfinite(bound) and y_low < bound < y_high:
            ax.axhline(bound, color="tab:blue", lw=1, ls=":")
    ax.text(
        0.02,
        0.97,
        f"range {rng}",
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=9,
        color="tab:blue",
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
    )
    # the domain: an arrow along the bottom over the whole z axis
    arrow_y = y_low + 0.05 * (y_high - y_low)
    ax.annotate(
        "",
        xy=(high, arrow_y),
        xytext=(low, arrow_y),
        arrowprops={"arrowstyle": "<->", "color": "0.35", "lw": 1},
    )
    ax.text(
        (low + high) / 2,
        arrow_y,
        f"domain {act.domain}",
        ha="center",
        va="bottom",
        fontsize=9,
        color="0.25",
    )
    ax.set_title(f"{act.name}", fontsize=11)
    ax.set_xlabel("z")
    ax.set_ylabel(f"a = {name}(z)  and  {name}'(z)")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.grid(True, alpha=0.25)


def plot_activation(
    activation: str | Any = "sigmoid",
    z_range: tuple[float, float] = (-6.0, 6.0),
    path: str | Path | None = None,
) -> Figure:
    """One activation ``a = f(z)`` with its derivative ``f'(z)``, domain and range marked.

    Parameters
    ----------
    activation : str or Activation
        Any element-wise activation, built-in or registered.
    z_range : (low, high)
        The interval of ``z`` drawn.
    path : str or Path, optional
        Also write the figure there as a PNG.
    """
    fig = _figure(6.0, 4.2)
    _draw_activation(fig.add_subplot(), activation, z_range)
    return _finish(fig, path)


def plot_activations(
    names: Sequence[str | Any] = DEFAULT_ACTIVATIONS,
    z_range: tuple[float, float] = (-5.0, 5.0),
    path: str | Path | None = None,
    columns: int = 3,
) -> Figure:
    """A grid of :func:`plot_activation` panels, one per activation."""
    names = list(names)
    if not names:
        raise ValueError("give at least one activation to plot")
    columns = max(1, min(columns, len(names)))
    rows = math.ceil(len(names) / columns)
    fig = _figure(4.4 * columns, 3.4 * rows)
    for index, name in enumerate(names):
        _draw_activation(fig.add_subplot(rows, columns, index + 1), name, z_range)
    fig.suptitle("Activation functions a = f(z) and their derivatives", fontsize=13)
    return _finish(fig, path)


# =========================================================================== history


def plot_history(history: History, path: str | Path | None = None) -> Figure:
    """Training (and validation) loss and metric per epoch from a :class:`History`."""
    if not hasattr(history, "loss") or len(history.loss) == 0:
        raise ValueError("the history has no epochs to plot; train the network first")
    has_metric = bool(history.metric)
    fig = _figure(11.0 if has_metric else 6.0, 4.0)
    epochs = np.arange(1, len(history.loss) + 1)
    loss_ax = fig.add_subplot(1, 2 if has_metric else 1, 1)
    loss_ax.plot(epochs, history.loss, label="training", color="tab:blue", lw=1.8)
    if history.val_loss:
        loss_ax.plot(
            epochs[: len(history.val_loss)],
            history.val_loss,
            label="validation",
            color="tab:orange",
            lw=1.8,
        )
    loss_name = (history.loss_name or "loss").replace("_", " ")
    loss_ax.set_title(f"Loss ({loss_name})")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel(f"error e ({loss_name})")
    if min(history.loss) > 0 and max(history.loss) / min(history.loss) > 50:
        loss_ax.set_yscale("log")
    axes = [loss_ax]
    if has_metric:
        metric_ax = fig.add_subplot(1, 2, 2)
        metric_ax.plot(epochs, history.metric, label="training", color="tab:blue", lw=1.8)
        if history.val_metric:
            metric_ax.plot(
                epochs[: len(history.val_metric)],
                history.val_metric,
                label="validation",
                color="tab:orange",
                lw=1.8,
            )
        metric = history.metric_name or "metric"
        metric_ax.set_title(metric.replace("_", " ").capitalize())
        metric_ax.set_xlabel("epoch")
        metric_ax.set_ylabel(metric.replace("_", " "))
        axes.append(metric_ax)
    for ax in axes:
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch + 1, color="0.4", ls=":", lw=1, label="best epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    return _finish(fig, path)


# =========================================================================== decision boundary


def _grid_over(X: np.ndarray, resolution: int, padding: float) -> tuple[np.ndarray, ...]:
    low = X.min(axis=0)
    high = X.max(axis=0)
    pad = padding * np.maximum(high - low, 1e-9)
    x1 = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    x2 = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    g1, g2 = np.meshgrid(x1, x2)
    return g1, g2, np.column_stack([g1.ravel(), g2.ravel()])


def _two_d(net: MLP, X: Any, what: str) -> np.ndarray:
    if net.n_inputs != 2:
        raise ValueError(
            f"{what} needs a network with 2 inputs (a plane to draw on); this one has "
            f"{net.n_inputs}"
        )
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n_samples, 2), got {X.shape}")
    return X


def _labels(y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0]
    if labels.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {labels.shape[0]}")
    return labels


def plot_decision_boundary(
    net: MLP,
    X: Any,
    y: Any,
    resolution: int = 200,
    padding: float = 0.1,
    path: str | Path | None = None,
) -> Figure:
    """The regions a 2-input classifier assigns to each class, with the data on top.

    One output neuron: the shading is ``y_hat = a^(L)`` and the black line its
    0.5 contour (the decision boundary); several outputs: the arg-max class.
    """
    net = _check_net(net)
    X = _two_d(net, X, "a decision boundary")
    labels = _labels(y, X.shape[0])
    g1, g2, grid = _grid_over(X, resolution, padding)
    out = net.predict(grid)
    fig = _figure(6.2, 5.2)
    ax = fig.add_subplot()
    if net.n_outputs == 1:
        surface = out[:, 0].reshape(g1.shape)
        filled = ax.contourf(g1, g2, surface, levels=21, cmap="RdBu_r", alpha=0.75)
        ax.contour(g1, g2, surface, levels=[0.5], colors="k", linewidths=1.6)
        fig.colorbar(filled, ax=ax, label="network output $\\hat{y} = a^{(L)}$")
        predicted = (net.predict(X)[:, 0] >= 0.5).astype(int)
    else:
        classes = out.argmax(axis=1).reshape(g1.shape)
        ax.contourf(
            g1,
            g2,
            classes,
            levels=np.arange(net.n_outputs + 1) - 0.5,
            cmap="tab10",
            alpha=0.35,
        )
        predicted = net.predict(X).argmax(axis=1)
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=labels,
        cmap="RdBu_r" if net.n_outputs == 1 else "tab10",
        vmin=labels.min() if net.n_outputs == 1 else 0,
        vmax=labels.max() if net.n_outputs == 1 else 9,
        edgecolors="k",
        linewidths=0.6,
        s=22,
    )
    accuracy = float(np.mean(predicted == labels))
    sizes = "-".join(map(str, net.sizes))
    ax.set_title(f"Decision boundary of the {sizes} network (accuracy {accuracy:.2f})")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return _finish(fig, path)


# =========================================================================== network diagram


def plot_network(
    net: MLP,
    sample: Any = None,
    max_neurons: int = 12,
    path: str | Path | None = None,
) -> Figure:
    """The network as a diagram: neurons as nodes, weights as edges.

    Edge width grows with ``|w_jk^(l)|`` and its colour shows the sign (red
    positive, blue negative). With ``sample``, each neuron shows its activation
    ``a_j^(l)`` for that input (node colour and number); without, its bias ``b_j^(l)``.

    Parameters
    ----------
    net : MLP
    sample : array of shape (n_inputs,), optional
    max_neurons : int
        Larger layers show their first ``max_neurons`` neurons and a ``+N more`` note.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    net = _check_net(net)
    if max_neurons < 1:
        raise ValueError(f"max_neurons must be >= 1, got {max_neurons}")
    activations_of: list[np.ndarray] | None = None
    if sample is not None:
        x = np.asarray(sample, dtype=net.dtype).reshape(1, -1)
        trace = net.forward(x, trace=True)
        activations_of = [trace.inputs[0]] + [a[0] for a in trace.a]  # type: ignore[union-attr]
    sizes = net.sizes
    shown = [min(s, max_neurons) for s in sizes]
    tallest = max(shown)
    fig = _figure(max(6.5, 2.0 * len(sizes) + 3.0), max(4.0, 0.55 * tallest + 2.2))
    ax = fig.add_subplot()

    def positions(layer: int) -> np.ndarray:
        count = shown[layer]
        return (np.arange(count) - (count - 1) / 2.0)[::-1]

    all_weights = np.concatenate([layer.weights.ravel() for layer in net.layers])
    limit = float(np.max(np.abs(all_weights))) or 1.0
    edge_cmap = colormaps["coolwarm"]
    edge_norm = Normalize(-limit, limit)
    for l, layer in enumerate(net.layers):
        y_in, y_out = positions(l), positions(l + 1)
        for j in range(shown[l + 1]):
            for k in range(shown[l]):
                w = float(layer.weights[j, k])
                ax.plot(
                    [l, l + 1],
                    [y_in[k], y_out[j]],
                    color=edge_cmap(edge_norm(w)),
                    lw=0.4 + 3.6 * abs(w) / limit,
                    alpha=0.85,
                    zorder=1,
                    solid_capstyle="round",
                )
    node_cmap = colormaps["viridis"]
    node_norm = None
    if activations_of is not None:
        shown_values = np.concatenate([v[: shown[l]] for l, v in enumerate(activations_of)])
        low, high = float(shown_values.min()), float(shown_values.max())
        node_norm = Normalize(low, high if high > low else low + 1.0)
    for l, size in enumerate(sizes):
        ys = positions(l)
        for j, y_pos in enumerate(ys):
            if activations_of is not None and node_norm is not None:
                value = float(activations_of[l][j])
                face = node_cmap(node_norm(value))
                label = f"{value:.2f}"
            else:
                face = "white" if l == 0 else "#dde8f5"
                label = "" if l == 0 else f"{float(net.layers[l - 1].bias[j]):.2f}"
            ax.scatter(
                [l], [y_pos], s=620, color=[face], edgecolors="0.2", linewidths=1.2, zorder=3
            )
            if label:
                ax.text(
                    l,
                    y_pos,
                    label,
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if _brightness(face) < 0.5 else "black",
                    zorder=4,
                )
            if l == 0:
                ax.text(l - 0.16, y_pos, f"$x_{{{j + 1}}}$", ha="right", va="center", fontsize=9)
        if size > shown[l]:
            ax.text(
                l, ys[-1] - 0.75, f"+{size - shown[l]} more", ha="center", va="center", fontsize=8
            )
    if sizes[-1] <= max_neurons:
        for j, y_pos in enumerate(positions(len(sizes) - 1)):
            ax.text(
                len(sizes) - 1 + 0.16,
                y_pos,
                f"$\\hat{{y}}_{{{j + 1}}}$",
                ha="left",
                va="center",
                fontsize=9,
            )
    ax.set_xlim(-0.7, len(sizes) - 0.3)
    ax.set_ylim(-tallest / 2.0 - 0.9, tallest / 2.0 + 0.4)
    ax.set_xticks(range(len(sizes)))
    ax.set_xticklabels(
        ["input\n(layer 0)"]
        + [f"layer {l}\n{layer.activation.name}" for l, layer in enumerate(net.layers, start=1)],
        fontsize=9,
    )
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("layer $l$")
    what = (
        "activations $a_j^{(l)}$, one sample"
        if activations_of is not None
        else "biases $b_j^{(l)}$"
    )
    ax.set_title(f"{'-'.join(map(str, sizes))} network; nodes: {what}", fontsize=11)
    fig.colorbar(
        ScalarMappable(norm=edge_norm, cmap=edge_cmap),
        ax=ax,
        label="weight $w_{jk}^{(l)}$ (edge width = $|w|$)",
        shrink=0.8,
    )
    if node_norm is not None:
        fig.colorbar(
            ScalarMappable(norm=node_norm, cmap=node_cmap),
            ax=ax,
            label="node value $a_j^{(l)}$",
            shrink=0.8,
        )
    return _finish(fig, path)


def _brightness(color: Any) -> float:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b


# =========================================================================== hidden neurons


def plot_hidden_neurons(
    net: MLP,
    X: Any = None,
    y: Any = None,
    layer: int = 1,
    resolution: int = 80,
    max_neurons: int = 16,
    extent: tuple[float, float, float, float] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """What each neuron of a hidden layer responds to: ``a_j^(l)`` over the input plane.

    Parameters
    ----------
    net : MLP
        With 2 inputs.
    X, y : optional
        Data drawn on top of each panel (and used for the plotted region).
    layer : int
        The lecture's layer number ``l`` (1 = first hidden layer).
    extent : (x1_min, x1_max, x2_min, x2_max), optional
        The region drawn when no ``X`` is given (default ``[-1.5, 1.5]^2``).
    """
    net = _check_net(net)
    if net.n_inputs != 2:
        raise ValueError(
            f"hidden-neuron maps need a network with 2 inputs; this one has {net.n_inputs}"
        )
    if not 1 <= layer <= len(net.layers):
        raise ValueError(f"layer must be between 1 and {len(net.layers)}, got {layer}")
    if X is not None:
        X = _two_d(net, X, "hidden-neuron maps")
        g1, g2, grid = _grid_over(X, resolution, 0.1)
    else:
        x1_min, x1_max, x2_min, x2_max = extent or (-1.5, 1.5, -1.5, 1.5)
        g1, g2 = np.meshgrid(
            np.linspace(x1_min, x1_max, resolution), np.linspace(x2_min, x2_max, resolution)
        )
        grid = np.column_stack([g1.ravel(), g2.ravel()])
    trace = net.forward(grid, trace=True)
    values = trace.a[layer - 1]  # type: ignore[union-attr]
    count = min(values.shape[1], max_neurons)
    columns = min(4, count)
    rows = math.ceil(count / columns)
    fig = _figure(3.1 * columns + 0.8, 2.9 * rows + 0.6)
    act = net.layers[layer - 1].activation.name
    vmin, vmax = float(values[:, :count].min()), float(values[:, :count].max())
    if vmin == vmax:
        vmax = vmin + 1.0
    image = None
    axes = []
    for j in range(count):
        ax = fig.add_subplot(rows, columns, j + 1)
        image = ax.pcolormesh(
            g1,
            g2,
            values[:, j].reshape(g1.shape),
            cmap="magma",
            vmin=vmin,
            vmax=vmax,
            shading="auto",
        )
        if X is not None and y is not None:
            labels = _labels(y, X.shape[0])
            ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="cool", s=6, edgecolors="none", alpha=0.8)
        ax.set_title(f"$a_{{{j + 1}}}^{{({layer})}}$", fontsize=10)
        ax.set_xlabel("$x_1$", fontsize=8)
        ax.set_ylabel("$x_2$", fontsize=8)
        ax.tick_params(labelsize=7)
        axes.append(ax)
    more = values.shape[1] - count
    note = f" (first {count}; +{more} more)" if more else ""
    fig.suptitle(f"What each neuron of layer {layer} ({act}) has learnt{note}", fontsize=12)
    fig.colorbar(image, ax=axes, label=f"activation $a_j^{{({layer})}}$", shrink=0.9)
    return _finish(fig, path)


# =========================================================================== demo


def demo(
    directory: str | Path = "formicary-plots",
    dataset: str = "circles",
    hidden: Sequence[int] = (6,),
    activation: str = "tanh",
    epochs: int = 200,
    seed: int = 0,
) -> dict[str, Path]:
    """Train a small network on a built-in 2-D data set and write every plot as a PNG.

    Returns
    -------
    dict
        ``{"activations": path, "history": ..., "decision_boundary": ...,
        "network": ..., "hidden_neurons": ...}``.
    """
    from formicary import datasets

    if dataset not in ("xor", "circles", "moons", "spirals", "gaussians"):
        raise ValueError(
            f"unknown data set {dataset!r}; use xor, circles, moons, spirals or gaussians"
        )
    make = datasets.GENERATED[dataset]
    X, y = make(400, seed=seed) if dataset != "xor" else make(400, noise=0.05, seed=seed)
    directory = Path(directory)
    net = MLP([2, *hidden, 1], activation=activation, output_activation="sigmoid", seed=seed)
    history = net.fit(
        X,
        y,
        optimizer="adam",
        learning_rate=0.02,
        epochs=epochs,
        validation_split=0.25,
        seed=seed,
    )
    paths = {
        "activations": directory / "activations.png",
        "history": directory / "history.png",
        "decision_boundary": directory / "decision_boundary.png",
        "network": directory / "network.png",
        "hidden_neurons": directory / "hidden_neurons.png",
    }
    plot_activations(path=paths["activations"])
    plot_history(history, path=paths["history"])
    plot_decision_boundary(net, X, y, path=paths["decision_boundary"])
    plot_network(net, sample=X[0], path=paths["network"])
    plot_hidden_neurons(net, X, y, path=paths["hidden_neurons"])
    return paths
