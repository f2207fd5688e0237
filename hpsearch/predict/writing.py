"""Predictions as CSV text: one row per input row, on stdout or written whole into a file.

Names and cells come from the user's data (a class name, a kept id column): each control character is
written as an escape (``core.escapes``), so a CSV shown in a terminal can never move its cursor or
rewrite it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO

from hpsearch.core.escapes import safe
from hpsearch.io.safe_files import write_text_atomic
from hpsearch.predict.scoring import Predictions


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
        writer.writerow([safe(name) for name in ["row", *(name for name, _ in kept), *names]])
        for k, row in enumerate(predictions.values.tolist()):
            writer.writerow([str(k), *(safe(cells[k]) for _, cells in kept), *(repr(float(v)) for v in row)])
        return
    header = ["row", *(name for name, _ in kept), "prediction"]
    header += [f"p_{name}" for name in predictions.class_names] if proba else []
    writer.writerow([safe(name) for name in header])
    for k, name in enumerate(predictions.classes.tolist()):
        row = [str(k), *(cells[k] for _, cells in kept), name]
        writer.writerow(
            [safe(cell) for cell in row] + ([repr(float(p)) for p in predictions.proba[k]] if proba else [])
        )


def save_predictions(predictions: Predictions, path: Path, proba: bool = False) -> Path:
    """``write_predictions`` into ``path``, atomically and never through a symlink (``io.safe_files``): a full
    disk leaves the old file, and the error names the path."""
    text = io.StringIO()
    write_predictions(predictions, text, proba)
    return write_text_atomic(path, text.getvalue())


__all__ = ["save_predictions", "write_predictions"]
