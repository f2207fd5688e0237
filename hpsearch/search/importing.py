"""``hpsearch import RUN_NAME trials.csv --config CONFIG``: results from elsewhere (a spreadsheet, another tool, an
older notebook) as a run of their own, which can be shown, plotted, zoomed and warm-started from.

Each CSV row is one finished trial: a column per searched parameter (an empty cell: inactive under its
condition) and the metric's column (J for the built-in engine, else the objective's metric; an empty or NaN
cell: a failed trial, an infinite one: diverged). The run is made as ``run`` makes one — its data read and kept
— with one round of kind ``import`` whose unit points are the rows', so resume and zoom read it as any round and
train none of it. Every row must be a point of the config's space (``space.fit``): the first that is not is
refused in one line naming the file, the row and the fix.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import RunError
from hpsearch.core.escapes import safe
from hpsearch.core.limits import MAX_TRIALS
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.search.api import create_run
from hpsearch.space.fit import fitted, misfit
from hpsearch.space.scales import Choice, Distribution, format_value
from hpsearch.space.search_space import Space

#: The largest CSV ``import`` reads (checked before reading it).
MAX_IMPORT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ImportResult:
    """The run ``import_run`` made: its folder, and how many trials it holds (of them, how many have no value)."""

    run_dir: Path
    trials: int
    failed: int


def import_run(
    config: SearchConfig, csv_path: Path, *, runs_dir: Path, name: str, metric: str | None = None
) -> ImportResult:
    """Make run ``name`` in ``runs_dir`` from ``config`` and the trials of ``csv_path``, the metric read from its
    column ``metric`` (None: ``dev_cost`` for the engine, the objective's metric otherwise)."""
    if config.search.metric != "cost":
        raise RunError(f"import: search.metric {config.search.metric} — import ranks by J; remove search.metric")
    column = metric or (config.objective.metric if config.objective is not None else "dev_cost")
    header, rows = read_csv(csv_path)
    if column not in header:
        raise RunError(
            f"{csv_path.name}: no column {column!r} (it has {safe(', '.join(header[:12]))}) — name the metric's column "
            "with --metric COLUMN"
        )
    records = [
        trial_record(config, i, _point(config.space, row, f"{csv_path.name}:{i + 2}"), row[column])
        for i, row in enumerate(rows)
    ]
    units = np.nan_to_num(config.space.unit_rows([r.params for r in records]), nan=0.5)
    rnd = RoundRecord(
        round=0,
        space=config.space.to_json(),
        n_trials=len(records),
        sampler="csv",
        kind="import",
        planned=tuple(tuple(float(x) for x in u) for u in units),
    )
    with create_run(config, runs_dir=runs_dir, name=name) as store, store.lock(), store.transaction():
        store.add_round(rnd)
        for record in records:
            store.record_trial(record)
    return ImportResult(store.run_dir, len(records), sum(r.status is TrialStatus.FAILED for r in records))


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of ``path``, bounded (``MAX_IMPORT_BYTES``, ``MAX_TRIALS`` rows) before reading."""
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise RunError(f"{path.name}: {size:,} bytes, more than import reads ({MAX_IMPORT_BYTES:,})")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path.name}: cannot read it ({type(exc).__name__}) — give a UTF-8 CSV file") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    rows = []
    for row in reader:
        if len(rows) == MAX_TRIALS:
            raise RunError(f"{path.name}: more than {MAX_TRIALS:,} rows — split it")
        rows.append({(k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str)})
    if not rows:
        raise RunError(f"{path.name}: no rows — give a header and one row per trial")
    return header, rows


def _point(space: Space, row: dict[str, str], where: str) -> dict[str, Any]:
    """The row's values of the space's parameters, checked to be a point of it (as a trial keeps them)."""
    params = {name: _cell(space[name], row[name]) for name in space.names if row.get(name, "") != ""}
    bad = misfit(space, params)
    if bad is not None:
        raise RunError(f"{where}: {safe(bad.message)} — fix the row, or widen space.{bad.name} in the config")
    return space.trial_params({**space.center(), **fitted(space, params)})


def _cell(dist: Distribution, text: str) -> Any:
    """A cell as a value of ``dist``: a choice by how it is written, else a number (the text when it is none,
    which ``misfit`` then names)."""
    if isinstance(dist, Choice):
        return next((c for c in dist.choices if text in (format_value(c), str(c))), text)
    try:
        return float(text)
    except ValueError:
        return text


def trial_record(config: SearchConfig, trial: int, params: dict[str, Any], cell: str) -> TrialRecord:
    """Row ``trial``'s record: ok with its value, diverged at an infinite one, failed without one."""
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        return TrialRecord(trial, 0, trial, params, 0, TrialStatus.FAILED, error="no value in the imported CSV")
    status = TrialStatus.OK if math.isfinite(value) else TrialStatus.DIVERGED
    if config.objective is not None:
        cost = config.objective.score(value)
        return TrialRecord(trial, 0, trial, params, 0, status, value=cost, metrics={config.objective.metric: value})
    return TrialRecord(trial, 0, trial, params, 0, status, dev_cost=value, value=value)
