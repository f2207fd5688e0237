"""Resumable training: the whole state of one run, and how it is saved and loaded.

``nn.loop.start`` builds a run at epoch 0, ``nn.loop.fit`` trains it on to a
given epoch in place, and ``TrainingState.save``/``load`` carry it across processes. The state
holds everything the next epoch reads — weights and batch-norm running
averages, the optimizer's moments and step count, the shuffle and dropout
random streams, the divergence threshold, the learning-rate factor — so
training 10 epochs, saving, loading elsewhere and training 20 more gives the
same bits as training 30 at once (the example is in ``nn.loop``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.core.records import TrialStatus
from hpsearch.io.npz import save_npz
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.metrics import OPTIONAL_KEYS, RANKING_METRICS
from hpsearch.nn.model import Network, load_npz
from hpsearch.nn.optimizers import Optimizer, make_optimizer
from hpsearch.nn.results import TrainResult

HISTORY_KEYS = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate")
"""The per-epoch series every ``TrainingState.history`` has, in this order (a classifier's, all of them)."""

REGRESSION_KEYS = ("dev_rmse", "dev_r2")
"""The series a regression's history has besides ``HISTORY_KEYS`` (whose ``dev_accuracy`` is NaN there)."""


def history_keys(task: str) -> tuple[str, ...]:
    """The per-epoch series of a ``task`` run, in order: ``HISTORY_KEYS`` (+ ``REGRESSION_KEYS``)."""
    return HISTORY_KEYS + REGRESSION_KEYS if task == "regression" else HISTORY_KEYS


STATE_FORMAT = 1
"""Version of the ``to_arrays`` layout; ``from_arrays`` refuses any other."""


@dataclass(eq=False, kw_only=True, repr=False)
class TrainingState:
    """Everything one training run needs to continue exactly where it stopped.

    Build one with ``start`` (or ``load``/``from_arrays``); ``fit`` advances it
    in place, one whole epoch at a time.

    Attributes
    ----------
    config : the hyperparameters
    network : weights and batch-norm running averages
    optimizer : moments and step count
    epoch : epochs completed so far (0 after ``start``)
    status : OK, or DIVERGED once a cost turned NaN/Inf or exploded; training stops there
    history : ``history_keys(network.task)`` (and the ``nn.metrics.OPTIONAL_KEYS`` a run ranks by,
        ``nn.loop.start``) → one float per completed epoch; deterministic
        (``learning_rate`` is the rate the epoch used, factor included); a
        regression's ``dev_accuracy`` is NaN
    epoch_seconds : training seconds of each epoch (apart from history: not deterministic)
    learning_rate_factor : multiplies the scheduled learning rate of every later epoch
    best_epoch : 0-based epoch of the lowest finite dev cost so far (ties: earliest; ``best_by``: of the best
        value of that ranking metric, ``nn.metrics.RANKING_METRICS``),
        among epochs that did not diverge; None before any
    best_dev_cost : that epoch's dev cost
    best_weights : ``Network.state()`` at ``best_epoch``, kept only when ``keep_best``
    keep_best : whether ``fit`` keeps ``best_weights``
    best_by : what the best epoch is best by: ``cost`` (dev J), or a ``search.metric`` in its direction
    shuffle_rng, dropout_rng : the random streams of the batch order and the dropout masks
    cost_limit : the divergence threshold, set from the first mini-batch cost (NaN before)
    """

    config: ModelConfig
    network: Network
    optimizer: Optimizer
    epoch: int = 0
    status: TrialStatus = TrialStatus.OK
    history: dict[str, list[float]] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)
    learning_rate_factor: float = 1.0
    best_epoch: int | None = None
    best_dev_cost: float | None = None
    best_weights: dict[str, np.ndarray] | None = None
    keep_best: bool = False
    best_by: str = "cost"
    shuffle_rng: np.random.Generator
    dropout_rng: np.random.Generator
    cost_limit: float = math.nan

    def __post_init__(self) -> None:
        for key in history_keys(self.network.task):
            self.history.setdefault(key, [])

    def __repr__(self) -> str:
        return (
            f"TrainingState(epoch={self.epoch}, status={self.status.value}, best_epoch={self.best_epoch}, "
            f"learning_rate_factor={self.learning_rate_factor}, config={self.config!r})"
        )

    # ---------------------------------------------------------------- results

    def result(self) -> TrainResult:
        """The run so far as a ``TrainResult``: top-level fields from the last epoch run.

        Raises ValueError before the first epoch.
        """
        if self.epoch == 0:
            raise ValueError("no epoch has been trained yet: call fit first")
        history = {key: list(values) for key, values in self.history.items()}
        regression = {key: history[key][-1] for key in REGRESSION_KEYS if key in history}
        return TrainResult(
            status=self.status,
            train_cost=history["train_cost"][-1],
            dev_cost=history["dev_cost"][-1],
            dev_accuracy=history["dev_accuracy"][-1],
            epochs_run=self.epoch,
            seconds=math.fsum(self.epoch_seconds),
            history=history,
            best_dev_cost=self.best_dev_cost,
            best_epoch=self.best_epoch,
            **regression,
        )

    # ------------------------------------------------------------ persistence

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every part of the state as named arrays (copies), for ``np.savez``.

        Keys: ``network.<name>`` for each array of ``Network.state()`` (its
        hyperparameters included), ``optimizer.<name>`` for each flat moment
        buffer, ``best.<name>`` for ``best_weights`` when kept, and ``state``:
        the scalars, history and random-stream states as JSON in a 0-d str array.
        """
        arrays = {f"network.{name}": array for name, array in self.network.state().items()}
        for name, moments in self.optimizer.state.items():
            arrays[f"optimizer.{name}"] = moments.flat.copy()
        for name, array in (self.best_weights or {}).items():
            arrays[f"best.{name}"] = array.copy()
        scalars = {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "status": self.status.value,
            "history": self.history,
            "epoch_seconds": self.epoch_seconds,
            "learning_rate_factor": self.learning_rate_factor,
            "best_epoch": self.best_epoch,
            "best_dev_cost": self.best_dev_cost,
            "keep_best": self.keep_best,
            "cost_limit": self.cost_limit,
            "optimizer_steps": self.optimizer.steps,
            "shuffle_rng": self.shuffle_rng.bit_generator.state,
            "dropout_rng": self.dropout_rng.bit_generator.state,
        }
        if self.best_by != "cost":  # the default, left out: a state saves the bits it saved before the key
            scalars["best_by"] = self.best_by
        # Python floats round-trip exactly through JSON (shortest repr); NaN/Infinity are allowed.
        arrays["state"] = np.array(json.dumps(scalars, sort_keys=True))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TrainingState:
        """Rebuild a state from ``to_arrays()`` (arrays are copied).

        Raises
        ------
        DataError : an array or value is missing, malformed or of the wrong shape
        ConfigError : the stored hyperparameters are invalid
        """
        scalars = _scalars(arrays)
        network = Network.from_state(_prefixed(arrays, "network."))
        config = network.config
        optimizer = make_optimizer(config, network.params)
        for name, moments in optimizer.state.items():
            moments.flat[...] = _array(arrays, f"optimizer.{name}", moments.flat.shape)
        best = _prefixed(arrays, "best.")
        if best:
            Network.from_state(best)  # checks names and shapes
        try:
            optimizer.steps = _integer(scalars["optimizer_steps"])
            kept = history_keys(network.task) + tuple(k for k in OPTIONAL_KEYS if k in scalars["history"])
            history = {key: [float(v) for v in scalars["history"][key]] for key in kept}
            state = cls(
                config=config,
                network=network,
                optimizer=optimizer,
                epoch=_integer(scalars["epoch"]),
                status=TrialStatus(scalars["status"]),
                history=history,
                epoch_seconds=[float(s) for s in scalars["epoch_seconds"]],
                learning_rate_factor=float(scalars["learning_rate_factor"]),
                best_epoch=None if scalars["best_epoch"] is None else _integer(scalars["best_epoch"]),
                best_dev_cost=None if scalars["best_dev_cost"] is None else float(scalars["best_dev_cost"]),
                best_weights={name: array.copy() for name, array in best.items()} or None,
                keep_best=bool(scalars["keep_best"]),
                best_by=_ranking_metric(scalars.get("best_by", "cost")),
                shuffle_rng=_generator(scalars["shuffle_rng"]),
                dropout_rng=_generator(scalars["dropout_rng"]),
                cost_limit=float(scalars["cost_limit"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"training state values are not what TrainingState.save writes ({error!r})") from error
        if any(len(values) != state.epoch for values in history.values()) or len(state.epoch_seconds) != state.epoch:
            raise DataError(f"training state history does not hold one value per epoch ({state.epoch})")
        return state

    def save(self, path: str | os.PathLike) -> None:
        """Write ``to_arrays()`` to an ``.npz`` file (no pickle), atomically (``io.npz.save_npz``).

        The file is written under a temporary name in the same folder, flushed
        to disk, then renamed over ``path``: a reader sees the old file or the
        new one, never half of one, even if this process dies mid-write; a
        symlink at ``path`` is replaced, never written through.
        """
        save_npz(path, self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainingState:
        """Read a state written by ``save``.

        Raises
        ------
        DataError : the file is missing, not an npz, or not a saved training state (message names it)
        ConfigError : its stored hyperparameters are invalid (names the file)
        """
        return load_npz(path, "a saved training state", cls.from_arrays)

    def copy(self) -> TrainingState:
        """An independent deep copy (what ``save`` then ``load`` would give, without a file)."""
        return type(self).from_arrays(self.to_arrays())


# ------------------------------------------------------------------- helpers


def _prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays whose key starts with ``prefix``, keyed without it."""
    return {key[len(prefix) :]: np.asarray(array) for key, array in arrays.items() if key.startswith(prefix)}


