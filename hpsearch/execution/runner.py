"""Caviar: train many trials in parallel and hand each result back as it finishes.

(Caviar is Andrew Ng's name for searching by training many models at once and keeping the best, as a
fish lays many eggs; its opposite, *panda*, tends one model, as a panda raises one cub: ``hpsearch.babysit``.)

The unit of work is a *segment*: one trial trained from where it stands (a
fresh start, or a checkpointed training state) to a given epoch — its last
epoch, or the next rung of early stopping. ``train_segment`` is a
side-effect-free function of one segment: it returns a plain outcome (the
new epochs, the state to checkpoint, the weights to keep) and turns any
exception into a ``failed`` outcome (``execution.segments``). ``run_segments`` trains them in the
search process and ``workers - 1`` worker processes beside it (forked on Linux, loky elsewhere), or on an
existing dask.distributed cluster, feeding a worker the next segment as soon as it is free, and yields
outcomes in the order they finish. Segments of one
network shape go as *packs*, trained as one stacked model with the same bits
each has alone (``execution.packs``); the caller still gets one outcome per
segment. Only the caller —
the parent process — stores, checkpoints and ranks them, so checkpoints
travel with the segments and remote dask workers need no shared folder.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import multiprocessing
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TextIO

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import WorkerLostError
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.dask_cluster import run_on_dask
from hpsearch.execution.orphans import exit_with, in_worker, watch_search
from hpsearch.execution.packs import pack_seconds, plan_packs, train_pack
from hpsearch.execution.segments import Segment, SegmentOutcome

#: Below this many estimated seconds of training (``packs.pack_seconds``), a batch on the default workers trains
#: in the search process alone: sending work to a worker and its outcome back costs more than such a batch saves
#: (and a loky worker, off Linux, is a fresh interpreter: about 0.5 s of imports before its first epoch).
IN_PROCESS_SECONDS = 0.2
#: How long an idle loky worker waits for more work before it exits (joblib's default): one round's serve the next.
WORKER_IDLE_SECONDS = 300
#: ``worker_pool``'s: an item to its future outcome.
Submit = Callable[[Any], "Future[Any]"]
#: How often a batch waiting for its workers checks that none of them died unseen (``WorkerPool.lost``).
LOST_WORKER_CHECK_S = 1.0


@dataclass(frozen=True)
class WorkerPool:
    """What ``worker_pool`` gives: ``submit(item)``, its future outcome; ``lost()``, how a worker process ended if
    one did (None while all live)."""

    submit: Submit
    lost: Callable[[], str | None]


#: A worker's math libraries use one thread each, as ``parallel_config(inner_max_num_threads=1)`` sets for joblib's.
ONE_THREAD_ENV = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    )
}


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
    stack: str = "auto",
    workers_by_default: bool = False,
) -> Iterator[SegmentOutcome]:
    """Train ``segments`` on up to ``workers`` processes; yield each outcome as soon as its pack finishes.

    ``stack``: ``auto`` trains same-shape segments in packs (``execution.packs``), ``off`` one by one;
    each outcome is the same either way, except its seconds. Packs go longest first.
    ``workers_by_default``: ``workers`` is the default (one per core), not the user's choice: a batch estimated
    under ``IN_PROCESS_SECONDS`` then trains in this process.
    """
    if backend == "dask":  # workers on other machines cannot see the run folder: send the arrays, once each
        data = data.in_memory() if isinstance(data, PreparedData) else data
    packs = plan_packs(segments, model=model, data=data, workers=workers, stack=stack)
    seconds = [pack_seconds(pack, model, data) for pack in packs]
    # Longest first: a worker that frees up late takes short work, so the batch (a rung) ends with the workers
    # finishing together, not waiting on a long pack that started last. Outcomes never depend on the order.
    order = sorted(range(len(packs)), key=lambda i: -seconds[i])
    packs = [packs[i] for i in order]
    if workers_by_default and backend == "loky" and sum(seconds) < IN_PROCESS_SECONDS:
        workers = 1  # in-process (``run_parallel``): the same numbers, no start-up
    if backend == "loky" and min(workers, len(packs)) >= 2:
        runs = run_beside_workers(train_pack, packs, shared=(model, data), workers=workers)
    else:
        runs = run_parallel(
            train_pack, packs, shared=(model, data), workers=workers, backend=backend, scheduler=scheduler
        )
    for outcomes in runs:
        yield from outcomes


def run_beside_workers(
    function: Callable[..., Any], items: list[Any], *, shared: tuple[Any, ...], workers: int
) -> Iterator[Any]:
    """``run_parallel`` on ``workers - 1`` worker processes and this process: ``function(item, *shared)`` for
    every item, yielded as each finishes.

    This process trains too, from the other end of ``items`` (longest first: the workers take the longest left,
    this process the shortest, and they meet in the middle), between recording what the workers send; each
    worker holds a second item queued while many are left, so it does not wait for this process between items.
    While this process trains, a worker that runs out of work takes the longest item left at the end of this
    process's next epoch (``function(item, *shared, between_epochs=...)``): without that, at a batch's end the
    worker waited for this process's item to end before it got the last one. Only for the engine's own
    ``function`` (``train_pack``): pure, never raising for a bad item, safe to run here. Outcomes do not depend
    on where an item trained.
    """
    watch_search()
    pending, in_flight = collections.deque(items), set()
    with worker_pool(workers - 1, function, shared) as pool:

        def top_up() -> None:
            # a second item queued per worker only while many are left: at a batch's end, a worker holding two of
            # the last ones would leave this process idle
            while pending and len(in_flight) < (workers - 1) * (2 if len(pending) > workers else 1):
                in_flight.add(pool.submit(pending.popleft()))

        def feed_idle_workers() -> None:
            idle = (workers - 1) - sum(not future.done() for future in in_flight)
            for _ in range(min(idle, len(pending))):
                try:
                    in_flight.add(pool.submit(pending[0]))
                except Exception:  # noqa: BLE001 — never into this process's trial: a broken pool is seen when
                    return  # its outcomes are waited for, and the item is still pending
                pending.popleft()

        top_up()
        for _ in items:
            ready = next((f for f in in_flight if f.done()), None)
            if ready is None and pending:
                result = function(pending.pop(), *shared, between_epochs=feed_idle_workers)  # the shortest left
            else:
                if ready is None:
                    ready = _next_done(in_flight, pool.lost)
                in_flight.discard(ready)
                try:
                    result = ready.result()
                except BrokenExecutor as exc:
                    raise worker_lost(exc) from exc
            top_up()
            yield result


def _next_done(futures: set[Future[Any]], lost: Callable[[], str | None]) -> Future[Any]:
    """The next of ``futures`` done; WorkerLostError if a worker process died and its pool has not said so within
    ``LOST_WORKER_CHECK_S``: one killed while it sent its outcome, beside other workers whose ends of the result
    pipe stay open, leaves the pool's manager thread waiting forever for the rest of that outcome."""
    while True:
        done = wait(futures, timeout=LOST_WORKER_CHECK_S, return_when=FIRST_COMPLETED).done
        if done:
            return next(iter(done))
        how = lost()
        if how is not None:
            raise WorkerLostError(f"a worker process died while training ({how})")


