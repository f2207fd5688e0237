"""Scales, their unit transforms, spaces and the parsing of the YAML ``space:`` section."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.core.errors import ConfigError
from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.space.parsing import parse_space
from hpsearch.space.scales import Choice, Int, IntLog, Legal, Log, OneMinusLog, Uniform, distribution_from_json
from hpsearch.space.search_space import Space, envelope


def parse_engine_space(raw):
    """``space:`` parsed with the built-in engine's names and limits."""
    return parse_space(raw, "space", parameters=HYPERPARAMETERS)


N_DRAWS = 10_000


def draws(dist, n=N_DRAWS, seed=0):
    """``n`` values from uniform unit coordinates, as a sampler makes them."""
    return np.array([dist.from_unit(u) for u in np.random.default_rng(seed).random(n)])


# -- the scales put draws where they should -----------------------------------


def test_log_draws_put_a_quarter_in_each_decade():
    x = draws(Log(1e-4, 1.0))
    for k in (-4, -3, -2, -1):
        share = np.mean((x >= 10.0**k) & (x < 10.0 ** (k + 1)))
        assert share == pytest.approx(0.25, abs=0.02), f"decade 1e{k}"


def test_one_minus_log_draws_put_half_above_0_99():
    x = draws(OneMinusLog(0.9, 0.999))
    assert np.mean(x > 0.99) == pytest.approx(0.5, abs=0.02)


def test_uniform_draws_are_uniform():
    x = draws(Uniform(0.0, 0.01))
    assert np.mean(x < 0.0025) == pytest.approx(0.25, abs=0.02)


def test_int_draws_give_the_end_values_their_full_share():
    # Rounding a uniform draw on [low, high] would give 1 and 4 half the share of 2 and 3.
    x = draws(Int(1, 4))
    for k in (1, 2, 3, 4):
        assert np.mean(x == k) == pytest.approx(0.25, abs=0.02), k


def test_int_log_draws_are_even_per_doubling():
    x = draws(IntLog(16, 511))
    for lo in (16, 32, 64, 128, 256):
        assert np.mean((x >= lo) & (x < 2 * lo)) == pytest.approx(0.2, abs=0.02), lo


def test_choice_draws_each_choice_equally():
    x = [Choice((32, 64, 128)).from_unit(u) for u in np.random.default_rng(0).random(N_DRAWS)]
    for c in (32, 64, 128):
        assert x.count(c) / N_DRAWS == pytest.approx(1 / 3, abs=0.02)


# -- properties of the transform, over random valid bounds -------------------

finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def ranges(draw):
    """A distribution of every numeric scale with random valid bounds."""
    scale = draw(st.sampled_from(["uniform", "log", "one_minus_log", "int", "int_log"]))
    if scale == "uniform":
        low = draw(st.floats(-1e3, 1e3, **finite))
        return Uniform(low, low + draw(st.floats(1e-3, 1e3, **finite)))
    if scale == "log":
        a = draw(st.floats(-8, 3, **finite))
        return Log(10**a, 10 ** (a + draw(st.floats(0.01, 8, **finite))))
    if scale == "one_minus_log":  # decades of 1 - x
        a = draw(st.floats(0, 6, **finite))
        return OneMinusLog(1 - 10**-a, 1 - 10 ** -(a + draw(st.floats(0.01, 6, **finite))))
    if scale == "int":
        low = draw(st.integers(-1000, 1000))
        return Int(low, low + draw(st.integers(0, 1000)))
    low = draw(st.integers(1, 10_000))
    return IntLog(low, low + draw(st.integers(0, 100_000)))


@settings(max_examples=300, deadline=None)
@given(ranges(), st.floats(0, 1, **finite))
def test_every_value_lies_within_bounds(dist, u):
    x = dist.from_unit(u)
    assert dist.low <= x <= dist.high
    assert isinstance(x, int if dist.scale in ("int", "int_log") else float)


