"""Shared fixtures: tiny search configs that train in milliseconds."""

from __future__ import annotations

import compileall
import os
import signal
from pathlib import Path

import pytest

# Tests send Ctrl-C (SIGINT) and a hang-up (SIGHUP) to this process and to the commands it starts. A shell that
# starts the suite in the background (`bash .ci/run &`, nohup) has both ignored, and an ignored signal stays
# ignored in every child: give them their usual handling, so the tests see what a user's Ctrl-C does.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

# These machines set PYTHONDONTWRITEBYTECODE: every CLI process and loky worker the suite starts would compile the
# package's modules anew (about 0.1 s each; the CLI-heavy tests ran 12% longer). Compile them once, here.
compileall.compile_dir(Path(__file__).resolve().parent.parent / "hpsearch", quiet=1)

# Output is fitted to COLUMNS (else the terminal, else 80): tests see what CI sees, whatever the shell that runs them.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _consoles_follow_the_environment():
    """After each test, the CLI's consoles still read their width from the environment: a test that pinned one
    (``monkeypatch.setattr(console, "width", ...)`` leaves it pinned on undo) made later tests' tables narrow."""
    yield
    from hpsearch.cli import render

    assert render.console._width is None and render.err_console._width is None, "a test pinned a console's width"


TINY_CONFIG = """\
name: tiny
data:
  dataset: blobs
  samples: {samples}
  classes: 3
  features: 4
  noise: 1.0
model:
  layers: 1
  epochs: {epochs}
space:
  learning_rate: {{scale: log, low: 1.0e-3, high: 0.3}}
  beta1:         {{scale: one_minus_log, low: 0.8, high: 0.99}}
  hidden_units:  {{scale: int_log, low: 4, high: 32}}
  batch_size:    {{choice: [16, 32]}}
search:
  trials: {trials}
  seed: 7
  workers: 1
"""


def write_tiny_config(folder: Path, *, trials: int = 6, epochs: int = 3, samples: int = 240, extra: str = "") -> Path:
    """A small search over blobs; ``extra`` is appended under ``search:`` (indent it two spaces)."""
    path = folder / "tiny.yaml"
    path.write_text(TINY_CONFIG.format(trials=trials, epochs=epochs, samples=samples) + extra)
    return path


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    return write_tiny_config(tmp_path)


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "runs"
    monkeypatch.setenv("HPSEARCH_RUNS_DIR", str(folder))
    return folder


def pytest_terminal_summary(terminalreporter, config) -> None:
    """Print the order's seed even under ``-q`` (pytest-randomly puts it in the header, which -q hides)."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"tests ran in random order: pytest --randomly-seed={seed} replays it")
