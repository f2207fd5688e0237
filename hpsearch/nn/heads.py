"""Output heads: what a network's last layer means, what it is trained against and how it is scored.

The output layer is always ``Z = a W_{L+1} + b_{L+1}`` (m, n_outputs); the head
turns it into a cost, a gradient ``dZ``, predictions and per-epoch metrics:

=====================  ==========================  ====================================
                       ``SoftmaxHead``              ``LinearHead``
=====================  ==========================  ====================================
task                   ``"classification"``        ``"regression"``
training targets Y     one-hot (m, C)              standardized values (m, n_targets)
cost J                 (1/m) Σ -log softmax(Z)_y   (1/2m) Σ ||Z - Y||²
dJ/dZ                  (softmax(Z) - Y) / m        (Z - Y) / m
predict                argmax_c Z                  Z * target_scale + target_mean
dev metrics            dev_cost, dev_accuracy      dev_cost, dev_accuracy (NaN),
                                                   dev_rmse, dev_r2 (target units)
=====================  ==========================  ====================================
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from typing import Any, ClassVar

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.nn.layers import Cache
from hpsearch.nn.losses import (
    class_weights,
    one_hot,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    squared_error_backward,
    squared_error_forward,
)
from hpsearch.nn.metrics import (
    TASKS,
    as_columns,
    balanced_accuracy,
    check_task,
    confusion_counts,
    f1_macro,
    mae,
    r2,
    rmse,
    to_target_units,
)


class SoftmaxHead:
    """Classification: softmax over ``n_outputs`` classes, cross-entropy cost.

    ``balanced`` (``model.class_weight: balanced``, set by the network): the training cost weighs each row by its
    class's weight (``losses.class_weights`` of the training labels); the dev J it reports is not weighted, so it
    compares with an unweighted run's.
    """

    task: ClassVar[str] = "classification"

    def __init__(self, n_outputs: int):
        self.n_outputs = n_outputs
        self.balanced = False

    def targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """(m,) int class ids → (m, n_outputs) one-hot in ``dtype``."""
        return one_hot(y, self.n_outputs, dtype)

    def training_targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The training rows' targets: one-hot, each row times its class's weight when ``balanced``."""
        Y = self.targets(y, dtype)
        if self.balanced:
            Y *= class_weights(y, self.n_outputs).astype(dtype)[y][:, None]
        return Y

    def loss(self, outputs: np.ndarray, Y: np.ndarray, cache: Cache) -> float:
        """Mean cross-entropy of softmax(outputs) against one-hot Y (``softmax_cross_entropy_forward``),
        class-weighted when ``balanced`` (Y from ``training_targets``)."""
        return softmax_cross_entropy_forward(outputs, Y, cache, self.balanced)

    def loss_backward(self, cache: Cache) -> np.ndarray:
        """``dZ = (probs - Y) / m``, (m, n_outputs)."""
        return softmax_cross_entropy_backward(cache)

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """(m, C) logits → (m,) int64 most probable class ids."""
        return np.argmax(outputs, axis=1)

    def metrics(self, outputs: np.ndarray, y: np.ndarray, keys: Container[str] | None = None) -> dict[str, Any]:
        """``{"dev_cost": mean cross-entropy, "dev_accuracy": fraction of rows classified right}``, and
        ``dev_balanced_accuracy``, ``dev_f1_macro`` (``nn.metrics``) where ``keys`` holds one of them, or
        ``keys`` is None (an epoch's history keeps them only when a run ranks by them: computing them
        every epoch costs a small network ~1% of its training time).

        Floats; (K,) float64 arrays for a pack's outputs (K, m, C).
        """
        cost = softmax_cross_entropy_forward(outputs, self.targets(y, outputs.dtype), {})
        predicted = np.argmax(outputs, axis=-1)
        accuracy = np.mean(predicted == y, axis=-1)
        values = {"dev_cost": cost, "dev_accuracy": accuracy if outputs.ndim > 2 else float(accuracy)}
        if keys is None or "dev_balanced_accuracy" in keys or "dev_f1_macro" in keys:
            counts = confusion_counts(predicted, y, self.n_outputs)
            values.update(dev_balanced_accuracy=balanced_accuracy(counts), dev_f1_macro=f1_macro(counts))
        return values

    def state(self) -> dict[str, np.ndarray]:
        """Nothing: a state without ``task`` is a classifier's."""
        return {}


