"""The explanations print the engine's numbers, in the lecture's notation, in three formats.

Every test reads the numbers back out of the rendered text and compares them with
an independent call of the engine (``net.forward(trace=True)``, ``net.backward``),
so the text cannot drift from the maths. A displayed number with ``d`` decimals must
be within half a unit of its last place of the true value.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formicary as fc
from formicary import explain, proof

NUMBER = r"-?\d+\.\d+(?:e[+-]\d+)?"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ----------------------------------------------------------------------------- helpers


def tolerance(shown: str) -> float:
    """Half a unit in the last displayed place of ``shown`` (``0.53``, ``3.12e-05``)."""
    mantissa, _, exponent = shown.strip("()").partition("e")
    decimals = len(mantissa.split(".")[1])
    return 0.5 * 10.0 ** (-decimals) * 10.0 ** int(exponent or 0)


def assert_shows(shown: str, value: float) -> None:
    shown = shown.strip().strip("()")
    assert re.fullmatch(NUMBER, shown), f"not a number: {shown!r}"
    error = abs(float(shown) - float(value))
    assert error <= tolerance(shown) * (1 + 1e-9) + 1e-15, f"{shown} shown for {value!r}"


def parse_chains(text: str) -> list[list[str]]:
    """Equation chains of the text format: ``[lhs, side_1, side_2, ...]``."""
    chains: list[list[str]] = []
    for raw in ANSI.sub("", text).splitlines():
        body = raw.strip()
        if not raw.startswith("  ") or body.startswith("["):
            continue
        if raw[2] != " ":
            match = re.match(r"(.+?) (=|<-) (.*)$", body)
            if match:
                lhs, _, rest = match.groups()
                chains.append([lhs, *rest.split(" = ")])
        elif body.startswith("= ") and chains:
            chains[-1].extend(body[2:].split(" = "))
        elif body.startswith("+ ") and chains:
            chains[-1][-1] += " " + body
    return chains


def chain(chains: list[list[str]], lhs: str) -> list[str]:
    found = [c for c in chains if c[0] == lhs]
    assert len(found) == 1, f"{lhs}: {len(found)} chains"
    return found[0]


def terms(side: str) -> list[list[str]]:
    """``"0.20*1.00 + (-0.08)*(-1.00) + 0.05"`` -> ``[["0.20","1.00"], ["-0.08","-1.00"], ["0.05"]]``."""
    out = []
    for term in side.split(" + "):
        if term.startswith("..."):
            out.append(["..."])
            continue
        out.append([f.strip("()") for f in term.split("*")])
    return out


def random_net(draw_sizes: list[int], acts: list[str], output: str, seed: int) -> fc.MLP:
    return fc.MLP(draw_sizes, activation=acts, output_activation=output, seed=seed)


# ----------------------------------------------------------------------------- forward


def check_forward_text(net: fc.MLP, x: np.ndarray, text: str) -> int:
    """Compare every z/a chain of ``text`` with the engine; returns how many were checked."""
    trace = net.forward(np.asarray(x, dtype=net.dtype).reshape(1, -1), trace=True)
    chains = parse_chains(text)
    checked = 0
    for c in chains:
        match = re.fullmatch(r"([za])_(\d+)\^\((\d+)\)", c[0])
        if not match:
            continue
        kind, j, l = match.group(1), int(match.group(2)), int(match.group(3))
        if kind == "z":
            numeric = terms(c[2])
            products = [t for t in numeric if len(t) == 2]
            for k, (w, a) in enumerate(products, start=1):
                assert_shows(w, net.w(l, j, k))
                assert_shows(a, trace.activation(l - 1)[0, k - 1])
            assert_shows(numeric[-1][0], net.b(l, j))
            assert_shows(c[-1], trace.z[l - 1][0, j - 1])
        else:
            assert_shows(c[-1], trace.a[l - 1][0, j - 1])
            argument = re.search(rf"\(({NUMBER})\)$", c[-2])
            if argument:  # a_j = f(z_j) = f(0.53) = 0.63: the argument is z_j
                assert_shows(argument.group(1), trace.z[l - 1][0, j - 1])
        checked += 1
    return checked


def test_forward_reproduces_the_lecture_lines():
    net, x, _ = explain.lecture_example()
    text = explain.forward(net, x, color=False)
    assert (
        "z_1^(1) = w_11^(1)*x_1 + w_12^(1)*x_2 + w_13^(1)*x_3 + b_1^(1)\n"
        "          = 0.20*1.00 + 0.40*0.50 + (-0.08)*(-1.00) + 0.05\n"
        "          = 0.53"
    ) in text
    assert "a_1^(1) = sigma(z_1^(1)) = sigma(0.53) = 0.63" in text
    assert "z_1^(2) = w_11^(2)*a_1^(1) + w_12^(2)*a_2^(1) + b_1^(2)" in text
    assert "[2x3][3x1] + [2x1] = [2x1]" in text
    assert "[1x2][2x1] + [1x1] = [1x1]" in text
    assert check_forward_text(net, x, text) == 6  # z and a of 2 + 1 neurons


def test_forward_matrix_form_shows_the_engine_matrices():
    net, x, _ = explain.lecture_example()
    text = explain.forward(net, x, color=False)
    trace = net.forward(x.reshape(1, -1), trace=True)
    matrix_lines = [line for line in text.splitlines() if line.strip().startswith("[")]
    first = [re.findall(NUMBER, part) for part in matrix_lines[0].split("]")[:-1]]
    # row 1 of layer 1: W^(1) row, x_1, b_1, z_1, a_1
    for shown, value in zip(first[0], net.layers[0].weights[0], strict=True):
        assert_shows(shown, value)
    assert_shows(first[1][0], x[0])
    assert_shows(first[2][0], net.layers[0].bias[0])
    assert_shows(first[3][0], trace.z[0][0, 0])
    assert_shows(first[4][0], trace.a[0][0, 0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    act=st.sampled_from(["sigmoid", "relu", "tanh", "identity", "softplus", "leaky_relu", "gelu"]),
    output=st.sampled_from(["identity", "sigmoid", "tanh"]),
    precision=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_forward_numbers_match_the_engine_for_random_networks(sizes, act, output, precision, seed):
    net = random_net(sizes, [act] * (len(sizes) - 2), output, seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, size=sizes[0])
    text = explain.forward(net, x, precision=precision, color=False)
    assert check_forward_text(net, x, text) == 2 * sum(sizes[1:])


def test_large_layers_are_summarised():
    net = fc.MLP([300, 12, 1], activation="relu", seed=1)
    x = np.linspace(-1, 1, 300)
    text = explain.forward(net, x, max_terms=8, max_neurons=6, color=False)
    assert "... (+292 more terms)" in text
    assert "(+6 more neurons" in text
    chains = parse_chains(text)
    z_layer1 = [c for c in chains if re.fullmatch(r"z_\d+\^\(1\)", c[0])]
    assert len(z_layer1) == 6
    assert check_forward_text(net, x, text) == 2 * 6 + 2
    # the matrix form is cut as well: 6 rows shown, then a row of dots
    assert "[12x300][300x1] + [12x1] = [12x1]" in text


def test_forward_needs_one_sample_and_valid_options():
    net, x, _ = explain.lecture_example()
    with pytest.raises(ValueError, match="one sample"):
        explain.forward(net, np.vstack([x, x]))
    with pytest.raises(ValueError, match="3"):
        explain.forward(net, [1.0, 2.0])
    with pytest.raises(ValueError, match="format"):
        explain.forward(net, x, format="pdf")
    with pytest.raises(ValueError, match="precision"):
        explain.forward(net, x, precision=0)
    with pytest.raises(ValueError, match="max_terms"):
        explain.forward(net, x, max_terms=0)
    with pytest.raises(TypeError, match="MLP"):
        explain.forward("not a network", x)


def test_float32_network_is_explained_in_its_own_precision():
    net, x, _ = explain.lecture_example()
    net.astype("float32")
    text = explain.forward(net, x.astype(np.float32), precision=5, color=False)
    assert check_forward_text(net, x, text) == 6


# ----------------------------------------------------------------------------- backward


def check_backward_text(net, X, Y, loss, eta, text):
    """Compare deltas, gradients, updates and the error with an independent engine call."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    trace = net.forward(X, trace=True)
    grads = net.backward(trace, Y, loss)
    batch = X.shape[0] > 1
    chains = parse_chains(text)
    seen = {"delta": 0, "dw": 0, "db": 0, "w": 0, "b": 0, "e": 0}
    suffix = r"(?:\[(\d+)\])?"
    for c in chains:
        lhs = c[0]
        if m := re.fullmatch(rf"delta_(\d+)\^\((\d+)\){suffix}", lhs):
            j, l, i = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
            assert_shows(c[-1], grads.delta[l - 1][i - 1, j - 1])
            seen["delta"] += 1
        elif m := re.fullmatch(r"de/dw_(\d)(\d)\^\((\d+)\)", lhs):
            j, k, l = map(int, m.groups())
            assert_shows(c[-1], grads.weights[l - 1][j - 1, k - 1])
            a_prev = trace.activation(l - 1)
            products = [t for t in terms(c[-2].split("*(", 1)[-1].rstrip(")")) if len(t) == 2]
            if not batch:
                products = [t for t in terms(c[-2]) if len(t) == 2]
            for i, (d, a) in enumerate(products):
                assert_shows(d, grads.delta[l - 1][i, j - 1])
                assert_shows(a, a_prev[i, k - 1])
            assert len(products) == X.shape[0]
            seen["dw"] += 1
        elif m := re.fullmatch(r"de/db_(\d)\^\((\d+)\)", lhs):
            j, l = map(int, m.groups())
            assert_shows(c[-1], grads.bias[l - 1][j - 1])
            seen["db"] += 1
        elif m := re.fullmatch(r"([wb])_(\d+)\^\((\d+)\)", lhs):
            kind, idx, l = m.group(1), m.group(2), int(m.group(3))
            before, rest = c[-2].split(" - ", 1)
            rate, gradient = rest.split("*", 1)
            if kind == "w":
                j, k = int(idx[0]), int(idx[1])
                old, g = net.w(l, j, k), grads.weights[l - 1][j - 1, k - 1]
            else:
                j = int(idx)
                old, g = net.b(l, j), grads.bias[l - 1][j - 1]
            assert_shows(before, old)
            assert_shows(rate, eta)
            assert_shows(gradient, g)
            assert_shows(c[-1], old - eta * g)  # w = w - eta de/dw, computed here
            seen[kind] += 1
        elif lhs == "e":
            assert_shows(c[-1], grads.loss)
            seen["e"] += 1
    return seen


