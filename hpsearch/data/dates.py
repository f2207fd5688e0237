"""Date columns: ISO dates become three numbers (year, day of year, weekday); other date forms are refused.

A text column whose every present cell is an ISO date — ``2024-03-01``, optionally with a time
(``2024-03-01T12:30:00``, ``2024-03-01 12:30``, a zone) that is ignored — is a date column. It becomes
three number inputs, ``col.year``, ``col.day_of_year`` (1–366) and ``col.weekday`` (0 = Monday), standardized
like any number. Only the ISO form is read: ``03/01/2024`` is March 1st in one country and January 3rd in
another, so a column of such dates is refused (``date_form_problem``) rather than guessed.
"""

from __future__ import annotations

import re

import numpy as np

from hpsearch.data.tables import Column

DATE_PARTS = ("year", "day_of_year", "weekday")
"""The inputs a date column becomes, named ``col.year``, ``col.day_of_year``, ``col.weekday``."""

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
# Dates written another way: 03/01/2024, 1.3.2024, 2024/03/01, 01-03-2024 (a day or month first).
_OTHER_DATE = re.compile(r"(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}[/.]\d{1,2}[/.]\d{1,2})([T ].*)?")


def is_date_column(column: Column) -> bool:
    """Whether a text column holds ISO dates in every present cell (and at least one), each a real day."""
    present = ~column.missing
    if column.is_numeric or not present.any():
        return False
    cells = column.text[present]
    return all(_ISO.fullmatch(cell) for cell in cells.tolist()) and not np.isnan(_days(cells)).any()


def date_form_problem(column: Column) -> int | None:
    """The first row whose cell is not an ISO date, when most present cells of a text column look like dates
    (in any form) but not all are ISO dates of real days; ``None`` otherwise."""
    present = np.flatnonzero(~column.missing)
    cells = column.text[present].tolist()
    iso = [bool(_ISO.fullmatch(cell)) for cell in cells]
    dates = sum(1 for cell, is_iso in zip(cells, iso) if is_iso or _OTHER_DATE.fullmatch(cell))
    if not cells or 2 * dates < len(cells):
        return None
    bad = [not is_iso for is_iso in iso] if not all(iso) else np.isnan(_days(column.text[present])).tolist()
    return int(present[bad.index(True)]) if True in bad else None


def date_parts(column: Column) -> list[Column]:
    """The three number columns of a date column, named after it (``d.year``, ...); a cell that is not an ISO
    date is missing where the column is, else NaN with its text kept, for the caller to name."""
    days = np.full(len(column.missing), np.nan)
    if column.text is not None:
        present = ~column.missing
        days[present] = _days(column.text[present])
    parts = np.full((3, len(days)), np.nan)
    ok = ~np.isnan(days)
    day = days[ok].astype("int64").astype("datetime64[D]")
    year = day.astype("datetime64[Y]")
    parts[0, ok] = year.astype("int64") + 1970
    parts[1, ok] = (day - year.astype("datetime64[D]")).astype("int64") + 1
    parts[2, ok] = (day.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday (3, counting Monday as 0)
    text = column.text if column.text is not None else np.array([repr(v) for v in column.numbers.tolist()], dtype=str)
    return [Column(f"{column.name}.{part}", parts[k], text, column.missing) for k, part in enumerate(DATE_PARTS)]


def _days(cells: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (float64) of ISO date cells, their time ignored; NaN for one that is not a date."""
    days = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells.tolist()):
        if _ISO.fullmatch(cell):
            try:
                days[i] = float(np.datetime64(cell[:10], "D").astype("int64"))
            except ValueError:  # 2024-02-30
                pass
    return days
