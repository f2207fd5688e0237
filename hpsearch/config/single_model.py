"""The one model ``hpsearch train`` (and a new ``babysit``) makes of a search file: the centre of its space.

A search file names ranges, not values; to train one model from it, each searched hyperparameter takes
the value set for it (``--set``), else the centre of its range on its own scale (a choice: its first).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import ConfigError, ConfigProblem, config_error, did_you_mean
from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig, engine_values


def single_model_config(config: SearchConfig, assignments: dict[str, Any]) -> ModelConfig:
    """The one model ``hpsearch train`` trains from a search file.

    Searched parameters take their ``--set`` value, else the centre of their
    range on their own scale (a choice: its first); fixed values may be overridden too.
    A conditional parameter inactive under those values keeps its default, and
    a bundle's centre option sets its parameters (``centre_values``).
    """
    if config.objective is not None:
        raise config_error(
            "objective", "hpsearch train trains the built-in engine only", "search your objective with hpsearch run"
        )
    unknown = [k for k in assignments if k not in HYPERPARAMETERS]
    if unknown:
        raise ConfigError([ConfigProblem(f"--set {k}", "unknown hyperparameter", _train_hint(k)) for k in unknown])
    values = {**config.model, **centre_values(config, assignments), **assignments}
    try:
        return ModelConfig.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(
            [
                replace(p, key=f"--set {p.key.split('.', 1)[1]}" if p.key.split(".", 1)[1] in assignments else p.key)
                for p in exc.problems
            ]
        ) from None


def _train_hint(name: str) -> str:
    """The fix for an unknown ``train --set`` name: run's dotted grammar (``model.learning_rate``) taken apart."""
    bare = name.rpartition(".")[2]
    if bare != name and bare in HYPERPARAMETERS:
        return f"train's --set takes a hyperparameter's name: --set {bare}=..."
    return did_you_mean(name, HYPERPARAMETERS)


def centre_values(config: SearchConfig, assignments: dict[str, Any]) -> dict[str, Any]:
    """The searched hyperparameters ``train`` takes from the space: each active one's centre, a bundle's first option.

    Conditions are judged with the ``--set`` values, so ``--set optimizer=momentum``
    makes a ``beta`` that depends on it active (and takes its centre).
    """
    space = config.space
    full = {**space.center(), **{k: v for k, v in assignments.items() if k in space}}
    return engine_values(space.trial_params(full))
