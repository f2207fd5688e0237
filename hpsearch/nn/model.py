"""The network: fully connected layers, optional batch norm, a softmax or linear output.

Architecture, for hidden layers l = 1..L and output layer L+1::

    z = a W_l (+ b_l)  →  [batch norm: gamma_l, beta_l]  →  activation  →  [dropout]
    Z = a W_{L+1} + b_{L+1}  →  head: softmax + cross-entropy (classification)
                                      or identity + squared error (regression)

The head (``hpsearch.nn.heads``) sets the cost, its gradient, predictions and metrics.

Parameter names follow the course notes: ``W1, ..., W{L+1}``, ``b{l}`` (hidden
layers without batch norm, and the output layer), ``gamma{l}``, ``beta{l}``.
Batch-norm running averages are kept apart from the learned parameters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from hpsearch.core.errors import ConfigError, ConfigProblem, DataError
from hpsearch.io.npz import NpzUnreadable, read_arrays, save_npz
from hpsearch.nn.heads import Head, SoftmaxHead, head_from_state, make_head
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.losses import softmax
from hpsearch.nn.parameters import Parameters
from hpsearch.nn.passes import Caches, Passes, Scalars

__all__ = ["Caches", "Network", "load_npz", "read_npz"]

T = TypeVar("T")


class Network(Passes):
    """A trained or freshly initialized classifier or regressor.

    Build one with ``Network.init`` or ``Network.from_state``/``Network.load``.

    Attributes
    ----------
    config : the hyperparameters it was built (and trained) with
    head : the output head, ``SoftmaxHead`` or ``LinearHead`` (``hpsearch.nn.heads``);
        ``task`` names it, and a ``LinearHead`` holds ``target_mean``/``target_scale``
    n_classes : output units: classes, or target columns for regression (= ``n_outputs``)
    params : learned parameters by name (``W1``, ``gamma1``, ...), one flat buffer
    running : ``{l: (2, n_l)}`` batch-norm running ``[mean; variance]`` of hidden layer l
    dtype : float32 or float64, from ``config.dtype``
    scalars : ``config``'s per-model values of a step, as Python floats (``nn.passes.Scalars``)

    The training step and inference pass (``forward``, ``backward``, ``loss_and_gradients``,
    ``metrics``, ``targets``, ``new_caches``) are ``nn.passes.Passes``', shared with packs.
    """

    def __init__(self, n_features: int, n_classes: int, config: ModelConfig, head: Head | None = None):
        """The architecture ``config`` describes, with zero weights.

        Biases and beta are 0, gamma 1, running averages mean 0 / variance 1.
        ``init`` draws the weights; ``from_state`` restores them. ``head``
        defaults to softmax over ``n_classes``; ValueError if its width differs.
        """
        self.head = head if head is not None else make_head("classification", n_classes)
        if self.head.n_outputs != n_classes:
            raise ValueError(f"the head has {self.head.n_outputs} outputs, the network {n_classes}")
        if config.class_weight == "balanced":
            if not isinstance(self.head, SoftmaxHead):
                raise ConfigError([ConfigProblem("model.class_weight", "weighs classes: a regression has none")])
            self.head.balanced = True
        self.config = config
        self.n_features = n_features
        self.n_classes = n_classes
        self.params = Parameters(_parameter_shapes(n_features, n_classes, config), config.dtype)
        self.dtype = self.params.flat.dtype
        self.running: dict[int, np.ndarray] = {}
        self.scalars = Scalars.of([config])
        self._set_architecture(config)
        for l, layer in enumerate(self._hidden, 1):
            if layer.gamma:
                self.params[layer.gamma].fill(1.0)
                self.running[l] = np.zeros((2, config.hidden_sizes[l - 1]), self.dtype)
                self.running[l][1] = 1.0

    # ------------------------------------------------------------------ building

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``: the head's."""
        return self.head.task

    @property
    def n_outputs(self) -> int:
        """Output units: classes, or target columns for regression."""
        return self.n_classes

    @classmethod
    def init(cls, n_features: int, n_classes: int, config: ModelConfig, head: Head | None = None) -> Network:
        """A new network with weights drawn from ``config.seed``.

        W is Gaussian with variance 2/n_in (He) before ReLU-family activations
        and 1/n_in (Xavier) before tanh and before the output layer, which keeps
        activation variance roughly constant through depth. Weights are drawn
        in float64 then cast, so float32 and float64 networks with the same
        seed start from the same values, whatever the head (default: softmax).
        """
        network = cls(n_features, n_classes, config, head)
        rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0,)))
        depth = len(config.hidden_sizes)
        hidden_gain = 1.0 if config.activation == "tanh" else 2.0
        for l in range(1, depth + 2):
            W = network.params[f"W{l}"]
            gain = hidden_gain if l <= depth else 1.0
            W[...] = rng.standard_normal(W.shape) * np.sqrt(gain / W.shape[0])
        return network

    # (forward, backward, loss_and_gradients, metrics, targets: ``nn.passes.Passes``)

    # --------------------------------------------------------------- inference

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities in inference mode (BN running averages, no dropout).

        X : (m, n_features) → (m, n_classes), rows sum to 1. ValueError for regression.
        """
        if self.task != "classification":
            raise ValueError("a regression network has no class probabilities: use predict")
        return softmax(self.forward(self._cast(X), self.new_caches()))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Inference-mode predictions.

        Classification: the most probable class id, X : (m, n_features) → (m,) int64.
        Regression: the targets in their own units, ``Z * target_scale + target_mean``,
        X : (m, n_features) → (m, n_outputs) float64 (2-D even for one target).
        """
        return self.head.predict(self.forward(self._cast(X), self.new_caches()))

    def cost(self, X: np.ndarray, y: np.ndarray) -> float:
        """The cost on (X, y) in inference mode, without the L2 term.

        X : (m, n_features); y : (m,) int class ids (mean cross-entropy), or for
        regression (m, n_outputs) targets in standardized units, as ``Dataset.y_dev``
        holds them (``(1/2m) sum_i ||Z_i - y_i||^2``)
        """
        return self.metrics(X, y)["dev_cost"]

    def evaluate(self, X: np.ndarray, y: np.ndarray, caches: Caches | None = None) -> tuple[float, float]:
        """``(cost, accuracy)`` of one inference-mode pass of a classifier; cost as in ``cost()``.

        ``caches`` lets a caller that evaluates the same set every epoch reuse buffers.
        ValueError for regression (see ``metrics``).
        """
        if self.task != "classification":
            raise ValueError("a regression network has no accuracy: use metrics")
        metrics = self.metrics(X, y, caches)
        return metrics["dev_cost"], metrics["dev_accuracy"]

    # -------------------------------------------------------------- persistence

    def state(self) -> dict[str, np.ndarray]:
        """Every array needed to rebuild this network, for ``np.savez``.

        Keys: each parameter by name, ``running_mean{l}``/``running_var{l}`` per
        batch-norm layer, and ``config``: the hyperparameters as JSON in a 0-d str array.
        A regression network adds ``task`` (0-d str ``"regression"``) and
        ``target_mean``/``target_scale`` ((n_outputs,) float64); a state without
        ``task`` is a classifier's, so files written before regression load unchanged.
        """
        state = {name: array.copy() for name, array in self.params.items()}
        for l, stats in self.running.items():
            state[f"running_mean{l}"] = stats[0].copy()
            state[f"running_var{l}"] = stats[1].copy()
        config = self.config.to_dict()
        if config["class_weight"] == "none":  # the default, left out: a file saves the bits it saved before the key
            del config["class_weight"]
        state["config"] = np.array(json.dumps(config, sort_keys=True))
        state.update(self.head.state())
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> Network:
        """Rebuild a network from ``state()``.

        Raises
        ------
        DataError : an array is missing or has the wrong shape
        ConfigError : the stored hyperparameters are invalid
        """
        try:
            stored_config = json.loads(str(_stored(state, "config", ())[()]))
        except ValueError as error:
            raise DataError(f"model state 'config' is not the JSON Network.save writes ({error})") from error
        if not isinstance(stored_config, dict):
            raise DataError("model state 'config' is not the JSON object Network.save writes")
        config = ModelConfig.from_dict(stored_config)
        W_in, W_out = (_stored(state, f"W{l}") for l in (1, len(config.hidden_sizes) + 1))
        if W_in.ndim != 2 or W_out.ndim != 2:
            raise DataError("model state weights must be 2-d matrices")
        n_outputs = int(W_out.shape[1])
        network = cls(int(W_in.shape[0]), n_outputs, config, head_from_state(state, n_outputs))
        for name, array in network.params.items():
            array[...] = _stored(state, name, array.shape)
        for l, stats in network.running.items():
            stats[0] = _stored(state, f"running_mean{l}", stats[0].shape)
            stats[1] = _stored(state, f"running_var{l}", stats[1].shape)
        return network

    def save(self, path: str | os.PathLike) -> None:
        """Write ``state()`` to an ``.npz`` file (no pickle), atomically and never through a symlink."""
        save_npz(path, self.state())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network written by ``save``.

        Raises
        ------
        DataError : the file is missing, not an npz, or not a saved network (message names it)
        ConfigError : its stored hyperparameters are invalid
        """
        return load_npz(path, "a saved network", cls.from_state)


def load_npz(path: str | os.PathLike, what: str, build: Callable[[dict[str, np.ndarray]], T]) -> T:
    """``build`` applied to the arrays of the npz file ``path`` (``read_npz``), its DataError and
    ConfigError naming the file: how a saved network and a saved training state are read."""
    arrays = read_npz(path, what)
    try:
        return build(arrays)
    except DataError as error:
        raise DataError(f"{path}: {error}") from error
    except ConfigError as error:
        raise error.in_file(str(path)) from error


def read_npz(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file (no pickle), its headers checked before anything is allocated
    (``io.npz.read_arrays``); DataError naming the file and ``what`` it should hold."""
    try:
        return read_arrays(path, str(path))
    except NpzUnreadable as error:
        raise DataError(f"{path}: cannot read {what} ({error.reason})") from None


def _parameter_shapes(n_features: int, n_classes: int, config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape, weight matrices first so they form one contiguous span (for L2)."""
    sizes = [n_features, *config.hidden_sizes, n_classes]
    depth = len(config.hidden_sizes)
    shapes: dict[str, tuple[int, ...]] = {f"W{l}": (sizes[l - 1], sizes[l]) for l in range(1, depth + 2)}
    for l in range(1, depth + 1):
        if config.batchnorm:
            shapes[f"gamma{l}"] = (sizes[l],)
            shapes[f"beta{l}"] = (sizes[l],)
        else:
            shapes[f"b{l}"] = (sizes[l],)
    shapes[f"b{depth + 1}"] = (n_classes,)
    return shapes


def _stored(state: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``state[name]``, checked to exist and (when given) to have ``shape``."""
    if name not in state:
        raise DataError(f"model state has no '{name}' array")
    array = np.asarray(state[name])
    if shape is not None and array.shape != shape:
        raise DataError(f"model state array '{name}' has shape {array.shape}, expected {shape}")
    return array
