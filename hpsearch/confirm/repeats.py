"""Confirm the best trials: retrain the top K with fresh seeds and rank them by their mean J.

A leaderboard ranks one training run per configuration, so it ranks a seed as
much as a setting: on small data the seed alone moves dev J by more than the
gap between the top few trials. ``confirm_run`` retrains each of a run's top K
trials with S new seeds through the search's runner and stores every repeat;
``summarise`` ranks those trials by the mean J of their repeats, with its
spread, and says when the order changed and when the top two cannot be told
apart. The confirmed best becomes the run's recommended configuration, and its
repeat with the median J becomes the saved best model — a typical draw, not a
lucky one.

Repeat seeds are a pure function of (search seed, trial, repeat index)
(``samplers.repeat_seed``), so the same command gives the same numbers whatever
the workers. Each repeat is stored as it finishes, so a killed ``confirm``
continues where it stopped and never records a repeat twice; asking for more
seeds or a larger K later trains only the missing repeats. A trial's first run
(its leaderboard J) is not among its repeats: it is the very draw that put the
trial on top, so selection makes it optimistic.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Protocol

from hpsearch.core.errors import RunError
from hpsearch.execution.objective_jobs import ObjectiveJob, run_job, trial_record
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.core.records import RepeatRecord, TrialRecord, TrialStatus, rank
from hpsearch.execution.interrupts import interruptible
from hpsearch.execution.runner import run_parallel, run_segments
from hpsearch.execution.segments import Segment, TrialTask
from hpsearch.search.best_model import retrain_and_save
from hpsearch.space.samplers import repeat_seed
from hpsearch.search.api import Execution, run_data, stored_config
from hpsearch.storage.run_names import command_ref
from hpsearch.storage.run_store import RunStore

DEFAULT_TOP = 5
DEFAULT_SEEDS = 5
# Trials that trained to a result: ok ones, and with early stopping pruned ones too
# (their repeats train to the top rung like every other).
_CONFIRMABLE = (TrialStatus.OK, TrialStatus.PRUNED)
J_LOWER_BOUND = 0.0
"""The built-in engine's J is a cost (cross-entropy, mean squared error), never below 0, so its interval is
clipped there: with few seeds ``mean − t·std/√n`` falls below any J a model can have. An own objective's
value has no known bound (a maximised metric is ranked negated), so its interval is not clipped."""
# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


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
    confirmation is shown with dev RMSE and R² in place of accuracy.
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

    @property
    def best(self) -> ConfirmedTrial | None:
        """The confirmed best, if it has an ok repeat."""
        return self.trials[0] if self.trials and self.trials[0].n else None

    @property
    def by_trial(self) -> dict[int, ConfirmedTrial]:
        return {t.trial: t for t in self.trials}


class ConfirmReporter(Protocol):
    """What a front end hears while ``confirm_run`` trains: ``started`` once, ``repeat_finished`` per repeat."""

    def started(self, pending: int, planned: int) -> None: ...

    def repeat_finished(self, record: RepeatRecord) -> None: ...

    def note(self, message: str) -> None: ...


class _Silent:
    def started(self, pending: int, planned: int) -> None:
        pass

    def repeat_finished(self, record: RepeatRecord) -> None:
        pass

    def note(self, message: str) -> None:
        pass


# -- planning and training ---------------------------------------------------


def top_trials(trials: list[TrialRecord], top_k: int) -> list[TrialRecord]:
    """The ``top_k`` best trials that trained to a result, leaderboard order."""
    return [t for t in rank(trials) if t.status in _CONFIRMABLE][:top_k]


def plan_repeats(top: list[TrialRecord], seeds: int, *, seed: int) -> list[tuple[int, TrialTask]]:
    """``(repeat, task)`` for repeats ``0..seeds-1`` of each trial: its values with seed ``repeat_seed(seed, trial, repeat)``."""
    return [
        (r, TrialTask(t.trial, t.round, t.index, t.params, repeat_seed(seed, t.trial, r)))
        for t in top
        for r in range(seeds)
    ]


def confirm_run(
    run_dir: Path,
    *,
    top_k: int = DEFAULT_TOP,
    seeds: int = DEFAULT_SEEDS,
    execution: Execution = Execution(),
    reporter: ConfirmReporter | None = None,
) -> Confirmation:
    """Retrain each of the ``top_k`` best trials of a run with ``seeds`` fresh seeds; store and summarise.

    Trains only repeats without a record, each to the trial's last epoch (the
    top rung under early stopping), on the search's runner; records each as it
    finishes. Then saves the confirmed best's median repeat as the run's best model.
    """
    if top_k < 1:
        raise RunError(f"--top must be at least 1, got {top_k}")
    if seeds < 2:
        raise RunError(f"--seeds must be at least 2 (a spread needs two repeats), got {seeds}")
    reporter = reporter or _Silent()
    with RunStore.open(run_dir) as store:
        if any(r.kind == "babysit" for r in store.rounds()):  # one steered model: fresh seeds would drop its decisions
            ref = command_ref(store.run_dir)
            raise RunError(f"run '{store.run_dir.name}' is a babysat model: confirm retrains a search's top trials with "
                           f"fresh seeds, which would drop its decisions — replay it with: hpsearch babysit --replay {ref}")
        config = stored_config(store)
        # the arrays the search trained on (a missing data file stops here, not as a failure of every repeat)
        data = run_data(store, config, execution)  # trust, and the prepared arrays checked against their digests
        ref = command_ref(store.run_dir)  # the folder the user passes back, never the name stored inside
        again = f"hpsearch confirm {ref} --top {top_k} --seeds {seeds}"
        saved = lambda: f"{len(store.repeats())} repeats are saved in run '{store.run_dir.name}'"  # noqa: E731
        with store.lock(), interruptible(saved, again):
            top = top_trials(store.trials(), top_k)
            if not top:
                raise RunError(f"run '{store.run_dir.name}' has no finished ok trial to confirm — "
                               f"see hpsearch show {ref}")
            done = {(r.trial, r.repeat) for r in store.repeats()}
            plan = plan_repeats(top, seeds, seed=config.search.seed)
            pending = [(r, task) for r, task in plan if (task.trial, r) not in done]
            reporter.started(len(pending), len(plan))
            # Outcomes come back in any order and (through loky or dask) as copies: find each
            # one's repeat by trial and seed. Two repeats with one seed would train alike anyway.
            repeat_of: dict[tuple[int, int], list[int]] = {}
            for r, task in pending:
                repeat_of.setdefault((task.trial, task.seed), []).append(r)
            placement = execution.placement(config.search)
            for task, record in _train_repeats(store, config, data, [task for _, task in pending], placement):
                record = replace(record, repeat=repeat_of[(task.trial, task.seed)].pop(0))
                store.record_repeat(record)
                reporter.repeat_finished(record)
            confirmation = load_confirmation(store)
            assert confirmation is not None  # every planned repeat is recorded now
            if data is not None:  # own objectives keep no model files
                _save_median_model(store, config, data, confirmation, reporter)
            return replace(load_confirmation(store), trained=len(pending), planned=len(plan))


def _train_repeats(
    store: RunStore, config: Any, data: PreparedData | None, tasks: list[TrialTask], placement: dict[str, Any]
) -> Iterator[tuple[TrialTask, RepeatRecord]]:
    """Train every repeat on the search's runner — the engine, or the run's own objective (each repeat in a
    folder of its own under ``confirm/``) — and yield each as it finishes (repeat index 0 until set)."""
    if config.objective is None:
        segments = [Segment(task, None, rank_by=config.search.rank_by) for task in tasks]
        for outcome in run_segments(segments, model=config.model, data=data, stack=config.search.stack, **placement):
            yield outcome.task, repeat_record(outcome.record(), 0)
        return
    folder = store.run_dir.resolve() / "confirm"
    jobs = [ObjectiveJob(task, config.objective, config.model, str(folder / f"seed-{task.seed}")) for task in tasks]
    for job, result in run_parallel(run_job, jobs, **placement):
        yield job.task, repeat_record(trial_record(job.task, result, config.objective), 0, own_objective=True)


def repeat_record(r: TrialRecord, repeat: int, *, own_objective: bool = False) -> RepeatRecord:
    """The stored form of one repeat's record (its ranking value as the search would rank it; an engine
    regression's dev RMSE and R² — an own objective's reported numbers are not kept per repeat)."""
    return RepeatRecord(
        r.trial, repeat, r.seed, r.status, value=r.value, dev_cost=r.dev_cost, train_cost=r.train_cost,
        dev_accuracy=r.dev_accuracy, epochs_run=r.epochs_run, seconds=r.seconds, error=r.error,
        metrics={} if own_objective else dict(r.metrics),
    )


def _save_median_model(
    store: RunStore, config: Any, data: PreparedData, confirmation: Confirmation, reporter: ConfirmReporter
) -> None:
    """Make ``models/best.npz`` the confirmed best's median repeat, trained again (training is deterministic).

    Holding every repeat's weights until the median is known would cost K·S
    networks of memory; one more training costs 1/(K·S) of the command.
    """
    best, repeat = confirmation.best, confirmation.median_repeat
    if best is None or repeat is None or store.confirmed_model() == (best.trial, repeat):
        return
    record = next(r for r in best.repeats if r.repeat == repeat)
    trial = next(t for t in store.trials() if t.trial == best.trial)
    task = TrialTask(trial.trial, trial.round, trial.index, trial.params, record.seed)
    if retrain_and_save(store, config, data, task, record.value, what=f"trial {best.trial} repeat {repeat}",
                        note=reporter.note):
        store.mark_confirmed_model(best.trial, repeat)


# -- summary -------------------------------------------------------------------


def load_confirmation(store: RunStore) -> Confirmation | None:
    """The confirmation stored in a run (every recorded repeat), or None if it has none."""
    engine = store.config.get("objective") is None
    trials = store.trials()
    return summarise(trials, store.repeats(), model=store.confirmed_model(),
                     lower_bound=J_LOWER_BOUND if engine else None,
                     regression=engine and any("dev_rmse" in t.metrics for t in trials))


def summarise(
    trials: list[TrialRecord], repeats: list[RepeatRecord], *, model: tuple[int, int] | None = None,
    lower_bound: float | None = None, regression: bool = False,
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


def _statistics(trial: TrialRecord, place: int, repeats: list[RepeatRecord],
                lower_bound: float | None = None) -> ConfirmedTrial:
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
        trial=trial.trial, params=trial.params, leaderboard_rank=place, first_value=trial.ranking_value, rank=0,
        repeats=tuple(repeats), values=values, accuracies=accuracies, mean=mean, std=std,
        low=min(values, default=math.nan), high=max(values, default=math.nan),
        mean_accuracy=statistics.fmean(accuracies) if accuracies else math.nan, interval=interval,
        rmses=rmses, mean_rmse=mean_rmse, rmse_interval=rmse_interval,
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


# -- the recommended configuration ------------------------------------------------


def recommended(
    trials: list[TrialRecord], confirmation: Confirmation | None, fixed: dict[str, Any]
) -> dict[str, Any] | None:
    """The configuration to ship: the confirmed best (else the leaderboard's first ok trial), as plain data.

    ``model`` holds every hyperparameter, fixed and searched, with the seed of
    the saved model (the median repeat's when confirmed), so ``hpsearch train``
    with these values trains that model again. None when no trial finished ok.
    """
    by_id = {t.trial: t for t in trials}
    if confirmation is not None and confirmation.best is not None:
        best = confirmation.best
        repeat = confirmation.median_repeat
        seed = next(r.seed for r in best.repeats if r.repeat == repeat)
        return {
            "source": "confirm", "trial": best.trial, "params": best.params,
            "model": {**fixed, **best.params, "seed": seed},
            "confirm_mean": best.mean, "confirm_std": best.std, "confirm_n": best.n, **_rmse_fields(best),
            "leaderboard_rank": best.leaderboard_rank, "first_value": best.first_value, "median_repeat": repeat,
        }
    ranked = [t for t in rank(list(by_id.values())) if t.status is TrialStatus.OK]
    if not ranked:
        return None
    first = ranked[0]
    return {"source": "leaderboard", "trial": first.trial, "params": first.params,
            "model": {**fixed, **first.params, "seed": first.seed}, "first_value": first.ranking_value}


def export_fields(confirmation: Confirmation | None) -> dict[int, dict[str, Any]]:
    """``trial -> {confirm_mean, confirm_std, confirm_n}`` for the export's confirmation columns, and for a
    regression's repeats ``confirm_rmse_mean``, ``confirm_rmse_low``/``_high`` (its 95% interval) and
    ``confirm_r2_mean``."""
    if confirmation is None:
        return {}
    return {c.trial: {"confirm_mean": c.mean if c.n else None, "confirm_std": c.std if c.n >= 2 else None,
                      "confirm_n": c.n, **_rmse_fields(c)} for c in confirmation.trials}


def _rmse_fields(c: ConfirmedTrial) -> dict[str, float | None]:
    """A regression's confirmed dev RMSE (mean and interval) and mean R²; nothing for other runs."""
    if not c.rmses:
        return {}
    low, high = c.rmse_interval
    finite = math.isfinite(low)
    return {"confirm_rmse_mean": c.mean_rmse, "confirm_rmse_low": low if finite else None,
            "confirm_rmse_high": high if finite else None,
            "confirm_r2_mean": c.mean_r2 if math.isfinite(c.mean_r2) else None}
