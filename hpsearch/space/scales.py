"""Search spaces: where each searched hyperparameter is allowed to look, on its own scale.

Every distribution maps its values to and from the unit interval, so samplers
draw in the unit cube ``[0, 1]^d`` and zoom shrinks a box in that cube without
ever knowing whether a parameter is log-scaled or categorical. A distribution
is "on its own scale" when equal steps in ``u`` are equal steps of:

=================  ==============================  ====================================
scale              unit coordinate is linear in     e.g.
=================  ==============================  ====================================
``uniform``        ``x``                           ``l2`` in [0, 0.01]
``log``            ``log10(x)``                    ``learning_rate`` in [1e-4, 1]
``one_minus_log``  ``-log10(1 - x)``               ``beta1`` in [0.9, 0.999]: the averaging
                                                   window ``1/(1 - β)`` grows 10× per decade
``int``            ``x`` in ``[low-½, high+½]``    ``layers`` in 1..4, each value equally likely
``int_log``        ``ln x`` in ``[low-½, high+½]`` ``hidden_units`` in 16..512
``choice``         the index of the choice         ``batch_size`` in {32, 64, 128}
=================  ==============================  ====================================

The YAML ``space:`` section is parsed by ``parse_space``, which reports every
problem of the section at once. This module knows no model: the caller says
which names exist and what values each may take (``Parameter``), or lets any
identifier through (an own objective). A range keeps its parameter's legal
limits (``Legal``, e.g. ``l2 >= 0``) in its JSON, so zoom --expand on a stored
run knows how far it may go.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

import numpy as np

from hpsearch.core.errors import ConfigError, ConfigProblem, did_you_mean


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


@dataclass(frozen=True)
class Legal:
    """The values a parameter may take at all, whatever range is searched: ``l2 >= 0``, ``beta < 1``.

    ``None`` is unbounded; ``*_open`` excludes the limit itself. The scale has
    limits of its own (a log scale needs ``x > 0``); ``_Range.limit`` combines both.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @classmethod
    def of(cls, parameter: Parameter) -> "Legal":
        """The legal limits of a numeric parameter."""
        return cls(parameter.low, parameter.high, parameter.low_open, parameter.high_open)

    def admits(self, value: float) -> bool:
        """Whether ``value`` is within the limits."""
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def intersect(self, other: "Legal") -> "Legal":
        """The tighter limit on each side."""
        low, low_open = _tighter((self.low, self.low_open), (other.low, other.low_open), max)
        high, high_open = _tighter((self.high, self.high_open), (other.high, other.high_open), min)
        return Legal(low, high, low_open, high_open)

    def to_json(self) -> dict[str, Any]:
        """The limits that are set (an unbounded side is left out)."""
        out: dict[str, Any] = {}
        for side in ("low", "high"):
            if getattr(self, side) is not None:
                out[side] = getattr(self, side)
                out[f"{side}_open"] = getattr(self, f"{side}_open")
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Legal":
        return cls(d.get("low"), d.get("high"), bool(d.get("low_open", False)), bool(d.get("high_open", False)))


def _tighter(a: tuple[float | None, bool], b: tuple[float | None, bool], pick: Any) -> tuple[float | None, bool]:
    """The tighter of two ``(limit, open)`` (``pick`` is max for a low limit, min for a high one)."""
    if a[0] is None:
        return b
    if b[0] is None or a[0] != b[0]:
        return a if b[0] is None or pick(a[0], b[0]) == a[0] else b
    return a[0], a[1] or b[1]


class Distribution(ABC):
    """Where one hyperparameter is searched: a frozen, validated value object.

    Subclasses are frozen dataclasses. ``to_unit``/``from_unit`` are the one
    transform between a value and its coordinate in ``[0, 1]`` on the
    parameter's own scale; uniform ``u`` gives values distributed on that scale.
    """

    scale: ClassVar[str]
    is_numeric: ClassVar[bool]

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The unit coordinate of ``value`` (in ``[0, 1]`` for a value within the bounds)."""

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at unit coordinate ``u``, as a plain Python int, float or choice item."""

    @abstractmethod
    def narrowed(self, u_low: float, u_high: float) -> "Distribution":
        """The same scale restricted to the unit interval ``[u_low, u_high]``."""

    @abstractmethod
    def center(self) -> Any:
        """The value a single run uses when none is given: the middle on its own scale."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict that ``distribution_from_json`` turns back into this."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, e.g. ``log [0.0001, 1]``."""


