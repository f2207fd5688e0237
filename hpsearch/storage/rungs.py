"""The run store's part that keeps early stopping's rungs: each trial's value where it reached a rung,
and which trials each rung promoted."""

from __future__ import annotations

import math
import sqlite3

from hpsearch.core.records import TrialRecord
from hpsearch.pruning.schedule import RungResult
from hpsearch.storage.rows import TRIAL_COLUMNS, trial_row
from hpsearch.storage.sql import transaction


class RungRecords:
    """Rung results and promotions of a run (a mixin of ``RunStore``; ``record_progress`` writes rung results)."""

    _db: sqlite3.Connection

    def rung_entries(self, trials: list[int]) -> dict[tuple[int, int], RungResult]:
        """``(trial, rung) -> RungResult`` of every rung the given trials reached."""
        wanted, entries = set(trials), {}
        if not wanted:
            return entries
        for trial, rung, epoch, value, diverged in self._db.execute(
            "SELECT trial, rung, epoch, value, diverged FROM rung_results WHERE trial BETWEEN ? AND ?",
            (min(wanted), max(wanted)),
        ):
            if trial in wanted:
                entries[(trial, rung)] = RungResult(trial, math.nan if value is None else value, bool(diverged), rung, epoch)
        return entries

    def promotions(self, round: int) -> dict[tuple[int, int], list[int]]:
        """``(bracket, rung) -> trials promoted from that rung to the next`` in ``round``."""
        found: dict[tuple[int, int], list[int]] = {}
        for bracket, rung, trial in self._db.execute(
            "SELECT bracket, rung, trial FROM promotions WHERE round = ? ORDER BY trial", (round,)
        ):
            found.setdefault((bracket, rung), []).append(trial)
        return found

    def record_promotions(
        self, round: int, bracket: int, rung: int, promoted: list[int], pruned: list[TrialRecord]
    ) -> None:
        """Which trials of a bracket go on from ``rung``, and the final records of those pruned — one transaction."""
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO promotions (round, bracket, rung, trial) VALUES (?, ?, ?, ?)",
                [(int(round), int(bracket), int(rung), int(t)) for t in promoted],
            )
            for rec in pruned:
                row = trial_row(rec)
                self._db.execute(
                    f"INSERT OR REPLACE INTO trials ({TRIAL_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
                )
