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
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Protocol

import yaml

from hpsearch.config.search_config import SearchConfig, config_from_dict
from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import HpsearchError, RunError, SearchInterrupted, WorkerLostError
from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig
from hpsearch.data.datasets import load_dataset
from hpsearch.data.stored_arrays import PreparedData, prepared_data, run_data_notes, write_prepared
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.execution.runner import (
    Segment,
    SegmentOutcome,
    TrialTask,
    check_fits,
    check_scheduler,
    default_workers,
    plan_tasks,
    run_parallel,
    run_segments,
    train_segment,
)
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.execution.objective_jobs import ObjectiveJob, check_objective, run_job, stored_name, trial_record
from hpsearch.space.samplers import plan_round
from hpsearch.pruning.schedule import (
    Bracket,
    RungPlan,
    RungResult,
    brackets,
    planned_epochs,
    promote,
    rung_epochs,
    rung_plan,
)
from hpsearch.space.scales import Space, envelope
from hpsearch.storage.run_store import EpochLog, RunStore, RungEntry, new_run_dir, validate_run_name
from hpsearch.space.zoom import EdgeHint, zoom_space


class SearchReporter(Protocol):
    """What a front end hears while a search runs (the CLI draws progress from it).

    ``round_started``: a batch of ``pending`` trials starts training (a round,
    or one rung of it: ``label`` says which, e.g. ``round 0 · rung 2/4 · 9 trials
    to 27 epochs``). ``trial_finished``: one trial reached the end of that batch;
    ``record`` is its state there (status ok at a lower rung means it waits for
    the rung's promotions). ``note``: something the user should know.
    ``run_opened``: the trials the run already had when this command started.
    """

    def run_opened(self, trials: list[TrialRecord]) -> None: ...

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None: ...

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None: ...

    def note(self, message: str) -> None: ...


class _Silent:
    def run_opened(self, trials: list[TrialRecord]) -> None:
        pass

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None:
        pass

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class Execution:
    """Where trials run; None takes the config's ``search:`` setting."""

    workers: int | None = None
    backend: str | None = None
    scheduler: str | None = None


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


def planned_trials(config: SearchConfig) -> list[TrialTask]:
    """The trials round 0 of ``config`` will train (what ``run --dry-run`` shows).

    Checks the data too (a missing file is the same one-line DataError ``run`` gives), so a dry run that
    passes is a run that starts.
    """
    if config.objective is None:
        _load_data(config)
    return plan_tasks(initial_round(config), seed=config.search.seed, grid_points=config.search.grid_points)


def rungs(config: SearchConfig) -> list[int]:
    """The rung epochs of a search with early stopping (the top one is ``model.epochs``, or
    ``early_stopping.max_epochs`` with an own objective); ``[]`` without."""
    early = config.search.early_stopping
    if early is None:
        return []
    if config.objective is not None:
        return rung_epochs(early.min_epochs, early.eta, early.max_epochs)
    epochs = config.model.get("epochs", HYPERPARAMETERS["epochs"].default)
    return rung_epochs(early.min_epochs, early.eta, epochs)


@dataclass(frozen=True)
class RungBudget:
    """What ``run --dry-run`` shows of early stopping: every bracket and rung, and the epochs it trains
    against ``full_epochs``, those of training every trial to the top rung."""

    plan: list[RungPlan]
    epochs: int
    full_epochs: int


