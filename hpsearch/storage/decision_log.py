"""The owner of the ``decisions`` table: what ``hpsearch babysit`` changed at an epoch boundary of a trial,
and why."""

from __future__ import annotations

from hpsearch.core.decisions import Decision
from hpsearch.storage.sql import Table, transaction


class DecisionLog(Table):
    """Babysit decisions of a run's trials."""

    def add(self, trial: int, decision: Decision) -> None:
        """Append ``decision`` to ``trial``'s decision log."""
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

    def all(self) -> dict[int, list[Decision]]:
        """Each trial's decisions (trials without any are absent), in the order they were made."""
        found: dict[int, list[Decision]] = {}
        for trial, *values in self._db.execute(
            "SELECT trial, epoch, action, reason, learning_rate_before, learning_rate_after, rolled_back_to"
            " FROM decisions ORDER BY trial, seq"
        ):
            found.setdefault(trial, []).append(Decision(*values))
        return found

    def drop_after(self, trial: int, epoch: int) -> None:
        """Remove ``trial``'s decisions applied after ``epoch`` epochs of its timeline."""
        with transaction(self._db):
            self._db.execute("DELETE FROM decisions WHERE trial = ? AND epoch > ?", (int(trial), int(epoch)))
