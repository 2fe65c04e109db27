"""Show the work: a forward or backward pass written out in the lecture's notation.

Every number printed comes from the engine itself: :meth:`MLP.forward` with
``trace=True`` gives ``z_j^(l)`` and ``a_j^(l)``, :meth:`MLP.backward` gives
``delta_j^(l)`` and ``de/dw_jk^(l)``, and an :class:`~formicary.optimizers.SGD`
step on a copy of the network gives the updated weights. This module only
formats those numbers; it does no maths of its own.

For the lecture's 3-2-1 network the forward pass reads::

    z_1^(1) = w_11^(1)*x_1 + w_12^(1)*x_2 + w_13^(1)*x_3 + b_1^(1)
            = 0.20*1.00 + 0.40*0.50 + (-0.08)*(-1.00) + 0.05
            = 0.53
    a_1^(1) = sigma(z_1^(1)) = sigma(0.53) = 0.63

followed by the same layer in matrix form with its shapes,
``[2x3][3x1] + [2x1] = [2x1]``. The backward pass shows the error, the output
delta, each hidden delta by the chain rule, ``de/dw_jk^(l) = delta_j^(l) a_k^(l-1)``
and the update ``w = w - eta de/dw`` with the values before and after, for one
sample or for a mini-batch (whose gradients are the mean over its samples).

Three formats: ``"text"`` for the terminal (coloured when the terminal is a
TTY), ``"markdown"`` (equations in ```` ```math ```` blocks, values in tables)
and ``"latex"`` (a complete document that compiles with ``pdflatex``).

Examples
--------
>>> from formicary import explain
>>> net, x, y = explain.lecture_example()
>>> print(explain.forward(net, x))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from formicary import losses as _losses
from formicary.layers import Dense
from formicary.network import MLP, Gradients, Trace
from formicary.optimizers import SGD
from formicary.validation import check_targets

__all__ = [
    "FORMATS",
    "BackwardPass",
    "ForwardPass",
    "backward",
    "backward_pass",
    "forward",
    "forward_pass",
    "latex_document",
    "lecture_example",
]

FORMATS = ("text", "markdown", "latex")

# The lecture's example: 3 inputs, 2 sigmoid hidden neurons, 1 sigmoid output.
# Chosen so that z_1^(1) = 0.53 and a_1^(1) = sigma(0.53) = 0.63, as in the notes.
LECTURE_WEIGHTS_1 = [[0.20, 0.40, -0.08], [-0.30, 0.10, 0.25]]
LECTURE_BIAS_1 = [0.05, 0.10]
LECTURE_WEIGHTS_2 = [[0.50, -0.40]]
LECTURE_BIAS_2 = [0.20]
LECTURE_INPUT = [1.00, 0.50, -1.00]
LECTURE_TARGET = [1.00]


def lecture_example() -> tuple[MLP, np.ndarray, np.ndarray]:
    """The lecture's 3-2-1 sigmoid network with one sample ``(x, y)``.

    Returns
    -------
    net : MLP
        ``W^(1)`` 2x3, ``b^(1)`` 2x1, ``W^(2)`` 1x2, ``b^(2)`` 1x1, sigmoid everywhere.
    x : ndarray, shape (3,)
    y : ndarray, shape (1,)
    """
    net = MLP(
        [
            Dense(3, 2, "sigmoid", weights=LECTURE_WEIGHTS_1, bias=LECTURE_BIAS_1),
            Dense(2, 1, "sigmoid", weights=LECTURE_WEIGHTS_2, bias=LECTURE_BIAS_2),
        ]
    )
    return net, np.array(LECTURE_INPUT), np.array(LECTURE_TARGET)


# =========================================================================== notation

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOLD, _CYAN, _GREEN, _RESET = "\x1b[1m", "\x1b[36m", "\x1b[32m", "\x1b[0m"

# Markers for elided matrix cells, spelled by each notation.
_HDOTS, _VDOTS, _DDOTS = "\0h", "\0v", "\0d"

_TEXT_NAMES = {
    "sigmoid": "sigma",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "gelu": "GELU",
    "identity": "",
}
_LATEX_BASES = {"delta": r"\delta", "y_hat": r"\hat{y}", "eta": r"\eta", "sigma": r"\sigma"}


def _format_number(value: float, precision: int, latex: bool = False) -> str:
    """``value`` with ``precision`` decimals; scientific when that would hide it (``3.12e-05``)."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 0.5 * 10.0**-precision or abs(v) >= 1e6):
        mantissa, exponent = f"{v:.{precision}e}".split("e")
        if latex:
            return rf"{mantissa} \times 10^{{{int(exponent)}}}"
        return f"{mantissa}e{exponent}"
    text = f"{v:.{precision}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # never "-0.00"
    return text


class _Notation:
    """How one output format spells symbols, numbers and operators (text flavour)."""

    latex = False
    times = "*"  # between numbers
    juxtapose = "*"  # between symbols
    minus = " - "

    def __init__(self, precision: int) -> None:
        self.precision = precision

    def num(self, value: float, paren: bool = False) -> str:
        text = _format_number(value, self.precision, self.latex)
        return f"({text})" if paren and text.startswith("-") else text

    @staticmethod
    def _indices(indices: Sequence[int]) -> str:
        sep = "," if any(not isinstance(i, str) and i >= 10 for i in indices) else ""
        return sep.join(str(i) for i in indices)

    def sym(
        self,
        base: str,
        indices: Sequence[int] = (),
        layer: int | None = None,
        sample: int | None = None,
    ) -> str:
        """``w_11^(1)``; with a sample index ``delta_1^(2)[3]``."""
        text = base
        if indices:
            text += "_" + self._indices(indices)
        if layer is not None:
            text += f"^({layer})"
        if sample is not None:
            text += f"[{sample}]"
        return text

    def partial(self, symbol: str) -> str:
        return f"de/d{symbol}"

    def apply(self, activation: str, argument: str) -> str:
        return f"{self.act_name(activation)}({argument})"

    def act_name(self, activation: str) -> str:
        return _TEXT_NAMES.get(activation, activation)

    def derivative(self, activation: str, argument: str) -> str:
        return f"{self.act_name(activation)}'({argument})"

    def more(self, count: int, what: str = "terms") -> str:
        return f"... (+{count} more {what})"

    def sum_symbol(self, index: str) -> str:
        return f"sum_{index}"

    def frac(self, numerator: str, denominator: str) -> str:
        return f"({numerator}/{denominator})"

    def paren(self, text: str) -> str:
        return f"({text})"

    def sum(self, terms: Sequence[str], per_line: int = 4) -> list[str]:
        """The terms joined by ``+``, cut into pieces of ``per_line`` terms for wrapping."""
        pieces = []
        for start in range(0, len(terms), per_line):
            chunk = " + ".join(terms[start : start + per_line])
            pieces.append(chunk if start == 0 else "+ " + chunk)
        return pieces

    def vector(self, values: Sequence[str]) -> str:
        return "[" + ", ".join(values) + "]"

    def word(self, text: str) -> str:
        return text

    def dots(self, marker: str) -> str:
        return "..." if marker == _HDOTS else ":" if marker == _VDOTS else "."

    def shape(self, rows: int, cols: int) -> str:
        return f"[{rows}x{cols}]"


