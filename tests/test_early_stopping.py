"""Successive halving and Hyperband: rungs, promotions, pruned trials — identical whatever the workers or kills."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import hpsearch.execution.segments
import hpsearch.search.api
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.core.records import TrialStatus
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, Network, train
from hpsearch.pruning.schedule import (
    EarlyStopping,
    RungResult,
    RungStanding,
    brackets,
    halving_top,
    keep_share,
    n_promoted,
    planned_epochs,
    promote,
    rung_epochs,
    rung_plan,
)
from hpsearch.search.api import Execution, resume_search, start_search, stored_config
from hpsearch.storage.layout import RUN_DB
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.kill_resume import fingerprint

# the rung rule these tests work out by hand
HALVING = "  early_stopping: {method: halving, min_epochs: 1, eta: 3}\n  rank_by: last\n"
AUTO = "  early_stopping: {min_epochs: 1, eta: 3}\n"  # method left out: auto


def halving_config(tmp_path: Path, trials: int = 9, epochs: int = 9, extra: str = "", samples: int = 240) -> Path:
    return write_tiny_config(tmp_path, trials=trials, epochs=epochs, samples=samples, extra=HALVING + extra)


# -- the schedule, as pure functions ------------------------------------------------------------


def test_rungs_grow_by_eta_and_end_at_the_epochs() -> None:
    assert rung_epochs(3, 3, 30) == [3, 9, 27, 30]
    assert rung_epochs(3, 3, 27) == [3, 9, 27]
    assert rung_epochs(1, 2, 5) == [1, 2, 4, 5]
    assert rung_epochs(2, 4, 3) == [2, 3]


def test_promotion_keeps_the_best_third_breaks_ties_by_id_and_never_a_diverged_trial() -> None:
    results = [
        RungResult(0, 0.5, False),
        RungResult(1, 0.1, True),
        RungResult(2, 0.3, False),
        RungResult(3, 0.3, False),
        RungResult(4, 0.9, False),
        RungResult(5, math.nan, False),
    ]
    third = Fraction(1, 3)
    assert promote(results, n_at_rung=6, share=third) == [2, 3]  # 1 is better but diverged; 2 and 3 tie, both fit
    assert promote(results, n_at_rung=3, share=third) == [2]  # tie at 0.3: the lower id
    assert promote([RungResult(7, 1.0, True)], n_at_rung=1, share=third) == []
    assert promote(results, n_at_rung=6, share=Fraction(3, 5)) == [0, 2, 3]  # 3 of 6: 0.5 follows the two 0.3s
    assert [n_promoted(n, third) for n in (0, 1, 2, 3, 8, 9, 27)] == [0, 1, 1, 1, 2, 3, 9]
    assert [n_promoted(n, Fraction(3, 5)) for n in (1, 5, 27, 81)] == [1, 3, 16, 48]


def test_hyperband_brackets_share_the_trials_like_the_standard_schedule() -> None:
    # 4 rungs, eta 3: Hyperband's brackets have 27, 12, 6 and 4 configurations (49 in all).
    groups = brackets("hyperband", range(49), n_rungs=4, eta=3)
    assert [(g.first_rung, len(g.trials)) for g in groups] == [(0, 27), (1, 12), (2, 6), (3, 4)]
    assert [t for g in groups for t in g.trials] == list(range(49))  # every trial once, in order
    small = brackets("hyperband", range(10), n_rungs=4, eta=3)
    assert sum(len(g.trials) for g in small) == 10 and small[0].first_rung == 0
    assert brackets("halving", range(5), n_rungs=4, eta=3)[0].trials == (0, 1, 2, 3, 4)


def test_auto_keeps_more_at_the_first_rung_while_few_trials_would_reach_the_top_rung() -> None:
    # halving with eta 3 over rungs 3/9/27: 27 trials -> 9 -> 3 at the top; 81 -> 27 -> 9; 729 -> 243 -> 81
    assert [halving_top(n, 3, 3) for n in (27, 81, 729)] == [3, 9, 81]
    # 242 trials -> 80 -> 26 at the top, fewer than eta**3 = 27; 243 -> 81 -> 27: halving's 1/3 at every rung
    firsts = [keep_share("auto", n, 3, 3, rung=0) for n in (27, 81, 242, 243)]
    assert firsts == [Fraction(3, 5)] * 3 + [Fraction(1, 3)]
    assert [keep_share("auto", 27, 3, 3, rung=k) for k in (0, 1)] == [Fraction(3, 5), Fraction(1, 2)]
    assert keep_share("halving", 27, 3, 3, rung=0) == keep_share("hyperband", 27, 3, 3, rung=0) == Fraction(1, 3)
    # a small round: one bracket, 27 -> 16 (3/5 of 27, rounded down) -> 8 (half) trials
    small = rung_plan("auto", 27, [3, 9, 27], eta=3)
    assert [(p.bracket, p.trials, p.epochs, p.start_epochs) for p in small] == [
        (0, 27, 3, 0),
        (0, 16, 9, 3),
        (0, 8, 27, 9),
    ]
    assert planned_epochs(small) == 27 * 3 + 16 * 6 + 8 * 18  # 321 of 729: 44% of full training
    assert planned_epochs(rung_plan("auto", 81, [3, 9, 27], eta=3)) <= 0.45 * 81 * 27
    assert brackets("auto", range(27), n_rungs=3, eta=3) == brackets("halving", range(27), n_rungs=3, eta=3)
    assert rung_plan("auto", 729, [3, 9, 27], eta=3) == rung_plan("halving", 729, [3, 9, 27], eta=3)


def test_early_stopping_without_a_method_is_auto_and_a_stored_method_stays(tmp_path: Path) -> None:
    assert EarlyStopping().method == "auto"
    config = load_config(write_tiny_config(tmp_path, extra=AUTO))
    assert config.search.early_stopping.method == "auto"
    assert config.to_dict()["search"]["early_stopping"]["method"] == "auto"  # stored as chosen
    shutil.copytree(Path(__file__).parent / "fixtures" / "v2-early-run", tmp_path / "old")
    with RunStore.open(tmp_path / "old", read_only=True) as store:  # stored when method was required: halving
        assert stored_config(store).search.early_stopping.method == "halving"


def test_rung_plan_counts_the_epochs_each_trial_adds() -> None:
    plan = rung_plan("halving", 9, [1, 3, 9], eta=3)
    assert [(p.rung, p.trials, p.epochs) for p in plan] == [(0, 9, 1), (1, 3, 3), (2, 1, 9)]
    assert planned_epochs(plan) == 9 * 1 + 3 * 2 + 1 * 6


# -- a search with halving ---------------------------------------------------------------------


def _dev_cost_after(config_path: Path, trial, epochs: int) -> float:
    """Dev J of a trial's configuration trained from scratch, in one call, for ``epochs`` epochs."""
    config = load_config(config_path)
    data = load_dataset(config.resolved_data())
    model = ModelConfig.from_dict({**config.model, **trial.params, "seed": trial.seed, "epochs": epochs})
    return train(model, data)[0].dev_cost


