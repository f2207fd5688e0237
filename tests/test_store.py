"""The run store: records round-trip bit for bit, survive kill -9, one writer at a time,
run names never leave the runs folder."""

from __future__ import annotations

import math
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hpsearch.core.errors import RunError, RunLockedError
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.storage.catalog import list_runs, resolve_run
from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.run_names import default_runs_dir, new_run_dir, validate_run_name
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"name": "demo", "search": {"trials": 8, "seed": 7}, "space": {"learning_rate": {"low": 1e-4, "high": 0.1}}}
CONFIG_TEXT = "name: demo\nsearch:\n  trials: 8\n"


def make_store(runs_dir: Path, name: str = "demo", n_trials: int = 8) -> RunStore:
    """A new run with one round of ``n_trials`` trials."""
    store = RunStore.create(runs_dir / name, name=name, config=CONFIG, config_text=CONFIG_TEXT)
    store.add_round(RoundRecord(round=0, space=CONFIG["space"], n_trials=n_trials, sampler="random"))
    return store


def make_trial(
    trial: int, status: TrialStatus = TrialStatus.OK, dev_cost: float | None = None, **fields: Any
) -> TrialRecord:
    """A deterministic trial record: every field a function of the trial id."""
    failed = status is TrialStatus.FAILED
    values: dict[str, Any] = dict(
        trial=trial,
        round=0,
        index=trial,
        seed=1000 + trial,
        status=status,
        params={"learning_rate": 10.0 ** (-1 - trial / 7), "hidden": [8 + trial, 4]},
        dev_cost=None if failed else (dev_cost if dev_cost is not None else 1.0 / (trial + 1)),
        train_cost=None if failed else 0.5 / (trial + 1),
        dev_accuracy=None if failed else 0.5 + trial / 1000,
        epochs_run=0 if failed else 3,
        seconds=0.01 * trial,
        history={} if failed else {"dev_cost": [1.0 / (trial + e + 1) for e in range(3)]},
        error="ValueError: boom" if failed else None,
    )
    values.update(fields)
    return TrialRecord(**values)


def make_state(trial: int) -> dict[str, np.ndarray]:
    """Model weights that say which trial they belong to."""
    return {"W1": np.full((3, 2), float(trial)), "b1": np.arange(2) + trial}


def assert_identical(a: Any, b: Any) -> None:
    """Equal, with floats compared bit for bit (any NaN equals any NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b), (a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (a, b)
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    elif isinstance(a, TrialRecord):
        assert_identical(vars(a), vars(b))
    else:
        assert type(a) is type(b) and a == b, (a, b)


def spawn(code: str, *args: str) -> subprocess.Popen:
    """A Python child that can import hpsearch and this module; it says ``ready`` when it is."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    return child


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    with make_store(tmp_path / "runs") as s:
        yield s


class TestCreateAndOpen:
    def test_a_new_run_keeps_its_config_name_and_creation(self, tmp_path: Path):
        run_dir = tmp_path / "runs" / "demo"
        RunStore.create(run_dir, name="demo", config=CONFIG, config_text=CONFIG_TEXT).close()

        assert (run_dir / "config.yaml").read_text() == CONFIG_TEXT
        with RunStore.open(run_dir) as store:
            assert store.name == "demo"
            assert store.config == CONFIG
            assert store.created.tzinfo is not None
            assert store.rounds() == [] and store.trials() == []
        assert sorted(p.name for p in run_dir.parent.iterdir()) == ["demo"]  # no staging folder left

    def test_the_database_is_in_wal_mode(self, store: RunStore):
        db = sqlite3.connect(store.run_dir / RUN_DB)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.close()

    def test_create_refuses_a_folder_with_files_but_takes_an_empty_one(self, tmp_path: Path):
        taken = tmp_path / "taken"
        taken.mkdir()
        (taken / "notes.txt").write_text("mine")
        with pytest.raises(RunError, match="exists and is not an empty folder"):
            RunStore.create(taken, name="taken", config={}, config_text="")
        assert (taken / "notes.txt").read_text() == "mine"

        empty = tmp_path / "empty"
        empty.mkdir()
        RunStore.create(empty, name="empty", config={}, config_text="").close()
        assert (empty / RUN_DB).is_file()

    def test_opening_a_folder_that_is_not_a_run_says_so(self, tmp_path: Path):
        with pytest.raises(RunError, match=r"is not an hpsearch run \(no run.sqlite\)"):
            RunStore.open(tmp_path)
        assert not (tmp_path / RUN_DB).exists()

    def test_a_run_sqlite_that_is_not_a_database_is_a_run_error(self, tmp_path: Path):
        (tmp_path / RUN_DB).write_bytes(b"not a database" * 100)
        with pytest.raises(RunError, match="not a readable hpsearch run"):
            RunStore.open(tmp_path)

    def test_a_run_of_another_format_is_refused_with_the_version_that_made_it(self, store: RunStore):
        db = sqlite3.connect(store.run_dir / RUN_DB)
        with db:
            db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        db.close()
        with pytest.raises(
            RunError, match=f"has format 99, this hpsearch reads format {SCHEMA_VERSION} — use hpsearch"
        ):
            RunStore.open(store.run_dir)


