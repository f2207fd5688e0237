"""TPE planning: valid unit points, reproducible, order-free, and drawn toward the good trials."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.core.records import as_cost
from hpsearch.space.scales import Choice, Int, Log
from hpsearch.space.search_space import Space
from hpsearch.space.tpe import N_STARTUP, Dimension, _fit, default_gamma, level_losses, plan_tpe

NUM = Dimension()
SEEDS = range(6)


def bowl(x: np.ndarray) -> np.ndarray:
    """A quadratic bowl on the unit square with its minimum 0 at (0.8, 0.2)."""
    return ((x - [0.8, 0.2]) ** 2).sum(axis=1)


def branin_unit(x: np.ndarray) -> np.ndarray:
    """Branin on x1 in [-5, 10], x2 in [0, 15], rescaled to the unit square; minimum 0.397887 at three points."""
    x1, x2 = 15 * x[:, 0] - 5, 15 * x[:, 1]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


BRANIN_MINIMA = (np.array([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]]) - [-5, 0]) / 15


def distance_to(minima: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each point's distance to the nearest of ``minima``, shape (n,)."""
    return np.linalg.norm(x[:, None, :] - minima[None], axis=2).min(axis=1)


@st.composite
def histories(draw):
    """Dimensions, finished trials (some inactive, some failed) and a seed."""
    dims = draw(st.lists(st.sampled_from([NUM, Dimension(1), Dimension(2), Dimension(5)]), min_size=1, max_size=4))
    n = draw(st.integers(0, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    points = rng.random((n, len(dims)))
    for j, dim in enumerate(dims):
        if dim.n_choices:
            points[:, j] = (np.floor(points[:, j] * dim.n_choices) + 0.5) / dim.n_choices
    points[rng.random(points.shape) < draw(st.sampled_from([0.0, 0.3]))] = np.nan
    losses = rng.normal(size=n)
    losses[rng.random(n) < draw(st.sampled_from([0.0, 0.2, 1.0]))] = np.inf
    return dims, points, losses, seed


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 8))
def test_a_plan_is_n_new_valid_unit_points_and_the_same_for_the_same_seed(history, n_new):
    dims, points, losses, seed = history
    plan = plan_tpe(points, losses, dims, n_new, np.random.default_rng(seed))
    assert plan.shape == (n_new, len(dims))
    assert np.all((plan >= 0) & (plan <= 1))
    for j, dim in enumerate(dims):
        if dim.n_choices:  # the middle of one choice's slice, as Choice.to_unit puts it
            index = plan[:, j] * dim.n_choices - 0.5
            np.testing.assert_allclose(index, np.round(index), atol=1e-9)
    np.testing.assert_array_equal(plan, plan_tpe(points, losses, dims, n_new, np.random.default_rng(seed)))


def test_older_trials_weigh_less_once_a_group_has_more_than_25():
    obs = np.random.default_rng(0).random((40, 2))  # oldest first
    w = _fit(obs, [NUM, NUM]).w[:-1]  # the prior kernel is last
    np.testing.assert_allclose(w[-25:], w[-1])  # the newest 25 weigh the same
    assert np.all(np.diff(w) >= 0) and w[0] < w[-1] / 10
    np.testing.assert_allclose(_fit(obs[:25], [NUM, NUM]).w[:-1], 1 / 26)  # 25 or fewer: all alike, as the prior


def test_a_kernel_is_as_wide_as_the_larger_gap_to_its_neighbours():
    # Sorted with the ends 0 and 1: 0 | 0.1 0.2 0.6 | 1. The outer values use their inner gap only
    # (0.1 and 0.4), the middle one its larger gap (0.4); the clip keeps them >= 1/(3 + 2).
    numeric = _fit(np.array([[0.6], [0.1], [0.2]]), [NUM]).dims[0]
    np.testing.assert_allclose(numeric.sigma, [0.4, 0.2, 0.4, 1.0])
    lone = _fit(np.array([[0.3]]), [NUM]).dims[0]
    np.testing.assert_allclose(lone.sigma, [0.7, 1.0])  # one value: its larger gap to the ends


