"""The arrays a network trains on: a train/dev split, already prepared (plain record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/dev split ready for training.

    X_train: (m_train, n_features) float64, prepared (standardized, one-hot)
    y_train: (m_train,) int64 class ids in [0, n_classes)
    X_dev, y_dev: the same for the dev part
    class_names: the original label of each class id
    preparation: how raw rows became X (fitted on the training part); ``None``
        for a Dataset built by hand
    notices: what was done to the data without being asked (a dropped index
        column, dropped rows), one line each
    sources: ``(path, sha256)`` of each file read
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

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)
