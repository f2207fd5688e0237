"""A search run from start to finish: plan rounds, train their trials, store every result.

This is the Python API under the ``run``, ``resume`` and ``zoom`` commands::

    from hpsearch import load_config, start_search
    result = start_search(load_config("configs/quickstart.yaml"), runs_dir=Path("runs"))
    print(result.best.params, result.best.dev_cost)

The rounds are driven by ``search.rounds``, each round trained by
``search.trainer`` (rung by rung by ``search.halving`` under early stopping),
and the best model file kept by ``search.best_model``. What these functions
check first lives beside them: the data and its memory (``search.search_data``),
who may run a received run (``search.trust``) and how an old run's config is read
(``search.run_config``); their names are exported here too.
"""

from __future__ import annotations

import csv
import io
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from hpsearch.config.search_config import SearchConfig
from hpsearch.config.search_settings import ZOOMS
from hpsearch.core.errors import RunError
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.data.stored_arrays import prepared_files, run_data_notes, write_prepared
from hpsearch.execution.dask_cluster import check_scheduler
from hpsearch.execution.interrupts import interruptible
from hpsearch.execution.objective_jobs import stored_name
from hpsearch.execution.packs import StackPlan, stack_plan
from hpsearch.execution.segments import TrialTask, plan_tasks
from hpsearch.io.safe_files import write_text_atomic
from hpsearch.objectives.command import trial_argv
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.search.extend import add_budget
from hpsearch.search.halving import RungBudget, planned_rungs, rungs
from hpsearch.search.options import Execution, SearchReporter, Silent
from hpsearch.search.refit import refit_best
from hpsearch.search.rounds import ZoomRequest, drive, edge_hints, initial_round
from hpsearch.search.run_config import stored_config
from hpsearch.search.search_data import check_fixed_size, load_data, run_data
from hpsearch.search.test_part import TestFigures, score_best_model
from hpsearch.search.trust import check_trusted
from hpsearch.search.warm import read_warm_trials, summarize
from hpsearch.space.zoom import EdgeHint
from hpsearch.storage.run_names import command_ref, validate_run_name
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.warm import WarmTrial

__all__ = [
    "DryRun",
    "Execution",
    "RungBudget",
    "SearchReporter",
    "SearchResult",
    "check_trusted",
    "create_run",
    "dry_run",
    "edge_hints",
    "planned_rungs",
    "planned_trials",
    "resume_search",
    "run_data",
    "rungs",
    "start_search",
    "stored_config",
    "tune",
    "zoom_search",
]


@dataclass(frozen=True)
class SearchResult:
    """A run after a command: its rounds, its trials best first, zoom edge hints, its own objective (if any), and
    the test figures of the model ``predict`` uses (if the run has a test part)."""

    run_dir: Path
    name: str
    rounds: list[RoundRecord]
    trials: list[TrialRecord]
    edges: list[EdgeHint] = field(default_factory=list)
    objective: ObjectiveSpec | None = None
    test: TestFigures | None = None
    """The model ``predict`` uses, scored on the test part (None without one)."""
    metric: str = "cost"
    """What the run ranks by (``search.metric``)."""

    @property
    def best(self) -> TrialRecord | None:
        """The best ok trial, if any."""
        return self.trials[0] if self.trials and self.trials[0].status is TrialStatus.OK else None


