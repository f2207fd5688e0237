"""Training a pack with fit_stacked changes no bit of any model: each equals fit alone."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.core.records import TrialStatus
from hpsearch.nn import ModelConfig, StopTraining, TrainingState, fit, start
from hpsearch.nn.stacked import fit_stacked, max_pack_size, pack_bytes, stack_key

DECAYS = ("none", "inverse_time", "exponential")
ACTIVATIONS = ("relu", "tanh", "leaky_relu")
RATES = {"gd": 0.1, "momentum": 0.05, "rmsprop": 0.01, "adam": 0.01}


def tiny_data(train_rows: int = 41, dev_rows: int = 12, seed: int = 7) -> Dataset:
    """3 Gaussian blobs in 4-D; 41 rows in batches of 20 exercise the merged last batch (20 + 21)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 4)) * 2.0
    y = rng.integers(0, 3, train_rows + dev_rows)
    X = centers[y] + rng.standard_normal((len(y), 4))
    return Dataset("tiny", X[:train_rows], y[:train_rows], X[train_rows:], y[train_rows:], ("a", "b", "c"))


def pack_configs(
    optimizer: str, decay: int, batchnorm: bool, dropout: bool, dtype: str, k: int = 3
) -> list[ModelConfig]:
    """k configs of one stack_key whose every per-model value differs (decay kinds rotate within the pack)."""
    activation = ACTIVATIONS[(decay + batchnorm + 2 * dropout) % 3]
    return [
        ModelConfig(
            hidden=(6, 5),
            activation=activation,
            batchnorm=batchnorm,
            dtype=dtype,
            optimizer=optimizer,
            batch_size=20,
            epochs=4,
            seed=11 + i,
            learning_rate=RATES[optimizer] * (1.0 + 0.37 * i),
            lr_decay=DECAYS[(decay + i) % 3],
            decay_rate=(None, 0.3 + 0.1 * i, 0.9 - 0.05 * i)[i % 3],
            beta=0.8 + 0.05 * i,
            beta1=0.85 + 0.04 * i,
            beta2=0.99 + 0.003 * i,
            epsilon=1e-8 * 10**i,
            l2=0.003 * (i + 1),
            bn_momentum=0.9 - 0.1 * i,
            keep_prob=(0.9 - 0.15 * i) if dropout else 1.0,
        )
        for i in range(k)
    ]


def portable(state: TrainingState) -> tuple[dict[str, bytes], str]:
    """Everything ``save`` writes, as bytes and JSON text, ``epoch_seconds`` left out (it is timing)."""
    arrays = state.to_arrays()
    scalars = json.loads(str(arrays.pop("state")[()]))
    del scalars["epoch_seconds"]
    return {name: array.tobytes() for name, array in arrays.items()}, json.dumps(scalars, sort_keys=True)


def assert_same(stacked: TrainingState, alone: TrainingState) -> None:
    arrays, scalars = portable(stacked)
    expected_arrays, expected_scalars = portable(alone)
    assert scalars == expected_scalars  # history, rng states, status, best, cost_limit, steps, factor
    assert arrays.keys() == expected_arrays.keys()
    for name in arrays:
        assert arrays[name] == expected_arrays[name], name
    assert len(stacked.epoch_seconds) == stacked.epoch


@pytest.fixture(scope="module")
def data() -> Dataset:
    return tiny_data()


@pytest.mark.parametrize(
    "optimizer, decay, batchnorm, dropout, dtype",
    list(itertools.product(RATES, range(3), (False, True), (False, True), ("float32", "float64"))),
)
def test_each_model_of_a_pack_equals_training_it_alone(optimizer, decay, batchnorm, dropout, dtype, data) -> None:
    configs = pack_configs(optimizer, decay, batchnorm, dropout, dtype)
    states = [start(config, data, keep_best=True) for config in configs]
    fit_stacked(states, data, until_epoch=4)
    for config, state in zip(configs, states):
        assert_same(state, fit(start(config, data, keep_best=True), data, until_epoch=4))


@pytest.mark.parametrize("learning_rate, epochs_alone", [(10.0, 2), (100.0, 1)])
def test_a_diverging_model_stops_where_it_would_alone_and_the_others_go_on(learning_rate, epochs_alone, data) -> None:
    healthy = pack_configs("gd", 0, False, False, "float64")
    configs = [healthy[1], ModelConfig(**{**healthy[0].__dict__, "learning_rate": learning_rate}), healthy[2]]
    alone = [fit(start(config, data), data, until_epoch=6) for config in configs]
    assert [s.status for s in alone] == [TrialStatus.OK, TrialStatus.DIVERGED, TrialStatus.OK]
    assert alone[1].epoch == epochs_alone
    states = [start(config, data) for config in configs]
    fit_stacked(states, data, until_epoch=6)
    for state, expected in zip(states, alone):
        assert_same(state, expected)


