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

A range keeps its parameter's legal limits (``Legal``, e.g. ``l2 >= 0``) in
its JSON, so zoom --expand on a stored run knows how far it may go. The
searched parameters together are a ``Space`` (``search_space``); the YAML
``space:`` section becomes one in ``parsing``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np


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
        # Each choice's position by type and value (the first if listed twice): one lookup, not a scan.
        index: dict[tuple[type, Any], int] = {}
        for i, c in enumerate(self.choices):
            index.setdefault(choice_key(c), i)
        object.__setattr__(self, "_index", index)

    def index(self, value: Any) -> int:
        """The position of ``value`` among the choices, by type and value (ValueError if it is none of them)."""
        try:
            return self._index[choice_key(value)]  # type: ignore[attr-defined]
        except KeyError:
            raise ValueError(f"{value!r} is not one of the choices") from None

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[min(max(int(math.floor(float(u) * n)), 0), n - 1)]

    def narrowed(self, u_low: float, u_high: float) -> "Choice":
        """The choices whose slice middle lies in ``[u_low, u_high]`` (at least the one at its centre)."""
        kept = [c for c in self.choices if u_low <= self.to_unit(c) <= u_high]
        return self.subset(kept or [self.from_unit((u_low + u_high) / 2)])

    def subset(self, values: Iterable[Any]) -> "Choice":
        """The choices that are among ``values``, in this choice's order (a subclass keeps what goes with them)."""
        keys = {choice_key(v) for v in values}
        return Choice(tuple(c for c in self.choices if choice_key(c) in keys))

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


def choice_key(value: Any) -> tuple[type, Any]:
    """What tells one choice from another: its type and value. Python has ``1 == True == 1.0``; a search
    space does not (``choice: [1, true, 1.0]`` is three choices, and ``when: {a: true}`` never names ``1``)."""
    return (type(value), value)


def named_by(value: Any, candidates: Iterable[Any]) -> list[Any]:
    """The ``candidates`` that a written ``value`` names: those of its type and value, else, for a number,
    those equal to it as numbers (``when: {lr: 1}`` names the choice ``1.0``); a bool never names a number."""
    candidates = list(candidates)
    exact = [c for c in candidates if choice_key(c) == choice_key(value)]
    if exact or isinstance(value, bool) or not isinstance(value, (int, float)):
        return exact
    return [c for c in candidates if isinstance(c, (int, float)) and not isinstance(c, bool) and c == value]


def _short(x: float) -> float:
    return float(f"{x:.6g}")


def format_value(x: Any) -> str:
    """A value as a user would write it in YAML: ``0.0001``, ``1``, ``relu``, ``true``."""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)
