"""Records to SQLite rows and back, bit for bit.

Floats go into REAL columns so SQL can sort and filter by them; the few a REAL
column cannot give back exactly (NaN reads back as NULL, -0.0 as 0.0) are kept
again in a row's ``exact_floats`` JSON, which wins on reading. JSON text keeps
floats by ``repr``, so every float64 round-trips, NaN and ±Infinity included.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hpsearch.core.limits import MAX_ROUNDS, MAX_TRIALS
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, from_stored_space
from hpsearch.io import bounded_json

# TrialRecord fields kept in REAL columns, so SQL can sort and filter by them.
REAL_FIELDS = ("dev_cost", "train_cost", "dev_accuracy", "seconds", "value", "best_dev_cost")
TRIAL_COLUMNS = ", ".join(
    (
        "trial",
        "round",
        "index_in_round",
        "params",
        "seed",
        "status",
        *REAL_FIELDS,
        "epochs_run",
        "history",
        "error",
        "exact_floats",
        "rung",
        "best_epoch",
        "metrics",
    )
)
EPOCH_FIELDS = ("train_cost", "dev_cost", "dev_accuracy", "learning_rate", "seconds")
REPEAT_REALS = ("value", "dev_cost", "train_cost", "dev_accuracy", "seconds")
EPOCH_METRICS = ("dev_rmse", "dev_r2", "dev_balanced_accuracy", "dev_f1_macro", "dev_mae")
"""What the ``metrics`` JSON of an ``epochs`` or ``confirmations`` row may hold (schema 4): a regression's dev
RMSE and R² in the target's units, and the dev figure a run ranks by (``search.metric``: balanced accuracy, macro
F1, MAE; ``nn.metrics.OPTIONAL_KEYS``) when it is one. A classification ranked by J, an own objective and a run
older than schema 4 hold ``{}``."""


def _json_default(value: Any) -> Any:
    # Samplers and the engine may hand over NumPy scalars or arrays.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def dumps(value: Any) -> str:
    """JSON text; floats round-trip exactly (repr), NaN and ±Infinity included."""
    return json.dumps(value, default=_json_default, allow_nan=True)


def real_is_exact(value: float) -> bool:
    """Whether a REAL column gives ``value`` back bit for bit.

    SQLite stores NaN as NULL and -0.0 as 0.0; every other float64 round-trips.
    """
    return not (math.isnan(value) or (value == 0.0 and math.copysign(1.0, value) < 0))


def inexact_reals(reals: Mapping[str, float | None]) -> str:
    """The ``exact_floats`` JSON of a row: those of ``reals`` a REAL column would not give back exactly."""
    return dumps({f: v for f, v in reals.items() if v is not None and not real_is_exact(v)})


def nullable(value: float) -> float | None:
    """``value`` for a REAL column that reads NULL as NaN."""
    return None if math.isnan(value) else float(value)


def now() -> str:
    """The current UTC time as stored in the run (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def trial_row(rec: TrialRecord) -> tuple:
    """``rec`` as the values of ``TRIAL_COLUMNS``."""
    reals = {f: getattr(rec, f) for f in REAL_FIELDS}
    return (
        int(rec.trial),
        int(rec.round),
        int(rec.index),
        dumps(rec.params),
        str(int(rec.seed)),
        TrialStatus(rec.status).value,
        *(None if v is None else float(v) for v in reals.values()),
        int(rec.epochs_run),
        dumps(rec.history),
        rec.error,
        inexact_reals(reals),
        None if rec.rung is None else int(rec.rung),
        None if rec.best_epoch is None else int(rec.best_epoch),
        dumps(rec.metrics),
    )


class BadRow(ValueError):
    """A stored row holds a value of the wrong type or shape (a run.sqlite changed outside hpsearch).

    The message names the row and the field: ``trial 3: params is ...``. Store reads turn it into one
    RunError naming the run (``storage.sql.reading``): a damaged row is never guessed at.
    """


def stored_json(where: str, field: str, text: Any, kind: type = dict) -> Any:
    """A JSON column's value, its nesting bounded (``io.bounded_json``) and of type ``kind``; BadRow otherwise."""
    if not isinstance(text, str):
        raise BadRow(f"{where}: {field} is {type(text).__name__}, not JSON text")
    try:
        value = bounded_json.loads(text)
    except ValueError as error:
        raise BadRow(f"{where}: {field} is not valid JSON ({error})") from None
    if not isinstance(value, kind):
        raise BadRow(f"{where}: {field} holds {type(value).__name__}, not {kind.__name__}")
    return value


def stored_real(where: str, field: str, value: Any) -> float | None:
    """A REAL column's value: a number or NULL; BadRow for text or bytes."""
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise BadRow(f"{where}: {field} is {type(value).__name__} {str(value)[:40]!r}, not a number")


def stored_int(
    where: str, field: str, value: Any, *, nullable: bool = False, low: int = 0, high: int = 2**62
) -> int | None:
    """An INTEGER column's value within ``[low, high]`` (NULL when ``nullable``); BadRow otherwise."""
    if value is None and nullable:
        return None
    if type(value) is not int or not low <= value <= high:
        raise BadRow(f"{where}: {field} is {str(value)[:40]!r}, not an integer from {low} to {high}")
    return value


def stored_seed(where: str, value: Any) -> int:
    """A seed column (decimal text, as written by ``trial_row``)."""
    if not isinstance(value, str) or not 0 < len(value) <= 40 or not value.lstrip("-").isdigit():
        raise BadRow(f"{where}: seed is {str(value)[:40]!r}, not a decimal integer")
    return int(value)


def stored_status(where: str, value: Any) -> TrialStatus:
    """A status column."""
    try:
        return TrialStatus(value)
    except ValueError:
        raise BadRow(
            f"{where}: status is {str(value)[:40]!r}, not one of {', '.join(s.value for s in TrialStatus)}"
        ) from None


def exact_values(where: str, reals: Mapping[str, Any], exact_floats: Any) -> dict[str, float | None]:
    """REAL columns checked, then overridden by the row's ``exact_floats`` (which must hold numbers)."""
    values = {f: stored_real(where, f, v) for f, v in reals.items()}
    for field, value in stored_json(where, "exact_floats", exact_floats).items():
        if field in values:
            values[field] = stored_real(where, f"exact_floats.{field}", value)
    return values


def trial_from_row(row: tuple) -> TrialRecord:
    """The record of a row of ``TRIAL_COLUMNS``; BadRow naming the trial and the field if a value is damaged."""
    (
        trial,
        rnd,
        index,
        params,
        seed,
        status,
        *reals,
        epochs_run,
        history,
        error,
        exact_floats,
        rung,
        best_epoch,
        metrics,
    ) = row
    where = f"trial {str(trial)[:20]}"
    stored_int(where, "trial", trial)
    if error is not None and not isinstance(error, str):
        raise BadRow(f"{where}: error is {type(error).__name__}, not text")
    return TrialRecord(
        trial=trial,
        round=stored_int(where, "round", rnd),
        index=stored_int(where, "index_in_round", index),
        params=stored_json(where, "params", params),
        seed=stored_seed(where, seed),
        status=stored_status(where, status),
        epochs_run=stored_int(where, "epochs_run", epochs_run),
        history=stored_json(where, "history", history),
        error=error,
        rung=stored_int(where, "rung", rung, nullable=True),
        best_epoch=stored_int(where, "best_epoch", best_epoch, nullable=True),
        metrics=stored_json(where, "metrics", metrics),
        **exact_values(where, dict(zip(REAL_FIELDS, reals)), exact_floats),
    )


def known_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """Those of ``values`` under ``EPOCH_METRICS`` that are finite floats: what a ``metrics`` column keeps."""
    return {k: values[k] for k in EPOCH_METRICS if type(values.get(k)) is float and math.isfinite(values[k])}


def stored_metrics(where: str, text: Any) -> dict[str, float]:
    """The ``metrics`` column of an ``epochs`` or ``confirmations`` row: JSON object text (BadRow otherwise), of
    which only finite floats under ``EPOCH_METRICS`` are kept — anything else a changed file put there is dropped."""
    return known_metrics(stored_json(where, "metrics", text))


def epoch_rows(history: Mapping[str, list[float]], seconds: list[float] | None = None) -> list[tuple]:
    """One row ``(epoch, *EPOCH_FIELDS, metrics)`` per epoch of ``history`` (missing keys and NaN become NULL;
    ``metrics``: the JSON of that epoch's finite ``EPOCH_METRICS``)."""
    n = max((len(v) for v in history.values()), default=0)

    def cell(values: Any, e: int) -> float | None:
        if values is None or e >= len(values):
            return None
        value = float(values[e])
        return None if math.isnan(value) else value

    def metrics(e: int) -> str:
        return dumps(known_metrics({k: float(v[e]) for k, v in history.items() if k in EPOCH_METRICS and e < len(v)}))

    return [(e, *(cell(history.get(f), e) for f in EPOCH_FIELDS[:-1]), cell(seconds, e), metrics(e)) for e in range(n)]


def round_from_row(row: tuple) -> RoundRecord:
    """A round's record, its values checked against the limits a config has (``core.limits``)."""
    r, space, n, sampler, kind, top_k, expand, first = row
    where = f"round {str(r)[:20]}"
    if not isinstance(sampler, str) or not isinstance(kind, str):
        raise BadRow(f"{where}: sampler and kind must be text")
    return RoundRecord(
        round=stored_int(where, "round", r, high=MAX_ROUNDS),
        **from_stored_space(stored_json(where, "space", space)),
        n_trials=stored_int(where, "n_trials", n, low=0 if r == 0 else 1, high=MAX_TRIALS),  # 0: a warm start
        sampler=sampler,
        kind=kind,
        top_k=stored_int(where, "top_k", top_k, nullable=True, low=1, high=MAX_TRIALS),
        expand=bool(stored_int(where, "expand", expand, high=1)),
        first_trial=stored_int(where, "first_trial", first, high=MAX_TRIALS * MAX_ROUNDS),
    )
