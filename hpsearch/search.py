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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import yaml

from hpsearch.config import SearchConfig, config_from_dict
from hpsearch.errors import RunError, SearchInterrupted, WorkerLostError
from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.runner import (
    Segment,
    SegmentOutcome,
    TrialTask,
    cached_dataset,
    default_workers,
    plan_tasks,
    run_segments,
    train_segment,
)
from hpsearch.samplers import plan_round
from hpsearch.scheduler import (
    Bracket,
    RungPlan,
    RungResult,
    brackets,
    planned_epochs,
    promote,
    rung_epochs,
    rung_plan,
)
from hpsearch.space import Space, envelope
from hpsearch.store import EpochLog, RunStore, RungEntry, new_run_dir, validate_run_name
from hpsearch.zoom import EdgeHint, zoom_space


class SearchReporter(Protocol):
    """What a front end hears while a search runs (the CLI draws progress from it).

    ``round_started``: a batch of ``pending`` trials starts training (a round,
    or one rung of it: ``label`` says which, e.g. ``round 0 · rung 2/4 · 9 trials
    to 27 epochs``). ``trial_finished``: one trial reached the end of that batch;
    ``record`` is its state there (status ok at a lower rung means it waits for
    the rung's promotions). ``note``: something the user should know.
    """

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None: ...

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None: ...

    def note(self, message: str) -> None: ...


class _Silent:
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


def rungs(config: SearchConfig) -> list[int]:
    """The rung epochs of a search with early stopping (the top one is ``model.epochs``); ``[]`` without."""
    early = config.search.early_stopping
    if early is None:
        return []
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
    """The rung plan of a round of ``n_trials`` trials (if no trial diverges or fails); None without early stopping."""
    early = config.search.early_stopping
    if early is None:
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
    _load_data(config)  # a data error is the user's: report it before a run folder exists
    run_dir = new_run_dir(runs_dir, validate_run_name(name or config.name))
    resolved = config.to_dict()
    store = RunStore.create(
        run_dir, name=run_dir.name, config=resolved, config_text=yaml.safe_dump(resolved, sort_keys=False)
    )
    with store:
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
    _load_data(config)  # a missing or broken data file stops here, not as a failure of every trial
    edges: list[EdgeHint] = []
    with store.lock(), _interruptible(store):
        if not store.rounds():
            store.add_round(initial_round(config))
        while True:
            _train_pending(store, config, execution, reporter, retry_failed)
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
    execution: Execution,
    reporter: SearchReporter,
    retry_failed: bool,
) -> None:
    trainer = _Trainer(store, config, execution, reporter)
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

    def __init__(self, store: RunStore, config: SearchConfig, execution: Execution, reporter: SearchReporter):
        self.store, self.config, self.reporter = store, config, reporter
        self.rank_by = config.search.rank_by
        self.workers = execution.workers or config.search.workers or default_workers()
        self.backend = execution.backend or config.search.backend
        self.scheduler = execution.scheduler or config.search.scheduler
        self.best = _restore_best_model(store, config, reporter)

    def train_round(self, rnd: RoundRecord, retry_failed: bool) -> None:
        tasks = plan_tasks(rnd, seed=self.config.search.seed, grid_points=self.config.search.grid_points)
        finished = {t.trial: t for t in self.store.trials(round=rnd.round)}
        if retry_failed:
            finished = {k: t for k, t in finished.items() if t.status is not TrialStatus.FAILED}
        if self.config.search.early_stopping is None:
            segments = [Segment(t, None, rank_by=self.rank_by) for t in tasks if t.trial not in finished]
            self._run(rnd, segments, f"round {rnd.round}" + (" (zoom)" if rnd.kind == "zoom" else ""), rung=None)
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
            label = f"round {rnd.round} · rung {k + 1}/{len(epochs)} · {len(segments)} trials to {epochs[k]} epochs"
            self._run(rnd, segments, label, rung=k, final=k == last)
            if k < last:
                self._promote(rnd, groups, k, by_id, epochs)
                finished = {t.trial: t for t in self.store.trials(round=rnd.round)}

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
        outcomes = run_segments(segments, model=self.config.model, data=self.config.resolved_data(),
                                workers=self.workers, backend=self.backend, scheduler=self.scheduler)
        for outcome in outcomes:
            self.reporter.trial_finished(self._record(outcome, rung, final), self.best)

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
            store.save_best_model(record.trial, outcome.weights, outcome.state)
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


def _restore_best_model(store: RunStore, config: SearchConfig, reporter: SearchReporter) -> TrialRecord | None:
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
        outcome = train_segment(Segment(task, None, rank_by=config.search.rank_by), config.model,
                                config.resolved_data())
        if outcome.weights is not None and outcome.value() == best.ranking_value:
            store.save_best_model(best.trial, outcome.weights, outcome.state)
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


def _load_data(config: SearchConfig) -> None:
    cached_dataset(config.resolved_data())
