"""``--set name=value`` on the command line, and the one model ``hpsearch train`` makes of a search file."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import ConfigError, ConfigProblem, config_error, did_you_mean
from hpsearch.io.bounded_yaml import load_value
from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig, engine_values, ignored_by


def parse_assignments(assignments: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["learning_rate=0.01", "hidden=[64, 32]"]`` -> ``{"learning_rate": 0.01, "hidden": [64, 32]}``.

    Values are read as YAML scalars/lists, so numbers, booleans and lists work.
    """
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise config_error(f"--set {item}", "must look like name=value", "e.g. --set learning_rate=0.01")
        values.pop(name, None)  # the last --set of a name wins, and is applied last (after any key it is inside)
        try:
            values[name] = load_value(text, f"--set {name}")
        except ConfigError as exc:
            first = exc.problems[0]
            fix = first.fix if "syntax" not in first.message else "quote it or fix it"
            raise config_error(f"--set {name}", f"value is not valid YAML ({first.message})", fix) from None
    return values


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


def ignored_settings(assignments: dict[str, Any], model: ModelConfig) -> list[str]:
    """One line per ``--set`` value the engine ignores under ``model`` (``beta`` with ``optimizer: adam``)."""
    used = model.to_dict()
    return [f"--set {name}: {why}" for name in assignments if (why := ignored_by(name, used))]


def single_model_sources(
    config: SearchConfig, assignments: dict[str, Any], model: ModelConfig
) -> list[tuple[str, Any, str]]:
    """Every hyperparameter of ``hpsearch train``'s model: ``(name, value used, where it came from)``.

    Where: ``--set`` (with why the engine ignores it, if it does),
    ``model:`` (fixed in the file), ``centre of space`` (a searched parameter
    nobody set, active under the others) or ``default``.
    """
    used = model.to_dict()
    centre = centre_values(config, assignments)
    rows = []
    for name in HYPERPARAMETERS:
        ignored = ignored_by(name, used) if name in assignments else None
        if name in assignments:
            source = "--set" + (f" (ignored: {ignored})" if ignored else "")
        elif name in centre:
            source = "centre of space"
        elif name in config.model:
            source = "model:"
        else:
            source = "default"
        rows.append((name, used.get(name), source))
    return rows
