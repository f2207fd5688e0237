"""The YAML ``space:`` section: each entry becomes a distribution or a fixed value.

``parse_space`` reports every problem of the section at once, each keyed by
its YAML path and saying how to fix it. It knows no model: the caller says
which names exist and what values each may take (``Parameter``), or lets any
identifier through (an own objective, ``OpenParameter``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hpsearch.core.errors import ConfigError, ConfigProblem, did_you_mean
from hpsearch.space.scales import RANGE_SCALES, SCALES, Choice, Distribution, Legal, format_value
from hpsearch.space.search_space import Space


class Parameter(Protocol):
    """What a space needs to know about one parameter: its type and its legal values.

    The engine's ``Hyperparameter`` is one; ``OpenParameter`` (an own
    objective's parameter) is another. ``kind`` None means any type.
    """

    name: str
    kind: type | None
    choices: tuple[str, ...] | None
    low: float | None
    high: float | None
    low_open: bool
    high_open: bool

    @property
    def searchable(self) -> bool: ...

    def check(self, value: Any) -> tuple[Any, str | None]: ...

    def rule(self) -> str: ...


@dataclass(frozen=True)
class OpenParameter:
    """A parameter of an own objective: any value; a range's limits come from its scale alone."""

    name: str
    kind: type | None = None
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def searchable(self) -> bool:
        return True

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Any YAML value but a non-finite number (the objective gets it as JSON)."""
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"must be a finite number, got {value!r}"
        return value, None

    def rule(self) -> str:
        return "any value"


_RANGE_KEYS = ("scale", "low", "high")
_CHOICE_KEYS = ("scale", "choice")
_INT_SCALES = ("int", "int_log")


def parse_space(
    raw: Any, prefix: str = "space", *, parameters: Mapping[str, Parameter] | None
) -> tuple[Space, dict[str, Any]]:
    """Validate the YAML ``space:`` mapping.

    A value that is a mapping (``{scale: log, low: 1e-4, high: 1}`` or
    ``{choice: [32, 64]}``) is searched; a plain scalar or list is fixed.

    Parameters
    ----------
    raw
        The loaded ``space:`` section.
    prefix
        The key path that problems are reported under.
    parameters
        The names the objective knows, with their types and legal values (the
        engine's ``HYPERPARAMETERS``); ``None`` accepts any identifier as an
        ``OpenParameter`` (an own objective), limited by its scale alone.

    Returns
    -------
    (space, fixed)
        The searched ``Space`` (each range keeping its parameter's legal
        limits) and the fixed values, coerced to their parameter's type.

    Raises
    ------
    ConfigError
        Listing every problem of the section, each keyed ``<prefix>.<name>.<field>``
        and saying how to fix it.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError([ConfigProblem(prefix, f"must be a mapping of parameter name to range, got {raw!r}",
                                         "write e.g. learning_rate: {scale: log, low: 1.0e-4, high: 1}")])
    problems: list[ConfigProblem] = []
    searched: dict[str, Distribution] = {}
    fixed: dict[str, Any] = {}
    for name, spec in raw.items():
        key = f"{prefix}.{name}"
        hp = _lookup(name, key, parameters, problems)
        if hp is None:
            continue
        if not isinstance(spec, Mapping):
            value, message = hp.check(spec)
            if message:
                fix = f"to search it, write {{choice: {spec}}}" if isinstance(spec, list) and hp.kind is not list else ""
                problems.append(ConfigProblem(key, message, fix))
            else:
                fixed[name] = value
        elif not hp.searchable:
            problems.append(ConfigProblem(key, f"{name} (explicit layer sizes) cannot be searched",
                                          "search layers and hidden_units instead, e.g. layers: {scale: int, "
                                          "low: 1, high: 4} and hidden_units: {scale: int_log, low: 16, high: 512}"))
        else:
            dist = _parse_spec(hp, spec, key, problems)
            if dist is not None:
                searched[name] = dist
    if problems:
        raise ConfigError(problems)
    return Space(searched), fixed


def _lookup(name: Any, key: str, parameters: Mapping[str, Parameter] | None,
            problems: list[ConfigProblem]) -> Parameter | None:
    """The rules of ``name``, or None after adding why it is not a parameter."""
    if parameters is not None:
        hp = parameters.get(name) if isinstance(name, str) else None
        if hp is None:
            problems.append(ConfigProblem(key, "unknown hyperparameter", did_you_mean(str(name), parameters)))
        return hp
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(ConfigProblem(key, "is not a valid parameter name",
                                      "use letters, digits and _ not starting with a digit, e.g. learning_rate"))
        return None
    return OpenParameter(name)


def _parse_spec(hp: Parameter, spec: Mapping[str, Any], key: str,
                problems: list[ConfigProblem]) -> Distribution | None:
    """One searched hyperparameter's distribution, or None after adding its problems."""
    n_before = len(problems)
    scale = spec.get("scale", "choice" if "choice" in spec else None)
    if scale not in SCALES:
        if scale is None:
            problems.append(ConfigProblem(f"{key}.scale", "missing",
                                          "add scale: " + "|".join(RANGE_SCALES) + ", or write {choice: [a, b]}"))
        else:
            problems.append(ConfigProblem(f"{key}.scale", f"unknown scale {scale!r}", did_you_mean(str(scale), SCALES)))
        _read_bounds(spec, key, hp.kind is int, problems)  # report a missing bound now, not on the next try
        return None
    allowed = _CHOICE_KEYS if scale == "choice" else _RANGE_KEYS
    for extra in spec:
        if extra not in allowed:
            problems.append(ConfigProblem(f"{key}.{extra}", f"unknown key for scale {scale}", did_you_mean(str(extra), allowed)))
    scale_problem = _scale_mismatch(hp, scale)
    if scale_problem:
        problems.append(ConfigProblem(f"{key}.scale", *scale_problem))
        return None
    dist = _parse_choice(hp, spec, key, problems) if scale == "choice" else _parse_range(hp, scale, spec, key, problems)
    return dist if len(problems) == n_before else None


def _scale_mismatch(hp: Parameter, scale: str) -> tuple[str, str] | None:
    """(message, fix) when ``scale`` cannot produce values of ``hp``'s type."""
    if scale == "choice" or hp.kind is None:
        return None
    if hp.kind in (str, bool):
        names = ", ".join(hp.choices) if hp.choices else "true, false"
        return f"{hp.name} takes named values, not a {scale} range", f"write {{choice: [{names}]}}"
    if hp.kind is int and scale not in _INT_SCALES:
        better = "int_log" if scale == "log" else "int"
        return f"{hp.name} is an integer; scale {scale} draws fractions", f"use scale: {better} (or int / int_log / a choice)"
    if hp.kind is float and scale in _INT_SCALES:
        better = "log" if scale == "int_log" else "uniform"
        return f"{hp.name} is a real number; scale {scale} draws only integers", f"use scale: {better}"
    return None


def _read_bounds(spec: Mapping[str, Any], key: str, integer: bool,
                 problems: list[ConfigProblem]) -> tuple[float, float] | None:
    """``(low, high)`` when both are present and numbers (integers if ``integer``)."""
    bounds: dict[str, float] = {}
    for side in ("low", "high"):
        if side not in spec:
            problems.append(ConfigProblem(f"{key}.{side}", "missing", f"add {side}: <{'integer' if integer else 'number'}>"))
            continue
        value = spec[side]
        finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not finite or (integer and not float(value).is_integer()):
            problems.append(ConfigProblem(f"{key}.{side}", f"must be {'an integer' if integer else 'a finite number'}, "
                                          f"got {value!r}", _yaml_number_hint(value)))
            continue
        bounds[side] = int(value) if integer else float(value)
    return (bounds["low"], bounds["high"]) if len(bounds) == 2 else None


def _yaml_number_hint(value: Any) -> str:
    """A fix when a bound is text that looks like a number.

    PyYAML (YAML 1.1) reads ``1e-4`` as text: a float needs a dot, ``1.0e-4``.
    """
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    mantissa, e, exponent = value.strip().lower().partition("e")
    if e and "." not in mantissa:
        return f"YAML reads {value} as text: write {mantissa}.0e{exponent}"
    return f"write {value.strip()} without quotes"


def _parse_range(hp: Parameter, scale: str, spec: Mapping[str, Any], key: str,
                 problems: list[ConfigProblem]) -> Distribution | None:
    integer = scale in _INT_SCALES
    bounds = _read_bounds(spec, key, integer, problems)
    if bounds is None:
        return None
    low, high = bounds
    n_before = len(problems)
    if not low < high:
        problems.append(ConfigProblem(f"{key}.high", f"low < high must hold, but got low={format_value(low)}, high={format_value(high)}",
                                      "swap them, or fix the value in model: to stop searching it"))
    cls = RANGE_SCALES[scale]
    (lo, lo_open), (hi, hi_open) = cls.lower_limit, cls.upper_limit
    bad_low = low < lo or (lo_open and low == lo)
    bad_high = high > hi or (hi_open and high == hi)
    if bad_low and scale in ("log", "int_log"):
        problems.append(ConfigProblem(f"{key}.low", f"a {scale} scale needs low > 0, got {format_value(low)}",
                                      "use a small positive low such as " + ("1" if integer else "1.0e-6")
                                      + (", or scale: int to include 0" if integer else ", or scale: uniform to include 0")))
    elif bad_low:  # one_minus_log
        problems.append(ConfigProblem(f"{key}.low", f"a 1−β scale needs 0 <= low < high < 1, got low={format_value(low)}",
                                      "use low >= 0, e.g. 0.9"))
    if bad_high:  # only one_minus_log has an upper limit
        problems.append(ConfigProblem(f"{key}.high", f"a 1−β scale needs 0 <= low < high < 1, got high={format_value(high)}",
                                      "1 − high must be positive: use e.g. 0.999"))
    # The range must be legal for the hyperparameter itself (l2 >= 0, keep_prob <= 1, ...).
    for side, value, scale_ok in (("low", low, not bad_low), ("high", high, not bad_high)):
        if scale_ok and hp.check(value)[1]:
            problems.append(ConfigProblem(f"{key}.{side}", f"{hp.name} must be {hp.rule()}, got {format_value(value)}",
                                          f"keep the range within the legal values of {hp.name}"))
    if len(problems) > n_before:
        return None
    return cls(low, high, legal=Legal(hp.low, hp.high, hp.low_open, hp.high_open))


def _parse_choice(hp: Parameter, spec: Mapping[str, Any], key: str,
                  problems: list[ConfigProblem]) -> Distribution | None:
    items = spec.get("choice")
    if not isinstance(items, list):
        problems.append(ConfigProblem(f"{key}.choice", f"must be a list of values, got {items!r}", "write e.g. choice: [32, 64, 128]"))
        return None
    if not items:
        problems.append(ConfigProblem(f"{key}.choice", "is empty", "list at least one value, e.g. choice: [32, 64, 128]"))
        return None
    choices: list[Any] = []
    for i, item in enumerate(items):
        value, message = hp.check(item)
        if not message and not isinstance(value, (str, int, float, bool, type(None))):
            message = f"must be a plain value (number, text, true/false), got {item!r}"
        if message:
            fix = did_you_mean(item, hp.choices) if hp.choices and isinstance(item, str) else ""
            problems.append(ConfigProblem(f"{key}.choice", f"item {i + 1}: {message}", fix))
        elif value in choices:
            problems.append(ConfigProblem(f"{key}.choice", f"item {i + 1}: {value!r} is listed twice", "list each value once"))
        else:
            choices.append(value)
    return Choice(tuple(choices)) if choices else None  # every item was wrong: its problems say why
