"""Panda: babysit one model epoch by epoch — nudge its learning rate, roll back when it worsens.

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
and at every boundary it stops at (the end, ``s``, a rule, Ctrl-C) the whole
session — the current state, the best epoch's state, the rules' memory — to
``babysit-state.npz``, so the run continues exactly where it was.

The *timeline* is every epoch trained, in order, those a rollback discarded
included: the run's ``epochs`` table, its trial's ``history`` and the
learning-curve plot follow it, and decisions name its epochs. Training is
deterministic (one BLAS thread, seeded streams), so replaying the decisions
at the same boundaries reproduces every epoch's J bit for bit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Protocol

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.dataset import Dataset
from hpsearch.core.decisions import HANDOVER, INTERRUPT, STOP, BabysitRules, Decision
from hpsearch.babysit.rules import RuleKeeper, key_decision
from hpsearch.core.errors import DataError, Interrupted, ReplayMismatch, RunError
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.optimizers import learning_rate_at
from hpsearch.nn.state import HISTORY_KEYS, TrainingState, fit, start
from hpsearch.data.datasets import load_dataset
from hpsearch.data.stored_arrays import prepared_data, write_prepared
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.execution.segments import Segment, TrialTask, cached_dataset, train_segment
from hpsearch.space.search_space import Space
from hpsearch.io.npz import NpzUnreadable, npz_bytes
from hpsearch.storage.records import EpochLog
from hpsearch.storage.run_names import new_run_dir, validate_run_name
from hpsearch.storage.run_store import RunStore

KIND = "babysit"
"""The kind of a babysat run's one round."""
TRIAL = 0
STATE_FILE = "babysit-state.npz"
STATE_FILE_FORMAT = 1
COMPARED = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate")
"""What replay checks for every epoch, bit for bit (NaN equals NaN)."""


@dataclass(frozen=True)
class EpochReport:
    """What a watcher hears after each epoch.

    ``epoch``: timeline epochs trained so far, of ``target``; ``history``: the
    timeline (``HISTORY_KEYS`` → one float per epoch); ``learning_rate``: the
    rate the next epoch trains at; ``best_epoch``: the timeline epoch of the
    best dev J so far (None: none yet).
    """

    epoch: int
    target: int
    history: Mapping[str, list[float]]
    learning_rate: float
    best_epoch: int | None
    best_dev_cost: float | None
    diverged: bool


class Watcher(Protocol):
    """The front end of a babysat run (the CLI's live view or plain lines).

    ``keys()`` is asked at every epoch boundary for the keys pressed since the
    last one (``-``, ``+``, ``r``, ``s``; others are ignored); it may block, to pause.
    """

    def epoch(self, report: EpochReport) -> None: ...

    def decision(self, decision: Decision) -> None: ...

    def keys(self) -> str: ...


