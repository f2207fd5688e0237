"""Config files: every broken config gives its one-line message and exit code 2; valid ones load."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.config.overrides import parse_assignments
from hpsearch.config.search_config import config_from_dict
from hpsearch.config.single_model import single_model_config
from hpsearch.core.errors import ConfigError

BROKEN = sorted((Path(__file__).parent / "broken_configs").glob("*.yaml"))
CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_config_gives_one_clear_line_and_exit_code_2(path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert expected_message(path) in lines[0]
    assert "Traceback" not in result.output


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "data: {dataset: spirals, dev_fraction: 2}\n"
        "model:\n"
        "  epochs: 0\n"
        "  optimiser: adam\n"
        "space:\n"
        "  learning_rate: {scale: log, low: 0.1, high: 0.01}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    keys = {p.key for p in info.value.problems}
    assert {"data.dev_fraction", "model.epochs", "model.optimiser"} <= keys
    assert any(k.startswith("space.learning_rate") for k in keys)
    # each problem names the line its key is on
    lines = {p.key: p.line for p in info.value.problems}
    assert lines["model.epochs"] == 3
    assert lines["model.optimiser"] == 4


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data: {dataset: spirals}\nmodel: {epochs: -1}\n")
    result = CliRunner().invoke(cli, ["--debug", "run", str(path), "--dry-run"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "nope.yaml"), "--dry-run"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr and "not found" in result.stderr


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    assert config.space.names, "every example config searches something"


def test_resolved_config_reads_back_the_same(tmp_path: Path) -> None:
    config = load_config(Path(__file__).parent.parent / "configs" / "every-scale.yaml")
    again = config_from_dict(config.to_dict(), base_dir=tmp_path)
    assert again.to_dict() == config.to_dict()
    assert again.space.to_json() == config.space.to_json()


def test_train_takes_the_centre_of_each_range_on_its_own_scale(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {dataset: spirals}\n"
        "space:\n"
        "  learning_rate: {scale: log, low: 1.0e-4, high: 1}\n"
        "  beta1: {scale: one_minus_log, low: 0.9, high: 0.999}\n"
        "  batch_size: {choice: [128, 32]}\n"
        "  l2: {scale: uniform, low: 0, high: 0.02}\n"
    )
    model = single_model_config(load_config(path), {})
    assert math.isclose(model.learning_rate, 1e-2, rel_tol=1e-9)  # 10^((-4 + 0) / 2)
    assert math.isclose(model.beta1, 0.99, rel_tol=1e-9)  # 1 - 10^((-1 + -3) / 2)
    assert model.batch_size == 128  # a choice: its first
    assert math.isclose(model.l2, 0.01)
    assert single_model_config(load_config(path), parse_assignments(["learning_rate=0.5"])).learning_rate == 0.5


def test_set_rejects_unknown_names_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("data: {dataset: spirals}\n")
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        single_model_config(load_config(path), {"learnin_rate": 0.1})
    with pytest.raises(ConfigError, match="--set keep_prob"):
        single_model_config(load_config(path), {"keep_prob": 3})
    with pytest.raises(ConfigError, match="name=value"):
        parse_assignments(["learning_rate"])


def test_command_line_overrides_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("data: {dataset: spirals}\n")
    with pytest.raises(ConfigError, match="search.trials"):
        load_config(path).with_search(trials=0)


# -- limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "trials: 100001",
        "zoom_trials: 1000000000000",
        "top_k: 100001",
        "rounds: 1001",
        "grid_points: 100001",
        "workers: 100000",
    ],
)
def test_counts_past_the_limits_are_refused_at_load(tmp_path: Path, setting: str) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(f"data: {{dataset: spirals}}\nsearch:\n  {setting}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    key = setting.split(":")[0]
    assert [p.key for p in info.value.problems] == [f"search.{key}"]
    assert "an integer from" in info.value.problems[0].message


def test_a_grid_larger_than_the_limit_is_refused_before_it_is_built(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(
        "data: {dataset: spirals}\nspace:\n"
        "  learning_rate: {scale: log, low: 1.0e-4, high: 1}\n  l2: {scale: uniform, low: 0, high: 0.1}\n"
        "search: {sampler: grid, grid_points: 400}\n"
    )
    with pytest.raises(ConfigError, match="makes a grid of 160,000 trials"):
        load_config(path)


def test_with_search_applies_the_same_limits() -> None:
    config = config_from_dict({"data": {"dataset": "spirals"}})
    with pytest.raises(ConfigError, match="search.trials"):
        config.with_search(trials=10**12)


@pytest.mark.parametrize(
    "address, ok",
    [
        ("tcp://127.0.0.1:8786", True),
        ("10.0.0.5:8786", True),
        ("tcp://[::1]:8786", True),
        ("foo://x", False),
        ("[::", False),
        ("tcp://host", False),
        ("", False),
    ],
)
def test_scheduler_addresses_are_checked_for_form(address: str, ok: bool) -> None:
    from hpsearch.config.placement import scheduler_problem

    assert (scheduler_problem(address) is None) is ok


def test_a_long_value_in_an_error_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text("data: {dataset: spirals}\nname: [" + ", ".join(["x" * 50] * 200) + "]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(str(info.value)) < 500 and "characters)" in str(info.value)


def test_numbers_with_an_exponent_and_no_dot_are_numbers(tmp_path: Path) -> None:
    """YAML 1.2 reads 1e-4 as a float; PyYAML's YAML 1.1 rule alone would read it as text."""
    path = tmp_path / "exp.yaml"
    path.write_text(
        "data: {dataset: spirals}\nmodel: {epsilon: 1E-7}\n"
        "space:\n  learning_rate: {scale: log, low: 1e-4, high: 1e+0}\n  l2: {choice: [0, 5e-3]}\n"
    )
    config = load_config(path)
    assert config.space["learning_rate"].low == 1e-4 and config.space["learning_rate"].high == 1.0
    assert config.space["l2"].choices == (0, 5e-3)
    assert config.model["epsilon"] == 1e-7
    assert (
        load_config(path, parse_assignments(("model.epochs=2", "space.learning_rate.low=3e-3")))
        .space["learning_rate"]
        .low
        == 3e-3
    )


