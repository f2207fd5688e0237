"""Early stopping against full training, on the same sampled configurations.

For each problem (scikit-learn's digits, and noisy 3-class spirals) and the same N
random configurations of one search space, 2 loky workers:

(a) full training: every trial to ``epochs``;
(b) successive halving (rungs min_epochs·3^k, keep the best third);
(c) Hyperband over the same N trials;
(d) when Optuna is installed: Optuna's RandomSampler + HyperbandPruner driving our
    engine epoch by epoch through the Python API (``start``/``fit``), on the budget
    of epochs that (b) used — its own random configurations, the same space.

Prints, per problem and method: the best dev J (the last epoch's, the ranking value),
the epochs trained, and the CPU-seconds of training (the sum of every trained epoch's
seconds, each on one BLAS thread); then the ratios the targets are about:
halving's best dev J within 5% of full training's, with at most 40% of its epochs,
and at equal epochs better than Optuna's Hyperband.

Epoch counts and J are deterministic; seconds are not (the machine is shared).
Usage: python benchmarks/bench_search.py [--quick] [--trials N]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hpsearch.config.search_config import config_from_dict
from hpsearch.core.records import TrialStatus
from hpsearch.search.api import Execution, start_search
from hpsearch.storage.layout import RUN_DB

SPACE = {
    "learning_rate": {"scale": "log", "low": 1.0e-4, "high": 1.0},
    "beta1": {"scale": "one_minus_log", "low": 0.8, "high": 0.99},
    "hidden_units": {"scale": "int_log", "low": 16, "high": 256},
    "layers": {"scale": "int", "low": 1, "high": 3},
    "l2": {"scale": "uniform", "low": 0.0, "high": 0.01},
    "batch_size": {"choice": [32, 64, 128]},
}
PROBLEMS = {
    "digits": {"dataset": "digits", "dev_fraction": 0.2, "seed": 0},
    "noisy spirals": {"dataset": "spirals", "classes": 3, "samples": 1500, "noise": 0.4, "seed": 0},
}


def run_search(
    name: str,
    data: dict[str, Any],
    method: str | None,
    trials: int,
    epochs: int,
    min_epochs: int,
    runs: Path,
    *,
    seed: int = 0,
    rank_by: str = "last",
    workers: int = 2,
) -> dict[str, float]:
    search: dict[str, Any] = {"trials": trials, "seed": seed, "workers": workers, "rank_by": rank_by}
    if method:
        search["early_stopping"] = {"method": method, "min_epochs": min_epochs, "eta": 3}
    config = config_from_dict(
        {
            "name": name,
            "data": data,
            "model": {"batchnorm": True, "optimizer": "adam", "epochs": epochs},
            "space": SPACE,
            "search": search,
        }
    )
    result = start_search(config, runs_dir=runs, execution=Execution(workers=workers))
    with sqlite3.connect(result.run_dir / RUN_DB) as db:
        trained, seconds = db.execute("SELECT COUNT(*), SUM(seconds) FROM epochs").fetchone()
    best = result.best
    return {
        "best": best.ranking_value if best else float("nan"),
        "epochs": trained,
        "seconds": seconds,
        "ok": sum(t.status is TrialStatus.OK for t in result.trials),
    }


def run_optuna(data: dict[str, Any], budget: int, epochs: int, min_epochs: int) -> dict[str, float] | None:
    try:
        import optuna
    except ImportError:
        return None
    from hpsearch.data.datasets import DataConfig, load_dataset
    from hpsearch.nn import ModelConfig
    from hpsearch.nn.loop import fit, start

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = load_dataset(DataConfig(**data))
    spent = {"epochs": 0, "seconds": 0.0}

    def objective(trial: Any) -> float:
        values = {
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1.0, log=True),
            "beta1": 1.0 - trial.suggest_float("one_minus_beta1", 0.01, 0.2, log=True),
            "hidden_units": trial.suggest_int("hidden_units", 16, 256, log=True),
            "layers": trial.suggest_int("layers", 1, 3),
            "l2": trial.suggest_float("l2", 0.0, 0.01),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        }
        config = ModelConfig.from_dict(
            {"batchnorm": True, "optimizer": "adam", "epochs": epochs, "seed": trial.number, **values}
        )
        state = start(config, dataset)
        for epoch in range(epochs):
            fit(state, dataset, epoch + 1)
            spent["epochs"] += 1
            spent["seconds"] += state.epoch_seconds[-1]
            cost = state.history["dev_cost"][-1]
            if state.status is TrialStatus.DIVERGED:
                raise optuna.TrialPruned()
            trial.report(cost, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return cost

    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.HyperbandPruner(min_resource=min_epochs, max_resource=epochs, reduction_factor=3),
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread, as each of our workers has
        while spent["epochs"] < budget:
            study.optimize(objective, n_trials=1)
    finished = [t.value for t in study.trials if t.value is not None]
    return {
        "best": min(finished) if finished else float("nan"),
        "epochs": spent["epochs"],
        "seconds": spent["seconds"],
        "ok": len(finished),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="27 trials to 9 epochs instead of 81 to 27")
    parser.add_argument("--trials", type=int, help="trials per search (default 81, or 27 with --quick)")
    args = parser.parse_args()
    trials = args.trials or (27 if args.quick else 81)
    epochs, min_epochs = (9, 1) if args.quick else (27, 3)
    print(f"{trials} trials, {epochs} epochs, rungs from {min_epochs} epochs, eta 3, 2 workers", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for problem, data in PROBLEMS.items():
            rows = {}
            for label, method in (("(a) full", None), ("(b) halving", "halving"), ("(c) hyperband", "hyperband")):
                started = time.perf_counter()
                rows[label] = run_search(label.split()[1], data, method, trials, epochs, min_epochs, Path(folder))
                rows[label]["wall"] = time.perf_counter() - started
            optuna_row = run_optuna(data, rows["(b) halving"]["epochs"], epochs, min_epochs)
            if optuna_row is not None:
                rows["(d) optuna hyperband"] = optuna_row
            print(f"\n{problem}")
            print(f"  {'method':22} {'best dev J':>10} {'epochs':>7} {'CPU s':>7} {'finished':>8}")
            for label, row in rows.items():
                print(f"  {label:22} {row['best']:10.4f} {row['epochs']:7d} {row['seconds']:7.1f} {row['ok']:8d}")
            full, halving = rows["(a) full"], rows["(b) halving"]
            print(
                f"  halving / full: best dev J {halving['best'] / full['best']:.3f}x (target <= 1.05), "
                f"epochs {halving['epochs'] / full['epochs']:.0%} (target <= 40%), "
                f"CPU-seconds {halving['seconds'] / full['seconds']:.0%}"
            )
            if optuna_row is None:
                print("  (d) skipped: pip install optuna to compare with Optuna's HyperbandPruner")
            else:
                print(
                    f"  halving / optuna at {halving['epochs']} vs {optuna_row['epochs']} epochs: best dev J "
                    f"{halving['best'] / optuna_row['best']:.3f}x (target < 1)"
                )


if __name__ == "__main__":
    sys.exit(main())
