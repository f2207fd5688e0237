"""Search config files: YAML -> a validated ``SearchConfig`` (its ``search:`` section in ``search_settings``).

A config for the built-in engine has five top-level keys: ``name``, ``data:``
(what to train on), ``model:`` (fixed hyperparameters), ``space:`` (searched
hyperparameters) and ``search:`` (how to search); ``babysit:`` holds the rules of
``hpsearch babysit`` (``hpsearch.babysit.rules``). A config with an
``objective:`` (the user's own command or function, ``hpsearch.objectives.spec``)
has no ``data:`` or ``model:``; its ``space:`` takes any parameter name, and
its plain values are passed to the objective as they are. Every problem of a
file is reported at once, each as ``file:line: key.path: what is wrong — how
to fix it``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from hpsearch.config.conditions import engine_notices, sometimes_absent
from hpsearch.config.search_settings import (
    SearchSettings,
    budget_problems,
    check_settings,
    search_settings,
    zoom_notices,
)
from hpsearch.core.columns import reserved_name
from hpsearch.core.decisions import BabysitRules, parse_rules
from hpsearch.core.errors import ConfigError, ConfigProblem, config_error, did_you_mean
from hpsearch.data.data_config import DataConfig, validate_data_config
from hpsearch.nn.hyperparams import HYPERPARAMETERS, validate_hyperparameters
from hpsearch.objectives.spec import ObjectiveSpec, parse_objective, placeholder_problems
from hpsearch.space.parsing import parse_space
from hpsearch.space.search_space import Space

TOP_LEVEL_KEYS = ("name", "description", "objective", "data", "model", "space", "search", "babysit")


@dataclass(frozen=True)
class SearchConfig:
    """A validated search: what to train on, what is fixed, what is searched, how.

    ``model`` holds the fixed values exactly as given (validated): the
    engine's hyperparameters, or with an own ``objective`` the plain values of
    ``space:``, which every trial gets along with its searched ones. ``data``
    is None with an own objective. ``base_dir`` is where relative data paths
    are resolved (the file's folder). ``notices`` are what reading the file
    found worth saying that is no error (a ``beta`` searched for optimizers
    that ignore it): the commands print them once.
    """

    name: str
    data: DataConfig | None
    model: dict[str, Any]
    space: Space
    search: SearchSettings = field(default_factory=SearchSettings)
    description: str = ""
    source: str = "<config>"
    base_dir: Path = field(default_factory=Path.cwd)
    objective: ObjectiveSpec | None = None
    babysit: BabysitRules = field(default_factory=BabysitRules)
    notices: tuple[str, ...] = field(default=(), compare=False)

    @property
    def metric(self) -> str | None:
        """What trials are ranked by, for display: an own objective's metric; None for the engine (dev J)."""
        return self.objective.metric if self.objective is not None else None

    def resolved_data(self) -> DataConfig:
        """The data section with file paths made absolute (relative ones are relative to the config file)."""
        if self.data is None:
            raise ValueError("a search with an own objective has no data: section")
        paths = {
            key: str((self.base_dir / getattr(self.data, key)).resolve())
            for key in ("path", "dev_path", "test_path")
            if getattr(self.data, key)
        }
        return replace(self.data, **paths)

    def with_search(self, **changes: Any) -> "SearchConfig":
        """A copy with some search settings replaced (None values are ignored), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        problems = check_settings(changes, "search")
        if not problems:
            problems = budget_problems(replace(self.search, **changes))
        if problems:
            raise ConfigError(problems)
        return replace(self, search=replace(self.search, **changes))

    def to_dict(self) -> dict[str, Any]:
        """The resolved config, JSON/YAML-friendly; ``from_dict`` reads it back.

        Data paths (and an objective's ``workdir``) are made absolute so a stored
        run can be resumed from anywhere. Ranges are written as a user writes
        them, without their legal limits, which reading the config derives again.
        """
        space = {name: {k: v for k, v in spec.items() if k != "legal"} for name, spec in self.space.to_json().items()}
        search = {k: v for k, v in asdict(self.search).items() if v is not None}
        if search["metric"] == "cost":  # the default, left out: a run stored before search.metric reads the same
            del search["metric"]
        for key in ("enqueue", "warm_start"):  # left out when empty: a run stored before them reads the same
            search[key] = [dict(p) if isinstance(p, dict) else p for p in search[key]]
            if not search[key]:
                del search[key]
        if "early_stopping" in search:
            search["early_stopping"] = {k: v for k, v in search["early_stopping"].items() if v is not None}
        if self.objective is not None:
            return {
                "name": self.name,
                "description": self.description,
                "objective": self.objective.to_dict(),
                "space": {**space, **self.model},
                "search": search,
            }
        defaults = DataConfig()
        data = {k: v for k, v in asdict(self.resolved_data()).items() if v != getattr(defaults, k)}
        babysit = {"babysit": self.babysit.to_dict()} if self.babysit != BabysitRules() else {}
        return {
            "name": self.name,
            "description": self.description,
            "data": data,
            "model": dict(self.model),
            "space": space,
            "search": search,
            **babysit,
        }


def config_from_dict(
    raw: Any, *, source: str = "<config>", base_dir: Path | None = None, default_name: str = "search"
) -> SearchConfig:
    """Validate a loaded YAML document (or a stored resolved config) into a SearchConfig."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise config_error(
            "top level",
            f"must be a mapping of keys, got {type(raw).__name__}",
            "start the file with keys such as data:, model:, space:",
        )
    problems: list[ConfigProblem] = []
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(ConfigProblem(str(key), "unknown top-level key", did_you_mean(str(key), TOP_LEVEL_KEYS)))

    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        problems.append(ConfigProblem("name", f"must be a non-empty string, got {name!r}"))
    description = raw.get("description") or ""

    base_dir = base_dir or Path.cwd()
    objective: ObjectiveSpec | None = None
    data: DataConfig | None = None
    if "objective" in raw:
        objective, objective_problems = parse_objective(raw["objective"], base_dir)
        problems += objective_problems
        objective, model, space, more = _own_objective_sections(raw, objective)
        problems += more
    else:
        data, model, space, more = _engine_sections(raw)
        problems += more

    babysit, babysit_problems = parse_rules(raw.get("babysit"))
    problems += babysit_problems
    search_raw = _section(raw, "search", problems) or {}
    settings = search_settings(
        search_raw, problems, objective=objective, model=model, space=space, space_raw=raw.get("space")
    )

    if data is not None and data.cv is not None and settings.early_stopping is not None:
        problems.append(
            ConfigProblem(
                "data.cv",
                "does not work with search.early_stopping (rungs do not compare fold means yet)",
                "remove one of them",
            )
        )
    if data is not None and data.cv is not None and settings.metric != "cost":
        problems.append(
            ConfigProblem(
                "data.cv",
                f"does not work with search.metric: {settings.metric} yet (the folds' mean is taken of J and "
                "accuracy only)",
                "rank by J (leave search.metric out), or drop data.cv",
            )
        )
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
        base_dir=base_dir,
        objective=objective,
        babysit=babysit,
        notices=(*(engine_notices(space) if objective is None else ()), *zoom_notices(settings, len(space))),
    )


