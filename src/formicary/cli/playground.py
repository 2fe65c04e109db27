"""``formicary playground``: the browser playground on a local web server (extra ``web``)."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser

import typer

from formicary.cli.common import CLIError, handle_errors, require

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _bind(port: int | None) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port=None``: 8765 when free, else any free port)."""
    if port is not None and not 0 <= port <= 65535:
        raise CLIError(f"--port must be between 0 and 65535 (0 picks a free port), got {port}")
    candidates = [DEFAULT_PORT, 0] if port is None else [port]
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            if port is None and exc.errno == errno.EADDRINUSE:
                continue
            if exc.errno == errno.EADDRINUSE:
                raise CLIError(
                    f"port {candidate} on {HOST} is already in use; choose another with "
                    "--port, or --port 0 to pick a free one"
                ) from None
            raise CLIError(f"cannot listen on {HOST}:{candidate}: {exc.strerror}") from None
        sock.listen(128)
        return sock
    raise CLIError("no free port found on 127.0.0.1")  # pragma: no cover


def _single_threaded_blas() -> None:
    """One BLAS thread: the playground's matrices are small, and several threads waiting
    on each other for a 64 x 64 product cost far more than they save (10x slower on a
    busy 2-core machine). Needs threadpoolctl; without it NumPy's default stays."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def register(app: typer.Typer) -> None:
    """Add the ``playground`` command to the Typer ``app``."""

    @app.command()
    @handle_errors
    def playground(
        port: int | None = typer.Option(
            None,
            "--port",
            "-p",
            help=f"Port on 127.0.0.1 (default {DEFAULT_PORT}, or a free one if taken; 0 = any free port).",
            show_default=False,
        ),
        no_browser: bool = typer.Option(
            False, "--no-browser", help="Only print the address; do not open a browser."
        ),
    ) -> None:
        """Watch a network learn in your browser: data, layers, live equations, decision boundary.

        The server listens on 127.0.0.1 only; every tab trains its own network.
        Stop it with Ctrl-C.
        """
        uvicorn = require("uvicorn", "web")
        require("starlette", "web")
        require("websockets", "web")
        from formicary.playground.server import create_app

        _single_threaded_blas()
        sock = _bind(port)
        address = f"http://{HOST}:{sock.getsockname()[1]}/"
        config = uvicorn.Config(create_app(), log_level="warning", ws="auto", lifespan="off")
        server = uvicorn.Server(config)
        print(f"Formicary playground running at {address}  (press Ctrl-C to stop)", flush=True)
        if not no_browser:
            threading.Timer(0.5, webbrowser.open, args=[address]).start()
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