def test_promotions_match_ones_worked_out_from_independent_training(tmp_path: Path) -> None:
    path = halving_config(tmp_path)
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    trials = {t.trial: t for t in result.trials}
    at_1 = {i: _dev_cost_after(path, t, 1) for i, t in trials.items()}
    expected_first = sorted(sorted(at_1, key=lambda i: (at_1[i], i))[:3])
    at_3 = {i: _dev_cost_after(path, trials[i], 3) for i in expected_first}
    expected_second = [min(at_3, key=lambda i: (at_3[i], i))]
    with RunStore.open(result.run_dir) as store:
        assert store.promotions(0) == {(0, 0): expected_first, (0, 1): expected_second}
    (winner,) = expected_second
    assert [t.trial for t in result.trials if t.status is TrialStatus.OK] == [winner]
    assert trials[winner].rung == 2 and trials[winner].epochs_run == 9
    # a trial that reached the top rung has exactly the dev J of one-call training with its values and seed,
    # and of `hpsearch train` given them
    assert trials[winner].dev_cost == _dev_cost_after(path, trials[winner], 9)
    sets = [f"--set={k}={v!r}" for k, v in {**trials[winner].params, "seed": trials[winner].seed}.items()]
    trained = CliRunner().invoke(cli, ["train", str(path), *sets, "--json"])
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["dev_cost"] == trials[winner].dev_cost
    for i in expected_first:
        if i != winner:
            assert trials[i].status is TrialStatus.PRUNED and trials[i].rung == 1 and trials[i].epochs_run == 3
            assert trials[i].value == at_3[i]
    # ranking: the top-rung trial, then rung 2 by value, then rung 1 by value
    order = [t.trial for t in result.trials]
    assert order[0] == winner
    assert order[1:3] == sorted(set(expected_first) - {winner}, key=lambda i: at_3[i])
    assert order[3:] == sorted(set(trials) - set(expected_first), key=lambda i: at_1[i])
    # only the finished trials' checkpoints go: none is left
    assert not list((result.run_dir / "checkpoints").glob("*.npz"))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.5, float("nan"), float("inf")]), min_size=1, max_size=30),
    diverged=st.lists(st.booleans(), min_size=30, max_size=30),
    order=st.randoms(use_true_random=False),
    share=st.sampled_from([Fraction(1, 3), Fraction(1, 2), Fraction(3, 5)]),
    stored=st.integers(0, 30),
)
def test_a_trial_surely_out_at_its_arrival_is_never_promoted(values, diverged, order, share, stored) -> None:
    """Whatever the arrival order (after ``stored`` results read back from the store): a trial ``RungStanding``
    calls surely out when it arrives is not in ``promote`` over the whole rung, so its checkpoint is never read."""
    results = [RungResult(t, v, d) for t, (v, d) in enumerate(zip(values, diverged))]
    order.shuffle(results)
    standing = RungStanding(len(results), share, results[:stored])
    out = []
    for result in results[stored:]:
        if standing.surely_out(result):
            out.append(result.trial)
        standing.add(result)
    assert not set(out) & set(promote(results, len(results), share))


