"""The searched hyperparameters together: a ``Space`` maps each name to its distribution.

Names are always in sorted order, and a unit point has one coordinate per name
in that order, so a plan depends on the names and distributions alone.
A space may hold conditions (``when:``) and bundles (see ``conditions``): a
trial still draws every coordinate, and ``trial_params`` then drops the
inactive parameters and spells out the chosen bundle options.
``envelope`` is the bounding box of several rounds' spaces, the reference a zoom measures in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from hpsearch.space.conditions import Bundle, Condition, bundle_from_json, is_bundle_json, parents_first
from hpsearch.space.scales import (
    Choice,
    Distribution,
    Legal,
    _IntRange,
    _Range,
    choice_key,
    distribution_from_json,
    named_by,
)


def _named_choices(condition: Condition, dists: Mapping[str, Distribution]) -> Condition:
    """``condition`` with each value a choice of its parent names put as that choice: a round stored before
    choices were told apart by type may say ``1`` where the choice is ``1.0``."""

    def named(parent: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
        dist = dists.get(parent)
        if not isinstance(dist, Choice):
            return values
        return tuple({choice_key(c): c for v in values for c in (named_by(v, dist.choices) or [v])}.values())

    return Condition(tuple((parent, named(parent, values)) for parent, values in condition.requires))


class Space(Mapping[str, Distribution]):
    """The searched hyperparameters: name -> distribution, names always in sorted order.

    Unit vectors have one coordinate per name, in ``names`` order, whether or
    not a parameter is active in a trial. ``conditions`` maps a conditional
    parameter to its ``Condition``; its parents are choices (bundles included)
    or integer ranges of this space.
    """

    def __init__(self, distributions: Mapping[str, Distribution], conditions: Mapping[str, Condition] | None = None):
        self._distributions = {name: distributions[name] for name in sorted(distributions)}
        self.names: tuple[str, ...] = tuple(self._distributions)
        self.conditions: dict[str, Condition] = {name: (conditions or {})[name] for name in sorted(conditions or {})}
        for name, condition in self.conditions.items():
            if name not in self._distributions:
                raise ValueError(f"condition on {name!r}, which the space does not search")
            for parent in condition.parents:
                if not isinstance(self._distributions.get(parent), (Choice, _IntRange)):
                    raise ValueError(
                        f"{name} depends on {parent!r}, which is not a choice or an integer range of the space"
                    )
        self._parents_first = parents_first(self.names, self.conditions)  # raises on a cycle

    def __getitem__(self, name: str) -> Distribution:
        return self._distributions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return self._distributions == other._distributions and self.conditions == other.conditions

    def __repr__(self) -> str:
        conditions = f", conditions={self.conditions!r}" if self.conditions else ""
        return f"Space({self._distributions!r}{conditions})"

    @property
    def bundles(self) -> dict[str, Bundle]:
        """The bundles among the searched parameters, by name."""
        return {name: dist for name, dist in self.items() if isinstance(dist, Bundle)}

    @property
    def parent_names(self) -> tuple[str, ...]:
        """The names some condition depends on, each after its own parents."""
        used = {parent for condition in self.conditions.values() for parent in condition.parents}
        return tuple(name for name in self._parents_first if name in used)

    def active_names(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The names active under ``params`` (a full draw or a trial's params), in ``names`` order.

        A name is active when it has no condition, or when each of its parents
        is active and takes one of the values its condition allows.
        """
        if not self.conditions:
            return self.names
        active: set[str] = set()
        for name in self._parents_first:
            condition = self.conditions.get(name)
            if condition is None or condition.holds(params, active):
                active.add(name)
        return tuple(name for name in self.names if name in active)

    def trial_params(self, full: Mapping[str, Any]) -> dict[str, Any]:
        """What a trial gets from a full assignment (every name): active names only, bundles spelled out.

        An active bundle keeps its label under its own name and adds what its
        option sets. With no condition and no bundle this is ``full`` itself.
        """
        bundles = self.bundles
        if not self.conditions and not bundles:
            return dict(full)
        out = {name: full[name] for name in self.active_names(full)}
        for name, bundle in bundles.items():
            if name in out:
                out.update(bundle.option(out[name]))
        return out

    def objective_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's params as the objective takes them: without the bundles' labels (their options are there)."""
        bundles = self.bundles
        return {name: value for name, value in params.items() if name not in bundles}

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """Unit coordinates of one trial's values, shape ``(d,)`` in ``names`` order (every name needed)."""
        return np.array([self[name].to_unit(params[name]) for name in self.names], dtype=float)

    def unit_rows(self, trials: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Unit coordinates of several trials' params, shape ``(n, d)``: NaN where a name is inactive or absent.

        What TPE (``plan_tpe``) and importance take.
        """
        rows = []
        for params in trials:
            active = set(self.active_names(params))
            rows.append(
                [
                    self[name].to_unit(params[name]) if name in active and name in params else np.nan
                    for name in self.names
                ]
            )
        return np.array(rows, dtype=float).reshape(len(rows), len(self.names))

    def from_unit(self, u: np.ndarray) -> dict[str, Any]:
        """The values at unit point ``u`` of shape ``(d,)``: every name, active or not (see ``trial_params``)."""
        if np.shape(u) != (len(self.names),):
            raise ValueError(f"expected a unit point of shape ({len(self.names)},), got {np.shape(u)}")
        return {name: self[name].from_unit(float(ui)) for name, ui in zip(self.names, u)}

    def center(self) -> dict[str, Any]:
        """Each parameter's centre on its own scale (a choice: its first), every name (see ``trial_params``)."""
        return {name: dist.center() for name, dist in self.items()}

    def with_distributions(self, distributions: Mapping[str, Distribution]) -> "Space":
        """The same names and conditions over new distributions (a zoomed box)."""
        return Space(distributions, self.conditions)

    def to_json(self) -> dict[str, Any]:
        """Each name's distribution, with ``when`` added where it is conditional (as the YAML writes it)."""
        out = {name: dist.to_json() for name, dist in self.items()}
        for name, condition in self.conditions.items():
            out[name]["when"] = condition.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Space":
        dists: dict[str, Distribution] = {}
        conditions: dict[str, Condition] = {}
        for name, spec in d.items():
            spec = dict(spec)
            if "when" in spec:
                conditions[name] = Condition.from_json(spec.pop("when"))
            dists[name] = bundle_from_json(spec) if is_bundle_json(spec) else distribution_from_json(spec)
        return cls(dists, {name: _named_choices(c, dists) for name, c in conditions.items()})

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
        return self.with_distributions(out)


def envelope(spaces: list[Space]) -> Space:
    """The bounding box of several spaces over the same names: widest bounds, union of choices.

    The spaces share their conditions (every round of a run does); the first's are kept.

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
        if isinstance(first, Bundle):
            options = {label: d.option(label) for d in reversed(dists) for label in d.choices}
            labels = list(dict.fromkeys(c for d in dists for c in d.choices))
            out[name] = Bundle.of([options[label] for label in labels], labels if first.named else None)
        elif not first.is_numeric:
            union: dict[tuple[type, Any], Any] = {}  # by type and value, first seen first
            for c in (c for d in dists for c in d.choices):
                union.setdefault(choice_key(c), c)
            out[name] = Choice(tuple(union.values()))
        else:
            legal = first.legal
            for d in dists[1:]:
                legal = legal.intersect(d.legal)
            out[name] = replace(first, low=min(d.low for d in dists), high=max(d.high for d in dists), legal=legal)
    return spaces[0].with_distributions(out)
