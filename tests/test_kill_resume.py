"""kill -9 at any moment, then resume: the same run, to the last bit, as one trained straight through.

One scenario per run kind (plain search with a zoom round, successive halving, packed same-shape trials, TPE
zoom rounds of an own objective, confirm), all through ``tests.kill_resume``: the child process is killed at
the listed points of its progress (several kills resume in between), the run is finished in-process, and
``fingerprint`` compares it with the straight run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.search.api import Execution, resume_search, start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.kill_resume import epoch_rows, fingerprint, kill_at, record_count, repeat_rows
from tests.test_auto_zoom import auto_config
from tests.test_early_stopping import halving_config
from tests.test_stacked_search import HALVING as STACKED_HALVING
from tests.test_stacked_search import write_config as stacked_config
from tests.test_tpe_search import write_config as tpe_config

TWO = Execution(workers=2)
CONFIRM = ["--top", "3", "--seeds", "4"]


@dataclass(frozen=True)
class Kind:
    """A run kind's scenario. ``config`` writes its config into a folder; ``straight`` makes the run trained
    straight through and returns its folder (``runs/killed`` may be made there too, for confirm); each of
    ``commands`` is started and killed once ``progress`` of ``runs/killed`` reaches its ``kills_at``
    (None: the command kills itself, told by ``env``); ``after_kills`` checks what the kills left;
    ``finish`` completes the killed run in-process."""

    config: Callable[[Path], Path]
    straight: Callable[[Path, Path], Path]
    commands: Callable[[Path], list[list[str]]]
    kills_at: tuple[int | None, ...]
    progress: Callable[[Path], int]
    finish: Callable[[Path], None] = lambda run: resume_search(run, execution=TWO) and None
    env: dict[str, str] | None = None
    after_kills: Callable[[Path], None] = lambda run: None


def _search(config: Path, runs: Path, workers: int = 1) -> Path:
    return start_search(
        load_config(config), runs_dir=runs, name="straight", execution=Execution(workers=workers)
    ).run_dir


def _run_then_resume(*, workers: int, kills: int) -> Callable[[Path], list[list[str]]]:
    """``run --name killed`` killed first, then ``resume killed`` killed ``kills - 1`` times."""
    return lambda config: (
        [["run", str(config), "--name", "killed", "-q", "-w", str(workers)]]
        + [["resume", "killed", "-q", "-w", str(workers)]] * (kills - 1)
    )


def _killed_in_round_1_at_trial_15(run: Path) -> None:
    with RunStore.open(run) as store:
        assert len(store.rounds()) == 2 and len(store.trials()) == 15


def _killed_at_trial_15(config: Callable[[Path], Path]) -> Kind:
    """The conditional Branin of the tpe tests, whose objective kills its own search at trial 15 (round 1)."""
    return Kind(
        config,
        _search,
        _run_then_resume(workers=1, kills=1),
        (None,),
        record_count,
        env={"HPSEARCH_TEST_KILL_AT": "15"},
        after_kills=lambda run: _killed_in_round_1_at_trial_15(run),
    )


def _confirm_straight(config: Path, runs: Path) -> Path:
    """The searched run, twice: ``killed`` (to be confirmed under kills) and ``straight``, confirmed at once."""
    killed = start_search(load_config(config), runs_dir=runs, name="killed").run_dir
    shutil.copytree(killed, runs / "straight")
    confirm_run(runs / "straight", top_k=3, seeds=4, execution=Execution(workers=1))
    return runs / "straight"


def _confirm_again(run: Path) -> None:
    """``confirm`` again trains only the repeats the kill lost, and says how many."""
    saved = repeat_rows(run)
    assert 2 <= saved < 12
    again = CliRunner().invoke(cli, ["confirm", str(run), *CONFIRM, "-w", "2"])
    assert again.exit_code == 0, again.output
    assert f"{12 - saved} of 12 repeats to train" in again.output


def _cv_config(folder: Path) -> Path:
    """The tiny search with data.cv: 3 (a trial is recorded once its three folds are in)."""
    path = write_tiny_config(folder, trials=10, epochs=15, samples=1500)
    path.write_text(path.read_text().replace("  noise: 1.0\n", "  noise: 1.0\n  cv: 3\n"))
    return path


KINDS = {
    # killed three times: in round 0 twice, then in the zoom round
    "search": Kind(
        lambda f: write_tiny_config(
            f, trials=14, epochs=15, samples=3000, extra="  rounds: 2\n  zoom_trials: 4\n  top_k: 3\n"
        ),
        _search,
        _run_then_resume(workers=2, kills=3),
        (2, 7, 15),
        record_count,
    ),
    # in rung 1, after its promotions, in rung 2
    "halving": Kind(
        lambda f: halving_config(f, trials=9, epochs=27, samples=2000),
        lambda c, r: _search(c, r, workers=2),
        _run_then_resume(workers=2, kills=3),
        (3, 12, 15),
        epoch_rows,
    ),
    # one pack of rung 0 stored, the other lost
    "packed": Kind(
        lambda f: stacked_config(f, trials=12, epochs=9, samples=1500, extra=STACKED_HALVING),
        _search,
        _run_then_resume(workers=2, kills=1),
        (1,),
        epoch_rows,
    ),
    # the objective kills its own search at trial 15, in the first tpe round
    "tpe": _killed_at_trial_15(tpe_config),
    # the default auto zoom, killed at trial 15, in round 1's tpe part (its box part is trials 12-14)
    "auto": _killed_at_trial_15(auto_config),
    # cross-validation: killed with some trials' folds trained and not yet recorded, twice
    "cv": Kind(_cv_config, _search, _run_then_resume(workers=2, kills=2), (2, 5), record_count),
    "confirm": Kind(
        lambda f: write_tiny_config(f, trials=4, epochs=15, samples=3000),
        _confirm_straight,
        lambda config: [["confirm", "killed", *CONFIRM, "-q", "-w", "2"]],
        (2,),
        repeat_rows,
        finish=_confirm_again,
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_run_killed_then_resumed_equals_a_straight_run(kind: str, tmp_path: Path) -> None:
    scenario, runs = KINDS[kind], tmp_path / "runs"
    config = scenario.config(tmp_path)
    straight = scenario.straight(config, runs)
    killed = runs / "killed"
    env = {**(scenario.env or {}), "PYTHONPATH": str(tmp_path)}  # an own objective's module lies there
    for command, at_least in zip(scenario.commands(config), scenario.kills_at, strict=True):
        kill_at(command, runs, lambda: scenario.progress(killed), at_least, env=env)
    assert 0 < scenario.progress(killed) < scenario.progress(straight)  # stopped part-way, with something kept
    scenario.after_kills(killed)
    scenario.finish(killed)
    assert fingerprint(killed) == fingerprint(straight)
    with RunStore.open(killed) as store:
        ids = [t.trial for t in store.trials()]
    assert ids == sorted(set(ids)) == list(range(len(ids)))  # no trial lost, none twice
