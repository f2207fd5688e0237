"""Panda: babysit one model epoch by epoch — nudge its learning rate, roll back when it worsens.

(Panda is Andrew Ng's name for tending one model with care, as a panda raises one cub, when compute allows
only one; its opposite, *caviar*, trains many at once and keeps the best, as a fish lays many eggs: a search.)

This is the library under ``hpsearch babysit``::

    result = start_babysit(config, model, runs_dir=Path("runs"))      # a new model
    result = continue_trial(search_run_dir, trial=3, runs_dir=...)    # caviar hands over to panda
    result = continue_babysit(result.run_dir, epochs=10)              # go on after a stop
    replay_babysit(result.run_dir)                                    # the proof: same J, bit for bit

A babysat model is an ordinary run in the runs folder (one round of kind
``babysit`` with one trial, trial 0), so ``list``, ``show``, ``export`` and
``plot`` know it. Training goes one epoch at a time (``fit(state, data,
state.epoch + 1)``); at each epoch boundary the rules of the config's
``babysit:`` section and the keys a ``Watcher`` hands over make ``Decision``\\ s
(``hpsearch.babysit.rules``): multiply the learning-rate factor, restore a copy of
the state kept at the best epoch, stop. Every epoch goes to the run's
``epochs`` table as it is trained, every decision to its ``decisions`` table,
and at every boundary the whole session — the current state, the best epoch's
state, the rules' memory — to ``babysit-state.npz``, so the run continues
exactly where it was, even after a kill -9 (at most the epoch in progress is
lost). Where it stops, its model is kept as ``models/best.npz`` for ``predict``.

The modules: ``state`` (the session and its file), ``loop`` (epoch, decide,
record, save), ``replay``, ``run_files`` (the run folder, read back checked),
``rules`` (the rules' state machine); this one holds the commands.

The *timeline* is every epoch trained, in order, those a rollback discarded
included: the run's ``epochs`` table, its trial's ``history`` and the
learning-curve plot follow it, and decisions name its epochs. Training is
deterministic (one BLAS thread, seeded streams), so replaying the decisions
at the same boundaries reproduces every epoch's J bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.babysit.loop import BabysitResult, Unattended, Watcher, sit
from hpsearch.babysit.replay import ReplayResult, replay_babysit
from hpsearch.babysit.run_files import (
    KIND,
    TRIAL,
    create_run,
    decisions,
    engine_config,
    is_babysat,
    refuse_links,
    refuse_test_part,
    timeline,
)
from hpsearch.babysit.state import STATE_FILE, EpochReport, Session
from hpsearch.config.search_config import SearchConfig
from hpsearch.core.decisions import HANDOVER, Decision
from hpsearch.core.errors import DataError, RunError
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.data.datasets import load_dataset
from hpsearch.data.stored_arrays import prepared_data, prepared_files
from hpsearch.execution.segments import Segment, TrialTask, train_segment
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.loop import start
from hpsearch.nn.state import TrainingState, history_keys
from hpsearch.storage.records import EpochLog
from hpsearch.storage.run_names import command_ref, validate_run_name
from hpsearch.storage.run_store import RunStore

__all__ = [
    "KIND",
    "STATE_FILE",
    "TRIAL",
    "BabysitResult",
    "EpochReport",
    "ReplayResult",
    "Watcher",
    "continue_babysit",
    "continue_trial",
    "replay_babysit",
    "start_babysit",
]


def start_babysit(
    config: SearchConfig, model: ModelConfig, *, runs_dir: Path, name: str | None = None, watcher: Watcher | None = None
) -> BabysitResult:
    """Create a babysat run of ``model`` (trained on ``config``'s data, under its ``babysit:`` rules) and
    train it to ``model.epochs`` epochs."""
    refuse_test_part(config, str(config.source))
    data = load_dataset(config.resolved_data())  # a data error is the user's: before a run folder exists
    store, prepared = create_run(config, model, runs_dir, name or f"{config.name}-babysit", data)
    with store, store.lock():
        session = Session.fresh(start(model, data), config.babysit)
        return sit(store, session, prepared, model.epochs, watcher or Unattended())


def continue_trial(
    search_dir: Path,
    trial: int,
    *,
    runs_dir: Path,
    name: str | None = None,
    epochs: int | None = None,
    watcher: Watcher | None = None,
) -> BabysitResult:
    """Hand a search's trial over to a new babysat run and train it ``epochs`` more epochs (default: its own).

    A trial continues from the saved training state (``models/best-state.npz``) only when that state is the
    trial's own run — its seed and its recorded epochs — never a ``confirm`` repeat of it (another seed);
    any other is trained again from scratch to its recorded epochs — deterministic, so to the same state.
    The new run's first epochs are the trial's, bit for bit.
    """
    refuse_links(search_dir)  # before a byte of its arrays is read
    with RunStore.open(search_dir, read_only=True) as search:
        config = engine_config(search)
        label = search.run_dir.resolve().name
        refuse_test_part(config, f"run '{label}'")
        if is_babysat(search):
            raise RunError(
                f"run '{label}' is a babysat run — continue it with: hpsearch babysit {command_ref(search.run_dir)}"
            )
        record = _continuable(search, trial)
        saved = search.best_state()
        prepared = prepared_data(search_dir, config.resolved_data())  # the arrays the search trained on
        search.check_digests(prepared_files(search_dir))  # ... as the search wrote them
    state = _own_state(saved[1], record) if saved is not None and saved[0] == trial else None
    if state is None:  # train it again to where it stopped: the same state, bit for bit
        task = TrialTask(record.trial, record.round, record.index, record.params, record.seed)
        outcome = train_segment(Segment(task, until_epoch=record.epochs_run), config.model, prepared)
        if outcome.state is None:
            raise RunError(
                f"trial {trial} of run '{label}' trained again ends {outcome.status.value}"
                f"{f' ({outcome.error})' if outcome.error else ''}: there is no state to continue"
            )
        state = TrainingState.from_arrays(outcome.state)
    history = {key: list(state.history[key]) for key in history_keys(state.network.task)}
    default_name = f"{label}-trial-{trial}" if _legal(f"{label}-trial-{trial}") else f"run-trial-{trial}"
    store, prepared = create_run(config, state.config, runs_dir, name or default_name, prepared.load())
    with store, store.lock():
        session = Session.fresh(state, config.babysit, history)
        store.record_progress(TRIAL, 0, EpochLog(0, history, list(state.epoch_seconds)))
        handover = Decision(session.epochs, HANDOVER, f"run {label} trial {trial}", session.rate(), session.rate())
        store.record_decision(TRIAL, handover)
        target = session.epochs + (epochs if epochs is not None else state.config.epochs)
        return sit(store, session, prepared, target, watcher or Unattended())


def continue_babysit(run_dir: Path, *, epochs: int | None = None, watcher: Watcher | None = None) -> BabysitResult:
    """Continue a stopped (or killed) babysat run where it was saved: ``epochs`` more epochs, else up to its target."""
    refuse_links(run_dir)
    with RunStore.open(run_dir) as store, store.lock():
        config = engine_config(store)
        again = command_ref(store.run_dir)
        if not is_babysat(store):
            best = store.summary().best_trial
            hint = f" (its best is trial {best})" if best is not None else ""
            raise RunError(f"run '{store.run_dir.name}' is a search: pick the trial to babysit with --trial N{hint}")
        decisions(store)  # a decision log changed by hand stops here, in one line
        session, target = Session.load(store, config.babysit, timeline(store))
        if epochs is not None:
            target = session.epochs + epochs
        elif session.epochs >= target:
            raise RunError(
                f"run '{store.run_dir.name}' has trained all its {target} epochs — "
                f"train more with: hpsearch babysit {again} --epochs N"
            )
        prepared = prepared_data(store.run_dir, config.resolved_data())
        store.reopen_trial(TRIAL, session.epochs)
        return sit(store, session, prepared, target, watcher or Unattended())


def _continuable(search: RunStore, trial: int) -> TrialRecord:
    """The record of a search's trial that has a state to continue, else RunError saying which to pick."""
    records = {t.trial: t for t in search.trials()}
    record = records.get(trial)
    if record is None:
        known = ", ".join(str(t) for t in sorted(records)) or "none yet"
        raise RunError(f"run '{search.run_dir.name}' has no finished trial {trial} (finished: {known})")
    if record.status not in (TrialStatus.OK, TrialStatus.PRUNED):
        raise RunError(
            f"trial {trial} of run '{search.run_dir.name}' {record.status.value}: there is no state to "
            "continue — pick an ok trial (hpsearch show)"
        )
    if any(r.kind == "import" and r.round == record.round for r in search.rounds()):
        raise RunError(
            f"trial {trial} of run '{search.run_dir.name}' was imported: there is no training to continue — pick "
            "a trial trained here (zoom the run first), or babysit its values: hpsearch babysit CONFIG --set ..."
        )
    return record


def _own_state(path: Path, record: TrialRecord) -> TrainingState | None:
    """The saved state at ``path`` if it is ``record``'s own training run (same seed, same recorded dev J
    every epoch), else None — after ``confirm`` it holds a repeat of the trial, trained with another seed."""
    try:
        state = TrainingState.load(path)
    except DataError:
        return None  # trained again instead: deterministic, so the same state
    recorded = record.history.get("dev_cost", [])
    same = (
        state.config.seed == record.seed
        and state.epoch == record.epochs_run
        and np.array_equal(
            np.asarray(state.history["dev_cost"], dtype=float), np.asarray(recorded, dtype=float), equal_nan=True
        )
    )
    return state if same else None


def _legal(name: str) -> bool:
    try:
        validate_run_name(name)
    except RunError:
        return False
    return True
