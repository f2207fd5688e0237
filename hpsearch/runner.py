"""Caviar: train many trials in parallel and hand each result back as it finishes.

``train_one`` is a side-effect-free function of one planned trial: it trains
the model and returns a plain record (and the trained weights), turning any
exception into a ``failed`` record. ``run_trials`` sends those calls through
one ``joblib.Parallel`` (loky processes by default, or an existing
dask.distributed cluster) and yields outcomes in the order they finish. Only
the caller — the parent process — stores and ranks them.
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from hpsearch.data import DataConfig, Dataset, load_dataset
from hpsearch.errors import MissingDependencyError, RunError, WorkerLostError
from hpsearch.nn import train
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.prepared import PreparedData
from hpsearch.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.samplers import plan_round, trial_seed
from hpsearch.space import Space


@dataclass(frozen=True)
class TrialTask:
    """One planned trial: where it sits in the run, its searched values and its training seed."""

    trial: int
    round: int
    index: int
    params: dict[str, Any]
    seed: int

    def record(self, status: TrialStatus, **results: Any) -> TrialRecord:
        """This trial's record, with the given status and result fields."""
        return TrialRecord(self.trial, self.round, self.index, self.params, self.seed, status, **results)


@dataclass(frozen=True)
class TrialOutcome:
    """A finished trial: its record and, for an ok trial, the trained network's state."""

    record: TrialRecord
    state: dict[str, np.ndarray] | None


def plan_tasks(rnd: RoundRecord, *, seed: int, grid_points: int) -> list[TrialTask]:
    """Every trial of a round, a pure function of the stored round and the search seed."""
    space = Space.from_json(rnd.space)
    planned = plan_round(space, rnd.n_trials, seed=seed, round=rnd.round, sampler=rnd.sampler, grid_points=grid_points)
    return [
        TrialTask(rnd.first_trial + i, rnd.round, i, params, trial_seed(seed, rnd.round, i))
        for i, params in enumerate(planned)
    ]


def cached_dataset(data: DataConfig | PreparedData | Dataset) -> Dataset:
    """Load a dataset once per process; later trials in the same worker reuse it.

    Workers get a small handle (a run's ``PreparedData``, memory-mapped, or a
    data config) rather than the arrays, so no trial pays for shipping the data;
    a dask worker gets the arrays themselves, sent once. File paths in a
    ``DataConfig`` must be absolute; a data file that changed (or vanished)
    since it was cached is loaded again.
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, PreparedData):
        return data.load()
    stamps = tuple(_file_stamp(p) for p in (data.path, data.dev_path) if p)
    return _load_dataset(data, stamps)


@functools.lru_cache(maxsize=2)
def _load_dataset(data: DataConfig, stamps: tuple[tuple[float, int] | None, ...]) -> Dataset:
    return load_dataset(data)


def _file_stamp(path: str) -> tuple[float, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None  # load_dataset reports the missing file
    return stat.st_mtime, stat.st_size


@functools.lru_cache(maxsize=1)
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def train_one(task: TrialTask, model: dict[str, Any], data: DataConfig | PreparedData | Dataset) -> TrialOutcome:
    """Train one trial with one BLAS thread. Never raises for a bad trial: it comes back ``failed``."""
    try:
        dataset = cached_dataset(data)
        config = ModelConfig.from_dict({**model, **task.params, "seed": task.seed})
        # One BLAS thread per trial: workers do not oversubscribe the cores, and the
        # arithmetic (hence J) is the same whatever the number of workers.
        with _threadpools().limit(limits=1, user_api="blas"):
            result, network = train(config, dataset)
    except Exception as exc:  # noqa: BLE001 — any error of a trial is its result, not the search's end
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return TrialOutcome(task.record(TrialStatus.FAILED, error=message), None)
    record = task.record(
        result.status,
        dev_cost=result.dev_cost,
        train_cost=result.train_cost,
        dev_accuracy=result.dev_accuracy,
        epochs_run=result.epochs_run,
        seconds=result.seconds,
        history=result.history,
    )
    return TrialOutcome(record, network.state() if result.status is TrialStatus.OK else None)


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_trials(
    tasks: Iterable[TrialTask],
    *,
    model: dict[str, Any],
    data: DataConfig | PreparedData | Dataset,
    workers: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[TrialOutcome]:
    """Train ``tasks`` on ``workers`` processes; yield each outcome as soon as it finishes."""
    tasks = list(tasks)
    if not tasks:
        return
    if backend == "loky" and (workers == 1 or len(tasks) == 1):
        # In-process: no pickling, no worker start-up, the same numbers.
        for task in tasks:
            yield train_one(task, model, data)
        return
    from joblib import Parallel, delayed, parallel_config

    with contextlib.ExitStack() as stack:
        if backend == "dask":
            # Workers on other machines cannot see the run folder: send them the arrays, once per worker.
            data = data.in_memory() if isinstance(data, PreparedData) else data
            stack.enter_context(_dask_client(scheduler))
            stack.enter_context(parallel_config(backend="dask", scatter=[data]))
        else:
            stack.enter_context(parallel_config(backend="loky", inner_max_num_threads=1))
        parallel = Parallel(n_jobs=workers if backend == "loky" else -1, return_as="generator_unordered")
        try:
            yield from parallel(delayed(train_one)(task, model, data) for task in tasks)
        except BrokenExecutor as exc:  # a worker was killed (OOM killer, kill -9): its trial has no result
            raise WorkerLostError(f"a worker process died while training ({type(exc).__name__})") from exc


@contextlib.contextmanager
def _dask_client(scheduler: str | None) -> Iterator[Any]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise MissingDependencyError("dask.distributed", "dask", "--backend dask") from None
    if not scheduler:
        raise RunError("--backend dask needs a scheduler address — pass --scheduler tcp://HOST:8786 or set search.scheduler")
    try:
        client = Client(scheduler, timeout=10)
    except OSError as exc:
        raise RunError(f"cannot reach the dask scheduler at {scheduler} ({exc}) — is `dask scheduler` running there?") from None
    try:
        yield client
    finally:
        client.close()
