"""Regression: a linear head on standardized targets, its gradient, metrics in target units, persistence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.core.records import TrialStatus
from hpsearch.data.datasets import target_standardization
from hpsearch.nn import ModelConfig, Network, TrainingState, fit, start, train
from hpsearch.nn.gradcheck import check_network_gradients
from hpsearch.nn.heads import LinearHead, SoftmaxHead, make_head
from hpsearch.nn.losses import squared_error_backward, squared_error_forward
from hpsearch.nn.metrics import r2, rmse, to_target_units
from hpsearch.nn.stacked import fit_stacked, stack_key
from hpsearch.nn.state import HISTORY_KEYS, REGRESSION_KEYS, history_keys
from tests.nn.test_state import assert_same_training

TOLERANCE = 1e-6


def regression_data(targets: np.ndarray, X: np.ndarray, n_train: int, names: tuple[str, ...] | None = None) -> Dataset:
    """A regression Dataset: raw targets standardized with the first ``n_train`` rows, as the data layer does."""
    raw = targets.reshape(len(targets), -1)
    mean, scale = target_standardization(raw[:n_train])
    y = (raw - mean) / scale
    names = names or tuple(f"t{j}" for j in range(raw.shape[1]))
    return Dataset(
        "linear",
        X[:n_train],
        y[:n_train],
        X[n_train:],
        y[n_train:],
        (),
        task="regression",
        target_names=names,
        target_mean=mean,
        target_scale=scale,
    )


def linear_problem(n_targets: int = 1, rows: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """5 standard-normal features, targets ``X w + c`` plus noise of 2% of their spread."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 5))
    W = rng.standard_normal((5, n_targets)) * np.array([3.0, 50.0][:n_targets])
    T = X @ W + np.array([10.0, -400.0][:n_targets])
    T += 0.02 * T.std(axis=0) * rng.standard_normal(T.shape)
    return X, T


ADAM = ModelConfig(hidden=(16,), optimizer="adam", learning_rate=0.01, epochs=30, batch_size=32, seed=1)


# ------------------------------------------------------------------ the head


def test_squared_error_and_its_gradient_by_hand() -> None:
    outputs = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    Y = np.array([[0.0, 2.0], [1.5, 1.0], [1.0, 0.0]])
    cache: dict = {}
    # residuals (1, 0), (-1, -2), (2, 0): squares sum to 1 + 5 + 4 = 10; J = 10 / (2 * 3)
    assert squared_error_forward(outputs, Y, cache) == pytest.approx(10 / 6, rel=1e-15)
    np.testing.assert_allclose(squared_error_backward(cache), (outputs - Y) / 3, rtol=1e-15)


def _randomized(config: ModelConfig, n_features: int, n_targets: int) -> Network:
    """A float64 regression network with biases, gamma and beta moved off 0 / 1."""
    network = Network.init(n_features, n_targets, config, make_head("regression", n_targets))
    rng = np.random.default_rng(7)
    for name, array in network.params.items():
        if not name.startswith("W"):
            array += rng.normal(0.0, 0.5, array.shape)
    return network


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_regression_gradients_match_finite_differences(batchnorm: bool, l2: float, n_targets: int) -> None:
    config = ModelConfig(hidden=(6, 5), activation="tanh", batchnorm=batchnorm, l2=l2, dtype="float64", seed=3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 4))
    network = _randomized(config, 4, n_targets)
    Y = network.targets(rng.standard_normal((10, n_targets)))

    errors = check_network_gradients(network, X, Y)

    expected = {"W1", "W2", "W3", "b3"} | ({"gamma1", "beta1", "gamma2", "beta2"} if batchnorm else {"b1", "b2"})
    assert set(errors) == expected
    assert max(errors.values()) < TOLERANCE, errors


def test_regression_gradients_through_dropout_match_finite_differences() -> None:
    config = ModelConfig(hidden=(8, 6), keep_prob=0.6, l2=0.1, dtype="float64", seed=1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 3))
    network = _randomized(config, 3, 2)
    errors = check_network_gradients(network, X, network.targets(rng.standard_normal((12, 2))), dropout_seed=5)
    assert max(errors.values()) < TOLERANCE, errors


# ------------------------------------------------------------------ metrics