class LinearHead:
    """Regression: identity output in standardized units, half the mean squared error.

    Attributes
    ----------
    target_mean, target_scale : (n_outputs,) float64; ``t = ŷ * target_scale + target_mean``
        maps a standardized output ŷ to the target's own units
    """

    task: ClassVar[str] = "regression"

    def __init__(self, n_outputs: int, target_mean: np.ndarray | None = None, target_scale: np.ndarray | None = None):
        """Raises ValueError when mean or scale is not ``n_outputs`` finite numbers, or a scale is not positive."""
        self.n_outputs = n_outputs
        self.target_mean = _column_values("target_mean", target_mean, n_outputs, 0.0)
        self.target_scale = _column_values("target_scale", target_scale, n_outputs, 1.0)
        if not np.all(self.target_scale > 0):
            raise ValueError(f"target_scale must be positive, got {self.target_scale.tolist()}")

    def targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """(m, n_outputs) or (m,) standardized targets → (m, n_outputs) C-contiguous in ``dtype``.

        Raises DataError when ``y`` has not ``n_outputs`` columns.
        """
        Y = np.ascontiguousarray(as_columns(y), dtype=dtype)
        if Y.ndim != 2 or Y.shape[1] != self.n_outputs:
            raise DataError(f"regression targets have shape {np.shape(y)}; the network predicts {self.n_outputs}")
        return Y

    def training_targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The training rows' targets: ``targets`` (a regression weighs no rows)."""
        return self.targets(y, dtype)

    def loss(self, outputs: np.ndarray, Y: np.ndarray, cache: Cache) -> float:
        """``J = (1/2m) sum_i ||ŷ_i - y_i||^2`` (``squared_error_forward``)."""
        return squared_error_forward(outputs, Y, cache)

    def loss_backward(self, cache: Cache) -> np.ndarray:
        """``dZ = (ŷ - Y) / m``, (m, n_outputs)."""
        return squared_error_backward(cache)

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """(m, n_outputs) standardized outputs → (m, n_outputs) float64 in target units."""
        return to_target_units(outputs, self.target_mean, self.target_scale)

    def metrics(self, outputs: np.ndarray, y: np.ndarray, keys: Container[str] | None = None) -> dict[str, float]:
        """``dev_cost`` (J on standardized targets), ``dev_accuracy`` (NaN), ``dev_rmse``, ``dev_r2``, and
        ``dev_mae`` where ``keys`` holds it or is None.

        RMSE and R² (``hpsearch.nn.metrics``) compare predictions and targets
        both mapped back to target units; y : (m, n_outputs) or (m,) standardized.
        A pack's outputs (K, m, n_outputs) give (K,) float64 arrays, each model's values as alone.
        """
        if outputs.ndim > 2:
            each = [self.metrics(model_outputs, y, keys) for model_outputs in outputs]
            return {key: np.array([values[key] for values in each]) for key in each[0]}
        cost = squared_error_forward(outputs, self.targets(y, outputs.dtype), {})
        predicted = self.predict(outputs)
        actual = to_target_units(as_columns(y), self.target_mean, self.target_scale)
        values = {"dev_cost": cost, "dev_accuracy": math.nan, "dev_rmse": rmse(predicted, actual)}
        values["dev_r2"] = r2(predicted, actual)
        if keys is None or "dev_mae" in keys:
            values["dev_mae"] = mae(predicted, actual)
        return values

    def state(self) -> dict[str, np.ndarray]:
        """``task`` (0-d str) and ``target_mean``/``target_scale`` ((n_outputs,) float64), copies."""
        return {
            "task": np.array(self.task),
            "target_mean": self.target_mean.copy(),
            "target_scale": self.target_scale.copy(),
        }


Head = SoftmaxHead | LinearHead
"""An output head (both have the same methods)."""


def make_head(
    task: str, n_outputs: int, target_mean: np.ndarray | None = None, target_scale: np.ndarray | None = None
) -> Head:
    """The head of ``task`` (one of ``TASKS``); mean and scale only for regression.

    Raises ValueError for an unknown task, or mean/scale given to a classifier.
    """
    if check_task(task) == "regression":
        return LinearHead(n_outputs, target_mean, target_scale)
    if target_mean is not None or target_scale is not None:
        raise ValueError("target mean and scale belong to regression networks only")
    return SoftmaxHead(n_outputs)


def head_from_state(state: Mapping[str, np.ndarray], n_outputs: int) -> Head:
    """The head ``state()`` describes; a state without ``task`` is a classifier's.

    Raises DataError for an unknown task or missing / malformed target mean and scale.
    """
    task = str(np.asarray(state["task"])[()]) if "task" in state else TASKS[0]
    if task == "regression" and not {"target_mean", "target_scale"} <= state.keys():
        raise DataError("model state of a regression network has no 'target_mean' and 'target_scale' arrays")
    arrays = (state["target_mean"], state["target_scale"]) if task == "regression" else (None, None)
    try:
        return make_head(task, n_outputs, *arrays)
    except ValueError as error:
        raise DataError(f"model state: {error}") from error


def _column_values(name: str, values: np.ndarray | None, n: int, default: float) -> np.ndarray:
    """``values`` as (n,) finite float64 (a copy), or ``n`` times ``default``."""
    if values is None:
        return np.full(n, default)
    array = np.array(values, dtype=np.float64)
    if array.shape != (n,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be {n} finite numbers, got {np.asarray(values).tolist()}")
    return array
