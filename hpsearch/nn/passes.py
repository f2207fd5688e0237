"""The forward and backward passes, written once for one network and for a pack of K.

``Passes`` holds a network's step: the layers of ``nn.layers`` in order, the
head's cost (``nn.heads``) and the L2 term. ``nn.model.Network`` (one network)
and ``nn.stacked_model.StackedNetwork`` (K networks of one architecture, every
array with a leading model axis) both are ``Passes``; they differ only in what
they hold:

=====================  ===================================  =====================================
                       ``Network``                          ``StackedNetwork``
=====================  ===================================  =====================================
``params``             ``Parameters``, ``flat`` (size,)      ``Parameters``, ``flat`` (K, size)
``running[l]``         (2, n_l)                             (K, 2, n_l)
``scalars``            Python floats                        (K, 1, 1) columns in the dtype
dropout ``rng``        one Generator                        one Generator per model
cost                   Python float                         (K,) float64
=====================  ===================================  =====================================

so a fix to a layer, a cost or the order of a step is made once, and each model
of a pack keeps the bits it has alone (``nn.layers`` says why).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpsearch.nn.heads import Head
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
from hpsearch.nn.losses import l2_penalty, l2_penalty_backward
from hpsearch.nn.parameters import Parameters

Caches = dict[str, Cache]
"""One cache per layer operation (``"dense1"``, ``"bn1"``, ``"act1"``, ``"drop1"``, ..., ``"loss"``)."""

Rng = np.random.Generator | Sequence[np.random.Generator] | None
"""Dropout's random source: one Generator for one network, one per model for a pack."""


@dataclass(frozen=True)
class Scalars:
    """The per-model values a step's arithmetic reads.

    For one network, Python floats; for a pack, each the (K, 1, 1) column in the
    network's dtype of the same Python expressions (``l2``: (K,) float64, as the
    cost adds it in float64).
    """

    bn_momentum: Any
    bn_stats_weight: Any  # 1 - bn_momentum
    keep_prob: Any
    keep_scale: Any  # 1 / keep_prob
    l2: Any

    @classmethod
    def of(cls, configs: Sequence[ModelConfig], dtype: np.dtype | None = None) -> Scalars:
        """One config's Python floats (``dtype`` None), or the columns of several configs in ``dtype``."""
        values = [[c.bn_momentum, 1.0 - c.bn_momentum, c.keep_prob, 1.0 / c.keep_prob, c.l2] for c in configs]
        if dtype is None:
            return cls(*values[0])
        columns = [np.array(column, dtype).reshape(-1, 1, 1) for column in zip(*values)]
        return cls(*columns[:4], np.array([c.l2 for c in configs], np.float64))

    def rows(self, keep: np.ndarray) -> Scalars:
        """A pack's columns of the models ``keep``."""
        return Scalars(*(getattr(self, name)[keep] for name in self.__dataclass_fields__))


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


