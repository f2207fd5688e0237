"""The fitted preparation: raw columns in, the network's standardized matrix out.

A ``Preparation`` is learned from the training part only and then applied,
unchanged, to the dev part, to new files (``hpsearch predict``) and to rows
given in Python (``Model.predict``):

- a number column is standardized, ``(x - mean) / scale``; with
  ``missing: mean`` a missing cell takes the training mean (so becomes 0);
- a text column is one-hot encoded over the categories seen in training
  (sorted); a category never seen in training is all zeros. With
  ``missing: mean`` a missing cell is a category of its own.

It is stored next to a network's arrays in an ``.npz`` under keys starting
with ``prep_`` (``preparation_arrays`` / ``Preparation.from_arrays``), so a
saved model carries everything needed to predict from raw rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hpsearch.core.errors import DataError
from hpsearch.data.tables import Column
from hpsearch.io import bounded_json

PREFIX = "prep_"
FORMAT_VERSION = 1
MISSING_CATEGORY = ""
"""The category of a missing text cell (``missing: mean``); no present cell is empty, so it cannot clash."""
MISSING_MODES = ("error", "drop", "mean")


@dataclass(frozen=True)
class Feature:
    """One source column and how it becomes network inputs.

    kind : ``"number"`` (one standardized input) or ``"category"`` (one 0/1 input per category)
    categories : the training part's categories, sorted; ``MISSING_CATEGORY`` for missing cells
    """

    name: str
    kind: str
    categories: tuple[str, ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the network inputs this feature fills: ``bill`` or ``island=Biscoe``, ..."""
        if self.kind == "number":
            return (self.name,)
        return tuple(f"{self.name}={c if c != MISSING_CATEGORY else '(missing)'}" for c in self.categories)