def _engine_sections(raw: dict[str, Any]) -> tuple[DataConfig | None, dict[str, Any], Space, list[ConfigProblem]]:
    """``data:``, ``model:`` and ``space:`` for the built-in engine: names and limits from its HYPERPARAMETERS."""
    problems: list[ConfigProblem] = []
    data_raw = _section(raw, "data", problems, required=True)
    data, data_problems = validate_data_config(data_raw or {}, "data") if data_raw is not None else (None, [])
    problems += data_problems

    model = _section(raw, "model", problems) or {}
    problems += validate_hyperparameters(model, "model")

    space = Space({})
    space_raw = _section(raw, "space", problems) or {}
    try:
        space, fixed = parse_space(space_raw, "space", parameters=HYPERPARAMETERS, fixed=model)
    except ConfigError as exc:
        problems += exc.problems
        fixed = {}
    model = {**model, **fixed}
    if "seed" in space:
        problems.append(
            ConfigProblem(
                "space.seed",
                "has no effect: every trial trains with its own seed, drawn from search.seed",
                "remove it; confirm repeats the best trials with fresh seeds",
            )
        )
    if "hidden" in model:
        for key in ("layers", "hidden_units"):
            if key in space_raw:
                problems.append(
                    ConfigProblem(
                        f"space.{key}",
                        "has no effect: model.hidden fixes the layer sizes",
                        "remove model.hidden to search layers and hidden_units",
                    )
                )
    return data, model, space, problems


def _own_objective_sections(
    raw: dict[str, Any], objective: ObjectiveSpec | None
) -> tuple[ObjectiveSpec | None, dict[str, Any], Space, list[ConfigProblem]]:
    """``space:`` for an own objective: any identifier, limits from the scales alone; no ``data:`` or ``model:``."""
    problems = [
        ConfigProblem(
            key,
            "is not used with an own objective",
            "remove it and put fixed values under space:, e.g. batch: 128"
            if key == "model"
            else "remove it (your objective loads its own data)",
        )
        for key in ("data", "model")
        if key in raw
    ]
    space = Space({})
    fixed: dict[str, Any] = {}
    space_raw = _section(raw, "space", problems) or {}
    try:
        space, fixed = parse_space(space_raw, "space", parameters=None)
    except ConfigError as exc:
        problems += exc.problems
    names = {*space.names, *fixed, *(k for d in space.bundles.values() for k in d.keys)}
    problems += [
        ConfigProblem(f"space.{name}", *reserved)
        for name in sorted(names)
        if (reserved := reserved_name(name)) is not None
    ]
    if objective is not None and not problems:
        sometimes = sometimes_absent(space)
        always = {*space.names, *fixed, *(k for d in space.bundles.values() for k in d.keys)} - set(sometimes)
        problems += placeholder_problems(objective, sorted(always), sometimes=sometimes)
        objective = replace(objective, bundle_labels=tuple(space.bundles))
    return objective, fixed, space, problems


def _section(raw: dict[str, Any], key: str, problems: list[ConfigProblem], required: bool = False) -> Any:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(ConfigProblem(key, "is missing", "add a data: section with dataset: or path:"))
        return None
    if not isinstance(value, dict):
        problems.append(
            ConfigProblem(
                key, f"must be a mapping, got {type(value).__name__}", f"write {key}: followed by indented keys"
            )
        )
        return None
    return value
