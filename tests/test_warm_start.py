"""``search.warm_start`` / ``run --from`` (issue 34): earlier runs' finished trials are history for the zoom rounds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.search.api import Execution, start_search, zoom_search
from hpsearch.search.history import planner_history
from hpsearch.search.run_config import stored_config
from hpsearch.storage.run_store import RunStore

ONE = Execution(workers=1)
FIXTURES = Path(__file__).parent / "fixtures"

CONFIG = """\
name: {name}
data: {{dataset: blobs, samples: 150, classes: 3, features: 4, noise: {noise}}}
model: {{layers: 1, epochs: 2}}
space:
{space}search:
  workers: 1
{search}"""
SPACE = """\
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
  hidden_units:  {scale: int_log, low: 4, high: 32}
"""


def _config(folder: Path, name: str, search: str, space: str = SPACE, noise: float = 3.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    search = search if "seed:" in search else search + "  seed: 5\n"
    path.write_text(CONFIG.format(name=name, search=search, space=space, noise=noise))
    return path


def _start(folder: Path, runs: Path, name: str, search: str, **kwargs) -> Path:
    config = load_config(_config(folder, name, search, **{k: v for k, v in kwargs.items() if k != "force"}))
    return start_search(config, runs_dir=runs, name=name, execution=ONE, force=kwargs.get("force", False)).run_dir


def _round(run_dir: Path, round: int) -> list[tuple]:
    with RunStore.open(run_dir, read_only=True) as store:
        return [(t.params, t.seed, t.dev_cost, t.history) for t in store.trials(round)]


@pytest.mark.parametrize("zoom", ["tpe", "box"])
def test_a_zoom_from_a_warm_start_equals_zooming_that_run_itself(tmp_path: Path, zoom: str) -> None:
    runs = tmp_path / "runs"
    earlier = _start(tmp_path, runs, "a", f"  trials: 10\n  zoom: {zoom}\n")
    warm = _start(
        tmp_path, runs, "b", f"  trials: 0\n  rounds: 2\n  zoom_trials: 6\n  zoom: {zoom}\n  warm_start: [a]\n"
    )
    zoom_search(earlier, trials=6, execution=ONE)
    assert len(_round(warm, 1)) == 6 and _round(warm, 1) == _round(earlier, 1)
    with RunStore.open(warm, read_only=True) as store:
        assert store.trials(0) == [] and [w.source for w in store.tables.warm.all()] == ["a"] * 10


def test_warm_history_changes_the_zoom_rounds_plan_and_is_kept_when_the_earlier_run_is_gone(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _start(tmp_path, runs, "a", "  trials: 10\n  seed: 9\n")
    search = "  trials: 10\n  rounds: 2\n"
    cold = _start(tmp_path, runs, "cold", search)
    warm = _start(tmp_path, runs, "warm", search + "  warm_start: [a]\n")
    assert _round(cold, 0) == _round(warm, 0)  # round 0 is the run's own
    assert [p for p, *_ in _round(cold, 1)] != [p for p, *_ in _round(warm, 1)]
    with RunStore.open(warm, read_only=True) as store:
        history, levels = planner_history(store, stored_config(store))
    assert [t.trial for t in history] == list(range(-10, 20)) and len(levels) == 30
    copy = runs / "copy"
    shutil.copytree(warm, copy)
    zoom_search(warm, trials=3, execution=ONE)
    shutil.rmtree(runs / "a")
    zoom_search(copy, trials=3, execution=ONE)  # the history lives in the run: the same round without "a"
    assert _round(copy, 2) == _round(warm, 2)


CONDITIONAL = """\
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
  optimizer:     {choice: [gd, adam]}
  beta1:         {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: adam}}
"""
NARROW = """\
  learning_rate: {scale: log, low: 1.0e-2, high: 0.3}
  optimizer:     {choice: [gd, adam]}
  beta1:         {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: gd}}
