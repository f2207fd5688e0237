"""Compact histograms of planned values on each parameter's own scale (for ``run --dry-run``).

A log parameter is binned by decade and a 1−β parameter by decade of ``1 - β``,
so a user sees at a glance whether the plan covers each order of magnitude
evenly — and catches a mis-declared range before spending compute.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from hpsearch.space.scales import Distribution, choice_key, format_value

#: Bins of a range with no decade boundary inside it, or on a linear scale.
EQUAL_BINS = 5
#: An integer range with at most this many values gets one bin per value.
MAX_VALUE_BINS = 8
#: A choice of more values shows its most planned ones and one bin for all the others.
MAX_CHOICE_BINS = 12


def histogram(dist: Distribution, values: list[Any]) -> list[tuple[str, int]]:
    """Count ``values`` in bins laid out on ``dist``'s own scale.

    Bins: one per decade for ``log``/``int_log`` (``"1e-4..1e-3"``), one per
    decade of ``1 - x`` for ``one_minus_log`` (``"0.9..0.99"``, ``"0.99..0.999"``),
    ``EQUAL_BINS`` equal bins on the scale when no decade boundary lies inside
    the range and for ``uniform``/``int``, one per value for an integer range
    of few values, one per choice (at most ``MAX_CHOICE_BINS``: the most
    planned ones, then one ``"… N more"`` bin). Float bins include their lower edge (the
    last one both); integer labels are inclusive (``"16..99"``). A value
    outside the range counts in the nearest end bin.

    Returns
    -------
    list of (label, count)
        Bins from low to high (choices in their listed order).
    """
    if not dist.is_numeric:
        return _choice_bins(dist, values)
    starts = _bin_starts(dist)
    index = np.searchsorted(np.asarray(starts, dtype=float), np.asarray(values, dtype=float), side="right") - 1
    counts = np.bincount(np.clip(index, 0, len(starts) - 1), minlength=len(starts))
    return list(zip(_labels(starts, dist.high), (int(c) for c in counts)))


def _choice_bins(dist: Distribution, values: list[Any]) -> list[tuple[str, int]]:
    """One bin per choice, by type and value (``1`` and ``true`` are two), in listed order; past
    ``MAX_CHOICE_BINS`` the most planned (ties: listed first) and ``"… N more"`` with the others' count."""
    counts = Counter(choice_key(v) for v in values)
    bins = [(format_value(c), counts[choice_key(c)]) for c in dist.choices]
    if len(bins) <= MAX_CHOICE_BINS:
        return bins
    kept = set(sorted(range(len(bins)), key=lambda i: -bins[i][1])[: MAX_CHOICE_BINS - 1])
    others = sum(count for i, (_, count) in enumerate(bins) if i not in kept)
    return [b for i, b in enumerate(bins) if i in kept] + [(f"… {len(bins) - len(kept):,} more", others)]


def _bin_starts(dist: Distribution) -> list[Any]:
    """The lower edge of each bin, ascending; the last bin ends at ``dist.high``."""
    low, high = dist.low, dist.high
    if dist.scale in ("int", "int_log") and high - low + 1 <= MAX_VALUE_BINS:
        return list(range(low, high + 1))
    if dist.scale in ("log", "int_log"):
        # Powers of ten strictly inside the range.
        decades = range(math.floor(math.log10(low)) + 1, math.ceil(math.log10(high)))
        inner = [10**k if dist.scale == "int_log" else 10.0**k for k in decades]
    elif dist.scale == "one_minus_log":
        # 1 - 10^-k strictly inside: 0.9, 0.99, 0.999, ...
        t_low, t_high = -math.log10(1 - low), -math.log10(1 - high)
        inner = [1 - 10.0**-k for k in range(math.floor(t_low) + 1, math.ceil(t_high))]
    else:
        inner = []
    inner = [x for x in inner if low < x < high]
    if inner:
        return [low, *inner]
    # Equal steps on the parameter's own scale; an integer range may repeat an edge.
    return list(dict.fromkeys(dist.from_unit(j / EQUAL_BINS) for j in range(EQUAL_BINS)))


def _labels(starts: list[Any], high: Any) -> list[str]:
    """``"a..b"`` per bin (inclusive integers ``"16..99"``, a lone integer ``"3"``)."""
    if isinstance(high, int):
        inclusive_ends = [*(s - 1 for s in starts[1:]), high]
        return [str(a) if a == b else f"{a}..{b}" for a, b in zip(starts, inclusive_ends)]
    edges = [*starts, high]
    # Each edge with just enough digits to tell it from its neighbours.
    gaps = [min(abs(edges[i] - edges[j]) for j in (i - 1, i + 1) if 0 <= j < len(edges)) for i in range(len(edges))]
    text = [_number(x, 0.05 * gap) for x, gap in zip(edges, gaps)]
    return [f"{a}..{b}" for a, b in zip(text[:-1], text[1:])]


def _number(x: float, tolerance: float) -> str:
    """The shortest text within ``tolerance`` of ``x``: ``1e-4``, ``0.99``, ``0.002``, ``1``."""
    for digits in range(1, 18):
        text = _with_digits(x, digits)
        if abs(float(text) - x) <= tolerance:
            return text
    return repr(x)


def _with_digits(x: float, digits: int) -> str:
    if x != 0 and not 0.01 <= abs(x) < 1e5:
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x)))) if x != 0 else 0
    return f"{x:.{decimals}f}"