def planned_rungs(config: SearchConfig, n_trials: int) -> RungBudget | None:
    """The rung plan of a round of ``n_trials`` trials (if no trial diverges or fails); None without early stopping
    and with an own objective (whose trials are stopped as they report, not by plan)."""
    early = config.search.early_stopping
    if early is None or config.objective is not None:
        return None
    epochs = rungs(config)
    plan = rung_plan(early.method, n_trials, epochs, early.eta)
    return RungBudget(plan, planned_epochs(plan), n_trials * epochs[-1])


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
    if dataset is not None:
        _check_fixed_size(config, dataset)
    if (execution.backend or config.search.backend) == "dask":  # no run folder for a search that cannot start
        check_scheduler(execution.scheduler or config.search.scheduler)
    run_dir = new_run_dir(runs_dir, validate_run_name(name or config.name))
    resolved = config.to_dict()
    store = RunStore.create(
        run_dir, name=run_dir.name, config=resolved, config_text=yaml.safe_dump(resolved, sort_keys=False)
    )
    with store:
        if dataset is not None:
            write_prepared(store.run_dir, dataset)  # parsed once: every trial and every resume trains on these arrays
        return _drive(store, execution, reporter or _Silent())


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
    from hpsearch.config.search_config import config_for_objective

    config = config_for_objective(objective, space, metric=metric, direction=direction, timeout=timeout, name=name,
                                  trials=trials, **search)
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
    if any(r.kind == "babysit" for r in store.rounds()):  # one model, trained by hpsearch.babysit.session
        raise RunError(f"run '{store.name}' is a babysat model — continue it with: hpsearch babysit {store.name}")
    data = None  # own objectives load their own data
    if config.objective is None:
        data = prepared_data(store.run_dir, config.resolved_data())  # an older run's data file is read here, once
        for line in run_data_notes(store.run_dir):  # a dropped index column, a changed file: said before training
            reporter.note(line)
    else:
        _load_data(config)
    edges: list[EdgeHint] = []
    with store.lock(), _interruptible(store):
        if not store.rounds():
            store.add_round(initial_round(config))
        reporter.run_opened(store.trials())
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
    store.check_intact()
    return SearchResult(store.run_dir, store.name, store.rounds(), rank(store.trials()), edges, config.objective)


def _train_pending(
    store: RunStore,
    config: SearchConfig,
    data: PreparedData,
    execution: Execution,
    reporter: SearchReporter,
    retry_failed: bool,
) -> None:
    trainer = _Trainer(store, config, data, execution, reporter)
    for rnd in store.rounds():
        trainer.train_round(rnd, retry_failed)


