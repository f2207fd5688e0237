"""How often does `hpsearch confirm` change the winner of a search, and by how much dev J?

For each search seed: the search of configs/digits.yaml (its 30 random trials and
12 zoom trials unless --trials/--rounds say otherwise), then `confirm` of its top
K with S fresh seeds. Prints, per search seed, the leaderboard's first and the confirmed
best, whether they differ, and by how much:

* gain: the leaderboard first's mean J over its repeats minus the confirmed
  best's (what shipping the confirmed best saves, on average over seeds; 0 when
  they agree);
* optimism: the leaderboard first's repeats' mean J minus its first-run J (how
  much its single run flattered it; negative: its first run was an unlucky one).

Usage: python benchmarks/bench_confirm.py [--trials N] [--rounds R] [--top 5] [--seeds 5] [--search-seeds 0 1 ... 7]
       [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.search.api import Execution, start_search

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds() -> float:
    """User + system CPU of this process and its children, live (the loky workers) or finished."""
    me = psutil.Process(os.getpid())
    live = 0.0
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            live += times.user + times.system
    own, gone = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + gone.ru_utime + gone.ru_stime + live


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--search-seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    base = load_config(ROOT / "configs" / "digits.yaml").with_search(trials=args.trials, rounds=args.rounds)
    print(
        f"configs/digits.yaml: {base.search.trials} trials, {base.search.rounds} round(s), "
        f"confirm --top {args.top} --seeds {args.seeds}, {args.workers} workers"
    )
    print(
        f"{'seed':>4} {'lb first':>8} {'first-run J':>11} {'its mean':>9} {'confirmed':>9} {'mean J':>8} "
        f"{'differs':>7} {'gain J':>8} {'optimism':>8} {'tied':>5} {'wall s':>7}"
    )
    rows = []
    start_cpu = cpu_seconds()
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.search_seeds:
            started = time.perf_counter()
            config = base.with_search(seed=seed)
            search = start_search(
                config, runs_dir=Path(folder), name=f"digits-{seed}", execution=Execution(workers=args.workers)
            )
            result = confirm_run(
                search.run_dir, top_k=args.top, seeds=args.seeds, execution=Execution(workers=args.workers)
            )
            first = next(c for c in result.trials if c.leaderboard_rank == 1)
            best = result.best
            gain = first.mean - best.mean
            optimism = first.mean - first.first_value
            rows.append((best.trial != first.trial, gain, optimism))
            print(
                f"{seed:>4} {first.trial:>8} {first.first_value:>11.4f} {first.mean:>9.4f} {best.trial:>9} "
                f"{best.mean:>8.4f} {'yes' if best.trial != first.trial else 'no':>7} {gain:>8.4f} "
                f"{optimism:>8.4f} {'yes' if result.tied else 'no':>5} {time.perf_counter() - started:>7.1f}",
                flush=True,
            )
    differs = sum(r[0] for r in rows)
    gains = [r[1] for r in rows if r[0]]
    print(
        f"the confirmed best differs from the leaderboard's first in {differs} of {len(rows)} searches"
        + (f"; by a mean J of {statistics.fmean(gains):.4f} (max {max(gains):.4f}) where it does" if gains else "")
    )
    print(
        f"leaderboard first's optimism (mean of repeats − first run): mean {statistics.fmean(r[2] for r in rows):.4f}"
    )
    print(f"CPU: {cpu_seconds() - start_cpu:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
