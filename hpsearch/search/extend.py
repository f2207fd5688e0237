"""More budget for a finished run (``hpsearch resume RUN --trials +N`` / ``--rounds +N``).

A run's trials are a pure function of its config and seed (``search.rounds``), so a run given more budget is
made to be the run that asked for it at the outset: its stored config takes the larger ``search.trials`` or
``search.rounds``, round 0 grows in place (a random or quasi trial depends on its index alone) and the zoom
rounds still to come are planned by the round driver as they would have been. Where that cannot hold — round
0 grown after zoom rounds were planned from it, a grid, rungs already decided among the first trials — the
extension is refused in one line that says what to use instead.
"""

from __future__ import annotations

from typing import Any

import yaml

from hpsearch.core.errors import RunError
from hpsearch.core.limits import MAX_ROUNDS, MAX_TRIALS
from hpsearch.io.safe_files import write_bytes_atomic
from hpsearch.search.run_config import stored_config
from hpsearch.storage.layout import CONFIG_FILE
from hpsearch.storage.run_names import command_ref
from hpsearch.storage.run_store import RunStore


def added(text: str | None, option: str) -> int:
    """The N of ``+N`` (None: 0). Only the ``+`` form is taken, so nobody gives a total where an amount to add
    is meant."""
    if text is None:
        return 0
    number = text[1:] if text.startswith("+") else ""
    if not number.isdigit() or not 1 <= int(number) <= MAX_TRIALS:
        raise RunError(f"{option} takes +N, the number to add (N from 1 to {MAX_TRIALS:,}), got {text!r}")
    return int(number)


def add_budget(store: RunStore, *, trials: int = 0, rounds: int = 0) -> None:
    """Give the run ``trials`` more trials in round 0 and ``rounds`` more zoom rounds, as if configured so from
    the start; the caller holds the run's lock and then trains what the run lacks (``resume_search``)."""
    config = stored_config(store)
    stored = store.rounds()
    ref = command_ref(store.run_dir)
    if any(r.kind == "babysit" for r in stored):
        raise RunError(f"run '{store.run_dir.name}' is a babysat model — continue it with: hpsearch babysit {ref}")
    search: dict[str, Any] = dict(store.config.get("search") or {})
    if trials:
        sampler = "csv" if stored and stored[0].sampler == "csv" else config.search.sampler
        why = _no_more_trials(sampler, config.search.early_stopping is not None, len(stored))
        if why:
            raise RunError(
                f"--trials +{trials}: run '{store.run_dir.name}' {why} — use hpsearch resume {ref} --rounds +N"
            )
        search["trials"] = config.search.trials + trials
    if rounds:
        search["rounds"] = max(config.search.rounds, len(stored)) + rounds
    if search.get("trials", 0) > MAX_TRIALS or search.get("rounds", 0) > MAX_ROUNDS:
        raise RunError(f"run '{store.run_dir.name}' would pass {MAX_TRIALS:,} trials or {MAX_ROUNDS:,} rounds")
    raw = {**store.config, "search": search}
    with store.transaction():
        store.tables.meta.replace_config(raw)
        if trials and stored:
            store.tables.rounds.grow(0, stored[0].n_trials + search["trials"] - config.search.trials)
    write_bytes_atomic(store.run_dir, CONFIG_FILE, yaml.safe_dump(raw, sort_keys=False).encode())
    store.config = raw


def _no_more_trials(sampler: str, early_stopping: bool, n_rounds: int) -> str | None:
    """Why round 0 cannot grow and stay the round a larger ``search.trials`` would have made (None: it can)."""
    if sampler == "grid":
        return "samples a grid, whose round 0 is the whole grid"
    if sampler == "csv":
        return "was imported: its round 0 is the rows of a CSV"
    if early_stopping:
        return "stops trials early: its rungs were decided among round 0's trials"
    if n_rounds > 1:
        return "has zoom rounds planned from round 0's trials"
    return None