class _Trainer:
    """Trains a run's pending work round by round, rung by rung, and records every outcome as it comes.

    Without early stopping a round is one batch: every trial to its last epoch.
    With it, rung k of every bracket is one batch; when the batch is whole, each
    bracket promotes its best 1/eta (``scheduler.promote``) and the others are
    recorded ``pruned``. Each step is a pure function of what the store holds,
    so a resume after a kill at any instant takes up exactly where the run was.
    """

    def __init__(self, store: RunStore, config: SearchConfig, data: PreparedData, execution: Execution,
                 reporter: SearchReporter):
        self.store, self.config, self.data, self.reporter = store, config, data, reporter
        self.rank_by = config.search.rank_by
        self.workers = execution.workers or config.search.workers or default_workers()
        self.backend = execution.backend or config.search.backend
        self.scheduler = execution.scheduler or config.search.scheduler
        if config.objective is not None:  # own objectives keep no model files
            self.best = next((t for t in rank(store.trials()) if t.status is TrialStatus.OK), None)
        else:
            self.best = _restore_best_model(store, config, data, reporter)

    def train_round(self, rnd: RoundRecord, retry_failed: bool) -> None:
        tasks = plan_tasks(rnd, seed=self.config.search.seed, grid_points=self.config.search.grid_points)
        finished = {t.trial: t for t in self.store.trials(round=rnd.round)}
        if retry_failed:
            finished = {k: t for k, t in finished.items() if t.status is not TrialStatus.FAILED}
        if self.config.objective is not None:
            self._run_objective(rnd, [t for t in tasks if t.trial not in finished])
        elif self.config.search.early_stopping is None:
            segments = [Segment(t, None, rank_by=self.rank_by) for t in tasks if t.trial not in finished]
            self._run(rnd, segments, self._round_label(rnd), rung=None)
        else:
            self._train_rungs(rnd, tasks, finished)

    def _train_rungs(self, rnd: RoundRecord, tasks: list[TrialTask], finished: dict[int, TrialRecord]) -> None:
        early = self.config.search.early_stopping
        epochs = rungs(self.config)
        by_id = {t.trial: t for t in tasks}
        groups = brackets(early.method, list(by_id), len(epochs), early.eta)
        last = len(epochs) - 1
        for k in range(len(epochs)):
            entries = self.store.rung_entries(list(by_id))
            promoted = self.store.promotions(rnd.round)
            segments = []
            for group in groups:
                for trial in _members(group, k, promoted):
                    if (trial, k) in entries or trial in finished:
                        continue
                    segments.append(self._segment(by_id[trial], group, k, epochs, entries))
            label = f"{self._round_label(rnd)} · rung {k + 1}/{len(epochs)} · {len(segments)} trials to {epochs[k]} epochs"
            self._run(rnd, segments, label, rung=k, final=k == last)
            if k < last:
                self._promote(rnd, groups, k, by_id, epochs)
                finished = {t.trial: t for t in self.store.trials(round=rnd.round)}

    def _round_label(self, rnd: RoundRecord) -> str:
        """``round 1 of 3 (zoom)``: rounds counted from 0, as everywhere; of those the run will have."""
        total = max(self.config.search.rounds, len(self.store.rounds()))
        return f"round {rnd.round} of {total}" + (" (zoom)" if rnd.kind == "zoom" else "")

    def _segment(
        self, task: TrialTask, group: Bracket, k: int, epochs: list[int], entries: dict[tuple[int, int], RungEntry]
    ) -> Segment:
        checkpoint = None
        if k > group.first_rung:
            checkpoint = self.store.load_checkpoint(task.trial, entries[(task.trial, k - 1)].epoch)
            # None only if the file was lost: training is deterministic, so the trial is trained from
            # its start to this rung again and ends exactly where the checkpoint would have taken it.
        return Segment(task, epochs[k], checkpoint, final=k == len(epochs) - 1, rank_by=self.rank_by)

    def _promote(self, rnd: RoundRecord, groups: list[Bracket], k: int, by_id: dict[int, TrialTask],
                 epochs: list[int]) -> None:
        entries = self.store.rung_entries(list(by_id))
        promoted = self.store.promotions(rnd.round)
        finished = {t.trial for t in self.store.trials(round=rnd.round)}
        for group in groups:
            members = _members(group, k, promoted)
            if not members:
                continue
            winners = promoted.get((group.index, k))
            if winners is None:
                results = [RungResult(t, entries[(t, k)].value, entries[(t, k)].diverged)
                           for t in members if (t, k) in entries]
                winners = promote(results, len(members), self.config.search.early_stopping.eta)
            pruned = [
                self._pruned_record(by_id[t], entries[(t, k)])
                for t in members
                if (t, k) in entries and not entries[(t, k)].diverged and t not in winners and t not in finished
            ]
            self.store.record_promotions(rnd.round, group.index, k, winners, pruned)
            for record in pruned:
                self.store.delete_checkpoints(record.trial)

    def _pruned_record(self, task: TrialTask, entry: RungEntry) -> TrialRecord:
        history, seconds = self.store.epoch_log(task.trial)
        dev = history["dev_cost"]
        finite = [(c, e) for e, c in enumerate(dev) if math.isfinite(c)]
        best_cost, best_epoch = min(finite) if finite else (None, None)
        return task.record(
            TrialStatus.PRUNED, dev_cost=dev[-1], train_cost=history["train_cost"][-1],
            dev_accuracy=history["dev_accuracy"][-1], epochs_run=len(dev),
            seconds=sum(s for s in seconds if s is not None), history=history, rung=entry.rung,
            value=entry.value, best_dev_cost=best_cost, best_epoch=best_epoch,
        )

    def _run(self, rnd: RoundRecord, segments: list[Segment], label: str, rung: int | None,
             final: bool = True) -> None:
        if not segments:
            return
        self.reporter.round_started(rnd, len(segments), label)
        outcomes = run_segments(segments, model=self.config.model, data=self.data,
                                workers=self.workers, backend=self.backend, scheduler=self.scheduler)
        for outcome in outcomes:
            self.reporter.trial_finished(self._record(outcome, rung, final), self.best)

    def _run_objective(self, rnd: RoundRecord, tasks: list[TrialTask]) -> None:
        """Run a round's pending trials of an own objective (each to its end or its early stop) and record each."""
        if not tasks:
            return
        spec, epochs = self.config.objective, tuple(rungs(self.config))
        eta = self.config.search.early_stopping.eta if epochs else 3
        jobs = [ObjectiveJob(t, spec, self.config.model, str(self.store.run_dir.resolve()), epochs, eta)
                for t in tasks]
        self.reporter.round_started(rnd, len(jobs), self._round_label(rnd))
        for job, result in run_parallel(run_job, jobs, workers=self.workers, backend=self.backend,
                                        scheduler=self.scheduler):
            record = trial_record(job.task, result, spec, epochs)
            self.store.record_progress(record.trial, record.round, EpochLog(0, {}), final=record)
            if record.status is TrialStatus.OK and (self.best is None or record.rank_key() < self.best.rank_key()):
                self.best = record
            self.reporter.trial_finished(record, self.best)

    def _record(self, outcome: SegmentOutcome, rung: int | None, final: bool) -> TrialRecord:
        """Store one outcome: its epochs, its rung, a checkpoint or its final record — and the best model."""
        task, store = outcome.task, self.store
        log = EpochLog(outcome.first_epoch, outcome.history or {}, outcome.epoch_seconds)
        entry = None
        if rung is not None and outcome.summary is not None:
            entry = RungEntry(rung, outcome.summary.epochs_run, outcome.value(),
                              outcome.status is TrialStatus.DIVERGED)
        if outcome.status is TrialStatus.OK and not final:
            store.save_checkpoint(task.trial, outcome.summary.epochs_run, outcome.state)
            store.record_progress(task.trial, task.round, log, rung=entry)
            store.delete_checkpoints(task.trial, keep_epoch=outcome.summary.epochs_run)
            return outcome.record(rung=rung)
        record = outcome.record(rung=rung)
        store.record_progress(task.trial, task.round, log, rung=entry, final=record)
        store.delete_checkpoints(task.trial)
        if outcome.weights is not None and (self.best is None or record.rank_key() < self.best.rank_key()):
            store.save_best_model(record.trial, self.data.model_state(outcome.weights), outcome.state)
            self.best = record
        return record


