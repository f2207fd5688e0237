"""Babysit where it meets the rest: kill -9 and SIGHUP, predict, confirm, tampered state, copied run folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.babysit.session import STATE_FILE, continue_babysit, start_babysit
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.config.overrides import single_model_config
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.test_babysit import Scripted, read_run

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "examples" / "penguins"
FOREVER = 1_000_000


def invoke(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def one_line_error(result) -> str:
    """The error of a refused command: one line, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file's content (SQLite's shared-memory files of a read-only reader aside)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


# ---------------------------------------------------------------------- kill -9, SIGHUP


def _babysit_process(path: Path, runs_dir: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "HPSEARCH_RUNS_DIR": str(runs_dir), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "babysit", str(path), "--epochs", str(FOREVER), "--name", name],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_epoch(process: subprocess.Popen, epoch: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    for line in process.stderr:  # PlainWatcher: one line per epoch ("epoch 3/1000000 ...")
        if line.startswith(f"epoch {epoch}/"):
            return
        assert time.monotonic() < deadline, "babysit never reached the epoch"
    pytest.fail(f"babysit ended before epoch {epoch}")


def _recorded_epochs(run_dir: Path) -> int:
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]


def _saved_epochs(run_dir: Path) -> int:
    with np.load(run_dir / STATE_FILE) as arrays:
        return json.loads(str(arrays["babysit"][()]))["epochs"]


def test_a_kill_9_mid_session_loses_at_most_one_epoch_and_continues_as_if_never_killed(
    tmp_path: Path, runs_dir: Path
) -> None:
    path = write_tiny_config(tmp_path, samples=120, extra="babysit: {patience: 1000000}\n")
    process = _babysit_process(path, runs_dir, "killed")
    try:
        _wait_for_epoch(process, 6)
        process.kill()  # SIGKILL: nothing runs on the way out
        process.wait(30)
    finally:
        process.kill()
    run_dir = runs_dir / "killed"
    recorded, saved = _recorded_epochs(run_dir), _saved_epochs(run_dir)
    assert recorded >= 6 and recorded - 1 <= saved <= recorded  # at most the epoch in progress is lost

    continued = continue_babysit(run_dir, epochs=2)
    total = saved + 2
    assert continued.record.epochs_run == total
    config = load_config(path)
    straight = start_babysit(
        config,
        single_model_config(config, {"epochs": FOREVER}),
        runs_dir=runs_dir,
        name="straight",
        watcher=Scripted({total: "s"}),
    )
    _, _, killed_history = read_run(run_dir)
    _, _, straight_history = read_run(straight.run_dir)
    assert killed_history == straight_history  # every epoch's J, bit for bit
    assert continued.record.dev_cost == straight.record.dev_cost


def test_closing_the_terminal_sighup_saves_and_stops_like_ctrl_c(tmp_path: Path, runs_dir: Path) -> None:
    path = write_tiny_config(tmp_path, samples=120, extra="babysit: {patience: 1000000}\n")
    process = _babysit_process(path, runs_dir, "hup")
    try:
        _wait_for_epoch(process, 3)
        process.send_signal(signal.SIGHUP)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "continue with: hpsearch babysit hup" in err
    record, decisions, history = read_run(runs_dir / "hup")
    assert (decisions[-1].action, decisions[-1].reason) == ("stop", "hangup")
    assert decisions[-1].epoch == record.epochs_run == len(history["dev_cost"]) == _saved_epochs(runs_dir / "hup")
    invoke("babysit", "--replay", "hup")


# ---------------------------------------------------------------------- predict


def test_predict_uses_a_babysat_model(tmp_path: Path, runs_dir: Path) -> None:
    for name in ("penguins-train.csv", "penguins-dev.csv"):
        shutil.copy(PENGUINS / name, tmp_path / name)
    config = tmp_path / "birds.yaml"
    config.write_text(
        "name: birds\n"
        "data: {path: penguins-train.csv, dev_path: penguins-dev.csv, label: species, drop: [year],"
        " missing: mean}\n"
        "model: {hidden_units: 8, epochs: 3, learning_rate: 0.01}\n"
    )
    invoke("babysit", str(config))
    record, _, _ = read_run(runs_dir / "birds-babysit")
    out = invoke("predict", "birds-babysit", str(tmp_path / "penguins-dev.csv"), "--out", str(tmp_path / "p.csv"))
    assert f"accuracy {record.dev_accuracy:.2%}" in out.stdout
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["row", "prediction"] and len(rows) > 10


# ---------------------------------------------------------------------- confirm, then babysit a trial


