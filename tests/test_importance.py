"""Hyperparameter importance on synthetic searches whose answer is known."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest

from hpsearch.analysis.importance import Importance, hyperparameter_importance, importance_order, run_importance
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.space.search_space import Space

SPACE = Space.from_json(
    {
        "learning_rate": {"scale": "log", "low": 1e-4, "high": 1.0},
        "beta1": {"scale": "one_minus_log", "low": 0.9, "high": 0.999},
        "layers": {"scale": "int", "low": 1, "high": 4},
    }
)


def dev_cost(params: dict) -> float:
    """A U-shape in log10(learning_rate) around 10^-2.5, plus a little from beta1; layers unused."""
    return (math.log10(params["learning_rate"]) + 2.5) ** 2 - 0.6 * math.log10(1.0 - params["beta1"])


def trial(
    number: int, params: dict, cost: float | None, status: TrialStatus = TrialStatus.OK, rnd: int = 0
) -> TrialRecord:
    return TrialRecord(
        trial=number, round=rnd, index=number, params=params, seed=number, status=status, dev_cost=cost, train_cost=cost
    )


def random_trials(n: int, seed: int, space: Space = SPACE, first: int = 0, rnd: int = 0) -> list[TrialRecord]:
    """``n`` trials drawn uniformly on each parameter's own scale, dev J = dev_cost + a little noise."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        params = space.from_unit(rng.uniform(size=len(space)))
        out.append(trial(first + k, params, dev_cost(params) + 0.05 * rng.standard_normal(), rnd=rnd))
    return out


def shares(items: list[Importance]) -> dict[str, float]:
    return {item.name: item.share for item in items}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_learning_rate_dominates_beta1_matters_a_little_and_the_unused_parameter_not_at_all(seed: int):
    report = hyperparameter_importance(SPACE, random_trials(60, seed=seed))
    assert report.enough and report.message is None and report.n_trials == 60
    assert [item.name for item in report.items] == ["learning_rate", "beta1", "layers"]
    share = shares(report.items)
    assert share["learning_rate"] > 0.6
    assert 0.01 < share["beta1"] < 0.3
    assert share["layers"] < 0.03
    assert sum(share.values()) <= 1.0


def test_importance_does_not_depend_on_the_order_of_the_trials():
    trials = random_trials(40, seed=4)
    shuffled = trials[:]
    random.Random(0).shuffle(shuffled)
    assert shuffled != trials
    assert hyperparameter_importance(SPACE, shuffled) == hyperparameter_importance(SPACE, trials)


def test_zoom_rounds_are_left_out():
    # A zoom round samples near the best learning rate AND at the largest layers value, as a zoom on
    # a lucky top trial would: its trials would credit layers with the learning rate's effect.
    zoom = Space.from_json(
        {
            "learning_rate": {"scale": "log", "low": 1e-3, "high": 1e-2},
            "beta1": {"scale": "one_minus_log", "low": 0.9, "high": 0.999},
            "layers": {"scale": "int", "low": 4, "high": 4},
        }
    )
    first = random_trials(40, seed=5)
    zoomed = random_trials(40, seed=6, space=zoom, first=40, rnd=1)
    assert hyperparameter_importance(SPACE, first + zoomed) == hyperparameter_importance(SPACE, first)


def test_a_balanced_additive_design_gives_the_shares_worked_out_by_hand():
    # J = a(lr) + b(layers) on a 3 x 2 grid, 5 times; beta1 fixed. The sums 0..5 are evenly spaced,
    # so their ranks are linear in J and we can work in J. Sums of squares over the 30 trials:
    # total 87.5 = lr's 80 (30 * Var{0, 2, 4}) + layers' 7.5 (30 * Var{0, 1}).
    # Step 1 takes lr: 80 less its 2 free levels times the mean square left, 7.5 / (30 - 1 - 2).
    # Step 2 takes layers on what is left, which it explains exactly: 7.5, nothing to discount.
    a = {1e-4: 0.0, 1e-2: 2.0, 1.0: 4.0}
    b = {1: 0.0, 4: 1.0}
    grid = [(lr, layers) for lr in a for layers in b]
    trials = [
        trial(k, {"learning_rate": lr, "beta1": 0.99, "layers": layers}, a[lr] + b[layers])
        for k, (lr, layers) in enumerate(grid * 5)
    ]
    share = shares(hyperparameter_importance(SPACE, trials).items)
    assert share["learning_rate"] == pytest.approx((80 - 2 * 7.5 / 27) / 87.5, rel=1e-12)
    assert share["layers"] == pytest.approx(7.5 / 87.5, rel=1e-12)
    assert share["beta1"] == 0.0


