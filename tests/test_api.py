"""The public API as a caller finds it: ``dir(hpsearch)``, ``help(hpsearch)`` and the package docstring's example."""

from __future__ import annotations

import os
import pydoc
import subprocess
import sys
import textwrap
from pathlib import Path

import hpsearch

REPO = Path(__file__).resolve().parents[1]
NEEDED = {
    "start_search",
    "resume_search",
    "zoom_search",
    "tune",
    "dry_run",
    "load_config",
    "SearchReporter",
    "TrialRecord",
    "RoundRecord",
    "SearchResult",
    "HpsearchError",
    "ConfigError",
    "DataError",
    "RunError",
    "ObjectiveError",
}

TINY = """\
name: quick
data: {dataset: spirals, samples: 200, classes: 3, seed: 0}
model: {epochs: 2, layers: 1}
space:
  learning_rate: {scale: log, low: 1.0e-3, high: 0.3}
  hidden_units: {scale: int_log, low: 4, high: 16}
search: {trials: 4, workers: 1, seed: 0}
"""


def test_dir_and_help_show_the_public_api() -> None:
    names = set(dir(hpsearch))
    assert NEEDED <= names and "Any" not in names
    assert all(getattr(hpsearch, name) is not None for name in hpsearch.__all__)
    assert issubclass(hpsearch.ObjectiveError, hpsearch.HpsearchError)
    page = pydoc.render_doc(hpsearch, renderer=pydoc.plaintext)
    for name in ("start_search", "tune", "SearchReporter", "TrialRecord", "RunError"):
        assert name in page


def test_the_package_docstring_example_runs(tmp_path: Path) -> None:
    doc = hpsearch.__doc__ or ""
    lines = []
    for line in doc[doc.index("::\n") + 3 :].splitlines():  # the indented block after the "::" line
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line)
    code = textwrap.dedent("\n".join(lines))
    assert "start_search" in code and "tune(" in code
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "quickstart.yaml").write_text(TINY)  # the example's config, made tiny
    (tmp_path / "my_module.py").write_text('def train(params):\n    return {"loss": (params["lr"] - 0.01) ** 2}\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr + "\n" + code
    first, second = result.stdout.splitlines()[-2:]
    assert first.startswith("quick ") and 1e-5 <= float(second) <= 0.1
    assert (tmp_path / "runs" / "quick").is_dir()
