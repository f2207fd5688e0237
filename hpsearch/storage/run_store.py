"""The run store: everything a search run keeps on disk, in one folder per run (``storage.layout``).

Only the parent process writes, one SQLite transaction per trial, so a process
killed at any instant leaves every committed trial readable and no half record.
Readers (``show``, ``export``, ``list``) need no lock: in WAL mode they read the
last committed state while a writer goes on, and they open the run read-only
(``RunStore.open(..., read_only=True)``), so they never write to it.

``RunStore`` composes one owner object per table (``RunStore.tables``, and ``RunStore.files`` for the model
files, checkpoints and their digests), each the only code that reads and writes its table
(docs/architecture.md, "The storage contract"). They share the store's one connection, so
``RunStore.transaction`` spans them: the writes that touch several tables (a trial's epochs, rung and record;
a rung's promotions and the records of the trials it pruned; a babysat trial reopened) are here, each one
transaction. The store's other methods hand a call to the owner, so callers need not know which it is. The
folder itself (its creation, writer lock) is ``storage.folder``'s, the tables' format ``storage.schema``'s.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.core.decisions import Decision
from hpsearch.core.errors import RunError
from hpsearch.core.records import RepeatRecord, RoundRecord, TrialRecord
from hpsearch.pruning.schedule import RungResult
from hpsearch.storage.artifacts import ArtifactFiles
from hpsearch.storage.confirmations import Confirmations
from hpsearch.storage.connection import connect
from hpsearch.storage.decision_log import DecisionLog
from hpsearch.storage.epochs import EpochTable
from hpsearch.storage.folder import FolderTaken, file_identity, make_run_folder, writer_lock
from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.records import EpochLog, RunSummary
from hpsearch.storage.rounds import RoundTable
from hpsearch.storage.rows import dumps, now, stored_json
from hpsearch.storage.run_names import new_run_dir, validate_run_name
from hpsearch.storage.rungs import RungTable
from hpsearch.storage.schema import SCHEMA_VERSION, MetaTable, schema_version, upgraded
from hpsearch.storage.sql import reading, transaction
from hpsearch.storage.trials import TrialTable
from hpsearch.storage.warm import WarmTable

#: How many names ``create_new`` tries when other processes take each one first.
_CREATE_TRIES = 100


@dataclass(frozen=True)
class Tables:
    """The owner of each table of a run (``meta`` is ``storage.schema``'s; ``best_model_saves`` and
    ``file_digests`` are ``RunStore.files``')."""

    rounds: RoundTable
    trials: TrialTable
    epochs: EpochTable
    rungs: RungTable  # rung_results and promotions
    decisions: DecisionLog
    confirmations: Confirmations
    meta: MetaTable  # the config, replaced when resume adds budget
    warm: WarmTable  # the trials of earlier runs it was warm-started from


class RunStore:
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
        self._identity = file_identity(run_dir / RUN_DB)
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
        part = (db, run_dir, self.name)
        self.tables = Tables(
            RoundTable(*part),
            TrialTable(*part),
            EpochTable(*part),
            RungTable(*part),
            DecisionLog(*part),
            Confirmations(*part),
            MetaTable(*part),
            WarmTable(*part),
        )
        self.files = ArtifactFiles(*part, read_only=read_only, note=lambda line: self.note(line))

    # -- opening and closing ------------------------------------------------

    @classmethod
    def create(cls, run_dir: Path, *, name: str, config: dict, config_text: str) -> "RunStore":
        """Make a new run in ``run_dir`` (absent or empty) and open it.

        Writes ``config.yaml`` (``config_text``) and ``run.sqlite``, which keeps
        ``config`` (a JSON-able dict), ``name``, the creation time and the
        hpsearch version. The folder appears complete or not at all (``folder.make_run_folder``).
        """
        # Imported here: the package's __init__ may import this module.
        from hpsearch import __version__

        validate_run_name(name)
        run_dir = Path(run_dir)
        meta = {
            "name": name,
            "created": now(),
            "hpsearch_version": __version__,
            "config": dumps(config),
            "created_by": machine_id(),
        }
        make_run_folder(run_dir, name, meta, config_text)
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
            except FolderTaken:
                continue
        raise RunError(
            f"cannot create run '{name}' in '{runs_dir}': {_CREATE_TRIES} free names in a row were "
            "taken by other processes meanwhile — try again"
        )

    @classmethod
    def open(cls, run_dir: Path, *, read_only: bool = False, watch: bool = False) -> "RunStore":
        """Open an existing run for reading and (under ``lock()``) writing.

        A run of an older format is migrated in place, once, under SQLite's
        write lock. With ``read_only`` (show, export, list) nothing is ever
        written to the run: an older run is migrated in an in-memory copy,
        and ``lock()`` refuses. ``watch`` (read-only, for ``hpsearch serve``): no file is created, not even
        SQLite's ``-wal``/``-shm`` (``connection.connect``).
        """
        run_dir = Path(run_dir)
        db_path = run_dir / RUN_DB
        if not db_path.is_file():
            raise RunError(
                f"'{run_dir}' is not an hpsearch run (no {RUN_DB}) — give a run name from "
                "`hpsearch list` or the path of a run folder"
            )
        db, detached = connect(run_dir, read_only=read_only or watch, watch=watch)
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
            store = cls(run_dir, current, meta, read_only=read_only or watch or detached or current is not db)
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
        if file_identity(self.run_dir / RUN_DB) != self._identity:
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
        """Hold the run's exclusive writer lock for the ``with`` block (``folder.writer_lock``: RunLockedError
        at once if another process holds it). RunError on a ``read_only`` store."""
        if self.read_only:
            raise RunError(
                f"cannot lock run '{self.name}' for writing: it is open read-only (a read-only "
                f"{RUN_DB}, or a command that only reads)"
            )
        with writer_lock(self.run_dir, self.name):
            yield

    def transaction(self) -> AbstractContextManager[None]:
        """A ``with`` block whose writes, to any tables, are committed together or not at all."""
        return transaction(self._db)

    # -- writes that span tables, each one transaction ------------------------

    def record_progress(
        self, trial: int, round: int, log: EpochLog, *, rung: RungResult | None = None, final: TrialRecord | None = None
    ) -> None:
        """Record epochs a trial trained, the rung it reached and (when it ended) its record — all in one transaction.

        A process killed at any instant leaves either all of it or none, so a
        resume continues from the last rung recorded, never from a half step.
        RunError if the run lacks ``round`` or already has a record of the trial (``TrialTable.put``).
        """
        with self.transaction():
            if not self.tables.rounds.has(round):
                raise RunError(f"trial {trial} belongs to round {round}, which run '{self.name}' does not have")
            self.tables.epochs.add(trial, log)
            if rung is not None:
                self.tables.rungs.add_result(trial, rung)
            if final is not None:
                self.tables.trials.put(final)

    def record_trial(self, rec: TrialRecord) -> None:
        """Record a finished trial and its epochs (from its history), in one transaction.

        An earlier record of the same trial id is replaced only if it was
        ``failed`` (a retry); any other earlier record raises RunError, so a
        trial is never stored twice.
        """
        self.record_progress(rec.trial, rec.round, EpochLog(0, rec.history), final=rec)

    def record_promotions(
        self, round: int, bracket: int, rung: int, promoted: list[int], pruned: list[TrialRecord]
    ) -> None:
        """Which trials of a bracket go on from ``rung``, and the final records of those pruned — one transaction."""
        with self.transaction():
            self.tables.rungs.add_promotions(round, bracket, rung, promoted)
            for rec in pruned:
                self.tables.trials.put(rec)

    def reopen_trial(self, trial: int, epochs: int) -> None:
        """Continue a babysat trial after ``epochs`` epochs of its timeline: drop its record, and its
        epochs and decisions from after there (left by a process killed before it saved), in one transaction."""
        with self.transaction():
            self.tables.trials.drop(trial)
            self.tables.epochs.drop_from(trial, epochs)
            self.tables.decisions.drop_after(trial, epochs)

    @reading
    def summary(self) -> RunSummary:
        """This run's line in ``hpsearch list``."""
        n_rounds, planned = self.tables.rounds.sizes()
        counts = self.tables.trials.status_counts()
        metric = (self.config.get("objective") or {}).get("metric")
        best = self.tables.trials.best_ok(metric)
        # After confirm, predict uses the confirmed best's repeat (models/best.npz): list names that trial.
        confirmed = self.tables.confirmations.confirmed_model()
        if confirmed is not None:
            best = self.tables.trials.headline(confirmed[0], metric) or best
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
            best_value=best[2] if best else None,
            confirmed=confirmed is not None and best is not None and best[0] == confirmed[0],
        )

    # -- one table's reads and writes, handed to its owner ----------------------

    def add_round(self, rnd: RoundRecord) -> None:
        """Record a new round; RunError if the run already has that round."""
        self.tables.rounds.add(rnd)

    def rounds(self) -> list[RoundRecord]:
        """Every round, by round number; RunError naming the round and value if one is past ``core.limits``."""
        return self.tables.rounds.all()

    def trials(self, round: int | None = None) -> list[TrialRecord]:
        """Every recorded trial (of one round if ``round`` is given), by trial id."""
        return self.tables.trials.all(round)

    def done_trial_ids(self, *, retry_failed: bool = False) -> set[int]:
        """Ids of the trials that have a record (not counting failed ones if ``retry_failed``)."""
        return self.tables.trials.done_ids(retry_failed=retry_failed)

    def epoch_log(self, trial: int) -> tuple[dict[str, list[float]], list[float | None]]:
        """A trial's per-epoch results as recorded so far (``EpochTable.epoch_log``)."""
        return self.tables.epochs.epoch_log(trial)

    def rung_entries(self, trials: list[int]) -> dict[tuple[int, int], RungResult]:
        """``(trial, rung) -> RungResult`` of every rung the given trials reached."""
        return self.tables.rungs.entries(trials)

    def promotions(self, round: int) -> dict[tuple[int, int], list[int]]:
        """``(bracket, rung) -> trials promoted from that rung to the next`` in ``round``."""
        return self.tables.rungs.promotions(round)

    def record_decision(self, trial: int, decision: Decision) -> None:
        """Append ``decision`` to ``trial``'s babysit decision log (one transaction)."""
        self.tables.decisions.add(trial, decision)

    def decisions(self) -> dict[int, list[Decision]]:
        """Each trial's babysit decisions (trials without any are absent), in the order they were made."""
        return self.tables.decisions.all()

    def record_repeat(self, rec: RepeatRecord) -> None:
        """Record one finished repeat of ``hpsearch confirm``; RunError if it is recorded already."""
        self.tables.confirmations.add(rec)

    def repeats(self) -> list[RepeatRecord]:
        """Every recorded confirmation repeat, by trial and repeat."""
        return self.tables.confirmations.all()

    def mark_confirmed_model(self, trial: int, repeat: int) -> None:
        """Note that ``models/best.npz`` (just written by ``save_best_model``) holds repeat ``repeat`` of ``trial``."""
        self.tables.confirmations.mark_model(trial, repeat)

    def confirmed_model(self) -> tuple[int, int] | None:
        """``(trial, repeat)`` when ``models/best.npz`` holds a confirmation repeat, else None."""
        return self.tables.confirmations.confirmed_model()

    def write_tracked(self, folder: str, name: str, content: bytes) -> Path:
        """``ArtifactFiles.write_tracked``: ``content`` written as ``folder/name``, its digest kept."""
        return self.files.write_tracked(folder, name, content)

    def recorded_digest(self, key: str) -> str | None:
        """The SHA-256 kept for ``key`` (a path relative to the run folder), None if none was kept."""
        return self.files.recorded_digest(key)

    def check_digests(self, keys: list[str]) -> None:
        """RunError naming the first of ``keys`` whose bytes differ from the digest kept for it."""
        self.files.check_digests(keys)

    def read_tracked(self, key: str, label: str | None = None) -> dict[str, np.ndarray]:
        """The arrays of the run's .npz file ``key``, its digest checked (``ArtifactFiles.read_tracked``)."""
        return self.files.read_tracked(key, label)

    def save_best_model(
        self, trial: int, state: Mapping[str, np.ndarray], training_state: Mapping[str, np.ndarray] | None = None
    ) -> Path:
        """Write ``models/best.npz`` (and ``best-state.npz``) for ``trial`` (``ArtifactFiles.save_best_model``)."""
        return self.files.save_best_model(trial, state, training_state)

    def best_model(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved best model, or ``None`` if none was saved."""
        return self.files.best_model()

    def best_state(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved training state of the best trial, or ``None``."""
        return self.files.best_state()

    def save_checkpoint(self, trial: int, epoch: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write a trial's training state after ``epoch`` epochs, its digest kept."""
        self.files.save_checkpoint(trial, epoch, arrays)

    def load_checkpoint(self, trial: int, epoch: int) -> dict[str, np.ndarray] | None:
        """The state ``save_checkpoint`` wrote, None where it is unusable (``ArtifactFiles.load_checkpoint``)."""
        return self.files.load_checkpoint(trial, epoch)

    def delete_checkpoints(self, trial: int, keep_epoch: int | None = None) -> None:
        """Remove a trial's checkpoints (all, or all but the one after ``keep_epoch`` epochs)."""
        self.files.delete_checkpoints(trial, keep_epoch)


def machine_id() -> str:
    """Who is running hpsearch: ``user@host`` (uid and host name). A run records its creator's (meta
    ``created_by``), so a run folder received from someone else can be told apart (docs: explanation/trust.md)."""
    return f"{os.getuid()}@{socket.gethostname()}"
