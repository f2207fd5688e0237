"""A saved model that predicts from raw rows: the network and the data preparation it was trained with.

::

    from hpsearch.predict.model import Model
    model = Model.load("runs/penguins/models/best.npz")
    model.predict([{"island": "Biscoe", "bill_length_mm": 45.1, ...}])   # -> array(['Gentoo'])
    model.predict_proba(rows)                                            # (m, n_classes)

A model file is a network's ``.npz`` (``Network.save``) plus the preparation's
``prep_*`` arrays; ``Network.load`` reads either. A file saved before models
carried their preparation still loads: it then predicts only from rows
already prepared (standardized numbers), and ``predict_csv`` says why not.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.data.preparation import Preparation, preparation_arrays
from hpsearch.data.split import class_ids, label_keys
from hpsearch.data.tables import Column, parse_cells, read_csv
from hpsearch.io.npz import save_npz
from hpsearch.io.safe_files import write_text_atomic
from hpsearch.nn import Network
from hpsearch.nn.model import read_npz

Rows = np.ndarray | Sequence[Mapping[str, Any]]
"""Raw rows: an array (m, n_columns) in ``Model.columns`` order, or one dict per row keyed by column name."""


@dataclass(frozen=True, eq=False)
class Model:
    """A trained network and its data preparation (``None`` for a model saved without one)."""

    network: Network
    preparation: Preparation | None

    @classmethod
    def from_training(cls, network: Network, data: Dataset) -> Model:
        """The model ``train`` produced on ``data``."""
        return cls(network, data.preparation)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """Read a model file (``models/best.npz``, ``train --save``). DataError names the file if it is unusable."""
        network = Network.load(path)
        arrays = {key: a for key, a in read_npz(path, "a saved model").items() if key.startswith("prep_")}
        try:
            preparation = Preparation.from_arrays(arrays)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
        if preparation is not None:
            _check_preparation(
                path, preparation, network.n_features, 0 if network.task == "regression" else network.n_classes
            )
        return cls(network, preparation)

    def state(self) -> dict[str, np.ndarray]:
        """The network's arrays and the preparation's (``prep_*``), for ``np.savez``."""
        return {**self.network.state(), **preparation_arrays(self.preparation)}

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to an ``.npz`` file (no pickle), atomically and never through a symlink."""
        save_npz(path, self.state())

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw columns a row must have (``()`` without a preparation)."""
        return self.preparation.column_names if self.preparation is not None else ()

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names by class id (``0``, ``1``, ... without a preparation)."""
        if self.preparation is not None:
            return self.preparation.class_names
        return tuple(str(k) for k in range(self.network.n_classes))

    def prepare(self, rows: Rows, source: str = "rows") -> np.ndarray:
        """The network's inputs (m, n_inputs) from raw rows, prepared as in training.

        Without a preparation, ``rows`` must already be a prepared numeric array.
        """
        if self.preparation is None:
            X = np.asarray(rows)
            if X.ndim != 2 or X.dtype.kind not in "biuf" or X.shape[1] != self.network.n_features:
                raise DataError(
                    f"{source}: this model was saved without its data preparation (by an older hpsearch), "
                    f"so it takes only prepared numeric rows of {self.network.n_features} columns"
                )
            return X.astype(np.float64)
        return self.preparation.transform(_columns(rows, self.preparation.column_names, source), source)

    def predict_proba(self, rows: Rows) -> np.ndarray:
        """Class probabilities (m, n_classes) of raw rows."""
        return self.network.predict_proba(self.prepare(rows))

    def predict(self, rows: Rows) -> np.ndarray:
        """The predicted class name (m,) str of each raw row; for a regression model, the numbers to predict
        (m, n_targets) float64 in the target's own units."""
        predicted = self.network.predict(self.prepare(rows))
        return predicted if self.network.task == "regression" else np.array(self.class_names)[predicted]


def _check_preparation(path: str | os.PathLike, preparation: Preparation, n_features: int, n_classes: int) -> None:
    """DataError (one line naming the file) for a preparation that does not fit its network or cannot have
    been fitted: a tampered or broken model file would otherwise predict NaN with a confident class."""
    why = None
    if preparation.n_inputs != n_features:
        why = f"its data preparation makes {preparation.n_inputs} inputs but the network takes {n_features}"
    elif not all(isinstance(name, str) for name in preparation.class_names):
        why = "its class names are not all text"
    elif len(preparation.class_names) != n_classes:
        why = f"it names {len(preparation.class_names)} classes but the network predicts {n_classes}"
    elif not (
        np.all(np.isfinite(preparation.mean))
        and np.all(np.isfinite(preparation.scale))
        and np.all(preparation.scale > 0)
    ):
        why = "its data preparation has a zero, negative or non-finite scale or mean"
    if why is not None:
        raise DataError(f"{path}: {why} — the file was not written by hpsearch, or was changed since")


