"""Own objectives: the user's code, not the built-in engine, scores each trial.

An ``objective:`` section names a shell-free command (``command_objective``)
or a Python ``module:function`` (``python_objective``), the metric to read
and whether to minimize or maximize it. This module holds the validated spec
(``ObjectiveSpec``) and the result of one trial (``ObjectiveResult``).
``objectives.reports`` reads what an objective reports; ``objectives.evaluate``
runs one trial of either kind and never raises for a bad trial.

A *report* is a dict of values the objective emits: a JSON line of a
command's stdout, or a ``trial.report(epoch, ...)`` call of a function. One
with ``epoch`` (or ``step``) is intermediate and goes to the history; the
last report holding the metric is the result.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpsearch.core.columns import reserved_name
from hpsearch.core.errors import ConfigProblem, HpsearchError, clip, did_you_mean
from hpsearch.core.limits import MAX_OBJECTIVE_SECONDS
from hpsearch.core.records import as_cost

KINDS = ("command", "python")
DIRECTIONS = ("minimize", "maximize")
#: Keys of a report that count its progress; the first present one is the report's epoch.
PROGRESS_KEYS = ("epoch", "step")
OBJECTIVE_KEYS = ("command", "python", "metric", "direction", "timeout", "grace", "workdir")
#: Seconds between SIGTERM and SIGKILL when a command is stopped.
DEFAULT_GRACE = 5.0

_PYTHON_TARGET = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

#: ``should_stop(epoch, value)``: True stops the trial now (early stopping).
StopRule = Callable[[int, float], bool]


class ObjectiveError(HpsearchError):
    """An own objective cannot be used at all (its function cannot be imported, its command not found)."""


@dataclass(frozen=True)
class ObjectiveSpec:
    """A validated ``objective:`` section.

    ``command`` is the argv template (placeholders ``{name}`` kept, ``{{``/``}}``
    literal braces); ``python`` is ``module:function``. ``base_dir`` is the
    absolute folder the command runs in and the first entry of ``sys.path`` for
    a function (the config file's folder unless ``workdir:`` says otherwise).
    ``grace`` is the seconds between SIGTERM and SIGKILL when a command is
    stopped. ``function`` is set when the objective was given as a Python
    callable rather than by name (never compared or stored). ``bundle_labels``
    are the space's bundles, whose own values (the chosen option's label) a
    trial's params hold but the objective is not given: the option's values are
    (set from the space when the config is read; never stored).
    """

    kind: str
    command: tuple[str, ...] | None
    python: str | None
    metric: str
    direction: str = "minimize"
    timeout: float | None = None
    base_dir: str = "."
    grace: float = DEFAULT_GRACE
    function: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    bundle_labels: tuple[str, ...] = field(default=(), compare=False)

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The parameter names the command template uses, in order of first use (``args`` for ``{args}``)."""
        names: dict[str, None] = {}
        for arg in self.command or ():
            for _, name, _, _ in string.Formatter().parse(arg):
                if name is not None:
                    names[name] = None
        return tuple(names)

    def objective_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's params as the objective is given them: without the bundles' labels."""
        return {name: value for name, value in params.items() if name not in self.bundle_labels}

    def score(self, value: float) -> float:
        """``value`` as a cost: lower is better whatever the direction (maximize negates; non-finite: +inf)."""
        return as_cost(value, self.direction)

    def to_dict(self) -> dict[str, Any]:
        """The spec as an ``objective:`` section that ``parse_objective`` reads back (``workdir`` absolute)."""
        out: dict[str, Any] = {"command": list(self.command)} if self.kind == "command" else {"python": self.python}
        out.update(metric=self.metric, direction=self.direction, workdir=self.base_dir)
        if self.timeout is not None:
            out["timeout"] = self.timeout
        if self.grace != DEFAULT_GRACE:
            out["grace"] = self.grace
        return out

    @classmethod
    def for_callable(
        cls,
        function: Callable[..., Any],
        *,
        metric: str = "value",
        direction: str = "minimize",
        timeout: float | None = None,
        base_dir: str | Path | None = None,
    ) -> "ObjectiveSpec":
        """A python objective given as the function itself (the Python API)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        name = f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', '?')}"
        return cls(
            "python",
            None,
            name,
            metric,
            direction,
            timeout,
            str(Path(base_dir or Path.cwd()).resolve()),
            function=function,
        )


