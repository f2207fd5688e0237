"""What ``hpsearch run --dry-run`` prints of a plan: the planned trials, where they look, the rungs, the zoom rounds.

Drawn with ``render``'s consoles and fitted tables; nothing is trained or decided here.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from hpsearch.analysis.histogram import histogram
from hpsearch.analysis.leaderboard import FOLD_BEFORE_DROP, Column, Leaderboard, format_param
from hpsearch.cli.render import console, fitted_table, more_line
from hpsearch.cli.text import plain
from hpsearch.space.portfolio import model_threshold
from hpsearch.space.search_space import Space
from hpsearch.space.tpe import N_STARTUP


def plan_table(
    plan: list[tuple[int, int, dict[str, Any]]], names: list[str], more: str | None = None, width: int | None = None
) -> Table | Group:
    """The planned trials of a dry run: (round, trial, params) rows, fitted to ``width`` (default: the
    terminal's) like the leaderboard: the parameters go from the last when they do not fit, and one line says
    so, with ``more`` (what shows them all)."""
    width = width or console.width
    columns = [
        Column("round", drop=FOLD_BEFORE_DROP + len(names) + 1),
        Column("trial", whole=True),
        *(Column(n, drop=FOLD_BEFORE_DROP + len(names) - i) for i, n in enumerate(names)),
    ]
    rows = [[str(rnd), str(trial), *(format_param(params.get(n)) for n in names)] for rnd, trial, params in plan]
    table, hidden = fitted_table(Leaderboard(columns, rows, [], []), f"Planned trials ({len(plan)})", width)
    return Group(table, more_line(hidden, more, width)) if hidden and more else table


def rung_plan_table(budget: Any) -> Group:
    """The dry run's early-stopping plan (``search.api.RungBudget``): trials and epochs per bracket and rung, against
    full training, and what method ``auto`` chose.

    ``asynchronous`` (an own objective): its trials stop as they report, so the counts are about these.
    """
    plan, full_epochs, planned, asynchronous = budget.plan, budget.full_epochs, budget.epochs, budget.asynchronous
    table = Table(title="Rungs of round 0", title_justify="left")
    for column in ("bracket", "rung", "trials", "epochs", "epochs trained"):
        table.add_column(column, justify="right")
    for p in plan:
        table.add_row(
            str(p.bracket), str(p.rung + 1), str(p.trials), str(p.epochs), str(p.trials * (p.epochs - p.start_epochs))
        )
    share = f", {planned / full_epochs:.0%} of the {full_epochs} of full training" if full_epochs else ""
    when = (
        "about: trials stop as they report, so which and how many depends on the order they reach each rung"
        if asynchronous
        else "if no trial diverges"
    )
    lines = [f"{planned} epochs in all{share} ({when})", *([plain(budget.choice)] if budget.choice else [])]
    return Group(table, *lines)


def zoom_rounds_line(search: Any, n_dims: int, first: int) -> str:
    """What a dry run says of the automatic coarse-to-fine rounds that follow a round 0 of ``first`` trials in
    ``n_dims`` dimensions: how each will be drawn, rounds drawn at random or all in the box for want of
    finished trials included (assuming every trial before a round finishes)."""
    if search.rounds <= 1:
        return "then no zoom round (search.rounds: 1); add one later with: hpsearch zoom RUN"
    n, size = search.rounds - 1, search.zoom_trials or search.trials
    head = f"then {n} zoom round{'s' if n > 1 else ''} of {size} trials{' each' if n > 1 else ''}, "
    box = f"in the box of the best {search.top_k} trials so far"
    if search.zoom == "box":
        return head + f"sampled {box}"
    # Round r (from 1) is planned from the trials of the rounds before it.
    need = N_STARTUP if search.zoom == "tpe" else model_threshold(n_dims)
    starved = sum(first + (r - 1) * size < need for r in range(1, n + 1))
    if search.zoom == "tpe":
        how, lacking = "planned by tpe from every finished trial", "drawn at random"
    else:
        turns = " (by turns)" if size == 1 else ""
        how, lacking = f"half {box}, half planned by tpe from every finished trial{turns}", "all in the box"
    if not starved:
        return head + how
    why = f"fewer than {need} finished trials to model {n_dims} dimensions"
    return head + f"{how}; {_rounds(1, starved)} {lacking} ({why})"


def _rounds(low: int, high: int) -> str:
    """``round 1`` or ``rounds 2–7``."""
    return f"round {low}" if low == high else f"rounds {low}–{high}"


def histograms(space: Space, plan: list[dict[str, Any]], width: int = 30) -> Table:
    """For each parameter, a bar per bin of its planned values, on its own scale."""
    table = Table(title="Where the search will look", title_justify="left", show_header=False, box=None)
    table.add_column("parameter", style="bold")
    table.add_column("bin", justify="right")
    table.add_column("bar")
    table.add_column("count", justify="right")
    for name, dist in space.items():
        bins = histogram(dist, [p[name] for p in plan if name in p])  # active trials only
        most = max((count for _, count in bins), default=0) or 1
        for i, (label, count) in enumerate(bins):
            bar = "█" * round(width * count / most)
            table.add_row(plain(f"{name} ({dist.scale})") if i == 0 else "", plain(label), bar, str(count))
    return table
