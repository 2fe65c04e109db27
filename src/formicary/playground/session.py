"""One browser tab's playground: its data, network, optimizer and the frames it streams.

Everything here is NumPy and the Formicary engine (no web imports), so the
training state can be tested on its own. A :class:`Session` holds an
:class:`~formicary.MLP` and one persistent optimizer; :meth:`Session.advance`
trains with :meth:`MLP.train_step` and :meth:`Session.frame` describes the
network for the page: the losses, every weight, each neuron's
``a_j^(l)`` over a grid of the input plane (one ``forward(grid, trace=True)``)
and the output's decision boundary.

Classification with two classes has one sigmoid output neuron and binary
cross-entropy; with three to eight classes (an uploaded CSV) the output layer
is softmax, one neuron per class, ``a_j = e^{z_j} / sum_k e^{z_k}``, trained
with categorical cross-entropy on one-hot targets.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from formicary import activations as _activations
from formicary import datasets as _datasets
from formicary import losses as _losses
from formicary import metrics as _metrics
from formicary.layers import Dense
from formicary.network import MLP
from formicary.optimizers import SGD, Adam, Optimizer, RMSprop
from formicary.serialization import save
from formicary.training import TrainingDivergedError

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "LIMITS",
    "OPTIMIZERS",
    "Config",
    "CustomData",
    "Session",
    "collapse",
    "parse_csv",
]

MAX_HIDDEN_LAYERS = 8
MAX_NEURONS = 64
MIN_POINTS = 4
MAX_POINTS = 5000
MAX_CSV_BYTES = 512_000
MAX_CLASSES = 8
MAX_LINK_CHARS = 32_768  # the longest share link the page writes (an uploaded CSV travels in it)
MAX_LEARNING_RATE = 1e6
MAX_WEIGHT = 1e6
OUTPUT_RESOLUTION = 64

LIMITS = {
    "hidden_layers": MAX_HIDDEN_LAYERS,
    "neurons": MAX_NEURONS,
    "points": MAX_POINTS,
    "min_points": MIN_POINTS,
    "csv_bytes": MAX_CSV_BYTES,
    "classes": MAX_CLASSES,
    "link_chars": MAX_LINK_CHARS,
    "learning_rate": MAX_LEARNING_RATE,
}

# name -> (task, default noise, description)
DATASETS: dict[str, tuple[str, float, str]] = {
    "xor": ("classification", 0.05, "XOR: class 1 where x1 x2 < 0"),
    "circles": ("classification", 0.05, "two concentric circles"),
    "moons": ("classification", 0.1, "two interleaving half moons"),
    "spirals": ("classification", 0.05, "two interleaved spirals"),
    "gaussians": ("classification", 0.6, "two Gaussian blobs"),
    "plane": ("regression", 0.1, "regression: y = 0.5 x1 - 0.3 x2 + 0.2 + noise"),
    "csv": ("uploaded", 0.0, "your CSV file (x1, x2, label)"),
}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu", "softplus", "gelu", "identity")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")

# Config keys whose change rebuilds the data and the network (a reset).
_STRUCTURAL = ("dataset", "noise", "points", "train_ratio", "seed", "hidden", "activations")


def _number(value: Any, label: str, low: float, high: float, *, integer: bool = False) -> Any:
    """``value`` as a float (or int) in ``[low, high]``, or one clear ValueError."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{label} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    if integer:
        if number != round(number):
            raise ValueError(f"{label} must be a whole number, got {value!r}")
        number = round(number)
    if not low <= number <= high:
        raise ValueError(f"{label} must be between {low:g} and {high:g}, got {value!r}")
    return number


def _name(value: Any, label: str, choices: tuple[str, ...] | list[str]) -> str:
    key = str(value).strip().lower().replace("-", "_")
    if key not in choices:
        raise ValueError(f"unknown {label} {value!r}; choose one of: {', '.join(choices)}")
    return key


