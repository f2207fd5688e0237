"""The data a search trains on: read and checked before a run folder exists, and a stored run's checked again.

A data error is the user's, so ``load_data`` reports it before anything is created; a model whose size
nothing searched changes is checked to fit in memory then too (``check_fixed_size``). A stored run trains
on the arrays it kept, checked against their digests (``run_data``).
"""

from __future__ import annotations

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import ConfigError, ConfigProblem, HpsearchError, RunError
from hpsearch.data.datasets import load_dataset
from hpsearch.data.stored_arrays import PreparedData, prepared_data, prepared_files
from hpsearch.execution.objective_jobs import check_objective
from hpsearch.execution.segments import check_fits
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.metrics import RANKING_METRICS
from hpsearch.search.options import Execution
from hpsearch.search.trust import check_trusted
from hpsearch.storage.run_store import RunStore

SIZE_PARAMETERS = ("hidden", "layers", "hidden_units", "batch_size", "dtype", "optimizer")
"""The hyperparameters that change how much memory a trial needs."""


def load_data(config: SearchConfig) -> Dataset | None:
    """The dataset of a built-in search (None for an own objective, whose function is checked to import)."""
    if config.objective is not None:
        check_objective(config.objective)  # an unimportable function stops here, not as a failure of every trial
        return None
    dataset = load_dataset(config.resolved_data())
    check_metric(config, dataset.task)
    return dataset


def check_metric(config: SearchConfig, task: str) -> None:
    """ConfigError, in one line, when ``search.metric`` does not fit the task (accuracy for a regression, ...) or
    ``model.class_weight`` is set (or searched) for a regression."""
    _, _, tasks = RANKING_METRICS[config.search.metric]
    if task not in tasks:
        fitting = ", ".join(name for name, (_, _, fits) in RANKING_METRICS.items() if task in fits)
        problem = ConfigProblem(
            "search.metric", f"{config.search.metric} is for a {tasks[0]}, not a {task}", f"rank by one of {fitting}"
        )
        raise ConfigError([problem]).in_file(config.source)
    weighted = config.model.get("class_weight", "none") != "none" or "class_weight" in config.space.names
    if task == "regression" and weighted:
        problem = ConfigProblem("model.class_weight", "weighs classes, and this data is a regression", "leave it out")
        raise ConfigError([problem]).in_file(config.source)


def check_fixed_size(config: SearchConfig, dataset: Dataset) -> None:
    """When nothing searched changes a trial's size, one that cannot fit in memory stops the search at once."""
    if set(SIZE_PARAMETERS) & set(config.space.names):
        return  # sizes vary: a trial too large for memory fails alone, and the search goes on
    try:
        model = ModelConfig.from_dict(config.model)
    except HpsearchError:
        return  # reported per trial
    try:
        check_fits(model, dataset, keep_best=config.search.rank_by == "best")
    except RunError as exc:
        raise RunError(f"{config.source}: model: {exc} — lower hidden_units, layers or batch_size") from None


def run_data(store: RunStore, config: SearchConfig, execution: Execution) -> PreparedData | None:
    """What every command that trains a stored run (resume, zoom, confirm) does first: refuse a run from
    someone else that would run code or connect somewhere (``check_trusted``), then return the run's
    prepared data checked against the digests the run keeps (RunError naming a changed file), or None
    for an own objective (checked to import: it loads its own data)."""
    check_trusted(store, config, execution)
    if config.objective is not None:
        load_data(config)
        return None
    data = prepared_data(store.run_dir, config.resolved_data())  # an older run's data file is read here, once
    store.check_digests(prepared_files(store.run_dir))
    return data
