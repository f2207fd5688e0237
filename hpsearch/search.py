"""A search run from start to finish: plan rounds, train their trials, store every result.

This is the Python API under the ``run``, ``resume`` and ``zoom`` commands::

    from hpsearch import load_config, start_search
    result = start_search(load_config("configs/quickstart.yaml"), runs_dir=Path("runs"))
    print(result.best.params, result.best.dev_cost)

A run is a sequence of rounds. Round 0 samples the config's space; each later
round is a coarse-to-fine zoom into the box around the best trials so far
(``zoom_search``, or automatically when ``search.rounds`` > 1). Each round's
space and trial count are stored before any of its trials runs, so the trials
of a run are a pure function of its config and seed: resuming after a crash,
with any number of workers, trains exactly the trials that have no record yet.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import yaml

from hpsearch.config import SearchConfig, config_from_dict
from hpsearch.data import Dataset
from hpsearch.errors import RunError, SearchInterrupted, WorkerLostError
from hpsearch.prepared import PreparedData, prepared_data, write_prepared
from hpsearch.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.runner import TrialTask, cached_dataset, default_workers, plan_tasks, run_trials, train_one
from hpsearch.samplers import plan_round
from hpsearch.space import Space, envelope
from hpsearch.store import RunStore, new_run_dir, validate_run_name
from hpsearch.zoom import EdgeHint, zoom_space


class SearchReporter(Protocol):
    """What a front end hears while a search runs (the CLI draws progress from it)."""

    def round_started(self, rnd: RoundRecord, pending: int) -> None: ...

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None: ...


class _Silent:
    def round_started(self, rnd: RoundRecord, pending: int) -> None:
        pass

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None:
        pass


@dataclass(frozen=True)
class Execution:
    """Where trials run; None takes the config's ``search:`` setting."""

    workers: int | None = None
    backend: str | None = None
    scheduler: str | None = None


@dataclass(frozen=True)
class SearchResult:
    """A run after a command: its rounds, its trials best first, and zoom edge hints."""

    run_dir: Path
    name: str
    rounds: list[RoundRecord]
    trials: list[TrialRecord]
    edges: list[EdgeHint] = field(default_factory=list)

    @property
    def best(self) -> TrialRecord | None:
        """The best ok trial, if any."""
        return self.trials[0] if self.trials and self.trials[0].status is TrialStatus.OK else None


def planned_trials(config: SearchConfig) -> list[TrialTask]:
    """The trials round 0 of ``config`` will train (what ``run --dry-run`` shows)."""
    return plan_tasks(initial_round(config), seed=config.search.seed, grid_points=config.search.grid_points)


def initial_round(config: SearchConfig) -> RoundRecord:
    """Round 0: the config's space, sampled by its sampler."""
    return RoundRecord(
        round=0,
        space=config.space.to_json(),
        n_trials=_round_size(config, config.space, config.search.trials),
        sampler=config.search.sampler,
        kind="initial",
    )


def _round_size(config: SearchConfig, space: Space, trials: int) -> int:
    if config.search.sampler != "grid":
        return trials
    return len(plan_round(space, trials, seed=0, round=0, sampler="grid", grid_points=config.search.grid_points))


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
    run_dir = new_run_dir(runs_dir, validate_run_name(name or config.name))
    resolved = config.to_dict()
    store = RunStore.create(
        run_dir, name=run_dir.name, config=resolved, config_text=yaml.safe_dump(resolved, sort_keys=False)
    )
    with store:
        write_prepared(store.run_dir, dataset)  # parsed once: every trial and every resume trains on these arrays
        return _drive(store, execution, reporter or _Silent())


def resume_search(
    run_dir: Path,
    *,
    execution: Execution = Execution(),
    retry_failed: bool = False,
    reporter: SearchReporter | None = None,
) -> SearchResult:
    """Train the trials of a run that have no record yet (and failed ones, if asked)."""
    with RunStore.open(run_dir) as store:
        return _drive(store, execution, reporter or _Silent(), retry_failed=retry_failed)


def zoom_search(
    run_dir: Path,
    *,
    top_k: int,
    trials: int | None = None,
    expand: bool = False,
    execution: Execution = Execution(),
    reporter: SearchReporter | None = None,
) -> SearchResult:
    """Add a coarse-to-fine round built from the ``top_k`` best trials so far, and train it."""
    if top_k < 1:
        raise RunError(f"--top must be at least 1, got {top_k}")
    if trials is not None and trials < 1:
        raise RunError(f"--trials must be at least 1, got {trials}")
    with RunStore.open(run_dir) as store:
        return _drive(store, execution, reporter or _Silent(), zoom=(top_k, trials, expand))


def stored_config(store: RunStore) -> SearchConfig:
    """The resolved config a run was created with."""
    return config_from_dict(store.config, source=str(store.run_dir / "config.yaml"), base_dir=store.run_dir)


