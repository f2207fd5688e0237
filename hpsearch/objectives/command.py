"""A command as the objective: one subprocess per trial, JSON lines on stdout as its reports.

The protocol:

- The argv template is filled in argument by argument: ``{name}`` becomes the
  trial's value (text as is, anything else as JSON: ``0.001``, ``true``,
  ``[64, 32]``). No shell is run, so a value with spaces or ``;`` is one
  argument and runs nothing. An argument ``{args}`` becomes one argument
  ``--name=value`` per parameter the trial has, in name order (W&B's
  ``${args}``): a conditional parameter inactive in a trial is simply not
  there, which a plain ``{name}`` could not do (the config refuses it).
- The command runs in ``spec.base_dir`` with ``HPSEARCH_TRIAL``,
  ``HPSEARCH_SEED``, ``HPSEARCH_TRIAL_DIR`` and ``HPSEARCH_PARAMS`` (the
  parameters as JSON) in its environment.
- Each stdout line that is a JSON object is a report, read as it comes; stdout
  and stderr are also written to ``stdout.log`` and ``stderr.log`` in the
  trial folder. Within limits (``hpsearch.core.limits``): a line over
  ``MAX_LINE_BYTES`` is skipped, in linear time; only what the result needs
  of the reports is kept (``objective.Reports``); ``stdout.log`` stops at
  ``MAX_LOG_BYTES``. The timeout is checked before every read.

Process hygiene: each command is the leader of its own process group (a new
session, so a terminal's Ctrl-C does not reach it directly) and, on Linux, is
sent SIGKILL by the kernel when the thread that started it dies
(``PR_SET_PDEATHSIG``); what it starts in other groups or sessions carries
the search's id in its environment, and the search's watcher
(``orphans.watch_search``) kills it when the search dies, so a kill -9 of the
search leaves no orphan. On timeout, early stop, KeyboardInterrupt, or when the command exits,
the whole group gets SIGTERM (when stopped early), then SIGKILL after the
grace period, and is reaped.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import selectors
import signal
import string
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hpsearch.core.limits import MAX_LINE_BYTES, MAX_LOG_BYTES
from hpsearch.io.safe_files import make_folder, make_folders, open_for_write
from hpsearch.objectives.reports import Reports, one_line, rung_value
from hpsearch.objectives.spec import ARGS, ObjectiveResult, ObjectiveSpec, StopRule

_PR_SET_PDEATHSIG = 1
_CHUNK = 65536
#: Seconds between checks, while stdout is quiet, that the command has not exited leaving stdout held open.
_EXIT_CHECK = 0.5


def format_argument(value: Any) -> str:
    """A parameter value as one argument: text as is, anything else as JSON (``1e-05``, ``true``, ``[64, 32]``)."""
    return value if isinstance(value, str) else json.dumps(value)


PYTHON_NAMES = ("python", "python3")


def with_this_python(argv: list[str]) -> list[str]:
    """A command that starts with a bare ``python`` or ``python3`` runs on the interpreter hpsearch runs on.

    Then a search started as ``.venv/bin/hpsearch run ...`` (no virtual environment active)
    runs ``train.py`` with the packages installed beside hpsearch, not whatever ``python`` the
    PATH finds first. Write a path (``/usr/bin/python3``) to choose another interpreter.
    """
    if argv and argv[0] in PYTHON_NAMES:
        return [sys.executable, *argv[1:]]
    return argv


def substitute(template: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    """The argv of one trial: each ``{name}`` of each argument replaced by its value.

    ``{{`` and ``}}`` are literal braces; an argument ``{args}`` becomes one
    ``--name=value`` argument per parameter of ``params``, in name order. A
    placeholder that names no parameter raises KeyError.
    """
    argv = []
    for arg in template:
        if arg == "{" + ARGS + "}":
            argv += [f"--{name}={format_argument(params[name])}" for name in sorted(params)]
            continue
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


def run_command(
    spec: ObjectiveSpec,
    params: Mapping[str, Any],
    *,
    seed: int,
    trial: int,
    trial_dir: Path,
    should_stop: StopRule | None = None,
) -> ObjectiveResult:
    """Run one trial's command to its end, its timeout, or an early stop; see the module docstring.

    Raises only for a trial that cannot start for a reason of its own making
    (the caller, ``evaluate``, turns that into a failed trial) and re-raises
    KeyboardInterrupt after killing the command's process group.
    """
    assert spec.command is not None
    trial_dir = Path(trial_dir)
    make_folder(make_folders(trial_dir.parent), trial_dir.name)  # never through a symlink planted in the run folder
    argv = with_this_python(substitute(spec.command, params))
    env = trial_environment(params, seed=seed, trial=trial, trial_dir=trial_dir)
    start = time.perf_counter()
    deadline = start + spec.timeout if spec.timeout is not None else None
    kept = Reports(spec.metric)
    logs = os.O_WRONLY | os.O_CREAT | os.O_TRUNC  # never through a symlink planted in the run folder
    with (
        os.fdopen(open_for_write(trial_dir, "stdout.log", logs), "wb") as out,
        os.fdopen(open_for_write(trial_dir, "stderr.log", logs), "wb") as err,
    ):
        try:
            proc = subprocess.Popen(
                argv,
                cwd=spec.base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,
            )
        except OSError as exc:
            return kept.result(
                seconds=time.perf_counter() - start, failure=f"cannot run {argv[0]}: {exc.strerror or exc}"
            )
        ending = None  # "timeout" | "stopped" | None
        log = _Log(out)
        try:
            ending = _follow(proc, log, kept, deadline, should_stop)
        except BaseException:
            _kill_group(proc, spec.grace, polite=True)
            raise
        finally:
            log.close()
        _kill_group(proc, spec.grace, polite=ending is not None)
    seconds = time.perf_counter() - start
    if ending == "timeout":
        return kept.result(seconds=seconds, failure=f"timed out after {spec.timeout:g} s")
    if ending == "stopped":
        return kept.result(seconds=seconds, pruned=True)
    if proc.returncode != 0:
        return kept.result(seconds=seconds, failure=_exit_reason(proc.returncode, trial_dir))
    result = kept.result(seconds=seconds)
    if result.status == "failed" and kept.final is None:
        last = _last_line(trial_dir / "stderr.log")
        if last:
            result = kept.result(seconds=seconds, failure=f"{result.error} (stderr: {last})")
    return result


class _Log:
    """``stdout.log``: what the command printed, up to ``MAX_LOG_BYTES``; a last line says how much more there was."""

    def __init__(self, out: IO[bytes]):
        self.out = out
        self.written = 0
        self.dropped = 0

    def write(self, chunk: bytes) -> None:
        room = MAX_LOG_BYTES - self.written
        if room > 0:
            self.out.write(chunk[:room])
            self.written += min(room, len(chunk))
        self.dropped += max(len(chunk) - max(room, 0), 0)

    def close(self) -> None:
        if self.dropped:
            self.out.write(
                f"\n[hpsearch: stdout.log stops at {MAX_LOG_BYTES:,} bytes; "
                f"{self.dropped:,} more bytes were read and not kept]\n".encode()
            )


class _Lines:
    """Split a byte stream into lines in linear time; a line past ``MAX_LINE_BYTES`` is skipped, and counted."""

    def __init__(self, limit: int = MAX_LINE_BYTES):
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.skipping = False
        self.skipped = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines that ``chunk`` completes (without their newline)."""
        *complete, rest = chunk.split(b"\n")
        lines = []
        for piece in complete:
            self._keep(piece)
            line = self._take()
            if line is not None:
                lines.append(line)
        self._keep(rest)
        return lines

    def end(self) -> list[bytes]:
        """The last line, when the stream ended without a newline."""
        line = self._take() if self.parts or self.skipping else None
        return [line] if line else []

    def _keep(self, piece: bytes) -> None:
        if self.skipping or not piece:
            return
        if self.size + len(piece) > self.limit:
            self.skipping, self.parts, self.size = True, [], 0
            return
        self.parts.append(piece)
        self.size += len(piece)

    def _take(self) -> bytes | None:
        if self.skipping:
            self.skipping = False
            self.skipped += 1
            return None
        line = b"".join(self.parts)
        self.parts, self.size = [], 0
        return line


