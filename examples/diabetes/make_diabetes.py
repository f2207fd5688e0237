"""Write diabetes.csv: scikit-learn's bundled diabetes data, as a person would have it.

Nothing is downloaded: the 442 patients ship inside scikit-learn's package. The
file is written the way ``DataFrame.to_csv(path)`` writes it (pandas' unnamed
index column first), with the raw, unscaled features and the integer target —
a disease-progression measure one year on, 214 distinct values in 442 rows:
a number to predict, not classes.

    python examples/diabetes/make_diabetes.py        # needs scikit-learn: pip install 'hpsearch[sklearn]'
"""

from __future__ import annotations

import csv
from pathlib import Path


def write_diabetes(path: Path) -> Path:
    """Write the diabetes CSV to ``path`` and return it."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["", *bunch.feature_names, "target"])
        for k, (row, target) in enumerate(zip(bunch.data, bunch.target)):
            writer.writerow([k, *(f"{v:g}" for v in row), int(target)])
    return path


if __name__ == "__main__":
    print(f"wrote {write_diabetes(Path(__file__).with_name('diabetes.csv'))}")