@dataclass(frozen=True)
class ObjectiveResult:
    """What one trial of an own objective produced.

    ``status`` is ``ok``, ``failed`` (``error`` says why, in one line) or
    ``pruned`` (stopped by early stopping; ``value`` is the last reported value
    of the metric). ``metrics`` are the other numeric keys of the final report;
    ``history`` every intermediate report (each has ``epoch`` or ``step``).
    """

    status: str
    value: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------------------
# The ``objective:`` section


def parse_objective(
    raw: Any, base_dir: Path, prefix: str = "objective"
) -> tuple[ObjectiveSpec | None, list[ConfigProblem]]:
    """Validate the ``objective:`` section; every problem at once, each with its key and fix.

    ``base_dir`` is the config file's folder (a relative ``workdir`` is relative to it).
    """
    if not isinstance(raw, Mapping):
        return None, [
            ConfigProblem(
                prefix,
                f"must be a mapping, got {type(raw).__name__}",
                "write e.g. objective: {command: python train.py --lr {learning_rate}, metric: val_loss}",
            )
        ]
    problems: list[ConfigProblem] = []
    for key in raw:
        if key not in OBJECTIVE_KEYS:
            problems.append(ConfigProblem(f"{prefix}.{key}", "unknown key", did_you_mean(str(key), OBJECTIVE_KEYS)))
    kinds = [k for k in KINDS if k in raw]
    command: tuple[str, ...] | None = None
    python: str | None = None
    if len(kinds) != 1:
        problems.append(
            ConfigProblem(
                prefix,
                "needs exactly one of command: and python:" if kinds else "has no command: or python:",
                "give command: python train.py --lr {learning_rate} or python: my_module:train",
            )
        )
    elif kinds == ["command"]:
        command = _parse_command(raw["command"], f"{prefix}.command", problems)
    else:
        python = _parse_python(raw["python"], f"{prefix}.python", problems)

    metric = raw.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        problems.append(
            ConfigProblem(
                f"{prefix}.metric",
                "is missing" if metric is None else f"must be a key name, got {metric!r}",
                "name the key your objective reports, e.g. metric: val_loss",
            )
        )
    elif (reserved := reserved_name(metric.strip())) is not None:
        problems.append(ConfigProblem(f"{prefix}.metric", *reserved))
    direction = raw.get("direction", "minimize")
    if direction not in DIRECTIONS:
        problems.append(
            ConfigProblem(
                f"{prefix}.direction",
                f"must be minimize or maximize, got {direction!r}",
                did_you_mean(str(direction), DIRECTIONS),
            )
        )
    timeout = _positive(raw, "timeout", None, prefix, problems)
    grace = _positive(raw, "grace", DEFAULT_GRACE, prefix, problems)
    workdir = raw.get("workdir", ".")
    if not isinstance(workdir, str) or not workdir:
        problems.append(
            ConfigProblem(
                f"{prefix}.workdir",
                f"must be a folder path, got {workdir!r}",
                "leave it out to use the config's folder",
            )
        )
        workdir = "."
    folder = (base_dir / Path(workdir).expanduser()).resolve()
    if not folder.is_dir():
        problems.append(
            ConfigProblem(f"{prefix}.workdir", f"folder {folder} does not exist", "give an existing folder")
        )
    if problems:
        return None, problems
    return ObjectiveSpec(kinds[0], command, python, metric.strip(), direction, timeout, str(folder), grace), []


