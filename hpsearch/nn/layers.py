"""Layers of a fully connected network as forward/backward pairs.

The cs231n contract: every ``*_forward`` fills a ``cache`` dict with what the
matching ``*_backward`` needs and returns its output; ``*_backward`` reads that
cache, writes parameter gradients into the arrays it is given (views of the
network's gradient buffer) and returns the gradient with respect to its input.

The cache also holds every output and scratch array. Passing the same dict
again for the next batch of the same size reuses them, so a training step
allocates no arrays of its own; a fresh ``{}`` works too (inference, tests). An array
returned by a layer is therefore only valid until the next call with the same
cache.

Shapes: ``m`` examples per batch, ``n_in`` inputs, ``n`` units. Every layer also takes a
leading model axis, ``(K, m, n)``, with per-unit vectors as rows ``(K, 1, n)`` (they broadcast
over the batch as ``(n,)`` does alone, and no step reshapes them): the same function trains
one network or a pack of K (``nn.stacked``), each model with the bits it has alone, because
every operation is one of three kinds:

* **Products** (``PRODUCTS``): ``np.dot`` for one network; ``np.matmul`` on ``(K, m, n) @
  (K, n, h)`` (or ``(1, m) @ (K, m, n)``) calls, per model, the same BLAS kernel (gemm, gemv
  or dot) on the same operands and layout (``einsum`` would not: it sums in another order).
* **Elementwise operations**: IEEE arithmetic per element. A per-model scalar is a Python
  float for one network and a ``(K, 1, 1)`` array in the network's dtype for a pack: what the
  Python float becomes when it meets a float32 array alone (NumPy 2's weak scalars), computed
  from the same Python expression.
* **Other reductions** (``per_model_sum``, ``per_model_dot``): each model's contiguous block
  reduced exactly as the block alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np

Cache = dict[str, np.ndarray]

BN_EPSILON = 1e-5
"""Added to the variance in batch norm so a unit with no spread does not divide by zero."""

LEAKY_RELU_SLOPE = 0.01
"""Slope of leaky ReLU for negative inputs."""


def cached_array(cache: Cache, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``cache[key]`` if it already has this shape, else a new uninitialized array stored there."""
    array = cache.get(key)
    if array is None or array.shape != shape:
        array = cache[key] = np.empty(shape, dtype)
    return array


PRODUCTS = (np.dot, np.dot, np.dot, np.matmul)
"""The matrix product by the number of dimensions of its operand: ``np.dot`` (the lower call
overhead) for one network's (m, n), ``np.matmul`` (one BLAS call per model, the one ``np.dot``
makes alone) for a pack's (K, m, n). Picked once per layer call, by a tuple index (a step is
many small calls, and a helper function's call would cost more than the pick)."""


def per_model_sum(a: np.ndarray) -> float | np.ndarray:
    """The sum of a one network's array (a Python float), or of each model's block (``(K,)`` float64)
    of an array with a leading model axis (3-D or more): each block summed as it is alone."""
    if a.ndim <= 2:
        return float(a.sum())
    return a.reshape(a.shape[0], -1).sum(axis=1).astype(np.float64)


