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
    high = start_search(
        load_config(write_config(tmp_path, direction="maximize", sign=-1.0)), runs_dir=tmp_path / "runs", name="max"
    )
    assert [r.planned for r in low.rounds] == [r.planned for r in high.rounds]
    assert [t.params["x"] for t in low.trials] == [t.params["x"] for t in high.trials]


def test_a_tpe_round_counts_failed_trials_as_bad_and_plans_away_from_them(tmp_path):
    """Half the space fails (x > 0.5); the optimum is far from it. Round 0 draws there half the time; the tpe
    rounds, which count a failed trial as worse than any result, much less."""
    (tmp_path / "failing_obj.py").write_text(
        "def f(params):\n"
        "    if params['x'] > 0.5:\n"
        "        raise ValueError('does not converge')\n"
        "    return (params['x'] - 0.2) ** 2 + (params['y'] - 0.5) ** 2\n"
    )
    (tmp_path / "failing.yaml").write_text(
        "objective: {python: failing_obj:f, metric: value}\n"
        "space: {x: {scale: uniform, low: 0, high: 1}, y: {scale: uniform, low: 0, high: 1}}\n"
        "search: {trials: 20, seed: 0, rounds: 3, zoom_trials: 10, zoom: tpe, workers: 1}\n"
    )
    result = start_search(load_config(tmp_path / "failing.yaml"), runs_dir=tmp_path / "runs")
    assert [r.sampler for r in result.rounds] == ["random", "tpe", "tpe"]

    def failed_share(rounds: set[int]) -> float:
        mine = [t for t in result.trials if t.round in rounds]
        return sum(t.status is TrialStatus.FAILED for t in mine) / len(mine)

    assert failed_share({0}) >= 0.3  # round 0 has failed trials to learn from
    assert failed_share({1, 2}) <= failed_share({0}) / 2


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


def test_show_report_and_plots_describe_each_round_alike_and_a_tpe_round_with_too_few_trials_as_random(tmp_path):
    from hpsearch.analysis.importance import ImportanceReport
    from hpsearch.analysis.plots.run_view import RunView
    from hpsearch.analysis.report import write_report
    from hpsearch.cli.render import console, rounds_table
    from hpsearch.core.records import RoundRecord, TrialRecord

    space = {"x": {"scale": "uniform", "low": 0, "high": 1}}
    rounds = [
        RoundRecord(0, space, 4, "random", "initial", first_trial=0),
        RoundRecord(1, space, 2, "random", "zoom", top_k=3, first_trial=4),
        RoundRecord(2, space, 6, "tpe", "zoom", first_trial=6),  # 6 trials before it: drawn at random
        RoundRecord(3, space, 2, "tpe", "zoom", first_trial=12),
    ]  # 12 before it: modelled by TPE
    trials = [
        TrialRecord(i, r.round, i - r.first_trial, {"x": i / 20}, i, TrialStatus.OK, dev_cost=1.0 / (i + 1))
        for r in rounds
        for i in range(r.first_trial, r.first_trial + r.n_trials)
    ]
    with console.capture() as captured:
        console.print(rounds_table(rounds, trials))
    rows = [
        [cell.strip() for cell in line.split("│")[1:4]]
        for line in captured.get().splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    ]
    expected = [
        ["0", "initial", "random"],
        ["1", "zoom top 3", "random"],
        ["2", "zoom, too few trials for tpe", "random"],
        ["3", "zoom, all trials", "tpe"],
    ]
    assert rows == expected
    page = write_report(
        tmp_path, run_name="r", rounds=rounds, trials=trials, images=[], importance=ImportanceReport("m", 0, [], False)
    ).read_text(encoding="utf-8")
    for _, kind, sampler in expected:
        assert f"{kind}, sampler {sampler}" in page
    assert "None" not in page
    view = RunView.of(rounds, trials, 3)
    assert [view.round_label(n) for n in range(4)] == [f"round {n} ({kind})" for n, kind, _ in expected]


def test_a_space_with_nothing_searched_zooms_by_repeating_its_fixed_trial_with_new_seeds(tmp_path):
    """Nothing to model or box: a zoom round (automatic, asked for, or resumed) trains the fixed point again,
    each trial on its own seed, as round 0 does."""
    from hpsearch.search.api import zoom_search

    (tmp_path / "fixed_obj.py").write_text("def f(params, trial):\n    return params['x'] + trial.seed % 7\n")
    (tmp_path / "fixed.yaml").write_text(
        "objective: {python: fixed_obj:f, metric: value}\nspace: {x: 5}\n"
        "search: {trials: 3, rounds: 2, seed: 0, workers: 1}\n"
    )
    run = start_search(load_config(tmp_path / "fixed.yaml"), runs_dir=tmp_path / "runs")
    for method in ("tpe", "box"):
        run = zoom_search(run.run_dir, top_k=2, trials=2, method=method)
    run = resume_search(run.run_dir)
    assert [r.n_trials for r in run.rounds] == [3, 3, 2, 2] and len(run.trials) == 10
    assert all(t.status is TrialStatus.OK and t.params == {} and t.value >= 5 for t in run.trials)
    assert len({t.seed for t in run.trials}) == 10


def test_tpe_rounds_land_closer_to_a_clear_optimum_than_uniform_draws(tmp_path):
    """The one end-to-end test that needs TPE itself: with the planner swapped for uniform draws it fails.

    A bowl with its minimum at (0.8, 0.2): over six seeds, the trials of the tpe round lie on average much
    closer to it than round 0's uniform draws (uniform draws, planned or not, lie at the same distance).
    """
    (tmp_path / "bowl_obj.py").write_text(
        "def f(params):\n    return (params['x'] - 0.8) ** 2 + (params['y'] - 0.2) ** 2\n"
    )
    distances = {0: [], 1: []}
    for seed in range(6):
        (tmp_path / "bowl.yaml").write_text(
            "objective: {python: bowl_obj:f, metric: value}\n"
            "space: {x: {scale: uniform, low: 0, high: 1}, y: {scale: uniform, low: 0, high: 1}}\n"
            f"search: {{trials: 30, seed: {seed}, rounds: 2, zoom_trials: 10, zoom: tpe, workers: 1}}\n"
        )
        result = start_search(load_config(tmp_path / "bowl.yaml"), runs_dir=tmp_path / "runs", name=f"s{seed}")
        assert [r.sampler for r in result.rounds] == ["random", "tpe"]
        for t in result.trials:
            distances[t.round].append(((t.params["x"] - 0.8) ** 2 + (t.params["y"] - 0.2) ** 2) ** 0.5)
    assert np.mean(distances[1]) < 0.6 * np.mean(distances[0])
