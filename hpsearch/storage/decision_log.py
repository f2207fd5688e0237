"""The run store's part that keeps ``hpsearch babysit``'s decisions: what it changed at an epoch
boundary of a trial, and why."""

from __future__ import annotations

import sqlite3

from hpsearch.core.decisions import Decision
from hpsearch.storage.sql import transaction


class DecisionLog:
    """Babysit decisions of a run's trials (a mixin of ``RunStore``)."""

    _db: sqlite3.Connection

    def record_decision(self, trial: int, decision: Decision) -> None:
        """Append ``decision`` to ``trial``'s decision log (one transaction)."""
        with transaction(self._db):
            (seq,) = self._db.execute("SELECT COUNT(*) FROM decisions WHERE trial = ?", (int(trial),)).fetchone()
            self._db.execute(
                "INSERT INTO decisions (trial, seq, epoch, action, reason, learning_rate_before, learning_rate_after,"
                " rolled_back_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(trial),
                    seq,
                    int(decision.epoch),
                    decision.action,
                    decision.reason,
                    float(decision.learning_rate_before),
                    float(decision.learning_rate_after),
                    None if decision.rolled_back_to is None else int(decision.rolled_back_to),
                ),
            )

    def decisions(self) -> dict[int, list[Decision]]:
        """Each trial's decisions (trials without any are absent), in the order they were made."""
        found: dict[int, list[Decision]] = {}
        for trial, *values in self._db.execute(
            "SELECT trial, epoch, action, reason, learning_rate_before, learning_rate_after, rolled_back_to"
            " FROM decisions ORDER BY trial, seq"
        ):
            found.setdefault(trial, []).append(Decision(*values))
        return found

    def reopen_trial(self, trial: int, epochs: int) -> None:
        """Continue a babysat trial after ``epochs`` epochs of its timeline: drop its record, and its
        epochs and decisions from after there (left by a process killed before it saved), in one transaction."""
        with transaction(self._db):
            self._db.execute("DELETE FROM trials WHERE trial = ?", (int(trial),))
            self._db.execute("DELETE FROM epochs WHERE trial = ? AND epoch >= ?", (int(trial), int(epochs)))
            self._db.execute("DELETE FROM decisions WHERE trial = ? AND epoch > ?", (int(trial), int(epochs)))
