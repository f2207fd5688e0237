"""A run's trials exported with their exact values: CSV rows, or one JSON document with rounds and histories.

The leaderboard (``leaderboard.py``) shows rounded text for people; an export keeps every number as stored
(a CSV float round-trips exactly; JSON, which has no nan or inf, gets null for them), best first in the
leaderboard's ranking, with the run's fixed hyperparameters beside the searched ones.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from typing import IO, Any

from hpsearch.analysis.leaderboard import extra_metrics, is_regression, ranked_keys
from hpsearch.core.columns import (
    CONFIRM_COLUMNS,
    LEAD_COLUMNS,
    OBJECTIVE_COLUMNS,
    REGRESSION_COLUMNS,
    REGRESSION_CONFIRM_COLUMNS,
    RESULT_COLUMNS,
    metric_column,
)
from hpsearch.core.decisions import Decision
from hpsearch.core.records import RoundRecord, TrialRecord, rank
from hpsearch.execution.folds import CV_FOLDS, CV_STD, fold_value
from hpsearch.storage.warm import WarmTrial


def export_columns(
    trials: list[TrialRecord],
    fixed: dict[str, Any],
    metric: str | None = None,
    brackets: dict[int, int] | None = None,
    tested: dict[int, dict[str, Any]] | None = None,
) -> list[str]:
    """Column order of an export: rank, trial, round, status, results, (bracket), confirmation, (test figures),
    error, then every hyperparameter.

    The results are the engine's, or (``metric`` given) the metric, every other reported number,
    epochs (reports per epoch), seconds and rung.
    """
    searched = sorted({name for t in trials for name in t.params})
    fixed_names = sorted(k for k in fixed if k not in searched and k != "seed")
    results = (
        RESULT_COLUMNS
        if metric is None
        else (metric, *map(metric_column, extra_metrics(trials, metric)), *OBJECTIVE_COLUMNS)
    )
    if metric is None and is_regression(trials):
        results = tuple(c for name in results for c in (REGRESSION_COLUMNS if name == "dev_accuracy" else (name,)))
    if metric is None:
        results = (*results, *ranked_keys(trials))
    bracket = ["bracket"] if brackets else []
    return [
        *LEAD_COLUMNS,
        *results,
        *cv_columns(trials),
        *bracket,
        *confirm_columns(trials, metric),
        *_test_names(tested),
        "error",
        *searched,
        *fixed_names,
        "seed",
    ]


def cv_columns(trials: list[TrialRecord]) -> tuple[str, ...]:
    """A cross-validated run's columns (``data.cv``): its folds, their spread and each fold's value; else none."""
    folds = max((int(t.metrics[CV_FOLDS]) for t in trials if CV_FOLDS in t.metrics), default=0)
    return (CV_FOLDS, CV_STD, *(fold_value(k) for k in range(folds))) if folds else ()


def confirm_columns(trials: list[TrialRecord], metric: str | None) -> tuple[str, ...]:
    """The confirmation columns of an export: a regression's confirmed RMSE and R² too."""
    regression = metric is None and is_regression(trials)
    return CONFIRM_COLUMNS + (REGRESSION_CONFIRM_COLUMNS if regression else ())


