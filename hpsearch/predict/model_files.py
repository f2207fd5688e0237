"""Which model file a ``RUN|MODEL.npz`` argument names: a saved ``.npz`` file, or a run's best model."""

from __future__ import annotations

from pathlib import Path

from hpsearch.core.errors import DataError, RunError
from hpsearch.storage.catalog import resolve_run
from hpsearch.storage.layout import BEST_MODEL, MODELS_DIR


def resolve_model(ref: str, runs_dir: Path) -> Path:
    """The model file ``ref`` names: an ``.npz`` file, or a run (name or folder) whose best model it is."""
    if ref.lower().endswith(".npz"):
        if not Path(ref).is_file():
            raise DataError(f"{ref}: model file not found — give a run name or a model .npz file")
        return Path(ref)
    model = resolve_run(ref, runs_dir) / MODELS_DIR / BEST_MODEL
    if not model.is_file():
        raise RunError(f"run '{ref}' has no best model yet — no trial finished ok (see hpsearch show {ref})")
    return model
