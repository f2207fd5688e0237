"""hpsearch serve on a big run: server time of the first leaderboard page, a live poll, and a trials chunk.

Builds a run of ``--trials`` synthetic trials (100,000 by default: the tiny blobs config of the tests, every
trial a record with 10 epochs of history, as a search stores it), then times, each ``--repeats`` times in this
one process:

* ``cold page``: a server that has never read the run answers the leaderboard's first page (it reads every
  record, without histories, ranks them and words the page through ``analysis.leaderboard``);
* ``warm page``: the same page again (records cached; one small query finds nothing changed);
* ``poll``: what a page asks each second while nothing changed (``trials?after=N``);
* ``chunk``: the first chunk of trials a page draws (``views.CHUNK`` of them);
* ``reference``, side by side: ``store.trials()``, which every read-only command (show, export, plot) pays to
  read a run whole, histories included.

Server time is the ``Server-Timing`` the handler measures (request parsed to answer built, as the issue asks).
Prints the median and the range of the repeats, in seconds. The machine is shared: compare the rows with the
reference row of the same run, not with another day's figures.

Usage: python benchmarks/bench_serve.py [--trials 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hpsearch.config.loading import load_config
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.search.rounds import initial_round
from hpsearch.serve.server import Server
from hpsearch.storage.run_store import RunStore

CONFIG = """\
name: big
data: {dataset: blobs, samples: 240, classes: 3, features: 4, noise: 1.0}
model: {layers: 1, epochs: 10}
space:
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
  beta1:         {scale: one_minus_log, low: 0.8, high: 0.99}
  hidden_units:  {scale: int_log, low: 4, high: 32}
  batch_size:    {choice: [16, 32]}
search: {trials: TRIALS, seed: 7, workers: 1}
"""


def build_run(runs_dir: Path, trials: int, name: str = "big") -> Path:
    """A run of ``trials`` synthetic trials with 10 epochs of history each, written as a search writes them."""
    path = runs_dir.parent / "big.yaml"
    path.write_text(CONFIG.replace("TRIALS", str(trials)))
    config = load_config(path)
    rng = np.random.default_rng(0)
    resolved = config.to_dict()
    store = RunStore.create(runs_dir / name, name=name, config=resolved, config_text=path.read_text())
    with store, store.lock(), store.transaction():
        store.add_round(initial_round(config))
        for t in range(trials):
            lr, beta, units = 10 ** rng.uniform(-3, -0.5), 1 - 10 ** rng.uniform(-2, -0.7), int(rng.integers(4, 33))
            dev = [float(v) for v in np.sort(rng.uniform(0.05, 1.2, 10))[::-1]]
            store.record_trial(
                TrialRecord(
                    trial=t,
                    round=0,
                    index=t,
                    params={"learning_rate": lr, "beta1": beta, "hidden_units": units, "batch_size": [16, 32][t % 2]},
                    seed=1000 + t,
                    status=TrialStatus.OK if t % 50 else TrialStatus.DIVERGED,
                    dev_cost=dev[-1] if t % 50 else None,
                    train_cost=dev[-1] * 0.9 if t % 50 else None,
                    dev_accuracy=0.9 if t % 50 else None,
                    epochs_run=10,
                    seconds=0.01,
                    history={"dev_cost": dev, "train_cost": [d * 0.9 for d in dev]},
                    value=dev[-1] if t % 50 else None,
                )
            )
    return runs_dir / name


def server_time(url: str) -> tuple[float, float]:
    """The server's own time for ``url`` and its CPU time (its Server-Timing header), in seconds."""
    with urllib.request.urlopen(url) as answer:
        answer.read()
        timing = answer.headers["Server-Timing"]
    wall, cpu = (float(part.split("dur=")[1]) / 1000 for part in timing.split(","))
    return wall, cpu


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU time of ``call()``."""
    start, cpu = time.perf_counter(), time.thread_time()
    call()
    return time.perf_counter() - start, time.thread_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        runs_dir = Path(temp) / "runs"
        started = time.perf_counter()
        folder = build_run(runs_dir, args.trials)
        print(f"built a run of {args.trials} trials in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rows: dict[str, list[tuple[float, float]]] = {
            "cold page": [],
            "warm page": [],
            "poll": [],
            "chunk": [],
            "reference": [],
        }
        for _ in range(args.repeats):
            server = Server(runs_dir, "127.0.0.1", 0)  # a fresh server: nothing cached
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            base = f"http://127.0.0.1:{server.server_address[1]}/api/run/big"
            try:
                rows["cold page"].append(server_time(f"{base}/leaderboard?page=0&size=50"))
                rows["warm page"].append(server_time(f"{base}/leaderboard?page=0&size=50"))
                rows["chunk"].append(server_time(f"{base}/trials?after=0"))
                rows["poll"].append(server_time(f"{base}/trials?after={args.trials}"))
            finally:
                server.shutdown()
                server.server_close()
            with RunStore.open(folder, read_only=True) as store:
                rows["reference"].append(timed(store.trials))
        print(f"{args.trials} trials, {args.repeats} repeats; seconds, median [min, max]; the machine is shared and")
        print("loaded: CPU time (this thread's) is the steadier figure")
        print(f"  {'':<10} {'wall':>8} {'':<15} {'cpu':>8}")
        for label, pairs in rows.items():
            walls, cpus = [p[0] for p in pairs], [p[1] for p in pairs]
            print(
                f"  {label:<10} {statistics.median(walls):8.3f}  [{min(walls):.3f}, {max(walls):.3f}]"
                f"  {statistics.median(cpus):8.3f}  [{min(cpus):.3f}, {max(cpus):.3f}]"
            )


if __name__ == "__main__":
    main()
