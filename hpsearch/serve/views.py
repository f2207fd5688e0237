"""A run as the JSON its pages draw: the runs list, a run's axes and trials, a leaderboard page, a trial.

Nothing here decides a view of its own: ranking is ``core.records.rank``, the leaderboard's columns and the text
of each cell are ``analysis.leaderboard``'s (as in ``show`` and report.html), each parameter's axis and a trial's
cost are ``analysis.plots.run_view``'s (as in ``plot``'s PNGs), importance is ``run_importance``, how a round was
made ``describe_round``, confirm's intervals ``load_confirmation``. Every answer is bounded: trials come in
chunks of ``CHUNK`` and leaderboard pages of at most ``MAX_PAGE`` rows.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from hpsearch.analysis.importance import ImportanceReport, by_importance, run_importance
from hpsearch.analysis.leaderboard import format_param, leaderboard
from hpsearch.analysis.plots.parameter_axis import LOG_SCALES, ParameterAxis, one_minus_log_ticks
from hpsearch.analysis.plots.run_view import RunView, finite_cost
from hpsearch.analysis.run_notes import describe_round
from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import RunError
from hpsearch.core.records import TrialRecord
from hpsearch.search.run_config import stored_config
from hpsearch.serve.runs import RunCache, Runs, is_running, read_run
from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.trials import TrialHead

#: Trials per answer of ``trials``: a page asks again with ``after`` until it has them all.
CHUNK = 5000
#: Most rows a leaderboard page holds.
MAX_PAGE = 500
#: Most trials of the first round importance is judged from (it bootstraps, and is asked for while a run goes).
MAX_IMPORTANCE = 2000
#: Most trials whose learning curves one answer holds.
MAX_CURVES = 20


def number(value: Any) -> float | None:
    """A float for JSON, which has no NaN or infinity: None for those."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def run_kind(config: dict[str, Any]) -> str:
    """``network`` or ``objective``, with ``, early stopping`` and ``, cv`` where they apply: what a run is."""
    search = config.get("search") or {}
    data = config.get("data") or {}
    parts = ["objective" if config.get("objective") else "network"]
    parts += ["early stopping"] if isinstance(search, dict) and search.get("early_stopping") else []
    parts += ["cv"] if isinstance(data, dict) and data.get("cv") else []
    return ", ".join(parts)


def run_line(store: RunStore, running: bool) -> dict[str, Any]:
    """A run's line in the runs list: what ``hpsearch list`` shows, its kind, and whether it runs."""
    summary = store.summary()
    status = "running" if running else "finished" if summary.trials_done >= summary.trials_planned else "interrupted"
    best = summary.best_value if summary.metric else summary.best_dev_cost
    return {
        "name": summary.name,
        "kind": run_kind(store.config),
        "status": status,
        "done": summary.trials_done,
        "planned": summary.trials_planned,
        "best": number(best),
        "best_trial": summary.best_trial,
        "label": summary.metric or "dev J",
        "created": summary.created.isoformat(timespec="seconds"),
    }


def runs_list(runs: Runs) -> dict[str, Any]:
    """Every run of the runs folder, oldest first, and those that cannot be read, each with its reason (a
    damaged run left out silently would look deleted)."""
    lines, unreadable = [], []
    folders = sorted(runs.runs_dir.iterdir()) if runs.runs_dir.is_dir() else []
    for folder in folders:
        if folder.name.startswith(".") or not (folder / RUN_DB).is_file():
            continue
        try:
            running = is_running(runs.folder(folder.name))
            lines.append(read_run(runs.folder(folder.name), lambda store: run_line(store, running)))
        except RunError as e:
            unreadable.append({"name": folder.name, "reason": str(e)})
        except sqlite3.Error as e:
            unreadable.append({"name": folder.name, "reason": f"{RUN_DB}: {e}"})
    lines.sort(key=lambda line: (line["created"], line["name"]))
    return {"runs": lines, "unreadable": unreadable}


def axis_json(axis: ParameterAxis) -> dict[str, Any]:
    """A parameter's axis, linear in ``position``'s units: log scales in log10 of the value, ``one_minus_log``
    in log10(1 − β), choices by index; the ticks say which value sits where."""
    low, high = axis.limits
    if axis.scale == "choice":
        ticks = [(float(i), format_param(c)) for i, c in enumerate(axis.choices)]
    elif axis.scale == "one_minus_log":
        positions, labels = one_minus_log_ticks(low, high)
        ticks = list(zip(positions, labels))
    elif axis.scale in LOG_SCALES:
        low, high = math.log10(low), math.log10(high)
        ticks = _log_ticks(low, high)
    else:
        ticks = []
    return {
        "name": axis.name,
        "scale": axis.scale,
        "range": [low, high],
        "reversed": axis.scale == "one_minus_log",  # 0.9, 0.99, 0.999 in reading order
        "ticks": [[p, text] for p, text in ticks],
    }