class _LatexNotation(_Notation):
    latex = True
    times = r" \cdot "
    juxtapose = " "

    def sym(
        self,
        base: str,
        indices: Sequence[int] = (),
        layer: int | None = None,
        sample: int | None = None,
    ) -> str:
        text = _LATEX_BASES.get(base, base)
        if indices:
            text += "_{" + self._indices(indices) + "}"
        if layer is not None:
            text += "^{(" + str(layer) + ")}"
        if sample is not None:
            text += f"[{sample}]"
        return text

    def partial(self, symbol: str) -> str:
        return r"\frac{\partial e}{\partial " + symbol + "}"

    def act_name(self, activation: str) -> str:
        from formicary import activations

        try:
            latex = activations.get(activation).latex
        except (ValueError, TypeError):
            latex = rf"\mathrm{{{activation}}}"
        return latex or r"\mathrm{id}"

    def apply(self, activation: str, argument: str) -> str:
        return rf"{self.act_name(activation)}({argument})"

    def derivative(self, activation: str, argument: str) -> str:
        return rf"{self.act_name(activation)}'({argument})"

    def more(self, count: int, what: str = "terms") -> str:
        return r"\underbrace{\cdots}_{+" + str(count) + r"\text{ more " + what + "}}"

    def frac(self, numerator: str, denominator: str) -> str:
        return rf"\frac{{{numerator}}}{{{denominator}}}"

    def sum_symbol(self, index: str) -> str:
        return rf"\sum_{index}"

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def vector(self, values: Sequence[str]) -> str:
        return r"\left[" + r",\ ".join(values) + r"\right]"

    def word(self, text: str) -> str:
        return rf"\text{{{text}}}"

    def dots(self, marker: str) -> str:
        return r"\cdots" if marker == _HDOTS else r"\vdots" if marker == _VDOTS else r"\ddots"

    def shape(self, rows: int, cols: int) -> str:
        return rf"{rows} \times {cols}"


# =========================================================================== documents

Inline = Callable[[_Notation], str]


class _Document:
    """Collects headings, prose, equation chains, matrices and tables for one format."""

    def __init__(self, precision: int) -> None:
        self.precision = precision
        self.m: _Notation = _Notation(precision)  # notation inside equations
        self.i: _Notation = _Notation(precision)  # notation inside prose and tables
        self.blocks: list[str] = []

    # ---- pieces of prose
    def inline(self, build: Inline) -> str:
        return build(self.i)

    def number(self, value: float) -> str:
        return self.i.num(value)

    def formula(self, text: str, latex: str) -> str:
        """An inline formula given in both spellings."""
        return self.inline(lambda i: latex if i.latex else text)

    def escape(self, text: str) -> str:
        return text

    # ---- blocks
    def heading(self, text: str, level: int = 1) -> None:
        raise NotImplementedError

    def paragraph(self, *parts: str) -> None:
        self.blocks.append("".join(parts))

    def equations(self, chains: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def matrices(self, items: Sequence[Any]) -> None:
        raise NotImplementedError

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        raise NotImplementedError

    def render(self) -> str:
        return "\n\n".join(self.blocks).rstrip() + "\n"


def _chain_parts(chain: Sequence[Any]) -> tuple[str, str, list[list[str]]]:
    """``(lhs, relation, sides)``; each side is a list of pieces to wrap."""
    lhs = chain[0]
    relation = "="
    if isinstance(lhs, tuple):
        lhs, relation = lhs
    sides = [[s] if isinstance(s, str) else list(s) for s in chain[1:]]
    return lhs, relation, sides


class _TextDocument(_Document):
    width = 88  # a chain longer than this is written one side per line

    def __init__(self, precision: int, color: bool) -> None:
        super().__init__(precision)
        self.color = color

    def _style(self, text: str, *codes: str) -> str:
        return "".join(codes) + text + _RESET if self.color else text

    def heading(self, text: str, level: int = 1) -> None:
        rule = "=" if level == 1 else "-"
        if level <= 2:
            self.blocks.append(self._style(f"{text}\n{rule * len(text)}", _BOLD, _CYAN))
        else:
            self.blocks.append(self._style(text, _BOLD))

    def equations(self, chains: Sequence[Sequence[Any]]) -> None:
        lines = []
        for chain in chains:
            lhs, relation, sides = _chain_parts(chain)
            relation = "<-" if relation == "<-" else "="
            pad = " " * len(lhs)
            one_line = f"  {lhs} {relation} " + " = ".join(" ".join(p) for p in sides)
            if len(one_line) <= self.width:
                if len(sides) > 1:
                    head, _, last = one_line.rpartition(" = ")
                    one_line = f"{head} = {self._style(last, _BOLD, _GREEN)}"
                lines.append(one_line)
                continue
            for s, pieces in enumerate(sides):
                if len(pieces) > 1 and len(pad + " ".join(pieces)) + 5 <= self.width:
                    pieces = [" ".join(pieces)]
                text = pieces[0]
                if s == len(sides) - 1 and len(sides) > 1:
                    text = self._style(text, _BOLD, _GREEN)
                rel = relation if s == 0 else "="
                lines.append(f"  {lhs if s == 0 else pad} {rel} {text}")
                lines.extend(f"  {pad}   {piece}" for piece in pieces[1:])
        self.blocks.append("\n".join(lines))

    def matrices(self, items: Sequence[Any]) -> None:
        columns: list[list[str]] = []
        for item in items:
            if isinstance(item, str):
                columns.append([item])
                continue
            grid = [[self.m.dots(c) if c.startswith("\0") else c for c in row] for row in item[0]]
            widths = [max(len(row[c]) for row in grid) for c in range(len(grid[0]))]
            columns.append(
                [
                    "[ " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " ]"
                    for row in grid
                ]
            )
        height = max(len(c) for c in columns)
        middle = (min(len(c) for c in columns if len(c) > 1) - 1) // 2 if height > 1 else 0
        lines = []
        for r in range(height):
            cells = []
            for column in columns:
                width = max(len(s) for s in column)
                if len(column) == 1 and height > 1:  # an operator: on the middle row
                    cells.append((column[0] if r == middle else "").center(width))
                else:
                    cells.append((column[r] if r < len(column) else "").ljust(width))
            lines.append("    " + " ".join(cells).rstrip())
        self.blocks.append("\n".join(lines))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        all_rows = [list(header), *[list(r) for r in rows]]
        widths = [max(len(r[c]) for r in all_rows) for c in range(len(header))]
        lines = [
            "  " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True))
            for row in all_rows
        ]
        lines.insert(1, "  " + "  ".join("-" * w for w in widths))
        self.blocks.append("\n".join(lines))


def _latex_visible_length(text: str) -> int:
    """A rough count of the characters a LaTeX formula shows."""
    text = re.sub(r"\\frac\{[^{}]*\}\{", "", text)  # a fraction shows about one line of width
    text = re.sub(r"\\(left|right|cdot|quad|tfrac|partial)\b", " ", text)
    text = re.sub(r"\\[a-zA-Z]+", "x", text)
    return len(re.sub(r"[{}_^ ]", "", text)) + text.count(" ") // 2


