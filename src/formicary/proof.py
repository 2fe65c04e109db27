"""Why we need activation functions: the lecture's proof, three ways.

Without an activation, a layer computes ``z^(l) = W^(l) z^(l-1) + b^(l)``, and
stacking such layers gives nothing new::

    z^(2) = W^(2) (W^(1) x + b^(1)) + b^(2) = (W^(2) W^(1)) x + (W^(2) b^(1) + b^(2)) = W x + b

* :func:`symbolic` expands the network with SymPy (extra ``formicary[explain]``)
  and collects the coefficient of every input, the lecture's
  ``(A+P) x_1 + (B+Q) x_2 + (C+R) x_3 + D_1 + D_2 + b_1^(2) = w_1 x_1 + w_2 x_2 + w_3 x_3 + b``.
* :func:`collapse` turns any stack of identity-activation layers into the one
  equivalent :class:`~formicary.layers.Dense` layer; :func:`check_collapse`
  measures that both give the same outputs.
* :func:`compare_with_linear` trains on XOR or circles: the network with
  sigmoid/ReLU learns them, the same network with identity activations does no
  better than the best straight line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import datasets as _datasets
from formicary.explain import (
    _Document,
    _LatexDocument,
    _new_document,
    _Notation,
    _plural,
    _shown,
)
from formicary.layers import Dense
from formicary.network import MLP

if TYPE_CHECKING:
    import sympy

__all__ = [
    "CollapseCheck",
    "LinearComparison",
    "SymbolicProof",
    "best_linear_accuracy",
    "check_collapse",
    "collapse",
    "compare_with_linear",
    "report",
    "symbolic",
]

LECTURE_SIZES = (3, 2, 1)
MAX_SYMBOLIC_TERMS = 20_000


def _sympy() -> Any:
    try:
        import sympy
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the symbolic proof needs SymPy; install it with: pip install 'formicary[explain]'"
        ) from None
    return sympy


# =========================================================================== numeric


def _layers_of(network: MLP | Sequence[Dense]) -> list[Dense]:
    if isinstance(network, MLP):
        return list(network.layers)
    if isinstance(network, Dense):
        return [network]
    layers = list(network)
    if not layers or not all(isinstance(layer, Dense) for layer in layers):
        raise TypeError("collapse needs a formicary.MLP or a list of formicary.Dense layers")
    for i, (prev, nxt) in enumerate(pairwise(layers)):
        if prev.n_out != nxt.n_in:
            raise ValueError(
                f"layer {i + 1} has {prev.n_out} neurons but layer {i + 2} expects {nxt.n_in} inputs"
            )
    return layers


def collapse(network: MLP | Sequence[Dense]) -> Dense:
    """The single layer equal to a stack of layers without activation functions.

    ``W = W^(L) ... W^(2) W^(1)`` and ``b = W^(L)(... (W^(2) b^(1) + b^(2)) ...) + b^(L)``,
    so ``W x + b`` equals the network's ``z^(L)`` for every ``x``. The output
    layer's activation (say a sigmoid) is kept: it is applied once, after the
    single linear map, exactly as the network applies it.

    Parameters
    ----------
    network : MLP or list of Dense
        Every layer except the output must use the ``"identity"`` activation.

    Returns
    -------
    Dense
        ``n_in`` inputs, ``n_out`` neurons, the output layer's activation and dtype.

    Raises
    ------
    ValueError
        When a hidden layer applies a non-linear activation: then the network is
        not a linear function of ``x`` and no single layer equals it.
    """
    layers = _layers_of(network)
    for l, layer in enumerate(layers[:-1], start=1):
        name = layer.activation.name
        if name != "identity":
            raise ValueError(
                f"cannot collapse: hidden layer {l} applies the non-linear activation {name!r}, "
                f"so z^({l + 1}) = W^({l + 1}) {name}(z^({l})) + b^({l + 1}) is not a linear "
                "function of x and no single layer W x + b equals the network (this is why "
                "hidden layers need activation functions); collapse works only when every "
                "hidden layer uses 'identity'"
            )
    weights = layers[0].weights.copy()
    bias = layers[0].bias.copy()
    for layer in layers[1:]:
        # z^(l) = W^(l) (W x + b) + b^(l) = (W^(l) W) x + (W^(l) b + b^(l))
        bias = layer.weights @ bias + layer.bias
        weights = layer.weights @ weights
    last = layers[-1]
    return Dense(
        layers[0].n_in,
        last.n_out,
        last.activation,
        weights=weights,
        bias=bias,
        dtype=last.dtype,
    )


@dataclass
class CollapseCheck:
    """How closely the collapsed layer matches the network on random inputs."""

    layer: Dense
    n_samples: int
    max_abs_difference: float
    max_output: float

    @property
    def max_relative_difference(self) -> float:
        return self.max_abs_difference / max(self.max_output, 1e-300)


def check_collapse(
    network: MLP | Sequence[Dense],
    n_samples: int = 1000,
    seed: int | np.random.Generator | None = 0,
) -> CollapseCheck:
    """Collapse ``network`` and compare its outputs with the single layer's on random inputs.

    Inputs are standard normal; the difference is ``max |y_hat_network - y_hat_layer|``.
    """
    layers = _layers_of(network)
    net = network if isinstance(network, MLP) else MLP(layers)
    layer = collapse(layers)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, layer.n_in)).astype(layer.dtype)
    expected = net.predict(X)
    _, got = layer.forward(X)
    return CollapseCheck(
        layer=layer,
        n_samples=n_samples,
        max_abs_difference=float(np.max(np.abs(expected - got))),
        max_output=float(np.max(np.abs(expected))),
    )


def random_linear_network(
    sizes: Sequence[int], seed: int | np.random.Generator | None = 0, dtype: Any = "float64"
) -> MLP:
    """A network of the given sizes with identity activations and random weights and biases."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layers = []
    for n_in, n_out in pairwise(sizes):
        layers.append(
            Dense(
                n_in,
                n_out,
                "identity",
                weights=rng.uniform(-1, 1, (n_out, n_in)),
                bias=rng.uniform(-1, 1, n_out),
                dtype=dtype,
            )
        )
    return MLP(layers)