@dataclass(frozen=True)
class Config:
    """Everything the page lets one change (and the URL keeps).

    ``hidden`` lists the neurons of each hidden layer, ``activations`` their
    ``sigma``; ``identity`` replaces every hidden ``sigma`` by the identity
    (the "why activation functions" switch) without forgetting them; ``l2``
    is the optimizer's ``weight_decay``.
    """

    dataset: str = "xor"
    noise: float = 0.05
    points: int = 400
    train_ratio: float = 0.5
    seed: int = 0
    hidden: tuple[int, ...] = (4, 4)
    activations: tuple[str, ...] = ("tanh", "tanh")
    learning_rate: float = 0.03
    batch_size: int = 10
    optimizer: str = "sgd"
    l2: float = 0.0
    identity: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["activations"] = list(self.activations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Config | None = None) -> Config:
        """Check ``data`` (all or some settings) and merge it onto ``base``.

        Raises ``ValueError`` naming the first bad setting and the allowed values.
        """
        if not isinstance(data, dict):
            raise ValueError("the configuration must be an object of settings")
        base = base or cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}"
            )
        values = base.to_dict()
        values.update(data)
        dataset = _name(values["dataset"], "data set", tuple(DATASETS))
        hidden_raw = values["hidden"]
        if isinstance(hidden_raw, str):
            hidden_raw = [h for h in hidden_raw.split(",") if h.strip()]
        if not isinstance(hidden_raw, (list, tuple)):
            raise ValueError(
                f"hidden must list the neurons of each hidden layer, got {hidden_raw!r}"
            )
        if len(hidden_raw) > MAX_HIDDEN_LAYERS:
            raise ValueError(
                f"at most {MAX_HIDDEN_LAYERS} hidden layers fit in the playground, "
                f"got {len(hidden_raw)}; remove some layers"
            )
        hidden = []
        for i, size in enumerate(hidden_raw, start=1):
            try:
                hidden.append(_number(size, f"hidden layer {i}", 1, MAX_NEURONS, integer=True))
            except ValueError:
                raise ValueError(
                    f"hidden layer {i} asks for {size!r} neurons; a layer holds 1 to "
                    f"{MAX_NEURONS} neurons"
                ) from None
        acts_raw = values["activations"]
        if isinstance(acts_raw, str):
            acts_raw = [a for a in acts_raw.split(",") if a.strip()]
        acts_raw = list(acts_raw)
        if "activations" not in data and len(acts_raw) != len(hidden):
            fill = acts_raw[-1] if acts_raw else "tanh"
            acts_raw = (acts_raw + [fill] * len(hidden))[: len(hidden)]
        if len(acts_raw) != len(hidden):
            raise ValueError(
                f"give one activation per hidden layer: {len(hidden)} layer(s) but "
                f"{len(acts_raw)} activation(s)"
            )
        acts = tuple(_name(a, "activation", ACTIVATIONS) for a in acts_raw)
        identity = values["identity"]
        if isinstance(identity, str):
            identity = identity.strip().lower() in ("1", "true", "on", "yes")
        return cls(
            dataset=dataset,
            noise=_number(values["noise"], "noise", 0.0, 1.0),
            points=_number(
                values["points"], "number of points", MIN_POINTS, MAX_POINTS, integer=True
            ),
            train_ratio=_number(values["train_ratio"], "train ratio", 0.1, 0.9),
            seed=_number(values["seed"], "seed", 0, 2**31 - 1, integer=True),
            hidden=tuple(hidden),
            activations=acts,
            learning_rate=_learning_rate(values["learning_rate"]),
            batch_size=_number(values["batch_size"], "batch size", 1, MAX_POINTS, integer=True),
            optimizer=_name(values["optimizer"], "optimizer", OPTIMIZERS),
            l2=_number(values["l2"], "L2 (weight decay)", 0.0, 1.0),
            identity=bool(identity),
        )


def _learning_rate(value: Any) -> float:
    rate = _number(value, "learning rate", 0.0, MAX_LEARNING_RATE)
    if rate <= 0:
        raise ValueError(f"learning rate must be greater than 0, got {value!r}")
    return rate


# --------------------------------------------------------------------------- data


