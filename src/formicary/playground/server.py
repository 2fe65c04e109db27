"""The playground's web server: a Starlette app streaming training frames over a WebSocket.

Routes
------
``GET /``
    The page (``static/index.html``); every asset is served from the package.
``WS /ws``
    One training :class:`~formicary.playground.session.Session` per connection
    (so per browser tab). The protocol is JSON text messages:

    server -> page: ``hello`` (session id, choices, limits), ``setup`` (settings,
    points, layer sizes; after a rebuild), ``frame`` (epoch, losses, weights,
    heatmaps, the selected neuron's numbers; numbered by ``seq``), ``config``
    (the settings in force, after a rejected change), ``error`` (``message``
    and ``kind``: ``input``, ``diverged`` or ``internal``).

    page -> server: ``config`` (``settings``: some or all of
    :class:`~formicary.playground.session.Config`), ``play``, ``pause``,
    ``step`` (one batch), ``reset``, ``select`` (``layer``, ``neuron``,
    optional ``point``), ``upload`` (``name``, ``text`` of a CSV, optional ``id``
    echoed as ``upload`` in the ``setup`` that accepts it), ``ack``
    (``seq`` of a frame drawn).

    While playing, at most :data:`WINDOW` frames are in flight unacknowledged,
    so a slow page never builds a queue; frames come at most
    :data:`MAX_FPS` times a second.
``GET /api/sessions/{id}/model.fcy``
    The session's network as a Formicary model file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
from typing import Any
from urllib.parse import urlsplit

try:
    import anyio.to_thread
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        f"the playground needs {exc.name}; install it with: pip install 'formicary[web]'"
    ) from exc

import contextlib

from formicary import __version__
from formicary.playground import STATIC_DIR
from formicary.playground.session import (
    ACTIVATIONS,
    DATASETS,
    LIMITS,
    OPTIMIZERS,
    Config,
    Session,
)
from formicary.training import TrainingDivergedError

__all__ = ["MAX_FPS", "WINDOW", "create_app"]

WINDOW = 2
MAX_FPS = 30.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")

logger = logging.getLogger("formicary.playground")


def _clean(value: Any) -> Any:
    """Replace non-finite floats by ``None`` so the JSON stays valid for the browser."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dumps(message: dict[str, Any]) -> str:
    try:
        return json.dumps(message, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_clean(message), allow_nan=False, separators=(",", ":"))


