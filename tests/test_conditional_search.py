"""Conditional (when:) and linked (bundle) parameters end to end: what trials, objectives and views get."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from hpsearch.analysis.importance import hyperparameter_importance
from hpsearch.cli.main import cli
from hpsearch.config.conditions import condition_tree
from hpsearch.config.loading import load_config
from hpsearch.config.overrides import ignored_settings, single_model_config, single_model_sources
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.search.api import planned_trials, start_search
from hpsearch.space.conditions import Condition
from hpsearch.space.scales import Choice, Log, OneMinusLog
from hpsearch.space.search_space import Space
from tests.conftest import TINY_CONFIG

ECHO = """\
import json, os, sys
with open(os.path.join(os.environ["HPSEARCH_TRIAL_DIR"], "argv.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "env": json.loads(os.environ["HPSEARCH_PARAMS"])}, f)
print(json.dumps({"loss": float(len(sys.argv))}))
"""


def own_command_config(folder: Path, command: str) -> Path:
    (folder / "echo.py").write_text(ECHO)
    path = folder / "cmd.yaml"
    path.write_text(
        f"objective:\n  command: {command}\n  metric: loss\n"
        "space:\n"
        "  loss_kind: {choice: [hinge, margin]}\n"
        "  margin: {scale: uniform, low: 0.1, high: 2, when: {loss_kind: margin}}\n"
        "  note: 'two words'\n"
        "search: {trials: 6, seed: 2, workers: 1}\n"
    )
    return path


def engine_config(folder: Path, space: str, extra: str = "") -> Path:
    path = folder / "engine.yaml"
    text = TINY_CONFIG.format(trials=6, epochs=2, samples=120)
    head, _, search = text.partition("space:\n")
    path.write_text(head + "space:\n" + space + "search:" + search.partition("search:")[2] + extra)
    return path


OPTIMIZERS = """\
  optimizer: {choice: [gd, momentum, adam]}
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
  beta: {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: momentum}}
  beta1: {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: adam}}
  schedule: {choice: {flat: {lr_decay: none}, decay: {lr_decay: exponential, decay_rate: 0.9}}}
