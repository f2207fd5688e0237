"""A search run from start to finish: plan rounds, train their trials, store every result.

This is the Python API under the ``run``, ``resume`` and ``zoom`` commands::

    from hpsearch import load_config, start_search
    result = start_search(load_config("configs/quickstart.yaml"), runs_dir=Path("runs"))
    print(result.best.params, result.best.dev_cost)

The rounds are driven by ``search.rounds``, each round trained by
``search.trainer`` (rung by rung by ``search.halving`` under early stopping),
and the best model file kept by ``search.best_model``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from hpsearch.config.search_config import ZOOMS, SearchConfig, config_from_dict
from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import HpsearchError, RunError
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.data.datasets import load_dataset
from hpsearch.data.stored_arrays import PREPARED_FILES, PreparedData, prepared_data, run_data_notes, write_prepared
from hpsearch.execution.dask_cluster import check_scheduler
from hpsearch.execution.interrupts import interruptible
from hpsearch.execution.objective_jobs import check_objective, stored_name
from hpsearch.execution.packs import StackPlan, stack_plan
from hpsearch.execution.segments import TrialTask, check_fits, plan_tasks
from hpsearch.io.safe_files import write_text_atomic
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.search.halving import RungBudget, planned_rungs, rungs
from hpsearch.search.options import Execution, SearchReporter, Silent
from hpsearch.search.rounds import ZoomRequest, drive, edge_hints, initial_round
from hpsearch.space.zoom import EdgeHint
from hpsearch.storage.run_names import command_ref, validate_run_name
from hpsearch.storage.run_store import RunStore, machine_id

__all__ = [
    "DryRun",
    "Execution",
    "RungBudget",
    "SearchReporter",
    "SearchResult",
    "check_trusted",
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
    """A run after a command: its rounds, its trials best first, zoom edge hints, and its own objective (if any)."""

    run_dir: Path
    name: str
    rounds: list[RoundRecord]
    trials: list[TrialRecord]
    edges: list[EdgeHint] = field(default_factory=list)
    objective: ObjectiveSpec | None = None

    @property
    def best(self) -> TrialRecord | None:
        """The best ok trial, if any."""
        return self.trials[0] if self.trials and self.trials[0].status is TrialStatus.OK else None


@dataclass(frozen=True)
class DryRun:
    """What ``start_search`` would do, without training: round 0's trials, its rung budget under early stopping
    (else None), and how its trials would be packed for stacked training (None for an own objective)."""

    trials: list[TrialTask]
    rungs: RungBudget | None
    stacking: StackPlan | None

    def write_csv(self, path: Path, names: list[str]) -> Path:
        """``run --dry-run --csv FILE``: one row per planned trial (round, id, the value of each of ``names``),
        written whole through the one atomic writer (never through a symlink at ``path``, never truncated)."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["round", "trial", *names])
        for t in self.trials:
            writer.writerow([t.round, t.trial, *(t.params.get(n, "") for n in names)])
        return write_text_atomic(path, text.getvalue())


