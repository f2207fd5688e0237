"""The proof a babysat run reproduces: train it again from the start, applying its recorded decisions at the
same epoch boundaries, and compare every epoch's J with the record, bit for bit.

Training is deterministic (one BLAS thread, seeded streams), so any difference
is a changed record or a machine that computes differently. Replay is a
reading command: it opens the run read-only and writes nothing into it (a run
without prepared arrays, from an older hpsearch, is prepared in memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from threadpoolctl import threadpool_limits

from hpsearch.babysit.loop import Unattended, Watcher
from hpsearch.babysit.run_files import decisions, engine_config, is_babysat, refuse_links, timeline
from hpsearch.babysit.state import Session
from hpsearch.core.dataset import Dataset
from hpsearch.core.decisions import HANDOVER, Decision
from hpsearch.core.errors import ReplayMismatch, RunError
from hpsearch.data.datasets import load_dataset
from hpsearch.data.stored_arrays import DATA_DIR, PreparedData
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.loop import fit, start
from hpsearch.nn.state import history_keys
from hpsearch.storage.run_store import RunStore

COMPARED = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate")
"""What replay checks for every epoch, bit for bit (NaN equals NaN)."""


@dataclass(frozen=True)
class ReplayResult:
    """A replay that matched: how many epochs and decisions it re-executed."""

    run_dir: Path
    name: str
    epochs: int
    decisions: int


def replay_babysit(run_dir: Path, watcher: Watcher | None = None) -> ReplayResult:
    """Train a babysat run again from the start, applying its recorded decisions at the same epoch boundaries,
    and check every epoch's J against the record, bit for bit (``watcher`` hears each epoch).

    Raises
    ------
    ReplayMismatch : the first epoch or decision that differs
    DataError : a recorded decision or epoch is not one hpsearch writes (names run.sqlite)
    """
    watcher = watcher or Unattended()
    refuse_links(run_dir)
    with RunStore.open(run_dir, read_only=True) as store:
        config = engine_config(store)
        name = store.run_dir.name
        if not is_babysat(store):
            raise RunError(f"run '{name}' is a search, not a babysat run: there are no decisions to replay")
        recorded_decisions = decisions(store)
        recorded = timeline(store)
    model = ModelConfig.from_dict(config.model)
    data = _run_data(run_dir, config)
    total = len(recorded["dev_cost"])
    pending = list(recorded_decisions)
    with threadpool_limits(limits=1, user_api="blas"):
        state = start(model, data)
        if pending and pending[0].action == HANDOVER:  # the search's epochs: trained straight, no decision
            fit(state, data, min(pending[0].epoch, total))
            session = Session.fresh(
                state, config.babysit, {key: list(state.history[key]) for key in history_keys(state.network.task)}
            )
            for epoch in range(session.epochs):
                _check_epoch(name, epoch + 1, session.timeline, recorded)
        else:
            session = Session.fresh(state, config.babysit)
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
    return ReplayResult(Path(run_dir), name, total, len(recorded_decisions))


def _run_data(run_dir: Path, config: object) -> Dataset:
    """The run's prepared arrays; a run from before they were stored is prepared in memory, never written."""
    folder = Path(run_dir) / DATA_DIR
    if (folder / "dataset.json").is_file():
        return PreparedData(str(folder.resolve())).load()
    return load_dataset(config.resolved_data())  # type: ignore[attr-defined]


def _replay_decision(name: str, session: Session, decision: Decision) -> None:
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


def _check_epoch(
    name: str, epoch: int, timeline: Mapping[str, list[float]], recorded: Mapping[str, list[float]]
) -> None:
    for key in COMPARED:
        new, old = timeline[key][epoch - 1], recorded[key][epoch - 1]
        if not (new == old or (math.isnan(new) and math.isnan(old))):
            raise ReplayMismatch(f"run '{name}': epoch {epoch} replays with {key} {new!r}, the record has {old!r}")
