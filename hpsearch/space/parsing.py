"""The YAML ``space:`` section: each entry becomes a distribution or a fixed value.

``parse_space`` reports every problem of the section at once, each keyed by
its YAML path and saying how to fix it. It knows no model: the caller says
which names exist and what values each may take (``Parameter``), or lets any
identifier through (an own objective, ``OpenParameter``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hpsearch.core.errors import ConfigError, ConfigProblem, did_you_mean
from hpsearch.space.links import Known, is_bundle_spec, link_problems, parse_bundle, resolve_conditions
from hpsearch.space.parameters import Parameter, lookup
from hpsearch.space.scales import RANGE_SCALES, SCALES, Choice, Distribution, Legal, choice_key, format_value
from hpsearch.space.search_space import Space

_RANGE_KEYS = ("scale", "low", "high")
_CHOICE_KEYS = ("scale", "choice")
_INT_SCALES = ("int", "int_log")


def parse_space(
    raw: Any,
    prefix: str = "space",
    *,
    parameters: Mapping[str, Parameter] | None,
    fixed: Mapping[str, Any] | None = None,
    fixed_prefix: str = "model",
) -> tuple[Space, dict[str, Any]]:
    """Validate the YAML ``space:`` mapping.

    A value that is a mapping (``{scale: log, low: 1e-4, high: 1}`` or
    ``{choice: [32, 64]}``) is searched; a plain scalar or list is fixed. A
    searched entry may add ``when: {parent: value or [values]}`` (searched only
    when every parent takes one of its values), and a ``choice`` whose items are
    mappings is a bundle (``links``, ``conditions``).

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
    fixed
        Values fixed outside the section (the engine's ``model:``), under
        ``fixed_prefix``: a ``when:`` may name them, and a name both fixed
        there and searched, conditional or set by a bundle here is a problem.

    Returns
    -------
    (space, fixed)
        The searched ``Space`` (each range keeping its parameter's legal
        limits, with its conditions) and the section's fixed values, coerced to their parameter's type.

    Raises
    ------
    ConfigError
        Listing every problem of the section, each keyed ``<prefix>.<name>.<field>``
        and saying how to fix it.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [
                ConfigProblem(
                    prefix,
                    f"must be a mapping of parameter name to range, got {raw!r}",
                    "write e.g. learning_rate: {scale: log, low: 1.0e-4, high: 1}",
                )
            ]
        )
    problems: list[ConfigProblem] = []
    searched: dict[str, Distribution] = {}
    values: dict[str, Any] = {}
    whens: dict[str, Any] = {}
    broken: set[str] = set()
    for name, spec in raw.items():
        n_before = len(problems)
        if isinstance(spec, Mapping) and "when" in spec:
            whens[name], spec = spec["when"], {k: v for k, v in spec.items() if k != "when"}
        entry = _parse_entry(name, spec, f"{prefix}.{name}", parameters, problems)
        if len(problems) > n_before:
            broken.add(name)
        elif isinstance(entry, Distribution):
            searched[name] = entry
        else:
            values[name] = entry[0]
    outside = dict(fixed or {})
    for name in (n for n in raw if n in outside):
        if name not in whens:
            problems.append(
                ConfigProblem(
                    f"{prefix}.{name}",
                    f"is also fixed in {fixed_prefix}.{name}",
                    f"keep it in one of {fixed_prefix}: and {prefix}:",
                )
            )
    known = Known(
        searched,
        {
            **{n: (v, f"{fixed_prefix}.{n}") for n, v in outside.items()},
            **{n: (v, f"{prefix}.{n}") for n, v in values.items()},
        },
        frozenset(broken),
        parameters,
    )
    problems += link_problems(prefix, known, set(whens))
    conditions = resolve_conditions({n: w for n, w in whens.items() if n in searched}, prefix, known, problems)
    if problems:
        raise ConfigError(problems)
    return Space(searched, conditions), values


