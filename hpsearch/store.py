"""The run store: everything a search run keeps on disk, in one folder per run.

A run folder holds::

    config.yaml        the resolved config the run was started with (for people)
    run.sqlite         rounds, trials and metadata (the record the program reads)
    lock               held (flock) by the one process writing to the run
    models/best.npz    weights of the best trial so far (np.savez, no pickle)

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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from hpsearch.errors import RunError, RunLockedError
from hpsearch.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.safe_files import check_no_symlinks, make_folder, open_for_write, write_bytes_atomic

T = TypeVar("T")

RUN_DB = "run.sqlite"
CONFIG_FILE = "config.yaml"
LOCK_FILE = "lock"
MODELS_DIR = "models"
BEST_MODEL = "best.npz"
RUNS_DIR_ENV = "HPSEARCH_RUNS_DIR"

SCHEMA_VERSION = 1
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
_REAL_FIELDS = ("dev_cost", "train_cost", "dev_accuracy", "seconds")
_TRIAL_COLUMNS = ", ".join(
    ("trial", "round", "index_in_round", "params", "seed", "status", *_REAL_FIELDS,
     "epochs_run", "history", "error", "exact_floats")
)

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
CREATE TABLE trials (
    trial          INTEGER PRIMARY KEY,
    round          INTEGER NOT NULL REFERENCES rounds (round),
    index_in_round INTEGER NOT NULL,
    params         TEXT NOT NULL,           -- JSON
    seed           TEXT NOT NULL,           -- decimal: seeds may exceed SQLite's int64
    status         TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed')),
    dev_cost       REAL,
    train_cost     REAL,
    dev_accuracy   REAL,
    epochs_run     INTEGER NOT NULL,
    seconds        REAL,
    history        TEXT NOT NULL,           -- JSON, NaN/Infinity allowed
    error          TEXT,
    exact_floats   TEXT NOT NULL            -- JSON: REAL fields SQLite cannot hold exactly
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
class RunSummary:
    """One line of ``hpsearch list``.

    ``name`` is the run folder's name (what ``RUN`` arguments accept).
    ``best_dev_cost``/``best_trial`` are those of the best ``ok`` trial with a
    finite dev cost (``records.rank`` order), ``None`` while there is none.
    ``status_counts`` maps every ``TrialStatus`` value to its number of trials.
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
        self._db = db
        meta = dict(db.execute("SELECT key, value FROM meta"))
        version = int(meta.get("schema_version", -1))
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
        _fsync_dir(run_dir.parent)
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
        """Record a finished trial, in one transaction.

        An earlier record of the same trial id is replaced only if it was
        ``failed`` (a retry); any other earlier record raises RunError, so a
        trial is never stored twice.
        """
        reals = {f: getattr(rec, f) for f in _REAL_FIELDS}
        row = (
            int(rec.trial), int(rec.round), int(rec.index), _dumps(rec.params), str(int(rec.seed)),
            TrialStatus(rec.status).value,
            *(None if v is None else float(v) for v in reals.values()),
            int(rec.epochs_run), _dumps(rec.history), rec.error,
            _dumps({f: v for f, v in reals.items() if v is not None and not _real_is_exact(v)}),
        )
        with _transaction(self._db):
            if not self._db.execute("SELECT 1 FROM rounds WHERE round = ?", (rec.round,)).fetchone():
                raise RunError(f"trial {rec.trial} belongs to round {rec.round}, which run '{self.name}' does not have")
            earlier = self._db.execute("SELECT status FROM trials WHERE trial = ?", (rec.trial,)).fetchone()
            if earlier and earlier[0] != TrialStatus.FAILED.value:
                raise RunError(f"run '{self.name}' already has a record of trial {rec.trial} ({earlier[0]})")
            # REPLACE overwrites only the failed record allowed through above.
            self._db.execute(
                f"INSERT OR REPLACE INTO trials ({_TRIAL_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
            )

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
        # records.rank's first trial, when it is ok with a finite cost. NaN costs
        # are NULL in the column, so the bounds exclude them along with ±inf.
        best = self._db.execute(
            "SELECT trial, dev_cost FROM trials WHERE status = ? AND dev_cost > ? AND dev_cost < ?"
            " ORDER BY dev_cost, trial LIMIT 1",
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
        )

    # -- the best model -----------------------------------------------------

    def save_best_model(self, trial: int, state: Mapping[str, np.ndarray]) -> Path:
        """Write ``state`` (named arrays) as ``models/best.npz``, the weights of ``trial``.

        Atomic: readers and a crash at any instant see the old file or the new
        one, and ``best_model()`` names the trial of whichever is there.
        Object arrays are refused (they would need pickle to load).
        """
        arrays = {key: np.asarray(value) for key, value in state.items()}
        pickled = [key for key, a in arrays.items() if a.dtype.hasobject]
        if pickled:
            raise ValueError(f"model arrays {pickled} have object dtype; best.npz stores numbers only")
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        content = buffer.getvalue()

        def commit_digest() -> None:
            # The digest row is committed before the file replaces the old one, so
            # every best.npz that can be in place has its row (see best_model).
            with _transaction(self._db):
                self._db.execute(
                    "INSERT INTO best_model_saves (trial, sha256, saved) VALUES (?, ?, ?)",
                    (int(trial), hashlib.sha256(content).hexdigest(), _now()),
                )

        # A fresh temp file (never a symlink) in models/ (never a symlink either), renamed into place.
        models = make_folder(self.run_dir, MODELS_DIR)
        return write_bytes_atomic(models, BEST_MODEL, content, before_replace=commit_digest)

    @_reading
    def best_model(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved best model, or ``None`` if none was saved."""
        path = self.run_dir / MODELS_DIR / BEST_MODEL
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


def _trial_from_row(row: tuple) -> TrialRecord:
    (trial, rnd, index, params, seed, status, *reals, epochs_run, history, error, exact_floats) = row
    values = dict(zip(_REAL_FIELDS, reals))
    values.update(json.loads(exact_floats))
    return TrialRecord(
        trial=trial, round=rnd, index=index, params=json.loads(params), seed=int(seed),
        status=TrialStatus(status), epochs_run=epochs_run, history=json.loads(history),
        error=error, **values,
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_durably(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` and fsync it, so a later rename never exposes a partial file."""
    with open(path, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX needs the directory synced too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
