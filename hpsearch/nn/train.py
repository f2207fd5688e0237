"""Mini-batch training of one network: the hot path of every trial."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Callable

import numpy as np

from hpsearch.errors import DataError
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.losses import one_hot
from hpsearch.nn.model import Caches, Network
from hpsearch.nn.optimizers import learning_rate_at, make_optimizer
from hpsearch.nn.parameters import Parameters
from hpsearch.records import TrainResult, TrialStatus

if TYPE_CHECKING:  # annotations only: hpsearch.data imports the engine's hyperparameter schema
    from hpsearch.data import Dataset

EpochCallback = Callable[[int, dict[str, float]], None]

EXPLOSION_FLOOR = 1e3
"""A mini-batch cost above ``max(EXPLOSION_FACTOR * first cost, EXPLOSION_FLOOR)`` means divergence.

A cross-entropy of 1000 nats per example is a network whose logits have blown
up, far above any cost a healthy run passes through (``log C`` at the start).
"""
EXPLOSION_FACTOR = 10.0


def train(
    config: ModelConfig, data: Dataset, on_epoch: EpochCallback | None = None
) -> tuple[TrainResult, Network]:
    """Train a network on ``data.X_train`` and report on ``data.X_dev`` after every epoch.

    Each epoch draws a permutation of the training set (seeded by
    ``config.seed``) and takes its contiguous runs of ``config.batch_size``
    examples as mini-batches (the last, smaller one included), one optimizer
    step each, at the epoch's decayed learning rate.

    Parameters
    ----------
    config : hyperparameters
    data : train and dev arrays; cast once to ``config.dtype``
    on_epoch : called after each epoch with its 0-based index and
        ``{"train_cost", "dev_cost", "dev_accuracy", "learning_rate"}``; the time it
        takes is not counted in ``seconds``

    Returns
    -------
    result : ``TrainResult`` whose per-epoch ``history`` holds
        ``train_cost`` — J of the epoch: the mean of its mini-batch costs, L2 term included;
        ``dev_cost`` — mean cross-entropy on dev in inference mode, *without* the
        L2 term, so runs with different ``l2`` compare fairly;
        ``dev_accuracy`` — fraction of dev examples classified right.
        The top-level fields are those of the last epoch run. ``status`` is
        ``DIVERGED`` when a cost turned NaN/Inf or exploded (see
        ``EXPLOSION_FLOOR``); training then stops at once, the epoch it stopped
        in is still recorded (its ``train_cost`` averages the batches run) and
        costs may be inf/nan. Never raises for a numerical blow-up.
    network : the trained network

    Raises
    ------
    DataError : the train or dev set has no rows
    """
    if len(data.y_train) == 0 or len(data.y_dev) == 0:
        raise DataError(f"dataset {data.name!r}: the train and dev sets both need at least one row")
    started = time.perf_counter()
    callback_seconds = 0.0
    dtype = np.dtype(config.dtype)
    n_classes = data.n_classes
    X = np.ascontiguousarray(data.X_train, dtype=dtype)
    Y = one_hot(data.y_train, n_classes, dtype)
    X_dev = np.ascontiguousarray(data.X_dev, dtype=dtype)
    y_dev = np.asarray(data.y_dev)

    network = Network.init(data.n_features, n_classes, config)
    optimizer = make_optimizer(config, network.params)
    grads = Parameters.zeros_like(network.params)
    shuffle_rng, dropout_rng = (
        np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(key,))) for key in (1, 2)
    )
    # Each mini-batch is gathered into these two buffers (a shorter last batch uses their
    # leading rows). A shuffled copy of the whole set would cost a second array as large
    # as X, whose fresh pages are slow to fault in on big sets; a gather per batch moves
    # the same bytes and leaves the batch in cache for the first matmul.
    m, batch_size = X.shape[0], min(config.batch_size, X.shape[0])
    X_batch = np.empty((batch_size, X.shape[1]), dtype)
    Y_batch = np.empty((batch_size, n_classes), dtype)
    caches_by_size: dict[int, Caches] = {}
    dev_caches = network.new_caches()

    history: dict[str, list[float]] = {"train_cost": [], "dev_cost": [], "dev_accuracy": []}
    cost_limit = math.nan  # set from the first mini-batch cost
    status = TrialStatus.OK
    # Overflow to inf/nan is an expected outcome (divergence), detected below: no warnings.
    with np.errstate(all="ignore"):
        for epoch in range(config.epochs):
            learning_rate = learning_rate_at(config, epoch)
            order = shuffle_rng.permutation(m)
            cost_sum, n_batches = 0.0, 0
            for start in range(0, m, batch_size):
                rows = order[start : start + batch_size]
                size = len(rows)
                x, y = (X_batch, Y_batch) if size == batch_size else (X_batch[:size], Y_batch[:size])
                # mode="clip" (a no-op for valid indices) lets `take` write straight into `out`;
                # the default mode gathers into a temporary first.
                np.take(X, rows, axis=0, out=x, mode="clip")
                np.take(Y, rows, axis=0, out=y, mode="clip")
                caches = caches_by_size.get(size)
                if caches is None:
                    caches = caches_by_size[size] = network.new_caches()
                cost = network.loss_and_gradients(x, y, grads, caches, dropout_rng)
                cost_sum += cost
                n_batches += 1
                if n_batches == 1 and epoch == 0:
                    cost_limit = max(EXPLOSION_FACTOR * cost, EXPLOSION_FLOOR)
                if not cost < cost_limit:  # true for NaN and for +inf (even when the limit is inf)
                    status = TrialStatus.DIVERGED
                    break
                optimizer.step(network.params, grads, learning_rate)

            dev_cost, dev_accuracy = network.evaluate(X_dev, y_dev, dev_caches)
            if not math.isfinite(dev_cost):
                status = TrialStatus.DIVERGED
            history["train_cost"].append(cost_sum / n_batches)
            history["dev_cost"].append(dev_cost)
            history["dev_accuracy"].append(dev_accuracy)
            if on_epoch is not None:
                callback_started = time.perf_counter()
                on_epoch(
                    epoch,
                    {
                        "train_cost": history["train_cost"][-1],
                        "dev_cost": dev_cost,
                        "dev_accuracy": dev_accuracy,
                        "learning_rate": learning_rate,
                    },
                )
                callback_seconds += time.perf_counter() - callback_started
            if status is TrialStatus.DIVERGED:
                break

    result = TrainResult(
        status=status,
        train_cost=history["train_cost"][-1],
        dev_cost=history["dev_cost"][-1],
        dev_accuracy=history["dev_accuracy"][-1],
        epochs_run=len(history["train_cost"]),
        seconds=time.perf_counter() - started - callback_seconds,
        history=history,
    )
    return result, network
