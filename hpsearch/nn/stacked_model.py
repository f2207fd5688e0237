"""K networks of one architecture computed as one: every array gets a leading model axis.

A search trains many networks of the same shape, and on small ones a step
costs ~50 NumPy calls whose fixed overhead outweighs the arithmetic. Here
each of those calls works on all K models at once, so the overhead is paid
once per pack. Each model's numbers stay exactly those of ``Network`` and
``Optimizer`` training it alone, because every operation is one of three
kinds:

* **Products** — ``np.matmul`` on ``(K, m, n) @ (K, n, h)`` calls, per model,
  the same BLAS kernel (gemm, gemv or dot) that ``np.dot`` calls alone, on
  the same operands and layout (``einsum`` would not: it sums in another order).
* **Elementwise operations** — IEEE arithmetic per element, independent of
  the array around it. A per-model scalar is a ``(K, 1, 1)`` array in the
  network's dtype: what a Python float becomes when it meets a float32 array
  alone (NumPy 2's weak scalars), computed from the same Python expression.
* **Other reductions** — the loss's row sums reduce the same contiguous rows
  (``(K, m)`` along axis 1 sums each row exactly as a lone ``(m,)`` sum).

The tests hold every optimizer x decay x batch norm x dropout x dtype to
``np.array_equal`` against training alone.

Shapes: K models, m examples per batch, n units; parameters as ``(K, size)``
with each row in ``Parameters``' layout of one network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hpsearch.nn.layers import ACTIVATIONS, BN_EPSILON, Cache, cached_array, dropout_backward
from hpsearch.nn.model import Network

Caches = dict[str, Cache]


def parameter_views(flat: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """``name -> (K, *shape)`` views into the rows of ``flat`` (K, size), in ``Parameters``' order."""
    views, offset = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        views[name] = flat[:, offset : offset + size].reshape(flat.shape[0], *shape)
        offset += size
    return views


def _column(values: Sequence[float], dtype: np.dtype) -> np.ndarray:
    """Per-model scalars as a (K, 1, 1) array of ``dtype``: each Python float rounded as NumPy would alone."""
    return np.array(values, dtype).reshape(-1, 1, 1)


