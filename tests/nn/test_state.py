"""Resumable training: pausing, saving, loading (in another process) and continuing changes no bit."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.core.records import TrialStatus
from hpsearch.nn import ModelConfig, Network, StopTraining, TrainingState, fit, start, train
from hpsearch.nn.loop import EXPLOSION_FACTOR, EXPLOSION_FLOOR, batch_bounds
from hpsearch.nn.losses import one_hot
from hpsearch.nn.optimizers import learning_rate_at, make_optimizer
from hpsearch.nn.parameters import Parameters


def tiny_data(train_rows: int = 41, dev_rows: int = 12, seed: int = 7) -> Dataset:
    """3 Gaussian blobs in 4-D; 41 rows in batches of 20 exercise the merged last batch (20 + 21)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 4)) * 2.0
    y = rng.integers(0, 3, train_rows + dev_rows)
    X = centers[y] + rng.standard_normal((len(y), 4))
    return Dataset("tiny", X[:train_rows], y[:train_rows], X[train_rows:], y[train_rows:], ("a", "b", "c"))


RATES = {"gd": 0.1, "momentum": 0.1, "rmsprop": 0.01, "adam": 0.01}


def resumable_cases() -> list[ModelConfig]:
    """Every optimizer with every lr_decay, and with each value of dtype, batchnorm and dropout.

    Per optimizer, four (dtype, batchnorm, dropout) triples forming an orthogonal array (each value
    of each factor twice, each pair of factors in all four combinations): the even-parity triples
    for gd and momentum, the odd-parity ones for rmsprop and adam, so all eight triples occur.
    lr_decay cycles through its three schedules within each optimizer's four cases.
    """
    even = [t for t in itertools.product((0, 1), repeat=3) if sum(t) % 2 == 0]
    odd = [t for t in itertools.product((0, 1), repeat=3) if sum(t) % 2 == 1]
    decays = ("none", "inverse_time", "exponential")
    cases = []
    for o, optimizer in enumerate(RATES):
        for i, (dtype, batchnorm, dropout) in enumerate(even if o < 2 else odd):
            cases.append(
                ModelConfig(
                    hidden=(6,),
                    optimizer=optimizer,
                    learning_rate=RATES[optimizer],
                    lr_decay=decays[i % 3],
                    dtype=("float32", "float64")[dtype],
                    batchnorm=bool(batchnorm),
                    keep_prob=(1.0, 0.7)[dropout],
                    l2=0.01,
                    batch_size=20,
                    epochs=30,
                    seed=3,
                )
            )
    return cases


def assert_same_training(a: TrainingState, b: TrainingState) -> None:
    """Bit-identical weights, BN averages, moments, history and J, random streams; epoch_seconds aside."""
    np.testing.assert_array_equal(a.network.params.flat, b.network.params.flat)
    assert a.network.params.flat.dtype == b.network.params.flat.dtype
    assert a.network.running.keys() == b.network.running.keys()
    for l in a.network.running:
        np.testing.assert_array_equal(a.network.running[l], b.network.running[l])
    assert a.optimizer.steps == b.optimizer.steps
    for name in a.optimizer.state:
        np.testing.assert_array_equal(a.optimizer.state[name].flat, b.optimizer.state[name].flat)
    # json.dumps: exact float text, and NaN compares equal to NaN
    assert json.dumps(a.history) == json.dumps(b.history)
    assert (a.epoch, a.status, a.best_epoch, a.best_dev_cost) == (b.epoch, b.status, b.best_epoch, b.best_dev_cost)
    assert a.shuffle_rng.bit_generator.state == b.shuffle_rng.bit_generator.state
    assert a.dropout_rng.bit_generator.state == b.dropout_rng.bit_generator.state
    assert (a.best_weights is None) == (b.best_weights is None)
    for name, array in (a.best_weights or {}).items():
        np.testing.assert_array_equal(array, b.best_weights[name])


