"""The shipped own-objective examples run one trial each through their config (as the runner will)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from hpsearch.config.loading import load_config
from hpsearch.data.datasets import load_dataset
from hpsearch.objectives.evaluate import evaluate

CONFIGS = Path(__file__).parent.parent / "configs"


@pytest.fixture
def venv_python_first(monkeypatch):
    """``python`` in a command is this interpreter, as in an activated virtual environment."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def one_trial(name: str, tmp_path: Path):
    config = load_config(CONFIGS / name)
    params = {**config.model, **config.space.center()}
    return config, evaluate(config.objective, params, seed=0, trial=0, trial_dir=tmp_path / "trial-0")


def test_the_sklearn_examples_score_a_trial_and_both_forms_agree(tmp_path, venv_python_first):
    pytest.importorskip("sklearn", reason="the sklearn examples need scikit-learn (pip install -e '.[sklearn]')")
    results = {}
    for name in ("sklearn-command.yaml", "sklearn-python.yaml"):
        config, result = one_trial(name, tmp_path / name)
        assert config.objective.direction == "maximize"
        assert result.status == "ok", result.error
        assert 0.5 < result.value <= 1.0
        assert set(result.metrics) == {"train_accuracy", "support_vectors"}
        results[config.objective.kind] = result
    assert results["command"].value == results["python"].value
    assert results["command"].metrics == results["python"].metrics


def test_the_pytorch_example_reports_every_epoch(tmp_path, venv_python_first):
    pytest.importorskip("torch", reason="the PyTorch example needs torch (pip install torch); skipped without it")
    pytest.importorskip("sklearn")
    config, result = one_trial("pytorch-epochs.yaml", tmp_path)
    assert result.status == "ok", result.error
    assert [h["epoch"] for h in result.history] == list(range(1, config.model["epochs"] + 1))


def test_the_pytorch_example_without_torch_fails_with_the_install_hint(tmp_path, venv_python_first):
    pytest.importorskip("sklearn")
    try:
        import torch  # noqa: F401
    except ImportError:
        _, result = one_trial("pytorch-epochs.yaml", tmp_path)
        assert result.status == "failed"
        assert "pip install torch" in result.error
    else:
        pytest.skip("torch is installed")


def test_the_diabetes_example_is_a_regression_that_the_auto_rule_finds(tmp_path):
    pytest.importorskip("sklearn", reason="the diabetes example writes scikit-learn's bundled data")
    import runpy

    example = Path(__file__).parent.parent / "examples" / "diabetes"
    make = runpy.run_path(str(example / "make_diabetes.py"))
    make["write_diabetes"](tmp_path / "diabetes.csv")
    (tmp_path / "diabetes.yaml").write_text((example / "diabetes.yaml").read_text())
    config = load_config(tmp_path / "diabetes.yaml")
    data = load_dataset(config.resolved_data(), base_dir=tmp_path)
    assert data.task == "regression" and data.target_names == ("target",)
    assert data.X_train.shape == (354, 10) and len(data.y_dev) == 88  # the index column dropped, 20% held out
    assert any("214 distinct values in 442 rows" in n for n in data.notices)