class Passes:
    """A network's training step and inference pass, over its ``params``, ``running`` and ``scalars``.

    A subclass sets ``head``, ``params``, ``running``, ``scalars`` and ``dtype``,
    and calls ``_set_architecture``.
    """

    head: Head
    params: Parameters
    running: dict[int, np.ndarray]
    scalars: Scalars
    dtype: np.dtype

    def _set_architecture(self, config: ModelConfig) -> None:
        """The layer names and switches of ``config``'s architecture (what a pack shares)."""
        depth = len(config.hidden_sizes)
        self._hidden = [_hidden_layer(l, config.batchnorm) for l in range(1, depth + 1)]
        self._out = (f"W{depth + 1}", f"b{depth + 1}", f"dense{depth + 1}")
        self._forward_act, self._backward_act = ACTIVATIONS[config.activation]
        self._dropout = config.keep_prob < 1.0
        self._has_l2 = config.l2 > 0.0  # alone, l2 = 0 skips the term: adding 0 * W is no no-op for W = inf

    def new_caches(self) -> Caches:
        """Empty caches for one batch size; reuse them for every batch of that size."""
        caches: Caches = {"loss": {}, self._out[2]: {}}
        for layer in self._hidden:
            caches.update({layer.dense: {}, layer.bn: {}, layer.act: {}, layer.drop: {}})
        return caches

    def forward(self, X: np.ndarray, caches: Caches, train: bool = False, rng: Rng = None) -> np.ndarray:
        """Outputs (logits, or regression values) of a batch.

        Parameters
        ----------
        X : (m, n_features) in the network's dtype; a pack's (K, m, n_features), or (m, n_features) shared
        caches : from ``new_caches()``; filled for ``backward``
        train : batch statistics in batch norm (and update its running averages),
            dropout on; else running averages and no dropout
        rng : dropout's random source; needed when training with ``keep_prob < 1``

        Returns
        -------
        outputs : (m, n_outputs), or (K, m, n_outputs); valid until the next call with the same caches

        Raises
        ------
        ValueError : ``train`` with ``keep_prob < 1`` and no ``rng`` (checked before
            anything, running averages included, changes)
        """
        p, s = self.params, self.scalars
        dropout = train and self._dropout
        if dropout and rng is None:
            raise ValueError(f"training with dropout (keep_prob={s.keep_prob}) needs rng, a numpy Generator")
        a = X
        for l, layer in enumerate(self._hidden, 1):
            z = dense_forward(a, p[layer.W], p[layer.b] if layer.b else None, caches[layer.dense])
            if layer.gamma:
                z = batchnorm_forward(
                    z,
                    p[layer.gamma],
                    p[layer.beta],
                    self.running[l],
                    s.bn_momentum,
                    train,
                    caches[layer.bn],
                    s.bn_stats_weight,
                )
            a = self._forward_act(z, caches[layer.act])
            if dropout:
                a = dropout_forward(a, s.keep_prob, rng, caches[layer.drop], s.keep_scale)
        W, b, cache = self._out
        return dense_forward(a, p[W], p[b], caches[cache])

    def backward(self, doutputs: np.ndarray, caches: Caches, grads: Parameters) -> None:
        """Backpropagate ``doutputs`` (as ``forward``'s outputs) through a training-mode ``forward``.

        Writes the gradient of every parameter into ``grads`` (same layout as ``params``).
        """
        W, b, cache = self._out
        da = dense_backward(doutputs, caches[cache], grads[W], grads[b])
        for i in range(len(self._hidden) - 1, -1, -1):
            layer = self._hidden[i]
            if self._dropout:
                da = dropout_backward(da, caches[layer.drop])
            dz = self._backward_act(da, caches[layer.act])
            if layer.gamma:
                dz = batchnorm_backward(dz, caches[layer.bn], grads[layer.gamma], grads[layer.beta])
            da = dense_backward(dz, caches[layer.dense], grads[layer.W], grads[layer.b] if layer.b else None, i > 0)

    def loss_and_gradients(
        self, X: np.ndarray, Y: np.ndarray, grads: Parameters, caches: Caches, rng: Rng = None
    ) -> Any:
        """One training-mode pass over a mini-batch: its cost J, gradients into ``grads``.

        ``J = (1/m) sum_i L_i + (l2 / 2m) sum_l ||W_l||^2`` with m the batch size.

        ``L_i`` is the head's: cross-entropy of softmax(Z_i) for classification,
        ``(1/2) ||Z_i - y_i||^2`` for regression (``hpsearch.nn.heads``).

        Parameters
        ----------
        X : (m, n_features); Y : ``targets(y)``: (m, n_classes) one-hot, or
            (m, n_outputs) standardized targets; both in the network's dtype (a pack's: (K, m, ...))
        grads : receives dJ/d(every parameter)
        caches, rng : as for ``forward``

        Returns
        -------
        J : Python float; a pack's (K,) float64
        """
        outputs = self.forward(X, caches, train=True, rng=rng)
        cost = self.head.loss(outputs, Y, caches["loss"])
        self.backward(self.head.loss_backward(caches["loss"]), caches, grads)
        if self._has_l2:
            m, l2, last = X.shape[-2], self.scalars.l2, self._out[0]
            weights = self.params.span("W1", last)
            cost += l2_penalty(weights, l2, m)
            l2_penalty_backward(weights, l2, m, grads.span("W1", last), caches["loss"])
        return cost

    def metrics(
        self, X: np.ndarray, y: np.ndarray, caches: Caches | None = None, keys: Container[str] | None = None
    ) -> dict[str, Any]:
        """The head's per-epoch dev metrics of one inference-mode pass, keyed as in the history.

        Classification: ``dev_cost``, ``dev_accuracy`` (the values of ``evaluate``).
        Regression: ``dev_cost`` (J on standardized targets), ``dev_accuracy`` (NaN),
        ``dev_rmse`` and ``dev_r2`` in target units. ``caches`` as for ``evaluate``.
        The optional series (``nn.metrics.OPTIONAL_KEYS``) only where ``keys`` (e.g. a history) holds
        them, or ``keys`` is None. A pack's values are (K,) float64 arrays.
        """
        outputs = self.forward(self._cast(X), caches if caches is not None else self.new_caches())
        return self.head.metrics(outputs, y, keys)

    def targets(self, y: np.ndarray) -> np.ndarray:
        """``y`` (the training rows) as ``loss_and_gradients`` takes it: one-hot (m, n_classes), each row times its
        class's weight under ``model.class_weight: balanced``, or regression targets (m, n_outputs),
        C-contiguous in the network's dtype."""
        return self.head.training_targets(y, self.dtype)

    def _cast(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X, dtype=self.dtype)


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
