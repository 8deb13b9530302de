"""The encoder: statistics from the train rows only, missing values with indicators, one-hot vs
embedded categories, dates as numbers, targets and their way back, and its JSON."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from studio.data.tables.encoding import ONE_HOT_MAX, TableEncoder, encode_splits
from studio.data.tables.errors import MixedTypesError
from studio.data.tables.reading import read_table
from studio.data.tables.schema import infer_schema


def table_from(tmp_path, text: str):
    path = tmp_path / "t.csv"
    path.write_text(text)
    return read_table(path)


def test_numbers_are_standardised_with_train_statistics_only(tmp_path):
    table = table_from(tmp_path, "x,y\n1,a\n3,b\n100,a\n200,b\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.array([0, 1]))
    numeric = encoder.transform(table).numeric
    np.testing.assert_allclose(numeric[:, 0], [-1.0, 1.0, 98.0, 198.0])  # mean 2, deviation 1 from rows 0-1


def test_missing_values_are_imputed_with_an_indicator(tmp_path):
    table = table_from(tmp_path, "x,c,y\n1,a,p\n,b,q\n3,,p\n5,a,q\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(4))
    assert encoder.numeric_names == ["x", "x (missing)", "c=a", "c=b", "c (missing)"]
    numeric = encoder.transform(table).numeric
    assert numeric[1, 0] == 0.0 and numeric[1, 1] == 1.0 and numeric[0, 1] == 0.0  # the mean, flagged
    assert list(numeric[2, 2:]) == [0.0, 0.0, 1.0]


def test_unseen_category_encodes_as_no_category(tmp_path):
    table = table_from(tmp_path, "c,y\na,1\nb,2\nz,3\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.array([0, 1]))
    assert encoder.numeric_names == ["c=a", "c=b"]
    assert encoder.transform(table).numeric[2].tolist() == [0.0, 0.0]


def test_many_categories_are_embedded_as_one_index_column(tmp_path):
    text = "code,x,y\n" + "".join(f"c{i % 10_000},{i % 13},{i % 2}\n" for i in range(20_000))
    table = table_from(tmp_path, text)
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(15_000))
    features = encoder.transform(table)
    assert encoder.embedded[0][0] == "code" and encoder.embedded[0][1] > ONE_HOT_MAX
    assert features.categorical.shape == (20_000, 1) and features.numeric.shape == (20_000, 1)
    assert features.categorical.min() >= 0 and features.categorical.max() < encoder.embedded[0][1]
    # the same code maps to the same index wherever it appears
    assert features.categorical[0, 0] == features.categorical[10_000, 0] != 0


def test_dates_become_finite_numbers(tmp_path):
    text = "day,y\n" + "".join(f"2023-{1 + i % 12:02d}-{1 + i % 28:02d},{i * 1.5}\n" for i in range(30)) + ",3.0\n"
    table = table_from(tmp_path, text)
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(31))
    numeric = encoder.transform(table).numeric
    assert encoder.numeric_names == ["day", "day month sin", "day month cos", "day weekday sin", "day weekday cos",
                                     "day (missing)"]
    assert np.all(np.isfinite(numeric)) and numeric[-1, -1] == 1.0
    assert abs(numeric[:30, 0].mean()) < 1e-5


def test_boolean_words(tmp_path):
    table = table_from(tmp_path, "member,y\nyes,1.0\nno,2.0\nYes,3.0\n,4.0\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(4))
    numeric = encoder.transform(table).numeric
    assert numeric[0, 0] == numeric[2, 0] > numeric[1, 0] and numeric[3, 1] == 1.0


def test_class_targets_and_decoding(tmp_path):
    table = table_from(tmp_path, "x,y\n1,dog\n2,cat\n3,\n4,dog\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(4))
    targets, has_target = encoder.encode_targets(table)
    assert encoder.class_names == ["cat", "dog"] and targets.tolist() == [1, 0, -1, 1]
    assert has_target.tolist() == [True, True, False, True]
    assert encoder.decode(np.array([[0.1, 0.9], [0.8, 0.2]])).tolist() == [1, 0]


def test_several_regression_targets_are_standardised_and_restored(tmp_path):
    text = "x,a,b\n" + "".join(f"{i % 5},{10 + i},{1000 - 7 * i}\n" for i in range(20))
    table = table_from(tmp_path, text)
    encoder = TableEncoder.fit(table, infer_schema(table, targets=["a", "b"]), np.arange(10))
    targets, has_target = encoder.encode_targets(table)
    assert targets.shape == (20, 2) and has_target.all()
    np.testing.assert_allclose(targets[:10].mean(axis=0), 0.0, atol=1e-6)
    restored = encoder.decode(targets)
    np.testing.assert_allclose(restored[:, 0], np.arange(10, 30), rtol=1e-6)
    np.testing.assert_allclose(restored[:, 1], 1000 - 7 * np.arange(20), rtol=1e-6)


def test_encoder_json_round_trip_encodes_identically(tmp_path):
    text = "n,c,d,y\n" + "".join(f"{i * 0.3},{'abc'[i % 3]},2020-01-{1 + i % 28:02d},{i % 2}\n" for i in range(40))
    table = table_from(tmp_path, text)
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(30))
    again = TableEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    np.testing.assert_array_equal(again.transform(table).numeric, encoder.transform(table).numeric)
    assert again.class_names == encoder.class_names


def test_transform_needs_the_feature_columns(tmp_path):
    table = table_from(tmp_path, "x,y\n1,a\n2,b\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(2))
    with pytest.raises(KeyError, match="'x'"):
        encoder.transform(pa.table({"z": [1]}))


def test_encode_splits_fits_on_train_and_leaves_out_rows_without_target(tmp_path):
    table = table_from(tmp_path, "x,y\n1,a\n3,b\n5,\n100,a\n200,b\n")
    encoder, (train, test) = encode_splits(table, infer_schema(table), np.array([0, 1, 2]), np.array([3, 4]))
    assert encoder.numeric_names == ["x"]
    assert len(train) == 2 and train.targets.tolist() == [0, 1]  # row 2 has no target
    np.testing.assert_allclose(train.numeric[:, 0], (np.array([1, 3]) - 3) / np.std([1, 3, 5]), rtol=1e-6)  # rows 0-2
    assert len(test) == 2 and test.numeric.dtype == np.float32 and test.categorical.shape == (2, 0)


def test_dates_on_the_first_of_january_give_no_weekday(tmp_path):
    table = table_from(tmp_path, "year,y\n" + "".join(f"{1970 + i}-01-01,{i * 2.0}\n" for i in range(12)))
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(12))
    assert encoder.numeric_names == ["year"]


def test_text_where_the_model_had_numbers_is_one_clear_error(tmp_path):
    table = table_from(tmp_path, "x,y\n1,a\n2,b\n")
    encoder = TableEncoder.fit(table, infer_schema(table), np.arange(2))
    with pytest.raises(MixedTypesError, match="column 'x' holds values that are not number values"):
        encoder.transform(pa.table({"x": ["1", "lots"]}))
