"""A command as the objective: one subprocess per trial, JSON lines on stdout as its reports.

The protocol:

- The argv template is filled in argument by argument: ``{name}`` becomes the
  trial's value (text as is, anything else as JSON: ``0.001``, ``true``,
  ``[64, 32]``). No shell is run, so a value with spaces or ``;`` is one
  argument and runs nothing.
- The command runs in ``spec.base_dir`` with ``HPSEARCH_TRIAL``,
  ``HPSEARCH_SEED``, ``HPSEARCH_TRIAL_DIR`` and ``HPSEARCH_PARAMS`` (the
  parameters as JSON) in its environment.
- Each stdout line that is a JSON object is a report, read as it comes; stdout
  and stderr are also written to ``stdout.log`` and ``stderr.log`` in the
  trial folder.

Process hygiene: each command is the leader of its own process group (a new
session, so a terminal's Ctrl-C does not reach it directly) and, on Linux, is
sent SIGKILL by the kernel when the thread that started it dies
(``PR_SET_PDEATHSIG``), so a kill -9 of the search or of its worker leaves no
orphan. On timeout, early stop, KeyboardInterrupt, or when the command exits,
the whole group gets SIGTERM (when stopped early), then SIGKILL after the
grace period, and is reaped.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import signal
import string
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hpsearch.objective import (
    ObjectiveResult,
    ObjectiveSpec,
    StopRule,
    finite_metric,
    one_line,
    report_epoch,
    result_from_reports,
)

_PR_SET_PDEATHSIG = 1
_EXITED = object()  # queue marker: the command's leader exited
_EOF = object()  # queue marker: stdout is closed


def format_argument(value: Any) -> str:
    """A parameter value as one argument: text as is, anything else as JSON (``1e-05``, ``true``, ``[64, 32]``)."""
    return value if isinstance(value, str) else json.dumps(value)


def substitute(template: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    """The argv of one trial: each ``{name}`` of each argument replaced by its value.

    ``{{`` and ``}}`` are literal braces. A placeholder that names no parameter raises KeyError.
    """
    argv = []
    for arg in template:
        parts = []
        for literal, name, _, _ in string.Formatter().parse(arg):
            parts.append(literal)
            if name is not None:
                parts.append(format_argument(params[name]))
        argv.append("".join(parts))
    return argv


def trial_environment(params: Mapping[str, Any], *, seed: int, trial: int, trial_dir: Path) -> dict[str, str]:
    """The command's environment: this process's, plus the trial's ``HPSEARCH_*`` variables."""
    return {
        **os.environ,
        "HPSEARCH_TRIAL": str(trial),
        "HPSEARCH_SEED": str(seed),
        "HPSEARCH_TRIAL_DIR": str(trial_dir),
        "HPSEARCH_PARAMS": json.dumps(dict(params), sort_keys=True),
    }


