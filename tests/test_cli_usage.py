"""Usage errors (unknown commands, bad option values) follow the CLI's bad-input rule."""

import subprocess
import sys

import pytest

pytest.importorskip("typer")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "formicary", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["train", "--task", "foo"], "--task"),
        (["train", "--epochs", "many"], "--epochs"),
        (["info"], "Missing argument"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args, expected):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "--help" in lines[0]
    assert "Traceback" not in result.stderr


def test_no_arguments_shows_the_help():
    result = run()
    assert result.returncode == 0
    assert "train" in result.stdout and "explain" in result.stdout and "playground" in result.stdout
