"""End to end: the real ``formicary`` command (train, info, evaluate, predict) as a subprocess."""

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
pytest.importorskip("sklearn")

import formicary as formicary_core  # noqa: E402
from formicary import tabular  # noqa: E402
from tables import people  # noqa: E402

FASHION_PRESENT = not tabular._fashion_mnist_missing(tabular.FASHION_MNIST_DIR)
GENERATED_AND_SKLEARN = [name for name in tabular.DATASETS if name != "fashion-mnist"]


def formicary(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``formicary ARGS`` in ``cwd`` the way a user would."""
    env = {**os.environ, "COLUMNS": "160", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "formicary", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """Exit code 2, exactly one line on stderr starting with ``error:``, containing ``phrases``."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with train.csv, test.csv and a classifier trained on them by the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    people(800, seed=1).to_csv(folder / "train.csv", index=False)
    people(237, seed=2).to_csv(folder / "test.csv", index=False)
    result = ok(
        formicary(
            "train",
            "train.csv",
            "--target",
            "label",
            "--exclude",
            "id,value",
            "--epochs",
            "60",
            "--out",
            "people.fcy",
            "--json",
            cwd=folder,
        )
    )
    (folder / "train.json").write_text(result.stdout)
    return folder


def test_train_reports_json_and_writes_the_model(work: Path) -> None:
    report = json.loads((work / "train.json").read_text())
    assert report["task"] == "classification"
    assert report["classes"] == ["high", "low", "mid"]
    assert report["architecture"] == [5, 64, 32, 3]  # age, income, 3 colours -> 3 classes
    assert report["metrics"]["train"]["samples"] == 640
    assert report["metrics"]["validation"]["samples"] == 160
    assert report["metrics"]["validation"]["accuracy"] > 0.8
    assert (work / "people.fcy").is_file()


def test_info_shows_architecture_history_and_preprocessing(work: Path) -> None:
    info = json.loads(ok(formicary("info", "people.fcy", "--json", cwd=work)).stdout)
    assert info["architecture"] == [5, 64, 32, 3]
    assert [layer["activation"] for layer in info["layers"]] == ["relu", "relu", "softmax"]
    assert info["parameters"] == 5 * 64 + 64 + 64 * 32 + 32 + 32 * 3 + 3
    assert info["history"]["epochs"] >= 1
    assert info["preprocessing"]["inputs"] == [
        "age",
        "income",
        "colour=blue",
        "colour=green",
        "colour=red",
    ]
    table = ok(formicary("info", "people.fcy", cwd=work)).stdout
    assert "softmax" in table and "colour" in table and "one-hot" in table


def test_evaluate_agrees_with_the_predictions_file(work: Path) -> None:
    args = ["evaluate", "people.fcy", "test.csv", "--json-out", "m.json", "--chunk-size", "50"]
    quiet = ok(formicary(*args, "--quiet", cwd=work))
    assert quiet.stdout == "" and quiet.stderr == ""
    metrics = json.loads((work / "m.json").read_text())
    shown = ok(formicary(*args[:3], cwd=work)).stdout
    for heading in (
        "precision",
        "recall",
        "F1",
        "accuracy",
        "rows are the true class",
        "high",
        "mid",
    ):
        assert heading in shown
    ok(
        formicary(
            "predict", "people.fcy", "test.csv", "-o", "pred.csv", "-p", "--keep", "id", cwd=work
        )
    )
    predictions = pd.read_csv(work / "pred.csv")
    truth = pd.read_csv(work / "test.csv")
    assert predictions["id"].tolist() == truth["id"].tolist()
    correct = predictions["prediction"].to_numpy() == truth["label"].to_numpy()
    assert metrics["samples"] == 237
    assert metrics["accuracy"] == pytest.approx(correct.mean())
    # confusion matrix, recomputed from the file
    classes = metrics["classes"]
    confusion = pd.crosstab(truth["label"], predictions["prediction"]).reindex(
        index=classes, columns=classes, fill_value=0
    )
    assert confusion.to_numpy().tolist() == metrics["confusion_matrix"]
    # probabilities: one column per class, rows sum to 1, the arg-max is the prediction
    probs = predictions[[f"probability_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (np.asarray(classes)[probs.argmax(axis=1)] == predictions["prediction"]).all()
    # precision/recall/F1 against scikit-learn
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(
        truth["label"], predictions["prediction"], labels=classes, zero_division=0
    )
    per_class = metrics["per_class"]
    np.testing.assert_allclose([c["precision"] for c in per_class], p)
    np.testing.assert_allclose([c["recall"] for c in per_class], r)
    np.testing.assert_allclose([c["f1"] for c in per_class], f)
    assert [c["support"] for c in per_class] == s.tolist()


def test_predict_streams_chunks_and_parquet_identically(work: Path) -> None:
    pd.read_csv(work / "test.csv").to_parquet(work / "test.parquet", index=False)
    ok(formicary("predict", "people.fcy", "test.csv", "-o", "whole.csv", cwd=work))
    ok(
        formicary(
            "predict",
            "people.fcy",
            "test.parquet",
            "-o",
            "chunks.parquet",
            "--chunk-size",
            "10",
            cwd=work,
        )
    )
    whole = pd.read_csv(work / "whole.csv")
    chunked = pd.read_parquet(work / "chunks.parquet")
    assert len(whole) == len(chunked) == 237
    assert whole["prediction"].tolist() == chunked["prediction"].tolist()


def test_regression_round_trip(work: Path) -> None:
    ok(
        formicary(
            "train",
            "train.csv",
            "-t",
            "value",
            "--exclude",
            "id,label",
            "--epochs",
            "40",
            "-o",
            "value.fcy",
            "-q",
            cwd=work,
        )
    )
    metrics = json.loads(
        ok(
            formicary("evaluate", "value.fcy", "test.csv", "--chunk-size", "30", "--json", cwd=work)
        ).stdout
    )
    ok(formicary("predict", "value.fcy", "test.csv", "-o", "value.csv", cwd=work))
    predicted = pd.read_csv(work / "value.csv")["prediction"].to_numpy()
    true = pd.read_csv(work / "test.csv")["value"].to_numpy()
    from sklearn.metrics import mean_absolute_error, r2_score

    assert metrics["task"] == "regression"
    assert metrics["r2"] == pytest.approx(r2_score(true, predicted), abs=1e-5)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(true, predicted), rel=1e-4)
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((true - predicted) ** 2)), rel=1e-4)
    assert metrics["r2"] > 0.8


