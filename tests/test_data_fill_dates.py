"""Issue 30: ``data.missing: fill`` (training median, a "(missing)" category), ISO date columns, labelled
``predict`` files with gaps in the label, and runs stored before all this predicting as they did."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.core.errors import DataError
from hpsearch.data.data_config import DataConfig, validate_data_config
from hpsearch.data.datasets import load_dataset
from hpsearch.data.preparation import Preparation
from hpsearch.nn import ModelConfig, train
from hpsearch.predict.model import Model
from hpsearch.predict.scoring import predict_csv
from tests.test_data_files import problems_of, two_class_rows, write_csv

FIXTURES = Path(__file__).parent / "fixtures"


def load(folder: Path, **config) -> object:
    return load_dataset(DataConfig(**config), base_dir=folder)


# --- data.missing: fill -----------------------------------------------------------------------


def test_fill_is_a_data_missing_choice_and_mean_is_still_one():
    for mode in ("fill", "mean", "error", "drop"):
        config, problems = validate_data_config({"path": "d.csv", "label": "y", "missing": mode})
        assert problems == [] and config.missing == mode
    assert DataConfig().missing == "error"  # unchanged default: stored configs omit it (see docs/how-to/data-files.md)


def test_fill_takes_the_training_median_and_a_missing_category_and_predict_fills_the_same(tmp_path):
    rng = np.random.default_rng(5)
    x = np.round(rng.lognormal(size=40), 3)  # skewed: its median is far from its mean
    side = np.where(np.arange(40) % 3 == 0, "south", "north")
    rows = [f"{v},{s},{'ab'[i % 2]}" for i, (v, s) in enumerate(zip(x, side))]
    rows[0], rows[1] = "NA,north,a", "1.0,,b"
    write_csv(tmp_path / "t.csv", "x,side,y", rows)
    write_csv(tmp_path / "v.csv", "x,side,y", ["NA,NA,a", "2.0,north,b"])
    data = load(tmp_path, path="t.csv", dev_path="v.csv", label="y", missing="fill")
    prep = data.preparation
    assert prep.input_names == ("x", "side=(missing)", "side=north", "side=south")
    present = np.array([float(r.split(",")[0]) for r in rows[1:]])  # the training rows' present x, by hand
    median, mean, std = np.median(present), present.mean(), present.std()
    assert abs(median - mean) > 0.1 * std
    assert prep.mean[0] == pytest.approx(mean) and prep.scale[0] == pytest.approx(std)
    assert data.X_train[0, 0] == pytest.approx((median - mean) / std) and data.X_dev[0, 0] == data.X_train[0, 0]
    np.testing.assert_array_equal(data.X_dev[:, 1:], [[1, 0, 0], [0, 1, 0]])
    # predict: the same fill, from the stored model file.
    result, network = train(ModelConfig(hidden=(4,), epochs=2, seed=1), data)
    Model.from_training(network, data).save(tmp_path / "m.npz")
    loaded = Model.load(tmp_path / "m.npz")
    X = loaded.prepare([{"x": None, "side": None}, {"x": "NA", "side": "north"}])
    np.testing.assert_array_equal(X[0], data.X_dev[0])
    np.testing.assert_array_equal(X[1], [data.X_dev[0, 0], 0, 1, 0])


def test_fill_fills_a_gap_at_predict_in_a_column_that_had_none_in_training(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows(30)]
    write_csv(tmp_path / "t.csv", "x,z,y", rows)
    write_csv(tmp_path / "v.csv", "x,z,y", rows[:4])
    data = load(tmp_path, path="t.csv", dev_path="v.csv", label="y", missing="fill")  # every row of t.csv trains
    z = np.array([float(r.split(",")[1]) for r in rows])
    network = train(ModelConfig(hidden=(4,), epochs=1, seed=1), data)[1]
    X = Model.from_training(network, data).prepare([{"x": 1.0, "z": None}])
    assert X[0, 1] == pytest.approx((np.median(z) - z.mean()) / z.std(), abs=1e-12)


def test_a_preparation_fitted_with_mean_stores_what_it_stored_before_fill(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows()]
    rows[3] = "NA,1,b"
    write_csv(tmp_path / "d.csv", "x,z,y", rows)
    prep = load(tmp_path, path="d.csv", label="y", missing="mean").preparation
    assert sorted(prep.to_arrays()) == ["prep_mean", "prep_meta", "prep_scale"] and prep.fill is None
    data = load(tmp_path, path="d.csv", label="y", missing="fill")
    again = Preparation.from_arrays(data.preparation.to_arrays())
    np.testing.assert_array_equal(again.fill, data.preparation.fill)
    # A model file whose fill was tampered with is refused in one line, as one with a bad mean is.
    model = Model.from_training(train(ModelConfig(hidden=(4,), epochs=1, seed=1), data)[1], data)
    state = model.state()
    state["prep_fill"] = np.full_like(state["prep_fill"], np.nan)
    np.savez(tmp_path / "bad.npz", **state)
    with pytest.raises(DataError, match="bad.npz: its data preparation fills missing values with a non-finite number"):
        Model.load(tmp_path / "bad.npz")


def test_an_old_stored_run_predicts_its_own_prepared_rows_bit_for_bit(tmp_path):
    """v3-run (schema 3, a CSV regression stored before fill and dates) reads its source CSV into exactly the
    arrays it stored, and predicts as its network does on those arrays."""
    run = FIXTURES / "v3-run"
    model = Model.load(run / "models" / "best.npz")
    assert model.preparation.missing == "error" and model.preparation.fill is None
    shutil.copy(FIXTURES / "v3-run.source.csv", tmp_path / "v3.csv")
    X = model.prepare(_csv_rows(tmp_path / "v3.csv"))
    stored = np.concatenate([np.load(run / "data" / "X_train.npy"), np.load(run / "data" / "X_dev.npy")])
    np.testing.assert_array_equal(np.unique(X, axis=0), np.unique(stored, axis=0))
    predictions = predict_csv(run / "models" / "best.npz", tmp_path / "v3.csv")
    np.testing.assert_array_equal(predictions.values, model.network.predict(X))
    assert predictions.skipped == 0 and predictions.rmse is not None


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- predict on a labelled file with gaps in the label ----------------------------------------


def test_predict_scores_the_rows_with_a_label_and_says_how_many_it_skipped(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows(40)]
    write_csv(tmp_path / "t.csv", "x,z,y", rows)
    data = load(tmp_path, path="t.csv", label="y")
    network = train(ModelConfig(hidden=(4,), epochs=2, seed=1), data)[1]
    Model.from_training(network, data).save(tmp_path / "m.npz")
    new = [f"{x},{z},{lab if i % 4 else 'NA'}" for i, (x, z, lab) in enumerate(two_class_rows(12, seed=9))]
    write_csv(tmp_path / "new.csv", "x,z,y", new)
    predictions = predict_csv(tmp_path / "m.npz", tmp_path / "new.csv")
    assert len(predictions.classes) == 12 and predictions.skipped == 3
    labelled = [i for i in range(12) if i % 4]
    model = Model.load(tmp_path / "m.npz")
    X = model.prepare([{"x": r.split(",")[0], "z": r.split(",")[1]} for r in new])[labelled]
    y = np.array([data.class_names.index(new[i].split(",")[2]) for i in labelled])
    cost, accuracy = network.evaluate(X, y)
    assert predictions.accuracy == accuracy and predictions.cost == cost
    out = CliRunner().invoke(cli, ["predict", str(tmp_path / "m.npz"), str(tmp_path / "new.csv")])
    assert out.exit_code == 0, out.output
    assert "(9 rows; 3 without a label skipped)" in out.stderr


def test_a_regression_predict_scores_the_rows_with_their_targets(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.normal(size=60)
    write_csv(tmp_path / "t.csv", "a,y", [f"{v},{3 * v + rng.normal() * 0.1 + 10}" for v in a])
    data = load(tmp_path, path="t.csv", label="y", task="regression")
    network = train(ModelConfig(hidden=(4,), epochs=2, seed=1), data)[1]
    Model.from_training(network, data).save(tmp_path / "m.npz")
    write_csv(tmp_path / "new.csv", "a,y", ["0.5,11.5", "1.0,", "-1,7"])
    predictions = predict_csv(tmp_path / "m.npz", tmp_path / "new.csv")
    assert predictions.skipped == 1 and len(predictions.values) == 3
    actual = np.array([11.5, 7.0])
    kept = predictions.values[[0, 2], 0]
    assert predictions.rmse == pytest.approx(np.sqrt(np.mean((kept - actual) ** 2)))


# --- dates ------------------------------------------------------------------------------------


def _date_rows(n: int, seed: int = 0, with_time: bool = False) -> tuple[list[str], list[datetime.date]]:
    rng = np.random.default_rng(seed)
    days = [datetime.date(2019, 1, 1) + datetime.timedelta(days=int(d)) for d in rng.integers(0, 1500, n)]
    cells = [f"{d.isoformat()}{'T08:30:00' if with_time and i % 2 else ''}" for i, d in enumerate(days)]
    return [f"{c},{x},{lab}" for c, (x, _, lab) in zip(cells, two_class_rows(n, seed))], days


def test_an_iso_date_column_becomes_year_day_of_year_and_weekday(tmp_path):
    rows, days = _date_rows(80, with_time=True)  # 80 distinct dates: more than a text column may hold
    write_csv(tmp_path / "t.csv", "when,x,y", rows)
    data = load(tmp_path, path="t.csv", dev_path="t.csv", label="y")
    prep = data.preparation
    assert prep.input_names == ("when.year", "when.day_of_year", "when.weekday", "x")
    raw = np.array([[d.year, d.timetuple().tm_yday, d.weekday()] for d in days], dtype=float)  # by hand
    np.testing.assert_allclose(data.X_train[:, :3] * prep.scale[:3] + prep.mean[:3], raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(prep.mean[:3], raw.mean(axis=0))
    # predict reads the dates the same way, and fills a missing one with the median only under fill.
    model = Model.from_training(train(ModelConfig(hidden=(4,), epochs=1, seed=1), data)[1], data)
    X = model.prepare([{"when": "2020-02-29", "x": 0.5}])
    np.testing.assert_allclose(X[0, :3] * prep.scale[:3] + prep.mean[:3], [2020, 60, 5], atol=1e-9)
    with pytest.raises(
        DataError,
        match=r"column 'when' holds text \('29/02/2020', row 0\) but the model was "
        r"trained on ISO dates \(YYYY-MM-DD\) there",
    ):
        model.prepare([{"when": "29/02/2020", "x": 0.5}])
    with pytest.raises(DataError, match="missing values in 'when'"):
        model.prepare([{"when": None, "x": 0.5}])


def test_a_missing_date_is_filled_with_each_parts_training_median(tmp_path):
    rows, days = _date_rows(30)
    rows[4] = "NA," + rows[4].split(",", 1)[1]
    write_csv(tmp_path / "t.csv", "when,x,y", rows)
    data = load(tmp_path, path="t.csv", dev_path="t.csv", label="y", missing="fill")
    prep = data.preparation
    kept = [d for i, d in enumerate(days) if i != 4]
    medians = np.median([[d.year, d.timetuple().tm_yday, d.weekday()] for d in kept], axis=0)
    np.testing.assert_allclose(data.X_train[4, :3] * prep.scale[:3] + prep.mean[:3], medians, atol=1e-9)


@pytest.mark.parametrize("cell", ["03/01/2024", "1.3.2024", "2024/03/01", "2024-02-30"])
def test_dates_not_in_iso_form_are_refused_in_one_line_naming_data_drop(tmp_path, cell):
    rows, _ = _date_rows(20)
    rows[5] = f"{cell}," + rows[5].split(",", 1)[1]
    write_csv(tmp_path / "t.csv", "when,x,y", rows)
    (line,) = problems_of(tmp_path, path="t.csv", label="y")
    assert f"column 'when' holds dates, but {cell!r} at line 7 is not an ISO date (YYYY-MM-DD)" in line
    assert "data.drop: [when]" in line
