"""Training a pack of networks of one shape at once, each exactly as ``fit`` trains it alone.

A search trains many networks that differ only in per-model values (learning
rate, β's, ε, L2 strength, decay rate, BN momentum, keep_prob, seed). Networks
whose ``stack_key`` agrees can share every NumPy call of a training step
(``stacked_model``), which on small networks is most of the step's cost::

    states = [start(config, data) for config in configs]  # one stack_key
    fit_stacked(states, data, until_epoch=10)
    states[0].save("trial-0.npz")  # the same bits as fit(start(configs[0], data), data, 10)

Every model keeps its own mini-batch order, dropout masks and divergence
threshold; a model that diverges leaves the pack in the epoch where it would
have stopped alone, and ``StopTraining`` from ``on_epoch`` stops only its model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Callable

import numpy as np

from hpsearch.core.records import TrialStatus
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.layers import cached_array
from hpsearch.nn.loop import StopTraining, batch_bounds, check_dataset, divergence_limit, record_epoch
from hpsearch.nn.optimizers import learning_rate_at
from hpsearch.nn.stacked_model import StackedNetwork, StackedOptimizer
from hpsearch.nn.state import TrainingState

if TYPE_CHECKING:
    from hpsearch.core.dataset import Dataset

PackCallback = Callable[[int, int, dict[str, float]], None]
"""``on_epoch(k, epoch, values)``: model ``states[k]`` finished 0-based ``epoch``; values as for ``fit``."""

DEV_CHUNK_ELEMENTS = 1 << 22
"""The dev set is evaluated for as many models at once as keep one layer's (models, rows, units) below this."""


def stack_key(config: ModelConfig, n_features: int, n_classes: int, task: str = "classification") -> tuple:
    """What configs must share to train in one pack.

    The key holds every value that sets an array's shape or the sequence of
    operations of a step: layer sizes, batch size, activation, batch norm,
    whether dropout is on (``keep_prob < 1``), whether L2 is on (``l2 > 0``:
    alone, ``l2 = 0`` skips the term; adding ``0 * W`` is not always a no-op,
    ``0 * inf`` being NaN), optimizer, dtype and class weighting (the pack's training targets).
    Everything else may differ,
    the decay schedule included (each model's rate is computed alone, once an
    epoch). Every config can stack, a regression's (``task``) as a classifier's.
    """
    return (
        task,
        n_features,
        n_classes,
        config.hidden_sizes,
        config.batch_size,
        config.activation,
        config.batchnorm,
        config.keep_prob < 1.0,
        config.l2 > 0.0,
        config.optimizer,
        config.dtype,
        config.class_weight,  # one set of training targets for the pack
    )


class _Pack:
    """The models ``members`` (indices into the caller's states) as one stacked network and optimizer."""

    def __init__(self, states: Sequence[TrainingState], members: list[int]):
        self.members = members
        chosen = [states[k] for k in members]
        self.network = StackedNetwork([s.network for s in chosen])
        self.optimizer = StackedOptimizer([s.optimizer for s in chosen], self.network.dtype)
        self.buffers: dict[str, np.ndarray] = {}

    def select(self, rows: np.ndarray) -> None:
        """Keep only the models at pack rows ``rows``."""
        self.network.select(rows)
        self.optimizer.select(rows)
        self.members = [self.members[i] for i in rows]

    def write_back(self, states: Sequence[TrainingState], rows: Sequence[int]) -> None:
        """Copy pack rows ``rows`` into their states' network and optimizer."""
        chosen = [states[self.members[i]] for i in rows]
        self.network.write_back([s.network for s in chosen], rows)
        self.optimizer.write_back([s.optimizer for s in chosen], rows)


