"""Own objectives in a whole search: ranking by the metric, export, show, list, zoom, early stopping, kill, resume."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.core.errors import ConfigError
from hpsearch.core.records import TrialStatus
from hpsearch.objectives.spec import ObjectiveError
from hpsearch.search.api import Execution, resume_search, start_search, tune, zoom_search
from hpsearch.space.search_space import Space
from hpsearch.storage.run_store import RunStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="commands run in POSIX process groups")

#: A command objective: loss = (x - 1)^2 + k, with x2 = 2x as an extra metric. Epoch reports when asked.
SCORE = """\
import json, os, sys, time
x, k, epochs = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for epoch in range(1, epochs + 1):
    print(json.dumps({"epoch": epoch, "loss": (x - 1) ** 2 + k + (epochs - epoch)}), flush=True)
print("not json")
print(json.dumps({"loss": (x - 1) ** 2 + k, "x2": 2 * x}))
"""

COMMAND_CONFIG = """\
name: cmd
objective:
  command: {python} score.py {{x}} {{k}} {{epochs}}
  metric: loss
  direction: minimize
  timeout: 60
space:
  x: {{scale: uniform, low: -3, high: 3}}
  k: {{choice: [0, 1]}}
  epochs: {epochs}
search:
  trials: {trials}
  seed: 4
  workers: 1
{extra}"""

#: A python objective: acc = 1 - (x - 0.5)^2 (maximized), a trial that raises when x < -0.9.
MODULE = """\
def accuracy(params, trial):
    x = params["x"]
    if x < -0.9:
        raise ValueError(f"x too small: {x:.3f}")
    return {"acc": 1 - (x - 0.5) ** 2, "width": params["width"], "seed_seen": trial.seed}
"""

PYTHON_CONFIG = """\
name: py
objective: {python: "mymodel:accuracy", metric: acc, direction: maximize}
space:
  x: {scale: uniform, low: -1, high: 2}
  width: 64