def run_command(spec: ObjectiveSpec, params: Mapping[str, Any], *, seed: int, trial: int, trial_dir: Path,
                should_stop: StopRule | None = None) -> ObjectiveResult:
    """Run one trial's command to its end, its timeout, or an early stop; see the module docstring.

    Raises only for a trial that cannot start for a reason of its own making
    (the caller, ``evaluate``, turns that into a failed trial) and re-raises
    KeyboardInterrupt after killing the command's process group.
    """
    assert spec.command is not None
    trial_dir.mkdir(parents=True, exist_ok=True)
    argv = substitute(spec.command, params)
    env = trial_environment(params, seed=seed, trial=trial, trial_dir=trial_dir)
    start = time.perf_counter()
    deadline = start + spec.timeout if spec.timeout is not None else None
    with open(trial_dir / "stdout.log", "wb") as out, open(trial_dir / "stderr.log", "wb") as err:
        try:
            proc = subprocess.Popen(
                argv, cwd=spec.base_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True, preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,
            )
        except OSError as exc:
            return result_from_reports([], spec.metric, seconds=time.perf_counter() - start,
                                       failure=f"cannot run {argv[0]}: {exc.strerror or exc}")
        reports: list[dict[str, Any]] = []
        ending = None  # "timeout" | "stopped" | None
        try:
            ending = _follow(proc, out, reports, spec.metric, deadline, should_stop)
        except BaseException:
            _kill_group(proc, spec.grace, polite=True)
            raise
        _kill_group(proc, spec.grace, polite=ending is not None)
    seconds = time.perf_counter() - start
    if ending == "timeout":
        return result_from_reports(reports, spec.metric, seconds=seconds, failure=f"timed out after {spec.timeout:g} s")
    if ending == "stopped":
        return result_from_reports(reports, spec.metric, seconds=seconds, pruned=True)
    if proc.returncode != 0:
        return result_from_reports(reports, spec.metric, seconds=seconds, failure=_exit_reason(proc.returncode, trial_dir))
    result = result_from_reports(reports, spec.metric, seconds=seconds)
    if result.status == "failed" and not any(spec.metric in r for r in reports):
        last = _last_line(trial_dir / "stderr.log")
        if last:
            result = result_from_reports(reports, spec.metric, seconds=seconds,
                                         failure=f"{result.error} (stderr: {last})")
    return result


def _follow(proc: subprocess.Popen[bytes], out: IO[bytes], reports: list[dict[str, Any]], metric: str,
            deadline: float | None, should_stop: StopRule | None) -> str | None:
    """Read the command's stdout as it comes until it ends; returns why it was cut short, if it was."""
    lines: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    threading.Thread(target=lambda: (proc.wait(), lines.put(_EXITED)), daemon=True).start()
    exited = False
    while True:
        timeout = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        try:
            item = lines.get(timeout=timeout)
        except queue.Empty:
            return "timeout"
        if item is _EOF:
            return None
        if item is _EXITED:
            if not exited:
                exited = True
                # The leader is gone: whatever it left behind in its group holds
                # stdout open no longer. What it wrote is still read to the end.
                _signal_group(proc.pid, signal.SIGKILL)
            continue
        out.write(item)
        report = _parse_report(item)
        if report is None:
            continue
        reports.append(report)
        epoch = report_epoch(report)
        value = finite_metric(report, metric)
        # A report read after the command exited still reaches the rung board, but
        # cannot stop a trial that has already finished.
        if should_stop is not None and epoch is not None and value is not None:
            if should_stop(int(epoch), value) and not exited:
                return "stopped"


def _read_lines(stream: IO[bytes] | None, lines: queue.Queue[Any]) -> None:
    assert stream is not None
    with stream:
        for line in stream:
            lines.put(line)
    lines.put(_EOF)


def _parse_report(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None for any other line."""
    text = line.strip()
    if not text.startswith(b"{"):
        return None
    try:
        report = json.loads(text)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _die_with_parent(parent: int) -> Any:
    """A preexec_fn: the kernel sends the child SIGKILL when the thread that started it dies (Linux)."""

    def preexec() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before prctl: nobody will send the signal
            os._exit(1)

    return preexec


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(proc: subprocess.Popen[bytes], grace: float, *, polite: bool) -> None:
    """End the command's whole process group and reap its leader.

    ``polite``: SIGTERM first and up to ``grace`` seconds for the leader to
    exit; then SIGKILL to whatever of the group is left.
    """
    if polite and proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _exit_reason(returncode: int, trial_dir: Path) -> str:
    """A failed command's one-line reason: how it ended and the last line of its stderr."""
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    last = _last_line(trial_dir / "stderr.log")
    return f"{last} ({how})" if last else how


def _last_line(path: Path, tail: int = 4096) -> str:
    """The last non-empty line of a file, read from its last ``tail`` bytes."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - tail, 0))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return one_line(lines[-1]) if lines else ""
