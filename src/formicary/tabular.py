"""Tabular data for the command line: CSV and Parquet files, and the built-in data sets.

Files are read with pandas (CSV, TSV, optionally compressed) and pyarrow
(Parquet). :func:`read_table` loads a whole file for training;
:func:`iter_table` yields it chunk by chunk so that prediction and evaluation
work on files larger than memory. Every problem (missing file, empty file,
unreadable format) is one ``ValueError``/``FileNotFoundError`` saying what is
wrong and how to fix it.

Built-in data sets (:func:`load_dataset`) come as pandas DataFrames with a
named target column, split once and for all into the data to train on and a
held-out test part (Fashion-MNIST's official 60,000/10,000 split; a fixed,
seeded 20% for the others), so that ``formicary evaluate`` can reproduce the
test part the model never saw.

This module needs the ``cli`` extra (pandas, pyarrow, scikit-learn).
"""

from __future__ import annotations

import difflib
import gzip
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    import pandas as pd
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "reading tables needs pandas; install it with: pip install 'formicary[cli]'"
    ) from exc

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "BuiltinDataset",
    "Dataset",
    "check_columns",
    "fashion_mnist_folder",
    "file_format",
    "iter_table",
    "load_dataset",
    "pyarrow_parquet",
    "read_columns",
    "read_idx",
    "read_table",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "FORMICARY_FASHION_MNIST_DIR"
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
TEST_FRACTION = 0.2
SPLIT_SEED = 20240601  # fixed: the test part of a built-in data set never changes
DATA_SEED = 0  # generated data sets are always drawn with this seed

_COMPRESSION = {".gz", ".bz2", ".zip", ".xz", ".zst"}


