"""Every run kind crossed with every command that takes a run (issue 19, "What it must show" 1).

Each run kind is built once for the module (tiny configs) and copied into a fresh runs folder per cell, since
zoom, resume, confirm and babysit change a run. A cell either works, and its output shows the right labels and
numbers (the best trial's id and value as the store has them), or exits 2 with one line saying why the command
does not apply to that kind of run. No cell may print a traceback.

The table ``EXPECTED`` below is the matrix: every cell not listed must work.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.analysis.export import write_csv
from hpsearch.analysis.leaderboard import format_cost
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.core.records import TrialStatus, rank
from hpsearch.search.api import Execution, resume_search, start_search, stored_config, zoom_search
from hpsearch.search.importing import import_run
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.kill_resume import kill_at, record_count

pytest.importorskip("matplotlib", reason="plot cells need the plot extra")

FIXTURES = Path(__file__).parent / "fixtures"

KINDS = (
    "plain",
    "zoomed",
    "halving",
    "hyperband",
    "auto_es",
    "command",
    "python_es",
    "babysat",
    "confirmed",
    "killed",
    "dask",
    "v1",
    "regression",
    "conditional",
    "tested",
    "cv",
    "ranked",
    "enqueued",
    "warm",
    "imported",
)
COMMANDS = (
    "show80",
    "show120",
    "show_wide",
    "export_csv",
    "export_json",
    "plot",
    "importance",
    "predict",
    "confirm",
    "babysit_trial",
    "zoom",
    "resume",
    "resume_retry",
    "list",
    "extend_trials",
    "extend_rounds",
    "warm_from",
)

_OWN = "own objective"  # what predict and babysit --trial say of an own objective's run: its models are the user's
#: (kind, command) -> the words of the one-line reason a command does not apply (exit 2); every other cell works.
EXPECTED: dict[tuple[str, str], str] = {
    ("command", "predict"): _OWN,
    ("python_es", "predict"): _OWN,
    ("command", "babysit_trial"): _OWN,
    ("python_es", "babysit_trial"): _OWN,
    ("babysat", "zoom"): "babysat",
    ("babysat", "resume"): "babysat",
    ("babysat", "resume_retry"): "babysat",
    ("babysat", "confirm"): "babysat",
    ("babysat", "babysit_trial"): "babysat run",
    ("v1", "predict"): "saved without its data preparation",  # a schema-1 model file has no preparation
    ("tested", "babysit_trial"): "babysit keeps no test part",  # babysit steers by dev figures: no test part
    ("cv", "babysit_trial"): "not data.cv's K folds",  # babysit steers one model
    # issue 34: round 0 grows only where the larger run would have planned the same trials
    **{(k, "extend_trials"): "has zoom rounds planned" for k in ("zoomed", "conditional", "enqueued", "warm")},
    **{
        (k, "extend_trials"): "rungs were decided"
        for k in ("halving", "hyperband", "auto_es", "python_es", "regression", "ranked")
    },
    ("imported", "extend_trials"): "was imported",
    ("imported", "babysit_trial"): "was imported",  # no training of it to continue
    ("v1", "extend_trials"): "has zoom rounds planned",
    ("babysat", "extend_trials"): "babysat",
    ("babysat", "extend_rounds"): "babysat",
    ("imported", "predict"): "no best model",  # an imported trial's model is elsewhere
}

COMMAND_SCORE = """\
import json, sys
x, k = float(sys.argv[1]), int(sys.argv[2])
if x < -2.5:
    print("x below -2.5 is refused", file=sys.stderr)
    sys.exit(3)
print(json.dumps({"loss": (x - 1) ** 2 + k, "x2": 2 * x}))
"""
COMMAND_CONFIG = """\
name: command
objective:
  command: {python} score.py {{x}} {{k}}
  metric: loss
  timeout: 60
space:
  x: {{scale: uniform, low: -3, high: 3}}
  k: {{choice: [0, 1]}}
