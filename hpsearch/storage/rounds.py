"""The owner of the ``rounds`` table: each round's space and size, stored before any of its trials runs, so the
trials are a pure function of config and seed."""

from __future__ import annotations

from hpsearch.core.errors import RunError
from hpsearch.core.limits import MAX_ROUNDS
from hpsearch.core.records import RoundRecord, stored_space
from hpsearch.storage.rows import BadRow, dumps, round_from_row
from hpsearch.storage.sql import Table, reading, transaction


class RoundTable(Table):
    """The rounds of a run."""

    def add(self, rnd: RoundRecord) -> None:
        """Record a new round; RunError if the run already has that round."""
        with transaction(self._db):
            if self.has(rnd.round):
                raise RunError(f"run '{self.run_name}' already has round {rnd.round}")
            self._db.execute(
                "INSERT INTO rounds (round, space, n_trials, sampler, kind, top_k, expand, first_trial)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(rnd.round),
                    dumps(stored_space(rnd)),
                    int(rnd.n_trials),
                    rnd.sampler,
                    rnd.kind,
                    None if rnd.top_k is None else int(rnd.top_k),
                    int(rnd.expand),
                    int(rnd.first_trial),
                ),
            )

    def grow(self, round: int, n_trials: int) -> None:
        """Give ``round`` (the run's last) ``n_trials`` trials, more than it planned: its first trials stay as
        they are, since a random or quasi trial depends on its index only (``space.samplers``)."""
        with transaction(self._db):
            planned = self._db.execute("SELECT n_trials FROM rounds WHERE round = ?", (round,)).fetchone()
            later = self._db.execute("SELECT 1 FROM rounds WHERE round > ?", (round,)).fetchone()
            if planned is None or later is not None or planned[0] > n_trials:
                raise RunError(f"run '{self.run_name}': round {round} cannot grow to {n_trials} trials")
            self._db.execute("UPDATE rounds SET n_trials = ? WHERE round = ?", (n_trials, round))

    def has(self, round: int) -> bool:
        """Whether the run has round ``round``."""
        return self._db.execute("SELECT 1 FROM rounds WHERE round = ?", (round,)).fetchone() is not None

    @reading
    def all(self) -> list[RoundRecord]:
        """Every round, by round number; RunError naming the round and value if one is past ``core.limits``."""
        rows = self._db.execute(
            "SELECT round, space, n_trials, sampler, kind, top_k, expand, first_trial"
            " FROM rounds ORDER BY round LIMIT ?",
            (MAX_ROUNDS + 1,),
        ).fetchall()
        if len(rows) > MAX_ROUNDS:
            raise BadRow(f"more than {MAX_ROUNDS} rounds")
        return [round_from_row(row) for row in rows]

    def sizes(self) -> tuple[int, int]:
        """How many rounds the run has, and how many trials they plan in all."""
        n_rounds, planned = self._db.execute("SELECT COUNT(*), COALESCE(SUM(n_trials), 0) FROM rounds").fetchone()
        return n_rounds, planned
