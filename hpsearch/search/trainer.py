"""Trains a run's pending work round by round and records every outcome as it comes.

Without early stopping a round is one batch: every trial to its last epoch.
With it, the halving driver (``search.halving``) trains it rung by rung. An own
objective's round is one batch of jobs (stopped early, if asked, by the run's
rung board). Only this process stores results, in the order they arrive; the
best model file follows the best ok trial.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.memory import available_bytes
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.folds import trial_segments, whole_trials
from hpsearch.execution.objective_jobs import ObjectiveJob, run_job, trial_record
from hpsearch.execution.runner import run_parallel, run_segments
from hpsearch.execution.segments import Segment, SegmentOutcome, TrialTask, plan_tasks
from hpsearch.pruning.schedule import RungResult, RungStanding
from hpsearch.search.best_model import restore_best_model
from hpsearch.search.halving import Halving, rungs
from hpsearch.search.options import Execution, SearchReporter
from hpsearch.storage.records import EpochLog
from hpsearch.storage.run_store import RunStore


class RoundTrainer:
    """Trains the pending trials of each round of one run and records them."""

    def __init__(
        self,
        store: RunStore,
        config: SearchConfig,
        data: PreparedData | None,
        execution: Execution,
        reporter: SearchReporter,
    ):
        self.store, self.config, self.data, self.reporter = store, config, data, reporter
        self.placement = execution.placement(config.search)
        self.workers_by_default = execution.workers_by_default(config.search)
        # Checkpoints saved at this rung, kept for the next one (``Halving``'s ``paused``) while they take
        # under an eighth of the memory available at the start (workers need the rest); the others are read back.
        self.paused: dict[tuple[int, int], Mapping[str, np.ndarray]] = {}
        self.paused_budget, self.paused_bytes = available_bytes() // 8, 0
        self.folds = data.n_folds() if isinstance(data, PreparedData) else 1  # data.cv: K segments per trial
        if config.objective is not None:  # own objectives keep no model files
            self.best = next((t for t in rank(store.trials()) if t.status is TrialStatus.OK), None)
        else:
            self.best = restore_best_model(store, config, data, reporter.note)

    def train_round(self, rnd: RoundRecord, retry_failed: bool) -> None:
        """Train what ``rnd`` still lacks (its failed trials too, if ``retry_failed``)."""
        finished = {t.trial: t for t in self.store.trials(round=rnd.round)}
        if retry_failed:
            finished = {k: t for k, t in finished.items() if t.status is not TrialStatus.FAILED}
        if len(finished) == rnd.n_trials:
            return  # a whole round is not planned again
        tasks = plan_tasks(rnd, seed=self.config.search.seed, grid_points=self.config.search.grid_points)
        label = self._round_label(rnd)
        if self.config.objective is not None:
            self._run_objective(rnd, [t for t in tasks if t.trial not in finished], label)
        elif self.config.search.early_stopping is None:
            pending = [t for t in tasks if t.trial not in finished]
            segments = trial_segments(pending, self.folds, self.config.search.rank_by, self.config.search.metric)
            self._run(rnd, segments, label, None, True)
        else:
            Halving(
                self.store,
                self.config,
                lambda segments, text, k, final, standings: self._run(rnd, segments, text, k, final, standings),
                self.paused,
            ).train(rnd, tasks, finished, label)
            self.paused.clear()

    def _round_label(self, rnd: RoundRecord) -> str:
        """``round 1 of 3 (zoom)``: rounds counted from 0, as everywhere; of those the run will have."""
        total = max(self.config.search.rounds, len(self.store.rounds()))
        return f"round {rnd.round} of {total}" + (" (zoom)" if rnd.kind == "zoom" else "")

    def _run(
        self,
        rnd: RoundRecord,
        segments: list[Segment],
        label: str,
        rung: int | None,
        final: bool,
        standings: Mapping[int, RungStanding] | None = None,
    ) -> None:
        if not segments:
            return
        self.reporter.round_started(rnd, len({s.task.trial for s in segments}), label)
        stack = self.config.search.stack
        outcomes = run_segments(
            segments,
            model=self.config.model,
            data=self.data,
            stack=stack,
            workers_by_default=self.workers_by_default,
            **self.placement,
        )
        for outcome in whole_trials(outcomes, self.folds):  # data.cv: a trial is recorded when its K folds are in
            self.reporter.trial_finished(self._record(outcome, rung, final, standings or {}), self.best)

    def _keep_paused(self, trial: int, epoch: int, state: Mapping[str, np.ndarray]) -> None:
        """Hand the next rung this state as it is, while the round's paused states fit ``paused_budget``."""
        if not self.paused:  # ``Halving`` empties it before each rung: this rung's states add up from 0
            self.paused_bytes = 0
        if self.paused_bytes < self.paused_budget:  # a running total: summing every state each time was O(n²)
            self.paused[(trial, epoch)] = state
            self.paused_bytes += sum(a.nbytes for a in state.values())

    def _run_objective(self, rnd: RoundRecord, tasks: list[TrialTask], label: str) -> None:
        """Run a round's pending trials of an own objective (each to its end or its early stop) and record each."""
        if not tasks:
            return
        spec, epochs = self.config.objective, tuple(rungs(self.config))
        eta = self.config.search.early_stopping.eta if epochs else 3
        jobs = [ObjectiveJob(t, spec, self.config.model, str(self.store.run_dir.resolve()), epochs, eta) for t in tasks]
        self.reporter.round_started(rnd, len(jobs), label)
        for job, result in run_parallel(run_job, jobs, **self.placement):
            record = trial_record(job.task, result, spec, epochs)
            self.store.record_progress(record.trial, record.round, EpochLog(0, {}), final=record)
            if record.status is TrialStatus.OK and (self.best is None or record.rank_key() < self.best.rank_key()):
                self.best = record
            self.reporter.trial_finished(record, self.best)

    def _record(
        self, outcome: SegmentOutcome, rung: int | None, final: bool, standings: Mapping[int, RungStanding]
    ) -> TrialRecord:
        """Store one outcome: its epochs, its rung, a checkpoint or its final record — and the best model.

        A trial its rung will surely prune (``standings``) keeps no checkpoint: nothing would read it."""
        task, store = outcome.task, self.store
        log = EpochLog(outcome.first_epoch, outcome.history or {}, outcome.epoch_seconds)
        entry = None
        if rung is not None and outcome.summary is not None:
            entry = RungResult(
                task.trial, outcome.value(), outcome.status is TrialStatus.DIVERGED, rung, outcome.summary.epochs_run
            )
        if outcome.status is TrialStatus.OK and not final:
            standing = standings.get(task.trial)
            kept = standing is None or entry is None or not standing.surely_out(entry)
            if kept:
                store.save_checkpoint(task.trial, outcome.summary.epochs_run, outcome.state)
                self._keep_paused(task.trial, outcome.summary.epochs_run, outcome.state)
            store.record_progress(task.trial, task.round, log, rung=entry)
            store.delete_checkpoints(task.trial, keep_epoch=outcome.summary.epochs_run if kept else None)
            if standing is not None and entry is not None:
                standing.add(entry)
            return outcome.record(rung=rung)
        record = outcome.record(rung=rung)
        store.record_progress(task.trial, task.round, log, rung=entry, final=record)
        store.delete_checkpoints(task.trial)
        if outcome.weights is not None and (self.best is None or record.rank_key() < self.best.rank_key()):
            store.save_best_model(record.trial, self.data.model_state(outcome.weights), outcome.state)
            self.best = record
        return record
