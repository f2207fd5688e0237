"""``search.refit: true``: the recommended configuration retrained on every non-test row, as the model predict uses.

A search holds the dev rows out to choose the winner; once it is chosen they are data the model could learn
from. The refit trains the configuration of the model ``models/best.npz`` holds (the leaderboard's best, or the
confirmed best after ``confirm``: refit comes after confirm) on the training and dev rows together (with
``data.cv``: every non-test row, its preparation learned on them all, ``PreparedData.refit_data``), with the
trial's own seed, for the trial's epochs (its best epoch count under ``search.rank_by: best``), and keeps it as
``models/refit.npz`` beside a ``refit.json`` naming the best-model file it refits by digest. ``models/best.npz``
stays the model as searched (resume, confirm and babysit go on from it); ``predict RUN`` uses the refit while it
refits the current best model (``model_in_use``). A refit has no dev J: no row is held out from it — only the
test part, if any, scores it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.segments import Segment, TrialTask, train_segment
from hpsearch.io import bounded_json
from hpsearch.io.npz import save_npz
from hpsearch.io.safe_files import write_bytes_atomic
from hpsearch.storage.artifacts import file_digest
from hpsearch.storage.layout import BEST_MODEL, MODELS_DIR
from hpsearch.storage.run_store import RunStore

REFIT_MODEL = "refit.npz"
REFIT_FILE = "refit.json"


@dataclass(frozen=True)
class Refit:
    """A refit kept in ``models/``: of ``trial`` (``repeat``: the confirm repeat best.npz held), trained ``epochs``
    epochs on ``rows`` rows; ``source_sha256`` is the best-model file it refits, ``model_sha256`` its own file."""

    trial: int
    epochs: int
    rows: int
    source_sha256: str
    model_sha256: str
    repeat: int | None = None

    def describe(self) -> str:
        """``refit of trial 7 on all 960 rows (train and dev), 12 epochs``."""
        of = f"trial {self.trial}" + (" (the confirmed best)" if self.repeat is not None else "")
        return f"refit of {of} on all {self.rows} rows (train and dev), {self.epochs} epochs"


def refit_best(store: RunStore, config: SearchConfig, data: PreparedData) -> Refit | None:
    """Retrain the configuration of ``models/best.npz`` on train+dev rows and keep it (``models/refit.npz``),
    unless the refit kept already refits that very file. None when there is no best model or it fails."""
    saved = store.best_model()
    if saved is None:
        return None
    trial, path = saved
    source = file_digest(path)
    kept = current_refit(store.run_dir)
    if kept is not None:
        return kept
    record = next((t for t in store.trials() if t.trial == trial and t.status in _REFITTABLE), None)
    if record is None:  # not a trial of this search's records (cannot be refit from them)
        return None
    confirmed = store.confirmed_model()
    epochs = _epochs(
        record, config, next((r.epochs_run for r in store.repeats() if (r.trial, r.repeat) == confirmed), None)
    )
    rows = data.refit_data()  # with data.cv: every non-test row, prepared on them all (not fold 0's preparation)
    dataset = rows.load()
    every_row = dataclasses.replace(
        dataset,
        X_train=np.concatenate([dataset.X_train, dataset.X_dev]),
        y_train=np.concatenate([dataset.y_train, dataset.y_dev]),
    )
    task = TrialTask(record.trial, record.round, record.index, record.params, record.seed)
    outcome = train_segment(Segment(task, until_epoch=epochs), config.model, every_row)
    if outcome.weights is None:
        store.note(f"the refit of trial {trial} ends {outcome.status.value}: predict keeps using models/best.npz")
        return None
    refit_path = save_npz(store.run_dir / MODELS_DIR / REFIT_MODEL, rows.model_state(outcome.weights))
    refit = Refit(
        trial,
        epochs,
        len(every_row.y_train),
        source or "",
        file_digest(refit_path) or "",
        confirmed[1] if confirmed is not None and confirmed[0] == trial else None,
    )
    write_bytes_atomic(store.run_dir / MODELS_DIR, REFIT_FILE, json.dumps(asdict(refit), indent=1).encode("utf-8"))
    return refit


_REFITTABLE = (TrialStatus.OK, TrialStatus.PRUNED)
"""A confirmed best may be a trial early stopping pruned: confirm trained its repeats to the top rung."""


def _epochs(record: TrialRecord, config: SearchConfig, repeat_epochs: int | None) -> int:
    """How long the refit trains: the trial's best epoch count under ``rank_by: best`` (a trial that ran to its
    end), else the epochs of the model it refits (a confirmed repeat's, which ran to the top rung, or the trial's)."""
    if config.search.rank_by == "best" and record.best_epoch is not None and record.status is TrialStatus.OK:
        return record.best_epoch + 1
    return repeat_epochs if repeat_epochs is not None else record.epochs_run


def current_refit(run_dir: Path) -> Refit | None:
    """The kept refit while it refits the current ``models/best.npz`` and is whole; else None."""
    models = Path(run_dir) / MODELS_DIR
    try:
        refit = Refit(**bounded_json.read_small(models / REFIT_FILE))
    except (OSError, ValueError, TypeError):
        return None
    if refit.source_sha256 != file_digest(models / BEST_MODEL) or refit.model_sha256 != file_digest(
        models / REFIT_MODEL
    ):
        return None
    return refit


def model_in_use(run_dir: Path) -> Path:
    """The model file ``predict RUN`` uses: the refit of the best model while it is current, else the best model."""
    models = Path(run_dir) / MODELS_DIR
    return models / (REFIT_MODEL if current_refit(run_dir) is not None else BEST_MODEL)
