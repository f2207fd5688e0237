"""An own objective's trials inside a search: the call a worker makes, and the record it becomes.

``run_job`` is the worker side (loky, in-process or dask): it runs one trial
of the command or function through ``objective.evaluate``, in the trial's own
folder of the run (``trials/<n>``), with the run's rung board as its stop
rule when the search uses early stopping. It returns a plain
``(job, ObjectiveResult)``; only the parent stores it, as the ``TrialRecord``
that ``trial_record`` makes of it (``value`` = the metric as a cost, lower is
better whatever the direction; the metric itself and every other number the
objective reported in ``metrics``; its per-epoch reports as ``history``).

Early stopping here is asynchronous (``rung_board``): a trial cannot pause,
so a trial is stopped at a rung when its value there is outside the best
1/eta of those recorded before it in its round (``rungs/round-<r>/``: a zoom
round's trials are not judged against round 0's values), or is NaN. The top rung is the trial's end; it is
recorded ``ok`` at the top rung, a stopped one ``pruned`` at the last rung it reached.

A loky worker watches the search process (``orphans.exit_with``): when it is
gone (kill -9), the worker kills every process group it started and exits;
and ``orphans.watch_search`` kills whatever else the search started, so no
command outlives its search.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hpsearch.core.errors import RunError
from hpsearch.core.limits import MAX_METRICS
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.execution.segments import TrialTask
from hpsearch.io.safe_files import make_folder, make_folders
from hpsearch.objectives.evaluate import evaluate
from hpsearch.objectives.reports import one_line, report_epoch
from hpsearch.objectives.spec import ObjectiveError, ObjectiveResult, ObjectiveSpec
from hpsearch.pruning.rung_board import RungBoard

TRIALS_DIR = "trials"
RUNGS_DIR = "rungs"


@dataclass(frozen=True)
class ObjectiveJob:
    """One trial of an own objective, as sent to a worker.

    ``fixed`` are the config's plain values (passed with the searched ones);
    ``rungs`` the rung epochs of early stopping (the last one is the trial's
    end), empty without it.
    """

    task: TrialTask
    spec: ObjectiveSpec
    fixed: dict[str, Any]
    run_dir: str
    rungs: tuple[int, ...] = ()
    eta: int = 3

    def trial_dir(self) -> Path:
        """The trial's own folder in the run (``HPSEARCH_TRIAL_DIR``, ``trial.dir``)."""
        return Path(self.run_dir) / TRIALS_DIR / str(self.task.trial)


def run_job(job: ObjectiveJob) -> tuple[ObjectiveJob, ObjectiveResult]:
    """Run one trial (worker side). Never raises for a bad trial; KeyboardInterrupt propagates."""
    task = job.task
    should_stop = None
    run_dir = Path(job.run_dir)
    try:  # the trial's folder and the round's rung files, never through a symlink planted in the run folder
        make_folders(run_dir / TRIALS_DIR)
        if len(job.rungs) > 1:
            make_folder(run_dir, RUNGS_DIR)
    except (OSError, RunError) as exc:
        return job, ObjectiveResult("failed", None, error=one_line(str(exc)))
    if len(job.rungs) > 1:  # the top rung is the trial's end: nothing to stop there
        board = RungBoard(
            rung_folder(run_dir, task.round), job.rungs[:-1], job.eta, job.spec.direction, trial=task.trial
        )
        should_stop = board.should_stop
    result = evaluate(
        job.spec,
        {**job.fixed, **task.params},
        seed=task.seed,
        trial=task.trial,
        trial_dir=job.trial_dir(),
        should_stop=should_stop,
    )
    return job, result


def rung_folder(run_dir: Path, round: int) -> Path:
    """The rung files of one round: each round's trials are judged only against that round's (``rungs/round-<r>``)."""
    return Path(run_dir) / RUNGS_DIR / f"round-{round}"


def trial_record(
    task: TrialTask, result: ObjectiveResult, spec: ObjectiveSpec, rungs: Sequence[int] = ()
) -> TrialRecord:
    """The stored record of one trial's result.

    ``rung`` (with early stopping): the top rung's index for a trial that ran
    to its end, the last rung reached for a pruned one, so ranking puts
    trials that went further first, as for the built-in engine.
    """
    metrics = dict(result.metrics)
    if result.value is not None:
        metrics[spec.metric] = result.value
    status = TrialStatus(result.status)
    rung = None
    if rungs and status is TrialStatus.OK:
        rung = len(rungs) - 1
    elif rungs and status is TrialStatus.PRUNED:
        last = max((report_epoch(r) or 0 for r in result.history), default=0)
        rung = max(sum(1 for epoch in rungs if epoch <= last) - 1, 0)
    return task.record(
        status,
        epochs_run=len(result.history),
        seconds=result.seconds,
        history=history_columns(result.history),
        error=result.error,
        rung=rung,
        value=None if result.value is None else spec.score(result.value),
        metrics=metrics,
    )


def history_columns(reports: Sequence[Mapping[str, float]]) -> dict[str, list[float]]:
    """Per-epoch reports as one list per key (keys in order of first use, at most ``MAX_METRICS`` + 2: the
    metric, the epoch and the others; NaN where a report lacks one)."""
    keys: dict[str, None] = {}
    for report in reports:
        for key in report:
            if key not in keys and len(keys) < MAX_METRICS + 2:
                keys[key] = None
    return {key: [float(r.get(key, math.nan)) for r in reports] for key in keys}


def metric_value(trial: TrialRecord, metric: str | None) -> float | None:
    """What a leaderboard shows of a trial: its objective's metric, or dev J for the built-in engine (``metric`` None)."""
    if metric is None:
        return trial.dev_cost
    value = trial.metrics.get(metric)
    return None if value is None else float(value)


def check_objective(spec: ObjectiveSpec) -> None:
    """Fail the run at its start, not every trial: a python objective must import (ObjectiveError if not)."""
    if spec.kind == "python":
        from hpsearch.objectives.function import load_function

        load_function(spec)


def stored_name(function: Callable[..., Any], spec: ObjectiveSpec) -> ObjectiveSpec:
    """``spec`` of a Python callable, checked to be importable again by its ``module:qualname``.

    The run stores the name, not the function: a resumed run (or a loky worker)
    imports it again. A lambda, a nested function or one defined in the
    script being run (``__main__``) cannot be, so it is an ObjectiveError now.
    """
    from hpsearch.objectives.function import load_function

    module = getattr(function, "__module__", None) or "?"
    qualname = getattr(function, "__qualname__", None) or "?"
    name = f"{module}:{qualname}"
    if module == "__main__" or "<" in qualname:
        where = "in the script being run (__main__)" if module == "__main__" else "as a lambda or inside a function"
        raise ObjectiveError(
            f"objective {name} is defined {where}: a run stores its function as module:function "
            "to resume it — define it at the top level of a module of its own and import it"
        )
    try:
        found = load_function(replace(spec, function=None, python=name))
    except ObjectiveError as exc:
        raise ObjectiveError(f"objective {name} cannot be imported again by its name ({exc})") from None
    if found is not function:
        raise ObjectiveError(f"objective {name} imports as another object — give a top-level function of a module")
    return replace(spec, python=name)


__all__ = [
    "ObjectiveJob",
    "check_objective",
    "history_columns",
    "metric_value",
    "rung_folder",
    "run_job",
    "stored_name",
    "trial_record",
]
