"""The rung board: asynchronous (ASHA-like) early stopping shared through files in the run folder."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from hpsearch.pruning.rung_board import RungBoard


def board(folder, trial, *, eta=3, direction="minimize", rungs=(1, 3, 9)):
    return RungBoard(folder, rungs, eta, direction, trial=trial)


def test_trials_go_on_while_fewer_than_eta_values_are_at_the_rung(tmp_path):
    assert not board(tmp_path, 0).should_stop(1, 100.0)
    assert not board(tmp_path, 1).should_stop(1, 200.0)


def test_a_value_outside_the_best_third_is_stopped_and_one_inside_goes_on(tmp_path):
    for trial, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0]):
        board(tmp_path, trial).should_stop(1, value)
    # With its own value there are 6: the best 6 // 3 = 2 go on, i.e. values up to 2.0.
    assert board(tmp_path, 10).should_stop(1, 2.5)
    assert not board(tmp_path, 11).should_stop(1, 1.5)


def test_maximize_keeps_the_highest(tmp_path):
    for trial, value in enumerate([0.1, 0.2, 0.3]):
        board(tmp_path, trial, direction="maximize").should_stop(1, value)
    assert not board(tmp_path, 5, direction="maximize").should_stop(1, 0.9)
    assert board(tmp_path, 6, direction="maximize").should_stop(1, 0.15)


def test_only_rung_epochs_count_each_once_and_a_jump_passes_every_rung_between(tmp_path):
    b = board(tmp_path, 0)
    b.should_stop(0, 1.0)
    assert not (tmp_path / "rung-1.jsonl").exists()
    b.should_stop(1, 1.0)
    b.should_stop(1, 0.5)  # the same rung again: not recorded twice
    b.should_stop(10, 0.7)  # past 3 and 9 at once
    assert [json.loads(line)["value"] for line in (tmp_path / "rung-1.jsonl").read_text().splitlines()] == [1.0]
    assert board(tmp_path, 1).values(3) == [0.7] == board(tmp_path, 1).values(9)


def test_a_trial_run_again_counts_once_with_its_latest_value(tmp_path):
    for value in (9.0, 1.0):  # trial 0 is run twice (a resumed run)
        board(tmp_path, 0).should_stop(1, value)
    board(tmp_path, 1).should_stop(1, 2.0)
    assert sorted(board(tmp_path, 2).values(1)) == [1.0, 2.0]


def test_the_order_trials_arrive_in_decides_who_stops(tmp_path):
    # Documented behaviour: a bad trial that arrives early goes on, the same value arriving late stops.
    early = tmp_path / "early"
    assert not board(early, 0).should_stop(1, 5.0)
    late = tmp_path / "late"
    for trial, value in enumerate([1.0, 2.0, 3.0]):
        board(late, trial).should_stop(1, value)
    assert board(late, 9).should_stop(1, 5.0)


def _append_many(args):
    folder, worker = args
    for i in range(50):
        RungBoard(folder, [1], 3, "minimize", trial=worker * 1000 + i).should_stop(1, float(i))


def test_concurrent_writers_never_interleave_a_line(tmp_path):
    with multiprocessing.get_context("fork" if hasattr(__import__("os"), "fork") else "spawn").Pool(4) as pool:
        pool.map(_append_many, [(tmp_path, w) for w in range(4)])
    lines = (tmp_path / "rung-1.jsonl").read_text().splitlines()
    assert len(lines) == 200
    assert len({json.loads(line)["trial"] for line in lines}) == 200


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        RungBoard(tmp_path, [1], 1, "minimize")
    with pytest.raises(ValueError):
        RungBoard(tmp_path, [1], 3, "lower")


def test_a_nan_value_at_a_rung_is_the_worst_and_always_stopped(tmp_path):
    assert board(tmp_path, 0).should_stop(1, float("nan"))  # even the first trial at the rung
    assert not board(tmp_path, 1).should_stop(1, 0.5)
    assert board(tmp_path, 0).values(1)[0] == float("inf")


def test_a_symlink_where_the_rung_folder_should_be_is_refused(tmp_path):
    from hpsearch.core.errors import RunError

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "rungs").symlink_to(elsewhere)
    with pytest.raises(RunError, match="symlink"):
        board(tmp_path / "rungs", 0).should_stop(1, 0.5)
    assert list(elsewhere.iterdir()) == []


def test_each_round_has_its_own_rung_files(tmp_path):
    from hpsearch.execution.objective_jobs import ObjectiveJob, run_job, rung_folder
    from hpsearch.execution.segments import TrialTask
    from hpsearch.objectives.spec import ObjectiveSpec

    spec = ObjectiveSpec.for_callable(_reports_twice, metric="loss")
    jobs = [
        ObjectiveJob(TrialTask(i, rnd, 0, {"v": v}, 0), spec, {}, str(tmp_path), (1, 2), 2)
        for i, (rnd, v) in enumerate([(0, 0.1), (0, 0.2), (1, 5.0), (1, 6.0), (1, 7.0)])
    ]
    statuses = [run_job(job)[1].status for job in jobs]
    # round 1's first trial is judged against round 1 only: it goes on (against round 0's 0.1 and 0.2 it would stop)
    assert statuses == ["ok", "pruned", "ok", "pruned", "pruned"]
    assert (rung_folder(tmp_path, 0) / "rung-1.jsonl").read_text().count("\n") == 2
    assert (rung_folder(tmp_path, 1) / "rung-1.jsonl").read_text().count("\n") == 3


def _reports_twice(params, trial):
    trial.report(1, loss=params["v"])
    return params["v"]
