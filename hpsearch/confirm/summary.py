"""What ``hpsearch confirm``'s repeats say: each confirmed trial's mean J with its spread and 95% interval
(and a regression's mean dev RMSE and R²), the confirmed order, and whether the top two can be told apart.

Pure functions of stored records (``summarise``); ``confirm.repeats`` trains and stores the repeats.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Any

from hpsearch.core.records import RepeatRecord, TrialRecord, TrialStatus, rank

J_LOWER_BOUND = 0.0
"""The built-in engine's J is a cost (cross-entropy, mean squared error), never below 0, so its interval is
clipped there: with few seeds ``mean − t·std/√n`` falls below any J a model can have. An own objective's
value has no known bound (a maximised metric is ranked negated), so its interval is not clipped."""
# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


@dataclass(frozen=True)
class ConfirmedTrial:
    """One confirmed trial: its leaderboard place and first run beside the statistics of its repeats.

    ``values``/``accuracies``: J (the ranking value, ``search.rank_by``) and dev
    accuracy of each ok repeat, in repeat order. ``std`` is the sample standard
    deviation (divisor n − 1; NaN below 2 repeats); ``interval`` the 95%
    confidence interval of the mean J, ``mean ± t(0.975, n − 1) · std / √n``
    (unbounded below 2 repeats), its low end clipped at J's natural bound when J
    has one (``J_LOWER_BOUND``). ``unstable`` counts repeats that diverged or failed.
    A regression's repeats also give ``rmses`` (the dev RMSE of each ok repeat, in the
    target's units), their mean and its 95% interval (clipped at 0) computed alike, and
    the mean dev R²; empty and NaN for a classification, an own objective, and when an
    ok repeat has none (stored before schema 4).
    """

    trial: int
    params: dict[str, Any]
    leaderboard_rank: int
    first_value: float
    rank: int
    repeats: tuple[RepeatRecord, ...]
    values: tuple[float, ...]
    accuracies: tuple[float, ...]
    mean: float
    std: float
    low: float
    high: float
    mean_accuracy: float
    interval: tuple[float, float]
    rmses: tuple[float, ...] = ()
    mean_rmse: float = math.nan
    rmse_interval: tuple[float, float] = (-math.inf, math.inf)
    mean_r2: float = math.nan

    @property
    def n(self) -> int:
        """Ok repeats (those the statistics are over)."""
        return len(self.values)

    @property
    def ok_repeats(self) -> tuple[RepeatRecord, ...]:
        """The repeats ``values`` come from, in repeat order."""
        return tuple(r for r in self.repeats if _ok(r))

    @property
    def unstable(self) -> int:
        return len(self.repeats) - len(self.values)

    @property
    def lucky(self) -> bool:
        """Its first run beat the mean of its repeats."""
        return self.n > 0 and self.first_value < self.mean


@dataclass(frozen=True)
class OrderChange:
    """A trial confirmed below where the leaderboard put it (``lucky``: its first run beat its repeats' mean)."""

    trial: int
    leaderboard_rank: int
    rank: int
    lucky: bool


@dataclass(frozen=True)
class Confirmation:
    """The confirmed trials of a run, best first, and what they say.

    ``changes``: trials that confirm lower than the leaderboard ranked them
    among the confirmed ones. ``tied``: the top two cannot be told apart (their
    intervals overlap, or one has fewer than 2 ok repeats). ``deterministic``:
    every trial with 2 or more ok repeats gave the same J each time — the
    objective ignores its seed. ``median_repeat``: the best trial's repeat with
    the median J (the lower middle for an even count). ``model``: ``(trial,
    repeat)`` that ``models/best.npz`` holds, when it is a confirmation repeat.
    ``trained``/``planned``: repeats this command trained, of those it asked for.
    ``regression``: the run predicts numbers (its trials carry a dev RMSE), so its
    confirmation is shown with dev RMSE and R² in place of accuracy. ``metric``: what an engine run ranks by
    (``search.metric``) when it is not J; its values are that metric as a cost (maximized ones negated).
    """

    trials: tuple[ConfirmedTrial, ...]
    changes: tuple[OrderChange, ...]
    tied: bool
    deterministic: bool
    median_repeat: int | None
    model: tuple[int, int] | None = None
    trained: int = 0
    planned: int = 0
    regression: bool = False
    metric: str = "cost"

    @property
    def best(self) -> ConfirmedTrial | None:
        """The confirmed best, if it has an ok repeat."""
        return self.trials[0] if self.trials and self.trials[0].n else None

    @property
    def by_trial(self) -> dict[int, ConfirmedTrial]:
        return {t.trial: t for t in self.trials}


def summarise(
    trials: list[TrialRecord],
    repeats: list[RepeatRecord],
    *,
    model: tuple[int, int] | None = None,
    lower_bound: float | None = None,
    regression: bool = False,
) -> Confirmation | None:
    """Rank the trials that have repeats by the mean J of their ok repeats; None if there are no repeats.

    ``lower_bound``: the lowest J can be (the engine's costs: 0), where intervals are clipped; None: unknown.
    ``regression``: the engine's trials predict numbers (``Confirmation.regression``).

    Order: trials whose every repeat ended ok first, then by mean J, then by
    leaderboard place. A trial whose repeats diverge or fail for some seeds is
    not a configuration to ship, however good its other repeats.
    """
    if not repeats:
        return None
    places = {t.trial: place for place, t in enumerate(rank(trials), start=1)}
    records = {t.trial: t for t in trials}
    by_trial: dict[int, list[RepeatRecord]] = {}
    for rec in sorted(repeats, key=lambda r: (r.trial, r.repeat)):
        by_trial.setdefault(rec.trial, []).append(rec)
    stats = [_statistics(records[trial], places[trial], reps, lower_bound) for trial, reps in by_trial.items()]
    ordered = sorted(stats, key=lambda c: (c.unstable > 0, c.mean if c.n else math.inf, c.leaderboard_rank))
    confirmed = tuple(replace(c, rank=place) for place, c in enumerate(ordered, start=1))
    by_leaderboard = sorted(confirmed, key=lambda c: c.leaderboard_rank)
    changes = tuple(
        OrderChange(c.trial, c.leaderboard_rank, c.rank, c.lucky)
        for position, c in enumerate(by_leaderboard, start=1)
        if c.rank > position
    )
    spread = [c for c in confirmed if c.n >= 2]
    best = confirmed[0]
    return Confirmation(
        trials=confirmed,
        changes=changes,
        tied=len(confirmed) >= 2 and _overlap(confirmed[0], confirmed[1]),
        deterministic=bool(spread) and all(c.std == 0 for c in spread),
        median_repeat=_median_repeat(best) if best.n else None,
        model=model,
        regression=regression,
    )


def _ok(rec: RepeatRecord) -> bool:
    """A repeat the statistics count: it trained ok to a finite J."""
    return rec.status is TrialStatus.OK and rec.value is not None and math.isfinite(rec.value)


def _statistics(
    trial: TrialRecord, place: int, repeats: list[RepeatRecord], lower_bound: float | None = None
) -> ConfirmedTrial:
    ok = [r for r in repeats if _ok(r)]
    values = tuple(r.value for r in ok)
    accuracies = tuple(r.dev_accuracy for r in ok if r.dev_accuracy is not None)
    # Over the same repeats as mean J or not at all: repeats stored before schema 4 have no RMSE.
    complete = all("dev_rmse" in r.metrics and "dev_r2" in r.metrics for r in ok)
    rmses = tuple(r.metrics["dev_rmse"] for r in ok) if complete else ()
    r2s = [r.metrics["dev_r2"] for r in ok] if complete else []
    mean, std, interval = mean_interval(values, lower_bound)
    mean_rmse, _, rmse_interval = mean_interval(rmses, 0.0)  # an RMSE is never below 0
    return ConfirmedTrial(
        trial=trial.trial,
        params=trial.params,
        leaderboard_rank=place,
        first_value=trial.ranking_value,
        rank=0,
        repeats=tuple(repeats),
        values=values,
        accuracies=accuracies,
        mean=mean,
        std=std,
        low=min(values, default=math.nan),
        high=max(values, default=math.nan),
        mean_accuracy=statistics.fmean(accuracies) if accuracies else math.nan,
        interval=interval,
        rmses=rmses,
        mean_rmse=mean_rmse,
        rmse_interval=rmse_interval,
        mean_r2=statistics.fmean(r2s) if r2s else math.nan,
    )


def mean_interval(values: tuple[float, ...], lower_bound: float | None) -> tuple[float, float, tuple[float, float]]:
    """``(mean, std, interval)`` of repeat results: the sample std (NaN below 2) and the 95% interval of the
    mean, ``mean ± t(0.975, n − 1) · std / √n`` (unbounded below 2), its low end clipped at ``lower_bound``."""
    n = len(values)
    mean = statistics.fmean(values) if n else math.nan
    std = statistics.stdev(values) if n >= 2 else math.nan
    if n < 2:
        return mean, std, (-math.inf, math.inf)
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    low = mean - half if lower_bound is None else max(mean - half, lower_bound)
    return mean, std, (low, mean + half)


def t_quantile_975(df: int) -> float:
    """Student's t quantile at 0.975 with ``df`` degrees of freedom (3 decimals; beyond 30, Cornish–Fisher)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df)


def _overlap(a: ConfirmedTrial, b: ConfirmedTrial) -> bool:
    """Whether two trials' intervals of mean J overlap (they always do when one has fewer than 2 ok repeats)."""
    return a.interval[0] <= b.interval[1] and b.interval[0] <= a.interval[1]


def _median_repeat(trial: ConfirmedTrial) -> int:
    """The repeat with the median J among the ok ones (the lower middle of an even count; ties by repeat)."""
    ok = sorted((r.value, r.repeat) for r in trial.ok_repeats)
    return ok[(len(ok) - 1) // 2][1]
