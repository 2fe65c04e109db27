"""Out-of-core training: learn from data that does not fit in memory, one chunk at a time.

The maths is the core's: every mini-batch goes through :meth:`MLP.train_step`
(forward pass, backpropagation, ``w = w - eta de/dw`` or the optimizer's rule).
What changes is where the batches come from. A *stream* yields ``(X, y)``
chunks of rows; batches are cut from the chunks and, with ``shuffle=True``,
mixed in a bounded shuffle buffer, so memory is bounded by

    (buffer_size + chunk_size) rows

whatever the size of the data set. Sources:

* a ``.npy`` file path, or an ``np.memmap``/``np.load(..., mmap_mode="r")``
  array: windows of ``chunk_size`` rows are read from the file (only the
  window is ever mapped or resident), in a random window order each epoch;
* an in-memory array (chunks are views of it);
* a CSV or Parquet file, read ``chunk_size`` rows at a time with pandas/pyarrow
  (``target=`` names the target column);
* an iterable of ``(X, y)`` (or ``(X, y, sample_weight)``) chunks: a list, any
  object whose ``__iter__`` starts again, or a function returning a fresh
  iterator (a *factory*) for every epoch. A bare generator can be read once,
  so it serves a single epoch only.

Shuffling is two-level: random-access sources visit their windows in a new
random order every epoch, and rows are mixed within a buffer of
``buffer_size`` rows (when full, the buffer is permuted and half of it is
emitted as batches; the other half waits and mixes with the next chunks).
With ``shuffle=False`` the batches are exactly rows ``[0, B)``, ``[B, 2B)``,
... across chunk boundaries, the same batches that in-memory
``net.fit(X, y, shuffle=False)`` takes.
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from formicary import losses as _losses
from formicary import metrics as _metrics
from formicary import optimizers as _optimizers
from formicary.callbacks import Callback, EarlyStopping
from formicary.training import (
    EpochTally,
    History,
    _Progress,
    finish,
    interrupted,
    prepare_kernels,
    run_hooks,
)
from formicary.validation import as_float_array, check_finite, check_targets

if TYPE_CHECKING:
    from formicary.network import MLP

__all__ = [
    "ChunkStream",
    "evaluate_stream",
    "feature_statistics",
    "fit_stream",
    "is_stream",
    "open_stream",
    "predict_stream",
]

#: Bytes of input rows read per chunk when ``chunk_size`` is not given.
DEFAULT_CHUNK_BYTES = 4 * 2**20
#: The shuffle buffer holds this many chunks' worth of rows by default.
DEFAULT_BUFFER_CHUNKS = 4

TABLE_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
Chunk = tuple[Any, Any, Any]


# =========================================================================== sources


class ChunkStream:
    """A re-readable source of ``(X, y, sample_weight)`` chunks (use :func:`open_stream`).

    Attributes
    ----------
    n_samples : int or None
        Rows in the whole source, when known without reading it.
    n_features : int or None
        Columns of ``X``, when known without reading it.
    random_access : bool
        Whether chunks can be visited in any order (files and arrays), which
        shuffling uses.
    description : str
        What the stream reads, for messages.
    """

    n_samples: int | None = None
    n_features: int | None = None
    random_access: bool = False
    description: str = "stream"
    has_targets: bool = True

    def chunks(self, rng: np.random.Generator | None = None) -> Iterator[Chunk]:
        """The raw chunks of one pass; a random chunk order when ``rng`` is given and supported."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _chunk_rows(chunk_size: int | None, row_bytes: int) -> int:
    if chunk_size is not None:
        return _positive_int(chunk_size, "chunk_size")
    return max(1, DEFAULT_CHUNK_BYTES // max(row_bytes, 1))


class _Windows:
    """Row windows ``[start, stop)`` of a 2-D (or 1-D) array held in memory or in a file."""

    def __init__(
        self,
        array: np.ndarray | None,
        name: str,
        path: Path | None = None,
        offset: int = 0,
        shape: tuple[int, ...] = (),
        dtype: np.dtype | None = None,
        order: str = "C",
    ) -> None:
        self.name = name
        self.array = array
        self.path = path
        self.offset = offset
        if array is not None:
            self.shape, self.dtype = array.shape, array.dtype
        else:
            self.shape, self.dtype = tuple(shape), np.dtype(dtype)
            if order != "C" and len(self.shape) > 1:
                raise ValueError(
                    f"{path} stores a Fortran-ordered (column-major) array, which cannot be read "
                    "row window by row window; save it with np.save(path, np.ascontiguousarray(X))"
                )
        if self.dtype.fields is not None or self.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} holds {self.dtype} values; streaming needs a plain numeric array"
            )
        if len(self.shape) not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D but has shape {self.shape}")
        self.n_rows = int(self.shape[0])
        self.row_items = int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1
        self.row_bytes = self.row_items * self.dtype.itemsize

    @classmethod
    def of(cls, data: Any, name: str) -> _Windows:
        """Windows over a path to a ``.npy`` file, a memory map, or an array-like."""
        if isinstance(data, (str, os.PathLike)):
            return cls.from_npy(Path(data), name)
        if isinstance(data, np.memmap):
            source = _memmap_file(data)
            if source is not None:
                path, offset = source
                return cls(None, name, path, offset, data.shape, data.dtype)
            return cls(data, name)
        if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):
            data = data.to_numpy()
        return cls(np.asarray(data), name)

    @classmethod
    def from_npy(cls, path: Path, name: str) -> _Windows:
        """Read only the header of a ``.npy`` file; rows are read later, window by window."""
        if not path.exists():
            raise FileNotFoundError(f"{name} file {path} does not exist")
        if path.is_dir():
            raise IsADirectoryError(f"{name} path {path} is a folder; give a .npy file")
        fmt = np.lib.format
        with open(path, "rb") as stream:
            try:
                version = fmt.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = fmt.read_array_header_2_0(stream)
                else:
                    shape, fortran, dtype = fmt._read_array_header(stream, version)
            except ValueError as exc:
                raise ValueError(f"{path} is not a readable .npy file: {exc}") from exc
            offset = stream.tell()
        expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if path.stat().st_size < expected:
            raise ValueError(
                f"{path} is truncated: its header promises {shape} {dtype} values "
                f"({expected} bytes) but the file has {path.stat().st_size} bytes"
            )
        return cls(None, name, path, offset, shape, dtype, "F" if fortran else "C")

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)``: a view of an in-memory array or a fresh array read from the file."""
        if self.array is not None:
            return self.array[start:stop]
        assert self.path is not None
        rows = stop - start
        out = np.empty((rows, *self.shape[1:]), dtype=self.dtype)
        with open(self.path, "rb") as stream:
            stream.seek(self.offset + start * self.row_bytes)
            got = stream.readinto(memoryview(out).cast("B"))
        if got != rows * self.row_bytes:
            raise ValueError(f"{self.path} ended early while reading rows {start}..{stop}")
        if not self.dtype.isnative:
            out = out.astype(self.dtype.newbyteorder("="))
        return out


def _memmap_file(array: np.memmap) -> tuple[Path, int] | None:
    """``(path, byte offset)`` when ``array`` is a whole, C-ordered map of a file region.

    Reading such a map's windows straight from the file keeps only one window
    resident; slices of maps and copy-on-write maps are read through the map.
    """
    filename = getattr(array, "filename", None)
    if (
        filename is None
        or not isinstance(array.base, mmap.mmap)
        or not array.flags.c_contiguous
        or array.mode not in ("r", "r+", "w+")
        or not Path(filename).is_file()
    ):
        return None
    return Path(filename), int(array.offset)


class ArrayStream(ChunkStream):
    """Chunks of ``chunk_size`` rows of arrays, memory maps or ``.npy`` files (random access)."""

    random_access = True

    def __init__(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        chunk_size: int | None = None,
        target: int | None = None,
    ) -> None:
        self.X = _Windows.of(X, "X")
        self.target = None
        if target is not None:
            if y is not None:
                raise ValueError("give y or target (a column of X), not both")
            if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
                raise TypeError(
                    f"for arrays and .npy files target is a column index such as -1, got {target!r}"
                )
            if len(self.X.shape) != 2 or not -self.X.shape[1] <= target < self.X.shape[1]:
                raise ValueError(f"target column {target} is outside X of shape {self.X.shape}")
            self.target = int(target) % self.X.shape[1]
        self.y = _Windows.of(y, "y") if y is not None else None
        self.sample_weight = (
            _Windows.of(sample_weight, "sample_weight") if sample_weight is not None else None
        )
        self.has_targets = self.y is not None or self.target is not None
        for other in (self.y, self.sample_weight):
            if other is not None and other.n_rows != self.X.n_rows:
                raise ValueError(
                    f"X has {self.X.n_rows} rows but {other.name} has {other.n_rows}; "
                    "they must have one row per sample"
                )
        self.n_samples = self.X.n_rows
        width = self.X.shape[1] if len(self.X.shape) == 2 else None
        self.n_features = None if width is None else width - (self.target is not None)
        self.chunk_size = _chunk_rows(chunk_size, self.X.row_bytes)
        where = f"file {self.X.path}" if self.X.path is not None else "array"
        self.description = f"{where}, {self.n_samples} rows in chunks of {self.chunk_size}"

    def chunks(self, rng: np.random.Generator | None = None) -> Iterator[Chunk]:
        starts = np.arange(0, self.n_samples, self.chunk_size)
        if rng is not None:
            starts = rng.permutation(starts)
        for start in starts.tolist():
            stop = min(start + self.chunk_size, self.n_samples)
            X = self.X.read(start, stop)
            if self.target is not None:
                y = X[:, self.target]
                X = np.delete(X, self.target, axis=1)
            else:
                y = self.y.read(start, stop) if self.y is not None else None
            w = self.sample_weight.read(start, stop) if self.sample_weight is not None else None
            yield X, y, w


class IterableStream(ChunkStream):
    """Chunks from an iterable, a re-iterable object or a factory function."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.factory = callable(source) and not hasattr(source, "__iter__")
        self.one_shot = not self.factory and iter(source) is source
        self._used = False
        kind = "factory" if self.factory else ("generator" if self.one_shot else "iterable")
        self.description = f"{kind} {type(source).__name__}"

    def chunks(self, rng: np.random.Generator | None = None) -> Iterator[Chunk]:
        if self.one_shot:
            if self._used:
                raise ValueError(
                    "this generator of chunks was already read to the end and cannot start "
                    "again; for several epochs pass a function that returns a new generator "
                    "(e.g. lambda: my_chunks()) or a list of chunks"
                )
            self._used = True
        iterable = self.source() if self.factory else self.source
        try:
            iterator = iter(iterable)
        except TypeError:
            raise TypeError(
                f"the chunk factory returned {type(iterable).__name__}, which is not iterable; "
                "it must return an iterable of (X, y) chunks"
            ) from None
        for index, item in enumerate(iterator, start=1):
            yield _unpack(item, index)


