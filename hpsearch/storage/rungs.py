"""The owner of the ``rung_results`` and ``promotions`` tables: each trial's value where it reached a rung of
early stopping, and which trials each rung promoted. (The records of the trials a rung prunes are written by
``TrialTable.put``, in the caller's transaction: ``RunStore.record_promotions``.)"""

from __future__ import annotations

import math

from hpsearch.pruning.schedule import RungResult
from hpsearch.storage.rows import nullable
from hpsearch.storage.sql import Table, transaction


class RungTable(Table):
    """Rung results and promotions of a run."""

    def add_result(self, trial: int, rung: RungResult) -> None:
        """Record where ``trial`` reached ``rung`` (replacing an earlier result at that rung)."""
        with transaction(self._db):
            self._db.execute(
                "INSERT OR REPLACE INTO rung_results (trial, rung, epoch, value, diverged) VALUES (?, ?, ?, ?, ?)",
                (int(trial), int(rung.rung), int(rung.epoch), nullable(rung.value), int(rung.diverged)),
            )

    def entries(self, trials: list[int]) -> dict[tuple[int, int], RungResult]:
        """``(trial, rung) -> RungResult`` of every rung the given trials reached."""
        wanted, entries = set(trials), {}
        if not wanted:
            return entries
        for trial, rung, epoch, value, diverged in self._db.execute(
            "SELECT trial, rung, epoch, value, diverged FROM rung_results WHERE trial BETWEEN ? AND ?",
            (min(wanted), max(wanted)),
        ):
            if trial in wanted:
                entries[(trial, rung)] = RungResult(
                    trial, math.nan if value is None else value, bool(diverged), rung, epoch
                )
        return entries

    def promotions(self, round: int) -> dict[tuple[int, int], list[int]]:
        """``(bracket, rung) -> trials promoted from that rung to the next`` in ``round``."""
        found: dict[tuple[int, int], list[int]] = {}
        for bracket, rung, trial in self._db.execute(
            "SELECT bracket, rung, trial FROM promotions WHERE round = ? ORDER BY trial", (round,)
        ):
            found.setdefault((bracket, rung), []).append(trial)
        return found

    def add_promotions(self, round: int, bracket: int, rung: int, promoted: list[int]) -> None:
        """Record that ``promoted`` of a bracket go on from ``rung`` (those recorded already stay)."""
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO promotions (round, bracket, rung, trial) VALUES (?, ?, ?, ?)",
                [(int(round), int(bracket), int(rung), int(t)) for t in promoted],
            )
