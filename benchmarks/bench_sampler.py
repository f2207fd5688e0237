"""Samplers at equal budgets, through the product: random, box zoom, tpe zoom (and Optuna's TPE when installed).

Budget 64 trials per search: ``random`` draws all 64 in one round; ``box`` and
``tpe`` run the same ``--schedule`` of rounds, e.g. ``16+3x16``: 16 at random,
then 3 zoom rounds of 16 (``search.zoom: box`` or ``tpe``: ``trials: 16,
rounds: 4, zoom_trials: 16``), as a user would run them; ``16+6x8`` is 6 rounds
of 8. Several schedules (comma-separated) each get their box and tpe columns;
random and Optuna do not depend on it and run once. ``optuna``
(only when ``import optuna`` works; never a dependency) runs its default
``TPESampler`` for 64 sequential trials on the same objective: hpsearch's own
networks in-process for the datasets, the same functions for Branin and
Hartmann-6. It sees each result before the next trial, which a round planned
all at once does not.

Problems (lower is better): ``digits`` (6 parameters: learning rate, β₁, β₂,
hidden units, layers, L2; Adam, batch 64, ``--epochs`` epochs, best dev J),
``spirals`` (4: learning rate, hidden units, layers, L2), ``branin`` (2-D,
minimum 0.397887) and ``hartmann6`` (6-D, minimum -3.32237) as Python objectives.

Prints, per problem and method, the median over ``--seeds`` search seeds of the best value
(seeds ``--first-seed`` on), and each seed's value.

Usage: python benchmarks/bench_sampler.py [--seeds 5] [--first-seed 0] [--epochs 10] [--workers 2]
       [--only branin,hartmann6] [--schedule 16+3x16,16+6x8] [--methods random,box,tpe,optuna]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BUDGET = 64
METHODS = ("random", "box", "tpe", "optuna")

FUNCTION_SPACES = {
    "branin": {"x1": {"scale": "uniform", "low": -5, "high": 10}, "x2": {"scale": "uniform", "low": 0, "high": 15}},
    "hartmann6": {f"x{j}": {"scale": "uniform", "low": 0, "high": 1} for j in range(6)},
}
DATA_SPACES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # name: (data, space)
    "digits": (
        {"dataset": "digits", "dev_fraction": 0.2, "seed": 0},
        {
            "learning_rate": {"scale": "log", "low": 1e-4, "high": 1},
            "beta1": {"scale": "one_minus_log", "low": 0.8, "high": 0.99},
            "beta2": {"scale": "one_minus_log", "low": 0.99, "high": 0.9999},
            "hidden_units": {"scale": "int_log", "low": 16, "high": 256},
            "layers": {"scale": "int", "low": 1, "high": 3},
            "l2": {"scale": "uniform", "low": 0, "high": 0.01},
        },
    ),
    "spirals": (
        {"dataset": "spirals", "samples": 1500, "dev_fraction": 0.2, "seed": 0},
        {
            "learning_rate": {"scale": "log", "low": 1e-4, "high": 1},
            "hidden_units": {"scale": "int_log", "low": 8, "high": 128},
            "layers": {"scale": "int", "low": 1, "high": 3},
            "l2": {"scale": "uniform", "low": 0, "high": 0.01},
        },
    ),
}


def branin(params: dict[str, float]) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; global minimum 0.397887."""
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(params: dict[str, float]) -> float:
    """Hartmann-6 on [0, 1]^6; global minimum -3.32237."""
    x = np.array([params[f"x{j}"] for j in range(6)])
    return float(-(np.array([1.0, 1.2, 3.0, 3.2]) * np.exp(-(_A * (x - _P) ** 2).sum(axis=1))).sum())


def parse_schedule(text: str) -> tuple[int, int, int]:
    """``"16+3x16"`` -> (16 first trials, 3 zoom rounds, 16 trials each); the total must be ``BUDGET``."""
    first, _, rest = text.partition("+")
    rounds, _, size = rest.partition("x")
    schedule = (int(first), int(rounds), int(size))
    if schedule[0] + schedule[1] * schedule[2] != BUDGET:
        raise SystemExit(f"--schedule {text}: {schedule[0]} + {schedule[1]} x {schedule[2]} is not {BUDGET} trials")
    return schedule


def search_settings(method: str, seed: int, workers: int, schedule: tuple[int, int, int]) -> dict[str, Any]:
    """The ``search`` section of one benchmark search: all at random, or ``schedule``'s rounds zoomed by ``method``."""
    if method == "random":
        return {"trials": BUDGET, "seed": seed, "workers": workers}
    first, rounds, size = schedule
    return {
        "trials": first,
        "rounds": rounds + 1,
        "zoom_trials": size,
        "zoom": method,
        "seed": seed,
        "workers": workers,
    }


