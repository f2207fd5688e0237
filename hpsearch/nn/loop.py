"""The mini-batch loop: ``start`` a run at epoch 0, ``fit`` it on to a given epoch, in place.

The state (``nn.state.TrainingState``) holds everything the next epoch reads, so
training 10 epochs, saving, loading elsewhere and training 20 more gives the same
bits as training 30 at once::

    state = start(config, data, keep_best=True)
    fit(state, data, until_epoch=10)
    state.save("trial.npz")
    ...
    state = TrainingState.load("trial.npz")
    fit(state, data, until_epoch=30)
    result = state.result()
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Callable

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.core.records import TrialStatus, as_cost
from hpsearch.nn.heads import make_head
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.metrics import TASKS, as_columns, metric_direction, metric_key, optional_series
from hpsearch.nn.model import Caches, Network
from hpsearch.nn.optimizers import learning_rate_at, make_optimizer
from hpsearch.nn.parameters import Parameters
from hpsearch.nn.state import TrainingState, history_keys

if TYPE_CHECKING:
    from hpsearch.core.dataset import Dataset

EpochCallback = Callable[[int, dict[str, float]], None]
"""``on_epoch(epoch, values)``, epoch 0-based, values keyed by ``history_keys(task)``."""

EXPLOSION_FLOOR = 1e3
"""A mini-batch cost above ``max(EXPLOSION_FACTOR * first cost, EXPLOSION_FLOOR)`` means divergence.

