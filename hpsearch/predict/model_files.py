"""Which model file a ``RUN|MODEL.npz`` argument names: a saved ``.npz`` file, or a run's best model."""

from __future__ import annotations

from pathlib import Path

from hpsearch.core.errors import DataError, RunError
from hpsearch.search.refit import model_in_use
from hpsearch.storage.catalog import resolve_run


def resolve_model(ref: str, runs_dir: Path) -> Path:
    """The model file ``ref`` names: an ``.npz`` file, or a run (name or folder) whose model in use it is."""
    if ref.lower().endswith(".npz"):
        if not Path(ref).is_file():
            raise DataError(f"{ref}: model file not found — give a run name or a model .npz file")
        return Path(ref)
    model = model_in_use(resolve_run(ref, runs_dir))  # its refit (search.refit) while that refits its best model
    if not model.is_file():
        raise RunError(f"run '{ref}' has no best model yet — no trial finished ok (see hpsearch show {ref})")
    return model
