"""Search config files: YAML -> a validated ``SearchConfig``.

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
from hpsearch.config.placement import scheduler_problem
from hpsearch.core.columns import reserved_name
from hpsearch.core.decisions import BabysitRules, parse_rules
from hpsearch.core.errors import ConfigError, ConfigProblem, config_error, did_you_mean
from hpsearch.core.limits import MAX_ROUNDS, MAX_SEED, MAX_TRIALS, MAX_WORKERS
from hpsearch.data.data_config import DataConfig, validate_data_config
from hpsearch.nn.hyperparams import HYPERPARAMETERS, validate_hyperparameters
from hpsearch.objectives.spec import ObjectiveSpec, parse_objective, placeholder_problems, placement_problems
from hpsearch.pruning.schedule import METHODS, EarlyStopping
from hpsearch.space.parsing import parse_space
from hpsearch.space.samplers import SAMPLERS, grid_size
from hpsearch.space.search_space import Space
from hpsearch.space.tpe import N_STARTUP

TOP_LEVEL_KEYS = ("name", "description", "objective", "data", "model", "space", "search", "babysit")
BACKENDS = ("loky", "dask")


@dataclass(frozen=True)
class SearchSettings:
    """The ``search:`` section: how many trials, how they are drawn and run.

    ``rounds`` > 1 makes ``run`` go on by itself with coarse-to-fine rounds of
    ``zoom_trials`` trials each, zoomed on the ``top_k`` best trials so far.
    ``workers`` None means one per CPU core. ``early_stopping`` (None: every
    trial trains all its epochs) stops hopeless trials at rungs; ``rank_by``
    ranks a trial by its last epoch's dev J (``last``) or its lowest (``best``).
    ``zoom`` says how a zoom round draws its trials: ``box`` (uniformly in the
    box around the ``top_k`` best) or ``tpe`` (planned from every finished
    trial by a Parzen-estimator model, ``space.tpe``).
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
    early_stopping: EarlyStopping | None = None
    rank_by: str = "last"
    stack: str = "auto"  # auto: same-shape trials train as one stacked model where that pays (nn.stacked); off
    zoom: str = "tpe"  # tpe beat box on all four problems of benchmarks/bench_sampler.py


#: How a zoom round draws its trials (``search.zoom``).
ZOOMS = ("box", "tpe")