def per_model_dot(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """``vdot(a, b)`` of one network's arrays (a Python float), or per model (``(K,)`` float64) where
    ``a`` has a leading model axis (3-D or more) and ``b`` has it too or is shared: one BLAS dot each."""
    if a.ndim <= 2:
        return float(np.vdot(a, b))
    K = a.shape[0]
    columns = b.reshape(K, -1, 1) if b.ndim == a.ndim else b.reshape(-1, 1)
    return np.matmul(a.reshape(K, 1, -1), columns)[:, 0, 0].astype(np.float64)


def cached_constant(cache: Cache, key: str, m: int, value: float, like: np.ndarray) -> np.ndarray:
    """A cached (m,) vector filled with ``value``, in ``like``'s dtype; a (1, m) row for a pack's
    ``like`` (K, m, n), so that ``row @ like`` is (K, 1, n): one gemv per model.

    Column sums and means are taken as ``ones @ X`` (one BLAS gemv), about
    twice as fast as ``X.sum(axis=0)`` on the small batches training uses.
    """
    array = cache.get(key)
    if array is None or array.shape[-1] != m:
        array = cache[key] = np.full(m if like.ndim == 2 else (1, m), value, like.dtype)
    return array


# --------------------------------------------------------------------------- dense


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, cache: Cache) -> np.ndarray:
    """Affine layer ``z = x W + b``.

    Parameters
    ----------
    x : (m, n_in) input; for a pack (K, m, n_in), or (m, n_in) shared by every model
    W : (n_in, n) weights; (K, n_in, n)
    b : (n,) bias, or None where batch norm follows (its mean subtraction cancels a bias); (K, 1, n)

    Returns
    -------
    z : (m, n); (K, m, n)
    """
    cache["x"] = x
    cache["W"] = W
    z = cached_array(cache, "z", (*W.shape[:-2], x.shape[-2], W.shape[-1]), W.dtype)
    PRODUCTS[W.ndim](x, W, out=z)
    if b is not None:
        z += b
    return z


def dense_backward(
    dz: np.ndarray, cache: Cache, dW: np.ndarray, db: np.ndarray | None, need_dx: bool = True
) -> np.ndarray | None:
    """Gradients of the affine layer.

    Parameters
    ----------
    dz : (m, n) gradient of the cost with respect to ``z``
    dW : (n_in, n) receives ``x.T @ dz``
    db : (n,) receives the column sums of ``dz``; None when the layer has no bias
    need_dx : False for the first layer, whose input gradient nobody uses (saves a matmul)

    Returns
    -------
    dx : (m, n_in), or None when ``need_dx`` is False
    """
    x = cache["x"]
    mm = PRODUCTS[dz.ndim]
    mm(x.mT, dz, out=dW)
    if db is not None:
        mm(cached_constant(cache, "ones", dz.shape[-2], 1.0, dz), dz, out=db)
    if not need_dx:
        return None
    dx = cached_array(cache, "dx", x.shape, dz.dtype)
    mm(dz, cache["W"].mT, out=dx)
    return dx


# ---------------------------------------------------------------------- batch norm


def batchnorm_forward(
    z: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running: np.ndarray,
    momentum: float | np.ndarray,
    train: bool,
    cache: Cache,
    stats_weight: float | np.ndarray | None = None,
) -> np.ndarray:
    """Batch normalization of each unit.

    Training (statistics of this batch)::

        mu = mean_i z_i,  var = mean_i (z_i - mu)^2        (biased, as in the formula)
        z_norm = (z - mu) / sqrt(var + eps)
        out = gamma * z_norm + beta
        running <- momentum * running + (1 - momentum) * [mu; var]

    Inference uses ``running`` in place of ``[mu; var]`` and leaves it alone, so
    one example's output does not depend on the rest of its batch.

    Parameters
    ----------
    z : (m, n) pre-activations; (K, m, n) for a pack
    gamma, beta : (n,) learned scale and shift; (K, 1, n)
    running : (2, n) exponentially weighted averages of ``[mu; var]``, updated in place when training; (K, 2, n)
    momentum : weight of the old value in ``running`` (a Python float; a (K, 1, 1) column for a pack)
    stats_weight : ``1 - momentum``, computed so by default; a pack passes each model's, rounded from
        its Python float as alone

    Returns
    -------
    out : (m, n); (K, m, n)
    """
    out = cached_array(cache, "out", z.shape, z.dtype)
    if not train:
        scale = gamma / np.sqrt(running[..., 1:2, :] + BN_EPSILON)
        np.subtract(z, running[..., 0:1, :], out=out)
        out *= scale
        out += beta
        return out
    m = z.shape[-2]
    mm = PRODUCTS[z.ndim]
    mean_weights = cached_constant(cache, "mean_weights", m, 1.0 / m, z)
    stats = cache.get("stats")
    if stats is None or stats.shape != running.shape:
        stats = _new_batch_stats(cache, running)
    mean, var = cache["mean"], cache["var"]
    zc = cached_array(cache, "zc", z.shape, z.dtype)
    inv_std = cached_array(cache, "inv_std", gamma.shape, z.dtype)
    scale = cached_array(cache, "scale", gamma.shape, z.dtype)

    mm(mean_weights, z, out=mean)
    np.subtract(z, mean, out=zc)
    np.square(zc, out=out)  # `out` is free until the last step: use it as scratch
    mm(mean_weights, out, out=var)
    np.add(var, BN_EPSILON, out=inv_std)
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    # gamma * z_norm == zc * (gamma * inv_std): one (m, n) multiply instead of two
    np.multiply(gamma, inv_std, out=scale)
    np.multiply(zc, scale, out=out)
    out += beta

    stats *= 1.0 - momentum if stats_weight is None else stats_weight
    running *= momentum
    running += stats
    return out


