"""The babysit loop: train one epoch, decide at its boundary, record and save — until the target or a stop.

Every epoch goes to the run's ``epochs`` table as it is trained, every decision
to its ``decisions`` table, and after each boundary the whole session is saved
atomically to ``babysit-state.npz``: a kill -9 at any instant loses at most
the epoch in progress, and a continue forgets whatever was recorded past the
saved boundary. Ctrl-C, SIGTERM and SIGHUP (the terminal closed) go back to
the last whole boundary, record why it stopped and save. Where a session stops
with a usable state, its weights and data preparation are kept as
``models/best.npz``, so ``hpsearch predict RUN`` uses the babysat model.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from threadpoolctl import threadpool_limits

from hpsearch.babysit.rules import key_decision
from hpsearch.babysit.run_files import SIGNAL_REASONS, TRIAL, decisions, timeline
from hpsearch.babysit.state import EpochReport, Session
from hpsearch.core.decisions import INTERRUPT, STOP, Decision
from hpsearch.core.errors import Interrupted
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.segments import cached_dataset
from hpsearch.nn.state import history_keys
from hpsearch.storage.records import EpochLog
from hpsearch.storage.run_names import command_ref
from hpsearch.storage.run_store import RunStore


class Watcher(Protocol):
    """The front end of a babysat run (the CLI's live view or plain lines).

    ``keys()`` is asked at every epoch boundary for the keys pressed since the
    last one (``-``, ``+``, ``r``, ``s``; others are ignored); it may block, to pause.
    """

    def epoch(self, report: EpochReport) -> None: ...

    def decision(self, decision: Decision) -> None: ...

    def keys(self) -> str: ...


class Unattended:
    """A watcher that shows nothing and presses no key: the rules alone decide."""

    def epoch(self, report: EpochReport) -> None:
        pass

    def decision(self, decision: Decision) -> None:
        pass

    def keys(self) -> str:
        return ""


@dataclass(frozen=True)
class BabysitResult:
    """A babysat run after a session: its trial's record, every decision so far, and why it stopped.

    ``stopped``: ``epochs`` (trained its target), ``key s`` or ``min_learning_rate``.
    ``again``: what to pass ``hpsearch babysit`` to continue it (``storage.run_names.command_ref``).
    """

    run_dir: Path
    name: str
    record: TrialRecord
    decisions: list[Decision]
    stopped: str
    target: int
    again: str = ""


class _Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: stop at the last whole boundary, as on Ctrl-C (``reason`` says which)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``_Stopped`` inside (the main thread only: elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _Stopped(SIGNAL_REASONS[0] if signum == signal.SIGHUP else SIGNAL_REASONS[1])

    saved = {s: signal.signal(s, stop) for s in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def sit(store: RunStore, session: Session, prepared: PreparedData, target: int, watcher: Watcher) -> BabysitResult:
    """Train ``session`` to ``target`` timeline epochs, deciding at every boundary and saving after each;
    record where it stops."""
    data = cached_dataset(prepared)
    session.save(store, target)  # from the first instant there is a state to continue from
    stopped = "epochs"
    boundary = session.snapshot()
    with threadpool_limits(limits=1, user_api="blas"), _stop_on_signals():
        try:
            while session.epochs < target and stopped == "epochs":
                stopped = _one_epoch(store, session, data, target, watcher)
                session.save(store, target)  # a kill from here on loses nothing of this epoch
                boundary = session.snapshot()
        except (KeyboardInterrupt, _Stopped) as signalled:
            # Wherever it lands (mid-epoch, mid-snapshot), go back to the last whole boundary;
            # finish forgets what was recorded past it.
            session.restore(boundary)
            reason = signalled.reason if isinstance(signalled, _Stopped) else INTERRUPT
            stop = Decision(session.epochs, STOP, reason, session.rate(), session.rate())
            _finish(store, session, prepared, target, stop)
            raise Interrupted(
                f"saved after epoch {session.epochs} in run '{store.run_dir.name}'",
                f"hpsearch babysit {command_ref(store.run_dir)}",
            ) from None
    return _finish(store, session, prepared, target, None, stopped)


def _one_epoch(store: RunStore, session: Session, data: Any, target: int, watcher: Watcher) -> str:
    """Train one epoch, record it, make and record the boundary's decisions; return ``epochs`` or why it stops."""
    values, seconds, diverged = session.train_epoch(data)
    store.record_progress(TRIAL, 0, EpochLog(session.epochs - 1, {k: [v] for k, v in values.items()}, [seconds]))
    watcher.epoch(session.report(target))
    keeper = session.keeper
    made: list[Decision] = []
    if diverged:  # first: the state is unusable until rolled back
        made.append(keeper.rule_decision(session.epochs, True, session.rate(), session.rate_after))
        session.apply(made[-1])
    for key in watcher.keys():
        if made and made[-1].action == STOP:
            break
        decision = key_decision(key, session.epochs, session.rate(), session.rate_after, keeper.rollback_target)
        if decision is not None:
            made.append(decision)
            session.apply(decision)
    if not made or made[-1].action != STOP:
        decision = keeper.rule_decision(session.epochs, False, session.rate(), session.rate_after)
        if decision is not None:
            made.append(decision)
            session.apply(decision)
    for decision in made:
        store.record_decision(TRIAL, decision)
        watcher.decision(decision)
    return made[-1].reason if made and made[-1].action == STOP else "epochs"


def _finish(
    store: RunStore,
    session: Session,
    prepared: PreparedData,
    target: int,
    stop: Decision | None,
    stopped: str = INTERRUPT,
) -> BabysitResult:
    """Save the session, keep its model for ``predict`` and write the trial's record (forgetting anything
    recorded past the boundary)."""
    store.reopen_trial(TRIAL, session.epochs)
    if stop is not None:
        store.record_decision(TRIAL, stop)
    session.save(store, target)
    if session.state.status is TrialStatus.OK and session.state.epoch:
        store.save_best_model(TRIAL, prepared.model_state(session.state.network.state()))
    _, seconds = store.epoch_log(TRIAL)
    record = _record(session, timeline(store), seconds)
    store.record_progress(TRIAL, 0, EpochLog(0, {}), final=record)
    return BabysitResult(
        store.run_dir, store.run_dir.name, record, decisions(store), stopped, target, command_ref(store.run_dir)
    )


def _record(session: Session, history: dict[str, list[float]], seconds: list[float | None]) -> TrialRecord:
    """Trial 0's record: its timeline as history; its costs those of the epoch whose state it holds now."""
    state = session.state
    last = {key: state.history[key][-1] if state.epoch else None for key in history_keys(state.network.task)}
    best = session.keeper.best_epoch
    return TrialRecord(
        trial=TRIAL,
        round=0,
        index=0,
        params={},
        seed=state.config.seed,
        status=state.status,
        dev_cost=last["dev_cost"],
        train_cost=last["train_cost"],
        dev_accuracy=last["dev_accuracy"],
        epochs_run=len(history["dev_cost"]),
        seconds=math.fsum(s for s in seconds if s is not None),
        history=history,
        value=last["dev_cost"],
        best_dev_cost=session.keeper.best_dev_cost,
        best_epoch=None if best is None or best == 0 else best - 1,
    )
