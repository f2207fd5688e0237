"""Training runs: results, divergence, determinism, and that it learns."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.core.records import TrialStatus
from hpsearch.nn import ModelConfig, Network, train
from hpsearch.nn.results import TrainResult


def test_result_holds_one_history_entry_per_epoch_and_reports_each_epoch(blobs) -> None:
    seen: list[tuple[int, dict[str, float]]] = []
    config = ModelConfig(hidden=(8,), epochs=4, lr_decay="inverse_time", learning_rate=0.01)
    result, network = train(config, blobs, on_epoch=lambda epoch, values: seen.append((epoch, values)))

    assert isinstance(result, TrainResult) and result.status is TrialStatus.OK
    assert result.epochs_run == 4 and result.seconds > 0
    assert {k: len(v) for k, v in result.history.items()} == {
        "train_cost": 4,
        "dev_cost": 4,
        "dev_accuracy": 4,
        "learning_rate": 4,
    }
    assert [epoch for epoch, _ in seen] == [0, 1, 2, 3]
    assert [values["learning_rate"] for _, values in seen] == pytest.approx([0.01, 0.005, 0.01 / 3, 0.0025])
    for key in ("train_cost", "dev_cost", "dev_accuracy", "learning_rate"):
        assert [values[key] for _, values in seen] == result.history[key]
        if key != "learning_rate":
            assert getattr(result, key) == result.history[key][-1]
    assert all(isinstance(v, float) for values in result.history.values() for v in values)
    assert result.dev_cost == pytest.approx(network.cost(blobs.X_dev, blobs.y_dev), rel=1e-6)
    assert result.dev_accuracy == np.mean(network.predict(blobs.X_dev) == blobs.y_dev)


def test_train_cost_is_the_mean_of_batch_costs_with_l2_and_dev_cost_has_none(blobs) -> None:
    """One full batch with a learning rate too small to move anything: J is the initial
    network's cost plus (l2 / 2m) sum ||W||^2, while dev cost is the plain cross-entropy."""
    config = ModelConfig(
        hidden=(6,),
        batchnorm=False,
        l2=2.0,
        optimizer="gd",
        learning_rate=1e-12,
        batch_size=10_000,
        epochs=1,
        dtype="float64",
    )
    result, _ = train(config, blobs)
    initial = Network.init(blobs.n_features, blobs.n_classes, config)
    m = len(blobs.y_train)
    squares = sum(float(np.sum(initial.params[w] ** 2)) for w in ("W1", "W2"))
    expected = initial.cost(blobs.X_train, blobs.y_train) + 2.0 / (2 * m) * squares
    assert result.train_cost == pytest.approx(expected, rel=1e-9)
    assert result.dev_cost == pytest.approx(initial.cost(blobs.X_dev, blobs.y_dev), rel=1e-9)


def test_a_huge_learning_rate_diverges_quietly_and_stops(digits) -> None:
    config = ModelConfig(hidden=(64, 64), batchnorm=False, optimizer="gd", learning_rate=10.0, epochs=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarnings either
        result, _ = train(config, digits)
    assert result.status is TrialStatus.DIVERGED
    assert result.epochs_run < 50
    assert len(result.history["train_cost"]) == result.epochs_run
    assert math.isnan(result.train_cost) or result.train_cost > 1e3
    assert isinstance(result.dev_accuracy, float)


def test_nan_features_diverge_instead_of_raising(blobs) -> None:
    X = blobs.X_train.copy()
    X[3, 1] = np.nan
    data = Dataset("nan", X, blobs.y_train, blobs.X_dev, blobs.y_dev, blobs.class_names)
    result, _ = train(ModelConfig(hidden=(4,), epochs=5, batch_size=len(X)), data)
    assert result.status is TrialStatus.DIVERGED and result.epochs_run == 1
    assert math.isnan(result.train_cost)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_config_and_data_give_bit_identical_costs(blobs, dtype: str) -> None:
    config = ModelConfig(hidden=(16, 16), keep_prob=0.8, epochs=3, batch_size=32, dtype=dtype, seed=4)
    first, net_a = train(config, blobs)
    second, net_b = train(config, blobs)
    assert first.history == second.history  # exact float equality
    np.testing.assert_array_equal(net_a.params.flat, net_b.params.flat)
    other, _ = train(ModelConfig(**{**config.to_dict(), "hidden": (16, 16), "seed": 5}), blobs)
    assert other.history["train_cost"] != first.history["train_cost"]


def test_last_partial_batch_is_used(blobs) -> None:
    """400 rows at 20% dev leaves 320: batches of 300 are one full batch and one of 20."""
    config = ModelConfig(hidden=(4,), batchnorm=False, optimizer="gd", learning_rate=0.5, batch_size=300, epochs=1)
    result, _ = train(config, blobs)
    assert result.status is TrialStatus.OK


def test_empty_dev_set_is_a_data_error(blobs) -> None:
    data = Dataset("x", blobs.X_train, blobs.y_train, blobs.X_dev[:0], blobs.y_dev[:0], blobs.class_names)
    with pytest.raises(DataError, match="dev"):
        train(ModelConfig(hidden=(4,)), data)


def test_learns_spirals(spirals) -> None:
    result, _ = train(ModelConfig(hidden=(64, 64), learning_rate=0.01, batch_size=32, epochs=40), spirals)
    assert result.status is TrialStatus.OK
    assert result.dev_accuracy > 0.95


def test_learns_digits(digits) -> None:
    result, _ = train(ModelConfig(hidden=(64,), learning_rate=0.003, batch_size=32, epochs=20), digits)
    assert result.status is TrialStatus.OK
    assert result.dev_accuracy > 0.95


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_every_optimizer_and_activation_reduces_the_cost(blobs, optimizer: str) -> None:
    rate = {"gd": 0.3, "momentum": 0.3, "rmsprop": 0.01, "adam": 0.03}[optimizer]
    for activation in ("relu", "tanh", "leaky_relu"):
        config = ModelConfig(hidden=(16,), optimizer=optimizer, activation=activation, learning_rate=rate, epochs=8)
        result, _ = train(config, blobs)
        assert result.status is TrialStatus.OK
        # chance level is log 4 = 1.39 nats and 25%
        assert result.dev_cost < 0.4 * math.log(4), (activation, result.history["dev_cost"])
        assert result.dev_accuracy > 0.85, activation