class _Unattended:
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
    """

    run_dir: Path
    name: str
    record: TrialRecord
    decisions: list[Decision]
    stopped: str
    target: int


@dataclass(frozen=True)
class ReplayResult:
    """A replay that matched: how many epochs and decisions it re-executed."""

    run_dir: Path
    name: str
    epochs: int
    decisions: int


# ---------------------------------------------------------------------- the session


class _Session:
    """A babysat model at an epoch boundary: its state, the best epoch's state, the rules' memory, the timeline."""

    def __init__(self, state: TrainingState, best: TrainingState, keeper: RuleKeeper, timeline: dict[str, list[float]]):
        self.state, self.best, self.keeper, self.timeline = state, best, keeper, timeline

    @classmethod
    def fresh(cls, state: TrainingState, rules: BabysitRules, timeline: dict[str, list[float]] | None = None) -> _Session:
        """A session at ``state``: nothing to roll back to before it, so it is the first best."""
        keeper = RuleKeeper(rules)
        timeline = timeline if timeline is not None else {key: [] for key in HISTORY_KEYS}
        if state.epoch:
            dev = timeline["dev_cost"][-1]
            keeper.best_epoch = len(timeline["dev_cost"])
            keeper.best_dev_cost = dev if math.isfinite(dev) else None
        return cls(state, state.copy(), keeper, timeline)

    @property
    def epochs(self) -> int:
        """Timeline epochs trained so far."""
        return len(self.timeline["dev_cost"])

    def rate(self) -> float:
        """The learning rate the next epoch trains at."""
        return learning_rate_at(self.state.config, self.state.epoch) * self.state.learning_rate_factor

    def rate_after(self, multiplier: float, rolled_back: bool) -> float:
        """The rate the next epoch would train at after multiplying the factor (and rolling back)."""
        epoch = self.best.epoch if rolled_back else self.state.epoch
        return learning_rate_at(self.state.config, epoch) * (self.state.learning_rate_factor * multiplier)

    def train_epoch(self, data: Dataset) -> tuple[dict[str, float], float, bool]:
        """Train one epoch; returns its values, its seconds and whether it diverged."""
        fit(self.state, data, self.state.epoch + 1)
        values = {key: self.state.history[key][-1] for key in HISTORY_KEYS}
        for key in HISTORY_KEYS:
            self.timeline[key].append(values[key])
        diverged = self.state.status is TrialStatus.DIVERGED
        if self.keeper.observe(self.epochs, values["dev_cost"], diverged):
            self.best = self.state.copy()
        return values, self.state.epoch_seconds[-1], diverged

    def apply(self, decision: Decision) -> None:
        """Change the state as ``decision`` says (a handover changes nothing)."""
        if decision.action == HANDOVER:
            return
        factor = self.state.learning_rate_factor * decision.multiplier(self.keeper.rules)
        if decision.rolled_back_to is not None:
            self.state = self.best.copy()
            self.state.status = TrialStatus.OK
        self.state.learning_rate_factor = factor
        self.keeper.applied(decision)

    def report(self, target: int) -> EpochReport:
        return EpochReport(self.epochs, target, self.timeline, self.rate(), self.keeper.best_epoch,
                           self.keeper.best_dev_cost, self.state.status is TrialStatus.DIVERGED)

    # -- a boundary to go back to when Ctrl-C lands mid-epoch ---------------------

    def snapshot(self) -> tuple:
        # The best state is replaced, never changed, so keeping the object is enough.
        return (self.state.to_arrays(), self.best, RuleKeeper(**vars(self.keeper)),
                {key: list(values) for key, values in self.timeline.items()})

    def restore(self, snapshot: tuple) -> None:
        arrays, self.best, self.keeper, self.timeline = snapshot
        self.state = TrainingState.from_arrays(arrays)

    # -- the file a stopped run continues from ------------------------------------

    def save(self, store: RunStore, target: int) -> None:
        """Write the session to the run's ``STATE_FILE`` atomically, never through a symlink, its digest kept."""
        arrays = {f"current.{k}": v for k, v in self.state.to_arrays().items()}
        arrays.update({f"best.{k}": v for k, v in self.best.to_arrays().items()})
        meta = {"format": STATE_FILE_FORMAT, "epochs": self.epochs, "target": target, **self.keeper.to_dict()}
        arrays["babysit"] = np.array(json.dumps(meta))
        store.write_tracked("", STATE_FILE, npz_bytes(arrays))  # fresh temp file, fsync, rename; no symlink

    @classmethod
    def load(cls, store: RunStore, rules: BabysitRules, timeline: dict[str, list[float]]) -> tuple[_Session, int]:
        """The session saved in the run's ``STATE_FILE`` and its target; ``timeline`` is cut to the epochs it had."""
        path = store.run_dir / STATE_FILE
        try:
            arrays = store.read_tracked(STATE_FILE)  # digest checked, headers checked before anything is allocated
            meta = json.loads(str(arrays.pop("babysit")[()]))
            if meta.get("format") != STATE_FILE_FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
        except (NpzUnreadable, KeyError, ValueError) as error:
            reason = error.reason if isinstance(error, NpzUnreadable) else error
            raise DataError(f"{path}: cannot read the babysat state ({reason}) — was it changed outside hpsearch?") from None
        parts = {prefix: {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
                 for prefix in ("current.", "best.")}
        epochs = meta["epochs"]
        if any(len(values) < epochs for values in timeline.values()):
            raise RunError(f"{path}: holds {epochs} epochs, the run records fewer — was run.sqlite changed?")
        keeper = RuleKeeper(rules, meta["best_epoch"], meta["best_dev_cost"], meta["since_best"])
        session = cls(TrainingState.from_arrays(parts["current."]), TrainingState.from_arrays(parts["best."]), keeper,
                      {key: list(values[:epochs]) for key, values in timeline.items()})
        return session, meta["target"]


# ---------------------------------------------------------------------- commands


def start_babysit(
    config: SearchConfig,
    model: ModelConfig,
    *,
    runs_dir: Path,
    name: str | None = None,
    watcher: Watcher | None = None,
) -> BabysitResult:
    """Create a babysat run of ``model`` (trained on ``config``'s data, under its ``babysit:`` rules) and
    train it to ``model.epochs`` epochs."""
    data = load_dataset(config.resolved_data())  # a data error is the user's: before a run folder exists
    store = _create_run(config, model, runs_dir, name or f"{config.name}-babysit", data)
    with store, store.lock():
        session = _Session.fresh(start(model, data), config.babysit)
        return _sit(store, session, data, model.epochs, watcher or _Unattended())


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

    The best trial continues from its saved training state (``models/best-state.npz``);
    any other is trained again from scratch to its recorded epochs — deterministic, so
    to the same state. The new run's first epochs are the trial's, bit for bit.
    """
    with RunStore.open(search_dir) as search:
        config = _engine_config(search)
        if _is_babysat(search):
            raise RunError(f"run '{search.name}' is a babysat run — continue it with: hpsearch babysit {search.name}")
        records = {t.trial: t for t in search.trials()}
        record = records.get(trial)
        if record is None:
            known = ", ".join(str(t) for t in sorted(records)) or "none yet"
            raise RunError(f"run '{search.name}' has no finished trial {trial} (finished: {known})")
        if record.status not in (TrialStatus.OK, TrialStatus.PRUNED):
            raise RunError(f"trial {trial} of run '{search.name}' {record.status.value}: there is no state to continue"
                           " — pick an ok trial (hpsearch show)")
        saved = search.best_state()
        search_name = search.name
    prepared = prepared_data(search_dir, config.resolved_data())  # the arrays the search trained on
    data = cached_dataset(prepared)
    if saved is not None and saved[0] == trial:
        state = TrainingState.load(saved[1])
    else:  # train it again to where it stopped: the same state, bit for bit
        task = TrialTask(record.trial, record.round, record.index, record.params, record.seed)
        outcome = train_segment(Segment(task, until_epoch=record.epochs_run), config.model, prepared)
        if outcome.state is None:
            raise RunError(f"trial {trial} of run '{search_name}' trained again ends {outcome.status.value}"
                           f"{f' ({outcome.error})' if outcome.error else ''}: there is no state to continue")
        state = TrainingState.from_arrays(outcome.state)
    timeline = {key: list(state.history[key]) for key in HISTORY_KEYS}
    store = _create_run(config, state.config, runs_dir, name or f"{search_name}-trial-{trial}", data)
    with store, store.lock():
        session = _Session.fresh(state, config.babysit, timeline)
        store.record_progress(TRIAL, 0, EpochLog(0, timeline, list(state.epoch_seconds)))
        handover = Decision(session.epochs, HANDOVER, f"run {search_name} trial {trial}", session.rate(), session.rate())
        store.record_decision(TRIAL, handover)
        target = session.epochs + (epochs if epochs is not None else state.config.epochs)
        return _sit(store, session, data, target, watcher or _Unattended())


def continue_babysit(run_dir: Path, *, epochs: int | None = None, watcher: Watcher | None = None) -> BabysitResult:
    """Continue a stopped babysat run where it was: ``epochs`` more epochs, else up to its target."""
    with RunStore.open(run_dir) as store, store.lock():
        config = _engine_config(store)
        if not _is_babysat(store):
            best = store.summary().best_trial
            hint = f" (its best is trial {best})" if best is not None else ""
            raise RunError(f"run '{store.name}' is a search: pick the trial to babysit with --trial N{hint}")
        data = cached_dataset(prepared_data(store.run_dir, config.resolved_data()))
        timeline, _ = store.epoch_log(TRIAL)
        session, target = _Session.load(store, config.babysit, _complete(timeline))
        if epochs is not None:
            target = session.epochs + epochs
        elif session.epochs >= target:
            raise RunError(f"run '{store.name}' has trained all its {target} epochs — "
                           f"train more with: hpsearch babysit {store.name} --epochs N")
        store.reopen_trial(TRIAL, session.epochs)
        return _sit(store, session, data, target, watcher or _Unattended())


def replay_babysit(run_dir: Path, watcher: Watcher | None = None) -> ReplayResult:
    """Train a babysat run again from the start, applying its recorded decisions at the same epoch boundaries,
    and check every epoch's J against the record, bit for bit.

    Raises
    ------
    ReplayMismatch : the first epoch or decision that differs
    """
    watcher = watcher or _Unattended()
    with RunStore.open(run_dir) as store:
        config = _engine_config(store)
        if not _is_babysat(store):
            raise RunError(f"run '{store.name}' is a search, not a babysat run: there are no decisions to replay")
        decisions = store.decisions().get(TRIAL, [])
        recorded, _ = store.epoch_log(TRIAL)
        name = store.name
    recorded = _complete(recorded)
    model = ModelConfig.from_dict(config.model)
    data = cached_dataset(prepared_data(run_dir, config.resolved_data()))
    total = len(recorded["dev_cost"])
    pending = list(decisions)
    with threadpool_limits(limits=1, user_api="blas"):
        state = start(model, data)
        if pending and pending[0].action == HANDOVER:  # the search's epochs: trained straight, no decision
            fit(state, data, pending[0].epoch)
            session = _Session.fresh(state, config.babysit, {key: list(state.history[key]) for key in HISTORY_KEYS})
            for epoch in range(session.epochs):
                _check_epoch(name, epoch + 1, session.timeline, recorded)
        else:
            session = _Session.fresh(state, config.babysit)
        while True:
            while pending and pending[0].epoch == session.epochs:
                _replay_decision(name, session, pending.pop(0))
            if session.epochs >= total:
                break
            session.train_epoch(data)
            _check_epoch(name, session.epochs, session.timeline, recorded)
            watcher.epoch(session.report(total))
    if pending:
        raise ReplayMismatch(f"run '{name}': decision '{pending[0].describe()}' lies past the {total} recorded epochs")
    return ReplayResult(Path(run_dir), name, total, len(decisions))


# ---------------------------------------------------------------------- the loop


def _sit(store: RunStore, session: _Session, data: Dataset, target: int, watcher: Watcher) -> BabysitResult:
    """Train ``session`` to ``target`` timeline epochs, deciding at every boundary; save and record where it stops."""
    path = store.run_dir / STATE_FILE
    session.save(store, target)  # from the first instant there is a state to continue from
    stopped = "epochs"
    boundary = session.snapshot()
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            while session.epochs < target and stopped == "epochs":
                stopped = _one_epoch(store, session, data, target, watcher)
                boundary = session.snapshot()
        except KeyboardInterrupt:
            # Wherever Ctrl-C lands (mid-epoch, mid-snapshot), go back to the last whole boundary;
            # _finish forgets what was recorded past it.
            session.restore(boundary)
            stop = Decision(session.epochs, STOP, INTERRUPT, session.rate(), session.rate())
            _finish(store, session, target, path, stop)
            raise Interrupted(f"saved after epoch {session.epochs} in run '{store.name}'",
                              f"hpsearch babysit {store.name}") from None
    return _finish(store, session, target, path, None, stopped)


def _one_epoch(store: RunStore, session: _Session, data: Dataset, target: int, watcher: Watcher) -> str:
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


def _finish(store: RunStore, session: _Session, target: int, path: Path, stop: Decision | None,
            stopped: str = INTERRUPT) -> BabysitResult:
    """Save the session and write the trial's record (forgetting anything recorded past the boundary)."""
    store.reopen_trial(TRIAL, session.epochs)
    if stop is not None:
        store.record_decision(TRIAL, stop)
    session.save(store, target)
    timeline, seconds = store.epoch_log(TRIAL)
    record = _record(session, _complete(timeline), seconds)
    store.record_progress(TRIAL, 0, EpochLog(0, {}), final=record)
    return BabysitResult(store.run_dir, store.name, record, store.decisions().get(TRIAL, []), stopped, target)


def _record(session: _Session, timeline: dict[str, list[float]], seconds: list[float | None]) -> TrialRecord:
    """Trial 0's record: its timeline as history; its costs those of the epoch whose state it holds now."""
    state = session.state
    last = {key: state.history[key][-1] if state.epoch else None for key in HISTORY_KEYS}
    best = session.keeper.best_epoch
    return TrialRecord(
        trial=TRIAL, round=0, index=0, params={}, seed=state.config.seed, status=state.status,
        dev_cost=last["dev_cost"], train_cost=last["train_cost"], dev_accuracy=last["dev_accuracy"],
        epochs_run=len(timeline["dev_cost"]), seconds=math.fsum(s for s in seconds if s is not None),
        history=timeline, value=last["dev_cost"], best_dev_cost=session.keeper.best_dev_cost,
        best_epoch=None if best is None or best == 0 else best - 1,
    )


def _replay_decision(name: str, session: _Session, decision: Decision) -> None:
    if decision.action == HANDOVER:
        return
    target = session.keeper.rollback_target if decision.rolled_back_to is not None else None
    after = session.rate_after(decision.multiplier(session.keeper.rules), target is not None)
    if target != decision.rolled_back_to or after != decision.learning_rate_after:
        raise ReplayMismatch(
            f"run '{name}': decision '{decision.describe()}' replays as learning rate {after!r}"
            f"{f', rolled back to epoch {target}' if target is not None else ''}"
        )
    session.apply(decision)


def _check_epoch(name: str, epoch: int, timeline: Mapping[str, list[float]], recorded: Mapping[str, list[float]]) -> None:
    for key in COMPARED:
        new, old = timeline[key][epoch - 1], recorded[key][epoch - 1]
        if not (new == old or (math.isnan(new) and math.isnan(old))):
            raise ReplayMismatch(f"run '{name}': epoch {epoch} replays with {key} {new!r}, the record has {old!r}")


# ---------------------------------------------------------------------- helpers


def _create_run(config: SearchConfig, model: ModelConfig, runs_dir: Path, name: str, data: Dataset) -> RunStore:
    """A new run holding ``model`` as fixed values (nothing searched), one babysit round of one trial, and
    ``data`` prepared in its folder, so that continuing and replaying it train on exactly these arrays."""
    run_dir = new_run_dir(runs_dir, validate_run_name(name))
    values = {k: v for k, v in model.to_dict().items() if v is not None}
    resolved = replace(config, name=run_dir.name, model=values, space=Space({})).to_dict()
    store = RunStore.create(run_dir, name=run_dir.name, config=resolved,
                            config_text=yaml.safe_dump(resolved, sort_keys=False))
    store.add_round(RoundRecord(round=0, space={}, n_trials=1, sampler=config.search.sampler, kind=KIND))
    write_prepared(store.run_dir, data)
    return store


def _engine_config(store: RunStore) -> SearchConfig:
    from hpsearch.search.api import stored_config  # hpsearch.search.api refuses babysat runs by this module's KIND

    config = stored_config(store)
    if config.objective is not None:
        raise RunError(f"run '{store.name}' tunes its own objective: babysit trains the built-in engine only")
    return config


def _is_babysat(store: RunStore) -> bool:
    return any(r.kind == KIND for r in store.rounds())


def _complete(history: dict[str, list[float]]) -> dict[str, list[float]]:
    """A timeline read from the store with every key (a run migrated from schema 1 has no learning rates)."""
    n = len(history.get("dev_cost", []))
    return {key: list(history.get(key, [math.nan] * n)) for key in HISTORY_KEYS}
