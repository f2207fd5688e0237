"""Coarse to fine: the zoom box, its degenerate cases, edge hints and --expand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.space.parsing import parse_space
from hpsearch.space.scales import Choice, Int, IntLog, Log, OneMinusLog, Uniform
from hpsearch.space.search_space import Space
from hpsearch.space.zoom import MIN_UNIT_WIDTH, EdgeHint, zoom_space


def engine_space(distributions):
    """A space as config builds it for the built-in engine: each range with its hyperparameter's legal limits."""
    space, _ = parse_space({name: dist.to_json() for name, dist in distributions.items()}, parameters=HYPERPARAMETERS)
    return space


REFERENCE = engine_space(
    {
        "learning_rate": Log(1e-4, 1.0),
        "beta2": OneMinusLog(0.9, 0.9999),
        "hidden_units": IntLog(16, 512),
        "layers": Int(1, 8),
        "batch_size": Choice((32, 64, 128, 256)),
        "l2": Uniform(0.0, 0.01),
    }
)


@st.composite
def top_trials(draw):
    """1-10 trials drawn in the reference space, clustered around a random centre, and a margin."""
    k = draw(st.integers(1, 10))
    spread = draw(st.floats(0.0, 0.5))
    centre = np.array(draw(st.lists(st.floats(0, 1), min_size=len(REFERENCE), max_size=len(REFERENCE))))
    offsets = np.array(draw(st.lists(st.floats(-1, 1), min_size=k * len(REFERENCE), max_size=k * len(REFERENCE))))
    units = np.clip(centre + spread * offsets.reshape(k, len(REFERENCE)), 0, 1)
    return [REFERENCE.from_unit(u) for u in units], draw(st.floats(0.0, 0.3))


@settings(max_examples=150, deadline=None)
@given(top_trials(), st.booleans())
def test_the_box_contains_every_top_trial_and_stays_legal(case, expand):
    top, margin = case
    new = zoom_space(REFERENCE, top, margin=margin, expand=expand).space
    assert new.names == REFERENCE.names
    for name, dist in new.items():
        ref = REFERENCE[name]
        assert type(dist) is type(ref)
        for trial in top:
            value = trial[name]
            assert (dist.low <= value <= dist.high) if dist.is_numeric else value in dist.choices
        if not dist.is_numeric:
            assert set(dist.choices) <= set(ref.choices)
        elif not expand:
            assert ref.low <= dist.low <= dist.high <= ref.high


@settings(max_examples=100, deadline=None)
@given(top_trials())
def test_the_box_is_the_span_of_the_top_trials_plus_the_margin(case):
    top, margin = case
    new = zoom_space(REFERENCE, top, margin=margin).space
    for name in ("learning_rate", "beta2", "l2"):  # continuous scales: the box is exact
        u = [REFERENCE[name].to_unit(t[name]) for t in top]
        centre, width = (max(u) + min(u)) / 2, max(max(u) - min(u) + 2 * margin, MIN_UNIT_WIDTH)
        expected = (max(0.0, centre - width / 2), min(1.0, centre + width / 2))
        got = (REFERENCE[name].to_unit(new[name].low), REFERENCE[name].to_unit(new[name].high))
        assert got == pytest.approx(expected, abs=1e-9)


def test_a_zoom_on_log_is_worked_on_log10():
    # lr 1e-3 and 1e-2 sit at u = 1/4 and 1/2 of [1e-4, 1] (4 decades);
    # ± 0.1 gives u in [0.15, 0.6], i.e. log10(lr) in [-3.4, -1.6].
    new = zoom_space(REFERENCE, [trial(learning_rate=1e-3), trial(learning_rate=1e-2)]).space
    assert bounds(new["learning_rate"]) == pytest.approx((10**-3.4, 10**-1.6))
    assert bounds(new["learning_rate"]) == pytest.approx((3.981e-4, 2.512e-2), rel=1e-3)


def test_a_zoom_on_one_minus_log_is_worked_on_log10_of_one_minus_beta():
    # 1 - β spans 10^-1 .. 10^-4 (3 decades). β = 0.99 and 0.999 sit at u = 1/3 and 2/3;
    # ± 0.1 gives -log10(1-β) in [1 + 3 * 0.2333, 1 + 3 * 0.7667] = [1.7, 3.3]:
    # β in [1 - 10^-1.7, 1 - 10^-3.3] = [1 - 0.019953, 1 - 0.000501].
    new = zoom_space(REFERENCE, [trial(beta2=0.99), trial(beta2=0.999)]).space
    assert new["beta2"].low == pytest.approx(0.980047, abs=1e-6)
    assert new["beta2"].high == pytest.approx(0.999499, abs=1e-6)
    # A zoom on β itself would have kept [0.99 - 0.01, 0.999 + 0.01] = [0.98, 0.9999]: the 1−β zoom narrows the top.