@dataclass(frozen=True)
class DryRun:
    """What ``start_search`` would do, without training: round 0's trials, its rung budget under early stopping
    (else None), how its trials would be packed for stacked training (None for an own objective), and what an
    own objective's first planned trial runs (``first_call``: its command line, or its function call)."""

    trials: list[TrialTask]
    rungs: RungBudget | None
    stacking: StackPlan | None
    first_call: str | None = None
    warm: list[str] = field(default_factory=list)
    """What each warm-start run gives the zoom rounds (``search.warm.WarmSummary.line``)."""

    def write_csv(self, path: Path, names: list[str]) -> Path:
        """``run --dry-run --csv FILE``: one row per planned trial (round, id, the value of each of ``names``),
        written whole through the one atomic writer (never through a symlink at ``path``, never truncated)."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["round", "trial", *names])
        for t in self.trials:
            writer.writerow([t.round, t.trial, *(t.params.get(n, "") for n in names)])
        return write_text_atomic(path, text.getvalue())


def dry_run(
    config: SearchConfig, execution: Execution = Execution(), *, runs_dir: Path | None = None, force: bool = False
) -> DryRun:
    """Plan ``config``'s first round as ``start_search`` would (what ``run --dry-run`` shows).

    Checks the data too (a missing file is the same one-line DataError ``run`` gives), and the warm-start runs
    in ``runs_dir`` (``search.warm_start``, said in ``DryRun.warm``), so a dry run that passes is a run that
    starts; the data are read once.
    """
    warm = read_warm_trials(config, runs_dir, force=force) if runs_dir is not None else []
    dataset = load_data(config)
    trials = plan_tasks(initial_round(config), seed=config.search.seed, grid_points=config.search.grid_points)
    stacking = None
    if dataset is not None:
        workers = execution.placement(config.search)["workers"]
        stacking = stack_plan(trials, model=config.model, data=dataset, workers=workers, stack=config.search.stack)
    return DryRun(
        trials,
        planned_rungs(config, len(trials)),
        stacking,
        first_call(config.objective, {**config.model, **trials[0].params})  # as run_job passes them
        if config.objective is not None and trials
        else None,
        [summary.line() for summary in summarize(warm)],
    )


def first_call(spec: ObjectiveSpec, params: dict[str, Any]) -> str:
    """What a trial with ``params`` runs, as one line: the command with its placeholders filled (shell-quoted),
    or the function call."""
    if spec.kind == "command":
        return shlex.join(trial_argv(spec, params))
    return f"{spec.python or 'the function'}({spec.objective_params(params)!r}, trial)"


def planned_trials(config: SearchConfig) -> list[TrialTask]:
    """The trials round 0 of ``config`` will train; checks the data as ``dry_run`` does."""
    return dry_run(config).trials


def start_search(
    config: SearchConfig,
    *,
    runs_dir: Path,
    name: str | None = None,
    execution: Execution = Execution(),
    reporter: SearchReporter | None = None,
    force: bool = False,
) -> SearchResult:
    """Create a run in ``runs_dir`` and train all its rounds.

    With ``search.warm_start``, the finished trials of those runs (names in ``runs_dir``, or paths) that fit the
    space are history for the zoom rounds (``search.warm``); a run on other data or with another objective is
    refused unless ``force``."""
    reporter = reporter or Silent()
    warm = read_warm_trials(config, runs_dir, force=force, warn=lambda line: reporter.note(f"warning: {line}"))
    for summary in summarize(warm):
        reporter.note(summary.line())
    with create_run(config, runs_dir=runs_dir, name=name, execution=execution, warm=warm) as store:
        return _finish(store, execution, reporter)


def create_run(
    config: SearchConfig,
    *,
    runs_dir: Path,
    name: str | None = None,
    execution: Execution = Execution(),
    warm: Sequence[WarmTrial] = (),
) -> RunStore:
    """A new run of ``config`` in ``runs_dir``, open, nothing trained: its data read, checked and kept in the
    folder, its warm-start trials kept (``start_search``, and ``hpsearch import``, which records trials instead)."""
    dataset = load_data(config)  # a data error is the user's: report it before a run folder exists
    if dataset is not None:
        check_fixed_size(config, dataset)
    if (execution.backend or config.search.backend) == "dask":  # no run folder for a search that cannot start
        check_scheduler(execution.scheduler or config.search.scheduler)
    resolved = config.to_dict()
    store = RunStore.create_new(
        runs_dir,
        validate_run_name(name or config.name),
        lambda _: (resolved, yaml.safe_dump(resolved, sort_keys=False)),
    )
    try:
        if warm:
            store.tables.warm.add(list(warm))  # before any round: the zoom rounds' history, kept whatever happens
        if dataset is not None:
            # A Ctrl-C here leaves a run without its data, which resume prepares again: say so, as for a trial.
            with interruptible(
                lambda: f"run '{store.run_dir.name}' is created, no trial has run",
                f"hpsearch resume {command_ref(store.run_dir)}",
            ):
                write_prepared(store.run_dir, dataset)  # parsed once: every trial and every resume trains on these
                store.check_digests(prepared_files(store.run_dir))  # kept now, checked before every later use
    except BaseException:
        store.close()
        raise
    return store


def tune(
    objective: Callable[..., Any],
    space: str | os.PathLike[str] | Mapping[str, Any],
    *,
    trials: int = 20,
    runs_dir: str | os.PathLike[str] = "runs",
    metric: str = "value",
    direction: str = "minimize",
    timeout: float | None = None,
    name: str | None = None,
    execution: Execution = Execution(),
    reporter: SearchReporter | None = None,
    **search: Any,
) -> SearchResult:
    """Search the parameters of a Python function: ``objective(params)`` or ``objective(params, trial)``.

    ``space`` is the ``space:`` mapping as a dict, YAML text or a YAML file;
    ``search`` takes the other ``search:`` settings (``seed``, ``rounds``,
    ``sampler``, ``early_stopping``, ...). The function returns a number (the
    ``metric``) or a dict holding it. The run stores it as ``module:function``
    (``hpsearch resume`` imports it again), so it must be a top-level function
    of an importable module: a lambda, a nested function or one defined in the
    script being run is an ObjectiveError before anything runs.
    """
    from hpsearch.config.loading import config_for_objective

    config = config_for_objective(
        objective, space, metric=metric, direction=direction, timeout=timeout, name=name, trials=trials, **search
    )
    config = replace(config, objective=stored_name(objective, config.objective))
    return start_search(config, runs_dir=Path(runs_dir), name=name, execution=execution, reporter=reporter)


def resume_search(
    run_dir: Path,
    *,
    execution: Execution = Execution(),
    retry_failed: bool = False,
    reporter: SearchReporter | None = None,
    more_trials: int = 0,
    more_rounds: int = 0,
) -> SearchResult:
    """Train the trials of a run that have no record yet (and failed ones, if asked); first give it
    ``more_trials`` trials in round 0 and ``more_rounds`` zoom rounds, as if it had asked for them at the start
    (``search.extend``: refused in one line where that cannot hold)."""
    with RunStore.open(run_dir) as store:
        if more_trials or more_rounds:
            with store.lock():
                add_budget(store, trials=more_trials, rounds=more_rounds)
        return _finish(store, execution, reporter, retry_failed=retry_failed)


def zoom_search(
    run_dir: Path,
    *,
    top_k: int | None = None,
    trials: int | None = None,
    expand: bool = False,
    method: str | None = None,
    execution: Execution = Execution(),
    reporter: SearchReporter | None = None,
) -> SearchResult:
    """Add a coarse-to-fine round and train it: in the box of the ``top_k`` best trials so far (None: the run's
    ``search.top_k``), planned by TPE from every finished trial, or part of each (``method`` ``box``, ``tpe``
    or ``auto``; None: the run's ``search.zoom``). A box round of a grid run has one trial per grid point:
    ``trials`` is refused there."""
    if top_k is not None and top_k < 1:
        raise RunError(f"--top must be at least 1, got {top_k}")
    if trials is not None and trials < 1:
        raise RunError(f"--trials must be at least 1, got {trials}")
    if method not in (None, *ZOOMS):
        raise RunError(f"--method must be one of {', '.join(ZOOMS)}, got {method!r}")
    if expand and method in ("tpe", "auto"):
        raise RunError(f"--expand moves the bounds of a box round — use it without --method {method}")
    with RunStore.open(run_dir) as store:
        config = stored_config(store)
        box = expand or (method or config.search.zoom) == "box"
        if trials is not None and box and config.search.sampler == "grid":
            raise RunError(
                f"--trials: run '{store.name}' samples a grid, so a box round has one trial per grid "
                f"point (search.grid_points: {config.search.grid_points}) — drop --trials, or add "
                "--method tpe to plan that many trials"
            )
        return _finish(
            store, execution, reporter, zoom=ZoomRequest(top_k or config.search.top_k, trials, expand, method)
        )


def _finish(
    store: RunStore,
    execution: Execution,
    reporter: SearchReporter | None,
    *,
    retry_failed: bool = False,
    zoom: ZoomRequest | None = None,
) -> SearchResult:
    """Train what the run lacks (and the rounds asked for) and return it."""
    config = stored_config(store)
    if any(r.kind == "babysit" for r in store.rounds()):  # one model, trained by hpsearch.babysit.session
        raise RunError(
            f"run '{store.run_dir.name}' is a babysat model — continue it with: "
            f"hpsearch babysit {command_ref(store.run_dir)}"
        )
    reporter = reporter or Silent()
    store.note = reporter.note  # a checkpoint set aside is said
    data = run_data(store, config, execution)
    if data is not None:
        for line in run_data_notes(store.run_dir):  # a dropped index column, a changed file: said before training
            reporter.note(line)
    edges = drive(store, config, data, execution, reporter, retry_failed=retry_failed, zoom=zoom)
    store.check_intact()
    test = None
    if data is not None:
        with store.lock():  # once the search is over: nothing it did could see these figures
            if config.search.refit:
                refit_best(store, config, data)
            test = score_best_model(store, data)
    return SearchResult(
        store.run_dir,
        store.name,
        store.rounds(),
        rank(store.trials()),
        edges,
        config.objective,
        test,
        config.search.metric,
    )
