"""hpsearch serve in a real browser: Playwright for Python driving the system's Chromium (no browser download).

Each page renders with no console error; the leaderboard has a row per trial; the log parameter's
parallel-coordinates axis is logarithmic; a search started after the page opened appears on it; a run's text
that looks like HTML (a choice ``<script>alert(1)</script>``, a metric ``<b>loss</b>``) is shown as text.
Skipped where Playwright or Chromium is missing. With HPSEARCH_SCREENSHOT=1 the run page's screenshot is
written to docs/serve-run.png (the README's picture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

pytest.importorskip("plotly", reason="hpsearch serve needs the serve extra (plotly)")
sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright: pip install -e '.[test]'")

from hpsearch.serve.server import Server  # noqa: E402
from tests.test_serve import running  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCRIPT = "<script>alert(1)</script>"
OBJECTIVE = """\
def score(params, trial):
    return {"<b>loss</b>": (params["x"] - 1) ** 2 + (params["tag"] == "b")}
"""
OBJECTIVE_CONFIG = f"""\
name: html
objective: {{python: "htmlobjective:score", metric: "<b>loss</b>", workdir: "."}}
space:
  x: {{scale: uniform, low: -3, high: 3}}
  tag: {{choice: ["{SCRIPT}", "b"]}}
search: {{trials: 6, seed: 3, workers: 1}}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with a small network run ("tiny", two rounds) and an own objective's run whose text is HTML."""
    base = tmp_path_factory.mktemp("browser")
    runs = base / "runs"
    config = write_tiny_config(base, trials=10, extra="  rounds: 2\n  zoom_trials: 4\n")
    (base / "htmlobjective.py").write_text(OBJECTIVE)
    (base / "html.yaml").write_text(OBJECTIVE_CONFIG)
    for args in (["run", str(config), "--name", "tiny"], ["run", str(base / "html.yaml")]):
        result = CliRunner().invoke(cli, [*args, "--runs-dir", str(runs)])
        assert result.exit_code == 0, result.output
    return runs


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip("no chromium, chromium-browser or google-chrome found; on Debian: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=found, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(runs: Path) -> Iterator[Server]:
    with running(Server(runs, "127.0.0.1", 0)) as started:
        yield started


class Page:
    """A browser tab that keeps every console error, uncaught exception and dialog (an alert() that ran)."""

    def __init__(self, browser: object, server: Server) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append("dialog: " + d.message), d.dismiss()))

    def open(self, path: str) -> object:
        self.page.goto(self.base + path)
        return self.page


@pytest.fixture
def tab(browser: object, server: Server) -> Iterator[Page]:
    opened = Page(browser, server)
    yield opened
    opened.page.close()


def until(condition: Callable[[], bool], timeout: int = 10_000) -> None:
    """Wait for ``condition`` (polled from here: the pages' CSP forbids the eval of Playwright's own waits)."""
    end = time.monotonic() + timeout / 1000
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def rows(page: object, selector: str, n: int, *, at_least: bool = False, timeout: int = 10_000) -> None:
    """Wait until ``selector`` matches ``n`` elements (at least ``n``)."""
    count = page.locator(selector).count  # type: ignore[attr-defined]
    until(lambda: count() >= n if at_least else count() == n, timeout)


def test_every_page_renders_without_a_console_error(tab: Page, runs: Path):
    page = tab.open("/")
    rows(page, "#runs tbody tr", 2, at_least=True)  # "late" may be there too
    page = tab.open("/run/tiny")
    rows(page, "#leaderboard tbody tr", 14)
    page.wait_for_selector("#parcoords polyline", state="attached")
    page.wait_for_selector("#curves .scatterlayer .trace", state="attached")
    page.wait_for_selector("#importance .bars", state="attached")
    if os.environ.get("HPSEARCH_SCREENSHOT"):
        page.set_viewport_size({"width": 1200, "height": 1100})
        page.evaluate("window.scrollTo(0, document.getElementById('history').offsetTop - 70)")
        page.screenshot(path=str(Path(__file__).resolve().parents[1] / "docs" / "serve-run.png"))
    page = tab.open("/trial/tiny/3")
    rows(page, "#params tbody tr", 3, at_least=True)
    page.wait_for_selector("#history .scatterlayer .trace", state="attached")
    page = tab.open("/compare?a=tiny&b=html")
    page.wait_for_selector("#curves .scatterlayer .trace", state="attached")
    assert tab.errors == []


def test_the_leaderboard_has_a_row_per_trial_and_the_log_axis_is_logarithmic(tab: Page, runs: Path):
    page = tab.open("/run/tiny")
    rows(page, "#leaderboard tbody tr", 14)
    with RunStore.open(runs / "tiny", read_only=True) as store:
        drawn = sum(t.dev_cost is not None and t.status.value == "ok" for t in store.trials())
    axis = page.locator("#parcoords g.axis[data-name='learning_rate']")
    axis.locator("text.tick").first.wait_for()
    assert axis.get_attribute("data-scale") == "log"
    ticks = {t.text_content(): float(t.get_attribute("y")) for t in axis.locator("text.tick").all()}
    assert {"0.001", "0.01", "0.1"} <= set(ticks)
    assert ticks["0.001"] - ticks["0.01"] == pytest.approx(ticks["0.01"] - ticks["0.1"])  # decades equally apart
    assert page.locator("#parcoords polyline").count() == drawn  # a line per trial with a result
    assert tab.errors == []


def test_html_in_a_run_is_shown_as_text(tab: Page):
    page = tab.open("/run/html")
    rows(page, "#leaderboard tbody tr", 6)
    cells = page.locator("#leaderboard td").all_text_contents()
    assert SCRIPT in cells and "<b>loss</b>" in page.locator("#leaderboard th").all_text_contents()
    assert page.locator("#leaderboard script, #leaderboard b").count() == 0
    page.wait_for_selector("#slices .scatterlayer .trace", state="attached")
    assert "<b>loss</b>" in page.locator("#slices text").all_text_contents()
    assert tab.errors == []  # no alert ran


def test_a_search_started_after_the_page_opened_appears_live(tab: Page, runs: Path, tmp_path: Path):
    page = tab.open("/")
    rows(page, "#runs tbody tr", 2, at_least=True)
    config = write_tiny_config(tmp_path, trials=6, epochs=3)
    env = {**os.environ, "HPSEARCH_RUNS_DIR": str(runs)}
    search = subprocess.Popen([sys.executable, "-m", "hpsearch", "run", str(config), "--name", "late", "-q"], env=env)
    try:
        page.wait_for_selector("#runs a[href='/run/late']", timeout=20_000)  # no reload: the list polls
        page = tab.open("/run/late")
        started = time.monotonic()
        rows(page, "#leaderboard tbody tr", 6, timeout=20_000)
        assert search.wait(timeout=20) == 0
        until(lambda: page.locator("#status").text_content() == "finished", timeout=10_000)
        assert time.monotonic() - started < 20
    finally:
        search.kill()
    assert api_trials(tab, "late") == 6 and tab.errors == []


def api_trials(tab: Page, name: str) -> int:
    return len(tab.page.evaluate(f"fetch('/api/run/{name}/trials?after=0').then(r => r.json())")["trials"])