search: {{trials: 5, seed: 4, workers: 1}}
"""
REGRESSION_CONFIG = """\
name: regression
data: {path: lin.csv, label: y, missing: fill}
model: {hidden: [8], epochs: 4, optimizer: adam}
space:
  learning_rate: {scale: log, low: 3.0e-3, high: 3.0e-2}
search: {trials: 6, seed: 1, workers: 1, early_stopping: {method: halving, min_epochs: 1, eta: 2}}
"""
CONDITIONAL_SPACE = """\
  optimizer:     {choice: [gd, momentum, adam]}
  beta:          {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: momentum}}
  beta1:         {scale: one_minus_log, low: 0.8, high: 0.99, when: {optimizer: adam}}
"""
PYTHON_MODULE = """\
def loss(params, trial):
    x = params["x"]
    if x < -2.0:
        raise ValueError(f"x too small: {x:.3f}")
    for epoch in range(1, 5):
        trial.report(epoch, loss=(x - 1) ** 2 + 1.0 / epoch)
    return (x - 1) ** 2 + 0.25
"""
PYTHON_CONFIG = """\
name: python_es
objective: {python: "matrixobjective:loss", metric: loss}
space:
  x: {scale: uniform, low: -3, high: 3}
search: {trials: 6, seed: 2, workers: 1, early_stopping: {method: halving, min_epochs: 1, eta: 2, max_epochs: 4}}
"""


@dataclass(frozen=True)
class Built:
    """A run kind built once: its folder, and its best trial's id and value (None: no ok trial) as stored."""

    kind: str
    run_dir: Path
    best_trial: int | None
    best_text: str | None
    metric: str | None


def _best(run_dir: Path, kind: str) -> Built:
    with RunStore.open(run_dir, read_only=True) as store:
        trials, metric = store.trials(), stored_config(store).metric
    ok = [t for t in rank(trials) if t.status is TrialStatus.OK]
    if not ok:
        return Built(kind, run_dir, None, None, metric)
    best = ok[0]
    value = best.dev_cost if metric is None else best.metrics.get(metric)
    return Built(kind, run_dir, best.trial, format_cost(value), metric)


