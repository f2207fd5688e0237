"""The columns a trial's own fields take in every export and leaderboard, so that no parameter or metric takes one.

An export row is one flat mapping (CSV header, JSON object): a parameter or a
reported number named ``seed`` or ``trial`` would overwrite the trial's own
field and double the header. The config refuses such names for what it
controls (parameters, an own objective's metric: ``reserved_name``);
numbers an objective reports beside its metric are kept apart by
``metric_column`` (``reported_seed``).
"""

from __future__ import annotations

LEAD_COLUMNS = ("rank", "trial", "round", "status")
RESULT_COLUMNS = (
    "dev_cost",
    "train_cost",
    "dev_accuracy",
    "epochs_run",
    "seconds",
    "rung",
    "best_dev_cost",
    "best_epoch",
)
OBJECTIVE_COLUMNS = ("epochs_run", "seconds", "rung")
REGRESSION_COLUMNS = ("dev_rmse", "dev_r2")
"""A regression's results in the target's own units, in place of ``dev_accuracy``."""
CONFIRM_COLUMNS = ("confirm_mean", "confirm_std", "confirm_n")
"""hpsearch confirm: mean and sample std of the ranking value over a trial's ok repeats, and their count."""
REGRESSION_CONFIRM_COLUMNS = ("confirm_rmse_mean", "confirm_rmse_low", "confirm_rmse_high", "confirm_r2_mean")
"""hpsearch confirm of a regression: the mean dev RMSE of a trial's ok repeats, its 95% interval, and their mean R²."""
OTHER_COLUMNS = ("bracket", "error", "seed", "history", "decisions")
"""The rest: Hyperband bracket, error, the trial's own seed, the JSON export's history and babysit decisions.
(``epochs``, a parameter of the engine, is free: the leaderboard titles ``epochs_run`` apart when it is taken.)"""

FIXED_COLUMNS = frozenset((*LEAD_COLUMNS, *OBJECTIVE_COLUMNS, *CONFIRM_COLUMNS, *OTHER_COLUMNS))
"""The columns of an own objective's export, where its parameters and reported numbers go too (the engine's
results, ``dev_cost`` ..., are not among them: an objective's metric may be called ``dev_rmse``)."""


def metric_column(name: str) -> str:
    """The column of a number an objective reported: its own name, unless a fixed column has it (``reported_seed``)."""
    return f"reported_{name}" if name in FIXED_COLUMNS else name


def reserved_name(name: str) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``name`` cannot name a parameter or a metric (a fixed column has it), else None."""
    if name not in FIXED_COLUMNS:
        return None
    return (
        f"'{name}' is a column every export and leaderboard gives each trial, so it cannot name a value too",
        f"rename it, e.g. my_{name}",
    )
