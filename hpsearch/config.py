"""Search config files: YAML -> a validated ``SearchConfig``.

A config has five top-level keys: ``name``, ``data:`` (what to train on),
``model:`` (fixed hyperparameters), ``space:`` (searched hyperparameters) and
``search:`` (how to search). Every problem of a file is reported at once, each
as ``file:line: key.path: what is wrong — how to fix it``.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from hpsearch.data import DataConfig, validate_data_config
from hpsearch.errors import ConfigError, ConfigProblem, clip, config_error
from hpsearch.limits import MAX_ROUNDS, MAX_TRIALS, MAX_WORKERS
from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig, did_you_mean, validate_hyperparameters
from hpsearch.samplers import SAMPLERS, grid_size
from hpsearch.space import Space, parse_space
from hpsearch.yaml_bounded import load_value, load_yaml, read_config_text

TOP_LEVEL_KEYS = ("name", "description", "data", "model", "space", "search")
BACKENDS = ("loky", "dask")


@dataclass(frozen=True)
class SearchSettings:
    """The ``search:`` section: how many trials, how they are drawn and run.

    ``rounds`` > 1 makes ``run`` go on by itself with coarse-to-fine rounds of
    ``zoom_trials`` trials each, zoomed on the ``top_k`` best trials so far.
    ``workers`` None means one per CPU core.
    """

    trials: int = 20
    seed: int = 0
    workers: int | None = None
    sampler: str = "random"
    grid_points: int = 5
    rounds: int = 1
    zoom_trials: int | None = None
    top_k: int = 5
    margin: float = 0.1
    backend: str = "loky"
    scheduler: str | None = None


# name -> (type, check, rule) of each search setting; None is accepted where the default is None.
_SEARCH_RULES: dict[str, tuple[type, Any, str]] = {
    "trials": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
    "seed": (int, lambda v: v >= 0, "an integer >= 0"),
    "workers": (int, lambda v: 1 <= v <= MAX_WORKERS,
                f"an integer from 1 to {MAX_WORKERS:,} (or leave it out for one per core)"),
    "sampler": (str, lambda v: v in SAMPLERS, "one of " + ", ".join(SAMPLERS)),
    "grid_points": (int, lambda v: 2 <= v <= MAX_TRIALS, f"an integer from 2 to {MAX_TRIALS:,}"),
    "rounds": (int, lambda v: 1 <= v <= MAX_ROUNDS, f"an integer from 1 to {MAX_ROUNDS:,}"),
    "zoom_trials": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
    "top_k": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
    "margin": (float, lambda v: 0 <= v <= 1, "a number between 0 and 1"),
    "backend": (str, lambda v: v in BACKENDS, "one of " + ", ".join(BACKENDS)),
    "scheduler": (str, lambda v: scheduler_problem(v) is None, "a scheduler address such as tcp://127.0.0.1:8786"),
}


@dataclass(frozen=True)
class SearchConfig:
    """A validated search: what to train on, what is fixed, what is searched, how.

    ``model`` holds the fixed hyperparameters exactly as given (validated);
    ``base_dir`` is where relative data paths are resolved (the file's folder).
    """

    name: str
    data: DataConfig
    model: dict[str, Any]
    space: Space
    search: SearchSettings = field(default_factory=SearchSettings)
    description: str = ""
    source: str = "<config>"
    base_dir: Path = field(default_factory=Path.cwd)

    def resolved_data(self) -> DataConfig:
        """The data section with file paths made absolute (relative ones are relative to the config file)."""
        paths = {
            key: str((self.base_dir / getattr(self.data, key)).resolve())
            for key in ("path", "dev_path")
            if getattr(self.data, key)
        }
        return replace(self.data, **paths)

    def with_search(self, **changes: Any) -> "SearchConfig":
        """A copy with some search settings replaced (None values are ignored), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        problems = _check_settings(changes, "search")
        if problems:
            raise ConfigError(problems)
        return replace(self, search=replace(self.search, **changes))

    def to_dict(self) -> dict[str, Any]:
        """The resolved config, JSON/YAML-friendly; ``from_dict`` reads it back.

        Data paths are made absolute so a stored run can be resumed from anywhere.
        """
        defaults = DataConfig()
        data = {k: v for k, v in asdict(self.resolved_data()).items() if v != getattr(defaults, k)}
        return {
            "name": self.name,
            "description": self.description,
            "data": data,
            "model": dict(self.model),
            "space": self.space.to_json(),
            "search": {k: v for k, v in asdict(self.search).items() if v is not None},
        }


def load_config(path: str | os.PathLike[str]) -> SearchConfig:
    """Read and validate a config file. Raises ConfigError naming the file (and lines).

    The file is read and parsed within the limits of ``hpsearch.yaml_bounded``
    (size, nesting depth, alias expansion), so any input ends at once.
    """
    path = Path(path)
    label = str(path)
    try:
        text = read_config_text(path, label)
    except OSError as exc:
        raise config_error("file", f"cannot be read ({exc.strerror or exc})", file=label) from None
    raw, lines = parse_yaml(text, label)
    default_name = path.stem
    try:
        return config_from_dict(raw, source=label, base_dir=path.resolve().parent, default_name=default_name)
    except ConfigError as exc:
        raise exc.in_file(label, lines) from None


def parse_yaml(text: str, label: str) -> tuple[Any, dict[str, int]]:
    """Safely load YAML text; also return the line of every key path.

    Duplicate keys, keys that are not names and oversized documents are errors
    (``hpsearch.yaml_bounded``).
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


def config_from_dict(
    raw: Any,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    default_name: str = "search",
) -> SearchConfig:
    """Validate a loaded YAML document (or a stored resolved config) into a SearchConfig."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise config_error("top level", f"must be a mapping of keys, got {type(raw).__name__}",
                           "start the file with keys such as data:, model:, space:")
    problems: list[ConfigProblem] = []
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(ConfigProblem(str(key), "unknown top-level key", did_you_mean(str(key), TOP_LEVEL_KEYS)))

    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        problems.append(ConfigProblem("name", f"must be a non-empty string, got {name!r}"))
    description = raw.get("description") or ""

    data_raw = _section(raw, "data", problems, required=True)
    data, data_problems = validate_data_config(data_raw or {}, "data") if data_raw is not None else (None, [])
    problems += data_problems

    model = _section(raw, "model", problems) or {}
    problems += validate_hyperparameters(model, "model")

    space = Space({})
    space_raw = _section(raw, "space", problems) or {}
    try:
        space, fixed = parse_space(space_raw, "space")
    except ConfigError as exc:
        problems += exc.problems
        fixed = {}
    for key in sorted(set(space_raw) & set(model)):
        problems.append(ConfigProblem(f"space.{key}", f"is also fixed in model.{key}", "keep it in one of model: and space:"))
    model = {**model, **fixed}
    if "hidden" in model:
        for key in ("layers", "hidden_units"):
            if key in space_raw:
                problems.append(ConfigProblem(f"space.{key}", "has no effect: model.hidden fixes the layer sizes",
                                              "remove model.hidden to search layers and hidden_units"))

    search_raw = _section(raw, "search", problems) or {}
    settings = SearchSettings()
    search_problems = _check_settings(search_raw, "search")
    problems += search_problems
    if not search_problems:
        settings = replace(settings, **{k: _coerce(k, v) for k, v in search_raw.items()})
        if settings.backend == "dask" and not settings.scheduler and "scheduler" in search_raw:
            problems.append(ConfigProblem("search.scheduler", "is empty", "give the scheduler address"))
        if settings.sampler == "grid" and not problems:
            size = grid_size(space, settings.grid_points)
            if size > MAX_TRIALS:
                problems.append(ConfigProblem("search.grid_points", f"makes a grid of {size:,} trials, more than "
                                              f"the limit of {MAX_TRIALS:,} a round", "use fewer grid_points or search fewer parameters"))

    if problems:
        raise ConfigError(problems)
    return SearchConfig(
        name=name,
        data=data,
        model=model,
        space=space,
        search=settings,
        description=str(description),
        source=source,
        base_dir=base_dir or Path.cwd(),
    )


