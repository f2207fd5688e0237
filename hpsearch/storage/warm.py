"""The owner of the ``warm_trials`` table: the finished trials of earlier runs a run was warm-started from
(``search.warm_start``), copied in when the run is made, so its zoom rounds read the same history on every
resume, whatever becomes of those runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpsearch.core.errors import RunError
from hpsearch.core.limits import MAX_TRIALS
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.storage.rows import BadRow, dumps, stored_json, stored_status
from hpsearch.storage.sql import Table, reading, transaction


@dataclass(frozen=True)
class WarmTrial:
    """One trial of an earlier run, as a run warm-started from it keeps it.

    ``source``/``source_trial``: the run it came from and its id there. ``left_out``: why it does not count
    (``space.fit``'s kind and words), None when it does. ``levels``: its cost at each rung it reached (the
    zoom planners' input, ``search.history``).
    """

    source: str
    source_trial: int
    params: dict[str, Any]
    status: TrialStatus
    value: float | None
    levels: dict[int, float]
    rung: int | None = None
    dev_accuracy: float | None = None
    metrics: dict[str, float] | None = None
    left_out: str | None = None

    def record(self, trial: int) -> TrialRecord:
        """The trial as a record the planners rank and model, under run-wide id ``trial`` (negative: before the
        run's own) and round -1 (none of the run's)."""
        return TrialRecord(
            trial,
            -1,
            self.source_trial,
            dict(self.params),
            0,
            self.status,
            dev_cost=self.value,
            dev_accuracy=self.dev_accuracy,
            rung=self.rung,
            value=self.value,
            metrics=dict(self.metrics or {}),
        )


class WarmTable(Table):
    """The warm-start trials of a run, in the order the zoom planners read them (oldest first)."""

    def add(self, trials: list[WarmTrial]) -> None:
        """Keep ``trials``, once (RunError if the run has some already)."""
        with transaction(self._db):
            if self._db.execute("SELECT 1 FROM warm_trials").fetchone() is not None:
                raise RunError(f"run '{self.run_name}' already has its warm-start trials")
            self._db.executemany(
                "INSERT INTO warm_trials (position, source, trial, record, left_out) VALUES (?, ?, ?, ?, ?)",
                [(i, t.source, int(t.source_trial), dumps(_fields(t)), t.left_out) for i, t in enumerate(trials)],
            )

    @reading
    def all(self) -> list[WarmTrial]:
        """Every warm-start trial the run examined, counted or left out, by position."""
        rows = self._db.execute(
            "SELECT source, trial, record, left_out FROM warm_trials ORDER BY position LIMIT ?", (MAX_TRIALS + 1,)
        ).fetchall()
        if len(rows) > MAX_TRIALS:
            raise BadRow(f"more than {MAX_TRIALS} warm-start trials")
        return [_from_row(*row) for row in rows]


def _fields(t: WarmTrial) -> dict[str, Any]:
    return {
        "params": t.params,
        "status": t.status.value,
        "value": t.value,
        "levels": {str(k): v for k, v in t.levels.items()},
        "rung": t.rung,
        "dev_accuracy": t.dev_accuracy,
        "metrics": t.metrics or {},
    }


def _from_row(source: Any, trial: Any, record: Any, left_out: Any) -> WarmTrial:
    where = f"warm_trials row of {source!r} trial {trial!r}"
    fields = stored_json(where, "record", record)
    value = fields.get("value")
    return WarmTrial(
        str(source),
        int(trial),
        dict(fields.get("params") or {}),
        stored_status(where, fields.get("status")),
        None if value is None else float(value),
        {int(k): float(v) for k, v in (fields.get("levels") or {}).items()},
        rung=fields.get("rung"),
        dev_accuracy=fields.get("dev_accuracy"),
        metrics={k: float(v) for k, v in (fields.get("metrics") or {}).items() if isinstance(v, (int, float))},
        left_out=None if left_out is None else str(left_out),
    )
