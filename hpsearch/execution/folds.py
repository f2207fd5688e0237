"""Cross-validation (``data.cv: K``): a trial as K fold segments, and their K outcomes as one.

Each fold of a trial is a segment of its own (``Segment.fold``): it trains on
that fold's arrays (``PreparedData.fold``) with a seed derived from the trial's
(``segments.fold_seed``), so a fold's bits do not depend on the worker, the
pack or the order it ran in. Folds of one fold index stack with other trials'
(same arrays); the K folds of a trial run side by side on the workers.
``combine`` makes the trial's outcome from its K: every figure the record
holds is the mean over the folds (J, accuracy, RMSE, the history epoch by
epoch), so ranking, zoom, TPE, importance and plots work on fold means as they
are; the per-fold J and their spread ride in the record's metrics.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Iterator

import numpy as np

from hpsearch.core.records import TrialStatus
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.segments import Segment, SegmentOutcome, TrialTask, train_segment

CV_FOLDS = "cv_folds"
CV_STD = "cv_std"
"""Metrics keys of a cross-validated trial: its folds, and the spread (std, ddof 0) of the folds' values;
``cv_dev_cost_<k>`` holds fold k's value (last or best dev J, as ``search.rank_by``)."""


def fold_value(k: int) -> str:
    """The metrics key of fold ``k``'s value."""
    return f"cv_dev_cost_{k}"


def trial_segments(tasks: Iterable[TrialTask], folds: int, rank_by: str, metric: str = "cost") -> list[Segment]:
    """The segments that train ``tasks`` to their last epoch, ranked by ``metric``: one each, or with ``data.cv``
    (``folds`` > 1) one per fold, fold by fold."""
    if folds == 1:
        return [Segment(task, None, rank_by=rank_by, metric=metric) for task in tasks]
    return [Segment(task, None, rank_by=rank_by, metric=metric, fold=k) for task in tasks for k in range(folds)]


def whole_trials(outcomes: Iterable[SegmentOutcome], folds: int) -> Iterator[SegmentOutcome]:
    """``outcomes`` as they come, a trial's folds held back until its ``folds`` are in and then yielded as one
    (``combine``); a trial is told apart by its id and seed (confirm's repeats of one trial differ by seed)."""
    waiting: dict[tuple[int, int], list[SegmentOutcome]] = {}
    for outcome in outcomes:
        if outcome.segment.fold is None:
            yield outcome
            continue
        key = (outcome.task.trial, outcome.task.seed)
        waiting.setdefault(key, []).append(outcome)
        if len(waiting[key]) == folds:
            yield combine(waiting.pop(key))


def train_trial(
    task: TrialTask, model: dict[str, Any], data: PreparedData, rank_by: str, metric: str = "cost"
) -> SegmentOutcome:
    """Train one trial here, to its last epoch: its one segment, or its folds one after another, combined."""
    folds = data.n_folds()
    outcomes = [train_segment(segment, model, data) for segment in trial_segments([task], folds, rank_by, metric)]
    return next(whole_trials(outcomes, folds))


def mean(values: Iterable[float]) -> float:
    """The folds' mean, exactly rounded (``math.fsum``): the same whatever order the folds finished in."""
    values = list(values)
    return math.fsum(values) / len(values)


def combine(outcomes: list[SegmentOutcome]) -> SegmentOutcome:
    """One trial's outcome from its folds' (in fold order): failed if a fold failed, diverged if one diverged;
    figures the folds' means; the model kept (``weights``, ``state``) fold 0's, whose preparation is the run's."""
    outcomes = sorted(outcomes, key=lambda o: o.segment.fold)
    first = outcomes[0]
    segment = dataclasses.replace(first.segment, fold=None)
    failed = next((o for o in outcomes if o.status is TrialStatus.FAILED), None)
    if failed is not None or any(o.summary is None for o in outcomes):
        error = failed.error if failed is not None else "a fold did not train"
        return SegmentOutcome(segment, TrialStatus.FAILED, error=error)
    status = TrialStatus.DIVERGED if any(o.status is TrialStatus.DIVERGED for o in outcomes) else first.status
    summaries = [o.summary for o in outcomes]
    epochs = min(s.epochs_run for s in summaries)
    history = {
        key: [mean(s.history[key][e] for s in summaries) for e in range(epochs)]
        for key in first.summary.history
        if all(key in s.history for s in summaries)
    }
    finite = [(c, e) for e, c in enumerate(history["dev_cost"]) if math.isfinite(c)]
    best_cost, best_epoch = min(finite) if finite else (None, None)
    regression = {
        k: mean(getattr(s, k) for s in summaries) for k in ("dev_rmse", "dev_r2") if first.summary.dev_rmse is not None
    }
    summary = dataclasses.replace(
        first.summary,
        status=status,
        train_cost=history["train_cost"][-1],
        dev_cost=history["dev_cost"][-1],
        dev_accuracy=history["dev_accuracy"][-1],
        epochs_run=epochs,
        seconds=math.fsum(s.seconds for s in summaries),
        history=history,
        best_dev_cost=best_cost,
        best_epoch=best_epoch,
        **regression,
    )
    values = [o.value() for o in outcomes]
    cv = {CV_FOLDS: float(len(outcomes)), **{fold_value(k): v for k, v in enumerate(values)}}
    if all(math.isfinite(v) for v in values):
        cv[CV_STD] = float(np.std(values))
    seconds = [math.fsum(o.epoch_seconds[e] for o in outcomes) for e in range(epochs)]
    return SegmentOutcome(
        segment,
        status,
        history=history,
        epoch_seconds=seconds,
        summary=summary,
        state=first.state,
        weights=first.weights if status is TrialStatus.OK else None,
        cv=cv,
    )