def test_babysitting_a_confirmed_trial_continues_its_own_run_not_a_repeat(tmp_path: Path, runs_dir: Path) -> None:
    path = write_tiny_config(tmp_path, trials=3, epochs=3, samples=120)
    invoke("run", str(path), "--quiet")
    invoke("confirm", "tiny", "--top", "1", "--seeds", "2", "--quiet")
    with RunStore.open(runs_dir / "tiny") as store:
        model_trial, _ = store.best_state()
        best = next(t for t in store.trials() if t.trial == model_trial)
        assert store.confirmed_model() is not None  # best-state.npz is a repeat's, with another seed
    invoke("babysit", "tiny", "--trial", str(best.trial), "--epochs", "1")
    record, decisions, history = read_run(runs_dir / f"tiny-trial-{best.trial}")
    assert history["dev_cost"][:3] == best.history["dev_cost"]  # the trial's own epochs, bit for bit
    assert record.seed == best.seed
    invoke("babysit", "--replay", f"tiny-trial-{best.trial}")


# ---------------------------------------------------------------------- files read back


@pytest.fixture
def babysat(tmp_path: Path, runs_dir: Path) -> Path:
    path = write_tiny_config(tmp_path, epochs=6, samples=120, extra="babysit: {patience: 2}\n")
    config = load_config(path)
    start_babysit(
        config, single_model_config(config, {}), runs_dir=runs_dir, name="bs", watcher=Scripted({2: "-", 3: "s"})
    )
    return runs_dir / "bs"


@pytest.mark.parametrize(
    "change, said",
    [
        ("action = 'explode'", "has action 'explode'"),
        ("reason = 'key x'", "has reason 'key x'"),
        ("learning_rate_after = 'fast'", "has learning_rate_after 'fast'"),
        ("rolled_back_to = 99", "rolls back to 99"),
    ],
)
def test_a_changed_decision_log_is_one_line_naming_the_file(babysat: Path, change: str, said: str) -> None:
    with sqlite3.connect(babysat / "run.sqlite") as db:
        db.execute(f"UPDATE decisions SET {change} WHERE seq = 0")
    for args in (("babysit", "--replay", "bs"), ("babysit", "bs")):
        line = one_line_error(invoke(*args, code=2))
        assert str(babysat / "run.sqlite") in line and said in line


def _rewrite_state(run_dir: Path, change) -> None:
    with np.load(run_dir / STATE_FILE) as stored:
        arrays = dict(stored)
    meta = json.loads(str(arrays["babysit"][()]))
    change(meta)
    arrays["babysit"] = np.array(json.dumps(meta))
    np.savez(run_dir / STATE_FILE, **arrays)
    with sqlite3.connect(run_dir / "run.sqlite") as db:  # as a run written before digests were kept: the values
        db.execute("DELETE FROM file_digests WHERE path = ?", (STATE_FILE,))  # themselves must then be checked
    db.close()


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda m: m.update(epochs=-3), "'epochs' is -3"),
        (lambda m: m.update(epochs="3"), "'epochs' is '3'"),
        (lambda m: m.pop("epochs"), "'epochs' is None"),
        (lambda m: m.update(since_best=1.5), "'since_best' is 1.5"),
        (lambda m: m.update(best_dev_cost="low"), "'best_dev_cost' is 'low'"),
    ],
)
def test_a_changed_state_file_is_one_line_naming_it(babysat: Path, change, said: str) -> None:
    _rewrite_state(babysat, change)
    line = one_line_error(invoke("babysit", "bs", code=2))
    assert str(babysat / STATE_FILE) in line and said in line


def test_replay_writes_nothing_into_the_run(babysat: Path) -> None:
    (babysat / STATE_FILE).unlink()  # replay needs only the record
    shutil.rmtree(babysat / "data")  # a run from before prepared arrays: prepared in memory, not written
    before = folder_digest(babysat)
    invoke("babysit", "--replay", "bs")
    assert folder_digest(babysat) == before


def test_a_symlinked_data_file_is_refused_before_it_is_read(tmp_path: Path, runs_dir: Path) -> None:
    invoke("run", str(write_tiny_config(tmp_path, trials=2, epochs=2, samples=120)), "--quiet")
    target = runs_dir / "tiny" / "data" / "X_dev.npy"
    target.unlink()
    target.symlink_to("/dev/zero")
    for args in (("babysit", "tiny", "--trial", "0"),):
        line = one_line_error(invoke(*args, code=2))
        assert "symlink" in line and str(target) in line


# ---------------------------------------------------------------------- copied run folders


def test_hints_name_the_folder_the_user_passes_not_the_run_stored_inside(babysat: Path, tmp_path: Path) -> None:
    shutil.copytree(babysat, babysat.parent / "copy")
    out = invoke("babysit", "copy", "--epochs", "1")
    assert "hpsearch babysit copy --epochs N" in out.stdout and "babysit bs " not in out.stdout
    line = one_line_error(invoke("babysit", "copy", code=2))
    assert "train more with: hpsearch babysit copy --epochs N" in line

    outside = tmp_path / "elsewhere" / "my run"
    shutil.copytree(babysat, outside)
    out = invoke("babysit", str(outside), "--epochs", "1")
    assert f"hpsearch babysit '{outside}' --epochs N" in " ".join(out.stdout.split())  # wrapped where it is long