def fork_available() -> bool:
    """Whether workers may start by fork: on Linux (macOS's system libraries are not fork-safe; Windows has none)."""
    return sys.platform.startswith("linux")


#: Within ``kept_workers``: the forked pool kept for the next batch, by its workers, function and shared objects'
#: ids, with those objects (held, so that no other object takes their ids); None outside (a pool per batch).
_kept: contextvars.ContextVar[dict[tuple[Any, ...], tuple[ProcessPoolExecutor, tuple[Any, ...]]] | None] = (
    contextvars.ContextVar("hpsearch_kept_workers", default=None)
)


@contextlib.contextmanager
def kept_workers() -> Iterator[None]:
    """Forked workers outlive a batch within this block: the next batch of the same ``function`` on the same
    ``shared`` objects (a search's rungs and rounds) reuses them, and they end with the block.

    A fork is cheap (~5 ms), but what follows is not: both processes then fault and copy every page of the search
    process's memory that either one writes, and forking again at every rung starts it over (measured on an
    81-trial halving search on 2 workers: 75,000 page faults and 0.33 s of system time, 35,000 and 0.20 s with one
    fork). Per thread (a context variable): a search started in another thread keeps its own.
    """
    if _kept.get() is not None or not fork_available():  # within one already; elsewhere joblib reuses loky's
        yield
        return
    token = _kept.set({})
    try:
        yield
    except BaseException:
        for pool, _ in _kept.get().values():
            _kill(pool)
        raise
    else:
        for pool, _ in _kept.get().values():
            pool.shutdown()
    finally:
        _kept.reset(token)


