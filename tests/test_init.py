"""``hpsearch init DATA.csv``: a starter config for a table, which ``run`` accepts and finishes as written.

Each table is written here (a bundled dataset exported to CSV, generated ones, and one with text, gaps, an id
and a date); each config is run with a tiny budget through ``--set`` (its space, data and columns as written).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.config.starter import starter_config

TINY = ["--set", "search.trials=3", "--set", "search.rounds=1", "--set", "model.epochs=2", "--workers", "1"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.write_text(",".join(header) + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


def digits_csv(folder: Path) -> Path:
    """scikit-learn's bundled digits, as a CSV whose label column is named ``target``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = [[int(y), *map(int, x)] for x, y in zip(digits.data[:300], digits.target[:300])]
    return _write(folder / "digits.csv", ["target", *[f"px{i}" for i in range(64)]], rows)


def iris_csv(folder: Path) -> Path:
    """Iris with text class names in the last column and pandas' unnamed index column first."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = ["", *[n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names], "species"]
    rows = [[i, *x, iris.target_names[y]] for i, (x, y) in enumerate(zip(iris.data, iris.target))]
    return _write(folder / "iris.csv", names, rows)


def spirals_csv(folder: Path) -> Path:
    """Generated spirals: two numbers and an integer class named ``class`` (not last)."""
    from hpsearch.data.generated import make_spirals

    X, y = make_spirals(300, 3, 0.2, np.random.default_rng(0))
    return _write(folder / "spirals.csv", ["class", "x1", "x2"], [[int(c), a, b] for (a, b), c in zip(X, y)])


def regression_csv(folder: Path) -> Path:
    """A generated measurement to predict, in the last column, with a shuffled integer id."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(250, 4))
    price = 3 * X[:, 0] - X[:, 1] ** 2 + 0.1 * rng.normal(size=250)
    ids = rng.permutation(250) + 5000
    return _write(
        folder / "houses.csv", ["house_id", "a", "b", "c", "d", "price"], [[i, *x, p] for i, x, p in zip(ids, X, price)]
    )


def messy_csv(folder: Path) -> Path:
    """Text categories, free text, missing values, a text id, an ISO date and a constant column."""
    rng = np.random.default_rng(2)
    words = ["great", "slow", "support", "price", "bug", "love", "the", "app"]
    rows = []
    for i in range(240):
        age, plan = int(rng.integers(18, 80)), str(rng.choice(["basic", "pro", "team"]))
        comment = " ".join(rng.choice(words, size=int(rng.integers(4, 9)))) + f" #{i}"
        churned = "yes" if (age > 50) != (plan == "pro") else "no"
        rows.append(
            [
                f"C{1000 + i:05d}",
                f"2024-{rng.integers(1, 13):02d}-{rng.integers(1, 28):02d}",
                comment,
                "" if i % 17 == 3 else age,
                "NA" if i % 23 == 5 else plan,
                "web",
                churned,
            ]
        )
    return _write(folder / "messy.csv", ["customer_id", "signup", "comment", "age", "plan", "source", "churned"], rows)


def _init_and_run(csv: Path, folder: Path, *extra: str) -> tuple[dict, str]:
    config = folder / "config.yaml"
    result = CliRunner().invoke(cli, ["init", str(csv), "-o", str(config), *extra])
    assert result.exit_code == 0, result.output
    assert f"hpsearch run {config}" in result.output
    load_config(config)  # the file as written is a valid config
    run = CliRunner().invoke(cli, ["run", str(config), "--quiet", *TINY])
    assert run.exit_code == 0, run.output
    assert "best: trial" in run.output
    return yaml.safe_load(config.read_text()), config.read_text()


