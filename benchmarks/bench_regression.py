"""Regression on scikit-learn's diabetes data: the best of a hpsearch search against scikit-learn's RidgeCV
and MLPRegressor at its defaults, on the same train/dev split, dev RMSE in the target's own units.

The search is ``examples/diabetes/diabetes.yaml`` (40 trials unless --trials says otherwise). The baselines
train on exactly the arrays the search trained on (the run's prepared features: standardized with the
training part; the targets in their own units). Each search seed is one run; the table shows each, then
the median.

Usage: python benchmarks/bench_regression.py [--trials 40] [--search-seeds 0 1 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "diabetes"))

from make_diabetes import write_diabetes  # noqa: E402

from hpsearch.config.loading import load_config  # noqa: E402
from hpsearch.data.datasets import load_dataset  # noqa: E402
from hpsearch.search.api import Execution, start_search  # noqa: E402


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.ravel(predicted) - np.ravel(actual)) ** 2)))


def baselines(config_path: Path) -> dict[str, float]:
    """Dev RMSE of RidgeCV and of MLPRegressor (defaults, seeded) on the search's own split."""
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor

    data = load_dataset(load_config(config_path).resolved_data(), base_dir=config_path.parent)
    y_train = data.y_train[:, 0] * data.target_scale[0] + data.target_mean[0]
    y_dev = data.y_dev[:, 0] * data.target_scale[0] + data.target_mean[0]
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(data.X_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLPRegressor's defaults stop at max_iter=200 with a ConvergenceWarning
        mlp = MLPRegressor(random_state=0).fit(data.X_train, y_train)
    return {
        "RidgeCV": rmse(ridge.predict(data.X_dev), y_dev),
        "MLPRegressor (defaults)": rmse(mlp.predict(data.X_dev), y_dev),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--search-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_diabetes(folder / "diabetes.csv")
        config_path = folder / "diabetes.yaml"
        config_path.write_text((ROOT / "examples" / "diabetes" / "diabetes.yaml").read_text())
        reference = baselines(config_path)
        found = []
        print(f"diabetes, dev RMSE in the target's units; hpsearch: best of {args.trials} trials")
        for seed in args.search_seeds:
            config = load_config(config_path)
            config = replace(config, search=replace(config.search, trials=args.trials, seed=seed))
            result = start_search(
                config, runs_dir=folder / "runs", name=f"diabetes-{seed}", execution=Execution(workers=args.workers)
            )
            best = result.best
            found.append(best.metrics["dev_rmse"] if best and "dev_rmse" in best.metrics else float("nan"))
            print(f"  search seed {seed}: dev RMSE {found[-1]:.2f} (trial {best.trial if best else '-'})")
    print(f"{'method':<26} {'dev RMSE':>9}")
    print(f"{'hpsearch (median)':<26} {statistics.median(found):>9.2f}")
    for name, value in reference.items():
        print(f"{name:<26} {value:>9.2f}")


if __name__ == "__main__":
    main()
