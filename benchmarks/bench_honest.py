"""How good is the winner, really? The optimism of its dev J, with one dev split and with ``data.cv: 5``.

On four small tables (scikit-learn's wine and breast cancer, its diabetes data as a CSV, a regression, and a
small noisy generated blobs set), for each seed s: two searches of the same space with ``data.seed`` and
``search.seed`` s, one ranking trials on one dev split (``dev_fraction`` 0.2), one on 5-fold cross-validation,
both with ``data.test_fraction: 0.25`` — the same test rows in both (the test part is split first, on a stream
of its own; checked) — and ``search.refit: true``. Per search:

* optimism: the winner's test J minus its reported dev J (positive: the dev figure flattered it), with the
  model the dev J describes: the one-split winner's model (trained on the training part), the cv winner's
  fold 0 model (trained on 4/5 of the non-test rows; its reported dev J is the folds' mean);
* the refit's test J: the winner's configuration retrained on every non-test row (``search.refit``), so the two
  modes train on the same rows and differ only in which configuration they chose — does cv choose better?
* wall and CPU seconds of each search, timed in this process, the two modes alternating seed by seed.

Figures are J (cross-entropy) for the classes, and for diabetes RMSE in the target's units: a regression's J is
on targets standardized by each run's own training rows, so two runs' J are not on one scale.

Prints a row per seed, then per table the medians over seeds with bootstrap 95% intervals (of the median,
resampling seeds), and a Markdown table. The test J of the model as searched is computed here from the stored
test rows and ``models/best.npz``, independently of the run's own test figures.

Usage: python benchmarks/bench_honest.py [--seeds 20] [--trials 20] [--epochs 40] [--workers 1] [--quick]
       [--tables wine breast_cancer diabetes noisy_blobs]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "diabetes"))

from make_diabetes import write_diabetes  # noqa: E402

from hpsearch import Execution, SearchResult, start_search  # noqa: E402
from hpsearch.config.search_config import config_from_dict  # noqa: E402
from hpsearch.data.stored_arrays import DATA_DIR, PreparedData  # noqa: E402
from hpsearch.nn import Network  # noqa: E402
from hpsearch.storage.layout import BEST_MODEL, MODELS_DIR  # noqa: E402

TABLES: dict[str, dict[str, Any]] = {
    "wine": {"dataset": "wine"},  # 178 rows, 13 features, 3 classes
    "breast_cancer": {"dataset": "breast_cancer"},  # 569 rows, 30 features, 2 classes
    "diabetes": {"path": "diabetes.csv", "label": "target"},  # 442 rows, 10 features, a number to predict
    "noisy_blobs": {"dataset": "blobs", "samples": 300, "classes": 3, "features": 4, "noise": 9.0},
}
SPACE = {
    "learning_rate": {"scale": "log", "low": 1.0e-4, "high": 0.3},
    "layers": {"scale": "int", "low": 0, "high": 2},  # 0: a linear model
    "hidden_units": {"scale": "int_log", "low": 4, "high": 128, "when": {"layers": [1, 2]}},
    "l2": {"scale": "log", "low": 1.0e-5, "high": 1.0},
    "batch_size": {"choice": [16, 32, 64]},
}
FOLDS = 5
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class Outcome:
    """One search: the winner's reported dev J, the test J of its model as searched and of its refit, the time."""

    dev: float
    test_searched: float
    test_refit: float
    wall: float
    cpu: float
    y_test: np.ndarray

    @property
    def optimism(self) -> float:
        return self.test_searched - self.dev


def config(table: str, seed: int, cv: bool, trials: int, epochs: int, folder: Path) -> Any:
    """The search of ``table`` with data and search seed ``seed``: one dev split, or ``data.cv: 5``."""
    data = {**TABLES[table], "seed": seed, "test_fraction": TEST_FRACTION}
    data.update({"cv": FOLDS} if cv else {"dev_fraction": 0.2})
    raw = {
        "name": f"{table}-{seed}-{'cv' if cv else 'split'}",
        "data": data,
        "model": {"optimizer": "adam", "epochs": epochs, "batchnorm": False},
        "space": SPACE,
        "search": {"trials": trials, "seed": seed, "refit": True},
    }
    return config_from_dict(raw, source="bench_honest", base_dir=folder)


def search(table: str, seed: int, cv: bool, args: argparse.Namespace, folder: Path) -> Outcome:
    """Run one search and score its winner's model (as searched, and refit) on the test rows: J, or a regression's
    RMSE in the target's units (J is on targets standardized by each run's own training rows: two runs' J of a
    regression are not on one scale)."""
    settings = config(table, seed, cv, args.trials, args.epochs, folder)
    wall, cpu = time.perf_counter(), time.process_time()
    result: SearchResult = start_search(settings, runs_dir=folder / "runs", execution=Execution(workers=args.workers))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    best = result.best
    if best is None or result.test is None or not result.test.refit:
        raise SystemExit(f"{table} seed {seed}: no refit winner scored on the test part")
    prepared = PreparedData(str(result.run_dir / DATA_DIR))
    X_test, y_test = prepared.test_rows() or (None, None)
    searched = Network.load(result.run_dir / MODELS_DIR / BEST_MODEL).metrics(X_test, y_test)
    dataset = prepared.load()
    if dataset.target_scale is None:
        return Outcome(best.dev_cost, float(searched["dev_cost"]), result.test.cost, wall, cpu, y_test)
    raw = y_test.reshape(len(y_test), -1) * dataset.target_scale + dataset.target_mean  # the labels as in the file
    return Outcome(best.metrics["dev_rmse"], float(searched["dev_rmse"]), result.test.rmse, wall, cpu, raw)