# ---------------------------------------------------------------------- files
def file_format(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from the file name (compression suffixes allowed)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in (".csv", ".txt"):
        return "csv"
    if last == ".tsv":
        return "tsv"
    if last in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(
        f"cannot tell the format of {path} from its name; give a .csv, .tsv or .parquet file"
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty; it needs a header row and data rows")


def _csv_options(fmt: str) -> dict[str, Any]:
    return {"sep": "\t" if fmt == "tsv" else ",", "skipinitialspace": True, "encoding": "utf-8-sig"}


def _csv_error(path: Path, exc: Exception) -> ValueError:
    if isinstance(exc, pd.errors.EmptyDataError):
        return ValueError(f"{path} is empty (no header row); it needs a header and data rows")
    if isinstance(exc, UnicodeDecodeError):
        return ValueError(f"{path} is not UTF-8 text; is it really a CSV file?")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ValueError(f"{path} could not be read as CSV: {first}")


def pyarrow_parquet() -> Any:
    """The ``pyarrow.parquet`` module, or an ImportError saying how to install it.

    Returns
    -------
    module
        ``pyarrow.parquet``, for reading and writing Parquet files.

    Raises
    ------
    ImportError
        When pyarrow is not installed; the message names ``pip install 'formicary[cli]'``.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "Parquet files need pyarrow; install it with: pip install 'formicary[cli]'"
        ) from None
    return pq


def _parquet_file(path: Path) -> Any:
    pq = pyarrow_parquet()

    try:
        return pq.ParquetFile(path, pre_buffer=False)  # else iter_batches buffers the whole file
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for foreign files
        raise ValueError(f"{path} is not a readable Parquet file ({exc})") from None


def read_columns(path: str | os.PathLike[str]) -> list[str]:
    """The column names of a data file (reads only its header)."""
    path = Path(path)
    _check_file(path)
    fmt = file_format(path)
    if fmt == "parquet":
        return list(_parquet_file(path).schema_arrow.names)
    try:
        header = pd.read_csv(path, nrows=0, **_csv_options(fmt))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _csv_error(path, exc) from None
    return [str(c) for c in header.columns]


def check_columns(
    wanted: Sequence[str], available: Sequence[str], source: str, role: str = "column"
) -> None:
    """Raise ``ValueError`` naming the first of ``wanted`` that ``available`` lacks."""
    missing = [c for c in wanted if c not in available]
    if not missing:
        return
    first = missing[0]
    close = difflib.get_close_matches(first, list(available), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(repr(c) for c in list(available)[:12])
    more = f" and {len(available) - 12} more" if len(available) > 12 else ""
    others = f" (and {len(missing) - 1} other missing)" if len(missing) > 1 else ""
    raise ValueError(
        f"{source} has no {role} {first!r}{others}.{hint} Its columns are: {listed}{more}"
    )


def _finish(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise ValueError(f"{path} has no columns")
    if frame.shape[0] == 0:
        raise ValueError(f"{path} has a header but no data rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def read_table(
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a whole CSV/TSV/Parquet file into a DataFrame (rows numbered from 0).

    Parameters
    ----------
    path : str or Path
    columns : list of str, optional
        Read only these columns (each must exist).
    text_columns : list of str
        Columns to keep as text (categories such as ``"007"`` stay as written).
    """
    path = Path(path)
    names = read_columns(path)
    if columns is not None:
        check_columns(columns, names, str(path))
    fmt = file_format(path)
    if fmt == "parquet":
        try:
            frame = _parquet_file(path).read(columns=list(columns) if columns else None).to_pandas()
        except Exception as exc:
            raise ValueError(f"{path} could not be read as Parquet ({exc})") from None
        frame = _as_text(frame, text_columns)
    else:
        try:
            frame = pd.read_csv(
                path,
                usecols=list(columns) if columns is not None else None,
                dtype={c: str for c in text_columns} or None,
                **_csv_options(fmt),
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise _csv_error(path, exc) from None
        except ValueError as exc:  # pandas reports bad dtype conversions as ValueError
            raise _csv_error(path, exc) from None
    frame = _finish(frame, path)
    return frame[list(columns)] if columns is not None else frame


def _as_text(frame: pd.DataFrame, text_columns: Sequence[str]) -> pd.DataFrame:
    for name in text_columns:
        if name in frame.columns:
            column = frame[name]
            frame[name] = column.where(column.isna(), column.astype(str))
    return frame


def iter_table(
    path: str | os.PathLike[str],
    chunk_size: int = 10_000,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
) -> Iterator[pd.DataFrame]:
    """Yield a data file as DataFrames of at most ``chunk_size`` rows.

    CSV goes through ``pandas.read_csv(chunksize=...)``, Parquet through
    ``pyarrow`` record batches, so only one chunk is in memory at a time. The
    rows of each chunk are indexed by their position in the file (from 0),
    so error messages can name them.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk size must be a positive integer, got {chunk_size!r}")
    path = Path(path)
    names = read_columns(path)
    if columns is not None:
        check_columns(columns, names, str(path))
    fmt = file_format(path)
    seen = 0
    if fmt == "parquet":
        parquet = _parquet_file(path)
        try:
            batches = parquet.iter_batches(
                batch_size=chunk_size, columns=list(columns) if columns else None
            )
            for batch in batches:
                frame = _as_text(batch.to_pandas(), text_columns)
                frame.index = pd.RangeIndex(seen, seen + len(frame))
                frame.columns = [str(c) for c in frame.columns]
                seen += len(frame)
                if len(frame):
                    yield frame[list(columns)] if columns is not None else frame
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"{path} could not be read as Parquet ({exc})") from None
    else:
        try:
            reader = pd.read_csv(
                path,
                usecols=list(columns) if columns is not None else None,
                dtype={c: str for c in text_columns} or None,
                chunksize=chunk_size,
                **_csv_options(fmt),
            )
            with reader:
                for frame in reader:
                    frame.columns = [str(c) for c in frame.columns]
                    seen += len(frame)
                    yield frame[list(columns)] if columns is not None else frame
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise _csv_error(path, exc) from None
    if seen == 0:
        raise ValueError(f"{path} has a header but no data rows")


# ---------------------------------------------------------------------- IDX (MNIST format)
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code, the number of dimensions ``d``,
    then ``d`` big-endian 32-bit sizes; the data follow in C order.
    """
    path = Path(path)
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype = _IDX_TYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated (incomplete IDX header)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} is truncated or corrupted: its header announces shape {shape} "
            f"({expected} bytes) but it holds {len(raw) - header} bytes of data"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)


def fashion_mnist_folder() -> Path:
    """Where Fashion-MNIST is read from: ``$FORMICARY_FASHION_MNIST_DIR`` or Debian's folder."""
    return Path(os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)


def _fashion_mnist_missing(folder: Path) -> list[str]:
    return [name for name in FASHION_MNIST_FILES.values() if not (folder / name).is_file()]


# ---------------------------------------------------------------------- built-in data sets
@dataclass
class Dataset:
    """A built-in data set: what to train on and the held-out test part."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    target: str
    task: str
    description: str
    scale: str = "standard"
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltinDataset:
    """Description of a built-in data set and how to load it."""

    name: str
    description: str
    task: str
    source: str
    target: str
    scale: str = "standard"
    default_samples: int | None = None
    default_noise: float | None = None


DATASETS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in [
        BuiltinDataset(
            "xor",
            "XOR quadrants, 2 features, 2 classes",
            "classification",
            "generated",
            "label",
            default_samples=400,
            default_noise=0.05,
        ),
        BuiltinDataset(
            "circles",
            "two concentric circles, 2 features, 2 classes",
            "classification",
            "generated",
            "label",
            default_samples=400,
            default_noise=0.05,
        ),
        BuiltinDataset(
            "moons",
            "two interleaving half moons, 2 features, 2 classes",
            "classification",
            "generated",
            "label",
            default_samples=400,
            default_noise=0.1,
        ),
        BuiltinDataset(
            "spirals",
            "three interleaved spirals, 2 features, 3 classes",
            "classification",
            "generated",
            "label",
            default_samples=600,
            default_noise=0.03,
        ),
        BuiltinDataset(
            "gaussians",
            "four Gaussian blobs, 2 features, 4 classes",
            "classification",
            "generated",
            "label",
            default_samples=400,
            default_noise=1.0,
        ),
        BuiltinDataset(
            "iris",
            "150 iris flowers, 4 measurements, 3 species",
            "classification",
            "scikit-learn",
            "species",
        ),
        BuiltinDataset(
            "wine",
            "178 wines, 13 chemical measurements, 3 cultivars",
            "classification",
            "scikit-learn",
            "cultivar",
        ),
        BuiltinDataset(
            "breast-cancer",
            "569 tumours, 30 features, malignant or benign",
            "classification",
            "scikit-learn",
            "diagnosis",
        ),
        BuiltinDataset(
            "digits",
            "1,797 handwritten digits, 8x8 pixels, 10 classes",
            "classification",
            "scikit-learn",
            "digit",
            scale="minmax",
        ),
        BuiltinDataset(
            "diabetes",
            "442 patients, 10 features, disease progression (regression)",
            "regression",
            "scikit-learn",
            "progression",
        ),
        BuiltinDataset(
            "fashion-mnist",
            "70,000 clothing images, 28x28 pixels, 10 classes (Debian package)",
            "classification",
            "dataset-fashion-mnist",
            "label",
            scale="minmax",
        ),
    ]
}


def _unknown_dataset(name: str) -> ValueError:
    close = difflib.get_close_matches(name, list(DATASETS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown data set {name!r}.{hint} Built-in: {', '.join(DATASETS)}")


def _generated(info: BuiltinDataset, samples: int, noise: float) -> pd.DataFrame:
    from formicary import datasets

    kwargs: dict[str, Any] = {"n_samples": samples, "noise": noise, "seed": DATA_SEED}
    if info.name == "spirals":
        kwargs["n_classes"] = 3
    if info.name == "gaussians":
        kwargs["n_classes"] = 4
    X, y = datasets.GENERATED[info.name](**kwargs)
    return pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], info.target: y})


def _sklearn(info: BuiltinDataset) -> pd.DataFrame:
    try:
        from sklearn import datasets as skd
    except ImportError:
        raise ImportError(
            f"the {info.name} data set comes with scikit-learn; install it with: "
            "pip install 'formicary[cli]'"
        ) from None
    if info.name == "diabetes":
        bunch = skd.load_diabetes(scaled=False)
        frame = pd.DataFrame(bunch.data, columns=list(bunch.feature_names))
        frame[info.target] = bunch.target
        return frame
    loader = {
        "iris": skd.load_iris,
        "wine": skd.load_wine,
        "breast-cancer": skd.load_breast_cancer,
        "digits": skd.load_digits,
    }[info.name]
    bunch = loader()
    if info.name == "digits":
        columns = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
        frame = pd.DataFrame(bunch.data, columns=columns)
        frame[info.target] = bunch.target.astype(np.int64)
        return frame
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    names = [str(name) for name in bunch.target_names]  # scikit-learn's order of the classes
    frame[info.target] = pd.Categorical.from_codes(bunch.target, categories=names)
    return frame


def _fashion_mnist() -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = fashion_mnist_folder()
    missing = _fashion_mnist_missing(folder)
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST is not installed (looked for {', '.join(missing)} in {folder}). "
            "On Debian/Ubuntu install it with: sudo apt-get install dataset-fashion-mnist "
            f"(or put the four IDX files in a folder named by ${FASHION_MNIST_ENV})"
        )
    parts = []
    for split in ("train", "test"):
        images = read_idx(folder / FASHION_MNIST_FILES[f"{split}_images"])
        labels = read_idx(folder / FASHION_MNIST_FILES[f"{split}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"the Fashion-MNIST {split} files in {folder} do not match "
                f"(images {images.shape}, labels {labels.shape}); reinstall the package"
            )
        if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
            raise ValueError(f"the Fashion-MNIST {split} labels in {folder} are corrupted")
        pixels = images.reshape(images.shape[0], -1)
        columns = [f"pixel{i}" for i in range(1, pixels.shape[1] + 1)]
        frame = pd.DataFrame(pixels, columns=columns, copy=False)
        # the official label order (0 = T-shirt/top ... 9 = Ankle boot) becomes the class order
        frame["label"] = pd.Categorical.from_codes(labels, categories=FASHION_MNIST_CLASSES)
        parts.append(frame)
    return parts[0], parts[1]


def _split(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(frame))
    n_test = max(1, round(len(frame) * fraction))
    test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
    return (
        frame.iloc[train_rows].reset_index(drop=True),
        frame.iloc[test_rows].reset_index(drop=True),
    )


def load_dataset(name: str, samples: int | None = None, noise: float | None = None) -> Dataset:
    """Load a built-in data set as ``Dataset(train=..., test=...)`` DataFrames.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    samples, noise : optional
        Size and noise of the generated data sets (always drawn with seed 0,
        so the same arguments give the same data).
    """
    key = name.strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise _unknown_dataset(name)
    info = DATASETS[key]
    spec: dict[str, Any] = {"name": key}
    if info.source == "generated":
        samples = info.default_samples if samples is None else samples
        noise = info.default_noise if noise is None else noise
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 10:
            raise ValueError(f"--samples must be an integer >= 10, got {samples!r}")
        if noise is None or not np.isfinite(noise) or noise < 0:
            raise ValueError(f"--noise must be a number >= 0, got {noise!r}")
        spec.update(samples=samples, noise=noise)
        train, test = _split(_generated(info, samples, float(noise)), TEST_FRACTION)
    elif samples is not None or noise is not None:
        raise ValueError(
            f"--samples and --noise apply to the generated data sets "
            f"(xor, circles, moons, spirals, gaussians), not to {key}"
        )
    elif info.source == "scikit-learn":
        train, test = _split(_sklearn(info), TEST_FRACTION)
    else:
        train, test = _fashion_mnist()
    return Dataset(
        name=key,
        train=train,
        test=test,
        target=info.target,
        task=info.task,
        description=info.description,
        scale=info.scale,
        spec=spec,
    )
