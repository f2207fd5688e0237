"""The ``search:`` section of a config: how many trials, how they are drawn and run, checked setting by setting.

``search_config.config_from_dict`` reads the other sections; the checks here need them only where a setting
depends on them (early stopping's rungs on ``model.epochs``, a grid's size on the space, where an own objective
may run).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hpsearch.config.placement import scheduler_problem
from hpsearch.core.errors import ConfigProblem, did_you_mean
from hpsearch.core.limits import MAX_ROUNDS, MAX_SEED, MAX_TRIALS, MAX_WORKERS
from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.nn.metrics import RANKING_METRICS
from hpsearch.objectives.spec import ObjectiveSpec, placement_problems
from hpsearch.pruning.schedule import METHODS, EarlyStopping
from hpsearch.space.fit import CONDITION, MISSING, OUTSIDE, fitted, misfit
from hpsearch.space.portfolio import model_threshold
from hpsearch.space.samplers import SAMPLERS, grid_size
from hpsearch.space.search_space import Space
from hpsearch.space.tpe import N_STARTUP

BACKENDS = ("loky", "dask")


@dataclass(frozen=True)
class SearchSettings:
    """The ``search:`` section: how many trials, how they are drawn and run.

    ``rounds`` > 1 makes ``run`` go on by itself with coarse-to-fine rounds of
    ``zoom_trials`` trials each, made as ``zoom`` says (below).
    ``workers`` None means one per CPU core. ``early_stopping`` (None: every
    trial trains all its epochs) stops hopeless trials at rungs; ``rank_by``
    ranks a trial by its last epoch's dev J (``last``) or its lowest (``best``).
    ``zoom`` says how a zoom round draws its trials: ``box`` (uniformly in the
    box around the ``top_k`` best), ``tpe`` (planned from every finished
    trial by a Parzen-estimator model, ``space.tpe``) or ``auto`` (the default:
    part box, part tpe, all box while too few trials are finished to model,
    ``space.portfolio``).
    ``enqueue``: values round 0's first trials take as given (``space.fit``
    checked; the parameters they leave out drawn as usual). ``warm_start``: the
    earlier runs whose finished trials count as history for the zoom rounds
    (``search.warm``), read when the run is created.
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
    zoom: str = "auto"  # box and tpe each lose badly at some schedule of benchmarks/bench_sampler.py; auto at none
    refit: bool | None = None  # true: predict uses the winner retrained on train+dev rows (search.refit)
    metric: str = "cost"  # what trials are ranked by (nn.metrics.RANKING_METRICS); J stays the training loss
    enqueue: tuple[dict[str, Any], ...] = ()
    warm_start: tuple[str, ...] = ()


#: How a zoom round draws its trials (``search.zoom``).
ZOOMS = ("auto", "box", "tpe")