"""


def test_an_own_command_with_args_gets_exactly_the_active_parameters_each_as_one_argument(tmp_path):
    config = load_config(own_command_config(tmp_path, f"[{sys.executable}, echo.py, '{{args}}']"))
    result = start_search(config, runs_dir=tmp_path / "runs")
    assert [t.status for t in result.trials] == [TrialStatus.OK] * 6
    for t in result.trials:
        seen = json.loads((result.run_dir / "trials" / str(t.trial) / "argv.json").read_text())
        expected = {"loss_kind": t.params["loss_kind"], "note": "two words"}
        if t.params["loss_kind"] == "margin":
            expected["margin"] = t.params["margin"]
        assert seen["argv"] == [
            f"--{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(expected.items())
        ]
        assert seen["env"] == expected  # HPSEARCH_PARAMS: the active parameters only
        assert ("margin" in t.params) == (t.params["loss_kind"] == "margin")
    kinds = {t.params["loss_kind"] for t in result.trials}
    assert kinds == {"hinge", "margin"}  # both branches were tried


def test_a_plain_placeholder_of_a_conditional_parameter_is_refused_at_load_with_the_fix(tmp_path):
    path = own_command_config(tmp_path, f"[{sys.executable}, echo.py, '{{margin}}']")
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert "{margin}" in result.output and "active only when loss_kind is margin" in result.output
    assert "{args}" in result.output and "Traceback" not in result.output


def test_args_must_be_an_argument_of_its_own(tmp_path):
    path = own_command_config(tmp_path, f"[{sys.executable}, echo.py, 'x{{args}}']")
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2 and "{args} must be an argument of its own" in result.output


def test_the_engine_says_once_which_optimizers_use_an_unconditional_beta(tmp_path):
    loose = load_config(engine_config(tmp_path, OPTIMIZERS.replace(", when: {optimizer: momentum}", "")))
    assert loose.notices == (
        "space.beta: only optimizer momentum uses beta, so the other trials draw it for "
        "nothing — add when: {optimizer: momentum} to search it only there",
    )
    assert load_config(engine_config(tmp_path, OPTIMIZERS)).notices == ()


def test_the_engine_says_that_hidden_units_is_drawn_for_nothing_when_layers_may_be_0(tmp_path):
    def notices(space: str) -> tuple[str, ...]:
        path = engine_config(tmp_path, space)
        path.write_text(path.read_text().replace("  layers: 1\n", ""))  # searched here, not fixed
        return load_config(path).notices

    depth = "  layers: {scale: int, low: 0, high: 3}\n  hidden_units: {scale: int_log, low: 8, high: 64%s}\n"
    assert notices(depth % "") == (
        "space.hidden_units: only layers 1 to 3 use hidden_units, so the other trials "
        "draw it for nothing — add when: {layers: [1, 2, 3]} to search it only there",
    )
    # The when: it gives is one the config takes, and then nothing is said.
    assert notices(depth % ", when: {layers: [1, 2, 3]}") == ()
    assert notices(depth.replace("low: 0", "low: 1") % "") == ()


def test_train_centre_keeps_inactive_parameters_at_their_default_and_says_what_the_optimizer_ignores(tmp_path):
    config = load_config(engine_config(tmp_path, OPTIMIZERS))
    model = single_model_config(config, {})  # centre: optimizer gd (its first), so beta and beta1 stay default
    assert (model.optimizer, model.beta, model.beta1, model.lr_decay) == ("gd", 0.9, 0.9, "none")
    momentum = single_model_config(config, {"optimizer": "momentum"})
    assert momentum.beta == OneMinusLog(0.8, 0.99).center()
    ignored = single_model_config(config, {"optimizer": "adam", "beta": 0.5})
    assert ignored_settings({"beta": 0.5}, ignored) == [
        "--set beta: beta is used only when optimizer is momentum; optimizer is adam"
    ]
    sources = dict((n, s) for n, _, s in single_model_sources(config, {"optimizer": "adam", "beta": 0.5}, ignored))
    assert sources["beta"].startswith("--set (ignored: beta is used only when optimizer is momentum")
    quiet = CliRunner().invoke(
        cli,
        [
            "train",
            str(engine_config(tmp_path, OPTIMIZERS)),
            "--set",
            "optimizer=adam",
            "--set",
            "beta=0.5",
            "--set",
            "epochs=1",
            "-q",
        ],
    )
    assert quiet.exit_code == 0 and "--set beta: beta is used only when optimizer is momentum" in quiet.stderr


def test_an_engine_search_with_conditions_and_a_bundle_trains_and_exports_inactive_as_empty(tmp_path):
    path = engine_config(tmp_path, OPTIMIZERS)
    runs = tmp_path / "runs"
    plan = planned_trials(load_config(path))
    assert all(("beta" in t.params) == (t.params["optimizer"] == "momentum") for t in plan)
    result = start_search(load_config(path), runs_dir=runs, name="opt")
    assert all(t.status is TrialStatus.OK for t in result.trials), [t.error for t in result.trials]
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["export", "opt", "--runs-dir", str(runs)]).stdout)))
    by_trial = {int(r["trial"]): r for r in rows}
    for t in result.trials:
        assert (by_trial[t.trial]["beta"] == "") == ("beta" not in t.params)
    document = json.loads(CliRunner().invoke(cli, ["export", "opt", "--runs-dir", str(runs), "--json", "-"]).stdout)
    assert all(("beta" in d) == (d["optimizer"] == "momentum") for d in document["trials"])
    shown = CliRunner().invoke(cli, ["show", "opt", "--runs-dir", str(runs)]).stdout
    assert "—" in shown


def test_the_dry_run_tree_counts_the_trials_that_activate_each_parameter():
    space = Space(
        {"optimizer": Choice(("gd", "momentum")), "beta": OneMinusLog(0.8, 0.99), "learning_rate": Log(1e-3, 1.0)},
        {"beta": Condition((("optimizer", ("momentum",)),))},
    )
    plan = [{"optimizer": "gd", "learning_rate": 0.1}, {"optimizer": "momentum", "beta": 0.9, "learning_rate": 0.1}]
    assert condition_tree(space, plan) == [
        (0, "learning_rate", "", 2),
        (0, "optimizer", "", 2),
        (1, "beta", "when optimizer is momentum", 1),
    ]


def _record(number: int, params: dict, cost: float, status=TrialStatus.OK, history=None) -> TrialRecord:
    return TrialRecord(
        number,
        0,
        number,
        params,
        number,
        status,
        dev_cost=cost,
        epochs_run=len(history or [1]),
        history={"dev_cost": history or [cost]},
    )


def test_importance_judges_a_conditional_parameter_on_its_active_trials_and_says_how_many():
    space = Space(
        {"optimizer": Choice(("gd", "momentum")), "beta": OneMinusLog(0.8, 0.999), "learning_rate": Log(1e-3, 1.0)},
        {"beta": Condition((("optimizer", ("momentum",)),))},
    )
    rng = np.random.default_rng(0)
    trials = []
    for k in range(60):
        full = space.from_unit(rng.random(3))
        params = space.trial_params(full)
        cost = (math.log10(params["learning_rate"]) + 2) ** 2 + rng.normal(0, 0.05)
        if "beta" in params:  # beta matters where it is used, a lot
            cost += 4 * abs(math.log10(1 - params["beta"]) + 2)
        trials.append(_record(k, params, cost))
    report = hyperparameter_importance(space, trials)
    items = {i.name: i for i in report.items}
    n_active = sum("beta" in t.params for t in trials)
    assert items["beta"].active == n_active < 60 and items["learning_rate"].active is None
    assert items["beta"].active_note(report.n_trials) == f"beta: active in {n_active} of 60 trials"
    assert items["beta"].share > 0.1


def test_importance_with_early_stopping_judges_every_trial_at_the_first_rung():
    space = Space({"learning_rate": Log(1e-3, 1.0)})
    rng = np.random.default_rng(1)
    trials = []
    for k in range(30):
        lr = float(10 ** rng.uniform(-3, 0))
        first = (math.log10(lr) + 2) ** 2
        pruned = k % 3 != 0
        history = [first + 1, first] if pruned else [first + 1, first, first / 2]
        trials.append(
            _record(k, {"learning_rate": lr}, history[-1], TrialStatus.PRUNED if pruned else TrialStatus.OK, history)
        )
    report = hyperparameter_importance(space, trials)
    assert report.enough and report.n_trials == 30  # only 10 are ok; all 30 count, at epoch 2
