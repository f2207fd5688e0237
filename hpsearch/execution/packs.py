"""Packs: segments of one network shape trained as one stacked model, each with the bits it has alone.

``nn.stacked.fit_stacked`` trains K networks that share a ``stack_key``
(layers, widths, batch size, activation, BN, dropout on/off, L2 on/off,
optimizer, dtype, data) with one NumPy call per operation, each bit for bit as
``fit`` trains it alone. ``plan_packs`` groups a batch of segments into such
packs (one shape key and one end epoch each); ``train_pack`` trains a pack and
hands back one ``SegmentOutcome`` per segment, the same as ``train_segment``
gives alone — so checkpoints, records, promotions, resume and the choice of
workers never see whether a trial was packed.

Pack size: enough packs that every worker has the same number of them; at most
``nn.stacked.max_pack_size`` models (1 where a step is large enough for
stacking not to pay, fewer where the pack would not fit in a worker's share of
the available memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import RunError
from hpsearch.core.memory import available_bytes, shortfall
from hpsearch.data.stored_arrays import PreparedData
from hpsearch.execution.folds import trial_segments
from hpsearch.execution.segments import (
    Segment,
    SegmentOutcome,
    TrialTask,
    begin_segment,
    cached_dataset,
    failed_outcome,
    one_blas_thread,
    segment_config,
    segment_outcome,
    train_segment,
    until_epoch,
)
from hpsearch.nn.stacked import fit_stacked, max_pack_size, pack_bytes, stack_key
from hpsearch.nn.state import checkpoint_epoch


@dataclass(frozen=True)
class StackPlan:
    """How a batch of segments will train: ``stacked`` of ``segments`` in ``packs`` packs of 2 or more."""

    segments: int
    stacked: int
    packs: int
    folds: int = 1

    def line(self) -> str:
        """The plan in words, for ``run --dry-run`` (with ``data.cv``, in fold models: K a trial)."""
        what = "trials" if self.folds == 1 else f"fold models ({self.folds} a trial, data.cv)"
        if not self.stacked:
            return (
                f"stacking: none of the {self.segments} {what} trains stacked (search.stack: off, or no two "
                "trials share a network shape where stacking pays)"
            )
        packs = "1 pack" if self.packs == 1 else f"{self.packs} packs"
        return f"stacking: {self.stacked} of {self.segments} {what} train stacked, in {packs} (search.stack: auto)"


def plan_packs(
    segments: Iterable[Segment],
    *,
    model: dict[str, Any],
    data: PreparedData | Dataset,
    workers: int,
    stack: str = "auto",
) -> list[list[Segment]]:
    """``segments`` as packs: same shape key and end epoch, as many packs for each worker, each within its cap.

    A segment whose config cannot be read or whose shape gains nothing from
    stacking is a pack of its own; classifiers and regressions stack alike. Packs of one
    group differ in size by at most one.
    """
    segments = list(segments)
    if stack == "off" or len(segments) < 2:
        return [[segment] for segment in segments]
    budget = available_bytes() // max(1, workers)
    groups: dict[Hashable, list[Segment]] = {}
    caps: dict[Hashable, int] = {}
    packs: list[list[Segment]] = []
    for segment in segments:
        key, cap = _group(segment, model, cached_dataset(data, segment.fold), budget)
        if key is None or cap < 2:
            packs.append([segment])
            continue
        groups.setdefault(key, []).append(segment)
        caps[key] = cap
    for key, group in groups.items():
        share = math.ceil(workers * len(group) / len(segments))  # this group's part of the workers
        count = max(math.ceil(len(group) / caps[key]), min(len(group), share))
        # A whole number of packs per worker, so that the workers finish together: 48 trials capped at 16 on 2
        # workers go as 4 packs of 12, not 3 of 16 (the third would train while the other worker waits).
        count = min(len(group), math.ceil(count / share) * share)
        size, extra = divmod(len(group), count)
        begin = 0
        for i in range(count):
            end = begin + size + (i < extra)
            packs.append(group[begin:end])
            begin = end
    return packs


def _group(segment: Segment, model: dict[str, Any], dataset: Dataset, budget: int) -> tuple[Hashable | None, int]:
    """The pack key of a segment (shape key and end epoch; None: it trains alone) and its shape's pack cap."""
    try:
        config = segment_config(segment, model)
    except Exception:  # noqa: BLE001 — a bad config fails when its segment trains, alone
        return None, 1
    key = stack_key(config, dataset.n_features, dataset.n_classes, dataset.task)
    cap = max_pack_size(
        config, dataset.n_features, dataset.n_classes, len(dataset.y_train), len(dataset.y_dev), memory_bytes=budget
    )
    until = config.epochs if segment.until_epoch is None else segment.until_epoch
    return (key, until, segment.fold), cap  # one fold's arrays per pack