def dry_run(config: SearchConfig, execution: Execution = Execution()) -> DryRun:
    """Plan ``config``'s first round as ``start_search`` would (what ``run --dry-run`` shows).

    Checks the data too (a missing file is the same one-line DataError ``run`` gives), so a dry run that
    passes is a run that starts; the data are read once.
    """
    dataset = _load_data(config)
    trials = plan_tasks(initial_round(config), seed=config.search.seed, grid_points=config.search.grid_points)
    stacking = None
    if dataset is not None:
        workers = execution.placement(config.search)["workers"]
        stacking = stack_plan(trials, model=config.model, data=dataset, workers=workers, stack=config.search.stack)
    return DryRun(trials, planned_rungs(config, len(trials)), stacking)


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
) -> SearchResult:
    """Create a run in ``runs_dir`` and train all its rounds."""
    dataset = _load_data(config)  # a data error is the user's: report it before a run folder exists
    if dataset is not None:
        _check_fixed_size(config, dataset)
    if (execution.backend or config.search.backend) == "dask":  # no run folder for a search that cannot start
        check_scheduler(execution.scheduler or config.search.scheduler)
    resolved = config.to_dict()
    store = RunStore.create_new(
        runs_dir,
        validate_run_name(name or config.name),
        lambda _: (resolved, yaml.safe_dump(resolved, sort_keys=False)),
    )
    with store:
        if dataset is not None:
            # A Ctrl-C here leaves a run without its data, which resume prepares again: say so, as for a trial.
            with interruptible(
                lambda: f"run '{store.run_dir.name}' is created, no trial has run",
                f"hpsearch resume {command_ref(store.run_dir)}",
            ):
                write_prepared(store.run_dir, dataset)  # parsed once: every trial and every resume trains on these
                store.check_digests(list(PREPARED_FILES))  # kept now, checked before every later use
        return _finish(store, execution, reporter)


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
) -> SearchResult:
    """Train the trials of a run that have no record yet (and failed ones, if asked)."""
    with RunStore.open(run_dir) as store:
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
    ``search.top_k``), or planned by TPE from every finished trial (``method`` ``box`` or ``tpe``; None: the
    run's ``search.zoom``). A box round of a grid run has one trial per grid point: ``trials`` is refused there."""
    if top_k is not None and top_k < 1:
        raise RunError(f"--top must be at least 1, got {top_k}")
    if trials is not None and trials < 1:
        raise RunError(f"--trials must be at least 1, got {trials}")
    if method not in (None, *ZOOMS):
        raise RunError(f"--method must be one of {', '.join(ZOOMS)}, got {method!r}")
    if expand and method == "tpe":
        raise RunError("--expand moves the bounds of a box round — use it without --method tpe")
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


def stored_config(store: RunStore) -> SearchConfig:
    """The resolved config a run was created with.

    A run stored before ``search.zoom`` existed zoomed in the box: it keeps doing so (the default is now tpe).
    """
    raw = store.config
    search = raw.get("search") or {}
    if isinstance(search, dict) and "zoom" not in search:
        raw = {**raw, "search": {**search, "zoom": "box"}}
    return config_from_dict(raw, source=str(store.run_dir / "config.yaml"), base_dir=store.run_dir)


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
    return SearchResult(store.run_dir, store.name, store.rounds(), rank(store.trials()), edges, config.objective)


def run_data(store: RunStore, config: SearchConfig, execution: Execution) -> PreparedData | None:
    """What every command that trains a stored run (resume, zoom, confirm) does first: refuse a run from
    someone else that would run code or connect somewhere (``check_trusted``), then return the run's
    prepared data checked against the digests the run keeps (RunError naming a changed file), or None
    for an own objective (checked to import: it loads its own data)."""
    check_trusted(store, config, execution)
    if config.objective is not None:
        _load_data(config)
        return None
    data = prepared_data(store.run_dir, config.resolved_data())  # an older run's data file is read here, once
    store.check_digests(list(PREPARED_FILES))
    return data


def check_trusted(store: RunStore, config: SearchConfig, execution: Execution) -> None:
    """RunError (one line saying what would run) for a run this user on this machine did not create whose
    objective is a command or a Python function, or whose trials go to a dask scheduler, unless
    ``execution.trust``. The built-in engine on local workers runs only hpsearch's code: always allowed.
    """
    if execution.trust or store.created_by == machine_id():
        return
    would = []
    objective = config.objective
    if objective is not None and objective.command is not None:
        would.append(f"run the command {' '.join(objective.command)!r} (in {objective.base_dir})")
    elif objective is not None:
        would.append(f"import and call {objective.python!r} (from {objective.base_dir})")
    if (execution.backend or config.search.backend) == "dask":
        would.append(f"connect to the dask scheduler {execution.scheduler or config.search.scheduler!r}")
    if not would:
        return
    creator = f"by {store.created_by}" if store.created_by else "by an hpsearch that recorded no creator"
    raise RunError(
        f"run '{store.name}' was created {creator}, not by {machine_id()}: it would "
        f"{' and '.join(would)} — read {store.run_dir / 'config.yaml'}, then add --trust to allow it"
    )


SIZE_PARAMETERS = ("hidden", "layers", "hidden_units", "batch_size", "dtype", "optimizer")


def _check_fixed_size(config: SearchConfig, dataset: Dataset) -> None:
    """When nothing searched changes a trial's size, one that cannot fit in memory stops the search at once."""
    if set(SIZE_PARAMETERS) & set(config.space.names):
        return  # sizes vary: a trial too large for memory fails alone, and the search goes on
    try:
        model = ModelConfig.from_dict(config.model)
    except HpsearchError:
        return  # reported per trial
    try:
        check_fits(model, dataset, keep_best=config.search.rank_by == "best")
    except RunError as exc:
        raise RunError(f"{config.source}: model: {exc} — lower hidden_units, layers or batch_size") from None


def _load_data(config: SearchConfig) -> Dataset | None:
    """The dataset of a built-in search (None for an own objective, whose function is checked to import)."""
    if config.objective is not None:
        check_objective(config.objective)  # an unimportable function stops here, not as a failure of every trial
        return None
    return load_dataset(config.resolved_data())
