"""Predicting with a table model as Play and `studio predict` do: one row from form values, a
whole CSV with progress and cancellation, the form's fields from the model's columns."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pacsv
import pytest
from table_models import mixed_csv, penguins, train_table

from studio.core.errors import Cancelled, InvalidInputError
from studio.core.jobs import JobState
from studio.data.tables import read_table
from studio.export.table_model import TablePredictor


@pytest.fixture(scope="module")
def predictor():
    return TablePredictor(train_table(penguins(), ["species"]).parts, "run", ranges={"body_mass_g": (2700.0, 6300.0)})


def test_fields_follow_the_models_columns(predictor):
    fields = {f.name: f for f in predictor.fields()}
    assert fields["island"].type == "category" and set(fields["island"].categories) == {"Biscoe", "Dream", "Torgersen"}
    assert fields["island"].default == fields["island"].categories[0]  # the most frequent in training
    assert fields["body_mass_g"].type == "number" and (fields["body_mass_g"].low, fields["body_mass_g"].high) == (2700, 6300)
    assert 3500 < fields["body_mass_g"].default < 5000  # the training mean, rounded
    assert "species" not in fields


def test_one_row_of_form_values_gives_the_csv_rows_prediction(predictor, tmp_path):
    data = tmp_path / "two.csv"
    data.write_text("island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
                    "Biscoe,48,14.5,225,5600,male,2008\n"
                    "Torgersen,38,,185,3500,,2008\n")  # missing bill depth and sex
    table = predictor.predict_csv(data, None)
    gentoo = predictor.predict_values({"island": "Biscoe", "bill_length_mm": 48, "bill_depth_mm": 14.5,
                                       "flipper_length_mm": 225, "body_mass_g": 5600, "sex": "male", "year": 2008})
    adelie = predictor.predict_values({"island": "Torgersen", "bill_length_mm": 38, "bill_depth_mm": None,
                                       "flipper_length_mm": 185, "body_mass_g": 3500, "sex": None, "year": 2008})
    assert table.column("predicted species").to_pylist() == [gentoo.best[0], adelie.best[0]] == ["Gentoo", "Adelie"]
    np.testing.assert_allclose(table.column("P(Gentoo)").to_numpy(), [dict(gentoo.probabilities)["Gentoo"],
                                                                      dict(adelie.probabilities)["Gentoo"]], atol=1e-6)
    assert sum(p for _, p in gentoo.probabilities) == pytest.approx(1.0, abs=1e-5)


def test_a_csv_with_its_target_keeps_it_beside_the_prediction(predictor, tmp_path):
    data = tmp_path / "penguins.csv"
    pacsv.write_csv(penguins().slice(0, 40), data)
    out = tmp_path / "out.csv"
    steps = []
    predictor.predict_csv(data, out, JobState(on_progress=lambda f, m: steps.append(f)))
    written = pacsv.read_csv(out)
    assert written.column_names[:8] == penguins().column_names
    assert {"predicted species", "predicted species probability", "P(Adelie)"} <= set(written.column_names)
    assert written.num_rows == 40 and steps[-1] == 1.0 and steps == sorted(steps)
    right = np.mean(np.array(written.column("species").to_pylist()) == np.array(written.column("predicted species").to_pylist()))
    assert right > 0.9


def test_cancelling_a_csv_writes_nothing(predictor, tmp_path):
    data = tmp_path / "penguins.csv"
    pacsv.write_csv(penguins(), data)
    out = tmp_path / "out.csv"
    state = JobState()
    state.cancel()
    with pytest.raises(Cancelled):
        predictor.predict_csv(data, out, state)
    assert not out.exists() and list(tmp_path.iterdir()) == [data]


def test_a_csv_without_the_models_columns_is_refused_with_their_names(predictor, tmp_path):
    data = tmp_path / "other.csv"
    data.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match="island"):
        predictor.predict_csv(data, tmp_path / "out.csv")


def test_yes_no_and_date_fields_start_typical_and_predict(tmp_path):
    table = read_table(mixed_csv(tmp_path / "mixed.csv"))
    mixed = TablePredictor(train_table(table, ["label"]).parts, "run")
    fields = {f.name: f for f in mixed.fields()}
    assert fields["member"].type == "boolean" and fields["member"].default in (True, False)
    assert fields["day"].type == "datetime" and fields["day"].default.startswith("201")  # the mean day, 2010..2021
    typical = mixed.predict_values({f.name: f.default for f in mixed.fields()})
    assert sum(p for _, p in typical.probabilities) == pytest.approx(1.0, abs=1e-5)
    later = mixed.predict_values({**{f.name: f.default for f in mixed.fields()}, "day": "2021-12-28 23:30:00"})
    assert later.probabilities != typical.probabilities  # the date reaches the model
