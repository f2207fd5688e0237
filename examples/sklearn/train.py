"""The command form: a script that takes its hyperparameters as arguments and prints one JSON line.

    python train.py --C 10 --gamma 0.001
    {"val_accuracy": 0.98, "train_accuracy": 1.0, "support_vectors": 700}

hpsearch runs it once per trial (configs/sklearn-command.yaml) and reads the
last JSON line holding the metric. HPSEARCH_SEED is the trial's seed.
"""

from __future__ import annotations

import argparse
import json
import os

from digits_svm import fit_and_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, required=True, help="inverse regularization strength")
    parser.add_argument("--gamma", type=float, required=True, help="RBF kernel width")
    args = parser.parse_args()
    seed = int(os.environ.get("HPSEARCH_SEED", "0"))
    print(json.dumps(fit_and_score(args.C, args.gamma, seed)))


if __name__ == "__main__":
    main()
