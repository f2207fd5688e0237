"""A segment: one trial trained from where it stands to a given epoch, as a side-effect-free function.

The unit of work is a *segment*: one trial trained from where it stands (a
fresh start, or a checkpointed training state) to a given epoch — its last
epoch, or the next rung of early stopping. ``train_segment`` returns a plain
outcome (the new epochs, the state to checkpoint, the weights to keep) and
turns any exception into a ``failed`` outcome; only the parent process stores
it, so checkpoints travel with the segments and remote workers need no shared folder.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import HpsearchError, RunError
from hpsearch.core.memory import shortfall, training_bytes
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, as_cost
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.nn.hyperparams import ModelConfig, engine_values
from hpsearch.nn.loop import fit, start
from hpsearch.nn.metrics import metric_direction, metric_key, optional_series
from hpsearch.nn.state import TrainingState
from hpsearch.space.samplers import plan_round, trial_seed
from hpsearch.space.search_space import Space


@dataclass(frozen=True)
class TrialTask:
    """One planned trial: where it sits in the run, its searched values and its training seed."""

    trial: int
    round: int
    index: int
    params: dict[str, Any]
    seed: int

    def record(self, status: TrialStatus, **results: Any) -> TrialRecord:
        """This trial's record, with the given status and result fields."""
        return TrialRecord(self.trial, self.round, self.index, self.params, self.seed, status, **results)


@dataclass(frozen=True)
class Segment:
    """Train ``task`` from ``checkpoint`` (``TrainingState.to_arrays()``; None: from scratch) to ``until_epoch``
    (None: the trial's own ``epochs``).

    ``final``: this is the trial's last segment (its top rung); otherwise the
    outcome carries the state to checkpoint. ``rank_by`` says which weights a
    final ok outcome hands back: the last epoch's or the best epoch's. ``metric`` (``search.metric``) is what
    the trial is ranked by, and its best epoch best by: J (``cost``), or a dev figure, as a cost (maximized ones
    negated). ``fold``: with ``data.cv``, the fold it trains (on that fold's arrays, with its own seed); None
    without.
    """

    task: TrialTask
    until_epoch: int | None
    checkpoint: Mapping[str, np.ndarray] | None = None
    final: bool = True
    rank_by: str = "last"
    metric: str = "cost"
    fold: int | None = None

    @property
    def seed(self) -> int:
        """The training seed: the trial's, or with ``data.cv`` the fold's own, derived from it (``fold_seed``)."""
        return self.task.seed if self.fold is None else fold_seed(self.task.seed, self.fold)


def fold_seed(seed: int, fold: int) -> int:
    """Fold ``fold``'s training seed in a trial of seed ``seed``: a pure function of both, so a fold's result
    does not depend on which worker trains it or when."""
    return int(np.random.SeedSequence([seed, fold], spawn_key=(_FOLD_SEED_STREAM,)).generate_state(1, np.uint32)[0])


_FOLD_SEED_STREAM = 0xF01D


@dataclass(frozen=True)
class SegmentOutcome:
    """What a segment trained.

    ``first_epoch`` and ``history``/``epoch_seconds``: the epochs this segment
    added; ``summary``: the whole trial so far (last epoch's costs, best epoch,
    every epoch's history, total seconds), None when it failed before training;
    ``state``: the whole training state (ok outcomes): a checkpoint to go on
    from, or the best trial's state that babysitting continues;
    ``weights``: the network to keep as best model (final and ok).
    ``cv``: with ``data.cv``, the folds' figures for the record's metrics (``execution.folds``).
    """

    segment: Segment
    status: TrialStatus
    first_epoch: int = 0
    history: dict[str, list[float]] | None = None
    epoch_seconds: list[float] | None = None
    summary: Any = None
    state: dict[str, np.ndarray] | None = None
    weights: dict[str, np.ndarray] | None = None
    error: str | None = None
    cv: dict[str, float] | None = None

    @property
    def task(self) -> TrialTask:
        return self.segment.task

    def value(self) -> float:
        """The ranking value at the end of this segment (``rank_by``): last or best dev J; NaN if none. Under a
        ``metric`` other than cost: its dev value at the last or the best epoch (best by that metric) as a cost
        (``core.records.as_cost``: maximized ones negated)."""
        if self.summary is None:
            return float("nan")
        metric = self.segment.metric
        if metric != "cost":
            epoch = self.summary.best_epoch if self.segment.rank_by == "best" else -1
            if epoch is None:
                return float("nan")
            return as_cost(self.summary.history[metric_key(metric)][epoch], metric_direction(metric))
        if self.segment.rank_by == "best":
            best = self.summary.best_dev_cost
            return float("nan") if best is None else best
        return self.summary.dev_cost

    def record(self, status: TrialStatus | None = None, rung: int | None = None) -> TrialRecord:
        """The trial's final record from this outcome (``status`` overrides, e.g. pruned)."""
        status = status or self.status
        if self.summary is None:
            return self.task.record(status, error=self.error, rung=rung)
        r = self.summary
        # A regression's dev RMSE and R² (in the target's units) ride with the record's metrics.
        metrics = {} if r.dev_rmse is None else {"dev_rmse": r.dev_rmse, "dev_r2": r.dev_r2}
        metrics.update(self.cv or {})
        for key in optional_series(self.segment.metric):  # the figure a trial is ranked by rides with them:
            best = self.segment.rank_by == "best" and r.best_epoch is not None  # at the epoch it is ranked by
            metrics[key] = r.history[key][r.best_epoch if best else -1]
        return self.task.record(
            status,
            dev_cost=r.dev_cost,
            train_cost=r.train_cost,
            dev_accuracy=r.dev_accuracy,
            epochs_run=r.epochs_run,
            seconds=r.seconds,
            history=r.history,
            error=self.error,
            rung=rung,
            value=self.value(),
            best_dev_cost=r.best_dev_cost,
            best_epoch=r.best_epoch,
            metrics=metrics,
        )