class TestRounds:
    def test_rounds_come_back_by_number(self, tmp_path: Path):
        with RunStore.create(tmp_path / "r", name="r", config={}, config_text="") as store:
            zoom = RoundRecord(
                round=1,
                space={"lr": {"low": 0.1 + 0.2}},
                n_trials=4,
                sampler="quasi",
                kind="zoom",
                top_k=3,
                expand=True,
                first_trial=8,
            )
            first = RoundRecord(round=0, space={"lr": {"low": 1e-4}}, n_trials=8, sampler="random")
            store.add_round(zoom)
            store.add_round(first)
            assert store.rounds() == [first, zoom]

    def test_a_round_is_added_once(self, store: RunStore):
        with pytest.raises(RunError, match="already has round 0"):
            store.add_round(RoundRecord(round=0, space={}, n_trials=1, sampler="grid"))


class TestTrials:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        costs=st.lists(st.floats(), min_size=4, max_size=4),
        history=st.lists(st.floats(), max_size=5),
        learning_rate=st.floats(allow_nan=False),
        seed=st.integers(min_value=0, max_value=2**64 - 1),
    )
    @example(
        costs=[0.1 + 0.2, math.nan, -0.0, math.inf],
        history=[math.nan, -math.inf, 5e-324],
        learning_rate=0.1 + 0.2,
        seed=2**64 - 1,
    )
    def test_every_field_round_trips_bit_for_bit(self, store: RunStore, costs, history, learning_rate, seed):
        trial = len(store.done_trial_ids())
        dev, train, accuracy, seconds = costs
        rec = make_trial(
            trial,
            TrialStatus.DIVERGED,
            dev_cost=dev,
            train_cost=train,
            dev_accuracy=accuracy,
            seconds=seconds,
            seed=seed,
            params={"learning_rate": learning_rate, "activation": "relu"},
            history={"dev_cost": history, "train_cost": history[::-1]},
        )
        store.record_trial(rec)
        with RunStore.open(store.run_dir) as reader:  # from disk, not from a cache
            assert_identical(reader.trials()[-1], rec)

    def test_numpy_scalars_are_stored_as_plain_numbers(self, store: RunStore):
        store.record_trial(
            make_trial(
                0,
                seed=np.uint64(2**63 + 5),
                epochs_run=np.int64(3),
                params={"hidden_units": np.int64(16), "beta1": np.float64(0.9)},
                history={"dev_cost": np.array([0.5, 0.25])},
            )
        )
        (back,) = store.trials()
        assert_identical(back.params, {"hidden_units": 16, "beta1": 0.9})
        assert back.seed == 2**63 + 5 and back.epochs_run == 3
        assert_identical(back.history, {"dev_cost": [0.5, 0.25]})

    def test_a_failed_trial_keeps_its_error_and_no_results(self, store: RunStore):
        store.record_trial(make_trial(0, TrialStatus.FAILED))
        (back,) = store.trials()
        assert back.status is TrialStatus.FAILED and back.error == "ValueError: boom"
        assert (back.dev_cost, back.train_cost, back.dev_accuracy) == (None, None, None)

    def test_trials_come_back_by_id_and_by_round(self, store: RunStore):
        store.add_round(RoundRecord(round=1, space={}, n_trials=2, sampler="random", kind="zoom", first_trial=8))
        for trial, rnd in [(9, 1), (2, 0), (8, 1), (0, 0)]:
            store.record_trial(make_trial(trial, round=rnd))
        assert [t.trial for t in store.trials()] == [0, 2, 8, 9]
        assert [t.trial for t in store.trials(round=1)] == [8, 9]
        assert store.trials(round=5) == []

    def test_a_trial_of_an_unknown_round_is_refused(self, store: RunStore):
        with pytest.raises(RunError, match="belongs to round 3, which run 'demo' does not have"):
            store.record_trial(make_trial(0, round=3))
        assert store.trials() == []

    @pytest.mark.parametrize("status", [TrialStatus.OK, TrialStatus.DIVERGED])
    def test_a_trial_with_a_result_is_never_recorded_twice(self, store: RunStore, status: TrialStatus):
        store.record_trial(make_trial(0, status))
        with pytest.raises(RunError, match=f"already has a record of trial 0 \\({status.value}\\)"):
            store.record_trial(make_trial(0, TrialStatus.OK, dev_cost=0.001))
        store.record_trial(make_trial(1))  # the refused write left no transaction open
        with RunStore.open(store.run_dir) as reader:
            assert [(t.trial, t.status, t.dev_cost) for t in reader.trials()] == [
                (0, status, 1.0),
                (1, TrialStatus.OK, 0.5),
            ]

    def test_a_failed_trial_is_replaced_by_its_retry(self, store: RunStore):
        store.record_trial(make_trial(0, TrialStatus.FAILED))
        store.record_trial(make_trial(0, TrialStatus.FAILED, error="still failing"))
        store.record_trial(make_trial(0, TrialStatus.OK, dev_cost=0.125))
        (back,) = store.trials()
        assert (back.status, back.dev_cost, back.error) == (TrialStatus.OK, 0.125, None)

    def test_done_trial_ids_leave_out_failed_ones_only_for_a_retry(self, store: RunStore):
        store.record_trial(make_trial(0))
        store.record_trial(make_trial(1, TrialStatus.FAILED))
        store.record_trial(make_trial(3, TrialStatus.DIVERGED, dev_cost=math.nan))
        assert store.done_trial_ids() == {0, 1, 3}
        assert store.done_trial_ids(retry_failed=True) == {0, 3}


