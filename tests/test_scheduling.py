"""Scheduling a batch of segments: the longest work first, and no worker processes for work shorter than their
start-up unless the user asked for workers — the same trials and J bit for bit either way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import BrokenExecutor
from pathlib import Path

import numpy as np
import psutil
import pytest

import hpsearch.execution.runner as runner
import hpsearch.search.options as options
import hpsearch.search.rounds as rounds
import hpsearch.search.trainer as trainer
from hpsearch.config.loading import load_config
from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import WorkerLostError
from hpsearch.execution.packs import pack_seconds, plan_packs
from hpsearch.execution.segments import Segment, TrialTask, train_segment
from hpsearch.search.api import Execution, start_search
from hpsearch.storage.run_store import RunStore
from tests.kill_resume import fingerprint, training_workers

MODEL = {"layers": 1, "hidden_units": 8, "batch_size": 16, "epochs": 4, "batchnorm": True}
SHORT = """\
name: short
data: {dataset: blobs, samples: 120, classes: 3, features: 4, noise: 1.0}
model: {layers: 1, hidden_units: 8, epochs: 2}
space:
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
search: {trials: 3, seed: 2}
"""


@pytest.fixture(scope="module")
def blobs() -> Dataset:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    X = rng.standard_normal((3, 4))[y] * 2 + rng.standard_normal((200, 4))
    return Dataset("blobs", X[:160], y[:160], X[160:], y[160:], ("a", "b", "c"))


def _segment(trial: int, until: int | None = None, **params) -> Segment:
    return Segment(TrialTask(trial, 0, trial, {"learning_rate": 0.01, **params}, 10 + trial), until)


def test_the_estimate_grows_with_epochs_width_and_pack_members(blobs: Dataset) -> None:
    seconds = lambda *segments: pack_seconds(list(segments), MODEL, blobs)  # noqa: E731
    assert 0 < seconds(_segment(0, 2)) < seconds(_segment(0)) < seconds(_segment(0, 8))
    assert seconds(_segment(0)) < seconds(_segment(0, hidden_units=200))
    assert seconds(_segment(0)) < seconds(_segment(0), _segment(1)) < 2 * seconds(_segment(0))  # a pack shares
    assert seconds(_segment(0, learning_rate=-1.0)) == 0  # cannot start: fails at once


def test_the_longest_packs_train_first_and_each_outcome_is_as_alone(blobs: Dataset, monkeypatch) -> None:
    order: list[int] = []
    real = runner.train_pack
    monkeypatch.setattr(runner, "train_pack", lambda pack, *a: order.append(pack[0].task.trial) or real(pack, *a))
    segments = [_segment(0, 1), _segment(1, 3, hidden_units=64), _segment(2, 2), _segment(3, 3)]
    outcomes = list(runner.run_segments(segments, model=MODEL, data=blobs, workers=1, stack="off"))
    assert order == [1, 3, 2, 0]  # widest, then the most epochs
    for outcome in outcomes:
        alone = train_segment(outcome.segment, MODEL, blobs)
        assert outcome.history == alone.history
        assert all(np.array_equal(outcome.state[k], alone.state[k]) for k in alone.state if k != "state")


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "loky"])
def test_workers_forked_or_fresh_give_each_outcome_as_alone(blobs: Dataset, monkeypatch, forked: bool) -> None:
    """Linux forks the workers (milliseconds to start); elsewhere they are fresh loky interpreters. Either way,
    with the search process training beside them, every outcome is the one its segment trains to alone."""
    monkeypatch.setattr(runner, "fork_available", lambda: forked)
    segments = [_segment(k, 2 + k % 3, hidden_units=4 + 4 * k) for k in range(7)]
    outcomes = list(runner.run_segments(segments, model=MODEL, data=blobs, workers=3, stack="off"))
    assert sorted(o.segment.task.trial for o in outcomes) == list(range(7))
    for outcome in outcomes:
        alone = train_segment(outcome.segment, MODEL, blobs)
        assert outcome.history == alone.history
        assert all(np.array_equal(outcome.state[k], alone.state[k]) for k in alone.state if k != "state")


def _parallel_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many processes train each batch that starts workers: its workers and the search process."""
    calls: list[int] = []
    real = runner.worker_pool
    monkeypatch.setattr(runner, "worker_pool", lambda workers, *a: calls.append(workers + 1) or real(workers, *a))
    return calls