def _columns(rows: Rows, names: tuple[str, ...], source: str) -> dict[str, Column]:
    """Raw rows as parsed columns by name."""
    if isinstance(rows, np.ndarray):
        array = rows if rows.ndim == 2 else rows.reshape(1, -1) if rows.ndim == 1 else None
        if array is None or array.shape[1] != len(names):
            raise DataError(
                f"{source}: an array of rows needs shape (m, {len(names)}), one column each for "
                f"{', '.join(names)}; got shape {rows.shape}"
            )
        if array.dtype.kind in "biuf":
            values = array.astype(np.float64)
            return {
                name: Column(name, values[:, j].copy(), None, np.isnan(values[:, j])) for j, name in enumerate(names)
            }
        return {name: parse_cells(name, _cell_texts(array[:, j].tolist())) for j, name in enumerate(names)}
    rows = list(rows)
    absent = [name for name in names if any(name not in row for row in rows)]
    if absent:
        raise DataError(
            f"{source}: rows lack {', '.join(map(repr, absent))} — each row needs every training column "
            f"({', '.join(names)})"
        )
    return {name: parse_cells(name, _cell_texts([row[name] for row in rows])) for name in names}


def _cell_texts(values: list[Any]) -> np.ndarray:
    """Cells as text, the way a CSV holds them: ``None`` and NaN are empty (missing); floats exactly (repr)."""
    texts = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            texts.append("")
        elif isinstance(value, (float, np.floating)):
            texts.append(repr(float(value)))
        else:
            texts.append(str(value))
    return np.array(texts, dtype=str)


# --- predict a CSV file -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Predictions:
    """A model's predictions for the rows of a file.

    classes : (m,) str predicted class names (a regression: each row's numbers, as text)
    proba : (m, n_classes) probabilities (a regression: (m, 0))
    class_names : the model's classes (columns of ``proba``)
    accuracy, cost : against the file's label column (cost: mean cross-entropy,
        as dev J), ``None`` when the file has no labels
    values : a regression's predictions (m, n_targets) in the target's own units, named by ``target_names``;
        ``rmse``/``r2`` against the file's target columns (``None`` without them)
    """

    source: str
    classes: np.ndarray
    proba: np.ndarray
    class_names: tuple[str, ...]
    label: str | None
    accuracy: float | None
    cost: float | None
    kept: dict[str, np.ndarray] = field(default_factory=dict)
    """Columns of the input passed through (``--keep``): (m,) str cells by name, in the order asked."""
    values: np.ndarray | None = None
    target_names: tuple[str, ...] = ()
    rmse: float | None = None
    r2: float | None = None


def resolve_model(ref: str, runs_dir: Path) -> Path:
    """The model file ``ref`` names: an ``.npz`` file, or a run (name or folder) whose best model it is."""
    from hpsearch.core.errors import RunError
    from hpsearch.storage.catalog import resolve_run
    from hpsearch.storage.layout import BEST_MODEL, MODELS_DIR

    if ref.lower().endswith(".npz"):
        if not Path(ref).is_file():
            raise DataError(f"{ref}: model file not found — give a run name or a model .npz file")
        return Path(ref)
    model = resolve_run(ref, runs_dir) / MODELS_DIR / BEST_MODEL
    if not model.is_file():
        raise RunError(f"run '{ref}' has no best model yet — no trial finished ok (see hpsearch show {ref})")
    return model


def predict_csv(model_path: Path, data_path: Path, keep: Sequence[str] = (), proba: bool = False) -> Predictions:
    """Predict every row of a CSV file with the training columns (extra columns are ignored).

    If the file holds the label column, the predictions are scored too. ``keep``: columns of the file
    passed through to the output (an id to join the predictions back on). A row with an infinite number
    (``inf``, ``1e309``) in a column the model reads is refused (DataError naming its line and column):
    it would get NaN probabilities and a confident class.
    """
    model = Model.load(model_path)
    if model.preparation is None:
        raise DataError(
            f"{model_path}: this model was saved without its data preparation (by an older hpsearch), "
            "so it cannot read raw rows — train it again, or use Model.predict on prepared arrays"
        )
    if proba and model.network.task == "regression":
        raise DataError(
            f"{model_path}: --proba gives class probabilities, and this model predicts numbers "
            "(a regression) — drop --proba"
        )
    label = model.preparation.label
    labels = label if isinstance(label, tuple) else (label,) if label else ()
    # Only the columns used are parsed: another column's content (a 130,000-character note) costs nothing.
    table = read_csv(Path(data_path), None, usecols={*model.columns, *keep, *labels})
    absent = [name for name in keep if name not in table]
    if absent:
        raise DataError(f"{data_path}: has no column {absent[0]!r} to keep — name a column of its header")
    columns = {name: table[name] for name in model.columns if name in table}
    for name, column in columns.items():
        infinite = np.flatnonzero(np.isinf(column.numbers) & ~column.missing)
        if len(infinite):
            raise DataError(
                f"{data_path}: {table.where(int(infinite[0]))}, column {name!r} is "
                f"{column.numbers[infinite[0]]} — predict takes finite numbers: fix or drop the row"
            )
    X = model.preparation.transform(columns, str(data_path))
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        row, j = (int(v) for v in bad[0])
        raise DataError(
            f"{data_path}: {table.where(row)}, input {model.preparation.input_names[j]!r} overflows "
            "once prepared (a number far outside the training range) — fix or drop the row"
        )
    kept = {name: table[name].as_text() for name in keep}
    if model.network.task == "regression":
        return _regression(model, X, table, labels, data_path, kept)
    proba = model.network.predict_proba(X)
    names = np.array(model.class_names)
    classes = names[np.argmax(proba, axis=1)]
    accuracy = cost = None
    if label is not None and label in table:
        labels = table[label]
        if labels.missing.any():
            raise DataError(
                f"{data_path}: label {label!r} is missing at {table.where(int(np.argmax(labels.missing)))} "
                "— fill it in, or remove the label column to predict without scoring"
            )
        y = class_ids(label_keys(labels), model.class_names, str(data_path))
        cost, accuracy = model.network.evaluate(X, y)
    return Predictions(
        str(data_path), classes, proba, model.class_names, label if accuracy is not None else None, accuracy, cost, kept
    )