class TestBestModel:
    def test_no_model_until_one_is_saved(self, store: RunStore):
        assert store.best_model() is None

    def test_the_saved_model_loads_without_pickle_and_names_its_trial(self, store: RunStore):
        store.save_best_model(2, make_state(2))
        path = store.save_best_model(5, make_state(5))

        assert path == store.run_dir / "models" / "best.npz"
        assert store.best_model() == (5, path)
        with np.load(path, allow_pickle=False) as saved:
            assert sorted(saved.files) == ["W1", "b1"]
            np.testing.assert_array_equal(saved["W1"], make_state(5)["W1"])
            np.testing.assert_array_equal(saved["b1"], make_state(5)["b1"])
        assert sorted(p.name for p in path.parent.iterdir()) == ["best.npz"]

    def test_object_arrays_are_refused(self, store: RunStore):
        with pytest.raises(ValueError, match=r"\['meta'\] have object dtype"):
            store.save_best_model(0, {"W": np.ones(2), "meta": np.array([{"a": 1}], dtype=object)})
        assert store.best_model() is None

    def test_a_model_file_changed_by_hand_is_not_credited_to_a_trial(self, store: RunStore):
        path = store.save_best_model(1, make_state(1))
        np.savez(path, W1=np.zeros(3))
        with pytest.raises(RunError, match="is not a model this run saved"):
            store.best_model()


LOCK_HOLDER = """
import sys
from hpsearch.storage.run_store import RunStore
with RunStore.open(sys.argv[1]) as store, store.lock():
    print("ready", flush=True)
    sys.stdin.read()  # hold the lock until the parent closes stdin or kills us
"""