def _log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks at 1, 10, 100, ... within [low, high] (log10 units), with 2 and 5 between when fewer than 3 fit."""
    candidates = [(k + math.log10(m), m * 10.0**k) for k in range(-30, 31) for m in (1, 2, 5)]
    inside = [(p, v) for p, v in candidates if low <= p <= high]
    decades = [(p, v) for p, v in inside if abs(p - round(p)) < 1e-9]
    return [(p, format_param(v)) for p, v in (decades if len(decades) >= 3 else inside)]


def position(axis: ParameterAxis, value: Any) -> float | None:
    """Where ``value`` sits on ``axis_json(axis)``."""
    try:
        place = float(axis.position([value])[0])
    except (KeyError, ValueError, TypeError):
        return None
    if axis.scale in LOG_SCALES:
        place = math.log10(place) if place > 0 else math.nan
    return number(place)


def run_meta(store: RunStore, cache: RunCache, running: bool) -> dict[str, Any]:
    """A run's page header and axes: its line, rounds, the ranked value's name and direction, each axis."""
    config = config_of(store, cache)
    view = RunView.of(store.rounds(), [], 5, config.objective)  # axes of the rounds' boxes; no trial is parsed
    heads = list(cache.heads.values())
    return {
        **run_line(store, running),
        "metric": view.metric,
        "maximize": view.maximize,
        "generation": cache.generation,
        "rounds": [
            {"round": r.round, "trials": r.n_trials, "how": describe_round(r, heads).sentence(r.n_trials)}
            for r in view.rounds
        ],
        "axes": [axis_json(axis) for axis in view.axes.values()],
    }


def trial_json(trial: TrialRecord, axes: dict[str, ParameterAxis], metric: str | None) -> dict[str, Any]:
    """One trial, compact: id, round, status, its cost (as the plots take it), each value's place and text."""
    return {
        "trial": trial.trial,
        "round": trial.round,
        "status": trial.status.value,
        "cost": number(finite_cost(trial, metric)),
        "at": {n: position(axes[n], v) for n, v in trial.params.items() if n in axes},
        "text": {n: format_param(v) for n, v in trial.params.items()},
    }


def trials_after(store: RunStore, cache: RunCache, after: int, generation: int) -> dict[str, Any]:
    """The trials a page does not have: those after its first ``after`` (all of them when its ``generation`` is
    not the cache's), at most ``CHUNK``; ``more`` says whether others wait."""
    config = config_of(store, cache)
    view = RunView.of(store.rounds(), [], 5, config.objective)  # positions do not depend on the limits
    start = after if generation == cache.generation else 0
    ids = cache.order[start : start + CHUNK]
    return {
        "generation": cache.generation,
        "reset": start != after,
        "after": start + len(ids),
        "more": start + len(ids) < len(cache.order),
        "trials": [trial_json(rec, view.axes, view.metric) for rec in cache.records(store, ids)],
    }