def test_a_rung_writes_no_checkpoint_for_a_trial_it_will_surely_prune(tmp_path: Path, monkeypatch) -> None:
    """Same run, fewer checkpoint files: once a rung's results in so far put a trial below its bracket's share,
    no checkpoint of it is written (it would only be deleted at the promotion)."""
    config = load_config(halving_config(tmp_path, trials=27))
    written: list[int] = []
    real = RunStore.save_checkpoint
    monkeypatch.setattr(
        RunStore, "save_checkpoint", lambda self, trial, *a: written.append(trial) or real(self, trial, *a)
    )
    lean = start_search(config, runs_dir=tmp_path / "runs", name="lean", execution=Execution(workers=1))
    lean_writes, written[:] = len(written), []
    monkeypatch.setattr(RungStanding, "surely_out", lambda self, result: False)
    every = start_search(config, runs_dir=tmp_path / "runs", name="every", execution=Execution(workers=1))
    with RunStore.open(every.run_dir) as store:
        promotions = store.promotions(0)
    assert len(written) == 27 + sum(len(trials) for (_, rung), trials in promotions.items() if rung == 0)
    assert lean_writes < len(written)  # the rung of 27 knows many of its losers before it is whole
    assert fingerprint(lean.run_dir) == fingerprint(every.run_dir)


