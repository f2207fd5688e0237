"""Hostile own objectives: commands and functions that attack the search that runs them.

Each case runs the real ``hpsearch`` in a child process under a memory limit
and a time limit (``hostile_run``) and asserts that the search ends, in
bounded memory and time, with each bad trial failed with its reason, and
that no process it started outlives it.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from hpsearch.storage.run_store import RunStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, /proc and RLIMIT_AS")

HERE = Path(__file__).parent
MEMORY_LIMIT = 3 * 1024**3


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HPSEARCH_RUNS_DIR": str(tmp_path / "runs"), "PYTHONPATH": str(HERE.parent.parent), **extra}


def hostile_run(tmp_path: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``hpsearch ARGS`` in a child process under ``MEMORY_LIMIT`` and ``timeout`` seconds."""
    return subprocess.run(
        [sys.executable, "-m", "hpsearch", *args],
        cwd=tmp_path,
        env=child_env(tmp_path),
        preexec_fn=_limits,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(
    tmp_path: Path,
    objective: str,
    *,
    trials: int = 1,
    extra: str = "",
    space: str = "  x: {scale: uniform, low: 0, high: 1}\n",
    name: str = "obj",
) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        f"name: {name}\nobjective:\n{textwrap.indent(objective, '  ')}space:\n{space}"
        f"search:\n  trials: {trials}\n  seed: 1\n  workers: 1\n{extra}"
    )
    return config


def python_script(tmp_path: Path, code: str, name: str = "job.py") -> str:
    (tmp_path / name).write_text(textwrap.dedent(code))
    return name


def trials_of(tmp_path: Path, name: str = "obj"):
    with RunStore.open(tmp_path / "runs" / name) as store:
        return sorted(store.trials(), key=lambda t: t.trial)


def assert_clean(result: subprocess.CompletedProcess[str], exit_code: int = 0) -> None:
    """Exit ``exit_code`` (1: the search ran but no trial finished ok) and no traceback."""
    assert result.returncode == exit_code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]


# -- processes and time ---------------------------------------------------------------


def test_a_command_printing_without_pause_is_stopped_at_its_timeout_in_bounded_memory(tmp_path):
    # `yes` prints one report line after another, as fast as the pipe takes them
    config = write_config(tmp_path, 'command: ["yes", \'{{"loss": 0.5, "epoch": 1}}\']\nmetric: loss\ntimeout: 2\n')
    start = time.monotonic()
    result = hostile_run(tmp_path, "run", str(config), "-q", timeout=25)
    assert time.monotonic() - start < 20
    assert_clean(result, exit_code=1)  # its only trial failed
    [trial] = trials_of(tmp_path)
    assert trial.status.value == "failed" and trial.error.startswith("timed out after 2 s"), trial.error
    assert (tmp_path / "runs" / "obj" / "trials" / "0" / "stdout.log").stat().st_size < 11 * 1024**2


def test_a_line_without_a_newline_costs_linear_time(tmp_path):
    script = python_script(
        tmp_path,
        """
        import json, sys
        sys.stdout.write("{" + "x" * (64 * 1024 * 1024))  # 64 MB, no newline
        sys.stdout.write("\\n" + json.dumps({"loss": 0.25}) + "\\n")
    """,
    )
    config = write_config(tmp_path, f"command: [python, {script}]\nmetric: loss\n")
    start = time.monotonic()
    result = hostile_run(tmp_path, "run", str(config), "-q", timeout=25)
    assert time.monotonic() - start < 15
    assert_clean(result)
    [trial] = trials_of(tmp_path)
    assert trial.status.value == "ok" and trial.metrics["loss"] == 0.25


def _marked(marker: str) -> list[int]:
    """Every live process whose environment holds ``marker`` (an exact ``NAME=value`` entry)."""
    found = []
    needle = marker.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


BACKGROUND = """\
command: [sh, -c, "sleep 1001 & setsid sleep 1002 & sleep 1003"]
metric: loss
"""


