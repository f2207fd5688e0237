"""A run ranked by a dev figure other than J keeps its series and its best epoch by it, across save and load."""

from __future__ import annotations

import json

import numpy as np

from hpsearch.nn import ModelConfig, TrainingState, fit, start
from hpsearch.nn.stacked import fit_stacked
from tests.nn.test_class_weight import _imbalanced
from tests.nn.test_stacked import assert_same

CONFIG = ModelConfig(hidden=(6,), epochs=6, seed=4, batch_size=20, learning_rate=0.05)


def test_the_best_epoch_is_best_by_the_metric_and_survives_a_save() -> None:
    data = _imbalanced()
    state = fit(start(CONFIG, data, keep_best=True, best_by="balanced_accuracy"), data, until_epoch=3)
    state = TrainingState.from_arrays(state.to_arrays())  # trained on after a save and a load
    fit(state, data, until_epoch=6)
    series = state.history["dev_balanced_accuracy"]
    assert len(series) == 6 and state.best_epoch == int(np.argmax(series))  # argmax: the earliest of equal bests
    assert state.best_dev_cost == state.history["dev_cost"][state.best_epoch]
    plain = fit(start(CONFIG, data), data, until_epoch=6)
    assert "dev_balanced_accuracy" not in plain.history  # a run ranked by J keeps what it always kept
    assert "best_by" not in json.loads(str(plain.to_arrays()["state"][()]))
    assert plain.history["dev_cost"] == state.history["dev_cost"]  # the training itself is the same


def test_a_pack_keeps_each_model_s_best_by_the_metric_as_alone() -> None:
    data = _imbalanced()
    configs = [ModelConfig(hidden=(6,), batch_size=20, seed=s, learning_rate=0.02 * (s + 1)) for s in range(3)]
    packed = [start(c, data, keep_best=True, best_by="f1_macro") for c in configs]
    fit_stacked(packed, data, until_epoch=5)
    for config, state in zip(configs, packed):
        assert_same(state, fit(start(config, data, keep_best=True, best_by="f1_macro"), data, until_epoch=5))
