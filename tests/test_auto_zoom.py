"""The default ``auto`` zoom: part box, part TPE; all box while too few trials are finished to model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.search.api import Execution, start_search, zoom_search
from hpsearch.space.parsing import parse_space
from hpsearch.space.portfolio import auto_split, model_threshold, plan_auto
from hpsearch.space.search_space import Space
from hpsearch.space.zoom import zoom_space
from tests.test_tpe_search import write_config as tpe_config


def auto_config(folder: Path) -> Path:
    """The tpe tests' conditional Branin (4 dimensions, rounds 12 + 2 x 6), zoomed by the default."""
    path = tpe_config(folder)
    path.write_text(path.read_text().replace(", zoom: tpe", ""))
    return path


def _trials(result):
    return [
        (t.trial, t.round, t.params, t.status, t.ranking_value) for t in sorted(result.trials, key=lambda t: t.trial)
    ]


def test_the_split_is_all_box_until_there_are_enough_trials_to_model_then_half_and_half() -> None:
    assert model_threshold(2) == 10 and model_threshold(6) == 12
    assert auto_split(8, 6, 8, 1) == 8  # 8 finished < 12: nothing to model yet, all in the box (not at random)
    assert auto_split(16, 6, 8, 2) == 4 and auto_split(16, 6, 7, 1) == 4 and auto_split(16, 6, 7, 2) == 3
    assert [auto_split(10 + r, 2, 1, r) for r in range(1, 5)] == [1, 0, 1, 0]  # rounds of one take turns


def test_the_box_part_lies_in_the_box_and_the_plan_is_a_function_of_its_stream() -> None:
    reference, _ = parse_space(
        {"x": {"scale": "log", "low": 1e-3, "high": 1}, "k": {"choice": ["a", "b", "c"]}}, parameters=None
    )
    top = [{"x": 0.01, "k": "b"}, {"x": 0.02, "k": "b"}]
    box = zoom_space(reference, top, margin=0.05).space
    points = reference.unit_rows([*top, *({"x": 10.0**-e, "k": "a"} for e in (0.5, 1.5, 2.5) * 4)])
    losses = np.arange(len(points), dtype=float)
    plan = plan_auto(reference, box, points, losses, 6, 3, np.random.default_rng(7))
    assert np.array_equal(plan, plan_auto(reference, box, points, losses, 6, 3, np.random.default_rng(7)))
    for row in plan[:3]:
        params = reference.from_unit(row)
        assert box["x"].low <= params["x"] <= box["x"].high and params["k"] == "b"
    assert not np.isnan(plan).any() and ((plan >= 0) & (plan <= 1)).all()


