"""The run store: everything a search run keeps on disk, in one folder per run (``storage.layout``).

Only the parent process writes, one SQLite transaction per trial, so a process
killed at any instant leaves every committed trial readable and no half record.
Readers (``show``, ``export``, ``list``) need no lock: in WAL mode they read the
last committed state while a writer goes on, and they open the run read-only
(``RunStore.open(..., read_only=True)``), so they never write to it.

``RunStore`` is this module's rounds and trials, plus parts kept in their own
modules: per-epoch results read back (``storage.epochs``), rungs
(``storage.rungs``), model files and checkpoints (``storage.artifacts``),
babysit decisions (``storage.decision_log``) and confirmation repeats
(``storage.confirmations``). The tables are in
``storage.schema``, the row conversions in ``storage.rows``.
"""

from __future__ import annotations

import fcntl
import math
import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from hpsearch.core.errors import RunError, RunLockedError
from hpsearch.core.limits import MAX_ROUNDS
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, stored_space
from hpsearch.io.safe_files import check_no_symlinks, fsync_dir, open_for_write, write_bytes_atomic
from hpsearch.storage.artifacts import ArtifactFiles
from hpsearch.storage.confirmations import Confirmations
from hpsearch.storage.connection import connect
from hpsearch.storage.decision_log import DecisionLog
from hpsearch.storage.epochs import EpochTable
from hpsearch.storage.layout import CONFIG_FILE, LOCK_FILE, RUN_DB
from hpsearch.storage.records import EpochLog, RungEntry, RunSummary
from hpsearch.storage.rows import (
    TRIAL_COLUMNS,
    BadRow,
    dumps,
    epoch_rows,
    insert_epochs,
    now,
    nullable,
    round_from_row,
    stored_json,
    trial_from_row,
    trial_row,
)
from hpsearch.storage.run_names import new_run_dir, validate_run_name
from hpsearch.storage.rungs import RungRecords
from hpsearch.storage.schema import SCHEMA, SCHEMA_VERSION, schema_version, upgraded
from hpsearch.storage.sql import reading, transaction

#: How many names ``create_new`` tries when other processes take each one first.
_CREATE_TRIES = 100


class _Taken(RunError):
    """The folder a new run was to be made in was taken by another process (``create_new`` tries the next)."""


class RunStore(EpochTable, RungRecords, ArtifactFiles, DecisionLog, Confirmations):
    """One run's folder and its SQLite record.

    Make one with ``RunStore.create`` or ``RunStore.open``; close it (or use it
    as a context manager). Writers hold ``lock()`` while they write. A store
    object belongs to the thread that opened it (sqlite3's rule). ``read_only``:
    opened to read only, or an older run migrated in memory; it cannot be locked.
    """

    def __init__(self, run_dir: Path, db: sqlite3.Connection, meta: dict[str, str], *, read_only: bool = False):
        """Use ``create`` or ``open``. ``meta``: the run's meta table, ``db`` at ``SCHEMA_VERSION``."""
        self.run_dir = run_dir
        self.read_only = read_only
        self._identity = _file_identity(run_dir / RUN_DB)
        self._db = db
        version = schema_version(meta)
        if version != SCHEMA_VERSION:
            raise RunError(
                f"run '{run_dir}' has format {version}, this hpsearch reads format "
                f"{SCHEMA_VERSION} — use hpsearch {meta.get('hpsearch_version', '?')}, which made it"
            )
        self.name: str = meta["name"]
        self.config: dict[str, Any] = stored_json("meta", "config", meta["config"])
        #: Who created the run (``machine_id()`` of its creator), None for a run older than schema 3.
        self.created_by: str | None = meta.get("created_by")
        #: Called with one line whenever the store sets a damaged file aside (a checkpoint trained again);
        #: a command points it at its reporter's ``note``.
        self.note: Callable[[str], None] = lambda line: None
        self.created = datetime.fromisoformat(meta["created"])
        self.hpsearch_version: str = meta["hpsearch_version"]

    # -- opening and closing ------------------------------------------------

    @classmethod
    def create(cls, run_dir: Path, *, name: str, config: dict, config_text: str) -> "RunStore":
        """Make a new run in ``run_dir`` (absent or empty) and open it.

        Writes ``config.yaml`` (``config_text``) and ``run.sqlite``, which keeps
        ``config`` (a JSON-able dict), ``name``, the creation time and the
        hpsearch version. The folder appears complete or not at all: it is built
        under a hidden name next to ``run_dir`` and renamed into place.
        """
        # Imported here: the package's __init__ may import this module.
        from hpsearch import __version__

        validate_run_name(name)
        run_dir = Path(run_dir)
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise _Taken(f"cannot create run '{name}': '{run_dir}' exists and is not an empty folder")
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = run_dir.parent / f".{run_dir.name}.{uuid.uuid4().hex[:8]}.creating"
        staging.mkdir()
        try:
            write_bytes_atomic(staging, CONFIG_FILE, config_text.encode())
            db = sqlite3.connect(staging / RUN_DB, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")  # persists in the file
                # No transaction needed: nobody sees the folder before the rename.
                db.executescript(SCHEMA)
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("name", name),
                        ("created", now()),
                        ("hpsearch_version", __version__),
                        ("config", dumps(config)),
                        ("created_by", machine_id()),
                    ],
                )
            finally:
                db.close()  # the last close checkpoints the WAL into run.sqlite
            try:
                os.rename(staging, run_dir)  # atomic; fails if run_dir was filled meanwhile
            except OSError as e:
                raise _Taken(
                    f"cannot create run '{name}': '{run_dir}' was taken by another process ({e.strerror})"
                ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(run_dir.parent)
        return cls.open(run_dir)

    @classmethod
    def create_new(cls, runs_dir: Path, name: str, config_for: Callable[[str], tuple[dict, str]]) -> "RunStore":
        """Make a new run in ``runs_dir`` in the first free folder of ``name``, ``name-2``, ... and open it.

        Free when it is created, not when it was looked at: searches of one config started together in one
        runs folder each get their own folder (the one that loses a race takes the next name). ``config_for``
        gives the config and its text for the folder name chosen (a run's config may hold its name).
        """
        for _ in range(_CREATE_TRIES):
            run_dir = new_run_dir(runs_dir, name)
            config, config_text = config_for(run_dir.name)
            try:
                return cls.create(run_dir, name=run_dir.name, config=config, config_text=config_text)
            except _Taken:
                continue
        raise RunError(
            f"cannot create run '{name}' in '{runs_dir}': {_CREATE_TRIES} free names in a row were "
            "taken by other processes meanwhile — try again"
        )

    @classmethod
    def open(cls, run_dir: Path, *, read_only: bool = False) -> "RunStore":
        """Open an existing run for reading and (under ``lock()``) writing.

        A run of an older format is migrated in place, once, under SQLite's
        write lock. With ``read_only`` (show, export, list) nothing is ever
        written to the run: an older run is migrated in an in-memory copy,
        and ``lock()`` refuses.
        """
        run_dir = Path(run_dir)
        db_path = run_dir / RUN_DB
        if not db_path.is_file():
            raise RunError(
                f"'{run_dir}' is not an hpsearch run (no {RUN_DB}) — give a run name from "
                "`hpsearch list` or the path of a run folder"
            )
        db, detached = connect(run_dir, read_only=read_only)
        try:
            # WAL makes a commit one append to run.sqlite-wal; with it, NORMAL
            # never corrupts the database and loses no commit when the process
            # dies (kill -9): the WAL is already in the OS's cache. Only a power
            # cut or OS crash can undo the last commits — trials that resume
            # re-trains to identical results — and NORMAL spares the fsync that
            # FULL pays on every trial.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            current, meta = upgraded(db, read_only=read_only)
        except sqlite3.DatabaseError as e:
            db.close()
            raise RunError(f"'{run_dir}' is not a readable hpsearch run ({RUN_DB}: {e})") from None
        except BaseException:
            db.close()
            raise
        try:
            # A run read or migrated in memory cannot be written: its changes would vanish on close.
            store = cls(run_dir, current, meta, read_only=read_only or detached or current is not db)
        except (KeyError, ValueError) as e:
            current.close()
            raise RunError(f"'{run_dir}' is not a readable hpsearch run ({RUN_DB}: meta has no valid {e})") from None
        except BaseException:
            current.close()
            raise
        try:
            store.rounds()  # stored values within the limits a config has (a crafted run.sqlite): checked once, here
        except BaseException:
            store.close()
            raise
        return store

    def check_intact(self) -> None:
        """RunError if ``run.sqlite`` was deleted or replaced since this store opened it.

        SQLite keeps writing to a deleted file's open handle without complaint, so
        a search would otherwise report "saved" for results that are gone.
        """
        if _file_identity(self.run_dir / RUN_DB) != self._identity:
            raise RunError(
                f"{self.run_dir / RUN_DB} was deleted or replaced while this command ran: "
                f"the results of run '{self.name}' are lost"
            )

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's exclusive writer lock for the ``with`` block.

        Non-blocking: raises RunLockedError at once if another process holds it.
        An ``flock`` dies with its process, so ``kill -9`` leaves no stale lock.
        RunError on a ``read_only`` store.
        """
        if self.read_only:
            raise RunError(
                f"cannot lock run '{self.name}' for writing: it is open read-only (a read-only "
                f"{RUN_DB}, or a command that only reads)"
            )
        check_no_symlinks(self.run_dir)  # a writer never writes through a planted link
        fd = open_for_write(self.run_dir, LOCK_FILE, os.O_RDWR | os.O_CREAT)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise RunLockedError(
                    f"run '{self.name}' is in use by another hpsearch process (pid {holder}) "
                    "— wait for it to finish or stop it"
                ) from None
            # The holder's pid, only for the message above.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the flock

    # -- rounds and trials --------------------------------------------------

    def add_round(self, rnd: RoundRecord) -> None:
        """Record a new round; RunError if the run already has that round."""
        with transaction(self._db):
            if self._db.execute("SELECT 1 FROM rounds WHERE round = ?", (rnd.round,)).fetchone():
                raise RunError(f"run '{self.name}' already has round {rnd.round}")
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

    @reading
    def rounds(self) -> list[RoundRecord]:
        """Every round, by round number; RunError naming the round and value if one is past ``core.limits``."""
        rows = self._db.execute(
            "SELECT round, space, n_trials, sampler, kind, top_k, expand, first_trial"
            " FROM rounds ORDER BY round LIMIT ?",
            (MAX_ROUNDS + 1,),
        ).fetchall()
        if len(rows) > MAX_ROUNDS:
            raise BadRow(f"more than {MAX_ROUNDS} rounds")
        return [round_from_row(row) for row in rows]

    def record_trial(self, rec: TrialRecord) -> None:
        """Record a finished trial and its epochs (from its history), in one transaction.

        An earlier record of the same trial id is replaced only if it was
        ``failed`` (a retry); any other earlier record raises RunError, so a
        trial is never stored twice.
        """
        self.record_progress(rec.trial, rec.round, EpochLog(0, rec.history), final=rec)

    def record_progress(
        self, trial: int, round: int, log: EpochLog, *, rung: RungEntry | None = None, final: TrialRecord | None = None
    ) -> None:
        """Record epochs a trial trained, the rung it reached and (when it ended) its record — all in one transaction.

        A process killed at any instant leaves either all of it or none, so a
        resume continues from the last rung recorded, never from a half step.
        """
        with transaction(self._db):
            if not self._db.execute("SELECT 1 FROM rounds WHERE round = ?", (round,)).fetchone():
                raise RunError(f"trial {trial} belongs to round {round}, which run '{self.name}' does not have")
            if final is not None:
                earlier = self._db.execute("SELECT status FROM trials WHERE trial = ?", (trial,)).fetchone()
                if earlier and earlier[0] != TrialStatus.FAILED.value:
                    raise RunError(f"run '{self.name}' already has a record of trial {trial} ({earlier[0]})")
            rows = epoch_rows(log.history, log.seconds)
            insert_epochs(self._db, trial, [(log.first_epoch + row[0], *row[1:]) for row in rows])
            if rung is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO rung_results (trial, rung, epoch, value, diverged) VALUES (?, ?, ?, ?, ?)",
                    (int(trial), int(rung.rung), int(rung.epoch), nullable(rung.value), int(rung.diverged)),
                )
            if final is not None:
                # REPLACE overwrites only the failed record allowed through above.
                row = trial_row(final)
                self._db.execute(
                    f"INSERT OR REPLACE INTO trials ({TRIAL_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
                )

    @reading
    def trials(self, round: int | None = None) -> list[TrialRecord]:
        """Every recorded trial (of one round if ``round`` is given), by trial id."""
        query = f"SELECT {TRIAL_COLUMNS} FROM trials"
        if round is None:
            rows = self._db.execute(query + " ORDER BY trial")
        else:
            rows = self._db.execute(query + " WHERE round = ? ORDER BY trial", (round,))
        return [trial_from_row(row) for row in rows]

    @reading
    def done_trial_ids(self, *, retry_failed: bool = False) -> set[int]:
        """Ids of the trials that have a record (not counting failed ones if ``retry_failed``)."""
        query = "SELECT trial FROM trials"
        if retry_failed:
            query += f" WHERE status != '{TrialStatus.FAILED.value}'"
        return {trial for (trial,) in self._db.execute(query)}

    @reading
    def summary(self) -> RunSummary:
        """This run's line in ``hpsearch list``."""
        n_rounds, planned = self._db.execute("SELECT COUNT(*), COALESCE(SUM(n_trials), 0) FROM rounds").fetchone()
        counts = {s.value: 0 for s in TrialStatus}
        counts.update(self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"))
        metric = (self.config.get("objective") or {}).get("metric")
        # records.rank's first trial, when it is ok with a finite cost. NaN costs
        # are NULL in the column, so the bounds exclude them along with ±inf.
        best = self._db.execute(
            "SELECT trial, dev_cost, metrics FROM trials WHERE status = ? AND COALESCE(value, dev_cost) > ?"
            " AND COALESCE(value, dev_cost) < ? ORDER BY COALESCE(value, dev_cost), trial LIMIT 1",
            (TrialStatus.OK.value, -math.inf, math.inf),
        ).fetchone()
        # After confirm, predict uses the confirmed best's repeat (models/best.npz): list names that trial.
        confirmed = (
            self.confirmed_model()
            if self._db.execute("SELECT 1 FROM confirmations WHERE model_sha256 IS NOT NULL LIMIT 1").fetchone()
            else None
        )
        if confirmed is not None:
            best = (
                self._db.execute(
                    "SELECT trial, dev_cost, metrics FROM trials WHERE trial = ?", (confirmed[0],)
                ).fetchone()
                or best
            )
        return RunSummary(
            name=self.run_dir.name,
            path=self.run_dir,
            created=self.created,
            rounds=n_rounds,
            trials_done=sum(counts.values()),
            trials_planned=planned,
            best_dev_cost=best[1] if best else None,
            best_trial=best[0] if best else None,
            status_counts=counts,
            metric=metric,
            best_value=stored_json(f"trial {best[0]}", "metrics", best[2]).get(metric) if best and metric else None,
            confirmed=confirmed is not None and best is not None and best[0] == confirmed[0],
        )


def machine_id() -> str:
    """Who is running hpsearch: ``user@host`` (uid and host name). A run records its creator's (meta
    ``created_by``), so a run folder received from someone else can be told apart (README: the trust rule)."""
    return f"{os.getuid()}@{socket.gethostname()}"


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
