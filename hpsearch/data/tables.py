"""Reading data files into named columns: CSV (with a header row) and NPZ (arrays X, y).

A file is read once, into a ``Table``: its columns in file order, each parsed
into numbers where every present cell is a number, else kept as text, with the
cells that are missing (``MISSING_VALUES``) marked. Deciding what the columns
mean (features, label, index) is ``hpsearch.data.files``'s job; this module only
reports what cannot be read at all (``DataError``: missing file, not UTF-8,
a header with duplicate names, rows of the wrong length).
"""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
import zipfile
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from hpsearch.core.errors import DataError
from hpsearch.core.limits import MAX_CELL_CHARS, MAX_CSV_COLUMNS, MAX_TEXT_COLUMN_BYTES
from hpsearch.io.npz import NpzUnreadable, read_arrays

MISSING_VALUES: tuple[str, ...] = ("", "NA", "NaN", "nan", "null", "None", "?")
"""Cell texts (after stripping spaces) read as a missing value: how pandas, R and others write one."""

_SAVE_NPZ_HINT = "save one with np.savez(path, X=features, y=labels)"


@dataclass(frozen=True, eq=False)
class Column:
    """One column of a table.

    name : the header's name for it
    numbers : (m,) float64 — every present cell parsed (NaN where missing);
        for a text column, NaN where a cell is not a number
    text : (m,) str — the stripped cells ("" where missing); ``None`` for a
        column read by the all-numbers fast path (every cell is a number)
    missing : (m,) bool — cells that hold a missing value
    """

    name: str
    numbers: np.ndarray
    text: np.ndarray | None
    missing: np.ndarray

    @property
    def is_numeric(self) -> bool:
        """Whether every present cell is a number."""
        return self.text is None or bool(np.all(self.missing | ~np.isnan(self.numbers)))

    def as_text(self) -> np.ndarray:
        """(m,) str cells; numbers of a fast-path column are written as ``3`` or ``0.25``."""
        if self.text is not None:
            return self.text
        return np.array(["" if miss else number_text(v) for v, miss in zip(self.numbers.tolist(), self.missing)])

    def take(self, rows: np.ndarray) -> "Column":
        """The same column restricted to ``rows`` (indices or a boolean mask)."""
        return Column(self.name, self.numbers[rows], None if self.text is None else self.text[rows], self.missing[rows])