@contextlib.contextmanager
def worker_pool(workers: int, function: Callable[..., Any], shared: tuple[Any, ...]) -> Iterator[WorkerPool]:
    """``workers`` processes ready to run ``function(item, *shared)`` (``WorkerPool``: ``submit``, ``lost``). They
    are killed at once if the block ends by an exception (Ctrl-C, an error, a caller that stopped early), as
    joblib's Parallel does: not after their current item.

    On Linux they are forked from this process: a worker starts in milliseconds with every module this process
    imported, the data it read, ``function`` and ``shared`` (only items and outcomes are pickled), where a fresh
    interpreter (loky) spends about 0.4 s importing before its first epoch — a tenth of a 40-trial search on two
    cores. They end with the block, or within ``kept_workers`` with its block. Elsewhere: joblib's reusable loky
    executor (which its Parallel, for own objectives, shares), kept for the next batch.
    """
    forked: ProcessPoolExecutor | None = None
    if fork_available():
        forked = _forked_pool(workers, function, shared)
        executor: Executor = forked
        pool = WorkerPool(functools.partial(forked.submit, _forked_call), functools.partial(_lost, forked))
    else:
        from joblib.executor import get_memmapping_executor

        executor = get_memmapping_executor(workers, timeout=WORKER_IDLE_SECONDS, env=ONE_THREAD_ENV)

        def submit(item: Any) -> Future[Any]:
            return executor.submit(in_worker, function, item, os.getpid(), *shared)

        pool = WorkerPool(submit, lambda: None)  # loky watches its own workers

    try:
        yield pool
    except BaseException:
        if forked is not None:
            kept = _kept.get()
            if kept is not None:
                kept.clear()  # not handed to another batch: it may hold items of this one
            _kill(forked)
        else:
            executor.shutdown(wait=False, kill_workers=True)
        raise
    if forked is not None and _kept.get() is None:
        forked.shutdown()


def _forked_pool(workers: int, function: Callable[..., Any], shared: tuple[Any, ...]) -> ProcessPoolExecutor:
    """The pool ``kept_workers`` keeps for these arguments, or a new one (kept there, ending the one it had)."""
    kept = _kept.get()
    key = (workers, function, *map(id, shared))
    if kept is not None and key in kept:
        return kept[key][0]
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, context, initializer=_forked_worker, initargs=(os.getpid(), function, shared))
    try:
        # The workers fork at the first call. Ctrl-C and SIGTERM wait meanwhile: one arriving in the middle raised
        # inside the fork's handlers (logging's, in this process: "Exception ignored", the search went on) or in a
        # worker before it ignores Ctrl-C; held, it reaches this process just after, as anywhere else.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            started = pool.submit(os.getpid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        started.result()
    except BrokenExecutor as exc:  # a worker that died at its start (out of memory)
        _kill(pool)
        raise worker_lost(exc) from exc
    except BaseException:  # that Ctrl-C, delivered
        _kill(pool)
        raise
    # This process's copy of the result pipe's writing end is closed (only workers write there). A worker killed
    # while it sends an outcome (by the OOM killer) left half a message that the pool's manager thread waited for
    # forever; now the pipe ends there and the pool is broken at once — with one worker (two cores). With more, the
    # other workers' ends stay open (``WorkerPool.lost`` covers that).
    pool._result_queue._writer.close()
    if kept is not None:
        for old, _ in kept.values():
            old.shutdown()
        kept.clear()
        kept[key] = pool, shared
    return pool


