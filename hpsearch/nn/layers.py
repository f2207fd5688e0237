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

Shapes: ``m`` examples per batch, ``n_in`` inputs, ``n`` units.
"""

from __future__ import annotations

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


def cached_constant(cache: Cache, key: str, m: int, value: float, dtype: np.dtype) -> np.ndarray:
    """A cached (m,) vector filled with ``value``.

    Column sums and means are taken as ``ones @ X`` (one BLAS gemv), about
    twice as fast as ``X.sum(axis=0)`` on the small batches training uses.
    """
    array = cache.get(key)
    if array is None or array.shape[0] != m:
        array = cache[key] = np.full(m, value, dtype)
    return array


# --------------------------------------------------------------------------- dense


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, cache: Cache) -> np.ndarray:
    """Affine layer ``z = x W + b``.

    Parameters
    ----------
    x : (m, n_in) input
    W : (n_in, n) weights
    b : (n,) bias, or None where batch norm follows (its mean subtraction cancels a bias)

    Returns
    -------
    z : (m, n)
    """
    cache["x"] = x
    cache["W"] = W
    z = cached_array(cache, "z", (x.shape[0], W.shape[1]), W.dtype)
    np.dot(x, W, out=z)
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
    np.dot(x.T, dz, out=dW)
    if db is not None:
        np.dot(cached_constant(cache, "ones", dz.shape[0], 1.0, dz.dtype), dz, out=db)
    if not need_dx:
        return None
    dx = cached_array(cache, "dx", x.shape, dz.dtype)
    np.dot(dz, cache["W"].T, out=dx)
    return dx


# ---------------------------------------------------------------------- batch norm


def batchnorm_forward(
    z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running: np.ndarray, momentum: float, train: bool, cache: Cache
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
    z : (m, n) pre-activations
    gamma, beta : (n,) learned scale and shift
    running : (2, n) exponentially weighted averages of ``[mu; var]``, updated in place when training
    momentum : weight of the old value in ``running`` (a Python float)

    Returns
    -------
    out : (m, n)
    """
    out = cached_array(cache, "out", z.shape, z.dtype)
    if not train:
        scale = gamma / np.sqrt(running[1] + BN_EPSILON)
        np.subtract(z, running[0], out=out)
        out *= scale
        out += beta
        return out
    m, n = z.shape
    mean_weights = cached_constant(cache, "mean_weights", m, 1.0 / m, z.dtype)
    stats = cached_array(cache, "stats", (2, n), z.dtype)  # rows: batch mean, batch variance
    zc = cached_array(cache, "zc", z.shape, z.dtype)
    inv_std = cached_array(cache, "inv_std", (n,), z.dtype)
    scale = cached_array(cache, "scale", (n,), z.dtype)

    np.dot(mean_weights, z, out=stats[0])
    np.subtract(z, stats[0], out=zc)
    np.square(zc, out=out)  # `out` is free until the last step: use it as scratch
    np.dot(mean_weights, out, out=stats[1])
    np.add(stats[1], BN_EPSILON, out=inv_std)
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    # gamma * z_norm == zc * (gamma * inv_std): one (m, n) multiply instead of two
    np.multiply(gamma, inv_std, out=scale)
    np.multiply(zc, scale, out=out)
    out += beta

    stats *= 1.0 - momentum
    running *= momentum
    running += stats
    return out


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
    dout : (m, n) gradient with respect to the layer's output
    dgamma, dbeta : (n,) receive the parameter gradients

    Returns
    -------
    dz : (m, n)
    """
    m, n = dout.shape
    zc, inv_std, scale = cache["zc"], cache["inv_std"], cache["scale"]
    ones = cached_constant(cache, "ones", m, 1.0, dout.dtype)
    dz = cached_array(cache, "dz", dout.shape, dout.dtype)
    zc_coef = cached_array(cache, "zc_coef", (n,), dout.dtype)
    dout_mean = cached_array(cache, "dout_mean", (n,), dout.dtype)

    np.dot(ones, dout, out=dbeta)
    np.multiply(dout, zc, out=dz)  # `dz` as scratch for dout * zc
    np.dot(ones, dz, out=dgamma)
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


def relu_forward(z: np.ndarray, cache: Cache) -> np.ndarray:
    """``a = max(z, 0)`` as ``z * (z > 0)``.

    The 0/1 mask is kept as the derivative for backward, and computing it plus
    one multiply is faster than ``np.maximum`` (whose NaN handling is slow).
    NaN still propagates: ``NaN * 0`` is NaN.

    z : (m, n) → a : (m, n)
    """
    slope = cached_array(cache, "slope", z.shape, z.dtype)
    np.greater(z, 0.0, out=slope)
    a = cached_array(cache, "a", z.shape, z.dtype)
    np.multiply(z, slope, out=a)
    return a


def leaky_relu_forward(z: np.ndarray, cache: Cache) -> np.ndarray:
    """``a = z`` where ``z > 0``, else ``LEAKY_RELU_SLOPE * z``.

    z : (m, n) → a : (m, n)
    """
    slope = cached_array(cache, "slope", z.shape, z.dtype)
    np.greater(z, 0.0, out=slope)
    slope *= 1.0 - LEAKY_RELU_SLOPE
    slope += LEAKY_RELU_SLOPE
    a = cached_array(cache, "a", z.shape, z.dtype)
    np.multiply(z, slope, out=a)
    return a


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


def dropout_forward(a: np.ndarray, keep_prob: float, rng: np.random.Generator, cache: Cache) -> np.ndarray:
    """Inverted dropout: keep each unit with probability ``keep_prob``, scaled by ``1/keep_prob``.

    The scaling keeps the expected activation unchanged, so inference skips
    this layer altogether. Training only.

    a : (m, n) → out : (m, n)

    Raises ValueError when ``rng`` is None: the mask must come from the caller's
    seeded stream, never from a hidden global one.
    """
    if rng is None:
        raise ValueError("dropout_forward needs rng, a numpy Generator (the seeded source of its mask)")
    mask = cached_array(cache, "mask", a.shape, a.dtype)
    rng.random(out=mask, dtype=a.dtype.type)
    np.less(mask, keep_prob, out=mask)
    mask *= 1.0 / keep_prob
    out = cached_array(cache, "out", a.shape, a.dtype)
    np.multiply(a, mask, out=out)
    return out


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """``da = dout * mask`` (the mask already holds ``1/keep_prob``).  (m, n) → (m, n)"""
    da = cached_array(cache, "da", dout.shape, dout.dtype)
    np.multiply(dout, cache["mask"], out=da)
    return da