def number_text(value: float) -> str:
    """``3`` for 3.0, ``0.25`` for 0.25: a number as a category or class name."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_cells(name: str, cells: np.ndarray) -> Column:
    """A column from its cell texts (m,) str: numbers where they parse, missing values marked."""
    text = np.char.strip(np.asarray(cells, dtype=str))
    missing = np.isin(text, MISSING_VALUES)
    numbers = np.full(len(text), np.nan)
    present = ~missing
    try:
        numbers[present] = text[present].astype(np.float64)
    except ValueError:
        for i in np.flatnonzero(present):  # a text column: note which cells are numbers anyway
            try:
                numbers[i] = float(text[i])
            except ValueError:
                pass
        missing |= np.char.lower(text) == "nan"  # other spellings of NaN (NAN) are missing too
        return Column(name, numbers, text, missing)
    missing |= np.isnan(numbers)  # other spellings of NaN (NAN) are missing too
    return Column(name, numbers, text, missing)


@dataclass(frozen=True, eq=False)
class Table:
    """A data file's columns, in file order.

    source : the file's path as text (what messages name)
    columns : every column, the label's included
    sha256 : digest of the file's bytes (to tell later whether it changed)
    row_lines : (m,) int — the file line of each row (CSV; 1 = header), or ``None``
        (NPZ: a row is named by its index)
    csv_text : the CSV's text when ``row_lines`` is computed on first use (a
        fast-path read: most files never need a line number)
    """

    source: str
    columns: tuple[Column, ...]
    sha256: str
    row_lines: np.ndarray | None = None
    csv_text: str | None = field(default=None, repr=False)
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0].missing) if self.columns else 0

    def __getitem__(self, name: str) -> Column:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def where(self, row: int) -> str:
        """Where data row ``row`` (0-based) is in the file: ``line 4`` or ``row 3``."""
        if self.row_lines is None and self.csv_text is not None:
            object.__setattr__(self, "row_lines", _row_lines(self.csv_text))
            object.__setattr__(self, "csv_text", None)
        return f"line {int(self.row_lines[row])}" if self.row_lines is not None else f"row {row}"


def read_table(path: Path, label: str | None) -> Table:
    """Read a CSV or NPZ file. ``label``: the CSV's label column, checked to exist when given.

    Raises
    ------
    DataError : the file is missing or cannot be read as a table (one line per problem).
    """
    if not path.exists():
        raise DataError(f"{path}: file not found — check the path (a relative path starts at the config file's folder)")
    if not path.is_file():
        raise DataError(f"{path}: is not a file")
    if path.suffix.lower() == ".npz":
        return read_npz(path)
    return read_csv(path, label)


# --- CSV -----------------------------------------------------------------------------


def read_csv(path: Path, label: str | None, usecols: Collection[str] | None = None) -> Table:
    """A CSV file with a header row naming its columns; ``usecols``: parse only these (others are skipped,
    whatever they hold), else all. A file with none of ``usecols`` is a table without columns (its caller says
    which it needs), not one "without data rows".

    Bounded (docs/reference/limits.md): at most ``MAX_CSV_COLUMNS`` columns and ``MAX_CELL_CHARS`` characters a
    cell, and a text column parsed is at most ``MAX_TEXT_COLUMN_BYTES`` as fixed-width text (its longest
    cell times its rows); past any, one DataError naming the file.
    """
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}: is not UTF-8 text (byte 0x{content[error.start]:02x} at line {line}) — save the CSV as UTF-8"
        ) from None
    del content
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise DataError(f"{path}: is not a readable CSV ({error})") from None
    if not header:
        raise DataError(f"{path}: is empty — a CSV needs a header row naming its columns")
    if len(header) > MAX_CSV_COLUMNS:
        raise DataError(
            f"{path}: has {len(header):,} columns, more than {MAX_CSV_COLUMNS:,} — hpsearch reads at most "
            f"{MAX_CSV_COLUMNS:,} columns: keep the ones the model needs, or save the data as .npz"
        )
    _check_header(path, header, label)
    wanted = [k for k, name in enumerate(header) if usecols is None or name in usecols]
    columns = _read_numbers_fast(path, header, label) if usecols is None else None
    if columns is not None:
        table = Table(str(path), tuple(columns), digest, None, text)
    else:
        columns, row_lines = _read_cells(path, text, header, wanted)
        table = Table(str(path), tuple(columns), digest, row_lines)
    if table.n_rows == 0 and wanted:  # none wanted: no rows counted, and the caller names the columns it lacks
        raise DataError(f"{path}: has a header but no data rows")
    return table


def _check_header(path: Path, header: list[str], label: str | None) -> None:
    """Refuse duplicate names and a missing label column, all at once. Linear in the header's length."""
    problems = []
    counts = Counter(header)
    for name, count in counts.items():
        if count > 1 and name:
            problems.append(f"{path}: column {name!r} appears {count} times in the header — rename the copies")
    unnamed = [k + 1 for k, name in enumerate(header) if not name and k > 0]
    if unnamed:
        problems.append(
            f"{path}: column{'s' if len(unnamed) > 1 else ''} {', '.join(map(str, unnamed))} "
            "of the header ha" + ("ve" if len(unnamed) > 1 else "s") + " no name — name every column"
        )
    if label is not None and label not in counts:
        shown = ", ".join(header[:20]) + (f", ... ({len(header)} columns)" if len(header) > 20 else "")
        problems.append(f"{path}: no label column {label!r}; the columns are: {shown} — set data.label to one of them")
    if problems:
        raise DataError("\n".join(problems))


