"""Panda's rule: the state machine that turns epochs into decisions (patience, divergence) and keys into decisions.

The records and the ``babysit:`` section live in ``hpsearch.core.decisions``; everything here is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hpsearch.core.decisions import (
    DIVERGENCE,
    KEY_ACTIONS,
    KEY_MULTIPLIERS,
    LOWER,
    MIN_LEARNING_RATE,
    PATIENCE,
    RAISE,
    ROLLBACK,
    STOP,
    BabysitRules,
    Decision,
)


@dataclass
class RuleKeeper:
    """Tracks the best epoch of a babysat run and applies the patience rule (a pure state machine).

    ``best_epoch``: the timeline epoch of the lowest finite dev J so far (None:
    none yet; 0 with ``best_dev_cost`` None would be ambiguous, so the start is
    ``best_epoch`` None). ``since_best``: epochs trained since then, reset by any
    decision that changes the learning rate or rolls back.
    """

    rules: BabysitRules
    best_epoch: int | None = None
    best_dev_cost: float | None = None
    since_best: int = 0

    def observe(self, epoch: int, dev_cost: float, diverged: bool) -> bool:
        """Take timeline epoch ``epoch``'s dev J; return whether it is the new best (strictly lower, finite)."""
        if not diverged and math.isfinite(dev_cost) and (self.best_dev_cost is None or dev_cost < self.best_dev_cost):
            self.best_epoch, self.best_dev_cost, self.since_best = epoch, dev_cost, 0
            return True
        self.since_best += 1
        return False

    @property
    def rollback_target(self) -> int:
        """The timeline epoch a rollback returns to (0: the start state)."""
        return self.best_epoch if self.best_epoch is not None else 0

    def rule_decision(self, epoch: int, diverged: bool, rate: float, rate_after: Any) -> Decision | None:
        """The rules' decision at the boundary after ``epoch``, or None.

        ``rate``: the learning rate the next epoch would train at; ``rate_after(multiplier, rolled_back)``:
        the one it would train at after multiplying the factor (and rolling back, when asked).
        """
        if diverged:
            reason, rollback = DIVERGENCE, True
        elif self.since_best >= self.rules.patience:
            reason, rollback = PATIENCE, self.rules.rollback
        else:
            return None
        target = self.rollback_target if rollback else None
        lowered = rate_after(self.rules.factor, rollback)
        if lowered < self.rules.min_learning_rate:
            return Decision(epoch, STOP, MIN_LEARNING_RATE, rate, rate_after(1.0, rollback), target)
        return Decision(epoch, LOWER, reason, rate, lowered, target)

    def applied(self, decision: Decision) -> None:
        """Note a decision that changed the rate or rolled back: patience counts again from it."""
        if decision.action in (LOWER, RAISE, ROLLBACK) or decision.rolled_back_to is not None:
            self.since_best = 0

    def to_dict(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch, "best_dev_cost": self.best_dev_cost, "since_best": self.since_best}


def key_decision(key: str, epoch: int, rate: float, rate_after: Any, rollback_target: int) -> Decision | None:
    """The decision a key asks for at the boundary after ``epoch`` (None: not a decision key)."""
    action = KEY_ACTIONS.get(key)
    if action is None:
        return None
    if action == ROLLBACK:
        return Decision(epoch, ROLLBACK, f"key {key}", rate, rate_after(1.0, True), rollback_target)
    if action == STOP:
        return Decision(epoch, STOP, f"key {key}", rate, rate)
    return Decision(epoch, action, f"key {key}", rate, rate_after(KEY_MULTIPLIERS[key], False))
