"""Records to SQLite rows and back, bit for bit.

Floats go into REAL columns so SQL can sort and filter by them; the few a REAL
column cannot give back exactly (NaN reads back as NULL, -0.0 as 0.0) are kept
again in a row's ``exact_floats`` JSON, which wins on reading. JSON text keeps
floats by ``repr``, so every float64 round-trips, NaN and ±Infinity included.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hpsearch.core.records import TrialRecord, TrialStatus

# TrialRecord fields kept in REAL columns, so SQL can sort and filter by them.
REAL_FIELDS = ("dev_cost", "train_cost", "dev_accuracy", "seconds", "value", "best_dev_cost")
TRIAL_COLUMNS = ", ".join(
    ("trial", "round", "index_in_round", "params", "seed", "status", *REAL_FIELDS,
     "epochs_run", "history", "error", "exact_floats", "rung", "best_epoch", "metrics")
)
EPOCH_FIELDS = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate", "seconds")
REPEAT_REALS = ("value", "dev_cost", "train_cost", "dev_accuracy", "seconds")


def _json_default(value: Any) -> Any:
    # Samplers and the engine may hand over NumPy scalars or arrays.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def dumps(value: Any) -> str:
    """JSON text; floats round-trip exactly (repr), NaN and ±Infinity included."""
    return json.dumps(value, default=_json_default, allow_nan=True)


def real_is_exact(value: float) -> bool:
    """Whether a REAL column gives ``value`` back bit for bit.

    SQLite stores NaN as NULL and -0.0 as 0.0; every other float64 round-trips.
    """
    return not (math.isnan(value) or (value == 0.0 and math.copysign(1.0, value) < 0))


def inexact_reals(reals: Mapping[str, float | None]) -> str:
    """The ``exact_floats`` JSON of a row: those of ``reals`` a REAL column would not give back exactly."""
    return dumps({f: v for f, v in reals.items() if v is not None and not real_is_exact(v)})


def nullable(value: float) -> float | None:
    """``value`` for a REAL column that reads NULL as NaN."""
    return None if math.isnan(value) else float(value)


def now() -> str:
    """The current UTC time as stored in the run (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def trial_row(rec: TrialRecord) -> tuple:
    """``rec`` as the values of ``TRIAL_COLUMNS``."""
    reals = {f: getattr(rec, f) for f in REAL_FIELDS}
    return (
        int(rec.trial), int(rec.round), int(rec.index), dumps(rec.params), str(int(rec.seed)),
        TrialStatus(rec.status).value,
        *(None if v is None else float(v) for v in reals.values()),
        int(rec.epochs_run), dumps(rec.history), rec.error, inexact_reals(reals),
        None if rec.rung is None else int(rec.rung),
        None if rec.best_epoch is None else int(rec.best_epoch),
        dumps(rec.metrics),
    )


def trial_from_row(row: tuple) -> TrialRecord:
    """The record of a row of ``TRIAL_COLUMNS``."""
    (trial, rnd, index, params, seed, status, *reals, epochs_run, history, error, exact_floats, rung,
     best_epoch, metrics) = row
    values = dict(zip(REAL_FIELDS, reals))
    values.update(json.loads(exact_floats))
    return TrialRecord(
        trial=trial, round=rnd, index=index, params=json.loads(params), seed=int(seed),
        status=TrialStatus(status), epochs_run=epochs_run, history=json.loads(history),
        error=error, rung=rung, best_epoch=best_epoch, metrics=json.loads(metrics), **values,
    )


def epoch_rows(history: Mapping[str, list[float]], seconds: list[float] | None = None) -> list[tuple]:
    """One row ``(epoch, *EPOCH_FIELDS)`` per epoch of ``history`` (missing keys and NaN become NULL)."""
    n = max((len(v) for v in history.values()), default=0)

    def cell(values: Any, e: int) -> float | None:
        if values is None or e >= len(values):
            return None
        value = float(values[e])
        return None if math.isnan(value) else value

    return [
        (e, *(cell(history.get(f), e) for f in EPOCH_FIELDS[:-1]), cell(seconds, e))
        for e in range(n)
    ]


def insert_epochs(db: sqlite3.Connection, trial: int, rows: list[tuple]) -> None:
    """Write ``epoch_rows`` of ``trial`` (replacing rows of the same epochs)."""
    db.executemany(
        f"INSERT OR REPLACE INTO epochs (trial, epoch, {', '.join(EPOCH_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(int(trial), *row) for row in rows],
    )
