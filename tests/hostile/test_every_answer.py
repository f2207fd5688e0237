"""Edges of the input a happy path never meets (issue 28): each gets the same quality of answer as the happy path.

Names that a trial's own columns already have, numbers far from 1, labels that float64 cannot tell apart, YAML
1.2 numbers, ``--set`` and ``--seed`` at the edge, and the messages of predict and confirm.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.analysis.leaderboard import leaderboard, write_csv, write_json
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.config.overrides import parse_assignments
from hpsearch.core.errors import ConfigError
from hpsearch.core.records import TrialRecord, TrialStatus

# 1. Names that collide with the fixed columns of an export.


@pytest.mark.parametrize(
    "name", ["seed", "round", "status", "rank", "trial", "error", "seconds", "confirm_mean", "history"]
)
def test_an_own_objective_refuses_a_parameter_or_metric_named_as_a_fixed_column(tmp_path: Path, name: str) -> None:
    path = tmp_path / "objective.yaml"
    path.write_text(
        f"objective: {{command: 'echo {{{name}}}', metric: {name}}}\n"
        f"space:\n  {name}: {{scale: int, low: 0, high: 5}}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    lines = str(exc.value).splitlines()
    assert any(f"space.{name}:" in line and f"my_{name}" in line for line in lines)
    assert any(f"objective.metric:" in line and f"my_{name}" in line for line in lines)


def test_the_engine_refuses_searching_seed_which_every_trial_sets_itself(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("data: {dataset: spirals}\nspace:\n  seed: {scale: int, low: 0, high: 5}\n")
    with pytest.raises(ConfigError, match=r"space\.seed: has no effect"):
        load_config(path)


def _objective_trials() -> list[TrialRecord]:
    """Two trials whose objective reported, beside its metric acc, numbers named as fixed columns."""
    return [
        TrialRecord(
            n,
            0,
            n,
            {"x": n},
            100 + n,
            TrialStatus.OK,
            value=-acc,
            epochs_run=3,
            metrics={"acc": acc, "trial": 99, "seed": 7, "epochs": 12, "loss": 0.5},
        )
        for n, acc in ((0, 0.8), (1, 0.9))
    ]


def test_reported_numbers_named_as_fixed_columns_are_kept_apart_in_csv_json_and_the_leaderboard() -> None:
    trials = _objective_trials()
    stream = io.StringIO()
    write_csv(trials, {}, stream, "acc")
    header, *rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert len(header) == len(set(header))
    records = [dict(zip(header, row)) for row in rows]
    assert [(r["trial"], r["seed"], r["reported_trial"], r["reported_seed"]) for r in records] == [
        ("1", "101", "99", "7"),
        ("0", "100", "99", "7"),
    ]
    stream = io.StringIO()
    write_json(trials, {}, stream, run="r", rounds=[], metric="acc")
    exported = json.loads(stream.getvalue())["trials"]
    assert [(t["trial"], t["seed"], t["reported_seed"], t["epochs"]) for t in exported] == [
        (1, 101, 7, 12),
        (0, 100, 7, 12),
    ]
    titles = [c.title for c in leaderboard(trials, ["x"], metric="acc").columns]
    assert len(titles) == len(set(titles))


def test_a_searched_epochs_and_the_epochs_run_get_two_titles() -> None:
    trials = [TrialRecord(0, 0, 0, {"epochs": 5}, 1, TrialStatus.OK, dev_cost=0.5, epochs_run=5)]
    titles = [c.title for c in leaderboard(trials, ["epochs"]).columns]
    assert len(titles) == len(set(titles))
    titles = [c.title for c in leaderboard(_objective_trials(), ["x"], metric="acc").columns]  # a reported epochs
    assert len(titles) == len(set(titles))


# 6. A seed past what a config file holds.


def test_a_seed_of_23_digits_is_refused_at_the_command_line(tiny_config: Path, runs_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tiny_config), "--seed", "1" * 23, "--dry-run"])
    assert result.exit_code == 2 and "--seed" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(ConfigError, match="search.seed"):
        load_config(tiny_config).with_search(seed=10**22)


def test_the_largest_seed_a_run_takes_reads_back_from_its_config(tiny_config: Path) -> None:
    seed = max(s for s in (10**k - 1 for k in range(1, 40)) if _accepted(tiny_config, s))
    assert len(str(seed)) >= 18  # a search seed of 18 digits works ...
    text = tiny_config.read_text().replace("  seed: 7\n", f"  seed: {seed}\n")  # ... and reads back from a file
    tiny_config.write_text(text)
    assert load_config(tiny_config).search.seed == seed


def _accepted(path: Path, seed: int) -> bool:
    try:
        load_config(path).with_search(seed=seed)
        return True
    except ConfigError:
        return False


# 5. --set: the last flag wins, problems name --set KEY, a bare name is told its section, an empty section is one.


def _dry_run(config: Path, *sets: str) -> Any:
    return CliRunner().invoke(cli, ["run", str(config), "--dry-run", *(a for s in sets for a in ("--set", s))])


def test_the_last_set_of_a_key_wins_even_after_a_whole_section(tiny_config: Path, runs_dir: Path) -> None:
    config = load_config(tiny_config, parse_assignments(["search.trials=3", "search={trials: 2}", "search.trials=4"]))
    assert config.search.trials == 4


def test_a_set_problem_names_set_key_and_no_line_of_the_file(tiny_config: Path, runs_dir: Path) -> None:
    for assignment, key in (
        ("search.trials=0", "search.trials"),
        ("space.learning_rate.low=5", "space.learning_rate.low"),
        ("serch.trials=2", "serch.trials"),
    ):
        result = _dry_run(tiny_config, assignment)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: --set {key}: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_run_set_of_a_bare_hyperparameter_suggests_its_sections(tiny_config: Path, runs_dir: Path) -> None:
    result = _dry_run(tiny_config, "learning_rate=0.01")
    assert result.exit_code == 2
    assert "--set model.learning_rate=" in result.stderr and "--set space.learning_rate=" in result.stderr
    result = CliRunner().invoke(cli, ["train", str(tiny_config), "--set", "model.learning_rate=0.01"])
    assert result.exit_code == 2 and "--set learning_rate=" in result.stderr


def test_an_empty_section_is_an_empty_mapping_for_set(tiny_config: Path, runs_dir: Path) -> None:
    tiny_config.write_text(tiny_config.read_text().split("search:")[0] + "search:\n")
    assert load_config(tiny_config, parse_assignments(["search.trials=2"])).search.trials == 2


# 3. Labels are told apart by the text the file holds unless float64 gives that text back.


def _classes(tmp_path: Path, labels: list[str], **data: Any) -> tuple[str, ...]:
    from hpsearch.data.data_config import validate_data_config
    from hpsearch.data.datasets import load_dataset

    path = tmp_path / "labels.csv"
    path.write_text("a,b,y\n" + "".join(f"{k % 7},{k % 5},{y}\n" for k, y in enumerate(labels)))
    config, problems = validate_data_config({"path": str(path), "label": "y", **data})
    assert config is not None, problems
    return load_dataset(config).class_names


def test_integer_labels_past_2_to_the_53_stay_distinct_classes(tmp_path: Path) -> None:
    labels = [str(2**60 + k) for k in range(40)] * 3  # 40 labels float64 rounds to a few
    names = _classes(tmp_path, labels, task="classification")
    assert len(names) == 40 and set(names) == set(labels)


def test_labels_written_differently_are_different_classes(tmp_path: Path) -> None:
    assert _classes(tmp_path, ["007", "07", "7", "8"] * 4) == ("007", "07", "7", "8")


def test_number_labels_float64_keeps_are_classes_in_numeric_order(tmp_path: Path) -> None:
    assert _classes(tmp_path, ["10", "2", "1.0", "1", "0.5"] * 4) == ("0.5", "1", "2", "10")


# 2. Numbers far from 1: scaled right, or one line.


def _regression_file(tmp_path: Path, target: float = 1.0, feature: float = 1.0, constant: bool = False) -> Path:
    """A linear target of two features, the target times ``target`` and the features times ``feature``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.full(200, 3.5) if constant else 3 * X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=200)
    path = tmp_path / "numbers.csv"
    path.write_text(
        "a,b,y\n"
        + "".join(f"{float(a * feature)!r},{float(b * feature)!r},{float(t * target)!r}\n" for (a, b), t in zip(X, y))
    )
    return path


