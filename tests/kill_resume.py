"""The one kill -9 → resume → compare harness, and the helpers every test that kills a CLI process shares.

A scenario (``tests/test_kill_resume.py``, one parametrized test over the run kinds) trains a run straight
through, starts the same command in a child process, SIGKILLs its whole process group once the run's
progress (trials recorded, epoch rows, repeats) reaches a point — several times, resuming in between — then
finishes it in-process and compares everything two runs of one config must share, to the last bit
(``fingerprint``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.run_store import RunStore


def start_cli(args: list[str], runs_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``hpsearch *args`` in a child process of its own session (so its whole group can be killed)."""
    env = {**os.environ, "HPSEARCH_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "hpsearch", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def training_workers(search: int) -> list:
    """The worker processes of the search process ``search``: forked from it (its command line) or loky's."""
    import psutil

    command = psutil.Process(search).cmdline()
    return [
        child
        for child in psutil.Process(search).children(recursive=True)
        if child.cmdline() == command or "popen_loky" in " ".join(child.cmdline())
    ]


def _count(run_dir: Path, table: str) -> int:
    """Rows of ``table`` in the run's store as last committed; 0 while the run does not exist yet."""
    try:
        db = sqlite3.connect(f"file:{run_dir / RUN_DB}?mode=ro", uri=True)
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def record_count(run_dir: Path) -> int:
    """Trials recorded in the run."""
    return _count(run_dir, "trials")


def epoch_rows(run_dir: Path) -> int:
    """Epochs recorded in the run (a trial's epochs are stored as it trains, before its record)."""
    return _count(run_dir, "epochs")


def repeat_rows(run_dir: Path) -> int:
    """Confirmation repeats recorded in the run."""
    return _count(run_dir, "confirmations")


def wait_for(progress: Callable[[], int], at_least: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``progress()`` reaches ``at_least``; fail if ``proc`` ends first or nothing moves in time."""
    deadline = time.monotonic() + timeout
    while progress() < at_least:
        assert proc.poll() is None, f"finished too early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


def kill_at(
    args: list[str],
    runs_dir: Path,
    progress: Callable[[], int],
    at_least: int | None,
    env: dict[str, str] | None = None,
) -> None:
    """Run ``hpsearch *args`` and SIGKILL its process group once ``progress()`` reaches ``at_least``; with
    ``at_least`` None the command kills itself (``env`` tells it where) and must end by SIGKILL."""
    proc = start_cli(args, runs_dir, env)
    if at_least is None:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, err
        return
    wait_for(progress, at_least, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def fingerprint(run_dir: Path) -> tuple:
    """Everything two runs of one config share to the last bit, whatever the workers and the kills: every
    trial (ids, values, seed, status, rung, costs, histories), the rounds (spaces and planned points),
    promotions, confirmation repeats, the confirmed model and the best model's bytes (not the seconds)."""
    with RunStore.open(run_dir) as store:
        trials = [
            (
                t.trial,
                t.round,
                t.index,
                t.seed,
                sorted(t.params.items()),
                t.status,
                t.rung,
                t.epochs_run,
                t.value,
                t.dev_cost,
                t.train_cost,
                t.dev_accuracy,
                t.best_dev_cost,
                t.best_epoch,
                t.history,
                sorted(t.metrics.items()),
            )
            for t in store.trials()
        ]
        rounds = [(r.round, r.space, r.n_trials, r.sampler, r.kind, r.planned) for r in store.rounds()]
        promotions = [store.promotions(r.round) for r in store.rounds()]
        repeats = [
            (r.trial, r.repeat, r.seed, r.status, r.value, r.dev_cost, r.train_cost, r.dev_accuracy, r.epochs_run)
            for r in store.repeats()
        ]
        best, confirmed = store.best_model(), store.confirmed_model()
    model = None
    if best is not None:
        with np.load(best[1]) as arrays:
            model = best[0], {name: arrays[name].tobytes() for name in arrays.files}
    return trials, rounds, promotions, repeats, confirmed, model
