"""Stacked training in a search: packs give every trial the bits it has alone — halving, confirm, kill -9 and
resume, workers — and a pack's diverging or failing model never changes its neighbours."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import hpsearch.execution.packs as packs
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import ConfigError
from hpsearch.core.records import TrialStatus
from hpsearch.execution.packs import plan_packs, stack_plan, train_pack
from hpsearch.execution.segments import Segment, TrialTask, train_segment
from hpsearch.search.api import Execution, start_search
from tests.kill_resume import fingerprint

# A fixed architecture and searched per-model values only: every trial has one shape, so all of them stack.
CONFIG = """\
name: stacked
data: {{dataset: blobs, samples: {samples}, classes: 3, features: 4, noise: 1.0}}
model: {{layers: 2, hidden_units: 8, batch_size: 16, epochs: {epochs}, batchnorm: true}}
space:
  learning_rate: {{scale: log, low: 1.0e-3, high: {lr_high}}}
  beta1:         {{scale: one_minus_log, low: 0.8, high: 0.99}}
  l2:            {{scale: uniform, low: 1.0e-4, high: 0.01}}
search:
  trials: {trials}
  seed: 5
  workers: 1
  stack: {stack}
{extra}"""
HALVING = "  early_stopping: {method: halving, min_epochs: 1, eta: 3}\n"


def write_config(
    folder: Path,
    stack: str = "auto",
    *,
    trials: int = 9,
    epochs: int = 4,
    samples: int = 240,
    lr_high: float = 0.3,
    extra: str = "",
) -> Path:
    path = folder / f"stacked-{stack}.yaml"
    path.write_text(
        CONFIG.format(stack=stack, trials=trials, epochs=epochs, samples=samples, lr_high=lr_high, extra=extra)
    )
    return path


@pytest.fixture
def pack_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every pack trained in this process (workers: 1 trains in-process)."""
    sizes: list[int] = []
    real = packs.fit_stacked
    monkeypatch.setattr(
        packs, "fit_stacked", lambda states, *a, **k: sizes.append(len(states)) or real(states, *a, **k)
    )
    return sizes


def test_a_halving_run_and_its_confirm_are_the_same_with_and_without_stacking(tmp_path, pack_sizes) -> None:
    runs = tmp_path / "runs"
    off = start_search(load_config(write_config(tmp_path, "off", epochs=9, extra=HALVING)), runs_dir=runs, name="off")
    assert pack_sizes == []
    auto = start_search(
        load_config(write_config(tmp_path, "auto", epochs=9, extra=HALVING)), runs_dir=runs, name="auto"
    )
    assert pack_sizes == [9, 3]  # rung 0 (9 trials), rung 1 (3); rung 2 (1 trial) trains alone
    for run_dir in (off.run_dir, auto.run_dir):
        confirm_run(run_dir, top_k=2, seeds=3)
    assert pack_sizes[2:] == [6]
    assert fingerprint(auto.run_dir) == fingerprint(off.run_dir)
    assert export(auto.run_dir, tmp_path / "auto.csv") == export(off.run_dir, tmp_path / "off.csv")


def export(run_dir: Path, path: Path) -> list[dict[str, str]]:
    """``hpsearch export RUN --csv``'s rows, without the timing columns."""
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--csv", str(path)])
    assert result.exit_code == 0, result.output
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if "seconds" not in k} for row in csv.DictReader(f)]


