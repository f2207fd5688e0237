"""Backprop agrees with central differences for every parameter of every architecture."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import ModelConfig, Network
from hpsearch.nn.gradcheck import check_network_gradients, numerical_gradient, relative_error
from hpsearch.nn.losses import one_hot

TOLERANCE = 1e-6


def _randomized_network(config: ModelConfig, n_features: int, n_classes: int) -> Network:
    """A float64 network whose biases, gamma and beta are moved off their initial 0 / 1,
    so the check does not run at a special point where some terms vanish."""
    network = Network.init(n_features, n_classes, config)
    rng = np.random.default_rng(7)
    for name, array in network.params.items():
        if not name.startswith("W"):
            array += rng.normal(0.0, 0.5, array.shape)
    return network


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_every_parameter_gradient_matches_finite_differences(activation: str, batchnorm: bool, l2: float) -> None:
    config = ModelConfig(hidden=(6, 5, 4), activation=activation, batchnorm=batchnorm, l2=l2, dtype="float64", seed=3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 4))
    Y = one_hot(rng.integers(0, 3, 10), 3, np.float64)
    network = _randomized_network(config, 4, 3)

    errors = check_network_gradients(network, X, Y)

    expected = {f"W{l}" for l in range(1, 5)} | {"b4"}
    expected |= {f"{p}{l}" for p in ("gamma", "beta") for l in (1, 2, 3)} if batchnorm else {"b1", "b2", "b3"}
    assert set(errors) == expected
    assert max(errors.values()) < TOLERANCE, errors


def test_gradients_through_dropout_match_finite_differences() -> None:
    config = ModelConfig(hidden=(8, 6), keep_prob=0.6, dtype="float64", seed=1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 3))
    Y = one_hot(rng.integers(0, 4, 12), 4, np.float64)
    errors = check_network_gradients(_randomized_network(config, 3, 4), X, Y, dropout_seed=5)
    assert max(errors.values()) < TOLERANCE, errors


def test_numerical_gradient_of_a_known_function() -> None:
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_relative_error_flags_a_wrong_gradient() -> None:
    good = np.array([1.0, 2.0, 3.0])
    assert relative_error(good, good * (1 + 1e-9)) < 1e-8
    assert relative_error(good, -good) == pytest.approx(1.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_gradient_check_refuses_float32() -> None:
    network = Network.init(2, 2, ModelConfig(hidden=(3,)))
    with pytest.raises(ValueError, match="float64"):
        check_network_gradients(network, np.zeros((2, 2), np.float32), np.eye(2, dtype=np.float32))
