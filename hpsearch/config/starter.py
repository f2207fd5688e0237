"""A commented starter config for a CSV table: what ``hpsearch init`` writes.

``starter_config`` reads the table (``data.profile``: the label, the task, the columns to leave out) and sizes
a search to it: wider and deeper networks only where there are rows to fit them, batch sizes that make several
steps an epoch, and as many epochs as a budget of minutes on two cores allows (``estimate_minutes``). Every
choice is written with its reason as a YAML comment, so the file is a first config a person reads, edits and
runs as written.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from hpsearch.core.errors import HpsearchError
from hpsearch.data.profile import TableProfile, profile_table
from hpsearch.data.tasks import CLASSIFICATION
from hpsearch.io.safe_files import write_text_atomic

#: Trials of the starter search: a random round, then a zoom round planned from it (its TPE half needs 10 first).
TRIALS, ZOOM_TRIALS = 24, 12
BUDGET_MINUTES = 5.0
"""What a starter search may take on two cores; its epochs are cut to fit (never below ``MIN_EPOCHS``)."""
MIN_EPOCHS, MAX_EPOCHS = 5, 50
MULTIPLY_ADDS_PER_SECOND = 1.5e9
"""One core's pace training the starter space's networks in NumPy (forward and backward, same-shape trials
stacked), measured on a shared two-core machine: a 20,000-row, 20-column regression's starter search took 31 s
where this pace says 40 s."""
STEP_SECONDS = 4.0e-4
"""The fixed cost of one mini-batch step of a small network (NumPy calls, whatever the arithmetic)."""


@dataclass(frozen=True)
class Starter:
    """A starter config: its YAML ``text`` and what it was made from."""

    text: str
    profile: TableProfile
    epochs: int
    minutes: float


def starter_config(csv_path: Path, label: str | None = None, config: Path | None = None) -> Starter:
    """The starter config of the CSV at ``csv_path``, to be written as ``config`` (default: ``config.yaml`` in
    the current folder), with ``data.path`` relative to its folder. Raises a DataError for a table it cannot read."""
    profile = profile_table(Path(csv_path), label)
    units = _max_units(profile.rows)
    layers = 2 if profile.rows < 2000 else 3
    batches = _batch_sizes(profile.rows)
    epochs = _epochs(profile, units, layers, batches)
    minutes = estimate_minutes(profile, units, layers, batches, epochs)
    config = Path(config) if config is not None else Path("config.yaml")
    path = _relative(Path(csv_path), config.resolve().parent)
    text = _yaml(profile, units, layers, batches, epochs, minutes, path, str(config))
    return Starter(text, profile, epochs, minutes)


def write_starter(csv_path: Path, out: Path, label: str | None = None, force: bool = False) -> Starter:
    """Write the starter config of ``csv_path`` to ``out`` (atomically), refusing an existing ``out`` unless
    ``force``; returns what was written."""
    out = Path(out)
    if out.exists() and not force:
        raise HpsearchError(f"{out}: exists — pass --force to overwrite it, or name another file with -o")
    if out.is_dir():
        raise HpsearchError(f"{out}: is a folder — name a file with -o, e.g. -o {out / 'config.yaml'}")
    starter = starter_config(csv_path, label, out)
    write_text_atomic(out, starter.text)
    return starter


def estimate_minutes(profile: TableProfile, units: int, layers: int, batches: tuple[int, ...], epochs: int) -> float:
    """Minutes the starter search takes on two cores: the arithmetic of its typical network (middle width and
    depth) and its steps, over every trial, at the measured pace of ``MULTIPLY_ADDS_PER_SECOND`` per core."""
    train = 0.8 * profile.rows
    work = TRIALS + ZOOM_TRIALS
    middle = math.sqrt(8 * units)  # the geometric middle of the int_log range of hidden_units
    params = _params(profile, middle, max(1, layers // 2 + 1))
    steps = math.ceil(train / batches[len(batches) // 2])
    seconds = work * epochs * (3 * train * params / MULTIPLY_ADDS_PER_SECOND + steps * STEP_SECONDS)
    return seconds / 2 / 60


def _params(profile: TableProfile, units: float, layers: int) -> float:
    """Weights of a network with ``layers`` hidden layers of ``units``: the multiply-adds of one row's forward pass."""
    return profile.inputs * units + (layers - 1) * units * units + units * max(profile.classes, 1)


def _max_units(rows: int) -> int:
    """The widest hidden layer searched: wide networks only where there are rows to fit them."""
    for limit, units in ((500, 64), (5000, 128), (50000, 256)):
        if rows < limit:
            return units
    return 512


