"""Resumable training: the whole state of one run, and the mini-batch loop that advances it.

``start`` builds a run at epoch 0, ``fit`` trains it on to a given epoch in
place, and ``TrainingState.save``/``load`` carry it across processes. The state
holds everything the next epoch reads — weights and batch-norm running
averages, the optimizer's moments and step count, the shuffle and dropout
random streams, the divergence threshold, the learning-rate factor — so
training 10 epochs, saving, loading elsewhere and training 20 more gives the
same bits as training 30 at once::

    state = start(config, data, keep_best=True)
    fit(state, data, until_epoch=10)
    state.save("trial.npz")
    ...
    state = TrainingState.load("trial.npz")
    fit(state, data, until_epoch=30)
    result = state.result()
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from hpsearch.core.errors import ConfigError, DataError
from hpsearch.io.npz import save_npz
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.heads import make_head
from hpsearch.nn.metrics import TASKS, as_columns
from hpsearch.nn.model import Caches, Network, read_npz
from hpsearch.nn.optimizers import Optimizer, learning_rate_at, make_optimizer
from hpsearch.nn.parameters import Parameters
from hpsearch.core.records import TrialStatus
from hpsearch.nn.results import TrainResult

if TYPE_CHECKING:  # annotations only: hpsearch.data.datasets imports the engine's hyperparameter schema
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

HISTORY_KEYS = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate")
"""The per-epoch series every ``TrainingState.history`` has, in this order (a classifier's, all of them)."""

REGRESSION_KEYS = ("dev_rmse", "dev_r2")
"""The series a regression's history has besides ``HISTORY_KEYS`` (whose ``dev_accuracy`` is NaN there)."""


def history_keys(task: str) -> tuple[str, ...]:
    """The per-epoch series of a ``task`` run, in order: ``HISTORY_KEYS`` (+ ``REGRESSION_KEYS``)."""
    return HISTORY_KEYS + REGRESSION_KEYS if task == "regression" else HISTORY_KEYS

STATE_FORMAT = 1
"""Version of the ``to_arrays`` layout; ``from_arrays`` refuses any other."""


class StopTraining(Exception):
    """Raise from on_epoch to stop training after the epoch just reported (state stays consistent, resumable)."""


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
    history : ``history_keys(network.task)`` → one float per completed epoch; deterministic
        (``learning_rate`` is the rate the epoch used, factor included); a
        regression's ``dev_accuracy`` is NaN
    epoch_seconds : training seconds of each epoch (apart from history: not deterministic)
    learning_rate_factor : multiplies the scheduled learning rate of every later epoch
    best_epoch : 0-based epoch of the lowest finite dev cost so far (ties: earliest),
        among epochs that did not diverge; None before any
    best_dev_cost : that epoch's dev cost
    best_weights : ``Network.state()`` at ``best_epoch``, kept only when ``keep_best``
    keep_best : whether ``fit`` keeps ``best_weights``
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
            history = {key: [float(v) for v in scalars["history"][key]] for key in history_keys(network.task)}
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
        arrays = read_npz(path, "a saved training state")
        try:
            return cls.from_arrays(arrays)
        except DataError as error:
            raise DataError(f"{path}: {error}") from error
        except ConfigError as error:
            raise error.in_file(str(path)) from error

    def copy(self) -> TrainingState:
        """An independent deep copy (what ``save`` then ``load`` would give, without a file)."""
        return type(self).from_arrays(self.to_arrays())


# ---------------------------------------------------------------------- training


def start(config: ModelConfig, data: Dataset, *, keep_best: bool = False) -> TrainingState:
    """A new run of ``config`` on ``data`` at epoch 0: weights and random streams seeded by ``config.seed``.

    ``keep_best`` makes ``fit`` keep a copy of the weights of the best epoch so far.

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
        optimizer=make_optimizer(config, network.params),
        keep_best=keep_best,
        shuffle_rng=shuffle_rng,
        dropout_rng=dropout_rng,
    )


def fit(
    state: TrainingState, data: Dataset, until_epoch: int, on_epoch: EpochCallback | None = None
) -> TrainingState:
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
    network, optimizer, config = state.network, state.optimizer, state.config
    check_dataset(state, data)
    dtype = network.dtype
    X = np.ascontiguousarray(data.X_train, dtype=dtype)
    Y = network.targets(data.y_train)  # one-hot, or standardized regression targets
    X_dev = np.ascontiguousarray(data.X_dev, dtype=dtype)
    y_dev = np.asarray(data.y_dev)
    keys = history_keys(network.task)
    grads = Parameters.zeros_like(network.params)
    shuffle_rng, dropout_rng = state.shuffle_rng, state.dropout_rng
    # Each mini-batch is gathered into these two buffers (a smaller batch uses their
    # leading rows). A shuffled copy of the whole set would cost a second array as large
    # as X, whose fresh pages are slow to fault in on big sets; a gather per batch moves
    # the same bytes and leaves the batch in cache for the first matmul.
    m = X.shape[0]
    bounds = batch_bounds(m, config.batch_size)
    buffer_rows = max(stop - begin for begin, stop in bounds)
    X_batch = np.empty((buffer_rows, X.shape[1]), dtype)
    Y_batch = np.empty((buffer_rows, network.n_classes), dtype)
    caches_by_size: dict[int, Caches] = {}
    dev_caches = network.new_caches()
    history = state.history
    cost_limit = state.cost_limit
    setup_seconds = time.perf_counter() - prepared  # counted in this call's first epoch

    # Overflow to inf/nan is an expected outcome (divergence), detected below: no warnings.
    with np.errstate(all="ignore"):
        while state.epoch < until_epoch:
            started = time.perf_counter()
            epoch = state.epoch
            learning_rate = learning_rate_at(config, epoch) * state.learning_rate_factor
            order = shuffle_rng.permutation(m)
            cost_sum, n_batches = 0.0, 0
            diverged = False
            for begin, stop in bounds:
                rows = order[begin:stop]
                size = stop - begin
                x, y = (X_batch, Y_batch) if size == buffer_rows else (X_batch[:size], Y_batch[:size])
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
                    cost_limit = state.cost_limit = max(EXPLOSION_FACTOR * cost, EXPLOSION_FLOOR)
                if not cost < cost_limit:  # true for NaN and for +inf (even when the limit is inf)
                    diverged = True
                    break
                optimizer.step(network.params, grads, learning_rate)

            metrics = network.metrics(X_dev, y_dev, dev_caches)  # dev_cost, dev_accuracy (, dev_rmse, dev_r2)
            dev_cost = metrics["dev_cost"]
            diverged = diverged or not math.isfinite(dev_cost)
            values = {"train_cost": cost_sum / n_batches, **metrics, "learning_rate": learning_rate}
            values = {key: values[key] for key in keys}
            for key in keys:
                history[key].append(values[key])
            state.epoch = epoch + 1
            if diverged:
                state.status = TrialStatus.DIVERGED
            elif state.best_dev_cost is None or dev_cost < state.best_dev_cost:
                state.best_epoch, state.best_dev_cost = epoch, dev_cost
                if state.keep_best:
                    state.best_weights = network.state()
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


# ------------------------------------------------------------------- helpers


def _check_rows(data: Dataset) -> None:
    """DataError unless both parts have rows, and a known task (regression: one target column per name)."""
    if len(data.y_train) == 0 or len(data.y_dev) == 0:
        raise DataError(f"dataset {data.name!r}: the train and dev sets both need at least one row")
    if data.task not in TASKS:
        raise DataError(f"dataset {data.name!r}: task must be one of {', '.join(TASKS)}, got {data.task!r}")
    if data.task == "regression" and {as_columns(y).shape[1] for y in (data.y_train, data.y_dev)} != {data.n_outputs}:
        raise DataError(
            f"dataset {data.name!r}: regression targets need one column per target name "
            f"({data.n_outputs}: {', '.join(data.target_names)}), got shapes {np.shape(data.y_train)}, {np.shape(data.y_dev)}"
        )


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


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _generator(bit_generator_state: Any) -> np.random.Generator:
    """A Generator in exactly the stored state of its bit generator (PCG64, as ``default_rng`` makes)."""
    generator = np.random.Generator(np.random.PCG64())
    generator.bit_generator.state = bit_generator_state  # raises ValueError/TypeError if malformed
    return generator
