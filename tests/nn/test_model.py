"""Network construction, persistence, and the no-allocation training step."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from hpsearch.core.errors import DataError
from hpsearch.nn import ModelConfig, Network, train
from hpsearch.nn.losses import one_hot
from hpsearch.nn.parameters import Parameters


def test_parameters_of_a_batchnorm_net_have_no_hidden_bias() -> None:
    net = Network.init(4, 3, ModelConfig(hidden=(5, 6), batchnorm=True))
    assert set(net.params) == {"W1", "W2", "W3", "gamma1", "beta1", "gamma2", "beta2", "b3"}
    assert [net.params[f"W{l}"].shape for l in (1, 2, 3)] == [(4, 5), (5, 6), (6, 3)]
    np.testing.assert_array_equal(net.params["gamma2"], np.ones(6))
    np.testing.assert_array_equal(net.running[1], [np.zeros(5), np.ones(5)])


def test_parameters_without_batchnorm() -> None:
    net = Network.init(4, 3, ModelConfig(hidden=(5,), batchnorm=False, dtype="float64"))
    assert set(net.params) == {"W1", "b1", "W2", "b2"}
    assert net.running == {} and net.dtype == np.float64


@pytest.mark.parametrize("activation, gain", [("relu", 2.0), ("leaky_relu", 2.0), ("tanh", 1.0)])
def test_initialization_scale_is_he_for_relu_and_xavier_for_tanh(activation: str, gain: float) -> None:
    net = Network.init(400, 10, ModelConfig(hidden=(300, 300), activation=activation, seed=1))
    assert net.params["W1"].var() == pytest.approx(gain / 400, rel=0.03)
    assert net.params["W2"].var() == pytest.approx(gain / 300, rel=0.03)
    assert net.params["W3"].var() == pytest.approx(1 / 300, rel=0.05)  # softmax layer: Xavier
    assert abs(net.params["W1"].mean()) < 0.01


def test_initialization_is_seeded() -> None:
    a, b, c = (Network.init(3, 2, ModelConfig(hidden=(4,), seed=s)) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert not np.array_equal(a.params.flat, c.params.flat)


def test_save_and_load_give_identical_predictions(tmp_path, blobs) -> None:
    config = ModelConfig(hidden=(16, 8), batchnorm=True, epochs=3, l2=0.01, activation="tanh")
    _, network = train(config, blobs)
    path = tmp_path / "best.npz"
    network.save(path)
    loaded = Network.load(path)

    assert loaded.config == config
    np.testing.assert_array_equal(loaded.predict_proba(blobs.X_dev), network.predict_proba(blobs.X_dev))
    for l in (1, 2):
        np.testing.assert_array_equal(loaded.running[l], network.running[l])
        assert not np.array_equal(network.running[l][1], np.ones(network.running[l].shape[1]))  # really trained


def test_state_holds_plain_arrays_only(blobs) -> None:
    _, network = train(ModelConfig(hidden=(4,), epochs=1), blobs)
    state = network.state()
    assert {"W1", "W2", "b2", "gamma1", "beta1", "running_mean1", "running_var1", "config"} == set(state)
    assert all(array.dtype != object for array in state.values())
    assert state["config"].shape == () and state["config"].dtype.kind == "U"
    rebuilt = Network.from_state(state)
    np.testing.assert_array_equal(rebuilt.predict(blobs.X_dev), network.predict(blobs.X_dev))


def test_loading_a_bad_file_names_it(tmp_path) -> None:
    not_npz = tmp_path / "model.npz"
    not_npz.write_text("hello")
    with pytest.raises(DataError, match="model.npz"):
        Network.load(not_npz)
    np.save(tmp_path / "weights.npy", np.zeros(3))  # an .npy loads as a bare array, not an archive
    with pytest.raises(DataError, match="weights.npy"):
        Network.load(tmp_path / "weights.npy")
    state = Network.init(3, 2, ModelConfig(hidden=(4,))).state()
    del state["running_var1"]
    incomplete = tmp_path / "incomplete.npz"
    np.savez(incomplete, **state)
    with pytest.raises(DataError, match="incomplete.npz.*running_var1"):
        Network.load(incomplete)
    state["config"] = np.array("{not json")
    with pytest.raises(DataError, match="config"):
        Network.from_state(state)


def test_predict_is_the_argmax_of_predict_proba_and_cost_has_no_l2(blobs) -> None:
    _, network = train(ModelConfig(hidden=(8,), epochs=2, l2=5.0, dtype="float64"), blobs)
    probs = network.predict_proba(blobs.X_dev)
    np.testing.assert_array_equal(network.predict(blobs.X_dev), probs.argmax(axis=1))
    expected = -np.mean(np.log(probs[np.arange(len(blobs.y_dev)), blobs.y_dev]))
    assert network.cost(blobs.X_dev, blobs.y_dev) == pytest.approx(expected, rel=1e-10)


def test_a_training_step_reuses_its_buffers() -> None:
    """After the first step of a batch size, steps write into the arrays held by the caches.

    NumPy itself may still take short-lived scratch for a broadcast; the peak
    traced memory of a step stays far below what allocating its arrays would take.
    """
    config = ModelConfig(hidden=(64, 64), batchnorm=True, keep_prob=0.9, l2=0.1)
    network = Network.init(32, 10, config)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 32)).astype(np.float32)
    Y = one_hot(rng.integers(0, 10, 64), 10, np.float32)
    grads, caches = Parameters.zeros_like(network.params), network.new_caches()
    network.loss_and_gradients(X, Y, grads, caches, rng)
    arrays = {(op, key): array for op, cache in caches.items() for key, array in cache.items()}
    cache_bytes = sum(array.nbytes for (_, key), array in arrays.items() if key not in ("x", "W", "Y"))

    tracemalloc.start()
    try:
        for _ in range(3):
            network.loss_and_gradients(X, Y, grads, caches, rng)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    after = {(op, key): array for op, cache in caches.items() for key, array in cache.items()}
    assert after.keys() == arrays.keys()
    assert all(after[k] is arrays[k] for k in arrays)
    assert peak < cache_bytes / 8


def test_training_forward_with_dropout_and_no_rng_is_a_value_error_that_changes_nothing() -> None:
    net = Network.init(3, 2, ModelConfig(hidden=(4,), keep_prob=0.5, batchnorm=True, dtype="float64"))
    running = net.running[1].copy()
    X = np.random.default_rng(0).standard_normal((5, 3))
    with pytest.raises(ValueError, match="keep_prob=0.5.*rng"):
        net.forward(X, net.new_caches(), train=True)
    with pytest.raises(ValueError, match="rng"):
        net.loss_and_gradients(
            X, one_hot(np.array([0, 1, 0, 1, 1]), 2, np.float64), Parameters.zeros_like(net.params), net.new_caches()
        )
    np.testing.assert_array_equal(net.running[1], running)  # BN averages untouched
    assert net.forward(X, net.new_caches()).shape == (5, 2)  # inference needs no rng
