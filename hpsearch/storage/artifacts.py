"""The files a run keeps beside run.sqlite: the best model, its training state, and checkpoints; the owner of
the ``best_model_saves`` and ``file_digests`` tables, which say what those files must hold.

Every file is written through ``io.safe_files`` (fresh temp file, fsync, rename,
never through a symlink) and read through ``io.npz`` (headers checked before
anything is allocated, no pickle). ``models/best.npz`` names its trial by its
content: each save commits the file's SHA-256 first, so whichever file is in
place after a crash is credited to the trial that wrote it, and a file changed
by hand to none.

Every other file the run reads back (checkpoints, the babysit state, the
prepared arrays) has its SHA-256 in the ``file_digests`` table, committed
before the file replaces an old one, and is checked on reading: a checkpoint
that differs (copied from another trial, a weight scaled) is set aside and the
trial trained again from its start, with a note; any other file that differs
is one RunError naming it. A digest is computed from the file's bytes in
blocks, and the arrays are then read from the same open file: nothing is held
twice. Runs older than schema 3 have no digests: their files are accepted.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from hpsearch.core.errors import DataError, RunError
from hpsearch.io.digests import sha256_file, sha256_stream
from hpsearch.io.npz import npz_bytes, read_arrays
from hpsearch.io.safe_files import interrupts_deferred, make_folder, write_bytes_atomic
from hpsearch.storage.layout import BEST_MODEL, BEST_STATE, CHECKPOINTS_DIR, MODELS_DIR
from hpsearch.storage.rows import now
from hpsearch.storage.sql import Table, reading, transaction


def file_digest(path: Path) -> str | None:
    """The SHA-256 of a file's content (hex, read in blocks), None if there is no regular file there."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def checkpoint_path(run_dir: Path, trial: int, epoch: int) -> Path:
    """Where a trial's training state after ``epoch`` epochs is kept."""
    return run_dir / CHECKPOINTS_DIR / f"trial-{int(trial)}-epoch-{int(epoch)}.npz"


