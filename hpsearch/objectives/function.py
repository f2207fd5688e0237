"""A Python function as the objective: ``module:function``, called in the worker with the trial's parameters.

The function is ``train(params)`` or ``train(params, trial)``: ``params`` is a
dict of the trial's values (searched and fixed), ``trial`` a ``Trial`` handle
with ``seed``, ``number``, ``dir`` and ``report(epoch, **values)``. It returns
a number (the metric's value: an int, a float, a NumPy scalar or 0-d array) or
a dict holding the metric (its other numeric keys are kept as the trial's
metrics). Any exception it raises, ``SystemExit`` and ``GeneratorExit``
included, fails its trial only, with its traceback in ``traceback.txt`` of the
trial's folder; KeyboardInterrupt (Ctrl-C) stops the search.

When early stopping prunes the trial, ``trial.report`` raises ``TrialPruned``.
It derives from ``BaseException``, like KeyboardInterrupt, so that a function's
``except Exception:`` does not swallow it; let it propagate.
"""

from __future__ import annotations

import importlib
import inspect
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hpsearch.core.errors import RunError
from hpsearch.io.safe_files import make_folder, make_folders, write_bytes_atomic
from hpsearch.objectives.reports import Reports, as_number, is_real, one_line, rung_value
from hpsearch.objectives.spec import ObjectiveError, ObjectiveResult, ObjectiveSpec, StopRule

#: A function's failure leaves its traceback in this file of the trial's folder.
TRACEBACK_FILE = "traceback.txt"


class TrialPruned(BaseException):
    """Raised by ``Trial.report`` when early stopping stops this trial: do not catch it."""


class _TimedOut(BaseException):
    """Raised inside the function when its trial's timeout passes."""


class Trial:
    """The handle a function objective gets as its second argument.

    ``number`` is the run-wide trial id, ``seed`` the trial's seed (derived
    from the search seed, round and trial), ``dir`` a folder of its own for
    files, ``params`` its values.
    """

    def __init__(
        self, params: Mapping[str, Any], *, number: int, seed: int, dir: Path, metric: str, should_stop: StopRule | None
    ):
        self.params = dict(params)
        self.number = number
        self.seed = seed
        self.dir = dir
        self.kept = Reports(metric)
        self.pruned = False
        self._metric = metric
        self._should_stop = should_stop

    def report(self, epoch: int, **values: float) -> None:
        """Record intermediate ``values`` at ``epoch``; raises ``TrialPruned`` when early stopping stops the trial.

        Numbers that are not finite, or out of float range, are not kept; a
        metric that is NaN at a rung is the worst value there (the trial is stopped).
        """
        report = {"epoch": epoch, **values}
        self.kept.add(report)
        value = rung_value(values, self._metric)
        step = as_number(epoch)
        if self._should_stop is None or value is None or step is None:
            return
        if self._should_stop(int(step), value):
            self.pruned = True
            raise TrialPruned(f"trial {self.number} stopped at epoch {epoch}")

    @property
    def reports(self) -> list[dict[str, float]]:
        """The intermediate reports kept so far (the first ``MAX_HISTORY``), numbers only."""
        return self.kept.history


def load_function(spec: ObjectiveSpec) -> Callable[..., Any]:
    """The objective's function: ``spec.function``, or ``module:function`` imported with ``spec.base_dir`` first on the path.

    Raises ObjectiveError saying what cannot be imported, and how to fix it.
    """
    if spec.function is not None:
        return spec.function
    assert spec.python is not None
    module_name, _, qualname = spec.python.partition(":")
    if spec.base_dir not in sys.path:
        sys.path.insert(0, spec.base_dir)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ObjectiveError(
            f"objective.python: cannot import {module_name} ({exc}) — put {module_name}.py in "
            f"{spec.base_dir} or install it"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 — the user's module failed (or called sys.exit) while importing
        raise ObjectiveError(
            f"objective.python: importing {module_name} raised {one_line(f'{type(exc).__name__}: {exc}')}"
        ) from None
    for part in qualname.split("."):
        if not hasattr(target, part):
            raise ObjectiveError(f"objective.python: {module_name} has no {qualname} — check the name after the colon")
        target = getattr(target, part)
    if not callable(target):
        raise ObjectiveError(f"objective.python: {spec.python} is not a function")
    return target


def call_function(
    spec: ObjectiveSpec,
    params: Mapping[str, Any],
    *,
    seed: int,
    trial: int,
    trial_dir: Path,
    should_stop: StopRule | None = None,
) -> ObjectiveResult:
    """Call the function for one trial; any exception it raises makes the trial ``failed`` with its message.

    ``spec.timeout`` is enforced with SIGALRM where that is possible (the main
    thread, not Windows); elsewhere the function runs to its end.
    """
    start = time.perf_counter()
    trial_dir = Path(trial_dir)
    handle = Trial(params, number=trial, seed=seed, dir=trial_dir, metric=spec.metric, should_stop=should_stop)
    kept = handle.kept
    try:
        make_folder(make_folders(trial_dir.parent), trial_dir.name)  # never through a symlink planted in the run folder
        function = load_function(spec)
        args = (dict(params), handle) if _takes_two(function) else (dict(params),)
        with _alarm(spec.timeout):
            returned = function(*args)
    except TrialPruned:
        return kept.result(seconds=time.perf_counter() - start, pruned=True)
    except _TimedOut:
        return kept.result(seconds=time.perf_counter() - start, failure=f"timed out after {spec.timeout:g} s")
    except (ObjectiveError, RunError) as exc:
        return kept.result(seconds=time.perf_counter() - start, failure=str(exc))
    except KeyboardInterrupt:
        raise  # Ctrl-C stops the search, not one trial
    except BaseException as exc:  # noqa: BLE001 — SystemExit, GeneratorExit, any error: the trial's result only
        where = _keep_traceback(trial_dir)
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return kept.result(seconds=time.perf_counter() - start, failure=f"{one_line(text, 200)}{where}")
    seconds = time.perf_counter() - start
    if handle.pruned:  # the function caught TrialPruned and returned anyway
        return kept.result(seconds=seconds, pruned=True)
    if isinstance(returned, Mapping):
        kept.add(dict(returned))
    elif is_real(returned):
        kept.add({spec.metric: returned.item() if hasattr(returned, "item") else returned})
    else:
        return kept.result(
            seconds=seconds,
            failure=f"returned {type(returned).__name__}, expected a number or a dict holding {spec.metric!r}",
        )
    return kept.result(seconds=seconds)


def _keep_traceback(trial_dir: Path) -> str:
    """Write the exception being handled to ``traceback.txt`` in the trial's folder; `` (traceback in ...)``, or ``""``."""
    try:
        write_bytes_atomic(trial_dir, TRACEBACK_FILE, traceback.format_exc().encode("utf-8", "replace"))
    except (OSError, RunError):
        return ""
    return f" (traceback in {trial_dir.parent.name}/{trial_dir.name}/{TRACEBACK_FILE})"


def _takes_two(function: Callable[..., Any]) -> bool:
    """Whether ``function`` accepts a second positional argument (the trial handle)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


class _alarm:
    """Raise ``_TimedOut`` in the function after ``seconds`` (main thread only; otherwise a no-op)."""

    def __init__(self, seconds: float | None):
        self.active = (
            seconds is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )
        self.seconds = seconds
        self.previous: Any = None

    def __enter__(self) -> None:
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)

    @staticmethod
    def _expire(signum: int, frame: Any) -> None:
        raise _TimedOut()
