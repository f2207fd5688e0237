"""Does early stopping keep the winner of a small search? ``auto`` (the default), successive halving and
Hyperband against training every trial fully, on digits and noisy spirals, at 27 and 81 trials, over search seeds.

For each dataset, number of trials and search seed, the same sampled configurations (bench_search.py's space of
six parameters) are trained (a) fully, every trial to 27 epochs, and (b) with early stopping at rungs 3/9/27,
η = 3, each method in the same process. Trials are ranked by their best epoch's dev J (``rank_by: best``, the
default under early stopping). Prints, per method, the winner's best dev J over full training's winner's for every
seed (1.00 = the same J), the median, how many seeds are more than 10% worse, and the median share of full
training's epochs. The issue's target for ``auto``: median within 5%, more than 10% worse in at most one seed in
ten, at most 45% of the epochs. Epochs and J are deterministic: the figures do not depend on the machine's load.

Usage: python benchmarks/bench_early_stopping.py [--quick] [--seeds 0 1 ... 9] [--trials 27 81]
           [--datasets digits spirals] [--methods auto halving hyperband] [--workers 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import PROBLEMS, run_search  # noqa: E402  (the same space of six parameters and search runner)

DATASETS = {"digits": PROBLEMS["digits"], "spirals": PROBLEMS["noisy spirals"]}
EPOCHS, MIN_EPOCHS = 27, 3  # rungs 3/9/27 with eta 3


def ratios(data: dict, trials: int, seeds: list[int], methods: list[str], folder: Path, workers: int) -> dict:
    """method -> per-seed (J of its winner / J of full training's winner, epochs / full training's epochs)."""
    out: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    for seed in seeds:
        run = {
            m: run_search(
                f"es-{trials}-{seed}-{m or 'full'}",
                data,
                m,
                trials,
                EPOCHS,
                MIN_EPOCHS,
                folder / f"{data['dataset']}-{trials}-{seed}-{m or 'full'}",
                seed=seed,
                rank_by="best",
                workers=workers,
            )
            for m in [None, *methods]
        }
        for m in methods:
            out[m].append((run[m]["best"] / run[None]["best"], run[m]["epochs"] / run[None]["epochs"]))
        print(f"  {data['dataset']} {trials} seed {seed}: " + ", ".join(f"{m} {out[m][-1][0]:.3f}" for m in methods))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits, 27 trials, seeds 0-2, auto only")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--trials", type=int, nargs="+", default=[27, 81])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=["auto", "halving", "hyperband"])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.datasets, args.methods = [0, 1, 2], [27], ["digits"], ["auto"]
    table = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets:
            for trials in args.trials:
                found = ratios(DATASETS[name], trials, args.seeds, args.methods, Path(folder), args.workers)
                table += [(name, trials, m, found[m]) for m in args.methods]
    print(f"\nrungs 3/9/27, eta 3, rank_by best; winner's best dev J / full training's, search seeds {args.seeds}")
    print(
        "| dataset | trials | method | " + " | ".join(f"s{s}" for s in args.seeds) + " | median | >10% worse | epochs |"
    )
    print("|---|---|---|" + "---|" * (len(args.seeds) + 3))
    for name, trials, method, pairs in table:
        js, epochs = [j for j, _ in pairs], [e for _, e in pairs]
        print(
            f"| {name} | {trials} | {method} | "
            + " | ".join(f"{j:.3f}" for j in js)
            + f" | {statistics.median(js):.3f} | {sum(j > 1.10 for j in js)} of {len(js)}"
            f" | {statistics.median(epochs):.0%} |"
        )


if __name__ == "__main__":
    main()
