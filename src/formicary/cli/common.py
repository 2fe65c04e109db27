"""Conventions shared by every command: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BAD_INPUT = 2


class CLIError(Exception):
    """An error whose message is shown to the user as it is (one line, exit code 2)."""


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2."""
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {text}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def handle_errors(function: F) -> F:
    """Turn the library's documented errors into one line on stderr and exit code 2.

    ``ValueError``, ``TypeError``, ``FileNotFoundError``, ``IsADirectoryError``,
    ``PermissionError``, ``ImportError`` (a missing extra) and :class:`CLIError`
    are reported; Ctrl-C exits with 130; anything else is a bug and propagates.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (CLIError, ValueError, TypeError) as exc:
            fail(str(exc))
        except FileNotFoundError as exc:
            fail(str(exc) if exc.filename is None else f"{exc.filename}: no such file")
        except (IsADirectoryError, PermissionError) as exc:
            fail(str(exc))
        except ImportError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper  # type: ignore[return-value]


def require(module: str, extra: str) -> Any:
    """Import an optional dependency or fail with the ``pip install`` line that brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        fail(f"this command needs {module}; install it with: pip install 'formicary[{extra}]'")