def test_an_auto_round_is_stored_with_its_points_and_is_the_same_with_1_and_2_workers(tmp_path: Path) -> None:
    config = load_config(auto_config(tmp_path))
    assert config.search.zoom == "auto"  # the default for a new config
    one = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(config, runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert _trials(one) == _trials(two) and [r.planned for r in one.rounds] == [r.planned for r in two.rounds]
    assert [r.sampler for r in one.rounds] == ["random", "auto", "auto"]
    assert [len(r.planned) for r in one.rounds] == [0, 6, 6]
    space = Space.from_json(one.rounds[1].space)
    planned = [space.trial_params(space.from_unit(np.array(p))) for p in one.rounds[1].planned]
    assert [t.params for t in sorted(one.trials, key=lambda t: t.trial) if t.round == 1] == planned
    assert all(("shift" in p) == (p["kind"] != "a") for p in planned)  # inactive parameters stay absent


def test_show_and_the_dry_run_say_how_each_round_is_drawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # each description on one line of the table
    path = auto_config(tmp_path)
    path.write_text(path.read_text().replace("trials: 12,", "trials: 8,"))  # 8 < 10: round 1 all box
    dry = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert (
        "then 2 zoom rounds of 6 trials each, half in the box of the best 5 trials so far, half planned by tpe from "
        "every finished trial; round 1 all in the box (fewer than 10 finished trials to model 4 dimensions)"
    ) in " ".join(dry.output.split())
    run = CliRunner().invoke(cli, ["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--name", "r", "-q"])
    assert run.exit_code == 0, run.output
    assert "search.zoom: auto models the finished trials once there are 10 (4 dimensions); with trials: 8" in (
        " ".join(run.stderr.split())
    )
    shown = " ".join(CliRunner().invoke(cli, ["show", "r", "--runs-dir", str(tmp_path / "runs")]).output.split())
    assert "zoom top 5, too few trials for tpe │ box" in shown  # round 1: 8 finished
    assert "zoom top 5 + all trials │ box 3 + tpe 3" in shown  # round 2: 14 finished


def test_zoom_method_auto_adds_a_round_and_expand_is_refused_with_it(tmp_path: Path) -> None:
    path = tpe_config(tmp_path)
    path.write_text(path.read_text().replace("rounds: 3", "rounds: 1"))
    run = start_search(load_config(path), runs_dir=tmp_path / "runs", execution=Execution(workers=1))
    zoomed = zoom_search(run.run_dir, trials=4, method="auto", top_k=2, execution=Execution(workers=1))
    assert zoomed.rounds[-1].sampler == "auto" and zoomed.rounds[-1].top_k == 2 and len(zoomed.trials) == 16
    refused = CliRunner().invoke(cli, ["zoom", str(run.run_dir), "--method", "auto", "--expand"])
    assert refused.exit_code == 2 and "without --method auto" in refused.output and "Traceback" not in refused.output


BOWL = "def f(params):\n    return (params['x'] - 0.8) ** 2 + (params['y'] - 0.2) ** 2\n"


def _distances_by_round(tmp_path: Path, seeds: int = 6) -> dict[int, list[float]]:
    """Each round's distances to the bowl's minimum (0.8, 0.2), over ``seeds`` searches of 12 + 3 x 8 trials."""
    (tmp_path / "bowl_obj.py").write_text(BOWL)
    distances: dict[int, list[float]] = {}
    for seed in range(seeds):
        (tmp_path / "bowl.yaml").write_text(
            "objective: {python: bowl_obj:f, metric: value}\n"
            "space: {x: {scale: uniform, low: 0, high: 1}, y: {scale: uniform, low: 0, high: 1}}\n"
            f"search: {{trials: 12, seed: {seed}, rounds: 4, zoom_trials: 8, workers: 1}}\n"
        )
        result = start_search(load_config(tmp_path / "bowl.yaml"), runs_dir=tmp_path / "runs", name=f"s{seed}")
        assert [r.sampler for r in result.rounds] == ["random", "auto", "auto", "auto"]
        for t in result.trials:
            distances.setdefault(t.round, []).append(np.hypot(t.params["x"] - 0.8, t.params["y"] - 0.2))
    return distances


def _concentrates(distances: dict[int, list[float]]) -> bool:
    """Each zoom round's trials lie closer to the minimum on average than round 0's; the last ones much closer."""
    mean = [float(np.mean(distances[r])) for r in sorted(distances)]
    return all(m < mean[0] for m in mean[1:]) and mean[-1] < 0.4 * mean[0]


def test_on_a_smooth_bowl_the_auto_rounds_concentrate_near_the_minimum(tmp_path: Path) -> None:
    assert _concentrates(_distances_by_round(tmp_path))


def test_the_concentration_test_fails_when_the_zoom_is_replaced_by_uniform_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end-to-end check of the zoom itself: with every auto round drawn uniformly, the same test fails."""
    import hpsearch.search.rounds as rounds

    def uniform(reference, box, points, losses, n_new, n_box, rng):
        return rng.random((n_new, len(reference)))

    monkeypatch.setattr(rounds, "plan_auto", uniform)
    assert not _concentrates(_distances_by_round(tmp_path))


@pytest.mark.parametrize("method", ["halving", "hyperband"])
def test_under_early_stopping_an_auto_round_has_both_parts_and_is_the_same_with_1_and_2_workers(
    tmp_path: Path, method: str
) -> None:
    """Pruned trials and trials whose Hyperband bracket starts above the first rung count too: 12 finished
    (10 needed for the tiny config's dimensions) give round 1 a box part and a tpe part."""
    from tests.conftest import write_tiny_config

    extra = f"  rounds: 2\n  zoom_trials: 6\n  early_stopping: {{method: {method}, min_epochs: 1, eta: 3}}\n"
    config = load_config(write_tiny_config(tmp_path, trials=12, epochs=9, extra=extra))
    one = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(config, runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert [r.sampler for r in one.rounds] == ["random", "auto"]
    assert _trials(one) == _trials(two) and one.rounds[1].planned == two.rounds[1].planned
    n_box = auto_split(12, len(config.space), 6, 1)
    assert 0 < n_box < 6