CONTINUE_IN_A_FRESH_PROCESS = """
import sys
import numpy as np
from hpsearch.core.dataset import Dataset
from hpsearch.nn import TrainingState, fit

folder, cases, until = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with np.load(f"{folder}/data.npz") as d:
    data = Dataset("tiny", d["X_train"], d["y_train"], d["X_dev"], d["y_dev"], ("a", "b", "c"))
for i in range(cases):
    state = TrainingState.load(f"{folder}/paused{i}.npz")
    fit(state, data, until)
    state.save(f"{folder}/resumed{i}.npz")
"""


def test_save_at_epoch_10_load_in_a_fresh_process_and_continue_to_30_is_training_straight(tmp_path: Path) -> None:
    data = tiny_data()
    np.savez(tmp_path / "data.npz", X_train=data.X_train, y_train=data.y_train, X_dev=data.X_dev, y_dev=data.y_dev)
    cases = resumable_cases()
    straight = []
    for i, config in enumerate(cases):
        state = start(config, data, keep_best=True)

        def pause_at_10(epoch: int, _values: dict[str, float], state=state, i=i) -> None:
            if epoch == 9:  # the state is complete when on_epoch runs: this is "train 10 and save"
                state.save(tmp_path / f"paused{i}.npz")

        straight.append(fit(state, data, 30, pause_at_10))
        assert straight[-1].status is TrialStatus.OK and straight[-1].epoch == 30

    subprocess.run(
        [sys.executable, "-c", CONTINUE_IN_A_FRESH_PROCESS, str(tmp_path), str(len(cases)), "30"],
        check=True,
        timeout=120,
    )
    for i, config in enumerate(cases):
        paused, resumed = (TrainingState.load(tmp_path / f"{stage}{i}.npz") for stage in ("paused", "resumed"))
        assert paused.epoch == 10 and resumed.epoch == 30, config
        assert resumed.config == config
        assert_same_training(resumed, straight[i])
        assert resumed.epoch_seconds[:10] == paused.epoch_seconds  # seconds of the first run kept
    # the cases really differ from one another
    assert len({json.dumps(s.history["train_cost"]) for s in straight}) == len(cases)


@pytest.mark.parametrize(
    "config", resumable_cases()[::5], ids=lambda c: f"{c.optimizer}-{c.dtype}-bn{c.batchnorm}-kp{c.keep_prob}"
)
def test_fit_to_10_then_to_30_in_memory_is_training_straight(config: ModelConfig) -> None:
    data = tiny_data()
    straight = fit(start(config, data), data, 30)
    paused = fit(start(config, data), data, 10)
    snapshot = paused.copy()
    assert fit(paused, data, 30) is paused
    assert_same_training(paused, straight)
    # the copy was not moved by training the original, and continues to the same place
    assert snapshot.epoch == 10
    assert_same_training(fit(snapshot, data, 30), straight)


def test_to_arrays_and_from_arrays_round_trip_exactly(tmp_path: Path) -> None:
    data = tiny_data()
    config = ModelConfig(hidden=(5, 4), keep_prob=0.8, lr_decay="exponential", epochs=6, batch_size=16, dtype="float32")
    state = fit(start(config, data, keep_best=True), data, 6)
    state.learning_rate_factor = 0.25
    arrays = state.to_arrays()
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    back = TrainingState.from_arrays(arrays)
    assert_same_training(back, state)
    assert back.epoch_seconds == state.epoch_seconds and back.learning_rate_factor == 0.25
    assert back.keep_best and back.cost_limit == state.cost_limit and back.config == config
    again = back.to_arrays()
    assert again.keys() == arrays.keys()
    for name in arrays:
        np.testing.assert_array_equal(again[name], arrays[name])
    state.save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        assert set(npz.files) == set(arrays)


def test_train_gives_the_numbers_of_the_loop_before_training_states(blobs) -> None:
    """Batches unaffected by the merge rule (320 rows: 10 x 32; 5 x 64; 300 + 20): bit for bit."""
    for config in [
        ModelConfig(hidden=(16, 8), keep_prob=0.8, batch_size=32, epochs=3, lr_decay="inverse_time", l2=0.01),
        ModelConfig(hidden=(8,), batchnorm=False, optimizer="momentum", learning_rate=0.1, epochs=3, dtype="float64"),
        ModelConfig(hidden=(8,), optimizer="rmsprop", batch_size=300, epochs=3, lr_decay="exponential"),
    ]:
        result, network = train(config, blobs)
        history, flat, running = train_before_training_states(config, blobs)
        assert {key: result.history[key] for key in history} == history
        np.testing.assert_array_equal(network.params.flat, flat)
        for l in running:
            np.testing.assert_array_equal(network.running[l], running[l])


