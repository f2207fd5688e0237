"""The two output heads and their costs, and the L2 penalty.

Classification: softmax output, cross-entropy cost. Regression: identity
(linear) output, half the mean squared error.

Same cache contract as ``layers``: forward fills a dict that backward reads,
and reusing the dict for the next batch of the same size reuses its arrays.
Like the layers, each cost takes a leading model axis (a pack of K networks,
``nn.stacked``) and then returns each model's cost, ``(K,)`` float64, with the
bits it has alone.
"""

from __future__ import annotations

import numpy as np

from hpsearch.nn.layers import PRODUCTS, Cache, cached_array, per_model_dot, per_model_sum


def one_hot(y: np.ndarray, n_classes: int, dtype: np.dtype | type) -> np.ndarray:
    """(m,) int class ids → (m, n_classes) rows with a single 1."""
    Y = np.zeros((y.shape[0], n_classes), dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """``model.class_weight: balanced``: ``w_c = m / (C * m_c)`` from the m labels ``y`` (the training rows), C
    classes, m_c rows of class c; a class with no row weighs 1 (no row of it is ever weighed). A rare class
    weighs more, and the weights average 1 over the rows. y : (m,) ints → (C,) float64"""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(np.float64)
    return np.where(counts > 0, len(y) / (n_classes * np.where(counts > 0, counts, 1.0)), 1.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any finite logits.

    Shifting each row by its max leaves the result unchanged and keeps
    ``exp`` in [0, 1], so no logit can overflow it.

    logits : (m, C) → probs : (m, C), rows sum to 1
    """
    probs = logits - logits.max(axis=1, keepdims=True)
    np.exp(probs, out=probs)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


def softmax_cross_entropy_forward(
    logits: np.ndarray, Y: np.ndarray, cache: Cache, weighted: bool = False
) -> float | np.ndarray:
    """Mean cross-entropy of ``softmax(logits)`` against one-hot labels (``weighted``: class-weighted).

    With ``s = logits - rowmax`` (the shift cancels)::

        L_i = -log softmax(s_i)[y_i] = log sum_c exp(s_ic) - s_i[y_i]
        J   = (1/m) sum_i L_i

    Finite for any finite logits (±1e4 included): the log-sum-exp term is at
    least log 1 = 0 and at most log C.

    ``weighted`` (``model.class_weight: balanced``): row i of ``Y`` is ``w_{y_i}`` times its one-hot row
    (``class_weights``), and ``J = (1/m) sum_i w_{y_i} L_i``: divided by the batch size m, not by the sum of the
    weights, so the gradient is plainly ``w_{y_i} (p_i - onehot_i) / m`` and, as the weights average 1 over the
    training rows, a batch's J estimates the weighted mean loss of the training set.

    Parameters
    ----------
    logits : (m, C) output-layer pre-activations; (K, m, C) for a pack
    Y : (m, C) one-hot labels (weighted rows when ``weighted``), same dtype as ``logits``; (K, m, C), or (m, C)
        shared by the pack

    Returns
    -------
    J : Python float; (K,) float64 for a pack
    """
    m, n_classes = logits.shape[-2:]
    row_max = cached_array(cache, "row_max", (*logits.shape[:-1], 1), logits.dtype)
    shifted = cached_array(cache, "shifted", logits.shape, logits.dtype)
    probs = cached_array(cache, "probs", logits.shape, logits.dtype)
    row_sum = cached_array(cache, "row_sum", (*logits.shape[:-1], 1), logits.dtype)
    ones = cache.get("class_ones")
    if ones is None or ones.shape[0] != n_classes:
        ones = cache["class_ones"] = np.ones((n_classes, 1), logits.dtype)

    np.maximum.reduce(logits, axis=-1, keepdims=True, out=row_max)
    np.subtract(logits, row_max, out=shifted)
    np.exp(shifted, out=probs)
    PRODUCTS[probs.ndim](probs, ones, out=row_sum)  # row sums by BLAS: cheaper than probs.sum(axis=1) for small C
    probs /= row_sum
    cache["Y"] = Y
    np.log(row_sum, out=row_sum)
    if weighted:  # rows of Y hold w_{y_i} at the label: J = (1/m) sum_i w_{y_i} L_i
        row_weight = cache["row_weight"] = Y.sum(axis=-1, keepdims=True)
        return (per_model_dot(row_sum, row_weight) - per_model_dot(shifted, Y)) / m
    cache.pop("row_weight", None)
    if logits.ndim == 2:  # one network: per_model_sum and per_model_dot's own sums, without their two calls a step
        return (float(row_sum.sum()) - float(np.vdot(shifted, Y))) / m
    return (per_model_sum(row_sum) - per_model_dot(shifted, Y)) / m


def softmax_cross_entropy_backward(cache: Cache) -> np.ndarray:
    """Gradient of J with respect to the logits: ``(probs - Y) / m``; class-weighted, ``(w * probs - Y) / m``.

    This short form holds only for softmax paired with cross-entropy: the
    softmax Jacobian ``dp_j/dz_k = p_j (δ_jk - p_k)`` contracted with
    ``dL/dp_j = -Y_j / p_j`` and ``sum_j Y_j = 1`` gives ``p_k - Y_k``.

    Returns
    -------
    dlogits : (m, C)
    """
    probs, Y = cache["probs"], cache["Y"]
    dlogits = cached_array(cache, "dlogits", probs.shape, probs.dtype)
    row_weight = cache.get("row_weight")
    if row_weight is not None:  # weighted rows: d(w_i L_i)/dz_i = w_i p_i - w_i onehot_i = w_i p_i - Y_i
        np.multiply(probs, row_weight, out=dlogits)
        dlogits -= Y
    else:
        np.subtract(probs, Y, out=dlogits)
    dlogits *= 1.0 / probs.shape[-2]
    return dlogits


def squared_error_forward(outputs: np.ndarray, Y: np.ndarray, cache: Cache) -> float | np.ndarray:
    """Half the mean squared error of a linear (identity) output layer.

    With ``ŷ_i`` row i of ``outputs`` (the output layer's ``a W + b``, no
    activation) and ``y_i`` its target row::

        J = (1 / 2m) sum_i ||ŷ_i - y_i||^2

    summed over every target column (the 1/2 cancels the 2 of the square's
    derivative). Finite for any finite outputs short of overflow.

    Parameters
    ----------
    outputs : (m, n_targets) output-layer values; (K, m, n_targets) for a pack
    Y : (m, n_targets) targets (standardized), same dtype as ``outputs``; per model or shared

    Returns
    -------
    J : Python float; (K,) float64 for a pack
    """
    residual = cached_array(cache, "residual", outputs.shape, outputs.dtype)
    np.subtract(outputs, Y, out=residual)
    return 0.5 * per_model_dot(residual, residual) / outputs.shape[-2]


def squared_error_backward(cache: Cache) -> np.ndarray:
    """Gradient of J with respect to the outputs: ``dZ = (ŷ - Y) / m``.

    From ``J = (1/2m) sum_ij (ŷ_ij - y_ij)^2``: ``dJ/dŷ_ij = (ŷ_ij - y_ij) / m``;
    the identity output makes this the gradient of the output layer's ``Z`` too.

    Returns
    -------
    doutputs : (m, n_targets)
    """
    residual = cache["residual"]
    doutputs = cached_array(cache, "doutputs", residual.shape, residual.dtype)
    np.multiply(residual, 1.0 / residual.shape[-2], out=doutputs)
    return doutputs


def l2_penalty(weights: np.ndarray, l2: float | np.ndarray, m: int) -> float | np.ndarray:
    """``(l2 / 2m) * sum ||W||^2`` over every weight matrix.

    ``weights`` is the flat concatenation of all of them (biases, gamma and beta
    are not penalized); ``m`` is the size of the mini-batch whose cost this joins.
    A pack: ``weights`` (K, size), ``l2`` (K,) float64 → (K,) float64.
    """
    rows = weights[:, None, :] if isinstance(l2, np.ndarray) else weights  # a pack's: one BLAS dot per model
    return 0.5 * l2 / m * per_model_dot(rows, rows)


def l2_penalty_backward(
    weights: np.ndarray, l2: float | np.ndarray, m: int, dweights: np.ndarray, cache: Cache
) -> None:
    """Add the penalty's gradient ``(l2 / m) * W`` to ``dweights`` in place (both flat, same shape;
    a pack's (K, size), with each model's ``l2 / m`` rounded from float64 to the dtype as alone)."""
    scaled = cached_array(cache, "l2_scaled", weights.shape, weights.dtype)
    factor = l2 / m
    if isinstance(factor, np.ndarray):
        factor = factor.astype(weights.dtype)[:, None]
    np.multiply(weights, factor, out=scaled)
    dweights += scaled
