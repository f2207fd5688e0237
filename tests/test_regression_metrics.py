"""A regression's dev RMSE and R² go wherever its J goes: pruned trials, the per-epoch table, confirm (schema 4).

Every number checked here is computed again in this process (a fresh ``train`` of the same values and seed,
or the stored repeats summarised by hand), never compared with floats another machine stored.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import sqlite3
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.analysis.leaderboard import format_cost
from hpsearch.cli.main import cli
from hpsearch.cli.render import fmt
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.confirm.summary import t_quantile_975
from hpsearch.core.errors import RunError
from hpsearch.core.records import TrialStatus
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, train
from hpsearch.search.api import Execution, resume_search, start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.test_regression_search import config

FIXTURES = Path(__file__).parent / "fixtures"
HALVING = ", early_stopping: {method: halving, min_epochs: 1, eta: 3}"
ONE = Execution(workers=1)


def halving_regression(folder: Path) -> Path:
    """A halving search over a linear target: 9 trials, rungs at 1, 3 and 9 epochs."""
    path = config(folder, epochs=9, extra=HALVING)
    path.write_text(path.read_text().replace("trials: 4", "trials: 9"))
    return path


def export_csv(run: Path) -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["export", str(run)])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def leaderboard_row(shown: str, trial: int) -> list[str]:
    """The cells of ``show``'s leaderboard row of ``trial`` (the second column)."""
    for line in shown.splitlines():
        cells = [c.strip() for c in line.split("│")][1:-1]
        if len(cells) > 3 and cells[1] == str(trial) and cells[3] in {s.value for s in TrialStatus}:
            return cells
    raise AssertionError(f"no leaderboard row of trial {trial} in:\n{shown}")


def test_pruned_regression_trials_carry_the_rmse_and_r2_of_their_last_epoch(tmp_path: Path) -> None:
    path = halving_regression(tmp_path)
    result = start_search(load_config(path), runs_dir=tmp_path / "runs", execution=ONE)
    pruned = [t for t in result.trials if t.status is TrialStatus.PRUNED]
    assert {t.epochs_run for t in pruned} == {1, 3}  # pruned at both lower rungs
    cfg = load_config(path)
    data = load_dataset(cfg.resolved_data(), base_dir=tmp_path)
    rows = {int(r["trial"]): r for r in export_csv(result.run_dir)}
    document = json.loads(CliRunner().invoke(cli, ["export", str(result.run_dir), "--json", "-"]).output)
    histories = {t["trial"]: t["history"] for t in document["trials"]}
    shown = CliRunner().invoke(cli, ["show", str(result.run_dir)], env={"COLUMNS": "200"}).output
    for t in pruned:
        fresh, _ = train(ModelConfig.from_dict({**cfg.model, **t.params, "seed": t.seed}), data)
        at = t.epochs_run - 1  # the epoch its record's dev J comes from
        assert json.dumps(t.dev_cost) == json.dumps(fresh.history["dev_cost"][at])
        rmse, r2 = fresh.history["dev_rmse"][at], fresh.history["dev_r2"][at]
        assert (float(rows[t.trial]["dev_rmse"]), float(rows[t.trial]["dev_r2"])) == (rmse, r2)
        assert histories[t.trial]["dev_rmse"] == fresh.history["dev_rmse"][: t.epochs_run]  # per epoch, in JSON too
        row = leaderboard_row(shown, t.trial)
        assert row[3] == "pruned" and format_cost(rmse) in row