def train_before_training_states(config: ModelConfig, data: Dataset) -> tuple[dict, np.ndarray, dict]:
    """The training loop of ``train`` as it was before ``TrainingState`` (timing and callback left out)."""
    dtype = np.dtype(config.dtype)
    X = np.ascontiguousarray(data.X_train, dtype=dtype)
    Y = one_hot(data.y_train, data.n_classes, dtype)
    X_dev = np.ascontiguousarray(data.X_dev, dtype=dtype)
    network = Network.init(data.n_features, data.n_classes, config)
    optimizer = make_optimizer(config, network.params)
    grads = Parameters.zeros_like(network.params)
    shuffle_rng, dropout_rng = (
        np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(key,))) for key in (1, 2)
    )
    m, batch_size = X.shape[0], min(config.batch_size, X.shape[0])
    caches_by_size: dict = {}
    history: dict[str, list[float]] = {"train_cost": [], "dev_cost": [], "dev_accuracy": []}
    cost_limit = math.nan
    with np.errstate(all="ignore"):
        for epoch in range(config.epochs):
            learning_rate = learning_rate_at(config, epoch)
            order = shuffle_rng.permutation(m)
            cost_sum, n_batches, diverged = 0.0, 0, False
            for begin in range(0, m, batch_size):
                rows = order[begin : begin + batch_size]
                x, y = X[rows], Y[rows]
                caches = caches_by_size.setdefault(len(rows), network.new_caches())
                cost = network.loss_and_gradients(x, y, grads, caches, dropout_rng)
                cost_sum += cost
                n_batches += 1
                if n_batches == 1 and epoch == 0:
                    cost_limit = max(EXPLOSION_FACTOR * cost, EXPLOSION_FLOOR)
                if not cost < cost_limit:
                    diverged = True
                    break
                optimizer.step(network.params, grads, learning_rate)
            dev_cost, dev_accuracy = network.evaluate(X_dev, data.y_dev)
            history["train_cost"].append(cost_sum / n_batches)
            history["dev_cost"].append(dev_cost)
            history["dev_accuracy"].append(dev_accuracy)
            if diverged or not math.isfinite(dev_cost):
                break
    return history, network.params.flat.copy(), {l: r.copy() for l, r in network.running.items()}


def test_stop_training_stops_after_the_epoch_reported_and_continuing_equals_straight() -> None:
    data = tiny_data()
    config = ModelConfig(hidden=(6,), keep_prob=0.8, epochs=12, batch_size=20)
    seen: list[int] = []

    def stop_after_4(epoch: int, _values: dict[str, float]) -> None:
        seen.append(epoch)
        if epoch == 4:
            raise StopTraining

    state = fit(start(config, data), data, 12, stop_after_4)
    assert seen == [0, 1, 2, 3, 4] and state.epoch == 5 and state.status is TrialStatus.OK
    assert all(len(values) == 5 for values in state.history.values()) and len(state.epoch_seconds) == 5
    assert_same_training(fit(state, data, 12), fit(start(config, data), data, 12))

    result, _ = train(config, data, on_epoch=stop_after_4)
    assert result.epochs_run == 5 and len(result.history["dev_cost"]) == 5


