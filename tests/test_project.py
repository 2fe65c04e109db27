"""Project hygiene: lint, formatting, version, README commands and .ci/run agree."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import formicary as fc

ROOT = Path(__file__).resolve().parents[1]


def ruff() -> str:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(found).exists():
        pytest.skip("ruff is not installed (it comes with the test extra)")
    return found


def test_ruff_check_is_clean():
    result = subprocess.run([ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = subprocess.run(
        [ruff(), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_version_is_exposed():
    assert re.fullmatch(r"\d+\.\d+\.\d+", fc.__version__)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^    (python3 -m venv .*)$", readme, flags=re.MULTILINE)
    assert len(commands) == 2, "the README gives exactly two set-up commands"
    assert commands[0].endswith("formicary train")
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README_TEST_COMMAND" in ci


def test_the_xor_example_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "xor.py")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "y_hat" in result.stdout and "gradient check" in result.stdout


def test_the_core_imports_nothing_but_numpy():
    script = (
        "import sys, formicary, formicary.streaming, formicary.explain, formicary.proof;"
        "optional = ('pandas', 'pyarrow', 'sklearn', 'scipy', 'matplotlib', 'sympy', 'typer',"
        " 'rich', 'torch', 'onnx', 'onnxruntime', 'dask', 'starlette', 'tqdm');"
        "print(sorted(m for m in optional if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
