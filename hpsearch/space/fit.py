"""Whether given parameter values are a point of a space: the one check of an enqueued point and a warm trial.

``search.enqueue`` names some parameters (the others are drawn); a warm-start trial of an earlier run names all
it used. Both must sit inside the space, each named parameter active under the named values, so that a point
trained or counted as history is one the space itself could have drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpsearch.space.scales import Choice, _IntRange, _Range, format_value, named_by
from hpsearch.space.search_space import Space

#: The kinds of misfit, in the order they are reported.
OUTSIDE, MISSING, CONDITION = "outside bounds", "parameter missing", "condition violated"
MISFITS = (OUTSIDE, MISSING, CONDITION)


@dataclass(frozen=True)
class Misfit:
    """Why a point is not one of a space: its ``kind`` (one of ``MISFITS``), the parameter, and the words."""

    kind: str
    name: str
    message: str


def value_in(space: Space, name: str, value: Any) -> Any:
    """``value`` as the space's parameter ``name`` holds it (an integer as int, a choice as written there), or
    None when it is not one of its values."""
    dist = space[name]
    if isinstance(dist, Choice):
        named = named_by(value, dist.choices)
        return named[0] if named else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if isinstance(dist, _IntRange):
        if not float(value).is_integer():
            return None
        value = int(value)
    elif isinstance(dist, _Range):
        value = float(value)
    return value if dist.low <= value <= dist.high else None  # type: ignore[attr-defined]


def misfit(space: Space, params: Mapping[str, Any], *, partial: bool = False) -> Misfit | None:
    """The first reason ``params`` is not a point of ``space`` (None: it is).

    ``partial``: the names left out are drawn later (an enqueued point), so only a name missing from the space
    is missing; a named conditional parameter then needs its parents named too. Otherwise (a finished trial)
    every parameter active under ``params`` must be there, and no other. What a named bundle's options spell
    out (``Space.trial_params``) is the bundle's, not checked on its own.
    """
    spelled = {key for name, bundle in space.bundles.items() if name in params for key in bundle.keys}
    params = {name: value for name, value in params.items() if name in space or name not in spelled}
    for name in params:
        if name not in space:
            return Misfit(MISSING, name, f"{name} is not searched by this space")
    for name, value in params.items():
        if value_in(space, name, value) is None:
            return Misfit(OUTSIDE, name, f"{format_value(value)} is outside {space[name].describe()}")
    values = {name: value_in(space, name, value) for name, value in params.items()}
    active = set(space.active_names(values))
    for name in params:
        if name not in active:
            condition = space.conditions[name]
            needs = ", ".join(f"{p} in [{', '.join(format_value(v) for v in vs)}]" for p, vs in condition.requires)
            return Misfit(CONDITION, name, f"{name} applies only when {needs}")
    if not partial:
        for name in sorted(active - set(params)):
            return Misfit(MISSING, name, f"{name} is searched but the trial has no value for it")
    return None


def fitted(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` (a point ``misfit`` accepts) with each value as the space holds it."""
    return {name: value_in(space, name, value) for name, value in params.items()}