# A model of one epoch's seconds on one core, fitted (least squares on relative error) to 227 trials of three
# digits searches (1-3 layers of 16-256 units, batches of 32-128, Adam, batch norm): a fixed cost per step and
# layer (the NumPy calls), one per row (batch norm, shuffling, the dev pass) and one per row and weight (the
# matrix products). Within a factor of 1.25 of the measured seconds for 80% of those trials (the constants before
# it: off by 1.6-4x, and a wide network's more than a narrow one's, which misordered a rung's longest work);
# ``benchmarks/bench_estimate.py`` prints how far it is on a machine. It orders work and weighs it against a
# worker's start-up.
_STEP_LAYER_SECONDS = 34e-6
_ROW_SECONDS = 0.3e-6
_ROW_WEIGHT_SECONDS = 1.0e-10
# In a pack, the per-step and per-row costs are paid about once for all members (``nn.stacked``), plus a share.
_PACK_MEMBER_OVERHEAD = 0.35


def pack_seconds(pack: list[Segment], model: dict[str, Any], data: PreparedData | Dataset) -> float:
    """A rough estimate of the seconds ``train_pack`` takes for ``pack`` on one core (0 for what cannot start).

    What it is for: the longest work first, so that a rung's tail is short work (``runner.run_segments``),
    and no worker processes started for work shorter than their start-up.
    """
    arithmetic, overhead = 0.0, 0.0
    for segment in pack:
        try:
            config = segment_config(segment, model)
            dataset = cached_dataset(data, segment.fold)
            first = 0 if segment.checkpoint is None else checkpoint_epoch(segment.checkpoint)
        except Exception:  # noqa: BLE001 — a segment that cannot start fails at once, when it trains
            continue
        epochs = max(0, (config.epochs if segment.until_epoch is None else segment.until_epoch) - first)
        rows = len(dataset.y_train) + len(dataset.y_dev)
        sizes = [dataset.n_features, *config.hidden_sizes, dataset.n_outputs]
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        steps = math.ceil(len(dataset.y_train) / max(1, config.batch_size))
        arithmetic += epochs * rows * weights * _ROW_WEIGHT_SECONDS
        overhead = max(overhead, epochs * (steps * (len(sizes) - 1) * _STEP_LAYER_SECONDS + rows * _ROW_SECONDS))
    return arithmetic + overhead * (1 + _PACK_MEMBER_OVERHEAD * (len(pack) - 1))


def stack_plan(
    tasks: Iterable[TrialTask],
    *,
    model: dict[str, Any],
    data: PreparedData | Dataset,
    workers: int,
    stack: str = "auto",
) -> StackPlan:
    """How ``run_segments`` would pack ``tasks``, each trained to its last epoch (what ``run --dry-run`` says)."""
    folds = data.n_folds() if isinstance(data, PreparedData) else len(data.folds) + 1
    segments = trial_segments(tasks, folds, "last")
    packs = plan_packs(segments, model=model, data=data, workers=workers, stack=stack)
    stacked = [pack for pack in packs if len(pack) > 1]
    return StackPlan(sum(map(len, packs)), sum(map(len, stacked)), len(stacked), folds)


def train_pack(
    pack: list[Segment],
    model: dict[str, Any],
    data: PreparedData | Dataset,
    between_epochs: Callable[[], None] | None = None,
) -> list[SegmentOutcome]:
    """Train a pack as one stacked model; one outcome per segment, in order, each as ``train_segment`` gives it.

    Never raises. A segment that cannot start (a bad config, a checkpoint that
    does not load) fails alone; if training the pack raises, or the pack would
    not fit in memory, every segment is trained alone instead, so one model's
    error never fails its neighbours. ``between_epochs``: as for ``train_segment`` (after each epoch of a member).
    """
    if len(pack) == 1:
        return [train_segment(pack[0], model, data, between_epochs)]
    on_epoch = None if between_epochs is None else (lambda k, epoch, values: between_epochs())
    outcomes: dict[int, SegmentOutcome] = {}
    try:
        dataset = cached_dataset(data, pack[0].fold)
        with one_blas_thread():  # as alone: one BLAS thread, the same arithmetic
            members, states = [], []
            for i, segment in enumerate(pack):
                try:
                    states.append(begin_segment(segment, model, dataset))
                    members.append(i)
                except Exception as exc:  # noqa: BLE001 — this trial's error is its result
                    outcomes[i] = failed_outcome(segment, exc)
            firsts = [state.epoch for state in states]
            if states:
                _check_pack_fits(states, dataset)
                fit_stacked(states, dataset, [until_epoch(pack[i], s) for i, s in zip(members, states)], on_epoch)
    except Exception:  # noqa: BLE001 — train each alone: the same bits, and an error stays its trial's
        return [
            outcomes.get(i) or train_segment(segment, model, data, between_epochs) for i, segment in enumerate(pack)
        ]
    for i, state, first in zip(members, states, firsts):
        outcomes[i] = segment_outcome(pack[i], state, first)
    return [outcomes[i] for i in range(len(pack))]


def _check_pack_fits(states: list[Any], dataset: Dataset) -> None:
    """Raise RunError, before the pack's buffers are allocated, when they would not fit in memory."""
    needed = pack_bytes(
        states[0].config, dataset.n_features, dataset.n_classes, len(dataset.y_train), len(dataset.y_dev), len(states)
    )
    too_much = shortfall(needed)
    if too_much:
        raise RunError(f"a pack of {len(states)} networks {too_much}")