def _tiny(folder: Path, extra: str = "", **sizes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_tiny_config(folder, **{"trials": 4, "epochs": 2, "samples": 120, **sizes}, extra=extra)


def _kill_then_resume(folder: Path, runs: Path) -> Path:
    """A CLI run killed with SIGKILL once it has recorded a trial, then resumed to the end."""
    config = _tiny(folder, trials=6, epochs=6, samples=1500)
    run_dir = runs / "killed"
    kill_at(["run", str(config), "--name", "killed", "-q", "-w", "1"], runs, lambda: record_count(run_dir), 1)
    resume_search(run_dir, execution=Execution(workers=1))
    return run_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every run kind, built once (a few trials, a few epochs)."""
    distributed = pytest.importorskip("dask.distributed")
    base = tmp_path_factory.mktemp("kinds")
    runs = base / "runs"
    one = Execution(workers=1)
    dirs: dict[str, Path] = {}
    dirs["plain"] = start_search(load_config(_tiny(base / "plain")), runs_dir=runs, name="plain", execution=one).run_dir
    zoomed = start_search(load_config(_tiny(base / "zoomed")), runs_dir=runs, name="zoomed", execution=one).run_dir
    zoom_search(zoomed, top_k=2, trials=2, execution=one)
    dirs["zoomed"] = zoomed
    for method in ("halving", "hyperband"):
        config = _tiny(
            base / method, f"  early_stopping: {{method: {method}, min_epochs: 1, eta: 2}}\n", trials=6, epochs=4
        )
        dirs[method] = start_search(load_config(config), runs_dir=runs, name=method, execution=one).run_dir
    # issue 31: early_stopping.method left out is auto
    config = _tiny(base / "auto_es", "  early_stopping: {min_epochs: 1, eta: 3}\n", trials=6, epochs=4)
    dirs["auto_es"] = start_search(load_config(config), runs_dir=runs, name="auto_es", execution=one).run_dir
    (base / "command").mkdir()
    (base / "command" / "score.py").write_text(COMMAND_SCORE)
    (base / "command" / "command.yaml").write_text(COMMAND_CONFIG.format(python=sys.executable))
    dirs["command"] = start_search(
        load_config(base / "command" / "command.yaml"), runs_dir=runs, name="command", execution=one
    ).run_dir
    (base / "python").mkdir()
    (base / "python" / "matrixobjective.py").write_text(PYTHON_MODULE)
    (base / "python" / "python.yaml").write_text(PYTHON_CONFIG)
    dirs["python_es"] = start_search(
        load_config(base / "python" / "python.yaml"), runs_dir=runs, name="python_es", execution=one
    ).run_dir
    babysat_config = _tiny(base / "babysat", epochs=6)  # patience 1: a decision or two to show and export
    babysat_config.write_text(babysat_config.read_text() + "babysit: {patience: 1, factor: 0.5}\n")
    babysat = CliRunner().invoke(
        cli,
        ["babysit", str(babysat_config), "--set", "learning_rate=0.3", "--name", "babysat", "--runs-dir", str(runs)],
    )
    assert babysat.exit_code == 0, babysat.output
    dirs["babysat"] = runs / "babysat"
    confirmed = start_search(
        load_config(_tiny(base / "confirmed")), runs_dir=runs, name="confirmed", execution=one
    ).run_dir
    confirm_run(confirmed, top_k=2, seeds=2, execution=one)
    dirs["confirmed"] = confirmed
    dirs["killed"] = _kill_then_resume(base / "killed", runs)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dirs["dask"] = start_search(
            load_config(_tiny(base / "dask")),
            runs_dir=runs,
            name="dask",
            execution=Execution(backend="dask", scheduler=cluster.scheduler_address),
        ).run_dir
    shutil.copytree(FIXTURES / "v1-run", runs / "v1-run")
    dirs["v1"] = runs / "v1-run"
    dirs["regression"] = _regression(base / "regression", runs, one)
    conditional = _tiny(base / "conditional", "  rounds: 2\n  zoom_trials: 2\n  zoom: tpe\n", trials=6)
    conditional.write_text(
        conditional.read_text().replace(
            "  beta1:         {scale: one_minus_log, low: 0.8, high: 0.99}\n", CONDITIONAL_SPACE
        )
    )
    dirs["conditional"] = start_search(
        load_config(conditional), runs_dir=runs, name="conditional", execution=one
    ).run_dir
    tested = _tiny(base / "tested", "  refit: true\n")  # issue 30: a test part, and the winner refit for predict
    tested.write_text(tested.read_text().replace("  noise: 1.0\n", "  noise: 1.0\n  test_fraction: 0.25\n"))
    dirs["tested"] = start_search(load_config(tested), runs_dir=runs, name="tested", execution=one).run_dir
    cv = _tiny(base / "cv", "  refit: true\n")  # issue 30: k-fold cross-validation, a test part, a refit
    cv.write_text(cv.read_text().replace("  noise: 1.0\n", "  noise: 1.0\n  test_fraction: 0.25\n  cv: 3\n"))
    dirs["cv"] = start_search(load_config(cv), runs_dir=runs, name="cv", execution=one).run_dir
    ranked = _tiny(  # issue 30: ranked by balanced accuracy, classes weighted, under halving
        base / "ranked",
        "  metric: balanced_accuracy\n  early_stopping: {method: halving, min_epochs: 1, eta: 2}\n",
        trials=6,
        epochs=4,
    )
    ranked.write_text(ranked.read_text().replace("model:\n", "model:\n  class_weight: balanced\n"))
    dirs["ranked"] = start_search(load_config(ranked), runs_dir=runs, name="ranked", execution=one).run_dir
    dirs.update(_issue_34_kinds(base, runs, dirs["plain"]))
    return {kind: _best(run_dir, kind) for kind, run_dir in dirs.items()}


def _issue_34_kinds(base: Path, runs: Path, plain: Path) -> dict[str, Path]:
    """Issue 34's runs: known points enqueued first; a search warm-started from ``plain`` with no random round
    of its own; ``plain``'s trials exported to CSV and imported as a run."""
    one = Execution(workers=1)
    dirs = {}
    enqueued = _tiny(base / "enqueued", "  rounds: 2\n  zoom_trials: 2\n  enqueue:\n    - {learning_rate: 0.01}\n")
    dirs["enqueued"] = start_search(load_config(enqueued), runs_dir=runs, name="enqueued", execution=one).run_dir
    warm = _tiny(base / "warm", "  rounds: 2\n  zoom_trials: 3\n  warm_start: [plain]\n", trials=0)
    dirs["warm"] = start_search(load_config(warm), runs_dir=runs, name="warm", execution=one).run_dir
    with RunStore.open(plain, read_only=True) as store:
        trials, config = store.trials(), stored_config(store)
    with open(base / "plain.csv", "w", newline="") as f:
        write_csv(trials, config.model, f)
    imported = _tiny(base / "imported")
    dirs["imported"] = import_run(load_config(imported), base / "plain.csv", runs_dir=runs, name="imported").run_dir
    return dirs


def _regression(folder: Path, runs: Path, execution: Execution) -> Path:
    """A halving search predicting a number (a linear target of five features), on a file with the data options
    of issue 30: an ISO date column, gaps filled (``data.missing: fill``) and a row without its label."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = X @ np.array([1.0, 2.0, -1.0, 0.5, 3.0])
    days = np.datetime64("2020-01-01") + rng.integers(0, 900, size=120)
    rows = [[str(day), *(f"{v:.5f}" for v in x), f"{t:.5f}"] for day, x, t in zip(days, X, y)]
    rows[3][1], rows[7][0], rows[11][-1] = "", "NA", ""  # a missing number, a missing date, a missing label
    with open(folder / "lin.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["when", "a", "b", "c", "d", "e", "y"])
        writer.writerows(rows)
    (folder / "regression.yaml").write_text(REGRESSION_CONFIG)
    run_dir = start_search(
        load_config(folder / "regression.yaml"), runs_dir=runs, name="regression", execution=execution
    ).run_dir
    notes = json.loads((run_dir / "data" / "dataset.json").read_text())["notices"]
    assert any("dropped 1 row of 120 without a label 'y'" in note for note in notes), notes
    return run_dir


def _predict_csv(run_dir: Path, folder: Path) -> Path:
    """A CSV of a few rows holding every training column of the run's best model (a date column: ISO dates;
    a model trained with ``data.missing: fill``: a gap in each row but the first, which predict fills)."""
    from hpsearch.predict.model import Model

    model = Model.load(run_dir / "models" / "best.npz")
    rng = np.random.default_rng(0)
    path = folder / "rows.csv"
    prepared = model.preparation  # None for a model saved before models kept their preparation (v1)
    kinds = [f.kind for f in prepared.features] if prepared else ["number"] * len(model.columns)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(model.columns)
        for k in range(5):
            row = [
                str(np.datetime64("2021-06-01") + 7 * k) if kind == "date" else f"{v:.3f}"
                for kind, v in zip(kinds, rng.normal(size=len(model.columns)))
            ]
            if k and prepared and prepared.missing == "fill":
                row[k % len(row)] = ""
            writer.writerow(row)
    return path


def _args(command: str, name: str, b: Built, folder: Path) -> list[str]:
    """The command line of a cell."""
    trial = str(b.best_trial if b.best_trial is not None else 0)
    return {
        "show80": ["show", name],
        "show120": ["show", name],
        "show_wide": ["show", name, "--wide"],
        "export_csv": ["export", name],
        "export_json": ["export", name, "--json", "-"],
        "plot": ["plot", name, "--out", str(folder / "plots")],
        "importance": ["importance", name],
        "predict": ["predict", name, "PLACEHOLDER", "--out", str(folder / "predictions.csv")],
        "confirm": ["confirm", name, "-k", "2", "-s", "2", "-q", "-w", "1"],
        "babysit_trial": ["babysit", name, "--trial", trial, "--epochs", "1", "--name", "handed"],
        "zoom": ["zoom", name, "-k", "2", "-n", "2", "-q", "-w", "1"],
        "resume": ["resume", name, "-q", "-w", "1"],
        "resume_retry": ["resume", name, "--retry-failed", "-q", "-w", "1"],
        "list": ["list"],
        "extend_trials": ["resume", name, "--trials", "+1", "-q", "-w", "1"],
        "extend_rounds": ["resume", name, "--rounds", "+1", "-q", "-w", "1"],
        "warm_from": ["run", str(b.run_dir / "config.yaml"), "--from", name, "--name", "warmed", "-q", "-w", "1"],
    }[command]


def _table_row(output: str, rank_text: str = "1") -> list[str]:
    """The cells of the leaderboard row of rank ``rank_text``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 3 and cells[1] == rank_text:
            return cells[1:-1]
    raise AssertionError(f"no leaderboard row {rank_text} in:\n{output}")


