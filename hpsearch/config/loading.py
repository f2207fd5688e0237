"""Reading a config: a YAML file (or the Python API's function and space) into a validated ``SearchConfig``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from hpsearch.config.search_config import TOP_LEVEL_KEYS, SearchConfig, config_from_dict
from hpsearch.core.errors import ConfigError, ConfigProblem, closest, config_error
from hpsearch.io.bounded_yaml import load_yaml, read_config_text
from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.objectives.spec import ObjectiveSpec


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> SearchConfig:
    """Read and validate a config file. Raises ConfigError naming the file (and lines).

    The file is read and parsed within the limits of ``hpsearch.io.bounded_yaml``
    (size, nesting depth, alias expansion), so any input ends at once. ``overrides``
    (``run --set``) maps dotted keys (``model.epochs``, ``search.trials``,
    ``space.learning_rate.high``) to values that replace the file's before it is
    checked; a problem with one of them names ``--set KEY``, not the file. The run
    records the config as overridden, like the rest of it.
    """
    path = Path(path)
    label = str(path)
    try:
        text = read_config_text(path, label)
    except OSError as exc:
        raise config_error("file", f"cannot be read ({exc.strerror or exc})", file=label) from None
    raw, lines = parse_yaml(text, label)
    for key, value in (overrides or {}).items():
        raw = with_dotted(raw, key, value)
    default_name = path.stem
    try:
        return config_from_dict(raw, source=label, base_dir=path.resolve().parent, default_name=default_name)
    except ConfigError as exc:
        set_keys = tuple(overrides or ())
        problems = [_as_set_problem(p, key, raw) if (key := _set_key_of(p.key, set_keys)) else p for p in exc.problems]
        raise ConfigError(problems).in_file(label, lines) from None


def with_dotted(raw: Any, key: str, value: Any) -> dict[str, Any]:
    """``raw`` (a config mapping) with the dotted ``key`` set to ``value``; missing mappings on the way are made.
    ConfigError (naming ``--set KEY``) when the path runs into a value that is not a mapping."""
    if not isinstance(raw, dict):
        raise config_error(f"--set {key}", "the config file is not a mapping of sections", "fix the file first")
    parts = key.split(".")
    if not all(parts):
        raise config_error(f"--set {key}", "must be a dotted key such as model.epochs", "e.g. --set search.trials=8")
    result = dict(raw)
    node = result
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        child = {} if child is None else child  # `search:` with nothing under it is an empty section
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise config_error(
                f"--set {key}",
                f"{where} is {child!r}, not a mapping to set {parts[-1]!r} in",
                f"set {where} itself, e.g. --set {where}=...",
            )
        node[part] = dict(child)
        node = node[part]
    node[parts[-1]] = value
    return result


def _set_key_of(key: str, set_keys: tuple[str, ...]) -> str | None:
    """The ``--set`` key a problem comes from: the last one that is its key, holds it or is inside it (``serch`` of
    ``--set serch.trials``), or that sits beside it in one parameter (``--set space.x.low=5`` makes ``space.x.high``
    too low); None when the problem is the file's own."""
    parent = key.rpartition(".")[0]
    for k in reversed(set_keys):
        if (
            key == k
            or key.startswith(k + ".")
            or k.startswith(key + ".")
            or (parent.count(".") and k.rpartition(".")[0] == parent)
        ):
            return k
    return None


def _as_set_problem(problem: ConfigProblem, key: str, raw: dict[str, Any]) -> ConfigProblem:
    """A problem of ``--set key`` named so (not by the file's line), a bare name told which section takes it."""
    message = problem.message if problem.key in (key, "") else f"{problem.key}: {problem.message}"
    if problem.key == key and "." not in key and key not in TOP_LEVEL_KEYS and closest(key, TOP_LEVEL_KEYS) is None:
        name = key if "objective" in raw else closest(key, HYPERPARAMETERS) or key
        fix = (
            f"--set space.{name}=... (its value or range)"
            if "objective" in raw
            else f"--set model.{name}=... (a fixed value) or --set space.{name}=... (a range to search)"
        )
        return replace(problem, key=f"--set {key}", message="is not a section: run's --set takes a dotted key", fix=fix)
    return replace(problem, key=f"--set {key}", message=message)


def parse_yaml(text: str, label: str) -> tuple[Any, dict[str, int]]:
    """Safely load YAML text; also return the line of every key path.

    Duplicate keys, keys that are not names and oversized documents are errors
    (``hpsearch.io.bounded_yaml``).
    """
    raw, node = load_yaml(text, label)
    lines: dict[str, int] = {}
    _collect_lines(node, "", lines)
    return raw, lines


def _collect_lines(node: Any, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[path] = key_node.start_mark.line + 1
            _collect_lines(value_node, path, lines)


def config_for_objective(
    objective: Callable[..., Any],
    space: str | os.PathLike[str] | Mapping[str, Any],
    *,
    metric: str = "value",
    direction: str = "minimize",
    timeout: float | None = None,
    name: str | None = None,
    **search: Any,
) -> SearchConfig:
    """The search config of a Python function objective, for the Python API.

    ``space`` is the ``space:`` mapping as a dict, as YAML text, or as the path
    of a YAML file holding it. ``search`` takes the ``search:`` settings
    (``trials``, ``seed``, ``rounds``, ``sampler``, ...). Raises ConfigError,
    every problem at once, as for a config file.
    """
    source = "<space>"
    if isinstance(space, (str, os.PathLike)) and (
        isinstance(space, os.PathLike) or str(space).endswith((".yaml", ".yml"))
    ):
        source = str(space)
        try:
            text = Path(space).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise config_error("file", f"cannot be read ({exc})", "check the path", file=source) from None
        space = parse_yaml(text, source)[0]
    elif isinstance(space, str):
        space = parse_yaml(space, source)[0]
    raw = {
        "name": name or getattr(objective, "__name__", "search"),
        "objective": {
            "python": "placeholder:function",
            "metric": metric,
            "direction": direction,
            **({"timeout": timeout} if timeout is not None else {}),
        },
        "space": space,
        "search": search,
    }
    try:
        config = config_from_dict(raw, source=source, base_dir=Path.cwd())
    except ConfigError as exc:
        raise exc.in_file(source) if source != "<space>" else exc from None
    spec = ObjectiveSpec.for_callable(
        objective,
        metric=config.objective.metric,
        direction=config.objective.direction,
        timeout=config.objective.timeout,
    )
    return replace(config, objective=replace(spec, bundle_labels=config.objective.bundle_labels))
