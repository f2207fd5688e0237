"""Older runs: opened once migrated, by any number of processes at once; read-only opens never write."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.core.errors import RunError
from hpsearch.storage.catalog import list_runs
from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.schema import SCHEMA_VERSION

V1_RUN = Path(__file__).parent / "fixtures" / "v1-run"


@pytest.fixture
def v1_run(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "v1-run"
    shutil.copytree(V1_RUN, run)
    return run


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_version(run: Path) -> int:
    with sqlite3.connect(f"file:{run / RUN_DB}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def test_a_read_only_open_of_a_schema_1_run_reads_it_migrated_and_leaves_the_file_unchanged(v1_run: Path) -> None:
    before = digest(v1_run / RUN_DB)
    with RunStore.open(v1_run, read_only=True) as store:
        assert len(store.trials()) == 9 and store.epoch_log(0)[0]["dev_cost"]
        with pytest.raises(RunError, match="cannot lock run .* open read-only"):
            with store.lock():
                pass
    assert [s.name for s in list_runs(v1_run.parent)] == ["v1-run"]
    runner = CliRunner()
    for command in (["show", str(v1_run)], ["export", str(v1_run)], ["importance", str(v1_run)]):
        assert runner.invoke(cli, command).exit_code == 0, command
    assert digest(v1_run / RUN_DB) == before and stored_version(v1_run) == 1


def test_a_writable_open_migrates_the_file_once(v1_run: Path) -> None:
    with RunStore.open(v1_run) as store:
        trials = store.trials()
    assert stored_version(v1_run) == SCHEMA_VERSION
    with RunStore.open(v1_run) as store:  # nothing left to migrate
        assert store.trials() == trials


def open_in_thread(run: Path, results: list, *, read_only: bool = False) -> threading.Thread:
    def open_it() -> None:
        try:
            with RunStore.open(run, read_only=read_only) as store:
                results.append(len(store.trials()))
        except Exception as error:  # noqa: BLE001 - the test reports what failed
            results.append(error)

    thread = threading.Thread(target=open_it)
    thread.start()
    return thread


def test_two_processes_opening_a_schema_1_run_at_once_both_succeed(v1_run: Path) -> None:
    # Another connection holds the write lock, so both openers have read the old version and wait for
    # the lock; when it is released, one migrates and the other must find nothing left to do.
    blocker = sqlite3.connect(v1_run / RUN_DB, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    results: list = []
    threads = [
        open_in_thread(v1_run, results),
        open_in_thread(v1_run, results),
        open_in_thread(v1_run, results, read_only=True),
    ]
    time.sleep(0.5)
    blocker.execute("ROLLBACK")
    blocker.close()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [9, 9, 9]
    assert stored_version(v1_run) == SCHEMA_VERSION


def test_many_opens_racing_on_a_schema_1_run_all_succeed(tmp_path: Path) -> None:
    for k in range(3):
        run = tmp_path / f"run{k}"
        shutil.copytree(V1_RUN, run)
        results: list = []
        barrier_threads = [open_in_thread(run, results, read_only=i % 2 == 1) for i in range(4)]
        for thread in barrier_threads:
            thread.join(timeout=60)
        assert results == [9] * 4
