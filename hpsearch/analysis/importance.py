"""Which searched hyperparameters mattered: the share of the variation of dev J each explains.

Method — fANOVA main effects from binned means, stagewise, on the ranks of dev J
---------------------------------------------------------------------------------
Functional ANOVA (Hutter et al., 2014) writes the objective as a sum of main
effects plus interactions, ``J(x) = mu + sum_i f_i(x_i) + interactions``, and
calls ``Var f_i / Var J`` the importance of parameter ``i``. When parameters
are drawn independently over the space, a main effect is the marginal mean
``f_i(v) = E[J | x_i = v] - E[J]``, so no surrogate model is needed:

1. Only the ok trials of the first round (round 0) are used: it draws every
   parameter independently over the whole space (random, quasi-random or
   grid). A zoom round samples *every* parameter near the best trials at
   once; its trials would let an unused parameter's bins near the best
   values collect the good learning rates and look important. With early
   stopping few trials end ok, so every trial of the round that trained is
   judged by its cost at the first rung all of them reached (pruned ones
   included: ``first_rung_costs``).
2. Dev J is replaced by its rank (ties share their mean rank). Costs of a
   search are heavy-tailed: one nearly diverged trial at J = 13 beside
   twenty-nine at 0.05–1 would own most of Var J, and the importances would
   describe that one trial. Ranks ask what decides whether a trial is among
   the better ones, and give the same answer for J, log J or any other
   monotone view of it.
3. Values are mapped to the unit cube (``Space.to_unit``, so a log parameter
   is judged on its log scale). Each numeric parameter is cut into about
   sqrt(n) quantile bins (equal numbers of trials; a parameter with few
   distinct values keeps one level per value), a choice parameter has one
   level per category; ``f_i`` is a step function with one value per level.
4. Effects are taken stagewise, strongest first: for every parameter left,
   the between-level sum of squares of what is still unexplained, less what
   its ``L - 1`` free level means would pick up from noise alone
   (``(L - 1) * MS_within``: the bias-corrected correlation ratio, epsilon
   squared). The largest is that parameter's share of the total; its step
   function is subtracted, and the rest are judged again. Once none explains
   more than noise, those left get 0. What the shares leave of 1 is
   interactions and noise.

Why stagewise: on plain marginal means a small effect (beta1) is judged
against a within-bin spread that still holds the large one (learning rate),
and vanishes; fitting all parameters at once (backfitting) needs
``sum(L_i - 1)`` free levels together, more than 30 trials support for 7
parameters. Stagewise judges each effect after the larger ones are removed,
with one parameter's levels at a time. A random-forest fANOVA would need
scikit-learn (optional here), is random, and is unstable on a few dozen trials.

A conditional parameter (``when:``) is judged only over the trials where it
was active (``Space.unit_rows`` gives NaN elsewhere): its levels, their means
and its noise correction are those of that subset, centred on the subset's own
mean (so its parent's effect is not counted as its own); ``Importance.active``
says in how many trials it was active.

Trials are sorted by id first, so the result does not depend on their order.

Uncertainty: the whole estimate is repeated on ``BOOTSTRAP`` resamples of the
trials (drawn with replacement by a generator seeded with ``BOOTSTRAP_SEED``,
so the same run always gives the same numbers). Each share gets the standard
deviation of its resampled values, and the ranking is called stable only when
the first parameter stays first in at least ``STABLE_TOP`` of the resamples;
otherwise the report says there are too few trials to rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpsearch.core.records import TrialRecord, TrialStatus, as_cost
from hpsearch.nn.metrics import metric_direction, metric_key
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.space.search_space import Space

METHOD = "fANOVA main effects, stagewise from binned means of ranks (of dev J, or the metric), first round"
MAX_BINS = 10
#: A conditional parameter active in fewer of the trials than this is not judged (share 0).
MIN_ACTIVE = 4
FIRST_ROUND = 0
BOOTSTRAP = 100
BOOTSTRAP_SEED = 0
STABLE_TOP = 0.8


@dataclass(frozen=True)
class Importance:
    """One searched hyperparameter and the fraction of the variation of dev J it explains."""

    name: str
    share: float
    spread: float = 0.0  # standard deviation of the share over bootstrap resamples of the trials
    active: int | None = None  # trials where it was active, of the report's n_trials (None: all of them)

    def active_note(self, n_trials: int) -> str | None:
        """``"beta: active in 11 of 30 trials"`` for a parameter some trials did not use, else None."""
        if self.active is None or self.active == n_trials:
            return None
        return f"{self.name}: active in {self.active} of {n_trials} trials"


@dataclass(frozen=True)
class ImportanceReport:
    """Importance of every searched hyperparameter, best first.

    ``share`` values sum to at most 1; ``unexplained`` is the rest
    (interactions and noise). When ``enough`` is False, ``items`` is empty and
    ``message`` says why. ``stable`` is False when the first place changes too
    often over bootstrap resamples; ``message`` then says so.
    ``dataclasses.asdict`` gives its JSON form.
    """

    method: str
    n_trials: int
    items: list[Importance]
    enough: bool
    message: str | None = None
    unexplained: float | None = None
    stable: bool = True


def hyperparameter_importance(
    space: Space,
    trials: list[TrialRecord],
    *,
    min_trials: int = 10,
    metric: str | None = None,
    direction: str = "minimize",
    resamples: int = BOOTSTRAP,
) -> ImportanceReport:
    """Rank the parameters of ``space`` by how much of the variation of dev J each explains.

    Parameters
    ----------
    space
        The first round's space; its ``to_unit`` places values on each parameter's own scale.
    trials
        Any trials of the run; the ok trials of the first round with a finite dev J are used
        (with an own objective, its metric as a cost: ranks, hence shares, do not depend on the direction).
    min_trials
        Below this many usable trials the report says so instead of giving numbers.
    metric, direction
        An own objective's metric and direction: with early stopping, its
        reports at the first rung (the engine's dev J needs neither).
    resamples
        Bootstrap resamples for the spreads and the stability; 0 gives the shares and their order alone
        (``importance_order``: 1/100 of the work), with no spread and no stability judged.
    """
    costs = first_rung_costs([t for t in trials if t.round == FIRST_ROUND], metric, direction)
    usable = sorted((t for t in trials if t.trial in costs and math.isfinite(costs[t.trial])), key=lambda t: t.trial)
    n = len(usable)
    names = list(space)

    def not_enough(message: str) -> ImportanceReport:
        return ImportanceReport(METHOD, n, [], False, message)

    if not names:
        return not_enough("no hyperparameter was searched")
    if n < min_trials:
        return not_enough(f"only {n} ok trials in the first round, which samples the whole space; need ≥ {min_trials}")
    J = np.array([costs[t.trial] for t in usable])  # (n,)
    if np.ptp(J) == 0:
        return not_enough(f"dev J is the same in all {n} ok trials; there is no variation to explain")

    U = space.unit_rows([t.params for t in usable])  # (n, d), NaN where inactive
    numeric = [space[name].is_numeric for name in names]
    shares = _shares(U, J, numeric)
    order = sorted(range(len(names)), key=lambda i: (-shares[i], names[i]))
    if not resamples:  # the order alone: no spread, no stability judged
        return ImportanceReport(METHOD, n, [Importance(names[i], float(shares[i])) for i in order], True)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    resampled = [_shares(U[pick], J[pick], numeric) for pick in (rng.integers(0, n, n) for _ in range(resamples))]
    boot = np.array([s for s in resampled if s is not None]).reshape(-1, len(names))  # (B, d)
    spread = boot.std(axis=0) if len(boot) else np.zeros(len(names))
    top = order[0]
    firsts = [row.argmax() == top and row[top] > 0 for row in boot]
    kept_first = float(np.mean(firsts)) if firsts else 0.0
    stable = shares[top] > 0 and kept_first >= STABLE_TOP
    message = (
        None
        if stable
        else (
            f"too few trials to rank: {names[top]} comes first in only {kept_first:.0%} of "
            f"{len(boot)} bootstrap resamples of the {n} trials — run more trials in the first round"
        )
    )
    active = (~np.isnan(U)).sum(axis=0)  # (d,)
    items = [
        Importance(
            names[i], float(shares[i]), float(spread[i]), int(active[i]) if names[i] in space.conditions else None
        )
        for i in order
    ]
    return ImportanceReport(METHOD, n, items, True, message, max(0.0, 1.0 - float(shares.sum())), bool(stable))


def run_importance(
    space: Space,
    trials: list[TrialRecord],
    objective: ObjectiveSpec | None = None,
    ranked_by: str = "cost",
    *,
    resamples: int = BOOTSTRAP,
) -> ImportanceReport:
    """A run's importance, judged by what the run ranks by: dev J, the dev figure ``search.metric`` names
    (``ranked_by``), or its own objective's metric and direction.

    Every view of a run (``importance``, ``show``, ``export --json``, ``plot`` and report.html) calls this one,
    so none judges an own objective with early stopping by another cost than the others do.
    """
    if objective is not None:
        metric, direction = objective.metric, objective.direction
    elif ranked_by != "cost":
        metric, direction = metric_key(ranked_by), metric_direction(ranked_by)
    else:
        metric, direction = None, "minimize"
    return hyperparameter_importance(space, trials, metric=metric, direction=direction, resamples=resamples)


def importance_order(
    space: Space, trials: list[TrialRecord], objective: ObjectiveSpec | None = None, ranked_by: str = "cost"
) -> list[str]:
    """The searched parameters, the most important first as ``run_importance`` ranks them (in the space's order
    when it cannot): the leaderboard's column order. Its shares alone, without the bootstrap resamples that only
    the spreads and the stability need — 100 times the work, 0.1 s at the end of an 81-trial search."""
    report = run_importance(space, trials, objective, ranked_by, resamples=0)
    return by_importance(report, list(space.names))


def by_importance(report: ImportanceReport, names: list[str]) -> list[str]:
    """``names``, the most important first when ``report`` could rank them, else in the order given."""
    if not report.enough:
        return list(names)
    place = {item.name: k for k, item in enumerate(report.items)}
    return sorted(names, key=lambda name: (place.get(name, len(place)), names.index(name)))


def _shares(U: np.ndarray, J: np.ndarray, numeric: list[bool]) -> np.ndarray | None:
    """Each parameter's share for trials ``U`` (n, d) with costs ``J`` (n,); None when J is constant."""
    if np.ptp(J) == 0:
        return None
    levels = []
    for i, is_numeric in enumerate(numeric):
        active = ~np.isnan(U[:, i])  # (n,)
        level = np.full(len(J), -1)  # -1: inactive in that trial
        if active.sum() >= MIN_ACTIVE:
            n_bins = int(np.clip(round(math.sqrt(active.sum())), 2, MAX_BINS))
            u = U[active, i]
            level[active] = _quantile_bins(u, n_bins) if is_numeric else _categories(u)
        levels.append(level)
    return _stagewise_shares(levels, _mean_ranks(J))


def first_rung_costs(trials: list[TrialRecord], metric: str | None, direction: str) -> dict[int, float]:
    """The cost each trial is judged by: trial id -> dev J (or the metric as a cost).

    Without pruned trials: the ok trials' final cost. With early stopping
    (some trial pruned), every ok or pruned trial's cost after the fewest
    epochs any of them ran (the first rung): its history there (dev J; an own
    objective's ``metric`` at that epoch, when given), so the pruned trials
    count too. Diverged and failed trials are never judged.
    """
    ok = [t for t in trials if t.status is TrialStatus.OK]
    pruned = [t for t in trials if t.status is TrialStatus.PRUNED]
    final = {t.trial: c for t in ok if (c := _final_cost(t, metric, direction)) is not None}
    if not pruned:
        return final
    trained = ok + pruned
    epoch = min(t.epochs_run for t in trained)
    at = {t.trial: _cost_at(t, epoch, metric, direction) for t in trained}
    found = {k: v for k, v in at.items() if v is not None}
    return found if len(found) == len(trained) else final


def _final_cost(trial: TrialRecord, metric: str | None, direction: str) -> float | None:
    """Dev J of an engine trial (the last value of the ``metric`` series it is ranked by, as a cost, when given);
    an own objective's trial (no dev J) by its ranking value."""
    if trial.dev_cost is not None and metric in trial.history and trial.history[metric]:
        return as_cost(trial.history[metric][-1], direction)
    return trial.dev_cost if trial.dev_cost is not None else trial.value


def _cost_at(trial: TrialRecord, epoch: int, metric: str | None, direction: str) -> float | None:
    """The trial's cost after ``epoch`` epochs (1-based), from its history; None if it has none there."""
    if epoch < 1:
        return None
    engine_series = trial.dev_cost is not None and metric is not None and metric in trial.history
    if engine_series and len(trial.history[metric]) >= epoch:  # an engine run ranked by a dev figure
        return as_cost(trial.history[metric][epoch - 1], direction)
    if "dev_cost" in trial.history and len(trial.history["dev_cost"]) >= epoch:
        return float(trial.history["dev_cost"][epoch - 1])
    if metric is None or metric not in trial.history:
        return None
    progress = trial.history.get("epoch", trial.history.get("step", []))
    values = [v for e, v in zip(progress, trial.history[metric]) if e == epoch]
    return as_cost(values[0], direction) if values else None


def _mean_ranks(J: np.ndarray) -> np.ndarray:
    """Rank of each value, 0 for the lowest; tied values share their mean rank. (n,) -> (n,)."""
    ranks = np.empty(len(J))
    ranks[np.argsort(J, kind="stable")] = np.arange(len(J))
    tie = _categories(J)
    return (np.bincount(tie, weights=ranks) / np.bincount(tie))[tie]


def _categories(u: np.ndarray) -> np.ndarray:
    """One level per distinct value. (n,) -> (n,) ints in 0..L-1."""
    return np.unique(u, return_inverse=True)[1]


def _quantile_bins(u: np.ndarray, n_bins: int) -> np.ndarray:
    """Up to ``n_bins`` levels holding about equal numbers of trials. (n,) -> (n,) ints in 0..L-1.

    Equal values always share a level; a parameter with few distinct values keeps one each.
    """
    if len(np.unique(u)) <= n_bins:
        return _categories(u)
    edges = np.quantile(u, np.arange(1, n_bins) / n_bins)  # (n_bins - 1,)
    # Ties at an edge can leave a bin empty; renumbering drops it.
    return _categories(np.searchsorted(edges, u, side="right"))


def _stagewise_shares(levels: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Each parameter's bias-corrected share of the sum of squares of ``y``, strongest effect first.

    Parameters
    ----------
    levels
        d arrays (n,) of ints in 0..L_i-1: each trial's level for each parameter;
        -1 where it was inactive: a parameter is judged on its active trials only,
        against their own mean.
    y
        (n,) what is explained (ranks of dev J), not all equal.

    Returns
    -------
    (d,) shares, each ≥ 0, summing to at most 1 (each step removes at least its share).
    """
    n = len(y)
    residual = y - y.mean()  # (n,)
    total = float(residual @ residual)
    shares = np.zeros(len(levels))
    left = list(range(len(levels)))
    used = 0  # free level means fitted so far
    while left:
        excess, fit = {}, {}
        for i in left:
            active = levels[i] >= 0  # (n,)
            if not active.any():
                excess[i], fit[i] = 0.0, np.zeros(n)
                continue
            r = residual[active] - residual[active].mean()  # (n_active,)
            count = np.bincount(levels[i][active])  # (L,)
            level_mean = np.bincount(levels[i][active], weights=r) / np.maximum(count, 1)  # (L,)
            between = float(count @ level_mean**2)
            free = int((count > 0).sum()) - 1
            within_mean_square = (float(r @ r) - between) / max(int(active.sum()) - 1 - used - free, 1)
            excess[i] = between - free * within_mean_square
            fit[i] = np.where(active, level_mean[np.maximum(levels[i], 0)], 0.0)
        best = max(left, key=lambda i: excess[i])  # ties: the first name
        if excess[best] <= 0:
            break  # no parameter left explains more than noise would
        shares[best] = excess[best] / total
        residual = residual - fit[best]
        used += int(levels[best].max())
        left.remove(best)
    return shares