def _array(arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in arrays:
        raise DataError(f"training state has no '{name}' array")
    array = np.asarray(arrays[name])
    if array.shape != shape:
        raise DataError(f"training state array '{name}' has shape {array.shape}, expected {shape}")
    return array


def checkpoint_epoch(arrays: Mapping[str, np.ndarray]) -> int:
    """The epochs a saved state (``to_arrays``) has trained, read without rebuilding it (its scalars only)."""
    return int(_scalars(arrays)["epoch"])


def _scalars(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The JSON ``state`` entry, checked to be a dict of the supported format."""
    if "state" not in arrays:
        raise DataError("not a training state: no 'state' entry (a network saved by Network.save?)")
    try:
        scalars = json.loads(str(np.asarray(arrays["state"])[()]))
    except ValueError as error:
        raise DataError(f"training state 'state' entry is not JSON ({error})") from error
    if not isinstance(scalars, dict) or scalars.get("format") != STATE_FORMAT:
        raise DataError(f"training state 'state' entry is not format {STATE_FORMAT} of TrainingState.save")
    return scalars


def _ranking_metric(value: Any) -> str:
    if value not in RANKING_METRICS:
        raise ValueError(f"expected one of {', '.join(RANKING_METRICS)}, got {value!r}")
    return str(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _generator(bit_generator_state: Any) -> np.random.Generator:
    """A Generator in exactly the stored state of its bit generator (PCG64, as ``default_rng`` makes)."""
    generator = np.random.Generator(np.random.PCG64())
    generator.bit_generator.state = bit_generator_state  # raises ValueError/TypeError if malformed
    return generator