A cross-entropy of 1000 nats per example is a network whose logits have blown
up, far above any cost a healthy run passes through (``log C`` at the start).
"""
EXPLOSION_FACTOR = 10.0

MIN_BATCH_ROWS = 2
"""A last mini-batch with fewer rows joins the one before it (see ``batch_bounds``)."""


class StopTraining(Exception):
    """Raise from on_epoch to stop training after the epoch just reported (state stays consistent, resumable)."""


def start(config: ModelConfig, data: Dataset, *, keep_best: bool = False, best_by: str = "cost") -> TrainingState:
    """A new run of ``config`` on ``data`` at epoch 0: weights and random streams seeded by ``config.seed``.

    ``keep_best`` makes ``fit`` keep a copy of the weights of the best epoch so far. ``best_by``: the ranking
    metric (``nn.metrics.RANKING_METRICS``, ``search.metric``) the best epoch is best by, dev J by default; the
    history keeps its dev series too when it is none of ``history_keys(task)`` (balanced accuracy, macro F1,
    MAE: ``nn.metrics.OPTIONAL_KEYS``), so a run ranked by J keeps the history it always did.

    Raises
    ------
    DataError : the train or dev set has no rows
    """
    _check_rows(data)
    head = make_head(data.task, data.n_outputs, data.target_mean, data.target_scale)
    network = Network.init(data.n_features, data.n_outputs, config, head)
    shuffle_rng, dropout_rng = (
        np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(key,))) for key in (1, 2)
    )
    return TrainingState(
        config=config,
        network=network,
        history={key: [] for key in (*history_keys(data.task), *optional_series(best_by))},
        optimizer=make_optimizer(config, network.params),
        keep_best=keep_best,
        best_by=best_by,
        shuffle_rng=shuffle_rng,
        dropout_rng=dropout_rng,
    )


def fit(state: TrainingState, data: Dataset, until_epoch: int, on_epoch: EpochCallback | None = None) -> TrainingState:
    """Train epochs state.epoch .. until_epoch-1 in place (returns state). Stops early on divergence or
    StopTraining. until_epoch may exceed config.epochs (babysitting trains on); the decay schedule is a
    function of the epoch index.

    Each epoch draws a permutation of the training set from ``state.shuffle_rng``
    and takes its contiguous runs of ``config.batch_size`` rows as mini-batches
    (``batch_bounds``: a last run of one row joins the batch before it), one
    optimizer step each at the epoch's rate, ``learning_rate_at(config, epoch) *
    state.learning_rate_factor``; then it evaluates the dev set and appends to
    ``state.history``. A state that has diverged, or has reached
    ``until_epoch``, is returned unchanged.

    Parameters
    ----------
    state : from ``start`` or ``TrainingState.load``
    data : the same train and dev arrays at every call; cast to ``config.dtype`` here
    until_epoch : number of completed epochs to stop at
    on_epoch : called after each epoch, once ``state`` is fully updated, with its 0-based index and
        its values keyed by ``history_keys(task)``: ``{"train_cost", "dev_cost", "dev_accuracy",
        "learning_rate"}``, and ``dev_rmse``/``dev_r2`` for regression; raise ``StopTraining`` there
        to stop after that epoch. A change it makes to ``state.learning_rate_factor`` applies from
        the next epoch. Its time is not counted in ``epoch_seconds``.

    Raises
    ------
    DataError : ``data`` has no train or dev rows, or not the network's task and numbers of
        features and outputs
    """
    if state.status is not TrialStatus.OK or state.epoch >= until_epoch:
        return state
    prepared = time.perf_counter()
    check_dataset(state, data)
    batches = _Batches(state, data)
    X_dev = np.ascontiguousarray(data.X_dev, dtype=state.network.dtype)
    y_dev = np.asarray(data.y_dev)
    dev_caches = state.network.new_caches()
    setup_seconds = time.perf_counter() - prepared  # counted in this call's first epoch

    # Overflow to inf/nan is an expected outcome (divergence), detected below: no warnings.
    with np.errstate(all="ignore"):
        while state.epoch < until_epoch:
            started = time.perf_counter()
            epoch = state.epoch
            learning_rate = learning_rate_at(state.config, epoch) * state.learning_rate_factor
            train_cost, diverged = batches.train_epoch(learning_rate)
            metrics = state.network.metrics(X_dev, y_dev, dev_caches, state.history)  # the history's series
            diverged = diverged or not math.isfinite(metrics["dev_cost"])
            values = record_epoch(state, train_cost, metrics, learning_rate, diverged)
            state.epoch_seconds.append(time.perf_counter() - started + setup_seconds)
            setup_seconds = 0.0
            if on_epoch is not None:
                try:
                    on_epoch(epoch, values)
                except StopTraining:
                    break
            if diverged:
                break
    return state


class _Batches:
    """One run's mini-batches: the training arrays cast once, and the buffers each batch is gathered into.

    Each mini-batch is gathered into two buffers (a smaller batch uses their
    leading rows). A shuffled copy of the whole set would cost a second array as
    large as X, whose fresh pages are slow to fault in on big sets; a gather per
    batch moves the same bytes and leaves the batch in cache for the first matmul.
    """

    def __init__(self, state: TrainingState, data: Dataset):
        network = state.network
        self.state = state
        self.X = np.ascontiguousarray(data.X_train, dtype=network.dtype)
        self.Y = network.targets(data.y_train)  # one-hot, or standardized regression targets
        self.bounds = batch_bounds(self.X.shape[0], state.config.batch_size)
        self.buffer_rows = max(stop - begin for begin, stop in self.bounds)
        self.X_batch = np.empty((self.buffer_rows, self.X.shape[1]), network.dtype)
        self.Y_batch = np.empty((self.buffer_rows, network.n_classes), network.dtype)
        self.caches_by_size: dict[int, Caches] = {}
        self.grads = Parameters.zeros_like(network.params)

    def train_epoch(self, learning_rate: float) -> tuple[float, bool]:
        """One epoch of optimizer steps in a fresh order; ``(train J, diverged)``.

        The first mini-batch cost of a run sets the divergence threshold; a batch
        cost at or above it (or NaN) stops the epoch there, as diverged.
        """
        state, network = self.state, self.state.network
        order = state.shuffle_rng.permutation(self.X.shape[0])
        cost_sum, n_batches = 0.0, 0
        for begin, stop in self.bounds:
            rows = order[begin:stop]
            size = stop - begin
            x, y = (
                (self.X_batch, self.Y_batch) if size == self.buffer_rows else (self.X_batch[:size], self.Y_batch[:size])
            )
            # mode="clip" (a no-op for valid indices) lets `take` write straight into `out`;
            # the default mode gathers into a temporary first.
            np.take(self.X, rows, axis=0, out=x, mode="clip")
            np.take(self.Y, rows, axis=0, out=y, mode="clip")
            caches = self.caches_by_size.get(size)
            if caches is None:
                caches = self.caches_by_size[size] = network.new_caches()
            cost = network.loss_and_gradients(x, y, self.grads, caches, state.dropout_rng)
            cost_sum += cost
            n_batches += 1
            if n_batches == 1 and state.epoch == 0:
                state.cost_limit = divergence_limit(cost)
            if not cost < state.cost_limit:  # true for NaN and for +inf (even when the limit is inf)
                return cost_sum / n_batches, True
            state.optimizer.step(network.params, self.grads, learning_rate)
        return cost_sum / n_batches, False


def divergence_limit(first_cost: float) -> float:
    """The cost at or above which a run has diverged, set by its first mini-batch cost (alone or in a pack)."""
    return max(EXPLOSION_FACTOR * first_cost, EXPLOSION_FLOOR)


def record_epoch(
    state: TrainingState, train_cost: float, metrics: dict[str, float], learning_rate: float, diverged: bool
) -> dict[str, float]:
    """Append an epoch's values to the history, count it, and update the status or the best epoch.

    The one bookkeeping of an epoch, alone (``fit``) or in a pack (``nn.stacked``), on a state
    whose network is already updated; returns the values as ``on_epoch`` gets them
    (``history_keys(task)``: train cost, the head's dev ``metrics``, the learning rate).
    """
    values = {"train_cost": train_cost, **metrics, "learning_rate": learning_rate}
    values = {key: values[key] for key in state.history}
    for key, value in values.items():
        state.history[key].append(value)
    epoch = state.epoch
    state.epoch = epoch + 1
    dev_cost = values["dev_cost"]
    if diverged:
        state.status = TrialStatus.DIVERGED
    elif _better(state, values, dev_cost):
        state.best_epoch, state.best_dev_cost = epoch, dev_cost
        if state.keep_best:
            state.best_weights = state.network.state()
    return values


def _better(state: TrainingState, values: dict[str, float], dev_cost: float) -> bool:
    """Whether the epoch just recorded beats the best so far: by dev J, or by ``state.best_by`` in its direction
    (a non-finite value never beats; ties keep the earlier epoch)."""
    if state.best_by == "cost":
        return state.best_dev_cost is None or dev_cost < state.best_dev_cost
    key, direction = metric_key(state.best_by), metric_direction(state.best_by)
    value = as_cost(values[key], direction)
    if state.best_epoch is None:
        return value < math.inf
    return value < as_cost(state.history[key][state.best_epoch], direction)


def batch_bounds(m: int, batch_size: int) -> list[tuple[int, int]]:
    """``(begin, stop)`` of each mini-batch over ``m`` shuffled rows.

    Contiguous runs of ``batch_size`` rows, the last one shorter when
    ``batch_size`` does not divide ``m``. A last run shorter than both
    ``batch_size`` and ``MIN_BATCH_ROWS`` (one row, when batches are larger)
    joins the batch before it: batch norm would see
    zero variance there (no gradient to W and gamma, a running variance shrunk
    just before evaluation) and its L2 term would weigh 1/1 instead of 1/m.
    65 rows in batches of 32 are two batches, of 32 and 33.
    """
    stops = [*range(batch_size, m, batch_size), m]
    if len(stops) > 1 and stops[-1] - stops[-2] < min(MIN_BATCH_ROWS, batch_size):
        del stops[-2]
    return list(zip([0, *stops[:-1]], stops))


def check_dataset(state: TrainingState, data: Dataset) -> None:
    """DataError unless ``data`` has train and dev rows and the state's task and numbers of features and outputs."""
    _check_rows(data)
    network = state.network
    if data.task != network.task:
        raise DataError(f"dataset {data.name!r} is for {data.task}; this training state is a {network.task} network")
    if (data.n_features, data.n_outputs) != (network.n_features, network.n_classes):
        outputs = "targets" if data.task == "regression" else "classes"
        raise DataError(
            f"dataset {data.name!r} has {data.n_features} features and {data.n_outputs} {outputs}; "
            f"this training state has {network.n_features} and {network.n_classes}"
        )


def _check_rows(data: Dataset) -> None:
    """DataError unless both parts have rows, and a known task (regression: one target column per name)."""
    if len(data.y_train) == 0 or len(data.y_dev) == 0:
        raise DataError(f"dataset {data.name!r}: the train and dev sets both need at least one row")
    if data.task not in TASKS:
        raise DataError(f"dataset {data.name!r}: task must be one of {', '.join(TASKS)}, got {data.task!r}")
    if data.task == "regression" and {as_columns(y).shape[1] for y in (data.y_train, data.y_dev)} != {data.n_outputs}:
        raise DataError(
            f"dataset {data.name!r}: regression targets need one column per target name "
            f"({data.n_outputs}: {', '.join(data.target_names)}), "
            f"got shapes {np.shape(data.y_train)}, {np.shape(data.y_dev)}"
        )