def _parse_entry(
    name: Any, spec: Any, key: str, parameters: Mapping[str, Parameter] | None, problems: list[ConfigProblem]
) -> Distribution | tuple[Any] | None:
    """One entry of ``space:``: its distribution, ``(value,)`` when fixed, or None after adding its problems."""
    if isinstance(spec, Mapping) and is_bundle_spec(spec):
        return parse_bundle(name, spec, key, parameters, problems)
    hp = lookup(name, key, parameters, problems)
    if hp is None:
        return None
    if not isinstance(spec, Mapping):
        value, message = hp.check(spec)
        if message:
            fix = f"to search it, write {{choice: {spec}}}" if isinstance(spec, list) and hp.kind is not list else ""
            problems.append(ConfigProblem(key, message, fix))
            return None
        return (value,)
    if not hp.searchable:
        problems.append(
            ConfigProblem(
                key,
                f"{name} (explicit layer sizes) cannot be searched",
                "search layers and hidden_units instead, e.g. layers: {scale: int, "
                "low: 1, high: 4} and hidden_units: {scale: int_log, low: 16, high: 512}",
            )
        )
        return None
    return _parse_spec(hp, spec, key, problems)


def _parse_spec(hp: Parameter, spec: Mapping[str, Any], key: str, problems: list[ConfigProblem]) -> Distribution | None:
    """One searched hyperparameter's distribution, or None after adding its problems."""
    n_before = len(problems)
    scale = spec.get("scale", "choice" if "choice" in spec else None)
    if scale not in SCALES:
        if scale is None:
            problems.append(
                ConfigProblem(
                    f"{key}.scale", "missing", "add scale: " + "|".join(RANGE_SCALES) + ", or write {choice: [a, b]}"
                )
            )
        else:
            problems.append(ConfigProblem(f"{key}.scale", f"unknown scale {scale!r}", did_you_mean(str(scale), SCALES)))
        _read_bounds(spec, key, hp.kind is int, problems)  # report a missing bound now, not on the next try
        return None
    allowed = _CHOICE_KEYS if scale == "choice" else _RANGE_KEYS
    for extra in spec:
        if extra not in allowed:
            problems.append(
                ConfigProblem(f"{key}.{extra}", f"unknown key for scale {scale}", did_you_mean(str(extra), allowed))
            )
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
        return (
            f"{hp.name} is an integer; scale {scale} draws fractions",
            f"use scale: {better} (or int / int_log / a choice)",
        )
    if hp.kind is float and scale in _INT_SCALES:
        better = "log" if scale == "int_log" else "uniform"
        return f"{hp.name} is a real number; scale {scale} draws only integers", f"use scale: {better}"
    return None


def _read_bounds(
    spec: Mapping[str, Any], key: str, integer: bool, problems: list[ConfigProblem]
) -> tuple[float, float] | None:
    """``(low, high)`` when both are present and numbers (integers if ``integer``)."""
    bounds: dict[str, float] = {}
    for side in ("low", "high"):
        if side not in spec:
            problems.append(
                ConfigProblem(f"{key}.{side}", "missing", f"add {side}: <{'integer' if integer else 'number'}>")
            )
            continue
        value = spec[side]
        finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not finite or (integer and not float(value).is_integer()):
            problems.append(
                ConfigProblem(
                    f"{key}.{side}",
                    f"must be {'an integer' if integer else 'a finite number'}, got {value!r}",
                    _number_hint(value, integer),
                )
            )
            continue
        bounds[side] = int(value) if integer else float(value)
    return (bounds["low"], bounds["high"]) if len(bounds) == 2 else None


def _number_hint(value: Any, integer: bool) -> str:
    """The fix for a bound that is not a (finite, integer where needed) number."""
    if isinstance(value, str):  # a number YAML reads as text only when quoted (bounded_yaml reads YAML 1.2 floats)
        try:
            if math.isfinite(float(value)):
                return f"write {value.strip()} without quotes"
        except ValueError:
            pass
    if isinstance(value, float) and math.isfinite(value) and integer:
        return f"write an integer, e.g. {math.floor(value)}"
    return f"write {'an integer, e.g. 16' if integer else 'a finite number, e.g. 1e-4'}"


