"""What a table's columns are, as a first config needs to know (``hpsearch init``): the label, the task, and
which columns to leave out and why.

The rules read the columns the way ``data.path`` will read them (``tables.read_csv``, the date and index
rules of ``dates`` and ``files``, the task rule of ``tasks``), so a column this module keeps is one a run
accepts, and one it drops is named with the reason a person would check:

- an id: a different integer in every row forming a run of consecutive numbers, or one named like an id, or a
  different short text in every row — it names a row, so it cannot generalise to new rows;
- free text: more distinct texts than ``MAX_CATEGORIES`` (a run refuses them), long or with spaces;
- dates: usually when a row was recorded rather than something that explains the label; ISO dates can be
  kept (year, day of year, weekday), others cannot be read at all;
- a column with no value, or with one value in every row: it carries nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.data.dates import date_form_problem, is_date_column
from hpsearch.data.files import MAX_CATEGORIES, index_reason
from hpsearch.data.split import label_keys
from hpsearch.data.tables import Column, Table, read_csv
from hpsearch.data.tasks import CLASSIFICATION, decide_task

#: Column names read as "the label" when ``--label`` is not given (case does not matter).
LABEL_NAMES = ("label", "target", "class", "y")

_ID_NAME = re.compile(r"(^|[^a-z])(id|uuid|guid|key)$|^(index|row|row_?number)$", re.I)
_LONG_TEXT = 20  # characters: a text whose cells average more is prose, not a category


@dataclass(frozen=True)
class Dropped:
    """A column the starter config leaves out, and why (one line, for its comment)."""

    name: str
    reason: str


@dataclass(frozen=True)
class TableProfile:
    """What ``hpsearch init`` learned of a CSV table.

    rows : data rows with a label (those a run trains on)
    label : the label column; ``label_reason``: why that one (given, by its name, or the last column)
    task : ``classification`` or ``regression``; ``task_reason``: the rule that decided it
    classes : distinct labels (classification), else 1
    dropped : the columns to leave out, with their reasons; ``index``: row-number columns a run drops by itself
    features : the kept feature columns; ``inputs``: the network inputs they make (a text column one per category)
    missing : kept feature columns with a missing value in a labelled row
    """

    path: Path
    rows: int
    label: str
    label_reason: str
    task: str
    task_reason: str
    classes: int
    dropped: tuple[Dropped, ...]
    index: tuple[str, ...]
    features: tuple[str, ...]
    inputs: int
    missing: tuple[str, ...]


def profile_table(path: Path, label: str | None = None) -> TableProfile:
    """Read the CSV at ``path`` and say what its columns are; ``label``: the label column (else guessed).

    Raises
    ------
    DataError : the file cannot be read as a CSV, ``label`` is not one of its columns, or no label can be guessed
        (one line naming the file, the columns that could be it, and ``--label``).
    """
    if path.suffix.lower() == ".npz":
        raise DataError(f"{path}: hpsearch init reads a CSV with a header — an NPZ's X and y need no config of columns")
    if not path.is_file():
        raise DataError(f"{path}: file not found — check the path")
    table = read_csv(path, None)
    drops = {c.name: _drop_reason(table, c) for c in table.columns}
    label, label_reason = _label(table, label, drops)
    labels = table[label]
    labelled = ~labels.missing
    if not labelled.any():
        raise DataError(f"{path}: label column {label!r} has no value in any row — name another with --label COLUMN")
    task, task_line = decide_task([labels.take(labelled)], "auto")
    classes = len(np.unique(label_keys(labels.take(labelled)))) if task == CLASSIFICATION else 1
    index = tuple(
        c.name for k, c in enumerate(table.columns) if c.name != label and index_reason(table, c.name, first=k == 0)
    )
    dropped = tuple(Dropped(n, r) for n, r in drops.items() if r and n != label and n not in index)
    skip = {label, *index, *(d.name for d in dropped)}
    kept = [c.take(labelled) for c in table.columns if c.name not in skip]
    return TableProfile(
        path=path,
        rows=int(labelled.sum()),
        label=label,
        label_reason=label_reason,
        task=task,
        task_reason=_task_reason(label, task_line),
        classes=classes,
        dropped=dropped,
        index=index,
        features=tuple(c.name for c in kept),
        inputs=sum(_inputs(c) for c in kept),
        missing=tuple(c.name for c in kept if c.missing.any()),
    )


def _label(table: Table, given: str | None, drops: dict[str, str | None]) -> tuple[str, str]:
    """The label column and why it is the one, or a DataError asking for ``--label``."""
    source, names = table.source, table.names
    if given is not None:
        if given not in table:
            listed = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
            raise DataError(f"{source}: has no column {given!r}; its columns are: {listed} — fix --label")
        return given, "given with --label"
    named = [n for n in names if n.lower() in LABEL_NAMES]
    if len(named) == 1:
        return named[0], f"its name, {named[0]!r}, says it is the label"
    if len(named) > 1:
        raise DataError(
            f"{source}: columns {', '.join(repr(n) for n in named)} could each be the label — name it with --label"
        )
    last = names[-1]
    if len(names) >= 2 and drops[last] is None:
        return last, f"the last column ({names[-1]!r}; no column is named {'/'.join(LABEL_NAMES)})"
    raise DataError(
        f"{source}: cannot tell which column is the label (none is named {'/'.join(LABEL_NAMES)}, and the last, "
        f"{last!r}, {drops[last] or 'is the only column'}) — name it with --label COLUMN"
    )


def _task_reason(label: str, line: str | None) -> str:
    """Why the task is what it is, in the words of the rule a run applies (``data.task: auto``)."""
    if line is None:
        return f"label {label!r} holds text, so its values are classes"
    return line.removeprefix("data.task auto: ").split(" — ")[0]


def _drop_reason(table: Table, column: Column) -> str | None:
    """Why a starter config should leave ``column`` out (None: keep it as a feature, or use it as the label)."""
    present = ~column.missing
    n = int(present.sum())
    if n == 0:
        return "empty: no value in any row"
    if column.is_numeric:
        values = column.numbers[present]
        distinct = len(np.unique(values))
        if distinct == 1:
            return "the same value in every row: it tells no row from another"
        whole = bool(np.all(values == np.floor(values)))
        if whole and distinct == n == table.n_rows and n >= 3:
            if values.max() - values.min() == n - 1:
                return "an id: a different whole number in every row, consecutive — it names a row, not a property"
            if _ID_NAME.search(column.name):
                return "an id: named like one, with a different whole number in every row"
        return None
    cells = column.text[present]
    if is_date_column(column):
        return (
            "a date (read as year, day of year and weekday when kept): usually when a row was recorded, "
            "which new rows will not share — take it out of drop to use it"
        )
    if date_form_problem(column) is not None:
        return "dates not written YYYY-MM-DD, which hpsearch cannot read — rewrite them as YYYY-MM-DD to use them"
    distinct = len(np.unique(cells))
    if distinct == 1:
        return "the same value in every row: it tells no row from another"
    lengths = np.char.str_len(cells.astype(str))
    spaced = float(np.mean(np.char.find(cells.astype(str), " ") >= 0))
    if distinct == n == table.n_rows and n >= 3 and spaced < 0.5 and lengths.mean() <= _LONG_TEXT:
        return "an id: a different text in every row — it names a row, not a property"
    if distinct > MAX_CATEGORIES:
        if lengths.mean() > _LONG_TEXT or spaced >= 0.5:
            return f"free text: {distinct} distinct values, mostly long — a network of numbers cannot read prose"
        return f"{distinct} distinct texts, more than the {MAX_CATEGORIES} categories a run accepts: a name or an id"
    return None


def _inputs(column: Column) -> int:
    """The network inputs a kept column makes: 1 for a number, one per category for text, 3 for a date."""
    if column.is_numeric:
        return 1
    if is_date_column(column):
        return 3
    present = ~column.missing
    return len(np.unique(column.text[present])) + int(column.missing.any())