# =========================================================================== symbolic


@dataclass
class SymbolicProof:
    """The symbolic expansion of a network without activations.

    Attributes
    ----------
    sizes : tuple of int
    inputs : list of sympy.Symbol
        ``x_1 .. x_n``.
    weights, biases : list of sympy.Matrix
        ``W^(l)`` with entries ``w_jk^(l)``, ``b^(l)`` with entries ``b_j^(l)``.
    outputs : list of sympy.Expr
        Each ``z_j^(L)`` fully expanded.
    coefficients : sympy.Matrix, shape (n_out, n_in)
        The collected coefficient of ``x_k`` in ``z_j^(L)``: the single layer's ``w_jk``.
    constants : sympy.Matrix, shape (n_out, 1)
        The terms without any ``x``: the single layer's ``b_j``.
    verified : bool
        SymPy found ``coefficients - W^(L)...W^(1)`` and ``constants - (W^(L)(...) + b^(L))``
        to expand to zero, and ``z^(L) - (W x + b)`` too.
    """

    sizes: tuple[int, ...]
    inputs: list[Any]
    weights: list[Any]
    biases: list[Any]
    outputs: list[Any]
    coefficients: Any
    constants: Any
    verified: bool
    _symbols: dict[Any, tuple[str, tuple[int, ...], int | None]]

    def evaluate(self, net: MLP | Sequence[Dense]) -> tuple[np.ndarray, np.ndarray]:
        """The collected coefficients with ``net``'s numbers substituted: ``(W, b)``.

        Computed from the symbolic expressions (via ``sympy.lambdify``), independently
        of :func:`collapse`'s matrix products.
        """
        sp = _sympy()
        layers = _layers_of(net)
        sizes = tuple([layers[0].n_in] + [layer.n_out for layer in layers])
        if sizes != self.sizes:
            raise ValueError(f"the proof is for sizes {self.sizes} but the network has {sizes}")
        symbols, values = [], []
        for layer, W, b in zip(layers, self.weights, self.biases, strict=True):
            symbols += list(W) + list(b)
            values += list(np.asarray(layer.weights, dtype=np.float64).ravel())
            values += list(np.asarray(layer.bias, dtype=np.float64).ravel())
        function = sp.lambdify(symbols, [self.coefficients, self.constants], modules="numpy")
        weights, bias = function(*values)
        return np.asarray(weights, dtype=np.float64), np.asarray(bias, dtype=np.float64).ravel()

    def render(
        self,
        format: str = "text",
        max_terms: int = 12,
        max_neurons: int = 2,
        color: bool | None = None,
        standalone: bool = True,
    ) -> str:
        """The proof written out step by step, as in the lecture."""
        doc = _new_document(format, 2, color)
        title = "Why we need activation functions: without them, layers collapse into one"
        _write_symbolic(doc, self, max_terms, max_neurons, title)
        if isinstance(doc, _LatexDocument) and standalone:
            return doc.document(title)
        return doc.render()