def test_learning_rate_factor_scales_the_steps_of_the_epochs_after_it_is_set() -> None:
    """Plain gd on one full batch, no BN or dropout: W_next = W - lr * factor * dJ/dW exactly (up to summation order)."""
    data = tiny_data()
    config = ModelConfig(
        hidden=(5,), batchnorm=False, optimizer="gd", learning_rate=0.2, batch_size=1000, epochs=4, dtype="float64"
    )

    def halve_after_epoch_1(epoch: int, _values: dict[str, float]) -> None:
        if epoch == 1:
            state.learning_rate_factor = 0.5

    state = start(config, data)
    fit(state, data, 3, halve_after_epoch_1)
    assert state.history["learning_rate"] == [0.2, 0.2, 0.1]
    assert state.learning_rate_factor == 0.5  # a property of the state: saved, and kept for later epochs

    W_before = state.network.params.flat.copy()
    grads = Parameters.zeros_like(state.network.params)
    X = data.X_train
    state.network.loss_and_gradients(X, one_hot(data.y_train, 3, np.float64), grads, state.network.new_caches())
    state.learning_rate_factor = 0.25
    fit(state, data, 4)
    assert state.history["learning_rate"][-1] == 0.05
    np.testing.assert_allclose(state.network.params.flat, W_before - 0.05 * grads.flat, rtol=1e-12, atol=1e-15)
    unscaled = fit(start(config, data), data, 4)
    assert unscaled.history["learning_rate"] == [0.2] * 4
    # an epoch's J is taken before its steps: epoch 2 is the first to start from halved steps
    assert unscaled.history["train_cost"][:3] == state.history["train_cost"][:3]
    assert unscaled.history["train_cost"][3] != state.history["train_cost"][3]


def test_keep_best_keeps_the_weights_of_the_lowest_dev_cost() -> None:
    """Adam at a high rate on 41 rows: the dev cost jumps about and bottoms out before the last epoch."""
    data = tiny_data()
    config = ModelConfig(hidden=(32,), batchnorm=True, learning_rate=0.1, batch_size=20, epochs=30)
    state = fit(start(config, data, keep_best=True), data, 30)
    dev = state.history["dev_cost"]
    assert state.best_epoch == int(np.argmin(dev)) and state.best_dev_cost == min(dev)
    assert state.best_epoch < 29, dev  # the case is meaningful: the last epoch is not the best
    best = Network.from_state(state.best_weights)
    assert best.cost(data.X_dev, data.y_dev) == state.best_dev_cost
    assert np.mean(best.predict(data.X_dev) == data.y_dev) == state.history["dev_accuracy"][state.best_epoch]
    assert not np.array_equal(best.predict_proba(data.X_dev), state.network.predict_proba(data.X_dev))
    result = state.result()
    assert (result.best_epoch, result.best_dev_cost) == (state.best_epoch, state.best_dev_cost)
    assert result.to_dict()["best_epoch"] == state.best_epoch

    plain = fit(start(config, data), data, 30)  # keep_best=False: same run, no weights kept
    assert plain.best_weights is None and plain.best_epoch == state.best_epoch
    np.testing.assert_array_equal(plain.network.params.flat, state.network.params.flat)


def test_training_past_config_epochs_follows_the_decay_schedule() -> None:
    data = tiny_data()
    config = ModelConfig(hidden=(4,), learning_rate=0.01, lr_decay="inverse_time", decay_rate=0.5, epochs=3)
    state = fit(start(config, data), data, 6)
    assert state.epoch == 6
    assert state.history["learning_rate"] == [learning_rate_at(config, e) for e in range(6)]
    assert fit(state, data, 4) is state and state.epoch == 6  # already past: nothing to do


def test_a_diverged_state_stays_stopped_across_save_and_load(tmp_path: Path) -> None:
    """Three sane epochs, then a learning rate 10^5 times larger blows up the fourth."""
    data = tiny_data()
    config = ModelConfig(hidden=(16,), batchnorm=False, optimizer="gd", learning_rate=0.1, epochs=20, batch_size=8)
    state = fit(start(config, data), data, 3)
    state.learning_rate_factor = 1e5
    fit(state, data, 20)
    assert state.status is TrialStatus.DIVERGED and state.epoch == 4
    assert math.isfinite(state.history["dev_cost"][3])  # finite, yet a diverged epoch is never the best
    assert state.best_epoch == int(np.argmin(state.history["dev_cost"][:3]))
    state.save(tmp_path / "d.npz")
    loaded = TrainingState.load(tmp_path / "d.npz")
    assert loaded.status is TrialStatus.DIVERGED
    fit(loaded, data, 20)
    assert loaded.epoch == 4
    assert loaded.result().status is TrialStatus.DIVERGED and loaded.result().best_epoch == state.best_epoch