@dataclass(frozen=True)
class _Range(Distribution):
    """A numeric range ``[low, high]``; uniform in ``t = _forward(x)`` between the edges.

    ``low == high`` is accepted so that a zoom may collapse an integer range to
    one value; user input is held to ``low < high`` by ``parse_space``.
    ``legal`` holds the parameter's own limits (``Legal()``: none but the scale's).
    """

    low: float
    high: float
    legal: Legal = field(default=Legal(), kw_only=True)

    is_numeric: ClassVar[bool] = True
    #: The values the scale can represent at all, as ``(limit, open)``:
    #: a log scale needs ``x > 0``, a 1−β scale ``0 <= x < 1``.
    lower_limit: ClassVar[tuple[float, bool]] = (-math.inf, False)
    upper_limit: ClassVar[tuple[float, bool]] = (math.inf, False)
    label: ClassVar[str]

    def __post_init__(self) -> None:
        for side in ("low", "high"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ValueError(f"{type(self).__name__}.{side} must be a finite number, got {value!r}")
            object.__setattr__(self, side, self._bound(value))
        if not self.low <= self.high:
            raise ValueError(f"{type(self).__name__}: low <= high must hold, but got low={self.low}, high={self.high}")
        (lo, lo_open), (hi, hi_open) = self.lower_limit, self.upper_limit
        if self.low < lo or (lo_open and self.low == lo) or self.high > hi or (hi_open and self.high == hi):
            raise ValueError(
                f"{type(self).__name__} needs {lo} {'<' if lo_open else '<='} low and "
                f"high {'<' if hi_open else '<='} {hi}, but got low={self.low}, high={self.high}"
            )
        if not (self.legal.admits(self.low) and self.legal.admits(self.high)):
            raise ValueError(f"{type(self).__name__}: [{self.low}, {self.high}] leaves the legal values {self.legal}")

    def limit(self, side: str) -> tuple[float, bool]:
        """The farthest value a bound may take on ``side`` (``"low"``/``"high"``), as ``(limit, open)``.

        The tighter of the scale's own limit (a log scale needs ``x > 0``) and the parameter's ``legal`` one.
        """
        if side == "low":
            return _tighter(self.lower_limit, (self.legal.low, self.legal.low_open), max)  # type: ignore[return-value]
        return _tighter(self.upper_limit, (self.legal.high, self.legal.high_open), min)  # type: ignore[return-value]

    # -- the scale: a monotone map from values to a line where draws are uniform
    @staticmethod
    @abstractmethod
    def _forward(x: float) -> float: ...

    @staticmethod
    @abstractmethod
    def _inverse(t: float) -> float: ...

    def _bound(self, x: Any) -> float:
        """A bound as this range's number type."""
        return float(x)

    def _edges(self) -> tuple[float, float]:
        """The interval of ``t`` that ``u`` in ``[0, 1]`` spans."""
        return self._forward(self.low), self._forward(self.high)

    def to_unit(self, value: Any) -> float:
        t0, t1 = self._edges()
        if t1 == t0:  # a collapsed range: its one value sits in the middle
            return 0.5
        return (self._forward(value) - t0) / (t1 - t0)

    def from_unit(self, u: float) -> Any:
        """The value at ``u``; outside ``[0, 1]`` it extrapolates along the scale (for zoom --expand)."""
        t0, t1 = self._edges()
        x = float(self._inverse(t0 + float(u) * (t1 - t0)))
        if 0.0 <= u <= 1.0:  # round-off (10**log10(x) != x) must never leave the bounds
            x = min(max(x, self.low), self.high)
        return x

    def narrowed(self, u_low: float, u_high: float) -> "_Range":
        return replace(self, low=self.from_unit(u_low), high=self.from_unit(u_high))

    def center(self) -> Any:
        return self.from_unit(0.5)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scale": self.scale, "low": self.low, "high": self.high}
        if self.legal != Legal():
            out["legal"] = self.legal.to_json()
        return out

    def describe(self) -> str:
        # 6 significant digits: a zoomed bound reads 0.885087, not 0.8850867514401265,
        # while a beta as close to 1 as 0.99995 keeps its digits.
        return f"{self.label} [{format_value(_short(self.low))}, {format_value(_short(self.high))}]"


class _LinearAxis:
    """Draws uniform in ``x`` itself."""

    @staticmethod
    def _forward(x: float) -> float:
        return x

    @staticmethod
    def _inverse(t: float) -> float:
        return t


class _LogAxis:
    """Draws uniform in ``log10(x)``."""

    @staticmethod
    def _forward(x: float) -> float:
        return math.log10(x)

    @staticmethod
    def _inverse(t: float) -> float:
        return 10.0**t


@dataclass(frozen=True)
class Uniform(_LinearAxis, _Range):
    """Uniform in ``x``."""

    scale: ClassVar[str] = "uniform"
    label: ClassVar[str] = "uniform"


@dataclass(frozen=True)
class Log(_LogAxis, _Range):
    """Uniform in ``log10(x)``: each decade of ``[low, high]`` gets the same share of draws."""

    scale: ClassVar[str] = "log"
    label: ClassVar[str] = "log"
    lower_limit: ClassVar[tuple[float, bool]] = (0.0, True)


@dataclass(frozen=True)
class OneMinusLog(_Range):
    """Uniform in ``log10(1 - x)``: ``[0.9, 0.999]`` puts half the draws above 0.99.

    Suits momentum-like β, whose averaging window ``1/(1 - β)`` changes fastest near 1.
    """

    scale: ClassVar[str] = "one_minus_log"
    label: ClassVar[str] = "1−β log"
    lower_limit: ClassVar[tuple[float, bool]] = (0.0, False)
    upper_limit: ClassVar[tuple[float, bool]] = (1.0, True)

    # t = -log10(1 - x) rather than log10(1 - x) so that t, like x, increases
    # with u: the low bound stays at u = 0 and zoom's "low"/"high" keep their meaning.
    @staticmethod
    def _forward(x: float) -> float:
        return -math.log10(1.0 - x)

    @staticmethod
    def _inverse(t: float) -> float:
        return 1.0 - 10.0 ** (-t)


@dataclass(frozen=True)
class _IntRange(_Range):
    """Integers ``low..high``: ``t`` spans ``[low - ½, high + ½]`` and rounds to the nearest integer.

    Each integer owns an equal slice of ``t`` (width 1 for ``Int``, ``log10((k+½)/(k-½))``
    for ``IntLog``), so the end values are as likely as their neighbours.
    """

    low: int
    high: int

    def _bound(self, x: Any) -> int:
        if not float(x).is_integer():
            raise ValueError(f"{type(self).__name__} bounds must be integers, got {x!r}")
        return int(x)

    def _edges(self) -> tuple[float, float]:
        return self._forward(self.low - 0.5), self._forward(self.high + 0.5)

    def from_unit(self, u: float) -> int:
        t0, t1 = self._edges()
        x = math.floor(self._inverse(t0 + float(u) * (t1 - t0)) + 0.5)
        if 0.0 <= u <= 1.0:  # u = 1 lands on high + ½, which rounds up
            x = min(max(x, self.low), self.high)
        return x


@dataclass(frozen=True)
class Int(_LinearAxis, _IntRange):
    """Integers, each equally likely."""

    scale: ClassVar[str] = "int"
    label: ClassVar[str] = "int"


@dataclass(frozen=True)
class IntLog(_LogAxis, _IntRange):
    """Integers, uniform in ``log x``: 16..32 is as likely as 256..512."""

    scale: ClassVar[str] = "int_log"
    label: ClassVar[str] = "int log"
    lower_limit: ClassVar[tuple[float, bool]] = (1.0, False)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of a list of values (any YAML scalars), each equally likely.

    Choice ``i`` of ``n`` owns the unit slice ``[i/n, (i+1)/n)``; its coordinate is the slice's middle.
    """

    choices: tuple[Any, ...]

    scale: ClassVar[str] = "choice"
    is_numeric: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise ValueError("Choice needs at least one choice")

    def to_unit(self, value: Any) -> float:
        return (self.choices.index(value) + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[min(max(int(math.floor(float(u) * n)), 0), n - 1)]

    def narrowed(self, u_low: float, u_high: float) -> "Choice":
        """The choices whose slice middle lies in ``[u_low, u_high]`` (at least the one at its centre)."""
        kept = tuple(c for c in self.choices if u_low <= self.to_unit(c) <= u_high)
        return Choice(kept or (self.from_unit((u_low + u_high) / 2),))

    def center(self) -> Any:
        return self.choices[0]

    def to_json(self) -> dict[str, Any]:
        return {"choice": list(self.choices)}

    def describe(self) -> str:
        return "choice {" + ", ".join(format_value(c) for c in self.choices) + "}"


RANGE_SCALES: dict[str, type[_Range]] = {cls.scale: cls for cls in (Uniform, Log, OneMinusLog, Int, IntLog)}
SCALES: tuple[str, ...] = (*RANGE_SCALES, Choice.scale)


def distribution_from_json(d: Mapping[str, Any]) -> Distribution:
    """The distribution ``Distribution.to_json`` wrote (a range without ``legal``, as older runs stored it, has none)."""
    if "choice" in d:
        return Choice(tuple(d["choice"]))
    return RANGE_SCALES[d["scale"]](d["low"], d["high"], legal=Legal.from_json(d.get("legal") or {}))


def _short(x: float) -> float:
    return float(f"{x:.6g}")


def format_value(x: Any) -> str:
    """A value as a user would write it in YAML: ``0.0001``, ``1``, ``relu``, ``true``."""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


class Space(Mapping[str, Distribution]):
    """The searched hyperparameters: name -> distribution, names always in sorted order.

    Unit vectors have one coordinate per name, in ``names`` order.
    """

    def __init__(self, distributions: Mapping[str, Distribution]):
        self._distributions = {name: distributions[name] for name in sorted(distributions)}
        self.names: tuple[str, ...] = tuple(self._distributions)

    def __getitem__(self, name: str) -> Distribution:
        return self._distributions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Space({self._distributions!r})"

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """Unit coordinates of one trial's values, shape ``(d,)`` in ``names`` order."""
        return np.array([self[name].to_unit(params[name]) for name in self.names], dtype=float)

    def from_unit(self, u: np.ndarray) -> dict[str, Any]:
        """The values at unit point ``u`` of shape ``(d,)``."""
        if np.shape(u) != (len(self.names),):
            raise ValueError(f"expected a unit point of shape ({len(self.names)},), got {np.shape(u)}")
        return {name: self[name].from_unit(float(ui)) for name, ui in zip(self.names, u)}

    def center(self) -> dict[str, Any]:
        """Each parameter's centre on its own scale (a choice: its first)."""
        return {name: dist.center() for name, dist in self.items()}

    def to_json(self) -> dict[str, Any]:
        return {name: dist.to_json() for name, dist in self.items()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Space":
        return cls({name: distribution_from_json(spec) for name, spec in d.items()})

    def with_legal_from(self, other: "Space") -> "Space":
        """A copy whose ranges that have no legal limits take those of the same range in ``other``.

        A run stored before ranges kept their limits gets them back from its config's space.
        """
        out: dict[str, Distribution] = {}
        for name, dist in self.items():
            source = other.get(name)
            if isinstance(dist, _Range) and dist.legal == Legal() and isinstance(source, _Range):
                dist = replace(dist, legal=source.legal)
            out[name] = dist
        return Space(out)


def envelope(spaces: list[Space]) -> Space:
    """The bounding box of several spaces over the same names: widest bounds, union of choices.

    A zoom uses it as its reference, so that a round zoomed with ``--expand``
    beyond the first round's bounds widens the box later rounds clip to.
    """
    if not spaces:
        raise ValueError("envelope needs at least one space")
    names = spaces[0].names
    if any(s.names != names for s in spaces):
        raise ValueError(f"spaces searched different hyperparameters: {[s.names for s in spaces]}")
    out: dict[str, Distribution] = {}
    for name in names:
        dists = [s[name] for s in spaces]
        first = dists[0]
        if any(type(d) is not type(first) for d in dists):
            raise ValueError(f"{name} changed scale between spaces: {[d.scale for d in dists]}")
        if not first.is_numeric:
            union = dict.fromkeys(c for d in dists for c in d.choices)  # ordered, first seen first
            out[name] = Choice(tuple(union))
        else:
            legal = first.legal
            for d in dists[1:]:
                legal = legal.intersect(d.legal)
            out[name] = replace(first, low=min(d.low for d in dists), high=max(d.high for d in dists), legal=legal)
    return Space(out)


# ---------------------------------------------------------------------------
# The YAML ``space:`` section

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
    return cls(low, high, legal=Legal.of(hp))


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
