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

    def to_dict(self) -> dict[str, Any]:
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
        }