def test_backward_one_sample_of_the_lecture_network():
    net, x, y = explain.lecture_example()
    before = net.get_parameters()
    text = explain.backward(net, x, y, loss="mse", learning_rate=0.5, color=False)
    seen = check_backward_text(net, x, y, "mse", 0.5, text)
    assert seen == {"delta": 3, "dw": 8, "db": 3, "w": 8, "b": 3, "e": 1}
    # the explanation leaves the network as it was
    for a, b in zip(before, net.get_parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    chains = parse_chains(text)
    # the output delta by the chain rule: de/da = a - y, sigma'(z) = a(1 - a)
    trace = net.forward(x.reshape(1, -1), trace=True)
    a = trace.output[0, 0]
    grad = chain(chains, "de/da_1^(2)")
    assert grad[1] == "a_1^(2) - y_1"
    assert_shows(grad[-1], a - y[0])
    derivative = chain(chains, "sigma'(z_1^(2))")
    assert_shows(derivative[-1], a * (1 - a))
    delta = chain(chains, "delta_1^(2)")
    assert delta[1] == "de/da_1^(2)*sigma'(z_1^(2))"
    # a hidden delta: (w_11^(2) delta_1^(2)) sigma'(z_1^(1))
    hidden = chain(chains, "delta_1^(1)")
    assert hidden[1] == "(w_11^(2)*delta_1^(2))*sigma'(z_1^(1))"
    w, d = re.findall(NUMBER, hidden[2])[:2]
    assert_shows(w, net.w(2, 1, 1))
    grads = net.backward(trace, y.reshape(1, 1), "mse")
    assert_shows(d, grads.delta[1][0, 0])
    assert chain(chains, "de/dw_11^(2)")[1] == "delta_1^(2)*a_1^(1)"
    assert chain(chains, "de/dw_11^(1)")[1] == "delta_1^(1)*x_1"


def test_backward_mini_batch_gradients_are_the_mean_over_samples():
    rng = np.random.default_rng(3)
    net = fc.MLP([3, 4, 2], activation="tanh", output_activation="identity", seed=3)
    X = rng.normal(size=(3, 3))
    Y = rng.normal(size=(3, 2))
    text = explain.backward(net, X, Y, learning_rate=0.1, max_samples=3, color=False)
    seen = check_backward_text(net, X, Y, "mse", 0.1, text)
    assert seen["delta"] == 3 * (4 + 2)  # every sample's deltas
    assert seen["dw"] == 4 * 3 + 2 * 4 and seen["db"] == 6
    assert "(1/3)*(" in text
    assert "+ -" not in text and "- -" not in text  # negative terms are parenthesised
    assert "[2x3][3x4] = [2x4]" in text  # de/dW^(2) = (1/N) Delta^T A


def test_backward_fused_output_delta_is_a_minus_y():
    net = fc.MLP([2, 3, 1], activation="relu", output_activation="sigmoid", seed=5)
    x, y = np.array([0.3, -0.7]), np.array([1.0])
    text = explain.backward(net, x, y, loss="binary_cross_entropy", color=False)
    check_backward_text(net, x, y, "binary_cross_entropy", 0.5, text)
    delta = chain(parse_chains(text), "delta_1^(2)")
    assert delta[1] == "a_1^(2) - y_1"
    out = net.forward(x.reshape(1, -1))[0, 0]
    a_shown, y_shown = delta[2].split(" - ")
    assert_shows(a_shown, out)
    assert_shows(y_shown, 1.0)
    assert "ReLU'(z_1^(1)) = (1 if z_1^(1) > 0 else 0)" in text


def test_backward_softmax_and_cross_entropy():
    net = fc.MLP([2, 3, 3], activation="sigmoid", output_activation="softmax", seed=2)
    X = np.array([[0.5, -0.5], [1.0, 2.0]])
    Y = np.eye(3)[[0, 2]]
    text = explain.backward(net, X, Y, loss="categorical_cross_entropy", color=False)
    seen = check_backward_text(net, X, Y, "categorical_cross_entropy", 0.5, text)
    assert seen["e"] == 1 and seen["delta"] == 2 * (3 + 3)


def test_backward_limits_and_bad_targets():
    net = fc.MLP([20, 10, 1], seed=0)
    x = np.ones(20)
    text = explain.backward(net, x, [0.5], max_terms=3, max_neurons=2, color=False)
    assert "(+" in text and "more parameters of layer 1" in text
    with pytest.raises(ValueError, match="one target per output neuron"):
        explain.backward(net, x, [1.0, 2.0])
    with pytest.raises(ValueError, match="learning_rate"):
        explain.backward(net, x, [1.0], learning_rate=0)


# ----------------------------------------------------------------------------- colour


def test_colour_only_when_asked_or_on_a_terminal(monkeypatch):
    net, x, y = explain.lecture_example()
    plain = explain.forward(net, x, color=False)
    coloured = explain.forward(net, x, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert explain.strip_ansi(coloured) == plain
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[" not in explain.backward(net, x, y)  # pytest's stdout is not a TTY
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in explain.forward(net, x)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in explain.forward(net, x)


# ----------------------------------------------------------------------------- markdown


def render_markdown(text: str):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    return md.parse(text), md.render(text)


def test_markdown_renders_with_tables_and_math_blocks():
    net, x, y = explain.lecture_example()
    text = explain.backward(net, x, y, format="markdown")
    tokens, html = render_markdown(text)
    assert "<h2>" in html and "<table>" in html
    fences = [t for t in tokens if t.type == "fence"]
    assert fences and all(t.info == "math" for t in fences)
    # the parameter tables: before, de/dparam, after, against the engine
    trace = net.forward(x.reshape(1, -1), trace=True)
    grads = net.backward(trace, y.reshape(1, 1), "mse")
    rows = re.findall(r"\| `([wb])_(\d+)\^\((\d)\)` \| (\S+) \| (\S+) \| (\S+) \|", text)
    assert len(rows) == net.parameter_count
    for kind, idx, l, before, gradient, after in rows:
        l = int(l)
        if kind == "w":
            old, g = (
                net.w(l, int(idx[0]), int(idx[1])),
                grads.weights[l - 1][int(idx[0]) - 1, int(idx[1]) - 1],
            )
        else:
            old, g = net.b(l, int(idx)), grads.bias[l - 1][int(idx) - 1]
        assert_shows(before, old)
        assert_shows(gradient, g)
        assert_shows(after, old - 0.5 * g)
    for fence in fences:
        check_latex_structure(fence.content, math=True)


def test_markdown_forward_math_has_the_engine_numbers():
    net, x, _ = explain.lecture_example()
    text = explain.forward(net, x, format="markdown")
    tokens, _ = render_markdown(text)
    math = "\n".join(t.content for t in tokens if t.type == "fence")
    trace = net.forward(x.reshape(1, -1), trace=True)
    results = re.findall(rf"^&= ({NUMBER})(?: \\\\)?$", math, flags=re.M)
    results += re.findall(rf"= ({NUMBER})(?: \\\\)?$", math, flags=re.M)
    expected = [trace.z[0][0, 0], trace.a[0][0, 0], trace.z[1][0, 0], trace.a[1][0, 0]]
    for value in expected:
        assert any(abs(float(r) - value) <= tolerance(r) for r in results), value
    assert (
        r"z_{1}^{(1)} &= w_{11}^{(1)} x_{1} + w_{12}^{(1)} x_{2} + w_{13}^{(1)} x_{3} + b_{1}^{(1)}"
        in math
    )


# ----------------------------------------------------------------------------- latex

KNOWN_MACROS = {
    "documentclass",
    "usepackage",
    "allowdisplaybreaks",
    "setcounter",
    "begin",
    "end",
    "noindent",
    "textbf",
    "Large",
    "large",
    "section",
    "subsection",
    "subsubsection",
    "frac",
    "partial",
    "cdot",
    "sigma",
    "delta",
    "Delta",
    "hat",
    "eta",
    "left",
    "right",
    "sum",
    "tfrac",
    "times",
    "text",
    "underbrace",
    "cdots",
    "vdots",
    "ddots",
    "xrightarrow",
    "leftarrow",
    "rightarrow",
    "quad",
    "mathrm",
    "tanh",
    "log",
    "odot",
    "hline",
    "textless",
    "textgreater",
    "\\",
    "{",
    "}",
    "_",
    ",",
    " ",
    "&",
    "%",
    "#",
    "$",
    "textbackslash",
    "textasciicircum",
    "textasciitilde",
}
KNOWN_ENVIRONMENTS = {"document", "align*", "aligned", "bmatrix", "center", "tabular"}


def check_latex_structure(source: str, math: bool = False) -> None:
    """Balanced braces and environments, known commands only, no double sub/superscripts.

    A tokenizer of our own always runs; pylatexenc's strict parser runs too when it
    is installed (it comes with the test extra).
    """
    if math:
        source = r"\[" + source + r"\]"
    macros = set(re.findall(r"\\([A-Za-z]+|.)", source))
    # braces balance (escaped ones aside) and environments nest properly
    depth = 0
    for char in re.sub(r"\\[{}]", "", source):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, "a } closes nothing"
    assert depth == 0, "unclosed {"
    stack: list[str] = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", source):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} does not match"
    assert not stack, f"unclosed environments {stack}"
    environments = set(re.findall(r"\\begin\{([^}]*)\}", source))
    try:
        from pylatexenc.latexwalker import (
            LatexEnvironmentNode,
            LatexGroupNode,
            LatexMacroNode,
            LatexMathNode,
            LatexWalker,
        )
    except ImportError:  # pragma: no cover - the test extra installs it
        pass
    else:
        nodes, _, _ = LatexWalker(source, tolerant_parsing=False).get_latex_nodes()

        def walk(items):
            for node in items or []:
                if isinstance(node, LatexMacroNode):
                    macros.add(node.macroname)
                    if node.nodeargd is not None:
                        walk([a for a in node.nodeargd.argnlist if a is not None])
                elif isinstance(node, LatexEnvironmentNode):
                    environments.add(node.environmentname)
                    walk(node.nodelist)
                elif isinstance(node, (LatexGroupNode, LatexMathNode)):
                    walk(node.nodelist)

        walk(nodes)
    macros -= {"[", "]", "(", ")"}  # display and inline math delimiters
    assert macros <= KNOWN_MACROS, macros - KNOWN_MACROS
    assert environments <= KNOWN_ENVIRONMENTS, environments - KNOWN_ENVIRONMENTS
    assert len(re.findall(r"\\left(?![a-z])", source)) == len(
        re.findall(r"\\right(?![a-z])", source)
    )
    assert not re.search(r"\^(\{[^{}]*\}|\w)\s*\^", source), "double superscript"
    assert not re.search(r"_(\{[^{}]*\}|\w)\s*_", source), "double subscript"


def compile_latex(source: str, tmp_path) -> None:
    (tmp_path / "doc.tex").write_text(source)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def latex_samples():
    net, x, y = explain.lecture_example()
    batch = fc.MLP([12, 9, 3], activation="relu", output_activation="softmax", seed=0)
    X = np.random.default_rng(0).normal(size=(5, 12))
    return {
        "forward": explain.forward(net, x, format="latex"),
        "backward": explain.backward(net, x, y, format="latex"),
        "large": explain.forward(batch, X[0], format="latex", max_terms=4, max_neurons=3) + "",
        "batch": explain.backward(
            batch,
            X,
            np.eye(3)[[0, 1, 2, 0, 1]],
            loss="categorical_cross_entropy",
            format="latex",
            max_terms=3,
            max_neurons=2,
            max_samples=2,
        ),
        "proof": proof.symbolic((3, 2, 1)).render(format="latex"),
    }


def test_latex_is_well_formed():
    for name, source in latex_samples().items():
        assert source.startswith(r"\documentclass"), name
        assert source.rstrip().endswith(r"\end{document}"), name
        check_latex_structure(source)
    net, x, _ = explain.lecture_example()
    body = explain.forward(net, x, format="latex", standalone=False)
    assert r"\documentclass" not in body
    assert (
        r"z_{1}^{(1)} &= w_{11}^{(1)} x_{1} + w_{12}^{(1)} x_{2} + w_{13}^{(1)} x_{3} + b_{1}^{(1)}"
        in body
    )
    assert r"\sigma(0.53) = 0.63" in body
    assert r"\end{bmatrix}_{2 \times 3}" in body


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_with_pdflatex(tmp_path):
    sources = latex_samples()
    combined = explain.latex_document(
        [
            sources[name].split(r"\begin{document}")[1].rsplit(r"\end{document}")[0]
            for name in ("forward", "backward", "large", "batch", "proof")
        ],
        "All samples",
    )
    compile_latex(combined, tmp_path)


# ----------------------------------------------------------------------------- notebook view


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self._cell = tag in ("td", "th")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = False

    def handle_data(self, data):
        if self._cell and self.rows:
            self.rows[-1].append(data)


def test_notebook_html_view_shows_the_summary():
    net = fc.MLP([3, 2, 1], activation="relu", output_activation="sigmoid", seed=0)
    html = net._repr_html_()
    parser = _Table()
    parser.feed(html)
    header, *layers = [r for r in parser.rows if r]
    assert header[0] == "layer"
    assert len(layers) == 3  # input, hidden, output
    assert layers[1][1:] == ["2×3", "2", "relu", "8"]
    assert layers[2][1:] == ["1×2", "1", "sigmoid", "3"]
    assert "MLP 3-2-1" in html and "total parameters: 11" in html


@pytest.mark.parametrize(
    "broken",
    [
        r"\begin{align*} z &= 1 \end{align}",  # mismatched environment
        r"\frac{1}{2",  # unclosed brace
        r"z_{1}^{(1)}^{2}",  # double superscript
        r"\sigmoid(z)",  # not a LaTeX command
        r"\left( z",  # \left without \right
    ],
)
def test_the_latex_check_rejects_broken_sources(broken):
    with pytest.raises(AssertionError):
        check_latex_structure(broken, math=True)