def _parse_command(value: Any, key: str, problems: list[ConfigProblem]) -> tuple[str, ...] | None:
    """The argv template: a string split like a shell would, or a list of strings (no shell is run)."""
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            problems.append(ConfigProblem(key, f"cannot be split into arguments ({exc})", "close the quote"))
            return None
    elif isinstance(value, list) and all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value):
        argv = [str(a) for a in value]
    else:
        problems.append(
            ConfigProblem(
                key,
                f"must be a command line or a list of arguments, got {value!r}",
                "write e.g. command: python train.py --lr {learning_rate}",
            )
        )
        return None
    if not argv:
        problems.append(ConfigProblem(key, "is empty", "write e.g. command: python train.py --lr {learning_rate}"))
        return None
    for arg in argv:
        try:
            fields = list(string.Formatter().parse(arg))
        except ValueError as exc:
            problems.append(
                ConfigProblem(key, f"argument {arg!r}: {exc}", "write {name} for a value, {{ and }} for literal braces")
            )
            continue
        for _, name, spec, conversion in fields:
            if name is not None and (not name.isidentifier() or spec or conversion):
                problems.append(
                    ConfigProblem(
                        key,
                        f"argument {arg!r}: placeholder {{{name}{'!' + conversion if conversion else ''}"
                        f"{':' + spec if spec else ''}}} is not a parameter name",
                        "write {name} with the name of a space: parameter, {{ and }} for literal braces",
                    )
                )
    return tuple(argv)


def _parse_python(value: Any, key: str, problems: list[ConfigProblem]) -> str | None:
    if isinstance(value, str) and _PYTHON_TARGET.match(value.strip()):
        return value.strip()
    problems.append(ConfigProblem(key, f"must be module:function, got {value!r}", "write e.g. python: train:objective"))
    return None


def _positive(
    raw: Mapping[str, Any], name: str, default: float | None, prefix: str, problems: list[ConfigProblem]
) -> float | None:
    value = raw.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_OBJECTIVE_SECONDS:
        got = clip(repr(value), 60)
        problems.append(
            ConfigProblem(
                f"{prefix}.{name}",
                f"must be a number of seconds > 0 and at most {MAX_OBJECTIVE_SECONDS:,} (7 days), got {got}",
                f"e.g. {name}: 600" if name == "timeout" else f"e.g. {name}: 5",
            )
        )
        return default
    return float(value)


#: The placeholder that expands to ``--name=value``, one argument per parameter a trial has (W&B's ``${args}``).
ARGS = "args"


def placeholder_problems(
    spec: ObjectiveSpec, names: Sequence[str], prefix: str = "objective", *, sometimes: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """A problem for each placeholder of the command that not every trial can fill.

    ``names`` are the parameters every trial has; ``sometimes`` maps a
    parameter some trials lack to why (``"active only when optimizer is
    momentum"``): its ``{name}`` would have nothing to become there, so the fix
    is ``{args}`` (one ``--name=value`` argument per parameter a trial has) or
    ``HPSEARCH_PARAMS``. ``{args}`` must be a whole argument, and no parameter may be named ``args``.
    """
    sometimes = dict(sometimes or {})
    key = f"{prefix}.command"
    problems = []
    if ARGS in (spec.placeholders if spec.command else ()):
        if any(f"{{{ARGS}}}" in arg and arg != f"{{{ARGS}}}" for arg in spec.command or ()):
            problems.append(
                ConfigProblem(
                    key,
                    "{args} must be an argument of its own",
                    'write it as a separate item, e.g. [python, train.py, "{args}"]',
                )
            )
        if ARGS in names or ARGS in sometimes:
            problems.append(
                ConfigProblem(
                    key, "{args} expands to every parameter, so no parameter may be named args", "rename space.args"
                )
            )
    for name in spec.placeholders:
        if name == ARGS:
            continue
        if name in sometimes:
            problems.append(
                ConfigProblem(
                    key,
                    f"placeholder {{{name}}}: {name} is {sometimes[name]}, so some trials have no value for it",
                    f'use "{{{ARGS}}}" (one --name=value argument per parameter a trial has), or read HPSEARCH_PARAMS',
                )
            )
        elif name not in names:
            problems.append(
                ConfigProblem(
                    key,
                    f"placeholder {{{name}}} is not a parameter in space:",
                    did_you_mean(name, names) if names else f"add {name} to space:",
                )
            )
    return problems


def placement_problems(spec: ObjectiveSpec | None, *, backend: str, early_stopping: bool) -> list[ConfigProblem]:
    """Early stopping of an own objective shares a rung board through the run folder: not on dask workers."""
    if spec is not None and early_stopping and backend == "dask":
        return [
            ConfigProblem(
                "search.backend",
                "early stopping of an own objective needs workers that share the run folder, which dask workers do not",
                "use backend: loky, or turn early stopping off",
            )
        ]
    return []


# ---------------------------------------------------------------------------
# Reports -> result