def _check(command: str, b: Built, out: str, name: str, runs: Path, folder: Path) -> None:
    """What a working cell's output must say."""
    if command.startswith("show"):
        assert f"run {name}" in out
        if b.best_trial is not None:
            row = _table_row(out)
            assert row[1] == str(b.best_trial) and b.best_text in row, row
        if b.kind == "hyperband" and command != "show80":
            assert "bracket" in out
        if b.kind == "confirmed":
            assert "the one predict RUN uses" in out
        if b.kind == "regression":
            assert "dev RMSE" in out and "dev acc" not in out
        if b.kind == "conditional":
            assert "—" in out  # an inactive beta or beta1 is shown as absent, never as a value
        if b.kind == "tested":
            assert "test part:" in out and "predict RUN uses: refit of trial" in out
        if b.kind == "ranked":
            assert "dev bal acc" in out
    elif command == "export_csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        if b.kind == "regression":  # pruned trials too: their RMSE is their last epoch's (schema 4)
            assert all(r["dev_rmse"] for r in rows if r["status"] in ("ok", "pruned")) and "dev_accuracy" not in rows[0]
        if b.kind == "conditional":
            assert all(bool(r["beta"]) == (r["optimizer"] == "momentum") for r in rows)  # inactive: empty
        assert rows and rows[0]["trial"] == str(b.best_trial)
        assert format_cost(float(rows[0][b.metric or "dev_cost"])) == b.best_text
        assert ("bracket" in rows[0]) == (b.kind == "hyperband")
        assert all(r["error"] for r in rows if r["status"] == "failed")
        assert bool(rows[0].get("test_cost")) == (
            b.kind in ("tested", "cv")
        )  # the model predict uses, on the test part
        if b.kind == "ranked":  # the trials that reached the top rung, highest balanced accuracy first
            top = [float(r["dev_balanced_accuracy"]) for r in rows if r["status"] == "ok"]
            assert top and top == sorted(top, reverse=True)
    elif command == "export_json":
        document = json.loads(out)
        first = document["trials"][0]
        assert first["trial"] == b.best_trial and format_cost(first[b.metric or "dev_cost"]) == b.best_text
        if b.kind == "babysat":  # what show lists, export --json has
            with RunStore.open(runs / name, read_only=True) as store:
                decisions = store.decisions()
            assert decisions and [d["action"] for d in first["decisions"]] == [
                d.action for d in decisions[first["trial"]]
            ]
    elif command == "plot":
        report = (folder / "plots" / "report.html").read_text(encoding="utf-8")
        assert f"(trial {b.best_trial})" in report
        written = {Path(line).name for line in out.splitlines()}
        assert {"progress.png", "learning_curves.png"} <= written
        assert ("rmse_curves.png" in written) == (b.kind == "regression")  # a regression's RMSE in its units
    elif command == "importance":
        assert "importance" in out.lower()
    elif command == "predict":
        assert "5 predictions written" in out
        if b.kind == "regression":  # a date column and gaps, filled as in training: a number for every row
            predicted = list(csv.DictReader(io.StringIO((folder / "predictions.csv").read_text(encoding="utf-8"))))
            assert len(predicted) == 5 and all(np.isfinite(float(row["prediction"])) for row in predicted)
    elif command == "confirm":
        assert "recommended: trial" in out
        assert ("test part:" in out) == (b.kind in ("tested", "cv"))
        if b.kind == "regression":
            assert "mean dev RMSE" in out and "mean acc" not in out
        if b.kind == "ranked":
            assert "mean balanced_accuracy" in out
    elif command == "babysit_trial":
        assert "run 'handed'" in out
    elif command == "zoom":
        assert "best: trial" in out
        assert ("test J" in out) == (b.kind in ("tested", "cv"))
    elif command == "list":
        assert name in out
    elif command in ("extend_trials", "extend_rounds"):
        assert "best: trial" in out
        with RunStore.open(runs / name, read_only=True) as store:
            search = store.config["search"]
        assert search["trials" if command == "extend_trials" else "rounds"] >= 2 or b.kind == "v1"
    elif command == "warm_from":
        assert "run saved in" in out
        with RunStore.open(runs / "warmed", read_only=True) as store:
            assert store.tables.warm.all() and all(w.source == name for w in store.tables.warm.all())


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", KINDS)
def test_cell(
    kind: str, command: str, built: dict[str, Built], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = built[kind]
    runs = tmp_path / "runs"
    shutil.copytree(b.run_dir, runs / b.run_dir.name)
    name = b.run_dir.name
    monkeypatch.setenv("HPSEARCH_RUNS_DIR", str(runs))
    monkeypatch.setenv("COLUMNS", "80" if command == "show80" else "120")
    args = _args(command, name, b, tmp_path)
    if command == "predict" and (runs / name / "models" / "best.npz").is_file() and b.metric is None:
        args[2] = str(_predict_csv(runs / name, tmp_path))
    elif command == "predict":
        args[2] = str(tmp_path / "rows.csv")
        (tmp_path / "rows.csv").write_text("a\n1\n")
    result = CliRunner().invoke(cli, args)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), (result.exception, output)
    why = EXPECTED.get((kind, command))
    if why is None:
        assert result.exit_code == 0, output
        _check(command, b, result.stdout, name, runs, tmp_path)
    else:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and why in lines[0], output