def test_a_tie_of_loss_goes_to_the_older_trial():
    x = np.array([[0.9, 0.9], [0.1, 0.1]] + [[0.5, 0.5]] * 8)  # oldest first
    losses = np.array([0.0, 0.0] + [1.0] * 8)  # ten trials: one good one, the older of the tied two
    plan = plan_tpe(x, losses, [NUM, NUM], 8, np.random.default_rng(0))
    assert np.linalg.norm(plan - 0.9, axis=1).mean() < np.linalg.norm(plan - 0.1, axis=1).mean()


def test_planning_more_points_extends_the_plan():
    rng = np.random.default_rng(0)
    x = rng.random((30, 2))
    five = plan_tpe(x, bowl(x), [NUM, NUM], 5, np.random.default_rng(1))
    twelve = plan_tpe(x, bowl(x), [NUM, NUM], 12, np.random.default_rng(1))
    np.testing.assert_array_equal(twelve[:5], five)


def bowl_distance(x: np.ndarray) -> float:
    return float(distance_to(np.array([[0.8, 0.2]]), x).mean())


def branin_median(x: np.ndarray) -> float:
    return float(np.median(branin_unit(x)))


# The bowl is scored by distance to its one minimum. Branin has three, so a
# uniform point is rarely far from all of them: it is scored by the batch's
# median value instead, and with a smaller margin (30 trials give only 3 good ones).
@pytest.mark.parametrize("f, score, max_ratio", [(bowl, bowl_distance, 0.6), (branin_unit, branin_median, 0.85)])
def test_after_30_random_trials_planned_points_beat_uniform_draws(f, score, max_ratio):
    tpe, uniform = [], []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        x = rng.random((30, 2))
        tpe.append(score(plan_tpe(x, f(x), [NUM, NUM], 16, rng)))
        uniform.append(score(rng.random((16, 2))))
    # A clear margin on average, and better on most seeds, not one lucky draw.
    assert np.mean(tpe) < max_ratio * np.mean(uniform)
    assert sum(t < u for t, u in zip(tpe, uniform)) > len(tpe) / 2


def test_the_good_density_is_highest_near_the_optimum():
    rng = np.random.default_rng(3)
    x = rng.random((40, 2))
    l = _fit(x[np.argsort(bowl(x))[: default_gamma(40)]], [NUM, NUM])
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 41), np.linspace(0, 1, 41)), axis=-1).reshape(-1, 2)
    assert np.linalg.norm(grid[np.argmax(l.log_pdf(grid))] - [0.8, 0.2]) < 0.15


def test_a_batch_spreads_out_rather_than_repeating_one_point():
    rng = np.random.default_rng(0)
    x = rng.random((30, 2))
    plan = plan_tpe(x, bowl(x), [NUM, NUM], 16, rng)
    gaps = np.linalg.norm(plan[:, None] - plan[None], axis=2)[np.triu_indices(16, 1)]
    assert gaps.min() > 1e-3
    assert np.median(gaps) > 0.05


def test_a_choice_that_is_always_best_is_planned_far_more_often():
    rng = np.random.default_rng(0)
    choice = rng.integers(0, 4, size=40)
    x = np.column_stack([rng.random(40), (choice + 0.5) / 4])
    losses = np.where(choice == 2, 0.0, 1.0) + 0.1 * rng.random(40)
    plan = plan_tpe(x, losses, [NUM, Dimension(4)], 32, rng)
    counts = np.bincount(np.floor(plan[:, 1] * 4).astype(int), minlength=4)
    assert counts[2] > 2 * max(counts[[0, 1, 3]])


