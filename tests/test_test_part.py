"""Issue 30, "How good is the winner, really?": a test part no search step sees, scored once, and a refit.

The dev J a search reports chose the winner, so it flatters it. These tests hold the test part to its promise:
changing every test label changes nothing the search did (trials, promotions, ranks, every training figure to the
bit, the saved model), only the test figures; the test figures equal a computation by hand on the stored test rows
and ``predict`` on the raw test file; a killed run resumes on the same test rows; older runs still show and export.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.core.errors import ConfigError
from hpsearch.core.records import rank
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.nn import Network
from hpsearch.nn.hyperparams import ModelConfig, engine_values
from hpsearch.nn.loop import fit, start
from hpsearch.predict.scoring import predict_csv
from hpsearch.search.api import Execution, resume_search, start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.kill_resume import fingerprint, kill_at, record_count

FIXTURES = Path(__file__).parent / "fixtures"
ONE = Execution(workers=1)

SEARCH = """\
name: {name}
data: {{path: train.csv, label: kind, {test}}}
model: {{hidden: [8], epochs: 6, optimizer: adam}}
space:
  learning_rate: {{scale: log, low: 3.0e-3, high: 0.3}}
  batch_size:    {{choice: [16, 32]}}
search: {{trials: 6, seed: 3, workers: 1, rounds: 2, zoom_trials: 3,
         early_stopping: {{method: halving, min_epochs: 2, eta: 2}}{search}}}
