"""Regression in the target's own units: standardizing targets, mapping predictions back, RMSE and R².

A regression network trains on standardized targets (``hpsearch.nn.losses``'
squared error): each raw target column ``t`` becomes ``y = (t - mean) / scale``
with the training part's mean and scale, so the cost, the learning rate and
the divergence threshold do not depend on the target's units. Predictions map
back with ``t̂ = ŷ * scale + mean``; RMSE and R² are reported in those units.
"""

from __future__ import annotations

import numpy as np

TASKS = ("classification", "regression")
"""What a network predicts: a class (softmax output, cross-entropy) or numbers (linear output, squared error)."""


def check_task(task: str) -> str:
    """``task`` if it is one of ``TASKS``, else ValueError naming them."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return task


def as_columns(y: np.ndarray) -> np.ndarray:
    """Targets as a 2-D array: (m,) → (m, 1); (m, n_targets) unchanged (a view, no copy)."""
    y = np.asarray(y)
    return y.reshape(-1, 1) if y.ndim == 1 else y


def to_target_units(standardized: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``t = y * scale + mean`` column by column, in float64.

    standardized : (m, n_targets); mean, scale : (n_targets,) → (m, n_targets) float64
    """
    return np.asarray(standardized, dtype=np.float64) * scale + mean


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error, averaged over target columns.

    ``RMSE_j = sqrt((1/m) sum_i (t̂_ij - t_ij)^2)`` per column j, in that column's
    units; the result is ``(1/n) sum_j RMSE_j`` (the plain RMSE for one target).

    predicted, actual : (m, n_targets) float64
    """
    return float(np.mean(_root_mean_square(predicted - actual)))


def _root_mean_square(d: np.ndarray) -> np.ndarray:
    """``sqrt(mean(d^2))`` per column (n,) of d (m, n), each column divided by its largest magnitude first: the
    squares of targets near 1e160 would overflow (RMSE inf), those near 1e-300 vanish (RMSE 0). Non-finite
    values give inf or NaN, as the plain formula does."""
    size = np.max(np.abs(d), axis=0, initial=0.0)
    size = np.where((size > 0) & np.isfinite(size), size, 1.0)
    return size * np.sqrt(np.mean(np.square(d / size), axis=0))


def r2(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Coefficient of determination, averaged over target columns.

    ``R²_j = 1 - sum_i (t̂_ij - t_ij)^2 / sum_i (t_ij - mean_i t_ij)^2`` with the
    mean taken over these rows; 1 for a perfect fit, 0 for predicting that mean,
    negative for worse. A column whose values are all equal has R² 1 if it is
    predicted exactly and 0 otherwise (scikit-learn's ``force_finite``).
    NaN/inf predictions give NaN.

    predicted, actual : (m, n_targets) float64
    """
    residual = _root_mean_square(predicted - actual)  # R² = 1 - (residual RMS / total RMS)², free of overflow
    total = _root_mean_square(actual - actual.mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        per_column = np.where(total > 0, 1.0 - np.square(residual / np.where(total > 0, total, 1.0)), 0.0)
    per_column = np.where((total == 0) & (residual == 0), 1.0, per_column)
    per_column = np.where(np.isfinite(residual), per_column, np.nan)
    return float(np.mean(per_column))
