"""The owner of the ``epochs`` table: every epoch a trial trained, as it trained (a paused trial's epochs are here
before it has a record in ``trials``)."""

from __future__ import annotations

import math
import sqlite3

from hpsearch.storage.records import EpochLog
from hpsearch.storage.rows import EPOCH_FIELDS, EPOCH_METRICS, epoch_rows, stored_metrics
from hpsearch.storage.sql import Table, reading, transaction


def insert_epochs(db: sqlite3.Connection, trial: int, rows: list[tuple]) -> None:
    """Write ``rows.epoch_rows`` of ``trial`` (replacing rows of the same epochs); the one insert into ``epochs``,
    which the schema 1 → 2 migration uses too."""
    db.executemany(
        f"INSERT OR REPLACE INTO epochs (trial, epoch, {', '.join(EPOCH_FIELDS)}, metrics)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(int(trial), *row) for row in rows],
    )


class EpochTable(Table):
    """Per-epoch results of a run's trials."""

    def add(self, trial: int, log: EpochLog) -> None:
        """Record the epochs of ``log`` (replacing rows of the same epochs)."""
        rows = epoch_rows(log.history, log.seconds)
        with transaction(self._db):
            insert_epochs(self._db, trial, [(log.first_epoch + row[0], *row[1:]) for row in rows])

    def drop_from(self, trial: int, epoch: int) -> None:
        """Remove ``trial``'s epochs from ``epoch`` (0-based) on."""
        with transaction(self._db):
            self._db.execute("DELETE FROM epochs WHERE trial = ? AND epoch >= ?", (int(trial), int(epoch)))

    @reading
    def epoch_log(self, trial: int) -> tuple[dict[str, list[float]], list[float | None]]:
        """A trial's per-epoch results as recorded so far: ``(history, seconds)``; NULL reads back as NaN.

        A regression's ``dev_rmse`` and ``dev_r2`` (``rows.EPOCH_METRICS``) are in ``history`` when an epoch has
        them, NaN at epochs without (none in epochs recorded before schema 4).
        """
        rows = self._db.execute(
            f"SELECT epoch, {', '.join(EPOCH_FIELDS)}, metrics FROM epochs WHERE trial = ? ORDER BY epoch", (trial,)
        ).fetchall()
        history: dict[str, list[float]] = {f: [] for f in EPOCH_FIELDS[:-1]}
        metrics = [stored_metrics(f"epoch {row[0]} of trial {trial}", row[-1]) for row in rows]
        for row in rows:
            for f, v in zip(EPOCH_FIELDS[:-1], row[1:]):
                history[f].append(math.nan if v is None else v)
        if all(math.isnan(v) for v in history["learning_rate"]):
            del history["learning_rate"]
        for key in EPOCH_METRICS:
            if any(key in m for m in metrics):
                history[key] = [m.get(key, math.nan) for m in metrics]
        return history, [row[-2] for row in rows]
