"""What ``hpsearch confirm`` (and ``show`` of a confirmed run) prints: the table, the verdicts, the best model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.table import Table

from hpsearch.analysis.leaderboard import FOLD_BEFORE_DROP, Column, Leaderboard
from hpsearch.cli.render import console, fitted_table, fmt
from hpsearch.cli.text import plain
from hpsearch.nn.metrics import metric_direction


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def confirm_table(confirmation: Any, objective: Any = None) -> Table:
    """The confirmed trials, best first: confirmed and leaderboard place, first run's J, mean J and its spread,
    and the mean dev accuracy — or, for a regression, the mean dev RMSE with its 95% interval and the mean R².

    With an own objective, its metric in its own direction (a maximized metric is shown as it was reported),
    and nothing of the engine's (an objective has no dev accuracy: the column was "—" throughout).
    """
    label, shown = _confirm_scale(objective, confirmation)
    regression = confirmation.regression
    engine = objective is None
    extra = ("mean RMSE", "RMSE 95% interval", "mean R²") if regression else ("mean acc",) if engine else ()
    titles = (
        "rank",
        "trial",
        "leaderboard",
        f"first-run {label}",
        f"mean {label}",
        "std",
        "min – max",
        "95% interval",
        *extra,
        "repeats",
    )
    rows = []
    for c in confirmation.trials:
        repeats = str(c.n) + (f" ({c.unstable} diverged/failed)" if c.unstable else "")
        if regression:
            results = (
                fmt(c.mean_rmse if c.rmses else None),
                _interval(c.rmse_interval),
                fmt(c.mean_r2 if math.isfinite(c.mean_r2) else None),
            )
        elif engine:
            results = (f"{c.mean_accuracy:.2%}" if math.isfinite(c.mean_accuracy) else "—",)
        else:
            results = ()
        rows.append(
            [
                str(c.rank),
                str(c.trial),
                ordinal(c.leaderboard_rank),
                fmt(shown(c.first_value)),
                fmt(shown(c.mean) if c.n else None),
                fmt(c.std if c.n >= 2 else None),
                _span(shown(c.low), shown(c.high)) if c.n else "—",
                _interval(c.interval, shown),
                *results,
                repeats,
            ]
        )
    # Fitted to the terminal: rank, trial and the mean are kept whole; min – max, std, the repeats, the
    # accuracy (or RMSE), the first run, the leaderboard place and then the interval go, in that order, if need be.
    drop = dict(
        zip(
            ("min – max", "std", "repeats", *extra, f"first-run {label}", "leaderboard", "95% interval"),
            range(FOLD_BEFORE_DROP, FOLD_BEFORE_DROP + 20),
        )
    )
    columns = [Column(t, whole=t not in drop, drop=drop.get(t, 0)) for t in titles]
    return fitted_table(
        Leaderboard(columns, rows, [], []), "Confirmation: top trials retrained with fresh seeds", console.width
    )[0]


def _interval(interval: tuple[float, float], shown: Any = lambda v: v) -> str:
    """``low – high`` of a 95% interval; "—" when it is unbounded (fewer than 2 repeats)."""
    return "—" if not math.isfinite(interval[0]) else _span(shown(interval[0]), shown(interval[1]))


def _confirm_scale(objective: Any, confirmation: Any) -> tuple[str, Any]:
    """The name of what confirm ranks by, and how a stored value (lower is better) reads as that: J, the
    engine's ``search.metric`` or an own objective's metric, a maximized one negated back."""
    if objective is None:
        metric = getattr(confirmation, "metric", "cost")
        if metric == "cost":
            return "J", lambda v: v
        return metric, (lambda v: -v) if metric_direction(metric) == "maximize" else (lambda v: v)
    return objective.metric, (lambda v: -v) if objective.direction == "maximize" else (lambda v: v)


def _span(a: float, b: float) -> str:
    """``low – high`` of two values in either order."""
    return f"{fmt(min(a, b))} – {fmt(max(a, b))}"


def confirm_lines(confirmation: Any, objective: Any = None) -> list[str]:
    """What the confirmation says, in plain sentences: order changes, whether the top two differ, the best."""
    label, shown = _confirm_scale(objective, confirmation)
    lines = []
    by_trial = confirmation.by_trial
    for change in confirmation.changes:
        c = by_trial[change.trial]
        why = (
            f"its first run was lucky ({label} {fmt(shown(c.first_value))}; its {c.n} repeats average "
            f"{fmt(shown(c.mean))})"
            if change.lucky
            else "others confirm better"
        )
        lines.append(
            f"trial {change.trial}, ranked {ordinal(change.leaderboard_rank)}, confirms {ordinal(change.rank)}: {why}"
        )
    if not confirmation.changes and len(confirmation.trials) > 1:
        lines.append("the confirmed order is the leaderboard's")
    if confirmation.deterministic:
        lines.append(
            f"every repeat of a trial gave the same {label}: the objective seems deterministic (it ignores "
            "its seed), so confirm measures no spread"
        )
    elif len(confirmation.trials) >= 2:
        first, second = confirmation.trials[:2]
        if confirmation.tied:
            lines.append(
                f"trials {first.trial} and {second.trial} cannot be told apart: their 95% intervals of "
                f"mean {label} overlap — more --seeds narrow them"
            )
        else:
            lines.append(
                f"trial {first.trial} beats trial {second.trial} beyond the spread of seeds "
                f"(their 95% intervals of mean {label} do not overlap)"
            )
    best = confirmation.best
    if best is not None:
        values = ", ".join(f"{k}={fmt(v)}" for k, v in best.params.items())
        spread = f" ± {fmt(best.std)}" if best.n >= 2 else ""
        mean_label = "dev J" if label == "J" else label
        rmse = ""
        if best.rmses:  # a regression: its mean dev RMSE in the target's units, its interval, its mean R²
            interval = f" (95% {_interval(best.rmse_interval)})" if best.n >= 2 else ""
            rmse = f"  mean dev RMSE {fmt(best.mean_rmse)}{interval}  R² {fmt(best.mean_r2)}"
        lines.append(
            f"recommended: trial {best.trial}  mean {mean_label} {fmt(shown(best.mean))}{spread} over "
            f"{best.n} seeds{rmse}  {values}"
        )
    return lines


def print_confirmation(confirmation: Any, run_dir: Path, objective: Any = None) -> None:
    """The confirmation table, its verdicts and which repeat the best model is (confirm and show)."""
    console.print(confirm_table(confirmation, objective))
    for line in confirm_lines(confirmation, objective):
        console.print(plain(line), highlight=False)
    if confirmation.model is not None:
        trial, repeat = confirmation.model
        console.print(
            plain(
                f"best model (trial {trial}, repeat {repeat}: the median J of its "
                f"{confirmation.by_trial[trial].n} repeats): {run_dir / 'models' / 'best.npz'}"
            ),
            highlight=False,
        )
