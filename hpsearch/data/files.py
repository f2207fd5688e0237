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
from hpsearch.data.dates import date_form_problem, is_date_column
from hpsearch.data.raw_data import RawData, RawPart
from hpsearch.data.split import class_ids, encode_labels, label_keys
from hpsearch.data.tables import Column, Table, number_text, read_table
from hpsearch.data.tasks import REGRESSION, decide_task, looks_like_a_number

MAX_CATEGORIES = 50
"""More distinct values than this in a text column is refused: most likely an ID or a name (ISO dates are read
as dates, ``hpsearch.data.dates``)."""
_UNNAMED_INDEX = ("", "Unnamed: 0")  # how pandas names its index column in a CSV's header


@dataclass(frozen=True, eq=False)
class _Part:
    """A file's rows after the checks: its kept feature columns by name, and its label column."""

    columns: dict[str, Column]
    labels: list[Column]
    source: str


def read_files(config: DataConfig, base_dir: Path | None) -> RawData:
    """Read and check a CSV/NPZ file (and its dev file) into feature columns and labels: class ids, or the
    numbers to predict (``data.task``; ``auto`` decides from the label, ``hpsearch.data.tasks``).

    Every problem of the files is reported at once, one line each (DataError).
    """
    path = _resolve(config.path, base_dir)
    labels = config.labels
    table = read_table(path, config.label if isinstance(config.label, str) else None)
    problems = _missing_labels(table, labels)
    if problems:
        raise DataError("\n".join(problems))
    task, said = decide_task([table[name] for name in labels], config.task)
    notices: list[str] = [f"{path}: {said}"] if said else []
    selected = _select_columns(table, labels, config, problems, notices)
    train = _checked_part(table, selected, labels, task, config, problems, notices)
    sources = [(str(path), table.sha256)]
    dev, test = (
        _other_file(other, base_dir, table, selected, task, config, sources, problems, notices)
        for other in (config.dev_path, config.test_path)
    )
    if problems:
        raise DataError("\n".join(problems))
    dates = tuple(is_date_column(train.columns[name]) for name in selected)
    categorical = tuple(not train.columns[name].is_numeric and not date for name, date in zip(selected, dates))
    common = dict(
        categorical=categorical,
        dates=dates,
        label=config.label or "y",
        missing=config.missing,
        notices=tuple(notices),
        sources=tuple(sources),
    )
    if task == REGRESSION:
        return RawData(
            path.name,
            RawPart(train.columns, _targets(train.labels), str(path)),
            *(
                None if part is None else RawPart(part.columns, _targets(part.labels), part.source)
                for part in (dev, test)
            ),
            class_names=(),
            task=REGRESSION,
            target_names=labels,
            **common,
        )
    y, class_names = encode_labels(label_keys(train.labels[0]))
    if len(class_names) < 2:
        raise DataError(f"{path}: every row has the label {class_names[0]!r} — a classifier needs at least 2 classes")
    raw_dev, raw_test = (
        None
        if part is None
        else RawPart(part.columns, class_ids(label_keys(part.labels[0]), class_names, part.source), part.source)
        for part in (dev, test)
    )
    return RawData(
        path.name, RawPart(train.columns, y, str(path)), raw_dev, raw_test, class_names=class_names, **common
    )


def _other_file(
    other: str | None,
    base_dir: Path | None,
    table: Table,
    selected: list[str],
    task: str,
    config: DataConfig,
    sources: list[tuple[str, str]],
    problems: list[str],
    notices: list[str],
) -> _Part | None:
    """A dev or test file's rows (``other``; None: none given), read and checked as the training file is, with
    its features matched to the training file's by name; its problems and source are appended."""
    if other is None:
        return None
    labels = config.labels
    file = _resolve(other, base_dir)
    other_table = read_table(file, config.label if isinstance(config.label, str) else None)
    sources.append((str(file), other_table.sha256))
    other_problems = _dev_column_problems(other_table, table, selected) + _missing_labels(other_table, labels)
    part = None
    if not other_problems:
        part = _checked_part(other_table, selected, labels, task, config, other_problems, notices)
    problems += other_problems
    return part