def _parse_range(
    hp: Parameter, scale: str, spec: Mapping[str, Any], key: str, problems: list[ConfigProblem]
) -> Distribution | None:
    integer = scale in _INT_SCALES
    bounds = _read_bounds(spec, key, integer, problems)
    if bounds is None:
        return None
    low, high = bounds
    n_before = len(problems)
    if not low < high:
        problems.append(
            ConfigProblem(
                f"{key}.high",
                f"low < high must hold, but got low={format_value(low)}, high={format_value(high)}",
                "swap them, or fix the value in model: to stop searching it",
            )
        )
    cls = RANGE_SCALES[scale]
    (lo, lo_open), (hi, hi_open) = cls.lower_limit, cls.upper_limit
    bad_low = low < lo or (lo_open and low == lo)
    bad_high = high > hi or (hi_open and high == hi)
    if bad_low and scale in ("log", "int_log"):
        problems.append(
            ConfigProblem(
                f"{key}.low",
                f"a {scale} scale needs low > 0, got {format_value(low)}",
                "use a small positive low such as "
                + ("1" if integer else "1.0e-6")
                + (", or scale: int to include 0" if integer else ", or scale: uniform to include 0"),
            )
        )
    elif bad_low:  # one_minus_log
        problems.append(
            ConfigProblem(
                f"{key}.low",
                f"a 1−β scale needs 0 <= low < high < 1, got low={format_value(low)}",
                "use low >= 0, e.g. 0.9",
            )
        )
    if bad_high:  # only one_minus_log has an upper limit
        problems.append(
            ConfigProblem(
                f"{key}.high",
                f"a 1−β scale needs 0 <= low < high < 1, got high={format_value(high)}",
                "1 − high must be positive: use e.g. 0.999",
            )
        )
    # The range must be legal for the hyperparameter itself (l2 >= 0, keep_prob <= 1, ...).
    for side, value, scale_ok in (("low", low, not bad_low), ("high", high, not bad_high)):
        if scale_ok and hp.check(value)[1]:
            problems.append(
                ConfigProblem(
                    f"{key}.{side}",
                    f"{hp.name} must be {hp.rule()}, got {format_value(value)}",
                    f"keep the range within the legal values of {hp.name}",
                )
            )
    if len(problems) > n_before:
        return None
    return cls(low, high, legal=Legal(hp.low, hp.high, hp.low_open, hp.high_open))


def _parse_choice(
    hp: Parameter, spec: Mapping[str, Any], key: str, problems: list[ConfigProblem]
) -> Distribution | None:
    items = spec.get("choice")
    if not isinstance(items, list):
        problems.append(
            ConfigProblem(
                f"{key}.choice", f"must be a list of values, got {items!r}", "write e.g. choice: [32, 64, 128]"
            )
        )
        return None
    if not items:
        problems.append(
            ConfigProblem(f"{key}.choice", "is empty", "list at least one value, e.g. choice: [32, 64, 128]")
        )
        return None
    choices: list[Any] = []
    seen: set[tuple[type, Any]] = set()  # by type and value: 1, true and 1.0 are three choices; one lookup each
    for i, item in enumerate(items):
        value, message = hp.check(item)
        if not message and not isinstance(value, (str, int, float, bool, type(None))):
            message = f"must be a plain value (number, text, true/false), got {item!r}"
        if message:
            fix = did_you_mean(item, hp.choices) if hp.choices and isinstance(item, str) else ""
            problems.append(ConfigProblem(f"{key}.choice", f"item {i + 1}: {message}", fix))
        elif choice_key(value) in seen:
            problems.append(
                ConfigProblem(f"{key}.choice", f"item {i + 1}: {value!r} is listed twice", "list each value once")
            )
        else:
            seen.add(choice_key(value))
            choices.append(value)
    return Choice(tuple(choices)) if choices else None  # every item was wrong: its problems say why