def test_rmse_and_r2_by_hand() -> None:
    actual = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])
    predicted = np.array([[1.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    # column 0: squared errors 0, 0, 1 → RMSE sqrt(1/3); total sum of squares 2 → R² 1/2
    # column 1: constant and predicted exactly → RMSE 0, R² 1
    assert rmse(predicted, actual) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert r2(predicted, actual) == pytest.approx((0.5 + 1.0) / 2)
    predicted[0, 1] = 11.0  # a constant column predicted wrong: R² 0 (finite)
    assert r2(predicted, actual) == pytest.approx(0.25)
    assert math.isnan(r2(np.full_like(actual, np.nan), actual))


def test_standardization_maps_back() -> None:
    raw = np.array([[1.0, 5.0], [3.0, 5.0], [8.0, 5.0]])
    mean, scale = target_standardization(raw)
    np.testing.assert_allclose(mean, [4.0, 5.0])
    assert scale[1] == 1.0  # a constant column keeps scale 1
    np.testing.assert_allclose(to_target_units((raw - mean) / scale, mean, scale), raw, rtol=1e-15)


# ----------------------------------------------------------------- training


def test_adam_fits_a_linear_target_with_dev_r2_above_095() -> None:
    X, T = linear_problem()
    data = regression_data(T, X, 400)
    epochs: list[dict[str, float]] = []
    result, network = train(ADAM, data, on_epoch=lambda epoch, values: epochs.append(values))

    assert result.status is TrialStatus.OK
    assert result.dev_r2 > 0.95 and result.task == "regression"
    assert list(result.history) == [*HISTORY_KEYS, *REGRESSION_KEYS]
    assert all(math.isnan(a) for a in result.history["dev_accuracy"]) and math.isnan(result.dev_accuracy)
    assert list(epochs[-1]) == list(history_keys("regression"))
    # dev metrics in target units agree with predict
    predicted = network.predict(data.X_dev)
    assert predicted.shape == (100, 1)
    assert result.dev_rmse == pytest.approx(float(np.sqrt(np.mean((predicted - T[400:]) ** 2))), rel=1e-9)
    assert result.dev_r2 == pytest.approx(
        1 - np.sum((predicted - T[400:]) ** 2) / np.sum((T[400:] - T[400:].mean()) ** 2)
    )
    # dev_cost is J on standardized targets, without L2, as for a classifier
    assert result.dev_cost == pytest.approx(network.cost(data.X_dev, data.y_dev), rel=1e-12)
    assert result.to_dict()["dev_r2"] == result.dev_r2


def test_predictions_follow_the_target_units() -> None:
    """Trained on y and on 1000·y, predictions are 1000× apart: standardization removes the units."""
    X, T = linear_problem(rows=300)
    config = ModelConfig(hidden=(8,), optimizer="adam", learning_rate=0.01, epochs=5, batchnorm=True, dtype="float64")
    _, small = train(config, regression_data(T, X, 240))
    _, large = train(config, regression_data(1000.0 * T, X, 240))
    np.testing.assert_allclose(large.predict(X[240:]), 1000.0 * small.predict(X[240:]), rtol=1e-9)


def test_two_target_columns_in_different_units() -> None:
    X, T = linear_problem(n_targets=2)
    data = regression_data(T, X, 400, ("price", "weight"))
    assert (data.n_outputs, data.n_classes) == (2, 0)
    result, network = train(ADAM, data)
    predicted = network.predict(data.X_dev)
    assert predicted.shape == (100, 2)
    assert result.dev_r2 > 0.95
    for j in range(2):  # each column in its own units
        assert r2(predicted[:, [j]], T[400:, [j]]) > 0.95
    np.testing.assert_allclose(predicted.mean(axis=0), T[400:].mean(axis=0), rtol=0.05)


def test_a_diverging_regression_is_detected_as_before() -> None:
    X, T = linear_problem(rows=200)
    config = ModelConfig(hidden=(16, 16), optimizer="gd", learning_rate=50.0, epochs=20)
    result, _ = train(config, regression_data(T, X, 160))
    assert result.status is TrialStatus.DIVERGED
    assert result.epochs_run < 20


def test_data_of_the_other_task_or_width_is_refused() -> None:
    X, T = linear_problem(n_targets=2, rows=60)
    regression = regression_data(T, X, 40)
    classification = Dataset("c", X[:40], np.arange(40) % 2, X[40:], np.arange(20) % 2, ("a", "b"))
    with pytest.raises(DataError, match="is for classification; this training state is a regression"):
        fit(start(ModelConfig(hidden=(4,)), regression), classification, 1)
    no_names = Dataset("n", X[:40], regression.y_train, X[40:], regression.y_dev, (), task="regression")
    with pytest.raises(DataError, match="one column per target name"):
        start(ModelConfig(hidden=(4,)), no_names)
    with pytest.raises(DataError, match="task must be one of"):
        start(
            ModelConfig(hidden=(4,)),
            Dataset("r", X[:40], regression.y_train, X[40:], regression.y_dev, (), task="rank"),
        )
    one_target = regression_data(T[:, 0], X, 40)
    with pytest.raises(DataError, match="1 targets; this training state has 5 and 2"):
        fit(start(ModelConfig(hidden=(4,)), regression), one_target, 1)


def test_a_regression_network_has_no_classes() -> None:
    network = Network.init(3, 1, ModelConfig(hidden=(4,)), make_head("regression", 1))
    assert network.task == "regression" and isinstance(network.head, LinearHead)
    with pytest.raises(ValueError, match="no class probabilities"):
        network.predict_proba(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no accuracy"):
        network.evaluate(np.zeros((2, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="target_scale must be positive"):
        make_head("regression", 1, np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="regression networks only"):
        make_head("classification", 2, np.zeros(2), np.ones(2))
    assert isinstance(Network.init(3, 2, ModelConfig(hidden=(4,))).head, SoftmaxHead)


# -------------------------------------------------------------- persistence


def test_a_saved_regression_network_predicts_the_same(tmp_path: Path) -> None:
    X, T = linear_problem(n_targets=2, rows=200)
    data = regression_data(T, X, 160)
    _, network = train(ModelConfig(hidden=(6,), batchnorm=True, epochs=3), data)
    state = network.state()
    assert str(state["task"]) == "regression"
    np.testing.assert_array_equal(state["target_mean"], data.target_mean)
    network.save(tmp_path / "model.npz")
    loaded = Network.load(tmp_path / "model.npz")
    assert loaded.task == "regression"
    np.testing.assert_array_equal(loaded.predict(data.X_dev), network.predict(data.X_dev))

    state["task"] = np.array("ranking")
    with pytest.raises(DataError, match="ranking"):
        Network.from_state(state)
    del state["task"], state["target_scale"]  # without 'task': a classifier, as files written before regression
    assert Network.from_state(state).task == "classification"
    state["task"] = np.array("regression")
    with pytest.raises(DataError, match="target_scale"):
        Network.from_state(state)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_a_regression_training_state_resumes_bit_for_bit(optimizer: str, tmp_path: Path) -> None:
    X, T = linear_problem(rows=120)
    data = regression_data(T, X, 90)
    config = ModelConfig(
        hidden=(6,),
        optimizer=optimizer,
        learning_rate=0.01,
        batchnorm=True,
        keep_prob=0.8,
        l2=0.01,
        lr_decay="inverse_time",
        batch_size=20,
        epochs=12,
        dtype="float32",
        seed=4,
    )
    straight = fit(start(config, data, keep_best=True), data, 12)
    fit(start(config, data, keep_best=True), data, 5).save(tmp_path / "paused.npz")
    resumed = fit(TrainingState.load(tmp_path / "paused.npz"), data, 12)

    assert_same_training(resumed, straight)
    assert list(resumed.history) == list(history_keys("regression"))
    assert resumed.network.task == "regression"
    np.testing.assert_array_equal(resumed.network.head.target_scale, data.target_scale)
    assert json.dumps(resumed.result().to_dict()["history"]) == json.dumps(straight.result().to_dict()["history"])


# ------------------------------------------------------------------ stacking


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("batchnorm, keep_prob, dtype", [(True, 0.8, "float32"), (False, 1.0, "float64")])
def test_each_regression_of_a_pack_equals_training_it_alone(optimizer, batchnorm, keep_prob, dtype) -> None:
    """Regression stacks as classification does: every model of a pack has the bits it has alone."""
    X, T = linear_problem(n_targets=2, rows=90)
    data = regression_data(T, X, 61)
    configs = [
        ModelConfig(
            hidden=(6, 4),
            optimizer=optimizer,
            learning_rate=0.01 * (1 + i),
            batchnorm=batchnorm,
            keep_prob=keep_prob,
            l2=0.01 * (i + 1),
            bn_momentum=0.9 - 0.1 * i,
            beta=0.8 + 0.05 * i,
            beta1=0.85 + 0.04 * i,
            lr_decay=("none", "inverse_time", "exponential")[i],
            batch_size=20,
            epochs=5,
            dtype=dtype,
            seed=3 + i,
        )
        for i in range(3)
    ]
    assert len({stack_key(config, 5, 2, "regression") for config in configs}) == 1
    assert stack_key(configs[0], 5, 2, "regression") != stack_key(configs[0], 5, 2)
    packed = [start(config, data, keep_best=True) for config in configs]
    fit_stacked(packed, data, [5, 3, 5])
    for config, state, until in zip(configs, packed, [5, 3, 5]):
        alone = fit(start(config, data, keep_best=True), data, until)
        assert_same_training(state, alone)
        assert list(state.history) == list(history_keys("regression"))


def test_regression_and_classification_do_not_share_a_pack() -> None:
    config = ModelConfig(hidden=(4,))
    X, T = linear_problem(rows=60)
    data = regression_data(T, X, 40)
    classes = Dataset("c", X[:40], (T[:40, 0] > 10).astype(int), X[40:], (T[40:, 0] > 10).astype(int), ("a", "b"))
    states = [start(config, data), start(ModelConfig(hidden=(4,), seed=2), classes)]
    with pytest.raises(ValueError, match="stack_key"):
        fit_stacked(states, data, 2)
    assert all(state.epoch == 0 for state in states)
