"""hpsearch: hyperparameter search for NumPy neural networks.

The Python API under the ``hpsearch`` command::

    from hpsearch import load_config, start_search
    result = start_search(load_config("configs/quickstart.yaml"), runs_dir=Path("runs"))
    result = tune(my_module.train, {"lr": {"scale": "log", "low": 1e-5, "high": 0.1}}, trials=20)
    trained = train_model(load_config("configs/quickstart.yaml"), {"learning_rate": 0.01})  # hpsearch train

The engine lives in ``hpsearch.nn`` (``train``, ``Network``, ``ModelConfig``),
datasets in ``hpsearch.data.datasets``, search spaces in ``hpsearch.space`` (``scales``, ``search_space``);
the map of every subpackage is docs/architecture.md.
"""

__version__ = "0.1.0"

from typing import Any

# Names of the public API and the module each lives in. They are imported on
# first use, so ``import hpsearch.nn`` in a worker does not load the CLI's stack.
_API = {
    "DryRun": "hpsearch.search.api",
    "Execution": "hpsearch.search.api",
    "dry_run": "hpsearch.search.api",
    "SearchResult": "hpsearch.search.api",
    "planned_trials": "hpsearch.search.api",
    "resume_search": "hpsearch.search.api",
    "start_search": "hpsearch.search.api",
    "tune": "hpsearch.search.api",
    "zoom_search": "hpsearch.search.api",
    "train_model": "hpsearch.predict.training",
    "SearchConfig": "hpsearch.config.search_config",
    "load_config": "hpsearch.config.loading",
    "HpsearchError": "hpsearch.core.errors",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hpsearch' has no attribute {name!r}")
