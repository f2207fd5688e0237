"""``--set name=value`` on the command line, and the one model ``hpsearch train`` makes of a search file."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import ConfigError, ConfigProblem, config_error, did_you_mean
from hpsearch.io.bounded_yaml import load_value
from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig


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
    """
    if config.objective is not None:
        raise config_error("objective", "hpsearch train trains the built-in engine only",
                           "search your objective with hpsearch run")
    unknown = [k for k in assignments if k not in HYPERPARAMETERS]
    if unknown:
        raise ConfigError(
            [ConfigProblem(f"--set {k}", "unknown hyperparameter", did_you_mean(k, HYPERPARAMETERS)) for k in unknown]
        )
    values = {**config.model, **config.space.center(), **assignments}
    try:
        return ModelConfig.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(
            [replace(p, key=f"--set {p.key.split('.', 1)[1]}" if p.key.split(".", 1)[1] in assignments else p.key)
             for p in exc.problems]
        ) from None


def single_model_sources(
    config: SearchConfig, assignments: dict[str, Any], model: ModelConfig
) -> list[tuple[str, Any, str]]:
    """Every hyperparameter of ``hpsearch train``'s model: ``(name, value used, where it came from)``.

    Where: ``--set``, ``model:`` (fixed in the file), ``centre of space`` (a
    searched parameter nobody set) or ``default``.
    """
    used = model.to_dict()
    centre = config.space.center()
    rows = []
    for name in HYPERPARAMETERS:
        if name in assignments:
            source = "--set"
        elif name in centre:
            source = "centre of space"
        elif name in config.model:
            source = "model:"
        else:
            source = "default"
        rows.append((name, used.get(name), source))
    return rows
