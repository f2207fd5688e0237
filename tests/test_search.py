"""Search runs: reproducible whatever the workers or interruptions, crash-safe, failures kept."""

from __future__ import annotations

import math
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from numpy.lib import format as npy_format

import hpsearch.execution.dask_cluster
import hpsearch.execution.segments
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.core.records import TrialStatus
from hpsearch.search.api import Execution, resume_search, start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.kill_resume import fingerprint, record_count, start_cli, training_workers, wait_for


def test_same_trials_and_costs_whatever_the_workers(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=6, extra="  rounds: 2\n  zoom_trials: 3\n  top_k: 2\n"))
    one = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(config, runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert len(one.trials) == 9 and len(one.rounds) == 2
    assert fingerprint(one.run_dir) == fingerprint(two.run_dir)


def _ctrl_c_at(monkeypatch: pytest.MonkeyPatch, module: object, name: str, call: int) -> None:
    """Ctrl-C, as the terminal sends it, on the ``call``-th call of ``module.name`` (and only then)."""
    real = getattr(module, name)
    calls = []

    def then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, then_ctrl_c)


@pytest.mark.parametrize(
    "module, name, call",
    [
        (npy_format, "write_array", 3),  # writing the run's prepared data
        # closing a member of the best model's zip: the moment that was a ValueError traceback and exit 1
        (zipfile._ZipWriteFile, "close", 5),  # the first save of the best model
        (zipfile._ZipWriteFile, "close", 30),  # a later save
        (hpsearch.execution.segments, "start", 3),  # training the third trial
    ],
    ids=["preparing-data", "first-best-model", "later-best-model", "training"],
)
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(
    tmp_path: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch, module: object, name: str, call: int
) -> None:
    """Ctrl-C at each kind of moment of a search (sent at a chosen call, so the test never depends on when a
    signal happens to arrive): exit 130, no traceback, and the run resumes to what an uninterrupted run gives."""
    config_path = write_tiny_config(tmp_path, trials=6, epochs=3)
    straight = start_search(load_config(config_path), runs_dir=tmp_path / "straight", execution=Execution(workers=1))
    _ctrl_c_at(monkeypatch, module, name, call)
    stopped = CliRunner().invoke(cli, ["run", str(config_path), "-q", "-w", "1"])
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert stopped.exit_code == 130, stopped.output
    assert "Traceback" not in stopped.output and isinstance(stopped.exception, SystemExit)
    run_dir = runs_dir / "tiny"
    assert "hpsearch resume tiny" in stopped.stderr
    assert 0 <= record_count(run_dir) < 6
    resume_search(run_dir)
    assert fingerprint(run_dir) == fingerprint(straight.run_dir)
    with RunStore.open(run_dir) as store:
        assert store.best_model()[0] == straight.best.trial


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_start = hpsearch.execution.segments.start

    def flaky_start(config, data, **options):
        if config.batch_size == 16:
            raise RuntimeError("simulated out of memory\nsecond line")
        return real_start(config, data, **options)

    monkeypatch.setattr(hpsearch.execution.segments, "start", flaky_start)
    config = load_config(write_tiny_config(tmp_path, trials=8))
    result = start_search(config, runs_dir=tmp_path / "runs", execution=Execution(workers=1))
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    ok = [t for t in result.trials if t.status is TrialStatus.OK]
    assert failed and ok and len(failed) + len(ok) == 8
    assert all(t.error == "RuntimeError: simulated out of memory" for t in failed)
    assert result.trials[: len(ok)] == sorted(ok, key=lambda t: t.dev_cost)  # failed ranked last

    # failed trials are retried only when asked
    monkeypatch.setattr(hpsearch.execution.segments, "start", real_start)
    assert len([t for t in resume_search(result.run_dir).trials if t.status is TrialStatus.FAILED]) == len(failed)
    retried = resume_search(result.run_dir, retry_failed=True)
    assert all(t.status is TrialStatus.OK for t in retried.trials) and len(retried.trials) == 8


def test_a_diverging_trial_is_kept_and_ranked_after_ok_ones(tmp_path: Path) -> None:
    path = tmp_path / "div.yaml"
    path.write_text(
        "data: {dataset: blobs, samples: 200, classes: 3, features: 4}\n"
        "model: {batchnorm: false, optimizer: gd, epochs: 30, layers: 2, hidden_units: 32}\n"
        "space:\n  learning_rate: {choice: [0.05, 50.0]}\n"
        "search: {sampler: grid, workers: 1}\n"
    )
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    statuses = [t.status for t in result.trials]
    assert statuses == [TrialStatus.OK, TrialStatus.DIVERGED]
    assert result.trials[1].params["learning_rate"] == 50.0