class StackedNetwork:
    """K networks with one architecture and any per-model ``bn_momentum``, ``keep_prob`` and ``l2``.

    Build from networks whose ``stack_key`` agrees; ``write_back`` copies the
    weights and running averages back into them.

    Attributes
    ----------
    params, grads : (K, size) flat buffers, row k in ``networks[k].params.flat``'s layout
    running : ``{l: (K, 2, n_l)}`` batch-norm running ``[mean; variance]``
    """

    def __init__(self, networks: Sequence[Network]):
        if any(network.task != "classification" for network in networks):
            raise ValueError("only classifiers stack (softmax head); train a regression network with fit")
        first = networks[0]
        config = first.config
        self.dtype = first.dtype
        self.shapes = {name: array.shape for name, array in first.params.items()}
        self.depth = len(config.hidden_sizes)
        self.batchnorm = config.batchnorm
        self.dropout = config.keep_prob < 1.0
        self.has_l2 = config.l2 > 0.0
        self.weights_size = first.params.span("W1", f"W{self.depth + 1}").size
        self._act_forward, self._act_backward = ACTIVATIONS[config.activation]
        self.params = np.stack([network.params.flat for network in networks])
        self.running = {l: np.stack([network.running[l] for network in networks]) for l in first.running}
        configs = [network.config for network in networks]
        self._momentum = _column([c.bn_momentum for c in configs], self.dtype)
        self._stats_weight = _column([1.0 - c.bn_momentum for c in configs], self.dtype)
        self._keep_prob = _column([c.keep_prob for c in configs], self.dtype)
        self._keep_scale = _column([1.0 / c.keep_prob for c in configs], self.dtype)
        self._l2 = np.array([c.l2 for c in configs], np.float64)
        self._reset(np.zeros_like(self.params))

    def _reset(self, grads: np.ndarray) -> None:
        """(Re)build the views and drop the caches after ``params`` changed its number of rows."""
        self.grads = grads
        self.p = parameter_views(self.params, self.shapes)
        self.g = parameter_views(self.grads, self.shapes)
        self._caches: dict[int, Caches] = {}
        self._l2_terms: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def size(self) -> int:
        """K, the number of models."""
        return self.params.shape[0]

    def select(self, keep: np.ndarray) -> None:
        """Keep only the models at indices ``keep`` (in that order)."""
        self.params = self.params[keep]
        grads = self.grads[keep]  # a model leaving mid-epoch leaves the others' gradients of this batch to apply
        self.running = {l: stats[keep] for l, stats in self.running.items()}
        for name in ("_momentum", "_stats_weight", "_keep_prob", "_keep_scale", "_l2"):
            setattr(self, name, getattr(self, name)[keep])
        self._reset(grads)

    def write_back(self, networks: Sequence[Network], rows: Sequence[int]) -> None:
        """Copy model ``rows[i]``'s weights and running averages into ``networks[i]``."""
        for network, k in zip(networks, rows):
            network.params.flat[...] = self.params[k]
            for l, stats in network.running.items():
                stats[...] = self.running[l][k]

    def caches(self, m: int) -> Caches:
        """The caches of batches of ``m`` rows (reused from step to step)."""
        caches = self._caches.get(m)
        if caches is None:
            caches = self._caches[m] = {"loss": {}}
        return caches

    # ------------------------------------------------------------- computation

    def forward(
        self, X: np.ndarray, caches: Caches, train: bool = False, rngs: Sequence[np.random.Generator] = ()
    ) -> np.ndarray:
        """Logits (K, m, n_classes) of X: (K, m, n_features) per model, or (m, n_features) shared.

        As ``Network.forward``; ``rngs[k]`` is model k's dropout stream.
        """
        p = self.p
        a = X
        for l in range(1, self.depth + 1):
            bias = None if self.batchnorm else p[f"b{l}"]
            z = _dense_forward(a, p[f"W{l}"], bias, caches.setdefault(f"dense{l}", {}))
            if self.batchnorm:
                z = self._batchnorm_forward(z, l, train, caches.setdefault(f"bn{l}", {}))
            a = self._act_forward(z, caches.setdefault(f"act{l}", {}))
            if train and self.dropout:
                a = self._dropout_forward(a, rngs, caches.setdefault(f"drop{l}", {}))
        out = self.depth + 1
        return _dense_forward(a, p[f"W{out}"], p[f"b{out}"], caches.setdefault(f"dense{out}", {}))

    def backward(self, dlogits: np.ndarray, caches: Caches) -> None:
        """Backpropagate dlogits (K, m, n_classes) through a training ``forward``; gradients into ``grads``."""
        g = self.g
        out = self.depth + 1
        da = _dense_backward(dlogits, caches[f"dense{out}"], g[f"W{out}"], g[f"b{out}"])
        for l in range(self.depth, 0, -1):
            if self.dropout:
                da = dropout_backward(da, caches[f"drop{l}"])  # elementwise: any shape
            dz = self._act_backward(da, caches[f"act{l}"])
            if self.batchnorm:
                dz = _batchnorm_backward(dz, caches[f"bn{l}"], g[f"gamma{l}"], g[f"beta{l}"])
            bias = None if self.batchnorm else g[f"b{l}"]
            da = _dense_backward(dz, caches[f"dense{l}"], g[f"W{l}"], bias, l > 1)

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """As ``Network.loss_and_gradients`` per model: costs (K,) float64, gradients into ``grads``.

        X : (K, m, n_features), Y : (K, m, n_classes) one-hot
        """
        caches = self.caches(X.shape[1])
        logits = self.forward(X, caches, train=True, rngs=rngs)
        costs = _cross_entropy_forward(logits, Y, caches["loss"])
        self.backward(_cross_entropy_backward(caches["loss"]), caches)
        if self.has_l2:
            m = X.shape[1]
            cost_factor, gradient_factor = self._l2_factors(m)
            weights = self.params[:, : self.weights_size]
            squares = np.matmul(weights[:, None, :], weights[:, :, None])[:, 0, 0]  # one BLAS dot per model
            costs += cost_factor * squares.astype(np.float64)
            scaled = cached_array(caches["loss"], "l2_scaled", weights.shape, self.dtype)
            np.multiply(weights, gradient_factor, out=scaled)
            self.grads[:, : self.weights_size] += scaled
        return costs

    def _l2_factors(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``0.5 * l2 / m`` (float64, for the cost) and ``l2 / m`` (K, 1) in the dtype (for the gradient)."""
        factors = self._l2_terms.get(m)
        if factors is None:
            factors = self._l2_terms[m] = (0.5 * self._l2 / m, (self._l2 / m).astype(self.dtype)[:, None])
        return factors

    def evaluate(self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """``Network.evaluate`` of models ``rows`` on one shared set: (costs, accuracies), (k,) float64 each.

        X : (m, n_features), Y : (m, n_classes) one-hot of y : (m,)
        """
        whole = self.p, self.running
        self.p = parameter_views(self.params[rows], self.shapes)
        self.running = {l: stats[rows] for l, stats in self.running.items()}
        try:
            logits = self.forward(X, {"loss": {}})
        finally:
            self.p, self.running = whole
        costs = _cross_entropy_forward(logits, Y, {})
        accuracies = np.mean(np.argmax(logits, axis=2) == y, axis=1)
        return costs, accuracies

    # ------------------------------------------------------------ layers with per-model scalars

    def _batchnorm_forward(self, z: np.ndarray, l: int, train: bool, cache: Cache) -> np.ndarray:
        """``layers.batchnorm_forward`` per model, op for op. z : (K, m, n) → (K, m, n)"""
        gamma, beta, running = self.p[f"gamma{l}"][:, None, :], self.p[f"beta{l}"][:, None, :], self.running[l]
        out = cached_array(cache, "out", z.shape, z.dtype)
        if not train:
            scale = gamma / np.sqrt(running[:, 1:2] + BN_EPSILON)
            np.subtract(z, running[:, 0:1], out=out)
            out *= scale
            out += beta
            return out
        K, m, n = z.shape
        mean_weights = _constant_row(cache, "mean_weights", m, 1.0 / m, z.dtype)
        stats = cached_array(cache, "stats", (K, 2, n), z.dtype)  # rows: batch mean, batch variance
        zc = cached_array(cache, "zc", z.shape, z.dtype)
        inv_std = cached_array(cache, "inv_std", (K, 1, n), z.dtype)
        scale = cached_array(cache, "scale", (K, 1, n), z.dtype)

        np.matmul(mean_weights, z, out=stats[:, 0:1])
        np.subtract(z, stats[:, 0:1], out=zc)
        np.square(zc, out=out)
        np.matmul(mean_weights, out, out=stats[:, 1:2])
        np.add(stats[:, 1:2], BN_EPSILON, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.reciprocal(inv_std, out=inv_std)
        np.multiply(gamma, inv_std, out=scale)
        np.multiply(zc, scale, out=out)
        out += beta

        stats *= self._stats_weight
        running *= self._momentum
        running += stats
        return out

    def _dropout_forward(self, a: np.ndarray, rngs: Sequence[np.random.Generator], cache: Cache) -> np.ndarray:
        """``layers.dropout_forward`` per model: model k's mask from ``rngs[k]``. a : (K, m, n)"""
        mask = cached_array(cache, "mask", a.shape, a.dtype)
        for k, rng in enumerate(rngs):
            rng.random(out=mask[k], dtype=a.dtype.type)
        np.less(mask, self._keep_prob, out=mask)
        mask *= self._keep_scale
        out = cached_array(cache, "out", a.shape, a.dtype)
        np.multiply(a, mask, out=out)
        return out


# ------------------------------------------------------------------ layers without per-model scalars


def _constant_row(cache: Cache, key: str, m: int, value: float, dtype: np.dtype) -> np.ndarray:
    """A cached (1, m) row of ``value``: ``row @ (K, m, n)`` is one gemv per model, as ``ones @ x`` alone."""
    array = cache.get(key)
    if array is None or array.shape[1] != m:
        array = cache[key] = np.full((1, m), value, dtype)
    return array


def _dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, cache: Cache) -> np.ndarray:
    """``z = x W + b`` per model. x : (K, m, n_in) or shared (m, n_in), W : (K, n_in, n), b : (K, n) → (K, m, n)"""
    cache["x"] = x
    cache["W"] = W
    z = cached_array(cache, "z", (W.shape[0], x.shape[-2], W.shape[2]), W.dtype)
    np.matmul(x, W, out=z)
    if b is not None:
        z += b[:, None, :]
    return z


