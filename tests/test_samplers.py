"""Planned trials: reproducible, prefix-consistent, on each parameter's scale."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpsearch.space.samplers import SAMPLERS, plan_round, scrambled_halton, trial_seed
from hpsearch.space.scales import Choice, Int, IntLog, Log, OneMinusLog, Uniform
from hpsearch.space.search_space import Space

SPACE = Space(
    {
        "learning_rate": Log(1e-4, 1.0),
        "beta1": OneMinusLog(0.9, 0.999),
        "hidden_units": IntLog(16, 512),
        "layers": Int(1, 4),
        "batch_size": Choice((32, 64, 128, 256)),
        "l2": Uniform(0.0, 0.01),
    }
)


@pytest.mark.parametrize("sampler", ["random", "quasi"])
def test_the_same_arguments_plan_the_same_trials(sampler):
    a = plan_round(SPACE, 20, seed=7, round=1, sampler=sampler)
    b = plan_round(SPACE, 20, seed=7, round=1, sampler=sampler)
    assert a == b
    assert len(a) == 20
    assert plan_round(SPACE, 20, seed=8, round=1, sampler=sampler) != a
    assert plan_round(SPACE, 20, seed=7, round=2, sampler=sampler) != a


@pytest.mark.parametrize("sampler", ["random", "quasi"])
def test_planning_more_trials_extends_the_plan(sampler):
    # A resumed run or a larger --trials must not change the trials already planned.
    ten = plan_round(SPACE, 10, seed=3, round=0, sampler=sampler)
    twenty = plan_round(SPACE, 20, seed=3, round=0, sampler=sampler)
    assert twenty[:10] == ten


def test_the_plan_is_the_same_in_another_process():
    # Another interpreter, with another hash seed: what a worker or a resumed run would see.
    code = (
        "import json; from hpsearch.space.samplers import plan_round; from tests.test_samplers import SPACE; "
        "print(json.dumps([plan_round(SPACE, 5, seed=1, round=0, sampler=s) for s in ('random', 'quasi', 'grid')]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    here = [plan_round(SPACE, 5, seed=1, round=0, sampler=s) for s in ("random", "quasi", "grid")]
    assert json.loads(out) == json.loads(json.dumps(here))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_planned_values_lie_within_the_space(sampler):
    for trial in plan_round(SPACE, 200, seed=0, round=0, sampler=sampler, grid_points=3):
        for name, dist in SPACE.items():
            value = trial[name]
            if dist.is_numeric:
                assert dist.low <= value <= dist.high
            else:
                assert value in dist.choices


def test_random_trials_spread_each_log_parameter_evenly_over_decades():
    lr = np.array([t["learning_rate"] for t in plan_round(SPACE, 4000, seed=0, round=0)])
    for k in (-4, -3, -2, -1):
        assert np.mean((lr >= 10.0**k) & (lr < 10.0 ** (k + 1))) == pytest.approx(0.25, abs=0.03)


def centered_l2_discrepancy(x):
    """Hickernell's centered L2 discrepancy (squared) of points ``x`` of shape (n, d): lower is more even."""
    n, d = x.shape
    z = np.abs(x - 0.5)  # (n, d)
    term1 = (13 / 12) ** d
    term2 = 2 / n * np.prod(1 + 0.5 * z - 0.5 * z**2, axis=1).sum()
    pair = 1 + 0.5 * z[:, None, :] + 0.5 * z[None, :, :] - 0.5 * np.abs(x[:, None, :] - x[None, :, :])  # (n, n, d)
    return term1 - term2 + np.prod(pair, axis=2).sum() / n**2


def empty_cells(x, cells_per_axis):
    """Empty cells of a ``cells_per_axis``² grid, summed over every pair of coordinates."""
    total = 0
    for a, b in itertools.combinations(range(x.shape[1]), 2):
        occupied = set(zip((x[:, a] * cells_per_axis).astype(int), (x[:, b] * cells_per_axis).astype(int)))
        total += cells_per_axis**2 - len(occupied)
    return total