def test_confirm_of_a_regression_gives_the_mean_rmse_of_its_repeats_and_its_interval(tmp_path: Path) -> None:
    path = halving_regression(tmp_path)
    run = start_search(load_config(path), runs_dir=tmp_path / "runs", execution=ONE).run_dir
    confirmation = confirm_run(run, top_k=2, seeds=3, execution=ONE)
    with sqlite3.connect(run / "run.sqlite") as db:
        stored = db.execute("SELECT trial, seed, metrics FROM confirmations ORDER BY trial, repeat_index").fetchall()
    db.close()
    by_trial: dict[int, list[dict]] = {}
    for trial, _, metrics in stored:
        by_trial.setdefault(trial, []).append(json.loads(metrics))
    best = confirmation.best
    rmses = [m["dev_rmse"] for m in by_trial[best.trial]]
    mean = sum(rmses) / 3
    half = 4.303 * statistics.stdev(rmses) / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert t_quantile_975(2) == 4.303 and best.mean_rmse == pytest.approx(mean, rel=1e-12)
    assert best.rmse_interval == pytest.approx((max(mean - half, 0.0), mean + half), rel=1e-12)
    assert best.mean_r2 == pytest.approx(sum(m["dev_r2"] for m in by_trial[best.trial]) / 3, rel=1e-12)
    # what a repeat stores is what training its values with its seed gives, in this process
    cfg = load_config(path)
    with RunStore.open(run, read_only=True) as store:
        trial = next(t for t in store.trials() if t.trial == best.trial)
    seed = next(s for t, s, _ in stored if t == best.trial)
    fresh, _ = train(
        ModelConfig.from_dict({**cfg.model, **trial.params, "seed": int(seed)}),
        load_dataset(cfg.resolved_data(), base_dir=tmp_path),
    )
    assert by_trial[best.trial][0]["dev_rmse"] == fresh.dev_rmse
    rows = {int(r["trial"]): r for r in export_csv(run)}
    assert float(rows[best.trial]["confirm_rmse_mean"]) == pytest.approx(mean, rel=1e-12)
    assert float(rows[best.trial]["confirm_rmse_high"]) == pytest.approx(mean + half, rel=1e-12)
    document = json.loads(CliRunner().invoke(cli, ["export", str(run), "--json", "-"]).output)
    assert document["recommended"]["confirm_rmse_mean"] == pytest.approx(mean, rel=1e-12)
    shown = CliRunner().invoke(cli, ["show", str(run)], env={"COLUMNS": "200"}).output
    assert "mean RMSE" in shown and "RMSE 95% interval" in shown and "mean acc" not in shown
    assert f"mean dev RMSE {fmt(best.mean_rmse)}" in shown


CLASSIFICATION_COLUMNS = [
    "rank",
    "trial",
    "round",
    "status",
    "dev_cost",
    "train_cost",
    "dev_accuracy",
    "epochs_run",
    "seconds",
    "rung",
    "best_dev_cost",
    "best_epoch",
    "confirm_mean",
    "confirm_std",
    "confirm_n",
    "error",
    "batch_size",
    "beta1",
    "hidden_units",
    "learning_rate",
    "epochs",
    "layers",
    "seed",
]
OBJECTIVE = """\
def score(params, trial):
    return {"dev_rmse": (params["x"] - 1) ** 2 + trial.seed % 7 / 100, "dev_r2": 0.5}
"""


def test_classification_and_own_objectives_keep_their_columns_and_store_no_metrics(tmp_path: Path) -> None:
    tiny = write_tiny_config(tmp_path, trials=4, extra="  early_stopping: {method: halving, min_epochs: 1, eta: 2}\n")
    classified = start_search(load_config(tiny), runs_dir=tmp_path / "runs", execution=ONE).run_dir
    confirm_run(classified, top_k=2, seeds=2, execution=ONE)
    assert list(export_csv(classified)[0]) == CLASSIFICATION_COLUMNS
    shown = CliRunner().invoke(cli, ["show", str(classified)], env={"COLUMNS": "200"}).output
    assert "mean acc" in shown and "RMSE" not in shown
    # an own objective whose metric happens to be called dev_rmse is still an own objective
    (tmp_path / "scoring.py").write_text(OBJECTIVE)
    (tmp_path / "own.yaml").write_text(
        'name: own\nobjective: {python: "scoring:score", metric: dev_rmse}\n'
        "space:\n  x: {scale: uniform, low: -3, high: 3}\nsearch: {trials: 3, seed: 2, workers: 1}\n"
    )
    own = start_search(load_config(tmp_path / "own.yaml"), runs_dir=tmp_path / "runs", execution=ONE).run_dir
    confirm_run(own, top_k=2, seeds=2, execution=ONE)
    assert not any(c.startswith("confirm_rmse") for c in export_csv(own)[0])
    shown = CliRunner().invoke(cli, ["show", str(own)], env={"COLUMNS": "200"}).output
    assert "mean acc" not in shown and "mean RMSE" not in shown and "mean dev_rmse" in shown  # its own metric only
    for run in (classified, own):
        with sqlite3.connect(run / "run.sqlite") as db:
            kept = {m for table in ("epochs", "confirmations") for (m,) in db.execute(f"SELECT metrics FROM {table}")}
        db.close()
        assert kept <= {"{}"}


