"""Plan a round's trials: points in the unit cube, mapped to values by the space.

Every planned trial is a pure function of ``(seed, round, index)`` (and, for
the grid, of the space alone), so a plan is the same whatever the number of
workers, the order trials finish in, or how often a run was interrupted and
resumed. Samplers work in the unit cube with parameter names in sorted order
and never look at a parameter's scale.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hpsearch.space.search_space import Space

SAMPLERS = ("random", "grid", "quasi")
#: A zoom round's samplers whose unit points are planned from results and stored with the round.
PLANNED_SAMPLERS = ("tpe", "auto")

# Distinct spawn keys keep the streams below independent of each other and of
# the random sampler's per-trial streams, although all derive from the same seed.
_QUASI_STREAM = 1
_TRIAL_SEED_STREAM = 2
_REPEAT_SEED_STREAM = 3
_TPE_STREAM = 4


def plan_round(
    space: Space,
    n_trials: int,
    *,
    seed: int,
    round: int,
    sampler: str = "random",
    grid_points: int = 5,
    planned: Sequence[Sequence[float]] = (),
    enqueued: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The parameter values of every trial of one round, trial 0 first.

    Parameters
    ----------
    space
        The round's space.
    n_trials
        Trials to plan. Ignored by ``grid``, which plans its whole grid
        (``len`` of the result says how many).
    seed, round
        With the trial index, they determine each trial.
    sampler
        ``random``: independent uniform points, trial ``i`` drawn from
        ``np.random.default_rng([seed, round, i])`` alone.
        ``quasi``: a scrambled Halton sequence; point ``i`` depends on
        ``(seed, round, i)`` only, so planning more trials extends a plan.
        ``grid``: ``grid_points`` values per numeric parameter, evenly spaced on
        its own scale from low to high (an integer's repeats dropped), every
        choice; the full cartesian product, first name varying slowest. With
        conditions, only the active combinations, each once: the parents'
        combinations vary slowest, and for each, the product of the parameters
        active under it (see ``_grid_branches``).

        Every trial then keeps its active parameters only, with its bundle's
        option spelled out (``Space.trial_params``). ``random`` and ``quasi``
        draw every coordinate as if all parameters were active and drop the
        inactive ones after, so a conditional parameter's values are exactly
        those an unconditional one would get in the same trials: for ``quasi``,
        the trials of one branch (say ``optimizer = momentum``) are the Halton
        points whose parent coordinate falls in that choice's slice, which still
        cover the branch's own coordinates evenly, though less so than a
        sequence of the branch alone would.
        ``tpe`` and ``auto``: the unit points ``planned`` (a zoom round planned from
        results, ``space.tpe`` or ``space.portfolio``, and stored with its round), the first ``n_trials``.
    grid_points
        Grid values per numeric parameter (>= 2).
    planned
        The stored unit points of a ``tpe`` or ``auto`` round (ignored by the other samplers).
    enqueued
        Values given to the first trials (``search.enqueue``), exactly: trial ``i`` is drawn as usual and then
        takes ``enqueued[i]`` over its draw, so a parameter left out is drawn as in the same trial without it.
        Not for ``grid``, whose plan is its grid.
    """
    if sampler == "random":
        units = [np.random.default_rng([seed, round, i]).random(len(space)) for i in range(n_trials)]
    elif sampler == "quasi":
        units = list(
            scrambled_halton(
                n_trials,
                len(space),
                np.random.default_rng(np.random.SeedSequence([seed, round], spawn_key=(_QUASI_STREAM,))),
            )
        )
    elif sampler in (*PLANNED_SAMPLERS, "csv"):  # csv: an imported round's rows (``hpsearch import``)
        if len(planned) < n_trials:
            raise ValueError(f"a {sampler} round of {n_trials} trials has {len(planned)} planned points")
        units = [np.asarray(p, dtype=float) for p in planned[:n_trials]]
    elif sampler == "grid":
        return [space.trial_params(values) for values in _grid(space, grid_points)]
    else:
        raise ValueError(f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    fixed = list(enqueued) + [{}] * (len(units) - len(enqueued))
    return [space.trial_params({**space.from_unit(u), **given}) for u, given in zip(units, fixed)]


def trial_seed(seed: int, round: int, index: int) -> int:
    """The training seed (weights init, shuffling) of trial ``index`` of ``round``, in ``[0, 2**32)``."""
    sequence = np.random.SeedSequence([seed, round, index], spawn_key=(_TRIAL_SEED_STREAM,))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def grid_size(space: Space, grid_points: int) -> int:
    """How many trials ``plan_round(..., sampler="grid")`` plans, without building the grid."""
    axes = dict(zip(space.names, _grid_axes(space, grid_points)))
    return sum(math.prod(len(axes[name]) for name in free) for _, free in _grid_branches(space, axes))


def tpe_stream(seed: int, round: int) -> np.random.Generator:
    """The random stream a ``tpe`` round is planned with: a function of (search seed, round) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, round], spawn_key=(_TPE_STREAM,)))


def repeat_seed(seed: int, trial: int, repeat: int) -> int:
    """The training seed of repeat ``repeat`` of ``trial`` (``hpsearch confirm``), in ``[0, 2**32)``.

    Its own stream: never one of the search's trial seeds by construction of the
    key, only by a 1-in-2**32 coincidence.
    """
    sequence = np.random.SeedSequence([seed, trial, repeat], spawn_key=(_REPEAT_SEED_STREAM,))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def _grid(space: Space, grid_points: int) -> Iterator[dict[str, Any]]:
    """The grid's assignments of the active names, each active combination once (see ``_grid_branches``)."""
    axes = dict(zip(space.names, _grid_axes(space, grid_points)))
    for parents, free in _grid_branches(space, axes):
        for values in itertools.product(*(axes[name] for name in free)):
            assignment = {**parents, **dict(zip(free, values))}
            yield {name: assignment[name] for name in space.names if name in assignment}


def _grid_branches(space: Space, axes: Mapping[str, list[Any]]) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Each combination of the active parents' grid values, with the other names active under it.

    The parents (names some condition depends on) are walked parents first; an
    inactive parent is left out rather than given values, so no two branches
    give the same trial. Without conditions there is one branch, every name free.
    """
    parents = space.parent_names

    def walk(i: int, chosen: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if i == len(parents):
            yield chosen
            return
        name = parents[i]
        condition = space.conditions.get(name)
        if condition is not None and not condition.holds(chosen, set(chosen)):
            yield from walk(i + 1, chosen)
            return
        for value in axes[name]:
            yield from walk(i + 1, {**chosen, name: value})

    for chosen in walk(0, {}):
        active = set(space.active_names(chosen)) if space.conditions else set(space.names)
        yield chosen, [name for name in space.names if name in active and name not in parents]


def _grid_axes(space: Space, grid_points: int) -> list[list[Any]]:
    """The values of each parameter on the grid, in ``space.names`` order."""
    if grid_points < 2:
        raise ValueError(f"grid_points must be >= 2 (low and high), got {grid_points}")
    axes = []
    for dist in space.values():
        if dist.is_numeric:
            # Evenly spaced between the bounds' own coordinates: for an integer
            # range these are the middles of its end values' slices, so
            # int_log 1..1000 with 4 points gives 1, 10, 100, 1000.
            first, last = dist.to_unit(dist.low), dist.to_unit(dist.high)
            ticks = [dist.from_unit(first + (last - first) * j / (grid_points - 1)) for j in range(grid_points)]
            axes.append(list(dict.fromkeys(ticks)))  # integers may repeat on a fine grid
        else:
            axes.append(list(dist.choices))
    return axes


def scrambled_halton(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Points ``0..n-1`` of a Halton sequence scrambled by random digit permutations.

    Coordinate ``j`` of point ``i`` is the radical inverse of ``i`` in the
    ``j``-th prime base ``b``, with the ``k``-th digit passed through a random
    permutation ``pi_jk`` of ``0..b-1``:  ``sum_k pi_jk(digit_k(i)) * b**-(k+1)``.
    The permutations come from ``rng`` alone, so point ``i`` does not depend on
    ``n``. Scrambling breaks the correlation of plain Halton between the
    coordinates of high (neighbouring-prime) bases while keeping its even cover.

    Returns
    -------
    ndarray, shape (n, d)
        Points in ``[0, 1)``.
    """
    index = np.arange(n, dtype=np.int64)  # (n,)
    points = np.empty((n, d))
    for j, base in enumerate(_primes(d)):
        # Enough digits that the next one would fall below float64 resolution.
        n_digits = math.ceil(53 / math.log2(base))
        perms = np.argsort(rng.random((n_digits, base)), axis=1)  # (n_digits, base): a permutation per digit
        remaining = index.copy()
        value = np.zeros(n)
        for k in range(n_digits):
            digit = remaining % base
            value += perms[k, digit] * float(base) ** -(k + 1)
            remaining //= base
        points[:, j] = value
    return np.minimum(points, np.nextafter(1.0, 0.0))  # (n, d); the digit sum can round up to 1.0


def _primes(count: int) -> list[int]:
    """The first ``count`` primes, one Halton base per dimension."""
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes
