"""How far ``execution.packs.pack_seconds`` (the estimate that orders a batch's work, longest first) is from the
seconds a segment really takes on this machine.

Trains, alone and in-process with one BLAS thread, a grid of networks on the bundled digits (1-3 hidden layers of
16-256 units, batches of 32-128, Adam, with and without batch norm) and on a wider synthetic set (784 features,
like MNIST), and stacked packs of 2 and 8 same-shape networks; prints, for each, measured over estimated seconds
(median of ``--repeats``). Scheduling needs the *ratios between* items right, not their scale: the figure to
read is the spread of measured/estimated (a batch is ordered well when the widest and the narrowest network are
off by the same factor), then the median (which the in-process threshold ``runner.IN_PROCESS_SECONDS`` relies on).

Usage: python benchmarks/bench_estimate.py [--repeats N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.data.data_config import DataConfig
from hpsearch.data.datasets import load_dataset
from hpsearch.execution.packs import pack_seconds, train_pack
from hpsearch.execution.segments import Segment, TrialTask


def _segments(params: dict, n: int) -> list[Segment]:
    return [Segment(TrialTask(k, 0, k, {"learning_rate": 0.003 * (k + 1), **params}, 100 + k), None) for k in range(n)]


def _measure(model: dict, data: Dataset, params: dict, n: int, repeats: int) -> tuple[float, float]:
    pack = _segments(params, n)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        train_pack(pack, model, data)
        times.append(time.perf_counter() - started)
    return statistics.median(times), pack_seconds(pack, model, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    digits = load_dataset(DataConfig(dataset="digits", dev_fraction=0.2, seed=0))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 3000)
    X = rng.standard_normal((10, 784))[y] + rng.standard_normal((3000, 784))
    wide = Dataset("wide", X[:2400], y[:2400], X[2400:], y[2400:], tuple("0123456789"))
    rows = []
    for data, epochs in ((digits, 6), (wide, 2)):
        for layers, units, batch, norm in itertools.product((1, 2, 3), (16, 64, 256), (32, 128), (True, False)):
            model = {"epochs": epochs, "optimizer": "adam", "batchnorm": norm}
            params = {"layers": layers, "hidden_units": units, "batch_size": batch}
            rows.append((data.name, f"{layers}x{units} b{batch}{' bn' if norm else ''}", 1, model, data, params))
    for n in (2, 8):
        rows.append(
            (
                "digits",
                "2x64 b64 bn",
                n,
                {"epochs": 6, "batchnorm": True},
                digits,
                {"layers": 2, "hidden_units": 64, "batch_size": 64},
            )
        )
    print(f"{'data':7s} {'network':18s} {'pack':>4s} {'measured s':>10s} {'estimated s':>11s} {'ratio':>6s}")
    ratios = []
    for name, label, n, model, data, params in rows:
        measured, estimated = _measure(model, data, params, n, args.repeats)
        ratios.append(measured / estimated)
        print(f"{name:7s} {label:18s} {n:4d} {measured:10.3f} {estimated:11.3f} {ratios[-1]:6.2f}")
    q = np.quantile(ratios, [0.1, 0.5, 0.9])
    print(
        f"measured/estimated over {len(ratios)} items: median {q[1]:.2f}, 10%-90% {q[0]:.2f}-{q[2]:.2f}, "
        f"max/min {max(ratios) / min(ratios):.1f}"
    )


if __name__ == "__main__":
    main()