@pytest.mark.parametrize(
    "make, label, task",
    [
        (digits_csv, "target", "classification"),
        (iris_csv, "species", "classification"),
        (spirals_csv, "class", "classification"),
        (regression_csv, "price", "regression"),
        (messy_csv, "churned", "classification"),
    ],
)
def test_init_writes_a_config_that_runs(make, label, task, tmp_path: Path, runs_dir: Path) -> None:
    data, text = _init_and_run(make(tmp_path), tmp_path)
    assert data["data"]["label"] == label and data["data"]["task"] == task
    assert data["search"]["rounds"] == 2 and data["search"]["trials"] >= 10  # TPE needs 10 finished trials
    assert data["space"]["hidden_units"]["when"] == {"layers": list(range(1, data["space"]["layers"]["high"] + 1))}
    assert data["space"]["beta"]["when"] == {"optimizer": "momentum"}
    assert "minutes on two cores" in text


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{config}", *TINY, "--set", "search.early_stopping={method: halving, min_epochs: 1}"],
        ["run", "{config}", *TINY, "--set", "search.early_stopping={method: hyperband, min_epochs: 1}"],
        ["run", "{config}", *TINY, "--set", "data.cv=3"],
        ["run", "{config}", *TINY, "--set", "data.test_fraction=0.2", "--set", "search.refit=true"],
        ["run", "{config}", "--dry-run"],
        ["train", "{config}", "--quiet"],
        ["babysit", "{config}", "--epochs", "2"],
    ],
    ids=["halving", "hyperband", "cv", "test-refit", "dry-run", "train", "babysit"],
)
def test_a_starter_config_works_with_every_run_kind(command, tmp_path: Path, runs_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    assert CliRunner().invoke(cli, ["init", str(messy_csv(tmp_path)), "-o", str(config)]).exit_code == 0
    result = CliRunner().invoke(cli, [word.replace("{config}", str(config)) for word in command])
    assert result.exit_code == 0, result.output


def test_init_drops_ids_free_text_and_dates_and_says_why(tmp_path: Path) -> None:
    data = yaml.safe_load(starter_config(messy_csv(tmp_path), config=tmp_path / "c.yaml").text)
    assert data["data"]["drop"] == ["customer_id", "signup", "comment", "source"]
    assert data["data"]["missing"] == "fill"  # age and plan have gaps
    text = starter_config(messy_csv(tmp_path), config=tmp_path / "c.yaml").text
    for why in ("an id:", "a date", "free text:", "the same value in every row"):
        assert why in text
    houses = yaml.safe_load(starter_config(regression_csv(tmp_path), config=tmp_path / "c.yaml").text)
    assert houses["data"]["drop"] == ["house_id"] and "missing" not in houses["data"]


def test_the_space_grows_with_the_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    small = _write(tmp_path / "small.csv", ["a", "b", "y"], [[*rng.normal(size=2), i % 2] for i in range(200)])
    large = _write(tmp_path / "large.csv", ["a", "b", "y"], [[*rng.normal(size=2), i % 2] for i in range(6000)])
    s, l = (yaml.safe_load(starter_config(p, config=tmp_path / "c.yaml").text) for p in (small, large))
    assert s["space"]["hidden_units"]["high"] < l["space"]["hidden_units"]["high"]
    assert s["space"]["layers"]["high"] <= l["space"]["layers"]["high"]
    assert max(s["space"]["batch_size"]["choice"]) < max(l["space"]["batch_size"]["choice"])


def test_data_path_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "configs").mkdir()
    csv = spirals_csv(tmp_path / "data")
    data = yaml.safe_load(starter_config(csv, config=tmp_path / "configs" / "s.yaml").text)
    assert data["data"]["path"] == "../data/spirals.csv"


def _one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_init_refuses_in_one_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    unclear = _write(tmp_path / "unclear.csv", ["a", "b", "row_id"], [[*rng.normal(size=2), i + 7] for i in range(50)])
    assert "--label" in _one_line_error(["init", str(unclear), "-o", str(tmp_path / "u.yaml")])
    two = _write(tmp_path / "two.csv", ["label", "a", "target"], [[i % 2, i, i % 3] for i in range(50)])
    assert "--label" in _one_line_error(["init", str(two), "-o", str(tmp_path / "t.yaml")])
    assert "fix --label" in _one_line_error(["init", str(unclear), "--label", "nope", "-o", str(tmp_path / "u.yaml")])
    assert "not found" in _one_line_error(["init", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "m.yaml")])
    assert not (tmp_path / "u.yaml").exists()


def test_init_with_label_and_no_overwrite_without_force(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    csv = _write(tmp_path / "t.csv", ["a", "b", "row_id"], [[*rng.normal(size=2), i + 7] for i in range(50)])
    out = tmp_path / "t.yaml"
    out.write_text("mine\n")
    assert "--force" in _one_line_error(["init", str(csv), "--label", "a", "-o", str(out)])
    assert out.read_text() == "mine\n"
    result = CliRunner().invoke(cli, ["init", str(csv), "--label", "a", "-o", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["data"]["label"] == "a"


def test_init_help_and_stdout(tmp_path: Path) -> None:
    help_text = CliRunner().invoke(cli, ["init", "--help"]).output
    assert "Usage:" in help_text and "--label" in help_text and "--force" in help_text
    result = CliRunner().invoke(cli, ["init", str(spirals_csv(tmp_path)), "-o", "-"])
    assert result.exit_code == 0 and yaml.safe_load(result.output)["data"]["label"] == "class"