def _symbol(sp: Any, base: str, indices: tuple[int, ...], layer: int | None) -> Any:
    sep = "," if any(i >= 10 for i in indices) else ""
    name = base + "_" + sep.join(map(str, indices)) + ("" if layer is None else f"^({layer})")
    return sp.Symbol(name, real=True)


def symbolic(sizes: Sequence[int] = LECTURE_SIZES) -> SymbolicProof:
    """Expand a network of the given sizes whose neurons apply no activation.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes including the input; the lecture's ``(3, 2, 1)`` by default.

    Returns
    -------
    SymbolicProof
        With the collected coefficients of every input and the SymPy check that
        they are the entries of ``W^(L) ... W^(1)``.
    """
    sp = _sympy()
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive integers, got {sizes}")
    monomials = sizes[-1] * (sizes[0] + 1) * math.prod(sizes[1:-1])
    if monomials > MAX_SYMBOLIC_TERMS:
        raise ValueError(
            f"a {'-'.join(map(str, sizes))} network expands to about {monomials:,} terms, too "
            "many to print; use smaller sizes, or formicary.proof.collapse for the numeric proof"
        )
    table: dict[Any, tuple[str, tuple[int, ...], int | None]] = {}

    def make(base: str, indices: tuple[int, ...], layer: int | None) -> Any:
        symbol = _symbol(sp, base, indices, layer)
        table[symbol] = (base, indices, layer)
        return symbol

    inputs = [make("x", (k,), None) for k in range(1, sizes[0] + 1)]
    weights, biases = [], []
    for l, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
        weights.append(sp.Matrix(n_out, n_in, lambda j, k, l=l: make("w", (j + 1, k + 1), l)))
        biases.append(sp.Matrix(n_out, 1, lambda j, _k, l=l: make("b", (j + 1,), l)))
    # z^(l) = W^(l) z^(l-1) + b^(l) with a = z (no activation)
    z = sp.Matrix(inputs)
    for W, b in zip(weights, biases, strict=True):
        z = W * z + b
    outputs = [sp.expand(expr) for expr in z]
    zero = dict.fromkeys(inputs, 0)
    coefficients = sp.Matrix([[out.coeff(x) for x in inputs] for out in outputs])
    constants = sp.Matrix([out.xreplace(zero) for out in outputs])
    # the single layer by matrix algebra, independently of the expansion above
    product = weights[0]
    folded = biases[0]
    for W, b in zip(weights[1:], biases[1:], strict=True):
        product = W * product
        folded = W * folded + b
    single = product * sp.Matrix(inputs) + folded
    verified = (
        all(sp.expand(e) == 0 for e in coefficients - product)
        and all(sp.expand(e) == 0 for e in constants - folded)
        and all(sp.expand(out - s) == 0 for out, s in zip(outputs, single, strict=True))
    )
    return SymbolicProof(
        sizes, inputs, weights, biases, outputs, coefficients, constants, verified, table
    )


