"""What the views say about a run beside its leaderboard: how each round was made, Hyperband brackets, why
trials failed, which model ``predict`` uses and whether the confirmation is stale.

Pure functions of what the store returns; ``show``, ``export`` and ``run``/``resume``/``zoom`` print them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.execution.objective_jobs import TRIALS_DIR
from hpsearch.objectives.function import TRACEBACK_FILE
from hpsearch.pruning.schedule import brackets
from hpsearch.search.halving import planned_rungs, rungs
from hpsearch.search.refit import current_refit, model_in_use
from hpsearch.search.test_part import TestFigures, current_test_figures, has_test_part
from hpsearch.space.portfolio import auto_split
from hpsearch.space.tpe import N_STARTUP

if TYPE_CHECKING:
    from hpsearch.config.search_config import SearchConfig
    from hpsearch.confirm.summary import Confirmation

#: The files a failed trial may leave in ``trials/<n>/``: an own command's stderr, a Python objective's traceback.
FAILURE_FILES = (TRACEBACK_FILE, "stderr.log")
#: The widest an error's first line is shown in a leaderboard cell.
ERROR_WIDTH = 48


@dataclass(frozen=True)
class RoundDescription:
    """How a round was made, as every view says it (``show``'s Rounds table, ``report.html``, plot legends).

    ``kind``: ``initial``, ``zoom top 3`` (a box round, ``, expand`` when its bounds moved out), ``zoom, all
    trials`` (planned by TPE from every finished trial) or ``zoom, too few trials for tpe``, ``zoom top 5 +
    all trials`` (an ``auto`` round); ``sampler``: how its trials were drawn — ``random`` for a tpe round
    planned while too few trials were finished to model (``plan_tpe``'s uniform start), ``box 4 + tpe 4`` or
    ``box`` (too few to model) for an ``auto`` round (``space.portfolio.auto_split``).
    """

    kind: str
    sampler: str

    def sentence(self, n_trials: int) -> str:
        """``zoom top 3, sampler random, 8 trials``: the kind, the sampler and the size, in one line."""
        return f"{self.kind}, sampler {self.sampler}, {n_trials} trials"


def describe_round(record: RoundRecord, trials: Sequence[TrialRecord]) -> RoundDescription:
    """How ``record`` was made (see ``RoundDescription``); ``trials`` are the run's, to tell a tpe round that was
    modelled from one drawn at random (fewer than ``N_STARTUP`` trials before it, or none with a result)."""
    if record.kind != "zoom":
        return RoundDescription(record.kind, record.sampler)
    before = [t for t in trials if t.trial < record.first_trial]
    if record.sampler == "auto":
        n_box = auto_split(len(before), len(record.space), record.n_trials, record.round)
        if n_box == record.n_trials:
            return RoundDescription(f"zoom top {record.top_k}, too few trials for tpe", "box")
        return RoundDescription(f"zoom top {record.top_k} + all trials", f"box {n_box} + tpe {record.n_trials - n_box}")
    if record.sampler != "tpe":
        return RoundDescription(f"zoom top {record.top_k}" + (", expand" if record.expand else ""), record.sampler)
    modelled = len(before) >= N_STARTUP and any(t.status in (TrialStatus.OK, TrialStatus.PRUNED) for t in before)
    if modelled:
        return RoundDescription("zoom, all trials", "tpe")
    return RoundDescription("zoom, too few trials for tpe", "random")


def trial_brackets(rounds: list[RoundRecord], method: str | None, n_rungs: int, eta: int) -> dict[int, int]:
    """Trial id -> its Hyperband bracket (0-based, as ``export --json`` promotions name it); empty unless
    ``method`` is ``hyperband``. Each round deals its trials into brackets as the search did
    (``pruning.schedule.brackets`` of the round's trial ids)."""
    if method != "hyperband" or n_rungs < 1:
        return {}
    found: dict[int, int] = {}
    for r in rounds:
        ids = range(r.first_trial, r.first_trial + r.n_trials)
        for bracket in brackets(method, ids, n_rungs, eta):
            found.update(dict.fromkeys(bracket.trials, bracket.index))
    return found


def run_brackets(rounds: list[RoundRecord], config: SearchConfig) -> dict[int, int]:
    """Trial id -> Hyperband bracket of a run whose ``search.early_stopping`` is Hyperband; empty otherwise."""
    early = config.search.early_stopping
    if early is None:
        return {}
    return trial_brackets(rounds, early.method, len(rungs(config)), early.eta)


def early_stopping_notes(rounds: list[RoundRecord], config: SearchConfig) -> list[str]:
    """How each round cut its trials at the rungs, one line per way (``auto`` chooses by the round's size):
    ``early stopping at epochs 3/9/27, rounds 0, 1: auto: a small search ...``; none without early stopping."""
    early = config.search.early_stopping
    if early is None:
        return []
    ways: dict[str, list[str]] = {}
    for r in rounds:
        budget = planned_rungs(config, r.n_trials)
        way = budget.choice or f"{early.method}, keeping the best 1/{early.eta} at each rung"
        ways.setdefault(way, []).append(str(r.round))
    epochs = "/".join(str(e) for e in rungs(config))
    return [
        f"early stopping at epochs {epochs}, round{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {way}"
        for way, ids in ways.items()
    ]


def error_line(error: str | None, width: int = ERROR_WIDTH) -> str:
    """The first line of a trial's error, clipped to ``width`` characters (… marks a cut); "" for none."""
    if not error:
        return ""
    first = error.strip().splitlines()[0] if error.strip() else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def failure_files(run_dir: Path, trial: int) -> list[Path]:
    """The log and traceback files a trial left in ``trials/<n>/`` (those that exist)."""
    folder = run_dir / TRIALS_DIR / str(int(trial))
    return [folder / name for name in FAILURE_FILES if (folder / name).is_file()]


def failure_note(run_dir: Path, trials: list[TrialRecord]) -> str | None:
    """One line on the first failed trial (lowest id): its error's first line and where its log or traceback is;
    None when no trial failed."""
    failed = sorted((t for t in trials if t.status is TrialStatus.FAILED), key=lambda t: t.trial)
    if not failed:
        return None
    first = failed[0]
    reason = error_line(first.error, width=10_000) or "no error recorded"
    files = [str(p) for p in failure_files(run_dir, first.trial) if p.name not in reason]
    where = f" — see {', '.join(files)}" if files else ""
    others = f" ({len(failed)} failed; the others: hpsearch show, error column)" if len(failed) > 1 else ""
    return f"trial {first.trial} failed: {reason}{where}{others}"


def no_ok_reason(run_dir: Path, trials: list[TrialRecord]) -> str:
    """Why a run has no trial that finished ok, in one line (what ``run``/``resume``/``zoom`` exit 1 with)."""
    counts = {s: sum(t.status is s for t in trials) for s in TrialStatus}
    parts = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    note = failure_note(run_dir, trials)
    return f"no trial finished ok ({parts or 'no trial ran'})" + (f"; {note}" if note else "")


def model_notes(
    trials: list[TrialRecord], confirmation: Confirmation | None, best_model: tuple[int, Path] | None
) -> list[str]:
    """Which model ``predict RUN`` uses, and whether the confirmation predates trials that now rank above the ones
    it retrained (a zoom or resume after ``confirm``): then which round, and to run ``confirm`` again."""
    lines = []
    if best_model is not None:
        trial, path = best_model
        if confirmation is not None and confirmation.model is not None and confirmation.model[0] == trial:
            which = f"trial {trial}, repeat {confirmation.model[1]} of confirm (the confirmed best)"
        else:
            leader = next((t.trial for t in rank(trials) if t.status is TrialStatus.OK), None)
            which = f"trial {trial}" + (", the leaderboard's best" if leader == trial else "")
        refit = current_refit(path.parent.parent)
        if refit is None:
            lines.append(f"best model, the one predict RUN uses: {which} — {path}")
        else:  # search.refit: predict uses the winner retrained on every non-test row
            lines += [
                f"best model as searched: {which} — {path}",
                f"predict RUN uses: {refit.describe()} — {model_in_use(path.parent.parent)}; it has no dev J "
                "(no row was held out from it)",
            ]
    stale = stale_round(trials, confirmation)
    if stale is not None:
        lines.append(f"confirmed before round {stale}: run hpsearch confirm again")
    return lines


def stale_round(trials: list[TrialRecord], confirmation: Confirmation | None) -> int | None:
    """The first round whose trials rank above a confirmed one without being confirmed (the confirmation predates
    it), or None when the confirmation still covers the top of the leaderboard."""
    if confirmation is None or not confirmation.trials:
        return None
    confirmed = {c.trial for c in confirmation.trials}
    places = {t.trial: place for place, t in enumerate(rank(trials))}
    worst = max(places.get(trial, -1) for trial in confirmed)
    last_confirmed_round = max((t.round for t in trials if t.trial in confirmed), default=0)
    above = [
        t.round
        for t in trials
        if t.status is TrialStatus.OK
        and t.trial not in confirmed
        and places[t.trial] < worst
        and t.round > last_confirmed_round
    ]
    return min(above) if above else None


def test_notes(run_dir: Path, trials: list[TrialRecord], own_objective: bool) -> list[str]:
    """How far to trust the figures shown (show and the report): the dev J chose the winner among every trial on
    the same rows, so it flatters the winner by construction; only the test part, which no search step saw, gives
    a figure for new rows. Nothing for an own objective (its data are its own) or a run without an ok trial."""
    n_ok = sum(t.status is TrialStatus.OK for t in trials)
    if own_objective or not n_ok:
        return []
    if not has_test_part(run_dir):
        return [
            f"the dev figure above chose the winner among {n_ok} trial{'s' if n_ok != 1 else ''} on the same dev "
            "rows, so it is optimistic for new rows — set data.test_fraction (or data.test_path) in a new run "
            "for a figure to trust"
        ]
    figures = current_test_figures(run_dir)
    if figures is None:
        return [
            "the run keeps a test part, but the model predict uses is not scored on it yet — "
            f"hpsearch resume {run_dir} scores it"
        ]
    return [
        f"test part: {figures.rows} rows no search step saw; the model predict uses ({model_label(figures)}) "
        f"scores {figures.summary()} on them — the dev figures chose the winner, the test figure did not, so "
        "the test figure is the one to expect on new rows"
    ]


def model_label(figures: TestFigures) -> str:
    """``trial 7`` or ``trial 7 repeat 2``: the model some test figures score."""
    label = f"trial {figures.trial}" + (f" repeat {figures.repeat}" if figures.repeat is not None else "")
    return f"the refit of {label} on train and dev rows" if figures.refit else label
