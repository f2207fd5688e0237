"""``hpsearch resume RUN --trials +N`` / ``--rounds +N`` (issue 34): an extended run is, bit for bit, the run
that asked for the larger budget at the start."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.search.api import Execution, resume_search, start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

ONE = Execution(workers=1)


def _records(run_dir: Path) -> list[tuple]:
    with RunStore.open(run_dir, read_only=True) as store:
        rounds = [(r.round, r.space, r.n_trials, r.sampler, r.kind, r.planned) for r in store.rounds()]
        trials = [
            (t.trial, t.round, t.params, t.seed, t.status, t.dev_cost, t.value, t.history) for t in store.trials()
        ]
        search = {k: v for k, v in store.config["search"].items()}
    return [rounds, trials, search]


def _run(folder: Path, runs: Path, name: str, extra: str = "", **sizes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = load_config(write_tiny_config(folder, extra=extra, **{"epochs": 2, "samples": 120, **sizes}))
    return start_search(config, runs_dir=runs, name=name, execution=ONE).run_dir


@pytest.mark.parametrize("sampler", ["random", "quasi"])
def test_more_trials_make_the_run_that_asked_for_them_at_the_start(tmp_path: Path, sampler: str) -> None:
    runs = tmp_path / "runs"
    small = _run(tmp_path / "a", runs, "small", f"  sampler: {sampler}\n", trials=4)
    result = resume_search(small, execution=ONE, more_trials=3)
    assert len(result.trials) == 7
    big = _run(tmp_path / "b", runs, "big", f"  sampler: {sampler}\n", trials=7)
    assert _records(small) == _records(big)
    assert "trials: 7" in (small / "config.yaml").read_text()


@pytest.mark.parametrize(
    "extra",
    [
        "  zoom: tpe\n",
        "  zoom: box\n  zoom_trials: 3\n",
        "  early_stopping: {method: halving, min_epochs: 1, eta: 2}\n",
    ],
)
def test_more_rounds_are_planned_as_if_configured_from_the_start(tmp_path: Path, extra: str) -> None:
    runs = tmp_path / "runs"
    small = _run(tmp_path / "a", runs, "small", extra, trials=4, epochs=3)
    resume_search(small, execution=ONE, more_rounds=2)
    big = _run(tmp_path / "b", runs, "big", extra + "  rounds: 3\n", trials=4, epochs=3)
    assert _records(small) == _records(big)
    assert len(_records(small)[0]) == 3


def test_more_trials_then_more_rounds_equal_both_asked_for_at_the_start(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    small = _run(tmp_path / "a", runs, "small", "  zoom: box\n", trials=4)
    resume_search(small, execution=ONE, more_trials=2)
    resume_search(small, execution=ONE, more_rounds=1)
    big = _run(tmp_path / "b", runs, "big", "  zoom: box\n  rounds: 2\n", trials=6)
    assert _records(small) == _records(big)


@pytest.mark.parametrize(
    ("extra", "args", "words"),
    [
        ("  rounds: 2\n", ["--trials", "+2"], "has zoom rounds planned from round 0's trials"),
        ("  early_stopping: {method: halving, min_epochs: 1, eta: 2}\n", ["--trials", "+2"], "rungs were decided"),
        ("  sampler: grid\n  grid_points: 2\n", ["--trials", "+2"], "samples a grid"),
        ("", ["--trials", "2"], "--trials takes +N"),
        ("", ["--rounds", "+0"], "--rounds takes +N"),
    ],
)
def test_an_extension_that_cannot_equal_the_larger_run_is_refused_in_one_line(
    tmp_path: Path, runs_dir: Path, extra: str, args: list[str], words: str
) -> None:
    run_dir = _run(tmp_path / "a", runs_dir, "small", extra, trials=3)
    before = _records(run_dir)
    result = CliRunner().invoke(cli, ["resume", "small", *args, "-q"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and words in lines[0], result.output
    assert _records(run_dir) == before  # nothing changed


def test_the_cli_extends_a_run_and_says_so_in_its_leaderboard(tmp_path: Path, runs_dir: Path) -> None:
    _run(tmp_path / "a", runs_dir, "small", trials=3)
    result = CliRunner().invoke(cli, ["resume", "small", "--trials", "+2", "-q"])
    assert result.exit_code == 0, result.output
    assert len(_records(runs_dir / "small")[1]) == 5