def _fit(path: Path) -> tuple[Any, dict[str, Any], Any]:
    """The dataset of a regression file, and the result and network of a small model trained on it."""
    from hpsearch.data.data_config import validate_data_config
    from hpsearch.data.datasets import load_dataset
    from hpsearch.nn import train
    from hpsearch.nn.hyperparams import ModelConfig

    config, problems = validate_data_config({"path": str(path), "label": "y", "task": "regression"})
    assert config is not None, problems
    data = load_dataset(config)
    result, network = train(ModelConfig.from_dict({"epochs": 30, "learning_rate": 0.01}), data)
    return data, result.to_dict(), network


@pytest.mark.parametrize("target, feature", [(1e160, 1.0), (1e-300, 1.0), (1.0, 1e160), (1.0, 1e-300)])
def test_targets_and_features_far_from_1_train_as_well_as_near_1(tmp_path: Path, target: float, feature: float) -> None:
    data, result, _ = _fit(_regression_file(tmp_path, target, feature))
    assert np.all(np.isfinite(data.target_scale)) and np.all(data.target_scale > 0)
    assert np.allclose(data.X_train.std(axis=0), 1.0, atol=0.2)  # standardized, not zeroed nor blown up
    _, plain, _ = _fit(_regression_file(tmp_path))
    assert result["status"] == "ok"
    assert result["dev_r2"] > 0.9 and result["dev_r2"] == pytest.approx(plain["dev_r2"])
    assert result["dev_rmse"] / target == pytest.approx(plain["dev_rmse"])


