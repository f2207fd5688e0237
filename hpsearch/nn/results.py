"""What the engine hands back: the result of one training run (its own record, no search record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpsearch.core.records import TrialStatus


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced (``hpsearch.nn.train``).

    ``history`` maps ``train_cost``, ``dev_cost``, ``dev_accuracy`` and
    ``learning_rate`` to one float per epoch run. ``seconds`` is training time
    only (data loading excluded). Costs of a diverged run may be ``nan``/``inf``.
    ``best_epoch`` is the 0-based epoch with the lowest finite dev cost
    (earliest on ties), ``best_dev_cost`` that cost; both ``None`` when no
    epoch had one.

    Regression (a ``Dataset`` with ``task="regression"``): ``dev_cost`` (and
    ``train_cost``) is ``J = (1/2m) sum ||ŷ - y||^2`` on *standardized* targets,
    ranked like a classifier's cross-entropy; ``dev_accuracy`` is NaN (in
    ``history`` too), so every key a classifier has is still there; ``history``
    also has ``dev_rmse`` and ``dev_r2``, and the fields of the same names hold
    the last epoch's: RMSE and R² on dev in the target's own units, each the
    mean over target columns (``hpsearch.nn.metrics``). Both fields are
    ``None`` for classification, and ``to_dict`` then leaves them out.
    """

    status: TrialStatus
    train_cost: float
    dev_cost: float
    dev_accuracy: float
    epochs_run: int
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    best_dev_cost: float | None = None
    best_epoch: int | None = None
    dev_rmse: float | None = None
    dev_r2: float | None = None

    @property
    def task(self) -> str:
        """``"regression"`` when the run reported RMSE, else ``"classification"``."""
        return "classification" if self.dev_rmse is None else "regression"

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values; ``dev_rmse``/``dev_r2`` only for regression."""
        regression = {} if self.dev_rmse is None else {"dev_rmse": self.dev_rmse, "dev_r2": self.dev_r2}
        return {
            "status": self.status.value,
            "train_cost": self.train_cost,
            "dev_cost": self.dev_cost,
            "dev_accuracy": self.dev_accuracy,
            "epochs_run": self.epochs_run,
            "seconds": self.seconds,
            "history": self.history,
            "best_dev_cost": self.best_dev_cost,
            "best_epoch": self.best_epoch,
            **regression,
        }
