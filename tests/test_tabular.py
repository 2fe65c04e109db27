"""Reading CSV/Parquet whole and in chunks, IDX files, and the built-in data sets."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from formicary import tabular  # noqa: E402

FASHION_PRESENT = not tabular._fashion_mnist_missing(tabular.FASHION_MNIST_DIR)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 103
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 9, size=n),
            "colour": rng.choice(["red", "blue"], size=n),
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


@pytest.mark.parametrize("name", ["data.csv", "data.tsv", "data.parquet", "data.csv.gz"])
def test_read_table_round_trips(frame: pd.DataFrame, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        frame.to_csv(path, index=False)
    else:
        _write(frame, path)
    pd.testing.assert_frame_equal(tabular.read_table(path), frame, check_exact=False)
    assert tabular.read_columns(path) == ["x", "k", "colour"]


@pytest.mark.parametrize("name", ["data.csv", "data.parquet"])
def test_chunks_concatenate_to_the_whole_file(
    frame: pd.DataFrame, tmp_path: Path, name: str
) -> None:
    path = _write(frame, tmp_path / name)
    chunks = list(tabular.iter_table(path, chunk_size=10, columns=["colour", "x"]))
    assert [len(c) for c in chunks] == [10] * 10 + [3]
    joined = pd.concat(chunks)
    assert joined.index.tolist() == list(range(103))  # rows keep their position in the file
    pd.testing.assert_frame_equal(joined, frame[["colour", "x"]], check_exact=False)


def test_text_columns_keep_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id,v\n007,1\n010,2\n")
    assert tabular.read_table(path, text_columns=["id"])["id"].tolist() == ["007", "010"]
    chunk = next(tabular.iter_table(path, 5, text_columns=["id"]))
    assert chunk["id"].tolist() == ["007", "010"]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "absent.csv", "does not exist"),
        ("", "empty.csv", "is empty"),
        ("a,b\n", "header.csv", "header but no data rows"),
        ("a,b\n1,2\n", "data.xlsx", "cannot tell the format"),
        ("not parquet at all", "fake.parquet", "not a readable Parquet file"),
    ],
)
def test_bad_files_give_one_clear_error(
    tmp_path: Path, content: str | None, name: str, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        tabular.read_table(path)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        list(tabular.iter_table(path, 10))


def test_missing_column_named_with_suggestion(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = _write(frame, tmp_path / "data.csv")
    with pytest.raises(ValueError, match="has no column 'colur'.*Did you mean 'colour'"):
        tabular.read_table(path, columns=["colur"])


# ---------------------------------------------------------------------- IDX
def _idx(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compressed", [True, False])
def test_read_idx_matches_a_hand_built_file(tmp_path: Path, compressed: bool) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("images.idx.gz" if compressed else "images.idx")
    raw = _idx(images, 0x08)
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    np.testing.assert_array_equal(tabular.read_idx(path), images)
    floats = np.array([1.5, -2.0], dtype=np.float64)
    (tmp_path / "f.idx").write_bytes(_idx(floats, 0x0E))
    np.testing.assert_array_equal(tabular.read_idx(tmp_path / "f.idx"), floats)


def test_read_idx_refuses_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic"):
        tabular.read_idx(tmp_path / "bad.idx")
    truncated = _idx(np.zeros((2, 2), np.uint8), 0x08)[:-1]
    (tmp_path / "short.idx").write_bytes(truncated)
    with pytest.raises(ValueError, match="truncated"):
        tabular.read_idx(tmp_path / "short.idx")


def _fake_fashion(folder: Path, n_train: int = 12, n_test: int = 5) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images, 8)))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels, 8)))


def test_fashion_mnist_loader_on_a_tiny_copy(tmp_path: Path, monkeypatch) -> None:
    _fake_fashion(tmp_path)
    monkeypatch.setenv(tabular.FASHION_MNIST_ENV, str(tmp_path))
    data = tabular.load_dataset("fashion-mnist")
    assert data.train.shape == (12, 785) and data.test.shape == (5, 785)
    assert data.target == "label" and data.scale == "minmax"
    assert data.train["label"].tolist()[:3] == ["T-shirt/top", "Trouser", "Pullover"]
    assert list(data.train.columns[:2]) == ["pixel1", "pixel2"]


def test_fashion_mnist_absent_says_how_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(tabular.FASHION_MNIST_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        tabular.load_dataset("fashion-mnist")


@pytest.mark.skipif(
    not FASHION_PRESENT,
    reason="Fashion-MNIST is not installed in /usr/share/datasets/fashion-mnist "
    "(apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_has_the_official_split() -> None:
    data = tabular.load_dataset("fashion-mnist")
    assert data.train.shape == (60_000, 785) and data.test.shape == (10_000, 785)
    # the official split is balanced: 6,000 training and 1,000 test images per class
    assert set(data.train["label"].value_counts()) == {6_000}
    assert set(data.test["label"].value_counts()) == {1_000}
    assert data.train["pixel1"].dtype == np.uint8


# ---------------------------------------------------------------------- built-in sets
@pytest.mark.parametrize(
    ("name", "rows", "features", "target"),
    [
        ("xor", 400, 2, "label"),
        ("circles", 400, 2, "label"),
        ("moons", 400, 2, "label"),
        ("spirals", 600, 2, "label"),
        ("gaussians", 400, 2, "label"),
        ("iris", 150, 4, "species"),
        ("wine", 178, 13, "cultivar"),
        ("breast-cancer", 569, 30, "diagnosis"),
        ("digits", 1797, 64, "digit"),
        ("diabetes", 442, 10, "progression"),
    ],
)
def test_builtin_datasets(name: str, rows: int, features: int, target: str) -> None:
    data = tabular.load_dataset(name)
    assert data.target == target
    assert len(data.train) + len(data.test) == rows
    assert len(data.test) == round(rows * tabular.TEST_FRACTION)
    assert data.train.shape[1] == features + 1
    again = tabular.load_dataset(name)
    pd.testing.assert_frame_equal(again.test, data.test)  # the test part never changes


def test_generated_size_and_noise_are_options() -> None:
    data = tabular.load_dataset("moons", samples=50, noise=0.0)
    assert len(data.train) + len(data.test) == 50
    assert data.spec == {"name": "moons", "samples": 50, "noise": 0.0}
    with pytest.raises(ValueError, match="generated data sets"):
        tabular.load_dataset("iris", samples=10)


def test_unknown_dataset_suggests_a_name() -> None:
    with pytest.raises(ValueError, match="Did you mean 'spirals'"):
        tabular.load_dataset("spiral")
