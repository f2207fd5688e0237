"""``confirm.png``: the repeats of each confirmed trial, their mean and its first run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hpsearch.analysis.plots.canvas import costs_or_note, new_figure, palette_colour, strip_jitter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hpsearch.confirm.summary import Confirmation


def confirm_figure(confirmation: Confirmation) -> Figure:
    """The J of every ok repeat of each confirmed trial (dots), its mean (bar) and its first run (hollow diamond)."""
    figure = new_figure(max(5.0, 1.2 * len(confirmation.trials) + 2.0), 4.2)
    ax = figure.subplots()
    drawn = []
    for x, c in enumerate(confirmation.trials):
        values = np.array(c.values, dtype=float)  # (n,) ok repeats
        jitter = np.array([strip_jitter(r.repeat) for r in c.ok_repeats])  # (n,)
        ax.scatter(x + jitter, values, s=18, alpha=0.7, color=palette_colour(0), label="repeat" if x == 0 else None)
        if values.size:
            ax.hlines(c.mean, x - 0.3, x + 0.3, color="black", linewidth=1.6, label="mean" if x == 0 else None)
        if math.isfinite(c.first_value):
            ax.scatter(
                [x],
                [c.first_value],
                marker="D",
                s=40,
                facecolors="none",
                edgecolors="#b00020",
                label="first run" if x == 0 else None,
            )
            drawn.append(c.first_value)
        drawn.extend(values.tolist())
    ax.set_xticks(range(len(confirmation.trials)))
    ax.set_xticklabels([f"trial {c.trial}\n{c.leaderboard_rank}. → {c.rank}." for c in confirmation.trials], fontsize=8)
    ax.set_xlim(-0.6, len(confirmation.trials) - 0.4)
    if costs_or_note(ax, [np.array(drawn)] if drawn else [], "no repeat finished with a finite J"):
        if min(drawn) == 0:  # a perfect fit: no room below it
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("confirmed order (leaderboard place → confirmed place)")
    ax.set_ylabel("dev J")
    ax.set_title("confirm: each top trial retrained with fresh seeds", fontsize=10)
    return figure
