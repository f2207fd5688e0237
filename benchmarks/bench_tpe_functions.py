"""TPE zoom rounds against random search (and Optuna's TPE) on two classic test functions.

At an equal budget of 64 evaluations, per function and seed, with a
``--schedule`` of rounds (default ``16+3x16``: 16 random points, then 3 rounds of 16):

(a) ``tpe``:    the random points, then each round planned all at once by
                ``hpsearch.space.tpe.plan_tpe`` from every point so far;
(b) ``box``:    the same random points, then each round uniform in the zoom
                box (top 5, margin 0.1) of every point so far;
(c) ``random``: 64 uniform random points;
(d) ``optuna``: when Optuna is installed, its ``TPESampler`` (defaults, seeded),
                64 sequential trials — one result after each, which a round
                planned all at once does not get.

Prints the median over seeds of the best value found (lower is better) and its
gap to the known minimum. Functions (minimized, on their usual domains):
Branin on [-5, 10] x [0, 15] (min 0.397887) and Hartmann-6 on [0, 1]^6 (min -3.32237).
Optuna is never a dependency: ``pip install optuna`` into a venv to compare.

``--sequential`` plans one point at a time after 10 random ones (``10+54x1``),
as Optuna does, to check that the sampler itself matches Optuna's: with 50
seeds the medians agree within noise (see ``hpsearch/space/tpe.py``).

Usage: python benchmarks/bench_tpe_functions.py [--seeds 10] [--schedule 16+6x8] [--sequential]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np

from hpsearch.space.scales import Uniform
from hpsearch.space.search_space import Space
from hpsearch.space.tpe import Dimension, plan_tpe
from hpsearch.space.zoom import zoom_space

BUDGET = 64


def branin(x: np.ndarray) -> np.ndarray:
    """Branin-Hoo, x (n, 2) with x1 in [-5, 10], x2 in [0, 15]; global minimum 0.397887 at three points."""
    x1, x2 = x[:, 0], x[:, 1]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: np.ndarray) -> np.ndarray:
    """Hartmann-6, x (n, 6) in [0, 1]^6; global minimum -3.32237."""
    inner = (_H6_A[None] * (x[:, None, :] - _H6_P[None]) ** 2).sum(axis=2)  # (n, 4)
    return -(np.exp(-inner) * _H6_ALPHA).sum(axis=1)


# name: (function, lows, highs, known minimum)
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray, float]] = {
    "branin": (branin, np.array([-5.0, 0.0]), np.array([10.0, 15.0]), 0.397887),
    "hartmann6": (hartmann6, np.zeros(6), np.ones(6), -3.32237),
}


def run_rounds(name: str, seed: int, method: str, schedule: tuple[int, int, int]) -> float:
    """Best value of ``BUDGET`` evaluations: ``schedule``'s random points, then its rounds planned by ``method``.

    ``schedule`` is (random points, rounds, points per round); ``method`` is tpe, box or random.
    """
    f, lo, hi, _ = FUNCTIONS[name]
    d = len(lo)
    first, rounds, size = schedule
    evaluate = lambda u: f(lo + u * (hi - lo))  # noqa: E731  # unit points -> values
    units = np.random.default_rng([seed, 0]).random((first if method != "random" else BUDGET, d))
    values = evaluate(units)
    reference = Space({f"x{j}": Uniform(0.0, 1.0) for j in range(d)})
    for round_ in range(1, rounds + 1) if method != "random" else ():
        rng = np.random.default_rng([seed, round_])  # seeded by (search seed, round), as a real round is
        if method == "tpe":
            new = plan_tpe(units, values, [Dimension()] * d, size, rng)  # rows oldest first, as rounds.py passes them
        else:
            top = [dict(zip(reference.names, map(float, units[i]))) for i in np.argsort(values)[:5]]
            box = zoom_space(reference, top, margin=0.1).space
            new = np.array([[box[n].from_unit(u) for n, u in zip(box.names, row)] for row in rng.random((size, d))])
        units, values = np.vstack([units, new]), np.concatenate([values, evaluate(new)])
    return float(values.min())


def run_optuna(name: str, seed: int) -> float | None:
    """Best value of Optuna's default TPESampler in ``BUDGET`` sequential trials, or None without Optuna."""
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    f, lo, hi, _ = FUNCTIONS[name]

    def objective(trial: "optuna.Trial") -> float:
        x = np.array([[trial.suggest_float(f"x{j}", lo[j], hi[j]) for j in range(len(lo))]])
        return float(f(x)[0])

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=BUDGET)
    return float(study.best_value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--schedule", default="16+3x16", help="first+ROUNDSxSIZE, 64 in all")
    parser.add_argument("--sequential", action="store_true", help="the schedule 10+54x1 (Optuna's)")
    args = parser.parse_args()
    text = "10+54x1" if args.sequential else args.schedule
    first, _, rest = text.partition("+")
    schedule = (int(first), *map(int, rest.split("x")))
    if schedule[0] + schedule[1] * schedule[2] != BUDGET:
        raise SystemExit(f"--schedule {text}: not {BUDGET} evaluations")
    seeds = range(args.seeds)
    methods = ("tpe", "box", "random", "optuna")
    print(f"median best of {BUDGET} evaluations ({text}) over {len(seeds)} seeds (gap to the known minimum)")
    print(f"{'function':<10}" + "".join(f"{m:>20}" for m in methods))
    for name, (_, _, _, minimum) in FUNCTIONS.items():
        cells = []
        for method in methods:
            best = [run_optuna(name, s) if method == "optuna" else run_rounds(name, s, method, schedule) for s in seeds]
            if any(b is None for b in best):
                cells.append("not installed")
                continue
            median = float(np.median(best))
            cells.append(f"{median:.4f} ({median - minimum:.3g})")
        print(f"{name:<10}" + "".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
