"""Caviar: train many trials in parallel and hand each result back as it finishes.

The unit of work is a *segment*: one trial trained from where it stands (a
fresh start, or a checkpointed training state) to a given epoch — its last
epoch, or the next rung of early stopping. ``train_segment`` is a
side-effect-free function of one segment: it returns a plain outcome (the
new epochs, the state to checkpoint, the weights to keep) and turns any
exception into a ``failed`` outcome. ``run_segments`` sends those calls
through one ``joblib.Parallel`` (loky processes by default, or an existing
dask.distributed cluster), which feeds a worker the next segment as soon as
it is free, and yields outcomes in the order they finish. Only the caller —
the parent process — stores, checkpoints and ranks them, so checkpoints
travel with the segments and remote dask workers need no shared folder.
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from hpsearch.data import DataConfig, Dataset, load_dataset
from hpsearch.errors import MissingDependencyError, RunError, WorkerLostError
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.state import TrainingState, fit, start
from hpsearch.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.samplers import plan_round, trial_seed
from hpsearch.space import Space

RANK_BY = ("last", "best")


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
class Segment:
    """Train ``task`` from ``checkpoint`` (``TrainingState.to_arrays()``; None: from scratch) to ``until_epoch``
    (None: the trial's own ``epochs``).

    ``final``: this is the trial's last segment (its top rung); otherwise the
    outcome carries the state to checkpoint. ``rank_by`` says which weights a
    final ok outcome hands back: the last epoch's or the best epoch's.
    """

    task: TrialTask
    until_epoch: int | None
    checkpoint: Mapping[str, np.ndarray] | None = None
    final: bool = True
    rank_by: str = "last"


@dataclass(frozen=True)
class SegmentOutcome:
    """What a segment trained.

    ``first_epoch`` and ``history``/``epoch_seconds``: the epochs this segment
    added; ``summary``: the whole trial so far (last epoch's costs, best epoch,
    every epoch's history, total seconds), None when it failed before training;
    ``state``: the whole training state (ok outcomes): a checkpoint to go on
    from, or the best trial's state that babysitting continues;
    ``weights``: the network to keep as best model (final and ok).
    """

    segment: Segment
    status: TrialStatus
    first_epoch: int = 0
    history: dict[str, list[float]] | None = None
    epoch_seconds: list[float] | None = None
    summary: Any = None
    state: dict[str, np.ndarray] | None = None
    weights: dict[str, np.ndarray] | None = None
    error: str | None = None

    @property
    def task(self) -> TrialTask:
        return self.segment.task

    def value(self) -> float:
        """The ranking value at the end of this segment (``rank_by``): last or best dev J; NaN if none."""
        if self.summary is None:
            return float("nan")
        if self.segment.rank_by == "best":
            best = self.summary.best_dev_cost
            return float("nan") if best is None else best
        return self.summary.dev_cost

    def record(self, status: TrialStatus | None = None, rung: int | None = None) -> TrialRecord:
        """The trial's final record from this outcome (``status`` overrides, e.g. pruned)."""
        status = status or self.status
        if self.summary is None:
            return self.task.record(status, error=self.error, rung=rung)
        r = self.summary
        return self.task.record(
            status, dev_cost=r.dev_cost, train_cost=r.train_cost, dev_accuracy=r.dev_accuracy,
            epochs_run=r.epochs_run, seconds=r.seconds, history=r.history, error=self.error, rung=rung,
            value=self.value(), best_dev_cost=r.best_dev_cost, best_epoch=r.best_epoch,
        )


def plan_tasks(rnd: RoundRecord, *, seed: int, grid_points: int) -> list[TrialTask]:
    """Every trial of a round, a pure function of the stored round and the search seed."""
    space = Space.from_json(rnd.space)
    planned = plan_round(space, rnd.n_trials, seed=seed, round=rnd.round, sampler=rnd.sampler, grid_points=grid_points)
    return [
        TrialTask(rnd.first_trial + i, rnd.round, i, params, trial_seed(seed, rnd.round, i))
        for i, params in enumerate(planned)
    ]


def cached_dataset(data: DataConfig) -> Dataset:
    """Load a dataset once per process; later trials in the same worker reuse it.

    Workers get the (small, hashable) data config rather than the arrays, so no
    trial pays for shipping the data. File paths in ``data`` must be absolute.
    A data file that changed (or vanished) since it was cached is loaded again.
    """
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


def train_segment(segment: Segment, model: dict[str, Any], data: DataConfig) -> SegmentOutcome:
    """Train one segment with one BLAS thread. Never raises for a bad trial: it comes back ``failed``."""
    task = segment.task
    try:
        dataset = cached_dataset(data)
        # One BLAS thread per trial: workers do not oversubscribe the cores, and the
        # arithmetic (hence J) is the same whatever the number of workers.
        with _threadpools().limit(limits=1, user_api="blas"):
            if segment.checkpoint is None:
                config = ModelConfig.from_dict({**model, **task.params, "seed": task.seed})
                state = start(config, dataset, keep_best=segment.rank_by == "best")
            else:
                state = TrainingState.from_arrays(segment.checkpoint)
            first_epoch = state.epoch
            fit(state, dataset, state.config.epochs if segment.until_epoch is None else segment.until_epoch)
    except Exception as exc:  # noqa: BLE001 — any error of a trial is its result, not the search's end
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return SegmentOutcome(segment, TrialStatus.FAILED, error=message)
    summary = state.result()
    status = summary.status
    added = {key: values[first_epoch:] for key, values in state.history.items()}
    ok = status is TrialStatus.OK
    weights = None
    if ok and segment.final:
        best = state.best_weights if segment.rank_by == "best" else None
        weights = best if best is not None else state.network.state()
    return SegmentOutcome(
        segment, status, first_epoch=first_epoch, history=added, epoch_seconds=state.epoch_seconds[first_epoch:],
        summary=summary, state=state.to_arrays() if ok else None, weights=weights,
    )


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_segments(
    segments: Iterable[Segment],
    *,
    model: dict[str, Any],
    data: DataConfig,
    workers: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[SegmentOutcome]:
    """Train ``segments`` on up to ``workers`` processes; yield each outcome as soon as it finishes."""
    work = functools.partial(train_segment, model=model, data=data)
    yield from run_parallel(work, segments, workers=workers, backend=backend, scheduler=scheduler)


def run_parallel(
    function: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[Any]:
    """``function(item)`` for every item on up to ``workers`` processes (or dask); yield results as they finish.

    ``function`` must never raise for a bad item (it returns a failed result).
    Never more processes than items: a worker nobody feeds only costs start-up time.
    """
    items = list(items)
    if not items:
        return
    workers = min(workers, len(items))
    if backend == "loky" and workers == 1:
        # In-process: no pickling, no worker start-up, the same numbers.
        for item in items:
            yield function(item)
        return
    from joblib import Parallel, delayed, parallel_config

    with contextlib.ExitStack() as stack:
        if backend == "dask":
            stack.enter_context(_dask_client(scheduler))
            stack.enter_context(parallel_config(backend="dask"))
        else:
            stack.enter_context(parallel_config(backend="loky", inner_max_num_threads=1))
        parallel = Parallel(n_jobs=workers if backend == "loky" else -1, return_as="generator_unordered")
        try:
            yield from parallel(delayed(function)(item) for item in items)
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
