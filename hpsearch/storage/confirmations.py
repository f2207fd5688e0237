"""The run store's part that keeps ``hpsearch confirm``'s repeats: the top trials retrained with fresh
seeds, and which repeat ``models/best.npz`` holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hpsearch.core.errors import RunError
from hpsearch.core.records import RepeatRecord, TrialStatus
from hpsearch.storage.artifacts import file_digest
from hpsearch.storage.layout import BEST_MODEL, MODELS_DIR
from hpsearch.storage.rows import (
    REPEAT_REALS,
    dumps,
    exact_values,
    inexact_reals,
    known_metrics,
    stored_int,
    stored_metrics,
    stored_seed,
    stored_status,
)
from hpsearch.storage.sql import reading, transaction


class Confirmations:
    """Confirmation repeats of a run (a mixin of ``RunStore``)."""

    run_dir: Path
    name: str
    _db: sqlite3.Connection

    def record_repeat(self, rec: RepeatRecord) -> None:
        """Record one finished repeat of ``hpsearch confirm`` in one transaction; RunError if it is recorded already.

        Of ``rec.metrics`` only a regression's finite dev RMSE and R² are kept (``rows.EPOCH_METRICS``)."""
        reals = {f: getattr(rec, f) for f in REPEAT_REALS}
        with transaction(self._db):
            if self._db.execute(
                "SELECT 1 FROM confirmations WHERE trial = ? AND repeat_index = ?", (int(rec.trial), int(rec.repeat))
            ).fetchone():
                raise RunError(f"run '{self.name}' already has repeat {rec.repeat} of trial {rec.trial}")
            self._db.execute(
                f"INSERT INTO confirmations (trial, repeat_index, seed, status, {', '.join(REPEAT_REALS)},"
                " epochs_run, error, exact_floats, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(rec.trial),
                    int(rec.repeat),
                    str(int(rec.seed)),
                    TrialStatus(rec.status).value,
                    *(None if v is None else float(v) for v in reals.values()),
                    int(rec.epochs_run),
                    rec.error,
                    inexact_reals(reals),
                    dumps(known_metrics(rec.metrics)),
                ),
            )

    @reading
    def repeats(self) -> list[RepeatRecord]:
        """Every recorded repeat, by trial and repeat."""
        rows = self._db.execute(
            f"SELECT trial, repeat_index, seed, status, {', '.join(REPEAT_REALS)}, epochs_run, error, exact_floats,"
            " metrics FROM confirmations ORDER BY trial, repeat_index"
        )
        records = []
        for trial, repeat, seed, status, *reals, epochs_run, error, exact, metrics in rows:
            where = f"confirmation repeat {str(repeat)[:20]} of trial {str(trial)[:20]}"
            values = exact_values(where, dict(zip(REPEAT_REALS, reals)), exact)
            records.append(
                RepeatRecord(
                    stored_int(where, "trial", trial),
                    stored_int(where, "repeat_index", repeat),
                    stored_seed(where, seed),
                    stored_status(where, status),
                    epochs_run=stored_int(where, "epochs_run", epochs_run),
                    error=None if error is None else str(error),
                    metrics=stored_metrics(where, metrics),
                    **values,
                )
            )
        return records

    def mark_confirmed_model(self, trial: int, repeat: int) -> None:
        """Note that ``models/best.npz`` (just written by ``save_best_model``) holds repeat ``repeat`` of ``trial``."""
        digest = file_digest(self.run_dir / MODELS_DIR / BEST_MODEL)
        with transaction(self._db):
            self._db.execute("UPDATE confirmations SET model_sha256 = NULL WHERE model_sha256 IS NOT NULL")
            self._db.execute(
                "UPDATE confirmations SET model_sha256 = ? WHERE trial = ? AND repeat_index = ?",
                (digest, int(trial), int(repeat)),
            )

    def confirmed_model(self) -> tuple[int, int] | None:
        """``(trial, repeat)`` when ``models/best.npz`` holds a confirmation repeat, else None."""
        digest = file_digest(self.run_dir / MODELS_DIR / BEST_MODEL)
        if digest is None:
            return None
        row = self._db.execute(
            "SELECT trial, repeat_index FROM confirmations WHERE model_sha256 = ?", (digest,)
        ).fetchone()
        return None if row is None else (row[0], row[1])