def test_one_outlying_cost_does_not_take_over_the_importance():
    trials = random_trials(60, seed=7)
    worst = max(trials, key=lambda t: t.dev_cost)
    blown_up = [dataclasses.replace(t, dev_cost=t.dev_cost * 1000) if t is worst else t for t in trials]
    assert hyperparameter_importance(SPACE, blown_up) == hyperparameter_importance(SPACE, trials)
    logged = [dataclasses.replace(t, dev_cost=math.log(t.dev_cost + 10)) for t in trials]
    assert hyperparameter_importance(SPACE, logged) == hyperparameter_importance(SPACE, trials)


def test_a_choice_parameter_is_judged_per_category():
    space = Space.from_json({"batch_size": {"choice": [16, 32, 64]}, "l2": {"scale": "uniform", "low": 0, "high": 1}})
    rng = np.random.default_rng(8)
    trials = []
    for k in range(60):
        params = space.from_unit(rng.uniform(size=2))
        effect = {16: 1.0, 32: 0.0, 64: 1.0}[params["batch_size"]]  # not monotone in the choice's index
        trials.append(trial(k, params, effect + 0.05 * rng.standard_normal()))
    share = shares(hyperparameter_importance(space, trials).items)
    # Ranks within each group are pure noise, so even a perfect split explains about 2/3 of them.
    assert share["batch_size"] > 0.5
    assert share["l2"] < 0.05


def test_too_few_ok_trials_are_reported_instead_of_ranked():
    trials = random_trials(6, seed=9)
    trials += [trial(10 + k, trials[0].params, None, TrialStatus.FAILED) for k in range(5)]
    trials += [trial(20 + k, trials[0].params, math.inf, TrialStatus.DIVERGED) for k in range(5)]
    trials += random_trials(20, seed=10, first=30, rnd=1)
    report = hyperparameter_importance(SPACE, trials)
    assert not report.enough
    assert report.items == []
    assert report.n_trials == 6
    assert "only 6 ok trials in the first round" in report.message and "≥ 10" in report.message
    assert hyperparameter_importance(SPACE, trials, min_trials=6).enough


def test_a_dev_cost_that_never_varies_has_nothing_to_explain():
    trials = [dataclasses.replace(t, dev_cost=0.5) for t in random_trials(12, seed=11)]
    report = hyperparameter_importance(SPACE, trials)
    assert not report.enough and report.items == []
    assert "same" in report.message


# -- uncertainty ---------------------------------------------------------------------


def test_the_report_gives_the_unexplained_share_and_a_bootstrap_spread():
    report = hyperparameter_importance(SPACE, random_trials(40, seed=3))
    assert report.stable and report.message is None
    assert report.items[0].name == "learning_rate"
    assert report.unexplained == pytest.approx(1 - sum(i.share for i in report.items))
    assert all(i.spread > 0 for i in report.items if i.share > 0)
    # seeded: the same trials give the same spreads
    again = hyperparameter_importance(SPACE, random_trials(40, seed=3))
    assert [i.spread for i in again.items] == [i.spread for i in report.items]


def test_pure_noise_is_too_few_trials_to_rank():
    rng = np.random.default_rng(5)
    trials = [dataclasses.replace(t, dev_cost=float(rng.uniform())) for t in random_trials(12, seed=5)]
    report = hyperparameter_importance(SPACE, trials)
    assert report.enough and not report.stable
    assert report.message.startswith("too few trials to rank")


@pytest.mark.parametrize("n, seed", [(8, 5), (15, 6), (40, 7), (60, 8)])
def test_the_leaderboard_column_order_is_the_importance_ranking_without_its_resamples(n: int, seed: int):
    space = Space.from_json({name: SPACE[name].to_json() for name in reversed(SPACE.names)})  # the unused one first
    trials = random_trials(n, seed=seed, space=space)
    full = run_importance(space, trials)
    expected = [item.name for item in full.items] if full.enough else list(space.names)
    assert importance_order(space, trials) == expected
    assert sorted(expected) == sorted(space.names)
    if n >= 40:
        assert expected[0] == "learning_rate" != space.names[0]
