"""A CSV/NPZ data file (and its dev file), read and checked.

Which columns are features (``features``, ``drop``, a row-index column
dropped with a notice), what to do with missing cells, and what cannot be
used — a stray word in a number column, a text column with too many values,
a label that is a measurement rather than a class — every problem of a file
at once, one line each, naming the file, the column and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.data.data_config import DataConfig
from hpsearch.data.raw_data import RawData, RawPart
from hpsearch.data.split import class_ids, encode_labels, label_keys
from hpsearch.data.tables import Column, Table, number_text, read_table

MAX_CATEGORIES = 50
"""More distinct values than this in a text column is refused: most likely an ID, a name or a date."""
CONTINUOUS_LABEL_VALUES = 10
"""A number label with at least this many distinct non-integer values (or distinct values, when they are
few rows each) is taken for a measurement to predict, not classes."""
MIN_ROWS_PER_CLASS = 3
"""A number label with that many distinct values but fewer rows per value on average is a measurement:
so few rows per class cannot be learned (nor split into train and dev)."""
_UNNAMED_INDEX = ("", "Unnamed: 0")  # how pandas names its index column in a CSV's header


@dataclass(frozen=True, eq=False)
class _Part:
    """A file's rows after the checks: its kept feature columns by name, and its label column."""

    columns: dict[str, Column]
    labels: Column
    source: str


def read_files(config: DataConfig, base_dir: Path | None) -> RawData:
    """Read and check a CSV/NPZ file (and its dev file) into class ids and feature columns.

    Every problem of the files is reported at once, one line each (DataError).
    """
    path = _resolve(config.path, base_dir)
    label = config.label or "y"  # an NPZ file's labels are its column y
    table = read_table(path, config.label)
    problems: list[str] = []
    notices: list[str] = []
    selected = _select_columns(table, label, config, problems, notices)
    train = _checked_part(table, selected, label, config, problems, notices)
    sources = [(str(path), table.sha256)]
    dev: _Part | None = None
    if config.dev_path is not None:
        dev_file = _resolve(config.dev_path, base_dir)
        dev_table = read_table(dev_file, config.label)
        sources.append((str(dev_file), dev_table.sha256))
        dev_problems = _dev_column_problems(dev_table, table, selected)
        if not dev_problems:
            dev = _checked_part(dev_table, selected, label, config, dev_problems, notices)
        problems += dev_problems
    if problems:
        raise DataError("\n".join(problems))

    y, class_names = encode_labels(label_keys(train.labels))
    if len(class_names) < 2:
        raise DataError(f"{path}: every row has the label {class_names[0]!r} — a classifier needs at least 2 classes")
    raw_dev = None
    if dev is not None:
        raw_dev = RawPart(dev.columns, class_ids(label_keys(dev.labels), class_names, dev.source), dev.source)
    return RawData(
        path.name, RawPart(train.columns, y, str(path)), raw_dev,
        categorical=tuple(not train.columns[name].is_numeric for name in selected), class_names=class_names,
        label=label, missing=config.missing, notices=tuple(notices), sources=tuple(sources),
    )


def _select_columns(table: Table, label: str, config: DataConfig, problems: list[str], notices: list[str]) -> list[str]:
    """The feature columns, in file order: ``features`` if given, else all but the label, ``drop`` and an index."""
    source = table.source
    names = [name for name in table.names if name != label]
    if isinstance(config.features, tuple):
        wanted = set(config.features)
        unknown = [name for name in config.features if name not in table]
        if unknown:
            problems.append(f"{source}: data.features names {_names(unknown)}, which the file does not have; "
                            f"its columns are: {_names(names, limit=20)} — fix the names")
        return [name for name in names if name in wanted]
    dropped = set(config.drop or ())
    unknown = [name for name in config.drop or () if name not in table]
    if unknown:
        problems.append(f"{source}: data.drop names {_names(unknown)}, which the file does not have; "
                        f"its columns are: {_names(names, limit=20)} — fix the names")
    selected, index = [], []
    spot_index = not config.keep_index and not source.lower().endswith(".npz")  # an NPZ's X has no row numbers
    for k, name in enumerate(names):
        if name in dropped:
            continue
        reason = _index_reason(table, name, first=k == 0 and table.names[0] == name) if spot_index else None
        if reason:
            notices.append(f"{source}: dropped column {name!r} — {reason}; set data.keep_index: true to keep it")
            index.append(name)
        else:
            selected.append(name)
    if not selected:
        hint = f" — {_names(index)} looks like a row index; set data.keep_index: true to use it" if index else ""
        problems.append(f"{source}: has no feature columns besides the label {label!r}{hint}")
    return selected


def _index_reason(table: Table, name: str, first: bool) -> str | None:
    """Why column ``name`` looks like a row index rather than a feature, or ``None``."""
    if first and name in _UNNAMED_INDEX:
        return "an unnamed first column is a row index (pandas' to_csv writes one)"
    column = table[name]
    numbers, n = column.numbers, len(column.numbers)
    if n >= 3 and numbers[0] == 0 and numbers[-1] == n - 1 and not column.missing.any() and column.is_numeric:
        if np.array_equal(numbers, np.arange(n, dtype=np.float64)):
            return f"its values are exactly 0, 1, ..., {n - 1} in file order, a row number"
    return None


