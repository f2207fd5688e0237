"""A typed config key: its type, default, help and legal range (used by the engine's and the data section's keys)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hyperparameter:
    """One engine hyperparameter.

    ``kind`` is the Python type of a value (``int``, ``float``, ``bool``, ``str``
    or ``list`` for ``hidden``). ``low``/``high`` bound the legal range of a
    numeric value (``None`` = unbounded); ``*_open`` excludes the bound itself.
    """

    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def searchable(self) -> bool:
        """Whether it may appear under ``space:`` (numbers and named choices)."""
        return self.kind in (int, float, bool, str)

    def rule(self) -> str:
        """The legal range in words, e.g. ``0 < value <= 1``."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.kind is list:
            return "a list of positive integers"
        if self.kind is bool:
            return "true or false"
        parts = []
        if self.low is not None:
            parts.append(f"{_fmt(self.low)} {'<' if self.low_open else '<='} ")
        parts.append("value")
        if self.high is not None:
            parts.append(f" {'<' if self.high_open else '<='} {_fmt(self.high)}")
        word = "an integer" if self.kind is int else "a number"
        return f"{word}, {''.join(parts)}" if len(parts) > 1 else word

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Coerce ``value`` to this hyperparameter's type.

        Returns ``(value, None)`` when legal, else ``(None, message)``.
        """
        if self.kind is list:
            if (
                isinstance(value, list)
                and value
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            ):
                return list(value), None
            return None, f"must be {self.rule()}, got {value!r}"
        if self.kind is bool:
            if isinstance(value, bool):
                return value, None
            return None, f"must be true or false, got {value!r}"
        if self.kind is str:
            if isinstance(value, str) and (self.choices is None or value in self.choices):
                return value, None
            return None, f"must be {self.rule()}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"must be {self.rule()}, got {value!r}"
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                return None, f"must be {self.rule()}, got {value!r}"
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                return None, f"must be {self.rule()}, got {value!r}"
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return None, f"must be {self.rule()}, got {value!r}"
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return None, f"must be {self.rule()}, got {value!r}"
        return value, None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)