class TestLock:
    def test_a_second_process_is_refused_while_the_first_writes(self, store: RunStore):
        holder = spawn(LOCK_HOLDER, str(store.run_dir))
        try:
            with pytest.raises(
                RunLockedError,
                match=(
                    f"run 'demo' is in use by another hpsearch process \\(pid {holder.pid}\\) "
                    "— wait for it to finish or stop it"
                ),
            ):
                with store.lock():
                    pass
        finally:
            holder.kill()  # SIGKILL: the OS must release the lock
            holder.wait()
        with store.lock():
            store.record_trial(make_trial(0))
        assert store.done_trial_ids() == {0}

    def test_the_lock_is_released_at_the_end_of_the_block(self, store: RunStore):
        with store.lock():
            pass
        with store.lock():
            with RunStore.open(store.run_dir) as other, pytest.raises(RunLockedError):
                with other.lock():
                    pass


WRITER = """
import sys
from hpsearch.storage.run_store import RunStore
from test_store import make_state, make_trial
with RunStore.open(sys.argv[1]) as store, store.lock():
    trial = len(store.done_trial_ids())
    print("ready", flush=True)
    while True:
        store.record_trial(make_trial(trial, history={"dev_cost": [0.5 / (trial + 1)] * 300}))
        if trial % 3 == 0:
            store.save_best_model(trial, make_state(trial))
        trial += 1
"""


def test_a_writer_killed_at_any_moment_leaves_every_committed_trial(tmp_path: Path):
    with make_store(tmp_path, n_trials=10**5) as store:
        run_dir = store.run_dir
    rng = np.random.default_rng(5)
    counts = []
    for _ in range(5):
        writer = spawn(WRITER, str(run_dir))
        with pytest.raises(subprocess.TimeoutExpired):  # it writes until killed
            writer.wait(timeout=rng.uniform(0.02, 0.3))
        writer.send_signal(signal.SIGKILL)
        assert writer.wait() == -signal.SIGKILL

        db = sqlite3.connect(run_dir / RUN_DB)
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT COUNT(*) = COUNT(DISTINCT trial) FROM trials").fetchone() == (1,)
        db.close()
        with RunStore.open(run_dir) as reader:
            trials = reader.trials()
            assert [t.trial for t in trials] == list(range(len(trials)))
            for t in trials:
                assert_identical(t, make_trial(t.trial, history={"dev_cost": [0.5 / (t.trial + 1)] * 300}))
            best = reader.best_model()
            if best is not None:  # the file holds the weights of the trial it is credited to
                with np.load(best[1]) as saved:
                    np.testing.assert_array_equal(saved["W1"], make_state(best[0])["W1"])
        counts.append(len(trials))
    assert counts == sorted(counts) and counts[-1] > counts[0] > 0


INTERRUPTED_WRITER = """
import sys
from hpsearch.storage.run_store import RunStore
from test_store import make_trial
with RunStore.open(sys.argv[1]) as store, store.lock():
    print("ready", flush=True)
    try:
        while True:
            store.record_trial(make_trial(len(store.done_trial_ids())))
    except KeyboardInterrupt:  # Ctrl-C, wherever it landed
        store.record_trial(make_trial(len(store.done_trial_ids())))  # the store is still usable
"""


def test_ctrl_c_while_writing_leaves_no_half_record(tmp_path: Path):
    with make_store(tmp_path, n_trials=10**5) as store:
        run_dir = store.run_dir
    rng = np.random.default_rng(3)
    for _ in range(3):
        writer = spawn(INTERRUPTED_WRITER, str(run_dir))
        with pytest.raises(subprocess.TimeoutExpired):
            writer.wait(timeout=rng.uniform(0.02, 0.2))
        writer.send_signal(signal.SIGINT)
        assert writer.wait() == 0
    with RunStore.open(run_dir) as reader:
        trials = reader.trials()
    assert [t.trial for t in trials] == list(range(len(trials)))
    for t in trials:
        assert_identical(t, make_trial(t.trial))


