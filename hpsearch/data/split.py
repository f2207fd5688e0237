"""Class ids and the train/dev split.

Labels become class ids in sorted order (numeric order for number labels);
a dev file's labels are matched to the training classes by name. The dev
part is split off stratified: each class keeps its share in train and dev
(a regression's rows are split at random).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.data.tables import Column, number_text


def label_keys(labels: Column) -> np.ndarray:
    """Labels (m,) as sortable keys: float64 when every label is a number that float64 gives back as the file
    writes it (``7``, ``0.25``, ``3.0``), else the stripped text, so that ``007``, ``07`` and ``7``, or 2**53 and
    2**53 + 1, stay apart (a float64 merges them)."""
    if not labels.is_numeric:
        return labels.text
    if labels.text is None:  # numbers without a text (an .npz file, arrays): nothing else to tell them by
        return labels.numbers
    texts = np.unique(labels.text[~labels.missing])
    exact = all(
        text in (number_text(value), repr(value)) for text, value in zip(texts.tolist(), texts.astype(float).tolist())
    )
    return labels.numbers if exact else labels.text


def encode_labels(keys: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class ids (m,) int64 in sorted key order (numeric order for numbers), and class names."""
    classes, y = np.unique(keys, return_inverse=True)
    return y.astype(np.int64), tuple(class_name(c) for c in classes)


def class_name(key: Any) -> str:
    """The name of a label key: ``3`` for the number 3.0, text as it is."""
    if isinstance(key, (float, np.floating)):
        return number_text(key)
    return str(key)


def class_ids(keys: np.ndarray, class_names: tuple[str, ...], source: str) -> np.ndarray:
    """Class ids (m,) int64 of label keys, matched to ``class_names`` by name (DataError for an unknown one)."""
    uniques, inverse = np.unique(keys, return_inverse=True)
    names = [class_name(u) for u in uniques]
    ids = {name: k for k, name in enumerate(class_names)}
    unknown = [name for name in names if name not in ids]
    if unknown:
        raise DataError(f"{source}: label {unknown[0]!r} is not among the training classes ({', '.join(class_names)})")
    return np.array([ids[name] for name in names], dtype=np.int64)[inverse.reshape(-1)]


def stratified_split(
    y: np.ndarray,
    dev_fraction: float,
    rng: np.random.Generator,
    source: str,
    class_names: tuple[str, ...],
    part: str = "dev",
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into train and dev (``part``: the test part, split off first the same way), keeping
    each class's share in both.

    Each class gives round(count × dev_fraction) random rows to dev. Both index
    arrays are sorted, so rows keep their original order.
    Raises DataError when a class would be empty in train or in dev.
    """
    counts = np.bincount(y, minlength=len(class_names))
    if len(y) < 2 * len(class_names):
        raise DataError(
            f"{source}: {len(y)} rows for {len(class_names)} classes — a train/{part} split needs at least 2 rows "
            f"of every class; add rows or give a {part}_path"
        )
    n_dev = np.floor(counts * dev_fraction + 0.5).astype(np.int64)  # rounds halves up, unlike np.rint
    for k in np.flatnonzero((n_dev == 0) | (n_dev == counts)):
        empty, change = (part, "a larger") if n_dev[k] == 0 else ("train", "a smaller")
        raise DataError(
            f"{source}: class {class_names[k]!r} has {counts[k]} rows, and {part}_fraction {dev_fraction} leaves it "
            f"empty in {empty} — use {change} {part}_fraction or more rows"
        )
    # Visit rows in random order grouped by class; each class's first n_dev rows go to dev.
    order = rng.permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]
    class_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_class = np.arange(len(y)) - class_start[y[order]]
    is_dev = np.zeros(len(y), dtype=bool)
    is_dev[order] = rank_in_class < n_dev[y[order]]
    return np.flatnonzero(~is_dev), np.flatnonzero(is_dev)


def random_split(
    n_rows: int, dev_fraction: float, rng: np.random.Generator, source: str, part: str = "dev"
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n_rows`` row indices into train and dev at random (a regression has no classes to stratify by):
    round(n × dev_fraction) rows go to dev. Both index arrays are sorted. DataError when a part would be empty."""
    n_dev = int(np.floor(n_rows * dev_fraction + 0.5))
    if n_dev == 0 or n_dev == n_rows:
        empty, change = (part, "a larger") if n_dev == 0 else ("train", "a smaller")
        raise DataError(
            f"{source}: {n_rows} rows, and {part}_fraction {dev_fraction} leaves {empty} empty "
            f"— use {change} {part}_fraction or more rows"
        )
    is_dev = np.zeros(n_rows, dtype=bool)
    is_dev[rng.permutation(n_rows)[:n_dev]] = True
    return np.flatnonzero(~is_dev), np.flatnonzero(is_dev)


def fold_ids(y: np.ndarray, k: int, rng: np.random.Generator, source: str, class_names: tuple[str, ...]) -> np.ndarray:
    """The fold (0..k-1) of each row, for ``data.cv: k``: stratified (each class dealt round the folds in
    random order, so every fold holds its share of each class and the folds differ in size by at most one),
    at random for a regression (``class_names`` empty). DataError when a class has fewer rows than folds."""
    if len(y) < k:
        raise DataError(f"{source}: {len(y)} rows, fewer than data.cv {k} folds — use fewer folds or more rows")
    order = rng.permutation(len(y))
    if class_names:
        counts = np.bincount(y, minlength=len(class_names))
        for c in np.flatnonzero(counts < k):
            raise DataError(
                f"{source}: class {class_names[c]!r} has {counts[c]} rows, fewer than data.cv {k} folds "
                "— use fewer folds or more rows"
            )
        order = order[np.argsort(y[order], kind="stable")]
    folds = np.empty(len(y), dtype=np.int64)
    folds[order] = np.arange(len(y)) % k
    return folds