def export_rows(
    trials: list[TrialRecord],
    fixed: dict[str, Any],
    metric: str | None = None,
    confirmed: dict[int, dict[str, Any]] | None = None,
    brackets: dict[int, int] | None = None,
    tested: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One dict per trial, best first: searched values and the run's fixed hyperparameters alike.

    ``seed`` is the trial's own training seed (derived from the search seed, round and index).
    With an own objective (``metric``), the metric and every other reported number take the engine's columns (a
    number named as a fixed column, ``seed``, as ``reported_seed``: ``metric_column``).
    ``confirmed`` maps a trial to its ``CONFIRM_COLUMNS`` (``confirm.export_fields``); empty for the others.
    ``brackets`` (trial -> Hyperband bracket, 0-based) adds a ``bracket`` field when given.
    ``tested`` maps the trial of the model predict uses to its test figures (``TestFigures.columns``): with it,
    every row has those columns, empty but in that trial's.
    """
    regression = metric is None and is_regression(trials)
    confirm = confirm_columns(trials, metric)
    cv = cv_columns(trials)
    rows = []
    for position, t in enumerate(rank(trials), start=1):
        row: dict[str, Any] = {
            "rank": position,
            "trial": t.trial,
            "round": t.round,
            "status": t.status.value,
            "dev_cost": t.dev_cost,
            "train_cost": t.train_cost,
            "dev_accuracy": t.dev_accuracy,
            "epochs_run": t.epochs_run,
            "seconds": t.seconds,
            "rung": None if t.rung is None else t.rung + 1,
            "best_dev_cost": t.best_dev_cost,
            "best_epoch": None if t.best_epoch is None else t.best_epoch + 1,
            **({"bracket": brackets.get(t.trial)} if brackets else {}),
            **dict.fromkeys(confirm),
            **(confirmed or {}).get(t.trial, {}),
            **dict.fromkeys(_test_names(tested)),
            **(tested or {}).get(t.trial, {}),
            "error": t.error or "",
        }
        if regression:
            del row["dev_accuracy"]
            row.update({name: t.metrics.get(name) for name in REGRESSION_COLUMNS})
        row.update({name: t.metrics.get(name) for name in cv})
        if CV_FOLDS in t.metrics:
            row[CV_FOLDS] = int(t.metrics[CV_FOLDS])
        if metric is None:
            row.update({name: t.metrics.get(name) for name in ranked_keys(trials)})
        if metric is not None:
            for name in RESULT_COLUMNS:
                if name not in OBJECTIVE_COLUMNS:
                    del row[name]
            row.update({metric_column(name): value for name, value in t.metrics.items()})
            row.setdefault(metric, None)
        row.update({k: v for k, v in fixed.items() if k != "seed"})
        row.update(t.params)
        row["seed"] = t.seed
        rows.append(row)
    return rows


def write_csv(
    trials: list[TrialRecord],
    fixed: dict[str, Any],
    stream: IO[str],
    metric: str | None = None,
    *,
    confirmed: dict[int, dict[str, Any]] | None = None,
    brackets: dict[int, int] | None = None,
    tested: dict[int, dict[str, Any]] | None = None,
) -> None:
    """Every trial as one CSV row (header first). Missing values are empty cells."""
    columns = export_columns(trials, fixed, metric, brackets, tested)
    writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in export_rows(trials, fixed, metric, confirmed, brackets, tested):
        writer.writerow({k: _csv_value(v) for k, v in row.items()})


def _test_names(tested: dict[int, dict[str, Any]] | None) -> list[str]:
    """The test columns of an export (none without a test part)."""
    return list(next(iter(tested.values()))) if tested else []


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)  # shortest exact round trip; nan/inf as 'nan'/'inf'
    return value


def write_json(
    trials: list[TrialRecord],
    fixed: dict[str, Any],
    stream: IO[str],
    *,
    run: str,
    rounds: list[RoundRecord],
    importance: dict[str, Any] | None = None,
    promotions: dict[int, dict[tuple[int, int], list[int]]] | None = None,
    metric: str | None = None,
    confirmed: dict[int, dict[str, Any]] | None = None,
    recommended: dict[str, Any] | None = None,
    brackets: dict[int, int] | None = None,
    decisions: dict[int, list[Decision]] | None = None,
    tested: dict[int, dict[str, Any]] | None = None,
    warm: list[WarmTrial] | None = None,
) -> None:
    """The run as one JSON document: rounds (with their promotions), importance, the recommended configuration
    (``confirm.recommended``) and every trial (with its history, and a babysat trial's ``decisions``); a
    warm-started run's earlier trials under ``warm_start`` (``warm_rows``), apart from its own.

    ``promotions`` maps a round to ``(bracket, rung) -> trials promoted from that rung`` (``RunStore.promotions``);
    ``brackets`` maps a trial to its Hyperband bracket; ``decisions`` a babysat trial to what was changed, when and
    why (``RunStore.decisions``), in the order they were made.
    """
    by_id = {t.trial: t for t in trials}
    rows = []
    for row in export_rows(trials, fixed, metric, confirmed, brackets, tested):
        row = {k: _json_value(v) for k, v in row.items()}
        row["history"] = by_id[row["trial"]].history
        if decisions and row["trial"] in decisions:
            row["decisions"] = [asdict(d) for d in decisions[row["trial"]]]
        rows.append(row)
    document = {
        "run": run,
        **({"metric": metric} if metric is not None else {}),
        "rounds": [
            {
                "round": r.round,
                "kind": r.kind,
                "sampler": r.sampler,
                "n_trials": r.n_trials,
                "top_k": r.top_k,
                "expand": r.expand,
                "space": r.space,
                "promotions": [
                    {"bracket": b, "from_rung": k + 1, "trials": trials}
                    for (b, k), trials in sorted((promotions or {}).get(r.round, {}).items())
                ],
            }
            for r in rounds
        ],
        "importance": importance,
        "recommended": recommended,
        "trials": rows,
        **({"warm_start": warm_rows(warm)} if warm else {}),
    }
    json.dump(_json_value(document), stream, indent=2)
    stream.write("\n")


def warm_rows(warm: list[WarmTrial]) -> list[dict[str, Any]]:
    """A warm-started run's earlier trials, each marked with where it came from and whether it counted (and if
    not, why): history for the zoom rounds, not trials of this run."""
    return [
        {
            "source": w.source,
            "source_trial": w.source_trial,
            "status": w.status.value,
            "value": w.value,
            "counted": w.left_out is None,
            "left_out": w.left_out,
            "params": w.params,
        }
        for w in warm
    ]


def _json_value(value: Any) -> Any:
    """JSON has no nan/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value
