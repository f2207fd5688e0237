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
import signal
import threading
import time
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import HpsearchError, MissingDependencyError, RunError, WorkerLostError
from hpsearch.core.memory import shortfall, training_bytes
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.state import TrainingState, fit, start
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.space.samplers import plan_round, trial_seed
from hpsearch.space.search_space import Space

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


def cached_dataset(data: PreparedData | Dataset) -> Dataset:
    """The arrays a trial trains on. Workers never read data files: they get prepared arrays.

    A local worker gets a small handle (a run's ``PreparedData``), opened
    memory-mapped once per process, so no trial pays for shipping the data;
    a dask worker gets the arrays themselves (a ``Dataset``), sent once.
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, PreparedData):
        return data.load()
    raise TypeError(f"a trial trains on prepared arrays (PreparedData or Dataset), got {type(data).__name__}")


@functools.lru_cache(maxsize=1)
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def train_segment(segment: Segment, model: dict[str, Any], data: PreparedData | Dataset) -> SegmentOutcome:
    """Train one segment with one BLAS thread. Never raises for a bad trial: it comes back ``failed``."""
    task = segment.task
    try:
        dataset = cached_dataset(data)
        # One BLAS thread per trial: workers do not oversubscribe the cores, and the
        # arithmetic (hence J) is the same whatever the number of workers.
        with _threadpools().limit(limits=1, user_api="blas"):
            if segment.checkpoint is None:
                config = ModelConfig.from_dict({**model, **task.params, "seed": task.seed})
                check_fits(config, dataset, keep_best=segment.rank_by == "best")
                state = start(config, dataset, keep_best=segment.rank_by == "best")
            else:
                state = TrainingState.from_arrays(segment.checkpoint)
            first_epoch = state.epoch
            fit(state, dataset, state.config.epochs if segment.until_epoch is None else segment.until_epoch)
    except Exception as exc:  # noqa: BLE001 — any error of a trial is its result, not the search's end
        text = str(exc) if isinstance(exc, HpsearchError) else f"{type(exc).__name__}: {exc}"
        return SegmentOutcome(segment, TrialStatus.FAILED, error=(text.splitlines() or [""])[0])
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


def _in_worker(function: Callable[..., Any], item: Any, parent: int | None, *shared: Any) -> Any:
    """``function(item, *shared)`` in a loky worker, which first makes sure it dies with the search process."""
    if parent is not None:
        _exit_with(parent)
    return function(item, *shared)


_watched_parent: int | None = None


def _exit_with(parent: int) -> None:
    """End this worker process, and every process it started, within a second of ``parent``'s death.

    After a kill -9 of the search, loky's workers would otherwise live on as
    orphans (and, seen once, deadlock for many minutes holding memory), and so
    would the commands of own objectives they run. An orphan is re-parented, so
    its parent pid changes: a daemon thread polls it.
    """
    global _watched_parent
    if _watched_parent == parent or os.getppid() != parent:
        return  # already watching, or not a direct child of the search (nothing to watch)
    _watched_parent = parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        _kill_descendants()
        os._exit(1)

    threading.Thread(target=watch, name="hpsearch-exit-with-parent", daemon=True).start()


def _kill_descendants() -> None:
    """SIGKILL every process group this process started (each command leads its own) and every descendant."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        for kill in (lambda: os.killpg(child.pid, signal.SIGKILL), child.kill):
            try:
                kill()
            except (OSError, psutil.Error):
                pass


#: The environment variable every process a search starts inherits: ``<uuid>`` of that search.
SEARCH_ID_VARIABLE = "HPSEARCH_SEARCH_ID"

# The watcher: a bare interpreter (no hpsearch, no numpy: it starts in milliseconds) that waits for the
# search's death, then SIGKILLs every process whose environment holds the search's id — loky workers and
# their resource trackers, commands, and what commands started in other sessions (``setsid``) or left
# behind (``sleep &``) — until two scans in a row find none.
_WATCHER = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
parent, marker, me = int(sys.argv[1]), sys.argv[2].encode(), os.getpid()
while os.getppid() == parent:
    time.sleep(0.1)
quiet = 0
while quiet < 2:
    found = False
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                marked = marker in f.read().split(b"\0")
            if marked:
                os.kill(int(name), signal.SIGKILL)
                found = True
        except OSError:
            pass
    quiet = 0 if found else quiet + 1
    time.sleep(0.05)