search: {trials: 10, seed: 1, workers: 1}
"""


def write_command_config(folder: Path, *, trials: int = 6, epochs: int = 0, extra: str = "") -> Path:
    (folder / "score.py").write_text(SCORE)
    path = folder / "cmd.yaml"
    path.write_text(COMMAND_CONFIG.format(python=sys.executable, trials=trials, epochs=epochs, extra=extra))
    return path


def write_python_config(folder: Path) -> Path:
    (folder / "mymodel.py").write_text(MODULE)
    path = folder / "py.yaml"
    path.write_text(PYTHON_CONFIG)
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_command_search_ranks_by_its_metric_and_export_show_and_list_name_it(tmp_path):
    runs = tmp_path / "runs"
    invoke("run", str(write_command_config(tmp_path)), "--runs-dir", str(runs), "-q")
    with RunStore.open(runs / "cmd") as store:
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.OK] * 6
    expected = {t.trial: (t.params["x"] - 1) ** 2 + t.params["k"] for t in trials}
    assert all(t.metrics == {"loss": expected[t.trial], "x2": 2 * t.params["x"]} for t in trials)

    rows = list(csv.DictReader(io.StringIO(invoke("export", "cmd", "--runs-dir", str(runs)))))
    assert [int(r["trial"]) for r in rows] == sorted(expected, key=expected.get)  # lowest loss first
    assert [float(r["loss"]) for r in rows] == sorted(expected.values())
    assert {"loss", "x2", "x", "k", "epochs", "seed"} <= set(rows[0]) and "dev_cost" not in rows[0]
    assert rows[0]["epochs"] == "0"  # a fixed value of space: is exported like the engine's fixed ones

    best = min(expected, key=expected.get)
    shown = invoke("show", "cmd", "--runs-dir", str(runs))
    assert "loss" in shown and "dev J" not in shown
    listed = invoke("list", "--runs-dir", str(runs))
    assert f"({'loss'})" in listed and f"{expected[best]:.4g}" in listed
    document = json.loads(invoke("export", "cmd", "--runs-dir", str(runs), "--json", "-"))
    assert document["metric"] == "loss" and document["trials"][0]["trial"] == best


def test_a_python_search_that_maximizes_ranks_high_first_and_zooms_around_the_highest(tmp_path):
    config = load_config(write_python_config(tmp_path))
    result = start_search(config, runs_dir=tmp_path / "runs")
    ok = [t for t in result.trials if t.status is TrialStatus.OK]
    accs = [1 - (t.params["x"] - 0.5) ** 2 for t in ok]
    assert [t.metrics["acc"] for t in ok] == sorted(accs, reverse=True)  # highest first
    assert all(t.metrics["width"] == 64 for t in ok)  # the fixed value reached the function
    assert all(t.metrics["seed_seen"] == t.seed for t in ok)
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all(t.params["x"] < -0.9 and t.error.startswith("ValueError: x too small") for t in failed)
    assert result.trials[-len(failed) :] == failed

    zoomed = zoom_search(result.run_dir, top_k=3, trials=4, method="box")
    box = Space.from_json(zoomed.rounds[-1].space)["x"]
    top3 = [t.params["x"] for t in ok[:3]]
    assert box.low <= min(top3) and max(top3) <= box.high and box.high - box.low < 3.0
    assert len(zoomed.trials) == 14
    planned = zoom_search(result.run_dir, top_k=3, trials=4)  # the run's search.zoom: auto, the default
    assert planned.rounds[-1].sampler == "auto" and len(planned.trials) == 18


def test_an_objective_that_cannot_be_imported_fails_the_run_at_its_start(tmp_path):
    path = write_python_config(tmp_path)
    path.write_text(PYTHON_CONFIG.replace("mymodel:accuracy", "mymodel:nothing"))
    result = CliRunner().invoke(cli, ["run", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "mymodel has no nothing" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_tune_searches_a_module_function_and_refuses_one_it_could_not_import_again(tmp_path, monkeypatch):
    write_python_config(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "mymodel", raising=False)  # another test's mymodel.py, imported before
    import mymodel

    result = tune(
        mymodel.accuracy,
        "x: {scale: uniform, low: 0, high: 1}\nwidth: 8\n",
        trials=5,
        metric="acc",
        direction="maximize",
        runs_dir=tmp_path / "runs",
        seed=2,
    )
    assert len(result.trials) == 5 and result.best.metrics["acc"] == max(t.metrics["acc"] for t in result.trials)
    with RunStore.open(result.run_dir) as store:
        assert store.config["objective"]["python"] == "mymodel:accuracy"
    assert len(resume_search(result.run_dir).trials) == 5  # imports it again by its name

    for function in (lambda params: 0.0, _nested()):
        with pytest.raises(ObjectiveError, match="top level of a module"):
            tune(function, {"x": {"scale": "uniform", "low": 0, "high": 1}}, runs_dir=tmp_path / "runs")


def _nested():
    def inner(params):
        return 0.0

    return inner


EARLY = "  early_stopping: {method: halving, min_epochs: 1, eta: 2, max_epochs: 4}\n"

#: Reports loss + (4 - epoch) at epochs 1..4, then returns the loss.
EPOCHS = """\
def loss(params, trial):
    base = (params["x"] - 1) ** 2 + params["k"]
    for epoch in range(1, 5):
        trial.report(epoch, loss=base + 4 - epoch)
    return base
