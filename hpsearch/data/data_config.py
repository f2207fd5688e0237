"""The ``data:`` section of a config: its keys, their rules, and the ``DataConfig`` they make.

``validate_data_config`` checks a ``data:`` mapping without touching the disk
and reports every problem at once, each keyed by its path (``data.path``);
``check_data_config`` checks a ``DataConfig`` built in code the same way.
File contents are checked later, when ``hpsearch.data.datasets.load_dataset``
reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hpsearch.core.errors import ConfigError, ConfigProblem, did_you_mean
from hpsearch.core.keys import Hyperparameter
from hpsearch.core.memory import shortfall
from hpsearch.data.preparation import MISSING_MODES


@dataclass(frozen=True)
class DataConfig:
    """The ``data:`` section of a config. Exactly one of ``dataset`` and ``path``.

    ``samples``, ``classes``, ``noise`` and an integer ``features`` configure
    the generated sets; ``None`` means the set's default (``GENERATED_DEFAULTS``).
    For a CSV file, ``features`` (a tuple of column names) keeps only those
    columns and ``drop`` removes some; ``keep_index`` keeps a column that looks
    like a row index; ``missing`` and ``categorical`` choose how missing feature
    cells and text columns are handled (a row without its label is always dropped).
    ``missing`` stays ``error`` by default: a stored run's config omits keys at
    their default, so a new default would change what an older stored config means.
    """

    dataset: str | None = None
    path: str | None = None
    label: str | tuple[str, ...] | None = None
    dev_path: str | None = None
    dev_fraction: float = 0.2
    test_path: str | None = None
    test_fraction: float | None = None
    cv: int | None = None
    seed: int = 0
    samples: int | None = None
    classes: int | None = None
    features: int | tuple[str, ...] | None = None
    noise: float | None = None
    drop: tuple[str, ...] | None = None
    keep_index: bool = False
    missing: str = "error"
    categorical: str = "auto"
    task: str = "auto"

    @property
    def labels(self) -> tuple[str, ...]:
        """The label columns: one for a class or a number, several for several numbers to predict."""
        if self.label is None:
            return ("y",)  # an NPZ file's labels are its column y
        return tuple(self.label) if isinstance(self.label, (list, tuple)) else (self.label,)


MAX_CV_FOLDS = 20
"""The most folds ``data.cv`` takes: each fold trains a model per trial."""

TASKS = ("auto", "classification", "regression")
"""``data.task``: what the label is. ``auto`` decides from the label column (``hpsearch.data.tasks``)."""

# Generated sets and the values their unset keys take. Defaults are chosen so
# that a small batch-norm net reaches > 95 % dev accuracy in a few epochs.
GENERATED_DEFAULTS: dict[str, dict[str, Any]] = {
    "spirals": {"samples": 3000, "classes": 3, "noise": 0.2},
    "blobs": {"samples": 1000, "classes": 3, "features": 2, "noise": 1.0},
}
SKLEARN_SETS: tuple[str, ...] = ("digits", "iris", "wine", "breast_cancer")
"""scikit-learn's bundled sets (shipped inside its package, never downloaded), each read by ``load_<name>``."""
DATASETS: tuple[str, ...] = (*GENERATED_DEFAULTS, *SKLEARN_SETS)
FILE_FORMATS = (".csv", ".npz")


# The ``data:`` keys, typed like the engine's hyperparameters (same checks, same messages).
# ``features`` and ``drop`` also take a list of column names (checked by ``_check_columns``).
DATA_KEYS: dict[str, Hyperparameter] = {
    key.name: key
    for key in [
        Hyperparameter("dataset", str, None, "built-in dataset", choices=DATASETS),
        Hyperparameter("path", str, None, "CSV (with a header) or NPZ (arrays X, y) file"),
        Hyperparameter("label", str, None, "label column of a CSV file (a list: several numbers to predict)"),
        Hyperparameter("dev_path", str, None, "dev file in the same format as path"),
        Hyperparameter(
            "dev_fraction",
            float,
            0.2,
            "share of rows held out as dev (stratified by class; random for a regression)",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        ),
        Hyperparameter(
            "test_path", str, None, "test file in the same format as path: rows no search step sees, scored once"
        ),
        Hyperparameter(
            "test_fraction",
            float,
            None,
            "share of rows split off first as the test part (never seen by the search; the recommended model is "
            "scored on it once)",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        ),
        Hyperparameter(
            "cv",
            int,
            None,
            "k-fold cross-validation: the non-test rows in K folds (stratified by class; random for a regression), "
            "a trial's J the mean over them (replaces the dev split)",
            low=2,
            high=MAX_CV_FOLDS,
        ),
        Hyperparameter("seed", int, 0, "seed of generation and of the test, dev and cv splits", low=0),
        Hyperparameter("samples", int, None, "examples generated (spirals, blobs)", low=1),
        Hyperparameter("classes", int, None, "classes generated (spirals, blobs)", low=2),
        Hyperparameter("features", int, None, "features generated (blobs), or the CSV columns to keep", low=1),
        Hyperparameter("noise", float, None, "angle noise in radians (spirals), cluster std (blobs)", low=0),
        Hyperparameter("drop", list, None, "CSV columns to leave out"),
        Hyperparameter("keep_index", bool, False, "keep a column that looks like a row index (CSV)"),
        Hyperparameter(
            "missing",
            str,
            "error",
            "missing feature cells: refuse, drop their rows, fill (median, a "
            "'(missing)' category), or mean (fill numbers with the mean: configs from before fill)",
            choices=MISSING_MODES,
        ),
        Hyperparameter(
            "categorical", str, "auto", "text columns: one-hot encode, or refuse", choices=("auto", "error")
        ),
        Hyperparameter("task", str, "auto", "classes or a number to predict", choices=TASKS),
    ]
}
_COLUMN_LIST_KEYS = ("features", "drop")