def _read_numbers_fast(path: Path, header: list[str], label: str | None) -> list[Column] | None:
    """Every column of an all-numbers file (the label may be text), or ``None`` to take the slow path.

    ``np.loadtxt`` is several times faster than the csv module on large numeric
    files (reading the file itself: twice as fast as from a string); it refuses
    text and empty cells, which the slow path then handles.
    """
    label_at = header.index(label) if label is not None and label in header else None
    try:
        if label_at is None:
            X, labels = _parse_numbers(path, None), None
        else:  # the label keeps its text: classes are told apart by it (007 is not 7, nor 2**53 + 1 2**53)
            X = _parse_numbers(path, [k for k in range(len(header)) if k != label_at])
            labels = _loadtxt(path, [label_at], str)
    except ValueError:
        return None
    if len(X) == 0 or X.shape[1] != len(header) - (labels is not None):
        return None  # no rows (loadtxt cannot tell the width): the slow path says so
    columns: list[Column] = []
    j = 0
    for k, name in enumerate(header):
        if labels is not None and k == label_at:
            columns.append(parse_cells(name, labels))
            continue
        numbers = np.ascontiguousarray(X[:, j])
        j += 1
        columns.append(Column(name, numbers, None, np.isnan(numbers)))
    return columns


def _loadtxt(path: Path, usecols: list[int] | None, dtype: type) -> np.ndarray:
    """``np.loadtxt`` of a CSV's data rows: (m, k) for numbers, (m,) for one text column."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # blank lines: skipped, as the csv module does
        # NumPy < 1.26 parses "1.5" as the integer 1 with a DeprecationWarning instead of refusing it:
        # make that a refusal, so a float column is never truncated.
        warnings.simplefilter("error", DeprecationWarning)
        return np.loadtxt(
            path,
            delimiter=",",
            skiprows=1,
            comments=None,
            quotechar='"',
            usecols=usecols,
            dtype=dtype,
            encoding="utf-8-sig",
            ndmin=1 if dtype is str else 2,
        )


def _parse_numbers(path: Path, usecols: list[int] | None) -> np.ndarray:
    """The numeric columns ``usecols`` (all when ``None``) as (m, k) float64."""
    try:
        # Integers parse several times faster than floats, and pixel-like data is integral.
        return _loadtxt(path, usecols, np.int64).astype(np.float64)
    except (ValueError, OverflowError, DeprecationWarning):
        return _loadtxt(path, usecols, np.float64)


def _read_cells(path: Path, text: str, header: list[str], wanted: list[int]) -> tuple[list[Column], np.ndarray]:
    """The columns ``wanted`` (indices) parsed cell by cell (text, missing values); the file line of each row."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    rows: list[list[str]] = []
    lines: list[int] = []
    n = len(header)
    limit = csv.field_size_limit(MAX_CELL_CHARS)  # process-wide: restored below
    try:
        for row in reader:
            if not row:
                continue  # a blank line holds no row
            if len(row) != n:
                raise DataError(
                    f"{path}: line {reader.line_num} has {len(row)} fields but the header has {n} "
                    "— every row needs one value per column (an empty cell is a missing value)"
                )
            rows.append([row[k] for k in wanted] if len(wanted) < n else row)
            lines.append(reader.line_num)
    except csv.Error as error:
        raise DataError(
            f"{path}: is not a readable CSV at line {reader.line_num} ({error}; a cell holds at most "
            f"{MAX_CELL_CHARS:,} characters)"
        ) from None
    finally:
        csv.field_size_limit(limit)
    cells = list(zip(*rows)) if rows else [()] * len(wanted)
    columns = []
    for k, col in zip(wanted, cells):
        longest = max(map(len, col), default=0)
        if 4 * longest * len(col) > MAX_TEXT_COLUMN_BYTES:  # NumPy keeps text at its longest cell's width
            at = max(range(len(col)), key=lambda i: len(col[i]))
            raise DataError(
                f"{path}: column {header[k]!r} has a cell of {longest:,} characters at line {lines[at]}: "
                f"as text it would take {4 * longest * len(col) / 2**20:,.0f} MiB (at most "
                f"{MAX_TEXT_COLUMN_BYTES / 2**20:,.0f}) — shorten it or remove the column"
            )
        columns.append(parse_cells(header[k], np.array(col, dtype=str)))
    return columns, np.array(lines, dtype=np.int64)


