"""Opening run.sqlite: the one place that picks how SQLite may touch a run folder.

A run's last commits can sit in ``run.sqlite-wal`` (write-ahead log) until SQLite merges them into
``run.sqlite``; a folder copied while its search ran, or a folder this process cannot write, can hold such
a log. SQLite reads it only where it may also write its index (``run.sqlite-shm``), so in a folder it cannot
write, opening the database "as it stands" (immutable) would show a run without its last trials, its digests
or its best model. There the two files are copied to a private temporary folder, SQLite merges the log in the
copy, and the run is read from an in-memory copy of the result: what the log holds is read, the folder is
never written.

A watcher (``hpsearch serve``, which reads runs other processes are writing) opens with ``watch``: SQLite opening
a write-ahead-log database read-only in a writable folder creates ``run.sqlite-wal`` and ``-shm`` and leaves them
behind. With no log (no process has the run open) a watcher reads the file as it stands (immutable: no lock, no
file) and checks after reading that it did not change meanwhile (``db_state``); with a log (a writer is at work)
SQLite reads it through the files the writer made.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from hpsearch.core.errors import RunError
from hpsearch.core.memory import shortfall
from hpsearch.storage.layout import RUN_DB

#: Seconds a connection waits for another one's write before giving up. Writes are one small transaction per
#: trial, so any real wait is far shorter.
BUSY_TIMEOUT_S = 30.0


def db_state(run_dir: Path) -> tuple[bool, int, int, int, int]:
    """Whether run.sqlite has a write-ahead log, and the database file's device, inode, size and change time:
    what a ``watch`` read compares before and after, to know that the file it read as it stood did not change."""
    stat = os.stat(run_dir / RUN_DB)
    return (run_dir / f"{RUN_DB}-wal").exists(), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def connect(run_dir: Path, *, read_only: bool, watch: bool = False) -> tuple[sqlite3.Connection, bool]:
    """A connection to ``run_dir``'s run.sqlite, and whether it is a detached in-memory copy (never written
    back: the store must treat it as read-only); RunError if SQLite cannot open it.

    mode=rw: never create an empty database where a run should be. A run in a read-only folder is still shown
    and exported: with no write-ahead log to merge it is read as it stands (immutable), with one it is read
    from a copy (see the module's note); a read-only run.sqlite in a writable folder, or a read-only open, is
    opened read-only (mode=ro), where SQLite reads the log itself. ``watch`` (read-only, creates no file; see
    the module's note): immutable where there is no log.
    """
    db_path = run_dir / RUN_DB
    wal = run_dir / f"{RUN_DB}-wal"
    for path in (db_path, wal, run_dir / f"{RUN_DB}-shm"):  # SQLite writes the last two
        if path.is_symlink():
            raise RunError(
                f"'{path}' is a symlink — a run's database files are never links, and hpsearch never "
                "writes through one: remove it (or copy the run without links)"
            )
    if watch and not wal.exists():
        return _open(run_dir, db_path, "ro&immutable=1"), False
    if not os.access(run_dir, os.W_OK):
        if wal.is_file() and wal.stat().st_size > 0:
            return _merged_copy(run_dir), True
        mode = "ro&immutable=1"
    else:
        mode = "rw" if os.access(db_path, os.W_OK) and not read_only else "ro"
    return _open(run_dir, db_path, mode), False


def _open(run_dir: Path, db_path: Path, mode: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(
            db_path.resolve().as_uri() + f"?mode={mode}",
            uri=True,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,  # transactions are explicit (storage.sql.transaction)
        )
    except sqlite3.Error as e:
        raise RunError(f"cannot open run '{run_dir}': {e}") from None


def _merged_copy(run_dir: Path) -> sqlite3.Connection:
    """An in-memory database holding run.sqlite with its write-ahead log merged, made from a private copy."""
    sizes = sum(os.stat(run_dir / name).st_size for name in (RUN_DB, f"{RUN_DB}-wal"))
    short = shortfall(sizes)  # the in-memory database (the file copy is on disk)
    if short is not None:
        raise RunError(f"cannot read run '{run_dir}' (a read-only folder with unmerged writes): {short}")
    with tempfile.TemporaryDirectory(prefix="hpsearch-run-") as temp:
        for name in (RUN_DB, f"{RUN_DB}-wal"):
            shutil.copyfile(run_dir / name, Path(temp) / name, follow_symlinks=False)
        copy = _open(run_dir, Path(temp) / RUN_DB, "rw")
        try:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            copy.backup(memory)
        except sqlite3.DatabaseError as e:
            raise RunError(f"'{run_dir}' is not a readable hpsearch run ({RUN_DB}: {e})") from None
        finally:
            copy.close()
    return memory
