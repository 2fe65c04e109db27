"""Tabular preprocessing: scaling against closed forms, one-hot encoding, labels, JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas")

from formicary.preprocessing import (  # noqa: E402
    Preprocessor,
    check_category_count,
    check_class_count,
    feature_kind,
    infer_task,
    numeric_values,
    target_kind,
)


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20.0, 30.0, 40.0, 50.0, 60.0],
            "rooms": [1, 2, 2, 3, 7],
            "colour": ["red", "blue", "red", "green", "blue"],
            "label": ["b", "a", "c", "a", "b"],
            "price": [1.5, 2.25, 3.0, 4.5, 9.75],
        }
    )


def test_standard_scaling_is_mean_and_population_std(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label", exclude=["price"])
    X = pre.transform(table)
    age = table["age"].to_numpy()
    rooms = table["rooms"].to_numpy(dtype=float)
    # closed form: x = (v - mean) / sqrt(mean((v - mean)^2))
    np.testing.assert_allclose(X[:, 0], (age - 40.0) / np.sqrt(200.0))
    expected_rooms = (rooms - 3.0) / np.sqrt(((rooms - 3.0) ** 2).mean())
    np.testing.assert_allclose(X[:, 1], expected_rooms)
    assert pre.input_names == ["age", "rooms", "colour=blue", "colour=green", "colour=red"]


def test_one_hot_encoding_marks_exactly_the_row_category(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label", features=["colour"])
    X = pre.transform(table)
    expected = [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]
    np.testing.assert_array_equal(X, expected)


def test_unknown_category_is_all_zeros_and_reported(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label", features=["colour"])
    unknown: dict[str, set[str]] = {}
    X = pre.transform(pd.DataFrame({"colour": ["purple", "red"]}), unknown=unknown)
    np.testing.assert_array_equal(X, [[0, 0, 0], [0, 0, 1]])
    assert unknown == {"colour": {"purple"}}


@pytest.mark.parametrize(
    ("scaling", "expected"),
    [("minmax", [0.0, 0.25, 0.5, 0.75, 1.0]), ("none", [20.0, 30.0, 40.0, 50.0, 60.0])],
)
def test_other_scalings(table: pd.DataFrame, scaling: str, expected: list[float]) -> None:
    pre = Preprocessor.fit(table, "label", features=["age"], scaling=scaling)
    np.testing.assert_allclose(pre.transform(table)[:, 0], expected)


def test_constant_column_keeps_scale_one() -> None:
    frame = pd.DataFrame({"flat": [3.0, 3.0, 3.0], "y": [0, 1, 0]})
    pre = Preprocessor.fit(frame, "y")
    assert pre.features[0].scale == 1.0
    np.testing.assert_array_equal(pre.transform(frame)[:, 0], [0.0, 0.0, 0.0])


def test_float32_stays_float32(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label")
    assert pre.transform(table, np.float32).dtype == np.float32
    assert pre.decode(np.zeros((2, 3), np.float32)).tolist() == ["a", "a"]


def test_numeric_category_values_match_text_values() -> None:
    frame = pd.DataFrame({"zone": [1, 2, 1, 3], "y": [0.5, 1.5, 0.25, 2.0]})
    pre = Preprocessor.fit(frame, "y", categorical=["zone"])
    assert pre.input_names == ["zone=1", "zone=2", "zone=3"]
    X = pre.transform(pd.DataFrame({"zone": ["2", "3"]}))
    np.testing.assert_array_equal(X, [[0, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["cat", "dog", "cat"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1, 0], "classification"),
        (list(range(50)), "regression"),
        ([0.5, 1.25, 3.0], "regression"),
        ([1.0, 2.0, 1.0], "classification"),
        (["1.5", "2.5", "3.25"], "regression"),
    ],
)
def test_infer_task(values: list, task: str) -> None:
    assert infer_task(pd.Series(values))[0] == task


def test_class_labels_are_sorted_and_decoded(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label")
    assert pre.target is not None
    assert pre.target.classes == ["a", "b", "c"]
    assert pre.target.n_outputs == 3
    codes = pre.encode_target(table["label"])
    np.testing.assert_array_equal(codes, [1, 0, 2, 0, 1])
    onehot = pre.network_targets(codes)
    np.testing.assert_array_equal(onehot.sum(axis=1), 1)
    assert pre.decode(onehot).tolist() == table["label"].tolist()


def test_binary_target_uses_one_sigmoid_output() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["no", "yes", "no", "yes"]})
    pre = Preprocessor.fit(frame, "y")
    assert pre.target is not None and pre.target.n_outputs == 1
    codes = pre.encode_target(frame["y"])
    np.testing.assert_array_equal(pre.network_targets(codes)[:, 0], [0, 1, 0, 1])
    outputs = np.array([[0.2], [0.9]])
    np.testing.assert_allclose(pre.probabilities(outputs), [[0.8, 0.2], [0.1, 0.9]])
    assert pre.decode(outputs).tolist() == ["no", "yes"]


def test_regression_target_standardised_and_mapped_back(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "price", exclude=["label"])
    assert pre.task == "regression"
    encoded = pre.encode_target(table["price"])
    assert abs(encoded.mean()) < 1e-12
    assert encoded.std() == pytest.approx(1.0)
    np.testing.assert_allclose(pre.decode(encoded.reshape(-1, 1)), table["price"])


def test_json_round_trip_gives_identical_transform(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label", categorical=["rooms"])
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(table), pre.transform(table))
    np.testing.assert_array_equal(
        again.encode_target(table["label"]), pre.encode_target(table["label"])
    )
    assert again.input_names == pre.input_names


def test_serving_mean_and_scale_reproduce_the_transform(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label", exclude=["price"])
    spec = pre.to_dict()
    onehot = pd.get_dummies(table["colour"]).astype(float)[["blue", "green", "red"]]
    raw = np.column_stack([table["age"], table["rooms"], onehot.to_numpy()])
    u = (raw - np.array(spec["mean"])) / np.array(spec["scale"])
    np.testing.assert_allclose(u, pre.transform(table))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2, max_size=40
    ).filter(lambda v: np.ptp(v) > 1e-3)
)
def test_standardised_training_column_has_zero_mean_unit_std(values: list[float]) -> None:
    frame = pd.DataFrame({"v": values, "y": [0, 1] * (len(values) // 2) + [0] * (len(values) % 2)})
    x = Preprocessor.fit(frame, "y").transform(frame)[:, 0]
    assert abs(x.mean()) < 1e-8
    assert x.std() == pytest.approx(1.0, rel=1e-8)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["ant", "bee", "wasp", "moth"]), min_size=2, max_size=30))
def test_labels_survive_encode_decode(labels: list[str]) -> None:
    if len(set(labels)) < 2:
        labels = [*labels, "zzz" if labels[0] != "zzz" else "aaa"]
    frame = pd.DataFrame({"x": np.arange(len(labels), dtype=float), "y": labels})
    pre = Preprocessor.fit(frame, "y")
    codes = pre.encode_target(frame["y"])
    assert pre.decode(pre.network_targets(codes)).tolist() == labels


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pd.Series([1.5, -2.0, 3.25]), "numeric"),
        (pd.Series([3, 1, 2]), "numeric"),
        (pd.Series([True, False, True]), "numeric"),
        (pd.Series(["1.5", "2", "-3e2"], dtype=object), "numeric"),
        (pd.Series(["1", "2"], dtype="string"), "numeric"),
        (pd.Series(["red", "blue", "red"]), "categorical"),
        (pd.Series(["a", "b", "1"]), "categorical"),  # one number in three: text
        (pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])), "categorical"),
        (pd.Series(pd.Categorical(["x", "y"])), "categorical"),
    ],
)
def test_feature_kind_follows_the_cells(column: pd.Series, kind: str) -> None:
    assert feature_kind(column) == kind
    assert feature_kind(column, categorical=True) == "categorical"


def test_feature_kind_names_the_typing_errors_of_a_mostly_numeric_column() -> None:
    column = pd.Series(["31", "42", "old", "28"], name="age")
    with pytest.raises(
        ValueError, match=r"'age' of people.csv .* row 3 holds 'old'.*--categorical"
    ):
        feature_kind(column, "people.csv")
    assert feature_kind(column, categorical=True) == "categorical"


def test_fit_decides_kinds_by_feature_kind(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label", categorical=["rooms"])
    expected = [
        feature_kind(table[name], categorical=name == "rooms") for name in pre.feature_names
    ]
    assert (
        [f.kind for f in pre.features]
        == expected
        == [
            "numeric",
            "categorical",
            "categorical",
            "numeric",
        ]
    )


# ---------------------------------------------------------------------- errors
def test_missing_cells_named_by_row_and_column(table: pd.DataFrame) -> None:
    table.loc[3, "age"] = np.nan
    table.loc[1, "colour"] = None
    with pytest.raises(ValueError, match=r"2 missing .* row 2 column 'colour', row 4 column 'age'"):
        Preprocessor.fit(table, "label")


def test_text_in_numeric_column_names_row_and_value() -> None:
    frame = pd.DataFrame({"age": ["31", "42", "old", "28"], "y": [0, 1, 0, 1]})
    with pytest.raises(ValueError, match=r"column 'age' .* numeric but row 3 holds 'old'"):
        Preprocessor.fit(frame, "y")


def test_single_class_refused(table: pd.DataFrame) -> None:
    table["label"] = "same"
    with pytest.raises(ValueError, match="single class"):
        Preprocessor.fit(table, "label")


def test_identifier_like_text_column_refused() -> None:
    frame = pd.DataFrame({"name": [f"n{i}" for i in range(60)], "y": [0, 1] * 30})
    with pytest.raises(ValueError, match=r"60 distinct values.*--exclude name"):
        Preprocessor.fit(frame, "y")


def test_missing_target_column_suggests_a_name(table: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="no target column 'labl'.*Did you mean 'label'"):
        Preprocessor.fit(table, "labl")


def test_unseen_label_and_missing_feature_refused(table: pd.DataFrame) -> None:
    pre = Preprocessor.fit(table, "label")
    with pytest.raises(ValueError, match=r"never saw: 'z' \(row 2\)"):
        pre.encode_target(pd.Series(["a", "z"], name="label"))
    with pytest.raises(ValueError, match="no feature column 'colour'"):
        pre.transform(table.drop(columns=["colour"]))


def test_regression_of_text_refused(table: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="holds text"):
        Preprocessor.fit(table, "label", task="regression")


@pytest.mark.parametrize(
    "data",
    [None, {"format": "other"}, {"format": "formicary-tabular", "version": 1, "features": [{}]}],
)
def test_malformed_metadata_refused(data: object) -> None:
    with pytest.raises(ValueError, match="preprocessing"):
        Preprocessor.from_dict(data)


def test_categorical_target_keeps_its_category_order() -> None:
    labels = pd.Categorical(["low", "high", "mid", "low"], categories=["low", "mid", "high"])
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": labels})
    pre = Preprocessor.fit(frame, "y")
    assert pre.target is not None and pre.target.classes == ["low", "mid", "high"]
    np.testing.assert_array_equal(pre.encode_target(frame["y"]), [0, 2, 1, 0])
    # read back from a file the labels are plain text: the stored order still applies
    np.testing.assert_array_equal(pre.encode_target(pd.Series(["high", "mid"], name="y")), [2, 1])


@pytest.mark.parametrize(
    ("labels", "kind", "classes"),
    [
        (pd.Series([True, False, True]), "bool", [False, True]),
        (pd.Series([10, 9, 10]), "numeric", [9, 10]),
        (pd.Series(["10", "9", "10"]), "numeric", [9, 10]),  # numbers, not "10" < "9"
        (pd.Series(["b", "a", "b"]), "text", ["a", "b"]),
        (
            pd.Series(pd.Categorical(["3", "1", "2", "3"], categories=["3", "1", "2"])),
            "categorical",
            ["3", "1", "2"],  # the categories' order, though they look like numbers
        ),
        (
            pd.Series(pd.Categorical(["b", "c"], categories=["c", "b", "a"])),
            "categorical",
            ["c", "b"],  # a category no row holds is no class
        ),
    ],
)
def test_target_kind_decides_the_class_order(labels: pd.Series, kind: str, classes: list) -> None:
    frame = pd.DataFrame({"x": np.arange(len(labels), dtype=float), "y": labels})
    assert target_kind(frame["y"]) == kind
    pre = Preprocessor.fit(frame, "y", task="classification")
    assert pre.target is not None and pre.target.classes == classes
    codes = pre.encode_target(frame["y"])  # each row's code is its label's place in the classes
    assert [str(classes[code]) for code in codes] == [str(v) for v in frame["y"]]


def test_categorical_target_of_numbers_can_still_be_regressed() -> None:
    grades = pd.Categorical(["3", "1", "2", "3"], categories=["3", "1", "2"])
    pre = Preprocessor.fit(
        pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": grades}), "y", task="regression"
    )
    assert pre.target is not None and pre.target.center == pytest.approx(2.25)


def test_too_many_classes_names_the_file_the_count_and_the_limit() -> None:
    frame = pd.DataFrame({"x": np.arange(150.0), "y": [f"c{i}" for i in range(150)]})
    expected = (
        "target column 'y' of big.csv holds 150 distinct values, too many classes (limit 100); "
        "if it is a quantity, use --task regression"
    )
    with pytest.raises(ValueError) as caught:
        Preprocessor.fit(frame, "y", source="big.csv")
    assert str(caught.value) == expected
    # read in chunks: the count of the rows read so far, and no verdict on a single class yet
    check_class_count("y", {"a"}, "big.csv", rows=10_000)
    with pytest.raises(ValueError) as caught:
        check_class_count("y", set(range(137)), "big.csv", rows=20_000)
    assert str(caught.value) == expected.replace(
        "150 distinct values", "137 distinct values in its first 20,000 rows"
    )


def test_too_many_categories_names_the_file_the_count_and_the_limit() -> None:
    frame = pd.DataFrame({"name": [f"n{i}" for i in range(60)], "y": [0, 1] * 30})
    expected = (
        "column 'name' of people.csv holds text with 60 distinct values, too many to one-hot "
        "encode (limit 50); it looks like an identifier or free text: leave it out with "
        "--exclude name"
    )
    with pytest.raises(ValueError) as caught:
        Preprocessor.fit(frame, "y", source="people.csv")
    assert str(caught.value) == expected
    with pytest.raises(ValueError) as caught:
        check_category_count("name", 51, "people.csv", rows=1_500)
    assert str(caught.value) == expected.replace(
        "60 distinct values", "51 distinct values in its first 1,500 rows"
    )


def test_numeric_values_ends_with_the_remedy_given() -> None:
    column = pd.Series(["1", "2", "x"], name="code")
    with pytest.raises(ValueError, match=r"row 3 holds 'x'; treat it.*--categorical code\)$"):
        numeric_values(column, "a.csv", remedy="treat it (--categorical code)")
    with pytest.raises(ValueError, match=r"'code' of a.csv is numeric but row 3 holds 'x'; fix"):
        numeric_values(column, "a.csv")
