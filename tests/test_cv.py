"""data.cv: K (issue 30): k-fold cross-validation of every trial.

The folds are stratified, disjoint, seeded and cover exactly the non-test rows; each fold is prepared on its
own training rows; a trial's J is the mean of K fits done by hand on the folds' arrays with the folds' seeds;
the run is bit for bit the same whatever the workers and stacking; the keys that cannot go with cv refuse in
one line; show and export give the folds' spread.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.core.errors import ConfigError
from hpsearch.data.datasets import DataConfig, load_dataset
from hpsearch.data.stored_arrays import DATA_DIR, PreparedData, prepared_files, write_prepared
from hpsearch.execution.segments import fold_seed
from hpsearch.nn import Network
from hpsearch.nn.hyperparams import ModelConfig, engine_values
from hpsearch.nn.train import train
from hpsearch.search.api import Execution, start_search
from hpsearch.storage.run_store import RunStore
from tests.kill_resume import fingerprint

sklearn = pytest.importorskip("sklearn")

CONFIG = """\
name: cv
data: {{dataset: iris, cv: {cv}, test_fraction: 0.2, seed: 3}}
model: {{hidden: [6], epochs: 6, optimizer: adam}}
space:
  learning_rate: {{scale: log, low: 3.0e-3, high: 3.0e-1}}
  batch_size: {{choice: [16, 32]}}
