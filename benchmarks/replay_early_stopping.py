"""Early-stopping rules replayed on full-training curves: ``bench_early_stopping.py``'s table over many seeds in
seconds, once the curves are trained.

A trial promoted at a rung continues bit for bit as if it had never stopped, so an early-stopping search's
result is a function of the full-training dev-J curves of its trials: each rung ranks the trials still in by
their best dev J so far (``rank_by: best``), ``pruning.schedule.promote`` keeps ``keep_share`` of them, and the
winner is the best trial at the top rung. This script trains every trial of ``bench_early_stopping.py``'s
searches fully once (81 trials per seed; a 27-trial search's trials are the first 27 of them: trial i is drawn
from (seed, round, i) alone), keeps the curves in ``--curves DIR`` (JSON, one file per dataset and seed), and
replays hpsearch's own rules on them. Replayed figures equal the CLI's to the last digit (checked against
``bench_early_stopping.py`` on seeds 0-19). Prints the same table as it, per seed, for ``auto`` and ``halving``.

Usage: python benchmarks/replay_early_stopping.py --curves DIR [--seeds 0 1 ... 39] [--datasets digits spirals]
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_early_stopping import DATASETS, EPOCHS, MIN_EPOCHS  # noqa: E402
from bench_search import run_search  # noqa: E402

from hpsearch.pruning.schedule import RungResult, keep_share, promote, rung_epochs  # noqa: E402

TRIALS = (27, 81)


def curves(name: str, seed: int, folder: Path) -> list[list[float]]:
    """Every trial's dev J per epoch, trained fully (NaN: diverged), from ``folder`` or trained and kept there."""
    path = folder / f"{name}-{seed}.json"
    if not path.exists():
        with tempfile.TemporaryDirectory() as runs:
            run_search(
                f"c-{seed}",
                DATASETS[name],
                None,
                max(TRIALS),
                EPOCHS,
                MIN_EPOCHS,
                Path(runs) / "r",
                seed=seed,
                rank_by="best",
                workers=2,
            )
            with sqlite3.connect(next(Path(runs).rglob("run.sqlite"))) as db:
                rows = db.execute("SELECT trial, epoch, dev_cost FROM epochs ORDER BY trial, epoch").fetchall()
        found: dict[int, list[float | None]] = {}
        for trial, _, cost in rows:
            found.setdefault(trial, []).append(cost)
        path.write_text(json.dumps([found[t] for t in sorted(found)]))
    return [[math.nan if j is None else j for j in c] for c in json.loads(path.read_text())]


def best_to(curve: list[float], epochs: int) -> float:
    """The best dev J of the first ``epochs`` epochs (inf if the trial stopped before or diverged)."""
    head = curve[:epochs]
    return min(head) if len(head) == epochs and all(math.isfinite(j) for j in head) else math.inf


def replay(method: str, trials: list[list[float]]) -> tuple[float, float]:
    """(winner's best dev J / full training's winner's, epochs / full training's) of one search under ``method``."""
    epochs = rung_epochs(MIN_EPOCHS, 3, EPOCHS)
    alive, spent, before = list(range(len(trials))), 0, 0
    for k, top in enumerate(epochs):
        spent += len(alive) * (top - before)
        before = top
        if k < len(epochs) - 1:
            results = [
                RungResult(t, best_to(trials[t], top), not math.isfinite(best_to(trials[t], top))) for t in alive
            ]
            alive = promote(results, len(alive), keep_share(method, len(trials), len(epochs), 3, k))
    full = min(best_to(c, EPOCHS) for c in trials)
    return min(best_to(trials[t], EPOCHS) for t in alive) / full, spent / (len(trials) * EPOCHS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=Path, required=True, help="folder of the full-training curves (kept)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(40)))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    args.curves.mkdir(parents=True, exist_ok=True)
    print(f"rungs 3/9/27, eta 3, rank_by best; winner's best dev J / full training's, search seeds {args.seeds}")
    print("| dataset | trials | method | median | >5% worse | >10% worse | worst | epochs | >10% worse per 10 seeds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        every = {seed: curves(name, seed, args.curves) for seed in args.seeds}
        for n in TRIALS:
            for method in ("auto", "halving"):
                found = [replay(method, every[seed][:n]) for seed in args.seeds]
                js = [j for j, _ in found]
                blocks = [sum(j > 1.10 for j in js[i : i + 10]) for i in range(0, len(js), 10)]
                worse = [f"{sum(j > limit for j in js)} of {len(js)}" for limit in (1.05, 1.10)]
                print(
                    f"| {name} | {n} | {method} | {statistics.median(js):.3f} | {worse[0]} | {worse[1]} | {max(js):.3f}"
                    f" | {statistics.median(e for _, e in found):.0%} | {' '.join(map(str, blocks))} |"
                )


if __name__ == "__main__":
    main()
