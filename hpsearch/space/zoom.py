"""Coarse to fine: the next round's space is a box around the best trials so far.

The box is computed in the reference space's unit cube, where every parameter
is on its own scale, so zooming a log parameter zooms on ``log10(x)`` and
zooming a 1−β parameter zooms on ``log10(1 - β)`` with no special case.
It knows no model: how far a bound may move is what each range's scale and
stored legal limits allow (``_Range.limit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from hpsearch.space.scales import Choice, Distribution
from hpsearch.space.search_space import Space

#: The narrowest box a zoom returns, in the reference's unit coordinates, so
#: that top trials all equal on a parameter (with margin 0) still leave room to search.
MIN_UNIT_WIDTH = 0.02


@dataclass(frozen=True)
class EdgeHint:
    """The best trial sits at a bound of the space searched so far: the optimum may lie beyond it."""

    name: str
    side: str  # "low" | "high"
    message: str


@dataclass(frozen=True)
class ZoomResult:
    """The next round's space and the bounds the best trial sits at."""

    space: Space
    edges: list[EdgeHint]


def zoom_space(
    reference: Space,
    top: list[dict[str, Any]],
    *,
    margin: float = 0.1,
    expand: bool = False,
    edge_tolerance: float = 0.05,
) -> ZoomResult:
    """The box around the ``top`` trials, and where they sit at a bound of ``reference``.

    Parameters
    ----------
    reference
        The space whose unit coordinates measure the box and whose bounds clip
        it (the envelope of every round so far).
    top
        Params of the top-K ok trials, best first. A conditional parameter's
        box comes from the trials where it was active (its edge hints from the
        best of them); when it was active in none, the reference's range is kept.
    margin
        Each numeric span ``[min u, max u]`` of the top trials grows by
        ``margin`` (in unit coordinates) on each side, then is clipped to
        ``[0, 1]``; it is at least ``MIN_UNIT_WIDTH`` wide.
    expand
        On a side with an edge hint, the box's bound moves outward by the box's
        own width (past the reference bound, extrapolating along the scale)
        instead of clipping to it — but never past what the parameter's legal
        limits stored in the range or the scale can take (``l2 >= 0``,
        ``beta < 1``, ``learning_rate > 0``).
    edge_tolerance
        The best trial is "at" a bound when within this distance of it in unit coordinates.

    Returns
    -------
    ZoomResult
        The new space (same names, scales and conditions; a choice or a bundle
        keeps the choices that appear in ``top``) and one hint per bound the best trial sits at.
    """
    if not top:
        raise ValueError("zoom needs at least one trial")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    new: dict[str, Distribution] = {}
    edges: list[EdgeHint] = []
    active = [set(reference.active_names(params)) & set(params) for params in top]
    for name, dist in reference.items():
        # A conditional parameter is measured on the top trials where it was active only.
        values = [params[name] for params, names in zip(top, active) if name in names]
        if not values:  # inactive in every top trial: nothing says where to look, keep the range
            new[name] = dist
            continue
        if isinstance(dist, Choice):
            new[name] = dist.subset(values)
            continue
        lo, hi = _unit_box([dist.to_unit(v) for v in values], margin)
        box = dist.narrowed(lo, hi)
        who = "the best trial" if name in active[0] else "the best trial that uses it"  # the best may not
        for side in _sides_at_edge(dist, values[0], edge_tolerance):
            bound = getattr(dist, side)
            # "at" only when the best value is the bound itself; otherwise say how near, with the value.
            where = (
                f"at the {side} bound {bound:g}"
                if values[0] == bound
                else f"near the {side} bound {bound:g} (best {values[0]:.3g})"
            )
            if expand:
                # Extrapolate one box width past the clipped box, along the scale.
                outward = lo - (hi - lo) if side == "low" else hi + (hi - lo)
                moved = _within_limits(dist, side, dist.from_unit(outward))
                box = replace(box, **{side: moved})
                message = f"{name}: {who} sits {where} — expanded it to {moved:.4g}"
            else:
                message = f"{name}: {who} sits {where} — widen space.{name}.{side} (or zoom --expand)"
            edges.append(EdgeHint(name, side, message))
        # from_unit(to_unit(x)) may differ from x in the last bit: never let
        # round-off push a top trial out of its own box.
        new[name] = replace(box, low=min(box.low, min(values)), high=max(box.high, max(values)))
    return ZoomResult(reference.with_distributions(new), edges)


def _unit_box(u: list[float], margin: float) -> tuple[float, float]:
    """``[min u - margin, max u + margin]``, at least ``MIN_UNIT_WIDTH`` wide, clipped to ``[0, 1]``."""
    lo, hi = min(u) - margin, max(u) + margin
    if hi - lo < MIN_UNIT_WIDTH:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_UNIT_WIDTH / 2, mid + MIN_UNIT_WIDTH / 2
    return max(lo, 0.0), min(hi, 1.0)


def _sides_at_edge(dist: Distribution, best: Any, tolerance: float) -> list[str]:
    """The bounds of ``dist`` that the best trial sits at and that could move outward.

    A bound already at the farthest legal value (``l2`` low 0, ``keep_prob``
    high 1) gets no hint: there is nothing to widen.
    """
    u = dist.to_unit(best)
    sides = []
    # Compare with the bounds' own unit coordinates: 0 and 1 for a real range,
    # the middles of the end values' slices for an integer range.
    if u <= dist.to_unit(dist.low) + tolerance and dist.low > dist.limit("low")[0]:
        sides.append("low")
    if u >= dist.to_unit(dist.high) - tolerance and dist.high < dist.limit("high")[0]:
        sides.append("high")
    return sides


def _within_limits(dist: Distribution, side: str, value: Any) -> Any:
    """``value`` moved back within the legal limit on ``side``.

    A closed limit is itself legal (``l2`` low 0); an open one is not
    (``learning_rate`` > 0), so the bound stops half-way between the old bound and it.
    """
    limit, is_open = dist.limit(side)
    beyond = value < limit if side == "low" else value > limit
    if not (beyond or (is_open and value == limit)):
        return value
    bound = getattr(dist, side)
    if not is_open:
        return type(bound)(limit)
    middle = (bound + limit) / 2
    if isinstance(bound, int):  # an integer range stays integer: round away from the open limit
        middle = math.ceil(middle) if side == "low" else math.floor(middle)
        return middle if middle != limit else bound
    return middle
