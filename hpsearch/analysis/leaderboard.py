"""The leaderboard of a run: trials ranked by dev cost J (or an own objective's metric), as rows for a table, CSV or JSON.

Ranking (``TrialRecord.rank_key``): ok and pruned trials by the rung they
reached, then by their value (``search.rank_by``: the last epoch's dev J or the
best; with an own objective, its metric in its direction); then diverged,
then failed; ties by trial id. With an own objective (``metric`` given), the
engine's result columns give way to a column named after the metric and one
per other number the objective reported. ``rung`` and
``best_epoch`` are 1-based counts (rung 1 is the first rung; best_epoch 5 is
the fifth epoch); ``rung`` is empty without early stopping.

``leaderboard`` is the one place where the leaderboard's columns and the text
of every number in it are decided; the terminal (``cli/render.py``) and the
report (``report.py``) draw it. Exports (``write_csv``, ``write_json``) keep
exact values instead.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, replace
from typing import IO, Any

from hpsearch.analysis.run_notes import error_line
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
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank


@dataclass(frozen=True)
class Column:
    """One column of the leaderboard as shown.

    ``whole`` columns are never cut or dropped (rank, trial, status, dev J).
    Columns with a ``drop`` number are dropped, lowest number first, when the
    table is wider than the space it is shown in; the others may be cut.
    """

    title: str
    justify: str = "right"
    whole: bool = False
    drop: int | None = None


@dataclass(frozen=True)
class Leaderboard:
    """The shown leaderboard: columns, and per row the cell texts, the status and the error."""

    columns: list[Column]
    rows: list[list[str]]
    statuses: list[TrialStatus]
    errors: list[str | None]

    def widths(self) -> list[int]:
        """The natural width of each column: its longest cell or title, in characters."""
        return [max([len(c.title), *(len(row[i]) for row in self.rows)]) for i, c in enumerate(self.columns)]

    def min_widths(self) -> list[int]:
        """The narrowest each column may be without cutting a value: a title may fold, unless ``whole``."""
        return [
            max([len(c.title) if c.whole else 1, *(len(row[i]) for row in self.rows)])
            for i, c in enumerate(self.columns)
        ]

    def column_widths(self, width: int, *, per_column: int = 3, frame: int = 1) -> list[int]:
        """Text width of each column so that the table fits ``width`` when it can.

        Columns are narrowed from their natural width, the widest first, down
        to their ``min_widths``: titles fold, values stay whole. ``per_column``
        is what each column adds besides its text (padding and a rule),
        ``frame`` what the table adds once.
        """
        widths, floors = self.widths(), self.min_widths()
        budget = width - per_column * len(widths) - frame
        while sum(widths) > budget:
            shrinkable = [i for i, w in enumerate(widths) if w > floors[i]]
            if not shrinkable:
                break
            widths[max(shrinkable, key=lambda i: (widths[i] - floors[i], i))] -= 1
        return widths

    def fitted(self, width: int, *, per_column: int = 3, frame: int = 1) -> "Leaderboard":
        """The columns that fit in ``width`` characters.

        Droppable columns go first, lowest ``drop`` first, while the table's
        natural width is too wide. If even its narrowest form (``min_widths``)
        is too wide, the last columns that are not ``whole`` go too (dev acc,
        then parameters from the last): a value is never cut, and rank, trial,
        status and dev J always stay.
        """
        natural, narrowest = self.widths(), self.min_widths()  # each computed once: linear in the columns
        kept = set(range(len(self.columns)))
        total, floor = sum(natural), sum(narrowest)

        def drop(i: int) -> None:
            nonlocal total, floor
            kept.discard(i)
            total -= natural[i]
            floor -= narrowest[i]

        for _, i in sorted((c.drop, i) for i, c in enumerate(self.columns) if c.drop is not None):
            if total + per_column * len(kept) + frame <= width:
                break
            drop(i)
        for i in sorted((i for i, c in enumerate(self.columns) if not c.whole), reverse=True):
            if floor + per_column * len(kept) + frame <= width:
                break
            if i in kept:
                drop(i)
        if len(kept) == len(self.columns):
            return self
        order = sorted(kept)
        return replace(
            self, columns=[self.columns[i] for i in order], rows=[[row[i] for i in order] for row in self.rows]
        )


# Dropped first to last when the leaderboard is too wide (the error column first: ``show --wide`` keeps it,
# and ``show`` says under the table where the first failure's error and traceback are).
_DROP_ORDER = {"error": 0, "seconds": 1, "epochs": 2, "round": 3, "train J": 4}


def leaderboard(
    trials: list[TrialRecord],
    names: list[str],
    top: int | None = None,
    metric: str | None = None,
    brackets: dict[int, int] | None = None,
) -> Leaderboard:
    """The ``top`` best trials as text: rank, trial, round, status, (rung, bracket), searched values, results,
    (error).

    The results are the engine's (dev J, best J when a trial is ranked by its best epoch, train J, dev
    accuracy) or, with an own objective (``metric``), the metric and every other number it reported.
    ``rung`` (1-based) shows when early stopping put trials at rungs; ``bracket`` (0-based, as the export's
    promotions) when ``brackets`` (trial -> Hyperband bracket, ``run_notes.trial_brackets``) is given; ``error``
    (its first line, clipped) when a trial failed. Parameters are shown to 3
    significant digits, costs to 4, accuracy as a percentage (``format_param``, ``format_cost``,
    ``format_accuracy``).
    """
    ranked = rank(trials)[:top]
    rungs = any(t.rung is not None for t in trials)
    best = metric is None and any(
        t.value is not None and t.dev_cost is not None and t.value != t.dev_cost and t.value == t.best_dev_cost
        for t in trials
    )
    extras = extra_metrics(trials, metric) if metric is not None else []
    errors = any(t.status is TrialStatus.FAILED for t in ranked)
    columns = [
        Column("rank", whole=True),
        Column("trial", whole=True),
        Column("round", drop=_DROP_ORDER["round"]),
        Column("status", justify="left", whole=True),
        *([Column("rung")] if rungs else []),
        *([Column("bracket")] if brackets else []),
        *(Column(n) for n in names),
    ]
    regression = metric is None and is_regression(trials)
    if metric is None:
        columns += [
            Column("dev J", whole=True),
            *([Column("best J", whole=True)] if best else []),
            Column("train J", drop=_DROP_ORDER["train J"]),
            *([Column("dev RMSE"), Column("dev R²")] if regression else [Column("dev acc")]),
        ]
    else:
        columns += [
            Column(metric, whole=True),
            *(Column(metric_column(n), drop=_DROP_ORDER["train J"]) for n in extras),
        ]
    taken = {*names, *extras}  # a searched or reported epochs keeps its title: epochs_run's gives way
    columns += [
        Column("epochs run" if "epochs" in taken else "epochs", drop=_DROP_ORDER["epochs"]),
        Column("seconds", drop=_DROP_ORDER["seconds"]),
        *([Column("error", justify="left", drop=_DROP_ORDER["error"])] if errors else []),
    ]
    rows = []
    for position, t in enumerate(ranked, start=1):
        row = [
            str(position),
            str(t.trial),
            str(t.round),
            t.status.value,
            *([format_param(None if t.rung is None else t.rung + 1)] if rungs else []),
            *([format_param((brackets or {}).get(t.trial))] if brackets else []),
            *(format_param(t.params.get(n)) for n in names),
        ]
        if metric is None:
            row += [
                format_cost(t.dev_cost),
                *([format_cost(t.best_dev_cost)] if best else []),
                format_cost(t.train_cost),
            ]
            row += (
                [format_cost(t.metrics.get("dev_rmse")), format_param(t.metrics.get("dev_r2"))]
                if regression
                else [format_accuracy(t.dev_accuracy)]
            )
        else:
            row += [format_cost(t.metrics.get(n)) for n in (metric, *extras)]
        rows.append(row + [str(t.epochs_run), format_seconds(t.seconds), *([error_line(t.error)] if errors else [])])
    return Leaderboard(columns, rows, [t.status for t in ranked], [t.error for t in ranked])


def format_param(value: Any) -> str:
    """A hyperparameter value: floats to 3 significant digits, — when absent, true/false in lower case."""
    return _format(value, 3)


def format_cost(value: Any) -> str:
    """A cost J: 4 significant digits (enough to tell close trials apart); nan and inf as such."""
    return _format(value, 4)


def format_quality(values: Any) -> str:
    """How good a model is beside its J, in words: ``dev acc 93.75%``, or for a regression (``dev_rmse`` among
    ``values``, a mapping or a record's metrics) ``dev RMSE 53.2  R² 0.481`` in the target's own units."""
    get = values.get if hasattr(values, "get") else lambda key: getattr(values, key, None)
    rmse = get("dev_rmse")
    if rmse is not None:
        return f"dev RMSE {format_cost(rmse)}  R² {format_param(get('dev_r2'))}"
    return f"dev acc {format_accuracy(get('dev_accuracy'))}"


def format_accuracy(value: float | None) -> str:
    """An accuracy as a percentage with two decimals, — when absent."""
    if value is None:
        return "—"
    return f"{value:.2%}" if math.isfinite(value) else str(value)


def format_seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _format(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        if abs(value) >= 10**digits:  # 1234.5 as 1234, not 1.23e+03
            return f"{value:.0f}"
        if 0.9 < value < 1:  # a β near 1: its distance from 1 is what matters (0.9996, never "1")
            decimals = max(digits, 1 - math.floor(math.log10(1 - value)))
            return f"{value:.{decimals}f}".rstrip("0")
        return f"{value:.{digits}g}"
    return str(value)


def is_regression(trials: list[TrialRecord]) -> bool:
    """Whether these engine trials predict numbers (their records carry a dev RMSE) rather than classes."""
    return any("dev_rmse" in t.metrics for t in trials)


def extra_metrics(trials: list[TrialRecord], metric: str) -> list[str]:
    """The other numbers an own objective reported, sorted by name."""
    return sorted({name for t in trials for name in t.metrics} - {metric})


def export_columns(
    trials: list[TrialRecord], fixed: dict[str, Any], metric: str | None = None, brackets: dict[int, int] | None = None
) -> list[str]:
    """Column order of an export: rank, trial, round, status, results, (bracket), confirmation, error, then every
    hyperparameter.

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
    bracket = ["bracket"] if brackets else []
    return [
        *LEAD_COLUMNS,
        *results,
        *bracket,
        *confirm_columns(trials, metric),
        "error",
        *searched,
        *fixed_names,
        "seed",
    ]


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
) -> list[dict[str, Any]]:
    """One dict per trial, best first: searched values and the run's fixed hyperparameters alike.

    ``seed`` is the trial's own training seed (derived from the search seed, round and index).
    With an own objective (``metric``), the metric and every other reported number take the engine's columns (a
    number named as a fixed column, ``seed``, as ``reported_seed``: ``metric_column``).
    ``confirmed`` maps a trial to its ``CONFIRM_COLUMNS`` (``confirm.export_fields``); empty for the others.
    ``brackets`` (trial -> Hyperband bracket, 0-based) adds a ``bracket`` field when given.
    """
    regression = metric is None and is_regression(trials)
    confirm = confirm_columns(trials, metric)
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
            "error": t.error or "",
        }
        if regression:
            del row["dev_accuracy"]
            row.update({name: t.metrics.get(name) for name in REGRESSION_COLUMNS})
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
) -> None:
    """Every trial as one CSV row (header first). Missing values are empty cells."""
    columns = export_columns(trials, fixed, metric, brackets)
    writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in export_rows(trials, fixed, metric, confirmed, brackets):
        writer.writerow({k: _csv_value(v) for k, v in row.items()})


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
) -> None:
    """The run as one JSON document: rounds (with their promotions), importance, the recommended configuration
    (``confirm.recommended``) and every trial (with its history, and a babysat trial's ``decisions``).

    ``promotions`` maps a round to ``(bracket, rung) -> trials promoted from that rung`` (``RunStore.promotions``);
    ``brackets`` maps a trial to its Hyperband bracket; ``decisions`` a babysat trial to what was changed, when and
    why (``RunStore.decisions``), in the order they were made.
    """
    by_id = {t.trial: t for t in trials}
    rows = []
    for row in export_rows(trials, fixed, metric, confirmed, brackets):
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
    }
    json.dump(_json_value(document), stream, indent=2)
    stream.write("\n")


def _json_value(value: Any) -> Any:
    """JSON has no nan/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value
