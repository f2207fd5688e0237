"""The owner of the ``trials`` table: each trial's final record. ``put`` is the one write of a trial row, so its
rule holds wherever a record comes from (trained, pruned at a rung, babysat): a trial is never stored twice."""

from __future__ import annotations

import math
from typing import NamedTuple

from hpsearch.core.errors import RunError
from hpsearch.core.records import TrialRecord, TrialStatus, ranking_key
from hpsearch.storage.rows import TRIAL_COLUMNS, BadRow, stored_json, trial_from_row, trial_row
from hpsearch.storage.sql import Table, reading, transaction

#: A trial's line in ``hpsearch list``: its id, dev cost, and its value of an own objective's metric (or None).
Headline = tuple[int, float | None, float | None]


_STATUSES = {s.value: s for s in TrialStatus}


class TrialHead(NamedTuple):
    """What ranking and change tracking need of a stored trial, read without parsing its JSON columns."""

    trial: int
    round: int
    status: TrialStatus
    dev_cost: float | None
    value: float | None
    rung: int | None
    epochs_run: int
    seconds: float | None

    def rank_key(self) -> tuple[int, int, float, int]:
        """``TrialRecord.rank_key`` of this trial."""
        value = self.value if self.value is not None else self.dev_cost
        finite = value if isinstance(value, float) and math.isfinite(value) else math.inf
        return ranking_key(self.status, self.rung, finite, self.trial)


class TrialTable(Table):
    """The final records of a run's trials (a paused trial has none yet: its epochs are in ``epochs``)."""

    def put(self, rec: TrialRecord) -> None:
        """Store ``rec``, in its own transaction or the caller's. An earlier record of the same trial id is
        replaced only if it was ``failed`` (a retry); any other earlier record raises RunError."""
        with transaction(self._db):
            earlier = self._db.execute("SELECT status FROM trials WHERE trial = ?", (int(rec.trial),)).fetchone()
            if earlier and earlier[0] != TrialStatus.FAILED.value:
                raise RunError(f"run '{self.run_name}' already has a record of trial {rec.trial} ({earlier[0]})")
            # REPLACE overwrites only the failed record allowed through above.
            row = trial_row(rec)
            self._db.execute(
                f"INSERT OR REPLACE INTO trials ({TRIAL_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
            )

    def drop(self, trial: int) -> None:
        """Remove ``trial``'s record (a babysat trial reopened to go on training)."""
        with transaction(self._db):
            self._db.execute("DELETE FROM trials WHERE trial = ?", (int(trial),))

    @reading
    def all(self, round: int | None = None) -> list[TrialRecord]:
        """Every record (of one round if ``round`` is given), by trial id."""
        query = f"SELECT {TRIAL_COLUMNS} FROM trials"
        if round is None:
            rows = self._db.execute(query + " ORDER BY trial")
        else:
            rows = self._db.execute(query + " WHERE round = ? ORDER BY trial", (round,))
        return [trial_from_row(row) for row in rows]

    @reading
    def some(self, trials: list[int] | None = None, *, history: bool = True) -> list[TrialRecord]:
        """The records of ``trials`` (every trial if None), by trial id; without ``history``, with an empty one:
        what a view of thousands of trials needs, without parsing every trial's per-epoch lists (``serve``)."""
        columns = TRIAL_COLUMNS if history else TRIAL_COLUMNS.replace("history", "'{}'")
        if trials is None:
            return [trial_from_row(row) for row in self._db.execute(f"SELECT {columns} FROM trials ORDER BY trial")]
        found: list[TrialRecord] = []
        for start in range(0, len(trials), 500):  # SQLite bounds a statement's parameters
            chunk = [int(t) for t in trials[start : start + 500]]
            query = f"SELECT {columns} FROM trials WHERE trial IN ({', '.join('?' * len(chunk))}) ORDER BY trial"
            found += [trial_from_row(row) for row in self._db.execute(query, chunk)]
        return found

    @reading
    def heads(self) -> list[TrialHead]:
        """Every trial's head, by trial id (``TrialHead``): one query of plain columns and no JSON, so a watcher
        of 100,000 trials ranks them in a fraction of a second (``hpsearch serve``)."""
        rows = self._db.execute(
            "SELECT trial, round, status, dev_cost, value, rung, epochs_run, seconds FROM trials ORDER BY trial"
        )
        try:
            return [TrialHead(t, r, _STATUSES[s], d, v, g, e, c) for t, r, s, d, v, g, e, c in rows]
        except KeyError as e:
            raise BadRow(f"a trial's status is {str(e)[:40]}, not one of {', '.join(_STATUSES)}") from None

    def stamp(self) -> tuple:
        """A summary that changes whenever a record is added, replaced or dropped: a watcher re-reads the heads
        only when it changed (one scan of plain columns, no JSON)."""
        return tuple(
            self._db.execute(
                "SELECT COUNT(*), MAX(trial), TOTAL(seconds), TOTAL(epochs_run), TOTAL(COALESCE(value, dev_cost)),"
                " TOTAL(LENGTH(status) * trial), TOTAL(COALESCE(rung, -1) * trial) FROM trials"
            ).fetchone()
        )

    @reading
    def done_ids(self, *, retry_failed: bool = False) -> set[int]:
        """Ids of the trials that have a record (not counting failed ones if ``retry_failed``)."""
        query = "SELECT trial FROM trials"
        if retry_failed:
            query += f" WHERE status != '{TrialStatus.FAILED.value}'"
        return {trial for (trial,) in self._db.execute(query)}

    def status_counts(self) -> dict[str, int]:
        """How many records have each ``TrialStatus`` value (every status present, 0 for none)."""
        counts = {s.value: 0 for s in TrialStatus}
        counts.update(self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"))
        return counts

    def best_ok(self, metric: str | None) -> Headline | None:
        """``records.rank``'s first trial, when it is ok with a finite cost, else None."""
        # NaN costs are NULL in the column, so the bounds exclude them along with ±inf.
        row = self._db.execute(
            "SELECT trial, dev_cost, metrics FROM trials WHERE status = ? AND COALESCE(value, dev_cost) > ?"
            " AND COALESCE(value, dev_cost) < ? ORDER BY COALESCE(value, dev_cost), trial LIMIT 1",
            (TrialStatus.OK.value, -math.inf, math.inf),
        ).fetchone()
        return _headline(row, metric)

    def headline(self, trial: int, metric: str | None) -> Headline | None:
        """``trial``'s line (as ``best_ok``), None if it has no record."""
        return _headline(
            self._db.execute("SELECT trial, dev_cost, metrics FROM trials WHERE trial = ?", (int(trial),)).fetchone(),
            metric,
        )


def _headline(row: tuple | None, metric: str | None) -> Headline | None:
    if row is None:
        return None
    return row[0], row[1], stored_json(f"trial {row[0]}", "metrics", row[2]).get(metric) if metric else None
