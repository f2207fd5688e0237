"""The leaderboard of a run: trials ranked by dev cost J (or an own objective's metric), as rows for a table, CSV, JSON.

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
report (``report.py``) draw it. Exports (``export.py``: ``write_csv``, ``write_json``)
keep exact values instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from hpsearch.analysis.run_notes import error_line
from hpsearch.core.columns import metric_column
from hpsearch.core.records import TrialRecord, TrialStatus, rank
from hpsearch.execution.folds import CV_STD


@dataclass(frozen=True)
class Column:
    """One column of the leaderboard as shown.

    ``whole`` columns are never cut, folded or dropped (rank, trial, status, the
    value trials are ranked by). The others are dropped when the table is wider
    than the space it is shown in, lowest ``drop`` first: what matters least
    goes first, and the parameters go from the least important.
    """

    title: str
    justify: str = "right"
    whole: bool = False
    drop: int = 0

    def folded(self) -> list[str]:
        """The title's pieces in a column narrower than it, never one letter a line: its words (a table wraps
        at spaces), or a name cut after its middlemost underscore (``learning_`` over ``rate``)."""
        title = self.title
        if self.whole or " " in title or "_" not in title[:-1]:
            return [title] if self.whole else title.split(" ")
        cut = min((k + 1 for k, char in enumerate(title[:-1]) if char == "_"), key=lambda k: abs(len(title) - 2 * k))
        return [title[:cut], title[cut:]]


@dataclass(frozen=True)
class Leaderboard:
    """The shown leaderboard: columns, and per row the cell texts, the status and the error.

    ``hidden`` names the columns ``fitted`` left out for want of width (``show --wide`` shows them).
    """

    columns: list[Column]
    rows: list[list[str]]
    statuses: list[TrialStatus]
    errors: list[str | None]
    hidden: tuple[str, ...] = ()

    def widths(self) -> list[int]:
        """The natural width of each column: its longest cell or title, in characters."""
        return [max([len(c.title), *(len(row[i]) for row in self.rows)]) for i, c in enumerate(self.columns)]

    def min_widths(self) -> list[int]:
        """The narrowest each column may be without cutting a value: its title folded (``Column.folded``),
        never one letter a line."""
        return [
            max([*(len(line) for line in c.folded()), *(len(row[i]) for row in self.rows)])
            for i, c in enumerate(self.columns)
        ]

    def column_widths(self, width: int, *, per_column: int = 3, frame: int = 1) -> list[int]:
        """Text width of each column so that the table fits ``width`` when it can.

        A column is either at its natural width or at its ``min_widths`` (its title
        folded, values whole): the columns that save the most are folded first,
        until the table fits. ``per_column`` is what each column adds
        besides its text (padding and a rule), ``frame`` what the table adds once.
        """
        widths, floors = self.widths(), self.min_widths()
        budget = width - per_column * len(widths) - frame
        for i in sorted(range(len(widths)), key=lambda i: (floors[i] - widths[i], -i)):
            if sum(widths) <= budget:
                break
            widths[i] = floors[i]
        return widths

    def fitted(self, width: int, *, per_column: int = 3, frame: int = 1) -> "Leaderboard":
        """The columns that fit in ``width`` characters, the ones that matter most kept.

        The minor columns (error, seconds, epochs, round, train J: ``drop`` below
        ``FOLD_BEFORE_DROP``) go first while the table's natural width is too wide;
        then, while even its narrowest form (``min_widths``) is too wide, every
        other column that is not ``whole``, lowest ``drop`` first (parameters from
        the least important, then the rung, then dev acc). A value is never cut.
        """
        natural, narrowest = self.widths(), self.min_widths()  # each computed once: linear in the columns
        kept = set(range(len(self.columns)))
        total, floor = sum(natural), sum(narrowest)
        by_drop = sorted((c.drop, i) for i, c in enumerate(self.columns) if not c.whole)
        for rank_, i in by_drop:
            if total + per_column * len(kept) + frame <= width:
                break
            if rank_ >= FOLD_BEFORE_DROP and floor + per_column * len(kept) + frame <= width:
                break
            kept.discard(i)
            total -= natural[i]
            floor -= narrowest[i]
        if len(kept) == len(self.columns):
            return self
        order = sorted(kept)
        return replace(
            self,
            columns=[self.columns[i] for i in order],
            rows=[[row[i] for i in order] for row in self.rows],
            hidden=tuple(c.title for i, c in enumerate(self.columns) if i not in kept),
        )


# Dropped first to last when the leaderboard is too wide (the error column first: ``show --wide`` keeps it,
# and ``show`` says where the first failure's error is); then an own objective's other numbers, the bracket,
# the parameters (the least important first, from FOLD_BEFORE_DROP up), the rung, and dev acc.
_DROP_ORDER = {"error": 0, "seconds": 1, "epochs": 2, "round": 3, "train J": 4, "cv std": 5, "extra": 5, "bracket": 6}
FOLD_BEFORE_DROP = 10
"""A column whose ``drop`` is at least this is dropped only when even the folded titles do not fit."""
_RUNG, _QUALITY = 1_000_000, 1_000_001


def leaderboard(
    trials: list[TrialRecord],
    names: list[str],
    top: int | None = None,
    metric: str | None = None,
    brackets: dict[int, int] | None = None,
) -> Leaderboard:
    """The ``top`` best trials as text: rank, trial, round, status, (rung, bracket), searched values, results,
    (error).

    ``names`` are the searched parameters, the most important first (``importance.by_importance``): they are
    shown in that order and, when space is short, dropped from the last. A column that is — in every shown row
    (a parameter no shown trial used, an absent number) is left out.
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
        *([Column("rung", drop=_RUNG)] if rungs else []),
        *([Column("bracket", drop=_DROP_ORDER["bracket"])] if brackets else []),
        *(Column(n, drop=FOLD_BEFORE_DROP + len(names) - i) for i, n in enumerate(names)),
    ]
    regression = metric is None and is_regression(trials)
    cv = metric is None and any(CV_STD in t.metrics for t in trials)
    if metric is None:  # the dev figure a search ranks by (search.metric) beside J, when it is not J or accuracy
        extras = ranked_keys(trials)
    columns += _result_columns(metric, extras, best=best, regression=regression, cv=cv)
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
        row += _result_cells(t, metric, extras, best=best, regression=regression, cv=cv)
        rows.append(row + [str(t.epochs_run), format_seconds(t.seconds), *([error_line(t.error)] if errors else [])])
    shown = [i for i, c in enumerate(columns) if c.whole or not rows or any(row[i] != "—" for row in rows)]
    return Leaderboard(
        [columns[i] for i in shown],
        [[row[i] for i in shown] for row in rows],
        [t.status for t in ranked],
        [t.error for t in ranked],
    )


