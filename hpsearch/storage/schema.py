"""run.sqlite's tables, its format version, and how older runs are brought up to it; the owner of ``meta``.

Each other table has its own owner module (docs/architecture.md, "The storage contract"), which alone reads and
writes it; this module only creates the tables and, in a migration, converts the rows of an older format.

A run records its format in ``meta.schema_version``. Opening a run of an older
format migrates it, and two processes may open the same old run at once (a
``show`` during a ``resume``), so the version is read again inside the
migration's own ``BEGIN IMMEDIATE`` transaction: the second opener waits for
the first one's migration, then finds nothing left to do. A read-only open
never writes: it migrates an in-memory copy.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping

from hpsearch.core.records import best_epoch
from hpsearch.storage.epochs import insert_epochs
from hpsearch.storage.rows import TRIAL_COLUMNS, dumps, epoch_rows, real_is_exact
from hpsearch.storage.sql import Table, transaction

SCHEMA_VERSION = 5
"""1: hpsearch 0.1.0. 2: pruned status; rung, ranking value and best epoch of each trial;
per-epoch results, rung results and promotions in their own tables — and, added while 2 was current (so a
run of format 2 may lack them: ``v2-early-run``), babysit's ``decisions``, confirm's ``confirmations`` and an
own objective's ``metrics`` column in ``trials``. 3: the SHA-256 of each file the run
reads back (checkpoints, training states, prepared arrays), and who created the run (meta ``created_by``).
4: a ``metrics`` JSON column in ``epochs`` and ``confirmations`` (a regression's dev RMSE and R² per epoch and
per confirmation repeat). 5: ``warm_trials``, the trials of earlier runs a run was warm-started from
(``search.warm_start``). Older runs are migrated on open."""

FILE_TABLES = """
-- The SHA-256 of each file of the run folder that hpsearch reads back (checkpoints, babysit state,
-- prepared arrays), by its path relative to the run folder: a file whose bytes differ was changed
-- outside hpsearch. Runs older than schema 3 have none: their files are accepted, digested on next write.
CREATE TABLE file_digests (
    path   TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL
);
"""

TRIAL_TABLES = """
CREATE TABLE trials (
    trial          INTEGER PRIMARY KEY,
    round          INTEGER NOT NULL REFERENCES rounds (round),
    index_in_round INTEGER NOT NULL,
    params         TEXT NOT NULL,           -- JSON
    seed           TEXT NOT NULL,           -- decimal: seeds may exceed SQLite's int64
    status         TEXT NOT NULL CHECK (status IN ('ok', 'pruned', 'diverged', 'failed')),
    dev_cost       REAL,
    train_cost     REAL,
    dev_accuracy   REAL,
    seconds        REAL,
    value          REAL,                    -- what the trial is ranked by (search.rank_by), lower is better
    best_dev_cost  REAL,
    epochs_run     INTEGER NOT NULL,
    history        TEXT NOT NULL,           -- JSON, NaN/Infinity allowed
    error          TEXT,
    exact_floats   TEXT NOT NULL,           -- JSON: REAL fields SQLite cannot hold exactly
    rung           INTEGER,                 -- index of the last rung reached (early stopping), else NULL
    best_epoch     INTEGER,
    metrics        TEXT NOT NULL DEFAULT '{}' -- JSON: an own objective's metric and its other reported numbers
);
-- Every epoch a trial trained, as it trained (a paused trial has rows here and none in trials).
CREATE TABLE epochs (
    trial         INTEGER NOT NULL,
    epoch         INTEGER NOT NULL,         -- 0-based
    train_cost    REAL,                     -- NULL: NaN
    dev_cost      REAL,
    dev_accuracy  REAL,
    learning_rate REAL,
    seconds       REAL,                     -- NULL: not measured (runs migrated from schema 1)
    metrics       TEXT NOT NULL DEFAULT '{}', -- JSON: a regression's dev_rmse, dev_r2 (rows.EPOCH_METRICS)
    PRIMARY KEY (trial, epoch)
);
-- A trial's value where it reached a rung of early stopping; promotions compare these.
CREATE TABLE rung_results (
    trial    INTEGER NOT NULL,
    rung     INTEGER NOT NULL,
    epoch    INTEGER NOT NULL,              -- epochs trained at the rung
    value    REAL,                          -- NULL: NaN
    diverged INTEGER NOT NULL,
    PRIMARY KEY (trial, rung)
);
-- Trials that continued from each rung to the next, per round and bracket.
CREATE TABLE promotions (
    round   INTEGER NOT NULL,
    bracket INTEGER NOT NULL,
    rung    INTEGER NOT NULL,
    trial   INTEGER NOT NULL,
    PRIMARY KEY (round, rung, trial)
);
-- What hpsearch babysit changed at an epoch boundary of a trial, and why (hpsearch.babysit.rules.Decision).
CREATE TABLE decisions (
    trial                INTEGER NOT NULL,
    seq                  INTEGER NOT NULL,  -- 0, 1, ...: the order they were made in
    epoch                INTEGER NOT NULL,  -- applied after this many epochs of the trial's timeline
    action               TEXT NOT NULL,
    reason               TEXT NOT NULL,
    learning_rate_before REAL NOT NULL,
    learning_rate_after  REAL NOT NULL,
    rolled_back_to       INTEGER,
    PRIMARY KEY (trial, seq)
);
-- Top trials retrained with fresh seeds by `hpsearch confirm`: one row per finished repeat.
CREATE TABLE confirmations (
    trial         INTEGER NOT NULL,
    repeat_index  INTEGER NOT NULL,         -- 0-based
    seed          TEXT NOT NULL,            -- decimal, as trials.seed
    status        TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed')),
    value         REAL,                     -- as trials.value
    dev_cost      REAL,
    train_cost    REAL,
    dev_accuracy  REAL,
    seconds       REAL,
    epochs_run    INTEGER NOT NULL,
    error         TEXT,
    exact_floats  TEXT NOT NULL,            -- JSON: REAL fields SQLite cannot hold exactly
    model_sha256  TEXT,                     -- digest of models/best.npz while it holds this repeat
    metrics       TEXT NOT NULL DEFAULT '{}', -- JSON: a regression's dev_rmse, dev_r2 (rows.EPOCH_METRICS)
    PRIMARY KEY (trial, repeat_index)

);
"""

WARM_TABLES = """
-- The finished trials of earlier runs this run was warm-started from (search.warm_start), copied in when it
-- was made: history for its zoom rounds, never trained here. Runs older than schema 5 have none.
CREATE TABLE warm_trials (
    position INTEGER PRIMARY KEY,           -- the order the zoom planners read them in, oldest first
    source   TEXT NOT NULL,                 -- the run it came from
    trial    INTEGER NOT NULL,              -- its id there
    record   TEXT NOT NULL,                 -- JSON: params, status, value, levels (cost per rung), ...
    left_out TEXT                           -- why it does not count (space.fit's kind: words); NULL: it counts
);
"""

SCHEMA = (
    """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE rounds (
    round       INTEGER PRIMARY KEY,
    space       TEXT NOT NULL,              -- JSON (Space.to_json())
    n_trials    INTEGER NOT NULL,
    sampler     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    top_k       INTEGER,
    expand      INTEGER NOT NULL,           -- 0 or 1
    first_trial INTEGER NOT NULL
);
-- Every save of models/best.npz, keyed by the file's digest: the file itself
-- says which trial it holds, even if the process died between the file's
-- replacement and this table's commit (or the other way round).
CREATE TABLE best_model_saves (
    trial  INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    saved  TEXT NOT NULL
);
"""
    + TRIAL_TABLES
    + FILE_TABLES
    + WARM_TABLES
)


def initialize(db: sqlite3.Connection, meta: Mapping[str, str]) -> None:
    """Make today's tables in the empty database of a new run, its ``meta`` table holding ``meta`` and the
    schema version. No transaction: nobody sees the run before its folder is renamed into place."""
    db.executescript(SCHEMA)
    db.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)", [("schema_version", str(SCHEMA_VERSION)), *meta.items()]
    )


class MetaTable(Table):
    """The ``meta`` row a command may change after the run is made: its config, when ``resume --trials +N`` or
    ``--rounds +N`` gives it more budget (the config it would have had, had it asked for that budget at first)."""

    def replace_config(self, config: Mapping[str, object]) -> None:
        """Keep ``config`` (a JSON-able dict) as the run's config, read by every later command."""
        with transaction(self._db):
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (dumps(dict(config)),))