# name -> (type, check, rule) of each search setting; None is accepted where the default is None.
_SEARCH_RULES: dict[str, tuple[type, Any, str]] = {
    "trials": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
    "seed": (int, lambda v: 0 <= v <= MAX_SEED, f"an integer from 0 to {MAX_SEED:,}"),
    "workers": (
        int,
        lambda v: 1 <= v <= MAX_WORKERS,
        f"an integer from 1 to {MAX_WORKERS:,} (or leave it out for one per core)",
    ),
    "sampler": (str, lambda v: v in SAMPLERS, "one of " + ", ".join(SAMPLERS)),
    "grid_points": (int, lambda v: 2 <= v <= MAX_TRIALS, f"an integer from 2 to {MAX_TRIALS:,}"),
    "rounds": (int, lambda v: 1 <= v <= MAX_ROUNDS, f"an integer from 1 to {MAX_ROUNDS:,}"),
    "zoom_trials": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
    "top_k": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
    "margin": (float, lambda v: 0 <= v <= 1, "a number between 0 and 1"),
    "backend": (str, lambda v: v in BACKENDS, "one of " + ", ".join(BACKENDS)),
    "scheduler": (str, lambda v: scheduler_problem(v) is None, "a scheduler address such as tcp://127.0.0.1:8786"),
    "rank_by": (str, lambda v: v in ("last", "best"), "last (the last epoch's dev J) or best (the lowest over epochs)"),
    "stack": (str, lambda v: v in ("auto", "off"), "auto (train same-shape trials as one stacked model) or off"),
    "zoom": (str, lambda v: v in ZOOMS, "box (uniform in the box of the best trials) or tpe (a model of all trials)"),
    "early_stopping": (dict, lambda v: True, "a mapping such as {method: halving, min_epochs: 3, eta: 3}"),
}
_EARLY_STOPPING_RULES: dict[str, tuple[type, Any, str]] = {
    "method": (str, lambda v: v in METHODS, "one of " + ", ".join(METHODS)),
    "min_epochs": (int, lambda v: 1 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,} (the first rung)"),
    "eta": (int, lambda v: 2 <= v <= 100, "an integer from 2 to 100 (keep the best 1/eta at each rung)"),
    "max_epochs": (
        int,
        lambda v: 2 <= v <= MAX_TRIALS,
        f"an integer from 2 to {MAX_TRIALS:,} (the top rung: the epochs an own objective reports up to)",
    ),
}


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

        Data paths (and an objective's ``workdir``) are made absolute so a stored
        run can be resumed from anywhere. Ranges are written as a user writes
        them, without their legal limits, which reading the config derives again.
        """
        space = {name: {k: v for k, v in spec.items() if k != "legal"} for name, spec in self.space.to_json().items()}
        search = {k: v for k, v in asdict(self.search).items() if v is not None}
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
    if search_raw.get("stack") is False:  # YAML 1.1 reads a bare `off` as false
        search_raw = {**search_raw, "stack": "off"}
    settings = SearchSettings()
    search_problems = _check_settings(search_raw, "search")
    problems += search_problems
    if not search_problems:
        settings = replace(settings, **{k: _coerce(k, v) for k, v in search_raw.items()})
        if settings.early_stopping is not None and objective is None and "rank_by" not in search_raw:
            # Early stopping compares trials at a rung by their best dev J so far unless told otherwise: by the
            # last epoch's, one noisy epoch decided (benchmarks/bench_early_stopping.py). The run stores it.
            settings = replace(settings, rank_by="best")
        if settings.backend == "dask" and not settings.scheduler and "scheduler" in search_raw:
            problems.append(ConfigProblem("search.scheduler", "is empty", "give the scheduler address"))
        if objective is not None:
            problems += placement_problems(
                objective, backend=settings.backend, early_stopping=settings.early_stopping is not None
            )
            if settings.early_stopping is not None:
                problems += _check_objective_early_stopping(settings.early_stopping)
        elif settings.early_stopping is not None and isinstance(raw.get("space") or {}, dict):
            problems += _check_early_stopping(settings.early_stopping, model, raw.get("space") or {})
        if settings.sampler == "grid" and not problems:
            size = grid_size(space, settings.grid_points)
            if size > MAX_TRIALS:
                problems.append(
                    ConfigProblem(
                        "search.grid_points",
                        f"makes a grid of {size:,} trials, more than the limit of {MAX_TRIALS:,} a round",
                        "use fewer grid_points or search fewer parameters",
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
        notices=(*(engine_notices(space) if objective is None else ()), *_zoom_notices(settings)),
    )


def _zoom_notices(settings: SearchSettings) -> list[str]:
    """What to say when a tpe zoom round would have too few finished trials to model: it draws at random."""
    if settings.zoom != "tpe" or settings.rounds < 2 or settings.sampler == "grid" or settings.trials >= N_STARTUP:
        return []
    return [
        f"search.zoom: tpe models the finished trials once there are {N_STARTUP}; with trials: "
        f"{settings.trials}, round 1 is drawn at random — use trials: {N_STARTUP} or more, or zoom: box"
    ]


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


def _check_settings(values: dict[str, Any], prefix: str) -> list[ConfigProblem]:
    problems = []
    for key, value in values.items():
        if key not in _SEARCH_RULES:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown setting", did_you_mean(str(key), _SEARCH_RULES)))
            continue
        kind, check, rule = _SEARCH_RULES[key]
        if value is None and getattr(SearchSettings(), key) is None:
            continue
        if key == "early_stopping" and isinstance(value, dict):
            problems += _check_table(value, f"{prefix}.{key}", _EARLY_STOPPING_RULES, required=("method",))
            continue
        ok = (
            (kind is int and isinstance(value, int) and not isinstance(value, bool))
            or (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (kind is str and isinstance(value, str))
        ) and check(value)
        if not ok:
            problems.append(ConfigProblem(f"{prefix}.{key}", f"must be {rule}, got {value!r}"))
    return problems


def _check_table(
    values: dict[str, Any], prefix: str, rules: dict[str, tuple[type, Any, str]], required: tuple[str, ...] = ()
) -> list[ConfigProblem]:
    """Problems of a small mapping checked against ``name -> (type, check, rule)``."""
    problems = [
        ConfigProblem(f"{prefix}.{k}", "is missing", f"add {k}: ({rules[k][2]})") for k in required if k not in values
    ]
    for key, value in values.items():
        if key not in rules:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown setting", did_you_mean(str(key), rules)))
            continue
        kind, check, rule = rules[key]
        if not (isinstance(value, kind) and not isinstance(value, bool) and check(value)):
            problems.append(ConfigProblem(f"{prefix}.{key}", f"must be {rule}, got {value!r}"))
    return problems


#: Address schemes dask.distributed connects with; a bare HOST:PORT means tcp.
def _coerce(key: str, value: Any) -> Any:
    if key == "early_stopping" and isinstance(value, dict):
        return EarlyStopping(**value)
    return float(value) if _SEARCH_RULES[key][0] is float and value is not None else value


def _check_early_stopping(
    early: EarlyStopping, model: dict[str, Any], space_raw: dict[str, Any]
) -> list[ConfigProblem]:
    """The rungs need a fixed number of epochs above the first rung: the engine's model.epochs."""
    if early.max_epochs is not None:
        return [
            ConfigProblem(
                "search.early_stopping.max_epochs",
                "is only for an own objective: the built-in engine's top rung is model.epochs",
                "remove max_epochs (set model.epochs instead)",
            )
        ]
    if "epochs" in space_raw:
        return [
            ConfigProblem(
                "space.epochs",
                "cannot be searched with search.early_stopping: the rungs are fractions of one fixed number of epochs",
                "fix model.epochs (the top rung) or remove search.early_stopping",
            )
        ]
    epochs = model.get("epochs", HYPERPARAMETERS["epochs"].default)
    if isinstance(epochs, int) and early.min_epochs >= epochs:
        return [
            ConfigProblem(
                "search.early_stopping.min_epochs",
                f"must be below model.epochs ({epochs}), got {early.min_epochs}",
                "lower min_epochs or raise model.epochs",
            )
        ]
    return []


def _check_objective_early_stopping(early: EarlyStopping) -> list[ConfigProblem]:
    """An own objective's early stopping: asynchronous successive halving up to ``max_epochs``."""
    key = "search.early_stopping"
    problems = []
    if early.method != "halving":
        problems.append(
            ConfigProblem(
                f"{key}.method",
                f"{early.method} is not available with an own objective, whose trials cannot pause",
                "use method: halving (asynchronous successive halving)",
            )
        )
    if early.max_epochs is None:
        problems.append(
            ConfigProblem(
                f"{key}.max_epochs",
                "is missing: with an own objective it is the top rung",
                "add max_epochs: (the last epoch your objective reports), e.g. max_epochs: 27",
            )
        )
    elif early.min_epochs >= early.max_epochs:
        problems.append(
            ConfigProblem(
                f"{key}.min_epochs",
                f"must be below max_epochs ({early.max_epochs}), got {early.min_epochs}",
                "lower min_epochs or raise max_epochs",
            )
        )
    return problems
