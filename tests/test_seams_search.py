"""Where the search meets the rest: retried trials in halving, confirm's interval, dask's late connect, hints."""

from __future__ import annotations

import gc
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpsearch.execution.dask_cluster as dask_cluster
import hpsearch.execution.segments
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.confirm.summary import summarise
from hpsearch.core.errors import RunError
from hpsearch.core.records import RepeatRecord, TrialRecord, TrialStatus
from hpsearch.search.api import resume_search, start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.test_early_stopping import HALVING

# -- halving × retry ----------------------------------------------------------------------------


def test_retried_trials_rejoin_the_rung_they_failed_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rungs 1, 3, 9 epochs; of rung 1's three trials, its winner X and a loser Y fail there. Rung 1 is
    decided without them (the third, Z, goes on). Retried, X is judged by the stored results as the rule
    would have: promoted late and trained to the top, bit for bit as in a run where nothing failed; Y gets
    its pruned record at rung 1. No checkpoint is left behind."""
    config = load_config(write_tiny_config(tmp_path, trials=9, epochs=9, extra=HALVING))
    straight = start_search(config, runs_dir=tmp_path / "runs", name="straight")
    with RunStore.open(straight.run_dir) as store:
        rung1 = store.promotions(0)[(0, 0)]
        (x,) = store.promotions(0)[(0, 1)]
        expected = {t.trial: t for t in store.trials()}
    y, z = [t for t in rung1 if t != x]
    seeds = {expected[x].seed, expected[y].seed}
    real_fit = hpsearch.execution.segments.fit

    def flaky_fit(state, data, until_epoch, *args, **kwargs):
        if until_epoch == 3 and state.config.seed in seeds:
            raise RuntimeError("simulated out of memory")
        return real_fit(state, data, until_epoch, *args, **kwargs)

    monkeypatch.setattr(hpsearch.execution.segments, "fit", flaky_fit)
    failing = start_search(config, runs_dir=tmp_path / "runs", name="failing")
    statuses = {t.trial: t.status for t in failing.trials}
    assert statuses[x] is statuses[y] is TrialStatus.FAILED and statuses[z] is TrialStatus.OK
    monkeypatch.undo()

    resume_search(failing.run_dir, retry_failed=True)
    with RunStore.open(failing.run_dir) as store:
        got = {t.trial: t for t in store.trials()}
        assert sorted(store.promotions(0)[(0, 1)]) == sorted([x, z])  # the stored decision stands; X joins it
    assert got[x].status is TrialStatus.OK and got[x].epochs_run == 9
    assert got[x].history == expected[x].history and got[x].dev_cost == expected[x].dev_cost
    assert (got[y].status, got[y].rung, got[y].value) == (TrialStatus.PRUNED, 1, expected[y].value)
    assert not list((failing.run_dir / "checkpoints").glob("*.npz"))


def test_a_trial_retried_before_its_rung_was_decided_counts_like_any_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=9, epochs=9, extra=HALVING))
    straight = start_search(config, runs_dir=tmp_path / "runs", name="straight")
    real_fit = hpsearch.execution.segments.fit

    def failing_fit(state, data, until_epoch, *args, **kwargs):
        if until_epoch == 3:  # every trial of rung 1 fails: its promotions cannot be decided
            raise RuntimeError("simulated out of memory")
        return real_fit(state, data, until_epoch, *args, **kwargs)

    monkeypatch.setattr(hpsearch.execution.segments, "fit", failing_fit)
    failing = start_search(config, runs_dir=tmp_path / "runs", name="failing")
    monkeypatch.undo()
    resume_search(failing.run_dir, retry_failed=True)
    from tests.kill_resume import fingerprint

    assert fingerprint(failing.run_dir) == fingerprint(straight.run_dir)
    assert not list((failing.run_dir / "checkpoints").glob("*.npz"))


# -- confirm's interval ---------------------------------------------------------------------------


def _trial(trial: int) -> TrialRecord:
    return TrialRecord(
        trial=trial,
        round=0,
        index=trial,
        params={},
        seed=trial,
        status=TrialStatus.OK,
        dev_cost=0.1,
        train_cost=0.1,
        dev_accuracy=0.9,
        epochs_run=3,
        seconds=0.1,
    )


def _repeats(trial: int, values: list[float]) -> list[RepeatRecord]:
    return [
        RepeatRecord(
            trial,
            r,
            100 + r,
            TrialStatus.OK,
            value=v,
            dev_cost=v,
            train_cost=v,
            dev_accuracy=0.9,
            epochs_run=3,
            seconds=0.1,
        )
        for r, v in enumerate(values)
    ]


def test_the_interval_of_a_cost_never_goes_below_zero_but_an_own_value_is_not_clipped() -> None:
    repeats = _repeats(0, [0.05, 0.3])  # two seeds: mean ± 12.7 · std / √2 reaches far below 0
    clipped = summarise([_trial(0)], repeats, lower_bound=0.0).trials[0]
    assert clipped.interval[0] == 0.0 and clipped.interval[1] == pytest.approx(0.175 + 12.706 * 0.125, rel=1e-4)
    unbounded = summarise([_trial(0)], repeats).trials[0]
    assert unbounded.interval[0] < 0


def test_an_engine_run_confirmed_with_two_seeds_has_no_negative_j(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=4, epochs=3, samples=120))
    run = start_search(config, runs_dir=tmp_path / "runs")
    confirmation = confirm_run(run.run_dir, top_k=3, seeds=2)
    assert all(c.interval[0] >= 0.0 for c in confirmation.trials)
    assert any(c.interval[0] == 0.0 for c in confirmation.trials)  # where the t interval reached below 0


# -- dask: a connect that answers after the deadline ------------------------------------------------


def test_a_client_connected_after_the_deadline_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_cluster, "DASK_CONNECT_TIMEOUT_S", 0.05)
    monkeypatch.setattr(dask_cluster, "DASK_CONNECT_GRACE_S", 0.0)
    closed = threading.Event()

    class SlowClient:
        def __init__(self, address: str, timeout: float):
            time.sleep(0.3)

        def close(self) -> None:
            closed.set()

    with pytest.raises(RunError, match="cannot reach the dask scheduler"):
        dask_cluster._connect(SlowClient, "tcp://10.0.0.1:8786")
    assert closed.wait(5), "the late client was left open"


def test_a_client_left_to_the_garbage_collector_is_finalized_before_the_next_connect() -> None:
    """A dask Client's finalizer takes distributed's loop lock; run by a collection inside the thread start of a
    Client being made (which holds that lock), it deadlocked a test suite: pending finalizers run first, here."""
    finalized: list[threading.Thread] = []

    class LeftOpen:  # garbage in a reference cycle: only a collection finalizes it
        def __init__(self) -> None:
            self.cycle = self

        def __del__(self) -> None:
            finalized.append(threading.current_thread())

    seen: list[list[threading.Thread]] = []

    class Client:
        def __init__(self, address: str, timeout: float):
            seen.append(list(finalized))

    gc.disable()  # no automatic collection in between: only the connect's own
    try:
        LeftOpen()
        dask_cluster._connect(Client, "tcp://10.0.0.1:8786")
    finally:
        gc.enable()
    assert seen == [[threading.current_thread()]]


# -- hints name the folder the user passes back ------------------------------------------------------


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_resume_and_confirm_hints_name_the_copied_folder(
    tmp_path: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=3, epochs=2, samples=120))
    start_search(config, runs_dir=runs_dir, name="orig")
    shutil.copytree(runs_dir / "orig", runs_dir / "copy")
    monkeypatch.setattr(RunStore, "record_repeat", _interrupt)
    out = CliRunner().invoke(cli, ["confirm", "copy", "--seeds", "2", "--quiet"])
    assert out.exit_code == 130, out.output
    assert "continue with: hpsearch confirm copy --top 5 --seeds 2" in out.stderr and "orig" not in out.stderr
    monkeypatch.setattr(RunStore, "record_progress", _interrupt)
    out = CliRunner().invoke(cli, ["zoom", "copy", "--quiet"])  # its new round is interrupted
    assert out.exit_code == 130, out.output
    assert "continue with: hpsearch resume copy" in out.stderr and "orig" not in out.stderr
