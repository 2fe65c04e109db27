"""End to end: ``formicary train --stream`` (out-of-core training) as a subprocess.

A 20,000-row CSV is learnt twice, loaded whole and streamed in chunks of 1,500
rows; the streamed model must reach the same accuracy on a separate test file,
carry exactly the same preprocessing, and work with ``predict``, ``evaluate``
and ``info``. Bad input gives one line and exit code 2 and leaves no file, also
when the problem is found late in the file. Peak memory is measured on files of
100,000 and 1,000,000 rows: streaming must not grow with the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("typer")
pytest.importorskip("pyarrow")

import formicary as formicary_core  # noqa: E402
from tables import people  # noqa: E402

ENV = {**os.environ, "COLUMNS": "160", "PYTHONWARNINGS": "ignore"}
LABEL = "-t label --exclude id,value"
QUICK = ["--epochs", "3", "--batch-size", "64", "--json", "-q"]

#: Runs ``formicary ARGS`` in this process and prints its peak resident memory (KiB) last.
#: ``VmHWM`` is the high-water mark of this program's own address space; ``ru_maxrss``
#: would not do: Linux carries the parent's (pytest's) peak over ``fork`` and ``exec``.
PEAK = """
import atexit, sys
def peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"peak_kib={kib}", file=sys.stderr)
atexit.register(peak)
from formicary.cli import main
sys.argv = ["formicary", *sys.argv[1:]]
main()
"""
LINUX_PROC = Path("/proc/self/status").is_file()


def run_two_at_a_time(
    commands: list[list[str]], cwd: Path, python_code: str | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``formicary`` commands two at once (the machine has two cores)."""
    prefix = (
        [sys.executable, "-c", python_code] if python_code else [sys.executable, "-m", "formicary"]
    )
    results = []
    for start in range(0, len(commands), 2):
        batch = commands[start : start + 2]
        processes = [
            subprocess.Popen(
                [*prefix, *args],
                cwd=cwd,
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in batch
        ]
        for args, process in zip(batch, processes, strict=True):
            stdout, stderr = process.communicate(timeout=300)
            results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    return results


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


# ---------------------------------------------------------------------- good runs
@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Train in memory and streamed, then predict/evaluate/info with the models."""
    folder = tmp_path_factory.mktemp("stream")
    train = people(20_000, seed=1)
    train.to_csv(folder / "train.csv", index=False)
    train.to_parquet(folder / "train.parquet", index=False, row_group_size=2_500)
    people(2_000, seed=2).to_csv(folder / "test.csv", index=False)
    people(1_000, seed=3).to_csv(folder / "val.csv", index=False)
    # sorted by class: the first chunk holds a single class, 'mid' shows up only after row 10,000
    train.sort_values("label", kind="stable").to_csv(folder / "sorted.csv", index=False)
    holes = train.iloc[:12_000].copy()
    holes.loc[10_500, "age"] = np.nan
    holes.loc[11_000, "colour"] = None
    holes.to_csv(folder / "holes.csv", index=False)

    names = ["memory", "stream", "parquet", "sorted", "holes"]
    quick = " ".join(QUICK)
    trained = run_two_at_a_time(
        [
            f"train train.csv {LABEL} {quick} -o memory.fcy".split(),
            f"train train.csv {LABEL} {quick} --stream --chunk-size 1500 -o stream.fcy".split(),
            f"train train.parquet -t value --exclude id,label {quick} --stream --chunk-size 2500 "
            "--validation-data val.csv -o value.fcy".split(),
            f"train sorted.csv {LABEL} {quick} --stream --chunk-size 4000 -o sorted.fcy".split(),
            f"train holes.csv {LABEL} --epochs 1 --stream --drop-missing -o holes.fcy".split(),
        ],
        folder,
    )
    used = run_two_at_a_time(
        [
            ["evaluate", "memory.fcy", "test.csv", "--json"],
            ["evaluate", "stream.fcy", "test.csv", "--json"],
            ["predict", "stream.fcy", "test.csv", "-o", "predictions.csv", "-p"],
            ["info", "stream.fcy", "--json"],
        ],
        folder,
    )
    results = dict(zip(names, trained, strict=True))
    results.update(
        zip(["evaluate memory", "evaluate stream", "predict", "info"], used, strict=True)
    )
    for result in results.values():
        ok(result)
    results["folder"] = folder  # type: ignore[assignment]
    return results


def report(work: dict, name: str) -> dict:
    return json.loads(work[name].stdout)


def test_streamed_training_matches_in_memory_accuracy(work: dict) -> None:
    memory = report(work, "evaluate memory")
    streamed = report(work, "evaluate stream")
    assert memory["samples"] == streamed["samples"] == 2_000
    assert memory["accuracy"] > 0.95 and streamed["accuracy"] > 0.95  # chance is about 1/3
    assert abs(memory["accuracy"] - streamed["accuracy"]) < 0.02
    assert report(work, "stream")["streamed"] is True
    assert report(work, "memory")["streamed"] is False


def assert_same_preprocessing(streamed: dict, memory: dict) -> None:
    """The preprocessing saved by a streamed run equals the one of the table loaded whole."""
    assert streamed["inputs"] == memory["inputs"]
    assert streamed["target"] == memory["target"]
    for ours, theirs in zip(streamed["features"], memory["features"], strict=True):
        assert ours.keys() == theirs.keys()
        if ours["kind"] == "numeric":
            assert ours["center"] == pytest.approx(theirs["center"], rel=1e-12)
            assert ours["scale"] == pytest.approx(theirs["scale"], rel=1e-12)
        else:
            assert ours["categories"] == theirs["categories"]


def test_streamed_preprocessing_equals_the_in_memory_one(work: dict) -> None:
    """One pass gives the exact means, scales, categories and classes of the whole file."""
    folder = work["folder"]
    memory = formicary_core.load(folder / "memory.fcy").metadata["preprocessing"]
    streamed = report(work, "info")["preprocessing"]
    assert_same_preprocessing(streamed, memory)


def test_streamed_model_works_with_predict_evaluate_and_info(work: dict) -> None:
    folder = work["folder"]
    predictions = pd.read_csv(folder / "predictions.csv")
    truth = pd.read_csv(folder / "test.csv")
    assert len(predictions) == 2_000
    accuracy = (predictions["prediction"] == truth["label"]).mean()
    assert report(work, "evaluate stream")["accuracy"] == pytest.approx(accuracy)
    probabilities = predictions[["probability_high", "probability_low", "probability_mid"]]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    info = report(work, "info")
    options = info["training"]["options"]
    assert options["stream"] is True
    assert (options["chunk_size"], options["buffer_size"], options["sample_rows"]) == (
        1_500,
        6_000,
        1_500,
    )
    assert info["history"]["epochs"] == 3
    assert info["architecture"] == [5, 64, 32, 3]


def test_held_out_rows_depend_on_position_not_on_chunks(work: dict) -> None:
    """The same positions are held out whatever the chunk size or row order, about 20% of them."""
    plain = report(work, "stream")["metrics"]
    resorted = report(work, "sorted")["metrics"]
    counts = (plain["train"]["samples"], plain["validation"]["samples"])
    assert counts == (resorted["train"]["samples"], resorted["validation"]["samples"])
    assert sum(counts) == 20_000
    assert abs(counts[1] / 20_000 - 0.2) < 0.02


def test_classes_seen_only_late_are_learnt(work: dict) -> None:
    """The first chunk of the sorted file holds one class; the pass over all rows finds three."""
    assert report(work, "sorted")["classes"] == ["high", "low", "mid"]
    assert report(work, "memory")["classes"] == ["high", "low", "mid"]


def test_parquet_with_a_validation_file(work: dict) -> None:
    result = report(work, "parquet")
    assert result["task"] == "regression"
    assert result["metrics"]["train"]["samples"] == 20_000  # nothing held out of the data
    assert result["metrics"]["validation"]["samples"] == 1_000  # val.csv
    assert result["metrics"]["validation"]["r2"] > 0.9


def test_drop_missing_skips_late_rows(work: dict) -> None:
    stderr = work["holes"].stderr
    assert "dropped 2 row(s)" in stderr and "streamed in chunks of 10,000 rows" in stderr
    info = json.loads(
        ok(
            subprocess.run(
                [sys.executable, "-m", "formicary", "info", "holes.fcy", "--json"],
                cwd=work["folder"],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=300,
            )
        ).stdout
    )
    rows = info["training"]["rows"]
    assert rows["train"] + rows["validation"] == 11_998


def test_categorical_target_keeps_its_category_order_both_ways(tmp_path: Path) -> None:
    """Parquet categories that look like numbers ("3", "1", "2") are classes in that order.

    Loaded whole and streamed, the model files store the same classes (the
    order of the output neurons); a regression of the same column works both ways.
    """
    rng = np.random.default_rng(7)
    x = rng.normal(size=600)
    grades = np.where(x > 0.5, "3", np.where(x < -0.5, "1", "2"))
    table = pd.DataFrame({"x": x, "grade": pd.Categorical(grades, categories=["3", "1", "2"])})
    table.to_parquet(tmp_path / "grades.parquet", index=False)
    args = ["train", "grades.parquet", "-t", "grade", "--epochs", "1", "-q"]
    stream = ["--stream", "--chunk-size", "200"]
    results = run_two_at_a_time(
        [
            [*args, "-o", "memory.fcy"],
            [*args, *stream, "-o", "stream.fcy"],
            [*args, "--task", "regression", *stream, "-o", "regression.fcy"],
        ],
        tmp_path,
    )
    for result in results:
        ok(result)
    for name in ("memory", "stream"):
        target = formicary_core.load(tmp_path / f"{name}.fcy").metadata["preprocessing"]["target"]
        assert target["classes"] == ["3", "1", "2"], name
    regression = formicary_core.load(tmp_path / "regression.fcy").metadata["preprocessing"]
    assert regression["target"]["center"] == pytest.approx(pd.to_numeric(grades).mean())


def test_feature_kinds_are_decided_alike_loaded_whole_and_streamed(tmp_path: Path) -> None:
    """One rule (``preprocessing.feature_kind``) decides every feature's kind, both ways.

    Numbers, booleans, numbers written as text, text, dates, ``--categorical``
    codes, and ``--features`` naming a column twice (streamed, that was an
    error about broadcasting shapes): the saved preprocessing is the same.
    """
    rng = np.random.default_rng(11)
    n = 400
    size = rng.normal(size=n)
    table = pd.DataFrame(
        {
            "size": size,
            "flag": rng.integers(0, 2, n).astype(bool),
            "grams": [f"{v:.1f}" for v in rng.uniform(1, 9, n)],  # numbers as text
            "shade": rng.choice(["dark", "light"], n),
            "day": pd.to_datetime("2024-03-01") + pd.to_timedelta(rng.integers(0, 4, n), "D"),
            "zone": rng.choice([7, 12, 30], n),
            "y": np.where(size > 0, "big", "small"),
        }
    )
    table.to_parquet(tmp_path / "kinds.parquet", index=False)
    features = "size,flag,grams,shade,day,zone,size"
    args = ["train", "kinds.parquet", "-t", "y", "--features", features, "--categorical", "zone"]
    args += ["--epochs", "1", "-q"]
    results = run_two_at_a_time(
        [
            [*args, "-o", "memory.fcy"],
            [*args, "--stream", "--chunk-size", "150", "-o", "stream.fcy"],
        ],
        tmp_path,
    )
    for result in results:
        ok(result)
    memory, streamed = (
        formicary_core.load(tmp_path / f"{name}.fcy").metadata["preprocessing"]
        for name in ("memory", "stream")
    )
    kinds = [(f["name"], f["kind"]) for f in memory["features"]]
    assert kinds == [
        ("size", "numeric"),
        ("flag", "numeric"),
        ("grams", "numeric"),
        ("shade", "categorical"),
        ("day", "categorical"),
        ("zone", "categorical"),
        ("size", "numeric"),
    ]
    assert_same_preprocessing(streamed, memory)
    assert memory["features"][5]["categories"] == ["12", "30", "7"]


# ---------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def bad(work: dict) -> Path:
    """Files whose problem lies beyond the first chunk (10,000 rows)."""
    folder = work["folder"] / "bad"
    folder.mkdir()
    base = people(12_000, seed=4)
    base.to_csv(folder / "train.csv", index=False)
    text = base.copy()
    text["income"] = text["income"].astype(object)
    text.loc[11_000, "income"] = "n/a?"
    text.to_csv(folder / "late_text.csv", index=False)
    holes = base.copy()
    holes.loc[10_345, "age"] = np.nan
    holes.to_csv(folder / "late_missing.csv", index=False)
    grades = base.copy()
    position = np.arange(len(grades))
    grades["grade"] = np.where(position < 5_000, position % 3, position % 40)
    grades.to_csv(folder / "grades.csv", index=False)
    codes = base.copy()
    codes["code"] = (position % 2).astype(object)
    codes.loc[11_500, "code"] = "x"
    codes.to_csv(folder / "codes.csv", index=False)
    validation = people(300, seed=5)
    validation.loc[7, "label"] = "extreme"
    validation.to_csv(folder / "val_bad.csv", index=False)
    validation = people(300, seed=6)
    validation.loc[7, "age"] = np.nan
    validation.to_csv(folder / "val_holes.csv", index=False)
    # 1,500 more distinct values from row 10,501 on: only the second chunk holds them
    colours = base.copy()
    colours.loc[10_500:, "colour"] = [f"shade{i}" for i in range(1_500)]
    colours.to_csv(folder / "late_colours.csv", index=False)
    labels = base.copy()
    labels.loc[10_500:, "label"] = [f"kind{i}" for i in range(1_500)]
    labels.to_csv(folder / "late_labels.csv", index=False)
    return folder


TRAIN = f"train {LABEL} --epochs 2 -o bad.fcy".split()


def words(command: str) -> list[str]:
    """A command line as arguments, writing to bad.fcy."""
    return [*command.split(), "-o", "bad.fcy"]


BAD_INPUTS = [
    (["train", "--stream"], ["--stream", "built-in data set digits is loaded whole"]),
    (["train", "--dataset", "moons", "--stream"], ["data set moons is loaded whole"]),
    ([*TRAIN, "train.csv", "--stream", "--max-rows", "100"], ["--max-rows", "smaller file"]),
    ([*TRAIN, "train.csv", "--chunk-size", "100"], ["--chunk-size applies only with --stream"]),
    (
        [*TRAIN, "train.csv", "--stream", "--buffer-size", "16"],
        ["--buffer-size (16 rows) must hold at least one batch", "--batch-size 32"],
    ),
    ([*TRAIN, "train.csv", "--stream", "--chunk-size", "0"], ["--chunk-size must be >= 1"]),
    (
        [*TRAIN, "train.csv", "--validation-split", "0.1", "--validation-data", "train.csv"],
        ["--validation-split", "--validation-data", "not both"],
    ),
    (
        [*TRAIN, "train.csv", "--stream", "--validation-data", "absent.csv"],
        ["absent.csv does not exist"],
    ),
    ([*TRAIN, "late_text.csv", "--stream"], ["column 'income'", "row 11001", "'n/a?'"]),
    ([*TRAIN, "late_missing.csv", "--stream"], ["row 10346 column 'age'", "--drop-missing"]),
    (
        words("train grades.csv -t grade --exclude id,value,label --stream --sample-rows 3000"),
        ["first 3,000 rows", "more than 20 distinct whole numbers", "--task regression"],
    ),
    (
        words("train codes.csv -t code --exclude id,value,label --stream"),
        ["row 11501 holds 'x'", "--sample-rows"],
    ),
    (
        words("train train.csv -t label --features age,label --stream"),
        ["column 'label' is the target; it cannot also be a feature"],
    ),
    (
        words("train train.csv -t label --exclude id,age,income,colour,value --stream"),
        ["no feature columns besides the target 'label'"],
    ),
    (
        [*TRAIN, "train.csv", "--stream", "--categorical", "colr"],
        ["no column to treat as a category 'colr'", "Did you mean 'colour'"],
    ),
    (
        [*TRAIN, "train.csv", "--stream", "--validation-data", "val_bad.csv"],
        ["val_bad.csv", "'extreme'", "never saw"],
    ),
    (
        [*TRAIN, "train.csv", "--stream", "--validation-data", "val_holes.csv"],
        ["val_holes.csv", "row 8 column 'age'", "fill them in, or pass --drop-missing"],
    ),
]
#: Too many categories or classes: one message loaded whole or streamed, the streamed one
#: naming the rows read when it stopped (the first chunk of 10,000 rows has only 3 of each).
TOO_MANY = (
    "column 'colour' of late_colours.csv holds text with 1,503 distinct values{}, too many to "
    "one-hot encode (limit 50); it looks like an identifier or free text: leave it out with "
    "--exclude colour",
    "target column 'label' of late_labels.csv holds 1,503 distinct values{}, too many classes "
    "(limit 100); if it is a quantity, use --task regression",
)
for name, message in zip(("late_colours.csv", "late_labels.csv"), TOO_MANY, strict=True):
    BAD_INPUTS.append(([*TRAIN, name, "--stream"], [message.format(" in its first 12,000 rows")]))
    BAD_INPUTS.append(([*TRAIN, name], [message.format("")]))


@pytest.fixture(scope="module")
def bad_runs(bad: Path) -> tuple[list[subprocess.CompletedProcess[str]], set[str], set[str]]:
    before = set(os.listdir(bad))
    results = run_two_at_a_time([args for args, _ in BAD_INPUTS], bad)
    return results, before, set(os.listdir(bad))


@pytest.mark.parametrize("case", range(len(BAD_INPUTS)), ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_code_2(bad_runs: tuple, case: int) -> None:
    result = bad_runs[0][case]
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for phrase in BAD_INPUTS[case][1]:
        assert phrase in lines[0]


def test_bad_input_leaves_no_file(bad_runs: tuple) -> None:
    """No model and no temporary file, also when the problem is found deep in the file."""
    _, before, after = bad_runs
    assert after == before


# ---------------------------------------------------------------------- memory
def peak_growth(folder: Path, suffix: str) -> tuple[int, int]:
    """Peak resident memory (bytes) of streamed training on 100,000 and on 1,000,000 rows."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50_000, 8)).round(3)
    block = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    block["label"] = (X @ np.linspace(-1, 1, 8) > 0).astype(np.int64)
    names = []
    for copies in (2, 20):
        name = f"rows_{copies * 50_000}.{suffix}"
        if suffix == "csv":  # the same block again and again: quick to write
            header, body = block.to_csv(index=False).split("\n", 1)
            with open(folder / name, "w") as stream:
                stream.write(header + "\n" + body * copies)
        else:
            pd.concat([block] * copies, ignore_index=True).to_parquet(
                folder / name, index=False, row_group_size=20_000
            )
        names.append(name)
    args = ["-t", "label", "--stream", "--chunk-size", "20000", "--epochs", "1"]
    args += ["--validation-split", "0", "--no-early-stopping", "--hidden", "8", "-q"]
    args += ["--batch-size", "512"]
    results = run_two_at_a_time(
        [["train", name, *args, "-o", f"{name}.fcy"] for name in names], folder, PEAK
    )
    peaks = []
    for result in results:
        ok(result)
        peaks.append(1024 * int(result.stderr.strip().splitlines()[-1].split("=")[1]))
    return peaks[0], peaks[1]


@pytest.mark.skipif(not LINUX_PROC, reason="peak memory is read from Linux's /proc/self/status")
def test_memory_does_not_grow_with_a_csv_file(tmp_path: Path) -> None:
    """900,000 more rows (65 MB as float64) raise the peak by far less than a quarter of that.

    Measured (peak resident memory of the whole process, Python and libraries
    included): 134 MiB on 100,000 rows, 137-143 MiB on 1,000,000 rows, against
    318 MiB for in-memory training on the same 1,000,000 rows.
    """
    small, large = peak_growth(tmp_path, "csv")
    table_growth = 900_000 * 9 * 8
    assert large - small < table_growth / 4, (small, large)


@pytest.mark.skipif(not LINUX_PROC, reason="peak memory is read from Linux's /proc/self/status")
def test_memory_does_not_grow_with_a_parquet_file(tmp_path: Path) -> None:
    small, large = peak_growth(tmp_path, "parquet")
    table_growth = 900_000 * 9 * 8
    assert large - small < table_growth / 4, (small, large)
