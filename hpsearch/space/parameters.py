"""What the space layer needs to know about a parameter: its type and legal values, or that anything goes.

The engine's ``Hyperparameter`` is a ``Parameter``; an own objective's are
``OpenParameter``s. ``lookup`` turns a YAML name into one, or says why it is none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hpsearch.core.errors import ConfigProblem, did_you_mean


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


def lookup(
    name: Any, key: str, parameters: Mapping[str, Parameter] | None, problems: list[ConfigProblem]
) -> Parameter | None:
    """The rules of ``name``, or None after adding why it is not a parameter."""
    if parameters is not None:
        hp = parameters.get(name) if isinstance(name, str) else None
        if hp is None:
            problems.append(ConfigProblem(key, "unknown hyperparameter", did_you_mean(str(name), parameters)))
        return hp
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(
            ConfigProblem(
                key,
                "is not a valid parameter name",
                "use letters, digits and _ not starting with a digit, e.g. learning_rate",
            )
        )
        return None
    return OpenParameter(name)
