"""Histograms of planned values, binned on each parameter's own scale."""

from __future__ import annotations

import pytest

from hpsearch.analysis.histogram import histogram
from hpsearch.space.samplers import plan_round
from hpsearch.space.scales import Choice, Int, IntLog, Log, OneMinusLog, Uniform
from hpsearch.space.search_space import Space


def test_log_is_binned_by_decade():
    bins = histogram(Log(1e-4, 1.0), [1e-4, 5e-4, 1e-3, 0.05, 0.5, 1.0])
    # A value on a decade boundary counts in the decade it starts; the top bound in the last.
    assert bins == [("1e-4..1e-3", 2), ("1e-3..0.01", 1), ("0.01..0.1", 1), ("0.1..1", 2)]


def test_a_log_range_off_the_decades_keeps_its_own_ends():
    assert [label for label, _ in histogram(Log(3e-4, 0.05), [])] == ["3e-4..1e-3", "1e-3..0.01", "0.01..0.05"]


def test_one_minus_log_is_binned_by_decade_of_one_minus_beta():
    assert histogram(OneMinusLog(0.9, 0.999), [0.9, 0.95, 0.99, 0.995, 0.999]) == [("0.9..0.99", 2), ("0.99..0.999", 3)]
    assert [label for label, _ in histogram(OneMinusLog(0.0, 0.999), [])] == ["0..0.9", "0.9..0.99", "0.99..0.999"]


def test_a_range_within_one_decade_gets_equal_bins_on_its_scale():
    bins = histogram(Log(1e-3, 1e-2 / 2), [1e-3, 2e-3, 4.9e-3])
    assert len(bins) == 5
    assert bins[0][0].startswith("1e-3..") and bins[-1][0].endswith("..5e-3")
    assert sum(c for _, c in bins) == 3


def test_uniform_gets_five_equal_bins():
    bins = histogram(Uniform(0.0, 0.01), [0.0, 0.001, 0.0025, 0.0099, 0.01])
    assert bins == [("0..2e-3", 2), ("2e-3..4e-3", 1), ("4e-3..6e-3", 0), ("6e-3..8e-3", 0), ("8e-3..0.01", 2)]


def test_a_short_integer_range_gets_a_bin_per_value():
    assert histogram(Int(1, 4), [1, 1, 2, 4]) == [("1", 2), ("2", 1), ("3", 0), ("4", 1)]


def test_a_long_integer_range_gets_inclusive_bins_covering_every_value_once():
    bins = histogram(Int(1, 20), list(range(1, 21)))
    assert [label for label, _ in bins] == ["1..4", "5..8", "9..12", "13..16", "17..20"]
    assert [c for _, c in bins] == [4, 4, 4, 4, 4]


def test_int_log_is_binned_by_decade_with_inclusive_labels():
    assert histogram(IntLog(16, 512), [16, 99, 100, 512]) == [("16..99", 2), ("100..512", 2)]


def test_choices_are_counted_in_their_order_and_labelled_as_yaml():
    assert histogram(Choice((64, 32)), [32, 32, 64]) == [("64", 1), ("32", 2)]
    assert histogram(Choice((True, False)), [False]) == [("true", 0), ("false", 1)]


def test_a_planned_log_parameter_fills_each_decade_evenly():
    space = Space({"learning_rate": Log(1e-4, 1.0), "beta1": OneMinusLog(0.9, 0.999)})
    plan = plan_round(space, 4000, seed=0, round=0)
    for bins, share in (
        (histogram(space["learning_rate"], [t["learning_rate"] for t in plan]), 0.25),
        (histogram(space["beta1"], [t["beta1"] for t in plan]), 0.5),
    ):
        for label, count in bins:
            assert count / len(plan) == pytest.approx(share, abs=0.03), label


def test_a_long_choice_shows_its_most_planned_values_in_listed_order_then_how_many_more():
    from hpsearch.space.scales import Choice

    values = [5] * 3 + [17] * 2 + list(range(20, 30))  # 5 and 17 planned most; 20..29 once each
    bins = histogram(Choice(tuple(range(100))), values)
    assert len(bins) == 12 and sum(count for _, count in bins) == len(values)
    assert bins[:3] == [("5", 3), ("17", 2), ("20", 1)]  # the most planned, in listed order
    assert bins[-1] == ("… 89 more", 1)  # 29 (listed after the 9 others planned once) and 88 never planned
