"""Batch norm in training and inference mode, activations and dropout, against their formulas."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import ModelConfig, Network, train
from hpsearch.nn.layers import (
    BN_EPSILON,
    LEAKY_RELU_SLOPE,
    batchnorm_forward,
    dropout_forward,
    leaky_relu_forward,
    relu_forward,
    tanh_forward,
)


def test_batchnorm_training_normalizes_with_batch_statistics_and_updates_running_averages() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(5.0, 3.0, (50, 4))
    gamma, beta = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.0, -1.0, 4.0, 0.5])
    running = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 2.0]])
    before = running.copy()

    out = batchnorm_forward(z, gamma, beta, running, 0.9, True, {})

    mu, var = z.mean(axis=0), z.var(axis=0)  # biased variance, as in the formula
    np.testing.assert_allclose(out, gamma * (z - mu) / np.sqrt(var + BN_EPSILON) + beta, rtol=1e-10)
    np.testing.assert_allclose(running[0], 0.9 * before[0] + 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(running[1], 0.9 * before[1] + 0.1 * var, rtol=1e-12)


def test_batchnorm_inference_uses_running_averages_and_leaves_them_alone() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0.0, 2.0, (6, 3))
    gamma, beta = np.array([1.5, 0.5, 2.0]), np.array([0.1, 0.2, 0.3])
    running = np.array([[0.5, -1.0, 2.0], [4.0, 0.25, 9.0]])
    before = running.copy()

    out = batchnorm_forward(z, gamma, beta, running, 0.9, False, {})

    expected = gamma * (z - running[0]) / np.sqrt(running[1] + BN_EPSILON) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(running, before)


def test_network_inference_equals_the_batchnorm_formula_layer_by_layer() -> None:
    """The whole inference pass, recomputed here by hand from the stored arrays."""
    config = ModelConfig(hidden=(5, 4), batchnorm=True, dtype="float64", seed=2)
    network = Network.init(3, 3, config)
    rng = np.random.default_rng(3)
    for name, array in network.params.items():
        if not name.startswith("W"):
            array[...] = rng.normal(0.0, 1.0, array.shape)
    for stats in network.running.values():
        stats[0] = rng.normal(0.0, 1.0, stats.shape[1])
        stats[1] = rng.uniform(0.5, 2.0, stats.shape[1])
    X = rng.standard_normal((7, 3))

    p, a = network.params, X
    for l in (1, 2):
        mean, var = network.running[l]
        z = a @ p[f"W{l}"]
        a = np.maximum(p[f"gamma{l}"] * (z - mean) / np.sqrt(var + BN_EPSILON) + p[f"beta{l}"], 0.0)
    logits = a @ p["W3"] + p["b3"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    np.testing.assert_allclose(network.predict_proba(X), expected, rtol=1e-10)


def test_a_prediction_does_not_depend_on_the_rest_of_its_batch(blobs) -> None:
    _, network = train(ModelConfig(hidden=(16, 16), batchnorm=True, epochs=3, dtype="float64"), blobs)
    X = blobs.X_dev
    together = network.predict_proba(X)
    alone = np.vstack([network.predict_proba(X[i : i + 1]) for i in range(10)])
    reordered = network.predict_proba(X[::-1])[::-1]
    np.testing.assert_allclose(alone, together[:10], rtol=1e-12)
    np.testing.assert_allclose(reordered, together, rtol=1e-12)


def test_activations() -> None:
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(relu_forward(z, {}), [[0.0, 0.0, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(leaky_relu_forward(z, {}), [[-2 * LEAKY_RELU_SLOPE, -0.5 * LEAKY_RELU_SLOPE, 0, 0.5, 2]])
    np.testing.assert_allclose(tanh_forward(z, {}), np.tanh(z))


def test_relu_propagates_nan() -> None:
    assert np.isnan(relu_forward(np.array([[np.nan, 1.0]]), {})[0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverted_dropout_keeps_the_expected_activation(dtype: type) -> None:
    a = np.ones((400, 50), dtype)
    cache: dict = {}
    out = dropout_forward(a, 0.8, np.random.default_rng(0), cache)
    kept = out != 0
    assert kept.mean() == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(out[kept], 1 / 0.8, rtol=1e-6)
    assert out.mean() == pytest.approx(1.0, abs=0.02)
    assert out.dtype == dtype


def test_dropout_without_a_random_source_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="rng"):
        dropout_forward(np.ones((2, 3)), 0.8, None, {})  # type: ignore[arg-type]