def test_no_arguments_trains_the_default_data_set(tmp_path: Path) -> None:
    result = ok(formicary("train", cwd=tmp_path))
    assert (tmp_path / "model.fcy").is_file()
    assert "digits" in result.stderr and "test" in result.stdout
    assert "accuracy" in result.stdout
    evaluation = json.loads(ok(formicary("evaluate", "model.fcy", "--json", cwd=tmp_path)).stdout)
    assert evaluation["data"] == "digits (test)" and evaluation["samples"] == 359
    assert evaluation["accuracy"] > 0.9


def run_two_at_a_time(commands: list[list[str]], cwd: Path) -> list[tuple[int, str, str]]:
    """Run several ``formicary`` commands, two at once (the machine has two cores)."""
    env = {**os.environ, "COLUMNS": "160", "PYTHONWARNINGS": "ignore"}
    results: list[tuple[int, str, str]] = []
    for start in range(0, len(commands), 2):
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "formicary", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands[start : start + 2]
        ]
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            results.append((process.returncode, stdout, stderr))
    return results


@pytest.fixture(scope="module")
def builtin_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Train briefly on every generated and scikit-learn data set."""
    folder = tmp_path_factory.mktemp("builtin")
    commands = [
        [
            "train",
            "--dataset",
            name,
            "--epochs",
            "40",
            "--learning-rate",
            "0.01",
            "--json",
            "--quiet",
            "-o",
            f"{name}.fcy",
        ]
        for name in GENERATED_AND_SKLEARN
    ]
    return dict(zip(GENERATED_AND_SKLEARN, run_two_at_a_time(commands, folder), strict=True))


@pytest.mark.parametrize("name", GENERATED_AND_SKLEARN)
def test_each_builtin_dataset_trains(builtin_runs: dict, name: str) -> None:
    code, stdout, stderr = builtin_runs[name]
    assert code == 0, stderr
    report = json.loads(stdout)
    info = tabular.DATASETS[name]
    assert report["task"] == info.task
    test = report["metrics"]["test"]
    if info.task == "classification":
        assert test["accuracy"] >= 0.85  # on the held-out part; chance is 1/2 to 1/10
    else:
        assert test["r2"] > 0.2  # diabetes: better than predicting the mean


@pytest.mark.skipif(
    not FASHION_PRESENT,
    reason="Fashion-MNIST is not installed in /usr/share/datasets/fashion-mnist; "
    "install it with: apt-get install dataset-fashion-mnist",
)
def test_fashion_mnist_subset_trains(tmp_path: Path) -> None:
    result = ok(
        formicary(
            "train",
            "--dataset",
            "fashion-mnist",
            "--max-rows",
            "2000",
            "--epochs",
            "3",
            "--json",
            "--quiet",
            "-o",
            "fashion.fcy",
            cwd=tmp_path,
        )
    )
    report = json.loads(result.stdout)
    assert report["architecture"] == [784, 64, 32, 10]
    assert report["metrics"]["train"]["samples"] + report["metrics"]["validation"]["samples"] == (
        2000
    )
    assert report["metrics"]["test"]["samples"] == 10_000  # the official test images
    assert report["metrics"]["test"]["accuracy"] > 0.6  # chance is 0.1


def test_help_has_examples_everywhere(tmp_path: Path) -> None:
    for command in ("train", "evaluate", "predict", "info"):
        result = ok(formicary(command, "--help", cwd=tmp_path))
        assert "Examples" in result.stdout and f"formicary {command}" in result.stdout


# ---------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def bad(work: Path) -> Path:
    """Bad files beside the good ones."""
    lines = (work / "train.csv").read_text().splitlines()
    header = lines[0]

    def edit(row: int, column: int, value: str) -> list[str]:
        copy = list(lines)
        cells = copy[row].split(",")
        cells[column] = value
        copy[row] = ",".join(cells)
        return copy

    (work / "text_in_numbers.csv").write_text("\n".join(edit(8, 1, "abc")) + "\n")
    holes = edit(5, 2, "")
    holes[9] = ",".join(c if i != 3 else "" for i, c in enumerate(holes[9].split(",")))
    (work / "holes.csv").write_text("\n".join(holes) + "\n")
    (work / "empty.csv").write_text("")
    (work / "header_only.csv").write_text(header + "\n")
    single = [header] + [
        ",".join(c if i != 4 else "same" for i, c in enumerate(line.split(",")))
        for line in lines[1:]
    ]
    (work / "single.csv").write_text("\n".join(single) + "\n")
    (work / "foreign.fcy").write_text("this is not a model\n")
    np.savez(work / "other.npz", weights=np.zeros(3))
    (work / "no_colour.csv").write_text("id,age,income\np1,30,40\n")
    formicary_core.MLP([5, 3, 3], seed=0).save(work / "plain.fcy")  # saved from Python
    late = [header, *lines[1:101]]
    late[95] = ",".join(c if i != 2 else "oops" for i, c in enumerate(late[95].split(",")))
    (work / "late_error.csv").write_text("\n".join(late) + "\n")
    return work


TRAIN = ["train", "--exclude", "id,value", "-t", "label", "--epochs", "2"]
BAD_INPUTS = [
    (["train", "absent.csv", "-t", "label"], ["absent.csv", "does not exist"]),
    (["train", "train.csv", "-t", "labl"], ["no target column 'labl'", "Did you mean 'label'"]),
    (["train", "train.csv"], ["--target"]),
    ([*TRAIN, "text_in_numbers.csv"], ["column 'age'", "row 8", "'abc'"]),
    ([*TRAIN, "holes.csv"], ["row 5 column 'income'", "row 9 column 'colour'", "--drop-missing"]),
    ([*TRAIN, "empty.csv"], ["empty.csv is empty"]),
    ([*TRAIN, "header_only.csv"], ["no data rows"]),
    ([*TRAIN, "single.csv"], ["single class", "'same'"]),
    ([*TRAIN, "train.csv", "-o", "nowhere/model.fcy"], ["folder nowhere does not exist"]),
    (["train", "--dataset", "mons"], ["unknown data set 'mons'", "Did you mean 'moons'"]),
    (["predict", "foreign.fcy", "test.csv"], ["foreign.fcy", "not a Formicary model"]),
    (["evaluate", "other.npz", "test.csv"], ["other.npz", "not a Formicary model"]),
    (["info", "train.csv"], ["not a Formicary model"]),
    (["predict", "plain.fcy", "test.csv"], ["without preprocessing", "formicary.load"]),
    (
        ["predict", "people.fcy", "no_colour.csv"],
        ["lacks column(s) 'colour'", "age, income, colour"],
    ),
    (["evaluate", "people.fcy", "no_colour.csv"], ["lacks column(s) 'colour'"]),
    (["evaluate", "people.fcy", "holes.csv"], ["row 5 column 'income'", "--drop-missing"]),
    (
        ["predict", "people.fcy", "late_error.csv", "-o", "late.csv", "--chunk-size", "10"],
        ["column 'income'", "row 95", "'oops'"],
    ),
]


@pytest.fixture(scope="module")
def bad_runs(bad: Path) -> tuple[list[tuple[int, str, str]], set[str], set[str]]:
    """Every bad command's result, and the folder listing before and after them."""
    before = set(os.listdir(bad))
    results = run_two_at_a_time([args for args, _ in BAD_INPUTS], bad)
    return results, before, set(os.listdir(bad))