def test_the_box_narrows_the_span():
    top = [
        trial(learning_rate=3e-3, l2=0.004, layers=3, hidden_units=64),
        trial(learning_rate=5e-3, l2=0.005, layers=4, hidden_units=90),
    ]
    new = zoom_space(REFERENCE, top).space
    for name in ("learning_rate", "l2", "layers", "hidden_units"):
        old_width = REFERENCE[name].to_unit(REFERENCE[name].high) - REFERENCE[name].to_unit(REFERENCE[name].low)
        new_width = REFERENCE[name].to_unit(new[name].high) - REFERENCE[name].to_unit(new[name].low)
        assert new_width < 0.5 * old_width, name
    assert (new["layers"].low, new["layers"].high) == (
        2,
        5,
    )  # u of 3 and 4 is 2.5/8 and 3.5/8; ± 0.1 · 8 = ± 0.8 values


def test_top_trials_all_equal_leave_a_non_empty_box():
    top = [trial(layers=5), trial(layers=5), trial(layers=5)]
    layers = {}
    for margin in (0.1, 0.0):
        new = zoom_space(REFERENCE, top, margin=margin).space
        for name in ("learning_rate", "beta2", "l2"):
            assert new[name].low < top[0][name] < new[name].high, (name, margin)
        layers[margin] = new["layers"]
    # On 1..8 a unit step of 0.1 is 0.8 values: 5 ± 0.8 rounds to 4..6.
    assert (layers[0.1].low, layers[0.1].high) == (4, 6)
    # With no margin the minimum width (± 0.01 · 8 values) keeps 5 alone: an integer range may collapse.
    assert (layers[0.0].low, layers[0.0].high) == (5, 5)


def test_a_single_trial_is_enough():
    new = zoom_space(REFERENCE, [trial(learning_rate=1e-2)], margin=0.1).space
    assert bounds(new["learning_rate"]) == pytest.approx((10**-2.4, 10**-1.6))


def test_a_choice_keeps_the_choices_of_the_top_trials_in_their_order():
    new = zoom_space(REFERENCE, [trial(batch_size=256), trial(batch_size=64), trial(batch_size=256)]).space
    assert new["batch_size"] == Choice((64, 256))


def test_no_trials_is_an_error():
    with pytest.raises(ValueError):
        zoom_space(REFERENCE, [])


# -- edge hints and --expand ---------------------------------------------------


def test_the_best_trial_at_a_bound_gives_a_hint_naming_the_key_to_widen():
    result = zoom_space(REFERENCE, [trial(learning_rate=1.2e-4, layers=8), trial()])
    hints = {(h.name, h.side): h for h in result.edges}
    assert set(hints) == {("learning_rate", "low"), ("layers", "high")}
    # 1.2e-4 is near the bound, not at it: the hint says so and gives the value
    assert hints["learning_rate", "low"].message.startswith(
        "learning_rate: the best trial sits near the low bound 0.0001 (best 0.00012)"
    )
    assert "space.learning_rate.low" in hints["learning_rate", "low"].message
    assert isinstance(hints["layers", "high"], EdgeHint)
    assert "sits at the high bound 8 —" in hints["layers", "high"].message


def test_only_the_best_trial_decides_an_edge():
    result = zoom_space(REFERENCE, [trial(), trial(learning_rate=1e-4)])
    assert result.edges == []


def test_a_bound_at_the_legal_limit_gets_no_hint():
    # l2 cannot go below 0: nothing to widen.
    assert zoom_space(REFERENCE, [trial(l2=0.0)]).edges == []


def test_expand_moves_an_edge_bound_outward_by_the_box_width():
    # lr 1e-4 and 1e-3: u = 0 and 0.25, box [0, 0.35] after clipping, width 0.35;
    # expanded low at u = -0.35: 10^(-4 - 0.35 * 4) = 10^-5.4.
    top = [trial(learning_rate=1e-4), trial(learning_rate=1e-3)]
    result = zoom_space(REFERENCE, top, expand=True)
    assert bounds(result.space["learning_rate"]) == pytest.approx((10**-5.4, 10**-2.6))
    assert [h.side for h in result.edges] == ["low"]
    assert "expanded it to 3.981e-06" in result.edges[0].message


def test_expand_on_one_minus_log_stays_below_one():
    # β = 0.9999 at u = 1: box [0.9, 1] of width 0.1; high at u = 1.1: 1 - 10^-(1 + 3 * 1.1) = 1 - 10^-4.3.
    new = zoom_space(REFERENCE, [trial(beta2=0.9999)], expand=True).space
    assert new["beta2"].high == pytest.approx(1 - 10**-4.3)
    assert new["beta2"].high < 1


