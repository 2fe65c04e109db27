"""The ``formicary`` command line (extra ``formicary[cli]``).

Each group of commands lives in its own module and adds itself to the one
Typer application in :mod:`formicary.cli.app`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``formicary`` command.

    Usage errors (an unknown option, a bad choice) are reported like every other bad
    input: one line on stderr and exit code 2, with a pointer to ``--help``.
    """
    try:
        import typer

        from formicary.cli.app import build_app
    except ImportError as exc:  # typer/rich/pandas missing
        print(
            f"error: the formicary command line needs its extra ({exc.name} is not installed); "
            "install it with: pip install 'formicary[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    command = typer.main.get_command(build_app())
    try:
        result = command.main(args=argv, prog_name="formicary", standalone_mode=False)
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as exc:
        # Click's usage errors (typer vendors Click in recent releases, so match by interface)
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        message = " ".join(exc.format_message().split())
        if not message:  # no arguments at all: the help was shown, which is what was asked
            raise SystemExit(0) from None
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"error: {message}{hint}", file=sys.stderr)
        raise SystemExit(2 if exc.exit_code == 2 else exc.exit_code) from None
    raise SystemExit(result if isinstance(result, int) else 0)
