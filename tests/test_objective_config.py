"""The ``objective:`` section: own objectives in a config, and what changes with one."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpsearch.config.loading import config_for_objective, load_config
from hpsearch.config.overrides import single_model_config
from hpsearch.config.search_config import config_from_dict
from hpsearch.core.errors import ConfigError
from hpsearch.objectives.spec import ObjectiveSpec, parse_objective, placement_problems
from hpsearch.space.scales import Legal

ISSUE_CONFIG = """\
objective:
  command: python train.py --lr {learning_rate} --width {width} --beta1 {beta1}
  metric: val_loss
  direction: minimize
  timeout: 600
space:
  learning_rate: {scale: log, low: 1.0e-5, high: 1.0e-1}
  beta1: {scale: one_minus_log, low: 0.9, high: 0.999}
  width: {scale: int_log, low: 16, high: 1024}
  batch: 128
  run-name-free: {choice: [a, b]}
search: {trials: 40, rounds: 2}
"""


def problems_of(raw, base_dir: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, base_dir=base_dir)
    return {p.key: str(p) for p in info.value.problems}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(text)
    return path


def test_the_issue_example_loads_with_any_parameter_name_and_its_fixed_values(tmp_path):
    text = ISSUE_CONFIG.replace("  run-name-free: {choice: [a, b]}\n", "  optimizer_name: {choice: [sgd, lion]}\n")
    config = load_config(write(tmp_path, text))
    spec = config.objective
    assert spec == ObjectiveSpec(
        "command",
        ("python", "train.py", "--lr", "{learning_rate}", "--width", "{width}", "--beta1", "{beta1}"),
        None,
        "val_loss",
        "minimize",
        600.0,
        str(tmp_path),
    )
    assert config.data is None
    assert config.space.names == ("beta1", "learning_rate", "optimizer_name", "width")
    assert config.model == {"batch": 128}  # fixed values, passed to the objective like searched ones
    # An own parameter is limited by its scale alone: no engine rule such as beta1 < 1 is attached.
    assert config.space["beta1"].legal == Legal() and config.space["learning_rate"].legal == Legal()
    assert config.search.rounds == 2


def test_an_engine_name_under_an_own_objective_takes_any_value(tmp_path):
    # keep_prob would have to be <= 1 for the engine; an own objective decides for itself.
    config = config_from_dict(
        {
            "objective": {"python": "m:f", "metric": "acc", "direction": "maximize"},
            "space": {"keep_prob": {"scale": "uniform", "low": 0.5, "high": 2}, "epochs": "many"},
        },
        base_dir=tmp_path,
    )
    assert config.space["keep_prob"].high == 2
    assert config.model == {"epochs": "many"}
    assert config.objective.python == "m:f" and config.objective.direction == "maximize"


def test_every_objective_problem_is_reported_at_once(tmp_path):
    problems = problems_of(
        {
            "objective": {"command": "python 'train.py", "metrik": "loss", "direction": "down", "timeout": -1},
            "data": {"dataset": "spirals"},
            "model": {"epochs": 3},
            "space": {"2x": 1, "lr": {"scale": "log", "low": 0, "high": 1}},
        },
        tmp_path,
    )
    assert set(problems) == {
        "objective.command",
        "objective.metrik",
        "objective.metric",
        "objective.direction",
        "objective.timeout",
        "data",
        "model",
        "space.2x",
        "space.lr.low",
    }
    assert "did you mean 'metric'" in problems["objective.metrik"]
    assert "close the quote" in problems["objective.command"]
    assert "did you mean 'maximize'" in problems["objective.direction"] or "minimize" in problems["objective.direction"]
    assert "remove it" in problems["model"] and "space:" in problems["model"]


@pytest.mark.parametrize(
    "objective, key, words",
    [
        ({"metric": "loss"}, "objective", "has no command: or python:"),
        ({"command": "x", "python": "m:f", "metric": "loss"}, "objective", "exactly one"),
        ({"command": [], "metric": "loss"}, "objective.command", "is empty"),
        ({"command": "run --x {x!r}", "metric": "loss"}, "objective.command", "is not a parameter name"),
        ({"command": "run --x {x:.3f}", "metric": "loss"}, "objective.command", "is not a parameter name"),
        ({"command": "run {", "metric": "loss"}, "objective.command", "{{"),
        ({"python": "module.function", "metric": "loss"}, "objective.python", "module:function"),
        ({"python": "m:f", "metric": "loss", "workdir": "nowhere"}, "objective.workdir", "does not exist"),
        ({"python": "m:f", "metric": "loss", "grace": 0}, "objective.grace", "> 0"),
    ],
)
def test_each_bad_objective_names_its_key_and_fix(tmp_path, objective, key, words):
    spec, problems = parse_objective(objective, tmp_path)
    assert spec is None
    assert any(p.key == key and words in str(p) for p in problems), [str(p) for p in problems]
    assert all(p.fix for p in problems)


def test_a_command_list_is_kept_argument_by_argument(tmp_path):
    spec, problems = parse_objective(
        {"command": ["python", "train.py", "--name", "{name}", 3], "metric": "m"}, tmp_path
    )
    assert problems == []
    assert spec.command == ("python", "train.py", "--name", "{name}", "3")


def test_a_shell_like_string_is_split_like_a_shell_and_runs_no_shell(tmp_path):
    spec, _ = parse_objective({"command": "python 'my train.py' --tag \"a b\" {x}; rm -rf /", "metric": "m"}, tmp_path)
    assert spec.command == ("python", "my train.py", "--tag", "a b", "{x};", "rm", "-rf", "/")


def test_workdir_is_relative_to_the_config_folder(tmp_path):
    (tmp_path / "code").mkdir()
    config = load_config(write(tmp_path, "objective: {python: 'm:f', metric: loss, workdir: code}\nspace: {x: 1}\n"))
    assert config.objective.base_dir == str(tmp_path / "code")


def test_the_stored_config_reads_back_the_same_from_anywhere(tmp_path):
    config = load_config(write(tmp_path, ISSUE_CONFIG.replace("run-name-free", "tag")))
    stored = config.to_dict()
    assert "data" not in stored and "model" not in stored
    again = config_from_dict(stored, base_dir=tmp_path / "elsewhere")
    assert again.objective == config.objective
    assert again.model == config.model and again.space == config.space
    assert again.to_dict() == stored


def test_train_refuses_an_own_objective(tmp_path):
    config = load_config(write(tmp_path, ISSUE_CONFIG.replace("run-name-free", "tag")))
    with pytest.raises(ConfigError, match="built-in engine only"):
        single_model_config(config, {})


def test_maximize_scores_high_values_as_low_costs(tmp_path):
    spec = ObjectiveSpec("python", None, "m:f", "acc", "maximize", None, str(tmp_path))
    assert sorted([0.7, 0.9, 0.8], key=spec.score) == [0.9, 0.8, 0.7]
    assert sorted([0.7, 0.9, 0.8], key=ObjectiveSpec("python", None, "m:f", "loss").score) == [0.7, 0.8, 0.9]


def test_early_stopping_of_an_own_objective_is_refused_on_dask(tmp_path):
    spec = ObjectiveSpec("python", None, "m:f", "loss")
    (problem,) = placement_problems(spec, backend="dask", early_stopping=True)
    assert problem.key == "search.backend" and "loky" in problem.fix
    assert placement_problems(spec, backend="loky", early_stopping=True) == []
    assert placement_problems(spec, backend="dask", early_stopping=False) == []
    assert placement_problems(None, backend="dask", early_stopping=True) == []


def quadratic(params):
    return (params["x"] - 1) ** 2 + params["offset"]


@pytest.mark.parametrize("form", ["dict", "yaml", "file"])
def test_a_python_callable_gets_a_config_from_a_space_given_as_dict_text_or_file(tmp_path, form):
    raw = {"x": {"scale": "uniform", "low": -2, "high": 3}, "offset": 0.5}
    text = "x: {scale: uniform, low: -2, high: 3}\noffset: 0.5\n"
    (tmp_path / "space.yaml").write_text(text)
    space = {"dict": raw, "yaml": text, "file": tmp_path / "space.yaml"}[form]
    config = config_for_objective(quadratic, space, metric="loss", trials=7, seed=3)
    assert config.objective.function is quadratic
    assert config.objective.python == f"{__name__}:quadratic"
    assert (config.objective.metric, config.objective.direction) == ("loss", "minimize")
    assert config.space.names == ("x",) and config.model == {"offset": 0.5}
    assert (config.search.trials, config.search.seed) == (7, 3)
    assert config.name == "quadratic"


def test_a_bad_space_or_setting_for_a_callable_is_a_config_error(tmp_path):
    (tmp_path / "space.yaml").write_text("x: {scale: log, low: 0, high: 1}\n")
    with pytest.raises(ConfigError) as info:
        config_for_objective(quadratic, tmp_path / "space.yaml", trials=0, direction="up")
    keys = {p.key for p in info.value.problems}
    assert keys == {"space.x.low", "search.trials", "objective.direction"}
    assert all(p.file == str(tmp_path / "space.yaml") for p in info.value.problems)


def test_maximize_ranks_high_first_and_zoom_narrows_around_the_highest(tmp_path):
    from hpsearch.space.zoom import zoom_space

    config = config_from_dict(
        {
            "objective": {"python": "m:f", "metric": "acc", "direction": "maximize"},
            "space": {"C": {"scale": "log", "low": 1.0e-3, "high": 1.0e3}},
        },
        base_dir=tmp_path,
    )
    trials = [({"C": c}, acc) for c, acc in [(1e-3, 0.2), (1e-2, 0.4), (10.0, 0.9), (30.0, 0.95), (1e3, 0.5)]]
    top = [params for params, acc in sorted(trials, key=lambda t: config.objective.score(t[1]))][:2]
    assert top == [{"C": 30.0}, {"C": 10.0}]
    box = zoom_space(config.space, top, margin=0.0).space["C"]
    assert 1.0 < box.low <= 10.0 and 30.0 <= box.high < 1e3
