"""A babysat run's folder: how it is created, and everything read back from it, checked before it is used.

A babysat model is an ordinary run (one round of kind ``babysit`` with one
trial, trial 0), so ``list``, ``show``, ``export``, ``plot`` and ``predict``
know it. Its decisions and timeline come back from ``run.sqlite``, which may
have been changed by hand or received from someone else: a value that
hpsearch would never have written is one line naming the file (exit 2), never
a traceback or a silently wrong replay.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import yaml

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.dataset import Dataset
from hpsearch.core.decisions import (
    ACTIONS,
    DIVERGENCE,
    HANDOVER,
    INTERRUPT,
    LOWER,
    MIN_LEARNING_RATE,
    PATIENCE,
    RAISE,
    ROLLBACK,
    STOP,
    Decision,
)
from hpsearch.core.errors import DataError, RunError
from hpsearch.core.records import RoundRecord
from hpsearch.data.stored_arrays import DATA_DIR, PreparedData, write_prepared
from hpsearch.io.safe_files import check_no_symlinks
from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.state import HISTORY_KEYS
from hpsearch.space.search_space import Space
from hpsearch.storage.layout import MODELS_DIR, RUN_DB
from hpsearch.storage.run_names import validate_run_name
from hpsearch.storage.run_store import RunStore

KIND = "babysit"
"""The kind of a babysat run's one round."""
TRIAL = 0
SIGNAL_REASONS = ("hangup", "terminate")
"""Why a session stopped on SIGHUP (its terminal closed) or SIGTERM; Ctrl-C is ``core.decisions.INTERRUPT``."""
_REASONS = {
    LOWER: (PATIENCE, DIVERGENCE, "key -"),
    RAISE: ("key +",),
    ROLLBACK: ("key r",),
    STOP: ("key s", MIN_LEARNING_RATE, INTERRUPT, *SIGNAL_REASONS),
}
"""The reasons each action can have (a handover's reason names the run and trial it came from)."""


def create_run(
    config: SearchConfig, model: ModelConfig, runs_dir: Path, name: str, data: Dataset
) -> tuple[RunStore, PreparedData]:
    """A new run holding ``model`` as fixed values (nothing searched), one babysit round of one trial, and
    ``data`` prepared in its folder, so that continuing and replaying it train on exactly these arrays."""
    values = {k: v for k, v in model.to_dict().items() if v is not None}

    def config_for(run_name: str) -> tuple[dict, str]:
        resolved = replace(config, name=run_name, model=values, space=Space({})).to_dict()
        return resolved, yaml.safe_dump(resolved, sort_keys=False)

    store = RunStore.create_new(runs_dir, validate_run_name(name), config_for)
    store.add_round(RoundRecord(round=0, space={}, n_trials=1, sampler=config.search.sampler, kind=KIND))
    return store, write_prepared(store.run_dir, data)


def engine_config(store: RunStore) -> SearchConfig:
    """The run's stored config; RunError if it tunes an own objective (babysit trains the built-in engine)."""
    from hpsearch.search.run_config import (
        stored_config,
    )  # hpsearch.search.api refuses babysat runs by this module's KIND

    config = stored_config(store)
    if config.objective is not None:
        raise RunError(f"run '{store.run_dir.name}' tunes its own objective: babysit trains the built-in engine only")
    return config


def refuse_test_part(config: SearchConfig, source: str) -> None:
    """RunError (one line) for a test part: babysit steers one model by its dev figures, with no ranking of
    trials for a test figure to check, and keeps no test rows — a test part is a search's (``hpsearch run``).
    Cross-validation (``data.cv``) is a search's too: one steered model is not K folds."""
    if config.data is not None and config.data.cv is not None:
        raise RunError(f"{source}: babysit steers one model, not data.cv's K folds — remove data.cv to babysit")
    if config.data is not None and (config.data.test_fraction is not None or config.data.test_path is not None):
        raise RunError(
            f"{source}: babysit keeps no test part — remove data.test_fraction/test_path to babysit, "
            "or search with hpsearch run to have the winner scored on it"
        )


def is_babysat(store: RunStore) -> bool:
    return any(r.kind == KIND for r in store.rounds())


def refuse_links(run_dir: Path) -> None:
    """RunError naming the first symlink where babysit reads arrays (``data/``, ``models/``), before anything
    is read: a received run folder may point them at ``/dev/zero`` or at another user's files."""
    for folder in (DATA_DIR, MODELS_DIR):
        path = Path(run_dir) / folder
        if path.is_symlink():
            raise RunError(
                f"run folder '{run_dir}' holds a symlink, '{path}' — hpsearch never reads arrays through "
                "one: remove it (or copy the run without links)"
            )
        if path.is_dir():
            check_no_symlinks(path)


def timeline(store: RunStore) -> dict[str, list[float]]:
    """Trial 0's timeline as recorded, with every key (a run migrated from schema 1 has no learning rates).

    Raises DataError naming ``run.sqlite`` when a value is not a number (changed outside hpsearch).
    """
    history, _ = store.epoch_log(TRIAL)
    n = len(history.get("dev_cost", []))
    complete = {key: list(history.get(key, [math.nan] * n)) for key in HISTORY_KEYS}
    for key, values in complete.items():
        bad = next((i for i, v in enumerate(values) if not isinstance(v, float) or isinstance(v, bool)), None)
        if bad is not None or len(values) != n:
            raise DataError(
                f"{store.run_dir / RUN_DB}: epoch {(bad or 0) + 1} of the babysat trial has a {key} that "
                "is not a number — was it changed outside hpsearch? Start a new babysat run"
            )
    return complete


def decisions(store: RunStore) -> list[Decision]:
    """Trial 0's decisions as recorded, each checked to be one hpsearch makes.

    Raises DataError naming ``run.sqlite`` and the decision that is not.
    """
    found = store.decisions().get(TRIAL, [])
    for seq, decision in enumerate(found):
        problem = _decision_problem(decision, found[seq - 1].epoch if seq else 0)
        if problem:
            raise DataError(
                f"{store.run_dir / RUN_DB}: decision {seq + 1} of the babysat trial {problem} — was it "
                "changed outside hpsearch? Start a new babysat run"
            )
    return found


def _decision_problem(d: Decision, previous_epoch: int) -> str | None:
    """What is wrong with a recorded decision (None: nothing)."""
    if not isinstance(d.epoch, int) or not previous_epoch <= d.epoch:
        return f"is at epoch {d.epoch!r:.40}, not a whole number from {previous_epoch} (decisions go in order)"
    if d.action not in ACTIONS:
        return f"has action {d.action!r:.40}, not one of {', '.join(ACTIONS)}"
    if (
        not isinstance(d.reason, str)
        or (d.action == HANDOVER) != (d.reason not in sum(_REASONS.values(), ()))
        or (d.action != HANDOVER and d.reason not in _REASONS[d.action])
    ):
        return f"has reason {d.reason!r:.40}, not one a {d.action} decision has"
    for name in ("learning_rate_before", "learning_rate_after"):
        rate = getattr(d, name)
        if not isinstance(rate, float) or not (math.isfinite(rate) and rate >= 0):
            return f"has {name} {rate!r:.40}, not a number >= 0"
    back = d.rolled_back_to
    if back is not None and (not isinstance(back, int) or not 0 <= back <= d.epoch):
        return f"rolls back to {back!r:.40}, not an epoch from 0 to {d.epoch}"
    return None