def test_a_second_process_on_the_same_run_is_refused(tmp_path: Path, runs_dir: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=2, epochs=1))
    result = start_search(config, runs_dir=runs_dir)
    with RunStore.open(result.run_dir) as store, store.lock():
        refused = CliRunner().invoke(cli, ["resume", "tiny"])
    assert refused.exit_code == 2
    assert "in use" in refused.stderr and "Traceback" not in refused.output
    assert CliRunner().invoke(cli, ["resume", "tiny", "-q"]).exit_code == 0  # free again


def test_dask_cluster_gives_the_same_trials_as_loky(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    config = load_config(write_tiny_config(tmp_path, trials=5))
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
    assert fingerprint(dask.run_dir) == fingerprint(loky.run_dir)
    assert all(math.isfinite(t.dev_cost) for t in dask.trials)


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path: Path, runs_dir: Path, monkeypatch) -> None:
    pytest.importorskip("dask.distributed")  # without it the one-line error says dask is missing instead
    monkeypatch.setattr(hpsearch.execution.dask_cluster, "DASK_CONNECT_TIMEOUT_S", 1.0)
    config = write_tiny_config(tmp_path, trials=2)
    result = CliRunner().invoke(cli, ["run", str(config), "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "scheduler" in result.stderr and "Traceback" not in result.output


def test_automatic_rounds_stop_when_no_trial_finished_ok(tmp_path: Path) -> None:
    path = tmp_path / "div.yaml"
    path.write_text(
        "data: {dataset: blobs, samples: 200, classes: 3, features: 4}\n"
        "model: {batchnorm: false, optimizer: gd, epochs: 20, layers: 2, hidden_units: 32}\n"
        "space:\n  learning_rate: {scale: log, low: 100, high: 1000}\n"
        "search: {trials: 3, rounds: 3, workers: 1}\n"
    )
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    assert len(result.rounds) == 1 and result.best is None
    assert all(t.status is TrialStatus.DIVERGED for t in result.trials)


def test_a_killed_worker_stops_the_search_with_a_resume_hint(tmp_path: Path) -> None:
    pytest.importorskip("psutil")
    config_path = write_tiny_config(tmp_path, trials=30, epochs=20, samples=2000)
    runs = tmp_path / "runs"
    proc = start_cli(["run", str(config_path), "-w", "2", "-q"], runs)
    wait_for(lambda: record_count(runs / "tiny"), 2, proc)
    workers = training_workers(proc.pid)
    assert workers, "no worker found"
    workers[0].kill()  # as the OOM killer would
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "worker process died" in err and "hpsearch resume tiny" in err and "Traceback" not in err
    assert len(resume_search(runs / "tiny", execution=Execution(workers=2)).trials) == 30


def test_resume_with_its_data_gone_trains_on_the_prepared_copy(tmp_path: Path, runs_dir: Path) -> None:
    data = tmp_path / "points.npz"
    rng = __import__("numpy").random.default_rng(0)
    __import__("numpy").savez(data, X=rng.normal(size=(60, 2)), y=rng.integers(0, 2, size=60))
    path = tmp_path / "file.yaml"
    path.write_text("data: {path: points.npz}\nmodel: {epochs: 1}\nsearch: {trials: 3, workers: 1}\n")
    result = start_search(load_config(path), runs_dir=runs_dir)
    data.unlink()
    resumed = CliRunner().invoke(cli, ["resume", "file", "--retry-failed", "-q"])
    assert resumed.exit_code == 0, resumed.output
    assert "points.npz: the data file is gone" in CliRunner().invoke(cli, ["show", "file"]).stdout
    # A run without a prepared copy (made by an older hpsearch) still needs its file: a clear error, nothing recorded.
    __import__("shutil").rmtree(result.run_dir / "data")
    refused = CliRunner().invoke(cli, ["resume", "file", "--retry-failed"])
    assert refused.exit_code == 2 and "points.npz" in refused.stderr
    with RunStore.open(result.run_dir) as store:
        assert [t.status for t in store.trials()] == [TrialStatus.OK] * 3


def test_workers_exit_when_the_search_process_is_killed(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    config_path = write_tiny_config(tmp_path, trials=30, epochs=20, samples=2000)
    runs = tmp_path / "runs"
    proc = start_cli(["run", str(config_path), "-w", "2", "-q"], runs)
    wait_for(lambda: record_count(runs / "tiny"), 2, proc)
    workers = training_workers(proc.pid)
    assert workers, "no worker found"
    semaphores = lambda: list(Path("/dev/shm").glob(f"sem.loky-{proc.pid}-*"))  # noqa: E731 (forked workers: none)
    proc.kill()  # the search process alone, as kill -9 PID does: its workers are not signalled
    proc.wait()
    deadline = time.monotonic() + 15
    while any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers):
        assert time.monotonic() < deadline, "workers outlived the search process"
        time.sleep(0.1)
    while semaphores():  # nor do its semaphores stay in shared memory (the watcher removes them)
        assert time.monotonic() < deadline, f"left in /dev/shm: {semaphores()}"
        time.sleep(0.1)
    assert len(resume_search(runs / "tiny", execution=Execution(workers=2)).trials) == 30


def test_a_run_whose_database_is_deleted_meanwhile_is_reported_lost(tmp_path: Path) -> None:
    from hpsearch.core.errors import RunError

    class DeleteOnFirstTrial:
        def round_started(self, rnd, pending, label):
            pass

        def trial_finished(self, record, best):
            (tmp_path / "runs" / "tiny" / "run.sqlite").unlink(missing_ok=True)

        def note(self, message):
            pass

        def run_opened(self, trials):
            pass

    config = load_config(write_tiny_config(tmp_path, trials=3))
    with pytest.raises(RunError, match="deleted or replaced .* results of run 'tiny' are lost"):
        start_search(config, runs_dir=tmp_path / "runs", reporter=DeleteOnFirstTrial())


def test_an_address_that_is_not_a_dask_scheduler_is_a_clear_error_and_leaves_no_run(
    tmp_path: Path, runs_dir: Path, monkeypatch
) -> None:
    pytest.importorskip("dask.distributed")
    import socketserver
    import threading

    done = threading.Event()

    class Http(socketserver.BaseRequestHandler):
        def handle(self) -> None:  # answers like a web server, never like a dask scheduler
            self.request.recv(1024)
            self.request.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            done.wait(30)

    # Every socket is closed before the test ends (handlers released, threads joined by server_close):
    # a socket left to the garbage collector raised a ResourceWarning inside whichever test ran next.
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Http)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(hpsearch.execution.dask_cluster, "DASK_CONNECT_TIMEOUT_S", 1.0)
    try:
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
        result = CliRunner().invoke(
            cli, ["run", str(write_tiny_config(tmp_path, trials=2)), "--backend", "dask", "--scheduler", address]
        )
    finally:
        done.set()
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2 and "dask scheduler" in result.stderr and "Traceback" not in result.output
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_a_name_taken_by_another_process_while_the_run_is_made_goes_to_the_next_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race, made to happen: another process creates ``tiny`` after this one found it free."""
    real_create = RunStore.create.__func__
    raced = []

    def another_process_first(cls, run_dir, **kwargs):
        if not raced:
            raced.append(run_dir)
            real_create(cls, run_dir, **kwargs).close()  # the other search took the folder first
        return real_create(cls, run_dir, **kwargs)

    monkeypatch.setattr(RunStore, "create", classmethod(another_process_first))
    config = load_config(write_tiny_config(tmp_path, trials=1, epochs=1))
    result = start_search(config, runs_dir=tmp_path / "runs")
    assert raced == [tmp_path / "runs" / "tiny"] and result.run_dir == tmp_path / "runs" / "tiny-2"


def _search_after(barrier, config_path: Path, runs: Path) -> None:
    barrier.wait()
    start_search(load_config(config_path), runs_dir=runs, execution=Execution(workers=1))


def test_six_searches_of_one_config_started_together_each_get_their_own_run(tmp_path: Path) -> None:
    import multiprocessing

    config_path = write_tiny_config(tmp_path, trials=1, epochs=1)
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(6)
    processes = [fork.Process(target=_search_after, args=(barrier, config_path, tmp_path / "runs")) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * 6
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(
        ["tiny", *(f"tiny-{k}" for k in range(2, 7))]
    )
