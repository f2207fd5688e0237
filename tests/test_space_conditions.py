"""Conditional (``when:``) and linked (bundle) parameters: parsing, planning, zoom and unit rows."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hpsearch.core.errors import ConfigError
from hpsearch.nn.hyperparams import HYPERPARAMETERS
from hpsearch.space.conditions import Bundle, Condition
from hpsearch.space.parsing import parse_space
from hpsearch.space.samplers import grid_size, plan_round
from hpsearch.space.scales import Choice, Int, Log, OneMinusLog, Uniform
from hpsearch.space.search_space import Space, envelope
from hpsearch.space.tpe import Dimension, dimensions
from hpsearch.space.zoom import zoom_space

OPTIMIZERS = """
optimizer: {choice: [gd, momentum, adam]}
beta1: {scale: one_minus_log, low: 0.8, high: 0.999, when: {optimizer: [momentum, adam]}}
beta2: {scale: one_minus_log, low: 0.99, high: 0.9999, when: {optimizer: adam}}
learning_rate: {scale: log, low: 1.0e-4, high: 1.0}
"""

SCHEDULE = """
learning_rate: {scale: log, low: 1.0e-4, high: 1.0}
schedule:
  choice:
    - {lr_decay: none}
    - {lr_decay: exponential, decay_rate: 0.95}
    - {lr_decay: inverse_time, decay_rate: 1}
"""


def engine(text: str, model: dict | None = None) -> Space:
    return parse_space(yaml.safe_load(text), parameters=HYPERPARAMETERS, fixed=model)[0]


def problems(text: str, model: dict | None = None, parameters=HYPERPARAMETERS) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_space(yaml.safe_load(text), parameters=parameters, fixed=model)
    return [str(p) for p in info.value.problems]


# -- sampling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["random", "quasi"])
def test_a_trial_draws_the_same_point_and_drops_its_inactive_parameters(sampler):
    conditional = engine(OPTIMIZERS)
    plain = Space(dict(conditional))  # the same distributions, every parameter always active
    for with_when, without in zip(
        plan_round(conditional, 60, seed=3, round=1, sampler=sampler),
        plan_round(plain, 60, seed=3, round=1, sampler=sampler),
    ):
        active = {
            "gd": {"learning_rate", "optimizer"},
            "momentum": {"learning_rate", "optimizer", "beta1"},
            "adam": {"learning_rate", "optimizer", "beta1", "beta2"},
        }[without["optimizer"]]
        assert with_when == {name: without[name] for name in active}


def test_a_parameter_under_an_inactive_parent_is_inactive_too():
    space = Space(
        {"a": Choice(("x", "y")), "b": Choice(("p", "q")), "c": Uniform(0.0, 1.0)},
        {"b": Condition((("a", ("y",)),)), "c": Condition((("b", ("q",)),))},
    )
    assert space.active_names({"a": "x", "b": "q", "c": 0.5}) == ("a",)
    assert space.active_names({"a": "y", "b": "q", "c": 0.5}) == ("a", "b", "c")
    assert space.active_names({"a": "y", "b": "p", "c": 0.5}) == ("a", "b")


def test_grid_plans_each_active_combination_once():
    space = engine(OPTIMIZERS)
    grid = plan_round(space, 0, seed=0, round=0, sampler="grid", grid_points=2)
    # by hand: gd 2 (learning rates) + momentum 2 x 2 (beta1) + adam 2 x 2 x 2 (beta1, beta2)
    assert len(grid) == grid_size(space, 2) == 2 + 4 + 8
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)
    assert all("beta1" not in p for p in grid if p["optimizer"] == "gd")


def test_grid_follows_a_tree_with_integer_parents():
    space = engine("""
