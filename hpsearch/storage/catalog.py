"""Finding runs: a run named on the command line, and every run in the runs directory (``hpsearch list``)."""

from __future__ import annotations

import difflib
import os
import sqlite3
from pathlib import Path

from hpsearch.core.errors import RunError
from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.records import RunSummary, UnreadableRun
from hpsearch.storage.run_store import RunStore


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


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """A summary of every readable run in ``runs_dir``, oldest first (``scan_runs`` without the unreadable)."""
    return scan_runs(runs_dir)[0]


def scan_runs(runs_dir: Path) -> tuple[list[RunSummary], list[UnreadableRun]]:
    """A summary of every run in ``runs_dir``, oldest first, and the runs that cannot be read, by name, each
    with its reason (``hpsearch list`` shows both: a damaged run left out silently looks deleted).

    Skips folders that are not runs and runs being created (hidden folders); a run being written is read as
    last committed. Nothing is written: runs of older formats are read through an in-memory migration.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return [], []
    summaries, unreadable = [], []
    for folder in runs_dir.iterdir():
        if folder.name.startswith(".") or not (folder / RUN_DB).is_file():
            continue
        try:
            with RunStore.open(folder, read_only=True) as store:
                summaries.append(store.summary())
        except RunError as e:
            unreadable.append(UnreadableRun(folder.name, folder, str(e)))
        except sqlite3.Error as e:
            unreadable.append(UnreadableRun(folder.name, folder, f"cannot read run '{folder}': {RUN_DB}: {e}"))
    return sorted(summaries, key=lambda s: (s.created, s.name)), sorted(unreadable, key=lambda u: u.name)