def test_last_batch_of_one_row_is_merged_into_the_one_before(monkeypatch) -> None:
    """65 rows in batches of 32: two steps, on 32 and 33 rows (not 32, 32 and a lone row)."""
    sizes: list[int] = []
    real = Network.loss_and_gradients

    def recording(self, X, *args, **kwargs):
        sizes.append(X.shape[0])
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradients", recording)
    data = tiny_data(train_rows=65)
    result, _ = train(ModelConfig(hidden=(4,), batchnorm=True, batch_size=32, epochs=2), data)
    assert sizes == [32, 33, 32, 33]
    assert result.status is TrialStatus.OK


@pytest.mark.parametrize(
    "m, batch_size, expected",
    [
        (65, 32, [(0, 32), (32, 65)]),
        (64, 32, [(0, 32), (32, 64)]),
        (66, 32, [(0, 32), (32, 64), (64, 66)]),
        (33, 32, [(0, 33)]),
        (10, 32, [(0, 10)]),
        (1, 1, [(0, 1)]),
        (3, 1, [(0, 1), (1, 2), (2, 3)]),
    ],
)
def test_batch_bounds(m: int, batch_size: int, expected: list[tuple[int, int]]) -> None:
    assert batch_bounds(m, batch_size) == expected


def test_result_before_any_epoch_is_an_error() -> None:
    with pytest.raises(ValueError, match="fit"):
        start(ModelConfig(hidden=(3,)), tiny_data()).result()


def test_fit_rejects_data_of_another_shape() -> None:
    state = start(ModelConfig(hidden=(3,)), tiny_data())
    other = tiny_data()
    wider = Dataset(
        "wide",
        np.hstack([other.X_train, other.X_train]),
        other.y_train,
        np.hstack([other.X_dev, other.X_dev]),
        other.y_dev,
        other.class_names,
    )
    with pytest.raises(DataError, match="8 features.*4"):
        fit(state, wider, 1)
    assert state.epoch == 0


def test_save_replaces_the_file_atomically(tmp_path: Path, monkeypatch) -> None:
    data = tiny_data()
    state = fit(start(ModelConfig(hidden=(3,), epochs=2), data), data, 1)
    path = tmp_path / "state.npz"
    state.save(path)
    fit(state, data, 2)
    state.save(path)  # overwrite
    assert os.listdir(tmp_path) == ["state.npz"] and TrainingState.load(path).epoch == 2

    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        state.save(path)
    assert os.listdir(tmp_path) == ["state.npz"] and TrainingState.load(path).epoch == 2


def test_loading_something_else_is_a_data_error_naming_the_file(tmp_path: Path, blobs) -> None:
    with pytest.raises(DataError, match="missing.npz"):
        TrainingState.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="junk.npz"):
        TrainingState.load(tmp_path / "junk.npz")
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(DataError, match="array.npy"):
        TrainingState.load(tmp_path / "array.npy")
    _, network = train(ModelConfig(hidden=(3,), epochs=1), blobs)
    network.save(tmp_path / "network.npz")
    with pytest.raises(DataError, match="network.npz.*not a training state"):
        TrainingState.load(tmp_path / "network.npz")

    data = tiny_data()
    arrays = fit(start(ModelConfig(hidden=(3,), optimizer="adam"), data), data, 2).to_arrays()
    broken = {**arrays, "optimizer.v": arrays["optimizer.v"][:-1]}
    np.savez(tmp_path / "short.npz", **broken)
    with pytest.raises(DataError, match="short.npz.*optimizer.v.*shape"):
        TrainingState.load(tmp_path / "short.npz")
    scalars = json.loads(str(arrays["state"]))
    np.savez(tmp_path / "rng.npz", **{**arrays, "state": np.array(json.dumps({**scalars, "shuffle_rng": {"x": 1}}))})
    with pytest.raises(DataError, match="rng.npz"):
        TrainingState.load(tmp_path / "rng.npz")
    scalars["history"]["dev_cost"].pop()
    np.savez(tmp_path / "history.npz", **{**arrays, "state": np.array(json.dumps(scalars))})
    with pytest.raises(DataError, match="history.npz"):
        TrainingState.load(tmp_path / "history.npz")