layers: {scale: int, low: 1, high: 4}
hidden_units: {choice: [16, 32], when: {layers: [3, 4]}}
batchnorm: {choice: [true, false], when: {layers: 4}}
bn_momentum: {choice: [0.9, 0.99, 0.999], when: {batchnorm: true}}
""")
    grid = plan_round(space, 0, seed=0, round=0, sampler="grid", grid_points=4)
    # layers 1, 2: 1 each; layers 3: 2 widths; layers 4: 2 widths x (bn off + bn on x 3 momenta)
    assert len(grid) == grid_size(space, 4) == 1 + 1 + 2 + 2 * (1 + 3)
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)
    assert {"layers": 4, "hidden_units": 16, "batchnorm": False} in grid


def test_a_space_without_conditions_keeps_its_grid_order():
    space = Space({"a": Choice((1, 2)), "b": Int(0, 2)})
    assert plan_round(space, 0, seed=0, round=0, sampler="grid", grid_points=3) == [
        {"a": a, "b": b} for a in (1, 2) for b in (0, 1, 2)
    ]


def test_a_bundle_sets_its_option_in_one_trial_and_keeps_a_readable_label():
    space = engine(SCHEDULE)
    assert space["schedule"].choices == (
        "lr_decay=none",
        "lr_decay=exponential, decay_rate=0.95",
        "lr_decay=inverse_time, decay_rate=1",
    )
    trials = plan_round(space, 40, seed=1, round=0)
    for trial in trials:
        assert set(trial) >= {"learning_rate", "schedule", "lr_decay"}
        assert trial["lr_decay"] == trial["schedule"].split(",")[0].removeprefix("lr_decay=")
        assert ("decay_rate" in trial) == (trial["lr_decay"] != "none")
        assert "schedule" not in space.objective_params(trial)
    assert {t["lr_decay"] for t in trials} == {"none", "exponential", "inverse_time"}
    assert len(plan_round(space, 0, seed=0, round=0, sampler="grid", grid_points=2)) == 2 * 3


def test_named_options_are_labelled_by_their_names():
    space = engine("""
schedule:
  choice:
    constant: {lr_decay: none}
    decaying: {lr_decay: exponential}