def test_same_promotions_and_costs_whatever_the_workers(tmp_path: Path) -> None:
    config = load_config(halving_config(tmp_path, trials=12, extra="  rounds: 2\n  zoom_trials: 6\n  top_k: 2\n"))
    one = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(config, runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert len(one.rounds) == 2  # zoom rounds work with early stopping
    assert fingerprint(one.run_dir) == fingerprint(two.run_dir)


def test_a_diverged_trial_is_never_promoted(tmp_path: Path) -> None:
    path = tmp_path / "div.yaml"
    path.write_text(
        "data: {dataset: blobs, samples: 200, classes: 3, features: 4}\n"
        "model: {batchnorm: false, optimizer: gd, epochs: 4, layers: 2, hidden_units: 32}\n"
        "space:\n  learning_rate: {choice: [0.05, 0.02, 50.0]}\n"
        "search: {sampler: grid, workers: 1, early_stopping: {method: halving, min_epochs: 1, eta: 2}}\n"
    )
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    by_lr = {t.params["learning_rate"]: t for t in result.trials}
    assert by_lr[50.0].status is TrialStatus.DIVERGED
    with RunStore.open(result.run_dir) as store:
        promoted = [t for trials in store.promotions(0).values() for t in trials]
    assert by_lr[50.0].trial not in promoted
    assert result.trials[-1].trial == by_lr[50.0].trial  # ranked after ok and pruned trials


def test_rank_by_best_saves_the_best_epochs_weights(tmp_path: Path) -> None:
    path = write_tiny_config(tmp_path, trials=4, epochs=12, extra="  rank_by: best\n")
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    best = result.best
    assert best.value == best.best_dev_cost == min(best.history["dev_cost"])
    assert best.best_dev_cost <= best.dev_cost
    ranked_values = [t.value for t in result.trials]
    assert ranked_values == sorted(ranked_values)
    data = load_dataset(load_config(path).resolved_data())
    network = Network.load(result.run_dir / "models" / "best.npz")
    assert network.cost(data.X_dev, data.y_dev) == pytest.approx(best.best_dev_cost, rel=1e-6)


def test_hyperband_runs_each_bracket_to_the_top_rung(tmp_path: Path) -> None:
    path = write_tiny_config(
        tmp_path, trials=14, epochs=9, extra="  early_stopping: {method: hyperband, min_epochs: 1, eta: 3}\n"
    )
    result = start_search(load_config(path), runs_dir=tmp_path / "runs")
    groups = brackets("hyperband", range(14), n_rungs=3, eta=3)
    ok = [t for t in result.trials if t.status is TrialStatus.OK]
    # each bracket's survivors reach 9 epochs; the last bracket starts there (plain full training)
    assert len(ok) == sum(p.trials for p in rung_plan("hyperband", 14, [1, 3, 9], eta=3) if p.rung == 2) == 5
    assert all(t.epochs_run == 9 and t.rung == 2 for t in ok)
    for group in groups:  # a bracket's trials start at its first rung: none stopped before it
        epochs = [t.epochs_run for t in result.trials if t.trial in group.trials]
        assert min(epochs) == [1, 3, 9][group.first_rung]


# -- crash safety -------------------------------------------------------------------------------


@pytest.mark.parametrize("early", [HALVING, AUTO])
def test_a_crash_at_a_promotion_then_resume_equals_a_straight_run(tmp_path: Path, monkeypatch, early: str) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=9, epochs=9, extra=early))
    straight = start_search(config, runs_dir=tmp_path / "runs", name="straight")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # lands where a kill would: after rung 0, before its promotions are stored

    monkeypatch.setattr(RunStore, "record_promotions", crash)
    with pytest.raises(Exception):
        start_search(config, runs_dir=tmp_path / "runs", name="crashed")
    monkeypatch.undo()
    # resume must continue from the rung-0 checkpoints, never from epoch 0
    started = []
    real_start = hpsearch.execution.segments.start
    monkeypatch.setattr(hpsearch.execution.segments, "start", lambda *a, **k: started.append(1) or real_start(*a, **k))
    resume_search(tmp_path / "runs" / "crashed")
    assert started == []
    assert fingerprint(tmp_path / "runs" / "crashed") == fingerprint(straight.run_dir)


# -- configs, views, old runs -------------------------------------------------------------------