@pytest.mark.parametrize("kind", KINDS)
def test_serve_cell(kind: str, built: dict[str, Built], tmp_path: Path) -> None:
    """hpsearch serve answers every page of every kind of run (the serve column of the matrix), writing nothing."""
    pytest.importorskip("plotly", reason="hpsearch serve needs the serve extra")
    from hpsearch.serve.server import Server
    from tests.test_serve import api, every_endpoint, folder_state, running

    b = built[kind]
    runs = tmp_path / "runs"
    shutil.copytree(b.run_dir, runs / b.run_dir.name)
    name = b.run_dir.name
    with RunStore.open(runs / name, read_only=True) as store:
        trials = store.trials()
    before = folder_state(runs)
    with running(Server(runs, "127.0.0.1", 0)) as server:
        listed = api(server, "/api/runs")
        assert [r["name"] for r in listed["runs"]] == [name] and listed["unreadable"] == []
        every_endpoint(server, name, trials[0].trial)
        board = api(server, f"/api/run/{name}/leaderboard?size=500")
        assert board["total"] == len(trials)
        assert b.best_trial is None or board["rows"][0]["trial"] == b.best_trial
        assert len(api(server, f"/api/run/{name}/trials?after=0")["trials"]) == len(trials)
        assert api(server, f"/api/run/{name}")["label"] == (b.metric or "dev J")
    assert folder_state(runs) == before
