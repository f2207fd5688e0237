"""Real data as people have it: index columns, missing values, text columns, column choice, labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.config.loading import load_config
from hpsearch.core.errors import DataError
from hpsearch.data.data_config import DataConfig, validate_data_config
from hpsearch.data.datasets import load_dataset
from hpsearch.data.tables import MISSING_VALUES


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def load(tmp_path: Path, **config) -> object:
    return load_dataset(DataConfig(**config), base_dir=tmp_path)


def problems_of(tmp_path: Path, **config) -> list[str]:
    with pytest.raises(DataError) as info:
        load(tmp_path, **config)
    return str(info.value).splitlines()


def two_class_rows(n: int = 20, seed: int = 0) -> list[tuple[float, float, str]]:
    """(x, z, label) rows whose x separates the labels; x and z are never 0..n-1."""
    rng = np.random.default_rng(seed)
    return [(round(float(rng.normal(3 * (i % 2))), 3), round(float(rng.normal()), 3), "ab"[i % 2]) for i in range(n)]


# --- index columns ---------------------------------------------------------------------------


def test_a_pandas_index_column_is_dropped_with_a_notice(tmp_path):
    # df.to_csv(path) on data sorted by class: the row number alone would give the label away.
    rows = sorted(two_class_rows(), key=lambda r: r[2])
    write_csv(tmp_path / "d.csv", ",x,z,y", [f"{i},{x},{z},{lab}" for i, (x, z, lab) in enumerate(rows)])
    data = load(tmp_path, path="d.csv", label="y")
    assert data.preparation.column_names == ("x", "z")
    assert len(data.notices) == 1 and "dropped column ''" in data.notices[0] and "keep_index: true" in data.notices[0]


def test_a_column_that_counts_the_rows_is_dropped_unless_keep_index(tmp_path):
    rows = [f"{i},{x},{lab}" for i, (x, _, lab) in enumerate(two_class_rows())]
    write_csv(tmp_path / "d.csv", "row,x,y", rows)
    data = load(tmp_path, path="d.csv", label="y")
    assert data.preparation.column_names == ("x",)
    assert "'row'" in data.notices[0] and "0, 1, ..., 19" in data.notices[0]
    kept = load(tmp_path, path="d.csv", label="y", keep_index=True)
    assert kept.preparation.column_names == ("row", "x") and kept.notices == ()


def test_npz_features_are_never_taken_for_an_index(tmp_path):
    X = np.column_stack([np.arange(20.0), np.arange(20.0) % 3])
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(20) % 2)
    data = load(tmp_path, path="d.npz")
    assert data.n_features == 2 and not [n for n in data.notices if "index" in n]


# --- missing values --------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", MISSING_VALUES)
def test_every_spelling_of_a_missing_value_is_reported_as_missing(tmp_path, spelling):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows()]
    rows[4] = f"{spelling},1.5,a"
    write_csv(tmp_path / "d.csv", "x,z,y", rows)
    (line,) = problems_of(tmp_path, path="d.csv", label="y")
    assert "missing values in column 'x' (1 row, first at line 6)" in line
    assert "data.missing: drop" in line and "mean" in line


def test_missing_error_lists_every_column_with_its_count_in_one_message(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows()]
    rows[2], rows[3], rows[7] = "NA,1,a", ",NA,b", "?,2,a"
    write_csv(tmp_path / "d.csv", "x,z,y", rows)
    (line,) = problems_of(tmp_path, path="d.csv", label="y")
    assert "column 'x' (3 rows, first at line 4)" in line and "column 'z' (1 row, first at line 5)" in line


def test_missing_drop_drops_those_rows_and_says_how_many(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows()]
    rows[2], rows[5], rows[9] = "NA,1,a", "2,null,b", "3,4,"  # the last one has no label
    write_csv(tmp_path / "d.csv", "x,z,y", rows)
    data = load(tmp_path, path="d.csv", label="y", missing="drop")
    assert len(data.y_train) + len(data.y_dev) == 17
    assert any("dropped 3 rows of 20 with missing values" in n for n in data.notices)


def test_missing_mean_fills_numbers_with_the_training_mean_and_text_gets_its_own_category(tmp_path):
    rows = [f"{x},{'north' if i % 3 else 'south'},{lab}" for i, (x, _, lab) in enumerate(two_class_rows(40))]
    rows[0] = "NA,north,a"
    rows[1] = "1.0,,b"
    write_csv(tmp_path / "d.csv", "x,side,y", rows)
    train = write_csv(tmp_path / "t.csv", "x,side,y", rows[:30])
    write_csv(tmp_path / "v.csv", "x,side,y", ["NA,NA,a", "2.0,north,b"])
    data = load(tmp_path, path=train.name, dev_path="v.csv", label="y", missing="mean")
    prep = data.preparation
    assert prep.input_names == ("x", "side=(missing)", "side=north", "side=south")
    present = np.array([float(r.split(",")[0]) for r in rows[1:30]])
    assert prep.mean[0] == pytest.approx(present.mean()) and prep.scale[0] == pytest.approx(present.std())
    # A missing number becomes the training mean, which standardizes to exactly 0.
    assert data.X_train[0, 0] == 0.0 and data.X_dev[0, 0] == 0.0
    np.testing.assert_array_equal(data.X_dev[:, 1:], [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(data.X_train[1, 1:], [1, 0, 0])


def test_a_missing_label_is_reported_unless_rows_are_dropped(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows()]
    rows[1] = "1,2,NA"
    write_csv(tmp_path / "d.csv", "x,z,y", rows)
    (line,) = problems_of(tmp_path, path="d.csv", label="y", missing="mean")
    assert "label 'y' is missing at line 3" in line and "needs a class label" in line


# --- text columns ----------------------------------------------------------------------------


def test_text_columns_are_one_hot_encoded_with_categories_from_the_training_part(tmp_path):
    islands = ["Biscoe", "Dream", "Torgersen"]
    train_rows = [f"{islands[i % 3]},{x},{lab}" for i, (x, _, lab) in enumerate(two_class_rows(30))]
    write_csv(tmp_path / "t.csv", "island,x,y", train_rows)
    write_csv(tmp_path / "v.csv", "island,x,y", ["Dream,1.0,a", "Atlantis,2.0,b", "Biscoe,0.5,a"])
    data = load(tmp_path, path="t.csv", dev_path="v.csv", label="y")
    assert data.preparation.input_names == ("island=Biscoe", "island=Dream", "island=Torgersen", "x")
    # Dream, an island never seen in training (all zeros), Biscoe.
    np.testing.assert_array_equal(data.X_dev[:, :3], [[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(data.X_train[:3, :3], np.eye(3))


def test_categorical_error_refuses_text_columns(tmp_path):
    rows = [f"{'pq'[i % 2]},{x},{lab}" for i, (x, _, lab) in enumerate(two_class_rows())]
    write_csv(tmp_path / "d.csv", "kind,x,y", rows)
    (line,) = problems_of(tmp_path, path="d.csv", label="y", categorical="error")
    assert "column 'kind' holds text" in line and "categorical: auto" in line


def test_more_than_50_categories_is_refused_as_a_likely_id(tmp_path):
    rows = [f"id{i:03d},{x},{lab}" for i, (x, _, lab) in enumerate(two_class_rows(60))]
    write_csv(tmp_path / "d.csv", "name,x,y", rows)
    (line,) = problems_of(tmp_path, path="d.csv", label="y")
    assert "column 'name' has 60 distinct text values (more than 50)" in line and "data.drop: [name]" in line


# --- choosing columns ------------------------------------------------------------------------


def test_features_keeps_only_the_listed_columns_and_drop_removes_some(tmp_path):
    rows = [f"{x},{z},{x * z},{lab}" for x, z, lab in two_class_rows()]
    write_csv(tmp_path / "d.csv", "x,z,w,y", rows)
    assert load(tmp_path, path="d.csv", label="y", features=("w", "x")).preparation.column_names == ("x", "w")
    assert load(tmp_path, path="d.csv", label="y", drop=("z",)).preparation.column_names == ("x", "w")


def test_unknown_column_names_in_features_or_drop_are_reported(tmp_path):
    write_csv(tmp_path / "d.csv", "x,z,y", [f"{x},{z},{lab}" for x, z, lab in two_class_rows()])
    (line,) = problems_of(tmp_path, path="d.csv", label="y", drop=("zz",))
    assert "data.drop names 'zz'" in line and "'x', 'z'" in line


def test_features_and_drop_are_config_keys_with_their_rules():
    config, problems = validate_data_config({"path": "d.csv", "label": "y", "features": ["a", 1990], "missing": "drop"})
    assert problems == [] and config.features == ("a", "1990") and config.missing == "drop"
    _, problems = validate_data_config({"path": "d.csv", "label": "y", "drop": ["y"], "missing": "zero"})
    assert {p.key for p in problems} == {"data.drop", "data.missing"}
    _, problems = validate_data_config({"path": "d.csv", "label": "y", "features": "a"})
    assert [p.key for p in problems] == ["data.features"] and "write [a]" in problems[0].message
    _, problems = validate_data_config({"dataset": "iris", "drop": ["a"]})
    assert [p.key for p in problems] == ["data.drop"] and "only to a file" in problems[0].message


# --- every problem at once; labels ------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    rows = [f"{x},{'pq'[i % 2]},t{i},{lab}" for i, (x, _, lab) in enumerate(two_class_rows(60))]
    rows[3] = "oops,p,t3,a"
    rows[5] = "inf,p,t5,b"
    rows[8] = "NA,p,t8,a"
    write_csv(tmp_path / "d.csv", "x,kind,tag,y", rows)
    lines = problems_of(tmp_path, path="d.csv", label="y", categorical="error")
    assert len(lines) == 4
    assert all(line.startswith(str(tmp_path / "d.csv")) for line in lines)
    text = "\n".join(lines)
    assert "missing values in column 'x' (1 row, first at line 10)" in text
    assert "non-numeric value 'oops' in column 'x' at line 5" in text
    assert "column 'kind' holds text" in text and "column 'tag' holds text" in text
    lines = problems_of(tmp_path, path="d.csv", label="y", drop=("kind",))
    assert len(lines) == 3 and "column 'tag' has 60 distinct text values" in lines[2]


def test_a_continuous_label_is_a_regression_unless_classes_are_asked_for(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{x:.3f},{x * 0.7 + 0.01 * i:.7f}" for i, x in enumerate(rng.normal(size=40))]
    write_csv(tmp_path / "fair.csv", "rate,affairs", rows)
    data = load(tmp_path, path="fair.csv", label="affairs")
    assert data.task == "regression" and data.target_names == ("affairs",)
    (said,) = [n for n in data.notices if "data.task auto" in n]
    assert "40 distinct non-integer values" in said and "set data.task: classification" in said
    (line,) = problems_of(tmp_path, path="fair.csv", label="affairs", task="classification")
    assert "label 'affairs' has 40 distinct non-integer values" in line and "data.task: regression" in line


# --- files that cannot be read (hardening) ---------------------------------------------------


def test_a_header_with_two_columns_of_the_same_name_is_refused(tmp_path):
    write_csv(tmp_path / "d.csv", "a,a,label", [f"{i % 3},{i % 5},{i % 2}" for i in range(20)])
    (line,) = problems_of(tmp_path, path="d.csv", label="label")
    assert "column 'a' appears 2 times in the header" in line and "rename" in line


def test_a_header_of_100000_columns_loads(tmp_path):
    n = 100_000
    header = ",".join(f"c{j}" for j in range(n)) + ",y"
    rows = [",".join(["1"] * n) + ",a", ",".join(["2"] * n) + ",b"] * 2
    write_csv(tmp_path / "wide.csv", header, rows)
    data = load(tmp_path, path="wide.csv", label="y", dev_fraction=0.5)
    assert data.n_features == n and data.preparation.column_names[-1] == f"c{n - 1}"


def test_a_non_utf8_byte_after_the_first_8_kb_is_one_line(tmp_path):
    rows = [f"{x},{z},{lab}" for x, z, lab in two_class_rows(1000)]
    path = write_csv(tmp_path / "d.csv", "x,z,y", rows)
    content = path.read_bytes()
    at = content.index(b"\n", 9000) + 1
    path.write_bytes(content[:at] + b"1,2,caf\xe9\n" + content[at:])
    (line,) = problems_of(tmp_path, path="d.csv", label="y")
    assert "is not UTF-8 text (byte 0xe9 at line" in line and "save the CSV as UTF-8" in line


def test_npz_labels_that_are_not_utf8_are_one_line(tmp_path):
    y = np.array([b"cat", b"dog", b"caf\xe9", b"dog"] * 5)
    np.savez(tmp_path / "d.npz", X=np.arange(40.0).reshape(20, 2), y=y)
    (line,) = problems_of(tmp_path, path="d.npz")
    assert "y[2] is not UTF-8 text" in line


def test_a_home_relative_path_in_a_config_is_expanded(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    write_csv(home / "d.csv", "x,z,y", [f"{x},{z},{lab}" for x, z, lab in two_class_rows()])
    write_csv(home / "v.csv", "x,z,y", ["1,2,a", "0,1,b"])
    (tmp_path / "c.yaml").write_text("data: {path: ~/d.csv, dev_path: ~/v.csv, label: y}\n")
    data = load_config(tmp_path / "c.yaml").resolved_data()
    assert (data.path, data.dev_path) == (str(home / "d.csv"), str(home / "v.csv"))
    assert len(load_dataset(data).y_dev) == 2


def test_an_npz_claiming_a_billion_rows_is_refused_before_anything_is_allocated(tmp_path):
    import io
    import zipfile

    from numpy.lib import format as npy_format

    def header_only(shape, dtype):  # a few bytes that claim a huge array
        buffer = io.BytesIO()
        npy_format.write_array_header_1_0(
            buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
        )
        return buffer.getvalue()

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", header_only((10**9, 4), "<f8"))
        archive.writestr("y.npy", header_only((10**9,), "<i8"))
    with pytest.raises(DataError, match=r"array X of shape \(1000000000, 4\) needs ~.* GiB, more than"):
        load_dataset(DataConfig(path=str(path)))


# --- seams: each test failed before its fix ---------------------------------------------------


def test_a_csv_whose_features_are_all_text_is_one_hot_encoded(tmp_path):
    rows = [f"{'nsew'[i % 4]},{'pq'[i % 2]},{'ab'[i % 2]}" for i in range(20)]
    data = load(tmp_path, path=str(write_csv(tmp_path / "t.csv", "wind,kind,y", rows)), label="y")
    assert data.preparation.input_names == ("wind=e", "wind=n", "wind=s", "wind=w", "kind=p", "kind=q")
    assert data.X_train.shape == (16, 6) and set(np.unique(data.X_train)) == {0.0, 1.0}


def test_the_missing_category_is_decided_on_the_training_part_only(tmp_path):
    # 'colour' is missing on one row only; seeds put it in dev or in train.
    rows = [f"{'rg'[i % 2] if i != 3 else 'NA'},{i * 0.37 % 1:.3f},{'ab'[i % 2]}" for i in range(20)]
    path = write_csv(tmp_path / "m.csv", "colour,x,y", rows)
    seen = set()
    for seed in range(8):
        data = load(tmp_path, path=str(path), label="y", missing="mean", seed=seed)
        # the row with the gap is the only 'b' row at index 3; find it by its x value
        in_train = any(
            abs(v - 3 * 0.37 % 1) < 1e-9
            for v in data.X_train[:, -1] * data.preparation.scale[-1] + data.preparation.mean[-1]
        )
        has_category = "colour=(missing)" in data.preparation.input_names
        assert has_category == in_train, (seed, in_train)
        seen.add(in_train)
    assert seen == {True, False}  # both cases were exercised


def test_an_integer_label_with_many_distinct_values_is_a_measurement(tmp_path):
    rng = np.random.default_rng(0)
    target = rng.integers(25, 347, size=442)  # like scikit-learn's diabetes target: ~200 values in 442 rows
    rows = [f"{float(rng.normal()):.3f},{t}" for t in target]
    path = str(write_csv(tmp_path / "r.csv", "x,target", rows))
    assert load(tmp_path, path=path, label="target").task == "regression"
    problems = problems_of(tmp_path, path=path, label="target", task="classification")
    assert len(problems) == 1 and "'target'" in problems[0]
    assert "a number to predict" in problems[0] and "bin it into classes first" in problems[0]


def test_the_auto_rule_on_the_documented_cases(tmp_path):
    rng = np.random.default_rng(1)
    x = [f"{v:.3f}" for v in rng.normal(size=60)]
    cases = {
        "text": (["a", "b", "c"] * 20, "classification"),
        "few integers": ([str(i % 3) for i in range(60)], "classification"),
        "non-integer numbers": ([f"{v:.4f}" for v in rng.normal(size=60)], "regression"),
        "many integers, few rows each": ([str(i) for i in rng.permutation(60)], "regression"),
        "many integers, many rows each": ([str(i % 12) for i in range(60)], "classification"),
    }
    for name, (labels, task) in cases.items():
        path = str(
            write_csv(
                tmp_path / f"{name.replace(' ', '_').replace(',', '')}.csv",
                "x,y",
                [f"{a},{b}" for a, b in zip(x, labels)],
            )
        )
        assert load(tmp_path, path=path, label="y").task == task, name
    for name in ("few_integers", "many_integers_many_rows_each"):  # numbers may always be predicted as numbers
        assert load(tmp_path, path=str(tmp_path / f"{name}.csv"), label="y", task="regression").task == "regression"


def test_several_label_columns_are_several_numbers_to_predict_in_their_own_units(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    rows = [f"{a:.5f},{b:.5f},{c:.5f},{t:.6f},{1000 * t:.3f}" for (a, b, c), t in zip(X, y)]
    data = load(tmp_path, path=str(write_csv(tmp_path / "two.csv", "a,b,c,y,y1000", rows)), label=["y", "y1000"])
    assert data.task == "regression" and data.target_names == ("y", "y1000") and data.n_features == 3
    assert (
        data.y_train.shape == (40, 2)
        and np.allclose(data.y_train.mean(axis=0), 0)
        and np.allclose(data.y_train.std(axis=0), 1)
    )
    assert np.isclose(data.target_scale[1], 1000 * data.target_scale[0], rtol=1e-4)
    assert np.allclose(data.y_train[:, 0], data.y_train[:, 1], atol=1e-3)  # the same target in other units


def test_a_search_hears_the_index_column_notice_before_training(tmp_path):
    from hpsearch.search.api import start_search

    rows = sorted(two_class_rows(40), key=lambda r: r[2])
    write_csv(tmp_path / "d.csv", ",x,z,y", [f"{i},{x},{z},{lab}" for i, (x, z, lab) in enumerate(rows)])
    (tmp_path / "s.yaml").write_text(
        "name: s\ndata: {path: d.csv, label: y}\nmodel: {epochs: 1, hidden_units: 4}\n"
        "space: {learning_rate: {low: 0.001, high: 0.1, scale: log}}\nsearch: {trials: 1, workers: 1}\n"
    )
    heard: list[str] = []

    class Reporter:
        def run_opened(self, trials):
            heard.append("opened")

        def round_started(self, rnd, pending, label):
            heard.append("round")

        def trial_finished(self, record, best):
            heard.append("trial")

        def note(self, message):
            heard.append(message)

    start_search(load_config(tmp_path / "s.yaml"), runs_dir=tmp_path / "runs", reporter=Reporter())
    notice = next(k for k, line in enumerate(heard) if "dropped column ''" in line)
    assert notice < heard.index("round")