def _missing_labels(table: Table, labels: tuple[str, ...]) -> list[str]:
    """A label column the file does not have (one line)."""
    absent = [name for name in labels if name not in table]
    if not absent:
        return []
    return [
        f"{table.source}: no label column {_names(absent)}; the columns are: {_names(list(table.names), limit=20)} "
        "— set data.label to one of them"
    ]


def _targets(labels: list[Column]) -> np.ndarray:
    """The numbers to predict, (m, n_targets) float64."""
    return np.stack([np.asarray(c.numbers, dtype=np.float64) for c in labels], axis=1)


def _select_columns(
    table: Table, labels: tuple[str, ...], config: DataConfig, problems: list[str], notices: list[str]
) -> list[str]:
    """The feature columns, in file order: ``features`` if given, else all but the labels, ``drop`` and an index."""
    source = table.source
    names = [name for name in table.names if name not in labels]
    if isinstance(config.features, tuple):
        wanted = set(config.features)
        unknown = [name for name in config.features if name not in table]
        if unknown:
            problems.append(
                f"{source}: data.features names {_names(unknown)}, which the file does not have; "
                f"its columns are: {_names(names, limit=20)} — fix the names"
            )
        return [name for name in names if name in wanted]
    dropped = set(config.drop or ())
    unknown = [name for name in config.drop or () if name not in table]
    if unknown:
        problems.append(
            f"{source}: data.drop names {_names(unknown)}, which the file does not have; "
            f"its columns are: {_names(names, limit=20)} — fix the names"
        )
    selected, index = [], []
    spot_index = not config.keep_index and not source.lower().endswith(".npz")  # an NPZ's X has no row numbers
    for k, name in enumerate(names):
        if name in dropped:
            continue
        reason = index_reason(table, name, first=k == 0 and table.names[0] == name) if spot_index else None
        if reason:
            notices.append(f"{source}: dropped column {name!r} — {reason}; set data.keep_index: true to keep it")
            index.append(name)
        else:
            selected.append(name)
    if not selected:
        hint = f" — {_names(index)} looks like a row index; set data.keep_index: true to use it" if index else ""
        problems.append(f"{source}: has no feature columns besides the label {_names(list(labels))}{hint}")
    return selected


def index_reason(table: Table, name: str, first: bool) -> str | None:
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
    table: Table,
    selected: list[str],
    labels: tuple[str, ...],
    task: str,
    config: DataConfig,
    problems: list[str],
    notices: list[str],
) -> _Part:
    """The selected columns and the labels of ``table``, with missing cells handled as ``config.missing`` says.

    Appends to ``problems`` every problem found (missing values, text in a
    number column, too many categories, a label unfit for the task, ...), one line each.
    """
    source = table.source
    columns = [table[name] for name in selected]
    label_columns = [table[name] for name in labels]
    unlabelled = np.zeros(table.n_rows, dtype=bool)  # a row without its label teaches nothing: always dropped
    for c in label_columns:
        unlabelled |= c.missing
    if unlabelled.all():
        problems.append(
            f"{source}: label {_names(list(labels))} is missing in every row — every row needs a class "
            "label (a number, for a regression)"
        )
    with_missing = [c for c in columns if (c.missing & ~unlabelled).any()]
    if config.missing == "error" and with_missing:
        listed = ", ".join(
            f"column {c.name!r} ({_rows(int((c.missing & ~unlabelled).sum()))}, first at "
            f"{table.where(int(np.argmax(c.missing & ~unlabelled)))})"
            for c in with_missing
        )
        problems.append(
            f"{source}: missing values in {listed} — set data.missing: drop (drop those rows) or fill "
            '(the training median; a "(missing)" category for text), or fill them in'
        )
    incomplete = unlabelled.copy()
    if config.missing == "drop":
        for c in with_missing:
            incomplete |= c.missing
        if incomplete.all() and not unlabelled.all():
            problems.append(
                f"{source}: every row has a missing value, so data.missing: drop leaves none "
                "— use data.missing: fill or fill them in"
            )
        elif incomplete.any():
            without = f" ({int(unlabelled.sum())} without a label)" if unlabelled.any() else ""
            notices.append(
                f"{source}: dropped {_rows(int(incomplete.sum()))} of {table.n_rows} with missing values"
                f"{without} (data.missing: drop)"
            )
    elif unlabelled.any() and not unlabelled.all():
        notices.append(
            f"{source}: dropped {_rows(int(unlabelled.sum()))} of {table.n_rows} without a label {_names(list(labels))}"
        )
    keep = ~incomplete if incomplete.any() else None
    for c in columns:
        problems += _column_problems(table, c, config.categorical)
    for c in label_columns:
        problems += _target_problems(table, c) if task == REGRESSION else _label_problems(table, c)
    if keep is not None:
        columns, label_columns = [c.take(keep) for c in columns], [c.take(keep) for c in label_columns]
    return _Part({c.name: c for c in columns}, label_columns, source)


