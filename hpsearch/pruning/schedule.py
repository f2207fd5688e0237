"""Early stopping: which trials train to which epoch, and which go on — successive halving and Hyperband.

Everything here is a pure function of the round's size, the rung epochs and the
results recorded so far, so promotions do not depend on which trial finished
first, on the number of workers, or on how often the run was interrupted.

A *rung* is an epoch count at which trials are compared: ``min_epochs * eta**k``
for k = 0, 1, ..., the last one clipped to ``model.epochs``. A *bracket* is a
group of trials that all start at one rung; at each rung the best ``1/eta`` of
its trials (at least one) continue to the next, the others are pruned.
Successive halving is one bracket starting at the first rung. Hyperband runs
several brackets side by side, from the most aggressive (many trials, first
rung) to plain full training (few trials, top rung only), splitting the round's
trials between them in the proportions of the standard schedule.

``auto`` (the default) is successive halving that cuts more gently while the
search is small: with ``eta = 3`` a 27-trial search brings 3 trials to the top
rung, and the eventual winner is often a slow starter (a small learning rate)
that ranks in the worse half at the first rung: halving lost more than 10% of
the winner's J in a fifth to a quarter of 27-trial searches (``benchmarks/bench_early_stopping.py``,
40 search seeds). So while one halving bracket would bring fewer than
``eta**3`` trials to the top rung, ``auto`` keeps the best 3/5 at the first
rung, where the curves say least, and the best half at every later one (the
rungs stay ``eta`` apart): about 44% of full training's epochs over three
rungs. Larger searches are plain halving. The shares are a function of the
round's size and the rung alone (``keep_share``).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

METHODS = ("auto", "halving", "hyperband")

#: ``auto`` cuts gently while fewer than ``eta**SMALL_POWER`` trials would reach the top rung by halving.
SMALL_POWER = 3


@dataclass(frozen=True)
class EarlyStopping:
    """The ``search.early_stopping`` section: ``method`` (``auto`` when left out), ``min_epochs`` (first rung) and
    ``eta`` (rungs eta apart, keep 1/eta); ``max_epochs`` (the top rung) for an own objective, whose epochs hpsearch
    does not know. A run stored before ``auto`` keeps the method it stored."""

    method: str = "auto"
    min_epochs: int = 1
    eta: int = 3
    max_epochs: int | None = None


@dataclass(frozen=True)
class Bracket:
    """Trials (ids, in order) that start together at rung ``first_rung`` (an index into the rung epochs)."""

    index: int
    first_rung: int
    trials: tuple[int, ...]


@dataclass(frozen=True)
class RungResult:
    """A trial's result at a rung: its value there, as the promotion compares it (lower is better), and whether
    it diverged; ``rung`` (index) and ``epoch`` (epochs trained to reach it) say where, as the run stores it
    (table ``rung_results``) — the promotion rule reads only the first three."""

    trial: int
    value: float
    diverged: bool
    rung: int = 0
    epoch: int = 0


def rung_epochs(min_epochs: int, eta: int, max_epochs: int) -> list[int]:
    """``[min_epochs, min_epochs*eta, ...]`` below ``max_epochs``, then ``max_epochs`` itself.

    >>> rung_epochs(3, 3, 30)
    [3, 9, 27, 30]
    >>> rung_epochs(3, 3, 27)
    [3, 9, 27]
    """
    if min_epochs < 1 or eta < 2 or max_epochs < 1:
        raise ValueError(f"need min_epochs >= 1, eta >= 2, max_epochs >= 1; got {min_epochs}, {eta}, {max_epochs}")
    rungs, epochs = [], min_epochs
    while epochs < max_epochs:
        rungs.append(epochs)
        epochs *= eta
    rungs.append(max_epochs)
    return rungs


def brackets(method: str, trial_ids: Iterable[int], n_rungs: int, eta: int) -> list[Bracket]:
    """Split a round's trials into brackets.

    ``halving`` and ``auto``: one bracket of every trial, from the first rung. ``hyperband``:
    bracket s = S, S-1, ..., 0 (S = n_rungs - 1) starts at rung S - s and gets a
    share of the trials proportional to ``ceil((S+1)/(s+1) * eta**s)`` — the
    number of configurations Hyperband gives it — rounded by largest remainder.
    Trials are dealt in id order, most aggressive bracket first; empty brackets
    are left out.
    """
    ids = list(trial_ids)
    if method in ("halving", "auto") or n_rungs == 1:
        return [Bracket(0, 0, tuple(ids))] if ids else []
    if method != "hyperband":
        raise ValueError(f"unknown early stopping method {method!r}")
    top = n_rungs - 1
    weights = [math.ceil((top + 1) / (s + 1) * eta**s) for s in range(top, -1, -1)]
    counts = _apportion(len(ids), weights)
    result, start = [], 0
    for s_index, count in enumerate(counts):
        if count:
            result.append(Bracket(len(result), s_index, tuple(ids[start : start + count])))
            start += count
    return result


def _apportion(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder; ties to the earlier weight)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def n_promoted(n_at_rung: int, share: Fraction) -> int:
    """How many of ``n_at_rung`` trials continue to the next rung: ``share`` of them rounded down, at least 1.

    >>> [n_promoted(n, Fraction(1, 3)) for n in (0, 1, 8, 27)], n_promoted(27, Fraction(3, 5))
    ([0, 1, 2, 9], 16)
    """
    return max(1, math.floor(n_at_rung * share)) if n_at_rung else 0


def halving_top(n_trials: int, n_rungs: int, eta: int) -> int:
    """How many of ``n_trials`` trials one halving bracket brings to the top of ``n_rungs`` rungs.

    >>> halving_top(27, 3, 3), halving_top(81, 3, 3), halving_top(729, 3, 3)
    (3, 9, 81)
    """
    n = n_trials
    for _ in range(n_rungs - 1):
        n = n_promoted(n, Fraction(1, eta))
    return n


#: ``auto``'s shares in a small round: the first rung's, then every later rung's.
AUTO_FIRST_SHARE, AUTO_LATER_SHARE = Fraction(3, 5), Fraction(1, 2)


def keep_share(method: str, n_trials: int, n_rungs: int, eta: int, rung: int) -> Fraction:
    """The share of a rung's trials that go on from rung index ``rung`` of a round of ``n_trials`` trials: ``1/eta``
    (halving, Hyperband, and ``auto`` while halving would bring at least ``eta**SMALL_POWER`` trials to the top
    rung), else ``auto``'s 3/5 at the first rung and 1/2 at later ones.

    >>> [str(keep_share("auto", n, 3, 3, 0)) for n in (27, 242, 243)], str(keep_share("auto", 27, 3, 3, 1))
    (['3/5', '3/5', '1/3'], '1/2')
    """
    if method != "auto" or halving_top(n_trials, n_rungs, eta) >= eta**SMALL_POWER:
        return Fraction(1, eta)
    return AUTO_FIRST_SHARE if rung == 0 else AUTO_LATER_SHARE


def auto_choice(n_trials: int, n_rungs: int, eta: int) -> str:
    """What ``auto`` does with a round of ``n_trials`` trials, in words (the dry run and ``show`` say it)."""
    top = halving_top(n_trials, n_rungs, eta)
    if keep_share("auto", n_trials, n_rungs, eta, 0) == Fraction(1, eta):
        return f"auto: successive halving, keeping the best 1/{eta} at each rung ({top} trials reach the top rung)"
    return (
        f"auto: a small search (halving would bring {top} trial{'s' if top != 1 else ''} to the top rung, fewer "
        f"than {eta**SMALL_POWER}), "
        f"so it keeps the best {AUTO_FIRST_SHARE} at the first rung and the best half at each later one"
    )


def promote(results: Iterable[RungResult], n_at_rung: int, share: Fraction) -> list[int]:
    """Ids of the trials that continue: the best by value, ties by trial id; a diverged trial never.

    ``n_at_rung`` is the number of trials that trained to this rung (failed
    ones included: a failure does not give its place to another trial).
    """
    ranked = sorted((r for r in results if not r.diverged and math.isfinite(r.value)), key=lambda r: (r.value, r.trial))
    return sorted(r.trial for r in ranked[: n_promoted(n_at_rung, share)])


class RungStanding:
    """The results in so far at one rung of one bracket: which trial ``promote`` will leave out whatever the
    trials still training there give, so that no checkpoint of it need be written.

    A trial is surely out once ``n_promoted`` results already in rank before it (by value, then trial id, as
    ``promote`` ranks): results still to come can only push it further down.
    """

    def __init__(self, n_at_rung: int, share: Fraction, results: Iterable[RungResult] = ()):
        self.keep = n_promoted(n_at_rung, share)
        self.ranked: list[tuple[float, int]] = []
        for result in results:
            self.add(result)

    def add(self, result: RungResult) -> None:
        if not result.diverged and math.isfinite(result.value):
            bisect.insort(self.ranked, (result.value, result.trial))

    def surely_out(self, result: RungResult) -> bool:
        return bisect.bisect_left(self.ranked, (result.value, result.trial)) >= self.keep


@dataclass(frozen=True)
class RungPlan:
    """One line of the dry-run plan: in ``bracket``, ``trials`` trials train to ``epochs`` (from ``start_epochs``)."""

    bracket: int
    rung: int
    trials: int
    epochs: int
    start_epochs: int


def rung_plan(method: str, n_trials: int, rungs: list[int], eta: int) -> list[RungPlan]:
    """The planned trial counts and epochs of every bracket and rung, if no trial diverges or fails."""
    plan = []
    for bracket in brackets(method, range(n_trials), len(rungs), eta):
        n, previous = len(bracket.trials), 0
        for rung in range(bracket.first_rung, len(rungs)):
            plan.append(RungPlan(bracket.index, rung, n, rungs[rung], previous))
            previous = rungs[rung]
            n = n_promoted(n, keep_share(method, n_trials, len(rungs), eta, rung))
    return plan


def planned_epochs(plan: list[RungPlan]) -> int:
    """Total epochs trained by a rung plan (each trial continues from its last rung)."""
    return sum(p.trials * (p.epochs - p.start_epochs) for p in plan)
