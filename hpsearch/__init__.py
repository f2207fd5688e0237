"""hpsearch: hyperparameter search for NumPy neural networks.

The Python API under the ``hpsearch`` command (``tests/test_api.py`` runs this example)::

    from pathlib import Path
    from hpsearch import load_config, start_search, tune

    # a search from a config file: every trial, best first, stored in a run folder
    result = start_search(load_config("configs/quickstart.yaml"), runs_dir=Path("runs"))
    print(result.name, result.best.trial, result.best.dev_cost)

    # your own objective: a top-level function of an importable module,
    # e.g. my_module.py holding  def train(params): return {"loss": ...}
    import my_module
    result = tune(my_module.train, {"lr": {"scale": "log", "low": 1e-5, "high": 0.1}}, trials=12, metric="loss")
    print(result.best.params["lr"])

Follow a search as it goes with a ``SearchReporter`` (``reporter=``); the results are ``TrialRecord`` and
``RoundRecord``; every error hpsearch raises is an ``HpsearchError`` (``ConfigError``, ``DataError``,
``RunError``, ``ObjectiveError``, ...), whose message is one line that says what to fix.
The engine lives in ``hpsearch.nn`` (``train``, ``Network``, ``ModelConfig``),
datasets in ``hpsearch.data.datasets``, search spaces in ``hpsearch.space`` (``scales``, ``search_space``);
the map of every subpackage is docs/architecture.md.
"""

__version__ = "0.1.0"

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
    "SearchReporter": "hpsearch.search.options",
    "train_model": "hpsearch.predict.training",
    "SearchConfig": "hpsearch.config.search_config",
    "load_config": "hpsearch.config.loading",
    "TrialRecord": "hpsearch.core.records",
    "RoundRecord": "hpsearch.core.records",
    "TrialStatus": "hpsearch.core.records",
    "HpsearchError": "hpsearch.core.errors",
    "ConfigError": "hpsearch.core.errors",
    "DataError": "hpsearch.core.errors",
    "RunError": "hpsearch.core.errors",
    "RunLockedError": "hpsearch.core.errors",
    "MissingDependencyError": "hpsearch.core.errors",
    "WorkerLostError": "hpsearch.core.errors",
    "Interrupted": "hpsearch.core.errors",
    "ReplayMismatch": "hpsearch.core.errors",
    "ObjectiveError": "hpsearch.objectives.spec",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> object:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hpsearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API (imported on first use, so not in the module's namespace yet) and the version: what
    ``dir(hpsearch)``, ``help(hpsearch)`` and tab completion show."""
    return sorted([*__all__, "__version__"])