def test_searching_epochs_with_early_stopping_is_a_one_line_config_error(tmp_path: Path) -> None:
    path = halving_config(tmp_path)
    path.write_text(path.read_text().replace("space:\n", "space:\n  epochs: {scale: int, low: 3, high: 9}\n"))
    path.write_text(path.read_text().replace("  epochs: 9\n", ""))
    result = CliRunner().invoke(cli, ["run", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "space.epochs" in lines[0] and "early_stopping" in lines[0] and "tiny.yaml" in lines[0]


def test_auto_promotions_are_the_same_whatever_the_workers(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=10, epochs=9, extra=AUTO))
    one = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    two = start_search(config, runs_dir=tmp_path / "runs", name="two", execution=Execution(workers=2))
    assert fingerprint(one.run_dir) == fingerprint(two.run_dir)
    # 10 trials: auto keeps the best 3/5 at the first rung, then half: 10 -> 6 -> 3 reach the top rung (9 epochs)
    assert sum(t.status is TrialStatus.OK for t in one.trials) == 3
    assert sorted(t.epochs_run for t in one.trials if t.status is TrialStatus.PRUNED) == [1] * 4 + [3] * 3


def test_dry_run_says_what_auto_chose(tmp_path: Path) -> None:
    path = write_tiny_config(tmp_path, trials=27, epochs=9, extra=AUTO)
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "auto: a small search" in result.output and "keeps the best 3/5 at the first rung" in result.output
    # 27 trials to 1 epoch, 16 on to 3, 8 on to 9
    assert f"{27 * 1 + 16 * 2 + 8 * 6} epochs in all" in result.output


def test_show_says_how_each_round_cut_its_trials(tmp_path: Path) -> None:
    small = start_search(load_config(write_tiny_config(tmp_path, trials=10, epochs=9, extra=AUTO)), runs_dir=tmp_path)
    result = CliRunner().invoke(cli, ["show", str(small.run_dir)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "early stopping at epochs 1/3/9, round 0: auto: a small search" in result.output
    halving = start_search(load_config(halving_config(tmp_path)), runs_dir=tmp_path / "h")
    result = CliRunner().invoke(cli, ["show", str(halving.run_dir)], terminal_width=200)
    assert "round 0: halving, keeping the best 1/3 at each rung" in result.output


def test_dry_run_prints_the_rung_plan_and_the_epochs_it_saves(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(halving_config(tmp_path)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Rungs of round 0" in result.output
    assert "21 epochs in all, 26% of the 81 of full training" in result.output


def test_show_and_export_tell_rungs_and_pruned_trials(tmp_path: Path) -> None:
    result = start_search(load_config(halving_config(tmp_path)), runs_dir=tmp_path / "runs")
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", str(result.run_dir)])
    assert shown.exit_code == 0 and "pruned" in shown.output and "rung" in shown.output
    csv_text = runner.invoke(cli, ["export", str(result.run_dir)]).output
    header = csv_text.splitlines()[0].split(",")
    for column in (
        "rank",
        "trial",
        "round",
        "status",
        "dev_cost",
        "train_cost",
        "dev_accuracy",
        "epochs_run",
        "seconds",
        "rung",
        "best_dev_cost",
        "best_epoch",
        "learning_rate",
        "seed",
    ):
        assert column in header
    document = json.loads(runner.invoke(cli, ["export", str(result.run_dir), "--json", "-"]).output)
    promotions = document["rounds"][0]["promotions"]
    assert [p["from_rung"] for p in promotions] == [1, 2] and len(promotions[0]["trials"]) == 3
    assert all(len(t["history"]["dev_cost"]) == t["epochs_run"] for t in document["trials"])


FIXTURE = Path(__file__).parent / "fixtures" / "v1-run"


def test_a_schema_1_run_opens_shows_exports_and_resumes(tmp_path: Path) -> None:
    run = tmp_path / "v1-run"
    shutil.copytree(FIXTURE, run)
    with sqlite3.connect(FIXTURE / RUN_DB) as original:
        stored = {row[0]: row[1:] for row in original.execute("SELECT trial, status, history FROM trials")}
    with sqlite3.connect(run / RUN_DB) as db:  # as if killed before its last two trials were recorded
        db.execute("DELETE FROM trials WHERE trial >= 7")
    db.close()
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", str(run)])
    assert shown.exit_code == 0, shown.output
    assert "7/9 trials done" in shown.output
    assert runner.invoke(cli, ["export", str(run)]).exit_code == 0
    result = resume_search(run, execution=Execution(workers=1))
    assert len(result.trials) == 9
    config = load_config(run / "config.yaml")
    dataset = load_dataset(config.resolved_data())
    for t in result.trials:
        status, history = stored[t.trial]
        old = json.loads(history)
        assert t.status.value == status
        if t.trial < 7:  # kept: read back exactly as schema 1 stored them (NaN too)
            assert json.dumps({k: t.history[k] for k in old}) == json.dumps(old)
            continue
        # Trained again on resume: the same numbers as a fresh train() of its values in this process. The
        # fixture's own floats came from another machine and library build, so they are not compared here.
        fresh, _ = train(ModelConfig.from_dict({**config.model, **t.params, "seed": t.seed}), dataset)
        assert json.dumps({k: t.history[k] for k in old}) == json.dumps({k: fresh.history[k] for k in old})
        assert json.dumps(t.dev_cost) == json.dumps(fresh.dev_cost)
    assert {t.status for t in result.trials} == {TrialStatus.OK, TrialStatus.DIVERGED}
    ok_trial = next(i for i, row in stored.items() if row[0] == "ok")
    with RunStore.open(run) as store:  # migration moved the histories into the per-epoch table
        history, seconds = store.epoch_log(ok_trial)
    assert history["dev_cost"] == json.loads(stored[ok_trial][1])["dev_cost"] and len(seconds) == 4


def test_plot_draws_each_rounds_rungs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="plots need the plot extra: pip install 'hpsearch[plot]'")
    from hpsearch.analysis.plots import plot_run

    result = start_search(load_config(halving_config(tmp_path)), runs_dir=tmp_path / "runs")
    with RunStore.open(result.run_dir) as store:
        written = plot_run(store.rounds(), store.trials(), tmp_path / "plots")
    (rungs,) = [p for p in written if p.name.startswith("rungs_")]
    assert rungs.name == "rungs_round0.png" and rungs.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "plain").mkdir()
    plain = start_search(load_config(write_tiny_config(tmp_path / "plain", trials=3)), runs_dir=tmp_path / "runs")
    with RunStore.open(plain.run_dir) as store:  # without early stopping there are no rungs to draw
        assert not [p for p in plot_run(store.rounds(), store.trials(), tmp_path / "p") if "rungs" in p.name]


def test_dry_run_says_which_zoom_rounds_follow_and_checks_the_data(tmp_path: Path) -> None:
    path = write_tiny_config(tmp_path, trials=4, extra="  rounds: 3\n  zoom_trials: 2\n  top_k: 2\n")
    planned = CliRunner().invoke(cli, ["run", str(path), "--dry-run", "--set", "search.zoom=tpe"])
    assert "then 2 zoom rounds of 2 trials each, planned by tpe from every finished trial" in planned.output
    boxed = CliRunner().invoke(cli, ["run", str(path), "--dry-run", "--set", "search.zoom=box"])
    assert "then 2 zoom rounds of 2 trials each, sampled in the box of the best 2 trials" in boxed.output
    missing = tmp_path / "missing.yaml"
    missing.write_text("data: {path: gone.csv, label: y}\nsearch: {trials: 2}\n")
    refused = CliRunner().invoke(cli, ["run", str(missing), "--dry-run"])
    assert refused.exit_code == 2 and "gone.csv" in refused.stderr and "Traceback" not in refused.output


def test_early_stopping_ranks_at_rungs_by_the_best_epoch_unless_told_otherwise(tmp_path: Path) -> None:
    default = write_tiny_config(
        tmp_path, trials=3, epochs=3, extra="  early_stopping: {method: halving, min_epochs: 1}\n"
    )
    config = load_config(default)
    assert config.search.rank_by == "best"
    assert config.to_dict()["search"]["rank_by"] == "best"  # the run stores it: a resume never changes its rule
    (tmp_path / "last").mkdir()
    told = write_tiny_config(
        tmp_path / "last",
        trials=3,
        epochs=3,
        extra="  early_stopping: {method: halving, min_epochs: 1}\n  rank_by: last\n",
    )
    assert load_config(told).search.rank_by == "last"
    (tmp_path / "plain").mkdir()
    assert load_config(write_tiny_config(tmp_path / "plain", trials=3)).search.rank_by == "last"  # no rungs: as before
