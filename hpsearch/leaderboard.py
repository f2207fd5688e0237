"""The leaderboard of a run: trials ranked by dev cost J, as rows for a table, CSV or JSON.

Ranking (``TrialRecord.rank_key``): ok and pruned trials by the rung they
reached, then by their value (``search.rank_by``: the last epoch's dev J or the
best); then diverged, then failed; ties by trial id. ``rung`` and
``best_epoch`` are 1-based counts (rung 1 is the first rung; best_epoch 5 is
the fifth epoch); ``rung`` is empty without early stopping.
"""

from __future__ import annotations

import csv
import json
import math
from typing import IO, Any

from hpsearch.records import RoundRecord, TrialRecord, rank

RESULT_COLUMNS = ("dev_cost", "train_cost", "dev_accuracy", "epochs_run", "seconds", "rung", "best_dev_cost",
                  "best_epoch")
LEAD_COLUMNS = ("rank", "trial", "round", "status")
# hpsearch confirm: mean and sample std of the ranking value over a trial's ok repeats, and their count.
CONFIRM_COLUMNS = ("confirm_mean", "confirm_std", "confirm_n")


def export_columns(trials: list[TrialRecord], fixed: dict[str, Any]) -> list[str]:
    """Column order of an export: rank, trial, round, status, results, confirmation, error, then every hyperparameter."""
    searched = sorted({name for t in trials for name in t.params})
    fixed_names = sorted(k for k in fixed if k not in searched and k != "seed")
    return [*LEAD_COLUMNS, *RESULT_COLUMNS, *CONFIRM_COLUMNS, "error", *searched, *fixed_names, "seed"]


def export_rows(
    trials: list[TrialRecord], fixed: dict[str, Any], confirmed: dict[int, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One dict per trial, best first: searched values and the run's fixed hyperparameters alike.

    ``seed`` is the trial's own training seed (derived from the search seed, round and index).
    ``confirmed`` maps a trial to its ``CONFIRM_COLUMNS`` (``confirm.export_fields``); empty for the others.
    """
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
            **dict.fromkeys(CONFIRM_COLUMNS), **(confirmed or {}).get(t.trial, {}),
            "error": t.error or "",
        }
        row.update({k: v for k, v in fixed.items() if k != "seed"})
        row.update(t.params)
        row["seed"] = t.seed
        rows.append(row)
    return rows


def write_csv(
    trials: list[TrialRecord], fixed: dict[str, Any], stream: IO[str], *, confirmed: dict[int, dict[str, Any]] | None = None
) -> None:
    """Every trial as one CSV row (header first). Missing values are empty cells."""
    columns = export_columns(trials, fixed)
    writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in export_rows(trials, fixed, confirmed):
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
    confirmed: dict[int, dict[str, Any]] | None = None,
    recommended: dict[str, Any] | None = None,
) -> None:
    """The run as one JSON document: rounds (with their promotions), importance, the recommended configuration
    (``confirm.recommended``) and every trial (with its history).

    ``promotions`` maps a round to ``(bracket, rung) -> trials promoted from that rung`` (``RunStore.promotions``).
    """
    by_id = {t.trial: t for t in trials}
    rows = []
    for row in export_rows(trials, fixed, confirmed):
        row = {k: _json_value(v) for k, v in row.items()}
        row["history"] = by_id[row["trial"]].history
        rows.append(row)
    document = {
        "run": run,
        "rounds": [
            {"round": r.round, "kind": r.kind, "sampler": r.sampler, "n_trials": r.n_trials,
             "top_k": r.top_k, "expand": r.expand, "space": r.space,
             "promotions": [{"bracket": b, "from_rung": k + 1, "trials": trials}
                            for (b, k), trials in sorted((promotions or {}).get(r.round, {}).items())]}
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