def _lost(pool: ProcessPoolExecutor) -> str | None:
    """How a worker of ``pool`` ended, if one did (``WorkerPool.lost``)."""
    for process in list((pool._processes or {}).values()):
        code = process.exitcode
        if code is not None:  # a negative code: the signal that killed it (SIGKILL from the OOM killer, say)
            return signal.Signals(-code).name if code < 0 and -code in signal.valid_signals() else f"exit code {code}"
    return None


def _kill(pool: ProcessPoolExecutor) -> None:
    """Python 3.14's ProcessPoolExecutor.kill_workers(), on 3.10-3.13 too, and the pool's manager thread ended."""
    processes = list((pool._processes or {}).values())
    for process in processes:
        process.kill()
    for process in processes:
        process.join()
    # Every writing end of the result pipe is gone with them and this process's (closed by ``_forked_pool`` once
    # the workers started; here too, if they had not), so a manager thread in the middle of a killed worker's
    # outcome reads the pipe's end, takes the pool for broken and ends. Waiting for it (milliseconds): left
    # running, it may close its wake-up pipe while the interpreter's exit hook writes to it (a traceback at exit).
    if pool._result_queue is not None:
        pool._result_queue._writer.close()
    pool.shutdown(wait=True, cancel_futures=True)


#: In a forked worker: the ``function`` and ``shared`` arguments of every call (``worker_pool``).
_forked_task: tuple[Callable[..., Any], tuple[Any, ...]] | None = None


def _forked_worker(search: int, function: Callable[..., Any], shared: tuple[Any, ...]) -> None:
    """Start a worker forked from the search process ``search``: not its signal handlers, not its streams."""
    global _forked_task
    _forked_task = function, shared
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the search, which reports it and kills this
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the live display's handler (cli.live)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # held while it forked
    # A thread of the search (the live display's refresh) may have held a stream's lock at the fork; that lock
    # stays held here forever: this process writes (and flushes at its end) through streams of its own.
    sys.stdout, sys.stderr = _own_stream(1), _own_stream(2)
    exit_with(search)


def _own_stream(fd: int) -> TextIO:
    try:
        return open(fd, "w", buffering=1, closefd=False)
    except OSError:  # a search started with that descriptor closed (a daemon's)
        return open(os.devnull, "w")


def _forked_call(item: Any) -> Any:
    assert _forked_task is not None, "not in a forked worker"
    function, shared = _forked_task
    return function(item, *shared)


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
        yield from run_on_dask(function, items, shared, scheduler)
        return
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", inner_max_num_threads=1):
        # A free worker is fed the next item as soon as it reports back, so a rung of uneven trials
        # leaves no worker idle while work remains. joblib's automatic batching groups items only while
        # each takes under ~0.2 s: tiny trials are then sent a few at a time (1 ms of dispatch each would
        # double their cost); real trials go one by one.
        parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
        try:
            yield from parallel(delayed(in_worker)(function, item, os.getpid(), *shared) for item in items)
        except BrokenExecutor as exc:
            raise worker_lost(exc) from exc


def worker_lost(exc: BrokenExecutor) -> WorkerLostError:
    """What a killed worker (OOM killer, kill -9) becomes: its item has no result; the finished ones are saved."""
    return WorkerLostError(f"a worker process died while training ({type(exc).__name__})")
