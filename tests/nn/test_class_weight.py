"""model.class_weight: balanced — the weights, the weighted cost by hand, its gradient, and packs bit for bit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import ConfigError
from hpsearch.nn import ModelConfig, Network, fit, start
from hpsearch.nn.gradcheck import check_network_gradients
from hpsearch.nn.heads import make_head
from hpsearch.nn.losses import class_weights
from hpsearch.nn.stacked import fit_stacked
from tests.nn.test_gradients import TOLERANCE, _randomized_network
from tests.nn.test_stacked import assert_same, pack_configs

LABELS = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 1])  # 8, 3, 1 rows of 12


def test_balanced_weights_are_n_over_classes_times_count() -> None:
    # 12 rows, 3 classes: 12 / (3 * 8), 12 / (3 * 3), 12 / (3 * 1); a class with no row weighs 1
    np.testing.assert_allclose(class_weights(LABELS, 3), [0.5, 12 / 9, 4.0])
    np.testing.assert_allclose(class_weights(LABELS, 4), [12 / 32, 1.0, 3.0, 1.0])
    assert np.mean(class_weights(LABELS, 3)[LABELS]) == pytest.approx(1.0)  # they average 1 over the rows


def _weighted_config(**extra) -> ModelConfig:
    return ModelConfig(hidden=(6, 5), dtype="float64", seed=3, class_weight="balanced", **extra)


def test_weighted_cost_is_the_weighted_cross_entropy_by_hand() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 4))
    network = Network.init(4, 3, _weighted_config(batchnorm=False))
    Y = network.targets(LABELS)
    cost = network.loss_and_gradients(X, Y, network.params.zeros_like(network.params), network.new_caches())

    logits = network.forward(X, network.new_caches(), train=True)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    weights = np.array([0.5, 4 / 3, 4.0])[LABELS]
    assert cost == pytest.approx(np.sum(weights * -log_probs[np.arange(12), LABELS]) / 12, rel=1e-12)
    unweighted = np.mean(-log_probs[np.arange(12), LABELS])
    assert cost != pytest.approx(unweighted)
    # the dev J a run reports is not weighted: it compares with an unweighted run's
    assert network.metrics(X, LABELS)["dev_cost"] == pytest.approx(unweighted, rel=1e-12)


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_weighted_gradients_match_finite_differences(batchnorm: bool, l2: float) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 4))
    network = _randomized_network(_weighted_config(batchnorm=batchnorm, l2=l2), 4, 3)
    errors = check_network_gradients(network, X, network.targets(LABELS))
    assert max(errors.values()) < TOLERANCE, errors


def _imbalanced(train_rows: int = 41, dev_rows: int = 12) -> Dataset:
    rng = np.random.default_rng(5)
    y = np.where(rng.random(train_rows + dev_rows) < 0.75, 0, rng.integers(1, 3, train_rows + dev_rows))
    X = rng.standard_normal((3, 4))[y] * 2.0 + rng.standard_normal((len(y), 4))
    return Dataset("imbalanced", X[:train_rows], y[:train_rows], X[train_rows:], y[train_rows:], ("a", "b", "c"))


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_weighted_pack_trains_each_model_bit_for_bit_as_alone(optimizer: str, dtype: str) -> None:
    data = _imbalanced()
    configs = [replace(c, class_weight="balanced") for c in pack_configs(optimizer, 1, True, True, dtype)]
    packed = [start(c, data) for c in configs]
    fit_stacked(packed, data, until_epoch=4)
    for config, state in zip(configs, packed):
        alone = fit(start(config, data), data, until_epoch=4)
        assert_same(state, alone)


def test_weighting_changes_training_and_not_the_saved_default() -> None:
    data = _imbalanced()
    plain = ModelConfig(hidden=(6,), epochs=3, seed=2, batch_size=20)
    weighted = fit(start(replace(plain, class_weight="balanced"), data), data, until_epoch=3)
    unweighted = fit(start(plain, data), data, until_epoch=3)
    assert weighted.history["train_cost"] != unweighted.history["train_cost"]
    assert "class_weight" not in str(unweighted.network.state()["config"])  # files saved as before the key
    assert Network.from_state(weighted.network.state()).head.balanced  # a resumed state weighs as it did


def test_a_regression_network_refuses_class_weights() -> None:
    with pytest.raises(ConfigError, match="class_weight"):
        Network.init(3, 1, ModelConfig(hidden=(4,), class_weight="balanced"), make_head("regression", 1))