def _unpack(item: Any, index: int) -> Chunk:
    if isinstance(item, tuple) and len(item) in (2, 3):
        return item[0], item[1], item[2] if len(item) == 3 else None
    if isinstance(item, dict) and "X" in item:
        return item["X"], item.get("y"), item.get("sample_weight")
    if isinstance(item, np.ndarray) or hasattr(item, "to_numpy"):
        return item, None, None
    raise TypeError(
        f"chunk {index} is a {type(item).__name__}; a stream yields (X, y) or "
        "(X, y, sample_weight) tuples"
    )


class TableStream(ChunkStream):
    """A CSV or Parquet file read ``chunk_size`` rows at a time (pandas / pyarrow)."""

    def __init__(
        self,
        path: Path,
        kind: str,
        target: Any = None,
        columns: Any = None,
        *,
        chunk_size: int | None = None,
        targets_required: bool = True,
    ) -> None:
        if not path.exists():
            raise FileNotFoundError(f"data file {path} does not exist")
        self.path, self.kind = path, kind
        if target is None and targets_required:
            raise ValueError(
                f"{path.name} is a table: name its target column with target='column' "
                "(or a list of columns)"
            )
        self.targets = (
            [] if target is None else ([target] if isinstance(target, str) else list(target))
        )
        self.columns = None if columns is None else list(columns)
        self.has_targets = bool(self.targets)
        header = self._header()
        missing = [c for c in self.targets + (self.columns or []) if c not in header]
        if missing:
            raise ValueError(
                f"{path.name} has no column(s) {', '.join(map(repr, missing))}; its columns are "
                f"{', '.join(map(repr, header))}"
            )
        if self.columns is None:
            self.columns = [c for c in header if c not in self.targets]
        self.n_features = len(self.columns)
        self.chunk_size = _chunk_rows(chunk_size, 8 * (self.n_features + len(self.targets)))
        self.description = f"{kind} file {path}, chunks of {self.chunk_size} rows"

    def _header(self) -> list[str]:
        if self.kind == "csv":
            pd = _require("pandas", "reading CSV files in chunks")
            sep = "\t" if self.path.suffix.lower() == ".tsv" else ","
            try:
                return [str(c) for c in pd.read_csv(self.path, nrows=0, sep=sep).columns]
            except (ValueError, pd.errors.ParserError) as exc:
                raise ValueError(f"{self.path} could not be read as CSV: {exc}") from exc
        pq = _require("pyarrow.parquet", "reading Parquet files in chunks")
        try:
            parquet = pq.ParquetFile(self.path, pre_buffer=False)
        except Exception as exc:  # pyarrow raises its own ArrowInvalid
            raise ValueError(f"{self.path} could not be read as Parquet: {exc}") from exc
        self.n_samples = parquet.metadata.num_rows
        return list(parquet.schema_arrow.names)

    def chunks(self, rng: np.random.Generator | None = None) -> Iterator[Chunk]:
        wanted = list(self.columns or []) + self.targets
        if self.kind == "csv":
            pd = _require("pandas", "reading CSV files in chunks")
            sep = "\t" if self.path.suffix.lower() == ".tsv" else ","
            frames: Iterable[Any] = pd.read_csv(
                self.path, sep=sep, usecols=wanted, chunksize=self.chunk_size
            )
        else:
            pq = _require("pyarrow.parquet", "reading Parquet files in chunks")
            batches = pq.ParquetFile(self.path, pre_buffer=False).iter_batches(
                batch_size=self.chunk_size, columns=wanted
            )
            frames = (batch.to_pandas() for batch in batches)
        for frame in frames:
            X = frame[self.columns]
            y = None
            if self.targets:
                y = frame[self.targets[0]] if len(self.targets) == 1 else frame[self.targets]
            yield X, y, None


