"""The arrays a network trains on: a train/dev split, already prepared (plain record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/dev split ready for training.

    X_train: (m_train, n_features) float64, prepared (standardized, one-hot)
    y_train: classification: (m_train,) int64 class ids in [0, n_classes);
        regression: (m_train, n_targets) float64 targets standardized with the
        training part, ``y = (raw - target_mean) / target_scale``
    X_dev, y_dev: the same for the dev part (dev targets standardized with the
        training part's mean and scale too)
    class_names: the original label of each class id; ``()`` for regression
    preparation: how raw rows became X (fitted on the training part); ``None``
        for a Dataset built by hand
    notices: what was done to the data without being asked (a dropped index
        column, dropped rows), one line each
    sources: ``(path, sha256)`` of each file read
    task: ``"classification"`` (softmax output, cross-entropy) or
        ``"regression"`` (linear output, mean squared error); the engine picks
        its output layer and cost from it
    target_names: regression only: the name of each target column
    target_mean, target_scale: regression only: (n_targets,) float64, the
        training part's mean and scale of each raw target column; a prediction
        ``p`` in standardized units is ``p * target_scale + target_mean`` in the
        target's own units. ``None`` means 0 and 1 (targets not standardized)
    folds: with ``data.cv: K``, folds 1..K-1, each a Dataset of its own (its dev part the fold, its
        preparation fitted on its training rows); this Dataset is fold 0. ``()`` without cross-validation
    fold_index: with ``data.cv``, the fold of each row of the data file (-1: a test row); else None
    all_rows: with ``data.cv``, fold 0's rows and test part again, prepared with a preparation fitted on every
        non-test row: what ``search.refit`` trains on (its train and dev rows together, as without cv), and the
        test part scores the refit with; None otherwise
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    class_names: tuple[str, ...]
    preparation: Any = None  # a hpsearch.data.preparation.Preparation
    notices: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    task: str = "classification"
    target_names: tuple[str, ...] = ()
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    folds: tuple["Dataset", ...] = ()
    fold_index: np.ndarray | None = None
    all_rows: "Dataset | None" = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes; 0 for regression."""
        return len(self.class_names)

    @property
    def n_outputs(self) -> int:
        """Output units of a network for this data: ``n_classes``, or ``len(target_names)`` for regression."""
        return len(self.target_names) if self.task == "regression" else self.n_classes
