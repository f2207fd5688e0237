"""The run folder as files: made whole or not at all, locked by its one writer, and told apart from a folder
put in its place. (What run.sqlite holds is the tables' owners'; see ``run_store``.)"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from hpsearch.core.errors import RunError, RunLockedError
from hpsearch.io.safe_files import check_no_symlinks, fsync_dir, open_for_write, write_bytes_atomic
from hpsearch.storage.layout import CONFIG_FILE, LOCK_FILE, RUN_DB
from hpsearch.storage.schema import initialize


class FolderTaken(RunError):
    """The folder a new run was to be made in was taken by another process (``create_new`` tries the next)."""


def make_run_folder(run_dir: Path, name: str, meta: Mapping[str, str], config_text: str) -> None:
    """Make the folder of a new run in ``run_dir`` (absent or empty): ``config.yaml`` (``config_text``) and a
    ``run.sqlite`` of today's schema whose ``meta`` holds ``meta``. The folder appears complete or not at all: it
    is built under a hidden name next to ``run_dir`` and renamed into place; FolderTaken if it is taken."""
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise FolderTaken(f"cannot create run '{name}': '{run_dir}' exists and is not an empty folder")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = run_dir.parent / f".{run_dir.name}.{uuid.uuid4().hex[:8]}.creating"
    staging.mkdir()
    try:
        write_bytes_atomic(staging, CONFIG_FILE, config_text.encode())
        db = sqlite3.connect(staging / RUN_DB, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # persists in the file
            initialize(db, meta)
        finally:
            db.close()  # the last close checkpoints the WAL into run.sqlite
        try:
            os.rename(staging, run_dir)  # atomic; fails if run_dir was filled meanwhile
        except OSError as e:
            raise FolderTaken(
                f"cannot create run '{name}': '{run_dir}' was taken by another process ({e.strerror})"
            ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(run_dir.parent)


@contextmanager
def writer_lock(run_dir: Path, name: str) -> Iterator[None]:
    """Hold the run's exclusive writer lock for the ``with`` block.

    Non-blocking: raises RunLockedError at once if another process holds it.
    An ``flock`` dies with its process, so ``kill -9`` leaves no stale lock.
    """
    check_no_symlinks(run_dir)  # a writer never writes through a planted link
    fd = open_for_write(run_dir, LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"run '{name}' is in use by another hpsearch process (pid {holder}) — wait for it to finish or stop it"
            ) from None
        # The holder's pid, only for the message above.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def file_identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of ``path`` (None if there is none): a file deleted or replaced gets another."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