def read_meta(db: sqlite3.Connection) -> dict[str, str]:
    """The run's ``meta`` table: schema version, name, creation time, hpsearch version, config."""
    return dict(db.execute("SELECT key, value FROM meta"))


def schema_version(meta: dict[str, str]) -> int:
    """The format a run's ``meta`` says it has (-1: none)."""
    return int(meta.get("schema_version", -1))


def upgraded(db: sqlite3.Connection, *, read_only: bool) -> tuple[sqlite3.Connection, dict[str, str]]:
    """``db`` at ``SCHEMA_VERSION`` when it is a known older format, and its meta.

    A run of the current format holding every table and column, or of an unknown format, comes back as it is.
    An older one, or one that lacks a table or column of today's schema (a run written while a version's tables
    were still being added), is migrated in one ``BEGIN IMMEDIATE`` transaction that reads the
    version again under the write lock (another process may have migrated it
    meanwhile). A read-only open, or a run that cannot be written (a read-only
    file), is migrated in an in-memory copy, leaving the file untouched; the
    returned connection is then that copy (``db`` is closed).
    """
    meta = read_meta(db)
    if not _outdated(db, schema_version(meta)):
        return db, meta
    if not read_only:
        try:
            with transaction(db):
                _migrate(db)
            return db, read_meta(db)
        except sqlite3.OperationalError as e:
            if "readonly" not in str(e) and "read-only" not in str(e):
                raise
    memory = sqlite3.connect(":memory:", isolation_level=None)
    db.backup(memory)
    db.close()
    with transaction(memory):
        _migrate(memory)
    return memory, read_meta(memory)


