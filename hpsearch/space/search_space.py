"""The searched hyperparameters together: a ``Space`` maps each name to its distribution.

Names are always in sorted order, and a unit point has one coordinate per name
in that order, so a plan depends on the names and distributions alone.
``envelope`` is the bounding box of several rounds' spaces, the reference a zoom measures in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from hpsearch.space.scales import Choice, Distribution, Legal, _Range, distribution_from_json


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
