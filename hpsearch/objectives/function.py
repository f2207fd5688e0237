"""A Python function as the objective: ``module:function``, called in the worker with the trial's parameters.

The function is ``train(params)`` or ``train(params, trial)``: ``params`` is a
dict of the trial's values (searched and fixed), ``trial`` a ``Trial`` handle
with ``seed``, ``number``, ``dir`` and ``report(epoch, **values)``. It returns
a number (the metric's value) or a dict holding the metric (its other numeric
keys are kept as the trial's metrics).

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hpsearch.objectives.spec import (
    ObjectiveError,
    ObjectiveResult,
    ObjectiveSpec,
    StopRule,
    finite_metric,
    one_line,
    result_from_reports,
)


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

    def __init__(self, params: Mapping[str, Any], *, number: int, seed: int, dir: Path, metric: str,
                 should_stop: StopRule | None):
        self.params = dict(params)
        self.number = number
        self.seed = seed
        self.dir = dir
        self.reports: list[dict[str, Any]] = []
        self.pruned = False
        self._metric = metric
        self._should_stop = should_stop

    def report(self, epoch: int, **values: float) -> None:
        """Record intermediate ``values`` at ``epoch``; raises ``TrialPruned`` when early stopping stops the trial."""
        self.reports.append({"epoch": epoch, **values})
        value = finite_metric(values, self._metric)
        if self._should_stop is not None and value is not None and self._should_stop(int(epoch), value):
            self.pruned = True
            raise TrialPruned(f"trial {self.number} stopped at epoch {epoch}")


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
        raise ObjectiveError(f"objective.python: cannot import {module_name} ({exc}) — put {module_name}.py in "
                             f"{spec.base_dir} or install it") from None
    except Exception as exc:  # noqa: BLE001 — the user's module failed while importing
        raise ObjectiveError(f"objective.python: importing {module_name} raised "
                             f"{one_line(f'{type(exc).__name__}: {exc}')}") from None
    for part in qualname.split("."):
        if not hasattr(target, part):
            raise ObjectiveError(f"objective.python: {module_name} has no {qualname} — check the name after the colon")
        target = getattr(target, part)
    if not callable(target):
        raise ObjectiveError(f"objective.python: {spec.python} is not a function")
    return target


def call_function(spec: ObjectiveSpec, params: Mapping[str, Any], *, seed: int, trial: int, trial_dir: Path,
                  should_stop: StopRule | None = None) -> ObjectiveResult:
    """Call the function for one trial; any exception it raises makes the trial ``failed`` with its message.

    ``spec.timeout`` is enforced with SIGALRM where that is possible (the main
    thread, not Windows); elsewhere the function runs to its end.
    """
    start = time.perf_counter()
    handle = Trial(params, number=trial, seed=seed, dir=trial_dir, metric=spec.metric, should_stop=should_stop)
    try:
        function = load_function(spec)
        args = (dict(params), handle) if _takes_two(function) else (dict(params),)
        with _alarm(spec.timeout):
            returned = function(*args)
    except TrialPruned:
        return result_from_reports(handle.reports, spec.metric, seconds=time.perf_counter() - start, pruned=True)
    except _TimedOut:
        return result_from_reports(handle.reports, spec.metric, seconds=time.perf_counter() - start,
                                   failure=f"timed out after {spec.timeout:g} s")
    except ObjectiveError as exc:
        return result_from_reports(handle.reports, spec.metric, seconds=time.perf_counter() - start, failure=str(exc))
    except Exception as exc:  # noqa: BLE001 — the function's error is the trial's result
        return result_from_reports(handle.reports, spec.metric, seconds=time.perf_counter() - start,
                                   failure=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    if handle.pruned:  # the function caught TrialPruned and returned anyway
        return result_from_reports(handle.reports, spec.metric, seconds=seconds, pruned=True)
    if isinstance(returned, Mapping):
        final = dict(returned)
    elif isinstance(returned, (int, float)) and not isinstance(returned, bool):
        final = {spec.metric: returned}
    else:
        return result_from_reports(handle.reports, spec.metric, seconds=seconds,
                                   failure=f"returned {type(returned).__name__}, expected a number or a dict holding {spec.metric!r}")
    return result_from_reports([*handle.reports, final], spec.metric, seconds=seconds)


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
        self.active = (seconds is not None and hasattr(signal, "setitimer")
                       and threading.current_thread() is threading.main_thread())
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