def test_one_or_two_workers_give_the_same_run(tmp_path: Path) -> None:
    path = write_config(tmp_path, trials=8)
    one = start_search(load_config(path), runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(load_config(path), runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert fingerprint(one.run_dir) == fingerprint(two.run_dir)


# -- one pack, against its segments trained alone ----------------------------------------------------


def _tasks(values: list[dict]) -> list[TrialTask]:
    return [TrialTask(k, 0, k, params, 100 + k) for k, params in enumerate(values)]


MODEL = {"layers": 2, "hidden_units": 8, "batch_size": 16, "epochs": 5, "batchnorm": True}
VALUES = [{"learning_rate": rate, "beta1": 0.9, "l2": 1e-3} for rate in (0.01, 0.05, 1e6, 0.02)]


@pytest.fixture(scope="module")
def blobs() -> Dataset:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    X = rng.standard_normal((3, 4))[y] * 2 + rng.standard_normal((300, 4))
    return Dataset("blobs", X[:240], y[:240], X[240:], y[240:], ("a", "b", "c"))


def _same(a, b) -> bool:
    """Two outcomes with the same status, epochs, costs, state and weights (not seconds)."""
    arrays = lambda d: {k: v.tobytes() for k, v in (d or {}).items() if k != "state"}  # noqa: E731
    return (
        (a.status, a.first_epoch, a.history, a.error, repr(a.value()))
        == (b.status, b.first_epoch, b.history, b.error, repr(b.value()))
        and arrays(a.state) == arrays(b.state)
        and arrays(a.weights) == arrays(b.weights)
    )


def test_a_pack_holding_a_diverging_model_trains_each_model_as_alone(blobs: Dataset, pack_sizes) -> None:
    segments = [Segment(task, None) for task in _tasks(VALUES)]
    packed = train_pack(segments, MODEL, blobs)
    assert pack_sizes == [4]
    alone = [train_segment(segment, MODEL, blobs) for segment in segments]
    assert [o.status for o in packed] == [TrialStatus.OK, TrialStatus.OK, TrialStatus.DIVERGED, TrialStatus.OK]
    assert packed[2].summary.epochs_run == alone[2].summary.epochs_run < MODEL["epochs"]
    assert all(_same(p, a) for p, a in zip(packed, alone))


def test_a_model_that_cannot_start_fails_alone_and_its_neighbours_train(blobs: Dataset) -> None:
    bad = {**VALUES[0], "learning_rate": -1.0}  # refused by ModelConfig: the segment fails before training
    segments = [Segment(task, 3) for task in _tasks([VALUES[0], bad, VALUES[1]])]
    packed = train_pack(segments, MODEL, blobs)
    alone = [train_segment(segment, MODEL, blobs) for segment in segments]
    assert [o.status for o in packed] == [TrialStatus.OK, TrialStatus.FAILED, TrialStatus.OK]
    assert all(_same(p, a) for p, a in zip(packed, alone))


def test_an_error_while_the_pack_trains_falls_back_to_each_model_alone(blobs, monkeypatch) -> None:
    def broken(states, *args, **kwargs):
        states[0].epoch += 1  # half-way through: the fallback must start again from the segments, not the states
        raise MemoryError("pack")

    monkeypatch.setattr(packs, "fit_stacked", broken)
    segments = [Segment(task, None) for task in _tasks(VALUES)]
    packed = train_pack(segments, MODEL, blobs)
    assert all(_same(p, train_segment(s, MODEL, blobs)) for p, s in zip(packed, segments))


# -- pack sizes and the dry-run line -----------------------------------------------------------------------


def test_packs_keep_every_worker_busy_within_the_cap_and_apart_by_shape_and_end(blobs: Dataset) -> None:
    tasks = _tasks([VALUES[0]] * 64)
    sizes = lambda segments, workers, stack="auto": sorted(  # noqa: E731
        map(len, plan_packs(segments, model=MODEL, data=blobs, workers=workers, stack=stack))
    )
    segments = [Segment(task, None) for task in tasks]
    assert sizes(segments, 2) == [16] * 4  # the cap (nn.stacked.LARGEST_PACK)
    assert sizes(segments[:10], 4) == [2, 2, 3, 3]  # one pack per worker
    assert sizes(segments, 2, "off") == [1] * 64
    mixed = [Segment(t, 3 if t.trial % 2 else None) for t in tasks[:8]]  # two end epochs
    mixed += [Segment(t, None) for t in _tasks([{**VALUES[0], "hidden_units": 9}] * 3)]  # another shape
    planned = plan_packs(mixed, model=MODEL, data=blobs, workers=1)
    assert sorted(map(len, planned)) == [3, 4, 4]
    assert all(len({(s.until_epoch, s.task.params.get("hidden_units")) for s in pack}) == 1 for pack in planned)


def test_a_large_network_does_not_stack_and_the_dry_run_says_so(tmp_path: Path, blobs: Dataset) -> None:
    rng = np.random.default_rng(1)
    wide = Dataset(
        "wide",
        rng.standard_normal((200, 784)),
        blobs.y_train[:200],
        rng.standard_normal((20, 784)),
        blobs.y_dev[:20],
        ("a", "b", "c"),
    )
    model = {"hidden": [256, 128], "batch_size": 128, "epochs": 1}
    tasks = _tasks([VALUES[0]] * 8)
    assert stack_plan(tasks, model=model, data=wide, workers=2).stacked == 0
    assert (
        stack_plan(tasks, model=MODEL, data=blobs, workers=2).line()
        == "stacking: 8 of 8 trials train stacked, in 2 packs (search.stack: auto)"
    )
    result = CliRunner().invoke(cli, ["run", str(write_config(tmp_path, trials=6)), "--dry-run", "-w", "2"])
    assert "stacking: 6 of 6 trials train stacked, in 2 packs" in result.output, result.output


def test_a_dry_run_reads_the_data_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hpsearch.search.api as api

    reads = []
    real = api.load_dataset
    monkeypatch.setattr(api, "load_dataset", lambda *args, **kwargs: reads.append(1) or real(*args, **kwargs))
    planned = api.dry_run(load_config(write_config(tmp_path, trials=6)), api.Execution(workers=3))
    assert len(reads) == 1
    assert len(planned.trials) == 6 and planned.stacking is not None and planned.stacking.packs == 3


def test_stack_setting_reads_a_bare_off_and_refuses_anything_else(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, "off")).search.stack == "off"
    assert load_config(write_config(tmp_path, "auto")).search.stack == "auto"
    with pytest.raises(ConfigError, match="search.stack: must be auto"):
        load_config(write_config(tmp_path, "sometimes"))