"""


def test_early_stopping_prunes_a_trial_reporting_a_bad_value_at_a_rung_and_keeps_its_history(tmp_path):
    # With eta 2, a trial is cut at a rung when its value is outside the better half of the values
    # recorded there so far, its own included (workers: 1 fixes the order: the trial ids').
    (tmp_path / "epochs.py").write_text(EPOCHS)
    path = write_command_config(tmp_path, trials=8, extra=EARLY)
    path.write_text(
        path.read_text().replace(f"command: {sys.executable} score.py {{x}} {{k}} {{epochs}}", "python: epochs:loss")
    )
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    seen: dict[int, list[float]] = {1: [], 2: []}
    for t in sorted(result.trials, key=lambda t: t.trial):  # the asynchronous rule, worked out by hand
        base = (t.params["x"] - 1) ** 2 + t.params["k"]
        cut = None
        for rung in (1, 2):
            value = base + 4 - rung
            seen[rung].append(value)
            ranked = sorted(seen[rung])
            if len(ranked) >= 2 and value > ranked[len(ranked) // 2 - 1]:
                cut = rung
                break
        if cut is None:
            assert t.status is TrialStatus.OK and t.rung == 2 and t.history["epoch"] == [1, 2, 3, 4]
            assert t.metrics == {"loss": base}
        else:
            assert t.status is TrialStatus.PRUNED, t
            assert t.rung == cut - 1 and t.history["epoch"] == list(range(1, cut + 1))
            assert t.metrics["loss"] == base + 4 - cut  # its last reported value
    statuses = [t.status for t in result.trials]
    assert set(statuses) == {TrialStatus.OK, TrialStatus.PRUNED}
    assert statuses == sorted(statuses, key=[TrialStatus.OK, TrialStatus.PRUNED].index)  # ran to the end first


def test_every_view_judges_importance_by_the_metric_and_direction_of_an_own_objective(tmp_path):
    # With early stopping an own objective is judged at its first rung by its own metric: importance,
    # export --json and report.html must give the same shares, and count the pruned trials as such.
    pytest.importorskip("matplotlib")
    (tmp_path / "epochs.py").write_text(EPOCHS.replace("return base", "return base + params['z'] * 1e-3"))
    path = write_command_config(tmp_path, trials=16, extra=EARLY)
    path.write_text(
        path.read_text()
        .replace(f"command: {sys.executable} score.py {{x}} {{k}} {{epochs}}", "python: epochs:loss")
        .replace("  epochs: 0\n", "  z: {scale: uniform, low: 0, high: 1}\n")
    )
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    assert any(t.status is TrialStatus.PRUNED for t in result.trials)
    run = str(result.run_dir)
    exported = json.loads(invoke("export", run, "--json", "-"))["importance"]
    assert exported["enough"]
    shares = {item["name"]: item["share"] for item in exported["items"]}
    shown = invoke("importance", run)
    for name, share in shares.items():
        row = next(line for line in shown.splitlines() if f" {name} " in line)
        assert f"{share:.1%}" in row, (name, share, row)
    ok = sum(t.status is TrialStatus.OK for t in result.trials)
    said = " ".join(shown.split())
    assert f"{ok} ok trials" not in said and f"{exported['n_trials']} trials of the first round" in said
    invoke("plot", run, "--out", str(tmp_path / "plots"))
    page = (tmp_path / "plots" / "report.html").read_text()
    for name, share in shares.items():
        assert f"{name}</td><td>{share:.1%}</td>" in page, (name, share)


@pytest.mark.parametrize(
    "early, key, words",
    [
        ("{method: halving, min_epochs: 1, eta: 3}", "search.early_stopping.max_epochs", "is missing"),
        ("{method: hyperband, min_epochs: 1, eta: 3, max_epochs: 9}", "search.early_stopping.method", "cannot pause"),
        (
            "{method: halving, min_epochs: 9, eta: 3, max_epochs: 9}",
            "search.early_stopping.min_epochs",
            "below max_epochs",
        ),
    ],
)
def test_early_stopping_of_an_own_objective_needs_halving_up_to_max_epochs(tmp_path, early, key, words):
    path = write_command_config(tmp_path, extra=f"  early_stopping: {early}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [(p.key, words in p.message) for p in info.value.problems] == [(key, True)]


def test_max_epochs_is_refused_for_the_engine(tmp_path):
    from tests.conftest import write_tiny_config

    path = write_tiny_config(
        tmp_path, extra="  early_stopping: {method: halving, min_epochs: 1, eta: 3, max_epochs: 9}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [p.key for p in info.value.problems] == ["search.early_stopping.max_epochs"]


#: A command that records its pid, then waits for ``release`` to appear in its folder before it scores.
WAITER = """\
import json, os, sys, time
open(os.path.join(os.environ["HPSEARCH_TRIAL_DIR"], f"pid-{os.getpid()}"), "w").close()
while not os.path.exists("release"):
    time.sleep(0.05)
