"""The playground: watch a Formicary network learn in the browser (extra ``formicary[web]``).

:mod:`formicary.playground.session` holds one browser tab's training state (NumPy
only); :mod:`formicary.playground.server` is the Starlette app that streams it
over a WebSocket; ``static/`` holds the page, shipped inside the package.
Start it with ``formicary playground``.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")

__all__ = ["STATIC_DIR"]
