"""Panda's decisions as plain records: the ``babysit:`` section's rules and the record of each decision.

Babysitting (``hpsearch babysit``, ``hpsearch.babysit.session``) trains one model epoch by
epoch. At each epoch boundary it may change the learning rate, go back to the
state of its best epoch, or stop — because a key was pressed, or because a rule
of the config's ``babysit:`` section fired. Each change is a ``Decision``, stored
in the run and replayable. Everything here is pure: no terminal, no files. The rule
that makes decisions is ``hpsearch.babysit.rules.RuleKeeper``.

Epochs are counted on the run's *timeline*: every epoch trained, in order, the
ones a rollback discarded included. ``Decision.epoch = 7`` applied after the 7th
epoch trained; ``rolled_back_to = 4`` restored the state after the 4th (0: the
start, or the state a run was handed over in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from hpsearch.core.errors import ConfigProblem, did_you_mean

LOWER, RAISE, ROLLBACK, STOP, HANDOVER = "lower", "raise", "rollback", "stop", "handover"
ACTIONS = (LOWER, RAISE, ROLLBACK, STOP, HANDOVER)
"""``lower``/``raise``: multiply the learning rate (``Decision.multiplier``); ``rollback``: restore the best
epoch's state; ``stop``: save and stop; ``handover``: the run took over a search trial's state here."""

KEY_ACTIONS = {"-": LOWER, "+": RAISE, "r": ROLLBACK, "s": STOP}
"""What each key asks for; ``p`` (pause) changes nothing in training and is no decision."""
KEY_MULTIPLIERS = {"-": 0.5, "+": 2.0}

PATIENCE, DIVERGENCE, MIN_LEARNING_RATE, INTERRUPT = "patience", "divergence", "min_learning_rate", "ctrl-c"


@dataclass(frozen=True)
class BabysitRules:
    """The ``babysit:`` section: what an unattended run does when dev J stops improving.

    After ``patience`` epochs in a row without a better dev J, the learning rate
    is multiplied by ``factor`` — after going back to the best epoch's state when
    ``rollback``. A lowering that would take the learning rate below
    ``min_learning_rate`` stops the run instead (rolled back likewise). A
    diverged epoch (NaN or exploding cost) always rolls back and lowers.
    """

    patience: int = 3
    factor: float = 0.5
    rollback: bool = True
    min_learning_rate: float = 1e-6

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_RULES: dict[str, tuple[str, Any]] = {
    "patience": (
        "an integer >= 1 (epochs without a better dev J before acting)",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    ),
    "factor": (
        "a number between 0 and 1, e.g. 0.5 (what the learning rate is multiplied by)",
        lambda v: _number(v) and 0 < v < 1,
    ),
    "rollback": ("true or false (go back to the best epoch's state before lowering)", lambda v: isinstance(v, bool)),
    "min_learning_rate": (
        "a number >= 0 (stop when the learning rate would go below it)",
        lambda v: _number(v) and v >= 0,
    ),
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_rules(raw: Any, prefix: str = "babysit") -> tuple[BabysitRules, list[ConfigProblem]]:
    """Validate a ``babysit:`` mapping (None: every default) into ``BabysitRules``; problems name each key."""
    if raw is None:
        return BabysitRules(), []
    if not isinstance(raw, dict):
        return BabysitRules(), [
            ConfigProblem(
                prefix, f"must be a mapping, got {type(raw).__name__}", "e.g. babysit: {patience: 3, factor: 0.5}"
            )
        ]
    problems = []
    for key, value in raw.items():
        if key not in _RULES:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown setting", did_you_mean(str(key), _RULES)))
        elif not _RULES[key][1](value):
            problems.append(ConfigProblem(f"{prefix}.{key}", f"must be {_RULES[key][0]}, got {value!r}"))
    if problems:
        return BabysitRules(), problems
    values = {k: float(v) if k in ("factor", "min_learning_rate") else v for k, v in raw.items()}
    return BabysitRules(**values), []


@dataclass(frozen=True)
class Decision:
    """One decision, applied at the boundary after timeline epoch ``epoch``.

    ``reason``: the rule (``patience``, ``divergence``, ``min_learning_rate``),
    the key (``key -``, ``key +``, ``key r``, ``key s``), ``ctrl-c``, or where a
    handed-over state came from. ``learning_rate_before``/``_after``: the rate the
    next epoch would have trained at without the decision, and the rate it
    trains at with it. ``rolled_back_to``: the timeline epoch whose state was
    restored (0: the start), None without a rollback.
    """

    epoch: int
    action: str
    reason: str
    learning_rate_before: float
    learning_rate_after: float
    rolled_back_to: int | None = None

    def multiplier(self, rules: BabysitRules) -> float:
        """What this decision multiplies the learning-rate factor by (1 when it changes no rate)."""
        if self.action not in (LOWER, RAISE):
            return 1.0
        key = self.reason.removeprefix("key ")
        return KEY_MULTIPLIERS[key] if self.reason.startswith("key ") else rules.factor

    def describe(self) -> str:
        """One line for people, e.g. ``epoch 7: lower learning rate 0.01 → 0.005 (patience), rolled back to epoch 4``."""
        before, after = _fmt(self.learning_rate_before), _fmt(self.learning_rate_after)
        what = {
            LOWER: f"lower learning rate {before} → {after}",
            RAISE: f"raise learning rate {before} → {after}",
            ROLLBACK: f"roll back to epoch {self.rolled_back_to}",
            STOP: "save and stop",
            HANDOVER: "continue from its saved training state",
        }[self.action]
        back = (
            f", rolled back to epoch {self.rolled_back_to}"
            if self.rolled_back_to is not None and self.action != ROLLBACK
            else ""
        )
        return f"epoch {self.epoch}: {what} ({self.reason}){back}"


def _fmt(value: float) -> str:
    return f"{value:.4g}"