_FILE_KEYS = ("label", "dev_path", "test_path", "missing")
_CSV_KEYS = ("drop", "keep_index", "categorical")


def validate_data_config(raw: Any, prefix: str = "data") -> tuple[DataConfig | None, list[ConfigProblem]]:
    """Check a ``data:`` section without reading any file.

    Returns ``(config, [])`` when valid, else ``(None, problems)`` listing every
    problem at once, each keyed by its path (``data.dev_fraction``). File
    contents are checked later, by ``load_dataset``. ``~`` in a path is expanded.
    """
    if not isinstance(raw, dict):
        return None, [
            ConfigProblem(prefix, f"must be a mapping of data keys, got {raw!r}", "e.g. data: {dataset: spirals}")
        ]
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
        if key in (*_COLUMN_LIST_KEYS, "label") and isinstance(value, (list, tuple)):
            checked, message = _check_columns(value)
        elif key == "drop" or (key == "features" and isinstance(value, str)):
            checked, message = (
                None,
                f"must be a list of column names, got {value!r} — write [{value}]"
                if isinstance(value, str)
                else f"must be a list of column names, got {value!r}",
            )
        else:
            checked, message = spec.check(value)
        if message is None and isinstance(checked, str) and not checked.strip():
            message = "must not be empty"
        if message:
            problems.append(ConfigProblem(f"{prefix}.{key}", message))
        else:
            values[key] = os.path.expanduser(checked) if key in ("path", "dev_path", "test_path") else checked
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
    columns = values.get("features") if isinstance(values.get("features"), tuple) else None
    path, dev_path = values.get("path"), values.get("dev_path")
    suffix = Path(path).suffix.lower() if path else None
    problems = _source_problems(values, raw, prefix, columns) + _label_problems(values, prefix, suffix)
    if columns is not None and values.get("drop"):
        problems.append(
            ConfigProblem(
                f"{prefix}.drop",
                "has no effect with features (which keeps only the columns it lists)",
                "keep one of features and drop",
            )
        )
    if values.get("cv") is not None:
        problems += [
            ConfigProblem(f"{prefix}.{key}", "has no effect with cv (each fold is the dev part in turn)", "remove it")
            for key in ("dev_path", "dev_fraction")
            if key in values
        ]
    if dev_path and "dev_fraction" in values:
        problems.append(ConfigProblem(f"{prefix}.dev_fraction", "has no effect with dev_path", "remove one of them"))
    if values.get("test_path") and "test_fraction" in values:
        problems.append(ConfigProblem(f"{prefix}.test_fraction", "has no effect with test_path", "remove one of them"))
    if raw.get("dataset") is not None and "dataset" not in values:
        return problems  # the dataset name is already reported; its keys cannot be judged
    return problems + _generated_set_problems(values, prefix, columns)


def _source_problems(
    values: dict[str, Any], raw: dict, prefix: str, columns: tuple[str, ...] | None
) -> list[ConfigProblem]:
    """Where the data comes from: a built-in dataset or a file, and the keys that apply only to one of them."""
    problems = []
    dataset, path = values.get("dataset"), values.get("path")
    if dataset and path:
        problems.append(ConfigProblem(prefix, "sets both dataset and path", "keep one: a built-in dataset or a file"))
    elif raw.get("dataset") is None and raw.get("path") is None:
        problems.append(
            ConfigProblem(
                prefix, "needs a dataset or a path", f"add dataset: (one of {', '.join(DATASETS)}) or path: FILE.csv"
            )
        )
    suffix = Path(path).suffix.lower() if path else None
    if path:
        if suffix not in FILE_FORMATS:
            problems.append(ConfigProblem(f"{prefix}.path", f"must be a .csv or .npz file, got {path!r}"))
        elif suffix == ".csv" and "label" not in values and raw.get("label") is None:
            problems.append(
                ConfigProblem(
                    f"{prefix}.label", "is required for a CSV file", "name its label column, e.g. label: class"
                )
            )
        elif suffix == ".npz":
            problems += [
                ConfigProblem(
                    f"{prefix}.{key}",
                    "applies only to CSV files (an NPZ file holds its labels in y)"
                    if key == "label"
                    else "applies only to CSV files",
                    "remove it",
                )
                for key in ("label", *_CSV_KEYS)
                if key in values
            ]
            if columns is not None:
                problems.append(
                    ConfigProblem(f"{prefix}.features", "a list of columns applies only to CSV files", "remove it")
                )
        for key in ("dev_path", "test_path"):
            other = values.get(key)
            if other and suffix in FILE_FORMATS and Path(other).suffix.lower() != suffix:
                problems.append(ConfigProblem(f"{prefix}.{key}", f"must be a {suffix} file like path, got {other!r}"))
    elif raw.get("path") is None:
        problems += [
            ConfigProblem(f"{prefix}.{key}", "applies only to a file given by path", "remove it")
            for key in (*_FILE_KEYS, *_CSV_KEYS)
            if key in values
        ]
        if columns is not None:
            problems.append(
                ConfigProblem(
                    f"{prefix}.features",
                    "a list of columns applies only to a CSV file given by path",
                    "remove it (blobs takes a number of features)",
                )
            )
    return problems