def _batch_sizes(rows: int) -> tuple[int, ...]:
    """Three batch sizes around a fiftieth of the training rows (16 to 512), so an epoch is several steps."""
    base = 2 ** round(math.log2(max(0.8 * rows / 50, 1)))
    base = min(max(base, 16), 128)
    return tuple(b for b in (base, 2 * base, 4 * base) if b <= max(0.8 * rows, 16))


def _epochs(profile: TableProfile, units: int, layers: int, batches: tuple[int, ...]) -> int:
    """The most epochs (``MIN_EPOCHS`` to ``MAX_EPOCHS``) that keep the search within ``BUDGET_MINUTES``."""
    per_epoch = estimate_minutes(profile, units, layers, batches, 1)
    return int(min(max(BUDGET_MINUTES // per_epoch if per_epoch > 0 else MAX_EPOCHS, MIN_EPOCHS), MAX_EPOCHS))


def _relative(path: Path, folder: Path) -> str:
    """``path`` as written in a config in ``folder``: relative when it can be (a config and its data move
    together), else absolute."""
    path = path.resolve()
    try:
        return os.path.relpath(path, folder.resolve())
    except ValueError:  # another drive (Windows)
        return str(path)


def _q(text: str) -> str:
    """A string as a YAML scalar (double-quoted JSON is valid YAML): any column name, comment-safe too."""
    return json.dumps(text, ensure_ascii=True)


def _c(code: str, comment: str = "") -> str:
    """A config line with its comment, comments lined up at one column."""
    return f"{code:<32} # {comment}" if comment else code


def _yaml(
    p: TableProfile,
    units: int,
    layers: int,
    batches: tuple[int, ...],
    epochs: int,
    minutes: float,
    path: str,
    name: str,
) -> str:
    """The config's text, every choice commented with its reason."""
    split = "stratified by class" if p.task == CLASSIFICATION else "at random (a regression has no classes)"
    out = "predicts a class" if p.task == CLASSIFICATION else "predicts a number (a linear output, squared error)"
    hidden = f"{{scale: int_log, low: 8, high: {units}, when: {{layers: {list(range(1, layers + 1))}}}}}"
    lines = [
        f"# Starter config for {_q(str(p.path.name))}, written by hpsearch init: {p.rows:,} labelled rows,",
        f"# {len(p.features)} feature columns ({p.inputs:,} network inputs). Run it as written:",
        f"#   hpsearch run {name}",
        "# then read the leaderboard; hpsearch show and hpsearch zoom look closer.",
        "data:",
        f"  path: {_q(path)}",
        _c(f"  label: {_q(p.label)}", p.label_reason),
        _c(f"  task: {p.task}", p.task_reason),
        f"  # dev rows: data.dev_fraction (0.2) of the rows, held out to rank trials, {split}; or data.cv: 5",
    ]
    if p.dropped:
        lines.append(_c("  drop:", "columns left out (delete a line to use that column):"))
        lines += [_c(f"    - {_q(d.name)}", d.reason) for d in p.dropped]
    if p.index:
        lines.append(f"  # {', '.join(_q(n) for n in p.index)}: a row number, which every run leaves out by itself")
    if p.missing:
        shown = ", ".join(_q(n) for n in p.missing[:5]) + (", ..." if len(p.missing) > 5 else "")
        lines.append(_c("  missing: fill", f"gaps in {shown}: filled with the training median, or a"))
        lines.append(_c("", '"(missing)" category for text (a row without its label is dropped)'))
    lines += [
        _c("model:", "fixed: the network " + out),
        "  batchnorm: true",
        _c(f"  epochs: {epochs}", f"as many as keep the search to about {BUDGET_MINUTES:g} minutes"),
        _c("space:", "searched, each on its own scale"),
        "  learning_rate: {scale: log, low: 1.0e-4, high: 0.1}",
        _c(f"  layers:        {{scale: int, low: 0, high: {layers}}}", "0: a linear model, the baseline to beat"),
        _c(f"  hidden_units:  {hidden}", f"up to {units} for {p.rows:,} rows; no layer, no width"),
        "  optimizer:     {choice: [momentum, adam]}",
        "  beta:          {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: momentum}}",
        "  beta1:         {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: adam}}",
        "  l2:            {scale: uniform, low: 0, high: 0.01}",
        _c(f"  batch_size:    {{choice: {list(batches)}}}", f"several steps an epoch for {p.rows:,} rows"),
        "search:",
        _c(f"  trials: {TRIALS}", "a random round first,"),
        _c("  rounds: 2", "then a zoom round: half in the box of the best, half planned by TPE (search.zoom: auto)"),
        f"  zoom_trials: {ZOOM_TRIALS}",
        "  seed: 0",
        f"# Estimated: about {max(minutes, 0.1):.1f} minutes on two cores (a busy machine takes longer).",
        f"# More trials: hpsearch run {name} --set search.trials=60",
    ]
    return "\n".join(lines) + "\n"
