"""A number to predict, end to end: data.task, a regression search, its leaderboard, resume, halving,
predict in the target's units, and run --set."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.core.records import TrialStatus
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, train
from hpsearch.search.api import Execution, resume_search, start_search

CONFIG = """\
name: lin
data: {{path: lin.csv, label: {label}}}
model: {{hidden: [16], epochs: {epochs}, optimizer: adam, batch_size: 32}}
space:
  learning_rate: {{scale: log, low: 3.0e-3, high: 3.0e-2}}
search: {{trials: 4, seed: 1, workers: 1{extra}}}
"""


def linear_csv(folder: Path, rows: int = 300) -> Path:
    """y = X w + a little noise, and the same target in other units (1000 y)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 5))
    y = X @ np.array([1.0, 2.0, -1.0, 0.5, 3.0]) + 0.1 * rng.normal(size=rows)
    path = folder / "lin.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "d", "e", "y", "y1000"])
        writer.writerows([*map(repr, x), repr(t), repr(1000 * t)] for x, t in zip(X.tolist(), y.tolist()))
    return path


def config(folder: Path, *, label: str = "y", epochs: int = 20, extra: str = "") -> Path:
    linear_csv(folder)
    path = folder / f"lin-{label}.yaml"
    path.write_text(CONFIG.format(label=label, epochs=epochs, extra=extra))
    return path


def test_a_linear_target_is_learned_and_shown_in_its_own_units(tmp_path: Path) -> None:
    result = start_search(load_config(config(tmp_path)), runs_dir=tmp_path / "runs")
    best = result.best
    assert best is not None and best.metrics["dev_r2"] > 0.95
    shown = CliRunner().invoke(cli, ["show", str(result.run_dir)], env={"COLUMNS": "120"})
    assert shown.exit_code == 0 and "dev RMSE" in shown.output and "dev acc" not in shown.output
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["export", str(result.run_dir)]).output)))
    assert "dev_rmse" in rows[0] and "dev_accuracy" not in rows[0]
    assert float(rows[0]["dev_rmse"]) == pytest.approx(best.metrics["dev_rmse"])


def test_predict_gives_numbers_in_the_units_the_model_learned(tmp_path: Path) -> None:
    runner = CliRunner()
    predictions = {}
    for label in ("y", "y1000"):
        result = start_search(load_config(config(tmp_path, label=label)), runs_dir=tmp_path / "runs", name=label)
        out = tmp_path / f"{label}.csv"
        done = runner.invoke(cli, ["predict", str(result.run_dir), str(tmp_path / "lin.csv"), "--out", str(out)])
        assert done.exit_code == 0, done.output
        assert "RMSE" in done.output and "R²" in done.output
        rows = list(csv.DictReader(out.open()))
        predictions[label] = np.array([float(r["prediction"]) for r in rows])
    # The same trials on standardized targets: the predictions differ only by the units (up to float rounding).
    np.testing.assert_allclose(predictions["y1000"], 1000 * predictions["y"], rtol=1e-6, atol=1e-6)
    refused = runner.invoke(cli, ["predict", str(tmp_path / "runs" / "y"), str(tmp_path / "lin.csv"), "--proba"])
    assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1 and "--proba" in refused.stderr


def test_a_resumed_regression_run_equals_a_straight_one(tmp_path: Path) -> None:
    straight = start_search(load_config(config(tmp_path)), runs_dir=tmp_path / "runs", name="straight")
    cut = start_search(load_config(config(tmp_path)), runs_dir=tmp_path / "runs", name="cut")
    with sqlite3.connect(cut.run_dir / "run.sqlite") as db:  # as if killed before its last two trials
        db.execute("DELETE FROM epochs WHERE trial >= 2")
        db.execute("DELETE FROM trials WHERE trial >= 2")
    db.close()
    resumed = resume_search(cut.run_dir, execution=Execution(workers=2))
    assert [(t.trial, t.dev_cost, t.metrics) for t in resumed.trials] == [
        (t.trial, t.dev_cost, t.metrics) for t in straight.trials
    ]


def test_a_halving_regression_run_promotes_and_trains_on_exactly(tmp_path: Path) -> None:
    path = config(tmp_path, epochs=9, extra=", early_stopping: {method: halving, min_epochs: 1, eta: 3}")
    path.write_text(path.read_text().replace("trials: 4", "trials: 9"))
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    statuses = {t.status for t in result.trials}
    assert TrialStatus.PRUNED in statuses and result.best is not None and result.best.epochs_run == 9
    cfg = load_config(path)
    data = load_dataset(cfg.resolved_data(), base_dir=tmp_path)
    best = result.best
    fresh, _ = train(ModelConfig.from_dict({**cfg.model, **best.params, "seed": best.seed}), data)
    assert json.dumps(best.history["dev_cost"]) == json.dumps(fresh.history["dev_cost"])  # paused, continued: the same
    assert best.metrics["dev_rmse"] == fresh.dev_rmse


@pytest.mark.parametrize(
    "assignment, said",
    [
        ("model.epochz=3", "--set model.epochz: unknown hyperparameter"),
        ("search.trials=abc", "--set search.trials: must be an integer"),
        ("search.trials.x=1", "search.trials is 4, not a mapping"),
        ("nonsense", "must look like name=value"),
    ],
)
def test_run_set_errors_are_one_line(tmp_path: Path, assignment: str, said: str) -> None:
    result = CliRunner().invoke(
        cli, ["run", str(config(tmp_path)), "--runs-dir", str(tmp_path / "runs"), "--set", assignment]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert said in line


def test_run_set_overrides_a_value_for_one_run_and_the_run_records_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(config(tmp_path)),
            "--runs-dir",
            str(tmp_path / "runs"),
            "-q",
            "--set",
            "model.epochs=2",
            "--set",
            "search.trials=2",
        ],
    )
    assert result.exit_code == 0, result.output
    stored = load_config(tmp_path / "runs" / "lin" / "config.yaml")
    assert stored.model["epochs"] == 2 and stored.search.trials == 2