class ArtifactFiles(Table):
    """The run store's part that keeps model files and checkpoints.

    ``read_only``: the store's, when it cannot be written (digests are then computed by the next writer);
    ``note``: called with one line whenever a damaged checkpoint is set aside.
    """

    def __init__(
        self, db: sqlite3.Connection, run_dir: Path, run_name: str, *, read_only: bool, note: Callable[[str], None]
    ) -> None:
        super().__init__(db, run_dir, run_name)
        self.read_only = read_only
        self.note = note

    # -- files whose digest the run keeps ------------------------------------

    def write_tracked(self, folder: str, name: str, content: bytes, *, durable: bool = True) -> Path:
        """Write ``content`` as ``folder/name`` of the run (``folder`` ``""``: the run folder itself) atomically,
        never through a symlink, its SHA-256 committed before it replaces the old file; return its path.
        ``durable=False``: no fsync (``safe_files.write_atomic``), for files the run can do without."""
        where = make_folder(self.run_dir, folder) if folder else self.run_dir
        key = f"{folder}/{name}" if folder else name
        digest = hashlib.sha256(content).hexdigest()
        record = functools.partial(self.record_digests, {key: digest})
        return write_bytes_atomic(where, name, content, before_replace=record, durable=durable)

    def record_digests(self, digests: Mapping[str, str]) -> None:
        """Keep the SHA-256 of files of the run, by path relative to the run folder (one transaction)."""
        if self.read_only:
            return  # a read-only open never writes; the digests are computed by the next writer
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO file_digests (path, sha256) VALUES (?, ?)",
                [(key, digest) for key, digest in digests.items()],
            )

    def recorded_digest(self, key: str) -> str | None:
        """The SHA-256 kept for ``key`` (a path relative to the run folder), None if none was kept."""
        row = self._db.execute("SELECT sha256 FROM file_digests WHERE path = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def check_digests(self, keys: list[str]) -> None:
        """RunError naming the first of ``keys`` whose bytes differ from the digest kept for it.

        A file without a kept digest (a run older than schema 3) is accepted and its digest kept now.
        """
        missing = {}
        for key in keys:
            path = self.run_dir / key
            try:
                digest = sha256_file(path)
            except OSError as error:
                raise RunError(
                    f"'{path}': cannot read it ({error.strerror or error}) — run '{self.run_name}' "
                    "needs it as hpsearch wrote it"
                ) from None
            expected = self.recorded_digest(key)
            if expected is None:
                missing[key] = digest
            elif digest != expected:
                raise RunError(_changed(path, self.run_name))
        if missing:
            self.record_digests(missing)

    def read_tracked(self, key: str, label: str | None = None) -> dict[str, np.ndarray]:
        """The arrays of the run's .npz file ``key`` after checking its digest: RunError naming the file if
        it differs from what the run wrote (no digest kept: accepted), DataError if it is unreadable."""
        arrays, changed = self._read_checked(key, label)
        if changed:
            raise RunError(_changed(self.run_dir / key, self.run_name))
        return arrays

    def _read_checked(self, key: str, label: str | None) -> tuple[dict[str, np.ndarray], bool]:
        """The arrays of ``key`` and whether its bytes differ from the kept digest; one open, one read of the
        arrays (the digest is computed in blocks from the same open file)."""
        path = self.run_dir / key
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            digest = sha256_stream(file)
            expected = self.recorded_digest(key)
            if expected is not None and digest != expected:
                return {}, True
            file.seek(0)
            return read_arrays(file, label or str(path)), False

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
        with interrupts_deferred():  # the two files and their digests as one: Ctrl-C waits until all are written
            return self._save_best_model(trial, state, training_state)

    def _save_best_model(
        self, trial: int, state: Mapping[str, np.ndarray], training_state: Mapping[str, np.ndarray] | None
    ) -> Path:
        files = {BEST_MODEL: state, **({BEST_STATE: training_state} if training_state is not None else {})}
        contents = {name: npz_bytes(arrays) for name, arrays in files.items()}

        def commit_digests() -> None:
            # The digest rows are committed before any file replaces an old one, so
            # every file that can be in place has its row (see best_model).
            with transaction(self._db):
                self._db.executemany(
                    "INSERT INTO best_model_saves (trial, sha256, saved) VALUES (?, ?, ?)",
                    [(int(trial), hashlib.sha256(c).hexdigest(), now()) for c in contents.values()],
                )

        # Fresh temp files (never a symlink) in models/ (never a symlink either), renamed into place.
        models = make_folder(self.run_dir, MODELS_DIR)
        hook: Callable[[], None] | None = commit_digests
        for name in reversed(list(contents)):  # the state first, then the weights best_model() names
            write_bytes_atomic(models, name, contents[name], before_replace=hook)
            hook = None
        return models / BEST_MODEL

    @reading
    def best_model(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved best model, or ``None`` if none was saved."""
        return self._saved(BEST_MODEL)

    @reading
    def best_state(self) -> tuple[int, Path] | None:
        """``(trial, path)`` of the saved training state of the best trial, or ``None``."""
        return self._saved(BEST_STATE)

    def _saved(self, name: str) -> tuple[int, Path] | None:
        path = self.run_dir / MODELS_DIR / name
        digest = file_digest(path)
        if digest is None:
            return None
        row = self._db.execute(
            "SELECT trial FROM best_model_saves WHERE sha256 = ? ORDER BY rowid DESC LIMIT 1", (digest,)
        ).fetchone()
        if row is None:
            raise RunError(f"'{path}' is not a model this run saved — it was changed outside hpsearch")
        return row[0], path

    # -- checkpoints of paused trials ---------------------------------------

    def save_checkpoint(self, trial: int, epoch: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write a trial's training state after ``epoch`` epochs, atomically (temp file, rename), never through a
        symlink, its digest kept — without fsync: a checkpoint only saves work (training is deterministic), and
        one a power loss left short fails its digest check and the trial is trained again from its start, so
        every trial need not wait for the disk at every rung."""
        name = checkpoint_path(self.run_dir, trial, epoch).name
        self.write_tracked(CHECKPOINTS_DIR, name, npz_bytes(arrays), durable=False)

    def load_checkpoint(self, trial: int, epoch: int) -> dict[str, np.ndarray] | None:
        """The training state saved by ``save_checkpoint``, or None if there is none, it is unreadable, its
        headers declare more than it holds or than memory has (checked before anything is allocated), or its
        bytes differ from the digest kept when it was written (copied from another trial, changed by hand).

        None is safe: training is deterministic, so the trial is trained again from its start instead. A
        file that is there but not used is said (``note``); it is never trained on.
        """
        path = checkpoint_path(self.run_dir, trial, epoch)
        try:
            arrays, changed = self._read_checked(f"{CHECKPOINTS_DIR}/{path.name}", None)
        except FileNotFoundError:
            return None
        except (OSError, DataError) as error:
            self.note(f"{path}: unreadable ({error}) — trial {trial} is trained again from its start")
            return None
        if changed:
            self.note(
                f"{path}: differs from the checkpoint hpsearch wrote for trial {trial} (copied from another "
                "trial, changed by hand, or cut short by a power loss) — not used: the trial is trained again from its "
                "start"
            )
            return None
        return arrays

    def delete_checkpoints(self, trial: int, keep_epoch: int | None = None) -> None:
        """Remove a trial's checkpoints (all, or all but the one after ``keep_epoch`` epochs)."""
        folder = self.run_dir / CHECKPOINTS_DIR
        if not folder.is_dir():
            return
        keep = checkpoint_path(self.run_dir, trial, keep_epoch).name if keep_epoch is not None else None
        gone = []
        for path in folder.glob(f"trial-{int(trial)}-epoch-*.npz"):
            if path.name != keep:
                path.unlink(missing_ok=True)
                gone.append((f"{CHECKPOINTS_DIR}/{path.name}",))
        if gone and not self.read_only:
            with transaction(self._db):
                self._db.executemany("DELETE FROM file_digests WHERE path = ?", gone)


def _changed(path: Path, run: str) -> str:
    return (
        f"'{path}' was changed since hpsearch wrote it (its SHA-256 differs from the one run '{run}' keeps) "
        "— restore it from a copy of the run, or start a new run"
    )