def _new_batch_stats(cache: Cache, running: np.ndarray) -> np.ndarray:
    """A new cached batch ``[mean; variance]`` (running's shape), and its two rows as ``cache["mean"]`` and
    ``cache["var"]``: (n,) each for one network, (K, 1, n) for a pack (as its gamma and beta)."""
    stats = cache["stats"] = np.empty_like(running)
    cache["mean"], cache["var"] = (stats[0], stats[1]) if stats.ndim == 2 else (stats[:, 0:1], stats[:, 1:2])
    return stats


def batchnorm_backward(dout: np.ndarray, cache: Cache, dgamma: np.ndarray, dbeta: np.ndarray) -> np.ndarray:
    """Gradients of training-mode batch norm.

    With ``z_norm = zc * inv_std`` from the forward pass::

        dbeta  = sum_i dout_i
        dgamma = sum_i dout_i * z_norm_i
        dz     = gamma * inv_std * (dout - dbeta / m - z_norm * dgamma / m)

    (the last line is the chain rule through ``mu`` and ``var`` collapsed; the
    gradient check in the tests confirms it).

    Parameters
    ----------
    dout : (m, n) gradient with respect to the layer's output; (K, m, n) for a pack
    dgamma, dbeta : (n,) receive the parameter gradients; (K, 1, n)

    Returns
    -------
    dz : (m, n); (K, m, n)
    """
    m = dout.shape[-2]
    mm = PRODUCTS[dout.ndim]
    zc, inv_std, scale = cache["zc"], cache["inv_std"], cache["scale"]
    ones = cached_constant(cache, "ones", m, 1.0, dout)
    dz = cached_array(cache, "dz", dout.shape, dout.dtype)
    zc_coef = cached_array(cache, "zc_coef", inv_std.shape, dout.dtype)
    dout_mean = cached_array(cache, "dout_mean", inv_std.shape, dout.dtype)

    mm(ones, dout, out=dbeta)
    np.multiply(dout, zc, out=dz)  # `dz` as scratch for dout * zc
    mm(ones, dz, out=dgamma)
    dgamma *= inv_std
    # z_norm * dgamma / m == zc * (inv_std * dgamma / m): keep the (m, n) work to one multiply
    np.multiply(dgamma, inv_std, out=zc_coef)
    zc_coef *= 1.0 / m
    np.multiply(dbeta, 1.0 / m, out=dout_mean)
    np.multiply(zc, zc_coef, out=dz)
    dz += dout_mean
    np.subtract(dout, dz, out=dz)
    dz *= scale
    return dz


# --------------------------------------------------------------------- activations


def relu_forward(z: np.ndarray, cache: Cache, leak: float = 0.0) -> np.ndarray:
    """``a = max(z, 0)`` as ``z * (z > 0)``; with ``leak``, ``a = z`` where ``z > 0``, else ``leak * z``.

    The slope (0/1, or leak/1) is kept as the derivative for backward, and computing
    it plus one multiply is faster than ``np.maximum`` (whose NaN handling is slow).
    NaN still propagates: ``NaN * 0`` is NaN. ReLU (leak 0) skips the two
    operations that would make its 0/1 slope leak/1 (exact no-ops there).

    z : (m, n) → a : (m, n)
    """
    slope = cached_array(cache, "slope", z.shape, z.dtype)
    np.greater(z, 0.0, out=slope)
    if leak:
        slope *= 1.0 - leak
        slope += leak
    a = cached_array(cache, "a", z.shape, z.dtype)
    np.multiply(z, slope, out=a)
    return a


