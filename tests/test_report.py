"""report.html: self-contained, escaped, complete — and it really renders in a headless browser."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hpsearch.analysis.importance import Importance, ImportanceReport
from hpsearch.analysis.report import write_report
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
RUN_NAME = "digits <b>&</b>"
FIRST = {"learning_rate": {"scale": "log", "low": 1e-4, "high": 1.0}, "activation": {"choice": ["relu", "tanh"]}}
ZOOM = {"learning_rate": {"scale": "log", "low": 1e-3, "high": 1e-2}, "activation": {"choice": ["relu"]}}
ROUNDS = [
    RoundRecord(round=0, space=FIRST, n_trials=4, sampler="random"),
    RoundRecord(round=1, space=ZOOM, n_trials=3, sampler="random", kind="zoom", top_k=2, first_trial=4),
]
IMPORTANCE = ImportanceReport(
    "a method <named>", 5, [Importance("learning_rate", 0.8), Importance("activation", 0.05)], True
)


def trial(number: int, rnd: int, lr: float, status: TrialStatus, cost: float | None, error: str | None = None):
    return TrialRecord(
        trial=number,
        round=rnd,
        index=number,
        params={"learning_rate": lr, "activation": "relu"},
        seed=number,
        status=status,
        dev_cost=cost,
        train_cost=None if cost is None else cost / 2,
        dev_accuracy=None if cost is None else 0.5,
        epochs_run=3,
        seconds=1.25,
        error=error,
    )


TRIALS = [
    trial(0, 0, 1e-4, TrialStatus.OK, 0.9),
    trial(1, 0, 0.5, TrialStatus.DIVERGED, math.nan),
    trial(2, 0, 1.0, TrialStatus.FAILED, None, error="ValueError: <script>alert(1)</script>"),
    trial(3, 0, 3e-3, TrialStatus.OK, 0.2),
    trial(4, 1, 2e-3, TrialStatus.OK, 0.15),
    trial(5, 1, 5e-3, TrialStatus.OK, 0.3),
    trial(6, 1, 8e-3, TrialStatus.OK, 0.25),
]


class Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def png(path: Path, width: int, height: int) -> Path:
    """A minimal valid PNG (one colour) of the given size: header, data, end."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x30\x60\x90" * width for _ in range(height))  # filter byte + RGB pixels
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return [png(tmp_path / "cost_vs_learning_rate.png", 64, 48), png(tmp_path / "progress.png", 80, 40)]


@pytest.fixture
def report(tmp_path: Path, images: list[Path]) -> Path:
    return write_report(
        tmp_path / "out", run_name=RUN_NAME, rounds=ROUNDS, trials=TRIALS, images=images, importance=IMPORTANCE
    )


def test_the_page_embeds_every_image_and_links_nothing_outside(report: Path, images: list[Path]):
    page = report.read_text(encoding="utf-8")
    assert report.name == "report.html"
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert [base64.b64decode(s.split(",", 1)[1]) for s in sources] == [p.read_bytes() for p in images]
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"(?:src|href)\s*=|url\(|@import|<script|<link", page.replace('src="data:', ""))


def test_text_from_the_run_is_escaped(report: Path):
    page = report.read_text(encoding="utf-8")
    assert "digits &lt;b&gt;&amp;&lt;/b&gt;" in page and RUN_NAME not in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)" in page
    assert "a method &lt;named&gt;" in page


def test_the_leaderboard_lists_the_best_trials_first_with_their_results(tmp_path: Path, images: list[Path]):
    path = write_report(
        tmp_path, run_name="r", rounds=ROUNDS, trials=TRIALS, images=images, importance=IMPORTANCE, leaderboard_rows=5
    )
    leaderboard = Tables(path.read_text(encoding="utf-8")).tables[0]
    head, rows = leaderboard[0], leaderboard[1:]
    assert head == [
        "rank",
        "trial",
        "round",
        "status",
        "activation",
        "learning_rate",
        "dev J",
        "train J",
        "dev acc",
        "epochs",
        "seconds",
    ]
    assert len(rows) == 5  # leaderboard_rows
    assert [row[1] for row in rows] == ["4", "3", "6", "5", "0"]
    # the same text as the terminal: accuracy as a percentage, seconds to two decimals
    assert rows[0] == ["1", "4", "1", "ok", "relu", "0.002", "0.15", "0.075", "50.00%", "3", "1.25"]


