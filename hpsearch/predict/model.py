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
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from hpsearch.data.split import class_ids
from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.io.npz import save_npz
from hpsearch.nn import Network
from hpsearch.nn.model import read_npz
from hpsearch.data.preparation import Preparation, preparation_arrays
from hpsearch.data.tables import Column, parse_cells, read_csv

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
        if preparation is not None and preparation.n_inputs != network.n_features:
            raise DataError(f"{path}: its data preparation makes {preparation.n_inputs} inputs but the network "
                            f"takes {network.n_features} — the file was not written by hpsearch")
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
                raise DataError(f"{source}: this model was saved without its data preparation (by an older hpsearch), "
                                f"so it takes only prepared numeric rows of {self.network.n_features} columns")
            return X.astype(np.float64)
        return self.preparation.transform(_columns(rows, self.preparation.column_names, source), source)

    def predict_proba(self, rows: Rows) -> np.ndarray:
        """Class probabilities (m, n_classes) of raw rows."""
        return self.network.predict_proba(self.prepare(rows))

    def predict(self, rows: Rows) -> np.ndarray:
        """The predicted class name (m,) str of each raw row."""
        return np.array(self.class_names)[self.network.predict(self.prepare(rows))]


def _columns(rows: Rows, names: tuple[str, ...], source: str) -> dict[str, Column]:
    """Raw rows as parsed columns by name."""
    if isinstance(rows, np.ndarray):
        array = rows if rows.ndim == 2 else rows.reshape(1, -1) if rows.ndim == 1 else None
        if array is None or array.shape[1] != len(names):
            raise DataError(f"{source}: an array of rows needs shape (m, {len(names)}), one column each for "
                            f"{', '.join(names)}; got shape {rows.shape}")
        if array.dtype.kind in "biuf":
            values = array.astype(np.float64)
            return {name: Column(name, values[:, j].copy(), None, np.isnan(values[:, j])) for j, name in enumerate(names)}
        return {name: parse_cells(name, _cell_texts(array[:, j].tolist())) for j, name in enumerate(names)}
    rows = list(rows)
    absent = [name for name in names if any(name not in row for row in rows)]
    if absent:
        raise DataError(f"{source}: rows lack {', '.join(map(repr, absent))} — each row needs every training column "
                        f"({', '.join(names)})")
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

    classes : (m,) str predicted class names
    proba : (m, n_classes) probabilities
    class_names : the model's classes (columns of ``proba``)
    accuracy, cost : against the file's label column (cost: mean cross-entropy,
        as dev J), ``None`` when the file has no labels
    """

    source: str
    classes: np.ndarray
    proba: np.ndarray
    class_names: tuple[str, ...]
    label: str | None
    accuracy: float | None
    cost: float | None


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


def predict_csv(model_path: Path, data_path: Path) -> Predictions:
    """Predict every row of a CSV file with the training columns (extra columns are ignored).

    If the file holds the label column, the predictions are scored too.
    """
    model = Model.load(model_path)
    if model.preparation is None:
        raise DataError(f"{model_path}: this model was saved without its data preparation (by an older hpsearch), "
                        "so it cannot read raw rows — train it again, or use Model.predict on prepared arrays")
    table = read_csv(Path(data_path), None)
    columns = {name: table[name] for name in model.columns if name in table}
    X = model.preparation.transform(columns, str(data_path))
    proba = model.network.predict_proba(X)
    names = np.array(model.class_names)
    classes = names[np.argmax(proba, axis=1)]
    accuracy = cost = None
    label = model.preparation.label
    if label is not None and label in table:
        labels = table[label]
        if labels.missing.any():
            raise DataError(f"{data_path}: label {label!r} is missing at {table.where(int(np.argmax(labels.missing)))} "
                            "— fill it in, or remove the label column to predict without scoring")
        keys = labels.numbers if labels.is_numeric else labels.text
        y = class_ids(keys, model.class_names, str(data_path))
        cost, accuracy = model.network.evaluate(X, y)
    return Predictions(str(data_path), classes, proba, model.class_names, label if accuracy is not None else None,
                       accuracy, cost)


def write_predictions(predictions: Predictions, file: IO[str], proba: bool = False) -> None:
    """CSV: one row per input row, the predicted class (and, with ``proba``, one probability column per class)."""
    writer = csv.writer(file, lineterminator="\n")
    header = ["prediction"] + ([f"p_{name}" for name in predictions.class_names] if proba else [])
    writer.writerow(header)
    for k, name in enumerate(predictions.classes.tolist()):
        writer.writerow([name, *(repr(float(p)) for p in predictions.proba[k])] if proba else [name])


__all__ = ["Model", "Predictions", "predict_csv", "resolve_model", "write_predictions"]
