"""Datasets: built-in generated sets, scikit-learn's bundled sets, user CSV/NPZ files.

Every loader returns a ``Dataset``: the network's inputs (number columns
standardized, text columns one-hot encoded, fitted on the training part only)
and integer class ids, split into train and dev, with the fitted
``Preparation`` that turns raw rows into those inputs.

``validate_data_config`` checks a config's ``data:`` section without touching
the disk; ``load_dataset`` reads it and raises ``DataError`` for bad data,
with one line per problem — every problem of a file at once — each naming the
file, the column and the fix. Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import ConfigError, ConfigProblem, DataError, MissingDependencyError
from hpsearch.core.memory import shortfall
from hpsearch.core.errors import did_you_mean
from hpsearch.core.keys import Hyperparameter
from hpsearch.data.preparation import MISSING_MODES, Preparation, numbers_only
from hpsearch.data.tables import Column, Table, number_text, read_table

MAX_CATEGORIES = 50
"""More distinct values than this in a text column is refused: most likely an ID, a name or a date."""
CONTINUOUS_LABEL_VALUES = 10
"""A number label with at least this many distinct non-integer values is taken for a continuous target."""
_UNNAMED_INDEX = ("", "Unnamed: 0")  # how pandas names its index column in a CSV's header


@dataclass(frozen=True)
class DataConfig:
    """The ``data:`` section of a config. Exactly one of ``dataset`` and ``path``.

    ``samples``, ``classes``, ``noise`` and an integer ``features`` configure
    the generated sets; ``None`` means the set's default (``GENERATED_DEFAULTS``).
    For a CSV file, ``features`` (a tuple of column names) keeps only those
    columns and ``drop`` removes some; ``keep_index`` keeps a column that looks
    like a row index; ``missing`` and ``categorical`` choose how missing cells
    and text columns are handled.
    """

    dataset: str | None = None
    path: str | None = None
    label: str | None = None
    dev_path: str | None = None
    dev_fraction: float = 0.2
    seed: int = 0
    samples: int | None = None
    classes: int | None = None
    features: int | tuple[str, ...] | None = None
    noise: float | None = None
    drop: tuple[str, ...] | None = None
    keep_index: bool = False
    missing: str = "error"
    categorical: str = "auto"


# Generated sets and the values their unset keys take. Defaults are chosen so
# that a small batch-norm net reaches > 95 % dev accuracy in a few epochs.
GENERATED_DEFAULTS: dict[str, dict[str, Any]] = {
    "spirals": {"samples": 3000, "classes": 3, "noise": 0.2},
    "blobs": {"samples": 1000, "classes": 3, "features": 2, "noise": 1.0},
}
# scikit-learn's bundled sets (shipped inside the package, never downloaded).
_SKLEARN_LOADERS = {
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
}
# How far each spiral arm winds. A full turn crowds the arms near the origin
# enough that a small BN net hovers around 95 % dev accuracy; 3/4 gives ~98 %.
_SPIRAL_TURNS = 0.75
DATASETS: tuple[str, ...] = (*GENERATED_DEFAULTS, *_SKLEARN_LOADERS)
FILE_FORMATS = (".csv", ".npz")


# The ``data:`` keys, typed like the engine's hyperparameters (same checks, same messages).
# ``features`` and ``drop`` also take a list of column names (checked by ``_check_columns``).
DATA_KEYS: dict[str, Hyperparameter] = {
    key.name: key
    for key in [
        Hyperparameter("dataset", str, None, "built-in dataset", choices=DATASETS),
        Hyperparameter("path", str, None, "CSV (with a header) or NPZ (arrays X, y) file"),
        Hyperparameter("label", str, None, "label column of a CSV file"),
        Hyperparameter("dev_path", str, None, "dev file in the same format as path"),
        Hyperparameter("dev_fraction", float, 0.2, "share of rows split off as dev", low=0, high=1, low_open=True, high_open=True),
        Hyperparameter("seed", int, 0, "seed of generation and of the dev split", low=0),
        Hyperparameter("samples", int, None, "examples generated (spirals, blobs)", low=1),
        Hyperparameter("classes", int, None, "classes generated (spirals, blobs)", low=2),
        Hyperparameter("features", int, None, "features generated (blobs), or the CSV columns to keep", low=1),
        Hyperparameter("noise", float, None, "angle noise in radians (spirals), cluster std (blobs)", low=0),
        Hyperparameter("drop", list, None, "CSV columns to leave out"),
        Hyperparameter("keep_index", bool, False, "keep a column that looks like a row index (CSV)"),
        Hyperparameter("missing", str, "error", "missing cells: refuse, drop their rows, or fill", choices=MISSING_MODES),
        Hyperparameter("categorical", str, "auto", "text columns: one-hot encode, or refuse", choices=("auto", "error")),
    ]
}
_COLUMN_LIST_KEYS = ("features", "drop")


_FILE_KEYS = ("label", "dev_path", "missing")
_CSV_KEYS = ("drop", "keep_index", "categorical")


def validate_data_config(raw: Any, prefix: str = "data") -> tuple[DataConfig | None, list[ConfigProblem]]:
    """Check a ``data:`` section without reading any file.

    Returns ``(config, [])`` when valid, else ``(None, problems)`` listing every
    problem at once, each keyed by its path (``data.dev_fraction``). File
    contents are checked later, by ``load_dataset``. ``~`` in a path is expanded.
    """
    if not isinstance(raw, dict):
        return None, [ConfigProblem(prefix, f"must be a mapping of data keys, got {raw!r}", "e.g. data: {dataset: spirals}")]
    known = DATA_KEYS
    problems: list[ConfigProblem] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = known.get(key)
        if spec is None:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown data key", did_you_mean(str(key), known)))
            continue
        if value is None and spec.default is None:
            continue
        if key in _COLUMN_LIST_KEYS and isinstance(value, (list, tuple)):
            checked, message = _check_columns(value)
        elif key == "drop" or (key == "features" and isinstance(value, str)):
            checked, message = None, f"must be a list of column names, got {value!r} — write [{value}]" if isinstance(
                value, str) else f"must be a list of column names, got {value!r}"
        else:
            checked, message = spec.check(value)
        if message is None and spec.kind is str and not checked.strip():
            message = "must not be empty"
        if message:
            problems.append(ConfigProblem(f"{prefix}.{key}", message))
        else:
            values[key] = os.path.expanduser(checked) if key in ("path", "dev_path") else checked
    problems += _cross_key_problems(values, raw, prefix)
    if problems:
        return None, problems
    return DataConfig(**values), []


def _check_columns(value: list | tuple) -> tuple[tuple[str, ...] | None, str | None]:
    """A YAML list of column names as a tuple of str (numbers allowed: a header ``1990`` is text)."""
    names = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)) or not str(item).strip():
            return None, f"must be a list of column names, got {value!r}"
        names.append(str(item).strip())
    if not names:
        return None, "must list at least one column"
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return None, f"lists {', '.join(map(repr, repeated))} more than once"
    return tuple(names), None


def _cross_key_problems(values: dict[str, Any], raw: dict, prefix: str) -> list[ConfigProblem]:
    """Rules between keys, checked on the keys whose own values are valid."""
    problems = []
    dataset, path, dev_path = values.get("dataset"), values.get("path"), values.get("dev_path")
    columns = values.get("features") if isinstance(values.get("features"), tuple) else None
    if dataset and path:
        problems.append(ConfigProblem(prefix, "sets both dataset and path", "keep one: a built-in dataset or a file"))
    elif raw.get("dataset") is None and raw.get("path") is None:
        problems.append(
            ConfigProblem(prefix, "needs a dataset or a path", f"add dataset: (one of {', '.join(DATASETS)}) or path: FILE.csv")
        )
    suffix = Path(path).suffix.lower() if path else None
    if path:
        if suffix not in FILE_FORMATS:
            problems.append(ConfigProblem(f"{prefix}.path", f"must be a .csv or .npz file, got {path!r}"))
        elif suffix == ".csv" and "label" not in values and raw.get("label") is None:
            problems.append(ConfigProblem(f"{prefix}.label", "is required for a CSV file", "name its label column, e.g. label: class"))
        elif suffix == ".npz":
            problems += [
                ConfigProblem(f"{prefix}.{key}", "applies only to CSV files (an NPZ file holds its labels in y)"
                              if key == "label" else "applies only to CSV files", "remove it")
                for key in ("label", *_CSV_KEYS) if key in values
            ]
            if columns is not None:
                problems.append(ConfigProblem(f"{prefix}.features", "a list of columns applies only to CSV files", "remove it"))
        if dev_path and suffix in FILE_FORMATS and Path(dev_path).suffix.lower() != suffix:
            problems.append(ConfigProblem(f"{prefix}.dev_path", f"must be a {suffix} file like path, got {dev_path!r}"))
    elif raw.get("path") is None:
        problems += [
            ConfigProblem(f"{prefix}.{key}", "applies only to a file given by path", "remove it")
            for key in (*_FILE_KEYS, *_CSV_KEYS)
            if key in values
        ]
        if columns is not None:
            problems.append(ConfigProblem(f"{prefix}.features", "a list of columns applies only to a CSV file given by path",
                                          "remove it (blobs takes a number of features)"))
    label = values.get("label")
    if label is not None and suffix == ".csv":
        for key in _COLUMN_LIST_KEYS:
            if isinstance(values.get(key), tuple) and label in values[key]:
                problems.append(ConfigProblem(f"{prefix}.{key}", f"lists the label column {label!r}", f"remove {label!r} from it"))
    if columns is not None and values.get("drop"):
        problems.append(ConfigProblem(f"{prefix}.drop", "has no effect with features (which keeps only the columns it lists)",
                                      "keep one of features and drop"))
    if dev_path and "dev_fraction" in values:
        problems.append(ConfigProblem(f"{prefix}.dev_fraction", "has no effect with dev_path", "remove one of them"))
    if raw.get("dataset") is not None and "dataset" not in values:
        return problems  # the dataset name is already reported; its keys cannot be judged
    defaults = GENERATED_DEFAULTS.get(dataset, {})
    for key in ("samples", "classes", "features", "noise"):
        if key in values and key not in defaults and not (key == "features" and (columns is not None or path)):
            owners = [name for name, keys in GENERATED_DEFAULTS.items() if key in keys]
            problems.append(ConfigProblem(f"{prefix}.{key}", f"applies only to the generated sets ({', '.join(owners)})", "remove it"))
    if path and isinstance(values.get("features"), int) and suffix == ".csv":
        problems.append(ConfigProblem(f"{prefix}.features", f"must list the columns to keep, got {values['features']!r}",
                                      "e.g. features: [bill_length_mm, island]"))
    elif path and isinstance(values.get("features"), int):
        problems.append(ConfigProblem(f"{prefix}.features", "applies only to the generated sets (blobs) and CSV files", "remove it"))
    if dataset == "blobs" and columns is not None:
        problems.append(ConfigProblem(f"{prefix}.features", f"must be {DATA_KEYS['features'].rule()} for blobs, got a list",
                                      "e.g. features: 2"))
    if defaults:
        samples = values.get("samples", defaults["samples"])
        classes = values.get("classes", defaults["classes"])
        if samples < classes:
            problems.append(
                ConfigProblem(f"{prefix}.samples", f"must be at least classes ({classes}), got {samples}", "raise samples or lower classes")
            )
        features = values.get("features", defaults.get("features", 2))
        if isinstance(samples, int) and isinstance(features, int):
            # the generated X (float64), a shuffled copy and the standardized split
            too_much = shortfall(4 * 8 * samples * (features + 1))
            if too_much:
                problems.append(ConfigProblem(f"{prefix}.samples", f"{samples} rows of {features} features {too_much}",
                                              "generate fewer samples (or features)"))
    return problems


def load_dataset(config: DataConfig, base_dir: Path | None = None) -> Dataset:
    """Load, split and prepare the data a config describes.

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
    _, problems = validate_data_config(_given_keys(config))
    if problems:
        raise ConfigError(problems)
    # One generator, used in a fixed order: generation (if any), then the dev split.
    rng = np.random.default_rng(config.seed)
    if config.path is not None:
        return _load_files(config, base_dir, rng)
    name = config.dataset
    if config.dataset in GENERATED_DEFAULTS:
        X, y, class_names = _generate(config, rng)
        columns = tuple(f"x{j}" for j in range(X.shape[1]))
    else:
        X, y, class_names, columns = _load_sklearn(config.dataset)
    train_rows, dev_rows = _stratified_split(y, config.dev_fraction, rng, name, class_names)
    X_train, y_train, X_dev, y_dev = X[train_rows], y[train_rows], X[dev_rows], y[dev_rows]
    preparation = numbers_only(columns, X_train, class_names)
    # X[rows] gives fresh float64 arrays, so standardizing in place saves two (m, n) temporaries.
    for part in (X_train, X_dev):
        part -= preparation.mean
        part /= preparation.scale
    return _dataset(name, X_train, y_train, X_dev, y_dev, class_names, preparation)


