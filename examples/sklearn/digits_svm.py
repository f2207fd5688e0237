"""An RBF support-vector classifier on scikit-learn's 8x8 digits: the model both sklearn examples tune.

The split is the same for every trial (seed 0); only the model's own
randomness follows the trial's seed.
"""

from __future__ import annotations

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def fit_and_score(C: float, gamma: float, seed: int = 0) -> dict[str, float]:
    """Train on 80 % of the digits, score on the other 20 %: accuracies and the number of support vectors."""
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    model = SVC(C=C, gamma=gamma, random_state=seed).fit(scaler.transform(X_train), y_train)
    return {
        "val_accuracy": float(model.score(scaler.transform(X_val), y_val)),
        "train_accuracy": float(model.score(scaler.transform(X_train), y_train)),
        "support_vectors": int(model.n_support_.sum()),
    }
