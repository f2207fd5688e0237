"""A model's predictions for every row of a CSV file, scored against its labels when the file has them.

::

    from hpsearch.predict.scoring import predict_csv
    predictions = predict_csv(Path("runs/penguins/models/best.npz"), Path("new-penguins.csv"), keep=["id"])
    predictions.classes, predictions.accuracy
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.data.split import class_ids, label_keys
from hpsearch.data.tables import read_csv
from hpsearch.predict.model import Model


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
    skipped: int = 0
    """Rows left out of the score because their label is missing (they are predicted all the same)."""


def predict_csv(model_path: Path, data_path: Path, keep: Sequence[str] = (), proba: bool = False) -> Predictions:
    """Predict every row of a CSV file with the training columns (extra columns are ignored).

    If the file holds the label column, the predictions are scored too, on the rows that have a label (those
    without are predicted and counted in ``skipped``). ``keep``: columns of the file
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
    skipped = 0
    if label is not None and label in table:
        labelled = ~table[label].missing
        if labelled.any():
            y = class_ids(label_keys(table[label].take(labelled)), model.class_names, str(data_path))
            cost, accuracy = model.network.evaluate(X[labelled], y)
        skipped = int((~labelled).sum())
    return Predictions(
        str(data_path),
        classes,
        proba,
        model.class_names,
        label if accuracy is not None else None,
        accuracy,
        cost,
        kept,
        skipped=skipped if accuracy is not None else 0,
    )


def _regression(
    model: Model, X: np.ndarray, table: Any, labels: tuple[str, ...], data_path: Path, kept: dict[str, np.ndarray]
) -> Predictions:
    """A regression model's predictions in the target's units, scored (RMSE, R²) when the file has the targets."""
    from hpsearch.nn.metrics import r2, rmse

    values = model.network.predict(X)
    rmse_value = r2_value = None
    skipped = 0
    if labels and all(name in table for name in labels):
        columns = [table[name] for name in labels]
        labelled = ~np.any([c.missing for c in columns], axis=0)  # a row missing a target is left out of the score
        for column in columns:
            if not column.is_numeric or not np.isfinite(column.numbers[labelled]).all():
                row = int(np.argmax(labelled & ~np.isfinite(column.numbers)))
                raise DataError(
                    f"{data_path}: target {column.name!r} is not a finite number at {table.where(row)} "
                    "— fix it, or remove the target column to predict without scoring"
                )
        if labelled.any():
            actual = np.stack([c.numbers[labelled] for c in columns], axis=1)
            rmse_value, r2_value = rmse(values[labelled], actual), r2(values[labelled], actual)
            skipped = int((~labelled).sum())
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
        skipped=skipped,
    )


__all__ = ["Predictions", "predict_csv"]
