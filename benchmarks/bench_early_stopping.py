"""Does early stopping keep the winner? Successive halving and Hyperband against training every trial fully,
on digits, with small and larger searches, over several search seeds.

For each number of trials (27 and 81) and each search seed, the same sampled configurations are trained
(a) fully, every trial to 27 epochs; (b) by successive halving and (c) by Hyperband, rungs 3/9/27, η = 3,
each ranking trials at a rung either by the last epoch's dev J (``rank_by: last``, the default) or by the
best dev J so far (``rank_by: best``). Prints per method the median over seeds of the best dev J relative to
full training ranked the same way (1.00 = the same winner's J; the issue's target: within 5%), how often it is more than 5% worse,
and the epochs trained relative to full training (target: at most 40%). Epochs and J are deterministic.

Usage: python benchmarks/bench_early_stopping.py [--trials 27 81] [--seeds 0 1 2 3 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import SPACE, run_search  # noqa: E402  (the same space and search runner)

METHODS = [
    ("full", None, "last"),
    ("full, rank_by best", None, "best"),
    ("halving", "halving", "last"),
    ("halving, rank_by best", "halving", "best"),
    ("hyperband", "hyperband", "last"),
    ("hyperband, rank_by best", "hyperband", "best"),
]
DIGITS = {"dataset": "digits", "dev_fraction": 0.2, "seed": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[27, 81])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    assert SPACE  # the space of bench_search.py: learning rate, beta1, width, depth, L2, batch size
    print(f"digits, rungs 3/9/27, eta 3; best dev J relative to full training, median over seeds {args.seeds}")
    print(f"{'trials':>6}  {'method':<24} {'J / full':>9} {'worse >5%':>10} {'epochs / full':>14}")
    with tempfile.TemporaryDirectory() as folder:
        for trials in args.trials:
            results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in METHODS}
            for seed in args.seeds:
                for name, method, rank_by in METHODS:
                    results[name].append(
                        run_search(
                            f"es-{trials}-{seed}",
                            DIGITS,
                            method,
                            trials,
                            27,
                            3,
                            Path(folder) / f"{trials}-{seed}-{name}",
                            seed=seed,
                            rank_by=rank_by,
                            workers=args.workers,
                        )
                    )
            for name, method, rank_by in METHODS:
                if method is None:
                    continue
                full = results["full" if rank_by == "last" else "full, rank_by best"]  # the same ranking value
                ratios = [r["best"] / f["best"] for r, f in zip(results[name], full)]
                epochs = [r["epochs"] / f["epochs"] for r, f in zip(results[name], full)]
                worse = sum(q > 1.05 for q in ratios)
                print(
                    f"{trials:>6}  {name:<24} {statistics.median(ratios):>9.3f} {worse:>6} of {len(ratios)}"
                    f" {statistics.median(epochs):>13.0%}"
                )


if __name__ == "__main__":
    main()