def _require(module: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ImportError(
            f"{purpose} needs {package}; install it with: pip install {package} "
            "(or pip install 'formicary[cli]')"
        ) from None


def is_stream(data: Any, y: Any = None) -> bool:
    """Whether ``data`` is something :func:`fit_stream` reads chunk by chunk.

    True for a :class:`ChunkStream`, a path (``str``/``Path``), an ``np.memmap``,
    a function (chunk factory), and an iterable that is not an array, a list,
    a tuple or a data frame (a generator, or an object yielding chunks).
    """
    if isinstance(data, (ChunkStream, str, os.PathLike, np.memmap)):
        return True
    if isinstance(data, (np.ndarray, list, tuple, dict)) or hasattr(data, "to_numpy"):
        return False
    if hasattr(data, "__array__") or hasattr(data, "__dask_graph__"):
        return False
    return y is None and (callable(data) or hasattr(data, "__iter__"))


def open_stream(
    data: Any,
    y: Any = None,
    *,
    target: Any = None,
    columns: Any = None,
    sample_weight: Any = None,
    chunk_size: int | None = None,
    targets: bool = True,
) -> ChunkStream:
    """A :class:`ChunkStream` over ``data``.

    Parameters
    ----------
    data : path, array, memory map, iterable, factory or ChunkStream
        ``.npy`` file, CSV/TSV/Parquet file, ``np.memmap``, array, an iterable of
        ``(X, y)`` chunks or a function returning one.
    y : path or array, optional
        Targets for array and ``.npy`` sources (one row per sample).
    target : str, list of str or int, optional
        The target column(s) of a table file, or a column index of a 2-D
        array/``.npy`` file holding features and target side by side.
    columns : list of str, optional
        Feature columns of a table file (default: every other column).
    sample_weight : path or array, optional
        Per-sample weights for array and ``.npy`` sources.
    chunk_size : int, optional
        Rows per chunk (default: about 4 MiB of input rows).
    targets : bool
        Whether targets are required (False for prediction).
    """
    if isinstance(data, ChunkStream):
        if y is not None or target is not None:
            raise ValueError("a ChunkStream already carries its targets; do not pass y or target")
        return data
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        suffix = path.suffix.lower()
        if suffix == ".npy":
            stream: ChunkStream = ArrayStream(
                path, y, sample_weight, chunk_size=chunk_size, target=target
            )
        elif suffix in TABLE_SUFFIXES:
            if y is not None or sample_weight is not None:
                raise ValueError(
                    f"{path.name} is a table: name the target column with target=..., "
                    "not y=; sample weights are not read from tables (use an iterable of "
                    "(X, y, sample_weight) chunks)"
                )
            stream = TableStream(
                path,
                TABLE_SUFFIXES[suffix],
                target,
                columns,
                chunk_size=chunk_size,
                targets_required=targets,
            )
        else:
            raise ValueError(
                f"cannot stream {path.name}: give a .npy file (np.save), a CSV/TSV file or a "
                "Parquet file"
            )
    elif isinstance(data, np.ndarray) or hasattr(data, "to_numpy"):
        stream = ArrayStream(data, y, sample_weight, chunk_size=chunk_size, target=target)
    elif callable(data) or hasattr(data, "__iter__"):
        if y is not None or target is not None or sample_weight is not None:
            raise ValueError(
                "an iterable of chunks carries its own targets: yield (X, y) or "
                "(X, y, sample_weight) tuples and do not pass y, target or sample_weight"
            )
        if chunk_size is not None:
            raise ValueError("chunk_size applies to arrays and files; an iterable sets its own")
        stream = IterableStream(data)
    else:
        raise TypeError(
            f"cannot stream a {type(data).__name__}: give an array, an np.memmap, a .npy/CSV/"
            "Parquet path, an iterable of (X, y) chunks or a function returning one"
        )
    if targets and not stream.has_targets and not isinstance(stream, IterableStream):
        raise ValueError(f"{stream.description} has no targets: pass y (or target=...)")
    return stream


# =========================================================================== checking


class _ChunkChecker:
    """Validates chunks one by one and holds every chunk to the first one's width and dtype."""

    def __init__(
        self,
        net: MLP,
        loss: _losses.Loss | None,
        transform: Callable[..., Any] | None,
        stream: ChunkStream,
    ) -> None:
        self.n_inputs, self.n_outputs, self.loss = net.n_inputs, net.n_outputs, loss
        self.default_dtype = net.dtype
        self.transform = transform
        self.description = stream.description
        # table chunks are cast column by column, so only arrays must keep one dtype
        self.same_dtype = not isinstance(stream, TableStream)
        self.raw_dtype: np.dtype | None = None
        self.dtype: np.dtype | None = None

    def fix_dtype(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)

    def __call__(self, index: int, X: Any, y: Any, w: Any) -> tuple[np.ndarray, Any, Any]:
        where = f"chunk {index} of {self.description}"
        if self.transform is not None:
            X, y = self.transform(X, y)
        if self.loss is not None and y is None:
            raise ValueError(f"{where} has no targets; yield (X, y) or (X, y, sample_weight)")
        if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
            X = X.to_numpy()
        X = np.asarray(X) if not isinstance(X, np.ndarray) else X
        if self.raw_dtype is None:
            self.raw_dtype = X.dtype
        elif X.dtype != self.raw_dtype and self.same_dtype:
            raise TypeError(
                f"{where} holds {X.dtype} values but the first chunk held {self.raw_dtype}; "
                "give every chunk the same dtype"
            )
        if X.ndim != 2:
            raise ValueError(f"{where}: X must be 2-D (samples as rows) but has shape {X.shape}")
        if X.shape[1] != self.n_inputs:
            earlier = (
                f"the earlier chunks had {self.n_inputs}"
                if index > 1
                else f"the network takes {self.n_inputs} inputs"
            )
            raise ValueError(
                f"{where} has {X.shape[1]} column(s) but {earlier}; every chunk must have "
                "one column per network input"
            )
        if self.dtype is None:
            self.dtype = X.dtype if X.dtype in (np.float32, np.float64) else self.default_dtype
        try:
            X = as_float_array(X, "X", dtype=self.dtype, allow_empty=True)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        X = np.ascontiguousarray(X)
        if self.loss is not None:
            try:
                y = check_targets(y, X.shape[0], self.n_outputs, self.dtype, self.loss.name)
                if w is not None:
                    w = as_float_array(
                        w, "sample_weight", dtype=self.dtype, ndim=1, allow_empty=True
                    )
                    if w.shape[0] != X.shape[0]:
                        raise ValueError(
                            f"sample_weight has {w.shape[0]} entries but X has {X.shape[0]} rows"
                        )
                    if (w < 0).any():
                        raise ValueError("sample_weight must be >= 0")
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{where}: {exc}") from None
        return X, y, w


# =========================================================================== batching


def _sequential_batches(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, Any]], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
    """Rows ``[0, B)``, ``[B, 2B)``, ... across chunk boundaries, in order."""
    carry: list[tuple[np.ndarray, np.ndarray, Any]] = []
    carried = 0
    for X, y, w in chunks:
        n, start = X.shape[0], 0
        if carried:
            take = min(batch_size - carried, n)
            carry.append((X[:take], y[:take], None if w is None else w[:take]))
            carried += take
            start = take
            if carried == batch_size:
                yield _concatenate(carry)
                carry, carried = [], 0
        while n - start >= batch_size:
            stop = start + batch_size
            yield X[start:stop], y[start:stop], None if w is None else w[start:stop]
            start = stop
        if start < n:
            rest = (X[start:].copy(), y[start:].copy(), None if w is None else w[start:].copy())
            carry.append(rest)
            carried += n - start
    if carried:
        yield _concatenate(carry)


