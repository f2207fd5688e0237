"""The files a run keeps beside run.sqlite: the best model, its training state, and checkpoints.

Every file is written through ``io.safe_files`` (fresh temp file, fsync, rename,
never through a symlink) and read through ``io.npz`` (headers checked before
anything is allocated, no pickle). ``models/best.npz`` names its trial by its
content: each save commits the file's SHA-256 first, so whichever file is in
place after a crash is credited to the trial that wrote it, and a file changed
by hand to none.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from hpsearch.core.errors import DataError, RunError
from hpsearch.io.npz import npz_bytes, read_arrays
from hpsearch.io.safe_files import make_folder, write_bytes_atomic
from hpsearch.storage.layout import BEST_MODEL, BEST_STATE, CHECKPOINTS_DIR, MODELS_DIR
from hpsearch.storage.rows import now
from hpsearch.storage.sql import reading, transaction


def file_digest(path: Path) -> str | None:
    """The SHA-256 of a file's content (hex), None if there is no file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def checkpoint_path(run_dir: Path, trial: int, epoch: int) -> Path:
    """Where a trial's training state after ``epoch`` epochs is kept."""
    return run_dir / CHECKPOINTS_DIR / f"trial-{int(trial)}-epoch-{int(epoch)}.npz"


class ArtifactFiles:
    """The run store's part that keeps model files and checkpoints (a mixin of ``RunStore``)."""

    run_dir: Path
    _db: sqlite3.Connection

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
        """Write a trial's training state after ``epoch`` epochs, atomically (temp file, fsync, rename),
        never through a symlink."""
        folder = make_folder(self.run_dir, CHECKPOINTS_DIR)
        write_bytes_atomic(folder, checkpoint_path(self.run_dir, trial, epoch).name, npz_bytes(arrays))

    def load_checkpoint(self, trial: int, epoch: int) -> dict[str, np.ndarray] | None:
        """The training state saved by ``save_checkpoint``, or None if there is none, it is unreadable or
        its headers declare more than it holds or than memory has (checked before anything is allocated).

        None is safe: training is deterministic, so the trial is trained again from its start instead.
        """
        path = checkpoint_path(self.run_dir, trial, epoch)
        try:
            return read_arrays(path, str(path))
        except DataError:
            return None

    def delete_checkpoints(self, trial: int, keep_epoch: int | None = None) -> None:
        """Remove a trial's checkpoints (all, or all but the one after ``keep_epoch`` epochs)."""
        folder = self.run_dir / CHECKPOINTS_DIR
        if not folder.is_dir():
            return
        keep = checkpoint_path(self.run_dir, trial, keep_epoch).name if keep_epoch is not None else None
        for path in folder.glob(f"trial-{int(trial)}-epoch-*.npz"):
            if path.name != keep:
                path.unlink(missing_ok=True)