print(json.dumps({"loss": float(sys.argv[1])}))
"""


def _start_waiting_search(tmp_path: Path) -> tuple[subprocess.Popen, Path, list[psutil.Process]]:
    """A CLI search with 2 workers whose 4 commands wait for a ``release`` file; returns once two have started."""
    (tmp_path / "wait.py").write_text(WAITER)
    path = tmp_path / "wait.yaml"
    path.write_text(
        f"objective:\n  command: {sys.executable} wait.py {{x}}\n  metric: loss\n"
        "space:\n  x: {scale: uniform, low: 0, high: 1}\nsearch: {trials: 4, seed: 0}\n"
    )
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    search = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "run", str(path), "-w", "2", "-q", "--runs-dir", str(runs)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    assert _wait_until(lambda: len(_pids(runs)) == 2 or search.poll() is not None), "no command started"
    assert search.poll() is None, search.communicate()
    children = psutil.Process(search.pid).children(recursive=True)
    assert _pids(runs) <= {c.pid for c in children}
    return search, runs, children


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
@pytest.mark.parametrize("how", ["kill -9", "ctrl-c"])
def test_a_killed_or_interrupted_search_leaves_no_child_process_alive_and_resume_completes(tmp_path, how):
    search, runs, children = None, tmp_path / "runs", []
    try:
        search, runs, children = _start_waiting_search(tmp_path)
        if how == "kill -9":
            search.send_signal(signal.SIGKILL)  # the search only: its workers and commands must follow it
        else:
            os.killpg(
                search.pid, signal.SIGINT
            )  # what a terminal's Ctrl-C does (commands are in sessions of their own)
        _, err = search.communicate(timeout=60)
        assert search.returncode == (-signal.SIGKILL if how == "kill -9" else 130), err
        assert _wait_until(lambda: all(_gone(c.pid) for c in children)), [
            c.cmdline() for c in children if not _gone(c.pid)
        ]
    finally:
        for process in [*children, *([psutil.Process(search.pid)] if search and search.poll() is None else [])]:
            try:
                process.kill()
            except psutil.Error:
                pass
    with RunStore.open(runs / "wait") as store:
        assert store.trials() == []
    (tmp_path / "release").touch()
    result = resume_search(runs / "wait", execution=Execution(workers=2))
    assert [t.status for t in result.trials] == [TrialStatus.OK] * 4
    assert [t.metrics["loss"] for t in result.trials] == sorted(t.params["x"] for t in result.trials)


def _pids(runs: Path) -> set[int]:
    return {int(p.name.split("-")[1]) for p in runs.glob("*/trials/*/pid-*")}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(predicate, timeout: float = 60.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (a bound for a loaded machine, not a speed test)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_command_objective_runs_on_dask_workers_with_the_same_results_as_loky(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    config = load_config(write_command_config(tmp_path, trials=4))
    loky = start_search(config, runs_dir=tmp_path / "runs", name="loky", execution=Execution(workers=2))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dask = start_search(
            config,
            runs_dir=tmp_path / "runs",
            name="dask",
            execution=Execution(backend="dask", scheduler=cluster.scheduler_address),
        )

    def results(result):
        return sorted((t.trial, t.seed, sorted(t.params.items()), t.status, t.metrics) for t in result.trials)

    assert results(dask) == results(loky) and all(t.status is TrialStatus.OK for t in dask.trials)


def test_plots_report_and_importance_name_the_metric(tmp_path):
    pytest.importorskip("matplotlib")
    config = load_config(write_python_config(tmp_path))
    result = start_search(config.with_search(trials=12), runs_dir=tmp_path / "runs")
    out = invoke("plot", str(result.run_dir), "--out", str(tmp_path / "plots"))
    assert "progress.png" in out and "cost_vs_x.png" in out
    page = (tmp_path / "plots" / "report.html").read_text()
    assert "<th>acc</th>" in page and "best acc" in page and "<th>dev J</th>" not in page
    assert "share of variation of acc" in invoke("importance", str(result.run_dir))


def test_a_dry_run_of_an_own_objective_plans_its_trials_and_trains_nothing(tmp_path):
    path = write_command_config(tmp_path, extra=EARLY)
    out = invoke("run", str(path), "--dry-run", "--runs-dir", str(tmp_path / "r"))
    assert "Planned trials (6)" in out
    assert not (tmp_path / "r").exists()
    # the rung plan of its early stopping (max_epochs 4, eta 2: rungs at 1, 2 and 4 epochs) ...
    rungs = [line.split("│")[1:6] for line in out[out.index("Rungs of round 0") :].splitlines() if line.count("│") == 6]
    assert [[cell.strip() for cell in row][1:4] for row in rungs] == [["1", "6", "1"], ["2", "3", "2"], ["3", "1", "4"]]
    # ... and the command line the first planned trial will run, its placeholders filled
    from hpsearch.search.api import planned_trials

    first = planned_trials(load_config(path))[0]
    argv = [sys.executable, "score.py", json.dumps(first.params["x"]), json.dumps(first.params["k"]), "0"]  # epochs: 0
    assert f"trial {first.trial} runs: {' '.join(argv)}" in " ".join(out.split())


def test_a_trial_record_keeps_the_metric_every_other_number_and_the_reports_through_the_store(tmp_path):
    import math

    from hpsearch.core.records import RoundRecord
    from hpsearch.execution.objective_jobs import trial_record
    from hpsearch.execution.segments import TrialTask
    from hpsearch.objectives.spec import ObjectiveResult, ObjectiveSpec
    from hpsearch.storage.records import EpochLog

    spec = ObjectiveSpec("python", None, "m:f", "acc", "maximize")
    reports = [{"epoch": 1, "acc": 0.5}, {"epoch": 2, "acc": 0.75, "lr": 0.1}]
    result = ObjectiveResult("pruned", 0.75, {"params": 3}, reports, None, 1.5)
    record = trial_record(TrialTask(0, 0, 0, {"x": 0.25}, 11), result, spec, rungs=(1, 2, 4))
    assert (record.status, record.value, record.rung, record.epochs_run) == (TrialStatus.PRUNED, -0.75, 1, 2)
    assert record.metrics == {"acc": 0.75, "params": 3}
    store = RunStore.create(tmp_path / "run", name="run", config={}, config_text="")
    with store:
        store.add_round(RoundRecord(0, {}, 1, "random"))
        store.record_progress(0, 0, EpochLog(0, {}), final=record)
        (back,) = store.trials()
    assert back.metrics == record.metrics and back.value == -0.75
    assert back.history["epoch"] == [1, 2] and back.history["acc"] == [0.5, 0.75]
    assert math.isnan(back.history["lr"][0]) and back.history["lr"][1] == 0.1


def test_confirm_repeats_an_own_objective_and_says_when_it_ignores_its_seed(tmp_path):
    result = start_search(load_config(write_python_config(tmp_path)), runs_dir=tmp_path / "runs")
    out = invoke("confirm", str(result.run_dir), "--top", "2", "--seeds", "3")
    assert "seems deterministic" in out  # acc depends on x only: every repeat gives the same value
    with RunStore.open(result.run_dir) as store:
        repeats = store.repeats()
    top = [t for t in result.trials[:2]]
    assert len(repeats) == 6 and {r.trial for r in repeats} == {t.trial for t in top}
    for r in repeats:  # the value the search ranks by (maximize: the negated accuracy), seed by seed
        trial = next(t for t in top if t.trial == r.trial)
        assert r.value == trial.value and r.seed != trial.seed
    rows = list(csv.DictReader(io.StringIO(invoke("export", str(result.run_dir)))))
    assert rows[0]["confirm_n"] == "3" and float(rows[0]["confirm_std"]) == 0.0


def _run_on_local_cluster(tmp_path, name: str, body: str, trials: int, n_workers: int):
    """``hpsearch run`` of a one-parameter Python objective (``def objective(params)`` with ``body``) on a local
    dask cluster of ``n_workers`` worker processes; the CLI's result."""
    distributed = pytest.importorskip("dask.distributed")
    (tmp_path / f"{name}.py").write_text(f"import os\ndef objective(params):\n{body}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f'name: {name}\nobjective: {{python: "{name}:objective", metric: v}}\n'
        f"space:\n  x: {{scale: uniform, low: 0, high: 1}}\nsearch: {{trials: {trials}, seed: 3}}\n"
    )
    with distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        args = ["run", str(path), "--runs-dir", str(tmp_path / "runs"), "-q", "--backend", "dask"]
        return CliRunner().invoke(cli, [*args, "--scheduler", cluster.scheduler_address])


