"""One self-contained HTML page for a run: leaderboard, confirmation, rounds, importance and plots.

The page opens from a file with no server and no network: images are embedded
as base64 ``data:`` URIs, the CSS is inline and there is no script. Every piece
of text from the run (names, values, error messages) is HTML-escaped.
"""

from __future__ import annotations

import base64
import math
import mimetypes
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.analysis.importance import ImportanceReport
from hpsearch.analysis.leaderboard import format_accuracy, format_cost, leaderboard
from hpsearch.analysis.run_notes import describe_round
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.io.safe_files import write_bytes_atomic
from hpsearch.space.search_space import Space

if TYPE_CHECKING:
    from hpsearch.confirm.summary import Confirmation

REPORT_FILE = "report.html"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
tr.diverged td { color: #a66300; } tr.failed td { color: #b00020; }
.bar { display: inline-block; height: 0.7rem; background: #3b6ea5; vertical-align: middle; }
.note { color: #666; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.85rem; }
div.wide { overflow-x: auto; } table.leaderboard th { overflow-wrap: anywhere; vertical-align: bottom; }
"""


def write_report(
    out_dir: Path,
    *,
    run_name: str,
    rounds: list[RoundRecord],
    trials: list[TrialRecord],
    images: list[Path],
    importance: ImportanceReport,
    leaderboard_rows: int = 20,
    metric: str | None = None,
    confirmation: Confirmation | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and return its path.

    Parameters
    ----------
    images
        Picture files to embed, in the order shown (``plot_run``'s output).
    leaderboard_rows
        How many of the best trials the leaderboard lists.
    metric
        An own objective's metric, shown instead of the engine's dev J, train J and accuracy.
    confirmation
        ``confirm.load_confirmation``'s summary, shown as a table after the leaderboard.
    """
    sections = [
        f"<h1>hpsearch run {escape(run_name)}</h1>",
        _summary(trials, metric),
        "<h2>Leaderboard</h2>",
        _leaderboard(rounds, trials, leaderboard_rows, metric),
        *(["<h2>Confirmation</h2>", _confirmation(confirmation)] if confirmation is not None else []),
        "<h2>Hyperparameter importance</h2>",
        _importance(importance, metric),
        "<h2>Rounds</h2>",
        *(_round(r, trials) for r in sorted(rounds, key=lambda r: r.round)),
        "<h2>Plots</h2>",
        *(_figure(path) for path in images),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>hpsearch · {escape(run_name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(out_dir, REPORT_FILE, page.encode("utf-8"))


def _summary(trials: list[TrialRecord], metric: str | None = None) -> str:
    counts = {status: sum(t.status is status for t in trials) for status in TrialStatus}
    parts = ", ".join(f"{counts[s]} {s.value}" for s in TrialStatus)
    ranked = rank(trials)
    best = ranked[0] if ranked and ranked[0].status is TrialStatus.OK else None
    shown = (
        f"dev J {format_cost(best.dev_cost)}"
        if best and metric is None
        else f"{metric} {format_cost(best.metrics.get(metric))}"
        if best
        else ""
    )
    best_text = f"; best {shown} (trial {best.trial})" if best else "; no ok trial"
    return f"<p>{len(trials)} trials: {escape(parts)}{escape(best_text)}.</p>"


# The leaderboard must fit a 1200 px window: the page's text column is 1120 px,
# about 140 characters of its table font once each cell's padding (3) is counted.
_LEADERBOARD_CHARACTERS = 140


def _leaderboard(rounds: list[RoundRecord], trials: list[TrialRecord], rows: int, metric: str | None = None) -> str:
    """The best ``rows`` trials, formatted as the terminal shows them (``hpsearch.analysis.leaderboard``)."""
    names = sorted({name for r in rounds for name in r.space} | {name for t in trials for name in t.params})
    board = leaderboard(trials, names, rows, metric).fitted(_LEADERBOARD_CHARACTERS, per_column=3, frame=0)
    text = [i for i, c in enumerate(board.columns) if c.justify == "left"]
    head = "".join(
        f'<th class="text">{escape(c.title)}</th>' if i in text else f"<th>{escape(c.title)}</th>"
        for i, c in enumerate(board.columns)
    )
    body = []
    status_at = [c.title for c in board.columns].index("status")
    for row, status, error in zip(board.rows, board.statuses, board.errors):
        cells = [escape(cell) for cell in row]
        if error:
            cells[status_at] = f'<span title="{escape(error)}">{cells[status_at]} ⓘ</span>'
        tds = "".join(f'<td class="text">{c}</td>' if i in text else f"<td>{c}</td>" for i, c in enumerate(cells))
        body.append(f'<tr class="{escape(status.value)}">{tds}</tr>')
    note = f'<p class="note">The best {min(rows, len(trials))} of {len(trials)} trials.</p>'
    return f'{note}<div class="wide"><table class="leaderboard"><tr>{head}</tr>{"".join(body)}</table></div>'


def _confirmation(confirmation: Confirmation) -> str:
    """The confirmed trials, best first: leaderboard place and first run beside mean J and its spread."""
    regression = confirmation.regression
    results = "<th>mean RMSE</th><th>mean R²</th>" if regression else "<th>mean acc</th>"
    head = (
        "<tr><th>rank</th><th>trial</th><th>leaderboard</th><th>first-run J</th><th>mean J</th><th>std</th>"
        f"<th>min – max</th>{results}<th>repeats</th></tr>"
    )
    body = []
    for c in confirmation.trials:
        if regression:  # a regression's dev RMSE and R² in the target's units, in place of accuracy
            shown = [
                format_cost(c.mean_rmse if c.rmses else None),
                format_cost(c.mean_r2 if math.isfinite(c.mean_r2) else None),
            ]
        else:
            shown = [format_accuracy(c.mean_accuracy if c.n else None)]
        cells = [
            str(c.rank),
            str(c.trial),
            str(c.leaderboard_rank),
            format_cost(c.first_value),
            format_cost(c.mean if c.n else None),
            format_cost(c.std if c.n >= 2 else None),
            f"{format_cost(c.low)} – {format_cost(c.high)}" if c.n else "—",
            *shown,
            str(c.n) + (f" ({c.unstable} diverged/failed)" if c.unstable else ""),
        ]
        body.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>")
    notes = [
        f"trial {ch.trial}, ranked {ch.leaderboard_rank}, confirms {ch.rank}"
        + (": its first run was lucky" if ch.lucky else "")
        for ch in confirmation.changes
    ]
    if confirmation.tied and len(confirmation.trials) >= 2:
        notes.append("the top two cannot be told apart (their 95% intervals of mean J overlap)")
    if confirmation.deterministic:
        notes.append("every repeat of a trial gave the same J: the objective seems deterministic")
    text = "".join(f'<p class="note">{escape(n)}.</p>' for n in notes)
    return (
        f'<p class="note">Each top trial retrained with fresh seeds; ranked by the mean J of its repeats '
        f"(the first run, which put it on top, is not among them).</p><table>{head}{''.join(body)}</table>{text}"
    )


def _importance(report: ImportanceReport, metric: str | None = None) -> str:
    method = f'<p class="note">Method: {escape(report.method)}; {report.n_trials} ok trials.</p>'
    if not report.enough:
        return f"{method}<p>Not enough to rank: {escape(report.message or '')}.</p>"
    rows = "".join(
        f'<tr><td class="text">{escape(item.name)}</td><td>{item.share:.1%}</td><td>± {item.spread:.1%}</td>'
        f'<td class="text"><span class="bar" style="width: {item.share * 12:.2f}rem"></span></td></tr>'
        for item in report.items
    )
    rest = max(0.0, 1.0 - sum(item.share for item in report.items))
    unstable = "" if report.stable else f"<p><strong>{escape(report.message or 'too few trials to rank')}.</strong></p>"
    return (
        f'{method}{unstable}<table><tr><th class="text">hyperparameter</th><th>share of {escape(metric or "dev J")} variation</th>'
        f'<th>± (bootstrap)</th><th class="text"></th></tr>{rows}</table>'
        f'<p class="note">{rest:.1%} is left to interactions between parameters and noise.</p>'
    )


def _round(record: RoundRecord, trials: list[TrialRecord]) -> str:
    how = describe_round(record, trials).sentence(record.n_trials)
    if record.expand:
        how += " (--expand: the box may grow past the first round's)"
    space = Space.from_json(record.space)
    rows = "".join(
        f'<tr><td class="text">{escape(name)}</td><td class="text">{escape(space[name].describe())}</td></tr>'
        for name in space
    )
    return (
        f"<h3>Round {record.round}</h3><p>{escape(how)}</p>"
        f'<table><tr><th class="text">hyperparameter</th><th class="text">searched over</th></tr>{rows}</table>'
    )


def _figure(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = escape(path.stem.replace("_", " "))
    return (
        f'<figure><img src="data:{mime};base64,{data}" alt="{caption}">'
        f"<figcaption>{escape(path.name)}</figcaption></figure>"
    )
