"""The run store's part that reads back the per-epoch table: every epoch a trial trained, as it trained
(``RunStore.record_progress`` writes it)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from hpsearch.storage.rows import EPOCH_FIELDS, EPOCH_METRICS, stored_metrics
from hpsearch.storage.sql import reading


class EpochTable:
    """Per-epoch results of a run's trials (a mixin of ``RunStore``)."""

    run_dir: Path
    _db: sqlite3.Connection

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