def _monomial(n: _Notation, proof: SymbolicProof, term: Any) -> tuple[tuple[float, ...], str]:
    """A product of weights in the lecture's order: highest layer first, the input last.

    The sort key follows the path through the network (which neuron is taken at
    each layer from the top), so that the terms come out in the order of the
    lecture's ``w_11^(2) {w_11^(1) x_1 + ...} + w_12^(2) {...} + b_1^(2)``.
    """
    sp = _sympy()
    coefficient, factors = term.as_coeff_mul()
    parts = []
    for factor in factors:
        base, exponent = factor.as_base_exp()
        name, indices, layer = proof._symbols[base]
        parts.append((name, indices, layer, exponent))
    parts.sort(key=lambda p: (p[0] == "x", -(p[2] or 0)))
    key = tuple(float(p[1][1]) for p in parts if p[0] == "w")
    if any(p[0] == "b" for p in parts):
        key += (math.inf,)
    text = n.juxtapose.join(
        n.sym(name, indices, layer) + (f"^{exponent}" if exponent != 1 else "")
        for name, indices, layer, exponent in parts
    )
    if coefficient != 1:
        text = f"{sp.sstr(coefficient)}{n.juxtapose}{text}"
    return key, text


def _polynomial(n: _Notation, proof: SymbolicProof, expr: Any, max_terms: int) -> list[str]:
    """The terms of ``expr`` in path order, at most ``max_terms`` of them."""
    sp = _sympy()
    terms = sorted(
        (_monomial(n, proof, t) for t in sp.Add.make_args(expr) if t != 0),
        key=lambda kt: kt[0],
    )
    shown, more = _shown(len(terms), max_terms)
    texts = [terms[i][1] for i in shown] + ([n.more(more)] if more else [])
    return texts or ["0"]


def _nested(n: _Notation, l: int, j: int, sizes: tuple[int, ...], max_terms: int) -> list[str]:
    """The terms of ``z_j^(l)`` with every lower layer substituted, in braces as in the lecture."""
    ks, more = _shown(sizes[l - 1], max_terms)
    open_, close = ("\\left\\{ ", " \\right\\}") if n.latex else ("{", "}")
    terms = []
    for k in ks:
        if l == 1:
            inner = n.sym("x", (k + 1,))
        else:
            inner = open_ + " + ".join(_nested(n, l - 1, k + 1, sizes, max_terms)) + close
        terms.append(n.sym("w", (j, k + 1), l) + n.juxtapose + inner)
    if more:
        terms.append(n.more(more))
    terms.append(n.sym("b", (j,), l))
    return terms


