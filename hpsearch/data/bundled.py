"""scikit-learn's bundled datasets, read from its data files without importing scikit-learn.

Importing ``sklearn.datasets`` costs about 1.6 s (it pulls in scipy), several times
the rest of a small search's start-up, only to read a few hundred kilobytes of CSV.
So the files are located with ``importlib.util.find_spec`` (which finds the
package without executing it) and parsed here as its loaders parse them: a header
line ``rows,features,class names...`` then one row per sample with its class id
last (digits: gzip, no header). The arrays equal ``sklearn.datasets.load_<name>``'s
bit for bit, which ``tests/test_data.py`` checks against scikit-learn itself.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpsearch.core.errors import DataError, MissingDependencyError


@dataclass(frozen=True)
class _Bundled:
    """Where one set lies under ``sklearn/datasets/data`` and the names its loader adds."""

    file: str
    features: tuple[str, ...]
    classes: tuple[str, ...] | None = None  # None: the file's header names them


def _breast_cancer_features() -> tuple[str, ...]:
    """``mean radius``, ..., ``worst fractal dimension``: 10 measures, each as mean, error and worst."""
    measures = (
        "radius texture perimeter area smoothness compactness concavity",
        "concave points",
        "symmetry",
        "fractal dimension",
    )
    names = (*measures[0].split(), *measures[1:])
    return (*(f"mean {m}" for m in names), *(f"{m} error" for m in names), *(f"worst {m}" for m in names))


_SETS: dict[str, _Bundled] = {
    "digits": _Bundled(
        "digits.csv.gz", tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)), tuple(map(str, range(10)))
    ),
    "iris": _Bundled("iris.csv", ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")),
    "wine": _Bundled(
        "wine_data.csv",
        (
            *"alcohol malic_acid ash alcalinity_of_ash magnesium total_phenols flavanoids".split(),
            *"nonflavanoid_phenols proanthocyanins color_intensity hue od280/od315_of_diluted_wines proline".split(),
        ),
    ),
    "breast_cancer": _Bundled("breast_cancer.csv", _breast_cancer_features()),
}


def data_folder() -> Path | None:
    """scikit-learn's ``datasets/data`` folder, found without importing scikit-learn; None when it is not installed."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):  # a broken entry in sys.modules
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def load_bundled(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """scikit-learn's bundled set ``name``: X (m, n) float64, y (m,) int64, class names, feature names.

    Raises
    ------
    MissingDependencyError : scikit-learn is not installed.
    DataError : its file is missing or not in the expected shape (a scikit-learn that changed its files).
    """
    folder = data_folder()
    if folder is None:
        raise MissingDependencyError("scikit-learn", "sklearn", f"dataset '{name}'")
    bundled = _SETS[name]
    path = folder / bundled.file
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                table = np.loadtxt(stream, delimiter=",", ndmin=2)
            classes = bundled.classes
            shape = (len(table), len(bundled.features))
        else:
            with path.open("r", encoding="utf-8") as stream:
                header = stream.readline().strip().split(",")
                table = np.loadtxt(stream, delimiter=",", ndmin=2)
            classes = tuple(header[2:])
            shape = (int(header[0]), int(header[1]))
    except (OSError, ValueError) as error:
        raise DataError(f"scikit-learn's file for dataset '{name}' could not be read ({path}): {error}") from None
    if table.shape != (shape[0], len(bundled.features) + 1) or shape[1] != len(bundled.features) or classes is None:
        raise DataError(f"scikit-learn's file for dataset '{name}' ({path}) is not in the expected shape")
    X = np.ascontiguousarray(table[:, :-1])
    return X, table[:, -1].astype(np.int64), classes, bundled.features
