"""The ``auto`` zoom: each round part box, part TPE, so that no schedule makes the user pick the wrong one.

``box`` exploits hard around the best few trials and needs only one finished
trial; ``tpe`` models every finished trial but with few of them (a first round
of 8, a "good" group of 2–3) its round is random or nearly so. Neither wins at
every schedule (``benchmarks/bench_sampler.py``): with a small first round or few
rounds box wins, with many finished trials and rounds of one tpe does. ``auto``
hedges:

- while fewer trials are finished than ``model_threshold`` (``max(10, 2 × d)``
  for ``d`` dimensions: a density in ``d`` dimensions needs a few points per
  dimension), the whole round is drawn in the box — never at random, which
  wastes a round;
- after that, half the round (by ``auto_split``; rounds of one alternate) is
  drawn in the box and half planned by TPE.

Over 7 problems x 4 schedules x 10 seeds of ``bench_sampler.py`` (README,
"Choosing the zoom") auto was never significantly worse than the better of
box and tpe. A split is a function of counts only (finished trials, dimensions, round size,
round number), so ``show`` tells a stored round's parts apart again without
storing more than the round's planned unit points.
"""

from __future__ import annotations

import numpy as np

from hpsearch.space.search_space import Space
from hpsearch.space.tpe import N_STARTUP, dimensions, plan_tpe


def model_threshold(n_dims: int) -> int:
    """The finished trials an ``auto`` round needs before part of it is planned by TPE: ``max(10, 2 × n_dims)``."""
    return max(N_STARTUP, 2 * n_dims)


def auto_split(n_finished: int, n_dims: int, n_trials: int, round: int) -> int:
    """How many of an ``auto`` round's ``n_trials`` are drawn in the box; the rest are planned by TPE.

    All of them while fewer than ``model_threshold(n_dims)`` trials are
    finished; else half, the odd one to the box in odd rounds, so rounds of
    one trial alternate box, TPE, box, ...
    """
    if n_finished < model_threshold(n_dims):
        return n_trials
    return (n_trials + round % 2) // 2


def plan_auto(
    reference: Space,
    box: Space | None,
    points: np.ndarray,
    losses: np.ndarray,
    n_new: int,
    n_box: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The unit points (in ``reference``'s cube) of an ``auto`` round: ``n_box`` uniform in ``box``, then
    ``n_new - n_box`` planned by ``plan_tpe`` from ``points`` and ``losses`` (see ``plan_tpe``).

    ``box`` is the zoomed space (``zoom_space`` of ``reference``; None when
    ``n_box`` is 0). Every coordinate is filled, inactive ones too, as
    ``plan_tpe`` does; ``rng`` is the only source of randomness.
    """
    d = len(reference)
    rows = np.empty((n_new, d))
    if n_box:
        if box is None:
            raise ValueError("plan_auto needs the box to draw its box part in")
        for k, u in enumerate(rng.random((n_box, d))):
            values = box.from_unit(u)
            rows[k] = [reference[name].to_unit(values[name]) for name in reference.names]
    rows[n_box:] = plan_tpe(points, losses, dimensions(reference), n_new - n_box, rng)
    return rows
