"""The round driver: a run is a sequence of rounds, each stored before any of its trials trains.

Round 0 samples the config's space; each later round is a zoom (asked for, or
automatic while ``search.rounds`` says more): with ``search.zoom: box`` a
coarse-to-fine round drawn in the box around the best trials so far, with
``tpe`` a round planned all at once from every finished trial (``space.tpe``),
its unit points stored with the round. Because a round's space, size and any
planned points are stored first, the trials of a run are a pure function of its
config and seed: resuming after a crash, with any number of workers, trains
exactly the trials without a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import RunError
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.interrupts import interruptible
from hpsearch.execution.runner import kept_workers
from hpsearch.search.history import planner_history, trial_levels
from hpsearch.search.options import Execution, SearchReporter
from hpsearch.search.trainer import RoundTrainer
from hpsearch.space.portfolio import auto_split, plan_auto
from hpsearch.space.samplers import plan_round, tpe_stream
from hpsearch.space.search_space import Space, envelope
from hpsearch.space.tpe import dimensions, level_losses, plan_tpe
from hpsearch.space.zoom import EdgeHint, zoom_space
from hpsearch.storage.run_names import command_ref
from hpsearch.storage.run_store import RunStore

#: ``trial_levels`` now lives with the rest of what the planners read (``search.history``); importable here too.
__all__ = ["ZoomRequest", "drive", "edge_hints", "initial_round", "trial_levels", "zoom_round"]


@dataclass(frozen=True)
class ZoomRequest:
    """A zoom round to add (``hpsearch zoom``, or the next of ``search.rounds``).

    ``method``: ``box`` (uniform in the box of the ``top_k`` best ok trials;
    ``expand`` moves the bounds they sit at outward) or ``tpe`` (planned from
    every finished trial); None: the run's ``search.zoom``. ``expand`` implies
    ``box``. ``trials`` None: ``search.zoom_trials``, else ``search.trials``.
    """

    top_k: int
    trials: int | None = None
    expand: bool = False
    method: str | None = None


def initial_round(config: SearchConfig) -> RoundRecord:
    """Round 0: the config's space, sampled by its sampler, its first trials given ``search.enqueue``'s values."""
    return RoundRecord(
        round=0,
        space=config.space.to_json(),
        n_trials=round_size(config, config.space, config.search.trials),
        sampler=config.search.sampler,
        kind="initial",
        enqueued=config.search.enqueue,
    )


def round_size(config: SearchConfig, space: Space, trials: int) -> int:
    """``trials``, or for a grid the number of its points."""
    if config.search.sampler != "grid":
        return trials
    return len(plan_round(space, trials, seed=0, round=0, sampler="grid", grid_points=config.search.grid_points))


def drive(
    store: RunStore,
    config: SearchConfig,
    data: PreparedData | None,
    execution: Execution,
    reporter: SearchReporter,
    *,
    retry_failed: bool = False,
    zoom: ZoomRequest | None = None,
) -> list[EdgeHint]:
    """Train every pending trial of the run, then the rounds asked for; return the edge hints of the best
    trials once all is trained (the bounds of the space searched so far where they sit)."""
    hint_top_k = zoom.top_k if zoom is not None else config.search.top_k

    def saved() -> str:
        planned = sum(r.n_trials for r in store.rounds())
        return f"{len(store.done_trial_ids())} of {planned} trials are saved in run '{store.run_dir.name}'"

    with store.lock(), interruptible(saved, f"hpsearch resume {command_ref(store.run_dir)}"), kept_workers():
        if not store.rounds():
            store.add_round(initial_round(config))
        reporter.run_opened(store.trials())
        trainer = RoundTrainer(store, config, data, execution, reporter)
        while True:
            for rnd in store.rounds():
                trainer.train_round(rnd, retry_failed)
            retry_failed = False  # a trial that fails again stays failed
            if zoom is not None:
                request, zoom = zoom, None
            elif len(store.rounds()) < config.search.rounds and any(
                t.status is TrialStatus.OK for t in planner_history(store, config)[0]
            ):  # automatic rounds stop where there is nothing to zoom into
                request = ZoomRequest(config.search.top_k)
            else:
                return edge_hints(store.rounds(), store.trials(), hint_top_k)
            store.add_round(zoom_round(store, config, request))


def zoom_round(store: RunStore, config: SearchConfig, request: ZoomRequest) -> RoundRecord:
    """The next round (see ``ZoomRequest``): the box around the best ok trials so far, a round planned by
    TPE from every finished trial, or (``auto``) part of each."""
    top_k, trials, expand = request.top_k, request.trials, request.expand
    method = "box" if expand else request.method or config.search.zoom
    if method != "box":
        return planned_round(store, config, trials, top_k, method)
    rounds = store.rounds()
    history = planner_history(store, config)[0]
    result = zoom_space(
        _reference(store, config), _top_params(history, top_k, store.name), margin=config.search.margin, expand=expand
    )
    last = rounds[-1]
    n_trials = trials or config.search.zoom_trials or config.search.trials
    rnd = RoundRecord(
        round=last.round + 1,
        space=result.space.to_json(),
        n_trials=round_size(config, result.space, n_trials),
        sampler=config.search.sampler,
        kind="zoom",
        top_k=top_k,
        expand=expand,
        first_trial=last.first_trial + last.n_trials,
    )
    return rnd


def planned_round(store: RunStore, config: SearchConfig, trials: int | None, top_k: int, method: str) -> RoundRecord:
    """A round whose unit points are planned now and stored in the record: by TPE from every finished trial
    (``tpe``), or part in the box of the ``top_k`` best, part by TPE (``auto``, ``space.portfolio``); the
    history is the run's trials and its warm-start trials (``search.history``).

    It searches the envelope of the rounds so far (the first round's space,
    unless ``--expand`` widened it), planned with the stream of (search seed,
    round): the same finished trials always give the same round.
    """
    last = store.rounds()[-1]
    reference = _reference(store, config)
    finished, levels = planner_history(store, config)
    losses = level_losses(levels, need=len(reference) + 1)
    n_trials = trials or config.search.zoom_trials or config.search.trials
    points = reference.unit_rows([t.params for t in finished])
    rng = tpe_stream(config.search.seed, last.round + 1)
    if method == "tpe":
        planned = plan_tpe(points, losses, dimensions(reference), n_trials, rng)
    else:
        n_box = auto_split(len(finished), len(reference), n_trials, last.round + 1)
        top = _top_params(finished, top_k, store.name) if n_box else []
        box = zoom_space(reference, top, margin=config.search.margin).space if n_box else None
        planned = plan_auto(reference, box, points, losses, n_trials, n_box, rng)
    return RoundRecord(
        round=last.round + 1,
        space=reference.to_json(),
        n_trials=n_trials,
        sampler=method,
        kind="zoom",
        top_k=top_k if method == "auto" else None,
        first_trial=last.first_trial + last.n_trials,
        planned=tuple(tuple(float(x) for x in p) for p in planned),
    )


def _reference(store: RunStore, config: SearchConfig) -> Space:
    """The envelope of the run's rounds so far; runs stored before ranges kept their legal limits get them back
    from the config's space."""
    return envelope([Space.from_json(r.space) for r in store.rounds()]).with_legal_from(config.space)


def _top_params(history: list[TrialRecord], top_k: int, run_name: str) -> list[dict[str, Any]]:
    """The params of the ``top_k`` best ok trials of ``history``, best first; RunError when there is none."""
    top = [t for t in rank(history) if t.status is TrialStatus.OK][:top_k]
    if not top:
        raise RunError(f"run '{run_name}' has no finished ok trial to zoom into — see hpsearch show {run_name}")
    return [t.params for t in top]


def edge_hints(rounds: list[RoundRecord], trials: list[TrialRecord], top_k: int) -> list[EdgeHint]:
    """Where the best trials sit at a bound of the space searched so far."""
    top = [t.params for t in rank(trials) if t.status is TrialStatus.OK][:top_k]
    if not top or not rounds:
        return []
    return zoom_space(envelope([Space.from_json(r.space) for r in rounds]), top).edges