def test_quasi_points_cover_the_cube_more_evenly_than_random():
    n, d = 256, 4
    space = Space({f"x{j}": Uniform(0.0, 1.0) for j in range(d)})
    for seed in range(3):
        quasi = np.array([list(t.values()) for t in plan_round(space, n, seed=seed, round=0, sampler="quasi")])
        rand = np.array([list(t.values()) for t in plan_round(space, n, seed=seed, round=0)])
        assert centered_l2_discrepancy(quasi) < centered_l2_discrepancy(rand) / 5
        assert empty_cells(quasi, 16) < 0.85 * empty_cells(rand, 16)


def test_scrambled_halton_points_are_in_the_unit_cube_and_stratified():
    x = scrambled_halton(64, 3, np.random.default_rng(0))
    assert x.shape == (64, 3)
    assert np.all((x >= 0) & (x < 1))
    # The first coordinate is in base 2: 64 points fill each of 64 cells once, scrambled or not.
    assert sorted((x[:, 0] * 64).astype(int)) == list(range(64))


def test_grid_lies_on_each_parameter_scale():
    space = Space(
        {
            "learning_rate": Log(1e-4, 1.0),
            "beta2": OneMinusLog(0.9, 0.9999),
            "hidden_units": IntLog(1, 1000),
            "layers": Int(1, 4),
            "batch_size": Choice((32, 64)),
        }
    )
    plan = plan_round(space, 3, seed=0, round=0, sampler="grid", grid_points=4)
    axis = {name: sorted({t[name] for t in plan}) for name in space}
    np.testing.assert_allclose(axis["learning_rate"], [1e-4, 10 ** -(8 / 3), 10 ** -(4 / 3), 1.0])
    np.testing.assert_allclose(axis["beta2"], [0.9, 0.99, 0.999, 0.9999])
    assert axis["hidden_units"] == [1, 10, 100, 1000]
    assert axis["layers"] == [1, 2, 3, 4]  # 4 grid points on 1..4: every integer once
    assert axis["batch_size"] == [32, 64]
    # The full cartesian product (n_trials ignored), each combination once.
    assert len(plan) == 4 * 4 * 4 * 4 * 2
    assert len({tuple(t.values()) for t in plan}) == len(plan)


def test_grid_drops_repeated_integers_and_orders_the_first_name_slowest():
    space = Space({"a": Int(1, 2), "b": Choice(("x", "y"))})
    plan = plan_round(space, 100, seed=0, round=0, sampler="grid", grid_points=5)
    assert plan == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


def test_bad_sampler_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown sampler"):
        plan_round(SPACE, 3, seed=0, round=0, sampler="sobol")
    with pytest.raises(ValueError, match="grid_points"):
        plan_round(SPACE, 3, seed=0, round=0, sampler="grid", grid_points=1)


def test_trial_seeds_are_reproducible_distinct_and_usable():
    seeds = [trial_seed(0, r, i) for r in range(3) for i in range(300)]
    assert seeds == [trial_seed(0, r, i) for r in range(3) for i in range(300)]
    assert len(set(seeds)) == len(seeds)
    assert trial_seed(1, 0, 0) != trial_seed(0, 0, 0)
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)


def test_an_empty_space_plans_empty_trials():
    assert plan_round(Space({}), 3, seed=0, round=0) == [{}, {}, {}]


def test_a_space_without_conditions_plans_exactly_what_it_planned_before_conditions_existed():
    # The fixture was written by tests/make_plan_fixture.py on the code before `when:` and bundles:
    # an old run resumed today must plan the same trials, bit for bit (floats compared by repr).
    from tests.make_plan_fixture import FIXTURE, encode

    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for case in stored["cases"]:
        space = Space.from_json(stored["spaces"][case["space"]])
        plan = plan_round(
            space, case["n"], seed=case["seed"], round=case["round"], sampler=case["sampler"], grid_points=3
        )
        assert [encode(p) for p in plan] == case["plan"], case