@dataclass
class CustomData:
    """An uploaded CSV: two features per row and a label.

    For classification ``y`` holds class indices ``0..K-1`` into
    ``class_names``; for regression the numeric targets.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str
    class_names: list[str]

    @property
    def summary(self) -> str:
        """What the file was read as, in one sentence for the page."""
        rows = f"{len(self.X):,} rows"
        if self.task == "regression":
            return f"{self.name}: {rows}, a numeric label: regression (mean squared error)"
        names = ", ".join(self.class_names)
        return f"{self.name}: {rows}, {len(self.class_names)} classes: {names}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _classes(
    name: str, labels: list[str], lines: list[int], numeric: bool
) -> tuple[np.ndarray, list[str]]:
    """Class indices (ordered by value for numbers, else alphabetically) and the class names.

    Numeric labels are grouped by value (``1`` and ``1.0`` are one class, named
    as first written). Every class needs two rows: one to train on, one to test.
    """
    keys = [float(label) for label in labels] if numeric else labels
    first: dict[Any, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    if numeric:
        order = sorted(first)
    else:  # number-like text first, by value, then the rest alphabetically
        order = sorted(first, key=lambda k: (not _is_number(k), _is_number(k) and float(k), k))
    index = {key: i for i, key in enumerate(order)}
    y = np.array([index[key] for key in keys], dtype=np.int64)
    counts = np.bincount(y, minlength=len(order))
    for key, count in zip(order, counts, strict=True):
        if count < 2:
            raise ValueError(
                f"{name}: class {labels[first[key]]!r} has a single row (line "
                f"{lines[first[key]]}); every class needs at least 2 rows, one to train on "
                "and one to test: add rows of that class or remove it"
            )
    return y, [labels[first[key]] for key in order]


def parse_csv(text: str, name: str = "upload.csv") -> CustomData:
    """Read ``x1,x2,label`` rows (an optional header line) into a :class:`CustomData`.

    The label column decides the task:

    * two distinct labels (any text, e.g. ``0/1`` or ``red/blue``): two classes;
    * text labels with 3 to ``MAX_CLASSES`` (8) distinct values: that many classes;
    * numeric labels that are all whole numbers with at most 8 distinct values
      (``0, 1, 2``): classes;
    * any other numeric label (fractions, or more than 8 distinct values): a
      regression target.

    Raises ``ValueError`` naming what is wrong (the line at fault where there is one).
    """
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise ValueError(
            f"{name} is larger than {MAX_CSV_BYTES // 1000} kB; the playground takes small "
            f"files (at most {MAX_POINTS} rows of x1,x2,label)"
        )
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ValueError(f"{name} is not a readable CSV file: {exc}") from None
    if not rows:
        raise ValueError(f"{name} is empty; give rows of x1,x2,label")
    if not all(_is_number(cell) for cell in rows[0][1][:2]):
        rows = rows[1:]  # a header line
    if len(rows) > MAX_POINTS:
        raise ValueError(f"{name} has {len(rows)} rows; the playground takes at most {MAX_POINTS}")
    features = np.empty((len(rows), 2))
    labels = []
    for i, (line, row) in enumerate(rows):
        if len(row) != 3:
            raise ValueError(
                f"{name} line {line}: expected 3 columns (x1, x2, label) but found {len(row)}"
            )
        for c in range(2):
            cell = row[c].strip()
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(
                    f"{name} line {line}: {cell!r} in column {c + 1} is not a number"
                ) from None
            if not math.isfinite(value):
                raise ValueError(f"{name} line {line}: column {c + 1} is {cell!r}, not finite")
            features[i, c] = value
        label = row[2].strip()
        if not label:
            raise ValueError(f"{name} line {line}: the label (column 3) is empty")
        labels.append(label)
    if len(rows) < MIN_POINTS:
        raise ValueError(f"{name} has {len(rows)} data row(s); give at least {MIN_POINTS}")
    lines = [line for line, _ in rows]
    numeric = all(_is_number(label) for label in labels)
    if numeric:
        values = np.array([float(label) for label in labels])
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"{name} line {lines[bad[0]]}: the label {labels[bad[0]]!r} is not a finite number"
            )
        distinct = np.unique(values)
    else:
        distinct = sorted(set(labels))
    if len(distinct) < 2:
        raise ValueError(f"{name}: every row has the label {labels[0]!r}; nothing to learn")
    whole = numeric and bool(np.all(distinct == np.round(distinct)))
    if numeric and len(distinct) > 2 and not (whole and len(distinct) <= MAX_CLASSES):
        return CustomData(name, features, values, "regression", [])
    if len(distinct) > MAX_CLASSES:
        shown = ", ".join(repr(label) for label in distinct[: MAX_CLASSES + 1])
        more = ", ..." if len(distinct) > MAX_CLASSES + 1 else ""
        raise ValueError(
            f"{name}: the label column has {len(distinct)} different labels ({shown}{more}); "
            f"the playground learns 2 to {MAX_CLASSES} classes. Merge some classes, or give "
            "numbers for a regression"
        )
    y, names = _classes(name, labels, lines, numeric)
    return CustomData(name, features, y, "classification", names)


@dataclass
class Data:
    """The points of one session, split into training and test sets.

    ``y_train``/``y_test`` are the network's targets: one column (a class 0/1
    or a number) for one output neuron, one-hot rows for three or more classes.
    """

    name: str
    task: str  # "classification" or "regression"
    X_train: np.ndarray
    y_train: np.ndarray  # (n, 1) or (n, K) one-hot
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    domain: tuple[float, float, float, float]  # x1 from, x1 to, x2 from, x2 to

    @property
    def n_outputs(self) -> int:
        """Output neurons: one per class for three or more classes, else one."""
        return int(self.y_train.shape[1])

    @property
    def output_activation(self) -> str:
        """``softmax`` for several classes, ``sigmoid`` for two, ``identity`` for regression."""
        if self.task == "regression":
            return "identity"
        return "softmax" if self.n_outputs > 1 else "sigmoid"

    @staticmethod
    def labels(y: np.ndarray) -> np.ndarray:
        """Per row: the target (one column) or the class index (one-hot rows)."""
        return y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1).astype(np.float64)

    @property
    def y_range(self) -> tuple[float, float]:
        y = np.concatenate([self.labels(self.y_train), self.labels(self.y_test)])
        low, high = float(y.min()), float(y.max())
        return (low, high) if high > low else (low - 1, high + 1)


def _domain(X: np.ndarray) -> tuple[float, float, float, float]:
    """A square window holding every point with a margin."""
    low, high = X.min(axis=0), X.max(axis=0)
    centre = (low + high) / 2
    half = max(float((high - low).max()) / 2 * 1.1, 1e-6)
    half = math.ceil(half * 10) / 10
    centre = np.round(centre, 1)
    return (
        float(centre[0] - half),
        float(centre[0] + half),
        float(centre[1] - half),
        float(centre[1] + half),
    )


def _stratified_split(
    classes: np.ndarray, ratio: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for training and test with every class in both, in about ``ratio`` : rest."""
    train, test = [], []
    for label in np.unique(classes):
        rows = rng.permutation(np.flatnonzero(classes == label))
        n_train = min(max(1, round(ratio * len(rows))), len(rows) - 1)
        train.append(rows[:n_train])
        test.append(rows[n_train:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _make_data(config: Config, custom: CustomData | None) -> Data:
    """The session's points and their split (uploaded classes: stratified, so each class
    is both trained on and tested)."""
    rng = np.random.default_rng([config.seed, 1])
    if config.dataset == "csv":
        if custom is None:
            raise ValueError("no CSV uploaded yet: choose a file with rows of x1,x2,label")
        X, y, task, names = custom.X, custom.y, custom.task, custom.class_names
    else:
        task = DATASETS[config.dataset][0]
        X, y = _datasets.GENERATED[config.dataset](
            n_samples=config.points, noise=config.noise, seed=rng
        )
        names = ["0", "1"] if task == "classification" else []
    X = np.asarray(X, dtype=np.float64)
    if config.dataset == "csv" and task == "classification":
        train, test = _stratified_split(np.asarray(y), config.train_ratio, rng)
    else:
        order = rng.permutation(len(X))
        n_train = min(max(1, round(config.train_ratio * len(X))), len(X) - 1)
        train, test = order[:n_train], order[n_train:]
    if task == "classification" and len(names) > 2:
        y = np.eye(len(names))[np.asarray(y, dtype=np.intp)]  # one-hot, one column per class
    else:
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    name = custom.name if config.dataset == "csv" and custom else config.dataset
    return Data(name, task, X[train], y[train], X[test], y[test], names, _domain(X))


# --------------------------------------------------------------------------- maths helpers


def collapse(net: MLP) -> tuple[np.ndarray, np.ndarray]:
    """The single affine map an all-identity network computes: ``z^(L) = W x + b``.

    With ``a^(l) = z^(l)`` in every hidden layer, composing
    ``z^(l) = W^(l) z^(l-1) + b^(l)`` gives ``W = W^(L) ... W^(2) W^(1)`` and
    ``b = W^(L) (... (W^(2) b^(1) + b^(2)) ...) + b^(L)``.
    """
    weights = np.eye(net.n_inputs, dtype=net.dtype)
    bias = np.zeros(net.n_inputs, dtype=net.dtype)
    for layer in net.layers:
        weights = layer.weights @ weights
        bias = layer.weights @ bias + layer.bias
    return weights, bias


def _grid(domain: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """Cell centres of a ``resolution x resolution`` image, row 0 at the top (largest x2)."""
    x_from, x_to, y_from, y_to = domain
    step_x = (x_to - x_from) / resolution
    step_y = (y_to - y_from) / resolution
    xs = x_from + (np.arange(resolution) + 0.5) * step_x
    ys = y_to - (np.arange(resolution) + 0.5) * step_y
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.column_stack([grid_x.ravel(), grid_y.ravel()])


def _value_range(activation: _activations.Activation, values: np.ndarray) -> tuple[float, float]:
    """Colour scale of a neuron: its activation's range when bounded, else symmetric about 0."""
    low, high = activation.range.low, activation.range.high
    if math.isfinite(low) and math.isfinite(high):
        return float(low), float(high)
    finite = values[np.isfinite(values)]
    extent = float(np.abs(finite).max()) if finite.size else 1.0
    extent = extent if extent > 1e-12 else 1.0
    return -extent, extent


def _encode(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Quantise ``values`` (columns scaled by ``low``/``high``) to bytes 0..255."""
    scaled = (values - low) / (high - low)
    scaled = np.nan_to_num(scaled, nan=0.5, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _neuron_resolution(n_neurons: int) -> int:
    if n_neurons <= 64:
        return 32
    if n_neurons <= 200:
        return 20
    return 12


def _optimizer(config: Config) -> Optimizer:
    rate, decay = config.learning_rate, config.l2
    if config.optimizer == "sgd":
        return SGD(rate, weight_decay=decay)
    if config.optimizer == "momentum":
        return SGD(rate, momentum=0.9, weight_decay=decay)
    if config.optimizer == "adam":
        return Adam(rate, weight_decay=decay)
    return RMSprop(rate, weight_decay=decay)


def _network(config: Config, data: Data, weights_from: MLP | None = None) -> MLP:
    """A fresh network for ``config`` and ``data`` (or ``weights_from``'s weights with
    ``config``'s activations).

    The output layer is ``data``'s: one sigmoid neuron for two classes, one
    softmax neuron per class for three or more, one identity neuron for regression.
    """
    acts = ["identity"] * len(config.hidden) if config.identity else list(config.activations)
    output = data.output_activation
    if weights_from is None:
        return MLP(
            [2, *config.hidden, data.n_outputs],
            activation=acts,
            output_activation=output,
            seed=np.random.default_rng([config.seed, 2]),
        )
    layers = [
        Dense(layer.n_in, layer.n_out, act, weights=layer.weights, bias=layer.bias)
        for layer, act in zip(weights_from.layers, [*acts, output], strict=True)
    ]
    return MLP(layers)


@dataclass
class Update:
    """The last optimisation step: parameters before, ``de/dparam`` and parameters after."""

    step: int
    optimizer: str
    learning_rate: float
    weight_decay: float
    before: list[np.ndarray]
    gradients: list[np.ndarray]
    after: list[np.ndarray]


# --------------------------------------------------------------------------- session


class Session:
    """The training state behind one browser tab.

    Parameters
    ----------
    config : Config, optional
        Starting settings (the defaults train a 2-4-4-1 tanh network on XOR).
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = Config()
        self.custom: CustomData | None = None
        self.playing = False
        self.selected: tuple[int, int] | None = None
        self.point: np.ndarray | None = None
        self._batch_seconds = 1e-4
        self._build(config or Config())

    # ------------------------------------------------------------------ building
    def _build(self, config: Config) -> None:
        """Rebuild data, network and optimizer (checked first, then swapped in at once)."""
        data = _make_data(config, self.custom)
        net = _network(config, data)
        optimizer = _optimizer(config)
        self.config, self.data, self.net, self.optimizer = config, data, net, optimizer
        self.loss = _losses.default_for(net.output_activation.name)
        self.metric_name = _metrics.default_for(self.loss, net.n_outputs)
        self.epoch = 0
        self.steps = 0
        self.cursor = 0
        self.order: np.ndarray | None = None
        self.shuffle_rng = np.random.default_rng([config.seed, 3])
        self.last_update: Update | None = None
        self.point = data.X_train[0].copy()
        if self.selected is not None and not self._valid_neuron(*self.selected):
            self.selected = None
        n_neurons = sum(config.hidden) + net.n_outputs
        self.grid = _grid(data.domain, _neuron_resolution(n_neurons))
        self.output_grid = _grid(data.domain, OUTPUT_RESOLUTION)
        self._set_reference_loss()

    def _set_reference_loss(self) -> None:
        """Remember the training loss now, to notice steps that overshoot from here on."""
        self.reference_loss = self.scores()["train_loss"]
        self.warned = False

    def apply(self, settings: dict[str, Any]) -> bool:
        """Change some settings; returns True when that reset the network.

        Data, layers and activations rebuild everything; the identity switch
        keeps the weights; optimizer, learning rate, batch size and L2 apply
        to the running training.
        """
        new = Config.from_dict(settings, self.config)
        old = self.config
        if any(getattr(new, key) != getattr(old, key) for key in _STRUCTURAL):
            self._build(new)
            return True
        if new.identity != old.identity:
            self.net = _network(new, self.data, weights_from=self.net)
            self.last_update = None
        if new.optimizer != old.optimizer:
            self.optimizer = _optimizer(new)
        else:
            self.optimizer.initial_learning_rate = new.learning_rate
            self.optimizer.learning_rate = new.learning_rate
            self.optimizer.weight_decay = new.l2
        self.config = new
        self._set_reference_loss()
        return False

    def reset(self) -> None:
        """New initial weights (the seed's), epoch 0, fresh optimizer state."""
        self.playing = False
        self._build(self.config)

    def load_csv(self, text: str, name: str = "upload.csv") -> None:
        """Use an uploaded CSV as the data set (resets the network)."""
        custom = parse_csv(text, name)
        previous = self.custom
        self.custom = custom
        try:
            self._build(Config.from_dict({"dataset": "csv"}, self.config))
        except ValueError:
            self.custom = previous
            raise

    # ------------------------------------------------------------------ training
    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        n_train = len(self.data.X_train)
        if self.order is None:
            self.order = self.shuffle_rng.permutation(n_train)
        size = min(self.config.batch_size, n_train)
        rows = self.order[self.cursor : self.cursor + size]
        return self.data.X_train[rows], self.data.y_train[rows]

    def _after_batch(self, size: int) -> None:
        self.cursor += size
        self.steps += 1
        if self.cursor >= len(self.data.X_train):
            self.cursor = 0
            self.epoch += 1
            self.order = None

    def _step(self, record: bool) -> float:
        """One batch through ``train_step`` (or, when recording, forward + backward + step)."""
        X, y = self._batch()
        if record:
            before = self.net.get_parameters()
            trace = self.net.forward(X, trace=True)
            grads = self.net.backward(trace, y, self.loss)
            value = grads.loss
            self.optimizer.step(self.net.parameters(), grads.flat())
            self.last_update = Update(
                step=self.steps + 1,
                optimizer=self.config.optimizer,
                learning_rate=self.optimizer.learning_rate,
                weight_decay=self.optimizer.weight_decay,
                before=before,
                gradients=[g.copy() for g in grads.flat()],
                after=self.net.get_parameters(),
            )
        else:
            value, _ = self.net.train_step(X, y, self.loss, self.optimizer)
        self._after_batch(len(X))
        return float(value)

    def advance(self, budget: float = 0.04, single: bool = False) -> None:
        """Train until the epoch ends or about ``budget`` seconds pass (one batch if ``single``).

        Raises :class:`~formicary.TrainingDivergedError` (weights put back, play
        stopped) when the loss or the weights stop being finite or explode.
        """
        n_train = len(self.data.X_train)
        size = min(self.config.batch_size, n_train)
        remaining = math.ceil((n_train - self.cursor) / size)
        planned = 1 if single else max(1, min(remaining, int(budget / self._batch_seconds)))
        snapshot = self.net.get_parameters()
        state = (self.epoch, self.steps, self.cursor, self.order)
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            for i in range(planned):
                value = self._step(record=i == planned - 1)
                if not math.isfinite(value):
                    self._diverged(snapshot, state, f"the loss became {value}")
            largest = max(float(np.abs(p).max()) for p in self.net.parameters())
        if not math.isfinite(largest):
            self._diverged(snapshot, state, "the weights are no longer finite numbers")
        if largest > MAX_WEIGHT:
            self._diverged(snapshot, state, f"a weight grew to {largest:.3g}")
        elapsed = time.perf_counter() - start
        self._batch_seconds = 0.7 * self._batch_seconds + 0.3 * max(elapsed / planned, 1e-7)

    def _diverged(self, snapshot: list[np.ndarray], state: tuple, problem: str) -> None:
        self.net.set_parameters(snapshot)
        self.epoch, self.steps, self.cursor, self.order = state
        self.optimizer = _optimizer(self.config)
        self.last_update = None
        self.playing = False
        raise TrainingDivergedError(
            f"Training diverged in epoch {self.epoch + 1}: {problem}. The weights were put back "
            f"to where they were before; lower the learning rate (now "
            f"{self.config.learning_rate:g}) and press play again."
        )

    # ------------------------------------------------------------------ describing
    def _valid_neuron(self, layer: int, neuron: int) -> bool:
        sizes = self.net.sizes
        return 0 <= layer < len(sizes) and 1 <= neuron <= sizes[layer]

    def setup(self) -> dict[str, Any]:
        """What the page needs after a (re)build: settings, points, layout."""
        data, net = self.data, self.net
        return {
            "type": "setup",
            "reset": True,
            "config": self.config.to_dict(),
            "dataset": data.name,
            "task": data.task,
            "class_names": data.class_names,
            "domain": list(data.domain),
            "y_range": list(data.y_range),
            "sizes": net.sizes,
            "activations": [self.config.activations[i] for i in range(len(self.config.hidden))]
            + [net.output_activation.name],
            "loss": self.loss.name,
            "metric": self.metric_name,
            "train": {
                "x": np.round(data.X_train, 4).tolist(),
                "y": np.round(data.labels(data.y_train), 4).tolist(),
            },
            "test": {
                "x": np.round(data.X_test, 4).tolist(),
                "y": np.round(data.labels(data.y_test), 4).tolist(),
            },
            "custom": self.custom.name if self.custom else None,
            "custom_summary": self.custom.summary if self.custom else None,
        }

    def scores(self) -> dict[str, float | None]:
        """Loss and metric on the training and the test set."""
        out = {}
        metric = _metrics.get(self.metric_name)
        with np.errstate(all="ignore"):
            for part, X, y in (
                ("train", self.data.X_train, self.data.y_train),
                ("test", self.data.X_test, self.data.y_test),
            ):
                prediction = self.net.predict(X)
                out[f"{part}_loss"] = _finite(self.loss.value(prediction, y))
                out[f"{part}_metric"] = _finite(metric(y, prediction))
        return out

    def heatmaps(self) -> dict[str, Any]:
        """Every neuron's ``a_j^(l)`` over the grid (one traced forward pass) and the output."""
        with np.errstate(all="ignore"):
            trace = self.net.forward(self.grid, trace=True)
            output = self.net.forward(self.output_grid)
        columns, ranges = [], []
        for layer, a in zip(self.net.layers, trace.a, strict=True):
            for j in range(a.shape[1]):
                ranges.append(_value_range(layer.activation, a[:, j]))
                columns.append(a[:, j])
        values = np.column_stack(columns)
        low = np.array([r[0] for r in ranges])
        high = np.array([r[1] for r in ranges])
        encoded = _encode(values, low, high).T  # one row of pixels per neuron
        out_range = (0.0, 1.0) if self.data.task == "classification" else self.data.y_range
        shown = output[:, 0] if output.shape[1] == 1 else output.max(axis=1)
        out_bytes = _encode(shown[:, None], np.array(out_range[:1]), np.array(out_range[1:]))
        resolution = round(math.sqrt(len(self.grid)))
        out: dict[str, Any] = {
            "resolution": OUTPUT_RESOLUTION,
            "range": list(out_range),
            "data": base64.b64encode(out_bytes.tobytes()).decode("ascii"),
        }
        if output.shape[1] > 1:
            # several classes: "data" is the winning probability max_j a_j^(L), "winner" its j - 1
            winner = np.argmax(np.nan_to_num(output, nan=-1.0), axis=1).astype(np.uint8)
            out["winner"] = base64.b64encode(winner.tobytes()).decode("ascii")
        return {
            "neurons": {
                "resolution": resolution,
                "ranges": [[round(lo, 6), round(hi, 6)] for lo, hi in ranges],
                "data": base64.b64encode(encoded.tobytes()).decode("ascii"),
            },
            "output": out,
        }

    def frame(self) -> dict[str, Any]:
        """One picture of the network: scores, weights, heatmaps, the selected neuron."""
        frame: dict[str, Any] = {
            "type": "frame",
            "epoch": self.epoch,
            "steps": self.steps,
            "progress": self.cursor / len(self.data.X_train),
            "playing": self.playing,
            **self.scores(),
            "weights": [np.round(layer.weights, 6).tolist() for layer in self.net.layers],
            "biases": [np.round(layer.bias, 6).tolist() for layer in self.net.layers],
            **self.heatmaps(),
            "neuron": self.neuron_detail(),
            "collapse": self.collapse_detail(),
            "warning": None,
        }
        frame["warning"] = self._overshoot_warning(frame["train_loss"])
        return frame

    def _overshoot_warning(self, loss: float | None) -> str | None:
        """A one-time warning when the loss climbs far above where this run started.

        With a bounded gradient (cross-entropy on a sigmoid output) too large a
        learning rate need not produce infinities: the steps overshoot and the
        loss jumps up and stays there. That is divergence too.
        """
        reference = self.reference_loss
        if self.warned or loss is None or reference is None:
            return None
        if loss <= max(4 * reference, reference + 1):
            return None
        self.warned = True
        return (
            f"The training loss rose to {loss:.3g} from {reference:.3g}: the learning rate "
            f"{self.config.learning_rate:g} makes the steps overshoot, so training diverges. "
            "Lower the learning rate (and press reset to start again)."
        )

    def select(self, layer: int, neuron: int, point: Any = None) -> None:
        """Choose the neuron (layer 0 = inputs, 1-based neuron) and the point ``x`` to explain."""
        layer = _number(layer, "layer", 0, MAX_HIDDEN_LAYERS + 1, integer=True)
        neuron = _number(neuron, "neuron", 1, MAX_NEURONS, integer=True)
        if not self._valid_neuron(layer, neuron):
            raise ValueError(f"there is no neuron {neuron} in layer {layer} of {self.net.sizes}")
        if point is not None:
            if not isinstance(point, (list, tuple)) or len(point) != 2:
                raise ValueError(f"a point is two numbers [x1, x2], got {point!r}")
            self.point = np.array([_number(v, "point coordinate", -1e6, 1e6) for v in point])
        self.selected = (layer, neuron)

    def neuron_detail(self) -> dict[str, Any] | None:
        """``z_j^(l) = sum_k w_jk^(l) a_k^(l-1) + b_j^(l)``, ``a_j^(l) = sigma(z_j^(l))`` at the point.

        Also the last update of the neuron's incoming weights and bias, from the
        engine's gradients: ``w = w - eta de/dw`` for plain SGD.
        """
        if self.selected is None or self.point is None:
            return None
        layer, j = self.selected
        point = self.point
        detail: dict[str, Any] = {"layer": layer, "neuron": j, "point": point.tolist()}
        with np.errstate(all="ignore"):
            trace = self.net.forward(point[None, :], trace=True)
        if layer == 0:
            detail.update(kind="input", value=float(point[j - 1]))
            return detail
        dense = self.net.layers[layer - 1]
        inputs = trace.activation(layer - 1)[0]
        weights = dense.weights[j - 1]
        detail.update(
            kind="output" if layer == len(self.net.layers) else "hidden",
            activation=dense.activation.name,
            inputs=[_finite(v) for v in inputs],
            weights=[float(w) for w in weights],
            bias=float(dense.bias[j - 1]),
            z=_finite(trace.z[layer - 1][0, j - 1]),
            a=_finite(trace.a[layer - 1][0, j - 1]),
            update=None,
        )
        if not dense.activation.elementwise:
            # softmax: a_j = e^{z_j} / sum_k e^{z_k} needs every z_k of the layer
            detail["layer_z"] = [_finite(v) for v in trace.z[layer - 1][0]]
        update = self.last_update
        if update is not None:
            w, b = 2 * (layer - 1), 2 * (layer - 1) + 1
            detail["update"] = {
                "step": update.step,
                "optimizer": update.optimizer,
                "learning_rate": update.learning_rate,
                "weight_decay": update.weight_decay,
                "weights_before": update.before[w][j - 1].tolist(),
                "weights_gradient": update.gradients[w][j - 1].tolist(),
                "weights_after": update.after[w][j - 1].tolist(),
                "bias_before": float(update.before[b][j - 1]),
                "bias_gradient": float(update.gradients[b][j - 1]),
                "bias_after": float(update.after[b][j - 1]),
            }
        return detail

    def collapse_detail(self) -> dict[str, Any] | None:
        """With the identity switch on: the one-layer equation the network has become."""
        if not self.config.identity:
            return None
        weights, bias = collapse(self.net)
        with np.errstate(all="ignore"):
            z = self.output_grid @ weights.T + bias
            direct = self.net.forward(self.output_grid)
            via_collapse = self.net.output_activation.function(z)
            error = float(np.max(np.abs(direct - via_collapse)))
        return {
            # one output neuron: the row w and the number b; several: the matrix W and vector b
            "weights": weights[0].tolist() if len(bias) == 1 else weights.tolist(),
            "bias": float(bias[0]) if len(bias) == 1 else bias.tolist(),
            "outputs": len(bias),
            "output_activation": self.net.output_activation.name,
            "layers": len(self.net.layers),
            "max_difference": _finite(error),
        }

    def model_bytes(self) -> bytes:
        """The network as a Formicary model file (``formicary.save``), with the settings."""
        extra = {
            "playground": self.config.to_dict(),
            "dataset": self.data.name,
            "task": self.data.task,
            "class_names": self.data.class_names,
            "epoch": self.epoch,
            "steps": self.steps,
        }
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.fcy"
            save(self.net, path, extra=extra)
            return path.read_bytes()

    def model_filename(self) -> str:
        sizes = "-".join(str(s) for s in self.net.sizes)
        stem = "".join(c if c.isalnum() else "-" for c in Path(self.data.name).stem)
        return f"formicary-{stem}-{sizes}-epoch{self.epoch}.fcy"