def _result_columns(
    metric: str | None, extras: list[str], *, best: bool, regression: bool, cv: bool = False
) -> list[Column]:
    """The result columns: the engine's (dev J, best J, the folds' spread with ``data.cv``, train J, dev accuracy
    or a regression's RMSE and R²), or an own objective's metric and the other numbers it reported (``extras``)."""
    if metric is not None:
        return [Column(metric, whole=True), *(Column(metric_column(n), drop=_DROP_ORDER["extra"]) for n in extras)]
    quality = (
        [Column("dev RMSE", drop=_QUALITY), Column("dev R²", drop=_QUALITY)]
        if regression
        else [Column("dev acc", drop=_QUALITY)]
    )
    return [
        *(Column(RANKED_COLUMNS[key], whole=True) for key in extras),
        Column("dev J", whole=True),
        *([Column("best J", whole=True)] if best else []),
        *([Column("cv std", drop=_DROP_ORDER["cv std"])] if cv else []),
        Column("train J", drop=_DROP_ORDER["train J"]),
        *quality,
    ]


def _result_cells(
    t: TrialRecord, metric: str | None, extras: list[str], *, best: bool, regression: bool, cv: bool = False
) -> list[str]:
    """One trial's cells under ``_result_columns``, in the same order."""
    if metric is not None:
        return [format_cost(t.metrics.get(n)) for n in (metric, *extras)]
    quality = (
        [format_cost(t.metrics.get("dev_rmse")), format_param(t.metrics.get("dev_r2"))]
        if regression
        else [format_accuracy(t.dev_accuracy)]
    )
    return [
        *(format_cost(t.metrics.get(key)) for key in extras),
        format_cost(t.dev_cost),
        *([format_cost(t.best_dev_cost)] if best else []),
        *([format_cost(t.metrics.get(CV_STD))] if cv else []),
        format_cost(t.train_cost),
        *quality,
    ]


RANKED_COLUMNS = {"dev_balanced_accuracy": "dev bal acc", "dev_f1_macro": "dev F1", "dev_mae": "dev MAE"}
"""The dev figures (``nn.metrics.OPTIONAL_KEYS``) a record carries when its search ranks by one (``search.metric``),
and their titles: the ranking column, shown before J."""


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
    ranked = "".join(
        f"  {RANKED_COLUMNS[key]} {format_cost(get(key))}" for key in RANKED_COLUMNS if get(key) is not None
    )
    rmse = get("dev_rmse")
    if rmse is not None:
        return f"dev RMSE {format_cost(rmse)}  R² {format_param(get('dev_r2'))}{ranked}"
    return f"dev acc {format_accuracy(get('dev_accuracy'))}{ranked}"


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


def ranked_keys(trials: list[TrialRecord]) -> list[str]:
    """The dev figure engine trials were ranked by (``search.metric``), when their records carry one besides J
    and accuracy or RMSE (``RANKED_COLUMNS``)."""
    return [key for key in RANKED_COLUMNS if any(key in t.metrics for t in trials)]
