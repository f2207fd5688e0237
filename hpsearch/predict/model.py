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

A CSV file is scored in ``predict.scoring``, its predictions written in
``predict.writing``; ``predict.model_files`` finds the file a run's name means.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.data.preparation import Preparation, preparation_arrays
from hpsearch.data.tables import Column, parse_cells
from hpsearch.io.npz import save_npz
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
    elif preparation.fill is not None and not np.all(np.isfinite(preparation.fill)):
        why = "its data preparation fills missing values with a non-finite number"
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


__all__ = ["Model", "Rows"]
