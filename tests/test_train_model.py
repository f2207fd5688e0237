"""``hpsearch.train_model``: the library function under ``hpsearch train``, called directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import hpsearch
from hpsearch.cli.main import cli
from hpsearch.core.errors import ConfigError
from hpsearch.predict.model import Model
from hpsearch.predict.training import ModelPlan
from tests.conftest import write_tiny_config


class Recorder:
    """A TrainReporter that keeps what it hears, in order."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []

    def note(self, message: str) -> None:
        self.heard.append(("note", message))

    def training_started(self, plan: ModelPlan) -> None:
        self.heard.append(("started", plan))

    def epoch_finished(self, epoch: int, stats: dict[str, float]) -> None:
        self.heard.append(("epoch", (epoch, stats["dev_cost"])))


def test_train_model_is_what_the_train_command_trains(tmp_path: Path) -> None:
    path = write_tiny_config(tmp_path, epochs=4)
    recorder = Recorder()
    trained = hpsearch.train_model(
        hpsearch.load_config(path), {"learning_rate": 0.05, "beta": 0.5}, save=tmp_path / "lib.npz", reporter=recorder
    )

    cli_result = CliRunner().invoke(
        cli,
        [
            "train",
            str(path),
            "--set",
            "learning_rate=0.05",
            "--set",
            "beta=0.5",
            "--json",
            "--save",
            str(tmp_path / "cli.npz"),
        ],
    )
    assert cli_result.exit_code == 0, cli_result.output
    record = json.loads(cli_result.stdout)
    assert trained.result.history["dev_cost"] == record["history"]["dev_cost"]  # the same model, bit for bit
    assert trained.plan.hyperparams.to_dict() == record["model"]
    assert trained.result.epochs_run == 4 and trained.plan.hyperparams.learning_rate == 0.05

    # The reporter hears the plan before the first epoch, then each epoch once, in order.
    heard = [(kind, value) for kind, value in recorder.heard if kind != "note"]
    assert [kind for kind, _ in heard] == ["started", "epoch", "epoch", "epoch", "epoch"]
    assert [epoch for _, (epoch, _) in heard[1:]] == [0, 1, 2, 3]
    assert [cost for _, (_, cost) in heard[1:]] == record["history"]["dev_cost"]
    plan = heard[0][1]
    sources = {name: source for name, _, source in plan.sources}
    assert sources["learning_rate"] == "--set" and sources["hidden_units"] == "centre of space"
    assert sources["layers"] == "model:" and sources["l2"] == "default"
    assert plan.ignored and plan.ignored[0].startswith("--set beta:")  # the default optimizer has no beta

    # The model saved is the model returned: it predicts the same on new rows.
    rows = np.random.default_rng(0).normal(size=(5, 4))
    saved = Model.load(tmp_path / "lib.npz")
    assert np.array_equal(saved.predict_proba(rows), trained.model.predict_proba(rows))
    assert np.array_equal(Model.load(tmp_path / "cli.npz").predict_proba(rows), saved.predict_proba(rows))


def test_train_model_refuses_an_unknown_name_before_reading_data(tmp_path: Path) -> None:
    path = write_tiny_config(tmp_path)
    config = hpsearch.load_config(path)
    recorder = Recorder()
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        hpsearch.train_model(config, {"learning_rat": 0.1}, reporter=recorder)
    assert recorder.heard == []