def median_interval(values: Sequence[float], rng: np.random.Generator, repeats: int = 2000) -> tuple[float, ...]:
    """The median of ``values`` and a bootstrap 95% interval of it (percentiles of resampled medians)."""
    array = np.asarray(values, dtype=float)
    medians = np.median(rng.choice(array, size=(repeats, len(array)), replace=True), axis=1)
    return float(np.median(array)), float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


def shown(name: str, figures: tuple[float, ...]) -> str:
    """``0.123 [0.101, 0.150]``: signed for the differences, two digits for the time ratios."""
    digits, sign = (
        (2, "") if name.startswith(("wall", "CPU")) else (3, "+" if "optimism" in name or "−" in name else "")
    )
    median, low, high = figures
    return f"{median:{sign}.{digits}f} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def run_table(table: str, args: argparse.Namespace, folder: Path, rng: np.random.Generator) -> dict[str, str]:
    """Both modes over every seed of ``table``: a row per seed, then the medians; returns the summary cells."""
    print(f"\n{table}: {args.trials} random trials, {args.epochs} epochs, test part {TEST_FRACTION:.0%}")
    print(
        f"{'seed':>4} {'split dev':>9} {'test':>8} {'refit':>8} {'wall s':>6} | "
        f"{'cv5 dev':>8} {'test':>8} {'refit':>8} {'wall s':>6}"
    )
    pairs = []
    for seed in range(args.seeds):
        split = search(table, seed, False, args, folder)
        cv = search(table, seed, True, args, folder)
        if not np.allclose(split.y_test, cv.y_test, rtol=1e-12, atol=1e-9):
            raise SystemExit(f"{table} seed {seed}: the two modes' test rows differ")
        pairs.append((split, cv))
        print(
            f"{seed:>4} {split.dev:>9.4g} {split.test_searched:>8.4g} {split.test_refit:>8.4g} {split.wall:>6.1f} | "
            f"{cv.dev:>8.4g} {cv.test_searched:>8.4g} {cv.test_refit:>8.4g} {cv.wall:>6.1f}",
            flush=True,
        )
    figures = {
        "optimism, one split": median_interval([s.optimism for s, _ in pairs], rng),
        "optimism, cv 5": median_interval([c.optimism for _, c in pairs], rng),
        "refit test, one split": median_interval([s.test_refit for s, _ in pairs], rng),
        "refit test, cv 5": median_interval([c.test_refit for _, c in pairs], rng),
        "refit test, cv 5 − split": median_interval([c.test_refit - s.test_refit for s, c in pairs], rng),
        "wall, cv 5 / split": median_interval([c.wall / s.wall for s, c in pairs], rng),
        "CPU, cv 5 / split": median_interval([c.cpu / s.cpu for s, c in pairs], rng),
    }
    better = sum(c.test_refit < s.test_refit for s, c in pairs)
    print(f"{table}: medians over {len(pairs)} seeds [bootstrap 95% interval]")
    for name, values in figures.items():
        print(f"  {name:<28} {shown(name, values)}")
    print(f"  cv 5's winner has the lower refit test figure in {better} of {len(pairs)} seeds")
    worst = [max(outcome.test_refit for outcome in mode) for mode in zip(*pairs)]
    print(f"  worst refit test figure over the seeds: one split {worst[0]:.4g}, cv 5 {worst[1]:.4g}")
    return {name: shown(name, values) for name, values in figures.items()} | {"cv better": f"{better}/{len(pairs)}"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="data and search seeds 0..N-1 (default 20)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 seeds, 3 trials, 3 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.trials, args.epochs = min(args.seeds, 2), 3, 3
    print(
        f"bench_honest: {len(args.tables)} tables x {args.seeds} seeds, one dev split against data.cv: {FOLDS}, "
        f"{args.workers} worker(s). Figures are J (cross-entropy) for classes, RMSE in the target's units for "
        "diabetes. Timings on a shared, loaded machine: read the ratios, not the seconds."
    )
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    rows = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_diabetes(folder / "diabetes.csv")
        for table in args.tables:
            rows[table] = run_table(table, args, folder, rng)
    columns = list(next(iter(rows.values())))
    print(f"\n| table | {' | '.join(columns)} |")
    print(f"|---|{'---|' * len(columns)}")
    for table, cells in rows.items():
        print(f"| {table} | {' | '.join(cells[c] for c in columns)} |")
    print(f"\ntotal wall {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
