"""``formicary explain``, ``prove`` and ``plot``: the demos run with no arguments, end to end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import formicary as fc
from formicary import explain
from formicary.cli import main

NUMBER = r"-?\d+\.\d+"


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "formicary", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def run_inline(capsys, *args: str) -> tuple[int, str, str]:
    """The same command in this process (for the many small error cases)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_demo_shows_the_lecture_forward_and_backward_pass():
    result = run("explain")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out  # piped: no colour codes
    assert "z_1^(1) = w_11^(1)*x_1 + w_12^(1)*x_2 + w_13^(1)*x_3 + b_1^(1)" in out
    assert "a_1^(1) = sigma(z_1^(1)) = sigma(0.53) = 0.63" in out
    assert "[2x3][3x1] + [2x1] = [2x1]" in out
    # the backward pass, with the engine's numbers
    net, x, y = explain.lecture_example()
    trace = net.forward(x.reshape(1, -1), trace=True)
    grads = net.backward(trace, y.reshape(1, 1), "mse")
    delta = re.search(rf"^  delta_1\^\(2\) = .* = ({NUMBER})$", out, flags=re.M)
    assert delta and abs(float(delta.group(1)) - grads.delta[1][0, 0]) <= 5e-5
    update = re.search(rf"^  w_11\^\(1\) <- .* = ({NUMBER})$", out, flags=re.M)
    expected = net.w(1, 1, 1) - 0.5 * grads.weights[0][0, 0]
    assert update and abs(float(update.group(1)) - expected) <= 5e-5


def test_prove_demo_runs_all_three_proofs():
    result = run("prove")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "z_1^(2) = (w_11^(2)*w_11^(1) + w_12^(2)*w_21^(1))*x_1" in out
    assert "= w_1*x_1 + w_2*x_2 + w_3*x_3 + b" in out
    assert "verified" in out
    rows = re.findall(
        r"^\s+(xor|circles)\s+2-8-1 (sigmoid|relu)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M
    )
    assert len(rows) == 4
    for _, _, nonlinear, identity, logistic, best in rows:
        assert float(nonlinear) >= 0.95
        assert float(identity) <= float(best) and float(logistic) <= float(best)


def test_plot_demo_writes_pngs_to_a_folder(tmp_path):
    result = run("plot", "--epochs", "40", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "formicary-plots"
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "activations.png",
        "history.png",
        "decision_boundary.png",
        "network.png",
        "hidden_neurons.png",
    }
    for name in names:
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
        assert f"wrote formicary-plots/{name}" in result.stdout


def test_bad_input_is_one_line_on_stderr_with_exit_code_2(tmp_path):
    result = run("explain", "--input", "1,2")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "3 inputs" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("explain", "--format", "pdf"), "--format must be one of"),
        (("explain", "--input", "a,b,c"), "must be numbers"),
        (("explain", "--part", "backward", "--input", "1,2,3"), "needs the target"),
        (("explain", "--input", "1,2,3;4,5,6", "--part", "forward"), "one sample"),
        (("explain", "--input", "1,2,3", "--target", "1;0"), "--target 2"),
        (("explain", "--precision", "0"), "precision"),
        (("prove", "--sizes", "3,x"), "--sizes"),
        (("prove", "--sizes", "100,50,50,10", "--no-empirical"), "too many"),
        (("plot", "--data", "nope", "--epochs", "1"), "unknown data set"),
        (("explain", "missing.npz", "--input", "1"), "missing.npz"),
    ],
)
def test_errors(capsys, args, message):
    code, out, err = run_inline(capsys, *args)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1


def test_explain_a_saved_model_with_a_mini_batch(capsys, tmp_path):
    net = fc.MLP([2, 3, 1], activation="relu", output_activation="sigmoid", seed=4)
    path = tmp_path / "net.npz"
    net.save(path)
    code, out, err = run_inline(
        capsys,
        "explain",
        str(path),
        "--input",
        "0.5,-1;1,2",
        "--target",
        "1;0",
        "--part",
        "backward",
        "--loss",
        "binary_cross_entropy",
        "--no-color",
    )
    assert code == 0, err
    assert "A mini-batch of 2 samples" in out
    assert "delta_1^(2)[2] = a_1^(2)[2] - y_1[2]" in out
    trace = net.forward(np.array([[0.5, -1.0], [1.0, 2.0]]), trace=True)
    grads = net.backward(trace, np.array([[1.0], [0.0]]), "binary_cross_entropy")
    shown = re.search(rf"^  de/db_1\^\(2\) = .*?({NUMBER})$", out, flags=re.M)
    assert shown and abs(float(shown.group(1)) - grads.bias[1][0]) <= 5e-5


def test_explain_markdown_and_latex_to_files(capsys, tmp_path):
    md = tmp_path / "lecture.md"
    code, out, _ = run_inline(capsys, "explain", "--format", "markdown", "--output", str(md))
    assert code == 0 and "wrote the explanation" in out
    text = md.read_text()
    assert "```math" in text and "| `w_11^(1)` |" in text
    tex = tmp_path / "lecture.tex"
    code, _, _ = run_inline(capsys, "explain", "--format", "latex", "-o", str(tex))
    assert code == 0
    source = tex.read_text()
    assert source.count(r"\begin{document}") == 1 and source.rstrip().endswith(r"\end{document}")
    assert "Forward pass through the 3-2-1 network" in source
    assert "Backward pass and one update" in source
    if shutil.which("pdflatex"):
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-2000:]


def test_prove_collapses_a_saved_linear_model_and_refuses_a_non_linear_one(capsys, tmp_path):
    linear = fc.MLP([3, 4, 2], activation="identity", seed=0)
    linear.save(tmp_path / "linear.npz")
    code, out, err = run_inline(capsys, "prove", "--model", str(tmp_path / "linear.npz"))
    assert code == 0, err
    assert "collapses into one Dense layer: 3 inputs -> 2 neurons" in out
    difference = float(re.search(r"differ by at most (\S+)\.", out).group(1))
    assert difference < 1e-12
    fc.MLP([3, 4, 2], activation="tanh", seed=0).save(tmp_path / "tanh.npz")
    code, _, err = run_inline(capsys, "prove", "--model", str(tmp_path / "tanh.npz"))
    assert code == 2 and "non-linear activation 'tanh'" in err


def test_plot_a_saved_model(capsys, tmp_path):
    net = fc.MLP([2, 4, 1], activation="relu", output_activation="sigmoid", seed=0)
    net.save(tmp_path / "net.npz")
    code, _, err = run_inline(
        capsys, "plot", "--model", str(tmp_path / "net.npz"), "-o", str(tmp_path / "pics")
    )
    assert code == 0, err
    names = {p.name for p in (tmp_path / "pics").iterdir()}
    assert names == {
        "network.png",
        "activations.png",
        "decision_boundary.png",
        "hidden_neurons.png",
    }
