"""Run one trial of an own objective, a command or a function, and never raise for a bad trial."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hpsearch.objectives.reports import one_line
from hpsearch.objectives.spec import ObjectiveResult, ObjectiveSpec, StopRule


def evaluate(
    spec: ObjectiveSpec,
    params: dict[str, Any],
    *,
    seed: int,
    trial: int,
    trial_dir: Path,
    should_stop: StopRule | None = None,
) -> ObjectiveResult:
    """Run one trial of an own objective. Never raises for a bad trial (it comes back failed).

    ``should_stop(epoch, value)`` is called for each intermediate report that
    holds the metric; True stops the trial now: a command gets SIGTERM, then
    SIGKILL after ``spec.grace`` seconds, and a function's ``report`` raises
    ``TrialPruned``; the result is then ``pruned`` with its history.
    KeyboardInterrupt still propagates (after a command's process group is killed).
    ``params`` are a trial's (only its active parameters) and the fixed values;
    the bundles' labels among them are not passed on (``spec.objective_params``).
    """
    start = time.perf_counter()
    params = spec.objective_params(params)
    try:
        if spec.kind == "command":
            from hpsearch.objectives.command import run_command

            return run_command(spec, params, seed=seed, trial=trial, trial_dir=Path(trial_dir), should_stop=should_stop)
        from hpsearch.objectives.function import call_function

        return call_function(spec, params, seed=seed, trial=trial, trial_dir=Path(trial_dir), should_stop=should_stop)
    except Exception as exc:  # noqa: BLE001 — a broken trial is its result, not the search's end
        return ObjectiveResult(
            "failed", None, error=one_line(f"{type(exc).__name__}: {exc}"), seconds=time.perf_counter() - start
        )