def _members(group: Bracket, k: int, promoted: dict[tuple[int, int], list[int]]) -> list[int]:
    """The trials of ``group`` that train to rung ``k``: all of them at its first rung, then those promoted."""
    if k < group.first_rung:
        return []
    if k == group.first_rung:
        return list(group.trials)
    return promoted.get((group.index, k - 1), [])


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


def _restore_best_model(
    store: RunStore, config: SearchConfig, data: PreparedData, reporter: SearchReporter
) -> TrialRecord | None:
    """The best ok trial so far, making sure its weights are the saved best model.

    A kill between recording a new best trial and saving its weights leaves the
    older best's file; training is deterministic, so that trial is trained again
    — and its result checked against the record, so a machine that computes
    differently cannot silently keep weights that do not match the leaderboard.
    """
    ranked = [t for t in rank(store.trials()) if t.status is TrialStatus.OK]
    if not ranked:
        return None
    best = ranked[0]
    saved = store.best_model()
    # A confirmed repeat (hpsearch confirm) stays the saved model while it is there.
    if saved is None or (saved[0] != best.trial and store.confirmed_model() is None):
        task = TrialTask(best.trial, best.round, best.index, best.params, best.seed)
        outcome = train_segment(Segment(task, None, rank_by=config.search.rank_by), config.model, data)
        if outcome.weights is not None and outcome.value() == best.ranking_value:
            store.save_best_model(best.trial, data.model_state(outcome.weights), outcome.state)
        else:
            reporter.note(f"trial {best.trial} trained again gives J {outcome.value()!r}, not its recorded "
                          f"{best.ranking_value!r}: this machine computes differently; models/best.npz is not replaced")
    return best


def _zoom_round(
    store: RunStore, config: SearchConfig, top_k: int, trials: int | None, expand: bool
) -> tuple[RoundRecord, list[EdgeHint]]:
    rounds = store.rounds()
    top = [t for t in rank(store.trials()) if t.status is TrialStatus.OK][:top_k]
    if not top:
        raise RunError(f"run '{store.name}' has no finished ok trial to zoom into — see hpsearch show {store.name}")
    # Runs stored before ranges kept their legal limits get them back from the config's space.
    reference = envelope([Space.from_json(r.space) for r in rounds]).with_legal_from(config.space)
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
