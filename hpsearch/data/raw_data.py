"""Checked raw data: what every source (a file pair, a generated or bundled set) is read into.

Reading and checking happen once, in ``hpsearch.data.files`` (CSV/NPZ) or
``hpsearch.data.generated`` (built-in sets); what comes out is a ``RawData``:
the feature columns as found, their class ids, and what was done on the way
(notices). ``hpsearch.data.datasets.load_dataset`` then splits it, fits the
preparation on the training part and makes the arrays — each step once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpsearch.data.tables import Column


@dataclass(frozen=True, eq=False)
class RawPart:
    """Rows of one source, checked: feature columns by name (in input order) and their labels: class ids
    (m,) int64, or for a regression the raw numbers to predict (m, n_targets) float64."""

    columns: dict[str, Column]
    y: np.ndarray
    source: str


@dataclass(frozen=True, eq=False)
class RawData:
    """A dataset's checked rows before the split and the preparation.

    name : what the dataset is called (a built-in set's name, a file's name)
    train : the training rows (all rows when there is no dev file: the split comes next)
    dev : a dev file's rows, or ``None`` (then ``dev_fraction`` of ``train`` is split off)
    test : a test file's rows, or ``None`` (then ``test_fraction`` of ``train``, if set, is split off first)
    categorical : per feature column, whether it is text (one-hot encoded) rather than numbers
    dates : per feature column, whether it holds ISO dates (year, day of year, weekday); ``()``: none does
    class_names : the name of each class id (``()`` for a regression)
    label : the label column's name, or names (``None`` for built-in sets)
    missing : the ``data.missing`` mode the preparation fills gaps with
    notices : what was done without being asked (a dropped index column, dropped rows), one line each
    sources : ``(path, sha256)`` of each file read
    task : ``classification`` or ``regression``
    target_names : a regression's label columns, one output each
    """

    name: str
    train: RawPart
    dev: RawPart | None
    test: RawPart | None
    categorical: tuple[bool, ...]
    class_names: tuple[str, ...]
    label: str | tuple[str, ...] | None = None
    missing: str = "error"
    dates: tuple[bool, ...] = ()
    notices: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    task: str = "classification"
    target_names: tuple[str, ...] = ()