"""


WEIGHTS = np.array([[1.0, -0.5, 0.2], [0.3, 1.0, -1.0], [-0.8, 0.4, 1.0]])


def _rows(rng: np.random.Generator, n: int) -> list[list[str]]:
    """Rows of three numbers and a class ``a``/``b``/``c`` a small network learns most of."""
    X = rng.normal(size=(n, 3))
    kinds = np.array(["a", "b", "c"])[np.argmax(X @ WEIGHTS + 0.3 * rng.normal(size=(n, 3)), axis=1)]
    return [[f"{v:.4f}" for v in x] + [k] for x, k in zip(X, kinds)]


def _write(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x1", "x2", "x3", "kind"])
        writer.writerows(rows)


def _search(folder: Path, runs: Path, name: str, test: str, search: str = "") -> Path:
    (folder / "search.yaml").write_text(SEARCH.format(name=name, test=test, search=search))
    return start_search(load_config(folder / "search.yaml"), runs_dir=runs, name=name, execution=ONE).run_dir


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.csv (300 rows), test.csv (90 rows) and relabelled/test.csv: the same rows, every label another."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(11)
    _write(folder / "train.csv", _rows(rng, 300))
    test = _rows(rng, 90)
    _write(folder / "test.csv", test)
    shift = {"a": "b", "b": "c", "c": "a"}
    (folder / "relabelled").mkdir()
    shutil.copy(folder / "train.csv", folder / "relabelled" / "train.csv")
    _write(folder / "relabelled" / "test.csv", [row[:-1] + [shift[row[-1]]] for row in test])
    return folder


def test_changing_every_test_label_changes_only_the_test_figures(files: Path, tmp_path: Path) -> None:
    """Issue 30, must show 1: the test part leaks nowhere — not into training, early stopping, TPE zoom, ranking,
    the saved model or confirm."""
    runs = tmp_path / "runs"
    runs_dirs = []
    for folder, name in ((files, "original"), (files / "relabelled", "relabelled")):
        run_dir = _search(folder, runs, name, "test_path: test.csv")
        confirm_run(run_dir, top_k=2, seeds=2, execution=ONE)
        runs_dirs.append(run_dir)
    original, relabelled = (fingerprint(run_dir) for run_dir in runs_dirs)
    assert original == relabelled  # trials, rounds, promotions, repeats, the model's every byte
    figures = [json.loads((d / "models" / "test.json").read_text()) for d in runs_dirs]
    assert figures[0]["trial"] == figures[1]["trial"] and figures[0]["rows"] == figures[1]["rows"] == 90
    assert figures[0]["cost"] != figures[1]["cost"] and figures[0]["accuracy"] != figures[1]["accuracy"]
    for d in runs_dirs:
        with RunStore.open(d, read_only=True) as store:
            assert any(store.promotions(0).values()) and len(store.rounds()) == 2  # the steps the test part skips


def test_the_test_figures_equal_numpy_by_hand_and_predict_on_the_test_file(files: Path, tmp_path: Path) -> None:
    """Issue 30, must show 2: the stored figures are the model's cross-entropy and accuracy on the stored test
    rows, worked out here with NumPy, and what ``predict`` says of the raw test file."""
    run_dir = _search(files, tmp_path / "runs", "by-hand", "test_path: test.csv")
    figures = json.loads((run_dir / "models" / "test.json").read_text())
    X, y = np.load(run_dir / "data" / "X_test.npy"), np.load(run_dir / "data" / "y_test.npy")
    p = Network.load(run_dir / "models" / "best.npz").predict_proba(X)
    assert figures["cost"] == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])), rel=1e-6)  # float32
    assert figures["accuracy"] == np.mean(np.argmax(p, axis=1) == y)
    predicted = predict_csv(run_dir / "models" / "best.npz", files / "test.csv")
    assert (predicted.cost, predicted.accuracy) == (figures["cost"], figures["accuracy"])
    labels = [row["kind"] for row in csv.DictReader(open(files / "test.csv"))]
    assert predicted.accuracy == np.mean(predicted.classes == np.array(labels))


def test_a_test_fraction_is_split_off_first_stratified_and_seeded(files: Path, tmp_path: Path) -> None:
    """``data.test_fraction``: each class keeps its share; train, dev and test rows share no row and cover the file;
    the same seed gives the same test rows; no training figure depends on a test label (the split's own stream)."""
    runs = tmp_path / "runs"
    a = _search(files, runs, "fraction-a", "test_fraction: 0.2")
    b = _search(files, runs, "fraction-b", "test_fraction: 0.2")
    rows = {
        tuple(np.round(r, 4)) for r in np.loadtxt(files / "train.csv", delimiter=",", skiprows=1, usecols=(0, 1, 2))
    }
    assert len(np.load(a / "data" / "X_test.npy")) == 60  # 20% of 300, each class rounded
    assert np.array_equal(np.load(a / "data" / "X_test.npy"), np.load(b / "data" / "X_test.npy"))
    assert fingerprint(a) == fingerprint(b)
    data = PreparedData(str(a / "data"))
    dataset, (X_test, y_test) = data.load(), data.test_rows()
    assert dataset.X_test is None  # what trains and ranks holds no test row
    prep = dataset.preparation  # three number columns: standardized, so raw = mean + scale * prepared
    parts = [
        {tuple(np.round(prep.mean + prep.scale * x, 4)) for x in np.asarray(part)}
        for part in (dataset.X_train, dataset.X_dev, X_test)
    ]
    assert sum(map(len, parts)) == 300 and set.union(*parts) == rows
    every = np.concatenate([dataset.y_train, dataset.y_dev, y_test])
    assert np.allclose(np.bincount(y_test) / np.bincount(every), 0.2, atol=0.02)


def test_a_killed_run_resumes_on_the_same_test_rows(tmp_path: Path) -> None:
    """The test rows are stored with the run: a run killed mid-search resumes on them, and ends as a straight run."""
    config = write_tiny_config(tmp_path, trials=6, epochs=6, samples=1500)
    config.write_text(config.read_text().replace("  noise: 1.0\n", "  noise: 1.0\n  test_fraction: 0.25\n"))
    runs = tmp_path / "runs"
    kill_at(["run", str(config), "--name", "killed", "-q", "-w", "1"], runs, lambda: record_count(runs / "killed"), 1)
    stored = (runs / "killed" / "data" / "X_test.npy").read_bytes()
    assert not (runs / "killed" / "models" / "test.json").exists()  # nothing scored before the search ends
    result = resume_search(runs / "killed", execution=ONE)
    straight = start_search(load_config(config), runs_dir=runs, name="straight", execution=ONE)
    assert (
        (runs / "killed" / "data" / "X_test.npy").read_bytes()
        == stored
        == (runs / "straight" / "data" / "X_test.npy").read_bytes()
    )
    assert fingerprint(runs / "killed") == fingerprint(runs / "straight")
    assert result.test == straight.test and result.test.rows == 375


def test_the_views_say_which_figure_chose_the_winner(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final line, show, export and the report say the test figures; show says dev figures chose the winner."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("HPSEARCH_RUNS_DIR", str(runs))
    (files / "views.yaml").write_text(SEARCH.format(name="views", test="test_path: test.csv", search=""))
    ran = CliRunner().invoke(cli, ["run", str(files / "views.yaml"), "-q"])
    assert ran.exit_code == 0, ran.output
    figures = json.loads((runs / "views" / "models" / "test.json").read_text())
    best = [line for line in ran.output.splitlines() if line.startswith("best: trial")][0]
    assert f"test J {figures['cost']:.4g}" in best and f"test acc {figures['accuracy']:.2%}" in best
    shown = CliRunner().invoke(cli, ["show", "views"]).output
    assert "the dev figures chose the winner, the test figure did not" in " ".join(shown.split())
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["export", "views"]).output)))
    tested = [r for r in rows if r["test_cost"]]
    assert [int(r["trial"]) for r in tested] == [figures["trial"]] and float(tested[0]["test_cost"]) == figures["cost"]
    document = json.loads(CliRunner().invoke(cli, ["export", "views", "--json", "-"]).output)
    assert [t["test_accuracy"] for t in document["trials"] if t["test_accuracy"] is not None] == [figures["accuracy"]]
    plotted = CliRunner().invoke(cli, ["plot", "views", "--out", str(tmp_path / "plots")])
    assert plotted.exit_code == 0, plotted.output
    assert "test part: 90 rows no search step saw" in (tmp_path / "plots" / "report.html").read_text()


