"""Warm start at equal budgets: does a 32-trial search that starts from an earlier run do as well as 64 cold trials?

Per problem and search seed ``s``, through the product's own API (``search.warm_start``):

- ``earlier``: a 32-trial search with another seed (``s + 1000``): 16 at random, then one TPE zoom round of 16;
- ``cold 32``: the same schedule with seed ``s``;
- ``warm 32``: the same schedule with seed ``s``, warm-started from ``earlier`` (its 32 trials are history for
  the zoom round; round 0's 16 random trials are still its own);
- ``warm 0+2x16``: seed ``s``, ``trials: 0``: no random round of its own, two TPE zoom rounds of 16 planned from
  ``earlier`` (and then from its own first zoom round);
- ``cold 64``: 16 at random, then three TPE zoom rounds of 16, seed ``s``.

The trained trials of each search are counted; ``earlier``'s are not (they were spent before). Problems (lower
is better): ``hartmann6`` (6-D, minimum -3.32237, a Python objective, as ``bench_sampler.py`` runs it) and
``digits`` (the 6 parameters of ``bench_sampler.py``'s digits, ``--epochs`` epochs, best dev J). Prints, per
problem and method, the median over ``--seeds`` seeds of the best value, with a 95% bootstrap interval of that
median (2,000 resamples of the seeds, fixed stream), and each seed's value. Values are a pure function of the
seeds (no timing enters them), so a loaded machine slows the run but does not change the figures.

Usage: python benchmarks/bench_warm_start.py [--seeds 10] [--epochs 5] [--workers 1] [--only hartmann6,digits]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SIZE = 16
METHODS = ("cold 32", "warm 32", "warm 0+2x16", "cold 64")


def schedule(method: str) -> tuple[int, int]:
    """(round-0 trials, zoom rounds of ``SIZE``) of a method (``earlier``: as ``cold 32``)."""
    return {"earlier": (SIZE, 1), "cold 32": (SIZE, 1), "warm 32": (SIZE, 1), "warm 0+2x16": (0, 2)}.get(
        method, (SIZE, 3)
    )


def search_section(method: str, seed: int, workers: int, earlier: str | None) -> dict[str, Any]:
    """The ``search:`` section of one benchmark search."""
    first, rounds = schedule(method)
    search: dict[str, Any] = {
        "trials": first,
        "rounds": rounds + 1,
        "zoom_trials": SIZE,
        "zoom": "tpe",
        "seed": seed,
        "workers": workers,
    }
    if method.startswith("warm"):
        search["warm_start"] = [earlier]
    return search


def run_search(problem: str, method: str, seed: int, args: argparse.Namespace, runs: Path) -> float:
    """The best value of one search; ``earlier``'s run is named ``{problem}-earlier-{seed}``."""
    from hpsearch.config.search_config import config_from_dict
    from hpsearch.search.api import Execution, start_search, tune

    earlier = f"{problem}-earlier-{seed}"
    name = earlier if method == "earlier" else f"{problem}-{method.replace(' ', '-').replace('+', '')}-{seed}"
    search = search_section(method, seed + 1000 if method == "earlier" else seed, args.workers, earlier)
    execution = Execution(workers=args.workers)
    if problem == "hartmann6":
        import bench_sampler  # the importable copy: a run stores its objective as module:function

        result = tune(
            bench_sampler.hartmann6,
            bench_sampler.FUNCTION_SPACES[problem],
            runs_dir=runs,
            name=name,
            execution=execution,
            **search,
        )
        return float(result.best.value)
    import bench_sampler

    data, space = bench_sampler.DATA_SPACES[problem]
    model = {"epochs": args.epochs, "batch_size": 64, "batchnorm": True, "optimizer": "adam"}
    config = config_from_dict(
        {"name": name, "data": data, "model": model, "space": space, "search": {**search, "rank_by": "best"}}
    )
    result = start_search(config, runs_dir=runs, name=name, execution=execution)
    return float(result.best.best_dev_cost)


def median_interval(values: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """The median of ``values`` and a 95% percentile-bootstrap interval of it (a fixed stream: reproducible)."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(0)
    medians = np.median(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)
    return float(np.median(x)), float(np.quantile(medians, 0.025)), float(np.quantile(medians, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", default="hartmann6,digits")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"median (95% bootstrap interval) over {args.seeds} seeds of the best value; lower is better")
    print(f"{'problem':<10}" + "".join(f"{m:>30}" for m in METHODS) + "   seconds")
    with tempfile.TemporaryDirectory() as tmp:
        for problem in args.only.split(","):
            start, best = time.perf_counter(), {m: [] for m in METHODS}
            for s in seeds:
                run_search(problem, "earlier", s, args, Path(tmp))
                for method in METHODS:
                    best[method].append(run_search(problem, method, s, args, Path(tmp)))
                print(f"  {problem} seed {s}: " + ", ".join(f"{m} {best[m][-1]:.4f}" for m in METHODS), flush=True)
            cells = []
            for method in METHODS:
                median, low, high = median_interval(best[method])
                cells.append(f"{median:.4f} [{low:.4f}, {high:.4f}]")
            print(
                f"{problem:<10}" + "".join(f"{c:>30}" for c in cells) + f"   {time.perf_counter() - start:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