decay_rate: {scale: uniform, low: 0.5, high: 1.0, when: {schedule: decaying}}
""")
    assert space["schedule"].choices == ("constant", "decaying")
    assert {"schedule": "decaying", "decay_rate": 0.5, "lr_decay": "exponential"} in plan_round(
        space, 0, seed=0, round=0, sampler="grid", grid_points=2
    )
    assert Space.from_json(space.to_json()) == space


def test_a_when_may_name_a_value_a_bundle_sets():
    space = engine(SCHEDULE + "epochs: {choice: [10, 20], when: {lr_decay: [exponential, inverse_time]}}\n")
    assert space.conditions["epochs"] == Condition((("schedule", space["schedule"].choices[1:]),))


def test_a_when_on_a_fixed_parent_that_holds_searches_the_parameter_always():
    space = engine("beta1: {scale: uniform, low: 0.8, high: 0.9, when: {optimizer: adam}}", model={"optimizer": "adam"})
    assert space.conditions == {}


# -- storage, zoom, unit rows --------------------------------------------------------------------


def test_conditions_and_bundles_survive_json_and_old_spaces_load_unchanged():
    space = engine(OPTIMIZERS + SCHEDULE.replace("learning_rate: {scale: log, low: 1.0e-4, high: 1.0}\n", ""))
    assert Space.from_json(space.to_json()) == space
    assert "when" in space.to_json()["beta1"] and "when" not in space.to_json()["learning_rate"]
    old = {"lr": {"scale": "log", "low": 0.001, "high": 0.1}, "bs": {"choice": [32, 64]}}
    assert Space.from_json(old).to_json() == old and Space.from_json(old).conditions == {}


def test_zoom_measures_a_conditional_parameter_on_the_trials_where_it_was_active():
    space = Space(
        {"optimizer": Choice(("gd", "momentum")), "beta": Uniform(0.0, 1.0), "lr": Log(1e-4, 1.0)},
        {"beta": Condition((("optimizer", ("momentum",)),))},
    )
    top = [
        {"optimizer": "gd", "lr": 0.01},
        {"optimizer": "momentum", "beta": 0.5, "lr": 0.02},
        {"optimizer": "gd", "lr": 0.03, "beta": 0.99},
    ]  # a stray beta in a gd trial is not counted
    zoomed = zoom_space(space, top, margin=0.0).space
    assert zoomed.conditions == space.conditions
    assert zoomed["beta"].low == pytest.approx(0.49) and zoomed["beta"].high == pytest.approx(0.51)
    only_gd = zoom_space(space, [t for t in top if t["optimizer"] == "gd"], margin=0.0).space
    assert only_gd["beta"] == space["beta"]  # never active in the top trials: its range is kept
    assert only_gd["optimizer"] == Choice(("gd",))


def test_zoom_and_envelope_keep_a_bundle_options():
    space = engine(SCHEDULE)
    bundle = space["schedule"]
    top = [{"learning_rate": 0.01, "schedule": bundle.choices[2], "lr_decay": "inverse_time", "decay_rate": 1.0}]
    zoomed = zoom_space(space, top).space["schedule"]
    assert isinstance(zoomed, Bundle) and zoomed.option(bundle.choices[2]) == bundle.option(bundle.choices[2])
    assert envelope([space, zoom_space(space, top).space])["schedule"] == bundle


def test_unit_rows_are_nan_where_a_parameter_is_inactive():
    space = engine(OPTIMIZERS)
    trials = [
        {"optimizer": "gd", "learning_rate": 0.01},
        {"optimizer": "adam", "learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999},
    ]
    rows = space.unit_rows(trials)  # columns: beta1, beta2, learning_rate, optimizer
    assert rows.shape == (2, 4)
    assert np.isnan(rows[0, :2]).all() and not np.isnan(rows[1]).any()
    assert rows[1, 3] == pytest.approx(space["optimizer"].to_unit("adam"))
    assert dimensions(space) == [Dimension(), Dimension(), Dimension(), Dimension(3)]
    assert space.unit_rows([]).shape == (0, 4)


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, model, expected",
    [
        (
            "beta1: {scale: uniform, low: 0.8, high: 0.9, when: {optimiser: adam}}",
            None,
            "space.beta1.when.optimiser: names 'optimiser', which space: does not define",
        ),
        (
            "beta1: {scale: uniform, low: 0.8, high: 0.9, when: {optimizer: adam}}",
            None,
            "space.beta1.when.optimizer: optimizer is neither searched nor fixed",
        ),
        (
            OPTIMIZERS.replace("optimizer: adam", "optimizer: adamw"),
            None,
            "space.beta2.when.optimizer: optimizer never takes adamw: its choices are gd, momentum, adam — did you mean 'adam'?",
        ),
        (
            "layers: {scale: int, low: 1, high: 3}\nhidden_units: {choice: [8], when: {layers: [3, 4]}}",
            None,
            "space.hidden_units.when.layers: layers never takes 4: it is an integer in 1..3",
        ),
        (
            "learning_rate: {scale: log, low: 0.001, high: 0.1}\nl2: {scale: uniform, low: 0, high: 1, "
            "when: {learning_rate: 0.01}}",
            None,
            "learning_rate is a log range; a when: may name a choice",
        ),
        (
            "activation: {choice: [relu, tanh], when: {optimizer: gd}}\noptimizer: {choice: [gd, adam], "
            "when: {activation: relu}}",
            None,
            "the when:s form a cycle: activation → optimizer → activation",
        ),
        (
            "beta1: {scale: uniform, low: 0.8, high: 0.9, when: {optimizer: adam}}",
            {"optimizer": "gd"},
            "optimizer is fixed to gd in model.optimizer, so beta1 would never be searched",
        ),
        (
            "optimizer: {choice: [gd, adam]}\nbeta1: {scale: uniform, low: 0.8, high: 0.9, when: {optimizer: adam}}",
            {"beta1": 0.9},
            "space.beta1: is conditional here but fixed in model.beta1",
        ),
        (
            SCHEDULE + "decay_rate: {scale: uniform, low: 0.5, high: 1}",
            None,
            "space.schedule.choice: its options set decay_rate, which is also searched in space.decay_rate",
        ),
        (SCHEDULE, {"decay_rate": 0.9}, "its options set decay_rate, which is also fixed in model.decay_rate"),
        ("optimizer: {choice: [{optimizer: adam}, {optimizer: gd}]}", None, "but optimizer is itself a hyperparameter"),
        ("s: {choice: [{lr_decay: sometimes}]}", None, "space.s.choice: item 1: lr_decay must be"),
        ("s: {choice: [{decay_rate: 0.9}, {decay_rate: 0.9}]}", None, "item 2 is listed twice"),
        ("s: {choice: [{decay_rate: 0.9}, 3]}", None, "item 2: every option of a bundle must set parameters"),
    ],
)
def test_each_mistake_is_one_problem_naming_its_key_and_fix(text, model, expected):
    found = problems(text, model)
    assert len(found) == 1, found
    assert expected in found[0]
    assert " — " in found[0]  # every problem says how to fix it


def test_an_own_objective_may_bundle_any_names():
    space, _ = parse_space(
        yaml.safe_load(
            "arch: {choice: {small: {width: 8, depth: 2}, big: {width: 64, depth: 4}}}\n"
            "dropout: {scale: uniform, low: 0, high: 0.5, when: {depth: 4}}"
        ),
        parameters=None,
    )
    assert space.conditions["dropout"] == Condition((("arch", ("big",)),))
    assert plan_round(space, 0, seed=0, round=0, sampler="grid", grid_points=2) == [
        {"arch": "small", "width": 8, "depth": 2},
        {"arch": "big", "dropout": 0.0, "width": 64, "depth": 4},
        {"arch": "big", "dropout": 0.5, "width": 64, "depth": 4},
    ]


def test_a_space_refuses_conditions_it_cannot_follow():
    with pytest.raises(ValueError, match="cycle"):
        Space(
            {"a": Choice((1, 2)), "b": Choice((1, 2))}, {"a": Condition((("b", (1,)),)), "b": Condition((("a", (1,)),))}
        )
    with pytest.raises(ValueError, match="not a choice or an integer range"):
        Space({"a": OneMinusLog(0.1, 0.9), "b": Choice((1, 2))}, {"b": Condition((("a", (0.5,)),))})


def test_choices_and_when_values_are_told_apart_by_type_as_well_as_value():
    """Python has 1 == True == 1.0; a space does not: three choices, and ``when: {a: true}`` names true only."""
    text = (
        "a: {choice: [1, true, 1.0]}\nb: {scale: uniform, low: 0, high: 1, when: {a: true}}\n"
        "c: {scale: uniform, low: 0, high: 1, when: {a: 1}}\n"
    )
    space = parse_space(yaml.safe_load(text), parameters=None)[0]
    assert [(type(c), c) for c in space["a"].choices] == [(int, 1), (bool, True), (float, 1.0)]
    assert [space["a"].to_unit(c) for c in (1, True, 1.0)] == [1 / 6, 3 / 6, 5 / 6]
    for a, active in ((1, {"a", "c"}), (True, {"a", "b"}), (1.0, {"a"})):
        assert set(space.active_names({"a": a, "b": 0.5, "c": 0.5})) == active, a
    assert set(space.active_names({"a": True})) == set(space.trial_params(space.from_unit(np.array([0.5] * 3))))
    # A when: may still name a float choice by an int (1 for 1.0) where no int choice is listed.
    floats = parse_space(
        yaml.safe_load("lr: {choice: [1.0, 0.1]}\nm: {choice: [x, y], when: {lr: 1}}\n"), parameters=None
    )[0]
    assert set(floats.active_names({"lr": 1.0, "m": "x"})) == {"lr", "m"}
    # ... but never a number by a bool.
    assert any(
        "never takes true" in p
        for p in problems("n: {choice: [1, 2]}\nm: {choice: [x, y], when: {n: true}}\n", parameters=None)
    )
    # Plotted and counted by type too.
    from hpsearch.analysis.histogram import histogram

    assert histogram(space["a"], [1, True, True, 1.0]) == [("1", 1), ("true", 2), ("1", 1)]


def test_a_round_stored_with_an_int_naming_a_float_choice_still_activates_its_child():
    """A round space stored before choices were told apart by type says ``when: {lr: 1}`` for the choice 1.0."""
    stored = {"lr": {"choice": [1.0, 0.1]}, "m": {"choice": ["x", "y"], "when": {"lr": [1]}}}
    space = Space.from_json(stored)
    assert set(space.active_names({"lr": 1.0, "m": "x"})) == {"lr", "m"}
    assert set(space.active_names({"lr": 0.1, "m": "x"})) == {"lr"}
    # ... and a bool is still never taken for a number, nor the other way round.
    flags = Space.from_json({"a": {"choice": [1, True]}, "b": {"choice": ["x"], "when": {"a": [True]}}})
    assert set(flags.active_names({"a": 1, "b": "x"})) == {"a"}
    assert set(flags.active_names({"a": True, "b": "x"})) == {"a", "b"}
