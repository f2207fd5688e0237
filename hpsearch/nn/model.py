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
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hpsearch.core.errors import ConfigError, DataError
from hpsearch.io.npz import NpzUnreadable, read_arrays, save_npz
from hpsearch.nn.heads import Head, head_from_state, make_head
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.layers import (
    ACTIVATIONS,
    Cache,
    batchnorm_backward,
    batchnorm_forward,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
)
from hpsearch.nn.losses import l2_penalty, l2_penalty_backward, softmax
from hpsearch.nn.parameters import Parameters

Caches = dict[str, Cache]
"""One cache per layer operation (``"dense1"``, ``"bn1"``, ``"act1"``, ``"drop1"``, ..., ``"loss"``)."""


@dataclass(frozen=True)
class _HiddenLayer:
    """Names of one hidden layer's parameters and caches."""

    W: str
    b: str | None  # None when batch norm follows
    gamma: str | None
    beta: str | None
    dense: str
    bn: str
    act: str
    drop: str


class Network:
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
        self.config = config
        self.n_features = n_features
        self.n_classes = n_classes
        self.params = Parameters(_parameter_shapes(n_features, n_classes, config), config.dtype)
        self.dtype = self.params.flat.dtype
        self.running: dict[int, np.ndarray] = {}
        depth = len(config.hidden_sizes)
        self._hidden = [_hidden_layer(l, config.batchnorm) for l in range(1, depth + 1)]
        for l, layer in enumerate(self._hidden, 1):
            if layer.gamma:
                self.params[layer.gamma].fill(1.0)
                self.running[l] = np.zeros((2, config.hidden_sizes[l - 1]), self.dtype)
                self.running[l][1] = 1.0
        self._out = (f"W{depth + 1}", f"b{depth + 1}", f"dense{depth + 1}")
        self._forward_act, self._backward_act = ACTIVATIONS[config.activation]
        self._weights = self.params.span("W1", self._out[0])

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

    def new_caches(self) -> Caches:
        """Empty caches for one batch size; reuse them for every batch of that size."""
        caches: Caches = {"loss": {}, self._out[2]: {}}
        for layer in self._hidden:
            caches.update({layer.dense: {}, layer.bn: {}, layer.act: {}, layer.drop: {}})
        return caches

    # ------------------------------------------------------------- computation

    def forward(
        self, X: np.ndarray, caches: Caches, train: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Logits of a batch.

        Parameters
        ----------
        X : (m, n_features) in the network's dtype
        caches : from ``new_caches()``; filled for ``backward``
        train : batch statistics in batch norm (and update its running averages),
            dropout on; else running averages and no dropout
        rng : dropout's random source; needed when training with ``keep_prob < 1``

        Returns
        -------
        logits : (m, n_classes), valid until the next call with the same caches

        Raises
        ------
        ValueError : ``train`` with ``keep_prob < 1`` and no ``rng`` (checked before
            anything, running averages included, changes)
        """
        p, config = self.params, self.config
        dropout = train and config.keep_prob < 1.0
        if dropout and rng is None:
            raise ValueError(f"training with dropout (keep_prob={config.keep_prob}) needs rng, a numpy Generator")
        a = X
        for l, layer in enumerate(self._hidden, 1):
            z = dense_forward(a, p[layer.W], p[layer.b] if layer.b else None, caches[layer.dense])
            if layer.gamma:
                z = batchnorm_forward(
                    z, p[layer.gamma], p[layer.beta], self.running[l], config.bn_momentum, train, caches[layer.bn]
                )
            a = self._forward_act(z, caches[layer.act])
            if dropout:
                a = dropout_forward(a, config.keep_prob, rng, caches[layer.drop])
        W, b, cache = self._out
        return dense_forward(a, p[W], p[b], caches[cache])

    def backward(self, dlogits: np.ndarray, caches: Caches, grads: Parameters) -> None:
        """Backpropagate ``dlogits`` (m, n_classes) through a training-mode ``forward``.

        Writes the gradient of every parameter into ``grads`` (same layout as ``params``).
        """
        dropout = self.config.keep_prob < 1.0
        W, b, cache = self._out
        da = dense_backward(dlogits, caches[cache], grads[W], grads[b])
        for i in range(len(self._hidden) - 1, -1, -1):
            layer = self._hidden[i]
            if dropout:
                da = dropout_backward(da, caches[layer.drop])
            dz = self._backward_act(da, caches[layer.act])
            if layer.gamma:
                dz = batchnorm_backward(dz, caches[layer.bn], grads[layer.gamma], grads[layer.beta])
            da = dense_backward(dz, caches[layer.dense], grads[layer.W], grads[layer.b] if layer.b else None, i > 0)

    def loss_and_gradients(
        self, X: np.ndarray, Y: np.ndarray, grads: Parameters, caches: Caches, rng: np.random.Generator | None = None
    ) -> float:
        """One training-mode pass over a mini-batch: its cost J, gradients into ``grads``.

        ``J = (1/m) sum_i L_i + (l2 / 2m) sum_l ||W_l||^2`` with m the batch size.

        ``L_i`` is the head's: cross-entropy of softmax(Z_i) for classification,
        ``(1/2) ||Z_i - y_i||^2`` for regression (``hpsearch.nn.heads``).

        Parameters
        ----------
        X : (m, n_features); Y : ``targets(y)``: (m, n_classes) one-hot, or
            (m, n_outputs) standardized targets; both in the network's dtype
        grads : receives dJ/d(every parameter)
        caches, rng : as for ``forward``

        Returns
        -------
        J : Python float
        """
        outputs = self.forward(X, caches, train=True, rng=rng)
        cost = self.head.loss(outputs, Y, caches["loss"])
        self.backward(self.head.loss_backward(caches["loss"]), caches, grads)
        l2 = self.config.l2
        if l2 > 0.0:
            m = X.shape[0]
            cost += l2_penalty(self._weights, l2, m)
            dweights = grads.span("W1", self._out[0])
            l2_penalty_backward(self._weights, l2, m, dweights, caches["loss"])
        return cost

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

    def metrics(self, X: np.ndarray, y: np.ndarray, caches: Caches | None = None) -> dict[str, float]:
        """The head's per-epoch dev metrics of one inference-mode pass, keyed as in the history.

        Classification: ``dev_cost``, ``dev_accuracy`` (the values of ``evaluate``).
        Regression: ``dev_cost`` (J on standardized targets), ``dev_accuracy`` (NaN),
        ``dev_rmse`` and ``dev_r2`` in target units. ``caches`` as for ``evaluate``.
        """
        return self.head.metrics(self.forward(self._cast(X), caches if caches is not None else self.new_caches()), y)

    def targets(self, y: np.ndarray) -> np.ndarray:
        """``y`` as ``loss_and_gradients`` takes it: one-hot (m, n_classes), or regression targets
        (m, n_outputs), C-contiguous in the network's dtype."""
        return self.head.targets(y, self.dtype)

    def evaluate(self, X: np.ndarray, y: np.ndarray, caches: Caches | None = None) -> tuple[float, float]:
        """``(cost, accuracy)`` of one inference-mode pass of a classifier; cost as in ``cost()``.

        ``caches`` lets a caller that evaluates the same set every epoch reuse buffers.
        ValueError for regression (see ``metrics``).
        """
        if self.task != "classification":
            raise ValueError("a regression network has no accuracy: use metrics")
        metrics = self.metrics(X, y, caches)
        return metrics["dev_cost"], metrics["dev_accuracy"]

    def _cast(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X, dtype=self.dtype)

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
        state["config"] = np.array(json.dumps(self.config.to_dict(), sort_keys=True))
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
        state = read_npz(path, "a saved network")
        try:
            return cls.from_state(state)
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


def _hidden_layer(l: int, batchnorm: bool) -> _HiddenLayer:
    return _HiddenLayer(
        W=f"W{l}",
        b=None if batchnorm else f"b{l}",
        gamma=f"gamma{l}" if batchnorm else None,
        beta=f"beta{l}" if batchnorm else None,
        dense=f"dense{l}",
        bn=f"bn{l}",
        act=f"act{l}",
        drop=f"drop{l}",
    )


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