def _outdated(db: sqlite3.Connection, version: int) -> bool:
    """Whether a run of format ``version`` needs migrating: an older known format, or today's with a table or
    column missing. The number alone is not enough: schema 2 gained tables and columns after its first runs."""
    return 1 <= version < SCHEMA_VERSION or (version == SCHEMA_VERSION and bool(_missing(db)))


def _migrate(db: sqlite3.Connection) -> None:
    """Inside a write transaction: bring ``db`` from the version it has now to ``SCHEMA_VERSION``: the data
    conversions of ``MIGRATIONS`` from its version on, then every table and column it still lacks."""
    version = schema_version(read_meta(db))
    if not _outdated(db, version):  # migrated by another process while this one waited for the lock
        return
    for step in range(version, SCHEMA_VERSION):
        if step in MIGRATIONS:
            MIGRATIONS[step](db)
    _complete(db)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


@functools.cache
def _reference() -> dict[str, tuple[str, tuple[tuple[str, str, int, str | None], ...]]]:
    """Today's tables: name -> (CREATE statement, columns as (name, type, not null, default))."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        return {
            name: (sql, tuple((c[1], c[2], c[3], c[4]) for c in db.execute(f'PRAGMA table_info("{name}")')))
            for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        }
    finally:
        db.close()


def _missing(db: sqlite3.Connection) -> list[tuple[str, str | None]]:
    """(table, None) for each table of today's schema ``db`` lacks, (table, column) for each column it lacks."""
    have = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing: list[tuple[str, str | None]] = []
    for table, (_, columns) in _reference().items():
        if table not in have:
            missing.append((table, None))
            continue
        present = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        missing += [(table, column[0]) for column in columns if column[0] not in present]
    return missing


def _complete(db: sqlite3.Connection) -> None:
    """Add the tables and columns of today's schema that ``db`` lacks, by what it holds rather than by its
    version number. A new table starts empty (a run without ``file_digests`` has its files accepted and digested
    when next written; one without ``confirmations`` or ``decisions`` had none); a new column takes its default
    in every old row (``metrics``: ``{}``, never stored before). A run that gains ``file_digests`` records no
    creator, so it counts as received (docs: explanation/trust.md)."""
    for table, column in _missing(db):
        sql, columns = _reference()[table]
        if column is None:
            db.execute(sql)
            continue
        name, kind, not_null, default = next(c for c in columns if c[0] == column)
        db.execute(
            f'ALTER TABLE "{table}" ADD COLUMN "{name}" {kind}'
            + (" NOT NULL" if not_null else "")
            + (f" DEFAULT {default}" if default is not None else "")
        )


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Schema 1 → 2: trials gain rung, value (= dev cost: schema 1 ranked by the last epoch) and best epoch;
    their histories fill the per-epoch table (seconds unknown)."""
    db.execute("ALTER TABLE trials RENAME TO trials_v1")
    _execute_script(db, TRIAL_TABLES)
    old = db.execute(
        "SELECT trial, round, index_in_round, params, seed, status, dev_cost, train_cost, dev_accuracy,"
        " epochs_run, seconds, history, error, exact_floats FROM trials_v1"
    ).fetchall()
    for trial, rnd, index, params, seed, status, dev, train, acc, epochs_run, seconds, history, error, exact in old:
        exact_values = json.loads(exact)
        dev_value = exact_values.get("dev_cost", dev)
        hist = json.loads(history)
        best_cost, best_at = best_epoch(hist.get("dev_cost", []))
        if "dev_cost" in exact_values:
            exact_values["value"] = exact_values["dev_cost"]
        if best_cost is not None and not real_is_exact(best_cost):
            exact_values["best_dev_cost"] = best_cost
        db.execute(
            f"INSERT INTO trials ({TRIAL_COLUMNS}) VALUES ({', '.join('?' * 19)})",
            (
                trial,
                rnd,
                index,
                params,
                seed,
                status,
                dev,
                train,
                acc,
                seconds,
                None if dev_value is None or not real_is_exact(dev_value) else dev_value,
                None if best_cost is None or not real_is_exact(best_cost) else best_cost,
                epochs_run,
                history,
                error,
                dumps(exact_values),
                None,
                best_at,
                "{}",
            ),
        )
        insert_epochs(db, trial, epoch_rows(hist))
    db.execute("DROP TABLE trials_v1")


def _execute_script(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` inside the open transaction (executescript would commit it)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


MIGRATIONS = {1: _migrate_1_to_2}
"""The data conversion from an older format to the next, where one is needed; tables and columns that are only
added (2 → 3: ``file_digests``; 3 → 4: ``metrics`` in ``epochs`` and ``confirmations``; 4 → 5: ``warm_trials``) come
from ``_complete``."""