# name -> (type, check, rule) of each search setting; None is accepted where the default is None.
_SEARCH_RULES: dict[str, tuple[type, Any, str]] = {
    "trials": (int, lambda v: 0 <= v <= MAX_TRIALS, f"an integer from 1 to {MAX_TRIALS:,}"),
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
    "rank_by": (
        str,
        lambda v: v in ("last", "best"),
        "last (the last epoch's dev J or metric) or best (the best over epochs)",
    ),
    "stack": (str, lambda v: v in ("auto", "off"), "auto (train same-shape trials as one stacked model) or off"),
    "zoom": (
        str,
        lambda v: v in ZOOMS,
        "auto (part box, part tpe), box (uniform in the box of the best trials) or tpe (a model of all trials)",
    ),
    "early_stopping": (dict, lambda v: True, "a mapping such as {min_epochs: 3, eta: 3}"),
    "refit": (bool, lambda v: True, "true (retrain the winner on train and dev rows for predict) or false"),
    "metric": (str, lambda v: v in RANKING_METRICS, "one of " + ", ".join(RANKING_METRICS)),
    "enqueue": (
        list,
        lambda v: len(v) <= MAX_TRIALS and all(isinstance(p, dict) and p for p in v),
        "a list of points, each a mapping such as {learning_rate: 0.01, beta1: 0.9}",
    ),
    "warm_start": (
        list,
        lambda v: len(v) <= MAX_ROUNDS and all(isinstance(r, str) and r for r in v),
        "a list of run names, such as [earlier-run]",
    ),
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


def search_settings(
    search_raw: dict[str, Any],
    problems: list[ConfigProblem],
    *,
    objective: ObjectiveSpec | None,
    model: dict[str, Any],
    space: Space,
    space_raw: Any,
) -> SearchSettings:
    """The ``search:`` section checked against the rest of the config, its problems added to ``problems``
    (those found before included: a grid is sized only when all else is valid)."""
    if search_raw.get("stack") is False:  # YAML 1.1 reads a bare `off` as false
        search_raw = {**search_raw, "stack": "off"}
    settings = SearchSettings()
    search_problems = check_settings(search_raw, "search")
    problems += search_problems
    if search_problems:
        return settings
    settings = replace(settings, **{k: _coerce(k, v) for k, v in search_raw.items()})
    problems += budget_problems(settings)
    if settings.enqueue and not problems:  # checked against a space that parsed
        enqueue, enqueue_problems = enqueued_points(settings, space)
        problems += enqueue_problems
        settings = replace(settings, enqueue=enqueue)
    if settings.metric != "cost" and objective is not None:
        problems.append(
            ConfigProblem("search.metric", "is for the built-in networks", "an own objective ranks by objective.metric")
        )
    if settings.early_stopping is not None and objective is None and "rank_by" not in search_raw:
        # Early stopping compares trials at a rung by their best dev J (or search.metric) so far unless told
        # otherwise: by the last epoch's, one noisy epoch decided (benchmarks/bench_early_stopping.py). The run
        # stores it.
        settings = replace(settings, rank_by="best")
    if settings.backend == "dask" and not settings.scheduler and "scheduler" in search_raw:
        problems.append(ConfigProblem("search.scheduler", "is empty", "give the scheduler address"))
    if objective is not None:
        problems += placement_problems(
            objective, backend=settings.backend, early_stopping=settings.early_stopping is not None
        )
        if settings.early_stopping is not None:
            problems += _check_objective_early_stopping(settings.early_stopping)
        if settings.refit:
            problems.append(ConfigProblem("search.refit", "an own objective keeps no model to retrain"))
    elif settings.early_stopping is not None and isinstance(space_raw or {}, dict):
        problems += _check_early_stopping(settings.early_stopping, model, space_raw or {})
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
    return settings


def zoom_notices(settings: SearchSettings, n_dims: int) -> list[str]:
    """What to say when the first round is too small to model the ``n_dims`` searched dimensions: a tpe
    round 1 is drawn at random, an auto round 1 all in the box."""
    if settings.rounds < 2 or settings.sampler == "grid" or settings.zoom == "box":
        return []
    if settings.warm_start:  # the warm-start trials count too
        return []
    if settings.zoom == "tpe" and settings.trials < N_STARTUP:
        return [
            f"search.zoom: tpe models the finished trials once there are {N_STARTUP}; with trials: "
            f"{settings.trials}, round 1 is drawn at random — use trials: {N_STARTUP} or more, or zoom: box"
        ]
    need = model_threshold(n_dims)
    if settings.zoom == "auto" and settings.trials < need:
        dims = f"{n_dims} dimension{'s' if n_dims != 1 else ''}"
        return [
            f"search.zoom: auto models the finished trials once there are {need} ({dims}); with "
            f"trials: {settings.trials}, round 1 is drawn all in the box of the best — use trials: {need} or more "
            "to model sooner"
        ]
    return []


def check_settings(values: dict[str, Any], prefix: str) -> list[ConfigProblem]:
    problems = []
    for key, value in values.items():
        if key not in _SEARCH_RULES:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown setting", did_you_mean(str(key), _SEARCH_RULES)))
            continue
        kind, check, rule = _SEARCH_RULES[key]
        if value is None and getattr(SearchSettings(), key) is None:
            continue
        if key == "early_stopping" and isinstance(value, dict):
            problems += _check_table(value, f"{prefix}.{key}", _EARLY_STOPPING_RULES)
            continue
        ok = (
            (kind is int and isinstance(value, int) and not isinstance(value, bool))
            or (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (kind is str and isinstance(value, str))
            or (kind is bool and isinstance(value, bool))
            or (kind is list and isinstance(value, list))
        ) and check(value)
        if not ok:
            problems.append(ConfigProblem(f"{prefix}.{key}", f"must be {rule}, got {value!r}"))
    return problems


def _check_table(values: dict[str, Any], prefix: str, rules: dict[str, tuple[type, Any, str]]) -> list[ConfigProblem]:
    """Problems of a small mapping checked against ``name -> (type, check, rule)`` (each key optional)."""
    problems = []
    for key, value in values.items():
        if key not in rules:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown setting", did_you_mean(str(key), rules)))
            continue
        kind, check, rule = rules[key]
        if not (isinstance(value, kind) and not isinstance(value, bool) and check(value)):
            problems.append(ConfigProblem(f"{prefix}.{key}", f"must be {rule}, got {value!r}"))
    return problems


def budget_problems(settings: SearchSettings) -> list[ConfigProblem]:
    """What is wrong with round 0's size (also when ``run --trials`` sets it): more enqueued points than trials;
    ``trials: 0``, which plans no round-0 trial, outside a warm-started run (its zoom rounds start from the
    earlier runs' trials) with zoom rounds to plan and their size."""
    if len(settings.enqueue) > settings.trials:
        return [
            ConfigProblem(
                "search.enqueue",
                f"has {len(settings.enqueue)} points but round 0 has {settings.trials} trials",
                f"raise search.trials to {len(settings.enqueue)} or more",
            )
        ]
    if settings.trials:
        return []
    if not settings.warm_start:
        return [ConfigProblem("search.trials", "must be an integer from 1, got 0", "0 needs search.warm_start")]
    if settings.rounds < 2 or settings.zoom_trials is None or settings.sampler == "grid":
        return [
            ConfigProblem(
                "search.trials",
                "0 (zoom straight from the warm-start runs) needs zoom rounds of their own size and no grid",
                "add rounds: 2 (or more) and zoom_trials: N",
            )
        ]
    return []


def enqueued_points(settings: SearchSettings, space: Space) -> tuple[tuple[dict[str, Any], ...], list[ConfigProblem]]:
    """``search.enqueue``'s points as the space holds their values, and what is wrong with them: a name the
    space does not search, a value outside its range or choices, a parameter whose condition the point's own
    values do not meet (its parents must be given with it), more points than round 0 has trials, a grid."""
    if settings.sampler == "grid":
        return (), [
            ConfigProblem("search.enqueue", "a grid plans its own points", "use sampler: random or quasi with it")
        ]
    problems = []
    for i, point in enumerate(settings.enqueue):
        bad = misfit(space, point, partial=True)
        if bad is not None:
            fix = {
                OUTSIDE: "give a value the space allows",
                MISSING: "remove it from the point, or add it to space:",
                CONDITION: "give its parents' values in the same point",
            }[bad.kind]
            problems.append(ConfigProblem(f"search.enqueue[{i}].{bad.name}", bad.message, fix))
    if problems:
        return (), problems
    return tuple(fitted(space, point) for point in settings.enqueue), []


def _coerce(key: str, value: Any) -> Any:
    if key == "early_stopping" and isinstance(value, dict):
        return EarlyStopping(**value)
    if key in ("enqueue", "warm_start"):
        return tuple(value)
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
    """An own objective's early stopping: asynchronous successive halving up to ``max_epochs`` (what ``auto`` is
    there: its trials cannot wait for a whole rung)."""
    key = "search.early_stopping"
    problems = []
    if early.method == "hyperband":
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