def _column_problems(table: Table, column: Column, categorical: str) -> list[str]:
    """What is wrong with one feature column: an infinite number, a stray word, too many categories."""
    source, name = table.source, column.name
    present = ~column.missing
    if column.is_numeric:
        infinite = present & ~np.isfinite(column.numbers)
        if infinite.any():
            row = int(np.argmax(infinite))
            return [
                f"{source}: {number_text(column.numbers[row])} in column {name!r} at {table.where(row)} "
                "— features must be finite numbers (write NA for a missing value)"
            ]
        return []
    if is_date_column(column):
        return []
    odd = date_form_problem(column)
    if odd is not None:
        return [
            f"{source}: column {name!r} holds dates, but {str(column.text[odd])!r} at {table.where(odd)} is not an "
            "ISO date (YYYY-MM-DD) — write its dates as YYYY-MM-DD to use them (year, day of year, weekday), or "
            f"leave it out with data.drop: [{name}]"
        ]
    words = present & np.isnan(column.numbers)
    row = int(np.argmax(words))
    if 2 * int((present & ~words).sum()) >= int(present.sum()):  # mostly numbers: a typo, not a text column
        return [
            f"{source}: non-numeric value {str(column.text[row])!r} in column {name!r} at {table.where(row)} "
            "— correct it, or write NA if the value is missing"
        ]
    if categorical == "error":
        return [
            f"{source}: column {name!r} holds text (e.g. {str(column.text[row])!r}) and data.categorical is error "
            f"— set data.categorical: auto to one-hot encode it, or leave it out with data.drop: [{name}]"
        ]
    distinct = len(np.unique(column.text[present]))
    if distinct > MAX_CATEGORIES:
        return [
            f"{source}: column {name!r} has {distinct} distinct text values (more than {MAX_CATEGORIES}), likely "
            f"an ID or a name — leave it out with data.drop: [{name}]"
        ]
    return []


def _label_problems(table: Table, labels: Column) -> list[str]:
    """A class label that is infinite, or that is a measurement, not a class (``data.task: classification``)."""
    if not labels.is_numeric:
        return []
    label = labels.name
    values = labels.numbers[~labels.missing]
    infinite = ~np.isfinite(values)
    if infinite.any():
        row = int(np.flatnonzero(~labels.missing)[np.argmax(infinite)])
        return [
            f"{table.source}: label {label!r} is {number_text(labels.numbers[row])} at {table.where(row)} "
            "— every row needs a class label"
        ]
    reason = looks_like_a_number(labels)
    if reason is not None:
        return [
            f"{table.source}: data.task is classification but label {label!r} {reason}, so it looks like a number "
            "to predict — set data.task: regression (or auto), or bin it into classes first"
        ]
    return []


def _target_problems(table: Table, target: Column) -> list[str]:
    """A number to predict must be a finite number in every row."""
    present = ~target.missing
    if not target.is_numeric or np.isnan(target.numbers[present]).any():
        row = (
            int(np.flatnonzero(present & np.isnan(target.numbers))[0]) if target.is_numeric else int(np.argmax(present))
        )
        return [
            f"{table.source}: label {target.name!r} holds text ({str(target.text[row])!r} at {table.where(row)}) "
            "— a regression predicts numbers: fix the value, or set data.task: classification"
        ]
    infinite = present & ~np.isfinite(target.numbers)
    if infinite.any():
        row = int(np.argmax(infinite))
        return [
            f"{table.source}: label {target.name!r} is {number_text(target.numbers[row])} at {table.where(row)} "
            "— a number to predict must be finite"
        ]
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
    return [
        f"{dev.source}: its feature columns differ from the training file's"
        + (f"; missing: {', '.join(missing)}" if missing else "")
        + (f"; extra: {', '.join(extra)}" if extra else "")
    ]


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