def test_a_model_blowing_up_in_a_later_batch_leaves_the_pack_after_its_partial_epoch(data) -> None:
    """Model 2, at a rate 1e4 times larger from epoch 2, diverges in the second batch of its fifth epoch."""
    configs = pack_configs("momentum", 1, False, False, "float32")
    states = [fit(start(config, data), data, until_epoch=2) for config in configs]
    alone = [state.copy() for state in states]
    for pair in (states, alone):
        pair[2].learning_rate_factor = 1e4
    for state in alone:
        fit(state, data, until_epoch=6)
    assert [s.epoch for s in alone] == [6, 6, 5] and alone[2].status is TrialStatus.DIVERGED
    fit_stacked(states, data, until_epoch=6)
    for state, expected in zip(states, alone):
        assert_same(state, expected)


def test_stop_training_and_rate_changes_act_on_their_model_only(data) -> None:
    configs = pack_configs("adam", 2, True, True, "float32")

    def callback(k: int, epoch: int, values: dict[str, float], state: TrainingState) -> None:
        if k == 0 and epoch == 1:
            state.learning_rate_factor = 0.5
        if k == 1 and epoch == 1:
            raise StopTraining

    alone = [start(config, data) for config in configs]
    for k, state in enumerate(alone):
        fit(state, data, until_epoch=5, on_epoch=lambda epoch, values, k=k, s=state: callback(k, epoch, values, s))
    states = [start(config, data) for config in configs]
    seen: list[tuple[int, int]] = []

    def on_epoch(k: int, epoch: int, values: dict[str, float]) -> None:
        seen.append((k, epoch))
        assert values == {key: alone[k].history[key][epoch] for key in values}
        callback(k, epoch, values, states[k])

    fit_stacked(states, data, until_epoch=5, on_epoch=on_epoch)
    assert [s.epoch for s in states] == [5, 2, 5]
    assert seen == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (0, 2), (2, 2), (0, 3), (2, 3), (0, 4), (2, 4)]
    for state, expected in zip(states, alone):
        assert_same(state, expected)


def test_continuing_saved_states_and_packing_different_epochs_equals_straight_training(data, tmp_path) -> None:
    configs = pack_configs("rmsprop", 0, True, False, "float64")
    states = [start(config, data, keep_best=True) for config in configs]
    fit_stacked(states, data, until_epoch=[1, 3, 2])
    for k, state in enumerate(states):
        state.save(tmp_path / f"{k}.npz")
    loaded = [TrainingState.load(tmp_path / f"{k}.npz") for k in range(3)]
    fit_stacked(loaded, data, until_epoch=5)
    for config, state in zip(configs, loaded):
        assert_same(state, fit(start(config, data, keep_best=True), data, until_epoch=5))


def test_a_pack_of_one_and_a_pack_whose_models_are_done_change_nothing_else(data) -> None:
    config = pack_configs("adam", 0, True, True, "float32")[0]
    state = start(config, data)
    fit_stacked([state], data, until_epoch=3)
    assert_same(state, fit(start(config, data), data, until_epoch=3))
    before = portable(state)
    fit_stacked([state], data, until_epoch=2)
    assert portable(state) == before


def test_stack_key_separates_what_changes_shapes_or_operations() -> None:
    base = ModelConfig(hidden=(8,), learning_rate=0.1, l2=0.01, keep_prob=0.8)
    key = stack_key(base, 4, 3)
    for per_model in (
        {"learning_rate": 0.2},
        {"seed": 3},
        {"l2": 0.5},
        {"keep_prob": 0.5},
        {"lr_decay": "exponential"},
    ):
        assert stack_key(ModelConfig(**{**base.__dict__, **per_model}), 4, 3) == key
    for shaping in (
        {"hidden": (9,)},
        {"batch_size": 32},
        {"l2": 0.0},
        {"keep_prob": 1.0},
        {"dtype": "float64"},
        {"optimizer": "gd"},
        {"batchnorm": False},
        {"activation": "tanh"},
    ):
        assert stack_key(ModelConfig(**{**base.__dict__, **shaping}), 4, 3) != key
    assert stack_key(base, 5, 3) != key


def test_bad_packs_are_refused(data) -> None:
    a, b = (start(ModelConfig(hidden=(h,), batch_size=20), data) for h in (4, 5))
    with pytest.raises(ValueError, match="stack_key"):
        fit_stacked([a, b], data, until_epoch=1)
    with pytest.raises(ValueError, match="twice"):
        fit_stacked([a, a], data, until_epoch=1)
    with pytest.raises(ValueError, match="entries"):
        fit_stacked([a], data, until_epoch=[1, 2])
    other = Dataset("other", data.X_train[:, :3], data.y_train, data.X_dev[:, :3], data.y_dev, data.class_names)
    with pytest.raises(DataError, match="features"):
        fit_stacked([a], other, until_epoch=1)


def test_pack_size_and_memory_estimates() -> None:
    small = ModelConfig(hidden=(64, 64), batch_size=64)
    large = ModelConfig(hidden=(256, 128), batch_size=128)
    assert max_pack_size(small, 64, 10, 1437) > 1
    assert max_pack_size(large, 784, 10, 60000) >= 1
    assert pack_bytes(small, 64, 10, 1437, 360, 8) > pack_bytes(small, 64, 10, 1437, 360, 4) > 0
    assert max_pack_size(small, 64, 10, 1437, 360, memory_bytes=pack_bytes(small, 64, 10, 1437, 360, 2)) <= 2
