"""Runs written by earlier versions still open, show, export, resume and confirm.

Each fixture is a run folder written by the version before a schema change
(``v1-run``: schema 1; ``v2-early-run``: schema 2 before its confirmations and
decisions tables; ``v2-run``: schema 2, a halving search with a confirmation), kept as it was. Numbers retrained
here are compared with a fresh computation in this process, never with floats another machine stored.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.core.errors import RunError
from hpsearch.core.records import TrialStatus, rank
from hpsearch.search.api import Execution, resume_search
from hpsearch.storage.catalog import list_runs
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.schema import SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_schema_2_halving_run_with_a_confirmation_opens_shows_exports_resumes_and_confirms(tmp_path: Path) -> None:
    run = tmp_path / "v2-run"
    shutil.copytree(FIXTURES / "v2-run", run)
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", str(run)])
    assert shown.exit_code == 0, shown.output
    assert "9/9 trials done" in shown.output and "pruned" in shown.output and "Confirmation" in shown.output
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["export", str(run)]).output)))
    assert len(rows) == 9 and {r["status"] for r in rows} >= {"ok", "pruned"}
    assert rows[0]["confirm_n"] == "2"
    document = json.loads(runner.invoke(cli, ["export", str(run), "--json", "-"]).output)
    assert [p["from_rung"] for p in document["rounds"][0]["promotions"]] == [1, 2]
    before = {r["trial"]: (r["status"], r["dev_cost"]) for r in rows}
    result = resume_search(run, execution=Execution(workers=1))  # nothing left to train: the records stand
    assert {str(t.trial): (t.status.value, repr(t.dev_cost)) for t in result.trials} == {
        k: (s, repr(float(c))) for k, (s, c) in before.items()
    }
    again = runner.invoke(cli, ["confirm", str(run), "--top", "2", "--seeds", "2"])
    assert again.exit_code == 0, again.output
    rows_after = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["export", str(run)]).output)))
    assert [r["confirm_n"] for r in rows_after[:2]] == ["2", "2"]  # the stored repeats are reused, none added


def test_a_schema_2_run_migrates_to_3_its_files_are_digested_on_next_write_and_checked_after(tmp_path: Path) -> None:
    run = tmp_path / "v2-run"
    shutil.copytree(FIXTURES / "v2-run", run)
    with RunStore.open(run, read_only=True) as store:  # a read-only open migrates in memory: the file stays v2
        assert store.created_by is None
    db = sqlite3.connect(run / "run.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    db.close()
    resume_search(run, execution=Execution(workers=1))  # no digests yet: the files are accepted, digested now
    db = sqlite3.connect(run / "run.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    digested = {path for (path,) in db.execute("SELECT path FROM file_digests")}
    db.close()
    assert {"data/X_train.npy", "data/dataset.json", "data/preparation.npz"} <= digested
    y = np.load(run / "data" / "y_dev.npy")
    np.save(run / "data" / "y_dev.npy", y[::-1])
    with pytest.raises(RunError, match=r"y_dev\.npy' was changed since hpsearch wrote it"):
        resume_search(run, execution=Execution(workers=1))


def test_a_schema_2_run_written_before_confirm_babysit_and_metrics_existed_opens_and_migrates(tmp_path: Path) -> None:
    """``v2-early-run``: schema 2 as first released (no ``confirmations`` or ``decisions`` table, no
    ``trials.metrics``), which the version number alone took for the later schema 2 ("no such table")."""
    run = tmp_path / "v2-early-run"
    shutil.copytree(FIXTURES / "v2-early-run", run)
    before = (run / "run.sqlite").read_bytes()
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", str(run)])
    assert shown.exit_code == 0, shown.output
    assert "6/6 trials done" in shown.output and "pruned" in shown.output
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["export", str(run)]).output)))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok", "pruned"}
    assert (run / "run.sqlite").read_bytes() == before  # show and export migrate in memory only
    result = resume_search(run, execution=Execution(workers=1))  # nothing left to train: the records stand
    assert {(str(t.trial), t.status.value) for t in result.trials} == {(r["trial"], r["status"]) for r in rows}
    db = sqlite3.connect(run / "run.sqlite")
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    trial_columns = {row[1] for row in db.execute("PRAGMA table_info(trials)")}
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    assert {"confirmations", "decisions", "file_digests"} <= tables and "metrics" in trial_columns
    assert version == (str(SCHEMA_VERSION),)
    confirmed = runner.invoke(cli, ["confirm", str(run), "--top", "1", "--seeds", "2"])
    assert confirmed.exit_code == 0, confirmed.output
    assert list(csv.DictReader(io.StringIO(runner.invoke(cli, ["export", str(run)]).output)))[0]["confirm_n"] == "2"


def test_a_run_stored_before_search_zoom_existed_keeps_zooming_in_the_box(tmp_path: Path) -> None:
    """tpe became the default zoom; a run whose stored config has no search.zoom zoomed in the box, and still does."""
    from hpsearch.search.api import zoom_search

    run = tmp_path / "v2-run"
    shutil.copytree(FIXTURES / "v2-run", run)
    with RunStore.open(run, read_only=True) as store:
        assert "zoom" not in store.config["search"]
    result = zoom_search(run, top_k=2, trials=2, execution=Execution(workers=1))
    assert result.rounds[-1].kind == "zoom" and result.rounds[-1].sampler != "tpe"
    planned = zoom_search(run, top_k=2, trials=2, method="tpe", execution=Execution(workers=1))
    assert planned.rounds[-1].sampler == "tpe"
    refused = CliRunner().invoke(cli, ["zoom", str(run), "--method", "tpe", "--expand"])
    assert refused.exit_code == 2 and "--expand" in refused.stderr and "Traceback" not in refused.output


def test_list_names_the_trial_predict_uses_after_confirm(tmp_path: Path) -> None:
    """``v3-run`` was confirmed, and confirm's best (whose repeat models/best.npz holds) is not the leaderboard's
    first: list shows that trial, marked, as show and predict do."""
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "v3-run", runs / "v3-run")
    with RunStore.open(runs / "v3-run", read_only=True) as store:
        in_use, _ = store.best_model()
        leader = next(t.trial for t in rank(store.trials()) if t.status is TrialStatus.OK)
    assert in_use != leader  # the case: the fixture's confirmation reordered the top
    (summary,) = list_runs(runs)
    assert summary.best_trial == in_use and summary.confirmed
    listed = CliRunner().invoke(cli, ["list", "--runs-dir", str(runs)])
    assert f"{in_use} (confirmed)" in listed.output, listed.output
