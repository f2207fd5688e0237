"""The runs a server shows: found by name inside the runs folder only, and read without writing anything.

A run is read while another process may be writing it. Every read opens the store with ``watch`` (no file is
created, ``storage.connection``) for one short read and closes it, so a writer is never kept waiting; a read of
a database file that changed under it (checked by ``db_state``) is made again. The trials read are kept per run
(``RunCache``) and only new or changed records are read again: a poll of a 100,000-trial run costs one
small query, not 100,000 records.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hpsearch.core.errors import RunError
from hpsearch.core.records import TrialRecord
from hpsearch.storage.connection import db_state
from hpsearch.storage.layout import LOCK_FILE, RUN_DB
from hpsearch.storage.run_names import validate_run_name
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.trials import TrialHead

T = TypeVar("T")

#: Most full records a run's cache keeps (about 1 KB each); past it, records are read again when asked.
MAX_KEPT = 20_000
#: How often a read is tried again when the database file changed while it was read as it stood.
_READ_TRIES = 5


def run_folder(runs_dir: Path, name: str) -> Path:
    """The folder of the run ``name``: a plain name of a folder directly inside ``runs_dir``, never ``..``, a
    path, a hidden folder or a link that leads out of it; RunError otherwise (the server answers 404)."""
    validate_run_name(name)
    root = runs_dir.resolve()
    folder = runs_dir / name
    if folder.resolve().parent != root or not (folder / RUN_DB).is_file():
        raise RunError(f"no run named {name!r} in {runs_dir}")
    return folder


def read_run(folder: Path, read: Callable[[RunStore], T]) -> T:
    """``read(store)`` of the run in ``folder``, opened only for it: read-only, creating no file, made again if
    the database file changed while it was read as it stood (a writer's checkpoint meanwhile)."""
    for _ in range(_READ_TRIES):
        before = db_state(folder)
        with RunStore.open(folder, read_only=True, watch=True) as store:
            result = read(store)
        if before[0] or db_state(folder) == before:  # with a log, SQLite's own locks made the read whole
            return result
    raise RunError(f"run '{folder.name}' changed during {_READ_TRIES} reads in a row — try again")


def is_running(folder: Path) -> bool:
    """Whether a process holds the run's writer lock: read from /proc/locks, so a watcher never takes the lock
    itself (even a shared lock, held for an instant, would make a starting ``resume`` refuse). Where there is
    no /proc/locks, whether the process whose pid the lock file holds is alive."""
    lock = folder / LOCK_FILE
    try:
        stat = os.stat(lock, follow_symlinks=False)
    except OSError:
        return False
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return _holder_alive(lock)
    # A line: "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; the fifth field ends with the inode.
    held = (line.split() for line in lines if " FLOCK " in line)
    return any(any(f.count(":") == 2 and f.endswith(f":{stat.st_ino}") for f in fields) for fields in held)


def _holder_alive(lock: Path) -> bool:
    try:
        pid = int(lock.read_text(encoding="ascii", errors="replace").strip() or "0")
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return pid > 0


@dataclass
class RunCache:
    """What a server has read of one run: every trial's head (``TrialTable.heads``: enough to rank), the full
    records (without history) it was asked for, and the order the trials arrived in.

    ``order`` lists trial ids as the server first saw them, so ``after=N`` (a page has the first N) answers
    with what is new. ``generation`` grows when a record already seen changed or went away (a failed trial's
    retry, a babysat trial reopened): a page that holds another generation starts again from 0.
    """

    heads: dict[int, TrialHead] = field(default_factory=dict)
    full: dict[int, TrialRecord] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    generation: int = 0
    stamp: tuple = ()
    #: Computed once per set of trials (``views``): the stored config, the ranking, importance.
    derived: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, store: RunStore) -> None:
        """Take in the records added, replaced or dropped since the last refresh (one small query when none)."""
        stamp = store.tables.trials.stamp()
        if stamp == self.stamp:
            return
        heads = {head.trial: head for head in store.tables.trials.heads()}
        changed = [t for t, head in heads.items() if self.heads.get(t) != head]
        gone = [t for t in self.heads if t not in heads]
        if gone or any(t in self.heads for t in changed):
            self.generation += 1
            self.order = [t for t in self.order if t in heads and t not in changed]
        for t in changed + gone:
            self.full.pop(t, None)
        self.order += sorted(changed)
        self.heads, self.stamp = heads, stamp
        self.derived = {"config": self.derived["config"]} if "config" in self.derived else {}

    def records(self, store: RunStore, trials: list[int]) -> list[TrialRecord]:
        """The full records (without history) of ``trials``, in that order; the first ``MAX_KEPT`` read are kept,
        so a run of thousands of trials is parsed once and one of 100,000 does not fill the server's memory."""
        missing = [t for t in trials if t not in self.full and t in self.heads]
        read: dict[int, TrialRecord] = {}
        if missing:
            whole = len(missing) == len(self.heads)
            read = {r.trial: r for r in store.tables.trials.some(None if whole else sorted(missing), history=False)}
            room = max(0, MAX_KEPT - len(self.full))
            self.full.update(dict(list(read.items())[:room]))
        return [self.full[t] if t in self.full else read[t] for t in trials if t in self.full or t in read]


class Runs:
    """The runs folder a server shows, with one ``RunCache`` per run it was asked about."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = Path(runs_dir)
        self._caches: dict[Path, RunCache] = {}
        self._lock = threading.Lock()

    def folder(self, name: str) -> Path:
        """``run_folder`` in this runs folder."""
        return run_folder(self.runs_dir, name)

    def cache(self, folder: Path) -> RunCache:
        """The cache of the run in ``folder`` (made on first use)."""
        key = folder.resolve()
        with self._lock:
            return self._caches.setdefault(key, RunCache())

    def read(self, name: str, read: Callable[[RunStore, RunCache], T]) -> T:
        """``read(store, cache)`` of run ``name``, its cache refreshed first; one reader of a run at a time."""
        folder = self.folder(name)
        cache = self.cache(folder)
        with cache.lock:

            def both(store: RunStore) -> T:
                cache.refresh(store)
                return read(store, cache)

            return read_run(folder, both)
