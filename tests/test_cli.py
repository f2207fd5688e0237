"""The search commands end to end, through the CLI as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.nn import Network
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

RESULT_COLUMNS = {
    "rank",
    "trial",
    "round",
    "status",
    "dev_cost",
    "train_cost",
    "dev_accuracy",
    "epochs_run",
    "seconds",
    "error",
}
SEARCHED = {"learning_rate", "beta1", "hidden_units", "batch_size"}


def invoke(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def test_run_show_zoom_export(tmp_path: Path, runs_dir: Path) -> None:
    config = write_tiny_config(tmp_path, trials=6)
    out = invoke("run", str(config), "--quiet")
    assert "best: trial" in out.stdout
    run_dir = runs_dir / "tiny"
    assert (run_dir / "run.sqlite").exists() and (run_dir / "config.yaml").exists()

    shown = invoke("show", "tiny").stdout
    assert "Leaderboard" in shown and "best model" in shown

    zoomed = invoke("zoom", "tiny", "--top", "3", "--trials", "4", "--quiet")
    assert "best: trial" in zoomed.stdout

    exported = invoke("export", "tiny").stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 10  # 6 + 4, one row per trial
    assert RESULT_COLUMNS | SEARCHED | {"epochs", "layers"} <= set(rows[0])
    assert sorted(int(r["trial"]) for r in rows) == list(range(10))
    assert {r["round"] for r in rows} == {"0", "1"}
    assert [int(r["rank"]) for r in rows] == list(range(1, 11))
    ok_costs = [float(r["dev_cost"]) for r in rows if r["status"] == "ok"]
    assert ok_costs == sorted(ok_costs)

    # the zoom round stays inside the space of round 0, on each parameter's own scale
    with RunStore.open(run_dir) as store:
        rounds = store.rounds()
        best = store.best_model()
    assert [r.kind for r in rounds] == ["initial", "zoom"]
    lr0, lr1 = rounds[0].space["learning_rate"], rounds[1].space["learning_rate"]
    assert lr0["low"] <= lr1["low"] < lr1["high"] <= lr0["high"]

    # the best model file predicts (it is a loadable network)
    assert best is not None
    network = Network.load(best[1])
    assert network.predict_proba(__import__("numpy").zeros((2, 4))).shape == (2, 3)

    as_json = json.loads(invoke("export", "tiny", "--json", "-").stdout)
    assert len(as_json["trials"]) == 10 and len(as_json["rounds"]) == 2
    assert as_json["trials"][0]["history"]["dev_cost"]

    listed = invoke("list").stdout
    assert "tiny" in listed and "10/10" in listed


def test_dry_run_plans_without_training(tmp_path: Path, runs_dir: Path) -> None:
    config = write_tiny_config(tmp_path, trials=5)
    plan_csv = tmp_path / "plan.csv"
    out = invoke("run", str(config), "--dry-run", "--trials", "8", "--csv", str(plan_csv)).stdout
    assert "Planned trials (8)" in out
    assert "learning_rate (log)" in out  # a histogram per parameter, on its own scale
    rows = list(csv.DictReader(plan_csv.open()))
    assert len(rows) == 8
    assert list(rows[0]) == ["round", "trial", "batch_size", "beta1", "hidden_units", "learning_rate"]
    assert not runs_dir.exists()  # nothing trained, no run written
    # the same plan twice
    again = tmp_path / "again.csv"
    invoke("run", str(config), "--dry-run", "--trials", "8", "--csv", str(again))
    assert again.read_text() == plan_csv.read_text()


def test_dry_run_csv_replaces_a_symlink_and_never_writes_through_it(tmp_path: Path, runs_dir: Path) -> None:
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    (tmp_path / "plan.csv").symlink_to(precious)
    invoke("run", str(write_tiny_config(tmp_path, trials=3)), "--dry-run", "--csv", str(tmp_path / "plan.csv"))
    assert precious.read_text() == "keep me\n"
    assert not (tmp_path / "plan.csv").is_symlink() and len(list(csv.DictReader((tmp_path / "plan.csv").open()))) == 3


def test_train_one_model_from_a_search_file(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, epochs=4)
    weights = tmp_path / "model.npz"
    out = invoke("train", str(config), "--set", "learning_rate=0.05", "--json", "--save", str(weights)).stdout
    record = json.loads(out)
    assert record["status"] == "ok"
    assert record["epochs_run"] == 4 and len(record["history"]["dev_cost"]) == 4
    assert record["model"]["learning_rate"] == 0.05
    assert weights.exists()


def test_bad_run_name_and_unknown_run(tmp_path: Path, runs_dir: Path) -> None:
    config = write_tiny_config(tmp_path)
    for bad in ("../escape", "a/b", "/abs"):
        result = CliRunner().invoke(cli, ["run", str(config), "--name", bad])
        assert result.exit_code == 2, bad
        assert "Traceback" not in result.output
    assert not (tmp_path / "escape").exists()
    result = CliRunner().invoke(cli, ["show", "no-such-run"])
    assert result.exit_code == 2 and "no-such-run" in result.stderr


def test_run_names_are_made_unique(tmp_path: Path, runs_dir: Path) -> None:
    config = write_tiny_config(tmp_path, trials=1, epochs=1)
    invoke("run", str(config), "-q")
    invoke("run", str(config), "-q")
    assert (runs_dir / "tiny").is_dir() and (runs_dir / "tiny-2").is_dir()


def test_every_command_has_help() -> None:
    for command in ("train", "run", "resume", "zoom", "show", "export", "list", "plot", "importance"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, command


def test_plot_and_importance_of_a_run(tmp_path: Path, runs_dir: Path) -> None:
    config = write_tiny_config(tmp_path, trials=12, extra="  rounds: 2\n  zoom_trials: 4\n")
    invoke("run", str(config), "-q")
    written = invoke("plot", "tiny", "--out", str(tmp_path / "plots")).stdout.split()
    names = {Path(p).name for p in written}
    assert {"progress.png", "learning_curves.png", "pairs.png", "report.html"} <= names
    assert {f"cost_vs_{n}.png" for n in SEARCHED} <= names
    assert all(Path(p).stat().st_size > 1000 for p in written)
    table = invoke("importance", "tiny").stdout
    assert all(name in table for name in SEARCHED)
    as_json = json.loads(invoke("export", "tiny", "--json", "-").stdout)
    assert {i["name"] for i in as_json["importance"]["items"]} == SEARCHED


def test_an_unwritable_path_is_one_line_not_a_traceback(tmp_path: Path, runs_dir: Path) -> None:
    config = write_tiny_config(tmp_path, trials=1, epochs=1)
    invoke("run", str(config), "-q")
    result = CliRunner().invoke(cli, ["export", "tiny", "--csv", str(tmp_path / "missing" / "x.csv")])
    assert result.exit_code == 2
    assert "missing/x.csv" in result.stderr and "Traceback" not in result.output


def test_error_text_that_looks_like_markup_is_printed_as_is(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data: {dataset: spirals}\nmodel: {activation: [red]}\n")
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2 and "['red']" in result.stderr


FAILING = "def objective(params):\n    raise ValueError(f'no good: {params[\"x\"]:.2f}')\n"


def test_a_run_whose_every_trial_fails_exits_1_and_show_points_at_the_traceback(tmp_path: Path, runs_dir: Path) -> None:
    (tmp_path / "failing.py").write_text(FAILING)
    config = tmp_path / "failing.yaml"
    config.write_text(
        'name: failing\nobjective: {python: "failing:objective", metric: v}\n'
        "space:\n  x: {scale: uniform, low: 0, high: 1}\nsearch: {trials: 2, seed: 3, workers: 1}\n"
    )
    result = CliRunner().invoke(cli, ["run", str(config), "-q"])
    assert result.exit_code == 1, result.output
    assert "no trial finished ok (2 failed)" in result.stderr
    assert "trial 0 failed: ValueError: no good" in result.stderr and "traceback.txt" in result.stderr
    shown = CliRunner().invoke(cli, ["show", "failing", "--wide"])
    assert shown.exit_code == 0
    header = next(line for line in shown.stdout.splitlines() if "status" in line)
    assert "error" in header  # the error column
    assert "ValueError: no good" in shown.stdout and "traceback.txt" in shown.stdout


def test_show_says_which_model_predict_uses_and_that_a_confirmation_predates_a_zoom_round() -> None:
    from hpsearch.analysis.run_notes import model_notes
    from hpsearch.confirm.summary import summarise
    from hpsearch.core.records import RepeatRecord, TrialRecord, TrialStatus

    trials = [
        TrialRecord(i, 0 if i < 3 else 1, i, {"x": i}, i, TrialStatus.OK, dev_cost=1.0 - 0.1 * i, value=1.0 - 0.1 * i)
        for i in range(5)
    ]
    repeats = [RepeatRecord(2, r, 10 + r, TrialStatus.OK, value=0.8) for r in range(2)]
    confirmation = summarise(trials[:3], repeats, model=(2, 0))  # confirmed while round 0 was all there was
    lines = model_notes(trials, summarise(trials, repeats, model=None), (4, Path("run/models/best.npz")))
    assert lines == [
        f"best model, the one predict RUN uses: trial 4, the leaderboard's best — {Path('run/models/best.npz')}",
        "confirmed before round 1: run hpsearch confirm again",
    ]
    assert model_notes(trials[:3], confirmation, (2, Path("m.npz"))) == [
        "best model, the one predict RUN uses: trial 2, repeat 0 of confirm (the confirmed best) — m.npz"
    ]


def test_zoom_takes_the_runs_top_k_and_refuses_trials_for_a_grid_box_round(tmp_path: Path, runs_dir: Path) -> None:
    (tmp_path / "quad_obj.py").write_text("def f(params):\n    return (params['x'] - 0.3) ** 2\n")
    (tmp_path / "quad.yaml").write_text(
        "objective: {python: quad_obj:f, metric: value}\nspace: {x: {scale: uniform, low: 0, high: 1}}\n"
        "search: {trials: 6, seed: 0, top_k: 2, zoom: box, sampler: grid, grid_points: 6, workers: 1}\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        invoke("run", str(tmp_path / "quad.yaml"), "--name", "quad", "--quiet")
        invoke("zoom", "quad", "--quiet")  # no --top: the run's search.top_k, not a default of its own
        refused = CliRunner().invoke(cli, ["zoom", "quad", "--trials", "3", "--quiet"])
        planned = invoke("zoom", "quad", "--trials", "3", "--method", "tpe", "--quiet")  # tpe: honoured
    finally:
        sys.path.remove(str(tmp_path))
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert "--trials" in refused.output and "grid" in refused.output
    assert "best: trial" in planned.stdout
    with RunStore.open(runs_dir / "quad", read_only=True) as store:
        rounds = store.rounds()
    assert [(r.kind, r.top_k, r.n_trials) for r in rounds[:2]] == [("initial", None, 6), ("zoom", 2, 6)]
    assert len(rounds) == 3 and rounds[2].n_trials == 3  # the refused zoom added no round


INTERRUPTED_WHILE_LOADING = """
import importlib.abc, sys

class CtrlC(importlib.abc.MetaPathFinder):  # Ctrl-C pressed while the command line's modules load
    def find_spec(self, name, path, target=None):
        if name == "hpsearch.cli.main":
            raise KeyboardInterrupt

sys.meta_path.insert(0, CtrlC())
sys.argv = ["hpsearch", "--help"]
from hpsearch.cli.entry import main
main()
"""


def test_a_ctrl_c_while_the_command_line_loads_is_exit_130_without_a_traceback() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", INTERRUPTED_WHILE_LOADING], capture_output=True, text=True)
    assert done.returncode == 130 and done.stderr == "", done.stderr
