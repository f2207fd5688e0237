"""Each update rule's first two steps against numbers worked out by hand, and the decay schedules."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import ModelConfig
from hpsearch.nn.optimizers import Adam, GradientDescent, Momentum, RMSprop, learning_rate_at, make_optimizer
from hpsearch.nn.parameters import Parameters

# Two parameters, two steps, learning rate 0.1:
#   a = [1, -2], b = [[0.5]];  step 1 gradients a: [0.5, -1], b: [[2]];  step 2 gradients a: [0.1, 0.2], b: [[-1]]
START = {"a": [1.0, -2.0], "b": [[0.5]]}
GRADIENTS = [{"a": [0.5, -1.0], "b": [[2.0]]}, {"a": [0.1, 0.2], "b": [[-1.0]]}]

EXPECTED = {
    # W -= 0.1 dW
    "gd": [{"a": [0.95, -1.9], "b": [[0.3]]}, {"a": [0.94, -1.92], "b": [[0.4]]}],
    # v1 = 0.1 g1 = a [0.05, -0.1], b [[0.2]];  v2 = 0.9 v1 + 0.1 g2 = a [0.055, -0.07], b [[0.08]]
    "momentum": [{"a": [0.995, -1.99], "b": [[0.48]]}, {"a": [0.9895, -1.983], "b": [[0.472]]}],
    # beta2 = 0.9: s1 = 0.1 g1^2 = a [0.025, 0.1], b [[0.4]]  → every step 1 moves by 0.1/sqrt(0.1) = 0.31622777;
    # s2 = 0.9 s1 + 0.1 g2^2 = a [0.0235, 0.094], b [[0.46]]  → a moves 0.01/sqrt(0.0235) = 0.06523281 (both
    # entries), b moves -0.1/sqrt(0.46) = -0.14744196
    "rmsprop": [
        {"a": [0.68377223, -1.68377223], "b": [[0.18377223]]},
        {"a": [0.61853942, -1.74900504], "b": [[0.33121419]]},
    ],
    # Step 1: v_hat = g, s_hat = g^2 → moves 0.1 * sign(g).
    # Step 2 (a[0]): v = 0.09*0.5 + 0.1*0.1 = 0.055, v_hat = 0.055/0.19 = 0.28947368;
    #   s = 0.999*0.001*0.25 + 0.001*0.01 = 0.00025975, s_hat = s/0.001999 = 0.12993997;
    #   step = 0.1 * 0.28947368 / 0.36047187 = 0.08030409 → 0.81969591. Likewise a[1], b.
    "adam": [{"a": [0.9, -1.9], "b": [[0.4]]}, {"a": [0.81969591, -1.84889739], "b": [[0.37336630]]}],
}


def _parameters(values: dict, dtype: type) -> Parameters:
    params = Parameters({name: np.shape(v) for name, v in values.items()}, dtype)
    for name, v in values.items():
        params[name][...] = v
    return params


def _optimizer(rule: str, params: Parameters):
    if rule == "gd":
        return GradientDescent(params)
    if rule == "momentum":
        return Momentum(params, beta=0.9)
    if rule == "rmsprop":
        return RMSprop(params, beta2=0.9, epsilon=1e-8)
    return Adam(params, beta1=0.9, beta2=0.999, epsilon=1e-8)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-7), (np.float32, 1e-5)])
@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_first_two_steps_match_the_hand_computed_update(rule: str, dtype: type, rtol: float) -> None:
    params = _parameters(START, dtype)
    optimizer = _optimizer(rule, params)
    for gradients, expected in zip(GRADIENTS, EXPECTED[rule]):
        optimizer.step(params, _parameters(gradients, dtype), learning_rate=0.1)
        for name in START:
            np.testing.assert_allclose(params[name], expected[name], rtol=rtol, err_msg=f"{rule} {name}")
    assert optimizer.steps == 2


def test_optimizer_state_is_keyed_by_parameter_name() -> None:
    params = _parameters(START, np.float64)
    optimizer = Adam(params, 0.9, 0.999, 1e-8)
    assert set(optimizer.state) == {"v", "s"}
    assert set(optimizer.state["v"]) == {"a", "b"}
    assert optimizer.state["s"]["b"].shape == (1, 1)


def test_make_optimizer_passes_the_config_hyperparameters() -> None:
    params = _parameters(START, np.float64)
    adam = make_optimizer(ModelConfig(optimizer="adam", beta1=0.8, beta2=0.99, epsilon=1e-7), params)
    assert (type(adam), adam.beta1, adam.beta2, adam.epsilon) == (Adam, 0.8, 0.99, 1e-7)
    assert make_optimizer(ModelConfig(optimizer="momentum", beta=0.7), params).beta == 0.7
    assert type(make_optimizer(ModelConfig(optimizer="gd"), params)) is GradientDescent


@pytest.mark.parametrize(
    "lr_decay, decay_rate, expected",
    [
        ("none", None, [0.1, 0.1, 0.1, 0.1]),
        ("inverse_time", None, [0.1, 0.05, 0.1 / 3, 0.025]),  # default k = 1: 0.1 / (1 + epoch)
        ("inverse_time", 0.5, [0.1, 0.1 / 1.5, 0.05, 0.04]),
        ("exponential", None, [0.1, 0.095, 0.09025, 0.0857375]),  # default k = 0.95
        ("exponential", 0.5, [0.1, 0.05, 0.025, 0.0125]),
    ],
)
def test_learning_rate_decay(lr_decay: str, decay_rate: float | None, expected: list[float]) -> None:
    config = ModelConfig(learning_rate=0.1, lr_decay=lr_decay, decay_rate=decay_rate)
    assert [learning_rate_at(config, epoch) for epoch in range(4)] == pytest.approx(expected, rel=1e-12)