"""

_watcher: Any = None


def watch_search() -> None:
    """Make sure every process this search starts from now on dies with it, even by kill -9 (Linux).

    Once per process: gives the search a fresh id in ``HPSEARCH_SEARCH_ID``
    (inherited by every process it starts, unless one clears its environment)
    and starts a watcher process holding none of its files (stdin, stdout and
    stderr are /dev/null, so a caller reading the search's output is never
    kept waiting by it). When the search process is gone — however it ended —
    the watcher kills every process carrying the id, then exits. A loky
    worker's own watch (``_exit_with``) starts only with its first task; this
    one covers the workers from their start, and the processes that left the
    commands' process groups.
    """
    global _watcher
    if _watcher is not None or not os.path.isdir("/proc") or _watched_parent is not None:
        return  # already watched; not Linux; or a loky worker, whose processes its search's watcher covers
    import subprocess
    import sys
    import uuid

    search_id = uuid.uuid4().hex
    os.environ[SEARCH_ID_VARIABLE] = search_id
    try:
        _watcher = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHER, str(os.getpid()), f"{SEARCH_ID_VARIABLE}={search_id}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
        )
    except OSError:
        _watcher = False  # no watcher (no process left to start one): the workers' own watch still runs


def check_fits(config: ModelConfig, data: Dataset, *, keep_best: bool) -> None:
    """Raise RunError, before anything is allocated, when training ``config`` on ``data`` cannot fit in memory."""
    moments = {"gd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}[config.optimizer]
    needed = training_bytes(
        config.hidden_sizes, n_features=data.n_features, n_classes=data.n_classes, n_train=len(data.y_train),
        n_dev=len(data.y_dev), batch_size=config.batch_size, itemsize=np.dtype(config.dtype).itemsize,
        optimizer_moments=moments, keep_best=keep_best,
    )
    too_much = shortfall(needed)
    if too_much:
        raise RunError(f"a network of hidden layers {list(config.hidden_sizes)} {too_much}")


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
    data: PreparedData | Dataset,
    workers: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[SegmentOutcome]:
    """Train ``segments`` on up to ``workers`` processes; yield each outcome as soon as it finishes."""
    if backend == "dask":  # workers on other machines cannot see the run folder: send the arrays, once each
        data = data.in_memory() if isinstance(data, PreparedData) else data
    yield from run_parallel(train_segment, segments, shared=(model, data), workers=workers, backend=backend,
                            scheduler=scheduler)


def run_parallel(
    function: Callable[..., Any],
    items: Iterable[Any],
    *,
    shared: tuple[Any, ...] = (),
    workers: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[Any]:
    """``function(item, *shared)`` for every item on up to ``workers`` processes (or dask); yield results as
    they finish.

    ``function`` must never raise for a bad item (it returns a failed result).
    Never more processes than items: a worker nobody feeds only costs start-up time.
    ``shared`` arguments go to every call; on dask they are scattered to each worker once.
    """
    items = list(items)
    if not items:
        return
    if backend == "loky":
        watch_search()
    workers = min(workers, len(items))
    if backend == "loky" and workers == 1:
        # In-process: no pickling, no worker start-up, the same numbers.
        for item in items:
            yield function(item, *shared)
        return
    if backend == "dask":
        yield from _run_on_dask(function, items, shared, scheduler)
        return
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", inner_max_num_threads=1):
        # A free worker is fed the next item as soon as it reports back, so a rung of uneven trials
        # leaves no worker idle while work remains. joblib's automatic batching groups items only while
        # each takes under ~0.2 s: tiny trials are then sent a few at a time (1 ms of dispatch each would
        # double their cost); real trials go one by one.
        parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
        try:
            yield from parallel(delayed(_in_worker)(function, item, os.getpid(), *shared) for item in items)
        except BrokenExecutor as exc:  # a worker was killed (OOM killer, kill -9): its trial has no result
            raise WorkerLostError(f"a worker process died while training ({type(exc).__name__})") from exc


def _run_on_dask(function: Callable[..., Any], items: list[Any], shared: tuple[Any, ...],
                 scheduler: str | None) -> Iterator[Any]:
    """``run_parallel`` on a dask cluster: submit every item, yield results as they complete.

    The shared arguments are scattered to every worker once. A task the scheduler gives up on (its
    workers kept dying: out of memory, killed) is a WorkerLostError at once — through joblib's dask
    backend the search waited for it forever.
    """
    from distributed import KilledWorker, as_completed

    with _dask_client(scheduler) as client:
        scattered = [client.scatter(value, broadcast=True) for value in shared]
        futures = [client.submit(_in_worker, function, item, None, *scattered, pure=False) for item in items]
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except KilledWorker as exc:
                    raise WorkerLostError(f"a dask worker died while training, every time the task was tried "
                                          f"({str(exc).splitlines()[0][:200]})") from None
        finally:
            client.cancel(futures)


def check_scheduler(scheduler: str | None) -> None:
    """Connect to the dask scheduler once and close: a one-line RunError if it cannot be used."""
    with _dask_client(scheduler):
        pass


@contextlib.contextmanager
def _dask_client(scheduler: str | None) -> Iterator[Any]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise MissingDependencyError("dask.distributed", "dask", "--backend dask") from None
    if not scheduler:
        raise RunError("--backend dask needs a scheduler address — pass --scheduler tcp://HOST:8786 or set search.scheduler")
    client = _connect(Client, scheduler)
    try:
        yield client
    finally:
        client.close()


DASK_CONNECT_TIMEOUT_S = 10.0


def _connect(client_class: Any, scheduler: str) -> Any:
    """A dask Client, or a one-line RunError within ``DASK_CONNECT_TIMEOUT_S`` (plus a few seconds).

    Client's own timeout covers the TCP connect only: an address that answers but
    is not a dask scheduler (an HTTP server, say) would hang for minutes in the
    handshake. The connect runs in a daemon thread that is abandoned past the deadline.
    """
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = client_class(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 — reported below as one line
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="hpsearch-dask-connect", daemon=True)
    thread.start()
    thread.join(DASK_CONNECT_TIMEOUT_S + 5)
    if "client" in outcome:
        return outcome["client"]
    reason = outcome.get("error") or "no answer of a dask scheduler"
    raise RunError(f"cannot reach the dask scheduler at {scheduler} ({str(reason).splitlines()[0] if str(reason) else type(reason).__name__})"
                   " — is `dask scheduler` running there?")
