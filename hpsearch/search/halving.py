"""The halving driver: train a round rung by rung, and promote each bracket's best when its rung is whole.

With early stopping, rung k of every bracket is one batch of segments; when
the batch is whole, each bracket promotes its best 1/eta (``auto`` in a small
round: 3/5, then 1/2; ``pruning.schedule.keep_share``) and the others are
recorded ``pruned``. Each step is a pure function of what
the store holds, so a resume after a kill at any instant takes up exactly where
the run was, and promotions never depend on which trial finished first.

A failed trial retried (``resume --retry-failed``) rejoins the rung it failed
at. If that rung's promotions are not decided yet, its new result counts like
any other. If they were decided without it, they stand, and the retried trial
is judged against the rung's stored results by the same rule: promoted if
``promote`` over all of them (it included) would take it — then it is added to
the rung's promotions and trained on, judged again at the next rung — else it
gets its final ``pruned`` record at that rung and its checkpoint is deleted.
Either way the outcome is a function of stored values only, never of timing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, as_cost, best_epoch
from hpsearch.execution.segments import Segment, TrialTask
from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.nn.metrics import metric_direction, metric_key, optional_series
from hpsearch.pruning.schedule import (
    Bracket,
    RungPlan,
    RungResult,
    RungStanding,
    auto_choice,
    brackets,
    keep_share,
    planned_epochs,
    promote,
    rung_epochs,
    rung_plan,
)
from hpsearch.storage.rows import known_metrics
from hpsearch.storage.run_store import RunStore

#: ``run(segments, label, rung, final, standings)``: train a batch of segments and record each outcome as it comes
#: (``standings``: each trial's bracket at the rung, to tell a surely pruned one: no checkpoint of it is written).
RunBatch = Callable[[list[Segment], str, int, bool, Mapping[int, RungStanding]], None]


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
    asynchronous: bool = False  # an own objective: trials stop as they report, about these counts
    choice: str | None = None  # method auto: what it chose for this round, in words


def planned_rungs(config: SearchConfig, n_trials: int) -> RungBudget | None:
    """The rung plan of a round of ``n_trials`` trials (if no trial diverges or fails); None without early stopping.

    An own objective's trials are stopped as they report (``pruning.rung_board``), not by plan: which ones
    depends on the order they reach each rung, and the counts are those of halving the same rungs
    (``asynchronous`` says so).
    """
    early = config.search.early_stopping
    if early is None:
        return None
    epochs = rungs(config)
    asynchronous = config.objective is not None
    method = "halving" if asynchronous else early.method  # an own objective's auto is asynchronous halving
    plan = rung_plan(method, n_trials, epochs, early.eta)
    choice = None
    if early.method == "auto":
        choice = (
            "auto: asynchronous successive halving" if asynchronous else auto_choice(n_trials, len(epochs), early.eta)
        )
    return RungBudget(plan, planned_epochs(plan), n_trials * epochs[-1], asynchronous, choice)


class Halving:
    """Trains one round's pending rungs through ``run`` and records promotions and pruned trials in ``store``."""

    def __init__(
        self,
        store: RunStore,
        config: SearchConfig,
        run: RunBatch,
        paused: dict[tuple[int, int], Mapping[str, np.ndarray]] | None = None,
    ):
        """``paused``: checkpoints this process just saved, by (trial, epoch), handed to the next rung as they
        are instead of read back from their files (the same arrays; the rung's workers are not kept waiting)."""
        self.store, self.config, self.run = store, config, run
        self.paused = {} if paused is None else paused
        self.early = config.search.early_stopping
        self.epochs = rungs(config)

    def train(self, rnd: RoundRecord, tasks: list[TrialTask], finished: dict[int, TrialRecord], label: str) -> None:
        """Train every rung of ``rnd`` that is not whole yet, promoting after each one."""
        by_id = {t.trial: t for t in tasks}
        groups = brackets(self.early.method, list(by_id), len(self.epochs), self.early.eta)
        last = len(self.epochs) - 1
        # failed trials left out of ``finished`` are retried: they rejoin their rung (see the module's doc)
        retried = {t.trial for t in self.store.trials(round=rnd.round) if t.trial not in finished}
        for k in range(len(self.epochs)):
            entries = self.store.rung_entries(list(by_id))
            promoted = self.store.promotions(rnd.round)
            segments = [
                self._segment(by_id[trial], group, k, entries)
                for group in groups
                for trial in trials_at_rung(group, k, promoted)
                if (trial, k) not in entries and trial not in finished
            ]
            self.paused.clear()  # what this rung did not take belongs to pruned trials
            self.run(
                segments,
                f"{label} · rung {k + 1}/{len(self.epochs)} · {len(segments)} trials to {self.epochs[k]} epochs",
                k,
                k == last,
                {} if k == last else self._standings(len(by_id), groups, k, entries, promoted),
            )
            if k < last:
                self._promote(rnd, groups, k, by_id, retried)
                finished = {
                    t.trial: t
                    for t in self.store.trials(round=rnd.round)
                    if t.trial not in retried or t.status is not TrialStatus.FAILED
                }

    def _standings(
        self,
        n_trials: int,
        groups: list[Bracket],
        k: int,
        entries: dict[tuple[int, int], RungResult],
        promoted: dict[tuple[int, int], list[int]],
    ) -> dict[int, RungStanding]:
        """Each trial at rung ``k``: its bracket's standing there, from the results stored so far."""
        share = self._keep_share(n_trials, k)
        standings = {}
        for group in groups:
            at_rung = trials_at_rung(group, k, promoted)
            standing = RungStanding(len(at_rung), share, (entries[(t, k)] for t in at_rung if (t, k) in entries))
            standings.update(dict.fromkeys(at_rung, standing))
        return standings

    def _keep_share(self, n_trials: int, k: int) -> Fraction:
        """The share of each bracket promoted at rung ``k`` of a round of ``n_trials``: what the standings that
        skip checkpoints foresee and what ``_promote`` decides, one rule for both."""
        return keep_share(self.early.method, n_trials, len(self.epochs), self.early.eta, k)

    def _segment(self, task: TrialTask, group: Bracket, k: int, entries: dict[tuple[int, int], RungResult]) -> Segment:
        checkpoint = None
        if k > group.first_rung:
            epoch = entries[(task.trial, k - 1)].epoch
            checkpoint = self.paused.pop((task.trial, epoch), None) or self.store.load_checkpoint(task.trial, epoch)
            # None only if the file was lost: training is deterministic, so the trial is trained from
            # its start to this rung again and ends exactly where the checkpoint would have taken it.
        return Segment(
            task,
            self.epochs[k],
            checkpoint,
            final=k == len(self.epochs) - 1,
            rank_by=self.config.search.rank_by,
            metric=self.config.search.metric,
        )

    def _promote(
        self, rnd: RoundRecord, groups: list[Bracket], k: int, by_id: dict[int, TrialTask], retried: set[int]
    ) -> None:
        """Promote each bracket's best share at rung ``k`` (``keep_share``: 1/eta, or ``auto``'s, from the round's
        size and the rung alone; once: stored promotions stand) and record the others pruned;
        a ``retried`` trial whose rung was decided without it is judged late (see the module's doc)."""
        share = self._keep_share(len(by_id), k)
        entries = self.store.rung_entries(list(by_id))
        promoted = self.store.promotions(rnd.round)
        finished = {
            t.trial
            for t in self.store.trials(round=rnd.round)
            if t.trial not in retried or t.status is not TrialStatus.FAILED
        }
        for group in groups:
            at_rung = trials_at_rung(group, k, promoted)
            winners = promoted.get((group.index, k))
            waiting = [
                t
                for t in at_rung
                if (t, k) in entries
                and not entries[(t, k)].diverged
                and t not in finished
                and (winners is None or t not in winners)
            ]
            if not at_rung or (winners is not None and not waiting):
                continue  # nothing new to write: the rung's promotions and pruned records are stored
            results = [entries[(t, k)] for t in at_rung if (t, k) in entries]
            judged = promote(results, len(at_rung), share)
            if winners is None:
                winners = judged
            else:  # decided before: late retried trials join the winners only where the rule takes them
                winners = [t for t in waiting if t in retried and t in judged]
            pruned = [self._pruned_record(by_id[t], entries[(t, k)]) for t in waiting if t not in winners]
            self.store.record_promotions(rnd.round, group.index, k, winners, pruned)
            for record in pruned:
                self.store.delete_checkpoints(record.trial)

    def _pruned_record(self, task: TrialTask, entry: RungResult) -> TrialRecord:
        """A trial stopped at its rung, from its stored epochs: its costs (and a regression's dev RMSE and R²,
        as a trial that trained to the end carries them) those of its last epoch."""
        history, seconds = self.store.epoch_log(task.trial)
        dev = history["dev_cost"]
        best_cost, best = best_epoch(dev)
        metric = self.config.search.metric
        if metric != "cost":  # its best epoch is best by the metric the run ranks by, as a trial trained on has it
            _, best = best_epoch([as_cost(v, metric_direction(metric)) for v in history[metric_key(metric)]])
            best_cost = None if best is None else dev[best]
        metrics = known_metrics({key: values[-1] for key, values in history.items()})
        ranked_at = best if self.config.search.rank_by == "best" and best is not None else -1
        for key in optional_series(metric):  # the figure it is ranked by, at the epoch it is ranked by
            metrics[key] = history[key][ranked_at]
        return task.record(
            TrialStatus.PRUNED,
            dev_cost=dev[-1],
            train_cost=history["train_cost"][-1],
            dev_accuracy=history["dev_accuracy"][-1],
            epochs_run=len(dev),
            seconds=sum(s for s in seconds if s is not None),
            history=history,
            rung=entry.rung,
            value=entry.value,
            best_dev_cost=best_cost,
            best_epoch=best,
            metrics=metrics,
        )


def trials_at_rung(group: Bracket, k: int, promoted: dict[tuple[int, int], list[int]]) -> list[int]:
    """The trials of ``group`` that train to rung ``k``: all of them at its first rung, then those promoted."""
    if k < group.first_rung:
        return []
    if k == group.first_rung:
        return list(group.trials)
    return promoted.get((group.index, k - 1), [])