"""


def test_misfitting_trials_are_counted_and_left_out_with_their_reason(tmp_path: Path, runs_dir: Path) -> None:
    _start(tmp_path, runs_dir, "a", "  trials: 12\n", space=CONDITIONAL)
    _start(tmp_path, runs_dir, "other", "  trials: 3\n")  # no optimizer: a parameter the new space searches
    path = _config(tmp_path, "b", "  trials: 2\n  rounds: 2\n  warm_start: [a, other]\n", space=NARROW)
    result = CliRunner().invoke(cli, ["run", str(path), "-q"])
    assert result.exit_code == 0, result.output
    with RunStore.open(runs_dir / "b", read_only=True) as store:
        warm = store.tables.warm.all()
    with RunStore.open(runs_dir / "a", read_only=True) as store:
        earlier = {t.trial: t.params for t in store.trials()}
    for w in [w for w in warm if w.source == "a"]:
        params = earlier[w.source_trial]
        expected = (
            "outside bounds"
            if params["learning_rate"] < 0.01
            else "condition violated"
            if "beta1" in params
            else "parameter missing"
            if params["optimizer"] == "gd"
            else None
        )
        assert (w.left_out or "").partition(":")[0] == (expected or ""), (params, w.left_out)
    assert all(w.left_out.startswith("parameter missing: ") for w in warm if w.source == "other")
    counted = sum(w.left_out is None for w in warm if w.source == "a")
    assert f"warm start: {counted} trials of run 'a' count" in result.stderr
    assert "warm start: 0 trials of run 'other' count as history for the zoom rounds (3 left out: 3 parameter" in (
        result.stderr
    )


def test_another_dataset_is_refused_in_one_line_unless_forced(tmp_path: Path, runs_dir: Path) -> None:
    _start(tmp_path, runs_dir, "a", "  trials: 3\n")
    path = _config(tmp_path, "b", "  trials: 2\n  rounds: 2\n", noise=1.0)
    result = CliRunner().invoke(cli, ["run", str(path), "--from", "a", "-q"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "run 'a' has other data" in lines[0], result.output
    assert "--force" in lines[0] and not (runs_dir / "b").exists()
    forced = CliRunner().invoke(cli, ["run", str(path), "--from", "a", "--force", "-q"])
    assert forced.exit_code == 0 and "warning: warm start from run 'a', which has other data" in forced.stderr


@pytest.mark.parametrize(
    ("search", "words"),
    [
        ("  trials: 0\n", "search.trials: must be an integer from 1, got 0 — 0 needs search.warm_start"),
        ("  trials: 0\n  warm_start: [a]\n", "needs zoom rounds of their own size"),
        ("  warm_start: a\n", "search.warm_start: must be a list of run names"),
    ],
)
def test_a_bad_warm_start_setting_is_one_line(tmp_path: Path, runs_dir: Path, search: str, words: str) -> None:
    result = CliRunner().invoke(cli, ["run", str(_config(tmp_path, "b", search)), "-q"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and words in lines[0], result.output


def test_a_run_of_schema_4_opens_migrated_and_is_warm_started_from(tmp_path: Path, runs_dir: Path) -> None:
    shutil.copytree(FIXTURES / "v4-run", runs_dir / "v4-run")
    for args in (
        ["show", "v4-run"],
        ["export", "v4-run", "--json", str(tmp_path / "v4.json")],
        ["resume", "v4-run", "-q"],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
    with RunStore.open(runs_dir / "v4-run", read_only=True) as store:
        assert store.tables.warm.all() == [] and len(store.trials()) == 6
    path = _config(tmp_path, "b", "  trials: 0\n  rounds: 2\n  zoom_trials: 3\n", noise=1.0, space=SPACE)
    path.write_text(path.read_text().replace("noise: 1.0}", "noise: 1.0}").replace("samples: 150", "samples: 120"))
    result = CliRunner().invoke(cli, ["run", str(path), "--from", "v4-run", "-q"])
    assert result.exit_code == 0 and "warm start: 6 trials of run 'v4-run' count" in result.stderr, result.output


def test_show_and_export_mark_the_warm_trials_apart_from_the_runs_own(tmp_path: Path, runs_dir: Path) -> None:
    import json

    _start(tmp_path, runs_dir, "a", "  trials: 4\n", space=CONDITIONAL)
    _start(tmp_path, runs_dir, "b", "  trials: 6\n  warm_start: [a]\n", space=NARROW)
    shown = CliRunner().invoke(cli, ["show", "b"])
    assert shown.exit_code == 0 and "warm start: " in shown.stdout and "trials of run 'a' count" in shown.stdout
    assert "6/6 trials done" in shown.stdout  # the leaderboard is the run's own
    exported = CliRunner().invoke(cli, ["export", "b", "--json", "-"])
    document = json.loads(exported.stdout)
    assert len(document["trials"]) == 6 and len(document["warm_start"]) == 4
    with RunStore.open(runs_dir / "b", read_only=True) as store:
        warm = store.tables.warm.all()
    assert [(w["source"], w["source_trial"], w["counted"], w["left_out"]) for w in document["warm_start"]] == [
        ("a", w.source_trial, w.left_out is None, w.left_out) for w in warm
    ]
    pytest.importorskip("matplotlib", reason="plots need the plot extra")
    plotted = CliRunner().invoke(cli, ["plot", "b", "--out", str(tmp_path / "plots")])
    assert plotted.exit_code == 0, plotted.output
    assert "trials of run &#x27;a&#x27; count as history" in (tmp_path / "plots" / "report.html").read_text()


def test_a_dry_run_says_what_the_warm_start_gives_and_refuses_what_run_refuses(tmp_path: Path, runs_dir: Path) -> None:
    _start(tmp_path, runs_dir, "a", "  trials: 3\n")
    path = _config(tmp_path, "b", "  trials: 0\n  rounds: 2\n  zoom_trials: 4\n")
    planned = CliRunner().invoke(cli, ["run", str(path), "--from", "a", "--dry-run"])
    assert planned.exit_code == 0 and "warm start: 3 trials of run 'a' count" in planned.stdout, planned.output
    other = _config(tmp_path, "c", "  trials: 2\n", noise=1.0)
    refused = CliRunner().invoke(cli, ["run", str(other), "--from", "a", "--dry-run"])
    assert refused.exit_code == 2 and "run 'a' has other data" in refused.stderr
    assert not (runs_dir / "b").exists() and not (runs_dir / "c").exists()
