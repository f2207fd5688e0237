"""The run's best model file: one retrain-verify-save for the search and for ``confirm``.

Weights are not held for every trial: when the model to keep was not saved (a
kill between a new best trial's record and its weights, or the median repeat of
a confirmation), the trial is trained again — training is deterministic — and its
result checked against the record, so a machine that computes differently never
silently keeps weights that do not match the leaderboard.
"""

from __future__ import annotations

from collections.abc import Callable

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.records import TrialRecord, TrialStatus, rank
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.folds import train_trial
from hpsearch.execution.segments import TrialTask
from hpsearch.storage.run_store import RunStore


def retrain_and_save(
    store: RunStore,
    config: SearchConfig,
    data: PreparedData,
    task: TrialTask,
    expected: float,
    *,
    what: str,
    note: Callable[[str], None],
) -> bool:
    """Train ``task`` again to its last epoch; save it as ``models/best.npz`` (and its state) when its ranking value
    equals ``expected``, else say why through ``note`` (``what`` names it, e.g. "trial 5 repeat 2"). True if saved."""
    # data.cv: every fold, fold 0's model kept
    outcome = train_trial(task, config.model, data, config.search.rank_by, config.search.metric)
    if outcome.weights is None:
        note(f"{what} has no weights to save; models/best.npz is not replaced")
        return False
    if outcome.value() != expected:
        note(
            f"{what} trained again gives J {outcome.value()!r}, not its recorded {expected!r}: "
            "this machine computes differently; models/best.npz is not replaced"
        )
        return False
    store.save_best_model(task.trial, data.model_state(outcome.weights), outcome.state)
    return True


def restore_best_model(
    store: RunStore, config: SearchConfig, data: PreparedData, note: Callable[[str], None]
) -> TrialRecord | None:
    """The best ok trial so far, making sure its weights are the saved best model (trained again if not)."""
    ranked = [t for t in rank(store.trials()) if t.status is TrialStatus.OK]
    if not ranked:
        return None
    best = ranked[0]
    if any(r.kind == "import" and r.round == best.round for r in store.rounds()):
        return best  # an imported trial's result came from elsewhere: no weights to keep (hpsearch import)
    saved = store.best_model()
    # A confirmed repeat (hpsearch confirm) stays the saved model while it is there.
    if saved is None or (saved[0] != best.trial and store.confirmed_model() is None):
        task = TrialTask(best.trial, best.round, best.index, best.params, best.seed)
        retrain_and_save(store, config, data, task, best.ranking_value, what=f"trial {best.trial}", note=note)
    return best
