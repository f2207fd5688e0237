"""What the terminal shows: the leaderboard fits 80 and 120 columns, user strings print as plain text."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from hpsearch.analysis.leaderboard import format_accuracy, format_cost, format_param, leaderboard
from hpsearch.cli import render
from hpsearch.cli.main import cli
from hpsearch.cli.text import plain, safe
from hpsearch.core.records import TrialRecord, TrialStatus
from tests.conftest import write_tiny_config

NAMES = ["batch_size", "beta1", "hidden_units", "l2", "layers", "learning_rate"]


def trials() -> list[TrialRecord]:
    out = []
    for k in range(8):
        status = TrialStatus.OK if k < 6 else (TrialStatus.DIVERGED if k == 6 else TrialStatus.FAILED)
        cost = None if status is TrialStatus.FAILED else (math.nan if k == 6 else 0.123456789 + k / 7)
        out.append(
            TrialRecord(
                trial=k,
                round=k % 2,
                index=k,
                seed=k,
                status=status,
                params={
                    "batch_size": 64,
                    "beta1": 0.98765432,
                    "hidden_units": 123,
                    "l2": 0.000123456,
                    "layers": 3,
                    "learning_rate": 0.0123456789 * (k + 1),
                },
                dev_cost=cost,
                train_cost=None if cost is None else cost / 3,
                dev_accuracy=None if cost is None else 0.9375,
                epochs_run=20,
                seconds=1234.5678,
                error="ValueError: boom" if cost is None else None,
            )
        )
    return out


def shown(width: int, **options) -> str:
    out = io.StringIO()
    console = Console(width=width, file=out)
    table = render.leaderboard_table(trials(), NAMES, width=width, **options)
    if options.get("wide"):  # as `show --wide` does
        render.print_wide(table, on=console)
    else:
        console.print(table)
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 120])
def test_the_leaderboard_fits_the_terminal_and_keeps_the_key_columns_whole(width: int) -> None:
    text = shown(width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    for t in trials():  # every dev J, whole, and the status of every trial
        assert format_cost(t.dev_cost) in text
        assert t.status.value in text
    for column in ("rank", "trial", "status", "dev J"):
        assert column in text
    # the low-priority columns go first: seconds, epochs, round, then train J
    assert "seconds" not in text and "1234.57" not in text
    assert "epochs" not in text
    # parameters to 3 significant digits
    assert "0.0123" in text and "0.000123456" not in text and "0.988" in text


def test_at_120_columns_more_is_shown_than_at_80() -> None:
    assert "dev acc" in shown(120) and "dev acc" not in shown(80)


def test_wide_shows_every_column() -> None:
    text = shown(80, wide=True)
    for column in ("seconds", "epochs", "round", "train J", "dev acc", *NAMES):
        assert column in text.replace("\n", "")


def test_one_number_format_for_terminal_report_and_leaderboard() -> None:
    board = leaderboard(trials(), NAMES)
    first = board.rows[0]
    assert first[board.columns.index(next(c for c in board.columns if c.title == "dev acc"))] == "93.75%"
    assert format_accuracy(0.9375) == "93.75%" and format_param(0.98765432) == "0.988"
    assert format_param(1234.5) == "1234" and format_param(True) == "true" and format_cost(None) == "—"


def test_plain_text_shows_control_characters_and_ignores_markup() -> None:
    hostile = "[/x][link=file:///etc/passwd]a\x1b]0;title\x07b\x9bc\u202ed"
    assert safe(hostile) == "[/x][link=file:///etc/passwd]a\\x1b]0;title\\x07b\\x9bc\\u202ed"
    console = Console(record=True, width=200, file=open("/dev/null", "w"))
    console.print(plain(hostile))  # markup would raise MarkupError on [/x]
    assert console.export_text().strip() == safe(hostile)


def test_train_shows_the_values_it_used_and_takes_quiet(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, epochs=2)
    result = CliRunner().invoke(cli, ["train", str(config), "--set", "learning_rate=0.05"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 4}
    assert "--set" in lines["learning_rate"] and "0.05" in lines["learning_rate"]
    assert "centre of space" in lines["hidden_units"]  # searched, not set: the centre of int_log 4..32
    assert "model:" in lines["epochs"] and "default" in lines["optimizer"]
    quiet = CliRunner().invoke(cli, ["train", str(config), "--quiet"])
    assert quiet.exit_code == 0 and "Model" not in quiet.stdout and "Result" in quiet.stdout
    assert quiet.stderr == ""


def test_workers_above_the_cores_get_a_warning(tmp_path: Path, runs_dir: Path) -> None:
    import os

    config = write_tiny_config(tmp_path, trials=1, epochs=1)
    result = CliRunner().invoke(cli, ["run", str(config), "--dry-run", "--workers", str((os.cpu_count() or 1) + 1)])
    assert result.exit_code == 0 and "warning:" in result.stderr and "CPU cores" in result.stderr
    result = CliRunner().invoke(cli, ["run", str(config), "--dry-run", "--workers", "1"])
    assert "warning" not in result.stderr


def test_a_beta_near_one_is_never_shown_as_one():
    from hpsearch.analysis.leaderboard import format_param

    # 1 - beta is what a one_minus_log scale searches: show two significant digits of it
    assert format_param(0.9996) == "0.9996"
    assert format_param(0.9984937) == "0.9985"
    assert format_param(0.99999) == "0.99999"
    assert format_param(0.947) == "0.947" and format_param(0.5) == "0.5" and format_param(1.0) == "1"


def test_a_data_notice_or_edge_hint_holding_markup_is_printed_as_plain_text(tmp_path):
    from click.testing import CliRunner

    from hpsearch.cli.main import cli

    data = tmp_path / "[bold]x.csv"  # a notice names the file: its path must not become markup
    data.write_text(",a,b,label\n" + "".join(f"{i},{i % 7},{(i * 3) % 5},{'pq'[i % 2]}\n" for i in range(40)))
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data: {{path: '{data.name}', label: label}}\nmodel: {{epochs: 1}}\nsearch: {{trials: 2, workers: 1}}\n"
    )
    result = CliRunner().invoke(cli, ["run", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    assert "[bold]x.csv" in result.stderr  # shown as written, not swallowed as a style
    shown = CliRunner().invoke(cli, ["show", str(tmp_path / "runs" / "c")])
    assert "[bold]x.csv" in shown.output
