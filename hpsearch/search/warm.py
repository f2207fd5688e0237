"""Warm start (``search.warm_start: [RUN, ...]``, ``hpsearch run CONFIG --from RUN``): what earlier runs found
becomes history for a new run's zoom rounds, without training it again.

The finished trials of each earlier run are read once, when the new run is made, and kept in its
``warm_trials`` table with where each came from (``storage.warm``): every later resume plans from the same
history, whatever becomes of those runs. A trial counts when its values are a point of the new space
(``space.fit``: the same parameter names, values inside the new bounds or choices, conditions met); the others
are kept too, left out, with their reason. A run on other data, with another objective or ranked by another
metric is refused — a J on other data is not comparable — unless forced, with a warning.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import RunError
from hpsearch.core.records import TrialStatus
from hpsearch.search.history import trial_levels
from hpsearch.search.run_config import stored_config
from hpsearch.space.fit import MISFITS, fitted, misfit
from hpsearch.storage.catalog import resolve_run
from hpsearch.storage.run_names import command_ref
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.warm import WarmTrial


@dataclass(frozen=True)
class WarmSummary:
    """How many trials of each earlier run count, and how many were left out of each kind (``space.fit``)."""

    source: str
    counted: int
    left_out: dict[str, int]

    def line(self) -> str:
        """``warm start: 18 trials of run 'a' count as history (2 left out: 1 outside bounds, 1 ...)``."""
        out = sum(self.left_out.values())
        why = ", ".join(f"{n} {kind}" for kind, n in self.left_out.items() if n)
        left = f" ({out} left out: {why})" if out else ""
        return f"warm start: {self.counted} trials of run '{self.source}' count as history for the zoom rounds{left}"


def summarize(trials: list[WarmTrial]) -> list[WarmSummary]:
    """Each source run's counts, in the order the runs were named."""
    sources = list(dict.fromkeys(t.source for t in trials))
    out = []
    for source in sources:
        mine = [t for t in trials if t.source == source]
        kinds = Counter((t.left_out or "").partition(":")[0] for t in mine if t.left_out is not None)
        out.append(WarmSummary(source, sum(t.left_out is None for t in mine), {k: kinds[k] for k in MISFITS}))
    return out


def read_warm_trials(
    config: SearchConfig, runs_dir: Path, *, force: bool = False, warn: Callable[[str], None] = lambda line: None
) -> list[WarmTrial]:
    """The finished trials of the runs ``config.search.warm_start`` names (a name in ``runs_dir``, or a path),
    each fitted to ``config``'s space or left out with its reason; RunError for a run that cannot be compared
    (unless ``force``: then ``warn`` is told)."""
    out: list[WarmTrial] = []
    for ref in config.search.warm_start:
        with RunStore.open(resolve_run(ref, runs_dir), read_only=True) as source:
            source_config = stored_config(source)
            differs = incomparable(config, source_config)
            if differs and not force:
                raise RunError(
                    f"search.warm_start: run '{source.run_dir.name}' has {differs}, so its J is not comparable — "
                    f"remove it, or add --force to use it anyway"
                )
            if differs:
                warn(f"warm start from run '{source.run_dir.name}', which has {differs}: its values may mislead")
            finished = [t for t in source.trials() if t.status is not TrialStatus.FAILED]
            name = command_ref(source.run_dir, runs_dir)
            for trial, levels in zip(finished, trial_levels(source, source_config, finished)):
                bad = misfit(config.space, trial.params)
                value = trial.ranking_value
                out.append(
                    WarmTrial(
                        name,
                        trial.trial,
                        trial.params if bad else fitted(config.space, trial.params),
                        trial.status,
                        value if math.isfinite(value) else None,
                        levels,
                        rung=trial.rung,
                        dev_accuracy=trial.dev_accuracy,
                        metrics=trial.metrics,
                        left_out=None if bad is None else f"{bad.kind}: {bad.message}",
                    )
                )
    return out


def incomparable(config: SearchConfig, source: SearchConfig) -> str | None:
    """What makes ``source``'s values incomparable with ``config``'s (None: nothing): another objective, other
    data, another ranking metric."""
    mine, theirs = config.to_dict(), source.to_dict()
    if (config.objective is None) != (source.objective is None) or mine.get("objective") != theirs.get("objective"):
        return "another objective"
    if mine.get("data") != theirs.get("data"):
        return "other data"
    if config.search.metric != source.search.metric:
        return f"another ranking metric ({source.search.metric})"
    return None
