"""Dataset loading: generated, scikit-learn and file sets; splits; standardization; errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpsearch.core.errors import ConfigError, DataError, MissingDependencyError
from hpsearch.data.bundled import load_bundled
from hpsearch.data.data_config import DATASETS, SKLEARN_SETS, DataConfig, validate_data_config
from hpsearch.data.datasets import load_dataset
from hpsearch.data.generated import make_blobs, make_spirals


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def three_class_csv(path: Path, counts=(50, 30, 20), seed=0) -> tuple[Path, np.ndarray, np.ndarray]:
    """A CSV with string labels (label column in the middle); returns it, its X and its labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["cat", "ant", "bee"], counts)
    X = rng.normal(size=(len(labels), 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -3.0]
    rows = [f"{a!r},{b!r},{lab},{c!r}" for (a, b, c), lab in zip(X.tolist(), labels)]
    return write_csv(path, "f1,f2,animal,f3", rows), X, labels


def load_error(tmp_path: Path, **config) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(**config), base_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- generated and bundled sets -------------------------------------------------------------


def test_spirals_defaults_give_balanced_2d_classes_with_a_20_percent_dev_split():
    data = load_dataset(DataConfig(dataset="spirals"))
    assert data.name == "spirals"
    assert data.X_train.shape == (2400, 2) and data.X_dev.shape == (600, 2)
    assert data.class_names == ("0", "1", "2")
    assert np.bincount(data.y_train).tolist() == [800, 800, 800]
    assert np.bincount(data.y_dev).tolist() == [200, 200, 200]


def test_make_spirals_arms_stay_in_the_unit_disc_and_sizes_differ_by_at_most_one():
    X, y = make_spirals(samples=100, classes=3, noise=0.3, rng=np.random.default_rng(1))
    assert X.shape == (100, 2) and y.dtype == np.int64
    assert sorted(np.bincount(y).tolist()) == [33, 33, 34]
    assert np.all(np.hypot(X[:, 0], X[:, 1]) < 1.0)


def test_make_spirals_without_noise_puts_each_arm_on_its_own_rotation():
    # With no noise, arm k is arm 0 rotated by 2*pi*k/classes (same radii, same order).
    X, y = make_spirals(samples=40, classes=2, noise=0.0, rng=np.random.default_rng(0))
    radius = np.hypot(X[:, 0], X[:, 1])
    arm0, arm1 = X[y == 0][np.argsort(radius[y == 0])], X[y == 1][np.argsort(radius[y == 1])]
    np.testing.assert_allclose(arm1, -arm0, atol=1e-12)  # rotation by pi


def test_make_blobs_without_noise_puts_every_point_on_its_class_center():
    X, y = make_blobs(samples=60, classes=4, features=5, noise=0.0, rng=np.random.default_rng(3))
    assert X.shape == (60, 5) and np.bincount(y).tolist() == [15] * 4
    for k in range(4):
        assert len(np.unique(X[y == k], axis=0)) == 1
    assert len(np.unique(X, axis=0)) == 4


def test_generated_set_keys_change_the_data():
    data = load_dataset(DataConfig(dataset="blobs", samples=200, classes=4, features=7, noise=0.5, dev_fraction=0.25))
    assert data.n_features == 7 and data.n_classes == 4
    # 50 rows per class; 12.5 of each round up to 13 dev rows.
    assert np.bincount(data.y_dev).tolist() == [13] * 4
    assert np.bincount(data.y_train).tolist() == [37] * 4


@pytest.mark.parametrize(
    "name, rows, features, classes",
    [("iris", 150, 4, 3), ("wine", 178, 13, 3), ("breast_cancer", 569, 30, 2), ("digits", 1797, 64, 10)],
)
def test_scikit_learn_bundled_sets(name, rows, features, classes):
    data = load_dataset(DataConfig(dataset=name))
    assert len(data.y_train) + len(data.y_dev) == rows
    assert data.n_features == features and data.n_classes == classes
    assert set(data.y_dev.tolist()) == set(range(classes))


@pytest.mark.parametrize("name", SKLEARN_SETS)
def test_bundled_sets_are_read_without_scikit_learn_and_equal_its_loaders(name):
    """The files are parsed directly (importing sklearn costs seconds of start-up); the arrays must equal its own."""
    code = (
        f"import sys; from hpsearch.data.bundled import load_bundled as L; L({name!r}); print('sklearn' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = getattr(sklearn_datasets, f"load_{name}")()
    X, y, classes, features = load_bundled(name)
    assert X.dtype == np.float64 and y.dtype == np.int64 and X.flags.c_contiguous
    assert np.array_equal(X, bunch.data) and np.array_equal(y, bunch.target)
    assert X.tobytes() == np.ascontiguousarray(bunch.data, dtype=np.float64).tobytes()  # bit for bit, -0.0 included
    assert classes == tuple(str(c) for c in bunch.target_names)
    assert features == tuple(str(c) for c in bunch.feature_names)


def test_iris_class_names_are_the_species():
    assert load_dataset(DataConfig(dataset="iris")).class_names == ("setosa", "versicolor", "virginica")


def test_scikit_learn_sets_without_scikit_learn_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn...` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(
        MissingDependencyError, match=r"dataset 'digits' needs scikit-learn.*pip install 'hpsearch\[sklearn\]'"
    ):
        load_dataset(DataConfig(dataset="digits"))
    load_dataset(DataConfig(dataset="spirals"))  # generated sets need nothing


def test_every_built_in_name_loads_as_float64_c_contiguous_and_int64():
    for name in DATASETS:
        data = load_dataset(DataConfig(dataset=name))
        for X in (data.X_train, data.X_dev):
            assert X.dtype == np.float64 and X.flags.c_contiguous
        for y in (data.y_train, data.y_dev):
            assert y.dtype == np.int64 and y.flags.c_contiguous


# --- split, seed, standardization ------------------------------------------------------------


def test_dev_split_is_stratified_and_keeps_class_proportions(tmp_path):
    path, _, _ = three_class_csv(tmp_path / "animals.csv", counts=(50, 30, 20))
    data = load_dataset(DataConfig(path=str(path), label="animal", dev_fraction=0.2))
    # Class ids follow sorted labels: ant (30 rows), bee (20), cat (50).
    assert np.bincount(data.y_dev).tolist() == [6, 4, 10]
    assert np.bincount(data.y_train).tolist() == [24, 16, 40]


def test_split_and_generation_are_determined_by_the_seed():
    a, b = (load_dataset(DataConfig(dataset="spirals", seed=5)) for _ in range(2))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_dev, b.y_dev)
    c = load_dataset(DataConfig(dataset="spirals", seed=6))
    assert not np.array_equal(a.X_train, c.X_train)


def test_dev_rows_depend_on_the_seed_for_a_file(tmp_path):
    path, _, _ = three_class_csv(tmp_path / "animals.csv")
    first, again, other = (load_dataset(DataConfig(path=str(path), label="animal", seed=s)) for s in (1, 1, 2))
    np.testing.assert_array_equal(first.X_dev, again.X_dev)
    assert not np.array_equal(first.X_dev, other.X_dev)


def test_standardization_is_fitted_on_the_training_part_only(tmp_path):
    path, _, _ = three_class_csv(tmp_path / "animals.csv")
    data = load_dataset(DataConfig(path=str(path), label="animal"))
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1.0)
    assert np.all(np.abs(data.X_dev.mean(axis=0)) > 1e-6)


def test_dev_file_is_scaled_with_the_training_files_mean_and_std(tmp_path):
    train, X_train, _ = three_class_csv(tmp_path / "train.csv", seed=0)
    dev, X_dev, labels_dev = three_class_csv(tmp_path / "dev.csv", counts=(4, 3, 2), seed=1)
    data = load_dataset(DataConfig(path="train.csv", label="animal", dev_path="dev.csv"), base_dir=tmp_path)
    expected = (X_dev - X_train.mean(axis=0)) / X_train.std(axis=0)
    np.testing.assert_allclose(data.X_dev, expected, rtol=1e-12, atol=1e-12)
    names = np.array(data.class_names)
    assert names[data.y_dev].tolist() == labels_dev.tolist()
    assert len(data.y_train) == 100


def test_constant_feature_becomes_zeros_not_nan(tmp_path):
    rows = [f"7,{i},{i % 2}" for i in range(20)]
    data = load_dataset(DataConfig(path=str(write_csv(tmp_path / "c.csv", "const,x,y", rows)), label="y"))
    assert np.all(data.X_train[:, 0] == 0.0) and np.all(data.X_dev[:, 0] == 0.0)


# --- files -----------------------------------------------------------------------------------


def test_string_labels_map_to_sorted_class_ids(tmp_path):
    # Each row's feature encodes its label (ant < bee < cat), so ids can be checked row by row.
    code = {"cat": 30, "ant": 10, "bee": 20}
    rows = [f'{code[label]},"{label}"' for label in ["cat", "ant", "bee", "cat"] * 5]
    data = load_dataset(DataConfig(path=str(write_csv(tmp_path / "a.csv", "code,animal", rows)), label="animal"))
    assert data.name == "a.csv"
    assert data.class_names == ("ant", "bee", "cat")
    for X, y in ((data.X_train, data.y_train), (data.X_dev, data.y_dev)):
        levels = np.unique(data.X_train[:, 0])  # the three standardized codes, ascending
        assert np.searchsorted(levels, X[:, 0]).tolist() == y.tolist()


def test_numeric_labels_sort_numerically_and_keep_their_names(tmp_path):
    rows = [f"{3 * i},{lab}" for i, lab in enumerate(["10", "2", "1", "10", "2", "1"] * 3)]
    data = load_dataset(
        DataConfig(path=str(write_csv(tmp_path / "n.csv", "x,digit", rows)), label="digit", dev_fraction=0.34)
    )
    assert data.class_names == ("1", "2", "10")


def test_relative_paths_start_at_base_dir(tmp_path):
    (tmp_path / "sub").mkdir()
    three_class_csv(tmp_path / "sub" / "animals.csv")
    data = load_dataset(DataConfig(path="sub/animals.csv", label="animal"), base_dir=tmp_path)
    assert len(data.y_train) + len(data.y_dev) == 100


def test_npz_with_string_labels_and_an_npz_dev_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    y = np.array(["no", "yes"] * 15)
    np.savez(tmp_path / "train.npz", X=X, y=y)
    np.savez(tmp_path / "dev.npz", X=X[:5], y=y[:5])
    data = load_dataset(DataConfig(path="train.npz", dev_path="dev.npz"), base_dir=tmp_path)
    assert data.class_names == ("no", "yes")
    assert data.y_dev.tolist() == [0, 1, 0, 1, 0]
    np.testing.assert_allclose(data.X_dev, (X[:5] - X.mean(axis=0)) / X.std(axis=0))


def test_npz_with_integer_labels_splits_every_class(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.arange(40.0).reshape(20, 2), y=np.arange(20) % 4)
    data = load_dataset(DataConfig(path=str(tmp_path / "d.npz"), dev_fraction=0.4))
    assert data.class_names == ("0", "1", "2", "3")
    assert np.bincount(data.y_dev).tolist() == [2, 2, 2, 2]


# --- bad data --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    message = load_error(tmp_path, path="nowhere.csv", label="y")
    assert str(tmp_path / "nowhere.csv") in message and "file not found" in message


def test_missing_label_column_lists_the_columns(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,target", ["1,2,0", "3,4,1"])
    message = load_error(tmp_path, path="d.csv", label="class")
    assert "d.csv" in message and "no label column 'class'" in message and "a, b, target" in message


def test_non_numeric_feature_names_the_column_and_line(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,y", ["1,2,0", "3,4,1", "5,oops,0"])
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "d.csv" in message and "'oops'" in message and "column 'b'" in message and "line 4" in message


def test_non_numeric_feature_is_found_when_labels_are_text_too(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,y", ["1,2,no", "3,x,yes"])
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "'x'" in message and "column 'b'" in message and "line 3" in message


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_infinite_feature_names_the_column_and_line(tmp_path, value):
    write_csv(tmp_path / "d.csv", "a,b,y", ["1,2,0", "", f"3,{value},1"])  # blank line 3 is skipped
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "d.csv" in message and value in message and "column 'b'" in message and "line 4" in message


def test_empty_feature_value_is_reported_as_a_missing_value(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,y", ["1,2,0", ",4,1"])
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "missing values in column 'a' (1 row, first at line 3)" in message and "data.missing: drop" in message


def test_a_row_with_a_missing_label_value_is_dropped_with_a_notice(tmp_path):
    # Issue 30: a row without its label is dropped and counted (it used to be refused).
    write_csv(tmp_path / "d.csv", "a,y", ["1,cat", "2,", "3,dog", "4,cat", "5,dog", "6,cat", "7,dog"])
    data = load_dataset(DataConfig(path="d.csv", label="y", dev_fraction=0.34), base_dir=tmp_path)
    assert len(data.y_train) + len(data.y_dev) == 6
    assert data.notices == (f"{tmp_path / 'd.csv'}: dropped 1 row of 7 without a label 'y'",)


def test_row_with_too_few_fields(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,y", ["1,2,0", "3,1"])
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "line 3 has 2 fields but the header has 3" in message


def test_header_without_rows(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,y", [])
    assert "no data rows" in load_error(tmp_path, path="d.csv", label="y")


def test_one_class_only(tmp_path):
    write_csv(tmp_path / "d.csv", "a,y", [f"{2 * i},spam" for i in range(10)])
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "d.csv" in message and "'spam'" in message and "at least 2 classes" in message


def test_fewer_rows_than_a_split_needs(tmp_path):
    write_csv(tmp_path / "d.csv", "a,y", ["1,a", "2,b", "3,c"])
    message = load_error(tmp_path, path="d.csv", label="y")
    assert "d.csv" in message and "3 rows for 3 classes" in message


def test_split_that_leaves_a_class_empty_in_dev_suggests_a_larger_fraction(tmp_path):
    write_csv(tmp_path / "d.csv", "a,y", [f"{i},big" for i in range(20)] + ["1,small", "2,small"])
    message = load_error(tmp_path, path="d.csv", label="y", dev_fraction=0.2)
    assert "d.csv" in message and "class 'small' has 2 rows" in message
    assert "empty in dev" in message and "larger dev_fraction or more rows" in message


def test_split_that_leaves_a_class_empty_in_train(tmp_path):
    write_csv(tmp_path / "d.csv", "a,y", [f"{i},big" for i in range(20)] + ["1,small", "2,small"])
    message = load_error(tmp_path, path="d.csv", label="y", dev_fraction=0.9)
    assert "class 'small'" in message and "empty in train" in message


def test_npz_without_y_lists_what_it_holds(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), labels=np.arange(4))
    message = load_error(tmp_path, path="d.npz")
    assert "d.npz" in message and "no array named y" in message and "X, labels" in message


def test_npz_shape_mismatch(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.arange(5))
    message = load_error(tmp_path, path="d.npz")
    assert "d.npz" in message and "X has 4 rows but y has 5" in message


def test_npz_nan_names_the_cell(tmp_path):
    X = np.ones((6, 3))
    X[4, 2] = np.nan
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(6) % 2)
    assert "missing values in column 'X[:, 2]' (1 row, first at row 4)" in load_error(tmp_path, path="d.npz")


def test_npz_one_dimensional_X(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros(4), y=np.arange(4))
    assert "X must be 2-D" in load_error(tmp_path, path="d.npz")


def test_file_that_is_not_an_npz_archive(tmp_path):
    (tmp_path / "d.npz").write_text("a,b\n1,2\n")
    message = load_error(tmp_path, path="d.npz")
    assert "d.npz" in message and "not a NumPy .npz archive" in message


def test_dev_file_with_an_unknown_class(tmp_path):
    three_class_csv(tmp_path / "train.csv")
    write_csv(tmp_path / "dev.csv", "f1,f2,animal,f3", ["1,2,cat,3", "1,2,dog,3"])
    message = load_error(tmp_path, path="train.csv", label="animal", dev_path="dev.csv")
    assert "dev.csv" in message and "'dog' is not among the training classes (ant, bee, cat)" in message


def test_dev_file_with_other_feature_columns(tmp_path):
    three_class_csv(tmp_path / "train.csv")
    write_csv(tmp_path / "dev.csv", "f1,animal,f4", ["1,cat,3"])
    message = load_error(tmp_path, path="train.csv", label="animal", dev_path="dev.csv")
    assert "dev.csv" in message and "missing: f2, f3" in message and "extra: f4" in message


def test_dev_npz_with_another_feature_count(tmp_path):
    np.savez(tmp_path / "train.npz", X=np.arange(40.0).reshape(20, 2), y=np.arange(20) % 2)
    np.savez(tmp_path / "dev.npz", X=np.zeros((3, 5)), y=np.arange(3) % 2)
    message = load_error(tmp_path, path="train.npz", dev_path="dev.npz")
    assert "dev.npz" in message and "X has 5 features but the training file has 2" in message


def test_load_dataset_rejects_an_invalid_config_built_in_code():
    with pytest.raises(ConfigError, match="data.dataset"):
        load_dataset(DataConfig(dataset="mnist"))


# --- validate_data_config ----------------------------------------------------------------------


def test_valid_sections_become_configs():
    config, problems = validate_data_config({"dataset": "blobs", "samples": 500, "features": 3, "noise": 2, "seed": 4})
    assert problems == []
    assert config == DataConfig(dataset="blobs", samples=500, features=3, noise=2.0, seed=4)
    config, problems = validate_data_config({"path": "x.csv", "label": "y", "dev_path": "v.csv"})
    assert problems == [] and config.dev_path == "v.csv"


def test_every_problem_is_reported_at_once():
    raw = {"dataset": "spirals", "path": "train.csv", "dev_fraction": 1.5, "nosie": 0.1, "samples": 2, "classes": 4}
    config, problems = validate_data_config(raw)
    assert config is None
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {"data", "data.dev_fraction", "data.nosie", "data.label", "data.samples"}
    assert "both dataset and path" in by_key["data"].message
    assert "0 < value < 1" in by_key["data.dev_fraction"].message
    assert by_key["data.nosie"].fix == "did you mean 'noise'?"
    assert "required for a CSV file" in by_key["data.label"].message
    assert "at least classes (4)" in by_key["data.samples"].message


@pytest.mark.parametrize(
    "raw, key, words",
    [
        ({}, "data", "needs a dataset or a path"),
        ({"dataset": "mnist"}, "data.dataset", "one of spirals, blobs"),
        ({"dataset": "spirals", "classes": 1}, "data.classes", "2 <= value"),
        ({"dataset": "spirals", "noise": -0.1}, "data.noise", "0 <= value"),
        ({"dataset": "spirals", "samples": 2.5}, "data.samples", "an integer"),
        ({"dataset": "spirals", "seed": True}, "data.seed", "an integer"),
        ({"dataset": "spirals", "features": 3}, "data.features", "only to the generated sets (blobs)"),
        ({"dataset": "iris", "samples": 100}, "data.samples", "only to the generated sets"),
        ({"dataset": "iris", "label": "y"}, "data.label", "only to a file given by path"),
        ({"path": "data.txt"}, "data.path", "must be a .csv or .npz file"),
        ({"path": "d.npz", "label": "y"}, "data.label", "only to CSV files"),
        ({"path": "d.csv", "label": ""}, "data.label", "must not be empty"),
        ({"path": "d.csv", "label": "y", "dev_path": "v.npz"}, "data.dev_path", "must be a .csv file"),
        ({"path": "d.npz", "dev_path": "v.npz", "dev_fraction": 0.3}, "data.dev_fraction", "no effect with dev_path"),
    ],
)
def test_single_problems_name_their_key(raw, key, words):
    config, problems = validate_data_config(raw)
    assert config is None
    assert [p.key for p in problems] == [key]
    assert words in problems[0].message


def test_a_section_that_is_not_a_mapping():
    config, problems = validate_data_config(["spirals"], prefix="train.data")
    assert config is None and problems[0].key == "train.data"


def test_validation_never_reads_the_disk(tmp_path):
    config, problems = validate_data_config({"path": str(tmp_path / "absent.csv"), "label": "y"})
    assert problems == [] and config.path.endswith("absent.csv")
