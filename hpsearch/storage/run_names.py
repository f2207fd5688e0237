"""Run names and where runs live: a run name is one plain folder name inside the runs directory."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from hpsearch.core.errors import RunError

RUNS_DIR_ENV = "HPSEARCH_RUNS_DIR"
MAX_NAME_LENGTH = 100
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAME_RULE = f"a run name is 1 to {MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit"


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
    is not created (``RunStore.create_new`` does that, and takes the next name
    if another process took this one in between).
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


def command_ref(run_dir: Path, runs_dir: Path | None = None) -> str:
    """What a user passes back on the command line to name the run in ``run_dir``: its folder name when the
    folder sits in ``runs_dir`` (default: ``default_runs_dir()``), else its path, quoted for a shell.

    A hint like "continue with: hpsearch resume X" must name the folder the user gave, never the name stored
    inside it: a copied run folder keeps the name of the run it was copied from.
    """
    run_dir = Path(run_dir)
    runs_root = Path(runs_dir if runs_dir is not None else default_runs_dir())
    if run_dir.resolve().parent == runs_root.resolve() and _NAME_RE.fullmatch(run_dir.name):
        return run_dir.name
    path = str(run_dir)
    if os.sep not in path and "/" not in path:  # a bare name would be looked up in the runs folder first
        path = os.path.join(".", path)
    return shlex.quote(path)