@pytest.mark.parametrize("dim", [NUM, Dimension(4)])
def test_a_coordinate_inactive_in_every_trial_does_not_change_the_ratio(dim):
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.random(30), np.full(30, np.nan)])
    l, g = _fit(x[:3], [NUM, dim]), _fit(x[3:], [NUM, dim])
    probe = np.column_stack([np.full(5, 0.3), [0.0, 0.125, 0.5, 0.875, 1.0]])  # (5, 2): only the inactive one varies
    ratio = l.log_pdf(probe) - g.log_pdf(probe)
    np.testing.assert_allclose(ratio, ratio[0], atol=1e-9)


def test_an_inactive_coordinate_gives_its_kernel_the_prior_shape_there():
    parzen = _fit(np.array([[0.2, np.nan], [0.3, 0.7]]), [NUM, NUM])
    numeric = parzen.dims[1]
    assert (numeric.mu[0], numeric.sigma[0]) == (numeric.mu[-1], numeric.sigma[-1]) == (0.5, 1.0)
    assert numeric.mu[1] == 0.7 and numeric.sigma[1] < 1
    choice = _fit(np.array([[0.125, np.nan], [0.125, 0.375]]), [Dimension(4), Dimension(4)]).dims[1]
    np.testing.assert_allclose(choice.p[0], 0.25)
    assert np.argmax(choice.p[1]) == 1


def test_a_parameter_inactive_in_half_the_trials_still_lets_the_others_concentrate():
    distances = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        x = np.column_stack([rng.random((30, 2)), rng.random(30)])
        x[::2, 2] = np.nan  # e.g. beta2, searched only when the optimizer is adam
        plan = plan_tpe(x, bowl(x[:, :2]), [NUM, NUM, NUM], 16, rng)
        assert np.all(np.isfinite(plan))
        distances.append(distance_to(np.array([[0.8, 0.2]]), plan[:, :2]).mean())
    assert np.mean(distances) < 0.25  # uniform draws average about 0.45


def test_all_failed_falls_back_to_uniform():
    x = np.random.default_rng(0).random((30, 2))
    expected = np.random.default_rng(5).random((4, 2))
    expected[:, 1] = (np.floor(expected[:, 1] * 3) + 0.5) / 3
    plan = plan_tpe(x, np.full(30, np.inf), [NUM, Dimension(3)], 4, np.random.default_rng(5))
    np.testing.assert_array_equal(plan, expected)


def test_failed_trials_are_never_good_and_push_the_plan_away():
    # Trials in the lower-left corner all failed; elsewhere the bowl's value.
    rng = np.random.default_rng(0)
    x = rng.random((60, 2))
    failed = (x < 0.4).all(axis=1)
    losses = np.where(failed, np.inf, bowl(x))
    plan = plan_tpe(x, losses, [NUM, NUM], 16, rng)
    assert (plan < 0.4).all(axis=1).sum() <= 1  # a uniform draw lands there 16% of the time
    assert bowl_distance(plan) < 0.25


def test_too_few_finished_trials_fall_back_to_uniform():
    x = np.random.default_rng(0).random((N_STARTUP - 1, 2))
    plan = plan_tpe(x, bowl(x), [NUM, NUM], 3, np.random.default_rng(2))
    np.testing.assert_array_equal(plan, np.random.default_rng(2).random((3, 2)))


