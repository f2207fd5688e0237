"""A whole search and its confirm with ``search.stack: auto`` against ``off``: wall time, same leaderboard.

The search is digits-optimizer-shaped: scikit-learn's 8x8 digits, a fixed
network ([64, 64], batch norm, Adam, batch 64), and only per-model values
searched (learning rate, β₁, β₂, L2), so every trial has one shape and may
stack. 64 trials on 2 workers, then ``confirm --top 5 --seeds 10`` (50
repeats). Wall times of each, and the CPU seconds of both (this process and
its workers: less sensitive to other load on a shared machine). The two modes alternate, repeat after repeat, so load from other
processes hits both alike; medians are reported. Every repeat checks that both
modes give the same leaderboard and the same confirmation table, bit for bit.

Usage: python benchmarks/bench_stacked_search.py [--repeats 3] [--trials 64] [--epochs 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench_confirm import cpu_seconds  # this folder is on sys.path when the script runs

from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.search.api import Execution, start_search
from hpsearch.storage.run_store import RunStore

CONFIG = """\
name: digits-optimizer-{stack}
data: {{dataset: digits, dev_fraction: 0.2, seed: 0}}
model: {{hidden: [64, 64], batch_size: 64, batchnorm: true, optimizer: adam, epochs: {epochs}}}
space:
  learning_rate: {{scale: log, low: 1.0e-4, high: 0.1}}
  beta1:         {{scale: one_minus_log, low: 0.8, high: 0.99}}
  beta2:         {{scale: one_minus_log, low: 0.99, high: 0.9999}}
  l2:            {{scale: log, low: 1.0e-6, high: 1.0e-2}}
search: {{trials: {trials}, seed: 0, stack: {stack}}}
"""


def leaderboard(run_dir: Path) -> tuple[list[tuple], list[tuple]]:
    """The trials' numbers and the confirm table (no timings): what both modes must share bit for bit."""
    with RunStore.open(run_dir) as store:
        trials = [
            (t.trial, t.status, t.dev_cost, t.train_cost, t.dev_accuracy, t.history["dev_cost"]) for t in store.trials()
        ]
        repeats = [(r.trial, r.repeat, r.seed, r.status, r.dev_cost) for r in store.repeats()]
    return trials, repeats


def one_repeat(folder: Path, stack: str, args: argparse.Namespace, index: int) -> tuple[float, float, float, tuple]:
    path = folder / f"{stack}.yaml"
    path.write_text(CONFIG.format(stack=stack, epochs=args.epochs, trials=args.trials))
    execution = Execution(workers=args.workers)
    began, cpu = time.perf_counter(), cpu_seconds()
    run = start_search(load_config(path), runs_dir=folder / "runs", name=f"{stack}-{index}", execution=execution)
    searched = time.perf_counter()
    confirm_run(run.run_dir, top_k=5, seeds=10, execution=execution)
    confirmed = time.perf_counter()
    return searched - began, confirmed - searched, cpu_seconds() - cpu, leaderboard(run.run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, tuple[list[float], ...]] = {"off": ([], [], []), "auto": ([], [], [])}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.repeats):
            boards = []
            for stack in ("off", "auto") if index % 2 == 0 else ("auto", "off"):
                search, confirm, cpu, board = one_repeat(Path(tmp), stack, args, index)
                for column, value in enumerate((search, confirm, cpu)):
                    times[stack][column].append(value)
                boards.append(board)
                print(
                    f"repeat {index} stack {stack:4}: search {search:6.2f} s, confirm {confirm:6.2f} s, "
                    f"CPU {cpu:6.2f} s",
                    flush=True,
                )
            assert boards[0] == boards[1], "stack: auto and off gave different leaderboards"
    print(
        f"\n{args.trials} trials x {args.epochs} epochs, {args.workers} workers; medians of {args.repeats}; "
        "leaderboard and confirm table identical in every repeat"
    )
    print(f"{'':8} {'off':>8} {'auto':>8} {'speed-up':>9}")
    for column, name in ((0, "search"), (1, "confirm"), (2, "CPU both")):
        off, auto = (statistics.median(times[s][column]) for s in ("off", "auto"))
        print(f"{name:8} {off:7.2f}s {auto:7.2f}s {off / auto:8.2f}x")


if __name__ == "__main__":
    main()
