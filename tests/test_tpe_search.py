"""A search whose zoom rounds are planned by TPE (``search.zoom: tpe``): stored, replayed, direction-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.config.loading import load_config
from hpsearch.core.records import TrialStatus
from hpsearch.search.api import Execution, start_search
from hpsearch.space.search_space import Space
from hpsearch.storage.run_store import RunStore

# HPSEARCH_TEST_KILL_AT: the trial at which the objective kills its own search (tests/test_kill_resume.py)
MODULE = """\
import math, os, signal

def branin(params, trial):
    if os.environ.get("HPSEARCH_TEST_KILL_AT") == str(trial.number):
        os.kill(os.getpid(), signal.SIGKILL)
    x, y = params["x"], params["y"]
    value = (y - 0.13 * x * x + 1.6 * x - 6) ** 2 + 10 * (1 - 0.04) * math.cos(x) + 10
    assert ("shift" in params) == (params["kind"] != "a"), params  # inactive: not passed
    return params["sign"] * (value + {"a": 0.0, "b": 3.0, "c": 40.0}[params["kind"]] + params.get("shift", 0.0))
"""


def write_config(folder: Path, *, direction: str = "minimize", sign: float = 1.0, extra: str = "") -> Path:
    (folder / "branin_obj.py").write_text(MODULE)
    path = folder / f"tpe-{direction}.yaml"
    path.write_text(
        "objective:\n  python: branin_obj:branin\n  metric: value\n"
        f"  direction: {direction}\n"
        "space:\n"
        "  x: {scale: uniform, low: -5, high: 10}\n"
        "  y: {scale: uniform, low: 0, high: 15}\n"
        "  kind: {choice: [a, b, c]}\n"
        "  shift: {scale: uniform, low: 0, high: 1, when: {kind: [b, c]}}\n"
        f"  sign: {sign}\n"
        "search: {trials: 12, seed: 3, rounds: 3, zoom_trials: 6, zoom: tpe, workers: 1}\n" + extra
    )
    return path


def _trials(result):
    return [(t.trial, t.round, t.params, t.value) for t in sorted(result.trials, key=lambda t: t.trial)]


def test_a_tpe_round_is_stored_with_its_points_and_is_the_same_with_1_and_2_workers(tmp_path):
    config = load_config(write_config(tmp_path))
    one = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(config, runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert _trials(one) == _trials(two)
    rounds = one.rounds
    assert [r.sampler for r in rounds] == ["random", "tpe", "tpe"]
    assert [len(r.planned) for r in rounds] == [0, 6, 6] and "~planned" not in rounds[1].space
    space = Space.from_json(rounds[1].space)
    planned = [space.trial_params(space.from_unit(np.array(p))) for p in rounds[1].planned]
    assert [t.params for t in sorted(one.trials, key=lambda t: t.trial) if t.round == 1] == planned
    # Inactive parameters stay absent in the planned trials too.
    assert all(("shift" in p) == (p["kind"] != "a") for p in planned)


def test_a_maximized_metric_plans_the_same_tpe_rounds_as_its_negation_minimized(tmp_path):
    low = start_search(load_config(write_config(tmp_path)), runs_dir=tmp_path / "runs", name="min")
    high = start_search(load_config(write_config(tmp_path, direction="maximize", sign=-1.0)),
                        runs_dir=tmp_path / "runs", name="max")
    assert [r.planned for r in low.rounds] == [r.planned for r in high.rounds]
    assert [t.params["x"] for t in low.trials] == [t.params["x"] for t in high.trials]


def test_a_tpe_round_counts_failed_trials_as_bad_and_plans_away_from_nothing(tmp_path):
    result = start_search(load_config(write_config(tmp_path)), runs_dir=tmp_path / "runs")
    assert all(t.status is TrialStatus.OK for t in result.trials) and len(result.trials) == 24
    # The best trial is no worse after the tpe rounds than after random round 0.
    first = min(t.value for t in result.trials if t.round == 0)
    assert result.best.value <= first


def test_with_early_stopping_a_tpe_round_learns_from_pruned_trials_too(tmp_path):
    from hpsearch.search.rounds import trial_levels
    from tests.conftest import write_tiny_config

    extra = "  rounds: 2\n  zoom: tpe\n  early_stopping: {method: halving, min_epochs: 1, eta: 3}\n"
    config = load_config(write_tiny_config(tmp_path, trials=12, epochs=3, extra=extra))
    result = start_search(config, runs_dir=tmp_path / "runs")
    assert [r.sampler for r in result.rounds] == ["random", "tpe"] and len(result.rounds[1].planned) == 12
    first = sorted((t for t in result.trials if t.round == 0), key=lambda t: t.trial)
    with RunStore.open(result.run_dir) as store:
        levels = trial_levels(store, config, first)
    assert sum(t.status is TrialStatus.PRUNED for t in first) >= 6
    assert all(0 in level for level in levels)  # every trial, pruned ones too, has its first rung's value


def test_show_says_a_tpe_round_was_planned_from_all_trials_and_a_box_round_from_its_top_k():
    from hpsearch.cli.render import console, rounds_table
    from hpsearch.core.records import RoundRecord

    space = {"x": {"scale": "uniform", "low": 0, "high": 1}}
    rounds = [RoundRecord(0, space, 4, "random", "initial", first_trial=0),
              RoundRecord(1, space, 2, "random", "zoom", top_k=3, first_trial=4),
              RoundRecord(2, space, 2, "tpe", "zoom", first_trial=6)]
    with console.capture() as captured:
        console.print(rounds_table(rounds))
    kinds = [line.split("│")[2].strip() for line in captured.get().splitlines()
             if line.startswith("│") and line.split("│")[1].strip()]
    assert kinds == ["initial", "zoom top 3", "zoom, all trials"]
