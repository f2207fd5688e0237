"""Loading a dataset: the one pipeline from a ``data:`` section to the arrays a network trains on.

Data flows one way, each step once::

    read + check      hpsearch.data.files (CSV/NPZ) or hpsearch.data.generated (built-in sets) -> RawData
    split             hpsearch.data.split: stratified train/dev rows (random for a regression), unless a dev file is given
    fit preparation   hpsearch.data.preparation: standardization and one-hot categories, training part only
    arrays            the preparation applied to every row: a ``Dataset``

``load_dataset`` raises ``DataError`` for bad data, with one line per problem
— every problem of a file at once — each naming the file, the column and the
fix. Nothing is downloaded. A run keeps the result in its folder
(``hpsearch.data.stored_arrays``), so a file is read once per run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.data.data_config import DataConfig, check_data_config
from hpsearch.data.files import read_files
from hpsearch.data.generated import read_built_in
from hpsearch.data.preparation import Preparation, standardization, unrepresentable
from hpsearch.data.raw_data import RawData
from hpsearch.data.split import random_split, stratified_split
from hpsearch.data.tasks import REGRESSION

__all__ = ["DataConfig", "load_dataset"]


def load_dataset(config: DataConfig, base_dir: Path | None = None) -> Dataset:
    """Read, check, split and prepare the data a config describes.

    Parameters
    ----------
    config : the ``data:`` section (checked again here, so one built in code is safe).
    base_dir : folder that a relative ``path``/``dev_path`` is resolved against
        (the config file's folder); the working directory when ``None``.

    Raises
    ------
    ConfigError : the config itself is invalid.
    DataError : a file is missing or its contents are unusable (one line per problem).
    MissingDependencyError : a scikit-learn set without scikit-learn.
    """
    check_data_config(config)
    # One generator, used in a fixed order: generation (if any), then the dev split.
    rng = np.random.default_rng(config.seed)
    raw = read_files(config, base_dir) if config.path is not None else read_built_in(config, rng)
    train_rows = dev_rows = None
    if raw.dev is None and raw.task == REGRESSION:
        train_rows, dev_rows = random_split(len(raw.train.y), config.dev_fraction, rng, raw.train.source)
    elif raw.dev is None:
        train_rows, dev_rows = stratified_split(
            raw.train.y, config.dev_fraction, rng, raw.train.source, raw.class_names
        )
    preparation = Preparation.fit(
        list(raw.train.columns.values()),
        list(raw.categorical),
        rows=train_rows,
        missing=raw.missing,
        label=raw.label,
        class_names=raw.class_names,
        source=raw.train.source,
    )
    return _arrays(raw, preparation, train_rows, dev_rows)


def _arrays(
    raw: RawData, preparation: Preparation, train_rows: np.ndarray | None, dev_rows: np.ndarray | None
) -> Dataset:
    """The prepared train and dev arrays: ``train_rows``/``dev_rows`` of ``raw.train``, else its dev file."""
    X = preparation.transform(raw.train.columns, raw.train.source)  # the whole file, then split: one pass however wide
    y = raw.train.y
    if raw.dev is None:
        X_train, y_train, X_dev, y_dev = X[train_rows], y[train_rows], X[dev_rows], y[dev_rows]
    else:
        X_train, y_train = X, y
        X_dev, y_dev = preparation.transform(raw.dev.columns, raw.dev.source), raw.dev.y
    common = dict(
        name=raw.name,
        X_train=np.ascontiguousarray(X_train, dtype=np.float64),
        X_dev=np.ascontiguousarray(X_dev, dtype=np.float64),
        class_names=raw.class_names,
        preparation=preparation,
        notices=raw.notices,
        sources=raw.sources,
    )
    if raw.task != REGRESSION:
        return Dataset(
            y_train=np.ascontiguousarray(y_train, dtype=np.int64),
            y_dev=np.ascontiguousarray(y_dev, dtype=np.int64),
            **common,
        )
    # Targets standardized with the training part: the cost is scale-free, predictions are mapped back.
    mean, scale = target_standardization(y_train)
    _check_targets(y_train, scale, raw.target_names, raw.train.source)
    return Dataset(
        y_train=np.ascontiguousarray((y_train - mean) / scale),
        y_dev=np.ascontiguousarray((y_dev - mean) / scale),
        task=REGRESSION,
        target_names=raw.target_names,
        target_mean=mean,
        target_scale=scale,
        **common,
    )


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
