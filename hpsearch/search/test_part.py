"""The test part's one use: scoring the model ``predict`` uses on rows no search step saw.

The dev J a search reports chose the winner among many trials on the same rows, so it flatters the winner by
construction. A test part (``data.test_fraction`` or ``data.test_path``) is split off before anything else,
stored with the run (``data/X_test.npy``, ``y_test.npy``) and never handed to training, ranking, early stopping,
zoom, TPE or confirm (``PreparedData.load`` does not hold it). When a command ends with a model file —
``models/best.npz``: the best trial's, the confirmed repeat's after ``confirm`` — that file is scored on the test
rows once, and the figures kept in ``models/test.json`` with the digest of the file they score: a later model
(a zoom that found a better trial, a confirm) is scored anew, and a view never shows a figure of another model.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hpsearch.core.columns import REGRESSION_TEST_COLUMNS, TEST_COLUMNS
from hpsearch.data.stored_arrays import PreparedData, prepared_files
from hpsearch.io import bounded_json
from hpsearch.io.safe_files import write_bytes_atomic
from hpsearch.nn import Network
from hpsearch.nn.metrics import optional_series
from hpsearch.search.refit import current_refit, model_in_use
from hpsearch.search.run_config import stored_metric
from hpsearch.storage.artifacts import file_digest
from hpsearch.storage.layout import MODELS_DIR
from hpsearch.storage.run_store import RunStore

TEST_FILE = "test.json"
"""In the run's ``models/`` folder: the test figures of the model file whose digest they name."""


@dataclass(frozen=True)
class TestFigures:
    """The recommended model's figures on the test part.

    trial : the trial whose weights ``models/best.npz`` holds (``repeat``: the confirm repeat, else None);
        ``refit``: the model scored is its refit on train+dev rows (``search.refit``), which predict then uses
    rows : how many test rows
    cost : J on the test rows, as dev J is computed (a regression: on targets standardized with the training part)
    accuracy : a classifier's share right; ``rmse``/``r2`` a regression's, in the target's own units
    model_sha256 : the digest of the model file scored
    metric, metric_value : the figure the search ranked by (``search.metric``: balanced_accuracy, f1_macro, mae)
        on the test rows, when it is none of the above; "" and None otherwise (and in files written before)
    """

    trial: int
    rows: int
    cost: float
    accuracy: float | None = None
    rmse: float | None = None
    r2: float | None = None
    repeat: int | None = None
    model_sha256: str = ""
    refit: bool = False
    metric: str = ""
    metric_value: float | None = None

    def summary(self) -> str:
        """``test J 0.2130  test acc 91.50%`` (a regression: ``test RMSE ...  test R² ...``), and the figure the
        search ranked by (``test f1_macro 0.9012``) when it is another."""
        ranked = f"  test {self.metric} {self.metric_value:.4g}" if self.metric_value is not None else ""
        if self.accuracy is not None:
            return f"test J {self.cost:.4g}  test acc {self.accuracy:.2%}{ranked}"
        return f"test J {self.cost:.4g}  test RMSE {self.rmse:.4g}  R² {self.r2:.3g}{ranked}"

    def columns(self) -> dict[int, dict[str, float | int | None]]:
        """What an export adds to the row of the model's trial: ``TEST_COLUMNS`` (a regression's, for one)."""
        names = TEST_COLUMNS if self.accuracy is not None else REGRESSION_TEST_COLUMNS
        ranked = {f"test_{self.metric}": self.metric_value} if self.metric_value is not None else {}
        return {self.trial: {**{name: getattr(self, name.removeprefix("test_")) for name in names}, **ranked}}


def score_best_model(store: RunStore, data: PreparedData | None) -> TestFigures | None:
    """Score the model predict uses (``models/best.npz``, or its current refit) on the run's test rows unless its
    figures are kept already; None without a test part or a model file. Reads the test rows here and nowhere
    else that trains or ranks."""
    refit = current_refit(store.run_dir) is not None
    # prepared as the model scored learned to: a cross-validated run's refit on all its rows, its best model fold 0's
    test = (data.refit_data() if refit else data).test_rows() if data is not None else None
    saved = store.best_model()
    if test is None or saved is None:
        return None
    trial, path = saved[0], model_in_use(store.run_dir)
    digest = file_digest(path)
    kept = read_test_figures(store.run_dir)
    if kept is not None and kept.model_sha256 == digest:
        return kept  # scored once: the same file gives the same figures
    X, y = test
    network = Network.load(path)
    metrics = network.metrics(X, y)
    confirmed = store.confirmed_model()  # a refit is of the trial's configuration, with the trial's own seed
    repeat = confirmed[1] if confirmed is not None and confirmed[0] == trial and not refit else None
    quality: dict[str, Any] = (
        {"rmse": metrics["dev_rmse"], "r2": metrics["dev_r2"]}
        if network.task == "regression"
        else {"accuracy": metrics["dev_accuracy"]}
    )
    metric = stored_metric(store)
    for key in optional_series(metric):  # the figure the run ranks by, when the above is not it
        quality.update(metric=metric, metric_value=metrics[key])
    figures = TestFigures(
        trial, len(y), metrics["dev_cost"], repeat=repeat, model_sha256=digest or "", refit=refit, **quality
    )
    write_bytes_atomic(store.run_dir / MODELS_DIR, TEST_FILE, json.dumps(asdict(figures), indent=1).encode("utf-8"))
    return figures


def read_test_figures(run_dir: Path) -> TestFigures | None:
    """The kept test figures, or None (no test part, nothing scored yet, or a file not as hpsearch writes it)."""
    path = Path(run_dir) / MODELS_DIR / TEST_FILE
    try:
        figures = TestFigures(**bounded_json.read_small(path))
    except (OSError, ValueError, TypeError):
        return None
    values = (figures.accuracy, figures.rmse, figures.r2, figures.metric_value)
    numbers = [figures.cost, *(v for v in values if v is not None)]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers) or not isinstance(figures.trial, int):
        return None
    return figures


def current_test_figures(run_dir: Path) -> TestFigures | None:
    """The test figures of the model file ``predict`` uses now; None when none are kept for that very file
    (a model saved since, by a command interrupted before it scored it)."""
    figures = read_test_figures(run_dir)
    if figures is None or figures.model_sha256 != file_digest(model_in_use(run_dir)):
        return None
    return figures


def has_test_part(run_dir: Path) -> bool:
    """Whether the run keeps a test part (its prepared data say so)."""
    return any(name.endswith("X_test.npy") for name in prepared_files(run_dir))
