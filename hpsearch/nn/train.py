"""Training one network from scratch to its last epoch in one call: the hot path of every trial.

The loop itself, and the resumable state it advances, are in ``hpsearch.nn.state``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.loop import EXPLOSION_FACTOR, EXPLOSION_FLOOR, EpochCallback, fit, start
from hpsearch.nn.model import Network
from hpsearch.nn.results import TrainResult

if TYPE_CHECKING:
    from hpsearch.core.dataset import Dataset

__all__ = ["EXPLOSION_FACTOR", "EXPLOSION_FLOOR", "EpochCallback", "train"]


def train(config: ModelConfig, data: Dataset, on_epoch: EpochCallback | None = None) -> tuple[TrainResult, Network]:
    """Train a network on ``data.X_train`` and report on ``data.X_dev`` after every epoch.

    The same as ``fit(start(config, data), data, config.epochs, on_epoch)``.
    Each epoch draws a permutation of the training set (seeded by
    ``config.seed``) and takes its contiguous runs of ``config.batch_size``
    examples as mini-batches (the last, smaller one included), one optimizer
    step each, at the epoch's decayed learning rate. A last run of a single
    row is merged into the batch before it (65 rows in batches of 32 are
    batches of 32 and 33): alone, it would have zero batch-norm variance and an
    L2 term weighted 1/1 instead of 1/m.

    Parameters
    ----------
    config : hyperparameters
    data : train and dev arrays; cast once to ``config.dtype``
    on_epoch : called after each epoch with its 0-based index and
        ``{"train_cost", "dev_cost", "dev_accuracy", "learning_rate"}`` (regression: also
        ``dev_rmse``, ``dev_r2``; see ``history_keys``); the time it
        takes is not counted in ``seconds``; raising ``StopTraining`` there ends
        training after that epoch

    Returns
    -------
    result : ``TrainResult`` whose per-epoch ``history`` holds
        ``train_cost`` — J of the epoch: the mean of its mini-batch costs, L2 term included;
        ``dev_cost`` — mean cross-entropy on dev in inference mode, *without* the
        L2 term, so runs with different ``l2`` compare fairly (regression:
        ``(1/2m) sum ||ŷ - y||^2`` on standardized targets, likewise without L2);
        ``dev_accuracy`` — fraction of dev examples classified right (regression: NaN);
        ``learning_rate`` — the rate the epoch trained at;
        regression only: ``dev_rmse``, ``dev_r2`` — RMSE and R² on dev in target units.
        The top-level fields are those of the last epoch run; ``best_epoch`` and
        ``best_dev_cost`` those of the lowest finite dev cost. ``status`` is
        ``DIVERGED`` when a cost turned NaN/Inf or exploded (see
        ``EXPLOSION_FLOOR``); training then stops at once, the epoch it stopped
        in is still recorded (its ``train_cost`` averages the batches run) and
        costs may be inf/nan. Never raises for a numerical blow-up.
    network : the trained network (of the last epoch run)

    Raises
    ------
    DataError : the train or dev set has no rows, or regression targets have not
        ``len(data.target_names)`` columns
    """
    state = fit(start(config, data), data, config.epochs, on_epoch)
    return state.result(), state.network
