"""Zoom methods at equal budgets, through the product: random, box, tpe, auto (and Optuna's TPE when installed).

Budget 64 trials per search: ``random`` draws all 64 in one round; ``box``,
``tpe`` and ``auto`` run each ``--schedule`` of rounds, e.g. ``8+7x8``: 8 at
random, then 7 zoom rounds of 8 (``search.zoom: box``, ``tpe`` or ``auto``:
``trials: 8, rounds: 8, zoom_trials: 8``), as a user would run them, with the
default ``top_k`` and ``margin``. ``random`` and ``optuna`` do not depend on the
schedule and run once per seed. ``optuna`` (only when ``import optuna`` works;
never a dependency) runs its default ``TPESampler`` for 64 sequential trials on
the same objective: hpsearch's own networks in-process for the datasets, the
same functions otherwise. It sees each result before the next trial, which a
round planned all at once does not.

Problems (lower is better): the functions of ``sampler_problems.py``
(``branin``, ``hartmann6``, ``rosenbrock4``, ``levy6``, ``conditional``) and
two networks: ``digits`` (6 parameters: learning rate, β₁, β₂, hidden units,
layers, L2; Adam, batch 64, ``--epochs`` epochs, best dev J) and ``spirals``
(4: learning rate, hidden units, layers, L2).

Prints each seed's best value, then per problem and schedule the median over
the seeds of each method and the difference ``auto - better of (box, tpe)``
(the better by median) with a paired bootstrap 95% interval over seeds:
``worse`` when the interval lies above 0. ``--quick`` is a smoke run (3 seeds,
two functions, two schedules).

Usage: python benchmarks/bench_sampler.py [--seeds 10] [--first-seed 0] [--epochs 10] [--workers 1]
       [--only branin,hartmann6] [--schedule 8+7x8,16+2x16] [--methods random,box,tpe,auto,optuna]
       [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import sampler_problems  # importable from this folder: a run stores its objective as module:function
from sampler_problems import FUNCTION_SPACES

METHODS = ("random", "box", "tpe", "auto", "optuna")
ZOOMED = ("box", "tpe", "auto")
SCHEDULES = "8+7x8,16+2x16,16+6x8,10+54x1"
PROBLEMS = "branin,hartmann6,rosenbrock4,levy6,conditional,spirals,digits"
BOOTSTRAP = 2000

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


def parse_schedule(text: str) -> tuple[int, int, int]:
    """``"16+3x16"`` -> (16 first trials, 3 zoom rounds, 16 trials each): 64 trials in all, the search's budget."""
    first, _, rest = text.partition("+")
    rounds, _, size = rest.partition("x")
    schedule = (int(first), int(rounds), int(size))
    if min(schedule) < 1:
        raise SystemExit(f"--schedule {text}: write FIRST+ROUNDSxSIZE, each at least 1")
    return schedule


def budget(schedule: tuple[int, int, int]) -> int:
    """The trials of a schedule in all: what random and Optuna get too."""
    return schedule[0] + schedule[1] * schedule[2]


def search_settings(method: str, seed: int, workers: int, schedule: tuple[int, int, int]) -> dict[str, Any]:
    """The ``search`` section of one benchmark search: all at random, or ``schedule``'s rounds zoomed by ``method``."""
    if method == "random":
        return {"trials": budget(schedule), "seed": seed, "workers": workers}
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
        result = tune(
            getattr(sampler_problems, problem),
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


def run_optuna(problem: str, seed: int, args: argparse.Namespace, n_trials: int) -> float | None:
    """Best value of Optuna's default TPESampler in ``n_trials`` sequential trials, or None without Optuna."""
    try:
        import optuna
    except ImportError:
        return None
    from hpsearch.space.parsing import parse_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if problem in FUNCTION_SPACES:
        f = getattr(sampler_problems, problem)
        objective = lambda trial: f(sampler_problems.optuna_params(problem, trial))  # noqa: E731
    else:
        objective = _engine_objective(problem, args, parse_space)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
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


def difference_interval(auto: list[float], better: list[float], seed: int = 0) -> tuple[float, float, float]:
    """``median(auto) - median(better)`` and its paired bootstrap 95% interval: seeds resampled together
    (a seed's searches share their first round)."""
    a, b = np.asarray(auto), np.asarray(better)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(BOOTSTRAP, len(a)))
    diffs = np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(np.median(a) - np.median(b)), float(low), float(high)


