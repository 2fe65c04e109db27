"""The ``formicary`` command line (extra ``formicary[cli]``).

Each group of commands lives in its own module and adds itself to the one
Typer application in :mod:`formicary.cli.app`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``formicary`` command."""
    try:
        from formicary.cli.app import build_app
    except ImportError as exc:  # typer/rich/pandas missing
        print(
            f"error: the formicary command line needs its extra ({exc.name} is not installed); "
            "install it with: pip install 'formicary[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    app = build_app()
    app(args=argv, prog_name="formicary")