@settings(max_examples=300, deadline=None)
@given(ranges(), st.data())
def test_from_unit_inverts_to_unit(dist, data):
    if dist.scale in ("int", "int_log"):
        x = data.draw(st.integers(dist.low, dist.high))
        assert dist.from_unit(dist.to_unit(x)) == x  # exactly
    else:
        x = data.draw(st.floats(dist.low, dist.high, **finite))
        assert math.isclose(dist.from_unit(dist.to_unit(x)), x, rel_tol=1e-9, abs_tol=1e-9 * (dist.high - dist.low))
    assert 0 <= dist.to_unit(x) <= 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=6, unique=True), st.data())
def test_choice_from_unit_inverts_to_unit(choices, data):
    dist = Choice(tuple(choices))
    c = data.draw(st.sampled_from(choices))
    assert dist.from_unit(dist.to_unit(c)) == c


@settings(max_examples=100, deadline=None)
@given(ranges(), st.floats(0, 1, **finite), st.floats(0, 1, **finite))
def test_to_unit_is_increasing(dist, u1, u2):
    x1, x2 = sorted([dist.from_unit(u1), dist.from_unit(u2)])
    assert dist.to_unit(x1) <= dist.to_unit(x2)


def test_from_unit_extrapolates_along_the_scale_outside_the_unit_interval():
    assert Log(1e-4, 1.0).from_unit(-0.5) == pytest.approx(1e-6)
    assert OneMinusLog(0.9, 0.999).from_unit(1.5) == pytest.approx(0.9999)  # 1 - 10^-(1 + 1.5 * 2)
    assert Int(1, 4).from_unit(1.5) == 7  # t = 0.5 + 1.5 * 4 = 6.5, rounded half up


def test_center_is_the_middle_on_its_own_scale():
    space = Space(
        {
            "learning_rate": Log(1e-4, 1.0),
            "beta1": OneMinusLog(0.9, 0.999),
            "l2": Uniform(0.0, 0.01),
            "layers": Int(1, 5),
            "batch_size": Choice((128, 32)),
        }
    )
    c = space.center()
    assert c["learning_rate"] == pytest.approx(1e-2)
    assert c["beta1"] == pytest.approx(0.99)
    assert c["l2"] == pytest.approx(0.005)
    assert c["layers"] == 3
    assert c["batch_size"] == 128  # a choice: its first


def test_a_collapsed_integer_range_has_one_value():
    dist = Int(3, 3)
    assert {dist.from_unit(u) for u in (0.0, 0.3, 1.0)} == {3}
    assert dist.to_unit(3) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Uniform(1.0, 0.5),
        lambda: Log(0.0, 1.0),
        lambda: OneMinusLog(0.9, 1.0),
        lambda: OneMinusLog(-0.1, 0.9),
        lambda: Int(1, 2.5),
        lambda: IntLog(0, 10),
        lambda: Uniform(0.0, math.inf),
        lambda: Choice(()),
    ],
)
def test_constructors_reject_invalid_bounds(make):
    with pytest.raises(ValueError):
        make()


def test_describe_is_short_and_on_the_scale():
    assert Log(1e-4, 1.0).describe() == "log [0.0001, 1]"
    assert OneMinusLog(0.9, 0.999).describe() == "1−β log [0.9, 0.999]"
    assert IntLog(16, 512).describe() == "int log [16, 512]"
    assert Choice((True, False)).describe() == "choice {true, false}"


# -- spaces -------------------------------------------------------------------


def test_space_orders_names_and_maps_points_both_ways():
    space = Space({"l2": Uniform(0.0, 1.0), "batch_size": Choice((32, 64)), "layers": Int(1, 4)})
    assert space.names == ("batch_size", "l2", "layers")
    assert list(space) == list(space.names)
    u = space.to_unit({"layers": 4, "l2": 0.25, "batch_size": 32})
    np.testing.assert_allclose(u, [0.25, 0.25, 0.875])
    assert space.from_unit(u) == {"batch_size": 32, "l2": 0.25, "layers": 4}
    with pytest.raises(ValueError):
        space.from_unit(np.zeros(2))