def summary_row(problem: str, schedule: str, values: dict[str, list[float | None]]) -> str:
    """One table row: each method's median, then auto minus the better of box and tpe with its interval (and
    minus Optuna's, where it ran)."""
    med = {m: None if not v or None in v else float(np.median(v)) for m, v in values.items()}  # type: ignore[arg-type]
    cells = "".join(f"{'—' if med.get(m) is None else f'{med[m]:.4f}':>10}" for m in METHODS)
    if any(med.get(m) is None for m in ZOOMED):
        return f"{problem:<12}{schedule:<10}{cells}"
    better = "box" if med["box"] <= med["tpe"] else "tpe"  # type: ignore[operator]
    row = f"{problem:<12}{schedule:<10}{cells}  {_versus(values['auto'], values[better])} vs {better}"
    if med.get("optuna") is not None:
        row += f"; {_versus(values['auto'], values['optuna'])} vs optuna"
    return row


def _versus(auto: list[float | None], other: list[float | None]) -> str:
    """``+0.0123 [-0.0100, +0.0300] tie``: the difference in medians, its interval, and what it says."""
    diff, low, high = difference_interval(auto, other)  # type: ignore[arg-type]
    return f"{diff:+.4f} [{low:+.4f}, {high:+.4f}] " + ("worse" if low > 0 else ("better" if high < 0 else "tie"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", default=PROBLEMS)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--schedule", default=SCHEDULES, help="first+ROUNDSxSIZE, comma-separated")
    parser.add_argument("--json", type=Path, help="write every seed's best value here")
    parser.add_argument("--quick", action="store_true", help="3 seeds, branin and hartmann6, 8+7x8 and 16+2x16")
    parser.add_argument(
        "--tables", type=Path, nargs="+", help="run nothing: the table of --json files of disjoint seeds, joined"
    )
    args = parser.parse_args()
    if args.tables:
        joined: dict[str, list[float | None]] = {}
        for path in args.tables:
            for key, best in json.loads(path.read_text()).items():
                joined.setdefault(key, []).extend(best)
        print_table([summary_row(*key, values) for key, values in _by_schedule(joined).items()])
        return
    if args.quick:
        args.seeds, args.only, args.schedule = 3, "branin,hartmann6", "8+7x8,16+2x16"
    problems, methods = args.only.split(","), args.methods.split(",")
    schedules = {text: parse_schedule(text) for text in args.schedule.split(",")}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    found: dict[str, dict[str, list[float | None]]] = {}  # "problem schedule method" -> each seed's best
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for problem in problems:
            start = time.perf_counter()
            for text, schedule in schedules.items():
                values = {m: _best(problem, m, (text, schedule), seeds, args, Path(tmp), found) for m in methods}
                rows.append(summary_row(problem, text, values))
                print(rows[-1], f"({time.perf_counter() - start:.0f} s)", flush=True)
            if args.json:  # after each problem, so that a long run stopped part-way keeps what it measured
                args.json.write_text(json.dumps(found, indent=1))
    print_table(rows)


def print_table(rows: list[str]) -> None:
    """The summary: one row per problem and schedule (``summary_row``)."""
    print("\nmedian over the seeds of the best value of each schedule's trials (lower is better); last: auto")
    print("minus the better (by median) of box and tpe, paired bootstrap 95% interval; worse: above 0")
    print(
        f"{'problem':<12}{'schedule':<10}"
        + "".join(f"{m:>10}" for m in METHODS)
        + "  auto - better [95%]; auto - optuna [95%]"
    )
    print("\n".join(rows))


def _by_schedule(found: dict[str, list[float | None]]) -> dict[tuple[str, str], dict[str, list[float | None]]]:
    """``found`` ("problem schedule method" -> values) regrouped by (problem, schedule) -> method -> values;
    random and Optuna, stored by budget, join each schedule of that budget."""
    out: dict[tuple[str, str], dict[str, list[float | None]]] = {}
    for key, best in found.items():
        problem, text, method = key.split()
        if method in ZOOMED:
            values = out.setdefault((problem, text), {})
            values[method] = best
            for other in ("random", "optuna"):
                values.setdefault(other, found.get(f"{problem} {budget(parse_schedule(text))} {other}", []))
    return out


def _best(
    problem: str,
    method: str,
    schedule: tuple[str, tuple[int, int, int]],
    seeds: range,
    args: argparse.Namespace,
    runs: Path,
    found: dict[str, list[float | None]],
) -> list[float | None]:
    """Each seed's best value of one method at one schedule, printed and kept in ``found``; random and
    Optuna depend on the schedule's budget only, so they run once per budget."""
    text, rounds = schedule
    key = f"{problem} {text if method in ZOOMED else budget(rounds)} {method}"
    if key in found:
        return found[key]
    if method == "optuna":
        best = [run_optuna(problem, s, args, budget(rounds)) for s in seeds]
    else:
        best = [run_hpsearch(problem, method, s, args, runs, rounds) for s in seeds]
    found[key] = best
    print(f"  {key}: {[None if b is None else round(b, 4) for b in best]}", flush=True)
    return best


if __name__ == "__main__":
    main()
