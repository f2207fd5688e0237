"""``hpsearch import RUN_NAME trials.csv --config CONFIG`` (issue 34): a CSV of results becomes a run of its own."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.storage.run_store import RunStore

CONFIG = """\
name: a
data: {dataset: blobs, samples: 150, classes: 3, features: 4, noise: 3.0}
model: {layers: 1, epochs: 2}
space:
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
  hidden_units:  {scale: int_log, low: 4, high: 32}
search: {trials: 10, seed: 5, workers: 1}
"""


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def exported(tmp_path: Path, runs_dir: Path) -> Path:
    """Run ``a``'s trials as a spreadsheet would hold them: the parameters, J, and a column of notes."""
    (tmp_path / "a.yaml").write_text(CONFIG)
    assert _invoke("run", str(tmp_path / "a.yaml"), "-q")[0] == 0
    assert _invoke("export", "a", "--csv", str(tmp_path / "a.csv"))[0] == 0
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    with (tmp_path / "sheet.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["learning_rate", "hidden_units", "dev_cost", "notes"])
        for row in sorted(rows, key=lambda r: int(r["trial"])):
            writer.writerow([row["learning_rate"], row["hidden_units"], row["dev_cost"], "from a notebook"])
    return tmp_path / "sheet.csv"


def _round(run_dir: Path, round: int) -> list[tuple]:
    with RunStore.open(run_dir, read_only=True) as store:
        return [(t.params, t.seed, t.dev_cost) for t in store.trials(round)]


def test_an_imported_run_shows_plots_and_zooms_as_the_run_it_came_from(
    tmp_path: Path, runs_dir: Path, exported: Path
) -> None:
    code, out, _ = _invoke("import", "sheet", str(exported), "--config", str(tmp_path / "a.yaml"))
    assert code == 0 and "imported 10 trials into run 'sheet'" in out
    original = {(tuple(p.items()), cost) for p, _, cost in _round(runs_dir / "a", 0)}
    assert {(tuple(p.items()), cost) for p, _, cost in _round(runs_dir / "sheet", 0)} == original
    code, out, _ = _invoke("show", "sheet")
    assert code == 0 and "10/10 trials done" in out and "import" in out
    assert _invoke("plot", "sheet")[0] == 0
    for run in ("a", "sheet"):  # the same history: the same tpe round, trained the same
        assert _invoke("zoom", run, "-q", "-n", "4")[0] == 0
    assert len(_round(runs_dir / "sheet", 1)) == 4 and _round(runs_dir / "sheet", 1) == _round(runs_dir / "a", 1)


def test_a_run_warm_starts_from_an_imported_one(tmp_path: Path, runs_dir: Path, exported: Path) -> None:
    assert _invoke("import", "sheet", str(exported), "--config", str(tmp_path / "a.yaml"))[0] == 0
    (tmp_path / "b.yaml").write_text(CONFIG.replace("trials: 10,", "trials: 0, rounds: 2, zoom_trials: 3,"))
    code, _, err = _invoke("run", str(tmp_path / "b.yaml"), "--from", "sheet", "-q")
    assert code == 0 and "warm start: 10 trials of run 'sheet' count" in err


@pytest.mark.parametrize(
    ("row", "args", "words"),
    [
        ("2.0,8,0.5", [], "sheet.csv:12: 2 is outside log [0.001, 0.3] — fix the row, or widen space.learning_rate"),
        ("0.01,8.5,0.5", [], "sheet.csv:12: 8.5 is outside int log [4, 32]"),
        ("0.01,8,0.5", ["--metric", "loss"], "no column 'loss'"),
    ],
)
def test_a_bad_csv_is_refused_in_one_line_and_makes_no_run(
    tmp_path: Path, runs_dir: Path, exported: Path, row: str, args: list[str], words: str
) -> None:
    exported.write_text(exported.read_text() + row + ",\n")
    code, _, err = _invoke("import", "sheet", str(exported), "--config", str(tmp_path / "a.yaml"), *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and words in lines[0], err
    assert not (runs_dir / "sheet").exists()


def test_a_row_without_a_value_is_a_failed_trial(tmp_path: Path, runs_dir: Path, exported: Path) -> None:
    exported.write_text(exported.read_text() + "0.01,8,,never ran\n")
    code, out, _ = _invoke("import", "sheet", str(exported), "--config", str(tmp_path / "a.yaml"))
    assert code == 0 and "imported 11 trials (1 without a value: failed)" in out
