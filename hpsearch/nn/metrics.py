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


RANKING_METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "cost": ("dev_cost", "minimize", TASKS),
    "accuracy": ("dev_accuracy", "maximize", ("classification",)),
    "balanced_accuracy": ("dev_balanced_accuracy", "maximize", ("classification",)),
    "f1_macro": ("dev_f1_macro", "maximize", ("classification",)),
    "rmse": ("dev_rmse", "minimize", ("regression",)),
    "mae": ("dev_mae", "minimize", ("regression",)),
}
"""``search.metric`` name -> (its dev series in a history, its direction, the tasks it fits). ``cost`` is J, the
loss the network minimizes; the others are dev figures a search may rank by instead (J stays the training loss)."""

OPTIONAL_KEYS = ("dev_balanced_accuracy", "dev_f1_macro", "dev_mae")
"""Dev series a head computes that a history keeps only when a run ranks by them (``nn.loop.start``'s ``best_by``)."""


def metric_key(metric: str) -> str:
    """The history series of a ranking metric (``RANKING_METRICS``)."""
    return RANKING_METRICS[metric][0]


def metric_direction(metric: str) -> str:
    """``minimize`` or ``maximize``: which way a ranking metric is better."""
    return RANKING_METRICS[metric][1]


def optional_series(metric: str) -> tuple[str, ...]:
    """The history series a run ranked by ``metric`` keeps besides its task's own: its ``OPTIONAL_KEYS`` one."""
    key = metric_key(metric)
    return (key,) if key in OPTIONAL_KEYS else ()


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


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error, averaged over target columns: ``(1/n) sum_j (1/m) sum_i |t̂_ij - t_ij|``, in target units.

    predicted, actual : (m, n_targets) float64
    """
    return float(np.mean(np.abs(predicted - actual)))


def confusion_counts(predicted: np.ndarray, actual: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``N[..., t, p]`` of rows of class ``t`` predicted as ``p``.

    predicted : (m,) or a pack's (K, m) class ids; actual : (m,) → (n_classes, n_classes), or (K, C, C), int64
    """
    predicted = np.asarray(predicted, dtype=np.int64)
    cells = np.asarray(actual, dtype=np.int64) * n_classes + predicted
    if predicted.ndim == 1:
        return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    models = np.arange(predicted.shape[0])[:, None] * (n_classes * n_classes)
    counts = np.bincount((cells + models).ravel(), minlength=predicted.shape[0] * n_classes * n_classes)
    return counts.reshape(predicted.shape[0], n_classes, n_classes)


def balanced_accuracy(counts: np.ndarray) -> float | np.ndarray:
    """The mean recall over the classes that occur: ``mean_c N[c, c] / sum_p N[c, p]`` for each ``c`` with rows.

    A majority-class guess scores 1/C however rare the other classes are (scikit-learn's
    ``balanced_accuracy_score``). counts : ``confusion_counts`` → float, or (K,) for a pack.
    """
    true_rows = counts.sum(axis=-1)
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    present = true_rows > 0
    recall = np.where(present, hits / np.where(present, true_rows, 1), 0.0)
    result = recall.sum(axis=-1) / present.sum(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def f1_macro(counts: np.ndarray) -> float | np.ndarray:
    """The mean over classes of ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``, over the classes that occur in the
    labels or the predictions (an F1 with no such row is 0), as scikit-learn's ``f1_score(average="macro")``.

    counts : ``confusion_counts`` → float, or (K,) for a pack.
    """
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    denominator = counts.sum(axis=-1) + counts.sum(axis=-2)  # 2 TP + FN + FP
    present = denominator > 0
    f1 = np.where(present, 2 * hits / np.where(present, denominator, 1), 0.0)
    result = f1.sum(axis=-1) / present.sum(axis=-1)
    return float(result) if np.ndim(result) == 0 else result