def _write_symbolic(
    doc: _Document, proof: SymbolicProof, max_terms: int, max_neurons: int, title: str
) -> None:
    n = doc.m
    sizes = proof.sizes
    L = len(sizes) - 1
    n_in = sizes[0]
    doc.heading(title, 1)
    doc.paragraph(
        doc.escape(
            f"Take the {_sizes_text(sizes)} network and give its neurons no activation, "
            "so that each neuron passes on "
        ),
        doc.inline(lambda i: f"{i.sym('a', ('j',), 'l')} = {i.sym('z', ('j',), 'l')}"),
        doc.escape(". Layer by layer:"),
    )
    chains = []
    for l in range(1, L + 1):
        js, _ = _shown(sizes[l], max_neurons)
        for j in js:
            ks, more = _shown(sizes[l - 1], max_terms)
            terms = [
                n.sym("w", (j + 1, k + 1), l)
                + n.juxtapose
                + (n.sym("x", (k + 1,)) if l == 1 else n.sym("z", (k + 1,), l - 1))
                for k in ks
            ]
            if more:
                terms.append(n.more(more))
            terms.append(n.sym("b", (j + 1,), l))
            chains.append([n.sym("z", (j + 1,), l), " + ".join(terms)])
    doc.equations(chains)

    outputs, more_outputs = _shown(sizes[-1], max_neurons)
    doc.heading("Substitute each layer into the next", 2)
    doc.equations(
        [
            [n.sym("z", (j + 1,), L), n.sum(_nested(n, L, j + 1, sizes, max_terms), per_line=1)]
            for j in outputs
        ]
    )
    doc.heading("Expand (SymPy)", 2)
    doc.equations(
        [
            [
                n.sym("z", (j + 1,), L),
                n.sum(_polynomial(n, proof, proof.outputs[j], max_terms), per_line=3),
            ]
            for j in outputs
        ]
    )
    doc.heading("Collect the terms of each input", 2)
    doc.paragraph(
        doc.escape("Grouping the terms by input gives the lecture's "),
        doc.formula(
            "(A+P) x_1 + (B+Q) x_2 + ...", r"\left(A+P\right) x_1 + \left(B+Q\right) x_2 + \cdots"
        ),
        doc.escape(": one number in front of each input, plus one constant."),
    )
    chains = []
    for j in outputs:
        ks, more = _shown(n_in, max_terms)
        pieces = [
            n.paren(" + ".join(_polynomial(n, proof, proof.coefficients[j, k], max_terms)))
            + n.juxtapose
            + n.sym("x", (k + 1,))
            for k in ks
        ]
        if more:
            pieces.append(n.more(more))
        pieces.append(n.paren(" + ".join(_polynomial(n, proof, proof.constants[j], max_terms))))
        single = [
            n.sym("w", (j + 1, k + 1) if sizes[-1] > 1 else (k + 1,))
            + n.juxtapose
            + n.sym("x", (k + 1,))
            for k in ks
        ]
        if more:
            single.append(n.more(more))
        single.append(n.sym("b", (j + 1,) if sizes[-1] > 1 else ()))
        chains.append(
            [
                n.sym("z", (j + 1,), L),
                [pieces[0], *("+ " + p for p in pieces[1:])],
                " + ".join(single),
            ]
        )
    doc.equations(chains)
    if more_outputs:
        doc.paragraph(doc.escape(f"... (+{more_outputs} more output neurons, the same way)"))
    doc.heading("Conclusion", 2)
    doc.paragraph(
        doc.escape(
            f"The whole {_sizes_text(sizes)} network is one layer with {_plural(n_in, 'input')} "
            f"and {_plural(sizes[-1], 'neuron')}: "
        ),
        doc.inline(lambda i: f"z = W{i.juxtapose}x + b"),
        doc.escape(" with "),
        doc.inline(lambda i: "W = " + i.juxtapose.join(i.sym("W", (), l) for l in range(L, 0, -1))),
        doc.escape(f" ({sizes[-1]}x{n_in}). "),
        doc.escape(
            "SymPy checked that every collected coefficient equals the matching entry of that "
            "matrix product, and the constant the folded biases: "
            + ("verified." if proof.verified else "NOT verified.")
        ),
    )
    doc.paragraph(
        doc.escape(
            "However many layers are stacked, without an activation function the network can "
            "only draw straight lines (planes): it is a single linear model. A non-linear "
            "activation between the layers is what stops this collapse."
        )
    )


def _sizes_text(sizes: Sequence[int]) -> str:
    return "-".join(map(str, sizes))


# =========================================================================== empirical