@pytest.mark.parametrize("fixture", ["v1-run", "v2-run", "v2-early-run", "v3-run"])
def test_runs_stored_before_show_export_and_say_the_dev_figure_is_optimistic(fixture: str, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / fixture, tmp_path / fixture)
    shown = CliRunner().invoke(cli, ["show", str(tmp_path / fixture)])
    assert shown.exit_code == 0, shown.output
    assert "so it is optimistic for new rows" in " ".join(shown.output.split())
    exported = CliRunner().invoke(cli, ["export", str(tmp_path / fixture)])
    assert exported.exit_code == 0 and "test_cost" not in exported.output.splitlines()[0]


def test_refit_trains_the_winner_on_train_and_dev_rows_and_predict_uses_it(files: Path, tmp_path: Path) -> None:
    """``search.refit``: the winner's configuration, its seed and best epoch count, on train+dev rows — the same
    network as training it by hand on those rows; predict uses it, show says so, the test part scores it."""
    runs = tmp_path / "runs"
    run_dir = _search(files, runs, "refit", "test_path: test.csv", ", refit: true")
    refit = json.loads((run_dir / "models" / "refit.json").read_text())
    with RunStore.open(run_dir, read_only=True) as store:
        best = rank(store.trials())[0]
        config = load_config(files / "search.yaml")
    assert refit["trial"] == best.trial and refit["epochs"] == best.best_epoch + 1  # rank_by best under halving
    data = PreparedData(str(run_dir / "data")).load()
    every = dataclasses.replace(
        data, X_train=np.concatenate([data.X_train, data.X_dev]), y_train=np.concatenate([data.y_train, data.y_dev])
    )
    assert refit["rows"] == len(every.y_train) == 300
    state = start(ModelConfig.from_dict({**config.model, **engine_values(best.params), "seed": best.seed}), every)
    fit(state, every, refit["epochs"])
    with np.load(run_dir / "models" / "refit.npz") as saved:
        assert all(np.array_equal(saved[k], v) for k, v in state.network.state().items())
    predicted = CliRunner().invoke(
        cli, ["predict", str(run_dir), str(files / "test.csv"), "--out", str(tmp_path / "p.csv")]
    )
    assert predicted.exit_code == 0, predicted.output
    by_refit = predict_csv(run_dir / "models" / "refit.npz", files / "test.csv")
    figures = json.loads((run_dir / "models" / "test.json").read_text())
    assert figures["refit"] is True and figures["accuracy"] == pytest.approx(by_refit.accuracy)
    shown = " ".join(CliRunner().invoke(cli, ["show", str(run_dir)]).output.split())
    assert f"predict RUN uses: refit of trial {best.trial} on all 300 rows" in shown and "no dev J" in shown