def test_yaml_1_2_floats_with_a_dot_and_an_unsigned_exponent_are_numbers(tmp_path: Path) -> None:
    """1.5e3, 1.0e308, 0.5e1 are YAML 1.2 floats (YAML 1.1 wants 1.5e+3): numbers, never strings in a choice."""
    path = tmp_path / "exp.yaml"
    path.write_text(
        "data: {dataset: spirals}\n"
        "space:\n  learning_rate: {scale: log, low: 0.5e-4, high: 1.0e0}\n"
        "  l2: {choice: [1.5e3, 1.0e308, 0.5e1, 1.5e10, .5e-1]}\n"
    )
    config = load_config(path)
    assert config.space["l2"].choices == (1500.0, 1e308, 5.0, 1.5e10, 0.05)
    assert config.space["learning_rate"].low == 5e-5 and config.space["learning_rate"].high == 1.0
    assert (
        load_config(path, parse_assignments(("space.learning_rate.low=1.5e-3",))).space["learning_rate"].low == 1.5e-3
    )


def test_a_bound_that_is_text_but_no_finite_number_is_not_told_to_drop_quotes(tmp_path: Path) -> None:
    path = tmp_path / "nan.yaml"
    path.write_text("data: {dataset: spirals}\nspace:\n  learning_rate: {scale: log, low: nan, high: 1}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "without quotes" not in str(exc.value)


def test_keys_named_as_other_tools_name_them_get_ours() -> None:
    from hpsearch.core.errors import did_you_mean

    assert did_you_mean("lr", ["learning_rate", "l2"]) == "did you mean 'learning_rate'?"
    assert did_you_mean("N_TRIALS", ["trials", "seed"]) == "did you mean 'trials'?"
    assert "1 − the dropout rate" in did_you_mean("dropout", ["keep_prob"])
    assert did_you_mean("lr", ["trials"]) == "known keys: trials"  # a synonym of no key here says nothing
    assert did_you_mean("optimiser", ["optimizer"]) == "did you mean 'optimizer'?"  # spelling still works


def test_a_tpe_zoom_after_too_few_trials_to_model_is_said(tmp_path: Path) -> None:
    def notices(search: str) -> list[str]:
        path = tmp_path / "z.yaml"
        path.write_text(
            f"data: {{dataset: spirals}}\nspace:\n  learning_rate: {{scale: log, low: 1e-3, high: 1}}\n"
            f"search: {search}\n"
        )
        return [n for n in load_config(path).notices if "search.zoom" in n]

    assert notices("{trials: 6, rounds: 2, zoom: tpe}") == [
        "search.zoom: tpe models the finished trials once there are 10; with trials: 6, round 1 is drawn at random"
        " — use trials: 10 or more, or zoom: box"
    ]
    assert (
        notices("{trials: 10, rounds: 2, zoom: tpe}")
        == notices("{trials: 10, rounds: 2}")
        == notices("{trials: 6, rounds: 2, zoom: box}")
        == notices("{trials: 6}")
        == []
    )
    # The default auto zoom needs max(10, 2 x dimensions) finished trials; before, round 1 is all box.
    assert notices("{trials: 6, rounds: 2}") == [
        "search.zoom: auto models the finished trials once there are 10 (1 dimension); with trials: 6, round 1 "
        "is drawn all in the box of the best — use trials: 10 or more to model sooner"
    ]