def test_json_round_trip_and_format():
    space = Space(
        {
            "learning_rate": Log(1e-4, 1.0),
            "beta1": OneMinusLog(0.9, 0.999),
            "hidden_units": IntLog(16, 512),
            "batch_size": Choice((32, 64)),
        }
    )
    d = space.to_json()
    assert d["learning_rate"] == {"scale": "log", "low": 1e-4, "high": 1.0}
    assert d["batch_size"] == {"choice": [32, 64]}
    assert Space.from_json(d) == space
    assert distribution_from_json({"scale": "int", "low": 1, "high": 4}) == Int(1, 4)


def test_envelope_takes_the_widest_bounds_and_all_choices():
    a = Space({"lr": Log(1e-3, 1e-2), "b": Choice((32, 64)), "n": Int(2, 3)})
    b = Space({"lr": Log(1e-4, 5e-3), "b": Choice((128, 32)), "n": Int(1, 2)})
    e = envelope([a, b])
    assert e == Space({"lr": Log(1e-4, 1e-2), "b": Choice((32, 64, 128)), "n": Int(1, 3)})
    with pytest.raises(ValueError):
        envelope([a, Space({"lr": Log(1e-3, 1e-2)})])


# -- the YAML space: section --------------------------------------------------

ISSUE_EXAMPLE = {
    "learning_rate": {"scale": "log", "low": 1.0e-4, "high": 1},
    "beta1": {"scale": "one_minus_log", "low": 0.9, "high": 0.999},
    "hidden_units": {"scale": "int_log", "low": 16, "high": 512},
    "layers": {"scale": "int", "low": 1, "high": 4},
    "batch_size": {"choice": [32, 64, 128, 256]},
    "l2": {"scale": "uniform", "low": 0, "high": 0.01},
}


def test_parse_space_reads_the_issue_example():
    space, fixed = parse_engine_space(ISSUE_EXAMPLE)
    assert fixed == {}
    # Each range keeps the engine's legal limits: learning_rate > 0, 0 <= beta1 < 1, hidden_units >= 1,
    # 0 <= layers <= 64, l2 >= 0.
    assert space == Space(
        {
            "learning_rate": Log(1e-4, 1.0, legal=Legal(low=0, low_open=True)),
            "beta1": OneMinusLog(0.9, 0.999, legal=Legal(low=0, high=1, high_open=True)),
            "hidden_units": IntLog(16, 512, legal=Legal(low=1)),
            "layers": Int(1, 4, legal=Legal(low=0, high=64)),
            "batch_size": Choice((32, 64, 128, 256)),
            "l2": Uniform(0.0, 0.01, legal=Legal(low=0)),
        }
    )
    assert isinstance(space["learning_rate"].high, float)


def test_plain_values_are_fixed_and_coerced():
    space, fixed = parse_engine_space(
        {
            "epochs": 5,
            "hidden": [64, 32],
            "keep_prob": 1,
            "activation": "tanh",
            "optimizer": {"choice": ["adam", "momentum"]},
        }
    )
    assert fixed == {"epochs": 5, "hidden": [64, 32], "keep_prob": 1.0, "activation": "tanh"}
    assert isinstance(fixed["keep_prob"], float)
    assert space.names == ("optimizer",)


def problems_of(raw):
    with pytest.raises(ConfigError) as info:
        parse_engine_space(raw)
    return {p.key: p for p in info.value.problems}