def _concatenate(parts: list[tuple[np.ndarray, np.ndarray, Any]]) -> tuple[np.ndarray, ...]:
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    weighted = [p[2] for p in parts if p[2] is not None]
    if weighted and len(weighted) != len(parts):
        raise ValueError("some chunks carry sample weights and others do not; give all or none")
    w = np.concatenate(weighted) if weighted else None
    return X, y, w


class _ShuffleBuffer:
    """Mixes rows within ``capacity`` rows: when full, permute and emit the first half as batches.

    Rows that stay behind mix with the rows of the next chunks, so a row can
    travel past chunk boundaries; memory is ``capacity`` rows plus one batch.
    """

    def __init__(self, capacity: int, batch_size: int, rng: np.random.Generator) -> None:
        self.capacity, self.batch_size, self.rng = capacity, batch_size, rng
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None
        self.w: np.ndarray | None = None
        self.count = 0
        self.weighted: bool | None = None

    def _allocate(self, X: np.ndarray, y: np.ndarray, w: Any) -> None:
        self.X = np.empty((self.capacity, X.shape[1]), dtype=X.dtype)
        self.y = np.empty((self.capacity, y.shape[1]), dtype=y.dtype)
        self.weighted = w is not None
        self.w = np.empty(self.capacity, dtype=X.dtype) if self.weighted else None
        b = self.batch_size
        self.xb = np.empty((b, X.shape[1]), dtype=X.dtype)
        self.yb = np.empty((b, y.shape[1]), dtype=y.dtype)
        self.wb = np.empty(b, dtype=X.dtype) if self.weighted else None

    def add(self, X: np.ndarray, y: np.ndarray, w: Any) -> Iterator[tuple[np.ndarray, ...]]:
        if self.X is None:
            self._allocate(X, y, w)
        if (w is not None) != self.weighted:
            raise ValueError("some chunks carry sample weights and others do not; give all or none")
        n, start = X.shape[0], 0
        while start < n:
            take = min(self.capacity - self.count, n - start)
            end = self.count + take
            self.X[self.count : end] = X[start : start + take]
            self.y[self.count : end] = y[start : start + take]
            if self.w is not None:
                self.w[self.count : end] = w[start : start + take]
            self.count, start = end, start + take
            if self.count == self.capacity:
                half = max(
                    self.batch_size, (self.capacity // 2) // self.batch_size * self.batch_size
                )
                yield from self._emit(min(half, self.count))

    def drain(self) -> Iterator[tuple[np.ndarray, ...]]:
        if self.count:
            yield from self._emit(self.count)

    def _emit(self, n_out: int) -> Iterator[tuple[np.ndarray, ...]]:
        order = self.rng.permutation(self.count)
        for start in range(0, n_out, self.batch_size):
            index = order[start : min(start + self.batch_size, n_out)]
            m = index.shape[0]
            xb = np.take(self.X, index, axis=0, out=self.xb[:m])
            yb = np.take(self.y, index, axis=0, out=self.yb[:m])
            wb = np.take(self.w, index, out=self.wb[:m]) if self.w is not None else None
            yield xb, yb, wb
        keep = order[n_out:]
        rest = keep.shape[0]
        if rest:
            self.X[:rest] = self.X[keep]
            self.y[:rest] = self.y[keep]
            if self.w is not None:
                self.w[:rest] = self.w[keep]
        self.count = rest


# =========================================================================== metrics


class _StreamingMetric:
    """A metric accumulated over a stream; R^2 gets ``SS_tot`` from running moments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.accumulator: _metrics.Accumulator | None = None
        self.n = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def update(self, y: np.ndarray, a: np.ndarray) -> None:
        if self.accumulator is None:
            self.accumulator = _metrics.Accumulator(self.name, y)
        self.accumulator.update(y, a)
        if self.name == "r2":
            # Chan et al.'s pairwise update of the mean and sum of squared deviations
            m = y.shape[0]
            batch_mean = y.mean(axis=0, dtype=np.float64)
            batch_m2 = ((y - batch_mean) ** 2).sum(axis=0, dtype=np.float64)
            if self.mean is None or self.m2 is None:
                self.n, self.mean, self.m2 = m, batch_mean, batch_m2
            else:
                total = self.n + m
                delta = batch_mean - self.mean
                self.mean = self.mean + delta * (m / total)
                self.m2 = self.m2 + batch_m2 + delta**2 * (self.n * m / total)
                self.n = total

    def result(self) -> float:
        if self.accumulator is None:
            return float("nan")
        if self.name == "r2":
            self.accumulator.ss_tot = self.m2
        return self.accumulator.result()


# =========================================================================== training


def _resolve_optimizer(optimizer: Any, learning_rate: float | None) -> _optimizers.Optimizer:
    if isinstance(optimizer, str):
        kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
        return _optimizers.get(optimizer, **kwargs)
    if learning_rate is not None:
        raise TypeError("learning_rate goes to the optimizer object when you pass one")
    return _optimizers.get(optimizer)


def _validated_chunks(
    stream: ChunkStream, checker: _ChunkChecker, rng: np.random.Generator | None
) -> Iterator[tuple[np.ndarray, Any, Any]]:
    for index, (X, y, w) in enumerate(stream.chunks(rng), start=1):
        X, y, w = checker(index, X, y, w)
        if X.shape[0]:
            yield X, y, w


def _first_dtype(stream: ChunkStream) -> np.dtype | None:
    """The dtype of a random-access stream's X without reading it (None when unknown)."""
    if isinstance(stream, ArrayStream):
        return stream.X.dtype
    return None


def fit_stream(
    net: MLP,
    data: Any,
    y: Any = None,
    *,
    target: Any = None,
    columns: Any = None,
    transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
    loss: str | _losses.Loss = "auto",
    optimizer: str | _optimizers.Optimizer = "sgd",
    learning_rate: float | None = None,
    epochs: int = 100,
    batch_size: int = 32,
    chunk_size: int | None = None,
    buffer_size: int | None = None,
    shuffle: bool = True,
    validation_data: Any = None,
    early_stopping: bool | EarlyStopping | None = None,
    callbacks: Iterable[Callback | Callable[..., Any]] | None = None,
    metric: str | None = "auto",
    sample_weight: Any = None,
    progress: bool = False,
    seed: int | np.random.Generator | None = None,
    validation_split: float = 0.0,
) -> History:
    """Train ``net`` on data streamed in chunks, with memory bounded by the chunk and buffer sizes.

    Every mini-batch is one :meth:`MLP.train_step`: forward pass, backpropagation
    of ``delta^(l)`` and the optimizer's update (``w = w - eta de/dw`` for SGD),
    exactly as in :func:`formicary.training.fit`.

    Parameters
    ----------
    net : MLP
    data : path, np.memmap, array, iterable of (X, y) chunks, factory or ChunkStream
        See :func:`open_stream`. For several epochs an iterable must be readable
        again: a list, a re-iterable object or a function returning a new iterator.
    y : path or array, optional
        Targets of an array or ``.npy`` source.
    target, columns : optional
        Target column(s) and feature columns of a CSV/Parquet file (``target``
        may also be a column index of a 2-D array or ``.npy`` file).
    transform : callable, optional
        ``transform(X, y) -> (X, y)`` applied to every raw chunk first (for
        example a fitted scaler; with table files ``X`` is a DataFrame).
    loss, optimizer, learning_rate, epochs, batch_size, metric, callbacks,
    early_stopping, progress, seed :
        As in :meth:`MLP.fit`.
    chunk_size : int, optional
        Rows read at a time from arrays and files (default about 4 MiB of rows).
    buffer_size : int, optional
        Rows in the shuffle buffer (default ``4 * chunk_size``; at least ``batch_size``).
        Memory is bounded by ``buffer_size + chunk_size`` rows.
    shuffle : bool
        Visit random-access chunks in a random order and mix rows in the buffer.
        ``False`` takes the batches in file order, exactly like
        ``net.fit(X, y, shuffle=False)``.
    validation_data : (X_val, y_val) or a stream, optional
        Evaluated after every epoch, chunk by chunk (arrays, paths or streams).
    sample_weight : path or array, optional
        Per-sample weights of an array or ``.npy`` source (iterables yield
        ``(X, y, sample_weight)`` instead).

    Returns
    -------
    History
        As from :meth:`MLP.fit`; also kept as ``net.history``.

    Examples
    --------
    >>> import numpy as np, formicary as fc
    >>> from formicary.streaming import fit_stream
    >>> X, y = fc.datasets.xor(200, seed=0)
    >>> chunks = [(X[i : i + 50], y[i : i + 50]) for i in range(0, 200, 50)]
    >>> net = fc.MLP([2, 8, 1], "tanh", "sigmoid", seed=0)
    >>> history = fit_stream(net, chunks, epochs=2, batch_size=16, seed=0)
    >>> len(history.loss)
    2
    """
    from formicary.network import _resolve_loss

    if validation_split:
        raise ValueError(
            "validation_split needs the whole data set in memory; with streamed data hold out "
            "a separate file or array and pass it as validation_data"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if batch_size is None:
        raise ValueError(
            "full-batch training (batch_size=None) needs the whole data set in memory; "
            "give a batch size for streamed data"
        )
    batch_size = _positive_int(batch_size, "batch_size")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    stream = open_stream(
        data, y, target=target, columns=columns, sample_weight=sample_weight, chunk_size=chunk_size
    )
    if isinstance(stream, IterableStream) and stream.one_shot and epochs > 1:
        raise ValueError(
            f"a generator can be read only once but epochs={epochs}; pass a function that "
            "returns a new generator for every epoch (e.g. lambda: read_chunks(path)) or a list"
        )
    if buffer_size is None:
        rows = getattr(stream, "chunk_size", None) or 4096
        buffer_size = max(DEFAULT_BUFFER_CHUNKS * rows, batch_size)
    buffer_size = _positive_int(buffer_size, "buffer_size")
    if shuffle and buffer_size < batch_size:
        raise ValueError(
            f"buffer_size ({buffer_size}) must be at least batch_size ({batch_size}): the "
            "shuffle buffer must hold one batch"
        )
    loss = _resolve_loss(net, loss)
    optimizer = _resolve_optimizer(optimizer, learning_rate)
    checker = _ChunkChecker(net, loss, transform, stream)
    dtype = _first_dtype(stream)
    if dtype is not None:
        checker.fix_dtype(dtype if dtype in (np.float32, np.float64) else net.dtype)
    elif isinstance(stream, TableStream):
        checker.fix_dtype(net.dtype)
    val_stream = None
    if validation_data is not None:
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            val_stream = open_stream(*validation_data)
        else:
            val_stream = open_stream(validation_data)
    has_val = val_stream is not None

    metric_name, hooks, stopper = run_hooks(net, loss, metric, callbacks, early_stopping, has_val)

    history = History(metric_name=metric_name, loss_name=loss.name)
    net.history = history
    net.stop_training = False
    rows = stream.n_samples
    prepare_kernels(net, epochs * -(-rows // batch_size) if rows else float("inf"))
    progress_bar = _Progress(epochs, progress)
    started = False
    try:
        for epoch in range(epochs):
            began = time.perf_counter()
            optimizer.set_epoch(epoch)
            chunks = _validated_chunks(stream, checker, rng if shuffle else None)
            if shuffle:
                buffer = _ShuffleBuffer(buffer_size, batch_size, rng)
                batches: Iterator[tuple[np.ndarray, ...]] = (
                    b for chunk in chunks for b in buffer.add(*chunk)
                )
                batches = _chain(batches, buffer.drain)
            else:
                batches = _sequential_batches(chunks, batch_size)
            tally: EpochTally | None = None
            for batch, (xb, yb, wb) in enumerate(batches):
                if not started:
                    # the first chunk fixes the dtype: float32 data trains a float32 network
                    if xb.dtype != net.dtype:
                        net.astype(xb.dtype)
                    start_logs = {
                        "epochs": epochs,
                        "samples": stream.n_samples,
                        "batch_size": batch_size,
                    }
                    for hook in hooks:
                        hook.on_train_begin(net, start_logs)
                    started = True
                if tally is None:
                    # the epoch begins with its first batch (the data's dtype is known then)
                    for hook in hooks:
                        hook.on_epoch_begin(net, epoch, {"learning_rate": optimizer.learning_rate})
                    snapshot = [p.copy() for p in net.parameters()]
                    metric_sum = _StreamingMetric(metric_name) if metric_name else None
                    tally = EpochTally(net, optimizer, epoch, snapshot, metric_sum, hooks, began)
                value, out = net.train_step(xb, yb, loss, optimizer, wb)
                if tally.add(batch, value, out, yb, wb):
                    break
            if tally is None:
                raise ValueError(f"{stream.description} yielded no rows to train on")
            val_loss = val_metric = None
            if val_stream is not None:
                scores = evaluate_stream(
                    net, val_stream, loss=loss, metric=metric_name, transform=transform
                )
                val_loss = scores["loss"]
                val_metric = scores[metric_name] if metric_name else None
            if tally.close(history, progress_bar, val_loss, val_metric):
                break
    except KeyboardInterrupt:
        interrupted(history, progress)
    finally:
        progress_bar.close()
    return finish(net, history, hooks if started else [], stopper)


def _chain(first: Iterator[Any], then: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    yield from first
    yield from then()


# =========================================================================== inference


def predict_stream(
    net: MLP,
    data: Any,
    *,
    columns: Any = None,
    transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
    chunk_size: int | None = None,
) -> Iterator[np.ndarray]:
    """The network's outputs ``a^(L)``, one array per chunk of ``data`` (in order).

    ``data`` is anything :func:`open_stream` reads; targets are not needed.
    """
    stream = open_stream(data, columns=columns, chunk_size=chunk_size, targets=False)
    checker = _ChunkChecker(net, None, transform, stream)
    checker.fix_dtype(net.dtype)
    for index, (X, _, _) in enumerate(stream.chunks(), start=1):
        X, _, _ = checker(index, X, None, None)
        yield net.predict(X)


def evaluate_stream(
    net: MLP,
    data: Any,
    y: Any = None,
    *,
    target: Any = None,
    columns: Any = None,
    transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
    loss: str | _losses.Loss = "auto",
    metric: str | None = "auto",
    chunk_size: int | None = None,
) -> dict[str, float]:
    """``{"loss": e, <metric>: value}`` over streamed data, as :meth:`MLP.evaluate` gives in memory."""
    from formicary.network import _resolve_loss

    loss = _resolve_loss(net, loss)
    stream = open_stream(data, y, target=target, columns=columns, chunk_size=chunk_size)
    name = _metrics.default_for(loss, net.n_outputs) if metric == "auto" else metric
    accumulator = _StreamingMetric(name) if name else None
    checker = _ChunkChecker(net, loss, transform, stream)
    checker.fix_dtype(net.dtype)
    total = weight = 0.0
    for X, y_chunk, w in _validated_chunks(stream, checker, None):
        out = net.predict(X)
        share = float(w.sum()) if w is not None else float(X.shape[0])
        total += loss.value(out, y_chunk, w) * share
        weight += share
        if accumulator is not None:
            accumulator.update(y_chunk, out)
    if weight == 0:
        raise ValueError(f"{stream.description} yielded no rows to evaluate")
    result = {"loss": total / weight}
    if name and accumulator is not None:
        result[name] = accumulator.result()
    return result


def feature_statistics(
    data: Any,
    y: Any = None,
    *,
    target: Any = None,
    columns: Any = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of streamed inputs, in one pass.

    Chunk statistics are merged with Chan et al.'s pairwise update, which is
    numerically stable. Columns with zero spread get a scale of 1, so
    ``(X - mean) / scale`` (for ``transform``) is always defined.
    """
    stream = open_stream(
        data, y, target=target, columns=columns, chunk_size=chunk_size, targets=False
    )
    n = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    width = None
    for index, (X, _, _) in enumerate(stream.chunks(), start=1):
        X = as_float_array(X, "X", dtype=np.dtype(np.float64), allow_empty=True)
        if width is None:
            width = X.shape[1]
        elif X.shape[1] != width:
            raise ValueError(
                f"chunk {index} of {stream.description} has {X.shape[1]} column(s) but the "
                f"first chunk had {width}"
            )
        m = X.shape[0]
        if not m:
            continue
        check_finite(X, "X")
        chunk_mean = X.mean(axis=0)
        chunk_m2 = ((X - chunk_mean) ** 2).sum(axis=0)
        if mean is None or m2 is None:
            n, mean, m2 = m, chunk_mean, chunk_m2
        else:
            total = n + m
            delta = chunk_mean - mean
            mean = mean + delta * (m / total)
            m2 = m2 + chunk_m2 + delta**2 * (n * m / total)
            n = total
    if mean is None or m2 is None:
        raise ValueError(f"{stream.description} yielded no rows")
    scale = np.sqrt(m2 / n)
    scale[scale == 0] = 1.0
    return mean, scale
