"""``search.enqueue`` (issue 34): known points trained first, exactly as given, the rest of the run unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.search.api import Execution, planned_trials, resume_search, start_search

CONDITIONAL = """\
name: cond
data: {{dataset: blobs, samples: 120, classes: 3, features: 4}}
model: {{layers: 1, epochs: 2}}
space:
  optimizer:     {{choice: [gd, momentum, adam]}}
  learning_rate: {{scale: log, low: 1.0e-3, high: 0.3}}
  hidden_units:  {{scale: int_log, low: 4, high: 32}}
  beta1:         {{scale: one_minus_log, low: 0.8, high: 0.999, when: {{optimizer: adam}}}}
  beta2:         {{scale: one_minus_log, low: 0.9, high: 0.9999, when: {{optimizer: adam}}}}
search:
  trials: 4
  seed: 3
  workers: 1
{extra}"""


def _config(folder: Path, extra: str = "") -> Path:
    path = folder / "cond.yaml"
    path.write_text(CONDITIONAL.format(extra=extra))
    return path


ADAM = "  enqueue:\n    - {optimizer: adam, beta1: 0.9, beta2: 0.999}\n    - {learning_rate: 0.01, hidden_units: 8.0}\n"


def test_enqueued_points_train_first_with_exactly_their_values_and_the_rest_drawn_as_without(tmp_path: Path) -> None:
    plain = planned_trials(load_config(_config(tmp_path)))
    queued = planned_trials(load_config(_config(tmp_path, ADAM)))
    first, second = queued[0].params, queued[1].params
    assert (first["optimizer"], first["beta1"], first["beta2"]) == ("adam", 0.9, 0.999)
    assert first["learning_rate"] == plain[0].params["learning_rate"]  # left out: drawn as trial 0 draws it
    assert second["learning_rate"] == 0.01 and second["hidden_units"] == 8 and isinstance(second["hidden_units"], int)
    assert second["optimizer"] == plain[1].params["optimizer"]
    assert [t.params for t in queued[2:]] == [t.params for t in plain[2:]]
    assert [t.seed for t in queued] == [t.seed for t in plain]  # the training seeds do not move


def test_an_enqueued_run_trains_the_given_values_and_resumes_to_the_same_trials(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, ADAM))
    one = Execution(workers=1)
    result = start_search(config, runs_dir=tmp_path / "runs", name="a", execution=one)
    again = start_search(config, runs_dir=tmp_path / "runs", name="b", execution=one)
    by_id = {t.trial: t for t in result.trials}
    assert by_id[0].params["beta1"] == 0.9 and by_id[0].params["beta2"] == 0.999
    assert by_id[1].params["learning_rate"] == 0.01
    assert [(t.params, t.dev_cost) for t in result.trials] == [(t.params, t.dev_cost) for t in again.trials]
    resumed = resume_search(result.run_dir, execution=one)  # the points live with the stored round
    assert [(t.params, t.dev_cost) for t in resumed.trials] == [(t.params, t.dev_cost) for t in result.trials]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("  enqueue:\n    - {beta1: 0.9}\n", "search.enqueue[0].beta1: beta1 applies only when optimizer in [adam]"),
        ("  enqueue:\n    - {learning_rate: 2.0}\n", "search.enqueue[0].learning_rate: 2 is outside log"),
        ("  enqueue:\n    - {optimizer: rmsprop}\n", "search.enqueue[0].optimizer: rmsprop is outside choice"),
        ("  enqueue:\n    - {epochs: 3}\n", "search.enqueue[0].epochs: epochs is not searched"),
        ("  enqueue: [{}, {}]\n", "search.enqueue: must be a list of points"),
        ("  enqueue: " + str([{"learning_rate": 0.01}] * 5) + "\n", "has 5 points but round 0 has 4 trials"),
        ("  sampler: grid\n  enqueue:\n    - {learning_rate: 0.01}\n", "a grid plans its own points"),
    ],
)
def test_a_bad_enqueued_point_is_one_line_naming_the_file_the_key_and_the_fix(
    tmp_path: Path, extra: str, words: str
) -> None:
    result = CliRunner().invoke(cli, ["run", str(_config(tmp_path, extra)), "--dry-run"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "cond.yaml" in lines[0] and words in lines[0] and (" — " in lines[0] or "must be" in lines[0]), lines[0]


def square(params: dict) -> float:
    """An own objective for the test below (top-level: a run stores it as module:function)."""
    return (params["x"] - 0.3) ** 2


def test_an_own_objective_gets_the_enqueued_point_first(tmp_path: Path) -> None:
    from hpsearch.search.api import tune

    result = tune(
        square, {"x": {"scale": "uniform", "low": -1, "high": 1}}, trials=3, runs_dir=tmp_path, enqueue=[{"x": 0.3}]
    )
    assert [t.params for t in result.trials if t.trial == 0] == [{"x": 0.3}] and result.best.value == 0.0