@pytest.mark.parametrize("seed", SEEDS)
def test_maximizing_a_value_plans_as_minimizing_its_negation(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((25, 3))
    accuracy = 1 - bowl(x[:, :2])
    accuracy[3] = np.nan  # a diverged trial
    dims = [NUM, NUM, Dimension(3)]

    def plan(losses) -> np.ndarray:
        return plan_tpe(x, np.asarray(losses, dtype=float), dims, 8, np.random.default_rng(seed))

    maximized = plan([as_cost(a, "maximize") for a in accuracy])
    # The same trials minimized as an error of their own (not derived from as_cost): the same plan ...
    error = bowl(x[:, :2])
    error[3] = np.inf
    np.testing.assert_array_equal(maximized, plan(error))
    # ... and not the plan of the wrong direction, which steers to low accuracy.
    wrong = plan([as_cost(a, "minimize") for a in accuracy])
    assert bowl_distance(maximized[:, :2]) < bowl_distance(wrong[:, :2])


def test_level_losses_use_the_highest_rung_enough_trials_reached_and_rank_pruned_trials_after():
    levels = [
        {0: 0.5, 1: 0.40},  # reached rung 1
        {0: 0.1, 1: 0.45},  # best at rung 0, worse at rung 1: rung 1 decides
        {0: 0.3},  # pruned at rung 0: after every trial of rung 1
        {0: 0.9},
        {0: math.inf},  # diverged at rung 0
        {},  # failed
    ]
    np.testing.assert_array_equal(level_losses(levels, need=2), [0, 1, 2, 3, np.inf, np.inf])
    # Too few at rung 1: rung 0 decides, and the trial that was best there is best.
    np.testing.assert_array_equal(level_losses(levels, need=3), [2, 0, 1, 3, np.inf, np.inf])


def test_planned_unit_points_map_to_valid_values_of_a_real_space():
    space = Space(
        {"learning_rate": Log(1e-4, 1.0), "layers": Int(1, 4), "activation": Choice(("relu", "tanh", "gelu"))}
    )
    dims = [Dimension(len(space[n].choices)) if not space[n].is_numeric else NUM for n in space.names]
    rng = np.random.default_rng(0)
    trials = [space.from_unit(u) for u in rng.random((20, 3))]
    units = np.array([space.to_unit(t) for t in trials])
    losses = np.array([abs(math.log10(t["learning_rate"]) + 2) + (t["activation"] != "tanh") for t in trials])
    for u in plan_tpe(units, losses, dims, 10, rng):
        params = space.from_unit(u)
        assert 1e-4 <= params["learning_rate"] <= 1.0
        assert params["layers"] in (1, 2, 3, 4)
        assert params["activation"] in ("relu", "tanh", "gelu")


def test_default_gamma_is_a_tenth_capped_at_25():
    assert [default_gamma(n) for n in (1, 10, 11, 30, 250, 1000)] == [1, 1, 2, 3, 25, 25]


@pytest.mark.parametrize("bad", [0, -1, True])
def test_a_dimension_needs_at_least_one_choice(bad):
    with pytest.raises(ValueError, match="n_choices"):
        Dimension(bad)


def test_points_must_match_the_dimensions_and_losses():
    with pytest.raises(ValueError, match=r"points \(n, 2\)"):
        plan_tpe(np.zeros((12, 3)), np.zeros(12), [NUM, NUM], 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="losses"):
        plan_tpe(np.zeros((12, 2)), np.zeros(11), [NUM, NUM], 1, np.random.default_rng(0))


def test_level_losses_judge_a_trial_whose_hyperband_bracket_started_above_the_rung_as_having_reached_it():
    levels = [
        {0: 0.5, 1: 0.40},
        {0: 0.6, 1: 0.45},
        {0: 0.7},  # bracket 0: rung 0, two promoted to rung 1
        {1: 0.3},  # bracket 1 starts at rung 1
        {2: 0.1},  # bracket 2 starts at rung 2: fully trained, the best cost of all
        {2: 0.9},
    ]  # fully trained, the worst
    losses = level_losses(levels, need=3)
    assert np.isfinite(losses).all()  # a fully trained trial is never counted as failed
    # Rung 1 (reached by five, rung 2 by two only) decides, a bracket that started above it by its own first
    # cost; the trial pruned at rung 0 comes after all of them.
    assert list(np.argsort(losses, kind="stable")) == [4, 3, 0, 1, 5, 2]
    # Two reached rung 2: it decides; those that stopped at rung 1 come after, then the one pruned at rung 0.
    assert list(np.argsort(level_losses(levels, need=2), kind="stable")) == [4, 5, 3, 0, 1, 2]