def _dense_backward(
    dz: np.ndarray, cache: Cache, dW: np.ndarray, db: np.ndarray | None, need_dx: bool = True
) -> np.ndarray | None:
    """``layers.dense_backward`` per model. dz : (K, m, n) → dx : (K, m, n_in) or None"""
    x = cache["x"]
    np.matmul(x.transpose(0, 2, 1), dz, out=dW)
    if db is not None:
        np.matmul(_constant_row(cache, "ones", dz.shape[1], 1.0, dz.dtype), dz, out=db[:, None, :])
    if not need_dx:
        return None
    dx = cached_array(cache, "dx", x.shape, dz.dtype)
    np.matmul(dz, cache["W"].transpose(0, 2, 1), out=dx)
    return dx


def _batchnorm_backward(dout: np.ndarray, cache: Cache, dgamma: np.ndarray, dbeta: np.ndarray) -> np.ndarray:
    """``layers.batchnorm_backward`` per model, op for op. dout : (K, m, n) → dz : (K, m, n)"""
    K, m, n = dout.shape
    zc, inv_std, scale = cache["zc"], cache["inv_std"], cache["scale"]
    ones = _constant_row(cache, "ones", m, 1.0, dout.dtype)
    dz = cached_array(cache, "dz", dout.shape, dout.dtype)
    zc_coef = cached_array(cache, "zc_coef", (K, 1, n), dout.dtype)
    dout_mean = cached_array(cache, "dout_mean", (K, 1, n), dout.dtype)
    dgamma, dbeta = dgamma[:, None, :], dbeta[:, None, :]

    np.matmul(ones, dout, out=dbeta)
    np.multiply(dout, zc, out=dz)
    np.matmul(ones, dz, out=dgamma)
    dgamma *= inv_std
    np.multiply(dgamma, inv_std, out=zc_coef)
    zc_coef *= 1.0 / m
    np.multiply(dbeta, 1.0 / m, out=dout_mean)
    np.multiply(zc, zc_coef, out=dz)
    dz += dout_mean
    np.subtract(dout, dz, out=dz)
    dz *= scale
    return dz