class TestRunNames:
    @pytest.mark.parametrize("name", ["digits", "quickstart-2", "a.b_c-d", "0", "x" * 100])
    def test_legal_names(self, name: str):
        assert validate_run_name(name) == name

    @pytest.mark.parametrize(
        "name", ["", ".", "..", "../x", "/abs", "a/b", "a\\b", ".hidden", "-rf", "a b", "naïve", "x" * 101]
    )
    def test_names_that_could_escape_or_confuse_are_refused(self, name: str):
        with pytest.raises(RunError) as error:
            validate_run_name(name)
        message = str(error.value)
        assert repr(name) in message and "letters, digits, '.', '_' or '-'" in message and "\n" not in message

    def test_a_taken_name_gets_the_next_free_number(self, tmp_path: Path):
        runs = tmp_path / "runs"
        assert new_run_dir(runs, "digits") == runs / "digits"
        make_store(runs, "digits").close()
        (runs / "digits-2").mkdir()
        assert new_run_dir(runs, "digits") == runs / "digits-3"

    def test_a_numbered_name_stays_a_legal_name(self, tmp_path: Path):
        runs = tmp_path / "runs"
        (runs / ("x" * 100)).mkdir(parents=True)
        run_dir = new_run_dir(runs, "x" * 100)
        assert run_dir == runs / ("x" * 98 + "-2")
        assert validate_run_name(run_dir.name) == run_dir.name

    def test_a_symlink_counts_as_taken_even_when_it_points_nowhere(self, tmp_path: Path):
        runs = tmp_path / "runs"
        runs.mkdir()
        (runs / "x").symlink_to(tmp_path / "elsewhere")
        assert new_run_dir(runs, "x") == runs / "x-2"

    @pytest.mark.parametrize("name", ["../x", "/abs", "a/b", ""])
    def test_a_new_run_never_leaves_the_runs_folder(self, tmp_path: Path, name: str):
        with pytest.raises(RunError, match="invalid run name"):
            new_run_dir(tmp_path / "runs", name)

    def test_default_runs_dir_follows_the_environment(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
        monkeypatch.delenv("HPSEARCH_RUNS_DIR", raising=False)
        assert default_runs_dir() == Path("runs")
        monkeypatch.setenv("HPSEARCH_RUNS_DIR", str(tmp_path))
        assert default_runs_dir() == tmp_path


class TestResolveRun:
    def test_a_run_is_found_by_name_or_by_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        runs = tmp_path / "runs"
        make_store(runs, "digits").close()
        assert resolve_run("digits", runs) == runs / "digits"
        assert resolve_run(str(runs / "digits"), tmp_path / "other") == runs / "digits"
        monkeypatch.chdir(tmp_path)
        assert resolve_run("runs/digits", tmp_path / "other") == Path("runs/digits")

    def test_an_unknown_name_points_to_hpsearch_list(self, tmp_path: Path):
        runs = tmp_path / "runs"
        make_store(runs, "digits").close()
        hint = "did you mean 'digits'\\? — see hpsearch list"
        with pytest.raises(RunError, match=f"^no run named 'digts' in {re.escape(str(runs))}/ — {hint}$"):
            resolve_run("digts", runs)
        with pytest.raises(RunError, match=f"^no run named 'zzz' in {re.escape(str(runs))}/ — see hpsearch list$"):
            resolve_run("zzz", runs)

    def test_a_path_to_a_folder_that_is_not_a_run_says_so(self, tmp_path: Path):
        with pytest.raises(RunError, match="is not an hpsearch run"):
            resolve_run(str(tmp_path), tmp_path / "runs")
        with pytest.raises(RunError, match="no run folder at"):
            resolve_run(str(tmp_path / "missing"), tmp_path / "runs")


class TestListRuns:
    def test_each_run_is_summarized_and_other_folders_are_skipped(self, tmp_path: Path):
        runs = tmp_path / "runs"
        with make_store(runs, "a", n_trials=6) as a:
            a.add_round(RoundRecord(round=1, space={}, n_trials=4, sampler="random", kind="zoom", first_trial=6))
            records = [
                make_trial(0, dev_cost=0.30),
                make_trial(1, TrialStatus.DIVERGED, dev_cost=0.01),  # lower, but diverged
                make_trial(2, dev_cost=math.nan),
                make_trial(3, TrialStatus.FAILED),
                make_trial(4, dev_cost=0.25),
                make_trial(6, round=1, dev_cost=0.25),  # a tie goes to the lower id
            ]
            for rec in records:
                a.record_trial(rec)
        make_store(runs, "b").close()
        (runs / "notes").mkdir()
        (runs / "readme.txt").write_text("not a run")
        (runs / ".c.1234.creating").mkdir()  # a run being created
        (runs / ".c.1234.creating" / RUN_DB).write_bytes((runs / "b" / RUN_DB).read_bytes())

        summary_a, summary_b = sorted(list_runs(runs), key=lambda s: s.name)

        assert (summary_a.name, summary_a.path, summary_a.rounds) == ("a", runs / "a", 2)
        assert (summary_a.trials_done, summary_a.trials_planned) == (6, 10)
        assert (summary_a.best_trial, summary_a.best_dev_cost) == (4, 0.25)
        assert summary_a.best_trial == rank(records)[0].trial
        assert summary_a.status_counts == {"ok": 4, "pruned": 0, "diverged": 1, "failed": 1}
        assert (summary_b.trials_done, summary_b.trials_planned, summary_b.best_trial, summary_b.best_dev_cost) == (
            0,
            8,
            None,
            None,
        )
        assert summary_b.status_counts == {"ok": 0, "pruned": 0, "diverged": 0, "failed": 0}

    def test_runs_are_listed_oldest_first(self, tmp_path: Path):
        runs = tmp_path / "runs"
        for name, created in [("new", "2026-03-01T00:00:00+00:00"), ("old", "2025-01-01T00:00:00+00:00")]:
            make_store(runs, name).close()
            db = sqlite3.connect(runs / name / RUN_DB)
            with db:
                db.execute("UPDATE meta SET value = ? WHERE key = 'created'", (created,))
            db.close()
        assert [s.name for s in list_runs(runs)] == ["old", "new"]

    def test_a_run_in_the_middle_of_a_write_is_listed_as_last_committed(self, store: RunStore):
        store.record_trial(make_trial(0))
        writer = sqlite3.connect(store.run_dir / RUN_DB, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM trials")
        try:
            (summary,) = list_runs(store.run_dir.parent)
            assert summary.trials_done == 1
        finally:
            writer.execute("ROLLBACK")
            writer.close()

    def test_a_missing_runs_folder_has_no_runs(self, tmp_path: Path):
        assert list_runs(tmp_path / "nowhere") == []


def test_a_tracked_file_is_checked_against_its_digest(tmp_path: Path) -> None:
    """The babysit state (or any file the run reads back) is refused once its bytes differ; a checkpoint
    that differs is set aside with a note (the trial is trained again), never used."""
    import numpy as np

    from hpsearch.io.npz import npz_bytes

    notes = []
    with make_store(tmp_path / "runs") as store:
        store.note = notes.append
        store.write_tracked("", "babysit-state.npz", npz_bytes({"w": np.arange(3.0)}))
        assert store.read_tracked("babysit-state.npz")["w"].tolist() == [0.0, 1.0, 2.0]
        np.savez(store.run_dir / "babysit-state.npz", w=np.arange(3.0) * 2)
        with pytest.raises(RunError, match="babysit-state.npz' was changed since hpsearch wrote it"):
            store.read_tracked("babysit-state.npz")
        store.save_checkpoint(1, 2, {"W1": np.ones((2, 2))})
        store.save_checkpoint(2, 2, {"W1": np.zeros((2, 2))})
        folder = store.run_dir / "checkpoints"
        (folder / "trial-2-epoch-2.npz").write_bytes((folder / "trial-1-epoch-2.npz").read_bytes())
        assert store.load_checkpoint(1, 2)["W1"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
        assert store.load_checkpoint(2, 2) is None
        assert len(notes) == 1 and "trial-2-epoch-2.npz" in notes[0] and "trained again" in notes[0]
        # checkpoints are written without fsync: one a power loss left short is refused the same way
        (folder / "trial-1-epoch-2.npz").write_bytes((folder / "trial-1-epoch-2.npz").read_bytes()[:100])
        assert store.load_checkpoint(1, 2) is None and "trained again" in notes[-1]
        store.delete_checkpoints(2)
        assert store.recorded_digest("checkpoints/trial-2-epoch-2.npz") is None
