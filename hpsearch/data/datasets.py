"""Loading a dataset: the one pipeline from a ``data:`` section to the arrays a network trains on.

Data flows one way, each step once::

    read + check      hpsearch.data.files (CSV/NPZ) or hpsearch.data.generated (built-in sets) -> RawData
    split             hpsearch.data.split: the test part first (data.test_fraction, its own seeded stream), then
                      stratified train/dev rows (random for a regression), unless a test or dev file is given
    fit preparation   hpsearch.data.preparation: standardization and one-hot categories, training part only
    arrays            the preparation applied to every row: a ``Dataset``

``load_dataset`` raises ``DataError`` for bad data, with one line per problem
— every problem of a file at once — each naming the file, the column and the
fix. Nothing is downloaded. A run keeps the result in its folder
(``hpsearch.data.stored_arrays``), so a file is read once per run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.data.data_config import DataConfig, check_data_config
from hpsearch.data.files import read_files
from hpsearch.data.generated import read_built_in
from hpsearch.data.preparation import Preparation, standardization, unrepresentable
from hpsearch.data.raw_data import RawData
from hpsearch.data.split import fold_ids, random_split, stratified_split
from hpsearch.data.tasks import REGRESSION

__all__ = ["DataConfig", "load_dataset"]


def load_dataset(config: DataConfig, base_dir: Path | None = None) -> Dataset:
    """Read, check, split and prepare the data a config describes.

    Parameters
    ----------
    config : the ``data:`` section (checked again here, so one built in code is safe).
    base_dir : folder that a relative ``path``/``dev_path``/``test_path`` is resolved against
        (the config file's folder); the working directory when ``None``.

    Raises
    ------
    ConfigError : the config itself is invalid.
    DataError : a file is missing or its contents are unusable (one line per problem).
    MissingDependencyError : a scikit-learn set without scikit-learn.
    """
    check_data_config(config)
    # One generator, used in a fixed order: generation (if any), then the dev split (the test split has its own).
    rng = np.random.default_rng(config.seed)
    raw = read_files(config, base_dir) if config.path is not None else read_built_in(config, rng)
    rest = test_rows = None
    if raw.test is None and config.test_fraction is not None:
        # Its own generator, split off first: the dev split then draws from ``rng`` as a run without a test part
        # does, and nothing the search trains or ranks on is read from the test rows.
        test_rng = np.random.default_rng([config.seed, _TEST_STREAM])
        rest, test_rows = _split(raw, raw.train.y, config.test_fraction, test_rng, "test")
    if config.cv is not None:
        return _folds(raw, config, rest, test_rows)
    train_rows = rest
    if raw.dev is None:
        kept = raw.train.y if rest is None else raw.train.y[rest]
        train_rows, dev_rows = _split(raw, kept, config.dev_fraction, rng, "dev")
        if rest is not None:
            train_rows, dev_rows = rest[train_rows], rest[dev_rows]
    else:
        dev_rows = None
    return _arrays(raw, _fit(raw, train_rows), train_rows, dev_rows, test_rows)


def _fit(raw: RawData, train_rows: np.ndarray | None) -> Preparation:
    """The preparation fitted on ``train_rows`` of the data file (None: all of it)."""
    return Preparation.fit(
        list(raw.train.columns.values()),
        list(raw.categorical),
        rows=train_rows,
        missing=raw.missing,
        label=raw.label,
        class_names=raw.class_names,
        source=raw.train.source,
        dates=raw.dates,
    )


def _folds(raw: RawData, config: DataConfig, rest: np.ndarray | None, test_rows: np.ndarray | None) -> Dataset:
    """``data.cv: K``: the non-test rows dealt into K folds (on a stream of their own), and one Dataset per fold,
    its dev part the fold and its preparation fitted on the other folds' rows only (no leak from its dev rows).
    Fold 0 is the returned Dataset (with the test part, if any), folds 1..K-1 its ``folds``; ``all_rows`` is fold
    0's rows again, prepared on every non-test row, for the refit that trains on its train and dev rows together
    (with the test part prepared the same way)."""
    rest = np.arange(len(raw.train.y)) if rest is None else rest
    classes = () if raw.task == REGRESSION else raw.class_names
    rng = np.random.default_rng([config.seed, _CV_STREAM])
    fold = fold_ids(raw.train.y[rest], config.cv, rng, raw.train.source, classes)
    datasets = []
    for k in range(config.cv):
        train_rows, dev_rows = rest[fold != k], rest[fold == k]
        datasets.append(_arrays(raw, _fit(raw, train_rows), train_rows, dev_rows, test_rows if k == 0 else None))
    index = np.full(len(raw.train.y), -1, dtype=np.int64)
    index[rest] = fold
    every = _arrays(raw, _fit(raw, rest), rest[fold != 0], rest[fold == 0], test_rows)  # split as fold 0, for history
    return dataclasses.replace(datasets[0], folds=tuple(datasets[1:]), fold_index=index, all_rows=every)


_CV_STREAM = 0xC5F0
"""Second word of the folds' seed (``[data.seed, _CV_STREAM]``)."""

_TEST_STREAM = 0x7E57
"""Second word of the test split's seed (``[data.seed, _TEST_STREAM]``): a stream of its own."""


def _split(
    raw: RawData, y: np.ndarray, fraction: float, rng: np.random.Generator, part: str
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of ``y`` kept and split off as ``part``: stratified by class, at random for a regression."""
    if raw.task == REGRESSION:
        return random_split(len(y), fraction, rng, raw.train.source, part)
    return stratified_split(y, fraction, rng, raw.train.source, raw.class_names, part)


def _arrays(
    raw: RawData,
    preparation: Preparation,
    train_rows: np.ndarray | None,
    dev_rows: np.ndarray | None,
    test_rows: np.ndarray | None,
) -> Dataset:
    """The prepared arrays: ``train_rows``/``dev_rows``/``test_rows`` of ``raw.train`` (None: all of it for
    train, its dev or test file, or no test part)."""
    X = preparation.transform(raw.train.columns, raw.train.source)  # the whole file, then split: one pass however wide
    y = raw.train.y
    X_train, y_train = (X, y) if train_rows is None else (X[train_rows], y[train_rows])
    if raw.dev is None:
        X_dev, y_dev = X[dev_rows], y[dev_rows]
    else:
        X_dev, y_dev = preparation.transform(raw.dev.columns, raw.dev.source), raw.dev.y
    X_test = y_test = None
    if raw.test is not None:
        X_test, y_test = preparation.transform(raw.test.columns, raw.test.source), raw.test.y
    elif test_rows is not None:
        X_test, y_test = X[test_rows], y[test_rows]
    common = dict(
        name=raw.name,
        X_train=_contiguous(X_train),
        X_dev=_contiguous(X_dev),
        X_test=_contiguous(X_test),
        class_names=raw.class_names,
        preparation=preparation,
        notices=raw.notices,
        sources=raw.sources,
    )
    if raw.task != REGRESSION:
        return Dataset(
            y_train=_contiguous(y_train, np.int64),
            y_dev=_contiguous(y_dev, np.int64),
            y_test=_contiguous(y_test, np.int64),
            **common,
        )
    # Targets standardized with the training part: the cost is scale-free, predictions are mapped back.
    mean, scale = target_standardization(y_train)
    _check_targets(y_train, scale, raw.target_names, raw.train.source)
    y_train, y_dev, y_test = ((y - mean) / scale if y is not None else None for y in (y_train, y_dev, y_test))
    return Dataset(
        y_train=_contiguous(y_train),
        y_dev=_contiguous(y_dev),
        y_test=_contiguous(y_test),
        task=REGRESSION,
        target_names=raw.target_names,
        target_mean=mean,
        target_scale=scale,
        **common,
    )


def _contiguous(a: np.ndarray | None, dtype: type = np.float64) -> np.ndarray | None:
    """``a`` as a C-contiguous array of ``dtype`` (None stays None: no test part)."""
    return None if a is None else np.ascontiguousarray(a, dtype=dtype)


def target_standardization(y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each column of the training part's raw targets, (n_targets,) float64 each.

    y_train : (m, n_targets) or (m,) raw values. ``scale`` is the population standard deviation (ddof 0), found
    without overflow or underflow (``preparation.standardization``: targets near 1e160 or 1e-300 are numbers to
    predict like any), 1 for a constant column so that it maps to zeros. The network maps its predictions back
    with them.
    """
    return standardization(_as_columns(y_train))


def _check_targets(y_train: np.ndarray, scale: np.ndarray, names: tuple[str, ...], source: str) -> None:
    """DataError (one line naming ``source`` and the target) for a target that is the same in every training
    row — nothing to learn, and R² would mean nothing — or whose spread float64 cannot divide by."""
    columns = _as_columns(y_train)
    constant = np.flatnonzero(columns.min(axis=0) == columns.max(axis=0)) if len(columns) else []
    if len(constant):
        j = int(constant[0])
        raise DataError(
            f"{source}: target {_name(names, j)} is {float(columns[0, j])!r} in every training row — "
            "nothing to predict: check data.label"
        )
    tiny = unrepresentable(scale)
    if len(tiny):
        raise DataError(
            f"{source}: target {_name(names, int(tiny[0]))} varies by less than float64 can divide by "
            "— rescale it (e.g. multiply it by 1e300)"
        )


def _as_columns(y: np.ndarray) -> np.ndarray:
    columns = np.asarray(y, dtype=np.float64)
    return columns.reshape(-1, 1) if columns.ndim == 1 else columns


def _name(names: tuple[str, ...], j: int) -> str:
    """The name of target column ``j`` in a message (its index when unnamed)."""
    return repr(names[j]) if j < len(names) else str(j)