@dataclass(frozen=True, eq=False)
class Preparation:
    """How raw columns become the network's inputs, fitted on a training part.

    features : the source columns, in input order
    mean, scale : (n_inputs,) float64 standardization of each input (0 and 1 for one-hot inputs)
    missing : the ``data.missing`` mode it was fitted with (``error``, ``drop``, ``mean``)
    label : the label column's name, or a regression's several (``None`` for built-in sets)
    class_names : the name of each class id
    """

    features: tuple[Feature, ...]
    mean: np.ndarray
    scale: np.ndarray
    missing: str
    label: str | tuple[str, ...] | None
    class_names: tuple[str, ...]

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(name for f in self.features for name in f.outputs)

    @property
    def n_inputs(self) -> int:
        return len(self.mean)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The raw columns a row must have."""
        return tuple(f.name for f in self.features)

    # ---------------------------------------------------------------- fitting

    @classmethod
    def fit(
        cls,
        columns: list[Column],
        categorical: list[bool],
        *,
        rows: np.ndarray | None = None,
        missing: str,
        label: str | tuple[str, ...] | None,
        class_names: tuple[str, ...],
        source: str = "data",
    ) -> Preparation:
        """Learn the preparation from the training part (``rows``, all when ``None``) of ``columns``.

        categorical : per column, whether it is one-hot encoded (a text column) or standardized
        source : the file, named by a DataError for a column whose spread float64 cannot standardize by
        """
        rows = slice(None) if rows is None else rows
        numbers = [c for c, is_category in zip(columns, categorical) if not is_category]
        # Number columns together: one reduction for all of them, however wide the file.
        number_mean, number_scale = np.zeros(0), np.ones(0)  # every feature may be text
        if numbers:
            number_mean, number_scale = standardization(_stack([c.numbers for c in numbers], rows))
            incomplete = np.flatnonzero(_stack([c.missing for c in numbers], rows).any(axis=0))
            for k in incomplete:  # statistics of the present values only
                column = numbers[k]
                number_mean[k], number_scale[k] = _standardization(column.numbers[rows][~column.missing[rows]])
        features, means, scales = [], [], []
        k = 0
        for column, is_category in zip(columns, categorical):
            if is_category:
                text, absent = column.as_text()[rows], column.missing[rows]
                categories = tuple(np.unique(text[~absent]).tolist())
                if missing == "mean" and absent.any():  # a gap in the training part, not in dev rows
                    categories = (MISSING_CATEGORY, *categories)
                features.append(Feature(column.name, "category", categories))
                means.append(np.zeros(len(categories)))
                scales.append(np.ones(len(categories)))
            else:
                features.append(Feature(column.name, "number"))
                means.append(number_mean[k : k + 1])
                scales.append(number_scale[k : k + 1])
                k += 1
        mean = np.concatenate(means) if means else np.zeros(0)
        scale = np.concatenate(scales) if scales else np.ones(0)
        preparation = cls(tuple(features), mean, scale, missing, label, tuple(class_names))
        bad = unrepresentable(scale)
        if len(bad):
            name = preparation.input_names[bad[0]]
            raise DataError(
                f"{source}: column {name!r} varies by less than float64 can divide by — rescale it "
                "(e.g. multiply it by 1e300) or drop it"
            )
        return preparation

    # -------------------------------------------------------------- applying

    def transform(self, columns: Mapping[str, Column], source: str = "data") -> np.ndarray:
        """The network's inputs (m, n_inputs) float64, C-contiguous, from raw columns found by name.

        Raises DataError (naming ``source``) for a missing column, a text cell
        in a number column, and missing cells a ``missing: mean`` preparation
        would not fill — every problem at once.
        """
        absent = [f.name for f in self.features if f.name not in columns]
        if absent:
            raise DataError(
                f"{source}: no column {', '.join(map(repr, absent))} — the model needs every training column "
                f"({', '.join(self.column_names)})"
            )
        m = len(columns[self.features[0].name].missing) if self.features else 0
        X = np.zeros((m, self.n_inputs), dtype=np.float64, order="F")  # filled column by column
        problems: list[str] = []
        starts = np.cumsum([0, *(len(f.outputs) for f in self.features)])
        number_at = [j for f, j in zip(self.features, starts) if f.kind == "number"]
        number_columns = [columns[f.name] for f in self.features if f.kind == "number"]
        if number_columns:
            # Number columns together: a few whole-matrix operations, however wide the file.
            values = _stack([c.numbers for c in number_columns])
            absent = _stack([c.missing for c in number_columns])
            text_cells = ~absent & np.isnan(values)
            for k in np.flatnonzero(text_cells.any(axis=0)):
                first = int(np.argmax(text_cells[:, k]))
                problems.append(
                    f"{source}: column {number_columns[k].name!r} holds text "
                    f"({str(number_columns[k].text[first])!r}, row {first}) but the model was trained on numbers there"
                )
            if absent.any():
                if self.missing == "mean":
                    values = np.where(absent, self.mean[number_at], values)
                else:
                    unfilled = [f"{c.name!r} ({int(c.missing.sum())} rows)" for c in number_columns if c.missing.any()]
                    problems.append(
                        f"{source}: missing values in {', '.join(unfilled)} — fill them in (the model was "
                        f"trained with data.missing: {self.missing}, which does not fill them)"
                    )
            X[:, number_at] = values
        for feature, j in zip(self.features, starts):
            if feature.kind != "category" or not feature.categories:
                continue
            column = columns[feature.name]
            text = column.as_text().copy()
            text[column.missing] = MISSING_CATEGORY
            categories = np.array(feature.categories, dtype=str)
            at = np.minimum(np.searchsorted(categories, text), len(categories) - 1)
            known = categories[at] == text  # an unseen category stays all zeros
            X[np.flatnonzero(known), j + at[known]] = 1.0
        if problems:
            raise DataError("\n".join(problems))
        X -= self.mean
        X /= self.scale
        return np.ascontiguousarray(X)

    # ----------------------------------------------------------- persistence

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays (keys start with ``prep_``) to store next to a network's in an ``.npz``."""
        meta = {
            "version": FORMAT_VERSION,
            "features": [{"name": f.name, "kind": f.kind, "categories": list(f.categories)} for f in self.features],
            "missing": self.missing,
            "label": self.label,
            "class_names": list(self.class_names),
        }
        return {
            f"{PREFIX}meta": np.array(json.dumps(meta)),
            f"{PREFIX}mean": self.mean.copy(),
            f"{PREFIX}scale": self.scale.copy(),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Preparation | None:
        """The preparation stored by ``to_arrays``; ``None`` when ``arrays`` hold none (an older model file)."""
        if f"{PREFIX}meta" not in arrays:
            return None
        try:
            meta = bounded_json.loads(str(np.asarray(arrays[f"{PREFIX}meta"])[()]))  # nesting bounded: a tampered file
            features = tuple(Feature(f["name"], f["kind"], tuple(f["categories"])) for f in meta["features"])
            mean = np.asarray(arrays[f"{PREFIX}mean"], dtype=np.float64)
            scale = np.asarray(arrays[f"{PREFIX}scale"], dtype=np.float64)
            label = tuple(meta["label"]) if isinstance(meta["label"], list) else meta["label"]  # several targets
            preparation = cls(features, mean, scale, meta["missing"], label, tuple(meta["class_names"]))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise DataError(f"the stored data preparation is damaged ({type(error).__name__}: {error})") from None
        if (
            preparation.mean.shape != (len(preparation.input_names),)
            or preparation.scale.shape != preparation.mean.shape
        ):
            raise DataError("the stored data preparation is damaged (statistics do not match its features)")
        return preparation


def preparation_arrays(preparation: Preparation | None) -> dict[str, np.ndarray]:
    """``preparation.to_arrays()``, or nothing for ``None``."""
    return {} if preparation is None else preparation.to_arrays()


def _stack(arrays: list[np.ndarray], rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Columns (m,) side by side as (m_rows, k), taking ``rows`` of each."""
    if not arrays:
        return np.zeros((0, 0))
    return np.column_stack(arrays)[rows]


def _standardization(values: np.ndarray) -> tuple[float, float]:
    """Mean and scale of one column's present training values; a constant column gets scale 1."""
    if len(values) == 0:
        return 0.0, 1.0
    mean, scale = standardization(values[:, None])
    return float(mean[0]), float(scale[0])


def standardization(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean (n,) and scale (n,) of X_train (m, n); a constant column gets scale 1,
    so it maps to zeros instead of dividing by zero.

    Each column is divided by its largest magnitude first: the squares of values near 1e160 would overflow
    (scale inf: the column zeroed) and those of values near 1e-300 vanish (scale 0: every trial diverges).
    A scale that is still 0 or not finite (subnormal spreads) is left for ``unrepresentable`` to name.
    """
    size = np.abs(X_train).max(axis=0)
    size = np.where(size > 0, size, 1.0)  # all zeros (or NaN, for a column with gaps: recomputed without them)
    unit = X_train / size
    mean = unit.mean(axis=0) * size
    scale = unit.std(axis=0) * size
    scale[X_train.max(axis=0) == X_train.min(axis=0)] = 1.0
    return mean, scale


def unrepresentable(scale: np.ndarray) -> np.ndarray:
    """Indices of the columns whose spread float64 cannot standardize by (0 or not finite), for a one-line refusal."""
    return np.flatnonzero(~(np.isfinite(scale) & (scale > 0)))