@pytest.mark.parametrize("workers, moment", [(2, 0.7), (2, 1.2), (2, 2.5), (1, 1.2), (1, 2.5)])
def test_a_search_killed_during_start_up_leaves_no_process_alive(tmp_path, workers, moment):
    config = write_config(tmp_path, BACKGROUND, trials=4)
    marker = f"HPSEARCH_TEST_MARKER={uuid.uuid4().hex}"
    env = child_env(tmp_path, **dict([marker.split("=")]))
    search = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "run", str(config), "-q", "--workers", str(workers)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limits,
    )
    try:
        time.sleep(moment)
        search.kill()
        search.communicate(timeout=10)  # nothing the search started holds its stdout open
        deadline = time.monotonic() + 10
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked(marker) == [], "processes outlived their search"
    finally:
        for pid in _marked(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if search.poll() is None:
            search.kill()
            search.wait()


EXITS = """\
import sys, numpy as np

def train(params, trial):
    def generator_exit():
        raise GeneratorExit()
    def value_error():
        raise ValueError("bad width")
    how = [lambda: sys.exit(0), lambda: sys.exit(3), generator_exit, value_error,
           lambda: np.float32(0.25), lambda: np.array(0.5)]
    return how[trial.number]()
"""


def test_a_function_that_exits_or_returns_a_numpy_scalar_is_one_trial(tmp_path):
    (tmp_path / "exits.py").write_text(EXITS)
    config = write_config(tmp_path, "python: exits:train\nmetric: loss\n", trials=6)
    result = hostile_run(tmp_path, "run", str(config), "-q")
    assert_clean(result)
    trials = trials_of(tmp_path)
    assert [t.status.value for t in trials] == ["failed"] * 4 + ["ok"] * 2
    assert [t.error.split(" (")[0] for t in trials[:4]] == [
        "SystemExit: 0",
        "SystemExit: 3",
        "GeneratorExit",
        "ValueError: bad width",
    ]
    assert all(f"trials/{t.trial}/traceback.txt" in t.error for t in trials[:4]), [t.error for t in trials]
    traceback_text = (tmp_path / "runs" / "obj" / "trials" / "3" / "traceback.txt").read_text()
    assert "ValueError: bad width" in traceback_text and "exits.py" in traceback_text
    assert [t.metrics["loss"] for t in trials[4:]] == [pytest.approx(0.25), 0.5]


# -- values reported by own code --------------------------------------------------------

HUGE = "9" * 400


def test_huge_and_non_finite_numbers_in_reports_are_ignored_and_resume_works(tmp_path):
    script = python_script(
        tmp_path,
        f"""
        import sys
        print('{{"a": ' + "[" * 100000 + "]" * 100000 + "}}")   # deeper than the JSON parser goes: ignored
        print('{{"epoch": 1, "loss": 0.7, "other": {HUGE}}}')
        print('{{"epoch": Infinity, "loss": 0.6}}')
        print('{{"epoch": NaN, "loss": 0.6}}')
        print('{{"loss": ' + sys.argv[1] + ', "other": {HUGE}, "big": 1e999, "ok": 3}}')
    """,
    )
    config = write_config(
        tmp_path,
        f"command: [python, {script}, '{{v}}']\nmetric: loss\n",
        trials=2,
        space="  v: {choice: ['0.5', '" + HUGE + "']}\n",
        extra="  sampler: grid\n  early_stopping: {method: halving, min_epochs: 1, eta: 2, max_epochs: 4}\n",
    )
    assert_clean(hostile_run(tmp_path, "run", str(config), "-q"))
    by_value = {t.params["v"]: t for t in trials_of(tmp_path)}
    good, bad = by_value["0.5"], by_value[HUGE]
    assert good.status.value == "ok" and good.metrics == {"loss": 0.5, "ok": 3}, good
    assert bad.status.value == "failed" and "out of float range" in bad.error, bad.error
    for command in (["show", "obj"], ["export", "obj"], ["resume", "obj"]):
        assert_clean(hostile_run(tmp_path, *command))


def test_a_report_with_ten_thousand_keys_keeps_a_hundred_and_show_stays_fast(tmp_path):
    script = python_script(
        tmp_path,
        """
        import json
        print(json.dumps({"loss": 0.5, **{f"k{i:05d}": i for i in range(10000)}}))
    """,
    )
    config = write_config(tmp_path, f"command: [python, {script}]\nmetric: loss\n")
    assert_clean(hostile_run(tmp_path, "run", str(config), "-q"))
    [trial] = trials_of(tmp_path)
    assert trial.status.value == "ok" and len(trial.metrics) == 101 and trial.metrics["loss"] == 0.5
    start = time.monotonic()
    shown = hostile_run(tmp_path, "show", "obj")
    assert_clean(shown)
    assert time.monotonic() - start < 10


def test_a_missing_metric_says_what_was_printed(tmp_path):
    script = python_script(
        tmp_path,
        """
        print('{"val_loss": 0.5, "acc": 1}')
        print('{"epoch": 1, "acc": 1}')
    """,
    )
    config = write_config(tmp_path, f"command: [python, {script}]\nmetric: val_accuracy\n")
    assert_clean(hostile_run(tmp_path, "run", str(config), "-q"), exit_code=1)  # its only trial failed
    [trial] = trials_of(tmp_path)
    assert "reported no value of 'val_accuracy'" in trial.error
    assert "2 JSON lines" in trial.error and "val_loss, acc, epoch" in trial.error, trial.error


NAN_REPORTER = """\
import math

def train(params, trial):
    for epoch in range(1, 5):
        trial.report(epoch, loss=math.nan if params["x"] > 0.5 else params["x"], other=10 ** 400)
    return params["x"]
"""


def test_a_nan_metric_at_a_rung_is_pruned(tmp_path):
    (tmp_path / "nanny.py").write_text(NAN_REPORTER)
    config = write_config(
        tmp_path,
        "python: nanny:train\nmetric: loss\n",
        trials=6,
        extra="  early_stopping: {method: halving, min_epochs: 1, eta: 2, max_epochs: 4}\n",
    )
    assert_clean(hostile_run(tmp_path, "run", str(config), "-q"))
    for trial in trials_of(tmp_path):
        if trial.params["x"] > 0.5:
            assert trial.status.value == "pruned" and trial.epochs_run == 1, trial
        assert "other" not in trial.metrics