def _row_lines(text: str) -> np.ndarray:
    """The file line (1-based, header = line 1) where each data row ends."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    return np.fromiter((reader.line_num for cells in reader if cells), dtype=np.int64)


# --- NPZ -----------------------------------------------------------------------------


def _npz_arrays(path: Path, content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """X and y of an .npz file's ``content``, every header checked before anything is allocated
    (``io.npz.read_arrays``: a few bytes of header can claim 10^9 rows; a zip bomb unpacks to GBs)."""
    try:
        # Three copies: the array, its float64 copy and the prepared split.
        arrays = read_arrays(content, str(path), names=("X", "y"), copies=3)
    except NpzUnreadable:
        if content.startswith(npy_format.MAGIC_PREFIX):
            raise DataError(f"{path}: holds a single array, not X and y — {_SAVE_NPZ_HINT}") from None
        raise DataError(f"{path}: is not a NumPy .npz archive — {_SAVE_NPZ_HINT}") from None
    missing = [name for name in ("X", "y") if name not in arrays]
    if missing:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            held = ", ".join(name.removesuffix(".npy") for name in archive.namelist()) or "nothing"
        raise DataError(f"{path}: no array named {' or '.join(missing)} (it holds: {held}) — {_SAVE_NPZ_HINT}")
    return arrays["X"], arrays["y"]


def read_npz(path: Path) -> Table:
    """An NPZ archive with arrays X (m, n) numeric and y (m,) numbers or strings.

    Its columns are named ``X[:, j]`` and ``y``; NaN in X is a missing value.
    """
    content = path.read_bytes()
    X, y = _npz_arrays(path, content)
    if X.ndim != 2:
        raise DataError(f"{path}: X must be 2-D (rows, features), got shape {X.shape}")
    if y.ndim != 1:
        raise DataError(f"{path}: y must be 1-D (rows,), got shape {y.shape} — save y.ravel()")
    if len(X) != len(y):
        raise DataError(f"{path}: X has {len(X)} rows but y has {len(y)}")
    if len(y) == 0:
        raise DataError(f"{path}: X and y have no rows")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must be numeric, got dtype {X.dtype}")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{path}: y must hold numbers or strings, got dtype {y.dtype}")
    X = X.astype(np.float64)
    columns = [Column(f"X[:, {j}]", np.ascontiguousarray(X[:, j]), None, np.isnan(X[:, j])) for j in range(X.shape[1])]
    if y.dtype.kind in "biuf":
        labels = y.astype(np.float64)
        columns.append(Column("y", labels, None, np.isnan(labels)))
    else:
        columns.append(parse_cells("y", _npz_text(path, y)))
    return Table(str(path), tuple(columns), hashlib.sha256(content).hexdigest(), None)


def _npz_text(path: Path, y: np.ndarray) -> np.ndarray:
    """String labels as str; bytes labels decoded as UTF-8 (DataError naming the first bad one)."""
    if y.dtype.kind == "U":
        return y
    try:
        return np.char.decode(y, "utf-8")
    except UnicodeDecodeError:
        for i, value in enumerate(y.tolist()):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"{path}: y[{i}] is not UTF-8 text ({value[:20]!r}) — save the labels as str or UTF-8 bytes"
                ) from None
        raise  # pragma: no cover - np.char.decode failed on a value that decodes alone
