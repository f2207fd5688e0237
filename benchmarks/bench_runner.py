"""Runner benchmarks, each against a reference run in the same process.

(a) Overhead: 1,000 one-epoch trials on a tiny dataset through a whole search
    (planning, dispatch, recording every trial in SQLite, keeping the best
    model) against the same 1,000 trainings called directly in a loop.
    Target: < 2 ms per trial beyond the bare training time.
(b) Speed-up: 16 digits-shaped trials (1,797 x 64, hidden [64, 64], batch 64,
    BN + ReLU + Adam) with 2 loky workers against 1 worker. Target: >= 1.85x on 2 cores.

Prints medians of several repeats. Usage: python benchmarks/bench_runner.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from hpsearch.config.search_config import config_from_dict
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, train
from hpsearch.search.api import Execution, planned_trials, start_search


def make_npz(folder: Path, name: str, rows: int, features: int, classes: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, size=(classes, features))
    y = rng.integers(0, classes, size=rows)
    X = centres[y] + rng.normal(size=(rows, features))
    path = folder / f"{name}.npz"
    np.savez(path, X=X, y=y)
    return path


def search_config(data_path: Path, *, trials: int, model: dict, space: dict, workers: int) -> dict:
    return {
        "name": "bench",
        "data": {"path": str(data_path)},
        "model": model,
        "space": space,
        "search": {"trials": trials, "seed": 0, "workers": workers},
    }


def overhead(folder: Path, trials: int, repeats: int) -> None:
    data_path = make_npz(folder, "tiny", rows=100, features=2, classes=2)
    raw = search_config(
        data_path,
        trials=trials,
        model={"epochs": 1, "layers": 1, "hidden_units": 8, "batch_size": 32},
        space={"learning_rate": {"scale": "log", "low": 1e-3, "high": 0.1}},
        workers=1,
    )
    config = config_from_dict(raw)
    data = load_dataset(config.resolved_data())
    tasks = planned_trials(config)
    bare: list[float] = []
    whole: dict[int, list[float]] = {1: [], 2: []}
    start_search(config, runs_dir=folder / "runs", name="warm-up", execution=Execution(workers=2))
    for r in range(repeats):
        with threadpool_limits(1):
            start = time.perf_counter()
            for task in tasks:
                train(ModelConfig.from_dict({**config.model, **task.params, "seed": task.seed}), data)
            bare.append(time.perf_counter() - start)
        for workers in (1, 2):
            start = time.perf_counter()
            start_search(
                config, runs_dir=folder / "runs", name=f"overhead-{workers}-{r}", execution=Execution(workers=workers)
            )
            whole[workers].append(time.perf_counter() - start)
    b = statistics.median(bare)
    print(f"(a) runner overhead, {trials} one-epoch trials, median of {repeats}:")
    print(f"    bare training loop      {b:8.3f} s  ({1e3 * b / trials:.3f} ms/trial)")
    for workers, times in whole.items():
        w = statistics.median(times)
        # worker-seconds spent beyond training, per trial: the cost of the runner itself
        extra = (workers * w - b) / trials
        print(
            f"    search, {workers} worker{'s' if workers > 1 else ' '}      {w:8.3f} s  "
            f"({1e3 * w / trials:.3f} ms/trial)  overhead {1e3 * extra:.3f} ms/trial  (target < 2 ms)"
        )


def speedup(folder: Path, trials: int, epochs: int, repeats: int) -> None:
    data_path = make_npz(folder, "digits_shaped", rows=1797, features=64, classes=10)
    model = {
        "hidden": [64, 64],
        "batch_size": 64,
        "batchnorm": True,
        "activation": "relu",
        "optimizer": "adam",
        "epochs": epochs,
    }
    space = {"learning_rate": {"scale": "log", "low": 1e-3, "high": 1e-2}}
    times: dict[int, list[float]] = {1: [], 2: []}
    # joblib keeps its loky workers alive between searches of one process; the first
    # search pays their start-up (printed apart), the timed ones measure the search itself.
    config = config_from_dict(search_config(data_path, trials=2, model=model, space=space, workers=2))
    start = time.perf_counter()
    start_search(config, runs_dir=folder / "runs", name="warm-up")
    print(
        f"    (first 2-worker search of the process, 2 trials, incl. worker start-up: {time.perf_counter() - start:.2f} s)"
    )
    for r in range(repeats):
        for workers in (1, 2):
            config = config_from_dict(
                search_config(data_path, trials=trials, model=model, space=space, workers=workers)
            )
            start = time.perf_counter()
            start_search(config, runs_dir=folder / "runs", name=f"speedup-{workers}-{r}")
            times[workers].append(time.perf_counter() - start)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"(b) {trials} digits-shaped trials x {epochs} epochs, median of {repeats}:")
    print(f"    1 worker   {one:7.2f} s")
    print(f"    2 workers  {two:7.2f} s")
    print(f"    speed-up   {one / two:7.2f}x   (target >= 1.85x on 2 cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer trials and repeats")
    args = parser.parse_args()
    try:
        import psutil  # noqa: F401

        print("psutil installed: loky workers check memory cheaply")
    except ImportError:
        print("psutil not installed: loky workers run gc.collect() after tasks (slower on short trials)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        overhead(folder, trials=200 if args.quick else 1000, repeats=3 if args.quick else 5)
        speedup(folder, trials=16, epochs=20 if args.quick else 100, repeats=1 if args.quick else 3)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
