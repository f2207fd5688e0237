"""Tree-structured Parzen estimator (TPE) in the unit cube: a round's trials planned from the finished ones.

Bergstra et al. (2011), "Algorithms for Hyper-Parameter Optimization", as
Optuna's ``TPESampler`` does it by default for one objective (Optuna >= 5:
``multivariate=True``; its rules for the split, weights, bandwidths and prior
below). It works on unit points only (``Space.to_unit``), so it never branches
on a parameter's scale:

1. The ``n`` finished trials come oldest first (the caller passes them by
   trial number). Sorted by loss (ties: the older first), the best
   ``n_good = gamma(n)`` with a finite loss are *good*, all others the *rest*;
   a failed or diverged trial (loss ``+inf``) is always in the rest.
2. Fit a Parzen density ``l`` to the good trials and ``g`` to the rest: a
   mixture of one product kernel per trial (a Gaussian truncated to ``[0, 1]``
   on each numeric coordinate, smoothed frequencies on each choice) plus a
   broad prior kernel. A joint kernel keeps what the good trials share across
   dimensions (one ``l/g`` per dimension, Optuna's ``multivariate=False``, did
   worse on Hartmann-6: median -2.53 against -2.99 in 20 seeds, one trial at a
   time). A kernel's width on a coordinate is the larger distance to its two
   neighbours there (Optuna's rule; Scott's rule, a width shared by all kernels,
   reached only -2.77 against Optuna's -3.09 on Hartmann-6, 50 seeds), clipped
   as Optuna does; in a group of more than 25 the older trials weigh less
   (``default_weights``). Where a trial's dimension was inactive (NaN), its
   kernel takes the prior's broad shape there.
3. For each new point draw ``n_candidates`` candidates from ``l`` and keep the
   one with the largest ``log l(x) - log g(x)`` (which ranks candidates as
   expected improvement does).

Planned one trial at a time, this gives Optuna's medians within noise
(``benchmarks/bench_tpe_functions.py --sequential``). A round, though, is
planned all at once, with no result in between: each new point is scored with
``g`` refitted on the rest *plus the points planned before it* ("constant
liar", as Optuna's ``constant_liar`` treats running trials), so the next
points are pushed away from it, and each draws its own candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hpsearch.space.scales import Choice
from hpsearch.space.search_space import Space

#: Below this many finished trials a plan is uniform random draws (Optuna's ``n_startup_trials``).
N_STARTUP = 10
#: Weight of the prior kernel against each observation's weight 1 (Optuna's ``prior_weight``).
PRIOR_WEIGHT = 1.0
#: Cap of the magic clip: the narrowest kernel is never under 1/100 of the unit interval.
_MAX_KERNELS_FOR_CLIP = 100.0
#: The newest this many trials of a group weigh 1; older ones less and less (Optuna's ``default_weights``).
N_FULL_WEIGHT = 25


@dataclass(frozen=True)
class Dimension:
    """One coordinate of the unit cube: numeric (``n_choices`` None) or a choice among ``n_choices``.

    A numeric coordinate is any value in ``[0, 1]``; integers are numeric too
    (their unit interval spans ``[low - 1/2, high + 1/2]``). Choice ``i`` of
    ``k`` sits at the middle of its slice, ``(i + 1/2) / k``, as ``Choice.to_unit`` puts it.
    """

    n_choices: int | None = None

    def __post_init__(self) -> None:
        if self.n_choices is not None and (isinstance(self.n_choices, bool) or self.n_choices < 1):
            raise ValueError(f"Dimension.n_choices must be None or an int >= 1, got {self.n_choices!r}")


def dimensions(space: Space) -> list[Dimension]:
    """The unit cube's dimensions of ``space``, in ``space.names`` order: a choice (or bundle) by its count.

    With ``Space.unit_rows`` (NaN where a trial's parameter was inactive) it
    gives ``plan_tpe`` its ``points`` and ``dims``; ``Space.from_unit`` and
    ``Space.trial_params`` turn the planned rows back into trials.
    """
    return [Dimension(len(dist.choices)) if isinstance(dist, Choice) else Dimension() for dist in space.values()]


def default_gamma(n: int) -> int:
    """How many of ``n`` finished trials are good: ``min(ceil(n / 10), 25)`` (Optuna's default)."""
    return min(math.ceil(0.1 * n), 25)


def default_weights(m: int) -> np.ndarray:
    """The weights of a group's ``m`` trials, oldest first: 1 for the newest 25, a ramp from ``1/m`` below them."""
    if m <= N_FULL_WEIGHT:
        return np.ones(m)
    return np.concatenate([np.linspace(1.0 / m, 1.0, num=m - N_FULL_WEIGHT), np.ones(N_FULL_WEIGHT)])


def level_losses(levels: Sequence[Mapping[int, float]], need: int) -> np.ndarray:
    """Each trial's loss for TPE from its costs at the levels (rungs) it reached, shape ``(n,)``.

    ``levels[i]`` maps a rung index to trial ``i``'s cost there (lower is
    better, ``+inf`` if it diverged; empty for a failed trial). A trial
    *reached* a rung when its highest rung is that one or above: under
    Hyperband a bracket may start above a rung (its trials have no cost at
    the lower rungs, yet trained past them). As BOHB does, the model is fitted
    at the highest rung that at least ``need`` trials reached (the lowest one
    if none did): a trial that reached it is judged by its cost there, or,
    when its bracket started above it, by its cost at its first rung (the
    budget nearest). A trial that stopped below it (pruned) still counts, as
    worse than every trial that reached it: by the highest rung it reached,
    then its cost there. Only the order matters to ``plan_tpe``, so the losses
    are ranks (ties equal); ``+inf`` stays ``+inf`` (a failed or diverged
    trial is always in the rest).
    """
    highest = [max(trial, default=None) for trial in levels]
    reached = sorted({rung for trial in levels for rung in trial})
    if not reached:
        return np.full(len(levels), np.inf)
    top = max((r for r in reached if sum(h is not None and h >= r for h in highest) >= need), default=reached[0])
    keys = []
    for trial, high in zip(levels, highest):
        if high is None:
            keys.append((1, math.inf))
        elif high >= top:  # judged at the top rung, or the first one above it its bracket started at
            keys.append((-top, trial[min(r for r in trial if r >= top)]))
        else:
            keys.append((-high, trial[high]))
    finite = sorted({key for key in keys if math.isfinite(key[1])})
    order = {key: float(i) for i, key in enumerate(finite)}
    return np.array([order.get(key, np.inf) for key in keys])


def plan_tpe(
    points: np.ndarray,
    losses: np.ndarray,
    dims: Sequence[Dimension],
    n_new: int,
    rng: np.random.Generator,
    *,
    gamma: Callable[[int], int] | None = None,
    n_candidates: int = 24,
    n_startup: int = N_STARTUP,
) -> np.ndarray:
    """The unit points of ``n_new`` trials, planned from finished trials by TPE (see the module docstring).

    Parameters
    ----------
    points
        Shape ``(n, d)``: finished trials in ``[0, 1]``, NaN where a dimension
        was inactive, oldest first (by trial number): the order sets the
        weights and breaks ties of loss, so the same rows in the same order give the same plan.
    losses
        Shape ``(n,)``: lower is better; ``+inf`` (or NaN) for a failed or diverged trial.
    dims
        The ``d`` dimensions, in the columns' order.
    n_new
        Points to plan.
    rng
        The only source of randomness: the same state gives the same plan. Point
        ``k`` uses only draws made after those of points ``0..k-1``, so a
        larger ``n_new`` extends a plan rather than changing it.
    gamma
        ``n -> n_good`` (default ``default_gamma``), ``n`` counting every
        finished trial; at least 1 and at most the trials with a finite loss are good.
    n_candidates
        Draws from ``l`` per new point, of which the best ``l/g`` is kept.
    n_startup
        With fewer finished trials than this, or none with a finite loss, the
        plan is uniform random points (a choice at its slice's middle).

    Returns
    -------
    ndarray, shape (n_new, d)
        Every coordinate filled; the caller drops those of inactive parameters.
    """
    points = np.asarray(points, dtype=float)
    losses = np.where(np.isnan(losses), np.inf, np.asarray(losses, dtype=float))  # (n,)
    if points.size == 0:  # no trial yet, or nothing searched: n rows of no coordinate
        points = points.reshape(len(losses) if not dims else 0, len(dims))  # (n, d)
    if points.ndim != 2 or points.shape[1] != len(dims) or len(losses) != len(points):
        raise ValueError(f"expected points (n, {len(dims)}) and losses (n,), got {points.shape} and {losses.shape}")
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
    n, n_finite = len(losses), int(np.isfinite(losses).sum())
    if not dims:  # nothing searched: every new trial is the one fixed point (its own seed makes it new)
        return np.empty((n_new, 0))
    if n < max(n_startup, 1) or n_finite == 0:
        return _snap_choices(rng.random((n_new, len(dims))), dims)
    n_good = min(max((gamma or default_gamma)(n), 1), n_finite)
    by_loss = np.argsort(losses, kind="stable")  # ties: the older first
    good, rest = points[np.sort(by_loss[:n_good])], points[np.sort(by_loss[n_good:])]  # each oldest first
    l_dens = _fit(good, dims)
    out = np.empty((n_new, len(dims)))  # (n_new, d)
    for k in range(n_new):
        g_dens = _fit(np.vstack([rest, out[:k]]), dims)  # the points planned so far count as bad
        cand = l_dens.sample(n_candidates, rng)  # (n_candidates, d)
        out[k] = cand[int(np.argmax(l_dens.log_pdf(cand) - g_dens.log_pdf(cand)))]
    return _snap_choices(out, dims)


def _snap_choices(u: np.ndarray, dims: Sequence[Dimension]) -> np.ndarray:
    """Each choice coordinate moved to the middle of the slice it falls in; numeric ones kept."""
    u = u.copy()
    for j, dim in enumerate(dims):
        if dim.n_choices is not None:
            u[:, j] = (_choice_index(u[:, j], dim.n_choices) + 0.5) / dim.n_choices
    return u


def _choice_index(u: np.ndarray, k: int) -> np.ndarray:
    """The choice whose slice ``[i/k, (i+1)/k)`` holds ``u`` (as ``Choice.from_unit``)."""
    return np.clip(np.floor(u * k).astype(int), 0, k - 1)


@dataclass(frozen=True)
class _Categorical:
    """One choice dimension of a mixture's kernels: kernel ``i`` gives choice ``c`` probability ``p[i, c]``."""

    p: np.ndarray  # (m + 1, k)

    def log_k(self, u: np.ndarray) -> np.ndarray:
        """``log p[i, c(u)]`` for every point and kernel, shape (size, m + 1)."""
        return np.log(self.p[:, _choice_index(u, self.p.shape[1])]).T

    def sample(self, i: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A choice from each kernel ``i`` (shape (size,)), at its slice's middle."""
        cdf = np.cumsum(self.p[i], axis=1)  # (size, k)
        c = np.minimum((cdf < rng.random(len(i))[:, None] * cdf[:, -1:]).sum(axis=1), self.p.shape[1] - 1)
        return (c + 0.5) / self.p.shape[1]


@dataclass(frozen=True)
class _Numeric:
    """One numeric dimension of a mixture's kernels: Gaussians centred at ``mu``, width ``sigma``, truncated to
    ``[0, 1]``."""

    mu: np.ndarray  # (m + 1,)
    sigma: np.ndarray  # (m + 1,)

    def log_k(self, x: np.ndarray) -> np.ndarray:
        """``log phi((x - mu_i) / sigma_i) / (sigma_i Z_i)``, ``Z_i`` the kernel's mass in ``[0, 1]``; (size, m + 1)."""
        z = (x[:, None] - self.mu) / self.sigma
        mass = _normal_cdf((1 - self.mu) / self.sigma) - _normal_cdf(-self.mu / self.sigma)  # (m + 1,)
        return -0.5 * z**2 - np.log(self.sigma * mass * math.sqrt(2 * math.pi))

    def sample(self, i: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A draw from each kernel ``i``; what falls outside ``[0, 1]`` is redrawn (exact truncation)."""
        mu, sigma = self.mu[i], self.sigma[i]
        x = rng.normal(mu, sigma)
        outside = (x < 0) | (x > 1)
        while outside.any():  # each kernel keeps >= 38% of its mass in [0, 1]: few passes
            x[outside] = rng.normal(mu[outside], sigma[outside])
            outside = (x < 0) | (x > 1)
        return x


@dataclass(frozen=True)
class _Parzen:
    """``p(x) = sum_i w_i prod_j k_ij(x_j)``: one product kernel per observation, and a prior kernel last."""

    w: np.ndarray  # (m + 1,), sums to 1
    dims: list[_Numeric | _Categorical]  # (d,)

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """``log p`` at each row of ``x`` (size, d), shape (size,)."""
        log_k = np.log(self.w) + sum(part.log_k(x[:, j]) for j, part in enumerate(self.dims))  # (size, m + 1)
        top = log_k.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(log_k - top).sum(axis=1, keepdims=True)))[:, 0]

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Pick a kernel by weight, then draw every coordinate from it, shape (size, d)."""
        i = rng.choice(len(self.w), size=size, p=self.w)
        return np.column_stack([part.sample(i, rng) for part in self.dims])


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])


def _fit(obs: np.ndarray, dims: Sequence[Dimension]) -> _Parzen:
    """The Parzen density of ``m`` observations (m, d), oldest first, with a prior kernel of weight ``PRIOR_WEIGHT``.

    Observations weigh ``default_weights(m)``. The prior kernel is flat-ish
    (a Gaussian at 0.5 of width 1; uniform over choices), so the density is
    positive everywhere and a group with no observation is the prior alone.
    Where an observation's dimension was inactive (NaN), its kernel takes the
    prior's shape on that dimension: the same at every value, so it says nothing there.

    Numeric widths: ``_neighbour_widths`` of the active values. A choice
    kernel puts ``1 + eps`` on its observed choice and ``eps = PRIOR_WEIGHT /
    (m + 1)`` on each other one, normalized.
    """
    m = len(obs)
    w = np.append(default_weights(m), PRIOR_WEIGHT)
    parts: list[_Numeric | _Categorical] = []
    for j, dim in enumerate(dims):
        active = ~np.isnan(obs[:, j])  # (m,)
        if dim.n_choices is None:
            mu, sigma = np.full(m + 1, 0.5), np.ones(m + 1)  # inactive observations and the prior: the prior's shape
            mu[:m][active] = obs[active, j]
            sigma[:m][active] = _neighbour_widths(obs[active, j])
            parts.append(_Numeric(mu, sigma))
        else:
            k = dim.n_choices
            p = np.full((m + 1, k), PRIOR_WEIGHT / (m + 1))
            rows = np.flatnonzero(active)
            p[rows, _choice_index(obs[rows, j], k)] += 1.0
            p[~np.append(active, False)] = 1.0  # inactive observations and the prior: uniform
            parts.append(_Categorical(p / p.sum(axis=1, keepdims=True)))
    return _Parzen(w / w.sum(), parts)


def _neighbour_widths(x: np.ndarray) -> np.ndarray:
    """Each of ``m`` values' kernel width in ``[0, 1]``: the larger gap to its neighbours (Optuna's rule), shape (m,).

    Sorted with the ends 0 and 1 around them, a value's width is the larger
    of its gaps to the values either side; the smallest and largest value use
    their inner gap only (Optuna's ``consider_endpoints=False``) once there
    are two. The "magic clip" then keeps every width in ``[1 / min(100, m + 2), 1]``:
    wide while there are few values, never narrower than 1/100.
    """
    m = len(x)
    order = np.argsort(x, kind="stable")
    s = np.concatenate([[0.0], x[order], [1.0]])  # (m + 2,)
    widths = np.maximum(s[1:-1] - s[:-2], s[2:] - s[1:-1])  # (m,) in sorted order
    if m >= 2:
        widths[0], widths[-1] = s[2] - s[1], s[-2] - s[-3]
    out = np.empty(m)
    out[order] = widths
    return np.clip(out, 1.0 / min(_MAX_KERNELS_FOR_CLIP, m + 2.0), 1.0)
