"""The run store: everything a search run keeps on disk, in one folder per run.

A run folder holds::

    config.yaml        the resolved config the run was started with (for people)
    run.sqlite         rounds, trials and metadata (the record the program reads)
    lock               held (flock) by the one process writing to the run
    models/best.npz    weights of the best trial so far (np.savez, no pickle)
    models/best-state.npz  its whole training state (optimizer moments, RNGs, history)
    checkpoints/       training states of trials paused at a rung (early stopping only)

Only the parent process writes, one SQLite transaction per trial, so a process
killed at any instant leaves every committed trial readable and no half record.
Readers (``show``, ``export``, ``list``) need no lock: in WAL mode they read the
last committed state while a writer goes on.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import io
import json
import math
import os
import re
import shutil
import sqlite3
import uuid
import functools
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from hpsearch.core.decisions import Decision
from hpsearch.core.errors import RunError, RunLockedError
from hpsearch.core.records import RepeatRecord, RoundRecord, TrialRecord, TrialStatus
from hpsearch.io.safe_files import check_no_symlinks, fsync_dir, make_folder, open_for_write, write_bytes_atomic

T = TypeVar("T")

RUN_DB = "run.sqlite"
CONFIG_FILE = "config.yaml"
LOCK_FILE = "lock"
MODELS_DIR = "models"
BEST_MODEL = "best.npz"
BEST_STATE = "best-state.npz"
CHECKPOINTS_DIR = "checkpoints"
RUNS_DIR_ENV = "HPSEARCH_RUNS_DIR"

SCHEMA_VERSION = 2
"""1: hpsearch 0.1.0. 2: pruned status; rung, ranking value and best epoch of each trial;
per-epoch results, rung results and promotions in their own tables. Older runs are migrated on open."""
# Seconds a connection waits for another one's write before giving up. Writes
# are one small transaction per trial, so any real wait is far shorter.
BUSY_TIMEOUT_S = 30.0

MAX_NAME_LENGTH = 100
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAME_RULE = (
    f"a run name is 1 to {MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', "
    "starting with a letter or digit"
)

# TrialRecord fields kept in REAL columns, so SQL can sort and filter by them.
_REAL_FIELDS = ("dev_cost", "train_cost", "dev_accuracy", "seconds", "value", "best_dev_cost")
_TRIAL_COLUMNS = ", ".join(
    ("trial", "round", "index_in_round", "params", "seed", "status", *_REAL_FIELDS,
     "epochs_run", "history", "error", "exact_floats", "rung", "best_epoch", "metrics")
)
_EPOCH_FIELDS = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate", "seconds")

_TRIAL_TABLES = """
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
    PRIMARY KEY (trial, repeat_index)

);
"""
_REPEAT_REALS = ("value", "dev_cost", "train_cost", "dev_accuracy", "seconds")

_SCHEMA = """
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
""" + _TRIAL_TABLES


def validate_run_name(name: str) -> str:
    """Return ``name`` if it is a legal run name, else raise RunError.

    A run name becomes a folder in the runs directory, so it is one plain path
    component: no separators, never ``.`` or ``..``, never hidden, never
    starting with ``-`` (it would read as a command-line option).
    """
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise RunError(f"invalid run name {name!r}: {NAME_RULE}")
    return name


def default_runs_dir() -> Path:
    """The runs directory: ``$HPSEARCH_RUNS_DIR`` if set, else ``./runs``."""
    return Path(os.environ.get(RUNS_DIR_ENV) or "runs")


def new_run_dir(runs_dir: Path, name: str) -> Path:
    """A free folder for a new run: ``runs_dir/name``, else ``name-2``, ``name-3``, ...

    The folder's name is a legal run name too (a long ``name`` is shortened to
    make room for the number) and never a path outside ``runs_dir``. The folder
    is not created (``RunStore.create`` does that, and refuses if another
    process took the folder in between).
    """
    validate_run_name(name)
    runs_root = Path(runs_dir).resolve()
    candidate, k = name, 1
    # lexists: a symlink, even a dangling one, is taken — never write through it.
    while os.path.lexists(runs_root / candidate):
        k += 1
        suffix = f"-{k}"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    run_dir = (runs_root / candidate).resolve()
    if run_dir.parent != runs_root:
        raise RunError(f"run name {name!r} would leave the runs directory '{runs_dir}': {NAME_RULE}")
    return Path(runs_dir) / candidate


def resolve_run(ref: str, runs_dir: Path) -> Path:
    """The folder of the run ``ref``: a run name in ``runs_dir``, or a path to a run folder.

    A plain name is looked up in ``runs_dir`` first, then as a path.
    """
    runs_dir = Path(runs_dir)
    is_plain_name = ref not in ("", ".", "..") and os.sep not in ref and "/" not in ref
    if is_plain_name and (runs_dir / ref / RUN_DB).is_file():
        return runs_dir / ref
    path = Path(ref)
    if (path / RUN_DB).is_file():
        return path
    if not is_plain_name:
        if path.is_dir():
            raise RunError(f"'{ref}' is not an hpsearch run (no {RUN_DB}) — see hpsearch list")
        raise RunError(f"no run folder at '{ref}' — see hpsearch list")
    close = difflib.get_close_matches(ref, [s.name for s in list_runs(runs_dir)], n=1)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    raise RunError(f"no run named '{ref}' in {runs_dir}/{hint} — see hpsearch list")


@dataclass(frozen=True)
class EpochLog:
    """Epochs ``first_epoch``, ``first_epoch + 1``, ... of one trial: history lists and training seconds."""

    first_epoch: int
    history: Mapping[str, list[float]]
    seconds: list[float] | None = None


@dataclass(frozen=True)
class RungEntry:
    """Where a trial reached rung ``rung`` (index) after ``epoch`` epochs: its value there and whether it diverged."""

    rung: int
    epoch: int
    value: float
    diverged: bool


@dataclass(frozen=True)
class RunSummary:
    """One line of ``hpsearch list``.

    ``name`` is the run folder's name (what ``RUN`` arguments accept).
    ``best_dev_cost``/``best_trial`` are those of the best ``ok`` trial with a
    finite dev cost (``records.rank`` order), ``None`` while there is none.
    ``status_counts`` maps every ``TrialStatus`` value to its number of trials.
    With an own objective, ``metric`` names its metric and ``best_value`` is
    the best trial's value of it (``best_dev_cost`` is then None).
    """

    name: str
    path: Path
    created: datetime
    rounds: int
    trials_done: int
    trials_planned: int
    best_dev_cost: float | None
    best_trial: int | None
    status_counts: dict[str, int]
    metric: str | None = None
    best_value: float | None = None


def _reading(method: Callable[..., T]) -> Callable[..., T]:
    """A store read that finds run.sqlite damaged (a corrupted page, a mangled record) raises one RunError."""

    @functools.wraps(method)
    def read(self: "RunStore", *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, ValueError, KeyError) as e:
            raise RunError(
                f"cannot read run '{self.run_dir}': {RUN_DB} is damaged ({e}) — other runs are not affected"
            ) from None

    return read


class RunStore:
    """One run's folder and its SQLite record.

    Make one with ``RunStore.create`` or ``RunStore.open``; close it (or use it
    as a context manager). Writers hold ``lock()`` while they write. A store
    object belongs to the thread that opened it (sqlite3's rule).
    """

    def __init__(self, run_dir: Path, db: sqlite3.Connection):
        """Use ``create`` or ``open``. Reads the run's metadata from ``db``."""
        self.run_dir = run_dir
        self._identity = _file_identity(run_dir / RUN_DB)
        meta = dict(db.execute("SELECT key, value FROM meta"))
        version = int(meta.get("schema_version", -1))
        if version in _MIGRATIONS:
            db = _migrated(db, version)
            version = SCHEMA_VERSION
        self._db = db
        if version != SCHEMA_VERSION:
            raise RunError(
                f"run '{run_dir}' has format {version}, this hpsearch reads format "
                f"{SCHEMA_VERSION} — use hpsearch {meta.get('hpsearch_version', '?')}, which made it"
            )
        self.name: str = meta["name"]
        self.config: dict[str, Any] = json.loads(meta["config"])
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
            raise RunError(f"cannot create run '{name}': '{run_dir}' exists and is not an empty folder")
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = run_dir.parent / f".{run_dir.name}.{uuid.uuid4().hex[:8]}.creating"
        staging.mkdir()
        try:
            _write_durably(staging / CONFIG_FILE, config_text.encode())
            db = sqlite3.connect(staging / RUN_DB, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")  # persists in the file
                # No transaction needed: nobody sees the folder before the rename.
                db.executescript(_SCHEMA)
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("name", name),
                        ("created", _now()),
                        ("hpsearch_version", __version__),
                        ("config", _dumps(config)),
                    ],
                )
            finally:
                db.close()  # the last close checkpoints the WAL into run.sqlite
            try:
                os.rename(staging, run_dir)  # atomic; fails if run_dir was filled meanwhile
            except OSError as e:
                raise RunError(
                    f"cannot create run '{name}': '{run_dir}' was taken by another process ({e.strerror})"
                ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(run_dir.parent)
        return cls.open(run_dir)

    @classmethod
    def open(cls, run_dir: Path) -> "RunStore":
        """Open an existing run for reading and (under ``lock()``) writing."""
        run_dir = Path(run_dir)
        db_path = run_dir / RUN_DB
        if not db_path.is_file():
            raise RunError(
                f"'{run_dir}' is not an hpsearch run (no {RUN_DB}) — give a run name from "
                "`hpsearch list` or the path of a run folder"
            )
        # mode=rw: never create an empty database where a run should be. A run
        # in a read-only folder is still shown and exported: SQLite cannot add
        # its WAL files there, and no writer can either, so it is read as it
        # stands (immutable); a read-only run.sqlite in a writable folder, read-only.
        if not os.access(run_dir, os.W_OK):
            mode = "ro&immutable=1"
        else:
            mode = "rw" if os.access(db_path, os.W_OK) else "ro"
        try:
            db = sqlite3.connect(
                db_path.resolve().as_uri() + f"?mode={mode}",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # transactions are explicit (_transaction)
            )
        except sqlite3.Error as e:
            raise RunError(f"cannot open run '{run_dir}': {e}") from None
        try:
            # WAL makes a commit one append to run.sqlite-wal; with it, NORMAL
            # never corrupts the database and loses no commit when the process
            # dies (kill -9): the WAL is already in the OS's cache. Only a power
            # cut or OS crash can undo the last commits — trials that resume
            # re-trains to identical results — and NORMAL spares the fsync that
            # FULL pays on every trial.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            return cls(run_dir, db)
        except sqlite3.DatabaseError as e:
            db.close()
            raise RunError(f"'{run_dir}' is not a readable hpsearch run ({RUN_DB}: {e})") from None
        except BaseException:
            db.close()
            raise

    def check_intact(self) -> None:
        """RunError if ``run.sqlite`` was deleted or replaced since this store opened it.

        SQLite keeps writing to a deleted file's open handle without complaint, so
        a search would otherwise report "saved" for results that are gone.
        """
        if _file_identity(self.run_dir / RUN_DB) != self._identity:
            raise RunError(f"{self.run_dir / RUN_DB} was deleted or replaced while this command ran: "
                           f"the results of run '{self.name}' are lost")

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
        """
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
        with _transaction(self._db):
            if self._db.execute("SELECT 1 FROM rounds WHERE round = ?", (rnd.round,)).fetchone():
                raise RunError(f"run '{self.name}' already has round {rnd.round}")
            self._db.execute(
                "INSERT INTO rounds (round, space, n_trials, sampler, kind, top_k, expand, first_trial)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(rnd.round),
                    _dumps(rnd.space),
                    int(rnd.n_trials),
                    rnd.sampler,
                    rnd.kind,
                    None if rnd.top_k is None else int(rnd.top_k),
                    int(rnd.expand),
                    int(rnd.first_trial),
                ),
            )

    @_reading
    def rounds(self) -> list[RoundRecord]:
        """Every round, by round number."""
        rows = self._db.execute(
            "SELECT round, space, n_trials, sampler, kind, top_k, expand, first_trial"
            " FROM rounds ORDER BY round"
        )
        return [
            RoundRecord(
                round=r, space=json.loads(space), n_trials=n, sampler=sampler, kind=kind,
                top_k=top_k, expand=bool(expand), first_trial=first,
            )
            for r, space, n, sampler, kind, top_k, expand, first in rows
        ]

    def record_trial(self, rec: TrialRecord) -> None:
        """Record a finished trial and its epochs (from its history), in one transaction.

        An earlier record of the same trial id is replaced only if it was
        ``failed`` (a retry); any other earlier record raises RunError, so a
        trial is never stored twice.
        """
        self.record_progress(rec.trial, rec.round, EpochLog(0, rec.history), final=rec)

    def record_progress(
        self,
        trial: int,
        round: int,
        log: EpochLog,
        *,
        rung: RungEntry | None = None,
        final: TrialRecord | None = None,
    ) -> None:
        """Record epochs a trial trained, the rung it reached and (when it ended) its record — all in one transaction.

        A process killed at any instant leaves either all of it or none, so a
        resume continues from the last rung recorded, never from a half step.
        """
        with _transaction(self._db):
            if not self._db.execute("SELECT 1 FROM rounds WHERE round = ?", (round,)).fetchone():
                raise RunError(f"trial {trial} belongs to round {round}, which run '{self.name}' does not have")
            if final is not None:
                earlier = self._db.execute("SELECT status FROM trials WHERE trial = ?", (trial,)).fetchone()
                if earlier and earlier[0] != TrialStatus.FAILED.value:
                    raise RunError(f"run '{self.name}' already has a record of trial {trial} ({earlier[0]})")
            rows = _epoch_rows(log.history, log.seconds)
            _insert_epochs(self._db, trial, [(log.first_epoch + row[0], *row[1:]) for row in rows])
            if rung is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO rung_results (trial, rung, epoch, value, diverged) VALUES (?, ?, ?, ?, ?)",
                    (int(trial), int(rung.rung), int(rung.epoch), _nullable(rung.value), int(rung.diverged)),
                )
            if final is not None:
                # REPLACE overwrites only the failed record allowed through above.
                row = _trial_row(final)
                self._db.execute(
                    f"INSERT OR REPLACE INTO trials ({_TRIAL_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
                )

    def rung_entries(self, trials: list[int]) -> dict[tuple[int, int], RungEntry]:
        """``(trial, rung) -> RungEntry`` of every rung the given trials reached."""
        wanted, entries = set(trials), {}
        if not wanted:
            return entries
        for trial, rung, epoch, value, diverged in self._db.execute(
            "SELECT trial, rung, epoch, value, diverged FROM rung_results WHERE trial BETWEEN ? AND ?",
            (min(wanted), max(wanted)),
        ):
            if trial in wanted:
                entries[(trial, rung)] = RungEntry(rung, epoch, math.nan if value is None else value, bool(diverged))
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
        with _transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO promotions (round, bracket, rung, trial) VALUES (?, ?, ?, ?)",
                [(int(round), int(bracket), int(rung), int(t)) for t in promoted],
            )
            for rec in pruned:
                row = _trial_row(rec)
                self._db.execute(
                    f"INSERT OR REPLACE INTO trials ({_TRIAL_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
                )

    def epoch_log(self, trial: int) -> tuple[dict[str, list[float]], list[float | None]]:
        """A trial's per-epoch results as recorded so far: ``(history, seconds)``; NULL reads back as NaN."""
        rows = self._db.execute(
            f"SELECT {', '.join(_EPOCH_FIELDS)} FROM epochs WHERE trial = ? ORDER BY epoch", (trial,)
        ).fetchall()
        history: dict[str, list[float]] = {f: [] for f in _EPOCH_FIELDS[:-1]}
        for row in rows:
            for f, v in zip(_EPOCH_FIELDS[:-1], row):
                history[f].append(math.nan if v is None else v)
        if all(math.isnan(v) for v in history["learning_rate"]):
            del history["learning_rate"]
        return history, [row[-1] for row in rows]

    # -- decisions of hpsearch babysit ---------------------------------------

    def record_decision(self, trial: int, decision: Decision) -> None:
        """Append ``decision`` to ``trial``'s decision log (one transaction)."""
        with _transaction(self._db):
            (seq,) = self._db.execute("SELECT COUNT(*) FROM decisions WHERE trial = ?", (int(trial),)).fetchone()
            self._db.execute(
                "INSERT INTO decisions (trial, seq, epoch, action, reason, learning_rate_before, learning_rate_after,"
                " rolled_back_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (int(trial), seq, int(decision.epoch), decision.action, decision.reason,
                 float(decision.learning_rate_before), float(decision.learning_rate_after),
                 None if decision.rolled_back_to is None else int(decision.rolled_back_to)),
            )

    def decisions(self) -> dict[int, list[Decision]]:
        """Each trial's decisions (trials without any are absent), in the order they were made."""
        found: dict[int, list[Decision]] = {}
        for trial, *values in self._db.execute(
            "SELECT trial, epoch, action, reason, learning_rate_before, learning_rate_after, rolled_back_to"
            " FROM decisions ORDER BY trial, seq"
        ):
            found.setdefault(trial, []).append(Decision(*values))
        return found

    def reopen_trial(self, trial: int, epochs: int) -> None:
        """Continue a babysat trial after ``epochs`` epochs of its timeline: drop its record, and its
        epochs and decisions from after there (left by a process killed before it saved), in one transaction."""
        with _transaction(self._db):
            self._db.execute("DELETE FROM trials WHERE trial = ?", (int(trial),))
            self._db.execute("DELETE FROM epochs WHERE trial = ? AND epoch >= ?", (int(trial), int(epochs)))
            self._db.execute("DELETE FROM decisions WHERE trial = ? AND epoch > ?", (int(trial), int(epochs)))

    # -- checkpoints of paused trials ---------------------------------------

    def save_checkpoint(self, trial: int, epoch: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write a trial's training state after ``epoch`` epochs, atomically (temp file, fsync, rename),
        never through a symlink."""
        folder = make_folder(self.run_dir, CHECKPOINTS_DIR)
        write_bytes_atomic(folder, _checkpoint_path(self.run_dir, trial, epoch).name, npz_bytes(arrays))

    def load_checkpoint(self, trial: int, epoch: int) -> dict[str, np.ndarray] | None:
        """The training state saved by ``save_checkpoint``, or None if there is none (or it is unreadable)."""
        try:
            with np.load(_checkpoint_path(self.run_dir, trial, epoch), allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            return None

    def delete_checkpoints(self, trial: int, keep_epoch: int | None = None) -> None:
        """Remove a trial's checkpoints (all, or all but the one after ``keep_epoch`` epochs)."""
        folder = self.run_dir / CHECKPOINTS_DIR
        if not folder.is_dir():
            return
        keep = _checkpoint_path(self.run_dir, trial, keep_epoch).name if keep_epoch is not None else None
        for path in folder.glob(f"trial-{int(trial)}-epoch-*.npz"):
            if path.name != keep:
                path.unlink(missing_ok=True)

    @_reading
    def trials(self, round: int | None = None) -> list[TrialRecord]:
        """Every recorded trial (of one round if ``round`` is given), by trial id."""
        query = f"SELECT {_TRIAL_COLUMNS} FROM trials"
        if round is None:
            rows = self._db.execute(query + " ORDER BY trial")
        else:
            rows = self._db.execute(query + " WHERE round = ? ORDER BY trial", (round,))
        return [_trial_from_row(row) for row in rows]

    @_reading
    def done_trial_ids(self, *, retry_failed: bool = False) -> set[int]:
        """Ids of the trials that have a record (not counting failed ones if ``retry_failed``)."""
        query = "SELECT trial FROM trials"
        if retry_failed:
            query += f" WHERE status != '{TrialStatus.FAILED.value}'"
        return {trial for (trial,) in self._db.execute(query)}

    @_reading
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
            best_value=json.loads(best[2]).get(metric) if best and metric else None,
        )

    # -- confirmation repeats -------------------------------------------------

    def record_repeat(self, rec: RepeatRecord) -> None:
        """Record one finished repeat of ``hpsearch confirm`` in one transaction; RunError if it is recorded already."""
        reals = {f: getattr(rec, f) for f in _REPEAT_REALS}
        with _transaction(self._db):
            if self._db.execute("SELECT 1 FROM confirmations WHERE trial = ? AND repeat_index = ?",
                                (int(rec.trial), int(rec.repeat))).fetchone():
                raise RunError(f"run '{self.name}' already has repeat {rec.repeat} of trial {rec.trial}")
            self._db.execute(
                f"INSERT INTO confirmations (trial, repeat_index, seed, status, {', '.join(_REPEAT_REALS)},"
                " epochs_run, error, exact_floats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (int(rec.trial), int(rec.repeat), str(int(rec.seed)), TrialStatus(rec.status).value,
                 *(None if v is None else float(v) for v in reals.values()), int(rec.epochs_run), rec.error,
                 _dumps({f: v for f, v in reals.items() if v is not None and not _real_is_exact(v)})),
            )

    def repeats(self) -> list[RepeatRecord]:
        """Every recorded repeat, by trial and repeat."""
        rows = self._db.execute(
            f"SELECT trial, repeat_index, seed, status, {', '.join(_REPEAT_REALS)}, epochs_run, error, exact_floats"
            " FROM confirmations ORDER BY trial, repeat_index"
        )
        records = []
        for trial, repeat, seed, status, *reals, epochs_run, error, exact in rows:
            values = dict(zip(_REPEAT_REALS, reals))
            values.update(json.loads(exact))
            records.append(RepeatRecord(trial, repeat, int(seed), TrialStatus(status), epochs_run=epochs_run,
                                        error=error, **values))
        return records

    def mark_confirmed_model(self, trial: int, repeat: int) -> None:
        """Note that ``models/best.npz`` (just written by ``save_best_model``) holds repeat ``repeat`` of ``trial``."""
        digest = hashlib.sha256((self.run_dir / MODELS_DIR / BEST_MODEL).read_bytes()).hexdigest()
        with _transaction(self._db):
            self._db.execute("UPDATE confirmations SET model_sha256 = NULL WHERE model_sha256 IS NOT NULL")
            self._db.execute("UPDATE confirmations SET model_sha256 = ? WHERE trial = ? AND repeat_index = ?",
                             (digest, int(trial), int(repeat)))

    def confirmed_model(self) -> tuple[int, int] | None:
        """``(trial, repeat)`` when ``models/best.npz`` holds a confirmation repeat, else None."""
        try:
            digest = hashlib.sha256((self.run_dir / MODELS_DIR / BEST_MODEL).read_bytes()).hexdigest()
        except FileNotFoundError:
            return None
        row = self._db.execute(
            "SELECT trial, repeat_index FROM confirmations WHERE model_sha256 = ?", (digest,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    # -- the best model -----------------------------------------------------

    def save_best_model(
        self, trial: int, state: Mapping[str, np.ndarray], training_state: Mapping[str, np.ndarray] | None = None
    ) -> Path:
        """Write ``state`` (named arrays) as ``models/best.npz``, the weights of ``trial``, and
        ``training_state`` (``TrainingState.to_arrays()``, when given) as ``models/best-state.npz``, from
        which ``hpsearch babysit RUN --trial N`` continues the trial without training it again.

        Atomic: readers and a crash at any instant see the old files or the new
        ones, and ``best_model()``/``best_state()`` name the trial of whichever is there.
        Object arrays are refused (they would need pickle to load).
        """
        files = {BEST_MODEL: state, **({BEST_STATE: training_state} if training_state is not None else {})}
        contents = {name: npz_bytes(arrays) for name, arrays in files.items()}

        def commit_digests() -> None:
            # The digest rows are committed before any file replaces an old one, so
            # every file that can be in place has its row (see best_model).
            with _transaction(self._db):
                self._db.executemany(
                    "INSERT INTO best_model_saves (trial, sha256, saved) VALUES (?, ?, ?)",
                    [(int(trial), hashlib.sha256(c).hexdigest(), _now()) for c in contents.values()],
                )

        # Fresh temp files (never a symlink) in models/ (never a symlink either), renamed into place.
        models = make_folder(self.run_dir, MODELS_DIR)
        hook: Callable[[], None] | None = commit_digests
        for name in reversed(list(contents)):  # the state first, then the weights best_model() names
            write_bytes_atomic(models, name, contents[name], before_replace=hook)
            hook = None
        return models / BEST_MODEL

    @_reading
    def best_model(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved best model, or ``None`` if none was saved."""
        return self._saved(BEST_MODEL)

    @_reading
    def best_state(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved training state of the best trial, or ``None``."""
        return self._saved(BEST_STATE)

    def _saved(self, name: str) -> tuple[int, Path] | None:
        path = self.run_dir / MODELS_DIR / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return None
        row = self._db.execute(
            "SELECT trial FROM best_model_saves WHERE sha256 = ? ORDER BY rowid DESC LIMIT 1", (digest,)
        ).fetchone()
        if row is None:
            raise RunError(f"'{path}' is not a model this run saved — it was changed outside hpsearch")
        return row[0], path


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """A summary of every run in ``runs_dir``, oldest first.

    Skips folders that are not runs, runs being created (hidden folders) and
    runs that cannot be read; a run being written is read as last committed.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    summaries = []
    for folder in runs_dir.iterdir():
        if folder.name.startswith(".") or not (folder / RUN_DB).is_file():
            continue
        try:
            with RunStore.open(folder) as store:
                summaries.append(store.summary())
        except (RunError, sqlite3.Error):
            continue
    return sorted(summaries, key=lambda s: (s.created, s.name))


# -- helpers ---------------------------------------------------------------


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed whole at the end, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a read-then-write (the
    duplicate check in ``record_trial``) cannot race another writer.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("COMMIT")
    except BaseException:  # Ctrl-C too, wherever it lands: never leave half a record
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _json_default(value: Any) -> Any:
    # Samplers and the engine may hand over NumPy scalars or arrays.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _dumps(value: Any) -> str:
    """JSON text; floats round-trip exactly (repr), NaN and ±Infinity included."""
    return json.dumps(value, default=_json_default, allow_nan=True)


def _real_is_exact(value: float) -> bool:
    """Whether a REAL column gives ``value`` back bit for bit.

    SQLite stores NaN as NULL and -0.0 as 0.0; every other float64 round-trips.
    """
    return not (math.isnan(value) or (value == 0.0 and math.copysign(1.0, value) < 0))


def _migrated(db: sqlite3.Connection, version: int) -> sqlite3.Connection:
    """``db`` brought to ``SCHEMA_VERSION`` in one transaction (all or nothing).

    A run that cannot be written (a read-only folder or file) is migrated in an
    in-memory copy, so it still opens for show and export; writing to it fails later, as it would anyway.
    """
    try:
        with _transaction(db):
            while version < SCHEMA_VERSION:
                _MIGRATIONS[version](db)
                version += 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        return db
    except sqlite3.OperationalError as e:
        if "readonly" not in str(e) and "read-only" not in str(e):
            raise
    memory = sqlite3.connect(":memory:", isolation_level=None)
    db.backup(memory)
    db.close()
    return _migrated(memory, version)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Schema 1 → 2: trials gain rung, value (= dev cost: schema 1 ranked by the last epoch) and best epoch;
    their histories fill the per-epoch table (seconds unknown)."""
    db.execute("ALTER TABLE trials RENAME TO trials_v1")
    statement = ""
    for line in _TRIAL_TABLES.splitlines(keepends=True):  # executescript would commit the transaction
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    old = db.execute(
        "SELECT trial, round, index_in_round, params, seed, status, dev_cost, train_cost, dev_accuracy,"
        " epochs_run, seconds, history, error, exact_floats FROM trials_v1"
    ).fetchall()
    for (trial, rnd, index, params, seed, status, dev, train, acc, epochs_run, seconds, history, error,
         exact) in old:
        exact_values = json.loads(exact)
        dev_value = exact_values.get("dev_cost", dev)
        hist = json.loads(history)
        best_cost, best_epoch = _best_epoch(hist.get("dev_cost", []))
        if "dev_cost" in exact_values:
            exact_values["value"] = exact_values["dev_cost"]
        if best_cost is not None and not _real_is_exact(best_cost):
            exact_values["best_dev_cost"] = best_cost
        db.execute(
            f"INSERT INTO trials ({_TRIAL_COLUMNS}) VALUES ({', '.join('?' * 19)})",
            (trial, rnd, index, params, seed, status, dev, train, acc, seconds,
             None if dev_value is None or not _real_is_exact(dev_value) else dev_value,
             None if best_cost is None or not _real_is_exact(best_cost) else best_cost,
             epochs_run, history, error, _dumps(exact_values), None, best_epoch, "{}"),
        )
        _insert_epochs(db, trial, _epoch_rows(hist))
    db.execute("DROP TABLE trials_v1")


_MIGRATIONS = {1: _migrate_1_to_2}


def _best_epoch(dev_costs: list[float]) -> tuple[float | None, int | None]:
    """The lowest finite dev cost of a history and its 0-based epoch (the earliest on ties)."""
    finite = [(c, e) for e, c in enumerate(dev_costs) if c is not None and math.isfinite(c)]
    if not finite:
        return None, None
    cost, epoch = min(finite, key=lambda ce: (ce[0], ce[1]))
    return cost, epoch


def _epoch_rows(history: Mapping[str, list[float]], seconds: list[float] | None = None) -> list[tuple]:
    """One row of ``_EPOCH_FIELDS`` per epoch of ``history`` (missing keys and NaN become NULL)."""
    n = max((len(v) for v in history.values()), default=0)

    def cell(values: Any, e: int) -> float | None:
        if values is None or e >= len(values):
            return None
        value = float(values[e])
        return None if math.isnan(value) else value

    return [
        (e, *(cell(history.get(f), e) for f in _EPOCH_FIELDS[:-1]), cell(seconds, e))
        for e in range(n)
    ]


def _insert_epochs(db: sqlite3.Connection, trial: int, rows: list[tuple]) -> None:
    db.executemany(
        f"INSERT OR REPLACE INTO epochs (trial, epoch, {', '.join(_EPOCH_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(int(trial), *row) for row in rows],
    )


def _trial_row(rec: TrialRecord) -> tuple:
    reals = {f: getattr(rec, f) for f in _REAL_FIELDS}
    return (
        int(rec.trial), int(rec.round), int(rec.index), _dumps(rec.params), str(int(rec.seed)),
        TrialStatus(rec.status).value,
        *(None if v is None else float(v) for v in reals.values()),
        int(rec.epochs_run), _dumps(rec.history), rec.error,
        _dumps({f: v for f, v in reals.items() if v is not None and not _real_is_exact(v)}),
        None if rec.rung is None else int(rec.rung),
        None if rec.best_epoch is None else int(rec.best_epoch),
        _dumps(rec.metrics),
    )


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _nullable(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _checkpoint_path(run_dir: Path, trial: int, epoch: int) -> Path:
    return run_dir / CHECKPOINTS_DIR / f"trial-{int(trial)}-epoch-{int(epoch)}.npz"


def _trial_from_row(row: tuple) -> TrialRecord:
    (trial, rnd, index, params, seed, status, *reals, epochs_run, history, error, exact_floats, rung,
     best_epoch, metrics) = row
    values = dict(zip(_REAL_FIELDS, reals))
    values.update(json.loads(exact_floats))
    return TrialRecord(
        trial=trial, round=rnd, index=index, params=json.loads(params), seed=int(seed),
        status=TrialStatus(status), epochs_run=epochs_run, history=json.loads(history),
        error=error, rung=rung, best_epoch=best_epoch, metrics=json.loads(metrics), **values,
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an .npz file; object arrays are refused (they would need pickle to load)."""
    arrays = {key: np.asarray(value) for key, value in arrays.items()}
    pickled = [key for key, a in arrays.items() if a.dtype.hasobject]
    if pickled:
        raise ValueError(f"model arrays {pickled} have object dtype; .npz files here store numbers only")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _write_durably(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` and fsync it, so a later rename never exposes a partial file."""
    with open(path, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