def _dataset(
    name: str, X_train: np.ndarray, y_train: np.ndarray, X_dev: np.ndarray, y_dev: np.ndarray,
    class_names: tuple[str, ...], preparation: Preparation, notices: tuple[str, ...] = (),
    sources: tuple[tuple[str, str], ...] = (),
) -> Dataset:
    return Dataset(
        name=name,
        X_train=np.ascontiguousarray(X_train, dtype=np.float64),
        y_train=np.ascontiguousarray(y_train, dtype=np.int64),
        X_dev=np.ascontiguousarray(X_dev, dtype=np.float64),
        y_dev=np.ascontiguousarray(y_dev, dtype=np.int64),
        class_names=class_names,
        preparation=preparation,
        notices=notices,
        sources=sources,
    )


def _given_keys(config: DataConfig) -> dict[str, Any]:
    """The fields of ``config`` that differ from their defaults, as YAML keys."""
    return {f.name: getattr(config, f.name) for f in fields(config) if getattr(config, f.name) != f.default}


def _resolve(path: str, base_dir: Path | None) -> Path:
    file = Path(path).expanduser()
    return file if base_dir is None or file.is_absolute() else Path(base_dir) / file


# --- generated sets ------------------------------------------------------------------


def make_spirals(samples: int, classes: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms in the plane (cs231n's toy set).

    Arm k's points run evenly from the origin to radius 1 while their angle
    turns three quarters of a circle, starting at 2πk/classes; ``noise`` is the
    standard deviation (radians) of Gaussian noise added to each angle.

    Returns
    -------
    X : (samples, 2) float64, rows in random order
    y : (samples,) int64 arm ids; arm sizes differ by at most one
    """
    row = np.arange(samples)
    y = row % classes  # arm k holds rows k, k + classes, k + 2·classes, ...
    counts = np.bincount(y, minlength=classes)
    along = (row // classes) / counts[y]  # position along the arm, in [0, 1)
    angle = 2 * np.pi * (y / classes + _SPIRAL_TURNS * along) + noise * rng.standard_normal(samples)
    X = along[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])  # (samples, 2)
    order = rng.permutation(samples)
    return X[order], y[order].astype(np.int64)


def make_blobs(
    samples: int, classes: int, features: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs, one per class.

    Centers are drawn uniformly from the box [-10, 10]^features; each point is
    its center plus Gaussian noise of standard deviation ``noise``.

    Returns
    -------
    X : (samples, features) float64
    y : (samples,) int64 blob ids in random order; blob sizes differ by at most one
    """
    centers = rng.uniform(-10.0, 10.0, size=(classes, features))  # (classes, features)
    y = rng.permutation(np.arange(samples, dtype=np.int64) % classes)
    X = centers[y] + noise * rng.standard_normal((samples, features))
    return X, y


def _generate(config: DataConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The generated set ``config.dataset``: X, y and class names ``0`` .. ``classes-1``."""
    settings = {key: default if getattr(config, key) is None else getattr(config, key)
                for key, default in GENERATED_DEFAULTS[config.dataset].items()}
    make = make_spirals if config.dataset == "spirals" else make_blobs
    X, y = make(**settings, rng=rng)
    return X, y, tuple(str(k) for k in range(settings["classes"]))


def _load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """scikit-learn's bundled set ``name``: X (m, n) float64, y (m,) int64, class names, feature names."""
    try:
        import sklearn.datasets
    except ImportError:
        raise MissingDependencyError("scikit-learn", "sklearn", f"dataset '{name}'") from None
    bunch = getattr(sklearn.datasets, _SKLEARN_LOADERS[name])()
    X = bunch.data.astype(np.float64)
    columns = tuple(str(c) for c in getattr(bunch, "feature_names", [f"x{j}" for j in range(X.shape[1])]))
    return X, bunch.target.astype(np.int64), tuple(str(c) for c in bunch.target_names), columns


# --- user files ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Part:
    """A file's rows after the checks: its kept feature columns by name, and its label column."""

    columns: dict[str, Column]
    labels: Column
    source: str


def _load_files(config: DataConfig, base_dir: Path | None, rng: np.random.Generator) -> Dataset:
    """A CSV/NPZ file (and dev file): checked, split, prepared. Every problem is reported at once."""
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

    y, class_names = _encode_labels(_label_keys(train.labels))
    if len(class_names) < 2:
        raise DataError(f"{path}: every row has the label {class_names[0]!r} — a classifier needs at least 2 classes")
    categorical = [not train.columns[name].is_numeric for name in selected]
    fit = {"missing": config.missing, "label": label, "class_names": class_names}
    if dev is None:
        train_rows, dev_rows = _stratified_split(y, config.dev_fraction, rng, str(path), class_names)
        preparation = Preparation.fit([train.columns[name] for name in selected], categorical, rows=train_rows, **fit)
        X = preparation.transform(train.columns, str(path))  # the whole file, then split: one pass however wide
        X_train, y_train, X_dev, y_dev = X[train_rows], y[train_rows], X[dev_rows], y[dev_rows]
    else:
        preparation = Preparation.fit([train.columns[name] for name in selected], categorical, **fit)
        X_train, y_train = preparation.transform(train.columns, str(path)), y
        X_dev = preparation.transform(dev.columns, dev.source)
        y_dev = _dev_class_ids(_label_keys(dev.labels), class_names, dev.source)
    return _dataset(path.name, X_train, y_train, X_dev, y_dev, class_names, preparation, tuple(notices), tuple(sources))


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


# --- labels --------------------------------------------------------------------------


def _label_keys(labels: Column) -> np.ndarray:
    """Labels (m,) as sortable keys: float64 when every label is a number, else stripped text."""
    return labels.numbers if labels.is_numeric else labels.text


def _encode_labels(keys: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class ids (m,) int64 in sorted key order (numeric order for numbers), and class names."""
    classes, y = np.unique(keys, return_inverse=True)
    return y.astype(np.int64), tuple(class_name(c) for c in classes)


def class_name(key: Any) -> str:
    """The name of a label key: ``3`` for the number 3.0, text as it is."""
    if isinstance(key, (float, np.floating)):
        return number_text(key)
    return str(key)


def _dev_class_ids(keys: np.ndarray, class_names: tuple[str, ...], source: str) -> np.ndarray:
    """Class ids (m,) int64 of a dev file's label keys, matched to the training classes by name."""
    return class_ids(keys, class_names, source)


def class_ids(keys: np.ndarray, class_names: tuple[str, ...], source: str) -> np.ndarray:
    """Class ids (m,) int64 of label keys, matched to ``class_names`` by name (DataError for an unknown one)."""
    uniques, inverse = np.unique(keys, return_inverse=True)
    names = [class_name(u) for u in uniques]
    ids = {name: k for k, name in enumerate(class_names)}
    unknown = [name for name in names if name not in ids]
    if unknown:
        raise DataError(
            f"{source}: label {unknown[0]!r} is not among the training classes ({', '.join(class_names)})"
        )
    return np.array([ids[name] for name in names], dtype=np.int64)[inverse.reshape(-1)]


# --- split and standardization -------------------------------------------------------


def _stratified_split(
    y: np.ndarray, dev_fraction: float, rng: np.random.Generator, source: str, class_names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into train and dev, keeping each class's share in both.

    Each class gives round(count × dev_fraction) random rows to dev. Both index
    arrays are sorted, so rows keep their original order.
    Raises DataError when a class would be empty in train or in dev.
    """
    counts = np.bincount(y, minlength=len(class_names))
    if len(y) < 2 * len(class_names):
        raise DataError(
            f"{source}: {len(y)} rows for {len(class_names)} classes — a train/dev split needs at least 2 rows "
            "of every class; add rows or give a dev_path"
        )
    n_dev = np.floor(counts * dev_fraction + 0.5).astype(np.int64)  # rounds halves up, unlike np.rint
    for k in np.flatnonzero((n_dev == 0) | (n_dev == counts)):
        part, change = ("dev", "a larger") if n_dev[k] == 0 else ("train", "a smaller")
        raise DataError(
            f"{source}: class {class_names[k]!r} has {counts[k]} rows, and dev_fraction {dev_fraction} leaves it "
            f"empty in {part} — use {change} dev_fraction or more rows"
        )
    # Visit rows in random order grouped by class; each class's first n_dev rows go to dev.
    order = rng.permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]
    class_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_class = np.arange(len(y)) - class_start[y[order]]
    is_dev = np.zeros(len(y), dtype=bool)
    is_dev[order] = rank_in_class < n_dev[y[order]]
    return np.flatnonzero(~is_dev), np.flatnonzero(is_dev)