@pytest.mark.parametrize("case", range(len(BAD_INPUTS)), ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_code_2(bad_runs: tuple, case: int) -> None:
    code, stdout, stderr = bad_runs[0][case]
    result = subprocess.CompletedProcess(BAD_INPUTS[case][0], code, stdout, stderr)
    one_line_error(result, *BAD_INPUTS[case][1])


def test_bad_input_writes_nothing(bad_runs: tuple) -> None:
    """No model, no predictions, not even a temporary file: not when failing late either."""
    _, before, after = bad_runs
    assert after == before


def test_drop_missing_skips_the_rows(bad: Path) -> None:
    result = ok(formicary(*TRAIN, "holes.csv", "--drop-missing", "-o", "holes.fcy", cwd=bad))
    assert "dropped 2 row(s)" in result.stderr
    ok(
        formicary(
            "predict", "holes.fcy", "holes.csv", "--drop-missing", "-o", "holes_pred.csv", cwd=bad
        )
    )
    predictions = pd.read_csv(bad / "holes_pred.csv")
    assert len(predictions) == 800
    assert predictions["prediction"].isna().to_numpy().nonzero()[0].tolist() == [4, 8]


def test_info_on_a_network_saved_from_python(bad: Path) -> None:
    result = ok(formicary("info", "plain.fcy", cwd=bad))
    assert "5-3-3" in result.stdout and "no preprocessing stored" in result.stdout