def _section(raw: dict[str, Any], key: str, problems: list[ConfigProblem], required: bool = False) -> Any:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(ConfigProblem(key, "is missing", "add a data: section with dataset: or path:"))
        return None
    if not isinstance(value, dict):
        problems.append(ConfigProblem(key, f"must be a mapping, got {type(value).__name__}", f"write {key}: followed by indented keys"))
        return None
    return value


def _check_settings(values: dict[str, Any], prefix: str) -> list[ConfigProblem]:
    problems = []
    for key, value in values.items():
        if key not in _SEARCH_RULES:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown setting", did_you_mean(str(key), _SEARCH_RULES)))
            continue
        kind, check, rule = _SEARCH_RULES[key]
        if value is None and getattr(SearchSettings(), key) is None:
            continue
        ok = (
            (kind is int and isinstance(value, int) and not isinstance(value, bool))
            or (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (kind is str and isinstance(value, str))
        ) and check(value)
        if not ok:
            problems.append(ConfigProblem(f"{prefix}.{key}", f"must be {rule}, got {value!r}"))
    return problems


#: Address schemes dask.distributed connects with; a bare HOST:PORT means tcp.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def scheduler_problem(address: str) -> str | None:
    """What is wrong with a dask scheduler address, or None when it is well formed.

    Only the form is checked (scheme, host, port): whether a scheduler answers
    there is found out when the run connects.
    """
    example = "give an address such as tcp://127.0.0.1:8786"
    text = address.strip()
    if not text:
        return f"the scheduler address is empty — {example}"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme not in SCHEDULER_SCHEMES:
        return f"unknown address scheme {clip(repr(scheme), 60)} — use one of {', '.join(SCHEDULER_SCHEMES)}: {example}"
    if scheme == "inproc":
        return None
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError as exc:
        return f"{clip(repr(address), 60)} is not a valid address ({exc}) — {example}"
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{clip(repr(address), 60)} is not a valid address (it needs HOST:PORT) — {example}"
    return None


def workers_warning(workers: int | None) -> str | None:
    """A warning when ``workers`` local processes would be more than the CPU cores, else None."""
    cores = os.cpu_count() or 1
    if workers is None or workers <= cores:
        return None
    return (f"{workers} workers on {cores} CPU cores: they will share the cores and each trial runs slower "
            f"— use --workers {cores} or fewer")


def _coerce(key: str, value: Any) -> Any:
    return float(value) if _SEARCH_RULES[key][0] is float and value is not None else value


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


__all__ = [
    "SearchConfig",
    "SearchSettings",
    "load_config",
    "config_from_dict",
    "parse_assignments",
    "single_model_config",
    "single_model_sources",
    "scheduler_problem",
    "workers_warning",
    "parse_yaml",
]
