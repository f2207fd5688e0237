"""The python form: a function hpsearch imports and calls with each trial's parameters.

configs/sklearn-python.yaml names it as ``objective:python: objective:train``.
It returns a dict holding the metric (``val_accuracy``); the other numbers are
kept as the trial's metrics.
"""

from __future__ import annotations

from typing import Any

from digits_svm import fit_and_score


def train(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """One trial: ``params`` holds C and gamma; ``trial.seed`` is the trial's seed."""
    return fit_and_score(params["C"], params["gamma"], trial.seed)
