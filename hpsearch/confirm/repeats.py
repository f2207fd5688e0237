"""Confirm the best trials: retrain the top K with fresh seeds and rank them by their mean J.

A leaderboard ranks one training run per configuration, so it ranks a seed as
much as a setting: on small data the seed alone moves dev J by more than the
gap between the top few trials. ``confirm_run`` retrains each of a run's top K
trials with S new seeds through the search's runner and stores every repeat;
``summary.summarise`` ranks those trials by the mean J of their repeats, with its
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
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Protocol

from hpsearch.confirm.summary import J_LOWER_BOUND, Confirmation, ConfirmedTrial, summarise
from hpsearch.core.errors import RunError
from hpsearch.core.records import RepeatRecord, TrialRecord, TrialStatus, rank
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.folds import trial_segments, whole_trials
from hpsearch.execution.interrupts import interruptible
from hpsearch.execution.objective_jobs import ObjectiveJob, run_job, trial_record
from hpsearch.execution.runner import run_parallel, run_segments
from hpsearch.execution.segments import TrialTask
from hpsearch.search.best_model import retrain_and_save
from hpsearch.search.options import Execution
from hpsearch.search.refit import refit_best
from hpsearch.search.run_config import stored_config, stored_metric
from hpsearch.search.search_data import run_data
from hpsearch.search.test_part import score_best_model
from hpsearch.space.samplers import repeat_seed
from hpsearch.storage.run_names import command_ref
from hpsearch.storage.run_store import RunStore

DEFAULT_TOP = 5
DEFAULT_SEEDS = 5
# Trials that trained to a result: ok ones, and with early stopping pruned ones too
# (their repeats train to the top rung like every other).
_CONFIRMABLE = (TrialStatus.OK, TrialStatus.PRUNED)


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
    """``(repeat, task)`` for repeats ``0..seeds-1`` of each trial: its values, seeded
    ``repeat_seed(seed, trial, repeat)``."""
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
            raise RunError(
                f"run '{store.run_dir.name}' is a babysat model: confirm retrains a search's top trials with "
                f"fresh seeds, which would drop its decisions — replay it with: hpsearch babysit --replay {ref}"
            )
        config = stored_config(store)
        # the arrays the search trained on (a missing data file stops here, not as a failure of every repeat)
        data = run_data(store, config, execution)  # trust, and the prepared arrays checked against their digests
        ref = command_ref(store.run_dir)  # the folder the user passes back, never the name stored inside
        again = f"hpsearch confirm {ref} --top {top_k} --seeds {seeds}"
        saved = lambda: f"{len(store.repeats())} repeats are saved in run '{store.run_dir.name}'"  # noqa: E731
        with store.lock(), interruptible(saved, again):
            top = top_trials(store.trials(), top_k)
            if not top:
                raise RunError(
                    f"run '{store.run_dir.name}' has no finished ok trial to confirm — see hpsearch show {ref}"
                )
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
                if config.search.refit:  # the confirmed best, refit on train and dev rows: what predict uses
                    refit_best(store, config, data)
                score_best_model(store, data)  # the model predict uses now: scored on the test part, if any
            return replace(load_confirmation(store), trained=len(pending), planned=len(plan))


def _train_repeats(
    store: RunStore, config: Any, data: PreparedData | None, tasks: list[TrialTask], placement: dict[str, Any]
) -> Iterator[tuple[TrialTask, RepeatRecord]]:
    """Train every repeat on the search's runner — the engine, or the run's own objective (each repeat in a
    folder of its own under ``confirm/``) — and yield each as it finishes (repeat index 0 until set)."""
    if config.objective is None:
        folds = data.n_folds()  # data.cv: a repeat is K folds with fresh seeds, its J their mean
        segments = trial_segments(tasks, folds, config.search.rank_by, config.search.metric)
        outcomes = run_segments(segments, model=config.model, data=data, stack=config.search.stack, **placement)
        for outcome in whole_trials(outcomes, folds):
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
        r.trial,
        repeat,
        r.seed,
        r.status,
        value=r.value,
        dev_cost=r.dev_cost,
        train_cost=r.train_cost,
        dev_accuracy=r.dev_accuracy,
        epochs_run=r.epochs_run,
        seconds=r.seconds,
        error=r.error,
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
    if retrain_and_save(
        store, config, data, task, record.value, what=f"trial {best.trial} repeat {repeat}", note=reporter.note
    ):
        store.mark_confirmed_model(best.trial, repeat)


# -- summary -------------------------------------------------------------------


def load_confirmation(store: RunStore) -> Confirmation | None:
    """The confirmation stored in a run (every recorded repeat), or None if it has none."""
    engine = store.config.get("objective") is None
    metric = stored_metric(store)
    trials = store.trials()
    summary = summarise(
        trials,
        store.repeats(),
        model=store.confirmed_model(),
        lower_bound=J_LOWER_BOUND if engine and metric == "cost" else None,  # a negated accuracy is below 0
        regression=engine and any("dev_rmse" in t.metrics for t in trials),
    )
    return summary if summary is None else replace(summary, metric=metric)


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
            "source": "confirm",
            "trial": best.trial,
            "params": best.params,
            "model": {**fixed, **best.params, "seed": seed},
            "confirm_mean": best.mean,
            "confirm_std": best.std,
            "confirm_n": best.n,
            **_rmse_fields(best),
            "leaderboard_rank": best.leaderboard_rank,
            "first_value": best.first_value,
            "median_repeat": repeat,
        }
    ranked = [t for t in rank(list(by_id.values())) if t.status is TrialStatus.OK]
    if not ranked:
        return None
    first = ranked[0]
    return {
        "source": "leaderboard",
        "trial": first.trial,
        "params": first.params,
        "model": {**fixed, **first.params, "seed": first.seed},
        "first_value": first.ranking_value,
    }


def export_fields(confirmation: Confirmation | None) -> dict[int, dict[str, Any]]:
    """``trial -> {confirm_mean, confirm_std, confirm_n}`` for the export's confirmation columns, and for a
    regression's repeats ``confirm_rmse_mean``, ``confirm_rmse_low``/``_high`` (its 95% interval) and
    ``confirm_r2_mean``."""
    if confirmation is None:
        return {}
    return {
        c.trial: {
            "confirm_mean": c.mean if c.n else None,
            "confirm_std": c.std if c.n >= 2 else None,
            "confirm_n": c.n,
            **_rmse_fields(c),
        }
        for c in confirmation.trials
    }


def _rmse_fields(c: ConfirmedTrial) -> dict[str, float | None]:
    """A regression's confirmed dev RMSE (mean and interval) and mean R²; nothing for other runs."""
    if not c.rmses:
        return {}
    low, high = c.rmse_interval
    finite = math.isfinite(low)
    return {
        "confirm_rmse_mean": c.mean_rmse,
        "confirm_rmse_low": low if finite else None,
        "confirm_rmse_high": high if finite else None,
        "confirm_r2_mean": c.mean_r2 if math.isfinite(c.mean_r2) else None,
    }