def _follow(
    proc: subprocess.Popen[bytes], log: _Log, kept: Reports, deadline: float | None, should_stop: StopRule | None
) -> str | None:
    """Read the command's stdout as it comes until it closes; returns why the command was cut short, if it was.

    All in this thread (no hand-offs between threads, which cost a time slice
    each on a loaded machine). The deadline is checked before every read, so
    a command that prints without pause is stopped on time too. Every
    ``_EXIT_CHECK`` seconds it checks whether the command has exited while
    something it started still holds stdout open; then that rest of its group
    is killed. Memory stays bounded: ``kept`` holds what is needed of the
    reports, ``_Lines`` at most one line of ``MAX_LINE_BYTES``.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    lines = _Lines()
    exited = False
    next_check = time.perf_counter() + _EXIT_CHECK
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.perf_counter()
            if deadline is not None and now >= deadline:
                return "timeout"
            if not exited and now >= next_check:
                next_check = now + _EXIT_CHECK
                if proc.poll() is not None:
                    exited = True
                    _signal_group(proc.pid, signal.SIGKILL)  # what it left behind holds stdout open no longer
            wait = _EXIT_CHECK if deadline is None else min(max(deadline - now, 0.0), _EXIT_CHECK)
            if not selector.select(wait):
                continue
            chunk = os.read(fd, _CHUNK)
            log.write(chunk)
            for line in lines.feed(chunk) if chunk else lines.end():
                report = _parse_report(line)
                if report is None:
                    continue
                epoch = kept.add(report)
                value = rung_value(report, kept.metric)
                # A report of a command that has already exited still reaches the rung
                # board, but cannot stop a trial that is over.
                if should_stop is not None and epoch is not None and value is not None:
                    if should_stop(int(epoch), value) and proc.poll() is None:
                        kept.long_lines = lines.skipped
                        return "stopped"
            kept.long_lines = lines.skipped
            if not chunk:
                return None


def _parse_report(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None for any other line (nested too deep for the parser included)."""
    text = line.strip()
    if not text.startswith(b"{"):
        return None
    try:
        report = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return report if isinstance(report, dict) else None


@functools.lru_cache(maxsize=1)
def _prctl() -> Any:
    """libc's ``prctl``, looked up once in the parent (the child only calls it), or None."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent: int) -> Any:
    """A preexec_fn: the kernel sends the child SIGKILL when the thread that started it dies (Linux)."""
    prctl = _prctl()

    def preexec() -> None:
        if prctl is None:
            return
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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
