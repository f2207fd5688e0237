"""A command as the objective: arguments, the JSON-lines protocol, failures, timeout, early stop, process hygiene."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from hpsearch.objectives.command import substitute
from hpsearch.objectives.evaluate import evaluate
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.pruning.rung_board import RungBoard

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")


def python_command(code: str, *args: str) -> tuple[str, ...]:
    """``python -c code args...`` as a template: the code's own braces escaped, ``args`` kept as placeholders."""
    return (sys.executable, "-c", textwrap.dedent(code).replace("{", "{{").replace("}", "}}"), *args)


def spec_for(command: tuple[str, ...], tmp_path: Path, **changes) -> ObjectiveSpec:
    return ObjectiveSpec(
        **{
            "kind": "command",
            "command": command,
            "python": None,
            "metric": "loss",
            "direction": "minimize",
            "timeout": 60.0,
            "base_dir": str(tmp_path),
            "grace": 5.0,
            **changes,
        }
    )


def run(spec: ObjectiveSpec, tmp_path: Path, params=None, **kwargs):
    return evaluate(spec, params or {}, seed=7, trial=3, trial_dir=tmp_path / "trial-3", **kwargs)


def wait_until(predicate, timeout: float = 20.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (a bound for a loaded machine, not a speed test)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def gone(pid: int) -> bool:
    """No live process has this pid (a zombie no one has reaped yet counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- arguments and environment --------------------------------------------------


def test_each_value_reaches_the_program_as_one_argument_and_runs_nothing(tmp_path):
    code = """
        import json, os, sys
        with open(os.path.join(os.environ["HPSEARCH_TRIAL_DIR"], "seen.json"), "w") as f:
            json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
                       "env": {k: v for k, v in os.environ.items() if k.startswith("HPSEARCH_")}}, f)
        print(json.dumps({"loss": 1.0}))
    """
    params = {"name": "a b; touch pwned", "sub": "$(touch pwned2)", "lr": 1e-05, "flag": True, "sizes": [64, 32]}
    spec = spec_for(
        python_command(code, "--name", "{name}", "{sub}", "--lr={lr}", "{flag}", "{sizes}", "{{literal}}"), tmp_path
    )
    result = run(spec, tmp_path, params)
    assert result.status == "ok", result.error
    seen = json.loads((tmp_path / "trial-3" / "seen.json").read_text())
    assert seen["argv"] == [
        "--name",
        "a b; touch pwned",
        "$(touch pwned2)",
        "--lr=1e-05",
        "true",
        "[64, 32]",
        "{literal}",
    ]
    assert not list(tmp_path.rglob("pwned*"))
    assert Path(seen["cwd"]) == tmp_path
    env = seen["env"]
    assert (env["HPSEARCH_TRIAL"], env["HPSEARCH_SEED"]) == ("3", "7")
    assert Path(env["HPSEARCH_TRIAL_DIR"]) == tmp_path / "trial-3"
    assert json.loads(env["HPSEARCH_PARAMS"]) == params


def test_a_placeholder_naming_no_parameter_is_a_failed_trial(tmp_path):
    result = run(spec_for((sys.executable, "{missing}"), tmp_path), tmp_path, {"lr": 0.1})
    assert result.status == "failed"
    assert "missing" in result.error


def test_substitute_fills_several_placeholders_in_one_argument():
    assert substitute(["--x={a},{b}", "plain"], {"a": 1, "b": "two words"}) == ["--x=1,two words", "plain"]


# -- the JSON-lines protocol ------------------------------------------------------


def test_the_last_json_line_holding_the_metric_wins_and_other_lines_are_ignored(tmp_path):
    code = """
        print("starting up")
        print("{not json")
        print("[1, 2]")
        print('{"epoch": 1, "loss": 3.0, "acc": 0.5}')
        print('{"epoch": 2, "loss": 2.5, "acc": 0.6}')
        print('{"loss": 2.0, "acc": 0.9, "note": "text", "params_m": 3}')
        print('{"other": 1}')
        print("done")
    """
    result = run(spec_for(python_command(code), tmp_path), tmp_path)
    assert result.status == "ok", result.error
    assert result.value == 2.0
    assert result.metrics == {"acc": 0.9, "params_m": 3}
    assert result.history == [{"epoch": 1, "loss": 3.0, "acc": 0.5}, {"epoch": 2, "loss": 2.5, "acc": 0.6}]
    log = (tmp_path / "trial-3" / "stdout.log").read_text()
    assert log.splitlines()[0] == "starting up" and log.splitlines()[-1] == "done"


def test_an_intermediate_report_is_the_result_when_nothing_follows(tmp_path):
    code = """
        for epoch in range(3):
            print('{"step": %d, "loss": %s}' % (epoch * 100, 1.0 / (epoch + 1)))
    """
    result = run(spec_for(python_command(code), tmp_path), tmp_path)
    assert result.status == "ok"
    assert result.value == pytest.approx(1 / 3)
    assert [h["step"] for h in result.history] == [0, 100, 200]


def test_a_missing_metric_fails_with_the_reason_and_the_last_line_of_stderr(tmp_path):
    code = """
        import sys
        print('{"los": 1.0}')
        print("warming up", file=sys.stderr)
        print("no validation set given", file=sys.stderr)
    """
    result = run(spec_for(python_command(code), tmp_path), tmp_path)
    assert result.status == "failed"
    assert "'loss'" in result.error and "no validation set given" in result.error
    assert "\n" not in result.error


def test_a_non_finite_metric_fails(tmp_path):
    result = run(spec_for(python_command("print('{\"loss\": NaN}')"), tmp_path), tmp_path)
    assert result.status == "failed"
    assert "not a finite number" in result.error


def test_a_non_zero_exit_fails_with_the_last_line_of_stderr_and_keeps_the_history(tmp_path):
    code = """
        import sys
        print('{"epoch": 1, "loss": 0.5}', flush=True)
        print('{"loss": 0.4}', flush=True)
        sys.stderr.write("Traceback ...\\nRuntimeError: CUDA out of memory\\n")
        sys.exit(3)
    """
    result = run(spec_for(python_command(code), tmp_path), tmp_path)
    assert result.status == "failed"
    assert result.error == "RuntimeError: CUDA out of memory (exit code 3)"
    assert result.history == [{"epoch": 1, "loss": 0.5}]
    assert "CUDA" in (tmp_path / "trial-3" / "stderr.log").read_text()


def test_a_program_that_does_not_exist_fails(tmp_path):
    result = run(spec_for(("no-such-program-hpsearch",), tmp_path), tmp_path)
    assert result.status == "failed"
    assert result.error.startswith("cannot run no-such-program-hpsearch")


# -- timeout, early stop and process hygiene ----------------------------------------

LONG_RUNNER = """
    import json, os, signal, sys, time
    if len(sys.argv) > 1 and sys.argv[1] == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(os.path.join(os.environ["HPSEARCH_TRIAL_DIR"], "pid"), "w") as f:
        f.write(str(os.getpid()))
    for epoch in range(1, 100000):
        print(json.dumps({"epoch": epoch, "loss": 5.0}), flush=True)
        time.sleep(0.05)
