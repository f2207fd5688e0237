"""search.metric: trials ranked (and promoted) by the dev figure chosen, computed here by hand; refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.analysis.importance import first_rung_costs
from hpsearch.config.loading import load_config
from hpsearch.core.errors import ConfigError
from hpsearch.core.records import TrialStatus, rank
from hpsearch.data.stored_arrays import prepared_data
from hpsearch.nn import Network
from hpsearch.nn.metrics import balanced_accuracy, confusion_counts, f1_macro, mae
from hpsearch.search.api import Execution, start_search, stored_config
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

ONE = Execution(workers=1)
TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
PREDICTED = np.array([0, 0, 1, 2, 1, 0, 2, 2, 1, 2])


def test_balanced_accuracy_and_macro_f1_by_hand() -> None:
    counts = confusion_counts(PREDICTED, TRUE, 4)  # class 3 occurs nowhere: it counts in neither mean
    assert counts[:3, :3].tolist() == [[2, 1, 1], [1, 1, 0], [0, 1, 3]]
    # recalls 2/4, 1/2, 3/4
    assert balanced_accuracy(counts) == pytest.approx((2 / 4 + 1 / 2 + 3 / 4) / 3)
    # F1 = 2TP / (2TP + FP + FN): class 0: 4/(4+1+2), class 1: 2/(2+2+1), class 2: 6/(6+1+1)
    assert f1_macro(counts) == pytest.approx((4 / 7 + 2 / 5 + 6 / 8) / 3)
    pack = confusion_counts(np.stack([PREDICTED, TRUE]), TRUE, 4)  # a pack's: each model as alone
    np.testing.assert_array_equal(balanced_accuracy(pack), [balanced_accuracy(counts), 1.0])
    np.testing.assert_array_equal(f1_macro(pack), [f1_macro(counts), 1.0])


def test_the_figures_agree_with_scikit_learn() -> None:
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(20):
        true, predicted = rng.integers(0, 4, 30), rng.integers(0, 4, 30)
        counts = confusion_counts(predicted, true, 5)
        assert balanced_accuracy(counts) == pytest.approx(sklearn.balanced_accuracy_score(true, predicted))
        assert f1_macro(counts) == pytest.approx(sklearn.f1_score(true, predicted, average="macro"))
    predicted, actual = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    assert mae(predicted, actual) == pytest.approx(sklearn.mean_absolute_error(actual, predicted))


def _run(folder: Path, extra: str, model: str = "", **sizes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_tiny_config(folder, **{"trials": 5, "epochs": 3, "samples": 240, **sizes}, extra=extra)
    config.write_text(config.read_text().replace("model:\n", f"model:\n{model}"))
    return start_search(load_config(config), runs_dir=folder / "runs", name="m", execution=ONE).run_dir


def test_trials_rank_by_the_balanced_accuracy_of_their_dev_predictions(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "  metric: balanced_accuracy\n", model="  class_weight: balanced\n")
    with RunStore.open(run_dir, read_only=True) as store:
        trials = store.trials()
        by_epochs = {t.trial: store.epoch_log(t.trial)[0]["dev_balanced_accuracy"][-1] for t in trials}
        best = store.best_model()
        config = stored_config(store)
    assert config.search.metric == "balanced_accuracy" and config.model["class_weight"] == "balanced"
    assert all(t.status is TrialStatus.OK for t in trials)
    ranked = [t.trial for t in rank(trials)]
    assert ranked == sorted(by_epochs, key=lambda trial: (-by_epochs[trial], trial))  # high values first
    assert len(set(by_epochs.values())) > 1
    for t in trials:  # the value ranked by is the metric as a cost; the record carries the metric itself
        assert t.value == -by_epochs[t.trial] == -t.metrics["dev_balanced_accuracy"]
    # importance judges the trials by the same figure
    assert first_rung_costs(trials, "dev_balanced_accuracy", "maximize") == {t: -v for t, v in by_epochs.items()}
    # the best model's dev predictions, scored here by hand, give the figure it was ranked by
    assert best is not None and best[0] == ranked[0]
    data = prepared_data(run_dir, config.resolved_data()).load()
    predicted = Network.load(best[1]).predict(data.X_dev)
    recalls = [np.mean(predicted[data.y_dev == c] == c) for c in np.unique(data.y_dev)]
    assert by_epochs[ranked[0]] == pytest.approx(np.mean(recalls), abs=1e-12)


def test_halving_promotes_by_the_metric(tmp_path: Path) -> None:
    run_dir = _run(
        tmp_path, "  metric: accuracy\n  early_stopping: {method: halving, min_epochs: 1, eta: 2}\n", trials=8, epochs=4
    )
    with RunStore.open(run_dir, read_only=True) as store:
        promotions = store.promotions(0)
        logs = {t.trial: store.epoch_log(t.trial)[0]["dev_accuracy"] for t in store.trials()}
        stored = stored_config(store)
    assert stored.search.rank_by == "best"  # early stopping compares trials by their best so far, as by J
    with RunStore.open(run_dir, read_only=True) as store:  # importance judges each trial by its first-rung accuracy
        costs = first_rung_costs(store.trials(), "dev_accuracy", "maximize")
    assert costs == {trial: -accuracies[0] for trial, accuracies in logs.items()}
    epochs = {0: 1, 1: 2}
    assert {rung for _, rung in promotions} == {0, 1}
    for (_, rung), promoted in promotions.items():
        reached = [trial for trial, accuracies in logs.items() if len(accuracies) >= epochs[rung]]
        best_so_far = {trial: max(logs[trial][: epochs[rung]]) for trial in reached}
        by_hand = sorted(reached, key=lambda trial: (-best_so_far[trial], trial))
        assert sorted(promoted) == sorted(by_hand[: len(promoted)]), rung


def test_rank_by_best_ranks_by_the_best_epoch_of_the_metric_and_keeps_its_weights(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "  metric: f1_macro\n  rank_by: best\n", trials=4, epochs=6)
    with RunStore.open(run_dir, read_only=True) as store:
        trials = rank(store.trials())
        best = store.best_model()
        config = stored_config(store)
    for t in trials:
        f1 = t.history["dev_f1_macro"]
        assert t.value == -max(f1) and t.best_epoch == f1.index(max(f1))  # the earliest of equal bests
        assert t.best_dev_cost == t.history["dev_cost"][t.best_epoch]
        assert t.metrics["dev_f1_macro"] == max(f1)  # the figure shown is the one ranked by
    assert [t.value for t in trials] == sorted(t.value for t in trials)  # the highest best F1 first
    data = prepared_data(run_dir, config.resolved_data()).load()
    predicted = Network.load(best[1]).predict(data.X_dev)  # the weights of the best epoch, scored here by hand
    counts = np.array([[np.sum((data.y_dev == a) & (predicted == b)) for b in range(3)] for a in range(3)])
    f1s = [
        2 * counts[c, c] / (counts[c].sum() + counts[:, c].sum())
        for c in range(3)
        if counts[c].sum() + counts[:, c].sum()
    ]
    assert -trials[0].value == pytest.approx(np.mean(f1s), abs=1e-12)


def test_a_run_without_the_key_ranks_by_j_and_stores_no_key(tmp_path: Path) -> None:
    config = load_config(write_tiny_config(tmp_path))
    assert config.search.metric == "cost"
    assert "metric" not in config.to_dict()["search"]  # a stored config without it means cost, as before


@pytest.mark.parametrize(
    ("extra", "model", "words"),
    [("  metric: r2\n", "", "one of cost, accuracy"), ("", "  class_weight: heavy\n", "class_weight")],
)
def test_bad_settings_refuse_at_load(tmp_path: Path, extra: str, model: str, words: str) -> None:
    config = write_tiny_config(tmp_path, extra=extra)
    config.write_text(config.read_text().replace("model:\n", f"model:\n{model}"))
    with pytest.raises(ConfigError, match=words):
        load_config(config)


def test_an_own_objective_refuses_search_metric(tmp_path: Path) -> None:
    path = tmp_path / "own.yaml"
    path.write_text(
        "objective: {command: echo 1, metric: loss}\nspace:\n  x: {scale: uniform, low: 0, high: 1}\n"
        "search: {trials: 2, metric: accuracy}\n"
    )
    with pytest.raises(ConfigError, match="objective.metric"):
        load_config(path)


@pytest.mark.parametrize(
    ("extra", "model", "words"),
    [
        ("  metric: accuracy\n", "", "accuracy is for a classification"),
        ("", "  class_weight: balanced\n", "regression"),
    ],
)
def test_a_regression_refuses_class_figures_before_a_run_exists(
    tmp_path: Path, extra: str, model: str, words: str
) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    rows = "\n".join(",".join(f"{v:.4f}" for v in (*x, x.sum())) for x in X)
    (tmp_path / "lin.csv").write_text("a,b,c,y\n" + rows + "\n")
    config = tmp_path / "lin.yaml"
    config.write_text(
        f"data: {{path: lin.csv, label: y}}\nmodel:\n  epochs: 1\n{model}space:\n"
        f"  learning_rate: {{scale: log, low: 1.0e-3, high: 1.0e-1}}\nsearch:\n  trials: 2\n{extra}"
    )
    with pytest.raises(ConfigError, match=words) as caught:
        start_search(load_config(config), runs_dir=tmp_path / "runs", name="r", execution=ONE)
    assert len(str(caught.value).splitlines()) == 1
    assert not (tmp_path / "runs" / "r").exists()


def test_a_run_ranked_by_macro_f1_with_weights_is_the_same_with_and_without_stacking(tmp_path: Path) -> None:
    from tests.test_stacked_search import HALVING, export, write_config

    runs, extra = tmp_path / "runs", "  metric: f1_macro\n" + HALVING
    made = {}
    for stack in ("off", "auto"):
        path = write_config(tmp_path, stack, epochs=3, extra=extra)
        path.write_text(path.read_text().replace("model: {", "model: {class_weight: balanced, "))
        made[stack] = start_search(load_config(path), runs_dir=runs, name=stack, execution=ONE).run_dir
    rows = export(made["auto"], tmp_path / "auto.csv")
    assert rows == export(made["off"], tmp_path / "off.csv")
    assert rows[0]["class_weight"] == "balanced" and rows[0]["dev_f1_macro"]