def _latex_chain_lines(chains: Sequence[Sequence[Any]], width: int = 60) -> list[str]:
    lines = []
    for chain in chains:
        lhs, relation, sides = _chain_parts(chain)
        relation = r"\leftarrow" if relation == "<-" else "="
        if all(len(p) == 1 for p in sides):
            one_line = f" {relation} " + " = ".join(p[0] for p in sides)
            if _latex_visible_length(lhs + one_line) <= width:
                lines.append(f"{lhs} &{one_line.strip()}")
                continue
        for s, pieces in enumerate(sides):
            for p, piece in enumerate(pieces):
                first = f"{lhs} &{relation} " if s == 0 else "&= "
                lines.append((first if p == 0 else r"&\quad ") + piece)
    return lines


def _latex_matrices(notation: _Notation, items: Sequence[Any]) -> str:
    parts = []
    for item in items:
        if isinstance(item, str):
            parts.append(item)
            continue
        grid, (rows, cols) = item
        body = r" \\ ".join(
            " & ".join(notation.dots(c) if c.startswith("\0") else c for c in row) for row in grid
        )
        parts.append(
            r"\begin{bmatrix} " + body + r" \end{bmatrix}_{" + notation.shape(rows, cols) + "}"
        )
    return " ".join(parts)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "^": r"\textasciicircum{}",
}


class _LatexDocument(_Document):
    def __init__(self, precision: int) -> None:
        super().__init__(precision)
        self.m = _LatexNotation(precision)
        self.i = self.m
        self.max_columns = 10

    def inline(self, build: Inline) -> str:
        return r"\(" + build(self.i) + r"\)"

    def number(self, value: float) -> str:
        return "$" + self.i.num(value) + "$"

    def escape(self, text: str) -> str:
        escaped = "".join(_LATEX_SPECIAL.get(c, c) for c in text.replace("->", "\0"))
        return escaped.replace("\0", r"\(\rightarrow\)")

    def heading(self, text: str, level: int = 1) -> None:
        command = ("section", "subsection", "subsubsection")[min(level, 3) - 1]
        self.blocks.append(rf"\{command}*{{{self.escape(text)}}}")

    def paragraph(self, *parts: str) -> None:
        # prose parts arrive unescaped only through ``escape``; see ``_prose``
        self.blocks.append("".join(parts))

    def equations(self, chains: Sequence[Sequence[Any]]) -> None:
        lines = _latex_chain_lines(chains)
        self.blocks.append("\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}")

    def matrices(self, items: Sequence[Any]) -> None:
        for item in items:
            if not isinstance(item, str):
                self.max_columns = max(self.max_columns, len(item[0][0]) + 1)
        self.blocks.append(r"\[" + "\n" + _latex_matrices(self.m, items) + "\n" + r"\]")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        spec = "l" + "r" * (len(header) - 1)
        lines = [
            r"\begin{center}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\hline",
            " & ".join(header) + r" \\",
            r"\hline",
            *(" & ".join(row) + r" \\" for row in rows),
            r"\hline",
            r"\end{tabular}",
            r"\end{center}",
        ]
        self.blocks.append("\n".join(lines))

    def render(self) -> str:
        return "\n\n".join(self.blocks).rstrip() + "\n"

    def document(self, title: str) -> str:
        return latex_document([self.render()], None, self.max_columns)


def latex_document(
    bodies: Sequence[str], title: str | None = None, max_matrix_columns: int = 20
) -> str:
    """A complete LaTeX document around bodies made with ``standalone=False``.

    Needs only ``amsmath`` and ``geometry`` (both in every TeX distribution).
    """
    columns = max(10, int(max_matrix_columns))
    preamble = [
        r"\documentclass[11pt]{article}",
        r"\usepackage{amsmath}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\allowdisplaybreaks",
        rf"\setcounter{{MaxMatrixCols}}{{{columns}}}",
        r"\begin{document}",
    ]
    parts = list(bodies)
    if title:
        escaped = "".join(_LATEX_SPECIAL.get(c, c) for c in title)
        parts.insert(0, f"\\noindent\\textbf{{\\Large {escaped}}}")
    return (
        "\n".join(preamble) + "\n" + "\n\n".join(p.rstrip() for p in parts) + "\n\\end{document}\n"
    )


class _MarkdownDocument(_Document):
    """Prose and tables in Markdown; equations as LaTeX in ```` ```math ```` fences."""

    def __init__(self, precision: int) -> None:
        super().__init__(precision)
        self.m = _LatexNotation(precision)
        self.i = _Notation(precision)

    def inline(self, build: Inline) -> str:
        return "`" + build(self.i) + "`"

    def escape(self, text: str) -> str:
        return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text.replace("->", "→"))

    def heading(self, text: str, level: int = 1) -> None:
        self.blocks.append("#" * min(level + 1, 6) + " " + self.escape(text))

    def equations(self, chains: Sequence[Sequence[Any]]) -> None:
        lines = _latex_chain_lines(chains)
        body = "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
        self.blocks.append("```math\n" + body + "\n```")

    def matrices(self, items: Sequence[Any]) -> None:
        self.blocks.append("```math\n" + _latex_matrices(self.m, items) + "\n```")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        self.blocks.append("\n".join(lines))


def _use_color(color: bool | None) -> bool:
    """Colour when asked, or (``None``) when stdout is a terminal and ``NO_COLOR`` is unset."""
    if color is not None:
        return bool(color)
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def _new_document(format: str, precision: int, color: bool | None) -> _Document:
    if format == "text":
        return _TextDocument(precision, _use_color(color))
    if format == "markdown":
        return _MarkdownDocument(precision)
    if format == "latex":
        return _LatexDocument(precision)
    raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")