def _regression(
    model: Model, X: np.ndarray, table: Any, labels: tuple[str, ...], data_path: Path, kept: dict[str, np.ndarray]
) -> Predictions:
    """A regression model's predictions in the target's units, scored (RMSE, R²) when the file has the targets."""
    from hpsearch.nn.metrics import r2, rmse

    values = model.network.predict(X)
    rmse_value = r2_value = None
    if labels and all(name in table for name in labels):
        columns = [table[name] for name in labels]
        for column in columns:
            if column.missing.any() or not column.is_numeric or not np.isfinite(column.numbers).all():
                row = int(np.argmax(column.missing | ~np.isfinite(column.numbers)))
                raise DataError(
                    f"{data_path}: target {column.name!r} is not a finite number at {table.where(row)} "
                    "— fix it, or remove the target column to predict without scoring"
                )
        actual = np.stack([c.numbers for c in columns], axis=1)
        rmse_value, r2_value = rmse(values, actual), r2(values, actual)
    names = tuple(labels) if labels else tuple(f"target_{k}" for k in range(values.shape[1]))
    shown = np.array([",".join(repr(float(v)) for v in row) for row in values])
    return Predictions(
        str(data_path),
        shown,
        np.zeros((len(values), 0)),
        (),
        labels[0]
        if rmse_value is not None and len(labels) == 1
        else (", ".join(labels) if rmse_value is not None else None),
        None,
        None,
        kept,
        values=values,
        target_names=names,
        rmse=rmse_value,
        r2=r2_value,
    )


# C0 controls, DEL, C1 controls and bidirectional overrides: shown as escapes (as the CLI's plain text does).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(text: str) -> str:
    """``text`` with each control character written as an escape (``\\x1b``): a class name or a kept cell
    can never move the cursor or rewrite a terminal that shows the CSV."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def write_predictions(predictions: Predictions, file: IO[str], proba: bool = False) -> None:
    """CSV: one row per input row — ``row`` (its 0-based number among the file's data rows, blank lines not
    counted: pandas' index), the kept columns, the predicted class (and, with ``proba``, one probability
    column per class). Control characters in names and cells are written as escapes."""
    writer = csv.writer(file, lineterminator="\n")
    kept = list(predictions.kept.items())
    if predictions.values is not None:  # a regression: one number column per target, in the target's units
        names = (
            ["prediction"]
            if predictions.values.shape[1] == 1
            else [f"prediction_{n}" for n in predictions.target_names]
        )
        writer.writerow([_escaped(name) for name in ["row", *(name for name, _ in kept), *names]])
        for k, row in enumerate(predictions.values.tolist()):
            writer.writerow([str(k), *(_escaped(cells[k]) for _, cells in kept), *(repr(float(v)) for v in row)])
        return
    header = ["row", *(name for name, _ in kept), "prediction"]
    header += [f"p_{name}" for name in predictions.class_names] if proba else []
    writer.writerow([_escaped(name) for name in header])
    for k, name in enumerate(predictions.classes.tolist()):
        row = [str(k), *(cells[k] for _, cells in kept), name]
        writer.writerow(
            [_escaped(cell) for cell in row] + ([repr(float(p)) for p in predictions.proba[k]] if proba else [])
        )


def save_predictions(predictions: Predictions, path: Path, proba: bool = False) -> Path:
    """``write_predictions`` into ``path``, atomically and never through a symlink (``io.safe_files``): a full
    disk leaves the old file, and the error names the path."""
    text = io.StringIO()
    write_predictions(predictions, text, proba)
    return write_text_atomic(path, text.getvalue())


__all__ = ["Model", "Predictions", "predict_csv", "resolve_model", "save_predictions", "write_predictions"]