@pytest.mark.parametrize(
    "name, dist, top, side, expected",
    [
        # closed limits are themselves legal
        ("l2", Uniform(0.001, 0.01), [0.001, 0.009], "low", 0.0),
        ("keep_prob", Uniform(0.5, 0.99), [0.99, 0.6], "high", 1.0),
        ("layers", Int(1, 4), [1, 4], "low", 0),
        ("beta1", OneMinusLog(0.5, 0.99), [0.5, 0.9], "low", 0.0),  # extrapolates below 0
        ("hidden_units", IntLog(2, 64), [2, 64], "low", 1),
        # open limits are not: stop half-way between the old bound and the limit
        ("beta", Uniform(0.5, 0.99), [0.99, 0.6], "high", 0.995),
        ("learning_rate", Uniform(0.001, 0.1), [0.001, 0.09], "low", 0.0005),
    ],
)
def test_expand_never_passes_what_the_hyperparameter_can_take(name, dist, top, side, expected):
    result = zoom_space(engine_space({name: dist}), [{name: v} for v in top], expand=True)
    assert getattr(result.space[name], side) == pytest.approx(expected)
    assert [h.side for h in result.edges] == [side]


def test_a_parameter_without_legal_limits_expands_as_far_as_its_scale_allows():
    # An own objective's parameter named like the engine's l2 is not held to l2 >= 0:
    # box [0.001, 0.0091] of width 0.0081 (margin 0.1 of 0.009 each side, clipped) -> low 0.001 - 0.0081 * 1.0 ...
    dist = Uniform(0.001, 0.01)
    result = zoom_space(Space({"l2": dist}), [{"l2": 0.001}, {"l2": 0.009}], expand=True)
    assert result.space["l2"].low < 0
    # ... while a log scale still stops short of 0.
    logged = zoom_space(Space({"lr": Log(1e-4, 1e-2)}), [{"lr": 1e-4}], expand=True).space["lr"]
    assert 0 < logged.low < 1e-4


def test_a_stored_space_keeps_its_legal_limits_and_an_old_one_gets_them_back():
    stored = Space.from_json(REFERENCE.to_json())
    assert stored == REFERENCE
    assert zoom_space(stored, [trial()]).space["l2"].legal == REFERENCE["l2"].legal  # a zoom round keeps them
    top = [{**trial(), "l2": 0.0}]
    assert zoom_space(stored, top).edges == []
    # Written before ranges kept their limits: plain scale, low and high.
    old = Space.from_json(
        {name: {k: v for k, v in spec.items() if k != "legal"} for name, spec in REFERENCE.to_json().items()}
    )
    assert [h.name for h in zoom_space(old, top).edges] == ["l2"]
    assert zoom_space(old.with_legal_from(REFERENCE), top).edges == []


def test_expand_leaves_a_bound_without_a_hint_in_place():
    new = zoom_space(REFERENCE, [trial(learning_rate=1e-2)], expand=True).space
    assert new["learning_rate"] == zoom_space(REFERENCE, [trial(learning_rate=1e-2)]).space["learning_rate"]


def trial(**values):
    """A trial in the middle of REFERENCE, with ``values`` overriding."""
    return {**REFERENCE.center(), **values}


def bounds(dist):
    return (dist.low, dist.high)


def test_expand_keeps_an_integer_range_integer_at_an_open_limit():
    from hpsearch.space.scales import Legal

    # an integer that must stay above 0 (open), searched from 1: half-way to the limit would be 0.5
    space = Space({"n": Int(1, 9, legal=Legal(low=0, low_open=True))})
    result = zoom_space(space, [{"n": 1}, {"n": 9}], expand=True)
    assert result.space["n"].low == 1 and isinstance(result.space["n"].low, int)


def test_a_hint_on_a_parameter_the_best_trial_does_not_use_says_whose_value_it_is():
    space, _ = parse_space(
        {
            "layers": {"scale": "int", "low": 0, "high": 2},
            "hidden_units": {"scale": "int_log", "low": 8, "high": 64, "when": {"layers": [1, 2]}},
        },
        parameters=HYPERPARAMETERS,
    )
    best_is_linear = [{"layers": 0}, {"layers": 1, "hidden_units": 8}]
    (hint,) = [h for h in zoom_space(space, best_is_linear).edges if h.name == "hidden_units"]
    assert hint.message.startswith("hidden_units: the best trial that uses it sits at the low bound 8")
    (hint,) = [h for h in zoom_space(space, best_is_linear[::-1]).edges if h.name == "hidden_units"]
    assert hint.message.startswith("hidden_units: the best trial sits at the low bound 8")
