"""Model files: one ``.npz`` archive of arrays plus JSON metadata, never pickle.

Layout of the archive:

* ``metadata``: UTF-8 JSON as a ``uint8`` array: ``{"format": "formicary",
  "format_version": 1, "formicary_version": ..., "dtype": ..., "layers":
  [{"n_in", "n_out", "activation": {"name", "params"}}], "history": ...,
  "extra": {...}}``;
* ``weights_<l>`` and ``bias_<l>`` for each layer ``l = 1..L``.

Saving writes a temporary file in the target folder, flushes it to disk and
renames it over the target, so a crash never leaves a half-written model.
Loading uses ``allow_pickle=False`` and checks every piece before building the
network, with one clear error per kind of bad file.
"""

from __future__ import annotations

import itertools
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import activations as _activations
from formicary.atomic import atomic_path, check_target

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "save"]

FORMAT = "formicary"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a readable Formicary model (corrupted, foreign, or too new)."""


def _metadata(net: MLP, extra: dict[str, Any] | None) -> dict[str, Any]:
    from formicary import __version__

    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "formicary_version": __version__,
        "dtype": net.dtype.name,
        "layers": [
            {"n_in": layer.n_in, "n_out": layer.n_out, "activation": layer.activation.spec}
            for layer in net.layers
        ],
        "history": net.history.as_dict() if net.history is not None else None,
        "extra": {**net.metadata, **(extra or {})},
    }
    return meta


def save(net: MLP, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
    """Write ``net`` to ``path`` atomically; returns the path.

    Parameters
    ----------
    net : MLP
    path : str or Path
        Written exactly as given (no extension is added).
    extra : dict, optional
        JSON-serialisable information to keep with the model (preprocessing,
        class names, ...); read back as ``net.metadata``.
    """
    path = check_target(path)
    try:
        text = json.dumps(_metadata(net, extra), allow_nan=True)
    except TypeError as exc:
        raise TypeError(f"extra metadata must be JSON-serialisable: {exc}") from exc
    arrays: dict[str, np.ndarray] = {
        "metadata": np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
    }
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"weights_{l}"] = layer.weights
        arrays[f"bias_{l}"] = layer.bias
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    return path


def _fail(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(f"{path}: {problem}")


def read_metadata(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The checked metadata and arrays of a model file (without building the network)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not zipfile.is_zipfile(path):
        size = path.stat().st_size
        raise _fail(
            path,
            "is empty, not a Formicary model file"
            if size == 0
            else "is not a Formicary model file (not an .npz archive), or it is truncated",
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise _fail(path, f"is truncated or corrupted ({exc})") from exc
    if "metadata" not in arrays:
        raise _fail(path, "is an .npz archive but not a Formicary model (it has no metadata)")
    raw = arrays.pop("metadata")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _fail(path, "has metadata of the wrong kind; it is not a Formicary model")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"has corrupted metadata ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, "is not a Formicary model file (its metadata names another format)")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise _fail(path, "has no valid format_version; the file is corrupted")
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"was written in model format version {version} by Formicary "
            f"{meta.get('formicary_version', '?')}, newer than this Formicary reads "
            f"(format {FORMAT_VERSION}); upgrade formicary to load it",
        )
    if version < 1:
        raise _fail(path, f"has an unknown format_version {version}")
    return meta, arrays


def load(path: str | os.PathLike[str]) -> MLP:
    """Read a network written by :func:`save`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError (a ValueError)
        Empty, truncated, corrupted, foreign or newer-format files, saying which.
    """
    from formicary.layers import Dense
    from formicary.network import MLP
    from formicary.training import History

    path = Path(path)
    meta, arrays = read_metadata(path)
    try:
        dtype = np.dtype(meta["dtype"])
        specs = meta["layers"]
        if dtype not in (np.float32, np.float64) or not isinstance(specs, list) or not specs:
            raise KeyError("dtype/layers")
    except (KeyError, TypeError) as exc:
        raise _fail(path, f"has incomplete metadata (missing {exc})") from exc
    layers = []
    for l, spec in enumerate(specs, start=1):
        try:
            n_in, n_out, act_spec = int(spec["n_in"]), int(spec["n_out"]), spec["activation"]
            weights, bias = arrays[f"weights_{l}"], arrays[f"bias_{l}"]
        except (KeyError, TypeError, ValueError) as exc:
            raise _fail(path, f"is corrupted: layer {l} is incomplete (missing {exc})") from exc
        if weights.shape != (n_out, n_in) or bias.shape != (n_out,):
            raise _fail(
                path,
                f"is corrupted: layer {l} should hold a {n_out}x{n_in} weight matrix and "
                f"{n_out} biases but holds {weights.shape} and {bias.shape}",
            )
        if weights.dtype != dtype or bias.dtype != dtype:
            raise _fail(path, f"is corrupted: layer {l} arrays are not {dtype.name}")
        if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
            raise _fail(path, f"is corrupted: layer {l} holds NaN or inf parameters")
        try:
            activation = _activations.get(act_spec)
        except ValueError as exc:
            name = act_spec.get("name") if isinstance(act_spec, dict) else act_spec
            raise _fail(
                path,
                f"uses activation {name!r}, which is not registered here; register it with "
                "formicary.activations.register before loading",
            ) from exc
        layers.append(Dense(n_in, n_out, activation, weights=weights, bias=bias, dtype=dtype))
    for prev, nxt in itertools.pairwise(layers):
        if prev.n_out != nxt.n_in:
            raise _fail(path, "is corrupted: consecutive layer sizes do not match")
    net = MLP(layers)
    extra = meta.get("extra")
    net.metadata = dict(extra) if isinstance(extra, dict) else {}
    history = meta.get("history")
    if isinstance(history, dict):
        try:
            net.history = History.from_dict(history)
        except TypeError:
            net.history = None
    return net