def test_every_problem_is_reported_at_once_with_its_key_and_fix():
    problems = problems_of(
        {
            "learning_rat": {"scale": "log", "low": 1e-4, "high": 1},
            "beta1": {"scale": "one_minus_log", "low": 0.9, "high": 1},
            "beta2": {"scale": "one_minus_logg", "low": 0.9, "high": 0.999},
            "l2": {"scale": "uniform", "low": 0.1, "high": 0.01},
            "epsilon": {"scale": "log", "low": 0, "high": 1e-6},
            "batch_size": {"choice": []},
            "keep_prob": {"scale": "uniform", "low": 0.5, "hihg": 1},
        }
    )
    assert set(problems) == {
        "space.learning_rat",
        "space.beta1.high",
        "space.beta2.scale",
        "space.l2.high",
        "space.epsilon.low",
        "space.batch_size.choice",
        "space.keep_prob.hihg",
        "space.keep_prob.high",
    }
    assert "did you mean 'learning_rate'" in problems["space.learning_rat"].fix
    assert "did you mean 'one_minus_log'" in problems["space.beta2.scale"].fix
    assert "did you mean 'high'" in problems["space.keep_prob.hihg"].fix
    assert problems["space.keep_prob.high"].message == "missing"
    assert "low < high" in problems["space.l2.high"].message
    assert "low > 0" in problems["space.epsilon.low"].message
    assert "< 1" in problems["space.beta1.high"].message
    assert problems["space.batch_size.choice"].message == "is empty"
    assert all(p.fix for p in problems.values())


def test_one_minus_log_low_must_not_be_negative():
    problems = problems_of({"beta": {"scale": "one_minus_log", "low": -0.5, "high": 0.9}})
    assert list(problems) == ["space.beta.low"]
    assert "0 <= low" in problems["space.beta.low"].message


def test_bounds_must_be_numbers_and_each_gets_a_fix():
    problems = problems_of(
        {
            "learning_rate": {"scale": "log", "low": "1e-4", "high": 1},
            "layers": {"scale": "int", "low": 1.5, "high": True},
        }
    )
    assert set(problems) == {"space.learning_rate.low", "space.layers.low", "space.layers.high"}
    assert problems["space.learning_rate.low"].fix == "write 1e-4 without quotes"  # quoted in the YAML
    assert "an integer" in problems["space.layers.low"].message
    assert problems["space.layers.low"].fix == "write an integer, e.g. 1"
    assert problems["space.layers.high"].fix == "write an integer, e.g. 16"  # True is no integer here


def test_ranges_must_be_legal_for_the_hyperparameter():
    problems = problems_of(
        {
            "keep_prob": {"scale": "uniform", "low": 0.5, "high": 1.5},
            "l2": {"scale": "uniform", "low": -1, "high": 0.01},
            "activation": {"choice": ["relu", "tanhh"]},
            "batch_size": {"choice": [32, 32.0]},
        }
    )
    assert set(problems) == {
        "space.keep_prob.high",
        "space.l2.low",
        "space.activation.choice",
        "space.batch_size.choice",
    }
    assert "value <= 1" in problems["space.keep_prob.high"].message
    assert "did you mean 'tanh'" in problems["space.activation.choice"].fix
    assert "twice" in problems["space.batch_size.choice"].message


def test_the_scale_must_suit_the_hyperparameter_type():
    problems = problems_of(
        {
            "batch_size": {"scale": "log", "low": 16, "high": 256},
            "activation": {"scale": "uniform", "low": 0, "high": 1},
            "l2": {"scale": "int", "low": 0, "high": 1},
            "hidden": {"choice": [[64], [128]]},
        }
    )
    assert "int_log" in problems["space.batch_size.scale"].fix
    assert "{choice: [relu, tanh, leaky_relu]}" in problems["space.activation.scale"].fix
    assert "uniform" in problems["space.l2.scale"].fix
    assert "layers and hidden_units" in problems["space.hidden"].fix


def test_a_list_for_a_scalar_hyperparameter_suggests_a_choice():
    problems = problems_of({"batch_size": [32, 64], "epochs": "many"})
    assert "{choice: [32, 64]}" in problems["space.batch_size"].fix
    assert "integer" in problems["space.epochs"].message


def test_the_section_must_be_a_mapping():
    assert list(problems_of([1, 2])) == ["space"]
