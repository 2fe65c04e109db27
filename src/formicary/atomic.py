"""Atomic file writes: a crash never leaves a half-written file behind.

Everything Formicary writes (models, ONNX graphs, predictions, metrics) goes to a
temporary file in the target's folder first; only when it is complete and flushed to
disk is it renamed over the target, which the operating system does in one step.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_target"]


def check_target(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` whose folder exists and which is not itself a folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary file is flushed to disk before the rename. If the body raises
    (or is interrupted), the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with atomic_path("model.fcy") as temporary:  # doctest: +SKIP
    ...     temporary.write_bytes(data)
    """
    path = check_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