class _Data:
    """The dataset cast once to the pack's dtype, and its mini-batch bounds."""

    def __init__(self, data: Dataset, state: TrainingState):
        network = state.network
        dtype = network.dtype
        self.X = np.ascontiguousarray(data.X_train, dtype=dtype)
        self.Y = network.targets(data.y_train)  # one-hot, or standardized regression targets
        self.X_dev = np.ascontiguousarray(data.X_dev, dtype=dtype)
        self.y_dev = np.asarray(data.y_dev)
        self.bounds = batch_bounds(self.X.shape[0], state.config.batch_size)
        width = max((*state.config.hidden_sizes, network.n_classes))
        self.dev_chunk = max(1, DEV_CHUNK_ELEMENTS // (len(self.y_dev) * width))


def fit_stacked(
    states: Sequence[TrainingState],
    data: Dataset,
    until_epoch: int | Sequence[int],
    on_epoch: PackCallback | None = None,
) -> None:
    """Advance every state in place exactly as ``fit(state, data, until_epoch)`` would alone.

    The same history, weights, batch-norm averages, optimizer moments and step
    count, random streams, ``cost_limit``, ``status``, ``best_epoch`` and
    ``best_weights`` as training each alone; only ``epoch_seconds`` differs (a
    pack epoch's time, shared equally by the models in it). States may be at
    different epochs; one that diverged or has reached its ``until_epoch`` is
    left unchanged.

    Parameters
    ----------
    states : distinct states whose ``stack_key`` agrees
    data : as for ``fit``
    until_epoch : one epoch count for all, or one per state
    on_epoch : ``on_epoch(k, epoch, values)`` after model k's epoch, once every model of the pack has
        finished that epoch and all their states are updated; ``StopTraining`` raised there stops
        model k only. A change to ``states[k].learning_rate_factor`` applies from its next epoch.

    Raises
    ------
    ValueError : the states do not share one ``stack_key``, a state appears twice, or
        ``until_epoch`` has not one entry per state
    DataError : as for ``fit``
    """
    until = [until_epoch] * len(states) if isinstance(until_epoch, int) else list(until_epoch)
    _check_pack(states, until)
    active = [k for k, state in enumerate(states) if state.status is TrialStatus.OK and state.epoch < until[k]]
    if not active:
        return
    for state in states:
        check_dataset(state, data)
    prepared = _Data(data, states[0])
    pack = None
    with np.errstate(all="ignore"):  # overflow is an expected outcome (divergence), detected per model
        while active:
            if pack is None or pack.members != active:
                pack = _Pack(states, active)
            stopped = _train_epoch(pack, states, prepared, on_epoch)
            active = [k for k in pack.members if k not in stopped and states[k].epoch < until[k]]


def _check_pack(states: Sequence[TrainingState], until: list[int]) -> None:
    if len(until) != len(states):
        raise ValueError(f"until_epoch has {len(until)} entries for {len(states)} states")
    if len({id(state) for state in states}) != len(states):
        raise ValueError("a state appears twice in the pack")
    keys = {stack_key(s.config, s.network.n_features, s.network.n_classes, s.network.task) for s in states}
    if len(keys) > 1:
        different = sorted(map(str, keys))
        raise ValueError(f"states of one pack must share one stack_key, got {len(keys)} different: {different}")


def _train_epoch(pack: _Pack, states: Sequence[TrainingState], data: _Data, on_epoch: PackCallback | None) -> set[int]:
    """One epoch of every model in the pack (a diverging one leaves it); returns the models stopped by on_epoch."""
    started = time.perf_counter()
    size = pack.network.size
    chosen = [states[k] for k in pack.members]
    epochs = {k: states[k].epoch for k in pack.members}
    rates = {k: learning_rate_at(s.config, s.epoch) * s.learning_rate_factor for k, s in zip(pack.members, chosen)}
    orders = np.stack([s.shuffle_rng.permutation(data.X.shape[0]) for s in chosen])  # (K, m)
    rngs = [s.dropout_rng for s in chosen]
    limits = np.array([s.cost_limit for s in chosen])
    cost_sums = np.zeros(size)
    pack.optimizer.set_rates([rates[k] for k in pack.members])
    finished: list[tuple[int, float, dict[str, float], bool]] = []  # model, train J, dev metrics, diverged

    for n_batches, (begin, stop) in enumerate(data.bounds, 1):
        x, y = _gather(pack, data, orders[:, begin:stop])
        network = pack.network
        costs = network.loss_and_gradients(x, y, network.grads, network.caches(stop - begin), rngs)
        cost_sums += costs
        if n_batches == 1:
            for i, k in enumerate(pack.members):
                if epochs[k] == 0:
                    limits[i] = states[k].cost_limit = divergence_limit(float(costs[i]))
        bad = ~(costs < limits)  # true for NaN and for +inf (even when the limit is inf)
        if bad.any():
            rows = np.flatnonzero(bad)
            pack.write_back(states, rows)
            for i in rows:
                k = pack.members[i]
                metrics = states[k].network.metrics(data.X_dev, data.y_dev, keys=states[k].history)
                finished.append((k, float(cost_sums[i]) / n_batches, metrics, True))
            keep = np.flatnonzero(~bad)
            pack.select(keep)
            orders, limits, cost_sums = orders[keep], limits[keep], cost_sums[keep]
            rngs = [rngs[i] for i in keep]
            if not pack.members:
                break
        pack.optimizer.step(pack.network.params, pack.network.grads)

    if pack.members:
        n_batches = len(data.bounds)
        dev = _evaluate(pack, data, {key for k in pack.members for key in states[k].history})
        pack.write_back(states, range(len(pack.members)))
        for i, k in enumerate(pack.members):
            metrics = {key: float(values[i]) for key, values in dev.items()}
            finished.append((k, float(cost_sums[i]) / n_batches, metrics, not math.isfinite(metrics["dev_cost"])))
    seconds = (time.perf_counter() - started) / size
    reports = []
    for k, train_cost, metrics, diverged in finished:
        values = record_epoch(states[k], train_cost, metrics, rates[k], diverged)
        states[k].epoch_seconds.append(seconds)
        reports.append((k, values))
    return _report(reports, epochs, on_epoch)


def _gather(pack: _Pack, data: _Data, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each model's mini-batch rows (K, size) of X and Y, gathered into the pack's buffers."""
    K, size = rows.shape
    x = cached_array(pack.buffers, f"x{size}", (K, size, data.X.shape[1]), data.X.dtype)
    y = cached_array(pack.buffers, f"y{size}", (K, size, data.Y.shape[1]), data.Y.dtype)
    np.take(data.X, rows, axis=0, out=x, mode="clip")  # "clip" writes straight into `out`, as in nn.loop
    np.take(data.Y, rows, axis=0, out=y, mode="clip")
    return x, y


def _evaluate(pack: _Pack, data: _Data, keys: Container[str]) -> dict[str, np.ndarray]:
    """The head's dev metrics of every model (those of ``keys`` among the optional ones), (K,) each,
    ``data.dev_chunk`` models at a time."""
    chunks = []
    for begin in range(0, pack.network.size, data.dev_chunk):
        chunks.append(
            pack.network.rows(slice(begin, begin + data.dev_chunk)).metrics(data.X_dev, data.y_dev, keys=keys)
        )
    return {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}


def _report(
    finished: list[tuple[int, dict[str, float]]], epochs: dict[int, int], on_epoch: PackCallback | None
) -> set[int]:
    """Call on_epoch for each model that finished the epoch, in model order; the models it stopped."""
    stopped = set()
    if on_epoch is None:
        return stopped
    for k, values in sorted(finished, key=lambda item: item[0]):
        try:
            on_epoch(k, epochs[k], values)
        except StopTraining:
            stopped.add(k)
    return stopped


# ------------------------------------------------------------------ pack sizing

MOMENT_BUFFERS = {"gd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}

PAYING_WORK = 2_000_000
"""Multiply-adds of one model's training step (batch x weights) above which stacking stops paying.

Measured by ``benchmarks/bench_stacked.py`` (one BLAS thread): spirals [100, 100]
batch 32 (0.34 M) and digits [64, 64] batch 64 (0.57 M) gain 1.3-1.7x; the
784-input [256, 128] batch 128 net (30 M) loses 7-20 % at every K, its step
being matrix products that stacking cannot shorten.
"""

LARGEST_PACK = 16
"""Largest useful pack: on both small shapes K = 16 gains most and K = 64 less (its arrays leave the cache)."""


def pack_bytes(config: ModelConfig, n_features: int, n_classes: int, n_rows: int, n_dev_rows: int, size: int) -> int:
    """An upper estimate of the memory ``fit_stacked`` allocates for a pack of ``size`` models.

    Counts the (size, parameters) buffers (weights, gradients, scratch, L2
    scratch, optimizer moments), the per-batch caches of two batch sizes
    (the regular one and a merged last one), the shuffled orders, and the
    dev-set evaluation (bounded by ``DEV_CHUNK_ELEMENTS``). The dataset
    itself, cast once to the dtype, and each state's own copy of its
    weights are not included: they exist with or without stacking.
    """
    itemsize = np.dtype(config.dtype).itemsize
    hidden = config.hidden_sizes
    sizes = [n_features, *hidden, n_classes]
    n_params = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + 2 * sum(hidden) + n_classes
    parameter_buffers = 4 + MOMENT_BUFFERS[config.optimizer]
    batch_rows = 3 * min(config.batch_size, n_rows)  # a full batch plus a merged last one (< 2 batches)
    units_per_row = 2 * n_features + 12 * sum(hidden) + 8 * n_classes
    per_model = (parameter_buffers * n_params + batch_rows * units_per_row) * itemsize + 8 * n_rows
    width = max((*hidden, n_classes))
    dev_models = min(size, max(1, DEV_CHUNK_ELEMENTS // max(1, n_dev_rows * width)))
    dev = dev_models * n_dev_rows * (6 * sum(hidden) + 6 * n_classes) * itemsize
    return size * per_model + dev


def max_pack_size(
    config: ModelConfig,
    n_features: int,
    n_classes: int,
    n_rows: int,
    n_dev_rows: int = 0,
    memory_bytes: int | None = None,
) -> int:
    """How many models of this shape to train per pack: 1 where stacking does not pay.

    Stacking saves the fixed cost of each NumPy call, about the same for
    every network; it pays while that cost is a large part of a step, that
    is while a step's arithmetic (``batch_size x weights`` multiply-adds)
    is small. Above ``PAYING_WORK`` the pack is 1. Below, the cap is
    ``LARGEST_PACK``, lowered so that ``pack_bytes`` stays within
    ``memory_bytes`` when given (never below 1).
    """
    sizes = [n_features, *config.hidden_sizes, n_classes]
    work = min(config.batch_size, n_rows) * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if work > PAYING_WORK:
        return 1
    size = LARGEST_PACK
    if memory_bytes is not None:
        while size > 1 and pack_bytes(config, n_features, n_classes, n_rows, n_dev_rows, size) > memory_bytes:
            size //= 2
    return size
