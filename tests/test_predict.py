"""A best model that predicts on raw rows: Model, hpsearch predict, and the penguins example."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.core.errors import DataError
from hpsearch.data.data_config import DataConfig
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, Network, train
from hpsearch.predict.model import Model, predict_csv
from hpsearch.search.api import start_search
from hpsearch.storage.run_store import RunStore

EXAMPLE = Path(__file__).parent.parent / "examples" / "penguins"


def raw_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on the penguins example's files (text columns, NA cells, an index column)."""
    folder = tmp_path_factory.mktemp("penguins")
    for name in ("penguins-train.csv", "penguins-dev.csv"):
        shutil.copy(EXAMPLE / name, folder / name)
    data = load_dataset(
        DataConfig(
            path="penguins-train.csv", dev_path="penguins-dev.csv", label="species", drop=("year",), missing="mean"
        ),
        base_dir=folder,
    )
    result, network = train(ModelConfig(hidden=(8,), epochs=5, learning_rate=0.01, seed=3), data)
    return folder, data, result, network


def test_predict_on_raw_rows_equals_the_predictions_made_at_the_end_of_training(trained, tmp_path):
    folder, data, _, network = trained
    expected = np.array(data.class_names)[network.predict(data.X_dev)]
    rows = raw_rows(folder / "penguins-dev.csv")
    assert any(row["sex"] == "NA" or row["bill_length_mm"] == "NA" for row in rows)  # raw, gaps included
    model = Model.from_training(network, data)
    np.testing.assert_array_equal(model.predict(rows), expected)
    # The same through a saved file, and from an array of the training columns in order.
    model.save(tmp_path / "m.npz")
    loaded = Model.load(tmp_path / "m.npz")
    array = np.array([[row[name] for name in loaded.columns] for row in rows], dtype=object)
    np.testing.assert_array_equal(loaded.predict(array), expected)
    np.testing.assert_array_equal(loaded.predict_proba(rows), network.predict_proba(data.X_dev))


def test_predict_csv_scores_a_labelled_file_exactly_as_dev_was_scored(trained, tmp_path):
    folder, data, result, network = trained
    Model.from_training(network, data).save(tmp_path / "m.npz")
    predictions = predict_csv(tmp_path / "m.npz", folder / "penguins-dev.csv")
    assert predictions.label == "species" and len(predictions.classes) == len(data.y_dev)
    assert predictions.accuracy == result.dev_accuracy and predictions.cost == result.dev_cost


def test_predict_needs_every_training_column_and_ignores_extra_ones(trained, tmp_path):
    folder, data, _, network = trained
    Model.from_training(network, data).save(tmp_path / "m.npz")
    rows = raw_rows(folder / "penguins-dev.csv")
    header = [c for c in rows[0] if c not in ("island", "species")] + ["colour"]
    with open(tmp_path / "new.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "colour": "black"} for row in rows)
    with pytest.raises(DataError, match=r"new.csv: no column 'island' — the model needs every training column"):
        predict_csv(tmp_path / "m.npz", tmp_path / "new.csv")
    header.append("island")
    with open(tmp_path / "new.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "colour": "black"} for row in rows)
    predictions = predict_csv(tmp_path / "m.npz", tmp_path / "new.csv")
    assert predictions.accuracy is None  # no label column: nothing to score
    np.testing.assert_array_equal(predictions.classes, np.array(data.class_names)[network.predict(data.X_dev)])


def test_a_model_saved_without_a_preparation_still_loads_and_says_what_it_needs(trained, tmp_path):
    folder, data, _, network = trained
    network.save(tmp_path / "old.npz")  # what Network.save wrote before models carried their preparation
    model = Model.load(tmp_path / "old.npz")
    assert model.preparation is None
    np.testing.assert_array_equal(model.predict(data.X_dev), network.predict(data.X_dev).astype(str))
    with pytest.raises(DataError, match="saved without its data preparation"):
        predict_csv(tmp_path / "old.npz", folder / "penguins-dev.csv")
    # And a model file with a preparation is still a plain network file.
    Model.from_training(network, data).save(tmp_path / "new.npz")
    np.testing.assert_array_equal(Network.load(tmp_path / "new.npz").predict(data.X_dev), network.predict(data.X_dev))


def test_penguins_example_runs_without_hand_cleaning_and_predict_matches_the_best_dev_accuracy(tmp_path):
    folder = tmp_path / "penguins"
    shutil.copytree(EXAMPLE, folder)
    config = load_config(folder / "penguins.yaml").with_search(trials=3)
    result = start_search(config, runs_dir=tmp_path / "runs")
    best = result.best
    with RunStore.open(result.run_dir) as store:
        assert store.best_model()[0] == best.trial
    run = CliRunner().invoke(cli, ["predict", str(result.run_dir), str(folder / "penguins-dev.csv"), "--proba"])
    assert run.exit_code == 0, run.output
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0] == ["row", "prediction", "p_Adelie", "p_Chinstrap", "p_Gentoo"] and len(rows) == 1 + 68
    assert [r[0] for r in rows[1:]] == [str(k) for k in range(68)]  # the input row each prediction is for
    assert f"accuracy {best.dev_accuracy:.2%}" in run.stderr
    predictions = predict_csv(result.run_dir / "models" / "best.npz", folder / "penguins-dev.csv")
    assert predictions.accuracy == best.dev_accuracy and predictions.cost == best.dev_cost


def test_train_save_writes_a_model_that_predict_reads(tmp_path):
    folder = tmp_path / "penguins"
    shutil.copytree(EXAMPLE, folder)
    config = yaml.safe_load((folder / "penguins.yaml").read_text())
    config["model"]["epochs"] = 3
    (folder / "one.yaml").write_text(yaml.safe_dump(config))
    trained = CliRunner().invoke(cli, ["train", str(folder / "one.yaml"), "--save", str(tmp_path / "m.npz")])
    assert trained.exit_code == 0, trained.output
    assert "dropped column ''" in trained.stderr
    out = tmp_path / "predictions.csv"
    predicted = CliRunner().invoke(
        cli, ["predict", str(tmp_path / "m.npz"), str(folder / "penguins-dev.csv"), "--out", str(out)]
    )
    assert predicted.exit_code == 0, predicted.output
    assert "68 predictions written" in predicted.stdout and "accuracy" in predicted.stdout
    assert out.read_text().splitlines()[0] == "row,prediction"


def test_show_says_when_the_data_file_changed_since_the_run_started(tmp_path, runs_dir):
    folder = tmp_path / "penguins"
    shutil.copytree(EXAMPLE, folder)
    config = load_config(folder / "penguins.yaml").with_search(trials=1)
    start_search(config, runs_dir=runs_dir)
    assert "changed" not in CliRunner().invoke(cli, ["show", "penguins"]).stdout
    train_file = folder / "penguins-train.csv"
    train_file.write_text(train_file.read_text().replace("Torgersen", "Torgersen Island"))
    shown = CliRunner().invoke(cli, ["show", "penguins"]).stdout
    assert "penguins-train.csv: the data file has changed since the run started" in shown
