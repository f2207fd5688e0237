"""benchmarks/bench_honest.py (issue 30) still runs against the API it drives: a smoke run of two tables, one seed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_honest.py"


def test_a_quick_run_prints_a_row_per_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bench_honest", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_honest", bench)  # its dataclass looks its module up there
    monkeypatch.setattr(sys, "path", list(sys.path))  # it adds examples/diabetes to the path
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--seeds", "1", "--tables", "wine", "diabetes"]) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows] == ["| table", "| wine", "| diabetes"]
    assert "optimism, cv 5" in rows[0] and "wall, cv 5 / split" in rows[0]