def test_the_new_keys_refuse_in_one_line_where_they_do_not_apply(files: Path, tmp_path: Path) -> None:
    (tmp_path / "both.yaml").write_text(
        SEARCH.format(name="both", test="test_path: test.csv, test_fraction: 0.2", search="")
    )
    with pytest.raises(ConfigError, match="test_fraction"):
        load_config(tmp_path / "both.yaml")
    own = tmp_path / "own.yaml"
    own.write_text(
        "name: own\nobjective: {command: 'echo {x}', metric: loss}\nspace:\n  x: {scale: uniform, low: 0, "
        "high: 1}\nsearch: {trials: 2, refit: true}\n"
    )
    with pytest.raises(ConfigError, match="search.refit"):
        load_config(own)
    (files / "babysit.yaml").write_text(SEARCH.format(name="sit", test="test_fraction: 0.2", search=""))
    sat = CliRunner().invoke(cli, ["babysit", str(files / "babysit.yaml"), "--runs-dir", str(tmp_path / "runs")])
    assert sat.exit_code != 0 and "babysit keeps no test part" in sat.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_regressions_test_figures_are_rmse_and_r2_in_the_targets_units(tmp_path: Path) -> None:
    """A regression's test part, split at random: RMSE and R² of the model predict uses, worked out by hand in the
    target's own units on the stored test rows."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 3))
    y = 50 + 20 * (X @ np.array([1.0, -2.0, 0.5])) + rng.normal(size=200)
    with open(tmp_path / "lin.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "y"])
        writer.writerows([[f"{v:.5f}" for v in (*x, t)] for x, t in zip(X, y)])
    (tmp_path / "lin.yaml").write_text(
        "name: lin\ndata: {path: lin.csv, label: y, test_fraction: 0.25}\n"
        "model: {hidden: [8], epochs: 20, optimizer: adam}\nspace:\n"
        "  learning_rate: {scale: log, low: 3.0e-3, high: 3.0e-2}\n"
        "search: {trials: 3, seed: 1, workers: 1}\n"
    )
    result = start_search(load_config(tmp_path / "lin.yaml"), runs_dir=tmp_path / "runs", name="lin", execution=ONE)
    test = result.test
    data = PreparedData(str(result.run_dir / "data"))
    X_test, y_test = data.test_rows()
    dataset = data.load()
    actual = y_test * dataset.target_scale + dataset.target_mean  # the raw targets of the test rows
    predicted = Network.load(result.run_dir / "models" / "best.npz").predict(X_test)
    assert test.rows == len(actual) == 50 and test.accuracy is None
    assert test.rmse == pytest.approx(np.sqrt(np.mean((predicted - actual) ** 2)), rel=1e-5)
    assert test.r2 == pytest.approx(
        1 - np.sum((predicted - actual) ** 2) / np.sum((actual - actual.mean()) ** 2), rel=1e-5
    )
    written = np.array([float(f"{t:.5f}") for t in y])  # each test target is a row of the file
    assert np.abs(actual[:, 0][:, None] - written[None, :]).min(axis=1).max() < 1e-6


def test_confirm_then_refit_refits_the_confirmed_best(files: Path, tmp_path: Path) -> None:
    """With ``search.refit``, confirm comes first: the refit is of the confirmed best, and the test part scores it."""
    run_dir = _search(files, tmp_path / "runs", "confirm-refit", "test_path: test.csv", ", refit: true")
    confirmation = confirm_run(run_dir, top_k=3, seeds=2, execution=ONE)
    refit = json.loads((run_dir / "models" / "refit.json").read_text())
    figures = json.loads((run_dir / "models" / "test.json").read_text())
    assert refit["trial"] == confirmation.best.trial == figures["trial"] and refit["repeat"] is not None
    assert figures["refit"] is True and figures["model_sha256"] == refit["model_sha256"]
    shown = " ".join(CliRunner().invoke(cli, ["show", str(run_dir)]).output.split())
    assert f"refit of trial {confirmation.best.trial} (the confirmed best)" in shown