def _checked_part(
    table: Table, selected: list[str], label: str, config: DataConfig, problems: list[str], notices: list[str]
) -> _Part:
    """The selected columns and the label of ``table``, with missing cells handled as ``config.missing`` says.

    Appends to ``problems`` every problem found (missing values, text in a
    number column, too many categories, a continuous label, ...), one line each.
    """
    source = table.source
    columns = [table[name] for name in selected]
    labels = table[label]
    with_missing = [c for c in columns if c.missing.any()]
    if config.missing == "error" and with_missing:
        listed = ", ".join(f"column {c.name!r} ({_rows(int(c.missing.sum()))}, first at {table.where(int(np.argmax(c.missing)))})"
                           for c in with_missing)
        problems.append(f"{source}: missing values in {listed} — set data.missing: drop (drop those rows) "
                        "or mean (fill them), or fill them in")
    if labels.missing.any() and config.missing != "drop":
        first = int(np.argmax(labels.missing))
        problems.append(f"{source}: label {label!r} is missing at {table.where(first)} ({_rows(int(labels.missing.sum()))} "
                        "in all) — every row needs a class label; data.missing: drop drops those rows")
    keep = None
    if config.missing == "drop":
        incomplete = labels.missing.copy()
        for c in with_missing:
            incomplete |= c.missing
        if incomplete.all():
            problems.append(f"{source}: every row has a missing value, so data.missing: drop leaves none "
                            "— use data.missing: mean or fill them in")
        elif incomplete.any():
            keep = ~incomplete
            notices.append(f"{source}: dropped {_rows(int(incomplete.sum()))} of {len(keep)} with missing values (data.missing: drop)")
    for c in columns:
        problems += _column_problems(table, c, config.categorical)
    problems += _label_problems(table, labels, label)
    if keep is not None:
        columns, labels = [c.take(keep) for c in columns], labels.take(keep)
    return _Part({c.name: c for c in columns}, labels, source)


def _column_problems(table: Table, column: Column, categorical: str) -> list[str]:
    """What is wrong with one feature column: an infinite number, a stray word, too many categories."""
    source, name = table.source, column.name
    present = ~column.missing
    if column.is_numeric:
        infinite = present & ~np.isfinite(column.numbers)
        if infinite.any():
            row = int(np.argmax(infinite))
            return [f"{source}: {number_text(column.numbers[row])} in column {name!r} at {table.where(row)} "
                    "— features must be finite numbers (write NA for a missing value)"]
        return []
    words = present & np.isnan(column.numbers)
    row = int(np.argmax(words))
    if 2 * int((present & ~words).sum()) >= int(present.sum()):  # mostly numbers: a typo, not a text column
        return [f"{source}: non-numeric value {str(column.text[row])!r} in column {name!r} at {table.where(row)} "
                "— correct it, or write NA if the value is missing"]
    if categorical == "error":
        return [f"{source}: column {name!r} holds text (e.g. {str(column.text[row])!r}) and data.categorical is error "
                f"— set data.categorical: auto to one-hot encode it, or leave it out with data.drop: [{name}]"]
    distinct = len(np.unique(column.text[present]))
    if distinct > MAX_CATEGORIES:
        return [f"{source}: column {name!r} has {distinct} distinct text values (more than {MAX_CATEGORIES}), likely "
                f"an ID, a name or a date — leave it out with data.drop: [{name}]"]
    return []


def _label_problems(table: Table, labels: Column, label: str) -> list[str]:
    """A label that is a measurement, not a class."""
    if not labels.is_numeric:
        return []
    values = labels.numbers[~labels.missing]
    infinite = ~np.isfinite(values)
    if infinite.any():
        row = int(np.flatnonzero(~labels.missing)[np.argmax(infinite)])
        return [f"{table.source}: label {label!r} is {number_text(labels.numbers[row])} at {table.where(row)} "
                "— every row needs a class label"]
    fractional = np.unique(values[values != np.floor(values)])
    if len(fractional) >= CONTINUOUS_LABEL_VALUES:
        return [f"{table.source}: hpsearch trains classifiers; label {label!r} has {len(fractional)} distinct "
                "non-integer values — bin it into classes first"]
    distinct = len(np.unique(values))
    if distinct >= CONTINUOUS_LABEL_VALUES and distinct * MIN_ROWS_PER_CLASS > len(values):
        return [f"{table.source}: hpsearch trains classifiers; label {label!r} has {distinct} distinct values in "
                f"{len(values)} rows, so it looks like a number to predict (a measurement), not classes "
                "— bin it into classes first"]
    return []


def _dev_column_problems(dev: Table, train: Table, selected: list[str]) -> list[str]:
    """A dev file must have the training file's features (found by name) and no other columns."""
    if dev.source.lower().endswith(".npz"):
        n_train, n_dev = len(train.columns) - 1, len(dev.columns) - 1
        if n_train != n_dev:
            return [f"{dev.source}: X has {n_dev} features but the training file has {n_train}"]
        return []
    missing = [name for name in selected if name not in dev]
    extra = [name for name in dev.names if name not in train]
    if not (missing or extra):
        return []
    return [f"{dev.source}: its feature columns differ from the training file's"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; extra: {', '.join(extra)}" if extra else "")]


def _names(names: list[str], limit: int | None = None) -> str:
    """Column names for a message: ``'a', 'b'``, cut after ``limit``."""
    shown = names if limit is None else names[:limit]
    more = f", ... ({len(names)} in all)" if len(shown) < len(names) else ""
    return ", ".join(map(repr, shown)) + more


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def _resolve(path: str, base_dir: Path | None) -> Path:
    """``path`` with ``~`` expanded, relative to ``base_dir`` (the config file's folder) when given."""
    file = Path(path).expanduser()
    return file if base_dir is None or file.is_absolute() else Path(base_dir) / file