def _check_limits(precision: int, max_terms: int, max_neurons: int, max_samples: int = 1) -> None:
    for name, value, low in (
        ("precision", precision, 1),
        ("max_terms", max_terms, 1),
        ("max_neurons", max_neurons, 1),
        ("max_samples", max_samples, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if precision > 12:
        raise ValueError(f"precision must be at most 12 decimals, got {precision}")


def _finish(doc: _Document, title: str, standalone: bool) -> str:
    if isinstance(doc, _LatexDocument) and standalone:
        return doc.document(title)
    return doc.render()


def _shown(count: int, limit: int) -> tuple[range, int]:
    """The indices written out and how many are left over."""
    shown = min(count, limit)
    return range(shown), count - shown


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _sizes(net: MLP) -> str:
    return "-".join(str(s) for s in net.sizes)


def _shapes(doc: _Document, factors: Sequence[tuple[int, int]], result: tuple[int, int]) -> str:
    """``[2x1][1x3] = [2x3]`` inline."""
    return doc.inline(
        lambda i: (
            "".join((rf"[{r} \times {c}]" if i.latex else f"[{r}x{c}]") for r, c in factors)
            + " = "
            + (rf"[{result[0]} \times {result[1]}]" if i.latex else f"[{result[0]}x{result[1]}]")
        )
    )


def _layer_inputs(n: _Notation, layer: int, k: int, sample: int | None = None) -> str:
    """``x_k`` for layer 1, ``a_k^(l-1)`` beyond."""
    if layer == 1:
        return n.sym("x", [k], sample=sample)
    return n.sym("a", [k], layer - 1, sample=sample)


# =========================================================================== forward


@dataclass
class ForwardPass:
    """One sample's forward pass, as the engine computed it.

    Attributes
    ----------
    net : MLP
    trace : Trace
        From ``net.forward(x, trace=True)``; ``trace.z[l][0]`` is ``z^(l+1)``.
    """

    net: MLP
    trace: Trace

    @property
    def x(self) -> np.ndarray:
        return self.trace.inputs[0]

    @property
    def output(self) -> np.ndarray:
        return self.trace.output[0]

    def render(
        self,
        format: str = "text",
        precision: int = 2,
        max_terms: int = 8,
        max_neurons: int = 6,
        color: bool | None = None,
        standalone: bool = True,
    ) -> str:
        """The explanation as a string; see :func:`forward` for the parameters."""
        _check_limits(precision, max_terms, max_neurons)
        doc = _new_document(format, precision, color)
        title = f"Forward pass through the {_sizes(self.net)} network"
        _write_forward(doc, self.net, self.trace, max_terms, max_neurons, title)
        return _finish(doc, title, standalone)


def _as_sample(net: MLP, x: Any) -> np.ndarray:
    array = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError(f"x must be one sample (a 1-D array of {net.n_inputs} numbers)")
    return array


def forward_pass(net: MLP, x: Any) -> ForwardPass:
    """Run the engine's forward pass on one sample and keep its trace.

    Parameters
    ----------
    net : MLP
    x : array of shape (n_inputs,) or (1, n_inputs)
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a formicary.MLP, got {type(net).__name__}")
    X = _as_sample(net, x)
    if X.shape[0] != 1:
        raise ValueError(
            f"a forward explanation follows one sample but x has {X.shape[0]} rows; "
            "pass a single row such as X[0]"
        )
    trace = net.forward(X, trace=True)
    return ForwardPass(net, trace)  # type: ignore[arg-type]


def forward(
    net: MLP,
    x: Any,
    format: str = "text",
    precision: int = 2,
    max_terms: int = 8,
    max_neurons: int = 6,
    color: bool | None = None,
    standalone: bool = True,
) -> str:
    """Explain the forward pass of one sample, neuron by neuron and in matrix form.

    Parameters
    ----------
    net : MLP
    x : array of shape (n_inputs,)
        The sample ``x = a^(0)``.
    format : {"text", "markdown", "latex"}
    precision : int
        Decimals shown (numbers that would round to zero are shown as ``3.12e-05``).
    max_terms : int
        At most this many ``w_jk^(l) a_k^(l-1)`` terms per neuron (and matrix
        columns) are written out; the rest are summarised as ``... (+N more terms)``.
    max_neurons : int
        At most this many neurons per layer (and matrix rows) are written out.
    color : bool, optional
        Colour in the text format; by default only when stdout is a terminal.
    standalone : bool
        For LaTeX: a complete document (``True``) or just its body.

    Returns
    -------
    str
    """
    return forward_pass(net, x).render(format, precision, max_terms, max_neurons, color, standalone)


def _grid(
    values: np.ndarray, max_rows: int, max_cols: int, n: _Notation
) -> tuple[list[list[str]], tuple[int, int]]:
    """Matrix cells as strings, cut to ``max_rows`` x ``max_cols`` with dots where elided."""
    matrix = values.reshape(values.shape[0], -1)
    rows, cols = matrix.shape
    row_idx, more_rows = _shown(rows, max_rows)
    col_idx, more_cols = _shown(cols, max_cols)
    grid = []
    for r in row_idx:
        row = [n.num(matrix[r, c]) for c in col_idx]
        if more_cols:
            row.append(_HDOTS)
        grid.append(row)
    if more_rows:
        grid.append([_VDOTS] * len(col_idx) + ([_DDOTS] if more_cols else []))
    return grid, (rows, cols)


def _write_forward(
    doc: _Document, net: MLP, trace: Trace, max_terms: int, max_neurons: int, title: str
) -> None:
    n = doc.m
    L = len(net.layers)
    x = trace.inputs[0]
    doc.heading(title, 1)
    doc.paragraph(
        doc.escape(
            f"The {_sizes(net)} network has {L} layer{'s' if L > 1 else ''} of neurons. "
            "Each neuron j of layer l computes "
        ),
        doc.inline(
            lambda i: (
                f"{i.sym('z', ['j'], 'l')} = {i.sum_symbol('k')} {i.sym('w', ['jk'], 'l')}"
                f"{i.juxtapose}{i.sym('a', ['k'], 'l-1')} + {i.sym('b', ['j'], 'l')}"
            )
        ),
        doc.escape(" and then "),
        doc.inline(
            lambda i: f"{i.sym('a', ['j'], 'l')} = {i.apply('sigmoid', i.sym('z', ['j'], 'l'))}"
        ),
        doc.escape(", starting from the input "),
        doc.inline(
            lambda i: f"x = {i.sym('a', (), 0)} = {i.vector([i.num(v) for v in x[:max_terms]])}"
        ),
        doc.escape(f" (+{x.size - max_terms} more inputs)." if x.size > max_terms else "."),
    )
    for l, layer in enumerate(net.layers, start=1):
        weights, bias, act = layer.weights, layer.bias, layer.activation
        a_prev = trace.activation(l - 1)[0]
        z, a = trace.z[l - 1][0], trace.a[l - 1][0]
        role = "output" if l == L else "hidden"
        doc.heading(
            f"Layer {l} ({role}): {_plural(layer.n_in, 'input')} -> "
            f"{_plural(layer.n_out, 'neuron')}, "
            f"activation {act.name}",
            2,
        )
        neurons, more_neurons = _shown(layer.n_out, max_neurons)
        inputs, more_inputs = _shown(layer.n_in, max_terms)
        chains: list[list[Any]] = []
        for j in neurons:
            symbolic = [
                n.sym("w", [j + 1, k + 1], l) + n.juxtapose + _layer_inputs(n, l, k + 1)
                for k in inputs
            ]
            numeric = [
                n.num(weights[j, k], paren=True) + n.times + n.num(a_prev[k], paren=True)
                for k in inputs
            ]
            if more_inputs:
                symbolic.append(n.more(more_inputs))
                numeric.append(n.more(more_inputs))
            symbolic.append(n.sym("b", [j + 1], l))
            numeric.append(n.num(bias[j], paren=True))
            z_sym = n.sym("z", [j + 1], l)
            chains.append([z_sym, n.sum(symbolic), n.sum(numeric), n.num(z[j])])
            a_sym = n.sym("a", [j + 1], l)
            if act.name == "identity":
                chains.append([a_sym, z_sym, n.num(a[j])])
            elif not act.elementwise:
                vector_z = n.sym("z", (), l)
                chains.append([a_sym, n.apply(act.name, vector_z) + "_" + str(j + 1), n.num(a[j])])
            else:
                chains.append(
                    [a_sym, n.apply(act.name, z_sym), n.apply(act.name, n.num(z[j])), n.num(a[j])]
                )
        doc.equations(chains)
        if more_neurons:
            doc.paragraph(
                doc.escape(f"... (+{more_neurons} more neurons, computed the same way: ")
                + doc.inline(lambda i, l=l, n_out=layer.n_out: i.sym("z", [n_out], l))
                + doc.escape(f" = {_format_number(z[-1], doc.precision)}, ")
                + doc.inline(lambda i, l=l, n_out=layer.n_out: i.sym("a", [n_out], l))
                + doc.escape(f" = {_format_number(a[-1], doc.precision)})")
            )
        # matrix form
        input_vec = (lambda i: "x") if l == 1 else (lambda i, l=l: i.sym("a", (), l - 1))
        shapes = (
            f"[{layer.n_out}x{layer.n_in}][{layer.n_in}x1] + [{layer.n_out}x1] = [{layer.n_out}x1]"
        )
        doc.paragraph(
            doc.escape("In matrix form, "),
            doc.inline(
                lambda i, l=l, iv=input_vec: (
                    f"{i.sym('W', (), l)}{i.juxtapose}{iv(i)} + "
                    f"{i.sym('b', (), l)} = {i.sym('z', (), l)}"
                )
            ),
            doc.escape(", then "),
            doc.inline(
                lambda i, l=l, act=act: (
                    f"{i.sym('a', (), l)} = "
                    + (
                        i.sym("z", (), l)
                        if act.name == "identity"
                        else i.apply(act.name, i.sym("z", (), l))
                    )
                )
            ),
            doc.escape("; shapes "),
            doc.inline(lambda i, s=shapes: s if not i.latex else s.replace("x", r" \times ")),
            doc.escape(":"),
        )
        arrow = (
            "="
            if act.name == "identity"
            else (
                rf"\xrightarrow{{{n.act_name(act.name)}}}"
                if n.latex
                else f"--{n.act_name(act.name)}-->"
            )
        )
        doc.matrices(
            [
                _grid(weights, max_neurons, max_terms, n),
                n.times.strip() if n.latex else "x",
                _grid(a_prev, max_terms, 1, n),
                "+",
                _grid(bias, max_neurons, 1, n),
                "=",
                _grid(z, max_neurons, 1, n),
                arrow,
                _grid(a, max_neurons, 1, n),
            ]
        )
    out = trace.output[0]
    outs, more_out = _shown(out.size, max_neurons)
    doc.paragraph(
        doc.escape("The network's output is "),
        doc.inline(
            lambda i: (
                f"{i.sym('y_hat')} = {i.sym('a', (), L)} = "
                + i.vector([i.num(out[j]) for j in outs] + ([i.dots(_HDOTS)] if more_out else []))
            )
        ),
        doc.escape("."),
    )


# =========================================================================== backward

# How each built-in activation's derivative is written (text, LaTeX), in terms of
# z_j or a_j of the same neuron; the value itself always comes from the engine.
_DERIVATIVE_FORMULAS: dict[str, tuple[str, str]] = {
    "sigmoid": ("{a}*(1 - {a})", r"{a}\left(1 - {a}\right)"),
    "tanh": ("1 - {a}^2", r"1 - \left({a}\right)^2"),
    "relu": ("(1 if {z} > 0 else 0)", r"\left(1 \text{ if } {z} > 0 \text{ else } 0\right)"),
    "identity": ("1", "1"),
    "softplus": ("sigma({z})", r"\sigma\left({z}\right)"),
    "leaky_relu": (
        "(1 if {z} > 0 else {slope})",
        r"\left(1 \text{ if } {z} > 0 \text{ else } {slope}\right)",
    ),
}

_LOSS_NAMES = {
    "mse": "mean squared error",
    "binary_cross_entropy": "binary cross-entropy",
    "categorical_cross_entropy": "categorical cross-entropy",
}


@dataclass
class BackwardPass:
    """One backpropagation step as the engine computed it.

    Attributes
    ----------
    net : MLP
        The network before the update (not modified).
    trace : Trace
        The forward pass of the batch.
    gradients : Gradients
        From ``net.backward(trace, y, loss)``: ``de/dW^(l)``, ``de/db^(l)`` (batch means)
        and each sample's ``delta^(l)``.
    targets : ndarray, shape (n_samples, n_outputs)
    loss : Loss
    learning_rate : float
    updated : MLP
        A copy of ``net`` after one ``SGD(learning_rate)`` step: ``w = w - eta de/dw``.
    output_gradient : ndarray
        Per-sample ``de/da^(L)`` from the loss.
    derivatives : list of ndarray
        ``sigma'(z^(l))`` of each layer from its activation.
    sample_errors : ndarray
        Each sample's error ``e_i``.
    """

    net: MLP
    trace: Trace
    gradients: Gradients
    targets: np.ndarray
    loss: _losses.Loss
    learning_rate: float
    updated: MLP
    output_gradient: np.ndarray
    derivatives: list[np.ndarray]
    sample_errors: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.trace.inputs.shape[0])

    @property
    def fused(self) -> bool:
        """Whether ``delta^(L) = a - y`` (the loss's derivative cancels ``sigma'``)."""
        return self.net.output_activation.name in self.loss.fused_with

    def render(
        self,
        format: str = "text",
        precision: int = 4,
        max_terms: int = 8,
        max_neurons: int = 6,
        max_samples: int = 4,
        color: bool | None = None,
        standalone: bool = True,
    ) -> str:
        """The explanation as a string; see :func:`backward` for the parameters."""
        _check_limits(precision, max_terms, max_neurons, max_samples)
        doc = _new_document(format, precision, color)
        title = f"Backward pass and one update of the {_sizes(self.net)} network"
        _write_backward(doc, self, max_terms, max_neurons, max_samples, title)
        return _finish(doc, title, standalone)


def backward_pass(
    net: MLP, x: Any, y: Any, loss: str | _losses.Loss = "mse", learning_rate: float = 0.5
) -> BackwardPass:
    """Run the engine's forward and backward pass and one SGD step (on a copy).

    Parameters
    ----------
    net : MLP
        Not modified.
    x : array of shape (n_inputs,) for one sample or (n_samples, n_inputs) for a mini-batch
    y : targets: a number or (n_outputs,) for one sample, (n_samples, n_outputs) for a batch
    loss : str or Loss
    learning_rate : float
        ``eta`` in ``w = w - eta de/dw``.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a formicary.MLP, got {type(net).__name__}")
    loss = _losses.get(loss)
    X = _as_sample(net, x)
    y_array = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if X.shape[0] == 1 and y_array.ndim <= 1:
        if y_array.size != net.n_outputs:
            raise ValueError(
                f"y has {y_array.size} value(s) but the output layer has {net.n_outputs} "
                "neuron(s); give one target per output neuron"
            )
        y_array = y_array.reshape(1, -1)
    trace = net.forward(X, trace=True)
    assert isinstance(trace, Trace)
    targets = check_targets(y_array, X.shape[0], net.n_outputs, trace.inputs.dtype, loss.name)
    gradients = net.backward(trace, targets, loss)
    updated = net.copy()
    SGD(learning_rate=learning_rate).step(updated.parameters(), gradients.flat())
    output_gradient = loss.gradient(trace.output, targets)
    derivatives = [
        layer.activation.gradient(z, a)
        for layer, z, a in zip(net.layers, trace.z, trace.a, strict=True)
    ]
    return BackwardPass(
        net=net,
        trace=trace,
        gradients=gradients,
        targets=targets,
        loss=loss,
        learning_rate=float(learning_rate),
        updated=updated,
        output_gradient=output_gradient,
        derivatives=derivatives,
        sample_errors=loss.per_sample(trace.output, targets),
    )


def backward(
    net: MLP,
    x: Any,
    y: Any,
    loss: str | _losses.Loss = "mse",
    learning_rate: float = 0.5,
    format: str = "text",
    precision: int = 4,
    max_terms: int = 8,
    max_neurons: int = 6,
    max_samples: int = 4,
    color: bool | None = None,
    standalone: bool = True,
) -> str:
    """Explain backpropagation and one gradient-descent update, with the engine's numbers.

    Shows the error ``e``, the output delta ``delta_j^(L)``, each hidden delta
    ``delta_j^(l) = (sum_k w_kj^(l+1) delta_k^(l+1)) sigma'(z_j^(l))``, the
    gradients ``de/dw_jk^(l) = delta_j^(l) a_k^(l-1)`` (for a mini-batch their mean
    over the samples) and the update ``w = w - eta de/dw`` with before and after values.
    The network itself is not changed.

    Parameters
    ----------
    net : MLP
    x : array of shape (n_inputs,) or (n_samples, n_inputs)
        One sample, or a mini-batch.
    y : array
        The target(s), one row per sample.
    loss : str or Loss
        ``"mse"`` (``e = 1/2 sum_k (a_k - y_k)^2``), ``"binary_cross_entropy"``, ...
    learning_rate : float
        ``eta``.
    format : {"text", "markdown", "latex"}
    precision : int
        Decimals shown.
    max_terms, max_neurons : int
        Limits on what is written out, as in :func:`forward`; ``max_terms`` also
        limits the terms of sums over samples.
    max_samples : int
        For a mini-batch: how many samples' deltas are written out.
    color : bool, optional
    standalone : bool
        For LaTeX: a complete document.
    """
    step = backward_pass(net, x, y, loss, learning_rate)
    return step.render(format, precision, max_terms, max_neurons, max_samples, color, standalone)


def _loss_equation(
    n: _Notation, step: BackwardPass, i: int, max_terms: int, sample: int | None
) -> list[Any]:
    """``e = 1/2 sum_k (a_k - y_k)^2 = 1/2 ((0.59 - 1.00)^2) = 0.0850`` for sample ``i``."""
    L = len(step.net.layers)
    a, y = step.trace.output[i], step.targets[i]
    outs, more = _shown(a.size, max_terms)
    e = n.sym("e", sample=sample)
    value = n.num(step.sample_errors[i])
    if step.loss.name == "mse":
        if n.latex:
            formula = r"\tfrac{1}{2}\sum_k \left(a_k^{(" + str(L) + r")} - y_k\right)^2"
            half = r"\tfrac{1}{2}"
        else:
            formula = f"1/2 sum_k (a_k^({L}) - y_k)^2"
            half = "1/2"
        terms = [f"({n.num(a[k])}{n.minus}{n.num(y[k], paren=True)})^2" for k in outs]
        if more:
            terms.append(n.more(more))
        return [e, formula, [half + " " + n.paren(piece) for piece in [" + ".join(terms)]], value]
    if step.loss.name == "binary_cross_entropy":
        log = r"\log" if n.latex else "log"
        formula = (
            rf"-\sum_k \left[y_k \log a_k^{{({L})}} + (1 - y_k) \log\left(1 - a_k^{{({L})}}\right)\right]"
            if n.latex
            else f"-sum_k [y_k log a_k^({L}) + (1 - y_k) log(1 - a_k^({L}))]"
        )
        terms = [
            f"{n.num(y[k])} {log} {n.num(a[k])} + (1 - {n.num(y[k])}) {log}(1 - {n.num(a[k])})"
            for k in outs
        ]
        if more:
            terms.append(n.more(more))
        return [e, formula, "-" + n.paren(" + ".join(terms)), value]
    if step.loss.name == "categorical_cross_entropy":
        log = r"\log" if n.latex else "log"
        formula = rf"-\sum_k y_k \log a_k^{{({L})}}" if n.latex else f"-sum_k y_k log a_k^({L})"
        terms = [f"{n.num(y[k])} {log} {n.num(a[k])}" for k in outs]
        if more:
            terms.append(n.more(more))
        return [e, formula, "-" + n.paren(" + ".join(terms)), value]
    return [e, value]


def _derivative_formula(n: _Notation, activation: Any, j: int, l: int, sample: int | None) -> str:
    formulas = _DERIVATIVE_FORMULAS.get(activation.name)
    if formulas is None:
        return ""
    template = formulas[1] if n.latex else formulas[0]
    slope = activation.params.get("slope", 0.0)
    return (
        template.replace("{a}", n.sym("a", [j], l, sample))
        .replace("{z}", n.sym("z", [j], l, sample))
        .replace("{slope}", f"{slope:g}")
    )


def _delta_chains(
    n: _Notation, step: BackwardPass, l: int, i: int, max_terms: int, max_neurons: int
) -> list[list[Any]]:
    """The equations for ``delta_j^(l)`` of sample ``i`` (layer ``l`` counted from 1)."""
    net = step.net
    L = len(net.layers)
    layer = net.layers[l - 1]
    act = layer.activation
    sample = i + 1 if step.n_samples > 1 else None
    delta = step.gradients.delta[l - 1][i]
    derivative = step.derivatives[l - 1][i]
    neurons, _ = _shown(layer.n_out, max_neurons)
    chains: list[list[Any]] = []
    for j in neurons:
        d_sym = n.sym("delta", [j + 1], l, sample)
        z_sym = n.sym("z", [j + 1], l, sample)
        a_sym = n.sym("a", [j + 1], l, sample)
        deriv_sym = n.derivative(act.name, z_sym)
        if l == L:
            y_sym = n.sym("y", [j + 1], sample=sample)
            a_val = step.trace.output[i, j]
            y_val = step.targets[i, j]
            if step.fused:
                chains.append(
                    [
                        d_sym,
                        a_sym + n.minus + y_sym,
                        n.num(a_val) + n.minus + n.num(y_val, paren=True),
                        n.num(delta[j]),
                    ]
                )
                continue
            if not act.elementwise:
                total = (
                    r"\sum_k \frac{\partial e}{\partial a_k} \frac{\partial a_k}{\partial z_"
                    + str(j + 1)
                    + "}"
                    if n.latex
                    else f"sum_k de/da_k * da_k/dz_{j + 1}"
                )
                chains.append([d_sym, total, n.num(delta[j])])
                continue
            grad_sym = n.partial(a_sym)
            grad_val = step.output_gradient[i, j]
            grad_chain: list[Any] = [grad_sym]
            if step.loss.name == "mse":
                grad_chain += [
                    a_sym + n.minus + y_sym,
                    n.num(a_val) + n.minus + n.num(y_val, paren=True),
                ]
            grad_chain.append(n.num(grad_val))
            chains.append(grad_chain)
        else:
            above = net.layers[l]  # layer l + 1
            next_delta = step.gradients.delta[l][i]
            ks, more = _shown(above.n_out, max_terms)
            symbolic = [
                n.sym("w", [k + 1, j + 1], l + 1)
                + n.juxtapose
                + n.sym("delta", [k + 1], l + 1, sample)
                for k in ks
            ]
            numeric = [
                n.num(above.weights[k, j], paren=True) + n.times + n.num(next_delta[k], paren=True)
                for k in ks
            ]
            if more:
                symbolic.append(n.more(more))
                numeric.append(n.more(more))
        formula = _derivative_formula(n, act, j + 1, l, sample)
        chains.append([deriv_sym, *([formula] if formula else []), n.num(derivative[j])])
        if l == L:
            chains.append(
                [
                    d_sym,
                    n.partial(a_sym) + n.juxtapose + deriv_sym,
                    n.num(step.output_gradient[i, j], paren=True)
                    + n.times
                    + n.num(derivative[j], paren=True),
                    n.num(delta[j]),
                ]
            )
        else:
            chains.append(
                [
                    d_sym,
                    n.paren(" + ".join(symbolic)) + n.juxtapose + deriv_sym,
                    n.paren(" + ".join(numeric)) + n.times + n.num(derivative[j], paren=True),
                    n.num(delta[j]),
                ]
            )
    return chains


def _write_backward(
    doc: _Document,
    step: BackwardPass,
    max_terms: int,
    max_neurons: int,
    max_samples: int,
    title: str,
) -> None:
    n = doc.m
    net = step.net
    L = len(net.layers)
    N = step.n_samples
    batch = N > 1
    samples, more_samples = _shown(N, max_samples)
    doc.heading(title, 1)
    loss_name = _LOSS_NAMES.get(step.loss.name, step.loss.name)
    doc.paragraph(
        doc.escape(f"Loss: {loss_name}. Learning rate "),
        doc.inline(lambda i: f"{i.sym('eta')} = {i.num(step.learning_rate)}"),
        doc.escape(
            f". {'A mini-batch of ' + str(N) + ' samples: each quantity of sample i carries [i], and the gradients are the mean over the batch.' if batch else 'One sample.'}"
        ),
    )

    # ---- forward summary and error
    doc.heading("1. Forward pass and error", 2)
    x_vals, more_x = _shown(net.n_inputs, max_terms)
    out_vals, more_out = _shown(net.n_outputs, max_neurons)

    def vec(values: np.ndarray, idx: range, more: int, nn: _Notation) -> str:
        return nn.vector([nn.num(values[k]) for k in idx] + ([nn.dots(_HDOTS)] if more else []))

    for i in samples:
        sample = i + 1 if batch else None

        doc.paragraph(
            doc.escape(f"Sample {i + 1}: " if batch else "The sample: "),
            doc.inline(
                lambda nn, i=i, sample=sample: (
                    f"{nn.sym('x', sample=sample)} = "
                    + vec(step.trace.inputs[i], x_vals, more_x, nn)
                )
            ),
            doc.escape(", target "),
            doc.inline(
                lambda nn, i=i, sample=sample: (
                    f"{nn.sym('y', sample=sample)} = "
                    + vec(step.targets[i], out_vals, more_out, nn)
                )
            ),
            doc.escape(", output "),
            doc.inline(
                lambda nn, i=i, sample=sample: (
                    f"{nn.sym('y_hat', sample=sample)} = "
                    f"{nn.sym('a', (), L, sample)} = "
                    + vec(step.trace.output[i], out_vals, more_out, nn)
                )
            ),
            doc.escape("."),
        )
    if more_samples:
        doc.paragraph(doc.escape(f"... (+{more_samples} more samples)"))
    chains = [_loss_equation(n, step, i, max_terms, i + 1 if batch else None) for i in samples]
    if batch:
        es, more_e = _shown(N, max_terms)
        terms = [n.num(step.sample_errors[i]) for i in es] + ([n.more(more_e)] if more_e else [])
        mean_sym = r"\frac{1}{N}\sum_i e[i]" if n.latex else "(1/N) sum_i e[i]"
        chains.append(
            [
                n.sym("e"),
                mean_sym,
                n.frac("1", str(N)) + n.juxtapose + n.paren(" + ".join(terms)),
                n.num(step.gradients.loss),
            ]
        )
    doc.equations(chains)

    # ---- deltas
    doc.heading("2. Deltas by the chain rule, from the output back", 2)
    for l in range(L, 0, -1):
        layer = net.layers[l - 1]
        act = layer.activation
        if l == L:
            doc.heading(f"Output layer {l}", 3)
            delta_def = doc.inline(
                lambda i, l=l: f"{i.sym('delta', ['j'], l)} = {i.partial(i.sym('z', ['j'], l))}"
            )
            chain_rule = doc.formula(
                f"de/da_j^({l}) * {_TEXT_NAMES.get(act.name, act.name) or 'id'}'(z_j^({l}))",
                rf"\frac{{\partial e}}{{\partial a_j^{{({l})}}}} "
                + doc.m.derivative(act.name, f"z_j^{{({l})}}"),
            )
            if step.fused:
                doc.paragraph(
                    delta_def,
                    doc.escape(f". With a {act.name} output and {loss_name}, the chain rule "),
                    chain_rule,
                    doc.escape(" simplifies to "),
                    doc.formula(f"a_j^({l}) - y_j", rf"a_j^{{({l})}} - y_j"),
                    doc.escape("."),
                )
            else:
                doc.paragraph(
                    delta_def, doc.escape(" by the chain rule: "), chain_rule, doc.escape(".")
                )
        else:
            above = net.layers[l]
            doc.heading(f"Hidden layer {l}", 3)
            doc.paragraph(
                doc.escape(
                    "Each hidden neuron collects the deltas of the layer above through its "
                    "outgoing weights: "
                ),
                doc.inline(
                    lambda i, l=l: (
                        rf"\delta_j^{{({l})}} = \left(\sum_k w_{{kj}}^{{({l + 1})}} \delta_k^{{({l + 1})}}\right) \sigma'\left(z_j^{{({l})}}\right)"
                        if i.latex
                        else f"delta_j^({l}) = (sum_k w_kj^({l + 1}) delta_k^({l + 1})) * sigma'(z_j^({l}))"
                    )
                ),
                doc.escape("; as matrices, "),
                doc.formula(
                    f"delta^({l}) = (W^({l + 1})^T delta^({l + 1})) * sigma'(z^({l}))",
                    rf"\delta^{{({l})}} = \left(W^{{({l + 1})T}} \delta^{{({l + 1})}}\right) "
                    rf"\odot \sigma'\left(z^{{({l})}}\right)",
                ),
                doc.escape(", shapes "),
                _shapes(doc, [(layer.n_out, above.n_out), (above.n_out, 1)], (layer.n_out, 1)),
                doc.escape("."),
            )
        for i in samples:
            doc.equations(_delta_chains(n, step, l, i, max_terms, max_neurons))
        if layer.n_out > max_neurons:
            doc.paragraph(
                doc.escape(
                    f"... (+{layer.n_out - max_neurons} more neurons, computed the same way)"
                )
            )

    # ---- gradients and update
    doc.heading("3. Gradients and the update", 2)
    doc.paragraph(
        doc.escape("Each weight moves against its gradient "),
        doc.formula(
            "de/dw_jk^(l) = delta_j^(l) a_k^(l-1)",
            r"\frac{\partial e}{\partial w_{jk}^{(l)}} = \delta_j^{(l)} a_k^{(l-1)}",
        ),
        doc.escape(" by the lecture's rule "),
        doc.formula(
            "w = w - eta de/dw, b = b - eta de/db",
            r"w = w - \eta \frac{\partial e}{\partial w},\ b = b - \eta \frac{\partial e}{\partial b}",
        ),
        doc.escape("; the tables list each parameter before and after."),
    )
    eta = step.learning_rate
    for l in range(1, L + 1):
        layer = net.layers[l - 1]
        after = step.updated.layers[l - 1]
        grad_w = step.gradients.weights[l - 1]
        grad_b = step.gradients.bias[l - 1]
        deltas = step.gradients.delta[l - 1]
        a_prev = step.trace.activation(l - 1)
        doc.heading(f"Layer {l}", 3)
        if batch:
            matrix_form = doc.formula(
                f"de/dW^({l}) = (1/N) Delta^({l})^T A^({l - 1})",
                rf"\frac{{\partial e}}{{\partial W^{{({l})}}}} = \frac{{1}}{{N}} "
                rf"\Delta^{{({l})T}} A^{{({l - 1})}}",
            )
            shapes = _shapes(doc, [(layer.n_out, N), (N, layer.n_in)], (layer.n_out, layer.n_in))
        else:
            matrix_form = doc.formula(
                f"de/dW^({l}) = delta^({l}) a^({l - 1})^T",
                rf"\frac{{\partial e}}{{\partial W^{{({l})}}}} = "
                rf"\delta^{{({l})}} a^{{({l - 1})T}}",
            )
            shapes = _shapes(doc, [(layer.n_out, 1), (1, layer.n_in)], (layer.n_out, layer.n_in))
        doc.paragraph(
            doc.escape("In matrix form "), matrix_form, doc.escape(", shapes "), shapes, "."
        )
        neurons, _ = _shown(layer.n_out, max_neurons)
        inputs, _ = _shown(layer.n_in, max_terms)
        es, more_e = _shown(N, max_terms)
        chains = []
        rows = []
        for j in neurons:
            for k in inputs:
                w_sym = n.sym("w", [j + 1, k + 1], l)
                g_sym = n.partial(w_sym)
                if batch:
                    terms = [
                        n.num(deltas[s, j], paren=True) + n.times + n.num(a_prev[s, k], paren=True)
                        for s in es
                    ] + ([n.more(more_e)] if more_e else [])
                    symbolic = (
                        rf"\frac{{1}}{{N}}\sum_i {n.sym('delta', [j + 1], l)}[i]\, {_layer_inputs(n, l, k + 1)}[i]"
                        if n.latex
                        else f"(1/N) sum_i {n.sym('delta', [j + 1], l)}[i]*{_layer_inputs(n, l, k + 1)}[i]"
                    )
                    numeric = [
                        n.frac("1", str(N)) + n.juxtapose + n.paren(p) for p in [" + ".join(terms)]
                    ]
                else:
                    symbolic = n.sym("delta", [j + 1], l) + n.juxtapose + _layer_inputs(n, l, k + 1)
                    numeric = (
                        n.num(deltas[0, j], paren=True) + n.times + n.num(a_prev[0, k], paren=True)
                    )
                chains.append([g_sym, symbolic, numeric, n.num(grad_w[j, k])])
                chains.append(
                    [
                        (w_sym, "<-"),
                        w_sym + n.minus + n.sym("eta") + n.juxtapose + g_sym,
                        n.num(layer.weights[j, k])
                        + n.minus
                        + n.num(eta)
                        + n.times
                        + n.num(grad_w[j, k], paren=True),
                        n.num(after.weights[j, k]),
                    ]
                )
                rows.append(
                    [
                        doc.inline(lambda i, j=j, k=k, l=l: i.sym("w", [j + 1, k + 1], l)),
                        doc.number(layer.weights[j, k]),
                        doc.number(grad_w[j, k]),
                        doc.number(after.weights[j, k]),
                    ]
                )
            b_sym = n.sym("b", [j + 1], l)
            gb_sym = n.partial(b_sym)
            if batch:
                terms = [n.num(deltas[s, j], paren=True) for s in es]
                terms += [n.more(more_e)] if more_e else []
                symbolic = (
                    rf"\frac{{1}}{{N}}\sum_i {n.sym('delta', [j + 1], l)}[i]"
                    if n.latex
                    else f"(1/N) sum_i {n.sym('delta', [j + 1], l)}[i]"
                )
                chains.append(
                    [
                        gb_sym,
                        symbolic,
                        n.frac("1", str(N)) + n.juxtapose + n.paren(" + ".join(terms)),
                        n.num(grad_b[j]),
                    ]
                )
            else:
                chains.append([gb_sym, n.sym("delta", [j + 1], l), n.num(grad_b[j])])
            chains.append(
                [
                    (b_sym, "<-"),
                    b_sym + n.minus + n.sym("eta") + n.juxtapose + gb_sym,
                    n.num(layer.bias[j])
                    + n.minus
                    + n.num(eta)
                    + n.times
                    + n.num(grad_b[j], paren=True),
                    n.num(after.bias[j]),
                ]
            )
            rows.append(
                [
                    doc.inline(lambda i, j=j, l=l: i.sym("b", [j + 1], l)),
                    doc.number(layer.bias[j]),
                    doc.number(grad_b[j]),
                    doc.number(after.bias[j]),
                ]
            )
        doc.equations(chains)
        skipped = layer.parameter_count - len(rows)
        if skipped:
            doc.paragraph(
                doc.escape(f"... (+{skipped} more parameters of layer {l}, updated the same way)")
            )
        doc.table([doc.escape(h) for h in ("parameter", "before", "de/dparam", "after")], rows)
    doc.paragraph(
        doc.escape(
            f"After the step the error on {'this batch' if batch else 'this sample'} is "
            f"{_format_number(step.updated.loss(step.trace.inputs, step.targets, step.loss), doc.precision)} "
            f"(it was {_format_number(step.gradients.loss, doc.precision)})."
        )
    )


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)