def test_a_schema_3_regression_run_opens_shows_exports_resumes_and_confirms(tmp_path: Path) -> None:
    run = tmp_path / "v3-run"
    shutil.copytree(FIXTURES / "v3-run", run)
    runner = CliRunner()
    with RunStore.open(run, read_only=True) as store:  # migrated in memory: the file stays at schema 3
        assert len(store.trials()) == 9
    with sqlite3.connect(run / "run.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
    db.close()
    shown = runner.invoke(cli, ["show", str(run)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "9/9 trials done" in shown.output and "pruned" in shown.output and "mean RMSE" in shown.output
    rows = export_csv(run)
    # Pruned before schema 4: their per-epoch RMSE was never stored, so they keep "—" (an empty cell).
    assert {r["status"] for r in rows} >= {"ok", "pruned"}
    assert all(r["dev_rmse"] == "" for r in rows if r["status"] == "pruned")
    assert all(r["dev_rmse"] for r in rows if r["status"] == "ok")
    assert [r["confirm_n"] for r in rows[:2]] == ["2", "2"] and rows[0]["confirm_rmse_mean"] == ""
    before = {r["trial"]: (r["status"], r["dev_cost"]) for r in rows}
    result = resume_search(run, execution=ONE)  # nothing left to train: the records stand
    assert {str(t.trial): (t.status.value, repr(t.dev_cost)) for t in result.trials} == {
        k: (s, repr(float(c))) for k, (s, c) in before.items()
    }
    confirmed = runner.invoke(cli, ["confirm", str(run), "--top", "2", "--seeds", "3", "-q"])
    assert confirmed.exit_code == 0, confirmed.output
    after = {r["trial"]: r for r in export_csv(run)}
    # a third repeat of each has an RMSE, the two old ones none: no mean RMSE over a part of the repeats
    assert all(after[t]["confirm_n"] == "3" and after[t]["confirm_rmse_mean"] == "" for t in list(after)[:2])
    with sqlite3.connect(run / "run.sqlite") as db:
        new = [json.loads(m) for (m,) in db.execute("SELECT metrics FROM confirmations WHERE repeat_index = 2")]
    db.close()
    assert len(new) == 2 and all(set(m) == {"dev_rmse", "dev_r2"} for m in new)


def test_metrics_a_changed_run_sqlite_holds_are_dropped_or_refused_in_one_line(tmp_path: Path) -> None:
    run = tmp_path / "v3-run"
    shutil.copytree(FIXTURES / "v3-run", run)
    resume_search(run, execution=ONE)  # migrated to schema 4 on disk
    with sqlite3.connect(run / "run.sqlite") as db:
        db.execute(
            "UPDATE epochs SET metrics = ? WHERE trial = 0 AND epoch = 0",
            ('{"dev_rmse": "1.0", "dev_r2": 1e999, "other": 2.0}',),
        )
        db.execute("UPDATE epochs SET metrics = ? WHERE trial = 0 AND epoch = 1", ('{"dev_rmse": 0.5}',))
        db.execute("UPDATE confirmations SET metrics = ? WHERE repeat_index = 0", ('{"dev_rmse": NaN, "x": 1}',))
    db.close()
    with RunStore.open(run, read_only=True) as store:
        history, _ = store.epoch_log(0)
        assert [math.isnan(v) for v in history["dev_rmse"]] == [True, False, True] and "dev_r2" not in history
        assert all(r.metrics == {} for r in store.repeats())
    with sqlite3.connect(run / "run.sqlite") as db:
        db.execute("UPDATE confirmations SET metrics = '[[[' WHERE repeat_index = 1")
    db.close()
    with RunStore.open(run, read_only=True) as store, pytest.raises(RunError, match="run.sqlite is damaged"):
        store.repeats()
    shown = CliRunner().invoke(cli, ["show", str(run)])
    assert shown.exit_code == 2 and "Traceback" not in shown.output
    assert len(shown.stderr.strip().splitlines()) == 1 and "metrics" in shown.stderr