def _label_problems(values: dict[str, Any], prefix: str, suffix: str | None) -> list[ConfigProblem]:
    """The label columns against the other column lists, and a classifier's one label."""
    problems = []
    labels = values.get("label")
    labels = labels if isinstance(labels, tuple) else (labels,) if labels is not None else ()
    if labels and suffix == ".csv":
        for key in _COLUMN_LIST_KEYS:
            for label in labels:
                if isinstance(values.get(key), tuple) and label in values[key]:
                    problems.append(
                        ConfigProblem(
                            f"{prefix}.{key}", f"lists the label column {label!r}", f"remove {label!r} from it"
                        )
                    )
    if len(labels) > 1 and values.get("task") == "classification":
        problems.append(
            ConfigProblem(
                f"{prefix}.label",
                f"lists {len(labels)} columns, but a classifier has one label",
                "name one column, or set data.task: regression to predict each as a number",
            )
        )
    return problems


def _generated_set_problems(
    values: dict[str, Any], prefix: str, columns: tuple[str, ...] | None
) -> list[ConfigProblem]:
    """Keys that only the generated sets take, and whether a generated set's size fits in memory."""
    problems = []
    dataset, path = values.get("dataset"), values.get("path")
    suffix = Path(path).suffix.lower() if path else None
    defaults = GENERATED_DEFAULTS.get(dataset, {})
    for key in ("samples", "classes", "features", "noise"):
        if key in values and key not in defaults and not (key == "features" and (columns is not None or path)):
            owners = [name for name, keys in GENERATED_DEFAULTS.items() if key in keys]
            problems.append(
                ConfigProblem(
                    f"{prefix}.{key}", f"applies only to the generated sets ({', '.join(owners)})", "remove it"
                )
            )
    if path and isinstance(values.get("features"), int) and suffix == ".csv":
        problems.append(
            ConfigProblem(
                f"{prefix}.features",
                f"must list the columns to keep, got {values['features']!r}",
                "e.g. features: [bill_length_mm, island]",
            )
        )
    elif path and isinstance(values.get("features"), int):
        problems.append(
            ConfigProblem(f"{prefix}.features", "applies only to the generated sets (blobs) and CSV files", "remove it")
        )
    if dataset == "blobs" and columns is not None:
        problems.append(
            ConfigProblem(
                f"{prefix}.features",
                f"must be {DATA_KEYS['features'].rule()} for blobs, got a list",
                "e.g. features: 2",
            )
        )
    if defaults:
        samples = values.get("samples", defaults["samples"])
        classes = values.get("classes", defaults["classes"])
        if samples < classes:
            problems.append(
                ConfigProblem(
                    f"{prefix}.samples",
                    f"must be at least classes ({classes}), got {samples}",
                    "raise samples or lower classes",
                )
            )
        features = values.get("features", defaults.get("features", 2))
        if isinstance(samples, int) and isinstance(features, int):
            # the generated X (float64), a shuffled copy and the standardized split
            too_much = shortfall(4 * 8 * samples * (features + 1))
            if too_much:
                problems.append(
                    ConfigProblem(
                        f"{prefix}.samples",
                        f"{samples} rows of {features} features {too_much}",
                        "generate fewer samples (or features)",
                    )
                )
    return problems


def check_data_config(config: DataConfig) -> None:
    """Raise ConfigError when a ``DataConfig`` (one built in code, say) breaks the rules of a ``data:`` section."""
    _, problems = validate_data_config(given_keys(config))
    if problems:
        raise ConfigError(problems)


def given_keys(config: DataConfig) -> dict[str, Any]:
    """The fields of ``config`` that differ from their defaults, as YAML keys."""
    return {f.name: getattr(config, f.name) for f in fields(config) if getattr(config, f.name) != f.default}