def test_a_short_search_on_default_workers_starts_no_worker_and_is_the_same_run(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "short.yaml"
    path.write_text(SHORT)
    monkeypatch.setattr(options, "default_workers", lambda: 2)  # as on a 2-core machine
    calls = _parallel_calls(monkeypatch)
    default = start_search(load_config(path), runs_dir=tmp_path / "runs", name="default")
    assert calls == []  # in-process: under IN_PROCESS_SECONDS of training
    chosen = start_search(load_config(path), runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert calls == [2]  # the user's choice is kept
    assert fingerprint(default.run_dir) == fingerprint(chosen.run_dir)
    monkeypatch.setattr(runner, "IN_PROCESS_SECONDS", 0.0)  # as for a longer search
    start_search(load_config(path), runs_dir=tmp_path / "runs", name="long")
    assert calls == [2, 2]


def test_a_rung_takes_the_checkpoints_just_saved_without_reading_them_back(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "halving.yaml"
    path.write_text(
        SHORT.replace("epochs: 2", "epochs: 9").replace(
            "trials: 3,", "trials: 9, early_stopping: {method: halving, min_epochs: 1, eta: 3},"
        )
    )
    reads: list[int] = []
    real = RunStore.load_checkpoint
    monkeypatch.setattr(RunStore, "load_checkpoint", lambda self, *a: reads.append(a[0]) or real(self, *a))
    kept = start_search(load_config(path), runs_dir=tmp_path / "runs", name="kept")
    assert reads == []  # rungs 1 and 2 started from the states in memory
    monkeypatch.setattr(trainer, "available_bytes", lambda: 0)  # no room: every checkpoint is read back
    read = start_search(load_config(path), runs_dir=tmp_path / "runs", name="read")
    assert len(reads) == 3 + 1  # the promoted trials of rungs 0 and 1
    assert fingerprint(kept.run_dir) == fingerprint(read.run_dir)


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_search_forks_its_workers_once_for_all_its_rungs_and_rounds(tmp_path: Path, monkeypatch) -> None:
    """Forking at every rung made both processes fault and copy the search's memory anew each time; the same trials
    and J bit for bit as a pool per batch, and no worker left once the search ends."""
    path = tmp_path / "halving.yaml"
    path.write_text(
        SHORT.replace("epochs: 2", "epochs: 9").replace(
            "trials: 3,", "trials: 9, rounds: 2, early_stopping: {method: halving, min_epochs: 1, eta: 3},"
        )
    )
    monkeypatch.setattr(runner, "IN_PROCESS_SECONDS", 0.0)  # workers for every batch, however short
    pools: list[int] = []
    real = runner.ProcessPoolExecutor
    monkeypatch.setattr(runner, "ProcessPoolExecutor", lambda *a, **k: pools.append(1) or real(*a, **k))
    runner.watch_search()  # its watcher process (one for this process) is not a worker
    children = set(psutil.Process().children())
    kept = start_search(load_config(path), runs_dir=tmp_path / "runs", name="kept", execution=Execution(workers=2))
    assert len(pools) == 1  # for 2 rounds of 3 rungs
    assert set(psutil.Process().children()) - children == set()
    monkeypatch.setattr(runner, "kept_workers", contextlib.nullcontext)
    monkeypatch.setattr(rounds, "kept_workers", contextlib.nullcontext)
    each = start_search(load_config(path), runs_dir=tmp_path / "runs", name="each", execution=Execution(workers=2))
    assert len(pools) - 1 >= 3  # a pool for each batch of two packs or more
    assert fingerprint(kept.run_dir) == fingerprint(each.run_dir)


def test_a_shape_splits_into_as_many_packs_for_each_worker(blobs: Dataset) -> None:
    """Workers finish a batch together: never a last pack that one worker trains while the others wait."""
    segments = [_segment(k) for k in range(48)]
    sizes = lambda workers: sorted(map(len, plan_packs(segments, model=MODEL, data=blobs, workers=workers)))  # noqa: E731
    assert sizes(1) == [16] * 3  # the cap (nn.stacked.LARGEST_PACK)
    assert sizes(2) == [12] * 4  # not 3 packs of 16
    assert sizes(3) == [16] * 3 and sizes(5) == [9, 9, 10, 10, 10]  # one each


@pytest.mark.parametrize("to", ["the search", "its process group"])
def test_an_interrupt_stops_the_workers_at_once(tmp_path: Path, to: str) -> None:
    """With two workers the search process trains too; an interrupt must still stop the worker in mid-trial
    (as joblib's Parallel did), not wait for its trial of 100,000 epochs to end — sent to the search alone (kill
    -INT, a scheduler's timeout) or to its whole process group (Ctrl-C in a terminal: the worker gets it too and
    must leave the report to the search, without a traceback of its own)."""
    path = tmp_path / "long.yaml"
    path.write_text(SHORT.replace("epochs: 2", "epochs: 100000").replace("trials: 3", "trials: 4"))
    command = [sys.executable, "-m", "hpsearch", "run", str(path), "-w", "2", "--runs-dir", str(tmp_path / "runs")]
    search = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not _a_worker_trains(search.pid):
            time.sleep(0.2)
        children = psutil.Process(search.pid).children(recursive=True)
        if to == "the search":
            search.send_signal(signal.SIGINT)
        else:
            os.killpg(search.pid, signal.SIGINT)
        _, err = search.communicate(timeout=30)  # bounds for a loaded machine: the trial alone takes many minutes
        assert search.returncode == 130 and "hpsearch resume" in err, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert psutil.wait_procs(children, timeout=20)[1] == []  # nothing left training
    finally:
        if search.poll() is None:
            search.kill()


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_pool_left_by_an_interrupt_leaves_no_worker_and_no_thread_behind() -> None:
    """Killed workers, and the pool's manager thread joined: left running, it could close its wake-up pipe while
    the interpreter's exit hook writes to it, and a search stopped by Ctrl-C printed a traceback at exit."""
    threads, children = set(threading.enumerate()), set(psutil.Process().children())
    with pytest.raises(KeyboardInterrupt):
        with runner.worker_pool(1, time.sleep, ()) as pool:
            started = pool.submit(0)
            started.result(timeout=30)  # the worker is up
            pool.submit(60)
            workers = set(psutil.Process().children()) - children
            raise KeyboardInterrupt
    assert set(threading.enumerate()) == threads
    assert workers and psutil.wait_procs(workers, timeout=5)[1] == []


KILLED_WHILE_SENDING = """
import time
import hpsearch.execution.runner as runner

try:
    with runner.worker_pool(1, lambda n: b"x" * n, ()) as pool:
        pool.submit(1).result()  # the worker is up
        pool.submit(150_000_000)
        time.sleep(0.25)  # its outcome is on its way through the result pipe (about 0.3 s for 150 MB)
        raise KeyboardInterrupt
except KeyboardInterrupt:
    print("stopped")
"""


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_worker_killed_while_sending_its_outcome_does_not_hang_the_search() -> None:
    """Half a message left in the result pipe kept the pool's manager thread (and the search, which waits for it)
    reading forever: a search stopped by Ctrl-C at that instant never exited."""
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_SENDING], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "stopped", done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_worker_dying_while_it_sends_its_outcome_breaks_the_pool_at_once() -> None:
    """As the OOM killer would: the search gets its one-line lost-worker error, it does not wait forever for the
    rest of the outcome (one worker, as on two cores)."""
    children = set(psutil.Process().children())
    with pytest.raises(BrokenExecutor):
        with runner.worker_pool(1, lambda n: b"x" * n, ()) as pool:
            pool.submit(1).result()  # the worker is up
            (worker,) = set(psutil.Process().children()) - children
            outcome = pool.submit(150_000_000)
            time.sleep(0.25)  # its outcome is on its way through the result pipe (about 0.3 s for 150 MB)
            worker.kill()
            with contextlib.suppress(BrokenExecutor):  # on a faster machine it may have arrived whole: never waits
                outcome.result(timeout=30)
            pool.submit(1).result(timeout=30)  # the pool is broken either way


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_worker_that_dies_at_its_start_is_the_one_line_lost_worker_error(monkeypatch) -> None:
    monkeypatch.setattr(runner, "_forked_worker", lambda *args: os._exit(1))  # as the OOM killer at its start
    with pytest.raises(WorkerLostError, match="worker process died"):
        with runner.worker_pool(1, abs, ()):
            pass


DYING_WHILE_SENDING_BESIDE_ANOTHER = """
import os, pathlib, signal, sys, threading, time
import hpsearch.execution.runner as runner
from hpsearch.core.errors import WorkerLostError

marker = pathlib.Path(sys.argv[1])

def work(item, between_epochs=None):
    if item == "slow":
        time.sleep(60)  # the other worker: its end of the result pipe stays open
    marker.write_text(str(os.getpid()))
    return b"x" * 150_000_000

def kill_the_sender():
    while not marker.exists() or not marker.read_text():
        time.sleep(0.01)
    time.sleep(0.25)  # its outcome is on its way through the result pipe (about 0.3 s for 150 MB)
    os.kill(int(marker.read_text()), signal.SIGKILL)

threading.Thread(target=kill_the_sender, daemon=True).start()
try:
    list(runner.run_beside_workers(work, ["slow", "big"], shared=(), workers=3))
except WorkerLostError as error:
    print(error)
"""


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_worker_dying_while_it_sends_beside_other_workers_is_seen_within_seconds(tmp_path: Path) -> None:
    """The other workers hold the result pipe's writing end open, so the pool's manager thread waits for the rest
    of the outcome forever; the batch itself sees the dead process and stops with the lost-worker error."""
    command = [sys.executable, "-c", DYING_WHILE_SENDING_BESIDE_ANOTHER, str(tmp_path / "sender")]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=50)  # the slow item alone takes 60 s
    assert "worker process died while training" in done.stdout, done.stderr  # (SIGKILL), or the pool's own word
    assert time.monotonic() - started < 50 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_ctrl_c_is_held_only_while_the_workers_fork() -> None:
    """Held in the search during the fork (one arriving then was lost), and released on both sides after it."""
    mask = lambda _: signal.pthread_sigmask(signal.SIG_BLOCK, set())  # noqa: E731 — the calling thread's held signals
    before = mask(None)
    with runner.worker_pool(1, mask, ()) as pool:
        in_worker = pool.submit(None).result(timeout=30)
    assert mask(None) == before and not {signal.SIGINT, signal.SIGTERM} & (before | in_worker)


def _a_worker_trains(pid: int) -> bool:
    """Whether a worker of the search ``pid`` is past its start-up (over 1 s of CPU)."""
    try:
        return any(sum(c.cpu_times()[:2]) > 1.0 for c in training_workers(pid))
    except psutil.Error:
        return False


def _timed(item: tuple[str, float], between_epochs=None) -> tuple[str, int, float, float]:
    """An item that "trains" for its seconds, in epochs of 10 ms; where and when it ran."""
    name, seconds = item
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(0.01)
        if between_epochs is not None:
            between_epochs()
    return name, os.getpid(), started, time.monotonic()


@pytest.mark.skipif(not runner.fork_available(), reason="forked workers are Linux's; elsewhere joblib's executor")
def test_a_worker_that_runs_out_of_work_takes_more_while_the_search_process_trains() -> None:
    """At a batch's end the worker holds one item; it used to wait for the search process to finish its own item
    before it got the next (here 0.9 s idle), now it takes it at the end of that item's next epoch."""
    items = [("worker", 0.1), ("next", 0.1), ("here", 1.0)]  # the search process takes the last
    ran = {
        name: (pid, start, end)
        for name, pid, start, end in runner.run_beside_workers(_timed, items, shared=(), workers=2)
    }
    assert ran["here"][0] == os.getpid() and ran["worker"][0] == ran["next"][0] != os.getpid()
    assert ran["next"][1] < ran["here"][2] - 0.4  # started while "here" trained (~0.15 s in), not after it