def plan_tasks(rnd: RoundRecord, *, seed: int, grid_points: int) -> list[TrialTask]:
    """Every trial of a round, a pure function of the stored round and the search seed."""
    space = Space.from_json(rnd.space)
    planned = plan_round(
        space,
        rnd.n_trials,
        seed=seed,
        round=rnd.round,
        sampler=rnd.sampler,
        grid_points=grid_points,
        planned=rnd.planned,
        enqueued=rnd.enqueued,
    )
    return [
        TrialTask(rnd.first_trial + i, rnd.round, i, params, trial_seed(seed, rnd.round, i))
        for i, params in enumerate(planned)
    ]


def cached_dataset(data: PreparedData | Dataset, fold: int | None = None) -> Dataset:
    """The arrays a trial trains on. Workers never read data files: they get prepared arrays.

    A local worker gets a small handle (a run's ``PreparedData``), opened
    memory-mapped once per process, so no trial pays for shipping the data;
    a dask worker gets the arrays themselves (a ``Dataset``), sent once. ``fold``: which fold's arrays (``data.cv``).
    """
    if isinstance(data, Dataset):
        return data.folds[fold - 1] if fold else data
    if isinstance(data, PreparedData):
        return data.fold(fold or 0).load()
    raise TypeError(f"a trial trains on prepared arrays (PreparedData or Dataset), got {type(data).__name__}")


@functools.lru_cache(maxsize=1)
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread: workers do not oversubscribe the cores, and the
    arithmetic (hence J) is the same whatever the number of workers."""
    return _threadpools().limit(limits=1, user_api="blas")


def segment_config(segment: Segment, model: dict[str, Any]) -> ModelConfig:
    """The network a segment trains: the run's fixed model settings, the trial's values and its seed."""
    return ModelConfig.from_dict({**model, **engine_values(segment.task.params), "seed": segment.seed})


def train_segment(
    segment: Segment,
    model: dict[str, Any],
    data: PreparedData | Dataset,
    between_epochs: Callable[[], None] | None = None,
) -> SegmentOutcome:
    """Train one segment with one BLAS thread. Never raises for a bad trial: it comes back ``failed``.
    ``between_epochs``: called after each epoch (it must not raise; it cannot change the outcome)."""
    on_epoch = None if between_epochs is None else (lambda epoch, values: between_epochs())
    try:
        dataset = cached_dataset(data, segment.fold)
        with one_blas_thread():
            state = begin_segment(segment, model, dataset)
            first_epoch = state.epoch
            fit(state, dataset, until_epoch(segment, state), on_epoch)
    except Exception as exc:  # noqa: BLE001 — any error of a trial is its result, not the search's end
        return failed_outcome(segment, exc)
    return segment_outcome(segment, state, first_epoch)


def begin_segment(segment: Segment, model: dict[str, Any], dataset: Dataset) -> TrainingState:
    """The state a segment starts from: its checkpoint, or a new network (checked to fit in memory first)."""
    if segment.checkpoint is not None:
        return TrainingState.from_arrays(segment.checkpoint)
    config = segment_config(segment, model)
    check_fits(config, dataset, keep_best=segment.rank_by == "best")
    return start(config, dataset, keep_best=segment.rank_by == "best", best_by=segment.metric)


def until_epoch(segment: Segment, state: TrainingState) -> int:
    """The epoch a segment trains to: its own, else the trial's last."""
    return state.config.epochs if segment.until_epoch is None else segment.until_epoch


def failed_outcome(segment: Segment, exc: Exception) -> SegmentOutcome:
    """A segment that raised: ``failed``, with the first line of the error."""
    text = str(exc) if isinstance(exc, HpsearchError) else f"{type(exc).__name__}: {exc}"
    return SegmentOutcome(segment, TrialStatus.FAILED, error=(text.splitlines() or [""])[0])


def segment_outcome(segment: Segment, state: TrainingState, first_epoch: int) -> SegmentOutcome:
    """What a segment trained, from its state after training (alone or in a pack: the same bits)."""
    summary = state.result()
    status = summary.status
    added = {key: values[first_epoch:] for key, values in state.history.items()}
    ok = status is TrialStatus.OK
    weights = None
    if ok and segment.final:
        best = state.best_weights if segment.rank_by == "best" else None
        weights = best if best is not None else state.network.state()
    return SegmentOutcome(
        segment,
        status,
        first_epoch=first_epoch,
        history=added,
        epoch_seconds=state.epoch_seconds[first_epoch:],
        summary=summary,
        state=state.to_arrays() if ok else None,
        weights=weights,
    )


def check_fits(config: ModelConfig, data: Dataset, *, keep_best: bool) -> None:
    """Raise RunError, before anything is allocated, when training ``config`` on ``data`` cannot fit in memory."""
    moments = {"gd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}[config.optimizer]
    needed = training_bytes(
        config.hidden_sizes,
        n_features=data.n_features,
        n_classes=data.n_classes,
        n_train=len(data.y_train),
        n_dev=len(data.y_dev),
        batch_size=config.batch_size,
        itemsize=np.dtype(config.dtype).itemsize,
        optimizer_moments=moments,
        keep_best=keep_best,
    )
    too_much = shortfall(needed)
    if too_much:
        raise RunError(f"a network of hidden layers {list(config.hidden_sizes)} {too_much}")