def test_a_run_on_targets_near_1e160_reads_its_own_dataset_back(tmp_path: Path, runs_dir: Path) -> None:
    path = _regression_file(tmp_path, 1e160)
    config = tmp_path / "big.yaml"
    config.write_text(
        f"data: {{path: {path}, label: y, task: regression}}\nmodel: {{epochs: 2}}\n"
        "space:\n  learning_rate: {scale: log, low: 1.0e-3, high: 0.1}\nsearch: {trials: 2, workers: 1}\n"
    )
    result = CliRunner().invoke(cli, ["run", str(config), "--quiet", "--name", "big"])
    assert result.exit_code == 0, result.stderr
    shown = CliRunner().invoke(cli, ["show", str(runs_dir / "big")])
    assert shown.exit_code == 0 and "damaged" not in shown.stderr


def test_a_constant_target_is_one_line_before_any_run_folder(tmp_path: Path, runs_dir: Path) -> None:
    path = _regression_file(tmp_path, constant=True)
    config = tmp_path / "constant.yaml"
    config.write_text(
        f"data: {{path: {path}, label: y, task: regression}}\nmodel: {{epochs: 2}}\nsearch: {{trials: 2, workers: 1}}\n"
    )
    result = CliRunner().invoke(cli, ["run", str(config), "--quiet"])
    assert result.exit_code == 2 and "'y' is 3.5 in every training row" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


# 7. predict on a file with none of the model's columns says which it needs.


def test_predict_on_a_file_with_none_of_the_models_columns_names_them(tmp_path: Path) -> None:
    from hpsearch.core.errors import DataError
    from hpsearch.predict.model import Model, predict_csv

    data, _, network = _fit(_regression_file(tmp_path))
    Model.from_training(network, data).save(tmp_path / "model.npz")
    other = tmp_path / "other.csv"
    other.write_text("p,q\n1,2\n3,4\n")
    with pytest.raises(DataError) as exc:
        predict_csv(tmp_path / "model.npz", other)
    message = str(exc.value)
    assert "no data rows" not in message and "'a'" in message and "'b'" in message


def test_task_auto_counts_integer_labels_past_2_to_the_53_as_distinct(tmp_path: Path) -> None:
    from hpsearch.data.tables import read_csv
    from hpsearch.data.tasks import REGRESSION, decide_task

    path = tmp_path / "ids.csv"
    path.write_text("a,y\n" + "".join(f"{k},{2**60 + k}\n" for k in range(120)))  # 120 values in 120 rows
    assert decide_task([read_csv(path, "y")["y"]], "auto")[0] == REGRESSION