def _cross_entropy_forward(logits: np.ndarray, Y: np.ndarray, cache: Cache) -> np.ndarray:
    """``losses.softmax_cross_entropy_forward`` per model: costs (K,) float64.

    logits : (K, m, C); Y : (K, m, C) per model or (m, C) shared
    """
    K, m, n_classes = logits.shape
    row_max = cached_array(cache, "row_max", (K, m, 1), logits.dtype)
    shifted = cached_array(cache, "shifted", logits.shape, logits.dtype)
    probs = cached_array(cache, "probs", logits.shape, logits.dtype)
    row_sum = cached_array(cache, "row_sum", (K, m, 1), logits.dtype)
    ones = cache.get("class_ones")
    if ones is None or ones.shape[0] != n_classes:
        ones = cache["class_ones"] = np.ones((n_classes, 1), logits.dtype)

    np.maximum.reduce(logits, axis=2, keepdims=True, out=row_max)
    np.subtract(logits, row_max, out=shifted)
    np.exp(shifted, out=probs)
    np.matmul(probs, ones, out=row_sum)
    probs /= row_sum
    cache["Y"] = Y
    np.log(row_sum, out=row_sum)
    sums = row_sum.reshape(K, m).sum(axis=1)
    Y_columns = Y.reshape(K, m * n_classes, 1) if Y.ndim == 3 else Y.reshape(m * n_classes, 1)
    dots = np.matmul(shifted.reshape(K, 1, m * n_classes), Y_columns)[:, 0, 0]  # one BLAS dot per model (vdot)
    return (sums.astype(np.float64) - dots.astype(np.float64)) / m


def _cross_entropy_backward(cache: Cache) -> np.ndarray:
    """``(probs - Y) / m`` per model. → (K, m, C)"""
    probs, Y = cache["probs"], cache["Y"]
    dlogits = cached_array(cache, "dlogits", probs.shape, probs.dtype)
    np.subtract(probs, Y, out=dlogits)
    dlogits *= 1.0 / probs.shape[1]
    return dlogits