def _drive(
    store: RunStore,
    execution: Execution,
    reporter: SearchReporter,
    *,
    retry_failed: bool = False,
    zoom: tuple[int, int | None, bool] | None = None,
) -> SearchResult:
    config = stored_config(store)
    data = prepared_data(store.run_dir, config.resolved_data())  # an older run's data file is read here, once
    edges: list[EdgeHint] = []
    with store.lock(), _interruptible(store):
        if not store.rounds():
            store.add_round(initial_round(config))
        while True:
            _train_pending(store, config, data, execution, reporter, retry_failed)
            retry_failed = False  # a trial that fails again stays failed
            if zoom is not None:
                top_k, trials, expand = zoom
                zoom = None
            elif len(store.rounds()) < config.search.rounds and any(
                t.status is TrialStatus.OK for t in store.trials()
            ):  # automatic rounds stop where there is nothing to zoom into
                top_k, trials, expand = config.search.top_k, None, False
            else:
                break
            rnd, hints = _zoom_round(store, config, top_k, trials, expand)
            store.add_round(rnd)
            edges = hints
    return SearchResult(store.run_dir, store.name, store.rounds(), rank(store.trials()), edges)


def _train_pending(
    store: RunStore,
    config: SearchConfig,
    data: PreparedData,
    execution: Execution,
    reporter: SearchReporter,
    retry_failed: bool,
) -> None:
    done = store.done_trial_ids(retry_failed=retry_failed)
    best = _restore_best_model(store, config, data)
    for rnd in store.rounds():
        tasks = [
            t
            for t in plan_tasks(rnd, seed=config.search.seed, grid_points=config.search.grid_points)
            if t.trial not in done
        ]
        if not tasks:
            continue
        reporter.round_started(rnd, len(tasks))
        outcomes = run_trials(
            tasks,
            model=config.model,
            data=data,
            workers=execution.workers or config.search.workers or default_workers(),
            backend=execution.backend or config.search.backend,
            scheduler=execution.scheduler or config.search.scheduler,
        )
        for outcome in outcomes:
            record = outcome.record
            store.record_trial(record)
            if outcome.state is not None and (best is None or record.rank_key() < best.rank_key()):
                store.save_best_model(record.trial, data.model_state(outcome.state))
                best = record
            reporter.trial_finished(record, best)


@contextlib.contextmanager
def _interruptible(store: RunStore) -> Iterator[None]:
    """Ctrl-C or a lost worker ends the command with a message saying what is saved and how to go on."""
    try:
        yield
    except KeyboardInterrupt:
        planned = sum(r.n_trials for r in store.rounds())
        raise SearchInterrupted(store.name, len(store.done_trial_ids()), planned) from None
    except WorkerLostError as exc:
        planned = sum(r.n_trials for r in store.rounds())
        raise WorkerLostError(
            f"{exc} — {len(store.done_trial_ids())} of {planned} trials are saved in run '{store.name}'; "
            f"continue with: hpsearch resume {store.name} (fewer --workers if memory ran out)"
        ) from None


def _restore_best_model(store: RunStore, config: SearchConfig, data: PreparedData) -> TrialRecord | None:
    """The best ok trial so far, making sure its weights are the saved best model.

    A kill between recording a new best trial and saving its weights leaves the
    older best's file; training is deterministic, so that trial is trained again.
    """
    ranked = [t for t in rank(store.trials()) if t.status is TrialStatus.OK]
    if not ranked:
        return None
    best = ranked[0]
    saved = store.best_model()
    if saved is None or saved[0] != best.trial:
        task = TrialTask(best.trial, best.round, best.index, best.params, best.seed)
        outcome = train_one(task, config.model, data)
        if outcome.state is not None:
            store.save_best_model(best.trial, data.model_state(outcome.state))
    return best


def _zoom_round(
    store: RunStore, config: SearchConfig, top_k: int, trials: int | None, expand: bool
) -> tuple[RoundRecord, list[EdgeHint]]:
    rounds = store.rounds()
    top = [t for t in rank(store.trials()) if t.status is TrialStatus.OK][:top_k]
    if not top:
        raise RunError(f"run '{store.name}' has no finished ok trial to zoom into — see hpsearch show {store.name}")
    reference = envelope([Space.from_json(r.space) for r in rounds])
    result = zoom_space(reference, [t.params for t in top], margin=config.search.margin, expand=expand)
    last = rounds[-1]
    n_trials = trials or config.search.zoom_trials or config.search.trials
    rnd = RoundRecord(
        round=last.round + 1,
        space=result.space.to_json(),
        n_trials=_round_size(config, result.space, n_trials),
        sampler=config.search.sampler,
        kind="zoom",
        top_k=top_k,
        expand=expand,
        first_trial=last.first_trial + last.n_trials,
    )
    return rnd, result.edges


def edge_hints(rounds: list[RoundRecord], trials: list[TrialRecord], top_k: int) -> list[EdgeHint]:
    """Where the best trials sit at a bound of the space searched so far."""
    top = [t.params for t in rank(trials) if t.status is TrialStatus.OK][:top_k]
    if not top or not rounds:
        return []
    return zoom_space(envelope([Space.from_json(r.space) for r in rounds]), top).edges


def _load_data(config: SearchConfig) -> Dataset:
    return cached_dataset(config.resolved_data())
