"""A babysat model at an epoch boundary, and the file it continues from (``babysit-state.npz``).

A ``Session`` is the current training state, a copy of the state at the best
epoch, the rules' memory (``RuleKeeper``) and the *timeline* — every epoch
trained, in order, those a rollback discarded included. It is saved whole,
atomically, at every epoch boundary, and everything read back from the file is
checked before it is used: a file changed outside hpsearch is one line naming it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from hpsearch.babysit.rules import RuleKeeper
from hpsearch.core.dataset import Dataset
from hpsearch.core.decisions import HANDOVER, BabysitRules, Decision
from hpsearch.core.errors import ConfigError, DataError, RunError
from hpsearch.core.records import TrialStatus
from hpsearch.io.npz import NpzUnreadable, npz_bytes
from hpsearch.nn.loop import fit
from hpsearch.nn.optimizers import learning_rate_at
from hpsearch.nn.state import TrainingState, history_keys
from hpsearch.storage.run_store import RunStore

STATE_FILE = "babysit-state.npz"
STATE_FILE_FORMAT = 1


@dataclass(frozen=True)
class EpochReport:
    """What a watcher hears after each epoch.

    ``epoch``: timeline epochs trained so far, of ``target``; ``history``: the
    timeline (``history_keys(task)`` → one float per epoch); ``learning_rate``: the
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


class Session:
    """A babysat model at an epoch boundary: its state, the best epoch's state, the rules' memory, the timeline."""

    def __init__(self, state: TrainingState, best: TrainingState, keeper: RuleKeeper, timeline: dict[str, list[float]]):
        self.state, self.best, self.keeper, self.timeline = state, best, keeper, timeline

    @classmethod
    def fresh(
        cls, state: TrainingState, rules: BabysitRules, timeline: dict[str, list[float]] | None = None
    ) -> Session:
        """A session at ``state``: nothing to roll back to before it, so it is the first best."""
        keeper = RuleKeeper(rules)
        timeline = timeline if timeline is not None else {key: [] for key in history_keys(state.network.task)}
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
        keys = history_keys(self.state.network.task)
        values = {key: self.state.history[key][-1] for key in keys}
        for key in keys:
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
        return EpochReport(
            self.epochs,
            target,
            self.timeline,
            self.rate(),
            self.keeper.best_epoch,
            self.keeper.best_dev_cost,
            self.state.status is TrialStatus.DIVERGED,
        )

    # -- a boundary to go back to when Ctrl-C lands mid-epoch ---------------------

    def snapshot(self) -> tuple:
        # The best state is replaced, never changed, so keeping the object is enough.
        return (
            self.state.to_arrays(),
            self.best,
            RuleKeeper(**vars(self.keeper)),
            {key: list(values) for key, values in self.timeline.items()},
        )

    def restore(self, snapshot: tuple) -> None:
        arrays, self.best, self.keeper, self.timeline = snapshot
        self.state = TrainingState.from_arrays(arrays)

    # -- the file a stopped (or killed) run continues from ------------------------

    def save(self, store: RunStore, target: int) -> None:
        """Write the session to the run's ``STATE_FILE`` atomically (fresh temp file, fsync, rename), never through
        a symlink, its digest kept in the run so a changed file is noticed when it is read back."""
        arrays = {f"current.{k}": v for k, v in self.state.to_arrays().items()}
        arrays.update({f"best.{k}": v for k, v in self.best.to_arrays().items()})
        meta = {"format": STATE_FILE_FORMAT, "epochs": self.epochs, "target": target, **self.keeper.to_dict()}
        arrays["babysit"] = np.array(json.dumps(meta))
        store.write_tracked("", STATE_FILE, npz_bytes(arrays))

    @classmethod
    def load(cls, store: RunStore, rules: BabysitRules, timeline: dict[str, list[float]]) -> tuple[Session, int]:
        """The session saved in the run's ``STATE_FILE`` and its target; ``timeline`` is cut to the epochs it had.

        Raises
        ------
        RunError : the file is not the one the run wrote (its digest differs)
        DataError : the file is unreadable or any value in it is not what hpsearch writes (names the file)
        RunError : the file holds more epochs than the run records
        """
        path = store.run_dir / STATE_FILE
        try:
            arrays = store.read_tracked(STATE_FILE)  # digest checked; headers checked before anything is allocated
            meta = _checked_meta(json.loads(str(arrays.pop("babysit")[()])))
            parts = {
                prefix: {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
                for prefix in ("current.", "best.")
            }
            current, best = (TrainingState.from_arrays(parts[p]) for p in ("current.", "best."))
        except (NpzUnreadable, KeyError, ValueError, TypeError, DataError, ConfigError) as error:
            reason = error.reason if isinstance(error, NpzUnreadable) else str(error).splitlines()[0][:200]
            raise DataError(
                f"{path}: cannot read the babysat state ({reason}) — was it changed outside hpsearch?"
                " Replay the run (hpsearch babysit --replay RUN) or start a new one"
            ) from None
        epochs = meta["epochs"]
        if any(len(values) < epochs for values in timeline.values()):
            raise RunError(f"{path}: holds {epochs} epochs, the run records fewer — was run.sqlite changed?")
        if current.epoch > epochs or best.epoch > epochs:
            raise DataError(
                f"{path}: its training state is past its {epochs} epochs — was it changed outside hpsearch?"
            )
        keeper = RuleKeeper(rules, meta["best_epoch"], meta["best_dev_cost"], meta["since_best"])
        session = cls(current, best, keeper, {key: list(values[:epochs]) for key, values in timeline.items()})
        return session, meta["target"]


def _checked_meta(meta: Any) -> dict[str, Any]:
    """The session's scalars as ``save`` writes them, else ValueError saying which one is not."""
    if not isinstance(meta, dict) or meta.get("format") != STATE_FILE_FORMAT:
        raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else meta!r}"[:200])

    def count(key: str, low: int, high: float = math.inf, optional: bool = False) -> None:
        value = meta.get(key)
        if optional and value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(
                f"'{key}' is {value!r:.60}, not a whole number from {low}{'' if high == math.inf else f' to {high}'}"
            )

    count("epochs", 0)
    count("target", meta["epochs"])
    count("best_epoch", 0, meta["epochs"], optional=True)
    count("since_best", 0, meta["epochs"])
    cost = meta.get("best_dev_cost")
    if cost is not None and (not isinstance(cost, float) or not math.isfinite(cost)):
        raise ValueError(f"'best_dev_cost' is {cost!r:.60}, not a finite number")
    return meta
