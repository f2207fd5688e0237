"""Datasets: built-in generated sets, scikit-learn's bundled sets, user CSV/NPZ files.

Every loader returns a ``Dataset``: standardized float features (fitted on the
training part only) and integer class ids, split into train and dev.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DataConfig:
    """The ``data:`` section of a config. Exactly one of ``dataset`` and ``path``."""

    dataset: str | None = None
    path: str | None = None
    label: str | None = None
    dev_path: str | None = None
    dev_fraction: float = 0.2
    seed: int = 0
    samples: int | None = None
    classes: int | None = None
    features: int | None = None
    noise: float | None = None


@dataclass(frozen=True)
class Dataset:
    """Train/dev split ready for training.

    X_train: (m_train, n_features) float64, standardized
    y_train: (m_train,) int64 class ids in [0, n_classes)
    X_dev, y_dev: the same for the dev part
    class_names: the original label of each class id
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    class_names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)