"""


def pid_of(trial_dir: Path) -> int:
    return int((trial_dir / "pid").read_text())


def test_a_command_past_its_timeout_fails_and_is_killed(tmp_path):
    result = run(spec_for(python_command(LONG_RUNNER), tmp_path, timeout=0.5), tmp_path)
    assert result.status == "failed"
    assert result.error == "timed out after 0.5 s"
    assert wait_until(lambda: gone(pid_of(tmp_path / "trial-3")))


def test_early_stopping_stops_a_command_that_reports_a_bad_value_at_a_rung(tmp_path):
    board_dir = tmp_path / "rungs"
    for trial, value in enumerate([0.1, 0.2, 0.3]):  # three trials already reached rung 2 with better values
        RungBoard(board_dir, [2, 4], eta=3, direction="minimize", trial=trial).should_stop(2, value)
    board = RungBoard(board_dir, [2, 4], eta=3, direction="minimize", trial=3)
    result = run(spec_for(python_command(LONG_RUNNER), tmp_path), tmp_path, should_stop=board.should_stop)
    assert result.status == "pruned"
    assert result.value == 5.0
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert wait_until(lambda: gone(pid_of(tmp_path / "trial-3")))


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    spec = spec_for(python_command(LONG_RUNNER, "stubborn"), tmp_path, grace=0.2)
    result = run(spec, tmp_path, should_stop=lambda epoch, value: epoch >= 1)
    assert result.status == "pruned"
    assert wait_until(lambda: gone(pid_of(tmp_path / "trial-3")))


SLEEPER = """
    import os, time
    with open(os.path.join(os.environ["HPSEARCH_TRIAL_DIR"], "pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)  # prints nothing: a closed stdout pipe would not end it
"""

DRIVER = """
import sys
from pathlib import Path
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.objectives.evaluate import evaluate
spec = ObjectiveSpec("command", tuple(sys.argv[3:]), None, "loss", "minimize", None, sys.argv[1])
evaluate(spec, {}, seed=0, trial=0, trial_dir=Path(sys.argv[2]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
@pytest.mark.parametrize("how", ["kill -9", "ctrl-c"])
def test_a_killed_or_interrupted_search_leaves_no_command_alive(tmp_path, how):
    trial_dir = tmp_path / "trial-0"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path), str(trial_dir), *python_command(SLEEPER)])
    try:
        assert wait_until(lambda: (trial_dir / "pid").exists() and (trial_dir / "pid").read_text() != "")
        pid = pid_of(trial_dir)
        assert not gone(pid)
        assert psutil.Process(pid).ppid() == driver.pid
        driver.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
        driver.wait(timeout=30)
        assert wait_until(lambda: gone(pid)), f"the command outlived its search ({how})"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


def test_a_bare_python_runs_on_hpsearchs_own_interpreter():
    from hpsearch.objectives.command import with_this_python

    # so `.venv/bin/hpsearch run` finds the packages installed beside it, with no venv activated
    assert with_this_python(["python", "train.py", "--lr", "0.1"]) == [sys.executable, "train.py", "--lr", "0.1"]
    assert with_this_python(["python3", "-c", "x"])[0] == sys.executable
    assert with_this_python(["/usr/bin/python3", "t.py"]) == ["/usr/bin/python3", "t.py"]  # a path is kept
    assert with_this_python(["pythonista"]) == ["pythonista"]


def test_a_symlink_planted_as_a_trial_log_is_never_written_through(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (tmp_path / "trial-3").mkdir()
    (tmp_path / "trial-3" / "stdout.log").symlink_to(precious)
    result = run(spec_for(python_command("print('{\"loss\": 1}')"), tmp_path), tmp_path)
    assert result.status == "failed" and "symlink" in result.error
    assert precious.read_text() == "keep me"


def test_a_missing_metric_says_how_many_json_lines_and_which_keys(tmp_path):
    silent = run(spec_for(python_command("print('hello')"), tmp_path), tmp_path)
    assert silent.error == "reported no value of 'loss': no JSON object line was printed"
    other = run(spec_for(python_command('print(\'{"acc": 1, "epoch": 2}\')'), tmp_path), tmp_path)
    assert other.error == "reported no value of 'loss': 1 JSON line seen, with keys acc, epoch"


def test_lines_past_the_limit_are_skipped_in_linear_time_and_counted():
    from hpsearch.objectives.command import _Lines

    lines = _Lines(limit=10)
    assert lines.feed(b"short\n0123456789AB") == [b"short"]
    assert lines.feed(b"CDEF" * 1000 + b"\nnext\nlast") == [b"next"]
    assert lines.end() == [b"last"] and lines.skipped == 1


def test_a_symlink_where_the_trial_folder_should_be_fails_the_trial_and_writes_nothing_there(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "trial-3").symlink_to(elsewhere)
    result = run(spec_for(python_command("print('{\"loss\": 1}')"), tmp_path), tmp_path)
    assert result.status == "failed" and "symlink" in result.error
    assert list(elsewhere.iterdir()) == []


def test_stdout_log_stops_at_its_limit(tmp_path, monkeypatch):
    import hpsearch.objectives.command as command_objective

    monkeypatch.setattr(command_objective, "MAX_LOG_BYTES", 1000)
    code = "import json; print('x' * 5000); print(json.dumps({'loss': 1}))"
    result = run(spec_for(python_command(code), tmp_path), tmp_path)
    assert result.status == "ok"
    log = (tmp_path / "trial-3" / "stdout.log").read_bytes()
    assert log.startswith(b"x" * 1000) and b"stdout.log stops at 1,000 bytes; 4,013 more bytes" in log