def test_a_dask_task_whose_workers_keep_dying_ends_the_search_with_a_resume_hint(tmp_path):
    body = (
        "    if params['x'] > 0.5:\n"
        "        os._exit(1)  # the worker process dies, as an out-of-memory kill would\n"
        "    return params['x']\n"
    )
    result = _run_on_local_cluster(tmp_path, "killer", body, trials=6, n_workers=2)
    assert result.exit_code == 2, result.output
    assert (
        "dask worker died" in result.stderr and "hpsearch resume " in result.stderr and "runs/killer" in result.stderr
    )
    assert "Traceback" not in result.output


def test_the_hints_after_a_search_describe_its_final_best_trials(tmp_path, monkeypatch):
    """A zoom round that moves the best trial to a bound: the hint says so (before, it described round 0)."""
    (tmp_path / "edge_obj.py").write_text("def value(params):\n    return params['x']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import edge_obj

    from hpsearch.search.api import edge_hints

    space = {"x": {"scale": "uniform", "low": 0, "high": 1}, "y": {"scale": "uniform", "low": 0, "high": 1}}
    # Seed 3 (pinned: the same trials on every machine): round 0's best x is away from 0, round 1 reaches it.
    result = tune(
        edge_obj.value,
        space,
        trials=6,
        rounds=2,
        zoom_trials=12,
        top_k=2,
        seed=3,
        runs_dir=tmp_path / "runs",
        name="edge",
        execution=Execution(workers=1),
    )
    round0 = [t for t in result.trials if t.round == 0]
    assert not edge_hints(result.rounds[:1], round0, 2)  # round 0 alone: no hint
    assert result.best.round == 1 and result.best.params["x"] < 0.05
    assert [(h.name, h.side) for h in result.edges] == [("x", "low")]
    assert f"(best {result.best.params['x']:.3g})" in result.edges[0].message


def test_confirm_says_each_repeat_by_the_objectives_metric_with_its_sign(tmp_path, monkeypatch):
    """A maximized metric is said as reported (acc 0.98), not as the negated cost under the name J."""
    monkeypatch.chdir(tmp_path)
    config = write_python_config(tmp_path)
    assert CliRunner().invoke(cli, ["run", str(config), "-q"]).exit_code == 0
    confirmed = CliRunner().invoke(cli, ["confirm", "py", "--top", "1", "--seeds", "2"])
    assert confirmed.exit_code == 0, confirmed.output
    lines = [line for line in confirmed.stderr.splitlines() if " repeat " in line]
    assert len(lines) == 2 and all(" J " not in line for line in lines), lines
    with RunStore.open(tmp_path / "runs" / "py") as store:
        said = {int(line.split(" repeat ")[1].split(":")[0]): float(line.split(" acc ")[1]) for line in lines}
        assert all(math.isclose(said[r.repeat], -r.value, rel_tol=1e-3) and said[r.repeat] > 0 for r in store.repeats())


def test_a_dask_cluster_left_with_no_worker_ends_the_search_with_a_resume_hint(tmp_path, monkeypatch):
    """Every worker gone and none coming back: the scheduler would hold the tasks, and the search wait, forever."""
    pytest.importorskip("dask.distributed")
    import hpsearch.execution.dask_cluster

    monkeypatch.setattr(hpsearch.execution.dask_cluster, "DASK_NO_WORKERS_S", 2.0)
    started = time.monotonic()
    result = _run_on_local_cluster(tmp_path, "plain", "    return params['x']\n", trials=3, n_workers=0)
    assert result.exit_code == 2 and time.monotonic() - started < 60, result.output
    assert "every dask worker died" in result.stderr and "hpsearch resume " in result.stderr
