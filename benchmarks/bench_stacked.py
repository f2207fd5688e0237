"""Throughput of training K networks as one pack (``fit_stacked``) against one at a time (``fit``).

Three shapes (BN + ReLU + Adam, float32, synthetic Gaussian data, no downloads):

    digits-shaped   1,437 x 64,  hidden [64, 64],   10 classes, batch 64
    spiral-shaped   2,400 x 2,   hidden [100, 100],  3 classes, batch 32
    784-input       2,560 x 784, hidden [256, 128], 10 classes, batch 128

(the 784-input set has 2,560 rows, not MNIST's 60,000: a step costs the same,
and K = 64 of them one at a time must fit in a run). For each K in 1, 4, 16,
64 the same K configs (per-model learning rate, β's, BN momentum, seed) are
trained for the same epochs both ways, in the same process, the two sides
alternating so load from other processes hits both alike. Reported:
training samples per second summed over the K models (median of the
repeats) and the ratio pack / one at a time (median of the per-pair ratios).
Every run of a pack is also checked to give the same bits as one at a time.
One BLAS thread (threadpoolctl).

Then, per shape, the most any pack could give: a step of one model alone,
timed against the same step on 1-unit arrays (1 feature, 1 unit a layer, 2
classes, batch 2, as many steps: the same NumPy calls, next to no
arithmetic). Their difference is the step's arithmetic, which a pack still
does once per model; so even a pack that paid no per-call cost at all and
did its arithmetic as fast as one model alone would be at most
``step / arithmetic`` times faster.

Usage: python benchmarks/bench_stacked.py [--repeats N] [--sizes 1,4,16,64] [--shapes digits,spirals,784]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch.core.dataset import Dataset
from hpsearch.nn import ModelConfig, fit, start
from hpsearch.nn.stacked import fit_stacked, max_pack_size


@dataclass(frozen=True)
class Shape:
    name: str
    rows: int
    features: int
    hidden: tuple[int, ...]
    classes: int
    batch_size: int
    epochs: int


SHAPES = (
    Shape("digits", 1437, 64, (64, 64), 10, 64, 2),
    Shape("spirals", 2400, 2, (100, 100), 3, 32, 1),
    Shape("784", 2560, 784, (256, 128), 10, 128, 1),
)


def make_dataset(shape: Shape) -> Dataset:
    """Gaussian clusters of the shape's size; dev = 1/10 of the train rows."""
    rng = np.random.default_rng(0)
    n_dev = shape.rows // 10
    centers = rng.standard_normal((shape.classes, shape.features))
    y = rng.integers(0, shape.classes, shape.rows + n_dev)
    X = centers[y] + rng.standard_normal((len(y), shape.features))
    names = tuple(str(c) for c in range(shape.classes))
    return Dataset(shape.name, X[: shape.rows], y[: shape.rows], X[shape.rows :], y[shape.rows :], names)


def configs(shape: Shape, size: int) -> list[ModelConfig]:
    """``size`` configs of one stack_key, each with its own per-model values."""
    return [
        ModelConfig(
            hidden=shape.hidden,
            batch_size=shape.batch_size,
            epochs=shape.epochs,
            seed=k,
            learning_rate=1e-3 * (1.0 + 0.1 * k),
            beta1=0.9 - 0.001 * k,
            beta2=0.999 - 1e-5 * k,
            bn_momentum=0.9 - 0.001 * k,
        )
        for k in range(size)
    ]


def time_alone(shape: Shape, data: Dataset, size: int) -> tuple[float, list]:
    states = [start(config, data) for config in configs(shape, size)]
    began = time.perf_counter()
    for state in states:
        fit(state, data, shape.epochs)
    return time.perf_counter() - began, states


def time_pack(shape: Shape, data: Dataset, size: int) -> tuple[float, list]:
    states = [start(config, data) for config in configs(shape, size)]
    began = time.perf_counter()
    fit_stacked(states, data, shape.epochs)
    return time.perf_counter() - began, states


def per_call_floor(shape: Shape) -> Shape:
    """The shape's step on 1-unit arrays: the same calls and as many steps an epoch, next to no arithmetic."""
    steps = shape.rows // shape.batch_size
    return Shape(f"{shape.name}-1-unit", 2 * steps, 1, (1,) * len(shape.hidden), 2, 2, shape.epochs)


def step_microseconds(shape: Shape, repeats: int) -> float:
    """Median time of one training step of one model alone (its epoch's share of dev evaluation included)."""
    data = make_dataset(shape)
    steps = shape.epochs * (shape.rows // shape.batch_size)
    return statistics.median(time_alone(shape, data, 1)[0] / steps * 1e6 for _ in range(repeats))


def print_ceiling(shape: Shape, repeats: int) -> None:
    step = step_microseconds(shape, repeats)
    calls = step_microseconds(per_call_floor(shape), repeats)
    arithmetic = max(step - calls, 1e-9)
    print(
        f"{shape.name:8} one step alone {step:.0f} µs = {calls:.0f} µs of NumPy calls (1-unit arrays) + "
        f"{arithmetic:.0f} µs of arithmetic: a pack can reach at most {step / arithmetic:.2f}x",
        flush=True,
    )


def same_bits(a: list, b: list) -> bool:
    return all(
        x.history == y.history and np.array_equal(x.network.params.flat, y.network.params.flat) for x, y in zip(a, b)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per side (default 5)")
    parser.add_argument("--sizes", default="1,4,16,64", help="pack sizes K (default 1,4,16,64)")
    parser.add_argument("--shapes", default=",".join(s.name for s in SHAPES), help="shapes to run")
    args = parser.parse_args()
    sizes = [int(k) for k in args.sizes.split(",")]
    chosen = [s for s in SHAPES if s.name in args.shapes.split(",")]
    threadpool_limits(1)
    pools = ", ".join(f"{pool['internal_api']}={pool['num_threads']}" for pool in threadpool_info())
    print(f"threads: {pools}; median of {args.repeats} repeats; samples/s summed over the K models")
    print(f"{'shape':8} {'K':>3} {'one at a time':>14} {'pack':>12} {'ratio':>6}  same bits  max_pack_size")
    for shape in chosen:
        data = make_dataset(shape)
        cap = max_pack_size(configs(shape, 1)[0], shape.features, shape.classes, shape.rows, shape.rows // 10)
        for size in sizes:
            samples = size * shape.epochs * shape.rows
            alone, pack, ratios, identical = [], [], [], True
            for _ in range(args.repeats):
                seconds_alone, states_alone = time_alone(shape, data, size)
                seconds_pack, states_pack = time_pack(shape, data, size)
                identical = identical and same_bits(states_alone, states_pack)
                alone.append(samples / seconds_alone)
                pack.append(samples / seconds_pack)
                ratios.append(seconds_alone / seconds_pack)
            print(
                f"{shape.name:8} {size:>3} {statistics.median(alone):>14,.0f} {statistics.median(pack):>12,.0f} "
                f"{statistics.median(ratios):>5.2f}x  {'yes' if identical else 'NO':>9}  {cap:>13}",
                flush=True,
            )
    print("\nceiling: a pack with no per-call cost whose arithmetic runs as fast as one model's alone")
    for shape in chosen:
        print_ceiling(shape, max(args.repeats, 7))


if __name__ == "__main__":
    main()