search: {{trials: {trials}, seed: 5, workers: 1{search}}}
"""


def write(folder: Path, *, cv: int = 3, trials: int = 4, search: str = "") -> Path:
    path = folder / "cv.yaml"
    path.write_text(CONFIG.format(cv=cv, trials=trials, search=search))
    return path


def iris_labels() -> np.ndarray:
    from sklearn.datasets import load_iris

    return load_iris().target


def test_folds_are_stratified_disjoint_seeded_and_cover_the_non_test_rows() -> None:
    data = load_dataset(DataConfig(dataset="iris", cv=4, test_fraction=0.2, seed=3))
    plain = load_dataset(DataConfig(dataset="iris", test_fraction=0.2, seed=3))
    y, index = iris_labels(), data.fold_index
    assert index.shape == y.shape
    # the test part is the one a run without cv splits off, and no fold holds one of its rows
    test = index == -1
    assert test.sum() == len(plain.y_test) == len(data.y_test) == 30
    np.testing.assert_array_equal(y[test], plain.y_test)
    assert set(np.unique(index[~test])) == {0, 1, 2, 3}  # every non-test row in exactly one fold
    # stratified: each class's rows spread over the folds, counts differing by at most one
    for c in range(3):
        counts = np.bincount(index[(y == c) & ~test], minlength=4)
        assert counts.max() - counts.min() <= 1
    # fold k is dev in its own Dataset, its training rows the other folds, prepared on those rows alone
    folds = [data, *data.folds]
    assert len(folds) == 4
    for k, fold in enumerate(folds):
        np.testing.assert_array_equal(fold.y_dev, y[index == k])
        np.testing.assert_array_equal(fold.y_train, y[(index != k) & ~test])
        np.testing.assert_allclose(fold.X_train.mean(axis=0), 0, atol=1e-12)  # standardized on its train rows
        assert np.abs(fold.X_dev.mean(axis=0)).max() > 1e-6  # ... not on its dev rows
    # seeded: the same seed deals the same folds, another seed others
    again = load_dataset(DataConfig(dataset="iris", cv=4, test_fraction=0.2, seed=3))
    other = load_dataset(DataConfig(dataset="iris", cv=4, test_fraction=0.2, seed=4))
    np.testing.assert_array_equal(again.fold_index, index)
    assert not np.array_equal(other.fold_index, index)


def test_a_regression_is_dealt_into_folds_at_random(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    (tmp_path / "lin.csv").write_text("x,y\n" + "".join(f"{a},{2 * a + 1}\n" for a in x))
    data = load_dataset(DataConfig(path=str(tmp_path / "lin.csv"), label="y", cv=5))
    assert np.bincount(data.fold_index).tolist() == [10] * 5
    assert data.task == "regression" and len(data.folds) == 4


def test_a_trial_j_is_the_mean_of_k_fits_by_hand(tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    run = start_search(config, runs_dir=tmp_path / "runs", name="cv").run_dir
    data = load_dataset(config.resolved_data())
    folds = [data, *data.folds]
    with RunStore.open(run, read_only=True) as store:
        trials = store.trials()
    assert len(trials) == 4
    for trial in trials:
        seeds = [fold_seed(trial.seed, k) for k in range(3)]
        assert len(set(seeds)) == 3 and trial.seed not in seeds  # each fold its own seed
        fits = []
        for k, fold in enumerate(folds):
            model = ModelConfig.from_dict({**config.model, **engine_values(trial.params), "seed": seeds[k]})
            fits.append(train(model, fold)[0])
        assert trial.dev_cost == pytest.approx(np.mean([f.dev_cost for f in fits]), rel=1e-12)
        assert trial.train_cost == pytest.approx(np.mean([f.train_cost for f in fits]), rel=1e-12)
        assert trial.dev_accuracy == pytest.approx(np.mean([f.dev_accuracy for f in fits]), rel=1e-12)
        assert trial.value == trial.dev_cost  # ranked by the mean
        for k, fit in enumerate(fits):
            assert trial.metrics[f"cv_dev_cost_{k}"] == fit.dev_cost
        assert trial.metrics["cv_folds"] == 3
        assert trial.metrics["cv_std"] == pytest.approx(np.std([f.dev_cost for f in fits]), rel=1e-9)
    # the folds are stored with the run, so resume and confirm see the same ones
    stored = PreparedData(str(run / DATA_DIR))
    assert stored.n_folds() == 3
    np.testing.assert_array_equal(stored.fold_index(), data.fold_index)
    np.testing.assert_array_equal(stored.fold(2).load().X_dev, data.folds[1].X_dev)
    assert stored.test_rows() is not None and len(stored.test_rows()[1]) == 30


def test_a_refit_learns_its_preparation_on_every_non_test_row(tmp_path: Path) -> None:
    """With cv the refit trains on every non-test row and standardizes by all of them, not by fold 0's training
    rows; the test part scores it prepared the same way: the test J of the refit network on the raw test rows
    standardized by hand."""
    from sklearn.datasets import load_iris

    run = start_search(load_config(write(tmp_path, search=", refit: true")), runs_dir=tmp_path / "runs").run_dir
    X, y = load_iris(return_X_y=True)
    test = PreparedData(str(run / DATA_DIR)).fold_index() == -1
    mean, scale = X[~test].mean(axis=0), X[~test].std(axis=0)
    with np.load(run / "models" / "refit.npz") as saved:
        np.testing.assert_allclose(saved["prep_mean"], mean, rtol=1e-12)
        np.testing.assert_allclose(saved["prep_scale"], scale, rtol=1e-12)
    assert json.loads((run / "models" / "refit.json").read_text())["rows"] == (~test).sum() == 120
    figures = json.loads((run / "models" / "test.json").read_text())
    by_hand = Network.load(run / "models" / "refit.npz").metrics((X[test] - mean) / scale, y[test])
    assert figures["refit"] is True and figures["rows"] == 30
    assert figures["cost"] == pytest.approx(by_hand["dev_cost"], rel=1e-9)
    assert figures["accuracy"] == pytest.approx(by_hand["dev_accuracy"])


def test_a_run_cross_validated_before_the_refit_rows_refits_as_it_did(tmp_path: Path) -> None:
    """A cv run stored without ``data/all/`` (before it existed) refits on fold 0's data, and its digests list
    none of ``all/``; a run stored now keeps ``all/`` (its test part too) under the digest check."""
    data = load_dataset(DataConfig(dataset="iris", cv=3, test_fraction=0.2, seed=3))
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = write_prepared(tmp_path / "old", dataclasses.replace(data, all_rows=None))
    assert old.refit_data() == old and not [f for f in prepared_files(tmp_path / "old") if "/all/" in f]
    new = write_prepared(tmp_path / "new", data)
    assert Path(new.refit_data().folder) == tmp_path / "new" / DATA_DIR / "all"
    assert f"{DATA_DIR}/all/X_test.npy" in prepared_files(tmp_path / "new")
    np.testing.assert_array_equal(new.refit_data().test_rows()[1], new.test_rows()[1])  # the same test rows


def test_cv_is_bit_identical_whatever_the_workers_and_stacking(tmp_path: Path) -> None:
    runs = []
    for workers, stack in ((1, "off"), (2, "auto"), (2, "off")):
        folder = tmp_path / f"w{workers}{stack}"
        folder.mkdir()
        config = load_config(write(folder, trials=6, search=f", stack: {stack}"))
        run = start_search(config, runs_dir=folder / "runs", name="cv", execution=Execution(workers=workers))
        runs.append(fingerprint(run.run_dir))
    assert runs[0] == runs[1] == runs[2]


def test_a_confirm_repeat_is_k_folds_with_its_fresh_seed(tmp_path: Path) -> None:
    config = write(tmp_path, trials=3)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", str(config), "--runs-dir", str(runs), "-q"])
    assert result.exit_code == 0, result.output
    confirmed = CliRunner().invoke(cli, ["confirm", str(runs / "cv"), "--top", "1", "--seeds", "2"])
    assert confirmed.exit_code == 0, confirmed.output
    with RunStore.open(runs / "cv", read_only=True) as store:
        repeats, trials = store.repeats(), store.trials()
    assert len(repeats) == 2
    loaded = load_config(config)
    data = load_dataset(loaded.resolved_data())
    for repeat in repeats:  # a repeat's J: the mean of its K folds, each with a seed of its fresh seed's
        trial = next(t for t in trials if t.trial == repeat.trial)
        fits = [
            train(
                ModelConfig.from_dict(
                    {**loaded.model, **engine_values(trial.params), "seed": fold_seed(repeat.seed, k)}
                ),
                fold,
            )[0].dev_cost
            for k, fold in enumerate([data, *data.folds])
        ]
        assert repeat.dev_cost == pytest.approx(np.mean(fits), rel=1e-12)
    # the median repeat, trained again fold by fold, matched its recorded mean: it is the saved model
    assert "not replaced" not in confirmed.output
    assert store_confirmed(runs / "cv") is not None


def store_confirmed(run: Path) -> tuple[int, int] | None:
    with RunStore.open(run, read_only=True) as store:
        return store.confirmed_model()


def test_show_and_export_give_the_folds_spread(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert CliRunner().invoke(cli, ["run", str(write(tmp_path)), "--runs-dir", str(runs), "-q"]).exit_code == 0
    shown = CliRunner().invoke(cli, ["show", str(runs / "cv")], env={"COLUMNS": "160"})
    assert shown.exit_code == 0 and "cv std" in shown.output
    exported = CliRunner().invoke(cli, ["export", str(runs / "cv"), "--json", "-"])
    assert exported.exit_code == 0, exported.output
    rows = json.loads(exported.output)
    rows = rows["trials"] if isinstance(rows, dict) else rows
    for row in rows:
        folds = [row[f"cv_dev_cost_{k}"] for k in range(3)]
        assert row["cv_folds"] == 3
        assert row["dev_cost"] == pytest.approx(math.fsum(folds) / 3, rel=1e-12)
        assert row["cv_std"] == pytest.approx(float(np.std(folds)), rel=1e-9)


@pytest.mark.parametrize(
    ("data", "search", "key", "words"),
    [
        ("cv: 3, dev_fraction: 0.3", "", "data.dev_fraction", "has no effect with cv"),
        ("cv: 1", "", "data.cv", ""),
        ("cv: 21", "", "data.cv", ""),
        ("cv: 3", ", early_stopping: {method: halving, min_epochs: 1}", "data.cv", "early_stopping"),
        ("cv: 3", ", metric: balanced_accuracy", "data.cv", "search.metric"),
    ],
)
def test_what_cannot_go_with_cv_refuses_in_one_line(tmp_path: Path, data: str, search: str, key: str, words: str):
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"name: bad\ndata: {{dataset: iris, {data}}}\nmodel: {{epochs: 2}}\n"
        f"space:\n  learning_rate: {{scale: log, low: 1.0e-3, high: 1.0e-1}}\nsearch: {{trials: 2{search}}}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert len(error.value.problems) == 1
    assert error.value.problems[0].key == key and words in str(error.value)


def test_babysit_refuses_cv_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["babysit", str(write(tmp_path)), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "data.cv" in result.output and len(result.output.strip().splitlines()) == 1


def test_too_few_rows_of_a_class_for_the_folds_refuses_naming_it() -> None:
    from hpsearch.core.errors import DataError

    with pytest.raises(DataError, match="fewer than data.cv 20 folds"):
        load_dataset(DataConfig(dataset="blobs", samples=30, classes=3, cv=20))


def test_train_says_it_trains_one_fold(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", str(write(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "data.cv: train trains one model, on fold 0 of the 3 folds" in result.output


def test_cv_on_dask_is_the_same_run_bit_for_bit(tmp_path: Path) -> None:
    """A dask worker cannot see the run folder: it gets every fold's arrays in memory, and trains the same bits."""
    distributed = pytest.importorskip("dask.distributed")
    config = load_config(write(tmp_path))
    local = start_search(config, runs_dir=tmp_path / "runs", name="loky").run_dir
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        on_dask = start_search(
            config,
            runs_dir=tmp_path / "runs",
            name="dask",
            execution=Execution(backend="dask", scheduler=cluster.scheduler_address),
        ).run_dir
    assert fingerprint(on_dask) == fingerprint(local)


def test_a_dry_run_counts_the_fold_models(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(write(tmp_path)), "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "of 12 fold models (3 a trial, data.cv)" in result.output


def test_a_changed_fold_file_is_refused_before_training(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert CliRunner().invoke(cli, ["run", str(write(tmp_path)), "--runs-dir", str(runs), "-q"]).exit_code == 0
    path = runs / "cv" / DATA_DIR / "fold2" / "X_train.npy"
    arrays = np.load(path)
    np.save(path, arrays + 1.0)
    resumed = CliRunner().invoke(cli, ["resume", str(runs / "cv"), "-q"])
    assert resumed.exit_code != 0 and "fold2/X_train.npy" in resumed.output, resumed.output