def best_linear_accuracy(X: Any, y: Any) -> float:
    """The highest accuracy any straight line ``w_1 x_1 + w_2 x_2 + b = 0`` reaches on 2-D data.

    Exact for points in general position (no three on a line): some best line
    can be moved until it passes through two data points, which may then be put
    on either side, so it suffices to try every line through two points, both
    ways round, and the constant classifiers.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"best_linear_accuracy needs 2-D inputs of shape (n, 2), got {X.shape}")
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {labels.shape[0]}")
    classes = np.unique(labels)
    if classes.size > 2:
        raise ValueError("best_linear_accuracy is for two classes")
    n = X.shape[0]
    positive = labels == classes[-1]
    best = max(positive.sum(), n - positive.sum())
    if n <= 2:
        return 1.0 if classes.size < 2 or not np.allclose(X[0], X[-1]) else 0.5
    i, j = np.triu_indices(n, k=1)
    pos_f = positive.astype(np.float64)
    for start in range(0, i.size, 4096):
        a, b = i[start : start + 4096], j[start : start + 4096]
        direction = X[b] - X[a]
        # side of each point: cross product of (p - X[a]) with the line's direction
        rel_x = X[None, :, 0] - X[a, None, 0]
        rel_y = X[None, :, 1] - X[a, None, 1]
        side = direction[:, None, 0] * rel_y - direction[:, None, 1] * rel_x
        above, below = side > 0, side < 0
        n_above_pos = above @ pos_f
        n_above = above.sum(axis=1)
        n_below_pos = below @ pos_f
        n_below = below.sum(axis=1)
        # above -> positive class, or the other way round; the two points on the line: +2
        one_way = n_above_pos + (n_below - n_below_pos)
        other_way = (n_above - n_above_pos) + n_below_pos
        best = max(best, int(np.max(np.maximum(one_way, other_way))) + 2)
    return float(min(best, n)) / n


@dataclass
class LinearComparison:
    """Training accuracies on one data set: with and without activation functions.

    Attributes
    ----------
    dataset : str
    activation : str
        The hidden activation of the non-linear network.
    sizes : list of int
    nonlinear_accuracy : float
        The network with ``activation`` in its hidden layers.
    identity_accuracy : float
        The same network with ``identity`` hidden activations.
    logistic_accuracy : float
        Logistic regression (a 2-1 network with a sigmoid output).
    best_linear_accuracy : float
        The best any straight line can do (:func:`best_linear_accuracy`).
    collapsed_difference : float
        ``max |y_hat|`` difference between the trained identity network and its
        :func:`collapse`: it really is one linear layer.
    """

    dataset: str
    activation: str
    sizes: list[int]
    n_samples: int
    nonlinear_accuracy: float
    identity_accuracy: float
    logistic_accuracy: float
    best_linear_accuracy: float
    collapsed_difference: float


_DATA = {
    "xor": lambda n, seed: _datasets.xor(n, seed=seed),
    "circles": lambda n, seed: _datasets.circles(n, seed=seed),
    "moons": lambda n, seed: _datasets.moons(n, seed=seed),
}


def compare_with_linear(
    dataset: str = "xor",
    activation: str = "sigmoid",
    hidden: Sequence[int] = (8,),
    n_samples: int = 200,
    epochs: int = 300,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> LinearComparison:
    """Train the same network with and without activations, and logistic regression.

    Parameters
    ----------
    dataset : {"xor", "circles", "moons"}
        Generated with ``n_samples`` points and ``seed``.
    activation : str
        The hidden activation, e.g. ``"sigmoid"`` or ``"relu"``.
    hidden : sequence of int
        Hidden layer sizes.
    epochs, learning_rate : training settings (Adam, mini-batches of 32).
    """
    if dataset not in _DATA:
        raise ValueError(f"unknown data set {dataset!r}; use one of {', '.join(_DATA)}")
    X, y = _DATA[dataset](n_samples, seed)
    sizes = [2, *[int(h) for h in hidden], 1]

    def train(net: MLP) -> float:
        net.fit(X, y, optimizer="adam", learning_rate=learning_rate, epochs=epochs, seed=seed)
        return float(np.mean(net.classify(X) == y))

    nonlinear = MLP(sizes, activation=activation, output_activation="sigmoid", seed=seed)
    linear_stack = MLP(sizes, activation="identity", output_activation="sigmoid", seed=seed)
    logistic = MLP([2, 1], output_activation="sigmoid", seed=seed)
    nonlinear_acc = train(nonlinear)
    identity_acc = train(linear_stack)
    logistic_acc = train(logistic)
    single = collapse(linear_stack)
    difference = float(np.max(np.abs(single.forward(X)[1] - linear_stack.predict(X))))
    return LinearComparison(
        dataset=dataset,
        activation=activation,
        sizes=sizes,
        n_samples=int(X.shape[0]),
        nonlinear_accuracy=nonlinear_acc,
        identity_accuracy=identity_acc,
        logistic_accuracy=logistic_acc,
        best_linear_accuracy=best_linear_accuracy(X, y),
        collapsed_difference=difference,
    )


def empirical(
    datasets: Sequence[str] = ("xor", "circles"),
    activations: Sequence[str] = ("sigmoid", "relu"),
    **kwargs: Any,
) -> list[LinearComparison]:
    """:func:`compare_with_linear` for every data set and activation."""
    return [
        compare_with_linear(dataset=d, activation=a, **kwargs)
        for d in datasets
        for a in activations
    ]


# =========================================================================== report


def _write_numeric(doc: _Document, check: CollapseCheck, sizes: Sequence[int]) -> None:
    doc.heading("Numeric: collapse a network into one layer", 2)
    doc.paragraph(
        doc.escape(
            f"A {_sizes_text(sizes)} network with identity activations and random weights, "
            "collapsed by formicary.proof.collapse into a single Dense layer "
        ),
        doc.inline(
            lambda i: f"W = {' '.join(i.sym('W', (), l) for l in range(len(sizes) - 1, 0, -1))}"
        ),
        doc.escape(
            f" of shape {check.layer.n_out}x{check.layer.n_in}. On {check.n_samples} random "
            f"inputs the outputs of the network and of the single layer differ by at most "
            f"{check.max_abs_difference:.3g} (outputs up to {check.max_output:.3g}): the same "
            "function, to machine precision."
        ),
    )


def _write_empirical(doc: _Document, results: Sequence[LinearComparison]) -> None:
    doc.heading("Empirical: what a network without activations can learn", 2)
    doc.paragraph(
        doc.escape(
            "Training accuracy of a network with a non-linear hidden activation, of the same "
            "network with identity activations, of logistic regression, and the best any "
            "straight line can reach on the same points."
        )
    )
    header = ["data set", "network", "with activation", "identity", "logistic", "best line"]
    rows = [
        [
            doc.escape(r.dataset),
            doc.escape(f"{_sizes_text(r.sizes)} {r.activation}"),
            doc.escape(f"{r.nonlinear_accuracy:.3f}"),
            doc.escape(f"{r.identity_accuracy:.3f}"),
            doc.escape(f"{r.logistic_accuracy:.3f}"),
            doc.escape(f"{r.best_linear_accuracy:.3f}"),
        ]
        for r in results
    ]
    doc.table([doc.escape(h) for h in header], rows)
    doc.paragraph(
        doc.escape(
            "The identity network never beats the best straight line: after training it "
            "collapses into one layer (largest output difference "
            f"{max(r.collapsed_difference for r in results):.2g}), a linear model."
        )
    )


def report(
    sizes: Sequence[int] = LECTURE_SIZES,
    format: str = "text",
    empirical_check: bool = True,
    seed: int = 0,
    max_terms: int = 12,
    max_neurons: int = 2,
    color: bool | None = None,
    standalone: bool = True,
    epochs: int = 300,
) -> str:
    """The proof three ways, symbolic, numeric and empirical, as one document.

    Parameters
    ----------
    sizes : sequence of int
        The network for the symbolic and numeric parts (the lecture's 3-2-1 by default).
    format : {"text", "markdown", "latex"}
    empirical_check : bool
        Also train on XOR and circles (a few seconds).
    seed : int
        For the random weights and the training runs.
    """
    proof = symbolic(sizes)
    doc = _new_document(format, 2, color)
    title = "Why we need activation functions: without them, layers collapse into one"
    _write_symbolic(doc, proof, max_terms, max_neurons, title)
    check = check_collapse(random_linear_network(proof.sizes, seed=seed), seed=seed)
    _write_numeric(doc, check, proof.sizes)
    if empirical_check:
        _write_empirical(doc, empirical(seed=seed, epochs=epochs))
    if isinstance(doc, _LatexDocument) and standalone:
        return doc.document(title)
    return doc.render()


if TYPE_CHECKING:  # pragma: no cover
    _ = sympy
