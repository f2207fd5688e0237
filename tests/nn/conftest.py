"""Datasets for the engine tests, built here so they do not depend on the data loaders."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.core.dataset import Dataset


def split_and_standardize(name: str, X: np.ndarray, y: np.ndarray, seed: int, dev_fraction: float = 0.2) -> Dataset:
    """Shuffled train/dev split; features standardized with the train part's mean and std."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_dev = int(len(y) * dev_fraction)
    dev, tr = order[:n_dev], order[n_dev:]
    mean, std = X[tr].mean(axis=0), X[tr].std(axis=0)
    std[std == 0] = 1.0
    scale = lambda A: (A - mean) / std  # noqa: E731
    n_classes = int(y.max()) + 1
    return Dataset(name, scale(X[tr]), y[tr], scale(X[dev]), y[dev], tuple(str(c) for c in range(n_classes)))


def make_spirals(per_class: int, classes: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms in 2-D (the cs231n toy set)."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(classes):
        radius = np.linspace(0.0, 1.0, per_class)
        angle = np.linspace(k * 4.0, (k + 1) * 4.0, per_class) + rng.standard_normal(per_class) * noise
        X.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        y.append(np.full(per_class, k))
    return np.concatenate(X), np.concatenate(y)


@pytest.fixture(scope="session")
def spirals() -> Dataset:
    """3-class spirals, 1,500 points, 20% dev."""
    X, y = make_spirals(per_class=500, classes=3, noise=0.1, seed=0)
    return split_and_standardize("spirals", X, y, seed=0)


@pytest.fixture(scope="session")
def digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 x 64), 20% dev."""
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is needed for the digits set")
    bunch = datasets.load_digits()
    return split_and_standardize("digits", bunch.data.astype(np.float64), bunch.target.astype(np.int64), seed=0)


@pytest.fixture(scope="session")
def blobs() -> Dataset:
    """A small, easy 4-class Gaussian-blob set for fast behavioural tests."""
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((4, 5)) * 3.0
    y = rng.integers(0, 4, 400)
    X = centers[y] + rng.standard_normal((400, 5))
    return split_and_standardize("blobs", X, y, seed=1)