def leaderboard_page(
    store: RunStore,
    cache: RunCache,
    *,
    page: int = 0,
    size: int = 50,
    sort: str = "rank",
    descending: bool = False,
    status: str | None = None,
    round_: int | None = None,
    param: str | None = None,
    low: float | None = None,
    high: float | None = None,
) -> dict[str, Any]:
    """One page of the leaderboard, as ``show`` words it: the trials filtered (status, round, a parameter's
    range), ordered by rank or by ``sort`` (a column: trial, round, seconds, epochs or a parameter), then paged."""
    config = config_of(store, cache)
    size = max(1, min(MAX_PAGE, size))
    ranked = _ranked(cache)
    place = {t.trial: i + 1 for i, t in enumerate(ranked)}
    chosen = [
        t for t in ranked if (status is None or t.status.value == status) and (round_ is None or t.round == round_)
    ]
    if param is not None or sort not in _HEAD_SORTS:  # a parameter's values are in the full records only
        chosen = cache.records(store, [t.trial for t in chosen])
        chosen = [t for t in chosen if _in_range(t.params.get(param) if param else None, low, high, param is not None)]
    if sort != "rank":
        chosen.sort(key=lambda t: _sort_key(t, sort))
    if descending:
        chosen.reverse()
    total = len(chosen)
    page = max(0, min(page, max(0, (total - 1) // size)))
    shown = cache.records(store, [t.trial for t in chosen[page * size : (page + 1) * size]])
    importance = cache.derived.get("importance")  # parameters by importance once it is known (it is slow)
    names = by_importance(importance, list(config.space.names)) if importance else list(config.space.names)
    board = leaderboard(shown, names, metric=config.metric)
    titles = [c.title for c in board.columns]
    by_trial = {int(row[titles.index("trial")]): row for row in board.rows}
    rows = []
    for t in shown:
        row = list(by_trial[t.trial])
        row[titles.index("rank")] = str(place[t.trial])
        rows.append({"trial": t.trial, "status": t.status.value, "cells": row})
    return {"columns": titles, "rows": rows, "total": total, "page": page, "size": size, "of": len(ranked)}


_HEAD_SORTS = ("rank", "trial", "round", "seconds", "epochs")


def _ranked(cache: RunCache) -> list[TrialHead]:
    """Every trial's head, best first (as ``core.records.rank``), ranked once per set of trials."""
    if "ranked" not in cache.derived:
        cache.derived["ranked"] = sorted(cache.heads.values(), key=TrialHead.rank_key)
    return cache.derived["ranked"]


def _in_range(value: Any, low: float | None, high: float | None, asked: bool) -> bool:
    if not asked:
        return True
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _sort_key(trial: TrialRecord | TrialHead, column: str) -> tuple:
    fixed = {"trial": trial.trial, "round": trial.round, "seconds": trial.seconds, "epochs": trial.epochs_run}
    value = fixed[column] if column in fixed else getattr(trial, "params", {}).get(column)
    if value is None:
        return (2, "")
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def config_of(store: RunStore, cache: RunCache) -> SearchConfig:
    """The run's stored config, read once."""
    if "config" not in cache.derived:
        cache.derived["config"] = stored_config(store)
    return cache.derived["config"]


def _importance(store: RunStore, cache: RunCache) -> ImportanceReport:
    """The run's importance (``run_importance``, as ``hpsearch importance``) of the first round's first
    ``MAX_IMPORTANCE`` trials, computed once per set of trials: it bootstraps, seconds for thousands of trials."""
    if "importance" not in cache.derived:
        config = config_of(store, cache)
        first = [t.trial for t in cache.heads.values() if t.round == 0][:MAX_IMPORTANCE]
        trials = cache.records(store, first)
        cache.derived["importance"] = run_importance(config.space, trials, config.objective, config.search.metric)
    return cache.derived["importance"]


def importance_json(store: RunStore, cache: RunCache) -> dict[str, Any]:
    """What ``hpsearch importance`` shows: each parameter's share of the variation, with its spread."""
    report = _importance(store, cache)
    first = sum(t.round == 0 for t in cache.heads.values())
    return {
        "method": report.method + (f"; its first {MAX_IMPORTANCE} of {first}" if first > MAX_IMPORTANCE else ""),
        "enough": report.enough,
        "message": report.message,
        "items": [{"name": i.name, "share": number(i.share), "spread": number(i.spread)} for i in report.items],
    }


def trial_page(store: RunStore, cache: RunCache, trial: int) -> dict[str, Any] | None:
    """A trial's page: its values, seed, results, error, per-epoch history, rungs and babysit's decisions."""
    found = cache.records(store, [trial])
    if not found:
        return None
    rec = found[0]
    history, _ = store.epoch_log(trial)
    if not any(history.values()):
        history = (store.tables.trials.some([trial]) or [rec])[0].history
    decisions = store.decisions().get(trial, [])
    return {
        "trial": rec.trial,
        "round": rec.round,
        "status": rec.status.value,
        "seed": str(rec.seed),
        "params": {n: format_param(v) for n, v in rec.params.items()},
        "results": {
            k: number(getattr(rec, k))
            for k in ("dev_cost", "train_cost", "dev_accuracy", "value", "best_dev_cost", "seconds")
        }
        | {"epochs_run": rec.epochs_run, "rung": None if rec.rung is None else rec.rung + 1},
        "metrics": {k: number(v) for k, v in rec.metrics.items()},
        "error": rec.error,
        "history": {k: [number(v) for v in vs] for k, vs in history.items()},
        "decisions": [{"epoch": d.epoch, "action": d.action, "reason": d.reason} for d in decisions],
    }


def curves(store: RunStore, cache: RunCache, trials: list[int]) -> dict[str, Any]:
    """The per-epoch history of up to ``MAX_CURVES`` trials (the top ones a page draws), by trial."""
    metric = config_of(store, cache).metric
    out = {}
    for t in trials[:MAX_CURVES]:
        if t not in cache.heads:
            continue
        history, _ = store.epoch_log(t)
        if metric is not None or not any(history.values()):
            history = store.tables.trials.some([t])[0].history
        out[str(t)] = {k: [number(v) for v in vs] for k, vs in history.items()}
    return {"metric": metric, "curves": out}