class Connection:
    """One WebSocket: its session, its trainer task and the frame flow control."""

    def __init__(self, websocket: WebSocket, session_id: str) -> None:
        self.websocket = websocket
        self.session_id = session_id
        self.session = Session()
        self.lock = asyncio.Lock()  # guards the session (training runs in a worker thread)
        self._send_lock = asyncio.Lock()
        self._acked = asyncio.Condition()
        self.sent = 0
        self.acked = 0
        self.trainer: asyncio.Task[None] | None = None
        self.set_up = False  # has the page had a ``setup`` message yet?

    # ------------------------------------------------------------------ sending
    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(_dumps(message))

    async def send_frame(self, frame: dict[str, Any]) -> None:
        self.sent += 1
        frame["seq"] = self.sent
        await self.send(frame)

    async def send_error(self, message: str, kind: str = "input") -> None:
        await self.send({"type": "error", "kind": kind, "message": message})

    # ------------------------------------------------------------------ training
    async def _wait_for_window(self) -> None:
        async with self._acked:
            await self._acked.wait_for(
                lambda: self.sent - self.acked < WINDOW or not self.session.playing
            )

    async def train(self) -> None:
        """Advance and send frames while playing, paced by the page's acknowledgements."""
        loop = asyncio.get_running_loop()
        while self.session.playing:
            await self._wait_for_window()
            started = loop.time()
            error = None
            async with self.lock:
                if not self.session.playing:
                    break
                error, frame = await anyio.to_thread.run_sync(self._advance)
            if error:
                await self.send_error(error, kind="diverged")
            await self.send_frame(frame)
            await asyncio.sleep(max(0.0, 1.0 / MAX_FPS - (loop.time() - started)))

    def _advance(self) -> tuple[str | None, dict[str, Any]]:
        """Train one chunk and describe the result (in a worker thread: the loop stays free)."""
        try:
            self.session.advance()
        except TrainingDivergedError as exc:
            return str(exc), self.session.frame()
        return None, self.session.frame()

    def _start_training(self) -> None:
        self.session.playing = True
        if self.trainer is None or self.trainer.done():
            self.trainer = asyncio.create_task(self._guarded_train())

    async def _guarded_train(self) -> None:
        try:
            await self.train()
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug: tell the page, keep serving
            logger.exception("playground training failed")
            self.session.playing = False
            await self.send_error(f"internal error while training: {exc}", kind="internal")

    async def _wake(self) -> None:
        async with self._acked:
            self._acked.notify_all()

    # ------------------------------------------------------------------ messages
    async def handle(self, message: dict[str, Any]) -> None:
        """React to one message from the page."""
        kind = message.get("type")
        if kind == "ack":
            seq = message.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                self.acked = max(self.acked, min(seq, self.sent))
                await self._wake()
            return
        if kind == "play":
            self._start_training()
            return
        if kind == "pause":
            self.session.playing = False
            await self._wake()
            async with self.lock:
                frame = self.session.frame()
            await self.send_frame(frame)
            return
        replies: list[dict[str, Any]] = []
        error = None
        async with self.lock:
            session = self.session
            try:
                if kind == "config":
                    if session.apply(message.get("settings") or {}) or not self.set_up:
                        replies.append(session.setup())
                    else:
                        replies.append({"type": "config", "config": session.config.to_dict()})
                elif kind == "step":
                    session.playing = False
                    try:
                        await anyio.to_thread.run_sync(lambda: session.advance(single=True))
                    except TrainingDivergedError as exc:
                        error = ("diverged", str(exc))
                elif kind == "reset":
                    session.reset()
                    replies.append(session.setup())
                elif kind == "select":
                    session.select(
                        message.get("layer"), message.get("neuron"), message.get("point")
                    )
                elif kind == "upload":
                    text = message.get("text")
                    if not isinstance(text, str):
                        raise ValueError("upload needs the CSV file's text")
                    session.load_csv(text, str(message.get("name") or "upload.csv"))
                    upload_id = message.get("id")
                    accepted = upload_id if isinstance(upload_id, (int, str)) else None
                    replies.append({**session.setup(), "upload": accepted})
                else:
                    raise ValueError(f"unknown message type {kind!r}")
            except (ValueError, TypeError) as exc:
                error = ("input", str(exc))
                replies = [{**session.setup(), "reset": False}]
            frame = session.frame()
        if error:
            await self.send_error(error[1], kind=error[0])
        self.set_up = self.set_up or any(r["type"] == "setup" for r in replies)
        for reply in replies:
            await self.send(reply)
        await self.send_frame(frame)
        if session.playing:
            self._start_training()

    async def close(self) -> None:
        self.session.playing = False
        if self.trainer is not None:
            self.trainer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.trainer


def _hello(session_id: str) -> dict[str, Any]:
    return {
        "type": "hello",
        "session": session_id,
        "version": __version__,
        "defaults": Config().to_dict(),
        "datasets": {
            name: {"task": task, "noise": noise, "description": text}
            for name, (task, noise, text) in DATASETS.items()
        },
        "activations": list(ACTIVATIONS),
        "optimizers": list(OPTIMIZERS),
        "limits": LIMITS,
    }


def _local_origin(origin: str | None) -> bool:
    """Only pages served from this machine may drive the engine."""
    if not origin:
        return True
    host = urlsplit(origin).hostname or ""
    return host in LOCAL_HOSTS or host == "testserver"


def create_app() -> Starlette:
    """The playground as an ASGI application (each call has its own sessions)."""
    connections: dict[str, Connection] = {}

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def download(request: Request) -> Response:
        connection = connections.get(request.path_params["session_id"])
        if connection is None:
            return PlainTextResponse(
                "no such session: a session ends when its browser tab closes", status_code=404
            )
        async with connection.lock:
            data = connection.session.model_bytes()
            filename = connection.session.model_filename()
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def websocket_endpoint(websocket: WebSocket) -> None:
        if not _local_origin(websocket.headers.get("origin")):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        session_id = secrets.token_urlsafe(12)
        connection = Connection(websocket, session_id)
        connections[session_id] = connection
        try:
            await connection.send(_hello(session_id))
            while True:
                text = await websocket.receive_text()
                try:
                    message = json.loads(text)
                    if not isinstance(message, dict):
                        raise ValueError("a message is a JSON object with a 'type'")
                except ValueError as exc:
                    await connection.send_error(f"unreadable message: {exc}")
                    continue
                try:
                    await connection.handle(message)
                except WebSocketDisconnect:
                    raise
                except Exception as exc:  # a bug: report it, keep the server and the tab alive
                    logger.exception("playground message failed")
                    await connection.send_error(f"internal error: {exc}", kind="internal")
        except WebSocketDisconnect:
            pass
        finally:
            connections.pop(session_id, None)
            await connection.close()

    routes = [
        Route("/", index),
        Route("/api/sessions/{session_id}/model.fcy", download),
        WebSocketRoute("/ws", websocket_endpoint),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.connections = connections
    return app
