"""hpsearch confirm: repeats with fresh seeds — deterministic, resumable after kill -9, summarised correctly."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import hpsearch.confirm.repeats
from hpsearch.cli.confirm_view import confirm_lines
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.confirm.repeats import confirm_run
from hpsearch.confirm.summary import summarise, t_quantile_975
from hpsearch.core.records import RepeatRecord, RoundRecord, TrialRecord, TrialStatus
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, train
from hpsearch.search.api import Execution, resume_search, start_search
from hpsearch.space.samplers import repeat_seed, trial_seed
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config


def table(run_dir: Path) -> list[tuple]:
    """Every stored repeat without its timing: what must be identical between two confirms, to the last bit."""
    with RunStore.open(run_dir) as store:
        return [
            (r.trial, r.repeat, r.seed, r.status, r.value, r.dev_cost, r.train_cost, r.dev_accuracy, r.epochs_run)
            for r in store.repeats()
        ]


def trial(number: int, value: float, params: dict | None = None, status: TrialStatus = TrialStatus.OK) -> TrialRecord:
    return TrialRecord(
        number,
        0,
        number,
        params or {"x": number},
        seed=number,
        status=status,
        dev_cost=value,
        value=value,
        dev_accuracy=0.9,
        epochs_run=3,
    )


def repeats(number: int, values: list[float], accuracies: list[float] | None = None) -> list[RepeatRecord]:
    accuracies = accuracies or [0.9] * len(values)
    return [
        RepeatRecord(number, r, seed=100 + r, status=TrialStatus.OK, value=v, dev_cost=v, dev_accuracy=a, epochs_run=3)
        for r, (v, a) in enumerate(zip(values, accuracies))
    ]


# -- the statistics, against numbers worked by hand ----------------------------------------------


def test_mean_std_range_and_interval_match_numbers_worked_by_hand() -> None:
    summary = summarise(
        [trial(0, 0.05), trial(1, 0.2)], repeats(0, [0.10, 0.14, 0.12], [0.9, 0.7, 0.8]) + repeats(1, [0.3, 0.5])
    )
    first, second = summary.trials
    assert first.trial == 0 and first.n == 3
    # mean (0.10 + 0.14 + 0.12) / 3 = 0.12; squared deviations 0.0004 + 0.0004 + 0 = 0.0008, / (3 − 1) → std 0.02
    assert first.mean == pytest.approx(0.12, abs=1e-15)
    assert first.std == pytest.approx(0.02, rel=1e-12)
    assert (first.low, first.high) == (0.10, 0.14)
    assert first.mean_accuracy == pytest.approx(0.8)
    # 95% interval: 0.12 ± 4.303 · 0.02 / √3 = 0.12 ± 0.0496868
    assert first.interval == pytest.approx((0.12 - 0.0496868, 0.12 + 0.0496868), abs=1e-7)
    # (0.3, 0.5): mean 0.4, std √((0.01 + 0.01) / 1) = 0.141421; ± 12.706 · 0.141421 / √2 = ± 1.2706
    assert second.std == pytest.approx(0.1414214, rel=1e-6)
    assert second.interval == pytest.approx((0.4 - 1.2706, 0.4 + 1.2706), rel=1e-6)
    assert summary.tied  # 0.17 > −0.87: the intervals overlap
    assert summary.median_repeat == 2  # J 0.10, 0.12, 0.14 come from repeats 0, 2, 1
    assert not summary.changes and not summary.deterministic


def test_t_quantiles() -> None:
    assert t_quantile_975(1) == 12.706 and t_quantile_975(4) == 2.776 and t_quantile_975(30) == 2.042
    assert t_quantile_975(60) == pytest.approx(2.000, abs=0.002)  # tables: 2.000
    assert t_quantile_975(120) == pytest.approx(1.980, abs=0.002)  # tables: 1.980


def test_order_change_names_the_lucky_first_trial() -> None:
    trials = [trial(12, 0.05), trial(3, 0.06), trial(8, 0.07), trial(9, 0.08)]
    summary = summarise(
        trials,
        repeats(12, [0.11, 0.10, 0.12])
        + repeats(3, [0.06, 0.065, 0.07])
        + repeats(8, [0.07, 0.08, 0.075])
        + repeats(9, [0.09, 0.095, 0.1]),
    )
    assert [c.trial for c in summary.trials] == [3, 8, 9, 12]
    assert [(c.trial, c.leaderboard_rank, c.rank, c.lucky) for c in summary.changes] == [(12, 1, 4, True)]
    lines = confirm_lines(summary)
    assert "trial 12, ranked 1st, confirms 4th: its first run was lucky (J 0.05; its 3 repeats average 0.11)" in lines
    assert summary.best.trial == 3 and summary.median_repeat == 1  # J 0.06, 0.065, 0.07: the middle is repeat 1


def test_separated_intervals_are_told_apart_and_unstable_trials_rank_last() -> None:
    diverged = RepeatRecord(2, 2, 5, TrialStatus.DIVERGED, value=math.inf, dev_cost=math.inf, epochs_run=3)
    summary = summarise(
        [trial(0, 0.1), trial(1, 0.2), trial(2, 0.01)],
        repeats(0, [0.10, 0.11, 0.12]) + repeats(1, [0.30, 0.31, 0.32]) + repeats(2, [0.01, 0.01]) + [diverged],
    )
    assert [c.trial for c in summary.trials] == [0, 1, 2]
    assert summary.trials[2].unstable == 1 and summary.trials[2].n == 2
    assert not summary.tied
    assert "trial 0 beats trial 1 beyond the spread of seeds" in " ".join(confirm_lines(summary))


def test_an_objective_that_ignores_its_seed_shows_zero_spread_and_is_called_deterministic() -> None:
    summary = summarise([trial(0, 0.5), trial(1, 0.7)], repeats(0, [0.5] * 3) + repeats(1, [0.7] * 3))
    assert summary.deterministic and [c.std for c in summary.trials] == [0.0, 0.0]
    assert any("seems deterministic" in line for line in confirm_lines(summary))


def test_repeat_seeds_are_pure_and_apart_from_the_searchs() -> None:
    assert repeat_seed(7, 3, 0) == repeat_seed(7, 3, 0)
    seeds = {repeat_seed(7, t, r) for t in range(20) for r in range(5)}
    assert len(seeds) == 100
    assert seeds.isdisjoint({trial_seed(7, rnd, i) for rnd in range(20) for i in range(5)})
    assert repeat_seed(8, 3, 0) != repeat_seed(7, 3, 0)


# -- confirm on real runs ----------------------------------------------------------------------


def test_repeats_are_deterministic_and_independent_of_workers(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=4, epochs=3))
    search = start_search(config, runs_dir=tmp_path / "runs", name="one", execution=Execution(workers=1))
    copy = tmp_path / "runs" / "two"
    shutil.copytree(search.run_dir, copy)
    one = confirm_run(search.run_dir, top_k=2, seeds=3, execution=Execution(workers=1))
    two = confirm_run(copy, top_k=2, seeds=3, execution=Execution(workers=2))
    assert (one.trained, one.planned) == (6, 6)
    assert table(search.run_dir) == table(copy)
    assert one.model == two.model == (one.best.trial, one.median_repeat)
    # A repeat is the trial's values trained with the repeat's seed, and nothing else.
    data = load_dataset(config.resolved_data())
    rec = next(r for r in RunStore.open(copy).repeats() if r.repeat == 2)
    params = next(t.params for t in search.trials if t.trial == rec.trial)
    assert rec.seed == repeat_seed(config.search.seed, rec.trial, 2)
    result, _ = train(ModelConfig.from_dict({**config.model, **params, "seed": rec.seed}), data)
    assert result.dev_cost == rec.dev_cost and result.dev_accuracy == rec.dev_accuracy


def test_more_seeds_or_a_larger_top_later_trains_only_the_missing_repeats(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=4, epochs=2))
    run_dir = start_search(config, runs_dir=tmp_path / "runs").run_dir
    first = confirm_run(run_dir, top_k=2, seeds=2)
    before = table(run_dir)
    more = confirm_run(run_dir, top_k=3, seeds=3)
    assert (first.trained, more.trained, more.planned) == (4, 5, 9)
    after = table(run_dir)
    assert set(before) < set(after) and len(after) == len(set((r[0], r[1]) for r in after)) == 9
    assert confirm_run(run_dir, top_k=3, seeds=3).trained == 0


def _constructed_run(tmp_path: Path) -> Path:
    """A run whose first-ranked trial is a bad configuration with a (made-up) lucky first run."""
    config = load_config(write_tiny_config(tmp_path, trials=2, epochs=3))
    bad = {"learning_rate": 0.001, "beta1": 0.8, "hidden_units": 4, "batch_size": 32}
    good = {"learning_rate": 0.1, "beta1": 0.9, "hidden_units": 32, "batch_size": 16}
    resolved = config.to_dict()
    store = RunStore.create(tmp_path / "runs" / "made", name="made", config=resolved, config_text=json.dumps(resolved))
    with store:
        store.add_round(RoundRecord(0, config.space.to_json(), 2, "random"))
        for number, params, value in ((0, bad, 0.01), (1, good, 0.02)):
            store.record_trial(
                TrialRecord(
                    number,
                    0,
                    number,
                    params,
                    trial_seed(7, 0, number),
                    TrialStatus.OK,
                    dev_cost=value,
                    value=value,
                    dev_accuracy=0.9,
                    epochs_run=3,
                )
            )
    return store.run_dir


def test_confirm_says_when_the_first_ranked_trial_was_lucky(tmp_path: Path) -> None:
    run_dir = _constructed_run(tmp_path)
    result = CliRunner().invoke(cli, ["confirm", str(run_dir), "--top", "2", "--seeds", "2", "-w", "1"])
    assert result.exit_code == 0, result.output
    assert "trial 0, ranked 1st, confirms 2nd: its first run was lucky" in result.output
    assert "recommended: trial 1" in result.output
    assert "best model (trial 1, repeat" in result.output


def test_show_export_plot_and_resume_follow_the_confirmation(tmp_path: Path) -> None:
    run_dir = _constructed_run(tmp_path)
    confirmation = confirm_run(run_dir, top_k=2, seeds=3)
    best, median = confirmation.best, confirmation.median_repeat
    runner = CliRunner()

    shown = runner.invoke(cli, ["show", str(run_dir)])
    assert shown.exit_code == 0, shown.output
    assert "Confirmation" in shown.output and "ranked 1st, confirms 2nd" in shown.output
    assert f"best model (trial {best.trial}, repeat {median}: the median J of its 3 repeats)" in shown.output

    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["export", str(run_dir)]).output)))
    by_trial = {int(r["trial"]): r for r in rows}
    values = sorted(best.values)
    assert float(by_trial[1]["confirm_mean"]) == pytest.approx(sum(values) / 3)
    assert float(by_trial[1]["confirm_std"]) == pytest.approx(float(np.std(values, ddof=1)))
    assert by_trial[1]["confirm_n"] == by_trial[0]["confirm_n"] == "3"

    document = json.loads(runner.invoke(cli, ["export", str(run_dir), "--json", "-"]).output)
    recommended = document["recommended"]
    assert recommended["source"] == "confirm" and recommended["trial"] == 1
    median_record = next(r for r in best.repeats if r.repeat == median)
    assert median_record.value == values[1]  # the middle of three
    assert recommended["model"]["seed"] == median_record.seed and recommended["model"]["hidden_units"] == 32

    # The saved model is the median repeat: its weights predict as that repeat trained afresh does.
    config = load_config(tmp_path / "tiny.yaml")
    data = load_dataset(config.resolved_data())
    _, network = train(
        ModelConfig.from_dict({**config.model, **recommended["params"], "seed": median_record.seed}), data
    )
    with RunStore.open(run_dir) as store:
        trial_id, path = store.best_model()
        assert (trial_id, store.confirmed_model()) == (1, (1, median))
    with np.load(path) as saved:
        assert all(np.array_equal(saved[k], v) for k, v in network.state().items())

    resume_search(run_dir)  # nothing to train: the confirmed model stays, the leaderboard's first does not return
    with RunStore.open(run_dir) as store:
        assert store.confirmed_model() == (1, median)

    pytest.importorskip("matplotlib")
    plotted = runner.invoke(cli, ["plot", str(run_dir), "--out", str(tmp_path / "plots")])
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "plots" / "confirm.png").stat().st_size > 0
    assert "<h2>Confirmation</h2>" in (tmp_path / "plots" / "report.html").read_text(encoding="utf-8")


def test_early_stopping_repeats_train_to_the_top_rung(tmp_path: Path) -> None:
    path = write_tiny_config(
        tmp_path, trials=6, epochs=4, extra="  early_stopping: {method: halving, min_epochs: 1, eta: 2}\n"
    )
    run_dir = start_search(load_config(path), runs_dir=tmp_path / "runs").run_dir
    result = confirm_run(run_dir, top_k=3, seeds=2)
    assert {r.epochs_run for c in result.trials for r in c.repeats} == {4}
    with RunStore.open(run_dir) as store:
        statuses = {t.trial: t.status for t in store.trials()}
    assert TrialStatus.PRUNED in {statuses[c.trial] for c in result.trials}  # pruned ones confirm at full length


@pytest.mark.parametrize(
    "args, message",
    [
        (["confirm", "nosuch"], "no run named 'nosuch'"),
        (["confirm", "RUN", "--seeds", "1"], "1 is not in the range x>=2"),
        (["confirm", "RUN", "--top", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, runs_dir: Path, args: list[str], message: str) -> None:
    _constructed_run(tmp_path)
    args = [str(tmp_path / "runs" / "made") if a == "RUN" else a for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_run_without_an_ok_trial_has_nothing_to_confirm(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path, trials=1, epochs=1))
    resolved = config.to_dict()
    with RunStore.create(tmp_path / "r", name="r", config=resolved, config_text="") as store:
        store.add_round(RoundRecord(0, config.space.to_json(), 1, "random"))
        store.record_trial(TrialRecord(0, 0, 0, {}, 1, TrialStatus.FAILED, error="ValueError: boom"))
    result = CliRunner().invoke(cli, ["confirm", str(tmp_path / "r")])
    assert result.exit_code == 2 and "has no finished ok trial to confirm" in result.output


def test_ctrl_c_keeps_the_finished_repeats_and_names_the_command_that_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _constructed_run(tmp_path)
    real = hpsearch.confirm.repeats.run_segments

    def interrupted_after_two(*args, **kwargs):
        for number, outcome in enumerate(real(*args, **kwargs)):
            if number == 2:
                raise KeyboardInterrupt  # lands where Ctrl-C would: between two repeats
            yield outcome

    monkeypatch.setattr(hpsearch.confirm.repeats, "run_segments", interrupted_after_two)
    result = CliRunner().invoke(cli, ["confirm", str(run_dir), "--top", "2", "--seeds", "3", "-w", "1"])
    assert result.exit_code == 130
    # the run was named by its path (it is not in the runs folder): the hint gives that path back
    assert (
        f"2 repeats are saved in run 'made'; continue with: hpsearch confirm {run_dir} --top 2 --seeds 3"
        in result.output
    )
    assert len(table(run_dir)) == 2
    monkeypatch.undo()
    assert confirm_run(run_dir, top_k=2, seeds=3).trained == 4