def leaky_relu_forward(z: np.ndarray, cache: Cache) -> np.ndarray:
    """``a = z`` where ``z > 0``, else ``LEAKY_RELU_SLOPE * z`` (``relu_forward`` with that leak).

    z : (m, n) → a : (m, n)
    """
    return relu_forward(z, cache, LEAKY_RELU_SLOPE)


def piecewise_linear_backward(da: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward of ReLU and leaky ReLU: ``dz = da * slope`` with the slope saved by forward.

    da : (m, n) → dz : (m, n)
    """
    dz = cached_array(cache, "dz", da.shape, da.dtype)
    np.multiply(da, cache["slope"], out=dz)
    return dz


def tanh_forward(z: np.ndarray, cache: Cache) -> np.ndarray:
    """``a = tanh(z)``.  z : (m, n) → a : (m, n)"""
    a = cached_array(cache, "a", z.shape, z.dtype)
    np.tanh(z, out=a)
    return a


def tanh_backward(da: np.ndarray, cache: Cache) -> np.ndarray:
    """``dz = da * (1 - a^2)``.  da : (m, n) → dz : (m, n)"""
    dz = cached_array(cache, "dz", da.shape, da.dtype)
    np.square(cache["a"], out=dz)
    np.subtract(1.0, dz, out=dz)
    dz *= da
    return dz


Forward = Callable[[np.ndarray, Cache], np.ndarray]
Backward = Callable[[np.ndarray, Cache], np.ndarray]

ACTIVATIONS: dict[str, tuple[Forward, Backward]] = {
    "relu": (relu_forward, piecewise_linear_backward),
    "leaky_relu": (leaky_relu_forward, piecewise_linear_backward),
    "tanh": (tanh_forward, tanh_backward),
}
"""Hidden activation name (the ``activation`` hyperparameter) → (forward, backward)."""


# ------------------------------------------------------------------------ dropout


def dropout_forward(
    a: np.ndarray,
    keep_prob: float | np.ndarray,
    rng: np.random.Generator | Sequence[np.random.Generator],
    cache: Cache,
    keep_scale: float | np.ndarray | None = None,
) -> np.ndarray:
    """Inverted dropout: keep each unit with probability ``keep_prob``, scaled by ``1/keep_prob``.

    The scaling keeps the expected activation unchanged, so inference skips
    this layer altogether. Training only.

    a : (m, n) → out : (m, n). A pack: a (K, m, n), ``keep_prob`` and ``keep_scale``
    (``1/keep_prob`` of each model's Python float) (K, 1, 1) columns, ``rng`` one
    Generator per model (model k's mask from ``rng[k]``, as alone).

    Raises ValueError when ``rng`` is None: the mask must come from the caller's
    seeded stream, never from a hidden global one.
    """
    if rng is None:
        raise ValueError("dropout_forward needs rng, a numpy Generator (the seeded source of its mask)")
    mask = cached_array(cache, "mask", a.shape, a.dtype)
    if a.ndim == 2:
        rng.random(out=mask, dtype=a.dtype.type)
    else:
        for generator, part in zip(rng, mask):
            generator.random(out=part, dtype=a.dtype.type)
    np.less(mask, keep_prob, out=mask)
    mask *= 1.0 / keep_prob if keep_scale is None else keep_scale
    out = cached_array(cache, "out", a.shape, a.dtype)
    np.multiply(a, mask, out=out)
    return out


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """``da = dout * mask`` (the mask already holds ``1/keep_prob``).  (m, n) → (m, n)"""
    da = cached_array(cache, "da", dout.shape, dout.dtype)
    np.multiply(dout, cache["mask"], out=da)
    return da