def run_hpsearch(
    problem: str, method: str, seed: int, args: argparse.Namespace, runs: Path, schedule: tuple[int, int, int]
) -> float:
    """Best value of one search through hpsearch's own API."""
    from hpsearch.config.search_config import config_from_dict
    from hpsearch.search.api import Execution, start_search, tune

    search = search_settings(method, seed, args.workers, schedule)
    name = f"{problem}-{method}-{'-'.join(map(str, schedule))}-{seed}"
    if problem in FUNCTION_SPACES:
        import bench_sampler  # the importable copy of this module: a run stores its objective as module:function

        result = tune(
            getattr(bench_sampler, problem),
            FUNCTION_SPACES[problem],
            runs_dir=runs,
            name=name,
            execution=Execution(workers=args.workers),
            **search,
        )
        return float(result.best.value)
    data, space = DATA_SPACES[problem]
    model = {"epochs": args.epochs, "batch_size": 64, "batchnorm": True, "optimizer": "adam"}
    config = config_from_dict(
        {"name": name, "data": data, "model": model, "space": space, "search": {**search, "rank_by": "best"}}
    )
    result = start_search(config, runs_dir=runs, name=name, execution=Execution(workers=args.workers))
    return float(result.best.best_dev_cost)


def run_optuna(problem: str, seed: int, args: argparse.Namespace) -> float | None:
    """Best value of Optuna's default TPESampler in ``BUDGET`` sequential trials, or None without Optuna."""
    try:
        import optuna
    except ImportError:
        return None
    from hpsearch.space.parsing import parse_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if problem in FUNCTION_SPACES:
        space, f = FUNCTION_SPACES[problem], globals()[problem]
        objective = lambda trial: f({n: trial.suggest_float(n, s["low"], s["high"]) for n, s in space.items()})  # noqa: E731
    else:
        objective = _engine_objective(problem, args, parse_space)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=BUDGET)
    return float(study.best_value)


def _engine_objective(problem: str, args: argparse.Namespace, parse_space: Any) -> Any:
    """An Optuna objective training hpsearch's own network: each parameter suggested on its own scale."""
    from hpsearch.data.data_config import validate_data_config
    from hpsearch.data.datasets import load_dataset
    from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig
    from hpsearch.nn.train import train

    data_raw, space_raw = DATA_SPACES[problem]
    data = load_dataset(validate_data_config(data_raw, "data")[0])
    space, _ = parse_space(space_raw, parameters=HYPERPARAMETERS)
    model = {"epochs": args.epochs, "batch_size": 64, "batchnorm": True, "optimizer": "adam"}

    def objective(trial: Any) -> float:
        params = {}
        for name, dist in space.items():  # the unit coordinate, mapped by our own scale: same space, same scales
            params[name] = dist.from_unit(trial.suggest_float(name, 0.0, 1.0))
        result, _ = train(ModelConfig.from_dict({**model, **params, "seed": trial.number}), data)
        best = result.best_dev_cost
        return best if best is not None and math.isfinite(best) else 1e9

    return objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="digits,spirals,branin,hartmann6")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--schedule", default="16+3x16", help="first+ROUNDSxSIZE, comma-separated")
    args = parser.parse_args()
    problems, methods = args.only.split(","), args.methods.split(",")
    schedules = {text: parse_schedule(text) for text in args.schedule.split(",")}
    rounds = [(m, s) for s in schedules for m in methods if m in ("box", "tpe")]
    columns = [(m, None) for m in methods if m == "random"] + rounds + [(m, None) for m in methods if m == "optuna"]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"median (over {args.seeds} seeds) of the best value of {BUDGET} trials; lower is better")
    print(f"{'problem':<10}" + "".join(f"{m if s is None else f'{m} {s}':>18}" for m, s in columns) + "   seconds")
    with tempfile.TemporaryDirectory() as tmp:
        for problem in problems:
            start, cells = time.perf_counter(), []
            for method, text in columns:
                best = [
                    run_optuna(problem, s, args)
                    if method == "optuna"
                    else run_hpsearch(problem, method, s, args, Path(tmp), schedules.get(text, (0, 0, 0)))
                    for s in seeds
                ]
                cells.append("not installed" if any(b is None for b in best) else f"{np.median(best):.4f}")
                print(
                    f"  {problem} {method} {text or ''}: {[None if b is None else round(b, 4) for b in best]}",
                    flush=True,
                )
            print(
                f"{problem:<10}" + "".join(f"{c:>18}" for c in cells) + f"   {time.perf_counter() - start:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