def test_diverged_and_failed_trials_come_last(report: Path):
    rows = Tables(report.read_text(encoding="utf-8")).tables[0][1:]
    assert len(rows) == len(TRIALS)
    assert [(row[1], row[3]) for row in rows[-2:]] == [("1", "diverged"), ("2", "failed ⓘ")]
    assert rows[-2][-5] == "nan" and rows[-1][-5:-2] == ["—", "—", "—"]


def test_the_importance_table_names_its_method_and_ranks_the_parameters(report: Path):
    page = report.read_text(encoding="utf-8")
    importance = Tables(page).tables[1]
    assert [row[:2] for row in importance[1:]] == [["learning_rate", "80.0%"], ["activation", "5.0%"]]
    assert "Method: a method &lt;named&gt;; 5 ok trials" in page


def test_too_few_trials_for_importance_is_said_in_words(tmp_path: Path, images: list[Path]):
    report = ImportanceReport("m", 3, [], False, "only 3 ok trials; need ≥ 10")
    page = write_report(
        tmp_path, run_name="r", rounds=ROUNDS, trials=TRIALS, images=images, importance=report
    ).read_text(encoding="utf-8")
    assert "Not enough to rank: only 3 ok trials; need ≥ 10." in page


def test_each_round_shows_its_space(report: Path):
    tables = Tables(report.read_text(encoding="utf-8")).tables
    assert tables[2][1:] == [["activation", "choice {relu, tanh}"], ["learning_rate", "log [0.0001, 1]"]]
    assert tables[3][1:] == [["activation", "choice {relu}"], ["learning_rate", "log [0.001, 0.01]"]]


# A probe added to a copy of the page: after load it writes each image's decoded width, and any
# error event (a resource that failed, a script error), where --dump-dom can read them.
PROBE = """<pre id="probe"></pre><script>
var errors = [];
window.addEventListener("error", function (e) { errors.push(String(e.message || e.target.src)); }, true);
window.addEventListener("load", function () {
  var widths = Array.prototype.map.call(document.images, function (i) { return i.complete ? i.naturalWidth : -1; });
  var board = document.querySelector("table.leaderboard");
  var right = board ? Math.ceil(board.getBoundingClientRect().right) : 0;
  document.getElementById("probe").textContent = JSON.stringify({widths: widths, errors: errors, right: right,
                                                                 window: window.innerWidth});
});
</script>"""


def browse(page: Path, tmp_path: Path) -> tuple[dict, str]:
    """Open ``page`` (with the probe) in headless chromium at 1200 x 900; what the probe saw, and the log."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        pytest.skip("no chromium, chromium-browser or google-chrome found; on Debian: apt-get install -y chromium")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,900",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert probe and probe.group(1), f"the page did not finish loading:\n{result.stdout[-2000:]}"
    return json.loads(probe.group(1).replace("&quot;", '"')), result.stderr


def test_the_report_renders_in_a_headless_browser(tmp_path: Path, report: Path, images: list[Path]):
    seen, log = browse(report, tmp_path)
    assert {k: seen[k] for k in ("widths", "errors")} == {"widths": [64, 80], "errors": []}, seen
    # Chromium logs every console message of the page on stderr as INFO:CONSOLE(...).
    console = [line for line in log.splitlines() if ":CONSOLE" in line or "Failed to load resource" in line]
    assert console == []


def test_a_wide_leaderboard_fits_a_1200_px_window(tmp_path: Path, images: list[Path]):
    names = [
        "learning_rate",
        "beta1",
        "beta2",
        "hidden_units",
        "layers",
        "batch_size",
        "l2",
        "keep_prob",
        "bn_momentum",
        "epsilon",
    ]
    space = {name: {"scale": "uniform", "low": 0.0, "high": 1.0} for name in names}
    trials = [
        TrialRecord(
            trial=k,
            round=0,
            index=k,
            params={n: 0.123456789 * (k + 1) for n in names},
            seed=k,
            status=TrialStatus.OK,
            dev_cost=0.123456 * k,
            train_cost=0.1,
            dev_accuracy=0.9375,
            epochs_run=30,
            seconds=12.345,
        )
        for k in range(20)
    ]
    page = write_report(
        tmp_path / "wide",
        run_name="wide",
        rounds=[RoundRecord(0, space, 20, "random")],
        trials=trials,
        images=images,
        importance=IMPORTANCE,
    )
    seen, _ = browse(page, tmp_path)
    assert seen["window"] == 1200 and 0 < seen["right"] <= 1200, seen
    board = Tables(page.read_text(encoding="utf-8")).tables[0]
    assert {"rank", "trial", "status", "dev J"} <= set(board[0]) and "93.75%" in board[1]
