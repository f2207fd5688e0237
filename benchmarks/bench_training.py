"""Training throughput of the NumPy engine, side by side with PyTorch on CPU.

Three shapes (BN + ReLU + Adam, float32, synthetic Gaussian data, no downloads):

    MNIST-shaped   60,000 x 784, hidden [256, 128], 10 classes, batch 128
    digits-shaped   1,797 x 64,  hidden [64, 64],   10 classes, batch 64
    spiral-shaped   3,000 x 2,   hidden [100, 100],  3 classes, batch 32

Both sides run the same loop from the same float64 ``Dataset``: cast to
float32 once, then per epoch one permutation whose contiguous runs are
gathered batch by batch into preallocated buffers, one Adam step each, and a
dev-set evaluation (dev = 1/10 of the train rows). hpsearch
is timed through ``hpsearch.nn.train`` (its ``seconds``); PyTorch runs eager
mode with ``torch.optim.Adam(fused=True)``. Repeats alternate between the two
so load from other processes hits both alike; throughputs are medians, the
ratio is the median of the per-pair ratios. One
BLAS / intra-op thread each (threadpoolctl, ``torch.set_num_threads(1)``).

glibc's malloc returns freed memory to the OS (trim) and serves large blocks
with fresh mmaps, so the MNIST shape pays page faults at random; the script
re-executes itself with ``GLIBC_TUNABLES`` raising both thresholds unless it
is already set, and says so.

Usage: python benchmarks/bench_training.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

GLIBC_TUNABLES = "glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432"


def _ensure_malloc_tunables() -> str:
    """Re-exec with GLIBC_TUNABLES set (it is read at process start), or return its value."""
    if "GLIBC_TUNABLES" not in os.environ:
        env = dict(os.environ, GLIBC_TUNABLES=GLIBC_TUNABLES, HPSEARCH_BENCH_REEXEC="1")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    how = "set by this script (re-exec)" if os.environ.get("HPSEARCH_BENCH_REEXEC") else "from the environment"
    return f"GLIBC_TUNABLES={os.environ['GLIBC_TUNABLES']} ({how})"


@dataclass(frozen=True)
class Shape:
    name: str
    rows: int
    features: int
    hidden: tuple[int, ...]
    classes: int
    batch_size: int
    epochs: int
    target: float  # required hpsearch / PyTorch throughput ratio


SHAPES = (
    Shape("MNIST-shaped", 60_000, 784, (256, 128), 10, 128, 1, 1.1),
    Shape("digits-shaped", 1_797, 64, (64, 64), 10, 64, 10, 3.0),
    Shape("spiral-shaped", 3_000, 2, (100, 100), 3, 32, 5, 3.0),
)
QUICK_SHAPES = (
    Shape("MNIST-shaped", 12_800, 784, (256, 128), 10, 128, 1, 1.1),
    Shape("digits-shaped", 1_797, 64, (64, 64), 10, 64, 3, 3.0),
    Shape("spiral-shaped", 3_000, 2, (100, 100), 3, 32, 2, 3.0),
)


def make_dataset(shape: Shape):
    """Synthetic Gaussian features with random labels, train rows plus 1/10 as dev."""
    import numpy as np

    from hpsearch.core.dataset import Dataset

    rng = np.random.default_rng(0)
    dev_rows = max(shape.rows // 10, 1)
    X = rng.standard_normal((shape.rows + dev_rows, shape.features))
    y = rng.integers(0, shape.classes, shape.rows + dev_rows)
    return Dataset(
        name=shape.name,
        X_train=X[: shape.rows],
        y_train=y[: shape.rows],
        X_dev=X[shape.rows :],
        y_dev=y[shape.rows :],
        class_names=tuple(str(c) for c in range(shape.classes)),
    )


def time_hpsearch(shape: Shape, data) -> float:
    """Seconds ``hpsearch.nn.train`` reports for ``shape.epochs`` epochs."""
    from hpsearch.nn import ModelConfig, train

    config = ModelConfig(
        hidden=shape.hidden,
        activation="relu",
        batchnorm=True,
        optimizer="adam",
        batch_size=shape.batch_size,
        epochs=shape.epochs,
        dtype="float32",
    )
    result, _ = train(config, data)
    if result.epochs_run != shape.epochs:  # a diverged run stops early and would look fast
        raise SystemExit(f"{shape.name}: training stopped after {result.epochs_run} epochs ({result.status.value})")
    return result.seconds


def time_torch(shape: Shape, data) -> float:
    """Seconds for the same training loop in PyTorch eager mode."""
    import torch

    torch.manual_seed(0)
    # Timed from the float64 Dataset, like `train`, which casts it once.
    started = time.perf_counter()
    X = torch.from_numpy(data.X_train.astype("float32"))
    y = torch.from_numpy(data.y_train.astype("int64"))
    X_dev = torch.from_numpy(data.X_dev.astype("float32"))
    y_dev = torch.from_numpy(data.y_dev.astype("int64"))
    layers: list[torch.nn.Module] = []
    width = shape.features
    for units in shape.hidden:
        # momentum=0.1 in PyTorch's convention is bn_momentum=0.9 in ours
        layers += [
            torch.nn.Linear(width, units, bias=False),
            torch.nn.BatchNorm1d(units, momentum=0.1),
            torch.nn.ReLU(),
        ]
        width = units
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, shape.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    # Batches gathered into preallocated buffers, as `train` does: faster here than
    # slicing a shuffled copy of X (X[order]) for the MNIST shape, and no slower on the others.
    X_batch = torch.empty(shape.batch_size, shape.features)
    y_batch = torch.empty(shape.batch_size, dtype=torch.int64)
    for _ in range(shape.epochs):
        model.train()
        order = torch.randperm(shape.rows)
        for start in range(0, shape.rows, shape.batch_size):
            rows = order[start : start + shape.batch_size]
            x, target = X_batch[: len(rows)], y_batch[: len(rows)]
            torch.index_select(X, 0, rows, out=x)
            torch.index_select(y, 0, rows, out=target)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), target)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(X_dev)
            loss_fn(logits, y_dev).item()
            (logits.argmax(1) == y_dev).float().mean().item()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller MNIST shape and fewer epochs (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per side (median reported; default 5)")
    args = parser.parse_args()
    tunables = _ensure_malloc_tunables()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    # threadpoolctl limits only libraries already loaded: import NumPy (OpenBLAS) and torch first.
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info, threadpool_limits

    try:
        import torch
    except ImportError:
        torch = None
    else:
        torch.set_num_threads(1)
    threadpool_limits(1)

    print(tunables)
    pools = ", ".join(f"{pool['internal_api']}={pool['num_threads']}" for pool in threadpool_info())
    print(
        f"threads: {pools}; median of {args.repeats} repeats; torch: {torch.__version__ if torch else 'not installed'}"
    )
    header = f"{'shape':<15} {'hpsearch samples/s':>19} {'PyTorch samples/s':>18} {'ratio':>6} {'target':>7}"
    print(header)
    print("-" * len(header))
    for shape in QUICK_SHAPES if args.quick else SHAPES:
        data = make_dataset(shape)
        time_hpsearch(shape, data)  # warm-up: first-touch page faults, BLAS init
        if torch:
            time_torch(shape, data)
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(time_hpsearch(shape, data))
            if torch:
                theirs.append(time_torch(shape, data))
        samples = shape.rows * shape.epochs
        ours_rate = samples / statistics.median(ours)
        if torch:
            torch_rate = samples / statistics.median(theirs)
            # Each pair ran back to back under the same load: the median of their ratios
            # is steadier than the ratio of the two medians.
            ratio = statistics.median(t / o for o, t in zip(ours, theirs))
            met = "ok" if ratio >= shape.target else "MISSED"
            print(
                f"{shape.name:<15} {ours_rate:>19,.0f} {torch_rate:>18,.0f} {ratio:>5.2f}x {shape.target:>5.1f}x {met}"
            )
        else:
            print(f"{shape.name:<15} {ours_rate:>19,.0f} {'-':>18} {'-':>6} {shape.target:>5.1f}x")


if __name__ == "__main__":
    main()
